//! The data path in the simulator: clients' writes, reads and lightweight
//! transactions, coordinated by the node's real rounds.
//!
//! Each node of the [`World`] keeps, on its simulated disk ([`Disk`]), one
//! table's partitions (merged with [`PartitionData::merge`], the storage's
//! own reconciliation), its Paxos state per partition
//! ([`crate::node::cluster::paxos::State`]) and the hints it keeps for
//! others. While it runs ([`Work`]) it coordinates requests with the
//! coordinator's state machines, the same code the real node drives:
//!
//! - a write: [`plan`] (placement, Unavailable), then a [`WriteRound`]
//!   (acknowledgements per datacenter, WriteTimeout, whom to hint);
//! - a read: [`targets`], a [`ReadRound`] (merge, ReadTimeout), then
//!   blocking read repair of the stale replicas;
//! - a lightweight transaction or a SERIAL read: a [`CasRound`], whose
//!   commits and quorum reads are write and read rounds of their own;
//! - hints: a [`Delivery`] pass at every gossip round, as the node's.
//!
//! Replicas answer the real internode messages (`Mutation` with its
//! forwarding, `ReadPartition`, `PaxosPrepare`, `PaxosPropose`). The ring
//! is built from each node's own gossip view ([`ring_of`]), liveness is its
//! failure detector's: a node that knows little coordinates with what it
//! knows, as the real one does.
//!
//! The register each key holds is one `bigint` cell, `v`, of a table with
//! one `int` partition key. Clients' operations and what they returned go
//! into [`World::history`] for the properties of `data_check`.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;

pub use super::state::{Answer, Disk, Kind, Op, Work};
use super::state::{CasJob, For, Pending, ReadJob, WriteJob};
use super::world::{Timer, World};
use crate::node::cluster::coordinator::cas_round::{CasRound, Effect};
use crate::node::cluster::coordinator::read_round::{ReadRound, Resolved, targets};
use crate::node::cluster::coordinator::write_round::{Reply, WritePlan, WriteRound, plan};
use crate::node::cluster::hints::delivery::{Delivery, Settings};
use crate::node::cluster::membership::ring_of;
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::paxos::Ballot;
use crate::node::db::consistency::{BlockFor, Consistency};
use crate::node::db::schema::Strategy;
use crate::node::db::storage::Mutation;
use crate::node::db::storage::cell::Cell;
use crate::node::db::storage::partition::{ColumnData, PartitionData, RowData};
use crate::node::error::QueryError;
use crate::node::locator::partitioner;

/// The one table's id.
pub const TABLE: [u8; 16] = [0xd; 16];
/// The coordinator's write and read timeouts (ms), Cassandra's defaults.
pub const WRITE_TIMEOUT_MS: u64 = 2000;
pub const READ_TIMEOUT_MS: u64 = 5000;

/// The keyspace: NetworkTopologyStrategy, three replicas in each datacenter.
pub fn strategy() -> Strategy {
    Strategy::NetworkTopology {
        datacenters: [("dc1".to_string(), 3), ("dc2".to_string(), 3)].into(),
    }
}

/// A partition key and its token.
pub fn key_of(k: u32) -> (i64, Vec<u8>) {
    let key = (k as i32).to_be_bytes().to_vec();
    (partitioner::token(&key), key)
}

/// A mutation setting `v` of key `k` to `value` at `ts`.
pub fn mutation(k: u32, value: i64, ts: i64) -> Mutation {
    let (token, key) = key_of(k);
    let cell = Cell::live(ts, value.to_be_bytes().to_vec());
    Mutation {
        table: TABLE,
        token,
        key,
        rows: vec![(
            Vec::new(),
            RowData {
                marker: Some(Cell::live(ts, Vec::new())),
                columns: [("v".to_string(), ColumnData::Simple(cell))].into(),
                ..Default::default()
            },
        )],
        ..Default::default()
    }
}

/// The register's cell in a partition: (timestamp, value).
pub fn cell_of(p: &PartitionData) -> Option<(i64, i64)> {
    p.rows
        .iter()
        .find(|(c, _)| c.is_empty())
        .and_then(|(_, r)| match r.columns.get("v")? {
            ColumnData::Simple(c) => {
                let v = c.value.as_deref()?;
                Some((c.timestamp, i64::from_be_bytes(v.try_into().ok()?)))
            }
            ColumnData::Complex { .. } => None,
        })
}

