//! Which writes may skip reading what they overwrite.
//!
//! A store keeps the winning version of every cell whatever order writes
//! arrive in (the newest timestamp wins, as in Cassandra), so before it
//! writes a cell it reads the one stored under the same key. Most writes
//! are newer than anything stored, though: a cell whose timestamp is above
//! every timestamp the store holds wins without looking. [`Newest`] keeps
//! that bound, per slice of the ring (256 slices by the token's top byte,
//! so that the writes of many coordinators, whose clocks differ by a few
//! milliseconds, rarely fall behind each other), and the writer skips the
//! read for the cells and deletions above it.
//!
//! The bound must hold after a restart too: the store persists a ceiling
//! above every timestamp it holds, raised (with some headroom, so rarely)
//! in the same atomic batch as the write that passes it. A store opened
//! again starts every slice at that ceiling; a store written by a version
//! without it reads before every write.

use std::sync::atomic::{AtomicI64, Ordering};

/// The meta key of the persisted ceiling.
pub(super) const CEILING_KEY: &[u8] = b"newest-timestamp-ceiling";

/// How far above a write's timestamp the ceiling is raised: 10 s of
/// microsecond timestamps, so that it is written about every 10 s.
const HEADROOM: i64 = 10_000_000;

const SLICES: usize = 256;

/// Every timestamp stored, bounded per slice of the ring; see the module's doc.
pub(super) struct Newest {
    slices: Vec<AtomicI64>,
    ceiling: AtomicI64,
}

impl Newest {
    /// A store whose every timestamp is at most `ceiling`.
    pub(super) fn below(ceiling: i64) -> Newest {
        Newest {
            slices: (0..SLICES).map(|_| AtomicI64::new(ceiling)).collect(),
            ceiling: AtomicI64::new(ceiling),
        }
    }

    /// The bound of the slice `token` falls in: a cell or deletion of that
    /// partition above it wins over anything stored.
    pub(super) fn bound(&self, token: i64) -> i64 {
        self.slices[slice(token)].load(Ordering::Relaxed)
    }

    /// The ceiling to persist with a write whose newest timestamp is
    /// `newest`, if it passes the one persisted.
    pub(super) fn ceiling_for(&self, newest: i64) -> Option<i64> {
        (newest > self.ceiling.load(Ordering::Relaxed)).then(|| newest.saturating_add(HEADROOM))
    }

    /// Records a committed write (and the ceiling persisted with it).
    pub(super) fn wrote(&self, token: i64, newest: i64, ceiling: Option<i64>) {
        if let Some(c) = ceiling {
            self.ceiling.fetch_max(c, Ordering::Relaxed);
        }
        self.slices[slice(token)].fetch_max(newest, Ordering::Relaxed);
    }
}

fn slice(token: i64) -> usize {
    ((token as u64) >> 56) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_rise_per_slice_and_the_ceiling_with_headroom() {
        let n = Newest::below(i64::MIN);
        let (a, b) = (0x0100_0000_0000_0000_i64, -1_i64);
        assert_eq!(n.bound(a), i64::MIN);
        let c = n.ceiling_for(1_000);
        assert_eq!(c, Some(1_000 + HEADROOM));
        n.wrote(a, 1_000, c);
        assert_eq!(
            (n.bound(a), n.bound(b)),
            (1_000, i64::MIN),
            "one slice rose"
        );
        // Below the ceiling: nothing more to persist.
        assert_eq!(n.ceiling_for(2_000), None);
        n.wrote(a, 500, None);
        assert_eq!(n.bound(a), 1_000, "an older write does not lower it");
        assert_eq!(
            n.ceiling_for(1_000 + HEADROOM + 1),
            Some(1_000 + 2 * HEADROOM + 1)
        );
        assert_eq!(n.ceiling_for(i64::MAX), Some(i64::MAX));
        // Opened again: every slice starts at the persisted ceiling.
        let again = Newest::below(1_000 + HEADROOM);
        assert_eq!(again.bound(b), 1_000 + HEADROOM);
        assert_eq!(again.ceiling_for(1_000 + HEADROOM), None);
    }
}
