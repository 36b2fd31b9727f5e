//! The node runtime: how the control plane starts, stops and watches the
//! nodes of a service.
//!
//! The control plane decides *what* should run (a service's [`NodeLayout`]s,
//! powered on or off); a runtime makes it so and reports what actually runs.
//! The service state the API reports is derived from that report, never
//! stored: a service is `RUNNING` only while its runtime says every node
//! serves CQL.
//!
//! [`NoRuntime`] starts nothing and says so (`ccrsim serve --runtime none`,
//! and the control-plane tests); `crate::runtime::in_process` runs real
//! nodes inside the daemon. Besides starting and stopping, a runtime carries
//! out what the control plane decides for pairs: a split, a datacenter
//! leaving, the simulated link, and reports what the nodes hold (`inspect`).

use std::future::Future;
use std::pin::Pin;

use super::model::{NodeLayout, Service};

/// A node's state, named as Aiven's API names node states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeState {
    SettingUpVm,
    SyncingData,
    Running,
    Leaving,
    TimingOut,
    #[default]
    Unknown,
}

impl NodeState {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::SettingUpVm => "setting_up_vm",
            NodeState::SyncingData => "syncing_data",
            NodeState::Running => "running",
            NodeState::Leaving => "leaving",
            NodeState::TimingOut => "timing_out",
            NodeState::Unknown => "unknown",
        }
    }
}

/// What a runtime knows about one node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeStatus {
    pub state: NodeState,
    /// Why the node is not running, when it is not.
    pub message: Option<String>,
    /// Work under way (Aiven's `node_states[].progress_updates`).
    pub progress: Vec<ProgressUpdate>,
}

impl NodeStatus {
    /// A started node's state: syncing data while its datacenter joins or
    /// grows (`progress`), running once it sees every node of its
    /// datacenter up (`down` names those it does not), setting up until
    /// then. `message` goes with the first two.
    pub fn started(
        progress: Option<&[ProgressUpdate]>,
        message: Option<String>,
        down: &[String],
    ) -> NodeStatus {
        if let Some(p) = progress {
            return NodeStatus {
                state: NodeState::SyncingData,
                message,
                progress: p.to_vec(),
            };
        }
        if down.is_empty() {
            return NodeStatus {
                state: NodeState::Running,
                message,
                progress: Vec::new(),
            };
        }
        NodeStatus {
            state: NodeState::SettingUpVm,
            message: Some(format!("waiting to see {} up", down.join(", "))),
            progress: Vec::new(),
        }
    }
}

/// One step of a node's work, in the shape of Aiven's `progress_updates`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressUpdate {
    /// `prepare` (keyspaces altered for the new datacenter) or `stream`
    /// (data rebuilt from the existing datacenter).
    pub phase: &'static str,
    pub completed: bool,
    pub current: u64,
    pub max: u64,
    pub unit: &'static str,
}

/// What a running datacenter reports (`ccr status`).
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    pub keyspaces: Vec<crate::replication::KeyspaceInfo>,
    /// Hints its nodes keep for replicas that missed writes.
    pub pending_hints: u64,
}

/// One node's answer to a nodetool command ([`NodeRuntime::nodetool`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeOutput {
    pub address: std::net::IpAddr,
    pub ok: bool,
    pub text: String,
}

/// The other service of a CCR pair, as a runtime needs it: joining nodes
/// take its first node as a seed and stream its data.
#[derive(Debug, Clone)]
pub struct Peer {
    pub service: Service,
    pub nodes: Vec<NodeLayout>,
}

#[derive(Debug, thiserror::Error)]
#[error("node runtime '{runtime}': {message}")]
pub struct RuntimeError {
    pub runtime: &'static str,
    pub message: String,
}

