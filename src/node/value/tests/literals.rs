//! Literals: each type's constants, the calendar maths, durations and
//! collection literals.

use super::*;

#[test]
fn calendar() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-(1i64 << 31)), (-5_877_641, 6, 23));
    assert_eq!(civil_from_days((1i64 << 31) - 1), (5_881_580, 7, 11));
    assert_eq!(days_from_civil(2024, 1, 2), 19_724);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    for d in [-800_000i64, -1, 0, 59, 60, 365, 11_016, 19_724, 2_932_896] {
        let (y, m, dd) = civil_from_days(d);
        assert_eq!(days_from_civil(y, m, dd), d);
    }
}

#[test]
fn integer_literals() {
    assert_eq!(lit("int", i("-2147483648")), CqlValue::Int(i32::MIN));
    assert_eq!(
        lit("bigint", i("9223372036854775807")),
        CqlValue::Bigint(i64::MAX)
    );
    assert_eq!(lit("smallint", i("-32768")), CqlValue::Smallint(i16::MIN));
    assert_eq!(lit("tinyint", i("127")), CqlValue::Tinyint(127));
    assert_eq!(lit("counter", i("5")), CqlValue::Counter(5));
    assert_eq!(
        lit_err("int", i("99999999999")).to_string(),
        "Unable to make int from '99999999999'"
    );
    assert_eq!(
        lit_err("bigint", i("9223372036854775808")).to_string(),
        "Unable to make long from '9223372036854775808'"
    );
    assert_eq!(
        lit_err("smallint", i("32768")).to_string(),
        "Unable to make short from '32768'"
    );
    assert_eq!(
        lit_err("tinyint", i("128")).to_string(),
        "Unable to make byte from '128'"
    );
    assert_eq!(
        lit("varint", i("-123456789012345678901234567890")).to_cql_literal(),
        "-123456789012345678901234567890"
    );
    assert_eq!(lit("varint", i("128")), varint(128));
    assert_eq!(lit("varint", i("-0")), varint(0));
    assert_eq!(lit("double", i("3")), CqlValue::Double(3.0));
    assert_eq!(lit("float", i("16777217")), CqlValue::Float(16_777_216.0));
    assert_eq!(
        lit("decimal", i("-12")),
        CqlValue::Decimal {
            unscaled: vec![0xf4],
            scale: 0
        }
    );
    assert_eq!(lit("timestamp", i("1000")), CqlValue::Timestamp(1000));
    assert_eq!(lit("timestamp", i("-5")), CqlValue::Timestamp(-5));
    assert_eq!(lit("date", i("2147483648")), CqlValue::Date(DATE_EPOCH));
    assert_eq!(lit("time", i("1")), CqlValue::Time(1));
    assert_eq!(
        lit_err("time", i("86400000000000")).to_string(),
        "Unable to make long (for time) from: '86400000000000'"
    );
    assert_eq!(
        lit_err("date", i("4294967296")).to_string(),
        "Unable to make unsigned int (for date) from: '4294967296'"
    );
}

