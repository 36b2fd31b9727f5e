//! One writer thread per store.
//!
//! Every mutation a node stores (from its clients, its peers, hints,
//! read repair and repair streams) is applied by one thread, in the order
//! the mutations reach it. A caller queues its mutation and waits for the
//! outcome: a blocking thread blocks ([`Writer::apply`]), a task awaits a
//! future and holds no thread ([`Writer::apply_async`]). Each caller waits
//! for its own mutation, so the queue holds at most one per caller. The
//! thread takes what is queued as one group (at most [`GROUP`]), applies
//! each mutation as its own atomic batch with the journal left in the
//! process's buffer, then flushes the journal once for the whole group if
//! any of them was durable, before it answers any of them: the commit log's
//! group commit. An acknowledged durable write is thus flushed to the
//! operating system (or synced, in `batch` mode) as before, with one system
//! call per group instead of one per write. A mutation that is refused
//! fails alone: the others of its group are written.
//!
//! One thread also means no two writes race between reading an entry and
//! replacing it with the winner, so no lock is taken, and a pair under load
//! runs about 200 threads instead of 533 (README, "Memory of a whole pair").
//! What it does not do is keep a memtable's memory together: the entries of
//! the next memtable are allocated between those of the one being flushed,
//! so a flushed memtable frees holes rather than pages.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The most mutations applied between two journal flushes.
const GROUP: usize = 256;

/// What the writer thread writes to: the store's core.
pub(super) trait GroupStore: Send + Sync + 'static {
    /// One write (a partition's mutation).
    type Item: Clone + Send + 'static;
    type Error: Send + 'static;
    /// Applies one write, its journal entry left in the process's buffer.
    fn apply_one(&self, item: &Self::Item) -> Result<(), Self::Error>;
    /// Makes the writes applied so far durable (flushed or synced).
    fn flush(&self) -> Result<(), String>;
    /// The error a caller gets when its write could not be done.
    fn failure(why: Failure) -> Self::Error;
}

/// Why a write could not be done, beyond what the store itself says.
pub(super) enum Failure {
    /// The writer thread has stopped (the store is closing).
    Stopped,
    /// Applying the write panicked inside the storage engine.
    Panicked,
    /// The write was applied but its group's journal flush failed.
    FlushFailed(String),
}

struct Job<S: GroupStore> {
    item: S::Item,
    durable: bool,
    done: Done<S::Error>,
}

/// Where a job's outcome goes: a blocked thread, or a task.
enum Done<E> {
    Thread(SyncSender<Result<(), E>>),
    Task(tokio::sync::oneshot::Sender<Result<(), E>>),
}

impl<E> Done<E> {
    fn send(self, outcome: Result<(), E>) {
        // The caller may have stopped waiting (a task cancelled): nothing to do.
        let _ = match self {
            Done::Thread(tx) => tx.send(outcome).map_err(drop),
            Done::Task(tx) => tx.send(outcome).map_err(drop),
        };
    }
}

pub(super) struct Writer<S: GroupStore> {
    queue: Mutex<Option<Sender<Job<S>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<S: GroupStore> Writer<S> {
    pub(super) fn start(store: Arc<S>) -> std::io::Result<Writer<S>> {
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("storage-writer".into())
            .spawn(move || run(&*store, &jobs))?;
        Ok(Writer {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `item` and blocks until it is applied (and flushed, if durable).
    pub(super) fn apply(&self, item: &S::Item, durable: bool) -> Result<(), S::Error> {
        let (done, outcome) = mpsc::sync_channel(1);
        self.queue(item.clone(), durable, Done::Thread(done))?;
        outcome
            .recv()
            .unwrap_or_else(|_| Err(S::failure(Failure::Stopped)))
    }

    /// Queues `item`; the future resolves once it is applied (and flushed).
    pub(super) fn apply_async(
        &self,
        item: S::Item,
        durable: bool,
    ) -> impl std::future::Future<Output = Result<(), S::Error>> + Send + 'static {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let queued = self.queue(item, durable, Done::Task(done));
        async move {
            queued?;
            outcome
                .await
                .unwrap_or_else(|_| Err(S::failure(Failure::Stopped)))
        }
    }

    fn queue(&self, item: S::Item, durable: bool, done: Done<S::Error>) -> Result<(), S::Error> {
        let job = Job {
            item,
            durable,
            done,
        };
        match &*self.queue.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(queue) => queue.send(job).map_err(|_| S::failure(Failure::Stopped)),
            None => Err(S::failure(Failure::Stopped)),
        }
    }
}

impl<S: GroupStore> Drop for Writer<S> {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has applied what is queued.
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn run<S: GroupStore>(store: &S, jobs: &Receiver<Job<S>>) {
    let mut group: Vec<Job<S>> = Vec::with_capacity(GROUP);
    let mut outcomes: Vec<Result<(), S::Error>> = Vec::with_capacity(GROUP);
    while let Ok(first) = jobs.recv() {
        group.push(first);
        while group.len() < GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let mut flush = false;
        for job in &group {
            let applied = catch_unwind(AssertUnwindSafe(|| store.apply_one(&job.item)))
                .unwrap_or_else(|_| Err(S::failure(Failure::Panicked)));
            flush |= job.durable && applied.is_ok();
            outcomes.push(applied);
        }
        let flushed = if flush { store.flush() } else { Ok(()) };
        for (job, applied) in group.drain(..).zip(outcomes.drain(..)) {
            let outcome = match (applied, &flushed) {
                (Ok(()), Err(e)) if job.durable => Err(S::failure(Failure::FlushFailed(e.clone()))),
                (applied, _) => applied,
            };
            job.done.send(outcome);
        }
    }
}
