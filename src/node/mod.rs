//! # The Cassandra-style node
//!
//! A ccrsim node is what a datacenter of a simulated service is made of: a
//! process (or a task inside one) that speaks the CQL native protocol to
//! real drivers, keeps schema and data durably, and replicates across
//! datacenters with the nodes it finds through gossip.
//!
//! How a request travels, outside in:
//!
//! - [`server`] accepts CQL connections and reads frames, within
//!   Cassandra's [`limits`] on frame size, bytes in flight and connections;
//!   [`instance`] runs the connection protocol (handshake, authentication,
//!   REGISTER) and hands statements to the engine on tokio's blocking pool.
//! - [`protocol`] decodes and encodes native protocol v4 frames.
//! - [`cql`] parses the statement, checks that the session's role may run
//!   it ([`auth`] decides, `cql::access` asks), and runs it: DDL on the
//!   [`schema`], writes through [`write`], reads through [`query`], system
//!   tables from [`system`] and the node's state.
//! - [`cluster`] makes it one node of many: gossip membership and failure
//!   detection, the internode transport, the coordinator that sends writes
//!   and reads to the replicas [`placement`] picks at the [`consistency`]
//!   level asked, hinted handoff, rebuild and `nodetool`.
//! - [`storage`] keeps cells, tombstones and TTLs on an embedded LSM engine,
//!   with Cassandra's reconciliation ([`storage::cell`]).
//!
//! Around them: [`config`] (flags and the Docker image's `CASSANDRA_*`
//! variables), [`auth`] (PasswordAuthenticator logins, roles and the
//! CassandraAuthorizer's decisions), [`ring`] (host id
//! and tokens kept across restarts), [`partitioner`] (Murmur3 as
//! Cassandra's), [`types`] and [`value`] (CQL types and values), [`error`]
//! (the one error type, with Cassandra's codes), [`fuzz`] (entry points for
//! the fuzz targets).

pub mod auth;
pub mod cluster;
pub mod config;
pub mod consistency;
pub mod cql;
pub mod error;
pub mod fuzz;
pub mod instance;
pub mod limits;
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
