//! Lightweight transactions across two datacenters run Paxos among the
//! replicas: racing `IF NOT EXISTS` from both datacenters applies exactly
//! once, compare-and-set increments lose no update, a proposal a
//! coordinator left accepted but uncommitted is finished by the next
//! SERIAL read, and with the other datacenter cut off LOCAL_SERIAL still
//! works while SERIAL answers Unavailable with Cassandra's counts.

mod common;

use std::sync::Arc;

use ccrsim::node::cluster::paxos::Ballot;
use ccrsim::node::cluster::transport::Faults;
use common::cluster::Layout;
use common::{eventually, session};
use scylla::client::session::Session;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError, WriteType};
use scylla::statement::unprepared::Statement;
use scylla::statement::{Consistency, SerialConsistency};

/// A session that stays in one datacenter and never retries on its own.
async fn session_in(addr: &str, dc: &str) -> Session {
    session::pinned(dc)
        .never_retry()
        .connect(addr)
        .await
        .unwrap()
}

/// What a conditional statement answered.
#[derive(Debug, PartialEq)]
enum Outcome {
    Applied,
    NotApplied,
    /// A CAS write timeout: the outcome is unknown.
    Unknown,
}

async fn cas(
    s: &Session,
    cql: &str,
    values: impl scylla::serialize::row::SerializeRow,
    serial: SerialConsistency,
) -> Result<Outcome, DbError> {
    let mut st = Statement::new(cql);
    st.set_consistency(Consistency::LocalQuorum);
    st.set_serial_consistency(Some(serial));
    match s.query_unpaged(st, values).await {
        Ok(r) => {
            let rows = r.into_rows_result().unwrap();
            // [applied], then (when not applied) the columns it checked.
            let row = rows
                .rows::<scylla::value::Row>()
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            let applied = matches!(
                row.columns.first(),
                Some(Some(scylla::value::CqlValue::Boolean(true)))
            );
            Ok(if applied {
                Outcome::Applied
            } else {
                Outcome::NotApplied
            })
        }
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(
            DbError::WriteTimeout {
                write_type: WriteType::Cas,
                ..
            },
            _,
        ))) => Ok(Outcome::Unknown),
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(e, _))) => Err(e),
        Err(e) => panic!("{cql}: {e}"),
    }
}

async fn serial_read(s: &Session, k: i32, cl: Consistency) -> Option<i32> {
    try_read(s, k, cl).await.unwrap()
}

