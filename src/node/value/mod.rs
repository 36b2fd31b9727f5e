//! CQL values: their native-protocol bytes, their CQL literals, their order.
//!
//! # The three forms of a value
//!
//! A value reaches the node in one of two forms and leaves it in a third:
//!
//! * **bytes**, bound by a driver to a `?` marker of a prepared statement or a
//!   QUERY with values. [`CqlValue::decode`] reads them given the type the
//!   marker stands for; [`CqlValue::encode`] writes them into a RESULT row.
//!   The formats are those of `native_protocol_v4.spec` section 6 (and v5
//!   section 5.8 for `duration`), described with each variant of
//!   [`CqlValue`]. Only the content of a `[bytes]` is meant: the 4-byte
//!   length before it, and the `-1` length that stands for null, belong to
//!   the frame codec. A null is therefore never a `CqlValue`; where a null
//!   can appear *inside* a value (tuple and UDT fields) it is `None`.
//! * **literals**, written in the CQL text (`INSERT ... VALUES (1, 'a',
//!   0xff, [1, 2], {'k': 3})`). The CQL parser hands them over as
//!   [`CqlLiteral`] and [`CqlValue::from_literal`] converts them to the
//!   column's type, applying Cassandra's rules of which literal kind fits
//!   which type (a quoted string is not an `int`) and its error messages
//!   (`Unable to make int from '99999999999'`).
//! * **text**: [`CqlValue::to_cql_literal`] (also `Display`) writes a literal
//!   that parses back to the same value, for `DESCRIBE` and error messages;
//!   [`CqlValue::to_cqlsh`] writes it the way cqlsh shows a cell.
//!
//! # Empty values
//!
//! For historical reasons Cassandra accepts a zero-length value for most
//! non-collection types: an "empty" int is neither null nor zero. Such bytes
//! decode to [`CqlValue::Empty`] for `bigint`, `boolean`, `counter`,
//! `decimal`, `double`, `float`, `inet`, `int`, `timestamp`, `timeuuid`,
//! `uuid`, `varint`, tuples and UDTs, exactly the types whose Cassandra
//! validators accept zero bytes. For `ascii`, `text` and `blob` zero bytes
//! are simply the empty string or blob. `smallint`, `tinyint`, `date`, `time`
//! and `duration` (newer types with strict validators) and all collections
//! refuse zero bytes.
//!
//! # Normal forms
//!
//! Decoding and literal conversion return values in the form Cassandra
//! stores: set elements sorted by the element type's order and deduplicated,
//! map entries sorted by key with the last duplicate winning, varints in
//! minimal two's complement, tuples padded with `None` to their type's
//! arity. [`CqlValue::normalize`] brings a value built by hand to that form.
//! Encoding a decoded value therefore gives back the input bytes whenever
//! the input was already normal.
//!
//! # Order
//!
//! [`compare`] orders serialized values the way Cassandra's `AbstractType`
//! subclasses do, which decides clustering order and set/map order: numbers
//! numerically (`float`/`double` like Java's `Float.compare`, `decimal`
//! ignoring scale so `1.0 == 1.00`), text, blob, inet, date and time
//! bytewise, `timeuuid` by embedded timestamp then by signed bytes, `uuid`
//! by version first, then timestamp (version 1) or unsigned bytes, frozen
//! collections, tuples and UDTs element by element. Empty values sort
//! first. `DESC` clustering is the caller's business (reverse the result).
//!
//! # Safety against hostile bytes
//!
//! Every length and count read from the wire is checked against the bytes
//! that remain before anything is allocated or sliced, nesting is capped at
//! [`MAX_VALUE_DEPTH`], and no path panics: the tests decode a hundred
//! thousand random byte strings under every type.

pub mod types;

use std::cmp::Ordering;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::node::value::types::{CqlType, MAX_TYPE_DEPTH, quote_identifier};

/// The deepest value nesting decoded, converted or compared. Each level of
/// `frozen<...>` counts too, hence twice the type depth cap.
pub const MAX_VALUE_DEPTH: usize = 2 * MAX_TYPE_DEPTH + 2;

/// Days between 0000-03-01 and 1970-01-01, used by the civil calendar maths.
const EPOCH_DAYS_SHIFT: i64 = 719_468;
const MILLIS_PER_DAY: i64 = 86_400_000;
const NANOS_PER_DAY: i64 = 86_400_000_000_000;
/// `date` values count days with the Unix epoch at 2^31.
pub const DATE_EPOCH: u32 = 1 << 31;

/// A CQL value of any type.
#[derive(Debug, Clone, PartialEq)]
pub enum CqlValue {
    /// The zero-length value some types allow (see the module notes).
    Empty,
    /// `ascii`: bytes 0..=127.
    Ascii(String),
    /// `text`/`varchar`: UTF-8.
    Text(String),
    /// `bigint`: 8-byte two's complement.
    Bigint(i64),
    /// `blob`: any bytes.
    Blob(Vec<u8>),
    /// `boolean`: one byte, 0 is false, anything else true (written as 1).
    Boolean(bool),
    /// `counter`: 8-byte two's complement, like bigint.
    Counter(i64),
    /// `date`: unsigned 4-byte day count with the Unix epoch at 2^31.
    Date(u32),
    /// `decimal`: 4-byte scale, then the unscaled value as a varint;
    /// the value is `unscaled * 10^-scale`.
    Decimal {
        /// Big-endian two's complement, minimal.
        unscaled: Vec<u8>,
        scale: i32,
    },
    /// `double`: IEEE 754 binary64.
    Double(f64),
    /// `duration`: three zig-zag vints; all three >= 0 or all <= 0.
    Duration { months: i32, days: i32, nanos: i64 },
    /// `float`: IEEE 754 binary32.
    Float(f32),
    /// `inet`: 4 or 16 address bytes.
    Inet(IpAddr),
    /// `int`: 4-byte two's complement.
    Int(i32),
    /// `smallint`: 2-byte two's complement.
    Smallint(i16),
    /// `time`: 8-byte nanoseconds since midnight, 0..86_399_999_999_999.
    Time(i64),
    /// `timestamp`: 8-byte milliseconds since the Unix epoch.
    Timestamp(i64),
    /// `timeuuid`: 16 bytes, version 1.
    Timeuuid([u8; 16]),
    /// `tinyint`: 1-byte two's complement.
    Tinyint(i8),
    /// `uuid`: 16 bytes.
    Uuid([u8; 16]),
    /// `varint`: big-endian two's complement, minimal (`128` = `00 80`).
    Varint(Vec<u8>),
    /// `list`: [int] count, then each element as [int] length + bytes.
    List(Vec<CqlValue>),
    /// `set`: as list; kept sorted and unique.
    Set(Vec<CqlValue>),
    /// `map`: [int] count, then key and value each as [int] length + bytes;
    /// kept sorted by key, keys unique.
    Map(Vec<(CqlValue, CqlValue)>),
    /// `tuple`: each element as [int] length + bytes, length -1 for null.
    Tuple(Vec<Option<CqlValue>>),
    /// A user-defined type: fields in type order, encoded like a tuple.
    Udt(Vec<(String, Option<CqlValue>)>),
}

/// Why bytes or a literal could not become a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// Bytes that are not a valid value of the type (Cassandra's
    /// `MarshalException`); the node answers `Invalid` (or `Protocol_error`
    /// for malformed frames) with this text.
    #[error("{0}")]
    Marshal(String),
    /// A literal of the right kind whose text does not make a value
    /// (`Unable to make int from '99999999999'`).
    #[error("{0}")]
    Invalid(String),
    /// A constant of a kind the type does not take (`'abc'` for an `int`).
    /// [`ValueError::for_column`] gives Cassandra's full message.
    #[error("Invalid {kind} constant ({text}) for type {ty}")]
    InvalidConstant {
        /// `STRING`, `INTEGER`, `FLOAT`, `BOOLEAN`, `HEX`, `UUID`, `DURATION`.
        kind: &'static str,
        text: String,
        ty: String,
    },
    /// A collection, tuple or UDT literal for a type that is not one.
    #[error("Invalid {kind} literal of type {ty}")]
    InvalidLiteral {
        /// `list`, `set`, `map`, `tuple`, `user type`.
        kind: &'static str,
        ty: String,
    },
    /// Nesting deeper than [`MAX_VALUE_DEPTH`].
    #[error("Value nesting exceeds the maximum depth of {MAX_VALUE_DEPTH}")]
    TooDeep,
}

