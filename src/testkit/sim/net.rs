//! The simulated network: messages in flight, as plain data.
//!
//! The real nodes talk over TCP ([`crate::node::cluster::transport`]); in the
//! simulator a sent message becomes an [`Envelope`] in a queue ordered by
//! (delivery time, sequence number). The sequence number is the order of
//! sending, so two messages due at the same millisecond always come out in
//! the same order, and a run is a function of its seed.
//!
//! What happens to a message is decided with the world's one
//! [`Rng`] (passed in, never owned here):
//!
//! - **delay**: a base that depends on whether the two nodes share a
//!   datacenter, plus a uniform jitter. With jitter larger than the gap
//!   between two sends, messages overtake each other: a stronger test than
//!   TCP's per-connection order, which the nodes must not rely on anyway
//!   (two connections, a reconnect, or a relay through a third node already
//!   reorder what they learn).
//! - **loss**: each message is dropped with a probability, decided at send.
//! - **duplication**: a message may be delivered twice, each copy with a
//!   delay of its own.
//! - **partitions**: a [`Partition`] cuts every link from one set of nodes
//!   to another, one way or both ways; a whole datacenter is cut by naming
//!   its nodes. A link is checked when the message is sent and again when it
//!   arrives, so a partition that starts while a message is in flight
//!   drops it (as `iptables` drops a packet still in a socket's queue).
//!   Partitions are healed one at a time, or all at once.
//! - **crashes**: a message to a node that is down is dropped, and so is
//!   one that was sent to an earlier life of a node that has since
//!   restarted (its connections died with it). The world tells the network
//!   when a node crashes and restarts.
//!
//! The network does not know what a message means: it carries any `M`
//! (the world uses the node's real internode [`Message`] type).
//!
//! [`Message`]: crate::node::cluster::message::Message

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::rng::Rng;

/// The link settings: delays in milliseconds, probabilities in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetConfig {
    /// Base delay between two nodes of one datacenter.
    pub same_dc_ms: u64,
    /// Base delay between two datacenters.
    pub cross_dc_ms: u64,
    /// Added to each message's delay: uniform in `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl Default for NetConfig {
    /// A calm network: 1 ms within a datacenter, 30 ms across, a little
    /// jitter, no loss.
    fn default() -> Self {
        NetConfig {
            same_dc_ms: 1,
            cross_dc_ms: 30,
            jitter_ms: 5,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// One message in flight.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope<M> {
    pub from: IpAddr,
    pub to: IpAddr,
    pub sent_at: u64,
    pub deliver_at: u64,
    /// Order of sending (ties at one delivery time come out in this order).
    pub seq: u64,
    /// The life of `to` the message was sent to (see [`Net::restart`]).
    pub to_life: u64,
    /// A second copy of a duplicated message.
    pub duplicate: bool,
    pub msg: M,
}

/// Why a message did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Lost on the way (the loss probability).
    Lost,
    /// A partition cuts the link.
    Cut,
    /// The receiver is down.
    Down,
    /// The receiver restarted after the message was sent.
    Restarted,
}

/// What became of a sent message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Queued: the delivery time of each copy (two when duplicated).
    Queued(Vec<u64>),
    Dropped(Drop),
}

/// What the queue hands out next.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival<M> {
    Delivered(Envelope<M>),
    Dropped(Envelope<M>, Drop),
}

/// A cut: no message goes from a node of `from` to a node of `to` (nor
/// back, when `both_ways`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub from: BTreeSet<IpAddr>,
    pub to: BTreeSet<IpAddr>,
    pub both_ways: bool,
}

impl Partition {
    pub fn cuts(&self, from: &IpAddr, to: &IpAddr) -> bool {
        (self.from.contains(from) && self.to.contains(to))
            || (self.both_ways && self.from.contains(to) && self.to.contains(from))
    }
}

