//! The CQL listener: sockets, frames and connections.
//!
//! The server accepts TCP connections on the node's native address and CQL
//! port. Each connection has a reader (this task) and a writer task joined
//! by a channel, so responses can leave in any order as requests finish:
//! every request carries a stream id and the client matches answers by it.
//! Requests on one connection run concurrently (bounded by
//! [`MAX_IN_FLIGHT`]); the [`Dispatcher`] decides what each frame means.
//!
//! What clients may make the node hold is bounded as Cassandra bounds it
//! ([`crate::node::transport::limits`] has the settings and the why): a connection over
//! the connection limits is closed on accept; each frame's header is checked
//! before any of its body is read, against `native_transport_max_frame_size`
//! (or, before the connection is authenticated, a much smaller cap) and
//! against the bytes in flight per client address and per node. A refused
//! header gets an ERROR frame on its stream ([`Refusal`]); the body is then
//! skipped through a small buffer (the connection goes on) or, before
//! authentication, the connection is closed unread. A request over the
//! bytes in flight from a client that did not ask for Overloaded runs with
//! a warning ([`RawFrame::warnings`]) and pauses its connection: no further
//! header is read until the connection's requests are done or the limits
//! are met again. Bodies are read as they arrive, never allocated at their
//! declared length up front. Shutdown stops accepting, lets requests in
//! flight finish, and closes.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedReadHalf;

/// A connection's reading half, buffered: one read from the socket takes
/// every frame that has arrived (a pipelining driver sends many at once).
type Reader = tokio::io::BufReader<OwnedReadHalf>;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::node::transport::limits::{
    ConnectionSlot, Connections, InFlight, Refusal, Reservation, TransportLimits,
};

/// Requests one connection may have in flight at once.
pub const MAX_IN_FLIGHT: usize = 2048;
/// Frames waiting for the writer, per connection.
const WRITE_QUEUE: usize = 1024;
/// The frame header's length, counted in a frame's length as Cassandra counts it.
const HEADER_LEN: u64 = 9;

/// A frame as read from the socket: the 9-byte header and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub header: [u8; 9],
    pub body: Vec<u8>,
    /// Client warnings the server adds to the response (backpressure).
    pub warnings: Vec<String>,
}

impl RawFrame {
    pub fn version(&self) -> u8 {
        self.header[0]
    }
    pub fn stream(&self) -> i16 {
        i16::from_be_bytes([self.header[2], self.header[3]])
    }
    pub fn opcode(&self) -> u8 {
        self.header[4]
    }
}

/// What the dispatcher tells the connection to do after a frame.
pub enum Reply {
    /// Send these bytes (one or more complete frames).
    Send(Vec<u8>),
    /// Send these bytes, then close the connection.
    SendAndClose(Vec<u8>),
    Nothing,
}

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Handles the frames of one connection. `sequential` frames (handshake,
/// authentication, REGISTER) are handled before the next frame is read;
/// others run concurrently.
pub trait Dispatcher: Send + Sync + 'static {
    type Conn: Send + Sync + 'static;
    /// A new connection from `peer`.
    fn open(&self, peer: SocketAddr, events: mpsc::Sender<Vec<u8>>) -> Arc<Self::Conn>;
    fn is_sequential(&self, conn: &Self::Conn, frame: &RawFrame) -> bool;
    fn handle(self: &Arc<Self>, conn: Arc<Self::Conn>, frame: RawFrame) -> BoxFuture<Reply>;
    /// Whether the connection has logged in (the full frame size applies).
    fn authenticated(&self, conn: &Self::Conn) -> bool;
    /// Whether the client asked to be refused rather than slowed down when
    /// the node is overloaded (STARTUP's `THROW_ON_OVERLOAD`).
    fn throw_on_overload(&self, conn: &Self::Conn) -> bool;
    /// The ERROR frame answering a header refused for `why`.
    fn refuse(&self, conn: &Self::Conn, header: &[u8; 9], why: &Refusal) -> Vec<u8>;
    fn close(&self, conn: &Self::Conn);
}

/// A running CQL listener.
pub struct CqlServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    shared: Arc<Shared>,
}

/// The limits and the counts every connection of a server shares.
struct Shared {
    limits: TransportLimits,
    in_flight: Arc<InFlight>,
    connections: Arc<Connections>,
    /// Connections waiting for bytes in flight to fall (Cassandra's
    /// `PausedConnections`).
    paused: AtomicU64,
}

