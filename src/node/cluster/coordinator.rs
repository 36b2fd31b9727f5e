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
//! the level needs ([`satisfied`]) until the write timeout (WriteTimeout).
//! Replicas that are down get nothing yet: hinted handoff is the next step.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::node::cluster::member::Core;
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::paxos::{AfterPrepare, Ballot, Promise, after_prepare};
use crate::node::cql::exec::{Decide, Replicator, Result, Write};
use crate::node::db::consistency::{BlockFor, Consistency, check_available};
use crate::node::db::read::Gathered;
use crate::node::db::schema::Strategy;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;
use crate::node::locator::placement::Ring;
use crate::node::transport::protocol::frame::ResultBody;

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
fn counted(bf: &BlockFor, acks: &BTreeMap<String, u32>) -> u32 {
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

pub struct Coordinator {
    /// Weak: the engine holds the coordinator, and the core holds the engine.
    pub core: std::sync::Weak<Core>,
    pub runtime: tokio::runtime::Handle,
    pub write_timeout: Duration,
    pub read_timeout: Duration,
}

/// A partition's content in a canonical byte form (rows and range
/// tombstones sorted), to tell whether two replicas hold the same version.
fn canonical(mut p: PartitionData, table: [u8; 16]) -> Vec<u8> {
    p.rows.sort_by(|a, b| a.0.cmp(&b.0));
    p.range_tombstones
        .sort_by_key(|r| format!("{:?}", (&r.start, &r.end, r.deletion)));
    p.into_mutation(table).encode()
}

/// A write in flight: its plan, and the acks received so far.
struct InFlight {
    id: u64,
    plan: WritePlan,
    acks: BTreeMap<String, u32>,
    rx: tokio::sync::mpsc::UnboundedReceiver<Message>,
    /// Replicas sent to that have not answered yet.
    waiting: std::collections::BTreeSet<IpAddr>,
    bytes: Vec<u8>,
    durable: bool,
}

impl Coordinator {
    fn core(&self) -> Result<Arc<Core>> {
        self.core
            .upgrade()
            .ok_or_else(|| QueryError::Server("the node is shutting down".into()))
    }

    /// Plans every mutation (Unavailable before anything is sent), sends to
    /// the other replicas, applies locally on this (blocking) thread, and
    /// waits on the network only for acks still missing.
    fn write_sync(
        &self,
        writes: &[Write],
        cl: Consistency,
        write_type: &str,
        commit: Option<Ballot>,
    ) -> Result<()> {
        let core = self.core()?;
        let schema = core.engine().schema();
        let ring = core.ring();
        let t = core.transport().clone();
        let me = t.me();
        let my_dc = core.engine().datacenter();
        let alive = |a: &IpAddr| core.is_alive(a);
        let mut plans = Vec::with_capacity(writes.len());
        for w in writes {
            let strategy = schema
                .keyspace(&w.2)
                .map(|k| k.meta.strategy.clone())
                .ok_or_else(|| QueryError::Invalid(format!("Keyspace '{}' does not exist", w.2)))?;
            plans.push(plan(&ring, &strategy, w.0.token, me, &my_dc, cl, &alive)?);
        }
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
            let mut waiting = std::collections::BTreeSet::new();
            waiting.extend(plan.same_dc.iter().copied());
            for (first, rest) in &plan.remote {
                waiting.insert(*first);
                waiting.extend(rest.iter().copied());
            }
            let rx = if waiting.is_empty() {
                tokio::sync::mpsc::unbounded_channel().1
            } else {
                t.expect(id)
            };
            let msg = |forward_to: Vec<IpAddr>| Message {
                id,
                from: me,
                reply_to: me,
                body: Body::Mutation {
                    mutation: bytes.clone(),
                    durable: w.1,
                    forward_to,
                    commit,
                },
            };
            for n in &plan.same_dc {
                t.send(*n, &msg(Vec::new()));
            }
            for (first, rest) in &plan.remote {
                t.send(*first, &msg(rest.clone()));
            }
            let mut acks = BTreeMap::new();
            if plan.local {
                core.apply_commit(&w.0, w.1, commit)?;
                *acks.entry(my_dc.clone()).or_default() += 1;
            }
            let hinted = core.store_hints(&plan.down, &bytes, w.1);
            if cl == Consistency::Any && hinted > 0 {
                // ANY is met by a stored hint.
                *acks.entry(String::new()).or_default() += hinted as u32;
            }
            flights.push(InFlight {
                id,
                plan,
                acks,
                rx,
                waiting,
                bytes,
                durable: w.1,
            });
        }
        let timeout = self.write_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let all_met = flights
            .iter()
            .all(|f| satisfied(&f.plan.block_for, &f.acks));
        let result = if all_met {
            Ok(())
        } else {
            self.runtime.block_on(async {
                for f in flights.iter_mut() {
                    while !satisfied(&f.plan.block_for, &f.acks) {
                        match tokio::time::timeout_at(deadline, f.rx.recv()).await {
                            Ok(Some(m)) => match m.body {
                                Body::MutationAck => {
                                    f.waiting.remove(&m.from);
                                    let dc = ring.datacenter_of(&m.from).unwrap_or("").to_string();
                                    *f.acks.entry(dc).or_default() += 1;
                                }
                                Body::MutationFailed(e) => {
                                    tracing::warn!("replica {} failed a write: {e}", m.from);
                                }
                                _ => {}
                            },
                            _ => {
                                return Err(QueryError::WriteTimeout {
                                    consistency: cl.to_string(),
                                    received: counted(&f.plan.block_for, &f.acks) as i32,
                                    block_for: f.plan.block_for.total() as i32,
                                    write_type: write_type.into(),
                                });
                            }
                        }
                    }
                }
                Ok(())
            })
        };
        // Replicas that have not answered yet: wait for them in the
        // background until the timeout, then keep hints for the silent ones.
        for mut f in flights {
            if f.waiting.is_empty() {
                t.forget(f.id);
                continue;
            }
            let (t, core) = (t.clone(), core.clone());
            self.runtime.spawn(async move {
                while !f.waiting.is_empty() {
                    match tokio::time::timeout_at(deadline, f.rx.recv()).await {
                        Ok(Some(m)) if matches!(m.body, Body::MutationAck) => {
                            f.waiting.remove(&m.from);
                        }
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
                t.forget(f.id);
                if !f.waiting.is_empty() {
                    let silent: Vec<IpAddr> = f.waiting.into_iter().collect();
                    let _ = tokio::task::spawn_blocking(move || {
                        core.store_hints(&silent, &f.bytes, f.durable)
                    })
                    .await;
                }
            });
        }
        result
    }
}

impl Coordinator {
    fn strategy(&self, keyspace: &str) -> Result<Strategy> {
        self.core()?
            .engine()
            .schema()
            .keyspace(keyspace)
            .map(|k| k.meta.strategy.clone())
            .ok_or_else(|| QueryError::Invalid(format!("Keyspace '{keyspace}' does not exist")))
    }

    fn read_sync(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Result<Gathered> {
        if cl == Consistency::EachQuorum {
            return Err(QueryError::Invalid(
                "EACH_QUORUM ConsistencyLevel is only supported for writes".into(),
            ));
        }
        if cl == Consistency::Any {
            return Err(QueryError::Invalid(
                "ANY ConsistencyLevel is only supported for writes".into(),
            ));
        }
        if matches!(cl, Consistency::Serial | Consistency::LocalSerial) {
            return self.serial_read(keyspace, table, keys, cl);
        }
        let core = self.core()?;
        let strategy = self.strategy(keyspace)?;
        let ring = core.ring();
        let t = core.transport().clone();
        let me = t.me();
        let my_dc = core.engine().datacenter();
        let mut out = Gathered::default();
        for (token, key) in keys {
            let replicas: Vec<IpAddr> = match &strategy {
                Strategy::Local => vec![me],
                s => ring.replicas(s, *token),
            };
            let mut live_by_dc: BTreeMap<String, u32> = BTreeMap::new();
            let mut live: Vec<(u8, IpAddr)> = Vec::new();
            for r in &replicas {
                if !core.is_alive(r) {
                    continue;
                }
                let dc = ring.datacenter_of(r).unwrap_or(&my_dc).to_string();
                *live_by_dc.entry(dc.clone()).or_default() += 1;
                // Nearest first: this node, its datacenter, then the others.
                let rank = if *r == me {
                    0
                } else if dc == my_dc {
                    1
                } else {
                    2
                };
                live.push((rank, *r));
            }
            let bf = check_available(cl, &strategy, &my_dc, &live_by_dc).map_err(|u| {
                QueryError::Unavailable {
                    consistency: u.consistency.to_string(),
                    required: u.required as i32,
                    alive: u.alive as i32,
                }
            })?;
            live.sort();
            let local_only = matches!(
                &bf,
                BlockFor::Count {
                    datacenter: Some(_),
                    ..
                }
            );
            let n = bf.total() as usize;
            let targets: Vec<IpAddr> = live
                .into_iter()
                .filter(|(rank, _)| !local_only || *rank < 2)
                .map(|(_, a)| a)
                .take(n)
                .collect();
            // Each answering replica's version: (replica, partition or none).
            let mut versions: Vec<(IpAddr, Option<PartitionData>)> = Vec::new();
            let mut remote = Vec::new();
            for target in targets {
                if target == me {
                    let p = core.engine().storage.read_partition(table, *token, key)?;
                    versions.push((me, p));
                } else {
                    remote.push(target);
                }
            }
            if !remote.is_empty() {
                let timeout = self.read_timeout;
                let answers = self.runtime.block_on(async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for target in remote {
                        let (t, key, table, token) = (t.clone(), key.clone(), *table, *token);
                        tasks.spawn(async move {
                            let m = t
                                .request(target, Body::ReadPartition { table, token, key }, timeout)
                                .await
                                .ok()?;
                            match m.body {
                                Body::Partition(Some(b)) => {
                                    crate::node::db::storage::Mutation::decode(&b)
                                        .ok()
                                        .map(|m| (target, Some(PartitionData::from_mutation(m))))
                                }
                                Body::Partition(None) => Some((target, None)),
                                _ => None,
                            }
                        });
                    }
                    let mut answers = Vec::new();
                    while let Some(r) = tasks.join_next().await {
                        if let Ok(Some(p)) = r {
                            answers.push(p);
                        }
                    }
                    answers
                });
                versions.extend(answers);
            }
            let received = versions.len();
            let data_present = versions.iter().any(|(_, p)| p.is_some());
            if received == 1 && n <= 1 {
                // One answer (ONE, LOCAL_ONE): nothing to merge or repair.
                if let Some((_, Some(p))) = versions.pop() {
                    out.add(p);
                }
                continue;
            }
            let mut merged: Option<PartitionData> = None;
            for (_, p) in versions
                .iter()
                .filter_map(|(a, p)| p.clone().map(|p| (a, p)))
            {
                match &mut merged {
                    Some(m) => m.merge(p),
                    None => merged = Some(p),
                }
            }
            // Blocking read repair: replicas that answered with an older
            // version get the merged one before the read returns.
            if let Some(m) = &merged
                && received > 1
            {
                let want = canonical(m.clone(), *table);
                let stale: Vec<IpAddr> = versions
                    .iter()
                    .filter(|(_, p)| p.clone().map(|p| canonical(p, *table)) != Some(want.clone()))
                    .map(|(a, _)| *a)
                    .collect();
                if !stale.is_empty() {
                    self.repair(&core, &stale, m.clone(), *table, keyspace)?;
                }
            }
            if let Some(m) = merged {
                out.add(m);
            }
            if received < n {
                return Err(QueryError::ReadTimeout {
                    consistency: cl.to_string(),
                    received: received as i32,
                    block_for: n as i32,
                    data_present,
                });
            }
        }
        Ok(out)
    }

    /// Writes the merged version of a partition to stale replicas and waits for them.
    fn repair(
        &self,
        core: &Arc<Core>,
        stale: &[IpAddr],
        merged: PartitionData,
        table: [u8; 16],
        keyspace: &str,
    ) -> Result<()> {
        let durable = core
            .engine()
            .schema()
            .keyspace(keyspace)
            .is_none_or(|k| k.meta.durable_writes);
        let m = merged.into_mutation(table);
        let t = core.transport().clone();
        let mut remote = Vec::new();
        for r in stale {
            if *r == t.me() {
                core.engine().storage.apply(&m, durable)?;
            } else {
                remote.push(*r);
            }
        }
        if remote.is_empty() {
            return Ok(());
        }
        let bytes = m.encode();
        let timeout = self.write_timeout;
        self.runtime.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for r in remote {
                let (t, bytes) = (t.clone(), bytes.clone());
                tasks.spawn(async move {
                    let body = Body::Mutation {
                        mutation: bytes,
                        durable,
                        forward_to: Vec::new(),
                        commit: None,
                    };
                    t.request(r, body, timeout).await
                });
            }
            while tasks.join_next().await.is_some() {}
        });
        Ok(())
    }

    fn scan_sync(&self, table: &[u8; 16], start: i64, end: i64) -> Result<Gathered> {
        let core = self.core()?;
        let t = core.transport().clone();
        let me = t.me();
        let nodes: Vec<IpAddr> = core
            .states()
            .iter()
            .map(|s| s.address)
            .filter(|a| *a != me && core.is_alive(a))
            .collect();
        let mut out = Gathered::default();
        for p in core
            .engine()
            .storage
            .scan(table, None, start, end, usize::MAX)?
        {
            out.add(p);
        }
        let timeout = self.read_timeout;
        let table = *table;
        let answers = self.runtime.block_on(async move {
            let mut tasks = tokio::task::JoinSet::new();
            for node in nodes {
                let t = t.clone();
                tasks.spawn(async move {
                    let m = t
                        .request(node, Body::Scan { table, start, end }, timeout)
                        .await
                        .ok()?;
                    match m.body {
                        Body::Partitions(ps) => Some(ps),
                        _ => None,
                    }
                });
            }
            let mut all = Vec::new();
            while let Some(r) = tasks.join_next().await {
                if let Ok(Some(ps)) = r {
                    all.extend(ps);
                }
            }
            all
        });
        for b in answers {
            if let Ok(m) = crate::node::db::storage::Mutation::decode(&b) {
                out.add(PartitionData::from_mutation(m));
            }
        }
        Ok(out)
    }
}

