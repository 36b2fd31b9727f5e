//! The internode transport: framed messages over TCP.
//!
//! Each node listens on its listen address and storage port. Outbound, it
//! keeps one connection per peer, opened on first use, with a queue in
//! front of it; a message for a peer that cannot be reached is dropped (gossip
//! tolerates loss; requests time out). Requests get an id and wait for the
//! message that answers that id; other messages go to the node's
//! [`Handler`], whose answer (if any) is sent back with the same id.
//!
//! [`Faults`] is the test network: links between two addresses can be cut
//! (messages dropped both ways), which is how tests partition datacenters
//! and isolate nodes without touching the operating system.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use super::message::{Body, MAX_FRAME, Message};
use crate::node::server::BoxFuture;

/// Sends one `nodetool` command to the node at `addr` and returns its answer.
pub async fn admin(addr: SocketAddr, args: Vec<String>) -> std::io::Result<(bool, String)> {
    let mut s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
        .await
        .map_err(|_| std::io::Error::other(format!("no answer from {addr} within 10 s")))??;
    let me: IpAddr = s.local_addr()?.ip();
    let msg = Message {
        id: 1,
        from: me,
        reply_to: me,
        body: Body::Admin(args),
    };
    s.write_all(&msg.encode()).await?;
    let read = async {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            return Err(std::io::Error::other("answer too large"));
        }
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await?;
        Message::decode(&body).map_err(|e| std::io::Error::other(e.to_string()))
    };
    // Rebuilds stream data: give them time.
    let reply = tokio::time::timeout(Duration::from_secs(600), read)
        .await
        .map_err(|_| std::io::Error::other("no answer within 600 s"))??;
    match reply.body {
        Body::AdminReply { ok, text } => Ok((ok, text)),
        other => Err(std::io::Error::other(format!(
            "unexpected answer {other:?}"
        ))),
    }
}

/// Handles messages that are not answers to this node's requests.
pub trait Handler: Send + Sync + 'static {
    /// Returns the answer to send back, if any.
    fn handle(self: Arc<Self>, msg: Message) -> BoxFuture<Option<Body>>;
}

/// Links cut between pairs of nodes (both directions).
#[derive(Default)]
pub struct Faults {
    cut: Mutex<HashSet<(IpAddr, IpAddr)>>,
}

impl Faults {
    fn key(a: IpAddr, b: IpAddr) -> (IpAddr, IpAddr) {
        if a <= b { (a, b) } else { (b, a) }
    }

    pub fn cut(&self, a: IpAddr, b: IpAddr) {
        self.cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(Self::key(a, b));
    }

    pub fn heal(&self, a: IpAddr, b: IpAddr) {
        self.cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&Self::key(a, b));
    }

    pub fn heal_all(&self) {
        self.cut.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn is_cut(&self, a: IpAddr, b: IpAddr) -> bool {
        self.cut
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&Self::key(a, b))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("no answer from {0} within {1:?}")]
    Timeout(IpAddr, Duration),
}

pub struct Transport {
    me: IpAddr,
    port: u16,
    faults: Arc<Faults>,
    queues: Mutex<HashMap<IpAddr, mpsc::Sender<Vec<u8>>>>,
    pending: Mutex<HashMap<u64, oneshot::Sender<Message>>>,
    multi: Mutex<HashMap<u64, mpsc::UnboundedSender<Message>>>,
    next_id: AtomicU64,
    stop: watch::Sender<bool>,
}

const QUEUE: usize = 4096;

impl Transport {
    /// Listens on `me:port` and starts delivering messages to `handler`.
    pub async fn start<H: Handler>(
        me: IpAddr,
        port: u16,
        faults: Arc<Faults>,
        handler: Arc<H>,
    ) -> std::io::Result<Arc<Transport>> {
        let listener = TcpListener::bind(SocketAddr::new(me, port)).await?;
        let (stop, stopped) = watch::channel(false);
        let t = Arc::new(Transport {
            me,
            port,
            faults,
            queues: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            multi: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            stop,
        });
        tokio::spawn(accept_loop(listener, t.clone(), handler, stopped));
        Ok(t)
    }

    pub fn me(&self) -> IpAddr {
        self.me
    }

    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends without waiting; dropped if the link is cut or the peer unreachable.
    pub fn send(self: &Arc<Self>, to: IpAddr, msg: &Message) {
        if self.faults.is_cut(self.me, to) || *self.stop.borrow() {
            return;
        }
        let bytes = msg.encode();
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let tx = queues.entry(to).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(outbound(self.clone(), to, rx));
            tx
        });
        if tx.try_send(bytes).is_err() {
            // Full (peer slow or unreachable) or closed: drop, like a lost packet.
            if tx.is_closed() {
                queues.remove(&to);
            }
        }
    }

    /// Sends a request and waits for the message answering it.
    pub async fn request(
        self: &Arc<Self>,
        to: IpAddr,
        body: Body,
        timeout: Duration,
    ) -> Result<Message, TransportError> {
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        self.send(
            to,
            &Message {
                id,
                from: self.me,
                reply_to: self.me,
                body,
            },
        );
        let r = tokio::time::timeout(timeout, rx).await;
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        match r {
            Ok(Ok(m)) => Ok(m),
            _ => Err(TransportError::Timeout(to, timeout)),
        }
    }

    /// Registers interest in answers to `id` (for requests answered by several nodes).
    pub fn expect(&self, id: u64) -> mpsc::UnboundedReceiver<Message> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.multi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        rx
    }

    pub fn forget(&self, id: u64) {
        self.multi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn deliver_answer(&self, msg: Message) -> Option<Message> {
        // Ids are per node: only answers are matched to this node's requests.
        if !msg.body.is_response() {
            return Some(msg);
        }
        if let Some(tx) = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&msg.id)
        {
            let _ = tx.send(msg);
            return None;
        }
        if let Some(tx) = self
            .multi
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&msg.id)
        {
            let _ = tx.send(msg);
            return None;
        }
        Some(msg)
    }
}

