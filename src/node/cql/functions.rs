//! The CQL functions a term may call (`now()`, `uuid()`,
//! `currenttimestamp()`, `totimestamp(...)`, `todate(...)`...) and the
//! clock they read.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::node::cql::ast::Term;
use crate::node::cql::session::Result;
use crate::node::error::QueryError;
use crate::node::value::types::CqlType;
use crate::node::value::{CqlLiteral, CqlValue};

/// The wall clock in microseconds since the epoch.
pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// A version-1 (time-based) UUID for now, as `now()` makes.
pub fn timeuuid_now() -> [u8; 16] {
    use rand::RngExt as _;
    // 100-ns intervals since 1582-10-15.
    let ticks = (now_micros() as u64) * 10 + 0x01B2_1DD2_1381_4000;
    let mut u = [0u8; 16];
    let time_low = (ticks & 0xffff_ffff) as u32;
    let time_mid = ((ticks >> 32) & 0xffff) as u16;
    let time_hi = (((ticks >> 48) & 0x0fff) as u16) | 0x1000;
    u[0..4].copy_from_slice(&time_low.to_be_bytes());
    u[4..6].copy_from_slice(&time_mid.to_be_bytes());
    u[6..8].copy_from_slice(&time_hi.to_be_bytes());
    let mut rest = [0u8; 8];
    rand::rng().fill(&mut rest);
    rest[0] = (rest[0] & 0x3f) | 0x80;
    u[8..].copy_from_slice(&rest);
    u
}

fn timeuuid_millis(u: &[u8; 16]) -> i64 {
    let time_low = u64::from(u32::from_be_bytes([u[0], u[1], u[2], u[3]]));
    let time_mid = u64::from(u16::from_be_bytes([u[4], u[5]]));
    let time_hi = u64::from(u16::from_be_bytes([u[6], u[7]]) & 0x0fff);
    let ticks = (time_hi << 48) | (time_mid << 32) | time_low;
    ((ticks as i64) - 0x01B2_1DD2_1381_4000) / 10_000
}

pub(super) fn function(f: &str, args: &[Term], ty: &CqlType, name: &str) -> Result<CqlValue> {
    let inner_millis = |args: &[Term]| -> Result<i64> {
        match args {
            [Term::Function(g, a)] if a.is_empty() && g == "now" => Ok(now_micros() / 1000),
            [Term::Literal(CqlLiteral::Uuid(u))] => crate::node::value::parse_uuid(u)
                .map(|u| timeuuid_millis(&u))
                .ok_or_else(|| QueryError::Invalid(format!("Invalid UUID {u}"))),
            _ => Err(QueryError::unsupported(&format!(
                "Function {f} with these arguments is"
            ))),
        }
    };
    let v = match (f, args.len()) {
        ("now", 0) => CqlValue::Timeuuid(timeuuid_now()),
        ("uuid", 0) => CqlValue::Uuid(crate::node::locator::ring::random_uuid(&mut rand::rng())),
        ("currenttimestamp", 0) => CqlValue::Timestamp(now_micros() / 1000),
        ("currenttimeuuid", 0) => CqlValue::Timeuuid(timeuuid_now()),
        ("totimestamp", 1) => CqlValue::Timestamp(inner_millis(args)?),
        ("tounixtimestamp", 1) => CqlValue::Bigint(inner_millis(args)?),
        ("currentdate", 0) | ("todate", _) => {
            let ms = if args.is_empty() {
                now_micros() / 1000
            } else {
                inner_millis(args)?
            };
            CqlValue::Date(((ms.div_euclid(86_400_000)) + (1i64 << 31)) as u32)
        }
        _ => {
            return Err(QueryError::Invalid(format!(
                "Unknown function {f} called (or not supported by ccrsim)"
            )));
        }
    };
    // A function result must suit the receiver.
    let fits = matches!(
        (&v, ty.unfrozen()),
        (CqlValue::Timeuuid(_), CqlType::Timeuuid | CqlType::Uuid)
            | (CqlValue::Uuid(_), CqlType::Uuid)
            | (CqlValue::Timestamp(_), CqlType::Timestamp)
            | (CqlValue::Bigint(_), CqlType::Bigint)
            | (CqlValue::Date(_), CqlType::Date)
    );
    if !fits {
        return Err(QueryError::Invalid(format!(
            "Type error: {f}() cannot be passed as argument 0 of {name} of type {ty}"
        )));
    }
    Ok(match (v, ty.unfrozen()) {
        (CqlValue::Timeuuid(u), CqlType::Uuid) => CqlValue::Uuid(u),
        (v, _) => v,
    })
}
