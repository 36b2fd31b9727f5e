//! Hostile requests against one node's query engine (in-process, its own
//! data directory): keys over Cassandra's limits, keys over the storage
//! engine's, statements nested thousands deep, paging states naming huge
//! keys, a huge username at login. Each gets Cassandra's error (or, where
//! ccrsim's storage is narrower than Cassandra's, a precise InvalidRequest)
//! and the engine keeps serving. `tests/fault_isolation.rs` sends the same
//! over the wire to a `ccrsim node` process and to services under `serve`.

mod common;

use std::path::Path;
use std::sync::Arc;

use ccrsim::node::cql::ast::BatchType;
use ccrsim::node::cql::exec::{Engine, Options, Session};
use ccrsim::node::cql::wait::wait;
use ccrsim::node::error::QueryError;
use ccrsim::node::transport::protocol::frame::ResultBody;
use ccrsim::node::transport::protocol::primitives::Value;

fn open(dir: &Path) -> Arc<Engine> {
    common::engine::open(dir, "Hostile", 9, false)
}

fn superuser() -> Session {
    Session::user("cassandra")
}

/// Runs `text` with `values` bound (prepared when there are values).
fn run(
    e: &Arc<Engine>,
    s: &mut Session,
    text: &str,
    values: &[&[u8]],
) -> Result<ResultBody, QueryError> {
    let o = Options {
        values: values.iter().map(|v| Value::Bytes(v)).collect(),
        ..Default::default()
    };
    if values.is_empty() {
        return wait(e.query(s, text, &o));
    }
    let p = e.prepare(s, text)?;
    wait(e.execute(s, &p.statement, &p.bind, &o))
}

fn invalid(r: Result<ResultBody, QueryError>) -> String {
    match r {
        Err(QueryError::Invalid(m)) => m,
        other => panic!("expected InvalidRequest, got {other:?}"),
    }
}

fn rows(r: Result<ResultBody, QueryError>) -> usize {
    match r {
        Ok(ResultBody::Rows(rows)) => rows.rows.len(),
        other => panic!("expected rows, got {other:?}"),
    }
}

fn setup(e: &Arc<Engine>, s: &mut Session) {
    for q in [
        "CREATE KEYSPACE ks WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        "USE ks",
        "CREATE TABLE t (k text, c text, v int, s set<text>, m map<text, int>, PRIMARY KEY (k, c))",
        "CREATE TABLE multi (p1 text, p2 text, c1 text, c2 text, v int, PRIMARY KEY ((p1, p2), c1, c2))",
    ] {
        wait(e.query(s, q, &Options::default())).unwrap();
    }
}

