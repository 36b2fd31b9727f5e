//! # Storage: a node's durable data
//!
//! Each node keeps its data in an embedded LSM-tree key-value store,
//! [fjall](https://docs.rs/fjall), under its data directory: one fjall
//! keyspace per table (so TRUNCATE and DROP are cheap), and a `meta`
//! keyspace for node-local state such as the schema. The LSM engine plays
//! the part of Cassandra's commit log, memtables and SSTables; this module
//! adds Cassandra's data model on top (see [`partition`] and [`cell`]).
//!
//! ## Keys
//! Within a table's keyspace, a partition's entries share the prefix
//! `token (8 bytes, order-preserving) | key length (u32) | partition key`, so
//! a range scan walks the ring in token order as Cassandra does. After the
//! prefix comes one section byte: partition deletion, range tombstones,
//! static cells, or rows; a row's entries continue with its clustering
//! (self-delimiting) and the entry kind (marker, row deletion, cell,
//! collection deletion), a cell with its column name and element path.
//! fjall keys are at most 65 535 bytes ([`MAX_STORED_KEY`]) and it panics
//! past that, so a longer key is refused ([`StorageError::KeyTooLong`], an
//! InvalidRequest for the client) before anything of the write is stored,
//! and a read or scan from a longer key (a paging state can name any) finds
//! what a longer key would.
//!
//! ## Writes
//! [`Storage::apply`] writes one partition's [`Mutation`] as one atomic
//! fjall batch, after reconciling each entry with the stored one
//! ([`cell::reconcile`]), so the store holds the winning version of every
//! cell whatever order writes arrive in. One thread per store applies every
//! mutation (`writer.rs`): no two writes race between reading an entry and
//! replacing it, and the journal is flushed once per group of writes.
//! `mutation.rs` gives a [`Mutation`] its byte form, the one hints and
//! internode messages carry ([`Mutation::encode`], [`Mutation::decode`]),
//! and turns it into a partition's data and back.
//!
//! ## Durability
//! A durable write is flushed from the process to the operating system
//! before `apply` returns, so an acknowledged write survives a SIGKILL. As
//! in Cassandra's `commitlog_sync`, `periodic` also syncs the journal to disk
//! every period (default 10 s) and `batch` syncs before returning. Writes to
//! a keyspace with `durable_writes = false` skip the flush and may be lost by
//! a crash, as in Cassandra.
//!
//! Everything here blocks except [`Storage::apply_async`] and
//! [`Storage::off_runtime`], whose futures hold no thread while they wait:
//! async callers use them (the writer thread for writes, the read stage of
//! `stage.rs` for the rest).

pub mod cell;
mod mutation;
mod newest;
pub mod partition;
mod stage;
mod writer;
#[cfg(test)]
mod writer_tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};

use cell::{Cell, Deletion};
use partition::{Bound, Clustering, ColumnData, PartitionData, RangeTombstone, RowData};

/// A metadata key and its value.
pub type MetaEntry = (Vec<u8>, Vec<u8>);

/// A table's id (Cassandra's table UUID).
pub type TableId = [u8; 16];

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage engine: {0}")]
    Engine(#[from] fjall::Error),
    #[error("corrupt stored entry: {0}")]
    Corrupt(&'static str),
    #[error("invalid mutation: {0}")]
    InvalidMutation(&'static str),
    /// An entry whose key (partition key, clustering, column name and
    /// collection element together) is longer than fjall can store.
    #[error(
        "ccrsim cannot store this entry: its storage key (partition key, clustering values, column name and collection element together) would take {0} bytes, more than its storage engine's maximum of {MAX_STORED_KEY}"
    )]
    KeyTooLong(usize),
    #[error(
        "ccrsim cannot store a clustering of {0} values: it stores at most 255 clustering columns"
    )]
    ClusteringTooWide(usize),
    /// The store's writer thread is gone (the store is closing).
    #[error("the storage writer has stopped")]
    WriterStopped,
    /// The storage engine panicked applying this mutation (the writer
    /// thread goes on with the next ones).
    #[error("the storage engine failed on this mutation")]
    EnginePanicked,
}

/// The longest key fjall stores: its keys carry a 16-bit length, and it
/// panics on a longer one (to write, to read, or as a range bound), so every
/// key and bound built from a request is checked against this first.
pub const MAX_STORED_KEY: usize = u16::MAX as usize;

fn check_key(key: &[u8]) -> Result<(), StorageError> {
    if key.len() > MAX_STORED_KEY {
        return Err(StorageError::KeyTooLong(key.len()));
    }
    Ok(())
}

/// When the journal is synced to disk (Cassandra's `commitlog_sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitlogSync {
    /// Sync every period; writes are flushed to the OS before they are acknowledged.
    Periodic(Duration),
    /// Sync before every write is acknowledged.
    Batch,
}

impl Default for CommitlogSync {
    fn default() -> Self {
        CommitlogSync::Periodic(Duration::from_secs(10))
    }
}

/// How much memory a node's storage may hold (per node, whatever the
/// data's size): each table's memtable is flushed to disk past
/// `memtable_bytes` (Cassandra bounds all memtables together with
/// `memtable_heap_space`; the LSM engine bounds each table), and the block
/// cache keeps at most `cache_bytes` (Cassandra's `key_cache_size` and
/// chunk cache). Compaction writes tables of about `table_bytes` each
/// (Cassandra's `sstable_size_in_mb` of leveled compaction): a compaction
/// holds a table's index and filter in memory until the table is written,
/// so smaller tables lower the memory a compaction briefly adds. The
/// defaults are the LSM engine's own (64, 32 and 64 MiB): smaller ones
/// trade speed for memory (README, "Memory").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StorageLimits {
    pub memtable_bytes: u64,
    pub cache_bytes: u64,
    pub table_bytes: u64,
}

impl Default for StorageLimits {
    fn default() -> Self {
        StorageLimits {
            memtable_bytes: 64 << 20,
            cache_bytes: 32 << 20,
            table_bytes: 64 << 20,
        }
    }
}

