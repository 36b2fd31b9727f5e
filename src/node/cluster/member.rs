//! A node's cluster side, running: the gossip loop, the internode
//! handler, and what follows from what gossip learns (peers in
//! `system.peers`, client events, schema exchange). It assembles the
//! node's [`Membership`], its [`Replica`] side and its [`Coordinator`].

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::node::cluster::coordinator::Coordinator;
use crate::node::cluster::gossip::{AppState, EndpointState, GossipEvent, Gossiper, Status};
use crate::node::cluster::hints;
use crate::node::cluster::membership::Membership;
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::nodetool::{self, Managed};
use crate::node::cluster::repair;
use crate::node::cluster::replica::Replica;
use crate::node::cluster::schema_sync;
use crate::node::cluster::settle;
use crate::node::cluster::transport::{Faults, Handler, Transport};
use crate::node::cql::exec::Engine;
use crate::node::db::schema::log::Absorbed;
use crate::node::db::storage::Mutation;
use crate::node::db::system::NodeInfo;
use crate::node::locator::placement::Ring;
use crate::node::transport::protocol::frame::Event;
use crate::node::transport::server::BoxFuture;

/// Where a node keeps its peers' last known states (its ring), in the
/// metadata store: Cassandra's `system.peers`, read back at start.
const SAVED_RING: &[u8] = b"ring/peers";

/// Writes the peers' states gossip holds now as the ring kept on disk (blocking).
fn save_ring_now(membership: &Membership, engine: &Engine, me: IpAddr) {
    let states: Vec<EndpointState> = membership
        .states()
        .into_iter()
        .filter(|s| s.address != me && s.app.status != Status::Left)
        .collect();
    let bytes = crate::node::cluster::message::encode_states(&states);
    if let Err(e) = engine.storage.put_meta(SAVED_RING, &bytes) {
        tracing::warn!("cannot keep the ring: {e}");
    }
}

/// A rebuild's scans in flight at once.
const REBUILD_STREAMS: usize = 32;

/// Gossip timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GossipSettings {
    pub interval: Duration,
    /// Silence after which a peer is marked down.
    pub convict_after: Duration,
}

/// The coordinator's timeouts, the hint window and hinted handoff's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub write: Duration,
    pub read: Duration,
    pub max_hint_window: Duration,
    pub hints: hints::HintedHandoff,
}

impl Default for GossipSettings {
    fn default() -> Self {
        GossipSettings {
            interval: Duration::from_millis(1000),
            convict_after: Duration::from_millis(4000),
        }
    }
}

/// The state the handler and the gossip loop share: the node's membership
/// and its replica side, with what the gossip loop adds (the transport,
/// client events, hint replay).
pub struct Core {
    transport: OnceLock<Arc<Transport>>,
    membership: Arc<Membership>,
    replica: Arc<Replica>,
    engine: Arc<Engine>,
    client_events: broadcast::Sender<Event>,
    /// `nodetool pausehandoff`: hints are kept but not sent.
    pub hints_paused: AtomicBool,
    replaying: AtomicBool,
    /// One write of the saved ring at a time.
    saving_ring: Arc<std::sync::Mutex<()>>,
    /// Gossip rounds so far, and the data size last measured (LOAD).
    rounds: AtomicU64,
    /// Numbers `nodetool repair` commands.
    repairs: std::sync::atomic::AtomicU32,
    /// Whether the node started from a ring saved on disk (a restart).
    restored_ring: bool,
    load: Arc<AtomicU64>,
}

