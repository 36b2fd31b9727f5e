//! A stable, deterministic stand-in for the libFuzzer targets in `fuzz/`
//! (which need a nightly toolchain and `cargo fuzz`): the statements of the
//! CQL scripts, and QUERY/PREPARE/EXECUTE/BATCH frames carrying them, are
//! mutated (bytes flipped, cut, repeated, inserted) and fed to the frame
//! decoder and the CQL parser, which must return an error or a value and
//! never panic; whole scripts, the engine seeds (`fuzz/seeds/cql_engine`)
//! and single statements in every mode, mutated and given pools of values
//! (keys and elements over every limit among them), run on a live engine
//! (`cql_engine`'s entry point), which must answer each and never panic.

use ccrsim::node::fuzz;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn statements() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cql");
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        out.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("> ").map(String::from)),
        );
    }
    out.sort();
    out
}

fn frame(opcode: u8, body: &[u8]) -> Vec<u8> {
    let mut f = vec![0x04, 0, 0, 1, opcode];
    f.extend_from_slice(&(body.len() as u32).to_be_bytes());
    f.extend_from_slice(body);
    f
}

fn query_body(q: &str) -> Vec<u8> {
    let mut b = (q.len() as u32).to_be_bytes().to_vec();
    b.extend_from_slice(q.as_bytes());
    // consistency ONE, flags: values + page size + timestamp
    b.extend_from_slice(&[0, 1, 0x25, 0, 1, 0, 0, 0, 1, 7, 0, 0, 0, 100]);
    b.extend_from_slice(&42i64.to_be_bytes());
    b
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(rng.below(v.len() + 1)),
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let j = (i + rng.below(16)).min(v.len());
                let chunk = v[i..j].to_vec();
                v.splice(i..i, chunk);
            }
            3 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
            _ if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0x00, 0x7f, 0x80, 0xff, b'(', b'\'', b'"', b';'][rng.below(8)];
            }
            _ => {}
        }
    }
    v
}

#[test]
fn mutated_cql_never_panics_the_parser() {
    let seeds = statements();
    assert!(seeds.len() > 100);
    let mut rng = Rng(0x5eed_cafe);
    for i in 0..40_000 {
        let s = &seeds[i % seeds.len()];
        fuzz::cql_text(&mutate(&mut rng, s.as_bytes()));
    }
}

#[test]
fn mutated_frames_never_panic_the_decoder() {
    let seeds: Vec<Vec<u8>> = statements()
        .iter()
        .flat_map(|s| {
            let mut batch = vec![0u8, 0, 2, 0];
            batch.extend_from_slice(&(s.len() as u32).to_be_bytes());
            batch.extend_from_slice(s.as_bytes());
            batch.extend_from_slice(&[
                0, 0, 1, 0, 1, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0,
                0, 1,
            ]);
            batch.extend_from_slice(&[0, 1, 0]);
            [
                frame(0x07, &query_body(s)),
                frame(0x09, &query_body(s)[..4 + s.len()]),
                frame(0x0D, &batch),
            ]
        })
        .collect();
    let mut rng = Rng(0xf00d_f00d);
    for i in 0..40_000 {
        fuzz::frame(&mutate(&mut rng, &seeds[i % seeds.len()]));
    }
}

/// A directory for an engine's data: in memory when the system has a tmpfs
/// at /dev/shm (the engine fuzzer rebuilds its schema often, and syncs).
fn engine_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    }
}

fn engine_seeds() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/cql_engine");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn engine_seeds_mostly_run() {
    // The seeds reach past errors into the engine: a fuzzer mutating them
    // explores execution, not only the error paths.
    let dir = engine_dir();
    let mut f = fuzz::EngineFuzzer::open(dir.path());
    for seed in engine_seeds() {
        let before = f.outcomes();
        f.run(&seed);
        let (ok, err) = f.outcomes();
        let (ok, err) = (ok - before.0, err - before.1);
        let text = String::from_utf8_lossy(&seed);
        assert!(ok >= 3 * err, "{ok} ran, {err} failed:\n{text}");
    }
}

#[test]
fn mutated_statements_never_panic_the_engine() {
    let dir = engine_dir();
    let mut f = fuzz::EngineFuzzer::open(dir.path());
    // Whole scripts of tests/cql, the engine seeds, and single statements
    // in every mode; each followed by a pool of values, among them keys and
    // elements over every length limit.
    let mut seeds: Vec<Vec<u8>> = engine_seeds();
    let lines = statements();
    // One input holding every statement, but those that edit system_auth
    // (one deletes the harness's own superuser, after which the rest of
    // the input is refused); they run alone below, where the harness
    // repairs the superuser after each input.
    let whole: Vec<&String> = lines
        .iter()
        .filter(|l| !l.contains("system_auth"))
        .collect();
    seeds.push(
        whole
            .iter()
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
            .into_bytes(),
    );
    for (i, s) in lines.iter().enumerate() {
        seeds.push(format!("{}{s}", ["", "!", "%", "+"][i % 4]).into_bytes());
    }
    let pools: [&[u8]; 5] = [
        &[],
        &[0xFD, 0x01, 0x11, 0x70, b'k', 0xFC, 3, 0xFF, 0xFE],
        &[0xFC, 1, 0xFD, 0x00, 0xFF, 0xFF, b'e', 4, 0, 0, 0, 1],
        &[
            0xFE, 0xFE, 0xFF, 0x00, 0, 0, 0, 2, 13, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, b'k',
        ],
        &[8, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xFC, 9],
    ];
    let mut rng = Rng(0xe9_61_9e);
    for i in 0..1_500 {
        let seed = &seeds[i % seeds.len()];
        let mut input = if i < seeds.len() {
            seed.clone()
        } else {
            mutate(&mut rng, seed)
        };
        input.push(0);
        input.extend_from_slice(pools[rng.below(pools.len())]);
        if rng.below(3) == 0 {
            input = mutate(&mut rng, &input);
        }
        f.run(&input);
    }
    let (ok, err) = f.outcomes();
    assert!(ok > 400 && err > 400, "{ok} ran, {err} failed");
}
