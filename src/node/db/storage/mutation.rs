//! A [`Mutation`] as bytes: the form hints and internode messages carry it
//! in (versioned by its first byte, every length checked on the way back,
//! so garbage is an error and never a panic); and a mutation as a
//! partition's data, the form replicas send partitions in. Also the
//! newest timestamp a mutation writes (for `newest.rs`).

use crate::node::db::storage::partition::{ColumnData, PartitionData, RangeTombstone, RowData};
use crate::node::db::storage::{
    MUTATION_FORMAT, Mutation, Reader, StorageError, TableId, decode_cell, decode_deletion,
    encode_bound, encode_cell, encode_clustering, encode_deletion, encode_name,
};

fn put_u32_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn encode_row(out: &mut Vec<u8>, row: &RowData) {
    match &row.marker {
        Some(c) => {
            out.push(1);
            put_u32_bytes(out, &encode_cell(c));
        }
        None => out.push(0),
    }
    match row.deletion {
        Some(d) => {
            out.push(1);
            out.extend_from_slice(&encode_deletion(d));
        }
        None => out.push(0),
    }
    out.extend_from_slice(&(row.columns.len() as u32).to_be_bytes());
    for (name, data) in &row.columns {
        encode_name(out, name);
        match data {
            ColumnData::Simple(c) => {
                out.push(0);
                put_u32_bytes(out, &encode_cell(c));
            }
            ColumnData::Complex { deletion, cells } => {
                out.push(1);
                out.extend_from_slice(&encode_deletion(*deletion));
                out.extend_from_slice(&(cells.len() as u32).to_be_bytes());
                for (path, c) in cells {
                    put_u32_bytes(out, path);
                    put_u32_bytes(out, &encode_cell(c));
                }
            }
        }
    }
}

impl<'a> Reader<'a> {
    fn u32_bytes(&mut self, what: &'static str) -> Result<&'a [u8], StorageError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }

    /// A count whose every item needs at least `min_item` bytes: refuses
    /// counts the remaining input cannot hold, before anything is allocated.
    fn count(&mut self, min_item: usize, what: &'static str) -> Result<usize, StorageError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min_item) > self.0.len() {
            return Err(StorageError::Corrupt(what));
        }
        Ok(n)
    }

    fn row(&mut self) -> Result<RowData, StorageError> {
        let mut row = RowData::default();
        if self.u8("marker flag")? == 1 {
            row.marker = Some(decode_cell(self.u32_bytes("marker")?)?);
        }
        if self.u8("row deletion flag")? == 1 {
            row.deletion = Some(decode_deletion(self.take(16, "row deletion")?)?);
        }
        let n = self.count(7, "column count")?;
        for _ in 0..n {
            let name = self.name()?;
            let data = match self.u8("column kind")? {
                0 => ColumnData::Simple(decode_cell(self.u32_bytes("cell")?)?),
                1 => {
                    let deletion = decode_deletion(self.take(16, "collection deletion")?)?;
                    let m = self.count(8, "element count")?;
                    let mut cells = std::collections::BTreeMap::new();
                    for _ in 0..m {
                        let path = self.u32_bytes("element path")?.to_vec();
                        cells.insert(path, decode_cell(self.u32_bytes("element cell")?)?);
                    }
                    ColumnData::Complex { deletion, cells }
                }
                _ => return Err(StorageError::Corrupt("column kind")),
            };
            row.columns.insert(name, data);
        }
        Ok(row)
    }
}

impl Mutation {
    /// The newest timestamp of anything this writes (`i64::MIN` if nothing).
    pub(super) fn newest_timestamp(&self) -> i64 {
        fn row(r: &RowData) -> i64 {
            let mut n = r.marker.as_ref().map_or(i64::MIN, |c| c.timestamp);
            n = n.max(r.deletion.map_or(i64::MIN, |d| d.marked_at));
            for data in r.columns.values() {
                n = n.max(match data {
                    ColumnData::Simple(c) => c.timestamp,
                    ColumnData::Complex { deletion, cells } => cells
                        .values()
                        .map(|c| c.timestamp)
                        .fold(deletion.marked_at, i64::max),
                });
            }
            n
        }
        let mut n = self.partition_deletion.map_or(i64::MIN, |d| d.marked_at);
        for rt in &self.range_tombstones {
            n = n.max(rt.deletion.marked_at);
        }
        n = n.max(row(&self.static_row));
        self.rows.iter().map(|(_, r)| row(r)).fold(n, i64::max)
    }

