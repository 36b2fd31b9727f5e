//! When a starting node's view of the ring is fresh enough to serve
//! clients (Cassandra's "wait for gossip to settle" before it opens the
//! native port).
//!
//! A node that restarts knows its peers from the ring it kept on disk,
//! all marked down until heard from. Serving clients before it has heard
//! them would make it coordinate writes as if its datacenter were down
//! (Unavailable at LOCAL_QUORUM, or hints where a direct write was
//! possible); a node that has never met its cluster would compute replicas
//! from a ring of itself. So the native port opens once one of these holds,
//! checked at every gossip round:
//! - every peer it knows is up (the usual restart: after a round trip or two);
//! - it knows no peer and is a seed, or has no seed but itself (a first node);
//! - it has heard some peers, and what it sees (peers known, peers up) has
//!   not changed for [`STABLE_POLLS`] rounds in a row (the others really
//!   are down): Cassandra's rule, with its three polls, on gossip's clock;
//! - nobody answered for as long as the failure detector takes to convict
//!   a silent peer (`convict_after`): it is alone, and serves what it can.
//!
//! Cassandra also waits at least five seconds; ccrsim does not, because
//! the rule above already waits for what the ring needs. The node flag
//! `--skip-wait-for-gossip-to-settle` opens the port at once, as
//! Cassandra's `cassandra.skip_wait_for_gossip_to_settle=0` does.

/// Rounds with nothing changed after which gossip counts as settled.
pub const STABLE_POLLS: usize = 3;

/// What one poll sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// Peers known (up or down), this node left out.
    pub peers: usize,
    /// Of those, how many are up.
    pub up: usize,
    /// Gossip rounds this node has run so far (polls within one round
    /// count once towards stability).
    pub round: u64,
    /// Since the wait began.
    pub waited: std::time::Duration,
}

/// The settle rule, polled once per gossip round.
#[derive(Debug, Clone)]
pub struct Settle {
    /// Whether this node waits for nobody when it knows nobody: it is a
    /// seed, or its only seed is itself.
    alone_ok: bool,
    /// Whether the node started from a saved ring (a restart).
    restarted: bool,
    /// How long to wait for a first answer.
    give_up: std::time::Duration,
    last: Option<(usize, usize)>,
    last_round: Option<u64>,
    same: usize,
}

impl Settle {
    pub fn new(alone_ok: bool, restarted: bool, give_up: std::time::Duration) -> Settle {
        Settle {
            alone_ok,
            restarted,
            give_up,
            last: None,
            last_round: None,
            same: 0,
        }
    }

    /// Records a poll; whether the node may now serve clients.
    pub fn poll(&mut self, seen: Seen) -> bool {
        if seen.peers > 0 && seen.up == seen.peers {
            return true;
        }
        if seen.peers == 0 && self.alone_ok {
            return true;
        }
        if seen.up == 0 {
            return seen.waited >= self.give_up;
        }
        if !self.restarted {
            return true;
        }
        if self.last_round == Some(seen.round) {
            return false;
        }
        self.last_round = Some(seen.round);
        let now = (seen.peers, seen.up);
        if self.last == Some(now) {
            self.same += 1;
        } else {
            self.last = Some(now);
            self.same = 1;
        }
        self.same >= STABLE_POLLS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const GIVE_UP: Duration = Duration::from_secs(4);

    /// Each call is a new round, `ms` into the wait.
    fn seen(peers: usize, up: usize, ms: u64) -> Seen {
        use std::sync::atomic::{AtomicU64, Ordering};
        static ROUND: AtomicU64 = AtomicU64::new(0);
        Seen {
            peers,
            up,
            round: ROUND.fetch_add(1, Ordering::Relaxed),
            waited: Duration::from_millis(ms),
        }
    }

    #[test]
    fn a_restart_opens_once_every_known_peer_is_up() {
        let mut s = Settle::new(false, true, GIVE_UP);
        assert!(!s.poll(seen(5, 0, 0)));
        assert!(!s.poll(seen(5, 0, 300)), "nobody answered yet");
        assert!(!s.poll(seen(5, 3, 400)));
        assert!(s.poll(seen(5, 5, 500)));
    }

    #[test]
    fn a_peer_that_stays_down_costs_three_rounds() {
        let mut s = Settle::new(true, true, GIVE_UP);
        assert!(!s.poll(seen(5, 0, 0)));
        assert!(!s.poll(seen(5, 4, 100)));
        assert!(!s.poll(seen(5, 4, 200)));
        assert!(s.poll(seen(5, 4, 300)));
        // Polls within one round count once.
        let mut s = Settle::new(true, true, GIVE_UP);
        let same = Seen {
            peers: 5,
            up: 1,
            round: 7,
            waited: Duration::ZERO,
        };
        for _ in 0..5 {
            assert!(!s.poll(same));
        }
    }

    #[test]
    fn a_first_node_opens_at_once_a_joining_one_waits_for_its_seed() {
        assert!(Settle::new(true, true, GIVE_UP).poll(seen(0, 0, 0)));
        let mut joining = Settle::new(false, true, GIVE_UP);
        assert!(!joining.poll(seen(0, 0, 0)));
        assert!(
            joining.poll(seen(2, 2, 100)),
            "the seed answered with the ring"
        );
        // Nobody ever answers: it serves what it can once a silent peer
        // would be convicted.
        let mut lonely = Settle::new(false, true, GIVE_UP);
        assert!(!lonely.poll(seen(0, 0, 0)));
        assert!(!lonely.poll(seen(5, 0, 3_900)));
        assert!(lonely.poll(seen(5, 0, 4_000)));
    }
}
