//! Consistency levels: how many replicas must answer, and whether enough
//! are alive to try (Cassandra's `ConsistencyLevel.blockFor` and
//! `assureSufficientLiveNodes`).
//!
//! With `rf(dc)` replicas per datacenter, `RF` their sum and
//! `quorum(n) = n / 2 + 1`: ONE/TWO/THREE need 1/2/3 replicas anywhere,
//! QUORUM (and SERIAL) `quorum(RF)`, ALL every replica, LOCAL_ONE one in the
//! coordinator's datacenter, LOCAL_QUORUM (and LOCAL_SERIAL)
//! `quorum(rf(local))`, EACH_QUORUM `quorum(rf(dc))` in every datacenter.
//! ANY is met by a stored hint. Under SimpleStrategy there are no
//! datacenters to count: the LOCAL_ and EACH_ levels fall back to the
//! whole ring. A request that cannot be met by the live replicas is refused
//! with Unavailable before anything is sent.

use std::collections::BTreeMap;
use std::fmt;

use crate::node::db::schema::Strategy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Consistency {
    Any,
    #[default]
    One,
    Two,
    Three,
    Quorum,
    All,
    LocalQuorum,
    EachQuorum,
    Serial,
    LocalSerial,
    LocalOne,
}

impl Consistency {
    /// From the protocol's code.
    pub fn from_code(code: u16) -> Option<Consistency> {
        Some(match code {
            0 => Consistency::Any,
            1 => Consistency::One,
            2 => Consistency::Two,
            3 => Consistency::Three,
            4 => Consistency::Quorum,
            5 => Consistency::All,
            6 => Consistency::LocalQuorum,
            7 => Consistency::EachQuorum,
            8 => Consistency::Serial,
            9 => Consistency::LocalSerial,
            10 => Consistency::LocalOne,
            _ => return None,
        })
    }

    pub fn code(self) -> u16 {
        match self {
            Consistency::Any => 0,
            Consistency::One => 1,
            Consistency::Two => 2,
            Consistency::Three => 3,
            Consistency::Quorum => 4,
            Consistency::All => 5,
            Consistency::LocalQuorum => 6,
            Consistency::EachQuorum => 7,
            Consistency::Serial => 8,
            Consistency::LocalSerial => 9,
            Consistency::LocalOne => 10,
        }
    }

    pub fn is_local(self) -> bool {
        matches!(
            self,
            Consistency::LocalOne | Consistency::LocalQuorum | Consistency::LocalSerial
        )
    }
}

impl fmt::Display for Consistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Consistency::Any => "ANY",
            Consistency::One => "ONE",
            Consistency::Two => "TWO",
            Consistency::Three => "THREE",
            Consistency::Quorum => "QUORUM",
            Consistency::All => "ALL",
            Consistency::LocalQuorum => "LOCAL_QUORUM",
            Consistency::EachQuorum => "EACH_QUORUM",
            Consistency::Serial => "SERIAL",
            Consistency::LocalSerial => "LOCAL_SERIAL",
            Consistency::LocalOne => "LOCAL_ONE",
        })
    }
}

pub fn quorum(n: u32) -> u32 {
    n / 2 + 1
}

/// How many answers a request waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockFor {
    /// This many replicas, from the datacenters `Some(dc)` names (or any, `None`).
    Count { n: u32, datacenter: Option<String> },
    /// Per datacenter (EACH_QUORUM under NetworkTopologyStrategy).
    PerDatacenter(BTreeMap<String, u32>),
}

impl BlockFor {
    pub fn total(&self) -> u32 {
        match self {
            BlockFor::Count { n, .. } => *n,
            BlockFor::PerDatacenter(m) => m.values().sum(),
        }
    }
}

fn total_rf(strategy: &Strategy) -> u32 {
    match strategy {
        Strategy::Simple { replication_factor } => *replication_factor,
        Strategy::NetworkTopology { datacenters } => datacenters.values().sum(),
        Strategy::Local => 1,
    }
}

fn local_rf(strategy: &Strategy, local_dc: &str) -> Option<u32> {
    match strategy {
        Strategy::NetworkTopology { datacenters } => {
            Some(datacenters.get(local_dc).copied().unwrap_or(0))
        }
        _ => None,
    }
}

/// The answers a request at `cl` waits for, from a coordinator in `local_dc`.
pub fn block_for(cl: Consistency, strategy: &Strategy, local_dc: &str) -> BlockFor {
    let any = |n| BlockFor::Count {
        n,
        datacenter: None,
    };
    match cl {
        Consistency::Any | Consistency::One => any(1),
        Consistency::Two => any(2),
        Consistency::Three => any(3),
        Consistency::Quorum | Consistency::Serial => any(quorum(total_rf(strategy))),
        Consistency::All => any(total_rf(strategy)),
        Consistency::LocalOne => match local_rf(strategy, local_dc) {
            Some(_) => BlockFor::Count {
                n: 1,
                datacenter: Some(local_dc.to_string()),
            },
            None => any(1),
        },
        Consistency::LocalQuorum | Consistency::LocalSerial => match local_rf(strategy, local_dc) {
            Some(rf) => BlockFor::Count {
                n: quorum(rf),
                datacenter: Some(local_dc.to_string()),
            },
            None => any(quorum(total_rf(strategy))),
        },
        Consistency::EachQuorum => match strategy {
            Strategy::NetworkTopology { datacenters } => BlockFor::PerDatacenter(
                datacenters
                    .iter()
                    .map(|(dc, rf)| (dc.clone(), quorum(*rf)))
                    .collect(),
            ),
            _ => any(quorum(total_rf(strategy))),
        },
    }
}

