//! The command line, as clap parses it: the global flags ([`Cli`]) and each
//! command's arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::control::server::{DEFAULT_LISTEN, DEFAULT_PROJECT, DEFAULT_STATE_DIR};

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
    #[command(flatten)]
    pub node_memory: NodeMemoryArgs,
    #[command(flatten)]
    pub node_gossip: NodeGossipArgs,
}

/// The memory of each node run in this process (they share it).
#[derive(Debug, Args)]
pub struct NodeMemoryArgs {
    /// Each in-process node's memtable per table, in MiB (a `ccrsim node`
    /// process: 64; Cassandra's `memtable_heap_space`, per table).
    #[arg(long, env = "CCRSIM_NODE_MEMTABLE_SPACE_MB", default_value_t = crate::runtime::in_process::NODE_MEMTABLE_MB)]
    pub node_memtable_space_mb: u64,
    /// Each in-process node's block cache, in MiB (a process: 32).
    #[arg(long, env = "CCRSIM_NODE_CACHE_SIZE_MB", default_value_t = crate::runtime::in_process::NODE_CACHE_MB)]
    pub node_cache_size_mb: u64,
    /// The size each in-process node's compactions make its tables, in MiB
    /// (a process: 64; leveled compaction's `sstable_size_in_mb`).
    #[arg(long, env = "CCRSIM_NODE_SSTABLE_SIZE_MB", default_value_t = crate::runtime::in_process::NODE_SSTABLE_MB)]
    pub node_sstable_size_mb: u64,
}

/// The gossip of each node run in this process.
#[derive(Debug, Args)]
pub struct NodeGossipArgs {
    /// Each in-process node's gossip round, in ms. The nodes share one
    /// machine's loopback, so they gossip every 100 ms and a pair is ready
    /// in about a second; 1000 is Cassandra's round (a `ccrsim node`
    /// process keeps it).
    #[arg(long, env = "CCRSIM_NODE_GOSSIP_INTERVAL_MS", default_value_t = crate::runtime::in_process::NODE_GOSSIP_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=10_000))]
    pub node_gossip_interval_ms: u64,
}

impl NodeGossipArgs {
    pub fn settings(&self) -> crate::node::cluster::member::GossipSettings {
        crate::node::cluster::member::GossipSettings {
            interval: std::time::Duration::from_millis(self.node_gossip_interval_ms),
            ..Default::default()
        }
    }
}

impl NodeMemoryArgs {
    pub fn limits(&self) -> crate::node::db::storage::StorageLimits {
        crate::node::db::storage::StorageLimits {
            memtable_bytes: self.node_memtable_space_mb.max(1) << 20,
            cache_bytes: self.node_cache_size_mb << 20,
            table_bytes: self.node_sstable_size_mb.max(1) << 20,
        }
    }
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
    #[command(flatten)]
    pub node_memory: NodeMemoryArgs,
    #[command(flatten)]
    pub node_gossip: NodeGossipArgs,
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
    /// Anti-entropy repair across the pair: `nodetool repair -pr` on every
    /// node of both datacenters, one at a time (every range once).
    Repair {
        service_name: String,
        /// Only this keyspace (default: every replicated keyspace).
        #[arg(long)]
        keyspace: Option<String>,
        /// Only these tables of the keyspace (repeatable).
        #[arg(long = "table", requires = "keyspace")]
        tables: Vec<String>,
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
