//! SELECT: from WHERE clauses to read commands, and from rows to results.
//!
//! `Restrictions::plan` sorts a WHERE clause the way Cassandra does:
//! partition key columns restricted by `=`/`IN` give the partitions to read
//! (or a `token()` range, or the whole ring); clustering columns restricted
//! as a prefix give clustering slices; anything else is a filter, which
//! needs `ALLOW FILTERING`. The same plan serves UPDATE and DELETE, which
//! need the partition keys and clusterings they write. What the `IN` lists
//! of a clause multiply into is bounded ([`crate::node::cql::limits`]).

use std::ops::Bound as RangeBound;
use std::sync::Arc;

use crate::node::cql::ast::*;
use crate::node::cql::session::{Options, Result, Session};
use crate::node::cql::{bind::Binder, bindspec::column, exec::Engine, limits::Product};
use crate::node::db::read::{
    self, Comparator, Filter, FilterOp, Partitions, Position, ReadCommand, ResultRow, Slice,
};
use crate::node::db::schema::{ColumnKind, ColumnMeta, Order, TableMeta};
use crate::node::db::storage::partition::{Bound, Clustering, LiveColumn};
use crate::node::db::system::tables::{self as systables, LOCAL_KEYSPACES, Sources};
use crate::node::error::QueryError;
use crate::node::locator::partitioner;
use crate::node::transport::protocol::frame::{ColumnSpec, ResultBody, Rows};
use crate::node::value::types::CqlType;
use crate::node::value::{self, CqlValue};

pub(super) const FILTERING: &str = "Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING";

/// One end of a clustering range on one column (or a tuple of columns).
#[derive(Debug, Clone)]
struct End {
    values: Vec<Vec<u8>>,
    inclusive: bool,
}

/// A WHERE clause, planned.
#[derive(Debug, Default)]
pub(super) struct Restrictions {
    /// Candidate values per partition key column (`None`: unrestricted).
    pub pk: Vec<Option<Vec<Vec<u8>>>>,
    pub token_start: Option<RangeBound<i64>>,
    pub token_end: Option<RangeBound<i64>>,
    /// Candidates for the leading clustering columns restricted by `=`/`IN`.
    pub ck_prefixes: Vec<Clustering>,
    /// How many leading clustering columns `ck_prefixes` fix.
    pub ck_fixed: usize,
    lower: Option<End>,
    upper: Option<End>,
    /// The range applies to the column at `ck_fixed`, in this order.
    range_order: Option<Order>,
    pub filters: Vec<Filter>,
    pub needs_filtering: bool,
    /// Cassandra's message when only key columns need filtering.
    pub partial_pk_error: Option<String>,
    pub clustering_error: Option<String>,
}

fn filter_op(op: Op) -> Option<FilterOp> {
    Some(match op {
        Op::Eq => FilterOp::Eq,
        Op::Ne => FilterOp::Ne,
        Op::Lt => FilterOp::Lt,
        Op::Le => FilterOp::Le,
        Op::Gt => FilterOp::Gt,
        Op::Ge => FilterOp::Ge,
        Op::Contains => FilterOp::Contains,
        Op::ContainsKey => FilterOp::ContainsKey,
        Op::In => return None,
    })
}

fn cartesian(prefixes: Vec<Vec<Vec<u8>>>, values: &[Vec<u8>]) -> Vec<Vec<Vec<u8>>> {
    let mut out = Vec::with_capacity(prefixes.len() * values.len());
    for p in &prefixes {
        for v in values {
            let mut n = p.clone();
            n.push(v.clone());
            out.push(n);
        }
    }
    out
}

fn not_null(v: Option<Vec<u8>>, col: &str) -> Result<Vec<u8>> {
    v.ok_or_else(|| {
        QueryError::Invalid(format!("Invalid null value in condition for column {col}"))
    })
}

