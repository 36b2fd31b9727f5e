//! `ccrsim cql`: replication scripts for a service's datacenters, written
//! and applied; and how to reach a service's nodes (or any cluster's) with
//! CQL, which `ccr verify`, `up` and `bench` share.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cli::args::{ConnArgs, CqlCmd};
use crate::cli::client::{ApiClient, seg};
use crate::cli::cql_client;
use crate::cli::error::CliError;
use crate::cli::output::{self, field, w};
use crate::replication::{self, Datacenter, Topology};

pub async fn cql(
    api: &ApiClient,
    p: &str,
    cmd: &CqlCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        CqlCmd::Replication {
            service_name,
            keyspace,
            rf,
        } => {
            let ks = replication::keyspace_name(keyspace)?;
            let t = topology(api, p, service_name).await?;
            let rf = t.replication(rf)?;
            w(
                out,
                &format!("{}\n", replication::create_keyspace(&ks, &rf)),
            )
        }
        CqlCmd::Apply {
            service_name,
            files,
            conn,
        } => {
            let target = match &conn.contact_points {
                Some(_) => conn_target(conn)?,
                None => service_target(api, p, service_name, false).await?,
            };
            let scripts = read_scripts(files)?;
            let n = cql_client::apply(&target, &scripts, out).await?;
            w(out, &format!("{n} statements applied; schema agreed\n"))
        }
        CqlCmd::Setup {
            service_name,
            keyspaces,
            rf,
            out: dir,
            apply,
        } => {
            let ks = keyspaces
                .iter()
                .map(|k| replication::keyspace_name(k))
                .collect::<Result<Vec<_>, _>>()?;
            let t = topology(api, p, service_name).await?;
            let rf = t.replication(rf)?;
            let files = replication::setup_scripts(&t, &ks, &rf)?;
            write_scripts(dir, &files)?;
            for f in &files {
                w(
                    out,
                    &format!("wrote {}\n", dir.join(&f.file_name).display()),
                )?;
            }
            if *apply {
                let target = service_target(api, p, service_name, false).await?;
                let paths: Vec<PathBuf> = files.iter().map(|f| dir.join(&f.file_name)).collect();
                let n = cql_client::apply(&target, &read_scripts(&paths)?, out).await?;
                w(out, &format!("{n} statements applied; schema agreed\n"))?;
            }
            Ok(())
        }
    }
}

/// Writes every script (each through a temporary file and a rename), after
/// all of them were generated, so an error leaves no partial set behind.
fn write_scripts(dir: &Path, files: &[replication::Script]) -> Result<(), CliError> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        CliError::Io(format!("cannot {what} {}: {e}", path.display()))
    };
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    for f in files {
        let path = dir.join(&f.file_name);
        let tmp = dir.join(format!(".{}.tmp", f.file_name));
        std::fs::write(&tmp, &f.contents).map_err(|e| io("write", &tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io("write", &path, e))?;
    }
    Ok(())
}

/// Reads script files in order.
pub fn read_scripts(files: &[PathBuf]) -> Result<Vec<(String, String)>, CliError> {
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|t| (f.display().to_string(), t))
                .map_err(|e| CliError::Io(format!("cannot read {}: {e}", f.display())))
        })
        .collect()
}

pub fn conn_target(conn: &ConnArgs) -> Result<cql_client::Target, CliError> {
    let points: Vec<String> = conn
        .contact_points
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.contains(':') {
                s.to_string()
            } else {
                format!("{s}:9042")
            }
        })
        .collect();
    if points.is_empty() {
        return Err(CliError::Usage("--contact-points is empty".into()));
    }
    Ok(cql_client::Target {
        contact_points: points,
        username: conn.username.clone(),
        password: conn.password.clone(),
    })
}

/// How to reach a service's nodes (and its peer's, with `pair`) as avnadmin.
pub async fn service_target(
    api: &ApiClient,
    p: &str,
    name: &str,
    pair: bool,
) -> Result<cql_client::Target, CliError> {
    let v = api.get(&format!("{p}/service/{}", seg(name))).await?;
    let s = &v["service"];
    let nodes = |s: &Value| -> Vec<String> {
        s["ccrsim"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| format!("{}:{}", field(n, "address"), field(n, "cql_port")))
            .collect()
    };
    let mut points = nodes(s);
    if pair && let Some(peer) = s["ccrsim"]["pair"]["peer_service"].as_str() {
        let pv = api.get(&format!("{p}/service/{}", seg(peer))).await?;
        points.extend(nodes(&pv["service"]));
    }
    Ok(cql_client::Target {
        contact_points: points,
        username: field(&s["service_uri_params"], "user"),
        password: field(&s["service_uri_params"], "password"),
    })
}

/// The replication topology of a service, from the API's pair view: the
/// datacenter that was joined comes first, so both services of a pair give
/// the same scripts.
pub async fn topology(api: &ApiClient, p: &str, name: &str) -> Result<Topology, CliError> {
    let v = api.get(&format!("{p}/service/{}/ccr", seg(name))).await?;
    Ok(topology_from_ccr(&v["ccr"]))
}

pub fn topology_from_ccr(ccr: &Value) -> Topology {
    let mut datacenters: Vec<Datacenter> = ccr["datacenters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| Datacenter {
            name: field(d, "datacenter"),
            service: field(d, "service_name"),
            nodes: d["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|n| field(n, "address"))
                .collect(),
        })
        .collect();
    let joined = ccr["joined"].as_object().map(|j| {
        (
            output::text(&j["datacenter"]),
            output::text(&j["joined_datacenter"]),
        )
    });
    if let Some((_, existing)) = &joined {
        datacenters.sort_by_key(|d| &d.name != existing);
    }
    Topology {
        project: field(ccr, "project"),
        datacenters,
        joined,
    }
}
