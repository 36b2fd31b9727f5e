//! Merkle trees over a token range, as repair compares them.
//!
//! A tree covers the token range `(start, end]` split into `2^depth` leaves
//! of equal width. A partition's hash (128-bit murmur3 of its wire form,
//! token and key included) is folded into the leaf its token falls in by
//! XOR, so the order partitions are added in does not matter and an empty
//! leaf hashes to zero. Each inner node hashes its two children (zero when
//! both are). Two replicas holding the same partitions build the same tree;
//! [`MerkleTree::differences`] walks two trees from the root and names the
//! leaves where they differ, skipping every subtree whose hashes agree.
//! Only leaves travel between nodes ([`MerkleTree::from_leaves`] rebuilds
//! the rest).

use crate::node::locator::partitioner::murmur3_x64_128;

pub type Hash = [u8; 16];

/// The deepest tree repair builds: 65 536 leaves (1 MiB of leaves).
pub const MAX_DEPTH: u8 = 16;

/// A token range `(start, end]`; `start < end`. The range that starts at
/// the ring's minimum token also holds that token (the empty key's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Range {
    pub start: i64,
    pub end: i64,
}

impl Range {
    /// The first token a storage scan of this range starts at (inclusive).
    pub fn scan_start(&self) -> i64 {
        if self.start == i64::MIN {
            i64::MIN
        } else {
            self.start + 1
        }
    }

    pub fn contains(&self, token: i64) -> bool {
        (token > self.start || (self.start == i64::MIN && token == i64::MIN)) && token <= self.end
    }
}

impl std::fmt::Display for Range {
    /// As Cassandra prints a range: `(start,end]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({},{}]", self.start, self.end)
    }
}

/// A partition's hash: its wire form's murmur3.
pub fn partition_hash(encoded: &[u8]) -> Hash {
    let (a, b) = murmur3_x64_128(encoded, 0);
    let mut h = [0u8; 16];
    h[..8].copy_from_slice(&a.to_be_bytes());
    h[8..].copy_from_slice(&b.to_be_bytes());
    h
}

