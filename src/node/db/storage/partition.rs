//! Partitions as the storage engine writes and reads them, and how a read
//! turns stored versions into live rows.
//!
//! A partition holds a partition-level deletion, range tombstones over
//! clustering prefixes, a static row, and rows keyed by their clustering
//! (one serialized value per clustering column). A row holds a primary-key
//! *marker* (written by INSERT, so that a row exists even with no regular
//! column set), a row deletion, and per column either one cell (simple
//! columns and frozen collections) or, for non-frozen collections, one cell
//! per element (keyed by a *path*: the element's key) plus a collection
//! deletion that an overwrite writes.
//!
//! Storage keeps the winning version of each cell; [`PartitionData::resolve`]
//! applies every deletion and TTL as of `now`, so the query layer sees only
//! what is live, with Cassandra's row liveness rule: a row exists while its
//! marker or any of its cells is live.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::node::db::storage::cell::{Cell, Deletion};

/// One serialized value per clustering column.
pub type Clustering = Vec<Vec<u8>>;

/// Compares two clustering prefixes component by component, over the
/// shorter length (types and ASC/DESC are the caller's business).
pub type ClusteringCmp<'a> = &'a dyn Fn(&[Vec<u8>], &[Vec<u8>]) -> Ordering;

/// One end of a clustering range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bound {
    Unbounded,
    Inclusive(Clustering),
    Exclusive(Clustering),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeTombstone {
    pub start: Bound,
    pub end: Bound,
    pub deletion: Deletion,
}

impl RangeTombstone {
    /// Whether the row at `clustering` falls inside the range.
    pub fn covers(&self, clustering: &[Vec<u8>], cmp: ClusteringCmp<'_>) -> bool {
        let after_start = match &self.start {
            Bound::Unbounded => true,
            Bound::Inclusive(p) => cmp(clustering, p) != Ordering::Less,
            Bound::Exclusive(p) => cmp(clustering, p) == Ordering::Greater,
        };
        let before_end = match &self.end {
            Bound::Unbounded => true,
            Bound::Inclusive(p) => cmp(clustering, p) != Ordering::Greater,
            Bound::Exclusive(p) => cmp(clustering, p) == Ordering::Less,
        };
        after_start && before_end
    }
}

/// A column's stored state in a row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnData {
    Simple(Cell),
    /// A non-frozen collection: a deletion and one cell per element path.
    Complex {
        deletion: Deletion,
        cells: BTreeMap<Vec<u8>, Cell>,
    },
}

/// A row's stored state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RowData {
    pub marker: Option<Cell>,
    pub deletion: Option<Deletion>,
    pub columns: BTreeMap<String, ColumnData>,
}

impl RowData {
    pub fn is_empty(&self) -> bool {
        self.marker.is_none() && self.deletion.is_none() && self.columns.is_empty()
    }
}

/// Everything stored for one partition.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartitionData {
    pub key: Vec<u8>,
    pub token: i64,
    pub deletion: Option<Deletion>,
    pub range_tombstones: Vec<RangeTombstone>,
    pub static_row: RowData,
    /// Rows in storage order (not clustering order: the caller sorts).
    pub rows: Vec<(Clustering, RowData)>,
}

/// A live value of a column after deletions and TTL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveColumn {
    Simple(Cell),
    /// Live elements of a non-frozen collection, in path order.
    Complex(Vec<(Vec<u8>, Cell)>),
}

/// A row as a read sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    pub clustering: Clustering,
    /// The primary-key marker, when live (for `writetime` of the row).
    pub marker: Option<Cell>,
    pub columns: BTreeMap<String, LiveColumn>,
}

/// A partition as a read sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LivePartition {
    pub key: Vec<u8>,
    pub token: i64,
    /// Live static columns (empty when the table has none or none is set).
    pub static_columns: BTreeMap<String, LiveColumn>,
    /// Live rows in clustering order.
    pub rows: Vec<LiveRow>,
}