impl StorageLimits {
    /// A table's (or the meta keyspace's) options in the LSM engine.
    fn keyspace_options(&self) -> KeyspaceCreateOptions {
        let leveled = fjall::compaction::Leveled::default()
            .with_table_target_size(self.table_bytes.max(1 << 20));
        KeyspaceCreateOptions::default()
            .max_memtable_size(self.memtable_bytes.max(1 << 20))
            .compaction_strategy(Arc::new(leveled))
    }
}

/// All the entries to write to one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mutation {
    pub table: TableId,
    pub token: i64,
    pub key: Vec<u8>,
    pub partition_deletion: Option<Deletion>,
    pub range_tombstones: Vec<RangeTombstone>,
    pub static_row: RowData,
    pub rows: Vec<(Clustering, RowData)>,
}

const SECTION_PARTITION_DELETION: u8 = 0x00;
const SECTION_RANGE_TOMBSTONE: u8 = 0x01;
const SECTION_STATIC_CELL: u8 = 0x02;
const SECTION_STATIC_COMPLEX_DELETION: u8 = 0x03;
const SECTION_ROW: u8 = 0x10;

const ROW_MARKER: u8 = 0x00;
const ROW_DELETION: u8 = 0x01;
const ROW_CELL: u8 = 0x02;
const ROW_COMPLEX_DELETION: u8 = 0x03;

/// A node's store: [`StorageCore`] (reads, metadata, everything but the
/// data writes) and the one thread that applies every [`Mutation`]
/// ([`Storage::apply`]).
pub struct Storage {
    // Declared first: dropped (their threads joined) before the core.
    writer: writer::Writer<StorageCore>,
    stage: stage::Stage<StorageCore>,
    core: Arc<StorageCore>,
}

/// Everything of a store but its writer thread; [`Storage`] derefs to it.
pub struct StorageCore {
    db: Database,
    meta: Keyspace,
    tables: RwLock<HashMap<TableId, Keyspace>>,
    sync: CommitlogSync,
    stop: Arc<AtomicBool>,
    syncer: Mutex<Option<JoinHandle<()>>>,
    dir: std::path::PathBuf,
    /// Each table's memtable and compaction sizes.
    limits: StorageLimits,
    /// Which writes win without reading what they overwrite (`newest.rs`).
    newest: newest::Newest,
}

impl Storage {
    /// Opens (or creates) the store in `dir`, with the default limits.
    pub fn open(dir: &Path, sync: CommitlogSync) -> Result<Storage, StorageError> {
        Storage::open_with(dir, sync, StorageLimits::default())
    }

    /// Opens (or creates) the store in `dir`, holding at most `limits` in memory.
    pub fn open_with(
        dir: &Path,
        sync: CommitlogSync,
        limits: StorageLimits,
    ) -> Result<Storage, StorageError> {
        let db = Database::builder(dir)
            .cache_size(limits.cache_bytes)
            .open()?;
        let meta = db.keyspace("meta", || limits.keyspace_options())?;
        let stop = Arc::new(AtomicBool::new(false));
        let syncer = match sync {
            CommitlogSync::Periodic(period) => {
                let (db, stop) = (db.clone(), stop.clone());
                Some(std::thread::spawn(move || {
                    while !stop.load(AtomicOrdering::Acquire) {
                        std::thread::park_timeout(period);
                        if let Err(e) = db.persist(PersistMode::SyncData) {
                            tracing::error!("periodic commit log sync failed: {e}");
                        }
                    }
                }))
            }
            CommitlogSync::Batch => None,
        };
        let newest = match meta.get(newest::CEILING_KEY)? {
            Some(v) => newest::Newest::below(i64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("timestamp ceiling"))?,
            )),
            // A new store holds nothing; one written before the ceiling
            // existed may hold anything, so its writes always read first.
            None if meta.is_empty()? => {
                let mut batch = db.batch().durability(Some(PersistMode::SyncData));
                batch.insert(&meta, newest::CEILING_KEY, i64::MIN.to_be_bytes().to_vec());
                batch.commit()?;
                newest::Newest::below(i64::MIN)
            }
            None => newest::Newest::below(i64::MAX),
        };
        let core = Arc::new(StorageCore {
            db,
            meta,
            newest,
            tables: RwLock::new(HashMap::new()),
            sync,
            stop,
            syncer: Mutex::new(syncer),
            dir: dir.to_path_buf(),
            limits,
        });
        let writer = writer::Writer::start(core.clone()).map_err(fjall::Error::from)?;
        let stage = stage::Stage::start(core.clone()).map_err(fjall::Error::from)?;
        Ok(Storage {
            writer,
            stage,
            core,
        })
    }

    /// Writes a mutation atomically, keeping the winning version of every
    /// entry: on the store's writer thread, which applies the mutations
    /// queued behind each other as a group and flushes the journal once for
    /// all of them (group commit); blocking until it is written.
    pub fn apply(&self, m: &Mutation, durable: bool) -> Result<(), StorageError> {
        self.writer.apply(m, durable)
    }

    /// [`Storage::apply`] for async callers: queues `m` on the writer thread
    /// and resolves once it is written, holding no thread while it waits.
    pub fn apply_async(
        &self,
        m: Mutation,
        durable: bool,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.writer.apply_async(m, durable)
    }

    /// Runs `f` (a read, a scan, a change of node-local state: anything
    /// that may wait on the disk) on the store's read stage, for async
    /// callers: the future resolves to its result and holds no thread
    /// while it waits (`stage.rs`).
    pub fn off_runtime<R: Send + 'static>(
        &self,
        f: impl FnOnce(&StorageCore) -> R + Send + 'static,
    ) -> impl std::future::Future<Output = Result<R, StorageError>> + Send + 'static {
        let done = self.stage.run(f);
        async move {
            done.await.map_err(|why| match why {
                stage::Failure::Stopped => StorageError::WriterStopped,
                stage::Failure::Panicked => StorageError::EnginePanicked,
            })
        }
    }
}

impl writer::GroupStore for StorageCore {
    type Item = Mutation;
    type Error = StorageError;