fn dc_name(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => format!("dc{}", v4.octets()[2]),
        IpAddr::V6(_) => String::new(),
    }
}

impl World {
    fn work(&mut self, node: IpAddr) -> Option<&mut Work> {
        self.nodes
            .get_mut(&node)?
            .running
            .as_mut()
            .map(|r| &mut r.work)
    }

    fn fresh_id(&mut self, node: IpAddr) -> u64 {
        let r = self.nodes.get_mut(&node).and_then(|n| n.running.as_mut());
        let r = r.expect("a running coordinator");
        r.next_id += 1;
        r.next_id
    }

    fn job_id(&mut self, node: IpAddr) -> u64 {
        let w = self.work(node).expect("a running coordinator");
        w.next_job += 1;
        w.next_job
    }

    fn send_to(&mut self, from: IpAddr, to: IpAddr, id: u64, body: Body) {
        self.send(
            to,
            Message {
                id,
                from,
                reply_to: from,
                body,
            },
        );
    }

    /// The node's view: its ring and whom it believes alive.
    fn view(&self, node: IpAddr) -> Option<(crate::node::locator::placement::Ring, Vec<IpAddr>)> {
        let g = &self.nodes.get(&node)?.running.as_ref()?.gossip;
        let alive = g
            .states()
            .map(|s| s.address)
            .filter(|a| *a == node || g.is_alive(a))
            .collect();
        Some((ring_of(g), alive))
    }

    /// A client sends `kind` on key `k` to `via`; returns the op's index.
    pub fn submit(&mut self, via: IpAddr, k: u32, kind: Kind) -> usize {
        self.clock_micros += 1;
        let ts = (self.now() as i64) * 1000 + (self.clock_micros % 1000) as i64;
        let op = self.history.len();
        self.history.push(Op {
            key: k,
            kind: kind.clone(),
            via,
            invoked: self.now(),
            ts,
            returned: None,
        });
        if !self.is_up(&via) {
            return op;
        }
        match kind {
            Kind::Write { value, cl } => {
                let m = mutation(k, value, ts);
                self.write(via, m, cl, "SIMPLE", None, For::Client(op));
            }
            Kind::Read { cl } => self.read(via, k, cl, For::Client(op)),
            Kind::Cas { .. } | Kind::SerialRead => self.start_cas(via, op, k),
        }
        op
    }

    fn finish(&mut self, op: usize, answer: Answer) {
        let now = self.now();
        if let Some(o) = self.history.get_mut(op)
            && o.returned.is_none()
        {
            o.returned = Some((now, answer));
        }
    }

    fn write(
        &mut self,
        node: IpAddr,
        m: Mutation,
        cl: Consistency,
        write_type: &'static str,
        commit: Option<Ballot>,
        purpose: For,
    ) {
        let Some((ring, alive)) = self.view(node) else {
            return;
        };
        let my_dc = dc_name(&node);
        let is_alive = |a: &IpAddr| alive.contains(a);
        let p: WritePlan = match plan(&ring, &strategy(), m.token, node, &my_dc, cl, &is_alive) {
            Ok(p) => p,
            Err(e) => return self.write_done(node, purpose, Err(e)),
        };
        let deadline = self.now() + WRITE_TIMEOUT_MS;
        let dc_of = |a: &IpAddr| ring.datacenter_of(a).unwrap_or("").to_string();
        let mut round = WriteRound::new(&p, cl, write_type, deadline, &dc_of);
        let bytes = m.encode();
        let id = self.fresh_id(node);
        let job = self.job_id(node);
        for (to, forward_to) in round.sends().to_vec() {
            let body = Body::Mutation {
                mutation: bytes.clone(),
                durable: true,
                forward_to,
                commit,
            };
            self.send_to(node, to, id, body);
        }
        let mut answers = Vec::new();
        if p.local {
            self.apply_local(node, &m, commit);
            answers.push(round.applied_locally(&my_dc));
        }
        let hosts: Vec<[u8; 16]> = p.down.iter().filter_map(|a| self.host_of(a)).collect();
        let now_micros = self.now() as i64 * 1000;
        let n = self.nodes.get_mut(&node).expect("a node");
        for h in &hosts {
            n.disk.hint(*h, now_micros, bytes.clone());
        }
        answers.push(round.hinted(hosts.len()));
        let w = self.work(node).expect("running");
        w.pending.insert(id, Pending::Write(job));
        w.writes.insert(
            job,
            WriteJob {
                round,
                bytes,
                purpose,
            },
        );
        self.set_timer(deadline, node, Timer::Deadline(job));
        for s in answers {
            self.write_step(node, job, s);
        }
    }

