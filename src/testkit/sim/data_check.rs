//! The data path under random faults: one seed, one schedule, the
//! properties Cassandra promises.
//!
//! [`run_seed`] boots two datacenters of 3 to 5 nodes (NetworkTopology,
//! three replicas in each), then for [`CHAOS_MS`] clients send writes and
//! reads at every consistency level to random nodes, and lightweight
//! transactions (compare-and-set and SERIAL reads) on a few keys of their
//! own, while faults come and go: datacenter cuts, partitions between
//! random sets of nodes, crashes and restarts, loss and duplication. Then
//! everything heals, every node runs, and the cluster is left [`HEAL_MS`]
//! to deliver its hints. The properties:
//!
//! 1. **Overlapping levels see acknowledged writes.** A read that started
//!    after a write was acknowledged, at a level whose replicas must
//!    intersect the write's (R + W > RF, per datacenter for the LOCAL_
//!    levels: [`overlaps`]), returns that write or a newer one.
//! 2. **Hinted handoff completes.** Once healed, every replica of a key
//!    holds every acknowledged write of it. Excepted, as in Cassandra:
//!    writes whose coordinator crashed before its write timeout passed
//!    (the hints it would have kept died with it).
//! 3. **Lightweight transactions are linearizable** per key
//!    ([`super::linearizability`]); an operation that timed out or never
//!    answered may or may not have taken effect.
//! 4. **Nothing panics.**
//!
//! A failing seed is reported with the line that replays it alone.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::data::{Answer, Kind, Op, WRITE_TIMEOUT_MS, cell_of, key_of, strategy};
use super::linearizability as lin;
use super::net::NetConfig;
use super::rng::Rng;
use super::world::{World, WorldConfig};
use crate::node::cluster::membership::ring_of;
use crate::node::db::consistency::Consistency;

/// How long clients and faults run.
pub const CHAOS_MS: u64 = 20_000;
/// How long the healed cluster has to deliver hints.
pub const HEAL_MS: u64 = 40_000;
/// Keys of plain writes and reads: 0..REGISTERS; LWT keys above.
pub const REGISTERS: u32 = 6;
pub const LWT_BASE: u32 = 100;
pub const LWT_KEYS: u32 = 3;

/// The line that replays one seed alone.
pub fn replay_line(seed: u64) -> String {
    format!("CCRSIM_SIM_SEED={seed} cargo test --lib testkit::sim::data_check")
}

/// What a passing seed did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub seed: u64,
    pub ops: usize,
    pub acknowledged_writes: usize,
    pub checked_reads: usize,
    pub lwt_ops: usize,
    pub trace_hash: u64,
}

/// Whether a read at `r` through datacenter `r_dc` must see a write
/// acknowledged at `w` through `w_dc`, with three replicas in each of two
/// datacenters.
pub fn overlaps(w: Consistency, w_dc: u8, r: Consistency, r_dc: u8) -> bool {
    use Consistency::*;
    match (w, r) {
        (All, _) | (_, All) => true,
        (EachQuorum, LocalQuorum | Quorum | EachQuorum) => true,
        (Quorum, Quorum) => true,
        (Quorum, EachQuorum) => true,
        (LocalQuorum, LocalQuorum) => w_dc == r_dc,
        _ => false,
    }
}

fn dc_of(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(v) => v.octets()[2],
        IpAddr::V6(_) => 0,
    }
}

/// A failing seed.
#[derive(Debug)]
pub struct Failure {
    pub seed: u64,
    pub why: String,
    pub context: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {} failed: {}\n{}\nreplay it alone: {}",
            self.seed,
            self.why,
            self.context,
            replay_line(self.seed)
        )
    }
}

struct Run {
    world: World,
    rng: Rng,
    /// When each node last crashed (world ms), for property 2's exception.
    crashes: BTreeMap<IpAddr, Vec<u64>>,
}

