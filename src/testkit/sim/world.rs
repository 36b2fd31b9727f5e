//! The world: every simulated node, the network between them, one clock.
//!
//! A [`World`] holds two datacenters of [`SimNode`]s addressed as the real
//! tool addresses them (`127.0.1.x` in dc1, `127.0.2.x` in dc2), the
//! simulated [`Net`], a queue of timers, the virtual clock (milliseconds,
//! from 0) and the one [`Rng`] of the run. [`World::step`] takes the next
//! thing that happens, a timer or a message arrival, whichever is due
//! first (timers first at equal times, then in the order they were set or
//! sent), moves the clock to it and runs it to the end. Nothing runs
//! concurrently, so a run is a pure function of its seed and of the calls
//! the test makes.
//!
//! ## The nodes run the node's own code
//!
//! Each running node owns a real [`Gossiper`], built and driven the way
//! [`crate::node::cluster::member`] drives it:
//!
//! - a gossip round every `interval` from the node's start ([`Timer::Gossip`]),
//!   so nodes that start at different times tick at different phases: the
//!   round refreshes the LOAD every ten rounds (as `Core::round` does),
//!   calls [`Gossiper::tick`] with the node's clock, acts on its events and
//!   sends a `GossipSyn` with every known state to each target;
//! - a `GossipSyn` is answered with [`Gossiper::on_syn`]'s states in a
//!   `GossipAck` to the sender's `reply_to`, with the same id, as the
//!   transport answers; a `GossipAck` is [`Gossiper::merge`]d;
//! - the node's clock is milliseconds since it started, as
//!   [`crate::node::cluster::membership::Membership::now`]; its generation
//!   is the wall clock's seconds at start, as the engine's
//!   `gossip_generation` (the world's wall clock is [`EPOCH_SECS`] plus the
//!   virtual time);
//! - the timings are the node's defaults, [`GossipSettings::default`];
//! - messages are the real [`Message`]s; with [`WorldConfig::wire`] each is
//!   encoded and decoded on arrival, as it would cross a socket.
//!
//! ## Crashes, stops and restarts
//!
//! [`World::crash`] loses everything the node held in memory (its
//! gossiper, its timers, what was in flight to it) and keeps what a real
//! node keeps on disk: its host id and tokens. [`World::restart`] starts it
//! again with a fresh gossiper and a new generation. [`World::stop`] is the
//! clean shutdown: the node announces `Shutdown` to every node it knows, as
//! `Member::stop` does, then goes down.
//!
//! ## Growing the world
//!
//! The coordinator's rounds will need more: more [`Body`] kinds in
//! [`World::handle`], more timers in [`Timer`], per-life state in
//! [`Running`] and on-disk state in [`SimNode`]. Each is a plain field or
//! match arm; the event loop does not change.
//!
//! ## The trace
//!
//! Everything that happens is written to a trace (the last
//! [`WorldConfig::trace_cap`] lines are kept, and a hash of all of them),
//! which the harness prints when a property fails and compares across two
//! runs of one seed.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;

use super::net::{Arrival, Net, NetConfig, Sent};
use super::rng::Rng;
use super::trace::Trace;
use crate::node::cluster::gossip::{AppState, GossipEvent, Gossiper, Status};
use crate::node::cluster::member::GossipSettings;
use crate::node::cluster::message::{Body, Message};

/// The wall clock's seconds at virtual time 0 (a node's generation is
/// taken from the wall clock, as the real node's is).
pub const EPOCH_SECS: i64 = 1_700_000_000;

/// What a world is made of.
#[derive(Debug, Clone)]
pub struct WorldConfig {
    /// Nodes in dc1 and dc2.
    pub dc_sizes: [u8; 2],
    pub gossip: GossipSettings,
    pub net: NetConfig,
    /// Tokens per node (the node's default is 16; gossip only carries them).
    pub num_tokens: usize,
    /// Encode and decode every message on arrival, as a socket would.
    pub wire: bool,
    /// Trace lines kept (older ones are dropped, still counted and hashed).
    pub trace_cap: usize,
    /// Trace every message sent, delivered and dropped, not only events.
    pub trace_messages: bool,
    /// Nodes keep a schema and exchange it ([`super::schema`]); off, the
    /// schema version gossip carries is a constant.
    pub schema: bool,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            dc_sizes: [3, 3],
            gossip: GossipSettings::default(),
            net: NetConfig::default(),
            num_tokens: 4,
            wire: true,
            trace_cap: 4000,
            trace_messages: true,
            schema: false,
        }
    }
}

