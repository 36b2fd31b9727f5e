//! `ccrsim ccr`: a pair's status, split, simulated link, repair, and the
//! replication check.

use std::io::Write;
use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::args::CcrCmd;
use crate::cli::client::{ApiClient, seg};
use crate::cli::cql::{conn_target, service_target};
use crate::cli::cql_client;
use crate::cli::error::CliError;
use crate::cli::output::{self, field, json_out, node_table, table, w};

pub async fn ccr(
    api: &ApiClient,
    p: &str,
    cmd: &CcrCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        CcrCmd::Status { service_name, json } => ccr_status(api, p, service_name, *json, out).await,
        CcrCmd::Split { service_name, json } => {
            let v = api
                .post(
                    &format!("{p}/service/{}/ccr/split", seg(service_name)),
                    &json!({}),
                )
                .await?;
            if *json {
                return json_out(out, &v);
            }
            w(out, &format!("{}\n", field(&v, "message")))
        }
        CcrCmd::Link {
            service_name,
            latency,
            jitter,
            loss,
            down,
            up,
            seed,
            json,
        } => {
            let path = format!("{p}/service/{}/ccr/link", seg(service_name));
            let mut body = serde_json::Map::new();
            if let Some(v) = latency {
                body.insert("latency_ms".into(), json!(parse_ms("latency", v)?));
            }
            if let Some(v) = jitter {
                body.insert("jitter_ms".into(), json!(parse_ms("jitter", v)?));
            }
            if let Some(v) = loss {
                body.insert("loss_percent".into(), json!(parse_percent(v)?));
            }
            if *down || *up {
                body.insert("down".into(), json!(*down));
            }
            if let Some(v) = seed {
                body.insert("seed".into(), json!(v));
            }
            let v = if body.is_empty() {
                api.get(&path).await?
            } else {
                api.put(&path, &Value::Object(body)).await?
            };
            if *json {
                return json_out(out, &v["link"]);
            }
            w(out, &format!("link: {}\n", link_text(&v["link"])))
        }
        CcrCmd::Repair {
            service_name,
            keyspace,
            tables,
            json,
        } => {
            let mut body = json!({ "tables": tables });
            if let Some(k) = keyspace {
                body["keyspace"] = json!(k);
            }
            let v = api
                .post(
                    &format!("{p}/service/{}/ccr/repair", seg(service_name)),
                    &body,
                )
                .await?;
            if *json {
                return json_out(out, &v);
            }
            let mut text = String::new();
            for n in v["nodes"].as_array().into_iter().flatten() {
                text.push_str(&format!(
                    "== {} {} ==\n{}",
                    field(n, "service_name"),
                    field(n, "address"),
                    field(n, "output")
                ));
            }
            text.push_str(&format!("{}\n", field(&v, "message")));
            w(out, &text)
        }
        CcrCmd::Verify {
            service_name,
            conn,
            probes,
            timeout,
        } => {
            let target = match (&conn.contact_points, service_name) {
                (Some(_), _) => conn_target(conn)?,
                (None, Some(name)) => service_target(api, p, name, true).await?,
                (None, None) => {
                    return Err(CliError::Usage(
                        "ccr verify: name a service or give --contact-points".into(),
                    ));
                }
            };
            let dirs = cql_client::verify(&target, *probes, Duration::from_secs(*timeout)).await?;
            w(out, &cql_client::report(&dirs))?;
            if dirs.iter().all(cql_client::Direction::passed) {
                Ok(())
            } else {
                Err(CliError::Io("replication check failed".into()))
            }
        }
    }
}

/// `latency 40 ms (from the clouds), jitter 0 ms, loss 0%, up, seed 1`.
fn link_text(l: &Value) -> String {
    format!(
        "latency {} ms{}, jitter {} ms, loss {}%, {}, seed {}",
        field(l, "latency_ms"),
        if l["from_clouds"] == true {
            " (from the clouds)"
        } else {
            ""
        },
        field(l, "jitter_ms"),
        field(l, "loss_percent"),
        if l["down"] == true { "DOWN" } else { "up" },
        field(l, "seed")
    )
}

