//! A node's settings, from flags or from the environment variables of the
//! official `cassandra` Docker image, so that the ccrsim node image is a
//! drop-in for it.
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--cluster-name` | `CASSANDRA_CLUSTER_NAME` | `Test Cluster` |
//! | `--dc` | `CASSANDRA_DC` | `datacenter1` |
//! | `--rack` | `CASSANDRA_RACK` | `rack1` |
//! | `--seeds` | `CASSANDRA_SEEDS` | the node itself |
//! | `--listen-address` | `CASSANDRA_LISTEN_ADDRESS` | `auto`: the address the host name resolves to, else 127.0.0.1 |
//! | `--broadcast-address` | `CASSANDRA_BROADCAST_ADDRESS` | the listen address |
//! | `--rpc-address` | `CASSANDRA_RPC_ADDRESS` | the listen address |
//! | `--broadcast-rpc-address` | `CASSANDRA_BROADCAST_RPC_ADDRESS` | the rpc address |
//! | `--num-tokens` | `CASSANDRA_NUM_TOKENS` | 16 |
//! | `--endpoint-snitch` | `CASSANDRA_ENDPOINT_SNITCH` | `SimpleSnitch` |
//! | `--token-seed` | `CCRSIM_TOKEN_SEED` | none: tokens drawn at random |
//! | `--authorizer` | `CASSANDRA_AUTHORIZER` | `AllowAllAuthorizer` (or `CassandraAuthorizer`) |
//!
//! Hinted handoff ([`HintConfig`]):
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--max-hint-window-ms` | `CASSANDRA_MAX_HINT_WINDOW_MS` | 10800000 (3 hours) |
//! | `--hinted-handoff-enabled` | `CASSANDRA_HINTED_HANDOFF_ENABLED` | `true` |
//! | `--hinted-handoff-throttle-kb` | `CASSANDRA_HINTED_HANDOFF_THROTTLE_KB` | 16384 (Cassandra: 1024) |
//! | `--max-hints-delivery-threads` | `CASSANDRA_MAX_HINTS_DELIVERY_THREADS` | 2 |
//!
//! Cassandra's client limits ([`crate::node::transport::limits`] and
//! [`crate::node::cql::batchlimits`] say what each does), sizes in
//! cassandra.yaml's notation (`16MiB`, `5KiB`, `1024B`, `1GiB`; the unit is
//! required and its case matters, as in Cassandra 4.1):
//!
//! | flag | environment | default |
//! |---|---|---|
//! | `--native-transport-max-frame-size` | `CASSANDRA_NATIVE_TRANSPORT_MAX_FRAME_SIZE` | `16MiB` |
//! | `--native-transport-max-pre-auth-frame-size` | `CCRSIM_NATIVE_TRANSPORT_MAX_PRE_AUTH_FRAME_SIZE` | `128KiB` (ccrsim's: Cassandra has no such v4 setting) |
//! | `--native-transport-max-request-data-in-flight-per-ip` | `CASSANDRA_NATIVE_TRANSPORT_MAX_REQUEST_DATA_IN_FLIGHT_PER_IP` | `64MiB` (Cassandra: heap / 40) |
//! | `--native-transport-max-request-data-in-flight` | `CASSANDRA_NATIVE_TRANSPORT_MAX_REQUEST_DATA_IN_FLIGHT` | `256MiB` (Cassandra: heap / 10) |
//! | `--native-transport-max-concurrent-connections` | `CASSANDRA_NATIVE_TRANSPORT_MAX_CONCURRENT_CONNECTIONS` | `-1` (unlimited) |
//! | `--native-transport-max-concurrent-connections-per-ip` | `CASSANDRA_NATIVE_TRANSPORT_MAX_CONCURRENT_CONNECTIONS_PER_IP` | `-1` (unlimited) |
//! | `--batch-size-warn-threshold` | `CASSANDRA_BATCH_SIZE_WARN_THRESHOLD` | `5KiB` |
//! | `--batch-size-fail-threshold` | `CASSANDRA_BATCH_SIZE_FAIL_THRESHOLD` | `50KiB` |
//! | `--unlogged-batch-across-partitions-warn-threshold` | `CASSANDRA_UNLOGGED_BATCH_ACROSS_PARTITIONS_WARN_THRESHOLD` | `10` |

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::node::cql::batchlimits::BatchLimits;
use crate::node::db::storage::{CommitlogSync, StorageLimits};
use crate::node::transport::limits::TransportLimits;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Authenticator {
    /// `org.apache.cassandra.auth.PasswordAuthenticator`: SASL PLAIN logins against roles.
    Password,
    /// `org.apache.cassandra.auth.AllowAllAuthenticator`: no login.
    AllowAll,
}

