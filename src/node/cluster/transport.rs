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
//!
//! Nodes that share one process and one [`Faults::in_memory`] network hand
//! each other their messages in memory: the same encoded frames, the same
//! faults, ordering per pair of nodes and loss when a queue is full, but no
//! socket, so a pair of datacenters in one process does not spend most of
//! its time in the kernel's loopback TCP. Each node still listens on TCP
//! (for `nodetool` and for nodes of other processes), and a peer that is
//! not in the process is reached over TCP.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::node::cluster::message::{Body, MAX_FRAME, Message};
use crate::node::transport::server::BoxFuture;

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

/// A simulated link between two groups of nodes (two datacenters): each
/// message across it is delayed by `latency` plus or minus up to `jitter`
/// (one way), lost with probability `loss`, or dropped while `down`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LinkSpec {
    pub latency: Duration,
    pub jitter: Duration,
    /// 0.0 to 1.0.
    pub loss: f64,
    pub down: bool,
}

struct Link {
    a: HashSet<IpAddr>,
    b: HashSet<IpAddr>,
    spec: LinkSpec,
    rng: rand::rngs::StdRng,
}

/// The test network: links cut between pairs of nodes (both directions),
/// and simulated links between groups of nodes. Within a group, and
/// between nodes no link names, messages go straight through.
#[derive(Default)]
pub struct Faults {
    cut: Mutex<HashSet<(IpAddr, IpAddr)>>,
    links: Mutex<Vec<Link>>,
    /// The nodes of this network that take their messages in memory, by
    /// listen address: `None` unless made by [`Faults::in_memory`].
    local: Option<Mutex<HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>>>,
}

/// What the network does with one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    DeliverAfter(Duration),
    Drop,
}

impl Faults {
    /// A network whose nodes, when they share this process, exchange their
    /// messages in memory rather than over loopback TCP (see the module's
    /// doc). [`Faults::default`] sends everything over TCP.
    pub fn in_memory() -> Faults {
        Faults {
            local: Some(Mutex::new(HashMap::new())),
            ..Faults::default()
        }
    }

