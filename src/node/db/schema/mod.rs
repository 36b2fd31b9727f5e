//! # Schema: keyspaces, tables and columns
//!
//! The schema says which keyspaces exist (with their replication strategy),
//! which tables each holds, and each table's columns: partition key,
//! clustering columns (with their order), static and regular columns, and
//! table options. DDL statements change it through the functions here, which
//! check what Cassandra checks and answer with Cassandra's messages, so a
//! driver or cqlsh user sees the errors they know.
//!
//! The schema is a plain value: [`Schema`] holds keyspaces, each change is a
//! method that validates and returns what changed (for SCHEMA_CHANGE events),
//! and [`Schema::version`] is a digest of the whole, as Cassandra's schema
//! version is, so nodes (and drivers waiting for schema agreement) can tell
//! whether they agree.
//!
//! Beside this file: [`persist`] writes the schema as JSON and reads it
//! back, [`system_auth`] defines the tables of roles and permissions, and
//! `bootstrap.rs` makes the schema a new node starts with (the replicated
//! system keyspaces, with `system_auth`'s tables).

mod bootstrap;
pub mod log;
pub mod persist;
pub mod system_auth;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use crate::node::value::types::CqlType;

/// Keyspace and table names: `\w+`, at most 48 characters (Cassandra's rule).
pub const NAME_LENGTH: usize = 48;

/// Keyspaces that belong to Cassandra itself; they cannot be created,
/// dropped or given tables by users.
pub const SYSTEM_KEYSPACE_NAMES: [&str; 7] = [
    "system",
    "system_schema",
    "system_auth",
    "system_distributed",
    "system_traces",
    "system_views",
    "system_virtual_schema",
];

/// Keyspaces whose replication users may alter (Cassandra allows these).
pub const ALTERABLE_SYSTEM_KEYSPACES: [&str; 3] =
    ["system_auth", "system_distributed", "system_traces"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// CQL error Invalid (0x2200).
    #[error("{0}")]
    Invalid(String),
    /// CQL error Config (0x2300).
    #[error("{0}")]
    Config(String),
    /// CQL error AlreadyExists (0x2400); `table` is empty for a keyspace.
    #[error("{message}")]
    AlreadyExists {
        keyspace: String,
        table: String,
        message: String,
    },
    /// CQL error Unauthorized (0x2100).
    #[error("{0}")]
    Unauthorized(String),
}

fn invalid(msg: impl Into<String>) -> SchemaError {
    SchemaError::Invalid(msg.into())
}

/// A keyspace's replication strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    Simple {
        replication_factor: u32,
    },
    NetworkTopology {
        datacenters: BTreeMap<String, u32>,
    },
    /// System keyspaces kept on every node, never replicated.
    Local,
}

const SIMPLE_CLASS: &str = "org.apache.cassandra.locator.SimpleStrategy";
const NTS_CLASS: &str = "org.apache.cassandra.locator.NetworkTopologyStrategy";
const LOCAL_CLASS: &str = "org.apache.cassandra.locator.LocalStrategy";

fn parse_rf(value: &str) -> Result<u32, SchemaError> {
    // Cassandra accepts "3" and transient forms "3/1"; ccrsim has no transient replication.
    if value.contains('/') {
        return Err(SchemaError::Config(format!(
            "Transient replication is not supported by ccrsim; found {value}"
        )));
    }
    match value.trim().parse::<i64>() {
        Ok(n) if n < 0 => Err(SchemaError::Config(format!(
            "Replication factor must be non-negative; found {value}"
        ))),
        Ok(n) => u32::try_from(n).map_err(|_| {
            SchemaError::Config(format!("Replication factor must be numeric; found {value}"))
        }),
        Err(_) => Err(SchemaError::Config(format!(
            "Replication factor must be numeric; found {value}"
        ))),
    }
}

