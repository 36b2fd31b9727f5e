//! CQL literals to values: [`CqlValue::from_literal`], with Cassandra's
//! rules of which literal kind fits which type and its error messages, and
//! the UUID text form.

use std::net::IpAddr;

use crate::node::value::big;
use crate::node::value::calendar::{parse_date, parse_duration, parse_time, parse_timestamp};
use crate::node::value::model::{CqlLiteral, CqlValue, MAX_VALUE_DEPTH, ValueError, invalid};
use crate::node::value::types::CqlType;

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
