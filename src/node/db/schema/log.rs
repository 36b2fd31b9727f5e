//! The schema as timestamped cells, merged the way Cassandra merges its
//! schema tables.
//!
//! Cassandra keeps its schema in tables (`system_schema.keyspaces`,
//! `tables`, `columns`) and a schema change is a mutation of those
//! tables: one row per keyspace, table or column, each cell with a write
//! timestamp. Nodes exchange those mutations and merge them like any data,
//! the newest cell winning. Two changes to different tables, or to two
//! columns of one table, touch different rows and both survive; two
//! changes to the same element resolve by timestamp.
//!
//! [`SchemaLog`] is that idea, kept small: one [`Cell`] per keyspace,
//! table (its id and options) and column, each with a [`Stamp`] (the
//! change's microseconds, then the host id that made it, so no two
//! changes tie), or a tombstone where the element was dropped. Merging is
//! a per-key maximum, so it is commutative, associative and idempotent:
//! nodes that have seen the same changes, in any order and any number of
//! times, hold the same log, and [`SchemaLog::schema`] turns a log into
//! the same [`Schema`] on every node (so the same schema version).
//!
//! Columns are keyed by their table's id, not its name: a table dropped
//! and created again has a new id, so columns of the old one never come
//! back. A keyspace remembers when it was created; a table older than its
//! keyspace's creation belongs to a dropped incarnation and stays hidden.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde_json::{Value, json};

use crate::node::db::schema::persist::{
    column_from, column_json, corrupt, from_hex16, hex16, keyspace_from, keyspace_json,
    table_head_from, table_head_json,
};
use crate::node::db::schema::{
    ColumnKind, ColumnMeta, Keyspace, KeyspaceMeta, Schema, SchemaError, TableMeta, TableOptions,
};

/// When a change was made: microseconds, then the host that made it.
pub type Stamp = (i64, [u8; 16]);

/// What a cell defines.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Keyspace(String),
    /// Keyspace, table name.
    Table(String, String),
    /// Table id, column name.
    Column([u8; 16], String),
}

/// A definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Def {
    Keyspace {
        meta: KeyspaceMeta,
        /// When this incarnation of the keyspace was created.
        created: Stamp,
    },
    Table {
        id: [u8; 16],
        options: TableOptions,
    },
    Column(ColumnMeta),
}

/// A definition, or a tombstone (`None`), with when it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub stamp: Stamp,
    pub def: Option<Def>,
}

/// What [`SchemaLog::absorb`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Absorbed {
    /// The log took cells from the pushed one.
    pub changed: bool,
    /// The pushed log lacks cells this one has.
    pub pusher_lacks: bool,
}

/// The schema as cells; see the module's documentation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaLog {
    cells: BTreeMap<Key, Cell>,
}

impl SchemaLog {
    /// A log holding every element of `schema`, written at `stamp`.
    pub fn from_schema(schema: &Schema, stamp: Stamp) -> SchemaLog {
        SchemaLog::default().record(&Schema::default(), schema, stamp)
    }

    /// The cells a change from `old` to `new` writes at `stamp` (a delta
    /// to [`merge`](Self::merge); `self` is the log `old` came from).
    pub fn record(&self, old: &Schema, new: &Schema, stamp: Stamp) -> SchemaLog {
        let mut out = SchemaLog::default();
        for (name, ks) in &new.keyspaces {
            let Some(o) = old.keyspaces.get(name) else {
                out.put_keyspace(&ks.meta, stamp, stamp);
                for t in ks.tables.values() {
                    out.put_table(t, stamp);
                }
                continue;
            };
            if o.meta != ks.meta {
                let created = match self.cells.get(&Key::Keyspace(name.clone())) {
                    Some(Cell {
                        def: Some(Def::Keyspace { created, .. }),
                        ..
                    }) => *created,
                    _ => stamp,
                };
                out.put_keyspace(&ks.meta, created, stamp);
            }
            for (tn, t) in &ks.tables {
                match o.tables.get(tn) {
                    Some(ot) if ot.id == t.id => out.put_table_change(ot, t, stamp),
                    _ => out.put_table(t, stamp),
                }
            }
            for tn in o.tables.keys().filter(|tn| !ks.tables.contains_key(*tn)) {
                out.tombstone(Key::Table(name.clone(), tn.clone()), stamp);
            }
        }
        for (name, o) in &old.keyspaces {
            if !new.keyspaces.contains_key(name) {
                out.tombstone(Key::Keyspace(name.clone()), stamp);
                for tn in o.tables.keys() {
                    out.tombstone(Key::Table(name.clone(), tn.clone()), stamp);
                }
            }
        }
        out
    }

