//! Anti-entropy repair: `nodetool repair`, as Cassandra's full repair.
//!
//! Hints cover a replica that missed writes while it was down, for at most
//! `max_hint_window`, and only while the coordinator keeps them. Whatever
//! they miss (hints disabled, an outage past the window, a coordinator
//! that died with its hints) stays missing until a repair compares the
//! replicas and copies the differences.
//!
//! A repair run on a node covers every token range that node replicates
//! ([`plan::ranges`], `-pr` for only those it is the first replica of,
//! `-dc`/`-local` to compare only some datacenters' replicas). For each
//! table and range:
//! 1. every replica builds a [`merkle::MerkleTree`] of its partitions in
//!    the range (this node from its own storage, the others when asked
//!    with [`Body::MerkleRequest`]); the depth follows this node's
//!    partition count, about four leaves per partition;
//! 2. the trees are compared ([`plan::sync`]): for each leaf where they
//!    differ, every replica is sent that leaf's partitions from one
//!    replica of each other version ([`Body::Scan`] to read, each source
//!    once, then [`Body::Stream`] to apply, 4 MiB per message, to every
//!    target at once); sixteen ranges of a table are repaired at once;
//! 3. applying keeps the newest version of every cell, so after the
//!    streams every replica holds the union of what any held.
//!
//! This node relays the streams (Cassandra's replicas stream to each other
//! directly; in ccrsim every link is local, so the relay costs little).
//! Planning is pure ([`plan`], [`merkle`]); this file only drives it.
//! What it prints follows Cassandra 4.1's `nodetool repair`: the start
//! line with the options, per table and pair of replicas whether they were
//! consistent, a session line per table with what was streamed, then
//! "Repair completed successfully" and the time taken. A replica that is
//! down fails the repair unless `--force` leaves it out.

pub mod merkle;
pub mod plan;

use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use merkle::{MerkleTree, Range, depth_for, partition_hash};

use crate::node::cluster::membership::Membership;
use crate::node::cluster::message::Body;
use crate::node::cluster::transport::Transport;
use crate::node::cql::exec::Engine;
use crate::node::db::schema::{Keyspace, Strategy, TableMeta};
use crate::node::db::storage::{Mutation, Storage, StorageError};
use crate::node::locator::ring::uuid_text;

/// Partitions read from storage at a time while building a tree.
const PAGE: usize = 1000;
/// The largest stream message.
const STREAM_BYTES: usize = 4 * 1024 * 1024;
/// How long a replica may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Ranges of one table repaired at once.
const PARALLEL_RANGES: usize = 16;

/// What a repair needs of the running node.
#[derive(Clone)]
pub struct Node {
    pub engine: Arc<Engine>,
    pub membership: Arc<Membership>,
    pub transport: Arc<Transport>,
}

/// What repairing one range of one table found and did.
struct RangeDone {
    reports: Vec<plan::PairReport>,
    differed: bool,
    streamed: usize,
}

