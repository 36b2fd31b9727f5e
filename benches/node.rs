//! Single-node throughput and latency through the scylla driver.
//!
//! `cargo bench --bench node` starts a node in this process (release build,
//! periodic commit log as Cassandra's default), then runs prepared INSERTs
//! and SELECTs by key with 64 requests in flight and prints ops/s and
//! latency percentiles. The README records the figures and the machine.
//! Set `CCRSIM_BENCH_OPS` to change the number of operations (default 100 000).
//! With `CCRSIM_BENCH_AUTHORIZER=CassandraAuthorizer` the node checks
//! permissions and the workload runs as a role that was granted SELECT and
//! MODIFY on the keyspace (what an application on a service does), so the
//! two runs side by side give the cost of authorization. After the writes
//! it prints the process's resident memory (node and client together);
//! `CCRSIM_BENCH_MEMTABLE_MB` and `CCRSIM_BENCH_CACHE_MB` change the
//! node's storage limits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::config::{Authorizer, NodeConfig};
use ccrsim::node::instance::Node;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;

const CONCURRENCY: usize = 64;

/// This process's resident memory (`VmRSS`), in MiB.
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn phase(name: &str, s: &Arc<Session>, stmt: &PreparedStatement, ops: usize, write: bool) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(ops / CONCURRENCY + 1);
            let value = "x".repeat(100);
            let mut k = t;
            while k < ops {
                let t0 = Instant::now();
                if write {
                    s.execute_unpaged(&stmt, (k as i32, &value)).await.unwrap();
                } else {
                    s.execute_unpaged(&stmt, (k as i32,)).await.unwrap();
                }
                lat.push(t0.elapsed());
                k += CONCURRENCY;
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(ops);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed();
    all.sort();
    println!(
        "{name:<6} {ops} ops in {:.2} s: {:.0} ops/s, p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
        percentile(&all, 0.999).as_secs_f64() * 1e3,
    );
}

fn main() {
    let ops: usize = std::env::var("CCRSIM_BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let authorize = std::env::var("CCRSIM_BENCH_AUTHORIZER")
            .is_ok_and(|v| v == "CassandraAuthorizer");
        let mut cfg = NodeConfig::local("127.0.64.1".parse().unwrap(), dir.path());
        if authorize {
            cfg.authorizer = Authorizer::Cassandra;
        }
        // The storage's memory limits, in MiB (the node's defaults otherwise).
        let mib = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        if let Some(m) = mib("CCRSIM_BENCH_MEMTABLE_MB") {
            cfg.storage.memtable_bytes = m << 20;
        }
        if let Some(c) = mib("CCRSIM_BENCH_CACHE_MB") {
            cfg.storage.cache_bytes = c << 20;
        }
        println!("storage limits: {:?}", cfg.storage);
        let before = rss_mib();
        let node = Node::start(cfg).await.unwrap();
        let admin = Arc::new(
            SessionBuilder::new()
                .known_node("127.0.64.1:9042")
                .user("cassandra", "cassandra")
                .build()
                .await
                .unwrap(),
        );
        for q in [
            "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE bench.kv (k int PRIMARY KEY, v text)",
            "CREATE ROLE bench_app WITH PASSWORD = 'app' AND LOGIN = true",
        ] {
            admin.query_unpaged(q, &[]).await.unwrap();
        }
        let s = if authorize {
            for q in [
                "GRANT SELECT ON KEYSPACE bench TO bench_app",
                "GRANT MODIFY ON KEYSPACE bench TO bench_app",
            ] {
                admin.query_unpaged(q, &[]).await.unwrap();
            }
            Arc::new(
                SessionBuilder::new()
                    .known_node("127.0.64.1:9042")
                    .user("bench_app", "app")
                    .build()
                    .await
                    .unwrap(),
            )
        } else {
            admin.clone()
        };
        println!(
            "authorizer: {}",
            if authorize {
                "CassandraAuthorizer, as bench_app"
            } else {
                "AllowAllAuthorizer, as cassandra"
            }
        );
        let insert = s.prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)").await.unwrap();
        let select = s.prepare("SELECT v FROM bench.kv WHERE k = ?").await.unwrap();
        phase("warmup", &s, &insert, 5_000, true).await;
        phase("write", &s, &insert, ops, true).await;
        println!(
            "resident memory: {before:.1} MiB before the node, {:.1} MiB after {} rows of 100 bytes (the node and the client, one process)",
            rss_mib(),
            ops.max(5_000)
        );
        phase("read", &s, &select, ops, false).await;
        println!("resident memory after the reads: {:.1} MiB", rss_mib());
        drop(s);
        drop(admin);
        node.stop().await;
    });
}