    fn put_keyspace(&mut self, meta: &KeyspaceMeta, created: Stamp, stamp: Stamp) {
        let def = Def::Keyspace {
            meta: meta.clone(),
            created,
        };
        self.put(Key::Keyspace(meta.name.clone()), stamp, Some(def));
    }

    fn put_table(&mut self, t: &TableMeta, stamp: Stamp) {
        let def = Def::Table {
            id: t.id,
            options: t.options.clone(),
        };
        self.put(
            Key::Table(t.keyspace.clone(), t.name.clone()),
            stamp,
            Some(def),
        );
        for c in &t.columns {
            self.put(
                Key::Column(t.id, c.name.clone()),
                stamp,
                Some(Def::Column(c.clone())),
            );
        }
    }

    fn put_table_change(&mut self, old: &TableMeta, new: &TableMeta, stamp: Stamp) {
        if old.options != new.options {
            let def = Def::Table {
                id: new.id,
                options: new.options.clone(),
            };
            self.put(
                Key::Table(new.keyspace.clone(), new.name.clone()),
                stamp,
                Some(def),
            );
        }
        for c in &new.columns {
            if old.column(&c.name) != Some(c) {
                self.put(
                    Key::Column(new.id, c.name.clone()),
                    stamp,
                    Some(Def::Column(c.clone())),
                );
            }
        }
        for c in &old.columns {
            if new.column(&c.name).is_none() {
                self.tombstone(Key::Column(new.id, c.name.clone()), stamp);
            }
        }
    }

    fn tombstone(&mut self, key: Key, stamp: Stamp) {
        self.put(key, stamp, None);
    }

    fn put(&mut self, key: Key, stamp: Stamp, def: Option<Def>) {
        self.cells.insert(key, Cell { stamp, def });
    }

    /// Merges `other` into `self`, per key the newest cell winning; returns
    /// whether anything changed.
    pub fn merge(&mut self, other: &SchemaLog) -> bool {
        let mut changed = false;
        for (k, c) in &other.cells {
            let newer = match self.cells.get(k) {
                None => true,
                Some(mine) => {
                    c.stamp > mine.stamp
                        // The same stamp twice is the same change; should two
                        // ever differ, every node keeps the same one.
                        || (c.stamp == mine.stamp
                            && c != mine
                            && format!("{:?}", c.def) > format!("{:?}", mine.def))
                }
            };
            if newer {
                self.cells.insert(k.clone(), c.clone());
                changed = true;
            }
        }
        changed
    }

    /// What a node does with a log another node pushed: merges it, and
    /// says whether the pusher lacks cells this log has (then the answer
    /// carries this log back, so one exchange leaves both equal).
    pub fn absorb(&mut self, pushed: &SchemaLog) -> Absorbed {
        Absorbed {
            changed: self.merge(pushed),
            pusher_lacks: !pushed.covers(self),
        }
    }

    /// Whether every cell of `other` is in `self` (merging it changes nothing).
    pub fn covers(&self, other: &SchemaLog) -> bool {
        !self.clone().merge(other)
    }