impl CqlServer {
    /// Starts serving on `listener` under `limits`.
    pub fn start<D: Dispatcher>(
        listener: TcpListener,
        dispatcher: Arc<D>,
        limits: TransportLimits,
    ) -> std::io::Result<CqlServer> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            limits,
            in_flight: InFlight::new(
                limits.max_request_data_in_flight_per_ip,
                limits.max_request_data_in_flight,
            ),
            connections: Connections::new(
                limits.max_concurrent_connections,
                limits.max_concurrent_connections_per_ip,
            ),
            paused: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, dispatcher, shared.clone(), stopped));
        Ok(CqlServer {
            addr,
            stop,
            task,
            shared,
        })
    }

    /// Request bytes held for `ip`, and for all clients (read and not yet answered).
    pub fn bytes_in_flight(&self, ip: IpAddr) -> (u64, u64) {
        self.shared.in_flight.using(ip)
    }

    /// Client connections open now.
    pub fn connections(&self) -> u64 {
        self.shared.connections.open_count()
    }

    /// Connections not reading because of backpressure now.
    pub fn paused_connections(&self) -> u64 {
        self.shared.paused.load(Ordering::SeqCst)
    }

    /// Stops accepting, closes connections after their requests in flight, and waits.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop<D: Dispatcher>(
    listener: TcpListener,
    dispatcher: Arc<D>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    // Over a connection limit: closed at once, as Cassandra does.
                    let slot = match shared.connections.open(peer.ip()) {
                        Ok(slot) => slot,
                        Err(refused) => {
                            tracing::warn!("{refused}");
                            drop(socket);
                            continue;
                        }
                    };
                    let _ = socket.set_nodelay(true);
                    connections.spawn(connection(socket, peer, dispatcher.clone(), shared.clone(), stopped.clone(), slot));
                }
                Err(e) => {
                    // Out of descriptors and the like: back off briefly, keep serving.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn writer(socket: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut out = BufWriter::with_capacity(64 * 1024, socket);
    while let Some(bytes) = rx.recv().await {
        if out.write_all(&bytes).await.is_err() {
            return;
        }
        // Flush when nothing else is queued: batches writes under load.
        while let Ok(more) = rx.try_recv() {
            if out.write_all(&more).await.is_err() {
                return;
            }
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.shutdown().await;
}

async fn read_frame(r: &mut Reader) -> Result<Option<([u8; 9], u64)>, std::io::Error> {
    let mut header = [0u8; 9];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
    Ok(Some((header, u64::from(len))))
}

/// What to do with a frame whose header was read.
enum Admission {
    /// Read the body: its bytes are reserved. `over`: they did not fit
    /// (backpressure): the request runs anyway, with Cassandra's warning,
    /// and the connection pauses after it.
    Read(Reservation, bool),
    /// Send this ERROR, skip the body, go on.
    Skip(Vec<u8>),
    /// Send this ERROR and close without reading the body.
    Close(Vec<u8>),
}

/// Checks a header against the frame caps and the bytes in flight before
/// any of the body is read (see the module's doc).
fn admit<D: Dispatcher>(
    d: &D,
    conn: &D::Conn,
    shared: &Shared,
    ip: IpAddr,
    header: &[u8; 9],
    len: u64,
    mine: &Arc<AtomicU64>,
) -> Admission {
    let limits = &shared.limits;
    let length = len + HEADER_LEN;
    if !d.authenticated(conn) {
        let max = limits.max_pre_auth_frame_size.min(limits.max_frame_size);
        if length > max {
            let why = Refusal::TooBigBeforeAuth { length, max };
            return Admission::Close(d.refuse(conn, header, &why));
        }
    } else if length > limits.max_frame_size {
        let max = limits.max_frame_size;
        return Admission::Skip(d.refuse(conn, header, &Refusal::TooBig { length, max }));
    }
    match shared.in_flight.try_reserve(ip, len, mine) {
        Ok(r) => Admission::Read(r, false),
        Err(usage) if d.throw_on_overload(conn) => {
            Admission::Skip(d.refuse(conn, header, &Refusal::Overloaded { usage }))
        }
        // As Cassandra: the request that breaks a limit still runs.
        Err(_) => Admission::Read(shared.in_flight.force(ip, len, mine), true),
    }
}

/// A paused connection waits, reading nothing, until it has nothing in
/// flight or its address and the node are both under their limits again
/// (Cassandra's condition for turning autoRead back on); false if the
/// server stops first.
async fn unpaused(
    shared: &Shared,
    ip: IpAddr,
    mine: &AtomicU64,
    stopped: &mut watch::Receiver<bool>,
) -> bool {
    let tracker = &shared.in_flight;
    shared.paused.fetch_add(1, Ordering::SeqCst);
    let go_on = loop {
        let released = tracker.released();
        tokio::pin!(released);
        released.as_mut().enable();
        if mine.load(Ordering::SeqCst) == 0 || tracker.below_limits(ip) {
            break true;
        }
        tokio::select! {
            _ = released => {}
            _ = stopped.changed() => break false,
        }
    };
    shared.paused.fetch_sub(1, Ordering::SeqCst);
    go_on
}

/// Reads `len` body bytes into `into`, or skips them (`into` is `None`)
/// through a small buffer; false if the connection ended or the server stops first.
async fn body(
    rd: &mut Reader,
    len: u64,
    into: Option<&mut Vec<u8>>,
    stopped: &mut watch::Receiver<bool>,
) -> bool {
    let mut part = (&mut *rd).take(len);
    let read = async {
        match into {
            Some(buf) => part.read_to_end(buf).await.map(|n| n as u64),
            None => tokio::io::copy(&mut part, &mut tokio::io::sink()).await,
        }
    };
    tokio::select! {
        n = read => matches!(n, Ok(n) if n == len),
        _ = stopped.changed() => false,
    }
}

async fn connection<D: Dispatcher>(
    socket: TcpStream,
    peer: SocketAddr,
    dispatcher: Arc<D>,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
    _slot: ConnectionSlot,
) {
    let (rd, wr) = socket.into_split();
    let mut rd = Reader::with_capacity(16 * 1024, rd);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let write_task = tokio::spawn(writer(wr, rx));
    let conn = dispatcher.open(peer, tx.clone());
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    // This connection's request bytes in flight.
    let mine = Arc::new(AtomicU64::new(0));
    let mut paused = false;
    loop {
        if paused {
            if !unpaused(&shared, peer.ip(), &mine, &mut stopped).await {
                break;
            }
            paused = false;
        }
        let next = tokio::select! {
            _ = stopped.changed() => break,
            next = read_frame(&mut rd) => next,
        };
        let (header, len) = match next {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) => break,
        };
        let admitted = admit(&*dispatcher, &conn, &shared, peer.ip(), &header, len, &mine);
        let (reservation, warnings) = match admitted {
            Admission::Read(r, false) => (r, Vec::new()),
            Admission::Read(r, true) => {
                paused = true;
                (r, vec![shared.in_flight.backpressure_warning()])
            }
            Admission::Skip(error) => {
                if tx.send(error).await.is_err() || !body(&mut rd, len, None, &mut stopped).await {
                    break;
                }
                continue;
            }
            Admission::Close(error) => {
                let _ = tx.send(error).await;
                break;
            }
        };
        // Read the body as it arrives: a declared length is not trusted.
        let mut bytes = Vec::with_capacity((len as usize).min(64 * 1024));
        if !body(&mut rd, len, Some(&mut bytes), &mut stopped).await {
            break;
        }
        let frame = RawFrame {
            header,
            body: bytes,
            warnings,
        };
        if dispatcher.is_sequential(&conn, &frame) {
            let reply = dispatcher.handle(conn.clone(), frame).await;
            drop(reservation);
            match reply {
                Reply::Send(b) => {
                    if tx.send(b).await.is_err() {
                        break;
                    }
                }
                Reply::SendAndClose(b) => {
                    let _ = tx.send(b).await;
                    break;
                }
                Reply::Nothing => {}
            }
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let (d, c, t) = (dispatcher.clone(), conn.clone(), tx.clone());
        tokio::spawn(async move {
            let reply = d.handle(c, frame).await;
            match reply {
                Reply::Send(b) | Reply::SendAndClose(b) => {
                    let _ = t.send(b).await;
                }
                Reply::Nothing => {}
            }
            drop(permit);
            drop(reservation);
        });
    }
    // Let requests in flight finish before closing the writer.
    let _ = in_flight.acquire_many(MAX_IN_FLIGHT as u32).await;
    dispatcher.close(&conn);
    // The connection state may hold senders (pushed events): drop them all
    // so the writer drains and ends.
    drop(conn);
    drop(tx);
    let _ = write_task.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::time::{Duration, Instant};

    /// Echoes each frame's body back on its stream, then `|` and the
    /// server's warnings if there are any. A body starting with 1 waits
    /// until a frame with body "go" arrives, one starting with 2 until the
    /// test adds a permit to `gate`; opcode 0x01 is sequential. A refusal
    /// is an ERROR frame whose body is a kind byte and the message.
    #[derive(Default)]
    struct Echo {
        closed: AtomicUsize,
        go: tokio::sync::Notify,
        gate: Gate,
        authenticated: AtomicBool,
        throw: AtomicBool,
        /// The largest body handed to the dispatcher.
        largest: AtomicUsize,
    }

    struct Gate(Semaphore);

    impl Default for Gate {
        fn default() -> Self {
            Gate(Semaphore::new(0))
        }
    }

    impl Dispatcher for Echo {
        type Conn = ();
        fn open(&self, _peer: SocketAddr, _events: mpsc::Sender<Vec<u8>>) -> Arc<()> {
            Arc::new(())
        }
        fn is_sequential(&self, _c: &(), f: &RawFrame) -> bool {
            f.opcode() == 0x01
        }
        fn handle(self: &Arc<Self>, _c: Arc<()>, f: RawFrame) -> BoxFuture<Reply> {
            let me = self.clone();
            Box::pin(async move {
                me.largest.fetch_max(f.body.len(), Ordering::SeqCst);
                if f.body.first() == Some(&1) {
                    me.go.notified().await;
                }
                if f.body.first() == Some(&2) {
                    me.gate.0.acquire().await.unwrap().forget();
                }
                if f.body == b"go" {
                    me.go.notify_one();
                }
                let mut body = f.body.clone();
                if !f.warnings.is_empty() {
                    body.push(b'|');
                    body.extend_from_slice(f.warnings.join(";").as_bytes());
                }
                let mut out = f.header.to_vec();
                out[0] |= 0x80;
                out[5..9].copy_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(&body);
                Reply::Send(out)
            })
        }
        fn authenticated(&self, _c: &()) -> bool {
            self.authenticated.load(Ordering::SeqCst)
        }
        fn throw_on_overload(&self, _c: &()) -> bool {
            self.throw.load(Ordering::SeqCst)
        }
        fn refuse(&self, _c: &(), header: &[u8; 9], why: &Refusal) -> Vec<u8> {
            let kind = match why {
                Refusal::TooBig { .. } => 1,
                Refusal::TooBigBeforeAuth { .. } => 2,
                Refusal::Overloaded { .. } => 3,
            };
            let mut body = vec![kind];
            body.extend_from_slice(why.to_string().as_bytes());
            let mut h = header.to_vec();
            h[0] |= 0x80;
            h[4] = 0x00;
            h[5..9].copy_from_slice(&(body.len() as u32).to_be_bytes());
            h.extend_from_slice(&body);
            h
        }
        fn close(&self, _c: &()) {
            self.closed.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn frame(stream: i16, opcode: u8, body: &[u8]) -> Vec<u8> {
        let mut f = vec![4, 0];
        f.extend_from_slice(&stream.to_be_bytes());
        f.push(opcode);
        f.extend_from_slice(&(body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    /// A header declaring `len` body bytes, sent without them.
    fn header(stream: i16, len: u32) -> Vec<u8> {
        let mut h = frame(stream, 0x07, &[]);
        h[5..9].copy_from_slice(&len.to_be_bytes());
        h
    }

    async fn read_one(s: &mut TcpStream) -> (i16, Vec<u8>) {
        let mut h = [0u8; 9];
        s.read_exact(&mut h).await.unwrap();
        let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
        let mut body = vec![0; len];
        s.read_exact(&mut body).await.unwrap();
        (i16::from_be_bytes([h[2], h[3]]), body)
    }

    async fn start(d: &Arc<Echo>, limits: TransportLimits) -> CqlServer {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        CqlServer::start(l, d.clone(), limits).unwrap()
    }

    /// Polls `cond` until it holds, failing after 10 s.
    async fn until(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    #[tokio::test]
    async fn responses_complete_out_of_order_and_bad_frames_close_one_connection() {
        let d = Arc::new(Echo::default());
        let server = start(&d, TransportLimits::default()).await;
        let mut a = TcpStream::connect(server.addr).await.unwrap();
        a.write_all(&frame(1, 0x07, &[1])).await.unwrap();
        a.write_all(&frame(2, 0x07, &[0])).await.unwrap();
        assert_eq!(
            read_one(&mut a).await.0,
            2,
            "the later request answers first"
        );
        a.write_all(&frame(4, 0x07, b"go")).await.unwrap();
        let mut streams = [read_one(&mut a).await.0, read_one(&mut a).await.0];
        streams.sort();
        assert_eq!(streams, [1, 4]);

        // A hostile header on another connection: a declared 1 GiB body.
        let mut b = TcpStream::connect(server.addr).await.unwrap();
        b.write_all(&header(9, 1 << 30)).await.unwrap();
        let (stream, error) = read_one(&mut b).await;
        assert_eq!((stream, error[0]), (9, 2), "an error frame");
        let mut rest = Vec::new();
        assert_eq!(b.read_to_end(&mut rest).await.unwrap(), 0, "then closed");

        // The first connection is unaffected.
        a.write_all(&frame(3, 0x01, b"x")).await.unwrap();
        assert_eq!(read_one(&mut a).await, (3, b"x".to_vec()));
        drop(a);
        server.shutdown().await;
        assert_eq!(d.closed.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_truncated_body_closes_quietly() {
        let d = Arc::new(Echo::default());
        let server = start(&d, TransportLimits::default()).await;
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let mut f = frame(1, 0x07, b"abc");
        f.truncate(f.len() - 1);
        s.write_all(&f).await.unwrap();
        s.shutdown().await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(s.read_to_end(&mut rest).await.unwrap(), 0);
        server.shutdown().await;
        assert_eq!(d.closed.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn frames_over_the_caps_are_refused_on_their_header() {
        let d = Arc::new(Echo::default());
        let server = start(&d, TransportLimits::default()).await;
        let ip: IpAddr = "127.0.0.1".parse().unwrap();

        // Before authentication: over 128 KiB is refused and the connection
        // closed with the body never sent (so never read).
        let mut pre = TcpStream::connect(server.addr).await.unwrap();
        pre.write_all(&header(5, 128 * 1024)).await.unwrap();
        let (stream, error) = read_one(&mut pre).await;
        assert_eq!(stream, 5);
        assert_eq!(error[0], 2);
        assert_eq!(
            String::from_utf8_lossy(&error[1..]),
            "Request is too big: length 131081 exceeds maximum allowed length 131072 before authentication."
        );
        let mut rest = Vec::new();
        assert_eq!(pre.read_to_end(&mut rest).await.unwrap(), 0, "closed");

        // Authenticated: a 17 MiB frame is refused as soon as its header
        // arrives, its body skipped, and the connection goes on.
        d.authenticated.store(true, Ordering::SeqCst);
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let len = 17 * 1024 * 1024;
        s.write_all(&header(6, len)).await.unwrap();
        let (stream, error) = read_one(&mut s).await;
        assert_eq!((stream, error[0]), (6, 1));
        assert_eq!(
            String::from_utf8_lossy(&error[1..]),
            "Request is too big: length 17825801 exceeds maximum allowed length 16777216."
        );
        let chunk = vec![0x55u8; 1024 * 1024];
        for _ in 0..17 {
            s.write_all(&chunk).await.unwrap();
            assert_eq!(server.bytes_in_flight(ip), (0, 0), "nothing is held for it");
        }
        s.write_all(&frame(7, 0x07, b"after")).await.unwrap();
        assert_eq!(read_one(&mut s).await, (7, b"after".to_vec()));
        assert_eq!(
            d.largest.load(Ordering::SeqCst),
            5,
            "no large body reached the dispatcher"
        );
        // 16 MiB exactly, header included, is within the cap.
        let body = vec![7u8; 16 * 1024 * 1024 - 9];
        s.write_all(&frame(8, 0x07, &body)).await.unwrap();
        assert_eq!(read_one(&mut s).await.1.len(), body.len());
        drop(s);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn bytes_in_flight_over_a_limit_are_refused_or_paused() {
        let d = Arc::new(Echo::default());
        d.authenticated.store(true, Ordering::SeqCst);
        let limits = TransportLimits {
            max_request_data_in_flight_per_ip: 100,
            max_request_data_in_flight: 1000,
            ..TransportLimits::default()
        };
        let server = start(&d, limits).await;
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let held = |n: usize| {
            let mut b = vec![2u8];
            b.resize(n, 0);
            b
        };
        let warning = "|Request breached limit(s) on bytes in flight (Endpoint: 100, Global: 1000) and triggered backpressure.";

        // THROW_ON_OVERLOAD: the request that does not fit is refused.
        d.throw.store(true, Ordering::SeqCst);
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(&frame(1, 0x07, &held(60))).await.unwrap();
        until("the first request is held", || {
            server.bytes_in_flight(ip) == (60, 60)
        })
        .await;
        s.write_all(&frame(2, 0x07, &[0; 60])).await.unwrap();
        let (stream, error) = read_one(&mut s).await;
        assert_eq!((stream, error[0]), (2, 3));
        assert_eq!(
            String::from_utf8_lossy(&error[1..]),
            "Request breached limit on bytes in flight. (Using 60/100 bytes of endpoint limit and 60/1000 bytes of global limit.)) Server is currently in an overloaded state and cannot accept more requests."
        );
        // Over a limit on its own: refused too.
        s.write_all(&frame(3, 0x07, &[0; 150])).await.unwrap();
        assert_eq!(read_one(&mut s).await.1[0], 3);
        d.gate.0.add_permits(1);
        assert_eq!(read_one(&mut s).await, (1, held(60)));
        until("all released", || server.bytes_in_flight(ip) == (0, 0)).await;

        // Without it, as Cassandra: the request that breaks the limit runs
        // (with the warning), then the connection reads nothing more until
        // its requests are done or the limits are no longer exceeded.
        d.throw.store(false, Ordering::SeqCst);
        s.write_all(&frame(5, 0x07, &held(60))).await.unwrap();
        until("the first request is held", || {
            server.bytes_in_flight(ip) == (60, 60)
        })
        .await;
        assert_eq!(server.paused_connections(), 0);
        s.write_all(&frame(6, 0x07, &held(60))).await.unwrap();
        until("the connection pauses", || server.paused_connections() == 1).await;
        assert_eq!(server.bytes_in_flight(ip), (120, 120), "over the limit");
        s.write_all(&frame(7, 0x07, &[9; 10])).await.unwrap();
        // Another connection from the same address with nothing in flight
        // is not stalled: its request runs at once, with the warning.
        let mut other = TcpStream::connect(server.addr).await.unwrap();
        other.write_all(&frame(8, 0x07, b"hello")).await.unwrap();
        let (stream, body) = read_one(&mut other).await;
        assert_eq!(stream, 8);
        assert_eq!(String::from_utf8_lossy(&body), format!("hello{warning}"));
        d.gate.0.add_permits(2);
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(read_one(&mut s).await);
        }
        got.sort();
        let mut six = held(60);
        six.extend_from_slice(warning.as_bytes());
        assert_eq!(
            got,
            [(5, held(60)), (6, six), (7, vec![9; 10])],
            "the request that broke the limit ran, warned; the paused one after, unwarned"
        );
        assert_eq!(server.paused_connections(), 0);
        // Over a limit on its own, with nothing else in flight: it runs.
        s.write_all(&frame(9, 0x07, &[0; 150])).await.unwrap();
        let (stream, body) = read_one(&mut s).await;
        assert_eq!((stream, body.len()), (9, 150 + warning.len()));
        until("all released", || server.bytes_in_flight(ip) == (0, 0)).await;
        drop((s, other));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_connection_over_the_limit_is_closed_at_once() {
        let d = Arc::new(Echo::default());
        let limits = TransportLimits {
            max_concurrent_connections_per_ip: 1,
            ..TransportLimits::default()
        };
        let server = start(&d, limits).await;
        let mut first = TcpStream::connect(server.addr).await.unwrap();
        first.write_all(&frame(1, 0x07, b"a")).await.unwrap();
        assert_eq!(read_one(&mut first).await.0, 1);
        let mut second = TcpStream::connect(server.addr).await.unwrap();
        let mut rest = Vec::new();
        assert_eq!(
            second.read_to_end(&mut rest).await.unwrap(),
            0,
            "closed, nothing sent"
        );
        assert_eq!(server.connections(), 1);
        drop(first);
        until("the first connection is gone", || server.connections() == 0).await;
        let mut third = TcpStream::connect(server.addr).await.unwrap();
        third.write_all(&frame(2, 0x07, b"b")).await.unwrap();
        assert_eq!(read_one(&mut third).await.0, 2);
        drop(third);
        server.shutdown().await;
        assert_eq!(
            d.closed.load(Ordering::SeqCst),
            2,
            "the refused one never opened"
        );
    }
}
