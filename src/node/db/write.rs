//! Writes: turning INSERT, UPDATE and DELETE into storage [`Mutation`]s.
//!
//! A [`MutationBuilder`] collects what one statement does to one partition,
//! with Cassandra's encodings of each operation as cells and deletions:
//!
//! - INSERT writes a primary-key *marker* (so the row exists with no other
//!   column set) plus the cells; UPDATE writes cells only.
//! - Setting a column to null writes a cell tombstone.
//! - Overwriting a non-frozen collection writes a collection deletion at
//!   `timestamp - 1` and then one cell per element, so the new elements win
//!   over the deletion and older elements lose to it.
//! - Sets and maps key their element cells by the element (or map key);
//!   lists by a path that orders by time, appends after and prepends before
//!   the elements already there.
//! - DELETE writes row, range or partition deletions, or cell tombstones.
//!
//! `USING TTL` makes every written cell expiring; `USING TIMESTAMP` sets the
//! write timestamp (microseconds) that reconciliation compares.
//!
//! A builder counts roughly the bytes its mutation takes
//! ([`MutationBuilder::bytes`]), so that callers can bound what a request
//! multiplies (one value written to every row of an `IN` list).

use std::collections::BTreeMap;

use crate::node::db::storage::cell::{Cell, Deletion};
use crate::node::db::storage::partition::{Clustering, ColumnData, RangeTombstone, RowData};
use crate::node::db::storage::{Mutation, TableId};

/// How a list element is placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListOp {
    Append,
    Prepend,
}

/// Builds the mutation of one statement on one partition.
#[derive(Debug, Clone)]
pub struct MutationBuilder {
    m: Mutation,
    timestamp: i64,
    ttl: i32,
    now: i64,
    /// Distinguishes list elements added by one statement.
    list_seq: u32,
    /// What the mutation takes in memory, roughly (see [`Self::bytes`]).
    bytes: usize,
}

/// What an entry costs besides its bytes (timestamps, lengths, map nodes).
const ENTRY_OVERHEAD: usize = 48;

impl MutationBuilder {
    /// `timestamp` in microseconds, `ttl` in seconds (0: none), `now` in seconds.
    pub fn new(
        table: TableId,
        token: i64,
        key: Vec<u8>,
        timestamp: i64,
        ttl: i32,
        now: i64,
    ) -> MutationBuilder {
        let key_len = key.len();
        MutationBuilder {
            m: Mutation {
                table,
                token,
                key,
                ..Default::default()
            },
            timestamp,
            ttl,
            now,
            list_seq: 0,
            bytes: ENTRY_OVERHEAD,
        }
        .counted(key_len)
    }

    fn counted(mut self, n: usize) -> MutationBuilder {
        self.bytes += n;
        self
    }

