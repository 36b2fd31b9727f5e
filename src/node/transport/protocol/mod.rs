//! # The CQL native protocol, version 4
//!
//! Clients and nodes exchange *frames*: a 9-byte header (version, flags,
//! stream id, opcode, body length) and a body. A client sends requests
//! (STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, BATCH, REGISTER,
//! AUTH_RESPONSE); the node answers each on the same stream id with READY,
//! AUTHENTICATE, SUPPORTED, RESULT, AUTH_SUCCESS or ERROR, and pushes EVENTs
//! on stream -1 to connections that registered for them. The stream id lets
//! many requests be in flight on one connection, answered in any order.
//!
//! This module is the codec only: [`decode_request`] turns a frame into a
//! [`Request`] (checking every length, never panicking, never trusting a
//! declared size), and [`encode_response`] writes a [`Response`] into a
//! reusable buffer ([`encode_response_warned`] with the client warnings
//! that precede the body under the warning flag). Version negotiation follows Cassandra: a client asking
//! for a version the node does not speak gets a ProtocolError that says
//! `Invalid or unsupported protocol version`, framed in a version the client
//! can read, and drivers step down.
//!
//! The node speaks v4 (`apache/cassandra/doc/native_protocol_v4.spec`);
//! v5 framing is not offered, so clients settle on v4.

pub mod frame;
pub mod primitives;

pub use frame::*;
