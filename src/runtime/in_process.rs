//! The in-process runtime: a service's nodes run inside the daemon.
//!
//! Each node is a [`Node`] on its own loopback address with its data in
//! `<state dir>/nodes/<project>/<service>/<i>`, so powering a service off and
//! on, or restarting the daemon, finds the data again. `ensure` only starts
//! the work (a task per call, serialized per service); `status` reads what
//! the task last recorded and asks the nodes' gossip whether the service's
//! nodes see each other up. A node is `running` only while it serves CQL,
//! sees every node of its service up, and has finished joining. The nodes
//! of the daemon share one simulated network ([`Faults::in_memory`]): they
//! hand each other their internode messages in memory, while clients, and
//! `nodetool`, reach them over TCP.
//!
//! Joining a pair (the service was created with `service_to_join_with`):
//! the nodes start with the peer's first node as a seed; once every node of
//! both services is up, the keyspaces are altered to name the new
//! datacenter ([`crate::runtime::join`]) and every new node rebuilds from
//! the peer's datacenter. A marker file records that this was done, so a restart does
//! not do it again.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::control::model::{ADMIN_USER, NodeLayout, Service};
use crate::control::runtime::{
    NodeRuntime, NodeState, NodeStatus, Peer, ProgressUpdate, RuntimeError, StopFuture,
};
use crate::node::cluster::member::{Core, GossipSettings};
use crate::node::cluster::transport::Faults;
use crate::node::config::{Authorizer, NodeConfig};
use crate::node::cql::exec::{Options, Session};
use crate::node::db::storage::StorageLimits;
use crate::node::instance::Node;

use crate::runtime::join;
use crate::runtime::plans::{keyspace_infos, leave_plan};

/// Runs statements on a node's engine as the node's own work.
async fn run_cql(
    engine: Arc<crate::node::cql::exec::Engine>,
    plan: Vec<String>,
) -> Result<(), String> {
    // The runtime's own work on its nodes, as Cassandra's internal
    // calls: no role is read from system_auth, which may be mid-move.
    let mut session = Session::internal();
    let o = Options {
        consistency: crate::node::db::consistency::Consistency::LocalQuorum,
        ..Default::default()
    };
    for cql in &plan {
        tracing::info!("{cql}");
        engine
            .query(&mut session, cql, &o)
            .await
            .map_err(|e| format!("{cql}: {e}"))?;
    }
    Ok(())
}

#[derive(Default)]
struct Slot {
    state: NodeState,
    message: Option<String>,
    /// Weak: a stopped node's storage must close (its directory is locked
    /// while open).
    core: Option<std::sync::Weak<Core>>,
}

#[derive(Default)]
struct View {
    slots: Vec<Slot>,
    addrs: Vec<IpAddr>,
    /// While joining: the progress every node shows.
    joining: Option<Vec<ProgressUpdate>>,
    /// The pair was split from this datacenter: forget it (once).
    split_from: Option<String>,
}

struct Managed {
    /// The running nodes, by index; held by one reconciliation at a time.
    nodes: tokio::sync::Mutex<Vec<Option<Node>>>,
    view: Mutex<View>,
}

/// Runs services' nodes in this process.
pub struct InProcess {
    root: PathBuf,
    handle: tokio::runtime::Handle,
    gossip: GossipSettings,
    /// The network between every node of this runtime (split pairs are cut).
    faults: Arc<Faults>,
    services: Mutex<HashMap<String, Arc<Managed>>>,
    /// Each node's memory for memtables and cache.
    limits: StorageLimits,
}

/// An in-process node's memtable per table, by default (MiB): the nodes
/// share the daemon's memory, so each holds less than a node process
/// would (64).
pub const NODE_MEMTABLE_MB: u64 = 4;
/// An in-process node's gossip round, by default (ms; a process, as
/// Cassandra: 1000).
pub const NODE_GOSSIP_INTERVAL_MS: u64 = 100;
/// An in-process node's block cache, by default (MiB; a process: 32).
pub const NODE_CACHE_MB: u64 = 4;
/// The tables an in-process node's compactions write, by default (MiB; a
/// process: 64).
pub const NODE_SSTABLE_MB: u64 = 8;

