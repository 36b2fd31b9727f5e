//! A [`Cluster`] of containers: its builder, its nodes, and what a test does
//! to it (CQL, nodetool, outages, partitions, kills).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::response::query_result::QueryRowsResult;
use scylla::serialize::row::SerializeRow;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{
    EndpointIpamConfig, EndpointSettings, Ipam, IpamConfig, NetworkConnectRequest,
    NetworkCreateRequest, NetworkDisconnectRequest,
};
use testcontainers::bollard::query_parameters::{KillContainerOptions, LogsOptions};
use testcontainers::core::ExecCommand;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::names::SEQ;
use crate::replication::{self, Datacenter, KeyspaceName, Replication, Topology};
use crate::runtime::docker::image::*;

#[derive(Debug, Clone)]
pub struct ClusterBuilder {
    datacenters: usize,
    nodes: usize,
    image: NodeImage,
    name: String,
    env: Vec<(String, String)>,
}

impl Default for ClusterBuilder {
    fn default() -> Self {
        ClusterBuilder {
            datacenters: 2,
            nodes: 3,
            image: NodeImage::from_env(),
            name: "t".into(),
            env: Vec::new(),
        }
    }
}

impl ClusterBuilder {
    /// How many datacenters (`dc1`, `dc2`, ...). Default 2.
    pub fn datacenters(mut self, n: usize) -> Self {
        self.datacenters = n;
        self
    }

    /// Nodes per datacenter. Default 3.
    pub fn nodes(mut self, n: usize) -> Self {
        self.nodes = n;
        self
    }

    /// The node image. Default: [`NodeImage::from_env`].
    pub fn image(mut self, image: NodeImage) -> Self {
        self.image = image;
        self
    }

    /// A short name for container and network names (`ccrsim-{name}-...`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(20)
            .collect();
        self
    }

    /// An extra environment variable for every node.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Starts the cluster and waits until every node sees every other node
    /// up (`UN` in `nodetool status`).
    pub async fn start(self) -> Result<Cluster, HarnessError> {
        if self.datacenters == 0 || self.nodes == 0 {
            return Err(HarnessError::Invalid(
                "a cluster needs at least one datacenter of one node".into(),
            ));
        }
        if self.nodes > 200 {
            return Err(HarnessError::Invalid(
                "at most 200 nodes per datacenter".into(),
            ));
        }
        let started = Instant::now();
        let docker = docker().await?;
        ensure_image(&docker, &self.image).await?;
        let id = format!(
            "{}-{}-{}",
            if self.name.is_empty() {
                "t"
            } else {
                &self.name
            },
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let network = format!("ccrsim-{id}");
        create_network(&docker, &network).await?;
        let mut cluster = Cluster {
            id,
            network,
            image: self.image.clone(),
            env: self.env.clone(),
            docker,
            dcs: (1..=self.datacenters)
                .map(|d| DatacenterNodes {
                    name: format!("dc{d}"),
                    nodes: Vec::new(),
                })
                .collect(),
            partitions: BTreeSet::new(),
            username: "cassandra".into(),
            password: "cassandra".into(),
            ready_after: Duration::ZERO,
        };
        // The first node of each datacenter, one after the other: each is a
        // seed for every node started after it.
        let mut seeds: Vec<IpAddr> = Vec::new();
        for d in 0..self.datacenters {
            let node = cluster.create_node(d, 1, &seeds).await?;
            seeds.push(node.ip);
            cluster.dcs[d].nodes.push(node);
        }
        // The rest: all at once on ccrsim; one at a time on Cassandra,
        // which refuses concurrent bootstraps.
        let rest: Vec<(usize, usize)> = (2..=self.nodes)
            .flat_map(|i| (0..self.datacenters).map(move |d| (d, i)))
            .collect();
        match self.image.flavor {
            Flavor::Cassandra => {
                for (d, i) in rest {
                    let node = cluster.create_node(d, i, &seeds).await?;
                    cluster.dcs[d].nodes.push(node);
                    cluster.await_all_up(self.image.startup_timeout()).await?;
                }
            }
            Flavor::Ccrsim => {
                let c = &cluster;
                let made = futures_util::future::join_all(
                    rest.iter().map(|&(d, i)| c.create_node(d, i, &seeds)),
                )
                .await;
                // In order of `rest`: each datacenter's nodes by index.
                for ((d, _), node) in rest.iter().zip(made) {
                    cluster.dcs[*d].nodes.push(node?);
                }
            }
        }
        cluster.await_all_up(Duration::from_secs(60)).await?;
        cluster.ready_after = started.elapsed();
        Ok(cluster)
    }
}

