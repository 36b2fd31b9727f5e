//! Cluster scenarios as data: each file in `tests/sim/` is one scenario
//! played on a fresh deterministic simulator ([`ccrsim::testkit::sim`]):
//! two datacenters of nodes running the node's real gossip, coordinator
//! rounds and hint delivery over a simulated network with a virtual clock.
//! Lines starting with `> ` are commands; the lines under each are what the
//! simulator printed. `#` lines are comments. A world is a function of its
//! seed, so every time printed is exact.
//!
//! Nodes are named `DC.I` (`1.2` is 127.0.1.2, in dc1). A SET is `all`,
//! `dc1`, `dc2` or nodes joined by commas (`1.1,2.3`). Commands:
//!
//! - `world seed=N dc1=N dc2=N` (first line only; default seed 1, 3 + 3):
//!   the world, every node down;
//! - `start all|NODE...`: starts them, then waits for gossip to converge
//!   (polled every 100 ms, at most 30 s) and prints `converged at T ms`;
//!   `converge` waits the same way without starting anything;
//! - `crash NODE` (loses its memory, keeps its disk), `stop NODE` (clean
//!   shutdown, announced), `restart NODE`: print nothing;
//! - `cut SET SET`, `cut SET from SET` (both ways), `cut SET -> SET` (one
//!   way); the second SET loses the members of the first; `heal` ends every
//!   cut; `tick 5s` / `tick 200ms` runs the world and prints the clock;
//! - operations, each through a coordinator (`via`), run until they return
//!   (at most 10 s) and print their answer and the time they took,
//!   `ok (2 ms)`, `v=7 (31 ms)`, `no row (1 ms)`, `applied (61 ms)`,
//!   `not applied, v=1 (64 ms)` or `error <Kind>: <message> [<fields>] (0 ms)`:
//!   - `write k=K v=V at LEVEL via NODE` (LEVEL as Cassandra spells it);
//!   - `read k=K at LEVEL via NODE`;
//!   - `cas k=K if none|V set V via NODE` (`INSERT ... IF NOT EXISTS` or
//!     `UPDATE ... IF v = V`, at SERIAL, committed at QUORUM);
//!   - `serial read k=K via NODE`;
//!   - with a trailing `&` an operation is only submitted (prints nothing);
//!     `wait` runs until every submitted one returns and prints each, in
//!     order, after its command: ops submitted together start at the same
//!     virtual instant;
//! - `hints`: the hints each node keeps (`1.1: 3`), or `none`;
//! - `holds k=K`: what the key's replicas (and any other node that holds
//!   it) keep on disk, grouped by value (`1.1 1.2 1.3: v=7`,
//!   `2.1 2.2 2.3: no row`), down nodes included;
//! - `replicas k=K`: the key's replicas, on the ring of the first node up;
//! - `down NODE`: the nodes NODE's failure detector sees down, or `none`.
//!
//! `UPDATE_GOLDEN=1 cargo test --test sim_scripts` rewrites the outputs
//! after a deliberate change; read the diff: each line should be what
//! Cassandra would do.

mod common;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;

use ccrsim::node::cluster::membership::ring_of;
use ccrsim::node::db::consistency::Consistency;
use ccrsim::node::error::QueryError;
use ccrsim::testkit::sim::data::{Answer, Kind, cell_of, key_of, strategy};
use ccrsim::testkit::sim::world::{World, WorldConfig, addr};
use common::golden;

/// How long an operation (or `wait`) may run, virtual ms.
const OP_BOUND_MS: u64 = 10_000;
/// How long `start` and `converge` wait for gossip, virtual ms.
const CONVERGE_BOUND_MS: u64 = 30_000;

fn node(s: &str) -> IpAddr {
    let (dc, i) = s
        .split_once('.')
        .unwrap_or_else(|| panic!("a node is DC.I, like 1.2, not {s:?}"));
    addr(
        dc.parse().expect("a dc number"),
        i.parse().expect("a node number"),
    )
}