#[test]
fn float_and_decimal_literals() {
    assert_eq!(lit("double", f("1.5")), CqlValue::Double(1.5));
    assert_eq!(lit("double", f("-2e10")), CqlValue::Double(-2e10));
    assert!(matches!(lit("double", f("NaN")), CqlValue::Double(x) if x.is_nan()));
    assert_eq!(
        lit("double", f("Infinity")),
        CqlValue::Double(f64::INFINITY)
    );
    assert_eq!(
        lit("float", f("-Infinity")),
        CqlValue::Float(f32::NEG_INFINITY)
    );
    assert_eq!(lit("float", f("1e50")), CqlValue::Float(f32::INFINITY));
    assert_eq!(lit("float", f("0.1")), CqlValue::Float(0.1));
    assert_eq!(
        lit_err("float", f("inf")).to_string(),
        "Unable to make float from 'inf'"
    );
    assert_eq!(
        lit_err("double", f("1.2.3")).to_string(),
        "Unable to make double from '1.2.3'"
    );
    assert_eq!(
        lit("decimal", f("123.45")),
        CqlValue::Decimal {
            unscaled: vec![0x30, 0x39],
            scale: 2
        }
    );
    assert_eq!(
        lit("decimal", f("1.50")),
        CqlValue::Decimal {
            unscaled: vec![0, 150],
            scale: 2
        }
    );
    assert_eq!(
        lit("decimal", f("1E+3")),
        CqlValue::Decimal {
            unscaled: vec![1],
            scale: -3
        }
    );
    assert_eq!(
        lit("decimal", f("-1.5e-3")),
        CqlValue::Decimal {
            unscaled: vec![0xf1],
            scale: 4
        }
    );
    assert_eq!(
        lit_err("decimal", f("NaN")).to_string(),
        "Unable to make BigDecimal from 'NaN'"
    );
    assert_eq!(
        lit_err("int", f("1.5")).for_column("k"),
        "Invalid FLOAT constant (1.5) for \"k\" of type int"
    );
    for (text, shown) in [
        ("0", "0"),
        ("1.50", "1.50"),
        ("1E+3", "1E+3"),
        ("123.456e2", "12345.6"),
        ("0.000001", "0.000001"),
        ("0.0000001", "1E-7"),
        ("-12.3E-10", "-1.23E-9"),
        ("1234.5E-4", "0.12345"),
        ("0E+2", "0E+2"),
        ("-0.00", "0.00"),
    ] {
        assert_eq!(lit("decimal", f(text)).to_cql_literal(), shown, "{text}");
    }
}

