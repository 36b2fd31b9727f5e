//! Paxos for lightweight transactions: the replica's state and the
//! coordinator's decisions, as plain data and functions.
//!
//! A conditional statement (`INSERT ... IF NOT EXISTS`, `UPDATE ... IF`)
//! must not race with another one on the same partition, on any node. As
//! Cassandra does, ccrsim runs one round of Paxos per statement among the
//! partition's replicas (all of them for `SERIAL`, those of the
//! coordinator's datacenter for `LOCAL_SERIAL`), with a quorum of them:
//!
//! 1. **Prepare**: the coordinator picks a ballot (a timestamp in
//!    microseconds, then its host id to break ties) higher than any it has
//!    seen. A replica promises it if it is higher than every ballot it
//!    promised before, and answers with the newest proposal it accepted and
//!    the newest commit it saw. One refusal, and the coordinator
//!    starts again with a higher ballot after a short random pause.
//! 2. **Finish what was in progress**: an accepted proposal newer than every
//!    commit may be decided already (a coordinator died between propose and
//!    commit); the coordinator proposes and commits it again with its own
//!    ballot before going on, then starts over. Likewise, replicas that
//!    promised but missed the newest commit get it first, so that the
//!    quorum read of step 3 is sure to see it.
//! 3. **Read and decide**: the current partition is read at QUORUM (or
//!    LOCAL_QUORUM) and the statement's condition is checked. If it does
//!    not hold, the answer is `[applied] = false` with the current values.
//! 4. **Propose**: replicas accept the update unless they promised a higher
//!    ballot meanwhile. A quorum of acceptances decides it.
//! 5. **Commit**: the update (its cells stamped with the ballot's
//!    timestamp) goes to every replica of every datacenter as an ordinary
//!    write at the statement's consistency level, with the ballot, so that
//!    each replica records it as committed.
//!
//! Replicas keep their state durably in the node's metadata store
//! (`paxos/<table><token><key>`), so a restarted replica keeps its promises.
//! A `SERIAL` read is the same round without an update: it finishes any
//! proposal in progress, then reads at QUORUM.

/// A Paxos ballot: higher is newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Ballot {
    pub micros: i64,
    pub host: [u8; 16],
}

impl Ballot {
    pub const LEN: usize = 24;

    /// A fresh ballot of `host`: now, but always above `above`.
    pub fn next(now_micros: i64, above: Ballot, host: [u8; 16]) -> Ballot {
        let micros = now_micros.max(above.micros.saturating_add(1));
        Ballot { micros, host }
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.micros.to_be_bytes());
        out.extend_from_slice(&self.host);
    }

    pub fn decode(b: &[u8]) -> Option<Ballot> {
        if b.len() < Self::LEN {
            return None;
        }
        Some(Ballot {
            micros: i64::from_be_bytes(b[..8].try_into().ok()?),
            host: b[8..24].try_into().ok()?,
        })
    }
}

/// A proposal: its ballot and its update (a mutation's wire form).
pub type Proposal = (Ballot, Vec<u8>);

fn ballot_of(p: &Option<Proposal>) -> Ballot {
    p.as_ref().map(|(b, _)| *b).unwrap_or_default()
}

/// A replica's answer to a prepare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promise {
    /// Whether the ballot was promised.
    pub ok: bool,
    /// The highest ballot the replica has promised now.
    pub promised: Ballot,
    /// The newest proposal it accepted.
    pub accepted: Option<Proposal>,
    /// The newest commit it saw.
    pub committed: Option<Proposal>,
}

/// What one replica keeps for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub promised: Ballot,
    pub accepted: Option<Proposal>,
    pub committed: Option<Proposal>,
}

impl State {
    /// Phase 1 on the replica.
    pub fn prepare(&mut self, ballot: Ballot) -> Promise {
        let ok = ballot > self.promised;
        if ok {
            self.promised = ballot;
        }
        Promise {
            ok,
            promised: self.promised,
            accepted: self.accepted.clone(),
            committed: self.committed.clone(),
        }
    }