impl ValueError {
    /// The message Cassandra gives when the value was meant for column
    /// `column` (e.g. `Invalid STRING constant (abc) for "k" of type int`).
    pub fn for_column(&self, column: &str) -> String {
        match self {
            ValueError::InvalidConstant { kind, text, ty } => {
                format!("Invalid {kind} constant ({text}) for \"{column}\" of type {ty}")
            }
            ValueError::InvalidLiteral { kind, ty } => {
                let kind = if *kind == "tuple" { "tuple type" } else { kind };
                format!("Invalid {kind} literal for {column} of type {ty}")
            }
            other => other.to_string(),
        }
    }
}

/// A literal as the CQL parser reads it, before its type is known.
///
/// Constants keep their source text (without quotes for strings, already
/// unescaped) because the conversion and Cassandra's messages need it.
#[derive(Debug, Clone, PartialEq)]
pub enum CqlLiteral {
    /// `null`.
    Null,
    /// `'text'` or `$$text$$`, unescaped.
    Str(String),
    /// An integer token: `-12`, `99999999999999999999`.
    Int(String),
    /// A float token: `1.5`, `-2e10`, `NaN`, `-Infinity`.
    Float(String),
    /// `true` / `false`.
    Bool(bool),
    /// A blob constant, with its `0x` prefix: `0xcafe`.
    Hex(String),
    /// An unquoted UUID: `550e8400-e29b-41d4-a716-446655440000`.
    Uuid(String),
    /// An unquoted duration: `1h30m`, `P1DT2H`, `-3d`.
    Duration(String),
    /// `[a, b]`.
    List(Vec<CqlLiteral>),
    /// `{a, b}`; an empty `{}` may come as either an empty set or map.
    Set(Vec<CqlLiteral>),
    /// `{k: v, ...}`.
    Map(Vec<(CqlLiteral, CqlLiteral)>),
    /// `(a, b)`.
    Tuple(Vec<CqlLiteral>),
    /// `{field: value, ...}` for a user type.
    Udt(Vec<(String, CqlLiteral)>),
}

// ---------------------------------------------------------------------------
// Encoding

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
}

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
fn write_vint(v: i64, out: &mut Vec<u8>) {
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

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    fn i32(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads a Cassandra vint (signed, zig-zag).
    fn vint(&mut self) -> Option<i64> {
        let first = self.u8()?;
        let extra = first.leading_ones() as usize;
        let mut n = u64::from(first & 0xffu8.checked_shr(extra as u32).unwrap_or(0));
        for &b in self.take(extra)? {
            n = (n << 8) | u64::from(b);
        }
        Some(((n >> 1) as i64) ^ -((n & 1) as i64))
    }
}

fn marshal<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::Marshal(msg.into()))
}

fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
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

impl CqlValue {
    /// Decodes a value of type `ty` from its native-protocol bytes (the
    /// content of a non-null `[bytes]`). Sets and maps come back sorted and
    /// deduplicated (see the module notes).
    pub fn decode(ty: &CqlType, bytes: &[u8]) -> Result<CqlValue, ValueError> {
        decode_at(ty, bytes, 0)
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

// ---------------------------------------------------------------------------
// Comparison

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

fn compare_at(ty: &CqlType, a: &[u8], b: &[u8], depth: usize) -> Ordering {
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

    /// Brings a value built by hand to the stored form: sets sorted and
    /// unique, maps sorted by key with unique keys (last wins), varints
    /// minimal. Decoded and literal-made values are already normal.
    pub fn normalize(&mut self, ty: &CqlType) {
        self.normalize_at(ty, 0);
    }

    fn normalize_at(&mut self, ty: &CqlType, depth: usize) {
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
// Literals

/// The kind of a constant literal, named as Cassandra names it in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Str,
    Int,
    Float,
    Bool,
    Hex,
    Uuid,
    Duration,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "STRING",
            Kind::Int => "INTEGER",
            Kind::Float => "FLOAT",
            Kind::Bool => "BOOLEAN",
            Kind::Hex => "HEX",
            Kind::Uuid => "UUID",
            Kind::Duration => "DURATION",
        }
    }

    /// Which native types take which constants (Cassandra's
    /// `Constants.Literal.testAssignment`).
    fn fits(self, ty: &CqlType) -> bool {
        use CqlType as T;
        match self {
            Kind::Str => matches!(
                ty,
                T::Ascii | T::Text | T::Inet | T::Date | T::Time | T::Timestamp
            ),
            Kind::Int => matches!(
                ty,
                T::Bigint
                    | T::Counter
                    | T::Date
                    | T::Decimal
                    | T::Double
                    | T::Duration
                    | T::Float
                    | T::Int
                    | T::Smallint
                    | T::Time
                    | T::Timestamp
                    | T::Tinyint
                    | T::Varint
            ),
            Kind::Uuid => matches!(ty, T::Uuid | T::Timeuuid),
            Kind::Float => matches!(ty, T::Decimal | T::Double | T::Float),
            Kind::Bool => matches!(ty, T::Boolean),
            Kind::Hex => matches!(ty, T::Blob | T::Custom(_)),
            Kind::Duration => matches!(ty, T::Duration),
        }
    }
}

impl CqlLiteral {
    fn kind_name(&self) -> &'static str {
        match self {
            CqlLiteral::List(_) => "list",
            CqlLiteral::Set(_) => "set",
            CqlLiteral::Map(_) => "map",
            CqlLiteral::Tuple(_) => "tuple",
            CqlLiteral::Udt(_) => "user type",
            _ => "constant",
        }
    }
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::Invalid(msg.into()))
}

impl CqlValue {
    /// Converts a literal to a value of type `ty`; `Ok(None)` for `null`.
    pub fn from_literal(ty: &CqlType, lit: &CqlLiteral) -> Result<Option<CqlValue>, ValueError> {
        from_literal_at(ty, lit, 0)
    }
}

