//! # Replication scripts: NetworkTopologyStrategy for a CCR pair
//!
//! A CCR pair on Aiven gives you two datacenters of one Cassandra cluster,
//! and then asks you to make replication work yourself: every keyspace whose
//! data should exist in both datacenters needs `NetworkTopologyStrategy` with
//! a replication factor for each datacenter. Aiven's documents stop at the
//! user keyspaces. In Cassandra, the system keyspaces `system_auth`,
//! `system_distributed` and `system_traces` need the same treatment (or
//! logins fail when the datacenter that holds the roles is down), and a
//! datacenter that joined a service holding data must stream that data with
//! `nodetool rebuild -- <existing datacenter>`.
//!
//! This module turns a [`Topology`] (the datacenters of a pair, or of one
//! standalone service) into that CQL. It is pure: no I/O, deterministic
//! output, so the scripts in the repository's `cql/` folder are compared
//! with what it produces now. It refuses what Aiven's CCR does not support:
//! a replication factor below 2 (Aiven limitation 5), unbalanced factors
//! (Aiven limitation 4), and more replicas than a datacenter has nodes.

mod script;

pub use script::statements;

use std::fmt::Write as _;

/// The keyspaces Cassandra creates with `SimpleStrategy` that a
/// multi-datacenter cluster must move to `NetworkTopologyStrategy`.
pub const SYSTEM_KEYSPACES: [&str; 3] = ["system_auth", "system_distributed", "system_traces"];

/// Keyspaces that are local to each node or managed by Cassandra itself.
const LOCAL_KEYSPACES: [&str; 4] = [
    "system",
    "system_schema",
    "system_views",
    "system_virtual_schema",
];

/// The longest keyspace name Cassandra accepts.
pub const MAX_KEYSPACE_NAME: usize = 48;

/// The default replication factor per datacenter (capped at the node count).
pub const DEFAULT_RF: u32 = 3;

/// Cassandra's reserved CQL keywords (apache/cassandra `reserved_keywords.txt`).
/// A keyspace named like one of them must be quoted.
const RESERVED: &[&str] = &[
    "ADD",
    "ALLOW",
    "ALTER",
    "AND",
    "APPLY",
    "ASC",
    "AUTHORIZE",
    "BATCH",
    "BEGIN",
    "BY",
    "CHECK",
    "COLUMNFAMILY",
    "CONSTRAINT",
    "CREATE",
    "DELETE",
    "DESC",
    "DESCRIBE",
    "DROP",
    "ENTRIES",
    "EXECUTE",
    "FROM",
    "FULL",
    "GRANT",
    "IF",
    "IN",
    "INDEX",
    "INFINITY",
    "INSERT",
    "INTO",
    "IS",
    "KEYSPACE",
    "LENGTH",
    "LIMIT",
    "MATERIALIZED",
    "MODIFY",
    "NAN",
    "NORECURSIVE",
    "NOT",
    "NULL",
    "OF",
    "ON",
    "OR",
    "ORDER",
    "PRIMARY",
    "RENAME",
    "REVOKE",
    "SCHEMA",
    "SELECT",
    "SET",
    "TABLE",
    "TO",
    "TOKEN",
    "TRUNCATE",
    "UNLOGGED",
    "UPDATE",
    "USE",
    "USING",
    "VIEW",
    "WHERE",
    "WITH",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    #[error(
        "Replication factor {rf} for datacenter '{dc}' is below 2; CCR needs at least 2 replicas in each datacenter (Aiven limitation 5)"
    )]
    RfBelowTwo { dc: String, rf: u32 },
    #[error(
        "Replication factor {rf} for datacenter '{dc}' is above its {nodes} node(s); a datacenter cannot hold more replicas than it has nodes"
    )]
    RfAboveNodes { dc: String, rf: u32, nodes: usize },
    #[error(
        "Unbalanced replication ({details}); both datacenters of a CCR pair need the same replication factor (Aiven limitation 4)"
    )]
    Unbalanced { details: String },
    #[error("Datacenter '{0}' is not part of this topology (datacenters: {1})")]
    UnknownDatacenter(String, String),
    #[error("No replication factor given for datacenter '{0}'")]
    MissingDatacenter(String),
    #[error("Invalid replication factor '{0}': use a number (3) or DC=N per datacenter (dc1=3)")]
    BadRfSpec(String),
    #[error(
        "Invalid keyspace name '{0}': Cassandra accepts 1 to 48 letters, digits and underscores"
    )]
    BadKeyspaceName(String),
    #[error(
        "Keyspace '{0}' is a system keyspace; system keyspaces are handled by the system script, and local ones must not be changed"
    )]
    SystemKeyspace(String),
    #[error("Keyspace '{0}' is given twice")]
    DuplicateKeyspace(String),
    #[error("No keyspace given")]
    NoKeyspace,
    #[error("The topology has no datacenter")]
    NoDatacenter,
}

