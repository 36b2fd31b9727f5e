//! Native-protocol bytes: [`CqlValue::encode`] and [`CqlValue::decode`]
//! (every length read from the wire checked before use), and the normal
//! form both keep ([`CqlValue::normalize`], [`CqlValue::fits`]).

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::node::value::big;
use crate::node::value::model::{CqlValue, MAX_VALUE_DEPTH, Reader, ValueError, fixed};
use crate::node::value::order::compare_at;
use crate::node::value::types::CqlType;

impl CqlValue {
    /// Appends the value's native-protocol bytes (without length prefix).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            CqlValue::Empty => {}
            CqlValue::Ascii(s) | CqlValue::Text(s) => out.extend_from_slice(s.as_bytes()),
            CqlValue::Bigint(v) | CqlValue::Counter(v) | CqlValue::Timestamp(v) => {
                out.extend_from_slice(&v.to_be_bytes())
            }
            CqlValue::Time(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Blob(b) => out.extend_from_slice(b),
            CqlValue::Boolean(b) => out.push(u8::from(*b)),
            CqlValue::Date(d) => out.extend_from_slice(&d.to_be_bytes()),
            CqlValue::Decimal { unscaled, scale } => {
                out.extend_from_slice(&scale.to_be_bytes());
                out.extend_from_slice(&big::minimal_twos(unscaled));
            }
            CqlValue::Double(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Float(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Duration {
                months,
                days,
                nanos,
            } => {
                write_vint(i64::from(*months), out);
                write_vint(i64::from(*days), out);
                write_vint(*nanos, out);
            }
            CqlValue::Inet(IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
            CqlValue::Inet(IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
            CqlValue::Int(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Smallint(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Tinyint(v) => out.extend_from_slice(&v.to_be_bytes()),
            CqlValue::Timeuuid(u) | CqlValue::Uuid(u) => out.extend_from_slice(u),
            CqlValue::Varint(b) => out.extend_from_slice(&big::minimal_twos(b)),
            CqlValue::List(items) | CqlValue::Set(items) => {
                write_count(items.len(), out);
                for item in items {
                    write_element(Some(item), out);
                }
            }
            CqlValue::Map(entries) => {
                write_count(entries.len(), out);
                for (k, v) in entries {
                    write_element(Some(k), out);
                    write_element(Some(v), out);
                }
            }
            CqlValue::Tuple(items) => {
                for item in items {
                    write_element(item.as_ref(), out);
                }
            }
            CqlValue::Udt(fields) => {
                for (_, item) in fields {
                    write_element(item.as_ref(), out);
                }
            }
        }
    }

    /// The value's native-protocol bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }

    /// Decodes a value of type `ty` from its native-protocol bytes (the
    /// content of a non-null `[bytes]`). Sets and maps come back sorted and
    /// deduplicated (see the module notes).
    pub fn decode(ty: &CqlType, bytes: &[u8]) -> Result<CqlValue, ValueError> {
        decode_at(ty, bytes, 0)
    }

    /// Brings a value built by hand to the stored form: sets sorted and
    /// unique, maps sorted by key with unique keys (last wins), varints
    /// minimal. Decoded and literal-made values are already normal.
    pub fn normalize(&mut self, ty: &CqlType) {
        self.normalize_at(ty, 0);
    }

    pub(super) fn normalize_at(&mut self, ty: &CqlType, depth: usize) {
        if depth > MAX_VALUE_DEPTH {
            return;
        }
        let ty = ty.unfrozen();
        match (ty, self) {
            (_, CqlValue::Varint(b)) => *b = big::minimal_twos(b),
            (_, CqlValue::Decimal { unscaled, .. }) => *unscaled = big::minimal_twos(unscaled),
            (CqlType::List(e), CqlValue::List(items)) => {
                for item in items {
                    item.normalize_at(e, depth + 1);
                }
            }
            (CqlType::Set(e), CqlValue::Set(items)) => {
                for item in items.iter_mut() {
                    item.normalize_at(e, depth + 1);
                }
                let mut keyed: Vec<(Vec<u8>, CqlValue)> = std::mem::take(items)
                    .into_iter()
                    .map(|v| (v.to_bytes(), v))
                    .collect();
                // Sorting needs a total order, which only valid encodings
                // are promised; values that do not fit stay as they are.
                if keyed
                    .iter()
                    .all(|(b, _)| decode_at(e, b, depth + 1).is_ok())
                {
                    keyed.sort_by(|a, b| compare_at(e, &a.0, &b.0, depth + 1));
                    keyed.dedup_by(|a, b| compare_at(e, &a.0, &b.0, depth + 1) == Ordering::Equal);
                }
                *items = keyed.into_iter().map(|(_, v)| v).collect();
            }
            (CqlType::Map(k, v), CqlValue::Map(entries)) => {
                let mut keyed: Vec<(Vec<u8>, CqlValue, CqlValue)> = std::mem::take(entries)
                    .into_iter()
                    .map(|(mut key, mut val)| {
                        key.normalize_at(k, depth + 1);
                        val.normalize_at(v, depth + 1);
                        (key.to_bytes(), key, val)
                    })
                    .collect();
                if keyed
                    .iter()
                    .all(|(b, _, _)| decode_at(k, b, depth + 1).is_ok())
                {
                    keyed.sort_by(|a, b| compare_at(k, &a.0, &b.0, depth + 1));
                    *entries = dedup_last(keyed, |a, b| {
                        compare_at(k, a, b, depth + 1) == Ordering::Equal
                    });
                } else {
                    *entries = keyed.into_iter().map(|(_, a, b)| (a, b)).collect();
                }
            }
            (CqlType::Tuple(types), CqlValue::Tuple(items)) => {
                for (item, t) in items.iter_mut().zip(types) {
                    if let Some(item) = item {
                        item.normalize_at(t, depth + 1);
                    }
                }
                while items.len() < types.len() {
                    items.push(None);
                }
            }
            (CqlType::Udt { fields: types, .. }, CqlValue::Udt(fields)) => {
                for ((_, item), (_, t)) in fields.iter_mut().zip(types) {
                    if let Some(item) = item {
                        item.normalize_at(t, depth + 1);
                    }
                }
            }
            _ => {}
        }
    }

    /// True if this value can be encoded as a value of `ty` (the variant
    /// matches, recursively; `Empty` fits every type that allows it).
    pub fn fits(&self, ty: &CqlType) -> bool {
        self.fits_at(ty, 0)
    }

    fn fits_at(&self, ty: &CqlType, depth: usize) -> bool {
        if depth > MAX_VALUE_DEPTH {
            return false;
        }
        let ty = ty.unfrozen();
        match (ty, self) {
            (_, CqlValue::Empty) => decode_at(ty, &[], 0).is_ok(),
            (CqlType::Ascii, CqlValue::Ascii(s)) => s.is_ascii(),
            (CqlType::Text, CqlValue::Text(_))
            | (CqlType::Bigint, CqlValue::Bigint(_))
            | (CqlType::Blob, CqlValue::Blob(_))
            | (CqlType::Custom(_), CqlValue::Blob(_))
            | (CqlType::Boolean, CqlValue::Boolean(_))
            | (CqlType::Counter, CqlValue::Counter(_))
            | (CqlType::Date, CqlValue::Date(_))
            | (CqlType::Decimal, CqlValue::Decimal { .. })
            | (CqlType::Double, CqlValue::Double(_))
            | (CqlType::Float, CqlValue::Float(_))
            | (CqlType::Inet, CqlValue::Inet(_))
            | (CqlType::Int, CqlValue::Int(_))
            | (CqlType::Smallint, CqlValue::Smallint(_))
            | (CqlType::Timestamp, CqlValue::Timestamp(_))
            | (CqlType::Tinyint, CqlValue::Tinyint(_))
            | (CqlType::Uuid, CqlValue::Uuid(_))
            | (CqlType::Varint, CqlValue::Varint(_)) => true,
            (CqlType::Time, CqlValue::Time(_)) => true,
            (CqlType::Timeuuid, CqlValue::Timeuuid(u)) => u[6] & 0xf0 == 0x10,
            (CqlType::Duration, CqlValue::Duration { .. }) => {
                decode_duration(&self.to_bytes()).is_ok()
            }
            (CqlType::List(e), CqlValue::List(items)) | (CqlType::Set(e), CqlValue::Set(items)) => {
                items.iter().all(|v| v.fits_at(e, depth + 1))
            }
            (CqlType::Map(k, v), CqlValue::Map(entries)) => entries
                .iter()
                .all(|(a, b)| a.fits_at(k, depth + 1) && b.fits_at(v, depth + 1)),
            (CqlType::Tuple(types), CqlValue::Tuple(items)) => {
                items.len() <= types.len()
                    && items
                        .iter()
                        .zip(types)
                        .all(|(v, t)| v.as_ref().is_none_or(|v| v.fits_at(t, depth + 1)))
            }
            (CqlType::Udt { fields: types, .. }, CqlValue::Udt(fields)) => {
                fields.len() <= types.len()
                    && fields.iter().zip(types).all(|((n, v), (tn, t))| {
                        n == tn && v.as_ref().is_none_or(|v| v.fits_at(t, depth + 1))
                    })
            }
            _ => false,
        }
    }
}

// ---------------------------------------------------------------------------
// Encoding

fn write_count(n: usize, out: &mut Vec<u8>) {
    out.extend_from_slice(&i32::try_from(n).unwrap_or(i32::MAX).to_be_bytes());
}

/// Writes `[bytes]`: length then content, or length -1 for `None`.
fn write_element(v: Option<&CqlValue>, out: &mut Vec<u8>) {
    match v {
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            let start = out.len();
            out.extend_from_slice(&[0; 4]);
            v.encode(out);
            let len = i32::try_from(out.len() - start - 4).unwrap_or(i32::MAX);
            out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
}

/// Cassandra's signed vint: zig-zag, then the unsigned vint whose first byte
/// has one leading 1 bit per extra byte.
pub(super) fn write_vint(v: i64, out: &mut Vec<u8>) {
    let n = ((v << 1) ^ (v >> 63)) as u64;
    let magnitude = (n | 1).leading_zeros() as usize;
    let size = (639 - magnitude * 9) >> 6; // 1..=9
    let be = u128::from(n).to_be_bytes();
    let start = be.len() - size;
    let mut bytes = be[start..].to_vec();
    if let Some(first) = bytes.first_mut() {
        // One leading 1 bit per extra byte; with 8 extra bytes the whole
        // first byte is 0xff.
        *first |= !0xffu8.checked_shr((size - 1) as u32).unwrap_or(0);
    }
    out.extend_from_slice(&bytes);
}

// ---------------------------------------------------------------------------
// Decoding

fn marshal<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::Marshal(msg.into()))
}

/// The name Cassandra uses for a collection in its marshalling messages.
fn collection_name(ty: &CqlType) -> &'static str {
    match ty {
        CqlType::Set(_) => "set",
        CqlType::Map(_, _) => "map",
        _ => "list",
    }
}

/// Reads the count of a collection and checks it against the bytes left,
/// counting `min_entry` bytes (the length prefixes) per entry.
fn read_count(r: &mut Reader<'_>, what: &str, min_entry: usize) -> Result<usize, ValueError> {
    let n = match r.i32() {
        Some(n) if n >= 0 => n as usize,
        _ => return marshal(format!("Not enough bytes to read a {what}")),
    };
    if n > r.buf.len() / min_entry {
        return marshal(format!("Not enough bytes to read a {what}"));
    }
    Ok(n)
}

/// Reads one collection element, refusing nulls.
fn read_element<'a>(r: &mut Reader<'a>, what: &str) -> Result<&'a [u8], ValueError> {
    match r.i32() {
        Some(n) if n < 0 => marshal("null is not supported inside collections"),
        Some(n) => match r.take(n as usize) {
            Some(b) => Ok(b),
            None => marshal(format!("Not enough bytes to read a {what}")),
        },
        None => marshal(format!("Not enough bytes to read a {what}")),
    }
}

/// Reads one tuple/UDT component: `None` for a negative length.
fn read_component<'a>(r: &mut Reader<'a>, what: &str) -> Result<Option<&'a [u8]>, ValueError> {
    match r.i32() {
        Some(n) if n < 0 => Ok(None),
        Some(n) => match r.take(n as usize) {
            Some(b) => Ok(Some(b)),
            None => marshal(format!("Not enough bytes to read a {what} component")),
        },
        None => marshal(format!("Not enough bytes to read a {what} component")),
    }
}

