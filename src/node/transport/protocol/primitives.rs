//! The protocol's primitive notations ([int], [string], [bytes], ...) as a
//! checked reader and a writer.
//!
//! The reader works over a borrowed byte slice and checks every length
//! against what is left before it takes or allocates anything, so a hostile
//! frame produces an error, never a panic or a huge allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::node::value::types::CqlType;

/// The deepest collection type nesting accepted in metadata.
pub const MAX_TYPE_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

fn short(what: &str) -> DecodeError {
    DecodeError(format!("Not enough bytes to read {what}"))
}

/// A value in a request: bytes, null, or (v4) not set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    Null,
    Unset,
    Bytes(&'a [u8]),
}

/// One entry of a custom payload: a key and its (maybe null) bytes.
pub type PayloadEntry<'a> = (&'a str, Option<&'a [u8]>);

pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(short(what));
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, DecodeError> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn i32(&mut self, what: &str) -> Result<i32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn i64(&mut self, what: &str) -> Result<i64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_be_bytes(a))
    }

    /// [string]: a [short] length and UTF-8 bytes.
    pub fn string(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let n = usize::from(self.u16(what)?);
        std::str::from_utf8(self.take(n, what)?)
            .map_err(|_| DecodeError(format!("{what} is not valid UTF-8")))
    }

    /// [long string]: an [int] length and UTF-8 bytes.
    pub fn long_string(&mut self, what: &str) -> Result<&'a str, DecodeError> {
        let n = self.i32(what)?;
        let n =
            usize::try_from(n).map_err(|_| DecodeError(format!("Negative length for {what}")))?;
        std::str::from_utf8(self.take(n, what)?)
            .map_err(|_| DecodeError(format!("{what} is not valid UTF-8")))
    }

    /// [bytes]: an [int] length (negative: null) and bytes.
    pub fn bytes(&mut self, what: &str) -> Result<Option<&'a [u8]>, DecodeError> {
        let n = self.i32(what)?;
        if n < 0 {
            return Ok(None);
        }
        Ok(Some(self.take(n as usize, what)?))
    }

    /// [value]: like [bytes], with -2 meaning "not set".
    pub fn value(&mut self, what: &str) -> Result<Value<'a>, DecodeError> {
        let n = self.i32(what)?;
        match n {
            -1 => Ok(Value::Null),
            -2 => Ok(Value::Unset),
            n if n < 0 => Err(DecodeError(format!("Invalid length {n} for {what}"))),
            n => Ok(Value::Bytes(self.take(n as usize, what)?)),
        }
    }

    /// [short bytes]
    pub fn short_bytes(&mut self, what: &str) -> Result<&'a [u8], DecodeError> {
        let n = usize::from(self.u16(what)?);
        self.take(n, what)
    }

    /// [string map]
    pub fn string_map(&mut self, what: &str) -> Result<Vec<(&'a str, &'a str)>, DecodeError> {
        let n = usize::from(self.u16(what)?);
        if n * 4 > self.remaining() {
            return Err(short(what));
        }
        (0..n)
            .map(|_| Ok((self.string(what)?, self.string(what)?)))
            .collect()
    }

    /// [string list]
    pub fn string_list(&mut self, what: &str) -> Result<Vec<&'a str>, DecodeError> {
        let n = usize::from(self.u16(what)?);
        if n * 2 > self.remaining() {
            return Err(short(what));
        }
        (0..n).map(|_| self.string(what)).collect()
    }

    /// [bytes map] (custom payloads).
    pub fn bytes_map(&mut self, what: &str) -> Result<Vec<PayloadEntry<'a>>, DecodeError> {
        let n = usize::from(self.u16(what)?);
        if n * 6 > self.remaining() {
            return Err(short(what));
        }
        (0..n)
            .map(|_| Ok((self.string(what)?, self.bytes(what)?)))
            .collect()
    }
}

/// Appends primitives to a buffer.
pub trait Writer {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_i32(&mut self, v: i32);
    fn put_i64(&mut self, v: i64);
    fn put_string(&mut self, s: &str);
    fn put_long_string(&mut self, s: &str);
    fn put_bytes(&mut self, b: Option<&[u8]>);
    fn put_short_bytes(&mut self, b: &[u8]);
    fn put_string_list(&mut self, l: &[&str]);
    fn put_string_multimap(&mut self, m: &[(&str, Vec<&str>)]);
    fn put_inet(&mut self, a: SocketAddr);
    fn put_option(&mut self, ty: &CqlType);
}

