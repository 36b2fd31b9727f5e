//! What a repair does, decided without I/O: its options (nodetool's
//! flags), the token ranges a node repairs with their replicas, and, once
//! the replicas' trees are in, which replica streams which ranges to which.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::merkle::{Hash, MerkleTree, Range};
use crate::node::db::schema::Strategy;
use crate::node::locator::placement::Ring;

/// `nodetool repair [options] [KEYSPACE [TABLE ...]]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    pub keyspace: Option<String>,
    pub tables: Vec<String>,
    /// `--full`: ccrsim's repairs are all full; the flag is accepted.
    pub full: bool,
    /// `-pr`: only the ranges this node is the first replica of.
    pub primary_range: bool,
    /// `-dc DC` (repeatable) and `-local` (this node's datacenter).
    pub datacenters: Vec<String>,
    pub local: bool,
    /// `--force`: go on without replicas that are down.
    pub force: bool,
}

/// Reads nodetool repair's arguments.
pub fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut names = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-full" | "--full" => o.full = true,
            "-pr" | "--partitioner-range" => o.primary_range = true,
            "-local" | "--in-local-dc" => o.local = true,
            "-force" | "--force" => o.force = true,
            "-seq" | "--sequential" | "-dcpar" | "--dc-parallel" | "-os" | "--optimise-streams" => {
            }
            "-dc" | "--in-dc" => {
                let dc = it
                    .next()
                    .ok_or_else(|| format!("Required values for option '{a}' not provided"))?;
                o.datacenters.push(dc.clone());
            }
            "-inc" => {
                return Err(
                    "Incremental repair is not built in ccrsim: run a full repair (--full)".into(),
                );
            }
            "--" => names.extend(it.by_ref().cloned()),
            f if f.starts_with('-') => {
                return Err(format!(
                    "nodetool: repair: the option {f} is not supported (ccrsim takes --full, -pr, -dc, -local, --force)"
                ));
            }
            name => names.push(name.to_string()),
        }
    }
    if o.local && !o.datacenters.is_empty() {
        return Err("Cannot combine -dc and -local options".into());
    }
    let mut names = names.into_iter();
    o.keyspace = names.next();
    o.tables = names.collect();
    Ok(o)
}

/// One range to repair and the replicas that hold it (this node first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeJob {
    pub range: Range,
    pub replicas: Vec<IpAddr>,
}

/// The ranges of a keyspace under `strategy` that `me` repairs, each with
/// its replicas in `dcs` (every datacenter when `None`), `me` first.
/// Ranges run between consecutive ring tokens; the one that wraps around
/// is split at the ring's end. Ranges with no other replica are left out.
pub fn ranges(
    ring: &Ring,
    strategy: &Strategy,
    me: IpAddr,
    primary_only: bool,
    dcs: Option<&[String]>,
) -> Vec<RangeJob> {
    let mut tokens: Vec<i64> = ring
        .nodes()
        .iter()
        .flat_map(|n| n.tokens.iter().copied())
        .collect();
    tokens.sort_unstable();
    tokens.dedup();
    let Some(&last) = tokens.last() else {
        return Vec::new();
    };
    let in_dcs = |a: &IpAddr| {
        dcs.is_none_or(|dcs| {
            ring.datacenter_of(a)
                .is_some_and(|dc| dcs.iter().any(|d| d == dc))
        })
    };
    let mut out = Vec::new();
    for (i, &t) in tokens.iter().enumerate() {
        let all = ring.replicas(strategy, t);
        if !all.contains(&me) || (primary_only && all.first() != Some(&me)) {
            continue;
        }
        let mut replicas = vec![me];
        replicas.extend(all.into_iter().filter(|a| *a != me && in_dcs(a)));
        if replicas.len() < 2 {
            continue;
        }
        let pieces = if i == 0 {
            let mut p = vec![Range {
                start: i64::MIN,
                end: t,
            }];
            if last < i64::MAX {
                p.push(Range {
                    start: last,
                    end: i64::MAX,
                });
            }
            p
        } else {
            vec![Range {
                start: tokens[i - 1],
                end: t,
            }]
        };
        for range in pieces {
            if range.start < range.end {
                out.push(RangeJob {
                    range,
                    replicas: replicas.clone(),
                });
            }
        }
    }
    out.sort_by_key(|j| j.range);
    out
}

