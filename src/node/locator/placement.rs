//! Replica placement: which nodes hold the data of a token.
//!
//! The ring is every node's tokens sorted. A partition with token `t`
//! belongs, first, to the node owning the first ring token at or after `t`
//! (wrapping around). `SimpleStrategy` takes the next `rf` distinct nodes
//! walking clockwise. `NetworkTopologyStrategy` walks the same way and, per
//! datacenter, takes nodes from racks it has not used yet; a node in a rack
//! already used is taken only while the datacenter has fewer racks than its
//! replication factor (`rf - racks` such repeats), as Cassandra's
//! `NetworkTopologyStrategy.calculateNaturalReplicas` does. Drivers compute
//! the same sets for token-aware routing, so this must agree with them
//! exactly; the order is the walk order, primary replica first.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use crate::node::db::schema::Strategy;

/// A node on the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingNode {
    pub address: IpAddr,
    pub datacenter: String,
    pub rack: String,
    pub tokens: Vec<i64>,
}

/// The ring of a cluster.
#[derive(Debug, Clone, Default)]
pub struct Ring {
    nodes: Vec<RingNode>,
    /// (token, index into `nodes`), sorted by token.
    tokens: Vec<(i64, usize)>,
    /// Nodes per datacenter, and racks per datacenter.
    dc_nodes: HashMap<String, usize>,
    dc_racks: HashMap<String, usize>,
}

