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
//!
//! Arriving next: the native protocol codec, CQL types and values, the
//! Murmur3 partitioner, the CQL parser, schema and system tables, the query
//! executor, and the server that ties them to sockets.

pub mod auth;
pub mod config;
pub mod schema;
pub mod storage;
pub mod types;
