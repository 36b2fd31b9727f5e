//! Running statements: the node's query engine.
//!
//! [`Engine`] holds what statements act on: the storage, the schema (a
//! copy-on-write value: readers take an `Arc` snapshot, DDL swaps in a new
//! one after persisting it), the node's identity for the system tables, the
//! prepared-statement cache and the login checker. [`Engine::execute`] is
//! synchronous and may block on storage: the server calls it from a
//! blocking-pool thread, never on the async runtime.
//!
//! Bind markers get their types from where they stand ([`Engine::bind_specs`]):
//! the column they are compared with or assigned to, `[limit]`, `[ttl]`,
//! `[timestamp]`, or `partition key token`, as Cassandra names them, so a
//! driver can serialize values and compute the routing token from
//! `pk_indexes`.

use std::collections::{BTreeSet, HashMap};
use std::hash::Hasher;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::node::auth::{Authenticator, RoleLogin};
use crate::node::cql::access::AuthCache;
use crate::node::cql::ast::*;
use crate::node::cql::batchlimits::{self, BatchLimits};
use crate::node::db::consistency::Consistency;
use crate::node::db::read::{self, Partitions};
use crate::node::db::schema::{
    Change, KeyspaceMeta, OptionValue, Schema, Strategy, TableMeta, TableSpec, persist,
};
use crate::node::db::storage::Mutation;
use crate::node::db::storage::Storage;
use crate::node::db::storage::partition::PartitionData;
use crate::node::db::system::NodeInfo;
use crate::node::db::system::tables::{self as systables, LOCAL_KEYSPACES};
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::{
    ColumnSpec, ResultBody, SchemaChange, SchemaChangeTarget,
};
use crate::node::transport::protocol::primitives::Value;
use crate::node::value::types::CqlType;
use crate::node::value::{CqlLiteral, CqlValue};

const SCHEMA_KEY: &[u8] = b"schema";
const SCHEMA_STAMP_KEY: &[u8] = b"schema_stamp";

pub type Result<T> = std::result::Result<T, QueryError>;

/// A mutation to write: durable (the keyspace's `durable_writes`), and its keyspace.
pub type Write = (Mutation, bool, String);

/// What a lightweight transaction decides from its partition's current
/// content (merged from a quorum of replicas) and the timestamp its update
/// must carry: the write to make, if any, and the answer to give.
pub type Decide<'a> =
    dyn FnMut(Option<PartitionData>, i64) -> Result<(Option<Write>, ResultBody)> + 'a;

/// Writes mutations on their replicas (the cluster's coordinator). Called
/// on a blocking thread.
pub trait Replicator: Send + Sync {
    /// Whether this node knows no other node (then everything is local).
    fn alone(&self) -> bool;
    fn write(&self, writes: &[Write], cl: Consistency, batch: bool) -> Result<()>;
    /// These partitions as the replicas `cl` needs have them, merged.
    fn read(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Result<read::Gathered>;
    /// A lightweight transaction on one partition: Paxos among its replicas
    /// at `serial` (SERIAL or LOCAL_SERIAL), the update committed at `commit`.
    #[allow(clippy::too_many_arguments)]
    fn cas(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        serial: Consistency,
        commit: Consistency,
        decide: &mut Decide<'_>,
    ) -> Result<ResultBody>;
    /// Whether this node alone holds every row of `keyspace` a range read at `cl` must see.
    fn holds_all(&self, keyspace: &str, cl: Consistency) -> bool;
    /// Every partition of a table in `[start, end]` from every live node, merged.
    fn scan_all(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        start: i64,
        end: i64,
        cl: Consistency,
    ) -> Result<read::Gathered>;
}

/// The connection's state that statements see and change.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub keyspace: Option<String>,
    /// The logged-in role; `None` with authentication off.
    pub user: Option<String>,
    /// The node's own work (Cassandra's internal client state): no login,
    /// no permission checks. Never set for a client's connection.
    pub internal: bool,
}

impl Session {
    /// A session of the logged-in role `user`.
    pub fn user(user: &str) -> Session {
        Session {
            user: Some(user.to_string()),
            ..Session::default()
        }
    }

    /// The session of the node's own operations (a runtime altering a
    /// service's keyspaces): nothing is checked, as for Cassandra's
    /// internal calls.
    pub fn internal() -> Session {
        Session {
            internal: true,
            ..Session::default()
        }
    }
}

/// The protocol-level options of one execution.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    pub values: Vec<Value<'a>>,
    pub names: Option<Vec<&'a str>>,
    pub page_size: Option<i32>,
    pub paging_state: Option<&'a [u8]>,
    pub default_timestamp: Option<i64>,
    pub skip_metadata: bool,
    pub consistency: Consistency,
    /// For conditional statements: SERIAL (the default) or LOCAL_SERIAL.
    pub serial_consistency: Option<Consistency>,
}

/// A prepared statement.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub id: [u8; 16],
    pub query: String,
    pub keyspace: Option<String>,
    pub statement: Statement,
    pub bind: Vec<ColumnSpec>,
    pub pk_indexes: Vec<u16>,
    pub result: Vec<ColumnSpec>,
}

/// The engine's settings.
pub struct EngineConfig {
    pub cluster_name: String,
    pub auth_enabled: bool,
    /// `CassandraAuthorizer` (permissions checked) rather than `AllowAllAuthorizer`.
    pub authorization: bool,
    pub superuser_name: String,
    pub superuser_password: String,
    /// `batch_size_warn_threshold` and the other batch guards.
    pub batch_limits: BatchLimits,
}

pub struct Engine {
    pub storage: Arc<Storage>,
    schema: RwLock<Arc<Schema>>,
    /// When the schema last changed (microseconds) and on which host: the
    /// newest stamp wins when nodes exchange schemas.
    schema_stamp: RwLock<(i64, [u8; 16])>,
    local: RwLock<NodeInfo>,
    /// The other nodes of the cluster, as `system.peers` shows them.
    peers: RwLock<Vec<NodeInfo>>,
    pub cluster_name: String,
    pub gossip_generation: i32,
    pub auth_enabled: bool,
    /// Permissions are checked (`CassandraAuthorizer`).
    pub authorization: bool,
    authenticator: Authenticator,
    /// Roles and grants read from `system_auth`, kept briefly.
    pub(super) auth_cache: AuthCache,
    ddl: Mutex<()>,
    pub(super) lwt: Mutex<()>,
    clock: AtomicI64,
    /// Added to the wall clock: tests move time forward (TTL expiry) without sleeping.
    clock_offset: AtomicI64,
    prepared: Mutex<HashMap<[u8; 16], Arc<Prepared>>>,
    replicator: std::sync::OnceLock<Arc<dyn Replicator>>,
    batch_limits: BatchLimits,
}