impl Ring {
    pub fn new(nodes: Vec<RingNode>) -> Ring {
        let mut tokens: Vec<(i64, usize)> = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.tokens.iter().map(move |t| (*t, i)))
            .collect();
        tokens.sort_unstable();
        tokens.dedup_by_key(|(t, _)| *t);
        let mut dc_nodes = HashMap::new();
        let mut racks: HashMap<String, BTreeSet<String>> = HashMap::new();
        for n in &nodes {
            *dc_nodes.entry(n.datacenter.clone()).or_insert(0) += 1;
            racks
                .entry(n.datacenter.clone())
                .or_default()
                .insert(n.rack.clone());
        }
        let dc_racks = racks.into_iter().map(|(dc, r)| (dc, r.len())).collect();
        Ring {
            nodes,
            tokens,
            dc_nodes,
            dc_racks,
        }
    }

    pub fn nodes(&self) -> &[RingNode] {
        &self.nodes
    }

    /// Ring positions starting at the first token >= `token`, once around.
    fn walk(&self, token: i64) -> impl Iterator<Item = &RingNode> {
        let start = self.tokens.partition_point(|(t, _)| *t < token);
        let n = self.tokens.len();
        (0..n).map(move |i| &self.nodes[self.tokens[(start + i) % n].1])
    }

    /// The replicas of `token` under `strategy`, primary first.
    pub fn replicas(&self, strategy: &Strategy, token: i64) -> Vec<IpAddr> {
        match strategy {
            Strategy::Local => Vec::new(),
            Strategy::Simple { replication_factor } => {
                let want = (*replication_factor as usize).min(self.nodes.len());
                let mut out: Vec<IpAddr> = Vec::with_capacity(want);
                for node in self.walk(token) {
                    if out.len() == want {
                        break;
                    }
                    if !out.contains(&node.address) {
                        out.push(node.address);
                    }
                }
                out
            }
            Strategy::NetworkTopology { datacenters } => self.nts(datacenters, token),
        }
    }

    fn nts(&self, datacenters: &BTreeMap<String, u32>, token: i64) -> Vec<IpAddr> {
        struct Dc {
            rf_left: i64,
            rack_repeats: i64,
        }
        let mut dcs: HashMap<&str, Dc> = HashMap::new();
        for (dc, rf) in datacenters {
            let nodes = self.dc_nodes.get(dc).copied().unwrap_or(0) as i64;
            let racks = self.dc_racks.get(dc).copied().unwrap_or(0) as i64;
            let rf = i64::from(*rf);
            if rf > 0 && nodes > 0 {
                dcs.insert(
                    dc.as_str(),
                    Dc {
                        rf_left: rf.min(nodes),
                        rack_repeats: rf - racks,
                    },
                );
            }
        }
        let mut to_fill = dcs.len();
        let mut replicas: Vec<IpAddr> = Vec::new();
        let mut chosen: HashSet<IpAddr> = HashSet::new();
        let mut seen_racks: HashSet<(&str, &str)> = HashSet::new();
        for node in self.walk(token) {
            if to_fill == 0 {
                break;
            }
            let Some(dc) = dcs.get_mut(node.datacenter.as_str()) else {
                continue;
            };
            if dc.rf_left == 0 {
                continue;
            }
            if seen_racks.insert((node.datacenter.as_str(), node.rack.as_str())) {
                dc.rf_left -= 1;
                chosen.insert(node.address);
                replicas.push(node.address);
            } else if dc.rack_repeats > 0 && chosen.insert(node.address) {
                dc.rack_repeats -= 1;
                dc.rf_left -= 1;
                replicas.push(node.address);
            } else {
                continue;
            }
            if dc.rf_left == 0 {
                to_fill -= 1;
            }
        }
        replicas
    }

    /// The datacenter of a node.
    pub fn datacenter_of(&self, address: &IpAddr) -> Option<&str> {
        self.nodes
            .iter()
            .find(|n| &n.address == address)
            .map(|n| n.datacenter.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt as _, SeedableRng};

    fn node(addr: &str, dc: &str, rack: &str, tokens: &[i64]) -> RingNode {
        RingNode {
            address: addr.parse().unwrap(),
            datacenter: dc.into(),
            rack: rack.into(),
            tokens: tokens.to_vec(),
        }
    }

    fn ips(v: &[IpAddr]) -> Vec<String> {
        v.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn simple_strategy_walks_clockwise_and_wraps() {
        let ring = Ring::new(vec![
            node("127.0.0.1", "dc1", "r1", &[0]),
            node("127.0.0.2", "dc1", "r1", &[100]),
            node("127.0.0.3", "dc1", "r1", &[200]),
        ]);
        let s = |rf| Strategy::Simple {
            replication_factor: rf,
        };
        assert_eq!(ips(&ring.replicas(&s(1), 50)), ["127.0.0.2"]);
        assert_eq!(
            ips(&ring.replicas(&s(2), 100)),
            ["127.0.0.2", "127.0.0.3"],
            "a token equal to a node's token is that node's"
        );
        assert_eq!(
            ips(&ring.replicas(&s(3), 250)),
            ["127.0.0.1", "127.0.0.2", "127.0.0.3"],
            "wraps"
        );
        assert_eq!(ring.replicas(&s(5), 0).len(), 3, "capped at the node count");
    }

    #[test]
    fn nts_prefers_new_racks_then_repeats_when_racks_run_short() {
        // dc1: racks a, a, b (two racks, rf 3: one repeat allowed).
        let ring = Ring::new(vec![
            node("10.0.0.1", "dc1", "a", &[10]),
            node("10.0.0.2", "dc1", "a", &[20]),
            node("10.0.0.3", "dc1", "b", &[30]),
            node("10.0.1.1", "dc2", "x", &[15]),
            node("10.0.1.2", "dc2", "y", &[25]),
        ]);
        let nts = |pairs: &[(&str, u32)]| Strategy::NetworkTopology {
            datacenters: pairs.iter().map(|(d, r)| (d.to_string(), *r)).collect(),
        };
        assert_eq!(
            ips(&ring.replicas(&nts(&[("dc1", 2)]), 5)),
            ["10.0.0.1", "10.0.0.3"],
            "skips the second node of rack a"
        );
        assert_eq!(
            ips(&ring.replicas(&nts(&[("dc1", 3)]), 5)),
            ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
        );
        assert_eq!(
            ips(&ring.replicas(&nts(&[("dc1", 1), ("dc2", 2)]), 12)),
            ["10.0.1.1", "10.0.0.2", "10.0.1.2"]
        );
        assert!(ring.replicas(&nts(&[("dc9", 3)]), 0).is_empty());
    }

    #[test]
    fn nts_gives_distinct_nodes_and_per_dc_counts_on_random_rings() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(42);
        let mut nodes = Vec::new();
        for dc in 1..=2 {
            for i in 1..=3 {
                let tokens: Vec<i64> = (0..16).map(|_| rng.random()).collect();
                nodes.push(node(
                    &format!("127.0.{dc}.{i}"),
                    &format!("dc{dc}"),
                    &format!("r{i}"),
                    &tokens,
                ));
            }
        }
        let ring = Ring::new(nodes);
        let s = Strategy::NetworkTopology {
            datacenters: [("dc1".to_string(), 3), ("dc2".to_string(), 2)].into(),
        };
        for _ in 0..1000 {
            let r = ring.replicas(&s, rng.random());
            let mut uniq = r.clone();
            uniq.sort();
            uniq.dedup();
            assert_eq!(uniq.len(), 5);
            assert_eq!(
                r.iter()
                    .filter(|a| ring.datacenter_of(a) == Some("dc1"))
                    .count(),
                3
            );
        }
    }
}