#[test]
fn keys_over_cassandras_limit_get_its_message_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    let long = vec![b'x'; 70_000];
    let text = String::from_utf8(long.clone()).unwrap();
    let msg = "Key length of 70000 is longer than maximum of 65535";

    // Partition key: bound or literal, in every statement that names one.
    let insert = "INSERT INTO t (k, c, v) VALUES (?, ?, ?)";
    assert_eq!(
        invalid(run(&e, &mut s, insert, &[&long, b"c", &[0, 0, 0, 1]])),
        msg
    );
    let literal = format!("INSERT INTO t (k, c, v) VALUES ('{text}', 'c', 1)");
    assert_eq!(invalid(run(&e, &mut s, &literal, &[])), msg);
    let update = "UPDATE t SET v = 2 WHERE k = ? AND c = 'c'";
    assert_eq!(invalid(run(&e, &mut s, update, &[&long])), msg);
    let delete = "DELETE FROM t WHERE k = ?";
    assert_eq!(invalid(run(&e, &mut s, delete, &[&long])), msg);
    let lwt = "UPDATE t SET v = 2 WHERE k = ? AND c = 'c' IF v = 1";
    assert_eq!(invalid(run(&e, &mut s, lwt, &[&long])), msg);
    let select = "SELECT * FROM t WHERE k = ?";
    assert_eq!(invalid(run(&e, &mut s, select, &[&long])), msg);
    let batch =
        format!("BEGIN BATCH INSERT INTO t (k, c) VALUES ('a', 'b'); {literal} APPLY BATCH");
    assert_eq!(invalid(run(&e, &mut s, &batch, &[])), msg);
    // The empty key, as in Cassandra's check.
    assert_eq!(
        invalid(run(&e, &mut s, select, &[b""])),
        "Key may not be empty"
    );

    // A composite key counts with its framing (2 + n + 1 bytes a component).
    let half = vec![b'y'; 32_766];
    let multi = "INSERT INTO multi (p1, p2, c1, c2, v) VALUES (?, ?, 'a', 'b', 1)";
    assert_eq!(
        invalid(run(&e, &mut s, multi, &[&half, &half])),
        "Key length of 65538 is longer than maximum of 65535"
    );

    // Clustering: any value over the limit; the message gives the total.
    assert_eq!(
        invalid(run(&e, &mut s, insert, &[b"k", &long, &[0, 0, 0, 1]])),
        msg
    );
    let multi_ck = "INSERT INTO multi (p1, p2, c1, c2, v) VALUES ('a', 'b', ?, ?, 1)";
    assert_eq!(
        invalid(run(&e, &mut s, multi_ck, &[b"12345", &long])),
        "Key length of 70005 is longer than maximum of 65535"
    );
    let delete_row = "DELETE FROM t WHERE k = 'k' AND c = ?";
    assert_eq!(invalid(run(&e, &mut s, delete_row, &[&long])), msg);
    // Cassandra only checks the partition key of a read: a clustering over
    // the limit matches nothing.
    assert_eq!(
        rows(run(
            &e,
            &mut s,
            "SELECT * FROM t WHERE k = 'k' AND c = ?",
            &[&long]
        )),
        0
    );

    // Nothing was written, and the node keeps serving.
    assert_eq!(rows(run(&e, &mut s, "SELECT * FROM t", &[])), 0);
    run(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v) VALUES ('k', 'c', 1)",
        &[],
    )
    .unwrap();
    assert_eq!(
        rows(run(&e, &mut s, "SELECT * FROM t WHERE k = 'k'", &[])),
        1
    );
}

#[test]
fn keys_within_cassandras_limit_but_over_the_storage_engines_are_refused_precisely() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    let storage_msg = |m: &str| {
        assert!(
            m.starts_with("ccrsim cannot store this entry: its storage key")
                && m.ends_with("more than its storage engine's maximum of 65535"),
            "{m}"
        );
    };
    // A 65 535-byte partition key is Cassandra's maximum, but with the
    // token, the row's clustering and the column name it outgrows fjall's keys.
    let max = vec![b'k'; 65_535];
    let insert = "INSERT INTO t (k, c, v) VALUES (?, ?, ?)";
    storage_msg(&invalid(run(
        &e,
        &mut s,
        insert,
        &[&max, b"c", &[0, 0, 0, 1]],
    )));
    // Two clustering values of 40 000 bytes each (each within Cassandra's limit).
    let big = vec![b'c'; 40_000];
    let multi_ck = "INSERT INTO multi (p1, p2, c1, c2, v) VALUES ('a', 'b', ?, ?, 1)";
    storage_msg(&invalid(run(&e, &mut s, multi_ck, &[&big, &big])));
    // Set elements and map keys are part of a cell's key.
    let element = vec![b'e'; 70_000];
    let add = "UPDATE t SET s = s + {'a', ?} WHERE k = 'k' AND c = 'c'";
    let set = invalid(run(
        &e,
        &mut s,
        "UPDATE t SET s = ? WHERE k = 'k' AND c = 'c'",
        &[&{
            let mut v = vec![0, 0, 0, 1];
            v.extend_from_slice(&70_000i32.to_be_bytes());
            v.extend_from_slice(&element);
            v
        }],
    ));
    storage_msg(&set);
    storage_msg(&invalid(run(&e, &mut s, add, &[&element])));
    let put = "UPDATE t SET m[?] = 1 WHERE k = 'k' AND c = 'c'";
    storage_msg(&invalid(run(&e, &mut s, put, &[&element])));
    // A range deletion whose bound is over the limit (Cassandra checks no bound).
    let range = "DELETE FROM t WHERE k = 'k' AND c > ?";
    storage_msg(&invalid(run(&e, &mut s, range, &[&element])));

    // The writes that failed wrote nothing, not even the parts that fit.
    assert_eq!(rows(run(&e, &mut s, "SELECT * FROM t", &[])), 0);
    assert_eq!(rows(run(&e, &mut s, "SELECT * FROM multi", &[])), 0);
    // Just under the storage engine's limit is fine.
    let fits = vec![b'k'; 65_000];
    run(&e, &mut s, insert, &[&fits, b"c", &[0, 0, 0, 7]]).unwrap();
    assert_eq!(
        rows(run(&e, &mut s, "SELECT * FROM t WHERE k = ?", &[&fits])),
        1
    );
}

