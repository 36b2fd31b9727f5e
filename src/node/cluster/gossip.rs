//! Gossip: how nodes learn about each other, as a plain state machine.
//!
//! Every node keeps an [`EndpointState`] per node it knows: a *generation*
//! (when that node last started) and a *version* that the node bumps each
//! time it changes its own state or beats its heart, plus what it tells the
//! cluster about itself (datacenter, rack, tokens, status, schema version,
//! CQL address, host id). A state with a higher `(generation, version)`
//! replaces an older one, so states spread by merging, whoever relays them.
//!
//! Each round ([`Gossiper::tick`]) a node beats its heart and sends every
//! state it knows to one live peer, sometimes to an unreachable one, and to
//! a seed while it has not heard from one; the receiver merges and answers
//! with its own states ([`Gossiper::on_syn`]), so two nodes agree after one
//! exchange. Clusters here are small (tens of nodes), so whole state sets
//! are sent instead of Cassandra's digests.
//!
//! Failure detection: a peer is alive while its heartbeat keeps rising.
//! When no newer version of a peer has arrived for `convict_after`, the peer
//! is marked down; a newer version marks it up again. Time is a number of
//! milliseconds the caller passes in, so tests drive it without sleeping.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

/// A node's lifecycle state, as gossip's STATUS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Joining,
    Normal,
    Leaving,
    Left,
    /// Stopped cleanly (announced before a drain or shutdown).
    Shutdown,
}

impl Status {
    pub fn code(self) -> u8 {
        match self {
            Status::Joining => 0,
            Status::Normal => 1,
            Status::Leaving => 2,
            Status::Left => 3,
            Status::Shutdown => 4,
        }
    }

    pub fn from_code(c: u8) -> Option<Status> {
        Some(match c {
            0 => Status::Joining,
            1 => Status::Normal,
            2 => Status::Leaving,
            3 => Status::Left,
            4 => Status::Shutdown,
            _ => return None,
        })
    }
}

/// What a node tells the cluster about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppState {
    pub host_id: [u8; 16],
    pub datacenter: String,
    pub rack: String,
    pub tokens: Vec<i64>,
    pub status: Status,
    pub schema_version: [u8; 16],
    pub rpc_address: IpAddr,
    pub native_port: u16,
    pub release_version: String,
    /// Bytes of data on disk (Cassandra's LOAD), refreshed now and then.
    pub load: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointState {
    /// The node's internode (listen/broadcast) address: its identity in gossip.
    pub address: IpAddr,
    pub generation: i64,
    pub version: u64,
    pub app: AppState,
}

impl EndpointState {
    fn newer_than(&self, other: &EndpointState) -> bool {
        (self.generation, self.version) > (other.generation, other.version)
    }
}

/// What changed in the gossiper's view, for the node to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GossipEvent {
    /// A node seen for the first time (or restarted with a new generation).
    Joined(IpAddr),
    Up(IpAddr),
    Down(IpAddr),
    /// Its tokens, status or schema version changed.
    Changed(IpAddr),
}

pub struct Gossiper {
    me: IpAddr,
    seeds: Vec<IpAddr>,
    states: BTreeMap<IpAddr, EndpointState>,
    /// When each peer's state last got newer (ms).
    heard: BTreeMap<IpAddr, u64>,
    live: BTreeSet<IpAddr>,
    /// Nodes forgotten for good: what others still say of them is ignored.
    forgotten: BTreeSet<IpAddr>,
    convict_after: u64,
    round: u64,
    rng: u64,
}

impl Gossiper {
    /// `generation`: seconds since the epoch at start (higher on each restart).
    pub fn new(
        me: IpAddr,
        generation: i64,
        app: AppState,
        seeds: Vec<IpAddr>,
        convict_after_ms: u64,
        seed: u64,
    ) -> Gossiper {
        let mut states = BTreeMap::new();
        states.insert(
            me,
            EndpointState {
                address: me,
                generation,
                version: 1,
                app,
            },
        );
        Gossiper {
            me,
            seeds: seeds.into_iter().filter(|s| *s != me).collect(),
            states,
            heard: BTreeMap::new(),
            live: BTreeSet::new(),
            forgotten: BTreeSet::new(),
            convict_after: convict_after_ms.max(1),
            round: 0,
            rng: seed | 1,
        }
    }

    fn random(&mut self, n: usize) -> usize {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }

    pub fn me(&self) -> IpAddr {
        self.me
    }

    pub fn local(&self) -> &EndpointState {
        &self.states[&self.me]
    }