impl Restrictions {
    pub(super) fn plan(
        t: &TableMeta,
        relations: &[Relation],
        b: &Binder<'_>,
    ) -> Result<Restrictions> {
        let npk = t.partition_key().count();
        let nck = t.clustering().count();
        let mut r = Restrictions {
            pk: vec![None; npk],
            ..Default::default()
        };
        // Per clustering column: `=`/`IN` candidates, and range ends.
        let mut ck_eq: Vec<Option<Vec<Vec<u8>>>> = vec![None; nck];
        let mut ck_lower: Vec<Option<End>> = vec![None; nck];
        let mut ck_upper: Vec<Option<End>> = vec![None; nck];
        // A multi-column range starting at a column: (start column, lower, upper).
        let mut multi_range: Option<(usize, Option<End>, Option<End>)> = None;
        let mut ck_filters: Vec<Filter> = Vec::new();
        let cmp = value::compare;

        for rel in relations {
            match rel {
                Relation::Token { columns, op, value } => {
                    let pk: Vec<&str> = t.partition_key().map(|c| c.name.as_str()).collect();
                    if columns.iter().map(String::as_str).collect::<Vec<_>>() != pk {
                        return Err(QueryError::Invalid(format!(
                            "The token function arguments must be in the partition key order: {}",
                            pk.join(", ")
                        )));
                    }
                    let v = b.i64(value, "partition key token").map_err(|_| {
                        QueryError::Invalid("Invalid null value for partition key token".into())
                    })?;
                    match op {
                        Op::Eq => {
                            r.token_start = Some(RangeBound::Included(v));
                            r.token_end = Some(RangeBound::Included(v));
                        }
                        Op::Gt => r.token_start = Some(RangeBound::Excluded(v)),
                        Op::Ge => r.token_start = Some(RangeBound::Included(v)),
                        Op::Lt => r.token_end = Some(RangeBound::Excluded(v)),
                        Op::Le => r.token_end = Some(RangeBound::Included(v)),
                        _ => {
                            return Err(QueryError::Invalid(format!(
                                "{} cannot be used for token relations",
                                op.as_str()
                            )));
                        }
                    }
                }
                Relation::Single {
                    column: c,
                    op,
                    value,
                } => {
                    let col = column(t, c)?;
                    let vty = match op {
                        Op::Contains => match col.ty.unfrozen() {
                            CqlType::Set(e) | CqlType::List(e) => (**e).clone(),
                            CqlType::Map(_, v) => (**v).clone(),
                            _ => {
                                return Err(QueryError::Invalid(format!(
                                    "Cannot use CONTAINS on non-collection column {c}"
                                )));
                            }
                        },
                        Op::ContainsKey => match col.ty.unfrozen() {
                            CqlType::Map(k, _) => (**k).clone(),
                            _ => {
                                return Err(QueryError::Invalid(format!(
                                    "Cannot use CONTAINS KEY on non-map column {c}"
                                )));
                            }
                        },
                        _ => col.ty.clone(),
                    };
                    let v = not_null(b.bytes(value, &vty, c)?, c)?;
                    match (col.kind, op) {
                        (ColumnKind::PartitionKey(i), Op::Eq) => {
                            r.pk[usize::from(i)] = Some(vec![v]);
                        }
                        (ColumnKind::Clustering(i, _), Op::Eq) => {
                            ck_eq[usize::from(i)] = Some(vec![v]);
                        }
                        (ColumnKind::Clustering(i, _), Op::Gt | Op::Ge) => {
                            ck_lower[usize::from(i)] = Some(End {
                                values: vec![v],
                                inclusive: *op == Op::Ge,
                            });
                        }
                        (ColumnKind::Clustering(i, _), Op::Lt | Op::Le) => {
                            ck_upper[usize::from(i)] = Some(End {
                                values: vec![v],
                                inclusive: *op == Op::Le,
                            });
                        }
                        (ColumnKind::PartitionKey(_), _) | (ColumnKind::Clustering(..), _) => {
                            r.needs_filtering = true;
                            ck_filters.push(Filter {
                                column: c.clone(),
                                op: filter_op(*op).expect("not IN"),
                                value: v,
                            });
                        }
                        _ => {
                            if col.ty.is_multicell()
                                && matches!(op, Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge)
                            {
                                return Err(QueryError::Invalid(format!(
                                    "Collection column '{c}' ({}) cannot be restricted by a '{}' relation",
                                    col.ty,
                                    op.as_str()
                                )));
                            }
                            r.needs_filtering = true;
                            r.filters.push(Filter {
                                column: c.clone(),
                                op: filter_op(*op).expect("not IN"),
                                value: v,
                            });
                        }
                    }
                }
                Relation::In { column: c, values } => {
                    let col = column(t, c)?;
                    let vals: Vec<Vec<u8>> = match values {
                        InValues::List(items) => items
                            .iter()
                            .map(|i| not_null(b.bytes(i, &col.ty, c)?, c))
                            .collect::<Result<_>>()?,
                        InValues::Marker(m) => {
                            let lt = CqlType::List(Box::new(col.ty.clone()));
                            match b.value(&Term::Marker(m.clone()), &lt, c)? {
                                Some(CqlValue::List(items)) => {
                                    items.iter().map(CqlValue::to_bytes).collect()
                                }
                                _ => {
                                    return Err(QueryError::Invalid(format!(
                                        "Invalid null value for IN restriction on {c}"
                                    )));
                                }
                            }
                        }
                    };
                    let mut vals = vals;
                    vals.sort_by(|a, b| cmp(&col.ty, a, b));
                    vals.dedup();
                    match col.kind {
                        ColumnKind::PartitionKey(i) => r.pk[usize::from(i)] = Some(vals),
                        ColumnKind::Clustering(i, _) => ck_eq[usize::from(i)] = Some(vals),
                        _ => {
                            return Err(QueryError::Invalid(format!(
                                "IN predicates on non-primary-key columns ({c}) is not yet supported"
                            )));
                        }
                    }
                }
                Relation::Multi {
                    columns,
                    op,
                    values,
                } => {
                    let cols: Vec<&ColumnMeta> = columns
                        .iter()
                        .map(|c| column(t, c))
                        .collect::<Result<_>>()?;
                    let start = match cols.first().map(|c| c.kind) {
                        Some(ColumnKind::Clustering(i, _)) => usize::from(i),
                        _ => {
                            return Err(QueryError::Invalid(
                                "Multi-column relations can only be applied to clustering columns"
                                    .into(),
                            ));
                        }
                    };
                    for (k, c) in cols.iter().enumerate() {
                        if !matches!(c.kind, ColumnKind::Clustering(i, _) if usize::from(i) == start + k)
                        {
                            return Err(QueryError::Invalid(format!(
                                "Clustering columns must appear in the PRIMARY KEY order in multi-column relations: ({})",
                                columns.join(", ")
                            )));
                        }
                    }
                    let types = CqlType::Tuple(cols.iter().map(|c| c.ty.clone()).collect());
                    let tuple = |term: &Term| -> Result<Vec<Vec<u8>>> {
                        match b.value(term, &types, "tuple")? {
                            Some(CqlValue::Tuple(items)) => items
                                .into_iter()
                                .map(|i| {
                                    i.map(|v| v.to_bytes()).ok_or_else(|| {
                                        QueryError::Invalid(
                                            "Invalid null value in multi-column relation".into(),
                                        )
                                    })
                                })
                                .collect(),
                            _ => Err(QueryError::Invalid(
                                "Invalid null value in multi-column relation".into(),
                            )),
                        }
                    };
                    match op {
                        Op::Eq => {
                            let vals = tuple(&values[0])?;
                            for (k, v) in vals.into_iter().enumerate() {
                                ck_eq[start + k] = Some(vec![v]);
                            }
                        }
                        Op::In => {
                            return Err(QueryError::unsupported(
                                "Multi-column IN restrictions are",
                            ));
                        }
                        Op::Gt | Op::Ge | Op::Lt | Op::Le => {
                            let end = End {
                                values: tuple(&values[0])?,
                                inclusive: matches!(op, Op::Ge | Op::Le),
                            };
                            let mr = multi_range.get_or_insert((start, None, None));
                            if matches!(op, Op::Gt | Op::Ge) {
                                mr.1 = Some(end);
                            } else {
                                mr.2 = Some(end);
                            }
                        }
                        _ => {
                            return Err(QueryError::Invalid(format!(
                                "Unsupported \"{}\" relation in multi-column relation",
                                op.as_str()
                            )));
                        }
                    }
                }
            }
        }

        // Partition key: all or nothing (without filtering).
        Product::of("partition key", r.pk.iter().flatten())?;
        let restricted = r.pk.iter().filter(|p| p.is_some()).count();
        if restricted > 0 && restricted < npk {
            let missing: Vec<&str> = t
                .partition_key()
                .zip(&r.pk)
                .filter(|(_, p)| p.is_none())
                .map(|(c, _)| c.name.as_str())
                .collect();
            r.needs_filtering = true;
            // Restricted parts become filters over a range scan.
            for (c, p) in t.partition_key().zip(std::mem::take(&mut r.pk)) {
                if let Some(vals) = p {
                    if vals.len() != 1 {
                        return Err(QueryError::Invalid(format!(
                            "Partition key parts: {} must be restricted as other parts are",
                            missing.join(", ")
                        )));
                    }
                    r.filters.push(Filter {
                        column: c.name.clone(),
                        op: FilterOp::Eq,
                        value: vals.into_iter().next().expect("one"),
                    });
                }
            }
            r.pk = vec![None; npk];
            r.partial_pk_error = Some(format!(
                "Partition key parts: {} must be restricted as other parts are",
                missing.join(", ")
            ));
        }

        // Clustering: a prefix of `=`/`IN`, then at most one range.
        let mut prefixes: Vec<Clustering> = vec![Vec::new()];
        let mut product = Product::new("clustering key");
        let mut i = 0;
        while i < nck {
            if let Some((start, lo, hi)) = &multi_range
                && *start == i
            {
                r.lower = lo.clone();
                r.upper = hi.clone();
                r.range_order = t.clustering().nth(i).map(|c| match c.kind {
                    ColumnKind::Clustering(_, o) => o,
                    _ => Order::Asc,
                });
                i = nck + 1;
                break;
            }
            if let Some(vals) = &ck_eq[i] {
                product.times(vals)?;
                prefixes = cartesian(prefixes, vals);
                i += 1;
                continue;
            }
            if ck_lower[i].is_some() || ck_upper[i].is_some() {
                r.lower = ck_lower[i].take();
                r.upper = ck_upper[i].take();
                r.range_order = t.clustering().nth(i).map(|c| match c.kind {
                    ColumnKind::Clustering(_, o) => o,
                    _ => Order::Asc,
                });
                i += 1;
            }
            break;
        }
        r.ck_fixed = prefixes.first().map_or(0, Vec::len);
        // Restrictions on later clustering columns: filters.
        let ck_cols: Vec<&ColumnMeta> = t.clustering().collect();
        for (k, col) in ck_cols.iter().enumerate() {
            if k < i.min(nck) {
                continue;
            }
            let mut later = Vec::new();
            if let Some(vals) = ck_eq[k].take() {
                if vals.len() != 1 {
                    return Err(QueryError::Invalid(format!(
                        "Clustering column \"{}\" cannot be restricted by an IN relation as preceding columns are not restricted",
                        col.name
                    )));
                }
                later.push((FilterOp::Eq, vals.into_iter().next().expect("one")));
            }
            if let Some(e) = ck_lower[k].take() {
                let op = if e.inclusive {
                    FilterOp::Ge
                } else {
                    FilterOp::Gt
                };
                later.push((op, e.values.into_iter().next().expect("one")));
            }
            if let Some(e) = ck_upper[k].take() {
                let op = if e.inclusive {
                    FilterOp::Le
                } else {
                    FilterOp::Lt
                };
                later.push((op, e.values.into_iter().next().expect("one")));
            }
            for (op, value) in later {
                if r.clustering_error.is_none() {
                    let prev = ck_cols[k.saturating_sub(1)].name.clone();
                    r.clustering_error = Some(format!(
                        "PRIMARY KEY column \"{}\" cannot be restricted as preceding column \"{prev}\" is not restricted",
                        col.name
                    ));
                }
                r.needs_filtering = true;
                r.filters.push(Filter {
                    column: col.name.clone(),
                    op,
                    value,
                });
            }
        }
        r.filters.extend(ck_filters);
        prefixes.sort_by(|a, b| Comparator::for_table(t, cmp).compare(a, b));
        prefixes.dedup();
        r.ck_prefixes = prefixes;
        Ok(r)
    }

