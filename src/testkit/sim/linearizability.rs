//! # A linearizability checker for a compare-and-set register
//!
//! Lightweight transactions (Cassandra's `IF NOT EXISTS`, `IF col = v`,
//! run with Paxos) promise *linearizability* per partition. This module
//! checks that promise on a recorded history of one key; a simulator splits
//! its history by key and checks each key on its own (linearizability is
//! compositional, so the whole history is linearizable exactly when every
//! key's is).
//!
//! ## The register and its history
//!
//! A key holds an `Option<i64>`: `None` while there is no row. Clients
//! [`Read`](Op::Read) it, [`Write`](Op::Write) it unconditionally, or
//! compare-and-set it ([`Op::Cas`]: "set `new` if the value is `expect`",
//! `expect: None` being `IF NOT EXISTS`). A CAS answers whether it applied
//! and, when it did not, Cassandra also returns the value it found; a
//! history may record that value and it is checked too.
//!
//! Every [`Event`] is one operation: who issued it, when it was invoked and,
//! if the client got an answer, when and what. A client that timed out has
//! no answer: its operation is *indeterminate*. It may never take effect,
//! or take effect at any moment after its invocation, even long after the
//! client gave up (a Paxos round left half done is finished by the next
//! one, whoever runs it).
//!
//! ## Linearizability
//!
//! The history is linearizable when there is one sequential order of its
//! operations (a *linearization*) such that
//!
//! 1. every completed operation is in it, each timed-out one is in it or
//!    not (left out: it never took effect);
//! 2. it respects real time: when `a` returned before `b` was invoked, `a`
//!    comes first (concurrent operations may go either way);
//! 3. replaying it on one register, starting from the history's initial
//!    value, gives every completed operation the answer it got.
//!
//! Equivalently: each operation took effect at one instant between its
//! invocation and its response. Times are `u64` (virtual milliseconds or a
//! logical clock); an operation invoked at the very instant another
//! returned counts as concurrent with it, since which came first is not
//! known (this never reports a false violation).
//!
//! ## The algorithm
//!
//! Wing and Gong's search with Lowe's memoization (the "WGL" algorithm of
//! Lowe's paper, also porcupine's and close to Jepsen Knossos'):
//!
//! - The completed operations' invocations and responses go into one list
//!   in time order (an invocation before a response at the same time);
//!   the timed-out operations' invocations into another.
//! - The search builds a linearization one operation at a time. The next
//!   one may be any operation whose invocation comes before the first
//!   response still in the list (a *minimal* operation: no operation left
//!   returned before it was invoked). If the register accepts it (a read
//!   of the current value, a CAS whose answer matches), it is linearized:
//!   its invocation and response leave the list (dancing links: putting
//!   them back is O(1)) and the search starts again from the head.
//! - Reaching a response means the operation that returned there cannot
//!   be put off any longer and nothing before it fits: the search
//!   backtracks, undoing the last choice and trying the next candidate.
//!   The choices live on an explicit stack, never on the call stack, so a
//!   history of any length cannot overflow it.
//! - Pruning (Lowe): two paths that linearized the same *set* of
//!   operations and left the register with the same value have the same
//!   future. Each configuration (the set as a bitset, the value) is
//!   remembered in a hash map and never explored twice. This turns the
//!   factorial search into one that is about linear on ordinary histories.
//! - A `budget` bounds the steps (a step: one candidate tried, or one
//!   choice undone); a search that runs out answers [`Verdict::GaveUp`]
//!   rather than hanging.
//!
//! ## Timed-out operations
//!
//! A timed-out operation has no response, so it never bounds the search:
//! it is a candidate once every operation that returned before its
//! invocation is linearized, and stays one forever. The search succeeds as
//! soon as every *completed* operation is linearized; the timed-out ones
//! left out never took effect (or took effect after everything, where
//! nobody saw them). A timed-out read says nothing and is ignored.
//!
//! Left as is, every timed-out write would multiply the configurations by
//! two for the rest of the history. Three rules keep them in check, none
//! of which loses a linearization:
//!
//! - *Only useful*: a timed-out operation is linearized only if it changes
//!   the value, and only just before an operation that needs it: one that
//!   could not answer what it did from the value before. Any linearization
//!   can be brought to that form: a timed-out operation followed by one
//!   that did not need it can move after that one (if it changes nothing:
//!   a read, a CAS that did not apply) or go (if it overwrites: a write),
//!   and a timed-out operation at the end can go.
//! - *Twins*: of identical timed-out operations (the same write or CAS),
//!   the one invoked first is used first: it can go wherever a later one
//!   can.
//! - *Covering*: the search tries completed operations before timed-out
//!   ones, and a configuration is not explored when one with the same
//!   completed operations and value, a subset of its timed-out ones and
//!   no more owed (the "needed just after" constraint above) was: that one
//!   can do all this one can. The memo keeps those sets per (completed
//!   set, value).
//!
//! ## References
//!
//! - J. M. Wing and C. Gong, "Testing and verifying concurrent objects",
//!   Journal of Parallel and Distributed Computing 17(1), 1993.
//! - G. Lowe, "Testing for linearizability", Concurrency and Computation:
//!   Practice and Experience 29(4), 2017.
//! - M. P. Herlihy and J. M. Wing, "Linearizability: a correctness
//!   condition for concurrent objects", ACM TOPLAS 12(3), 1990.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// A default for [`check`]'s `budget`. A history of a few hundred
/// operations on a key usually takes ten to a few hundred thousand steps
/// (milliseconds in a release build); timed-out operations, many clients
/// on one key and violations (which must exhaust the search) take more.
/// Spent in full on a pathological history it is about a second and
/// 100 MB of memo.
pub const DEFAULT_BUDGET: u64 = 2_000_000;

