//! Comparison.

use super::*;

fn cmp_v(ty: &CqlType, a: &CqlValue, b: &CqlValue) -> Ordering {
    CqlValue::compare_values(ty, a, b)
}

#[test]
fn numeric_orders() {
    let mut rng = Rng(3);
    for _ in 0..2000 {
        let (x, y) = (rng.next() as i64, rng.next() as i64 >> rng.below(64));
        assert_eq!(
            cmp_v(&CqlType::Bigint, &CqlValue::Bigint(x), &CqlValue::Bigint(y)),
            x.cmp(&y)
        );
        let (a, b) = (x as i32, y as i32);
        assert_eq!(
            cmp_v(&CqlType::Int, &CqlValue::Int(a), &CqlValue::Int(b)),
            a.cmp(&b)
        );
        assert_eq!(
            cmp_v(
                &CqlType::Smallint,
                &CqlValue::Smallint(a as i16),
                &CqlValue::Smallint(b as i16)
            ),
            (a as i16).cmp(&(b as i16))
        );
        assert_eq!(
            cmp_v(
                &CqlType::Tinyint,
                &CqlValue::Tinyint(a as i8),
                &CqlValue::Tinyint(b as i8)
            ),
            (a as i8).cmp(&(b as i8))
        );
        assert_eq!(
            cmp_v(
                &CqlType::Varint,
                &varint(i128::from(x)),
                &varint(i128::from(y))
            ),
            x.cmp(&y)
        );
        let (p, q) = (i128::from(x) << 40, i128::from(y) * 3);
        assert_eq!(cmp_v(&CqlType::Varint, &varint(p), &varint(q)), p.cmp(&q));
        assert_eq!(
            cmp_v(
                &CqlType::Timestamp,
                &CqlValue::Timestamp(x),
                &CqlValue::Timestamp(y)
            ),
            x.cmp(&y)
        );
        let (u, w) = (x as u32, y as u32);
        assert_eq!(
            cmp_v(&CqlType::Date, &CqlValue::Date(u), &CqlValue::Date(w)),
            u.cmp(&w)
        );
        // decimal x / 10^s1 vs y / 10^s2, checked with exact i128 maths
        let (s1, s2) = (rng.below(6) as i32, rng.below(6) as i32);
        let (m1, m2) = (i128::from(x >> 20), i128::from(y >> 20));
        let want = (m1 * 10i128.pow(s2 as u32)).cmp(&(m2 * 10i128.pow(s1 as u32)));
        let d = |m: i128, s: i32| CqlValue::Decimal {
            unscaled: big::minimal_twos(&m.to_be_bytes()),
            scale: s,
        };
        assert_eq!(
            cmp_v(&CqlType::Decimal, &d(m1, s1), &d(m2, s2)),
            want,
            "{m1}e-{s1} vs {m2}e-{s2}"
        );
    }
    let d = |m: i128, s: i32| CqlValue::Decimal {
        unscaled: big::minimal_twos(&m.to_be_bytes()),
        scale: s,
    };
    assert_eq!(
        cmp_v(&CqlType::Decimal, &d(10, 1), &d(100, 2)),
        Ordering::Equal
    );
    assert_eq!(
        cmp_v(&CqlType::Decimal, &d(1, -1000), &d(9, 0)),
        Ordering::Greater
    );
    assert_eq!(
        cmp_v(&CqlType::Decimal, &d(-1, -1000), &d(9, 0)),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&CqlType::Decimal, &d(1, i32::MAX), &d(0, 0)),
        Ordering::Greater
    );
    assert_eq!(
        cmp_v(&CqlType::Decimal, &d(1, i32::MAX), &d(1, i32::MIN)),
        Ordering::Less
    );
    // Around powers of ten the bit-length shortcut must defer to exact maths.
    for k in 1..38u32 {
        let p = 10i128.pow(k);
        for (x, y) in [(p - 1, p), (p, p + 1), (p, p), (p - 1, 1), (p, 10)] {
            for (s1, s2) in [(0, 0), (k as i32, 0), (0, k as i32 - 1), (3, 5)] {
                let lhs = x.checked_mul(10i128.pow(s2 as u32));
                let rhs = y.checked_mul(10i128.pow(s1 as u32));
                if let (Some(l), Some(r)) = (lhs, rhs) {
                    assert_eq!(
                        cmp_v(&CqlType::Decimal, &d(x, s1), &d(y, s2)),
                        l.cmp(&r),
                        "{x}e-{s1} {y}e-{s2}"
                    );
                }
            }
        }
    }
    // A huge value still compares quickly.
    let huge = CqlValue::Decimal {
        unscaled: [0x7f].repeat(60_000),
        scale: 0,
    };
    assert_eq!(cmp_v(&CqlType::Decimal, &huge, &d(5, 0)), Ordering::Greater);
    // Non-minimal varints compare by value.
    assert_eq!(compare(&CqlType::Varint, &[0, 0, 5], &[5]), Ordering::Equal);
    assert_eq!(
        compare(&CqlType::Varint, &[0xff, 0xff], &[0x80]),
        Ordering::Greater
    );
    // Floats like Java's compare.
    let fl = |x: f32| CqlValue::Float(x);
    assert_eq!(cmp_v(&CqlType::Float, &fl(-0.0), &fl(0.0)), Ordering::Less);
    assert_eq!(
        cmp_v(&CqlType::Float, &fl(f32::NAN), &fl(f32::INFINITY)),
        Ordering::Greater
    );
    assert_eq!(cmp_v(&CqlType::Float, &fl(-1.0), &fl(0.5)), Ordering::Less);
    let db = |x: f64| CqlValue::Double(x);
    assert_eq!(
        cmp_v(&CqlType::Double, &db(-f64::NAN), &db(f64::NAN)),
        Ordering::Equal
    );
    assert_eq!(
        cmp_v(&CqlType::Double, &db(-1e300), &db(-1e299)),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(
            &CqlType::Boolean,
            &CqlValue::Boolean(false),
            &CqlValue::Boolean(true)
        ),
        Ordering::Less
    );
    assert_eq!(compare(&CqlType::Boolean, &[2], &[1]), Ordering::Equal);
}

