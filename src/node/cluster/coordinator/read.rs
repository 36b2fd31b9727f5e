//! The coordinator's reads: a partition from the nearest replicas the
//! consistency level needs, merged by timestamp, with blocking read repair
//! of the replicas that answered an older version (ReadTimeout when too few
//! answer); and range reads, gathered from every live node.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::Coordinator;
use crate::node::cluster::message::Body;
use crate::node::cluster::replica::Replica;
use crate::node::cql::exec::Result;
use crate::node::db::consistency::{BlockFor, Consistency, check_available};
use crate::node::db::read::Gathered;
use crate::node::db::schema::Strategy;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;

/// A partition's content in a canonical byte form (rows and range
/// tombstones sorted), to tell whether two replicas hold the same version.
fn canonical(mut p: PartitionData, table: [u8; 16]) -> Vec<u8> {
    p.rows.sort_by(|a, b| a.0.cmp(&b.0));
    p.range_tombstones
        .sort_by_key(|r| format!("{:?}", (&r.start, &r.end, r.deletion)));
    p.into_mutation(table).encode()
}

impl Coordinator {
    pub(super) fn read_sync(
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
            return self.serial_read(keyspace, table, keys, cl);
        }
        let replica = self.replica()?;
        let strategy = self.strategy(keyspace)?;
        let ring = self.membership.ring();
        let t = self.transport.clone();
        let me = t.me();
        let my_dc = replica.engine().datacenter();
        let mut out = Gathered::default();
        for (token, key) in keys {
            let replicas: Vec<IpAddr> = match &strategy {
                Strategy::Local => vec![me],
                s => ring.replicas(s, *token),
            };
            let mut live_by_dc: BTreeMap<String, u32> = BTreeMap::new();
            let mut live: Vec<(u8, IpAddr)> = Vec::new();
            for r in &replicas {
                if !self.membership.is_alive(r) {
                    continue;
                }
                let dc = ring.datacenter_of(r).unwrap_or(&my_dc).to_string();
                *live_by_dc.entry(dc.clone()).or_default() += 1;
                // Nearest first: this node, its datacenter, then the others.
                let rank = if *r == me {
                    0
                } else if dc == my_dc {
                    1
                } else {
                    2
                };
                live.push((rank, *r));
            }
            let bf = check_available(cl, &strategy, &my_dc, &live_by_dc).map_err(|u| {
                QueryError::Unavailable {
                    consistency: u.consistency.to_string(),
                    required: u.required as i32,
                    alive: u.alive as i32,
                }
            })?;
            live.sort();
            let local_only = matches!(
                &bf,
                BlockFor::Count {
                    datacenter: Some(_),
                    ..
                }
            );
            let n = bf.total() as usize;
            let targets: Vec<IpAddr> = live
                .into_iter()
                .filter(|(rank, _)| !local_only || *rank < 2)
                .map(|(_, a)| a)
                .take(n)
                .collect();
            // Each answering replica's version: (replica, partition or none).
            let mut versions: Vec<(IpAddr, Option<PartitionData>)> = Vec::new();
            let mut remote = Vec::new();
            for target in targets {
                if target == me {
                    let p = replica
                        .engine()
                        .storage
                        .read_partition(table, *token, key)?;
                    versions.push((me, p));
                } else {
                    remote.push(target);
                }
            }
            if !remote.is_empty() {
                let timeout = self.read_timeout;
                let answers = self.runtime.block_on(async {
                    let mut tasks = tokio::task::JoinSet::new();
                    for target in remote {
                        let (t, key, table, token) = (t.clone(), key.clone(), *table, *token);
                        tasks.spawn(async move {
                            let m = t
                                .request(target, Body::ReadPartition { table, token, key }, timeout)
                                .await
                                .ok()?;
                            match m.body {
                                Body::Partition(Some(b)) => {
                                    crate::node::db::storage::Mutation::decode(&b)
                                        .ok()
                                        .map(|m| (target, Some(PartitionData::from_mutation(m))))
                                }
                                Body::Partition(None) => Some((target, None)),
                                _ => None,
                            }
                        });
                    }
                    let mut answers = Vec::new();
                    while let Some(r) = tasks.join_next().await {
                        if let Ok(Some(p)) = r {
                            answers.push(p);
                        }
                    }
                    answers
                });
                versions.extend(answers);
            }
            let received = versions.len();
            let data_present = versions.iter().any(|(_, p)| p.is_some());
            if received == 1 && n <= 1 {
                // One answer (ONE, LOCAL_ONE): nothing to merge or repair.
                if let Some((_, Some(p))) = versions.pop() {
                    out.add(p);
                }
                continue;
            }
            let mut merged: Option<PartitionData> = None;
            for (_, p) in versions
                .iter()
                .filter_map(|(a, p)| p.clone().map(|p| (a, p)))
            {
                match &mut merged {
                    Some(m) => m.merge(p),
                    None => merged = Some(p),
                }
            }
            // Blocking read repair: replicas that answered with an older
            // version get the merged one before the read returns.
            if let Some(m) = &merged
                && received > 1
            {
                let want = canonical(m.clone(), *table);
                let stale: Vec<IpAddr> = versions
                    .iter()
                    .filter(|(_, p)| p.clone().map(|p| canonical(p, *table)) != Some(want.clone()))
                    .map(|(a, _)| *a)
                    .collect();
                if !stale.is_empty() {
                    self.repair(&replica, &stale, m.clone(), *table, keyspace)?;
                }
            }
            if let Some(m) = merged {
                out.add(m);
            }
            if received < n {
                return Err(QueryError::ReadTimeout {
                    consistency: cl.to_string(),
                    received: received as i32,
                    block_for: n as i32,
                    data_present,
                });
            }
        }
        Ok(out)
    }

    /// Writes the merged version of a partition to stale replicas and waits for them.
    fn repair(
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
                replica.engine().storage.apply(&m, durable)?;
            } else {
                remote.push(*r);
            }
        }
        if remote.is_empty() {
            return Ok(());
        }
        let bytes = m.encode();
        let timeout = self.write_timeout;
        self.runtime.block_on(async move {
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
        });
        Ok(())
    }

    pub(super) fn scan_sync(&self, table: &[u8; 16], start: i64, end: i64) -> Result<Gathered> {
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
            .scan(table, None, start, end, usize::MAX)?
        {
            out.add(p);
        }
        let timeout = self.read_timeout;
        let table = *table;
        let answers = self.runtime.block_on(async move {
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
        });
        for b in answers {
            if let Ok(m) = crate::node::db::storage::Mutation::decode(&b) {
                out.add(PartitionData::from_mutation(m));
            }
        }
        Ok(out)
    }
}