    /// The partitions as (token, serialized key), when every key column is fixed.
    pub(super) fn keys(&self) -> Option<Vec<(i64, Vec<u8>)>> {
        let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
        for p in &self.pk {
            parts = cartesian(parts, p.as_ref()?);
        }
        Some(
            parts
                .into_iter()
                .map(|comps| {
                    let refs: Vec<&[u8]> = comps.iter().map(Vec::as_slice).collect();
                    let key = partitioner::partition_key_bytes(&refs);
                    (partitioner::token(&key), key)
                })
                .collect(),
        )
    }

    /// Clustering slices in clustering order (empty: every row).
    pub(super) fn slices(&self) -> Vec<Slice> {
        let has_range = self.lower.is_some() || self.upper.is_some();
        if self.ck_fixed == 0 && !has_range {
            return Vec::new();
        }
        let desc = self.range_order == Some(Order::Desc);
        let (first, last) = if desc {
            (&self.upper, &self.lower)
        } else {
            (&self.lower, &self.upper)
        };
        self.ck_prefixes
            .iter()
            .map(|p| {
                let bound = |e: &Option<End>| match e {
                    Some(e) => {
                        let mut c = p.clone();
                        c.extend(e.values.iter().cloned());
                        if e.inclusive {
                            Bound::Inclusive(c)
                        } else {
                            Bound::Exclusive(c)
                        }
                    }
                    None if p.is_empty() => Bound::Unbounded,
                    None => Bound::Inclusive(p.clone()),
                };
                Slice {
                    start: bound(first),
                    end: bound(last),
                }
            })
            .collect()
    }

