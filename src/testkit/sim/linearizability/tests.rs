//! The checker's tests: planted violations, histories that need
//! reordering, timed-out operations, generated histories, and a
//! brute-force cross-check.

use super::*;
use std::collections::HashSet;

/// Enough for every history here to get a definite answer.
const BUDGET: u64 = 10_000_000;

fn read(h: &mut History, client: u32, at: (u64, u64), seen: Option<i64>) -> usize {
    h.completed(client, Op::Read, at.0, at.1, Outcome::Read(seen))
}

fn write(h: &mut History, client: u32, at: (u64, u64), v: i64) -> usize {
    h.completed(client, Op::Write(v), at.0, at.1, Outcome::Written)
}

fn cas(
    h: &mut History,
    client: u32,
    at: (u64, u64),
    (expect, new): (Option<i64>, i64),
    applied: bool,
    current: Option<Option<i64>>,
) -> usize {
    let op = Op::Cas { expect, new };
    h.completed(client, op, at.0, at.1, Outcome::Cas { applied, current })
}

/// The register itself, written apart from [`step`]: the value after
/// `e` takes effect on `state`, if `e` could have answered what it did.
fn replay(state: Option<i64>, e: &Event) -> Option<Option<i64>> {
    let (answer, after) = match e.op {
        Op::Read => (Outcome::Read(state), state),
        Op::Write(v) => (Outcome::Written, Some(v)),
        Op::Cas { expect, new } if state == expect => (
            Outcome::Cas {
                applied: true,
                current: Some(state),
            },
            Some(new),
        ),
        Op::Cas { .. } => (
            Outcome::Cas {
                applied: false,
                current: Some(state),
            },
            state,
        ),
    };
    let fits = match (e.returned, answer) {
        (None, _) => true,
        (
            Some((_, Outcome::Cas { applied, current })),
            Outcome::Cas {
                applied: real,
                current: Some(real_current),
            },
        ) => applied == real && current.is_none_or(|c| c == real_current),
        (Some((_, got)), answer) => got == answer,
    };
    fits.then_some(after)
}

/// Checks, independently of the search, that `order` is a
/// linearization of `h`: each completed operation once, real time
/// respected, every answer the one a register would give.
fn assert_linearization(h: &History, order: &[usize]) {
    let events = h.events();
    let mut placed = vec![false; events.len()];
    for &i in order {
        assert!(!placed[i], "#{i} twice in {order:?}");
        placed[i] = true;
    }
    for (i, e) in events.iter().enumerate() {
        assert!(
            e.returned.is_none() || placed[i],
            "#{i} missing from {order:?}"
        );
    }
    for (a, &i) in order.iter().enumerate() {
        for &j in &order[a + 1..] {
            // j comes after i, so j must not have returned before i was invoked.
            if let Some((at, _)) = events[j].returned {
                assert!(
                    at >= events[i].invoked,
                    "#{j} returned before #{i}: {order:?}"
                );
            }
        }
    }
    let mut state = h.initial();
    for &i in order {
        state = replay(state, &events[i])
            .unwrap_or_else(|| panic!("#{i} cannot answer that in {order:?}"));
    }
}

fn linearizable(h: &History) -> Vec<usize> {
    match check(h, BUDGET) {
        Verdict::Linearizable { order } => {
            assert_linearization(h, &order);
            order
        }
        other => panic!("expected linearizable, got {other:?}"),
    }
}

fn not_linearizable(h: &History) -> (Vec<usize>, String) {
    match check(h, BUDGET) {
        Verdict::NotLinearizable {
            longest_prefix,
            explanation,
        } => (longest_prefix, explanation),
        other => panic!("expected not linearizable, got {other:?}"),
    }
}

#[test]
fn an_empty_history_is_linearizable() {
    assert_eq!(linearizable(&History::new()), Vec::<usize>::new());
    let mut h = History::with_initial(Some(3));
    h.timed_out(0, Op::Write(4), 0);
    h.timed_out(1, Op::Read, 0);
    assert_eq!(linearizable(&h), Vec::<usize>::new());
}

