//! The coordinator's reads: a partition from the nearest replicas the
//! consistency level needs, merged by timestamp, with blocking read repair
//! of the replicas that answered an older version (ReadTimeout when too few
//! answer); and range reads, gathered from every live node. A partition
//! read's accounting is a [`ReadRound`], a state machine with no I/O.

use std::net::IpAddr;
use std::sync::Arc;

use super::Coordinator;
use super::read_round::{ReadRound, targets};
use crate::node::cluster::message::Body;
use crate::node::cluster::replica::Replica;
use crate::node::cql::exec::Result;
use crate::node::db::consistency::Consistency;
use crate::node::db::read::Gathered;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;

impl Coordinator {
    /// Reads `keys` at `cl` ([`Replicator::read`] boxes it: a read at
    /// SERIAL runs a transaction, whose rounds read in turn).
    ///
    /// [`Replicator::read`]: crate::node::cql::replicator::Replicator::read
    pub(super) async fn read_keys(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Result<Gathered> {
        if cl == Consistency::EachQuorum {
            return Err(QueryError::Invalid(
                "EACH_QUORUM ConsistencyLevel is only supported for writes".into(),
            ));
        }
        if cl == Consistency::Any {
            return Err(QueryError::Invalid(
                "ANY ConsistencyLevel is only supported for writes".into(),
            ));
        }
        if matches!(cl, Consistency::Serial | Consistency::LocalSerial) {
            return self.serial_read(keyspace, table, keys, cl).await;
        }
        let replica = self.replica()?;
        let strategy = self.strategy(keyspace)?;
        let ring = self.membership.ring();
        let t = self.transport.clone();
        let me = t.me();
        let my_dc = replica.engine().datacenter();
        let alive = |a: &IpAddr| self.membership.is_alive(a);
        let timeout = self.read_timeout;
        let mut out = Gathered::default();
        for (token, key) in keys {
            let targets = targets(&ring, &strategy, *token, me, &my_dc, cl, &alive)?;
            let mut round = ReadRound::new(*table, cl, targets, timeout.as_millis() as u64);
            // The other targets are asked first, then this node reads its own copy.
            let deadline = tokio::time::Instant::now() + timeout;
            let mut tasks = tokio::task::JoinSet::new();
            for target in round.targets().iter().copied().filter(|a| *a != me) {
                let (t, key, table, token) = (t.clone(), key.clone(), *table, *token);
                tasks.spawn(async move {
                    let m = t
                        .request(target, Body::ReadPartition { table, token, key }, timeout)
                        .await
                        .ok()?;
                    let version = match m.body {
                        Body::Partition(Some(b)) => Some(PartitionData::from_mutation(
                            crate::node::db::storage::Mutation::decode(&b).ok()?,
                        )),
                        Body::Partition(None) => None,
                        _ => return None,
                    };
                    Some((target, version))
                });
            }
            let mut resolved = None;
            if round.targets().contains(&me) {
                let (table, token, key) = (*table, *token, key.clone());
                let p = replica
                    .engine()
                    .storage
                    .off_runtime(move |core| core.read_partition(&table, token, &key))
                    .await??;
                resolved = round.step(me, p);
            }
            let resolved = match resolved {
                Some(r) => r,
                None => {
                    loop {
                        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                            Ok(Some(Ok(Some((target, version))))) => {
                                if let Some(r) = round.step(target, version) {
                                    break r;
                                }
                            }
                            // A target that failed or answered garbage: the
                            // others may still come.
                            Ok(Some(_)) => {}
                            // Nothing more will come, or the deadline passed.
                            Ok(None) | Err(_) => break round.expire(),
                        }
                    }
                }
            };
            // Blocking read repair: replicas that answered with an older
            // version get the merged one before the read returns.
            if let Some(m) = &resolved.merged
                && !resolved.stale.is_empty()
            {
                self.repair(&replica, &resolved.stale, m.clone(), *table, keyspace)
                    .await?;
            }
            if let Some(m) = resolved.merged {
                out.add(m);
            }
            if let Some(e) = resolved.error {
                return Err(e);
            }
        }
        Ok(out)
    }

    /// Writes the merged version of a partition to stale replicas and waits for them.
    async fn repair(
        &self,
        replica: &Arc<Replica>,
        stale: &[IpAddr],
        merged: PartitionData,
        table: [u8; 16],
        keyspace: &str,
    ) -> Result<()> {
        let durable = replica
            .engine()
            .schema()
            .keyspace(keyspace)
            .is_none_or(|k| k.meta.durable_writes);
        let m = merged.into_mutation(table);
        let t = self.transport.clone();
        let mut remote = Vec::new();
        for r in stale {
            if *r == t.me() {
                replica
                    .engine()
                    .storage
                    .apply_async(m.clone(), durable)
                    .await?;
            } else {
                remote.push(*r);
            }
        }
        if remote.is_empty() {
            return Ok(());
        }
        let bytes = m.encode();
        let timeout = self.write_timeout;
        {
            let mut tasks = tokio::task::JoinSet::new();
            for r in remote {
                let (t, bytes) = (t.clone(), bytes.clone());
                tasks.spawn(async move {
                    let body = Body::Mutation {
                        mutation: bytes,
                        durable,
                        forward_to: Vec::new(),
                        commit: None,
                    };
                    t.request(r, body, timeout).await
                });
            }
            while tasks.join_next().await.is_some() {}
        }
        Ok(())
    }

    /// Every partition of `table` in `[start, end]`: this node's and every
    /// live node's, merged.
    pub(super) async fn scan(&self, table: [u8; 16], start: i64, end: i64) -> Result<Gathered> {
        let replica = self.replica()?;
        let t = self.transport.clone();
        let me = t.me();
        let nodes: Vec<IpAddr> = self
            .membership
            .states()
            .iter()
            .map(|s| s.address)
            .filter(|a| *a != me && self.membership.is_alive(a))
            .collect();
        let mut out = Gathered::default();
        for p in replica
            .engine()
            .storage
            .off_runtime(move |core| core.scan(&table, None, start, end, usize::MAX))
            .await??
        {
            out.add(p);
        }
        let timeout = self.read_timeout;
        let answers = {
            let mut tasks = tokio::task::JoinSet::new();
            for node in nodes {
                let t = t.clone();
                tasks.spawn(async move {
                    let m = t
                        .request(node, Body::Scan { table, start, end }, timeout)
                        .await
                        .ok()?;
                    match m.body {
                        Body::Partitions(ps) => Some(ps),
                        _ => None,
                    }
                });
            }
            let mut all = Vec::new();
            while let Some(r) = tasks.join_next().await {
                if let Ok(Some(ps)) = r {
                    all.extend(ps);
                }
            }
            all
        };
        for b in answers {
            if let Ok(m) = crate::node::db::storage::Mutation::decode(&b) {
                out.add(PartitionData::from_mutation(m));
            }
        }
        Ok(out)
    }
}