pub(super) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Turns a schema change into the protocol's SCHEMA_CHANGE.
pub fn schema_change(c: &Change) -> Option<SchemaChange> {
    let (change, keyspace, table) = match c {
        Change::Created { keyspace, table } => ("CREATED", keyspace, table),
        Change::Updated { keyspace, table } => ("UPDATED", keyspace, table),
        Change::Dropped { keyspace, table } => ("DROPPED", keyspace, table),
        Change::None => return None,
    };
    Some(SchemaChange {
        change,
        target: match table {
            None => SchemaChangeTarget::Keyspace(keyspace.clone()),
            Some(t) => SchemaChangeTarget::Table {
                keyspace: keyspace.clone(),
                table: t.clone(),
            },
        },
    })
}

/// Builds a [`TableSpec`] from `CREATE TABLE`, with types parsed in `keyspace`.
pub fn table_spec(ct: &CreateTable, keyspace: &str) -> Result<TableSpec> {
    let mut columns = Vec::with_capacity(ct.columns.len());
    for c in &ct.columns {
        columns.push((c.name.clone(), parse_type(&c.ty, keyspace)?, c.is_static));
    }
    if ct.partition_key.is_empty() {
        return Err(QueryError::Invalid(
            "No PRIMARY KEY specifed for table (exactly one required)".into(),
        ));
    }
    Ok(TableSpec {
        columns,
        partition_key: ct.partition_key.clone(),
        clustering: ct.clustering.clone(),
        clustering_order: ct.clustering_order.clone(),
        options: ct.options.clone(),
    })
}

fn parse_type(text: &str, keyspace: &str) -> Result<CqlType> {
    CqlType::parse_in_keyspace(text, keyspace).map_err(|e| QueryError::Invalid(e.to_string()))
}