/// One datacenter: its name and the addresses of its nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datacenter {
    pub name: String,
    /// The service the datacenter belongs to (for comments).
    pub service: String,
    pub nodes: Vec<String>,
}

/// The datacenters one script set is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Where the services live, for comments (`project ccrsim`).
    pub project: String,
    pub datacenters: Vec<Datacenter>,
    /// When a datacenter joined an existing one: `(joined, existing)`.
    pub joined: Option<(String, String)>,
}

/// Replication factor per datacenter, in the topology's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replication(pub Vec<(String, u32)>);

/// A keyspace name, checked, with its CQL spelling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceName {
    pub name: String,
    pub cql: String,
}

/// A generated script file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file_name: String,
    pub contents: String,
}

/// Checks a keyspace name as Cassandra does (`\w{1,48}`) and spells it for
/// CQL: lowercase names that start with a letter and are not reserved stay
/// bare; any other name is double-quoted, which keeps its case.
pub fn keyspace_name(name: &str) -> Result<KeyspaceName, ReplicationError> {
    if name.is_empty()
        || name.len() > MAX_KEYSPACE_NAME
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ReplicationError::BadKeyspaceName(name.to_string()));
    }
    let lower = name.to_ascii_lowercase();
    if SYSTEM_KEYSPACES.contains(&lower.as_str()) || LOCAL_KEYSPACES.contains(&lower.as_str()) {
        return Err(ReplicationError::SystemKeyspace(name.to_string()));
    }
    Ok(KeyspaceName {
        name: name.to_string(),
        cql: quote_identifier(name),
    })
}

