//! # The `ccrsim` command line
//!
//! Every command except `serve` is a client of the control plane's HTTP
//! API, exactly as `avn` is a client of Aiven's: it finds the API at `--url`
//! (`CCRSIM_URL`, default `http://127.0.0.1:9180`) and authenticates with
//! `--auth-token` (`CCRSIM_AUTH_TOKEN`), or with the token the daemon wrote
//! into its state directory (`--state-dir`, `CCRSIM_STATE_DIR`). Flags follow
//! `avn`'s where both have a command (`-t`, `-p`, `--cloud`, `-c KEY=VALUE`,
//! `--json`, `--force` ...).
//!
//! [`run`] takes the parsed command line and two writers, and returns the
//! exit code, so tests drive the real CLI in-process and compare what it
//! prints (see `tests/scripts/`). Human output is a table; `--json` prints
//! the API's object. Errors go to the error writer and exit non-zero.

pub mod bench;
pub mod client;
pub mod cql_client;
pub mod output;
pub mod user_config;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

use crate::control::runtime::{NoRuntime, NodeRuntime};
use crate::control::server::{
    DEFAULT_LISTEN, DEFAULT_PROJECT, DEFAULT_STATE_DIR, Demo, ServeConfig, Server, read_token,
};
use crate::replication::{self, Datacenter, ReplicationError, Topology};
use client::{ApiClient, seg};
use output::{field, format_template, table};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("cannot reach the ccrsim API at {url}: {reason}. Is `ccrsim serve` running there?")]
    Connect { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Serve(#[from] crate::control::server::ServeError),
}

/// ccrsim: a Cassandra cross-cluster replication (CCR) simulator with an Aiven-compatible API.
#[derive(Debug, Parser)]
#[command(name = "ccrsim", version, about, long_about = None)]
pub struct Cli {
    /// URL of the ccrsim API.
    #[arg(
        long,
        env = "CCRSIM_URL",
        default_value = "http://127.0.0.1:9180",
        global = true
    )]
    pub url: String,
    /// API token (default: read from the state directory's `token` file).
    #[arg(
        long = "auth-token",
        env = "CCRSIM_AUTH_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub auth_token: Option<String>,
    /// State directory of the daemon (holds its database and token).
    #[arg(long, env = "CCRSIM_STATE_DIR", default_value = DEFAULT_STATE_DIR, global = true)]
    pub state_dir: PathBuf,
    /// Project to work in.
    #[arg(long, env = "CCRSIM_PROJECT", default_value = DEFAULT_PROJECT, global = true)]
    pub project: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The main job: the daemon with the demo CCR pair running, its
    /// replication scripts (cql/) applied and replication verified; runs
    /// until Ctrl-C.
    Up(ServeArgs),
    /// Run the control-plane daemon (HTTP API) until Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Measure this machine: time to a verified 3 + 3 pair, memory per node,
    /// and writes, reads and cross-datacenter lag with the link at 0 ms and
    /// at 40 ms (a throwaway state directory; prints figures, asserts nothing).
    Bench(BenchArgs),
    /// Run one Cassandra-style node (CQL on port 9042) until Ctrl-C or SIGTERM.
    Node(Box<crate::node::config::NodeArgs>),
    /// Cassandra's nodetool for ccrsim nodes: status, ring, describecluster,
    /// getendpoints, info, rebuild, pausehandoff, resumehandoff,
    /// statushandoff, listpendinghints, drain.
    Nodetool(NodetoolArgs),
    /// Projects.
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Services: create, inspect, update, terminate.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Cross-cluster replication pairs.
    #[command(subcommand)]
    Ccr(CcrCmd),
    /// NetworkTopologyStrategy replication scripts for a service's datacenters.
    #[command(subcommand)]
    Cql(CqlCmd),
}

