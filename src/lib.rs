//! # ccrsim
//!
//! A simulator of a managed Cassandra service with cross-cluster replication
//! (CCR), after Aiven for Apache Cassandra's CCR, that runs on one machine.
//!
//! The layers, top down; each uses only those below it (`tests/layers.rs`
//! checks it, and that no two files import each other):
//!
//! - [`cli`]: the `ccrsim` command line, a client of the API as `avn` is of
//!   Aiven's, and the daemon's commands (`serve`, `up`).
//! - [`testkit`] (feature `docker`): the testcontainers harness, two
//!   datacenters of containers broken on purpose ([`testkit::Cluster`]).
//! - [`runtime`]: where services' nodes run: in the daemon's process (the
//!   default) or as Docker containers; the join and leave steps of a pair.
//! - [`control`]: the control plane: services, CCR pairs and their rules,
//!   state in SQLite, and an Aiven-compatible HTTP API; it drives nodes only
//!   through its `NodeRuntime` trait.
//! - [`replication`]: the NetworkTopologyStrategy CQL a pair needs,
//!   generated and checked.
//! - [`node`]: the Cassandra-style node (CQL protocol, engine, storage,
//!   cluster); it imports nothing from the rest.
//!
//! The README explains how to run it and what each command does.
//!
//! ## Panics unwind
//! Under `ccrsim serve` every service's nodes run in the daemon's process,
//! so nothing a client sends may abort it. Requests are bounded so that no
//! input reaches a panic, a stack overflow or an unbounded allocation; and
//! should a panic slip through anyway, it unwinds into the request's task,
//! which tokio turns into a ServerError for that request alone. That needs
//! unwinding, so a build with `panic = "abort"` is refused (the fuzz build,
//! `cfg(fuzzing)`, aborts on purpose: a panic there is a finding).

#[cfg(all(panic = "abort", not(fuzzing)))]
compile_error!(
    "ccrsim needs panic = \"unwind\": a panic must fail one request, not abort the daemon with every service's nodes"
);

pub mod cli;
pub mod control;
pub mod node;
pub mod replication;
pub mod runtime;
#[cfg(feature = "docker")]
pub mod testkit;
