//! A node of a 3+3 cluster SIGKILLed in the middle of a LOCAL_QUORUM write
//! load loses no acknowledged write.
//!
//! Six `ccrsim node` processes (dc1 on 127.0.77.1-3, dc2 on 127.0.78.1-3,
//! racks a/b/c, seeds 127.0.77.1 and 127.0.78.1) form one cluster, as
//! `nodetool status` on every node shows. Eight writers insert distinct
//! keys at LOCAL_QUORUM into a keyspace of NetworkTopologyStrategy
//! {dc1: 3, dc2: 3} through a session pinned to dc1 that never retries;
//! each remembers the keys whose write was acknowledged. 127.0.77.2 is
//! SIGKILLed after 500 acknowledged writes; writing goes on while the others
//! have not noticed (the coordinators keep hints for the silent replica
//! after the write timeout) and after they marked it down (hints kept at
//! once). The node is restarted on the same data directory; once every node
//! sees it up and `nodetool listpendinghints` is empty everywhere:
//!
//! - the restarted node holds every acknowledged write itself (LOCAL_ONE
//!   reads it coordinates, served from its own storage): what it had
//!   acknowledged survived the SIGKILL and the hints filled in the rest;
//! - every acknowledged write reads back at ALL with its value.

mod common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::process::{self, nodetool};
use common::{poll, session};
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use tokio::process::Child;

const NODES: [(&str, &str, &str); 6] = [
    ("127.0.77.1", "dc1", "a"),
    ("127.0.77.2", "dc1", "b"),
    ("127.0.77.3", "dc1", "c"),
    ("127.0.78.1", "dc2", "a"),
    ("127.0.78.2", "dc2", "b"),
    ("127.0.78.3", "dc2", "c"),
];
const SEEDS: &str = "127.0.77.1,127.0.78.1";
const VICTIM: usize = 1; // 127.0.77.2
const WRITERS: i32 = 8;
/// The nodes' write timeout (`ccrsim node`'s default): a replica silent
/// that long gets a hint.
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// Starts `ccrsim node` for `NODES[i]` and waits (with a deadline) for its
/// ready line; its log is drained afterwards so the pipe never fills. The
/// process is SIGKILLed when the `Child` is dropped.
async fn start(i: usize, dir: &std::path::Path) -> Child {
    let (addr, dc, rack) = NODES[i];
    let mut cmd = process::node_command(addr, "Cluster Kill Test", dir, "info");
    cmd.args(["--dc", dc, "--rack", rack, "--seeds", SEEDS]);
    process::start_node(&mut cmd, addr).await
}

/// The addresses `nodetool status` on `addr` shows with state `code` (UN, DN...).
async fn with_state(addr: &str, code: &str) -> Result<(Vec<String>, String), String> {
    let out = nodetool(addr, &["status"]).await?;
    let found = out
        .lines()
        .filter_map(|l| l.strip_prefix(code))
        .filter_map(|rest| rest.split_whitespace().next().map(String::from))
        .collect();
    Ok((found, out))
}

/// Every node in `observers` shows all six nodes UN.
async fn all_up(observers: &[&str]) -> Result<(), String> {
    for addr in observers {
        let (mut up, out) = with_state(addr, "UN ").await?;
        up.sort();
        let mut want: Vec<String> = NODES.iter().map(|n| n.0.to_string()).collect();
        want.sort();
        if up != want {
            return Err(format!("{addr} sees up {up:?}:\n{out}"));
        }
    }
    Ok(())
}

/// Every node has one schema version, shared by all six.
async fn schema_agreed() -> Result<(), String> {
    for (addr, _, _) in NODES {
        let out = nodetool(addr, &["describecluster"]).await?;
        let versions: Vec<&str> = out
            .lines()
            .map(str::trim)
            .filter(|l| l.contains(": [") && !l.starts_with("UNREACHABLE"))
            .collect();
        if versions.len() != 1 || NODES.iter().any(|n| !versions[0].contains(n.0)) {
            return Err(format!("{addr}:\n{out}"));
        }
    }
    Ok(())
}

/// A session that stays in dc1 (token-aware) and never retries: a write
/// that returns `Ok` was acknowledged at its consistency level.
async fn dc1_session() -> Session {
    session::pinned("dc1")
        .token_aware()
        .never_retry()
        .connect(NODES[0].0)
        .await
        .expect("the dc1 session connects")
}