    /// The mutation as bytes, for hints and internode messages.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.key.len());
        out.push(MUTATION_FORMAT);
        out.extend_from_slice(&self.table);
        out.extend_from_slice(&self.token.to_be_bytes());
        put_u32_bytes(&mut out, &self.key);
        match self.partition_deletion {
            Some(d) => {
                out.push(1);
                out.extend_from_slice(&encode_deletion(d));
            }
            None => out.push(0),
        }
        out.extend_from_slice(&(self.range_tombstones.len() as u32).to_be_bytes());
        for rt in &self.range_tombstones {
            encode_bound(&mut out, &rt.start);
            encode_bound(&mut out, &rt.end);
            out.extend_from_slice(&encode_deletion(rt.deletion));
        }
        encode_row(&mut out, &self.static_row);
        out.extend_from_slice(&(self.rows.len() as u32).to_be_bytes());
        for (c, row) in &self.rows {
            encode_clustering(&mut out, c);
            encode_row(&mut out, row);
        }
        out
    }

    /// The token of an encoded mutation, read without decoding the rest.
    pub fn peek_token(bytes: &[u8]) -> Option<i64> {
        if bytes.first() != Some(&MUTATION_FORMAT) {
            return None;
        }
        Some(i64::from_be_bytes(bytes.get(17..25)?.try_into().ok()?))
    }

    /// Reads [`Mutation::encode`]'s bytes; never panics on bad input.
    pub fn decode(bytes: &[u8]) -> Result<Mutation, StorageError> {
        let mut r = Reader(bytes);
        if r.u8("mutation format")? != MUTATION_FORMAT {
            return Err(StorageError::Corrupt("mutation format"));
        }
        let table: TableId = r
            .take(16, "table id")?
            .try_into()
            .map_err(|_| StorageError::Corrupt("table id"))?;
        let token = r.i64("token")?;
        let key = r.u32_bytes("partition key")?.to_vec();
        let partition_deletion = match r.u8("partition deletion flag")? {
            1 => Some(decode_deletion(r.take(16, "partition deletion")?)?),
            _ => None,
        };
        let n = r.count(18, "range tombstone count")?;
        let mut range_tombstones = Vec::with_capacity(n);
        for _ in 0..n {
            let start = r.bound()?;
            let end = r.bound()?;
            let deletion = decode_deletion(r.take(16, "range deletion")?)?;
            range_tombstones.push(RangeTombstone {
                start,
                end,
                deletion,
            });
        }
        let static_row = r.row()?;
        let n = r.count(7, "row count")?;
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let c = r.clustering()?;
            rows.push((c, r.row()?));
        }
        if !r.0.is_empty() {
            return Err(StorageError::Corrupt("trailing bytes after mutation"));
        }
        Ok(Mutation {
            table,
            token,
            key,
            partition_deletion,
            range_tombstones,
            static_row,
            rows,
        })
    }
}

impl PartitionData {
    /// As a mutation of `table` (the wire form replicas send partitions in).
    pub fn into_mutation(self, table: [u8; 16]) -> Mutation {
        Mutation {
            table,
            token: self.token,
            key: self.key,
            partition_deletion: self.deletion,
            range_tombstones: self.range_tombstones,
            static_row: self.static_row,
            rows: self.rows,
        }
    }

    pub fn from_mutation(m: Mutation) -> PartitionData {
        PartitionData {
            key: m.key,
            token: m.token,
            deletion: m.partition_deletion,
            range_tombstones: m.range_tombstones,
            static_row: m.static_row,
            rows: m.rows,
        }
    }
}