fn from_literal_at(
    ty: &CqlType,
    lit: &CqlLiteral,
    depth: usize,
) -> Result<Option<CqlValue>, ValueError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(ValueError::TooDeep);
    }
    if matches!(lit, CqlLiteral::Null) {
        return Ok(None);
    }
    let shown = || ty.to_string();
    let ty = ty.unfrozen();
    let element = |t: &CqlType, l: &CqlLiteral| -> Result<CqlValue, ValueError> {
        match from_literal_at(t, l, depth + 1)? {
            Some(v) => Ok(v),
            None => invalid("null is not supported inside collections"),
        }
    };
    let (kind, text) = match lit {
        CqlLiteral::Null => return Ok(None),
        CqlLiteral::Str(s) => (Kind::Str, s.as_str()),
        CqlLiteral::Int(s) => (Kind::Int, s.as_str()),
        CqlLiteral::Float(s) => (Kind::Float, s.as_str()),
        CqlLiteral::Bool(b) => (Kind::Bool, if *b { "true" } else { "false" }),
        CqlLiteral::Hex(s) => (Kind::Hex, s.as_str()),
        CqlLiteral::Uuid(s) => (Kind::Uuid, s.as_str()),
        CqlLiteral::Duration(s) => (Kind::Duration, s.as_str()),
        composite => {
            let mut value = match (ty, composite) {
                (CqlType::List(e), CqlLiteral::List(items)) => CqlValue::List(
                    items
                        .iter()
                        .map(|l| element(e, l))
                        .collect::<Result<_, _>>()?,
                ),
                (CqlType::Set(e), CqlLiteral::Set(items)) => CqlValue::Set(
                    items
                        .iter()
                        .map(|l| element(e, l))
                        .collect::<Result<_, _>>()?,
                ),
                (CqlType::Set(_), CqlLiteral::Map(entries)) if entries.is_empty() => {
                    CqlValue::Set(Vec::new())
                }
                (CqlType::Map(k, v), CqlLiteral::Map(entries)) => CqlValue::Map(
                    entries
                        .iter()
                        .map(|(a, b)| Ok((element(k, a)?, element(v, b)?)))
                        .collect::<Result<_, ValueError>>()?,
                ),
                (CqlType::Map(_, _), CqlLiteral::Set(items)) if items.is_empty() => {
                    CqlValue::Map(Vec::new())
                }
                (CqlType::Tuple(types), CqlLiteral::Tuple(items)) => {
                    if items.len() > types.len() {
                        return invalid(format!(
                            "Invalid tuple literal: too many elements. Type {} expects {} \
                             but got {}",
                            shown(),
                            types.len(),
                            items.len()
                        ));
                    }
                    let mut out = Vec::with_capacity(types.len());
                    for (t, l) in types.iter().zip(items) {
                        out.push(from_literal_at(t, l, depth + 1)?);
                    }
                    CqlValue::Tuple(out)
                }
                (CqlType::Udt { name, fields, .. }, CqlLiteral::Udt(items)) => {
                    for (n, _) in items {
                        if !fields.iter().any(|(f, _)| f == n) {
                            return invalid(format!(
                                "Unknown field '{n}' in value of user defined type {name}"
                            ));
                        }
                    }
                    let mut out = Vec::with_capacity(fields.len());
                    for (f, t) in fields {
                        let v = match items.iter().rev().find(|(n, _)| n == f) {
                            Some((_, l)) => from_literal_at(t, l, depth + 1)?,
                            None => None,
                        };
                        out.push((f.clone(), v));
                    }
                    CqlValue::Udt(out)
                }
                (_, other) => {
                    return Err(ValueError::InvalidLiteral {
                        kind: other.kind_name(),
                        ty: shown(),
                    });
                }
            };
            value.normalize_at(ty, depth);
            return Ok(Some(value));
        }
    };
    if !kind.fits(ty) {
        return Err(ValueError::InvalidConstant {
            kind: kind.name(),
            text: text.to_string(),
            ty: shown(),
        });
    }
    scalar_from_text(ty, kind, text).map(Some)
}

/// Converts a constant already known to fit `ty` (Cassandra's
/// `AbstractType.fromString` for that type).
fn scalar_from_text(ty: &CqlType, kind: Kind, text: &str) -> Result<CqlValue, ValueError> {
    fn int<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ValueError> {
        text.parse::<T>()
            .map_err(|_| ValueError::Invalid(format!("Unable to make {what} from '{text}'")))
    }
    Ok(match ty {
        CqlType::Ascii => {
            if !text.is_ascii() {
                return invalid("Invalid ASCII character in string literal");
            }
            CqlValue::Ascii(text.to_string())
        }
        CqlType::Text => CqlValue::Text(text.to_string()),
        CqlType::Int => CqlValue::Int(int(text, "int")?),
        CqlType::Bigint => CqlValue::Bigint(int(text, "long")?),
        CqlType::Counter => CqlValue::Counter(int(text, "long")?),
        CqlType::Smallint => CqlValue::Smallint(int(text, "short")?),
        CqlType::Tinyint => CqlValue::Tinyint(int(text, "byte")?),
        CqlType::Varint => match big::parse_integer(text) {
            Some(b) => CqlValue::Varint(b),
            None => return invalid(format!("Unable to make java.math.BigInteger from '{text}'")),
        },
        CqlType::Decimal => match big::parse_decimal(text) {
            Some((unscaled, scale)) => CqlValue::Decimal { unscaled, scale },
            None => return invalid(format!("Unable to make BigDecimal from '{text}'")),
        },
        CqlType::Float => match parse_java_float::<f32>(text) {
            Some(v) => CqlValue::Float(v),
            None => return invalid(format!("Unable to make float from '{text}'")),
        },
        CqlType::Double => match parse_java_float::<f64>(text) {
            Some(v) => CqlValue::Double(v),
            None => return invalid(format!("Unable to make double from '{text}'")),
        },
        CqlType::Boolean => CqlValue::Boolean(text.eq_ignore_ascii_case("true")),
        CqlType::Blob | CqlType::Custom(_) => {
            let digits = text
                .strip_prefix("0x")
                .or_else(|| text.strip_prefix("0X"))
                .unwrap_or(text);
            match parse_hex(digits) {
                Some(b) => CqlValue::Blob(b),
                None => return invalid(format!("cannot parse '{digits}' as hex bytes")),
            }
        }
        CqlType::Uuid => match parse_uuid(text) {
            Some(u) => CqlValue::Uuid(u),
            None => return invalid(format!("Unable to make UUID from '{text}'")),
        },
        CqlType::Timeuuid => match parse_uuid(text) {
            Some(u) if u[6] & 0xf0 == 0x10 => CqlValue::Timeuuid(u),
            Some(_) => return invalid("TimeUUID supports only version 1 UUIDs"),
            None => return invalid(format!("Unable to make UUID from '{text}'")),
        },
        CqlType::Inet => {
            if text.is_empty() {
                return Ok(CqlValue::Empty);
            }
            match text.parse::<IpAddr>() {
                Ok(a) => CqlValue::Inet(a),
                Err(_) => return invalid(format!("Unable to make inet address from '{text}'")),
            }
        }
        CqlType::Timestamp => {
            if text.is_empty() && kind == Kind::Str {
                return Ok(CqlValue::Empty);
            }
            CqlValue::Timestamp(parse_timestamp(text)?)
        }
        CqlType::Date => CqlValue::Date(parse_date(text)?),
        CqlType::Time => CqlValue::Time(parse_time(text)?),
        CqlType::Duration => {
            let (months, days, nanos) = parse_duration(text)?;
            CqlValue::Duration {
                months,
                days,
                nanos,
            }
        }
        other => {
            return Err(ValueError::InvalidConstant {
                kind: kind.name(),
                text: text.to_string(),
                ty: other.to_string(),
            });
        }
    })
}

/// Java's `Double.parseDouble` on the forms CQL float and integer tokens
/// take: decimal digits with optional fraction and exponent, `NaN`,
/// `Infinity`, `-Infinity`.
/// Parsed straight to the target width, as Java's `Float.parseFloat` does.
fn parse_java_float<T: std::str::FromStr>(text: &str) -> Option<T> {
    let body = text.strip_prefix(['-', '+']).unwrap_or(text);
    let negative = text.starts_with('-');
    match body {
        "NaN" => return "NaN".parse().ok(),
        "Infinity" => return if negative { "-inf" } else { "inf" }.parse().ok(),
        _ => {}
    }
    let ok_chars = body
        .bytes()
        .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if body.is_empty() || !ok_chars || !body.bytes().any(|c| c.is_ascii_digit()) {
        return None;
    }
    text.parse::<T>().ok()
}

fn parse_hex(digits: &str) -> Option<Vec<u8>> {
    if !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    // An odd number of digits gets a leading zero, as Cassandra's Hex does.
    let padded;
    let digits = if digits.len() % 2 == 1 {
        padded = format!("0{digits}");
        padded.as_str()
    } else {
        digits
    };
    (0..digits.len() / 2)
        .map(|i| {
            digits
                .get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex, any case).
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 {
        return None;
    }
    let mut out = [0u8; 16];
    let mut nibbles = 0usize;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let v = (c as char).to_digit(16)? as u8;
        let slot = out.get_mut(nibbles / 2)?;
        *slot = (*slot << 4) | v;
        nibbles += 1;
    }
    Some(out)
}

/// Writes a UUID in its lower-case 8-4-4-4-12 form.
pub fn format_uuid(u: &[u8; 16]) -> String {
    let mut s = String::with_capacity(36);
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

fn is_all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `^-?\d+$`
fn is_raw_integer(s: &str) -> bool {
    is_all_digits(s.strip_prefix('-').unwrap_or(s))
}

// --- calendar ---------------------------------------------------------------

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - EPOCH_DAYS_SHIFT
}

