//! The scylla Rust driver against a node running in this process: connect
//! with password auth, token-aware prepared writes and reads, paging over
//! 10 000 rows, batches, LWT, typed errors, schema agreement.

mod common;

use common::session::db_error_and_message as db_error;

use futures::TryStreamExt;
use scylla::client::session::Session;
use scylla::errors::DbError;
use scylla::statement::batch::{Batch, BatchType};

async fn connect(addr: &str) -> Session {
    common::session::connect(addr)
        .await
        .expect("the driver connects")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scylla_driver_reads_writes_pages_and_gets_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = common::start_node("127.0.62.1", dir.path()).await;
    let s = connect("127.0.62.1").await;

    s.query_unpaged(
        "CREATE KEYSPACE rs WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();
    s.query_unpaged(
        "CREATE TABLE rs.kv (k int, c int, v text, PRIMARY KEY (k, c))",
        &[],
    )
    .await
    .unwrap();
    s.await_schema_agreement().await.expect("schema agreement");

    // Token-aware prepared statements: the driver's token equals the server's.
    let insert = s
        .prepare("INSERT INTO rs.kv (k, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    let token_of = s
        .prepare("SELECT token(k) FROM rs.kv WHERE k = ? LIMIT 1")
        .await
        .unwrap();
    for k in [0i32, 1, -7, 123_456, i32::MAX] {
        s.execute_unpaged(&insert, (k, 0i32, "x")).await.unwrap();
        let driver = insert
            .calculate_token(&(k, 0i32, "x"))
            .unwrap()
            .expect("k is the partition key");
        let (server,): (i64,) = s
            .execute_unpaged(&token_of, (k,))
            .await
            .unwrap()
            .into_rows_result()
            .unwrap()
            .single_row()
            .unwrap();
        assert_eq!(driver.value(), server, "token of {k}");
    }

    // 10 000 rows in one partition, written concurrently, read back in pages.
    let writes = (0..10_000i32).map(|c| {
        let (s, insert) = (&s, &insert);
        async move { s.execute_unpaged(insert, (42i32, c, format!("v{c}"))).await }
    });
    futures::future::try_join_all(writes).await.unwrap();
    let mut select = s
        .prepare("SELECT c, v FROM rs.kv WHERE k = ?")
        .await
        .unwrap();
    select.set_page_size(1000);
    let rows: Vec<(i32, String)> = s
        .execute_iter(select.clone(), (42i32,))
        .await
        .unwrap()
        .rows_stream::<(i32, String)>()
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rows.len(), 10_000);
    assert!(
        rows.iter()
            .enumerate()
            .all(|(i, (c, v))| *c == i as i32 && *v == format!("v{i}"))
    );

    // Batches.
    let mut batch = Batch::new(BatchType::Logged);
    batch.append_statement(insert.clone());
    batch.append_statement("INSERT INTO rs.kv (k, c, v) VALUES (7, 2, 'two')");
    s.batch(&batch, ((7i32, 1i32, "one"), ())).await.unwrap();
    let n: (i64,) =
        common::session::single_row(&s, "SELECT count(*) FROM rs.kv WHERE k = 7", &[]).await;
    assert_eq!(n.0, 2);

    // Lightweight transactions.
    let lwt = s
        .prepare("INSERT INTO rs.kv (k, c, v) VALUES (?, ?, ?) IF NOT EXISTS")
        .await
        .unwrap();
    let first = s.execute_unpaged(&lwt, (8i32, 1i32, "a")).await.unwrap();
    let (applied,): (bool,) = first.into_rows_result().unwrap().first_row().unwrap();
    assert!(applied);
    let second = s.execute_unpaged(&lwt, (8i32, 1i32, "b")).await.unwrap();
    let (applied, _k, _c, v): (bool, Option<i32>, Option<i32>, Option<String>) =
        second.into_rows_result().unwrap().first_row().unwrap();
    assert!(!applied);
    assert_eq!(v.as_deref(), Some("a"));

    // Errors arrive as the driver's typed errors.
    let (e, msg) = db_error(
        s.query_unpaged("SELEC * FROM rs.kv", &[])
            .await
            .unwrap_err(),
    );
    assert_eq!(e, DbError::SyntaxError, "{msg}");
    let (e, _) = db_error(
        s.query_unpaged("SELECT * FROM rs.kv WHERE v = 'x'", &[])
            .await
            .unwrap_err(),
    );
    assert_eq!(e, DbError::Invalid);
    let (e, _) = db_error(
        s.query_unpaged("CREATE TABLE rs.kv (k int PRIMARY KEY)", &[])
            .await
            .unwrap_err(),
    );
    assert_eq!(
        e,
        DbError::AlreadyExists {
            keyspace: "rs".into(),
            table: "kv".into()
        }
    );
    let (e, _) = db_error(
        s.query_unpaged(
            "CREATE KEYSPACE bad WITH replication = {'class': 'SimpleStrategy', 'replication_factor': -1}",
            &[],
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(e, DbError::ConfigError);

    // A wrong password is an authentication error.
    let wrong = common::session::login("127.0.62.1", "cassandra", "nope").await;
    assert!(wrong.is_err(), "a wrong password must not connect");

    drop(s);
    node.stop().await;
}
