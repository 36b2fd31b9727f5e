//! The CQL native protocol v4 by hand, for tests that must control every
//! byte a client sends (a header without its body, a body sent slowly):
//! frames, STARTUP and a SASL PLAIN login, QUERY, and reading responses
//! with their warnings.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub const STARTUP: u8 = 0x01;
pub const AUTHENTICATE: u8 = 0x03;
pub const ERROR: u8 = 0x00;
pub const READY: u8 = 0x02;
pub const QUERY: u8 = 0x07;
pub const RESULT: u8 = 0x08;
pub const AUTH_RESPONSE: u8 = 0x0F;
pub const AUTH_SUCCESS: u8 = 0x10;

/// A request frame.
pub fn frame(stream: i16, opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut f = header(stream, opcode, body.len() as u32);
    f.extend_from_slice(body);
    f
}

/// A request header declaring `len` body bytes.
pub fn header(stream: i16, opcode: u8, len: u32) -> Vec<u8> {
    let mut h = vec![0x04, 0];
    h.extend_from_slice(&stream.to_be_bytes());
    h.push(opcode);
    h.extend_from_slice(&len.to_be_bytes());
    h
}

fn string_map(pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut b = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        for s in [k, v] {
            b.extend_from_slice(&(s.len() as u16).to_be_bytes());
            b.extend_from_slice(s.as_bytes());
        }
    }
    b
}

/// A QUERY body: the text at consistency ONE, no values.
pub fn query_body(cql: &str) -> Vec<u8> {
    let mut b = (cql.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(cql.as_bytes());
    b.extend_from_slice(&[0x00, 0x01, 0x00]);
    b
}

/// A response: its stream, opcode, warnings and the body after them.
#[derive(Debug)]
pub struct Response {
    pub stream: i16,
    pub opcode: u8,
    pub warnings: Vec<String>,
    pub body: Vec<u8>,
}

impl Response {
    /// An ERROR's code and message.
    pub fn error(&self) -> (i32, String) {
        assert_eq!(self.opcode, ERROR, "an ERROR, not {self:?}");
        let code = i32::from_be_bytes(self.body[..4].try_into().unwrap());
        let n = u16::from_be_bytes([self.body[4], self.body[5]]) as usize;
        (
            code,
            String::from_utf8_lossy(&self.body[6..6 + n]).into_owned(),
        )
    }
}

/// Reads one response frame; fails the test after 30 s without one.
pub async fn read(s: &mut TcpStream) -> Response {
    let deadline = std::time::Duration::from_secs(30);
    tokio::time::timeout(deadline, read_frame(s))
        .await
        .expect("a response within 30 s")
}

async fn read_frame(s: &mut TcpStream) -> Response {
    let mut h = [0u8; 9];
    s.read_exact(&mut h).await.expect("a response header");
    let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.expect("a response body");
    let mut warnings = Vec::new();
    if h[1] & 0x08 != 0 {
        let n = u16::from_be_bytes([body[0], body[1]]) as usize;
        let mut at = 2;
        for _ in 0..n {
            let l = u16::from_be_bytes([body[at], body[at + 1]]) as usize;
            warnings.push(String::from_utf8_lossy(&body[at + 2..at + 2 + l]).into_owned());
            at += 2 + l;
        }
        body.drain(..at);
    }
    Response {
        stream: i16::from_be_bytes([h[2], h[3]]),
        opcode: h[4],
        warnings,
        body,
    }
}

/// Whether the peer closes the connection within 10 s with nothing more
/// to read (a reset counts as closed).
pub async fn closed(s: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    let deadline = std::time::Duration::from_secs(10);
    match tokio::time::timeout(deadline, s.read_to_end(&mut rest)).await {
        Ok(Ok(n)) => n == 0,
        Ok(Err(_)) => rest.is_empty(),
        Err(_) => false,
    }
}

/// Connects, sends STARTUP (with `THROW_ON_OVERLOAD` set to `1` when
/// `throw_on_overload`) and logs in as cassandra/cassandra.
pub async fn login(addr: &str, throw_on_overload: bool) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.expect("connects");
    let mut options = vec![("CQL_VERSION", "3.0.0")];
    if throw_on_overload {
        options.push(("THROW_ON_OVERLOAD", "1"));
    }
    s.write_all(&frame(0, STARTUP, &string_map(&options)))
        .await
        .unwrap();
    assert_eq!(read(&mut s).await.opcode, AUTHENTICATE);
    let token = b"\0cassandra\0cassandra";
    let mut body = (token.len() as u32).to_be_bytes().to_vec();
    body.extend_from_slice(token);
    s.write_all(&frame(1, AUTH_RESPONSE, &body)).await.unwrap();
    assert_eq!(read(&mut s).await.opcode, AUTH_SUCCESS);
    s
}