async fn outbound(t: Arc<Transport>, to: IpAddr, mut rx: mpsc::Receiver<Vec<u8>>) {
    let mut stopped = t.stop.subscribe();
    // A message that could not be written yet: it goes first on the next connection.
    let mut pending: Option<Vec<u8>> = None;
    loop {
        // Connect (from our own address, so the peer sees who we are).
        let stream = async {
            let sock = if to.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            }?;
            sock.bind(SocketAddr::new(t.me, 0))?;
            let s = tokio::time::timeout(
                Duration::from_secs(2),
                sock.connect(SocketAddr::new(to, t.port)),
            )
            .await
            .map_err(|_| std::io::Error::other("connect timed out"))??;
            s.set_nodelay(true)?;
            Ok::<TcpStream, std::io::Error>(s)
        };
        let stream = tokio::select! {
            _ = stopped.changed() => return,
            s = stream => s,
        };
        let Ok(stream) = stream else {
            // Unreachable: drop what is queued, wait a little, then try
            // again with the next message (which is kept and sent first).
            while rx.try_recv().is_ok() {}
            tokio::select! {
                _ = stopped.changed() => return,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            }
            match rx.recv().await {
                Some(b) => {
                    pending = Some(b);
                    continue;
                }
                None => return,
            }
        };
        let (mut rd, wr) = stream.into_split();
        // The peer never writes on this connection: a read that ends means
        // it closed (it stopped or its process died), noticed at once
        // rather than at the next failed write.
        let (closed_tx, mut closed) = tokio::sync::oneshot::channel::<()>();
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 256];
            while let Ok(n) = rd.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            let _ = closed_tx.send(());
        });
        let mut out = BufWriter::with_capacity(64 * 1024, wr);
        if let Some(b) = pending.take()
            && (out.write_all(&b).await.is_err() || out.flush().await.is_err())
        {
            pending = Some(b);
            reader.abort();
            continue;
        }
        loop {
            let bytes = tokio::select! {
                _ = stopped.changed() => return,
                _ = &mut closed => break,
                b = rx.recv() => b,
            };
            let Some(bytes) = bytes else { return };
            if out.write_all(&bytes).await.is_err() {
                pending = Some(bytes);
                break;
            }
            let mut failed = false;
            while let Ok(more) = rx.try_recv() {
                if out.write_all(&more).await.is_err() {
                    pending = Some(more);
                    failed = true;
                    break;
                }
            }
            if failed || out.flush().await.is_err() {
                break;
            }
        }
        reader.abort();
    }
}

async fn accept_loop<H: Handler>(
    listener: TcpListener,
    t: Arc<Transport>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            a = listener.accept() => match a {
                Ok((s, _)) => {
                    let _ = s.set_nodelay(true);
                    tokio::spawn(inbound(s, t.clone(), handler.clone(), stopped.clone()));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
}

async fn inbound<H: Handler>(
    mut s: TcpStream,
    t: Arc<Transport>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    loop {
        let mut len = [0u8; 4];
        let r = tokio::select! {
            _ = stopped.changed() => return,
            r = s.read_exact(&mut len) => r,
        };
        if r.is_err() {
            return;
        }
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_FRAME {
            tracing::warn!("internode frame of {len} bytes refused; closing the connection");
            return;
        }
        let mut body = Vec::with_capacity(len.min(64 * 1024));
        match (&mut s).take(len as u64).read_to_end(&mut body).await {
            Ok(n) if n == len => {}
            _ => return,
        }
        let msg = match Message::decode(&body) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("{e}; closing the connection");
                return;
            }
        };
        if t.faults.is_cut(t.me, msg.from) {
            continue;
        }
        if matches!(msg.body, Body::Admin(_)) {
            // nodetool: answered on this connection (the tool does not listen).
            let id = msg.id;
            if let Some(body) = handler.clone().handle(msg).await {
                let reply = Message {
                    id,
                    from: t.me,
                    reply_to: t.me,
                    body,
                };
                if s.write_all(&reply.encode()).await.is_err() {
                    return;
                }
            }
            continue;
        }
        let Some(msg) = t.deliver_answer(msg) else {
            continue;
        };
        let (h, t2) = (handler.clone(), t.clone());
        tokio::spawn(async move {
            let (id, reply_to) = (msg.id, msg.reply_to);
            if let Some(body) = h.handle(msg).await {
                let me = t2.me;
                t2.send(
                    reply_to,
                    &Message {
                        id,
                        from: me,
                        reply_to: me,
                        body,
                    },
                );
            }
        });
    }
}
