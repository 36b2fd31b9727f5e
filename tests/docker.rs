//! Two datacenters of containers (`ccrsim::testkit::Cluster`, 2 × 3 nodes
//! of the `ccrsim-node` image on their own Docker network), written in one
//! and checked in the other, then broken on purpose: a datacenter stopped,
//! the two partitioned, a node killed under load.
//!
//! Docker is required under `CI=true`; elsewhere these tests say loudly
//! that they were skipped when there is no engine.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::time::Duration;

use ccrsim::testkit::docker_or_skip;
use ccrsim::testkit::{Cluster, unique_keyspace};
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;

const LONG: Duration = Duration::from_secs(60);

async fn cluster(name: &str) -> Option<Cluster> {
    docker_or_skip(name).await?;
    Some(
        Cluster::builder()
            .name(name)
            .start()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}")),
    )
}

/// A keyspace from the control plane's generated script (RF 3 in both
/// datacenters) with one table.
async fn keyspace(c: &Cluster, prefix: &str) -> String {
    let ks = unique_keyspace(prefix);
    let scripts = c.apply_replication(&[&ks], 3).await.unwrap();
    assert!(scripts[0].contents.contains("system_auth"), "{scripts:?}");
    let s = c.session(0).await.unwrap();
    s.query_unpaged(
        format!("CREATE TABLE {ks}.t (k int PRIMARY KEY, v text)"),
        &[],
    )
    .await
    .unwrap();
    s.await_schema_agreement().await.unwrap();
    ks
}

async fn write(
    s: &Session,
    ks: &str,
    k: i32,
    v: &str,
    cl: Consistency,
) -> Result<(), ExecutionError> {
    let mut st = Statement::new(format!("INSERT INTO {ks}.t (k, v) VALUES (?, ?)"));
    st.set_consistency(cl);
    s.query_unpaged(st, (k, v)).await.map(|_| ())
}

/// The server's error, if the request got one.
fn db_error(r: Result<(), ExecutionError>) -> Option<DbError> {
    match r {
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(e, _))) => Some(e),
        _ => None,
    }
}

/// Every row of the table, read at `cl`.
async fn rows(s: &Session, ks: &str, cl: Consistency) -> Result<BTreeMap<i32, String>, String> {
    let mut st = Statement::new(format!("SELECT k, v FROM {ks}.t"));
    st.set_consistency(cl);
    let r = s.query_unpaged(st, &[]).await.map_err(|e| e.to_string())?;
    let rows = r.into_rows_result().map_err(|e| e.to_string())?;
    rows.rows::<(i32, String)>()
        .map_err(|e| e.to_string())?
        .collect::<Result<BTreeMap<_, _>, _>>()
        .map_err(|e| e.to_string())
}

