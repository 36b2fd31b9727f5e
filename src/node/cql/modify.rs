//! INSERT, UPDATE and DELETE: statements to storage mutations, and
//! lightweight transactions (`IF ...`).
//!
//! Each statement plans its WHERE clause like a SELECT, then writes one
//! mutation per partition with every affected row in it. Operations that
//! need the current value (list element assignment and removal) read it
//! first, as Cassandra does. Conditional statements (lightweight
//! transactions) run Paxos among the partition's replicas in a cluster
//! (`node::cluster::paxos`); a node on its own reads, checks and writes
//! under its LWT lock. Either way two conditional writes to the same row
//! never both succeed.
//!
//! Before anything is written, keys get Cassandra's checks (partition keys
//! and clustering values at most 65 535 bytes, with its messages), and the
//! mutations of one statement or BATCH are bounded ([`crate::node::cql::limits`]).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::node::cql::ast::*;
use crate::node::cql::bind::Binder;
use crate::node::cql::bindspec::{column, element_types};
use crate::node::cql::exec::{Engine, has_condition};
use crate::node::cql::limits::Writes;
use crate::node::cql::replicator::Write;
use crate::node::cql::select::{Restrictions, column_bytes};
use crate::node::cql::session::{Options, Result, Session};
use crate::node::db::consistency::Consistency;
use crate::node::db::read::Comparator;
use crate::node::db::schema::{ColumnKind, ColumnMeta, TableMeta};
use crate::node::db::storage::partition::{Clustering, LiveColumn, LivePartition, PartitionData};
use crate::node::db::system::tables::LOCAL_KEYSPACES;
use crate::node::db::write::{ListOp, MutationBuilder};
use crate::node::error::QueryError;
use crate::node::locator::partitioner;
use crate::node::transport::protocol::frame::{ColumnSpec, ResultBody, Rows};
use crate::node::value::types::CqlType;
use crate::node::value::{self, CqlValue};

const MAX_TTL: i64 = 630_720_000;

fn key_parts_missing(t: &TableMeta, given: &[bool], what: &str, clustering: bool) -> QueryError {
    let cols: Vec<&ColumnMeta> = if clustering {
        t.clustering().collect()
    } else {
        t.partition_key().collect()
    };
    let missing: Vec<&str> = cols
        .iter()
        .zip(given)
        .filter(|(_, g)| !**g)
        .map(|(c, _)| c.name.as_str())
        .collect();
    QueryError::Invalid(format!("Some {what} are missing: {}", missing.join(", ")))
}

/// Where a statement writes: partition keys, and rows in each (`None`: static only).
struct Targets {
    keys: Vec<(i64, Vec<u8>)>,
    rows: Option<Vec<Clustering>>,
}

impl Engine {
    fn writable(&self, s: &Session, q: &QualifiedName) -> Result<std::sync::Arc<TableMeta>> {
        let t = self.table(s, q)?;
        if LOCAL_KEYSPACES.contains(&t.keyspace.as_str()) {
            return Err(QueryError::Unauthorized(format!(
                "{} keyspace is not user-modifiable.",
                t.keyspace
            )));
        }
        Ok(t)
    }

    fn durable(&self, t: &TableMeta) -> bool {
        self.schema()
            .keyspace(&t.keyspace)
            .is_none_or(|k| k.meta.durable_writes)
    }

    /// Writes mutations: on the replicas at `cl` when the node is part of a
    /// cluster, else locally.
    pub(super) async fn apply_all(&self, ms: &[Write], cl: Consistency, batch: bool) -> Result<()> {
        if ms.iter().any(|w| w.2 == "system_auth") {
            // Roles or grants change through this node: seen here at once.
            self.auth_cache.clear();
        }
        if let Some(r) = self
            .replicator()
            .filter(|r| !(r.alone() && ms.iter().all(|w| self.alone_suffices(&w.2, cl))))
        {
            return r.write(ms, cl, batch).await;
        }
        // Queued together: one group on the store's writer.
        let applied = ms
            .iter()
            .map(|(m, durable, _)| self.storage.apply_async(m.clone(), *durable));
        for r in futures_util::future::join_all(applied).await {
            r?;
        }
        Ok(())
    }