/// Something a node set to happen to itself later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// A gossip round (`Core::round`), and a hint delivery pass.
    Gossip,
    /// The deadline of one of the node's coordinator jobs (see [`super::data`]).
    Deadline(u64),
    /// The end of a lightweight transaction's pause after contention.
    Pause(u64),
    /// The hint sent as message `.0` has had no answer in time.
    HintTimeout(u64),
}

#[derive(Debug, Clone)]
struct TimerEntry {
    node: IpAddr,
    /// The life of the node that set it: a crash cancels its timers.
    life: u64,
    timer: Timer,
}

/// A node while it runs: what it loses when it crashes.
pub struct Running {
    /// World time at start (the node's clock reads 0 then).
    pub started_at: u64,
    pub gossip: Gossiper,
    /// The transport's message ids.
    pub next_id: u64,
    /// Gossip rounds so far.
    pub rounds: u64,
    /// Bytes on disk as last measured (gossip's LOAD).
    pub load: u64,
    /// What it coordinates (requests in flight, a hint delivery pass).
    pub work: super::state::Work,
}

impl Running {
    /// The node's clock at world time `now` (ms since it started).
    pub fn clock(&self, now: u64) -> u64 {
        now - self.started_at
    }
}

/// One node: what survives a crash, and its running part while it is up.
pub struct SimNode {
    pub addr: IpAddr,
    /// 1 or 2.
    pub dc: u8,
    /// On disk: the node's identity.
    pub host_id: [u8; 16],
    pub tokens: Vec<i64>,
    /// How many times it has started (1 for the first life).
    pub life: u64,
    /// None while down.
    pub running: Option<Running>,
    /// Bytes on disk (grows with the simulated data; survives a crash).
    pub disk_bytes: u64,
    /// The simulator's bookkeeping, not the node's: the highest
    /// (generation, version) any of its lives announced, which no view of
    /// it may pass ([`World::check_views`]).
    pub announced: (i64, u64),
    /// Data, Paxos state and hints: kept across crashes.
    pub disk: super::state::Disk,
}

impl SimNode {
    pub fn is_up(&self) -> bool {
        self.running.is_some()
    }

    pub fn datacenter(&self) -> String {
        format!("dc{}", self.dc)
    }
}

/// A gossip event a node acted on, with when and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub at: u64,
    pub node: IpAddr,
    pub event: GossipEvent,
}

/// The simulated cluster.
pub struct World {
    pub config: WorldConfig,
    /// Virtual time, ms.
    now: u64,
    pub rng: Rng,
    pub net: Net<Message>,
    pub nodes: BTreeMap<IpAddr, SimNode>,
    timers: BTreeMap<(u64, u64), TimerEntry>,
    timer_seq: u64,
    seeds: Vec<IpAddr>,
    trace: Trace,
    /// Gossip events since the last [`World::take_events`].
    events: Vec<Observed>,
    /// Clients' operations, in the order they were submitted.
    pub history: Vec<super::state::Op>,
    /// Makes clients' write timestamps unique.
    pub(super) clock_micros: u64,
}

/// A node's address: `127.0.<dc>.<i>`, as the real tool numbers them.
pub fn addr(dc: u8, i: u8) -> IpAddr {
    IpAddr::from([127, 0, dc, i])
}

fn short(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}", o[2], o[3])
        }
        IpAddr::V6(_) => a.to_string(),
    }
}

fn event_str(e: &GossipEvent) -> String {
    match e {
        GossipEvent::Joined(a) => format!("joined {}", short(a)),
        GossipEvent::Up(a) => format!("up {}", short(a)),
        GossipEvent::Down(a) => format!("down {}", short(a)),
        GossipEvent::Changed(a) => format!("changed {}", short(a)),
    }
}

