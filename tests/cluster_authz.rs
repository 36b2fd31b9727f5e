//! Permissions are cluster-wide: `system_auth.role_permissions` is
//! replicated like the other auth tables, so a grant made through one
//! datacenter is enforced by the nodes of the other, and so is a revoke
//! (each node trusts what it read for at most the 2 s of Cassandra's
//! `permissions_validity`). Two datacenters of two nodes each, dc1 on
//! 127.0.96.1-2 and dc2 on 127.0.97.1-2, run CassandraAuthorizer.

mod common;

use std::net::IpAddr;
use std::sync::Arc;

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::config::{Authorizer, NodeConfig};
use ccrsim::node::cql::exec::{Options, Session};
use ccrsim::node::error::QueryError;
use ccrsim::node::instance::Node;
use common::{FAST, eventually};

/// Runs `text` as `user` on `node`, as the server does.
async fn cql(node: &Node, user: &str, text: &str) -> Result<(), QueryError> {
    let mut s = Session::user(user);
    let o = Options {
        consistency: ccrsim::node::db::consistency::Consistency::LocalOne,
        ..Default::default()
    };
    node.engine.query(&mut s, text, &o).await.map(|_| ())
}

/// Polls until `text` run as `user` on `node` answers as `want` says.
async fn until(
    node: &Node,
    user: &str,
    text: &str,
    what: &str,
    want: fn(&Result<(), QueryError>) -> bool,
) {
    common::poll(20, what, || async {
        let r = cql(node, user, text).await;
        if want(&r) {
            Ok(())
        } else {
            Err(format!("last answer: {r:?}"))
        }
    })
    .await;
}

fn unauthorized(r: &Result<(), QueryError>) -> bool {
    matches!(r, Err(QueryError::Unauthorized(m)) if m.contains("has no SELECT permission on <table shop.orders>"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_in_one_datacenter_is_enforced_in_the_other() {
    let faults = Arc::new(Faults::default());
    let addrs: Vec<IpAddr> = ["127.0.96.1", "127.0.96.2", "127.0.97.1", "127.0.97.2"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let mut c = NodeConfig::local(*a, dirs[i].path());
        c.dc = if i < 2 { "dc1" } else { "dc2" }.into();
        c.rack = ["a", "b"][i % 2].into();
        c.seeds = vec![addrs[0], addrs[2]];
        c.authorizer = Authorizer::Cassandra;
        nodes.push(Node::start_with(c, faults.clone(), FAST).await.unwrap());
    }
    eventually(30, "four nodes up", || {
        nodes.iter().all(|n| n.engine.peers().len() == 3)
    })
    .await;
    let (dc1, dc2) = (&nodes[0], &nodes[3]);
    let root = "cassandra";
    for stmt in [
        "ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}",
        "CREATE KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 2, 'dc2': 2}",
        "CREATE TABLE shop.orders (customer text, id int, item text, PRIMARY KEY (customer, id))",
    ] {
        cql(dc1, root, stmt).await.unwrap();
    }
    let version = dc1.engine.schema().version();
    eventually(20, "every node has the schema", || {
        nodes.iter().all(|n| n.engine.schema().version() == version)
    })
    .await;
    cql(
        dc1,
        root,
        "CREATE ROLE app WITH PASSWORD = 'pw' AND LOGIN = true",
    )
    .await
    .unwrap();
    cql(
        dc1,
        root,
        "INSERT INTO shop.orders (customer, id, item) VALUES ('ann', 1, 'tea')",
    )
    .await
    .unwrap();

    // Before the grant, dc2 refuses app (once it knows the role at all).
    let select = "SELECT * FROM shop.orders WHERE customer = 'ann'";
    until(
        dc2,
        "app",
        select,
        "dc2 refuses app before the grant",
        unauthorized,
    )
    .await;

    cql(dc1, root, "GRANT SELECT ON KEYSPACE shop TO app")
        .await
        .unwrap();
    until(
        dc2,
        "app",
        select,
        "dc2 lets app read after the grant in dc1",
        |r| r.is_ok(),
    )
    .await;
    // A write still needs MODIFY, in either datacenter.
    for n in [dc1, dc2] {
        let e = cql(
            n,
            "app",
            "INSERT INTO shop.orders (customer, id, item) VALUES ('bob', 2, 'milk')",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(&e, QueryError::Unauthorized(m) if m.contains("has no MODIFY permission")),
            "{e:?}"
        );
    }

    // A revoke made through dc2 is enforced in dc1.
    until(
        dc1,
        "app",
        select,
        "dc1 lets app read after the grant",
        |r| r.is_ok(),
    )
    .await;
    cql(dc2, root, "REVOKE SELECT ON KEYSPACE shop FROM app")
        .await
        .unwrap();
    until(
        dc1,
        "app",
        select,
        "dc1 refuses app after the revoke in dc2",
        unauthorized,
    )
    .await;
    until(
        dc2,
        "app",
        select,
        "dc2 refuses app after its own revoke",
        unauthorized,
    )
    .await;
    for n in nodes {
        n.stop().await;
    }
}