fn short(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v) => format!("{}.{}", v.octets()[2], v.octets()[3]),
        IpAddr::V6(_) => a.to_string(),
    }
}

fn names<'a>(nodes: impl IntoIterator<Item = &'a IpAddr>) -> String {
    let v: Vec<String> = nodes.into_iter().map(short).collect();
    v.join(" ")
}

fn set(w: &World, s: &str) -> BTreeSet<IpAddr> {
    match s {
        "all" => w.addrs().into_iter().collect(),
        _ => match s.strip_prefix("dc") {
            Some(dc) => w
                .dc_nodes(dc.parse().expect("dc1 or dc2"))
                .into_iter()
                .collect(),
            None => s.split(',').map(node).collect(),
        },
    }
}

/// `LOCAL_QUORUM` and the others, as the levels print themselves.
fn level(s: &str) -> Consistency {
    (0..=10)
        .filter_map(Consistency::from_code)
        .find(|c| c.to_string() == s)
        .unwrap_or_else(|| panic!("no consistency level {s}"))
}

fn millis(s: &str) -> u64 {
    let n = |t: &str| {
        t.parse::<u64>()
            .unwrap_or_else(|_| panic!("a duration: {s}"))
    };
    match (s.strip_suffix("ms"), s.strip_suffix('s')) {
        (Some(ms), _) => n(ms),
        (None, Some(secs)) => n(secs) * 1000,
        _ => panic!("a duration is 5s or 200ms, not {s}"),
    }
}

/// An error as cqlsh shows it: kind, message, then the error's fields.
fn error(e: &QueryError) -> String {
    let kind = format!("{e:?}");
    let kind = kind.split(['(', ' ', '{']).next().unwrap_or("?");
    let details = match e {
        QueryError::Unavailable {
            required, alive, ..
        } => format!(" [required {required}, alive {alive}]"),
        QueryError::WriteTimeout {
            consistency,
            block_for,
            write_type,
            ..
        } => format!(" [{consistency}, block_for {block_for}, write_type {write_type}]"),
        QueryError::ReadTimeout {
            consistency,
            block_for,
            data_present,
            ..
        } => format!(" [{consistency}, block_for {block_for}, data_present {data_present}]"),
        _ => String::new(),
    };
    format!("error {kind}: {e}{details}")
}

fn answer(a: &Answer) -> String {
    match a {
        Answer::Written => "ok".into(),
        Answer::Read(None) => "no row".into(),
        Answer::Read(Some((_, v))) => format!("v={v}"),
        Answer::Cas { applied: true, .. } => "applied".into(),
        Answer::Cas {
            current: Some(v), ..
        } => format!("not applied, v={v}"),
        Answer::Cas { current: None, .. } => "not applied, no row".into(),
        Answer::Failed(e) => error(e),
    }
}

fn need<T>(verb: &str, what: &str) -> T {
    panic!("{verb} needs {what}")
}

/// A client's operation from its words: (coordinator, key, what).
fn operation(words: &[&str]) -> (IpAddr, u32, Kind) {
    let (verb, args) = match words {
        ["serial", "read", rest @ ..] => ("serial read", rest),
        [verb, rest @ ..] => (*verb, rest),
        [] => panic!("an empty operation"),
    };
    let int = |s: &str| s.parse::<i64>().unwrap_or_else(|_| panic!("a number: {s}"));
    let (mut k, mut v, mut cl, mut via, mut expect, mut new) = (None, None, None, None, None, None);
    let mut it = args.iter().copied();
    while let Some(word) = it.next() {
        let mut arg = || it.next().unwrap_or_else(|| need(word, "a value"));
        match word {
            "at" => cl = Some(level(arg())),
            "via" => via = Some(node(arg())),
            "if" => expect = Some(Some(arg()).filter(|a| *a != "none").map(int)),
            "set" => new = Some(int(arg())),
            _ => match word.split_once('=') {
                Some(("k", n)) => k = Some(int(n) as u32),
                Some(("v", n)) => v = Some(int(n)),
                _ => panic!("unknown word {word:?} in {verb}"),
            },
        }
    }
    let at = || cl.unwrap_or_else(|| need(verb, "`at LEVEL`"));
    let kind = match verb {
        "write" => Kind::Write {
            value: v.unwrap_or_else(|| need(verb, "v=V")),
            cl: at(),
        },
        "read" => Kind::Read { cl: at() },
        "cas" => Kind::Cas {
            expect: expect.unwrap_or_else(|| need(verb, "`if none|V`")),
            new: new.unwrap_or_else(|| need(verb, "`set V`")),
        },
        "serial read" => Kind::SerialRead,
        other => panic!("unknown command {other}"),
    };
    let via = via.unwrap_or_else(|| need(verb, "`via NODE`"));
    (via, k.unwrap_or_else(|| need(verb, "k=K")), kind)
}