/// The proleptic Gregorian (year, month, day) of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + EPOCH_DAYS_SHIFT;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A small cursor for the date and time grammars.
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Scan<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` digits, as a number.
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.pos;
        while self.pos - start < max && self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos - start < min {
            return None;
        }
        std::str::from_utf8(self.s.get(start..self.pos)?)
            .ok()?
            .parse()
            .ok()
    }

    fn done(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn rest(&self) -> &[u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }
}

/// A zone suffix: `Z`, `UTC`, `GMT`, `+HH`, `+HHMM`, `+HH:MM` (also after
/// `UTC`/`GMT`), as offset seconds east of UTC.
fn parse_zone(sc: &mut Scan<'_>) -> Option<i64> {
    if sc.eat(b'Z') {
        return Some(0);
    }
    for name in [&b"UTC"[..], b"GMT"] {
        if sc.rest().starts_with(name) {
            sc.pos += name.len();
            if sc.done() {
                return Some(0);
            }
        }
    }
    let sign = match sc.peek()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    sc.pos += 1;
    let h = sc.digits(2, 2)?;
    let m = if sc.done() {
        0
    } else {
        sc.eat(b':');
        sc.digits(2, 2)?
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// Date-time text to epoch milliseconds, after Cassandra's
/// `TimestampSerializer` patterns (`yyyy-MM-dd[( |T)HH:mm[:ss[.SSS]]][zone]`).
/// Without a zone the time is taken as UTC (Cassandra uses the server's
/// zone). As in Cassandra (Java's `SimpleDateFormat`), the digits after the
/// dot are a count of milliseconds: `.5` is 5 ms, not 500.
fn parse_timestamp_text(text: &str) -> Option<i64> {
    let mut sc = Scan {
        s: text.as_bytes(),
        pos: 0,
    };
    let y = sc.digits(1, 9)?;
    sc.eat(b'-').then_some(())?;
    let mo = sc.digits(1, 2)?;
    sc.eat(b'-').then_some(())?;
    let d = sc.digits(1, 2)?;
    if y < 1 || !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) {
        return None;
    }
    let mut millis_of_day = 0i64;
    let at_time = |sc: &Scan<'_>| {
        matches!(sc.peek(), Some(b' ' | b'T'))
            && sc.s.get(sc.pos + 1).is_some_and(|c| c.is_ascii_digit())
    };
    if at_time(&sc) {
        sc.pos += 1;
        let h = sc.digits(1, 2)?;
        sc.eat(b':').then_some(())?;
        let mi = sc.digits(1, 2)?;
        let mut s = 0;
        let mut ms = 0;
        if sc.eat(b':') {
            s = sc.digits(1, 2)?;
            if sc.eat(b'.') {
                ms = sc.digits(1, 9)?;
            }
        }
        if h > 23 || mi > 59 || s > 59 || ms > 999 {
            return None;
        }
        millis_of_day = ((h * 60 + mi) * 60 + s) * 1000 + ms;
    }
    let mut offset = 0;
    if !sc.done() {
        sc.eat(b' ');
        offset = parse_zone(&mut sc)?;
    }
    if !sc.done() {
        return None;
    }
    days_from_civil(y, mo, d)
        .checked_mul(MILLIS_PER_DAY)?
        .checked_add(millis_of_day)?
        .checked_sub(offset * 1000)
}

fn parse_timestamp(text: &str) -> Result<i64, ValueError> {
    if text.eq_ignore_ascii_case("now") {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        return Ok(i64::try_from(now).unwrap_or(i64::MAX));
    }
    if is_raw_integer(text) {
        return text.parse().map_err(|_| {
            ValueError::Invalid(format!("Unable to make long (for date) from: '{text}'"))
        });
    }
    parse_timestamp_text(text).ok_or_else(|| {
        ValueError::Invalid(format!(
            "Unable to coerce '{text}' to a formatted date (long)"
        ))
    })
}

/// `date` text: a raw unsigned day count (epoch at 2^31) or a strict ISO
/// local date `yyyy-MM-dd` (more than 4 year digits need a sign).
fn parse_date(text: &str) -> Result<u32, ValueError> {
    if is_raw_integer(text) {
        return match text.parse::<i64>() {
            Ok(v) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(v as u32),
            _ => invalid(format!(
                "Unable to make unsigned int (for date) from: '{text}'"
            )),
        };
    }
    let fail = || {
        ValueError::Invalid(format!(
            "Unable to coerce '{text}' to a formatted date (long)"
        ))
    };
    let mut sc = Scan {
        s: text.as_bytes(),
        pos: 0,
    };
    let sign = if sc.eat(b'-') {
        -1
    } else if sc.eat(b'+') {
        0
    } else {
        1
    };
    let start = sc.pos;
    let y = sc.digits(4, 10).ok_or_else(fail)?;
    let ndigits = sc.pos - start;
    if (sign == 1 && ndigits != 4) || (sign == 0 && ndigits <= 4) {
        return Err(fail());
    }
    let y = if sign == -1 { -y } else { y };
    if !sc.eat(b'-') {
        return Err(fail());
    }
    let m = sc.digits(2, 2).ok_or_else(fail)?;
    if !sc.eat(b'-') {
        return Err(fail());
    }
    let d = sc.digits(2, 2).ok_or_else(fail)?;
    if !sc.done() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return Err(fail());
    }
    let days = days_from_civil(y, m, d);
    if days < i64::from(i32::MIN) || days > i64::from(i32::MAX) {
        return Err(fail());
    }
    Ok((days + i64::from(DATE_EPOCH)) as u32)
}

/// `time` text: raw nanoseconds, or `hh:mm:ss[.fffffffff]`.
fn parse_time(text: &str) -> Result<i64, ValueError> {
    if is_raw_integer(text) {
        return match text.parse::<i64>() {
            Ok(v) if (0..NANOS_PER_DAY).contains(&v) => Ok(v),
            _ => invalid(format!("Unable to make long (for time) from: '{text}'")),
        };
    }
    let fail = || {
        ValueError::Invalid(format!(
            "(TimeType) Unable to coerce '{text}' to a formatted time (long)"
        ))
    };
    let s = text.trim();
    let (h, rest) = s.split_once(':').ok_or_else(fail)?;
    let (mi, rest) = rest.split_once(':').ok_or_else(fail)?;
    let (sec, frac) = match rest.split_once('.') {
        Some((sec, frac)) => (sec, Some(frac)),
        None => (rest, None),
    };
    let num = |t: &str, max: i64| -> Option<i64> {
        is_all_digits(t)
            .then(|| t.parse::<i64>().ok())
            .flatten()
            .filter(|v| *v < max)
    };
    let h = num(h, 24).ok_or_else(fail)?;
    let mi = num(mi, 60).ok_or_else(fail)?;
    let sec = num(sec, 60).ok_or_else(fail)?;
    let nanos = match frac {
        None => 0,
        Some(f) if is_all_digits(f) && f.len() <= 9 => {
            let padded = format!("{f:0<9}");
            padded.parse::<i64>().map_err(|_| fail())?
        }
        Some(_) => return Err(fail()),
    };
    Ok(((h * 60 + mi) * 60 + sec) * 1_000_000_000 + nanos)
}

/// Accumulates duration units in Cassandra's order, with its checks.
struct DurationBuilder {
    months: i64,
    days: i64,
    nanos: i64,
    unit: usize,
}

const UNIT_NAMES: [&str; 11] = [
    "",
    "years",
    "months",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
    "microseconds",
    "nanoseconds",
];

impl DurationBuilder {
    fn add(&mut self, unit: usize, n: i64) -> Result<(), ValueError> {
        let name = |i: usize| UNIT_NAMES.get(i).copied().unwrap_or("");
        if unit == self.unit {
            return invalid(format!(
                "Invalid duration. The {} are specified multiple times",
                name(unit)
            ));
        }
        if unit < self.unit {
            return invalid(format!(
                "Invalid duration. The {} should be after {}",
                name(self.unit),
                name(unit)
            ));
        }
        self.unit = unit;
        let too_big = |what: &str| {
            invalid(format!(
                "Invalid duration. The total number of {what} must be less or equal to {}",
                i32::MAX
            ))
        };
        let (per, field) = match unit {
            1 => (12, 0),
            2 => (1, 0),
            3 => (7, 1),
            4 => (1, 1),
            5 => (3_600_000_000_000, 2),
            6 => (60_000_000_000, 2),
            7 => (1_000_000_000, 2),
            8 => (1_000_000, 2),
            9 => (1_000, 2),
            _ => (1, 2),
        };
        match field {
            0 => {
                if n > (i64::from(i32::MAX) - self.months) / per {
                    return too_big("months");
                }
                self.months += n * per;
            }
            1 => {
                if n > (i64::from(i32::MAX) - self.days) / per {
                    return too_big("days");
                }
                self.days += n * per;
            }
            _ => {
                if n > (i64::MAX - self.nanos) / per {
                    return too_big("nanoseconds");
                }
                self.nanos += n * per;
            }
        }
        Ok(())
    }
}

/// Duration text as Cassandra's `Duration.from` reads it: `1y2mo3w4d5h6m7s
/// 8ms9us10ns` units in that order, ISO 8601 `P1Y2M3DT4H5M6S` or `P2W`, or
/// the alternative `P0001-02-03T04:05:06`; a leading `-` negates.
fn parse_duration(text: &str) -> Result<(i32, i32, i64), ValueError> {
    let negative = text.starts_with('-');
    let src = if negative { &text[1..] } else { text };
    let fail = || ValueError::Invalid(format!("Unable to convert '{src}' to a duration"));
    let mut b = DurationBuilder {
        months: 0,
        days: 0,
        nanos: 0,
        unit: 0,
    };
    let mut sc = Scan {
        s: src.as_bytes(),
        pos: 0,
    };
    let num = |sc: &mut Scan<'_>| sc.digits(1, 19).ok_or_else(fail);
    if sc.eat(b'P') {
        if src.ends_with('W') {
            let n = num(&mut sc)?;
            if !sc.eat(b'W') || !sc.done() {
                return Err(fail());
            }
            b.add(3, n)?;
        } else if src.contains('-') {
            let mut fields = [0i64; 6];
            for (i, slot) in fields.iter_mut().enumerate() {
                let width = if i == 0 { 4 } else { 2 };
                *slot = sc.digits(width, width).ok_or_else(fail)?;
                let sep = [b'-', b'-', b'T', b':', b':', 0][i];
                if sep != 0 && !sc.eat(sep) {
                    return Err(fail());
                }
            }
            if !sc.done() {
                return Err(fail());
            }
            for (i, n) in fields.iter().enumerate() {
                let unit = [1, 2, 4, 5, 6, 7][i];
                b.add(unit, *n)?;
            }
        } else {
            let mut in_time = false;
            while !sc.done() {
                if !in_time && sc.eat(b'T') {
                    in_time = true;
                    continue;
                }
                let n = num(&mut sc)?;
                let unit = match (in_time, sc.peek()) {
                    (false, Some(b'Y')) => 1,
                    (false, Some(b'M')) => 2,
                    (false, Some(b'D')) => 4,
                    (true, Some(b'H')) => 5,
                    (true, Some(b'M')) => 6,
                    (true, Some(b'S')) => 7,
                    _ => return Err(fail()),
                };
                sc.pos += 1;
                b.add(unit, n)?;
            }
        }
    } else {
        if sc.done() {
            return Err(fail());
        }
        while !sc.done() {
            let n = num(&mut sc)?;
            let rest = String::from_utf8_lossy(sc.rest()).to_lowercase();
            let (unit, width) = if rest.starts_with("mo") {
                (2, 2)
            } else if rest.starts_with("ms") {
                (8, 2)
            } else if rest.starts_with("us") {
                (9, 2)
            } else if rest.starts_with("µs") {
                (9, "µs".len())
            } else if rest.starts_with("ns") {
                (10, 2)
            } else {
                match rest.as_bytes().first() {
                    Some(b'y') => (1, 1),
                    Some(b'w') => (3, 1),
                    Some(b'd') => (4, 1),
                    Some(b'h') => (5, 1),
                    Some(b'm') => (6, 1),
                    Some(b's') => (7, 1),
                    _ => return Err(fail()),
                }
            };
            sc.pos += width;
            b.add(unit, n)?;
        }
    }
    let sign = if negative { -1 } else { 1 };
    let months = i32::try_from(b.months * sign).map_err(|_| fail())?;
    let days = i32::try_from(b.days * sign).map_err(|_| fail())?;
    Ok((months, days, b.nanos * sign))
}