    /// Changes what this node announces (bumps its version).
    pub fn update_local(&mut self, f: impl FnOnce(&mut AppState)) {
        let s = self.states.get_mut(&self.me).expect("own state");
        f(&mut s.app);
        s.version += 1;
    }

    pub fn states(&self) -> impl Iterator<Item = &EndpointState> {
        self.states.values()
    }

    pub fn state(&self, addr: &IpAddr) -> Option<&EndpointState> {
        self.states.get(addr)
    }

    /// Whether a peer is up (this node always is).
    pub fn is_alive(&self, addr: &IpAddr) -> bool {
        *addr == self.me || self.live.contains(addr)
    }

    pub fn live_peers(&self) -> impl Iterator<Item = &IpAddr> {
        self.live.iter()
    }

    /// Every state, to send.
    pub fn all_states(&self) -> Vec<EndpointState> {
        self.states.values().cloned().collect()
    }

    /// One gossip round at `now` (ms): beats the heart, checks for dead
    /// peers, and returns where to send this node's states.
    pub fn tick(&mut self, now: u64) -> (Vec<IpAddr>, Vec<GossipEvent>) {
        self.round += 1;
        if let Some(s) = self.states.get_mut(&self.me) {
            s.version += 1;
        }
        let events = self.check(now);
        let mut targets = Vec::new();
        let live: Vec<IpAddr> = self.live.iter().copied().collect();
        // Two live peers a round: states spread in O(log n) rounds even when
        // some rounds are late.
        for _ in 0..2.min(live.len()) {
            targets.push(live[self.random(live.len())]);
        }
        let unreachable: Vec<IpAddr> = self
            .states
            .keys()
            .filter(|a| **a != self.me && !self.live.contains(a))
            .copied()
            .collect();
        // Unreachable peers: probed every round while few are live, as a
        // returning node should be seen promptly.
        if !unreachable.is_empty() && (live.is_empty() || self.random(live.len() + 1) == 0) {
            targets.push(unreachable[self.random(unreachable.len())]);
        }
        // A seed, while no seed is live, or now and then.
        let seeds: Vec<IpAddr> = self.seeds.clone();
        if !seeds.is_empty() {
            let seed_live = seeds.iter().any(|s| self.live.contains(s));
            if !seed_live || self.round.is_multiple_of(10) {
                targets.push(seeds[self.random(seeds.len())]);
            }
        }
        targets.sort();
        targets.dedup();
        (targets, events)
    }

    /// Merges states received from a peer at `now`.
    pub fn merge(&mut self, states: Vec<EndpointState>, now: u64) -> Vec<GossipEvent> {
        let mut events = Vec::new();
        for remote in states {
            let addr = remote.address;
            if addr == self.me {
                // Our own state echoed back; a higher generation of ourselves
                // would mean two nodes with one address: ignore it.
                continue;
            }
            if self.forgotten.contains(&addr) {
                continue;
            }
            match self.states.get(&addr) {
                Some(local) if !remote.newer_than(local) => continue,
                Some(local) => {
                    if remote.generation != local.generation {
                        events.push(GossipEvent::Joined(addr));
                    } else if remote.app.tokens != local.app.tokens
                        || remote.app.status != local.app.status
                        || remote.app.schema_version != local.app.schema_version
                    {
                        events.push(GossipEvent::Changed(addr));
                    }
                }
                None => events.push(GossipEvent::Joined(addr)),
            }
            let stopped = matches!(remote.app.status, Status::Shutdown | Status::Left);
            self.states.insert(addr, remote);
            self.heard.insert(addr, now);
            if stopped {
                if self.live.remove(&addr) {
                    events.push(GossipEvent::Down(addr));
                }
            } else if self.live.insert(addr) {
                events.push(GossipEvent::Up(addr));
            }
        }
        events
    }

    /// A peer's states arrived (a round it started): merge, and answer with ours.
    pub fn on_syn(
        &mut self,
        states: Vec<EndpointState>,
        now: u64,
    ) -> (Vec<EndpointState>, Vec<GossipEvent>) {
        let events = self.merge(states, now);
        (self.all_states(), events)
    }

    /// Marks down the peers not heard from within `convict_after`.
    pub fn check(&mut self, now: u64) -> Vec<GossipEvent> {
        let mut events = Vec::new();
        let dead: Vec<IpAddr> = self
            .live
            .iter()
            .filter(|a| {
                self.heard
                    .get(a)
                    .is_none_or(|h| now.saturating_sub(*h) > self.convict_after)
            })
            .copied()
            .collect();
        for a in dead {
            self.live.remove(&a);
            events.push(GossipEvent::Down(a));
        }
        events
    }

