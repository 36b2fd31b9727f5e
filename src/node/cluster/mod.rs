//! # Cluster: how nodes become one Cassandra cluster
//!
//! A ccrsim cluster is nodes that talk only through internode messages
//! ([`message`]), over TCP between their listen addresses, also when they
//! live in one process, so a test network can cut, delay or drop them.
//!
//! - [`gossip`]: membership and failure detection as a plain state machine
//!   driven by the caller's clock: who is in the cluster, in which
//!   datacenter and rack, with which tokens, status and schema version, and
//!   who is up.
//! - [`message`]: the versioned binary form of every message.
//!
//! Arriving next (issue 4): the transport and gossip loop in the node,
//! schema propagation, the coordinator (consistency levels, forwarding to
//! remote datacenters, hints), read repair, rebuild and `nodetool`.

pub mod coordinator;
pub mod gossip;
pub mod hints;
pub mod member;
pub mod message;
pub mod nodetool;
pub mod transport;