// ---------------------------------------------------------------------------
// Text output

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Literal,
    Cqlsh,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn hex_string(b: &[u8]) -> String {
    let mut s = String::with_capacity(2 + 2 * b.len());
    s.push_str("0x");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

/// `2024-01-02` for a `date`, or `None` outside years 1..=9999.
fn date_text(d: u32) -> Option<String> {
    let days = i64::from(d) - i64::from(DATE_EPOCH);
    let (y, m, dd) = civil_from_days(days);
    (1..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{dd:02}"))
}

/// The (date, h, m, s, ms) of epoch millis, or `None` outside years 1..=9999.
fn timestamp_parts(ms: i64) -> Option<(String, i64, i64, i64, i64)> {
    let days = ms.div_euclid(MILLIS_PER_DAY);
    let rem = ms.rem_euclid(MILLIS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    (1..=9999).contains(&y).then(|| {
        (
            format!("{y:04}-{m:02}-{d:02}"),
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000,
        )
    })
}

fn time_text(t: i64) -> Option<String> {
    (0..NANOS_PER_DAY).contains(&t).then(|| {
        let secs = t / 1_000_000_000;
        format!(
            "{:02}:{:02}:{:02}.{:09}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            t % 1_000_000_000
        )
    })
}

/// Cassandra's `Duration.toString`: `1y2mo3d4h5m6s7ms8us9ns`, zero parts left out.
fn duration_text(months: i32, days: i32, nanos: i64) -> String {
    let mut s = String::new();
    if months < 0 || days < 0 || nanos < 0 {
        s.push('-');
    }
    let mut part = |value: u64, unit: &str| {
        if value != 0 {
            s.push_str(&format!("{value}{unit}"));
        }
    };
    let months = u64::from(months.unsigned_abs());
    part(months / 12, "y");
    part(months % 12, "mo");
    part(u64::from(days.unsigned_abs()), "d");
    let n = nanos.unsigned_abs();
    part(n / 3_600_000_000_000, "h");
    part(n / 60_000_000_000 % 60, "m");
    part(n / 1_000_000_000 % 60, "s");
    part(n / 1_000_000 % 1000, "ms");
    part(n / 1000 % 1000, "us");
    part(n % 1000, "ns");
    s
}

/// C's `%.{p}g`.
fn format_g(v: f64, precision: usize) -> String {
    let p = precision.max(1);
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{:.*e}", p - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let x: i64 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if x >= -4 && x < p as i64 {
        let decimals = (p as i64 - 1 - x).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    } else {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), x.abs())
    }
}

/// cqlsh's float display: `%g` with `precision` significant digits, more
/// when the number has digits left of the point.
fn cqlsh_float(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let mut p = precision as i64;
    if v.abs() > f64::EPSILON {
        let exponent = v.abs().log10() as i64; // truncates like Python's int()
        if (-4..p).contains(&exponent) {
            p += exponent + 1;
        }
    }
    format_g(v, p.max(1) as usize)
}

/// A float as a literal: shortest text that reads back the same value.
fn literal_float(v: f64, shortest: String) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.into()
    } else {
        shortest
    }
}