    /// Peers this node knew before it restarted (its saved ring): known
    /// again, with their datacenter, rack and tokens, but down until gossip
    /// hears from them. Their versions are set to 0, so that anything the
    /// peers announce replaces them. Already known peers are left alone.
    pub fn restore(&mut self, saved: Vec<EndpointState>) {
        for mut s in saved {
            if s.address == self.me || self.states.contains_key(&s.address) {
                continue;
            }
            s.version = 0;
            self.states.insert(s.address, s);
        }
    }

    /// Notes a peer's schema version learned from the peer itself (its
    /// answer to a schema push), ahead of its next gossiped state: a driver
    /// waiting for schema agreement through `system.peers` sees it at once.
    /// The state's version is kept, so the peer's own newer state still
    /// replaces it.
    pub fn note_schema(&mut self, addr: &IpAddr, schema_version: [u8; 16]) {
        if *addr == self.me {
            return;
        }
        if let Some(s) = self.states.get_mut(addr) {
            s.app.schema_version = schema_version;
        }
    }

    /// Forgets a node for good (a datacenter split off): removed, and
    /// what other nodes still say of it is ignored from now on, as
    /// Cassandra quarantines a removed endpoint.
    pub fn forget(&mut self, addr: &IpAddr) {
        self.remove(addr);
        self.forgotten.insert(*addr);
    }

