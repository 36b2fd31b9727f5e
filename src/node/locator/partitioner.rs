//! Cassandra's `Murmur3Partitioner`: where a partition lives on the ring.
//!
//! # Tokens
//!
//! Every partition key is hashed to a *token*, a signed 64-bit integer. The
//! ring is the range of all tokens; each node owns the ranges that end at its
//! own tokens, so the token decides which replicas store a row, the order in
//! which a full scan returns partitions, and what the `token(k)` CQL function
//! answers. Drivers compute the same token to route a request straight to a
//! replica (token-aware routing), so ours must match Cassandra bit for bit.
//!
//! # The hash
//!
//! The token is the first 64-bit half of MurmurHash3 x64_128 with seed 0, as
//! Cassandra's `MurmurHash.hash3_x64_128` computes it. That implementation
//! differs from the reference C code in one place: the 1 to 15 trailing
//! bytes that do not fill a 16-byte block are read as *signed* Java bytes and
//! sign-extended to 64 bits before being shifted into place. For tail bytes
//! below 0x80 nothing changes; for bytes 0x80 and up the upper bits of the
//! tail word get flipped, so a textbook murmur3 gives a different token for
//! such keys. Full 16-byte blocks are read as plain little-endian words.
//!
//! Two adjustments turn the hash into a token ([`token`]):
//! * an empty key gets the minimum token, `i64::MIN`;
//! * a hash equal to `i64::MIN` becomes `i64::MAX`, because the minimum token
//!   is reserved as the ring's start and never names a real partition.
//!
//! # The key bytes
//!
//! What is hashed is the serialized partition key ([`partition_key_bytes`]):
//! for a single-column key, that column's value bytes as they travel in the
//! protocol; for a composite key, every component as a 2-byte big-endian
//! length, the bytes, and a 0x00 end-of-component byte (Cassandra's
//! `CompositeType` layout). Drivers build the same bytes from the bound
//! values of a prepared statement's partition key columns.
//!
//! The tests check [`murmur3_x64_128`] against the DataStax Python driver's
//! `cassandra.murmur3` (its own port of Cassandra's variant) through a
//! committed fixture, and live when a Python environment with the driver is
//! present.

/// The token of the empty partition key and the start of the ring.
pub const MIN_TOKEN: i64 = i64::MIN;

/// The longest partition key (or key component) Cassandra accepts, in bytes.
pub const MAX_KEY_LENGTH: usize = 0xFFFF;

const C1: u64 = 0x87c3_7b91_1142_53d5;
const C2: u64 = 0x4cf5_ad43_2745_937f;

fn fmix(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

fn mix_k1(k1: u64) -> u64 {
    k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2)
}

fn mix_k2(k2: u64) -> u64 {
    k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1)
}

/// A tail byte as Cassandra reads it: signed, sign-extended to 64 bits.
fn signed(b: u8) -> u64 {
    b as i8 as i64 as u64
}

/// MurmurHash3 x64_128 exactly as Cassandra computes it (signed tail bytes),
/// returning both 64-bit halves as Java longs.
pub fn murmur3_x64_128(data: &[u8], seed: u64) -> (i64, i64) {
    let mut h1 = seed;
    let mut h2 = seed;

    let mut blocks = data.chunks_exact(16);
    for block in &mut blocks {
        let mut lo = [0u8; 8];
        let mut hi = [0u8; 8];
        lo.copy_from_slice(&block[..8]);
        hi.copy_from_slice(&block[8..]);
        let k1 = u64::from_le_bytes(lo);
        let k2 = u64::from_le_bytes(hi);

        h1 ^= mix_k1(k1);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);

        h2 ^= mix_k2(k2);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }

    let tail = blocks.remainder();
    let mut k1 = 0u64;
    let mut k2 = 0u64;
    for (i, &b) in tail.iter().enumerate() {
        if i < 8 {
            k1 ^= signed(b) << (8 * i);
        } else {
            k2 ^= signed(b) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= mix_k2(k2);
    }
    if !tail.is_empty() {
        h1 ^= mix_k1(k1);
    }

    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (h1 as i64, h2 as i64)
}

/// The Murmur3Partitioner token of a serialized partition key.
pub fn token(key: &[u8]) -> i64 {
    if key.is_empty() {
        return MIN_TOKEN;
    }
    match murmur3_x64_128(key, 0).0 {
        i64::MIN => i64::MAX,
        t => t,
    }
}