impl Engine {
    /// Opens the engine on `storage`: loads the schema (or creates the
    /// system keyspaces) and makes sure the default superuser exists.
    pub fn open(storage: Arc<Storage>, local: NodeInfo, cfg: EngineConfig) -> Result<Engine> {
        let schema = match storage.get_meta(SCHEMA_KEY)? {
            Some(bytes) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes)
                    .map_err(|e| QueryError::Server(format!("stored schema is corrupt: {e}")))?;
                persist::from_json(&v)
                    .map_err(|e| QueryError::Server(format!("stored schema is invalid: {e}")))?
            }
            None => Schema::bootstrap(),
        };
        let gossip_generation = (now_micros() / 1_000_000) as i32;
        let schema_stamp = match storage.get_meta(SCHEMA_STAMP_KEY)? {
            Some(b) if b.len() == 24 => (
                i64::from_be_bytes(b[..8].try_into().expect("8")),
                b[8..].try_into().expect("16"),
            ),
            _ => (0, [0; 16]),
        };
        let engine = Engine {
            storage,
            schema: RwLock::new(Arc::new(schema)),
            schema_stamp: RwLock::new(schema_stamp),
            local: RwLock::new(local),
            peers: RwLock::new(Vec::new()),
            cluster_name: cfg.cluster_name,
            gossip_generation,
            auth_enabled: cfg.auth_enabled,
            authorization: cfg.authorization,
            authenticator: Authenticator::default(),
            auth_cache: AuthCache::default(),
            ddl: Mutex::new(()),
            lwt: Mutex::new(()),
            clock: AtomicI64::new(0),
            clock_offset: AtomicI64::new(0),
            prepared: Mutex::new(HashMap::new()),
            replicator: std::sync::OnceLock::new(),
            batch_limits: cfg.batch_limits,
        };
        engine.persist_schema(&engine.schema())?;
        if engine.load_role(&cfg.superuser_name)?.is_none() {
            // As Cassandra does: written at timestamp 0, so any change wins.
            engine.write_role(
                &cfg.superuser_name,
                &RoleOptions {
                    password: Some(cfg.superuser_password),
                    login: Some(true),
                    superuser: Some(true),
                },
                Some(0),
            )?;
        }
        Ok(engine)
    }

    /// Makes writes go through the cluster's coordinator (set once, at start).
    pub fn set_replicator(&self, r: Arc<dyn Replicator>) {
        let _ = self.replicator.set(r);
    }

    pub(super) fn replicator(&self) -> Option<&Arc<dyn Replicator>> {
        self.replicator.get()
    }

    /// Whether one replica (this node, when it knows no other) meets `cl`
    /// for `keyspace`; else the coordinator answers (Unavailable).
    pub(super) fn alone_suffices(&self, keyspace: &str, cl: Consistency) -> bool {
        let schema = self.schema();
        let Some(ks) = schema.keyspace(keyspace) else {
            return true;
        };
        let dc = self.datacenter();
        let here = match &ks.meta.strategy {
            Strategy::NetworkTopology { datacenters } => {
                datacenters.get(&dc).copied().unwrap_or(0) > 0
            }
            _ => true,
        };
        here && crate::node::db::consistency::block_for(cl, &ks.meta.strategy, &dc).total() <= 1
    }

    /// This node's datacenter.
    pub fn datacenter(&self) -> String {
        self.local
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .datacenter
            .clone()
    }

    /// The other nodes, for `system.peers`.
    pub fn peers(&self) -> Vec<NodeInfo> {
        self.peers.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set_peers(&self, peers: Vec<NodeInfo>) {
        *self.peers.write().unwrap_or_else(|e| e.into_inner()) = peers;
    }

    pub fn host_id(&self) -> [u8; 16] {
        self.local.read().unwrap_or_else(|e| e.into_inner()).host_id
    }

    /// The schema with its stamp, as JSON, for another node.
    pub fn schema_export(&self) -> Result<(i64, [u8; 16], Vec<u8>)> {
        let _guard = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let (stamp, host) = *self.schema_stamp.read().unwrap_or_else(|e| e.into_inner());
        let json = serde_json::to_vec(&persist::to_json(&self.schema()))
            .map_err(|e| QueryError::Server(e.to_string()))?;
        Ok((stamp, host, json))
    }

    /// Adopts a schema from another node if its stamp is newer than ours;
    /// data of tables it no longer has is removed. Returns whether it did.
    pub fn adopt_schema(&self, stamp: i64, host: [u8; 16], json: &[u8]) -> Result<bool> {
        let _guard = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let current = *self.schema_stamp.read().unwrap_or_else(|e| e.into_inner());
        if (stamp, host) <= current {
            return Ok(false);
        }
        let v: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| QueryError::Server(format!("schema from a peer is corrupt: {e}")))?;
        let schema = persist::from_json(&v)
            .map_err(|e| QueryError::Server(format!("schema from a peer is invalid: {e}")))?;
        let old = self.schema();
        self.persist_schema(&schema)?;
        self.persist_stamp((stamp, host))?;
        for ks in old.keyspaces.values() {
            for t in ks.tables.values() {
                if schema
                    .table(&t.keyspace, &t.name)
                    .is_none_or(|n| n.id != t.id)
                {
                    self.storage.truncate(&t.id)?;
                }
            }
        }
        *self.schema.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(schema);
        Ok(true)
    }

    fn persist_stamp(&self, stamp: (i64, [u8; 16])) -> Result<()> {
        let mut b = stamp.0.to_be_bytes().to_vec();
        b.extend_from_slice(&stamp.1);
        self.storage.put_meta(SCHEMA_STAMP_KEY, &b)?;
        *self.schema_stamp.write().unwrap_or_else(|e| e.into_inner()) = stamp;
        Ok(())
    }

    pub fn schema(&self) -> Arc<Schema> {
        self.schema
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The node as `system.local` shows it (schema version current).
    pub fn local_info(&self) -> NodeInfo {
        let mut n = self.local.read().unwrap_or_else(|e| e.into_inner()).clone();
        n.schema_version = self.schema().version();
        n
    }

    fn persist_schema(&self, s: &Schema) -> Result<()> {
        let bytes = serde_json::to_vec(&persist::to_json(s))
            .map_err(|e| QueryError::Server(e.to_string()))?;
        self.storage.put_meta(SCHEMA_KEY, &bytes)?;
        self.storage.flush()?;
        Ok(())
    }

    /// The engine's clock in microseconds since the epoch.
    pub fn now_micros(&self) -> i64 {
        now_micros() + self.clock_offset.load(AtomicOrdering::Relaxed)
    }

    /// Moves the engine's clock forward (for tests of TTL expiry).
    pub fn advance_clock(&self, micros: i64) {
        self.clock_offset.fetch_add(micros, AtomicOrdering::Relaxed);
    }

    /// A write timestamp: microseconds, strictly increasing on this node.
    pub fn timestamp(&self) -> i64 {
        let now = self.now_micros();
        let mut last = self.clock.load(AtomicOrdering::Relaxed);
        loop {
            let next = now.max(last + 1);
            match self.clock.compare_exchange_weak(
                last,
                next,
                AtomicOrdering::Relaxed,
                AtomicOrdering::Relaxed,
            ) {
                Ok(_) => return next,
                Err(x) => last = x,
            }
        }
    }

    // ----- reads -----

    /// Where a read of `partitions` finds its data: local storage on a
    /// single node or when this node holds everything needed, else the
    /// replicas, gathered and merged.
    pub(super) fn source(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        partitions: &Partitions,
        cl: Consistency,
    ) -> Result<Box<dyn read::PartitionSource + '_>> {
        let Some(r) = self
            .replicator()
            .filter(|r| !(r.alone() && self.alone_suffices(keyspace, cl)))
        else {
            return Ok(Box::new(&*self.storage));
        };
        match partitions {
            Partitions::Keys(keys) => Ok(Box::new(r.read(keyspace, table, keys, cl)?)),
            Partitions::Range { start, end } => {
                if r.holds_all(keyspace, cl) {
                    return Ok(Box::new(&*self.storage));
                }
                let s = match start {
                    std::ops::Bound::Included(t) => *t,
                    std::ops::Bound::Excluded(t) => t.saturating_add(1),
                    std::ops::Bound::Unbounded => i64::MIN,
                };
                let e = match end {
                    std::ops::Bound::Included(t) => *t,
                    std::ops::Bound::Excluded(t) => t.saturating_sub(1),
                    std::ops::Bound::Unbounded => i64::MAX,
                };
                Ok(Box::new(r.scan_all(keyspace, table, s, e, cl)?))
            }
        }
    }

    /// Checks a login (SASL PLAIN credentials).
    pub fn login(&self, user: &str, password: &str) -> Result<()> {
        // The role is read from system_auth's replicas: when none can answer
        // (the pitfall of system_auth left at SimpleStrategy in a
        // multi-datacenter cluster), the login fails as in Cassandra.
        let role = self.load_role(user).map_err(|e| match e {
            QueryError::Unavailable { .. } | QueryError::ReadTimeout { .. } => {
                QueryError::Authentication(format!("Unable to perform authentication: {e}"))
            }
            other => other,
        })?;
        let login = role.as_ref().map(|(r, hash)| RoleLogin {
            can_login: r.can_login,
            salted_hash: hash.clone(),
        });
        self.authenticator.check(user, password, login.as_ref())?;
        if self.authorization {
            // As Cassandra's login fills its roles cache: the statements
            // that follow find the role without reading it again.
            let _ = self.effective(user);
        }
        Ok(())
    }

    // ----- prepared statements -----

    pub fn prepare(&self, s: &Session, query_text: &str) -> Result<Arc<Prepared>> {
        // Deterministic (fixed-key SipHash), so every node gives a statement the same id.
        let mut h = std::hash::DefaultHasher::new();
        h.write(s.keyspace.as_deref().unwrap_or("").as_bytes());
        h.write_u8(0);
        h.write(query_text.as_bytes());
        let a = h.finish();
        let mut h = std::hash::DefaultHasher::new();
        h.write_u64(a);
        h.write(query_text.as_bytes());
        let b = h.finish();
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&a.to_be_bytes());
        id[8..].copy_from_slice(&b.to_be_bytes());
        if let Some(p) = self.cached(&id) {
            return Ok(p);
        }
        let (statement, _) = crate::node::cql::parser::parse_with_markers(query_text)?;
        if let Statement::Unsupported(what) = &statement {
            return Err(QueryError::Invalid(format!(
                "{what} not supported by ccrsim"
            )));
        }
        let bind = self.bind_specs(s, &statement)?;
        let pk_indexes = pk_indexes(&self.schema(), s, &statement);
        let result = match &statement {
            Statement::Select(sel) => self.result_columns(s, sel)?,
            _ => Vec::new(),
        };
        let p = Arc::new(Prepared {
            id,
            query: query_text.to_string(),
            keyspace: s.keyspace.clone(),
            statement,
            bind,
            pk_indexes,
            result,
        });
        let mut cache = self.prepared.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded by count and by size (a statement can be megabytes):
        // clients prepare again when told a statement is unknown.
        let bytes: usize = cache.values().map(|p| p.query.len()).sum();
        if cache.len() > 10_000 || bytes > crate::node::cql::limits::MAX_PREPARED_BYTES {
            cache.clear();
        }
        cache.insert(id, p.clone());
        Ok(p)
    }

    pub fn cached(&self, id: &[u8]) -> Option<Arc<Prepared>> {
        let id: [u8; 16] = id.try_into().ok()?;
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    // ----- dispatch -----

    /// Parses and runs one statement.
    pub fn query(&self, s: &mut Session, text: &str, o: &Options<'_>) -> Result<ResultBody> {
        let stmt = crate::node::cql::parse(text)?;
        let bind = if o.values.is_empty() {
            Vec::new()
        } else {
            self.bind_specs(s, &stmt)?
        };
        self.execute(s, &stmt, &bind, o)
    }

    /// Runs a parsed statement with `bind` the types of its markers.
    pub fn execute(
        &self,
        s: &mut Session,
        stmt: &Statement,
        bind: &[ColumnSpec],
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        let values = Binder::new(bind, o)?;
        self.authorize(s, stmt)?;
        match stmt {
            Statement::Select(sel) => self.select(s, sel, &values, o),
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                self.modify(s, stmt, &values, o)
            }
            Statement::Batch(b) => self.batch(s, b, &values, o.default_timestamp, o.consistency),
            Statement::Use(ks) => {
                if self.schema().keyspace(ks).is_none() && !LOCAL_KEYSPACES.contains(&ks.as_str()) {
                    return Err(QueryError::Invalid(format!(
                        "Keyspace '{ks}' does not exist"
                    )));
                }
                s.keyspace = Some(ks.clone());
                Ok(ResultBody::SetKeyspace(ks.clone()))
            }
            Statement::CreateRole { .. }
            | Statement::AlterRole { .. }
            | Statement::DropRole { .. }
            | Statement::ListRoles { .. }
            | Statement::GrantRole { .. }
            | Statement::RevokeRole { .. }
            | Statement::GrantPermissions { .. }
            | Statement::RevokePermissions { .. }
            | Statement::ListPermissions { .. } => self.dcl(s, stmt),
            Statement::Describe { full, target } => self.describe(s, *full, target),
            Statement::Unsupported(what) => Err(QueryError::Invalid(format!(
                "{what} not supported by ccrsim"
            ))),
            _ => {
                let dropped_tables: Vec<String> = match stmt {
                    Statement::DropKeyspace { name, .. } => self
                        .schema()
                        .keyspace(name)
                        .map(|k| k.tables.keys().cloned().collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                let r = self.ddl(s, stmt)?;
                self.after_ddl(s, &r, &dropped_tables)?;
                Ok(r)
            }
        }
    }

    /// Runs a BATCH message: each statement with its own values.
    pub fn batch_message(
        &self,
        s: &mut Session,
        kind: BatchType,
        items: &[(&Statement, &[ColumnSpec], Vec<Value<'_>>)],
        default_timestamp: Option<i64>,
        cl: Consistency,
    ) -> Result<ResultBody> {
        let ts = default_timestamp.unwrap_or_else(|| self.timestamp());
        let mut mutations = crate::node::cql::limits::Writes::default();
        for (stmt, bind, values) in items {
            let o = Options {
                values: values.clone(),
                ..Default::default()
            };
            let b = Binder::new(bind, &o)?;
            self.authorize(s, stmt)?;
            match stmt {
                Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                    if has_condition(stmt) {
                        return Err(QueryError::Invalid(
                            "Conditional batches are not supported by ccrsim yet".into(),
                        ));
                    }
                    self.add_mutations(&mut mutations, s, stmt, &b, Some(ts))?;
                }
                _ => {
                    return Err(QueryError::Invalid(
                        "Only INSERT, UPDATE or DELETE statements are allowed in a BATCH".into(),
                    ));
                }
            }
        }
        let logged = kind == BatchType::Logged;
        batchlimits::check(&self.batch_limits, &self.schema(), logged, &mutations)?;
        self.apply_all(&mutations, cl, true)?;
        Ok(ResultBody::Void)
    }

    fn batch(
        &self,
        s: &mut Session,
        b: &Batch,
        values: &Binder<'_>,
        default_timestamp: Option<i64>,
        cl: Consistency,
    ) -> Result<ResultBody> {
        if b.kind == BatchType::Counter {
            return Err(QueryError::unsupported("Counter batches are"));
        }
        let ts = match &b.using.timestamp {
            Some(t) => Some(values.i64(t, "[timestamp]")?),
            None => default_timestamp,
        }
        .unwrap_or_else(|| self.timestamp());
        let mut mutations = crate::node::cql::limits::Writes::default();
        for stmt in &b.statements {
            if has_condition(stmt) {
                return Err(QueryError::Invalid(
                    "Conditional batches are not supported by ccrsim yet".into(),
                ));
            }
            self.add_mutations(&mut mutations, s, stmt, values, Some(ts))?;
        }
        let logged = b.kind == BatchType::Logged;
        batchlimits::check(&self.batch_limits, &self.schema(), logged, &mutations)?;
        self.apply_all(&mutations, cl, true)?;
        Ok(ResultBody::Void)
    }

    // ----- DDL -----

    /// The datacenters of the cluster: this node's and its peers'.
    fn known_dcs(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = self.peers().into_iter().map(|p| p.datacenter).collect();
        s.insert(
            self.local
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .datacenter
                .clone(),
        );
        s
    }

    fn keyspace_meta(
        &self,
        name: &str,
        options: &[(String, OptionValue)],
        old: Option<&KeyspaceMeta>,
    ) -> Result<KeyspaceMeta> {
        let mut strategy: Option<Strategy> = old.map(|o| o.strategy.clone());
        let mut durable_writes = old.is_none_or(|o| o.durable_writes);
        for (k, v) in options {
            match (k.as_str(), v) {
                ("replication", OptionValue::Map(m)) => {
                    strategy = Some(Strategy::from_options(name, m, &self.known_dcs())?);
                }
                ("durable_writes", OptionValue::Bool(b)) => durable_writes = *b,
                ("durable_writes", OptionValue::Text(t)) => {
                    durable_writes = t.eq_ignore_ascii_case("true")
                }
                ("replication" | "durable_writes", _) => {
                    return Err(QueryError::Syntax(format!(
                        "Invalid value for property '{k}'"
                    )));
                }
                _ => return Err(QueryError::Syntax(format!("Unknown property '{k}'"))),
            }
        }
        let Some(strategy) = strategy else {
            return Err(QueryError::Config(
                "Missing mandatory option 'replication'".into(),
            ));
        };
        Ok(KeyspaceMeta {
            name: name.to_string(),
            strategy,
            durable_writes,
        })
    }

    fn resolve_keyspace(&self, s: &Session, q: &QualifiedName) -> Result<String> {
        q.keyspace.clone().or_else(|| s.keyspace.clone()).ok_or_else(|| {
            QueryError::Invalid(
                "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename"
                    .into(),
            )
        })
    }

    fn ddl(&self, s: &mut Session, stmt: &Statement) -> Result<ResultBody> {
        let _guard = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let mut schema = (*self.schema()).clone();
        let mut dropped: Vec<Arc<TableMeta>> = Vec::new();
        let mut truncate: Option<Arc<TableMeta>> = None;
        // Authorization refused most of these already (Cassandra's
        // preventSystemKSSchemaModification); what is left is refused as
        // Cassandra's AlterSchemaStatement does.
        let check_local = |ks: &str| -> Result<()> {
            if LOCAL_KEYSPACES.contains(&ks) {
                return Err(QueryError::Invalid(format!(
                    "System keyspace '{ks}' is not user-modifiable"
                )));
            }
            Ok(())
        };
        let change = match stmt {
            Statement::CreateKeyspace {
                name,
                if_not_exists,
                options,
            } => {
                if schema.keyspace(name).is_some() && *if_not_exists {
                    Change::None
                } else {
                    check_local(name)?;
                    let meta = self.keyspace_meta(name, options, None)?;
                    schema.create_keyspace(meta, *if_not_exists)?
                }
            }
            Statement::AlterKeyspace {
                name,
                if_exists,
                options,
            } => {
                check_local(name)?;
                match schema.keyspace(name) {
                    None if *if_exists => Change::None,
                    None => {
                        return Err(QueryError::Invalid(format!(
                            "Keyspace '{name}' doesn't exist"
                        )));
                    }
                    Some(ks) => {
                        let meta = self.keyspace_meta(name, options, Some(&ks.meta))?;
                        schema.alter_keyspace(meta, *if_exists)?
                    }
                }
            }
            Statement::DropKeyspace { name, if_exists } => {
                check_local(name)?;
                let (c, tables) = schema.drop_keyspace(name, *if_exists)?;
                dropped = tables;
                if let Some(k) = &s.keyspace
                    && k == name
                    && c != Change::None
                {
                    s.keyspace = None;
                }
                c
            }
            Statement::CreateTable(ct) => {
                let ks = self.resolve_keyspace(s, &ct.name)?;
                check_local(&ks)?;
                if schema.keyspace(&ks).is_none() {
                    return Err(QueryError::Invalid(format!(
                        "Keyspace '{ks}' doesn't exist"
                    )));
                }
                if schema.table(&ks, &ct.name.name).is_some() && ct.if_not_exists {
                    Change::None
                } else {
                    let spec = table_spec(ct, &ks)?;
                    let id = crate::node::locator::ring::random_uuid(&mut rand::rng());
                    let t = TableMeta::create(&ks, &ct.name.name, id, &spec)?;
                    schema.create_table(t, ct.if_not_exists)?
                }
            }
            Statement::AlterTable {
                name,
                if_exists,
                op,
            } => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                let Some(t) = schema.table(&ks, &name.name) else {
                    if *if_exists {
                        return Ok(ResultBody::Void);
                    }
                    return Err(QueryError::Invalid(format!(
                        "Table '{ks}.{}' doesn't exist",
                        name.name
                    )));
                };
                let mut t = (**t).clone();
                match op {
                    AlterTableOp::Add(defs) => {
                        let mut added = Vec::new();
                        for d in defs {
                            added.push((d.name.clone(), parse_type(&d.ty, &ks)?, d.is_static));
                        }
                        t.add_columns(&added)?;
                    }
                    AlterTableOp::Drop(names) => t.drop_columns(names)?,
                    AlterTableOp::With(options) => {
                        if options.iter().any(|(k, _)| k == "id") {
                            return Err(QueryError::Config("Cannot update table id".into()));
                        }
                        t.options.apply(options)?;
                    }
                }
                schema.replace_table(t)?
            }
            Statement::DropTable { name, if_exists } => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                if schema.keyspace(&ks).is_none() {
                    if *if_exists {
                        return Ok(ResultBody::Void);
                    }
                    return Err(QueryError::Invalid(format!(
                        "Keyspace '{ks}' doesn't exist"
                    )));
                }
                let (c, t) = schema.drop_table(&ks, &name.name, *if_exists)?;
                dropped.extend(t);
                c
            }
            Statement::Truncate(name) => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                let t = schema.table(&ks, &name.name).cloned().ok_or_else(|| {
                    QueryError::Invalid(format!("Table '{ks}.{}' doesn't exist", name.name))
                })?;
                truncate = Some(t);
                Change::None
            }
            _ => return Err(QueryError::Server("not a DDL statement".into())),
        };
        if let Some(t) = truncate {
            self.storage.truncate(&t.id)?;
            return Ok(ResultBody::Void);
        }
        let Some(sc) = schema_change(&change) else {
            return Ok(ResultBody::Void);
        };
        self.persist_schema(&schema)?;
        self.persist_stamp((self.timestamp(), self.host_id()))?;
        *self.schema.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(schema);
        for t in dropped {
            self.storage.truncate(&t.id)?;
        }
        Ok(ResultBody::SchemaChange(sc))
    }

    /// Finds a table (stored or node-local).
    pub(super) fn table(&self, s: &Session, q: &QualifiedName) -> Result<Arc<TableMeta>> {
        let ks = self.resolve_keyspace(s, q)?;
        if LOCAL_KEYSPACES.contains(&ks.as_str()) {
            return systables::table(&ks, &q.name)
                .ok_or_else(|| QueryError::Invalid(format!("table {} does not exist", q.name)));
        }
        let schema = self.schema();
        let Some(k) = schema.keyspace(&ks) else {
            return Err(QueryError::Invalid(format!("keyspace {ks} does not exist")));
        };
        k.tables
            .get(&q.name)
            .cloned()
            .ok_or_else(|| QueryError::Invalid(format!("table {} does not exist", q.name)))
    }

    // ----- bind markers -----

    /// The type and name of each bind marker of `stmt`, in marker order.
    pub fn bind_specs(&self, s: &Session, stmt: &Statement) -> Result<Vec<ColumnSpec>> {
        let mut out: Vec<Option<ColumnSpec>> = Vec::new();
        self.collect_specs(s, stmt, &mut out)?;
        out.into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.ok_or_else(|| {
                    QueryError::Invalid(format!("Cannot infer the type of bind marker {i}"))
                })
            })
            .collect()
    }

    fn collect_specs(
        &self,
        s: &Session,
        stmt: &Statement,
        out: &mut Vec<Option<ColumnSpec>>,
    ) -> Result<()> {
        let (table, using, relations, conditions): (
            &QualifiedName,
            Option<&Using>,
            &[Relation],
            Option<&Condition>,
        ) = match stmt {
            Statement::Select(sel) => {
                let t = self.table(s, &sel.table)?;
                specs_for_relations(&t, &sel.relations, out)?;
                let int = |name: &str| spec(&t, name, CqlType::Int);
                if let Some(Term::Marker(m)) = &sel.per_partition_limit {
                    put(out, m, int("[per_partition_limit]"));
                }
                if let Some(Term::Marker(m)) = &sel.limit {
                    put(out, m, int("[limit]"));
                }
                return Ok(());
            }
            Statement::Insert(ins) => {
                let t = self.table(s, &ins.table)?;
                for (c, v) in ins.columns.iter().zip(&ins.values) {
                    let col = column(&t, c)?;
                    term_specs(&t, v, &col.ty, &col.name, out);
                }
                (&ins.table, Some(&ins.using), &[][..], None)
            }
            Statement::Update(u) => {
                let t = self.table(s, &u.table)?;
                if let Some(Term::Marker(m)) = &u.using.ttl {
                    put(out, m, spec(&t, "[ttl]", CqlType::Int));
                }
                if let Some(Term::Marker(m)) = &u.using.timestamp {
                    put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
                }
                for a in &u.assignments {
                    let col = column(&t, a.column())?;
                    match a {
                        Assignment::Set { value, .. }
                        | Assignment::Add { value, .. }
                        | Assignment::Prepend { value, .. } => {
                            term_specs(&t, value, &col.ty, &col.name, out)
                        }
                        Assignment::Remove { value, .. } => {
                            let ty = match col.ty.unfrozen() {
                                CqlType::Map(k, _) => CqlType::Set(k.clone()),
                                other => other.clone(),
                            };
                            term_specs(&t, value, &ty, &col.name, out)
                        }
                        Assignment::SetElement { key, value, .. } => {
                            let (kt, vt) = element_types(&col.ty);
                            let kname = if matches!(col.ty.unfrozen(), CqlType::List(_)) {
                                format!("idx({})", col.name)
                            } else {
                                format!("key({})", col.name)
                            };
                            term_specs(&t, key, &kt, &kname, out);
                            term_specs(&t, value, &vt, &format!("value({})", col.name), out);
                        }
                    }
                }
                specs_for_relations(&t, &u.relations, out)?;
                specs_for_conditions(&t, &u.condition, out)?;
                return Ok(());
            }
            Statement::Delete(d) => {
                let t = self.table(s, &d.table)?;
                for tg in &d.targets {
                    if let DeleteTarget::Element(c, key) = tg {
                        let col = column(&t, c)?;
                        let (kt, _) = element_types(&col.ty);
                        term_specs(&t, key, &kt, &format!("key({c})"), out);
                    }
                }
                if let Some(Term::Marker(m)) = &d.using.timestamp {
                    put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
                }
                specs_for_relations(&t, &d.relations, out)?;
                specs_for_conditions(&t, &d.condition, out)?;
                return Ok(());
            }
            Statement::Batch(b) => {
                if let Some(Term::Marker(m)) = &b.using.timestamp {
                    out_put(
                        out,
                        m.index,
                        ColumnSpec {
                            keyspace: String::new(),
                            table: String::new(),
                            name: "[timestamp]".into(),
                            ty: CqlType::Bigint,
                        },
                    );
                }
                for st in &b.statements {
                    self.collect_specs(s, st, out)?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let t = self.table(s, table)?;
        if let Some(u) = using {
            if let Some(Term::Marker(m)) = &u.ttl {
                put(out, m, spec(&t, "[ttl]", CqlType::Int));
            }
            if let Some(Term::Marker(m)) = &u.timestamp {
                put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
            }
        }
        specs_for_relations(&t, relations, out)?;
        if let Some(c) = conditions {
            specs_for_conditions(&t, c, out)?;
        }
        Ok(())
    }
}

pub(super) fn has_condition(stmt: &Statement) -> bool {
    match stmt {
        Statement::Insert(i) => i.if_not_exists,
        Statement::Update(u) => u.condition != Condition::None,
        Statement::Delete(d) => d.condition != Condition::None,
        _ => false,
    }
}

pub(super) fn column<'t>(
    t: &'t TableMeta,
    name: &str,
) -> Result<&'t crate::node::db::schema::ColumnMeta> {
    t.column(name).ok_or_else(|| {
        QueryError::Invalid(format!(
            "Undefined column name {name} in table {}.{}",
            t.keyspace, t.name
        ))
    })
}