/// Polls until `rows` at `cl` in `s` equals `want`.
async fn converge(
    s: &Session,
    ks: &str,
    cl: Consistency,
    want: &BTreeMap<i32, String>,
    what: &str,
) {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let got = rows(s, ks, cl).await;
        if got.as_ref() == Ok(want) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: never converged; last read {got:?}, want {} rows",
            want.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replication_both_ways() {
    let Some(c) = cluster("both").await else {
        return;
    };
    eprintln!("2 x 3 container cluster ready in {:?}", c.ready_after());
    let ks = keyspace(&c, "both").await;
    let dc1 = c.session(0).await.unwrap();
    let dc2 = c.session(1).await.unwrap();
    let mut lags = Vec::new();
    for k in 0..20 {
        let (from, to, cl) = if k % 2 == 0 {
            (&dc1, &dc2, Consistency::LocalQuorum)
        } else {
            (&dc2, &dc1, Consistency::LocalOne)
        };
        write(from, &ks, k, "v", cl).await.unwrap();
        let lag = c
            .await_rows(
                to,
                &format!("SELECT v FROM {ks}.t WHERE k = ?"),
                (k,),
                LONG,
                |r| r.rows_num() == 1,
            )
            .await
            .unwrap();
        lags.push(lag);
    }
    lags.sort();
    eprintln!(
        "replication lag seen by a client: p50 {:?}, max {:?}",
        lags[lags.len() / 2],
        lags[lags.len() - 1]
    );
    // Each datacenter holds every row on its own.
    let want: BTreeMap<i32, String> = (0..20).map(|k| (k, "v".to_string())).collect();
    converge(&dc1, &ks, Consistency::LocalQuorum, &want, "dc1").await;
    converge(&dc2, &ks, Consistency::LocalQuorum, &want, "dc2").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datacenter_outage_then_hints() {
    let Some(mut c) = cluster("outage").await else {
        return;
    };
    let ks = keyspace(&c, "outage").await;
    let dc1 = c.session(0).await.unwrap();
    for k in 0..10 {
        write(&dc1, &ks, k, "before", Consistency::EachQuorum)
            .await
            .unwrap();
    }
    c.stop_datacenter(1).await.unwrap();
    // SIGTERM is a clean shutdown, as in the cassandra image.
    for i in 1..=3 {
        assert_eq!(c.exit_code(1, i).await.unwrap(), Some(0));
    }
    assert!(c.logs().await.contains("Node stopped"));
    c.await_down(0, 1, LONG).await.unwrap();
    // dc1 goes on at LOCAL_QUORUM; EACH_QUORUM cannot be met.
    for k in 10..60 {
        write(&dc1, &ks, k, "during", Consistency::LocalQuorum)
            .await
            .unwrap();
    }
    match db_error(write(&dc1, &ks, 1000, "x", Consistency::EachQuorum).await) {
        Some(DbError::Unavailable { consistency, .. }) => {
            assert_eq!(consistency, Consistency::EachQuorum)
        }
        other => panic!("EACH_QUORUM with dc2 down: {other:?}"),
    }
    let pending = c.nodetool(0, 1, &["listpendinghints"]).await.unwrap();
    assert!(
        !pending.contains("This node does not have any pending hints"),
        "{pending}"
    );
    // dc2 comes back: hints bring it up to date, read in dc2 alone.
    c.start_datacenter(1).await.unwrap();
    let dc2 = c.session(1).await.unwrap();
    let want: BTreeMap<i32, String> = (0..60)
        .map(|k| (k, if k < 10 { "before" } else { "during" }.to_string()))
        .collect();
    converge(
        &dc2,
        &ks,
        Consistency::LocalQuorum,
        &want,
        "dc2 after hints",
    )
    .await;
    write(&dc1, &ks, 1000, "x", Consistency::EachQuorum)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_then_heal_converges() {
    let Some(mut c) = cluster("split").await else {
        return;
    };
    let ks = keyspace(&c, "split").await;
    let dc1 = c.session(0).await.unwrap();
    let dc2 = c.session(1).await.unwrap();
    c.partition(0, 1).await.unwrap();
    c.await_down(0, 1, LONG).await.unwrap();
    c.await_down(1, 0, LONG).await.unwrap();
    // Both sides take writes: the same keys (dc2 writes last, so its value
    // must win everywhere) and keys of their own.
    for k in 0..20 {
        write(&dc1, &ks, k, "dc1", Consistency::LocalQuorum)
            .await
            .unwrap();
        write(&dc1, &ks, 100 + k, "dc1 only", Consistency::LocalQuorum)
            .await
            .unwrap();
    }
    for k in 0..20 {
        write(&dc2, &ks, k, "dc2", Consistency::LocalQuorum)
            .await
            .unwrap();
        write(&dc2, &ks, 200 + k, "dc2 only", Consistency::LocalQuorum)
            .await
            .unwrap();
    }
    // Cut apart, each side sees only its own writes.
    let mine = rows(&dc1, &ks, Consistency::LocalQuorum).await.unwrap();
    assert!(
        mine.keys().all(|k| *k < 200),
        "dc1 saw dc2's rows during the partition"
    );
    match db_error(write(&dc1, &ks, 999, "x", Consistency::EachQuorum).await) {
        Some(DbError::Unavailable { .. }) => {}
        other => panic!("EACH_QUORUM across a partition: {other:?}"),
    }
    c.heal(0, 1).await.unwrap();
    c.await_all_up(LONG).await.unwrap();
    let mut want = BTreeMap::new();
    for k in 0..20 {
        want.insert(k, "dc2".to_string());
        want.insert(100 + k, "dc1 only".to_string());
        want.insert(200 + k, "dc2 only".to_string());
    }
    converge(&dc1, &ks, Consistency::LocalQuorum, &want, "dc1 after heal").await;
    converge(&dc2, &ks, Consistency::LocalQuorum, &want, "dc2 after heal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_killed_under_load_loses_nothing() {
    let Some(mut c) = cluster("kill").await else {
        return;
    };
    let ks = keyspace(&c, "kill").await;
    let dc1 = c.session(0).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicI32::new(0));
    let load = {
        let (s, ks, stop, sent) = (dc1.clone(), ks.clone(), stop.clone(), sent.clone());
        tokio::spawn(async move {
            let mut acked = Vec::new();
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                if write(&s, &ks, k, "load", Consistency::LocalQuorum)
                    .await
                    .is_ok()
                {
                    acked.push(k);
                }
                k += 1;
                sent.store(k, Ordering::Relaxed);
            }
            (acked, k)
        })
    };
    // Waits until the load has sent `n` more writes.
    let more = |n: i32| {
        let (sent, target) = (sent.clone(), sent.load(Ordering::Relaxed) + n);
        async move {
            let deadline = std::time::Instant::now() + LONG;
            while sent.load(Ordering::Relaxed) < target {
                assert!(std::time::Instant::now() < deadline, "the load stalled");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // Kill a node in the middle of the load.
    more(200).await;
    c.kill_node(0, 2).await.unwrap();
    more(200).await;
    // Once it is convicted (4 s without news, longer than the 2 s write
    // timeout), every write it missed has a hint waiting for it: those sent
    // to it before, kept when their timeout passed, and those since, kept
    // at once. The load goes on a while, then stops, and it restarts.
    c.await_node_down(0, 2, LONG).await.unwrap();
    more(200).await;
    stop.store(true, Ordering::Relaxed);
    let (acked, tried) = load.await.unwrap();
    eprintln!("{} of {tried} writes acknowledged", acked.len());
    c.start_node(0, 2).await.unwrap();
    c.await_all_up(LONG).await.unwrap();
    assert!(acked.len() >= 600);
    // Every acknowledged write is on the restarted node itself: its commit
    // log kept what it had, hints brought what it missed. Once the other
    // coordinators have delivered their hints, the other two dc1 nodes stop,
    // and a LOCAL_ONE read in dc1 can only be answered by the restarted one.
    for i in [1, 3] {
        let deadline = std::time::Instant::now() + LONG;
        while !c
            .nodetool(0, i, &["listpendinghints"])
            .await
            .unwrap()
            .contains("does not have any pending hints")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "hints never delivered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    c.stop_node(0, 1).await.unwrap();
    c.stop_node(0, 3).await.unwrap();
    let mut st = Statement::new(format!("SELECT v FROM {ks}.t WHERE k = ?"));
    st.set_consistency(Consistency::LocalOne);
    for k in acked {
        let deadline = std::time::Instant::now() + LONG;
        loop {
            match dc1.query_unpaged(st.clone(), (k,)).await {
                Ok(r) => {
                    let n = r.into_rows_result().unwrap().rows_num();
                    assert_eq!(n, 1, "acknowledged write {k} is not on the restarted node");
                    break;
                }
                Err(e) => {
                    assert!(std::time::Instant::now() < deadline, "read {k}: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}