    /// Roughly the bytes the mutation takes so far: its key, clusterings,
    /// paths and values, and a fixed cost per entry. A statement can
    /// multiply what it carries (one value written to every row an `IN`
    /// list names), so callers bound this.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    fn cell(&mut self, value: Vec<u8>) -> Cell {
        self.bytes += ENTRY_OVERHEAD + value.len();
        if self.ttl > 0 {
            Cell::expiring(self.timestamp, self.ttl, self.now, value)
        } else {
            Cell::live(self.timestamp, value)
        }
    }

    fn row(&mut self, clustering: Option<&Clustering>) -> &mut RowData {
        let Some(c) = clustering else {
            return &mut self.m.static_row;
        };
        // The row written last is the usual one: a statement writes its
        // rows one after the other.
        let i = match self.m.rows.last() {
            Some((rc, _)) if rc == c => Some(self.m.rows.len() - 1),
            _ => self.m.rows.iter().position(|(rc, _)| rc == c),
        };
        if let Some(i) = i {
            return &mut self.m.rows[i].1;
        }
        self.bytes += ENTRY_OVERHEAD + c.iter().map(Vec::len).sum::<usize>();
        self.m.rows.push((c.clone(), RowData::default()));
        &mut self.m.rows.last_mut().expect("pushed").1
    }

    /// INSERT's primary-key liveness for the row at `clustering`.
    pub fn marker(&mut self, clustering: &Clustering) -> &mut Self {
        let c = self.cell(Vec::new());
        self.row(Some(clustering)).marker = Some(c);
        self
    }

    /// Sets a simple column (or a frozen collection). `clustering` is `None`
    /// for a static column. `None` as value writes a tombstone (null).
    pub fn set(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        value: Option<Vec<u8>>,
    ) -> &mut Self {
        let cell = match value {
            Some(v) => self.cell(v),
            None => {
                self.bytes += ENTRY_OVERHEAD;
                Cell::tombstone(self.timestamp, self.now)
            }
        };
        self.row(clustering)
            .columns
            .insert(column.to_string(), ColumnData::Simple(cell));
        self
    }

    fn complex(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
    ) -> (&mut Deletion, &mut BTreeMap<Vec<u8>, Cell>) {
        let data = self
            .row(clustering)
            .columns
            .entry(column.to_string())
            .or_insert_with(|| ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells: BTreeMap::new(),
            });
        if let ColumnData::Simple(_) = data {
            *data = ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells: BTreeMap::new(),
            };
        }
        match data {
            ColumnData::Complex { deletion, cells } => (deletion, cells),
            ColumnData::Simple(_) => unreachable!("replaced above"),
        }
    }

    /// Deletes a whole non-frozen collection (`SET c = null`, `DELETE c`).
    pub fn clear_collection(&mut self, clustering: Option<&Clustering>, column: &str) -> &mut Self {
        let d = Deletion {
            marked_at: self.timestamp,
            local_deletion_time: self.now,
        };
        let (deletion, _) = self.complex(clustering, column);
        *deletion = (*deletion).max(d);
        self
    }

    /// Overwrites a non-frozen set or map: the old content is deleted at
    /// `timestamp - 1`, then each `(path, value)` is written (sets: path =
    /// element, value empty; maps: path = key).
    pub fn overwrite_keyed(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        elements: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> &mut Self {
        let d = Deletion {
            marked_at: self.timestamp.wrapping_sub(1), // as Java does for Long.MIN_VALUE
            local_deletion_time: self.now,
        };
        {
            let (deletion, _) = self.complex(clustering, column);
            *deletion = (*deletion).max(d);
        }
        self.add_keyed(clustering, column, elements)
    }

    /// Adds set elements or map entries (`s = s + {...}`, `m[k] = v`).
    pub fn add_keyed(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        elements: Vec<(Vec<u8>, Vec<u8>)>,
    ) -> &mut Self {
        let cells: Vec<(Vec<u8>, Cell)> = elements
            .into_iter()
            .map(|(p, v)| {
                self.bytes += p.len();
                (p, self.cell(v))
            })
            .collect();
        let (_, map) = self.complex(clustering, column);
        map.extend(cells);
        self
    }

    /// Removes set elements or map keys (`s = s - {...}`, `DELETE m[k]`).
    pub fn remove_keyed(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        paths: Vec<Vec<u8>>,
    ) -> &mut Self {
        let t = Cell::tombstone(self.timestamp, self.now);
        self.bytes += paths
            .iter()
            .map(|p| ENTRY_OVERHEAD + p.len())
            .sum::<usize>();
        let (_, map) = self.complex(clustering, column);
        for p in paths {
            map.insert(p, t.clone());
        }
        self
    }

    /// A list element path that orders by time: appends after everything
    /// written before, prepends before it.
    fn list_path(&mut self, op: ListOp) -> Vec<u8> {
        self.list_seq += 1;
        let base = 1u64 << 62;
        let t = self.timestamp.max(0) as u64;
        let key = match op {
            ListOp::Append => base + t,
            ListOp::Prepend => base - t.min(base),
        };
        let mut p = key.to_be_bytes().to_vec();
        // Within one statement, the sequence keeps the given order.
        p.extend_from_slice(&self.list_seq.to_be_bytes());
        p
    }

    /// Overwrites a non-frozen list with `values`.
    pub fn overwrite_list(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        values: Vec<Vec<u8>>,
    ) -> &mut Self {
        let d = Deletion {
            marked_at: self.timestamp.wrapping_sub(1), // as Java does for Long.MIN_VALUE
            local_deletion_time: self.now,
        };
        {
            let (deletion, _) = self.complex(clustering, column);
            *deletion = (*deletion).max(d);
        }
        self.add_list(clustering, column, ListOp::Append, values)
    }

    /// Appends or prepends list elements, keeping their order.
    pub fn add_list(
        &mut self,
        clustering: Option<&Clustering>,
        column: &str,
        op: ListOp,
        values: Vec<Vec<u8>>,
    ) -> &mut Self {
        let mut cells = Vec::with_capacity(values.len());
        for v in values {
            let p = self.list_path(op);
            self.bytes += p.len();
            cells.push((p, self.cell(v)));
        }
        let (_, map) = self.complex(clustering, column);
        map.extend(cells);
        self
    }

    /// `DELETE FROM t WHERE <full primary key>`.
    pub fn delete_row(&mut self, clustering: &Clustering) -> &mut Self {
        let d = Deletion {
            marked_at: self.timestamp,
            local_deletion_time: self.now,
        };
        let row = self.row(Some(clustering));
        row.deletion = Some(row.deletion.map_or(d, |x| x.max(d)));
        self
    }

    /// `DELETE FROM t WHERE <partition key>`.
    pub fn delete_partition(&mut self) -> &mut Self {
        let d = Deletion {
            marked_at: self.timestamp,
            local_deletion_time: self.now,
        };
        self.m.partition_deletion = Some(self.m.partition_deletion.map_or(d, |x| x.max(d)));
        self
    }

    /// `DELETE ... WHERE pk = ? AND c > ?` (a clustering range or prefix).
    pub fn delete_range(
        &mut self,
        start: crate::node::db::storage::partition::Bound,
        end: crate::node::db::storage::partition::Bound,
    ) -> &mut Self {
        let deletion = Deletion {
            marked_at: self.timestamp,
            local_deletion_time: self.now,
        };
        let bound_len = |b: &crate::node::db::storage::partition::Bound| match b {
            crate::node::db::storage::partition::Bound::Unbounded => 0,
            crate::node::db::storage::partition::Bound::Inclusive(c)
            | crate::node::db::storage::partition::Bound::Exclusive(c) => {
                c.iter().map(Vec::len).sum()
            }
        };
        self.bytes += ENTRY_OVERHEAD + bound_len(&start) + bound_len(&end);
        self.m.range_tombstones.push(RangeTombstone {
            start,
            end,
            deletion,
        });
        self
    }

    /// The partition key this builder writes to.
    pub fn key(&self) -> &[u8] {
        &self.m.key
    }

    pub fn is_empty(&self) -> bool {
        self.m.partition_deletion.is_none()
            && self.m.range_tombstones.is_empty()
            && self.m.static_row.is_empty()
            && self.m.rows.is_empty()
    }

    pub fn build(self) -> Mutation {
        self.m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::storage::partition::LiveColumn;
    use crate::node::db::storage::{CommitlogSync, Storage};

    const T: TableId = [3; 16];

    fn cmp(a: &[Vec<u8>], b: &[Vec<u8>]) -> std::cmp::Ordering {
        a.cmp(b)
    }

    fn apply(s: &Storage, b: MutationBuilder) {
        s.apply(&b.build(), true).unwrap();
    }

    fn list(s: &Storage) -> Vec<Vec<u8>> {
        let p = s
            .read_partition(&T, 1, b"k")
            .unwrap()
            .unwrap()
            .resolve(0, &cmp);
        match p.rows.first().and_then(|r| r.columns.get("l")) {
            Some(LiveColumn::Complex(els)) => {
                els.iter().map(|(_, c)| c.value.clone().unwrap()).collect()
            }
            _ => vec![],
        }
    }

    #[test]
    fn lists_append_prepend_and_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let ck: Clustering = vec![b"c".to_vec()];
        let v = |x: &str| x.as_bytes().to_vec();
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 100, 0, 0);
        b.marker(&ck)
            .overwrite_list(Some(&ck), "l", vec![v("b"), v("c")]);
        apply(&s, b);
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 200, 0, 0);
        b.add_list(Some(&ck), "l", ListOp::Append, vec![v("d"), v("e")]);
        apply(&s, b);
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 300, 0, 0);
        b.add_list(Some(&ck), "l", ListOp::Prepend, vec![v("a")]);
        apply(&s, b);
        assert_eq!(list(&s), [v("a"), v("b"), v("c"), v("d"), v("e")]);
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 400, 0, 0);
        b.overwrite_list(Some(&ck), "l", vec![v("z")]);
        apply(&s, b);
        assert_eq!(list(&s), [v("z")]);
    }

    #[test]
    fn update_only_rows_vanish_when_their_cells_are_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let ck: Clustering = vec![b"c".to_vec()];
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 10, 0, 0);
        b.set(Some(&ck), "v", Some(b"x".to_vec()));
        apply(&s, b);
        let live = |s: &Storage| {
            s.read_partition(&T, 1, b"k")
                .unwrap()
                .unwrap()
                .resolve(0, &cmp)
                .rows
                .len()
        };
        assert_eq!(live(&s), 1);
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 11, 0, 0);
        b.set(Some(&ck), "v", None);
        apply(&s, b);
        assert_eq!(live(&s), 0, "UPDATE wrote no marker: no live cell, no row");
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 12, 0, 0);
        b.marker(&ck);
        apply(&s, b);
        assert_eq!(live(&s), 1, "INSERT's marker keeps the row alive");
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 13, 0, 0);
        b.delete_row(&ck);
        apply(&s, b);
        assert_eq!(live(&s), 0);
        // A write older than the deletion stays shadowed.
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 5, 0, 0);
        b.marker(&ck);
        apply(&s, b);
        assert_eq!(live(&s), 0);
    }

    #[test]
    fn sets_maps_and_ttl() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let ck: Clustering = vec![];
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 10, 60, 1000);
        b.marker(&ck).overwrite_keyed(
            Some(&ck),
            "m",
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"2".to_vec()),
            ],
        );
        apply(&s, b);
        let mut b = MutationBuilder::new(T, 1, b"k".to_vec(), 11, 0, 1000);
        b.remove_keyed(Some(&ck), "m", vec![b"a".to_vec()]);
        apply(&s, b);
        let p = s.read_partition(&T, 1, b"k").unwrap().unwrap();
        let at = |now| p.resolve(now, &cmp).rows.first().map(|r| r.columns.clone());
        match at(1001).unwrap().get("m") {
            Some(LiveColumn::Complex(els)) => assert_eq!(els.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(at(1060).is_none(), "everything expired with the TTL");
    }
}
