//! Nodes of two datacenters in one process become one cluster: gossip
//! finds every node through the seeds, failure detection marks a stopped
//! node down and a restarted one up, and schema changes reach every node.

mod common;

use std::net::IpAddr;

use common::cluster::Layout;
use common::{eventually, session};
use std::sync::Arc;

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::instance::Node;
use scylla::client::session::Session;
use scylla::errors::DbError;
use scylla::statement::Consistency;

/// For 10 000 keys, the replicas the node uses equal those the scylla
/// driver and the Python driver compute: NTS {dc1: 3, dc2: 3}, NTS
/// {dc1: 2, dc2: 2} (three racks per datacenter), SimpleStrategy RF 3.
async fn placement_oracles(s: &Session, node: &Node) {
    let keyspaces = [
        (
            "oracle_a",
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
        ),
        (
            "oracle_b",
            "{'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}",
        ),
        (
            "oracle_c",
            "{'class': 'SimpleStrategy', 'replication_factor': 3}",
        ),
    ];
    for (ks, repl) in keyspaces {
        s.query_unpaged(
            format!("CREATE KEYSPACE {ks} WITH replication = {repl}"),
            &[],
        )
        .await
        .unwrap();
        s.query_unpaged(format!("CREATE TABLE {ks}.t (k int PRIMARY KEY)"), &[])
            .await
            .unwrap();
    }
    s.await_schema_agreement().await.unwrap();
    s.refresh_metadata().await.unwrap();
    let ring = node.member.core.ring();
    let schema = node.engine.schema();
    let state = s.get_cluster_state();
    const N: i32 = 10_000;
    let ours = |ks: &str, k: i32| -> Vec<IpAddr> {
        let strategy = &schema.keyspace(ks).unwrap().meta.strategy;
        let token = ccrsim::node::locator::partitioner::token(&k.to_be_bytes());
        let mut r = ring.replicas(strategy, token);
        r.sort();
        r
    };
    for (ks, _) in keyspaces {
        for k in 0..N {
            let token = ccrsim::node::locator::partitioner::token(&k.to_be_bytes());
            let mut theirs: Vec<IpAddr> = state
                .get_token_endpoints(ks, "t", scylla::routing::Token::new(token))
                .iter()
                .map(|(n, _)| n.address.ip())
                .collect();
            theirs.sort();
            assert_eq!(ours(ks, k), theirs, "scylla driver, {ks}, key {k}");
        }
    }
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    if !python.exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            ".venv is missing (run .ci/run)"
        );
        eprintln!("SKIPPED: the Python driver placement oracle (no .venv)");
        return;
    }
    let script = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python/placement_check.py");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([
                "127.0.1.1",
                &N.to_string(),
                "oracle_a",
                "oracle_b",
                "oracle_c",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("hosts 6 dc1,dc2 6"),
        "the Python driver's metadata"
    );
    let mut checked = 0;
    for line in lines {
        let mut parts = line.split(' ');
        let (ks, k, reps) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap_or(""),
        );
        let k: i32 = k.parse().unwrap();
        let theirs: Vec<IpAddr> = reps
            .split(',')
            .filter(|r| !r.is_empty())
            .map(|r| r.parse().unwrap())
            .collect();
        assert_eq!(ours(ks, k), theirs, "Python driver, {ks}, key {k}");
        checked += 1;
    }
    assert_eq!(checked, 3 * N);
}

/// A driver session that stays in one datacenter.
async fn session_in(addr: &str, dc: &str) -> Session {
    session::pinned(dc).connect(addr).await.unwrap()
}

async fn write(s: &Session, k: i32, v: &str, cl: Consistency) -> Result<(), DbError> {
    let st = session::at("INSERT INTO spread.t (k, v) VALUES (?, ?)", cl);
    session::db_error(s.query_unpaged(st, (k, v)).await).map(|_| ())
}

async fn read(s: &Session, k: i32, cl: Consistency) -> Option<String> {
    let st = session::at("SELECT v FROM spread.t WHERE k = ?", cl);
    session::first_row::<(String,)>(s, st, (k,))
        .await
        .map(|r| r.0)
}

