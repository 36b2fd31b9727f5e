//! Tests of the store's writer thread (`writer.rs`) through [`Storage`]:
//! racing writers keep the winner, a refused write fails alone.

use std::sync::Arc;

use super::cell::Cell;
use super::partition::{ColumnData, RowData};
use super::{CommitlogSync, Mutation, Storage, StorageError};

const T: [u8; 16] = [9; 16];

fn cell_write(key: &[u8], ts: i64) -> Mutation {
    let mut row = RowData::default();
    row.columns.insert(
        "v".into(),
        ColumnData::Simple(Cell::live(ts, ts.to_be_bytes().to_vec())),
    );
    Mutation {
        table: T,
        token: 1,
        key: key.to_vec(),
        rows: vec![(vec![], row)],
        ..Default::default()
    }
}

fn stored_timestamp(s: &Storage, key: &[u8]) -> i64 {
    let p = s
        .read_partition(&T, 1, key)
        .unwrap()
        .expect("the partition");
    match &p.rows[0].1.columns["v"] {
        ColumnData::Simple(c) => c.timestamp,
        other => panic!("not a simple cell: {other:?}"),
    }
}

/// Writers racing on one cell, from threads and from tasks, in every
/// order: the store keeps the highest timestamp, as it did when each
/// write took a lock of its own; nothing is lost from the groups.
#[test]
fn racing_writes_keep_the_winner_and_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(Storage::open(dir.path(), CommitlogSync::default()).unwrap());
    let threads: Vec<_> = (0..8i64)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..200i64 {
                    // Timestamps interleave across threads: 8 * i + t.
                    s.apply(&cell_write(b"hot", 8 * i + t), true).unwrap();
                    s.apply(&cell_write(format!("k{t}-{i}").as_bytes(), 1), i % 2 == 0)
                        .unwrap();
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let writes: Vec<_> = (0..400i64)
            .map(|i| s.apply_async(cell_write(b"hot", 8 * 200 + i), true))
            .collect();
        for w in writes {
            w.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(stored_timestamp(&s, b"hot"), 8 * 200 + 399);
    for t in 0..8 {
        for i in 0..200 {
            assert_eq!(stored_timestamp(&s, format!("k{t}-{i}").as_bytes()), 1);
        }
    }
}

/// A refused mutation fails alone: the others of its group are written.
#[test]
fn a_refused_mutation_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
    let mut wide = cell_write(b"wide", 5);
    wide.rows[0].0 = vec![vec![1]; 256];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (a, b, c) = rt.block_on(async {
        let a = s.apply_async(cell_write(b"before", 5), true);
        let b = s.apply_async(wide, true);
        let c = s.apply_async(cell_write(b"after", 5), true);
        (a.await, b.await, c.await)
    });
    assert!(a.is_ok() && c.is_ok());
    assert!(matches!(b, Err(StorageError::ClusteringTooWide(256))));
    assert_eq!(stored_timestamp(&s, b"before"), 5);
    assert_eq!(stored_timestamp(&s, b"after"), 5);
    assert!(s.read_partition(&T, 1, b"wide").unwrap().is_none());
}
