//! # The Docker runtime: services' nodes as containers
//!
//! `ccrsim serve --runtime docker` (and `ccrsim up --runtime docker`) runs
//! each service's nodes as containers of the `ccrsim-node` image instead of
//! inside the daemon, behind the same API and CLI. The control plane's
//! layout gives node `i` of the service in slot `k` the address
//! `172.29.k.i`; the runtime puts the container exactly there, on the
//! network `ccrsim-services` (`172.29.0.0/16`, created when missing), so the
//! addresses the API reports are the ones clients, `cqlsh` and `ccr verify`
//! reach from the host. Each node keeps its data in a named volume, so
//! power off/on and daemon restarts find it again.
//!
//! The runtime talks to nodes only as a user or an operator would: CQL
//! through the scylla driver as `avnadmin` (altering keyspaces when a
//! service joins or leaves a pair) and `nodetool` over the internode port
//! (`status` for health, `rebuild` to stream the existing datacenter's data
//! into a joining one, `decommission` when nodes leave). What joining and
//! leaving do to the keyspaces is [`crate::runtime::plans`], shared with the
//! in-process runtime.
//!
//! A task per service polls `nodetool status` on each node: a node is
//! `running` while it answers, sees every node of its service up, and the
//! service is not joining. `ccr link` and `ccr split` need the in-process
//! runtime's simulated network; here they answer an error that says so.

pub mod image;

use crate::runtime::join;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig,
    NetworkCreateRequest, NetworkingConfig,
};
use testcontainers::bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, RemoveVolumeOptions,
    StopContainerOptions,
};

use crate::control::model::{ADMIN_USER, NodeLayout, Service};
use crate::control::runtime::{
    Inspection, NodeRuntime, NodeState, NodeStatus, Peer, ProgressUpdate, RuntimeError, StopFuture,
};
use crate::replication::KeyspaceInfo;
use crate::runtime::docker::image::{Flavor, HarnessError, NodeImage, ensure_image};
use crate::runtime::plans::keyspace_info;

/// The network of every service's containers.
pub const NETWORK: &str = "ccrsim-services";
/// Its subnet; node addresses are `172.29.{slot}.{i}`.
pub const SUBNET: &str = "172.29.0.0/16";
const BASE: [u8; 2] = [172, 29];
const STORAGE_PORT: u16 = 7000;

fn err(message: impl Into<String>) -> RuntimeError {
    RuntimeError {
        runtime: "docker",
        message: message.into(),
    }
}

#[derive(Default)]
struct View {
    addrs: Vec<IpAddr>,
    powered: bool,
    /// What each node's `nodetool status` showed up (`None`: no answer).
    up: Vec<Option<BTreeSet<IpAddr>>>,
    /// Bumped whenever `up` is reset (nodes started or stopped): a poll
    /// that began before does not write its stale answers.
    generation: u64,
    /// While joining or bootstrapping: the progress every node shows.
    joining: Option<Vec<ProgressUpdate>>,
    /// Why a node is not running, when the runtime knows.
    errors: Vec<Option<String>>,
}

struct Managed {
    /// One reconciliation at a time.
    work: tokio::sync::Mutex<()>,
    view: Mutex<View>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Runs services' nodes as Docker containers.
pub struct DockerRuntime {
    docker: Docker,
    image: NodeImage,
    root: PathBuf,
    /// Names this daemon's containers apart from another daemon's.
    tag: String,
    handle: tokio::runtime::Handle,
    services: Mutex<HashMap<String, Arc<Managed>>>,
}

impl DockerRuntime {
    /// Connects to Docker, makes sure the node image and the network exist.
    /// Keeps its own files under `state_dir/docker`.
    pub async fn new(state_dir: &Path, image: NodeImage) -> Result<DockerRuntime, HarnessError> {
        if image.flavor != Flavor::Ccrsim {
            return Err(HarnessError::Invalid(format!(
                "the docker runtime runs ccrsim-node images; {} is Apache Cassandra, which the test harness (ccrsim::testkit::Cluster) can run instead",
                image.reference()
            )));
        }
        let docker = crate::runtime::docker::image::docker().await?;
        ensure_image(&docker, &image).await?;
        ensure_network(&docker).await?;
        Ok(DockerRuntime {
            docker,
            image,
            root: state_dir.join("docker"),
            tag: tag(state_dir),
            handle: tokio::runtime::Handle::current(),
            services: Mutex::new(HashMap::new()),
        })
    }