async fn create_network(docker: &Docker, name: &str) -> Result<(), HarnessError> {
    // A subnet of our own, so that addresses can be pinned on restart; pick
    // another one when it overlaps a network that exists.
    let mut last = String::new();
    for attempt in 0..16u64 {
        let seed = u64::from(std::process::id())
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .wrapping_add(SEQ.fetch_add(1, Ordering::Relaxed).wrapping_mul(7919))
            .wrapping_add(attempt.wrapping_mul(104_729))
            ^ SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.subsec_nanos() as u64)
                .unwrap_or(0);
        let subnet = format!("10.{}.{}.0/24", 100 + seed % 150, (seed >> 8) % 256);
        let req = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.clone()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            labels: Some([("org.ccrsim.harness".to_string(), "1".to_string())].into()),
            ..Default::default()
        };
        match docker.create_network(req).await {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("{subnet}: {e}"),
        }
    }
    Err(HarnessError::Docker(format!(
        "cannot create network {name}: {last}"
    )))
}

/// One node: its container and the address it keeps.
pub struct Node {
    /// The container's name, e.g. `ccrsim-t-1234-0-dc1-2`.
    pub name: String,
    /// The datacenter's name.
    pub dc: String,
    /// The node's address on the cluster network (its broadcast and
    /// native-transport address).
    pub ip: IpAddr,
    running: bool,
    container: ContainerAsync<GenericImage>,
}

struct DatacenterNodes {
    name: String,
    nodes: Vec<Node>,
}

/// A running cluster of containers. Dropping it removes its containers,
/// their volumes and its network, after printing every container's log if
/// the thread is panicking (a failed test).
pub struct Cluster {
    id: String,
    network: String,
    image: NodeImage,
    env: Vec<(String, String)>,
    docker: Docker,
    dcs: Vec<DatacenterNodes>,
    /// Partitioned pairs of datacenter indexes (lower first).
    partitions: BTreeSet<(usize, usize)>,
    username: String,
    password: String,
    ready_after: Duration,
}

impl Cluster {
    /// A builder: 2 datacenters × 3 nodes of [`NodeImage::from_env`].
    pub fn builder() -> ClusterBuilder {
        ClusterBuilder::default()
    }

    /// How long [`ClusterBuilder::start`] took, image check included.
    pub fn ready_after(&self) -> Duration {
        self.ready_after
    }

    pub fn image(&self) -> &NodeImage {
        &self.image
    }

    /// The datacenter names, `dc1`, `dc2`, ...
    pub fn datacenters(&self) -> Vec<String> {
        self.dcs.iter().map(|d| d.name.clone()).collect()
    }

    /// The nodes of datacenter `dc` (0-based).
    pub fn nodes(&self, dc: usize) -> &[Node] {
        &self.dcs[dc].nodes
    }

    /// The CQL contact points of datacenter `dc`.
    pub fn contact_points(&self, dc: usize) -> Vec<SocketAddr> {
        self.dcs[dc]
            .nodes
            .iter()
            .map(|n| SocketAddr::new(n.ip, CQL_PORT))
            .collect()
    }

