//! The coordinator's lightweight transactions: Paxos rounds among a
//! partition's replicas (prepare, propose, commit), and reads at SERIAL or
//! LOCAL_SERIAL (see [`crate::node::cluster::paxos`] for the protocol and
//! the decisions). Each transaction's rounds are a [`CasRound`], a state
//! machine with no I/O, that [`Coordinator::cas_rounds`] drives.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::Duration;

use super::Coordinator;
use super::cas_round::{CasRound, Effect};
use crate::node::cluster::message::Body;
use crate::node::cql::exec::{Decide, Result};
use crate::node::cql::replicator::Replicator;
use crate::node::db::consistency::Consistency;
use crate::node::db::read::Gathered;
use crate::node::db::schema::Strategy;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::ResultBody;

/// Lightweight transactions: the coordinator's side of Paxos (see
/// [`crate::node::cluster::paxos`] for the protocol and the decisions),
/// each one a [`CasRound`] this drives.
impl Coordinator {
    /// Sends `body` to `to` (this node answers itself with `local`, while
    /// the others work) and feeds the answers to the round until it moves
    /// on; when every answer is in or the deadline passed, the round's
    /// timeout decides.
    async fn exchange(
        &self,
        round: &mut CasRound,
        to: &[IpAddr],
        body: Body,
        local: impl std::future::Future<Output = Result<Body>>,
        feed: impl Fn(&mut CasRound, IpAddr, Body) -> Vec<Effect>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<Effect>> {
        let t = self.transport.clone();
        let me = t.me();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for r in to.iter().copied().filter(|r| *r != me) {
            let (t, tx, body) = (t.clone(), tx.clone(), body.clone());
            let timeout = deadline.saturating_duration_since(tokio::time::Instant::now());
            tokio::spawn(async move {
                if let Ok(m) = t.request(r, body, timeout).await {
                    let _ = tx.send((r, m.body));
                }
            });
        }
        drop(tx);
        if to.contains(&me) {
            let effects = feed(round, me, local.await?);
            if !effects.is_empty() {
                return Ok(effects);
            }
        }
        loop {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((from, body))) => {
                    let effects = feed(round, from, body);
                    if !effects.is_empty() {
                        return Ok(effects);
                    }
                }
                _ => return Ok(round.tick(u64::MAX)),
            }
        }
    }

    /// The pause before another round after contention: random, up to
    /// 100 ms, as Cassandra's.
    async fn contention_pause(&self) {
        use rand::RngExt as _;
        let ms = rand::rng().random_range(0..100u64);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }

    /// A lightweight transaction on one partition (see [`crate::node::cluster::paxos`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn cas_rounds(
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
        let durable = replica
            .engine()
            .schema()
            .keyspace(keyspace)
            .is_none_or(|k| k.meta.durable_writes);
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        let timeout_ms = self.write_timeout.as_millis() as u64;
        let now = || replica.engine().now_micros();
        let mut round = CasRound::new(live, need, serial, commit, host, timeout_ms);
        let mut effects: VecDeque<Effect> = round.start(now()).into();
        let mut answer = None;
        let pkey = || key.to_vec();
        while let Some(effect) = effects.pop_front() {
            let more = match effect {
                Effect::Prepare { ballot, to } => {
                    let body = Body::PaxosPrepare {
                        table: *table,
                        token,
                        key: pkey(),
                        ballot,
                    };
                    let local = async {
                        replica
                            .paxos(*table, token, pkey(), move |s| s.prepare(ballot))
                            .await
                            .map(Body::PaxosPromise)
                            .map_err(QueryError::from)
                    };
                    let feed = |r: &mut CasRound, from, body| match body {
                        Body::PaxosPromise(p) => r.on_promise(from, ballot, p),
                        _ => Vec::new(),
                    };
                    self.exchange(&mut round, &to, body, local, feed, deadline)
                        .await?
                }
                Effect::Propose { ballot, update, to } => {
                    let body = Body::PaxosPropose {
                        table: *table,
                        token,
                        key: pkey(),
                        ballot,
                        update: update.clone(),
                    };
                    let local = async {
                        replica
                            .paxos(*table, token, pkey(), move |s| s.propose(ballot, update))
                            .await
                            .map(Body::PaxosAccepted)
                            .map_err(QueryError::from)
                    };
                    let feed = |r: &mut CasRound, from, body| match body {
                        Body::PaxosAccepted(ok) => r.on_accepted(from, ballot, ok),
                        _ => Vec::new(),
                    };
                    self.exchange(&mut round, &to, body, local, feed, deadline)
                        .await?
                }
                Effect::Propagate { ballot, update, to } => {
                    let m = crate::node::db::storage::Mutation::decode(&update)?;
                    let body = Body::Mutation {
                        mutation: update,
                        durable,
                        forward_to: Vec::new(),
                        commit: Some(ballot),
                    };
                    let local = async {
                        replica
                            .apply_commit(m, durable, Some(ballot))
                            .await
                            .map(|()| Body::MutationAck)
                            .map_err(QueryError::from)
                    };
                    let feed = |r: &mut CasRound, from, body| match body {
                        Body::MutationAck => r.on_propagated(from, now()),
                        _ => Vec::new(),
                    };
                    self.exchange(&mut round, &to, body, local, feed, deadline)
                        .await?
                }
                Effect::Commit {
                    ballot,
                    update,
                    consistency,
                    write_type,
                } => {
                    let m = crate::node::db::storage::Mutation::decode(&update)?;
                    let w = (m, durable, keyspace.to_string());
                    let r = self
                        .write_rounds(
                            std::slice::from_ref(&w),
                            consistency,
                            write_type,
                            Some(ballot),
                        )
                        .await;
                    round.on_committed(r, now())
                }
                Effect::Read { consistency } => {
                    let keys = [(token, pkey())];
                    let r = Replicator::read(self, keyspace, table, &keys, consistency)
                        .await
                        .map(|g| g.0.into_values().next());
                    round.on_read(r)
                }
                Effect::Decide { current, micros } => {
                    let (write, a) = decide(current, micros)?;
                    answer = Some(a);
                    round.on_decided(write.map(|w| w.0.encode()))
                }
                Effect::Pause => {
                    self.contention_pause().await;
                    round.on_paused(now())
                }
                Effect::Done(r) => {
                    r?;
                    return answer.ok_or_else(|| {
                        QueryError::Server("a transaction ended without a decision".into())
                    });
                }
            };
            effects.extend(more);
        }
        Err(QueryError::Server(
            "a transaction's round stopped without an answer".into(),
        ))
    }

    /// A read at SERIAL or LOCAL_SERIAL: a Paxos round per partition that
    /// finishes any proposal in progress, then a quorum read.
    pub(super) async fn serial_read(
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
            self.cas_rounds(keyspace, table, *token, key, serial, commit, &mut read)
                .await
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