/// Cassandra's `authorizer`: who may do what once logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Authorizer {
    /// `org.apache.cassandra.auth.AllowAllAuthorizer` (Cassandra's default):
    /// every logged-in role may do everything; GRANT and REVOKE are refused.
    #[value(name = "AllowAllAuthorizer", alias = "allow-all")]
    AllowAll,
    /// `org.apache.cassandra.auth.CassandraAuthorizer`: permissions granted
    /// to roles, kept in `system_auth.role_permissions`, checked on every statement.
    #[value(name = "CassandraAuthorizer", alias = "cassandra")]
    Cassandra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyncMode {
    Periodic,
    Batch,
}

/// `ccrsim node` flags.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    #[arg(long, env = "CASSANDRA_CLUSTER_NAME", default_value = "Test Cluster")]
    pub cluster_name: String,
    #[arg(long, env = "CASSANDRA_DC", default_value = "datacenter1")]
    pub dc: String,
    #[arg(long, env = "CASSANDRA_RACK", default_value = "rack1")]
    pub rack: String,
    /// Comma-separated seed addresses.
    #[arg(long, env = "CASSANDRA_SEEDS", value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// An address, or `auto` for the address the host name resolves to.
    #[arg(long, env = "CASSANDRA_LISTEN_ADDRESS", default_value = "auto")]
    pub listen_address: String,
    #[arg(long, env = "CASSANDRA_BROADCAST_ADDRESS")]
    pub broadcast_address: Option<String>,
    #[arg(long, env = "CASSANDRA_RPC_ADDRESS")]
    pub rpc_address: Option<String>,
    #[arg(long, env = "CASSANDRA_BROADCAST_RPC_ADDRESS")]
    pub broadcast_rpc_address: Option<String>,
    #[arg(long, env = "CASSANDRA_NUM_TOKENS", default_value_t = 16)]
    pub num_tokens: u16,
    #[arg(
        long,
        env = "CASSANDRA_ENDPOINT_SNITCH",
        default_value = "SimpleSnitch"
    )]
    pub endpoint_snitch: String,
    #[arg(long, env = "CASSANDRA_CQL_PORT", default_value_t = 9042)]
    pub cql_port: u16,
    #[arg(long, env = "CASSANDRA_STORAGE_PORT", default_value_t = 7000)]
    pub storage_port: u16,
    /// Where the node keeps its data.
    #[arg(long, env = "CASSANDRA_DATA_DIR", default_value = "/var/lib/cassandra")]
    pub data_dir: PathBuf,
    #[arg(long, value_enum, default_value = "password")]
    pub authenticator: Authenticator,
    /// Cassandra's `authorizer` (needs the password authenticator to mean anything).
    #[arg(
        long,
        value_enum,
        env = "CASSANDRA_AUTHORIZER",
        default_value = "AllowAllAuthorizer"
    )]
    pub authorizer: Authorizer,
    /// The default superuser created on first start.
    #[arg(long, default_value = "cassandra")]
    pub superuser_name: String,
    #[arg(
        long,
        env = "CCRSIM_SUPERUSER_PASSWORD",
        default_value = "cassandra",
        hide_env_values = true
    )]
    pub superuser_password: String,
    /// Cassandra's `commitlog_sync`.
    #[arg(long, value_enum, default_value = "periodic")]
    pub commitlog_sync: SyncMode,
    /// Cassandra's `commitlog_sync_period` in milliseconds (periodic mode).
    #[arg(long, default_value_t = 10_000)]
    pub commitlog_sync_period_ms: u64,
    /// Cassandra's `write_request_timeout` in milliseconds.
    #[arg(long, default_value_t = 2_000)]
    pub write_request_timeout_ms: u64,
    /// Cassandra's `read_request_timeout` in milliseconds.
    #[arg(long, default_value_t = 5_000)]
    pub read_request_timeout_ms: u64,
    /// Cassandra's `max_hint_window` in milliseconds (3 hours by default).
    #[arg(
        long,
        env = "CASSANDRA_MAX_HINT_WINDOW_MS",
        default_value_t = 10_800_000
    )]
    pub max_hint_window_ms: u64,
    /// Cassandra's `hinted_handoff_enabled`: whether a coordinator keeps
    /// hints for replicas that cannot take a write (`nodetool
    /// enablehandoff` and `disablehandoff` change it at runtime).
    #[arg(
        long,
        env = "CASSANDRA_HINTED_HANDOFF_ENABLED",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "true|false"
    )]
    pub hinted_handoff_enabled: bool,
    /// Cassandra's `hinted_handoff_throttle` in KiB a second (0: no limit),
    /// divided, as Cassandra does, among the other nodes of the cluster.
    /// Cassandra's default is 1024; ccrsim's is higher on purpose, so that
    /// small hints replay at 10 000 a second or more per target on a laptop.
    #[arg(
        long,
        env = "CASSANDRA_HINTED_HANDOFF_THROTTLE_KB",
        default_value_t = 16384
    )]
    pub hinted_handoff_throttle_kb: u64,
    /// Cassandra's `max_hints_delivery_threads`: how many replicas a node
    /// delivers hints to at once (at least 1).
    #[arg(
        long,
        env = "CASSANDRA_MAX_HINTS_DELIVERY_THREADS",
        default_value_t = 2
    )]
    pub max_hints_delivery_threads: usize,
    /// Opens the CQL port at once instead of waiting for gossip to settle
    /// (Cassandra's `-Dcassandra.skip_wait_for_gossip_to_settle=0`).
    #[arg(long, env = "CASSANDRA_SKIP_WAIT_FOR_GOSSIP_TO_SETTLE")]
    pub skip_wait_for_gossip_to_settle: bool,
    /// Memory for each table's memtable before it is flushed, in MiB (the
    /// part of Cassandra's `memtable_heap_space` one table may hold).
    #[arg(long, env = "CASSANDRA_MEMTABLE_HEAP_SPACE_MB", default_value_t = 64)]
    pub memtable_space_mb: u64,
    /// The storage's block cache, in MiB (Cassandra's `key_cache_size`).
    #[arg(long, env = "CASSANDRA_KEY_CACHE_SIZE_MB", default_value_t = 32)]
    pub cache_size_mb: u64,
    /// The size compaction makes each table on disk, in MiB (leveled
    /// compaction's `sstable_size_in_mb`); smaller tables, smaller
    /// compactions in memory.
    #[arg(long, env = "CASSANDRA_SSTABLE_SIZE_MB", default_value_t = 64)]
    pub sstable_size_mb: u64,
    /// Draws the node's tokens (and host id) from this seed mixed with its
    /// broadcast address, so that a cluster's ring can be replayed (first
    /// start only: tokens are kept in the data directory).
    #[arg(long, env = "CCRSIM_TOKEN_SEED")]
    pub token_seed: Option<u64>,
    /// Cassandra's `native_transport_max_frame_size`: the largest request
    /// frame, header included.
    #[arg(long, env = "CASSANDRA_NATIVE_TRANSPORT_MAX_FRAME_SIZE", default_value = "16MiB", value_parser = parse_size)]
    pub native_transport_max_frame_size: u64,
    /// The largest frame before the client has authenticated (ccrsim's;
    /// capped by the frame size).
    #[arg(long, env = "CCRSIM_NATIVE_TRANSPORT_MAX_PRE_AUTH_FRAME_SIZE", default_value = "128KiB", value_parser = parse_size)]
    pub native_transport_max_pre_auth_frame_size: u64,
    /// Cassandra's `native_transport_max_request_data_in_flight_per_ip`.
    #[arg(long, env = "CASSANDRA_NATIVE_TRANSPORT_MAX_REQUEST_DATA_IN_FLIGHT_PER_IP", default_value = "64MiB", value_parser = parse_size)]
    pub native_transport_max_request_data_in_flight_per_ip: u64,
    /// Cassandra's `native_transport_max_request_data_in_flight`.
    #[arg(long, env = "CASSANDRA_NATIVE_TRANSPORT_MAX_REQUEST_DATA_IN_FLIGHT", default_value = "256MiB", value_parser = parse_size)]
    pub native_transport_max_request_data_in_flight: u64,
    /// Cassandra's `native_transport_max_concurrent_connections` (-1: unlimited).
    #[arg(long, env = "CASSANDRA_NATIVE_TRANSPORT_MAX_CONCURRENT_CONNECTIONS", default_value_t = -1, allow_negative_numbers = true)]
    pub native_transport_max_concurrent_connections: i64,
    /// Cassandra's `native_transport_max_concurrent_connections_per_ip` (-1: unlimited).
    #[arg(long, env = "CASSANDRA_NATIVE_TRANSPORT_MAX_CONCURRENT_CONNECTIONS_PER_IP", default_value_t = -1, allow_negative_numbers = true)]
    pub native_transport_max_concurrent_connections_per_ip: i64,
    /// Cassandra's `batch_size_warn_threshold`.
    #[arg(long, env = "CASSANDRA_BATCH_SIZE_WARN_THRESHOLD", default_value = "5KiB", value_parser = parse_size)]
    pub batch_size_warn_threshold: u64,
    /// Cassandra's `batch_size_fail_threshold`.
    #[arg(long, env = "CASSANDRA_BATCH_SIZE_FAIL_THRESHOLD", default_value = "50KiB", value_parser = parse_size)]
    pub batch_size_fail_threshold: u64,
    /// Cassandra's `unlogged_batch_across_partitions_warn_threshold`.
    #[arg(
        long,
        env = "CASSANDRA_UNLOGGED_BATCH_ACROSS_PARTITIONS_WARN_THRESHOLD",
        default_value_t = 10
    )]
    pub unlogged_batch_across_partitions_warn_threshold: u64,
}

