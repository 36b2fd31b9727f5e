//! Bytes: round trips, exact encodings, empty values, decoding errors,
//! normal forms, vints and the big-number helpers.

use super::*;

#[test]
fn round_trip_every_type() {
    for (ty, v) in samples() {
        let bytes = v.to_bytes();
        let back = dec(&ty, &bytes);
        assert_eq!(back.to_bytes(), bytes, "{ty} {v:?}");
        if !matches!(v, CqlValue::Double(x) if x.is_nan())
            && !matches!(v, CqlValue::Float(x) if x.is_nan())
        {
            assert_eq!(back, v, "{ty}");
        }
        assert!(v.fits(&ty), "{v:?} should fit {ty}");
        assert_eq!(compare(&ty, &bytes, &bytes), Ordering::Equal);
    }
}

#[test]
fn exact_encodings() {
    // Varint table of native_protocol_v4.spec section 6.23.
    for (n, want) in [
        (0, &[0x00][..]),
        (1, &[0x01]),
        (127, &[0x7f]),
        (128, &[0x00, 0x80]),
        (129, &[0x00, 0x81]),
        (-1, &[0xff]),
        (-128, &[0x80]),
        (-129, &[0xff, 0x7f]),
    ] {
        assert_eq!(varint(n).to_bytes(), want, "{n}");
        assert_eq!(big::integer_to_string(want), n.to_string());
    }
    assert_eq!(CqlValue::Date(DATE_EPOCH).to_bytes(), [0x80, 0, 0, 0]);
    assert_eq!(
        CqlValue::Decimal {
            unscaled: vec![0x30, 0x39],
            scale: 2
        }
        .to_bytes(),
        [0, 0, 0, 2, 0x30, 0x39]
    );
    assert_eq!(
        CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)]).to_bytes(),
        [0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2]
    );
    assert_eq!(
        CqlValue::Tuple(vec![None, Some(CqlValue::Boolean(true))]).to_bytes(),
        [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 1]
    );
    assert_eq!(
        CqlValue::Duration {
            months: 1,
            days: 2,
            nanos: 3
        }
        .to_bytes(),
        [2, 4, 6]
    );
    assert_eq!(
        CqlValue::Duration {
            months: -1,
            days: 0,
            nanos: 0
        }
        .to_bytes(),
        [1, 0, 0]
    );
    // 1h = 3.6e12 ns, zig-zag 7.2e12 needs 6 bytes: first byte 0b11111...
    let b = CqlValue::Duration {
        months: 0,
        days: 0,
        nanos: 3_600_000_000_000,
    }
    .to_bytes();
    assert_eq!(b, [0, 0, 0xfc, 0x06, 0x8c, 0x61, 0x71, 0x40, 0x00]);
    let b = CqlValue::Duration {
        months: 0,
        days: 0,
        nanos: i64::MIN,
    }
    .to_bytes();
    assert_eq!(b.len(), 2 + 9);
    assert_eq!(b[2], 0xff);
    // A non-minimal varint decodes to its minimal form.
    assert_eq!(dec(&CqlType::Varint, &[0, 0, 1]), varint(1));
    assert_eq!(dec(&CqlType::Varint, &[0xff, 0xff, 0x80]), varint(-128));
    assert_eq!(CqlValue::Varint(vec![]).to_bytes(), [0]);
}