/// The CQL spelling of an identifier: bare when CQL reads it back unchanged,
/// double-quoted (with `"` doubled) otherwise.
pub fn quote_identifier(name: &str) -> String {
    let bare = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&name.to_ascii_uppercase().as_str());
    if bare {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A CQL string literal: single-quoted, with `'` doubled.
pub fn quote_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Topology {
    fn names(&self) -> String {
        self.datacenters
            .iter()
            .map(|d| d.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Resolves `--rf` (none, `N`, or `DC=N` per datacenter) to a checked
    /// replication factor for every datacenter.
    pub fn replication(&self, spec: &[String]) -> Result<Replication, ReplicationError> {
        if self.datacenters.is_empty() {
            return Err(ReplicationError::NoDatacenter);
        }
        let mut rf: Vec<(String, Option<u32>)> = self
            .datacenters
            .iter()
            .map(|d| (d.name.clone(), None))
            .collect();
        for item in spec {
            match item.split_once('=') {
                None => {
                    let n = parse_rf(item)?;
                    rf.iter_mut().for_each(|(_, v)| *v = Some(n));
                }
                Some((dc, n)) => {
                    let n = parse_rf(n)?;
                    let slot = rf.iter_mut().find(|(name, _)| name == dc).ok_or_else(|| {
                        ReplicationError::UnknownDatacenter(dc.to_string(), self.names())
                    })?;
                    slot.1 = Some(n);
                }
            }
        }
        let explicit_per_dc = spec.iter().any(|s| s.contains('='));
        let mut out = Vec::new();
        for (dc, (name, n)) in self.datacenters.iter().zip(rf) {
            let n = match n {
                Some(n) => n,
                None if explicit_per_dc => return Err(ReplicationError::MissingDatacenter(name)),
                None => DEFAULT_RF.min(dc.nodes.len() as u32),
            };
            if n < 2 {
                return Err(ReplicationError::RfBelowTwo { dc: name, rf: n });
            }
            if n as usize > dc.nodes.len() {
                return Err(ReplicationError::RfAboveNodes {
                    dc: name,
                    rf: n,
                    nodes: dc.nodes.len(),
                });
            }
            out.push((name, n));
        }
        if out.iter().any(|(_, n)| *n != out[0].1) {
            return Err(ReplicationError::Unbalanced {
                details: out
                    .iter()
                    .map(|(d, n)| format!("'{d}': {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(Replication(out))
    }
}

fn parse_rf(s: &str) -> Result<u32, ReplicationError> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| ReplicationError::BadRfSpec(s.to_string()))
}

impl Replication {
    /// `{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}`
    pub fn map(&self) -> String {
        let mut s = String::from("{'class': 'NetworkTopologyStrategy'");
        for (dc, n) in &self.0 {
            let _ = write!(s, ", {}: {n}", quote_string(dc));
        }
        s.push('}');
        s
    }
}

/// `CREATE KEYSPACE IF NOT EXISTS ks WITH replication = {...} AND durable_writes = true;`
pub fn create_keyspace(ks: &KeyspaceName, rf: &Replication) -> String {
    format!(
        "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {} AND durable_writes = true;",
        ks.cql,
        rf.map()
    )
}

/// `ALTER KEYSPACE ks WITH replication = {...};`
pub fn alter_keyspace(ks_cql: &str, rf: &Replication) -> String {
    format!("ALTER KEYSPACE {ks_cql} WITH replication = {};", rf.map())
}

/// The ordered script files for a topology: the system keyspaces first, then
/// each user keyspace. Each opens with a comment saying what it is for and
/// what to run after it.
pub fn setup_scripts(
    topology: &Topology,
    keyspaces: &[KeyspaceName],
    rf: &Replication,
) -> Result<Vec<Script>, ReplicationError> {
    if keyspaces.is_empty() {
        return Err(ReplicationError::NoKeyspace);
    }
    for (i, ks) in keyspaces.iter().enumerate() {
        if keyspaces[..i].iter().any(|k| k.name == ks.name) {
            return Err(ReplicationError::DuplicateKeyspace(ks.name.clone()));
        }
    }
    let total = keyspaces.len() + 1;
    let mut files = Vec::with_capacity(total);
    let mut names = vec!["01-system-keyspaces.cql".to_string()];
    names.extend(
        keyspaces
            .iter()
            .enumerate()
            .map(|(i, ks)| format!("{:02}-keyspace-{}.cql", i + 2, ks.name)),
    );

    let mut system = header(topology, rf, (1, total), "the system keyspaces", &names[0]);
    system.push_str(
        "-- Cassandra creates system_auth, system_distributed and system_traces with\n\
         -- SimpleStrategy, which ignores datacenters: roles could then live in one\n\
         -- datacenter only, and logins fail while it is down.\n",
    );
    after(&mut system, topology, names.get(1).map(String::as_str));
    for ks in SYSTEM_KEYSPACES {
        system.push_str(&alter_keyspace(ks, rf));
        system.push('\n');
    }
    files.push(Script {
        file_name: names[0].clone(),
        contents: system,
    });

    for (i, ks) in keyspaces.iter().enumerate() {
        let n = i + 2;
        let mut s = header(
            topology,
            rf,
            (n, total),
            &format!("keyspace {}", ks.cql),
            &names[n - 1],
        );
        s.push_str("-- CREATE makes the keyspace if it is new; ALTER fixes the replication of\n-- a keyspace that already exists.\n");
        after(&mut s, topology, names.get(n).map(String::as_str));
        s.push_str(&create_keyspace(ks, rf));
        s.push('\n');
        s.push_str(&alter_keyspace(&ks.cql, rf));
        s.push('\n');
        files.push(Script {
            file_name: names[n - 1].clone(),
            contents: s,
        });
    }
    Ok(files)
}

fn header(
    topology: &Topology,
    rf: &Replication,
    (n, total): (usize, usize),
    what: &str,
    file: &str,
) -> String {
    let mut s = format!("-- ccrsim replication script {n} of {total}: {what}\n");
    let dcs: Vec<String> = topology
        .datacenters
        .iter()
        .map(|d| format!("{} (datacenter {})", d.service, d.name))
        .collect();
    if topology.datacenters.len() > 1 {
        let _ = writeln!(
            s,
            "-- For the CCR pair {} in project {}.",
            dcs.join(" and "),
            topology.project
        );
    } else {
        let _ = writeln!(
            s,
            "-- For the standalone service {} in project {}.",
            dcs.join(", "),
            topology.project
        );
    }
    let _ = writeln!(
        s,
        "-- Replication: NetworkTopologyStrategy, {} replicas in each datacenter.",
        rf.0.first().map_or(0, |(_, n)| *n)
    );
    s.push_str("-- Run it on any node of either datacenter, for example:\n");
    if let Some(node) = topology.datacenters.first().and_then(|d| d.nodes.first()) {
        let _ = writeln!(
            s,
            "--   cqlsh {node} 9042 -u avnadmin -p PASSWORD -f {file}"
        );
    }
    s
}

fn after(s: &mut String, topology: &Topology, next: Option<&str>) {
    match next {
        Some(next) => {
            let _ = writeln!(s, "-- After it: run {next}.");
        }
        None => match &topology.joined {
            Some((joined, existing)) => {
                let nodes = topology
                    .datacenters
                    .iter()
                    .find(|d| &d.name == joined)
                    .map(|d| d.nodes.join(", "))
                    .unwrap_or_default();
                let _ = writeln!(
                    s,
                    "-- After it: datacenter {joined} joined {existing}, so stream the data {existing}\n\
                     -- held before the join into it: on each node of {joined} ({nodes}), one at a time,\n\
                     --   nodetool rebuild -- {existing}\n\
                     -- (nothing to stream if both services were created empty). Until then, reads\n\
                     -- at LOCAL_ONE or LOCAL_QUORUM in {joined} miss the older data."
                );
            }
            None => s.push_str("-- After it: nothing; every datacenter was created together, so no data\n-- needs streaming.\n"),
        },
    }
}

/// A keyspace as a running cluster reports it (for `ccr status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyspaceInfo {
    pub name: String,
    /// `SimpleStrategy` or `NetworkTopologyStrategy`.
    pub class: String,
    /// Replicas per datacenter (NTS), or `replication_factor` (Simple).
    pub replication: std::collections::BTreeMap<String, u32>,
}

/// What a user of a CCR pair must see about its keyspaces: SimpleStrategy
/// keyspaces, system keyspaces not replicated to every datacenter,
/// keyspaces missing a datacenter, more replicas than nodes, unbalanced
/// factors (Aiven limitation 4). `dcs` are the pair's datacenters with
/// their node counts. Pure.
pub fn warnings(keyspaces: &[KeyspaceInfo], dcs: &[(String, u32)]) -> Vec<String> {
    let mut out = Vec::new();
    for ks in keyspaces {
        if LOCAL_KEYSPACES.contains(&ks.name.as_str()) {
            continue;
        }
        let system = SYSTEM_KEYSPACES.contains(&ks.name.as_str());
        if ks.class.ends_with("SimpleStrategy") {
            if system && dcs.len() > 1 {
                out.push(format!(
                    "{} uses SimpleStrategy: it is not replicated to both datacenters, so logins and system data fail when the datacenter holding them is down (run the generated scripts: ccrsim cql setup)",
                    ks.name
                ));
            } else if !system {
                out.push(format!(
                    "{} uses SimpleStrategy, which ignores datacenters: use NetworkTopologyStrategy (ccrsim cql replication)",
                    ks.name
                ));
            }
            continue;
        }
        for (dc, nodes) in dcs {
            match ks.replication.get(dc) {
                None if dcs.len() > 1 => {
                    out.push(format!("{} is not replicated to datacenter {dc}", ks.name))
                }
                Some(rf) if rf > nodes => out.push(format!(
                    "{} asks for {rf} replicas in datacenter {dc}, which has {nodes} nodes",
                    ks.name
                )),
                _ => {}
            }
        }
        let factors: std::collections::BTreeSet<u32> = dcs
            .iter()
            .filter_map(|(dc, _)| ks.replication.get(dc).copied())
            .collect();
        if factors.len() > 1 {
            let m: Vec<String> = ks
                .replication
                .iter()
                .map(|(d, r)| format!("{d}: {r}"))
                .collect();
            out.push(format!(
                "{} has unbalanced replication ({}): Aiven's CCR needs the same factor in both datacenters",
                ks.name,
                m.join(", ")
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(nodes: usize) -> Topology {
        let ips = |k: usize| {
            (1..=nodes)
                .map(|i| format!("127.0.{k}.{i}"))
                .collect::<Vec<_>>()
        };
        Topology {
            project: "p".into(),
            datacenters: vec![
                Datacenter {
                    name: "dc1".into(),
                    service: "svc1".into(),
                    nodes: ips(1),
                },
                Datacenter {
                    name: "dc2".into(),
                    service: "svc2".into(),
                    nodes: ips(2),
                },
            ],
            joined: Some(("dc2".into(), "dc1".into())),
        }
    }

    fn spec(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn default_rf_is_three_capped_by_nodes() {
        assert_eq!(
            pair(3).replication(&[]).unwrap().map(),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 3}"
        );
        assert_eq!(pair(6).replication(&[]).unwrap().0[0].1, 3);
        assert_eq!(pair(2).replication(&[]).unwrap().0[0].1, 2);
        assert_eq!(
            pair(1).replication(&[]).unwrap_err(),
            ReplicationError::RfBelowTwo {
                dc: "dc1".into(),
                rf: 1
            }
        );
    }

    #[test]
    fn refuses_what_aiven_refuses() {
        let t = pair(3);
        assert!(matches!(
            t.replication(&spec(&["1"])),
            Err(ReplicationError::RfBelowTwo { .. })
        ));
        assert!(matches!(
            t.replication(&spec(&["4"])),
            Err(ReplicationError::RfAboveNodes { nodes: 3, .. })
        ));
        let e = t.replication(&spec(&["dc1=3", "dc2=2"])).unwrap_err();
        assert!(matches!(e, ReplicationError::Unbalanced { .. }));
        assert!(e.to_string().contains("Aiven limitation 4"), "{e}");
        assert!(matches!(
            t.replication(&spec(&["dc1=3"])),
            Err(ReplicationError::MissingDatacenter(_))
        ));
        assert!(matches!(
            t.replication(&spec(&["dc9=3"])),
            Err(ReplicationError::UnknownDatacenter(..))
        ));
        assert!(matches!(
            t.replication(&spec(&["x"])),
            Err(ReplicationError::BadRfSpec(_))
        ));
        assert!(matches!(
            t.replication(&spec(&["-2"])),
            Err(ReplicationError::BadRfSpec(_))
        ));
        assert_eq!(
            t.replication(&spec(&["dc1=2", "dc2=2"])).unwrap().0,
            vec![("dc1".into(), 2), ("dc2".into(), 2)]
        );
    }

    #[test]
    fn keyspace_names_are_checked_and_quoted() {
        assert_eq!(keyspace_name("orders").unwrap().cql, "orders");
        assert_eq!(keyspace_name("Orders").unwrap().cql, "\"Orders\"");
        assert_eq!(keyspace_name("1st").unwrap().cql, "\"1st\"");
        assert_eq!(keyspace_name("_x").unwrap().cql, "\"_x\"");
        assert_eq!(keyspace_name("select").unwrap().cql, "\"select\"");
        assert_eq!(keyspace_name("token").unwrap().cql, "\"token\"");
        assert_eq!(keyspace_name(&"a".repeat(48)).unwrap().cql, "a".repeat(48));
        for bad in [
            "",
            "my-ks",
            "my ks",
            "ks;drop",
            "k\"s",
            &"a".repeat(49),
            "é",
        ] {
            assert_eq!(
                keyspace_name(bad).unwrap_err(),
                ReplicationError::BadKeyspaceName(bad.to_string())
            );
        }
        for sys in ["system", "system_auth", "SYSTEM_TRACES", "system_schema"] {
            assert!(matches!(
                keyspace_name(sys),
                Err(ReplicationError::SystemKeyspace(_))
            ));
        }
    }

    #[test]
    fn datacenter_names_are_escaped_as_cql_strings() {
        let mut t = pair(3);
        t.datacenters[0].name = "it's dc".into();
        let rf = t.replication(&[]).unwrap();
        assert_eq!(
            rf.map(),
            "{'class': 'NetworkTopologyStrategy', 'it''s dc': 3, 'dc2': 3}"
        );
        let ks = keyspace_name("Shop").unwrap();
        assert_eq!(
            create_keyspace(&ks, &rf),
            "CREATE KEYSPACE IF NOT EXISTS \"Shop\" WITH replication = {'class': 'NetworkTopologyStrategy', 'it''s dc': 3, 'dc2': 3} AND durable_writes = true;"
        );
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn setup_orders_system_first_and_ends_with_rebuild() {
        let t = pair(3);
        let rf = t.replication(&[]).unwrap();
        let ks = [keyspace_name("a").unwrap(), keyspace_name("B").unwrap()];
        let files = setup_scripts(&t, &ks, &rf).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "01-system-keyspaces.cql",
                "02-keyspace-a.cql",
                "03-keyspace-B.cql"
            ]
        );
        for f in &files {
            assert!(
                f.contents.starts_with("-- ccrsim replication script"),
                "{}",
                f.file_name
            );
            assert!(
                f.contents
                    .contains("svc1 (datacenter dc1) and svc2 (datacenter dc2)")
            );
        }
        for ks in SYSTEM_KEYSPACES {
            assert!(
                files[0]
                    .contents
                    .contains(&format!("ALTER KEYSPACE {ks} WITH replication"))
            );
        }
        assert!(
            files[0]
                .contents
                .contains("After it: run 02-keyspace-a.cql")
        );
        assert!(files[2].contents.contains("nodetool rebuild -- dc1"));
        assert!(
            files[2]
                .contents
                .contains("127.0.2.1, 127.0.2.2, 127.0.2.3")
        );
        assert!(
            files[2]
                .contents
                .contains("CREATE KEYSPACE IF NOT EXISTS \"B\"")
        );
        assert_eq!(
            setup_scripts(&t, &[], &rf).unwrap_err(),
            ReplicationError::NoKeyspace
        );
        let twice = [keyspace_name("a").unwrap(), keyspace_name("a").unwrap()];
        assert_eq!(
            setup_scripts(&t, &twice, &rf).unwrap_err(),
            ReplicationError::DuplicateKeyspace("a".into())
        );
    }

    #[test]
    fn warnings_name_what_a_pair_gets_wrong() {
        let ks = |name: &str, class: &str, m: &[(&str, u32)]| KeyspaceInfo {
            name: name.into(),
            class: class.into(),
            replication: m.iter().map(|(d, r)| (d.to_string(), *r)).collect(),
        };
        let dcs = vec![("eu".to_string(), 3), ("us".to_string(), 3)];
        let w = warnings(
            &[
                ks("good", "NetworkTopologyStrategy", &[("eu", 3), ("us", 3)]),
                ks("old", "SimpleStrategy", &[("replication_factor", 1)]),
                ks(
                    "system_auth",
                    "SimpleStrategy",
                    &[("replication_factor", 1)],
                ),
                ks("half", "NetworkTopologyStrategy", &[("eu", 3)]),
                ks("big", "NetworkTopologyStrategy", &[("eu", 4), ("us", 4)]),
                ks("tilt", "NetworkTopologyStrategy", &[("eu", 3), ("us", 2)]),
                ks("system", "LocalStrategy", &[]),
            ],
            &dcs,
        );
        assert_eq!(w.len(), 6, "{w:#?}");
        assert!(w[0].starts_with("old uses SimpleStrategy"));
        assert!(w[1].starts_with("system_auth uses SimpleStrategy"));
        assert_eq!(w[2], "half is not replicated to datacenter us");
        assert!(w[3].starts_with("big asks for 4 replicas in datacenter eu"));
        assert!(w[4].starts_with("big asks for 4 replicas in datacenter us"));
        assert!(w[5].starts_with("tilt has unbalanced replication (eu: 3, us: 2)"));
    }
}
