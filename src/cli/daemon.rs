//! The daemon's commands: `serve` (the control plane until Ctrl-C) and `up`
//! (the demo pair running, its scripts applied and replication verified),
//! and what they share: starting the daemon with the runtime `--runtime`
//! names, the demo pair, waiting for a service to run, the shutdown signal.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::args::{Cli, RuntimeKind, ServeArgs};
use crate::cli::ccr::ccr_status;
use crate::cli::client::{ApiClient, seg};
use crate::cli::cql::{read_scripts, service_target, topology};
use crate::cli::cql_client;
use crate::cli::error::CliError;
use crate::cli::output::{field, w};
use crate::control::runtime::{NoRuntime, NodeRuntime};
use crate::control::server::{DEFAULT_LISTEN, DEFAULT_STATE_DIR, Demo, ServeConfig, Server};
use crate::replication;

/// A running daemon and the runtime of its nodes.
struct Daemon {
    server: Server,
    runtime: Arc<dyn NodeRuntime>,
}

impl Daemon {
    async fn stop(self) {
        self.server.shutdown().await;
        self.runtime.stop().await;
    }
}

/// Starts the daemon and prints its URL and token.
async fn start_daemon(
    cli: &Cli,
    args: &ServeArgs,
    out: &mut (dyn Write + Send),
) -> Result<Daemon, CliError> {
    let config = ServeConfig {
        state_dir: cli.state_dir.clone(),
        listen: args.listen,
        project: cli.project.clone(),
        first_slot: args.first_slot,
    };
    let runtime: Arc<dyn NodeRuntime> = match args.runtime {
        RuntimeKind::InProcess => Arc::new(Arc::new(
            crate::runtime::in_process::InProcess::new(&cli.state_dir)
                .with_storage_limits(args.node_memory.limits())
                .with_gossip(args.node_gossip.settings()),
        )),
        #[cfg(feature = "docker")]
        RuntimeKind::Docker => {
            std::fs::create_dir_all(&cli.state_dir).map_err(|e| {
                CliError::Io(format!("cannot create {}: {e}", cli.state_dir.display()))
            })?;
            let image = crate::runtime::docker::image::NodeImage::from_env();
            let r = crate::runtime::docker::DockerRuntime::new(&cli.state_dir, image)
                .await
                .map(Arc::new)
                .map_err(|e| CliError::Io(format!("the docker runtime: {e}")))?;
            Arc::new(r)
        }
        RuntimeKind::None => Arc::new(NoRuntime),
    };
    let server = Server::start(config, runtime.clone()).await?;
    let url = server.url();
    w(
        out,
        &format!(
            "ccrsim control plane: {url} (state: {})\n",
            cli.state_dir.display()
        ),
    )?;
    if server.token_created {
        w(
            out,
            &format!(
                "API token (new, saved in {}): {}\n",
                cli.state_dir.join("token").display(),
                server.token
            ),
        )?;
    } else {
        w(
            out,
            &format!("API token: in {}\n", cli.state_dir.join("token").display()),
        )?;
    }
    Ok(Daemon { server, runtime })
}

/// Creates the demo pair where it is missing.
async fn ensure_demo(server: &Server, out: &mut (dyn Write + Send)) -> Result<Demo, CliError> {
    let demo = Demo::builtin();
    let state = server.state.clone();
    let created = tokio::task::spawn_blocking(move || demo.ensure(&state))
        .await
        .map_err(|e| CliError::Io(e.to_string()))?
        .map_err(|e| CliError::Io(format!("creating the demo pair: {e}")))?;
    let demo = Demo::builtin();
    if created.is_empty() {
        w(
            out,
            &format!("demo pair: {} already exists\n", names(&demo)),
        )?;
    } else {
        w(out, &format!("demo pair: created {}\n", created.join(", ")))?;
    }
    Ok(demo)
}

/// `ccrsim` as the user should type it to reach this daemon.
fn me(cli: &Cli, url: &str) -> String {
    let mut me = std::env::args().next().unwrap_or_else(|| "ccrsim".into());
    if url != format!("http://{DEFAULT_LISTEN}") {
        me.push_str(&format!(" --url {url}"));
    }
    if cli.state_dir != Path::new(DEFAULT_STATE_DIR) {
        me.push_str(&format!(" --state-dir {}", cli.state_dir.display()));
    }
    me
}

pub async fn serve(
    cli: &Cli,
    args: &ServeArgs,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let signal = ShutdownSignal::install();
    let daemon = start_daemon(cli, args, out).await?;
    let url = daemon.server.url();
    if args.demo {
        let demo = ensure_demo(&daemon.server, out).await?;
        let api = ApiClient::new(&url, daemon.server.token.clone());
        let p = format!("/v1/project/{}", seg(&demo.project));
        let _ = out.flush();
        ccr_status(&api, &p, &demo.services[0].name, false, out).await?;
        let me = me(cli, &url);
        let (svc, project) = (&demo.services[0].name, &demo.project);
        let ks = demo.keyspaces.join(" --keyspace ");
        w(
            out,
            &format!(
                "\nIn another terminal, from this directory:\n  \
                 {me} --project {project} ccr status {svc}\n  \
                 {me} --project {project} cql setup {svc} --keyspace {ks} --out cql/\n  \
                 avn --url {url} --auth-token {token} service list --project {project}\n",
                token = daemon.server.token,
            ),
        )?;
    }
    let _ = out.flush();
    signal.wait().await;
    w(out, "shutting down\n")?;
    daemon.stop().await;
    Ok(())
}