/// A data size in cassandra.yaml's notation: a non-negative integer and a
/// unit, `B`, `KiB`, `MiB` or `GiB` (case matters, as in Cassandra 4.1).
pub fn parse_size(value: &str) -> Result<u64, String> {
    let v = value.trim();
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = v.split_at(digits);
    let scale: u64 = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|_| scale > 0)
        .and_then(|n| n.checked_mul(scale))
        .ok_or_else(|| {
            format!(
                "invalid data storage '{value}': a non-negative integer and one of the units B, KiB, MiB, GiB (case matters), e.g. 16MiB"
            )
        })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid {what} '{value}': {reason}")]
    Address {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("invalid setting: {0}")]
    Invalid(String),
}

/// Hinted handoff's settings, under Cassandra's names in cassandra.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HintConfig {
    /// `hinted_handoff_enabled`: whether hints are kept at all.
    pub enabled: bool,
    /// `hinted_handoff_throttle` in KiB a second (0: no limit), divided
    /// among the other nodes of the cluster.
    pub throttle_kib: u64,
    /// `max_hints_delivery_threads`: replicas delivered to at once (≥ 1).
    pub max_delivery_threads: usize,
}

impl Default for HintConfig {
    /// Enabled, 16384 KiB/s (Cassandra's default is 1024), two threads.
    fn default() -> Self {
        HintConfig {
            enabled: true,
            throttle_kib: 16384,
            max_delivery_threads: 2,
        }
    }
}