/// The simulated network.
#[derive(Debug, Clone)]
pub struct Net<M> {
    pub config: NetConfig,
    /// Each node's datacenter (its delay class).
    dc: BTreeMap<IpAddr, u8>,
    in_flight: BTreeMap<(u64, u64), Envelope<M>>,
    seq: u64,
    partitions: BTreeMap<u64, Partition>,
    next_partition: u64,
    down: BTreeSet<IpAddr>,
    /// How many times each node has started (its current life).
    life: BTreeMap<IpAddr, u64>,
}

impl<M: Clone> Net<M> {
    pub fn new(config: NetConfig) -> Net<M> {
        Net {
            config,
            dc: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            partitions: BTreeMap::new(),
            next_partition: 1,
            down: BTreeSet::new(),
            life: BTreeMap::new(),
        }
    }

    /// Adds a node of datacenter `dc` (up).
    pub fn add_node(&mut self, addr: IpAddr, dc: u8) {
        self.dc.insert(addr, dc);
        self.life.entry(addr).or_insert(0);
    }

    pub fn nodes(&self) -> impl Iterator<Item = &IpAddr> {
        self.dc.keys()
    }

    /// The nodes of datacenter `dc`.
    pub fn dc_nodes(&self, dc: u8) -> BTreeSet<IpAddr> {
        self.dc
            .iter()
            .filter(|(_, d)| **d == dc)
            .map(|(a, _)| *a)
            .collect()
    }

    /// `node` is down: messages to it are dropped from now on.
    pub fn crash(&mut self, node: IpAddr) {
        self.down.insert(node);
    }

    /// `node` is up again, in a new life: what was sent to its earlier
    /// life is dropped on arrival.
    pub fn restart(&mut self, node: IpAddr) {
        self.down.remove(&node);
        *self.life.entry(node).or_insert(0) += 1;
    }

    pub fn is_down(&self, node: &IpAddr) -> bool {
        self.down.contains(node)
    }

    /// Cuts the links from `from` to `to` (and back when `both_ways`);
    /// returns the partition's id, for [`Net::heal`].
    pub fn cut(&mut self, from: BTreeSet<IpAddr>, to: BTreeSet<IpAddr>, both_ways: bool) -> u64 {
        let id = self.next_partition;
        self.next_partition += 1;
        self.partitions.insert(
            id,
            Partition {
                from,
                to,
                both_ways,
            },
        );
        id
    }

    /// Cuts datacenter `dc` from every other one, both ways.
    pub fn cut_dc(&mut self, dc: u8) -> u64 {
        let inside = self.dc_nodes(dc);
        let outside: BTreeSet<IpAddr> = self
            .dc
            .keys()
            .filter(|a| !inside.contains(a))
            .copied()
            .collect();
        self.cut(inside, outside, true)
    }

    /// Ends one partition (false if it had already ended).
    pub fn heal(&mut self, id: u64) -> bool {
        self.partitions.remove(&id).is_some()
    }

    /// Ends every partition.
    pub fn heal_all(&mut self) {
        self.partitions.clear();
    }

    pub fn partitions(&self) -> impl Iterator<Item = (&u64, &Partition)> {
        self.partitions.iter()
    }

    /// Whether a partition cuts the link from `from` to `to`.
    pub fn is_cut(&self, from: &IpAddr, to: &IpAddr) -> bool {
        self.partitions.values().any(|p| p.cuts(from, to))
    }

    fn delay(&self, rng: &mut Rng, from: &IpAddr, to: &IpAddr) -> u64 {
        let base = if self.dc.get(from) == self.dc.get(to) {
            self.config.same_dc_ms
        } else {
            self.config.cross_dc_ms
        };
        base + rng.between(0, self.config.jitter_ms)
    }