/// An operation on the register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// Read the value.
    Read,
    /// Write the value unconditionally.
    Write(i64),
    /// Set `new` if the value is `expect` (`None`: `IF NOT EXISTS`).
    Cas { expect: Option<i64>, new: i64 },
}

/// What a completed operation answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A [`Op::Read`]'s value.
    Read(Option<i64>),
    /// A [`Op::Write`] was acknowledged.
    Written,
    /// A [`Op::Cas`]'s answer: whether it applied and, when the client saw
    /// it, the value the CAS compared with (`Some(value)`; Cassandra
    /// returns it when the CAS did not apply; for one that applied it can
    /// only be `expect`). `None`: not reported, not checked.
    Cas {
        applied: bool,
        current: Option<Option<i64>>,
    },
}

/// One operation of a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The client that issued it (for explanations only).
    pub client: u32,
    pub op: Op,
    /// When it was invoked.
    pub invoked: u64,
    /// When it returned and what it answered; `None` if the client timed
    /// out (the operation is indeterminate).
    pub returned: Option<(u64, Outcome)>,
}

/// The history of one key: its events and the value it started with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    events: Vec<Event>,
    initial: Option<i64>,
}

impl History {
    /// An empty history of a key with no row yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty history of a key that starts with the value `initial`.
    pub fn with_initial(initial: Option<i64>) -> Self {
        Self {
            events: Vec::new(),
            initial,
        }
    }

    /// Adds an event and returns its index (the index [`Verdict`]s use).
    ///
    /// # Panics
    /// If it returned no later than it was invoked, or its outcome is not
    /// of its operation's kind: a bug of the test, not of the system.
    pub fn push(&mut self, event: Event) -> usize {
        if let Some((at, outcome)) = event.returned {
            assert!(
                at > event.invoked,
                "an operation must return after it is invoked: {event:?}"
            );
            let fits = matches!(
                (event.op, outcome),
                (Op::Read, Outcome::Read(_))
                    | (Op::Write(_), Outcome::Written)
                    | (Op::Cas { .. }, Outcome::Cas { .. })
            );
            assert!(fits, "an outcome of another kind of operation: {event:?}");
        }
        self.events.push(event);
        self.events.len() - 1
    }

    /// Adds an operation that returned `outcome` at `returned`.
    pub fn completed(
        &mut self,
        client: u32,
        op: Op,
        invoked: u64,
        returned: u64,
        outcome: Outcome,
    ) -> usize {
        self.push(Event {
            client,
            op,
            invoked,
            returned: Some((returned, outcome)),
        })
    }

    /// Adds an operation whose client timed out.
    pub fn timed_out(&mut self, client: u32, op: Op, invoked: u64) -> usize {
        self.push(Event {
            client,
            op,
            invoked,
            returned: None,
        })
    }

    /// The events, in the order they were added.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The value the key started with.
    pub fn initial(&self) -> Option<i64> {
        self.initial
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }
}

/// The answer of [`check`]. Operations are named by their index in
/// [`History::events`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A linearization: every completed operation and the timed-out ones
    /// that took effect, in the order they took effect.
    Linearizable { order: Vec<usize> },
    /// No linearization exists. `longest_prefix` is the longest order the
    /// search could build before every way on failed; `explanation` says
    /// what the register held then and why no operation fits next.
    NotLinearizable {
        longest_prefix: Vec<usize>,
        explanation: String,
    },
    /// The search ran out of budget after `explored` steps.
    GaveUp { explored: u64 },
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable { .. })
    }
}

