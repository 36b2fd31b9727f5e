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

    /// [`Replica::with_paxos`] on the store's read stage, for async callers.
    pub async fn paxos<R: Send + 'static>(
        self: &Arc<Self>,
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
        f: impl FnOnce(&mut paxos::State) -> R + Send + 'static,
    ) -> Result<R, StorageError> {
        let me = self.clone();
        self.engine
            .storage
            .off_runtime(move |_| me.with_paxos(&table, token, &key, f))
            .await?
    }

    /// Applies a mutation (on the store's writer); with a ballot, also
    /// records it as a Paxos commit.
    pub async fn apply_commit(
        self: &Arc<Self>,
        m: Mutation,
        durable: bool,
        commit: Option<Ballot>,
    ) -> Result<(), StorageError> {
        let committed = commit.map(|b| (b, m.table, m.token, m.key.clone(), m.encode()));
        self.engine.storage.apply_async(m, durable).await?;
        if let Some((b, table, token, key, update)) = committed {
            self.paxos(table, token, key, move |s| s.commit(b, update))
                .await?;
        }
        Ok(())
    }

    /// Keeps hints for `replicas` (on the store's read stage): those
    /// `membership` knows the host id of and that are still within the hint
    /// window; none while hinted handoff is disabled ([`Membership::hintable`]).
    /// How many were kept.
    pub async fn store_hints(
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
        let (n, mutation) = (hosts.len(), mutation.to_vec());
        let stored = self
            .engine
            .storage
            .off_runtime(move |core| {
                crate::node::cluster::hints::store_many(core, &hosts, now, durable, &mutation)
            })
            .await;
        match stored {
            Ok(Ok(())) => n,
            Ok(Err(e)) | Err(e) => {
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
        let r = match Mutation::decode(&mutation) {
            Err(e) => Err(e.to_string()),
            Ok(m) => self
                .apply_commit(m, durable, commit)
                .await
                .map_err(|e| e.to_string()),
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
        let p = self
            .engine
            .storage
            .off_runtime(move |core| core.read_partition(&table, token, &key))
            .await
            .ok()?
            .ok()?;
        Some(Body::Partition(p.map(|p| p.into_mutation(table).encode())))
    }

    /// Every partition of a table in a token range this replica holds.
    pub async fn scan(self: Arc<Self>, table: [u8; 16], start: i64, end: i64) -> Option<Body> {
        let ps = self
            .engine
            .storage
            .off_runtime(move |core| core.scan(&table, None, start, end, usize::MAX))
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
        let p = self
            .paxos(table, token, key, move |s| s.prepare(ballot))
            .await
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
        let ok = self
            .paxos(table, token, key, move |s| s.propose(ballot, update))
            .await
            .ok()?;
        Some(Body::PaxosAccepted(ok))
    }
}