/// Same as [`CqlValue::decode`].
pub fn decode(ty: &CqlType, bytes: &[u8]) -> Result<CqlValue, ValueError> {
    decode_at(ty, bytes, 0)
}

fn decode_at(ty: &CqlType, bytes: &[u8], depth: usize) -> Result<CqlValue, ValueError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(ValueError::TooDeep);
    }
    let len = bytes.len();
    // Types whose validators accept zero bytes.
    let empty_ok = matches!(
        ty,
        CqlType::Bigint
            | CqlType::Boolean
            | CqlType::Counter
            | CqlType::Decimal
            | CqlType::Double
            | CqlType::Float
            | CqlType::Inet
            | CqlType::Int
            | CqlType::Timestamp
            | CqlType::Timeuuid
            | CqlType::Uuid
            | CqlType::Varint
            | CqlType::Tuple(_)
            | CqlType::Udt { .. }
    );
    if len == 0 && empty_ok {
        return Ok(CqlValue::Empty);
    }
    Ok(match ty {
        CqlType::Frozen(inner) => return decode_at(inner, bytes, depth + 1),
        CqlType::Ascii => {
            if let Some(b) = bytes.iter().find(|b| **b > 127) {
                return marshal(format!("Invalid byte for ascii: {}", *b as i8));
            }
            CqlValue::Ascii(bytes.iter().map(|&b| b as char).collect())
        }
        CqlType::Text => match std::str::from_utf8(bytes) {
            Ok(s) => CqlValue::Text(s.to_string()),
            Err(_) => return marshal("String didn't validate."),
        },
        CqlType::Blob | CqlType::Custom(_) => CqlValue::Blob(bytes.to_vec()),
        CqlType::Bigint | CqlType::Counter | CqlType::Timestamp => {
            let Some(b) = fixed::<8>(bytes) else {
                return marshal(if matches!(ty, CqlType::Timestamp) {
                    format!("Expected 8 or 0 byte long for date ({len})")
                } else {
                    format!("Expected 8 or 0 byte long ({len})")
                });
            };
            let v = i64::from_be_bytes(b);
            match ty {
                CqlType::Bigint => CqlValue::Bigint(v),
                CqlType::Counter => CqlValue::Counter(v),
                _ => CqlValue::Timestamp(v),
            }
        }
        CqlType::Boolean => match bytes {
            [b] => CqlValue::Boolean(*b != 0),
            _ => return marshal(format!("Expected 1 or 0 byte value ({len})")),
        },
        CqlType::Date => match fixed::<4>(bytes) {
            Some(b) => CqlValue::Date(u32::from_be_bytes(b)),
            None => return marshal(format!("Expected 4 byte long for date ({len})")),
        },
        CqlType::Time => match fixed::<8>(bytes) {
            Some(b) => CqlValue::Time(i64::from_be_bytes(b)),
            None => return marshal(format!("Expected 8 byte long for time ({len})")),
        },
        CqlType::Decimal => {
            let mut r = Reader { buf: bytes };
            let Some(scale) = r.i32() else {
                return marshal(format!("Expected 0 or at least 4 bytes ({len})"));
            };
            CqlValue::Decimal {
                unscaled: big::minimal_twos(r.buf),
                scale,
            }
        }
        CqlType::Varint => CqlValue::Varint(big::minimal_twos(bytes)),
        CqlType::Double => match fixed::<8>(bytes) {
            Some(b) => CqlValue::Double(f64::from_be_bytes(b)),
            None => return marshal(format!("Expected 8 or 0 byte value for a double ({len})")),
        },
        CqlType::Float => match fixed::<4>(bytes) {
            Some(b) => CqlValue::Float(f32::from_be_bytes(b)),
            None => return marshal(format!("Expected 4 or 0 byte value for a float ({len})")),
        },
        CqlType::Int => match fixed::<4>(bytes) {
            Some(b) => CqlValue::Int(i32::from_be_bytes(b)),
            None => return marshal(format!("Expected 4 or 0 byte int ({len})")),
        },
        CqlType::Smallint => match fixed::<2>(bytes) {
            Some(b) => CqlValue::Smallint(i16::from_be_bytes(b)),
            None => return marshal(format!("Expected 2 bytes for a smallint ({len})")),
        },
        CqlType::Tinyint => match bytes {
            [b] => CqlValue::Tinyint(*b as i8),
            _ => return marshal(format!("Expected 1 byte for a tinyint ({len})")),
        },
        CqlType::Uuid => match fixed::<16>(bytes) {
            Some(u) => CqlValue::Uuid(u),
            None => return marshal(format!("UUID should be 16 or 0 bytes ({len})")),
        },
        CqlType::Timeuuid => match fixed::<16>(bytes) {
            Some(u) if u[6] & 0xf0 == 0x10 => CqlValue::Timeuuid(u),
            Some(_) => return marshal("Invalid version for TimeUUID type."),
            None => return marshal(format!("TimeUUID should be 16 or 0 bytes ({len})")),
        },
        CqlType::Inet => {
            if let Some(a) = fixed::<4>(bytes) {
                CqlValue::Inet(IpAddr::V4(Ipv4Addr::from(a)))
            } else if let Some(a) = fixed::<16>(bytes) {
                CqlValue::Inet(IpAddr::V6(Ipv6Addr::from(a)))
            } else {
                return marshal(format!("Expected 4 or 16 byte inetaddress; got {len}"));
            }
        }
        CqlType::Duration => decode_duration(bytes)?,
        CqlType::List(e) | CqlType::Set(e) => {
            let what = collection_name(ty);
            let mut r = Reader { buf: bytes };
            let n = read_count(&mut r, what, 4)?;
            let mut items: Vec<(&[u8], CqlValue)> = Vec::with_capacity(n);
            for _ in 0..n {
                let b = read_element(&mut r, what)?;
                items.push((b, decode_at(e, b, depth + 1)?));
            }
            if !r.is_empty() {
                return marshal(format!("Unexpected extraneous bytes after {what} value"));
            }
            if matches!(ty, CqlType::List(_)) {
                CqlValue::List(items.into_iter().map(|(_, v)| v).collect())
            } else {
                items.sort_by(|a, b| compare_at(e, a.0, b.0, depth + 1));
                items.dedup_by(|a, b| compare_at(e, a.0, b.0, depth + 1) == Ordering::Equal);
                CqlValue::Set(items.into_iter().map(|(_, v)| v).collect())
            }
        }
        CqlType::Map(k, v) => {
            let mut r = Reader { buf: bytes };
            let n = read_count(&mut r, "map", 8)?;
            let mut entries: Vec<(&[u8], CqlValue, CqlValue)> = Vec::with_capacity(n);
            for _ in 0..n {
                let kb = read_element(&mut r, "map")?;
                let vb = read_element(&mut r, "map")?;
                entries.push((
                    kb,
                    decode_at(k, kb, depth + 1)?,
                    decode_at(v, vb, depth + 1)?,
                ));
            }
            if !r.is_empty() {
                return marshal("Unexpected extraneous bytes after map value");
            }
            entries.sort_by(|a, b| compare_at(k, a.0, b.0, depth + 1));
            CqlValue::Map(dedup_last(entries, |a, b| {
                compare_at(k, a, b, depth + 1) == Ordering::Equal
            }))
        }
        CqlType::Tuple(types) => {
            let mut r = Reader { buf: bytes };
            let mut out = Vec::with_capacity(types.len());
            for t in types {
                if r.is_empty() {
                    out.push(None);
                    continue;
                }
                out.push(match read_component(&mut r, "tuple")? {
                    None => None,
                    Some(b) => Some(decode_at(t, b, depth + 1)?),
                });
            }
            if !r.is_empty() {
                return marshal("Invalid remaining data after end of tuple value");
            }
            CqlValue::Tuple(out)
        }
        CqlType::Udt { fields, .. } => {
            let mut r = Reader { buf: bytes };
            let mut out = Vec::with_capacity(fields.len());
            for (name, t) in fields {
                let v = if r.is_empty() {
                    None
                } else {
                    match read_component(&mut r, "UDT")? {
                        None => None,
                        Some(b) => Some(decode_at(t, b, depth + 1)?),
                    }
                };
                out.push((name.clone(), v));
            }
            if !r.is_empty() {
                return marshal("Invalid remaining data after end of UDT value");
            }
            CqlValue::Udt(out)
        }
    })
}

