//! Hint replay, driven: the I/O around a [`Delivery`] pass.
//!
//! A pass reads, for each replica gossip shows up, at most
//! [`PASS_HINTS_PER_HOST`] of its oldest hints (the rest stay on disk for
//! the next pass), lets the [`Delivery`] decide what to send when, and
//! sends what it allows to each replica in pages ([`Body::Stream`]: up to
//! [`PAGE_HINTS`] mutations or [`PAGE_BYTES`] a message, applied by the
//! replica in one batch). A page's answer settles each of its hints; the
//! delivered ones are deleted in batches. Passes follow each other while a
//! replica still has hints beyond what one pass read.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::delivery::{Delivery, Send};
use super::{Hint, for_host};
use crate::node::cluster::membership::Membership;
use crate::node::cluster::message::Body;
use crate::node::cluster::transport::Transport;
use crate::node::cql::exec::Engine;

/// Hints of one replica a pass reads from disk.
pub const PASS_HINTS_PER_HOST: usize = 8192;
/// Hints in one message.
pub const PAGE_HINTS: usize = 256;
/// Bytes of mutations in one message (a page holds at least one hint).
pub const PAGE_BYTES: usize = 1 << 20;
/// Delivered hints deleted in one batch.
const DELETE_BATCH: usize = 4096;
/// How long a replica may take to apply a page.
const PAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a node's hint replay works with.
pub struct Replay<'a> {
    pub engine: &'a Arc<Engine>,
    pub membership: &'a Membership,
    pub transport: &'a Arc<Transport>,
    /// `nodetool pausehandoff`: stop at once, hints kept.
    pub paused: &'a AtomicBool,
}

/// `sends` cut into pages per replica, in order.
pub fn pages(sends: Vec<Send>) -> Vec<Vec<Send>> {
    let mut by_host: BTreeMap<[u8; 16], Vec<Vec<Send>>> = BTreeMap::new();
    for s in sends {
        let pages = by_host.entry(s.hint.host).or_default();
        let fits = pages.last().is_some_and(|p| {
            p.len() < PAGE_HINTS
                && p.iter().map(|s| s.hint.mutation.len()).sum::<usize>() + s.hint.mutation.len()
                    <= PAGE_BYTES
        });
        if fits {
            pages.last_mut().expect("a page").push(s);
        } else {
            pages.push(vec![s]);
        }
    }
    by_host.into_values().flatten().collect()
}

impl Replay<'_> {
    /// One pass; whether another should follow at once (some replica had
    /// more hints than the pass read, and the pass delivered some).
    pub async fn pass(&self) -> bool {
        if self.transport.is_stopped() {
            return false;
        }
        let me = self.transport.me();
        let hosts: HashMap<[u8; 16], IpAddr> = self
            .membership
            .states()
            .iter()
            .filter(|s| s.address != me)
            .map(|s| (s.app.host_id, s.address))
            .collect();
        let up: Vec<[u8; 16]> = hosts
            .iter()
            .filter(|(_, a)| self.membership.is_alive(a))
            .map(|(h, _)| *h)
            .collect();
        if up.is_empty() {
            return false;
        }
        let storage = self.engine.storage.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let mut all = Vec::new();
            let mut full = false;
            for h in up {
                let hs = for_host(&storage, &h, PASS_HINTS_PER_HOST).unwrap_or_default();
                full |= hs.len() == PASS_HINTS_PER_HOST;
                all.extend(hs);
            }
            (all, full)
        })
        .await;
        let Ok((hints, more)) = loaded else {
            return false;
        };
        if hints.is_empty() {
            return false;
        }
        let settings = self.membership.hint_delivery(hosts.len());
        let start = tokio::time::Instant::now();
        let now = || start.elapsed().as_millis() as u64;
        let mut pass = Delivery::new(hints, settings, now());
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Vec<u64>, bool)>();
        let mut delivered: Vec<Hint> = Vec::new();
        let mut any = false;
        loop {
            if self.paused.load(Ordering::Relaxed) || self.transport.is_stopped() {
                break;
            }
            let reachable =
                |h: &[u8; 16]| hosts.get(h).is_some_and(|a| self.membership.is_alive(a));
            let pump = pass.pump(now(), &reachable);
            for page in pages(pump.sends) {
                let Some(addr) = hosts.get(&page[0].hint.host).copied() else {
                    let _ = tx.send((page.iter().map(|s| s.id).collect(), false));
                    continue;
                };
                let ids: Vec<u64> = page.iter().map(|s| s.id).collect();
                let body = Body::Stream(page.into_iter().map(|s| s.hint.mutation).collect());
                let (t, tx) = (self.transport.clone(), tx.clone());
                tokio::spawn(async move {
                    let r = t.request(addr, body, PAGE_TIMEOUT).await;
                    let ok = matches!(&r, Ok(m) if matches!(m.body, Body::MutationAck));
                    let _ = tx.send((ids, ok));
                });
            }
            if pass.in_flight() == 0 && pump.wake.is_none() {
                break;
            }
            let wake = pump
                .wake
                .map(|w| start + Duration::from_millis(w))
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                r = rx.recv() => {
                    let mut next = r;
                    while let Some((ids, ok)) = next {
                        for id in ids {
                            delivered.extend(pass.step(id, ok));
                        }
                        next = rx.try_recv().ok();
                    }
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
            if delivered.len() >= DELETE_BATCH {
                any = true;
                self.delete(std::mem::take(&mut delivered)).await;
            }
        }
        any |= !delivered.is_empty();
        self.delete(delivered).await;
        more && any && !self.paused.load(Ordering::Relaxed) && !self.transport.is_stopped()
    }

    async fn delete(&self, delivered: Vec<Hint>) {
        if delivered.is_empty() {
            return;
        }
        let storage = self.engine.storage.clone();
        let _ = tokio::task::spawn_blocking(move || super::delete_all(&storage, &delivered)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(id: u64, host: u8, len: usize) -> Send {
        Send {
            id,
            hint: Hint {
                key: vec![host, id as u8],
                host: [host; 16],
                written: 0,
                durable: true,
                mutation: vec![0; len],
            },
        }
    }

    #[test]
    fn pages_hold_one_replica_each_and_stay_within_their_bounds() {
        let mut sends: Vec<Send> = (0..600).map(|i| send(i, 1 + (i % 2) as u8, 10)).collect();
        sends.push(send(1000, 3, PAGE_BYTES));
        sends.push(send(1001, 3, 1));
        let ps = pages(sends);
        for p in &ps {
            assert!(p.iter().all(|s| s.hint.host == p[0].hint.host));
            assert!(p.len() <= PAGE_HINTS);
            let bytes: usize = p.iter().map(|s| s.hint.mutation.len()).sum();
            assert!(p.len() == 1 || bytes <= PAGE_BYTES);
        }
        // 300 hints each for hosts 1 and 2: two pages each; host 3: one
        // page per hint (the first alone fills one).
        let sizes: Vec<usize> = ps.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![256, 44, 256, 44, 1, 1]);
        // Ids keep their order within a replica.
        let ids: Vec<u64> = ps[0].iter().chain(&ps[1]).map(|s| s.id).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
