//! Reads: which partitions and rows a SELECT touches, in what order, and how
//! many.
//!
//! The CQL layer turns a SELECT into a [`ReadCommand`]: the partitions (by
//! key, or a token range over the ring), clustering slices within them, filters
//! on other columns (ALLOW FILTERING), the order (reversed or not), LIMIT and
//! PER PARTITION LIMIT, and DISTINCT. [`execute`] runs it against storage and
//! returns live rows in Cassandra's order: partitions by token, rows by the
//! clustering order of the table (each column ASC or DESC), with paging.
//!
//! Values are compared through a [`CompareFn`] for their CQL type, so this
//! module knows nothing of value encodings.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Bound as RangeBound;
use std::sync::Arc;

use crate::node::db::schema::{ColumnKind, Order, TableMeta};
use crate::node::db::storage::cell::Cell;
use crate::node::db::storage::partition::{
    Bound, Clustering, LiveColumn, LivePartition, PartitionData,
};
use crate::node::db::storage::{StorageCore, StorageError};
use crate::node::value::types::CqlType;

/// Compares two serialized values of one CQL type.
pub type CompareFn = fn(&CqlType, &[u8], &[u8]) -> Ordering;

/// Orders clustering prefixes as the table declares (types and ASC/DESC).
#[derive(Clone)]
pub struct Comparator {
    columns: Vec<(CqlType, Order)>,
    cmp: CompareFn,
}

impl Comparator {
    pub fn for_table(table: &TableMeta, cmp: CompareFn) -> Comparator {
        let columns = table
            .columns
            .iter()
            .filter_map(|c| match c.kind {
                ColumnKind::Clustering(_, order) => Some((c.ty.clone(), order)),
                _ => None,
            })
            .collect();
        Comparator { columns, cmp }
    }

    /// Compares component by component over the shorter prefix.
    pub fn compare(&self, a: &[Vec<u8>], b: &[Vec<u8>]) -> Ordering {
        for ((x, y), (ty, order)) in a.iter().zip(b).zip(&self.columns) {
            let o = (self.cmp)(ty, x, y);
            let o = if *order == Order::Desc {
                o.reverse()
            } else {
                o
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    }

    /// Whether `c` falls within `[start, end]` as clustering bounds (prefixes).
    pub fn in_slice(&self, c: &[Vec<u8>], slice: &Slice) -> bool {
        let after_start = match &slice.start {
            Bound::Unbounded => true,
            Bound::Inclusive(p) => self.compare(c, p) != Ordering::Less,
            Bound::Exclusive(p) => self.compare(c, p) == Ordering::Greater,
        };
        let before_end = match &slice.end {
            Bound::Unbounded => true,
            Bound::Inclusive(p) => self.compare(c, p) != Ordering::Greater,
            Bound::Exclusive(p) => self.compare(c, p) == Ordering::Less,
        };
        after_start && before_end
    }
}

/// Which partitions a read touches.
#[derive(Debug, Clone, PartialEq)]
pub enum Partitions {
    /// Given partition keys (serialized), each with its token; read in token order.
    Keys(Vec<(i64, Vec<u8>)>),
    /// A range of the ring (`token(pk) > x AND token(pk) <= y`, or everything).
    Range {
        start: RangeBound<i64>,
        end: RangeBound<i64>,
    },
}

/// A clustering range, in the table's clustering order (bounds are prefixes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    pub start: Bound,
    pub end: Bound,
}

impl Slice {
    pub const ALL: Slice = Slice {
        start: Bound::Unbounded,
        end: Bound::Unbounded,
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// A collection contains the value (sets and lists: an element; maps: a value).
    Contains,
    /// A map contains the key.
    ContainsKey,
}

/// A restriction checked on each row (ALLOW FILTERING, or non-key columns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub column: String,
    pub op: FilterOp,
    pub value: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ReadCommand {
    pub table: Arc<TableMeta>,
    pub partitions: Partitions,
    /// Clustering slices (disjoint, in clustering order); empty means all rows.
    pub slices: Vec<Slice>,
    pub filters: Vec<Filter>,
    /// `ORDER BY` opposite to the table's clustering order.
    pub reversed: bool,
    pub limit: Option<usize>,
    pub per_partition_limit: Option<usize>,
    /// `SELECT DISTINCT`: one row per partition (partition key and statics).
    pub distinct: bool,
    /// Seconds since the epoch, for TTL expiry.
    pub now: i64,
}

/// One row of a read: its partition, its clustering, and live columns
/// (static columns included under their names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub token: i64,
    pub key: Vec<u8>,
    /// Empty for a partition that has only static columns.
    pub clustering: Clustering,
    pub marker: Option<Cell>,
    pub columns: BTreeMap<String, LiveColumn>,
}

/// Where a paged read resumes: after this partition (and row, if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub token: i64,
    pub key: Vec<u8>,
    /// The last row returned in that partition; `None`: the partition is done.
    pub clustering: Option<Clustering>,
    /// Rows already returned from that partition (for PER PARTITION LIMIT).
    pub returned_in_partition: usize,
}

