//! `ccrsim node` as a process: it logs Cassandra's ready line, keeps every
//! acknowledged write through a SIGKILL in the middle of a write load, and
//! stops cleanly on SIGTERM.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_ccrsim");

/// Starts `ccrsim node` and waits (with a deadline) for its ready line.
async fn start(addr: &str, dir: &std::path::Path) -> Child {
    let mut child = Command::new(BIN)
        .args([
            "node",
            "--listen-address",
            addr,
            "--cluster-name",
            "Kill Test",
        ])
        .arg("--data-dir")
        .arg(dir)
        .env("CCRSIM_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ccrsim node starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
            .await
            .expect("the node logs its ready line within 30 s")
            .unwrap()
            .expect("the node exited before it was ready");
        if line.contains(&format!(
            "Starting listening for CQL clients on /{addr}:9042"
        )) {
            break;
        }
    }
    // Keep draining the log so the node never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

async fn connect(addr: &str) -> Session {
    SessionBuilder::new()
        .known_node(format!("{addr}:9042"))
        .user("cassandra", "cassandra")
        .build()
        .await
        .expect("connects")
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
        let n: (i64,) = s
            .query_unpaged("SELECT count(*) FROM durable.t", &[])
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .single_row()
            .unwrap();
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
