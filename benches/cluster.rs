//! Throughput, latency and cross-datacenter visibility lag of a 3+3 cluster
//! through the scylla driver.
//!
//! `cargo bench --bench cluster` starts six nodes in this process (release
//! build, periodic commit log as Cassandra's default, default gossip
//! timing): dc1 on 127.0.80.1-3 and dc2 on 127.0.81.1-3, racks a/b/c, each
//! with its own data directory. Once every node sees all six up, it creates
//! keyspace `bench` with NetworkTopologyStrategy {'dc1': 3, 'dc2': 3} and
//! table `kv (k int PRIMARY KEY, v text)`, waits for schema agreement, then
//! measures with sessions pinned to one datacenter (DefaultPolicy preferring
//! it, no datacenter failover, token-aware), prepared statements and 64
//! requests in flight:
//!
//! - prepared writes (100-byte values) at LOCAL_ONE, LOCAL_QUORUM and
//!   EACH_QUORUM through dc1;
//! - prepared reads by key at LOCAL_ONE and LOCAL_QUORUM through dc1, of
//!   keys written before;
//! - the cross-datacenter visibility lag: from the acknowledgement of a
//!   LOCAL_QUORUM write through dc1 until a LOCAL_ONE read through dc2 first
//!   returns the row (dc2 polled back to back, 16 rows probed concurrently).
//!
//! It prints one line per measurement (ops, seconds, ops/s, p50 and p99 in
//! ms) under a header naming the machine. Client and six nodes share the
//! machine, so read the figures as an order of magnitude.
//! `CCRSIM_BENCH_OPS` sets the operations per phase (default 50 000),
//! `CCRSIM_BENCH_LAG_ROWS` the rows of the lag measurement (default 2000).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::cluster::member::GossipSettings;
use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;

const CONCURRENCY: usize = 64;
const LAG_PROBES: usize = 16;

const NODES: [(&str, &str, &str); 6] = [
    ("127.0.80.1", "dc1", "a"),
    ("127.0.80.2", "dc1", "b"),
    ("127.0.80.3", "dc1", "c"),
    ("127.0.81.1", "dc2", "a"),
    ("127.0.81.2", "dc2", "b"),
    ("127.0.81.3", "dc2", "c"),
];
const SEEDS: [&str; 2] = ["127.0.80.1", "127.0.81.1"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// One result line: name, ops, seconds, ops/s, p50 and p99 in ms.
fn report(name: &str, mut lat: Vec<Duration>, elapsed: Duration, extra: &str) {
    lat.sort();
    let ops = lat.len();
    println!(
        "{name:<22} {ops:>7} ops {:>7.2} s {:>9.0} ops/s  p50 {:>7.3} ms  p99 {:>7.3} ms{extra}",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    );
}

/// `uname -m`, nproc and the CPU model, for the header.
fn machine() -> String {
    let arch = std::process::Command::new("uname")
        .arg("-m")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("nproc {nproc}, uname -m {arch}, {cpu}")
}

fn config(addr: &str, dc: &str, rack: &str, dir: &std::path::Path) -> NodeConfig {
    let mut c = NodeConfig::local(addr.parse().unwrap(), dir);
    c.dc = dc.into();
    c.rack = rack.into();
    c.seeds = SEEDS.iter().map(|s| s.parse().unwrap()).collect();
    c.cluster_name = "Bench Cluster".into();
    c
}

/// Polls `cond` until it holds; panics with `what` after `secs` seconds.
async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A token-aware driver session that stays in datacenter `dc`.
async fn session_in(addr: &str, dc: &str) -> Arc<Session> {
    let policy = DefaultPolicy::builder()
        .prefer_datacenter(dc.to_string())
        .permit_dc_failover(false)
        .token_aware(true)
        .build();
    let profile = ExecutionProfile::builder()
        .load_balancing_policy(policy)
        .build();
    Arc::new(
        SessionBuilder::new()
            .known_node(format!("{addr}:9042"))
            .user("cassandra", "cassandra")
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {addr} ({dc}): {e}")),
    )
}

fn with_consistency(stmt: &PreparedStatement, cl: Consistency) -> PreparedStatement {
    let mut s = stmt.clone();
    s.set_consistency(cl);
    s
}

/// Writes keys `first..first + ops` (64 in flight), returns the latencies and the elapsed time.
async fn writes(
    s: &Arc<Session>,
    stmt: &PreparedStatement,
    first: i32,
    ops: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(ops / CONCURRENCY + 1);
            let value = "x".repeat(100);
            let mut i = t;
            while i < ops {
                let k = first + i as i32;
                let t0 = Instant::now();
                s.execute_unpaged(&stmt, (k, &value))
                    .await
                    .unwrap_or_else(|e| panic!("write of key {k} failed: {e}"));
                lat.push(t0.elapsed());
                i += CONCURRENCY;
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all, start.elapsed())
}

/// Reads keys `first..first + ops` (64 in flight); also counts the keys not found.
async fn reads(
    s: &Arc<Session>,
    stmt: &PreparedStatement,
    first: i32,
    ops: usize,
) -> (Vec<Duration>, Duration, usize) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(ops / CONCURRENCY + 1);
            let mut missing = 0;
            let mut i = t;
            while i < ops {
                let k = first + i as i32;
                let t0 = Instant::now();
                let r = s
                    .execute_unpaged(&stmt, (k,))
                    .await
                    .unwrap_or_else(|e| panic!("read of key {k} failed: {e}"));
                lat.push(t0.elapsed());
                let row: Option<(String,)> =
                    r.into_rows_result().unwrap().maybe_first_row().unwrap();
                if row.is_none() {
                    missing += 1;
                }
                i += CONCURRENCY;
            }
            (lat, missing)
        }));
    }
    let mut all = Vec::with_capacity(ops);
    let mut missing = 0;
    for t in tasks {
        let (lat, m) = t.await.unwrap();
        all.extend(lat);
        missing += m;
    }
    (all, start.elapsed(), missing)
}

