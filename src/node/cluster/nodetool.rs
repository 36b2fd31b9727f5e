//! `nodetool` on the node side: each command reads the node's state and
//! answers text laid out as Apache Cassandra 4.1's nodetool prints it.
//! `ccrsim nodetool -h ADDRESS CMD` sends the command over the internode
//! port ([`crate::node::cluster::transport::admin`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::node::cluster::gossip::{EndpointState, Status};
use crate::node::cluster::membership::Membership;
use crate::node::cql::exec::Engine;
use crate::node::db::schema::Strategy;
use crate::node::db::system::PARTITIONER;
use crate::node::locator::placement::Ring;
use crate::node::locator::ring::uuid_text;
use crate::node::value::types::CqlType;
use crate::node::value::{CqlLiteral, CqlValue};

/// What nodetool's commands read and drive on a node (the running node's
/// cluster side implements it).
pub trait Managed: Send + Sync {
    /// Gossip's state and the ring.
    fn membership(&self) -> &Membership;
    fn engine(&self) -> &Arc<Engine>;
    /// This node's listen address.
    fn me(&self) -> IpAddr;
    /// `nodetool pausehandoff`: hints are kept but not sent.
    fn hints_paused(&self) -> &AtomicBool;
    /// `nodetool rebuild -- SOURCE_DC`.
    fn rebuild(&self, source_dc: &str) -> impl Future<Output = Result<String, String>> + Send;
    /// `nodetool decommission`.
    fn decommission(&self) -> impl Future<Output = Result<String, String>> + Send;
    /// `nodetool repair [options] [KEYSPACE [TABLE ...]]`.
    fn repair(&self, args: Vec<String>) -> impl Future<Output = Result<String, String>> + Send;
}

/// Each node's share of the ring's data under `strategy` (1.0 = all of it).
pub fn effective_ownership(ring: &Ring, strategy: &Strategy) -> BTreeMap<IpAddr, f64> {
    let mut tokens: Vec<i64> = ring.nodes().iter().flat_map(|n| n.tokens.clone()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    let mut out: BTreeMap<IpAddr, f64> = ring.nodes().iter().map(|n| (n.address, 0.0)).collect();
    if tokens.is_empty() {
        return out;
    }
    let total = 2f64.powi(64);
    for (i, t) in tokens.iter().enumerate() {
        let prev = if i == 0 {
            tokens[tokens.len() - 1]
        } else {
            tokens[i - 1]
        };
        let mut size = (i128::from(*t) - i128::from(prev)) as f64;
        if size <= 0.0 {
            size += total;
        }
        for r in ring.replicas(strategy, *t) {
            *out.entry(r).or_default() += size / total;
        }
    }
    out
}

fn state_code(alive: bool, s: &EndpointState) -> &'static str {
    match (alive, s.app.status) {
        (true, Status::Normal) => "UN",
        (true, Status::Joining) => "UJ",
        (true, Status::Leaving) => "UL",
        (true, _) => "UN",
        (false, Status::Joining) => "DJ",
        (false, Status::Leaving) => "DL",
        (false, _) => "DN",
    }
}

fn status(node: &impl Managed, keyspace: Option<&str>) -> Result<String, String> {
    let ring = node.membership().ring();
    let schema = node.engine().schema();
    let strategy = match keyspace {
        Some(k) => Some(
            schema
                .keyspace(k)
                .ok_or_else(|| format!("The keyspace {k}, does not exist"))?
                .meta
                .strategy
                .clone(),
        ),
        None => None,
    };
    let owns = effective_ownership(
        &ring,
        strategy.as_ref().unwrap_or(&Strategy::Simple {
            replication_factor: 1,
        }),
    );
    let mut by_dc: BTreeMap<String, Vec<EndpointState>> = BTreeMap::new();
    for s in node.membership().states() {
        if s.app.status == Status::Left {
            continue;
        }
        by_dc.entry(s.app.datacenter.clone()).or_default().push(s);
    }
    let mut out = String::new();
    let owns_header = if strategy.is_some() {
        "Owns (effective)"
    } else {
        "Owns"
    };
    for (dc, mut nodes) in by_dc {
        nodes.sort_by_key(|n| n.address);
        let _ = writeln!(out, "Datacenter: {dc}");
        let _ = writeln!(out, "{}", "=".repeat("Datacenter: ".len() + dc.len()));
        let _ = writeln!(out, "Status=Up/Down");
        let _ = writeln!(out, "|/ State=Normal/Leaving/Joining/Moving");
        let _ = writeln!(
            out,
            "--  {:<15} {:<10} {:<7} {:<17} {:<37} Rack",
            "Address", "Load", "Tokens", owns_header, "Host ID"
        );
        for n in nodes {
            let alive = node.membership().is_alive(&n.address);
            let pct = owns.get(&n.address).copied().unwrap_or(0.0) * 100.0;
            let _ = writeln!(
                out,
                "{}  {:<15} {:<10} {:<7} {:<17} {:<37} {}",
                state_code(alive, &n),
                n.address.to_string(),
                file_size(n.app.load),
                n.app.tokens.len(),
                format!("{pct:.1}%"),
                uuid_text(&n.app.host_id),
                n.app.rack
            );
        }
        out.push('\n');
    }
    if strategy.is_none() {
        out.push_str(
            "Note: Non-system keyspaces don't have the same replication settings, effective ownership information is meaningless\n",
        );
    }
    Ok(out)
}