impl Strategy {
    /// Reads `WITH replication = {...}` as Cassandra 4.1 does. `known_dcs`
    /// are the datacenters of the cluster: NetworkTopologyStrategy refuses
    /// names it does not know. `replication_factor` in an NTS map means
    /// "this many in every known datacenter", as in Cassandra 4.
    pub fn from_options(
        keyspace: &str,
        options: &BTreeMap<String, String>,
        known_dcs: &BTreeSet<String>,
    ) -> Result<Strategy, SchemaError> {
        let class = options
            .get("class")
            .ok_or_else(|| SchemaError::Config("Missing replication strategy class".into()))?;
        let short = class.rsplit('.').next().unwrap_or(class);
        match short {
            "SimpleStrategy" => {
                let rf = options.get("replication_factor").ok_or_else(|| {
                    SchemaError::Config(
                        "SimpleStrategy requires a replication_factor strategy option.".into(),
                    )
                })?;
                let replication_factor = parse_rf(rf)?;
                if let Some(other) = options
                    .keys()
                    .find(|k| *k != "class" && *k != "replication_factor")
                {
                    return Err(SchemaError::Config(format!(
                        "Unrecognized strategy option {{{other}}} passed to SimpleStrategy for keyspace {keyspace}"
                    )));
                }
                Ok(Strategy::Simple { replication_factor })
            }
            "NetworkTopologyStrategy" => {
                let mut datacenters = BTreeMap::new();
                if let Some(rf) = options.get("replication_factor") {
                    let rf = parse_rf(rf)?;
                    for dc in known_dcs {
                        datacenters.insert(dc.clone(), rf);
                    }
                }
                for (k, v) in options {
                    if k == "class" || k == "replication_factor" {
                        continue;
                    }
                    if !known_dcs.contains(k) {
                        return Err(SchemaError::Config(format!(
                            "Unrecognized strategy option {{{k}}} passed to NetworkTopologyStrategy for keyspace {keyspace}"
                        )));
                    }
                    datacenters.insert(k.clone(), parse_rf(v)?);
                }
                datacenters.retain(|_, rf| *rf > 0);
                Ok(Strategy::NetworkTopology { datacenters })
            }
            "LocalStrategy" | "EverywhereStrategy" | "MetaStrategy" => {
                Err(SchemaError::Config(format!(
                    "Unable to use given strategy class {class}. LocalStrategy is reserved for internal use."
                )))
            }
            _ => Err(SchemaError::Config(format!(
                "Unable to find replication strategy class '{class}'"
            ))),
        }
    }

    /// The replication map as `system_schema.keyspaces` shows it.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        match self {
            Strategy::Simple { replication_factor } => {
                m.insert("class".into(), SIMPLE_CLASS.into());
                m.insert("replication_factor".into(), replication_factor.to_string());
            }
            Strategy::NetworkTopology { datacenters } => {
                m.insert("class".into(), NTS_CLASS.into());
                for (dc, rf) in datacenters {
                    m.insert(dc.clone(), rf.to_string());
                }
            }
            Strategy::Local => {
                m.insert("class".into(), LOCAL_CLASS.into());
            }
        }
        m
    }

    /// As CQL, for DESCRIBE: `{'class': 'SimpleStrategy', 'replication_factor': '1'}`.
    pub fn to_cql(&self) -> String {
        let mut s = String::from("{");
        for (i, (k, v)) in self.to_map().iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            let v = if k == "class" {
                v.rsplit('.').next().unwrap_or(v).to_string()
            } else {
                v.clone()
            };
            let _ = write!(
                s,
                "'{}': '{}'",
                k.replace('\'', "''"),
                v.replace('\'', "''")
            );
        }
        s.push('}');
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceMeta {
    pub name: String,
    pub strategy: Strategy,
    pub durable_writes: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// What part of the primary key a column is, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnKind {
    PartitionKey(u8),
    Clustering(u8, Order),
    Regular,
    Static,
}

