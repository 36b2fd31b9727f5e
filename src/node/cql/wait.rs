//! [`wait`]: runs an engine future to its end on the calling thread, for
//! callers that are not async (the fuzz targets, tests, tools).
//!
//! The engine's statements are futures the connection awaits on the async
//! runtime. A caller without a runtime can still run them: a node that is
//! not part of a cluster waits only on its store (its writer thread and
//! read stage answer through channels that need no runtime), so parking
//! the thread until the future is woken is enough. Never call it on the
//! async runtime's threads: it blocks the thread until the future is done.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `f` on this thread, parking it between wake-ups, until it is ready.
pub fn wait<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::wait;

    #[test]
    fn waits_for_a_value_sent_from_another_thread() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let t = std::thread::spawn(move || tx.send(7).unwrap());
        assert_eq!(wait(rx).unwrap(), 7);
        t.join().unwrap();
    }
}
