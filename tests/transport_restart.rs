//! The internode transport after a peer restarts: the connection to the
//! dead process is noticed when it closes, and the first messages sent
//! after the restart arrive (none is swallowed by the reconnect).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::node::cluster::message::{Body, Message};
use ccrsim::node::cluster::transport::{Faults, Handler, Transport};
use ccrsim::node::transport::server::BoxFuture;

struct Acker;

impl Handler for Acker {
    fn handle(self: Arc<Self>, _msg: Message) -> BoxFuture<Option<Body>> {
        Box::pin(async { Some(Body::MutationAck) })
    }
}

async fn ask(a: &Arc<Transport>, b: IpAddr) -> bool {
    let body = Body::Mutation {
        mutation: vec![],
        durable: false,
        forward_to: vec![],
        commit: None,
    };
    a.request(b, body, Duration::from_millis(1000))
        .await
        .is_ok()
}

/// Starts a transport, retrying (with a deadline) while the old one's port
/// is still being released.
async fn start(ip: IpAddr, faults: &Arc<Faults>) -> Arc<Transport> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Transport::start(ip, 7000, faults.clone(), Arc::new(Acker)).await {
            Ok(t) => return t,
            Err(e) => assert!(Instant::now() < deadline, "{ip}:7000: {e}"),
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_after_a_peer_restart_arrive() {
    let (ia, ib): (IpAddr, IpAddr) = ("127.0.84.1".parse().unwrap(), "127.0.84.2".parse().unwrap());
    let faults = Arc::new(Faults::default());
    let a = start(ia, &faults).await;
    let b = start(ib, &faults).await;
    assert!(ask(&a, ib).await, "both up: answered");
    b.shutdown();
    drop(b);
    // While B is away nothing can be answered.
    for _ in 0..2 {
        assert!(!ask(&a, ib).await);
    }
    let b = start(ib, &faults).await;
    let mut after = Vec::new();
    for _ in 0..4 {
        after.push(ask(&a, ib).await);
    }
    assert_eq!(after, vec![true; 4], "requests after B restarted");

    // A restart nobody sent anything during: the stale connection is
    // noticed when it closes. In one process the old transport's sockets
    // close a moment after `shutdown` returns, so the very first request
    // may still go into the old connection; none after it is lost.
    b.shutdown();
    drop(b);
    let b = start(ib, &faults).await;
    let mut after = Vec::new();
    for _ in 0..4 {
        after.push(ask(&a, ib).await);
    }
    assert_eq!(
        after[1..],
        [true; 3],
        "requests after a silent restart: {after:?}"
    );
    b.shutdown();
    a.shutdown();
}
