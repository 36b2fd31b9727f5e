//! A plan change resizes a service's datacenter with streaming: new nodes
//! bootstrap (each holds the rows of its ranges before the service is
//! RUNNING again), and nodes removed by a smaller plan hand their rows over
//! before they go; no row is lost either way. Also Aiven's limitation 2: a
//! service whose keyspaces all use SimpleStrategy cannot be joined.

mod common;

use std::net::IpAddr;

use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;
use serde_json::Value;

const ROWS: i32 = 200;

async fn count(s: &Session) -> usize {
    let mut st = common::session::at("SELECT k FROM sized.t", Consistency::LocalQuorum);
    st.set_page_size(1000);
    common::session::rows_num(s, st).await
}

/// Every node of the datacenter holds every row it is a replica of.
async fn replicas_hold_their_rows(
    runtime: &ccrsim::runtime::in_process::InProcess,
    addrs: &[IpAddr],
) {
    for a in addrs {
        let core = runtime.node_core(*a).await.expect("the node runs");
        let engine = core.engine().clone();
        let ring = core.ring();
        let table = engine.schema().table("sized", "t").unwrap().clone();
        let strategy = engine
            .schema()
            .keyspace("sized")
            .unwrap()
            .meta
            .strategy
            .clone();
        let (a, engine) = (*a, engine.clone());
        tokio::task::spawn_blocking(move || {
            for k in 0..ROWS {
                let key = k.to_be_bytes();
                let token = ccrsim::node::locator::partitioner::token(&key);
                if ring.replicas(&strategy, token).contains(&a) {
                    assert!(
                        engine
                            .storage
                            .read_partition(&table.id, token, &key)
                            .unwrap()
                            .is_some(),
                        "{a} is a replica of key {k} but does not hold it"
                    );
                }
            }
        })
        .await
        .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_change_streams_rows_to_new_nodes_and_from_removed_ones() {
    let d = common::Services::start(150).await;
    let cli = |line: &'static str| d.ok(line);
    let runtime = d.runtime.clone();
    cli("service create sized --service-type cassandra --plan business-4 --cloud aws-eu-west-1 -c cassandra.datacenter=sized").await;
    cli("service wait sized --timeout 60").await;
    let v: Value = d.service("sized").await;
    let password = v["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let s = common::session::login("127.0.150.1", "avnadmin", &password)
        .await
        .unwrap();
    // Aiven's limitation 2: a service holding only SimpleStrategy keyspaces
    // cannot be joined (and the refused service is not created).
    s.query_unpaged(
        "CREATE KEYSPACE legacy WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 3}",
        &[],
    )
    .await
    .unwrap();
    s.await_schema_agreement().await.unwrap();
    let (out, err, code) = common::cli(
        &d.server.url(),
        &d.server.token,
        &[
            "service",
            "create",
            "joiner",
            "--service-type",
            "cassandra",
            "--plan",
            "business-4",
            "--cloud",
            "aws-eu-west-1",
            "-c",
            "cassandra.datacenter=joiner",
            "-c",
            "service_to_join_with=sized",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("its keyspaces (legacy) all use SimpleStrategy")
            && err.contains("CCR rule existing-needs-nts, Aiven limitation 2"),
        "{err}"
    );
    assert!(!cli("service list").await.contains("joiner"));
    common::session::ddl(
        &s,
        &[
            "CREATE KEYSPACE sized WITH replication = {'class': 'NetworkTopologyStrategy', 'sized': 3}",
            "CREATE TABLE sized.t (k int PRIMARY KEY)",
        ],
    )
    .await;
    for k in 0..ROWS {
        let mut st = Statement::new("INSERT INTO sized.t (k) VALUES (?)");
        st.set_consistency(Consistency::LocalQuorum);
        s.query_unpaged(st, (k,)).await.unwrap();
    }

    // Six nodes: the three new ones bootstrap before the service runs again.
    cli("service update sized -p premium-4").await;
    cli("service wait sized --timeout 120").await;
    let six: Vec<IpAddr> = (1..=6)
        .map(|i| format!("127.0.150.{i}").parse().unwrap())
        .collect();
    replicas_hold_their_rows(&runtime, &six).await;
    assert_eq!(count(&s).await, ROWS as usize);

    // Back to three: the leaving nodes hand their rows over.
    cli("service update sized -p business-4").await;
    common::poll(60, "nodes 4-6 stop", || async {
        if runtime.node_core(six[5]).await.is_some() || runtime.node_core(six[3]).await.is_some() {
            Err("nodes 4-6 still run".to_string())
        } else {
            Ok(())
        }
    })
    .await;
    cli("service wait sized --timeout 60").await;
    replicas_hold_their_rows(&runtime, &six[..3]).await;
    assert_eq!(count(&s).await, ROWS as usize);
    drop(s);
    d.stop().await;
}
