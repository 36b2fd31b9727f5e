//! Server-side DESCRIBE (Cassandra 4.0+), which cqlsh sends as a statement.
//!
//! Rows have Cassandra's columns `keyspace_name, type, name,
//! create_statement`; the statements are written the way Cassandra 4.1
//! writes them (full strategy class names, every table option).

use std::fmt::Write as _;

use crate::node::cql::ast::{DescribeTarget, QualifiedName};
use crate::node::cql::exec::Engine;
use crate::node::cql::session::{Result, Session};
use crate::node::db::schema::{ColumnKind, Order, TableMeta};
use crate::node::db::system::tables::{self as systables, LOCAL_KEYSPACES};
use crate::node::db::system::{PARTITIONER, default_table_options};
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::{ColumnSpec, ResultBody, Rows};
use crate::node::value::CqlValue;
use crate::node::value::types::{CqlType, quote_identifier as q};

fn spec(name: &str) -> ColumnSpec {
    ColumnSpec {
        keyspace: String::new(),
        table: String::new(),
        name: name.into(),
        ty: CqlType::Text,
    }
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `CREATE KEYSPACE ...;` as Cassandra 4.1 writes it.
pub fn keyspace_cql(name: &str, replication: &[(String, String)], durable: bool) -> String {
    let map: Vec<String> = replication
        .iter()
        .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
        .collect();
    format!(
        "CREATE KEYSPACE {} WITH replication = {{{}}}  AND durable_writes = {durable};",
        q(name),
        map.join(", ")
    )
}

/// `CREATE TABLE ...;` as Cassandra 4.1 writes it.
pub fn table_cql(t: &TableMeta) -> String {
    let mut s = format!("CREATE TABLE {}.{} (\n", q(&t.keyspace), q(&t.name));
    let pk: Vec<&str> = t.partition_key().map(|c| c.name.as_str()).collect();
    let ck: Vec<(&str, Order)> = t
        .clustering()
        .map(|c| match c.kind {
            ColumnKind::Clustering(_, o) => (c.name.as_str(), o),
            _ => (c.name.as_str(), Order::Asc),
        })
        .collect();
    let simple_key = pk.len() == 1 && ck.is_empty();
    for c in &t.columns {
        let _ = write!(s, "    {} {}", q(&c.name), c.ty);
        if c.kind == ColumnKind::Static {
            s.push_str(" static");
        }
        if simple_key && matches!(c.kind, ColumnKind::PartitionKey(_)) {
            s.push_str(" PRIMARY KEY");
        }
        s.push_str(",\n");
    }
    if simple_key {
        s.truncate(s.len() - 2);
        s.push('\n');
    } else {
        let pk_text = if pk.len() == 1 {
            q(pk[0])
        } else {
            format!(
                "({})",
                pk.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
            )
        };
        let mut parts = vec![pk_text];
        parts.extend(ck.iter().map(|(c, _)| q(c)));
        let _ = writeln!(s, "    PRIMARY KEY ({})", parts.join(", "));
    }
    s.push_str(") WITH ");
    let mut opts: Vec<String> = Vec::new();
    if !ck.is_empty() {
        let order: Vec<String> = ck
            .iter()
            .map(|(c, o)| format!("{} {}", q(c), o.as_str().to_ascii_uppercase()))
            .collect();
        opts.push(format!("CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    let mut values: Vec<(&str, CqlValue)> = default_table_options()
        .into_iter()
        .filter(|(k, _)| *k != "flags")
        .collect();
    values.push(("comment", CqlValue::Text(t.options.comment.clone())));
    values.push((
        "default_time_to_live",
        CqlValue::Int(t.options.default_time_to_live),
    ));
    values.push((
        "gc_grace_seconds",
        CqlValue::Int(t.options.gc_grace_seconds),
    ));
    values.sort_by(|a, b| a.0.cmp(b.0));
    for (k, v) in values {
        opts.push(format!("{k} = {}", v.to_cql_literal()));
    }
    s.push_str(&opts.join("\n    AND "));
    s.push(';');
    s
}

impl Engine {
    pub(super) fn describe(
        &self,
        s: &Session,
        full: bool,
        target: &DescribeTarget,
    ) -> Result<ResultBody> {
        let schema = self.schema();
        let mut rows: Vec<[String; 4]> = Vec::new();
        let ks_row = |name: &str| -> Option<[String; 4]> {
            if LOCAL_KEYSPACES.contains(&name) {
                let repl = vec![(
                    "class".to_string(),
                    "org.apache.cassandra.locator.LocalStrategy".to_string(),
                )];
                return Some([
                    name.into(),
                    "keyspace".into(),
                    q(name),
                    keyspace_cql(name, &repl, true),
                ]);
            }
            let k = schema.keyspace(name)?;
            let repl: Vec<(String, String)> = k.meta.strategy.to_map().into_iter().collect();
            Some([
                name.into(),
                "keyspace".into(),
                q(name),
                keyspace_cql(name, &repl, k.meta.durable_writes),
            ])
        };
        let table_row = |t: &TableMeta| -> [String; 4] {
            [t.keyspace.clone(), "table".into(), q(&t.name), table_cql(t)]
        };
        let tables_of = |ks: &str| -> Vec<std::sync::Arc<TableMeta>> {
            if LOCAL_KEYSPACES.contains(&ks) {
                systables::tables_of(ks)
            } else {
                schema
                    .keyspace(ks)
                    .map(|k| k.tables.values().cloned().collect())
                    .unwrap_or_default()
            }
        };
        let all_keyspaces = || -> Vec<String> {
            let mut v: Vec<String> = LOCAL_KEYSPACES.iter().map(|s| s.to_string()).collect();
            v.extend(schema.keyspaces.keys().cloned());
            v.sort();
            v
        };
        let user_keyspace = |k: &str| {
            !LOCAL_KEYSPACES.contains(&k)
                && !crate::node::db::schema::SYSTEM_KEYSPACE_NAMES.contains(&k)
        };
        let describe_keyspace = |name: &str, rows: &mut Vec<[String; 4]>| -> Result<()> {
            let r = ks_row(name)
                .ok_or_else(|| QueryError::Invalid(format!("'{name}' not found in keyspaces")))?;
            rows.push(r);
            for t in tables_of(name) {
                rows.push(table_row(&t));
            }
            Ok(())
        };
        match target {
            DescribeTarget::Cluster => {
                let columns = vec![spec("cluster"), spec("partitioner"), spec("snitch")];
                let row = vec![
                    Some(self.cluster_name.clone().into_bytes()),
                    Some(PARTITIONER.as_bytes().to_vec()),
                    Some(b"org.apache.cassandra.locator.GossipingPropertyFileSnitch".to_vec()),
                ];
                return Ok(ResultBody::Rows(Rows {
                    columns,
                    rows: vec![row],
                    paging_state: None,
                    no_metadata: false,
                }));
            }
            DescribeTarget::Keyspaces => {
                for k in all_keyspaces() {
                    rows.push([k.clone(), "keyspace".into(), q(&k), String::new()]);
                }
            }
            DescribeTarget::Tables => {
                let kss = match &s.keyspace {
                    Some(k) => vec![k.clone()],
                    None => all_keyspaces(),
                };
                for k in kss {
                    for t in tables_of(&k) {
                        rows.push([k.clone(), "table".into(), q(&t.name), String::new()]);
                    }
                }
            }
            DescribeTarget::Keyspace(name) => {
                let name = name.clone().or_else(|| s.keyspace.clone()).ok_or_else(|| {
                    QueryError::Invalid("No keyspace specified and no current keyspace".into())
                })?;
                describe_keyspace(&name, &mut rows)?;
            }
            DescribeTarget::Schema => {
                for k in all_keyspaces() {
                    if full || user_keyspace(&k) {
                        describe_keyspace(&k, &mut rows)?;
                    }
                }
            }
            DescribeTarget::Table(qn) => {
                let t = self.describe_table(s, qn)?;
                rows.push(table_row(&t));
            }
            DescribeTarget::Name(qn) => {
                if qn.keyspace.is_none() && ks_row(&qn.name).is_some() {
                    describe_keyspace(&qn.name, &mut rows)?;
                } else {
                    let t = self.describe_table(s, qn)?;
                    rows.push(table_row(&t));
                }
            }
        }
        let columns = vec![
            spec("keyspace_name"),
            spec("type"),
            spec("name"),
            spec("create_statement"),
        ];
        Ok(ResultBody::Rows(Rows {
            columns,
            rows: rows
                .into_iter()
                .map(|r| r.into_iter().map(|v| Some(v.into_bytes())).collect())
                .collect(),
            paging_state: None,
            no_metadata: false,
        }))
    }

    fn describe_table(&self, s: &Session, qn: &QualifiedName) -> Result<std::sync::Arc<TableMeta>> {
        let ks = qn
            .keyspace
            .clone()
            .or_else(|| s.keyspace.clone())
            .ok_or_else(|| {
                QueryError::Invalid("No keyspace specified and no current keyspace".into())
            })?;
        if LOCAL_KEYSPACES.contains(&ks.as_str()) {
            return systables::table(&ks, &qn.name).ok_or_else(|| {
                QueryError::Invalid(format!("'{}' not found in keyspace '{ks}'", qn.name))
            });
        }
        let schema = self.schema();
        let k = schema
            .keyspace(&ks)
            .ok_or_else(|| QueryError::Invalid(format!("'{ks}' not found in keyspaces")))?;
        k.tables.get(&qn.name).cloned().ok_or_else(|| {
            QueryError::Invalid(format!("'{}' not found in keyspace '{ks}'", qn.name))
        })
    }
}