impl InProcess {
    /// Nodes keep their data under `state_dir/nodes`. Must be created inside
    /// a tokio runtime (its tasks run there).
    pub fn new(state_dir: &Path) -> InProcess {
        InProcess {
            root: state_dir.join("nodes"),
            handle: tokio::runtime::Handle::current(),
            gossip: GossipSettings {
                interval: Duration::from_millis(NODE_GOSSIP_INTERVAL_MS),
                ..GossipSettings::default()
            },
            faults: Arc::new(Faults::in_memory()),
            services: Mutex::new(HashMap::new()),
            limits: StorageLimits {
                memtable_bytes: NODE_MEMTABLE_MB << 20,
                cache_bytes: NODE_CACHE_MB << 20,
                table_bytes: NODE_SSTABLE_MB << 20,
            },
        }
    }

    /// The service's nodes that run now.
    fn running_cores(&self, service: &Service) -> Vec<Arc<Core>> {
        let m = self.managed(service);
        let v = m.view.lock().unwrap_or_else(|e| e.into_inner());
        v.slots
            .iter()
            .filter_map(|s| s.core.as_ref().and_then(std::sync::Weak::upgrade))
            .collect()
    }

    /// Each node's memtable per table and block cache.
    pub fn with_storage_limits(mut self, limits: StorageLimits) -> InProcess {
        self.limits = limits;
        self
    }

    /// Each node's gossip round and failure detection.
    pub fn with_gossip(mut self, gossip: GossipSettings) -> InProcess {
        self.gossip = gossip;
        self
    }

    fn key(s: &Service) -> String {
        format!("{}/{}", s.project, s.name)
    }

    fn managed(&self, s: &Service) -> Arc<Managed> {
        self.services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(Self::key(s))
            .or_insert_with(|| {
                Arc::new(Managed {
                    nodes: tokio::sync::Mutex::new(Vec::new()),
                    view: Mutex::new(View::default()),
                })
            })
            .clone()
    }

    fn dir(&self, s: &Service) -> PathBuf {
        self.root.join(&s.project).join(&s.name)
    }

    /// Stops every node of every service (daemon shutdown), data kept.
    pub async fn stop_all(&self) {
        let all: Vec<Arc<Managed>> = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for m in all {
            let mut nodes = m.nodes.lock().await;
            for n in nodes.iter_mut() {
                if let Some(n) = n.take() {
                    n.stop().await;
                }
            }
        }
    }

    /// The running node at `addr`, if any (tests look inside through it).
    pub async fn node_core(&self, addr: IpAddr) -> Option<Arc<Core>> {
        let all: Vec<Arc<Managed>> = self
            .services
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for m in all {
            let nodes = m.nodes.lock().await;
            if let Some(n) = nodes.iter().flatten().find(|n| n.cql_addr.ip() == addr) {
                return Some(n.member.core.clone());
            }
        }
        None
    }

    /// The engine of the running node at `addr`, if any.
    pub async fn node_engine(&self, addr: IpAddr) -> Option<Arc<crate::node::cql::exec::Engine>> {
        self.node_core(addr).await.map(|c| c.engine().clone())
    }
}

fn set(view: &Mutex<View>, i: usize, state: NodeState, message: Option<String>) {
    let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = v.slots.get_mut(i) {
        s.state = state;
        s.message = message;
    }
}

