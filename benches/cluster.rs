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
//! The workload is `ccrsim::cli::bench::workload`, the same as `ccrsim
//! bench` runs. It prints one line per measurement (ops, seconds, ops/s,
//! p50 and p99 in ms) under a header naming the machine. Client and six nodes share the
//! machine, so read the figures as an order of magnitude.
//! `CCRSIM_BENCH_OPS` sets the operations per phase (default 50 000),
//! `CCRSIM_BENCH_LAG_ROWS` the rows of the lag measurement (default 2000).
//! The nodes hand each other their messages in memory, as a daemon's
//! services do (`Faults::in_memory`); `CCRSIM_BENCH_TCP=1` sends them over
//! loopback TCP instead, as nodes in separate processes do.
//!
//! Then DDL latency: `CCRSIM_BENCH_DDL` (default 40) `CREATE TABLE`
//! statements, alternately through dc1 and dc2, each timed until the
//! driver returns (the scylla driver waits for every node to report the
//! same schema version, then refreshes its metadata, as drivers do after
//! DDL); min, p50, p99 and max in ms.
//!
//! Last, hint replay: dc2 is cut off from dc1, `CCRSIM_BENCH_HINT_ROWS`
//! (default 20 000) LOCAL_QUORUM writes through dc1 leave a hint each for
//! the three dc2 replicas, and after the heal the bench reports how fast
//! dc1's nodes deliver them over a link of `CCRSIM_BENCH_HINT_LATENCY_MS`
//! (default 46, the demo pair's Ireland to South Carolina) each way (0
//! rows skip it).
//!
//! Then anti-entropy repair: `CCRSIM_BENCH_REPAIR_ROWS` (default 100 000)
//! rows in table `rep`, of which `CCRSIM_BENCH_REPAIR_DIFF` percent
//! (default 10) are written through dc1 while dc2 is cut off and hinted
//! handoff is disabled, so dc2's replicas lack them; then `nodetool repair
//! --full bench rep` on one dc1 node (every range of the node, compared on
//! all six replicas, over the same link as the hints) is timed, and once
//! more with nothing left to repair (0 rows skip it).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::cluster::member::GossipSettings;
use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;

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

fn config(addr: &str, dc: &str, rack: &str, dir: &std::path::Path) -> NodeConfig {
    let mut c = NodeConfig::local(addr.parse().unwrap(), dir);
    c.dc = dc.into();
    c.rack = rack.into();
    c.seeds = SEEDS.iter().map(|s| s.parse().unwrap()).collect();
    c.cluster_name = "Bench Cluster".into();
    c
}

/// `n` CREATE TABLE statements alternately through `a` and `b`, each timed
/// until the driver (which waits for schema agreement) returns.
async fn ddl_latency(
    a: &scylla::client::session::Session,
    b: &scylla::client::session::Session,
    n: usize,
) {
    let mut ms = Vec::with_capacity(n);
    for i in 0..n {
        let s = if i % 2 == 0 { a } else { b };
        let t = Instant::now();
        s.query_unpaged(
            format!("CREATE TABLE bench.ddl_{i} (k int PRIMARY KEY, v text, w int)"),
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("CREATE TABLE bench.ddl_{i}: {e}"));
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "ddl CREATE TABLE (driver waits for agreement): {n} statements, min {:.1} ms, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms[0],
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    );
}

/// Hints kept by the nodes of dc1.
fn pending_in_dc1(nodes: &[Node]) -> usize {
    nodes[..3]
        .iter()
        .flat_map(|n| ccrsim::node::cluster::hints::pending(&n.engine.storage).unwrap())
        .map(|(_, n)| n)
        .sum()
}

