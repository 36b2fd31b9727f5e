//! Talking CQL to a cluster through the scylla driver: applying scripts
//! (`ccrsim cql apply`) and checking replication between two datacenters
//! (`ccrsim ccr verify`). Both work against ccrsim's services and against
//! any Cassandra cluster given contact points.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;

use crate::cli::error::CliError;

/// How to reach a cluster.
#[derive(Debug, Clone)]
pub struct Target {
    pub contact_points: Vec<String>,
    pub username: String,
    pub password: String,
}

fn cql_err(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Io(format!("{what}: {e}"))
}

async fn connect(t: &Target, dc: Option<&str>) -> Result<Session, CliError> {
    let mut b = SessionBuilder::new()
        .known_nodes(&t.contact_points)
        .user(&t.username, &t.password)
        .connection_timeout(Duration::from_secs(10))
        // The driver's default, 200 ms, is most of a DDL's wait on a pair.
        .schema_agreement_interval(Duration::from_millis(10));
    if let Some(dc) = dc {
        let policy = DefaultPolicy::builder()
            .prefer_datacenter(dc.to_string())
            .permit_dc_failover(false)
            .build();
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(policy)
            .build();
        b = b.default_execution_profile_handle(profile.into_handle());
    }
    b.build()
        .await
        .map_err(|e| cql_err(&format!("connecting to {}", t.contact_points.join(",")), e))
}

/// Runs every statement of `files` in order, then waits for schema
/// agreement. Returns how many statements ran.
pub async fn apply(
    t: &Target,
    files: &[(String, String)],
    out: &mut (dyn std::io::Write + Send),
) -> Result<usize, CliError> {
    let s = connect(t, None).await?;
    let mut n = 0;
    for (name, text) in files {
        for st in crate::replication::statements(text) {
            s.query_unpaged(st.as_str(), &[])
                .await
                .map_err(|e| cql_err(&format!("{name}: {st}"), e))?;
            n += 1;
        }
        let _ = writeln!(out, "applied {name}");
    }
    s.await_schema_agreement()
        .await
        .map_err(|e| cql_err("waiting for schema agreement", e))?;
    Ok(n)
}

/// One direction of a replication check.
#[derive(Debug, Clone)]
pub struct Direction {
    pub from: String,
    pub to: String,
    /// Lag of each probe, or `None` for one never seen.
    pub lags: Vec<Option<Duration>>,
}

impl Direction {
    pub fn passed(&self) -> bool {
        self.lags.iter().all(Option::is_some)
    }
}