#[test]
fn empty_values() {
    for ty in [
        "bigint",
        "boolean",
        "counter",
        "decimal",
        "double",
        "float",
        "inet",
        "int",
        "timestamp",
        "timeuuid",
        "uuid",
        "varint",
        "tuple<int>",
    ] {
        assert_eq!(dec(&t(ty), &[]), CqlValue::Empty, "{ty}");
    }
    assert_eq!(dec(&udt_type(), &[]), CqlValue::Empty);
    assert_eq!(dec(&CqlType::Text, &[]), CqlValue::Text(String::new()));
    assert_eq!(dec(&CqlType::Ascii, &[]), CqlValue::Ascii(String::new()));
    assert_eq!(dec(&CqlType::Blob, &[]), CqlValue::Blob(vec![]));
    assert_eq!(
        dec_err(&CqlType::Smallint, &[]),
        "Expected 2 bytes for a smallint (0)"
    );
    assert_eq!(
        dec_err(&CqlType::Tinyint, &[]),
        "Expected 1 byte for a tinyint (0)"
    );
    assert_eq!(
        dec_err(&CqlType::Date, &[]),
        "Expected 4 byte long for date (0)"
    );
    assert_eq!(
        dec_err(&CqlType::Time, &[]),
        "Expected 8 byte long for time (0)"
    );
    assert_eq!(
        dec_err(&CqlType::Duration, &[]),
        "Expected at least 3 bytes for a duration (0)"
    );
    assert_eq!(
        dec_err(&t("list<int>"), &[]),
        "Not enough bytes to read a list"
    );
    assert_eq!(
        dec_err(&t("frozen<set<int>>"), &[]),
        "Not enough bytes to read a set"
    );
    assert_eq!(
        dec_err(&t("map<int, int>"), &[]),
        "Not enough bytes to read a map"
    );
    assert_eq!(CqlValue::Empty.to_bytes(), Vec::<u8>::new());
    assert!(CqlValue::Empty.fits(&CqlType::Int));
    assert!(!CqlValue::Empty.fits(&CqlType::Date));
    assert_eq!(CqlValue::Empty.to_cqlsh(), "");
    assert_eq!(CqlValue::Empty.to_cql_literal(), "null");
    // Empty sorts first.
    assert_eq!(
        compare(&CqlType::Int, &[], &[0x80, 0, 0, 0]),
        Ordering::Less
    );
    assert_eq!(compare(&CqlType::Uuid, &[0; 16], &[]), Ordering::Greater);
}

#[test]
fn decode_errors_use_cassandra_wording() {
    assert_eq!(
        dec_err(&CqlType::Int, &[1, 2, 3]),
        "Expected 4 or 0 byte int (3)"
    );
    assert_eq!(
        dec_err(&CqlType::Bigint, &[1]),
        "Expected 8 or 0 byte long (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Timestamp, &[1]),
        "Expected 8 or 0 byte long for date (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Boolean, &[1, 1]),
        "Expected 1 or 0 byte value (2)"
    );
    assert_eq!(
        dec_err(&CqlType::Float, &[1]),
        "Expected 4 or 0 byte value for a float (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Double, &[1]),
        "Expected 8 or 0 byte value for a double (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Uuid, &[1]),
        "UUID should be 16 or 0 bytes (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Timeuuid, &[1]),
        "TimeUUID should be 16 or 0 bytes (1)"
    );
    assert_eq!(
        dec_err(&CqlType::Timeuuid, &[0; 16]),
        "Invalid version for TimeUUID type."
    );
    assert_eq!(
        dec_err(&CqlType::Inet, &[1; 5]),
        "Expected 4 or 16 byte inetaddress; got 5"
    );
    assert_eq!(
        dec_err(&CqlType::Decimal, &[1, 2]),
        "Expected 0 or at least 4 bytes (2)"
    );
    assert_eq!(
        dec_err(&CqlType::Ascii, &[b'a', 0xc3, 0xa9]),
        "Invalid byte for ascii: -61"
    );
    assert_eq!(dec_err(&CqlType::Text, &[0xff]), "String didn't validate.");
    assert_eq!(
        dec_err(&CqlType::Duration, &[2, 1, 0]),
        "The duration months, days and nanoseconds must be all of the same sign (1, -1, 0)"
    );
    // months = 2^32 does not fit an int
    let mut b = Vec::new();
    write_vint(1 << 32, &mut b);
    b.extend([0, 0]);
    assert_eq!(
        dec_err(&CqlType::Duration, &b),
        "The duration months must be a 32 bits integer but was: 4294967296"
    );
    assert_eq!(
        dec_err(&CqlType::Duration, &[0, 0, 0, 0]),
        "Unexpected extraneous bytes after duration value"
    );
    assert_eq!(
        dec_err(&CqlType::Duration, &[0, 0, 0xc0]),
        "Not enough bytes to read a duration"
    );
    // Boolean: any non-zero byte is true.
    assert_eq!(dec(&CqlType::Boolean, &[7]), CqlValue::Boolean(true));
}