fn node_config(
    s: &Service,
    layout: &NodeLayout,
    dir: &Path,
    peer: Option<&Peer>,
    own_first: IpAddr,
    cluster_name: &str,
) -> NodeConfig {
    let mut c = NodeConfig::local(IpAddr::V4(layout.address), dir);
    c.cluster_name = cluster_name.to_string();
    c.dc = s.datacenter.clone();
    c.rack = layout.rack.clone();
    c.cql_port = layout.cql_port;
    c.seeds = vec![own_first];
    if let Some(p) = peer.and_then(|p| p.nodes.first()) {
        c.seeds.push(IpAddr::V4(p.address));
    }
    c.superuser_name = ADMIN_USER.into();
    c.superuser_password = s.admin_password.clone();
    // A managed service checks permissions, as Aiven's do: `avnadmin`
    // creates application roles that see only what they are granted.
    c.authorizer = Authorizer::Cassandra;
    c
}

/// Polls `core`'s view until `cond` holds (true) or `deadline` passes
/// (false).
async fn until(core: &Core, deadline: tokio::time::Instant, cond: impl Fn(&Core) -> bool) -> bool {
    loop {
        if cond(core) {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether every node of `addrs` gossips `core`'s schema version (nodes
/// `core` sees down count as agreeing when `skip_down`).
fn schema_agreed(core: &Core, addrs: &[IpAddr], skip_down: bool) -> bool {
    let version = core.engine().schema().version();
    let states = core.states();
    addrs.iter().all(|a| {
        (skip_down && !core.is_alive(a))
            || states
                .iter()
                .any(|s| s.address == *a && s.app.schema_version == version)
    })
}

impl InProcess {
    async fn reconcile(
        self: Arc<Self>,
        service: Service,
        layout: Vec<NodeLayout>,
        peer: Option<Peer>,
    ) {
        let m = self.managed(&service);
        let mut nodes = m.nodes.lock().await;
        let split_from = m
            .view
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .split_from
            .take();
        if let Some(other_dc) = split_from {
            // The pair was split: keyspaces name only this datacenter, and
            // the nodes restart knowing only each other.
            if let Some(first) = nodes.iter().flatten().next() {
                let engine = first.engine.clone();
                let plan = leave_plan(&keyspace_infos(&engine.schema()), &other_dc);
                if let Err(e) = run_cql(engine, plan).await {
                    tracing::error!(service = %service.name, "after the split: {e}");
                }
                first.member.core.push_schema().await;
            }
            for n in nodes.iter_mut() {
                if let Some(n) = n.take() {
                    n.member.core.forget_datacenter(&other_dc).await;
                    n.stop().await;
                }
            }
        }
        {
            let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
            v.slots.resize_with(layout.len(), Slot::default);
            v.addrs = layout.iter().map(|n| IpAddr::V4(n.address)).collect();
        }
        // Nodes beyond the layout (a smaller plan) leave the ring, streaming
        // their data to the nodes that take their ranges, then go away.
        let base = self.dir(&service);
        while nodes.len() > layout.len() {
            let i = nodes.len();
            if let Some(n) = nodes.pop().flatten() {
                if let Err(e) = n.member.core.decommission().await {
                    tracing::warn!(service = %service.name, "decommission of node {i}: {e}");
                }
                n.stop().await;
            }
            let dir = base.join(i.to_string());
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!("cannot delete {}: {e}", dir.display());
            }
        }
        nodes.resize_with(layout.len(), || None);
        if !service.powered {
            for (i, n) in nodes.iter_mut().enumerate() {
                if let Some(n) = n.take() {
                    n.stop().await;
                }
                set(&m.view, i, NodeState::Unknown, Some("powered off".into()));
                m.view.lock().unwrap_or_else(|e| e.into_inner()).slots[i].core = None;
            }
            return;
        }
        let Some(first) = layout.first().map(|n| IpAddr::V4(n.address)) else {
            return;
        };
        let must_join = join::pending(&base, &service, peer.as_ref()).await;
        if must_join.is_some() {
            // Not RUNNING before the join is done, not even for a moment.
            m.view.lock().unwrap_or_else(|e| e.into_inner()).joining =
                Some(crate::runtime::join::join_steps("prepare", 0, 1));
        }
        // Nodes added to a service that already has data (a bigger plan)
        // bootstrap: once up, they stream their ranges from their datacenter.
        let mut existed = Vec::with_capacity(layout.len());
        for l in &layout {
            let dir = base.join(l.index.to_string());
            existed.push(tokio::fs::try_exists(&dir).await.unwrap_or(false));
        }
        let bootstrap: Vec<usize> = if existed.iter().any(|e| *e) {
            (0..layout.len())
                .filter(|i| !existed[*i] && nodes[*i].is_none())
                .collect()
        } else {
            Vec::new()
        };
        if !bootstrap.is_empty() {
            m.view.lock().unwrap_or_else(|e| e.into_inner()).joining = Some(vec![ProgressUpdate {
                phase: "stream",
                completed: false,
                current: 0,
                max: bootstrap.len() as u64,
                unit: "nodes",
            }]);
        }
        let cluster = crate::runtime::cluster_name(&base, &service).await;
        let mut starting = tokio::task::JoinSet::new();
        for (i, l) in layout.iter().enumerate() {
            if nodes[i].is_some() {
                continue;
            }
            set(&m.view, i, NodeState::SettingUpVm, None);
            let dir = base.join(l.index.to_string());
            let mut cfg = node_config(&service, l, &dir, peer.as_ref(), first, &cluster);
            cfg.storage = self.limits;
            let (gossip, faults) = (self.gossip, self.faults.clone());
            starting.spawn(async move {
                // A node stopped a moment ago may still hold its directory's
                // lock for an instant: retry that, for a few seconds.
                let mut tries = 0;
                loop {
                    let r = Node::start_with(cfg.clone(), faults.clone(), gossip).await;
                    match r {
                        Err(e) if e.to_string().contains("Locked") && tries < 50 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        r => return (i, r),
                    }
                }
            });
        }
        while let Some(r) = starting.join_next().await {
            let Ok((i, r)) = r else { continue };
            match r {
                Ok(n) => {
                    m.view.lock().unwrap_or_else(|e| e.into_inner()).slots[i].core =
                        Some(Arc::downgrade(&n.member.core));
                    set(&m.view, i, NodeState::Running, None);
                    nodes[i] = Some(n);
                }
                Err(e) => {
                    tracing::error!(service = %service.name, node = i + 1, "{e}");
                    set(&m.view, i, NodeState::TimingOut, Some(e.to_string()));
                }
            }
        }
        let mine = join::addresses(&layout);
        let show = |steps| m.view.lock().unwrap_or_else(|e| e.into_inner()).joining = steps;
        let dc = Local { nodes: &nodes };
        if !bootstrap.is_empty() {
            let new: Vec<IpAddr> = bootstrap.iter().map(|i| mine[*i]).collect();
            join::grow(&dc, &service.name, &mine, &service.datacenter, &new, show).await;
        }
        // A service that joined another: migrate it into the pair once.
        if let Some(peer) = must_join
            && let Err(e) = join::join_once(&dc, &base, &service, &mine, peer, show).await
        {
            let mut v = m.view.lock().unwrap_or_else(|e| e.into_inner());
            for s in v.slots.iter_mut() {
                s.message = Some(e.clone());
            }
        }
    }
}

/// A datacenter's nodes in this process, for the [`join`] steps: each is
/// asked directly, and statements run on its first node as the node's own
/// work.
struct Local<'a> {
    nodes: &'a [Option<Node>],
}

impl Local<'_> {
    fn first(&self) -> Result<Arc<Core>, String> {
        self.nodes
            .iter()
            .flatten()
            .next()
            .map(|n| n.member.core.clone())
            .ok_or_else(|| "no node of the service is running".to_string())
    }

    fn at(&self, addr: IpAddr) -> Result<Arc<Core>, String> {
        self.nodes
            .iter()
            .flatten()
            .find(|n| n.cql_addr.ip() == addr)
            .map(|n| n.member.core.clone())
            .ok_or_else(|| format!("no node of the service runs at {addr}"))
    }
}