/// Visibility lag: for each key, a LOCAL_QUORUM write through dc1, then
/// LOCAL_ONE reads through dc2 back to back until the row is there; the lag
/// runs from the write's acknowledgement to the end of the first read that
/// returns the row. Returns the lags, the elapsed time and how many rows
/// needed more than one read.
async fn lag(
    dc1: &Arc<Session>,
    dc2: &Arc<Session>,
    insert: &PreparedStatement,
    select: &PreparedStatement,
    first: i32,
    rows: usize,
) -> (Vec<Duration>, Duration, usize) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..LAG_PROBES {
        let (dc1, dc2) = (dc1.clone(), dc2.clone());
        let (insert, select) = (insert.clone(), select.clone());
        tasks.push(tokio::spawn(async move {
            let mut lags = Vec::with_capacity(rows / LAG_PROBES + 1);
            let mut retried = 0;
            let mut i = t;
            while i < rows {
                let k = first + i as i32;
                let value = format!("lag {k}");
                dc1.execute_unpaged(&insert, (k, &value))
                    .await
                    .unwrap_or_else(|e| panic!("LOCAL_QUORUM write of key {k} failed: {e}"));
                let acked = Instant::now();
                let mut reads = 0;
                loop {
                    let r = dc2
                        .execute_unpaged(&select, (k,))
                        .await
                        .unwrap_or_else(|e| panic!("dc2 read of key {k} failed: {e}"));
                    reads += 1;
                    let row: Option<(String,)> =
                        r.into_rows_result().unwrap().maybe_first_row().unwrap();
                    if row.is_some_and(|r| r.0 == value) {
                        break;
                    }
                    assert!(
                        acked.elapsed() < Duration::from_secs(30),
                        "key {k} written through dc1 is not readable through dc2 after 30 s"
                    );
                    tokio::task::yield_now().await;
                }
                lags.push(acked.elapsed());
                if reads > 1 {
                    retried += 1;
                }
                i += LAG_PROBES;
            }
            (lags, retried)
        }));
    }
    let mut all = Vec::with_capacity(rows);
    let mut retried = 0;
    for t in tasks {
        let (l, r) = t.await.unwrap();
        all.extend(l);
        retried += r;
    }
    (all, start.elapsed(), retried)
}