const WRITE_LEVELS: [Consistency; 6] = [
    Consistency::One,
    Consistency::LocalOne,
    Consistency::LocalQuorum,
    Consistency::Quorum,
    Consistency::EachQuorum,
    Consistency::All,
];
const READ_LEVELS: [Consistency; 5] = [
    Consistency::One,
    Consistency::LocalOne,
    Consistency::LocalQuorum,
    Consistency::Quorum,
    Consistency::All,
];

impl Run {
    fn client_op(&mut self, n: &mut u64) {
        let up = self.world.up();
        let Some(via) = self.rng.pick(&up).copied() else {
            return;
        };
        *n += 1;
        let kind = if self.rng.chance(0.25) {
            let k = LWT_BASE + self.rng.below(u64::from(LWT_KEYS)) as u32;
            if self.rng.chance(0.3) {
                (k, Kind::SerialRead)
            } else {
                // Expect a value some earlier CAS may have set, or none.
                let expect = match self.rng.below(3) {
                    0 => None,
                    _ => Some(self.rng.below(*n) as i64),
                };
                (
                    k,
                    Kind::Cas {
                        expect,
                        new: *n as i64,
                    },
                )
            }
        } else {
            let k = self.rng.below(u64::from(REGISTERS)) as u32;
            if self.rng.chance(0.5) {
                let cl = *self.rng.pick(&WRITE_LEVELS).expect("levels");
                (
                    k,
                    Kind::Write {
                        value: *n as i64,
                        cl,
                    },
                )
            } else {
                let cl = *self.rng.pick(&READ_LEVELS).expect("levels");
                (k, Kind::Read { cl })
            }
        };
        self.world.submit(via, kind.0, kind.1);
    }

    fn fault(&mut self, healing: &mut Vec<(u64, Heal)>) {
        let now = self.world.now();
        let nodes = self.world.addrs();
        match self.rng.below(5) {
            0 => {
                let dc = self.rng.between(1, 2) as u8;
                let id = self.world.net.cut_dc(dc);
                self.world.note(format!("FAULT cut dc{dc}"));
                healing.push((now + self.rng.between(500, 6000), Heal::Partition(id)));
            }
            1 => {
                let mut v = nodes.clone();
                self.rng.shuffle(&mut v);
                let k = self.rng.between(1, (v.len() - 1) as u64) as usize;
                let (a, b) = v.split_at(k);
                let id = self.world.net.cut(
                    a.iter().copied().collect(),
                    b.iter().copied().collect(),
                    self.rng.chance(0.7),
                );
                self.world.note(format!("FAULT partition {a:?} | {b:?}"));
                healing.push((now + self.rng.between(200, 4000), Heal::Partition(id)));
            }
            2 => {
                let up = self.world.up();
                if let Some(node) = self.rng.pick(&up).copied() {
                    self.world.crash(node);
                    self.crashes.entry(node).or_default().push(now);
                    healing.push((now + self.rng.between(300, 8000), Heal::Restart(node)));
                }
            }
            3 => {
                self.world.net.config.loss = self.rng.float_between(0.0, 0.05);
                self.world.net.config.duplicate = self.rng.float_between(0.0, 0.05);
                self.world.net.config.jitter_ms = self.rng.between(0, 50);
                self.world
                    .note(format!("FAULT weather {:?}", self.world.net.config));
            }
            _ => {}
        }
    }

