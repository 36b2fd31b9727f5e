//! The README's example: two datacenters of containers, a row written in
//! one and read in the other. (tests/golden_cql.rs checks that the README
//! shows this file as it is.)

use std::time::Duration;

use ccrsim::testkit::docker_or_skip;
use ccrsim::testkit::{Cluster, unique_keyspace};
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;

#[tokio::test(flavor = "multi_thread")]
async fn written_in_dc1_read_in_dc2() {
    // Without Docker this test says it is skipped (and fails under CI=true).
    if docker_or_skip("written_in_dc1_read_in_dc2").await.is_none() {
        return;
    }
    // dc1 and dc2, three nodes each, on a Docker network of their own.
    let cluster = Cluster::builder()
        .datacenters(2)
        .nodes(3)
        .start()
        .await
        .unwrap();

    // The keyspace comes from ccrsim's generated NetworkTopologyStrategy
    // script: RF 3 in both datacenters (system keyspaces included).
    let ks = unique_keyspace("example");
    cluster.apply_replication(&[&ks], 3).await.unwrap();

    // One session per datacenter, each pinned to its own.
    let dc1 = cluster.session(0).await.unwrap();
    let dc2 = cluster.session(1).await.unwrap();
    dc1.query_unpaged(
        format!("CREATE TABLE {ks}.kv (k text PRIMARY KEY, v text)"),
        &[],
    )
    .await
    .unwrap();
    dc1.await_schema_agreement().await.unwrap();

    // Written in dc1 at LOCAL_QUORUM...
    let mut insert = Statement::new(format!(
        "INSERT INTO {ks}.kv (k, v) VALUES ('hello', 'world')"
    ));
    insert.set_consistency(Consistency::LocalQuorum);
    dc1.query_unpaged(insert, &[]).await.unwrap();

    // ...and read in dc2 at LOCAL_ONE, polled until it is there (30 s at most).
    let lag = cluster
        .await_rows(
            &dc2,
            &format!("SELECT v FROM {ks}.kv WHERE k = 'hello'"),
            (),
            Duration::from_secs(30),
            |rows| rows.rows_num() == 1,
        )
        .await
        .unwrap();
    println!("replicated to dc2 in {lag:?}");
    // Dropping the cluster removes its containers and network; when the
    // test fails, every container's log is printed first.
}