    /// The in-memory queue of the node listening on `at`, if it is in this
    /// process and network.
    fn local_route(&self, at: SocketAddr) -> Option<mpsc::Sender<Vec<u8>>> {
        let local = self.local.as_ref()?;
        local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&at)
            .cloned()
    }

    /// Makes the node on `at` reachable in memory; `None` for a network
    /// that sends everything over TCP.
    fn register(&self, at: SocketAddr) -> Option<mpsc::Receiver<Vec<u8>>> {
        let local = self.local.as_ref()?;
        // Every peer shares the one queue, so it is deeper than a peer's.
        let (tx, rx) = mpsc::channel(QUEUE * 4);
        local
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(at, tx);
        Some(rx)
    }

    /// Forgets the node on `at`, unless a newer node took its address.
    fn unregister(&self, at: SocketAddr) {
        if let Some(local) = &self.local {
            let mut map = local.lock().unwrap_or_else(|e| e.into_inner());
            if map.get(&at).is_some_and(|tx| tx.is_closed()) {
                map.remove(&at);
            }
        }
    }

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

    /// Puts a simulated link between `a` and `b` (replacing one between the
    /// same groups); its random draws come from `seed`, so a run replays.
    pub fn set_link(&self, a: &[IpAddr], b: &[IpAddr], spec: LinkSpec, seed: u64) {
        use rand::SeedableRng as _;
        let (a, b): (HashSet<IpAddr>, HashSet<IpAddr>) =
            (a.iter().copied().collect(), b.iter().copied().collect());
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        links.retain(|l| !((l.a == a && l.b == b) || (l.a == b && l.b == a)));
        links.push(Link {
            a,
            b,
            spec,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
        });
    }

    /// Removes the link between the groups of `a` and `b`, if any.
    pub fn clear_link(&self, a: IpAddr, b: IpAddr) {
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|l| {
                !((l.a.contains(&a) && l.b.contains(&b)) || (l.a.contains(&b) && l.b.contains(&a)))
            });
    }

    /// The link settings between two nodes, if a link joins them.
    pub fn link(&self, a: IpAddr, b: IpAddr) -> Option<LinkSpec> {
        self.links
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|l| {
                (l.a.contains(&a) && l.b.contains(&b)) || (l.a.contains(&b) && l.b.contains(&a))
            })
            .map(|l| l.spec)
    }

    /// What happens to a message from `from` to `to`.
    pub fn fate(&self, from: IpAddr, to: IpAddr) -> Fate {
        use rand::RngExt as _;
        if self.is_cut(from, to) {
            return Fate::Drop;
        }
        let mut links = self.links.lock().unwrap_or_else(|e| e.into_inner());
        let Some(l) = links.iter_mut().find(|l| {
            (l.a.contains(&from) && l.b.contains(&to)) || (l.a.contains(&to) && l.b.contains(&from))
        }) else {
            return Fate::Deliver;
        };
        if l.spec.down || (l.spec.loss > 0.0 && l.rng.random::<f64>() < l.spec.loss) {
            return Fate::Drop;
        }
        let jitter = l.spec.jitter.as_micros() as i64;
        let offset = if jitter > 0 {
            l.rng.random_range(-jitter..=jitter)
        } else {
            0
        };
        let micros = (l.spec.latency.as_micros() as i64 + offset).max(0) as u64;
        if micros == 0 {
            Fate::Deliver
        } else {
            Fate::DeliverAfter(Duration::from_micros(micros))
        }
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
    #[error("the node is stopping")]
    Stopped,
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
        if let Some(rx) = t.faults.register(SocketAddr::new(me, port)) {
            tokio::spawn(local_inbound(
                rx,
                t.clone(),
                handler.clone(),
                stopped.clone(),
            ));
        }
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
        if *self.stop.borrow() {
            return;
        }
        match self.faults.fate(self.me, to) {
            Fate::Drop => {}
            Fate::Deliver => self.enqueue(to, msg.encode()),
            Fate::DeliverAfter(delay) => {
                // The simulated link's delay, then the ordinary queue.
                let (me, bytes) = (self.clone(), msg.encode());
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if !*me.stop.borrow() {
                        me.enqueue(to, bytes);
                    }
                });
            }
        }
    }

    fn enqueue(self: &Arc<Self>, to: IpAddr, bytes: Vec<u8>) {
        let mut queues = self.queues.lock().unwrap_or_else(|e| e.into_inner());
        let tx = queues.entry(to).or_insert_with(|| {
            // A node of this process: its in-memory queue; else a connection.
            if let Some(tx) = self.faults.local_route(SocketAddr::new(to, self.port)) {
                return tx;
            }
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
        if self.is_stopped() {
            // Stopped: no answer can come (shutdown dropped the others).
            self.pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
            return Err(TransportError::Stopped);
        }
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
            Ok(Err(_)) => Err(TransportError::Stopped),
            Err(_) => Err(TransportError::Timeout(to, timeout)),
        }
    }

    /// Whether [`Transport::shutdown`] ran.
    pub fn is_stopped(&self) -> bool {
        *self.stop.borrow()
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

    /// Stops: nothing more is sent, and every request waiting for an
    /// answer fails at once (instead of waiting out its timeout while
    /// holding what it was sent for).
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
        self.queues
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.multi.lock().unwrap_or_else(|e| e.into_inner()).clear();
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
    s: TcpStream,
    t: Arc<Transport>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    // Buffered: one read from the socket takes every message that arrived.
    let mut s = tokio::io::BufStream::with_capacity(16 * 1024, 0, s);
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
                if s.write_all(&reply.encode()).await.is_err() || s.flush().await.is_err() {
                    return;
                }
            }
            continue;
        }
        dispatch(msg, &t, &handler);
    }
}

