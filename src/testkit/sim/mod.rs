//! # The deterministic simulator
//!
//! Bugs in a distributed system hide in orderings: a message that arrives
//! after the one sent behind it, a node that restarts while its old
//! messages are still in flight, a partition that begins in the middle of a
//! gossip exchange. The integration tests meet such orderings by luck, and
//! when they do, the failure rarely comes back. The simulator looks for
//! them on purpose, thousands of times a minute, and replays any it finds.
//!
//! It runs a whole cluster, two datacenters of nodes, in one thread:
//!
//! - one seeded PRNG ([`rng::Rng`]) makes every random choice of a run;
//! - a virtual clock in milliseconds ([`world::World::now`]) that jumps from
//!   one event to the next, so forty seconds of a cluster's life take a few
//!   milliseconds;
//! - a simulated network ([`net::Net`]) with delays, jitter that reorders,
//!   loss, duplication, partitions of any shape and crashed receivers;
//! - the node's **real** state machines, not models of them: each node runs
//!   [`crate::node::cluster::gossip::Gossiper`], driven as
//!   [`crate::node::cluster::member`] drives it, and exchanges the real
//!   internode [`crate::node::cluster::message::Message`]s, through their
//!   wire form.
//!
//! - the data path on the coordinator's real state machines
//!   ([`crate::node::cluster::coordinator::write_round`], `read_round`,
//!   `cas_round`) and hint delivery
//!   ([`crate::node::cluster::hints::delivery`]), with replicas that merge
//!   with the storage's own reconciliation ([`data`]).
//!
//! [`gossip_check`] plays a random fault schedule per seed against gossip
//! and its failure detector and checks properties: nothing panics, a
//! datacenter cut makes each side see the other down, and after the heal
//! the cluster converges within a bound and stays up. [`data_check`] plays
//! clients (writes and reads at every consistency level, lightweight
//! transactions) under faults and checks what Cassandra promises: a read
//! whose level overlaps an acknowledged write's sees it, hints bring every
//! replica up to date after the heal, and lightweight transactions are
//! linearizable ([`linearizability`]).

//! ## Determinism rules
//!
//! A run must be a function of its seed alone. In the simulator and in
//! the code it drives, that means:
//!
//! - randomness only from the world's [`rng::Rng`] (a node's own generator,
//!   like the gossiper's, is seeded from it);
//! - time only from the world's clock, handed to the state machines (they
//!   take `now` as an argument for this reason);
//! - ordered collections (`BTreeMap`, `BTreeSet`, `Vec`) wherever the order
//!   of iteration can change what happens; never a `HashMap`'s order;
//! - no threads, no sleeps, no sockets, no async runtime: everything that
//!   happens is a step of [`world::World::step`], one at a time, in the
//!   order (time, then timers before messages, then the order they were
//!   set or sent).
//!
//! The test `one_seed_twice_is_one_run` holds the simulator to this: the
//! same seed twice gives the same trace, line for line (compared by hash).
//!
//! ## Reproducing a seed
//!
//! `cargo test --lib testkit::sim` runs a few hundred seeds (300 of gossip,
//! 40 of the data path). A failing
//! seed panics with its phase, the property it broke, the nodes' state, the
//! trace's tail and the line that replays it alone, with its whole trace:
//!
//! ```text
//! CCRSIM_SIM_SEED=<seed> cargo test --lib testkit::sim
//! ```
//!
//! The long run, thousands of seeds in a release build
//! (`CCRSIM_SIM_SEEDS` chooses how many, `CCRSIM_SIM_FIRST_SEED` where to
//! start):
//!
//! ```text
//! CCRSIM_SIM_SEEDS=20000 cargo test --release --lib testkit::sim -- --ignored
//! ```
//!
//! A seed found failing and fixed stays as a test of its own, next to the
//! fix.
//!
//! ## Layout
//!
//! - [`rng`]: the seeded generator and its helpers;
//! - [`net`]: the network as data: the queue of messages in flight and the
//!   faults;
//! - [`world`]: the nodes, the clock, the event loop, and what
//!   "converged" means;
//! - [`trace`]: the record of a run, kept short, hashed whole;
//! - [`gossip_check`]: the fault schedules and the properties of gossip, and
//!   the seed-running tests;
//! - [`data`]: the data path: each node's simulated disk, the requests it
//!   coordinates, clients' operations and their history;
//! - [`state`]: what a simulated node keeps (disk, requests in flight)
//!   and clients' operations;
//! - [`data_check`]: the data path's fault schedules and properties;
//! - [`linearizability`]: the checker of compare-and-set register histories;
//! - [`schema`]: schema changes and their propagation, on the real schema
//!   log and the real choice of peer;
//! - [`schema_check`]: schema changes under random faults; every version
//!   must agree, with every change kept.

pub mod data;
pub mod data_check;
pub mod gossip_check;
pub mod linearizability;
pub mod net;
pub mod rng;
pub mod schema;
pub mod schema_check;
pub mod state;
pub mod trace;
pub mod world;