/// Key and value types of a collection's elements (list: int index).
pub(super) fn element_types(ty: &CqlType) -> (CqlType, CqlType) {
    match ty.unfrozen() {
        CqlType::Map(k, v) => ((**k).clone(), (**v).clone()),
        CqlType::List(e) => (CqlType::Int, (**e).clone()),
        CqlType::Set(e) => ((**e).clone(), (**e).clone()),
        other => (other.clone(), other.clone()),
    }
}

fn spec(t: &TableMeta, name: &str, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: t.keyspace.clone(),
        table: t.name.clone(),
        name: name.to_string(),
        ty,
    }
}

fn out_put(out: &mut Vec<Option<ColumnSpec>>, index: usize, c: ColumnSpec) {
    if out.len() <= index {
        out.resize(index + 1, None);
    }
    out[index] = Some(c);
}

fn put(out: &mut Vec<Option<ColumnSpec>>, m: &Marker, c: ColumnSpec) {
    out_put(out, m.index, c);
}

/// Records the specs of markers inside `term`, which stands for a value of `ty`.
fn term_specs(
    t: &TableMeta,
    term: &Term,
    ty: &CqlType,
    name: &str,
    out: &mut Vec<Option<ColumnSpec>>,
) {
    match term {
        Term::Marker(m) => put(out, m, spec(t, name, ty.clone())),
        Term::List(items) | Term::Set(items) => {
            let (_, et) = element_types(ty);
            let et = if matches!(ty.unfrozen(), CqlType::Set(_)) {
                element_types(ty).0
            } else {
                et
            };
            for i in items {
                term_specs(t, i, &et, name, out);
            }
        }
        Term::Map(entries) => {
            let (kt, vt) = element_types(ty);
            for (k, v) in entries {
                term_specs(t, k, &kt, name, out);
                term_specs(t, v, &vt, name, out);
            }
        }
        Term::Tuple(items) => {
            if let CqlType::Tuple(types) = ty.unfrozen() {
                for (i, ty) in items.iter().zip(types) {
                    term_specs(t, i, ty, name, out);
                }
            }
        }
        Term::Function(_, args) => {
            for a in args {
                term_specs(t, a, &CqlType::Timeuuid, name, out);
            }
        }
        Term::Literal(_) => {}
    }
}

