//! A seeded chaos soak of a 3 + 3 cluster in this process (dc1 on
//! 127.0.128.1-3, dc2 on 127.0.129.1-3, node defaults, hints enabled).
//!
//! Load runs for the whole fault schedule: two writers per datacenter
//! (sessions pinned to it, token-aware, never retrying) insert unique keys
//! at LOCAL_QUORUM with 100-byte values as fast as they go and remember the
//! keys acknowledged; one LWT incrementer per datacenter increments five
//! shared counters by compare-and-set at SERIAL, counting per key the
//! increments applied and those whose outcome is unknown.
//!
//! The faults come from a schedule drawn from `CCRSIM_SOAK_SEED` (default 1),
//! times relative to the start, in rounds of the four faults in a random
//! order with random gaps: the datacenters cut apart (10 s in the short run,
//! 20 s in the long one), 100 ms of latency on the link between them, 20 %
//! loss on that link, and one node of dc2 stopped and restarted on its data.
//! The first round always runs whole; later rounds while they fit in
//! `CCRSIM_SOAK_SECS` (40 s short, 270 s long).
//!
//! Then everything is healed, the load stopped, and within deadlines
//! counted from the heal:
//! 1. every node's pending hints are delivered (30 s);
//! 2. every node holds every acknowledged write in its own storage (60 s),
//!    and a sample of 200 read at LOCAL_ONE through each node pinned to it
//!    finds each with its value;
//! 3. each counter, read at SERIAL, is between the increments applied and
//!    those plus the unknown ones, and no incrementer saw a counter go back;
//! 4. the process's resident memory stays under [`RSS_BASE_MIB`] plus
//!    [`RSS_PER_WRITE_KIB`] per acknowledged write;
//! 5. no task panicked.
//!
//! `cargo test --test soak` runs the short soak (about a minute in a debug
//! build); `cargo test --test soak -- --ignored` the long one (about five
//! minutes of load; each restart replays the node's journal, which grows
//! with the data). `CCRSIM_SOAK_LOG=info` shows the nodes' logs (WARN by
//! default). A restart must find the stopped node's data directory let go
//! of within [`RELEASED`].

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccrsim::node::cluster::hints;
use ccrsim::node::cluster::transport::{Faults, LinkSpec};
use ccrsim::node::cql::exec::Engine;
use ccrsim::node::instance::Node;
use common::cluster::Layout;
use common::{eventually, session};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{RngExt as _, SeedableRng};
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::response::query_result::QueryRowsResult;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};

