//! Hinted handoff's settings on real nodes: a coordinator started with
//! `hinted_handoff_enabled: false` keeps no hint for a replica that is
//! down, `nodetool statushandoff` says so, and `nodetool enablehandoff`
//! turns hints on at runtime; the hint kept is delivered once the replica
//! is back (with the throttle off and one delivery thread), and the write
//! made while hints were off is not.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use ccrsim::node::cluster::hints;
use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::instance::Node;
use common::cluster::Layout;
use common::{eventually, nodetool, session};
use scylla::client::session::Session;
use scylla::statement::Consistency;

const DC1: &str = "127.0.124.1";
const DC2: &str = "127.0.125.1";

/// One node in dc1, one in dc2, both seeds.
fn one_and_one() -> Layout {
    Layout {
        nodes: vec![(DC1.into(), "dc1", "a"), (DC2.into(), "dc2", "a")],
        seeds: vec![DC1.into(), DC2.into()],
        cluster_name: "Hint settings".into(),
        dirs: vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()],
    }
}

async fn write(s: &Session, k: i32) {
    let st = session::at(
        "INSERT INTO h.t (k, v) VALUES (?, ?)",
        Consistency::LocalOne,
    );
    s.query_unpaged(st, (k, k)).await.unwrap();
}

/// Whether `node` holds key `k` of h.t on disk.
fn holds(node: &Node, k: i32) -> bool {
    let t = node.engine.schema().table("h", "t").unwrap().clone();
    let key = k.to_be_bytes();
    let token = ccrsim::node::locator::partitioner::token(&key);
    node.engine
        .storage
        .read_partition(&t.id, token, &key)
        .unwrap()
        .is_some()
}

async fn tool(args: &[&str]) -> String {
    let (out, err, code) = nodetool(DC1, args).await;
    assert_eq!(code, 0, "nodetool {args:?}: {out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_handoff_keeps_no_hints_until_enabled_at_runtime() {
    let faults = Arc::new(Faults::default());
    let layout = one_and_one();
    let mut cfg = layout.config(0);
    cfg.hints.enabled = false;
    cfg.hints.throttle_kib = 0;
    cfg.hints.max_delivery_threads = 1;
    let dc1 = Node::start_with(cfg, faults.clone(), common::FAST)
        .await
        .unwrap();
    let dc2 = layout.start(1, &faults).await;
    let (a1, a2): (IpAddr, IpAddr) = (DC1.parse().unwrap(), DC2.parse().unwrap());
    eventually(20, "the two nodes see each other up", || {
        dc1.member.core.is_alive(&a2) && dc2.member.core.is_alive(&a1)
    })
    .await;

    let s = session::pinned("dc1").connect(DC1).await.unwrap();
    session::ddl(
        &s,
        &[
            "CREATE KEYSPACE h WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 1, 'dc2': 1}",
            "CREATE TABLE h.t (k int PRIMARY KEY, v int)",
        ],
    )
    .await;
    eventually(20, "schema agreement", || {
        dc1.engine.schema().version() == dc2.engine.schema().version()
    })
    .await;
    assert_eq!(
        tool(&["statushandoff"]).await,
        "Hinted handoff is not running\n"
    );

    // dc2 stops (announced: dc1 marks it down at once).
    dc2.stop().await;
    eventually(10, "dc1 sees dc2 down", || !dc1.member.core.is_alive(&a2)).await;

    // Hints disabled: the write succeeds at LOCAL_ONE and nothing is kept.
    write(&s, 1).await;
    assert!(holds(&dc1, 1));
    assert_eq!(hints::all(&dc1.engine.storage).unwrap(), vec![]);
    assert_eq!(
        tool(&["listpendinghints"]).await,
        "This node does not have any pending hints\n"
    );

    // Enabled at runtime: the next write is hinted for dc2.
    assert_eq!(tool(&["enablehandoff"]).await, "");
    assert_eq!(
        tool(&["statushandoff"]).await,
        "Hinted handoff is running\n"
    );
    write(&s, 2).await;
    eventually(10, "a hint kept for dc2", || {
        hints::all(&dc1.engine.storage).unwrap().len() == 1
    })
    .await;
    let listed = tool(&["listpendinghints"]).await;
    assert!(
        listed.contains("Total hints") && listed.contains(DC2),
        "{listed}"
    );
    // Paused delivery reads as not running too.
    tool(&["pausehandoff"]).await;
    assert_eq!(
        tool(&["statushandoff"]).await,
        "Hinted handoff is not running\n"
    );
    tool(&["resumehandoff"]).await;

    // dc2 back: the hint is delivered and deleted; the write made while
    // hints were off never reaches dc2 (only repair would bring it).
    let dc2 = layout.start(1, &faults).await;
    eventually(20, "the hint reaches dc2", || holds(&dc2, 2)).await;
    eventually(10, "the delivered hint is deleted", || {
        hints::all(&dc1.engine.storage).unwrap().is_empty()
    })
    .await;
    assert!(!holds(&dc2, 1), "no hint was kept for the first write");

    // Disabled again at runtime.
    assert_eq!(tool(&["disablehandoff"]).await, "");
    assert_eq!(
        tool(&["statushandoff"]).await,
        "Hinted handoff is not running\n"
    );
    assert!(!dc1.member.core.membership().hints_enabled());

    drop(s);
    dc2.stop().await;
    dc1.stop().await;
}