fn body_str(b: &Body) -> String {
    match b {
        Body::GossipSyn(s) => format!("syn[{}]", s.len()),
        Body::GossipAck(s) => format!("ack[{}]", s.len()),
        other => {
            let dbg = format!("{other:?}");
            dbg.split(['(', ' ', '{']).next().unwrap_or("?").to_string()
        }
    }
}

impl World {
    /// A world of `config.dc_sizes` nodes, none started yet (see
    /// [`World::start`]); every random choice comes from `seed`.
    pub fn new(seed: u64, config: WorldConfig) -> World {
        let mut rng = Rng::new(seed);
        let mut net = Net::new(config.net);
        let mut nodes = BTreeMap::new();
        for (d, n) in config.dc_sizes.iter().enumerate() {
            let dc = d as u8 + 1;
            for i in 1..=*n {
                let a = addr(dc, i);
                let mut host_id = [0u8; 16];
                host_id[..8].copy_from_slice(&rng.next_u64().to_be_bytes());
                host_id[8..].copy_from_slice(&rng.next_u64().to_be_bytes());
                let mut tokens: Vec<i64> = (0..config.num_tokens)
                    .map(|_| rng.next_u64() as i64)
                    .collect();
                tokens.sort();
                net.add_node(a, dc);
                net.crash(a);
                nodes.insert(
                    a,
                    SimNode {
                        addr: a,
                        dc,
                        host_id,
                        tokens,
                        life: 0,
                        running: None,
                        disk_bytes: 0,
                        announced: (0, 0),
                        disk: Default::default(),
                    },
                );
            }
        }
        // Each datacenter's first node is a seed, as the runtime sets them.
        let seeds = config
            .dc_sizes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(d, _)| addr(d as u8 + 1, 1))
            .collect();
        let trace = Trace::new(config.trace_cap);
        let mut w = World {
            config,
            now: 0,
            rng,
            net,
            nodes,
            timers: BTreeMap::new(),
            timer_seq: 0,
            seeds,
            trace,
            events: Vec::new(),
            history: Vec::new(),
            clock_micros: 0,
        };
        w.note(format!("world seed={seed} {:?}", w.config));
        w
    }

    /// Virtual time, ms.
    pub fn now(&self) -> u64 {
        self.now
    }

    pub fn addrs(&self) -> Vec<IpAddr> {
        self.nodes.keys().copied().collect()
    }

    /// The nodes that are up.
    pub fn up(&self) -> Vec<IpAddr> {
        self.nodes
            .values()
            .filter(|n| n.is_up())
            .map(|n| n.addr)
            .collect()
    }

    pub fn dc_nodes(&self, dc: u8) -> Vec<IpAddr> {
        self.nodes
            .values()
            .filter(|n| n.dc == dc)
            .map(|n| n.addr)
            .collect()
    }

    pub fn is_up(&self, node: &IpAddr) -> bool {
        self.nodes.get(node).is_some_and(SimNode::is_up)
    }

    /// A running node's gossiper.
    pub fn gossip(&self, node: &IpAddr) -> Option<&Gossiper> {
        self.nodes
            .get(node)
            .and_then(|n| n.running.as_ref())
            .map(|r| &r.gossip)
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Writes a line to the trace, stamped with the time.
    pub fn note(&mut self, line: String) {
        self.trace.push(format!("{:>7} {line}", self.now));
    }

    /// The gossip events since the last call.
    pub fn take_events(&mut self) -> Vec<Observed> {
        std::mem::take(&mut self.events)
    }

    pub(super) fn set_timer(&mut self, at: u64, node: IpAddr, timer: Timer) {
        let life = self.nodes[&node].life;
        self.timer_seq += 1;
        self.timers
            .insert((at, self.timer_seq), TimerEntry { node, life, timer });
    }

    /// Starts a node that is down (its first start or a restart): a new
    /// life, a new generation, a fresh gossiper.
    pub fn start(&mut self, node: IpAddr) {
        let now = self.now;
        let convict_after = self.config.gossip.convict_after.as_millis() as u64;
        let seeds = self.seeds.clone();
        let n = self.nodes.get_mut(&node).expect("a node of the world");
        assert!(n.running.is_none(), "{node} is already up");
        n.life += 1;
        // Engine::open: the wall clock's seconds.
        let generation = EPOCH_SECS + (now / 1000) as i64;
        let app = AppState {
            host_id: n.host_id,
            datacenter: n.datacenter(),
            rack: "rack1".into(),
            tokens: n.tokens.clone(),
            status: Status::Normal,
            schema_version: if self.config.schema {
                n.disk.schema.schema().version()
            } else {
                [7; 16]
            },
            rpc_address: node,
            native_port: 9042,
            release_version: "4.1.3".into(),
            load: 0,
        };
        // Member::start: the gossiper's seed is the host id's first half.
        let seed = u64::from_be_bytes(n.host_id[..8].try_into().expect("8 bytes"));
        let mut gossip = Gossiper::new(node, generation, app, seeds, convict_after, seed);
        // Member::start: the ring kept on disk, known but down.
        if let Ok(saved) = crate::node::cluster::message::decode_states(&n.disk.saved_ring) {
            gossip.restore(saved);
        }
        n.running = Some(Running {
            started_at: now,
            gossip,
            next_id: 0,
            rounds: 0,
            load: 0,
            work: Default::default(),
        });
        let life = n.life;
        self.note_announced(node);
        self.net.restart(node);
        self.note(format!(
            "{} START life={life} generation={generation}",
            short(&node)
        ));
        // tokio's interval: the first tick completes at once.
        self.set_timer(now, node, Timer::Gossip);
    }

    /// Notes the node's own (generation, version) after it changed.
    pub(super) fn note_announced(&mut self, node: IpAddr) {
        let n = self.nodes.get_mut(&node).expect("a node");
        if let Some(r) = &n.running {
            let l = r.gossip.local();
            n.announced = n.announced.max((l.generation, l.version));
        }
    }

    /// The node dies: its memory, timers and incoming messages are lost.
    pub fn crash(&mut self, node: IpAddr) {
        let n = self.nodes.get_mut(&node).expect("a node of the world");
        if n.running.take().is_none() {
            return;
        }
        self.net.crash(node);
        self.note(format!("{} CRASH", short(&node)));
    }

    /// A crashed or stopped node starts again.
    pub fn restart(&mut self, node: IpAddr) {
        if !self.is_up(&node) {
            self.start(node);
        }
    }

    /// The clean shutdown (`Member::stop`): the node announces `Shutdown`
    /// to every node it knows, then goes down.
    pub fn stop(&mut self, node: IpAddr) {
        let Some(r) = self.nodes.get_mut(&node).and_then(|n| n.running.as_mut()) else {
            return;
        };
        r.gossip.update_local(|a| a.status = Status::Shutdown);
        let states = r.gossip.all_states();
        self.note_announced(node);
        self.note(format!("{} STOP (announcing shutdown)", short(&node)));
        for s in &states {
            if s.address != node {
                self.send_new(node, s.address, Body::GossipSyn(states.clone()));
            }
        }
        self.crash(node);
    }

    /// Sends a new message (a fresh id) from `from` to `to`.
    pub fn send_new(&mut self, from: IpAddr, to: IpAddr, body: Body) {
        let Some(r) = self.nodes.get_mut(&from).and_then(|n| n.running.as_mut()) else {
            return;
        };
        r.next_id += 1;
        let msg = Message {
            id: r.next_id,
            from,
            reply_to: from,
            body,
        };
        self.send(to, msg);
    }

    /// Puts a message on the network.
    pub fn send(&mut self, to: IpAddr, msg: Message) {
        let (from, id) = (msg.from, msg.id);
        let what = if self.config.trace_messages {
            Some(body_str(&msg.body))
        } else {
            None
        };
        let sent = self.net.send(&mut self.rng, self.now, from, to, msg);
        if let Some(what) = what {
            let line = match sent {
                Sent::Queued(at) => format!(
                    "{} -> {} {what}#{id} due {}",
                    short(&from),
                    short(&to),
                    at.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
                ),
                Sent::Dropped(why) => {
                    format!("{} -> {} {what}#{id} {why:?}", short(&from), short(&to))
                }
            };
            self.note(line);
        }
    }

    /// When the next timer or message is due.
    pub fn next_time(&self) -> Option<u64> {
        let t = self.timers.keys().next().map(|(t, _)| *t);
        match (t, self.net.next_time()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs the next timer or message arrival; false when nothing is left.
    pub fn step(&mut self) -> bool {
        let timer_at = self.timers.keys().next().map(|(t, _)| *t);
        let msg_at = self.net.next_time();
        let timer_first = match (timer_at, msg_at) {
            (None, None) => return false,
            (Some(t), Some(m)) => t <= m,
            (t, _) => t.is_some(),
        };
        if timer_first {
            let ((at, _), entry) = self.timers.pop_first().expect("a timer");
            debug_assert!(at >= self.now);
            self.now = at;
            if self.nodes[&entry.node].life == entry.life && self.is_up(&entry.node) {
                self.fire(entry.node, entry.timer);
            }
        } else {
            match self.net.pop().expect("a message") {
                Arrival::Delivered(env) => {
                    debug_assert!(env.deliver_at >= self.now);
                    self.now = env.deliver_at;
                    let mut msg = env.msg;
                    if self.config.wire {
                        let frame = msg.encode();
                        msg = Message::decode(&frame[4..]).unwrap_or_else(|e| {
                            panic!("a message did not survive its wire form: {e}")
                        });
                    }
                    if self.config.trace_messages {
                        let line = format!(
                            "{} => {} {}#{}{}",
                            short(&env.from),
                            short(&env.to),
                            body_str(&msg.body),
                            msg.id,
                            if env.duplicate { " (dup)" } else { "" }
                        );
                        self.note(line);
                    }
                    self.deliver(env.to, msg);
                }
                Arrival::Dropped(env, why) => {
                    self.now = env.deliver_at;
                    if self.config.trace_messages {
                        let line = format!(
                            "{} =x {} {}#{} {why:?}",
                            short(&env.from),
                            short(&env.to),
                            body_str(&env.msg.body),
                            env.msg.id
                        );
                        self.note(line);
                    }
                }
            }
        }
        true
    }

    /// Runs everything due up to `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: u64) {
        while self.next_time().is_some_and(|n| n <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs for `ms` more.
    pub fn run_for(&mut self, ms: u64) {
        self.run_until(self.now + ms);
    }

    fn fire(&mut self, node: IpAddr, timer: Timer) {
        match timer {
            Timer::Gossip => {
                self.gossip_round(node);
                self.replay_hints(node);
                let next = self.now + self.config.gossip.interval.as_millis() as u64;
                self.set_timer(next, node, Timer::Gossip);
            }
            other => self.fire_data(node, other),
        }
    }

    /// `Core::round`: LOAD, a gossip tick, the events, the syns.
    fn gossip_round(&mut self, node: IpAddr) {
        let now = self.now;
        let growth = self.rng.below(64 * 1024);
        let n = self.nodes.get_mut(&node).expect("a node");
        let r = n.running.as_mut().expect("up");
        // The data size is measured every ten rounds.
        if r.rounds.is_multiple_of(10) {
            n.disk_bytes += growth;
            r.load = n.disk_bytes;
        }
        r.rounds += 1;
        if r.gossip.local().app.load != r.load {
            let load = r.load;
            r.gossip.update_local(|a| a.load = load);
        }
        let (targets, events) = r.gossip.tick(r.clock(now));
        let states = r.gossip.all_states();
        self.note_announced(node);
        self.apply(node, events);
        if self.config.trace_messages {
            let t: Vec<String> = targets.iter().map(short).collect();
            self.note(format!("{} tick -> [{}]", short(&node), t.join(" ")));
        }
        for t in targets {
            self.send_new(node, t, Body::GossipSyn(states.clone()));
        }
        if self.config.schema {
            self.schema_round(node);
        }
    }

    /// `Core::apply`: what the node does with gossip's events (here: notes them).
    fn apply(&mut self, node: IpAddr, events: Vec<GossipEvent>) {
        // Core::save_ring: the peers' states on disk when the ring may have changed.
        if events
            .iter()
            .any(|e| matches!(e, GossipEvent::Joined(_) | GossipEvent::Changed(_)))
            && let Some(n) = self.nodes.get_mut(&node)
            && let Some(r) = n.running.as_ref()
        {
            let states: Vec<_> = r
                .gossip
                .states()
                .filter(|s| s.address != node && s.app.status != Status::Left)
                .cloned()
                .collect();
            n.disk.saved_ring = crate::node::cluster::message::encode_states(&states);
        }
        for e in events {
            self.note(format!("{}: {}", short(&node), event_str(&e)));
            self.events.push(Observed {
                at: self.now,
                node,
                event: e,
            });
        }
    }

    /// A message arrived at `node`: `Handler::handle`, then the answer (if
    /// any) back to `reply_to` with the message's id, as the transport does.
    fn deliver(&mut self, node: IpAddr, msg: Message) {
        let (id, reply_to) = (msg.id, msg.reply_to);
        if let Some(body) = self.handle(node, msg) {
            let reply = Message {
                id,
                from: node,
                reply_to: node,
                body,
            };
            self.send(reply_to, reply);
        }
    }

    /// `Core::handle` for the messages the simulator knows.
    fn handle(&mut self, node: IpAddr, msg: Message) -> Option<Body> {
        if matches!(msg.body, Body::SchemaPush(_) | Body::SchemaMerged { .. }) {
            return self.handle_schema(node, msg);
        }
        if !matches!(msg.body, Body::GossipSyn(_) | Body::GossipAck(_)) {
            self.nodes.get(&node)?.running.as_ref()?;
            return self.handle_data(node, msg);
        }
        let now = self.now;
        let r = self.nodes.get_mut(&node)?.running.as_mut()?;
        let clock = r.clock(now);
        match msg.body {
            Body::GossipSyn(states) => {
                let (reply, events) = r.gossip.on_syn(states, clock);
                self.apply(node, events);
                Some(Body::GossipAck(reply))
            }
            Body::GossipAck(states) => {
                let events = r.gossip.merge(states, clock);
                self.apply(node, events);
                None
            }
            other => {
                self.note(format!(
                    "{}: no handler in the simulator for {}",
                    short(&node),
                    body_str(&other)
                ));
                None
            }
        }
    }

    /// Whether gossip has converged: every node that is up sees every other
    /// node that is up
    ///
    /// - alive ([`Gossiper::is_alive`]),
    /// - at the generation that node runs (its current life), and
    /// - with exactly the application state that node announces (status,
    ///   tokens, schema, load...).
    ///
    /// Versions are not compared: a node bumps its own version every round
    /// (its heartbeat), so two nodes never hold the same one for long;
    /// "alive" already says that a fresh enough version keeps arriving.
    /// That a view is never ahead of its source is [`World::check_views`].
    pub fn converged(&self) -> Result<(), String> {
        let up = self.up();
        for a in &up {
            let g = self.gossip(a).expect("up");
            for b in &up {
                if a == b {
                    continue;
                }
                let own = self.gossip(b).expect("up").local();
                let Some(seen) = g.state(b) else {
                    return Err(format!("{a} does not know {b}"));
                };
                if !g.is_alive(b) {
                    return Err(format!("{a} sees {b} down"));
                }
                if seen.generation != own.generation {
                    return Err(format!(
                        "{a} sees {b} at generation {} (it runs {})",
                        seen.generation, own.generation
                    ));
                }
                if seen.app != own.app {
                    return Err(format!(
                        "{a} sees {b} with {:?} (it announces {:?})",
                        seen.app, own.app
                    ));
                }
            }
        }
        Ok(())
    }

    /// Safety of the views, at any time: no running node holds a state of
    /// a node newer than the newest that node ever announced of itself (a
    /// state only ever comes from its owner).
    ///
    /// Not "newer than what the node now holds of itself": a node's
    /// generation is the second it started in, so a node that restarts
    /// within the second of its previous start runs its new life under the
    /// old generation, and its peers rightly hold its previous life's
    /// higher versions until the new life passes them (a few rounds, as
    /// such a life was young).
    pub fn check_views(&self) -> Result<(), String> {
        for a in self.up() {
            let g = self.gossip(&a).expect("up");
            for s in g.states() {
                let Some(n) = self.nodes.get(&s.address) else {
                    return Err(format!("{a} holds a state of a stranger, {}", s.address));
                };
                if (s.generation, s.version) > n.announced {
                    return Err(format!(
                        "{a} holds {} at {:?}, newer than it ever announced ({:?})",
                        s.address,
                        (s.generation, s.version),
                        n.announced
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether `observer` (up) sees `target` as down or does not know it.
    pub fn sees_down(&self, observer: &IpAddr, target: &IpAddr) -> bool {
        self.gossip(observer).is_some_and(|g| !g.is_alive(target))
    }

    /// The running nodes' own (generation, version), for the trace.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for n in self.nodes.values() {
            match &n.running {
                None => {
                    let _ = writeln!(out, "  {} down (life {})", n.addr, n.life);
                }
                Some(r) => {
                    let l = r.gossip.local();
                    let live: BTreeSet<String> = r.gossip.live_peers().map(short).collect();
                    let _ = writeln!(
                        out,
                        "  {} up since {} gen={} ver={} live={:?}",
                        n.addr, r.started_at, l.generation, l.version, live
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs until converged, at most `ms` more.
    fn converge_within(w: &mut World, ms: u64) {
        let until = w.now() + ms;
        while let Err(why) = w.converged() {
            assert!(w.now() < until, "{why}\n{}", w.trace().tail(50));
            w.run_for(100);
            w.check_views().unwrap();
        }
    }

    fn calm(seed: u64) -> World {
        let mut w = World::new(seed, WorldConfig::default());
        for (i, a) in w.addrs().into_iter().enumerate() {
            w.run_until(i as u64 * 137);
            w.start(a);
        }
        w
    }

    #[test]
    fn a_calm_cluster_converges_through_its_seeds() {
        let mut w = calm(1);
        converge_within(&mut w, 20_000);
        assert_eq!(
            w.gossip(&addr(1, 1))
                .unwrap()
                .state(&addr(2, 3))
                .unwrap()
                .app
                .datacenter,
            "dc2"
        );
    }

    #[test]
    fn one_seed_one_trace() {
        let run = |seed| {
            let mut w = calm(seed);
            w.run_until(15_000);
            w.crash(addr(2, 1));
            w.run_until(25_000);
            w.restart(addr(2, 1));
            w.run_until(40_000);
            (w.trace().hash(), w.trace().total(), w.trace().tail(100))
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5).0, run(6).0);
    }

    #[test]
    fn a_stopped_node_is_down_at_once_and_back_after_a_restart() {
        let mut w = calm(2);
        converge_within(&mut w, 15_000);
        w.take_events();
        w.stop(addr(1, 2));
        w.run_for(200);
        assert!(w.sees_down(&addr(1, 1), &addr(1, 2)));
        let downs = w
            .take_events()
            .into_iter()
            .filter(|o| o.event == GossipEvent::Down(addr(1, 2)))
            .count();
        assert_eq!(downs, 5, "every other node heard the shutdown");
        w.run_for(3000);
        w.restart(addr(1, 2));
        converge_within(&mut w, 10_000);
    }

    #[test]
    fn a_restart_in_the_second_of_the_last_start_reuses_the_generation_yet_converges() {
        // The generation is the start's wall-clock second, so a node that
        // crashes in its first second and restarts within that second runs
        // its new life under its old generation, with versions from 1 that
        // peers ignore until they pass the old life's; the old life is too
        // young to have gone far.
        let mut w = calm(3);
        converge_within(&mut w, 20_000);
        let n = addr(1, 2);
        w.crash(n);
        w.run_until(30_100);
        w.restart(n);
        let first = w.gossip(&n).unwrap().local().generation;
        w.run_until(30_600);
        w.stop(n);
        w.run_until(30_900);
        w.restart(n);
        assert_eq!(w.gossip(&n).unwrap().local().generation, first);
        // The peers hold the stopped life's state, newer than the new life's.
        assert!(w.sees_down(&addr(1, 1), &n));
        converge_within(&mut w, 10_000);
    }
}
