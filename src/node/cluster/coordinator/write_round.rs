//! One write at the coordinator, with no I/O: where it goes ([`plan`]) and
//! its round, a state machine.
//!
//! [`plan`] finds the replicas on the ring (the keyspace's strategy) and
//! checks that enough are up for the consistency level (Unavailable
//! otherwise, before anything is sent); [`satisfied`] says whether the
//! acknowledgements, counted per datacenter, meet the level.
//!
//! A [`WriteRound`] is made from a [`WritePlan`] (where the mutation goes)
//! and a deadline on a clock the caller gives in milliseconds. The caller
//! sends the mutation to [`WriteRound::sends`], applies it locally if the
//! plan says so and tells the round ([`WriteRound::applied_locally`]), then
//! feeds it every replica's answer ([`WriteRound::step`]) and the passing of
//! time ([`WriteRound::tick`]). Each call returns a [`Step`]:
//!
//! - `answer`, once: `Ok` as soon as the acknowledgements meet the
//!   consistency level (counted per datacenter, see [`satisfied`]), or
//!   Cassandra's WriteTimeout at the deadline with the acknowledgements
//!   that counted;
//! - `hint`, once, when the round is over: the replicas that were sent the
//!   mutation and never acknowledged it by the deadline. Cassandra keeps a
//!   hint for each of them (replicas known down when the write started got
//!   theirs from the plan, [`WritePlan::down`]);
//! - `done`: nothing more will happen; the caller may forget the round.
//!
//! The round keeps going after it has answered: a LOCAL_QUORUM write
//! answers after two acknowledgements of its datacenter and still waits
//! for the other replicas, until the deadline, to know whom to hint.
//!
//! The real coordinator ([`super::write`]) drives rounds over the internode
//! transport; the deterministic simulator drives the same rounds over its
//! simulated network and clock.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

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

/// A replica's answer to a mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ack,
    Failed(String),
}

/// What a call to a round produced.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Step {
    /// The client's answer, given once.
    pub answer: Option<Result<(), QueryError>>,
    /// Replicas to keep hints for, given once when the round ends.
    pub hint: Vec<IpAddr>,
    /// The round is over.
    pub done: bool,
}

/// One mutation's write in flight at its coordinator.
#[derive(Debug, Clone)]
pub struct WriteRound {
    block_for: BlockFor,
    consistency: Consistency,
    write_type: &'static str,
    acks: BTreeMap<String, u32>,
    /// Replicas sent to that have not answered, with their datacenter.
    waiting: BTreeMap<IpAddr, String>,
    failed: BTreeSet<IpAddr>,
    sends: Vec<(IpAddr, Vec<IpAddr>)>,
    deadline: u64,
    answered: bool,
    done: bool,
}

impl WriteRound {
    /// A round for `plan`, answering by `deadline` (ms on the caller's
    /// clock). `dc_of` names each replica's datacenter.
    pub fn new(
        plan: &WritePlan,
        consistency: Consistency,
        write_type: &'static str,
        deadline: u64,
        dc_of: &dyn Fn(&IpAddr) -> String,
    ) -> WriteRound {
        let mut waiting = BTreeMap::new();
        let mut sends = Vec::with_capacity(plan.same_dc.len() + plan.remote.len());
        for n in &plan.same_dc {
            waiting.insert(*n, dc_of(n));
            sends.push((*n, Vec::new()));
        }
        for (first, rest) in &plan.remote {
            waiting.insert(*first, dc_of(first));
            for r in rest {
                waiting.insert(*r, dc_of(r));
            }
            sends.push((*first, rest.clone()));
        }
        WriteRound {
            block_for: plan.block_for.clone(),
            consistency,
            write_type,
            acks: BTreeMap::new(),
            waiting,
            failed: BTreeSet::new(),
            sends,
            deadline,
            answered: false,
            done: false,
        }
    }

    /// Where to send the mutation: each target with the replicas it
    /// forwards to (a remote datacenter's forwarder), in the plan's order.
    pub fn sends(&self) -> &[(IpAddr, Vec<IpAddr>)] {
        &self.sends
    }