    /// Whether `c` (a full clustering) is fixed by `=`/`IN` on every clustering column.
    pub(super) fn full_clusterings(&self, nck: usize) -> Option<&[Clustering]> {
        if self.ck_fixed == nck && self.lower.is_none() && self.upper.is_none() {
            Some(&self.ck_prefixes)
        } else {
            None
        }
    }

    pub(super) fn has_range(&self) -> bool {
        self.lower.is_some() || self.upper.is_some()
    }
}

/// What one output column of a SELECT shows.
#[derive(Debug, Clone)]
enum Out {
    Column(ColumnMeta),
    WriteTime(String),
    Ttl(String),
    Token,
    Count,
}

fn selection(t: &TableMeta, sel: &Select) -> Result<Vec<(Out, ColumnSpec)>> {
    let spec = |name: &str, ty: CqlType| ColumnSpec {
        keyspace: t.keyspace.clone(),
        table: t.name.clone(),
        name: name.to_string(),
        ty,
    };
    let Some(list) = &sel.selectors else {
        return Ok(t
            .columns
            .iter()
            .map(|c| (Out::Column(c.clone()), spec(&c.name, c.ty.clone())))
            .collect());
    };
    let mut out = Vec::with_capacity(list.len());
    for (s, alias) in list {
        let (o, name, ty) = match s {
            Selector::Column(c) => {
                let col = column(t, c)?;
                (Out::Column(col.clone()), c.clone(), col.ty.clone())
            }
            Selector::WriteTime(c) | Selector::Ttl(c) => {
                let col = column(t, c)?;
                let wt = matches!(s, Selector::WriteTime(_));
                let fname = if wt { "writetime" } else { "ttl" };
                if matches!(
                    col.kind,
                    ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                ) {
                    return Err(QueryError::Invalid(format!(
                        "Cannot use selection function {fname} on PRIMARY KEY part {c}"
                    )));
                }
                if col.ty.is_multicell() {
                    return Err(QueryError::Invalid(format!(
                        "Cannot use selection function {fname} on non-frozen collection {c}"
                    )));
                }
                if wt {
                    (
                        Out::WriteTime(c.clone()),
                        format!("writetime({c})"),
                        CqlType::Bigint,
                    )
                } else {
                    (Out::Ttl(c.clone()), format!("ttl({c})"), CqlType::Int)
                }
            }
            Selector::Token(cols) => {
                let pk: Vec<&str> = t.partition_key().map(|c| c.name.as_str()).collect();
                if cols.iter().map(String::as_str).collect::<Vec<_>>() != pk {
                    return Err(QueryError::Invalid(format!(
                        "Invalid arguments for token(): expected the partition key ({})",
                        pk.join(", ")
                    )));
                }
                (
                    Out::Token,
                    format!("system.token({})", cols.join(", ")),
                    CqlType::Bigint,
                )
            }
            Selector::CountAll => (Out::Count, "count".to_string(), CqlType::Bigint),
        };
        out.push((o, spec(alias.as_deref().unwrap_or(&name), ty)));
    }
    Ok(out)
}