#[test]
fn bytewise_orders() {
    let text = |x: &str| CqlValue::Text(x.into());
    assert_eq!(
        cmp_v(&CqlType::Text, &text("a"), &text("b")),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&CqlType::Text, &text("ab"), &text("a")),
        Ordering::Greater
    );
    assert_eq!(
        cmp_v(&CqlType::Text, &text("Z"), &text("a")),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&CqlType::Text, &text("é"), &text("z")),
        Ordering::Greater
    );
    assert_eq!(compare(&CqlType::Blob, &[0x80], &[0x7f]), Ordering::Greater);
    let v4 = CqlValue::Inet(IpAddr::V4(Ipv4Addr::new(255, 0, 0, 0)));
    let v6 = CqlValue::Inet(IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(cmp_v(&CqlType::Inet, &v4, &v6), Ordering::Greater);
    assert_eq!(
        cmp_v(&CqlType::Time, &CqlValue::Time(5), &CqlValue::Time(1 << 40)),
        Ordering::Less
    );
}

#[test]
fn uuid_orders() {
    // Two v1 UUIDs whose timestamps order differently from their bytes:
    // time_low (bytes 0-3) is the least significant part.
    let early = uuid("ffffffff-0000-1000-8000-000000000000");
    let late = uuid("00000000-0001-1000-8000-000000000000");
    for ty in [CqlType::Timeuuid, CqlType::Uuid] {
        let wrap = |u| {
            if ty == CqlType::Uuid {
                CqlValue::Uuid(u)
            } else {
                CqlValue::Timeuuid(u)
            }
        };
        assert_eq!(
            cmp_v(&ty, &wrap(early), &wrap(late)),
            Ordering::Less,
            "{ty}"
        );
    }
    // Same timestamp: timeuuid compares the low bytes signed, uuid unsigned.
    let lo_pos = uuid("00000000-0000-1000-0000-000000000000");
    let lo_neg = uuid("00000000-0000-1000-8000-000000000000");
    assert_eq!(
        compare(&CqlType::Timeuuid, &lo_neg, &lo_pos),
        Ordering::Less
    );
    assert_eq!(compare(&CqlType::Uuid, &lo_neg, &lo_pos), Ordering::Greater);
    // Later bytes of the low half are signed too in TimeUUIDType.
    let a = uuid("00000000-0000-1000-0080-000000000000");
    let b = uuid("00000000-0000-1000-0001-000000000000");
    assert_eq!(compare(&CqlType::Timeuuid, &a, &b), Ordering::Less);
    assert_eq!(compare(&CqlType::Uuid, &a, &b), Ordering::Greater);
    // UUIDType: version first, then unsigned msb for non-v1.
    let v4 = uuid("00000000-0000-4000-8000-000000000000");
    let v1 = uuid("ffffffff-ffff-1fff-bfff-ffffffffffff");
    assert_eq!(compare(&CqlType::Uuid, &v1, &v4), Ordering::Less);
    let v4b = uuid("80000000-0000-4000-8000-000000000000");
    assert_eq!(compare(&CqlType::Uuid, &v4, &v4b), Ordering::Less);
    let nil = [0u8; 16];
    assert_eq!(compare(&CqlType::Uuid, &nil, &v1), Ordering::Less);
    // Bad lengths: no panic, empty first.
    assert_eq!(compare(&CqlType::Uuid, &[1, 2], &v4), Ordering::Less);
    assert_eq!(compare(&CqlType::Timeuuid, &v1, &[]), Ordering::Greater);
}