#[test]
fn hostile_collections() {
    let l = t("list<int>");
    // Declared count far beyond the bytes: refused before allocating.
    assert_eq!(
        dec_err(&l, &[0x7f, 0xff, 0xff, 0xff]),
        "Not enough bytes to read a list"
    );
    assert_eq!(
        dec_err(&l, &[0xff, 0xff, 0xff, 0xff]),
        "Not enough bytes to read a list"
    );
    assert_eq!(
        dec_err(&t("map<int, int>"), &[0, 0, 0, 1, 0, 0, 0, 0]),
        "Not enough bytes to read a map"
    );
    // A null element.
    assert_eq!(
        dec_err(&l, &[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]),
        "null is not supported inside collections"
    );
    // Element length past the end.
    assert_eq!(
        dec_err(&l, &[0, 0, 0, 1, 0, 0, 0, 9, 1]),
        "Not enough bytes to read a list"
    );
    // Trailing bytes.
    assert_eq!(
        dec_err(&l, &[0, 0, 0, 0, 1]),
        "Unexpected extraneous bytes after list value"
    );
    // Wrong element size is the element's error.
    assert_eq!(
        dec_err(&l, &[0, 0, 0, 1, 0, 0, 0, 1, 1]),
        "Expected 4 or 0 byte int (1)"
    );
    // Empty elements are allowed for types that allow them.
    assert_eq!(
        dec(&l, &[0, 0, 0, 1, 0, 0, 0, 0]),
        CqlValue::List(vec![CqlValue::Empty])
    );
    // Tuples: trailing data, short values, nulls.
    let tup = t("tuple<int, int>");
    assert_eq!(
        dec_err(&tup, &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        "Invalid remaining data after end of tuple value"
    );
    assert_eq!(
        dec(&tup, &[0, 0, 0, 4, 0, 0, 0, 7]),
        CqlValue::Tuple(vec![Some(CqlValue::Int(7)), None])
    );
    assert_eq!(
        dec(&tup, &[0xff, 0xff, 0xff, 0xfe]),
        CqlValue::Tuple(vec![None, None])
    );
    assert!(CqlValue::decode(&tup, &[0, 0, 0, 9]).is_err());
    assert!(CqlValue::decode(&tup, &[0, 0]).is_err());
}

#[test]
fn sets_and_maps_are_normalized() {
    let set = t("set<int>");
    let bytes =
        CqlValue::List(vec![CqlValue::Int(3), CqlValue::Int(-1), CqlValue::Int(3)]).to_bytes();
    assert_eq!(
        dec(&set, &bytes),
        CqlValue::Set(vec![CqlValue::Int(-1), CqlValue::Int(3)])
    );
    let map = t("map<text, int>");
    let text = |x: &str| CqlValue::Text(x.into());
    let bytes = CqlValue::Map(vec![
        (text("b"), CqlValue::Int(1)),
        (text("a"), CqlValue::Int(2)),
        (text("b"), CqlValue::Int(3)),
    ])
    .to_bytes();
    assert_eq!(
        dec(&map, &bytes),
        CqlValue::Map(vec![
            (text("a"), CqlValue::Int(2)),
            (text("b"), CqlValue::Int(3))
        ])
    );
    // Decimals equal in value are one set element.
    let dset = t("set<decimal>");
    let mut v = CqlValue::Set(vec![
        CqlValue::Decimal {
            unscaled: vec![10],
            scale: 1,
        },
        CqlValue::Decimal {
            unscaled: vec![1],
            scale: 0,
        },
        CqlValue::Decimal {
            unscaled: vec![0xff],
            scale: 0,
        },
    ]);
    v.normalize(&dset);
    assert_eq!(
        v,
        CqlValue::Set(vec![
            CqlValue::Decimal {
                unscaled: vec![0xff],
                scale: 0
            },
            CqlValue::Decimal {
                unscaled: vec![10],
                scale: 1
            },
        ])
    );
    // normalize leaves values that do not fit alone (no panic).
    let mut odd = CqlValue::Set(vec![CqlValue::Text("x".into()), CqlValue::Int(1)]);
    odd.normalize(&set);
    assert!(matches!(odd, CqlValue::Set(ref v) if v.len() == 2));
}

#[test]
fn udt_values() {
    let ty = udt_type();
    let v = dec(&ty, &[0, 0, 0, 1, b'x']);
    assert_eq!(
        v,
        CqlValue::Udt(vec![
            ("street".into(), Some(CqlValue::Text("x".into()))),
            ("Zip".into(), None)
        ])
    );
    assert_eq!(v.to_cql_literal(), "{street: 'x', \"Zip\": null}");
    assert_eq!(lit("int", CqlLiteral::Int("5".into())), CqlValue::Int(5));
    let from = CqlValue::from_literal(&ty, &CqlLiteral::Udt(vec![("Zip".into(), i("5"))]));
    assert_eq!(
        from,
        Ok(Some(CqlValue::Udt(vec![
            ("street".into(), None),
            ("Zip".into(), Some(CqlValue::Int(5)))
        ])))
    );
    assert_eq!(
        CqlValue::from_literal(&ty, &CqlLiteral::Udt(vec![("nope".into(), i("5"))])),
        Err(ValueError::Invalid(
            "Unknown field 'nope' in value of user defined type address".into()
        ))
    );
}

#[test]
fn vints() {
    let mut rng = Rng(5);
    let mut cases: Vec<i64> = vec![
        0,
        1,
        -1,
        63,
        64,
        -64,
        -65,
        i64::MAX,
        i64::MIN,
        1 << 55,
        -(1 << 55),
    ];
    cases.extend((0..2000).map(|_| (rng.next() as i64) >> rng.below(64)));
    for v in cases {
        let mut b = Vec::new();
        write_vint(v, &mut b);
        let mut r = Reader { buf: &b };
        assert_eq!(r.vint(), Some(v), "{v} {b:02x?}");
        assert!(r.is_empty());
        let zz = ((v << 1) ^ (v >> 63)) as u64;
        let want_len = if zz < 1 << 56 {
            (64 - zz.leading_zeros() as usize).max(1).div_ceil(7)
        } else {
            9
        };
        assert_eq!(b.len(), want_len, "{v}");
    }
    let mut r = Reader { buf: &[0xff, 1] };
    assert_eq!(r.vint(), None);
}

#[test]
fn big_numbers() {
    for n in [
        0i128,
        1,
        -1,
        255,
        -256,
        1 << 70,
        -(1 << 70),
        i128::MAX,
        i128::MIN,
    ] {
        let b = big::minimal_twos(&n.to_be_bytes());
        assert_eq!(big::integer_to_string(&b), n.to_string());
        assert_eq!(big::parse_integer(&n.to_string()), Some(b));
    }
    assert_eq!(big::parse_integer("+5"), Some(vec![5]));
    assert_eq!(big::parse_integer(""), None);
    assert_eq!(big::parse_integer("-"), None);
    assert_eq!(big::parse_integer("1a"), None);
    assert_eq!(big::parse_decimal("1e99999999999"), None);
    assert_eq!(big::parse_decimal("."), None);
    assert_eq!(big::parse_decimal("1."), Some((vec![1], 0)));
    assert_eq!(big::parse_decimal(".5"), Some((vec![5], 1)));
    let huge = "9".repeat(200);
    let b = big::parse_integer(&huge).unwrap_or_default();
    assert_eq!(big::integer_to_string(&b), huge);
}
