//! The value model: [`CqlValue`], [`CqlLiteral`] and [`ValueError`], and
//! the small helpers every section shares: the depth cap, a bounds-checked
//! cursor over untrusted bytes, and the error constructors.

use std::net::IpAddr;

use crate::node::value::types::MAX_TYPE_DEPTH;

/// The deepest value nesting decoded, converted or compared. Each level of
/// `frozen<...>` counts too, hence twice the type depth cap.
pub const MAX_VALUE_DEPTH: usize = 2 * MAX_TYPE_DEPTH + 2;

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
// Shared helpers

/// A cursor over untrusted bytes; every read is bounds-checked.
pub(super) struct Reader<'a> {
    pub(super) buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    pub(super) fn i32(&mut self) -> Option<i32> {
        let b = self.take(4)?;
        Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Reads a Cassandra vint (signed, zig-zag).
    pub(super) fn vint(&mut self) -> Option<i64> {
        let first = self.u8()?;
        let extra = first.leading_ones() as usize;
        let mut n = u64::from(first & 0xffu8.checked_shr(extra as u32).unwrap_or(0));
        for &b in self.take(extra)? {
            n = (n << 8) | u64::from(b);
        }
        Some(((n >> 1) as i64) ^ -((n & 1) as i64))
    }
}

pub(super) fn fixed<const N: usize>(bytes: &[u8]) -> Option<[u8; N]> {
    bytes.try_into().ok()
}

/// A [`ValueError::Invalid`] with `msg`.
pub(super) fn invalid<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::Invalid(msg.into()))
}
