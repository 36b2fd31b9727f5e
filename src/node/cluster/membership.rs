//! What a node knows of its cluster's membership: the gossip state, the
//! ring as gossip last showed it, and since when each peer has been down.
//! A plain shared state: the gossip loop ([`crate::node::cluster::member`])
//! changes it, the coordinator and nodetool read it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::node::cluster::gossip::{EndpointState, GossipEvent, Gossiper, Status};
use crate::node::cluster::hints::HintedHandoff;
use crate::node::cluster::hints::delivery;
use crate::node::locator::placement::{Ring, RingNode};

/// A node's view of the cluster's membership.
pub struct Membership {
    gossip: Mutex<Gossiper>,
    /// The ring as gossip last showed it.
    ring: RwLock<Arc<Ring>>,
    started: Instant,
    /// Since when each peer has been down.
    down_since: Mutex<HashMap<IpAddr, Instant>>,
    /// How long a down replica still gets hints.
    pub max_hint_window: Duration,
    /// Hinted handoff's settings, as the node started with them.
    handoff: HintedHandoff,
    /// Whether hints are kept (`nodetool enablehandoff`, `disablehandoff`).
    hints_enabled: AtomicBool,
}

impl Membership {
    /// A view of `gossip`'s state, with an empty ring until
    /// [`Membership::rebuild_ring`].
    pub fn new(gossip: Gossiper, max_hint_window: Duration, handoff: HintedHandoff) -> Membership {
        Membership {
            gossip: Mutex::new(gossip),
            ring: RwLock::new(Arc::new(Ring::default())),
            started: Instant::now(),
            down_since: Mutex::new(HashMap::new()),
            max_hint_window,
            handoff,
            hints_enabled: AtomicBool::new(handoff.enabled),
        }
    }

    /// Whether the coordinator keeps hints (Cassandra's `hinted_handoff_enabled`).
    pub fn hints_enabled(&self) -> bool {
        self.hints_enabled.load(Ordering::Relaxed)
    }

    /// `nodetool enablehandoff` / `disablehandoff`: hints kept from now on,
    /// or none (those kept already are still delivered).
    pub fn set_hints_enabled(&self, enabled: bool) {
        self.hints_enabled.store(enabled, Ordering::Relaxed);
    }

    /// How a hint delivery pass goes, with `peers` other nodes in the
    /// cluster (the throttle is divided among them).
    pub fn hint_delivery(&self, peers: usize) -> delivery::Settings {
        delivery::Settings::of(&self.handoff, peers)
    }

    /// The gossip state machine, locked.
    pub fn gossip(&self) -> MutexGuard<'_, Gossiper> {
        self.gossip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the start: gossip's clock.
    pub fn now(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// A node's host id, as gossip knows it.
    pub fn host_id_of(&self, addr: &IpAddr) -> Option<[u8; 16]> {
        self.gossip().state(addr).map(|s| s.app.host_id)
    }

    /// Whether a replica should still get hints: never while hinted
    /// handoff is disabled; else always while it is not marked down (a
    /// silent replica), else while it has been down for less than the window.
    pub fn hintable(&self, addr: &IpAddr) -> bool {
        self.hints_enabled()
            && self
                .down_since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(addr)
                .is_none_or(|since| since.elapsed() <= self.max_hint_window)
    }

    /// Notes which peers went down or came up.
    pub fn note_down_and_up(&self, events: &[GossipEvent]) {
        let mut down = self.down_since.lock().unwrap_or_else(|e| e.into_inner());
        for e in events {
            match e {
                GossipEvent::Down(a) => {
                    down.insert(*a, Instant::now());
                }
                GossipEvent::Up(a) => {
                    down.remove(a);
                }
                _ => {}
            }
        }
    }

    /// The ring of the nodes that own tokens (up or down).
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Rebuilds the ring from what gossip knows now.
    pub fn rebuild_ring(&self) {
        let ring = ring_of(&self.gossip());
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
    }

    /// Whether a node is up, as gossip sees it.
    pub fn is_alive(&self, addr: &IpAddr) -> bool {
        self.gossip().is_alive(addr)
    }

    /// Every known node's state (this node's included).
    pub fn states(&self) -> Vec<EndpointState> {
        self.gossip().all_states()
    }
}

/// The ring as gossip describes it: every node that owns its tokens
/// (neither joining nor gone). The simulator builds its rings the same way.
pub fn ring_of(gossip: &Gossiper) -> Ring {
    Ring::new(
        gossip
            .states()
            .filter(|s| !matches!(s.app.status, Status::Left | Status::Joining))
            .map(|s| RingNode {
                address: s.address,
                datacenter: s.app.datacenter.clone(),
                rack: s.app.rack.clone(),
                tokens: s.app.tokens.clone(),
            })
            .collect(),
    )
}
