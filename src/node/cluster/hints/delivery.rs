//! One pass of hint delivery, as a state machine with no I/O.
//!
//! A [`Delivery`] takes the hints kept at a pass's start, grouped by the
//! host they are for, oldest first. [`Delivery::pump`] says which hints to
//! send now: per host at most `window` in flight, at most `bytes_per_sec`
//! of mutations per second (a token bucket on the caller's clock, in ms:
//! Cassandra's `hinted_handoff_throttle`, which it divides among the other
//! nodes of the cluster), to at most `hosts` hosts at once (Cassandra's
//! `max_hints_delivery_threads`: a host holds its slot from its first send
//! until its queue is empty and its hints in flight answered, or it failed
//! or went unreachable; waiting hosts start in the pass's host order), and
//! nothing to a host the caller says is not reachable. The caller sends each, and reports the outcome with
//! [`Delivery::step`]: a delivered hint is handed back to be deleted; a
//! failed one (an error or no answer in time) stops delivery to that host
//! for this pass, as Cassandra's dispatcher does, and the hint stays kept
//! for the next pass. When `pump` gives nothing to send, nothing to wait
//! for and nothing is in flight, the pass is over.

use std::collections::{BTreeMap, VecDeque};

use super::{Hint, HintedHandoff};

/// How fast a pass may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Hints in flight per host.
    pub window: usize,
    /// Bytes of mutations per second per host (0: no limit).
    pub bytes_per_sec: u64,
    /// Hosts delivered to at once (0: no limit).
    pub hosts: usize,
}

impl Settings {
    /// A node's settings: 2 048 hints in flight per host (the node sends
    /// them in pages, [`super::replay`]), `throttle_kib` KiB a second (0: no limit),
    /// divided among the `peers` other nodes of the cluster, as Cassandra
    /// divides `hinted_handoff_throttle`; `hosts` hosts at once (0: no limit).
    pub fn new(throttle_kib: u64, hosts: usize, peers: usize) -> Settings {
        Settings {
            window: 2048,
            bytes_per_sec: throttle_kib.saturating_mul(1024) / peers.max(1) as u64,
            hosts,
        }
    }

    /// [`Settings::new`] from a node's [`HintedHandoff`] settings.
    pub fn of(handoff: &HintedHandoff, peers: usize) -> Settings {
        Settings::new(handoff.throttle_kib, handoff.max_delivery_threads, peers)
    }

    /// Cassandra's defaults: `hinted_handoff_throttle: 1024KiB` a second,
    /// divided among the `peers` other nodes of the cluster, and
    /// `max_hints_delivery_threads: 2`.
    pub fn cassandra(peers: usize) -> Settings {
        Settings {
            window: 128,
            ..Settings::new(1024, 2, peers)
        }
    }
}

/// A hint to send now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send {
    /// Names this delivery in [`Delivery::step`].
    pub id: u64,
    pub hint: Hint,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pump {
    pub sends: Vec<Send>,
    /// When the throttle allows more (ms on the caller's clock), if some
    /// host waits on it.
    pub wake: Option<u64>,
}

#[derive(Debug)]
struct Host {
    queue: VecDeque<Hint>,
    in_flight: usize,
    failed: bool,
    /// Whether it holds one of the `hosts` slots.
    started: bool,
    /// Bytes the throttle allows now (may go below zero by one hint).
    budget: i64,
    refilled: u64,
}

/// One pass of hint delivery.
#[derive(Debug)]
pub struct Delivery {
    settings: Settings,
    hosts: BTreeMap<[u8; 16], Host>,
    in_flight: BTreeMap<u64, Hint>,
    next_id: u64,
}

