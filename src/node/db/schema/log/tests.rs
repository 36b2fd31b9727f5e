use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::node::db::schema::{OptionValue, Strategy, TableSpec};
use crate::node::value::types::CqlType;

fn host(n: u8) -> [u8; 16] {
    [n; 16]
}

fn nts(name: &str, rf: &str) -> KeyspaceMeta {
    let dcs: BTreeSet<String> = ["dc1".to_string(), "dc2".to_string()].into();
    let opts: BTreeMap<String, String> = [
        ("class".to_string(), "NetworkTopologyStrategy".to_string()),
        ("dc1".to_string(), rf.to_string()),
        ("dc2".to_string(), rf.to_string()),
    ]
    .into();
    KeyspaceMeta {
        name: name.into(),
        strategy: Strategy::from_options(name, &opts, &dcs).unwrap(),
        durable_writes: true,
    }
}

fn table(ks: &str, name: &str, id: u8) -> TableMeta {
    let spec = TableSpec {
        columns: vec![
            ("k".into(), CqlType::Int, false),
            ("c".into(), CqlType::Text, false),
            ("v".into(), CqlType::Text, false),
            ("a".into(), CqlType::Int, false),
        ],
        partition_key: vec!["k".into()],
        clustering: vec!["c".into()],
        clustering_order: vec![],
        options: vec![],
    };
    TableMeta::create(ks, name, [id; 16], &spec).unwrap()
}

/// One node: its log and the schema it shows; `ddl` changes a copy of the
/// schema and records the difference, as the engine does.
#[derive(Clone, Default)]
struct Node {
    log: SchemaLog,
}

impl Node {
    fn ddl(&mut self, at: i64, h: u8, f: impl FnOnce(&mut Schema)) -> SchemaLog {
        let old = self.log.schema();
        let mut new = old.clone();
        f(&mut new);
        let delta = self.log.record(&old, &new, (at, host(h)));
        self.log.merge(&delta);
        assert_eq!(self.log.schema(), new, "the log shows what the change made");
        delta
    }
}

fn with_keyspace() -> Node {
    let mut n = Node::default();
    n.ddl(1, 1, |s| {
        s.create_keyspace(nts("ks", "3"), false).unwrap();
    });
    n
}

#[test]
fn a_schema_round_trips_through_its_log_and_json() {
    let mut n = with_keyspace();
    n.ddl(2, 1, |s| {
        s.create_table(table("ks", "t", 5), false).unwrap();
    });
    let mut t = (**n.log.schema().table("ks", "t").unwrap()).clone();
    t.options
        .apply(&[("comment".into(), OptionValue::Text("hi".into()))])
        .unwrap();
    n.ddl(3, 1, |s| {
        s.replace_table(t.clone()).unwrap();
    });
    let back =
        SchemaLog::from_json(&serde_json::from_str(&n.log.to_json().to_string()).unwrap()).unwrap();
    assert_eq!(back, n.log);
    assert_eq!(
        back.schema().table("ks", "t").unwrap().options.comment,
        "hi"
    );
    // The bootstrap schema too (system keyspaces and their tables).
    let boot = Schema::bootstrap();
    assert_eq!(SchemaLog::from_schema(&boot, (0, [0; 16])).schema(), boot);
    assert!(SchemaLog::from_json(&json!({"cells": [{"key": ["nope"]}]})).is_err());
    assert!(SchemaLog::from_json(&json!({"cells": 3})).is_err());
}

#[test]
fn concurrent_tables_on_two_nodes_both_survive_in_any_order() {
    let base = with_keyspace();
    let (mut a, mut b) = (base.clone(), base.clone());
    let da = a.ddl(10, 1, |s| {
        s.create_table(table("ks", "ta", 1), false).unwrap();
    });
    let db = b.ddl(11, 2, |s| {
        s.create_table(table("ks", "tb", 2), false).unwrap();
    });
    a.log.merge(&db);
    b.log.merge(&da);
    assert_eq!(a.log, b.log);
    let s = a.log.schema();
    assert!(s.table("ks", "ta").is_some() && s.table("ks", "tb").is_some());
    assert_eq!(s.version(), b.log.schema().version());
    // Merging again changes nothing (idempotent).
    assert!(!a.log.merge(&da) && !a.log.merge(&b.log));
    assert!(a.log.covers(&db));
}

