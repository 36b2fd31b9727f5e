//! Batch guards, as Cassandra 4.1's `BatchStatement` has them.
//!
//! A batch is meant for atomicity, not for throughput: a large one makes its
//! coordinator hold and log it whole, and an unlogged one spread over many
//! partitions makes one coordinator talk to many replicas for no gain.
//! Cassandra checks every batch that is not conditional, after turning it
//! into mutations and before applying them, and so does [`check`]:
//!
//! - Only a batch touching more than one partition (more than one mutation,
//!   a mutation being one keyspace's partition key) is measured at all.
//! - Its size is the *data size* of its mutations, Cassandra's
//!   `IMutation.dataSize`: for each partition update 8 bytes of partition
//!   deletion, its range tombstones (4 bytes of count, then per range its
//!   bound values and 12 bytes), and its static row and rows; a row is its
//!   clustering values, 8 bytes of primary-key liveness (16 with a TTL), 12
//!   of row deletion and its columns; a cell is 16 bytes (timestamp, TTL,
//!   local deletion time) plus its value and, in a collection, its element
//!   path; a collection column adds 12 bytes of collection deletion.
//!   Statements of one batch on the same partition merge first, as
//!   Cassandra merges them into one update: a row or cell written twice
//!   counts once (its last write).
//! - Over `batch_size_fail_threshold` (50 KiB) the batch is refused with
//!   InvalidRequest `Batch too large` and nothing is written; over
//!   `batch_size_warn_threshold` (5 KiB) it runs and the client gets
//!   Cassandra's warning `Batch for [ks.t] is of size N, exceeding
//!   specified threshold of M by D.` (sizes in bytes). As in Cassandra,
//!   the fail threshold is looked at only past the warn threshold, so a
//!   fail threshold under the warn one acts as the warn one.
//! - An unlogged (or counter) batch over more distinct partition keys than
//!   `unlogged_batch_across_partitions_warn_threshold` (10) runs with the
//!   warning `Unlogged batch covering N partitions detected against table
//!   [ks.t]. You should use a logged batch for atomicity, or asynchronous
//!   writes for performance.`
//!
//! Warnings go to the client through [`crate::node::cql::warn`] (the response's
//! warnings, which drivers log) and to the node's log.

use std::collections::{BTreeMap, BTreeSet};

use crate::node::cql::replicator::Write;
use crate::node::cql::warn::warn;
use crate::node::db::schema::Schema;
use crate::node::db::storage::Mutation;
use crate::node::db::storage::cell::Cell;
use crate::node::db::storage::partition::{Bound, ColumnData, RowData};
use crate::node::error::QueryError;
use crate::node::value::types::quote_identifier;

/// Cassandra's batch settings (cassandra.yaml names), in bytes and partitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// `batch_size_warn_threshold`.
    pub warn_threshold: u64,
    /// `batch_size_fail_threshold`.
    pub fail_threshold: u64,
    /// `unlogged_batch_across_partitions_warn_threshold`.
    pub unlogged_partitions_warn_threshold: u64,
}

impl Default for BatchLimits {
    /// Cassandra 4.1's defaults: 5KiB, 50KiB and 10 partitions.
    fn default() -> Self {
        BatchLimits {
            warn_threshold: 5 * 1024,
            fail_threshold: 50 * 1024,
            unlogged_partitions_warn_threshold: 10,
        }
    }
}