impl Delivery {
    /// A pass over `hints` (in the order [`super::all`] lists them), from `now`.
    pub fn new(hints: Vec<Hint>, settings: Settings, now: u64) -> Delivery {
        let mut hosts: BTreeMap<[u8; 16], Host> = BTreeMap::new();
        for h in hints {
            hosts
                .entry(h.host)
                .or_insert_with(|| Host {
                    queue: VecDeque::new(),
                    in_flight: 0,
                    failed: false,
                    started: false,
                    budget: settings.bytes_per_sec as i64,
                    refilled: now,
                })
                .queue
                .push_back(h);
        }
        Delivery {
            settings,
            hosts,
            in_flight: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The hints to send at `now`, to hosts `reachable` says are up.
    pub fn pump(&mut self, now: u64, reachable: &dyn Fn(&[u8; 16]) -> bool) -> Pump {
        let mut out = Pump::default();
        let (window, rate) = (self.settings.window.max(1), self.settings.bytes_per_sec);
        // Hosts keep their slot while they have hints in flight, or more
        // to send now (a throttled host keeps it while it waits); a failed
        // or unreachable one gives it up.
        let mut occupied = 0;
        for (id, host) in self.hosts.iter_mut() {
            host.started &=
                !host.failed && (host.in_flight > 0 || (!host.queue.is_empty() && reachable(id)));
            occupied += usize::from(host.started);
        }
        for (id, host) in self.hosts.iter_mut() {
            if host.failed || host.queue.is_empty() || !reachable(id) {
                continue;
            }
            if !host.started {
                if self.settings.hosts > 0 && occupied >= self.settings.hosts {
                    continue;
                }
                host.started = true;
                occupied += 1;
            }
            if rate > 0 {
                let elapsed = now.saturating_sub(host.refilled);
                let earned = (u128::from(elapsed) * u128::from(rate) / 1000) as i64;
                if earned > 0 {
                    host.budget = (host.budget + earned).min(rate as i64);
                    host.refilled = now;
                }
            }
            while host.in_flight < window && (rate == 0 || host.budget > 0) {
                let Some(hint) = host.queue.pop_front() else {
                    break;
                };
                if rate > 0 {
                    host.budget -= hint.mutation.len().max(1) as i64;
                }
                host.in_flight += 1;
                self.next_id += 1;
                self.in_flight.insert(self.next_id, hint.clone());
                out.sends.push(Send {
                    id: self.next_id,
                    hint,
                });
            }
            if rate > 0 && host.budget <= 0 && !host.queue.is_empty() {
                // Milliseconds until the budget is positive again.
                let owed = (-host.budget) as u64 + 1;
                let wait = (owed * 1000).div_ceil(rate).max(1);
                let at = host.refilled + wait;
                out.wake = Some(out.wake.map_or(at, |w| w.min(at)));
            }
        }
        out
    }

    /// The outcome of send `id`: the hint to delete once delivered.
    pub fn step(&mut self, id: u64, delivered: bool) -> Option<Hint> {
        let hint = self.in_flight.remove(&id)?;
        let host = self.hosts.get_mut(&hint.host)?;
        host.in_flight -= 1;
        if delivered {
            Some(hint)
        } else {
            host.failed = true;
            None
        }
    }

    /// Hints sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint(host: u8, n: u8, len: usize) -> Hint {
        Hint {
            key: vec![host, n],
            host: [host; 16],
            written: i64::from(n),
            durable: true,
            mutation: vec![n; len],
        }
    }

    fn all(_: &[u8; 16]) -> bool {
        true
    }

    fn ids(p: &Pump) -> Vec<Vec<u8>> {
        p.sends.iter().map(|s| s.hint.key.clone()).collect()
    }

    #[test]
    fn sends_oldest_first_within_the_window_and_deletes_what_is_delivered() {
        let hints = (0..5).map(|n| hint(1, n, 10)).collect();
        let s = Settings {
            window: 2,
            bytes_per_sec: 0,
            hosts: 0,
        };
        let mut d = Delivery::new(hints, s, 0);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 0], vec![1, 1]]);
        assert_eq!(p.wake, None);
        assert_eq!(d.pump(0, &all).sends, vec![], "the window is full");
        let first = p.sends[0].id;
        assert_eq!(d.step(first, true).map(|h| h.key), Some(vec![1, 0]));
        assert_eq!(d.step(first, true), None, "a duplicate answer");
        assert_eq!(ids(&d.pump(0, &all)), vec![vec![1, 2]]);
        assert_eq!(d.in_flight(), 2);
    }

    #[test]
    fn a_failure_stops_that_host_only_and_keeps_the_hint() {
        let hints = vec![hint(1, 0, 1), hint(1, 1, 1), hint(2, 0, 1), hint(2, 1, 1)];
        let s = Settings {
            window: 1,
            bytes_per_sec: 0,
            hosts: 0,
        };
        let mut d = Delivery::new(hints, s, 0);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 0], vec![2, 0]]);
        assert_eq!(d.step(p.sends[0].id, false), None);
        assert!(d.step(p.sends[1].id, true).is_some());
        assert_eq!(
            ids(&d.pump(0, &all)),
            vec![vec![2, 1]],
            "host 1 is done for this pass"
        );
    }

    #[test]
    fn unreachable_hosts_wait() {
        let mut d = Delivery::new(vec![hint(1, 0, 1)], Settings::cassandra(1), 0);
        assert_eq!(d.pump(0, &|_| false), Pump::default());
        assert_eq!(d.pump(0, &all).sends.len(), 1);
    }

    #[test]
    fn the_throttle_spreads_bytes_over_time() {
        // 1 000 bytes a second, hints of 400 bytes: the first budget sends
        // three (the last overdraws), then one about every 400 ms.
        let hints = (0..10).map(|n| hint(1, n, 400)).collect();
        let s = Settings {
            window: 100,
            bytes_per_sec: 1000,
            hosts: 0,
        };
        let mut d = Delivery::new(hints, s, 0);
        let p = d.pump(0, &all);
        assert_eq!(p.sends.len(), 3);
        let wake = p.wake.expect("waits on the throttle");
        assert_eq!(wake, 201, "the budget is -200: positive after 201 ms");
        assert_eq!(d.pump(wake - 1, &all).sends.len(), 0);
        assert_eq!(d.pump(wake, &all).sends.len(), 1);
        // Over ten simulated seconds everything goes, and no faster than the rate.
        let mut sent = 4;
        let mut t = wake;
        while sent < 10 {
            t += 50;
            sent += d.pump(t, &all).sends.len();
        }
        assert!(t >= 2000, "10 hints of 400 bytes at 1 000 B/s took {t} ms");
    }

    #[test]
    fn cassandra_divides_the_throttle_among_the_peers() {
        assert_eq!(Settings::cassandra(5).bytes_per_sec, 209_715);
        assert_eq!(Settings::cassandra(0).bytes_per_sec, 1024 * 1024);
        assert_eq!(Settings::cassandra(5).hosts, 2);
        let node = Settings::of(&HintedHandoff::default(), 2);
        assert_eq!((node.bytes_per_sec, node.hosts), (8 << 20, 2));
        assert_eq!(Settings::new(0, 1, 3).bytes_per_sec, 0, "0 KiB: no limit");
        assert_eq!(Settings::new(u64::MAX, 1, 1).bytes_per_sec, u64::MAX);
    }

    fn slots(hosts: usize, window: usize) -> Settings {
        Settings {
            window,
            bytes_per_sec: 0,
            hosts,
        }
    }

    #[test]
    fn one_slot_delivers_to_one_host_at_a_time_in_order() {
        let hints = vec![hint(1, 0, 1), hint(1, 1, 1), hint(2, 0, 1), hint(2, 1, 1)];
        let mut d = Delivery::new(hints, slots(1, 1), 0);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 0]], "host 2 waits for the slot");
        d.step(p.sends[0].id, true).unwrap();
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 1]], "host 1 keeps its slot");
        assert_eq!(d.pump(0, &all).sends, vec![], "its last hint is unanswered");
        d.step(p.sends[0].id, true).unwrap();
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![2, 0]], "host 1 is done: host 2 starts");
        d.step(p.sends[0].id, true).unwrap();
        assert_eq!(ids(&d.pump(0, &all)), vec![vec![2, 1]]);
    }

    #[test]
    fn a_throttled_host_keeps_its_slot() {
        // 1 000 bytes a second: host 1's first hint overdraws its budget.
        let hints = vec![hint(1, 0, 1500), hint(1, 1, 1500), hint(2, 0, 1)];
        let s = Settings {
            window: 10,
            bytes_per_sec: 1000,
            hosts: 1,
        };
        let mut d = Delivery::new(hints, s, 0);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 0]]);
        d.step(p.sends[0].id, true).unwrap();
        let p = d.pump(1, &all);
        assert_eq!(
            p.sends,
            vec![],
            "host 1 waits on the throttle, host 2 on host 1"
        );
        assert!(p.wake.is_some());
    }

    #[test]
    fn a_failed_or_unreachable_host_frees_its_slot() {
        let hints = vec![hint(1, 0, 1), hint(1, 1, 1), hint(2, 0, 1), hint(3, 0, 1)];
        let mut d = Delivery::new(hints, slots(1, 1), 0);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![1, 0]]);
        assert_eq!(d.step(p.sends[0].id, false), None);
        let p = d.pump(0, &all);
        assert_eq!(ids(&p), vec![vec![2, 0]], "host 1 failed: host 2 starts");
        d.step(p.sends[0].id, true).unwrap();
        // Host 3 is down: nothing to send, and it holds no slot.
        let not_3 = |h: &[u8; 16]| h[0] != 3;
        assert_eq!(d.pump(0, &not_3).sends, vec![]);
        assert_eq!(ids(&d.pump(0, &all)), vec![vec![3, 0]]);
    }

    #[test]
    fn an_unreachable_started_host_gives_its_slot_up() {
        let hints = vec![hint(1, 0, 1), hint(1, 1, 1), hint(2, 0, 1), hint(2, 1, 1)];
        let mut d = Delivery::new(hints, slots(1, 1), 0);
        let p = d.pump(0, &all);
        d.step(p.sends[0].id, true).unwrap();
        let not_1 = |h: &[u8; 16]| h[0] != 1;
        let p = d.pump(0, &not_1);
        assert_eq!(ids(&p), vec![vec![2, 0]], "host 1 went down: host 2 starts");
        assert_eq!(
            d.pump(0, &all).sends,
            vec![],
            "host 1 is back but host 2 holds the slot"
        );
        d.step(p.sends[0].id, true).unwrap();
        assert_eq!(ids(&d.pump(0, &all)), vec![vec![2, 1]]);
    }

    #[test]
    fn no_host_limit_sends_to_every_host_at_once() {
        let hints = (1..=5).map(|h| hint(h, 0, 1)).collect();
        let mut d = Delivery::new(hints, slots(0, 1), 0);
        assert_eq!(d.pump(0, &all).sends.len(), 5);
        let hints = (1..=5).map(|h| hint(h, 0, 1)).collect();
        let mut d = Delivery::new(hints, slots(2, 1), 0);
        assert_eq!(ids(&d.pump(0, &all)), vec![vec![1, 0], vec![2, 0]]);
    }
}