/// A node's cluster side, running.
pub struct Member {
    pub core: Arc<Core>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn node_info(s: &EndpointState, storage_port: u16) -> NodeInfo {
    NodeInfo {
        host_id: s.app.host_id,
        datacenter: s.app.datacenter.clone(),
        rack: s.app.rack.clone(),
        listen_address: s.address,
        listen_port: storage_port,
        broadcast_address: s.address,
        rpc_address: s.app.rpc_address,
        native_port: s.app.native_port,
        tokens: s.app.tokens.clone(),
        schema_version: s.app.schema_version,
        release_version: s.app.release_version.clone(),
    }
}

impl Core {
    /// Keeps the peers' states on disk (off the async threads), so that a
    /// restart knows the ring before gossip has heard from anyone. The
    /// states are read when the write happens: the newest always wins.
    fn save_ring(&self) {
        let (membership, engine) = (self.membership.clone(), self.engine.clone());
        let (lock, mine) = (self.saving_ring.clone(), self.transport().me());
        tokio::task::spawn_blocking(move || {
            let _one_at_a_time = lock.lock().unwrap_or_else(|e| e.into_inner());
            save_ring_now(&membership, &engine, mine);
        });
    }

    /// Sends kept hints to the replicas that are up again, one pass at a
    /// time: a [`Delivery`] decides what to send and when, this drives it.
    fn replay_hints(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.hints_paused.load(Ordering::Relaxed) || self.replaying.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let me = self.clone();
        tokio::spawn(async move {
            let replay = hints::replay::Replay {
                engine: &me.engine,
                membership: &me.membership,
                transport: me.transport(),
                paused: &me.hints_paused,
            };
            while replay.pass().await {}
            me.replaying.store(false, Ordering::Release);
        });
    }

    pub fn uptime_secs(&self) -> u64 {
        self.membership.uptime_secs()
    }