/// The address blocks of dc1 and dc2 (127.0.128.x, 127.0.129.x).
const DC1: u8 = 128;
const DC2: u8 = 129;
const WRITERS_PER_DC: i64 = 2;
const COUNTERS: usize = 5;
/// The nodes' write timeout (node default): a write in flight when the load
/// stops gets its hints only once it passes.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long after the heal the hints must be delivered, and every
/// acknowledged write be on every replica.
const HINTS_DRAINED: Duration = Duration::from_secs(30);
const REPLICATED: Duration = Duration::from_secs(60);
const SAMPLE: usize = 200;
/// How long after `Node::stop` returned a node may still hold its data
/// directory (tasks ending), as the in-process runtime allows when it
/// powers a service on (`src/runtime/in_process.rs`: `Locked` retried for
/// 5 s).
const RELEASED: Duration = Duration::from_secs(5);
/// The bound on the process's resident memory at the end (six nodes, their
/// storage, the drivers and the load's bookkeeping), a guard against
/// unbounded growth: a base, plus an allowance per acknowledged write, for
/// the nodes keep what they are sent in memtables until a table's reaches
/// 64 MiB (node default), which a soak of a few minutes does not reach.
const RSS_BASE_MIB: u64 = 192;
const RSS_PER_WRITE_KIB: u64 = 7;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_soak_under_seeded_faults() {
    soak(secs_or(40), Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "about five minutes: cargo test --test soak -- --ignored"]
async fn long_soak_under_seeded_faults() {
    soak(secs_or(270), Duration::from_secs(20)).await;
}

fn secs_or(default: u64) -> Duration {
    let secs = std::env::var("CCRSIM_SOAK_SECS")
        .ok()
        .map(|s| s.parse().expect("CCRSIM_SOAK_SECS is a number of seconds"))
        .unwrap_or(default);
    Duration::from_secs(secs)
}

fn seed() -> u64 {
    std::env::var("CCRSIM_SOAK_SEED")
        .ok()
        .map(|s| s.parse().expect("CCRSIM_SOAK_SEED is a number"))
        .unwrap_or(1)
}

/// One fault of the schedule, and how long it lasts.
#[derive(Debug, Clone, Copy)]
enum Fault {
    Cut(Duration),
    Latency(Duration),
    Loss(Duration),
    /// Node `node` (of the layout) stopped, restarted `down` later.
    Restart {
        node: usize,
        down: Duration,
    },
}

impl Fault {
    fn length(&self) -> Duration {
        match *self {
            Fault::Cut(d) | Fault::Latency(d) | Fault::Loss(d) => d,
            Fault::Restart { down, .. } => down,
        }
    }
}

/// The faults and when each starts (from the start of the load); the
/// moment the load ends with everything healed.
fn schedule(seed: u64, secs: Duration, cut: Duration) -> (Vec<(Duration, Fault)>, Duration) {
    let mut rng = StdRng::seed_from_u64(seed);
    let ms = |rng: &mut StdRng, lo: u64, hi: u64| Duration::from_millis(rng.random_range(lo..hi));
    let mut at = ms(&mut rng, 1000, 3000);
    let mut steps = Vec::new();
    'rounds: loop {
        let mut round = vec![
            Fault::Cut(cut),
            Fault::Latency(ms(&mut rng, 2000, 5000)),
            Fault::Loss(ms(&mut rng, 2000, 5000)),
            Fault::Restart {
                node: rng.random_range(3..6),
                down: ms(&mut rng, 2000, 5000),
            },
        ];
        round.shuffle(&mut rng);
        let first = steps.is_empty();
        for f in round {
            let gap = ms(&mut rng, 1000, 3000);
            if !first && at + f.length() + gap > secs {
                break 'rounds;
            }
            steps.push((at, f));
            at += f.length() + gap;
        }
    }
    (steps, at.max(secs))
}

/// The value written with key `k`: 100 bytes.
fn value(k: i64) -> String {
    let v = format!("{k:>20}|{}", "v".repeat(79));
    debug_assert_eq!(v.len(), 100);
    v
}

/// A short name for a failed request (the database error without its
/// numbers, or the first words of any other failure).
fn kind(e: &ExecutionError) -> String {
    match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, _)) => {
            let d = format!("{db:?}");
            d.split([' ', '(', '{']).next().unwrap_or("").to_string()
        }
        other => other.to_string().chars().take(60).collect(),
    }
}

#[derive(Default)]
struct Stats {
    acked: AtomicU64,
    failed: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    fn fail(&self, what: String) {
        *self.failed.lock().unwrap().entry(what).or_default() += 1;
    }
}