impl Writer for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i32(&mut self, v: i32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_i64(&mut self, v: i64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_string(&mut self, s: &str) {
        // A [string] holds at most 65 535 bytes: a longer one (an error
        // message quoting a huge username) is cut, on a character boundary
        // so that it stays UTF-8.
        let mut n = s.len().min(u16::MAX as usize);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.put_u16(n as u16);
        self.extend_from_slice(&s.as_bytes()[..n]);
    }
    fn put_long_string(&mut self, s: &str) {
        self.put_i32(s.len() as i32);
        self.extend_from_slice(s.as_bytes());
    }
    fn put_bytes(&mut self, b: Option<&[u8]>) {
        match b {
            Some(b) => {
                self.put_i32(b.len() as i32);
                self.extend_from_slice(b);
            }
            None => self.put_i32(-1),
        }
    }
    fn put_short_bytes(&mut self, b: &[u8]) {
        self.put_u16(b.len() as u16);
        self.extend_from_slice(b);
    }
    fn put_string_list(&mut self, l: &[&str]) {
        self.put_u16(l.len() as u16);
        for s in l {
            self.put_string(s);
        }
    }
    fn put_string_multimap(&mut self, m: &[(&str, Vec<&str>)]) {
        self.put_u16(m.len() as u16);
        for (k, v) in m {
            self.put_string(k);
            self.put_string_list(v);
        }
    }
    fn put_inet(&mut self, a: SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => {
                self.put_u8(4);
                self.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.put_u8(16);
                self.extend_from_slice(&ip.octets());
            }
        }
        self.put_i32(i32::from(a.port()));
    }
    fn put_option(&mut self, ty: &CqlType) {
        match ty {
            CqlType::Frozen(inner) => self.put_option(inner),
            CqlType::Custom(class) => {
                self.put_u16(0x0000);
                self.put_string(class);
            }
            CqlType::Duration => {
                // v4 has no duration id: a custom type naming its class.
                self.put_u16(0x0000);
                self.put_string("org.apache.cassandra.db.marshal.DurationType");
            }
            CqlType::List(t) => {
                self.put_u16(0x0020);
                self.put_option(t);
            }
            CqlType::Map(k, v) => {
                self.put_u16(0x0021);
                self.put_option(k);
                self.put_option(v);
            }
            CqlType::Set(t) => {
                self.put_u16(0x0022);
                self.put_option(t);
            }
            CqlType::Udt {
                keyspace,
                name,
                fields,
            } => {
                self.put_u16(0x0030);
                self.put_string(keyspace);
                self.put_string(name);
                self.put_u16(fields.len() as u16);
                for (n, t) in fields {
                    self.put_string(n);
                    self.put_option(t);
                }
            }
            CqlType::Tuple(ts) => {
                self.put_u16(0x0031);
                self.put_u16(ts.len() as u16);
                for t in ts {
                    self.put_option(t);
                }
            }
            native => self.put_u16(native.option_id()),
        }
    }
}

