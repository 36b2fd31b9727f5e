//! One writer thread per store.
//!
//! Every [`Mutation`] a node stores (from its clients, its peers, hints,
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

use super::{Mutation, StorageCore, StorageError};

/// The most mutations applied between two journal flushes.
const GROUP: usize = 256;

type Outcome = Result<(), StorageError>;

struct Job {
    mutation: Mutation,
    durable: bool,
    done: Done,
}

/// Where a job's outcome goes: a blocked thread, or a task.
enum Done {
    Thread(SyncSender<Outcome>),
    Task(tokio::sync::oneshot::Sender<Outcome>),
}

impl Done {
    fn send(self, outcome: Outcome) {
        // The caller may have stopped waiting (a task cancelled): nothing to do.
        let _ = match self {
            Done::Thread(tx) => tx.send(outcome).map_err(drop),
            Done::Task(tx) => tx.send(outcome).map_err(drop),
        };
    }
}

pub(super) struct Writer {
    queue: Mutex<Option<Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub(super) fn start(core: Arc<StorageCore>) -> Result<Writer, StorageError> {
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("storage-writer".into())
            .spawn(move || run(&core, &jobs))
            .map_err(fjall::Error::from)?;
        Ok(Writer {
            queue: Mutex::new(Some(queue)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues `m` and blocks until it is applied (and flushed, if durable).
    pub(super) fn apply(&self, m: &Mutation, durable: bool) -> Outcome {
        let (done, outcome) = mpsc::sync_channel(1);
        self.queue(m.clone(), durable, Done::Thread(done))?;
        outcome.recv().unwrap_or(Err(StorageError::WriterStopped))
    }

    /// Queues `m`; the future resolves once it is applied (and flushed).
    pub(super) fn apply_async(
        &self,
        m: Mutation,
        durable: bool,
    ) -> impl std::future::Future<Output = Outcome> + Send + 'static {
        let (done, outcome) = tokio::sync::oneshot::channel();
        let queued = self.queue(m, durable, Done::Task(done));
        async move {
            queued?;
            outcome.await.unwrap_or(Err(StorageError::WriterStopped))
        }
    }

    fn queue(&self, mutation: Mutation, durable: bool, done: Done) -> Outcome {
        let job = Job {
            mutation,
            durable,
            done,
        };
        match &*self.queue.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(queue) => queue.send(job).map_err(|_| StorageError::WriterStopped),
            None => Err(StorageError::WriterStopped),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has applied what is queued.
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

fn run(core: &StorageCore, jobs: &Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(GROUP);
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(GROUP);
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
            let applied = catch_unwind(AssertUnwindSafe(|| core.apply_now(&job.mutation, None)))
                .unwrap_or(Err(StorageError::InvalidMutation(
                    "the storage engine failed on this mutation",
                )));
            flush |= job.durable && applied.is_ok();
            outcomes.push(applied);
        }
        let flushed = match core.persist_mode(flush) {
            Some(mode) => core.db.persist(mode).map_err(StorageError::from),
            None => Ok(()),
        };
        for (job, applied) in group.drain(..).zip(outcomes.drain(..)) {
            let outcome = match (applied, &flushed) {
                (Ok(()), Err(e)) if job.durable => Err(StorageError::Engine(fjall::Error::Io(
                    std::io::Error::other(e.to_string()),
                ))),
                (applied, _) => applied,
            };
            job.done.send(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::partition::{ColumnData, RowData};
    use super::super::{CommitlogSync, Storage, cell::Cell};
    use super::*;

    const T: [u8; 16] = [9; 16];

    fn cell_write(key: &[u8], ts: i64) -> Mutation {
        let mut row = RowData::default();
        row.columns.insert(
            "v".into(),
            ColumnData::Simple(Cell::live(ts, ts.to_be_bytes().to_vec())),
        );
        Mutation {
            table: T,
            token: 1,
            key: key.to_vec(),
            rows: vec![(vec![], row)],
            ..Default::default()
        }
    }

    fn stored_timestamp(s: &Storage, key: &[u8]) -> i64 {
        let p = s
            .read_partition(&T, 1, key)
            .unwrap()
            .expect("the partition");
        match &p.rows[0].1.columns["v"] {
            ColumnData::Simple(c) => c.timestamp,
            other => panic!("not a simple cell: {other:?}"),
        }
    }

    /// Writers racing on one cell, from threads and from tasks, in every
    /// order: the store keeps the highest timestamp, as it did when each
    /// write took a lock of its own; nothing is lost from the groups.
    #[test]
    fn racing_writes_keep_the_winner_and_every_partition() {
        let dir = tempfile::tempdir().unwrap();
        let s = Arc::new(Storage::open(dir.path(), CommitlogSync::default()).unwrap());
        let threads: Vec<_> = (0..8i64)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..200i64 {
                        // Timestamps interleave across threads: 8 * i + t.
                        s.apply(&cell_write(b"hot", 8 * i + t), true).unwrap();
                        s.apply(&cell_write(format!("k{t}-{i}").as_bytes(), 1), i % 2 == 0)
                            .unwrap();
                    }
                })
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let writes: Vec<_> = (0..400i64)
                .map(|i| s.apply_async(cell_write(b"hot", 8 * 200 + i), true))
                .collect();
            for w in writes {
                w.await.unwrap();
            }
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(stored_timestamp(&s, b"hot"), 8 * 200 + 399);
        for t in 0..8 {
            for i in 0..200 {
                assert_eq!(stored_timestamp(&s, format!("k{t}-{i}").as_bytes()), 1);
            }
        }
    }

    /// A refused mutation fails alone: the others of its group are written.
    #[test]
    fn a_refused_mutation_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let s = Storage::open(dir.path(), CommitlogSync::default()).unwrap();
        let mut wide = cell_write(b"wide", 5);
        wide.rows[0].0 = vec![vec![1]; 256];
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (a, b, c) = rt.block_on(async {
            let a = s.apply_async(cell_write(b"before", 5), true);
            let b = s.apply_async(wide, true);
            let c = s.apply_async(cell_write(b"after", 5), true);
            (a.await, b.await, c.await)
        });
        assert!(a.is_ok() && c.is_ok());
        assert!(matches!(b, Err(StorageError::ClusteringTooWide(256))));
        assert_eq!(stored_timestamp(&s, b"before"), 5);
        assert_eq!(stored_timestamp(&s, b"after"), 5);
        assert!(s.read_partition(&T, 1, b"wide").unwrap().is_none());
    }
}
