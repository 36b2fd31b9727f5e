//! What a simulated node keeps, and what clients see: its disk (data,
//! Paxos state, hints, the ring it saved), the requests it coordinates
//! while it runs, and clients' operations with their answers. The data
//! path that works on them is [`super::data`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::node::cluster::coordinator::cas_round::CasRound;
use crate::node::cluster::coordinator::read_round::{ReadRound, Resolved};
use crate::node::cluster::coordinator::write_round::WriteRound;
use crate::node::cluster::hints::Hint;
use crate::node::cluster::hints::delivery::Delivery;
use crate::node::cluster::paxos::{self, Ballot};
use crate::node::db::consistency::Consistency;
use crate::node::db::storage::Mutation;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;

/// What a node keeps on disk.
#[derive(Debug, Default)]
pub struct Disk {
    pub store: BTreeMap<(i64, Vec<u8>), PartitionData>,
    pub paxos: BTreeMap<(i64, Vec<u8>), paxos::State>,
    pub hints: Vec<Hint>,
    pub(super) hint_seq: u64,
    /// The peers' states as last saved (`Core::save_ring`).
    pub saved_ring: Vec<u8>,
    /// The schema log (`Engine::persist_log` flushes it before a DDL
    /// statement answers, so a crash keeps it).
    pub schema: crate::node::db::schema::log::SchemaLog,
}

impl Disk {
    pub fn apply(&mut self, m: &Mutation) {
        let p = PartitionData::from_mutation(m.clone());
        match self.store.get_mut(&(m.token, m.key.clone())) {
            Some(old) => old.merge(p),
            None => {
                self.store.insert((m.token, m.key.clone()), p);
            }
        }
    }

    pub fn read(&self, token: i64, key: &[u8]) -> Option<PartitionData> {
        self.store.get(&(token, key.to_vec())).cloned()
    }

    pub(super) fn hint(&mut self, host: [u8; 16], written: i64, mutation: Vec<u8>) {
        self.hint_seq += 1;
        self.hints.push(Hint {
            key: self.hint_seq.to_be_bytes().to_vec(),
            host,
            written,
            durable: true,
            mutation,
        });
    }
}

/// A client's operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Write {
        value: i64,
        cl: Consistency,
    },
    Read {
        cl: Consistency,
    },
    /// `UPDATE ... SET v = new IF v = expect` (`IF NOT EXISTS` when none).
    Cas {
        expect: Option<i64>,
        new: i64,
    },
    /// `SELECT` at SERIAL.
    SerialRead,
}

/// What an operation returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Written,
    /// The register's (timestamp, value), none if absent.
    Read(Option<(i64, i64)>),
    Cas {
        applied: bool,
        current: Option<i64>,
    },
    Failed(QueryError),
}

/// One operation of the history.
#[derive(Debug, Clone)]
pub struct Op {
    pub key: u32,
    pub kind: Kind,
    pub via: IpAddr,
    pub invoked: u64,
    /// A write's timestamp.
    pub ts: i64,
    /// When it returned and what; none while in flight (or its
    /// coordinator crashed: the client never hears back).
    pub returned: Option<(u64, Answer)>,
}

#[derive(Debug, Clone, Copy)]
pub(super) enum Pending {
    Write(u64),
    Read(u64),
    Cas(u64, Ballot),
    /// A hint sent in delivery pass `.0` as its send `.1`.
    Hint(u64, u64),
}

#[derive(Debug, Clone, Copy)]
pub(super) enum For {
    Client(usize),
    Cas(u64),
    Repair(u64),
}

pub(super) struct WriteJob {
    pub(super) round: WriteRound,
    pub(super) bytes: Vec<u8>,
    pub(super) purpose: For,
}

pub(super) struct ReadJob {
    pub(super) round: ReadRound,
    pub(super) purpose: For,
    /// Blocking read repair under way: the answer, and the repair writes left.
    pub(super) repairing: Option<(Resolved, usize)>,
}

pub(super) struct CasJob {
    pub(super) round: CasRound,
    pub(super) op: usize,
    pub(super) key: u32,
    pub(super) answer: Option<Answer>,
}

/// What a running node is coordinating.
#[derive(Default)]
pub struct Work {
    pub(super) pending: BTreeMap<u64, Pending>,
    pub(super) writes: BTreeMap<u64, WriteJob>,
    pub(super) reads: BTreeMap<u64, ReadJob>,
    pub(super) cas: BTreeMap<u64, CasJob>,
    pub(super) next_job: u64,
    pub(super) hints: Option<Delivery>,
    /// Which pass `hints` is (answers of an earlier pass are ignored).
    pub(super) hint_pass: u64,
}
