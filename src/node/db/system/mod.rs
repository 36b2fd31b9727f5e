//! The rows of Cassandra's system tables, computed from the node's state.
//!
//! Drivers learn the cluster from `system.local`, `system.peers` and
//! `system.peers_v2`, and the schema from `system_schema.*`; cqlsh reads
//! the same. These tables are not stored: each read builds their rows from
//! the live node state and the schema, by column name, and the query layer
//! projects the columns a SELECT asks for (drivers fail on columns they did
//! not ask for). Values are [`CqlValue`]s, encoded by the caller.

pub mod tables;

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::node::db::schema::{ColumnKind, Keyspace, Schema, TableMeta};
use crate::node::value::CqlValue;

/// The Cassandra version ccrsim reports (`release_version`).
pub const RELEASE_VERSION: &str = "4.1.3";
/// The CQL version of Cassandra 4.1.
pub const CQL_VERSION: &str = "3.4.6";
pub const PARTITIONER: &str = "org.apache.cassandra.dht.Murmur3Partitioner";

/// What `system.local` and a peer row say about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub host_id: [u8; 16],
    pub datacenter: String,
    pub rack: String,
    pub listen_address: IpAddr,
    pub listen_port: u16,
    pub broadcast_address: IpAddr,
    pub rpc_address: IpAddr,
    pub native_port: u16,
    pub tokens: Vec<i64>,
    pub schema_version: [u8; 16],
    pub release_version: String,
}

/// A row: values by column name (absent or `None`: null).
pub type Row = BTreeMap<&'static str, Option<CqlValue>>;

fn text(s: &str) -> Option<CqlValue> {
    Some(CqlValue::Text(s.to_string()))
}

fn tokens(t: &[i64]) -> Option<CqlValue> {
    // set<text>, in the order a set keeps (text order), as Cassandra returns them.
    let mut v: Vec<String> = t.iter().map(i64::to_string).collect();
    v.sort();
    Some(CqlValue::Set(v.into_iter().map(CqlValue::Text).collect()))
}

/// The single row of `system.local`.
pub fn local_row(node: &NodeInfo, cluster_name: &str, gossip_generation: i32) -> Row {
    let mut r = Row::new();
    r.insert("key", text("local"));
    r.insert("bootstrapped", text("COMPLETED"));
    r.insert(
        "broadcast_address",
        Some(CqlValue::Inet(node.broadcast_address)),
    );
    r.insert(
        "broadcast_port",
        Some(CqlValue::Int(i32::from(node.listen_port))),
    );
    r.insert("cluster_name", text(cluster_name));
    r.insert("cql_version", text(CQL_VERSION));
    r.insert("data_center", text(&node.datacenter));
    r.insert("gossip_generation", Some(CqlValue::Int(gossip_generation)));
    r.insert("host_id", Some(CqlValue::Uuid(node.host_id)));
    r.insert("listen_address", Some(CqlValue::Inet(node.listen_address)));
    r.insert(
        "listen_port",
        Some(CqlValue::Int(i32::from(node.listen_port))),
    );
    r.insert("native_protocol_version", text("5"));
    r.insert("partitioner", text(PARTITIONER));
    r.insert("rack", text(&node.rack));
    r.insert("release_version", text(&node.release_version));
    r.insert("rpc_address", Some(CqlValue::Inet(node.rpc_address)));
    r.insert("rpc_port", Some(CqlValue::Int(i32::from(node.native_port))));
    r.insert("schema_version", Some(CqlValue::Uuid(node.schema_version)));
    r.insert("tokens", tokens(&node.tokens));
    r.insert("truncated_at", None);
    r
}