/// A node's resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub cluster_name: String,
    pub dc: String,
    pub rack: String,
    pub seeds: Vec<IpAddr>,
    pub listen_address: IpAddr,
    pub broadcast_address: IpAddr,
    pub rpc_address: IpAddr,
    pub broadcast_rpc_address: IpAddr,
    pub num_tokens: u16,
    pub endpoint_snitch: String,
    pub cql_port: u16,
    pub storage_port: u16,
    pub data_dir: PathBuf,
    pub authenticator: Authenticator,
    pub authorizer: Authorizer,
    pub superuser_name: String,
    pub superuser_password: String,
    pub commitlog_sync: CommitlogSync,
    pub write_request_timeout: Duration,
    pub read_request_timeout: Duration,
    pub max_hint_window: Duration,
    /// Hinted handoff: on or off, throttle, delivery threads.
    pub hints: HintConfig,
    /// Serve clients before gossip has settled.
    pub skip_wait_for_gossip_to_settle: bool,
    /// Seeds the random token draw (mixed with the broadcast address).
    pub token_seed: Option<u64>,
    /// Frame size, bytes in flight and connection limits.
    pub transport: TransportLimits,
    /// Batch size and spread guards.
    pub batch: BatchLimits,
    /// Memory the storage may hold.
    pub storage: StorageLimits,
}