fn write_value(v: &CqlValue, style: Style, nested: bool, depth: usize, out: &mut String) {
    if depth > MAX_VALUE_DEPTH {
        out.push_str("...");
        return;
    }
    let lit = style == Style::Literal;
    // Quote in literals, and in cqlsh inside collections.
    let quoted = |s: &str| {
        if lit || nested {
            quote(s)
        } else {
            s.to_string()
        }
    };
    let text = match v {
        CqlValue::Empty => {
            if lit {
                "null".into()
            } else {
                String::new()
            }
        }
        CqlValue::Ascii(s) | CqlValue::Text(s) => quoted(s),
        CqlValue::Bigint(n) | CqlValue::Counter(n) => n.to_string(),
        CqlValue::Int(n) => n.to_string(),
        CqlValue::Smallint(n) => n.to_string(),
        CqlValue::Tinyint(n) => n.to_string(),
        CqlValue::Blob(b) => hex_string(b),
        CqlValue::Boolean(b) => match (lit, b) {
            (true, true) => "true".into(),
            (true, false) => "false".into(),
            (false, true) => "True".into(),
            (false, false) => "False".into(),
        },
        CqlValue::Date(d) => match date_text(*d) {
            Some(s) => quoted(&s),
            None if lit => d.to_string(),
            None => (i64::from(*d) - i64::from(DATE_EPOCH)).to_string(),
        },
        CqlValue::Decimal { unscaled, scale } => big::decimal_to_string(unscaled, *scale),
        CqlValue::Varint(b) => big::integer_to_string(b),
        CqlValue::Double(f) => {
            if lit {
                literal_float(*f, format!("{f:?}"))
            } else {
                cqlsh_float(*f, 12)
            }
        }
        CqlValue::Float(f) => {
            if lit {
                literal_float(f64::from(*f), format!("{f:?}"))
            } else {
                cqlsh_float(f64::from(*f), 5)
            }
        }
        CqlValue::Duration {
            months,
            days,
            nanos,
        } => {
            let s = duration_text(*months, *days, *nanos);
            if lit && s.is_empty() { "0s".into() } else { s }
        }
        CqlValue::Inet(a) => quoted(&a.to_string()),
        CqlValue::Time(t) => match time_text(*t) {
            Some(s) => quoted(&s),
            None => t.to_string(),
        },
        CqlValue::Timestamp(ms) => match timestamp_parts(*ms) {
            Some((date, h, m, s, milli)) => {
                if lit {
                    quote(&format!("{date}T{h:02}:{m:02}:{s:02}.{milli:03}Z"))
                } else {
                    quoted(&format!("{date} {h:02}:{m:02}:{s:02}.{milli:03}000+0000"))
                }
            }
            None => ms.to_string(),
        },
        CqlValue::Timeuuid(u) | CqlValue::Uuid(u) => format_uuid(u),
        CqlValue::List(items) | CqlValue::Set(items) => {
            let (open, close) = if matches!(v, CqlValue::List(_)) {
                ('[', ']')
            } else {
                ('{', '}')
            };
            out.push(open);
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(item, style, true, depth + 1, out);
            }
            out.push(close);
            return;
        }
        CqlValue::Map(entries) => {
            out.push('{');
            for (i, (k, val)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(k, style, true, depth + 1, out);
                out.push_str(": ");
                write_value(val, style, true, depth + 1, out);
            }
            out.push('}');
            return;
        }
        CqlValue::Tuple(items) => {
            out.push('(');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                match item {
                    Some(item) => write_value(item, style, true, depth + 1, out),
                    None => out.push_str("null"),
                }
            }
            out.push(')');
            return;
        }
        CqlValue::Udt(fields) => {
            out.push('{');
            for (i, (name, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote_identifier(name));
                out.push_str(": ");
                match item {
                    Some(item) => write_value(item, style, true, depth + 1, out),
                    None => out.push_str("null"),
                }
            }
            out.push('}');
            return;
        }
    };
    out.push_str(&text);
}

impl CqlValue {
    /// A CQL literal that reads back as this value (for DESCRIBE and error
    /// messages): strings quoted with `''` doubling, blobs `0x..`,
    /// timestamps `'2024-01-02T03:04:05.123Z'`. `Empty` has no literal
    /// form and is written `null`.
    pub fn to_cql_literal(&self) -> String {
        let mut s = String::new();
        write_value(self, Style::Literal, false, 0, &mut s);
        s
    }

    /// The value as cqlsh shows it in a result cell: text unquoted at top
    /// level, `True`/`False`, timestamps `2024-01-02 03:04:05.123000+0000`,
    /// floats with cqlsh's default precision (5 for float, 12 for double).
    pub fn to_cqlsh(&self) -> String {
        let mut s = String::new();
        write_value(self, Style::Cqlsh, false, 0, &mut s);
        s
    }
}

impl fmt::Display for CqlValue {
    /// Same as [`CqlValue::to_cql_literal`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_cql_literal())
    }
}

// ---------------------------------------------------------------------------
// Arbitrary-precision integers, just enough for varint and decimal.

mod big {
    use std::cmp::Ordering;

    /// An unsigned magnitude: little-endian base-2^32 limbs, no high zeros.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Mag(Vec<u32>);

    impl Mag {
        pub fn from_be_bytes(b: &[u8]) -> Mag {
            let mut limbs = Vec::with_capacity(b.len() / 4 + 1);
            for chunk in b.rchunks(4) {
                let mut v = 0u32;
                for &x in chunk {
                    v = (v << 8) | u32::from(x);
                }
                limbs.push(v);
            }
            let mut m = Mag(limbs);
            m.trim();
            m
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        pub fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        /// Minimal big-endian bytes; empty for zero.
        pub fn to_be_bytes(&self) -> Vec<u8> {
            let mut out: Vec<u8> = self.0.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
            let lead = out.iter().take_while(|b| **b == 0).count();
            out.drain(..lead);
            out
        }

        pub fn mul_add_small(&mut self, m: u32, a: u32) {
            let mut carry = u64::from(a);
            for limb in self.0.iter_mut() {
                let v = u64::from(*limb) * u64::from(m) + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }

        /// Divides in place, returning the remainder.
        pub fn div_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for limb in self.0.iter_mut().rev() {
                let v = (rem << 32) | u64::from(*limb);
                *limb = (v / u64::from(d)) as u32;
                rem = v % u64::from(d);
            }
            self.trim();
            rem as u32
        }

        pub fn to_decimal(&self) -> String {
            if self.is_zero() {
                return "0".into();
            }
            let mut m = self.clone();
            let mut chunks = Vec::new();
            while !m.is_zero() {
                chunks.push(m.div_small(1_000_000_000));
            }
            let mut s = String::new();
            for (i, c) in chunks.iter().rev().enumerate() {
                if i == 0 {
                    s.push_str(&c.to_string());
                } else {
                    s.push_str(&format!("{c:09}"));
                }
            }
            s
        }

        /// From ASCII decimal digits (at least one, nothing else).
        pub fn from_decimal(digits: &str) -> Option<Mag> {
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let mut m = Mag(Vec::new());
            for chunk in digits.as_bytes().chunks(9) {
                let s = std::str::from_utf8(chunk).ok()?;
                let v: u32 = s.parse().ok()?;
                m.mul_add_small(10u32.pow(chunk.len() as u32), v);
            }
            Some(m)
        }

        pub fn mul_pow10(&mut self, mut n: u64) {
            while n >= 9 {
                self.mul_add_small(1_000_000_000, 0);
                n -= 9;
            }
            if n > 0 {
                self.mul_add_small(10u32.pow(n as u32), 0);
            }
        }
    }

    impl Ord for Mag {
        fn cmp(&self, other: &Self) -> Ordering {
            self.0
                .len()
                .cmp(&other.0.len())
                .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
        }
    }

    impl PartialOrd for Mag {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    /// The minimal two's complement form of `b` (`[0]` for empty input).
    pub fn minimal_twos(b: &[u8]) -> Vec<u8> {
        let mut start = 0;
        while start + 1 < b.len() {
            let (x, next) = (b[start], b[start + 1]);
            if (x == 0 && next & 0x80 == 0) || (x == 0xff && next & 0x80 != 0) {
                start += 1;
            } else {
                break;
            }
        }
        if b.is_empty() {
            vec![0]
        } else {
            b[start..].to_vec()
        }
    }