/// Runs the world until every op of `ops` returned, at most [`OP_BOUND_MS`].
fn run_until_returned(w: &mut World, ops: &[usize]) {
    let deadline = w.now() + OP_BOUND_MS;
    let open = |w: &World| ops.iter().any(|op| w.history[*op].returned.is_none());
    while open(w) && w.next_time().is_some_and(|t| t <= deadline) {
        w.step();
    }
    if open(w) {
        w.run_until(deadline);
    }
}

fn outcome(w: &World, op: usize) -> String {
    let o = &w.history[op];
    match &o.returned {
        Some((t, a)) => format!("{} ({} ms)", answer(a), t - o.invoked),
        None => format!("no answer after {OP_BOUND_MS} ms"),
    }
}

fn converge(w: &mut World) -> String {
    let until = w.now() + CONVERGE_BOUND_MS;
    loop {
        match w.converged() {
            Ok(()) => return format!("converged at {} ms", w.now()),
            Err(why) if w.now() >= until => {
                return format!("not converged at {} ms: {why}", w.now());
            }
            Err(_) => w.run_for(100),
        }
    }
}

/// The key's replicas, sorted, on the ring of the first node up.
fn replicas(w: &World, k: u32) -> Vec<IpAddr> {
    let first = *w.up().first().expect("a node up");
    let ring = ring_of(w.gossip(&first).expect("up"));
    let mut r = ring.replicas(&strategy(), key_of(k).0);
    r.sort();
    r
}

/// One scenario's world, made at its first command.
struct Sim {
    seed: u64,
    sizes: [u8; 2],
    world: Option<World>,
    /// Ops submitted with `&` that `wait` has not reported: (op, command).
    pending: Vec<(usize, String)>,
}

impl Sim {
    fn world(&mut self) -> &mut World {
        let (seed, sizes) = (self.seed, self.sizes);
        self.world.get_or_insert_with(|| {
            let config = WorldConfig {
                dc_sizes: sizes,
                trace_messages: false,
                ..WorldConfig::default()
            };
            World::new(seed, config)
        })
    }

