//! Frames, requests and responses of protocol v4.

use std::net::SocketAddr;

use crate::node::db::consistency::Consistency;
use crate::node::error::QueryError;
use crate::node::transport::protocol::primitives::{DecodeError, Reader, Value, Writer};
use crate::node::value::types::CqlType;

/// The protocol version this node speaks.
pub const VERSION: u8 = 4;
pub const RESPONSE: u8 = 0x80;
pub const HEADER_LEN: usize = 9;

pub const FLAG_COMPRESSION: u8 = 0x01;
pub const FLAG_TRACING: u8 = 0x02;
pub const FLAG_CUSTOM_PAYLOAD: u8 = 0x04;
pub const FLAG_WARNING: u8 = 0x08;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Opcode {
    Error = 0x00,
    Startup = 0x01,
    Ready = 0x02,
    Authenticate = 0x03,
    Options = 0x05,
    Supported = 0x06,
    Query = 0x07,
    Result = 0x08,
    Prepare = 0x09,
    Execute = 0x0A,
    Register = 0x0B,
    Event = 0x0C,
    Batch = 0x0D,
    AuthChallenge = 0x0E,
    AuthResponse = 0x0F,
    AuthSuccess = 0x10,
}

impl Opcode {
    pub fn from_u8(b: u8) -> Option<Opcode> {
        Some(match b {
            0x00 => Opcode::Error,
            0x01 => Opcode::Startup,
            0x02 => Opcode::Ready,
            0x03 => Opcode::Authenticate,
            0x05 => Opcode::Options,
            0x06 => Opcode::Supported,
            0x07 => Opcode::Query,
            0x08 => Opcode::Result,
            0x09 => Opcode::Prepare,
            0x0A => Opcode::Execute,
            0x0B => Opcode::Register,
            0x0C => Opcode::Event,
            0x0D => Opcode::Batch,
            0x0E => Opcode::AuthChallenge,
            0x0F => Opcode::AuthResponse,
            0x10 => Opcode::AuthSuccess,
            _ => return None,
        })
    }
}

/// A frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub version: u8,
    pub flags: u8,
    pub stream: i16,
    pub opcode: u8,
    pub length: u32,
}

impl Header {
    pub fn parse(b: &[u8; 9]) -> Header {
        Header {
            version: b[0],
            flags: b[1],
            stream: i16::from_be_bytes([b[2], b[3]]),
            opcode: b[4],
            length: u32::from_be_bytes([b[5], b[6], b[7], b[8]]),
        }
    }
}

/// Checks the version byte of a request. `Err` carries the ERROR frame to
/// send before closing: Cassandra's message, framed in a version the client
/// can read (ours when it asked for a newer one, its own when older).
pub fn check_version(version_byte: u8, stream: i16) -> Result<(), Vec<u8>> {
    if version_byte & RESPONSE != 0 {
        return Err(error_frame(
            VERSION,
            stream,
            &QueryError::Protocol(
                "Invalid message direction: a response frame was sent to the node".into(),
            ),
        ));
    }
    let v = version_byte & 0x7f;
    if v == VERSION {
        return Ok(());
    }
    let framed = if (1..VERSION).contains(&v) {
        v
    } else {
        VERSION
    };
    let msg = format!(
        "Invalid or unsupported protocol version ({v}); supported versions are ({VERSION}/v{VERSION})"
    );
    Err(error_frame(framed, stream, &QueryError::Protocol(msg)))
}

