//! The schema as JSON, kept in the node's metadata so that it survives
//! restarts. Types are stored as their CQL text and read back with the
//! type parser.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::node::db::schema::{
    ColumnKind, ColumnMeta, Keyspace, KeyspaceMeta, OptionValue, Order, Schema, SchemaError,
    Strategy, TableMeta, TableOptions,
};
use crate::node::value::types::CqlType;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex16(s: &str) -> Option<[u8; 16]> {
    if s.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn option_json(v: &OptionValue) -> Value {
    match v {
        OptionValue::Text(s) => json!(s),
        OptionValue::Number(n) => json!(n),
        OptionValue::Bool(b) => json!(b),
        OptionValue::Map(m) => json!(m),
    }
}

fn option_from(v: &Value) -> Option<OptionValue> {
    Some(match v {
        Value::String(s) => OptionValue::Text(s.clone()),
        Value::Number(n) => OptionValue::Number(n.as_f64()?),
        Value::Bool(b) => OptionValue::Bool(*b),
        Value::Object(m) => OptionValue::Map(
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect(),
        ),
        _ => return None,
    })
}

/// A keyspace's definition (without its tables) as JSON.
pub fn keyspace_json(meta: &KeyspaceMeta) -> Value {
    json!({
        "name": meta.name,
        "replication": meta.strategy.to_map(),
        "durable_writes": meta.durable_writes,
    })
}

/// Reads what [`keyspace_json`] wrote.
pub fn keyspace_from(ks: &Value) -> Result<KeyspaceMeta, SchemaError> {
    let name = ks["name"]
        .as_str()
        .ok_or_else(|| corrupt("keyspace name"))?
        .to_string();
    let replication: BTreeMap<String, String> = ks["replication"]
        .as_object()
        .ok_or_else(|| corrupt("replication"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
        .collect();
    let strategy = if replication
        .get("class")
        .is_some_and(|c| c.ends_with("LocalStrategy"))
    {
        Strategy::Local
    } else {
        // Stored maps were validated when written; every datacenter they name is known.
        let dcs: BTreeSet<String> = replication
            .keys()
            .filter(|k| *k != "class" && *k != "replication_factor")
            .cloned()
            .collect();
        Strategy::from_options(&name, &replication, &dcs)?
    };
    let durable_writes = ks["durable_writes"].as_bool().unwrap_or(true);
    Ok(KeyspaceMeta {
        name,
        strategy,
        durable_writes,
    })
}

/// A column's definition as JSON.
pub fn column_json(c: &ColumnMeta) -> Value {
    let (kind, position, order) = match c.kind {
        ColumnKind::PartitionKey(p) => ("partition_key", i32::from(p), "none"),
        ColumnKind::Clustering(p, o) => ("clustering", i32::from(p), o.as_str()),
        ColumnKind::Regular => ("regular", -1, "none"),
        ColumnKind::Static => ("static", -1, "none"),
    };
    json!({"name": c.name, "type": c.ty.to_string(), "kind": kind, "position": position, "order": order})
}

/// Reads what [`column_json`] wrote.
pub fn column_from(c: &Value) -> Result<ColumnMeta, SchemaError> {
    let name = c["name"]
        .as_str()
        .ok_or_else(|| corrupt("column name"))?
        .to_string();
    let ty_text = c["type"].as_str().ok_or_else(|| corrupt("column type"))?;
    let ty =
        CqlType::parse(ty_text).map_err(|e| corrupt(&format!("column type {ty_text}: {e}")))?;
    let pos = c["position"].as_i64().unwrap_or(-1).clamp(0, 255) as u8;
    let kind = match c["kind"].as_str() {
        Some("partition_key") => ColumnKind::PartitionKey(pos),
        Some("clustering") => ColumnKind::Clustering(
            pos,
            if c["order"] == "desc" {
                Order::Desc
            } else {
                Order::Asc
            },
        ),
        Some("static") => ColumnKind::Static,
        Some("regular") => ColumnKind::Regular,
        _ => return Err(corrupt("column kind")),
    };
    Ok(ColumnMeta { name, ty, kind })
}

/// A table's name, id and options (not its columns) as JSON.
pub fn table_head_json(name: &str, id: &[u8; 16], options: &TableOptions) -> Value {
    let other: Map<String, Value> = options
        .other
        .iter()
        .map(|(k, v)| (k.clone(), option_json(v)))
        .collect();
    json!({
        "name": name,
        "id": hex(id),
        "comment": options.comment,
        "default_time_to_live": options.default_time_to_live,
        "gc_grace_seconds": options.gc_grace_seconds,
        "other_options": other,
    })
}

/// Reads what [`table_head_json`] wrote: name, id and options.
pub fn table_head_from(t: &Value) -> Result<(String, [u8; 16], TableOptions), SchemaError> {
    let name = t["name"]
        .as_str()
        .ok_or_else(|| corrupt("table name"))?
        .to_string();
    let id = t["id"]
        .as_str()
        .and_then(unhex16)
        .ok_or_else(|| corrupt("table id"))?;
    let other = t["other_options"]
        .as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| option_from(v).map(|o| (k.clone(), o)))
                .collect()
        })
        .unwrap_or_default();
    let options = TableOptions {
        comment: t["comment"].as_str().unwrap_or_default().to_string(),
        default_time_to_live: t["default_time_to_live"].as_i64().unwrap_or(0) as i32,
        gc_grace_seconds: t["gc_grace_seconds"].as_i64().unwrap_or(864_000) as i32,
        other,
    };
    Ok((name, id, options))
}