#[test]
fn paging_states_naming_huge_keys_answer() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    for k in 0..5 {
        let q = format!("INSERT INTO t (k, c, v) VALUES ('{k}', 'c', {k})");
        run(&e, &mut s, &q, &[]).unwrap();
    }
    // A paging state: rows returned (4 bytes), then the position: token (8),
    // key length (4), key, rows returned in that partition (4), and the last
    // clustering if any (a count byte, then length-prefixed values). Here a
    // key of 200 000 bytes, with and without a clustering, and cut short.
    let mut state = 0u32.to_be_bytes().to_vec();
    state.extend_from_slice(&0i64.to_be_bytes());
    state.extend_from_slice(&200_000u32.to_be_bytes());
    state.extend(std::iter::repeat_n(0xFF, 200_000));
    state.extend_from_slice(&1u32.to_be_bytes());
    let no_clustering = state.clone();
    let mut empty_clustering = state.clone();
    empty_clustering.push(0);
    state.push(1);
    state.extend_from_slice(&100_000u32.to_be_bytes());
    state.extend(std::iter::repeat_n(b'c', 100_000));
    let mut answered = 0;
    for st in [&state, &no_clustering, &empty_clustering] {
        for cut in [st.len(), st.len() - 1, 20, 13, 4, 3] {
            for q in ["SELECT * FROM t", "SELECT * FROM t WHERE k = '1'"] {
                let o = Options {
                    page_size: Some(2),
                    paging_state: Some(&st[..cut]),
                    ..Default::default()
                };
                match wait(e.query(&mut s, q, &o)) {
                    Ok(ResultBody::Rows(_)) => answered += 1,
                    Err(QueryError::Protocol(_)) => {}
                    other => panic!("{q} with a paging state of {cut} bytes: {other:?}"),
                }
            }
        }
    }
    // Each well-formed state, for both queries (one cut of the state with an
    // empty clustering is the state without one).
    assert_eq!(answered, 8, "the well-formed states were read");
    assert_eq!(rows(run(&e, &mut s, "SELECT * FROM t", &[])), 5);
}

#[test]
fn a_huge_username_is_refused_with_cassandras_message() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let user = "u".repeat(70_000);
    // Cassandra reads the role's row with the name as its key, and the key
    // check answers before any password is compared.
    assert_eq!(
        wait(e.login(&user, "pw")),
        Err(QueryError::Invalid(
            "Key length of 70000 is longer than maximum of 65535".into()
        ))
    );
    let mut s = superuser();
    let create = format!("CREATE ROLE '{user}' WITH PASSWORD = 'pw' AND LOGIN = true");
    assert_eq!(
        invalid(run(&e, &mut s, &create, &[])),
        "Key length of 70000 is longer than maximum of 65535"
    );
    wait(e.login("cassandra", "cassandra")).unwrap();
}

