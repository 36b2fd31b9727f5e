//! The trace of a simulated run: one line per thing that happened.
//!
//! The world writes a line for every node start, crash and stop, every
//! fault, every gossip event a node acts on and (unless turned off) every
//! message sent, delivered or dropped, each stamped with the virtual time.
//! Only the last lines are kept, so a long run stays small; a count and an
//! FNV-1a hash cover all of them, so two runs of one seed can be compared
//! whole: equal hashes, equal runs.

use std::collections::VecDeque;
use std::fmt::Write as _;

/// The trace: the last lines, a count and a hash of all of them.
#[derive(Debug, Clone)]
pub struct Trace {
    lines: VecDeque<String>,
    cap: usize,
    total: u64,
    hash: u64,
}

impl Trace {
    pub fn new(cap: usize) -> Trace {
        Trace {
            lines: VecDeque::new(),
            cap,
            total: 0,
            hash: 0xcbf2_9ce4_8422_2325,
        }
    }

    pub fn push(&mut self, line: String) {
        // FNV-1a over every line, the dropped ones included.
        for b in line.bytes().chain([b'\n']) {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.total += 1;
        if self.lines.len() == self.cap {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
    }

    pub fn lines(&self) -> impl Iterator<Item = &String> {
        self.lines.iter()
    }

    /// The last `n` lines kept, one per line.
    pub fn tail(&self, n: usize) -> String {
        let skip = self.lines.len().saturating_sub(n);
        let mut out = String::new();
        if self.total > (self.lines.len() - skip) as u64 {
            let _ = writeln!(
                out,
                "... {} earlier lines",
                self.total - (self.lines.len() - skip) as u64
            );
        }
        for l in self.lines.iter().skip(skip) {
            out.push_str(l);
            out.push('\n');
        }
        out
    }

    /// Lines written in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// A hash of every line written: equal for two equal runs.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_lines_and_hashes_them_all() {
        let mut a = Trace::new(2);
        let mut b = Trace::new(100);
        for i in 0..5 {
            a.push(format!("line {i}"));
            b.push(format!("line {i}"));
        }
        assert_eq!(a.lines().cloned().collect::<Vec<_>>(), ["line 3", "line 4"]);
        assert_eq!((a.total(), a.hash()), (b.total(), b.hash()));
        assert!(a.tail(10).starts_with("... 3 earlier lines\n"));
        b.push("one more".into());
        assert_ne!(a.hash(), b.hash());
    }
}
