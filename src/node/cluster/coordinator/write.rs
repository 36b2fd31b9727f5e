//! The coordinator: a write goes to every replica and is answered when
//! the consistency level is met.
//!
//! For each mutation the coordinator finds the replicas on the ring (the
//! keyspace's strategy), checks that enough of them are up for the
//! consistency level (Unavailable otherwise, before anything is sent), then
//! applies locally if it is a replica, sends to the other replicas of its
//! datacenter, and sends one copy per remote datacenter to a replica there
//! that forwards it to the others (answers come straight back), as
//! Cassandra does to spare the cross-datacenter link. It waits for the acks
//! the level needs until the write timeout (WriteTimeout): the plan and the
//! accounting are [`plan`] and a [`WriteRound`], with no I/O.
//! Replicas that are down get a hint at once, those silent at the deadline
//! when it passes.

use std::net::IpAddr;

use super::Coordinator;
use super::write_round::{Reply, Step, WriteRound, plan};
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::paxos::Ballot;
use crate::node::cql::exec::{Result, Write};
use crate::node::db::consistency::Consistency;
use crate::node::error::QueryError;

/// A write in flight: its round, the channel its replies come on, and
/// what a hint for it needs.
struct InFlight {
    id: u64,
    round: WriteRound,
    rx: tokio::sync::mpsc::UnboundedReceiver<Message>,
    answer: Option<Result<()>>,
    hint: Vec<IpAddr>,
    bytes: Vec<u8>,
    durable: bool,
}

impl InFlight {
    fn absorb(&mut self, step: Step) {
        if let Some(a) = step.answer {
            self.answer = Some(a);
        }
        self.hint.extend(step.hint);
    }

    /// Feeds the round the next reply, or the deadline when none comes.
    async fn next(&mut self, deadline: tokio::time::Instant) {
        let step = match tokio::time::timeout_at(deadline, self.rx.recv()).await {
            Ok(Some(m)) => match m.body {
                Body::MutationAck => self.round.step(m.from, Reply::Ack),
                Body::MutationFailed(e) => {
                    tracing::warn!("replica {} failed a write: {e}", m.from);
                    self.round.step(m.from, Reply::Failed(e))
                }
                _ => Step::default(),
            },
            _ => self.round.tick(self.round.deadline()),
        };
        self.absorb(step);
    }
}

impl Coordinator {
    /// Plans every mutation (Unavailable before anything is sent), sends to
    /// the other replicas, queues the local copy on this node's storage
    /// writer, and waits (holding no thread) for the acks the level needs.
    /// Each mutation's accounting is a [`WriteRound`].
    pub(super) async fn write_rounds(
        &self,
        writes: &[Write],
        cl: Consistency,
        write_type: &'static str,
        commit: Option<Ballot>,
    ) -> Result<()> {
        let replica = self.replica()?;
        let schema = replica.engine().schema();
        let ring = self.membership.ring();
        let t = self.transport.clone();
        let me = t.me();
        let my_dc = replica.engine().datacenter();
        let alive = |a: &IpAddr| self.membership.is_alive(a);
        let dc_of = |a: &IpAddr| ring.datacenter_of(a).unwrap_or("").to_string();
        let mut plans = Vec::with_capacity(writes.len());
        for w in writes {
            let strategy = schema
                .keyspace(&w.2)
                .map(|k| k.meta.strategy.clone())
                .ok_or_else(|| QueryError::Invalid(format!("Keyspace '{}' does not exist", w.2)))?;
            plans.push(plan(&ring, &strategy, w.0.token, me, &my_dc, cl, &alive)?);
        }
        // The rounds' clock: milliseconds since this write started.
        let deadline = tokio::time::Instant::now() + self.write_timeout;
        let timeout_ms = self.write_timeout.as_millis() as u64;
        let mut flights = Vec::with_capacity(writes.len());
        let mut local = Vec::new();
        for (w, plan) in writes.iter().zip(plans) {
            let id = t.next_id();
            // The wire form only when some replica other than this node needs it.
            let bytes = if plan.same_dc.is_empty() && plan.remote.is_empty() && plan.down.is_empty()
            {
                Vec::new()
            } else {
                w.0.encode()
            };
            let round = WriteRound::new(&plan, cl, write_type, timeout_ms, &dc_of);
            let rx = if round.expects_replies() {
                t.expect(id)
            } else {
                tokio::sync::mpsc::unbounded_channel().1
            };
            for (target, forward_to) in round.sends() {
                let body = Body::Mutation {
                    mutation: bytes.clone(),
                    durable: w.1,
                    forward_to: forward_to.clone(),
                    commit,
                };
                t.send(
                    *target,
                    &Message {
                        id,
                        from: me,
                        reply_to: me,
                        body,
                    },
                );
            }
            let mut f = InFlight {
                id,
                round,
                rx,
                answer: None,
                hint: Vec::new(),
                bytes,
                durable: w.1,
            };
            if plan.local {
                // Queued on the writer now, awaited below with the others.
                let r = replica.clone();
                local.push((flights.len(), async move {
                    r.apply_commit(w.0.clone(), w.1, commit).await
                }));
            }
            let hinted = if plan.down.is_empty() {
                0
            } else {
                replica
                    .store_hints(&self.membership, &plan.down, &f.bytes, w.1)
                    .await
            };
            let step = f.round.hinted(hinted);
            f.absorb(step);
            flights.push(f);
        }
        // The local copies, applied together (one group on the writer).
        let (at, applied): (Vec<usize>, Vec<_>) = local.into_iter().unzip();
        for (i, r) in at
            .into_iter()
            .zip(futures_util::future::join_all(applied).await)
        {
            let f = &mut flights[i];
            match r {
                Ok(()) => {
                    let step = f.round.applied_locally(&my_dc);
                    f.absorb(step);
                }
                // The write fails; its round still hears the replicas out.
                Err(e) => f.answer = Some(Err(e.into())),
            }
        }
        for f in flights.iter_mut() {
            while f.answer.is_none() {
                f.next(deadline).await;
            }
        }
        let result = flights
            .iter_mut()
            .find_map(|f| f.answer.take().and_then(|a| a.err()))
            .map_or(Ok(()), Err);
        // Rounds not over yet wait for their replicas in the background
        // until the deadline; the silent ones get hints.
        for mut f in flights {
            let (t, replica, membership) = (t.clone(), replica.clone(), self.membership.clone());
            if f.round.is_done() && f.hint.is_empty() {
                t.forget(f.id);
                continue;
            }
            tokio::spawn(async move {
                while !f.round.is_done() {
                    f.next(deadline).await;
                }
                t.forget(f.id);
                if !f.hint.is_empty() {
                    replica
                        .store_hints(&membership, &f.hint, &f.bytes, f.durable)
                        .await;
                }
            });
        }
        result
    }
}
