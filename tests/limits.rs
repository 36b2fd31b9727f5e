//! Cassandra's client limits on a node running in this process, seen from
//! the wire and from the scylla driver: the frame caps checked on the header
//! before any body byte is read, bytes in flight answered with Overloaded
//! (THROW_ON_OVERLOAD) or a backpressure warning, the connection limit, and the batch
//! size and spread guards with their warnings. Each test has its own
//! 127.0.86.x address.

mod common;

use common::session::db_error_and_message as db_error;

use std::net::IpAddr;

use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;
use common::wire::{self, QUERY, RESULT};
use scylla::client::session::Session;
use scylla::errors::DbError;
use scylla::statement::batch::{Batch, BatchType};
use tokio::io::AsyncWriteExt;

async fn start(addr: &str, dir: &std::path::Path, tune: impl FnOnce(&mut NodeConfig)) -> Node {
    common::start_node_with(addr, dir, tune).await
}

/// A QUERY of `SELECT key FROM system.local` padded with spaces to `len` body bytes.
fn padded_select(len: usize) -> Vec<u8> {
    let q = "SELECT key FROM system.local";
    let body = wire::query_body(&format!("{q}{}", " ".repeat(len - q.len() - 7)));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_are_refused_on_their_header() {
    let addr = "127.0.86.1:9042";
    let dir = tempfile::tempdir().unwrap();
    let node = start("127.0.86.1", dir.path(), |_| {}).await;

    // Before authentication: a STARTUP over 128 KiB is a protocol error and
    // the connection closes; its body was never sent, so never read.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(&wire::header(3, wire::STARTUP, 200_000))
        .await
        .unwrap();
    let r = wire::read(&mut s).await;
    assert_eq!(r.stream, 3);
    assert_eq!(
        r.error(),
        (
            0x000A,
            "Request is too big: length 200009 exceeds maximum allowed length 131072 before authentication."
                .to_string()
        )
    );
    assert!(wire::closed(&mut s).await, "the connection is closed");

    // Logged in: a 17 MiB frame gets Cassandra's InvalidRequest as soon as
    // its header arrives; its body is skipped, never held, and the
    // connection goes on.
    let mut s = wire::login(addr, false).await;
    // Bytes in flight are counted by client address (the socket's source).
    let ip: IpAddr = s.local_addr().unwrap().ip();
    let len = 17 * 1024 * 1024;
    s.write_all(&wire::header(5, QUERY, len)).await.unwrap();
    let r = wire::read(&mut s).await;
    assert_eq!(r.stream, 5);
    assert_eq!(
        r.error(),
        (
            0x2200,
            "Request is too big: length 17825801 exceeds maximum allowed length 16777216."
                .to_string()
        )
    );
    let chunk = vec![b' '; 1024 * 1024];
    for _ in 0..17 {
        s.write_all(&chunk).await.unwrap();
        assert_eq!(node.bytes_in_flight(ip), (0, 0), "nothing held for it");
    }
    s.write_all(&wire::frame(6, QUERY, &padded_select(100)))
        .await
        .unwrap();
    let r = wire::read(&mut s).await;
    assert_eq!((r.stream, r.opcode), (6, RESULT), "the connection goes on");
    drop(s);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_in_flight_answer_overloaded_or_apply_backpressure() {
    let addr = "127.0.86.2:9042";
    let dir = tempfile::tempdir().unwrap();
    let node = start("127.0.86.2", dir.path(), |c| {
        c.transport.max_request_data_in_flight_per_ip = 64 * 1024;
    })
    .await;
    let throws = wire::login(addr, true).await;
    let waits = wire::login(addr, false).await;
    let (mut throws, mut waits) = (throws, waits);

    // A 60 000-byte request whose body is still arriving holds its bytes.
    let mut slow = wire::login(addr, false).await;
    let ip: IpAddr = slow.local_addr().unwrap().ip();
    let big = padded_select(60_000);
    slow.write_all(&wire::header(2, QUERY, big.len() as u32))
        .await
        .unwrap();
    slow.write_all(&big[..30_000]).await.unwrap();
    common::eventually(10, "the slow request is counted", || {
        node.bytes_in_flight(ip) == (60_000, 60_000)
    })
    .await;

    // THROW_ON_OVERLOAD: refused with Overloaded, Cassandra's message.
    throws
        .write_all(&wire::frame(7, QUERY, &padded_select(10_000)))
        .await
        .unwrap();
    let r = wire::read(&mut throws).await;
    assert_eq!(r.stream, 7);
    assert_eq!(
        r.error(),
        (
            0x1001,
            "Request breached limit on bytes in flight. (Using 60000/65536 bytes of endpoint limit and 60000/268435456 bytes of global limit.)) Server is currently in an overloaded state and cannot accept more requests."
                .to_string()
        )
    );

    // Without it, as Cassandra: the request still runs, with Cassandra's
    // warning (its connection then pauses until it has nothing in flight).
    waits
        .write_all(&wire::frame(8, QUERY, &padded_select(10_000)))
        .await
        .unwrap();
    let r = wire::read(&mut waits).await;
    assert_eq!((r.stream, r.opcode), (8, RESULT));
    assert_eq!(
        r.warnings,
        [
            "Request breached limit(s) on bytes in flight (Endpoint: 65536, Global: 268435456) and triggered backpressure."
        ]
    );
    common::eventually(10, "only the slow request is held", || {
        node.bytes_in_flight(ip) == (60_000, 60_000)
    })
    .await;
    slow.write_all(&big[30_000..]).await.unwrap();
    let r = wire::read(&mut slow).await;
    assert_eq!((r.stream, r.opcode), (2, RESULT));
    assert!(r.warnings.is_empty());

    // With room again, the refused request goes through.
    throws
        .write_all(&wire::frame(9, QUERY, &padded_select(10_000)))
        .await
        .unwrap();
    let r = wire::read(&mut throws).await;
    assert_eq!((r.stream, r.opcode, r.warnings.len()), (9, RESULT, 0));
    common::eventually(10, "every byte released", || {
        node.bytes_in_flight(ip) == (0, 0)
    })
    .await;
    drop((throws, waits, slow));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_limit_is_closed_at_once() {
    let addr = "127.0.86.3:9042";
    let dir = tempfile::tempdir().unwrap();
    let node = start("127.0.86.3", dir.path(), |c| {
        c.transport.max_concurrent_connections_per_ip = 2;
    })
    .await;
    let a = wire::login(addr, false).await;
    let b = wire::login(addr, false).await;
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert!(
        wire::closed(&mut c).await,
        "the third is closed, nothing sent"
    );
    assert_eq!(node.client_connections().0, 2);
    drop(a);
    common::eventually(10, "a connection is released", || {
        node.client_connections().0 == 1
    })
    .await;
    let mut c = wire::login(addr, false).await;
    c.write_all(&wire::frame(2, QUERY, &padded_select(100)))
        .await
        .unwrap();
    assert_eq!(wire::read(&mut c).await.opcode, RESULT);
    drop((b, c));
    node.stop().await;
}

async fn count(s: &Session, q: &str) -> i64 {
    let (n,): (i64,) = common::session::single_row(s, q, &[]).await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_warn_and_fail_as_cassandras_do() {
    let dir = tempfile::tempdir().unwrap();
    let node = start("127.0.86.4", dir.path(), |_| {}).await;
    let s = common::session::connect("127.0.86.4")
        .await
        .expect("the driver connects");
    s.query_unpaged(
        "CREATE KEYSPACE lim WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();
    s.query_unpaged(
        "CREATE TABLE lim.t (k int, c int, v text, PRIMARY KEY (k, c))",
        &[],
    )
    .await
    .unwrap();
    let insert = s
        .prepare("INSERT INTO lim.t (k, c, v) VALUES (?, ?, ?)")
        .await
        .unwrap();
    let batch = |kind, n: usize| {
        let mut b = Batch::new(kind);
        for _ in 0..n {
            b.append_statement(insert.clone());
        }
        b
    };

    // Unlogged across 11 partitions: runs, with Cassandra's warning; 10 is quiet.
    let values: Vec<(i32, i32, &str)> = (0..11).map(|k| (k, 0, "x")).collect();
    let r = s
        .batch(&batch(BatchType::Unlogged, 11), &values)
        .await
        .unwrap();
    assert_eq!(
        r.warnings().collect::<Vec<_>>(),
        [
            "Unlogged batch covering 11 partitions detected against table [lim.t]. You should use a logged batch for atomicity, or asynchronous writes for performance."
        ]
    );
    let r = s
        .batch(&batch(BatchType::Unlogged, 10), &values[..10])
        .await
        .unwrap();
    assert_eq!(r.warnings().count(), 0);
    assert_eq!(count(&s, "SELECT count(*) FROM lim.t").await, 11);
    // The same from CQL text.
    let text: String = (20..31)
        .map(|k| format!("INSERT INTO lim.t (k, c, v) VALUES ({k}, 0, 'x'); "))
        .collect();
    let r = s
        .query_unpaged(format!("BEGIN UNLOGGED BATCH {text}APPLY BATCH"), &[])
        .await
        .unwrap();
    assert!(
        r.warnings()
            .any(|w| w.starts_with("Unlogged batch covering 11 partitions")),
        "{:?}",
        r.warnings().collect::<Vec<_>>()
    );

    // Over 5 KiB across two partitions: runs, with the size warning. Each
    // partition is 3068 bytes of data: 8 (partition deletion) + 20 (empty
    // static row) + 4 (c) + 8 (liveness) + 12 (row deletion) + 16 + 3000 (v).
    let v3k = "a".repeat(3000);
    let r = s
        .batch(
            &batch(BatchType::Logged, 2),
            ((100, 0, v3k.as_str()), (101, 0, v3k.as_str())),
        )
        .await
        .unwrap();
    assert_eq!(
        r.warnings().collect::<Vec<_>>(),
        ["Batch for [lim.t] is of size 6136, exceeding specified threshold of 5120 by 1016."]
    );

    // Over 50 KiB across two partitions: refused, nothing written.
    let v26k = "b".repeat(26 * 1024);
    let e = s
        .batch(
            &batch(BatchType::Logged, 2),
            ((200, 0, v26k.as_str()), (201, 0, v26k.as_str())),
        )
        .await
        .unwrap_err();
    assert_eq!(db_error(e), (DbError::Invalid, "Batch too large".into()));
    assert_eq!(
        count(&s, "SELECT count(*) FROM lim.t WHERE k IN (200, 201)").await,
        0
    );
    // One partition is never measured, as in Cassandra.
    let r = s
        .batch(
            &batch(BatchType::Logged, 2),
            ((300, 0, v26k.as_str()), (300, 1, v26k.as_str())),
        )
        .await
        .unwrap();
    assert_eq!(r.warnings().count(), 0);
    assert_eq!(
        count(&s, "SELECT count(*) FROM lim.t WHERE k = 300").await,
        2
    );
    node.stop().await;
}