impl ColumnKind {
    /// `kind` in `system_schema.columns`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnKind::PartitionKey(_) => "partition_key",
            ColumnKind::Clustering(..) => "clustering",
            ColumnKind::Regular => "regular",
            ColumnKind::Static => "static",
        }
    }

    /// `position` in `system_schema.columns` (-1 for regular and static).
    pub fn position(self) -> i32 {
        match self {
            ColumnKind::PartitionKey(p) | ColumnKind::Clustering(p, _) => i32::from(p),
            _ => -1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMeta {
    pub name: String,
    pub ty: CqlType,
    pub kind: ColumnKind,
}

/// A table option value as given in `WITH`.
#[derive(Debug, Clone, PartialEq)]
pub enum OptionValue {
    Text(String),
    Number(f64),
    Bool(bool),
    Map(BTreeMap<String, String>),
}

/// The table options ccrsim keeps and shows (others are accepted and stored as given).
#[derive(Debug, Clone, PartialEq)]
pub struct TableOptions {
    pub comment: String,
    pub default_time_to_live: i32,
    pub gc_grace_seconds: i32,
    /// Every other option, as given (compaction, caching, ...).
    pub other: BTreeMap<String, OptionValue>,
}

impl Default for TableOptions {
    fn default() -> Self {
        TableOptions {
            comment: String::new(),
            default_time_to_live: 0,
            gc_grace_seconds: 864_000,
            other: BTreeMap::new(),
        }
    }
}

/// Options Cassandra 4.1 accepts in `CREATE TABLE ... WITH`.
const KNOWN_OPTIONS: &[&str] = &[
    "additional_write_policy",
    "bloom_filter_fp_chance",
    "caching",
    "cdc",
    "comment",
    "compaction",
    "compression",
    "crc_check_chance",
    "default_time_to_live",
    "extensions",
    "gc_grace_seconds",
    "max_index_interval",
    "memtable",
    "memtable_flush_period_in_ms",
    "min_index_interval",
    "read_repair",
    "speculative_retry",
];

impl TableOptions {
    /// Applies `WITH name = value` options, checking names and the values ccrsim uses.
    pub fn apply(&mut self, options: &[(String, OptionValue)]) -> Result<(), SchemaError> {
        for (name, value) in options {
            let name = name.to_ascii_lowercase();
            if !KNOWN_OPTIONS.contains(&name.as_str()) {
                return Err(SchemaError::Config(format!("Unknown property '{name}'")));
            }
            match name.as_str() {
                "comment" => match value {
                    OptionValue::Text(s) => self.comment = s.clone(),
                    _ => {
                        return Err(SchemaError::Config(
                            "Invalid value for property 'comment'".into(),
                        ));
                    }
                },
                "default_time_to_live" | "gc_grace_seconds" => {
                    let n = match value {
                        OptionValue::Number(n) if n.fract() == 0.0 && *n <= f64::from(i32::MAX) => {
                            *n as i64
                        }
                        OptionValue::Text(s) => s.parse::<i64>().map_err(|_| {
                            SchemaError::Config(format!("Invalid value for property '{name}': {s}"))
                        })?,
                        _ => {
                            return Err(SchemaError::Config(format!(
                                "Invalid value for property '{name}'"
                            )));
                        }
                    };
                    if n < 0 {
                        return Err(SchemaError::Config(format!(
                            "{name} must be greater than or equal to 0 (got {n})"
                        )));
                    }
                    if name == "default_time_to_live" {
                        if n > 630_720_000 {
                            return Err(SchemaError::Config(format!(
                                "default_time_to_live must be less than or equal to 630720000 (got {n})"
                            )));
                        }
                        self.default_time_to_live = n as i32;
                    } else {
                        self.gc_grace_seconds = i32::try_from(n).unwrap_or(i32::MAX);
                    }
                }
                _ => {
                    self.other.insert(name, value.clone());
                }
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableMeta {
    pub keyspace: String,
    pub name: String,
    pub id: [u8; 16],
    /// Partition key columns in order, clustering columns in order, then the
    /// others by name (the order Cassandra shows).
    pub columns: Vec<ColumnMeta>,
    pub options: TableOptions,
}

/// What `CREATE TABLE` gives, before checking.
#[derive(Debug, Clone, Default)]
pub struct TableSpec {
    /// Column name, type, and whether it is `STATIC`.
    pub columns: Vec<(String, CqlType, bool)>,
    pub partition_key: Vec<String>,
    pub clustering: Vec<String>,
    /// `CLUSTERING ORDER BY`, in the order given.
    pub clustering_order: Vec<(String, Order)>,
    pub options: Vec<(String, OptionValue)>,
}

/// Whether `ty` is a collection whose elements are separate cells.
pub fn is_multicell(ty: &CqlType) -> bool {
    matches!(ty, CqlType::List(_) | CqlType::Set(_) | CqlType::Map(..))
}

/// Types this build of the node cannot store yet.
fn unsupported(ty: &CqlType) -> Option<&'static str> {
    match ty {
        CqlType::Counter => Some("counter"),
        CqlType::Duration => Some("duration"),
        CqlType::Tuple(_) => Some("tuple"),
        CqlType::Udt { .. } => Some("user-defined type"),
        CqlType::Custom(_) => Some("custom"),
        CqlType::List(t) | CqlType::Set(t) | CqlType::Frozen(t) => unsupported(t),
        CqlType::Map(k, v) => unsupported(k).or_else(|| unsupported(v)),
        _ => None,
    }
}

/// Checks a keyspace or table name (`what` is "Keyspace" or "Table").
pub fn check_name(what: &str, name: &str) -> Result<(), SchemaError> {
    if name.is_empty()
        || name.len() > NAME_LENGTH
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(invalid(format!(
            "{what} name must not be empty, more than {NAME_LENGTH} characters long, or contain non-alphanumeric-underscore characters (got \"{name}\")"
        )));
    }
    Ok(())
}

impl TableMeta {
    /// Builds and checks a table from `CREATE TABLE`.
    pub fn create(
        keyspace: &str,
        name: &str,
        id: [u8; 16],
        spec: &TableSpec,
    ) -> Result<TableMeta, SchemaError> {
        check_name("Table", name)?;
        let mut seen = BTreeSet::new();
        for (col, ty, _) in &spec.columns {
            if !seen.insert(col.as_str()) {
                return Err(invalid(format!("Multiple definition of identifier {col}")));
            }
            if let Some(kind) = unsupported(ty) {
                return Err(invalid(format!(
                    "Column {col}: {kind} columns are not supported by ccrsim yet"
                )));
            }
        }
        if spec.partition_key.is_empty() {
            return Err(invalid(format!(
                "No PRIMARY KEY specifed for table '{name}' (exactly one required)"
            )));
        }
        let find = |c: &str| spec.columns.iter().find(|(n, _, _)| n == c);
        let mut key_names = BTreeSet::new();
        for c in spec.partition_key.iter().chain(&spec.clustering) {
            let (_, ty, is_static) = find(c).ok_or_else(|| {
                invalid(format!("Unknown definition {c} referenced in PRIMARY KEY"))
            })?;
            if !key_names.insert(c.as_str()) {
                return Err(invalid(format!("Duplicate column {c} in PRIMARY KEY")));
            }
            if *is_static {
                return Err(invalid(format!(
                    "Static column {c} cannot be part of the PRIMARY KEY"
                )));
            }
            if is_multicell(ty) {
                return Err(invalid(format!(
                    "Invalid non-frozen collection type {} for PRIMARY KEY component {c}",
                    ty
                )));
            }
        }
        if spec.clustering.is_empty() && spec.columns.iter().any(|(_, _, s)| *s) {
            return Err(invalid(
                "Static columns are only useful (and thus allowed) if the table has at least one clustering column",
            ));
        }
        // CLUSTERING ORDER BY: clustering columns only, in key order.
        let mut orders: BTreeMap<&str, Order> = BTreeMap::new();
        let mut last_pos: Option<usize> = None;
        for (c, o) in &spec.clustering_order {
            let Some(pos) = spec.clustering.iter().position(|k| k == c) else {
                return Err(invalid(format!(
                    "Only clustering key columns can be defined in CLUSTERING ORDER directive: {c} is not a clustering column"
                )));
            };
            if last_pos.is_some_and(|l| pos <= l) {
                return Err(invalid(format!(
                    "The order of columns in the CLUSTERING ORDER directive must match that of the clustering columns ({} must appear before {c})",
                    spec.clustering[pos.min(last_pos.unwrap_or(0))]
                )));
            }
            last_pos = Some(pos);
            orders.insert(c.as_str(), *o);
        }
        if !spec.clustering_order.is_empty()
            && let Some(missing) = spec
                .clustering
                .iter()
                .find(|c| !orders.contains_key(c.as_str()))
        {
            return Err(invalid(format!(
                "Missing CLUSTERING ORDER for column {missing}"
            )));
        }
        let mut options = TableOptions::default();
        options.apply(&spec.options)?;

        let mut columns = Vec::with_capacity(spec.columns.len());
        for (i, c) in spec.partition_key.iter().enumerate() {
            let (n, ty, _) = find(c).expect("checked above");
            columns.push(ColumnMeta {
                name: n.clone(),
                ty: ty.clone(),
                kind: ColumnKind::PartitionKey(i as u8),
            });
        }
        for (i, c) in spec.clustering.iter().enumerate() {
            let (n, ty, _) = find(c).expect("checked above");
            let order = orders.get(c.as_str()).copied().unwrap_or(Order::Asc);
            columns.push(ColumnMeta {
                name: n.clone(),
                ty: ty.clone(),
                kind: ColumnKind::Clustering(i as u8, order),
            });
        }
        let mut rest: Vec<&(String, CqlType, bool)> = spec
            .columns
            .iter()
            .filter(|(n, _, _)| !key_names.contains(n.as_str()))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (n, ty, is_static) in rest {
            let kind = if *is_static {
                ColumnKind::Static
            } else {
                ColumnKind::Regular
            };
            columns.push(ColumnMeta {
                name: n.clone(),
                ty: ty.clone(),
                kind,
            });
        }
        Ok(TableMeta {
            keyspace: keyspace.to_string(),
            name: name.to_string(),
            id,
            columns,
            options,
        })
    }

    pub fn column(&self, name: &str) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.name == name)
    }

    pub fn partition_key(&self) -> impl Iterator<Item = &ColumnMeta> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::PartitionKey(_)))
    }

    pub fn clustering(&self) -> impl Iterator<Item = &ColumnMeta> {
        self.columns
            .iter()
            .filter(|c| matches!(c.kind, ColumnKind::Clustering(..)))
    }

    pub fn has_static(&self) -> bool {
        self.columns.iter().any(|c| c.kind == ColumnKind::Static)
    }

    /// `ALTER TABLE ... ADD`.
    pub fn add_columns(&mut self, added: &[(String, CqlType, bool)]) -> Result<(), SchemaError> {
        for (name, ty, is_static) in added {
            if self.column(name).is_some() {
                return Err(invalid(format!("Column with name '{name}' already exists")));
            }
            if let Some(kind) = unsupported(ty) {
                return Err(invalid(format!(
                    "Column {name}: {kind} columns are not supported by ccrsim yet"
                )));
            }
            if *is_static && self.clustering().next().is_none() {
                return Err(invalid(format!(
                    "Static columns are not allowed in COMPACT STORAGE tables or tables without clustering columns (column {name})"
                )));
            }
            let kind = if *is_static {
                ColumnKind::Static
            } else {
                ColumnKind::Regular
            };
            self.columns.push(ColumnMeta {
                name: name.clone(),
                ty: ty.clone(),
                kind,
            });
        }
        let keys = self
            .columns
            .iter()
            .take_while(|c| {
                matches!(
                    c.kind,
                    ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                )
            })
            .count();
        self.columns[keys..].sort_by(|a, b| a.name.cmp(&b.name));
        Ok(())
    }

    /// `ALTER TABLE ... DROP`.
    pub fn drop_columns(&mut self, names: &[String]) -> Result<(), SchemaError> {
        for name in names {
            let Some(c) = self.column(name) else {
                return Err(invalid(format!(
                    "Column {name} was not found in table {}",
                    self.name
                )));
            };
            if matches!(
                c.kind,
                ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
            ) {
                return Err(invalid(format!("Cannot drop PRIMARY KEY column {name}")));
            }
        }
        self.columns.retain(|c| !names.contains(&c.name));
        Ok(())
    }
}