#[test]
fn composite_orders() {
    let l = t("frozen<list<int>>");
    let list = |xs: &[i32]| CqlValue::List(xs.iter().map(|x| CqlValue::Int(*x)).collect());
    assert_eq!(cmp_v(&l, &list(&[1, 2]), &list(&[1, 3])), Ordering::Less);
    assert_eq!(cmp_v(&l, &list(&[1, 2]), &list(&[1])), Ordering::Greater);
    assert_eq!(cmp_v(&l, &list(&[-1, 9]), &list(&[1])), Ordering::Less);
    assert_eq!(cmp_v(&l, &list(&[]), &list(&[i32::MIN])), Ordering::Less);
    let m = t("frozen<map<int, text>>");
    let map = |xs: &[(i32, &str)]| {
        CqlValue::Map(
            xs.iter()
                .map(|(k, v)| (CqlValue::Int(*k), CqlValue::Text((*v).into())))
                .collect(),
        )
    };
    assert_eq!(
        cmp_v(&m, &map(&[(1, "b")]), &map(&[(1, "c")])),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&m, &map(&[(2, "a")]), &map(&[(1, "z")])),
        Ordering::Greater
    );
    assert_eq!(
        cmp_v(&m, &map(&[(1, "a")]), &map(&[(1, "a"), (2, "a")])),
        Ordering::Less
    );
    let tup = t("tuple<int, text>");
    let tv = |a: Option<i32>, b: Option<&str>| {
        CqlValue::Tuple(vec![
            a.map(CqlValue::Int),
            b.map(|s| CqlValue::Text(s.into())),
        ])
    };
    assert_eq!(
        cmp_v(&tup, &tv(None, Some("z")), &tv(Some(i32::MIN), None)),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&tup, &tv(Some(1), None), &tv(Some(1), Some(""))),
        Ordering::Less
    );
    assert_eq!(
        cmp_v(&tup, &tv(Some(2), None), &tv(Some(1), Some("z"))),
        Ordering::Greater
    );
    // A short tuple equals one padded with nulls.
    assert_eq!(
        compare(
            &tup,
            &[0, 0, 0, 4, 0, 0, 0, 1],
            &tv(Some(1), None).to_bytes()
        ),
        Ordering::Equal
    );
    // Malformed collection bytes: no panic, some order.
    let _ = compare(&l, &[0, 0, 0, 9], &[0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1]);
}

#[test]
fn sorting_by_compare_matches_value_order() {
    let mut rng = Rng(11);
    let ty = CqlType::Int;
    let mut xs: Vec<i32> = (0..500).map(|_| rng.next() as i32).collect();
    let mut encoded: Vec<Vec<u8>> = xs.iter().map(|x| CqlValue::Int(*x).to_bytes()).collect();
    encoded.sort_by(|a, b| compare(&ty, a, b));
    xs.sort();
    let back: Vec<i32> = encoded
        .iter()
        .map(|b| match dec(&ty, b) {
            CqlValue::Int(x) => x,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(back, xs);
}