    /// Whether any replica other than the coordinator was sent the mutation.
    pub fn expects_replies(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// The coordinator applied the mutation as a replica of `dc`.
    pub fn applied_locally(&mut self, dc: &str) -> Step {
        *self.acks.entry(dc.to_string()).or_default() += 1;
        self.progress()
    }

    /// `n` hints were stored for replicas that are down: they count for ANY only.
    pub fn hinted(&mut self, n: usize) -> Step {
        if self.consistency == Consistency::Any && n > 0 {
            *self.acks.entry(String::new()).or_default() += n as u32;
        }
        self.progress()
    }

    /// A replica's answer. Answers from replicas the round is not waiting
    /// for (duplicates, strangers) change nothing.
    pub fn step(&mut self, from: IpAddr, reply: Reply) -> Step {
        let Some(dc) = self.waiting.remove(&from) else {
            return Step::default();
        };
        match reply {
            Reply::Ack => *self.acks.entry(dc).or_default() += 1,
            // A failed replica is not hinted: it answered, and its failure
            // (a full disk, a bad mutation) would fail the hint too.
            Reply::Failed(_) => {
                self.failed.insert(from);
            }
        }
        self.progress()
    }

    /// The clock moved to `now`: past the deadline, a round not yet
    /// answered times out, and the silent replicas are to be hinted.
    pub fn tick(&mut self, now: u64) -> Step {
        if self.done || now < self.deadline {
            return Step::default();
        }
        let mut step = Step::default();
        if !self.answered {
            self.answered = true;
            step.answer = Some(Err(self.timeout()));
        }
        self.done = true;
        step.done = true;
        step.hint = std::mem::take(&mut self.waiting).into_keys().collect();
        step
    }

    /// The deadline, for a driver that sleeps until it.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    pub fn is_answered(&self) -> bool {
        self.answered
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The WriteTimeout this round answers at its deadline.
    fn timeout(&self) -> QueryError {
        QueryError::WriteTimeout {
            consistency: self.consistency.to_string(),
            received: counted(&self.block_for, &self.acks) as i32,
            block_for: self.block_for.total() as i32,
            write_type: self.write_type.into(),
        }
    }

    fn progress(&mut self) -> Step {
        let mut step = Step::default();
        if self.done {
            return step;
        }
        if !self.answered && satisfied(&self.block_for, &self.acks) {
            self.answered = true;
            step.answer = Some(Ok(()));
        }
        if self.answered && self.waiting.is_empty() {
            self.done = true;
            step.done = true;
        }
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cluster::coordinator::testing::{ip, nts, ring};

    fn dc_of(a: &IpAddr) -> String {
        match a {
            IpAddr::V4(v4) => format!("dc{}", v4.octets()[2]),
            IpAddr::V6(_) => String::new(),
        }
    }

    /// The plan of a write coordinated by 127.0.1.1 to RF 3 + 3, all up.
    fn all_up_plan(block_for: BlockFor) -> WritePlan {
        WritePlan {
            local: true,
            same_dc: vec![ip(1, 2), ip(1, 3)],
            remote: vec![(ip(2, 1), vec![ip(2, 2), ip(2, 3)])],
            down: Vec::new(),
            block_for,
        }
    }

    fn local_quorum() -> BlockFor {
        BlockFor::Count {
            n: 2,
            datacenter: Some("dc1".into()),
        }
    }

    fn round(bf: BlockFor, cl: Consistency) -> WriteRound {
        WriteRound::new(&all_up_plan(bf), cl, "SIMPLE", 2000, &dc_of)
    }

    #[test]
    fn sends_one_copy_per_remote_datacenter() {
        let r = round(local_quorum(), Consistency::LocalQuorum);
        assert_eq!(
            r.sends(),
            &[
                (ip(1, 2), vec![]),
                (ip(1, 3), vec![]),
                (ip(2, 1), vec![ip(2, 2), ip(2, 3)])
            ]
        );
        assert!(r.expects_replies());
    }

    #[test]
    fn local_quorum_answers_on_the_second_local_ack_and_waits_for_the_rest() {
        let mut r = round(local_quorum(), Consistency::LocalQuorum);
        assert_eq!(r.applied_locally("dc1"), Step::default());
        // A remote ack does not count for LOCAL_QUORUM.
        assert_eq!(r.step(ip(2, 1), Reply::Ack), Step::default());
        let s = r.step(ip(1, 3), Reply::Ack);
        assert_eq!(s.answer, Some(Ok(())));
        assert!(!s.done, "still waiting for three replicas");
        for a in [ip(1, 2), ip(2, 2)] {
            assert_eq!(r.step(a, Reply::Ack), Step::default());
        }
        let s = r.step(ip(2, 3), Reply::Ack);
        assert_eq!((s.answer, s.done, s.hint), (None, true, vec![]));
        // Nothing after the end, not even the deadline.
        assert_eq!(r.tick(5000), Step::default());
    }

    #[test]
    fn times_out_with_the_acks_that_counted_and_hints_the_silent() {
        let mut r = round(local_quorum(), Consistency::LocalQuorum);
        r.applied_locally("dc1");
        r.step(ip(2, 1), Reply::Ack);
        r.step(ip(2, 2), Reply::Ack);
        assert_eq!(r.tick(1999), Step::default());
        let s = r.tick(2000);
        assert_eq!(
            s.answer,
            Some(Err(QueryError::WriteTimeout {
                consistency: "LOCAL_QUORUM".into(),
                received: 1,
                block_for: 2,
                write_type: "SIMPLE".into(),
            }))
        );
        assert!(s.done);
        assert_eq!(s.hint, vec![ip(1, 2), ip(1, 3), ip(2, 3)]);
    }

    #[test]
    fn answered_rounds_hint_only_at_the_deadline() {
        let mut r = round(local_quorum(), Consistency::LocalQuorum);
        r.applied_locally("dc1");
        assert_eq!(r.step(ip(1, 2), Reply::Ack).answer, Some(Ok(())));
        let s = r.tick(2500);
        assert_eq!(s.answer, None, "answered once only");
        assert_eq!(s.hint, vec![ip(1, 3), ip(2, 1), ip(2, 2), ip(2, 3)]);
    }

    #[test]
    fn duplicates_strangers_and_failures_do_not_count() {
        let mut r = round(local_quorum(), Consistency::LocalQuorum);
        r.applied_locally("dc1");
        assert_eq!(r.step(ip(9, 9), Reply::Ack), Step::default());
        assert_eq!(
            r.step(ip(1, 2), Reply::Failed("disk".into())),
            Step::default()
        );
        // The failed replica's later ack (a duplicate) changes nothing.
        assert_eq!(r.step(ip(1, 2), Reply::Ack), Step::default());
        let s = r.tick(2000);
        assert!(matches!(
            s.answer,
            Some(Err(QueryError::WriteTimeout { received: 1, .. }))
        ));
        assert!(
            !s.hint.contains(&ip(1, 2)),
            "a failed replica is not hinted"
        );
    }

    #[test]
    fn each_quorum_needs_both_datacenters() {
        let each = BlockFor::PerDatacenter([("dc1".into(), 2), ("dc2".into(), 2)].into());
        let mut r = round(each, Consistency::EachQuorum);
        r.applied_locally("dc1");
        r.step(ip(1, 2), Reply::Ack);
        assert_eq!(r.step(ip(2, 1), Reply::Ack).answer, None);
        assert_eq!(r.step(ip(2, 3), Reply::Ack).answer, Some(Ok(())));
    }

    #[test]
    fn any_is_met_by_a_hint_and_one_by_the_local_apply() {
        let any = BlockFor::Count {
            n: 1,
            datacenter: None,
        };
        let mut p = all_up_plan(any.clone());
        p.local = false;
        p.same_dc.clear();
        p.remote.clear();
        p.down = vec![ip(1, 1)];
        let mut r = WriteRound::new(&p, Consistency::Any, "SIMPLE", 10, &dc_of);
        assert!(!r.expects_replies());
        let s = r.hinted(1);
        assert_eq!((s.answer, s.done), (Some(Ok(())), true));
        // A hint does not meet ONE.
        let mut r = WriteRound::new(&p, Consistency::One, "SIMPLE", 10, &dc_of);
        assert_eq!(r.hinted(1).answer, None);
        let mut r = round(any, Consistency::One);
        assert_eq!(r.applied_locally("dc1").answer, Some(Ok(())));
    }

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