/// A message that reached this node: an answer goes to the request
/// waiting for it; anything else to the handler, whose answer is sent back.
fn dispatch<H: Handler>(msg: Message, t: &Arc<Transport>, handler: &Arc<H>) {
    let Some(msg) = t.deliver_answer(msg) else {
        return;
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

/// The messages other nodes of this process hand this one in memory
/// ([`Faults::in_memory`]): the frames a connection would carry.
async fn local_inbound<H: Handler>(
    mut rx: mpsc::Receiver<Vec<u8>>,
    t: Arc<Transport>,
    handler: Arc<H>,
    mut stopped: watch::Receiver<bool>,
) {
    let at = SocketAddr::new(t.me, t.port);
    loop {
        let bytes = tokio::select! {
            _ = stopped.changed() => break,
            b = rx.recv() => b,
        };
        let Some(bytes) = bytes else { break };
        let msg = match bytes.get(4..).map(Message::decode) {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                tracing::warn!("{e}; message dropped");
                continue;
            }
            None => continue,
        };
        // nodetool's commands come over TCP only (they are answered there).
        if matches!(msg.body, Body::Admin(_)) || t.faults.is_cut(t.me, msg.from) {
            continue;
        }
        dispatch(msg, &t, &handler);
    }
    // Senders now see a closed queue and drop; a node that restarts on
    // this address registers a new one.
    drop(rx);
    t.faults.unregister(at);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn links_delay_drop_and_replay_from_their_seed() {
        let f = Faults::default();
        let (a1, a2, b1) = (ip("127.0.1.1"), ip("127.0.1.2"), ip("127.0.2.1"));
        assert_eq!(f.fate(a1, b1), Fate::Deliver, "no link: straight through");
        let spec = LinkSpec {
            latency: Duration::from_millis(40),
            jitter: Duration::from_millis(5),
            loss: 0.0,
            down: false,
        };
        f.set_link(&[a1, a2], &[b1], spec, 7);
        assert_eq!(f.fate(a1, a2), Fate::Deliver, "within a group: direct");
        let draws: Vec<Fate> = (0..100).map(|_| f.fate(b1, a2)).collect();
        for d in &draws {
            let Fate::DeliverAfter(d) = d else {
                panic!("{d:?}")
            };
            assert!(*d >= Duration::from_millis(35) && *d <= Duration::from_millis(45));
        }
        // The same seed gives the same delays.
        f.set_link(&[a1, a2], &[b1], spec, 7);
        let again: Vec<Fate> = (0..100).map(|_| f.fate(b1, a2)).collect();
        assert_eq!(draws, again);
        f.set_link(&[a1, a2], &[b1], LinkSpec { loss: 0.5, ..spec }, 1);
        let dropped = (0..1000).filter(|_| f.fate(a1, b1) == Fate::Drop).count();
        assert!(
            (400..600).contains(&dropped),
            "{dropped} of 1000 dropped at 50% loss"
        );
        f.set_link(&[a1, a2], &[b1], LinkSpec { down: true, ..spec }, 1);
        assert_eq!(f.fate(a1, b1), Fate::Drop);
        assert_eq!(f.link(b1, a1).map(|l| l.down), Some(true));
        f.clear_link(b1, a2);
        assert_eq!(f.fate(a1, b1), Fate::Deliver);
        f.cut(a1, a2);
        assert_eq!(f.fate(a2, a1), Fate::Drop);
    }

    /// Acknowledges every mutation and counts them.
    struct Acker(AtomicU64);

    impl Handler for Acker {
        fn handle(self: Arc<Self>, msg: Message) -> BoxFuture<Option<Body>> {
            Box::pin(async move {
                match msg.body {
                    Body::Mutation { .. } => {
                        self.0.fetch_add(1, Ordering::SeqCst);
                        Some(Body::MutationAck)
                    }
                    _ => None,
                }
            })
        }
    }

    fn mutation() -> Body {
        Body::Mutation {
            mutation: vec![1, 2, 3],
            durable: false,
            forward_to: Vec::new(),
            commit: None,
        }
    }

    #[tokio::test]
    async fn nodes_of_one_process_exchange_messages_in_memory() {
        let faults = Arc::new(Faults::in_memory());
        let (a, b, port) = (ip("127.0.93.1"), ip("127.0.93.2"), 17093);
        let acker = Arc::new(Acker(AtomicU64::new(0)));
        let ta = Transport::start(a, port, faults.clone(), acker.clone())
            .await
            .unwrap();
        let tb = Transport::start(b, port, faults.clone(), acker.clone())
            .await
            .unwrap();
        let wait = Duration::from_secs(5);
        let answer = ta.request(b, mutation(), wait).await.unwrap();
        assert_eq!((answer.body, answer.from), (Body::MutationAck, b));
        // Sent through b's in-memory queue, not a connection.
        let route = faults.local_route(SocketAddr::new(b, port)).unwrap();
        let queues = ta.queues.lock().unwrap();
        assert!(queues[&b].same_channel(&route), "a's queue to b is b's own");
        drop(queues);

        // The network's faults hold in memory too.
        faults.cut(a, b);
        let cut = ta.request(b, mutation(), Duration::from_millis(100)).await;
        assert_eq!(
            cut,
            Err(TransportError::Timeout(b, Duration::from_millis(100)))
        );
        faults.heal(a, b);

        // b stops: its queue goes; a node started on its address takes over.
        tb.shutdown();
        let deadline = tokio::time::Instant::now() + wait;
        while faults.local_route(SocketAddr::new(b, port)).is_some() {
            assert!(tokio::time::Instant::now() < deadline, "b still registered");
            tokio::task::yield_now().await;
        }
        let tb2 = loop {
            match Transport::start(b, port, faults.clone(), acker.clone()).await {
                Ok(t) => break t,
                // The stopped listener lets go of the port.
                Err(_) if tokio::time::Instant::now() < deadline => tokio::task::yield_now().await,
                Err(e) => panic!("{e}"),
            }
        };
        // The first message may meet b's closed queue and be lost, as on a
        // connection to a node that stopped.
        let again = loop {
            match ta.request(b, mutation(), Duration::from_millis(200)).await {
                Ok(m) => break m,
                Err(_) => assert!(tokio::time::Instant::now() < deadline, "no answer from b"),
            }
        };
        assert_eq!(again.body, Body::MutationAck);
        assert!(acker.0.load(Ordering::SeqCst) >= 2);
        for t in [ta, tb2] {
            t.shutdown();
        }
    }
}
