//! # Client limits: what clients may make a node hold
//!
//! A node reads requests from anyone who can reach its CQL port, so what a
//! client sends must never decide alone how much memory the node gives it.
//! Cassandra 4.1 bounds it in four ways, and so does ccrsim, with the same
//! settings (cassandra.yaml names; [`crate::node::config`] reads them from
//! flags and `CASSANDRA_*` variables):
//!
//! - **Frame size** (`native_transport_max_frame_size`, 16 MiB): checked on
//!   the 9-byte header, before any body byte is read. Cassandra answers an
//!   oversized frame with InvalidRequest `Request is too big: length N
//!   exceeds maximum allowed length M.` (N counts the header) and skips the
//!   body without keeping it, so the connection and its other requests go
//!   on; ccrsim does the same, answering at once and skipping the body
//!   through a small fixed buffer.
//! - **Before authentication** a much smaller cap applies
//!   (`native_transport_max_pre_auth_frame_size`, 128 KiB). Cassandra 4.1 has
//!   no such setting for protocol v4: since CASSANDRA-20052 (4.1.8) it only
//!   refuses, in protocol v5, a message spanning more than one 128 KiB frame
//!   before the connection is ready. ccrsim applies that bound to v4 frames:
//!   STARTUP, OPTIONS and a SASL response fit in it with room to spare, and
//!   an unauthenticated client can no longer make the node buffer 16 MiB.
//!   Such a frame gets a ProtocolError and the connection is closed without
//!   its body being read.
//! - **Bytes in flight** per client address
//!   (`native_transport_max_request_data_in_flight_per_ip`) and per node
//!   (`native_transport_max_request_data_in_flight`): the bodies of the
//!   requests a node has read and not yet answered ([`InFlight`]). Cassandra
//!   derives the defaults from its heap (1/40 and 1/10 of it); ccrsim uses
//!   64 MiB and 256 MiB, what those give for a 2.5 GiB heap. A request that
//!   does not fit is treated as Cassandra's v4 transport does, by the
//!   client's STARTUP option `THROW_ON_OVERLOAD`: with `"1"` it is refused
//!   with Overloaded (`Request breached limit on bytes in flight. (...))
//!   Server is currently in an overloaded state and cannot accept more
//!   requests.`, the doubled parenthesis being Cassandra's) and its body
//!   skipped; without it the request still runs, its response carrying
//!   Cassandra's warning `Request breached limit(s) on bytes in flight
//!   (Endpoint: N, Global: M) and triggered backpressure.`, and the
//!   connection then stops reading (backpressure: the client's TCP window
//!   fills) until it has nothing in flight or its address and the node are
//!   both under their limits again. So each connection holds at most one
//!   frame beyond the limits, as in Cassandra, and a client waiting for its
//!   answers is never stalled by others; the connection limits bound the
//!   rest. The bytes are counted from the header on, so a body still
//!   arriving counts too (Cassandra counts a frame once it is whole).
//! - **Connections** (`native_transport_max_concurrent_connections` and
//!   `..._per_ip`, -1 for unlimited, the default): a connection over a limit
//!   is closed as soon as it is accepted, with nothing sent, and the node
//!   logs Cassandra's warning `Exceeded maximum native connection limit of
//!   N by using M connections` ([`Connections`]).
//!
//! The server ([`crate::node::transport::server`]) applies these; what it refuses on a
//! header is a [`Refusal`], which the connection protocol turns into the
//! client's ERROR frame.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// The native transport's limits (cassandra.yaml names, in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportLimits {
    /// `native_transport_max_frame_size`: the largest frame, header included.
    pub max_frame_size: u64,
    /// ccrsim's `native_transport_max_pre_auth_frame_size`: the largest
    /// frame before the connection is authenticated (see the module's doc).
    pub max_pre_auth_frame_size: u64,
    /// `native_transport_max_request_data_in_flight_per_ip`.
    pub max_request_data_in_flight_per_ip: u64,
    /// `native_transport_max_request_data_in_flight`.
    pub max_request_data_in_flight: u64,
    /// `native_transport_max_concurrent_connections` (negative: unlimited).
    pub max_concurrent_connections: i64,
    /// `native_transport_max_concurrent_connections_per_ip` (negative: unlimited).
    pub max_concurrent_connections_per_ip: i64,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_frame_size: 16 * MIB,
            max_pre_auth_frame_size: 128 * KIB,
            max_request_data_in_flight_per_ip: 64 * MIB,
            max_request_data_in_flight: 256 * MIB,
            max_concurrent_connections: -1,
            max_concurrent_connections_per_ip: -1,
        }
    }
}