    async fn create_node(
        &self,
        dc: usize,
        i: usize,
        seeds: &[IpAddr],
    ) -> Result<Node, HarnessError> {
        let dc_name = self.dcs[dc].name.clone();
        let name = format!("ccrsim-{}-{dc_name}-{i}", self.id);
        let image =
            GenericImage::new(&self.image.name, &self.image.tag).with_wait_for(self.image.ready());
        let mut req = image
            .with_network(&self.network)
            .with_container_name(&name)
            .with_startup_timeout(self.image.startup_timeout())
            .with_env_var("CASSANDRA_CLUSTER_NAME", format!("ccrsim {}", self.id))
            .with_env_var("CASSANDRA_DC", &dc_name)
            .with_env_var("CASSANDRA_RACK", "rack1")
            .with_env_var("CASSANDRA_ENDPOINT_SNITCH", "GossipingPropertyFileSnitch")
            .with_env_var("CASSANDRA_NUM_TOKENS", "16");
        // The first node is its own seed (both images' default).
        if !seeds.is_empty() {
            let list: Vec<String> = seeds.iter().map(|s| s.to_string()).collect();
            req = req.with_env_var("CASSANDRA_SEEDS", list.join(","));
        }
        if self.image.flavor == Flavor::Cassandra {
            req = req
                .with_env_var(
                    "JVM_OPTS",
                    "-Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=5000",
                )
                .with_env_var("MAX_HEAP_SIZE", "1G")
                .with_env_var("HEAP_NEWSIZE", "200M");
        }
        for (k, v) in &self.env {
            req = req.with_env_var(k, v);
        }
        let container = req
            .start()
            .await
            .map_err(tc_err(&format!("starting {name}")))?;
        let ip = self.address_of(&name).await?;
        Ok(Node {
            name,
            dc: dc_name,
            ip,
            running: true,
            container,
        })
    }