fn describecluster(node: &impl Managed) -> String {
    let mut versions: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    let mut unreachable = Vec::new();
    for s in node.membership().states() {
        if !node.membership().is_alive(&s.address) {
            unreachable.push(s.address);
            continue;
        }
        versions
            .entry(uuid_text(&s.app.schema_version))
            .or_default()
            .push(s.address);
    }
    let mut out = String::from("Cluster Information:\n");
    let _ = writeln!(out, "\tName: {}", node.engine().cluster_name);
    out.push_str("\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch\n");
    out.push_str("\tDynamicEndPointSnitch: enabled\n");
    let _ = writeln!(out, "\tPartitioner: {PARTITIONER}");
    out.push_str("\tSchema versions:\n");
    for (v, mut nodes) in versions {
        nodes.sort();
        let list: Vec<String> = nodes.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(out, "\t\t{v}: [{}]\n", list.join(", "));
    }
    if !unreachable.is_empty() {
        unreachable.sort();
        let list: Vec<String> = unreachable.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(out, "\t\tUNREACHABLE: [{}]\n", list.join(", "));
    }
    out
}

fn key_bytes(ty: &CqlType, text: &str) -> Result<Vec<u8>, String> {
    let lit = match ty {
        CqlType::Ascii
        | CqlType::Text
        | CqlType::Inet
        | CqlType::Date
        | CqlType::Time
        | CqlType::Timestamp => CqlLiteral::Str(text.to_string()),
        CqlType::Uuid | CqlType::Timeuuid => CqlLiteral::Uuid(text.to_string()),
        CqlType::Blob => CqlLiteral::Hex(text.trim_start_matches("0x").to_string()),
        CqlType::Boolean => CqlLiteral::Bool(text.eq_ignore_ascii_case("true")),
        CqlType::Float | CqlType::Double | CqlType::Decimal => CqlLiteral::Float(text.to_string()),
        _ => CqlLiteral::Int(text.to_string()),
    };
    CqlValue::from_literal(ty, &lit)
        .map_err(|e| e.for_column("key"))?
        .map(|v| v.to_bytes())
        .ok_or_else(|| "the key may not be null".to_string())
}

fn getendpoints(node: &impl Managed, ks: &str, table: &str, key: &str) -> Result<String, String> {
    let schema = node.engine().schema();
    let k = schema
        .keyspace(ks)
        .ok_or_else(|| format!("Keyspace {ks} does not exist"))?;
    let t = k
        .tables
        .get(table)
        .ok_or_else(|| format!("Table {table} does not exist in keyspace {ks}"))?;
    let pk: Vec<_> = t.partition_key().collect();
    if pk.len() != 1 {
        return Err("getendpoints: composite partition keys are given as one value per component separated by ':'; ccrsim takes single-column keys only".into());
    }
    let bytes = key_bytes(&pk[0].ty, key)?;
    let token = crate::node::locator::partitioner::token(&bytes);
    let mut out = String::new();
    for r in node.membership().ring().replicas(&k.meta.strategy, token) {
        let _ = writeln!(out, "{r}");
    }
    Ok(out)
}

fn pending_hints(node: &impl Managed) -> Result<String, String> {
    let pending =
        crate::node::cluster::hints::pending(&node.engine().storage).map_err(|e| e.to_string())?;
    if pending.is_empty() {
        return Ok("This node does not have any pending hints\n".into());
    }
    let states = node.membership().states();
    let mut out = format!(
        "{:>36} {:>15} {:>8} {:>12} {:>6} {:>11}\n",
        "Host ID", "Address", "Rack", "DC", "Status", "Total hints"
    );
    for (host, n) in pending {
        let s = states.iter().find(|s| s.app.host_id == host);
        let (addr, rack, dc, up) = match s {
            Some(s) => (
                s.address.to_string(),
                s.app.rack.clone(),
                s.app.datacenter.clone(),
                if node.membership().is_alive(&s.address) {
                    "UP"
                } else {
                    "DOWN"
                },
            ),
            None => ("?".into(), "?".into(), "?".into(), "?"),
        };
        let _ = writeln!(
            out,
            "{:>36} {addr:>15} {rack:>8} {dc:>12} {up:>6} {n:>11}",
            uuid_text(&host)
        );
    }
    Ok(out)
}