    fn all(&mut self) -> Result<Outcome, String> {
        for a in self.world.addrs() {
            self.world.start(a);
        }
        self.world.run_for(8_000);
        let mut healing: Vec<(u64, Heal)> = Vec::new();
        let end = self.world.now() + CHAOS_MS;
        let mut next_fault = self.world.now() + self.rng.between(500, 3000);
        let mut n = 0u64;
        while self.world.now() < end {
            let now = self.world.now();
            healing.retain(|(at, h)| {
                if *at <= now {
                    match h {
                        Heal::Partition(id) => {
                            self.world.net.heal(*id);
                        }
                        Heal::Restart(node) => self.world.restart(*node),
                    }
                    false
                } else {
                    true
                }
            });
            if now >= next_fault {
                self.fault(&mut healing);
                next_fault = now + self.rng.between(500, 3000);
            }
            self.client_op(&mut n);
            let gap = self.rng.between(1, 15);
            self.world.run_for(gap);
        }
        // Heal everything; every node runs; time for hints.
        self.world.net.heal_all();
        self.world.net.config = NetConfig::default();
        for a in self.world.addrs() {
            self.world.restart(a);
        }
        self.world.note("HEAL".into());
        self.world.run_for(HEAL_MS);
        let checked_reads = self.read_your_acknowledged_writes()?;
        self.hints_complete()?;
        let lwt_ops = self.linearizable()?;
        let h = &self.world.history;
        Ok(Outcome {
            seed: 0,
            ops: h.len(),
            acknowledged_writes: h
                .iter()
                .filter(|o| matches!(o.returned, Some((_, Answer::Written))))
                .count(),
            checked_reads,
            lwt_ops,
            trace_hash: self.world.trace().hash(),
        })
    }

    /// Property 1.
    fn read_your_acknowledged_writes(&self) -> Result<usize, String> {
        let h = &self.world.history;
        let mut writes: BTreeMap<u32, Vec<&Op>> = BTreeMap::new();
        for o in h {
            if let (Kind::Write { .. }, Some((_, Answer::Written))) = (&o.kind, &o.returned) {
                writes.entry(o.key).or_default().push(o);
            }
        }
        let mut checked = 0;
        for r in h {
            let (Kind::Read { cl: rcl }, Some((_, Answer::Read(got)))) = (&r.kind, &r.returned)
            else {
                continue;
            };
            for w in writes.get(&r.key).into_iter().flatten() {
                let (Kind::Write { cl: wcl, value }, Some((acked, _))) = (&w.kind, &w.returned)
                else {
                    continue;
                };
                if *acked >= r.invoked || !overlaps(*wcl, dc_of(&w.via), *rcl, dc_of(&r.via)) {
                    continue;
                }
                checked += 1;
                if got.is_none_or(|(ts, _)| ts < w.ts) {
                    return Err(format!(
                        "a read of key {} at {rcl} via {} invoked at {} returned {got:?}, \
                         missing the write of {value} (ts {}) at {wcl} via {} acknowledged at {acked}",
                        r.key, r.via, r.invoked, w.ts, w.via
                    ));
                }
            }
        }
        Ok(checked)
    }

    /// Property 2.
    fn hints_complete(&self) -> Result<(), String> {
        let any = self.world.up()[0];
        let g = self.world.gossip(&any).ok_or("no node up")?;
        let ring = ring_of(g);
        for w in &self.world.history {
            let (Kind::Write { value, cl }, Some((_, Answer::Written))) = (&w.kind, &w.returned)
            else {
                continue;
            };
            let crashed = self.crashes.get(&w.via).is_some_and(|c| {
                c.iter()
                    .any(|t| *t >= w.invoked && *t <= w.invoked + WRITE_TIMEOUT_MS)
            });
            if crashed {
                continue;
            }
            let (token, key) = key_of(w.key);
            for r in ring.replicas(&strategy(), token) {
                let held = self.world.nodes[&r].disk.read(token, &key);
                let ts = held.as_ref().and_then(cell_of).map(|(ts, _)| ts);
                if ts.is_none_or(|ts| ts < w.ts) {
                    return Err(format!(
                        "after the heal, replica {r} lacks the write of {value} to key {} \
                         at {cl} via {} (ts {}), acknowledged; it holds {ts:?}; hints kept: {}",
                        w.key,
                        w.via,
                        w.ts,
                        self.world
                            .nodes
                            .values()
                            .map(|n| n.disk.hints.len())
                            .sum::<usize>()
                    ));
                }
            }
        }
        Ok(())
    }

    /// Property 3.
    fn linearizable(&self) -> Result<usize, String> {
        check_lwt(&self.world.history)
    }
}

