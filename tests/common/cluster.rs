//! A cluster of nodes in this process: two datacenters of three nodes each
//! (racks a, b, c), the first node of each datacenter a seed, each node
//! with a data directory of its own and fast gossip ([`super::FAST`]).

use std::net::IpAddr;
use std::sync::Arc;

use ccrsim::node::cluster::transport::Faults;
use ccrsim::node::config::NodeConfig;
use ccrsim::node::instance::Node;

pub struct Layout {
    /// Address, datacenter and rack of each node.
    pub nodes: Vec<(String, &'static str, &'static str)>,
    pub seeds: Vec<String>,
    pub cluster_name: String,
    pub dirs: Vec<tempfile::TempDir>,
}

impl Layout {
    /// dc1 on `127.0.{dc1}.1-3`, dc2 on `127.0.{dc2}.1-3`.
    pub fn three_and_three(dc1: u8, dc2: u8, cluster_name: &str) -> Layout {
        let mut nodes = Vec::new();
        for (block, dc) in [(dc1, "dc1"), (dc2, "dc2")] {
            for (i, rack) in ["a", "b", "c"].into_iter().enumerate() {
                nodes.push((format!("127.0.{block}.{}", i + 1), dc, rack));
            }
        }
        Layout {
            seeds: vec![format!("127.0.{dc1}.1"), format!("127.0.{dc2}.1")],
            dirs: nodes.iter().map(|_| tempfile::tempdir().unwrap()).collect(),
            nodes,
            cluster_name: cluster_name.into(),
        }
    }

    /// The configuration of node `i`.
    pub fn config(&self, i: usize) -> NodeConfig {
        let (addr, dc, rack) = &self.nodes[i];
        let mut c = NodeConfig::local(addr.parse().unwrap(), self.dirs[i].path());
        c.dc = (*dc).into();
        c.rack = (*rack).into();
        c.seeds = self.seeds.iter().map(|s| s.parse().unwrap()).collect();
        c.cluster_name = self.cluster_name.clone();
        c
    }

    /// Starts node `i` (again, after a stop, on the same data).
    pub async fn start(&self, i: usize, faults: &Arc<Faults>) -> Node {
        Node::start_with(self.config(i), faults.clone(), super::FAST)
            .await
            .unwrap()
    }

    /// Starts every node, one after the other.
    pub async fn start_all(&self, faults: &Arc<Faults>) -> Vec<Node> {
        let mut nodes = Vec::new();
        for i in 0..self.nodes.len() {
            nodes.push(self.start(i, faults).await);
        }
        nodes
    }

    pub fn addrs(&self) -> Vec<IpAddr> {
        self.nodes.iter().map(|n| n.0.parse().unwrap()).collect()
    }
}

/// The int keys of `keys` that node `n` does not hold in `ks.table` (read
/// from its own storage, not through a coordinator).
pub fn missing(n: &Node, ks: &str, table: &str, keys: &[i32]) -> Vec<i32> {
    let t = n.engine.schema().table(ks, table).unwrap().clone();
    keys.iter()
        .copied()
        .filter(|k| {
            let key = k.to_be_bytes();
            let token = ccrsim::node::locator::partitioner::token(&key);
            n.engine
                .storage
                .read_partition(&t.id, token, &key)
                .unwrap()
                .is_none()
        })
        .collect()
}
