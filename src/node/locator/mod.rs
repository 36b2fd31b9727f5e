//! # locator: which nodes own a partition
//!
//! Cassandra's `locator` and `dht` packages, as pure functions and data:
//!
//! - [`partitioner`]: Murmur3 tokens, bit for bit as Cassandra computes them
//!   (checked against the Python driver's implementation).
//! - [`ring`]: the node's own host id and tokens, chosen once and kept
//!   across restarts.
//! - [`placement`]: NetworkTopologyStrategy and SimpleStrategy replica
//!   placement over the ring of known nodes, per datacenter and rack.
//!
//! No I/O happens here except [`ring`] reading and writing its one file.

pub mod partitioner;
pub mod placement;
pub mod ring;