    /// Sends `msg` at `now`: drops it, or queues it (twice when duplicated).
    pub fn send(&mut self, rng: &mut Rng, now: u64, from: IpAddr, to: IpAddr, msg: M) -> Sent {
        if self.down.contains(&to) {
            return Sent::Dropped(Drop::Down);
        }
        if self.is_cut(&from, &to) {
            return Sent::Dropped(Drop::Cut);
        }
        // The draws happen in a fixed order whatever the outcome, so that
        // changing one probability does not shift every later draw.
        let lost = rng.chance(self.config.loss);
        let duplicated = rng.chance(self.config.duplicate);
        let first = self.delay(rng, &from, &to);
        let second = self.delay(rng, &from, &to);
        if lost {
            return Sent::Dropped(Drop::Lost);
        }
        let to_life = self.life.get(&to).copied().unwrap_or(0);
        let mut at = vec![now + first];
        if duplicated {
            at.push(now + second);
        }
        for (i, t) in at.iter().enumerate() {
            self.seq += 1;
            self.in_flight.insert(
                (*t, self.seq),
                Envelope {
                    from,
                    to,
                    sent_at: now,
                    deliver_at: *t,
                    seq: self.seq,
                    to_life,
                    duplicate: i > 0,
                    msg: msg.clone(),
                },
            );
        }
        Sent::Queued(at)
    }

