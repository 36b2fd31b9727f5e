//! Hostile input: random bytes, the order's laws on valid values, the depth
//! cap.

use super::*;

fn fuzz_types() -> Vec<CqlType> {
    let mut out: Vec<CqlType> = [
        "ascii",
        "bigint",
        "blob",
        "boolean",
        "counter",
        "date",
        "decimal",
        "double",
        "duration",
        "float",
        "inet",
        "int",
        "smallint",
        "text",
        "time",
        "timestamp",
        "timeuuid",
        "tinyint",
        "uuid",
        "varint",
        "list<int>",
        "set<text>",
        "map<int, frozen<list<text>>>",
        "frozen<tuple<int, text, blob>>",
        "list<frozen<map<varint, decimal>>>",
        "set<frozen<tuple<uuid, timeuuid>>>",
        "map<double, float>",
        "set<boolean>",
        "frozen<list<frozen<set<frozen<list<duration>>>>>>",
        "map<inet, date>",
        "set<time>",
    ]
    .iter()
    .map(|s| t(s))
    .collect();
    out.push(udt_type());
    out.push(CqlType::Custom("x.Y".into()));
    out
}

/// Mostly well-formed bytes for `ty`, with random damage.
fn gen_bytes(ty: &CqlType, rng: &mut Rng, depth: usize, out: &mut Vec<u8>) {
    if rng.below(16) == 0 || depth > 6 {
        let n = rng.below(24) as usize;
        out.extend(rng.bytes(n));
        return;
    }
    let elem = |rng: &mut Rng, t: &CqlType, out: &mut Vec<u8>| {
        if rng.below(20) == 0 {
            out.extend((-(rng.below(3) as i32)).to_be_bytes());
            return;
        }
        let mut inner = Vec::new();
        gen_bytes(t, rng, depth + 1, &mut inner);
        let len = if rng.below(20) == 0 {
            rng.next() as i32
        } else {
            inner.len() as i32
        };
        out.extend(len.to_be_bytes());
        out.extend(inner);
    };
    match ty.unfrozen() {
        CqlType::List(e) | CqlType::Set(e) => {
            let n = rng.below(4);
            let count = if rng.below(20) == 0 {
                rng.next() as i32
            } else {
                n as i32
            };
            out.extend(count.to_be_bytes());
            for _ in 0..n {
                elem(rng, e, out);
            }
        }
        CqlType::Map(k, v) => {
            let n = rng.below(4);
            let count = if rng.below(20) == 0 {
                rng.next() as i32
            } else {
                n as i32
            };
            out.extend(count.to_be_bytes());
            for _ in 0..n {
                elem(rng, k, out);
                elem(rng, v, out);
            }
        }
        CqlType::Tuple(ts) => {
            for tt in ts.iter().take(rng.below(ts.len() as u64 + 2) as usize) {
                elem(rng, tt, out);
            }
        }
        CqlType::Udt { fields, .. } => {
            for (_, tt) in fields
                .iter()
                .take(rng.below(fields.len() as u64 + 2) as usize)
            {
                elem(rng, tt, out);
            }
        }
        CqlType::Decimal | CqlType::Varint => {
            let n = rng.below(12) as usize;
            out.extend(rng.bytes(n));
        }
        CqlType::Duration => {
            for _ in 0..3 {
                write_vint((rng.next() as i64) >> rng.below(64), out);
            }
        }
        CqlType::Timeuuid => {
            let mut u = rng.bytes(16);
            u[6] = (u[6] & 0x0f) | 0x10;
            out.extend(u);
        }
        CqlType::Text | CqlType::Ascii | CqlType::Blob | CqlType::Custom(_) => {
            let n = rng.below(8) as usize;
            out.extend((0..n).map(|_| b'a' + rng.below(40) as u8));
        }
        other => {
            let n = match other {
                CqlType::Boolean | CqlType::Tinyint => 1,
                CqlType::Smallint => 2,
                CqlType::Int | CqlType::Float | CqlType::Date => 4,
                CqlType::Inet => [4, 16][rng.below(2) as usize],
                CqlType::Uuid => 16,
                _ => 8,
            };
            out.extend(rng.bytes(n));
        }
    }
    if rng.below(10) == 0 && !out.is_empty() {
        let i = rng.below(out.len() as u64) as usize;
        out[i] ^= 1 << rng.below(8);
    }
    if rng.below(10) == 0 {
        let keep = rng.below(out.len() as u64 + 1) as usize;
        out.truncate(keep);
    }
}