/// The depth that gives about one leaf per partition, at most [`MAX_DEPTH`].
pub fn depth_for(partitions: usize) -> u8 {
    let mut d = 0u8;
    while d < MAX_DEPTH && (1usize << d) < partitions {
        d += 1;
    }
    d
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerkleTree {
    range: Range,
    /// `levels[0]` are the leaves, the last level is the root alone.
    levels: Vec<Vec<Hash>>,
}

fn xor(a: &mut Hash, b: &Hash) {
    a.iter_mut().zip(b).for_each(|(x, y)| *x ^= y);
}

fn parent(l: &Hash, r: &Hash) -> Hash {
    if l == &[0; 16] && r == &[0; 16] {
        return [0; 16];
    }
    let mut both = [0u8; 32];
    both[..16].copy_from_slice(l);
    both[16..].copy_from_slice(r);
    partition_hash(&both)
}

impl MerkleTree {
    /// An empty tree of `2^depth` leaves (`depth` at most [`MAX_DEPTH`]).
    pub fn new(range: Range, depth: u8) -> MerkleTree {
        let depth = depth.min(MAX_DEPTH);
        let mut t = MerkleTree {
            range,
            levels: vec![vec![[0; 16]; 1 << depth]],
        };
        t.rehash();
        t
    }

    /// A tree from the leaves another node sent; `None` unless their number
    /// is a power of two no larger than `2^MAX_DEPTH`.
    pub fn from_leaves(range: Range, leaves: Vec<Hash>) -> Option<MerkleTree> {
        if !leaves.len().is_power_of_two() || leaves.len() > 1 << MAX_DEPTH {
            return None;
        }
        let mut t = MerkleTree {
            range,
            levels: vec![leaves],
        };
        t.rehash();
        Some(t)
    }

    fn rehash(&mut self) {
        self.levels.truncate(1);
        while self.levels.last().is_some_and(|l| l.len() > 1) {
            let below = self.levels.last().expect("non-empty");
            let up = below.chunks(2).map(|c| parent(&c[0], &c[1])).collect();
            self.levels.push(up);
        }
    }

    pub fn range(&self) -> Range {
        self.range
    }

    pub fn depth(&self) -> u8 {
        (self.levels.len() - 1) as u8
    }

    pub fn leaves(&self) -> &[Hash] {
        &self.levels[0]
    }

    pub fn root(&self) -> Hash {
        self.levels.last().expect("a root")[0]
    }

    fn width(&self) -> i128 {
        i128::from(self.range.end) - i128::from(self.range.start)
    }

    /// The leaf a token falls in (tokens outside the range: the nearest).
    pub fn leaf_of(&self, token: i64) -> usize {
        let n = self.levels[0].len() as i128;
        let x = (i128::from(token) - i128::from(self.range.start)).clamp(1, self.width());
        ((x * n - 1) / self.width()) as usize
    }

    /// The token range of leaf `i`.
    pub fn leaf_range(&self, i: usize) -> Range {
        let n = self.levels[0].len() as i128;
        let bound = |i: i128| (i128::from(self.range.start) + self.width() * i / n) as i64;
        Range {
            start: bound(i as i128),
            end: bound(i as i128 + 1),
        }
    }

    /// Folds one partition in; call [`MerkleTree::finish`] once all are.
    pub fn add(&mut self, token: i64, hash: &Hash) {
        let i = self.leaf_of(token);
        xor(&mut self.levels[0][i], hash);
    }

    /// Recomputes the inner nodes after [`MerkleTree::add`].
    pub fn finish(&mut self) {
        self.rehash();
    }

    /// The leaves where two trees of the same range and depth differ, in
    /// order (every leaf when the shapes differ).
    pub fn differences(&self, other: &MerkleTree) -> Vec<usize> {
        if self.range != other.range || self.levels.len() != other.levels.len() {
            return (0..self.levels[0].len()).collect();
        }
        let mut out = Vec::new();
        let mut stack = vec![(self.levels.len() - 1, 0usize)];
        while let Some((level, i)) = stack.pop() {
            if self.levels[level][i] == other.levels[level][i] {
                continue;
            }
            if level == 0 {
                out.push(i);
            } else {
                stack.push((level - 1, 2 * i + 1));
                stack.push((level - 1, 2 * i));
            }
        }
        out
    }

    /// Leaves merged into the token ranges they cover (adjacent ones joined).
    pub fn ranges_of(&self, leaves: &[usize]) -> Vec<Range> {
        let mut out: Vec<Range> = Vec::new();
        for &i in leaves {
            let r = self.leaf_range(i);
            match out.last_mut() {
                Some(last) if last.end == r.start => last.end = r.end,
                _ => out.push(r),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> Hash {
        partition_hash(&[n])
    }

    #[test]
    fn leaves_cover_the_range_exactly_once() {
        for (start, end, depth) in [
            (i64::MIN, i64::MAX, 4),
            (-10, 10, 3),
            (0, 3, 3),
            (i64::MAX - 5, i64::MAX, 0),
        ] {
            let t = MerkleTree::new(Range { start, end }, depth);
            let n = t.leaves().len();
            assert_eq!(t.leaf_range(0).start, start);
            assert_eq!(t.leaf_range(n - 1).end, end);
            for i in 1..n {
                assert_eq!(t.leaf_range(i - 1).end, t.leaf_range(i).start);
            }
            for token in [start.saturating_add(1), end, (start / 2 + end / 2)] {
                let i = t.leaf_of(token);
                assert!(
                    t.leaf_range(i).contains(token) || t.leaf_range(i).start == t.leaf_range(i).end,
                    "{token} in leaf {i} = {}",
                    t.leaf_range(i)
                );
            }
        }
        let t = MerkleTree::new(
            Range {
                start: 0,
                end: 1 << 20,
            },
            4,
        );
        for token in 1..=(1 << 20) {
            assert!(t.leaf_range(t.leaf_of(token)).contains(token), "{token}");
        }
    }

    #[test]
    fn same_partitions_in_any_order_give_the_same_tree() {
        let r = Range {
            start: -1000,
            end: 1000,
        };
        let mut a = MerkleTree::new(r, 5);
        let mut b = MerkleTree::new(r, 5);
        for n in 0..50u8 {
            a.add(i64::from(n) * 37 - 900, &h(n));
        }
        for n in (0..50u8).rev() {
            b.add(i64::from(n) * 37 - 900, &h(n));
        }
        a.finish();
        b.finish();
        assert_eq!(a.root(), b.root());
        assert!(a.differences(&b).is_empty());
        let c = MerkleTree::from_leaves(r, a.leaves().to_vec()).unwrap();
        assert_eq!(c, a);
        assert_ne!(a.root(), MerkleTree::new(r, 5).root());
    }

    #[test]
    fn differences_name_exactly_the_leaves_that_differ() {
        let r = Range { start: 0, end: 64 };
        let mut a = MerkleTree::new(r, 3);
        let mut b = MerkleTree::new(r, 3);
        for t in 1..=64i64 {
            a.add(t, &h(t as u8));
            if t != 20 && t != 21 && t != 60 {
                b.add(t, &h(t as u8));
            }
        }
        // A different version of one partition in leaf 0.
        b.add(3, &h(3));
        b.add(3, &h(200));
        a.finish();
        b.finish();
        let d = a.differences(&b);
        assert_eq!(d, vec![0, 2, 7]);
        assert_eq!(
            a.ranges_of(&d),
            vec![
                Range { start: 0, end: 8 },
                Range { start: 16, end: 24 },
                Range { start: 56, end: 64 }
            ]
        );
        assert_eq!(
            a.ranges_of(&[1, 2, 4]),
            vec![Range { start: 8, end: 24 }, Range { start: 32, end: 40 }]
        );
    }

    #[test]
    fn bad_leaf_counts_are_refused_and_depth_is_bounded() {
        let r = Range { start: 0, end: 10 };
        assert!(MerkleTree::from_leaves(r, vec![[0; 16]; 3]).is_none());
        assert!(MerkleTree::from_leaves(r, vec![]).is_none());
        assert!(MerkleTree::from_leaves(r, vec![[0; 16]; 1 << 17]).is_none());
        assert_eq!(MerkleTree::new(r, 40).depth(), MAX_DEPTH);
        assert_eq!(depth_for(0), 0);
        assert_eq!(depth_for(1), 0);
        assert_eq!(depth_for(1000), 10);
        assert_eq!(depth_for(usize::MAX), MAX_DEPTH);
    }
}