#[test]
fn sequential_histories_are_linearizable_in_their_order() {
    let mut h = History::new();
    read(&mut h, 0, (0, 1), None);
    write(&mut h, 0, (2, 3), 1);
    read(&mut h, 1, (4, 5), Some(1));
    cas(&mut h, 1, (6, 7), (Some(1), 2), true, None);
    cas(&mut h, 0, (8, 9), (Some(1), 3), false, Some(Some(2)));
    cas(&mut h, 0, (10, 11), (None, 3), false, None);
    read(&mut h, 0, (12, 13), Some(2));
    assert_eq!(linearizable(&h), (0..7).collect::<Vec<_>>());

    let mut h = History::with_initial(Some(5));
    read(&mut h, 0, (0, 1), Some(5));
    cas(&mut h, 0, (2, 3), (Some(5), 6), true, Some(Some(5)));
    assert_eq!(linearizable(&h), vec![0, 1]);
}

#[test]
fn a_read_of_a_value_never_written_is_caught() {
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    let bad = read(&mut h, 1, (5, 20), Some(2));
    let (prefix, why) = not_linearizable(&h);
    assert!(!prefix.contains(&bad), "{prefix:?}");
    assert!(
        why.contains(&format!("#{bad} (client 1) read [5, 20] -> 2")),
        "{why}"
    );
    assert!(why.contains("cannot answer that here"), "{why}");
}

#[test]
fn two_concurrent_inserts_cannot_both_apply() {
    let mut h = History::new();
    cas(&mut h, 0, (0, 10), (None, 1), true, None);
    cas(&mut h, 1, (0, 10), (None, 2), true, None);
    not_linearizable(&h);

    // One applied, the other saw it: fine.
    let mut h = History::new();
    cas(&mut h, 0, (0, 10), (None, 1), true, None);
    cas(&mut h, 1, (0, 10), (None, 2), false, Some(Some(1)));
    assert_eq!(linearizable(&h), vec![0, 1]);
}

#[test]
fn a_stale_read_after_a_completed_write_is_caught() {
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    read(&mut h, 1, (11, 20), None);
    let (prefix, why) = not_linearizable(&h);
    assert_eq!(prefix, vec![0]);
    assert!(why.contains("leaves the register at 1;"), "{why}");

    // Overlapping the write, the same read is fine.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    read(&mut h, 1, (9, 20), None);
    assert_eq!(linearizable(&h), vec![1, 0]);
}

#[test]
fn a_read_invoked_as_a_write_returns_is_concurrent_with_it() {
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    read(&mut h, 1, (10, 20), None);
    assert_eq!(linearizable(&h), vec![1, 0]);
}

#[test]
fn a_cas_current_value_must_fit_an_order() {
    // Not applied, and says it saw a value nobody wrote.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    cas(&mut h, 1, (20, 30), (Some(2), 3), false, Some(Some(7)));
    not_linearizable(&h);

    // Not applied, and saw no row after the row was written.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    cas(&mut h, 1, (20, 30), (Some(2), 3), false, Some(None));
    not_linearizable(&h);

    // Not applied when nothing could have stopped it.
    let mut h = History::new();
    cas(&mut h, 0, (0, 10), (None, 1), false, None);
    not_linearizable(&h);

    // Applied, but reports a value other than the one it expected.
    let mut h = History::with_initial(Some(1));
    cas(&mut h, 0, (0, 10), (Some(1), 2), true, Some(Some(3)));
    not_linearizable(&h);

    // Not applied and saw 2: only if it ran between the two writes.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 2);
    let c = cas(&mut h, 1, (5, 40), (Some(1), 3), false, Some(Some(2)));
    let w = write(&mut h, 0, (20, 30), 4);
    let order = linearizable(&h);
    let pos = |i| order.iter().position(|&x| x == i).unwrap();
    assert!(pos(c) < pos(w), "{order:?}");
}

