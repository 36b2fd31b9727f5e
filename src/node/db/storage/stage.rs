//! The store's read stage: a few threads that do its blocking work for
//! async callers.
//!
//! Reading a partition, scanning a range, or reading and changing a Paxos
//! state may wait on the disk, so a task must not do it on the async
//! runtime's threads. Cassandra runs such work on its stages (`ReadStage`,
//! `MutationStage`: fixed pools of threads fed by a queue); a store here
//! has one [`Stage`] of [`READERS`] threads fed by a queue, next to its one
//! writer thread. A caller queues a closure over the store's core and
//! awaits its result ([`Stage::run`]); no thread is created per request and
//! none is held while it waits, unlike the runtime's blocking pool (which
//! grew to 533 threads under load before the nodes had stages). A closure
//! that panics fails alone ([`Failure::Panicked`]); the thread goes on with
//! the next. The stage is generic over what its threads work on, so that
//! the store imports it and not the other way round.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Threads per store: reads are short, and a pair runs six stores on two cores.
pub const READERS: usize = 2;

type Job<S> = Box<dyn FnOnce(&S) + Send>;

/// Why a job gave no result.
#[derive(Debug)]
pub(super) enum Failure {
    /// The stage has stopped (the store is closing).
    Stopped,
    /// The job panicked.
    Panicked,
}

pub(super) struct Stage<S: Send + Sync + 'static> {
    queue: Mutex<Option<flume::Sender<Job<S>>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl<S: Send + Sync + 'static> Stage<S> {
    pub(super) fn start(core: Arc<S>) -> std::io::Result<Stage<S>> {
        // Many consumers on one queue: an idle thread takes the next job.
        let (queue, jobs) = flume::unbounded::<Job<S>>();
        let mut threads = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let (core, jobs) = (core.clone(), jobs.clone());
            threads.push(
                std::thread::Builder::new()
                    .name("storage-reader".into())
                    .spawn(move || run(&*core, &jobs))?,
            );
        }
        Ok(Stage {
            queue: Mutex::new(Some(queue)),
            threads: Mutex::new(threads),
        })
    }

    /// Queues `f`; the future resolves to what it returned once a stage
    /// thread has run it.
    pub(super) fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> R + Send + 'static,
    ) -> impl std::future::Future<Output = Result<R, Failure>> + Send + 'static {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let job: Job<S> = Box::new(move |core| {
            let r = catch_unwind(AssertUnwindSafe(|| f(core)));
            // The caller may have stopped waiting: nothing to do then.
            let _ = done.send(r.map_err(|_| Failure::Panicked));
        });
        let queued = match &*self.queue.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(q) => q.send(job).map_err(|_| Failure::Stopped),
            None => Err(Failure::Stopped),
        };
        async move {
            queued?;
            outcome.await.unwrap_or(Err(Failure::Stopped))
        }
    }
}

impl<S: Send + Sync + 'static> Drop for Stage<S> {
    fn drop(&mut self) {
        // Closing the queue ends the threads once what is queued is done.
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        // The store may be dropped by one of its own threads (a job held
        // its last owner): that thread ends on its own once this returns.
        let me = std::thread::current().id();
        for t in self
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            if t.thread().id() != me {
                let _ = t.join();
            }
        }
    }
}

fn run<S>(core: &S, jobs: &flume::Receiver<Job<S>>) {
    while let Ok(job) = jobs.recv() {
        job(core);
    }
}
