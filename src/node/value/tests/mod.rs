//! The tests of [`crate::node::value`], by section; the helpers and the
//! samples they share are here.

mod encoding;
mod hostile;
mod literals;
mod orders;
mod text_forms;

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::calendar::{NANOS_PER_DAY, civil_from_days, days_from_civil, is_all_digits};
use super::codec::write_vint;
use super::model::Reader;
use super::text::format_g;
use super::types::CqlType;
use super::*;

fn t(s: &str) -> CqlType {
    CqlType::parse(s).unwrap_or_else(|e| panic!("type {s}: {e}"))
}

fn dec(ty: &CqlType, b: &[u8]) -> CqlValue {
    CqlValue::decode(ty, b).unwrap_or_else(|e| panic!("decode {ty} {b:02x?}: {e}"))
}

fn dec_err(ty: &CqlType, b: &[u8]) -> String {
    match CqlValue::decode(ty, b) {
        Ok(v) => panic!("decode {ty} {b:02x?} should fail, gave {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn lit(ty: &str, l: CqlLiteral) -> CqlValue {
    match CqlValue::from_literal(&t(ty), &l) {
        Ok(Some(v)) => v,
        other => panic!("literal {l:?} for {ty}: {other:?}"),
    }
}

fn lit_err(ty: &str, l: CqlLiteral) -> ValueError {
    match CqlValue::from_literal(&t(ty), &l) {
        Err(e) => e,
        other => panic!("literal {l:?} for {ty} should fail: {other:?}"),
    }
}

fn s(x: &str) -> CqlLiteral {
    CqlLiteral::Str(x.into())
}
fn i(x: &str) -> CqlLiteral {
    CqlLiteral::Int(x.into())
}
fn f(x: &str) -> CqlLiteral {
    CqlLiteral::Float(x.into())
}

fn varint(n: i128) -> CqlValue {
    CqlValue::Varint(big::minimal_twos(&n.to_be_bytes()))
}

fn uuid(x: &str) -> [u8; 16] {
    parse_uuid(x).unwrap_or_else(|| panic!("uuid {x}"))
}

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
        self.next() % n.max(1)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// (type, value) samples covering every type and its boundaries.
fn samples() -> Vec<(CqlType, CqlValue)> {
    let v1 = uuid("e4d8a2c0-8f3e-11ee-b9d1-0242ac120002");
    let v4 = uuid("550e8400-e29b-41d4-a716-446655440000");
    let mut out = vec![
        (CqlType::Ascii, CqlValue::Ascii(String::new())),
        (CqlType::Ascii, CqlValue::Ascii("hello 'x' \u{7f}".into())),
        (CqlType::Text, CqlValue::Text("héllo ✓ 'quoted'".into())),
        (CqlType::Text, CqlValue::Text(String::new())),
        (CqlType::Blob, CqlValue::Blob(vec![])),
        (CqlType::Blob, CqlValue::Blob(vec![0, 0xff, 0x80])),
        (CqlType::Boolean, CqlValue::Boolean(true)),
        (CqlType::Boolean, CqlValue::Boolean(false)),
        (CqlType::Date, CqlValue::Date(0)),
        (CqlType::Date, CqlValue::Date(DATE_EPOCH)),
        (CqlType::Date, CqlValue::Date(u32::MAX)),
        (CqlType::Date, CqlValue::Date(DATE_EPOCH + 19_724)),
        (CqlType::Time, CqlValue::Time(0)),
        (CqlType::Time, CqlValue::Time(NANOS_PER_DAY - 1)),
        (CqlType::Time, CqlValue::Time(48_654_234_000_000)),
        (CqlType::Timestamp, CqlValue::Timestamp(0)),
        (CqlType::Timestamp, CqlValue::Timestamp(1_704_164_645_123)),
        (CqlType::Timestamp, CqlValue::Timestamp(-1)),
        (CqlType::Timestamp, CqlValue::Timestamp(i64::MAX)),
        (CqlType::Timestamp, CqlValue::Timestamp(i64::MIN)),
        (CqlType::Uuid, CqlValue::Uuid(v4)),
        (CqlType::Uuid, CqlValue::Uuid(v1)),
        (CqlType::Timeuuid, CqlValue::Timeuuid(v1)),
        (
            CqlType::Inet,
            CqlValue::Inet(
                "127.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            ),
        ),
        (
            CqlType::Inet,
            CqlValue::Inet(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ),
        (
            CqlType::Inet,
            CqlValue::Inet(IpAddr::V6(
                "2001:db8::ff00:42:8329"
                    .parse()
                    .unwrap_or(Ipv6Addr::LOCALHOST),
            )),
        ),
        (CqlType::Double, CqlValue::Double(0.1)),
        (CqlType::Double, CqlValue::Double(-0.0)),
        (CqlType::Double, CqlValue::Double(f64::MAX)),
        (CqlType::Double, CqlValue::Double(f64::MIN_POSITIVE)),
        (CqlType::Double, CqlValue::Double(5e-324)),
        (CqlType::Double, CqlValue::Double(f64::INFINITY)),
        (CqlType::Double, CqlValue::Double(f64::NEG_INFINITY)),
        (CqlType::Double, CqlValue::Double(f64::NAN)),
        (CqlType::Double, CqlValue::Double(1e20)),
        (CqlType::Float, CqlValue::Float(1.1)),
        (CqlType::Float, CqlValue::Float(f32::MAX)),
        (CqlType::Float, CqlValue::Float(1e-45)),
        (CqlType::Float, CqlValue::Float(f32::NAN)),
        (CqlType::Float, CqlValue::Float(f32::NEG_INFINITY)),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0],
                scale: 0,
            },
        ),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0x30, 0x39],
                scale: 2,
            },
        ),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0xff],
                scale: -3,
            },
        ),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0x01],
                scale: 7,
            },
        ),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                scale: i32::MIN,
            },
        ),
        (
            CqlType::Decimal,
            CqlValue::Decimal {
                unscaled: vec![0x80],
                scale: i32::MAX,
            },
        ),
    ];
    for n in [
        0i128,
        1,
        -1,
        127,
        128,
        -128,
        -129,
        255,
        256,
        i64::MAX as i128,
        i64::MIN as i128,
        i128::MAX,
        i128::MIN,
    ] {
        out.push((CqlType::Varint, varint(n)));
    }
    for v in [i32::MIN, -1, 0, 1, i32::MAX] {
        out.push((CqlType::Int, CqlValue::Int(v)));
    }
    for v in [i64::MIN, -1, 0, i64::MAX] {
        out.push((CqlType::Bigint, CqlValue::Bigint(v)));
        out.push((CqlType::Counter, CqlValue::Counter(v)));
    }
    for v in [i16::MIN, 0, i16::MAX] {
        out.push((CqlType::Smallint, CqlValue::Smallint(v)));
    }
    for v in [i8::MIN, 0, i8::MAX] {
        out.push((CqlType::Tinyint, CqlValue::Tinyint(v)));
    }
    for (m, d, n) in [
        (0, 0, 0),
        (14, 3, 5_400_000_000_123),
        (-1, -2, -3),
        (i32::MAX, i32::MAX, i64::MAX),
        (i32::MIN, i32::MIN, i64::MIN),
        (0, 0, 1),
        (0, 0, 1 << 56),
    ] {
        out.push((
            CqlType::Duration,
            CqlValue::Duration {
                months: m,
                days: d,
                nanos: n,
            },
        ));
    }
    let text = |x: &str| CqlValue::Text(x.into());
    out.extend([
        (t("list<int>"), CqlValue::List(vec![])),
        (
            t("list<int>"),
            CqlValue::List(vec![CqlValue::Int(3), CqlValue::Int(1), CqlValue::Int(3)]),
        ),
        (
            t("set<text>"),
            CqlValue::Set(vec![text("a"), text("b"), text("ba")]),
        ),
        (
            t("set<int>"),
            CqlValue::Set(vec![CqlValue::Int(-5), CqlValue::Int(2)]),
        ),
        (
            t("map<text, frozen<list<int>>>"),
            CqlValue::Map(vec![
                (text("a"), CqlValue::List(vec![CqlValue::Int(1)])),
                (text("b"), CqlValue::List(vec![])),
            ]),
        ),
        (
            t("tuple<int, text, blob>"),
            CqlValue::Tuple(vec![
                Some(CqlValue::Int(1)),
                None,
                Some(CqlValue::Blob(vec![1])),
            ]),
        ),
        (
            t("frozen<list<frozen<map<varint, decimal>>>>"),
            CqlValue::List(vec![CqlValue::Map(vec![(
                varint(-1),
                CqlValue::Decimal {
                    unscaled: vec![5],
                    scale: 1,
                },
            )])]),
        ),
        (
            t("list<frozen<set<int>>>"),
            CqlValue::List(vec![
                CqlValue::Set(vec![]),
                CqlValue::Set(vec![CqlValue::Int(1)]),
            ]),
        ),
        (
            t("set<timeuuid>"),
            CqlValue::Set(vec![CqlValue::Timeuuid(v1)]),
        ),
        (
            t("map<int, duration>"),
            CqlValue::Map(vec![(
                CqlValue::Int(1),
                CqlValue::Duration {
                    months: 1,
                    days: 0,
                    nanos: 0,
                },
            )]),
        ),
        (
            udt_type(),
            CqlValue::Udt(vec![
                ("street".into(), Some(text("Main"))),
                ("Zip".into(), None),
            ]),
        ),
    ]);
    out
}

fn udt_type() -> CqlType {
    CqlType::Udt {
        keyspace: "ks".into(),
        name: "address".into(),
        fields: vec![
            ("street".into(), CqlType::Text),
            ("Zip".into(), CqlType::Int),
        ],
    }
}