    fn host_of(&self, a: &IpAddr) -> Option<[u8; 16]> {
        self.nodes.get(a).map(|n| n.host_id)
    }

    fn apply_local(&mut self, node: IpAddr, m: &Mutation, commit: Option<Ballot>) {
        let n = self.nodes.get_mut(&node).expect("a node");
        n.disk.apply(m);
        if let Some(b) = commit {
            let st = n.disk.paxos.entry((m.token, m.key.clone())).or_default();
            st.commit(b, m.encode());
        }
    }

    fn write_step(
        &mut self,
        node: IpAddr,
        job: u64,
        step: crate::node::cluster::coordinator::write_round::Step,
    ) {
        let Some(w) = self.work(node) else {
            return;
        };
        let Some(j) = w.writes.get(&job) else {
            return;
        };
        let (purpose, bytes) = (j.purpose, j.bytes.clone());
        if step.done {
            w.writes.remove(&job);
        }
        if !step.hint.is_empty() {
            let hosts: Vec<[u8; 16]> = step.hint.iter().filter_map(|a| self.host_of(a)).collect();
            let now_micros = self.now() as i64 * 1000;
            let n = self.nodes.get_mut(&node).expect("a node");
            for h in hosts {
                n.disk.hint(h, now_micros, bytes.clone());
            }
        }
        if let Some(a) = step.answer {
            self.write_done(node, purpose, a);
        }
    }

    fn write_done(&mut self, node: IpAddr, purpose: For, r: Result<(), QueryError>) {
        match purpose {
            For::Client(op) => self.finish(
                op,
                match r {
                    Ok(()) => Answer::Written,
                    Err(e) => Answer::Failed(e),
                },
            ),
            For::Cas(cas) => {
                let micros = self.now() as i64 * 1000;
                let effects = self.with_cas(node, cas, |c| c.on_committed(r, micros));
                self.cas_effects(node, cas, effects);
            }
            For::Repair(read) => self.repaired(node, read),
        }
    }

    fn read(&mut self, node: IpAddr, k: u32, cl: Consistency, purpose: For) {
        let Some((ring, alive)) = self.view(node) else {
            return;
        };
        let (token, key) = key_of(k);
        let is_alive = |a: &IpAddr| alive.contains(a);
        let t = match targets(
            &ring,
            &strategy(),
            token,
            node,
            &dc_name(&node),
            cl,
            &is_alive,
        ) {
            Ok(t) => t,
            Err(e) => return self.read_done(node, purpose, Err(e)),
        };
        let deadline = self.now() + READ_TIMEOUT_MS;
        let mut round = ReadRound::new(TABLE, cl, t.clone(), deadline);
        let id = self.fresh_id(node);
        let job = self.job_id(node);
        for to in t.iter().filter(|a| **a != node) {
            let body = Body::ReadPartition {
                table: TABLE,
                token,
                key: key.clone(),
            };
            self.send_to(node, *to, id, body);
        }
        let mut resolved = None;
        if t.contains(&node) {
            let local = self.nodes[&node].disk.read(token, &key);
            resolved = round.step(node, local);
        }
        let w = self.work(node).expect("running");
        w.pending.insert(id, Pending::Read(job));
        w.reads.insert(
            job,
            ReadJob {
                round,
                purpose,
                repairing: None,
            },
        );
        self.set_timer(deadline, node, Timer::Deadline(job));
        if let Some(r) = resolved {
            self.resolved(node, job, r);
        }
    }

    /// A read resolved: repair the stale replicas first (blocking read repair).
    fn resolved(&mut self, node: IpAddr, job: u64, r: Resolved) {
        let stale = r.stale.clone();
        let merged = r.merged.clone();
        match (merged, stale.is_empty()) {
            (Some(m), false) => {
                let w = self.work(node).expect("running");
                if let Some(j) = w.reads.get_mut(&job) {
                    j.repairing = Some((r, stale.len()));
                }
                let m = m.into_mutation(TABLE);
                for s in stale {
                    // Each stale replica gets its own write of the merged version.
                    self.repair_one(node, s, &m, job);
                }
            }
            _ => self.read_answer(node, job, r),
        }
    }

