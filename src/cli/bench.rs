//! The workload behind `ccrsim bench` and `cargo bench --bench cluster`:
//! prepared writes at LOCAL_ONE, LOCAL_QUORUM and EACH_QUORUM and reads at
//! LOCAL_ONE and LOCAL_QUORUM through the first datacenter, 64 requests in
//! flight, then the cross-datacenter visibility lag (from a LOCAL_QUORUM
//! acknowledgement in the first datacenter until a LOCAL_ONE read in the
//! second returns the row). It prints what it measures; it asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;

use std::io::Write;

use serde_json::json;

use crate::cli::args::BenchArgs;
use crate::cli::ccr::parse_ms;
use crate::cli::client::ApiClient;
use crate::cli::cql::service_target;
use crate::cli::cql_client;
use crate::cli::daemon::await_running;
use crate::cli::error::CliError;
use crate::cli::output::w;
use crate::control::server::{DEFAULT_PROJECT, ServeConfig, Server};

const CONCURRENCY: usize = 64;
const LAG_PROBES: usize = 16;

fn err(what: String) -> impl FnOnce(scylla::errors::ExecutionError) -> CliError {
    move |e| CliError::Io(format!("{what}: {e}"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// One result line: name, ops, seconds, ops/s, p50 and p99 in ms.
pub fn line(name: &str, mut lat: Vec<Duration>, elapsed: Duration, extra: &str) -> String {
    lat.sort();
    let ops = lat.len();
    format!(
        "{name:<22} {ops:>7} ops {:>7.2} s {:>9.0} ops/s  p50 {:>7.3} ms  p99 {:>7.3} ms{extra}\n",
        elapsed.as_secs_f64(),
        ops as f64 / elapsed.as_secs_f64().max(1e-9),
        percentile(&lat, 0.50).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
    )
}

/// `nproc`, `uname -m` and the CPU model, for a header.
pub fn machine() -> String {
    let arch = std::env::consts::ARCH;
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("nproc {nproc}, {arch}, {cpu}")
}

/// A token-aware session that stays in datacenter `dc`.
pub async fn session_in(
    contact: &str,
    dc: &str,
    user: &str,
    password: &str,
) -> Result<Arc<Session>, CliError> {
    let policy = DefaultPolicy::builder()
        .prefer_datacenter(dc.to_string())
        .permit_dc_failover(false)
        .token_aware(true)
        .build();
    let profile = ExecutionProfile::builder()
        .load_balancing_policy(policy)
        .build();
    SessionBuilder::new()
        .known_node(contact)
        .user(user, password)
        .default_execution_profile_handle(profile.into_handle())
        .build()
        .await
        .map(Arc::new)
        .map_err(|e| CliError::Io(format!("cannot connect to {contact} ({dc}): {e}")))
}

fn with_consistency(stmt: &PreparedStatement, cl: Consistency) -> PreparedStatement {
    let mut s = stmt.clone();
    s.set_consistency(cl);
    s
}

async fn join<T>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, CliError>>>,
) -> Result<Vec<T>, CliError> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.map_err(|e| CliError::Io(e.to_string()))??);
    }
    Ok(out)
}

/// Writes keys `first..first + ops`, 64 in flight.
async fn writes(
    s: &Arc<Session>,
    stmt: &PreparedStatement,
    first: i32,
    ops: usize,
) -> Result<(Vec<Duration>, Duration), CliError> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(ops / CONCURRENCY + 1);
            let value = "x".repeat(100);
            let mut i = t;
            while i < ops {
                let k = first + i as i32;
                let t0 = Instant::now();
                s.execute_unpaged(&stmt, (k, &value))
                    .await
                    .map_err(err(format!("write of key {k}")))?;
                lat.push(t0.elapsed());
                i += CONCURRENCY;
            }
            Ok(lat)
        }));
    }
    let all = join(tasks).await?.into_iter().flatten().collect();
    Ok((all, start.elapsed()))
}

/// Reads keys `first..first + ops`, 64 in flight; counts keys not found.
async fn reads(
    s: &Arc<Session>,
    stmt: &PreparedStatement,
    first: i32,
    ops: usize,
) -> Result<(Vec<Duration>, Duration, usize), CliError> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (s, stmt) = (s.clone(), stmt.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(ops / CONCURRENCY + 1);
            let mut missing = 0;
            let mut i = t;
            while i < ops {
                let k = first + i as i32;
                let t0 = Instant::now();
                let r = s
                    .execute_unpaged(&stmt, (k,))
                    .await
                    .map_err(err(format!("read of key {k}")))?;
                lat.push(t0.elapsed());
                let found = r.into_rows_result().is_ok_and(|r| r.rows_num() > 0);
                if !found {
                    missing += 1;
                }
                i += CONCURRENCY;
            }
            Ok((lat, missing))
        }));
    }
    let mut all = Vec::with_capacity(ops);
    let mut missing = 0;
    for (lat, m) in join(tasks).await? {
        all.extend(lat);
        missing += m;
    }
    Ok((all, start.elapsed(), missing))
}