/// Reads an [option] type (for tests and for clients' metadata).
pub fn read_option(r: &mut Reader<'_>, depth: usize) -> Result<CqlType, DecodeError> {
    if depth > MAX_TYPE_DEPTH {
        return Err(DecodeError("Type nesting is too deep".into()));
    }
    let id = r.u16("option id")?;
    Ok(match id {
        0x0000 => CqlType::Custom(r.string("custom type class")?.to_string()),
        0x0001 => CqlType::Ascii,
        0x0002 => CqlType::Bigint,
        0x0003 => CqlType::Blob,
        0x0004 => CqlType::Boolean,
        0x0005 => CqlType::Counter,
        0x0006 => CqlType::Decimal,
        0x0007 => CqlType::Double,
        0x0008 => CqlType::Float,
        0x0009 => CqlType::Int,
        0x000B => CqlType::Timestamp,
        0x000C => CqlType::Uuid,
        0x000D => CqlType::Text,
        0x000E => CqlType::Varint,
        0x000F => CqlType::Timeuuid,
        0x0010 => CqlType::Inet,
        0x0011 => CqlType::Date,
        0x0012 => CqlType::Time,
        0x0013 => CqlType::Smallint,
        0x0014 => CqlType::Tinyint,
        0x0015 => CqlType::Duration,
        0x0020 => CqlType::List(Box::new(read_option(r, depth + 1)?)),
        0x0021 => {
            let k = read_option(r, depth + 1)?;
            CqlType::Map(Box::new(k), Box::new(read_option(r, depth + 1)?))
        }
        0x0022 => CqlType::Set(Box::new(read_option(r, depth + 1)?)),
        0x0030 => {
            let keyspace = r.string("udt keyspace")?.to_string();
            let name = r.string("udt name")?.to_string();
            let n = usize::from(r.u16("udt field count")?);
            if n * 4 > r.remaining() {
                return Err(short("udt fields"));
            }
            let mut fields = Vec::with_capacity(n);
            for _ in 0..n {
                let f = r.string("udt field")?.to_string();
                fields.push((f, read_option(r, depth + 1)?));
            }
            CqlType::Udt {
                keyspace,
                name,
                fields,
            }
        }
        0x0031 => {
            let n = usize::from(r.u16("tuple size")?);
            if n * 2 > r.remaining() {
                return Err(short("tuple types"));
            }
            CqlType::Tuple(
                (0..n)
                    .map(|_| read_option(r, depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        other => return Err(DecodeError(format!("Unknown type id 0x{other:04x}"))),
    })
}

/// Reads an [inet] (address bytes and port).
pub fn read_inet(r: &mut Reader<'_>) -> Result<SocketAddr, DecodeError> {
    let ip = match r.u8("inet size")? {
        4 => {
            let b = r.take(4, "inet")?;
            IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
        }
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(r.take(16, "inet")?);
            IpAddr::V6(Ipv6Addr::from(a))
        }
        n => return Err(DecodeError(format!("Invalid inet size {n}"))),
    };
    let port = r.i32("inet port")?;
    Ok(SocketAddr::new(ip, u16::try_from(port).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_too_long_are_cut_on_a_character_boundary() {
        // 'é' is two bytes: 32 768 of them are 65 536 bytes.
        let long = "é".repeat(32_768);
        let mut out = Vec::new();
        out.put_string(&long);
        let mut r = Reader::new(&out);
        let s = r.string("s").unwrap();
        assert_eq!(s.len(), 65_534);
        assert!(long.starts_with(s));
        assert_eq!(r.remaining(), 0);
    }

    #[test]
    fn primitives_round_trip_and_lengths_are_checked() {
        let mut b = Vec::new();
        b.put_string("héllo");
        b.put_long_string("long");
        b.put_bytes(Some(b"xy"));
        b.put_bytes(None);
        b.put_short_bytes(b"id");
        b.put_string_list(&["a", "b"]);
        let mut r = Reader::new(&b);
        assert_eq!(r.string("s").unwrap(), "héllo");
        assert_eq!(r.long_string("l").unwrap(), "long");
        assert_eq!(r.bytes("b").unwrap(), Some(&b"xy"[..]));
        assert_eq!(r.bytes("b").unwrap(), None);
        assert_eq!(r.short_bytes("sb").unwrap(), b"id");
        assert_eq!(r.string_list("l").unwrap(), ["a", "b"]);
        assert_eq!(r.remaining(), 0);
        assert!(Reader::new(&[0, 5, b'a']).string("s").is_err());
        assert!(Reader::new(&[0x7f, 0xff, 0xff, 0xff]).bytes("b").is_err());
        assert!(Reader::new(&[0xff, 0xff, 0xff, 0xfd]).value("v").is_err());
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xfe]).value("v").unwrap(),
            Value::Unset
        );
        assert!(Reader::new(&[0xff, 0xff]).string_map("m").is_err());
        assert!(
            Reader::new(&[0, 1, 0xfe, 0xff]).string("s").is_err()
                || Reader::new(&[0, 2, 0xfe, 0xff]).string("s").is_err()
        );
    }

    #[test]
    fn option_types_round_trip_and_depth_is_capped() {
        let ty = CqlType::Map(
            Box::new(CqlType::Text),
            Box::new(CqlType::Frozen(Box::new(CqlType::List(Box::new(
                CqlType::Int,
            ))))),
        );
        let mut b = Vec::new();
        b.put_option(&ty);
        let back = read_option(&mut Reader::new(&b), 0).unwrap();
        assert_eq!(
            back,
            CqlType::Map(
                Box::new(CqlType::Text),
                Box::new(CqlType::List(Box::new(CqlType::Int)))
            )
        );
        let deep: Vec<u8> = std::iter::repeat_n([0x00u8, 0x20], 10_000)
            .flatten()
            .collect();
        assert!(read_option(&mut Reader::new(&deep), 0).is_err());
        let mut i = Vec::new();
        i.put_inet("127.0.0.1:9042".parse().unwrap());
        assert_eq!(
            read_inet(&mut Reader::new(&i)).unwrap(),
            "127.0.0.1:9042".parse().unwrap()
        );
    }
}