    fn repair_one(&mut self, node: IpAddr, to: IpAddr, m: &Mutation, read: u64) {
        let dc = dc_name(&to);
        let p = WritePlan {
            local: to == node,
            same_dc: if to == node { vec![] } else { vec![to] },
            remote: Vec::new(),
            down: Vec::new(),
            block_for: BlockFor::Count {
                n: 1,
                datacenter: None,
            },
        };
        let deadline = self.now() + WRITE_TIMEOUT_MS;
        let mut round = WriteRound::new(&p, Consistency::One, "SIMPLE", deadline, &|_| dc.clone());
        let id = self.fresh_id(node);
        let job = self.job_id(node);
        let bytes = m.encode();
        if to != node {
            let body = Body::Mutation {
                mutation: bytes.clone(),
                durable: true,
                forward_to: Vec::new(),
                commit: None,
            };
            self.send_to(node, to, id, body);
        }
        let mut first = None;
        if to == node {
            self.apply_local(node, m, None);
            first = Some(round.applied_locally(&dc));
        }
        let w = self.work(node).expect("running");
        w.pending.insert(id, Pending::Write(job));
        w.writes.insert(
            job,
            WriteJob {
                round,
                bytes,
                purpose: For::Repair(read),
            },
        );
        self.set_timer(deadline, node, Timer::Deadline(job));
        if let Some(s) = first {
            self.write_step(node, job, s);
        }
    }

    fn repaired(&mut self, node: IpAddr, read: u64) {
        let Some(w) = self.work(node) else {
            return;
        };
        let Some(j) = w.reads.get_mut(&read) else {
            return;
        };
        let Some((_, left)) = j.repairing.as_mut() else {
            return;
        };
        *left -= 1;
        if *left == 0 {
            let (r, _) = j.repairing.take().expect("repairing");
            self.read_answer(node, read, r);
        }
    }

    fn read_answer(&mut self, node: IpAddr, job: u64, r: Resolved) {
        let Some(j) = self.work(node).and_then(|w| w.reads.remove(&job)) else {
            return;
        };
        let out = match r.error {
            Some(e) => Err(e),
            None => Ok(r.merged),
        };
        self.read_done(node, j.purpose, out);
    }

    fn read_done(
        &mut self,
        node: IpAddr,
        purpose: For,
        r: Result<Option<PartitionData>, QueryError>,
    ) {
        match purpose {
            For::Client(op) => self.finish(
                op,
                match r {
                    Ok(p) => Answer::Read(p.as_ref().and_then(cell_of)),
                    Err(e) => Answer::Failed(e),
                },
            ),
            For::Cas(cas) => {
                let effects = self.with_cas(node, cas, |c| c.on_read(r));
                self.cas_effects(node, cas, effects);
            }
            For::Repair(_) => {}
        }
    }

    fn start_cas(&mut self, node: IpAddr, op: usize, k: u32) {
        let Some((ring, alive)) = self.view(node) else {
            return;
        };
        let (token, _) = key_of(k);
        let participants = ring.replicas(&strategy(), token);
        let need = participants.len() / 2 + 1;
        let live: Vec<IpAddr> = participants
            .into_iter()
            .filter(|a| *a == node || alive.contains(a))
            .collect();
        if live.len() < need {
            let e = QueryError::Unavailable {
                consistency: "SERIAL".into(),
                required: need as i32,
                alive: live.len() as i32,
            };
            return self.finish(op, Answer::Failed(e));
        }
        let host = self.nodes[&node].host_id;
        let deadline = self.now() + WRITE_TIMEOUT_MS;
        let mut round = CasRound::new(
            live,
            need,
            Consistency::Serial,
            Consistency::Quorum,
            host,
            deadline,
        );
        let effects = round.start(self.now() as i64 * 1000);
        let job = self.job_id(node);
        let w = self.work(node).expect("running");
        w.cas.insert(
            job,
            CasJob {
                round,
                op,
                key: k,
                answer: None,
            },
        );
        self.set_timer(deadline, node, Timer::Deadline(job));
        self.cas_effects(node, job, effects);
    }