/// Writes probe rows at LOCAL_QUORUM in each datacenter and reads them at
/// LOCAL_ONE in the other, measuring how long each took to become visible.
pub async fn verify(
    t: &Target,
    probes: usize,
    deadline: Duration,
) -> Result<Vec<Direction>, CliError> {
    let any = connect(t, None).await?;
    let mut dcs: Vec<(String, usize)> = Vec::new();
    for n in any.get_cluster_state().get_nodes_info() {
        if let Some(dc) = &n.datacenter {
            match dcs.iter_mut().find(|(d, _)| d == dc) {
                Some(e) => e.1 += 1,
                None => dcs.push((dc.clone(), 1)),
            }
        }
    }
    dcs.sort();
    if dcs.len() != 2 {
        return Err(CliError::Usage(format!(
            "ccr verify needs a cluster of exactly two datacenters; found {}",
            if dcs.is_empty() {
                "none".to_string()
            } else {
                dcs.iter()
                    .map(|d| d.0.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )));
    }
    let map: Vec<String> = dcs
        .iter()
        .map(|(d, n)| format!("'{}': {}", d.replace('\'', "''"), (*n).min(3)))
        .collect();
    any.query_unpaged(
        format!(
            "CREATE KEYSPACE IF NOT EXISTS ccrsim_verify WITH replication = {{'class': 'NetworkTopologyStrategy', {}}}",
            map.join(", ")
        ),
        &[],
    )
    .await
    .map_err(|e| cql_err("creating keyspace ccrsim_verify", e))?;
    any.query_unpaged(
        "CREATE TABLE IF NOT EXISTS ccrsim_verify.probes (id text PRIMARY KEY, origin text, written_at bigint)",
        &[],
    )
    .await
    .map_err(|e| cql_err("creating table ccrsim_verify.probes", e))?;
    any.await_schema_agreement()
        .await
        .map_err(|e| cql_err("waiting for schema agreement", e))?;
    let sessions =
        futures_util::future::try_join_all(dcs.iter().map(|(dc, _)| connect(t, Some(dc)))).await?;
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    // Both directions at once, and up to PROBES_IN_FLIGHT probes of each:
    // a probe waits about a link's one-way delay, and one after another
    // they added up.
    let directions = [(0usize, 1usize), (1, 0)].map(|(a, b)| {
        let (sessions, dcs) = (&sessions, &dcs);
        let probes = futures_util::stream::iter((0..probes).map(move |i| {
            let id = format!("{run}-{}-{i}", dcs[a].0);
            async move {
                probe(
                    &sessions[a],
                    &sessions[b],
                    &id,
                    &dcs[a].0,
                    run as i64,
                    deadline,
                )
                .await
            }
        }));
        probes.buffered(PROBES_IN_FLIGHT).try_collect::<Vec<_>>()
    });
    let [there, back] = directions;
    let (there, back) = futures_util::future::try_join(there, back).await?;
    let out = [(0, 1, there), (1, 0, back)]
        .into_iter()
        .map(|(a, b, lags)| Direction {
            from: dcs[a].0.clone(),
            to: dcs[b].0.clone(),
            lags,
        })
        .collect();
    Ok(out)
}

/// Probes of one direction in flight at once (`--probes` may ask for many).
const PROBES_IN_FLIGHT: usize = 16;

/// Writes probe `id` through `from` at LOCAL_QUORUM and reads it through
/// `to` at LOCAL_ONE until it is there (its lag) or `deadline` passes (`None`).
async fn probe(
    from: &Session,
    to: &Session,
    id: &str,
    origin: &str,
    run: i64,
    deadline: Duration,
) -> Result<Option<Duration>, CliError> {
    let mut w = Statement::new(
        "INSERT INTO ccrsim_verify.probes (id, origin, written_at) VALUES (?, ?, ?)",
    );
    w.set_consistency(Consistency::LocalQuorum);
    from.query_unpaged(w, (id, origin, run))
        .await
        .map_err(|e| cql_err(&format!("writing a probe in {origin}"), e))?;
    let acked = Instant::now();
    while acked.elapsed() < deadline {
        let mut r = Statement::new("SELECT origin FROM ccrsim_verify.probes WHERE id = ?");
        r.set_consistency(Consistency::LocalOne);
        let found = to
            .query_unpaged(r, (id,))
            .await
            .ok()
            .and_then(|r| r.into_rows_result().ok())
            .is_some_and(|r| r.rows_num() > 0);
        if found {
            return Ok(Some(acked.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(None)
}

/// A line per direction: pass/fail, and the lag's median and maximum.
pub fn report(dirs: &[Direction]) -> String {
    let mut s = String::new();
    for d in dirs {
        let mut seen: Vec<Duration> = d.lags.iter().flatten().copied().collect();
        seen.sort();
        let ms = |x: Duration| format!("{:.1} ms", x.as_secs_f64() * 1e3);
        let line = if d.passed() {
            format!(
                "{} -> {}: PASS, {} probes written at LOCAL_QUORUM, read at LOCAL_ONE; lag p50 {}, max {}\n",
                d.from,
                d.to,
                d.lags.len(),
                ms(seen[seen.len() / 2]),
                ms(seen[seen.len() - 1])
            )
        } else {
            format!(
                "{} -> {}: FAIL, {} of {} probes never became visible\n",
                d.from,
                d.to,
                d.lags.len() - seen.len(),
                d.lags.len()
            )
        };
        s.push_str(&line);
    }
    s
}