    /// Phase 2 on the replica: whether the proposal is accepted.
    pub fn propose(&mut self, ballot: Ballot, update: Vec<u8>) -> bool {
        if ballot < self.promised {
            return false;
        }
        self.promised = ballot;
        self.accepted = Some((ballot, update));
        true
    }

    /// Phase 3 on the replica (the update itself is applied as a write).
    pub fn commit(&mut self, ballot: Ballot, update: Vec<u8>) {
        if ballot > ballot_of(&self.committed) {
            self.committed = Some((ballot, update));
        }
        if ballot_of(&self.accepted) <= ballot_of(&self.committed) {
            self.accepted = None;
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(3 * Ballot::LEN + 16);
        self.promised.encode(&mut out);
        for p in [&self.committed, &self.accepted] {
            match p {
                Some((b, update)) => {
                    out.push(1);
                    b.encode(&mut out);
                    out.extend_from_slice(&(update.len() as u32).to_be_bytes());
                    out.extend_from_slice(update);
                }
                None => out.push(0),
            }
        }
        out
    }

    /// The stored form back; `None` (never a panic) when malformed.
    pub fn decode(b: &[u8]) -> Option<State> {
        let promised = Ballot::decode(b)?;
        let mut rest = &b[Ballot::LEN..];
        let mut proposal = || -> Option<Option<Proposal>> {
            let (&flag, r) = rest.split_first()?;
            rest = r;
            if flag == 0 {
                return Some(None);
            }
            let ballot = Ballot::decode(rest)?;
            rest = &rest[Ballot::LEN..];
            let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
            let update = rest.get(4..4 + len)?.to_vec();
            rest = &rest[4 + len..];
            Some(Some((ballot, update)))
        };
        let committed = proposal()?;
        let accepted = proposal()?;
        if !rest.is_empty() {
            return None;
        }
        Some(State {
            promised,
            accepted,
            committed,
        })
    }
}

/// What the coordinator does after a quorum of promises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterPrepare {
    /// A replica promised a higher ballot: start again above it.
    Retry { above: Ballot },
    /// A proposal accepted after the newest commit: propose and commit it
    /// again with this round's ballot, then start again.
    Finish { update: Vec<u8> },
    /// Some replicas that promised miss the newest commit (given by index
    /// in the promises): send it to them, then start again, so that the
    /// quorum read that follows is sure to see it.
    Propagate { commit: Proposal, to: Vec<usize> },
    /// Nothing in progress: read, decide, propose.
    Proceed,
}

/// The coordinator's decision from the promises it gathered.
pub fn after_prepare(promises: &[Promise]) -> AfterPrepare {
    if let Some(above) = promises.iter().filter(|p| !p.ok).map(|p| p.promised).max() {
        return AfterPrepare::Retry { above };
    }
    let newest = promises
        .iter()
        .filter_map(|p| p.committed.as_ref())
        .max_by_key(|(b, _)| *b);
    let committed = newest.map(|(b, _)| *b).unwrap_or_default();
    if let Some((_, update)) = promises
        .iter()
        .filter_map(|p| p.accepted.as_ref())
        .filter(|(b, _)| *b > committed)
        .max_by_key(|(b, _)| *b)
    {
        return AfterPrepare::Finish {
            update: update.clone(),
        };
    }
    let to: Vec<usize> = promises
        .iter()
        .enumerate()
        .filter(|(_, p)| ballot_of(&p.committed) < committed)
        .map(|(i, _)| i)
        .collect();
    match newest {
        Some(commit) if !to.is_empty() => AfterPrepare::Propagate {
            commit: commit.clone(),
            to,
        },
        _ => AfterPrepare::Proceed,
    }
}

