//! Cells, deletions and the rules that reconcile them.
//!
//! Cassandra never updates in place: every write is a new *cell* carrying a
//! write timestamp (microseconds), and reads keep, for each cell position,
//! the version that wins [`reconcile`]: the higher timestamp; on a tie, a
//! tombstone or expiring cell beats a plain live one, a tombstone beats an
//! expiring cell, the later local deletion time wins between two of a kind,
//! and last the greater value (byte order). Every replica applies the same
//! rules, so they converge whatever order writes arrive in.
//!
//! Deletions are data too: a [`Deletion`] marks everything at or below its
//! timestamp deleted, at partition, range, row or collection level. A cell
//! written with a TTL becomes a tombstone when its local expiration time
//! passes; until then it is *expiring* and live.

use std::cmp::Ordering;

/// `local_deletion_time` of a cell that neither expires nor is deleted.
pub const NO_DELETION_TIME: i64 = i64::MAX;

/// One version of one cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Write timestamp in microseconds since the epoch.
    pub timestamp: i64,
    /// Time to live in seconds (0: none).
    pub ttl: i32,
    /// For a tombstone, when it was written; for an expiring cell, when it
    /// expires (seconds since the epoch); else [`NO_DELETION_TIME`].
    pub local_deletion_time: i64,
    /// The serialized value; `None` for a tombstone.
    pub value: Option<Vec<u8>>,
}

impl Cell {
    pub fn live(timestamp: i64, value: Vec<u8>) -> Cell {
        Cell {
            timestamp,
            ttl: 0,
            local_deletion_time: NO_DELETION_TIME,
            value: Some(value),
        }
    }

    /// A live cell that expires `ttl` seconds after `now` (seconds).
    pub fn expiring(timestamp: i64, ttl: i32, now: i64, value: Vec<u8>) -> Cell {
        Cell {
            timestamp,
            ttl,
            local_deletion_time: now.saturating_add(i64::from(ttl)),
            value: Some(value),
        }
    }

    pub fn tombstone(timestamp: i64, now: i64) -> Cell {
        Cell {
            timestamp,
            ttl: 0,
            local_deletion_time: now,
            value: None,
        }
    }

    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    pub fn is_expiring(&self) -> bool {
        self.value.is_some() && self.ttl > 0
    }

    /// Live at `now` (seconds): not a tombstone and not expired.
    pub fn is_live(&self, now: i64) -> bool {
        self.value.is_some() && (self.ttl <= 0 || now < self.local_deletion_time)
    }

    /// Seconds left to live at `now`, for `ttl()` in SELECT.
    pub fn remaining_ttl(&self, now: i64) -> Option<i64> {
        (self.is_expiring() && now < self.local_deletion_time)
            .then(|| self.local_deletion_time - now)
    }
}

/// Which of two versions of the same cell wins (Cassandra's rules; commutative).
pub fn reconcile<'a>(a: &'a Cell, b: &'a Cell) -> &'a Cell {
    match winner(a, b) {
        Ordering::Less => b,
        _ => a,
    }
}

/// `Greater` (or `Equal`) when `a` wins over `b`.
pub fn winner(a: &Cell, b: &Cell) -> Ordering {
    if a.timestamp != b.timestamp {
        return a.timestamp.cmp(&b.timestamp);
    }
    let a_special = a.local_deletion_time != NO_DELETION_TIME;
    let b_special = b.local_deletion_time != NO_DELETION_TIME;
    if a_special || b_special {
        if a_special != b_special {
            return if a_special {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let (a_tomb, b_tomb) = (a.is_tombstone(), b.is_tombstone());
        if a_tomb != b_tomb {
            return if a_tomb {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        if a.local_deletion_time != b.local_deletion_time {
            return a.local_deletion_time.cmp(&b.local_deletion_time);
        }
    }
    let empty: &[u8] = &[];
    a.value
        .as_deref()
        .unwrap_or(empty)
        .cmp(b.value.as_deref().unwrap_or(empty))
}

/// A deletion: everything written at or before `marked_at` is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deletion {
    /// Timestamp (microseconds) of the delete.
    pub marked_at: i64,
    /// When it was written (seconds), for gc_grace_seconds.
    pub local_deletion_time: i64,
}

impl Deletion {
    pub const LIVE: Deletion = Deletion {
        marked_at: i64::MIN,
        local_deletion_time: i64::MAX,
    };

    pub fn is_live(&self) -> bool {
        self.marked_at == i64::MIN
    }

    pub fn deletes(&self, timestamp: i64) -> bool {
        timestamp <= self.marked_at
    }

    /// The stronger of two deletions (the later timestamp; ties: later local time).
    pub fn max(self, other: Deletion) -> Deletion {
        if (other.marked_at, other.local_deletion_time) > (self.marked_at, self.local_deletion_time)
        {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn higher_timestamp_wins() {
        let old = Cell::live(1, b"b".to_vec());
        let new = Cell::live(2, b"a".to_vec());
        assert_eq!(reconcile(&old, &new), &new);
        assert_eq!(reconcile(&new, &old), &new);
        let t = Cell::tombstone(1, 100);
        assert_eq!(reconcile(&t, &new), &new);
    }

    #[test]
    fn ties_prefer_tombstones_then_expiring_then_greater_values() {
        let live_a = Cell::live(5, b"a".to_vec());
        let live_b = Cell::live(5, b"b".to_vec());
        let tomb = Cell::tombstone(5, 100);
        let exp = Cell::expiring(5, 10, 100, b"a".to_vec());
        assert_eq!(reconcile(&live_a, &live_b), &live_b);
        assert_eq!(reconcile(&live_b, &live_a), &live_b);
        assert_eq!(reconcile(&live_b, &tomb), &tomb);
        assert_eq!(reconcile(&exp, &live_b), &exp);
        assert_eq!(reconcile(&exp, &tomb), &tomb);
        let exp_later = Cell::expiring(5, 20, 100, b"a".to_vec());
        assert_eq!(reconcile(&exp, &exp_later), &exp_later);
    }

    #[test]
    fn ttl_expiry_and_deletions() {
        let c = Cell::expiring(1, 10, 100, b"x".to_vec());
        assert!(c.is_live(109));
        assert_eq!(c.remaining_ttl(105), Some(5));
        assert!(!c.is_live(110));
        let d = Deletion {
            marked_at: 7,
            local_deletion_time: 1,
        };
        assert!(d.deletes(7) && d.deletes(6) && !d.deletes(8));
        assert!(!Deletion::LIVE.deletes(i64::MIN + 1));
        assert_eq!(Deletion::LIVE.max(d), d);
    }
}
