use super::*;
use crate::node::cluster::membership::ring_of;
use crate::testkit::sim::world::{WorldConfig, addr};

/// A calm 3 + 3 world, every node up and gossip converged.
fn booted(seed: u64) -> World {
    let mut w = World::new(
        seed,
        WorldConfig {
            trace_messages: false,
            ..WorldConfig::default()
        },
    );
    for a in w.addrs() {
        w.start(a);
    }
    // Converged is a moment (LOAD changes now and then): wait for one.
    for _ in 0..200 {
        w.run_for(100);
        if w.converged().is_ok() {
            return w;
        }
    }
    panic!("gossip does not converge: {:?}", w.converged());
}

fn answer(w: &World, op: usize) -> Option<Answer> {
    w.history[op].returned.as_ref().map(|(_, a)| a.clone())
}

fn replicas_holding(w: &World, k: u32, value: i64) -> usize {
    let (token, key) = key_of(k);
    w.nodes
        .values()
        .filter(|n| {
            n.disk
                .read(token, &key)
                .as_ref()
                .and_then(cell_of)
                .is_some_and(|(_, v)| v == value)
        })
        .count()
}

#[test]
fn a_local_quorum_write_in_dc1_is_read_in_dc2_and_reaches_all_six() {
    let mut w = booted(1);
    let op = w.submit(
        addr(1, 1),
        7,
        Kind::Write {
            value: 42,
            cl: Consistency::LocalQuorum,
        },
    );
    // Two acks of dc1 at 1-6 ms: answered long before dc2 (30 ms away) has it.
    w.run_for(20);
    assert_eq!(answer(&w, op), Some(Answer::Written));
    w.run_for(200);
    assert_eq!(replicas_holding(&w, 7, 42), 6);
    let read = w.submit(
        addr(2, 2),
        7,
        Kind::Read {
            cl: Consistency::LocalOne,
        },
    );
    w.run_for(100);
    assert!(matches!(
        answer(&w, read),
        Some(Answer::Read(Some((_, 42))))
    ));
}

#[test]
fn with_dc2_cut_off_local_quorum_works_each_quorum_is_unavailable_and_hints_catch_up() {
    let mut w = booted(2);
    let cut = w.net.cut_dc(2);
    w.run_for(6_000); // past the conviction time
    let local = w.submit(
        addr(1, 2),
        1,
        Kind::Write {
            value: 10,
            cl: Consistency::LocalQuorum,
        },
    );
    let each = w.submit(
        addr(1, 2),
        2,
        Kind::Write {
            value: 20,
            cl: Consistency::EachQuorum,
        },
    );
    w.run_for(100);
    assert_eq!(answer(&w, local), Some(Answer::Written));
    assert_eq!(
        answer(&w, each),
        Some(Answer::Failed(QueryError::Unavailable {
            consistency: "EACH_QUORUM".into(),
            required: 2,
            alive: 0
        }))
    );
    assert_eq!(replicas_holding(&w, 1, 10), 3, "dc1 only");
    let kept: usize = w.nodes.values().map(|n| n.disk.hints.len()).sum();
    assert_eq!(kept, 3, "a hint for each dc2 replica");
    w.net.heal(cut);
    w.run_for(10_000);
    assert_eq!(replicas_holding(&w, 1, 10), 6, "hints delivered");
    let kept: usize = w.nodes.values().map(|n| n.disk.hints.len()).sum();
    assert_eq!(kept, 0, "and deleted");
}