fn specs_for_relations(
    t: &TableMeta,
    relations: &[Relation],
    out: &mut Vec<Option<ColumnSpec>>,
) -> Result<()> {
    for r in relations {
        match r {
            Relation::Single {
                column: c,
                op,
                value,
            } => {
                let col = column(t, c)?;
                let ty = match op {
                    Op::Contains => {
                        if matches!(col.ty.unfrozen(), CqlType::Map(..)) {
                            element_types(&col.ty).1
                        } else {
                            element_types(&col.ty).0.clone()
                        }
                    }
                    Op::ContainsKey => element_types(&col.ty).0,
                    _ => col.ty.clone(),
                };
                let ty = if matches!(op, Op::Contains)
                    && matches!(col.ty.unfrozen(), CqlType::List(_))
                {
                    element_types(&col.ty).1
                } else {
                    ty
                };
                term_specs(t, value, &ty, &col.name, out);
            }
            Relation::In { column: c, values } => {
                let col = column(t, c)?;
                match values {
                    InValues::Marker(m) => put(
                        out,
                        m,
                        spec(
                            t,
                            &format!("in({})", col.name),
                            CqlType::List(Box::new(col.ty.clone())),
                        ),
                    ),
                    InValues::List(items) => {
                        for i in items {
                            term_specs(t, i, &col.ty, &col.name, out);
                        }
                    }
                }
            }
            Relation::Multi {
                columns,
                op,
                values,
            } => {
                let types: Vec<CqlType> = columns
                    .iter()
                    .map(|c| column(t, c).map(|c| c.ty.clone()))
                    .collect::<Result<_>>()?;
                let tuple = CqlType::Tuple(types.clone());
                let label = format!("({})", columns.join(","));
                for v in values {
                    match v {
                        Term::Marker(m) if *op == Op::In && values.len() == 1 => put(
                            out,
                            m,
                            spec(
                                t,
                                &format!("in{label}"),
                                CqlType::List(Box::new(tuple.clone())),
                            ),
                        ),
                        Term::Marker(m) => put(out, m, spec(t, &label, tuple.clone())),
                        Term::Tuple(items) => {
                            for (i, (item, ty)) in items.iter().zip(&types).enumerate() {
                                term_specs(t, item, ty, &columns[i.min(columns.len() - 1)], out);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Relation::Token { value, .. } => {
                term_specs(t, value, &CqlType::Bigint, "partition key token", out)
            }
        }
    }
    Ok(())
}

fn specs_for_conditions(
    t: &TableMeta,
    c: &Condition,
    out: &mut Vec<Option<ColumnSpec>>,
) -> Result<()> {
    if let Condition::Columns(conds) = c {
        for cond in conds {
            let col = column(t, &cond.column)?;
            let vty = match &cond.element {
                Some(e) => {
                    let (kt, vt) = element_types(&col.ty);
                    term_specs(t, e, &kt, &format!("key({})", col.name), out);
                    vt
                }
                None => col.ty.clone(),
            };
            for v in &cond.values {
                term_specs(t, v, &vty, &col.name, out);
            }
        }
    }
    Ok(())
}

/// Indexes of the markers that give the partition key, when each key
/// column is bound by exactly one `=` marker.
fn pk_indexes(schema: &Schema, s: &Session, stmt: &Statement) -> Vec<u16> {
    let (q, relations, insert) = match stmt {
        Statement::Select(x) => (&x.table, &x.relations[..], None),
        Statement::Update(x) => (&x.table, &x.relations[..], None),
        Statement::Delete(x) => (&x.table, &x.relations[..], None),
        Statement::Insert(x) => (&x.table, &[][..], Some(x)),
        _ => return Vec::new(),
    };
    let Some(ks) = q.keyspace.clone().or_else(|| s.keyspace.clone()) else {
        return Vec::new();
    };
    let Some(t) = schema.table(&ks, &q.name) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for pk in t.partition_key() {
        let idx = if let Some(ins) = insert {
            ins.columns
                .iter()
                .position(|c| *c == pk.name)
                .and_then(|i| match &ins.values[i] {
                    Term::Marker(m) => Some(m.index),
                    _ => None,
                })
        } else {
            relations.iter().find_map(|r| match r {
                Relation::Single {
                    column,
                    op: Op::Eq,
                    value: Term::Marker(m),
                } if *column == pk.name => Some(m.index),
                _ => None,
            })
        };
        match idx.and_then(|i| u16::try_from(i).ok()) {
            Some(i) => out.push(i),
            None => return Vec::new(),
        }
    }
    out
}

/// Bound values, in marker order.
pub struct Binder<'a> {
    values: Vec<Value<'a>>,
    specs: &'a [ColumnSpec],
}

impl<'a> Binder<'a> {
    pub fn new(specs: &'a [ColumnSpec], o: &Options<'a>) -> Result<Binder<'a>> {
        let values = match &o.names {
            None => o.values.clone(),
            Some(names) => {
                let mut v = Vec::with_capacity(specs.len());
                for s in specs {
                    let i = names.iter().position(|n| n.eq_ignore_ascii_case(&s.name));
                    match i {
                        Some(i) => v.push(o.values[i].clone()),
                        None => {
                            return Err(QueryError::Invalid(format!(
                                "Invalid unset value for column {}",
                                s.name
                            )));
                        }
                    }
                }
                v
            }
        };
        if values.len() != specs.len() {
            return Err(QueryError::Invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables",
                specs.len(),
                values.len()
            )));
        }
        Ok(Binder { values, specs })
    }

    pub fn is_unset(&self, term: &Term) -> bool {
        matches!(term, Term::Marker(m) if matches!(self.values.get(m.index), Some(Value::Unset)))
    }

    /// The value of `term` as a value of `ty` (`None`: null).
    pub fn value(&self, term: &Term, ty: &CqlType, name: &str) -> Result<Option<CqlValue>> {
        match term {
            Term::Literal(l) => {
                CqlValue::from_literal(ty, l).map_err(|e| QueryError::Invalid(e.for_column(name)))
            }
            Term::Marker(m) => match self.values.get(m.index) {
                None | Some(Value::Null) | Some(Value::Unset) => Ok(None),
                Some(Value::Bytes(b)) => {
                    let mut v = CqlValue::decode(ty, b).map_err(|e| {
                        QueryError::Invalid(format!(
                            "Exception while binding column {}: {}",
                            self.specs.get(m.index).map_or(name, |s| s.name.as_str()),
                            e.for_column(name)
                        ))
                    })?;
                    v.normalize(ty);
                    Ok(Some(v))
                }
            },
            Term::Function(f, args) => function(f, args, ty, name).map(Some),
            Term::List(items) | Term::Set(items) => {
                if let Some(lit) = literal_of(term) {
                    return self.value(&Term::Literal(lit), ty, name);
                }
                let is_set = matches!(term, Term::Set(_));
                let et = match ty.unfrozen() {
                    CqlType::List(e) | CqlType::Set(e) => (**e).clone(),
                    _ => {
                        return Err(QueryError::Invalid(format!(
                            "Invalid {} literal for {name} of type {ty}",
                            if is_set { "set" } else { "list" }
                        )));
                    }
                };
                let mut vals = Vec::with_capacity(items.len());
                for i in items {
                    vals.push(self.value(i, &et, name)?.ok_or_else(|| {
                        QueryError::Invalid("null is not supported inside collections".into())
                    })?);
                }
                let mut v = if matches!(ty.unfrozen(), CqlType::Set(_)) {
                    CqlValue::Set(vals)
                } else {
                    CqlValue::List(vals)
                };
                v.normalize(ty);
                Ok(Some(v))
            }
            Term::Map(entries) => {
                if let Some(lit) = literal_of(term) {
                    return self.value(&Term::Literal(lit), ty, name);
                }
                let CqlType::Map(kt, vt) = ty.unfrozen() else {
                    return Err(QueryError::Invalid(format!(
                        "Invalid map literal for {name} of type {ty}"
                    )));
                };
                let mut vals = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let k = self.value(k, kt, name)?;
                    let v = self.value(v, vt, name)?;
                    match (k, v) {
                        (Some(k), Some(v)) => vals.push((k, v)),
                        _ => {
                            return Err(QueryError::Invalid(
                                "null is not supported inside collections".into(),
                            ));
                        }
                    }
                }
                let mut v = CqlValue::Map(vals);
                v.normalize(ty);
                Ok(Some(v))
            }
            Term::Tuple(_) => match literal_of(term) {
                Some(lit) => self.value(&Term::Literal(lit), ty, name),
                None => Err(QueryError::unsupported(
                    "Bind markers inside tuple literals are",
                )),
            },
        }
    }

    pub fn bytes(&self, term: &Term, ty: &CqlType, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.value(term, ty, name)?.map(|v| v.to_bytes()))
    }

    /// An integer parameter (`LIMIT`, `USING TTL`, `USING TIMESTAMP`).
    pub fn i64(&self, term: &Term, name: &str) -> Result<i64> {
        let ty = if name == "[timestamp]" || name == "partition key token" {
            CqlType::Bigint
        } else {
            CqlType::Int
        };
        match self.value(term, &ty, name)? {
            Some(CqlValue::Int(n)) => Ok(i64::from(n)),
            Some(CqlValue::Bigint(n)) => Ok(n),
            _ => Err(QueryError::Invalid(format!("Invalid null value of {name}"))),
        }
    }
}