/// Checks the lightweight transactions of `history`, key by key: their
/// compare-and-sets and SERIAL reads must be linearizable. Returns how many
/// operations were checked.
pub fn check_lwt(history: &[Op]) -> Result<usize, String> {
    let mut per_key: BTreeMap<u32, lin::History> = BTreeMap::new();
    let mut n = 0;
    for (i, o) in history.iter().enumerate() {
        let op = match o.kind {
            Kind::Cas { expect, new } => lin::Op::Cas { expect, new },
            Kind::SerialRead => lin::Op::Read,
            _ => continue,
        };
        let h = per_key.entry(o.key).or_default();
        let client = i as u32;
        // The clock counts milliseconds: an answer in the same one is
        // given the next (a wider interval, never a wrong order).
        let at = |t: u64| t.max(o.invoked + 1);
        match (&o.returned, op) {
            (Some((t, Answer::Cas { applied, current })), _) => {
                let outcome = lin::Outcome::Cas {
                    applied: *applied,
                    current: Some(*current),
                };
                h.completed(client, op, o.invoked, at(*t), outcome);
            }
            (Some((t, Answer::Read(v))), lin::Op::Read) => {
                let outcome = lin::Outcome::Read(v.map(|(_, v)| v));
                h.completed(client, op, o.invoked, at(*t), outcome);
            }
            // A failed read tells nothing.
            (Some((_, Answer::Failed(_))), lin::Op::Read) => continue,
            // Timed out, never answered (its coordinator crashed), or
            // Unavailable, which the commit can answer after a quorum
            // accepted the proposal (as Cassandra's commit does): it may or
            // may not have taken effect.
            (Some((_, Answer::Failed(_))), _) | (None, _) => {
                h.timed_out(client, op, o.invoked);
            }
            (Some((_, other)), _) => {
                return Err(format!("operation {i} {o:?} answered {other:?}"));
            }
        }
        n += 1;
    }
    for (key, h) in &per_key {
        match lin::check(h, lin::DEFAULT_BUDGET) {
            lin::Verdict::Linearizable { .. } => {}
            lin::Verdict::NotLinearizable {
                longest_prefix,
                explanation,
            } => {
                return Err(format!(
                    "the lightweight transactions on key {key} are not linearizable: \
                     {explanation}; longest linearizable prefix {longest_prefix:?}; history {:?}",
                    h.events()
                ));
            }
            lin::Verdict::GaveUp { explored } => {
                return Err(format!(
                    "the linearizability check of key {key} gave up after {explored} steps"
                ));
            }
        }
    }
    Ok(n)
}

enum Heal {
    Partition(u64),
    Restart(IpAddr),
}

/// Plays `seed` and checks the properties; a panic is a failure too.
pub fn run_seed(seed: u64) -> Result<Outcome, Failure> {
    run_seed_with(seed, 4000)
}

