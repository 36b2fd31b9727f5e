//! The steps of joining a pair, growing a datacenter and leaving a pair,
//! written once for every runtime.
//!
//! What Aiven does around the nodes when a service joins another is the
//! same whatever runs them: wait until both datacenters' nodes see each
//! other, agree on the schema, alter the keyspaces for the new datacenter
//! ([`join_plan`]), agree again, then rebuild each new node from the
//! existing datacenter, showing progress. Leaving is the reverse
//! ([`leave_plan`], then each node decommissioned); growing a datacenter
//! rebuilds its new nodes from the others. A runtime says how each step is
//! done on its nodes by implementing [`Datacenter`] (the in-process runtime
//! calls its nodes directly; the Docker runtime goes through a driver
//! session and the nodes' admin port), and these functions say in what
//! order, with what deadlines and what progress.

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::control::model::{NodeLayout, Service};
use crate::control::runtime::{Peer, ProgressUpdate};
use crate::replication::KeyspaceInfo;
use crate::runtime::plans::{join_plan, leave_plan};

/// The file in a service's directory that records its join.
const MARKER: &str = "joined";

/// The progress a datacenter's nodes show while it joins or grows (`None`
/// when it is done).
pub(crate) type Progress = Option<Vec<ProgressUpdate>>;

/// The nodes' addresses.
pub(crate) fn addresses(nodes: &[NodeLayout]) -> Vec<IpAddr> {
    nodes.iter().map(|n| IpAddr::V4(n.address)).collect()
}

/// The peer a service still has to join: its CCR peer, unless the marker
/// in its directory `base` says the join was done (a restart does not join
/// again).
pub(crate) async fn pending<'p>(
    base: &Path,
    service: &Service,
    peer: Option<&'p Peer>,
) -> Option<&'p Peer> {
    let peer = peer.filter(|_| service.joined.is_some())?;
    let done = tokio::fs::try_exists(base.join(MARKER))
        .await
        .unwrap_or(false);
    (!done).then_some(peer)
}

/// Joins `service`'s datacenter (`mine`) to `peer`'s ([`join`]) and records
/// it in `base`. The error is what the service's nodes show.
pub(crate) async fn join_once(
    dc: &impl Datacenter,
    base: &Path,
    service: &Service,
    mine: &[IpAddr],
    peer: &Peer,
    progress: impl Fn(Progress),
) -> Result<(), String> {
    let theirs = addresses(&peer.nodes);
    let j = Join {
        mine,
        my_dc: &service.datacenter,
        theirs: &theirs,
        their_dc: &peer.service.datacenter,
    };
    if let Err(e) = join(dc, &j, |steps| progress(Some(steps))).await {
        tracing::error!(service = %service.name, "joining {}: {e}", peer.service.name);
        return Err(format!("joining {}: {e}", peer.service.name));
    }
    if let Err(e) = tokio::fs::write(base.join(MARKER), peer.service.name.as_bytes()).await {
        tracing::error!("cannot record the join of {}: {e}", service.name);
    }
    progress(None);
    Ok(())
}

/// How long the nodes of both datacenters have to come up and agree.
const JOIN_DEADLINE: Duration = Duration::from_secs(120);
/// How long a leaving datacenter waits for the other to take the new schema.
const LEAVE_AGREEMENT: Duration = Duration::from_secs(30);

/// The steps a runtime knows how to take on a datacenter's nodes. Each
/// implementation decides where it looks from and where statements run
/// (the nodes of the datacenter that holds the roles).
#[allow(async_fn_in_trait)]
pub(crate) trait Datacenter {
    /// Waits until every node of `want` is seen up, or `deadline` passes.
    async fn await_up(&self, want: &[IpAddr], deadline: Instant) -> Result<(), String>;
    /// Waits until the nodes of `among` agree on the schema (nodes seen
    /// down count as agreeing when `skip_down`), or `deadline` passes.
    async fn await_agreement(
        &self,
        among: &[IpAddr],
        skip_down: bool,
        deadline: Instant,
    ) -> Result<(), String>;
    /// The keyspaces and their replication, as `system_schema.keyspaces`.
    async fn keyspaces(&self) -> Result<Vec<KeyspaceInfo>, String>;
    /// Runs the statements in order, stopping at the first error.
    async fn run(&self, plan: &[String]) -> Result<(), String>;
    /// `nodetool rebuild -- source_dc` on `node`, once it sees its own
    /// datacenter (`mine`) up and agreeing, or `deadline` passes.
    async fn rebuild(
        &self,
        node: IpAddr,
        mine: &[IpAddr],
        source_dc: &str,
        deadline: Instant,
    ) -> Result<(), String>;
    /// `nodetool decommission` on `node`.
    async fn decommission(&self, node: IpAddr) -> Result<(), String>;
}

/// The datacenter joining a pair, and the one it joins.
pub(crate) struct Join<'a> {
    pub mine: &'a [IpAddr],
    pub my_dc: &'a str,
    pub theirs: &'a [IpAddr],
    pub their_dc: &'a str,
}