impl NodeConfig {
    /// The seed of this node's token draw, if the ring is seeded: the
    /// cluster's seed mixed with the node's own address, so that nodes
    /// sharing a seed still draw different tokens.
    pub fn identity_seed(&self) -> Option<u64> {
        let ip = match self.broadcast_address {
            IpAddr::V4(v) => v.to_ipv6_mapped().octets(),
            IpAddr::V6(v) => v.octets(),
        };
        self.token_seed.map(|s| {
            ip.iter().fold(s ^ 0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            })
        })
    }

    /// A single-node configuration on `addr`:9042 with Cassandra's defaults
    /// (password authentication as cassandra/cassandra, periodic commit log),
    /// for tests and benchmarks that run nodes in-process.
    pub fn local(addr: IpAddr, data_dir: &std::path::Path) -> NodeConfig {
        NodeConfig {
            cluster_name: "Test Cluster".into(),
            dc: "datacenter1".into(),
            rack: "rack1".into(),
            seeds: vec![addr],
            listen_address: addr,
            broadcast_address: addr,
            rpc_address: addr,
            broadcast_rpc_address: addr,
            num_tokens: 16,
            endpoint_snitch: "SimpleSnitch".into(),
            cql_port: 9042,
            storage_port: 7000,
            data_dir: data_dir.to_path_buf(),
            authenticator: Authenticator::Password,
            authorizer: Authorizer::AllowAll,
            superuser_name: "cassandra".into(),
            superuser_password: "cassandra".into(),
            commitlog_sync: CommitlogSync::default(),
            write_request_timeout: Duration::from_secs(2),
            read_request_timeout: Duration::from_secs(5),
            max_hint_window: Duration::from_secs(3 * 3600),
            hints: HintConfig::default(),
            skip_wait_for_gossip_to_settle: false,
            token_seed: None,
            transport: TransportLimits::default(),
            batch: BatchLimits::default(),
            storage: StorageLimits::default(),
        }
    }
}

fn parse_addr(what: &'static str, value: &str) -> Result<IpAddr, ConfigError> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("auto") {
        return Ok(own_address());
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Ok(ip);
    }
    // A host name, as Docker users give container names.
    (v, 0)
        .to_socket_addrs()
        .map_err(|e| ConfigError::Address {
            what,
            value: v.to_string(),
            reason: e.to_string(),
        })?
        .map(|a: SocketAddr| a.ip())
        .find(IpAddr::is_ipv4)
        .ok_or_else(|| ConfigError::Address {
            what,
            value: v.to_string(),
            reason: "no IPv4 address".into(),
        })
}