#[test]
fn reads_cannot_go_back_in_time() {
    // write(1) done; write(2) in flight; a read sees 2, a later read 1.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    write(&mut h, 0, (20, 60), 2);
    read(&mut h, 1, (30, 40), Some(2));
    read(&mut h, 2, (45, 55), Some(1));
    let (_, why) = not_linearizable(&h);
    assert!(why.contains("#3 (client 2) read [45, 55] -> 1"), "{why}");

    // The other way round is fine: 1, then 2.
    let mut h = History::new();
    write(&mut h, 0, (0, 10), 1);
    write(&mut h, 0, (20, 60), 2);
    read(&mut h, 1, (30, 40), Some(1));
    read(&mut h, 2, (45, 55), Some(2));
    assert_eq!(linearizable(&h), vec![0, 2, 1, 3]);
}

#[test]
fn overlapping_operations_are_reordered() {
    // The read returns before the write it saw.
    let mut h = History::new();
    write(&mut h, 0, (0, 100), 1);
    read(&mut h, 1, (10, 20), Some(1));
    assert_eq!(linearizable(&h), vec![0, 1]);

    // write(1) returns first but took effect last.
    let mut h = History::new();
    write(&mut h, 0, (0, 30), 1);
    write(&mut h, 1, (10, 40), 2);
    read(&mut h, 2, (50, 60), Some(1));
    assert_eq!(linearizable(&h), vec![1, 0, 2]);

    // The CAS that lost returned before the one that won.
    let mut h = History::new();
    cas(&mut h, 0, (0, 50), (None, 1), true, None);
    cas(&mut h, 1, (10, 20), (None, 2), false, Some(Some(1)));
    assert_eq!(linearizable(&h), vec![0, 1]);

    // A chain of CAS, answered in reverse.
    let mut h = History::new();
    for k in 0..6 {
        let expect = if k == 0 { None } else { Some(k) };
        cas(
            &mut h,
            k as u32,
            (k as u64, 100 - k as u64),
            (expect, k + 1),
            true,
            None,
        );
    }
    read(&mut h, 9, (101, 102), Some(6));
    assert_eq!(linearizable(&h), (0..7).collect::<Vec<_>>());
}

#[test]
fn a_timed_out_write_may_take_effect_or_not() {
    // Read later: it took effect.
    let mut h = History::new();
    let w = h.timed_out(0, Op::Write(1), 0);
    let r = read(&mut h, 1, (10, 20), Some(1));
    assert_eq!(linearizable(&h), vec![w, r]);

    // Never seen: it did not (or not yet).
    let mut h = History::new();
    h.timed_out(0, Op::Write(1), 0);
    let r = read(&mut h, 1, (10, 20), None);
    assert_eq!(linearizable(&h), vec![r]);

    // Long after it timed out, and after its client's next operation.
    let mut h = History::new();
    let w = h.timed_out(0, Op::Write(1), 0);
    let r0 = read(&mut h, 0, (10, 20), None);
    let r1 = read(&mut h, 1, (1000, 1001), Some(1));
    assert_eq!(linearizable(&h), vec![r0, w, r1]);

    // But never before it was invoked.
    let mut h = History::new();
    read(&mut h, 1, (0, 10), Some(1));
    h.timed_out(0, Op::Write(1), 20);
    not_linearizable(&h);
}

#[test]
fn a_timed_out_cas_applied_if_that_explains_a_read() {
    let mut h = History::new();
    let c = h.timed_out(
        0,
        Op::Cas {
            expect: None,
            new: 5,
        },
        0,
    );
    let r = read(&mut h, 1, (10, 20), Some(5));
    let c2 = cas(&mut h, 1, (30, 40), (Some(5), 6), true, None);
    assert_eq!(linearizable(&h), vec![c, r, c2]);

    // It could not have applied once the row existed.
    let mut h = History::new();
    write(&mut h, 1, (0, 10), 1);
    h.timed_out(
        0,
        Op::Cas {
            expect: None,
            new: 5,
        },
        20,
    );
    read(&mut h, 1, (30, 40), Some(5));
    not_linearizable(&h);

    // Nor with a value it did not expect.
    let mut h = History::new();
    h.timed_out(
        0,
        Op::Cas {
            expect: Some(9),
            new: 5,
        },
        0,
    );
    read(&mut h, 1, (30, 40), Some(5));
    not_linearizable(&h);
}

