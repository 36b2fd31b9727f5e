//! Arbitrary-precision integers, just enough for varint and decimal.

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
