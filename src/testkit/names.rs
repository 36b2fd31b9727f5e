//! Names that no other test uses: keyspaces, and a sequence for networks
//! and containers.

use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) static SEQ: AtomicU64 = AtomicU64::new(0);

/// A keyspace name no other test of this process (or of a parallel one)
/// uses: `{prefix}_{pid}_{n}`.
pub fn unique_keyspace(prefix: &str) -> String {
    let p: String = prefix
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(24)
        .collect::<String>()
        .to_ascii_lowercase();
    format!(
        "{}_{}_{}",
        if p.is_empty() { "ks".into() } else { p },
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_keyspaces_are_valid_and_distinct() {
        let a = unique_keyspace("My-Test");
        let b = unique_keyspace("My-Test");
        assert_ne!(a, b);
        assert!(a.starts_with("mytest_"), "{a}");
        assert!(crate::replication::keyspace_name(&a).is_ok());
        assert!(unique_keyspace("").starts_with("ks_"));
    }
}