    /// `nodetool decommission`: streams every partition this node holds to
    /// the replicas that take its ranges once it is gone, then announces
    /// LEFT: the others drop it from the ring and from `system.peers`.
    pub async fn decommission(&self) -> Result<String, String> {
        let me = self.transport().me();
        {
            let mut g = self.membership.gossip();
            if g.local().app.status != Status::Normal {
                return Err("Unsupported operation: this node is not in the normal state".into());
            }
            g.update_local(|a| a.status = Status::Leaving);
        }
        self.announce_state();
        let before = self.ring();
        let after = Ring::new(
            before
                .nodes()
                .iter()
                .filter(|n| n.address != me)
                .cloned()
                .collect(),
        );
        let schema = self.engine.schema();
        let mut streamed = 0usize;
        for ks in schema.keyspaces.values() {
            if matches!(ks.meta.strategy, crate::node::db::schema::Strategy::Local) {
                continue;
            }
            for t in ks.tables.values() {
                let (engine, id) = (self.engine.clone(), t.id);
                let parts = tokio::task::spawn_blocking(move || {
                    engine
                        .storage
                        .scan(&id, None, i64::MIN, i64::MAX, usize::MAX)
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                for p in parts {
                    let old = before.replicas(&ks.meta.strategy, p.token);
                    if !old.contains(&me) {
                        continue;
                    }
                    let gaining: Vec<IpAddr> = after
                        .replicas(&ks.meta.strategy, p.token)
                        .into_iter()
                        .filter(|r| !old.contains(r))
                        .collect();
                    if gaining.is_empty() {
                        continue;
                    }
                    let bytes = p.into_mutation(t.id).encode();
                    for r in gaining {
                        let body = Body::Mutation {
                            mutation: bytes.clone(),
                            durable: ks.meta.durable_writes,
                            forward_to: Vec::new(),
                            commit: None,
                        };
                        match self
                            .transport()
                            .request(r, body, Duration::from_secs(10))
                            .await
                        {
                            Ok(Message {
                                body: Body::MutationAck,
                                ..
                            }) => streamed += 1,
                            _ => {
                                // Back to normal: the node keeps its ranges.
                                self.membership
                                    .gossip()
                                    .update_local(|a| a.status = Status::Normal);
                                self.announce_state();
                                return Err(format!(
                                    "decommission failed: {r} did not take data of {}.{}",
                                    t.keyspace, t.name
                                ));
                            }
                        }
                    }
                }
            }
        }
        self.membership
            .gossip()
            .update_local(|a| a.status = Status::Left);
        self.announce_state();
        self.membership.rebuild_ring();
        tracing::info!("decommissioned: {streamed} partition copies streamed away");
        Ok(String::new())
    }

    /// Sends this node's current states to every known node at once.
    fn announce_state(&self) {
        let states = self.membership.gossip().all_states();
        let t = self.transport().clone();
        for s in &states {
            if s.address == t.me() {
                continue;
            }
            t.send(
                s.address,
                &Message {
                    id: t.next_id(),
                    from: t.me(),
                    reply_to: t.me(),
                    body: Body::GossipSyn(states.clone()),
                },
            );
        }
    }

    /// `nodetool rebuild -- SOURCE_DC`: copies, from the nodes of
    /// `source_dc`, every partition of every keyspace that this node is a
    /// replica of (what a datacenter that joined needs after its keyspaces
    /// were altered to include it).
    pub async fn rebuild(&self, source_dc: &str) -> Result<String, String> {
        let sources: Vec<IpAddr> = self
            .states()
            .iter()
            .filter(|s| s.app.datacenter == source_dc && self.is_alive(&s.address))
            .map(|s| s.address)
            .collect();
        if sources.is_empty() {
            return Err(format!(
                "rebuild: no live node in datacenter {source_dc} to stream from"
            ));
        }
        let me = self.transport().me();
        let schema = self.engine.schema();
        let ring = self.ring();
        // Every table from every source at once (at most REBUILD_STREAMS
        // in flight): the sources are across the pair's link, and one
        // request after another cost a round trip each.
        let mut asks = Vec::new();
        for ks in schema.keyspaces.values() {
            if matches!(ks.meta.strategy, crate::node::db::schema::Strategy::Local) {
                continue;
            }
            for t in ks.tables.values() {
                asks.extend(sources.iter().map(|src| (*src, ks, t)));
            }
        }
        let slots = Arc::new(tokio::sync::Semaphore::new(REBUILD_STREAMS));
        let mut scans = tokio::task::JoinSet::new();
        for (i, (src, _, t)) in asks.iter().enumerate() {
            let (transport, slots, (src, table)) =
                (self.transport().clone(), slots.clone(), (*src, t.id));
            scans.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let scan = Body::Scan {
                    table,
                    start: i64::MIN,
                    end: i64::MAX,
                };
                (
                    i,
                    transport.request(src, scan, Duration::from_secs(120)).await,
                )
            });
        }
        let mut streamed = 0usize;
        while let Some(done) = scans.join_next().await {
            let (i, reply) = done.map_err(|e| format!("rebuild: {e}"))?;
            let (src, ks, t) = asks[i];
            let reply = reply.map_err(|e| {
                format!(
                    "rebuild: streaming {}.{} from {src}: {e}",
                    t.keyspace, t.name
                )
            })?;
            let Body::Partitions(ps) = reply.body else {
                return Err(format!(
                    "rebuild: {src} did not send {}.{}",
                    t.keyspace, t.name
                ));
            };
            let mine: Vec<Mutation> = ps
                .iter()
                .filter_map(|b| Mutation::decode(b).ok())
                .filter(|m| ring.replicas(&ks.meta.strategy, m.token).contains(&me))
                .collect();
            streamed += mine.len();
            let (engine, durable) = (self.engine.clone(), ks.meta.durable_writes);
            tokio::task::spawn_blocking(move || {
                for m in &mine {
                    engine.storage.apply(m, durable)?;
                }
                Ok::<_, crate::node::db::storage::StorageError>(())
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        }
        tracing::info!("rebuild from {source_dc}: {streamed} partitions streamed");
        Ok(String::new())
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// This replica's Paxos state of one partition, changed by `f` (see
    /// [`Replica::with_paxos`]).
    pub fn with_paxos<R>(
        &self,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        f: impl FnOnce(&mut crate::node::cluster::paxos::State) -> R,
    ) -> Result<R, crate::node::db::storage::StorageError> {
        self.replica.with_paxos(table, token, key, f)
    }

    /// The ring of the nodes that own tokens (up or down).
    pub fn ring(&self) -> Arc<Ring> {
        self.membership.ring()
    }

    /// The node's membership: gossip's state and the ring.
    pub fn membership(&self) -> &Arc<Membership> {
        &self.membership
    }

    pub fn transport(&self) -> &Arc<Transport> {
        self.transport.get().expect("transport set at start")
    }

    /// Whether a node is up, as gossip sees it.
    pub fn is_alive(&self, addr: &IpAddr) -> bool {
        self.membership.is_alive(addr)
    }

    /// Every known node's state (this node's included).
    pub fn states(&self) -> Vec<EndpointState> {
        self.membership.states()
    }

    /// Acts on what gossip learnt: peers for `system.peers`, client events.
    /// `system.peers` as gossip holds it now.
    fn refresh_peers(&self) {
        let peers: Vec<NodeInfo> = {
            let g = self.membership.gossip();
            let me = g.me();
            let port = self.engine.local_info().listen_port;
            g.states()
                .filter(|s| s.address != me && s.app.status != Status::Left)
                .map(|s| node_info(s, port))
                .collect()
        };
        self.engine.set_peers(peers);
    }

    fn apply(&self, events: Vec<GossipEvent>) {
        if events.is_empty() {
            return;
        }
        let (peers, native): (Vec<NodeInfo>, Vec<(IpAddr, SocketAddr)>) = {
            let g = self.membership.gossip();
            let me = g.me();
            let port = self.engine.local_info().listen_port;
            let peers = g
                .states()
                .filter(|s| s.address != me && s.app.status != Status::Left)
                .map(|s| node_info(s, port))
                .collect();
            let native = g
                .states()
                .map(|s| {
                    (
                        s.address,
                        SocketAddr::new(s.app.rpc_address, s.app.native_port),
                    )
                })
                .collect();
            (peers, native)
        };
        self.engine.set_peers(peers);
        self.membership.rebuild_ring();
        if events
            .iter()
            .any(|e| matches!(e, GossipEvent::Joined(_) | GossipEvent::Changed(_)))
        {
            self.save_ring();
        }
        let addr_of = |a: &IpAddr| native.iter().find(|(x, _)| x == a).map(|(_, n)| *n);
        self.membership.note_down_and_up(&events);
        for e in events {
            let ev = match &e {
                GossipEvent::Joined(a) => addr_of(a).map(|address| Event::TopologyChange {
                    change: "NEW_NODE",
                    address,
                }),
                GossipEvent::Up(a) => addr_of(a).map(|address| Event::StatusChange {
                    change: "UP",
                    address,
                }),
                GossipEvent::Down(a) => addr_of(a).map(|address| Event::StatusChange {
                    change: "DOWN",
                    address,
                }),
                GossipEvent::Changed(_) => None,
            };
            // Joins, ups and downs are news; a changed state (a load or
            // schema update) is routine.
            if matches!(e, GossipEvent::Changed(_)) {
                tracing::debug!("gossip: {e:?}");
            } else {
                tracing::info!("gossip: {e:?}");
            }
            if let Some(ev) = ev {
                let _ = self.client_events.send(ev);
            }
        }
    }

    /// Forgets every node of datacenter `dc` for good (a split pair): out
    /// of gossip, the ring and the ring kept on disk, so that a restart
    /// does not bring them back.
    pub async fn forget_datacenter(&self, dc: &str) {
        {
            let mut g = self.membership.gossip();
            let gone: Vec<IpAddr> = g
                .states()
                .filter(|s| s.app.datacenter == dc && s.address != g.me())
                .map(|s| s.address)
                .collect();
            for a in gone {
                g.forget(&a);
            }
        }
        self.membership.rebuild_ring();
        let (membership, engine) = (self.membership.clone(), self.engine.clone());
        let (lock, mine) = (self.saving_ring.clone(), self.transport().me());
        let _ = tokio::task::spawn_blocking(move || {
            let _one_at_a_time = lock.lock().unwrap_or_else(|e| e.into_inner());
            save_ring_now(&membership, &engine, mine);
        })
        .await;
    }

    /// Pushes this node's schema log to every live peer (after DDL) and
    /// waits, at most [`schema_sync::PUSH_WAIT`], for each to merge it; the
    /// versions they answer are noted (see [`schema_sync`]).
    pub async fn push_schema(self: &Arc<Self>) {
        let engine = self.engine.clone();
        let Ok(Ok(json)) = tokio::task::spawn_blocking(move || engine.schema_export()).await else {
            return;
        };
        let t = self.transport().clone();
        let peers: Vec<IpAddr> = {
            let g = self.membership.gossip();
            g.live_peers().copied().collect()
        };
        let mut asked = tokio::task::JoinSet::new();
        for p in peers {
            let (t, body) = (t.clone(), Body::SchemaPush(json.clone()));
            asked.spawn(async move { t.request(p, body, schema_sync::PUSH_WAIT).await });
        }
        while let Some(answer) = asked.join_next().await {
            if let Ok(Ok(Message {
                from,
                body: Body::SchemaMerged { version, json },
                ..
            })) = answer
            {
                self.schema_merged(from, version, json).await;
            }
        }
    }

    /// A peer's answer to a push: its log if it had more, and its version.
    async fn schema_merged(self: &Arc<Self>, from: IpAddr, version: [u8; 16], json: Vec<u8>) {
        if !json.is_empty() {
            self.adopt(json).await;
        }
        self.membership.gossip().note_schema(&from, version);
        self.refresh_peers();
    }

    /// Waits until gossip has settled ([`settle`]), polling four times a
    /// round; how long it took.
    pub async fn wait_to_settle(&self, alone_ok: bool, settings: GossipSettings) -> Duration {
        let started = tokio::time::Instant::now();
        let mut rule = settle::Settle::new(alone_ok, self.restored_ring, settings.convict_after);
        loop {
            let seen = {
                let g = self.membership.gossip();
                let me = g.me();
                let peers: Vec<IpAddr> = g
                    .states()
                    .filter(|s| s.address != me && s.app.status != Status::Left)
                    .map(|s| s.address)
                    .collect();
                settle::Seen {
                    peers: peers.len(),
                    up: peers.iter().filter(|a| g.is_alive(a)).count(),
                    round: self.rounds.load(std::sync::atomic::Ordering::Relaxed),
                    waited: started.elapsed(),
                }
            };
            if rule.poll(seen) {
                return started.elapsed();
            }
            tokio::time::sleep(settings.interval / 4).await;
        }
    }

    fn round(self: &Arc<Self>) {
        let now = self.membership.now();
        let version = self.engine.schema().version();
        // The data size on disk, measured every ten rounds off the async threads.
        let round = self
            .rounds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if round.is_multiple_of(10) {
            let (engine, load) = (self.engine.clone(), self.load.clone());
            tokio::task::spawn_blocking(move || {
                load.store(
                    engine.storage.disk_usage(),
                    std::sync::atomic::Ordering::Relaxed,
                )
            });
        }
        let load = self.load.load(std::sync::atomic::Ordering::Relaxed);
        let (targets, events, states, differing) = {
            let mut g = self.membership.gossip();
            if g.local().app.schema_version != version {
                g.update_local(|a| a.schema_version = version);
            }
            if g.local().app.load != load {
                g.update_local(|a| a.load = load);
            }
            let (targets, events) = g.tick(now);
            // A live peer with another schema: exchange logs with it.
            let differing = schema_sync::pick(
                version,
                g.states()
                    .filter(|s| s.address != g.me() && g.is_alive(&s.address))
                    .map(|s| (s.address, s.app.schema_version)),
                round.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7,
            );
            (targets, events, g.all_states(), differing)
        };
        self.apply(events);
        let t = self.transport().clone();
        for target in targets {
            t.send(
                target,
                &Message {
                    id: t.next_id(),
                    from: t.me(),
                    reply_to: t.me(),
                    body: Body::GossipSyn(states.clone()),
                },
            );
        }
        if let Some(peer) = differing {
            let engine = self.engine.clone();
            tokio::spawn(async move {
                let Ok(Ok(json)) =
                    tokio::task::spawn_blocking(move || engine.schema_export()).await
                else {
                    return;
                };
                t.send(
                    peer,
                    &Message {
                        id: t.next_id(),
                        from: t.me(),
                        reply_to: t.me(),
                        body: Body::SchemaPush(json),
                    },
                );
            });
        }
    }

    /// Announces a clean shutdown so peers mark this node down at once.
    fn announce_shutdown(&self) {
        let left = {
            let mut g = self.membership.gossip();
            let left = g.local().app.status == Status::Left;
            if !left {
                g.update_local(|a| a.status = Status::Shutdown);
            }
            left
        };
        if !left {
            self.announce_state();
        }
    }

    /// Merges a peer's schema log (storage work, off the async threads);
    /// a change shows in this node's gossip state at once. Returns what the
    /// merge did, or None when the log was unusable.
    async fn adopt(&self, json: Vec<u8>) -> Option<Absorbed> {
        let engine = self.engine.clone();
        let absorbed = match tokio::task::spawn_blocking(move || engine.adopt_schema(&json)).await {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                tracing::warn!("schema from a peer not adopted: {e}");
                return None;
            }
            Err(_) => return None,
        };
        if absorbed.changed {
            let version = self.engine.schema().version();
            self.membership
                .gossip()
                .update_local(|a| a.schema_version = version);
        }
        Some(absorbed)
    }
}

impl Handler for Core {
    fn handle(self: Arc<Self>, msg: Message) -> BoxFuture<Option<Body>> {
        Box::pin(async move {
            match msg.body {
                Body::GossipSyn(states) => {
                    let now = self.membership.now();
                    let (reply, events) = self.membership.gossip().on_syn(states, now);
                    self.apply(events);
                    Some(Body::GossipAck(reply))
                }
                Body::GossipAck(states) => {
                    let now = self.membership.now();
                    let events = self.membership.gossip().merge(states, now);
                    self.apply(events);
                    None
                }
                Body::SchemaPush(json) => {
                    let absorbed = self.adopt(json).await?;
                    let json = if absorbed.pusher_lacks {
                        let engine = self.engine.clone();
                        tokio::task::spawn_blocking(move || engine.schema_export())
                            .await
                            .ok()?
                            .ok()?
                    } else {
                        Vec::new()
                    };
                    Some(Body::SchemaMerged {
                        version: self.engine.schema().version(),
                        json,
                    })
                }
                Body::SchemaMerged { version, json } => {
                    self.schema_merged(msg.from, version, json).await;
                    None
                }
                Body::Mutation {
                    mutation,
                    durable,
                    forward_to,
                    commit,
                } => {
                    // Relay first (same id; the coordinator gets the answers).
                    let t = self.transport().clone();
                    for f in &forward_to {
                        t.send(
                            *f,
                            &Message {
                                id: msg.id,
                                from: t.me(),
                                reply_to: msg.reply_to,
                                body: Body::Mutation {
                                    mutation: mutation.clone(),
                                    durable,
                                    forward_to: Vec::new(),
                                    commit,
                                },
                            },
                        );
                    }
                    Some(
                        self.replica
                            .clone()
                            .mutation(mutation, durable, commit)
                            .await,
                    )
                }
                Body::ReadPartition { table, token, key } => {
                    self.replica.clone().read_partition(table, token, key).await
                }
                Body::Scan { table, start, end } => {
                    self.replica.clone().scan(table, start, end).await
                }
                Body::MerkleRequest {
                    table,
                    start,
                    end,
                    depth,
                } => Some(repair::answer_tree(self.engine.clone(), table, start, end, depth).await),
                Body::Stream(parts) => {
                    Some(repair::answer_stream(self.engine.clone(), parts).await)
                }
                Body::Admin(args) => {
                    let (ok, text) = nodetool::run(&*self, args).await;
                    Some(Body::AdminReply { ok, text })
                }
                Body::PaxosPrepare {
                    table,
                    token,
                    key,
                    ballot,
                } => {
                    self.replica
                        .clone()
                        .prepare(table, token, key, ballot)
                        .await
                }
                Body::PaxosPropose {
                    table,
                    token,
                    key,
                    ballot,
                    update,
                } => {
                    self.replica
                        .clone()
                        .propose(table, token, key, ballot, update)
                        .await
                }
                Body::MutationAck
                | Body::MutationFailed(_)
                | Body::Partition(_)
                | Body::Partitions(_)
                | Body::AdminReply { .. }
                | Body::PaxosPromise(_)
                | Body::PaxosAccepted(_)
                | Body::MerkleLeaves(_) => None,
            }
        })
    }
}

impl Managed for Core {
    fn membership(&self) -> &Membership {
        &self.membership
    }

    fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    fn me(&self) -> IpAddr {
        self.transport().me()
    }

    fn hints_paused(&self) -> &AtomicBool {
        &self.hints_paused
    }

    fn rebuild(&self, source_dc: &str) -> impl Future<Output = Result<String, String>> + Send {
        Core::rebuild(self, source_dc)
    }

    fn decommission(&self) -> impl Future<Output = Result<String, String>> + Send {
        Core::decommission(self)
    }

    async fn repair(&self, args: Vec<String>) -> Result<String, String> {
        let node = repair::Node {
            engine: self.engine.clone(),
            membership: self.membership.clone(),
            transport: self.transport().clone(),
        };
        repair::run(node, &self.repairs, &args).await
    }
}

impl Member {
    /// Joins the cluster: listens for internode messages and starts gossiping.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        engine: Arc<Engine>,
        listen: IpAddr,
        storage_port: u16,
        app: AppState,
        seeds: Vec<IpAddr>,
        settings: GossipSettings,
        faults: Arc<Faults>,
        client_events: broadcast::Sender<Event>,
        timeouts: Timeouts,
    ) -> std::io::Result<Member> {
        let generation = i64::from(engine.gossip_generation);
        let seed = u64::from_be_bytes(app.host_id[..8].try_into().expect("8"));
        let gossip = Gossiper::new(
            listen,
            generation,
            app,
            seeds,
            settings.convict_after.as_millis() as u64,
            seed,
        );
        let storage = engine.storage.clone();
        let saved = tokio::task::spawn_blocking(move || storage.get_meta(SAVED_RING))
            .await
            .ok()
            .and_then(|r| r.ok())
            .flatten()
            .and_then(|b| crate::node::cluster::message::decode_states(&b).ok())
            .unwrap_or_default();
        let mut gossip = gossip;
        let restored_ring = !saved.is_empty();
        gossip.restore(saved);
        let membership = Arc::new(Membership::new(
            gossip,
            timeouts.max_hint_window,
            timeouts.hints,
        ));
        let replica = Arc::new(Replica::new(engine.clone()));
        let core = Arc::new(Core {
            transport: OnceLock::new(),
            membership: membership.clone(),
            replica: replica.clone(),
            engine,
            client_events,
            hints_paused: AtomicBool::new(false),
            replaying: AtomicBool::new(false),
            saving_ring: Arc::new(std::sync::Mutex::new(())),
            rounds: AtomicU64::new(0),
            repairs: std::sync::atomic::AtomicU32::new(0),
            restored_ring,
            load: Arc::new(AtomicU64::new(0)),
        });
        let transport = Transport::start(listen, storage_port, faults, core.clone()).await?;
        let _ = core.transport.set(transport.clone());
        membership.rebuild_ring();
        core.engine.set_replicator(Arc::new(Coordinator {
            replica: Arc::downgrade(&replica),
            membership,
            transport,
            write_timeout: timeouts.write,
            read_timeout: timeouts.read,
        }));
        let (stop, mut stopped) = watch::channel(false);
        let c = core.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(settings.interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = tick.tick() => {
                        c.round();
                        c.replay_hints();
                    }
                }
            }
        });
        Ok(Member { core, stop, task })
    }

    /// Tells the peers this node stops, then stops gossiping and listening.
    pub async fn stop(self) {
        self.core.announce_shutdown();
        // Give the announcement a moment to leave (bounded, not a wait for peers).
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = self.stop.send(true);
        let _ = self.task.await;
        self.core.transport().shutdown();
        // Hint replay holds the node until its pass ends, which a stopped
        // transport makes immediate: wait for it (bounded), so that the
        // node's storage is released when `stop` returns.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while self
            .core
            .replaying
            .load(std::sync::atomic::Ordering::Acquire)
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
