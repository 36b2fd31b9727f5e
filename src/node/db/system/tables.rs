//! The node-local system tables, made from the node's state when read.
//!
//! `system.local`, `system.peers(_v2)`, `system_schema.*` and
//! `system_virtual_schema.*` are not stored: like Cassandra's local and
//! virtual tables, their rows come from what the node knows (its identity,
//! its peers, its schema). Their definitions are written here as the CQL
//! Cassandra 4.1 shows in `DESCRIBE`, and parsed by the node's own parser,
//! so `SELECT *` returns exactly Cassandra's columns in Cassandra's order.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::node::cql::ast::Statement;
use crate::node::cql::tablespec::table_spec;
use crate::node::db::schema::{Schema, TableMeta, system_table_id};
use crate::node::db::system::{self, NodeInfo, Row};
use crate::node::value::CqlValue;

/// Keyspaces whose tables are made on read.
pub const LOCAL_KEYSPACES: [&str; 4] = [
    "system",
    "system_schema",
    "system_virtual_schema",
    "system_views",
];

/// Virtual keyspaces (listed in `system_virtual_schema`, not in `system_schema`).
const VIRTUAL_KEYSPACES: [&str; 2] = ["system_views", "system_virtual_schema"];

const TABLE_OPTIONS: &str = "additional_write_policy text, bloom_filter_fp_chance double, \
    caching frozen<map<text, text>>, cdc boolean, comment text, \
    compaction frozen<map<text, text>>, compression frozen<map<text, text>>, \
    crc_check_chance double, default_time_to_live int, extensions frozen<map<text, blob>>, \
    gc_grace_seconds int, id uuid, max_index_interval int, memtable text, \
    memtable_flush_period_in_ms int, min_index_interval int, read_repair text, \
    speculative_retry text";

fn definitions() -> Vec<String> {
    let columns = "keyspace_name text, table_name text, column_name text, clustering_order text, \
        column_name_bytes blob, kind text, position int, type text, \
        PRIMARY KEY (keyspace_name, table_name, column_name)";
    vec![
        "CREATE TABLE system.local (key text PRIMARY KEY, bootstrapped text, broadcast_address inet, \
         broadcast_port int, cluster_name text, cql_version text, data_center text, \
         gossip_generation int, host_id uuid, listen_address inet, listen_port int, \
         native_protocol_version text, partitioner text, rack text, release_version text, \
         rpc_address inet, rpc_port int, schema_version uuid, tokens set<text>, \
         truncated_at map<uuid, blob>)".into(),
        "CREATE TABLE system.peers (peer inet PRIMARY KEY, data_center text, host_id uuid, \
         preferred_ip inet, rack text, release_version text, rpc_address inet, \
         schema_version uuid, tokens set<text>)".into(),
        "CREATE TABLE system.peers_v2 (peer inet, peer_port int, data_center text, host_id uuid, \
         native_address inet, native_port int, preferred_ip inet, preferred_port int, rack text, \
         release_version text, schema_version uuid, tokens set<text>, \
         PRIMARY KEY (peer, peer_port))".into(),
        "CREATE TABLE system_schema.keyspaces (keyspace_name text PRIMARY KEY, \
         durable_writes boolean, replication frozen<map<text, text>>)".into(),
        format!(
            "CREATE TABLE system_schema.tables (keyspace_name text, table_name text, {TABLE_OPTIONS}, \
             flags frozen<set<text>>, PRIMARY KEY (keyspace_name, table_name))"
        ),
        format!("CREATE TABLE system_schema.columns ({columns})"),
        "CREATE TABLE system_schema.dropped_columns (keyspace_name text, table_name text, \
         column_name text, dropped_time timestamp, kind text, type text, \
         PRIMARY KEY (keyspace_name, table_name, column_name))".into(),
        "CREATE TABLE system_schema.types (keyspace_name text, type_name text, \
         field_names frozen<list<text>>, field_types frozen<list<text>>, \
         PRIMARY KEY (keyspace_name, type_name))".into(),
        "CREATE TABLE system_schema.functions (keyspace_name text, function_name text, \
         argument_types frozen<list<text>>, argument_names frozen<list<text>>, body text, \
         called_on_null_input boolean, language text, return_type text, \
         PRIMARY KEY (keyspace_name, function_name, argument_types))".into(),
        "CREATE TABLE system_schema.aggregates (keyspace_name text, aggregate_name text, \
         argument_types frozen<list<text>>, final_func text, initcond text, return_type text, \
         state_func text, state_type text, \
         PRIMARY KEY (keyspace_name, aggregate_name, argument_types))".into(),
        "CREATE TABLE system_schema.triggers (keyspace_name text, table_name text, \
         trigger_name text, options frozen<map<text, text>>, \
         PRIMARY KEY (keyspace_name, table_name, trigger_name))".into(),
        "CREATE TABLE system_schema.indexes (keyspace_name text, table_name text, \
         index_name text, kind text, options frozen<map<text, text>>, \
         PRIMARY KEY (keyspace_name, table_name, index_name))".into(),
        format!(
            "CREATE TABLE system_schema.views (keyspace_name text, view_name text, \
             base_table_id uuid, base_table_name text, include_all_columns boolean, \
             where_clause text, {TABLE_OPTIONS}, PRIMARY KEY (keyspace_name, view_name))"
        ),
        "CREATE TABLE system_virtual_schema.keyspaces (keyspace_name text PRIMARY KEY)".into(),
        "CREATE TABLE system_virtual_schema.tables (keyspace_name text, table_name text, \
         comment text, PRIMARY KEY (keyspace_name, table_name))".into(),
        format!("CREATE TABLE system_virtual_schema.columns ({columns})"),
    ]
}