    fn with_cas(
        &mut self,
        node: IpAddr,
        job: u64,
        f: impl FnOnce(&mut CasRound) -> Vec<Effect>,
    ) -> Vec<Effect> {
        match self.work(node).and_then(|w| w.cas.get_mut(&job)) {
            Some(j) => f(&mut j.round),
            None => Vec::new(),
        }
    }

    fn cas_effects(&mut self, node: IpAddr, job: u64, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(e) = queue.pop_front() {
            let Some(j) = self.work(node).and_then(|w| w.cas.get(&job)) else {
                return;
            };
            let (op, k) = (j.op, j.key);
            let (token, key) = key_of(k);
            let micros = self.now() as i64 * 1000;
            let more = match e {
                Effect::Prepare { ballot, to } => {
                    let body = Body::PaxosPrepare {
                        table: TABLE,
                        token,
                        key,
                        ballot,
                    };
                    self.cas_send(node, job, ballot, to, body);
                    Vec::new()
                }
                Effect::Propose { ballot, update, to } => {
                    let body = Body::PaxosPropose {
                        table: TABLE,
                        token,
                        key,
                        ballot,
                        update,
                    };
                    self.cas_send(node, job, ballot, to, body);
                    Vec::new()
                }
                Effect::Propagate { ballot, update, to } => {
                    let body = Body::Mutation {
                        mutation: update,
                        durable: true,
                        forward_to: Vec::new(),
                        commit: Some(ballot),
                    };
                    self.cas_send(node, job, ballot, to, body);
                    Vec::new()
                }
                Effect::Commit {
                    ballot,
                    update,
                    consistency,
                    write_type,
                } => {
                    match Mutation::decode(&update) {
                        Ok(m) => self.write(
                            node,
                            m,
                            consistency,
                            write_type,
                            Some(ballot),
                            For::Cas(job),
                        ),
                        Err(e) => {
                            let e = QueryError::Server(e.to_string());
                            let effects =
                                self.with_cas(node, job, |c| c.on_committed(Err(e), micros));
                            queue.extend(effects);
                        }
                    }
                    Vec::new()
                }
                Effect::Read { consistency } => {
                    self.read(node, k, consistency, For::Cas(job));
                    Vec::new()
                }
                Effect::Decide { current, micros } => {
                    let cur = current.as_ref().and_then(cell_of).map(|(_, v)| v);
                    let kind = self.history[op].kind.clone();
                    let (update, answer) = match kind {
                        Kind::Cas { expect, new } if cur == expect => (
                            Some(mutation(k, new, micros).encode()),
                            Answer::Cas {
                                applied: true,
                                current: cur,
                            },
                        ),
                        Kind::Cas { .. } => (
                            None,
                            Answer::Cas {
                                applied: false,
                                current: cur,
                            },
                        ),
                        _ => (None, Answer::Read(current.as_ref().and_then(cell_of))),
                    };
                    if let Some(j) = self.work(node).and_then(|w| w.cas.get_mut(&job)) {
                        j.answer = Some(answer);
                    }
                    self.with_cas(node, job, |c| c.on_decided(update))
                }
                Effect::Pause => {
                    let pause = self.rng.below(100);
                    self.set_timer(self.now() + pause, node, Timer::Pause(job));
                    Vec::new()
                }
                Effect::Done(r) => {
                    let j = self.work(node).and_then(|w| w.cas.remove(&job));
                    let answer = match (r, j.and_then(|j| j.answer)) {
                        (Ok(()), Some(a)) => a,
                        (Ok(()), None) => Answer::Failed(QueryError::Server("no decision".into())),
                        (Err(e), _) => Answer::Failed(e),
                    };
                    self.finish(op, answer);
                    Vec::new()
                }
            };
            queue.extend(more);
        }
    }

    /// Sends a Paxos round's request to `to`; the coordinator, when it is
    /// one of them, answers itself as a replica, through the same handler.
    fn cas_send(&mut self, node: IpAddr, job: u64, ballot: Ballot, to: Vec<IpAddr>, body: Body) {
        let id = self.fresh_id(node);
        let w = self.work(node).expect("running");
        w.pending.insert(id, Pending::Cas(job, ballot));
        let mut mine = false;
        for t in to {
            if t == node {
                mine = true;
            } else {
                self.send_to(node, t, id, body.clone());
            }
        }
        let me = Message {
            id,
            from: node,
            reply_to: node,
            body,
        };
        if mine && let Some(reply) = self.handle_data(node, me) {
            self.answer(node, id, node, reply);
        }
    }