/// A frame refused on its header: the server layer's error, which the
/// connection protocol sends as an ERROR frame on the frame's stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Over `native_transport_max_frame_size`: InvalidRequest; the body is
    /// skipped and the connection goes on.
    #[error("Request is too big: length {length} exceeds maximum allowed length {max}.")]
    TooBig { length: u64, max: u64 },
    /// Over the pre-authentication cap: ProtocolError, then the connection
    /// is closed without its body being read.
    #[error(
        "Request is too big: length {length} exceeds maximum allowed length {max} before authentication."
    )]
    TooBigBeforeAuth { length: u64, max: u64 },
    /// Bytes in flight over a limit, with `THROW_ON_OVERLOAD`: Overloaded;
    /// the body is skipped.
    #[error(
        "Request breached limit on bytes in flight. ({usage})) Server is currently in an overloaded state and cannot accept more requests."
    )]
    Overloaded { usage: String },
}

/// Request bytes a node holds, per client address and in all.
pub struct InFlight {
    per_ip_limit: u64,
    global_limit: u64,
    usage: Mutex<Usage>,
    released: Notify,
}

#[derive(Default)]
struct Usage {
    global: u64,
    /// Only addresses with bytes in flight: bounded by the connections.
    per_ip: HashMap<IpAddr, u64>,
}

/// Bytes counted against [`InFlight`] (and against one connection's own
/// count) until dropped.
pub struct Reservation {
    tracker: Arc<InFlight>,
    ip: IpAddr,
    bytes: u64,
    connection: Arc<AtomicU64>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.connection.fetch_sub(self.bytes, Ordering::SeqCst);
        {
            let mut u = self.tracker.lock();
            u.global -= self.bytes;
            if let Some(n) = u.per_ip.get_mut(&self.ip) {
                *n -= self.bytes;
                if *n == 0 {
                    u.per_ip.remove(&self.ip);
                }
            }
        }
        self.tracker.released.notify_waiters();
    }
}