    pub(super) async fn modify(
        &self,
        s: &Session,
        stmt: &Statement,
        b: &Binder<'_>,
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        if has_condition(stmt) {
            return self.cas(s, stmt, b, o).await;
        }
        let ms = self.mutations(s, stmt, b, o.default_timestamp)?;
        self.apply_all(&ms, o.consistency, false).await?;
        Ok(ResultBody::Void)
    }

    fn timestamp_of(&self, using: &Using, b: &Binder<'_>, default_ts: Option<i64>) -> Result<i64> {
        match &using.timestamp {
            Some(t) => b.i64(t, "[timestamp]"),
            None => Ok(default_ts.unwrap_or_else(|| self.timestamp())),
        }
    }

    fn ttl_of(&self, using: &Using, b: &Binder<'_>, t: &TableMeta) -> Result<i32> {
        let ttl = match &using.ttl {
            Some(x) if b.is_unset(x) => i64::from(t.options.default_time_to_live),
            Some(x) => b.i64(x, "[ttl]")?,
            None => i64::from(t.options.default_time_to_live),
        };
        if ttl < 0 {
            return Err(QueryError::Invalid(format!(
                "A TTL must be greater or equal to 0, but was {ttl}"
            )));
        }
        if ttl > MAX_TTL {
            return Err(QueryError::Invalid(format!(
                "ttl is too large. requested ({ttl}) maximum ({MAX_TTL})"
            )));
        }
        Ok(ttl as i32)
    }

    fn targets(
        &self,
        t: &TableMeta,
        relations: &[Relation],
        b: &Binder<'_>,
        rows_needed: bool,
        allow_ranges: bool,
    ) -> Result<(Targets, Restrictions)> {
        let r = Restrictions::plan(t, relations, b)?;
        if let Some(f) = r.filters.first() {
            let col = column(t, &f.column)?;
            if matches!(col.kind, ColumnKind::Regular | ColumnKind::Static) {
                return Err(QueryError::Invalid(format!(
                    "Non PRIMARY KEY columns found in where clause: {}",
                    f.column
                )));
            }
        }
        let given: Vec<bool> = r.pk.iter().map(Option::is_some).collect();
        let Some(keys) = r.keys() else {
            if r.token_start.is_some() || r.token_end.is_some() {
                return Err(QueryError::Invalid(
                    "The token function cannot be used in WHERE clauses for UPDATE and DELETE statements".into(),
                ));
            }
            return Err(key_parts_missing(t, &given, "partition key parts", false));
        };
        for (_, k) in &keys {
            partitioner::validate_key(k).map_err(QueryError::Invalid)?;
        }
        let nck = t.clustering().count();
        let rows = if nck == 0 {
            Some(vec![Vec::new()])
        } else if let Some(cs) = r.full_clusterings(nck) {
            for c in cs {
                partitioner::validate_clustering(c).map_err(QueryError::Invalid)?;
            }
            Some(cs.to_vec())
        } else if !rows_needed || allow_ranges {
            None
        } else {
            let given: Vec<bool> = (0..nck).map(|i| i < r.ck_fixed).collect();
            return Err(key_parts_missing(t, &given, "clustering keys", true));
        };
        Ok((Targets { keys, rows }, r))
    }

    /// The mutations of an INSERT, UPDATE or DELETE.
    pub(super) fn mutations(
        &self,
        s: &Session,
        stmt: &Statement,
        b: &Binder<'_>,
        default_ts: Option<i64>,
    ) -> Result<Vec<Write>> {
        let mut out = Writes::default();
        self.add_mutations(&mut out, s, stmt, b, default_ts)?;
        Ok(out.list)
    }