/// The address this host's name resolves to (a container's own interface),
/// or 127.0.0.1.
pub fn own_address() -> IpAddr {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let host = host.trim();
    if !host.is_empty()
        && let Ok(addrs) = (host, 0).to_socket_addrs()
    {
        for a in addrs {
            if a.ip().is_ipv4() && !a.ip().is_loopback() {
                return a.ip();
            }
        }
    }
    IpAddr::V4(Ipv4Addr::LOCALHOST)
}

impl NodeArgs {
    pub fn resolve(&self) -> Result<NodeConfig, ConfigError> {
        let listen_address = parse_addr("listen address", &self.listen_address)?;
        let opt = |what, v: &Option<String>, default: IpAddr| match v {
            Some(s) if !s.trim().is_empty() => parse_addr(what, s),
            _ => Ok(default),
        };
        let broadcast_address = opt("broadcast address", &self.broadcast_address, listen_address)?;
        let rpc_address = opt("rpc address", &self.rpc_address, listen_address)?;
        let broadcast_rpc_address = opt(
            "broadcast rpc address",
            &self.broadcast_rpc_address,
            if rpc_address.is_unspecified() {
                broadcast_address
            } else {
                rpc_address
            },
        )?;
        let mut seeds = Vec::new();
        for s in self.seeds.iter().filter(|s| !s.trim().is_empty()) {
            // Seeds may carry a storage port (`10.0.0.1:7000`), as in cassandra.yaml.
            let host = s
                .trim()
                .rsplit_once(':')
                .filter(|(_, p)| p.parse::<u16>().is_ok())
                .map_or(s.trim(), |(h, _)| h);
            seeds.push(parse_addr("seed", host)?);
        }
        if seeds.is_empty() {
            seeds.push(broadcast_address);
        }
        if self.num_tokens == 0 {
            return Err(ConfigError::Invalid("num_tokens must be at least 1".into()));
        }
        if self.dc.trim().is_empty() || self.rack.trim().is_empty() {
            return Err(ConfigError::Invalid(
                "datacenter and rack must not be empty".into(),
            ));
        }
        if self.max_hints_delivery_threads == 0 {
            return Err(ConfigError::Invalid(
                "max_hints_delivery_threads must be at least 1".into(),
            ));
        }
        if self.native_transport_max_frame_size >= 2048 << 20 {
            return Err(ConfigError::Invalid(
                "native_transport_max_frame_size must be smaller than 2048MiB".into(),
            ));
        }
        let commitlog_sync = match self.commitlog_sync {
            SyncMode::Batch => CommitlogSync::Batch,
            SyncMode::Periodic => {
                CommitlogSync::Periodic(Duration::from_millis(self.commitlog_sync_period_ms.max(1)))
            }
        };
        Ok(NodeConfig {
            cluster_name: self.cluster_name.clone(),
            dc: self.dc.clone(),
            rack: self.rack.clone(),
            seeds,
            listen_address,
            broadcast_address,
            rpc_address,
            broadcast_rpc_address,
            num_tokens: self.num_tokens,
            endpoint_snitch: self.endpoint_snitch.clone(),
            cql_port: self.cql_port,
            storage_port: self.storage_port,
            data_dir: self.data_dir.clone(),
            authenticator: self.authenticator,
            authorizer: self.authorizer,
            superuser_name: self.superuser_name.clone(),
            superuser_password: self.superuser_password.clone(),
            commitlog_sync,
            write_request_timeout: Duration::from_millis(self.write_request_timeout_ms.max(1)),
            read_request_timeout: Duration::from_millis(self.read_request_timeout_ms.max(1)),
            max_hint_window: Duration::from_millis(self.max_hint_window_ms),
            hints: HintConfig {
                enabled: self.hinted_handoff_enabled,
                throttle_kib: self.hinted_handoff_throttle_kb,
                max_delivery_threads: self.max_hints_delivery_threads,
            },
            skip_wait_for_gossip_to_settle: self.skip_wait_for_gossip_to_settle,
            token_seed: self.token_seed,
            transport: TransportLimits {
                max_frame_size: self.native_transport_max_frame_size,
                max_pre_auth_frame_size: self.native_transport_max_pre_auth_frame_size,
                max_request_data_in_flight_per_ip: self
                    .native_transport_max_request_data_in_flight_per_ip,
                max_request_data_in_flight: self.native_transport_max_request_data_in_flight,
                max_concurrent_connections: self.native_transport_max_concurrent_connections,
                max_concurrent_connections_per_ip: self
                    .native_transport_max_concurrent_connections_per_ip,
            },
            batch: BatchLimits {
                warn_threshold: self.batch_size_warn_threshold,
                fail_threshold: self.batch_size_fail_threshold,
                unlogged_partitions_warn_threshold: self
                    .unlogged_batch_across_partitions_warn_threshold,
            },
            storage: StorageLimits {
                memtable_bytes: self.memtable_space_mb.max(1) << 20,
                cache_bytes: self.cache_size_mb << 20,
                table_bytes: self.sstable_size_mb.max(1) << 20,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        node: NodeArgs,
    }

    fn parse(args: &[&str]) -> Result<NodeConfig, ConfigError> {
        let mut argv = vec!["t"];
        argv.extend_from_slice(args);
        T::try_parse_from(argv).unwrap().node.resolve()
    }

    #[test]
    fn storage_limits_come_from_flags() {
        let c = parse(&["--listen-address", "127.0.1.1"]).unwrap();
        assert_eq!(c.storage, StorageLimits::default());
        let c = parse(&[
            "--listen-address",
            "127.0.1.1",
            "--memtable-space-mb",
            "8",
            "--cache-size-mb",
            "2",
            "--sstable-size-mb",
            "16",
        ])
        .unwrap();
        assert_eq!(
            c.storage,
            StorageLimits {
                memtable_bytes: 8 << 20,
                cache_bytes: 2 << 20,
                table_bytes: 16 << 20,
            }
        );
    }

    #[test]
    fn flags_resolve_with_cassandra_defaults() {
        let c = parse(&[
            "--listen-address",
            "127.0.1.1",
            "--dc",
            "dc1",
            "--seeds",
            "127.0.1.1:7000,127.0.2.1",
            "--data-dir",
            "/tmp/x",
        ])
        .unwrap();
        assert_eq!(c.listen_address, "127.0.1.1".parse::<IpAddr>().unwrap());
        assert_eq!(c.broadcast_rpc_address, c.listen_address);
        assert_eq!(c.seeds.len(), 2);
        assert_eq!(
            (
                c.cluster_name.as_str(),
                c.rack.as_str(),
                c.num_tokens,
                c.cql_port
            ),
            ("Test Cluster", "rack1", 16, 9042)
        );
        let solo = parse(&["--listen-address", "127.0.3.1"]).unwrap();
        assert_eq!(
            solo.seeds,
            vec![solo.listen_address],
            "a lone node seeds itself"
        );
        assert!(parse(&["--listen-address", "no.such.host.invalid"]).is_err());
        assert!(parse(&["--num-tokens", "0", "--listen-address", "127.0.0.1"]).is_err());
        assert!(!own_address().is_unspecified());
    }

    #[test]
    fn limits_take_cassandras_names_and_size_notation() {
        let c = parse(&["--listen-address", "127.0.0.1"]).unwrap();
        assert_eq!(
            (c.transport, c.batch),
            (TransportLimits::default(), BatchLimits::default())
        );
        assert_eq!(
            (c.transport.max_frame_size, c.batch.fail_threshold),
            (16 << 20, 50 << 10)
        );
        let c = parse(&[
            "--listen-address",
            "127.0.0.1",
            "--native-transport-max-frame-size",
            "1MiB",
            "--native-transport-max-pre-auth-frame-size",
            "4096B",
            "--native-transport-max-concurrent-connections-per-ip",
            "8",
            "--native-transport-max-concurrent-connections",
            "-1",
            "--batch-size-warn-threshold",
            "1KiB",
            "--unlogged-batch-across-partitions-warn-threshold",
            "3",
        ])
        .unwrap();
        assert_eq!(c.transport.max_frame_size, 1 << 20);
        assert_eq!(c.transport.max_pre_auth_frame_size, 4096);
        assert_eq!(c.transport.max_concurrent_connections_per_ip, 8);
        assert_eq!(c.transport.max_concurrent_connections, -1);
        assert_eq!(
            (
                c.batch.warn_threshold,
                c.batch.unlogged_partitions_warn_threshold
            ),
            (1024, 3)
        );
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("0B"), Ok(0));
        for bad in [
            "16",
            "16mib",
            "16 MiB",
            "-1MiB",
            "MiB",
            "99999999999999999999GiB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        let mut argv = vec!["t", "--listen-address", "127.0.0.1"];
        argv.extend(["--batch-size-fail-threshold", "50kb"]);
        assert!(
            T::try_parse_from(argv).is_err(),
            "a bad size is a usage error"
        );
        assert!(
            parse(&[
                "--listen-address",
                "127.0.0.1",
                "--native-transport-max-frame-size",
                "2GiB"
            ])
            .is_err()
        );
    }

    #[test]
    fn hinted_handoff_takes_cassandras_settings() {
        let c = parse(&["--listen-address", "127.0.0.1"]).unwrap();
        assert_eq!(c.hints, HintConfig::default());
        assert_eq!(
            (
                c.hints.enabled,
                c.hints.throttle_kib,
                c.hints.max_delivery_threads
            ),
            (true, 16384, 2)
        );
        assert_eq!(
            c.hints,
            NodeConfig::local(c.listen_address, &c.data_dir).hints
        );
        let c = parse(&[
            "--listen-address",
            "127.0.0.1",
            "--hinted-handoff-enabled",
            "false",
            "--hinted-handoff-throttle-kb",
            "0",
            "--max-hints-delivery-threads",
            "8",
            "--max-hint-window-ms",
            "60000",
        ])
        .unwrap();
        assert_eq!(
            c.hints,
            HintConfig {
                enabled: false,
                throttle_kib: 0,
                max_delivery_threads: 8
            }
        );
        assert_eq!(c.max_hint_window, Duration::from_secs(60));
        let on = parse(&[
            "--listen-address",
            "127.0.0.1",
            "--hinted-handoff-enabled",
            "true",
        ]);
        assert!(on.unwrap().hints.enabled);
        let mut argv = vec!["t", "--listen-address", "127.0.0.1"];
        argv.extend(["--hinted-handoff-enabled", "maybe"]);
        assert!(T::try_parse_from(argv).is_err(), "true or false only");
    }

    #[test]
    fn zero_hint_delivery_threads_is_refused() {
        let err = parse(&[
            "--listen-address",
            "127.0.0.1",
            "--max-hints-delivery-threads",
            "0",
        ])
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Invalid("max_hints_delivery_threads must be at least 1".into())
        );
        assert_eq!(
            err.to_string(),
            "invalid setting: max_hints_delivery_threads must be at least 1"
        );
    }

    #[test]
    fn a_token_seed_is_per_node_and_replayable() {
        let a = parse(&["--listen-address", "127.0.0.1", "--token-seed", "42"]).unwrap();
        let b = parse(&["--listen-address", "127.0.0.2", "--token-seed", "42"]).unwrap();
        let a2 = parse(&["--listen-address", "127.0.0.1", "--token-seed", "42"]).unwrap();
        assert_eq!(a.identity_seed(), a2.identity_seed());
        assert_ne!(a.identity_seed(), b.identity_seed());
        let unseeded = parse(&["--listen-address", "127.0.0.1"]).unwrap();
        assert_eq!(unseeded.identity_seed(), None);
    }
}