#[test]
fn string_and_other_literals() {
    assert_eq!(lit("text", s("it's")), CqlValue::Text("it's".into()));
    assert_eq!(lit("ascii", s("abc")), CqlValue::Ascii("abc".into()));
    assert_eq!(
        lit_err("ascii", s("é")).to_string(),
        "Invalid ASCII character in string literal"
    );
    assert_eq!(
        lit("boolean", CqlLiteral::Bool(true)),
        CqlValue::Boolean(true)
    );
    assert_eq!(
        lit("blob", CqlLiteral::Hex("0xCAFE".into())),
        CqlValue::Blob(vec![0xca, 0xfe])
    );
    assert_eq!(
        lit("blob", CqlLiteral::Hex("0x".into())),
        CqlValue::Blob(vec![])
    );
    assert_eq!(
        lit("blob", CqlLiteral::Hex("0xabc".into())),
        CqlValue::Blob(vec![0x0a, 0xbc])
    );
    assert_eq!(
        lit_err("blob", CqlLiteral::Hex("0xzz".into())).to_string(),
        "cannot parse 'zz' as hex bytes"
    );
    assert_eq!(
        lit_err("blob", s("abc")).for_column("b"),
        "Invalid STRING constant (abc) for \"b\" of type blob"
    );
    assert_eq!(
        lit_err("int", s("1")).for_column("k"),
        "Invalid STRING constant (1) for \"k\" of type int"
    );
    assert_eq!(
        lit_err("uuid", s("550e8400-e29b-41d4-a716-446655440000")).to_string(),
        "Invalid STRING constant (550e8400-e29b-41d4-a716-446655440000) for type uuid"
    );
    let v4 = "550e8400-e29b-41d4-a716-446655440000";
    let v1 = "E4D8A2C0-8F3E-11EE-B9D1-0242AC120002";
    assert_eq!(
        lit("uuid", CqlLiteral::Uuid(v4.into())),
        CqlValue::Uuid(uuid(v4))
    );
    assert_eq!(
        lit("timeuuid", CqlLiteral::Uuid(v1.into())),
        CqlValue::Timeuuid(uuid(v1))
    );
    assert_eq!(
        lit_err("timeuuid", CqlLiteral::Uuid(v4.into())).to_string(),
        "TimeUUID supports only version 1 UUIDs"
    );
    assert_eq!(format_uuid(&uuid(v1)), v1.to_lowercase());
    assert!(parse_uuid("550e8400e29b-41d4-a716-446655440000-").is_none());
    assert!(parse_uuid("550e8400-e29b-41d4-a716-44665544000g").is_none());
    assert_eq!(
        lit("inet", s("10.0.0.1")),
        CqlValue::Inet(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
    );
    assert_eq!(
        lit("inet", s("::1")),
        CqlValue::Inet(IpAddr::V6(Ipv6Addr::LOCALHOST))
    );
    assert_eq!(lit("inet", s("")), CqlValue::Empty);
    assert_eq!(
        lit_err("inet", s("example.com")).to_string(),
        "Unable to make inet address from 'example.com'"
    );
    assert_eq!(
        CqlValue::from_literal(&CqlType::Int, &CqlLiteral::Null),
        Ok(None)
    );
    assert_eq!(
        lit_err("boolean", i("1")).to_string(),
        "Invalid INTEGER constant (1) for type boolean"
    );
    assert_eq!(
        lit_err("text", CqlLiteral::Bool(false)).to_string(),
        "Invalid BOOLEAN constant (false) for type text"
    );
    assert_eq!(
        lit("'org.example.Custom'", CqlLiteral::Hex("0x01".into())),
        CqlValue::Blob(vec![1])
    );
}

#[test]
fn timestamp_literals() {
    let base = 1_704_164_645_000; // 2024-01-02 03:04:05 UTC
    for (text, want) in [
        ("2024-01-02 03:04:05+0000", base),
        ("2024-01-02 03:04:05", base),
        ("2024-01-02T03:04:05Z", base),
        ("2024-01-02T03:04:05.123Z", base + 123),
        ("2024-01-02 03:04:05.123+0000", base + 123),
        ("2024-01-02 03:04:05.5", base + 5),
        ("2024-01-02 03:04:05 UTC", base),
        ("2024-01-02 03:04:05 +00:00", base),
        ("2024-01-02 05:04:05+0200", base),
        ("2024-01-02 01:04:05-02:00", base),
        ("2024-01-02T03:04Z", base - 5000),
        ("2024-01-02 03:04", base - 5000),
        ("2024-01-02", base - 11_045_000),
        ("2024-01-02Z", base - 11_045_000),
        ("2024-01-02 +0100", base - 11_045_000 - 3_600_000),
        ("1970-01-01 00:00:00.000Z", 0),
        ("1969-12-31 23:59:59.999Z", -1),
        ("2024-1-2 3:4:5", base),
    ] {
        assert_eq!(
            lit("timestamp", s(text)),
            CqlValue::Timestamp(want),
            "{text}"
        );
    }
    for bad in [
        "2024-13-01",
        "2024-02-30",
        "2023-02-29 00:00",
        "2024-01-02 24:00",
        "2024-01-02 03:60",
        "2024-01-02 03:04:05.1234",
        "2024-01-02T",
        "2024/01/02",
        "yesterday",
        "2024-01-02 03:04:05+2400",
        "2024-01-02 03:04:05 junk",
    ] {
        assert_eq!(
            lit_err("timestamp", s(bad)).to_string(),
            format!("Unable to coerce '{bad}' to a formatted date (long)"),
            "{bad}"
        );
    }
    assert_eq!(
        lit("timestamp", s("2024-02-29 00:00")),
        CqlValue::Timestamp(1_709_164_800_000)
    );
    assert_eq!(lit("timestamp", s("1234")), CqlValue::Timestamp(1234));
    assert_eq!(lit("timestamp", s("")), CqlValue::Empty);
    assert!(matches!(lit("timestamp", s("now")), CqlValue::Timestamp(ms) if ms > base));
    assert_eq!(
        lit_err("timestamp", s("99999999999999999999")).to_string(),
        "Unable to make long (for date) from: '99999999999999999999'"
    );
}

#[test]
fn date_and_time_literals() {
    assert_eq!(
        lit("date", s("2024-01-02")),
        CqlValue::Date(DATE_EPOCH + 19_724)
    );
    assert_eq!(lit("date", s("1970-01-01")), CqlValue::Date(DATE_EPOCH));
    assert_eq!(lit("date", s("1969-12-31")), CqlValue::Date(DATE_EPOCH - 1));
    assert_eq!(lit("date", s("-5877641-06-23")), CqlValue::Date(0));
    assert_eq!(lit("date", s("+5881580-07-11")), CqlValue::Date(u32::MAX));
    assert_eq!(lit("date", s("0")), CqlValue::Date(0));
    for bad in [
        "2024-1-02",
        "24-01-02",
        "2024-02-30",
        "+2024-01-01",
        "-5877641-06-22",
        "2024-01-02 ",
    ] {
        assert_eq!(
            lit_err("date", s(bad)).to_string(),
            format!("Unable to coerce '{bad}' to a formatted date (long)"),
            "{bad}"
        );
    }
    assert_eq!(
        lit("time", s("13:30:54.234")),
        CqlValue::Time(48_654_234_000_000)
    );
    assert_eq!(
        lit("time", s("13:30:54")),
        CqlValue::Time(48_654_000_000_000)
    );
    assert_eq!(lit("time", s(" 00:00:00.000000001 ")), CqlValue::Time(1));
    assert_eq!(
        lit("time", s("23:59:59.999999999")),
        CqlValue::Time(NANOS_PER_DAY - 1)
    );
    for bad in [
        "24:00:00",
        "12:60:00",
        "12:00:60",
        "12:00",
        "12:00:00.",
        "12:00:00.1234567890",
        "a:b:c",
        "12:00:00.x",
    ] {
        assert_eq!(
            lit_err("time", s(bad)).to_string(),
            format!("(TimeType) Unable to coerce '{bad}' to a formatted time (long)"),
            "{bad}"
        );
    }
}

#[test]
fn duration_literals() {
    let d = |m: i32, dd: i32, n: i64| CqlValue::Duration {
        months: m,
        days: dd,
        nanos: n,
    };
    let dl = |x: &str| lit("duration", CqlLiteral::Duration(x.into()));
    assert_eq!(dl("1h30m"), d(0, 0, 5_400_000_000_000));
    assert_eq!(
        dl("1y2mo3w4d5h6m7s8ms9us10ns"),
        d(14, 25, 18_367_008_009_010)
    );
    assert_eq!(dl("1Y2MO"), d(14, 0, 0));
    assert_eq!(dl("3µs"), d(0, 0, 3000));
    assert_eq!(dl("-2d"), d(0, -2, 0));
    assert_eq!(dl("P1Y2M3DT4H5M6S"), d(14, 3, 14_706_000_000_000));
    assert_eq!(dl("P2W"), d(0, 14, 0));
    assert_eq!(dl("-P0001-02-03T04:05:06"), d(-14, -3, -14_706_000_000_000));
    assert_eq!(dl("PT1M"), d(0, 0, 60_000_000_000));
    assert_eq!(dl("P"), d(0, 0, 0));
    let de = |x: &str| lit_err("duration", CqlLiteral::Duration(x.into())).to_string();
    assert_eq!(
        de("1h2d"),
        "Invalid duration. The hours should be after days"
    );
    assert_eq!(
        de("1h2h"),
        "Invalid duration. The hours are specified multiple times"
    );
    assert_eq!(de("1x"), "Unable to convert '1x' to a duration");
    assert_eq!(de("-P1Y2W"), "Unable to convert 'P1Y2W' to a duration");
    assert_eq!(de("P1H"), "Unable to convert 'P1H' to a duration");
    assert_eq!(
        de("2147483648mo"),
        "Invalid duration. The total number of months must be less or equal to 2147483647"
    );
    assert_eq!(
        de("3000000h"),
        "Invalid duration. The total number of nanoseconds must be less or equal to 2147483647"
    );
    assert_eq!(
        lit_err("duration", i("5")).to_string(),
        "Unable to convert '5' to a duration"
    );
    assert_eq!(
        lit_err("int", CqlLiteral::Duration("1h".into())).to_string(),
        "Invalid DURATION constant (1h) for type int"
    );
    // Cassandra's toString form.
    assert_eq!(
        d(14, 25, 18_367_008_009_010).to_cqlsh(),
        "1y2mo25d5h6m7s8ms9us10ns"
    );
    assert_eq!(d(0, -3, -1).to_cql_literal(), "-3d1ns");
    assert_eq!(d(0, 0, 0).to_cql_literal(), "0s");
}

#[test]
fn collection_literals() {
    let int = |x: &str| i(x);
    assert_eq!(
        lit(
            "list<int>",
            CqlLiteral::List(vec![int("3"), int("1"), int("3")])
        ),
        CqlValue::List(vec![CqlValue::Int(3), CqlValue::Int(1), CqlValue::Int(3)])
    );
    assert_eq!(
        lit(
            "set<int>",
            CqlLiteral::Set(vec![int("3"), int("1"), int("3")])
        ),
        CqlValue::Set(vec![CqlValue::Int(1), CqlValue::Int(3)])
    );
    assert_eq!(
        lit("set<int>", CqlLiteral::Map(vec![])),
        CqlValue::Set(vec![])
    );
    assert_eq!(
        lit("map<int, int>", CqlLiteral::Set(vec![])),
        CqlValue::Map(vec![])
    );
    assert_eq!(
        lit(
            "map<text, int>",
            CqlLiteral::Map(vec![
                (s("b"), int("1")),
                (s("a"), int("2")),
                (s("b"), int("3"))
            ])
        ),
        CqlValue::Map(vec![
            (CqlValue::Text("a".into()), CqlValue::Int(2)),
            (CqlValue::Text("b".into()), CqlValue::Int(3)),
        ])
    );
    assert_eq!(
        lit(
            "frozen<tuple<int, text>>",
            CqlLiteral::Tuple(vec![int("1")])
        ),
        CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None])
    );
    assert_eq!(
        lit(
            "tuple<int, text>",
            CqlLiteral::Tuple(vec![CqlLiteral::Null, s("x")])
        ),
        CqlValue::Tuple(vec![None, Some(CqlValue::Text("x".into()))])
    );
    assert_eq!(
        lit_err("tuple<int>", CqlLiteral::Tuple(vec![int("1"), int("2")])).to_string(),
        "Invalid tuple literal: too many elements. Type frozen<tuple<int>> expects 1 but got 2"
    );
    assert_eq!(
        lit_err("list<int>", CqlLiteral::List(vec![CqlLiteral::Null])).to_string(),
        "null is not supported inside collections"
    );
    assert_eq!(
        lit_err("int", CqlLiteral::List(vec![])).for_column("c"),
        "Invalid list literal for c of type int"
    );
    assert_eq!(
        lit_err("list<int>", CqlLiteral::Set(vec![int("1")])).for_column("c"),
        "Invalid set literal for c of type list<int>"
    );
    assert_eq!(
        lit_err("int", CqlLiteral::Tuple(vec![])).for_column("c"),
        "Invalid tuple type literal for c of type int"
    );
    assert_eq!(
        lit_err("list<int>", s("x")).for_column("c"),
        "Invalid STRING constant (x) for \"c\" of type list<int>"
    );
    assert_eq!(
        lit_err("list<int>", CqlLiteral::List(vec![s("x")])).to_string(),
        "Invalid STRING constant (x) for type int"
    );
    // Nested sets inside a frozen map key come out sorted.
    let v = lit(
        "map<frozen<set<int>>, int>",
        CqlLiteral::Map(vec![
            (CqlLiteral::Set(vec![int("2"), int("1")]), int("0")),
            (CqlLiteral::Set(vec![int("1")]), int("1")),
        ]),
    );
    assert_eq!(v.to_cql_literal(), "{{1}: 1, {1, 2}: 0}");
}
