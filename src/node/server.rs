//! The CQL listener: sockets, frames and connections.
//!
//! The server accepts TCP connections on the node's native address and CQL
//! port. Each connection has a reader (this task) and a writer task joined
//! by a channel, so responses can leave in any order as requests finish:
//! every request carries a stream id and the client matches answers by it.
//! Requests on one connection run concurrently (bounded by
//! [`MAX_IN_FLIGHT`]); the [`Dispatcher`] decides what each frame means.
//!
//! Bodies are read as they arrive, never allocated at their declared length
//! up front, and a frame larger than [`MAX_FRAME_LEN`] or a malformed header
//! ends only that connection, after an error frame when one can be sent.
//! Shutdown stops accepting, lets requests in flight finish, and closes.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// The largest frame a client may send (the protocol's 256 MiB).
pub const MAX_FRAME_LEN: usize = 256 * 1024 * 1024;
/// Requests one connection may have in flight at once.
pub const MAX_IN_FLIGHT: usize = 2048;
/// Frames waiting for the writer, per connection.
const WRITE_QUEUE: usize = 1024;

/// A frame as read from the socket: the 9-byte header and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub header: [u8; 9],
    pub body: Vec<u8>,
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
    /// A header the connection cannot go on from (bad length): the bytes to send before closing.
    fn fatal(&self, conn: &Self::Conn, header: &[u8; 9], message: &str) -> Vec<u8>;
    fn close(&self, conn: &Self::Conn);
}

/// A running CQL listener.
pub struct CqlServer {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl CqlServer {
    /// Starts serving on `listener`.
    pub fn start<D: Dispatcher>(
        listener: TcpListener,
        dispatcher: Arc<D>,
    ) -> std::io::Result<CqlServer> {
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, dispatcher, stopped));
        Ok(CqlServer { addr, stop, task })
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
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((socket, peer)) => {
                    let _ = socket.set_nodelay(true);
                    connections.spawn(connection(socket, peer, dispatcher.clone(), stopped.clone()));
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

async fn read_frame(
    r: &mut tokio::net::tcp::OwnedReadHalf,
) -> Result<Option<([u8; 9], usize)>, std::io::Error> {
    let mut header = [0u8; 9];
    match r.read_exact(&mut header).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
    Ok(Some((header, len)))
}

async fn connection<D: Dispatcher>(
    socket: TcpStream,
    peer: SocketAddr,
    dispatcher: Arc<D>,
    mut stopped: watch::Receiver<bool>,
) {
    let (mut rd, wr) = socket.into_split();
    let (tx, rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    let write_task = tokio::spawn(writer(wr, rx));
    let conn = dispatcher.open(peer, tx.clone());
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    loop {
        let next = tokio::select! {
            _ = stopped.changed() => break,
            next = read_frame(&mut rd) => next,
        };
        let (header, len) = match next {
            Ok(Some(h)) => h,
            Ok(None) | Err(_) => break,
        };
        if len > MAX_FRAME_LEN {
            let bytes = dispatcher.fatal(&conn, &header, &format!("Request is too big: length {len} exceeds maximum allowed length {MAX_FRAME_LEN}."));
            let _ = tx.send(bytes).await;
            break;
        }
        // Read the body as it arrives: a declared length is not trusted.
        let mut body = Vec::with_capacity(len.min(64 * 1024));
        match (&mut rd).take(len as u64).read_to_end(&mut body).await {
            Ok(n) if n == len => {}
            _ => break,
        }
        let frame = RawFrame { header, body };
        if dispatcher.is_sequential(&conn, &frame) {
            match dispatcher.handle(conn.clone(), frame).await {
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
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Echoes each frame's body back on its stream. A body starting with 1
    /// waits until a frame with body "go" arrives; opcode 0x01 is sequential.
    struct Echo {
        closed: AtomicUsize,
        go: tokio::sync::Notify,
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
                if f.body.first() == Some(&1) {
                    me.go.notified().await;
                }
                if f.body == b"go" {
                    me.go.notify_one();
                }
                let mut out = f.header.to_vec();
                out[0] |= 0x80;
                out.extend_from_slice(&f.body);
                Reply::Send(out)
            })
        }
        fn fatal(&self, _c: &(), header: &[u8; 9], _m: &str) -> Vec<u8> {
            let mut h = header.to_vec();
            h[4] = 0x00;
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

    async fn read_one(s: &mut TcpStream) -> (i16, Vec<u8>) {
        let mut h = [0u8; 9];
        s.read_exact(&mut h).await.unwrap();
        let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
        let mut body = vec![0; len];
        s.read_exact(&mut body).await.unwrap();
        (i16::from_be_bytes([h[2], h[3]]), body)
    }

    #[tokio::test]
    async fn responses_complete_out_of_order_and_bad_frames_close_one_connection() {
        let d = Arc::new(Echo {
            closed: AtomicUsize::new(0),
            go: tokio::sync::Notify::new(),
        });
        let server =
            CqlServer::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), d.clone()).unwrap();
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
        let mut bad = frame(9, 0x07, &[]);
        bad[5..9].copy_from_slice(&(1u32 << 30).to_be_bytes());
        b.write_all(&bad).await.unwrap();
        let mut h = [0u8; 9];
        b.read_exact(&mut h).await.unwrap();
        assert_eq!(h[4], 0x00, "an error frame");
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
        let d = Arc::new(Echo {
            closed: AtomicUsize::new(0),
            go: tokio::sync::Notify::new(),
        });
        let server =
            CqlServer::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), d.clone()).unwrap();
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
}