/// `80ms`, `1.5s`, `0` (milliseconds) into milliseconds.
pub fn parse_ms(what: &str, v: &str) -> Result<f64, CliError> {
    let v = v.trim();
    let (num, scale) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (v, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .map(|x| x * scale)
        .ok_or_else(|| CliError::Usage(format!("invalid {what} '{v}': use e.g. 80ms or 1.5s")))
}

/// `0.5%` or `0.5` (percent).
fn parse_percent(v: &str) -> Result<f64, CliError> {
    v.trim()
        .trim_end_matches('%')
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| CliError::Usage(format!("invalid loss '{v}': use e.g. 0.5%")))
}

pub async fn ccr_status(
    api: &ApiClient,
    p: &str,
    name: &str,
    json: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let v = api.get(&format!("{p}/service/{}/ccr", seg(name))).await?;
    let ccr = &v["ccr"];
    if json {
        return json_out(out, ccr);
    }
    let dcs = ccr["datacenters"].as_array().cloned().unwrap_or_default();
    let mut s = String::new();
    if ccr["paired"] == json!(true) {
        let names: Vec<String> = dcs
            .iter()
            .map(|d| {
                format!(
                    "{} (datacenter {})",
                    field(d, "service_name"),
                    field(d, "datacenter")
                )
            })
            .collect();
        s.push_str(&format!("CCR pair: {}\n", names.join(" + ")));
        if ccr["joined"].is_object() {
            s.push_str(&format!(
                "{} joined {}\n",
                field(&ccr["joined"], "service_name"),
                field(&ccr["joined"], "joined_service")
            ));
        }
        if ccr["link"].is_object() {
            s.push_str(&format!("link: {}\n", link_text(&ccr["link"])));
        }
        for d in &dcs {
            if let Some(h) = d["pending_hints"].as_u64() {
                s.push_str(&format!(
                    "pending hints in {}: {h}\n",
                    field(d, "datacenter")
                ));
            }
        }
    } else {
        s.push_str(&format!("{name} is standalone (no CCR pair)\n"));
    }
    for split in ccr["splits"].as_array().into_iter().flatten() {
        let pair: Vec<String> = split["services"]
            .as_array()
            .into_iter()
            .flatten()
            .map(output::text)
            .collect();
        s.push_str(&format!(
            "split: {} at {}\n",
            pair.join(" + "),
            field(split, "split_time")
        ));
    }
    s.push('\n');
    let rows: Vec<Vec<String>> = dcs
        .iter()
        .map(|d| {
            vec![
                field(d, "service_name"),
                field(d, "datacenter"),
                field(d, "cloud_name"),
                field(d, "plan"),
                format!("{}", d["disk_space_mb"].as_u64().unwrap_or(0) / 1024),
                field(d, "state"),
                format!("{}", d["nodes"].as_array().map_or(0, Vec::len)),
            ]
        })
        .collect();
    s.push_str(&table(
        &[
            "SERVICE",
            "DATACENTER",
            "CLOUD",
            "PLAN",
            "DISK_GIB",
            "STATE",
            "NODES",
        ],
        &rows,
    ));
    s.push('\n');
    let nodes: Vec<Value> = dcs
        .iter()
        .flat_map(|d| {
            let dc = d["datacenter"].clone();
            d["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |mut n| {
                    n["datacenter"] = dc.clone();
                    n
                })
        })
        .collect();
    s.push_str(&node_table(&Value::Array(nodes)));
    if let Some(ks) = ccr["keyspaces"].as_array() {
        let rows: Vec<Vec<String>> = ks
            .iter()
            .map(|k| {
                let r: Vec<String> = k["replication"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(d, n)| format!("{d}={n}"))
                    .collect();
                vec![field(k, "name"), field(k, "class"), r.join(" ")]
            })
            .collect();
        s.push('\n');
        s.push_str(&table(&["KEYSPACE", "STRATEGY", "REPLICATION"], &rows));
    }
    for warning in ccr["warnings"].as_array().into_iter().flatten() {
        s.push_str(&format!("warning: {}\n", output::text(warning)));
    }
    w(out, &s)
}
