//! # ccrsim
//!
//! A simulator of a managed Cassandra service with cross-cluster replication
//! (CCR), after Aiven for Apache Cassandra's CCR, that runs on one machine.
//!
//! - [`control`]: the control plane: services, CCR pairs and their rules,
//!   state in SQLite, and an Aiven-compatible HTTP API (`ccrsim serve`).
//! - [`replication`]: the NetworkTopologyStrategy CQL a pair needs,
//!   generated and checked.
//! - [`node`]: the Cassandra-style node (CQL protocol, storage, cluster).
//! - [`harness`]: the runtimes that run services' nodes (in-process).
//! - [`cli`]: the `ccrsim` command line, a client of the API as `avn` is of
//!   Aiven's.
//!
//! The README explains how to run it and what each command does.

pub mod cli;
pub mod control;
pub mod harness;
pub mod node;
pub mod replication;