impl Position {
    /// Opaque paging-state bytes for the client.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&self.token.to_be_bytes());
        out.extend_from_slice(&(self.key.len() as u32).to_be_bytes());
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&(self.returned_in_partition as u32).to_be_bytes());
        if let Some(c) = &self.clustering {
            out.push(c.len() as u8);
            for v in c {
                out.extend_from_slice(&(v.len() as u32).to_be_bytes());
                out.extend_from_slice(v);
            }
        }
        out
    }

    /// Reads paging-state bytes; `None` when they are not ours.
    pub fn decode(bytes: &[u8]) -> Option<Position> {
        let mut r = bytes;
        let mut take = |n: usize| -> Option<&[u8]> {
            if r.len() < n {
                return None;
            }
            let (a, b) = r.split_at(n);
            r = b;
            Some(a)
        };
        let token = i64::from_be_bytes(take(8)?.try_into().ok()?);
        let klen = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let key = take(klen)?.to_vec();
        let returned_in_partition = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
        let clustering = match take(1) {
            None => None,
            Some(n) => {
                let mut c = Vec::with_capacity(usize::from(n[0]));
                for _ in 0..n[0] {
                    let len = u32::from_be_bytes(take(4)?.try_into().ok()?) as usize;
                    c.push(take(len)?.to_vec());
                }
                Some(c)
            }
        };
        if !r.is_empty() {
            return None;
        }
        Some(Position {
            token,
            key,
            clustering,
            returned_in_partition,
        })
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Vec<ResultRow>,
    /// Set when more rows may follow.
    pub next: Option<Position>,
}

fn passes(row_value: Option<&LiveColumn>, f: &Filter, ty: &CqlType, cmp: CompareFn) -> bool {
    fn simple(c: &Cell) -> Option<&[u8]> {
        c.value.as_deref()
    }
    match (f.op, row_value) {
        (FilterOp::Contains, Some(LiveColumn::Complex(els))) => {
            let el_ty = match ty {
                CqlType::Map(_, v) => v.as_ref(),
                CqlType::List(t) => t.as_ref(),
                CqlType::Set(t) => t.as_ref(),
                other => other,
            };
            els.iter().any(|(path, c)| {
                let v = if matches!(ty, CqlType::Set(_)) {
                    Some(path.as_slice())
                } else {
                    simple(c)
                };
                v.is_some_and(|v| cmp(el_ty, v, &f.value) == Ordering::Equal)
            })
        }
        (FilterOp::ContainsKey, Some(LiveColumn::Complex(els))) => {
            let key_ty = match ty {
                CqlType::Map(k, _) => k.as_ref(),
                other => other,
            };
            els.iter()
                .any(|(path, _)| cmp(key_ty, path, &f.value) == Ordering::Equal)
        }
        (FilterOp::Contains | FilterOp::ContainsKey, _) => false,
        (op, Some(LiveColumn::Simple(c))) => match simple(c) {
            Some(v) => {
                let o = cmp(ty, v, &f.value);
                match op {
                    FilterOp::Eq => o == Ordering::Equal,
                    FilterOp::Ne => o != Ordering::Equal,
                    FilterOp::Lt => o == Ordering::Less,
                    FilterOp::Le => o != Ordering::Greater,
                    FilterOp::Gt => o == Ordering::Greater,
                    FilterOp::Ge => o != Ordering::Less,
                    FilterOp::Contains | FilterOp::ContainsKey => false,
                }
            }
            None => false,
        },
        // A missing (null) value passes no comparison.
        (_, _) => false,
    }
}