/// The main job: the demo pair up, `cql/` applied, replication verified.
pub async fn up(cli: &Cli, args: &ServeArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let signal = ShutdownSignal::install();
    let started = Instant::now();
    let daemon = start_daemon(cli, args, out).await?;
    let result = async {
        let url = daemon.server.url();
        let token = daemon.server.token.clone();
        let demo = ensure_demo(&daemon.server, out).await?;
        let api = ApiClient::new(&url, token.clone());
        let p = format!("/v1/project/{}", seg(&demo.project));
        w(out, "waiting for the services to run:\n")?;
        for s in &demo.services {
            await_running(&api, &p, &s.name, Duration::from_secs(300), out).await?;
        }
        let first = &demo.services[0].name;
        let target = service_target(&api, &p, first, false).await?;
        // The replication scripts: the repository's cql/ when present,
        // else generated now.
        let dir = Path::new("cql");
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "cql"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        let scripts = if files.is_empty() {
            let t = topology(&api, &p, first).await?;
            let ks = demo
                .keyspaces
                .iter()
                .map(|k| replication::keyspace_name(k))
                .collect::<Result<Vec<_>, _>>()?;
            let rf = t.replication(&[demo.rf.to_string()])?;
            replication::setup_scripts(&t, &ks, &rf)?
                .into_iter()
                .map(|s| (s.file_name, s.contents))
                .collect()
        } else {
            read_scripts(&files)?
        };
        let mut scripts = scripts;
        // A table to try the pair with.
        scripts.push((
            "the demo table".into(),
            "CREATE TABLE IF NOT EXISTS demo.kv (k text PRIMARY KEY, v text);".into(),
        ));
        cql_client::apply(&target, &scripts, out).await?;
        let pair = service_target(&api, &p, first, true).await?;
        let dirs = cql_client::verify(&pair, 5, Duration::from_secs(30)).await?;
        w(out, &cql_client::report(&dirs))?;
        if !dirs.iter().all(cql_client::Direction::passed) {
            return Err(CliError::Io("replication check failed".into()));
        }
        w(out, "\n")?;
        ccr_status(&api, &p, first, false, out).await?;
        let me = me(cli, &url);
        let project = &demo.project;
        let mut lines = format!(
            "\nready in {:.1} s\n\nAPI: {url}  token: {token}\n",
            started.elapsed().as_secs_f64()
        );
        for s in &demo.services {
            let t = service_target(&api, &p, &s.name, false).await?;
            lines.push_str(&format!(
                "datacenter {}: contact points {}\n",
                s.name,
                t.contact_points.join(",")
            ));
        }
        let host = |i: usize| -> String {
            demo.services
                .get(i)
                .map(|s| s.name.clone())
                .unwrap_or_default()
        };
        let first_host = |t: &cql_client::Target| -> String {
            t.contact_points
                .first()
                .map(|c| c.split(':').next().unwrap_or_default().to_string())
                .unwrap_or_default()
        };
        let t0 = service_target(&api, &p, &host(0), false).await?;
        let t1 = service_target(&api, &p, &host(1), false).await?;
        lines.push_str(&format!(
            "\nIn another terminal:\n  \
             cqlsh {a} -u {user} -p {pw} -e \"INSERT INTO demo.kv (k, v) VALUES ('hello', 'from {d0}')\"\n  \
             cqlsh {b} -u {user} -p {pw} -e \"SELECT * FROM demo.kv WHERE k = 'hello'\"\n  \
             {me} --project {project} ccr status {first}\n  \
             {me} --project {project} ccr verify {first}\n  \
             avn --url {url} --auth-token {token} service list --project {project}\n\n\
             Ctrl-C stops every node; the next `up` finds the same state and data.\n",
            a = first_host(&t0),
            b = first_host(&t1),
            user = t0.username,
            pw = t0.password,
            d0 = host(0),
        ));
        w(out, &lines)?;
        let _ = out.flush();
        Ok::<(), CliError>(())
    }
    .await;
    if result.is_ok() {
        signal.wait().await;
    }
    w(out, "shutting down\n")?;
    daemon.stop().await;
    result
}

/// Waits until a service is RUNNING, printing each change of state.
pub async fn await_running(
    api: &ApiClient,
    p: &str,
    name: &str,
    timeout: Duration,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        let v = api.get(&format!("{p}/service/{}", seg(name))).await?;
        let s = &v["service"];
        let mut now = field(s, "state");
        let progress: Vec<String> = s["node_states"]
            .as_array()
            .into_iter()
            .flatten()
            .take(1)
            .flat_map(|n| {
                n["progress_updates"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .map(|u| {
                format!(
                    "{} {}/{} {}",
                    field(&u, "phase"),
                    field(&u, "current"),
                    field(&u, "max"),
                    field(&u, "unit")
                )
            })
            .collect();
        if !progress.is_empty() {
            now.push_str(&format!(" ({})", progress.join(", ")));
        }
        if now != last {
            w(out, &format!("  {name}: {now}\n"))?;
            let _ = out.flush();
            last = now;
        }
        if s["state"] == "RUNNING" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CliError::Io(format!(
                "{name} is still {} after {} s",
                field(s, "state"),
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn names(demo: &Demo) -> String {
    demo.services
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Ctrl-C or SIGTERM, listened for from the moment this is made (so a
/// signal that arrives while the daemon starts is not lost).
pub struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    pub fn install() -> ShutdownSignal {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            ShutdownSignal {
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            ShutdownSignal {}
        }
    }

    pub async fn wait(self) {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            if let Some(mut term) = self.term {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
                return;
            }
        }
        let _ = ctrl_c.await;
    }
}