/// Unavailable: `required` replicas were needed, `alive` were up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable {
    pub consistency: Consistency,
    pub required: u32,
    pub alive: u32,
}

/// Checks that the live replicas (by datacenter) can meet `cl` for a
/// request from `local_dc`. ANY always can (a hint will do).
pub fn check_available(
    cl: Consistency,
    strategy: &Strategy,
    local_dc: &str,
    live_by_dc: &BTreeMap<String, u32>,
) -> Result<BlockFor, Unavailable> {
    let bf = block_for(cl, strategy, local_dc);
    if cl == Consistency::Any {
        return Ok(bf);
    }
    let live_total: u32 = live_by_dc.values().sum();
    match &bf {
        BlockFor::Count { n, datacenter } => {
            let alive = match datacenter {
                Some(dc) => live_by_dc.get(dc).copied().unwrap_or(0),
                None => live_total,
            };
            if alive < *n {
                return Err(Unavailable {
                    consistency: cl,
                    required: *n,
                    alive,
                });
            }
        }
        BlockFor::PerDatacenter(per) => {
            for (dc, n) in per {
                let alive = live_by_dc.get(dc).copied().unwrap_or(0);
                if alive < *n {
                    return Err(Unavailable {
                        consistency: cl,
                        required: *n,
                        alive,
                    });
                }
            }
        }
    }
    Ok(bf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nts(a: u32, b: u32) -> Strategy {
        Strategy::NetworkTopology {
            datacenters: [("dc1".to_string(), a), ("dc2".to_string(), b)].into(),
        }
    }

    fn live(a: u32, b: u32) -> BTreeMap<String, u32> {
        [("dc1".to_string(), a), ("dc2".to_string(), b)].into()
    }

    #[test]
    fn block_for_follows_cassandra() {
        let s = nts(3, 3);
        assert_eq!(block_for(Consistency::Quorum, &s, "dc1").total(), 4);
        assert_eq!(block_for(Consistency::All, &s, "dc1").total(), 6);
        assert_eq!(block_for(Consistency::LocalQuorum, &s, "dc1").total(), 2);
        assert_eq!(block_for(Consistency::EachQuorum, &s, "dc1").total(), 4);
        assert_eq!(
            block_for(Consistency::LocalOne, &s, "dc2"),
            BlockFor::Count {
                n: 1,
                datacenter: Some("dc2".into())
            }
        );
        let simple = Strategy::Simple {
            replication_factor: 3,
        };
        assert_eq!(
            block_for(Consistency::LocalQuorum, &simple, "dc1"),
            BlockFor::Count {
                n: 2,
                datacenter: None
            }
        );
        assert_eq!(block_for(Consistency::Serial, &nts(2, 2), "dc1").total(), 3);
        for code in 0..=10 {
            assert_eq!(Consistency::from_code(code).unwrap().code(), code);
        }
        assert!(Consistency::from_code(11).is_none());
        assert_eq!(Consistency::LocalQuorum.to_string(), "LOCAL_QUORUM");
    }

    #[test]
    fn a_datacenter_down() {
        let s = nts(3, 3);
        let dc2_down = live(3, 0);
        assert!(check_available(Consistency::LocalQuorum, &s, "dc1", &dc2_down).is_ok());
        assert!(check_available(Consistency::LocalOne, &s, "dc1", &dc2_down).is_ok());
        assert_eq!(
            check_available(Consistency::EachQuorum, &s, "dc1", &dc2_down).unwrap_err(),
            Unavailable {
                consistency: Consistency::EachQuorum,
                required: 2,
                alive: 0
            }
        );
        assert_eq!(
            check_available(Consistency::Quorum, &s, "dc1", &dc2_down).unwrap_err(),
            Unavailable {
                consistency: Consistency::Quorum,
                required: 4,
                alive: 3
            }
        );
        assert_eq!(
            check_available(Consistency::LocalQuorum, &s, "dc2", &dc2_down).unwrap_err(),
            Unavailable {
                consistency: Consistency::LocalQuorum,
                required: 2,
                alive: 0
            }
        );
        assert!(check_available(Consistency::Any, &s, "dc2", &live(0, 0)).is_ok());
        assert!(check_available(Consistency::All, &s, "dc1", &live(3, 3)).is_ok());
    }
}
