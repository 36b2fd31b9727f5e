//! The coordinator: what a node does for a client's request that other
//! replicas take part in. [`Coordinator`] is the engine's [`Replicator`];
//! its work is split by what it coordinates:
//!
//! - [`write`]: a write goes to every replica (one forwarder per remote
//!   datacenter) and is answered when the consistency level is met;
//!   replicas that are down or silent get hints.
//! - [`read`]: reads from the nearest replicas the level needs, merged by
//!   timestamp, with blocking read repair; range reads gathered from every
//!   live node.
//! - [`write_round`] and [`read_round`]: one write's and one partition
//!   read's accounting as state machines with no I/O (answers per
//!   datacenter, the deadline, whom to hint or repair), driven by
//!   [`write`] and [`read`] here and by the deterministic simulator.
//! - [`cas`]: lightweight transactions, the coordinator's side of Paxos
//!   (see [`crate::node::cluster::paxos`]), and reads at SERIAL.

pub mod cas;
pub mod cas_round;
pub mod read;
pub mod read_round;
pub mod write;
pub mod write_round;

#[cfg(test)]
mod testing;

use std::sync::Arc;
use std::time::Duration;

use crate::node::cluster::membership::Membership;
use crate::node::cluster::replica::Replica;
use crate::node::cluster::transport::Transport;
use crate::node::cql::exec::{Decide, Pending, Replicator, Result, Write};
use crate::node::db::consistency::Consistency;
use crate::node::db::read::Gathered;
use crate::node::db::schema::Strategy;
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::ResultBody;

/// A node's coordinator: it reads the membership, talks to the other
/// replicas over the transport, and works on this node as a replica.
pub struct Coordinator {
    /// Weak: the engine holds the coordinator, and the replica holds the
    /// engine. Gone once the node is.
    pub replica: std::sync::Weak<Replica>,
    pub membership: Arc<Membership>,
    pub transport: Arc<Transport>,
    pub write_timeout: Duration,
    pub read_timeout: Duration,
}

impl Coordinator {
    fn replica(&self) -> Result<Arc<Replica>> {
        self.replica
            .upgrade()
            .ok_or_else(|| QueryError::Server("the node is shutting down".into()))
    }

    fn strategy(&self, keyspace: &str) -> Result<Strategy> {
        self.replica()?
            .engine()
            .schema()
            .keyspace(keyspace)
            .map(|k| k.meta.strategy.clone())
            .ok_or_else(|| QueryError::Invalid(format!("Keyspace '{keyspace}' does not exist")))
    }
}

impl Replicator for Coordinator {
    fn alone(&self) -> bool {
        self.replica()
            .is_ok_and(|_| self.membership.ring().nodes().len() <= 1)
    }

    fn write<'a>(&'a self, writes: &'a [Write], cl: Consistency, batch: bool) -> Pending<'a, ()> {
        let write_type = if batch { "BATCH" } else { "SIMPLE" };
        Box::pin(self.write_rounds(writes, cl, write_type, None))
    }

    fn cas<'a>(
        &'a self,
        keyspace: &'a str,
        table: &'a [u8; 16],
        token: i64,
        key: &'a [u8],
        serial: Consistency,
        commit: Consistency,
        decide: &'a mut Decide<'_>,
    ) -> Pending<'a, ResultBody> {
        Box::pin(self.cas_rounds(keyspace, table, token, key, serial, commit, decide))
    }

    fn read<'a>(
        &'a self,
        keyspace: &'a str,
        table: &'a [u8; 16],
        keys: &'a [(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Pending<'a, Gathered> {
        Box::pin(self.read_keys(keyspace, table, keys, cl))
    }

    fn holds_all(&self, keyspace: &str, cl: Consistency) -> bool {
        if !matches!(cl, Consistency::One | Consistency::LocalOne) {
            return false;
        }
        let Ok(strategy) = self.strategy(keyspace) else {
            return false;
        };
        let Ok(replica) = self.replica() else {
            return false;
        };
        let ring = self.membership.ring();
        let my_dc = replica.engine().datacenter();
        match strategy {
            Strategy::Local => true,
            Strategy::Simple { replication_factor } => {
                replication_factor as usize >= ring.nodes().len()
            }
            Strategy::NetworkTopology { datacenters } => {
                let in_dc = ring
                    .nodes()
                    .iter()
                    .filter(|n| n.datacenter == my_dc)
                    .count();
                datacenters
                    .get(&my_dc)
                    .is_some_and(|rf| *rf as usize >= in_dc)
            }
        }
    }

    fn scan_all<'a>(
        &'a self,
        _keyspace: &'a str,
        table: &'a [u8; 16],
        start: i64,
        end: i64,
        _cl: Consistency,
    ) -> Pending<'a, Gathered> {
        Box::pin(self.scan(*table, start, end))
    }
}
