//! # testkit: datacenters of containers, broken on purpose
//!
//! [`Cluster`] starts N datacenters × M nodes (2 × 3 by default) as Docker
//! containers on a network of their own, with the `testcontainers` crate,
//! and hands a test what it needs to check cross-datacenter replication:
//!
//! - a scylla [`Session`] per datacenter, pinned to it (`prefer_datacenter`,
//!   no failover to the other datacenter, token aware);
//! - keyspaces made from the control plane's generated NetworkTopologyStrategy
//!   scripts ([`Cluster::apply_replication`]), and a unique keyspace name per
//!   test ([`unique_keyspace`]);
//! - [`Cluster::await_rows`]: poll a query in one datacenter until it gives
//!   the rows expected, with a deadline, and return how long that took (the
//!   replication lag seen by a client);
//! - failures: stop (SIGTERM), kill (SIGKILL) and start a node or a whole
//!   datacenter, and [`Cluster::partition`] / [`Cluster::heal`] two
//!   datacenters;
//! - every container's log, printed when a test fails (the cluster is
//!   dropped while the thread panics) or on demand ([`Cluster::logs`]).
//!
//! ## The image
//!
//! By default the nodes run `ccrsim-node:dev`, built from this repository by
//! `docker/build.sh` (a static ccrsim binary in a `FROM scratch` image). The
//! harness builds it when it is missing or older than the sources, so a test
//! run needs nothing from a registry. `CCRSIM_NODE_IMAGE=cassandra:4.1`
//! runs the same harness on the official Apache Cassandra image where a user
//! has it: nodes then start one at a time, with the settings that make
//! Cassandra start fast in tests. Both images take the same `CASSANDRA_*`
//! environment and print the same ready line; the only other differences are
//! the log stream the ready line is on and how `nodetool` is run.
//!
//! ## Addresses and partitions
//!
//! The harness creates the network with a subnet of its own choosing, so a
//! node keeps its address across a restart (Docker would otherwise hand the
//! address of a stopped container to the next one to start): before a node
//! starts again it is reconnected with its first address. Nodes advertise
//! their container address and the test process reaches it directly.
//!
//! A partition between two datacenters drops every packet between their
//! nodes in both directions, with `iptables` rules in each node's network
//! namespace (entered with `nsenter`, as root). Disconnecting a node from
//! the Docker network would also cut it from its own datacenter and from
//! the test's clients, which is a different failure: during a partition
//! each side keeps serving its clients at `LOCAL_*` levels, as in
//! production. The rules go when the partition is healed, and are set again
//! on a node that restarts while it lasts.
//!
//! ## The simulator
//!
//! [`sim`] is the other half of the kit, with no containers at all: a whole
//! cluster in one thread, on a virtual clock and a simulated network, every
//! choice drawn from one seed, running the node's real gossip code. It
//! tries thousands of fault schedules where the harness above tries one,
//! and replays any that fails (see its module documentation).

mod cluster;
mod names;
pub mod sim;

pub use crate::runtime::docker::image::{
    DEFAULT_IMAGE, Flavor, HarnessError, NodeImage, READY_LINE, docker, docker_or_skip,
    ensure_image,
};
pub use cluster::{Cluster, ClusterBuilder, Node};
pub use names::unique_keyspace;