    /// A data message arrived at `node` (a replica's request, or an answer
    /// to one of its rounds).
    pub(super) fn handle_data(&mut self, node: IpAddr, msg: Message) -> Option<Body> {
        let Message {
            id,
            from,
            reply_to,
            body,
        } = msg;
        match body {
            Body::Mutation {
                mutation,
                durable,
                forward_to,
                commit,
            } => {
                for f in &forward_to {
                    let body = Body::Mutation {
                        mutation: mutation.clone(),
                        durable,
                        forward_to: Vec::new(),
                        commit,
                    };
                    self.send(
                        *f,
                        Message {
                            id,
                            from: node,
                            reply_to,
                            body,
                        },
                    );
                }
                match Mutation::decode(&mutation) {
                    Ok(m) => {
                        self.apply_local(node, &m, commit);
                        Some(Body::MutationAck)
                    }
                    Err(e) => Some(Body::MutationFailed(e.to_string())),
                }
            }
            Body::ReadPartition {
                table: _,
                token,
                key,
            } => {
                let p = self.nodes.get(&node)?.disk.read(token, &key);
                Some(Body::Partition(p.map(|p| p.into_mutation(TABLE).encode())))
            }
            Body::PaxosPrepare {
                token, key, ballot, ..
            } => {
                let n = self.nodes.get_mut(&node)?;
                Some(Body::PaxosPromise(
                    n.disk
                        .paxos
                        .entry((token, key))
                        .or_default()
                        .prepare(ballot),
                ))
            }
            Body::PaxosPropose {
                token,
                key,
                ballot,
                update,
                ..
            } => {
                let n = self.nodes.get_mut(&node)?;
                Some(Body::PaxosAccepted(
                    n.disk
                        .paxos
                        .entry((token, key))
                        .or_default()
                        .propose(ballot, update),
                ))
            }
            answer => {
                self.answer(node, id, from, answer);
                None
            }
        }
    }

    /// An answer to one of `node`'s requests.
    fn answer(&mut self, node: IpAddr, id: u64, from: IpAddr, body: Body) {
        let Some(p) = self.work(node).and_then(|w| w.pending.get(&id).copied()) else {
            return;
        };
        let micros = self.now() as i64 * 1000;
        match (p, body) {
            (Pending::Write(job), Body::MutationAck) => {
                let s = self
                    .work(node)
                    .and_then(|w| w.writes.get_mut(&job))
                    .map(|j| j.round.step(from, Reply::Ack));
                if let Some(s) = s {
                    self.write_step(node, job, s);
                }
            }
            (Pending::Write(job), Body::MutationFailed(e)) => {
                let s = self
                    .work(node)
                    .and_then(|w| w.writes.get_mut(&job))
                    .map(|j| j.round.step(from, Reply::Failed(e)));
                if let Some(s) = s {
                    self.write_step(node, job, s);
                }
            }
            (Pending::Read(job), Body::Partition(b)) => {
                let version = match b {
                    None => None,
                    Some(b) => match Mutation::decode(&b) {
                        Ok(m) => Some(PartitionData::from_mutation(m)),
                        Err(_) => return,
                    },
                };
                let r = self
                    .work(node)
                    .and_then(|w| w.reads.get_mut(&job))
                    .and_then(|j| j.round.step(from, version));
                if let Some(r) = r {
                    self.resolved(node, job, r);
                }
            }
            (Pending::Cas(job, ballot), Body::PaxosPromise(p)) => {
                let e = self.with_cas(node, job, |c| c.on_promise(from, ballot, p));
                self.cas_effects(node, job, e);
            }
            (Pending::Cas(job, ballot), Body::PaxosAccepted(ok)) => {
                let e = self.with_cas(node, job, |c| c.on_accepted(from, ballot, ok));
                self.cas_effects(node, job, e);
            }
            (Pending::Cas(job, _), Body::MutationAck) => {
                let e = self.with_cas(node, job, |c| c.on_propagated(from, micros));
                self.cas_effects(node, job, e);
            }
            (Pending::Hint(..), Body::MutationAck) => {
                self.hint_answered(node, id, true);
                self.replay_hints(node);
            }
            _ => {}
        }
    }

