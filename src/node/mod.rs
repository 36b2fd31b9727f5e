//! # The Cassandra-style node
//!
//! A ccrsim node is what a datacenter of a simulated service is made of: a
//! process (or a task inside one) that speaks the CQL native protocol to
//! real drivers, keeps schema and data durably, and replicates across
//! datacenters with the nodes it finds through gossip. It imports nothing
//! from the rest of ccrsim: the control plane and the runtimes use it, never
//! the other way round.
//!
//! Its rooms follow Apache Cassandra's own packages. How a request travels,
//! outside in:
//!
//! - [`transport`] (Cassandra's `transport`): the listener, each client
//!   connection (handshake, authentication, REGISTER), native protocol v4
//!   frames, and Cassandra's limits on frame size, bytes in flight and
//!   connections.
//! - [`cql`] (`cql3`): lexer, parser and AST, and the engine that checks
//!   a statement against the session's permissions ([`auth`] decides) and
//!   runs it.
//! - [`db`] (`db`): what a statement reads and writes: the schema, the read
//!   and write paths, consistency levels, the system tables, and the
//!   storage engine underneath (cells, tombstones, TTLs on an embedded LSM).
//! - [`locator`] (`locator`, `dht`): which nodes own a partition: Murmur3
//!   tokens, the ring kept across restarts, NetworkTopologyStrategy
//!   placement.
//! - [`cluster`] (`gms`, `net`, `service`, `hints`, `streaming`): gossip
//!   and failure detection, internode messaging, the coordinator that sends
//!   writes and reads to the replicas at the consistency level asked,
//!   Paxos, hinted handoff, rebuild and `nodetool`.
//! - [`value`]: CQL types and values, their bytes, literals and order.
//!
//! Around them: [`instance`] assembles a node from these pieces,
//! [`config`] holds its flags (and the Docker image's `CASSANDRA_*`
//! variables), [`error`] is the one error type with Cassandra's codes, and
//! [`fuzz`] has the entry points of the fuzz targets.
//!
//! A write, from socket to disk: [`transport::server`] reads a frame within
//! the [`transport::limits`], [`transport::connection`] decodes it and hands
//! the statement to the [`cql`] engine, which parses it, authorizes it and
//! builds mutations; [`cluster::coordinator`] sends them to the replicas
//! [`locator::placement`] picks and waits for as many acknowledgements as
//! the [`db::consistency`] level needs (hinting the replicas that are
//! down); each replica applies its mutation through [`db::write`] into
//! [`db::storage`], which writes it to the LSM engine's journal.

pub mod auth;
pub mod cluster;
pub mod config;
pub mod cql;
pub mod db;
pub mod error;
pub mod fuzz;
pub mod instance;
pub mod locator;
pub mod transport;
pub mod value;