/// The storage key of a partition's Paxos state.
pub fn state_key(table: &[u8; 16], token: i64, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(6 + 16 + 8 + key.len());
    k.extend_from_slice(b"paxos/");
    k.extend_from_slice(table);
    k.extend_from_slice(&token.to_be_bytes());
    k.extend_from_slice(key);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(micros: i64, host: u8) -> Ballot {
        Ballot {
            micros,
            host: [host; 16],
        }
    }

    #[test]
    fn a_replica_promises_only_higher_ballots_and_accepts_only_promised_ones() {
        let mut s = State::default();
        assert!(s.prepare(b(10, 1)).ok);
        assert!(!s.prepare(b(10, 1)).ok, "the same ballot twice");
        let refused = s.prepare(b(9, 9));
        assert!(!refused.ok);
        assert_eq!(refused.promised, b(10, 1));
        // Ties on time are broken by host id.
        assert!(s.prepare(b(10, 2)).ok);
        assert!(!s.propose(b(10, 1), vec![1]), "an older ballot's proposal");
        assert!(s.propose(b(10, 2), vec![2]));
        let p = s.prepare(b(11, 1));
        assert!(p.ok);
        assert_eq!(p.accepted, Some((b(10, 2), vec![2])));
        s.commit(b(10, 2), vec![2]);
        assert_eq!(s.accepted, None);
        assert_eq!(s.committed, Some((b(10, 2), vec![2])));
        // A late commit of an older ballot changes nothing.
        s.commit(b(5, 5), vec![5]);
        assert_eq!(s.committed, Some((b(10, 2), vec![2])));
    }

    #[test]
    fn the_coordinator_retries_finishes_or_proceeds() {
        let fresh = |promised| Promise {
            ok: true,
            promised,
            accepted: None,
            committed: None,
        };
        assert_eq!(
            after_prepare(&[fresh(b(5, 1)), fresh(b(5, 1))]),
            AfterPrepare::Proceed
        );
        let refused = Promise {
            ok: false,
            promised: b(7, 3),
            ..fresh(b(7, 3))
        };
        assert_eq!(
            after_prepare(&[fresh(b(5, 1)), refused]),
            AfterPrepare::Retry { above: b(7, 3) }
        );
        // One replica accepted a proposal nobody saw committed: finish it.
        let in_progress = Promise {
            accepted: Some((b(4, 2), vec![42])),
            ..fresh(b(5, 1))
        };
        assert_eq!(
            after_prepare(&[fresh(b(5, 1)), in_progress.clone()]),
            AfterPrepare::Finish { update: vec![42] }
        );
        // ... unless another replica saw it (or a newer one) committed;
        // then the replica that missed the commit gets it first.
        let saw_commit = Promise {
            committed: Some((b(4, 2), vec![42])),
            ..fresh(b(5, 1))
        };
        assert_eq!(
            after_prepare(&[saw_commit.clone(), in_progress]),
            AfterPrepare::Propagate {
                commit: (b(4, 2), vec![42]),
                to: vec![1]
            }
        );
        assert_eq!(
            after_prepare(&[saw_commit.clone(), saw_commit]),
            AfterPrepare::Proceed
        );
    }

    #[test]
    fn ballots_only_go_up() {
        let host = [7; 16];
        assert_eq!(Ballot::next(100, b(5, 1), host).micros, 100);
        assert_eq!(Ballot::next(100, b(500, 1), host).micros, 501);
    }

    #[test]
    fn state_round_trips_and_garbage_is_none() {
        let s = State {
            promised: b(9, 1),
            accepted: Some((b(8, 2), vec![1, 2, 3])),
            committed: Some((b(7, 3), vec![4])),
        };
        let bytes = s.encode();
        assert_eq!(State::decode(&bytes), Some(s));
        let empty = State::default();
        assert_eq!(State::decode(&empty.encode()), Some(empty));
        assert_eq!(State::decode(&[1, 2, 3]), None);
        for cut in 0..bytes.len() {
            assert_eq!(State::decode(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(State::decode(&longer), None);
    }
}