/// 16 bytes as 32 hex digits, and back.
pub fn hex16(b: &[u8; 16]) -> String {
    hex(b)
}

pub fn from_hex16(s: &str) -> Option<[u8; 16]> {
    unhex16(s)
}

/// The schema as a JSON value.
pub fn to_json(schema: &Schema) -> Value {
    let keyspaces: Vec<Value> = schema
        .keyspaces
        .values()
        .map(|ks| {
            let tables: Vec<Value> = ks
                .tables
                .values()
                .map(|t| {
                    let mut v = table_head_json(&t.name, &t.id, &t.options);
                    v["columns"] = Value::Array(t.columns.iter().map(column_json).collect());
                    v
                })
                .collect();
            let mut v = keyspace_json(&ks.meta);
            v["tables"] = Value::Array(tables);
            v
        })
        .collect();
    json!({ "version": 1, "keyspaces": keyspaces })
}

pub(crate) fn corrupt(what: &str) -> SchemaError {
    SchemaError::Invalid(format!("stored schema is unreadable: {what}"))
}

/// Reads a schema written by [`to_json`].
pub fn from_json(v: &Value) -> Result<Schema, SchemaError> {
    let mut schema = Schema::default();
    for ks in v["keyspaces"]
        .as_array()
        .ok_or_else(|| corrupt("keyspaces"))?
    {
        let meta = keyspace_from(ks)?;
        let mut tables = BTreeMap::new();
        for t in ks["tables"].as_array().ok_or_else(|| corrupt("tables"))? {
            let (tname, id, options) = table_head_from(t)?;
            let columns = t["columns"]
                .as_array()
                .ok_or_else(|| corrupt("columns"))?
                .iter()
                .map(column_from)
                .collect::<Result<Vec<_>, _>>()?;
            tables.insert(
                tname.clone(),
                Arc::new(TableMeta {
                    keyspace: meta.name.clone(),
                    name: tname,
                    id,
                    columns,
                    options,
                }),
            );
        }
        schema
            .keyspaces
            .insert(meta.name.clone(), Keyspace { meta, tables });
    }
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::schema::TableSpec;

    #[test]
    fn schema_round_trips() {
        let mut s = Schema::default();
        let dcs: BTreeSet<String> = ["dc1".to_string()].into();
        let opts: BTreeMap<String, String> = [
            ("class".to_string(), "NetworkTopologyStrategy".to_string()),
            ("dc1".to_string(), "3".to_string()),
        ]
        .into();
        let strategy = Strategy::from_options("ks", &opts, &dcs).unwrap();
        s.create_keyspace(
            KeyspaceMeta {
                name: "ks".into(),
                strategy,
                durable_writes: false,
            },
            false,
        )
        .unwrap();
        let spec = TableSpec {
            columns: vec![
                ("k".into(), CqlType::Text, false),
                ("c".into(), CqlType::Int, false),
                ("tags".into(), CqlType::Set(Box::new(CqlType::Int)), false),
                ("s".into(), CqlType::Int, true),
            ],
            partition_key: vec!["k".into()],
            clustering: vec!["c".into()],
            clustering_order: vec![("c".into(), Order::Desc)],
            options: vec![
                ("comment".into(), OptionValue::Text("x".into())),
                (
                    "caching".into(),
                    OptionValue::Map([("keys".to_string(), "ALL".to_string())].into()),
                ),
            ],
        };
        s.create_table(TableMeta::create("ks", "t", [5; 16], &spec).unwrap(), false)
            .unwrap();
        let text = to_json(&s).to_string();
        let back = from_json(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.version(), s.version());
        assert!(from_json(&json!({"keyspaces": [{"name": 1}]})).is_err());
    }
}