/// Serializes a live column as a result cell.
pub(super) fn column_bytes(ty: &CqlType, c: &LiveColumn) -> Option<Vec<u8>> {
    match c {
        LiveColumn::Simple(cell) => cell.value.clone(),
        LiveColumn::Complex(els) => {
            let mut out = Vec::new();
            out.extend_from_slice(&(els.len() as i32).to_be_bytes());
            let put = |out: &mut Vec<u8>, b: &[u8]| {
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            };
            for (path, cell) in els {
                let v = cell.value.as_deref().unwrap_or_default();
                match ty.unfrozen() {
                    CqlType::Set(_) => put(&mut out, path),
                    CqlType::Map(..) => {
                        put(&mut out, path);
                        put(&mut out, v);
                    }
                    _ => put(&mut out, v),
                }
            }
            Some(out)
        }
    }
}

fn row_value(
    t: &TableMeta,
    row: &ResultRow,
    pk: &mut Option<Vec<Vec<u8>>>,
    out: &Out,
    now: i64,
) -> Option<Vec<u8>> {
    match out {
        Out::Column(c) => match c.kind {
            ColumnKind::PartitionKey(i) => {
                if pk.is_none() {
                    *pk = read::split_partition_key(t, &row.key);
                }
                pk.as_ref()?.get(usize::from(i)).cloned()
            }
            ColumnKind::Clustering(i, _) => row.clustering.get(usize::from(i)).cloned(),
            _ => row
                .columns
                .get(&c.name)
                .and_then(|v| column_bytes(&c.ty, v)),
        },
        Out::WriteTime(c) => match row.columns.get(c) {
            Some(LiveColumn::Simple(cell)) => Some(cell.timestamp.to_be_bytes().to_vec()),
            _ => None,
        },
        Out::Ttl(c) => match row.columns.get(c) {
            Some(LiveColumn::Simple(cell)) => cell
                .remaining_ttl(now)
                .map(|r| (r as i32).to_be_bytes().to_vec()),
            _ => None,
        },
        Out::Token => Some(row.token.to_be_bytes().to_vec()),
        Out::Count => None,
    }
}