/// A read; a SERIAL read that meets contention may time out.
async fn try_read(s: &Session, k: i32, cl: Consistency) -> Result<Option<i32>, DbError> {
    let mut st = Statement::new("SELECT v FROM lwt.t WHERE k = ?");
    st.set_consistency(cl);
    let r = match s.query_unpaged(st, (k,)).await {
        Ok(r) => r,
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(e, _))) => {
            return Err(e);
        }
        Err(e) => panic!("{e}"),
    };
    Ok(r.into_rows_result()
        .unwrap()
        .maybe_first_row::<(Option<i32>,)>()
        .unwrap()
        .and_then(|r| r.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lightweight_transactions_run_paxos_across_datacenters() {
    // The nodes hand each other their messages in memory, as services do.
    let faults = Arc::new(Faults::in_memory());
    let cluster = Layout::three_and_three(82, 83, "LWT");
    let nodes = cluster.start_all(&faults).await;
    let addrs = cluster.addrs();
    eventually(30, "every node sees all six up", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)) && n.engine.peers().len() == 5)
    })
    .await;
    let dc1 = session_in("127.0.82.1", "dc1").await;
    let dc2 = session_in("127.0.83.1", "dc2").await;
    common::session::ddl(
        &dc1,
        &[
            "CREATE KEYSPACE lwt WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}",
            "CREATE TABLE lwt.t (k int PRIMARY KEY, v int)",
        ],
    )
    .await;
    eventually(30, "every node has the table", || {
        nodes
            .iter()
            .all(|n| n.engine.schema().table("lwt", "t").is_some())
    })
    .await;
    dc2.refresh_metadata().await.unwrap();

    // Racing INSERT ... IF NOT EXISTS from both datacenters: exactly one
    // applies per key, and the row holds the winner's value.
    let insert = "INSERT INTO lwt.t (k, v) VALUES (?, ?) IF NOT EXISTS";
    for k in 0..10 {
        let (a, b) = tokio::join!(
            cas(&dc1, insert, (k, 1), SerialConsistency::Serial),
            cas(&dc2, insert, (k, 2), SerialConsistency::Serial),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let applied = [&a, &b].iter().filter(|o| ***o == Outcome::Applied).count();
        let unknown = [&a, &b].iter().filter(|o| ***o == Outcome::Unknown).count();
        assert!(
            applied == 1 || (applied == 0 && unknown > 0),
            "key {k}: {a:?} {b:?}"
        );
        let v = serial_read(&dc2, k, Consistency::Serial).await;
        match (a, b) {
            (Outcome::Applied, _) => assert_eq!(v, Some(1), "key {k}"),
            (_, Outcome::Applied) => assert_eq!(v, Some(2), "key {k}"),
            _ => assert!(v.is_some(), "key {k}: someone's insert is there"),
        }
    }

    // Compare-and-set increments from both datacenters lose no update.
    assert_eq!(
        cas(
            &dc1,
            "INSERT INTO lwt.t (k, v) VALUES (100, 0) IF NOT EXISTS",
            (),
            SerialConsistency::Serial
        )
        .await
        .unwrap(),
        Outcome::Applied
    );
    let sessions = [Arc::new(dc1), Arc::new(dc2)];
    let mut tasks = Vec::new();
    for i in 0..4 {
        let s = sessions[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let (mut applied, mut unknown) = (0, 0);
            let mut attempts = 0;
            while applied + unknown < 5 {
                attempts += 1;
                assert!(attempts < 200, "task {i}: too much contention");
                let old = match try_read(&s, 100, Consistency::Serial).await {
                    Ok(Some(v)) => v,
                    Ok(None) => panic!("task {i}: the counter row vanished"),
                    Err(DbError::ReadTimeout {
                        consistency: Consistency::Serial,
                        ..
                    }) => continue,
                    Err(e) => panic!("task {i}: {e}"),
                };
                match cas(
                    &s,
                    "UPDATE lwt.t SET v = ? WHERE k = 100 IF v = ?",
                    (old + 1, old),
                    SerialConsistency::Serial,
                )
                .await
                .unwrap()
                {
                    Outcome::Applied => applied += 1,
                    Outcome::NotApplied => {}
                    Outcome::Unknown => unknown += 1,
                }
            }
            (applied, unknown)
        }));
    }
    let (mut applied, mut unknown) = (0, 0);
    for t in tasks {
        let (a, u) = t.await.unwrap();
        applied += a;
        unknown += u;
    }
    let total = serial_read(&sessions[0], 100, Consistency::Serial)
        .await
        .unwrap();
    eprintln!("counter {total}: {applied} increments applied, {unknown} unknown");
    assert!(applied >= 1, "some increments get a clear answer");
    assert!(
        total >= applied && total <= applied + unknown,
        "counter {total}, {applied} increments applied, {unknown} unknown"
    );

    // A proposal accepted by a quorum but never committed (its coordinator
    // died): the next SERIAL read finishes it.
    let t = nodes[0].engine.schema().table("lwt", "t").unwrap().clone();
    let template = {
        let key = 0i32.to_be_bytes();
        let token = ccrsim::node::locator::partitioner::token(&key);
        nodes[0]
            .engine
            .storage
            .read_partition(&t.id, token, &key)
            .unwrap()
            .expect("replica 1 holds key 0 (RF 3 of 3)")
    };
    let key = 500i32.to_be_bytes().to_vec();
    let token = ccrsim::node::locator::partitioner::token(&key);
    let mut orphan = template.clone();
    orphan.key = key.clone();
    orphan.token = token;
    let update = orphan.into_mutation(t.id).encode();
    let ballot = Ballot {
        micros: nodes[0].engine.now_micros(),
        host: [0xAB; 16],
    };
    for n in &nodes[..4] {
        let accepted = n
            .member
            .core
            .with_paxos(&t.id, token, &key, |s| s.propose(ballot, update.clone()))
            .unwrap();
        assert!(accepted);
    }
    let expected = serial_read(&sessions[0], 0, Consistency::One).await;
    assert!(expected.is_some());
    assert_eq!(
        serial_read(&sessions[1], 500, Consistency::LocalOne).await,
        None,
        "nothing committed yet"
    );
    assert_eq!(
        serial_read(&sessions[1], 500, Consistency::Serial).await,
        expected,
        "the SERIAL read finished the accepted proposal"
    );
    assert_eq!(
        serial_read(&sessions[0], 500, Consistency::LocalQuorum).await,
        expected
    );

    // dc2 cut off: LOCAL_SERIAL in dc1 goes on, SERIAL is Unavailable.
    for a in &addrs[..3] {
        for b in &addrs[3..] {
            faults.cut(*a, *b);
        }
    }
    eventually(20, "dc1 sees dc2 down", || {
        nodes[..3]
            .iter()
            .all(|n| addrs[3..].iter().all(|b| !n.member.core.is_alive(b)))
    })
    .await;
    assert_eq!(
        cas(
            &sessions[0],
            insert,
            (200, 7),
            SerialConsistency::LocalSerial
        )
        .await
        .unwrap(),
        Outcome::Applied
    );
    assert_eq!(
        cas(
            &sessions[0],
            insert,
            (200, 8),
            SerialConsistency::LocalSerial
        )
        .await
        .unwrap(),
        Outcome::NotApplied
    );
    let e = cas(&sessions[0], insert, (201, 1), SerialConsistency::Serial)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &e,
            DbError::Unavailable {
                consistency: Consistency::Serial,
                required: 4,
                alive: 3
            }
        ),
        "{e:?}"
    );
    faults.heal_all();
    eventually(30, "healed", || {
        nodes
            .iter()
            .all(|n| addrs.iter().all(|a| n.member.core.is_alive(a)))
    })
    .await;
    drop(sessions);
    for n in nodes {
        n.stop().await;
    }
}