/// Keeps, among sorted entries whose keys are equal, the last one.
fn dedup_last<K>(
    entries: Vec<(K, CqlValue, CqlValue)>,
    same: impl Fn(&K, &K) -> bool,
) -> Vec<(CqlValue, CqlValue)> {
    let mut out: Vec<(K, CqlValue, CqlValue)> = Vec::with_capacity(entries.len());
    for e in entries {
        match out.last_mut() {
            Some(last) if same(&last.0, &e.0) => *last = e,
            _ => out.push(e),
        }
    }
    out.into_iter().map(|(_, k, v)| (k, v)).collect()
}

fn decode_duration(bytes: &[u8]) -> Result<CqlValue, ValueError> {
    if bytes.len() < 3 {
        return marshal(format!(
            "Expected at least 3 bytes for a duration ({})",
            bytes.len()
        ));
    }
    let mut r = Reader { buf: bytes };
    let (Some(m), Some(d), Some(nanos)) = (r.vint(), r.vint(), r.vint()) else {
        return marshal("Not enough bytes to read a duration");
    };
    if !r.is_empty() {
        return marshal("Unexpected extraneous bytes after duration value");
    }
    let Ok(months) = i32::try_from(m) else {
        return marshal(format!(
            "The duration months must be a 32 bits integer but was: {m}"
        ));
    };
    let Ok(days) = i32::try_from(d) else {
        return marshal(format!(
            "The duration days must be a 32 bits integer but was: {d}"
        ));
    };
    if !((months >= 0 && days >= 0 && nanos >= 0) || (months <= 0 && days <= 0 && nanos <= 0)) {
        return marshal(format!(
            "The duration months, days and nanoseconds must be all of the same sign \
             ({months}, {days}, {nanos})"
        ));
    }
    Ok(CqlValue::Duration {
        months,
        days,
        nanos,
    })
}
