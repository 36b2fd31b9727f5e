//! Running statements: the node's query engine.
//!
//! [`Engine`] holds what statements act on: the storage, the schema (a
//! copy-on-write value: readers take an `Arc` snapshot, DDL swaps in a new
//! one after persisting it), the node's identity for the system tables, the
//! prepared-statement cache and the login checker. [`Engine::execute`] is
//! a future the connection awaits on the async runtime: it waits for the
//! replicas (the [`Replicator`]) and for the store (its writer thread and
//! its read stage) without holding a thread, and does nothing that blocks
//! on the way but parsing and computing.
//!
//! This file keeps the engine's core: opening it, the schema and clock it
//! keeps, preparing statements and dispatching them. The statements
//! themselves run elsewhere, each in an `impl Engine` of its own file:
//! SELECT in [`super::select`], writes in [`super::modify`], DDL in
//! [`super::ddl`], roles and permissions in [`super::dcl`] (logins in
//! [`super::roles`]), DESCRIBE in [`super::describe`]. Bind markers get their
//! types in [`super::bindspec`] and their values through
//! [`super::bind::Binder`].

use std::collections::HashMap;
use std::hash::Hasher;
use std::sync::atomic::{AtomicI64, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};

use crate::node::auth::Authenticator;
use crate::node::cql::ast::*;
use crate::node::cql::authcache::AuthCache;
use crate::node::cql::batchlimits::{self, BatchLimits};
use crate::node::cql::bind::Binder;
use crate::node::cql::functions::now_micros;
use crate::node::cql::warn;
use crate::node::db::consistency::Consistency;
use crate::node::db::read::{self, Partitions, Position, ReadCommand};
use crate::node::db::schema::log::{Absorbed, SchemaLog};
use crate::node::db::schema::{Schema, Strategy, TableMeta, persist};
use crate::node::db::storage::Storage;
use crate::node::db::system::NodeInfo;
use crate::node::db::system::tables::{self as systables, LOCAL_KEYSPACES};
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::{ColumnSpec, ResultBody};
use crate::node::transport::protocol::primitives::Value;
use crate::node::value;

pub use crate::node::cql::replicator::{Decide, Pending, Replicator, Write};
pub use crate::node::cql::session::{Options, Result, Session};

/// Where builds before the schema log kept the whole schema, and its stamp.
const OLD_SCHEMA_KEY: &[u8] = b"schema";
const OLD_SCHEMA_STAMP_KEY: &[u8] = b"schema_stamp";
/// The schema as cells ([`SchemaLog`]).
const SCHEMA_LOG_KEY: &[u8] = b"schema_log";

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
    pub(super) schema: RwLock<Arc<Schema>>,
    /// The schema as timestamped cells, merged with other nodes' (the
    /// schema above is what it defines); changed under `ddl`.
    schema_log: RwLock<SchemaLog>,
    pub(super) local: RwLock<NodeInfo>,
    /// The other nodes of the cluster, as `system.peers` shows them.
    peers: RwLock<Vec<NodeInfo>>,
    pub cluster_name: String,
    pub gossip_generation: i32,
    pub auth_enabled: bool,
    /// Permissions are checked (`CassandraAuthorizer`).
    pub authorization: bool,
    pub(super) authenticator: Arc<Authenticator>,
    /// Roles and grants read from `system_auth`, kept briefly.
    pub(super) auth_cache: AuthCache,
    pub(super) ddl: Mutex<()>,
    /// Serializes lightweight transactions on a node alone (held across their read and write).
    pub(super) lwt: tokio::sync::Mutex<()>,
    clock: AtomicI64,
    /// Added to the wall clock: tests move time forward (TTL expiry) without sleeping.
    clock_offset: AtomicI64,
    prepared: Mutex<HashMap<[u8; 16], Arc<Prepared>>>,
    replicator: std::sync::OnceLock<Arc<dyn Replicator>>,
    batch_limits: BatchLimits,
}

