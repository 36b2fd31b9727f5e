use super::*;

fn ip(i: u8) -> IpAddr {
    IpAddr::from([127, 0, 1, i])
}

const HOST: [u8; 16] = [7; 16];

fn round() -> CasRound {
    CasRound::new(
        vec![ip(1), ip(2), ip(3)],
        2,
        Consistency::Serial,
        Consistency::Quorum,
        HOST,
        1000,
    )
}

fn promise(ok: bool, promised: Ballot) -> Promise {
    Promise {
        ok,
        promised,
        accepted: None,
        committed: None,
    }
}

fn ballot_of(e: &[Effect]) -> Ballot {
    match e {
        [Effect::Prepare { ballot, .. }] => *ballot,
        other => panic!("expected one Prepare, got {other:?}"),
    }
}

#[test]
fn an_uncontended_transaction_prepares_reads_decides_proposes_and_commits() {
    let mut r = round();
    let e = r.start(100);
    assert_eq!(
        e,
        vec![Effect::Prepare {
            ballot: Ballot {
                micros: 100,
                host: HOST
            },
            to: vec![ip(1), ip(2), ip(3)]
        }]
    );
    let b = r.ballot();
    assert_eq!(r.on_promise(ip(1), b, promise(true, b)), vec![]);
    assert_eq!(
        r.on_promise(ip(3), b, promise(true, b)),
        vec![Effect::Read {
            consistency: Consistency::Quorum
        }]
    );
    // The third promise comes late: ignored.
    assert_eq!(r.on_promise(ip(2), b, promise(true, b)), vec![]);
    assert_eq!(
        r.on_read(Ok(None)),
        vec![Effect::Decide {
            current: None,
            micros: 100
        }]
    );
    let e = r.on_decided(Some(b"update".to_vec()));
    assert!(matches!(&e[..], [Effect::Propose { update, .. }] if update == b"update"));
    assert_eq!(r.on_accepted(ip(2), b, true), vec![]);
    assert_eq!(
        r.on_accepted(ip(1), b, true),
        vec![Effect::Commit {
            ballot: b,
            update: b"update".to_vec(),
            consistency: Consistency::Quorum,
            write_type: "SIMPLE"
        }]
    );
    assert_eq!(r.on_committed(Ok(()), 200), vec![Effect::Done(Ok(()))]);
    assert!(r.is_done());
    assert_eq!(r.tick(5000), vec![], "nothing after the end");
}

#[test]
fn a_failed_condition_or_a_serial_read_ends_after_the_read() {
    let mut r = round();
    let b = ballot_of(&r.start(1));
    r.on_promise(ip(1), b, promise(true, b));
    r.on_promise(ip(2), b, promise(true, b));
    r.on_read(Ok(None));
    assert_eq!(r.on_decided(None), vec![Effect::Done(Ok(()))]);
}

#[test]
fn a_refusal_pauses_then_prepares_above_the_higher_ballot() {
    let mut r = round();
    let b = ballot_of(&r.start(100));
    let higher = Ballot {
        micros: 500,
        host: [9; 16],
    };
    r.on_promise(ip(1), b, promise(true, b));
    assert_eq!(
        r.on_promise(ip(2), b, promise(false, higher)),
        vec![Effect::Pause]
    );
    // Answers to the old ballot change nothing now.
    assert_eq!(r.on_promise(ip(3), b, promise(true, b)), vec![]);
    let b2 = ballot_of(&r.on_paused(120));
    assert_eq!(b2.micros, 501, "above the ballot that won");
    assert_eq!(
        r.on_promise(ip(1), b, promise(true, b)),
        vec![],
        "an old ballot"
    );
}

#[test]
fn a_proposal_in_progress_is_finished_at_the_read_level_then_the_round_starts_over() {
    let mut r = round();
    let b = ballot_of(&r.start(100));
    let old = Ballot {
        micros: 50,
        host: [1; 16],
    };
    let mut p = promise(true, b);
    p.accepted = Some((old, b"orphan".to_vec()));
    r.on_promise(ip(1), b, p);
    let e = r.on_promise(ip(2), b, promise(true, b));
    assert_eq!(
        e,
        vec![Effect::Propose {
            ballot: b,
            update: b"orphan".to_vec(),
            to: vec![ip(1), ip(2), ip(3)]
        }]
    );
    r.on_accepted(ip(1), b, true);
    let e = r.on_accepted(ip(3), b, true);
    assert!(matches!(
        &e[..],
        [Effect::Commit {
            write_type: "CAS",
            consistency: Consistency::Quorum,
            ..
        }]
    ));
    let b2 = ballot_of(&r.on_committed(Ok(()), 90));
    assert!(b2 > b, "a new ballot, above the last one");
}