/// A size as nodetool prints it (`70.71 KiB`).
fn file_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.2} {}", UNITS[unit])
}

fn info(node: &impl Managed) -> String {
    let me = node.me();
    let states = node.membership().states();
    let Some(s) = states.iter().find(|s| s.address == me) else {
        return String::new();
    };
    let mut out = String::new();
    let _ = writeln!(out, "{:<24}: {}", "ID", uuid_text(&s.app.host_id));
    let _ = writeln!(out, "{:<24}: true", "Gossip active");
    let _ = writeln!(out, "{:<24}: true", "Native Transport active");
    let _ = writeln!(out, "{:<24}: {}", "Load", file_size(s.app.load));
    let _ = writeln!(out, "{:<24}: {}", "Generation No", s.generation);
    let _ = writeln!(
        out,
        "{:<24}: {}",
        "Uptime (seconds)",
        node.membership().uptime_secs()
    );
    let _ = writeln!(out, "{:<24}: {}", "Data Center", s.app.datacenter);
    let _ = writeln!(out, "{:<24}: {}", "Rack", s.app.rack);
    let _ = writeln!(out, "{:<24}: 0.0%", "Percent Repaired");
    let _ = writeln!(
        out,
        "{:<24}: (invoke with -T/--tokens to see all {} tokens)",
        "Token",
        s.app.tokens.len()
    );
    out
}

fn ring_text(node: &impl Managed) -> String {
    let mut rows: Vec<(i64, EndpointState)> = Vec::new();
    for s in node.membership().states() {
        for t in &s.app.tokens {
            rows.push((*t, s.clone()));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{:<15} {:<8} {:<7} {:<8} {:>20}",
        "Address", "Rack", "Status", "State", "Token"
    );
    if let Some(last) = rows.last() {
        let _ = writeln!(out, "{:>62}", last.0);
    }
    for (t, s) in rows {
        let up = if node.membership().is_alive(&s.address) {
            "Up"
        } else {
            "Down"
        };
        let _ = writeln!(
            out,
            "{:<15} {:<8} {:<7} {:<8} {:>20}",
            s.address.to_string(),
            s.app.rack,
            up,
            "Normal",
            t
        );
    }
    out
}

/// Runs one command; `(succeeded, output)`.
pub async fn run(node: &impl Managed, args: Vec<String>) -> (bool, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = match a.as_slice() {
        ["status"] => status(node, None),
        ["status", ks] => status(node, Some(ks)),
        ["describecluster"] => Ok(describecluster(node)),
        ["ring", ..] => Ok(ring_text(node)),
        ["getendpoints", ks, table, key] => getendpoints(node, ks, table, key),
        ["info"] => Ok(info(node)),
        ["statushandoff"] => Ok(
            if !node.membership().hints_enabled() || node.hints_paused().load(Ordering::Relaxed) {
                "Hinted handoff is not running\n".into()
            } else {
                "Hinted handoff is running\n".into()
            },
        ),
        ["disablehandoff"] => {
            node.membership().set_hints_enabled(false);
            Ok(String::new())
        }
        ["enablehandoff"] => {
            node.membership().set_hints_enabled(true);
            Ok(String::new())
        }
        ["pausehandoff"] => {
            node.hints_paused().store(true, Ordering::Relaxed);
            Ok(String::new())
        }
        ["resumehandoff"] => {
            node.hints_paused().store(false, Ordering::Relaxed);
            Ok(String::new())
        }
        ["listpendinghints"] => pending_hints(node),
        ["rebuild", "--", dc] | ["rebuild", dc] => node.rebuild(dc).await,
        ["drain"] => {
            let storage = node.engine().storage.clone();
            tokio::task::spawn_blocking(move || storage.flush())
                .await
                .map_err(|e| e.to_string())
                .and_then(|r| r.map_err(|e| e.to_string()))
                .map(|()| String::new())
        }
        ["decommission"] | ["decommission", "--force"] => node.decommission().await,
        ["repair", rest @ ..] => {
            node.repair(rest.iter().map(|s| s.to_string()).collect())
                .await
        }
        [] => Err("nodetool: a command is required".into()),
        [cmd, ..] => Err(format!(
            "nodetool: Found unexpected parameters or unknown command: {cmd}"
        )),
    };
    match r {
        Ok(t) => (true, t),
        Err(e) => (false, format!("{e}\n")),
    }
}