/// Inserts keys `id << 40 | n` until `stop`; returns the keys acknowledged,
/// each with when (seconds from `began`).
async fn writer(
    s: Arc<Session>,
    insert: PreparedStatement,
    id: i64,
    began: Instant,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Vec<(i64, f32)> {
    let mut mine = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let k = (id << 40) | n;
        n += 1;
        match s.execute_unpaged(&insert, (k, value(k))).await {
            Ok(_) => {
                mine.push((k, began.elapsed().as_secs_f32()));
                stats.acked.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                stats.fail(format!("write: {}", kind(&e)));
                // A failure that comes at once (no connection) must not spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    mine
}

/// What one incrementer saw, per counter.
#[derive(Debug, Default)]
struct Increments {
    applied: [u64; COUNTERS],
    unknown: [u64; COUNTERS],
    not_applied: u64,
    unavailable: u64,
    read_failed: u64,
    anomalies: Vec<String>,
}

/// Increments the counters in turn by compare-and-set at SERIAL until `stop`.
async fn incrementer(
    s: Arc<Session>,
    read: PreparedStatement,
    cas: PreparedStatement,
    dc: &'static str,
    stop: Arc<AtomicBool>,
    stats: Arc<Stats>,
) -> Increments {
    let mut inc = Increments::default();
    let mut seen = [0i32; COUNTERS];
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        let k = i % COUNTERS;
        i += 1;
        let old = match s.execute_unpaged(&read, (k as i32,)).await {
            Ok(r) => match r
                .into_rows_result()
                .unwrap()
                .maybe_first_row::<(Option<i32>,)>()
                .unwrap()
            {
                Some((Some(v),)) => v,
                other => {
                    inc.anomalies
                        .push(format!("{dc}: counter {k} read at SERIAL as {other:?}"));
                    continue;
                }
            },
            Err(e) => {
                inc.read_failed += 1;
                stats.fail(format!("lwt read: {}", kind(&e)));
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if old < seen[k] {
            inc.anomalies.push(format!(
                "{dc}: counter {k} read at SERIAL as {old} after {} was seen",
                seen[k]
            ));
        }
        seen[k] = seen[k].max(old);
        match s.execute_unpaged(&cas, (old + 1, k as i32, old)).await {
            Ok(r) => {
                if applied(&r.into_rows_result().unwrap()) {
                    inc.applied[k] += 1;
                    seen[k] = seen[k].max(old + 1);
                } else {
                    inc.not_applied += 1;
                }
            }
            // Refused before anything was sent.
            Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(
                DbError::Unavailable { .. },
                _,
            ))) => {
                inc.unavailable += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => {
                inc.unknown[k] += 1;
                stats.fail(format!("lwt cas: {}", kind(&e)));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    inc
}

/// Whether a conditional statement applied (its `[applied]` column).
fn applied(rows: &QueryRowsResult) -> bool {
    let row = rows
        .rows::<scylla::value::Row>()
        .unwrap()
        .next()
        .expect("a conditional statement answers one row")
        .unwrap();
    matches!(
        row.columns.first(),
        Some(Some(scylla::value::CqlValue::Boolean(true)))
    )
}

/// Runs `check` every 100 ms until it gives a value; at `deadline`, fails
/// the test with `what` and the last reason `check` gave.
async fn until<T>(
    deadline: Instant,
    what: &str,
    mut check: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    loop {
        match check().await {
            Ok(v) => return v,
            Err(why) => {
                assert!(
                    Instant::now() < deadline,
                    "timed out waiting: {what}; last state:\n{why}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The keys of `keys` that `engine`'s own storage does not hold: many are
/// looked for in one scan of the table (in pages), a few by key.
fn lacking(engine: &Engine, keys: &[i64]) -> Vec<i64> {
    const PAGE: usize = 4096;
    let t = engine.schema().table("soak", "w").unwrap().clone();
    if keys.len() < PAGE {
        return keys
            .iter()
            .copied()
            .filter(|k| {
                let key = k.to_be_bytes();
                let token = ccrsim::node::locator::partitioner::token(&key);
                engine
                    .storage
                    .read_partition(&t.id, token, &key)
                    .unwrap()
                    .is_none()
            })
            .collect();
    }
    let mut held = std::collections::HashSet::with_capacity(keys.len());
    let mut after: Option<(i64, Vec<u8>)> = None;
    loop {
        let page = engine
            .storage
            .scan(
                &t.id,
                after.as_ref().map(|(t, k)| (*t, k.as_slice())),
                i64::MIN,
                i64::MAX,
                PAGE,
            )
            .unwrap();
        for p in &page {
            held.insert(i64::from_be_bytes(p.key.as_slice().try_into().unwrap()));
        }
        match page.last() {
            Some(last) if page.len() == PAGE => after = Some((last.token, last.key.clone())),
            _ => break,
        }
    }
    keys.iter().copied().filter(|k| !held.contains(k)).collect()
}

/// Pending hints per node: (node address, target address, count).
async fn pending_hints(nodes: &[Node], addrs: &[IpAddr]) -> Vec<(IpAddr, String, usize)> {
    let by_host: HashMap<[u8; 16], IpAddr> = nodes
        .iter()
        .zip(addrs)
        .map(|(n, a)| (n.engine.host_id(), *a))
        .collect();
    let mut out = Vec::new();
    for (n, a) in nodes.iter().zip(addrs) {
        let storage = n.engine.storage.clone();
        let pending = tokio::task::spawn_blocking(move || hints::pending(&storage))
            .await
            .unwrap()
            .unwrap();
        for (host, count) in pending {
            let to = by_host
                .get(&host)
                .map_or_else(|| format!("{host:02x?}"), |t| t.to_string());
            out.push((*a, to, count));
        }
    }
    out
}

/// The process's resident memory in KiB (`VmRSS`), and its peak (`VmHWM`).
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn cut(faults: &Faults, a: &[IpAddr], b: &[IpAddr], on: bool) {
    for x in a {
        for y in b {
            if on {
                faults.cut(*x, *y);
            } else {
                faults.heal(*x, *y);
            }
        }
    }
}

/// Seconds since `t`, for the log.
fn at(t: Instant) -> f64 {
    t.elapsed().as_secs_f64()
}

/// The nodes' logs (not the drivers'), WARN and above unless
/// `CCRSIM_SOAK_LOG` says otherwise.
fn init_log() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter::Targets};
    let level = match std::env::var("CCRSIM_SOAK_LOG").as_deref() {
        Ok("debug") => tracing::Level::DEBUG,
        Ok("info") => tracing::Level::INFO,
        Ok("error") => tracing::Level::ERROR,
        _ => tracing::Level::WARN,
    };
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_test_writer()
                .with_filter(Targets::new().with_target("ccrsim", level)),
        )
        .try_init();
}

/// What a stopped node still holds: its gossip and cluster core, its
/// engine, its storage (the data directory's lock), until each is dropped.
struct Remains {
    /// When `Node::stop` returned.
    stopped: Instant,
    /// Hints the node kept when it stopped: (for whom, how many).
    hints: Vec<(IpAddr, usize)>,
    core: std::sync::Weak<ccrsim::node::cluster::member::Core>,
    engine: std::sync::Weak<Engine>,
    storage: std::sync::Weak<ccrsim::node::db::storage::Storage>,
}

impl Remains {
    /// Taken just before `n` stops (with the hints it keeps then, for the
    /// nodes `names` names by host id); `stopped` is set once it has.
    async fn of(n: &Node, names: &HashMap<[u8; 16], IpAddr>) -> Remains {
        let storage = n.engine.storage.clone();
        let hints = tokio::task::spawn_blocking(move || hints::pending(&storage))
            .await
            .unwrap()
            .unwrap();
        Remains {
            stopped: Instant::now(),
            hints: hints
                .into_iter()
                .map(|(host, count)| (names[&host], count))
                .collect(),
            core: Arc::downgrade(&n.member.core),
            engine: Arc::downgrade(&n.engine),
            storage: Arc::downgrade(&n.engine.storage),
        }
    }

    /// What is still held, with its number of references.
    fn held(&self) -> Vec<String> {
        [
            ("core", self.core.strong_count()),
            ("engine", self.engine.strong_count()),
            ("storage", self.storage.strong_count()),
        ]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(what, n)| format!("{what} ({n} references)"))
        .collect()
    }
}

/// Starts node `i` again on its data once the stopped node has let go of
/// its data directory, which it must within [`RELEASED`] of its stop
/// (`Locked` is tried again until then); the time that took, if not at once.
async fn restart(
    layout: &Layout,
    i: usize,
    faults: &Arc<Faults>,
    remains: &Remains,
) -> (Node, Option<Duration>) {
    let a = &layout.nodes[i].0;
    let held = remains.held();
    let deadline = remains.stopped + RELEASED;
    if !held.is_empty() {
        eprintln!(
            "        {a} {:.1} s after its stop still holds {held:?}",
            at(remains.stopped)
        );
    }
    let mut released = None;
    let starting = Instant::now();
    loop {
        let last = if remains.storage.strong_count() == 0 {
            match Node::start_with(layout.config(i), faults.clone(), common::FAST).await {
                Ok(n) => {
                    eprintln!(
                        "        {a} restarted in {:.1} s{}",
                        at(starting),
                        released.map_or(String::new(), |r: Duration| format!(
                            " (its directory let go of {:.1} s after its stop)",
                            r.as_secs_f64()
                        ))
                    );
                    return (n, released);
                }
                Err(e) if e.to_string().contains("Locked") => e.to_string(),
                Err(e) => panic!("{a} does not start again: {e}"),
            }
        } else {
            format!("still held: {:?}", remains.held())
        };
        assert!(
            Instant::now() < deadline,
            "{a} cannot start again {:.1} s after Node::stop returned: {last}",
            at(remains.stopped)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        released = Some(remains.stopped.elapsed());
    }
}

async fn soak(secs: Duration, cut_for: Duration) {
    init_log();
    let seed = seed();
    let (steps, end) = schedule(seed, secs, cut_for);
    eprintln!(
        "soak seed {seed}: load for {:.1} s, faults:",
        end.as_secs_f64()
    );
    for (t, f) in &steps {
        eprintln!("  at {:5.1} s: {f:?}", t.as_secs_f64());
    }
    let began = Instant::now();

    let faults = Arc::new(Faults::default());
    let layout = Layout::three_and_three(DC1, DC2, "Soak");
    let addrs = layout.addrs();
    let (dc1, dc2) = (addrs[..3].to_vec(), addrs[3..].to_vec());
    let mut nodes: Vec<Option<Node>> = layout
        .start_all(&faults)
        .await
        .into_iter()
        .map(Some)
        .collect();
    eventually(60, "every node sees all six up", || {
        nodes
            .iter()
            .flatten()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)) && n.engine.peers().len() == 5)
    })
    .await;

    let names: HashMap<[u8; 16], IpAddr> = nodes
        .iter()
        .flatten()
        .zip(&addrs)
        .map(|(n, a)| (n.engine.host_id(), *a))
        .collect();
    let connect = |dc: &'static str, addr: IpAddr| async move {
        Arc::new(
            session::pinned(dc)
                .token_aware()
                .never_retry()
                .connect(&addr.to_string())
                .await
                .unwrap(),
        )
    };
    let s1 = connect("dc1", dc1[0]).await;
    let s2 = connect("dc2", dc2[0]).await;
    session::ddl(
        &s1,
        &[
            "CREATE KEYSPACE soak WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE soak.w (k bigint PRIMARY KEY, v text)",
            "CREATE TABLE soak.c (k int PRIMARY KEY, v int)",
        ],
    )
    .await;
    eventually(30, "every node has the tables", || {
        nodes.iter().flatten().all(|n| {
            let s = n.engine.schema();
            s.table("soak", "w").is_some() && s.table("soak", "c").is_some()
        })
    })
    .await;
    s1.refresh_metadata().await.unwrap();
    s2.refresh_metadata().await.unwrap();
    let mut create = session::at(
        "INSERT INTO soak.c (k, v) VALUES (?, 0) IF NOT EXISTS",
        Consistency::Quorum,
    );
    create.set_serial_consistency(Some(SerialConsistency::Serial));
    for k in 0..COUNTERS as i32 {
        let r = session::rows(&s1, create.clone(), (k,)).await;
        assert!(applied(&r), "counter {k} created");
    }

    // The load.
    let load_began = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let stats = Arc::new(Stats::default());
    let mut writers = Vec::new();
    let mut incrementers = Vec::new();
    for (d, (dc, s)) in [("dc1", &s1), ("dc2", &s2)].into_iter().enumerate() {
        let mut insert = s
            .prepare("INSERT INTO soak.w (k, v) VALUES (?, ?)")
            .await
            .unwrap();
        insert.set_consistency(Consistency::LocalQuorum);
        for w in 0..WRITERS_PER_DC {
            let id = d as i64 * WRITERS_PER_DC + w + 1;
            writers.push((
                format!("writer {id} ({dc})"),
                tokio::spawn(writer(
                    s.clone(),
                    insert.clone(),
                    id,
                    load_began,
                    stop.clone(),
                    stats.clone(),
                )),
            ));
        }
        let mut read = s.prepare("SELECT v FROM soak.c WHERE k = ?").await.unwrap();
        read.set_consistency(Consistency::Serial);
        let mut cas = s
            .prepare("UPDATE soak.c SET v = ? WHERE k = ? IF v = ?")
            .await
            .unwrap();
        cas.set_consistency(Consistency::LocalQuorum);
        cas.set_serial_consistency(Some(SerialConsistency::Serial));
        incrementers.push((
            format!("incrementer ({dc})"),
            tokio::spawn(incrementer(
                s.clone(),
                read,
                cas,
                dc,
                stop.clone(),
                stats.clone(),
            )),
        ));
    }
    eprintln!("cluster up and load started after {:.1} s", at(began));

    // The schedule.
    let mut slowest_release = Duration::ZERO;
    for (t, f) in &steps {
        tokio::time::sleep_until((load_began + *t).into()).await;
        let acked = stats.acked.load(Ordering::Relaxed);
        eprintln!(
            "{:5.1} s ({acked} acknowledged, RSS {} MiB): {f:?}",
            at(load_began),
            rss_kib().0 / 1024
        );
        let link = |spec: LinkSpec| faults.set_link(&dc1, &dc2, spec, seed);
        match *f {
            Fault::Cut(d) => {
                cut(&faults, &dc1, &dc2, true);
                tokio::time::sleep(d).await;
                cut(&faults, &dc1, &dc2, false);
            }
            Fault::Latency(d) => {
                link(LinkSpec {
                    latency: Duration::from_millis(100),
                    ..Default::default()
                });
                tokio::time::sleep(d).await;
                faults.clear_link(dc1[0], dc2[0]);
            }
            Fault::Loss(d) => {
                link(LinkSpec {
                    loss: 0.2,
                    ..Default::default()
                });
                tokio::time::sleep(d).await;
                faults.clear_link(dc1[0], dc2[0]);
            }
            Fault::Restart { node, down } => {
                let n = nodes[node].take().unwrap();
                let a = addrs[node];
                let mut remains = Remains::of(&n, &names).await;
                n.stop().await;
                let took = at(remains.stopped);
                remains.stopped = Instant::now();
                eprintln!(
                    "        {a} stopped in {took:.1} s ({} hints pending on it: {:?})",
                    remains.hints.iter().map(|h| h.1).sum::<usize>(),
                    remains.hints
                );
                tokio::time::sleep(down).await;
                let (n, released) = restart(&layout, node, &faults, &remains).await;
                nodes[node] = Some(n);
                if let Some(r) = released {
                    slowest_release = slowest_release.max(r);
                }
            }
        }
        eprintln!("{:5.1} s: healed", at(load_began));
    }
    tokio::time::sleep_until((load_began + end).into()).await;

    // Everything healed, the load stopped.
    faults.heal_all();
    faults.clear_link(dc1[0], dc2[0]);
    let healed = Instant::now();
    let load_secs = at(load_began);
    let nodes: Vec<Node> = nodes.into_iter().map(Option::unwrap).collect();
    let rss_at_heal = rss_kib().0 / 1024;
    let at_heal: usize = pending_hints(&nodes, &addrs)
        .await
        .iter()
        .map(|h| h.2)
        .sum();
    stop.store(true, Ordering::Relaxed);
    let stopped = Instant::now();
    let mut panicked = Vec::new();
    let mut acked: Vec<(i64, f32)> = Vec::new();
    for (name, t) in writers {
        match t.await {
            Ok(k) => acked.extend(k),
            Err(e) => panicked.push(format!("{name}: {e}")),
        }
    }
    acked.sort_by_key(|a| a.0);
    let keys: Vec<i64> = acked.iter().map(|a| a.0).collect();
    // When a key was acknowledged (s from the start of the load), to tell.
    let when = |k: &i64| {
        acked
            .binary_search_by_key(k, |a| a.0)
            .map_or(f32::NAN, |i| acked[i].1)
    };
    let mut applied = [0u64; COUNTERS];
    let mut unknown = [0u64; COUNTERS];
    let mut anomalies = Vec::new();
    let (mut not_applied, mut unavailable, mut read_failed) = (0, 0, 0);
    for (name, t) in incrementers {
        match t.await {
            Ok(inc) => {
                for k in 0..COUNTERS {
                    applied[k] += inc.applied[k];
                    unknown[k] += inc.unknown[k];
                }
                not_applied += inc.not_applied;
                unavailable += inc.unavailable;
                read_failed += inc.read_failed;
                anomalies.extend(inc.anomalies);
            }
            Err(e) => panicked.push(format!("{name}: {e}")),
        }
    }
    assert!(panicked.is_empty(), "tasks panicked: {panicked:?}");
    let rate = keys.len() as f64 / load_secs;
    eprintln!(
        "healed at {load_secs:.1} s: {} writes acknowledged ({rate:.0}/s), {at_heal} hints pending; \
         failures: {:?}",
        keys.len(),
        stats.failed.lock().unwrap()
    );
    eprintln!(
        "LWT: applied {applied:?}, unknown {unknown:?}, {not_applied} not applied, \
         {unavailable} unavailable, {read_failed} SERIAL reads failed"
    );

    // 1. The hints are delivered. A write in flight when the load stopped
    // gets its hints only when its timeout passes.
    until(
        healed + HINTS_DRAINED,
        "every node's hints delivered",
        async || {
            let pending = pending_hints(&nodes, &addrs).await;
            if stopped.elapsed() < WRITE_TIMEOUT + Duration::from_millis(500) {
                return Err(format!(
                    "hints of the last writes may still come: {pending:?}"
                ));
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("(node, for, hints): {pending:?}"))
            }
        },
    )
    .await;
    let drained = healed.elapsed();
    eprintln!(
        "hints delivered {:.1} s after the heal",
        drained.as_secs_f64()
    );

    // 2. Every node holds every acknowledged write in its own storage (each
    // pass looks again only for the keys still lacking).
    let mut lack: Vec<Vec<i64>> = vec![keys.clone(); nodes.len()];
    until(
        healed + REPLICATED,
        "every node holds every acknowledged write",
        async || {
            let tasks: Vec<_> = nodes
                .iter()
                .zip(std::mem::take(&mut lack))
                .map(|(n, ks)| {
                    let e = n.engine.clone();
                    tokio::task::spawn_blocking(move || lacking(&e, &ks))
                })
                .collect();
            for t in tasks {
                lack.push(t.await.unwrap());
            }
            let short: Vec<String> = lack
                .iter()
                .zip(&addrs)
                .filter(|(l, _)| !l.is_empty())
                .map(|(l, a)| {
                    let first: Vec<String> = l
                        .iter()
                        .take(10)
                        .map(|k| format!("{k} (acknowledged at {:.1} s)", when(k)))
                        .collect();
                    format!("{a} lacks {} keys, first {first:?}", l.len())
                })
                .collect();
            if short.is_empty() {
                Ok(())
            } else {
                Err(short.join("\n"))
            }
        },
    )
    .await;
    let replicated = healed.elapsed();
    eprintln!(
        "every node holds all {} acknowledged writes {:.1} s after the heal",
        keys.len(),
        replicated.as_secs_f64()
    );
    // A sample read at LOCAL_ONE through each node (a failed request is
    // tried again; a key not found, or found with another value, fails).
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let sample: Vec<i64> = (0..SAMPLE.min(keys.len()))
        .map(|_| keys[rng.random_range(0..keys.len())])
        .collect();
    for a in &addrs {
        let s = session::through(*a, 30).await;
        let mut get = s.prepare("SELECT v FROM soak.w WHERE k = ?").await.unwrap();
        get.set_consistency(Consistency::LocalOne);
        for k in &sample {
            let found = until(
                Instant::now() + Duration::from_secs(10),
                &format!("key {k} read through {a}"),
                async || {
                    let r = s
                        .execute_unpaged(&get, (*k,))
                        .await
                        .map_err(|e| e.to_string())?;
                    Ok(r.into_rows_result()
                        .unwrap()
                        .maybe_first_row::<(String,)>()
                        .unwrap()
                        .map(|r| r.0))
                },
            )
            .await;
            assert_eq!(
                found.as_deref(),
                Some(value(*k).as_str()),
                "key {k} (acknowledged at {:.1} s) read at LOCAL_ONE through {a}",
                when(k)
            );
        }
    }
    eprintln!(
        "{} sampled keys read at LOCAL_ONE through each node",
        sample.len()
    );

    // 3. The counters, read at SERIAL.
    let serial = session::at("SELECT v FROM soak.c WHERE k = ?", Consistency::Serial);
    let mut finals = [0i32; COUNTERS];
    for (k, v) in finals.iter_mut().enumerate() {
        *v = until(
            Instant::now() + Duration::from_secs(30),
            &format!("counter {k} read at SERIAL"),
            async || {
                let r = s1
                    .query_unpaged(serial.clone(), (k as i32,))
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(r.into_rows_result()
                    .unwrap()
                    .maybe_first_row::<(Option<i32>,)>()
                    .unwrap()
                    .and_then(|r| r.0))
            },
        )
        .await
        .unwrap_or_else(|| panic!("counter {k} vanished"));
    }
    let bad: Vec<String> = (0..COUNTERS)
        .filter(|&k| {
            let v = finals[k] as u64;
            v < applied[k] || v > applied[k] + unknown[k]
        })
        .map(|k| {
            format!(
                "counter {k} is {}, {} increments applied, {} unknown",
                finals[k], applied[k], unknown[k]
            )
        })
        .collect();
    assert!(bad.is_empty(), "LWT counters out of bounds: {bad:?}");
    assert!(anomalies.is_empty(), "LWT anomalies: {anomalies:?}");

    // 4. Memory.
    let (rss, hwm) = rss_kib();
    let (rss_mib, hwm_mib) = (rss / 1024, hwm / 1024);
    let bound_mib = RSS_BASE_MIB + RSS_PER_WRITE_KIB * keys.len() as u64 / 1024;

    eprintln!(
        "SOAK seed {seed}: {} writes acknowledged in {load_secs:.0} s ({rate:.0}/s), \
         {at_heal} hints at the heal, drained in {:.1} s, replicated in {:.1} s; \
         LWT counters {finals:?}: applied {} unknown {}; RSS {rss_mib} MiB (at the heal {rss_at_heal} MiB, peak {hwm_mib} MiB, \
         bound {bound_mib} MiB); \
         a stopped node let go of its directory within {:.1} s; {:.0} s in all",
        keys.len(),
        drained.as_secs_f64(),
        replicated.as_secs_f64(),
        applied.iter().sum::<u64>(),
        unknown.iter().sum::<u64>(),
        slowest_release.as_secs_f64(),
        at(began)
    );
    assert!(
        rss_mib < bound_mib,
        "resident memory {rss_mib} MiB (at the heal {rss_at_heal} MiB, peak {hwm_mib} MiB), \
         bound {bound_mib} MiB for {} acknowledged writes",
        keys.len()
    );
    drop((s1, s2));
    for n in nodes {
        n.stop().await;
    }
}