/// Streams one replica sends another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncTask {
    pub from: IpAddr,
    pub to: IpAddr,
    pub ranges: Vec<Range>,
}

/// Two replicas' trees compared: in how many ranges they differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairReport {
    pub a: IpAddr,
    pub b: IpAddr,
    pub out_of_sync: usize,
}

/// What to stream so that every replica holds what any holds: for each
/// leaf where the replicas' trees differ, each replica gets the leaf from
/// one replica of every other version of it (replicas whose trees agree
/// there send nothing to each other). Adjacent leaves are joined.
pub fn sync(trees: &[(IpAddr, MerkleTree)]) -> (Vec<PairReport>, Vec<SyncTask>) {
    let mut reports = Vec::new();
    let mut differing: std::collections::BTreeSet<usize> = Default::default();
    for (i, (a, ta)) in trees.iter().enumerate() {
        for (b, tb) in &trees[i + 1..] {
            let d = ta.differences(tb);
            reports.push(PairReport {
                a: *a,
                b: *b,
                out_of_sync: ta.ranges_of(&d).len(),
            });
            differing.extend(d);
        }
    }
    let Some((_, first)) = trees.first() else {
        return (reports, Vec::new());
    };
    let mut leaves: BTreeMap<(IpAddr, IpAddr), Vec<usize>> = BTreeMap::new();
    for &leaf in &differing {
        // The first replica holding each version of this leaf.
        let mut versions: BTreeMap<Hash, IpAddr> = BTreeMap::new();
        for (addr, t) in trees {
            versions.entry(t.leaves()[leaf]).or_insert(*addr);
        }
        for (addr, t) in trees {
            let mine = t.leaves()[leaf];
            for (h, from) in &versions {
                // An empty leaf has nothing to send.
                if *h != mine && *h != [0; 16] {
                    leaves.entry((*from, *addr)).or_default().push(leaf);
                }
            }
        }
    }
    let tasks = leaves
        .into_iter()
        .map(|((from, to), l)| SyncTask {
            from,
            to,
            ranges: first.ranges_of(&l),
        })
        .collect();
    (reports, tasks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::cluster::repair::merkle::partition_hash;
    use crate::node::locator::placement::RingNode;

    fn ip(dc: u8, n: u8) -> IpAddr {
        IpAddr::from([127, 0, dc, n])
    }

    fn args(a: &str) -> Vec<String> {
        a.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_as_nodetool_takes_them() {
        let o = parse(&args("--full -pr -dc dc1 -dc dc2 ks t1 t2")).unwrap();
        assert!(o.full && o.primary_range && !o.local);
        assert_eq!(o.datacenters, vec!["dc1", "dc2"]);
        assert_eq!(o.keyspace.as_deref(), Some("ks"));
        assert_eq!(o.tables, vec!["t1", "t2"]);
        assert_eq!(parse(&args("-local")).unwrap().keyspace, None);
        assert!(
            parse(&args("-local -dc dc1"))
                .unwrap_err()
                .contains("Cannot combine")
        );
        assert!(parse(&args("-dc")).unwrap_err().contains("-dc"));
        assert!(parse(&args("-inc ks")).unwrap_err().contains("Incremental"));
        assert!(parse(&args("--bogus")).unwrap_err().contains("--bogus"));
        assert_eq!(
            parse(&args("-- -odd")).unwrap().keyspace.as_deref(),
            Some("-odd")
        );
    }

    fn ring() -> Ring {
        let node = |dc: u8, n: u8, tokens: Vec<i64>| RingNode {
            address: ip(dc, n),
            datacenter: format!("dc{dc}"),
            rack: "rack1".into(),
            tokens,
        };
        Ring::new(vec![
            node(1, 1, vec![-100, 300]),
            node(1, 2, vec![0]),
            node(2, 1, vec![100]),
            node(2, 2, vec![200]),
        ])
    }

    fn nts(rf1: u32, rf2: u32) -> Strategy {
        Strategy::NetworkTopology {
            datacenters: [("dc1".to_string(), rf1), ("dc2".to_string(), rf2)].into(),
        }
    }

    #[test]
    fn ranges_cover_the_ring_once_with_their_replicas() {
        let r = ring();
        let jobs = ranges(&r, &nts(2, 2), ip(1, 1), false, None);
        let spans: Vec<(i64, i64)> = jobs.iter().map(|j| (j.range.start, j.range.end)).collect();
        assert_eq!(
            spans,
            vec![
                (i64::MIN, -100),
                (-100, 0),
                (0, 100),
                (100, 200),
                (200, 300),
                (300, i64::MAX)
            ]
        );
        for j in &jobs {
            assert_eq!(j.replicas[0], ip(1, 1));
            assert_eq!(j.replicas.len(), 4);
        }
        // -pr: the ranges ending at this node's tokens (and the wrap's rest).
        let pr = ranges(&r, &nts(2, 2), ip(1, 1), true, None);
        let spans: Vec<(i64, i64)> = pr.iter().map(|j| (j.range.start, j.range.end)).collect();
        assert_eq!(spans, vec![(i64::MIN, -100), (200, 300), (300, i64::MAX)]);
        // -local: only dc1's replicas.
        let local = ranges(&r, &nts(2, 2), ip(1, 1), false, Some(&["dc1".to_string()]));
        assert!(local.iter().all(|j| j.replicas == vec![ip(1, 1), ip(1, 2)]));
        // Nothing to compare with: RF 1 in dc1, and only dc1.
        assert!(ranges(&r, &nts(1, 0), ip(1, 1), false, None).is_empty());
        // Not a replica at all.
        assert!(ranges(&r, &nts(0, 2), ip(1, 1), false, None).is_empty());
    }

    fn tree(parts: &[(i64, u8)]) -> MerkleTree {
        let mut t = MerkleTree::new(Range { start: 0, end: 80 }, 3);
        for (token, v) in parts {
            t.add(*token, &partition_hash(&[*v]));
        }
        t.finish();
        t
    }

    #[test]
    fn each_replica_gets_every_other_version_once() {
        let full = [(5, 1), (15, 2), (25, 3), (75, 4)];
        // a and b agree; c missed the partitions of leaves 1 and 2 and
        // holds one nobody else has, in leaf 7.
        let a = tree(&full);
        let b = tree(&full);
        let c = tree(&[(5, 1), (75, 4), (77, 9)]);
        let (reports, tasks) = sync(&[(ip(1, 1), a), (ip(1, 2), b), (ip(2, 1), c)]);
        assert_eq!(
            reports.iter().map(|r| r.out_of_sync).collect::<Vec<_>>(),
            vec![0, 2, 2]
        );
        let r = |s, e| Range { start: s, end: e };
        assert_eq!(
            tasks,
            vec![
                SyncTask {
                    from: ip(1, 1),
                    to: ip(2, 1),
                    ranges: vec![r(10, 30), r(70, 80)]
                },
                SyncTask {
                    from: ip(2, 1),
                    to: ip(1, 1),
                    ranges: vec![r(70, 80)]
                },
                SyncTask {
                    from: ip(2, 1),
                    to: ip(1, 2),
                    ranges: vec![r(70, 80)]
                },
            ]
        );
        let same = tree(&full);
        let (_, none) = sync(&[(ip(1, 1), same.clone()), (ip(1, 2), same)]);
        assert!(none.is_empty());
    }
}