fn live_columns(row: &RowData, shadow: Deletion, now: i64) -> BTreeMap<String, LiveColumn> {
    let mut out = BTreeMap::new();
    for (name, data) in &row.columns {
        match data {
            ColumnData::Simple(c) => {
                if !shadow.deletes(c.timestamp) && c.is_live(now) {
                    out.insert(name.clone(), LiveColumn::Simple(c.clone()));
                }
            }
            ColumnData::Complex { deletion, cells } => {
                let d = shadow.max(*deletion);
                let live: Vec<(Vec<u8>, Cell)> = cells
                    .iter()
                    .filter(|(_, c)| !d.deletes(c.timestamp) && c.is_live(now))
                    .map(|(p, c)| (p.clone(), c.clone()))
                    .collect();
                if !live.is_empty() {
                    out.insert(name.clone(), LiveColumn::Complex(live));
                }
            }
        }
    }
    out
}

impl PartitionData {
    /// The live content at `now` (seconds), rows sorted with `cmp`.
    pub fn resolve(&self, now: i64, cmp: ClusteringCmp<'_>) -> LivePartition {
        let pdel = self.deletion.unwrap_or(Deletion::LIVE);
        let static_shadow = pdel.max(self.static_row.deletion.unwrap_or(Deletion::LIVE));
        let static_columns = live_columns(&self.static_row, static_shadow, now);
        let mut rows: Vec<LiveRow> = Vec::with_capacity(self.rows.len());
        for (clustering, row) in &self.rows {
            let mut shadow = pdel;
            for rt in &self.range_tombstones {
                if rt.covers(clustering, cmp) {
                    shadow = shadow.max(rt.deletion);
                }
            }
            if let Some(d) = row.deletion {
                shadow = shadow.max(d);
            }
            let marker = row
                .marker
                .as_ref()
                .filter(|m| !shadow.deletes(m.timestamp) && m.is_live(now))
                .cloned();
            let columns = live_columns(row, shadow, now);
            if marker.is_some() || !columns.is_empty() {
                rows.push(LiveRow {
                    clustering: clustering.clone(),
                    marker,
                    columns,
                });
            }
        }
        rows.sort_by(|a, b| cmp(&a.clustering, &b.clustering));
        LivePartition {
            key: self.key.clone(),
            token: self.token,
            static_columns,
            rows,
        }
    }
}

fn merge_rows(into: &mut RowData, other: RowData) {
    use crate::node::db::storage::cell::reconcile;
    into.marker = match (into.marker.take(), other.marker) {
        (Some(a), Some(b)) => Some(reconcile(&a, &b).clone()),
        (a, b) => a.or(b),
    };
    into.deletion = match (into.deletion, other.deletion) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    for (name, data) in other.columns {
        match (into.columns.remove(&name), data) {
            (None, d) => {
                into.columns.insert(name, d);
            }
            (Some(ColumnData::Simple(a)), ColumnData::Simple(b)) => {
                into.columns
                    .insert(name, ColumnData::Simple(reconcile(&a, &b).clone()));
            }
            (
                Some(ColumnData::Complex {
                    deletion: da,
                    cells: mut ca,
                }),
                ColumnData::Complex {
                    deletion: db,
                    cells: cb,
                },
            ) => {
                for (path, c) in cb {
                    let merged = match ca.get(&path) {
                        Some(a) => reconcile(a, &c).clone(),
                        None => c,
                    };
                    ca.insert(path, merged);
                }
                into.columns.insert(
                    name,
                    ColumnData::Complex {
                        deletion: da.max(db),
                        cells: ca,
                    },
                );
            }
            // A column whose type changed shape (dropped and re-added): the other side wins.
            (Some(_), d) => {
                into.columns.insert(name, d);
            }
        }
    }
}