    fn apply_one(&self, m: &Mutation) -> Result<(), StorageError> {
        self.apply_now(m)
    }

    fn flush(&self) -> Result<(), String> {
        match self.persist_mode(true) {
            Some(mode) => self.db.persist(mode).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }

    fn failure(why: writer::Failure) -> StorageError {
        match why {
            writer::Failure::Stopped => StorageError::WriterStopped,
            writer::Failure::Panicked => StorageError::EnginePanicked,
            writer::Failure::FlushFailed(e) => {
                StorageError::Engine(fjall::Error::Io(std::io::Error::other(e)))
            }
        }
    }
}

impl std::ops::Deref for Storage {
    type Target = StorageCore;

    fn deref(&self) -> &StorageCore {
        &self.core
    }
}

impl StorageCore {
    /// The bytes the store takes on disk (nodetool's "Load"); blocking.
    pub fn disk_usage(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return 0;
            };
            entries
                .flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&e.path()),
                    Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                    Err(_) => 0,
                })
                .sum()
        }
        walk(&self.dir)
    }

    fn generation_key(table: &TableId) -> Vec<u8> {
        let mut k = b"table-generation/".to_vec();
        k.extend_from_slice(table);
        k
    }

    fn table(&self, table: &TableId) -> Result<Keyspace, StorageError> {
        if let Some(ks) = self
            .tables
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(table)
        {
            return Ok(ks.clone());
        }
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        if let Some(ks) = tables.get(table) {
            return Ok(ks.clone());
        }
        let generation = match self.meta.get(Self::generation_key(table))? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("table generation"))?,
            ),
            None => 0,
        };
        let ks = self.db.keyspace(&keyspace_name(table, generation), || {
            self.limits.keyspace_options()
        })?;
        tables.insert(*table, ks.clone());
        Ok(ks)
    }

    fn persist_mode(&self, durable: bool) -> Option<PersistMode> {
        match (durable, self.sync) {
            (false, _) => None,
            (true, CommitlogSync::Periodic(_)) => Some(PersistMode::Buffer),
            (true, CommitlogSync::Batch) => Some(PersistMode::SyncData),
        }
    }

    /// Writes a mutation atomically, keeping the winning version of every
    /// entry, its journal entry left in the process's buffer (the writer
    /// thread's part of [`Storage::apply`], which flushes once per group).
    fn apply_now(&self, m: &Mutation) -> Result<(), StorageError> {
        let ks = self.table(&m.table)?;
        let bounds = m
            .range_tombstones
            .iter()
            .flat_map(|rt| [&rt.start, &rt.end]);
        let clusterings = m
            .rows
            .iter()
            .map(|(c, _)| c.as_slice())
            .chain(bounds.filter_map(|b| match b {
                Bound::Unbounded => None,
                Bound::Inclusive(c) | Bound::Exclusive(c) => Some(c.as_slice()),
            }));
        for c in clusterings {
            if c.len() > usize::from(u8::MAX) {
                // Their count is stored in one byte.
                return Err(StorageError::ClusteringTooWide(c.len()));
            }
        }
        let prefix = partition_prefix(m.token, &m.key);
        let mut batch: OwnedWriteBatch = self.db.batch();
        let mut key = Vec::with_capacity(prefix.len() + 64);
        // Entries newer than this win without reading what they overwrite.
        let bound = self.newest.bound(m.token);
        let newest = m.newest_timestamp();
        let ceiling = self.newest.ceiling_for(newest);
        if let Some(c) = ceiling {
            batch.insert(&self.meta, newest::CEILING_KEY, c.to_be_bytes().to_vec());
        }

        if let Some(d) = m.partition_deletion {
            key.clear();
            key.extend_from_slice(&prefix);
            key.push(SECTION_PARTITION_DELETION);
            put_deletion(&ks, &mut batch, &key, d, bound)?;
        }
        for rt in &m.range_tombstones {
            key.clear();
            key.extend_from_slice(&prefix);
            key.push(SECTION_RANGE_TOMBSTONE);
            encode_bound(&mut key, &rt.start);
            encode_bound(&mut key, &rt.end);
            put_deletion(&ks, &mut batch, &key, rt.deletion, bound)?;
        }
        if m.static_row.deletion.is_some() || m.static_row.marker.is_some() {
            return Err(StorageError::InvalidMutation(
                "a static row has neither a row deletion nor a primary-key marker",
            ));
        }
        for (name, data) in &m.static_row.columns {
            match data {
                ColumnData::Simple(c) => {
                    key.clear();
                    key.extend_from_slice(&prefix);
                    key.push(SECTION_STATIC_CELL);
                    encode_name(&mut key, name);
                    put_cell(&ks, &mut batch, &key, c, bound)?;
                }
                ColumnData::Complex { deletion, cells } => {
                    if !deletion.is_live() {
                        key.clear();
                        key.extend_from_slice(&prefix);
                        key.push(SECTION_STATIC_COMPLEX_DELETION);
                        encode_name(&mut key, name);
                        put_deletion(&ks, &mut batch, &key, *deletion, bound)?;
                    }
                    for (path, c) in cells {
                        key.clear();
                        key.extend_from_slice(&prefix);
                        key.push(SECTION_STATIC_CELL);
                        encode_name(&mut key, name);
                        key.extend_from_slice(path);
                        put_cell(&ks, &mut batch, &key, c, bound)?;
                    }
                }
            }
        }
        for (clustering, row) in &m.rows {
            let mut row_prefix = prefix.clone();
            row_prefix.push(SECTION_ROW);
            encode_clustering(&mut row_prefix, clustering);
            if let Some(marker) = &row.marker {
                key.clear();
                key.extend_from_slice(&row_prefix);
                key.push(ROW_MARKER);
                put_cell(&ks, &mut batch, &key, marker, bound)?;
            }
            if let Some(d) = row.deletion {
                key.clear();
                key.extend_from_slice(&row_prefix);
                key.push(ROW_DELETION);
                put_deletion(&ks, &mut batch, &key, d, bound)?;
            }
            for (name, data) in &row.columns {
                match data {
                    ColumnData::Simple(c) => {
                        key.clear();
                        key.extend_from_slice(&row_prefix);
                        key.push(ROW_CELL);
                        encode_name(&mut key, name);
                        put_cell(&ks, &mut batch, &key, c, bound)?;
                    }
                    ColumnData::Complex { deletion, cells } => {
                        if !deletion.is_live() {
                            key.clear();
                            key.extend_from_slice(&row_prefix);
                            key.push(ROW_COMPLEX_DELETION);
                            encode_name(&mut key, name);
                            put_deletion(&ks, &mut batch, &key, *deletion, bound)?;
                        }
                        for (path, c) in cells {
                            key.clear();
                            key.extend_from_slice(&row_prefix);
                            key.push(ROW_CELL);
                            encode_name(&mut key, name);
                            key.extend_from_slice(path);
                            put_cell(&ks, &mut batch, &key, c, bound)?;
                        }
                    }
                }
            }
        }
        batch.commit()?;
        self.newest.wrote(m.token, newest, ceiling);
        Ok(())
    }

    /// Everything stored for one partition, or `None` when nothing is.
    pub fn read_partition(
        &self,
        table: &TableId,
        token: i64,
        key: &[u8],
    ) -> Result<Option<PartitionData>, StorageError> {
        let ks = self.table(table)?;
        let prefix = partition_prefix(token, key);
        if prefix.len() > MAX_STORED_KEY {
            // No stored key is that long, so none starts with it.
            return Ok(None);
        }
        let mut p = PartitionData {
            key: key.to_vec(),
            token,
            ..Default::default()
        };
        let mut any = false;
        for guard in ks.prefix(&prefix) {
            let (k, v) = guard.into_inner()?;
            add_entry(&mut p, &k[prefix.len()..], &v)?;
            any = true;
        }
        Ok(any.then_some(p))
    }

    /// Partitions in ring order, starting after `(token, key)` of `after`
    /// (or at the start of the ring), up to `limit` partitions, stopping past
    /// `end_token` (inclusive).
    pub fn scan(
        &self,
        table: &TableId,
        after: Option<(i64, &[u8])>,
        start_token: i64,
        end_token: i64,
        limit: usize,
    ) -> Result<Vec<PartitionData>, StorageError> {
        let ks = self.table(table)?;
        let mut start = match after {
            Some((t, k)) => {
                let mut p = partition_prefix(t, k);
                p.push(0xFF); // past every entry of that partition
                p
            }
            None => ordered_token(start_token).to_vec(),
        };
        // A stored key (at most MAX_STORED_KEY bytes) sorts at or after a
        // longer `start` exactly when it sorts after `start`'s first
        // MAX_STORED_KEY bytes: a bound fjall accepts, with the same answer.
        let from = if start.len() > MAX_STORED_KEY {
            start.truncate(MAX_STORED_KEY);
            std::ops::Bound::Excluded(start)
        } else {
            std::ops::Bound::Included(start)
        };
        let mut out: Vec<PartitionData> = Vec::new();
        for guard in ks.range((from, std::ops::Bound::Unbounded)) {
            let (k, v) = guard.into_inner()?;
            let (token, pkey, rest) = split_prefix(&k)?;
            if token > end_token {
                break;
            }
            let same = out
                .last()
                .is_some_and(|p| p.token == token && p.key == pkey);
            if !same {
                if out.len() == limit {
                    break;
                }
                out.push(PartitionData {
                    key: pkey.to_vec(),
                    token,
                    ..Default::default()
                });
            }
            let p = out.last_mut().expect("pushed above");
            add_entry(p, rest, &v)?;
        }
        Ok(out)
    }

    /// Deletes every partition of a table (TRUNCATE, DROP TABLE).
    pub fn truncate(&self, table: &TableId) -> Result<(), StorageError> {
        let old = self.table(table)?;
        let mut tables = self.tables.write().unwrap_or_else(|e| e.into_inner());
        let generation = match self.meta.get(Self::generation_key(table))? {
            Some(v) => u64::from_be_bytes(
                v.as_ref()
                    .try_into()
                    .map_err(|_| StorageError::Corrupt("table generation"))?,
            ),
            None => 0,
        };
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        batch.insert(
            &self.meta,
            Self::generation_key(table),
            (generation + 1).to_be_bytes().to_vec(),
        );
        batch.commit()?;
        tables.remove(table);
        self.db.delete_keyspace(old)?;
        Ok(())
    }

    /// Node-local metadata (schema, tokens, hints bookkeeping...).
    pub fn put_meta(&self, key: &[u8], value: &[u8]) -> Result<(), StorageError> {
        check_key(key)?;
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        batch.insert(&self.meta, key.to_vec(), value.to_vec());
        batch.commit()?;
        Ok(())
    }

    pub fn get_meta(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        if key.len() > MAX_STORED_KEY {
            return Ok(None);
        }
        Ok(self.meta.get(key)?.map(|v| v.to_vec()))
    }

    pub fn delete_meta(&self, key: &[u8]) -> Result<(), StorageError> {
        if key.len() > MAX_STORED_KEY {
            return Ok(());
        }
        let mut batch = self.db.batch().durability(Some(PersistMode::SyncData));
        batch.remove(&self.meta, key.to_vec());
        batch.commit()?;
        Ok(())
    }

    /// Writes metadata entries in one batch, not synced to disk at once:
    /// the periodic sync (or the next synced write) persists them, as
    /// Cassandra flushes hint files every `hints_flush_period` (hints).
    pub fn put_meta_many(&self, entries: &[(Vec<u8>, Vec<u8>)]) -> Result<(), StorageError> {
        let mut batch = self.db.batch();
        for (k, v) in entries {
            check_key(k)?;
            batch.insert(&self.meta, k.clone(), v.clone());
        }
        batch.commit()?;
        Ok(())
    }

    /// Deletes metadata entries in one batch, not synced to disk at once.
    pub fn delete_meta_many(&self, keys: &[Vec<u8>]) -> Result<(), StorageError> {
        let mut batch = self.db.batch();
        for k in keys.iter().filter(|k| k.len() <= MAX_STORED_KEY) {
            batch.remove(&self.meta, k.clone());
        }
        batch.commit()?;
        Ok(())
    }

    /// The first `limit` metadata entries whose key starts with `prefix`.
    pub fn meta_prefix_limit(
        &self,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<MetaEntry>, StorageError> {
        if prefix.len() > MAX_STORED_KEY {
            return Ok(Vec::new());
        }
        self.meta
            .prefix(prefix)
            .take(limit)
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StorageError::from)
            })
            .collect()
    }

    /// How many metadata entries start with `prefix`, per the `group`
    /// bytes that follow it (hints per host), values left unread.
    pub fn meta_prefix_counts(
        &self,
        prefix: &[u8],
        group: usize,
    ) -> Result<std::collections::BTreeMap<Vec<u8>, usize>, StorageError> {
        let mut out = std::collections::BTreeMap::new();
        if prefix.len() > MAX_STORED_KEY {
            return Ok(out);
        }
        for g in self.meta.prefix(prefix) {
            let k = g.key()?;
            if let Some(id) = k.get(prefix.len()..prefix.len() + group) {
                *out.entry(id.to_vec()).or_default() += 1;
            }
        }
        Ok(out)
    }

    /// Every metadata entry whose key starts with `prefix`.
    pub fn meta_prefix(&self, prefix: &[u8]) -> Result<Vec<MetaEntry>, StorageError> {
        if prefix.len() > MAX_STORED_KEY {
            return Ok(Vec::new());
        }
        self.meta
            .prefix(prefix)
            .map(|g| {
                g.into_inner()
                    .map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StorageError::from)
            })
            .collect()
    }

    /// Syncs everything to disk (drain, clean shutdown).
    pub fn flush(&self) -> Result<(), StorageError> {
        self.db.persist(PersistMode::SyncAll)?;
        Ok(())
    }
}