/// The query parameters of QUERY and EXECUTE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryParams<'a> {
    pub consistency: Consistency,
    pub values: Vec<Value<'a>>,
    /// Names of the values when sent by name.
    pub names: Option<Vec<&'a str>>,
    pub skip_metadata: bool,
    pub page_size: Option<i32>,
    pub paging_state: Option<&'a [u8]>,
    pub serial_consistency: Option<Consistency>,
    pub default_timestamp: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchKind {
    Logged,
    Unlogged,
    Counter,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchStatement<'a> {
    Query(&'a str),
    Prepared(&'a [u8]),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Startup(Vec<(&'a str, &'a str)>),
    Options,
    Query {
        query: &'a str,
        params: QueryParams<'a>,
    },
    Prepare {
        query: &'a str,
    },
    Execute {
        id: &'a [u8],
        params: QueryParams<'a>,
    },
    Batch {
        kind: BatchKind,
        statements: Vec<(BatchStatement<'a>, Vec<Value<'a>>)>,
        consistency: Consistency,
        serial_consistency: Option<Consistency>,
        default_timestamp: Option<i64>,
    },
    Register(Vec<&'a str>),
    AuthResponse(Option<&'a [u8]>),
}

fn read_consistency(r: &mut Reader<'_>) -> Result<Consistency, DecodeError> {
    let code = r.u16("consistency")?;
    Consistency::from_code(code)
        .ok_or_else(|| DecodeError(format!("Unknown code {code} for a consistency level")))
}

fn query_params<'a>(r: &mut Reader<'a>) -> Result<QueryParams<'a>, DecodeError> {
    let consistency = read_consistency(r)?;
    let flags = r.u8("query flags")?;
    let mut p = QueryParams {
        consistency,
        values: Vec::new(),
        names: None,
        skip_metadata: flags & 0x02 != 0,
        page_size: None,
        paging_state: None,
        serial_consistency: None,
        default_timestamp: None,
    };
    if flags & 0x01 != 0 {
        let n = usize::from(r.u16("value count")?);
        if n * 4 > r.remaining() {
            return Err(DecodeError("Not enough bytes to read the values".into()));
        }
        let named = flags & 0x40 != 0;
        let mut names = Vec::new();
        for _ in 0..n {
            if named {
                names.push(r.string("value name")?);
            }
            p.values.push(r.value("value")?);
        }
        if named {
            p.names = Some(names);
        }
    }
    if flags & 0x04 != 0 {
        p.page_size = Some(r.i32("page size")?);
    }
    if flags & 0x08 != 0 {
        p.paging_state = r.bytes("paging state")?;
    }
    if flags & 0x10 != 0 {
        p.serial_consistency = Some(read_consistency(r)?);
    }
    if flags & 0x20 != 0 {
        p.default_timestamp = Some(r.i64("default timestamp")?);
    }
    if flags & 0x80 != 0 {
        return Err(DecodeError("Unknown query flag 0x80 in protocol v4".into()));
    }
    Ok(p)
}

/// Decodes a request body. Frames with the tracing or custom-payload flags
/// have those parts skipped; compressed frames are refused (no compression
/// is offered in SUPPORTED).
pub fn decode_request<'a>(header: &Header, body: &'a [u8]) -> Result<Request<'a>, DecodeError> {
    if header.flags & FLAG_COMPRESSION != 0 {
        return Err(DecodeError(
            "Compressed frames are not supported: no compression was negotiated".into(),
        ));
    }
    let mut r = Reader::new(body);
    if header.flags & FLAG_CUSTOM_PAYLOAD != 0 {
        r.bytes_map("custom payload")?;
    }
    let opcode = Opcode::from_u8(header.opcode)
        .ok_or_else(|| DecodeError(format!("Unknown opcode {}", header.opcode)))?;
    let req = match opcode {
        Opcode::Startup => Request::Startup(r.string_map("STARTUP options")?),
        Opcode::Options => Request::Options,
        Opcode::Query => {
            let query = r.long_string("query")?;
            Request::Query {
                query,
                params: query_params(&mut r)?,
            }
        }
        Opcode::Prepare => Request::Prepare {
            query: r.long_string("query")?,
        },
        Opcode::Execute => {
            let id = r.short_bytes("prepared id")?;
            Request::Execute {
                id,
                params: query_params(&mut r)?,
            }
        }
        Opcode::Batch => {
            let kind = match r.u8("batch type")? {
                0 => BatchKind::Logged,
                1 => BatchKind::Unlogged,
                2 => BatchKind::Counter,
                k => return Err(DecodeError(format!("Invalid BATCH message type {k}"))),
            };
            let n = usize::from(r.u16("batch size")?);
            if n * 7 > r.remaining() {
                return Err(DecodeError("Not enough bytes to read the batch".into()));
            }
            let mut statements = Vec::with_capacity(n);
            for _ in 0..n {
                let stmt = match r.u8("batch statement kind")? {
                    0 => BatchStatement::Query(r.long_string("query")?),
                    1 => BatchStatement::Prepared(r.short_bytes("prepared id")?),
                    k => {
                        return Err(DecodeError(format!(
                            "Invalid query kind in BATCH messages. Must be 0 or 1 but got {k}"
                        )));
                    }
                };
                let m = usize::from(r.u16("value count")?);
                if m * 4 > r.remaining() {
                    return Err(DecodeError("Not enough bytes to read the values".into()));
                }
                let values = (0..m)
                    .map(|_| r.value("value"))
                    .collect::<Result<Vec<_>, _>>()?;
                statements.push((stmt, values));
            }
            let consistency = read_consistency(&mut r)?;
            let flags = r.u8("batch flags")?;
            if flags & 0x40 != 0 {
                return Err(DecodeError(
                    "Named values are not supported in BATCH".into(),
                ));
            }
            let serial_consistency = if flags & 0x10 != 0 {
                Some(read_consistency(&mut r)?)
            } else {
                None
            };
            let default_timestamp = if flags & 0x20 != 0 {
                Some(r.i64("default timestamp")?)
            } else {
                None
            };
            Request::Batch {
                kind,
                statements,
                consistency,
                serial_consistency,
                default_timestamp,
            }
        }
        Opcode::Register => Request::Register(r.string_list("event types")?),
        Opcode::AuthResponse => Request::AuthResponse(r.bytes("auth token")?),
        other => {
            return Err(DecodeError(format!(
                "Unexpected opcode {other:?} in a request"
            )));
        }
    };
    if r.remaining() != 0 {
        return Err(DecodeError(format!(
            "{} unexpected bytes after the {opcode:?} body",
            r.remaining()
        )));
    }
    Ok(req)
}

