//! `ccrsim node` as a process: it logs Cassandra's ready line, keeps every
//! acknowledged write through a SIGKILL in the middle of a write load,
//! stops cleanly on SIGTERM, takes its limits from `CASSANDRA_*` variables,
//! and keeps its memory flat when clients declare huge frames.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process;
use scylla::client::session::Session;
use tokio::process::Child;

/// Starts `ccrsim node` and waits (with a deadline) for its ready line.
async fn start(addr: &str, dir: &std::path::Path) -> Child {
    start_with(addr, dir, &[]).await
}

/// [`start`] with extra environment variables.
async fn start_with(addr: &str, dir: &std::path::Path, env: &[(&str, &str)]) -> Child {
    let mut cmd = process::node_command(addr, "Kill Test", dir, "info");
    cmd.envs(env.iter().copied());
    process::start_node(&mut cmd, addr).await
}

async fn connect(addr: &str) -> Session {
    common::session::connect(addr).await.expect("connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let addr = "127.0.63.1";
    let dir = tempfile::tempdir().unwrap();
    let mut child = start(addr, dir.path()).await;
    let s = Arc::new(connect(addr).await);
    s.query_unpaged(
        "CREATE KEYSPACE durable WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();
    s.query_unpaged("CREATE TABLE durable.t (k int PRIMARY KEY, v text)", &[])
        .await
        .unwrap();
    let insert = s
        .prepare("INSERT INTO durable.t (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    // Eight writers; each remembers what the node acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..8i32 {
        let (s, insert, stop) = (s.clone(), insert.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut k = w;
            while !stop.load(Ordering::Relaxed) {
                match s.execute_unpaged(&insert, (k, format!("value {k}"))).await {
                    Ok(_) => acked.push(k),
                    Err(_) => break,
                }
                k += 8;
            }
            acked
        }));
    }
    // Kill once a good number of writes were acknowledged, with more in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n: (i64,) =
            common::session::single_row(&s, "SELECT count(*) FROM durable.t", &[]).await;
        if n.0 >= 2000 {
            break;
        }
        assert!(Instant::now() < deadline, "the write load is too slow");
        tokio::task::yield_now().await;
    }
    child.kill().await.unwrap(); // SIGKILL, mid-load
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.await.unwrap());
    }
    assert!(acked.len() >= 2000);

    let _child = start(addr, dir.path()).await;
    let s = connect(addr).await;
    let read = s
        .prepare("SELECT v FROM durable.t WHERE k = ?")
        .await
        .unwrap();
    for k in &acked {
        let r = s.execute_unpaged(&read, (*k,)).await.unwrap();
        let row: Option<(String,)> = r.into_rows_result().unwrap().maybe_first_row().unwrap();
        assert_eq!(
            row.map(|r| r.0),
            Some(format!("value {k}")),
            "acknowledged write {k} was lost"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_node_cleanly() {
    let addr = "127.0.63.2";
    let dir = tempfile::tempdir().unwrap();
    let mut child = start(addr, dir.path()).await;
    let s = connect(addr).await;
    s.query_unpaged(
        "CREATE KEYSPACE kept WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();
    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the node stops within 30 s of SIGTERM")
        .unwrap();
    assert!(exit.success(), "exit status {exit:?}");
    drop(s);
    // The schema is there after a restart.
    let _child = start(addr, dir.path()).await;
    let s = connect(addr).await;
    let rows = s
        .query_unpaged(
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = 'kept'",
            &[],
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(rows.rows_num(), 1);
}

/// The process's peak resident memory (VmHWM), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/PID/status");
    let kb: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_declared_frames_leave_memory_flat_and_limits_come_from_the_environment() {
    use common::wire;
    use tokio::io::AsyncWriteExt;

    let addr = "127.0.86.5";
    let cql = "127.0.86.5:9042";
    let dir = tempfile::tempdir().unwrap();
    let child = start_with(
        addr,
        dir.path(),
        &[
            ("CASSANDRA_BATCH_SIZE_WARN_THRESHOLD", "1KiB"),
            ("CASSANDRA_BATCH_SIZE_FAIL_THRESHOLD", "2KiB"),
        ],
    )
    .await;
    let pid = child.id().unwrap();
    let s = connect(addr).await;
    s.query_unpaged(
        "CREATE KEYSPACE mem WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();
    s.query_unpaged("CREATE TABLE mem.t (k int PRIMARY KEY, v text)", &[])
        .await
        .unwrap();
    // The environment's 1KiB/2KiB thresholds: two partitions of 1.5 KiB
    // (far under the default 50KiB) are too large.
    let v = "x".repeat(1536);
    let e = s
        .query_unpaged(
            format!(
                "BEGIN BATCH INSERT INTO mem.t (k, v) VALUES (1, '{v}'); INSERT INTO mem.t (k, v) VALUES (2, '{v}'); APPLY BATCH"
            ),
            &[],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Batch too large"), "{e}");
    let before = peak_rss(pid);

    // Three unauthenticated connections declare 96 MiB STARTUP frames and
    // send their bodies: each is refused on the header and closed.
    let unauthenticated = (0..3).map(|i| async move {
        let mut c = tokio::net::TcpStream::connect(cql).await.unwrap();
        c.write_all(&wire::header(i, wire::STARTUP, 96 << 20))
            .await
            .unwrap();
        let (code, _) = wire::read(&mut c).await.error();
        assert_eq!(code, 0x000A);
        let chunk = vec![0u8; 1 << 20];
        let mut sent = 0;
        while sent < 96 && c.write_all(&chunk).await.is_ok() {
            sent += 1;
        }
        assert!(sent < 96, "the node stopped reading");
    });
    futures::future::join_all(unauthenticated).await;
    // Three logged-in connections send 17 MiB frames whole: each is refused
    // on its header, its body skipped, and the connection goes on.
    let logged_in = (0..3).map(|i| async move {
        let mut c = wire::login(cql, false).await;
        c.write_all(&wire::header(2, wire::QUERY, 17 << 20))
            .await
            .unwrap();
        assert_eq!(wire::read(&mut c).await.error().0, 0x2200, "client {i}");
        let chunk = vec![b' '; 1 << 20];
        for _ in 0..17 {
            c.write_all(&chunk).await.unwrap();
        }
        let q = wire::query_body("SELECT key FROM system.local");
        c.write_all(&wire::frame(3, wire::QUERY, &q)).await.unwrap();
        assert_eq!(wire::read(&mut c).await.opcode, wire::RESULT);
    });
    futures::future::join_all(logged_in).await;
    let after = peak_rss(pid);
    // Buffering them would have taken 3 x 17 MiB at least (and 3 x 96 MiB
    // before authentication).
    assert!(
        after.saturating_sub(before) < 8 << 20,
        "peak memory grew from {} MiB to {} MiB",
        before >> 20,
        after >> 20
    );
    drop(child);
}
