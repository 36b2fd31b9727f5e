//! A node's identity on the ring: its host id and its tokens.
//!
//! Each node owns `num_tokens` tokens of the Murmur3 ring (-2^63..2^63-1),
//! drawn at random on first start (seedable, so tests can replay a ring) and
//! kept in the node's metadata so that they survive restarts, as Cassandra
//! keeps them in `system.local`. The host id is a random (version 4) UUID,
//! also kept. Placement over the ring arrives with multi-datacenter
//! replication.

use rand::{Rng, RngExt as _, SeedableRng};

use crate::node::db::storage::{Storage, StorageError};

const HOST_ID_KEY: &[u8] = b"local/host_id";
const TOKENS_KEY: &[u8] = b"local/tokens";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIdentity {
    pub host_id: [u8; 16],
    /// Sorted, distinct.
    pub tokens: Vec<i64>,
}

/// A random version-4 UUID.
pub fn random_uuid(rng: &mut impl Rng) -> [u8; 16] {
    let mut b = [0u8; 16];
    rng.fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

/// `num_tokens` distinct random tokens, sorted (never `i64::MIN`, which
/// Murmur3 does not produce).
pub fn random_tokens(rng: &mut impl Rng, num_tokens: u16) -> Vec<i64> {
    let mut tokens = std::collections::BTreeSet::new();
    while tokens.len() < usize::from(num_tokens) {
        let t: i64 = rng.random();
        if t != i64::MIN {
            tokens.insert(t);
        }
    }
    tokens.into_iter().collect()
}

impl LocalIdentity {
    /// Loads the identity kept in `storage`, or creates and keeps one
    /// (`seed` makes the tokens and host id reproducible).
    pub fn load_or_create(
        storage: &Storage,
        num_tokens: u16,
        seed: Option<u64>,
    ) -> Result<LocalIdentity, StorageError> {
        if let (Some(id), Some(tokens)) = (
            storage.get_meta(HOST_ID_KEY)?,
            storage.get_meta(TOKENS_KEY)?,
        ) {
            let host_id: [u8; 16] = id
                .as_slice()
                .try_into()
                .map_err(|_| StorageError::Corrupt("host id"))?;
            if tokens.len() % 8 != 0 || tokens.is_empty() {
                return Err(StorageError::Corrupt("tokens"));
            }
            let tokens = tokens
                .chunks_exact(8)
                .map(|c| i64::from_be_bytes(c.try_into().expect("chunks of 8")))
                .collect();
            return Ok(LocalIdentity { host_id, tokens });
        }
        let mut rng = match seed {
            Some(s) => rand::rngs::StdRng::seed_from_u64(s),
            None => rand::rngs::StdRng::from_rng(&mut rand::rng()),
        };
        let identity = LocalIdentity {
            host_id: random_uuid(&mut rng),
            tokens: random_tokens(&mut rng, num_tokens),
        };
        let bytes: Vec<u8> = identity
            .tokens
            .iter()
            .flat_map(|t| t.to_be_bytes())
            .collect();
        storage.put_meta(TOKENS_KEY, &bytes)?;
        storage.put_meta(HOST_ID_KEY, &identity.host_id)?;
        Ok(identity)
    }
}

/// A UUID as text (`8-4-4-4-12`).
pub fn uuid_text(u: &[u8; 16]) -> String {
    let h: String = u.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::db::storage::CommitlogSync;

    #[test]
    fn identity_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = {
            let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
            LocalIdentity::load_or_create(&s, 16, None).unwrap()
        };
        assert_eq!(first.tokens.len(), 16);
        assert!(first.tokens.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(first.host_id[6] >> 4, 4);
        let s = Storage::open(dir.path(), CommitlogSync::Batch).unwrap();
        assert_eq!(
            LocalIdentity::load_or_create(&s, 8, None).unwrap(),
            first,
            "kept across restarts"
        );
    }

    #[test]
    fn seeded_tokens_replay() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let a = LocalIdentity::load_or_create(
            &Storage::open(d1.path(), CommitlogSync::Batch).unwrap(),
            4,
            Some(7),
        )
        .unwrap();
        let b = LocalIdentity::load_or_create(
            &Storage::open(d2.path(), CommitlogSync::Batch).unwrap(),
            4,
            Some(7),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(
            uuid_text(&[0xab; 16]),
            "abababab-abab-abab-abab-abababababab"
        );
    }
}