    async fn address_of(&self, container: &str) -> Result<IpAddr, HarnessError> {
        let info = self
            .docker
            .inspect_container(container, None)
            .await
            .map_err(docker_err(&format!("inspecting {container}")))?;
        info.network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove(&self.network))
            .and_then(|e| e.ip_address)
            .and_then(|ip| ip.parse().ok())
            .ok_or_else(|| {
                HarnessError::Docker(format!("{container} has no address on {}", self.network))
            })
    }

    /// `nodetool status` on one node: the addresses it sees `UN`.
    pub async fn up_as_seen_by(&self, dc: usize, i: usize) -> Result<Vec<IpAddr>, HarnessError> {
        let out = self.nodetool(dc, i, &["status"]).await?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split_whitespace();
                (parts.next() == Some("UN"))
                    .then(|| parts.next().and_then(|a| a.parse().ok()))
                    .flatten()
            })
            .collect())
    }

    /// Runs `nodetool ARGS` in node `i` (1-based) of datacenter `dc`
    /// (0-based) and returns its output.
    pub async fn nodetool(
        &self,
        dc: usize,
        i: usize,
        args: &[&str],
    ) -> Result<String, HarnessError> {
        let node = self.node(dc, i)?;
        let mut cmd: Vec<String> = self
            .image
            .nodetool()
            .into_iter()
            .map(String::from)
            .collect();
        cmd.extend(args.iter().map(|a| a.to_string()));
        let mut res = node
            .container
            .exec(ExecCommand::new(cmd))
            .await
            .map_err(tc_err(&format!("nodetool on {}", node.name)))?;
        let out = res
            .stdout_to_vec()
            .await
            .map_err(tc_err("reading nodetool output"))?;
        let err = res
            .stderr_to_vec()
            .await
            .map_err(tc_err("reading nodetool output"))?;
        match res
            .exit_code()
            .await
            .map_err(tc_err("nodetool exit code"))?
        {
            Some(0) | None => Ok(String::from_utf8_lossy(&out).into_owned()),
            Some(code) => Err(HarnessError::Docker(format!(
                "nodetool {} on {} exited with {code}: {}",
                args.join(" "),
                node.name,
                String::from_utf8_lossy(&err).trim()
            ))),
        }
    }

    fn node(&self, dc: usize, i: usize) -> Result<&Node, HarnessError> {
        self.dcs
            .get(dc)
            .and_then(|d| d.nodes.get(i.wrapping_sub(1)))
            .ok_or_else(|| HarnessError::Invalid(format!("no node {i} in datacenter {dc}")))
    }

    fn node_mut(&mut self, dc: usize, i: usize) -> Result<&mut Node, HarnessError> {
        self.dcs
            .get_mut(dc)
            .and_then(|d| d.nodes.get_mut(i.wrapping_sub(1)))
            .ok_or_else(|| HarnessError::Invalid(format!("no node {i} in datacenter {dc}")))
    }

    /// Waits until every running node sees every running node up.
    pub async fn await_all_up(&self, timeout: Duration) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let running: Vec<(usize, usize, IpAddr)> = self
            .dcs
            .iter()
            .enumerate()
            .flat_map(|(d, dc)| {
                dc.nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| n.running)
                    .map(move |(i, n)| (d, i + 1, n.ip))
            })
            .collect();
        let want: BTreeSet<IpAddr> = running.iter().map(|r| r.2).collect();
        loop {
            let mut missing = Vec::new();
            for &(d, i, ip) in &running {
                let seen: BTreeSet<IpAddr> = match self.up_as_seen_by(d, i).await {
                    Ok(s) => s.into_iter().collect(),
                    Err(_) => BTreeSet::new(),
                };
                let lacking: Vec<String> = want.difference(&seen).map(|a| a.to_string()).collect();
                if !lacking.is_empty() {
                    missing.push(format!("{ip} does not see {} up", lacking.join(", ")));
                }
            }
            if missing.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "after {timeout:?}: {}",
                    missing.join("; ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until nodes of datacenter `seen_from` see every node of
    /// datacenter `dc` down (`DN`), e.g. after stopping it.
    pub async fn await_down(
        &self,
        seen_from: usize,
        dc: usize,
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let ips: Vec<IpAddr> = self.dcs[dc].nodes.iter().map(|n| n.ip).collect();
        loop {
            let observers: Vec<usize> = self.dcs[seen_from]
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.running)
                .map(|(i, _)| i + 1)
                .collect();
            let mut all = true;
            for i in observers {
                let up = self.up_as_seen_by(seen_from, i).await.unwrap_or_default();
                if ips.iter().any(|ip| up.contains(ip)) {
                    all = false;
                    break;
                }
            }
            if all {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "{} still sees nodes of {} up after {timeout:?}",
                    self.dcs[seen_from].name, self.dcs[dc].name
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until every other running node sees node `i` of datacenter
    /// `dc` down, e.g. after killing it (the failure detector convicts it).
    pub async fn await_node_down(
        &self,
        dc: usize,
        i: usize,
        timeout: Duration,
    ) -> Result<(), HarnessError> {
        let deadline = Instant::now() + timeout;
        let ip = self.node(dc, i)?.ip;
        loop {
            let mut seen_up = None;
            for (d, nodes) in self.dcs.iter().enumerate() {
                for (j, n) in nodes.nodes.iter().enumerate() {
                    if n.running && n.ip != ip {
                        let up = self.up_as_seen_by(d, j + 1).await.unwrap_or_default();
                        if up.contains(&ip) {
                            seen_up = Some(n.ip);
                        }
                    }
                }
            }
            let Some(by) = seen_up else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "{by} still sees {ip} up after {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// A session pinned to datacenter `dc` (0-based): its nodes as contact
    /// points, `prefer_datacenter`, no failover to another datacenter, token
    /// aware.
    pub async fn session(&self, dc: usize) -> Result<Arc<Session>, HarnessError> {
        let name = self
            .dcs
            .get(dc)
            .ok_or_else(|| HarnessError::Invalid(format!("no datacenter {dc}")))?
            .name
            .clone();
        let policy = DefaultPolicy::builder()
            .prefer_datacenter(name.clone())
            .permit_dc_failover(false)
            .token_aware(true)
            .build();
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(policy)
            .request_timeout(Some(Duration::from_secs(15)))
            .build();
        SessionBuilder::new()
            .known_nodes_addr(self.contact_points(dc).iter().copied())
            .user(&self.username, &self.password)
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
            .map(Arc::new)
            .map_err(|e| HarnessError::Cql(format!("cannot connect to {name}: {e}")))
    }

    /// The topology the control plane's script generator takes.
    pub fn topology(&self) -> Topology {
        Topology {
            project: "harness".into(),
            datacenters: self
                .dcs
                .iter()
                .map(|d| Datacenter {
                    name: d.name.clone(),
                    service: self.id.clone(),
                    nodes: d.nodes.iter().map(|n| n.ip.to_string()).collect(),
                })
                .collect(),
            joined: None,
        }
    }

    /// Generates the NetworkTopologyStrategy scripts for `keyspaces` with
    /// replication factor `rf` in every datacenter (the same generator as
    /// `ccrsim cql setup`: the system keyspaces, then each keyspace) and
    /// runs them through datacenter 0, then waits for schema agreement.
    pub async fn apply_replication(
        &self,
        keyspaces: &[&str],
        rf: u32,
    ) -> Result<Vec<replication::Script>, HarnessError> {
        let topology = self.topology();
        let rf = Replication(self.dcs.iter().map(|d| (d.name.clone(), rf)).collect());
        let names: Vec<KeyspaceName> = keyspaces
            .iter()
            .map(|k| replication::keyspace_name(k))
            .collect::<Result<_, _>>()
            .map_err(|e| HarnessError::Invalid(e.to_string()))?;
        let scripts = replication::setup_scripts(&topology, &names, &rf)
            .map_err(|e| HarnessError::Invalid(e.to_string()))?;
        let s = self.session(0).await?;
        for script in &scripts {
            for st in crate::replication::statements(&script.contents) {
                s.query_unpaged(st.as_str(), &[])
                    .await
                    .map_err(|e| HarnessError::Cql(format!("{}: {st}: {e}", script.file_name)))?;
            }
        }
        s.await_schema_agreement()
            .await
            .map_err(|e| HarnessError::Cql(format!("schema agreement: {e}")))?;
        Ok(scripts)
    }

    /// Polls `query` (at the statement's consistency; LOCAL_ONE unless
    /// given) in datacenter `dc` until `check` accepts its rows, and
    /// returns how long that took. The usual use: write in one datacenter,
    /// then await the row in the other; the result is the replication lag
    /// as a client sees it.
    pub async fn await_rows<V, F>(
        &self,
        session: &Session,
        query: &str,
        values: V,
        timeout: Duration,
        mut check: F,
    ) -> Result<Duration, HarnessError>
    where
        V: SerializeRow + Clone,
        F: FnMut(&QueryRowsResult) -> bool,
    {
        let start = Instant::now();
        let mut stmt = scylla::statement::unprepared::Statement::new(query);
        stmt.set_consistency(scylla::statement::Consistency::LocalOne);
        loop {
            let last = match session.query_unpaged(stmt.clone(), values.clone()).await {
                Ok(r) => match r.into_rows_result() {
                    Ok(rows) => {
                        if check(&rows) {
                            return Ok(start.elapsed());
                        }
                        format!("{} rows, not yet as expected", rows.rows_num())
                    }
                    Err(e) => e.to_string(),
                },
                Err(e) => e.to_string(),
            };
            if start.elapsed() >= timeout {
                return Err(HarnessError::Timeout(format!(
                    "`{query}` after {timeout:?}: {last}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops node `i` of datacenter `dc` with SIGTERM (a clean shutdown).
    pub async fn stop_node(&mut self, dc: usize, i: usize) -> Result<(), HarnessError> {
        let node = self.node_mut(dc, i)?;
        node.container
            .stop_with_timeout(Some(30))
            .await
            .map_err(tc_err(&format!("stopping {}", node.name)))?;
        node.running = false;
        Ok(())
    }

    /// Kills node `i` of datacenter `dc` with SIGKILL: no drain, no flush.
    pub async fn kill_node(&mut self, dc: usize, i: usize) -> Result<(), HarnessError> {
        let docker = self.docker.clone();
        let node = self.node_mut(dc, i)?;
        docker
            .kill_container(
                &node.name,
                Some(KillContainerOptions {
                    signal: "SIGKILL".into(),
                }),
            )
            .await
            .map_err(docker_err(&format!("killing {}", node.name)))?;
        node.running = false;
        // Until Docker has noticed, a start would be refused.
        let deadline = Instant::now() + Duration::from_secs(30);
        while node.container.is_running().await.unwrap_or(false) {
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "{} still running",
                    node.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Starts node `i` of datacenter `dc` again, on its first address, and
    /// waits until it serves CQL. Its data is where it left it.
    pub async fn start_node(&mut self, dc: usize, i: usize) -> Result<(), HarnessError> {
        let network = self.network.clone();
        let docker = self.docker.clone();
        let timeout = self.image.startup_timeout();
        let (name, ip) = {
            let n = self.node(dc, i)?;
            (n.name.clone(), n.ip)
        };
        // Pin the address: without this Docker may give it to another node.
        let _ = docker
            .disconnect_network(
                &network,
                NetworkDisconnectRequest {
                    container: name.clone(),
                    force: Some(true),
                },
            )
            .await;
        docker
            .connect_network(
                &network,
                NetworkConnectRequest {
                    container: name.clone(),
                    endpoint_config: Some(EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(ip.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                },
            )
            .await
            .map_err(docker_err(&format!("reconnecting {name} as {ip}")))?;
        let node = self.node_mut(dc, i)?;
        node.container
            .start()
            .await
            .map_err(tc_err(&format!("starting {name}")))?;
        node.running = true;
        let got = self.address_of(&name).await?;
        if got != ip {
            return Err(HarnessError::Docker(format!(
                "{name} came back as {got}, not {ip}"
            )));
        }
        // Partitions in force apply to the new network namespace too.
        let cuts: Vec<(usize, usize)> = self.partitions.iter().copied().collect();
        for (a, b) in cuts {
            if a == dc || b == dc {
                let other = if a == dc { b } else { a };
                let peers: Vec<IpAddr> = self.dcs[other].nodes.iter().map(|n| n.ip).collect();
                self.cut_node(dc, i, &peers, true).await?;
            }
        }
        let deadline = Instant::now() + timeout;
        loop {
            let probe = tokio::time::timeout(
                Duration::from_secs(1),
                tokio::net::TcpStream::connect(SocketAddr::new(ip, CQL_PORT)),
            )
            .await;
            if matches!(probe, Ok(Ok(_))) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(HarnessError::Timeout(format!(
                    "{name} does not serve CQL after {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The exit code of node `i` of datacenter `dc` once it has stopped;
    /// `None` while it runs.
    pub async fn exit_code(&self, dc: usize, i: usize) -> Result<Option<i64>, HarnessError> {
        let node = self.node(dc, i)?;
        node.container
            .exit_code()
            .await
            .map_err(tc_err(&format!("exit code of {}", node.name)))
    }

    /// Stops every node of datacenter `dc` (SIGTERM).
    pub async fn stop_datacenter(&mut self, dc: usize) -> Result<(), HarnessError> {
        for i in 1..=self.dcs[dc].nodes.len() {
            self.stop_node(dc, i).await?;
        }
        Ok(())
    }

    /// Kills every node of datacenter `dc` (SIGKILL).
    pub async fn kill_datacenter(&mut self, dc: usize) -> Result<(), HarnessError> {
        for i in 1..=self.dcs[dc].nodes.len() {
            self.kill_node(dc, i).await?;
        }
        Ok(())
    }

    /// Starts every node of datacenter `dc` again and waits until the whole
    /// cluster sees every running node up.
    pub async fn start_datacenter(&mut self, dc: usize) -> Result<(), HarnessError> {
        for i in 1..=self.dcs[dc].nodes.len() {
            if !self.dcs[dc].nodes[i - 1].running {
                self.start_node(dc, i).await?;
            }
        }
        self.await_all_up(Duration::from_secs(60)).await
    }

    /// Cuts datacenters `a` and `b` apart: every packet between their
    /// nodes is dropped, both ways. Clients still reach both sides.
    pub async fn partition(&mut self, a: usize, b: usize) -> Result<(), HarnessError> {
        self.set_partition(a, b, true).await
    }

    /// Ends the partition between `a` and `b`.
    pub async fn heal(&mut self, a: usize, b: usize) -> Result<(), HarnessError> {
        self.set_partition(a, b, false).await
    }

    async fn set_partition(&mut self, a: usize, b: usize, cut: bool) -> Result<(), HarnessError> {
        if a == b || a >= self.dcs.len() || b >= self.dcs.len() {
            return Err(HarnessError::Invalid(format!(
                "cannot partition datacenters {a} and {b}"
            )));
        }
        let key = (a.min(b), a.max(b));
        if cut == self.partitions.contains(&key) {
            return Ok(());
        }
        for (x, y) in [(a, b), (b, a)] {
            let peers: Vec<IpAddr> = self.dcs[y].nodes.iter().map(|n| n.ip).collect();
            for i in 1..=self.dcs[x].nodes.len() {
                if self.dcs[x].nodes[i - 1].running {
                    self.cut_node(x, i, &peers, cut).await?;
                }
            }
        }
        if cut {
            self.partitions.insert(key);
        } else {
            self.partitions.remove(&key);
        }
        Ok(())
    }

    /// Adds (or removes) DROP rules for `peers` in node's network namespace.
    async fn cut_node(
        &self,
        dc: usize,
        i: usize,
        peers: &[IpAddr],
        cut: bool,
    ) -> Result<(), HarnessError> {
        let node = self.node(dc, i)?;
        let pid = self
            .docker
            .inspect_container(&node.name, None)
            .await
            .map_err(docker_err(&format!("inspecting {}", node.name)))?
            .state
            .and_then(|s| s.pid)
            .filter(|p| *p > 0)
            .ok_or_else(|| HarnessError::Partition(format!("{} is not running", node.name)))?;
        let op = if cut { "-A" } else { "-D" };
        let mut rules = Vec::new();
        for p in peers {
            rules.push(vec!["INPUT".to_string(), "-s".into(), p.to_string()]);
            rules.push(vec!["OUTPUT".to_string(), "-d".into(), p.to_string()]);
        }
        let pid = pid.to_string();
        tokio::task::spawn_blocking(move || {
            for r in rules {
                let out = std::process::Command::new("nsenter")
                    .args(["-t", &pid, "-n", "iptables", "-w", op])
                    .args(&r)
                    .args(["-j", "DROP"])
                    .output()
                    .map_err(|e| {
                        HarnessError::Partition(format!(
                            "cannot run nsenter/iptables ({e}); partitions need root with nsenter (util-linux) and iptables on the host"
                        ))
                    })?;
                if !out.status.success() {
                    return Err(HarnessError::Partition(format!(
                        "iptables {op} {} in the namespace of pid {pid}: {} (partitions need root with nsenter and iptables)",
                        r.join(" "),
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
            Ok(())
        })
        .await
        .map_err(|e| HarnessError::Partition(e.to_string()))?
    }

    /// Every container's log (stdout and stderr, every run of it), one
    /// block per node.
    pub async fn logs(&self) -> String {
        collect_logs(&self.docker, &self.container_names()).await
    }

    fn container_names(&self) -> Vec<String> {
        self.dcs
            .iter()
            .flat_map(|d| d.nodes.iter().map(|n| n.name.clone()))
            .collect()
    }
}

async fn collect_logs(docker: &Docker, names: &[String]) -> String {
    let mut all = String::new();
    for name in names {
        all.push_str(&format!("===== {name} =====\n"));
        let mut stream = docker.logs(
            name,
            Some(LogsOptions {
                stdout: true,
                stderr: true,
                ..Default::default()
            }),
        );
        while let Some(item) = stream.next().await {
            match item {
                Ok(chunk) => all.push_str(&String::from_utf8_lossy(&chunk.into_bytes())),
                Err(e) => {
                    all.push_str(&format!("(log unavailable: {e})\n"));
                    break;
                }
            }
        }
    }
    all
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let names = self.container_names();
        let network = self.network.clone();
        let panicking = std::thread::panicking();
        // Logs first: removing the containers removes them.
        let print_logs = move |docker: &Docker, rt: &tokio::runtime::Runtime| {
            if panicking {
                let logs = rt.block_on(collect_logs(docker, &names));
                eprintln!("\n----- container logs of the failed test -----\n{logs}");
            }
        };
        if panicking {
            let docker = self.docker.clone();
            let job = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    // The engine connection of the test's runtime cannot be
                    // used from this thread's: connect again.
                    let d = Docker::connect_with_local_defaults().unwrap_or(docker);
                    print_logs(&d, &rt);
                }
            });
            let _ = job.join();
        }
        // Each container removes itself (and its volume) when dropped.
        self.dcs.clear();
        let job = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                && let Ok(d) = Docker::connect_with_local_defaults()
            {
                let _ = rt.block_on(d.remove_network(&network));
            }
        });
        let _ = job.join();
    }
}
