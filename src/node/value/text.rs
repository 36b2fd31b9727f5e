//! Values as text: [`CqlValue::to_cql_literal`] (also `Display`) and
//! [`CqlValue::to_cqlsh`].

use std::fmt;

use crate::node::value::big;
use crate::node::value::calendar::{
    DATE_EPOCH, date_text, duration_text, time_text, timestamp_parts,
};
use crate::node::value::literal::format_uuid;
use crate::node::value::model::{CqlValue, MAX_VALUE_DEPTH};
use crate::node::value::types::quote_identifier;

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

/// C's `%.{p}g`.
pub(super) fn format_g(v: f64, precision: usize) -> String {
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
