//! The order of serialized values: [`compare`], as Cassandra's
//! `AbstractType` subclasses order them (see the module notes of
//! [`crate::node::value`]).

use std::cmp::Ordering;

use crate::node::value::big;
use crate::node::value::model::{CqlValue, MAX_VALUE_DEPTH, Reader, fixed};
use crate::node::value::types::CqlType;

/// Compares two serialized values of type `ty` as Cassandra orders them
/// (see the module notes). Malformed bytes never panic: they fall back to
/// a bytewise order.
pub fn compare(ty: &CqlType, a: &[u8], b: &[u8]) -> Ordering {
    compare_at(ty, a, b, 0)
}

/// Empty values first, then `f` on two non-empty values.
fn empty_first(a: &[u8], b: &[u8], f: impl FnOnce() -> Ordering) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => f(),
    }
}

fn signed_be(b: &[u8]) -> Option<i64> {
    match b.len() {
        1 => Some(i64::from(b[0] as i8)),
        2 => Some(i64::from(i16::from_be_bytes([b[0], b[1]]))),
        4 => Some(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
        8 => fixed::<8>(b).map(i64::from_be_bytes),
        _ => None,
    }
}

/// Java's `Double.compare`: -0.0 < 0.0, NaN above everything and equal to
/// itself.
fn java_cmp_f64(x: f64, y: f64) -> Ordering {
    if x < y {
        Ordering::Less
    } else if x > y {
        Ordering::Greater
    } else {
        let bits = |v: f64| {
            if v.is_nan() {
                0x7ff8_0000_0000_0000i64
            } else {
                v.to_bits() as i64
            }
        };
        bits(x).cmp(&bits(y))
    }
}

fn java_cmp_f32(x: f32, y: f32) -> Ordering {
    if x < y {
        Ordering::Less
    } else if x > y {
        Ordering::Greater
    } else {
        let bits = |v: f32| {
            if v.is_nan() {
                0x7fc0_0000i32
            } else {
                v.to_bits() as i32
            }
        };
        bits(x).cmp(&bits(y))
    }
}

/// Time-UUID timestamp order: bytes 6-7 (version nibble and time_hi), 4-5
/// (time_mid), 0-3 (time_low), as one long.
fn reorder_timestamp(msb: u64) -> u64 {
    (msb << 48) | ((msb << 16) & 0xFFFF_0000_0000) | (msb >> 32)
}

fn uuid_halves(a: &[u8]) -> Option<(u64, u64)> {
    let u = fixed::<16>(a)?;
    let (hi, lo) = u.split_at(8);
    Some((
        u64::from_be_bytes(fixed::<8>(hi)?),
        u64::from_be_bytes(fixed::<8>(lo)?),
    ))
}

/// Cassandra's `UUIDType`: version, then timestamp (v1) or unsigned msb,
/// then unsigned lsb.
fn cmp_uuid(a: &[u8], b: &[u8]) -> Ordering {
    let (Some((ma, la)), Some((mb, lb))) = (uuid_halves(a), uuid_halves(b)) else {
        return (a.len() == 16).cmp(&(b.len() == 16)).then_with(|| a.cmp(b));
    };
    let (va, vb) = ((ma >> 12) & 0xf, (mb >> 12) & 0xf);
    va.cmp(&vb)
        .then_with(|| {
            if va == 1 {
                (reorder_timestamp(ma) as i64).cmp(&(reorder_timestamp(mb) as i64))
            } else {
                ma.cmp(&mb)
            }
        })
        .then_with(|| la.cmp(&lb))
}

/// Cassandra's `TimeUUIDType`: timestamp, then the low 8 bytes compared as
/// signed bytes.
fn cmp_timeuuid(a: &[u8], b: &[u8]) -> Ordering {
    let (Some((ma, la)), Some((mb, lb))) = (uuid_halves(a), uuid_halves(b)) else {
        return (a.len() == 16).cmp(&(b.len() == 16)).then_with(|| a.cmp(b));
    };
    let signed_bytes = |l: u64| (l ^ 0x0080_8080_8080_8080) as i64;
    (reorder_timestamp(ma) as i64)
        .cmp(&(reorder_timestamp(mb) as i64))
        .then_with(|| signed_bytes(la).cmp(&signed_bytes(lb)))
}

/// Splits a collection into its elements (null elements refused).
fn split_collection(bytes: &[u8], per_entry: usize) -> Option<Vec<&[u8]>> {
    let mut r = Reader { buf: bytes };
    let n = usize::try_from(r.i32()?).ok()?;
    if n > r.buf.len() / (4 * per_entry) {
        return None;
    }
    let mut out = Vec::with_capacity(n * per_entry);
    for _ in 0..n * per_entry {
        let len = usize::try_from(r.i32()?).ok()?;
        out.push(r.take(len)?);
    }
    r.is_empty().then_some(out)
}

/// Splits a tuple or UDT value into its components.
fn split_components(bytes: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    let mut r = Reader { buf: bytes };
    let mut out = Vec::new();
    while !r.is_empty() {
        let len = r.i32()?;
        out.push(if len < 0 {
            None
        } else {
            Some(r.take(len as usize)?)
        });
    }
    Some(out)
}

pub(super) fn compare_at(ty: &CqlType, a: &[u8], b: &[u8], depth: usize) -> Ordering {
    if depth > MAX_VALUE_DEPTH {
        return a.cmp(b);
    }
    match ty {
        CqlType::Frozen(inner) => compare_at(inner, a, b, depth + 1),
        CqlType::Ascii
        | CqlType::Text
        | CqlType::Blob
        | CqlType::Inet
        | CqlType::Date
        | CqlType::Time
        | CqlType::Duration
        | CqlType::Custom(_) => a.cmp(b),
        CqlType::Boolean => empty_first(a, b, || (a[0] != 0).cmp(&(b[0] != 0))),
        CqlType::Int
        | CqlType::Bigint
        | CqlType::Counter
        | CqlType::Timestamp
        | CqlType::Smallint
        | CqlType::Tinyint => empty_first(a, b, || match (signed_be(a), signed_be(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => a.cmp(b),
        }),
        CqlType::Float => empty_first(a, b, || match (fixed::<4>(a), fixed::<4>(b)) {
            (Some(x), Some(y)) => java_cmp_f32(f32::from_be_bytes(x), f32::from_be_bytes(y)),
            _ => a.cmp(b),
        }),
        CqlType::Double => empty_first(a, b, || match (fixed::<8>(a), fixed::<8>(b)) {
            (Some(x), Some(y)) => java_cmp_f64(f64::from_be_bytes(x), f64::from_be_bytes(y)),
            _ => a.cmp(b),
        }),
        CqlType::Varint => empty_first(a, b, || big::cmp_twos(a, b)),
        CqlType::Decimal => empty_first(a, b, || {
            if a.len() < 4 || b.len() < 4 {
                return a.cmp(b);
            }
            let (sa, ua) = a.split_at(4);
            let (sb, ub) = b.split_at(4);
            let scale = |s: &[u8]| fixed::<4>(s).map(i32::from_be_bytes).unwrap_or(0);
            big::cmp_decimal(ua, scale(sa), ub, scale(sb))
        }),
        CqlType::Uuid => cmp_uuid(a, b),
        CqlType::Timeuuid => cmp_timeuuid(a, b),
        CqlType::List(e) | CqlType::Set(e) => compare_collections(&[e.as_ref()], a, b, depth),
        CqlType::Map(k, v) => compare_collections(&[k.as_ref(), v.as_ref()], a, b, depth),
        CqlType::Tuple(types) => {
            let types: Vec<&CqlType> = types.iter().collect();
            compare_components(&types, a, b, depth)
        }
        CqlType::Udt { fields, .. } => {
            let types: Vec<&CqlType> = fields.iter().map(|(_, t)| t).collect();
            compare_components(&types, a, b, depth)
        }
    }
}

fn compare_collections(types: &[&CqlType], a: &[u8], b: &[u8], depth: usize) -> Ordering {
    empty_first(a, b, || {
        let (Some(xa), Some(xb)) = (
            split_collection(a, types.len()),
            split_collection(b, types.len()),
        ) else {
            return a.cmp(b);
        };
        for (i, (ea, eb)) in xa.iter().zip(xb.iter()).enumerate() {
            let t = types[i % types.len()];
            let c = compare_at(t, ea, eb, depth + 1);
            if c != Ordering::Equal {
                return c;
            }
        }
        xa.len().cmp(&xb.len())
    })
}

fn compare_components(types: &[&CqlType], a: &[u8], b: &[u8], depth: usize) -> Ordering {
    empty_first(a, b, || {
        let (Some(xa), Some(xb)) = (split_components(a), split_components(b)) else {
            return a.cmp(b);
        };
        for (i, (ca, cb)) in xa.iter().zip(xb.iter()).enumerate() {
            let c = match (ca, cb) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => match types.get(i) {
                    Some(t) => compare_at(t, x, y, depth + 1),
                    None => x.cmp(y),
                },
            };
            if c != Ordering::Equal {
                return c;
            }
        }
        // Trailing null components are the same as missing ones.
        let rest_a = xa.iter().skip(xb.len()).any(Option::is_some);
        let rest_b = xb.iter().skip(xa.len()).any(Option::is_some);
        rest_a.cmp(&rest_b)
    })
}

impl CqlValue {
    /// Compares two values of type `ty` in Cassandra's order.
    pub fn compare_values(ty: &CqlType, a: &CqlValue, b: &CqlValue) -> Ordering {
        compare(ty, &a.to_bytes(), &b.to_bytes())
    }
}
