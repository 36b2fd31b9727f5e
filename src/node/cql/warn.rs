//! Client warnings, as Cassandra's `ClientWarn`.
//!
//! Some statements succeed but deserve a word to the client: a batch over
//! `batch_size_warn_threshold`, an unlogged batch across many partitions.
//! Cassandra collects such warnings per request in a thread-local and sends
//! them with the response (protocol v4's warning flag), and drivers log
//! them. A statement runs here as a task that may move between threads at
//! each await, so the collector is task-local: [`capture_async`] opens one
//! around the statement's future and returns what [`warn`] added meanwhile.
//! Work done synchronously on another thread (a schema change on the
//! store's stage) opens a thread-local one with [`capture`] and hands its
//! warnings back. [`warn`] adds to the innermost collector (the thread's,
//! then the task's); outside any it is dropped, as Cassandra drops a
//! warning when no request is listening.
//!
//! A request gets at most [`MAX_WARNINGS`] warnings: they come from the
//! node's own checks, but the bound keeps a response's size independent of
//! what the request asked for.

use std::cell::RefCell;

/// The most warnings one response carries; later ones are dropped.
pub const MAX_WARNINGS: usize = 16;

thread_local! {
    static COLLECTOR: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

tokio::task_local! {
    static TASK_COLLECTOR: RefCell<Vec<String>>;
}

/// Adds a warning to the current request's response (if one is being captured).
pub fn warn(message: impl Into<String>) {
    let add = |list: &mut Vec<String>, message: String| {
        if list.len() < MAX_WARNINGS {
            list.push(message);
        }
    };
    let message = message.into();
    let message = COLLECTOR.with(|c| match c.borrow_mut().as_mut() {
        Some(list) => {
            add(list, message);
            None
        }
        None => Some(message),
    });
    if let Some(message) = message {
        let _ = TASK_COLLECTOR.try_with(|c| add(&mut c.borrow_mut(), message));
    }
}

/// Runs the future `f` with a fresh task-local collector and returns its
/// output with the warnings it raised.
pub async fn capture_async<F: std::future::Future>(f: F) -> (F::Output, Vec<String>) {
    TASK_COLLECTOR
        .scope(RefCell::new(Vec::new()), async {
            let r = f.await;
            (r, TASK_COLLECTOR.with(|c| c.take()))
        })
        .await
}

/// Runs `f` with a fresh collector on this thread and returns its result
/// with the warnings it raised. Captures nest: an inner capture's warnings
/// are its own, and the outer one's resume after it.
pub fn capture<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let outer = COLLECTOR.with(|c| c.replace(Some(Vec::new())));
    // Restores the outer collector even if `f` unwinds.
    struct Restore(Option<Option<Vec<String>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                COLLECTOR.with(|c| *c.borrow_mut() = outer);
            }
        }
    }
    let mut restore = Restore(Some(outer));
    let r = f();
    let mine = COLLECTOR
        .with(|c| c.borrow_mut().take())
        .unwrap_or_default();
    if let Some(outer) = restore.0.take() {
        COLLECTOR.with(|c| *c.borrow_mut() = outer);
    }
    (r, mine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_belong_to_the_capture_that_raised_them() {
        warn("nobody listens");
        let (v, outer) = capture(|| {
            warn("one");
            let ((), inner) = capture(|| warn("inner"));
            assert_eq!(inner, ["inner"]);
            warn("two");
            7
        });
        assert_eq!((v, outer), (7, vec!["one".to_string(), "two".to_string()]));
        let ((), none) = capture(|| {});
        assert!(none.is_empty(), "nothing leaks from earlier captures");
        let ((), many) = capture(|| (0..100).for_each(|i| warn(format!("w{i}"))));
        assert_eq!(many.len(), MAX_WARNINGS);
    }

    #[test]
    fn a_panic_inside_a_capture_leaves_no_collector_behind() {
        let r = std::panic::catch_unwind(|| capture(|| -> () { panic!("boom") }));
        assert!(r.is_err());
        let ((), after) = capture(|| {});
        assert!(after.is_empty());
        warn("dropped");
        let ((), later) = capture(|| {});
        assert!(later.is_empty(), "no collector survived the panic");
    }
}