    /// A deadline or pause timer of one of `node`'s jobs.
    pub(super) fn fire_data(&mut self, node: IpAddr, timer: Timer) {
        let now = self.now();
        match timer {
            Timer::Deadline(job) => {
                let w = self
                    .work(node)
                    .and_then(|w| w.writes.get_mut(&job))
                    .map(|j| j.round.tick(now));
                if let Some(s) = w {
                    self.write_step(node, job, s);
                }
                let r = self
                    .work(node)
                    .and_then(|w| w.reads.get_mut(&job))
                    .and_then(|j| j.round.tick(now));
                if let Some(r) = r {
                    self.resolved(node, job, r);
                } else if let Some((r, _)) = self
                    .work(node)
                    .and_then(|w| w.reads.get_mut(&job))
                    .and_then(|j| j.repairing.take())
                {
                    // Repairs past their time: answer with what was read.
                    self.read_answer(node, job, r);
                }
                let e = self.with_cas(node, job, |c| c.tick(now));
                self.cas_effects(node, job, e);
            }
            Timer::Pause(job) => {
                let micros = now as i64 * 1000;
                let e = self.with_cas(node, job, |c| c.on_paused(micros));
                self.cas_effects(node, job, e);
            }
            Timer::HintTimeout(id) => self.hint_answered(node, id, false),
            Timer::Gossip => {}
        }
    }

    /// The hint sent as message `id` was acknowledged, or not in time: its
    /// pass learns it once (a late answer after the timeout, or an answer
    /// of an earlier pass, changes nothing); a delivered hint is deleted.
    fn hint_answered(&mut self, node: IpAddr, id: u64, delivered: bool) {
        let Some(w) = self.work(node) else {
            return;
        };
        let Some(Pending::Hint(pass, sent)) = w.pending.get(&id).copied() else {
            return;
        };
        w.pending.remove(&id);
        if pass != w.hint_pass {
            return;
        }
        let done = w.hints.as_mut().and_then(|d| d.step(sent, delivered));
        if let Some(h) = done {
            let n = self.nodes.get_mut(&node).expect("node");
            n.disk.hints.retain(|x| x.key != h.key);
        }
    }

    /// `Core::replay_hints`, at each gossip round: a delivery pass over
    /// the hints kept, when none is under way.
    pub(super) fn replay_hints(&mut self, node: IpAddr) {
        let now = self.now();
        let Some(n) = self.nodes.get(&node) else {
            return;
        };
        let Some(r) = n.running.as_ref() else {
            return;
        };
        let g = &r.gossip;
        let by_host: BTreeMap<[u8; 16], IpAddr> =
            g.states().map(|s| (s.app.host_id, s.address)).collect();
        let reachable: BTreeMap<[u8; 16], bool> =
            by_host.iter().map(|(h, a)| (*h, g.is_alive(a))).collect();
        let pass_over = r.work.hints.as_ref().is_none_or(|d| d.in_flight() == 0);
        if pass_over {
            let hints = n.disk.hints.clone();
            let peers = by_host.len().saturating_sub(1);
            let w = self.work(node).expect("running");
            w.hint_pass += 1;
            w.hints =
                (!hints.is_empty()).then(|| Delivery::new(hints, Settings::cassandra(peers), now));
        }
        let pump = match self.work(node).and_then(|w| w.hints.as_mut()) {
            Some(d) => d.pump(now, &|h| reachable.get(h).copied().unwrap_or(false)),
            None => return,
        };
        for s in pump.sends {
            let Some(to) = by_host.get(&s.hint.host).copied() else {
                continue;
            };
            let id = self.fresh_id(node);
            let w = self.work(node).expect("running");
            let pass = w.hint_pass;
            w.pending.insert(id, Pending::Hint(pass, s.id));
            // The transport's request timeout: no answer counts as a failure.
            self.set_timer(now + 2000, node, Timer::HintTimeout(id));
            let body = Body::Mutation {
                mutation: s.hint.mutation,
                durable: true,
                forward_to: Vec::new(),
                commit: None,
            };
            self.send_to(node, to, id, body);
        }
    }
}

#[cfg(test)]
mod tests;