impl Drop for StorageCore {
    fn drop(&mut self) {
        self.stop.store(true, AtomicOrdering::Release);
        if let Some(h) = self.syncer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            h.thread().unpark();
            let _ = h.join();
        }
        let _ = self.db.persist(PersistMode::SyncAll);
    }
}

fn keyspace_name(table: &TableId, generation: u64) -> String {
    let hex: String = table.iter().map(|b| format!("{b:02x}")).collect();
    format!("t{hex}-{generation}")
}

/// The token as bytes whose order is the token's signed order.
fn ordered_token(token: i64) -> [u8; 8] {
    ((token as u64) ^ (1 << 63)).to_be_bytes()
}

fn partition_prefix(token: i64, key: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(12 + key.len());
    p.extend_from_slice(&ordered_token(token));
    p.extend_from_slice(&(key.len() as u32).to_be_bytes());
    p.extend_from_slice(key);
    p
}

fn split_prefix(k: &[u8]) -> Result<(i64, &[u8], &[u8]), StorageError> {
    let bad = StorageError::Corrupt("partition prefix");
    let t: [u8; 8] = k
        .get(..8)
        .and_then(|s| s.try_into().ok())
        .ok_or(StorageError::Corrupt("partition prefix"))?;
    let token = (u64::from_be_bytes(t) ^ (1 << 63)) as i64;
    let len: [u8; 4] = k.get(8..12).and_then(|s| s.try_into().ok()).ok_or(bad)?;
    let len = u32::from_be_bytes(len) as usize;
    let key = k
        .get(12..12 + len)
        .ok_or(StorageError::Corrupt("partition key"))?;
    Ok((token, key, &k[12 + len..]))
}

