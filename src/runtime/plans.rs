//! What joining and leaving a CCR pair do to the keyspaces, shared by the
//! runtimes: pure functions from the keyspaces a running datacenter reports
//! ([`KeyspaceInfo`], as `system_schema.keyspaces` shows them) to the
//! `ALTER KEYSPACE` statements to run.

use std::collections::BTreeMap;

use crate::node::db::schema::{Schema, Strategy};
use crate::replication::{self, KeyspaceInfo, Replication};

const NTS: &str = "NetworkTopologyStrategy";
const SIMPLE: &str = "SimpleStrategy";

/// Keyspaces that live on each node and are never replicated.
const NODE_LOCAL: [&str; 4] = [
    "system",
    "system_schema",
    "system_views",
    "system_virtual_schema",
];

/// The replication changes that make a joining datacenter part of every
/// keyspace: user keyspaces with NetworkTopologyStrategy that name the
/// existing datacenter get the same factor in the new one; the system
/// keyspaces that must span both datacenters (`system_auth`,
/// `system_distributed`, `system_traces`) move to NetworkTopologyStrategy
/// with up to three replicas per datacenter. SimpleStrategy user keyspaces
/// are left alone (Aiven asks users to move them first). Pure: a list of
/// `ALTER KEYSPACE` statements.
pub fn join_plan(
    keyspaces: &[KeyspaceInfo],
    existing_dc: &str,
    existing_nodes: u32,
    new_dc: &str,
    new_nodes: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    for ks in keyspaces {
        let name = &ks.name;
        if NODE_LOCAL.contains(&name.as_str()) {
            continue;
        }
        let datacenters = &ks.replication;
        let target: Option<BTreeMap<String, u32>> = match ks.class.as_str() {
            NTS => match datacenters.get(existing_dc) {
                Some(rf) if !datacenters.contains_key(new_dc) => {
                    let mut m = datacenters.clone();
                    m.insert(new_dc.to_string(), (*rf).min(new_nodes));
                    Some(m)
                }
                _ => None,
            },
            SIMPLE if replication::SYSTEM_KEYSPACES.contains(&name.as_str()) => {
                Some(BTreeMap::from([
                    (
                        existing_dc.to_string(),
                        replication::DEFAULT_RF.min(existing_nodes),
                    ),
                    (new_dc.to_string(), replication::DEFAULT_RF.min(new_nodes)),
                ]))
            }
            _ => None,
        };
        if let Some(m) = target {
            let rf = Replication(m.into_iter().collect());
            out.push(replication::alter_keyspace(
                &replication::quote_identifier(name),
                &rf,
            ));
        }
    }
    out
}

/// The replication changes that take a datacenter out of every keyspace
/// (its service leaves the pair): NetworkTopologyStrategy keyspaces that
/// name it and another datacenter stop naming it. A keyspace replicated
/// only there is left alone (it goes away with the datacenter's data).
pub fn leave_plan(keyspaces: &[KeyspaceInfo], leaving_dc: &str) -> Vec<String> {
    let mut out = Vec::new();
    for ks in keyspaces {
        let (name, datacenters) = (&ks.name, &ks.replication);
        if ks.class == NTS && datacenters.contains_key(leaving_dc) && datacenters.len() > 1 {
            let rest: Vec<(String, u32)> = datacenters
                .iter()
                .filter(|(d, _)| d.as_str() != leaving_dc)
                .map(|(d, r)| (d.clone(), *r))
                .collect();
            out.push(replication::alter_keyspace(
                &replication::quote_identifier(name),
                &Replication(rest),
            ));
        }
    }
    out
}

/// The keyspaces of a node's schema, as [`KeyspaceInfo`]s.
pub fn keyspace_infos(schema: &Schema) -> Vec<KeyspaceInfo> {
    schema
        .keyspaces
        .iter()
        .map(|(name, ks)| {
            let (class, replication) = match &ks.meta.strategy {
                Strategy::Simple { replication_factor } => (
                    SIMPLE,
                    BTreeMap::from([("replication_factor".to_string(), *replication_factor)]),
                ),
                Strategy::NetworkTopology { datacenters } => (NTS, datacenters.clone()),
                Strategy::Local => ("LocalStrategy", BTreeMap::new()),
            };
            KeyspaceInfo {
                name: name.clone(),
                class: class.into(),
                replication,
            }
        })
        .collect()
}

/// A keyspace from a `system_schema.keyspaces` row: its name and its
/// `replication` map (`class` in full or short, numbers as text).
pub fn keyspace_info(name: &str, replication: &BTreeMap<String, String>) -> KeyspaceInfo {
    let class = replication
        .get("class")
        .map(|c| c.rsplit('.').next().unwrap_or(c).to_string())
        .unwrap_or_default();
    KeyspaceInfo {
        name: name.to_string(),
        class,
        replication: replication
            .iter()
            .filter(|(k, _)| k.as_str() != "class")
            .filter_map(|(k, v)| v.parse().ok().map(|n| (k.clone(), n)))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::schema::{Keyspace, KeyspaceMeta};

    fn ks(name: &str, strategy: Strategy) -> (String, Keyspace) {
        (
            name.to_string(),
            Keyspace {
                meta: KeyspaceMeta {
                    name: name.to_string(),
                    strategy,
                    durable_writes: true,
                },
                tables: Default::default(),
            },
        )
    }

    #[test]
    fn joining_names_the_new_datacenter_where_it_must() {
        let nts = |m: &[(&str, u32)]| Strategy::NetworkTopology {
            datacenters: m.iter().map(|(d, r)| (d.to_string(), *r)).collect(),
        };
        let schema = Schema {
            keyspaces: [
                ks("shop", nts(&[("eu", 3)])),
                ks("done", nts(&[("eu", 3), ("us", 3)])),
                ks("elsewhere", nts(&[("ap", 3)])),
                ks(
                    "old",
                    Strategy::Simple {
                        replication_factor: 1,
                    },
                ),
                ks(
                    "system_auth",
                    Strategy::Simple {
                        replication_factor: 1,
                    },
                ),
                ks("system", Strategy::Local),
            ]
            .into_iter()
            .collect(),
        };
        let leave = leave_plan(&keyspace_infos(&schema), "eu");
        assert_eq!(
            leave,
            vec![
                "ALTER KEYSPACE done WITH replication = {'class': 'NetworkTopologyStrategy', 'us': 3};"
            ]
        );
        let plan = join_plan(&keyspace_infos(&schema), "eu", 3, "us", 2);
        assert_eq!(
            plan,
            vec![
                "ALTER KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'eu': 3, 'us': 2};",
                "ALTER KEYSPACE system_auth WITH replication = {'class': 'NetworkTopologyStrategy', 'eu': 3, 'us': 2};",
            ]
        );
    }

    #[test]
    fn keyspaces_read_through_cql() {
        let m = |v: &[(&str, &str)]| -> BTreeMap<String, String> {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let k = keyspace_info(
            "shop",
            &m(&[
                (
                    "class",
                    "org.apache.cassandra.locator.NetworkTopologyStrategy",
                ),
                ("eu", "3"),
            ]),
        );
        assert_eq!(k.class, "NetworkTopologyStrategy");
        assert_eq!(k.replication, BTreeMap::from([("eu".to_string(), 3)]));
        assert_eq!(
            join_plan(&[k], "eu", 3, "us", 3),
            vec![
                "ALTER KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'eu': 3, 'us': 3};"
            ]
        );
        let s = keyspace_info(
            "old",
            &m(&[("class", "SimpleStrategy"), ("replication_factor", "2")]),
        );
        assert_eq!(s.class, "SimpleStrategy");
    }
}