#[test]
fn a_stale_replica_is_repaired_by_a_quorum_read() {
    let mut w = booted(3);
    // 1.3 misses the write (cut from its datacenter for a moment).
    let cut = w.net.cut(
        [addr(1, 3)].into(),
        w.addrs().into_iter().filter(|a| *a != addr(1, 3)).collect(),
        true,
    );
    let op = w.submit(
        addr(1, 1),
        5,
        Kind::Write {
            value: 1,
            cl: Consistency::LocalQuorum,
        },
    );
    w.run_for(100);
    assert_eq!(answer(&w, op), Some(Answer::Written));
    w.net.heal(cut);
    let (token, key) = key_of(5);
    assert!(w.nodes[&addr(1, 3)].disk.read(token, &key).is_none());
    // A QUORUM read through 1.3 asks itself first, sees it is stale and repairs.
    let read = w.submit(
        addr(1, 3),
        5,
        Kind::Read {
            cl: Consistency::Quorum,
        },
    );
    w.run_for(200);
    assert!(matches!(answer(&w, read), Some(Answer::Read(Some((_, 1))))));
    assert!(w.nodes[&addr(1, 3)].disk.read(token, &key).is_some());
}

#[test]
fn racing_inserts_if_not_exists_from_both_datacenters_apply_once() {
    for seed in 0..20 {
        let mut w = booted(100 + seed);
        let a = w.submit(
            addr(1, 1),
            9,
            Kind::Cas {
                expect: None,
                new: 1,
            },
        );
        let b = w.submit(
            addr(2, 1),
            9,
            Kind::Cas {
                expect: None,
                new: 2,
            },
        );
        w.run_for(3_000);
        let applied = [a, b]
            .iter()
            .filter(|op| matches!(answer(&w, **op), Some(Answer::Cas { applied: true, .. })))
            .count();
        let timed_out = [a, b]
            .iter()
            .filter(|op| matches!(answer(&w, **op), Some(Answer::Failed(_))))
            .count();
        assert!(
            applied == 1 || (applied == 0 && timed_out > 0),
            "seed {seed}: {:?} {:?}",
            answer(&w, a),
            answer(&w, b)
        );
        let read = w.submit(addr(1, 2), 9, Kind::SerialRead);
        w.run_for(3_000);
        let winner = match answer(&w, read) {
            Some(Answer::Read(Some((_, v)))) => v,
            other => panic!("seed {seed}: serial read {other:?}"),
        };
        for op in [a, b] {
            if let (Kind::Cas { new, .. }, Some(Answer::Cas { applied: true, .. })) =
                (&w.history[op].kind, answer(&w, op))
            {
                assert_eq!(
                    *new, winner,
                    "seed {seed}: the applied one is what SERIAL reads"
                );
            }
        }
    }
}

#[test]
fn a_restarted_node_coordinates_with_the_ring_it_kept() {
    let mut w = World::new(
        4,
        WorldConfig {
            dc_sizes: [5, 5],
            trace_messages: false,
            ..WorldConfig::default()
        },
    );
    for a in w.addrs() {
        w.start(a);
    }
    w.run_for(10_000);
    // A key dc2's fifth node holds no replica of.
    let outsider = addr(2, 5);
    let ring = ring_of(w.gossip(&outsider).unwrap());
    let k = (0..100u32)
        .find(|k| !ring.replicas(&strategy(), key_of(*k).0).contains(&outsider))
        .expect("a key 2.5 does not hold");
    let write = w.submit(
        addr(1, 1),
        k,
        Kind::Write {
            value: 3,
            cl: Consistency::All,
        },
    );
    w.run_for(200);
    assert_eq!(answer(&w, write), Some(Answer::Written));
    w.crash(outsider);
    w.run_for(500);
    w.restart(outsider);
    // Before gossip has heard from anyone, the ring is the one kept on disk:
    // the replicas are known (and down), not the restarted node alone.
    let read = w.submit(
        outsider,
        k,
        Kind::Read {
            cl: Consistency::One,
        },
    );
    w.run_for(1);
    let got = answer(&w, read);
    assert!(
        matches!(got, Some(Answer::Failed(QueryError::Unavailable { .. }))),
        "{got:?}"
    );
    // Once gossip has heard, the read finds the row.
    w.run_for(3_000);
    let read = w.submit(
        outsider,
        k,
        Kind::Read {
            cl: Consistency::One,
        },
    );
    w.run_for(200);
    assert!(matches!(answer(&w, read), Some(Answer::Read(Some((_, 3))))));
}