/// The (token, hash) of every partition this node holds of `table` in
/// `range`, read a page at a time (blocking).
fn hashes(
    storage: &Storage,
    table: &[u8; 16],
    range: Range,
) -> Result<Vec<(i64, merkle::Hash)>, StorageError> {
    let mut out = Vec::new();
    let mut after: Option<(i64, Vec<u8>)> = None;
    loop {
        let page = storage.scan(
            table,
            after.as_ref().map(|(t, k)| (*t, k.as_slice())),
            range.scan_start(),
            range.end,
            PAGE,
        )?;
        let full = page.len() == PAGE;
        for p in page {
            after = Some((p.token, p.key.clone()));
            let token = p.token;
            if range.contains(token) {
                out.push((token, partition_hash(&p.into_mutation(*table).encode())));
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

fn tree_of(range: Range, depth: u8, hashes: &[(i64, merkle::Hash)]) -> MerkleTree {
    let mut t = MerkleTree::new(range, depth);
    for (token, h) in hashes {
        t.add(*token, h);
    }
    t.finish();
    t
}

/// A replica's answer to [`Body::MerkleRequest`].
pub async fn answer_tree(
    engine: Arc<Engine>,
    table: [u8; 16],
    start: i64,
    end: i64,
    depth: u8,
) -> Body {
    if start >= end || depth > merkle::MAX_DEPTH {
        return Body::MutationFailed(format!(
            "repair: a tree of ({start},{end}] at depth {depth} cannot be built"
        ));
    }
    let range = Range { start, end };
    let r = tokio::task::spawn_blocking(move || hashes(&engine.storage, &table, range)).await;
    match r {
        Ok(Ok(h)) => Body::MerkleLeaves(tree_of(range, depth, &h).leaves().to_vec()),
        Ok(Err(e)) => Body::MutationFailed(e.to_string()),
        Err(e) => Body::MutationFailed(e.to_string()),
    }
}

/// Applies streamed partitions: all are checked before any is applied.
fn apply_all(storage: &Storage, parts: &[Vec<u8>]) -> Result<usize, String> {
    let ms = parts
        .iter()
        .map(|b| Mutation::decode(b))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("repair stream: {e}"))?;
    for m in &ms {
        storage.apply(m, true).map_err(|e| e.to_string())?;
    }
    Ok(ms.len())
}

/// A replica's answer to [`Body::Stream`].
pub async fn answer_stream(engine: Arc<Engine>, parts: Vec<Vec<u8>>) -> Body {
    match tokio::task::spawn_blocking(move || apply_all(&engine.storage, &parts)).await {
        Ok(Ok(_)) => Body::MutationAck,
        Ok(Err(e)) => Body::MutationFailed(e),
        Err(e) => Body::MutationFailed(e.to_string()),
    }
}

/// `[2026-12-01 02:30:00,123]`, as nodetool stamps its lines (UTC).
fn stamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, ms) = (now.as_secs() as i64, now.subsec_millis());
    let (y, m, d) = crate::node::value::calendar::civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "[{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02},{ms:03}]",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// "1 second", "2 minutes 5 seconds", as Cassandra words a duration.
fn words(d: Duration) -> String {
    let s = d.as_secs();
    let unit = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    if s < 60 {
        unit(s, "second")
    } else {
        format!("{} {}", unit(s / 60, "minute"), unit(s % 60, "second"))
    }
}

fn endpoint(a: &IpAddr) -> String {
    format!("/{a}:7000")
}

struct Out {
    text: String,
}

impl Out {
    fn line(&mut self, s: &str) {
        tracing::info!("{s}");
        let _ = writeln!(self.text, "{} {s}", stamp());
    }
}

impl Node {
    fn me(&self) -> IpAddr {
        self.transport.me()
    }

    async fn request(&self, to: IpAddr, body: Body) -> Result<Body, String> {
        self.transport
            .request(to, body, REQUEST_TIMEOUT)
            .await
            .map(|m| m.body)
            .map_err(|e| format!("{to}: {e}"))
    }

    /// Every replica's tree of one range, this node's first.
    async fn trees(
        &self,
        table: [u8; 16],
        replicas: &[IpAddr],
        range: Range,
    ) -> Result<Vec<(IpAddr, MerkleTree)>, String> {
        let storage = self.engine.storage.clone();
        let mine = tokio::task::spawn_blocking(move || hashes(&storage, &table, range))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let depth = depth_for(mine.len())
            .saturating_add(2)
            .min(merkle::MAX_DEPTH);
        let mut asks = tokio::task::JoinSet::new();
        for (i, r) in replicas.iter().enumerate().skip(1) {
            let (t, r) = (self.transport.clone(), *r);
            asks.spawn(async move {
                let body = Body::MerkleRequest {
                    table,
                    start: range.start,
                    end: range.end,
                    depth,
                };
                (i, r, t.request(r, body, REQUEST_TIMEOUT).await)
            });
        }
        let mut out: Vec<Option<(IpAddr, MerkleTree)>> = vec![None; replicas.len()];
        out[0] = Some((self.me(), tree_of(range, depth, &mine)));
        while let Some(j) = asks.join_next().await {
            let (i, r, answer) = j.map_err(|e| e.to_string())?;
            let tree = match answer.map(|m| m.body) {
                Ok(Body::MerkleLeaves(l)) => MerkleTree::from_leaves(range, l)
                    .filter(|t| t.depth() == depth)
                    .ok_or_else(|| format!("{r} sent a tree of another shape"))?,
                Ok(Body::MutationFailed(e)) => return Err(format!("{r}: {e}")),
                Ok(other) => return Err(format!("{r} answered {other:?}")),
                Err(e) => {
                    return Err(format!(
                        "Could not create snapshot at {}: {e}",
                        endpoint(&r)
                    ));
                }
            };
            out[i] = Some((r, tree));
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// One replica's partitions in `ranges` (all within `whole`), with
    /// their tokens.
    async fn fetch(
        &self,
        from: IpAddr,
        table: [u8; 16],
        whole: Range,
        ranges: &[Range],
    ) -> Result<Vec<(i64, Vec<u8>)>, String> {
        // Many short ranges: one read of the whole range, filtered here.
        let reads: Vec<Range> = if ranges.len() > 8 {
            vec![whole]
        } else {
            ranges.to_vec()
        };
        let wanted = |t: i64| ranges.iter().any(|x| x.contains(t));
        let mut out = Vec::new();
        for r in reads {
            if from == self.me() {
                let storage = self.engine.storage.clone();
                let ps = tokio::task::spawn_blocking(move || {
                    storage.scan(&table, None, r.scan_start(), r.end, usize::MAX)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                out.extend(
                    ps.into_iter()
                        .filter(|p| wanted(p.token))
                        .map(|p| (p.token, p.into_mutation(table).encode())),
                );
            } else {
                let body = Body::Scan {
                    table,
                    start: r.scan_start(),
                    end: r.end,
                };
                match self.request(from, body).await? {
                    Body::Partitions(ps) => out.extend(ps.into_iter().filter_map(|b| {
                        Mutation::peek_token(&b)
                            .filter(|t| wanted(*t))
                            .map(|t| (t, b))
                    })),
                    other => return Err(format!("{from} answered {other:?}")),
                }
            }
        }
        Ok(out)
    }

    /// Applies partitions on `to` (here, or in messages of at most 4 MiB).
    async fn send(&self, to: IpAddr, parts: Vec<Vec<u8>>) -> Result<(), String> {
        if to == self.me() {
            let storage = self.engine.storage.clone();
            return tokio::task::spawn_blocking(move || apply_all(&storage, &parts))
                .await
                .map_err(|e| e.to_string())?
                .map(|_| ());
        }
        let mut batch: Vec<Vec<u8>> = Vec::new();
        let mut bytes = 0;
        let mut parts = parts.into_iter().peekable();
        while let Some(p) = parts.next() {
            bytes += p.len();
            batch.push(p);
            if bytes >= STREAM_BYTES || parts.peek().is_none() {
                match self
                    .request(to, Body::Stream(std::mem::take(&mut batch)))
                    .await?
                {
                    Body::MutationAck => {}
                    Body::MutationFailed(e) => return Err(format!("{to}: {e}")),
                    other => return Err(format!("{to} answered {other:?}")),
                }
                bytes = 0;
            }
        }
        Ok(())
    }

    /// Repairs one range of one table: trees, comparison, then each
    /// source read once and its streams sent to every target at once.
    async fn range(self, table: [u8; 16], job: plan::RangeJob) -> Result<RangeDone, String> {
        let trees = self.trees(table, &job.replicas, job.range).await?;
        let (reports, tasks) = plan::sync(&trees);
        let differed = !tasks.is_empty();
        let mut by_source: std::collections::BTreeMap<IpAddr, Vec<plan::SyncTask>> =
            Default::default();
        for t in tasks {
            by_source.entry(t.from).or_default().push(t);
        }
        let mut streamed = 0;
        let mut sends = tokio::task::JoinSet::new();
        for (from, tasks) in by_source {
            let mut all: Vec<Range> = tasks.iter().flat_map(|t| t.ranges.clone()).collect();
            all.sort();
            all.dedup();
            let parts = self.fetch(from, table, job.range, &all).await?;
            for task in tasks {
                let mine: Vec<Vec<u8>> = parts
                    .iter()
                    .filter(|(t, _)| task.ranges.iter().any(|r| r.contains(*t)))
                    .map(|(_, b)| b.clone())
                    .collect();
                streamed += mine.len();
                if !mine.is_empty() {
                    let me = self.clone();
                    sends.spawn(async move { me.send(task.to, mine).await });
                }
            }
        }
        while let Some(r) = sends.join_next().await {
            r.map_err(|e| e.to_string())??;
        }
        Ok(RangeDone {
            reports,
            differed,
            streamed,
        })
    }

    /// Repairs one table over `jobs` ([`PARALLEL_RANGES`] at a time); how
    /// many partitions it streamed.
    async fn table(
        &self,
        t: &TableMeta,
        jobs: &[plan::RangeJob],
        session: &str,
        out: &mut Out,
    ) -> Result<usize, String> {
        let mut pairs: std::collections::BTreeMap<(IpAddr, IpAddr), usize> = Default::default();
        let (mut streamed, mut out_of_sync) = (0usize, 0usize);
        let mut running = tokio::task::JoinSet::new();
        let mut todo = jobs.iter().cloned();
        loop {
            while running.len() < PARALLEL_RANGES {
                let Some(job) = todo.next() else { break };
                running.spawn(self.clone().range(t.id, job));
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let done = done.map_err(|e| e.to_string())??;
            for r in done.reports {
                let (a, b) = if r.a <= r.b { (r.a, r.b) } else { (r.b, r.a) };
                *pairs.entry((a, b)).or_default() += r.out_of_sync;
            }
            out_of_sync += usize::from(done.differed);
            streamed += done.streamed;
        }
        for ((a, b), n) in pairs {
            let what = if n == 0 {
                "are consistent".to_string()
            } else {
                format!("have {n} range(s) out of sync")
            };
            out.line(&format!(
                "[repair #{session}] Endpoints {} and {} {what} for {}",
                endpoint(&a),
                endpoint(&b),
                t.name
            ));
        }
        out.line(&format!(
            "[repair #{session}] {}.{}: {} ranges compared, {out_of_sync} out of sync, {streamed} partitions streamed",
            t.keyspace,
            t.name,
            jobs.len()
        ));
        Ok(streamed)
    }

    /// Repairs one keyspace: one repair command.
    async fn keyspace(
        &self,
        commands: &AtomicU32,
        ks: &Keyspace,
        o: &plan::Options,
        dcs: Option<&[String]>,
        out: &mut Out,
    ) -> Result<(), String> {
        let started = Instant::now();
        let cmd = commands.fetch_add(1, Ordering::Relaxed) + 1;
        let name = &ks.meta.name;
        let tables: Vec<&Arc<TableMeta>> = if o.tables.is_empty() {
            ks.tables.values().collect()
        } else {
            o.tables
                .iter()
                .map(|t| {
                    ks.tables
                        .get(t)
                        .ok_or_else(|| format!("Unknown keyspace/cf pair ({name}.{t})"))
                })
                .collect::<Result<_, _>>()?
        };
        let ring = self.membership.ring();
        let mut jobs = plan::ranges(&ring, &ks.meta.strategy, self.me(), o.primary_range, dcs);
        if jobs.is_empty() {
            out.line(&format!(
                "Replication factor is 1. No repair is needed for keyspace '{name}'"
            ));
            return Ok(());
        }
        let mut session = [0u8; 16];
        rand::fill(&mut session);
        session[6] = (session[6] & 0x0f) | 0x40;
        session[8] = (session[8] & 0x3f) | 0x80;
        let session = uuid_text(&session);
        let list = |v: &[String]| v.join(", ");
        out.line(&format!(
            "Starting repair command #{cmd} ({session}), repairing keyspace {name} with repair options (parallelism: parallel, primary range: {}, incremental: false, job threads: 1, ColumnFamilies: [{}], dataCenters: [{}], hosts: [], previewKind: NONE, # of ranges: {}, pull repair: false, force repair: {}, optimise streams: false, ignore unreplicated keyspaces: false, repairPaxos: false, paxosOnly: false)",
            o.primary_range,
            list(&o.tables),
            list(dcs.unwrap_or_default()),
            jobs.len(),
            o.force
        ));
        let mut dead: Vec<IpAddr> = jobs
            .iter()
            .flat_map(|j| j.replicas.iter().skip(1))
            .filter(|a| !self.membership.is_alive(a))
            .copied()
            .collect();
        dead.sort();
        dead.dedup();
        if let Some(d) = dead.first() {
            if !o.force {
                let e = format!(
                    "Repair command #{cmd} failed with error Cannot proceed on repair because a neighbor ({}) is dead: session failed",
                    endpoint(d)
                );
                out.line(&e);
                return Err(e);
            }
            for j in &mut jobs {
                j.replicas.retain(|a| !dead.contains(a));
            }
            jobs.retain(|j| j.replicas.len() > 1);
        }
        for (i, t) in tables.iter().enumerate() {
            let r = self.table(t, &jobs, &session, out).await;
            if let Err(e) = r {
                let e = format!("Repair command #{cmd} failed with error {e}");
                out.line(&e);
                return Err(e);
            }
            out.line(&format!(
                "Repair session {session} for {name}.{} finished (progress: {}%)",
                t.name,
                (i + 1) * 100 / tables.len()
            ));
        }
        out.line("Repair completed successfully");
        out.line(&format!(
            "Repair command #{cmd} finished in {}",
            words(started.elapsed())
        ));
        Ok(())
    }
}

/// `nodetool repair [options] [KEYSPACE [TABLE ...]]`: the text printed,
/// or the text and the error that stopped it.
pub async fn run(node: Node, commands: &AtomicU32, args: &[String]) -> Result<String, String> {
    let o = plan::parse(args)?;
    let schema = node.engine.schema();
    let my_dc = node.engine.local_info().datacenter;
    let dcs: Option<Vec<String>> = if o.local {
        Some(vec![my_dc])
    } else if !o.datacenters.is_empty() {
        if !o.datacenters.contains(&my_dc) {
            return Err("the local data center must be part of the repair".into());
        }
        Some(o.datacenters.clone())
    } else {
        None
    };
    let keyspaces: Vec<&Keyspace> = match &o.keyspace {
        Some(k) => vec![
            schema
                .keyspace(k)
                .ok_or_else(|| format!("Keyspace [{k}] does not exist."))?,
        ],
        None => schema
            .keyspaces
            .values()
            .filter(|k| !matches!(k.meta.strategy, Strategy::Local))
            .collect(),
    };
    let mut out = Out {
        text: String::new(),
    };
    for ks in keyspaces {
        if matches!(ks.meta.strategy, Strategy::Local) {
            return Err(format!(
                "Keyspace {} uses LocalStrategy: there is nothing to repair",
                ks.meta.name
            ));
        }
        if let Err(e) = node
            .keyspace(commands, ks, &o, dcs.as_deref(), &mut out)
            .await
        {
            if !out.text.contains(&e) {
                out.text.push_str(&e);
            }
            return Err(out.text);
        }
    }
    Ok(out.text)
}
