//! The multi-datacenter pitfall users meet with real Cassandra: roles live
//! in `system_auth`, which Cassandra creates with SimpleStrategy RF 1. A
//! role whose one replica is in dc1 cannot log in through dc2 while dc1 is
//! cut off. The replication scripts ccrsim generates (`cql setup`) fix it:
//! after the ALTERs and `nodetool rebuild -- dc1` in dc2, the same login
//! through dc2 works during the same outage.

mod common;

use std::net::IpAddr;

use common::{FAST, eventually};
use std::sync::Arc;

use ccrsim::node::cluster::transport::{Faults, admin};
use ccrsim::node::config::NodeConfig;
use ccrsim::node::cql::exec::{Options, Session};
use ccrsim::node::db::schema::Strategy;
use ccrsim::node::error::QueryError;
use ccrsim::node::instance::Node;
use ccrsim::replication::{Replication, alter_keyspace};

/// Runs CQL as the superuser on `node`, as the server does.
async fn cql(node: &Node, text: &str) -> Result<(), QueryError> {
    let mut s = Session::user("cassandra");
    node.engine
        .query(&mut s, text, &Options::default())
        .await
        .map(|_| ())
}

async fn login(node: &Node, user: &str, pw: &str) -> Result<(), QueryError> {
    node.engine.login(user, pw).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn system_auth_at_simple_strategy_fails_logins_and_the_scripts_fix_it() {
    let faults = Arc::new(Faults::default());
    let addrs: Vec<IpAddr> = (1..=3)
        .map(|i| format!("127.0.74.{i}"))
        .chain((1..=3).map(|i| format!("127.0.75.{i}")))
        .map(|a| a.parse().unwrap())
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let mut c = NodeConfig::local(*a, dirs[i].path());
        c.dc = if i < 3 { "dc1" } else { "dc2" }.into();
        c.rack = ["a", "b", "c"][i % 3].into();
        c.seeds = vec![addrs[0], addrs[3]];
        nodes.push(Node::start_with(c, faults.clone(), FAST).await.unwrap());
    }
    eventually(30, "six nodes up", || {
        nodes.iter().all(|n| n.engine.peers().len() == 5)
    })
    .await;

    // A role whose single system_auth replica (SimpleStrategy RF 1) is in dc1.
    let ring = nodes[0].member.core.ring();
    let rf1 = Strategy::Simple {
        replication_factor: 1,
    };
    let role = (0..1000)
        .map(|i| format!("app{i}"))
        .find(|r| {
            let t = ccrsim::node::locator::partitioner::token(r.as_bytes());
            addrs[..3].contains(&ring.replicas(&rf1, t)[0])
        })
        .unwrap();
    cql(
        &nodes[0],
        &format!("CREATE ROLE {role} WITH PASSWORD = 'pw' AND LOGIN = true"),
    )
    .await
    .unwrap();
    login(&nodes[4], &role, "pw")
        .await
        .unwrap_or_else(|e| panic!("logs in through dc2 while all is up: {e}"));

    let cut = |on: bool| {
        for a in &addrs[..3] {
            for b in &addrs[3..] {
                if on {
                    faults.cut(*a, *b);
                } else {
                    faults.heal(*a, *b);
                }
            }
        }
    };
    cut(true);
    eventually(20, "dc2 sees dc1 down", || {
        nodes[3..]
            .iter()
            .all(|n| addrs[..3].iter().all(|a| !n.member.core.is_alive(a)))
    })
    .await;
    let e = login(&nodes[4], &role, "pw").await.unwrap_err();
    assert_eq!(
        e,
        QueryError::Authentication(
            "Unable to perform authentication: Cannot achieve consistency level LOCAL_ONE".into()
        )
    );

    // The fix: the generated ALTERs of the system keyspaces, then a rebuild
    // of dc2 from dc1 (what the generated scripts tell the user to run).
    cut(false);
    eventually(30, "healed", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    let rf = Replication(vec![("dc1".into(), 3), ("dc2".into(), 3)]);
    for ks in ["system_auth", "system_distributed", "system_traces"] {
        cql(&nodes[0], &alter_keyspace(ks, &rf)).await.unwrap();
    }
    eventually(30, "schema agreement", || {
        let v = nodes[0].engine.schema().version();
        nodes.iter().all(|n| n.engine.schema().version() == v)
    })
    .await;
    for a in &addrs[3..] {
        let (ok, text) = admin(
            std::net::SocketAddr::new(*a, 7000),
            vec!["rebuild".into(), "--".into(), "dc1".into()],
        )
        .await
        .unwrap();
        assert!(ok, "{text}");
    }
    cut(true);
    eventually(20, "dc2 sees dc1 down again", || {
        nodes[3..]
            .iter()
            .all(|n| addrs[..3].iter().all(|a| !n.member.core.is_alive(a)))
    })
    .await;
    login(&nodes[4], &role, "pw")
        .await
        .unwrap_or_else(|e| panic!("the login works through dc2 during the outage: {e}"));
    assert!(login(&nodes[4], &role, "wrong").await.is_err());
    faults.heal_all();
    for n in nodes {
        n.stop().await;
    }
}