    /// Forgets a node that left the cluster for good.
    pub fn remove(&mut self, addr: &IpAddr) {
        self.states.remove(addr);
        self.heard.remove(addr);
        self.live.remove(addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(dc: &str, token: i64) -> AppState {
        AppState {
            host_id: [token as u8; 16],
            datacenter: dc.into(),
            rack: "r1".into(),
            tokens: vec![token],
            status: Status::Normal,
            schema_version: [0; 16],
            rpc_address: "127.0.0.1".parse().unwrap(),
            native_port: 9042,
            release_version: "4.1.3".into(),
            load: 0,
        }
    }

    fn ip(i: u8) -> IpAddr {
        IpAddr::from([127, 0, 9, i])
    }

    /// A cluster of gossipers exchanging messages in memory; `cut` nodes
    /// neither send nor receive.
    struct Sim {
        nodes: BTreeMap<IpAddr, Gossiper>,
        cut: BTreeSet<IpAddr>,
        events: Vec<(IpAddr, GossipEvent)>,
    }

    impl Sim {
        fn new(n: u8) -> Sim {
            let mut nodes = BTreeMap::new();
            for i in 1..=n {
                let dc = if i <= n / 2 { "dc1" } else { "dc2" };
                nodes.insert(
                    ip(i),
                    Gossiper::new(
                        ip(i),
                        100,
                        app(dc, i64::from(i)),
                        vec![ip(1)],
                        3000,
                        u64::from(i),
                    ),
                );
            }
            Sim {
                nodes,
                cut: BTreeSet::new(),
                events: Vec::new(),
            }
        }

        fn round(&mut self, now: u64) {
            let addrs: Vec<IpAddr> = self.nodes.keys().copied().collect();
            for a in addrs {
                if self.cut.contains(&a) {
                    continue;
                }
                let (targets, ev) = self.nodes.get_mut(&a).unwrap().tick(now);
                self.events.extend(ev.into_iter().map(|e| (a, e)));
                let states = self.nodes[&a].all_states();
                for t in targets {
                    if self.cut.contains(&t) {
                        continue;
                    }
                    let (reply, ev) = self.nodes.get_mut(&t).unwrap().on_syn(states.clone(), now);
                    self.events.extend(ev.into_iter().map(|e| (t, e)));
                    let ev = self.nodes.get_mut(&a).unwrap().merge(reply, now);
                    self.events.extend(ev.into_iter().map(|e| (a, e)));
                }
            }
        }

        fn all_see_all_up(&self) -> bool {
            self.nodes.values().all(|g| {
                self.nodes
                    .keys()
                    .all(|a| g.is_alive(a) && g.state(a).is_some())
            })
        }
    }

    #[test]
    fn six_nodes_find_each_other_through_a_seed() {
        let mut sim = Sim::new(6);
        let mut now = 0;
        while !sim.all_see_all_up() {
            now += 1000;
            sim.round(now);
            assert!(now < 20_000, "no convergence after 20 rounds");
        }
        let g = &sim.nodes[&ip(4)];
        assert_eq!(g.state(&ip(2)).unwrap().app.datacenter, "dc1");
        assert_eq!(g.state(&ip(5)).unwrap().app.tokens, vec![5]);
    }

    #[test]
    fn a_silent_node_is_marked_down_then_up_again() {
        let mut sim = Sim::new(4);
        let mut now = 0;
        while !sim.all_see_all_up() {
            now += 1000;
            sim.round(now);
        }
        sim.cut.insert(ip(3));
        sim.events.clear();
        let cut_at = now;
        while sim.nodes[&ip(1)].is_alive(&ip(3)) {
            now += 1000;
            sim.round(now);
            assert!(now - cut_at < 10_000, "never marked down");
        }
        assert!(
            now - cut_at > 3000,
            "marked down before the conviction time"
        );
        assert!(sim.events.contains(&(ip(1), GossipEvent::Down(ip(3)))));
        sim.cut.clear();
        while !sim.all_see_all_up() {
            now += 1000;
            sim.round(now);
            assert!(now - cut_at < 30_000, "never back up");
        }
        assert!(sim.events.contains(&(ip(1), GossipEvent::Up(ip(3)))));
    }

    #[test]
    fn a_restored_peer_is_known_down_until_it_is_heard() {
        let a = Gossiper::new(ip(1), 100, app("dc1", 1), vec![], 3000, 1);
        let mut b = Gossiper::new(ip(2), 100, app("dc2", 2), vec![], 3000, 2);
        b.tick(0);
        b.tick(1);
        // ip(1) restarts knowing ip(2) from its saved ring.
        let mut a2 = Gossiper::new(ip(1), 200, app("dc1", 1), vec![], 3000, 1);
        a2.restore(b.all_states());
        a2.restore(a.all_states()); // itself: ignored
        assert_eq!(a2.state(&ip(2)).unwrap().app.datacenter, "dc2");
        assert_eq!(a2.state(&ip(2)).unwrap().version, 0);
        assert!(!a2.is_alive(&ip(2)));
        assert_eq!(a2.local().generation, 200);
        // A restored peer is probed: it is the only one a node without seeds knows.
        let (targets, _) = a2.tick(10);
        assert_eq!(targets, vec![ip(2)]);
        // The peer's own state (same generation, any version) replaces it: up.
        assert_eq!(a2.merge(b.all_states(), 20), vec![GossipEvent::Up(ip(2))]);
        assert!(a2.is_alive(&ip(2)));
    }

    #[test]
    fn a_forgotten_node_is_not_learnt_again() {
        let mut a = Gossiper::new(ip(1), 100, app("dc1", 1), vec![], 3000, 1);
        let b = Gossiper::new(ip(2), 100, app("dc2", 2), vec![], 3000, 2);
        a.merge(b.all_states(), 0);
        a.forget(&ip(2));
        assert!(a.state(&ip(2)).is_none());
        assert!(a.merge(b.all_states(), 1).is_empty());
        assert!(a.state(&ip(2)).is_none() && !a.is_alive(&ip(2)));
    }

    #[test]
    fn newer_states_win_and_restarts_are_joins() {
        let mut a = Gossiper::new(ip(1), 100, app("dc1", 1), vec![], 3000, 1);
        let mut b = Gossiper::new(ip(2), 100, app("dc1", 2), vec![], 3000, 2);
        let ev = a.merge(b.all_states(), 0);
        assert_eq!(ev, vec![GossipEvent::Joined(ip(2)), GossipEvent::Up(ip(2))]);
        b.update_local(|s| s.tokens = vec![20]);
        assert_eq!(
            a.merge(b.all_states(), 1),
            vec![GossipEvent::Changed(ip(2))]
        );
        // An older state changes nothing.
        let mut old = b.all_states();
        old.iter_mut().for_each(|s| s.version = 0);
        assert!(a.merge(old, 2).is_empty());
        assert_eq!(a.state(&ip(2)).unwrap().app.tokens, vec![20]);
        // A restart (higher generation) replaces the state.
        let b2 = Gossiper::new(ip(2), 200, app("dc1", 2), vec![], 3000, 2);
        assert_eq!(
            a.merge(b2.all_states(), 3),
            vec![GossipEvent::Joined(ip(2))]
        );
        // A clean shutdown announcement marks the node down at once.
        let mut b3 = b2;
        b3.update_local(|s| s.status = Status::Shutdown);
        assert_eq!(
            a.merge(b3.all_states(), 4),
            vec![GossipEvent::Changed(ip(2)), GossipEvent::Down(ip(2))]
        );
    }
}