/// Lightweight transactions: the coordinator's side of Paxos (see
/// [`crate::node::cluster::paxos`] for the protocol and the decisions).
impl Coordinator {
    /// Sends `body` to `targets` (this node answers itself with `local`,
    /// while the others work) and gathers answers until `enough` says so,
    /// every target answered, or the deadline passed.
    #[allow(clippy::too_many_arguments)]
    fn gather(
        &self,
        core: &Arc<Core>,
        targets: &[IpAddr],
        body: Body,
        local: impl FnOnce() -> Result<Body>,
        enough: impl Fn(&[(IpAddr, Body)]) -> bool,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<(IpAddr, Body)>> {
        let t = core.transport().clone();
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
        core: &Arc<Core>,
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
            core.with_paxos(table, token, key, |s| s.propose(ballot, update))
                .map(Body::PaxosAccepted)
                .map_err(QueryError::from)
        };
        let accepted = |a: &[(IpAddr, Body)]| {
            a.iter()
                .filter(|(_, b)| matches!(b, Body::PaxosAccepted(true)))
                .count()
        };
        let answers = self.gather(core, live, body, local, |a| accepted(a) >= need, deadline)?;
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
        core: &Arc<Core>,
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
            core.apply_commit(&m, durable, Some(ballot))
                .map(|()| Body::MutationAck)
                .map_err(QueryError::from)
        };
        let acks = self
            .gather(core, to, body, local, |_| false, deadline)?
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
    fn cas_sync(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        serial: Consistency,
        commit: Consistency,
        decide: &mut Decide<'_>,
    ) -> Result<ResultBody> {
        let core = self.core()?;
        let strategy = self.strategy(keyspace)?;
        let ring = core.ring();
        let me = core.transport().me();
        let my_dc = core.engine().datacenter();
        let host = core.host_id_of(&me).unwrap_or_default();
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
            .filter(|r| *r == me || core.is_alive(r))
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
        let durable = core
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
            let ballot = Ballot::next(core.engine().now_micros(), above, host);
            above = ballot;
            // Phase 1: prepare.
            let body = Body::PaxosPrepare {
                table: *table,
                token,
                key: key.to_vec(),
                ballot,
            };
            let local = || {
                core.with_paxos(table, token, key, |s| s.prepare(ballot))
                    .map(Body::PaxosPromise)
                    .map_err(QueryError::from)
            };
            let (from, promises): (Vec<IpAddr>, Vec<Promise>) = self
                .gather(&core, &live, body, local, |a| a.len() >= need, deadline)?
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
                        &core, &live, partition, ballot, update, need, deadline, &timeout,
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
                    self.propagate(&core, &to, committed, update, durable, deadline)?;
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
                &core, &live, partition, ballot, update, need, deadline, &timeout,
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
    fn serial_read(
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

impl Replicator for Coordinator {
    fn alone(&self) -> bool {
        self.core().is_ok_and(|c| c.ring().nodes().len() <= 1)
    }

    fn write(&self, writes: &[Write], cl: Consistency, batch: bool) -> Result<()> {
        let write_type = if batch { "BATCH" } else { "SIMPLE" };
        self.write_sync(writes, cl, write_type, None)
    }

    fn cas(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        serial: Consistency,
        commit: Consistency,
        decide: &mut Decide<'_>,
    ) -> Result<ResultBody> {
        self.cas_sync(keyspace, table, token, key, serial, commit, decide)
    }

    fn read(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Result<Gathered> {
        self.read_sync(keyspace, table, keys, cl)
    }

    fn holds_all(&self, keyspace: &str, cl: Consistency) -> bool {
        if !matches!(cl, Consistency::One | Consistency::LocalOne) {
            return false;
        }
        let Ok(strategy) = self.strategy(keyspace) else {
            return false;
        };
        let Ok(core) = self.core() else {
            return false;
        };
        let ring = core.ring();
        let my_dc = core.engine().datacenter();
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

    fn scan_all(
        &self,
        _keyspace: &str,
        table: &[u8; 16],
        start: i64,
        end: i64,
        _cl: Consistency,
    ) -> Result<Gathered> {
        self.scan_sync(table, start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::locator::placement::RingNode;

    fn ip(dc: u8, i: u8) -> IpAddr {
        IpAddr::from([127, 0, dc, i])
    }

    fn ring() -> Ring {
        let mut nodes = Vec::new();
        for dc in 1..=2u8 {
            for i in 1..=3u8 {
                nodes.push(RingNode {
                    address: ip(dc, i),
                    datacenter: format!("dc{dc}"),
                    rack: format!("r{i}"),
                    tokens: vec![i64::from(i) * 1000 + i64::from(dc)],
                });
            }
        }
        Ring::new(nodes)
    }

    fn nts() -> Strategy {
        Strategy::NetworkTopology {
            datacenters: [("dc1".to_string(), 3), ("dc2".to_string(), 3)].into(),
        }
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