#[test]
fn hostile_bytes_never_panic() {
    let types = fuzz_types();
    let mut rng = Rng(0xdead_beef);
    let mut ok = 0usize;
    let check = |ty: &CqlType, b: &[u8], other: &[u8], ok: &mut usize| {
        let _ = compare(ty, b, other);
        assert_eq!(compare(ty, b, b), Ordering::Equal, "{ty} {b:02x?}");
        if let Ok(v) = CqlValue::decode(ty, b) {
            *ok += 1;
            let again = v.to_bytes();
            let v2 = CqlValue::decode(ty, &again)
                .unwrap_or_else(|e| panic!("{ty}: re-decode of {again:02x?} ({b:02x?}): {e}"));
            assert_eq!(v2.to_bytes(), again, "{ty} {b:02x?}");
            assert!(v.fits(ty) || matches!(v, CqlValue::Empty), "{ty} {v:?}");
            assert_eq!(compare(ty, &again, &v2.to_bytes()), Ordering::Equal, "{ty}");
            let _ = v.to_cqlsh();
            let _ = v.to_cql_literal();
        }
    };
    let mut prev: Vec<Vec<u8>> = vec![Vec::new(); types.len()];
    for iter in 0..100_000 {
        let n = rng.below(40) as usize;
        let raw = rng.bytes(n);
        // Every type gets the random bytes; one type per round gets
        // structured bytes too.
        for ty in &types {
            let _ = CqlValue::decode(ty, &raw);
            let _ = compare(ty, &raw, &raw[raw.len() / 2..]);
        }
        let k = iter % types.len();
        let ty = &types[k];
        let mut b = Vec::new();
        gen_bytes(ty, &mut rng, 0, &mut b);
        check(ty, &b, &prev[k], &mut ok);
        prev[k] = b;
    }
    assert!(ok > 20_000, "only {ok} structured inputs decoded");
}

#[test]
fn compare_is_antisymmetric_and_transitive_on_valid_values() {
    let types = fuzz_types();
    let mut rng = Rng(99);
    for ty in &types {
        let mut vals: Vec<Vec<u8>> = Vec::new();
        while vals.len() < 40 {
            let mut b = Vec::new();
            gen_bytes(ty, &mut rng, 0, &mut b);
            if let Ok(v) = CqlValue::decode(ty, &b) {
                vals.push(v.to_bytes());
            }
        }
        for a in &vals {
            for b in &vals {
                let ab = compare(ty, a, b);
                assert_eq!(ab, compare(ty, b, a).reverse(), "{ty}");
                for c in vals.iter().take(10) {
                    if ab != Ordering::Greater && compare(ty, b, c) != Ordering::Greater {
                        assert_ne!(compare(ty, a, c), Ordering::Greater, "{ty} transitivity");
                    }
                }
            }
        }
        vals.sort_by(|a, b| compare(ty, a, b));
    }
}

#[test]
fn depth_is_capped() {
    // A 100-deep list type and a value nested as deep.
    let mut ty = CqlType::Int;
    let mut v = CqlValue::Int(1);
    let mut l = CqlLiteral::Int("1".into());
    for _ in 0..100 {
        ty = CqlType::List(Box::new(ty));
        v = CqlValue::List(vec![v]);
        l = CqlLiteral::List(vec![l]);
    }
    let bytes = v.to_bytes();
    assert_eq!(CqlValue::decode(&ty, &bytes), Err(ValueError::TooDeep));
    assert_eq!(CqlValue::from_literal(&ty, &l), Err(ValueError::TooDeep));
    assert_eq!(compare(&ty, &bytes, &bytes), Ordering::Equal);
    let _ = v.to_cqlsh();
    assert!(!v.fits(&ty));
    // Within the cap it works.
    let mut ty = CqlType::Int;
    let mut v = CqlValue::Int(1);
    for _ in 0..20 {
        ty = CqlType::Frozen(Box::new(CqlType::List(Box::new(ty))));
        v = CqlValue::List(vec![v]);
    }
    assert_eq!(dec(&ty, &v.to_bytes()), v);
}