/// Checks a non-conditional batch's writes before they are applied: an
/// error when it is too large, else warnings (see the module's doc).
pub fn check(
    limits: &BatchLimits,
    schema: &Schema,
    logged: bool,
    writes: &[Write],
) -> Result<(), QueryError> {
    let mutations: BTreeSet<(&str, &[u8])> = writes
        .iter()
        .map(|(m, _, ks)| (ks.as_str(), m.key.as_slice()))
        .collect();
    // As Cassandra: a batch of one mutation is never measured (#10876).
    if mutations.len() <= 1 {
        return Ok(());
    }
    let size = data_size(writes);
    if size > limits.warn_threshold {
        let tables = table_names(schema, writes);
        if size > limits.fail_threshold {
            tracing::error!(
                "Batch for {tables} is of size {size}, exceeding specified threshold of {} by {}. (see batch_size_fail_threshold)",
                limits.fail_threshold,
                size - limits.fail_threshold
            );
            return Err(QueryError::Invalid("Batch too large".into()));
        }
        let message = format!(
            "Batch for {tables} is of size {size}, exceeding specified threshold of {} by {}.",
            limits.warn_threshold,
            size - limits.warn_threshold
        );
        tracing::warn!("{message}");
        warn(message);
    }
    if !logged {
        let keys: BTreeSet<&[u8]> = writes.iter().map(|(m, _, _)| m.key.as_slice()).collect();
        if keys.len() as u64 > limits.unlogged_partitions_warn_threshold {
            let ids: BTreeSet<_> = writes.iter().map(|(m, _, ks)| (ks, m.table)).collect();
            let message = format!(
                "Unlogged batch covering {} partitions detected against table{} {}. You should use a logged batch for atomicity, or asynchronous writes for performance.",
                keys.len(),
                if ids.len() == 1 { "" } else { "s" },
                table_names(schema, writes)
            );
            tracing::warn!("{message}");
            warn(message);
        }
    }
    Ok(())
}

/// `[ks.t1, ks.t2]`: the tables a batch writes, as Cassandra lists them
/// (a set of `keyspace.table`, quoted where CQL needs it), in name order.
fn table_names(schema: &Schema, writes: &[Write]) -> String {
    let names: BTreeSet<String> = writes
        .iter()
        .map(|(m, _, ks)| {
            let table = schema
                .keyspace(ks)
                .and_then(|k| k.tables.values().find(|t| t.id == m.table))
                .map_or_else(|| "?".to_string(), |t| quote_identifier(&t.name));
            format!("{}.{table}", quote_identifier(ks))
        })
        .collect();
    format!("[{}]", names.into_iter().collect::<Vec<_>>().join(", "))
}

/// One partition update once a batch's statements on it are merged: what
/// each row and column contributes, keyed as Cassandra merges them.
#[derive(Default)]
struct Update<'a> {
    ranges: u64,
    range_count: u64,
    static_row: MergedRow<'a>,
    rows: BTreeMap<&'a [Vec<u8>], MergedRow<'a>>,
}

#[derive(Default)]
struct MergedRow<'a> {
    expiring: bool,
    /// Simple columns' last cell size; collections' element sizes by path.
    simple: BTreeMap<&'a str, u64>,
    complex: BTreeMap<&'a str, BTreeMap<&'a [u8], u64>>,
}

impl<'a> MergedRow<'a> {
    fn add(&mut self, row: &'a RowData) {
        self.expiring |= row.marker.as_ref().is_some_and(|m| m.ttl > 0);
        for (name, data) in &row.columns {
            match data {
                ColumnData::Simple(c) => {
                    self.simple.insert(name, cell_size(c, 0));
                }
                ColumnData::Complex { cells, .. } => {
                    let merged = self.complex.entry(name).or_default();
                    for (path, c) in cells {
                        merged.insert(path, cell_size(c, path.len()));
                    }
                }
            }
        }
    }

    /// Clustering values, liveness, row deletion, then the columns.
    fn size(&self, clustering: &[Vec<u8>]) -> u64 {
        let clustering: u64 = clustering.iter().map(|v| v.len() as u64).sum();
        let liveness = if self.expiring { 16 } else { 8 };
        let simple: u64 = self.simple.values().sum();
        let complex: u64 = self
            .complex
            .values()
            .map(|cells| 12 + cells.values().sum::<u64>())
            .sum();
        clustering + liveness + 12 + simple + complex
    }
}

