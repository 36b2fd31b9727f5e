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
//! - [`message`]: the versioned binary form of every message;
//!   [`transport`]: framed messages over TCP, requests and answers, and the
//!   test network ([`transport::Faults`]) that cuts links.
//! - [`membership`]: what a node knows of its cluster: gossip's state, the
//!   ring as gossip last showed it, and since when each peer is down.
//! - [`replica`]: a node as a replica: it applies mutations (and Paxos
//!   commits), answers partition and range reads, keeps its Paxos state
//!   (prepare, propose) and keeps hints for replicas that cannot take a
//!   write.
//! - [`member`]: a node's cluster side, running, built on the two: the
//!   gossip loop, the internode handler (a replica's requests go to
//!   [`replica`], nodetool's to [`nodetool`]), `system.peers` and client
//!   events from what gossip learns, schema exchange (the newest stamp
//!   wins), hint replay, rebuild, decommission.
//! - [`coordinator`]: the engine's replicator, one file per thing it
//!   coordinates, with Unavailable, WriteTimeout and ReadTimeout as
//!   Cassandra's: [`coordinator::write`] sends writes to every replica (one
//!   forwarder per remote datacenter), answered at the consistency level;
//!   [`coordinator::read`] reads from the nearest replicas the level needs,
//!   merged by timestamp, with blocking read repair, and gathers range
//!   reads; [`coordinator::cas`] runs the Paxos rounds of lightweight
//!   transactions and SERIAL reads.
//! - [`paxos`]: lightweight transactions as Paxos among the replicas
//!   (`SERIAL`, `LOCAL_SERIAL`): the replica's state and the coordinator's
//!   decisions; the coordinator runs the rounds ([`coordinator::cas`]).
//! - [`hints`]: hinted handoff's durable store.
//! - [`repair`]: anti-entropy repair (`nodetool repair`): Merkle trees of
//!   each range compared across replicas, the differences streamed.
//! - [`settle`]: when a starting node has heard enough of its cluster to
//!   serve clients (Cassandra's wait for gossip to settle).
//! - [`nodetool`]: the node side of `ccrsim nodetool`, on what
//!   [`nodetool::Managed`] gives it (the running node implements it).
//!
//! Who uses whom: the coordinator holds the membership, the transport and
//! (weakly) the replica, not the running node; nodetool sees the node
//! through [`nodetool::Managed`]; only [`member`] assembles the pieces.
//!
//! Not yet: range reads that do not fit on one node are answered by
//! gathering every node's data.

pub mod coordinator;
pub mod gossip;
pub mod hints;
pub mod member;
pub mod membership;
pub mod message;
pub mod nodetool;
pub mod paxos;
pub mod repair;
pub mod replica;
pub mod schema_sync;
pub mod settle;
pub mod transport;
