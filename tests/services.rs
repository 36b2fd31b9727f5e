//! Services run real datacenters: creating a service starts its nodes in
//! the daemon's process; a second service joining it becomes a second
//! datacenter of the same cluster, and the data written before the join is
//! readable in the new datacenter once the service is RUNNING (keyspaces
//! altered and nodes rebuilt for the user); power off and on keeps the data;
//! a split leaves two clusters that both keep the data and never talk again;
//! terminating a joined service takes its datacenter out of the pair.

mod common;

use std::time::Duration;

use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;
use serde_json::Value;

async fn session_in(addr: &str, dc: &str, password: &str) -> std::sync::Arc<Session> {
    ccrsim::cli::bench::session_in(&format!("{addr}:9042"), dc, "avnadmin", password)
        .await
        .unwrap()
}

async fn read_all(s: &Session, cl: Consistency) -> Vec<(i32, String)> {
    let mut st = Statement::new("SELECT k, v FROM shop.orders");
    st.set_consistency(cl);
    let mut rows: Vec<(i32, String)> = s
        .query_unpaged(st, &[])
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows::<(i32, String)>()
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.sort();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joined_service_is_a_new_datacenter_with_the_old_data() {
    let d = common::Services::start(90).await;
    let runtime = d.runtime.clone();
    let cli = |line: Vec<String>| {
        let line = line.join(" ");
        let d = &d;
        async move { d.ok(&line).await }
    };
    let args = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
    cli(args(
        "service create eu --service-type cassandra --plan business-4 --cloud aws-eu-west-1 -c cassandra.datacenter=eu",
    ))
    .await;
    cli(args("service wait eu --timeout 60")).await;
    let v: Value = serde_json::from_str(&cli(args("service get eu --json")).await).unwrap();
    assert_eq!(v["state"], "RUNNING", "{v}");
    let password = v["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(v["service_uri_params"]["host"], "127.0.90.1");

    // An NTS keyspace with data, before the join.
    let eu = session_in("127.0.90.1", "eu", &password).await;
    common::session::ddl(
        &eu,
        &[
            "CREATE KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'eu': 3}",
            "CREATE TABLE shop.orders (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    for k in 0..100 {
        let mut st = Statement::new("INSERT INTO shop.orders (k, v) VALUES (?, ?)");
        st.set_consistency(Consistency::LocalQuorum);
        eu.query_unpaged(st, (k, format!("order {k}")))
            .await
            .unwrap();
    }

    // The joining service: a second datacenter, migrated for the user.
    cli(args(
        "service create us --service-type cassandra --plan business-4 --cloud google-us-east1 -c cassandra.datacenter=us -c service_to_join_with=eu",
    ))
    .await;
    cli(args("service wait us --timeout 120")).await;
    let us_json: Value = serde_json::from_str(&cli(args("service get us --json")).await).unwrap();
    assert_eq!(us_json["state"], "RUNNING", "{us_json}");
    assert_eq!(
        us_json["service_uri_params"]["password"], password,
        "one cluster, one avnadmin"
    );
    let us = session_in("127.0.91.1", "us", &password).await;
    let rows = read_all(&us, Consistency::LocalOne).await;
    assert_eq!(rows.len(), 100, "the old data in the new datacenter");
    assert_eq!(rows[7], (7, "order 7".to_string()));
    // New writes in us reach eu.
    let mut st = Statement::new("INSERT INTO shop.orders (k, v) VALUES (?, ?)");
    st.set_consistency(Consistency::LocalQuorum);
    us.query_unpaged(st, (1000, "from us")).await.unwrap();
    drop(us);

    // Power off keeps the data; power on brings it back.
    cli(args("service update us --power-off")).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = serde_json::from_str(&cli(args("service get us --json")).await).unwrap();
        if v["state"] == "POWEROFF"
            && runtime
                .node_engine("127.0.91.1".parse().unwrap())
                .await
                .is_none()
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "power off: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cli(args("service update us --power-on")).await;
    cli(args("service wait us --timeout 60")).await;
    let us = session_in("127.0.91.1", "us", &password).await;
    let rows = read_all(&us, Consistency::LocalOne).await;
    assert_eq!(rows.len(), 101, "the data after power on");
    let rows = read_all(&eu, Consistency::LocalOne).await;
    assert!(rows.contains(&(1000, "from us".to_string())));
    drop((us, eu));

    // Split: both keep everything written so far; afterwards each keyspace
    // names only its own datacenter and writes stay on their side.
    cli(args("ccr split eu")).await;
    cli(args("service wait eu --timeout 60")).await;
    cli(args("service wait us --timeout 60")).await;
    let eu_engine = runtime
        .node_engine("127.0.90.1".parse().unwrap())
        .await
        .unwrap();
    let us_engine = runtime
        .node_engine("127.0.91.1".parse().unwrap())
        .await
        .unwrap();
    common::eventually(30, "each side's keyspace names only its datacenter", || {
        let only = |e: &ccrsim::node::cql::exec::Engine, dc: &str| {
            matches!(
                &e.schema().keyspace("shop").unwrap().meta.strategy,
                ccrsim::node::db::schema::Strategy::NetworkTopology { datacenters }
                    if datacenters.keys().collect::<Vec<_>>() == vec![dc]
            )
        };
        only(&eu_engine, "eu")
            && only(&us_engine, "us")
            && eu_engine.peers().len() == 2
            && us_engine.peers().len() == 2
    })
    .await;
    let eu = session_in("127.0.90.1", "eu", &password).await;
    let us = session_in("127.0.91.1", "us", &password).await;
    assert_eq!(read_all(&eu, Consistency::LocalOne).await.len(), 101);
    assert_eq!(read_all(&us, Consistency::LocalOne).await.len(), 101);
    let mut st = Statement::new("INSERT INTO shop.orders (k, v) VALUES (?, ?)");
    st.set_consistency(Consistency::LocalQuorum);
    eu.query_unpaged(st, (2000, "after the split"))
        .await
        .unwrap();
    assert_eq!(read_all(&eu, Consistency::LocalOne).await.len(), 102);
    assert_eq!(
        read_all(&us, Consistency::LocalQuorum).await.len(),
        101,
        "us never sees eu's write after the split"
    );
    drop(us);

    // A new service joins eu, then is terminated: eu's keyspaces stop
    // naming it and its nodes leave eu's view of the cluster.
    cli(args(
        "service create ap --service-type cassandra --plan business-4 --cloud aws-eu-west-1 -c cassandra.datacenter=ap -c service_to_join_with=eu",
    ))
    .await;
    cli(args("service wait ap --timeout 120")).await;
    assert_eq!(eu_engine.peers().len(), 5);
    cli(args("service terminate ap --force")).await;
    common::eventually(60, "ap left eu's cluster", || {
        let strategy = eu_engine
            .schema()
            .keyspace("shop")
            .unwrap()
            .meta
            .strategy
            .clone();
        eu_engine.peers().len() == 2
            && matches!(
                strategy,
                ccrsim::node::db::schema::Strategy::NetworkTopology { datacenters }
                    if datacenters.keys().collect::<Vec<_>>() == vec!["eu"]
            )
    })
    .await;
    assert_eq!(read_all(&eu, Consistency::LocalQuorum).await.len(), 102);
    drop(eu);
    d.stop().await;
}