    /// The newest stamp in the log: a change made after seeing this log
    /// must be stamped later, whatever the local clock says.
    pub fn newest(&self) -> Stamp {
        self.cells
            .values()
            .map(|c| c.stamp)
            .max()
            .unwrap_or((0, [0; 16]))
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The schema the log defines.
    pub fn schema(&self) -> Schema {
        let mut columns: HashMap<[u8; 16], Vec<ColumnMeta>> = HashMap::new();
        let mut created: HashMap<&str, Stamp> = HashMap::new();
        let mut schema = Schema::default();
        for (k, c) in &self.cells {
            match (k, &c.def) {
                (Key::Column(id, _), Some(Def::Column(col))) => {
                    columns.entry(*id).or_default().push(col.clone());
                }
                (Key::Keyspace(name), Some(Def::Keyspace { meta, created: at })) => {
                    created.insert(name, *at);
                    schema.keyspaces.insert(
                        name.clone(),
                        Keyspace {
                            meta: meta.clone(),
                            tables: BTreeMap::new(),
                        },
                    );
                }
                _ => {}
            }
        }
        for (k, c) in &self.cells {
            let (Key::Table(ks, name), Some(Def::Table { id, options })) = (k, &c.def) else {
                continue;
            };
            let (Some(keyspace), Some(at)) =
                (schema.keyspaces.get_mut(ks), created.get(ks.as_str()))
            else {
                continue;
            };
            if c.stamp < *at {
                continue; // a table of a dropped incarnation of the keyspace
            }
            let mut cols = columns.remove(id).unwrap_or_default();
            if !cols
                .iter()
                .any(|c| matches!(c.kind, ColumnKind::PartitionKey(_)))
            {
                continue; // never whole (its creation was not seen)
            }
            cols.sort_by(|a, b| column_rank(a).cmp(&column_rank(b)));
            keyspace.tables.insert(
                name.clone(),
                Arc::new(TableMeta {
                    keyspace: ks.clone(),
                    name: name.clone(),
                    id: *id,
                    columns: cols,
                    options: options.clone(),
                }),
            );
        }
        schema
    }

    /// The log as JSON (stored, and sent between nodes).
    pub fn to_json(&self) -> Value {
        let cells: Vec<Value> = self
            .cells
            .iter()
            .map(|(k, c)| {
                let key = match k {
                    Key::Keyspace(ks) => json!(["keyspace", ks]),
                    Key::Table(ks, t) => json!(["table", ks, t]),
                    Key::Column(id, col) => json!(["column", hex16(id), col]),
                };
                let def = match (&c.def, k) {
                    (None, _) => Value::Null,
                    (Some(Def::Keyspace { meta, created }), _) => {
                        let mut v = keyspace_json(meta);
                        v["created"] = stamp_json(*created);
                        v
                    }
                    (Some(Def::Table { id, options }), Key::Table(_, name)) => {
                        table_head_json(name, id, options)
                    }
                    (Some(Def::Table { id, options }), _) => table_head_json("", id, options),
                    (Some(Def::Column(col)), _) => column_json(col),
                };
                json!({"key": key, "stamp": stamp_json(c.stamp), "def": def})
            })
            .collect();
        json!({"version": 2, "cells": cells})
    }

    /// Reads what [`to_json`](Self::to_json) wrote.
    pub fn from_json(v: &Value) -> Result<SchemaLog, SchemaError> {
        let mut log = SchemaLog::default();
        for c in v["cells"].as_array().ok_or_else(|| corrupt("cells"))? {
            let key = c["key"].as_array().ok_or_else(|| corrupt("cell key"))?;
            let text = |i: usize| -> Result<String, SchemaError> {
                key.get(i)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| corrupt("cell key"))
            };
            let (key, def) = match text(0)?.as_str() {
                "keyspace" => {
                    let def = match &c["def"] {
                        Value::Null => None,
                        d => Some(Def::Keyspace {
                            meta: keyspace_from(d)?,
                            created: stamp_from(&d["created"])?,
                        }),
                    };
                    (Key::Keyspace(text(1)?), def)
                }
                "table" => {
                    let def = match &c["def"] {
                        Value::Null => None,
                        d => {
                            let (_, id, options) = table_head_from(d)?;
                            Some(Def::Table { id, options })
                        }
                    };
                    (Key::Table(text(1)?, text(2)?), def)
                }
                "column" => {
                    let id = from_hex16(&text(1)?).ok_or_else(|| corrupt("table id"))?;
                    let def = match &c["def"] {
                        Value::Null => None,
                        d => Some(Def::Column(column_from(d)?)),
                    };
                    (Key::Column(id, text(2)?), def)
                }
                _ => return Err(corrupt("cell kind")),
            };
            log.cells.insert(
                key,
                Cell {
                    stamp: stamp_from(&c["stamp"])?,
                    def,
                },
            );
        }
        Ok(log)
    }
}

/// Partition key columns by position, clustering columns by position, then
/// the others by name: the order [`TableMeta::columns`] keeps.
fn column_rank(c: &ColumnMeta) -> (u8, u8, &str) {
    match c.kind {
        ColumnKind::PartitionKey(p) => (0, p, ""),
        ColumnKind::Clustering(p, _) => (1, p, ""),
        ColumnKind::Regular | ColumnKind::Static => (2, 0, &c.name),
    }
}

fn stamp_json(s: Stamp) -> Value {
    json!([s.0, hex16(&s.1)])
}

fn stamp_from(v: &Value) -> Result<Stamp, SchemaError> {
    let micros = v[0].as_i64().ok_or_else(|| corrupt("stamp"))?;
    let host = v[1]
        .as_str()
        .and_then(from_hex16)
        .ok_or_else(|| corrupt("stamp host"))?;
    Ok((micros, host))
}

#[cfg(test)]
mod tests;