fn sees_all_up(n: &Node, addrs: &[IpAddr]) -> bool {
    addrs.iter().all(|a| n.member.core.is_alive(a)) && n.engine.peers().len() == addrs.len() - 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_datacenters_gossip_into_one_cluster() {
    let faults = Arc::new(Faults::default());
    let layout = Layout::three_and_three(1, 2, "Two DCs");
    let mut nodes: Vec<Option<Node>> = layout
        .start_all(&faults)
        .await
        .into_iter()
        .map(Some)
        .collect();
    let addrs = layout.addrs();
    eventually(30, "every node sees all six up", || {
        nodes.iter().flatten().all(|n| sees_all_up(n, &addrs))
    })
    .await;

    // system.peers through a real driver: five peers in two datacenters, with tokens.
    let s = common::session::connect("127.0.1.1").await.unwrap();
    let rows = s
        .query_unpaged(
            "SELECT peer, data_center, rack, tokens FROM system.peers",
            &[],
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let peers: Vec<(IpAddr, String, String, Vec<String>)> = rows
        .rows::<(IpAddr, String, String, Vec<String>)>()
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(peers.len(), 5, "{peers:?}");
    // The query may land on any node: its peers are the five others.
    let dc2 = peers.iter().filter(|p| p.1 == "dc2").count();
    assert!(dc2 == 2 || dc2 == 3, "{peers:?}");
    assert_eq!(
        peers.iter().filter(|p| p.1 == "dc1").count(),
        5 - dc2,
        "{peers:?}"
    );
    assert!(peers.iter().all(|p| p.3.len() == 16));
    let cluster = s.get_cluster_state();
    assert_eq!(
        cluster.get_nodes_info().len(),
        6,
        "the driver knows six nodes"
    );

    // A schema change made on one node reaches every node.
    common::session::ddl(
        &s,
        &[
            "CREATE KEYSPACE spread WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE spread.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    eventually(30, "schema agreement", || {
        let v = nodes[0].as_ref().unwrap().engine.schema().version();
        nodes
            .iter()
            .flatten()
            .all(|n| n.engine.schema().version() == v)
    })
    .await;
    assert!(
        nodes[5]
            .as_ref()
            .unwrap()
            .engine
            .schema()
            .table("spread", "t")
            .is_some()
    );

    // Placement agrees with both drivers' own replica computations.
    placement_oracles(&s, nodes[0].as_ref().unwrap()).await;

    // Replication across datacenters: written at LOCAL_QUORUM through dc1,
    // read at LOCAL_ONE through dc2 (and the reverse). LOCAL_QUORUM waits for
    // the local datacenter only: the other one has the row moments later, as
    // in Cassandra, so the read polls (a row that never comes fails it).
    let dc1 = session_in("127.0.1.1", "dc1").await;
    let dc2 = session_in("127.0.2.1", "dc2").await;
    for (k, v, from, to) in [(1, "from dc1", &dc1, &dc2), (2, "from dc2", &dc2, &dc1)] {
        write(from, k, v, Consistency::LocalQuorum).await.unwrap();
        common::poll(
            10,
            "the row written in one datacenter is read in the other",
            || async {
                match read(to, k, Consistency::LocalOne).await {
                    Some(got) if got == v => Ok(()),
                    other => Err(format!("read {other:?}")),
                }
            },
        )
        .await;
    }
    // Every node has its own copy (RF 3 in each datacenter of three nodes):
    // LOCAL_QUORUM waited for two in dc1, the rest follow within moments.
    eventually(10, "every replica holds the row", || {
        nodes.iter().flatten().all(|n| {
            let t = n.engine.schema().table("spread", "t").unwrap().clone();
            let key = 1i32.to_be_bytes();
            let token = ccrsim::node::locator::partitioner::token(&key);
            n.engine
                .storage
                .read_partition(&t.id, token, &key)
                .unwrap()
                .is_some()
        })
    })
    .await;

    // dc2 cut off from dc1: LOCAL_QUORUM in dc1 still works; EACH_QUORUM and
    // QUORUM answer Unavailable with Cassandra's counts.
    let dc1_addrs: Vec<IpAddr> = addrs[..3].to_vec();
    let dc2_addrs: Vec<IpAddr> = addrs[3..].to_vec();
    for a in &dc1_addrs {
        for b in &dc2_addrs {
            faults.cut(*a, *b);
        }
    }
    eventually(20, "dc1 sees dc2 down", || {
        nodes[..3]
            .iter()
            .flatten()
            .all(|n| dc2_addrs.iter().all(|b| !n.member.core.is_alive(b)))
    })
    .await;
    write(&dc1, 3, "during the partition", Consistency::LocalQuorum)
        .await
        .unwrap();
    assert_eq!(
        read(&dc1, 3, Consistency::LocalQuorum).await.as_deref(),
        Some("during the partition")
    );
    let e = write(&dc1, 4, "x", Consistency::EachQuorum)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            DbError::Unavailable {
                consistency: Consistency::EachQuorum,
                required: 2,
                alive: 0
            }
        ),
        "{e:?}"
    );
    let e = write(&dc1, 4, "x", Consistency::Quorum).await.unwrap_err();
    assert!(
        matches!(
            &e,
            DbError::Unavailable {
                consistency: Consistency::Quorum,
                required: 4,
                alive: 3
            }
        ),
        "{e:?}"
    );
    // Hints: dc1 kept the write for dc2's replicas.
    let pending: usize = nodes[..3]
        .iter()
        .flatten()
        .map(|n| {
            ccrsim::node::cluster::hints::all(&n.engine.storage)
                .unwrap()
                .len()
        })
        .sum();
    assert!(
        pending >= 3,
        "hints for dc2's three replicas, found {pending}"
    );
    faults.heal_all();
    eventually(30, "the partition healed", || {
        nodes.iter().flatten().all(|n| sees_all_up(n, &addrs))
    })
    .await;
    // Once dc2 is back, the hints replay: the write made during the outage
    // is readable at LOCAL_ONE there, and no hint is left.
    common::poll(30, "the hinted write reaches dc2", || async {
        match read(&dc2, 3, Consistency::LocalOne).await {
            Some(v) if v == "during the partition" => Ok(()),
            other => Err(format!("dc2 reads {other:?}")),
        }
    })
    .await;
    eventually(30, "hints delivered and deleted", || {
        nodes.iter().flatten().all(|n| {
            ccrsim::node::cluster::hints::all(&n.engine.storage)
                .unwrap()
                .is_empty()
        })
    })
    .await;
    drop((dc1, dc2, s));

    // Read repair: a replica that missed a write (cut off, hints paused)
    // gets it when a LOCAL_QUORUM read it takes part in sees the difference.
    let missed: IpAddr = "127.0.1.2".parse().unwrap();
    for n in nodes.iter().flatten() {
        n.member
            .core
            .hints_paused
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
    for a in &addrs {
        faults.cut(missed, *a);
    }
    eventually(20, "the node is cut off", || {
        !nodes[0].as_ref().unwrap().member.core.is_alive(&missed)
    })
    .await;
    // Written through 127.0.1.1, which already sees the node down (a
    // driver could still pick the cut-off node as coordinator).
    let engine = nodes[0].as_ref().unwrap().engine.clone();
    let mut session = ccrsim::node::cql::exec::Session::user("cassandra");
    let o = ccrsim::node::cql::exec::Options {
        consistency: ccrsim::node::db::consistency::Consistency::LocalQuorum,
        ..Default::default()
    };
    engine
        .query(
            &mut session,
            "INSERT INTO spread.t (k, v) VALUES (10, 'missed by one')",
            &o,
        )
        .await
        .unwrap();
    faults.heal_all();
    eventually(30, "healed again", || {
        nodes.iter().flatten().all(|n| sees_all_up(n, &addrs))
    })
    .await;
    let lagging = nodes[1].as_ref().unwrap();
    let t = lagging
        .engine
        .schema()
        .table("spread", "t")
        .unwrap()
        .clone();
    let key = 10i32.to_be_bytes();
    let token = ccrsim::node::locator::partitioner::token(&key);
    assert!(
        lagging
            .engine
            .storage
            .read_partition(&t.id, token, &key)
            .unwrap()
            .is_none()
    );
    let engine = lagging.engine.clone();
    let mut session = ccrsim::node::cql::exec::Session::user("cassandra");
    let o = ccrsim::node::cql::exec::Options {
        consistency: ccrsim::node::db::consistency::Consistency::LocalQuorum,
        ..Default::default()
    };
    let got = engine
        .query(&mut session, "SELECT v FROM spread.t WHERE k = 10", &o)
        .await
        .unwrap();
    let ccrsim::node::transport::protocol::frame::ResultBody::Rows(rows) = got else {
        panic!("{got:?}")
    };
    assert_eq!(rows.rows, vec![vec![Some(b"missed by one".to_vec())]]);
    assert!(
        lagging
            .engine
            .storage
            .read_partition(&t.id, token, &key)
            .unwrap()
            .is_some(),
        "the read repaired the lagging replica"
    );
    for n in nodes.iter().flatten() {
        n.member
            .core
            .hints_paused
            .store(false, std::sync::atomic::Ordering::Relaxed);
    }

    // A stopped node is marked down by the others, and up again after a restart.
    let stopped = nodes[4].take().unwrap();
    stopped.stop().await;
    let gone: IpAddr = "127.0.2.2".parse().unwrap();
    eventually(20, "the stopped node is down everywhere", || {
        nodes
            .iter()
            .flatten()
            .all(|n| !n.member.core.is_alive(&gone))
    })
    .await;
    // It restarts with every link cut: it knows the ring from its disk
    // (Cassandra's saved peers), before gossip has heard from anyone, and
    // sees the others down until it does.
    for a in &addrs {
        faults.cut(gone, *a);
    }
    nodes[4] = Some(layout.start(4, &faults).await);
    {
        let n = nodes[4].as_ref().unwrap();
        assert_eq!(
            n.member.core.ring().nodes().len(),
            6,
            "the ring kept on disk"
        );
        assert!(
            addrs
                .iter()
                .filter(|a| **a != gone)
                .all(|a| !n.member.core.is_alive(a))
        );
    }
    faults.heal_all();
    eventually(30, "the restarted node is up everywhere", || {
        nodes.iter().flatten().all(|n| sees_all_up(n, &addrs))
    })
    .await;

    // A node cut off by the network is convicted without any announcement.
    let lonely: IpAddr = "127.0.1.3".parse().unwrap();
    for a in &addrs {
        faults.cut(lonely, *a);
    }
    eventually(20, "the isolated node is down for the others", || {
        nodes
            .iter()
            .flatten()
            .filter(|n| n.cql_addr.ip() != lonely)
            .all(|n| !n.member.core.is_alive(&lonely))
    })
    .await;
    faults.heal_all();
    eventually(30, "the healed node is back up", || {
        nodes.iter().flatten().all(|n| sees_all_up(n, &addrs))
    })
    .await;

    for n in nodes.into_iter().flatten() {
        n.stop().await;
    }
}