    /// When the next message is due, if any is in flight.
    pub fn next_time(&self) -> Option<u64> {
        self.in_flight.keys().next().map(|(t, _)| *t)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Takes the next message due, delivered or dropped by what holds now
    /// (partitions, crashes and restarts since it was sent).
    pub fn pop(&mut self) -> Option<Arrival<M>> {
        let (_, env) = self.in_flight.pop_first()?;
        let why = if self.down.contains(&env.to) {
            Some(Drop::Down)
        } else if self.life.get(&env.to).copied().unwrap_or(0) != env.to_life {
            Some(Drop::Restarted)
        } else if self.is_cut(&env.from, &env.to) {
            Some(Drop::Cut)
        } else {
            None
        };
        Some(match why {
            Some(d) => Arrival::Dropped(env, d),
            None => Arrival::Delivered(env),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(dc: u8, i: u8) -> IpAddr {
        IpAddr::from([127, 0, dc, i])
    }

    fn net(config: NetConfig) -> Net<u32> {
        let mut n = Net::new(config);
        for dc in 1..=2 {
            for i in 1..=3 {
                n.add_node(ip(dc, i), dc);
            }
        }
        n
    }

    fn drain(n: &mut Net<u32>) -> Vec<(u64, IpAddr, u32)> {
        let mut out = Vec::new();
        while let Some(a) = n.pop() {
            if let Arrival::Delivered(e) = a {
                out.push((e.deliver_at, e.to, e.msg));
            }
        }
        out
    }

    fn noisy() -> NetConfig {
        NetConfig {
            same_dc_ms: 2,
            cross_dc_ms: 40,
            jitter_ms: 50,
            loss: 0.2,
            duplicate: 0.2,
        }
    }

    fn run(seed: u64) -> Vec<(u64, IpAddr, u32)> {
        let mut n = net(noisy());
        let mut rng = Rng::new(seed);
        for k in 0..200u32 {
            let to = ip(1 + (k % 2) as u8, 1 + (k % 3) as u8);
            n.send(&mut rng, u64::from(k), ip(1, 1), to, k);
        }
        drain(&mut n)
    }

    #[test]
    fn one_seed_one_delivery_order() {
        assert_eq!(run(11), run(11));
        assert_ne!(run(11), run(12));
    }

    #[test]
    fn jitter_reorders_and_the_queue_is_in_time_order() {
        let d = run(3);
        assert!(d.windows(2).all(|w| w[0].0 <= w[1].0));
        let msgs: Vec<u32> = d.iter().map(|x| x.2).collect();
        assert!(msgs.windows(2).any(|w| w[0] > w[1]), "nothing overtook");
    }

    #[test]
    fn delays_are_base_plus_jitter_by_datacenter() {
        let mut n = net(NetConfig {
            same_dc_ms: 2,
            cross_dc_ms: 40,
            jitter_ms: 3,
            loss: 0.0,
            duplicate: 0.0,
        });
        let mut rng = Rng::new(1);
        for _ in 0..100 {
            match n.send(&mut rng, 1000, ip(1, 1), ip(1, 2), 0) {
                Sent::Queued(at) => assert!((1002..=1005).contains(&at[0])),
                other => panic!("{other:?}"),
            }
            match n.send(&mut rng, 1000, ip(1, 1), ip(2, 2), 0) {
                Sent::Queued(at) => assert!((1040..=1043).contains(&at[0])),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn loss_and_duplication_happen_at_their_rates() {
        let mut n = net(NetConfig {
            loss: 0.3,
            duplicate: 0.5,
            ..NetConfig::default()
        });
        let mut rng = Rng::new(9);
        let (mut lost, mut twice) = (0, 0);
        for k in 0..10_000 {
            match n.send(&mut rng, 0, ip(1, 1), ip(1, 2), k) {
                Sent::Dropped(Drop::Lost) => lost += 1,
                Sent::Queued(at) if at.len() == 2 => twice += 1,
                Sent::Queued(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!((2700..3300).contains(&lost), "{lost}");
        assert!((3200..3800).contains(&twice), "{twice}");
        let delivered = drain(&mut n);
        assert_eq!(delivered.len(), 10_000 - lost + twice);
    }

    #[test]
    fn partitions_cut_one_way_or_both_and_heal() {
        let mut n = net(NetConfig::default());
        let mut rng = Rng::new(1);
        let one_way = n.cut([ip(1, 1)].into(), [ip(1, 2)].into(), false);
        assert_eq!(
            n.send(&mut rng, 0, ip(1, 1), ip(1, 2), 1),
            Sent::Dropped(Drop::Cut)
        );
        assert!(matches!(
            n.send(&mut rng, 0, ip(1, 2), ip(1, 1), 2),
            Sent::Queued(_)
        ));
        let dc = n.cut_dc(2);
        for i in 1..=3 {
            assert!(n.is_cut(&ip(1, 3), &ip(2, i)) && n.is_cut(&ip(2, i), &ip(1, 3)));
            assert!(!n.is_cut(&ip(2, 1), &ip(2, i)));
        }
        assert!(n.heal(one_way));
        assert!(!n.heal(one_way));
        assert!(!n.is_cut(&ip(1, 1), &ip(1, 2)));
        assert!(n.is_cut(&ip(1, 1), &ip(2, 1)));
        n.heal(dc);
        assert!(!n.is_cut(&ip(1, 1), &ip(2, 1)));
        n.cut_dc(1);
        n.heal_all();
        assert_eq!(n.partitions().count(), 0);
    }

    #[test]
    fn a_cut_made_in_flight_drops_on_arrival() {
        let mut n = net(NetConfig::default());
        let mut rng = Rng::new(1);
        n.send(&mut rng, 0, ip(1, 1), ip(2, 1), 7);
        n.cut_dc(1);
        assert!(matches!(n.pop(), Some(Arrival::Dropped(_, Drop::Cut))));
    }

    #[test]
    fn crashed_and_restarted_receivers_lose_their_messages() {
        let mut n = net(NetConfig::default());
        let mut rng = Rng::new(1);
        n.crash(ip(1, 2));
        assert_eq!(
            n.send(&mut rng, 0, ip(1, 1), ip(1, 2), 1),
            Sent::Dropped(Drop::Down)
        );
        n.restart(ip(1, 2));
        n.send(&mut rng, 0, ip(1, 1), ip(1, 2), 2);
        n.send(&mut rng, 100, ip(1, 1), ip(1, 3), 3);
        n.crash(ip(1, 3));
        assert!(matches!(n.pop(), Some(Arrival::Delivered(e)) if e.msg == 2));
        assert!(matches!(n.pop(), Some(Arrival::Dropped(_, Drop::Down))));
        // Sent to the old life, arriving in the new one.
        n.restart(ip(1, 3));
        n.send(&mut rng, 10, ip(1, 1), ip(1, 2), 4);
        n.crash(ip(1, 2));
        n.restart(ip(1, 2));
        assert!(matches!(
            n.pop(),
            Some(Arrival::Dropped(_, Drop::Restarted))
        ));
        assert_eq!(n.in_flight(), 0);
    }
}