impl Engine {
    /// Opens the engine on `storage`: loads the schema (or creates the
    /// system keyspaces) and makes sure the default superuser exists.
    pub fn open(storage: Arc<Storage>, local: NodeInfo, cfg: EngineConfig) -> Result<Engine> {
        let log = load_schema_log(&storage)?;
        let schema = log.schema();
        let gossip_generation = (now_micros() / 1_000_000) as i32;
        let engine = Engine {
            storage,
            schema: RwLock::new(Arc::new(schema)),
            schema_log: RwLock::new(log),
            local: RwLock::new(local),
            peers: RwLock::new(Vec::new()),
            cluster_name: cfg.cluster_name,
            gossip_generation,
            auth_enabled: cfg.auth_enabled,
            authorization: cfg.authorization,
            authenticator: Arc::default(),
            auth_cache: AuthCache::default(),
            ddl: Mutex::new(()),
            lwt: tokio::sync::Mutex::new(()),
            clock: AtomicI64::new(0),
            clock_offset: AtomicI64::new(0),
            prepared: Mutex::new(HashMap::new()),
            replicator: std::sync::OnceLock::new(),
            batch_limits: cfg.batch_limits,
        };
        engine.persist_log(&engine.schema_log.read().unwrap_or_else(|e| e.into_inner()))?;
        engine.ensure_superuser(&cfg.superuser_name, cfg.superuser_password)?;
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

    /// The schema log as JSON, for another node.
    pub fn schema_export(&self) -> Result<Vec<u8>> {
        let log = self.schema_log.read().unwrap_or_else(|e| e.into_inner());
        serde_json::to_vec(&log.to_json()).map_err(|e| QueryError::Server(e.to_string()))
    }

    /// Merges another node's schema log (from [`schema_export`]) into
    /// ours ([`SchemaLog::absorb`]); data of tables that no longer exist is
    /// removed.
    ///
    /// [`schema_export`]: Self::schema_export
    pub fn adopt_schema(&self, json: &[u8]) -> Result<Absorbed> {
        let v: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| QueryError::Server(format!("schema from a peer is corrupt: {e}")))?;
        let theirs = SchemaLog::from_json(&v)
            .map_err(|e| QueryError::Server(format!("schema from a peer is invalid: {e}")))?;
        let _guard = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let mut log = self
            .schema_log
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let absorbed = log.absorb(&theirs);
        if absorbed.changed {
            self.merge_schema(&theirs)?;
        }
        Ok(absorbed)
    }

    /// Records the change from the current schema to `new` (a DDL
    /// statement's result) in the log, stamped after anything the log
    /// holds, and makes the log's schema current. The caller holds `ddl`.
    pub(super) fn change_schema(&self, old: &Schema, new: &Schema) -> Result<()> {
        let delta = {
            let log = self.schema_log.read().unwrap_or_else(|e| e.into_inner());
            let micros = self.timestamp().max(log.newest().0 + 1);
            log.record(old, new, (micros, self.host_id()))
        };
        self.merge_schema(&delta)?;
        debug_assert_eq!(*self.schema(), *new, "the log shows what the change made");
        Ok(())
    }

