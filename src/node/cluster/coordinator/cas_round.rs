//! A lightweight transaction at its coordinator, as a state machine with
//! no I/O: the Paxos rounds of [`crate::node::cluster::paxos`], one step
//! at a time.
//!
//! A [`CasRound`] knows the partition's live participants (all replicas
//! for SERIAL, the local datacenter's for LOCAL_SERIAL), the quorum it
//! needs, this node's host id and a deadline. Every call returns the
//! [`Effect`]s the driver carries out, and the driver reports each one's
//! outcome with the matching `on_*` call:
//!
//! | effect | the driver | reports with |
//! |---|---|---|
//! | `Prepare`, `Propose` to some replicas | sends (answers itself as a replica) | [`CasRound::on_promise`], [`CasRound::on_accepted`] |
//! | `Propagate` a commit to replicas that missed it | sends | [`CasRound::on_propagated`] |
//! | `Commit` an update at a consistency level | an ordinary write with the ballot | [`CasRound::on_committed`] |
//! | `Read` at QUORUM or LOCAL_QUORUM | an ordinary read | [`CasRound::on_read`] |
//! | `Decide` on what was read | checks the statement's condition | [`CasRound::on_decided`] |
//! | `Pause` after contention | waits a random moment (up to 100 ms) | [`CasRound::on_paused`] |
//! | `Done` | answers the client | |
//!
//! Answers of an earlier phase or ballot, duplicates and answers from
//! nodes that were not asked are ignored. [`CasRound::tick`] at or past the
//! deadline ends the round with Cassandra's CAS WriteTimeout. A proposal
//! accepted by some replicas but not a quorum, with every replica heard,
//! is a timeout too: its outcome is unknown (Cassandra's rule).

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::node::cluster::paxos::{AfterPrepare, Ballot, Promise, after_prepare};
use crate::node::db::consistency::Consistency;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;

/// What the driver is to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Phase 1: ask `to` to promise `ballot`.
    Prepare { ballot: Ballot, to: Vec<IpAddr> },
    /// Phase 2: ask `to` to accept `update` under `ballot`.
    Propose {
        ballot: Ballot,
        update: Vec<u8>,
        to: Vec<IpAddr>,
    },
    /// Send the newest commit to replicas that promised without it.
    Propagate {
        ballot: Ballot,
        update: Vec<u8>,
        to: Vec<IpAddr>,
    },
    /// Write `update` with `ballot` to every replica at `consistency`.
    Commit {
        ballot: Ballot,
        update: Vec<u8>,
        consistency: Consistency,
        write_type: &'static str,
    },
    /// Read the partition at `consistency`.
    Read { consistency: Consistency },
    /// Check the statement's condition against `current`; the update (if
    /// any) is stamped with `micros`.
    Decide {
        current: Option<PartitionData>,
        micros: i64,
    },
    /// Contention: wait a moment, then [`CasRound::on_paused`].
    Pause,
    /// The round is over: `Ok` means the last decision stands.
    Done(Result<(), QueryError>),
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Preparing {
        promises: Vec<(IpAddr, Promise)>,
        heard: BTreeSet<IpAddr>,
    },
    Proposing {
        /// Finishing a proposal found in progress (then start over).
        finishing: bool,
        update: Vec<u8>,
        accepted: usize,
        heard: BTreeSet<IpAddr>,
    },
    Propagating {
        waiting: BTreeSet<IpAddr>,
        acks: usize,
        asked: usize,
    },
    Committing {
        finishing: bool,
    },
    Reading,
    Deciding,
    Pausing,
    Done,
}

/// One lightweight transaction (or SERIAL read) at its coordinator.
#[derive(Debug, Clone)]
pub struct CasRound {
    live: Vec<IpAddr>,
    need: usize,
    serial: Consistency,
    commit: Consistency,
    host: [u8; 16],
    deadline: u64,
    ballot: Ballot,
    above: Ballot,
    phase: Phase,
}