impl Engine {
    pub(super) fn result_columns(&self, s: &Session, sel: &Select) -> Result<Vec<ColumnSpec>> {
        let t = self.table(s, &sel.table)?;
        Ok(selection(&t, sel)?.into_iter().map(|(_, c)| c).collect())
    }

    pub(super) async fn select(
        &self,
        s: &Session,
        sel: &Select,
        b: &Binder<'_>,
        o: &Options<'_>,
    ) -> Result<ResultBody> {
        let t = self.table(s, &sel.table)?;
        let outs = selection(&t, sel)?;
        let columns: Vec<ColumnSpec> = outs.iter().map(|(_, c)| c.clone()).collect();
        let count = outs.iter().any(|(o, _)| matches!(o, Out::Count));
        let positive = |term: &Option<Term>, name: &str, what: &str| -> Result<Option<usize>> {
            let Some(term) = term else {
                return Ok(None);
            };
            let n = b.i64(term, name)?;
            if n <= 0 {
                return Err(QueryError::Invalid(format!(
                    "{what} must be strictly positive"
                )));
            }
            Ok(Some(n as usize))
        };
        let limit = positive(&sel.limit, "[limit]", "LIMIT")?;
        let per_partition_limit = positive(
            &sel.per_partition_limit,
            "[per_partition_limit]",
            "PER PARTITION LIMIT",
        )?;
        if LOCAL_KEYSPACES.contains(&t.keyspace.as_str()) {
            return self.select_local(&t, sel, b, &outs, columns, limit);
        }
        let r = Restrictions::plan(&t, &sel.relations, b)?;
        let keys = r.keys();
        for (_, k) in keys.iter().flatten() {
            partitioner::validate_key(k).map_err(QueryError::Invalid)?;
        }
        if r.needs_filtering && !sel.allow_filtering {
            let only_keys = r.filters.iter().all(|f| {
                t.column(&f.column).is_some_and(|c| {
                    matches!(
                        c.kind,
                        ColumnKind::PartitionKey(_) | ColumnKind::Clustering(..)
                    )
                })
            });
            let key_msg = r.partial_pk_error.clone().or(r.clustering_error.clone());
            return Err(QueryError::Invalid(match key_msg {
                Some(m) if only_keys => m,
                _ => FILTERING.to_string(),
            }));
        }
        if keys.is_none() && (r.ck_fixed > 0 || r.has_range()) && !sel.allow_filtering {
            return Err(QueryError::Invalid(FILTERING.into()));
        }
        // ORDER BY
        let mut reversed = false;
        if !sel.order_by.is_empty() {
            if keys.is_none() {
                return Err(QueryError::Invalid(
                    "ORDER BY is only supported when the partition key is restricted by an EQ or an IN."
                        .into(),
                ));
            }
            let ck: Vec<&ColumnMeta> = t.clustering().collect();
            for (k, (c, o)) in sel.order_by.iter().enumerate() {
                let Some(col) = ck.get(k) else {
                    return Err(QueryError::Invalid(format!(
                        "Order by is currently only supported on the clustered columns of the PRIMARY KEY, got {c}"
                    )));
                };
                if col.name != *c {
                    return Err(QueryError::Invalid(
                        "Order by currently only supports the ordering of columns following their declared order in the PRIMARY KEY".into(),
                    ));
                }
                let declared = match col.kind {
                    ColumnKind::Clustering(_, d) => d,
                    _ => Order::Asc,
                };
                let flip = declared != *o;
                if k == 0 {
                    reversed = flip;
                } else if flip != reversed {
                    return Err(QueryError::Invalid("Unsupported order by relation".into()));
                }
            }
        }
        let partitions = match keys {
            Some(k) => Partitions::Keys(k),
            None => Partitions::Range {
                start: r.token_start.unwrap_or(RangeBound::Unbounded),
                end: r.token_end.unwrap_or(RangeBound::Unbounded),
            },
        };
        let now = self.now_micros() / 1_000_000;
        let mut slices = r.slices();
        if reversed {
            slices.reverse();
        }
        let cmd = ReadCommand {
            table: t.clone(),
            partitions,
            slices,
            filters: r.filters.clone(),
            reversed,
            limit: if count { None } else { limit },
            per_partition_limit,
            distinct: sel.distinct,
            now,
        };
        if sel.distinct {
            for (out, _) in &outs {
                if let Out::Column(c) = out
                    && !matches!(c.kind, ColumnKind::PartitionKey(_) | ColumnKind::Static)
                {
                    return Err(QueryError::Invalid(format!(
                        "SELECT DISTINCT queries must only request partition key columns and/or static columns (not {})",
                        c.name
                    )));
                }
            }
        }
        if count {
            let page = self.read_page(&cmd, o.consistency, None, None).await?;
            let n = limit.map_or(page.rows.len(), |l| page.rows.len().min(l));
            let mut pk = None;
            let row: Vec<Option<Vec<u8>>> = outs
                .iter()
                .map(|(o, _)| match o {
                    Out::Count => Some((n as i64).to_be_bytes().to_vec()),
                    other => page
                        .rows
                        .first()
                        .and_then(|r| row_value(&t, r, &mut pk, other, now)),
                })
                .collect();
            return Ok(ResultBody::Rows(Rows {
                columns,
                rows: vec![row],
                paging_state: None,
                no_metadata: o.skip_metadata,
            }));
        }
        // The paging state: rows returned so far (for LIMIT), then the position.
        let (already, from) = match o.paging_state {
            Some(bytes) => {
                let bad = || QueryError::Protocol("Invalid value for the paging state".into());
                let head: [u8; 4] = bytes
                    .get(..4)
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(bad)?;
                let pos = Position::decode(&bytes[4..]).ok_or_else(bad)?;
                (u32::from_be_bytes(head) as usize, Some(pos))
            }
            None => (0, None),
        };
        let mut cmd = cmd;
        if let Some(l) = limit {
            let left = l.saturating_sub(already);
            if left == 0 {
                return Ok(ResultBody::Rows(Rows {
                    columns,
                    rows: Vec::new(),
                    paging_state: None,
                    no_metadata: o.skip_metadata,
                }));
            }
            cmd.limit = Some(left);
        }
        let page_size = o.page_size.filter(|p| *p > 0).map(|p| p as usize);
        let page = self
            .read_page(&cmd, o.consistency, page_size, from.as_ref())
            .await?;
        let rows: Vec<Vec<Option<Vec<u8>>>> = page
            .rows
            .iter()
            .map(|row| {
                let mut pk = None;
                outs.iter()
                    .map(|(o, _)| row_value(&t, row, &mut pk, o, now))
                    .collect()
            })
            .collect();
        let returned = already + rows.len();
        let paging_state = page.next.map(|p| {
            let mut v = (returned as u32).to_be_bytes().to_vec();
            v.extend(p.encode());
            v
        });
        Ok(ResultBody::Rows(Rows {
            columns,
            rows,
            paging_state,
            no_metadata: o.skip_metadata,
        }))
    }

