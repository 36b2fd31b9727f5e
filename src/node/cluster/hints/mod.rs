//! Hinted handoff: writes kept for replicas that could not take them.
//!
//! When a replica is down (or does not answer a write within the write
//! timeout), the coordinator keeps the mutation as a *hint* for that
//! replica's host id, durably in its own storage (`hint/<host id><time><seq>`
//! in the meta keyspace). When gossip shows the replica up again, the hints
//! are sent to it, oldest first, and each is deleted once the replica
//! acknowledged it. Hints are not kept for a replica that has been down
//! longer than `max_hint_window` (three hours by default, as Cassandra's).
//!
//! Delivery goes in passes ([`delivery`]): many hints in flight per
//! replica, throttled as Cassandra's `hinted_handoff_throttle`, deleted in
//! batches once acknowledged.

pub mod delivery;
pub mod replay;

use std::sync::atomic::{AtomicU32, Ordering};

use crate::node::db::storage::{Storage, StorageError};

const PREFIX: &[u8] = b"hint/";

/// A node's hinted-handoff settings (the node's flags, named after
/// Cassandra's in `node::config`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintedHandoff {
    /// Cassandra's `hinted_handoff_enabled`: whether the coordinator keeps
    /// hints at all (it can be changed at runtime, see
    /// [`crate::node::cluster::membership::Membership::set_hints_enabled`]).
    pub enabled: bool,
    /// Cassandra's `hinted_handoff_throttle` in KiB a second (0: no
    /// limit), divided among the other nodes of the cluster.
    pub throttle_kib: u64,
    /// Cassandra's `max_hints_delivery_threads`: how many replicas a pass
    /// delivers to at once.
    pub max_delivery_threads: usize,
}

impl Default for HintedHandoff {
    /// ccrsim's node defaults: enabled, 16 MiB/s (Cassandra's is 1 MiB/s),
    /// two replicas at once.
    fn default() -> Self {
        HintedHandoff {
            enabled: true,
            throttle_kib: 16 * 1024,
            max_delivery_threads: 2,
        }
    }
}

/// A stored hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hint {
    /// The storage key (to delete it once delivered).
    pub key: Vec<u8>,
    pub host: [u8; 16],
    /// When it was written (microseconds).
    pub written: i64,
    pub durable: bool,
    /// The mutation, in its wire form.
    pub mutation: Vec<u8>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

fn key_for(host: &[u8; 16], now_micros: i64) -> Vec<u8> {
    let mut key = PREFIX.to_vec();
    key.extend_from_slice(host);
    key.extend_from_slice(&now_micros.to_be_bytes());
    key.extend_from_slice(&SEQ.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    key
}

/// Keeps a hint for `host`.
pub fn store(
    storage: &Storage,
    host: [u8; 16],
    now_micros: i64,
    durable: bool,
    mutation: &[u8],
) -> Result<(), StorageError> {
    store_many(storage, &[host], now_micros, durable, mutation)
}

/// Keeps one mutation as a hint for each of `hosts`, in one batch. Not
/// synced at once: the periodic sync persists it, as Cassandra flushes
/// its hint files every `hints_flush_period` (10 s).
pub fn store_many(
    storage: &crate::node::db::storage::StorageCore,
    hosts: &[[u8; 16]],
    now_micros: i64,
    durable: bool,
    mutation: &[u8],
) -> Result<(), StorageError> {
    let mut value = Vec::with_capacity(1 + mutation.len());
    value.push(u8::from(durable));
    value.extend_from_slice(mutation);
    let entries: Vec<(Vec<u8>, Vec<u8>)> = hosts
        .iter()
        .map(|h| (key_for(h, now_micros), value.clone()))
        .collect();
    storage.put_meta_many(&entries)
}

fn decode(key: Vec<u8>, value: &[u8]) -> Option<Hint> {
    let rest = &key[PREFIX.len()..];
    if rest.len() != 16 + 8 + 4 || value.is_empty() {
        return None;
    }
    Some(Hint {
        host: rest[..16].try_into().ok()?,
        written: i64::from_be_bytes(rest[16..24].try_into().ok()?),
        durable: value[0] != 0,
        mutation: value[1..].to_vec(),
        key,
    })
}

/// Every hint kept, oldest first per host.
pub fn all(storage: &Storage) -> Result<Vec<Hint>, StorageError> {
    Ok(storage
        .meta_prefix(PREFIX)?
        .into_iter()
        .filter_map(|(k, v)| decode(k, &v))
        .collect())
}

/// The oldest `limit` hints kept for `host` (a delivery pass reads at most
/// that many per host, so hints stay on disk, not in memory).
pub fn for_host(
    storage: &Storage,
    host: &[u8; 16],
    limit: usize,
) -> Result<Vec<Hint>, StorageError> {
    let mut prefix = PREFIX.to_vec();
    prefix.extend_from_slice(host);
    Ok(storage
        .meta_prefix_limit(&prefix, limit)?
        .into_iter()
        .filter_map(|(k, v)| decode(k, &v))
        .collect())
}

/// How many hints are kept per host (values left unread).
pub fn pending(storage: &Storage) -> Result<Vec<([u8; 16], usize)>, StorageError> {
    Ok(storage
        .meta_prefix_counts(PREFIX, 16)?
        .into_iter()
        .filter_map(|(h, n)| Some((h.try_into().ok()?, n)))
        .collect())
}

pub fn delete(storage: &Storage, hint: &Hint) -> Result<(), StorageError> {
    storage.delete_meta(&hint.key)
}

/// Deletes delivered hints in one batch (not synced at once).
pub fn delete_all(storage: &Storage, hints: &[Hint]) -> Result<(), StorageError> {
    let keys: Vec<Vec<u8>> = hints.iter().map(|h| h.key.clone()).collect();
    storage.delete_meta_many(&keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::storage::CommitlogSync;

    #[test]
    fn hints_are_kept_listed_and_deleted_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
            store(&s, [1; 16], 10, true, b"m1").unwrap();
            store(&s, [2; 16], 11, false, b"m2").unwrap();
            store(&s, [1; 16], 12, true, b"m3").unwrap();
        }
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        let hs = all(&s).unwrap();
        assert_eq!(hs.len(), 3);
        let for1: Vec<&[u8]> = hs
            .iter()
            .filter(|h| h.host == [1; 16])
            .map(|h| h.mutation.as_slice())
            .collect();
        assert_eq!(for1, vec![b"m1".as_slice(), b"m3".as_slice()]);
        assert_eq!(pending(&s).unwrap(), vec![([1; 16], 2), ([2; 16], 1)]);
        delete(&s, &hs[0]).unwrap();
        assert_eq!(all(&s).unwrap().len(), 2);
    }
}