impl CasRound {
    /// A round among `live` participants needing `need` of them, at
    /// `serial` (SERIAL or LOCAL_SERIAL), committing at `commit`, ending by
    /// `deadline` (ms on the caller's clock).
    pub fn new(
        live: Vec<IpAddr>,
        need: usize,
        serial: Consistency,
        commit: Consistency,
        host: [u8; 16],
        deadline: u64,
    ) -> CasRound {
        CasRound {
            live,
            need,
            serial,
            commit,
            host,
            deadline,
            ballot: Ballot::default(),
            above: Ballot::default(),
            phase: Phase::Pausing,
        }
    }

    /// The first ballot, from the clock in microseconds.
    pub fn start(&mut self, now_micros: i64) -> Vec<Effect> {
        self.on_paused(now_micros)
    }

    /// The ballot of the current attempt.
    pub fn ballot(&self) -> Ballot {
        self.ballot
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The level of the quorum read (the read of a SERIAL read too).
    pub fn read_level(&self) -> Consistency {
        if self.serial == Consistency::LocalSerial {
            Consistency::LocalQuorum
        } else {
            Consistency::Quorum
        }
    }

    fn timeout(&self, received: usize) -> QueryError {
        QueryError::WriteTimeout {
            consistency: self.serial.to_string(),
            received: received as i32,
            block_for: self.need as i32,
            write_type: "CAS".into(),
        }
    }

    fn done(&mut self, r: Result<(), QueryError>) -> Vec<Effect> {
        self.phase = Phase::Done;
        vec![Effect::Done(r)]
    }

    /// After a pause (or at the start): a new ballot above every one seen.
    pub fn on_paused(&mut self, now_micros: i64) -> Vec<Effect> {
        if !matches!(self.phase, Phase::Pausing) {
            return Vec::new();
        }
        self.prepare(now_micros)
    }

    fn prepare(&mut self, now_micros: i64) -> Vec<Effect> {
        self.ballot = Ballot::next(now_micros, self.above, self.host);
        self.above = self.ballot;
        self.phase = Phase::Preparing {
            promises: Vec::new(),
            heard: BTreeSet::new(),
        };
        vec![Effect::Prepare {
            ballot: self.ballot,
            to: self.live.clone(),
        }]
    }

    /// A replica's promise (or refusal) for `ballot`.
    pub fn on_promise(&mut self, from: IpAddr, ballot: Ballot, p: Promise) -> Vec<Effect> {
        let need = self.need;
        let Phase::Preparing { promises, heard } = &mut self.phase else {
            return Vec::new();
        };
        if ballot != self.ballot || !self.live.contains(&from) || !heard.insert(from) {
            return Vec::new();
        }
        promises.push((from, p));
        if promises.len() < need {
            return Vec::new();
        }
        let promises = std::mem::take(promises);
        let from: Vec<IpAddr> = promises.iter().map(|(a, _)| *a).collect();
        let promises: Vec<Promise> = promises.into_iter().map(|(_, p)| p).collect();
        match after_prepare(&promises) {
            AfterPrepare::Retry { above } => {
                self.above = self.above.max(above);
                self.phase = Phase::Pausing;
                vec![Effect::Pause]
            }
            AfterPrepare::Finish { update } => self.propose(update, true),
            AfterPrepare::Propagate {
                commit: (ballot, update),
                to,
            } => {
                let to: Vec<IpAddr> = to.into_iter().map(|i| from[i]).collect();
                self.phase = Phase::Propagating {
                    waiting: to.iter().copied().collect(),
                    acks: 0,
                    asked: to.len(),
                };
                vec![Effect::Propagate { ballot, update, to }]
            }
            AfterPrepare::Proceed => {
                self.phase = Phase::Reading;
                vec![Effect::Read {
                    consistency: self.read_level(),
                }]
            }
        }
    }

    fn propose(&mut self, update: Vec<u8>, finishing: bool) -> Vec<Effect> {
        self.phase = Phase::Proposing {
            finishing,
            update: update.clone(),
            accepted: 0,
            heard: BTreeSet::new(),
        };
        vec![Effect::Propose {
            ballot: self.ballot,
            update,
            to: self.live.clone(),
        }]
    }

    /// A replica's answer to a proposal under `ballot`.
    pub fn on_accepted(&mut self, from: IpAddr, ballot: Ballot, ok: bool) -> Vec<Effect> {
        let (need, all) = (self.need, self.live.len());
        let Phase::Proposing {
            finishing,
            update,
            accepted,
            heard,
        } = &mut self.phase
        else {
            return Vec::new();
        };
        if ballot != self.ballot || !self.live.contains(&from) || !heard.insert(from) {
            return Vec::new();
        }
        *accepted += usize::from(ok);
        if *accepted >= need {
            let (finishing, update) = (*finishing, std::mem::take(update));
            self.phase = Phase::Committing { finishing };
            // A finished proposal is committed at the read level, as a CAS
            // write; the statement's own update at its commit level.
            let (consistency, write_type) = if finishing {
                (self.read_level(), "CAS")
            } else {
                (self.commit, "SIMPLE")
            };
            return vec![Effect::Commit {
                ballot: self.ballot,
                update,
                consistency,
                write_type,
            }];
        }
        if heard.len() < all {
            return Vec::new();
        }
        if *accepted == 0 {
            // Every replica refused: someone else is ahead; try again.
            self.phase = Phase::Pausing;
            return vec![Effect::Pause];
        }
        let n = *accepted;
        let e = self.timeout(n);
        self.done(Err(e))
    }

    /// A replica acknowledged the propagated commit.
    pub fn on_propagated(&mut self, from: IpAddr, now_micros: i64) -> Vec<Effect> {
        let Phase::Propagating { waiting, acks, .. } = &mut self.phase else {
            return Vec::new();
        };
        if !waiting.remove(&from) {
            return Vec::new();
        }
        *acks += 1;
        if waiting.is_empty() {
            return self.prepare(now_micros);
        }
        Vec::new()
    }

    /// The commit's write finished.
    pub fn on_committed(&mut self, r: Result<(), QueryError>, now_micros: i64) -> Vec<Effect> {
        let Phase::Committing { finishing } = self.phase else {
            return Vec::new();
        };
        match r {
            Err(e) => self.done(Err(e)),
            Ok(()) if finishing => self.prepare(now_micros),
            Ok(()) => self.done(Ok(())),
        }
    }

    /// The quorum read's outcome.
    pub fn on_read(&mut self, r: Result<Option<PartitionData>, QueryError>) -> Vec<Effect> {
        if self.phase != Phase::Reading {
            return Vec::new();
        }
        match r {
            Err(e) => self.done(Err(e)),
            Ok(current) => {
                self.phase = Phase::Deciding;
                vec![Effect::Decide {
                    current,
                    micros: self.ballot.micros,
                }]
            }
        }
    }

    /// The decision: the update to propose, or none (the condition failed,
    /// or a SERIAL read): the round is over.
    pub fn on_decided(&mut self, update: Option<Vec<u8>>) -> Vec<Effect> {
        if self.phase != Phase::Deciding {
            return Vec::new();
        }
        match update {
            None => self.done(Ok(())),
            Some(u) => self.propose(u, false),
        }
    }

    /// The clock moved to `now` (ms): at the deadline, a round still
    /// waiting on replicas or on a pause times out. A read or a commit in
    /// progress ends with its own outcome (it has its own timeout).
    pub fn tick(&mut self, now: u64) -> Vec<Effect> {
        if now < self.deadline {
            return Vec::new();
        }
        let received = match &self.phase {
            Phase::Preparing { promises, .. } => promises.len(),
            Phase::Proposing { accepted, .. } => *accepted,
            Phase::Pausing => 0,
            Phase::Propagating { acks, asked, .. } => {
                let e = QueryError::WriteTimeout {
                    consistency: Consistency::Serial.to_string(),
                    received: *acks as i32,
                    block_for: *asked as i32,
                    write_type: "CAS".into(),
                };
                return self.done(Err(e));
            }
            _ => return Vec::new(),
        };
        let e = self.timeout(received);
        self.done(Err(e))
    }
}

#[cfg(test)]
mod tests;