#[test]
fn timed_out_operations_can_take_effect_in_either_order() {
    let mut h = History::new();
    let a = h.timed_out(0, Op::Write(1), 0);
    let b = h.timed_out(1, Op::Write(2), 5);
    let r1 = read(&mut h, 2, (10, 20), Some(2));
    let r2 = read(&mut h, 2, (30, 40), Some(1));
    assert_eq!(linearizable(&h), vec![b, r1, a, r2]);
}

#[test]
fn a_pathological_history_gives_up_within_its_budget() {
    // Twenty concurrent writes, then a read of a value none wrote: the
    // search must try every subset of the writes before it can say no.
    let mut h = History::new();
    for v in 0..20 {
        write(&mut h, v as u32, (0, 100), v);
    }
    read(&mut h, 99, (200, 201), Some(1000));
    assert_eq!(check(&h, 1000), Verdict::GaveUp { explored: 1000 });

    let mut h = History::new();
    write(&mut h, 0, (0, 1), 1);
    assert_eq!(check(&h, 0), Verdict::GaveUp { explored: 0 });
    assert!(check(&h, 1).is_linearizable());
    assert!(check(&History::new(), 0).is_linearizable());
}

#[test]
fn many_timed_out_operations_stay_cheap() {
    // Forty timed-out writes nobody reads, among writes and reads that
    // returned, then a read of a value none wrote: that some of them took
    // effect before a write is no reason to try which.
    let mut h = History::new();
    for v in 1..=40 {
        h.timed_out(v as u32, Op::Write(v), 0);
    }
    for t in 0..20 {
        write(&mut h, 0, (10 + 4 * t, 11 + 4 * t), 100 + t as i64);
        read(&mut h, 0, (12 + 4 * t, 13 + 4 * t), Some(100 + t as i64));
    }
    read(&mut h, 0, (100, 101), Some(1000));
    assert!(matches!(check(&h, 20_000), Verdict::NotLinearizable { .. }));

    // Twenty timed-out write(1) and twenty write(2), read in turns: each
    // read needs one more of them, whichever, and which is not a choice.
    let mut h = History::new();
    for c in 0..20 {
        h.timed_out(c, Op::Write(1), 0);
        h.timed_out(c + 20, Op::Write(2), 0);
    }
    for t in 0..40 {
        read(&mut h, 0, (10 + 2 * t, 11 + 2 * t), Some(1 + t as i64 % 2));
    }
    assert_eq!(linearizable(&h).len(), 80);
    read(&mut h, 0, (100, 101), Some(1000));
    assert!(matches!(check(&h, 20_000), Verdict::NotLinearizable { .. }));
}

#[test]
#[should_panic(expected = "must return after it is invoked")]
fn a_response_before_its_invocation_is_refused() {
    read(&mut History::new(), 0, (10, 10), None);
}

#[test]
#[should_panic(expected = "another kind of operation")]
fn an_outcome_of_another_kind_is_refused() {
    History::new().completed(0, Op::Read, 0, 1, Outcome::Written);
}

/// A tiny deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self) -> Option<i64> {
        match self.below(5) {
            0 => None,
            v => Some(v as i64),
        }
    }

    fn op(&mut self) -> Op {
        match self.below(4) {
            0 => Op::Read,
            1 => Op::Write(self.below(4) as i64 + 1),
            _ => Op::Cas {
                expect: self.value(),
                new: self.below(4) as i64 + 1,
            },
        }
    }
}