impl InFlight {
    pub fn new(per_ip_limit: u64, global_limit: u64) -> Arc<InFlight> {
        Arc::new(InFlight {
            per_ip_limit,
            global_limit,
            usage: Mutex::new(Usage::default()),
            released: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `bytes` for a request from `ip` on a connection whose own
    /// count is `connection`, if both limits allow it; else says how much
    /// is in use, as Cassandra's Overloaded message does.
    pub fn try_reserve(
        self: &Arc<Self>,
        ip: IpAddr,
        bytes: u64,
        connection: &Arc<AtomicU64>,
    ) -> Result<Reservation, String> {
        let mut u = self.lock();
        let mine = u.per_ip.get(&ip).copied().unwrap_or(0);
        if mine + bytes > self.per_ip_limit || u.global + bytes > self.global_limit {
            return Err(format!(
                "Using {mine}/{} bytes of endpoint limit and {}/{} bytes of global limit.",
                self.per_ip_limit, u.global, self.global_limit
            ));
        }
        Ok(self.add(&mut u, ip, bytes, connection))
    }

    /// Reserves `bytes` whatever the limits (the request that breaks a
    /// limit without `THROW_ON_OVERLOAD` still runs, as in Cassandra).
    pub fn force(
        self: &Arc<Self>,
        ip: IpAddr,
        bytes: u64,
        connection: &Arc<AtomicU64>,
    ) -> Reservation {
        let mut u = self.lock();
        self.add(&mut u, ip, bytes, connection)
    }

    fn add(
        self: &Arc<Self>,
        u: &mut Usage,
        ip: IpAddr,
        bytes: u64,
        connection: &Arc<AtomicU64>,
    ) -> Reservation {
        u.global += bytes;
        *u.per_ip.entry(ip).or_insert(0) += bytes;
        connection.fetch_add(bytes, Ordering::SeqCst);
        Reservation {
            tracker: self.clone(),
            ip,
            bytes,
            connection: connection.clone(),
        }
    }

    /// Whether `ip` and the node both use less than their limits.
    pub fn below_limits(&self, ip: IpAddr) -> bool {
        let u = self.lock();
        u.per_ip.get(&ip).copied().unwrap_or(0) < self.per_ip_limit && u.global < self.global_limit
    }

    /// Bytes in flight from `ip`, and in all.
    pub fn using(&self, ip: IpAddr) -> (u64, u64) {
        let u = self.lock();
        (u.per_ip.get(&ip).copied().unwrap_or(0), u.global)
    }

    /// Resolves after a later release; enable it before checking, so that
    /// no release between the check and the wait is missed.
    pub fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.released.notified()
    }

    /// The client warning of a request that had to wait (Cassandra's).
    pub fn backpressure_warning(&self) -> String {
        format!(
            "Request breached limit(s) on bytes in flight (Endpoint: {}, Global: {}) and triggered backpressure.",
            self.per_ip_limit, self.global_limit
        )
    }
}

/// A connection closed as soon as it was accepted (logged; the client gets
/// nothing, as from Cassandra).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefused {
    #[error("Exceeded maximum native connection limit of {limit} by using {count} connections")]
    Total { limit: u64, count: u64 },
    #[error(
        "Exceeded maximum native connection limit per ip of {limit} by using {count} connections"
    )]
    PerIp { limit: u64, count: u64 },
}

/// Open client connections, per address and in all.
pub struct Connections {
    limit: Option<u64>,
    per_ip_limit: Option<u64>,
    open: Mutex<Usage>,
}

/// One open connection, counted until dropped.
pub struct ConnectionSlot {
    connections: Arc<Connections>,
    ip: IpAddr,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut u = self.connections.lock();
        u.global -= 1;
        if let Some(n) = u.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                u.per_ip.remove(&self.ip);
            }
        }
    }
}