impl join::Datacenter for Local<'_> {
    async fn await_up(
        &self,
        want: &[IpAddr],
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        // Up, and the node's schema loaded (the system keyspaces at least).
        let core = self.first()?;
        let ok = until(&core, deadline, |c| {
            want.iter().all(|a| c.is_alive(a)) && c.engine().schema().keyspaces.len() >= 2
        })
        .await;
        ok.then_some(())
            .ok_or_else(|| "not every node is seen up".to_string())
    }

    async fn await_agreement(
        &self,
        among: &[IpAddr],
        skip_down: bool,
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        let core = self.first()?;
        let ok = until(&core, deadline, |c| schema_agreed(c, among, skip_down)).await;
        ok.then_some(())
            .ok_or_else(|| "schema versions differ".to_string())
    }

    async fn keyspaces(&self) -> Result<Vec<crate::replication::KeyspaceInfo>, String> {
        Ok(keyspace_infos(&self.first()?.engine().schema()))
    }

    async fn run(&self, plan: &[String]) -> Result<(), String> {
        let core = self.first()?;
        run_cql(core.engine().clone(), plan.to_vec()).await?;
        core.push_schema().await;
        Ok(())
    }

    async fn rebuild(
        &self,
        node: IpAddr,
        mine: &[IpAddr],
        source_dc: &str,
        deadline: tokio::time::Instant,
    ) -> Result<(), String> {
        let core = self.at(node)?;
        // Its datacenter up and the schema agreed, as the node itself sees
        // them (a new node learns the keyspaces from the others).
        until(&core, deadline, |c| {
            mine.iter().all(|a| c.is_alive(a)) && schema_agreed(c, mine, false)
        })
        .await;
        core.rebuild(source_dc).await.map(|_| ())
    }

    async fn decommission(&self, node: IpAddr) -> Result<(), String> {
        self.at(node)?.decommission().await.map(|_| ())
    }
}