/// Joins `mine` to `theirs`: every node up, the schema agreed, the
/// keyspaces altered, the schema agreed again, each new node rebuilt.
/// `progress` receives each step (see [`join_steps`]).
pub(crate) async fn join(
    dc: &impl Datacenter,
    j: &Join<'_>,
    progress: impl Fn(Vec<ProgressUpdate>),
) -> Result<(), String> {
    progress(join_steps("prepare", 0, 1));
    let everyone: Vec<IpAddr> = j.mine.iter().chain(j.theirs).copied().collect();
    let deadline = Instant::now() + JOIN_DEADLINE;
    dc.await_up(&everyone, deadline).await.map_err(|e| {
        format!("the nodes of both datacenters did not all come up within 120 s: {e}")
    })?;
    // The existing datacenter's schema has arrived once its first node
    // reports ours.
    dc.await_agreement(&j.theirs[..j.theirs.len().min(1)], false, deadline)
        .await
        .map_err(|e| format!("schema agreement with the existing datacenter timed out: {e}"))?;
    let plan = join_plan(
        &dc.keyspaces().await?,
        j.their_dc,
        j.theirs.len() as u32,
        j.my_dc,
        j.mine.len() as u32,
    );
    dc.run(&plan).await?;
    dc.await_agreement(&everyone, false, deadline)
        .await
        .map_err(|e| format!("schema agreement after altering the keyspaces timed out: {e}"))?;
    let total = j.mine.len() as u64;
    progress(join_steps("stream", 0, total));
    // The new nodes stream at once, each from the whole other datacenter.
    let (done, progress) = (&AtomicU64::new(0), &progress);
    let rebuilds = j.mine.iter().map(|a| async move {
        let r = dc.rebuild(*a, j.mine, j.their_dc, deadline).await;
        if r.is_ok() {
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            progress(join_steps("stream", n, total));
        }
        r
    });
    futures_util::future::join_all(rebuilds)
        .await
        .into_iter()
        .collect::<Result<Vec<()>, String>>()
        .map(|_| ())
}

/// Grows a datacenter: once its nodes are up and agree, each new node
/// streams its ranges from the others. Failures are logged: the nodes
/// serve anyway, as Cassandra's do after a failed rebuild.
pub(crate) async fn grow(
    dc: &impl Datacenter,
    service: &str,
    mine: &[IpAddr],
    my_dc: &str,
    new: &[IpAddr],
    progress: impl Fn(Progress),
) {
    let deadline = Instant::now() + JOIN_DEADLINE;
    progress(Some(stream_steps(0, new.len() as u64)));
    if let Err(e) = dc.await_up(mine, deadline).await {
        tracing::error!(service, "bootstrap: {e}");
    }
    // The keyspaces reach new nodes by gossip.
    if let Err(e) = dc.await_agreement(mine, false, deadline).await {
        tracing::error!(service, "bootstrap: {e}");
    }
    let (done, progress) = (&AtomicU64::new(0), &progress);
    let rebuilds = new.iter().map(|a| async move {
        if let Err(e) = dc.rebuild(*a, mine, my_dc, deadline).await {
            tracing::error!(service, "bootstrap of {a}: {e}");
        }
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(Some(stream_steps(n, new.len() as u64)));
    });
    futures_util::future::join_all(rebuilds).await;
    progress(None);
}

/// Leaves a pair: the keyspaces stop naming `my_dc`, the other datacenter
/// takes the new schema (or `LEAVE_AGREEMENT` passes), then each node
/// leaves the ring, announced, so the other datacenter forgets it.
/// Failures are logged: the service is going away.
pub(crate) async fn leave(
    dc: &impl Datacenter,
    service: &str,
    mine: &[IpAddr],
    my_dc: &str,
    theirs: &[IpAddr],
) {
    let altered = async {
        let plan = leave_plan(&dc.keyspaces().await?, my_dc);
        dc.run(&plan).await
    };
    if let Err(e) = altered.await {
        tracing::error!(service, "{my_dc} leaving the pair: {e}");
    }
    let _ = dc
        .await_agreement(theirs, true, Instant::now() + LEAVE_AGREEMENT)
        .await;
    for a in mine {
        if let Err(e) = dc.decommission(*a).await {
            tracing::warn!("decommission of {a}: {e}");
        }
    }
}

/// The progress a joining datacenter's nodes show: `prepare` (keyspaces
/// altered, one step), then `stream` (`current` of `max` nodes rebuilt).
pub(crate) fn join_steps(phase: &'static str, current: u64, max: u64) -> Vec<ProgressUpdate> {
    let mut steps = vec![ProgressUpdate {
        phase: "prepare",
        completed: phase != "prepare",
        current: if phase == "prepare" { current } else { 1 },
        max: 1,
        unit: "keyspaces",
    }];
    if phase == "stream" {
        steps.extend(stream_steps(current, max));
    }
    steps
}