    fn key(s: &Service) -> String {
        format!("{}/{}", s.project, s.name)
    }

    /// The addresses of the service's nodes, as last laid out.
    fn node_addrs(&self, service: &Service) -> Vec<IpAddr> {
        self.managed(service)
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .addrs
            .clone()
    }

    fn managed(&self, s: &Service) -> Arc<Managed> {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(Self::key(s))
            .or_insert_with(|| {
                Arc::new(Managed {
                    work: tokio::sync::Mutex::new(()),
                    view: Mutex::new(View::default()),
                    poller: Mutex::new(None),
                })
            })
            .clone()
    }

    fn dir(&self, s: &Service) -> PathBuf {
        self.root.join(&s.project).join(&s.name)
    }

    /// The container (and volume) name of node `i` of a service.
    pub fn container_name(&self, project: &str, service: &str, i: u32) -> String {
        format!("ccrsim-{}-{project}-{service}-{i}", self.tag)
    }

    /// The Docker label of this daemon's containers (`docker ps --filter
    /// label=...`).
    pub fn label(&self) -> String {
        format!("org.ccrsim.daemon={}", self.tag)
    }

    /// Stops every container of every service (daemon shutdown); data kept.
    pub async fn stop_all(&self) {
        let all: Vec<Arc<Managed>> = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for m in &all {
            if let Some(p) = m.poller.lock().unwrap_or_else(|e| e.into_inner()).take() {
                p.abort();
            }
        }
        let mine = self.containers(None).await;
        let stops = mine.iter().map(|(name, _)| self.stop(name));
        futures_util::future::join_all(stops).await;
    }

    async fn stop(&self, name: &str) {
        let _ = self
            .docker
            .stop_container(
                name,
                Some(StopContainerOptions {
                    t: Some(30),
                    signal: None,
                }),
            )
            .await;
    }