/// A keyspace with its tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Keyspace {
    pub meta: KeyspaceMeta,
    pub tables: BTreeMap<String, Arc<TableMeta>>,
}

/// What a DDL statement changed, for RESULT SchemaChange and SCHEMA_CHANGE events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Created {
        keyspace: String,
        table: Option<String>,
    },
    Updated {
        keyspace: String,
        table: Option<String>,
    },
    Dropped {
        keyspace: String,
        table: Option<String>,
    },
    /// `IF [NOT] EXISTS` made the statement a no-op.
    None,
}

/// All user-visible keyspaces of a node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    pub keyspaces: BTreeMap<String, Keyspace>,
}

fn is_system(name: &str) -> bool {
    SYSTEM_KEYSPACE_NAMES.contains(&name)
}

impl Schema {
    pub fn keyspace(&self, name: &str) -> Option<&Keyspace> {
        self.keyspaces.get(name)
    }

    pub fn table(&self, keyspace: &str, table: &str) -> Option<&Arc<TableMeta>> {
        self.keyspaces.get(keyspace)?.tables.get(table)
    }

    fn keyspace_or_err(&self, name: &str) -> Result<&Keyspace, SchemaError> {
        self.keyspaces
            .get(name)
            .ok_or_else(|| invalid(format!("Keyspace '{name}' doesn't exist")))
    }

