//! The coordinator's lightweight transactions: Paxos rounds among a
//! partition's replicas (prepare, propose, commit), and reads at SERIAL or
//! LOCAL_SERIAL (see [`crate::node::cluster::paxos`] for the protocol and
//! the decisions).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::Coordinator;
use crate::node::cluster::message::Body;
use crate::node::cluster::paxos::{AfterPrepare, Ballot, Promise, after_prepare};
use crate::node::cluster::replica::Replica;
use crate::node::cql::exec::{Decide, Result};
use crate::node::db::consistency::Consistency;
use crate::node::db::read::Gathered;
use crate::node::db::schema::Strategy;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::ResultBody;

/// Lightweight transactions: the coordinator's side of Paxos (see
/// [`crate::node::cluster::paxos`] for the protocol and the decisions).
impl Coordinator {
    /// Sends `body` to `targets` (this node answers itself with `local`,
    /// while the others work) and gathers answers until `enough` says so,
    /// every target answered, or the deadline passed.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &self,
        targets: &[IpAddr],
        body: Body,
        local: impl FnOnce() -> Result<Body>,
        enough: impl Fn(&[(IpAddr, Body)]) -> bool,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<(IpAddr, Body)>> {
        let t = self.transport.clone();
        let me = t.me();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for r in targets.iter().copied().filter(|r| *r != me) {
            let (t, tx, body) = (t.clone(), tx.clone(), body.clone());
            let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            self.runtime.spawn(async move {
                if let Ok(m) = t.request(r, body, timeout).await {
                    let _ = tx.send((r, m.body));
                }
            });
        }
        drop(tx);
        let mut answers = Vec::with_capacity(targets.len());
        if targets.contains(&me) {
            answers.push((me, local()?));
        }
        let done = |a: &[(IpAddr, Body)]| a.len() >= targets.len() || enough(a);
        if !done(&answers) {
            self.runtime.block_on(async {
                while !done(&answers) {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(Some(b)) => answers.push(b),
                        _ => break,
                    }
                }
            });
        }
        Ok(answers)
    }

    /// Phase 2: whether a quorum accepted `update` under `ballot` (false:
    /// every replica refused it). Accepted by some but not a quorum, the
    /// outcome is unknown (a later round may finish it): a CAS WriteTimeout,
    /// as Cassandra answers.
    #[allow(clippy::too_many_arguments)]
    fn propose(
        &self,
        replica: &Arc<Replica>,
        live: &[IpAddr],
        (table, token, key): (&[u8; 16], i64, &[u8]),
        ballot: Ballot,
        update: Vec<u8>,
        need: usize,
        deadline: tokio::time::Instant,
        timeout: &dyn Fn(i32) -> QueryError,
    ) -> Result<bool> {
        let body = Body::PaxosPropose {
            table: *table,
            token,
            key: key.to_vec(),
            ballot,
            update: update.clone(),
        };
        let local = || {
            replica
                .with_paxos(table, token, key, |s| s.propose(ballot, update))
                .map(Body::PaxosAccepted)
                .map_err(QueryError::from)
        };
        let accepted = |a: &[(IpAddr, Body)]| {
            a.iter()
                .filter(|(_, b)| matches!(b, Body::PaxosAccepted(true)))
                .count()
        };
        let answers = self.gather(live, body, local, |a| accepted(a) >= need, deadline)?;
        let n = accepted(&answers);
        if n >= need {
            Ok(true)
        } else if n == 0 && answers.len() == live.len() {
            Ok(false)
        } else {
            Err(timeout(n as i32))
        }
    }

    /// Sends the newest commit to replicas that promised without having it,
    /// and waits for all of them.
    fn propagate(
        &self,
        replica: &Arc<Replica>,
        to: &[IpAddr],
        ballot: Ballot,
        update: Vec<u8>,
        durable: bool,
        deadline: tokio::time::Instant,
    ) -> Result<()> {
        let m = crate::node::db::storage::Mutation::decode(&update)?;
        let body = Body::Mutation {
            mutation: update,
            durable,
            forward_to: Vec::new(),
            commit: Some(ballot),
        };
        let local = || {
            replica
                .apply_commit(&m, durable, Some(ballot))
                .map(|()| Body::MutationAck)
                .map_err(QueryError::from)
        };
        let acks = self
            .gather(to, body, local, |_| false, deadline)?
            .iter()
            .filter(|(_, b)| matches!(b, Body::MutationAck))
            .count();
        if acks < to.len() {
            return Err(QueryError::WriteTimeout {
                consistency: Consistency::Serial.to_string(),
                received: acks as i32,
                block_for: to.len() as i32,
                write_type: "CAS".into(),
            });
        }
        Ok(())
    }

    /// The pause before another round after contention: random, up to
    /// 100 ms, as Cassandra's (on a blocking thread).
    fn contention_pause(&self) {
        use rand::RngExt as _;
        let ms = rand::rng().random_range(0..100u64);
        std::thread::sleep(Duration::from_millis(ms));
    }

    /// A lightweight transaction on one partition (see [`crate::node::cluster::paxos`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn cas_sync(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        serial: Consistency,
        commit: Consistency,
        decide: &mut Decide<'_>,
    ) -> Result<ResultBody> {
        let replica = self.replica()?;
        let strategy = self.strategy(keyspace)?;
        let ring = self.membership.ring();
        let me = self.transport.me();
        let my_dc = replica.engine().datacenter();
        let host = self.membership.host_id_of(&me).unwrap_or_default();
        let replicas = match &strategy {
            Strategy::Local => vec![me],
            s => ring.replicas(s, token),
        };
        // SERIAL: every replica takes part; LOCAL_SERIAL: this datacenter's.
        let participants: Vec<IpAddr> = replicas
            .into_iter()
            .filter(|r| {
                serial != Consistency::LocalSerial
                    || ring.datacenter_of(r).unwrap_or(&my_dc) == my_dc
            })
            .collect();
        let need = participants.len() / 2 + 1;
        let live: Vec<IpAddr> = participants
            .iter()
            .copied()
            .filter(|r| *r == me || self.membership.is_alive(r))
            .collect();
        if live.len() < need {
            return Err(QueryError::Unavailable {
                consistency: serial.to_string(),
                required: need as i32,
                alive: live.len() as i32,
            });
        }
        let read_cl = if serial == Consistency::LocalSerial {
            Consistency::LocalQuorum
        } else {
            Consistency::Quorum
        };
        let durable = replica
            .engine()
            .schema()
            .keyspace(keyspace)
            .is_none_or(|k| k.meta.durable_writes);
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        let timeout = |received: i32| QueryError::WriteTimeout {
            consistency: serial.to_string(),
            received,
            block_for: need as i32,
            write_type: "CAS".into(),
        };
        let partition = (table, token, key);
        let mut above = Ballot::default();
        loop {
            if tokio::time::Instant::now() >= deadline {
                return Err(timeout(0));
            }
            let ballot = Ballot::next(replica.engine().now_micros(), above, host);
            above = ballot;
            // Phase 1: prepare.
            let body = Body::PaxosPrepare {
                table: *table,
                token,
                key: key.to_vec(),
                ballot,
            };
            let local = || {
                replica
                    .with_paxos(table, token, key, |s| s.prepare(ballot))
                    .map(Body::PaxosPromise)
                    .map_err(QueryError::from)
            };
            let (from, promises): (Vec<IpAddr>, Vec<Promise>) = self
                .gather(&live, body, local, |a| a.len() >= need, deadline)?
                .into_iter()
                .filter_map(|(a, b)| match b {
                    Body::PaxosPromise(p) => Some((a, p)),
                    _ => None,
                })
                .unzip();
            if promises.len() < need {
                return Err(timeout(promises.len() as i32));
            }
            match after_prepare(&promises) {
                AfterPrepare::Retry { above: higher } => {
                    above = above.max(higher);
                    self.contention_pause();
                    continue;
                }
                AfterPrepare::Finish { update } => {
                    // A proposal that may have been decided: finish it first.
                    let m = crate::node::db::storage::Mutation::decode(&update)?;
                    let accepted = self.propose(
                        &replica, &live, partition, ballot, update, need, deadline, &timeout,
                    )?;
                    if accepted {
                        let w = (m, durable, keyspace.to_string());
                        self.write_sync(std::slice::from_ref(&w), read_cl, "CAS", Some(ballot))?;
                    } else {
                        self.contention_pause();
                    }
                    continue;
                }
                AfterPrepare::Propagate {
                    commit: (committed, update),
                    to,
                } => {
                    let to: Vec<IpAddr> = to.into_iter().map(|i| from[i]).collect();
                    self.propagate(&replica, &to, committed, update, durable, deadline)?;
                    continue;
                }
                AfterPrepare::Proceed => {}
            }
            // Read at quorum and decide.
            let current = self
                .read_sync(keyspace, table, &[(token, key.to_vec())], read_cl)?
                .0
                .into_values()
                .next();
            let (write, answer) = decide(current, ballot.micros)?;
            let Some(w) = write else {
                return Ok(answer);
            };
            // Phase 2: propose; phase 3: commit to every replica at `commit`.
            let update = w.0.encode();
            if !self.propose(
                &replica, &live, partition, ballot, update, need, deadline, &timeout,
            )? {
                self.contention_pause();
                continue;
            }
            self.write_sync(std::slice::from_ref(&w), commit, "SIMPLE", Some(ballot))?;
            return Ok(answer);
        }
    }

    /// A read at SERIAL or LOCAL_SERIAL: a Paxos round per partition that
    /// finishes any proposal in progress, then a quorum read.
    pub(super) fn serial_read(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        serial: Consistency,
    ) -> Result<Gathered> {
        let mut out = Gathered::default();
        let commit = if serial == Consistency::LocalSerial {
            Consistency::LocalQuorum
        } else {
            Consistency::Quorum
        };
        for (token, key) in keys {
            let mut seen = None;
            let mut read = |p: Option<PartitionData>, _ts: i64| {
                seen = p;
                Ok((None, ResultBody::Void))
            };
            // A round that times out is a read timeout to the client, as
            // Cassandra's.
            self.cas_sync(keyspace, table, *token, key, serial, commit, &mut read)
                .map_err(|e| match e {
                    QueryError::WriteTimeout { block_for, .. } => QueryError::ReadTimeout {
                        consistency: serial.to_string(),
                        received: 0,
                        block_for,
                        data_present: false,
                    },
                    e => e,
                })?;
            if let Some(p) = seen {
                out.add(p);
            }
        }
        Ok(out)
    }
}