/// Visibility lag, 16 probes at a time: a LOCAL_QUORUM write through the
/// first session, then LOCAL_ONE reads through the second back to back
/// until the row is there.
async fn lag(
    a: &Arc<Session>,
    b: &Arc<Session>,
    insert: &PreparedStatement,
    select: &PreparedStatement,
    first: i32,
    rows: usize,
) -> Result<(Vec<Duration>, Duration), CliError> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..LAG_PROBES {
        let (a, b) = (a.clone(), b.clone());
        let (insert, select) = (insert.clone(), select.clone());
        tasks.push(tokio::spawn(async move {
            let mut lags = Vec::with_capacity(rows / LAG_PROBES + 1);
            let mut i = t;
            while i < rows {
                let k = first + i as i32;
                let value = format!("lag {k}");
                a.execute_unpaged(&insert, (k, &value))
                    .await
                    .map_err(err(format!("LOCAL_QUORUM write of key {k}")))?;
                let acked = Instant::now();
                loop {
                    let r = b
                        .execute_unpaged(&select, (k,))
                        .await
                        .map_err(err(format!("LOCAL_ONE read of key {k}")))?;
                    if r.into_rows_result().is_ok_and(|r| r.rows_num() > 0) {
                        break;
                    }
                    if acked.elapsed() > Duration::from_secs(30) {
                        return Err(CliError::Io(format!(
                            "key {k} is not readable in the other datacenter after 30 s"
                        )));
                    }
                    tokio::task::yield_now().await;
                }
                lags.push(acked.elapsed());
                i += LAG_PROBES;
            }
            Ok(lags)
        }));
    }
    let all = join(tasks).await?.into_iter().flatten().collect();
    Ok((all, start.elapsed()))
}

/// The whole workload on `ks.kv` (created by the caller: `k int PRIMARY
/// KEY, v text`), keys from `base` up; writes each result line to `out` as
/// it is measured.
pub async fn workload(
    a: &Arc<Session>,
    b: &Arc<Session>,
    ks: &str,
    base: i32,
    ops: usize,
    lag_rows: usize,
    out: &mut (dyn std::io::Write + Send),
) -> Result<(), CliError> {
    let prepare = |s: &Arc<Session>, q: String| {
        let s = s.clone();
        async move {
            s.prepare(q.clone())
                .await
                .map_err(|e| CliError::Io(format!("{q}: {e}")))
        }
    };
    let insert = prepare(a, format!("INSERT INTO {ks}.kv (k, v) VALUES (?, ?)")).await?;
    let select = prepare(a, format!("SELECT v FROM {ks}.kv WHERE k = ?")).await?;
    let select_b = prepare(b, format!("SELECT v FROM {ks}.kv WHERE k = ?")).await?;
    let mut say = |s: String| {
        let _ = out.write_all(s.as_bytes());
        let _ = out.flush();
    };
    let warm = ops.min(5_000);
    let (lat, t) = writes(
        a,
        &with_consistency(&insert, Consistency::LocalOne),
        base,
        warm,
    )
    .await?;
    say(line("warmup LOCAL_ONE", lat, t, ""));
    let levels = [
        ("write LOCAL_ONE", Consistency::LocalOne),
        ("write LOCAL_QUORUM", Consistency::LocalQuorum),
        ("write EACH_QUORUM", Consistency::EachQuorum),
    ];
    let first = base + warm as i32;
    for (i, (name, cl)) in levels.into_iter().enumerate() {
        let (lat, t) = writes(
            a,
            &with_consistency(&insert, cl),
            first + (i * ops) as i32,
            ops,
        )
        .await?;
        say(line(name, lat, t, ""));
    }
    // Reads of the keys written at LOCAL_QUORUM.
    for (name, cl) in [
        ("read LOCAL_ONE", Consistency::LocalOne),
        ("read LOCAL_QUORUM", Consistency::LocalQuorum),
    ] {
        let (lat, t, missing) =
            reads(a, &with_consistency(&select, cl), first + ops as i32, ops).await?;
        let extra = if missing > 0 {
            format!("  ({missing} keys not found)")
        } else {
            String::new()
        };
        say(line(name, lat, t, &extra));
    }
    let (lags, t) = lag(
        a,
        b,
        &with_consistency(&insert, Consistency::LocalQuorum),
        &with_consistency(&select_b, Consistency::LocalOne),
        first + (3 * ops) as i32,
        lag_rows,
    )
    .await?;
    say(line(
        "lag (ack to readable)",
        lags,
        t,
        "  (LOCAL_QUORUM in the first datacenter, LOCAL_ONE in the second)",
    ));
    Ok(())
}

/// This process's resident memory in bytes (Linux), if known.
fn resident_bytes() -> Option<u64> {
    status_bytes("VmRSS:")
}