/// `clients` clients run `ops` operations each against one real
/// register: every operation takes effect at one instant inside its
/// interval (a timed-out one anywhere later, or never).
fn generate(rng: &mut Rng, clients: u32, ops: usize) -> History {
    struct Planned {
        client: u32,
        op: Op,
        invoked: u64,
        effect: Option<u64>,
        returned: Option<u64>,
    }
    let mut planned = Vec::new();
    for client in 0..clients {
        let mut now = rng.below(10);
        for _ in 0..ops {
            let op = rng.op();
            let invoked = now;
            let effect = invoked + 1 + rng.below(20);
            let returned = effect + 1 + rng.below(20);
            if rng.below(10) == 0 {
                // Timed out: the client gives up at `returned`; the
                // operation takes effect then, much later or never.
                let effect = match rng.below(3) {
                    0 => Some(effect),
                    1 => Some(effect + rng.below(500)),
                    _ => None,
                };
                planned.push(Planned {
                    client,
                    op,
                    invoked,
                    effect,
                    returned: None,
                });
            } else {
                planned.push(Planned {
                    client,
                    op,
                    invoked,
                    effect: Some(effect),
                    returned: Some(returned),
                });
            }
            now = returned + rng.below(10);
        }
    }
    let mut by_effect: Vec<usize> = (0..planned.len())
        .filter(|&i| planned[i].effect.is_some())
        .collect();
    by_effect.sort_by_key(|&i| (planned[i].effect, i));
    let mut state = None;
    let mut outcomes = vec![None; planned.len()];
    for i in by_effect {
        let (outcome, after) = match planned[i].op {
            Op::Read => (Outcome::Read(state), state),
            Op::Write(v) => (Outcome::Written, Some(v)),
            Op::Cas { expect, new } => {
                let applied = state == expect;
                let current = (!applied && rng.below(2) == 0).then_some(state);
                let after = if applied { Some(new) } else { state };
                (Outcome::Cas { applied, current }, after)
            }
        };
        outcomes[i] = Some(outcome);
        state = after;
    }
    let mut h = History::new();
    for (p, outcome) in planned.iter().zip(outcomes) {
        match p.returned {
            Some(at) => h.completed(p.client, p.op, p.invoked, at, outcome.unwrap()),
            None => h.timed_out(p.client, p.op, p.invoked),
        };
    }
    h
}

#[test]
fn generated_histories_are_linearizable_and_a_planted_read_is_caught() {
    let mut mutated = 0;
    for seed in 0..500 {
        let mut rng = Rng(seed);
        let clients = 2 + rng.below(5) as u32;
        let ops = 5 + rng.below(20) as usize;
        let h = generate(&mut rng, clients, ops);
        match check(&h, BUDGET) {
            Verdict::Linearizable { order } => assert_linearization(&h, &order),
            other => panic!("seed {seed}: {other:?}\n{h:?}"),
        }

        let reads: Vec<usize> = (0..h.len())
            .filter(|&i| matches!(h.events()[i].returned, Some((_, Outcome::Read(_)))))
            .collect();
        if reads.is_empty() {
            continue;
        }
        let victim = reads[rng.below(reads.len() as u64) as usize];
        let mut bad = History::new();
        for (i, e) in h.events().iter().enumerate() {
            let mut e = *e;
            if i == victim {
                e.returned = e.returned.map(|(at, _)| (at, Outcome::Read(Some(1000))));
            }
            bad.push(e);
        }
        match check(&bad, BUDGET) {
            Verdict::NotLinearizable { .. } => mutated += 1,
            other => panic!("seed {seed}, #{victim} reads 1000: {other:?}"),
        }
    }
    assert!(mutated > 450, "only {mutated} histories had a read");
}

#[test]
fn hundreds_of_operations_take_few_steps() {
    let mut rng = Rng(42);
    let h = generate(&mut rng, 8, 50);
    assert_eq!(h.len(), 400);
    let start = std::time::Instant::now();
    let budget = 100 * h.len() as u64;
    let verdict = check(&h, budget);
    match &verdict {
        Verdict::Linearizable { order } => assert_linearization(&h, order),
        other => panic!("{other:?}"),
    }
    assert_eq!(check(&h, budget), verdict, "not deterministic");
    // Generous: a few milliseconds in a release build, more in debug.
    assert!(start.elapsed().as_secs() < 2, "{:?}", start.elapsed());
}