    pub fn create_keyspace(
        &mut self,
        meta: KeyspaceMeta,
        if_not_exists: bool,
    ) -> Result<Change, SchemaError> {
        check_name("Keyspace", &meta.name)?;
        if self.keyspaces.contains_key(&meta.name) {
            if if_not_exists {
                return Ok(Change::None);
            }
            return Err(SchemaError::AlreadyExists {
                keyspace: meta.name.clone(),
                table: String::new(),
                message: format!("Keyspace '{}' already exists", meta.name),
            });
        }
        if is_system(&meta.name) {
            return Err(SchemaError::Unauthorized(format!(
                "{} keyspace is not user-modifiable",
                meta.name
            )));
        }
        let name = meta.name.clone();
        self.keyspaces.insert(
            name.clone(),
            Keyspace {
                meta,
                tables: BTreeMap::new(),
            },
        );
        Ok(Change::Created {
            keyspace: name,
            table: None,
        })
    }

    pub fn alter_keyspace(
        &mut self,
        meta: KeyspaceMeta,
        if_exists: bool,
    ) -> Result<Change, SchemaError> {
        if is_system(&meta.name) && !ALTERABLE_SYSTEM_KEYSPACES.contains(&meta.name.as_str()) {
            return Err(SchemaError::Unauthorized(format!(
                "{} keyspace is not user-modifiable",
                meta.name
            )));
        }
        let Some(ks) = self.keyspaces.get_mut(&meta.name) else {
            if if_exists {
                return Ok(Change::None);
            }
            return Err(SchemaError::Config(format!(
                "Keyspace '{}' doesn't exist",
                meta.name
            )));
        };
        let name = meta.name.clone();
        ks.meta = meta;
        Ok(Change::Updated {
            keyspace: name,
            table: None,
        })
    }