/// No entry: the end of the list.
const NIL: usize = usize::MAX;

/// The register's value after `op` (which answered `outcome`, `None` if it
/// timed out) takes effect on `state`; `None` if it could not have
/// answered that.
fn step(state: Option<i64>, op: Op, outcome: Option<Outcome>) -> Option<Option<i64>> {
    match (op, outcome) {
        (Op::Read, Some(Outcome::Read(seen))) => (seen == state).then_some(state),
        (Op::Read, _) => Some(state),
        (Op::Write(v), _) => Some(Some(v)),
        (Op::Cas { expect, new }, Some(Outcome::Cas { applied, current })) => {
            if current.is_some_and(|c| c != state) || applied != (state == expect) {
                None
            } else if applied {
                Some(Some(new))
            } else {
                Some(state)
            }
        }
        (Op::Cas { expect, new }, _) => Some(if state == expect { Some(new) } else { state }),
    }
}

/// An invocation or a response in the search's list.
struct Entry {
    time: u64,
    is_return: bool,
    /// Index into the search's operations.
    op: usize,
}

/// The list of invocations and responses still to linearize, doubly
/// linked so that an operation leaves it and comes back in O(1). Slot
/// `entries.len()` is the head.
struct Links {
    next: Vec<usize>,
    prev: Vec<usize>,
}

impl Links {
    fn unlink(&mut self, x: usize) {
        let (a, b) = (self.prev[x], self.next[x]);
        self.next[a] = b;
        if b != NIL {
            self.prev[b] = a;
        }
    }

    /// Undoes [`Links::unlink`] of `x`; in the reverse order of unlinks.
    fn relink(&mut self, x: usize) {
        let (a, b) = (self.prev[x], self.next[x]);
        self.next[a] = x;
        if b != NIL {
            self.prev[b] = x;
        }
    }
}

fn flip(bits: &mut [u64], i: usize) {
    bits[i / 64] ^= 1 << (i % 64);
}