    /// (negative, magnitude) of big-endian two's complement bytes.
    pub fn from_twos(b: &[u8]) -> (bool, Mag) {
        let negative = b.first().is_some_and(|x| x & 0x80 != 0);
        if !negative {
            return (false, Mag::from_be_bytes(b));
        }
        let mut inv: Vec<u8> = b.iter().map(|x| !x).collect();
        for x in inv.iter_mut().rev() {
            let (v, overflow) = x.overflowing_add(1);
            *x = v;
            if !overflow {
                break;
            }
        }
        // -2^(8n) inverts to all zeros plus one carrying out: restore it.
        if inv.iter().all(|x| *x == 0) {
            inv.insert(0, 1);
        }
        (true, Mag::from_be_bytes(&inv))
    }

    /// Minimal big-endian two's complement of a signed magnitude.
    pub fn to_twos(negative: bool, m: &Mag) -> Vec<u8> {
        let mut bytes = m.to_be_bytes();
        bytes.insert(0, 0);
        if negative && !m.is_zero() {
            for x in bytes.iter_mut() {
                *x = !*x;
            }
            for x in bytes.iter_mut().rev() {
                let (v, overflow) = x.overflowing_add(1);
                *x = v;
                if !overflow {
                    break;
                }
            }
        }
        minimal_twos(&bytes)
    }

    /// Orders two varints numerically.
    pub fn cmp_twos(a: &[u8], b: &[u8]) -> Ordering {
        let (a, b) = (minimal_twos(a), minimal_twos(b));
        let neg = |x: &[u8]| x.first().is_some_and(|v| v & 0x80 != 0);
        match (neg(&a), neg(&b)) {
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => a.len().cmp(&b.len()).then_with(|| a.cmp(&b)),
            (true, true) => b.len().cmp(&a.len()).then_with(|| a.cmp(&b)),
        }
    }

    pub fn integer_to_string(b: &[u8]) -> String {
        let (negative, m) = from_twos(b);
        if negative {
            format!("-{}", m.to_decimal())
        } else {
            m.to_decimal()
        }
    }

    /// `-?[0-9]+` (a leading `+` is allowed too) to minimal two's complement.
    pub fn parse_integer(text: &str) -> Option<Vec<u8>> {
        let (negative, digits) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        Some(to_twos(negative, &Mag::from_decimal(digits)?))
    }

    /// Java's `BigDecimal(String)`: `[+-]digits[.digits][(e|E)[+-]digits]`
    /// to (unscaled two's complement, scale).
    pub fn parse_decimal(text: &str) -> Option<(Vec<u8>, i32)> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = format!("{int_part}{frac_part}");
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let exp: i64 = match exponent {
            None => 0,
            Some(e) => {
                let body = e.strip_prefix(['+', '-']).unwrap_or(e);
                if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) || body.len() > 12 {
                    return None;
                }
                e.parse().ok()?
            }
        };
        let scale = i32::try_from(frac_part.len() as i64 - exp).ok()?;
        Some((to_twos(negative, &Mag::from_decimal(&digits)?), scale))
    }

    /// Java's `BigDecimal.toString()`: plain when the scale is >= 0 and the
    /// adjusted exponent >= -6, scientific (`1.5E+3`, `1E-7`) otherwise.
    pub fn decimal_to_string(unscaled: &[u8], scale: i32) -> String {
        let (negative, m) = from_twos(unscaled);
        let coeff = m.to_decimal();
        let sign = if negative { "-" } else { "" };
        let adjusted = -i64::from(scale) + (coeff.len() as i64 - 1);
        if scale >= 0 && adjusted >= -6 {
            let scale = scale as usize;
            if scale == 0 {
                format!("{sign}{coeff}")
            } else if coeff.len() > scale {
                let (i, f) = coeff.split_at(coeff.len() - scale);
                format!("{sign}{i}.{f}")
            } else {
                format!("{sign}0.{}{coeff}", "0".repeat(scale - coeff.len()))
            }
        } else {
            let (first, rest) = coeff.split_at(1);
            let dot = if rest.is_empty() { "" } else { "." };
            let plus = if adjusted > 0 { "+" } else { "" };
            format!("{sign}{first}{dot}{rest}E{plus}{adjusted}")
        }
    }

    /// Orders two decimals numerically (scale ignored: 1.0 == 1.00).
    pub fn cmp_decimal(ua: &[u8], sa: i32, ub: &[u8], sb: i32) -> Ordering {
        let (na, ma) = from_twos(ua);
        let (nb, mb) = from_twos(ub);
        let signum = |n: bool, m: &Mag| {
            if m.is_zero() {
                0
            } else if n {
                -1
            } else {
                1
            }
        };
        let (ga, gb) = (signum(na, &ma), signum(nb, &mb));
        if ga != gb || ga == 0 {
            return ga.cmp(&gb);
        }
        let mag = cmp_magnitudes(&ma, i64::from(sa), &mb, i64::from(sb));
        if ga < 0 { mag.reverse() } else { mag }
    }

    /// Bounds on the number of decimal digits of a non-zero magnitude,
    /// from its bit length (widened by one digit against rounding).
    fn digit_bounds(m: &Mag) -> (i64, i64) {
        let top = m.0.last().copied().unwrap_or(0);
        let bits = (m.0.len() as u64 * 32 - u64::from(top.leading_zeros())) as f64;
        let log10_2 = std::f64::consts::LOG10_2;
        let lo = ((bits - 1.0) * log10_2).floor() as i64; // digits - 1, minus margin
        let hi = (bits * log10_2).floor() as i64 + 2;
        (lo, hi)
    }

