//! One partition read at the coordinator, as a state machine with no I/O.
//!
//! [`targets`] chooses whom to ask: the live replicas of the partition,
//! nearest first (the coordinator itself, its datacenter, then the others),
//! as many as the consistency level blocks for, from the local datacenter
//! only for LOCAL_ONE and LOCAL_QUORUM (Unavailable when too few are live).
//! A [`ReadRound`] then takes each target's version of the partition
//! ([`ReadRound::step`]) and the passing of a clock the caller gives in
//! milliseconds ([`ReadRound::tick`]). It resolves once, into a
//! [`Resolved`]:
//!
//! - every target answered: the versions merged by timestamp (the same
//!   merge storage uses), and the targets whose version differs from the
//!   merged one, which blocking read repair brings up to date before the
//!   client gets its answer;
//! - the deadline passed first: the same with what arrived, and Cassandra's
//!   ReadTimeout (`received`, `block_for`, `data_present`).
//!
//! Duplicated answers and answers from nodes that were not asked change
//! nothing. The real coordinator ([`super::read`]) drives rounds over the
//! internode transport; the deterministic simulator drives the same rounds.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::node::db::consistency::{BlockFor, Consistency, check_available};
use crate::node::db::schema::Strategy;
use crate::node::db::storage::partition::PartitionData;
use crate::node::error::QueryError;
use crate::node::locator::placement::Ring;

/// Whom a read at `cl` asks, nearest first: pure, like the write's plan.
pub fn targets(
    ring: &Ring,
    strategy: &Strategy,
    token: i64,
    me: IpAddr,
    my_dc: &str,
    cl: Consistency,
    alive: &dyn Fn(&IpAddr) -> bool,
) -> Result<Vec<IpAddr>, QueryError> {
    let replicas: Vec<IpAddr> = match strategy {
        Strategy::Local => vec![me],
        s => ring.replicas(s, token),
    };
    let mut live_by_dc: BTreeMap<String, u32> = BTreeMap::new();
    let mut live: Vec<(u8, IpAddr)> = Vec::new();
    for r in &replicas {
        if !alive(r) {
            continue;
        }
        let dc = ring.datacenter_of(r).unwrap_or(my_dc);
        let rank = if *r == me {
            0
        } else if dc == my_dc {
            1
        } else {
            2
        };
        *live_by_dc.entry(dc.to_string()).or_default() += 1;
        live.push((rank, *r));
    }
    let bf =
        check_available(cl, strategy, my_dc, &live_by_dc).map_err(|u| QueryError::Unavailable {
            consistency: u.consistency.to_string(),
            required: u.required as i32,
            alive: u.alive as i32,
        })?;
    live.sort();
    let local_only = matches!(
        &bf,
        BlockFor::Count {
            datacenter: Some(_),
            ..
        }
    );
    Ok(live
        .into_iter()
        .filter(|(rank, _)| !local_only || *rank < 2)
        .map(|(_, a)| a)
        .take(bf.total() as usize)
        .collect())
}

/// A partition's content in a canonical byte form (rows and range
/// tombstones sorted), to tell whether two replicas hold the same version.
pub fn canonical(mut p: PartitionData, table: [u8; 16]) -> Vec<u8> {
    p.rows.sort_by(|a, b| a.0.cmp(&b.0));
    p.range_tombstones
        .sort_by_key(|r| format!("{:?}", (&r.start, &r.end, r.deletion)));
    p.into_mutation(table).encode()
}

/// What a read round resolved to.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Every version that arrived, merged (none when no replica holds the partition).
    pub merged: Option<PartitionData>,
    /// Targets that answered a version other than the merged one.
    pub stale: Vec<IpAddr>,
    /// ReadTimeout when too few answered.
    pub error: Option<QueryError>,
}

/// One partition's read in flight at its coordinator.
#[derive(Debug, Clone)]
pub struct ReadRound {
    table: [u8; 16],
    consistency: Consistency,
    targets: Vec<IpAddr>,
    versions: BTreeMap<IpAddr, Option<PartitionData>>,
    deadline: u64,
    resolved: bool,
}

impl ReadRound {
    /// A round asking `targets` (from [`targets`]), resolving by `deadline`.
    pub fn new(
        table: [u8; 16],
        consistency: Consistency,
        targets: Vec<IpAddr>,
        deadline: u64,
    ) -> ReadRound {
        ReadRound {
            table,
            consistency,
            targets,
            versions: BTreeMap::new(),
            deadline,
            resolved: false,
        }
    }

    pub fn targets(&self) -> &[IpAddr] {
        &self.targets
    }

    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    pub fn is_resolved(&self) -> bool {
        self.resolved
    }

    /// A target's version of the partition (none: it holds nothing of it).
    pub fn step(&mut self, from: IpAddr, version: Option<PartitionData>) -> Option<Resolved> {
        if self.resolved || !self.targets.contains(&from) || self.versions.contains_key(&from) {
            return None;
        }
        self.versions.insert(from, version);
        (self.versions.len() == self.targets.len()).then(|| self.resolve())
    }

    /// The clock moved to `now`: at the deadline, the round resolves with
    /// what arrived.
    pub fn tick(&mut self, now: u64) -> Option<Resolved> {
        (!self.resolved && now >= self.deadline).then(|| self.resolve())
    }

    /// Resolves now with what arrived, whatever the clock: for a driver
    /// that knows the deadline passed or that no more answers can come.
    pub fn expire(&mut self) -> Resolved {
        self.resolve()
    }

