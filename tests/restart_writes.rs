//! A restarted node never coordinates on a partial ring: it knows its
//! peers from the ring it kept on disk, and opens its CQL port only once
//! gossip has settled (it has heard them up). Writes through it from the
//! first instant it accepts a client are acknowledged at LOCAL_QUORUM (no
//! Unavailable from a datacenter it believes down) and reach every replica
//! of both datacenters. Addresses 127.0.132.x (dc1) and 127.0.133.x (dc2).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::instance::Node;
use common::cluster::{Layout, missing};
use common::{eventually, session};
use scylla::statement::Consistency;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_a_restarted_node_reach_every_replica() {
    let faults = Arc::new(Faults::default());
    let layout = Layout::three_and_three(132, 133, "Restart");
    let mut nodes: Vec<Option<Node>> = layout
        .start_all(&faults)
        .await
        .into_iter()
        .map(Some)
        .collect();
    let addrs = layout.addrs();
    eventually(30, "every node sees all six up", || {
        nodes
            .iter()
            .flatten()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    let s = session::pinned("dc1").connect("127.0.132.1").await.unwrap();
    session::ddl(
        &s,
        &[
            "CREATE KEYSPACE rs WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE rs.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    eventually(20, "every node has the table", || {
        nodes
            .iter()
            .flatten()
            .all(|n| n.engine.schema().table("rs", "t").is_some())
    })
    .await;

    // Restart a node that is not a seed; the others saw it go.
    let i = 1;
    nodes[i].take().unwrap().stop().await;
    eventually(20, "the others see 127.0.132.2 down", || {
        nodes
            .iter()
            .flatten()
            .all(|n| !n.member.core.is_alive(&addrs[i]))
    })
    .await;
    let started = Instant::now();
    let restarted = layout.start(i, &faults).await;
    let serving_after = started.elapsed();
    // When it serves clients, it sees its datacenter up.
    let up = addrs
        .iter()
        .filter(|a| restarted.member.core.is_alive(a))
        .count();
    assert!(
        up >= 3,
        "serving {serving_after:?} after the start while it sees only {up} of 6 up"
    );
    nodes[i] = Some(restarted);

    let through = session::through("127.0.132.2".parse().unwrap(), 10).await;
    let st = session::at(
        "INSERT INTO rs.t (k, v) VALUES (?, 'x')",
        Consistency::LocalQuorum,
    );
    let mut acked = Vec::new();
    let mut refused = Vec::new();
    for k in 0..200 {
        match through.query_unpaged(st.clone(), (k,)).await {
            Ok(_) => acked.push(k),
            Err(e) => refused.push(format!("{k}: {e}")),
        }
    }
    assert!(
        refused.is_empty(),
        "{} writes refused through the restarted node (serving {serving_after:?} after the start): {:?}",
        refused.len(),
        &refused[..refused.len().min(5)]
    );
    // Every replica of both datacenters holds every write (directly or by
    // hint, within moments).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let lacking: Vec<(usize, usize)> = nodes
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, n)| (j, missing(n, "rs", "t", &acked).len()))
            .filter(|(_, m)| *m > 0)
            .collect();
        if lacking.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "replicas still lack acknowledged writes (node, keys): {lacking:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop((s, through));
    for n in nodes.into_iter().flatten() {
        n.stop().await;
    }
}