    /// Compares |a| * 10^-sa with |b| * 10^-sb, both non-zero.
    fn cmp_magnitudes(a: &Mag, sa: i64, b: &Mag, sb: i64) -> Ordering {
        // Cheap exact answer when the leading digit positions are far apart
        // (linear time, so huge hostile values stay affordable).
        let ((la, ha), (lb, hb)) = (digit_bounds(a), digit_bounds(b));
        if ha - sa < lb - sb {
            return Ordering::Less;
        }
        if la - sa > hb - sb {
            return Ordering::Greater;
        }
        let da = a.to_decimal().len() as i64;
        let db = b.to_decimal().len() as i64;
        // Position of the leading digit decides unless it is the same.
        let (ea, eb) = (da - sa, db - sb);
        if ea != eb {
            return ea.cmp(&eb);
        }
        // Same leading position: the scales differ by at most the digit
        // counts, so aligning them costs little.
        let (mut a, mut b) = (a.clone(), b.clone());
        match sa.cmp(&sb) {
            Ordering::Less => a.mul_pow10((sb - sa) as u64),
            Ordering::Greater => b.mul_pow10((sa - sb) as u64),
            Ordering::Equal => {}
        }
        a.cmp(&b)
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn text_forms() {
        let text = |x: &str| CqlValue::Text(x.into());
        assert_eq!(text("it's").to_cql_literal(), "'it''s'");
        assert_eq!(text("it's").to_cqlsh(), "it's");
        assert_eq!(CqlValue::List(vec![text("it's")]).to_cqlsh(), "['it''s']");
        assert_eq!(CqlValue::Blob(vec![0xca, 0xfe]).to_cqlsh(), "0xcafe");
        assert_eq!(CqlValue::Boolean(true).to_cqlsh(), "True");
        assert_eq!(CqlValue::Boolean(true).to_cql_literal(), "true");
        assert_eq!(
            CqlValue::Timestamp(1_704_164_645_123).to_cqlsh(),
            "2024-01-02 03:04:05.123000+0000"
        );
        assert_eq!(
            CqlValue::Timestamp(1_704_164_645_123).to_cql_literal(),
            "'2024-01-02T03:04:05.123Z'"
        );
        assert_eq!(
            CqlValue::Timestamp(0).to_cqlsh(),
            "1970-01-01 00:00:00.000000+0000"
        );
        assert_eq!(
            CqlValue::Timestamp(-1).to_cqlsh(),
            "1969-12-31 23:59:59.999000+0000"
        );
        assert_eq!(
            CqlValue::Timestamp(i64::MAX).to_cqlsh(),
            i64::MAX.to_string()
        );
        assert_eq!(CqlValue::Date(DATE_EPOCH + 19_724).to_cqlsh(), "2024-01-02");
        assert_eq!(
            CqlValue::Date(DATE_EPOCH + 19_724).to_cql_literal(),
            "'2024-01-02'"
        );
        assert_eq!(CqlValue::Date(0).to_cqlsh(), "-2147483648");
        assert_eq!(CqlValue::Date(0).to_cql_literal(), "0");
        assert_eq!(
            CqlValue::Time(48_654_234_000_000).to_cqlsh(),
            "13:30:54.234000000"
        );
        assert_eq!(
            CqlValue::Time(48_654_234_000_000).to_cql_literal(),
            "'13:30:54.234000000'"
        );
        assert_eq!(
            CqlValue::Inet(IpAddr::V4(Ipv4Addr::LOCALHOST)).to_cqlsh(),
            "127.0.0.1"
        );
        assert_eq!(
            CqlValue::Set(vec![CqlValue::Inet(IpAddr::V4(Ipv4Addr::LOCALHOST))]).to_cqlsh(),
            "{'127.0.0.1'}"
        );
        assert_eq!(CqlValue::Float(1.1).to_cqlsh(), "1.1");
        assert_eq!(CqlValue::Float(1.1).to_cql_literal(), "1.1");
        assert_eq!(CqlValue::Float(123_456.7).to_cqlsh(), "1.2346e+05");
        assert_eq!(CqlValue::Double(0.1).to_cqlsh(), "0.1");
        assert_eq!(CqlValue::Double(1e20).to_cqlsh(), "1e+20");
        assert_eq!(CqlValue::Double(1e20).to_cql_literal(), "1e20");
        assert_eq!(CqlValue::Double(123_456_789.0).to_cqlsh(), "123456789");
        assert_eq!(
            CqlValue::Double(std::f64::consts::PI).to_cqlsh(),
            "3.14159265359"
        );
        assert_eq!(CqlValue::Double(0.000_123_456).to_cqlsh(), "0.000123456");
        assert_eq!(CqlValue::Double(-2.5).to_cqlsh(), "-2.5");
        assert_eq!(CqlValue::Double(0.0).to_cqlsh(), "0");
        assert_eq!(CqlValue::Double(f64::NAN).to_cqlsh(), "NaN");
        assert_eq!(
            CqlValue::Double(f64::NEG_INFINITY).to_cql_literal(),
            "-Infinity"
        );
        assert_eq!(CqlValue::Int(-7).to_string(), "-7");
        assert_eq!(
            CqlValue::Map(vec![(
                text("k"),
                CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)])
            )])
            .to_cqlsh(),
            "{'k': [1, 2]}"
        );
        assert_eq!(
            CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None, Some(text("a"))]).to_cqlsh(),
            "(1, null, 'a')"
        );
        assert_eq!(
            CqlValue::Uuid(uuid("550e8400-e29b-41d4-a716-446655440000")).to_cql_literal(),
            "550e8400-e29b-41d4-a716-446655440000"
        );
        assert_eq!(format_g(1234.5, 3), "1.23e+03");
        assert_eq!(format_g(0.0001, 5), "0.0001");
        assert_eq!(format_g(0.00001, 5), "1e-05");
        assert_eq!(format_g(99_999.5, 5), "1e+05");
    }

    // --- a tiny CQL literal reader, only for the round-trip test --------

    struct LitReader<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl LitReader<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i) == Some(&b' ') {
                self.i += 1;
            }
        }
        fn eat(&mut self, c: u8) -> bool {
            self.ws();
            if self.s.get(self.i) == Some(&c) {
                self.i += 1;
                true
            } else {
                false
            }
        }
        fn word(&mut self) -> String {
            self.ws();
            let start = self.i;
            while let Some(&c) = self.s.get(self.i) {
                if b",)]}: ".contains(&c) {
                    break;
                }
                self.i += 1;
            }
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
        }
        fn items(&mut self, close: u8) -> Vec<CqlLiteral> {
            let mut out = Vec::new();
            if self.eat(close) {
                return out;
            }
            loop {
                out.push(self.lit());
                if self.eat(close) {
                    return out;
                }
                assert!(self.eat(b','), "expected , at {}", self.i);
            }
        }
        fn lit(&mut self) -> CqlLiteral {
            self.ws();
            match self.s.get(self.i) {
                Some(b'\'') => {
                    self.i += 1;
                    let mut out = Vec::new();
                    loop {
                        match self.s.get(self.i) {
                            Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                                out.push(b'\'');
                                self.i += 2;
                            }
                            Some(b'\'') => {
                                self.i += 1;
                                break;
                            }
                            Some(&c) => {
                                out.push(c);
                                self.i += 1;
                            }
                            None => panic!("unterminated string"),
                        }
                    }
                    CqlLiteral::Str(String::from_utf8_lossy(&out).into_owned())
                }
                Some(b'[') => {
                    self.i += 1;
                    CqlLiteral::List(self.items(b']'))
                }
                Some(b'(') => {
                    self.i += 1;
                    CqlLiteral::Tuple(self.items(b')'))
                }
                Some(b'{') => {
                    self.i += 1;
                    if self.eat(b'}') {
                        return CqlLiteral::Set(vec![]);
                    }
                    let save = self.i;
                    let w = self.word();
                    let is_ident = w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '"')
                        && parse_uuid(&w).is_none()
                        && !["true", "false", "null", "NaN", "Infinity"].contains(&w.as_str());
                    if is_ident && self.eat(b':') {
                        let mut fields = vec![(w.trim_matches('"').to_string(), self.lit())];
                        while self.eat(b',') {
                            let n = self.word();
                            assert!(self.eat(b':'));
                            fields.push((n.trim_matches('"').to_string(), self.lit()));
                        }
                        assert!(self.eat(b'}'));
                        return CqlLiteral::Udt(fields);
                    }
                    self.i = save;
                    let first = self.lit();
                    if self.eat(b':') {
                        let mut entries = vec![(first, self.lit())];
                        while self.eat(b',') {
                            let k = self.lit();
                            assert!(self.eat(b':'));
                            entries.push((k, self.lit()));
                        }
                        assert!(self.eat(b'}'));
                        CqlLiteral::Map(entries)
                    } else {
                        let mut items = vec![first];
                        while self.eat(b',') {
                            items.push(self.lit());
                        }
                        assert!(self.eat(b'}'));
                        CqlLiteral::Set(items)
                    }
                }
                _ => {
                    let w = self.word();
                    let body = w.strip_prefix('-').unwrap_or(&w);
                    if w == "null" {
                        CqlLiteral::Null
                    } else if w == "true" || w == "false" {
                        CqlLiteral::Bool(w == "true")
                    } else if w.starts_with("0x") {
                        CqlLiteral::Hex(w)
                    } else if parse_uuid(&w).is_some() {
                        CqlLiteral::Uuid(w)
                    } else if is_all_digits(body) {
                        CqlLiteral::Int(w)
                    } else if body == "NaN"
                        || body == "Infinity"
                        || body
                            .bytes()
                            .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
                    {
                        CqlLiteral::Float(w)
                    } else {
                        CqlLiteral::Duration(w)
                    }
                }
            }
        }
    }

    fn read_literal(text: &str) -> CqlLiteral {
        let mut r = LitReader {
            s: text.as_bytes(),
            i: 0,
        };
        let l = r.lit();
        r.ws();
        assert_eq!(r.i, text.len(), "trailing text in {text}");
        l
    }

    #[test]
    fn literals_read_back() {
        for (ty, v) in samples() {
            // Cassandra's duration grammar adds positive units up to
            // i32::MAX / i64::MAX and negates at the end, so the minimum
            // values have no literal (in Cassandra either).
            if matches!(
                v,
                CqlValue::Duration {
                    months: i32::MIN,
                    ..
                }
            ) {
                continue;
            }
            let text = v.to_cql_literal();
            let l = read_literal(&text);
            let back = CqlValue::from_literal(&ty, &l)
                .unwrap_or_else(|e| panic!("{ty} {text}: {e}"))
                .unwrap_or_else(|| panic!("{ty} {text}: null"));
            assert_eq!(back.to_bytes(), v.to_bytes(), "{ty} {text}");
        }
    }

    // --- comparison -----------------------------------------------------

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

    // --- hostile input ---------------------------------------------------

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
}
