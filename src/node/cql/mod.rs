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
//!    syntax error or, worse, a wrong answer.
//! 3. [`access`] checks that the session's role may run it (the permission
//!    each statement needs, the system keyspaces' protection); statements
//!    about roles and permissions themselves run in [`dcl`].
//! 4. [`exec`] runs the statement against the node's schema and storage:
//!    DDL changes and persists the schema and announces SCHEMA_CHANGE;
//!    INSERT/UPDATE/DELETE become storage mutations through
//!    [`crate::node::db::write::MutationBuilder`]; SELECT plans a
//!    [`crate::node::db::read::ReadCommand`] (partition keys or token ranges,
//!    clustering slices, filters) and shapes the rows into exactly the
//!    columns asked for. The `system`, `system_schema` and
//!    `system_virtual_schema` tables are not stored: their rows are made from
//!    the node's state when read ([`systables`]), as Cassandra's virtual
//!    and local tables are.
//!
//! Prepared statements keep the parsed statement and the types of its bind
//! markers ([`exec::Prepared`]); executing one binds the driver's bytes to
//! those markers without parsing again.
//!
//! Batches pass Cassandra's size and spread checks ([`batchlimits`]) before
//! they are applied. A statement that succeeds with something to say (a
//! large batch) raises a client warning ([`warn`]), which the connection
//! sends with the response, as Cassandra's `ClientWarn` does.

pub mod access;
pub mod ast;
pub mod batchlimits;
pub mod dcl;
pub mod describe;
pub mod exec;
pub mod lexer;
pub mod limits;
pub mod modify;
pub mod parser;
pub mod select;
pub mod warn;

use crate::node::error::QueryError;

/// A failure of parsing or planning a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CqlError {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<CqlError> for QueryError {
    fn from(e: CqlError) -> Self {
        match e {
            CqlError::Syntax(m) => QueryError::Syntax(m),
            CqlError::Invalid(m) => QueryError::Invalid(m),
        }
    }
}

pub use parser::parse;