    /// Adds the mutations of an INSERT, UPDATE or DELETE to those of its
    /// request, failing once they would take more than
    /// [`crate::node::cql::limits::MAX_REQUEST_MUTATION_BYTES`].
    pub(super) fn add_mutations(
        &self,
        out: &mut Writes,
        s: &Session,
        stmt: &Statement,
        b: &Binder<'_>,
        default_ts: Option<i64>,
    ) -> Result<()> {
        let now = self.now_micros() / 1_000_000;
        match stmt {
            Statement::Insert(ins) => {
                let t = self.writable(s, &ins.table)?;
                let ts = self.timestamp_of(&ins.using, b, default_ts)?;
                let ttl = self.ttl_of(&ins.using, b, &t)?;
                let mut by_name: BTreeMap<&str, &Term> = BTreeMap::new();
                for (c, v) in ins.columns.iter().zip(&ins.values) {
                    column(&t, c)?;
                    if by_name.insert(c.as_str(), v).is_some() {
                        return Err(QueryError::Invalid(format!(
                            "Multiple definitions found for column {c}"
                        )));
                    }
                }
                let mut pk = Vec::new();
                let mut pk_given = Vec::new();
                for c in t.partition_key() {
                    pk_given.push(by_name.contains_key(c.name.as_str()));
                }
                if pk_given.iter().any(|g| !g) {
                    return Err(key_parts_missing(
                        &t,
                        &pk_given,
                        "partition key parts",
                        false,
                    ));
                }
                for c in t.partition_key() {
                    let v = b
                        .bytes(by_name[c.name.as_str()], &c.ty, &c.name)?
                        .ok_or_else(|| {
                            QueryError::Invalid(format!(
                                "Invalid null value in condition for column {}",
                                c.name
                            ))
                        })?;
                    pk.push(v);
                }
                let ck_given: Vec<bool> = t
                    .clustering()
                    .map(|c| by_name.contains_key(c.name.as_str()))
                    .collect();
                // Only static columns and no clustering: a write to the partition's static row.
                let static_only = !ck_given.is_empty()
                    && ck_given.iter().all(|g| !g)
                    && by_name.keys().all(|c| {
                        t.column(c).is_some_and(|c| {
                            matches!(c.kind, ColumnKind::PartitionKey(_) | ColumnKind::Static)
                        })
                    })
                    && by_name.len() > pk_given.len();
                if ck_given.iter().any(|g| !g) && !static_only {
                    return Err(key_parts_missing(&t, &ck_given, "clustering keys", true));
                }
                let mut ck = Vec::new();
                for c in t.clustering().filter(|_| !static_only) {
                    let v = b
                        .bytes(by_name[c.name.as_str()], &c.ty, &c.name)?
                        .ok_or_else(|| {
                            QueryError::Invalid(format!(
                                "Invalid null value in condition for column {}",
                                c.name
                            ))
                        })?;
                    ck.push(v);
                }
                let refs: Vec<&[u8]> = pk.iter().map(Vec::as_slice).collect();
                let key = partitioner::partition_key_bytes(&refs);
                partitioner::validate_key(&key).map_err(QueryError::Invalid)?;
                partitioner::validate_clustering(&ck).map_err(QueryError::Invalid)?;
                let mut m = MutationBuilder::new(t.id, partitioner::token(&key), key, ts, ttl, now);
                if !static_only {
                    m.marker(&ck);
                }
                for col in &t.columns {
                    if matches!(
                        col.kind,
                        ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                    ) {
                        continue;
                    }
                    if let Some(term) = by_name.get(col.name.as_str()) {
                        let row = (col.kind != ColumnKind::Static).then_some(&ck);
                        set_column(&mut m, row, col, term, b)?;
                        out.check(&m)?;
                    }
                }
                out.push(m, self.durable(&t), &t.keyspace)
            }
            Statement::Update(u) => {
                let t = self.writable(s, &u.table)?;
                let ts = self.timestamp_of(&u.using, b, default_ts)?;
                let ttl = self.ttl_of(&u.using, b, &t)?;
                let mut cols = Vec::new();
                for a in &u.assignments {
                    let col = column(&t, a.column())?;
                    if matches!(
                        col.kind,
                        ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                    ) {
                        return Err(QueryError::Invalid(format!(
                            "PRIMARY KEY part {} found in SET part",
                            col.name
                        )));
                    }
                    cols.push(col.clone());
                }
                let only_static = cols.iter().all(|c| c.kind == ColumnKind::Static);
                let (targets, _) = self.targets(&t, &u.relations, b, !only_static, false)?;
                for (token, key) in &targets.keys {
                    let mut m = MutationBuilder::new(t.id, *token, key.clone(), ts, ttl, now);
                    let rows: Vec<Option<&Clustering>> = match &targets.rows {
                        Some(rows) if !only_static => rows.iter().map(Some).collect(),
                        _ => vec![None],
                    };
                    for row in rows {
                        for (a, col) in u.assignments.iter().zip(&cols) {
                            let at = if col.kind == ColumnKind::Static {
                                None
                            } else {
                                row
                            };
                            self.assign(&t, &mut m, *token, key, at, col, a, b, now)?;
                            out.check(&m)?;
                        }
                    }
                    out.push(m, self.durable(&t), &t.keyspace)?;
                }
                Ok(())
            }
            Statement::Delete(d) => {
                let t = self.writable(s, &d.table)?;
                let ts = self.timestamp_of(&d.using, b, default_ts)?;
                let mut cols = Vec::new();
                for tg in &d.targets {
                    let name = match tg {
                        DeleteTarget::Column(c) | DeleteTarget::Element(c, _) => c,
                    };
                    let col = column(&t, name)?;
                    if matches!(
                        col.kind,
                        ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                    ) {
                        return Err(QueryError::Invalid(format!(
                            "Invalid identifier {name} for deletion (should not be a PRIMARY KEY part)"
                        )));
                    }
                    cols.push(col.clone());
                }
                let only_static =
                    !cols.is_empty() && cols.iter().all(|c| c.kind == ColumnKind::Static);
                let (targets, r) = self.targets(
                    &t,
                    &d.relations,
                    b,
                    !cols.is_empty() && !only_static,
                    cols.is_empty(),
                )?;
                for (token, key) in &targets.keys {
                    let mut m = MutationBuilder::new(t.id, *token, key.clone(), ts, 0, now);
                    if cols.is_empty() {
                        match &targets.rows {
                            Some(rows) if t.clustering().count() > 0 || !rows.is_empty() => {
                                if t.clustering().count() == 0 {
                                    m.delete_partition();
                                } else {
                                    for c in rows {
                                        m.delete_row(c);
                                        out.check(&m)?;
                                    }
                                }
                            }
                            _ => {
                                let slices = r.slices();
                                if slices.is_empty() {
                                    m.delete_partition();
                                } else {
                                    for sl in slices {
                                        m.delete_range(sl.start, sl.end);
                                    }
                                }
                            }
                        }
                    } else {
                        let rows: Vec<Option<&Clustering>> = match &targets.rows {
                            Some(rows) if !only_static => rows.iter().map(Some).collect(),
                            _ => vec![None],
                        };
                        for row in rows {
                            for (tg, col) in d.targets.iter().zip(&cols) {
                                let at = if col.kind == ColumnKind::Static {
                                    None
                                } else {
                                    row
                                };
                                match tg {
                                    DeleteTarget::Column(_) => {
                                        if col.ty.is_multicell() {
                                            m.clear_collection(at, &col.name);
                                        } else {
                                            m.set(at, &col.name, None);
                                        }
                                    }
                                    DeleteTarget::Element(_, key) => {
                                        self.delete_element(
                                            &t, &mut m, *token, at, col, b, now, key,
                                        )?;
                                    }
                                }
                                out.check(&m)?;
                            }
                        }
                    }
                    out.push(m, self.durable(&t), &t.keyspace)?;
                }
                Ok(())
            }
            _ => Err(QueryError::Invalid(
                "Only INSERT, UPDATE or DELETE statements are allowed in a BATCH".into(),
            )),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn delete_element(
        &self,
        t: &TableMeta,
        m: &mut MutationBuilder,
        token: i64,
        at: Option<&Clustering>,
        col: &ColumnMeta,
        b: &Binder<'_>,
        now: i64,
        key: &Term,
    ) -> Result<()> {
        let (kt, _) = element_types(&col.ty);
        let k = b.bytes(key, &kt, &col.name)?.ok_or_else(|| {
            QueryError::Invalid(format!("Invalid null value for {} key", col.name))
        })?;
        match col.ty.unfrozen() {
            CqlType::Map(..) | CqlType::Set(_) if col.ty.is_multicell() => {
                m.remove_keyed(at, &col.name, vec![k]);
            }
            CqlType::List(_) if col.ty.is_multicell() => {
                let idx = i32::from_be_bytes(k.as_slice().try_into().unwrap_or([0; 4]));
                let pkey = m.key().to_vec();
                let current = self.current_list(t, token, &pkey, at, &col.name, now)?;
                let Some((path, _)) = usize::try_from(idx).ok().and_then(|i| current.get(i)) else {
                    return Err(QueryError::Invalid(format!(
                        "Attempted to delete an element from a list which is null or index {idx} is out of bound"
                    )));
                };
                m.remove_keyed(at, &col.name, vec![path.clone()]);
            }
            _ => {
                return Err(QueryError::Invalid(format!(
                    "Invalid operation ({}[...]) for non-collection column {}",
                    col.name, col.name
                )));
            }
        }
        Ok(())
    }

    /// The live elements (path, value) of a list column, in order. Read
    /// from this node's storage on the calling thread: the one blocking
    /// read left on the request path (building mutations is synchronous,
    /// also inside a transaction's decision); README, "Requests that hold
    /// no thread".
    fn current_list(
        &self,
        t: &TableMeta,
        token: i64,
        key: &[u8],
        at: Option<&Clustering>,
        column: &str,
        now: i64,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let Some(p) = self.storage.read_partition(&t.id, token, key)? else {
            return Ok(Vec::new());
        };
        let comparator = Comparator::for_table(t, value::compare);
        let live = p.resolve(now, &|a, b| comparator.compare(a, b));
        let cols = match at {
            None => Some(&live.static_columns),
            Some(c) => live
                .rows
                .iter()
                .find(|r| r.clustering == *c)
                .map(|r| &r.columns),
        };
        Ok(match cols.and_then(|c| c.get(column)) {
            Some(LiveColumn::Complex(els)) => els
                .iter()
                .map(|(p, c)| (p.clone(), c.value.clone().unwrap_or_default()))
                .collect(),
            _ => Vec::new(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn assign(
        &self,
        t: &TableMeta,
        m: &mut MutationBuilder,
        token: i64,
        key: &[u8],
        at: Option<&Clustering>,
        col: &ColumnMeta,
        a: &Assignment,
        b: &Binder<'_>,
        now: i64,
    ) -> Result<()> {
        let name = col.name.as_str();
        let multicell = col.ty.is_multicell();
        let bad = |op: &str| {
            QueryError::Invalid(format!(
                "Invalid operation ({name} = {name} {op} ...) for non collection column {name}"
            ))
        };
        match a {
            Assignment::Set { value, .. } => set_column(m, at, col, value, b)?,
            Assignment::SetElement { key: k, value, .. } => {
                let (kt, vt) = element_types(&col.ty);
                match col.ty.unfrozen() {
                    CqlType::Map(..) if multicell => {
                        let k = b
                            .bytes(k, &kt, name)?
                            .ok_or_else(|| QueryError::Invalid("Invalid null map key".into()))?;
                        match b.bytes(value, &vt, name)? {
                            Some(v) => m.add_keyed(at, name, vec![(k, v)]),
                            None => m.remove_keyed(at, name, vec![k]),
                        };
                    }
                    CqlType::List(_) if multicell => {
                        let idx = match b.value(k, &CqlType::Int, name)? {
                            Some(CqlValue::Int(i)) => i,
                            _ => {
                                return Err(QueryError::Invalid(
                                    "Invalid null value for list index".into(),
                                ));
                            }
                        };
                        let current = self.current_list(t, token, key, at, name, now)?;
                        let Some((path, _)) =
                            usize::try_from(idx).ok().and_then(|i| current.get(i))
                        else {
                            return Err(QueryError::Invalid(format!(
                                "List index {idx} out of bound, list has size {}",
                                current.len()
                            )));
                        };
                        match b.bytes(value, &vt, name)? {
                            Some(v) => m.add_keyed(at, name, vec![(path.clone(), v)]),
                            None => m.remove_keyed(at, name, vec![path.clone()]),
                        };
                    }
                    _ => {
                        return Err(QueryError::Invalid(format!(
                            "Invalid operation ({name}[..] = ...) for non list/map column {name}"
                        )));
                    }
                }
            }
            Assignment::Add { value, .. } | Assignment::Prepend { value, .. } => {
                if col.ty.is_counter() {
                    return Err(QueryError::unsupported("Counters are"));
                }
                if !multicell {
                    return Err(bad("+"));
                }
                let v = b.value(value, &col.ty, name)?;
                match (v, col.ty.unfrozen()) {
                    (None, _) => {}
                    (Some(CqlValue::List(items)), CqlType::List(_)) => {
                        let op = if matches!(a, Assignment::Prepend { .. }) {
                            ListOp::Prepend
                        } else {
                            ListOp::Append
                        };
                        m.add_list(at, name, op, items.iter().map(CqlValue::to_bytes).collect());
                    }
                    (Some(CqlValue::Set(items)), CqlType::Set(_))
                        if matches!(a, Assignment::Add { .. }) =>
                    {
                        m.add_keyed(
                            at,
                            name,
                            items.iter().map(|i| (i.to_bytes(), Vec::new())).collect(),
                        );
                    }
                    (Some(CqlValue::Map(entries)), CqlType::Map(..))
                        if matches!(a, Assignment::Add { .. }) =>
                    {
                        m.add_keyed(
                            at,
                            name,
                            entries
                                .iter()
                                .map(|(k, v)| (k.to_bytes(), v.to_bytes()))
                                .collect(),
                        );
                    }
                    _ => {
                        return Err(QueryError::Invalid(format!(
                            "Invalid operation ({name} = ... + {name}) for non list column {name}"
                        )));
                    }
                }
            }
            Assignment::Remove { value, .. } => {
                if col.ty.is_counter() {
                    return Err(QueryError::unsupported("Counters are"));
                }
                if !multicell {
                    return Err(bad("-"));
                }
                match col.ty.unfrozen() {
                    CqlType::Set(_) => {
                        if let Some(CqlValue::Set(items)) = b.value(value, &col.ty, name)? {
                            m.remove_keyed(
                                at,
                                name,
                                items.iter().map(CqlValue::to_bytes).collect(),
                            );
                        }
                    }
                    CqlType::Map(k, _) => {
                        let st = CqlType::Set(k.clone());
                        if let Some(CqlValue::Set(items)) = b.value(value, &st, name)? {
                            m.remove_keyed(
                                at,
                                name,
                                items.iter().map(CqlValue::to_bytes).collect(),
                            );
                        }
                    }
                    CqlType::List(e) => {
                        if let Some(CqlValue::List(items)) = b.value(value, &col.ty, name)? {
                            let drop: Vec<Vec<u8>> = items.iter().map(CqlValue::to_bytes).collect();
                            let current = self.current_list(t, token, key, at, name, now)?;
                            let paths = current
                                .into_iter()
                                .filter(|(_, v)| {
                                    drop.iter()
                                        .any(|d| value::compare(e, d, v) == Ordering::Equal)
                                })
                                .map(|(p, _)| p)
                                .collect();
                            m.remove_keyed(at, name, paths);
                        }
                    }
                    _ => return Err(bad("-")),
                }
            }
        }
        Ok(())
    }

    /// A conditional statement. In a cluster: Paxos among the partition's
    /// replicas ([`crate::node::cluster::paxos`]); alone: read, check and
    /// write under the node's LWT lock.
    async fn cas(
        &self,
        s: &Session,
        stmt: &Statement,
        b: &Binder<'_>,
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        let (q, condition, relations, using): (
            &QualifiedName,
            Condition,
            Option<&[Relation]>,
            &Using,
        ) = match stmt {
            Statement::Insert(i) => (&i.table, Condition::NotExists, None, &i.using),
            Statement::Update(u) => (&u.table, u.condition.clone(), Some(&u.relations), &u.using),
            Statement::Delete(d) => (&d.table, d.condition.clone(), Some(&d.relations), &d.using),
            _ => return Err(QueryError::Server("not a conditional statement".into())),
        };
        let serial = o.serial_consistency.unwrap_or(Consistency::Serial);
        if !matches!(serial, Consistency::Serial | Consistency::LocalSerial) {
            return Err(QueryError::Invalid(
                "Invalid consistency for conditional update. Must be one of SERIAL or LOCAL_SERIAL"
                    .into(),
            ));
        }
        if matches!(
            o.consistency,
            Consistency::Serial | Consistency::LocalSerial
        ) {
            return Err(QueryError::Invalid(format!(
                "{} is not supported as conditional update commit consistency. Use ANY if you mean \"make sure it is accepted but I don't care how many replicas commit it for non-SERIAL reads\"",
                o.consistency
            )));
        }
        let t = self.writable(s, q)?;
        if using.timestamp.is_some() {
            return Err(QueryError::Invalid(
                "Cannot provide custom timestamp for conditional updates".into(),
            ));
        }
        // The statement's partition (the timestamp is the Paxos ballot's, later).
        let probe = self.mutations(s, stmt, b, Some(0))?;
        let [(m, _, keyspace)] = probe.as_slice() else {
            return Err(QueryError::Invalid(
                "IN on the partition key is not supported with conditional updates".into(),
            ));
        };
        let row_clustering: Option<Clustering> = match relations {
            None => Some(m.rows.first().map(|r| r.0.clone()).unwrap_or_default()),
            Some(rels) => {
                let (targets, _) = self.targets(&t, rels, b, false, false)?;
                match targets.rows {
                    Some(rows) if rows.len() == 1 => rows.into_iter().next(),
                    Some(_) => {
                        return Err(QueryError::Invalid(
                            "IN on the clustering key columns is not supported with conditional updates".into(),
                        ));
                    }
                    None => None,
                }
            }
        };
        let (token, key) = (m.token, m.key.clone());
        let mut decide =
            |current: Option<PartitionData>, ts: i64| -> Result<(Option<Write>, ResultBody)> {
                let (applied, answer) =
                    self.lwt_answer(&t, &condition, row_clustering.as_ref(), current, &key, b)?;
                if !applied {
                    return Ok((None, answer));
                }
                let mut ms = self.mutations(s, stmt, b, Some(ts))?;
                Ok((ms.pop(), answer))
            };
        if let Some(r) = self
            .replicator()
            .filter(|r| !(r.alone() && self.alone_suffices(keyspace, o.consistency)))
        {
            return r
                .cas(
                    keyspace,
                    &t.id,
                    token,
                    &key,
                    serial,
                    o.consistency,
                    &mut decide,
                )
                .await;
        }
        let _lock = self.lwt.lock().await;
        let (table, k) = (t.id, key.clone());
        let current = self
            .storage
            .off_runtime(move |core| core.read_partition(&table, token, &k))
            .await??;
        let (write, answer) = decide(current, self.timestamp())?;
        if let Some((m, durable, _)) = write {
            self.storage.apply_async(m, durable).await?;
        }
        Ok(answer)
    }

    /// Whether a conditional statement applies to the partition as it is,
    /// and the `[applied]` row to answer.
    fn lwt_answer(
        &self,
        t: &TableMeta,
        condition: &Condition,
        row_clustering: Option<&Clustering>,
        current: Option<PartitionData>,
        partition_key: &[u8],
        b: &Binder<'_>,
    ) -> Result<(bool, ResultBody)> {
        let now = self.now_micros() / 1_000_000;
        let comparator = Comparator::for_table(t, value::compare);
        let live: Option<LivePartition> =
            current.map(|p| p.resolve(now, &|a, b| comparator.compare(a, b)));
        let row = live.as_ref().and_then(|p| match row_clustering {
            Some(c) => p.rows.iter().find(|r| r.clustering == *c),
            None => None,
        });
        let static_cols = live.as_ref().map(|p| &p.static_columns);
        let get = |name: &str| -> Option<&LiveColumn> {
            let col = t.column(name)?;
            if col.kind == ColumnKind::Static {
                static_cols?.get(name)
            } else {
                row?.columns.get(name)
            }
        };
        let spec = |name: &str, ty: CqlType| ColumnSpec {
            keyspace: t.keyspace.clone(),
            table: t.name.clone(),
            name: name.to_string(),
            ty,
        };
        let mut pk_parts: Option<Vec<Vec<u8>>> = None;
        let mut key_value = |col: &ColumnMeta| -> Option<Vec<u8>> {
            match col.kind {
                ColumnKind::PartitionKey(i) => {
                    if pk_parts.is_none() {
                        pk_parts = crate::node::db::read::split_partition_key(t, partition_key);
                    }
                    pk_parts.as_ref()?.get(usize::from(i)).cloned()
                }
                ColumnKind::Clustering(i, _) => {
                    row_clustering.as_ref()?.get(usize::from(i)).cloned()
                }
                _ => get(&col.name).and_then(|v| column_bytes(&col.ty, v)),
            }
        };
        let (applied, shown): (bool, Vec<&ColumnMeta>) = match condition {
            Condition::NotExists | Condition::Exists => {
                let exists = match row_clustering {
                    Some(_) => row.is_some(),
                    None => static_cols.is_some_and(|c| !c.is_empty()),
                };
                let applied = exists == matches!(condition, Condition::Exists);
                (
                    applied,
                    if exists {
                        t.columns.iter().collect()
                    } else {
                        Vec::new()
                    },
                )
            }
            Condition::Columns(conds) => {
                let mut ok = true;
                let mut shown = Vec::new();
                for c in conds {
                    let col = column(t, &c.column)?;
                    if !shown.iter().any(|x: &&ColumnMeta| x.name == col.name) {
                        shown.push(col);
                    }
                    ok &= self.check_condition(col, c, get(&c.column), b)?;
                }
                (ok, shown)
            }
            Condition::None => (true, Vec::new()),
        };
        let mut columns = vec![spec("[applied]", CqlType::Boolean)];
        let mut values = vec![Some(vec![u8::from(applied)])];
        if !applied {
            for col in shown {
                columns.push(spec(&col.name, col.ty.clone()));
                values.push(key_value(col));
            }
        }
        Ok((
            applied,
            ResultBody::Rows(Rows {
                columns,
                rows: vec![values],
                paging_state: None,
                no_metadata: false,
            }),
        ))
    }

    fn check_condition(
        &self,
        col: &ColumnMeta,
        c: &ColumnCondition,
        current: Option<&LiveColumn>,
        b: &Binder<'_>,
    ) -> Result<bool> {
        let (ty, cur): (CqlType, Option<Vec<u8>>) = match &c.element {
            None => (
                match &col.ty {
                    t if t.is_multicell() => t.clone().frozen(),
                    t => t.clone(),
                },
                current.and_then(|v| column_bytes(&col.ty, v)),
            ),
            Some(k) => {
                let (kt, vt) = element_types(&col.ty);
                let key = b.bytes(k, &kt, &col.name)?;
                let found = match (current, key) {
                    (Some(LiveColumn::Complex(els)), Some(key)) => match col.ty.unfrozen() {
                        CqlType::List(_) => {
                            let idx =
                                i32::from_be_bytes(key.as_slice().try_into().unwrap_or([0; 4]));
                            usize::try_from(idx)
                                .ok()
                                .and_then(|i| els.get(i))
                                .and_then(|(_, c)| c.value.clone())
                        }
                        _ => els
                            .iter()
                            .find(|(p, _)| value::compare(&kt, p, &key) == Ordering::Equal)
                            .and_then(|(_, c)| c.value.clone()),
                    },
                    _ => None,
                };
                (vt, found)
            }
        };
        let mut wanted = Vec::new();
        for v in &c.values {
            wanted.push(b.bytes(v, &ty, &col.name)?);
        }
        let test = |want: &Option<Vec<u8>>, op: Op| -> bool {
            match (&cur, want) {
                (None, None) => matches!(op, Op::Eq | Op::In),
                (Some(_), None) => op == Op::Ne,
                (None, Some(_)) => op == Op::Ne,
                (Some(a), Some(w)) => op.holds(value::compare(&ty, a, w)),
            }
        };
        Ok(match c.op {
            Op::In => wanted.iter().any(|w| test(w, Op::In)),
            Op::Contains | Op::ContainsKey => {
                return Err(QueryError::unsupported("CONTAINS in conditions is"));
            }
            op => test(&wanted[0], op),
        })
    }
}

/// Writes a column's new value (a whole collection overwrites).
fn set_column(
    m: &mut MutationBuilder,
    at: Option<&Clustering>,
    col: &ColumnMeta,
    term: &Term,
    b: &Binder<'_>,
) -> Result<()> {
    if b.is_unset(term) {
        return Ok(());
    }
    if col.ty.is_counter() {
        return Err(QueryError::unsupported("Counters are"));
    }
    if !col.ty.is_multicell() {
        let v = b.bytes(term, &col.ty, &col.name)?;
        m.set(at, &col.name, v);
        return Ok(());
    }
    match b.value(term, &col.ty, &col.name)? {
        None => {
            m.clear_collection(at, &col.name);
        }
        Some(CqlValue::List(items)) => {
            m.overwrite_list(
                at,
                &col.name,
                items.iter().map(CqlValue::to_bytes).collect(),
            );
        }
        Some(CqlValue::Set(items)) => {
            m.overwrite_keyed(
                at,
                &col.name,
                items.iter().map(|i| (i.to_bytes(), Vec::new())).collect(),
            );
        }
        Some(CqlValue::Map(entries)) => {
            m.overwrite_keyed(
                at,
                &col.name,
                entries
                    .iter()
                    .map(|(k, v)| (k.to_bytes(), v.to_bytes()))
                    .collect(),
            );
        }
        Some(other) => {
            return Err(QueryError::Invalid(format!(
                "Invalid value {other} for collection column {}",
                col.name
            )));
        }
    }
    Ok(())
}