#[test]
fn concurrent_columns_of_one_table_both_survive() {
    let mut base = with_keyspace();
    base.ddl(2, 1, |s| {
        s.create_table(table("ks", "t", 7), false).unwrap();
    });
    let (mut a, mut b) = (base.clone(), base.clone());
    let add = |name: &'static str| {
        move |s: &mut Schema| {
            let mut t = (**s.table("ks", "t").unwrap()).clone();
            t.add_columns(&[(name.into(), CqlType::Int, false)])
                .unwrap();
            s.replace_table(t).unwrap();
        }
    };
    let da = a.ddl(10, 1, add("x"));
    let db = b.ddl(10, 2, add("y"));
    a.log.merge(&db);
    b.log.merge(&da);
    assert_eq!(a.log, b.log);
    let t = a.log.schema().table("ks", "t").unwrap().clone();
    let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["k", "c", "a", "v", "x", "y"]);
}

#[test]
fn the_same_element_changed_twice_resolves_by_timestamp() {
    let mut base = with_keyspace();
    base.ddl(2, 1, |s| {
        s.create_table(table("ks", "t", 7), false).unwrap();
    });
    let (mut a, mut b) = (base.clone(), base.clone());
    let comment = |text: &'static str| {
        move |s: &mut Schema| {
            let mut t = (**s.table("ks", "t").unwrap()).clone();
            t.options
                .apply(&[("comment".into(), OptionValue::Text(text.into()))])
                .unwrap();
            s.replace_table(t).unwrap();
        }
    };
    let older = a.ddl(20, 9, comment("older"));
    let newer = b.ddl(21, 1, comment("newer"));
    a.log.merge(&newer);
    b.log.merge(&older);
    for n in [&a, &b] {
        assert_eq!(
            n.log.schema().table("ks", "t").unwrap().options.comment,
            "newer"
        );
    }
    // And a column's type by its own stamp, apart from the table's options.
    let drop_v = a.ddl(30, 1, |s| {
        let mut t = (**s.table("ks", "t").unwrap()).clone();
        t.drop_columns(&["v".into()]).unwrap();
        s.replace_table(t).unwrap();
    });
    b.log.merge(&drop_v);
    assert!(
        b.log
            .schema()
            .table("ks", "t")
            .unwrap()
            .column("v")
            .is_none()
    );
    assert_eq!(a.log, b.log);
}

#[test]
fn a_dropped_table_created_again_does_not_bring_back_old_columns() {
    let mut n = with_keyspace();
    n.ddl(2, 1, |s| {
        s.create_table(table("ks", "t", 1), false).unwrap();
    });
    // Elsewhere, a column is added to the first incarnation...
    let mut other = n.clone();
    let late = other.ddl(3, 2, |s| {
        let mut t = (**s.table("ks", "t").unwrap()).clone();
        t.add_columns(&[("old".into(), CqlType::Int, false)])
            .unwrap();
        s.replace_table(t).unwrap();
    });
    // ...while here the table is dropped and created again.
    n.ddl(4, 1, |s| {
        s.drop_table("ks", "t", false).unwrap();
    });
    n.ddl(5, 1, |s| {
        s.create_table(table("ks", "t", 2), false).unwrap();
    });
    n.log.merge(&late);
    let t = n.log.schema().table("ks", "t").unwrap().clone();
    assert_eq!(t.id, [2; 16]);
    assert!(t.column("old").is_none());
}

#[test]
fn a_table_of_a_dropped_keyspace_stays_hidden_when_it_is_created_again() {
    let base = with_keyspace();
    let mut other = base.clone();
    let orphan = other.ddl(3, 2, |s| {
        s.create_table(table("ks", "orphan", 3), false).unwrap();
    });
    let mut n = base;
    n.ddl(4, 1, |s| {
        s.drop_keyspace("ks", false).unwrap();
    });
    n.log.merge(&orphan);
    assert!(n.log.schema().keyspace("ks").is_none());
    n.ddl(5, 1, |s| {
        s.create_keyspace(nts("ks", "1"), false).unwrap();
    });
    n.log.merge(&orphan);
    let s = n.log.schema();
    assert!(s.keyspace("ks").is_some());
    assert!(s.table("ks", "orphan").is_none());
    // An ALTER keeps the incarnation: its tables stay.
    n.ddl(6, 1, |s| {
        s.create_table(table("ks", "t", 4), false).unwrap();
    });
    n.ddl(7, 1, |s| {
        s.alter_keyspace(nts("ks", "2"), false).unwrap();
    });
    assert!(n.log.schema().table("ks", "t").is_some());
}

#[test]
fn newest_is_the_highest_stamp() {
    let mut n = with_keyspace();
    assert_eq!(n.log.newest(), (1, host(1)));
    n.ddl(9, 3, |s| {
        s.drop_keyspace("ks", false).unwrap();
    });
    assert_eq!(n.log.newest(), (9, host(3)));
    assert_eq!(SchemaLog::default().newest(), (0, [0; 16]));
}
