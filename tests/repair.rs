//! Anti-entropy repair on a 3 + 3 cluster in this process: writes
//! acknowledged while the datacenters were cut apart and never hinted
//! (the cut outlasted `max_hint_window`) reach every replica once
//! `nodetool repair` has run; a second repair finds nothing to do; a
//! replica that is down fails the repair unless `--force` leaves it out.
//! Addresses 127.0.126.x (dc1) and 127.0.127.x (dc2).

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::instance::Node;
use common::cluster::{Layout, missing};
use common::{eventually, nodetool, session};
use scylla::client::session::Session;
use scylla::statement::Consistency;

async fn write(s: &Session, k: i32, cl: Consistency) {
    let st = session::at("INSERT INTO rep.t (k, v) VALUES (?, ?)", cl);
    s.query_unpaged(st, (k, format!("v{k}"))).await.unwrap();
}

fn cut(faults: &Faults, a: &[IpAddr], b: &[IpAddr], on: bool) {
    for x in a {
        for y in b {
            if on {
                faults.cut(*x, *y);
            } else {
                faults.heal(*x, *y);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_brings_every_replica_every_acknowledged_write() {
    let faults = Arc::new(Faults::default());
    let layout = Layout::three_and_three(126, 127, "Repair");
    let mut nodes = Vec::new();
    for i in 0..6 {
        let mut cfg = layout.config(i);
        // No hints: a replica down for any time is past the window.
        cfg.max_hint_window = Duration::ZERO;
        nodes.push(
            Node::start_with(cfg, faults.clone(), common::FAST)
                .await
                .unwrap(),
        );
    }
    let addrs = layout.addrs();
    let (dc1, dc2) = (addrs[..3].to_vec(), addrs[3..].to_vec());
    eventually(30, "every node sees all six up", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    let s1 = session::pinned("dc1").connect("127.0.126.1").await.unwrap();
    let s2 = session::pinned("dc2").connect("127.0.127.1").await.unwrap();
    session::ddl(
        &s1,
        &[
            "CREATE KEYSPACE rep WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE rep.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    eventually(20, "every node has the table", || {
        nodes
            .iter()
            .all(|n| n.engine.schema().table("rep", "t").is_some())
    })
    .await;

    // Cut apart: each datacenter writes at LOCAL_QUORUM on its own.
    cut(&faults, &dc1, &dc2, true);
    eventually(20, "each datacenter sees the other down", || {
        nodes[..3]
            .iter()
            .all(|n| dc2.iter().all(|a| !n.member.core.is_alive(a)))
            && nodes[3..]
                .iter()
                .all(|n| dc1.iter().all(|a| !n.member.core.is_alive(a)))
    })
    .await;
    let from_dc1: Vec<i32> = (0..300).collect();
    let from_dc2: Vec<i32> = (1000..1040).collect();
    for k in &from_dc1 {
        write(&s1, *k, Consistency::LocalQuorum).await;
    }
    for k in &from_dc2 {
        write(&s2, *k, Consistency::LocalQuorum).await;
    }
    for a in &addrs {
        let (out, err, code) = nodetool(&a.to_string(), &["listpendinghints"]).await;
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains("does not have any pending hints"),
            "{a}: {out}"
        );
    }

    cut(&faults, &dc1, &dc2, false);
    eventually(20, "all six up again", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    let all: Vec<i32> = from_dc1.iter().chain(&from_dc2).copied().collect();
    // Without repair, each datacenter lacks the other's writes.
    assert_eq!(
        missing(&nodes[4], "rep", "t", &from_dc1).len(),
        from_dc1.len()
    );
    assert_eq!(
        missing(&nodes[1], "rep", "t", &from_dc2).len(),
        from_dc2.len()
    );

    let (out, err, code) = nodetool("127.0.126.1", &["repair", "--full", "rep"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("Starting repair command #1") && out.contains("repairing keyspace rep"),
        "{out}"
    );
    assert!(out.contains("range(s) out of sync for t"), "{out}");
    assert!(out.contains("Repair completed successfully"), "{out}");
    for (i, n) in nodes.iter().enumerate() {
        let m = missing(n, "rep", "t", &all);
        assert!(
            m.is_empty(),
            "{} misses {} keys after repair: {m:?}\n{out}",
            addrs[i],
            m.len()
        );
    }

    // Again: nothing differs, nothing is streamed.
    let (out, err, code) = nodetool("127.0.127.2", &["repair", "-pr", "rep", "t"]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(", 0 out of sync, 0 partitions streamed"),
        "{out}"
    );
    assert!(!out.contains("range(s) out of sync"), "{out}");

    // Errors as Cassandra's.
    let (_, err, code) = nodetool("127.0.126.1", &["repair", "nosuch"]).await;
    assert_ne!(code, 0);
    assert!(err.contains("Keyspace [nosuch] does not exist."), "{err}");
    let (_, err, _) = nodetool("127.0.126.1", &["repair", "rep", "nosuch"]).await;
    assert!(
        err.contains("Unknown keyspace/cf pair (rep.nosuch)"),
        "{err}"
    );

    // A replica down: the repair fails, unless --force leaves it out.
    let gone = addrs[5];
    for a in &addrs[..5] {
        faults.cut(*a, gone);
    }
    eventually(20, "the others see 127.0.127.3 down", || {
        nodes[..5].iter().all(|n| !n.member.core.is_alive(&gone))
    })
    .await;
    for k in 2000..2050 {
        write(&s1, k, Consistency::LocalQuorum).await;
    }
    let (_, err, code) = nodetool("127.0.127.1", &["repair", "rep"]).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("Cannot proceed on repair because a neighbor (/127.0.127.3:7000) is dead"),
        "{err}"
    );
    let (out, err, code) = nodetool("127.0.127.1", &["repair", "--force", "rep"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let late: Vec<i32> = (2000..2050).collect();
    for (i, n) in nodes.iter().enumerate().take(5) {
        assert!(missing(n, "rep", "t", &late).is_empty(), "{}", addrs[i]);
    }
    drop((s1, s2));
    for n in nodes {
        n.stop().await;
    }
}