/// The serialized partition key for its components' value bytes: one
/// component is used as is; several are each written as a u16 big-endian
/// length, the bytes and a 0x00 byte. Check lengths first with
/// [`check_key_lengths`]: a component longer than [`MAX_KEY_LENGTH`] cannot
/// be represented and its length is written modulo 2^16 here.
pub fn partition_key_bytes(components: &[&[u8]]) -> Vec<u8> {
    match components {
        [single] => single.to_vec(),
        many => {
            let total: usize = many.iter().map(|c| c.len() + 3).sum();
            let mut out = Vec::with_capacity(total);
            for c in many {
                out.extend_from_slice(&(c.len() as u16).to_be_bytes());
                out.extend_from_slice(c);
                out.push(0);
            }
            out
        }
    }
}

/// Refuses key components longer than Cassandra allows, with its message.
pub fn check_key_lengths(components: &[&[u8]]) -> Result<(), String> {
    for c in components {
        if c.len() > MAX_KEY_LENGTH {
            return Err(format!(
                "Key length of {} is longer than maximum of {}",
                c.len(),
                MAX_KEY_LENGTH
            ));
        }
    }
    Ok(())
}

/// Cassandra's check of a serialized partition key before a read or a
/// write (`QueryProcessor.validateKey`): not empty, at most
/// [`MAX_KEY_LENGTH`] bytes (a composite key counts with its framing).
pub fn validate_key(key: &[u8]) -> Result<(), String> {
    if key.is_empty() {
        return Err("Key may not be empty".into());
    }
    check_key_lengths(&[key])
}

/// Cassandra's check of a written row's clustering
/// (`ModificationStatement.validateClustering`): no value over
/// [`MAX_KEY_LENGTH`] bytes; its message gives the clustering's total size.
pub fn validate_clustering(values: &[Vec<u8>]) -> Result<(), String> {
    if values.iter().any(|v| v.len() > MAX_KEY_LENGTH) {
        let total: usize = values.iter().map(Vec::len).sum();
        return Err(format!(
            "Key length of {total} is longer than maximum of {MAX_KEY_LENGTH}"
        ));
    }
    Ok(())
}