#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct NodetoolArgs {
    /// The node's address (as nodetool's -h). Default: the node's listen
    /// address inside a ccrsim-node container (CASSANDRA_LISTEN_ADDRESS,
    /// `auto` meaning the container's own address), else 127.0.0.1.
    #[arg(short = 'h', long = "host")]
    pub host: Option<String>,
    /// The node's internode (storage) port; ccrsim nodes have no JMX.
    #[arg(short = 'p', long = "port", default_value_t = 7000)]
    pub port: u16,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The command and its arguments, e.g. `status`, `rebuild -- dc1`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address the HTTP API listens on.
    #[arg(long, env = "CCRSIM_LISTEN", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// Also create the demo CCR pair of fixtures/demo.json if it is missing.
    #[arg(long)]
    pub demo: bool,
    /// Where services' nodes run: `in-process` (real nodes inside the
    /// daemon, one loopback address each), `docker` (containers of the
    /// ccrsim-node image at 172.29.K.i) or `none` (no nodes: services stay
    /// REBUILDING; the control plane alone).
    #[arg(long, value_enum, env = "CCRSIM_RUNTIME", default_value = "in-process")]
    pub runtime: RuntimeKind,
    /// New services get address blocks 127.0.K.0/24 (172.29.K.0/24 with
    /// docker) from this K up.
    #[arg(long, env = "CCRSIM_FIRST_SLOT", default_value_t = 1)]
    pub first_slot: u8,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Operations per phase.
    #[arg(long, default_value_t = 20_000)]
    pub ops: usize,
    /// Rows of each lag measurement.
    #[arg(long, default_value_t = 1_000)]
    pub lag_rows: usize,
    /// The pair's nodes get 127.0.K.0/24 and 127.0.K+1.0/24.
    #[arg(long, default_value_t = 200)]
    pub first_slot: u8,
    /// The second link latency measured (the first is 0 ms).
    #[arg(long, default_value = "40ms")]
    pub latency: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    InProcess,
    /// Containers of the ccrsim-node image (CCRSIM_NODE_IMAGE), on the
    /// Docker network ccrsim-services (172.29.0.0/16).
    #[cfg(feature = "docker")]
    Docker,
    None,
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Create a project.
    Create {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List projects.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Print the API's JSON object.
    #[arg(long)]
    pub json: bool,
    /// Print each service through a template, e.g. '{service_name} {state}'.
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create a service; `-c service_to_join_with=NAME` joins an existing one as a CCR pair.
    Create {
        service_name: String,
        /// Service type.
        #[arg(short = 't', long = "service-type", default_value = "cassandra")]
        service_type: String,
        /// Plan (see `ccrsim service types`).
        #[arg(short = 'p', long)]
        plan: String,
        /// Cloud region (default aws-eu-west-1).
        #[arg(long)]
        cloud: Option<String>,
        /// Disk space in GiB (default: the plan's; a joining service: its peer's).
        #[arg(long = "disk-space-gib")]
        disk_space_gib: Option<u64>,
        /// User config, KEY=VALUE with dotted keys (repeatable): cassandra.datacenter, service_to_join_with.
        #[arg(short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Protect the service against termination.
        #[arg(long = "enable-termination-protection")]
        termination_protection: bool,
        /// Succeed if the service already exists.
        #[arg(long = "no-fail-if-exists")]
        no_fail_if_exists: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Show a service.
    Get {
        service_name: String,
        /// Also show nodes, connection details and the pair.
        #[arg(short = 'v', long)]
        verbose: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// List services (all, or those named).
    List {
        service_names: Vec<String>,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Change plan, disk, power or user config (plan and disk apply to both services of a pair).
    Update {
        service_name: String,
        #[arg(short = 'p', long)]
        plan: Option<String>,
        #[arg(long)]
        cloud: Option<String>,
        #[arg(long = "disk-space-gib")]
        disk_space_gib: Option<u64>,
        #[arg(short = 'c', value_name = "KEY=VALUE")]
        config: Vec<String>,
        /// Stop the service's nodes, keeping their data.
        #[arg(long = "power-off", conflicts_with = "power_on")]
        power_off: bool,
        /// Start the service's nodes again.
        #[arg(long = "power-on")]
        power_on: bool,
        #[arg(
            long = "enable-termination-protection",
            conflicts_with = "disable_termination_protection"
        )]
        enable_termination_protection: bool,
        #[arg(long = "disable-termination-protection")]
        disable_termination_protection: bool,
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Terminate services (the other service of a pair becomes standalone).
    Terminate {
        #[arg(required = true)]
        service_names: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        force: bool,
    },
    /// Wait until a service is RUNNING.
    Wait {
        service_name: String,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// List service types and their plans.
    Types {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CcrCmd {
    /// Show a service's CCR pair: both services, datacenters, plans and nodes.
    Status {
        service_name: String,
        #[arg(long)]
        json: bool,
    },
    /// Split a pair into two standalone services, for good.
    Split {
        service_name: String,
        #[arg(long)]
        json: bool,
    },
    /// Show or change the simulated network link between the pair's two
    /// datacenters (by default a one-way delay derived from the clouds).
    Link {
        service_name: String,
        /// One-way delay, e.g. 80ms.
        #[arg(long)]
        latency: Option<String>,
        /// Each message's delay varies by up to this much either way.
        #[arg(long)]
        jitter: Option<String>,
        /// Share of messages lost, e.g. 0.5%.
        #[arg(long)]
        loss: Option<String>,
        /// Cut the two datacenters apart (a partition).
        #[arg(long, conflicts_with = "up")]
        down: bool,
        /// Reconnect them.
        #[arg(long)]
        up: bool,
        /// Seed of the random delays and losses (to replay a run).
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Write probe rows at LOCAL_QUORUM in each datacenter and read them at
    /// LOCAL_ONE in the other: pass/fail and the lag. With --contact-points,
    /// any two-datacenter Cassandra cluster.
    Verify {
        /// The service (its pair's two datacenters); optional with --contact-points.
        service_name: Option<String>,
        #[command(flatten)]
        conn: ConnArgs,
        /// Probe rows per direction.
        #[arg(long, default_value_t = 5)]
        probes: usize,
        /// Give up on a probe after this many seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

/// Where to send CQL instead of the service's own nodes.
#[derive(Debug, Args)]
pub struct ConnArgs {
    /// Comma-separated contact points (host or host:port) of any cluster.
    #[arg(long)]
    pub contact_points: Option<String>,
    #[arg(long, default_value = "cassandra")]
    pub username: String,
    #[arg(
        long,
        env = "CCRSIM_CQL_PASSWORD",
        default_value = "cassandra",
        hide_env_values = true
    )]
    pub password: String,
}

#[derive(Debug, Subcommand)]
pub enum CqlCmd {
    /// Print the CREATE KEYSPACE statement for a keyspace replicated over the service's datacenters.
    Replication {
        service_name: String,
        #[arg(long)]
        keyspace: String,
        /// Replicas per datacenter: N for all, or DC=N for each (repeatable). Default: 3, at most the node count.
        #[arg(long)]
        rf: Vec<String>,
    },
    /// Run CQL scripts against the service's datacenter (through the scylla
    /// driver) and wait for schema agreement.
    Apply {
        service_name: String,
        /// Script files, run in the order given.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Write the ordered scripts (system keyspaces, then each keyspace) into a directory.
    Setup {
        service_name: String,
        /// Keyspaces to replicate (repeatable).
        #[arg(long = "keyspace", required = true)]
        keyspaces: Vec<String>,
        #[arg(long)]
        rf: Vec<String>,
        /// Directory to write the .cql files into.
        #[arg(long)]
        out: PathBuf,
        /// Also run them against the service (as `cql apply`).
        #[arg(long)]
        apply: bool,
    },
}

/// Entry point of the binary: parses the command line, runs it, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    // CCRSIM_LOG=debug|info|warn|error (default: info for `serve` and `node`, warn otherwise).
    // `up` prints what a user needs on stdout; its nodes' routine logs
    // would bury it.
    let default = if matches!(cli.command, Command::Serve(_) | Command::Node(_)) {
        "info"
    } else {
        "warn"
    };
    let level = std::env::var("CCRSIM_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or_else(|| default.parse().expect("a valid level"));
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    rt.block_on(run(cli, &mut out, &mut err))
}

/// Runs one command, writing output to `out` and errors to `err`; returns the exit code.
pub async fn run(cli: Cli, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> i32 {
    match dispatch(cli, out).await {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            1
        }
    }
}

fn w(out: &mut (dyn Write + Send), s: &str) -> Result<(), CliError> {
    out.write_all(s.as_bytes())
        .map_err(|e| CliError::Io(format!("cannot write output: {e}")))
}

fn json_out(out: &mut (dyn Write + Send), v: &Value) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).unwrap_or_default();
    w(out, &format!("{s}\n"))
}

fn token(cli: &Cli) -> Result<String, CliError> {
    if let Some(t) = &cli.auth_token {
        return Ok(t.clone());
    }
    read_token(&cli.state_dir).map_err(|e| {
        CliError::Usage(format!(
            "no API token: set CCRSIM_AUTH_TOKEN (or --auth-token), or point --state-dir at the daemon's state directory ({}: {e})",
            cli.state_dir.join("token").display()
        ))
    })
}

async fn dispatch(cli: Cli, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    if let Command::Serve(args) = &cli.command {
        return serve(&cli, args, out).await;
    }
    if let Command::Up(args) = &cli.command {
        return up(&cli, args, out).await;
    }
    if let Command::Bench(args) = &cli.command {
        return bench(args, out).await;
    }
    if let Command::Node(args) = &cli.command {
        return node(args).await;
    }
    if let Command::Nodetool(args) = &cli.command {
        return nodetool(args, out).await;
    }
    let api = ApiClient::new(&cli.url, token(&cli)?);
    let p = format!("/v1/project/{}", seg(&cli.project));
    match &cli.command {
        Command::Serve(_)
        | Command::Up(_)
        | Command::Bench(_)
        | Command::Node(_)
        | Command::Nodetool(_) => {
            unreachable!("handled above")
        }
        Command::Project(cmd) => project(&api, cmd, out).await,
        Command::Service(cmd) => service(&api, &p, cmd, out).await,
        Command::Ccr(cmd) => ccr(&api, &p, cmd, out).await,
        Command::Cql(cmd) => cql(&api, &p, cmd, out).await,
    }
}

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
        RuntimeKind::InProcess => Arc::new(Arc::new(crate::runtime::in_process::InProcess::new(
            &cli.state_dir,
        ))),
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

async fn serve(cli: &Cli, args: &ServeArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
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

/// Waits until a service is RUNNING, printing each change of state.
async fn await_running(
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
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The first node's progress updates as bars: `stream [#####-----] 1/2 nodes`.
fn progress_bars(s: &Value) -> String {
    let updates = s["node_states"]
        .as_array()
        .and_then(|n| n.first())
        .and_then(|n| n["progress_updates"].as_array().cloned())
        .unwrap_or_default();
    updates
        .iter()
        .map(|u| {
            let (cur, max) = (
                u["current"].as_u64().unwrap_or(0),
                u["max"].as_u64().unwrap_or(0).max(1),
            );
            let filled = (cur.min(max) * 20 / max) as usize;
            format!(
                "{} [{}{}] {cur}/{max} {}",
                field(u, "phase"),
                "#".repeat(filled),
                "-".repeat(20 - filled),
                field(u, "unit")
            )
        })
        .collect::<Vec<_>>()
        .join("  ")
}

/// This process's resident memory in bytes (Linux), if known.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// `ccrsim bench`: see [`Command::Bench`].
async fn bench(args: &BenchArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
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
            bench::machine()
        ),
    )?;
    let before = resident_bytes();
    let started = Instant::now();
    let nodes = Arc::new(crate::runtime::in_process::InProcess::new(&state));
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
        let a = bench::session_in(&target.contact_points[0], "bench-eu", &target.username, &target.password).await?;
        let b = bench::session_in(&target.contact_points[3], "bench-us", &target.username, &target.password).await?;
        for (i, ms) in [0.0, latency].into_iter().enumerate() {
            api.put(
                &format!("{p}/service/bench-eu/ccr/link"),
                &json!({"latency_ms": ms, "jitter_ms": 0.0}),
            )
            .await?;
            w(out, &format!("\n## link at {ms} ms one way\n"))?;
            let base = (i as i32) * 100_000_000;
            bench::workload(&a, &b, "bench", base, args.ops, args.lag_rows, out).await?;
        }
        if let (Some(b), Some(a)) = (before, resident_bytes()) {
            w(
                out,
                &format!(
                    "\nresident memory after the workload: {:.0} MiB, {:.0} MiB per node\n",
                    a.saturating_sub(b) as f64 / 1048576.0,
                    a.saturating_sub(b) as f64 / 6.0 / 1048576.0
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

/// The main job: the demo pair up, `cql/` applied, replication verified.
async fn up(cli: &Cli, args: &ServeArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
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

async fn node(args: &crate::node::config::NodeArgs) -> Result<(), CliError> {
    let signal = ShutdownSignal::install();
    let config = args.resolve().map_err(|e| CliError::Usage(e.to_string()))?;
    let node = crate::node::instance::Node::start(config)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    signal.wait().await;
    tracing::info!("Stopping the node: closing client connections and flushing storage");
    node.stop().await;
    tracing::info!("Node stopped");
    Ok(())
}

async fn nodetool(args: &NodetoolArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let host = match (&args.host, std::env::var("CASSANDRA_LISTEN_ADDRESS")) {
        (Some(h), _) => h.clone(),
        (None, Ok(a)) if a.trim().eq_ignore_ascii_case("auto") => {
            crate::node::config::own_address().to_string()
        }
        (None, Ok(a)) if !a.trim().is_empty() => a.trim().to_string(),
        _ => "127.0.0.1".to_string(),
    };
    let ip: std::net::IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) => tokio::net::lookup_host((host.as_str(), args.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| CliError::Usage(format!("nodetool: unknown host {host}")))?,
    };
    let addr = SocketAddr::new(ip, args.port);
    let (ok, text) = crate::node::cluster::transport::admin(addr, args.command.clone())
        .await
        .map_err(|e| {
            CliError::Io(format!(
                "nodetool: Failed to connect to '{host}:{}' - {e}.",
                args.port
            ))
        })?;
    if ok {
        w(out, &text)
    } else {
        Err(CliError::Io(text.trim_end().to_string()))
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
struct ShutdownSignal {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignal {
    fn install() -> ShutdownSignal {
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

    async fn wait(self) {
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

async fn project(
    api: &ApiClient,
    cmd: &ProjectCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    let rows = |projects: &[Value]| -> Vec<Vec<String>> {
        projects
            .iter()
            .map(|p| {
                vec![
                    field(p, "project_name"),
                    field(p, "default_cloud"),
                    field(p, "create_time"),
                ]
            })
            .collect()
    };
    let headers = ["PROJECT_NAME", "DEFAULT_CLOUD", "CREATE_TIME"];
    match cmd {
        ProjectCmd::Create { name, json } => {
            let v = api.post("/v1/project", &json!({ "project": name })).await?;
            if *json {
                json_out(out, &v["project"])
            } else {
                w(
                    out,
                    &table(&headers, &rows(std::slice::from_ref(&v["project"]))),
                )
            }
        }
        ProjectCmd::List { json } => {
            let v = api.get("/v1/project").await?;
            let projects = v["projects"].as_array().cloned().unwrap_or_default();
            if *json {
                json_out(out, &v["projects"])
            } else {
                w(out, &table(&headers, &rows(&projects)))
            }
        }
    }
}

const SERVICE_HEADERS: [&str; 8] = [
    "SERVICE_NAME",
    "SERVICE_TYPE",
    "STATE",
    "CLOUD_NAME",
    "PLAN",
    "CREATE_TIME",
    "UPDATE_TIME",
    "NOTIFICATIONS",
];

fn print_services(
    out: &mut (dyn Write + Send),
    services: &[Value],
    o: &OutputArgs,
) -> Result<(), CliError> {
    if o.json {
        return json_out(out, &Value::Array(services.to_vec()));
    }
    if let Some(t) = &o.format {
        for s in services {
            w(
                out,
                &format!("{}\n", format_template(t, s).map_err(CliError::Usage)?),
            )?;
        }
        return Ok(());
    }
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let mut row: Vec<String> = SERVICE_HEADERS[..7]
                .iter()
                .map(|h| field(s, &h.to_ascii_lowercase()))
                .collect();
            row.push(String::new());
            row
        })
        .collect();
    w(out, &table(&SERVICE_HEADERS, &rows))
}

fn print_one(
    out: &mut (dyn Write + Send),
    service: &Value,
    o: &OutputArgs,
) -> Result<(), CliError> {
    if o.json {
        return json_out(out, service);
    }
    print_services(out, std::slice::from_ref(service), o)
}

async fn service(
    api: &ApiClient,
    p: &str,
    cmd: &ServiceCmd,
    out: &mut (dyn Write + Send),
) -> Result<(), CliError> {
    match cmd {
        ServiceCmd::Create {
            service_name,
            service_type,
            plan,
            cloud,
            disk_space_gib,
            config,
            termination_protection,
            no_fail_if_exists,
            out: o,
        } => {
            let user_config = if config.is_empty() {
                json!({})
            } else {
                // Typed by the service type's schema; for a type the API does
                // not offer, sent as strings and left to the API to refuse.
                let schema = user_config_schema(api, p, service_type).await?;
                user_config::parse(config, schema.as_ref())?
            };
            let mut body = json!({
                "service_name": service_name,
                "service_type": service_type,
                "plan": plan,
                "user_config": user_config,
            });
            if let Some(c) = cloud {
                body["cloud"] = json!(c);
            }
            if let Some(g) = disk_space_gib {
                body["disk_space_mb"] = json!(g.saturating_mul(1024));
            }
            if *termination_protection {
                body["termination_protection"] = json!(true);
            }
            let v = match api.post(&format!("{p}/service"), &body).await {
                Ok(v) => v,
                Err(CliError::Api { status: 409, .. }) if *no_fail_if_exists => {
                    api.get(&format!("{p}/service/{}", seg(service_name)))
                        .await?
                }
                Err(e) => return Err(e),
            };
            print_one(out, &v["service"], o)
        }
        ServiceCmd::Get {
            service_name,
            verbose,
            out: o,
        } => {
            let v = api
                .get(&format!("{p}/service/{}", seg(service_name)))
                .await?;
            let s = &v["service"];
            print_one(out, s, o)?;
            if *verbose && !o.json && o.format.is_none() {
                print_details(out, s)?;
            }
            Ok(())
        }
        ServiceCmd::List {
            service_names,
            out: o,
        } => {
            let v = api.get(&format!("{p}/service")).await?;
            let services: Vec<Value> = v["services"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|s| {
                    service_names.is_empty()
                        || service_names.iter().any(|n| s["service_name"] == json!(n))
                })
                .collect();
            print_services(out, &services, o)
        }
        ServiceCmd::Update {
            service_name,
            plan,
            cloud,
            disk_space_gib,
            config,
            power_off,
            power_on,
            enable_termination_protection,
            disable_termination_protection,
            out: o,
        } => {
            let mut body = json!({});
            if !config.is_empty() {
                let schema = user_config_schema(api, p, "cassandra").await?;
                body["user_config"] = user_config::parse(config, schema.as_ref())?;
            }
            if let Some(plan) = plan {
                body["plan"] = json!(plan);
            }
            if let Some(cloud) = cloud {
                body["cloud"] = json!(cloud);
            }
            if let Some(g) = disk_space_gib {
                body["disk_space_mb"] = json!(g.saturating_mul(1024));
            }
            if *power_off {
                body["powered"] = json!(false);
            }
            if *power_on {
                body["powered"] = json!(true);
            }
            if *enable_termination_protection {
                body["termination_protection"] = json!(true);
            }
            if *disable_termination_protection {
                body["termination_protection"] = json!(false);
            }
            if body.as_object().is_some_and(|o| o.is_empty()) {
                return Err(CliError::Usage("nothing to update: give -c, --plan, --disk-space-gib, --power-off/--power-on or a termination protection flag".into()));
            }
            let v = api
                .put(&format!("{p}/service/{}", seg(service_name)), &body)
                .await?;
            print_one(out, &v["service"], o)
        }
        ServiceCmd::Terminate {
            service_names,
            force,
        } => {
            if !*force {
                confirm_termination(service_names)?;
            }
            for name in service_names {
                let v = api.delete(&format!("{p}/service/{}", seg(name))).await?;
                w(out, &format!("{}\n", field(&v, "message")))?;
                if let Some(peer) = v["standalone_peer"].as_str() {
                    w(out, &format!("'{peer}' is now a standalone service\n"))?;
                }
            }
            Ok(())
        }
        ServiceCmd::Wait {
            service_name,
            timeout,
        } => {
            let deadline = Instant::now() + Duration::from_secs(*timeout);
            let mut shown = String::new();
            loop {
                let v = api
                    .get(&format!("{p}/service/{}", seg(service_name)))
                    .await?;
                let s = &v["service"];
                // Work under way (joining a pair, a plan change): a bar per step.
                let bars = progress_bars(s);
                if !bars.is_empty() && bars != shown {
                    w(out, &format!("{bars}\n"))?;
                    let _ = out.flush();
                    shown = bars;
                }
                if s["state"] == "RUNNING" {
                    w(out, &format!("Service '{service_name}' is RUNNING\n"))?;
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    let why: Vec<String> = s["ccrsim"]["nodes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|n| {
                            n["message"]
                                .as_str()
                                .map(|m| format!("{}: {m}", field(n, "name")))
                        })
                        .collect();
                    let mut msg = format!(
                        "Service '{service_name}' is still {} after {timeout} s",
                        field(s, "state")
                    );
                    if let Some(first) = why.first() {
                        msg.push_str(&format!("; {first}"));
                    }
                    return Err(CliError::Usage(msg));
                }
                tokio::time::sleep(Duration::from_millis(500).min(deadline - Instant::now())).await;
            }
        }
        ServiceCmd::Types { json } => {
            let v = api.get(&format!("{p}/service_types")).await?;
            if *json {
                return json_out(out, &v["service_types"]);
            }
            let mut rows = Vec::new();
            if let Some(types) = v["service_types"].as_object() {
                for (name, t) in types {
                    for plan in t["service_plans"].as_array().into_iter().flatten() {
                        rows.push(vec![
                            name.clone(),
                            field(plan, "service_plan"),
                            field(plan, "node_count"),
                            format!("{}", plan["disk_space_mb"].as_u64().unwrap_or(0) / 1024),
                            if plan["ccrsim_ccr_allowed"] == json!(true) {
                                "yes".into()
                            } else {
                                "no".into()
                            },
                        ]);
                    }
                }
            }
            w(
                out,
                &table(
                    &["SERVICE_TYPE", "PLAN", "NODE_COUNT", "DISK_GIB", "CCR"],
                    &rows,
                ),
            )
        }
    }
}

fn confirm_termination(names: &[String]) -> Result<(), CliError> {
    let mut err = std::io::stderr();
    for name in names {
        let _ = write!(
            err,
            "Re-enter service name '{name}' to confirm termination: "
        );
        let _ = err.flush();
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| CliError::Io(format!("cannot read confirmation: {e}")))?;
        if line.trim() != name {
            return Err(CliError::Usage(format!(
                "not terminating '{name}': the name did not match (use --force to skip the question)"
            )));
        }
    }
    Ok(())
}

/// The `user_config_schema` of a service type, or `None` when the API does not offer the type.
async fn user_config_schema(
    api: &ApiClient,
    p: &str,
    service_type: &str,
) -> Result<Option<Value>, CliError> {
    match api
        .get(&format!("{p}/service-types/{}", seg(service_type)))
        .await
    {
        Ok(v) => Ok(Some(v["user_config_schema"].clone())),
        Err(CliError::Api { status: 404, .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn print_details(out: &mut (dyn Write + Send), s: &Value) -> Result<(), CliError> {
    w(
        out,
        &format!(
            "\nSERVICE_URI: {}\nDATACENTER: {}\nDISK: {} GiB\nUSER_CONFIG: {}\n",
            field(s, "service_uri"),
            field(s, "ccrsim.datacenter"),
            s["disk_space_mb"].as_u64().unwrap_or(0) / 1024,
            s["user_config"],
        ),
    )?;
    match s["ccrsim"]["pair"].as_object() {
        Some(pair) => w(
            out,
            &format!(
                "CCR PAIR: with {} (datacenter {})\n",
                output::text(&pair["peer_service"]),
                output::text(&pair["peer_datacenter"])
            ),
        )?,
        None => w(out, "CCR PAIR: none (standalone)\n")?,
    }
    w(out, "\n")?;
    w(out, &node_table(&s["ccrsim"]["nodes"]))
}

fn node_table(nodes: &Value) -> String {
    let rows: Vec<Vec<String>> = nodes
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            vec![
                field(n, "name"),
                field(n, "datacenter"),
                format!("{}:{}", field(n, "address"), field(n, "cql_port")),
                field(n, "rack"),
                field(n, "state"),
            ]
        })
        .collect();
    table(&["NODE", "DATACENTER", "ADDRESS", "RACK", "STATE"], &rows)
}

async fn ccr(
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
fn parse_ms(what: &str, v: &str) -> Result<f64, CliError> {
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

fn conn_target(conn: &ConnArgs) -> Result<cql_client::Target, CliError> {
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
async fn service_target(
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

/// Reads script files in order.
fn read_scripts(files: &[PathBuf]) -> Result<Vec<(String, String)>, CliError> {
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|t| (f.display().to_string(), t))
                .map_err(|e| CliError::Io(format!("cannot read {}: {e}", f.display())))
        })
        .collect()
}

async fn ccr_status(
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

async fn cql(
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