    pub fn drop_keyspace(
        &mut self,
        name: &str,
        if_exists: bool,
    ) -> Result<(Change, Vec<Arc<TableMeta>>), SchemaError> {
        if is_system(name) {
            return Err(SchemaError::Unauthorized(format!(
                "{name} keyspace is not user-modifiable"
            )));
        }
        match self.keyspaces.remove(name) {
            Some(ks) => Ok((
                Change::Dropped {
                    keyspace: name.to_string(),
                    table: None,
                },
                ks.tables.into_values().collect(),
            )),
            None if if_exists => Ok((Change::None, Vec::new())),
            None => Err(SchemaError::Config(format!(
                "Keyspace '{name}' doesn't exist"
            ))),
        }
    }

    pub fn create_table(
        &mut self,
        table: TableMeta,
        if_not_exists: bool,
    ) -> Result<Change, SchemaError> {
        if is_system(&table.keyspace) && !self.keyspaces.contains_key(&table.keyspace) {
            return Err(SchemaError::Unauthorized(format!(
                "{} keyspace is not user-modifiable",
                table.keyspace
            )));
        }
        self.keyspace_or_err(&table.keyspace)?;
        let ks = self
            .keyspaces
            .get_mut(&table.keyspace)
            .expect("checked above");
        if ks.tables.contains_key(&table.name) {
            if if_not_exists {
                return Ok(Change::None);
            }
            return Err(SchemaError::AlreadyExists {
                keyspace: table.keyspace.clone(),
                table: table.name.clone(),
                message: format!("Table '{}.{}' already exists", table.keyspace, table.name),
            });
        }
        let change = Change::Created {
            keyspace: table.keyspace.clone(),
            table: Some(table.name.clone()),
        };
        ks.tables.insert(table.name.clone(), Arc::new(table));
        Ok(change)
    }

    /// Replaces a table's definition (ALTER TABLE after the caller changed a copy).
    pub fn replace_table(&mut self, table: TableMeta) -> Result<Change, SchemaError> {
        let ks = self
            .keyspaces
            .get_mut(&table.keyspace)
            .ok_or_else(|| invalid(format!("Keyspace '{}' doesn't exist", table.keyspace)))?;
        let change = Change::Updated {
            keyspace: table.keyspace.clone(),
            table: Some(table.name.clone()),
        };
        ks.tables.insert(table.name.clone(), Arc::new(table));
        Ok(change)
    }

    pub fn drop_table(
        &mut self,
        keyspace: &str,
        name: &str,
        if_exists: bool,
    ) -> Result<(Change, Option<Arc<TableMeta>>), SchemaError> {
        if is_system(keyspace) {
            return Err(SchemaError::Unauthorized(format!(
                "{keyspace} keyspace is not user-modifiable"
            )));
        }
        let removed = self
            .keyspaces
            .get_mut(keyspace)
            .and_then(|ks| ks.tables.remove(name));
        match removed {
            Some(t) => Ok((
                Change::Dropped {
                    keyspace: keyspace.into(),
                    table: Some(name.into()),
                },
                Some(t),
            )),
            None if if_exists => Ok((Change::None, None)),
            None => Err(invalid(format!("Table '{keyspace}.{name}' doesn't exist"))),
        }
    }

    /// A digest of the whole schema, as a version-3-style UUID: nodes with the
    /// same schema have the same version.
    pub fn version(&self) -> [u8; 16] {
        let mut text = String::new();
        for ks in self.keyspaces.values() {
            let _ = write!(
                text,
                "K{}|{:?}|{};",
                ks.meta.name,
                ks.meta.strategy.to_map(),
                ks.meta.durable_writes
            );
            for t in ks.tables.values() {
                let _ = write!(text, "T{}|{:?}|{:?};", t.name, t.id, t.options);
                for c in &t.columns {
                    let _ = write!(text, "C{}|{}|{:?};", c.name, c.ty, c.kind);
                }
            }
        }
        let a = fnv64(0xcbf2_9ce4_8422_2325, text.as_bytes());
        let b = fnv64(0x8422_2325_cbf2_9ce4, text.as_bytes());
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_be_bytes());
        out[8..].copy_from_slice(&b.to_be_bytes());
        out[6] = (out[6] & 0x0f) | 0x30; // version 3
        out[8] = (out[8] & 0x3f) | 0x80; // IETF variant
        out
    }
}