impl NodeRuntime for Arc<InProcess> {
    fn name(&self) -> &'static str {
        "in-process"
    }

    fn ensure(
        &self,
        service: &Service,
        nodes: &[NodeLayout],
        peer: Option<&Peer>,
    ) -> Result<(), RuntimeError> {
        let me = self.clone();
        let (service, nodes, peer) = (service.clone(), nodes.to_vec(), peer.cloned());
        self.handle
            .spawn(async move { me.reconcile(service, nodes, peer).await });
        Ok(())
    }

    fn remove(&self, service: &Service, peer: Option<&Peer>) -> Result<(), RuntimeError> {
        let m = self.managed(service);
        let dir = self.dir(service);
        let key = InProcess::key(service);
        let me = self.clone();
        let (dc, name, peer) = (
            service.datacenter.clone(),
            service.name.clone(),
            peer.cloned(),
        );
        self.handle.spawn(async move {
            let mut nodes = m.nodes.lock().await;
            // Leaving a pair: the keyspaces stop naming this datacenter,
            // then each node leaves the ring.
            if let Some(peer) = &peer {
                let mine: Vec<IpAddr> = nodes.iter().flatten().map(|n| n.cql_addr.ip()).collect();
                let theirs: Vec<IpAddr> =
                    peer.nodes.iter().map(|n| IpAddr::V4(n.address)).collect();
                join::leave(&Local { nodes: &nodes }, &name, &mine, &dc, &theirs).await;
            }
            for n in nodes.iter_mut() {
                if let Some(n) = n.take() {
                    n.stop().await;
                }
            }
            me.services
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key);
            if let Err(e) = tokio::fs::remove_dir_all(&dir).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::error!("cannot delete {}: {e}", dir.display());
            }
        });
        Ok(())
    }

    fn inspect(&self, service: &Service) -> Option<crate::control::runtime::Inspection> {
        let cores = self.running_cores(service);
        let first = cores.first()?;
        let keyspaces = keyspace_infos(&first.engine().schema());
        let pending_hints = cores
            .iter()
            .map(|c| {
                crate::node::cluster::hints::pending(&c.engine().storage)
                    .map_or(0, |p| p.iter().map(|(_, n)| *n as u64).sum())
            })
            .sum();
        Some(crate::control::runtime::Inspection {
            keyspaces,
            pending_hints,
        })
    }

    fn nodetool(
        &self,
        service: &Service,
        args: &[String],
    ) -> Result<Vec<crate::control::runtime::NodeOutput>, RuntimeError> {
        let cores = self.running_cores(service);
        if cores.is_empty() {
            return Err(RuntimeError {
                runtime: self.name(),
                message: format!("no node of service '{}' is running", service.name),
            });
        }
        // Called from a blocking thread of the API.
        Ok(cores
            .iter()
            .map(|c| {
                let (ok, text) = self
                    .handle
                    .block_on(crate::node::cluster::nodetool::run(&**c, args.to_vec()));
                crate::control::runtime::NodeOutput {
                    address: crate::node::cluster::nodetool::Managed::me(&**c),
                    ok,
                    text,
                }
            })
            .collect())
    }

    fn link(
        &self,
        a: &Peer,
        b: &Peer,
        link: &crate::control::model::LinkSettings,
    ) -> Result<(), RuntimeError> {
        let addrs =
            |p: &Peer| -> Vec<IpAddr> { p.nodes.iter().map(|n| IpAddr::V4(n.address)).collect() };
        self.faults
            .set_link(&addrs(a), &addrs(b), link_spec(link), link.seed);
        Ok(())
    }

    fn split(&self, a: &Peer, b: &Peer) -> Result<(), RuntimeError> {
        // From now on no message crosses between the two sides.
        for x in &a.nodes {
            for y in &b.nodes {
                self.faults
                    .cut(IpAddr::V4(x.address), IpAddr::V4(y.address));
            }
        }
        // Each side then forgets the other on its next reconciliation
        // (queued before the `ensure` that follows).
        for (side, other) in [(a, b), (b, a)] {
            let m = self.managed(&side.service);
            m.view.lock().unwrap_or_else(|e| e.into_inner()).split_from =
                Some(other.service.datacenter.clone());
        }
        Ok(())
    }

    fn status(&self, service: &Service, nodes: &[NodeLayout]) -> Vec<NodeStatus> {
        let m = self.managed(service);
        let v = m.view.lock().unwrap_or_else(|e| e.into_inner());
        nodes
            .iter()
            .enumerate()
            .map(|(i, _)| {
                let Some(slot) = v.slots.get(i) else {
                    return NodeStatus {
                        state: NodeState::SettingUpVm,
                        ..Default::default()
                    };
                };
                if slot.state != NodeState::Running {
                    return NodeStatus {
                        state: slot.state,
                        message: slot.message.clone(),
                        progress: Vec::new(),
                    };
                }
                let down: Vec<String> = match slot.core.as_ref().and_then(std::sync::Weak::upgrade)
                {
                    Some(core) => v
                        .addrs
                        .iter()
                        .filter(|a| !core.is_alive(a))
                        .map(|a| a.to_string())
                        .collect(),
                    None => vec!["itself".into()],
                };
                // A running node shows no message; a syncing one shows why
                // its join stopped, if it did.
                let message = v.joining.as_ref().and(slot.message.clone());
                NodeStatus::started(v.joining.as_deref(), message, &down)
            })
            .collect()
    }

    fn stop(&self) -> StopFuture<'_> {
        Box::pin(self.stop_all())
    }
}

/// A link's settings in the internode transport's form.
fn link_spec(
    link: &crate::control::model::LinkSettings,
) -> crate::node::cluster::transport::LinkSpec {
    crate::node::cluster::transport::LinkSpec {
        latency: Duration::from_micros((link.latency_ms * 1000.0) as u64),
        jitter: Duration::from_micros((link.jitter_ms * 1000.0) as u64),
        loss: link.loss_percent / 100.0,
        down: link.down,
    }
}