/// Splits a serialized partition key into its components (composite keys
/// are `u16 length, bytes, 0` per component).
pub fn split_partition_key(table: &TableMeta, key: &[u8]) -> Option<Vec<Vec<u8>>> {
    let n = table.partition_key().count();
    if n <= 1 {
        return Some(vec![key.to_vec()]);
    }
    let mut out = Vec::with_capacity(n);
    let mut r = key;
    for _ in 0..n {
        if r.len() < 2 {
            return None;
        }
        let len = usize::from(u16::from_be_bytes([r[0], r[1]]));
        if r.len() < 2 + len + 1 {
            return None;
        }
        out.push(r[2..2 + len].to_vec());
        r = &r[2 + len + 1..];
    }
    r.is_empty().then_some(out)
}

struct Reader<'a> {
    cmd: &'a ReadCommand,
    comparator: Comparator,
    cmp: CompareFn,
}

impl Reader<'_> {
    fn key_filters_pass(&self, p: &LivePartition, row: &ResultRow) -> bool {
        self.cmd.filters.iter().all(|f| {
            let Some(col) = self.cmd.table.column(&f.column) else {
                return false;
            };
            let value = match col.kind {
                ColumnKind::PartitionKey(i) => split_partition_key(&self.cmd.table, &p.key)
                    .and_then(|parts| parts.get(usize::from(i)).cloned())
                    .map(|v| LiveColumn::Simple(Cell::live(0, v))),
                ColumnKind::Clustering(i, _) => row
                    .clustering
                    .get(usize::from(i))
                    .map(|v| LiveColumn::Simple(Cell::live(0, v.clone()))),
                _ => row.columns.get(&f.column).cloned(),
            };
            passes(value.as_ref(), f, &col.ty, self.cmp)
        })
    }

    /// The rows of one partition that the command selects, in query order.
    fn rows_of(&self, p: &LivePartition, after: Option<&Clustering>) -> Vec<ResultRow> {
        let mut out = Vec::new();
        let has_clustering = self.cmd.table.clustering().next().is_some();
        let static_only = p.rows.is_empty() && !p.static_columns.is_empty();
        if self.cmd.distinct || (static_only && self.cmd.slices.is_empty()) {
            let row = ResultRow {
                token: p.token,
                key: p.key.clone(),
                clustering: Vec::new(),
                marker: None,
                columns: p.static_columns.clone(),
            };
            if after.is_none()
                && self.key_filters_pass(p, &row)
                && (self.cmd.distinct || has_clustering)
            {
                out.push(row);
            }
            return out;
        }
        let mut rows: Vec<&crate::node::db::storage::partition::LiveRow> = p
            .rows
            .iter()
            .filter(|r| {
                self.cmd.slices.is_empty()
                    || self
                        .cmd
                        .slices
                        .iter()
                        .any(|s| self.comparator.in_slice(&r.clustering, s))
            })
            .collect();
        if self.cmd.reversed {
            rows.reverse();
        }
        for r in rows {
            if let Some(a) = after {
                let o = self.comparator.compare(&r.clustering, a);
                let past = if self.cmd.reversed {
                    o == Ordering::Less
                } else {
                    o == Ordering::Greater
                };
                if !past {
                    continue;
                }
            }
            let mut columns = p.static_columns.clone();
            columns.extend(r.columns.iter().map(|(k, v)| (k.clone(), v.clone())));
            let row = ResultRow {
                token: p.token,
                key: p.key.clone(),
                clustering: r.clustering.clone(),
                marker: r.marker.clone(),
                columns,
            };
            if self.key_filters_pass(p, &row) {
                out.push(row);
            }
        }
        out
    }
}

/// Where a read finds partitions: the node's storage, or partitions
/// already gathered from replicas and merged.
pub trait PartitionSource {
    fn read_partition(
        &self,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
    ) -> Result<Option<PartitionData>, StorageError>;
    fn scan(
        &self,
        table: &[u8; 16],
        after: Option<(i64, &[u8])>,
        start_token: i64,
        end_token: i64,
        limit: usize,
    ) -> Result<Vec<PartitionData>, StorageError>;
}

impl<T: PartitionSource + ?Sized> PartitionSource for &T {
    fn read_partition(
        &self,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
    ) -> Result<Option<PartitionData>, StorageError> {
        (**self).read_partition(table, token, key)
    }
    fn scan(
        &self,
        table: &[u8; 16],
        after: Option<(i64, &[u8])>,
        start_token: i64,
        end_token: i64,
        limit: usize,
    ) -> Result<Vec<PartitionData>, StorageError> {
        (**self).scan(table, after, start_token, end_token, limit)
    }
}