    /// Merges `cells` into the log, persists it, and makes its schema
    /// current. The caller holds `ddl`.
    fn merge_schema(&self, cells: &SchemaLog) -> Result<bool> {
        let mut log = self
            .schema_log
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if !log.merge(cells) {
            return Ok(false);
        }
        let schema = log.schema();
        self.persist_log(&log)?;
        let old = self.schema();
        *self.schema_log.write().unwrap_or_else(|e| e.into_inner()) = log;
        *self.schema.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(schema.clone());
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
        Ok(true)
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

    fn persist_log(&self, log: &SchemaLog) -> Result<()> {
        let bytes =
            serde_json::to_vec(&log.to_json()).map_err(|e| QueryError::Server(e.to_string()))?;
        self.storage.put_meta(SCHEMA_LOG_KEY, &bytes)?;
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

    /// A page of `cmd`'s rows: read from the replicas `cl` needs and
    /// merged when the node is part of a cluster and does not hold
    /// everything itself; else from its own storage, on the store's read
    /// stage.
    pub(super) async fn read_page(
        &self,
        cmd: &ReadCommand,
        cl: Consistency,
        page_size: Option<usize>,
        from: Option<&Position>,
    ) -> Result<read::Page> {
        let (keyspace, table) = (cmd.table.keyspace.as_str(), &cmd.table.id);
        let replicas = self
            .replicator()
            .filter(|r| !(r.alone() && self.alone_suffices(keyspace, cl)));
        let gathered = match (replicas, &cmd.partitions) {
            (None, _) => None,
            (Some(r), Partitions::Keys(keys)) => Some(r.read(keyspace, table, keys, cl).await?),
            (Some(r), Partitions::Range { .. }) if r.holds_all(keyspace, cl) => None,
            (Some(r), Partitions::Range { start, end }) => {
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
                Some(r.scan_all(keyspace, table, s, e, cl).await?)
            }
        };
        if let Some(g) = gathered {
            return Ok(read::execute(&g, cmd, value::compare, page_size, from)?);
        }
        let (cmd, from) = (cmd.clone(), from.cloned());
        let page = self
            .storage
            .off_runtime(move |core| {
                read::execute(core, &cmd, value::compare, page_size, from.as_ref())
            })
            .await??;
        Ok(page)
    }

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
        let pk_indexes = self.pk_indexes(s, &statement);
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
    pub async fn query(
        self: &Arc<Self>,
        s: &mut Session,
        text: &str,
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        let stmt = crate::node::cql::parse(text)?;
        let bind = if o.values.is_empty() {
            Vec::new()
        } else {
            self.bind_specs(s, &stmt)?
        };
        self.execute(s, &stmt, &bind, o).await
    }

    /// Runs a parsed statement with `bind` the types of its markers.
    pub async fn execute(
        self: &Arc<Self>,
        s: &mut Session,
        stmt: &Statement,
        bind: &[ColumnSpec],
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        let values = Binder::new(bind, o)?;
        self.authorize(s, stmt).await?;
        match stmt {
            Statement::Select(sel) => self.select(s, sel, &values, o).await,
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                self.modify(s, stmt, &values, o).await
            }
            Statement::Batch(b) => {
                self.batch(s, b, &values, o.default_timestamp, o.consistency)
                    .await
            }
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
            | Statement::ListPermissions { .. } => self.dcl(s, stmt).await,
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
                // A schema change persists the schema (and may truncate
                // tables): on the store's stage, off the async threads.
                let (engine, mut session, stmt) = (self.clone(), s.clone(), stmt.clone());
                let (r, session, raised) = self
                    .storage
                    .off_runtime(move |_| {
                        let (r, raised) = warn::capture(|| engine.ddl(&mut session, &stmt));
                        (r, session, raised)
                    })
                    .await?;
                for w in raised {
                    warn::warn(w);
                }
                *s = session;
                let r = r?;
                self.after_ddl(s, &r, &dropped_tables).await?;
                Ok(r)
            }
        }
    }

    /// Runs a BATCH message: each statement with its own values.
    pub async fn batch_message(
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
            self.authorize(s, stmt).await?;
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
        self.apply_all(&mutations, cl, true).await?;
        Ok(ResultBody::Void)
    }

    async fn batch(
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
        self.apply_all(&mutations, cl, true).await?;
        Ok(ResultBody::Void)
    }

    pub(super) fn resolve_keyspace(&self, s: &Session, q: &QualifiedName) -> Result<String> {
        q.keyspace.clone().or_else(|| s.keyspace.clone()).ok_or_else(|| {
            QueryError::Invalid(
                "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename"
                    .into(),
            )
        })
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
}

pub(super) fn has_condition(stmt: &Statement) -> bool {
    match stmt {
        Statement::Insert(i) => i.if_not_exists,
        Statement::Update(u) => u.condition != Condition::None,
        Statement::Delete(d) => d.condition != Condition::None,
        _ => false,
    }
}

/// The schema log kept on disk; a schema kept whole by an older build
/// becomes cells at its stamp; a new node starts from the system keyspaces
/// (at stamp zero, the same cells on every node).
fn load_schema_log(storage: &Storage) -> Result<SchemaLog> {
    let json = |bytes: &[u8]| -> Result<serde_json::Value> {
        serde_json::from_slice(bytes)
            .map_err(|e| QueryError::Server(format!("stored schema is corrupt: {e}")))
    };
    let invalid = |e: crate::node::db::schema::SchemaError| {
        QueryError::Server(format!("stored schema is invalid: {e}"))
    };
    if let Some(bytes) = storage.get_meta(SCHEMA_LOG_KEY)? {
        return SchemaLog::from_json(&json(&bytes)?).map_err(invalid);
    }
    let Some(bytes) = storage.get_meta(OLD_SCHEMA_KEY)? else {
        return Ok(SchemaLog::from_schema(&Schema::bootstrap(), (0, [0; 16])));
    };
    let schema = persist::from_json(&json(&bytes)?).map_err(invalid)?;
    let stamp = match storage.get_meta(OLD_SCHEMA_STAMP_KEY)? {
        Some(b) if b.len() == 24 => (
            i64::from_be_bytes(b[..8].try_into().expect("8")),
            b[8..].try_into().expect("16"),
        ),
        _ => (0, [0; 16]),
    };
    Ok(SchemaLog::from_schema(&schema, stamp))
}
