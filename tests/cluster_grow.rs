//! A datacenter added to an existing one, as a CCR pair is made: the new
//! nodes join through a seed of the first datacenter, the keyspace is
//! altered to include them, and `nodetool rebuild -- dc1` on each new node
//! copies the data written before they joined. nodetool runs through the
//! real CLI (in-process) over the internode port.

mod common;

use std::net::IpAddr;

use common::{FAST, eventually, nodetool};
use std::sync::Arc;

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;

async fn start(addr: &str, dc: &str, rack: &str, dir: &std::path::Path) -> Node {
    let mut c = NodeConfig::local(addr.parse().unwrap(), dir);
    c.dc = dc.into();
    c.rack = rack.into();
    c.seeds = vec!["127.0.72.1".parse().unwrap()];
    Node::start_with(c, Arc::new(Faults::default()), FAST)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_datacenter_rebuilds_from_the_first() {
    let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for (i, rack) in ["a", "b", "c"].iter().enumerate() {
        nodes.push(start(&format!("127.0.72.{}", i + 1), "dc1", rack, dirs[i].path()).await);
    }
    eventually(30, "dc1 up", || {
        nodes.iter().all(|n| n.engine.peers().len() == 2)
    })
    .await;

    let s = common::session::connect("127.0.72.1").await.unwrap();
    common::session::ddl(
        &s,
        &[
            "CREATE KEYSPACE grow WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3}",
            "CREATE TABLE grow.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    for k in 0..50i32 {
        let mut st = Statement::new("INSERT INTO grow.t (k, v) VALUES (?, ?)");
        st.set_consistency(Consistency::LocalQuorum);
        s.query_unpaged(st, (k, format!("before the join {k}")))
            .await
            .unwrap();
    }

    // dc2 joins through dc1's seed.
    for (i, rack) in ["a", "b", "c"].iter().enumerate() {
        nodes.push(
            start(
                &format!("127.0.73.{}", i + 1),
                "dc2",
                rack,
                dirs[3 + i].path(),
            )
            .await,
        );
    }
    eventually(30, "six nodes up", || {
        nodes.iter().all(|n| n.engine.peers().len() == 5)
    })
    .await;
    eventually(30, "dc2 has the schema", || {
        nodes[3..]
            .iter()
            .all(|n| n.engine.schema().table("grow", "t").is_some())
    })
    .await;
    let (out, _, code) = nodetool("127.0.72.1", &["status", "grow"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("Datacenter: dc1") && out.contains("Datacenter: dc2"),
        "{out}"
    );
    assert_eq!(
        out.lines().filter(|l| l.starts_with("UN ")).count(),
        6,
        "{out}"
    );
    assert_eq!(
        out.matches("100.0%").count(),
        3,
        "dc1 owns everything of grow:\n{out}"
    );
    // Each node's load (its data on disk) reaches the others by gossip.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (out, _, _) = nodetool("127.0.72.1", &["status", "grow"]).await;
        let sized = out
            .lines()
            .filter(|l| l.starts_with("UN ") && (l.contains(" KiB ") || l.contains(" MiB ")))
            .count();
        if sized == 6 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "every node's load in nodetool status:\n{out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    s.query_unpaged(
        "ALTER KEYSPACE grow WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
        &[],
    )
    .await
    .unwrap();
    s.await_schema_agreement().await.unwrap();
    eventually(30, "the alter reached dc2", || {
        let v = nodes[0].engine.schema().version();
        nodes.iter().all(|n| n.engine.schema().version() == v)
    })
    .await;
    // Before the rebuild, dc2's replicas have nothing.
    let dc2_node = &nodes[3];
    let t = dc2_node.engine.schema().table("grow", "t").unwrap().clone();
    let count_local = |n: &Node| {
        n.engine
            .storage
            .scan(&t.id, None, i64::MIN, i64::MAX, usize::MAX)
            .unwrap()
            .len()
    };
    assert_eq!(count_local(dc2_node), 0);

    for i in 1..=3 {
        let (out, err, code) = nodetool(&format!("127.0.73.{i}"), &["rebuild", "--", "dc1"]).await;
        assert_eq!(code, 0, "{out}{err}");
    }
    for n in &nodes[3..] {
        assert_eq!(
            count_local(n),
            50,
            "a dc2 node holds every row after rebuild"
        );
    }
    let (out, _, _) = nodetool("127.0.73.2", &["getendpoints", "grow", "t", "7"]).await;
    let endpoints: Vec<IpAddr> = out.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(endpoints.len(), 6, "{out}");
    let (out, _, _) = nodetool("127.0.73.1", &["describecluster"]).await;
    assert!(
        out.contains("Schema versions:") && !out.contains("UNREACHABLE"),
        "{out}"
    );
    let (_, err, code) = nodetool("127.0.73.1", &["rebuild", "--", "nowhere"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("no live node in datacenter nowhere"), "{err}");
    nodetool("127.0.73.1", &["pausehandoff"]).await;
    let (out, _, _) = nodetool("127.0.73.1", &["statushandoff"]).await;
    assert_eq!(out, "Hinted handoff is not running\n");
    nodetool("127.0.73.1", &["resumehandoff"]).await;
    let (out, _, _) = nodetool("127.0.73.1", &["listpendinghints"]).await;
    assert_eq!(out, "This node does not have any pending hints\n");

    // Decommission: a node's data moves to the replicas that take its
    // ranges (SimpleStrategy RF 1: each row lives on exactly one node).
    common::session::ddl(
        &s,
        &[
            "CREATE KEYSPACE solo WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
            "CREATE TABLE solo.t (k int PRIMARY KEY, v int)",
        ],
    )
    .await;
    for k in 0..60i32 {
        s.query_unpaged("INSERT INTO solo.t (k, v) VALUES (?, ?)", (k, k * 10))
            .await
            .unwrap();
    }
    let leaving = &nodes[5];
    let solo = leaving.engine.schema().table("solo", "t").unwrap().clone();
    let held = leaving
        .engine
        .storage
        .scan(&solo.id, None, i64::MIN, i64::MAX, usize::MAX)
        .unwrap()
        .len();
    assert!(held > 0, "the leaving node holds some rows");
    let (out, err, code) = nodetool("127.0.73.3", &["decommission"]).await;
    assert_eq!(code, 0, "{out}{err}");
    eventually(20, "the others dropped the node", || {
        nodes[..5].iter().all(|n| n.engine.peers().len() == 4)
    })
    .await;
    let (out, _, _) = nodetool("127.0.72.1", &["status"]).await;
    assert_eq!(
        out.lines().filter(|l| l.starts_with("UN ")).count(),
        5,
        "{out}"
    );
    assert!(!out.contains("127.0.73.3"), "{out}");
    for k in 0..60i32 {
        let mut st = Statement::new("SELECT v FROM solo.t WHERE k = ?");
        st.set_consistency(Consistency::One);
        let row = s
            .query_unpaged(st, (k,))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .maybe_first_row::<(i32,)>()
            .unwrap();
        assert_eq!(row, Some((k * 10,)), "row {k} after the decommission");
    }

    drop(s);
    for n in nodes {
        n.stop().await;
    }
}