fn encode_name(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(&(name.len() as u16).to_be_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn encode_clustering(out: &mut Vec<u8>, c: &[Vec<u8>]) {
    out.push(c.len() as u8);
    for v in c {
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
}

fn encode_bound(out: &mut Vec<u8>, b: &Bound) {
    match b {
        Bound::Unbounded => out.push(0),
        Bound::Inclusive(c) => {
            out.push(1);
            encode_clustering(out, c);
        }
        Bound::Exclusive(c) => {
            out.push(2);
            encode_clustering(out, c);
        }
    }
}

/// A cursor over stored bytes whose every read is checked.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], StorageError> {
        if self.0.len() < n {
            return Err(StorageError::Corrupt(what));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, StorageError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &'static str) -> Result<u16, StorageError> {
        Ok(u16::from_be_bytes(
            self.take(2, what)?
                .try_into()
                .map_err(|_| StorageError::Corrupt(what))?,
        ))
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, StorageError> {
        Ok(u32::from_be_bytes(
            self.take(4, what)?
                .try_into()
                .map_err(|_| StorageError::Corrupt(what))?,
        ))
    }
    fn i64(&mut self, what: &'static str) -> Result<i64, StorageError> {
        Ok(i64::from_be_bytes(
            self.take(8, what)?
                .try_into()
                .map_err(|_| StorageError::Corrupt(what))?,
        ))
    }
    fn name(&mut self) -> Result<String, StorageError> {
        let n = self.u16("column name length")? as usize;
        String::from_utf8(self.take(n, "column name")?.to_vec())
            .map_err(|_| StorageError::Corrupt("column name"))
    }
    fn clustering(&mut self) -> Result<Clustering, StorageError> {
        let n = self.u8("clustering size")? as usize;
        let mut c = Vec::with_capacity(n);
        for _ in 0..n {
            let len = self.u32("clustering length")? as usize;
            c.push(self.take(len, "clustering value")?.to_vec());
        }
        Ok(c)
    }
    fn bound(&mut self) -> Result<Bound, StorageError> {
        Ok(match self.u8("bound kind")? {
            0 => Bound::Unbounded,
            1 => Bound::Inclusive(self.clustering()?),
            2 => Bound::Exclusive(self.clustering()?),
            _ => return Err(StorageError::Corrupt("bound kind")),
        })
    }
}

fn encode_cell(c: &Cell) -> Vec<u8> {
    let mut v = Vec::with_capacity(21 + c.value.as_ref().map_or(0, Vec::len));
    v.push(u8::from(c.value.is_none()));
    v.extend_from_slice(&c.timestamp.to_be_bytes());
    v.extend_from_slice(&c.ttl.to_be_bytes());
    v.extend_from_slice(&c.local_deletion_time.to_be_bytes());
    if let Some(value) = &c.value {
        v.extend_from_slice(value);
    }
    v
}

fn decode_cell(bytes: &[u8]) -> Result<Cell, StorageError> {
    let mut r = Reader(bytes);
    let tombstone = r.u8("cell flags")? & 1 == 1;
    let timestamp = r.i64("cell timestamp")?;
    let ttl = r.u32("cell ttl")? as i32;
    let local_deletion_time = r.i64("cell deletion time")?;
    Ok(Cell {
        timestamp,
        ttl,
        local_deletion_time,
        value: (!tombstone).then(|| r.0.to_vec()),
    })
}

fn encode_deletion(d: Deletion) -> Vec<u8> {
    let mut v = Vec::with_capacity(16);
    v.extend_from_slice(&d.marked_at.to_be_bytes());
    v.extend_from_slice(&d.local_deletion_time.to_be_bytes());
    v
}

fn decode_deletion(bytes: &[u8]) -> Result<Deletion, StorageError> {
    let mut r = Reader(bytes);
    Ok(Deletion {
        marked_at: r.i64("deletion timestamp")?,
        local_deletion_time: r.i64("deletion time")?,
    })
}

/// Writes `c` under `key` unless the stored cell wins; a cell newer than
/// `bound` (everything stored in its slice of the ring) wins unread.
fn put_cell(
    ks: &Keyspace,
    batch: &mut OwnedWriteBatch,
    key: &[u8],
    c: &Cell,
    bound: i64,
) -> Result<(), StorageError> {
    check_key(key)?;
    if c.timestamp <= bound
        && let Some(existing) = ks.get(key)?
    {
        let existing = decode_cell(&existing)?;
        if cell::winner(&existing, c) != std::cmp::Ordering::Less {
            return Ok(());
        }
    }
    batch.insert(ks, key.to_vec(), encode_cell(c));
    Ok(())
}

fn put_deletion(
    ks: &Keyspace,
    batch: &mut OwnedWriteBatch,
    key: &[u8],
    d: Deletion,
    bound: i64,
) -> Result<(), StorageError> {
    check_key(key)?;
    let stored = if d.marked_at <= bound {
        ks.get(key)?
    } else {
        None
    };
    let d = match stored {
        Some(existing) => decode_deletion(&existing)?.max(d),
        None => d,
    };
    batch.insert(ks, key.to_vec(), encode_deletion(d));
    Ok(())
}

fn row_mut(p: &mut PartitionData, clustering: Clustering) -> &mut RowData {
    // Entries of one row are adjacent in key order, so the last row is the usual match.
    if p.rows.last().is_none_or(|(c, _)| *c != clustering) {
        p.rows.push((clustering, RowData::default()));
    }
    &mut p.rows.last_mut().expect("pushed above").1
}

fn add_column_entry(
    row: &mut RowData,
    name: String,
    path: &[u8],
    deletion: Option<Deletion>,
    cell: Option<Cell>,
) {
    let entry = row.columns.entry(name);
    match (path.is_empty(), deletion, cell) {
        (true, None, Some(c)) => {
            entry.or_insert(ColumnData::Simple(c));
        }
        (_, d, c) => {
            let data = entry.or_insert_with(|| ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells: Default::default(),
            });
            if let ColumnData::Complex { deletion, cells } = data {
                if let Some(d) = d {
                    *deletion = (*deletion).max(d);
                }
                if let Some(c) = c {
                    cells.insert(path.to_vec(), c);
                }
            }
        }
    }
}

/// Adds one stored entry (key past the partition prefix, value) to `p`.
fn add_entry(p: &mut PartitionData, rest: &[u8], value: &[u8]) -> Result<(), StorageError> {
    let mut r = Reader(rest);
    match r.u8("section")? {
        SECTION_PARTITION_DELETION => {
            let d = decode_deletion(value)?;
            p.deletion = Some(p.deletion.map_or(d, |x| x.max(d)));
        }
        SECTION_RANGE_TOMBSTONE => {
            let start = r.bound()?;
            let end = r.bound()?;
            p.range_tombstones.push(RangeTombstone {
                start,
                end,
                deletion: decode_deletion(value)?,
            });
        }
        SECTION_STATIC_CELL => {
            let name = r.name()?;
            add_column_entry(
                &mut p.static_row,
                name,
                r.0,
                None,
                Some(decode_cell(value)?),
            );
        }
        SECTION_STATIC_COMPLEX_DELETION => {
            let name = r.name()?;
            add_column_entry(
                &mut p.static_row,
                name,
                &[],
                Some(decode_deletion(value)?),
                None,
            );
        }
        SECTION_ROW => {
            let clustering = r.clustering()?;
            let row = row_mut(p, clustering);
            match r.u8("row entry kind")? {
                ROW_MARKER => row.marker = Some(decode_cell(value)?),
                ROW_DELETION => row.deletion = Some(decode_deletion(value)?),
                ROW_CELL => {
                    let name = r.name()?;
                    add_column_entry(row, name, r.0, None, Some(decode_cell(value)?));
                }
                ROW_COMPLEX_DELETION => {
                    let name = r.name()?;
                    add_column_entry(row, name, &[], Some(decode_deletion(value)?), None);
                }
                _ => return Err(StorageError::Corrupt("row entry kind")),
            }
        }
        _ => return Err(StorageError::Corrupt("section")),
    }
    Ok(())
}

/// Version of the [`Mutation`] wire form (hints and internode messages).
const MUTATION_FORMAT: u8 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    const T: TableId = [7; 16];

    fn cmp(a: &[Vec<u8>], b: &[Vec<u8>]) -> Ordering {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.cmp(y))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    }

    fn write(s: &Storage, token: i64, key: &[u8], ck: &[u8], col: &str, ts: i64, v: &[u8]) {
        let mut row = RowData {
            marker: Some(Cell::live(ts, vec![])),
            ..Default::default()
        };
        row.columns
            .insert(col.into(), ColumnData::Simple(Cell::live(ts, v.to_vec())));
        let m = Mutation {
            table: T,
            token,
            key: key.to_vec(),
            rows: vec![(vec![ck.to_vec()], row)],
            ..Default::default()
        };
        s.apply(&m, true).unwrap();
    }

    fn value(s: &Storage, token: i64, key: &[u8], col: &str) -> Option<Vec<u8>> {
        let p = s.read_partition(&T, token, key).unwrap()?;
        let live = p.resolve(0, &cmp);
        live.rows.first().and_then(|r| match r.columns.get(col) {
            Some(partition::LiveColumn::Simple(c)) => c.value.clone(),
            _ => None,
        })
    }

    #[test]
    fn last_write_wins_whatever_the_arrival_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        write(&s, 5, b"k", b"c", "v", 20, b"new");
        write(&s, 5, b"k", b"c", "v", 10, b"old");
        assert_eq!(value(&s, 5, b"k", "v").as_deref(), Some(&b"new"[..]));
        write(&s, 5, b"k", b"c", "v", 30, b"newer");
        assert_eq!(value(&s, 5, b"k", "v").as_deref(), Some(&b"newer"[..]));
        assert!(s.read_partition(&T, 5, b"other").unwrap().is_none());
    }

    #[test]
    fn older_writes_lose_after_a_reopen_and_in_other_slices_of_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        // Tokens in two slices of the ring (`newest.rs`), the second one
        // written with newer timestamps than the first.
        let (a, b) = (5_i64, i64::MIN + 5);
        {
            let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
            write(&s, a, b"k", b"c", "v", 20, b"a20");
            write(&s, b, b"k", b"c", "v", 1_000, b"b1000");
            // Older than a's stored cell but newer than anything in b's
            // slice... and equal timestamps: the greater value wins.
            write(&s, a, b"k", b"c", "v", 15, b"a15");
            write(&s, b, b"k", b"c", "v", 1_000, b"b1000z");
            write(&s, b, b"k", b"c", "v", 1_000, b"b1000a");
            assert_eq!(value(&s, a, b"k", "v").as_deref(), Some(&b"a20"[..]));
            assert_eq!(value(&s, b, b"k", "v").as_deref(), Some(&b"b1000z"[..]));
        }
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        write(&s, a, b"k", b"c", "v", 19, b"a19");
        write(&s, b, b"k", b"c", "v", 999, b"b999");
        assert_eq!(value(&s, a, b"k", "v").as_deref(), Some(&b"a20"[..]));
        assert_eq!(value(&s, b, b"k", "v").as_deref(), Some(&b"b1000z"[..]));
        // Far newer (past the ceiling's headroom): written.
        write(&s, a, b"k", b"c", "v", 60_000_000, b"late");
        assert_eq!(value(&s, a, b"k", "v").as_deref(), Some(&b"late"[..]));
        drop(s);
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        write(&s, a, b"k", b"c", "v", 59_999_999, b"earlier");
        assert_eq!(value(&s, a, b"k", "v").as_deref(), Some(&b"late"[..]));
    }

    #[test]
    fn a_mutations_newest_timestamp_counts_every_entry() {
        let mut m = Mutation::default();
        assert_eq!(m.newest_timestamp(), i64::MIN);
        m.partition_deletion = Some(Deletion {
            marked_at: 3,
            local_deletion_time: 0,
        });
        assert_eq!(m.newest_timestamp(), 3);
        let mut r = RowData::default();
        let cells = [(b"p".to_vec(), Cell::live(9, vec![]))];
        r.columns.insert(
            "l".into(),
            ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells: cells.into_iter().collect(),
            },
        );
        m.rows.push((Default::default(), r));
        assert_eq!(m.newest_timestamp(), 9);
        let s = ColumnData::Simple(Cell::live(11, vec![]));
        m.static_row.columns.insert("s".into(), s);
        assert_eq!(m.newest_timestamp(), 11);
    }

    #[test]
    fn keys_too_long_for_fjall_are_errors_and_reads_of_them_find_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let long = vec![b'k'; MAX_STORED_KEY];
        let row = RowData {
            marker: Some(Cell::live(1, vec![])),
            ..Default::default()
        };
        let m = Mutation {
            table: T,
            token: 1,
            key: long.clone(),
            rows: vec![(vec![b"c".to_vec()], row.clone())],
            ..Default::default()
        };
        assert!(
            matches!(s.apply(&m, true), Err(StorageError::KeyTooLong(n)) if n > MAX_STORED_KEY)
        );
        let wide = Mutation {
            table: T,
            token: 1,
            key: b"k".to_vec(),
            rows: vec![(vec![Vec::new(); 256], row)],
            ..Default::default()
        };
        assert!(matches!(
            s.apply(&wide, true),
            Err(StorageError::ClusteringTooWide(256))
        ));
        // Nothing of either was written; reads and scans with keys (or
        // paging positions) longer than any stored key answer, not panic.
        write(&s, 1, b"k", b"c", "v", 1, b"x");
        assert!(s.read_partition(&T, 1, &long).unwrap().is_none());
        let huge = vec![0xFF; 3 * MAX_STORED_KEY];
        assert!(s.read_partition(&T, 1, &huge).unwrap().is_none());
        let after = s
            .scan(&T, Some((1, &huge)), i64::MIN, i64::MAX, 10)
            .unwrap();
        assert!(after.is_empty());
        let all = s
            .scan(&T, Some((0, &huge)), i64::MIN, i64::MAX, 10)
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].key, b"k");
        assert!(matches!(
            s.put_meta(&huge, b"v"),
            Err(StorageError::KeyTooLong(_))
        ));
        assert_eq!(s.get_meta(&huge).unwrap(), None);
        s.delete_meta(&huge).unwrap();
        assert!(s.meta_prefix(&huge).unwrap().is_empty());
    }

    #[test]
    fn survives_reopen_and_truncate_empties() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
            write(&s, -3, b"a", b"1", "v", 1, b"x");
            s.put_meta(b"schema/ks", b"{}").unwrap();
        }
        let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
        assert_eq!(value(&s, -3, b"a", "v").as_deref(), Some(&b"x"[..]));
        assert_eq!(
            s.get_meta(b"schema/ks").unwrap().as_deref(),
            Some(&b"{}"[..])
        );
        s.truncate(&T).unwrap();
        assert!(s.read_partition(&T, -3, b"a").unwrap().is_none());
        write(&s, -3, b"a", b"1", "v", 2, b"y");
        drop(s);
        let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
        assert_eq!(value(&s, -3, b"a", "v").as_deref(), Some(&b"y"[..]));
    }

    #[test]
    fn scan_walks_the_ring_in_token_order_with_paging() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
        let tokens = [i64::MAX, 0, -1, i64::MIN + 1, 42, 7];
        for (i, t) in tokens.iter().enumerate() {
            write(&s, *t, format!("k{i}").as_bytes(), b"c", "v", 1, b"x");
            write(&s, *t, format!("k{i}").as_bytes(), b"d", "v", 1, b"y");
        }
        let mut seen = Vec::new();
        let mut after: Option<(i64, Vec<u8>)> = None;
        loop {
            let page = s
                .scan(
                    &T,
                    after.as_ref().map(|(t, k)| (*t, k.as_slice())),
                    i64::MIN,
                    i64::MAX,
                    2,
                )
                .unwrap();
            if page.is_empty() {
                break;
            }
            for p in &page {
                assert_eq!(p.rows.len(), 2, "both rows of a partition in one page");
                seen.push(p.token);
            }
            let last = page.last().unwrap();
            after = Some((last.token, last.key.clone()));
        }
        let mut sorted = tokens.to_vec();
        sorted.sort();
        assert_eq!(seen, sorted);
        let some = s.scan(&T, None, 0, 42, 100).unwrap();
        assert_eq!(some.iter().map(|p| p.token).collect::<Vec<_>>(), [0, 7, 42]);
    }

    #[test]
    fn deletions_and_collections_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
        let mut cells = std::collections::BTreeMap::new();
        cells.insert(b"e1".to_vec(), Cell::live(5, vec![]));
        let mut row = RowData::default();
        row.columns.insert(
            "set".into(),
            ColumnData::Complex {
                deletion: Deletion {
                    marked_at: 4,
                    local_deletion_time: 1,
                },
                cells,
            },
        );
        let mut static_row = RowData::default();
        static_row.columns.insert(
            "s".into(),
            ColumnData::Simple(Cell::live(5, b"st".to_vec())),
        );
        let m = Mutation {
            table: T,
            token: 1,
            key: b"p".to_vec(),
            partition_deletion: Some(Deletion {
                marked_at: 2,
                local_deletion_time: 1,
            }),
            range_tombstones: vec![RangeTombstone {
                start: Bound::Inclusive(vec![b"a".to_vec()]),
                end: Bound::Unbounded,
                deletion: Deletion {
                    marked_at: 3,
                    local_deletion_time: 1,
                },
            }],
            static_row,
            rows: vec![(vec![b"z".to_vec()], row)],
        };
        s.apply(&m, true).unwrap();
        let p = s.read_partition(&T, 1, b"p").unwrap().unwrap();
        assert_eq!(p.deletion, m.partition_deletion);
        assert_eq!(p.range_tombstones, m.range_tombstones);
        assert_eq!(p.static_row, m.static_row);
        assert_eq!(p.rows, m.rows);
    }

    #[test]
    fn mutations_round_trip_as_bytes_and_reject_garbage() {
        let mut cells = std::collections::BTreeMap::new();
        cells.insert(b"p".to_vec(), Cell::tombstone(3, 4));
        let mut row = RowData {
            marker: Some(Cell::expiring(1, 10, 5, vec![])),
            deletion: Some(Deletion {
                marked_at: 0,
                local_deletion_time: 1,
            }),
            ..Default::default()
        };
        row.columns
            .insert("a".into(), ColumnData::Simple(Cell::live(2, b"v".to_vec())));
        row.columns.insert(
            "m".into(),
            ColumnData::Complex {
                deletion: Deletion::LIVE,
                cells,
            },
        );
        let m = Mutation {
            table: T,
            token: -9,
            key: b"key".to_vec(),
            partition_deletion: Some(Deletion {
                marked_at: 1,
                local_deletion_time: 2,
            }),
            range_tombstones: vec![RangeTombstone {
                start: Bound::Unbounded,
                end: Bound::Exclusive(vec![b"x".to_vec()]),
                deletion: Deletion {
                    marked_at: 5,
                    local_deletion_time: 6,
                },
            }],
            static_row: RowData::default(),
            rows: vec![(vec![b"c".to_vec(), vec![]], row)],
        };
        let bytes = m.encode();
        assert_eq!(Mutation::decode(&bytes).unwrap(), m);
        for cut in 0..bytes.len() {
            assert!(
                Mutation::decode(&bytes[..cut]).is_err(),
                "truncated at {cut}"
            );
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 64) as usize;
            let junk: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8).collect();
            let _ = Mutation::decode(&junk);
        }
        let mut huge = vec![MUTATION_FORMAT];
        huge.extend_from_slice(&T);
        huge.extend_from_slice(&0i64.to_be_bytes());
        huge.extend_from_slice(&u32::MAX.to_be_bytes());
        assert!(
            Mutation::decode(&huge).is_err(),
            "a declared length past the end"
        );
    }

    #[test]
    fn corrupt_entries_are_errors_not_panics() {
        let mut p = PartitionData::default();
        for bad in [
            &[][..],
            &[0x10],
            &[0x10, 1, 0, 0, 0, 9],
            &[0x02, 0, 5, b'a'],
            &[0x77],
        ] {
            assert!(add_entry(&mut p, bad, &[0; 21]).is_err(), "{bad:?}");
        }
        assert!(decode_cell(&[0, 1]).is_err());
    }
}