/// The progress of new nodes streaming: `current` of `max` rebuilt.
fn stream_steps(current: u64, max: u64) -> Vec<ProgressUpdate> {
    vec![ProgressUpdate {
        phase: "stream",
        completed: current >= max,
        current,
        max,
        unit: "nodes",
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A datacenter that records the steps asked of it.
    #[derive(Default)]
    struct Recorder {
        log: RefCell<Vec<String>>,
        fail_rebuild: bool,
    }

    impl Datacenter for Recorder {
        async fn await_up(&self, want: &[IpAddr], _: Instant) -> Result<(), String> {
            self.log.borrow_mut().push(format!("up {}", want.len()));
            Ok(())
        }
        async fn await_agreement(
            &self,
            among: &[IpAddr],
            skip_down: bool,
            _: Instant,
        ) -> Result<(), String> {
            self.log
                .borrow_mut()
                .push(format!("agree {} {skip_down}", among.len()));
            Ok(())
        }
        async fn keyspaces(&self) -> Result<Vec<KeyspaceInfo>, String> {
            Ok(vec![crate::runtime::plans::keyspace_info(
                "app",
                &[
                    (
                        "class".to_string(),
                        "org.apache.cassandra.locator.NetworkTopologyStrategy".to_string(),
                    ),
                    ("dc1".to_string(), "3".to_string()),
                ]
                .into(),
            )])
        }
        async fn run(&self, plan: &[String]) -> Result<(), String> {
            self.log.borrow_mut().extend(plan.iter().cloned());
            Ok(())
        }
        async fn rebuild(
            &self,
            node: IpAddr,
            _: &[IpAddr],
            source: &str,
            _: Instant,
        ) -> Result<(), String> {
            self.log
                .borrow_mut()
                .push(format!("rebuild {node} from {source}"));
            if self.fail_rebuild {
                Err("stream failed".into())
            } else {
                Ok(())
            }
        }
        async fn decommission(&self, node: IpAddr) -> Result<(), String> {
            self.log.borrow_mut().push(format!("decommission {node}"));
            Ok(())
        }
    }

    fn ips(third: u8, n: u8) -> Vec<IpAddr> {
        (1..=n).map(|i| IpAddr::from([127, 0, third, i])).collect()
    }

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_join_alters_then_rebuilds_each_new_node_with_progress() {
        let dc = Recorder::default();
        let (mine, theirs) = (ips(2, 2), ips(1, 3));
        let j = Join {
            mine: &mine,
            my_dc: "dc2",
            theirs: &theirs,
            their_dc: "dc1",
        };
        let shown = RefCell::new(Vec::new());
        run(join(&dc, &j, |p| shown.borrow_mut().push(p))).unwrap();
        let log = dc.log.borrow();
        assert_eq!(log[0], "up 5");
        assert_eq!(log[1], "agree 1 false");
        assert!(log[2].starts_with("ALTER KEYSPACE"), "{log:?}");
        assert!(
            log[2].contains("'dc2': 2") || log[2].contains("'dc2': '2'"),
            "{log:?}"
        );
        assert_eq!(
            &log[log.len() - 3..],
            [
                "agree 5 false",
                "rebuild 127.0.2.1 from dc1",
                "rebuild 127.0.2.2 from dc1"
            ]
        );
        let shown = shown.borrow();
        assert_eq!(shown.len(), 4);
        assert_eq!(shown[0], join_steps("prepare", 0, 1));
        assert_eq!(shown[3], join_steps("stream", 2, 2));
        assert!(shown[3].iter().all(|s| s.completed));
    }

    #[test]
    fn a_failed_rebuild_fails_the_join() {
        let dc = Recorder {
            fail_rebuild: true,
            ..Default::default()
        };
        let (mine, theirs) = (ips(2, 1), ips(1, 1));
        let j = Join {
            mine: &mine,
            my_dc: "dc2",
            theirs: &theirs,
            their_dc: "dc1",
        };
        assert_eq!(run(join(&dc, &j, |_| {})), Err("stream failed".to_string()));
    }

    #[test]
    fn leaving_alters_waits_for_the_other_side_then_decommissions() {
        let dc = Recorder::default();
        let (mine, theirs) = (ips(2, 2), ips(1, 3));
        run(leave(&dc, "svc2", &mine, "dc2", &theirs));
        let log = dc.log.borrow();
        assert_eq!(
            &log[log.len() - 3..],
            [
                "agree 3 true",
                "decommission 127.0.2.1",
                "decommission 127.0.2.2"
            ]
        );
    }

    #[test]
    fn growing_rebuilds_only_the_new_nodes_and_goes_on_after_a_failure() {
        let dc = Recorder {
            fail_rebuild: true,
            ..Default::default()
        };
        let mine = ips(1, 4);
        let shown = RefCell::new(Vec::new());
        run(grow(&dc, "svc", &mine, "dc1", &mine[2..], |p| {
            shown.borrow_mut().push(p)
        }));
        assert_eq!(
            *dc.log.borrow(),
            [
                "up 4",
                "agree 4 false",
                "rebuild 127.0.1.3 from dc1",
                "rebuild 127.0.1.4 from dc1"
            ]
        );
    }
}