/// A size line of `/proc/self/status` (`VmRSS:`, `VmHWM:`), in bytes.
fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// `ccrsim bench`: see [`crate::cli::Command::Bench`].
pub async fn command(args: &BenchArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let latency = parse_ms("latency", &args.latency)?;
    let state = std::env::temp_dir().join(format!("ccrsim-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state)
        .map_err(|e| CliError::Io(format!("cannot create {}: {e}", state.display())))?;
    w(
        out,
        &format!(
            "# ccrsim bench: a 3 + 3 pair in this process, {} ops per phase, 64 in flight; {}\n",
            args.ops,
            machine()
        ),
    )?;
    let before = resident_bytes();
    let started = Instant::now();
    let nodes = Arc::new(
        crate::runtime::in_process::InProcess::new(&state)
            .with_storage_limits(args.node_memory.limits())
            .with_gossip(args.node_gossip.settings()),
    );
    let server = Server::start(
        ServeConfig {
            state_dir: state.clone(),
            listen: "127.0.0.1:0".parse().expect("an address"),
            project: DEFAULT_PROJECT.into(),
            first_slot: args.first_slot,
        },
        Arc::new(nodes.clone()),
    )
    .await?;
    let result = async {
        let api = ApiClient::new(&server.url(), server.token.clone());
        let p = format!("/v1/project/{DEFAULT_PROJECT}");
        for (name, cloud, join) in [
            ("bench-eu", "aws-eu-west-1", None),
            ("bench-us", "google-us-east1", Some("bench-eu")),
        ] {
            let mut uc = json!({"cassandra": {"datacenter": name}});
            if let Some(j) = join {
                uc["service_to_join_with"] = json!(j);
            }
            api.post(
                &format!("{p}/service"),
                &json!({"service_name": name, "service_type": "cassandra", "plan": "business-4",
                    "cloud": cloud, "user_config": uc}),
            )
            .await?;
        }
        let mut quiet = std::io::sink();
        for name in ["bench-eu", "bench-us"] {
            await_running(&api, &p, name, Duration::from_secs(300), &mut quiet).await?;
        }
        let target = service_target(&api, &p, "bench-eu", true).await?;
        let dirs = cql_client::verify(&target, 5, Duration::from_secs(30)).await?;
        if !dirs.iter().all(cql_client::Direction::passed) {
            return Err(CliError::Io(format!(
                "replication check failed:\n{}",
                cql_client::report(&dirs)
            )));
        }
        w(
            out,
            &format!(
                "time to a RUNNING 3 + 3 pair with verified replication: {:.1} s\n",
                started.elapsed().as_secs_f64()
            ),
        )?;
        cql_client::apply(
            &target,
            &[(
                "bench keyspace".into(),
                "CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'NetworkTopologyStrategy', 'bench-eu': 3, 'bench-us': 3}; \
                 CREATE TABLE IF NOT EXISTS bench.kv (k int PRIMARY KEY, v text);"
                    .into(),
            )],
            &mut quiet,
        )
        .await?;
        if let (Some(b), Some(a)) = (before, resident_bytes()) {
            w(
                out,
                &format!(
                    "resident memory: {:.0} MiB for 6 nodes (and the daemon), {:.0} MiB per node\n",
                    a.saturating_sub(b) as f64 / 1048576.0,
                    a.saturating_sub(b) as f64 / 6.0 / 1048576.0
                ),
            )?;
        }
        let a = session_in(&target.contact_points[0], "bench-eu", &target.username, &target.password).await?;
        let b = session_in(&target.contact_points[3], "bench-us", &target.username, &target.password).await?;
        for (i, ms) in [0.0, latency].into_iter().enumerate() {
            api.put(
                &format!("{p}/service/bench-eu/ccr/link"),
                &json!({"latency_ms": ms, "jitter_ms": 0.0}),
            )
            .await?;
            w(out, &format!("\n## link at {ms} ms one way\n"))?;
            let base = (i as i32) * 100_000_000;
            workload(&a, &b, "bench", base, args.ops, args.lag_rows, out).await?;
        }
        if let (Some(b), Some(a)) = (before, resident_bytes()) {
            w(
                out,
                &format!(
                    "\nresident memory after the workload: {:.0} MiB, {:.0} MiB per node (the process's peak: {:.0} MiB, of which {:.0} MiB before the nodes started)\n",
                    a.saturating_sub(b) as f64 / 1048576.0,
                    a.saturating_sub(b) as f64 / 6.0 / 1048576.0,
                    status_bytes("VmHWM:").unwrap_or(0) as f64 / 1048576.0,
                    b as f64 / 1048576.0
                ),
            )?;
        }
        Ok::<(), CliError>(())
    }
    .await;
    server.shutdown().await;
    nodes.stop_all().await;
    let _ = std::fs::remove_dir_all(&state);
    result
}