    /// This daemon's containers (of one service, or all): name and index.
    async fn containers(&self, service: Option<&Service>) -> Vec<(String, u32)> {
        let mut filters = HashMap::new();
        let mut labels = vec![format!("org.ccrsim.daemon={}", self.tag)];
        if let Some(s) = service {
            labels.push(format!("org.ccrsim.service={}", Self::key(s)));
        }
        filters.insert("label".to_string(), labels);
        let list = self
            .docker
            .list_containers(Some(ListContainersOptions {
                all: true,
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        list.into_iter()
            .filter_map(|c| {
                let name = c.names?.first()?.trim_start_matches('/').to_string();
                let index = c.labels?.get("org.ccrsim.index")?.parse().ok()?;
                Some((name, index))
            })
            .collect()
    }

    async fn create(
        &self,
        service: &Service,
        node: &NodeLayout,
        seeds: &[IpAddr],
        cluster: &str,
    ) -> Result<(), String> {
        let name = self.container_name(&service.project, &service.name, node.index);
        // A volume without its container is left over (a state directory
        // deleted, a daemon killed while removing a service): a new node
        // starts empty, as a new Aiven node does.
        let _ = self
            .docker
            .remove_volume(&name, Some(RemoveVolumeOptions { force: true }))
            .await;
        let seeds: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
        let env = vec![
            format!("CASSANDRA_CLUSTER_NAME={cluster}"),
            format!("CASSANDRA_DC={}", service.datacenter),
            format!("CASSANDRA_RACK={}", node.rack),
            format!("CASSANDRA_SEEDS={}", seeds.join(",")),
            format!("CASSANDRA_LISTEN_ADDRESS={}", node.address),
            "CASSANDRA_ENDPOINT_SNITCH=GossipingPropertyFileSnitch".into(),
            format!("CCRSIM_SUPERUSER_PASSWORD={}", service.admin_password),
            // A managed service checks permissions, as Aiven's do.
            "CASSANDRA_AUTHORIZER=CassandraAuthorizer".into(),
        ];
        let labels = HashMap::from([
            ("org.ccrsim.daemon".to_string(), self.tag.clone()),
            ("org.ccrsim.service".to_string(), Self::key(service)),
            ("org.ccrsim.index".to_string(), node.index.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(self.image.reference()),
            hostname: Some(node.name.clone()),
            env: Some(env),
            cmd: Some(vec![
                "node".into(),
                "--superuser-name".into(),
                ADMIN_USER.into(),
            ]),
            labels: Some(labels),
            host_config: Some(HostConfig {
                binds: Some(vec![format!("{name}:/var/lib/cassandra")]),
                network_mode: Some(NETWORK.into()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    NETWORK.to_string(),
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(node.address.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        self.docker
            .create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            )
            .await
            .map_err(|e| format!("cannot create {name}: {e}"))?;
        Ok(())
    }

    async fn remove_container(&self, name: &str) {
        let _ = self
            .docker
            .remove_container(
                name,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
        let _ = self
            .docker
            .remove_volume(name, Some(RemoveVolumeOptions { force: true }))
            .await;
    }

    fn start_poller(self: &Arc<Self>, m: &Arc<Managed>) {
        let mut p = m.poller.lock().unwrap_or_else(|e| e.into_inner());
        if p.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let m = m.clone();
        *p = Some(self.handle.spawn(async move {
            loop {
                let addrs = m
                    .view
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .addrs
                    .clone();
                let polls = addrs.iter().map(|a| up_as_seen_by(*a));
                let seen = futures_util::future::join_all(polls).await;
                {
                    let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
                    if v.addrs == addrs {
                        v.up = seen;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }));
    }

    async fn reconcile(
        self: Arc<Self>,
        service: Service,
        layout: Vec<NodeLayout>,
        peer: Option<Peer>,
    ) {
        let m = self.managed(&service);
        let _work = m.work.lock().await;
        let addrs: Vec<IpAddr> = layout.iter().map(|n| IpAddr::V4(n.address)).collect();
        {
            let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
            if v.addrs != addrs || v.powered != service.powered {
                v.up = vec![None; addrs.len()];
                v.generation += 1;
            }
            v.addrs = addrs.clone();
            v.powered = service.powered;
            v.errors = vec![None; addrs.len()];
        }
        self.start_poller(&m);
        let existing = self.containers(Some(&service)).await;
        // Nodes beyond the layout (a smaller plan) leave the ring, streaming
        // their data to the nodes that take their ranges, then go away.
        for (name, index) in existing.iter().filter(|(_, i)| *i as usize > layout.len()) {
            if let Some(ip) = container_ip(&self.docker, name).await
                && let Err(e) = nodetool(ip, &["decommission"]).await
            {
                tracing::warn!(service = %service.name, "decommission of node {index}: {e}");
            }
            self.remove_container(name).await;
        }
        if !service.powered {
            for (name, _) in &existing {
                Self::stop(&self, name).await;
            }
            return;
        }
        let base = self.dir(&service);
        let cluster = crate::runtime::cluster_name(&base, &service).await;
        let must_join = join::pending(&base, &service, peer.as_ref()).await;
        if must_join.is_some() {
            m.view.lock().unwrap_or_else(|e| e.into_inner()).joining =
                Some(crate::runtime::join::join_steps("prepare", 0, 1));
        }
        let had: BTreeSet<u32> = existing.iter().map(|(_, i)| *i).collect();
        let bootstrap: Vec<usize> = if had.is_empty() {
            Vec::new()
        } else {
            (0..layout.len())
                .filter(|i| !had.contains(&layout[*i].index))
                .collect()
        };
        let mut seeds = vec![addrs[0]];
        if let Some(p) = peer.as_ref().and_then(|p| p.nodes.first()) {
            seeds.push(IpAddr::V4(p.address));
        }
        for (i, node) in layout.iter().enumerate() {
            let name = self.container_name(&service.project, &service.name, node.index);
            if !had.contains(&node.index)
                && let Err(e) = self.create(&service, node, &seeds, &cluster).await
            {
                tracing::error!(service = %service.name, "{e}");
                m.view.lock().unwrap_or_else(|e| e.into_inner()).errors[i] = Some(e);
                continue;
            }
            match self.docker.start_container(&name, None).await {
                Ok(()) => {
                    // Started now: not up until it says so.
                    let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
                    v.up[i] = None;
                    v.generation += 1;
                }
                // 304: it was running already.
                Err(e) if e.to_string().contains("304") => {}
                Err(e) => {
                    let e = format!("cannot start {name}: {e}");
                    tracing::error!(service = %service.name, "{e}");
                    m.view.lock().unwrap_or_else(|e| e.into_inner()).errors[i] = Some(e);
                }
            }
        }
        let show = |steps| m.view.lock().unwrap_or_else(|e| e.into_inner()).joining = steps;
        if !bootstrap.is_empty() {
            let new: Vec<IpAddr> = bootstrap.iter().map(|i| addrs[*i]).collect();
            let dc = Remote::new(&addrs, &service);
            join::grow(&dc, &service.name, &addrs, &service.datacenter, &new, show).await;
        }
        // Through the existing datacenter, which holds the roles.
        if let Some(peer) = must_join {
            let theirs = join::addresses(&peer.nodes);
            let dc = Remote::new(&theirs, &peer.service);
            if let Err(e) = join::join_once(&dc, &base, &service, &addrs, peer, show).await {
                let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
                for s in v.errors.iter_mut() {
                    *s = Some(e.clone());
                }
            }
        }
    }
}

/// A datacenter of containers, for the [`join`] steps: statements run
/// through a driver session to `via` as that service's `avnadmin`, and
/// each node is asked through its admin port (`nodetool`).
struct Remote<'a> {
    via: &'a [IpAddr],
    service: &'a Service,
    session: tokio::sync::OnceCell<Session>,
}

impl<'a> Remote<'a> {
    fn new(via: &'a [IpAddr], service: &'a Service) -> Remote<'a> {
        Remote {
            via,
            service,
            session: tokio::sync::OnceCell::new(),
        }
    }

    async fn session(&self) -> Result<&Session, String> {
        self.session
            .get_or_try_init(|| connect(self.via, self.service))
            .await
    }
}

impl join::Datacenter for Remote<'_> {
    async fn await_up(
        &self,
        want: &[IpAddr],
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        // Every node sees every other up: the nodes that run the ALTERs
        // must know the new datacenter.
        for a in want {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            await_up(*a, want, left).await?;
        }
        Ok(())
    }

    async fn await_agreement(
        &self,
        _among: &[IpAddr],
        _skip_down: bool,
        _deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        // The driver waits until every node it knows (both datacenters)
        // reports one schema version.
        self.session()
            .await?
            .await_schema_agreement()
            .await
            .map(|_| ())
            .map_err(|e| format!("schema agreement: {e}"))
    }

    async fn keyspaces(&self) -> Result<Vec<KeyspaceInfo>, String> {
        keyspaces(self.session().await?).await
    }

    async fn run(&self, plan: &[String]) -> Result<(), String> {
        let s = self.session().await?;
        for cql in plan {
            tracing::info!("{cql}");
            s.query_unpaged(cql.as_str(), &[])
                .await
                .map_err(|e| format!("{cql}: {e}"))?;
        }
        Ok(())
    }

    async fn rebuild(
        &self,
        node: IpAddr,
        _mine: &[IpAddr],
        source_dc: &str,
        _deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        nodetool(node, &["rebuild", "--", source_dc])
            .await
            .map(|_| ())
    }

    async fn decommission(&self, node: IpAddr) -> Result<(), String> {
        nodetool(node, &["decommission"]).await.map(|_| ())
    }
}

/// Names one daemon's containers apart from another's: a hash of its state
/// directory's absolute path.
fn tag(state_dir: &Path) -> String {
    let abs = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
    let h = abs
        .to_string_lossy()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{:08x}", h as u32)
}

/// The Docker label of the containers of the daemon whose state is in
/// `state_dir` (`docker ps --filter label=...`).
pub fn label_for(state_dir: &Path) -> String {
    format!("org.ccrsim.daemon={}", tag(state_dir))
}

async fn ensure_network(docker: &Docker) -> Result<(), HarnessError> {
    if let Ok(n) = docker.inspect_network(NETWORK, None).await {
        let subnets: Vec<String> = n
            .ipam
            .and_then(|i| i.config)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| c.subnet)
            .collect();
        return if subnets.iter().any(|s| s == SUBNET) {
            Ok(())
        } else {
            Err(HarnessError::Docker(format!(
                "the network {NETWORK} exists with subnet {subnets:?}, not {SUBNET}: remove it (docker network rm {NETWORK})"
            )))
        };
    }
    docker
        .create_network(NetworkCreateRequest {
            name: NETWORK.into(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(SUBNET.into()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .map(|_| ())
        .or_else(|e| {
            // Another daemon may have created it a moment ago.
            if e.to_string().contains("already exists") {
                Ok(())
            } else {
                Err(HarnessError::Docker(format!(
                    "cannot create the network {NETWORK} ({SUBNET}): {e}"
                )))
            }
        })
}

async fn container_ip(docker: &Docker, name: &str) -> Option<IpAddr> {
    docker
        .inspect_container(name, None)
        .await
        .ok()?
        .network_settings?
        .networks?
        .remove(NETWORK)?
        .ip_address?
        .parse()
        .ok()
}

/// Runs a nodetool command on the node at `ip`.
async fn nodetool(ip: IpAddr, args: &[&str]) -> Result<String, String> {
    let args = args.iter().map(|a| a.to_string()).collect();
    match crate::node::cluster::transport::admin(SocketAddr::new(ip, STORAGE_PORT), args).await {
        Ok((true, text)) => Ok(text),
        Ok((false, text)) => Err(format!("nodetool on {ip}: {}", text.trim())),
        Err(e) => Err(format!("nodetool on {ip}: {e}")),
    }
}

/// The addresses `nodetool status` on `ip` shows up, or `None`.
async fn up_as_seen_by(ip: IpAddr) -> Option<BTreeSet<IpAddr>> {
    let text = tokio::time::timeout(Duration::from_secs(2), nodetool(ip, &["status"]))
        .await
        .ok()?
        .ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                (parts.next() == Some("UN"))
                    .then(|| parts.next().and_then(|a| a.parse().ok()))
                    .flatten()
            })
            .collect(),
    )
}

async fn await_up(from: IpAddr, want: &[IpAddr], timeout: Duration) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = up_as_seen_by(from).await.unwrap_or_default();
        if want.iter().all(|a| seen.contains(a)) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{from} does not see every node up within {timeout:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A driver session through `addrs` as the service's `avnadmin`.
async fn connect(addrs: &[IpAddr], service: &Service) -> Result<Session, String> {
    SessionBuilder::new()
        .known_nodes_addr(addrs.iter().map(|a| SocketAddr::new(*a, 9042)))
        .user(ADMIN_USER, &service.admin_password)
        .connection_timeout(Duration::from_secs(5))
        .build()
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", service.name))
}

async fn keyspaces(s: &Session) -> Result<Vec<KeyspaceInfo>, String> {
    let rows = s
        .query_unpaged(
            "SELECT keyspace_name, replication FROM system_schema.keyspaces",
            &[],
        )
        .await
        .map_err(|e| format!("reading system_schema.keyspaces: {e}"))?
        .into_rows_result()
        .map_err(|e| e.to_string())?;
    rows.rows::<(String, BTreeMap<String, String>)>()
        .map_err(|e| e.to_string())?
        .map(|r| {
            r.map(|(name, replication)| keyspace_info(&name, &replication))
                .map_err(|e| e.to_string())
        })
        .collect()
}

impl NodeRuntime for Arc<DockerRuntime> {
    fn name(&self) -> &'static str {
        "docker"
    }

    fn address_base(&self) -> [u8; 2] {
        BASE
    }

    fn simulates_links(&self) -> bool {
        false
    }

    fn ensure(
        &self,
        service: &Service,
        nodes: &[NodeLayout],
        peer: Option<&Peer>,
    ) -> Result<(), RuntimeError> {
        if nodes.is_empty() {
            return Ok(());
        }
        let me = self.clone();
        let (service, nodes, peer) = (service.clone(), nodes.to_vec(), peer.cloned());
        self.handle
            .spawn(async move { me.reconcile(service, nodes, peer).await });
        Ok(())
    }

    fn remove(&self, service: &Service, peer: Option<&Peer>) -> Result<(), RuntimeError> {
        let m = self.managed(service);
        let me = self.clone();
        let (service, peer) = (service.clone(), peer.cloned());
        self.handle.spawn(async move {
            let _work = m.work.lock().await;
            if let Some(p) = m.poller.lock().unwrap_or_else(|e| e.into_inner()).take() {
                p.abort();
            }
            let addrs = m
                .view
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .addrs
                .clone();
            // Leaving a pair: the keyspaces stop naming this datacenter,
            // then each node leaves the ring.
            if let Some(peer) = &peer {
                let theirs: Vec<IpAddr> =
                    peer.nodes.iter().map(|n| IpAddr::V4(n.address)).collect();
                let dc = Remote::new(&theirs, &peer.service);
                join::leave(&dc, &service.name, &addrs, &service.datacenter, &theirs).await;
            }
            for (name, _) in me.containers(Some(&service)).await {
                me.remove_container(&name).await;
            }
            me.services
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&DockerRuntime::key(&service));
            let dir = me.dir(&service);
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!("cannot delete {}: {e}", dir.display());
            }
        });
        Ok(())
    }

    fn inspect(&self, service: &Service) -> Option<Inspection> {
        let addrs = self.node_addrs(service);
        if addrs.is_empty() || !service.powered {
            return None;
        }
        let service = service.clone();
        let work = async move {
            let s = connect(&addrs, &service).await.ok()?;
            let keyspaces = keyspaces(&s).await.ok()?;
            let mut pending_hints = 0;
            for a in &addrs {
                if let Ok(text) = nodetool(*a, &["listpendinghints"]).await {
                    pending_hints += text
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                        .sum::<u64>();
                }
            }
            Some(Inspection {
                keyspaces,
                pending_hints,
            })
        };
        // Called from a blocking thread of the API.
        self.handle
            .block_on(async { tokio::time::timeout(Duration::from_secs(10), work).await })
            .ok()
            .flatten()
    }

    fn nodetool(
        &self,
        service: &Service,
        args: &[String],
    ) -> Result<Vec<crate::control::runtime::NodeOutput>, RuntimeError> {
        let addrs = self.node_addrs(service);
        if addrs.is_empty() || !service.powered {
            return Err(err(format!(
                "no node of service '{}' is running",
                service.name
            )));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        // Called from a blocking thread of the API.
        Ok(addrs
            .iter()
            .map(|a| {
                let r = self.handle.block_on(nodetool(*a, &args));
                let (ok, text) = match r {
                    Ok(t) => (true, t),
                    Err(e) => (false, e),
                };
                crate::control::runtime::NodeOutput {
                    address: *a,
                    ok,
                    text,
                }
            })
            .collect())
    }

    fn link(
        &self,
        _a: &Peer,
        _b: &Peer,
        _link: &crate::control::model::LinkSettings,
    ) -> Result<(), RuntimeError> {
        Err(err(
            "ccr link is not supported by the docker runtime yet: the simulated link lives in the in-process runtime's network (ccrsim serve --runtime in-process); with containers, ccrsim::testkit::Cluster::partition cuts datacenters apart",
        ))
    }

    fn split(&self, _a: &Peer, _b: &Peer) -> Result<(), RuntimeError> {
        Err(err(
            "ccr split is not supported by the docker runtime yet (it needs the in-process runtime's network to cut the pair for good): nothing was changed",
        ))
    }

    fn status(&self, service: &Service, nodes: &[NodeLayout]) -> Vec<NodeStatus> {
        let m = self.managed(service);
        let v = m.view.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if !service.powered {
                    return NodeStatus {
                        state: NodeState::Unknown,
                        message: Some("powered off".into()),
                        progress: Vec::new(),
                    };
                }
                let error = v.errors.get(i).cloned().flatten();
                if let (Some(e), None) = (&error, &v.joining) {
                    // The container could not be made or started: whatever
                    // answers at its address is not this node.
                    return NodeStatus {
                        state: NodeState::TimingOut,
                        message: Some(e.clone()),
                        progress: Vec::new(),
                    };
                }
                let Some(Some(up)) = v.up.get(i) else {
                    return NodeStatus {
                        state: NodeState::SettingUpVm,
                        message: error.or_else(|| Some("starting its container".into())),
                        progress: Vec::new(),
                    };
                };
                let down: Vec<String> = v
                    .addrs
                    .iter()
                    .filter(|a| !up.contains(a))
                    .map(|a| a.to_string())
                    .collect();
                NodeStatus::started(v.joining.as_deref(), error, &down)
            })
            .collect()
    }

    fn stop(&self) -> StopFuture<'_> {
        Box::pin(self.stop_all())
    }
}