impl Connections {
    /// Limits as Cassandra takes them: negative means unlimited (and, per
    /// address, so does 0).
    pub fn new(limit: i64, per_ip_limit: i64) -> Arc<Connections> {
        Arc::new(Connections {
            limit: u64::try_from(limit).ok(),
            per_ip_limit: u64::try_from(per_ip_limit).ok().filter(|l| *l > 0),
            open: Mutex::new(Usage::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Usage> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a new connection from `ip`, unless it is over a limit.
    pub fn open(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionSlot, ConnectionRefused> {
        let mut u = self.lock();
        if let Some(limit) = self.limit
            && u.global + 1 > limit
        {
            return Err(ConnectionRefused::Total {
                limit,
                count: u.global + 1,
            });
        }
        let mine = u.per_ip.get(&ip).copied().unwrap_or(0);
        if let Some(limit) = self.per_ip_limit
            && mine + 1 > limit
        {
            return Err(ConnectionRefused::PerIp {
                limit,
                count: mine + 1,
            });
        }
        u.global += 1;
        *u.per_ip.entry(ip).or_insert(0) += 1;
        Ok(ConnectionSlot {
            connections: self.clone(),
            ip,
        })
    }

    /// Open connections in all.
    pub fn open_count(&self) -> u64 {
        self.lock().global
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_bytes_are_bounded_per_address_and_in_all() {
        let t = InFlight::new(100, 150);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let (ca, cb) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let r1 = t.try_reserve(a, 60, &ca).unwrap();
        let r2 = t.try_reserve(a, 40, &ca).unwrap();
        assert_eq!(
            t.try_reserve(a, 1, &ca).err().unwrap(),
            "Using 100/100 bytes of endpoint limit and 100/150 bytes of global limit."
        );
        let r3 = t.try_reserve(b, 50, &cb).unwrap();
        assert!(t.try_reserve(b, 1, &cb).is_err(), "the node's limit");
        assert_eq!((t.using(a), ca.load(Ordering::SeqCst)), ((100, 150), 100));
        drop(r1);
        assert_eq!(t.using(a), (40, 90));
        assert_eq!(ca.load(Ordering::SeqCst), 40);
        let r4 = t.try_reserve(b, 50, &cb).unwrap();
        assert!(t.below_limits(a) && !t.below_limits(b), "b uses its 100");
        let forced = t.force(a, 500, &ca);
        assert_eq!(t.using(a).0, 540);
        assert!(!t.below_limits(a));
        drop((r2, r3, r4, forced));
        assert_eq!((t.using(a), t.using(b)), ((0, 0), (0, 0)));
        assert!(t.lock().per_ip.is_empty(), "no entry outlives its bytes");
        assert_eq!(
            t.backpressure_warning(),
            "Request breached limit(s) on bytes in flight (Endpoint: 100, Global: 150) and triggered backpressure."
        );
    }

    #[tokio::test]
    async fn a_release_wakes_a_waiter_that_enabled_before_checking() {
        let t = InFlight::new(10, 10);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let c = Arc::new(AtomicU64::new(0));
        let held = t.try_reserve(ip, 10, &c).unwrap();
        let waiter = {
            let (t, c) = (t.clone(), c.clone());
            tokio::spawn(async move {
                loop {
                    let released = t.released();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    if let Ok(r) = t.try_reserve(ip, 5, &c) {
                        return r.bytes;
                    }
                    released.await;
                }
            })
        };
        tokio::task::yield_now().await;
        drop(held);
        assert_eq!(waiter.await.unwrap(), 5);
    }

    #[test]
    fn connections_over_a_limit_are_refused_and_slots_free_on_drop() {
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let c = Connections::new(3, 2);
        let s1 = c.open(a).unwrap();
        let _s2 = c.open(a).unwrap();
        let e = c.open(a).err().unwrap();
        assert_eq!(
            e.to_string(),
            "Exceeded maximum native connection limit per ip of 2 by using 3 connections"
        );
        let _s3 = c.open(b).unwrap();
        assert_eq!(
            c.open(b).err().unwrap().to_string(),
            "Exceeded maximum native connection limit of 3 by using 4 connections"
        );
        drop(s1);
        assert_eq!(c.open_count(), 2);
        let _s4 = c.open(b).unwrap();
        let unlimited = Connections::new(-1, 0);
        let slots: Vec<_> = (0..100).map(|_| unlimited.open(a).unwrap()).collect();
        assert_eq!(unlimited.open_count(), 100);
        drop(slots);
        assert_eq!(unlimited.open_count(), 0);
    }

    #[test]
    fn refusals_read_as_cassandras_messages() {
        assert_eq!(
            Refusal::TooBig {
                length: 17 * MIB + 9,
                max: 16 * MIB
            }
            .to_string(),
            "Request is too big: length 17825801 exceeds maximum allowed length 16777216."
        );
        assert_eq!(
            Refusal::Overloaded {
                usage: "Using 1/2 bytes of endpoint limit and 3/4 bytes of global limit.".into()
            }
            .to_string(),
            "Request breached limit on bytes in flight. (Using 1/2 bytes of endpoint limit and 3/4 bytes of global limit.)) Server is currently in an overloaded state and cannot accept more requests."
        );
    }
}