/// The token of a partition key given by its components' value bytes.
pub fn token_of(components: &[&[u8]]) -> i64 {
    token(&partition_key_bytes(components))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::process::Command;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .filter_map(|i| s.get(2 * i..2 * i + 2))
            .filter_map(|h| u8::from_str_radix(h, 16).ok())
            .collect()
    }

    /// A small deterministic generator (SplitMix64) so tests need no crate.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn known_values() {
        // Values the Python driver's cassandra.murmur3 gives (checked when
        // the fixture was made); b"\x80" exercises the signed tail.
        assert_eq!(murmur3_x64_128(b"", 0).0, 0);
        assert_eq!(murmur3_x64_128(b"\x80", 0).0, -5_284_281_814_142_962_636);
        assert_eq!(murmur3_x64_128(b"hello", 0).0, -3_758_069_500_696_749_310);
        assert_eq!(token(b""), i64::MIN);
        assert_eq!(token(b"hello"), -3_758_069_500_696_749_310);
    }

    #[test]
    fn signed_tail_differs_from_textbook() {
        // Textbook murmur3 reads tail bytes unsigned; for 0x80.. Cassandra's
        // sign extension changes k1, hence the hash.
        let key = [0xffu8; 3];
        let mut k1 = 0u64;
        for (i, &b) in key.iter().enumerate() {
            k1 ^= (b as u64) << (8 * i);
        }
        let mut h1 = mix_k1(k1);
        let mut h2 = 0u64;
        h1 ^= 3;
        h2 ^= 3;
        h1 = h1.wrapping_add(h2);
        h2 = h2.wrapping_add(h1);
        let textbook = (fmix(h1).wrapping_add(fmix(h2))) as i64;
        assert_ne!(textbook, murmur3_x64_128(&key, 0).0);
        // Below 0x80 the two agree.
        let key = [0x7fu8; 3];
        let mut k1 = 0u64;
        for (i, &b) in key.iter().enumerate() {
            k1 ^= (b as u64) << (8 * i);
        }
        let mut h1 = mix_k1(k1) ^ 3;
        let mut h2 = 3u64;
        h1 = h1.wrapping_add(h2);
        h2 = h2.wrapping_add(h1);
        let textbook = (fmix(h1).wrapping_add(fmix(h2))) as i64;
        assert_eq!(textbook, murmur3_x64_128(&key, 0).0);
    }

    #[test]
    fn composite_keys() {
        assert_eq!(partition_key_bytes(&[b"abc"]), b"abc".to_vec());
        assert_eq!(
            partition_key_bytes(&[b"ab", b""]),
            vec![0, 2, b'a', b'b', 0, 0, 0, 0]
        );
        assert_eq!(partition_key_bytes(&[]), Vec::<u8>::new());
        assert_eq!(token_of(&[b"hello"]), token(b"hello"));
        assert!(check_key_lengths(&[&[0u8; 65535]]).is_ok());
        assert_eq!(
            check_key_lengths(&[b"a", &[0u8; 65536]]),
            Err("Key length of 65536 is longer than maximum of 65535".into())
        );
        assert!(validate_key(&[0u8; 65535]).is_ok());
        assert_eq!(validate_key(b""), Err("Key may not be empty".into()));
        assert_eq!(
            validate_key(&partition_key_bytes(&[&[0u8; 65530], b"a"])),
            Err("Key length of 65537 is longer than maximum of 65535".into())
        );
        assert!(validate_clustering(&[vec![0; 65535], vec![0; 65535]]).is_ok());
        assert_eq!(
            validate_clustering(&[vec![0; 10], vec![0; 70000]]),
            Err("Key length of 70010 is longer than maximum of 65535".into())
        );
    }

    #[test]
    fn fixture_matches_python_driver() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/murmur3_oracle.txt");
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let mut checked = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let mut parts = line.split_whitespace();
            let (Some(hex), Some(want)) = (parts.next(), parts.next()) else {
                panic!("bad fixture line {line:?}");
            };
            let hex = if hex == "-" { "" } else { hex };
            let want: i64 = want
                .parse()
                .unwrap_or_else(|_| panic!("bad number in {line:?}"));
            assert_eq!(murmur3_x64_128(&unhex(hex), 0).0, want, "key {hex}");
            checked += 1;
        }
        assert!(
            checked >= 2000,
            "fixture {} has only {checked} lines",
            path.display()
        );
    }

    /// Runs the Python driver live on 10 000 random keys when the venv of
    /// this crate exists (`.venv/bin/python` with cassandra-driver).
    #[test]
    fn live_python_oracle() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let python = root.join(".venv/bin/python");
        if !python.exists() {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "the live murmur3 oracle needs .venv with cassandra-driver (.ci/run installs it)"
            );
            eprintln!(
                "\n!!! SKIPPED live murmur3 oracle: {} not found; create it with \
                 `python3 -m venv .venv && .venv/bin/pip install cassandra-driver` !!!\n",
                python.display()
            );
            return;
        }
        let mut rng = Rng(0x5eed_1234_abcd);
        let mut keys = Vec::with_capacity(10_000);
        for i in 0..10_000usize {
            let len = (rng.next() % 65) as usize;
            let high = i % 2 == 0; // half the keys use only bytes >= 0x80
            let key: Vec<u8> = (0..len)
                .map(|_| {
                    let b = rng.next() as u8;
                    if high { b | 0x80 } else { b }
                })
                .collect();
            keys.push(key);
        }
        let input: String = keys
            .iter()
            .map(|k| {
                let h: String = k.iter().map(|b| format!("{b:02x}")).collect();
                if h.is_empty() {
                    "-\n".to_string()
                } else {
                    h + "\n"
                }
            })
            .collect();
        let script = "import sys\n\
            from cassandra.murmur3 import murmur3, _murmur3\n\
            for line in sys.stdin:\n\
            \x20   h = line.strip()\n\
            \x20   k = b'' if h == '-' else bytes.fromhex(h)\n\
            \x20   a = murmur3(k)\n\
            \x20   assert a == _murmur3(k), h\n\
            \x20   print(a)\n";
        let mut child = match Command::new(&python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                eprintln!("\n!!! SKIPPED live murmur3 oracle: cannot run python: {e} !!!\n");
                return;
            }
        };
        // Feed stdin from a thread: python answers while we still write,
        // and a full stdout pipe would otherwise deadlock both sides.
        let writer = child.stdin.take().map(|mut stdin| {
            std::thread::spawn(move || {
                use std::io::Write;
                stdin.write_all(input.as_bytes())
            })
        });
        let out = child.wait_with_output().expect("python output");
        if let Some(w) = writer {
            w.join().expect("writer thread").expect("write to python");
        }
        assert!(out.status.success(), "python oracle failed");
        let text = String::from_utf8_lossy(&out.stdout);
        let got: Vec<i64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
        assert_eq!(got.len(), keys.len(), "python answered {} keys", got.len());
        for (k, want) in keys.iter().zip(got) {
            assert_eq!(murmur3_x64_128(k, 0).0, want, "key {k:02x?}");
        }
    }

    #[test]
    fn all_tail_lengths_do_not_panic() {
        let mut rng = Rng(7);
        for len in 0..200 {
            let key: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let _ = token(&key);
        }
    }
}