/// Starts and stops the nodes of services. Implementations must not block
/// for long: `ensure` starts work and returns; `status` reports progress.
pub trait NodeRuntime: Send + Sync + 'static {
    /// A short name shown by the API (`none`, `in-process`, `docker`).
    fn name(&self) -> &'static str;

    /// The first two octets of node addresses (`{a}.{b}.{slot}.{i}`):
    /// loopback for nodes in this process, a Docker network's for
    /// containers.
    fn address_base(&self) -> [u8; 2] {
        [127, 0]
    }

    /// Makes the service's nodes match `nodes`: started when `service.powered`,
    /// stopped (data kept) otherwise; nodes beyond the layout are removed.
    /// `peer` is the other service of its pair, if any.
    fn ensure(
        &self,
        service: &Service,
        nodes: &[NodeLayout],
        peer: Option<&Peer>,
    ) -> Result<(), RuntimeError>;

    /// Stops the service's nodes and deletes their data (service terminated).
    /// With `peer`, the service's datacenter first leaves the pair: the
    /// keyspaces stop naming it and its nodes leave the cluster.
    fn remove(&self, service: &Service, peer: Option<&Peer>) -> Result<(), RuntimeError>;

    /// The pair of `a` and `b` is split: from now on their nodes never talk,
    /// and each side's keyspaces name only its own datacenter. Called before
    /// `ensure` of both.
    fn split(&self, _a: &Peer, _b: &Peer) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// What the service's running datacenter reports about itself: its
    /// keyspaces' replication and the hints its nodes keep. Blocking; `None`
    /// when no node runs.
    fn inspect(&self, _service: &Service) -> Option<Inspection> {
        None
    }

    /// Runs a nodetool command (`repair -pr KS`) on each running node of
    /// the service, one node after the other, and says what each answered.
    /// Blocking; an error when none of the service's nodes runs here.
    fn nodetool(
        &self,
        service: &Service,
        _args: &[String],
    ) -> Result<Vec<NodeOutput>, RuntimeError> {
        Err(RuntimeError {
            runtime: self.name(),
            message: format!(
                "cannot run nodetool on the nodes of '{}': this runtime runs no nodes",
                service.name
            ),
        })
    }

    /// Whether this runtime simulates the link between the datacenters of
    /// a pair (`ccr link`). When it does not, the API says so instead of
    /// reporting a link that is not there.
    fn simulates_links(&self) -> bool {
        true
    }

    /// Sets the simulated link between the two datacenters of a pair.
    fn link(
        &self,
        _a: &Peer,
        _b: &Peer,
        _link: &super::model::LinkSettings,
    ) -> Result<(), RuntimeError> {
        Ok(())
    }

    /// The status of each node of the layout, in order.
    fn status(&self, service: &Service, nodes: &[NodeLayout]) -> Vec<NodeStatus>;

    /// Stops every node of every service, keeping their data: the daemon
    /// is stopping. Called after the API has shut down.
    fn stop(&self) -> StopFuture<'_>;
}

/// What [`NodeRuntime::stop`] returns: the stopping, to be awaited.
pub type StopFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The runtime of a build without nodes: it starts nothing, and every node it
/// is asked about is `unknown`, with a message saying why. Services under it
/// stay `REBUILDING`; they are never reported `RUNNING`.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoRuntime;

pub const NO_RUNTIME_MESSAGE: &str = "not started: this daemon runs without a node runtime (ccrsim serve --runtime none); services stay REBUILDING";

impl NodeRuntime for NoRuntime {
    fn name(&self) -> &'static str {
        "none"
    }

    fn ensure(
        &self,
        _service: &Service,
        _nodes: &[NodeLayout],
        _peer: Option<&Peer>,
    ) -> Result<(), RuntimeError> {
        // Nothing can be started; `status` reports that for every node.
        Ok(())
    }

    fn remove(&self, _service: &Service, _peer: Option<&Peer>) -> Result<(), RuntimeError> {
        Ok(())
    }

    fn stop(&self) -> StopFuture<'_> {
        // Nothing was started.
        Box::pin(async {})
    }

    fn status(&self, _service: &Service, nodes: &[NodeLayout]) -> Vec<NodeStatus> {
        nodes
            .iter()
            .map(|_| NodeStatus {
                state: NodeState::Unknown,
                message: Some(NO_RUNTIME_MESSAGE.to_string()),
                progress: Vec::new(),
            })
            .collect()
    }
}

/// The service state Aiven's API reports, derived from power and node status.
pub fn service_state(powered: bool, nodes: &[NodeStatus]) -> &'static str {
    if !powered {
        "POWEROFF"
    } else if !nodes.is_empty() && nodes.iter().all(|n| n.state == NodeState::Running) {
        "RUNNING"
    } else if nodes.iter().any(|n| n.state == NodeState::Leaving) {
        "REBALANCING"
    } else {
        "REBUILDING"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: NodeState) -> NodeStatus {
        NodeStatus {
            state,
            ..Default::default()
        }
    }

    #[test]
    fn running_only_when_every_node_runs() {
        assert_eq!(service_state(true, &[]), "REBUILDING");
        assert_eq!(
            service_state(true, &[st(NodeState::Running), st(NodeState::Unknown)]),
            "REBUILDING"
        );
        assert_eq!(
            service_state(true, &vec![st(NodeState::Running); 3]),
            "RUNNING"
        );
        assert_eq!(
            service_state(true, &[st(NodeState::Running), st(NodeState::Leaving)]),
            "REBALANCING"
        );
        assert_eq!(service_state(false, &[st(NodeState::Running)]), "POWEROFF");
    }

    #[test]
    fn no_runtime_never_reports_running() {
        let zones = vec!["a".to_string()];
        let nodes = crate::control::model::layout("s", "dc", [127, 0], 1, 3, &zones);
        let statuses = NoRuntime.status(&dummy(), &nodes);
        assert_eq!(statuses.len(), 3);
        assert_eq!(service_state(true, &statuses), "REBUILDING");
    }

    fn dummy() -> Service {
        Service {
            project: "p".into(),
            name: "s".into(),
            service_type: "cassandra".into(),
            plan: "business-4".into(),
            cloud: "aws-eu-west-1".into(),
            disk_space_mb: 1024,
            datacenter: "dc".into(),
            slot: 1,
            powered: true,
            termination_protection: false,
            pair_id: None,
            joined: None,
            user_config: serde_json::json!({}),
            admin_password: "x".into(),
            create_time: String::new(),
            update_time: String::new(),
        }
    }
}