/// A cell: timestamp (8), TTL (4), local deletion time (4), value, path.
fn cell_size(c: &Cell, path: usize) -> u64 {
    16 + c.value.as_ref().map_or(0, |v| v.len() as u64) + path as u64
}

fn bound_size(b: &Bound) -> u64 {
    match b {
        Bound::Unbounded => 0,
        Bound::Inclusive(c) | Bound::Exclusive(c) => c.iter().map(|v| v.len() as u64).sum(),
    }
}

/// Cassandra's `IMutation.dataSize` of a batch's writes (see the module's doc).
pub fn data_size(writes: &[Write]) -> u64 {
    let mut updates: BTreeMap<([u8; 16], &[u8]), Update<'_>> = BTreeMap::new();
    for (m, _, _) in writes {
        let Mutation {
            table,
            key,
            range_tombstones,
            static_row,
            rows,
            ..
        } = m;
        let u = updates.entry((*table, key.as_slice())).or_default();
        for rt in range_tombstones {
            u.range_count += 1;
            u.ranges += bound_size(&rt.start) + bound_size(&rt.end) + 12;
        }
        u.static_row.add(static_row);
        for (clustering, row) in rows {
            u.rows.entry(clustering.as_slice()).or_default().add(row);
        }
    }
    updates
        .values()
        .map(|u| {
            let deletion_info = 8 + if u.range_count > 0 { 4 + u.ranges } else { 0 };
            let rows: u64 = u.rows.iter().map(|(c, r)| r.size(c)).sum();
            deletion_info + u.static_row.size(&[]) + rows
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cql::warn::capture;
    use crate::node::db::storage::cell::Deletion;
    use crate::node::db::storage::partition::RangeTombstone;

    fn insert(table: u8, key: &str, ck: &[u8], v: &[u8], ttl: i32) -> Mutation {
        let cell = |value: &[u8]| Cell {
            timestamp: 1,
            ttl,
            local_deletion_time: if ttl > 0 { 100 } else { i64::MAX },
            value: Some(value.to_vec()),
        };
        let mut row = RowData {
            marker: Some(cell(b"")),
            ..Default::default()
        };
        row.columns.insert("v".into(), ColumnData::Simple(cell(v)));
        Mutation {
            table: [table; 16],
            key: key.as_bytes().to_vec(),
            rows: vec![(vec![ck.to_vec()], row)],
            ..Default::default()
        }
    }

    fn w(m: Mutation) -> Write {
        (m, true, "ks".to_string())
    }

    #[test]
    fn data_size_counts_as_cassandra_does() {
        // One row: deletion info 8 + empty static row (liveness 8 + deletion
        // 12) + row (clustering 4 + 8 + 12 + cell 16 + value 3).
        let one = [w(insert(1, "k1", b"abcd", b"xyz", 0))];
        assert_eq!(data_size(&one), 8 + 20 + (4 + 8 + 12 + 16 + 3));
        // A TTL makes the primary-key liveness 16 bytes; cells stay 16.
        let ttl = [w(insert(1, "k1", b"abcd", b"xyz", 60))];
        assert_eq!(data_size(&ttl), data_size(&one) + 8);
        // The same cell written twice in one partition counts once.
        let twice = [
            w(insert(1, "k1", b"abcd", b"a", 0)),
            w(insert(1, "k1", b"abcd", b"xyz", 0)),
        ];
        assert_eq!(data_size(&twice), data_size(&one));
        // Another row of the same partition adds only the row.
        let two_rows = [
            w(insert(1, "k1", b"abcd", b"xyz", 0)),
            w(insert(1, "k1", b"efgh", b"xyz", 0)),
        ];
        assert_eq!(data_size(&two_rows), data_size(&one) + 43);
        // A range tombstone: count 4, bounds, marked-at 8 + deletion time 4.
        let mut del = Mutation {
            table: [1; 16],
            key: b"k1".to_vec(),
            ..Default::default()
        };
        del.range_tombstones.push(RangeTombstone {
            start: Bound::Inclusive(vec![b"ab".to_vec()]),
            end: Bound::Unbounded,
            deletion: Deletion {
                marked_at: 1,
                local_deletion_time: 1,
            },
        });
        assert_eq!(data_size(&[w(del)]), 8 + 4 + 2 + 12 + 20);
        // A collection: its deletion 12, each element 16 + value + path.
        let mut row = RowData::default();
        let mut cells = BTreeMap::new();
        cells.insert(b"p1".to_vec(), Cell::live(1, b"v".to_vec()));
        row.columns.insert(
            "s".into(),
            ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells,
            },
        );
        let coll = Mutation {
            table: [1; 16],
            key: b"k".to_vec(),
            rows: vec![(vec![], row)],
            ..Default::default()
        };
        assert_eq!(data_size(&[w(coll)]), 8 + 20 + (8 + 12 + 12 + 16 + 1 + 2));
    }

    #[test]
    fn thresholds_warn_and_refuse_with_cassandras_texts() {
        let schema = Schema::default();
        let limits = BatchLimits {
            warn_threshold: 200,
            fail_threshold: 400,
            unlogged_partitions_warn_threshold: 2,
        };
        let a = w(insert(1, "a", b"c", b"v", 0));
        let size1 = data_size(std::slice::from_ref(&a));
        // One partition, however large: not measured, no warning.
        let big = w(insert(1, "a", b"c", &[0; 500], 0));
        let (r, warnings) = capture(|| check(&limits, &schema, false, &[big]));
        assert_eq!((r, warnings.len()), (Ok(()), 0));
        // Two partitions under the warn threshold: nothing to say.
        let two = vec![a.clone(), w(insert(1, "b", b"c", b"v", 0))];
        assert!(2 * size1 <= 200);
        let (r, warnings) = capture(|| check(&limits, &schema, false, &two));
        assert_eq!((r, warnings.len()), (Ok(()), 0));
        // Over the warn threshold.
        let warned = vec![a.clone(), w(insert(1, "b", b"c", &[0; 150], 0))];
        let size = data_size(&warned);
        assert!(size > 200 && size <= 400);
        let (r, warnings) = capture(|| check(&limits, &schema, true, &warned));
        assert_eq!(r, Ok(()));
        assert_eq!(
            warnings,
            [format!(
                "Batch for [ks.?] is of size {size}, exceeding specified threshold of 200 by {}.",
                size - 200
            )]
        );
        // Over the fail threshold: refused, and no warning.
        let failed = vec![a.clone(), w(insert(1, "b", b"c", &[0; 300], 0))];
        let (r, warnings) = capture(|| check(&limits, &schema, true, &failed));
        assert_eq!(r, Err(QueryError::Invalid("Batch too large".into())));
        assert!(warnings.is_empty());
        // Unlogged over more partitions than the threshold; logged is quiet.
        let spread: Vec<Write> = ["a", "b", "c"]
            .iter()
            .map(|k| w(insert(1, k, b"c", b"v", 0)))
            .collect();
        let (_, logged) = capture(|| check(&limits, &schema, true, &spread));
        assert!(logged.is_empty());
        let (r, warnings) = capture(|| check(&limits, &schema, false, &spread));
        assert_eq!(r, Ok(()));
        assert_eq!(
            warnings,
            [
                "Unlogged batch covering 3 partitions detected against table [ks.?]. You should use a logged batch for atomicity, or asynchronous writes for performance."
            ]
        );
        let mut two_tables = spread.clone();
        two_tables.push(w(insert(2, "a", b"c", b"v", 0)));
        let (_, warnings) = capture(|| check(&limits, &schema, false, &two_tables));
        assert!(
            warnings.last().unwrap().contains("against tables [ks.?]"),
            "{warnings:?}"
        );
    }
}