/// A column of result or bind metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    pub keyspace: String,
    pub table: String,
    pub name: String,
    pub ty: CqlType,
}

/// Result rows: metadata and serialized cells (`None`: null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rows {
    pub columns: Vec<ColumnSpec>,
    pub rows: Vec<Vec<Option<Vec<u8>>>>,
    pub paging_state: Option<Vec<u8>>,
    /// The client asked to skip metadata (it has it from PREPARE).
    pub no_metadata: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaChangeTarget {
    Keyspace(String),
    Table { keyspace: String, table: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaChange {
    /// `CREATED`, `UPDATED` or `DROPPED`.
    pub change: &'static str,
    pub target: SchemaChangeTarget,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultBody {
    Void,
    Rows(Rows),
    SetKeyspace(String),
    Prepared {
        id: Vec<u8>,
        /// Bind markers, and the indexes of those that are partition key columns.
        bind: Vec<ColumnSpec>,
        pk_indexes: Vec<u16>,
        result: Vec<ColumnSpec>,
    },
    SchemaChange(SchemaChange),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    TopologyChange {
        change: &'static str,
        address: SocketAddr,
    },
    StatusChange {
        change: &'static str,
        address: SocketAddr,
    },
    SchemaChange(SchemaChange),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Error(QueryError),
    Ready,
    Authenticate(&'static str),
    Supported(Vec<(&'static str, Vec<&'static str>)>),
    AuthSuccess,
    Result(ResultBody),
    Event(Event),
}

fn write_specs(out: &mut Vec<u8>, cols: &[ColumnSpec]) {
    let global = cols.first().map(|c| (&c.keyspace, &c.table));
    let same = global.is_some_and(|(k, t)| cols.iter().all(|c| &c.keyspace == k && &c.table == t));
    if same && let Some((k, t)) = global {
        out.put_string(k);
        out.put_string(t);
    }
    for c in cols {
        if !same {
            out.put_string(&c.keyspace);
            out.put_string(&c.table);
        }
        out.put_string(&c.name);
        out.put_option(&c.ty);
    }
}

fn metadata_flags(cols: &[ColumnSpec]) -> i32 {
    let global = cols.first().map(|c| (&c.keyspace, &c.table));
    let same = global.is_some_and(|(k, t)| cols.iter().all(|c| &c.keyspace == k && &c.table == t));
    if same { 0x01 } else { 0 }
}

fn write_schema_change(out: &mut Vec<u8>, c: &SchemaChange) {
    out.put_string(c.change);
    match &c.target {
        SchemaChangeTarget::Keyspace(k) => {
            out.put_string("KEYSPACE");
            out.put_string(k);
        }
        SchemaChangeTarget::Table { keyspace, table } => {
            out.put_string("TABLE");
            out.put_string(keyspace);
            out.put_string(table);
        }
    }
}

fn write_error(out: &mut Vec<u8>, e: &QueryError) {
    out.put_i32(e.code());
    out.put_string(&e.to_string());
    match e {
        QueryError::Unavailable {
            consistency,
            required,
            alive,
        } => {
            out.put_u16(consistency_code(consistency));
            out.put_i32(*required);
            out.put_i32(*alive);
        }
        QueryError::WriteTimeout {
            consistency,
            received,
            block_for,
            write_type,
        } => {
            out.put_u16(consistency_code(consistency));
            out.put_i32(*received);
            out.put_i32(*block_for);
            out.put_string(write_type);
        }
        QueryError::ReadTimeout {
            consistency,
            received,
            block_for,
            data_present,
        } => {
            out.put_u16(consistency_code(consistency));
            out.put_i32(*received);
            out.put_i32(*block_for);
            out.put_u8(u8::from(*data_present));
        }
        QueryError::AlreadyExists {
            keyspace, table, ..
        } => {
            out.put_string(keyspace);
            out.put_string(table);
        }
        QueryError::Unprepared(id) => out.put_short_bytes(id),
        _ => {}
    }
}

fn consistency_code(name: &str) -> u16 {
    (0..=10)
        .find(|c| Consistency::from_code(*c).is_some_and(|cl| cl.to_string() == name))
        .unwrap_or(1)
}

/// Appends one response frame to `out` (which may already hold frames).
pub fn encode_response(out: &mut Vec<u8>, stream: i16, resp: &Response) {
    encode_response_warned(out, stream, resp, &[]);
}

/// Appends one response frame carrying client `warnings` (Cassandra's
/// `ClientWarn`): with any, the header has the warning flag (0x08) and the
/// body starts with them as a [string list], which drivers log.
pub fn encode_response_warned(
    out: &mut Vec<u8>,
    stream: i16,
    resp: &Response,
    warnings: &[String],
) {
    let start = out.len();
    let opcode = match resp {
        Response::Error(_) => Opcode::Error,
        Response::Ready => Opcode::Ready,
        Response::Authenticate(_) => Opcode::Authenticate,
        Response::Supported(_) => Opcode::Supported,
        Response::AuthSuccess => Opcode::AuthSuccess,
        Response::Result(_) => Opcode::Result,
        Response::Event(_) => Opcode::Event,
    };
    let flags = if warnings.is_empty() { 0 } else { FLAG_WARNING };
    out.extend_from_slice(&[VERSION | RESPONSE, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.push(opcode as u8);
    out.extend_from_slice(&[0, 0, 0, 0]);
    let body = out.len();
    if !warnings.is_empty() {
        let list: Vec<&str> = warnings.iter().map(String::as_str).collect();
        out.put_string_list(&list);
    }
    match resp {
        Response::Error(e) => write_error(out, e),
        Response::Ready => {}
        Response::Authenticate(class) => out.put_string(class),
        Response::Supported(m) => out.put_string_multimap(m),
        Response::AuthSuccess => out.put_bytes(None),
        Response::Result(r) => match r {
            ResultBody::Void => out.put_i32(0x0001),
            ResultBody::Rows(rows) => {
                out.put_i32(0x0002);
                let mut flags = if rows.no_metadata {
                    0x04
                } else {
                    metadata_flags(&rows.columns)
                };
                if rows.paging_state.is_some() {
                    flags |= 0x02;
                }
                out.put_i32(flags);
                out.put_i32(rows.columns.len() as i32);
                if let Some(p) = &rows.paging_state {
                    out.put_bytes(Some(p));
                }
                if !rows.no_metadata {
                    write_specs(out, &rows.columns);
                }
                out.put_i32(rows.rows.len() as i32);
                for row in &rows.rows {
                    for cell in row {
                        out.put_bytes(cell.as_deref());
                    }
                }
            }
            ResultBody::SetKeyspace(k) => {
                out.put_i32(0x0003);
                out.put_string(k);
            }
            ResultBody::Prepared {
                id,
                bind,
                pk_indexes,
                result,
            } => {
                out.put_i32(0x0004);
                out.put_short_bytes(id);
                out.put_i32(metadata_flags(bind));
                out.put_i32(bind.len() as i32);
                out.put_i32(pk_indexes.len() as i32);
                for i in pk_indexes {
                    out.put_u16(*i);
                }
                write_specs(out, bind);
                if result.is_empty() {
                    out.put_i32(0x0004);
                    out.put_i32(0);
                } else {
                    out.put_i32(metadata_flags(result));
                    out.put_i32(result.len() as i32);
                    write_specs(out, result);
                }
            }
            ResultBody::SchemaChange(c) => {
                out.put_i32(0x0005);
                write_schema_change(out, c);
            }
        },
        Response::Event(e) => match e {
            Event::TopologyChange { change, address } => {
                out.put_string("TOPOLOGY_CHANGE");
                out.put_string(change);
                out.put_inet(*address);
            }
            Event::StatusChange { change, address } => {
                out.put_string("STATUS_CHANGE");
                out.put_string(change);
                out.put_inet(*address);
            }
            Event::SchemaChange(c) => {
                out.put_string("SCHEMA_CHANGE");
                write_schema_change(out, c);
            }
        },
    }
    let len = (out.len() - body) as u32;
    out[start + 5..start + 9].copy_from_slice(&len.to_be_bytes());
}

/// An ERROR frame in protocol `version` (for version negotiation and fatal errors).
pub fn error_frame(version: u8, stream: i16, e: &QueryError) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response(&mut out, stream, &Response::Error(e.clone()));
    out[0] = version | RESPONSE;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::transport::protocol::primitives::read_option;

    fn header(opcode: Opcode, body: &[u8]) -> Header {
        Header {
            version: 4,
            flags: 0,
            stream: 1,
            opcode: opcode as u8,
            length: body.len() as u32,
        }
    }

    fn query_body(q: &str, flags: u8, tail: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.put_long_string(q);
        b.put_u16(6); // LOCAL_QUORUM
        b.put_u8(flags);
        b.extend_from_slice(tail);
        b
    }

    #[test]
    fn decodes_queries_with_every_parameter() {
        let mut tail = Vec::new();
        tail.put_u16(2);
        tail.put_string("a");
        tail.put_bytes(Some(b"x"));
        tail.put_string("b");
        tail.put_i32(-2);
        tail.put_i32(100);
        tail.put_bytes(Some(b"ps"));
        tail.put_u16(9);
        tail.put_i64(42);
        let body = query_body(
            "SELECT 1",
            0x01 | 0x40 | 0x04 | 0x08 | 0x10 | 0x20 | 0x02,
            &tail,
        );
        let Request::Query { query, params } =
            decode_request(&header(Opcode::Query, &body), &body).unwrap()
        else {
            panic!()
        };
        assert_eq!(query, "SELECT 1");
        assert_eq!(params.consistency, Consistency::LocalQuorum);
        assert_eq!(params.names, Some(vec!["a", "b"]));
        assert_eq!(params.values, vec![Value::Bytes(b"x"), Value::Unset]);
        assert_eq!(
            (
                params.page_size,
                params.paging_state,
                params.serial_consistency,
                params.default_timestamp,
                params.skip_metadata
            ),
            (
                Some(100),
                Some(&b"ps"[..]),
                Some(Consistency::LocalSerial),
                Some(42),
                true
            )
        );
    }

    #[test]
    fn decodes_batches_startup_register_and_auth() {
        let mut b = vec![1u8];
        b.put_u16(2);
        b.put_u8(0);
        b.put_long_string("INSERT");
        b.put_u16(1);
        b.put_bytes(Some(b"v"));
        b.put_u8(1);
        b.put_short_bytes(b"id");
        b.put_u16(0);
        b.put_u16(1);
        b.put_u8(0x20);
        b.put_i64(7);
        let Request::Batch {
            kind,
            statements,
            default_timestamp,
            ..
        } = decode_request(&header(Opcode::Batch, &b), &b).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (kind, statements.len(), default_timestamp),
            (BatchKind::Unlogged, 2, Some(7))
        );
        let mut s = Vec::new();
        s.put_u16(1);
        s.put_string("CQL_VERSION");
        s.put_string("3.0.0");
        assert_eq!(
            decode_request(&header(Opcode::Startup, &s), &s).unwrap(),
            Request::Startup(vec![("CQL_VERSION", "3.0.0")])
        );
        let mut a = Vec::new();
        a.put_bytes(Some(b"\0u\0p"));
        assert_eq!(
            decode_request(&header(Opcode::AuthResponse, &a), &a).unwrap(),
            Request::AuthResponse(Some(b"\0u\0p"))
        );
    }

    #[test]
    fn hostile_bodies_are_errors() {
        let cases: Vec<(Opcode, Vec<u8>)> = vec![
            (Opcode::Query, vec![0x7f, 0xff, 0xff, 0xff]),
            (Opcode::Query, query_body("q", 0x01, &[0xff, 0xff])),
            (Opcode::Query, query_body("q", 0x80, &[])),
            (Opcode::Batch, vec![9]),
            (Opcode::Batch, vec![0, 0xff, 0xff]),
            (Opcode::Startup, vec![0xff]),
            (Opcode::Execute, vec![0, 4, 1]),
            (Opcode::Result, vec![]),
            (Opcode::Options, vec![1]),
        ];
        for (op, body) in cases {
            assert!(
                decode_request(&header(op, &body), &body).is_err(),
                "{op:?} {body:?}"
            );
        }
        assert!(
            decode_request(
                &Header {
                    opcode: 0x42,
                    ..header(Opcode::Options, &[])
                },
                &[]
            )
            .is_err()
        );
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..100_000u32 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 48) as usize;
            let body: Vec<u8> = (0..len)
                .map(|j| (seed >> ((j % 8) * 8)) as u8 ^ (i as u8))
                .collect();
            let op = [0x01, 0x05, 0x07, 0x09, 0x0A, 0x0B, 0x0D, 0x0F][(i % 8) as usize];
            let h = Header {
                version: 4,
                flags: (seed >> 60) as u8 & 0x06,
                stream: 0,
                opcode: op,
                length: len as u32,
            };
            let _ = decode_request(&h, &body);
        }
    }

    #[test]
    fn version_negotiation_speaks_cassandras_words() {
        assert!(check_version(4, 0).is_ok());
        for (asked, framed) in [(5u8, 4u8), (0x42, 4), (3, 3)] {
            let frame = check_version(asked, 7).unwrap_err();
            assert_eq!(frame[0], framed | RESPONSE);
            assert_eq!(i16::from_be_bytes([frame[2], frame[3]]), 7);
            let mut r = Reader::new(&frame[9..]);
            assert_eq!(r.i32("code").unwrap(), 0x000A);
            let msg = r.string("msg").unwrap();
            assert!(
                msg.contains("Invalid or unsupported protocol version")
                    && msg.contains(&format!("({})", asked & 0x7f)),
                "{msg}"
            );
        }
        assert!(check_version(0x84, 0).is_err());
    }

    #[test]
    fn encodes_results_and_errors() {
        let cols = vec![
            ColumnSpec {
                keyspace: "ks".into(),
                table: "t".into(),
                name: "k".into(),
                ty: CqlType::Int,
            },
            ColumnSpec {
                keyspace: "ks".into(),
                table: "t".into(),
                name: "m".into(),
                ty: CqlType::Map(Box::new(CqlType::Text), Box::new(CqlType::Int)),
            },
        ];
        let mut out = Vec::new();
        encode_response(
            &mut out,
            3,
            &Response::Result(ResultBody::Rows(Rows {
                columns: cols.clone(),
                rows: vec![vec![Some(vec![0, 0, 0, 1]), None]],
                paging_state: Some(b"p".to_vec()),
                no_metadata: false,
            })),
        );
        assert_eq!(&out[..5], &[0x84, 0, 0, 3, 0x08]);
        let len = u32::from_be_bytes([out[5], out[6], out[7], out[8]]) as usize;
        assert_eq!(len, out.len() - 9);
        let mut r = Reader::new(&out[9..]);
        assert_eq!(r.i32("kind").unwrap(), 2);
        assert_eq!(r.i32("flags").unwrap(), 0x03);
        assert_eq!(r.i32("count").unwrap(), 2);
        assert_eq!(r.bytes("paging").unwrap(), Some(&b"p"[..]));
        assert_eq!(
            (
                r.string("ks").unwrap(),
                r.string("t").unwrap(),
                r.string("k").unwrap()
            ),
            ("ks", "t", "k")
        );
        assert_eq!(read_option(&mut r, 0).unwrap(), CqlType::Int);
        r.string("m").unwrap();
        assert_eq!(read_option(&mut r, 0).unwrap(), cols[1].ty);
        assert_eq!(r.i32("rows").unwrap(), 1);
        assert_eq!(r.bytes("c").unwrap(), Some(&[0, 0, 0, 1][..]));
        assert_eq!(r.bytes("c").unwrap(), None);
        assert_eq!(r.remaining(), 0);

        let mut e = Vec::new();
        encode_response(
            &mut e,
            1,
            &Response::Error(QueryError::Unavailable {
                consistency: "EACH_QUORUM".into(),
                required: 2,
                alive: 0,
            }),
        );
        let mut r = Reader::new(&e[9..]);
        assert_eq!(r.i32("code").unwrap(), 0x1000);
        r.string("msg").unwrap();
        assert_eq!(
            (
                r.u16("cl").unwrap(),
                r.i32("req").unwrap(),
                r.i32("alive").unwrap()
            ),
            (7, 2, 0)
        );
        let mut e = Vec::new();
        encode_response(
            &mut e,
            1,
            &Response::Error(QueryError::AlreadyExists {
                keyspace: "ks".into(),
                table: String::new(),
                message: "m".into(),
            }),
        );
        let mut r = Reader::new(&e[9..]);
        assert_eq!(r.i32("code").unwrap(), 0x2400);
        assert_eq!(
            (
                r.string("m").unwrap(),
                r.string("k").unwrap(),
                r.string("t").unwrap()
            ),
            ("m", "ks", "")
        );
    }

    #[test]
    fn warnings_precede_the_body_under_the_warning_flag() {
        let mut out = Vec::new();
        let warnings = vec!["first".to_string(), "second".to_string()];
        encode_response_warned(&mut out, 7, &Response::Result(ResultBody::Void), &warnings);
        assert_eq!(&out[..5], &[0x84, FLAG_WARNING, 0, 7, 0x08]);
        let len = u32::from_be_bytes([out[5], out[6], out[7], out[8]]) as usize;
        assert_eq!(len, out.len() - 9);
        let mut r = Reader::new(&out[9..]);
        assert_eq!(r.string_list("warnings").unwrap(), vec!["first", "second"]);
        assert_eq!(r.i32("kind").unwrap(), 1);
        assert_eq!(r.remaining(), 0);

        // Errors carry them too; none means no flag and no list.
        let mut e = Vec::new();
        encode_response_warned(
            &mut e,
            1,
            &Response::Error(QueryError::Overloaded("busy".into())),
            &warnings[..1],
        );
        let mut r = Reader::new(&e[9..]);
        assert_eq!(r.string_list("warnings").unwrap(), vec!["first"]);
        assert_eq!(r.i32("code").unwrap(), 0x1001);
        assert_eq!(r.string("msg").unwrap(), "busy");
        assert_eq!(r.remaining(), 0);
        let mut plain = Vec::new();
        encode_response_warned(&mut plain, 1, &Response::Ready, &[]);
        assert_eq!(plain, [0x84, 0, 0, 1, 0x02, 0, 0, 0, 0]);
    }
}
