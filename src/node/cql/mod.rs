//! # CQL: the language the node speaks
//!
//! A request's text goes through four steps here:
//!
//! 1. [`lexer`] turns it into tokens (identifiers lowercased unless quoted,
//!    literals, bind markers, symbols), each with its byte offset so errors
//!    can say `line 1:7` as Cassandra's do.
//! 2. [`parser`] builds a [`ast::Statement`] by recursive descent over the
//!    part of Cassandra 4.1's grammar ccrsim runs. Statements Cassandra has
//!    and ccrsim does not (secondary indexes, views, UDTs, functions) parse
//!    to `Unsupported`, so the user gets a clear Invalid error rather than a
//!    syntax error or, worse, a wrong answer. Its failures are [`error`]'s
//!    [`CqlError`].
//! 3. [`access`] checks that the session's role may run it (the permission
//!    each statement needs, the system keyspaces' protection), with what it
//!    read from `system_auth` kept briefly in [`authcache`]; statements
//!    about roles and permissions themselves run in [`dcl`], logins and the
//!    default superuser in [`roles`].
//! 4. [`exec`] holds the [`exec::Engine`] and dispatches the statement
//!    against the node's schema and storage, with the connection's
//!    [`session::Session`] and the execution's [`session::Options`]:
//!    DDL ([`ddl`]) changes and persists the schema and announces
//!    SCHEMA_CHANGE, reading `CREATE TABLE` through [`tablespec`];
//!    INSERT/UPDATE/DELETE ([`modify`]) become storage mutations through
//!    [`crate::node::db::write::MutationBuilder`]; SELECT ([`select`]) plans a
//!    [`crate::node::db::read::ReadCommand`] (partition keys or token ranges,
//!    clustering slices, filters) and shapes the rows into exactly the
//!    columns asked for; DESCRIBE runs in [`describe`]. The `system`,
//!    `system_schema` and `system_virtual_schema` tables are not stored:
//!    their rows are made from the node's state when read
//!    ([`crate::node::db::system::tables`]), as Cassandra's virtual and local
//!    tables are. In a cluster, writes, reads and lightweight transactions
//!    go through the [`replicator::Replicator`] the coordinator implements.
//!
//! Prepared statements keep the parsed statement and the types of its bind
//! markers ([`exec::Prepared`]); the types come from where each marker
//! stands ([`bindspec`]), and executing one binds the driver's bytes to
//! those markers ([`bind::Binder`]) without parsing again. Function calls in
//! terms (`now()`, `totimestamp(...)`...) are evaluated by [`functions`].
//!
//! Batches pass Cassandra's size and spread checks ([`batchlimits`]) before
//! they are applied, and what one request may make the node build is
//! bounded ([`limits`]).
//! A statement that succeeds with something to say (a large batch) raises a
//! client warning ([`warn`]), which the connection sends with the response,
//! as Cassandra's `ClientWarn` does.
//!
//! Shared pieces live in leaf files that import nothing of the engine
//! ([`session`], [`replicator`], [`authcache`], [`functions`], [`bind`],
//! [`tablespec`], [`error`], [`wait`]), so no two files here import each other.

pub mod access;
pub mod ast;
pub mod authcache;
pub mod batchlimits;
pub mod bind;
pub mod bindspec;
pub mod dcl;
pub mod ddl;
pub mod describe;
pub mod error;
pub mod exec;
pub mod functions;
pub mod lexer;
pub mod limits;
pub mod modify;
pub mod parser;
pub mod replicator;
pub mod roles;
pub mod select;
pub mod session;
pub mod tablespec;
pub mod wait;
pub mod warn;

pub use error::CqlError;
pub use parser::parse;
