//! What the coordinator's unit tests share: a ring of two datacenters of
//! three nodes (127.0.1.1-3 and 127.0.2.1-3, one token each) and its
//! keyspace, NetworkTopologyStrategy with three replicas in each.

use std::net::IpAddr;

use crate::node::db::schema::Strategy;
use crate::node::locator::placement::{Ring, RingNode};

pub fn ip(dc: u8, i: u8) -> IpAddr {
    IpAddr::from([127, 0, dc, i])
}

pub fn ring() -> Ring {
    let mut nodes = Vec::new();
    for dc in 1..=2u8 {
        for i in 1..=3u8 {
            nodes.push(RingNode {
                address: ip(dc, i),
                datacenter: format!("dc{dc}"),
                rack: format!("r{i}"),
                tokens: vec![i64::from(i) * 1000 + i64::from(dc)],
            });
        }
    }
    Ring::new(nodes)
}

pub fn nts() -> Strategy {
    Strategy::NetworkTopology {
        datacenters: [("dc1".to_string(), 3), ("dc2".to_string(), 3)].into(),
    }
}