/// A row of `system.peers` (`v2 = false`) or `system.peers_v2`.
pub fn peer_row(node: &NodeInfo, v2: bool) -> Row {
    let mut r = Row::new();
    r.insert("peer", Some(CqlValue::Inet(node.broadcast_address)));
    r.insert("data_center", text(&node.datacenter));
    r.insert("host_id", Some(CqlValue::Uuid(node.host_id)));
    r.insert("preferred_ip", None);
    r.insert("rack", text(&node.rack));
    r.insert("release_version", text(&node.release_version));
    r.insert("schema_version", Some(CqlValue::Uuid(node.schema_version)));
    r.insert("tokens", tokens(&node.tokens));
    if v2 {
        r.insert(
            "peer_port",
            Some(CqlValue::Int(i32::from(node.listen_port))),
        );
        r.insert("native_address", Some(CqlValue::Inet(node.rpc_address)));
        r.insert(
            "native_port",
            Some(CqlValue::Int(i32::from(node.native_port))),
        );
        r.insert("preferred_port", None);
    } else {
        r.insert("rpc_address", Some(CqlValue::Inet(node.rpc_address)));
    }
    r
}

fn text_map(m: &BTreeMap<String, String>) -> Option<CqlValue> {
    Some(CqlValue::Map(
        m.iter()
            .map(|(k, v)| (CqlValue::Text(k.clone()), CqlValue::Text(v.clone())))
            .collect(),
    ))
}

/// A row of `system_schema.keyspaces`.
pub fn keyspace_row(ks: &Keyspace) -> Row {
    let mut r = Row::new();
    r.insert("keyspace_name", text(&ks.meta.name));
    r.insert(
        "durable_writes",
        Some(CqlValue::Boolean(ks.meta.durable_writes)),
    );
    r.insert("replication", text_map(&ks.meta.strategy.to_map()));
    r
}

/// Cassandra 4.1's defaults for the table options ccrsim does not model.
pub fn default_table_options() -> Vec<(&'static str, CqlValue)> {
    let m = |pairs: &[(&str, &str)]| {
        CqlValue::Map(
            pairs
                .iter()
                .map(|(k, v)| (CqlValue::Text(k.to_string()), CqlValue::Text(v.to_string())))
                .collect(),
        )
    };
    vec![
        ("additional_write_policy", CqlValue::Text("99p".into())),
        ("bloom_filter_fp_chance", CqlValue::Double(0.01)),
        (
            "caching",
            m(&[("keys", "ALL"), ("rows_per_partition", "NONE")]),
        ),
        ("cdc", CqlValue::Boolean(false)),
        (
            "compaction",
            m(&[
                (
                    "class",
                    "org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy",
                ),
                ("max_threshold", "32"),
                ("min_threshold", "4"),
            ]),
        ),
        (
            "compression",
            m(&[
                ("chunk_length_in_kb", "16"),
                ("class", "org.apache.cassandra.io.compress.LZ4Compressor"),
            ]),
        ),
        ("crc_check_chance", CqlValue::Double(1.0)),
        ("extensions", CqlValue::Map(Vec::new())),
        (
            "flags",
            CqlValue::Set(vec![CqlValue::Text("compound".into())]),
        ),
        ("max_index_interval", CqlValue::Int(2048)),
        ("memtable", CqlValue::Text("default".into())),
        ("memtable_flush_period_in_ms", CqlValue::Int(0)),
        ("min_index_interval", CqlValue::Int(128)),
        ("read_repair", CqlValue::Text("BLOCKING".into())),
        ("speculative_retry", CqlValue::Text("99p".into())),
    ]
}

/// A row of `system_schema.tables`.
pub fn table_row(t: &TableMeta) -> Row {
    let mut r = Row::new();
    for (name, value) in default_table_options() {
        r.insert(name, Some(value));
    }
    r.insert("keyspace_name", text(&t.keyspace));
    r.insert("table_name", text(&t.name));
    r.insert("id", Some(CqlValue::Uuid(t.id)));
    r.insert("comment", text(&t.options.comment));
    r.insert(
        "default_time_to_live",
        Some(CqlValue::Int(t.options.default_time_to_live)),
    );
    r.insert(
        "gc_grace_seconds",
        Some(CqlValue::Int(t.options.gc_grace_seconds)),
    );
    r
}

/// The rows of `system_schema.columns` for a table.
pub fn column_rows(t: &TableMeta) -> Vec<Row> {
    t.columns
        .iter()
        .map(|c| {
            let mut r = Row::new();
            r.insert("keyspace_name", text(&t.keyspace));
            r.insert("table_name", text(&t.name));
            r.insert("column_name", text(&c.name));
            let order = match c.kind {
                ColumnKind::Clustering(_, o) => o.as_str(),
                _ => "none",
            };
            r.insert("clustering_order", text(order));
            r.insert(
                "column_name_bytes",
                Some(CqlValue::Blob(c.name.as_bytes().to_vec())),
            );
            r.insert("kind", text(c.kind.as_str()));
            r.insert("position", Some(CqlValue::Int(c.kind.position())));
            r.insert("type", text(&c.ty.to_string()));
            r
        })
        .collect()
}

