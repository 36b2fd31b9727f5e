//! # transport: clients on the native protocol
//!
//! Cassandra's `transport` package: how a driver's bytes become requests
//! and responses.
//!
//! - [`server`]: the listener; it accepts connections and reads whole
//!   frames, checking each frame's header against the [`limits`] before its
//!   body is read (frame size, a smaller cap before authentication, bytes
//!   in flight per client address and per node, connection counts).
//! - [`connection`]: one client connection: STARTUP, the SASL
//!   authentication, OPTIONS, REGISTER and event pushes, and each request
//!   handed to the CQL engine off the async runtime.
//! - [`protocol`]: native protocol v4 frames and their primitive types,
//!   decoded and encoded without trusting a length the client sent.

pub mod connection;
pub mod limits;
pub mod protocol;
pub mod server;
