//! A running node: storage, engine, membership and CQL listener, assembled,
//! started and stopped as one value, so a test or the control plane can run
//! many in one process and `ccrsim node` is a thin wrapper. The pieces live
//! in their rooms; the connection protocol is
//! [`transport::connection`](crate::node::transport::connection).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::broadcast;

use crate::node::cluster::gossip::{AppState, Status};
use crate::node::cluster::hints::HintedHandoff;
use crate::node::cluster::member::{GossipSettings, Member, Timeouts};
use crate::node::cluster::transport::Faults;
use crate::node::config::{Authenticator, Authorizer, HintConfig, NodeConfig};
use crate::node::cql::exec::{Engine, EngineConfig};
use crate::node::db::storage::Storage;
use crate::node::db::system::{NodeInfo, RELEASE_VERSION};
use crate::node::locator::ring::LocalIdentity;
use crate::node::transport::connection::Dispatch;
use crate::node::transport::server::CqlServer;

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot open the data directory {dir}: {reason}")]
    Storage { dir: String, reason: String },
    #[error("cannot listen for CQL clients on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Start(String),
}

/// The cluster side's hinted-handoff settings, from the node's.
fn handoff(h: HintConfig) -> HintedHandoff {
    HintedHandoff {
        enabled: h.enabled,
        throttle_kib: h.throttle_kib,
        max_delivery_threads: h.max_delivery_threads,
    }
}

/// A started node.
pub struct Node {
    pub engine: Arc<Engine>,
    pub cql_addr: SocketAddr,
    pub member: Member,
    server: CqlServer,
}

impl Node {
    /// Opens the data directory, loads or creates the node's identity and
    /// schema, and starts listening for CQL clients.
    pub async fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        Self::start_with(cfg, Arc::new(Faults::default()), GossipSettings::default()).await
    }

    /// Starts with a test network (`faults`) and gossip timing of the caller's choice.
    pub async fn start_with(
        cfg: NodeConfig,
        faults: Arc<Faults>,
        gossip: GossipSettings,
    ) -> Result<Node, NodeError> {
        let gossip_settings = gossip;
        let dir = cfg.data_dir.clone();
        let sync = cfg.commitlog_sync;
        let limits = cfg.storage;
        let num_tokens = cfg.num_tokens;
        let seed = cfg.identity_seed();
        let storage = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| NodeError::Storage {
                dir: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let storage =
                Storage::open_with(&dir, sync, limits).map_err(|e| NodeError::Storage {
                    dir: dir.display().to_string(),
                    reason: e.to_string(),
                })?;
            let identity = LocalIdentity::load_or_create(&storage, num_tokens, seed)
                .map_err(|e| NodeError::Start(format!("node identity: {e}")))?;
            Ok::<_, NodeError>((storage, identity))
        })
        .await
        .map_err(|e| NodeError::Start(e.to_string()))??;
        let (storage, identity) = storage;
        let identity_tokens = identity.tokens.clone();
        let info = NodeInfo {
            host_id: identity.host_id,
            datacenter: cfg.dc.clone(),
            rack: cfg.rack.clone(),
            listen_address: cfg.listen_address,
            listen_port: cfg.storage_port,
            broadcast_address: cfg.broadcast_address,
            rpc_address: cfg.broadcast_rpc_address,
            native_port: cfg.cql_port,
            tokens: identity_tokens,
            schema_version: [0; 16],
            release_version: RELEASE_VERSION.to_string(),
        };
        let ecfg = EngineConfig {
            cluster_name: cfg.cluster_name.clone(),
            auth_enabled: cfg.authenticator == Authenticator::Password,
            authorization: cfg.authenticator == Authenticator::Password
                && cfg.authorizer == Authorizer::Cassandra,
            superuser_name: cfg.superuser_name.clone(),
            superuser_password: cfg.superuser_password.clone(),
            batch_limits: cfg.batch,
        };
        let storage = Arc::new(storage);
        let engine = tokio::task::spawn_blocking(move || Engine::open(storage, info, ecfg))
            .await
            .map_err(|e| NodeError::Start(e.to_string()))?
            .map_err(|e| NodeError::Start(e.to_string()))?;
        let engine = Arc::new(engine);
        let addr = SocketAddr::new(cfg.rpc_address, cfg.cql_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| NodeError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        let (events, _) = broadcast::channel(256);
        let app = AppState {
            host_id: identity.host_id,
            datacenter: cfg.dc.clone(),
            rack: cfg.rack.clone(),
            tokens: identity.tokens.clone(),
            status: Status::Normal,
            schema_version: engine.schema().version(),
            rpc_address: cfg.broadcast_rpc_address,
            native_port: cfg.cql_port,
            release_version: RELEASE_VERSION.to_string(),
            load: 0,
        };
        let seeds = if cfg.seeds.is_empty() {
            vec![cfg.listen_address]
        } else {
            cfg.seeds.clone()
        };
        let member = Member::start(
            engine.clone(),
            cfg.listen_address,
            cfg.storage_port,
            app,
            seeds,
            gossip,
            faults,
            events.clone(),
            Timeouts {
                write: cfg.write_request_timeout,
                read: cfg.read_request_timeout,
                max_hint_window: cfg.max_hint_window,
                hints: handoff(cfg.hints),
            },
        )
        .await
        .map_err(|e| NodeError::Listen {
            addr: SocketAddr::new(cfg.listen_address, cfg.storage_port),
            reason: e.to_string(),
        })?;
        if !cfg.skip_wait_for_gossip_to_settle {
            let alone_ok = cfg.seeds.is_empty()
                || cfg.seeds.contains(&cfg.listen_address)
                || cfg.seeds.contains(&cfg.broadcast_address);
            let took = member.core.wait_to_settle(alone_ok, gossip_settings).await;
            tracing::info!("Gossip settled after {} ms; proceeding", took.as_millis());
        }
        let dispatch = Arc::new(Dispatch::new(engine.clone(), events, member.core.clone()));
        let server =
            CqlServer::start(listener, dispatch, cfg.transport).map_err(|e| NodeError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        let cql_addr = server.addr;
        tracing::info!(
            "Starting listening for CQL clients on /{}:{} (unencrypted)...",
            cql_addr.ip(),
            cql_addr.port()
        );
        Ok(Node {
            engine,
            cql_addr,
            member,
            server,
        })
    }

    /// Request bytes the node holds for clients at `ip`, and for all
    /// (`native_transport_max_request_data_in_flight[_per_ip]`).
    pub fn bytes_in_flight(&self, ip: std::net::IpAddr) -> (u64, u64) {
        self.server.bytes_in_flight(ip)
    }

    /// Client connections open, and how many of them are paused by
    /// backpressure (Cassandra's `connectedNativeClients` and `PausedConnections`).
    pub fn client_connections(&self) -> (u64, u64) {
        (self.server.connections(), self.server.paused_connections())
    }

    /// Stops accepting clients, lets requests in flight finish, flushes storage.
    pub async fn stop(self) {
        self.member.stop().await;
        self.server.shutdown().await;
        let storage = self.engine.storage.clone();
        let _ = tokio::task::spawn_blocking(move || storage.flush()).await;
    }
}