/// A collection term whose elements are all literals, as one literal.
fn literal_of(term: &Term) -> Option<CqlLiteral> {
    match term {
        Term::Literal(l) => Some(l.clone()),
        Term::List(items) => Some(CqlLiteral::List(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        Term::Set(items) => Some(CqlLiteral::Set(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        Term::Map(entries) => Some(CqlLiteral::Map(
            entries
                .iter()
                .map(|(k, v)| Some((literal_of(k)?, literal_of(v)?)))
                .collect::<Option<_>>()?,
        )),
        Term::Tuple(items) => Some(CqlLiteral::Tuple(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        _ => None,
    }
}

/// A version-1 (time-based) UUID for now, as `now()` makes.
pub fn timeuuid_now() -> [u8; 16] {
    use rand::RngExt as _;
    // 100-ns intervals since 1582-10-15.
    let ticks = (now_micros() as u64) * 10 + 0x01B2_1DD2_1381_4000;
    let mut u = [0u8; 16];
    let time_low = (ticks & 0xffff_ffff) as u32;
    let time_mid = ((ticks >> 32) & 0xffff) as u16;
    let time_hi = (((ticks >> 48) & 0x0fff) as u16) | 0x1000;
    u[0..4].copy_from_slice(&time_low.to_be_bytes());
    u[4..6].copy_from_slice(&time_mid.to_be_bytes());
    u[6..8].copy_from_slice(&time_hi.to_be_bytes());
    let mut rest = [0u8; 8];
    rand::rng().fill(&mut rest);
    rest[0] = (rest[0] & 0x3f) | 0x80;
    u[8..].copy_from_slice(&rest);
    u
}

fn timeuuid_millis(u: &[u8; 16]) -> i64 {
    let time_low = u64::from(u32::from_be_bytes([u[0], u[1], u[2], u[3]]));
    let time_mid = u64::from(u16::from_be_bytes([u[4], u[5]]));
    let time_hi = u64::from(u16::from_be_bytes([u[6], u[7]]) & 0x0fff);
    let ticks = (time_hi << 48) | (time_mid << 32) | time_low;
    ((ticks as i64) - 0x01B2_1DD2_1381_4000) / 10_000
}

fn function(f: &str, args: &[Term], ty: &CqlType, name: &str) -> Result<CqlValue> {
    let inner_millis = |args: &[Term]| -> Result<i64> {
        match args {
            [Term::Function(g, a)] if a.is_empty() && g == "now" => Ok(now_micros() / 1000),
            [Term::Literal(CqlLiteral::Uuid(u))] => crate::node::value::parse_uuid(u)
                .map(|u| timeuuid_millis(&u))
                .ok_or_else(|| QueryError::Invalid(format!("Invalid UUID {u}"))),
            _ => Err(QueryError::unsupported(&format!(
                "Function {f} with these arguments is"
            ))),
        }
    };
    let v = match (f, args.len()) {
        ("now", 0) => CqlValue::Timeuuid(timeuuid_now()),
        ("uuid", 0) => CqlValue::Uuid(crate::node::locator::ring::random_uuid(&mut rand::rng())),
        ("currenttimestamp", 0) => CqlValue::Timestamp(now_micros() / 1000),
        ("currenttimeuuid", 0) => CqlValue::Timeuuid(timeuuid_now()),
        ("totimestamp", 1) => CqlValue::Timestamp(inner_millis(args)?),
        ("tounixtimestamp", 1) => CqlValue::Bigint(inner_millis(args)?),
        ("currentdate", 0) | ("todate", _) => {
            let ms = if args.is_empty() {
                now_micros() / 1000
            } else {
                inner_millis(args)?
            };
            CqlValue::Date(((ms.div_euclid(86_400_000)) + (1i64 << 31)) as u32)
        }
        _ => {
            return Err(QueryError::Invalid(format!(
                "Unknown function {f} called (or not supported by ccrsim)"
            )));
        }
    };
    // A function result must suit the receiver.
    let fits = matches!(
        (&v, ty.unfrozen()),
        (CqlValue::Timeuuid(_), CqlType::Timeuuid | CqlType::Uuid)
            | (CqlValue::Uuid(_), CqlType::Uuid)
            | (CqlValue::Timestamp(_), CqlType::Timestamp)
            | (CqlValue::Bigint(_), CqlType::Bigint)
            | (CqlValue::Date(_), CqlType::Date)
    );
    if !fits {
        return Err(QueryError::Invalid(format!(
            "Type error: {f}() cannot be passed as argument 0 of {name} of type {ty}"
        )));
    }
    Ok(match (v, ty.unfrozen()) {
        (CqlValue::Timeuuid(u), CqlType::Uuid) => CqlValue::Uuid(u),
        (v, _) => v,
    })
}