fn main() {
    let ops = env_usize("CCRSIM_BENCH_OPS", 50_000).max(1);
    let lag_rows = env_usize("CCRSIM_BENCH_LAG_ROWS", 2000).max(1);
    assert!(
        3 * ops + 1_000_000 < i32::MAX as usize,
        "CCRSIM_BENCH_OPS is too large"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        println!(
            "# ccrsim cluster bench: 3+3 nodes in one process (NTS dc1:3 dc2:3), {CONCURRENCY} in flight, {ops} ops per phase, {lag_rows} lag rows; {}",
            machine()
        );
        let t_start = Instant::now();
        let dirs: Vec<tempfile::TempDir> =
            NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let faults = Arc::new(Faults::default());
        let mut nodes = Vec::new();
        for ((addr, dc, rack), dir) in NODES.iter().zip(&dirs) {
            let node = Node::start_with(
                config(addr, dc, rack, dir.path()),
                faults.clone(),
                GossipSettings::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("node {addr} does not start: {e}"));
            nodes.push(node);
        }
        let addrs: Vec<IpAddr> = NODES.iter().map(|n| n.0.parse().unwrap()).collect();
        wait_until(60, "every node sees all six up", || {
            nodes.iter().all(|n| {
                addrs.iter().all(|a| n.member.core.is_alive(a))
                    && n.engine.peers().len() == addrs.len() - 1
            })
        })
        .await;
        let dc1 = session_in(NODES[0].0, "dc1").await;
        let dc2 = session_in(NODES[3].0, "dc2").await;
        dc1.query_unpaged(
            "CREATE KEYSPACE bench WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            &[],
        )
        .await
        .unwrap();
        dc1.query_unpaged("CREATE TABLE bench.kv (k int PRIMARY KEY, v text)", &[])
            .await
            .unwrap();
        dc1.await_schema_agreement().await.unwrap();
        wait_until(60, "schema agreement on every node", || {
            let v = nodes[0].engine.schema().version();
            nodes.iter().all(|n| {
                n.engine.schema().version() == v && n.engine.schema().table("bench", "kv").is_some()
            })
        })
        .await;
        dc2.await_schema_agreement().await.unwrap();
        dc1.refresh_metadata().await.unwrap();
        dc2.refresh_metadata().await.unwrap();
        println!(
            "# cluster up and schema agreed in {:.1} s",
            t_start.elapsed().as_secs_f64()
        );

        let insert = dc1
            .prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)")
            .await
            .unwrap();
        let select = dc1
            .prepare("SELECT v FROM bench.kv WHERE k = ?")
            .await
            .unwrap();
        let warm = ops.min(5_000);
        let (lat, t) = writes(
            &dc1,
            &with_consistency(&insert, Consistency::LocalOne),
            -(warm as i32) - 1,
            warm,
        )
        .await;
        report("warmup LOCAL_ONE", lat, t, "");

        // Each write phase has its own keys: [0, ops), [ops, 2 ops), [2 ops, 3 ops).
        let levels = [
            ("write LOCAL_ONE", Consistency::LocalOne),
            ("write LOCAL_QUORUM", Consistency::LocalQuorum),
            ("write EACH_QUORUM", Consistency::EachQuorum),
        ];
        for (i, (name, cl)) in levels.into_iter().enumerate() {
            let (lat, t) = writes(
                &dc1,
                &with_consistency(&insert, cl),
                (i * ops) as i32,
                ops,
            )
            .await;
            report(name, lat, t, "");
        }
        // Reads of the keys written at LOCAL_QUORUM.
        for (name, cl) in [
            ("read LOCAL_ONE", Consistency::LocalOne),
            ("read LOCAL_QUORUM", Consistency::LocalQuorum),
        ] {
            let (lat, t, missing) = reads(
                &dc1,
                &with_consistency(&select, cl),
                ops as i32,
                ops,
            )
            .await;
            let extra = if missing > 0 {
                format!("  ({missing} keys not found)")
            } else {
                String::new()
            };
            report(name, lat, t, &extra);
        }
        let select2 = dc2
            .prepare("SELECT v FROM bench.kv WHERE k = ?")
            .await
            .unwrap();
        let (lags, t, retried) = lag(
            &dc1,
            &dc2,
            &with_consistency(&insert, Consistency::LocalQuorum),
            &with_consistency(&select2, Consistency::LocalOne),
            1_000_000 + (3 * ops) as i32,
            lag_rows,
        )
        .await;
        report(
            "lag dc1->dc2",
            lags,
            t,
            &format!(
                "  ({retried} of {lag_rows} rows needed more than one dc2 read; lag = ack to end of first read returning the row)"
            ),
        );

        drop((dc1, dc2));
        for n in nodes {
            n.stop().await;
        }
    });
}
