//! # runtime: where a service's nodes run
//!
//! The control plane decides what should run; a runtime makes it so. Each
//! runtime implements the control plane's `NodeRuntime` trait
//! (`control::runtime`): ensure a service's nodes run as laid out, remove
//! them, report their state, stop them with the daemon. The runtimes:
//!
//! - [`in_process`]: every node of every service inside the daemon's own
//!   process, one loopback address each (`127.0.{slot}.{i}`, as the control
//!   plane lays them out), data under the state directory, the simulated
//!   link between datacenters in their internode transport. This is the
//!   default of `ccrsim serve` and `ccrsim up`.
//! - [`docker`] (feature `docker`, on by default): every node of every
//!   service as a container of the `ccrsim-node` image, for `ccrsim serve
//!   --runtime docker`; [`docker::image`] finds or builds that image, and
//!   the test kit (`crate::testkit`) uses it too.
//!
//! A runtime also does what Aiven does for a user around the nodes: when a
//! service joins another as a CCR pair, the joining datacenter's nodes start
//! with the existing datacenter's first node as a seed, the keyspaces are
//! altered to name the new datacenter (user keyspaces with
//! NetworkTopologyStrategy, and the system keyspaces that must be
//! replicated to both: [`plans`]), and each new node rebuilds from the
//! existing datacenter, reporting progress, before the service is
//! `RUNNING`. Those steps, and leaving a pair and growing a datacenter, are
//! written once in [`join`]; each runtime says how a step is done on its
//! nodes.

#[cfg(feature = "docker")]
pub mod docker;
pub mod in_process;
pub(crate) mod join;
pub mod plans;

/// The cluster's name: one per pair, named after the service that was there
/// first, and kept in the service's directory (`base`) so that it never
/// changes (Cassandra refuses a node whose cluster name changed), not even
/// after a split.
pub(crate) async fn cluster_name(
    base: &std::path::Path,
    s: &crate::control::model::Service,
) -> String {
    let file = base.join("cluster_name");
    if let Ok(name) = tokio::fs::read_to_string(&file).await {
        return name;
    }
    let name = s.joined.clone().unwrap_or_else(|| s.name.clone());
    let written = async {
        tokio::fs::create_dir_all(base).await?;
        tokio::fs::write(&file, &name).await
    };
    if let Err(e) = written.await {
        tracing::error!("cannot keep the cluster name in {}: {e}", file.display());
    }
    name
}
