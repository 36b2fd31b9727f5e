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
//! the level needs ([`satisfied`]) until the write timeout (WriteTimeout):
//! the accounting is a [`WriteRound`], a state machine with no I/O.
//! Replicas that are down get a hint at once, those silent at the deadline
//! when it passes.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::Coordinator;
use super::write_round::{Reply, Step, WriteRound};
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::paxos::Ballot;
use crate::node::cql::exec::{Result, Write};
use crate::node::db::consistency::{BlockFor, Consistency, check_available};
use crate::node::db::schema::Strategy;
use crate::node::error::QueryError;
use crate::node::locator::placement::Ring;

/// Whether the acks received (by datacenter) meet what the request waits for.
pub fn satisfied(bf: &BlockFor, acks: &BTreeMap<String, u32>) -> bool {
    match bf {
        BlockFor::Count {
            n,
            datacenter: None,
        } => acks.values().sum::<u32>() >= *n,
        BlockFor::Count {
            n,
            datacenter: Some(dc),
        } => acks.get(dc).copied().unwrap_or(0) >= *n,
        BlockFor::PerDatacenter(per) => per
            .iter()
            .all(|(dc, n)| acks.get(dc).copied().unwrap_or(0) >= *n),
    }
}

/// Acks that count toward `bf` (for WriteTimeout's `received`).
pub fn counted(bf: &BlockFor, acks: &BTreeMap<String, u32>) -> u32 {
    match bf {
        BlockFor::Count {
            datacenter: Some(dc),
            ..
        } => acks.get(dc).copied().unwrap_or(0),
        _ => acks.values().sum(),
    }
}

/// Where one mutation goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WritePlan {
    pub local: bool,
    /// Live replicas in the coordinator's datacenter (itself excluded).
    pub same_dc: Vec<IpAddr>,
    /// Per remote datacenter: the replica that receives and forwards, and the others.
    pub remote: Vec<(IpAddr, Vec<IpAddr>)>,
    /// Replicas that are down: they get hints.
    pub down: Vec<IpAddr>,
    pub block_for: BlockFor,
}

/// Plans a mutation's write: pure, so tests check placement decisions without sockets.
pub fn plan(
    ring: &Ring,
    strategy: &Strategy,
    token: i64,
    me: IpAddr,
    my_dc: &str,
    cl: Consistency,
    alive: &dyn Fn(&IpAddr) -> bool,
) -> std::result::Result<WritePlan, QueryError> {
    let replicas: Vec<IpAddr> = match strategy {
        Strategy::Local => vec![me],
        _ => ring.replicas(strategy, token),
    };
    let mut live_by_dc: BTreeMap<String, u32> = BTreeMap::new();
    let mut by_dc: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut down = Vec::new();
    for r in &replicas {
        let dc = ring.datacenter_of(r).unwrap_or(my_dc).to_string();
        if alive(r) {
            *live_by_dc.entry(dc.clone()).or_default() += 1;
            by_dc.entry(dc).or_default().push(*r);
        } else {
            down.push(*r);
        }
    }
    let block_for =
        check_available(cl, strategy, my_dc, &live_by_dc).map_err(|u| QueryError::Unavailable {
            consistency: u.consistency.to_string(),
            required: u.required as i32,
            alive: u.alive as i32,
        })?;
    let mut p = WritePlan {
        local: false,
        same_dc: Vec::new(),
        remote: Vec::new(),
        down,
        block_for,
    };
    for (dc, nodes) in by_dc {
        if dc == my_dc {
            for n in nodes {
                if n == me {
                    p.local = true;
                } else {
                    p.same_dc.push(n);
                }
            }
        } else if let Some((first, rest)) = nodes.split_first() {
            p.remote.push((*first, rest.to_vec()));
        }
    }
    Ok(p)
}

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
    /// the other replicas, applies locally on this (blocking) thread, and
    /// waits on the network only for acks still missing. Each mutation's
    /// accounting is a [`WriteRound`].
    pub(super) fn write_sync(
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
                replica.apply_commit(&w.0, w.1, commit)?;
                let step = f.round.applied_locally(&my_dc);
                f.absorb(step);
            }
            let hinted = replica.store_hints(&self.membership, &plan.down, &f.bytes, w.1);
            let step = f.round.hinted(hinted);
            f.absorb(step);
            flights.push(f);
        }
        if flights.iter().any(|f| f.answer.is_none()) {
            self.runtime.block_on(async {
                for f in flights.iter_mut() {
                    while f.answer.is_none() {
                        f.next(deadline).await;
                    }
                }
            });
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
            self.runtime.spawn(async move {
                while !f.round.is_done() {
                    f.next(deadline).await;
                }
                t.forget(f.id);
                if !f.hint.is_empty() {
                    let _ = tokio::task::spawn_blocking(move || {
                        replica.store_hints(&membership, &f.hint, &f.bytes, f.durable)
                    })
                    .await;
                }
            });
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cluster::coordinator::testing::{ip, nts, ring};

    #[test]
    fn plans_local_remote_forwarding_and_unavailable() {
        let r = ring();
        let me = ip(1, 1);
        let all = |_: &IpAddr| true;
        let p = plan(&r, &nts(), 5, me, "dc1", Consistency::LocalQuorum, &all).unwrap();
        assert!(p.local);
        assert_eq!(p.same_dc.len(), 2);
        assert_eq!(p.remote.len(), 1, "one forwarder for dc2");
        assert_eq!(p.remote[0].1.len(), 2, "it forwards to the two others");
        // dc2 down: LOCAL_QUORUM still plans, EACH_QUORUM and QUORUM cannot.
        let dc1_only = |a: &IpAddr| a.to_string().starts_with("127.0.1.");
        let p = plan(
            &r,
            &nts(),
            5,
            me,
            "dc1",
            Consistency::LocalQuorum,
            &dc1_only,
        )
        .unwrap();
        assert!(p.remote.is_empty());
        let e = plan(&r, &nts(), 5, me, "dc1", Consistency::EachQuorum, &dc1_only).unwrap_err();
        assert_eq!(
            e,
            QueryError::Unavailable {
                consistency: "EACH_QUORUM".into(),
                required: 2,
                alive: 0
            }
        );
        let e = plan(&r, &nts(), 5, me, "dc1", Consistency::Quorum, &dc1_only).unwrap_err();
        assert_eq!(
            e,
            QueryError::Unavailable {
                consistency: "QUORUM".into(),
                required: 4,
                alive: 3
            }
        );
    }

    #[test]
    fn acks_meet_levels() {
        let acks: BTreeMap<String, u32> = [("dc1".into(), 2), ("dc2".into(), 1)].into();
        let count = |n, dc: Option<&str>| BlockFor::Count {
            n,
            datacenter: dc.map(String::from),
        };
        assert!(satisfied(&count(3, None), &acks));
        assert!(satisfied(&count(2, Some("dc1")), &acks));
        assert!(!satisfied(&count(2, Some("dc2")), &acks));
        let each = BlockFor::PerDatacenter([("dc1".into(), 2), ("dc2".into(), 2)].into());
        assert!(!satisfied(&each, &acks));
    }
}