/// dc2 cut off from dc1; `rows` LOCAL_QUORUM writes through dc1 leave a
/// hint each for the three dc2 replicas; after the heal, how long dc1's
/// nodes take to deliver them all.
async fn hint_replay(
    nodes: &[Node],
    addrs: &[IpAddr],
    faults: &Faults,
    dc1: &Arc<scylla::client::session::Session>,
    rows: usize,
) {
    if rows == 0 {
        return;
    }
    for a in &addrs[..3] {
        for b in &addrs[3..] {
            faults.cut(*a, *b);
        }
    }
    wait_until(60, "dc1 sees dc2 down", || {
        nodes[..3]
            .iter()
            .all(|n| addrs[3..].iter().all(|a| !n.member.core.is_alive(a)))
    })
    .await;
    let mut stmt = dc1
        .prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    stmt.set_consistency(scylla::statement::Consistency::LocalQuorum);
    let mut tasks = Vec::new();
    for t in 0..64 {
        let (s, stmt) = (dc1.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let value = "h".repeat(100);
            let mut i = t;
            while i < rows {
                s.execute_unpaged(&stmt, (1_500_000_000 + i as i32, &value))
                    .await
                    .unwrap();
                i += 64;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let kept = pending_in_dc1(nodes);
    // The pair's link as `ccr link` sets it for the demo pair (Ireland to
    // South Carolina): hints cross it as writes would.
    let latency = env_usize("CCRSIM_BENCH_HINT_LATENCY_MS", 46) as u64;
    let spec = ccrsim::node::cluster::transport::LinkSpec {
        latency: Duration::from_millis(latency),
        jitter: Duration::ZERO,
        loss: 0.0,
        down: false,
    };
    faults.set_link(&addrs[..3], &addrs[3..], spec, 1);
    let start = Instant::now();
    faults.heal_all();
    let mut last = Instant::now();
    while pending_in_dc1(nodes) > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(3600),
            "hints still pending after an hour"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = Instant::now();
    }
    let took = last.duration_since(start);
    println!(
        "hint replay            {kept:>7} hints {:>7.2} s {:>9.0} hints/s (dc1 to dc2 over a {latency} ms link, from the heal)",
        took.as_secs_f64(),
        kept as f64 / took.as_secs_f64().max(1e-9)
    );
}

/// Writes keys `from..to` of `bench.rep` through `s` at LOCAL_QUORUM, 64 in flight.
async fn write_rep(s: &Arc<scylla::client::session::Session>, from: usize, to: usize) {
    let mut stmt = s
        .prepare("INSERT INTO bench.rep (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    stmt.set_consistency(scylla::statement::Consistency::LocalQuorum);
    let mut tasks = Vec::new();
    for t in 0..64 {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let value = "r".repeat(100);
            let mut i = from + t;
            while i < to {
                s.execute_unpaged(&stmt, (i as i32, &value)).await.unwrap();
                i += 64;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Keys of `bench.rep` below `rows` that node `n` lacks.
fn rep_missing(n: &Node, rows: usize) -> usize {
    let t = n.engine.schema().table("bench", "rep").unwrap().clone();
    (0..rows as i32)
        .filter(|k| {
            let key = k.to_be_bytes();
            let token = ccrsim::node::locator::partitioner::token(&key);
            n.engine
                .storage
                .read_partition(&t.id, token, &key)
                .unwrap()
                .is_none()
        })
        .count()
}

/// `nodetool repair --full bench rep` on dc1's first node: seconds, and
/// the summary line.
async fn timed_repair() -> (f64, String) {
    let start = Instant::now();
    let args = ["repair", "--full", "bench", "rep"]
        .map(String::from)
        .to_vec();
    let addr = std::net::SocketAddr::new(NODES[0].0.parse().unwrap(), 7000);
    let (ok, text) = ccrsim::node::cluster::transport::admin(addr, args)
        .await
        .unwrap();
    assert!(ok, "{text}");
    let took = start.elapsed().as_secs_f64();
    let summary = text
        .lines()
        .find(|l| l.contains("ranges compared"))
        .and_then(|l| l.split("bench.rep: ").nth(1))
        .unwrap_or_default()
        .to_string();
    (took, summary)
}

/// A table of `rows` rows, `diff` percent of them missing on dc2's replicas
/// (written while dc2 was cut off, no hints); times the repair.
async fn repair(
    nodes: &[Node],
    addrs: &[IpAddr],
    faults: &Faults,
    dc1: &Arc<scylla::client::session::Session>,
    rows: usize,
    diff: usize,
) {
    if rows == 0 {
        return;
    }
    dc1.query_unpaged("CREATE TABLE bench.rep (k int PRIMARY KEY, v text)", &[])
        .await
        .unwrap();
    dc1.await_schema_agreement().await.unwrap();
    // The demo pair's link, as the hint phase leaves it (set here too, so
    // that this phase runs alone the same way).
    let spec = ccrsim::node::cluster::transport::LinkSpec {
        latency: Duration::from_millis(env_usize("CCRSIM_BENCH_HINT_LATENCY_MS", 46) as u64),
        jitter: Duration::ZERO,
        loss: 0.0,
        down: false,
    };
    faults.set_link(&addrs[..3], &addrs[3..], spec, 1);
    let missing = rows * diff.min(100) / 100;
    let shared = rows - missing;
    write_rep(dc1, 0, shared).await;
    wait_until(120, "dc2 holds the shared rows", || {
        nodes[3..].iter().all(|n| rep_missing(n, shared) == 0)
    })
    .await;
    for n in &nodes[..3] {
        n.member.core.membership().set_hints_enabled(false);
    }
    for a in &addrs[..3] {
        for b in &addrs[3..] {
            faults.cut(*a, *b);
        }
    }
    wait_until(60, "dc1 sees dc2 down", || {
        nodes[..3]
            .iter()
            .all(|n| addrs[3..].iter().all(|a| !n.member.core.is_alive(a)))
    })
    .await;
    write_rep(dc1, shared, rows).await;
    faults.heal_all();
    wait_until(60, "all six up again", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    let lacking = rep_missing(&nodes[3], rows);
    let (took, summary) = timed_repair().await;
    println!(
        "repair --full          {rows:>7} rows {took:>7.2} s  ({lacking} rows missing on each dc2 replica; {summary})"
    );
    for n in nodes {
        assert_eq!(rep_missing(n, rows), 0, "a replica still lacks rows");
    }
    let (took, summary) = timed_repair().await;
    println!("repair --full again    {rows:>7} rows {took:>7.2} s  ({summary})");
    for n in &nodes[..3] {
        n.member.core.membership().set_hints_enabled(true);
    }
}

/// Polls `cond` until it holds; panics with `what` after `secs` seconds.
async fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn main() {
    let ops = env_usize("CCRSIM_BENCH_OPS", 50_000).max(1);
    let lag_rows = env_usize("CCRSIM_BENCH_LAG_ROWS", 2000).max(1);
    let hint_rows = env_usize("CCRSIM_BENCH_HINT_ROWS", 20_000);
    assert!(
        3 * ops + 1_000_000 < i32::MAX as usize,
        "CCRSIM_BENCH_OPS is too large"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        println!(
            "# ccrsim cluster bench: 3+3 nodes in one process (NTS dc1:3 dc2:3), 64 in flight, {ops} ops per phase, {lag_rows} lag rows; {}",
            ccrsim::cli::bench::machine()
        );
        let t_start = Instant::now();
        let dirs: Vec<tempfile::TempDir> =
            NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let faults = Arc::new(match std::env::var("CCRSIM_BENCH_TCP").as_deref() {
            Ok("1") => Faults::default(),
            _ => Faults::in_memory(),
        });
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
        let session = |addr: &'static str, dc: &'static str| async move {
            ccrsim::cli::bench::session_in(&format!("{addr}:9042"), dc, "cassandra", "cassandra")
                .await
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let dc1 = session(NODES[0].0, "dc1").await;
        let dc2 = session(NODES[3].0, "dc2").await;
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
        let ddl = env_usize("CCRSIM_BENCH_DDL", 40);
        if ddl > 0 {
            ddl_latency(&dc1, &dc2, ddl).await;
        }
        let mut out = std::io::stdout();
        ccrsim::cli::bench::workload(&dc1, &dc2, "bench", 0, ops, lag_rows, &mut out)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        hint_replay(&nodes, &addrs, &faults, &dc1, hint_rows).await;
        let repair_rows = env_usize("CCRSIM_BENCH_REPAIR_ROWS", 100_000);
        let repair_diff = env_usize("CCRSIM_BENCH_REPAIR_DIFF", 10);
        repair(&nodes, &addrs, &faults, &dc1, repair_rows, repair_diff).await;
        drop((dc1, dc2));
        for n in nodes {
            n.stop().await;
        }
    });
}