    /// Runs one command; returns what it prints.
    fn exec(&mut self, line: &str) -> Vec<String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let ["world", opts @ ..] = words.as_slice() {
            assert!(
                self.world.is_none(),
                "`world` comes before any other command"
            );
            for o in opts {
                match o.split_once('=') {
                    Some(("seed", n)) => self.seed = n.parse().expect("a seed"),
                    Some(("dc1", n)) => self.sizes[0] = n.parse().expect("a size"),
                    Some(("dc2", n)) => self.sizes[1] = n.parse().expect("a size"),
                    _ => panic!("unknown world option {o}"),
                }
            }
            let w = self.world();
            let dc = |d| names(&w.dc_nodes(d));
            return vec![format!("dc1: {}; dc2: {} (all down)", dc(1), dc(2))];
        }
        let w = self.world();
        let one = |s: String| vec![s];
        match words.as_slice() {
            ["start", which @ ..] => {
                for a in which {
                    let nodes = if *a == "all" {
                        w.addrs()
                    } else {
                        vec![node(a)]
                    };
                    nodes.into_iter().for_each(|n| w.restart(n));
                }
                one(converge(w))
            }
            ["converge"] => one(converge(w)),
            ["restart", n] => (w.restart(node(n)), vec![]).1,
            ["crash", n] => (w.crash(node(n)), vec![]).1,
            ["stop", n] => (w.stop(node(n)), vec![]).1,
            ["cut", a, b] | ["cut", a, "from", b] | ["cut", a, "->", b] => {
                let from = set(w, a);
                let to: BTreeSet<IpAddr> = set(w, b).difference(&from).copied().collect();
                w.net.cut(from, to, !words.contains(&"->"));
                vec![]
            }
            ["heal"] => (w.net.heal_all(), vec![]).1,
            ["tick", d] => {
                w.run_for(millis(d));
                one(format!("now {} ms", w.now()))
            }
            ["hints"] => {
                let kept: Vec<String> = (w.nodes.values())
                    .filter(|n| !n.disk.hints.is_empty())
                    .map(|n| format!("{}: {}", short(&n.addr), n.disk.hints.len()))
                    .collect();
                if kept.is_empty() {
                    one("none".into())
                } else {
                    kept
                }
            }
            ["holds", k] => {
                let k = k.strip_prefix("k=").expect("k=K").parse().expect("a key");
                let (token, key) = key_of(k);
                let replicas = replicas(w, k);
                let mut groups: Vec<(String, Vec<IpAddr>)> = Vec::new();
                for n in w.nodes.values() {
                    let cell = n.disk.read(token, &key).as_ref().and_then(cell_of);
                    if cell.is_none() && !replicas.contains(&n.addr) {
                        continue;
                    }
                    let v = cell.map_or("no row".into(), |(_, v)| format!("v={v}"));
                    match groups.iter_mut().find(|(g, _)| *g == v) {
                        Some((_, nodes)) => nodes.push(n.addr),
                        None => groups.push((v, vec![n.addr])),
                    }
                }
                groups
                    .iter()
                    .map(|(v, ns)| format!("{}: {v}", names(ns)))
                    .collect()
            }
            ["replicas", k] => {
                let k = k.strip_prefix("k=").expect("k=K").parse().expect("a key");
                one(names(&replicas(w, k)))
            }
            ["down", n] => {
                let n = node(n);
                let Some(g) = w.gossip(&n) else {
                    return one(format!("{} is down itself", short(&n)));
                };
                let down: Vec<IpAddr> = (w.addrs().into_iter())
                    .filter(|a| *a != n && !g.is_alive(a))
                    .collect();
                one(if down.is_empty() {
                    "none".into()
                } else {
                    names(&down)
                })
            }
            ["wait"] => {
                let pending = std::mem::take(&mut self.pending);
                let w = self.world.as_mut().expect("a world");
                let ops: Vec<usize> = pending.iter().map(|(op, _)| *op).collect();
                run_until_returned(w, &ops);
                let out = pending
                    .iter()
                    .map(|(op, c)| format!("{c}: {}", outcome(w, *op)));
                out.collect()
            }
            op => {
                let (op, submit_only) = match op {
                    [op @ .., "&"] => (op, true),
                    op => (op, false),
                };
                let (via, k, kind) = operation(op);
                if !w.is_up(&via) {
                    let down = format!("error: {} is down, the client cannot connect", short(&via));
                    return one(down);
                }
                let i = w.submit(via, k, kind);
                if submit_only {
                    self.pending.push((i, op.join(" ")));
                    return vec![];
                }
                run_until_returned(w, &[i]);
                one(outcome(w, i))
            }
        }
    }
}

fn run_script(path: &Path) {
    let script = golden::Script::read(path, |l| l.starts_with("> "));
    let mut sim = Sim {
        seed: 1,
        sizes: [3, 3],
        world: None,
        pending: Vec::new(),
    };
    let outputs = (script.blocks.iter())
        .map(|b| sim.exec(b.input.strip_prefix("> ").expect("an input")))
        .collect();
    script.finish(outputs);
}

#[test]
fn sim_scripts() {
    for f in golden::files("tests/sim", "txt") {
        run_script(&f);
    }
}