/// Reads `keys` (16 at a time) and returns those not found with `value k`,
/// with what was found instead.
async fn missing(
    s: &Arc<Session>,
    stmt: &PreparedStatement,
    keys: &[i32],
) -> Vec<(i32, Option<String>)> {
    let mut tasks = Vec::new();
    for chunk in keys.chunks(keys.len().div_ceil(16).max(1)) {
        let (s, stmt, chunk) = (s.clone(), stmt.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut bad = Vec::new();
            for k in chunk {
                let r = s
                    .execute_unpaged(&stmt, (k,))
                    .await
                    .unwrap_or_else(|e| panic!("reading key {k} failed: {e}"));
                let row: Option<(String,)> =
                    r.into_rows_result().unwrap().maybe_first_row().unwrap();
                let got = row.map(|r| r.0);
                if got.as_deref() != Some(format!("value {k}").as_str()) {
                    bad.push((k, got));
                }
            }
            bad
        }));
    }
    let mut bad = Vec::new();
    for t in tasks {
        bad.extend(t.await.unwrap());
    }
    bad.sort();
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_of_a_replica() {
    let began = Instant::now();
    let dirs: Vec<tempfile::TempDir> = NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let mut children: Vec<Child> =
        futures::future::join_all(dirs.iter().enumerate().map(|(i, d)| start(i, d.path()))).await;
    let everyone: Vec<&str> = NODES.iter().map(|n| n.0).collect();
    poll(60, "every node shows all six UN", || all_up(&everyone)).await;
    eprintln!("cluster up after {:.1} s", began.elapsed().as_secs_f64());

    let s = Arc::new(dc1_session().await);
    common::session::ddl(
        &s,
        &[
            "CREATE KEYSPACE kill WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE kill.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    poll(30, "one schema version on every node", schema_agreed).await;
    s.refresh_metadata().await.unwrap();
    let mut insert = s
        .prepare("INSERT INTO kill.t (k, v) VALUES (?, ?)")
        .await
        .unwrap();
    insert.set_consistency(Consistency::LocalQuorum);

    // Eight writers of distinct keys; each keeps the keys acknowledged.
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (s, insert) = (s.clone(), insert.clone());
        let (stop, acked, errors) = (stop.clone(), acked.clone(), errors.clone());
        writers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            let mut k = w;
            while !stop.load(Ordering::Relaxed) {
                match s.execute_unpaged(&insert, (k, format!("value {k}"))).await {
                    Ok(_) => {
                        mine.push(k);
                        acked.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => errors.lock().unwrap().push(format!("key {k}: {e}")),
                }
                k += WRITERS;
            }
            mine
        }));
    }
    let wait_acked = |n: usize, what: &'static str| {
        let acked = acked.clone();
        let errors = errors.clone();
        async move {
            poll(30, what, || {
                let (acked, errors) = (acked.clone(), errors.clone());
                async move {
                    let a = acked.load(Ordering::Relaxed);
                    if a >= n {
                        Ok(())
                    } else {
                        let e = errors.lock().unwrap();
                        Err(format!(
                            "{a} of {n} writes acknowledged, {} failed, last: {:?}",
                            e.len(),
                            e.last()
                        ))
                    }
                }
            })
            .await
        }
    };
    wait_acked(500, "500 acknowledged writes before the kill").await;

    let victim = NODES[VICTIM].0;
    children[VICTIM].kill().await.unwrap(); // SIGKILL, writes in flight
    let at_kill = acked.load(Ordering::Relaxed);
    let killed = Instant::now();
    eprintln!(
        "SIGKILLed {victim} after {at_kill} acknowledged writes ({:.1} s)",
        began.elapsed().as_secs_f64()
    );
    // While the others still think it up, then once they marked it down.
    wait_acked(at_kill + 500, "500 acknowledged writes after the kill").await;
    let survivors: Vec<&str> = everyone.iter().copied().filter(|a| *a != victim).collect();
    poll(30, "every other node shows the killed node DN", || async {
        for addr in &survivors {
            let (down, out) = with_state(addr, "DN ").await?;
            if down != [victim] {
                return Err(format!("{addr} shows down {down:?}:\n{out}"));
            }
        }
        Ok(())
    })
    .await;
    eprintln!(
        "{victim} marked down everywhere {:.1} s after the kill",
        killed.elapsed().as_secs_f64()
    );
    let at_down = acked.load(Ordering::Relaxed);
    wait_acked(
        at_down + 200,
        "200 acknowledged writes after the node was marked down",
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    let mut keys = Vec::new();
    for w in writers {
        keys.extend(w.await.unwrap());
    }
    let stopped = Instant::now();
    let failed = errors.lock().unwrap().clone();
    eprintln!(
        "{} writes acknowledged ({at_kill} before the kill), {} failed: {:?}",
        keys.len(),
        failed.len(),
        &failed[..failed.len().min(4)]
    );
    assert!(
        keys.len() >= at_down + 200,
        "the writers returned {} acknowledged keys, the counter said at least {}",
        keys.len(),
        at_down + 200
    );

    let mut pending = 0;
    for addr in &survivors {
        let out = nodetool(addr, &["listpendinghints"]).await.unwrap();
        pending += out
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().last()?.parse::<usize>().ok())
            .sum::<usize>();
    }
    eprintln!("{pending} hints pending on the other nodes before the restart");

    // Restart on the same data directory.
    children[VICTIM] = start(VICTIM, dirs[VICTIM].path()).await;
    poll(60, "every node shows all six UN after the restart", || {
        all_up(&everyone)
    })
    .await;
    eprintln!(
        "{victim} restarted and up everywhere ({:.1} s)",
        began.elapsed().as_secs_f64()
    );
    // A write sent to the silent node just before the writers stopped gets
    // its hint only when the write timeout expires: the hint lists count
    // only from then on.
    poll(60, "no pending hints on any node", || async {
        if stopped.elapsed() < WRITE_TIMEOUT + Duration::from_millis(500) {
            return Err("hints of the last writes may still be coming".into());
        }
        for addr in &everyone {
            let out = nodetool(addr, &["listpendinghints"]).await?;
            if out.trim() != "This node does not have any pending hints" {
                return Err(format!("{addr}:\n{out}"));
            }
        }
        Ok(())
    })
    .await;
    eprintln!("hints replayed ({:.1} s)", began.elapsed().as_secs_f64());

    // After a restart, the first message each peer sends to the node can be
    // lost (`outbound` in src/node/cluster/transport.rs drops the message
    // that triggers a reconnection after a failed connect, and finds a
    // connection to the killed process broken only when a write fails),
    // answers to the node's own requests included: its logins (a
    // system_auth read) and its reads may time out until every peer has
    // sent it something. Wait until a read at ALL it coordinates (of a key
    // never written, so nothing is repaired) gets all six answers.
    let on_victim = Arc::new(session::through(victim.parse().unwrap(), 30).await);
    let mut all_on_victim = on_victim
        .prepare("SELECT v FROM kill.t WHERE k = ?")
        .await
        .unwrap();
    all_on_victim.set_consistency(Consistency::All);
    let attempts = AtomicUsize::new(0);
    poll(
        30,
        "a read at ALL coordinated by the restarted node",
        || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            match on_victim.execute_unpaged(&all_on_victim, (-1,)).await {
                Ok(_) => Ok(()),
                Err(e) => {
                    eprintln!("read at ALL through {victim} failed, retrying: {e}");
                    Err(e.to_string())
                }
            }
        },
    )
    .await;
    eprintln!(
        "{victim} serves reads at ALL ({} attempts, {:.1} s)",
        attempts.load(Ordering::Relaxed),
        began.elapsed().as_secs_f64()
    );

    // The restarted node's own copy first (a read at ALL would repair it).
    let mut local_one = all_on_victim.clone();
    local_one.set_consistency(Consistency::LocalOne);
    let lacking = missing(&on_victim, &local_one, &keys).await;

    let mut all = s.prepare("SELECT v FROM kill.t WHERE k = ?").await.unwrap();
    all.set_consistency(Consistency::All);
    let lost = missing(&s, &all, &keys).await;
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes are not read back at ALL (key, found): {:?}",
        lost.len(),
        keys.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(
        lacking.is_empty(),
        "after hints replay, the restarted node {victim} lacks {} of {} acknowledged writes (key, found): {:?}",
        lacking.len(),
        keys.len(),
        &lacking[..lacking.len().min(20)]
    );
    eprintln!(
        "{} acknowledged writes read back at ALL and from {victim} ({:.1} s in all)",
        keys.len(),
        began.elapsed().as_secs_f64()
    );
    drop((s, on_victim));
    for c in &mut children {
        let _ = c.kill().await;
    }
}
