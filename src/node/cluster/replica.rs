//! A node as a replica: what it does with the data other nodes'
//! coordinators (and its own) send it. It applies mutations (with a Paxos
//! commit when they carry a ballot), answers partition and range reads,
//! keeps its Paxos state (prepare, propose, commit) and keeps hints for
//! replicas that cannot take a write now.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::node::cluster::membership::Membership;
use crate::node::cluster::message::Body;
use crate::node::cluster::paxos::{self, Ballot};
use crate::node::cql::exec::Engine;
use crate::node::db::storage::{Mutation, StorageError};

/// A node's replica side.
pub struct Replica {
    engine: Arc<Engine>,
    /// Serializes Paxos state changes (read, change, store) on this replica.
    paxos: Mutex<()>,
}

impl Replica {
    pub fn new(engine: Arc<Engine>) -> Replica {
        Replica {
            engine,
            paxos: Mutex::new(()),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// This replica's Paxos state of one partition, changed by `f` and kept
    /// durably before `f`'s answer is returned (blocking).
    pub fn with_paxos<R>(
        &self,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        f: impl FnOnce(&mut paxos::State) -> R,
    ) -> Result<R, StorageError> {
        let _guard = self.paxos.lock().unwrap_or_else(|e| e.into_inner());
        let k = paxos::state_key(table, token, key);
        let stored = self.engine.storage.get_meta(&k)?;
        let mut state = stored
            .as_deref()
            .and_then(paxos::State::decode)
            .unwrap_or_default();
        let before = state.clone();
        let r = f(&mut state);
        if state != before {
            self.engine.storage.put_meta(&k, &state.encode())?;
        }
        Ok(r)
    }

    /// Applies a mutation; with a ballot, also records it as a Paxos commit.
    pub fn apply_commit(
        &self,
        m: &Mutation,
        durable: bool,
        commit: Option<Ballot>,
    ) -> Result<(), StorageError> {
        self.engine.storage.apply(m, durable)?;
        if let Some(b) = commit {
            self.with_paxos(&m.table, m.token, &m.key, |s| s.commit(b, m.encode()))?;
        }
        Ok(())
    }

    /// Keeps hints for `replicas` (on a blocking thread): those `membership`
    /// knows the host id of and that are still within the hint window;
    /// none while hinted handoff is disabled ([`Membership::hintable`]).
    pub fn store_hints(
        &self,
        membership: &Membership,
        replicas: &[IpAddr],
        mutation: &[u8],
        durable: bool,
    ) -> usize {
        let hosts: Vec<[u8; 16]> = replicas
            .iter()
            .filter(|r| membership.hintable(r))
            .filter_map(|r| membership.host_id_of(r))
            .collect();
        if hosts.is_empty() {
            return 0;
        }
        let now = self.engine.now_micros();
        match crate::node::cluster::hints::store_many(
            &self.engine.storage,
            &hosts,
            now,
            durable,
            mutation,
        ) {
            Ok(()) => hosts.len(),
            Err(e) => {
                tracing::warn!("cannot keep hints for {replicas:?}: {e}");
                0
            }
        }
    }

    /// Applies a mutation sent by a coordinator (on the node's storage
    /// writer): the ack, or why it failed.
    pub async fn mutation(
        self: Arc<Self>,
        mutation: Vec<u8>,
        durable: bool,
        commit: Option<Ballot>,
    ) -> Body {
        let r = match (Mutation::decode(&mutation), commit) {
            (Err(e), _) => Err(e.to_string()),
            // A plain write waits for the node's storage writer on no thread.
            (Ok(m), None) => self
                .engine
                .storage
                .apply_async(m, durable)
                .await
                .map_err(|e| e.to_string()),
            // A Paxos commit also updates the Paxos state: off the async threads.
            (Ok(m), Some(_)) => tokio::task::spawn_blocking(move || {
                self.apply_commit(&m, durable, commit)
                    .map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string())),
        };
        match r {
            Ok(()) => Body::MutationAck,
            Err(e) => Body::MutationFailed(e),
        }
    }

    /// One partition as this replica holds it (none when it cannot be read).
    pub async fn read_partition(
        self: Arc<Self>,
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
    ) -> Option<Body> {
        let engine = self.engine.clone();
        let p =
            tokio::task::spawn_blocking(move || engine.storage.read_partition(&table, token, &key))
                .await
                .ok()?
                .ok()?;
        Some(Body::Partition(p.map(|p| p.into_mutation(table).encode())))
    }

    /// Every partition of a table in a token range this replica holds.
    pub async fn scan(self: Arc<Self>, table: [u8; 16], start: i64, end: i64) -> Option<Body> {
        let engine = self.engine.clone();
        let ps = tokio::task::spawn_blocking(move || {
            engine.storage.scan(&table, None, start, end, usize::MAX)
        })
        .await
        .ok()?
        .ok()?;
        Some(Body::Partitions(
            ps.into_iter()
                .map(|p| p.into_mutation(table).encode())
                .collect(),
        ))
    }

    /// Paxos phase 1 on this replica: its promise (or refusal).
    pub async fn prepare(
        self: Arc<Self>,
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
        ballot: Ballot,
    ) -> Option<Body> {
        let p = tokio::task::spawn_blocking(move || {
            self.with_paxos(&table, token, &key, |s| s.prepare(ballot))
        })
        .await
        .ok()?
        .ok()?;
        Some(Body::PaxosPromise(p))
    }

    /// Paxos phase 2 on this replica: whether it accepts the proposal.
    pub async fn propose(
        self: Arc<Self>,
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
        ballot: Ballot,
        update: Vec<u8>,
    ) -> Option<Body> {
        let ok = tokio::task::spawn_blocking(move || {
            self.with_paxos(&table, token, &key, |s| s.propose(ballot, update))
        })
        .await
        .ok()?
        .ok()?;
        Some(Body::PaxosAccepted(ok))
    }
}
