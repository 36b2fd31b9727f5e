//! Single-node throughput and latency through the scylla driver.
//!
//! `cargo bench --bench node` starts a node in this process (release build,
//! periodic commit log as Cassandra's default), then runs prepared INSERTs
//! and SELECTs by key with 64 requests in flight and prints ops/s and
//! latency percentiles. The README records the figures and the machine.
//! Set `CCRSIM_BENCH_OPS` to change the number of operations (default 100 000).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::statement::prepared::PreparedStatement;

const CONCURRENCY: usize = 64;

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
        let node = Node::start(NodeConfig::local("127.0.64.1".parse().unwrap(), dir.path()))
            .await
            .unwrap();
        let s = Arc::new(
            SessionBuilder::new()
                .known_node("127.0.64.1:9042")
                .user("cassandra", "cassandra")
                .build()
                .await
                .unwrap(),
        );
        s.query_unpaged(
            "CREATE KEYSPACE bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            &[],
        )
        .await
        .unwrap();
        s.query_unpaged("CREATE TABLE bench.kv (k int PRIMARY KEY, v text)", &[])
            .await
            .unwrap();
        let insert = s.prepare("INSERT INTO bench.kv (k, v) VALUES (?, ?)").await.unwrap();
        let select = s.prepare("SELECT v FROM bench.kv WHERE k = ?").await.unwrap();
        phase("warmup", &s, &insert, 5_000, true).await;
        phase("write", &s, &insert, ops, true).await;
        phase("read", &s, &select, ops, false).await;
        drop(s);
        node.stop().await;
    });
}