fn run_seed_with(seed: u64, trace_cap: usize) -> Result<Outcome, Failure> {
    let mut rng = Rng::new(seed);
    let config = WorldConfig {
        dc_sizes: [rng.between(3, 5) as u8, rng.between(3, 5) as u8],
        trace_cap,
        trace_messages: false,
        ..WorldConfig::default()
    };
    let world = World::new(rng.next_u64(), config);
    let mut run = Run {
        world,
        rng,
        crashes: BTreeMap::new(),
    };
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run.all()));
    let why = match r {
        Ok(Ok(mut o)) => {
            o.seed = seed;
            return Ok(o);
        }
        Ok(Err(why)) => why,
        Err(p) => format!(
            "panicked: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        ),
    };
    Err(Failure {
        seed,
        why,
        context: format!("{}\n{}", run.world.describe(), run.world.trace().tail(200)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEEDS: u64 = 40;

    fn env_u64(name: &str) -> Option<u64> {
        std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
    }

    fn check(seeds: impl IntoIterator<Item = u64>) {
        let mut failed = Vec::new();
        let mut ok = 0;
        for s in seeds {
            match run_seed(s) {
                Ok(_) => ok += 1,
                Err(f) => failed.push(f),
            }
        }
        eprintln!("{ok} seeds passed, {} failed", failed.len());
        if let Some(f) = failed.first() {
            let others: Vec<u64> = failed.iter().skip(1).map(|f| f.seed).collect();
            panic!("{f}\nother failing seeds: {others:?}");
        }
    }

    #[test]
    fn the_data_path_keeps_its_promises_under_random_faults() {
        if let Some(seed) = env_u64("CCRSIM_SIM_SEED") {
            match run_seed_with(seed, usize::MAX) {
                Ok(o) => eprintln!("seed {seed} passed: {o:?}"),
                Err(f) => panic!("{f}"),
            }
            return;
        }
        check(0..SEEDS);
    }

    #[test]
    #[ignore]
    fn the_data_path_keeps_its_promises_under_many_random_faults() {
        let n = env_u64("CCRSIM_SIM_SEEDS").unwrap_or(1000);
        let first = env_u64("CCRSIM_SIM_FIRST_SEED").unwrap_or(SEEDS);
        check(first..first + n);
    }

    #[test]
    fn levels_overlap_as_r_plus_w_exceeds_rf() {
        use Consistency::*;
        assert!(overlaps(LocalQuorum, 1, LocalQuorum, 1));
        assert!(!overlaps(LocalQuorum, 1, LocalQuorum, 2));
        assert!(!overlaps(LocalQuorum, 1, Quorum, 1));
        assert!(overlaps(EachQuorum, 1, LocalQuorum, 2));
        assert!(overlaps(Quorum, 2, Quorum, 1));
        assert!(!overlaps(One, 1, Quorum, 1));
        assert!(overlaps(One, 1, All, 2));
    }

    /// Found by this check: a node that restarted coordinated a read at ONE
    /// with a ring of itself alone (gossip not kept across restarts) and
    /// answered that an acknowledged row did not exist. Nodes now keep
    /// their ring on disk.
    #[test]
    fn seed_4_a_restarted_node_reads_with_the_ring_it_kept() {
        if let Err(f) = run_seed(4) {
            panic!("{f}");
        }
    }

    /// Found by the long run: a compare-and-set whose proposal a quorum
    /// accepted, then whose commit answered Unavailable (the other
    /// datacenter cut off meanwhile), took effect anyway when a later round
    /// finished it; the check had taken Unavailable for "never happened".
    #[test]
    fn seeds_116_628_813_an_unavailable_commit_may_still_apply() {
        for seed in [116, 628, 813] {
            if let Err(f) = run_seed(seed) {
                panic!("{f}");
            }
        }
    }

    #[test]
    fn two_applied_inserts_if_not_exists_are_caught() {
        let via: IpAddr = "127.0.1.1".parse().unwrap();
        let op = |new, invoked, returned| Op {
            key: LWT_BASE,
            kind: Kind::Cas { expect: None, new },
            via,
            invoked,
            ts: 0,
            returned: Some((
                returned,
                Answer::Cas {
                    applied: true,
                    current: None,
                },
            )),
        };
        let mut h = vec![op(1, 10, 20)];
        assert_eq!(check_lwt(&h), Ok(1));
        h.push(op(2, 12, 25));
        let e = check_lwt(&h).unwrap_err();
        assert!(e.contains("not linearizable"), "{e}");
        // One of them timed out instead: it may not have applied.
        h[1].returned = Some((
            30,
            Answer::Failed(crate::node::error::QueryError::WriteTimeout {
                consistency: "SERIAL".into(),
                received: 1,
                block_for: 2,
                write_type: "CAS".into(),
            }),
        ));
        assert_eq!(check_lwt(&h), Ok(2));
    }

    #[test]
    fn one_seed_twice_is_one_run() {
        let a = run_seed(5).expect("seed 5");
        let b = run_seed(5).expect("seed 5");
        assert_eq!(a, b);
    }
}