/// Every node-local table, by (keyspace, name).
pub fn catalog() -> &'static BTreeMap<(String, String), Arc<TableMeta>> {
    static CATALOG: OnceLock<BTreeMap<(String, String), Arc<TableMeta>>> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let mut out = BTreeMap::new();
        for text in definitions() {
            let Ok(Statement::CreateTable(ct)) = crate::node::cql::parse(&text) else {
                panic!("system table definition does not parse: {text}");
            };
            let ks = ct.name.keyspace.clone().expect("qualified");
            let spec = table_spec(&ct, &ks).expect("system table types");
            let id = system_table_id(&ks, &ct.name.name);
            let t = TableMeta::create(&ks, &ct.name.name, id, &spec).expect("system table");
            out.insert((ks, ct.name.name.clone()), Arc::new(t));
        }
        out
    })
}

pub fn table(keyspace: &str, name: &str) -> Option<Arc<TableMeta>> {
    catalog()
        .get(&(keyspace.to_string(), name.to_string()))
        .cloned()
}

/// The tables of one local keyspace.
pub fn tables_of(keyspace: &str) -> Vec<Arc<TableMeta>> {
    catalog()
        .iter()
        .filter(|((k, _), _)| k == keyspace)
        .map(|(_, t)| t.clone())
        .collect()
}

/// What the system tables are made from.
pub struct Sources<'a> {
    pub local: &'a NodeInfo,
    pub peers: &'a [NodeInfo],
    pub cluster_name: &'a str,
    pub gossip_generation: i32,
    pub schema: &'a Schema,
}

fn local_keyspace_row(name: &str) -> Row {
    let mut r = Row::new();
    r.insert("keyspace_name", Some(CqlValue::Text(name.into())));
    r.insert("durable_writes", Some(CqlValue::Boolean(true)));
    r.insert(
        "replication",
        Some(CqlValue::Map(vec![(
            CqlValue::Text("class".into()),
            CqlValue::Text("org.apache.cassandra.locator.LocalStrategy".into()),
        )])),
    );
    r
}

/// The rows of a local table (unfiltered).
pub fn rows(src: &Sources<'_>, keyspace: &str, table: &str) -> Vec<Row> {
    let stored_and_local = || {
        let mut tables: Vec<Arc<TableMeta>> = Vec::new();
        for ks in ["system", "system_schema"] {
            tables.extend(tables_of(ks));
        }
        for ks in src.schema.keyspaces.values() {
            tables.extend(ks.tables.values().cloned());
        }
        tables
    };
    match (keyspace, table) {
        ("system", "local") => vec![system::local_row(
            src.local,
            src.cluster_name,
            src.gossip_generation,
        )],
        ("system", "peers") => src
            .peers
            .iter()
            .map(|p| system::peer_row(p, false))
            .collect(),
        ("system", "peers_v2") => src
            .peers
            .iter()
            .map(|p| system::peer_row(p, true))
            .collect(),
        ("system_schema", "keyspaces") => {
            let mut v = vec![
                local_keyspace_row("system"),
                local_keyspace_row("system_schema"),
            ];
            v.extend(src.schema.keyspaces.values().map(system::keyspace_row));
            v
        }
        ("system_schema", "tables") => stored_and_local()
            .iter()
            .map(|t| system::table_row(t))
            .collect(),
        ("system_schema", "columns") => stored_and_local()
            .iter()
            .flat_map(|t| system::column_rows(t))
            .collect(),
        ("system_virtual_schema", "keyspaces") => VIRTUAL_KEYSPACES
            .iter()
            .map(|k| {
                let mut r = Row::new();
                r.insert("keyspace_name", Some(CqlValue::Text(k.to_string())));
                r
            })
            .collect(),
        ("system_virtual_schema", "tables") => tables_of("system_virtual_schema")
            .iter()
            .map(|t| {
                let mut r = Row::new();
                r.insert("keyspace_name", Some(CqlValue::Text(t.keyspace.clone())));
                r.insert("table_name", Some(CqlValue::Text(t.name.clone())));
                r.insert("comment", Some(CqlValue::Text(String::new())));
                r
            })
            .collect(),
        ("system_virtual_schema", "columns") => tables_of("system_virtual_schema")
            .iter()
            .flat_map(|t| system::column_rows(t))
            .collect(),
        // types, functions, aggregates, triggers, indexes, views, dropped
        // columns: ccrsim has none of these objects.
        _ => Vec::new(),
    }
}