    fn resolve(&mut self) -> Resolved {
        self.resolved = true;
        let versions = std::mem::take(&mut self.versions);
        let received = versions.len();
        let block_for = self.targets.len();
        let data_present = versions.values().any(Option::is_some);
        let error = (received < block_for).then(|| QueryError::ReadTimeout {
            consistency: self.consistency.to_string(),
            received: received as i32,
            block_for: block_for as i32,
            data_present,
        });
        if received == 1 && block_for <= 1 {
            // One answer (ONE, LOCAL_ONE): nothing to merge or repair.
            let merged = versions.into_values().next().flatten();
            return Resolved {
                merged,
                stale: Vec::new(),
                error,
            };
        }
        let mut merged: Option<PartitionData> = None;
        for p in versions.values().flatten() {
            match &mut merged {
                Some(m) => m.merge(p.clone()),
                None => merged = Some(p.clone()),
            }
        }
        let mut stale = Vec::new();
        if let Some(m) = &merged
            && received > 1
        {
            let want = canonical(m.clone(), self.table);
            for (a, p) in &versions {
                if p.clone().map(|p| canonical(p, self.table)).as_ref() != Some(&want) {
                    stale.push(*a);
                }
            }
        }
        Resolved {
            merged,
            stale,
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cluster::coordinator::testing::{ip, nts, ring};
    use crate::node::db::storage::cell::Cell;
    use crate::node::db::storage::partition::{ColumnData, RowData};

    /// A partition with one row whose cell `v` was written at `ts`.
    fn version(ts: i64, v: u8) -> PartitionData {
        let columns = [("v".to_string(), ColumnData::Simple(Cell::live(ts, vec![v])))];
        PartitionData {
            key: vec![1],
            token: 5,
            rows: vec![(
                vec![],
                RowData {
                    columns: columns.into(),
                    ..Default::default()
                },
            )],
            ..Default::default()
        }
    }

    #[test]
    fn targets_are_nearest_first_and_local_for_local_levels() {
        let r = ring();
        let all = |_: &IpAddr| true;
        let t = targets(
            &r,
            &nts(),
            5,
            ip(1, 1),
            "dc1",
            Consistency::LocalQuorum,
            &all,
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t[0], ip(1, 1), "the coordinator first");
        assert!(t.iter().all(|a| a.to_string().starts_with("127.0.1.")));
        // A coordinator in dc1 that is not up: LOCAL_ONE still stays in dc1.
        let others = |a: &IpAddr| *a != ip(1, 1);
        let t = targets(
            &r,
            &nts(),
            5,
            ip(1, 1),
            "dc1",
            Consistency::LocalOne,
            &others,
        )
        .unwrap();
        assert!(t[0].to_string().starts_with("127.0.1."));
        // QUORUM of 6 is 4: three of dc1, one of dc2.
        let t = targets(&r, &nts(), 5, ip(1, 1), "dc1", Consistency::Quorum, &all).unwrap();
        assert_eq!(t.len(), 4);
        assert!(t[3].to_string().starts_with("127.0.2."));
        let dc2 = |a: &IpAddr| a.to_string().starts_with("127.0.2.");
        let e = targets(&r, &nts(), 5, ip(1, 1), "dc1", Consistency::LocalOne, &dc2).unwrap_err();
        assert!(matches!(
            e,
            QueryError::Unavailable {
                required: 1,
                alive: 0,
                ..
            }
        ));
    }

    #[test]
    fn merges_by_timestamp_and_names_the_stale() {
        let mut r = ReadRound::new(
            [0; 16],
            Consistency::LocalQuorum,
            vec![ip(1, 1), ip(1, 2)],
            100,
        );
        assert_eq!(r.step(ip(1, 2), Some(version(10, 1))), None);
        // A stranger and a duplicate change nothing.
        assert_eq!(r.step(ip(9, 9), Some(version(99, 9))), None);
        assert_eq!(r.step(ip(1, 2), Some(version(99, 9))), None);
        let done = r
            .step(ip(1, 1), Some(version(20, 2)))
            .expect("both answered");
        assert_eq!(done.merged, Some(version(20, 2)));
        assert_eq!(done.stale, vec![ip(1, 2)]);
        assert_eq!(done.error, None);
        assert_eq!(r.tick(1000), None, "resolved once");
    }

    #[test]
    fn a_replica_without_the_partition_is_stale() {
        let mut r = ReadRound::new(
            [0; 16],
            Consistency::LocalQuorum,
            vec![ip(1, 1), ip(1, 2)],
            100,
        );
        r.step(ip(1, 1), None);
        let done = r.step(ip(1, 2), Some(version(10, 1))).unwrap();
        assert_eq!(
            (done.merged, done.stale),
            (Some(version(10, 1)), vec![ip(1, 1)])
        );
    }

    #[test]
    fn the_deadline_answers_read_timeout_with_what_arrived() {
        let mut r = ReadRound::new(
            [0; 16],
            Consistency::Quorum,
            vec![ip(1, 1), ip(1, 2), ip(2, 1)],
            100,
        );
        r.step(ip(1, 1), None);
        assert_eq!(r.tick(99), None);
        let done = r.tick(100).unwrap();
        assert_eq!(done.merged, None);
        assert_eq!(
            done.error,
            Some(QueryError::ReadTimeout {
                consistency: "QUORUM".into(),
                received: 1,
                block_for: 3,
                data_present: false,
            })
        );
    }

    #[test]
    fn one_answer_for_one_is_neither_merged_nor_repaired() {
        let mut r = ReadRound::new([0; 16], Consistency::LocalOne, vec![ip(1, 1)], 100);
        let done = r.step(ip(1, 1), Some(version(1, 1))).unwrap();
        assert_eq!(
            (done.merged, done.stale, done.error),
            (Some(version(1, 1)), vec![], None)
        );
    }
}
