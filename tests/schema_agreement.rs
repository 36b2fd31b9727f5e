//! Schema agreement on real sockets: a fresh 3 + 3 cluster, DDL through a
//! random node, again and again, must end with every node on one schema
//! version; and two changes made at once in the two datacenters, while
//! the link between them is down, both survive the heal.

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::instance::Node;
use common::cluster::Layout;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::{NodeIdentifier, SingleTargetLoadBalancingPolicy};

/// Six nodes, dc1 on `127.0.{block}.{first}..+2`, dc2 on `127.0.{block+1}.…`.
fn layout(block: u8, first: u8, name: &str) -> Layout {
    let mut nodes = Vec::new();
    for (b, dc) in [(block, "dc1"), (block + 1, "dc2")] {
        for (i, rack) in ["a", "b", "c"].into_iter().enumerate() {
            nodes.push((format!("127.0.{b}.{}", first + i as u8), dc, rack));
        }
    }
    Layout {
        seeds: vec![nodes[0].0.clone(), nodes[3].0.clone()],
        dirs: nodes.iter().map(|_| tempfile::tempdir().unwrap()).collect(),
        nodes,
        cluster_name: name.into(),
    }
}

/// A driver session whose every request goes to the node at `addr`.
async fn session_through(addr: &str) -> Session {
    let target: std::net::SocketAddr = format!("{addr}:9042").parse().unwrap();
    let profile = ExecutionProfile::builder()
        .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
            NodeIdentifier::NodeAddress(target),
            None,
        ))
        .build();
    SessionBuilder::new()
        .known_node(target.to_string())
        .user("cassandra", "cassandra")
        .default_execution_profile_handle(profile.into_handle())
        .build()
        .await
        .unwrap()
}

/// The schema versions of the nodes, with who holds each.
fn versions(nodes: &[Node]) -> Vec<([u8; 16], IpAddr)> {
    nodes
        .iter()
        .map(|n| (n.engine.schema().version(), n.member.core.transport().me()))
        .collect()
}

/// Polls until every node holds one schema version; fails after `secs`.
async fn agreement(nodes: &[Node], secs: u64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = versions(nodes);
        if v.iter().all(|(x, _)| *x == v[0].0) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: versions {v:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every node sees the five others alive.
async fn formed(nodes: &[Node]) {
    common::eventually(30, "six nodes see each other", || {
        nodes
            .iter()
            .all(|n| n.member.core.membership().gossip().live_peers().count() == 5)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fresh_three_and_three_set_ups_always_agree() {
    let rounds: u8 = std::env::var("CCRSIM_SCHEMA_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
        .clamp(1, 80);
    let faults = Arc::new(Faults::default());
    let mut slowest = Duration::ZERO;
    for round in 0..rounds {
        let l = layout(120, 1 + 3 * round, &format!("Agree {round}"));
        let nodes = futures::future::join_all((0..6).map(|i| l.start(i, &faults))).await;
        formed(&nodes).await;
        // A random node for each statement (the round number picks them).
        let via = |k: usize| l.nodes[(round as usize * 7 + k * 5) % 6].0.clone();
        let ks = format!("agree{round}");
        for (k, cql) in [
            format!(
                "CREATE KEYSPACE {ks} WITH replication = \
                 {{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}}"
            ),
            format!("CREATE TABLE {ks}.t (k int PRIMARY KEY, v text)"),
            format!("ALTER TABLE {ks}.t ADD w int"),
        ]
        .into_iter()
        .enumerate()
        {
            let s = session_through(&via(k)).await;
            let t0 = Instant::now();
            s.query_unpaged(cql.as_str(), &[])
                .await
                .unwrap_or_else(|e| panic!("round {round}: {cql}: {e}"));
            slowest = slowest.max(t0.elapsed());
        }
        agreement(&nodes, 10, &format!("round {round}")).await;
        for n in &nodes {
            let t = n.engine.schema().table(&ks, "t").cloned();
            assert!(
                t.is_some_and(|t| t.column("w").is_some()),
                "round {round}: a node lacks {ks}.t.w"
            );
        }
        futures::future::join_all(nodes.into_iter().map(Node::stop)).await;
    }
    eprintln!(
        "{rounds} set-ups agreed; the slowest statement (with the driver's wait for agreement) took {slowest:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ddl_in_two_datacenters_keeps_both_changes() {
    let faults = Arc::new(Faults::default());
    let l = layout(122, 1, "Concurrent DDL");
    let nodes = l.start_all(&faults).await;
    formed(&nodes).await;
    let (a, b) = (l.nodes[0].0.clone(), l.nodes[3].0.clone());
    let (sa, sb) = (session_through(&a).await, session_through(&b).await);
    sa.query_unpaged(
        "CREATE KEYSPACE both WITH replication = \
         {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
        &[],
    )
    .await
    .unwrap();
    sa.query_unpaged("CREATE TABLE both.t (k int PRIMARY KEY, v text)", &[])
        .await
        .unwrap();
    agreement(&nodes, 10, "before the cut").await;

    // The datacenters cannot hear each other: each change is made without
    // the other side knowing of it.
    let addrs = l.addrs();
    for x in &addrs[..3] {
        for y in &addrs[3..] {
            faults.cut(*x, *y);
        }
    }
    let statements = [
        ("CREATE TABLE both.from_dc1 (k int PRIMARY KEY)", &sa),
        ("CREATE TABLE both.from_dc2 (k int PRIMARY KEY)", &sb),
        ("ALTER TABLE both.t ADD x int", &sa),
        ("ALTER TABLE both.t ADD y int", &sb),
    ];
    for (cql, s) in statements {
        // The driver waits for agreement it cannot have: its own error is
        // not the point, the statement was applied by its coordinator.
        let _ = tokio::time::timeout(Duration::from_secs(3), s.query_unpaged(cql, &[])).await;
    }
    for n in &nodes[..3] {
        assert!(n.engine.schema().table("both", "from_dc2").is_none());
    }
    faults.heal_all();
    agreement(&nodes, 20, "after the heal").await;
    for n in &nodes {
        let s = n.engine.schema();
        assert!(s.table("both", "from_dc1").is_some(), "from_dc1 lost");
        assert!(s.table("both", "from_dc2").is_some(), "from_dc2 lost");
        let t = s.table("both", "t").unwrap();
        assert!(t.column("x").is_some() && t.column("y").is_some(), "{t:?}");
    }
    for n in nodes {
        n.stop().await;
    }
}