    fn select_local(
        &self,
        t: &Arc<TableMeta>,
        sel: &Select,
        b: &Binder<'_>,
        outs: &[(Out, ColumnSpec)],
        columns: Vec<ColumnSpec>,
        limit: Option<usize>,
    ) -> Result<ResultBody> {
        let local = self.local_info();
        let schema = self.schema();
        let peers = self.peers();
        let src = Sources {
            local: &local,
            peers: &peers,
            cluster_name: &self.cluster_name,
            gossip_generation: self.gossip_generation,
            schema: &schema,
        };
        let rows = systables::rows(&src, &t.keyspace, &t.name);
        // In ring order, as Cassandra returns them: by partition key token,
        // then clustering.
        let pk: Vec<&ColumnMeta> = t.partition_key().collect();
        let ck: Vec<&ColumnMeta> = t.clustering().collect();
        let bytes_of = |row: &crate::node::db::system::Row, c: &ColumnMeta| {
            row.get(c.name.as_str())
                .cloned()
                .flatten()
                .map(|v| v.to_bytes())
                .unwrap_or_default()
        };
        let mut keyed: Vec<(i64, Vec<Vec<u8>>, crate::node::db::system::Row)> = rows
            .into_iter()
            .map(|r| {
                let parts: Vec<Vec<u8>> = pk.iter().map(|c| bytes_of(&r, c)).collect();
                let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
                let token = partitioner::token(&partitioner::partition_key_bytes(&refs));
                let cks = ck.iter().map(|c| bytes_of(&r, c)).collect();
                (token, cks, r)
            })
            .collect();
        let comparator = Comparator::for_table(t, value::compare);
        keyed.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| comparator.compare(&a.1, &b.1)));
        let mut rows: Vec<crate::node::db::system::Row> =
            keyed.into_iter().map(|(_, _, r)| r).collect();
        // WHERE on a local table: `=`, `IN` and ranges, checked row by row.
        for rel in &sel.relations {
            let (c, ops): (&String, Vec<(Op, Vec<u8>)>) = match rel {
                Relation::Single {
                    column: c,
                    op,
                    value,
                } => {
                    let col = column(t, c)?;
                    (c, vec![(*op, not_null(b.bytes(value, &col.ty, c)?, c)?)])
                }
                Relation::In {
                    column: c,
                    values: InValues::List(items),
                } => {
                    let col = column(t, c)?;
                    let vals = items
                        .iter()
                        .map(|i| Ok((Op::Eq, not_null(b.bytes(i, &col.ty, c)?, c)?)))
                        .collect::<Result<_>>()?;
                    (c, vals)
                }
                _ => {
                    return Err(QueryError::unsupported(
                        "This restriction on a system table is",
                    ));
                }
            };
            let col = column(t, c)?.clone();
            let any = matches!(rel, Relation::In { .. });
            rows.retain(|row| {
                let Some(Some(v)) = row.get(col.name.as_str()) else {
                    return false;
                };
                let bytes = v.to_bytes();
                let test =
                    |(op, want): &(Op, Vec<u8>)| op.holds(value::compare(&col.ty, &bytes, want));
                if any {
                    ops.iter().any(test)
                } else {
                    ops.iter().all(test)
                }
            });
        }
        if let Some(l) = limit {
            rows.truncate(l);
        }
        let encode = |row: &crate::node::db::system::Row, o: &Out| -> Result<Option<Vec<u8>>> {
            match o {
                Out::Column(c) => Ok(row
                    .get(c.name.as_str())
                    .cloned()
                    .flatten()
                    .map(|v| v.to_bytes())),
                Out::Count => Ok(None),
                _ => Err(QueryError::unsupported(
                    "writetime(), ttl() and token() on system tables are",
                )),
            }
        };
        let out_rows = if outs.iter().any(|(o, _)| matches!(o, Out::Count)) {
            let n = rows.len() as i64;
            vec![
                outs.iter()
                    .map(|(o, _)| match o {
                        Out::Count => Ok(Some(n.to_be_bytes().to_vec())),
                        other => rows.first().map_or(Ok(None), |r| encode(r, other)),
                    })
                    .collect::<Result<Vec<_>>>()?,
            ]
        } else {
            rows.iter()
                .map(|r| {
                    outs.iter()
                        .map(|(o, _)| encode(r, o))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<Vec<_>>>()?
        };
        Ok(ResultBody::Rows(Rows {
            columns,
            rows: out_rows,
            paging_state: None,
            no_metadata: false,
        }))
    }
}