/// Every `system_schema.keyspaces`, `tables` and `columns` row of a schema.
pub fn schema_rows(schema: &Schema) -> (Vec<Row>, Vec<Row>, Vec<Row>) {
    let mut keyspaces = Vec::new();
    let mut tables = Vec::new();
    let mut columns = Vec::new();
    for ks in schema.keyspaces.values() {
        keyspaces.push(keyspace_row(ks));
        for t in ks.tables.values() {
            tables.push(table_row(t));
            columns.extend(column_rows(t));
        }
    }
    (keyspaces, tables, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::schema::{KeyspaceMeta, Order, Strategy, TableSpec};
    use crate::node::value::types::CqlType;

    fn info() -> NodeInfo {
        NodeInfo {
            host_id: [1; 16],
            datacenter: "dc1".into(),
            rack: "rack1".into(),
            listen_address: "127.0.1.1".parse().unwrap(),
            listen_port: 7000,
            broadcast_address: "127.0.1.1".parse().unwrap(),
            rpc_address: "127.0.1.1".parse().unwrap(),
            native_port: 9042,
            tokens: vec![-5, 10, 3],
            schema_version: [2; 16],
            release_version: RELEASE_VERSION.into(),
        }
    }

    #[test]
    fn local_and_peer_rows_carry_what_drivers_need() {
        let local = local_row(&info(), "Test Cluster", 1);
        for col in [
            "host_id",
            "rpc_address",
            "data_center",
            "rack",
            "tokens",
            "cluster_name",
            "release_version",
            "schema_version",
            "partitioner",
        ] {
            assert!(local.get(col).is_some_and(Option::is_some), "{col}");
        }
        assert_eq!(
            local["tokens"],
            Some(CqlValue::Set(vec![
                CqlValue::Text("-5".into()),
                CqlValue::Text("10".into()),
                CqlValue::Text("3".into())
            ]))
        );
        let v2 = peer_row(&info(), true);
        assert!(v2.contains_key("native_address") && !v2.contains_key("rpc_address"));
        let v1 = peer_row(&info(), false);
        assert!(v1.contains_key("rpc_address") && !v1.contains_key("native_port"));
    }

    #[test]
    fn schema_rows_describe_tables_and_columns() {
        let mut s = Schema::default();
        s.create_keyspace(
            KeyspaceMeta {
                name: "ks".into(),
                strategy: Strategy::Simple {
                    replication_factor: 1,
                },
                durable_writes: true,
            },
            false,
        )
        .unwrap();
        let spec = TableSpec {
            columns: vec![
                ("k".into(), CqlType::Int, false),
                ("c".into(), CqlType::Text, false),
                (
                    "v".into(),
                    CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Int)),
                    false,
                ),
            ],
            partition_key: vec!["k".into()],
            clustering: vec!["c".into()],
            clustering_order: vec![("c".into(), Order::Desc)],
            options: vec![],
        };
        s.create_table(TableMeta::create("ks", "t", [3; 16], &spec).unwrap(), false)
            .unwrap();
        let (ks, tables, cols) = schema_rows(&s);
        assert_eq!(ks.len(), 1);
        assert_eq!(tables[0]["gc_grace_seconds"], Some(CqlValue::Int(864_000)));
        let c = cols.iter().find(|r| r["column_name"] == text("c")).unwrap();
        assert_eq!(
            (
                c["kind"].clone(),
                c["clustering_order"].clone(),
                c["position"].clone()
            ),
            (text("clustering"), text("desc"), Some(CqlValue::Int(0)))
        );
        let v = cols.iter().find(|r| r["column_name"] == text("v")).unwrap();
        assert_eq!(v["type"], text("map<text, int>"));
        assert_eq!(v["position"], Some(CqlValue::Int(-1)));
    }
}