/// The definition, tried exhaustively: every order of the completed
/// operations and of any subset of the timed-out ones, with none of
/// the checker's pruning but the plain memo of failed (set, value).
fn brute_force(h: &History) -> bool {
    fn extend(
        h: &History,
        used: u32,
        state: Option<i64>,
        failed: &mut HashSet<(u32, Option<i64>)>,
    ) -> bool {
        let events = h.events();
        let free = |i: usize| used & (1 << i) == 0;
        if (0..events.len()).all(|i| !free(i) || events[i].returned.is_none()) {
            return true;
        }
        if failed.contains(&(used, state)) {
            return false;
        }
        for i in (0..events.len()).filter(|&i| free(i)) {
            // i may go next if no free operation returned before i was invoked.
            let blocked = (0..events.len()).any(|j| {
                free(j)
                    && events[j]
                        .returned
                        .is_some_and(|(at, _)| at < events[i].invoked)
            });
            if !blocked
                && replay(state, &events[i])
                    .is_some_and(|after| extend(h, used | 1 << i, after, failed))
            {
                return true;
            }
        }
        failed.insert((used, state));
        false
    }
    assert!(h.len() <= 16);
    extend(h, 0, h.initial(), &mut HashSet::new())
}

/// A small history: operations with random answers, or a correct
/// history with one answer perhaps replaced by a random one.
fn small_history(rng: &mut Rng) -> History {
    let random_outcome = |rng: &mut Rng, op: Op| match op {
        Op::Read => Outcome::Read(rng.value()),
        Op::Write(_) => Outcome::Written,
        Op::Cas { .. } => Outcome::Cas {
            applied: rng.below(2) == 0,
            current: (rng.below(2) == 0).then(|| rng.value()),
        },
    };
    let timeouts = 2 + rng.below(4);
    if rng.below(2) == 0 {
        let mut h = History::with_initial(rng.value());
        for _ in 0..1 + rng.below(8) {
            let client = rng.below(3) as u32;
            let op = rng.op();
            let invoked = rng.below(20);
            if rng.below(timeouts) == 0 {
                h.timed_out(client, op, invoked);
            } else {
                let outcome = random_outcome(rng, op);
                h.completed(client, op, invoked, invoked + 1 + rng.below(10), outcome);
            }
        }
        return h;
    }
    let clients = 1 + rng.below(3) as u32;
    let ops = 1 + rng.below(4) as usize;
    let h = generate(rng, clients, ops);
    let victim = rng.below(2 * h.len() as u64) as usize;
    let mut changed = History::new();
    for (i, e) in h.events().iter().enumerate() {
        let mut e = *e;
        if i == victim {
            e.returned = e.returned.map(|(at, _)| (at, random_outcome(rng, e.op)));
        }
        changed.push(e);
    }
    changed
}

#[test]
fn agrees_with_brute_force_on_small_random_histories() {
    let (mut yes, mut no) = (0, 0);
    for seed in 0..4000 {
        let mut rng = Rng(1_000_000 + seed);
        let h = small_history(&mut rng);
        let expected = brute_force(&h);
        match check(&h, BUDGET) {
            Verdict::Linearizable { order } => {
                assert!(expected, "seed {seed}: {order:?} for {h:?}");
                assert_linearization(&h, &order);
                yes += 1;
            }
            Verdict::NotLinearizable { longest_prefix, .. } => {
                assert!(!expected, "seed {seed}: {h:?}");
                assert_linearization_prefix(&h, &longest_prefix);
                no += 1;
            }
            Verdict::GaveUp { .. } => panic!("seed {seed}"),
        }
    }
    assert!(yes > 1000 && no > 1000, "{yes} linearizable, {no} not");
}

/// A prefix is real-time ordered and every answer in it fits.
fn assert_linearization_prefix(h: &History, prefix: &[usize]) {
    let events = h.events();
    let mut state = h.initial();
    for (a, &i) in prefix.iter().enumerate() {
        for &j in &prefix[a + 1..] {
            if let Some((at, _)) = events[j].returned {
                assert!(at >= events[i].invoked, "{prefix:?}");
            }
        }
        state = replay(state, &events[i]).expect("fits");
    }
}
