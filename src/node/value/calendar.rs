//! The proleptic Gregorian calendar and the text forms of `date`, `time`,
//! `timestamp` and `duration` values, read ([`CqlValue::from_literal`]) and
//! written ([`CqlValue::to_cql_literal`], [`CqlValue::to_cqlsh`]).
//!
//! [`CqlValue::from_literal`]: crate::node::value::CqlValue::from_literal
//! [`CqlValue::to_cql_literal`]: crate::node::value::CqlValue::to_cql_literal
//! [`CqlValue::to_cqlsh`]: crate::node::value::CqlValue::to_cqlsh

use crate::node::value::model::{ValueError, invalid};

/// Days between 0000-03-01 and 1970-01-01, used by the civil calendar maths.
const EPOCH_DAYS_SHIFT: i64 = 719_468;
const MILLIS_PER_DAY: i64 = 86_400_000;
pub(super) const NANOS_PER_DAY: i64 = 86_400_000_000_000;
/// `date` values count days with the Unix epoch at 2^31.
pub const DATE_EPOCH: u32 = 1 << 31;

// ---------------------------------------------------------------------------
// Reading

pub(super) fn is_all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())
}

/// `^-?\d+$`
fn is_raw_integer(s: &str) -> bool {
    is_all_digits(s.strip_prefix('-').unwrap_or(s))
}

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
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - EPOCH_DAYS_SHIFT
}

/// The proleptic Gregorian (year, month, day) of a day since 1970-01-01
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
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

pub(super) fn parse_timestamp(text: &str) -> Result<i64, ValueError> {
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
pub(super) fn parse_date(text: &str) -> Result<u32, ValueError> {
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
pub(super) fn parse_time(text: &str) -> Result<i64, ValueError> {
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
pub(super) fn parse_duration(text: &str) -> Result<(i32, i32, i64), ValueError> {
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
// Writing

/// `2024-01-02` for a `date`, or `None` outside years 1..=9999.
pub(super) fn date_text(d: u32) -> Option<String> {
    let days = i64::from(d) - i64::from(DATE_EPOCH);
    let (y, m, dd) = civil_from_days(days);
    (1..=9999)
        .contains(&y)
        .then(|| format!("{y:04}-{m:02}-{dd:02}"))
}

/// The (date, h, m, s, ms) of epoch millis, or `None` outside years 1..=9999.
pub(super) fn timestamp_parts(ms: i64) -> Option<(String, i64, i64, i64, i64)> {
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

pub(super) fn time_text(t: i64) -> Option<String> {
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
pub(super) fn duration_text(months: i32, days: i32, nanos: i64) -> String {
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