#[test]
fn replicas_missing_the_newest_commit_get_it_before_the_read() {
    let mut r = round();
    let b = ballot_of(&r.start(100));
    let c = Ballot {
        micros: 60,
        host: [1; 16],
    };
    let mut with = promise(true, b);
    with.committed = Some((c, b"c".to_vec()));
    r.on_promise(ip(3), b, with);
    let e = r.on_promise(ip(1), b, promise(true, b));
    assert_eq!(
        e,
        vec![Effect::Propagate {
            ballot: c,
            update: b"c".to_vec(),
            to: vec![ip(1)]
        }]
    );
    assert_eq!(r.on_propagated(ip(2), 110), vec![], "not asked");
    let b2 = ballot_of(&r.on_propagated(ip(1), 110));
    assert!(b2 > b);
}

#[test]
fn a_proposal_accepted_by_a_minority_is_a_timeout_and_refused_by_all_a_pause() {
    let prepared = || {
        let mut r = round();
        let b = ballot_of(&r.start(100));
        r.on_promise(ip(1), b, promise(true, b));
        r.on_promise(ip(2), b, promise(true, b));
        r.on_read(Ok(None));
        r.on_decided(Some(vec![1]));
        (r, b)
    };
    let (mut r, b) = prepared();
    r.on_accepted(ip(1), b, true);
    r.on_accepted(ip(2), b, false);
    assert_eq!(
        r.on_accepted(ip(3), b, false),
        vec![Effect::Done(Err(QueryError::WriteTimeout {
            consistency: "SERIAL".into(),
            received: 1,
            block_for: 2,
            write_type: "CAS".into()
        }))]
    );
    let (mut r, b) = prepared();
    r.on_accepted(ip(1), b, false);
    r.on_accepted(ip(2), b, false);
    assert_eq!(r.on_accepted(ip(3), b, false), vec![Effect::Pause]);
}

#[test]
fn strangers_duplicates_and_other_phases_are_ignored() {
    let mut r = round();
    let b = ballot_of(&r.start(100));
    assert_eq!(r.on_promise(ip(9), b, promise(true, b)), vec![]);
    r.on_promise(ip(1), b, promise(true, b));
    assert_eq!(
        r.on_promise(ip(1), b, promise(true, b)),
        vec![],
        "a duplicate"
    );
    assert_eq!(r.on_accepted(ip(1), b, true), vec![], "not proposing");
    assert_eq!(r.on_read(Ok(None)), vec![], "not reading");
    assert_eq!(r.on_decided(None), vec![], "not deciding");
    assert_eq!(r.on_committed(Ok(()), 1), vec![], "not committing");
}

#[test]
fn the_deadline_times_out_with_what_arrived() {
    let mut r = round();
    let b = ballot_of(&r.start(100));
    r.on_promise(ip(1), b, promise(true, b));
    assert_eq!(r.tick(999), vec![]);
    assert_eq!(
        r.tick(1000),
        vec![Effect::Done(Err(QueryError::WriteTimeout {
            consistency: "SERIAL".into(),
            received: 1,
            block_for: 2,
            write_type: "CAS".into()
        }))]
    );
    // Reading: the read's own timeout answers, not the round's.
    let mut r = round();
    let b = ballot_of(&r.start(100));
    r.on_promise(ip(1), b, promise(true, b));
    r.on_promise(ip(2), b, promise(true, b));
    assert_eq!(r.tick(5000), vec![]);
}

#[test]
fn local_serial_reads_at_local_quorum() {
    let r = CasRound::new(
        vec![ip(1)],
        1,
        Consistency::LocalSerial,
        Consistency::LocalQuorum,
        HOST,
        10,
    );
    assert_eq!(r.read_level(), Consistency::LocalQuorum);
}