impl PartitionSource for StorageCore {
    fn read_partition(
        &self,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
    ) -> Result<Option<PartitionData>, StorageError> {
        StorageCore::read_partition(self, table, token, key)
    }
    fn scan(
        &self,
        table: &[u8; 16],
        after: Option<(i64, &[u8])>,
        start_token: i64,
        end_token: i64,
        limit: usize,
    ) -> Result<Vec<PartitionData>, StorageError> {
        StorageCore::scan(self, table, after, start_token, end_token, limit)
    }
}

/// Partitions gathered from replicas and merged, in ring order.
#[derive(Default)]
pub struct Gathered(pub BTreeMap<(i64, Vec<u8>), PartitionData>);

impl Gathered {
    /// Adds one replica's version of a partition.
    pub fn add(&mut self, p: PartitionData) {
        match self.0.entry((p.token, p.key.clone())) {
            std::collections::btree_map::Entry::Occupied(mut e) => e.get_mut().merge(p),
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(p);
            }
        }
    }
}

impl PartitionSource for Gathered {
    fn read_partition(
        &self,
        _table: &[u8; 16],
        token: i64,
        key: &[u8],
    ) -> Result<Option<PartitionData>, StorageError> {
        Ok(self.0.get(&(token, key.to_vec())).cloned())
    }
    fn scan(
        &self,
        _table: &[u8; 16],
        after: Option<(i64, &[u8])>,
        start_token: i64,
        end_token: i64,
        limit: usize,
    ) -> Result<Vec<PartitionData>, StorageError> {
        use std::ops::Bound as B;
        let lower = match after {
            Some((t, k)) => B::Excluded((t, k.to_vec())),
            None => B::Included((start_token, Vec::new())),
        };
        Ok(self
            .0
            .range((lower, B::Unbounded))
            .filter(|((t, _), _)| *t >= start_token)
            .take_while(|((t, _), _)| *t <= end_token)
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect())
    }
}

