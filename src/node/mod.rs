//! # The Cassandra-style node
//!
//! A ccrsim node is what a datacenter of a simulated service is made of: a
//! process (or a task inside one) that speaks the CQL native protocol to
//! real drivers, keeps schema and data durably, and, in later stages,
//! replicates across datacenters.
//!
//! This module grows in stages (see the README's roadmap). Present so far:
//!
//! - [`storage`]: durable data on an embedded LSM engine, with Cassandra's
//!   cells, timestamps, tombstones, TTLs and row liveness.
//! - [`schema`]: keyspaces (replication strategies validated as Cassandra
//!   does), tables, columns, options, and the schema version.
//! - [`config`]: a node's settings from flags or the official Docker image's
//!   `CASSANDRA_*` environment variables.
//! - [`auth`]: PasswordAuthenticator logins (SASL PLAIN, bcrypt).
//! - [`ring`]: the node's host id and tokens, kept across restarts.
//! - [`types`]: CQL data types.
//!
//! Arriving next: the native protocol codec, CQL values, the Murmur3
//! partitioner, the CQL parser, system tables, the query executor, and the
//! server that ties them to sockets (`ccrsim node`).

pub mod auth;
pub mod cluster;
pub mod config;
pub mod consistency;
pub mod cql;
pub mod error;
pub mod fuzz;
pub mod instance;
pub mod partitioner;
pub mod placement;
pub mod protocol;
pub mod query;
pub mod ring;
pub mod schema;
pub mod server;
pub mod storage;
pub mod system;
pub mod types;
pub mod value;
pub mod write;