fn has(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// Whether every bit of `a` is in `b`.
fn subset(a: &[u64], b: &[u64]) -> bool {
    a.iter().zip(b).all(|(a, b)| a & !b == 0)
}

/// A configuration of the search, beyond the completed operations
/// linearized and the value: the timed-out operations linearized, and the
/// value before the last operation if that one timed out (what the next
/// operation must not fit, see [`check`]).
struct Config {
    taken: Vec<u64>,
    owed: Option<Option<i64>>,
}

impl Config {
    /// Whether every linearization that works from `other` works from
    /// `self` too: `self` linearized fewer timed-out operations (so it can
    /// still linearize them, or leave them out) and owes no more.
    fn covers(&self, other: &Config) -> bool {
        subset(&self.taken, &other.taken) && (self.owed.is_none() || self.owed == other.owed)
    }
}

/// The configurations explored, by the completed operations linearized
/// and the value.
#[derive(Default)]
struct Seen(HashMap<(Vec<u64>, Option<i64>), Vec<Config>>);

impl Seen {
    /// Records a configuration; false if one that covers it was explored
    /// already (it failed, or is being explored and will find whatever
    /// this one would).
    fn insert(&mut self, done: &[u64], state: Option<i64>, config: Config) -> bool {
        let configs = self.0.entry((done.to_vec(), state)).or_default();
        if configs.iter().any(|c| c.covers(&config)) {
            return false;
        }
        configs.retain(|c| !config.covers(c));
        configs.push(config);
        true
    }
}

/// One choice of the search, to undo when backtracking.
struct Frame {
    /// The linearized operation's invocation entry.
    entry: usize,
    /// The value and what was owed before it.
    state: Option<i64>,
    owed: Option<Option<i64>>,
    /// The first response then.
    deadline: u64,
}

/// Checks that `history` is linearizable, in at most `budget` steps (one
/// step: one candidate tried, or one choice undone). Deterministic: the
/// same history gets the same verdict, order and explanation.
pub fn check(history: &History, budget: u64) -> Verdict {
    let events = &history.events;
    // The operations the search may linearize: timed-out reads tell
    // nothing and are left out from the start.
    let ops: Vec<usize> = (0..events.len())
        .filter(|&i| events[i].returned.is_some() || events[i].op != Op::Read)
        .collect();

    let mut entries = Vec::with_capacity(2 * ops.len());
    for (k, &i) in ops.iter().enumerate() {
        let e = &events[i];
        entries.push(Entry {
            time: e.invoked,
            is_return: false,
            op: k,
        });
        if let Some((at, _)) = e.returned {
            entries.push(Entry {
                time: at,
                is_return: true,
                op: k,
            });
        }
    }
    entries.sort_by_key(|e| (e.time, e.is_return, e.op));
    let mut return_at = vec![NIL; ops.len()];
    for (p, e) in entries.iter().enumerate() {
        if e.is_return {
            return_at[e.op] = p;
        }
    }
    let completed = |k: usize| return_at[k] != NIL;
    // Two lists: the completed operations' invocations and responses, and
    // the timed-out operations' invocations.
    let n = entries.len();
    let (head, late_head) = (n, n + 1);
    let mut links = Links {
        next: vec![NIL; n + 2],
        prev: vec![NIL; n + 2],
    };
    let mut tails = [head, late_head];
    for (p, e) in entries.iter().enumerate() {
        let tail = &mut tails[usize::from(!completed(e.op))];
        links.next[*tail] = p;
        links.prev[p] = *tail;
        *tail = p;
    }
    // Each operation's bit: completed ones in `done`, timed-out ones in
    // `taken`.
    let mut counts = [0, 0];
    let bit: Vec<usize> = (0..ops.len())
        .map(|k| {
            let c = &mut counts[usize::from(!completed(k))];
            *c += 1;
            *c - 1
        })
        .collect();
    let mut completed_left = counts[0];
    // For each timed-out operation, the identical one invoked just before
    // it, if any: that one goes first, since it can do all this one can.
    let mut twin = vec![None; ops.len()];
    let mut last: HashMap<Op, usize> = HashMap::new();
    for entry in &entries {
        if !completed(entry.op) {
            twin[entry.op] = last.insert(events[ops[entry.op]].op, entry.op);
        }
    }
    // The values a timed-out CAS expects: right after a timed-out
    // operation, only such a CAS can be the next timed-out one.
    let expected: HashSet<Option<i64>> = last
        .keys()
        .filter_map(|op| match *op {
            Op::Cas { expect, .. } => Some(expect),
            _ => None,
        })
        .collect();

    let mut stack: Vec<Frame> = Vec::new();
    let mut done = vec![0u64; counts[0].div_ceil(64)];
    let mut taken = vec![0u64; counts[1].div_ceil(64)];
    let mut seen = Seen::default();
    let mut state = history.initial;
    // After a timed-out operation, the value before it: the next operation
    // must be one that does not fit that value (see the module doc).
    let mut owed: Option<Option<i64>> = None;
    let mut longest: Vec<usize> = Vec::new();
    let mut steps = 0u64;
    let mut entry = links.next[head];
    // Completed operations are tried first; then, in a second pass, the
    // timed-out ones invoked by the first response (`deadline`):
    // configurations without them, explored first, then cover many of
    // those with them.
    let mut late = false;
    let mut deadline = u64::MAX;

    loop {
        if completed_left == 0 {
            let order = stack.iter().map(|f| ops[entries[f.entry].op]).collect();
            return Verdict::Linearizable { order };
        }
        if steps >= budget {
            return Verdict::GaveUp { explored: steps };
        }
        steps += 1;

        let at_end = entry == NIL
            || if late {
                entries[entry].time > deadline
            } else {
                entries[entry].is_return
            };
        if at_end {
            if !late && counts[1] > 0 && (owed.is_none() || expected.contains(&state)) {
                late = true;
                deadline = if entry == NIL {
                    u64::MAX
                } else {
                    entries[entry].time
                };
                entry = links.next[late_head];
                continue;
            }
            // The operation returning here cannot wait: undo the last choice.
            let Some(frame) = stack.pop() else {
                let explanation = explain(history, &ops, &longest);
                return Verdict::NotLinearizable {
                    longest_prefix: longest,
                    explanation,
                };
            };
            let k = entries[frame.entry].op;
            (state, owed, deadline) = (frame.state, frame.owed, frame.deadline);
            if completed(k) {
                flip(&mut done, bit[k]);
                completed_left += 1;
                links.relink(return_at[k]);
            } else {
                flip(&mut taken, bit[k]);
            }
            links.relink(frame.entry);
            late = !completed(k);
            entry = links.next[frame.entry];
            continue;
        }

        let call = entry;
        let k = entries[call].op;
        entry = links.next[call];
        if twin[k].is_some_and(|t| !has(&taken, bit[t])) {
            // An identical operation invoked earlier is still free.
            continue;
        }
        let e = &events[ops[k]];
        let outcome = e.returned.map(|(_, o)| o);
        let Some(after) = step(state, e.op, outcome) else {
            continue;
        };
        // A timed-out operation that changes nothing is as good as left
        // out; an operation that fits the value owed did not need the
        // timed-out one before it.
        let pointless = match outcome {
            None => after == state || owed.is_some_and(|a| step(a, e.op, None) != Some(a)),
            Some(_) => owed.is_some_and(|a| step(a, e.op, outcome).is_some()),
        };
        if pointless {
            continue;
        }
        let (bits, next_owed) = if completed(k) {
            (&mut done, None)
        } else {
            (&mut taken, Some(state))
        };
        flip(bits, bit[k]);
        let config = Config {
            taken: taken.clone(),
            owed: next_owed,
        };
        if !seen.insert(&done, after, config) {
            flip(if completed(k) { &mut done } else { &mut taken }, bit[k]);
            continue;
        }
        stack.push(Frame {
            entry: call,
            state,
            owed,
            deadline,
        });
        (state, owed) = (after, next_owed);
        links.unlink(call);
        if completed(k) {
            completed_left -= 1;
            links.unlink(return_at[k]);
        }
        if stack.len() > longest.len() {
            longest = stack.iter().map(|f| ops[entries[f.entry].op]).collect();
        }
        entry = links.next[head];
        late = false;
    }
}

fn value(v: Option<i64>) -> String {
    v.map_or_else(|| "none".to_string(), |v| v.to_string())
}

/// `#3 (client 2) cas(none -> 1) [10, 25] -> not applied, saw 4`.
fn describe(history: &History, i: usize) -> String {
    let e = &history.events[i];
    let op = match e.op {
        Op::Read => "read".to_string(),
        Op::Write(v) => format!("write({v})"),
        Op::Cas { expect, new } => format!("cas({} -> {new})", value(expect)),
    };
    let answer = match e.returned {
        None => format!("[{}, timed out]", e.invoked),
        Some((at, outcome)) => {
            let what = match outcome {
                Outcome::Read(v) => value(v),
                Outcome::Written => "ok".to_string(),
                Outcome::Cas { applied, current } => {
                    let mut s = if applied { "applied" } else { "not applied" }.to_string();
                    if let Some(c) = current {
                        let _ = write!(s, ", saw {}", value(c));
                    }
                    s
                }
            };
            format!("[{}, {at}] -> {what}", e.invoked)
        }
    };
    format!("#{i} (client {}) {op} {answer}", e.client)
}

/// Why nothing fits after `prefix`: the value then, the operation whose
/// response bounds the next step, and why each candidate fails.
fn explain(history: &History, ops: &[usize], prefix: &[usize]) -> String {
    const SHOWN: usize = 8;
    let events = &history.events;
    let mut state = history.initial;
    let mut done = vec![false; events.len()];
    for &i in prefix {
        let e = &events[i];
        state = step(state, e.op, e.returned.map(|(_, o)| o)).unwrap_or(state);
        done[i] = true;
    }
    let completed = ops.iter().filter(|&&i| events[i].returned.is_some());
    let mut out = format!(
        "not linearizable: the longest order found (length {}, with {} of the {} completed \
         operations) leaves the register at {}",
        prefix.len(),
        completed.clone().filter(|&&i| done[i]).count(),
        completed.clone().count(),
        value(state)
    );
    // The completed operation left that returned first: whatever comes
    // next was invoked by then.
    let Some(&first) = completed
        .filter(|&&i| !done[i])
        .min_by_key(|&&i| (events[i].returned.map(|(at, _)| at), i))
    else {
        return out;
    };
    let deadline = events[first].returned.map_or(u64::MAX, |(at, _)| at);
    let _ = write!(
        out,
        "; {} returned first of those left, so one of these comes next, and none leads anywhere:",
        describe(history, first)
    );
    let mut candidates = Vec::new();
    for &i in ops {
        let e = &events[i];
        if done[i] || e.invoked > deadline {
            continue;
        }
        let outcome = e.returned.map(|(_, o)| o);
        let why = match step(state, e.op, outcome) {
            None => "cannot answer that here".to_string(),
            Some(after) if outcome.is_none() && after == state => continue,
            Some(after) => format!(
                "fits (the register would hold {}), but nothing after it does",
                value(after)
            ),
        };
        candidates.push(format!("\n  {}: {why}", describe(history, i)));
    }
    for line in candidates.iter().take(SHOWN) {
        out.push_str(line);
    }
    if candidates.len() > SHOWN {
        let _ = write!(out, "\n  and {} more", candidates.len() - SHOWN);
    }
    out
}

#[cfg(test)]
mod tests;