#[test]
fn statements_nested_ten_thousand_deep_are_syntax_errors() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    for (open, close) in [("[", "]"), ("(", ")"), ("{", "}"), ("blobasint(", ")")] {
        let deep = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
        for q in [
            format!("INSERT INTO t (k, c, v) VALUES ('k', 'c', {deep})"),
            format!("SELECT * FROM t WHERE k = {deep}"),
            format!("BEGIN BATCH UPDATE t SET v = {deep} WHERE k = 'k' AND c = 'c' APPLY BATCH"),
        ] {
            match wait(e.query(&mut s, &q, &Options::default())) {
                Err(QueryError::Syntax(m)) => assert!(m.contains("too deeply nested"), "{m}"),
                other => panic!("{other:?}"),
            }
            assert!(matches!(e.prepare(&s, &q), Err(QueryError::Syntax(_))));
        }
    }
    run(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v) VALUES ('k', 'c', 1)",
        &[],
    )
    .unwrap();
}

#[test]
fn in_lists_multiplying_past_the_limits_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    let list = |n: usize, width: usize| {
        (0..n)
            .map(|i| format!("'{i:0width$}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // 400 x 400 partition keys: over Cassandra's guardrail (here always on).
    let q = format!(
        "SELECT * FROM multi WHERE p1 IN ({}) AND p2 IN ({})",
        list(400, 3),
        list(400, 3)
    );
    assert_eq!(
        invalid(run(&e, &mut s, &q, &[])),
        "Aborting query because the cartesian product of the IN restrictions on partition key produces 160000 values, this exceeds fail threshold of 100000."
    );
    // 90 000 keys of 2 KB: under the count, over the bytes.
    let q = format!(
        "UPDATE multi SET v = 1 WHERE p1 IN ({}) AND p2 IN ({}) AND c1 = 'a' AND c2 = 'b'",
        list(300, 1000),
        list(300, 1000)
    );
    let m = invalid(run(&e, &mut s, &q, &[]));
    assert!(m.starts_with("Aborting query because the cartesian product of the IN restrictions on partition key produces 90000 values of"), "{m}");
    // Clustering prefixes too.
    let q = format!(
        "DELETE FROM multi WHERE p1 = 'a' AND p2 = 'b' AND c1 IN ({}) AND c2 IN ({})",
        list(1000, 4),
        list(101, 4)
    );
    assert_eq!(
        invalid(run(&e, &mut s, &q, &[])),
        "Aborting query because the cartesian product of the IN restrictions on clustering key produces 101000 values, this exceeds fail threshold of 100000."
    );
    // Under the limits, the product is read.
    let q = format!(
        "SELECT * FROM multi WHERE p1 IN ({}) AND p2 IN ({})",
        list(300, 3),
        list(300, 3)
    );
    assert_eq!(rows(run(&e, &mut s, &q, &[])), 0);
}

#[test]
fn a_value_multiplied_into_too_many_rows_is_refused_before_it_fills_memory() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    wait(e.query(
        &mut s,
        "CREATE TABLE big (k int, c int, v blob, PRIMARY KEY (k, c))",
        &Options::default(),
    ))
    .unwrap();
    // One 2 MB value, 200 partitions x 1 row: 400 MB of mutations.
    let value = vec![7u8; 2 << 20];
    let mut keys = 200i32.to_be_bytes().to_vec();
    for k in 0..200i32 {
        keys.extend_from_slice(&4i32.to_be_bytes());
        keys.extend_from_slice(&k.to_be_bytes());
    }
    let q = "UPDATE big SET v = ? WHERE k IN ? AND c = 1";
    assert_eq!(
        invalid(run(&e, &mut s, q, &[&value, &keys])),
        "Rejected an oversized request: its mutations take more than 268435456 bytes (ccrsim's limit per statement or batch)"
    );
    // The same in one partition's rows, and in a BATCH of statements.
    let q = "UPDATE big SET v = ? WHERE k = 1 AND c IN ?";
    assert!(
        invalid(run(&e, &mut s, q, &[&value, &keys])).starts_with("Rejected an oversized request")
    );
    let p = e
        .prepare(&s, "INSERT INTO big (k, c, v) VALUES (1, ?, ?)")
        .unwrap();
    let cks: Vec<[u8; 4]> = (0..200i32).map(|c| c.to_be_bytes()).collect();
    let items: Vec<_> = cks
        .iter()
        .map(|c| {
            (
                &p.statement,
                p.bind.as_slice(),
                vec![Value::Bytes(c), Value::Bytes(&value)],
            )
        })
        .collect();
    let r = wait(e.batch_message(&mut s, BatchType::Logged, &items, None, Default::default()));
    assert!(invalid(r).starts_with("Rejected an oversized request"));
    assert_eq!(rows(run(&e, &mut s, "SELECT k FROM big", &[])), 0);
    // Well under the limit, it is written.
    let mut few = 20i32.to_be_bytes().to_vec();
    few.extend_from_slice(&keys[4..4 + 8 * 20]);
    run(&e, &mut s, q, &[&value, &few]).unwrap();
    assert_eq!(rows(run(&e, &mut s, "SELECT k FROM big", &[])), 20);
}

#[test]
fn the_deepest_types_and_terms_allowed_run_within_a_threads_stack() {
    // Test threads have 2 MiB stacks, as tokio's blocking threads do where
    // statements run.
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    let depth = 15; // frozen<list<...>> counts two levels of the 32 allowed
    let list = (0..depth).fold("int".to_string(), |t, _| format!("frozen<list<{t}>>"));
    let keyed = (0..depth).fold("int".to_string(), |t, _| format!("frozen<map<{t}, int>>"));
    let q = format!("CREATE TABLE deep (k int PRIMARY KEY, l {list}, m {keyed}, s set<{keyed}>)");
    wait(e.query(&mut s, &q, &Options::default())).unwrap();
    let l = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
    let m = (0..depth).fold("1".to_string(), |t, _| format!("{{{t}: 1}}"));
    let q = format!("INSERT INTO deep (k, l, m, s) VALUES (1, {l}, {m}, {{{m}, {m}}})");
    run(&e, &mut s, &q, &[]).unwrap();
    let q = format!("SELECT * FROM deep WHERE k = 1 AND l = {l} AND m = {m} ALLOW FILTERING");
    assert_eq!(rows(run(&e, &mut s, &q, &[])), 1);
    // The same values bound.
    let bytes = |depth: usize, map: bool| {
        (0..depth).fold(1i32.to_be_bytes().to_vec(), |inner, _| {
            let mut v = 1i32.to_be_bytes().to_vec();
            v.extend_from_slice(&(inner.len() as i32).to_be_bytes());
            v.extend_from_slice(&inner);
            if map {
                v.extend_from_slice(&4i32.to_be_bytes());
                v.extend_from_slice(&1i32.to_be_bytes());
            }
            v
        })
    };
    let q = "INSERT INTO deep (k, l, m) VALUES (2, ?, ?)";
    run(&e, &mut s, q, &[&bytes(depth, false), &bytes(depth, true)]).unwrap();
    assert_eq!(rows(run(&e, &mut s, "SELECT * FROM deep", &[])), 2);
    // Deeper bound values than the type: a marshalling error.
    let q = "INSERT INTO deep (k, l) VALUES (3, ?)";
    let m = invalid(run(&e, &mut s, q, &[&bytes(2000, false)]));
    assert!(!m.is_empty());
    // Terms at the parser's limit, deeper than the type: an error.
    let l = format!("{}1{}", "[".repeat(63), "]".repeat(63));
    let q = format!("INSERT INTO deep (k, l) VALUES (3, {l})");
    assert!(!invalid(run(&e, &mut s, &q, &[])).is_empty());
}

#[test]
fn extreme_timestamps_ttls_and_limits_answer() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    // Any 64-bit timestamp, as Cassandra: a collection overwrite deletes at
    // timestamp - 1, which wraps as Java's long does.
    for ts in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX] {
        let q = format!(
            "UPDATE t USING TIMESTAMP {ts} SET s = {{'a'}}, m = {{'k': 1}} WHERE k = 'ts' AND c = 'c'"
        );
        run(&e, &mut s, &q, &[]).unwrap();
        let q = "UPDATE t USING TIMESTAMP ? SET s = s + {'b'} WHERE k = 'ts' AND c = 'c'";
        run(&e, &mut s, q, &[&ts.to_be_bytes()]).unwrap();
    }
    // Long.MIN_VALUE - 1 wrapped to a collection deletion at Long.MAX_VALUE,
    // which shadows the collection for good, as in Cassandra.
    assert_eq!(
        rows(run(
            &e,
            &mut s,
            "SELECT s, writetime(v) FROM t WHERE k = 'ts'",
            &[]
        )),
        0
    );
    for (ttl, msg) in [
        (-1i64, "A TTL must be greater or equal to 0, but was -1"),
        (
            630_720_001,
            "ttl is too large. requested (630720001) maximum (630720000)",
        ),
        (
            i64::from(i32::MAX) + 1,
            "Unable to make int from '2147483648'",
        ),
    ] {
        let q = format!("INSERT INTO t (k, c, v) VALUES ('ttl', 'c', 1) USING TTL {ttl}");
        assert_eq!(invalid(run(&e, &mut s, &q, &[])), msg);
    }
    run(
        &e,
        &mut s,
        "INSERT INTO t (k, c, v) VALUES ('ttl', 'c', 1) USING TTL 630720000",
        &[],
    )
    .unwrap();
    // LIMIT and page sizes at the ends of their range.
    for q in [
        "SELECT * FROM t LIMIT 2147483647",
        "SELECT * FROM t PER PARTITION LIMIT 2147483647 LIMIT 1",
        "SELECT * FROM t WHERE token(k) > -9223372036854775808 AND token(k) <= 9223372036854775807",
        "SELECT * FROM t WHERE token(k) < -9223372036854775808",
        "SELECT * FROM t WHERE token(k) >= 9223372036854775807",
    ] {
        for page_size in [None, Some(1), Some(i32::MAX), Some(-1), Some(0)] {
            let o = Options {
                page_size,
                ..Default::default()
            };
            assert!(
                matches!(wait(e.query(&mut s, q, &o)), Ok(ResultBody::Rows(_))),
                "{q}"
            );
        }
    }
    assert_eq!(
        invalid(run(&e, &mut s, "SELECT * FROM t LIMIT 0", &[])),
        "LIMIT must be strictly positive"
    );
}

#[test]
fn prepared_statements_are_kept_within_a_size() {
    let dir = tempfile::tempdir().unwrap();
    let e = open(dir.path());
    let mut s = superuser();
    setup(&e, &mut s);
    let big = "x".repeat(1 << 20);
    let first = e
        .prepare(&s, &format!("INSERT INTO t (k, c) VALUES ('0', '{big}')"))
        .unwrap();
    assert!(e.cached(&first.id).is_some());
    // 80 statements of 1 MB: the cache lets the oldest go past 64 MiB.
    for i in 1..80 {
        e.prepare(&s, &format!("INSERT INTO t (k, c) VALUES ('{i}', '{big}')"))
            .unwrap();
    }
    assert!(e.cached(&first.id).is_none());
    let last = e
        .prepare(&s, &format!("INSERT INTO t (k, c) VALUES ('80', '{big}')"))
        .unwrap();
    assert!(e.cached(&last.id).is_some());
}