impl PartitionData {
    /// Merges another version of the same partition (from another replica):
    /// every cell keeps its winning version, deletions their latest.
    pub fn merge(&mut self, other: PartitionData) {
        self.deletion = match (self.deletion, other.deletion) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        for rt in other.range_tombstones {
            if !self.range_tombstones.contains(&rt) {
                self.range_tombstones.push(rt);
            }
        }
        merge_rows(&mut self.static_row, other.static_row);
        for (c, row) in other.rows {
            match self.rows.iter_mut().find(|(x, _)| *x == c) {
                Some((_, r)) => merge_rows(r, row),
                None => self.rows.push((c, row)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &[Vec<u8>], b: &[Vec<u8>]) -> Ordering {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.cmp(y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }

    fn del(ts: i64) -> Deletion {
        Deletion {
            marked_at: ts,
            local_deletion_time: 0,
        }
    }

    fn row(marker_ts: Option<i64>, cells: &[(&str, i64, &[u8])]) -> RowData {
        RowData {
            marker: marker_ts.map(|t| Cell::live(t, vec![])),
            deletion: None,
            columns: cells
                .iter()
                .map(|(n, t, v)| {
                    (
                        n.to_string(),
                        ColumnData::Simple(Cell::live(*t, v.to_vec())),
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn row_lives_by_marker_or_cell_and_deletions_shadow() {
        let mut p = PartitionData::default();
        p.rows.push((vec![b"b".to_vec()], row(Some(10), &[])));
        p.rows
            .push((vec![b"a".to_vec()], row(None, &[("v", 10, b"x")])));
        p.rows.push((vec![b"c".to_vec()], row(None, &[])));
        let live = p.resolve(0, &cmp);
        let keys: Vec<_> = live.rows.iter().map(|r| r.clustering[0].clone()).collect();
        assert_eq!(
            keys,
            [b"a".to_vec(), b"b".to_vec()],
            "sorted, empty row gone"
        );

        // A row deletion at ts 10 kills both; a later cell survives it.
        p.rows[0].1.deletion = Some(del(10));
        p.rows[1].1.deletion = Some(del(10));
        p.rows[1].1.columns.insert(
            "w".into(),
            ColumnData::Simple(Cell::live(11, b"y".to_vec())),
        );
        let live = p.resolve(0, &cmp);
        assert_eq!(live.rows.len(), 1);
        assert!(live.rows[0].marker.is_none() && live.rows[0].columns.contains_key("w"));

        // A partition deletion at 20 shadows everything older.
        p.deletion = Some(del(20));
        assert!(p.resolve(0, &cmp).rows.is_empty());
    }

    #[test]
    fn range_tombstones_cover_by_bounds() {
        let rt = RangeTombstone {
            start: Bound::Inclusive(vec![b"b".to_vec()]),
            end: Bound::Exclusive(vec![b"d".to_vec()]),
            deletion: del(5),
        };
        let c = |s: &str| vec![s.as_bytes().to_vec()];
        assert!(!rt.covers(&c("a"), &cmp));
        assert!(rt.covers(&c("b"), &cmp));
        assert!(rt.covers(&c("c"), &cmp));
        assert!(!rt.covers(&c("d"), &cmp));
        // A prefix bound covers every row under the prefix.
        let prefix = RangeTombstone {
            start: Bound::Inclusive(c("x")),
            end: Bound::Inclusive(c("x")),
            deletion: del(5),
        };
        assert!(prefix.covers(&[b"x".to_vec(), b"1".to_vec()], &cmp));
        let mut p = PartitionData::default();
        p.rows.push((c("c"), row(Some(4), &[])));
        p.rows.push((c("e"), row(Some(4), &[])));
        p.range_tombstones.push(rt);
        assert_eq!(p.resolve(0, &cmp).rows.len(), 1);
    }

    #[test]
    fn collections_and_ttl() {
        let mut p = PartitionData::default();
        let mut cells = BTreeMap::new();
        cells.insert(b"k1".to_vec(), Cell::live(5, b"1".to_vec()));
        cells.insert(b"k2".to_vec(), Cell::live(7, b"2".to_vec()));
        let mut r = row(None, &[]);
        r.columns.insert(
            "m".into(),
            ColumnData::Complex {
                deletion: del(6),
                cells,
            },
        );
        r.columns.insert(
            "t".into(),
            ColumnData::Simple(Cell::expiring(9, 10, 100, b"x".to_vec())),
        );
        p.rows.push((vec![], r));
        let live = p.resolve(105, &cmp);
        match &live.rows[0].columns["m"] {
            LiveColumn::Complex(els) => assert_eq!(els.len(), 1),
            other => panic!("{other:?}"),
        }
        assert!(live.rows[0].columns.contains_key("t"));
        let later = p.resolve(110, &cmp);
        assert!(!later.rows[0].columns.contains_key("t"), "expired");
    }
}