/// Runs a read: up to `page_size` rows (and LIMIT), resuming at `from`.
pub fn execute(
    storage: &dyn PartitionSource,
    cmd: &ReadCommand,
    cmp: CompareFn,
    page_size: Option<usize>,
    from: Option<&Position>,
) -> Result<Page, StorageError> {
    let reader = Reader {
        cmd,
        comparator: Comparator::for_table(&cmd.table, cmp),
        cmp,
    };
    let limit = cmd.limit.unwrap_or(usize::MAX);
    let page = page_size.unwrap_or(usize::MAX).min(limit);
    let per_partition = if cmd.distinct {
        1
    } else {
        cmd.per_partition_limit.unwrap_or(usize::MAX)
    };
    let mut rows: Vec<ResultRow> = Vec::new();
    let mut next: Option<Position> = None;
    let cmp_pos = |a: (i64, &[u8]), b: (i64, &[u8])| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1));

    // Takes rows of one partition; returns false when the page is full.
    let take = |p: &LivePartition,
                resume: Option<&Position>,
                rows: &mut Vec<ResultRow>,
                next: &mut Option<Position>|
     -> bool {
        let (after, mut returned) = match resume {
            Some(pos) if pos.token == p.token && pos.key == p.key => {
                (pos.clustering.as_ref(), pos.returned_in_partition)
            }
            _ => (None, 0),
        };
        for row in reader.rows_of(p, after) {
            if returned >= per_partition {
                break;
            }
            if rows.len() >= page {
                return false;
            }
            returned += 1;
            *next = Some(Position {
                token: p.token,
                key: p.key.clone(),
                clustering: Some(row.clustering.clone()),
                returned_in_partition: returned,
            });
            rows.push(row);
        }
        if rows.len() >= page {
            return false;
        }
        true
    };

    let table_id = cmd.table.id;
    let clustering_cmp = |a: &[Vec<u8>], b: &[Vec<u8>]| reader.comparator.compare(a, b);
    match &cmd.partitions {
        Partitions::Keys(keys) => {
            let mut keys: Vec<&(i64, Vec<u8>)> = keys.iter().collect();
            keys.sort_by(|a, b| cmp_pos((a.0, &a.1), (b.0, &b.1)));
            keys.dedup();
            let mut full = false;
            for (token, key) in keys {
                if let Some(f) = from
                    && cmp_pos((*token, key), (f.token, &f.key)) == Ordering::Less
                {
                    continue;
                }
                let Some(data) = storage.read_partition(&table_id, *token, key)? else {
                    continue;
                };
                let live = data.resolve(cmd.now, &clustering_cmp);
                if !take(&live, from, &mut rows, &mut next) {
                    full = true;
                    break;
                }
            }
            if !full {
                next = None;
            }
        }
        Partitions::Range { start, end } => {
            let (mut after, start_token): (Option<(i64, Vec<u8>)>, i64) = match start {
                RangeBound::Unbounded => (None, i64::MIN),
                RangeBound::Included(t) => (None, *t),
                RangeBound::Excluded(t) => (None, t.saturating_add(1)),
            };
            let end_token = match end {
                RangeBound::Unbounded => i64::MAX,
                RangeBound::Included(t) => *t,
                RangeBound::Excluded(t) => t.saturating_sub(1),
            };
            let mut resume_first = false;
            if let Some(f) = from {
                after = Some((f.token, f.key.clone()));
                // The resume partition itself may hold more rows.
                resume_first = f.clustering.is_some();
            }
            let mut full = false;
            if resume_first
                && let Some(f) = from
                && let Some(data) = storage.read_partition(&table_id, f.token, &f.key)?
            {
                let live = data.resolve(cmd.now, &clustering_cmp);
                full = !take(&live, from, &mut rows, &mut next);
            }
            'scan: while !full {
                let batch = storage.scan(
                    &table_id,
                    after.as_ref().map(|(t, k)| (*t, k.as_slice())),
                    start_token,
                    end_token,
                    64,
                )?;
                if batch.is_empty() {
                    break;
                }
                for data in &batch {
                    after = Some((data.token, data.key.clone()));
                    let live = data.resolve(cmd.now, &clustering_cmp);
                    if !take(&live, None, &mut rows, &mut next) {
                        full = true;
                        break 'scan;
                    }
                }
            }
            if !full {
                next = None;
            }
        }
    }
    if rows.len() >= limit {
        next = None;
    }
    Ok(Page { rows, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::schema::{OptionValue, TableSpec};
    use crate::node::db::storage::partition::{ColumnData, RowData};
    use crate::node::db::storage::{CommitlogSync, Mutation, Storage};

    fn cmp(ty: &CqlType, a: &[u8], b: &[u8]) -> Ordering {
        match ty {
            CqlType::Int => i32::from_be_bytes(a.try_into().unwrap())
                .cmp(&i32::from_be_bytes(b.try_into().unwrap())),
            _ => a.cmp(b),
        }
    }

    fn table(order: Order) -> Arc<TableMeta> {
        let spec = TableSpec {
            columns: vec![
                ("k".into(), CqlType::Text, false),
                ("c".into(), CqlType::Int, false),
                ("v".into(), CqlType::Text, false),
                ("s".into(), CqlType::Text, true),
            ],
            partition_key: vec!["k".into()],
            clustering: vec!["c".into()],
            clustering_order: vec![("c".into(), order)],
            options: Vec::<(String, OptionValue)>::new(),
        };
        Arc::new(TableMeta::create("ks", "t", [9; 16], &spec).unwrap())
    }

    fn token(key: &str) -> i64 {
        // Any stable function does for these tests.
        key.bytes()
            .fold(0i64, |h, b| h.wrapping_mul(31).wrapping_add(i64::from(b)))
    }

    fn put(s: &Storage, t: &TableMeta, key: &str, c: i32, v: &str) {
        let mut row = RowData {
            marker: Some(Cell::live(1, vec![])),
            ..Default::default()
        };
        row.columns.insert(
            "v".into(),
            ColumnData::Simple(Cell::live(1, v.as_bytes().to_vec())),
        );
        s.apply(
            &Mutation {
                table: t.id,
                token: token(key),
                key: key.as_bytes().to_vec(),
                rows: vec![(vec![c.to_be_bytes().to_vec()], row)],
                ..Default::default()
            },
            true,
        )
        .unwrap();
    }

    fn cmd(t: &Arc<TableMeta>, partitions: Partitions) -> ReadCommand {
        ReadCommand {
            table: t.clone(),
            partitions,
            slices: vec![],
            filters: vec![],
            reversed: false,
            limit: None,
            per_partition_limit: None,
            distinct: false,
            now: 0,
        }
    }

    fn cs(page: &Page) -> Vec<(String, i32)> {
        page.rows
            .iter()
            .map(|r| {
                (
                    String::from_utf8(r.key.clone()).unwrap(),
                    i32::from_be_bytes(r.clustering[0].clone().try_into().unwrap()),
                )
            })
            .collect()
    }

    fn setup(order: Order) -> (tempfile::TempDir, Storage, Arc<TableMeta>) {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let t = table(order);
        for key in ["a", "b", "c"] {
            for c in [3, 1, 2, -5] {
                put(&s, &t, key, c, &format!("{key}{c}"));
            }
        }
        (dir, s, t)
    }

    #[test]
    fn clustering_order_slices_and_reversal() {
        let (_d, s, t) = setup(Order::Asc);
        let one = Partitions::Keys(vec![(token("a"), b"a".to_vec())]);
        let page = execute(&*s, &cmd(&t, one.clone()), cmp, None, None).unwrap();
        assert_eq!(
            cs(&page).iter().map(|x| x.1).collect::<Vec<_>>(),
            [-5, 1, 2, 3]
        );
        let mut c = cmd(&t, one.clone());
        c.slices = vec![Slice {
            start: Bound::Exclusive(vec![1i32.to_be_bytes().to_vec()]),
            end: Bound::Unbounded,
        }];
        c.reversed = true;
        assert_eq!(
            cs(&execute(&*s, &c, cmp, None, None).unwrap())
                .iter()
                .map(|x| x.1)
                .collect::<Vec<_>>(),
            [3, 2]
        );

        let (_d2, s2, t2) = setup(Order::Desc);
        let page = execute(
            &*s2,
            &cmd(&t2, Partitions::Keys(vec![(token("a"), b"a".to_vec())])),
            cmp,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            cs(&page).iter().map(|x| x.1).collect::<Vec<_>>(),
            [3, 2, 1, -5]
        );
    }

    #[test]
    fn full_scans_page_through_every_row_once() {
        let (_d, s, t) = setup(Order::Asc);
        let all = cmd(
            &t,
            Partitions::Range {
                start: RangeBound::Unbounded,
                end: RangeBound::Unbounded,
            },
        );
        let everything = cs(&execute(&*s, &all, cmp, None, None).unwrap());
        assert_eq!(everything.len(), 12);
        for size in [1, 3, 4, 5, 100] {
            let mut got = Vec::new();
            let mut from: Option<Position> = None;
            loop {
                let page = execute(&*s, &all, cmp, Some(size), from.as_ref()).unwrap();
                got.extend(cs(&page));
                match page.next {
                    Some(p) => from = Some(Position::decode(&p.encode()).unwrap()),
                    None => break,
                }
            }
            assert_eq!(got, everything, "page size {size}");
        }
    }

    #[test]
    fn limits_filters_distinct() {
        let (_d, s, t) = setup(Order::Asc);
        let mut c = cmd(
            &t,
            Partitions::Range {
                start: RangeBound::Unbounded,
                end: RangeBound::Unbounded,
            },
        );
        c.per_partition_limit = Some(2);
        c.limit = Some(5);
        let page = execute(&*s, &c, cmp, None, None).unwrap();
        assert_eq!(page.rows.len(), 5);
        assert!(page.next.is_none());
        let mut f = cmd(
            &t,
            Partitions::Range {
                start: RangeBound::Unbounded,
                end: RangeBound::Unbounded,
            },
        );
        f.filters = vec![
            Filter {
                column: "c".into(),
                op: FilterOp::Ge,
                value: 2i32.to_be_bytes().to_vec(),
            },
            Filter {
                column: "v".into(),
                op: FilterOp::Ne,
                value: b"b3".to_vec(),
            },
        ];
        assert_eq!(execute(&*s, &f, cmp, None, None).unwrap().rows.len(), 5);
        let mut d = cmd(
            &t,
            Partitions::Range {
                start: RangeBound::Unbounded,
                end: RangeBound::Unbounded,
            },
        );
        d.distinct = true;
        assert_eq!(execute(&*s, &d, cmp, None, None).unwrap().rows.len(), 3);
        assert!(Position::decode(b"junk").is_none());
    }
}