fn fnv64(seed: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(seed, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Names of the system keyspaces that hold replicated data, with the
/// replication Cassandra 4.1 creates them with (SimpleStrategy, which users
/// must change for a multi-datacenter cluster: the replication scripts do).
pub const REPLICATED_SYSTEM_KEYSPACES: [(&str, u32); 3] = [
    ("system_auth", 1),
    ("system_distributed", 3),
    ("system_traces", 2),
];

/// A stable id for a system table, derived from its keyspace and name.
pub fn system_table_id(keyspace: &str, table: &str) -> [u8; 16] {
    let text = format!("{keyspace}.{table}");
    let a = fnv64(0xcbf2_9ce4_8422_2325, text.as_bytes());
    let b = fnv64(0x8422_2325_cbf2_9ce4, text.as_bytes());
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out[6] = (out[6] & 0x0f) | 0x30;
    out[8] = (out[8] & 0x3f) | 0x80;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn dcs(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn replication_options_are_validated_like_cassandra() {
        let known = dcs(&["dc1", "dc2"]);
        let s = Strategy::from_options(
            "ks",
            &opts(&[("class", "SimpleStrategy"), ("replication_factor", "3")]),
            &known,
        )
        .unwrap();
        assert_eq!(
            s,
            Strategy::Simple {
                replication_factor: 3
            }
        );
        assert_eq!(
            s.to_map()["class"],
            "org.apache.cassandra.locator.SimpleStrategy"
        );
        let n = Strategy::from_options(
            "ks",
            &opts(&[
                (
                    "class",
                    "org.apache.cassandra.locator.NetworkTopologyStrategy",
                ),
                ("dc1", "3"),
                ("dc2", "2"),
            ]),
            &known,
        )
        .unwrap();
        assert_eq!(
            n.to_cql(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': '3', 'dc2': '2'}"
        );
        let all = Strategy::from_options(
            "ks",
            &opts(&[
                ("class", "NetworkTopologyStrategy"),
                ("replication_factor", "2"),
            ]),
            &known,
        )
        .unwrap();
        assert_eq!(all.to_map().len(), 3);
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("class", "Foo")],
                "Unable to find replication strategy class 'Foo'",
            ),
            (
                &[("replication_factor", "1")],
                "Missing replication strategy class",
            ),
            (
                &[("class", "SimpleStrategy")],
                "SimpleStrategy requires a replication_factor strategy option.",
            ),
            (
                &[("class", "SimpleStrategy"), ("replication_factor", "x")],
                "Replication factor must be numeric; found x",
            ),
            (
                &[("class", "SimpleStrategy"), ("replication_factor", "-1")],
                "Replication factor must be non-negative; found -1",
            ),
            (
                &[("class", "NetworkTopologyStrategy"), ("dc9", "3")],
                "Unrecognized strategy option {dc9} passed to NetworkTopologyStrategy for keyspace ks",
            ),
            (
                &[("class", "LocalStrategy")],
                "LocalStrategy is reserved for internal use",
            ),
        ];
        for (o, msg) in cases {
            let e = Strategy::from_options("ks", &opts(o), &known).unwrap_err();
            assert!(matches!(e, SchemaError::Config(_)), "{e:?}");
            assert!(e.to_string().contains(msg), "{e} should contain {msg}");
        }
    }

    fn spec() -> TableSpec {
        TableSpec {
            columns: vec![
                ("k".into(), CqlType::Text, false),
                ("c".into(), CqlType::Int, false),
                ("v".into(), CqlType::Text, false),
                ("s".into(), CqlType::Int, true),
                ("b".into(), CqlType::List(Box::new(CqlType::Int)), false),
            ],
            partition_key: vec!["k".into()],
            clustering: vec!["c".into()],
            clustering_order: vec![("c".into(), Order::Desc)],
            options: vec![
                ("comment".into(), OptionValue::Text("hi".into())),
                ("default_time_to_live".into(), OptionValue::Number(60.0)),
            ],
        }
    }

    #[test]
    fn create_table_orders_columns_and_checks_keys() {
        let t = TableMeta::create("ks", "t", [1; 16], &spec()).unwrap();
        let names: Vec<_> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["k", "c", "b", "s", "v"]);
        assert_eq!(
            t.column("c").unwrap().kind,
            ColumnKind::Clustering(0, Order::Desc)
        );
        assert_eq!(t.column("s").unwrap().kind, ColumnKind::Static);
        assert_eq!(
            (t.options.comment.as_str(), t.options.default_time_to_live),
            ("hi", 60)
        );

        let err = |f: &dyn Fn(&mut TableSpec)| {
            let mut s = spec();
            f(&mut s);
            TableMeta::create("ks", "t", [1; 16], &s)
                .unwrap_err()
                .to_string()
        };
        assert!(err(&|s| s.partition_key.clear()).contains("No PRIMARY KEY specifed"));
        assert!(
            err(&|s| s.partition_key = vec!["zz".into()])
                .contains("Unknown definition zz referenced in PRIMARY KEY")
        );
        assert!(
            err(&|s| s.columns.push(("v".into(), CqlType::Int, false)))
                .contains("Multiple definition of identifier v")
        );
        assert!(
            err(&|s| s.clustering = vec!["s".into()])
                .contains("Static column s cannot be part of the PRIMARY KEY")
        );
        assert!(
            err(&|s| s.partition_key = vec!["b".into()]).contains(
                "Invalid non-frozen collection type list<int> for PRIMARY KEY component b"
            )
        );
        assert!(
            err(&|s| {
                s.clustering.clear();
                s.clustering_order.clear();
            })
            .contains("Static columns are only useful")
        );
        assert!(
            err(&|s| s.clustering_order = vec![("v".into(), Order::Asc)])
                .contains("Only clustering key columns")
        );
        assert!(
            err(&|s| s.options.push(("bogus".into(), OptionValue::Bool(true))))
                .contains("Unknown property 'bogus'")
        );
        assert!(
            err(&|s| s
                .options
                .push(("gc_grace_seconds".into(), OptionValue::Number(-1.0))))
            .contains("must be greater than or equal to 0")
        );
        assert!(
            err(&|s| s.columns.push(("n".into(), CqlType::Counter, false)))
                .contains("counter columns are not supported by ccrsim yet")
        );
        assert!(
            TableMeta::create("ks", "bad-name", [1; 16], &spec())
                .unwrap_err()
                .to_string()
                .contains("Table name must not be empty")
        );
    }

    #[test]
    fn ddl_on_the_schema_and_versions() {
        let mut s = Schema::default();
        let v0 = s.version();
        let ks = KeyspaceMeta {
            name: "ks".into(),
            strategy: Strategy::Simple {
                replication_factor: 1,
            },
            durable_writes: true,
        };
        assert_eq!(
            s.create_keyspace(ks.clone(), false).unwrap(),
            Change::Created {
                keyspace: "ks".into(),
                table: None
            }
        );
        assert_eq!(s.create_keyspace(ks.clone(), true).unwrap(), Change::None);
        assert!(matches!(
            s.create_keyspace(ks.clone(), false),
            Err(SchemaError::AlreadyExists { .. })
        ));
        let v1 = s.version();
        assert_ne!(v0, v1);
        assert_eq!(v1[6] >> 4, 3);
        let t = TableMeta::create("ks", "t", [1; 16], &spec()).unwrap();
        s.create_table(t.clone(), false).unwrap();
        assert!(matches!(
            s.create_table(t, false),
            Err(SchemaError::AlreadyExists { .. })
        ));
        let mut altered = (**s.table("ks", "t").unwrap()).clone();
        altered
            .add_columns(&[("a".into(), CqlType::Int, false)])
            .unwrap();
        assert!(
            altered
                .add_columns(&[("a".into(), CqlType::Int, false)])
                .is_err()
        );
        assert!(
            altered
                .drop_columns(&["k".into()])
                .unwrap_err()
                .to_string()
                .contains("Cannot drop PRIMARY KEY column k")
        );
        s.replace_table(altered).unwrap();
        assert_eq!(s.table("ks", "t").unwrap().columns[2].name, "a");
        assert!(s.drop_table("ks", "nope", false).is_err());
        assert_eq!(s.drop_table("ks", "nope", true).unwrap().0, Change::None);
        let (change, tables) = s.drop_keyspace("ks", false).unwrap();
        assert_eq!(
            (change, tables.len()),
            (
                Change::Dropped {
                    keyspace: "ks".into(),
                    table: None
                },
                1
            )
        );
        assert_eq!(s.version(), v0);
        assert!(matches!(
            s.drop_keyspace("system", true),
            Err(SchemaError::Unauthorized(_))
        ));
        let sys = KeyspaceMeta {
            name: "system_auth".into(),
            strategy: Strategy::Simple {
                replication_factor: 3,
            },
            durable_writes: true,
        };
        assert!(matches!(
            s.create_keyspace(sys, false),
            Err(SchemaError::Unauthorized(_))
        ));
    }
}
