//! The runner of goldenscript-style files: a script is input lines, each
//! followed by the output it must produce, with comment (`#`) and blank
//! lines in between kept as they are. The test file says which lines are
//! inputs and runs each one (its per-line executor); this runner parses the
//! script, compares what the executor printed with what the file says, and,
//! under `UPDATE_GOLDEN=1`, rewrites the file with what it printed.
//!
//! It serves any folder of such scripts: `tests/cql/` (statements to one
//! node's engine) and `tests/scripts/` (CLI transcripts) today.

use std::path::{Path, PathBuf};

/// The one switch that rewrites golden files instead of checking them.
pub const UPDATE: &str = "UPDATE_GOLDEN";

/// Whether this run rewrites golden files (`UPDATE_GOLDEN` is set).
pub fn updating() -> bool {
    std::env::var_os(UPDATE).is_some()
}

/// One input line and the output lines below it.
#[derive(Debug)]
pub struct Block {
    /// Comment and blank lines before the input, kept as they are.
    pub preamble: Vec<String>,
    /// The input line, whole (with its prefix).
    pub input: String,
    /// 1-based line number of the input in the file.
    pub line: usize,
    pub expected: Vec<String>,
}

/// A parsed script.
#[derive(Debug)]
pub struct Script {
    pub path: PathBuf,
    pub text: String,
    pub blocks: Vec<Block>,
    /// Comment and blank lines after the last output.
    pub tail: Vec<String>,
}

/// Splits `text` into blocks: an input line (as `is_input` says) opens one;
/// the lines under it are its expected output, up to the next input or
/// comment line. Blank lines that close an output belong to what follows.
pub fn parse(text: &str, is_input: impl Fn(&str) -> bool) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut current: Option<Block> = None;
    let close = |b: &mut Block, pending: &mut Vec<String>| {
        let mut blanks = Vec::new();
        while b.expected.last().is_some_and(|l| l.trim().is_empty()) {
            blanks.push(b.expected.pop().unwrap());
        }
        pending.extend(blanks);
    };
    for (n, line) in text.lines().enumerate() {
        if is_input(line) {
            if let Some(mut b) = current.take() {
                close(&mut b, &mut pending);
                blocks.push(b);
            }
            current = Some(Block {
                preamble: std::mem::take(&mut pending),
                input: line.to_string(),
                line: n + 1,
                expected: Vec::new(),
            });
        } else if line.starts_with('#') || (line.trim().is_empty() && current.is_none()) {
            if let Some(mut b) = current.take() {
                close(&mut b, &mut pending);
                blocks.push(b);
            }
            pending.push(line.to_string());
        } else if let Some(b) = current.as_mut() {
            b.expected.push(line.to_string());
        } else {
            pending.push(line.to_string());
        }
    }
    if let Some(mut b) = current.take() {
        close(&mut b, &mut pending);
        blocks.push(b);
    }
    (blocks, pending)
}

impl Script {
    /// Reads and parses the script at `path`.
    pub fn read(path: &Path, is_input: impl Fn(&str) -> bool) -> Script {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let (blocks, tail) = parse(&text, is_input);
        Script {
            path: path.to_path_buf(),
            text,
            blocks,
            tail,
        }
    }

    /// The script with `outputs` (one per block, in order) as the expected output.
    pub fn render(&self, outputs: &[Vec<String>]) -> String {
        let mut s = String::new();
        let mut push = |l: &str| {
            s.push_str(l);
            s.push('\n');
        };
        for (b, got) in self.blocks.iter().zip(outputs) {
            b.preamble.iter().for_each(|l| push(l));
            push(&b.input);
            got.iter().for_each(|l| push(l));
        }
        self.tail.iter().for_each(|l| push(l));
        s
    }

    /// Checks what the executor printed for each block against the file,
    /// or rewrites the file with it under `UPDATE_GOLDEN=1`. Fails naming
    /// every input whose output differs. An output line may hold several lines (a multi-line value): it
    /// counts as the lines it holds.
    pub fn finish(&self, outputs: Vec<Vec<String>>) {
        let outputs: Vec<Vec<String>> = outputs
            .iter()
            .map(|o| {
                o.iter()
                    .flat_map(|l| l.split('\n'))
                    .map(String::from)
                    .collect()
            })
            .collect();
        assert_eq!(
            outputs.len(),
            self.blocks.len(),
            "{}: one output per input",
            self.path.display()
        );
        let rewritten = self.render(&outputs);
        if updating() {
            std::fs::write(&self.path, rewritten).unwrap();
            return;
        }
        let failures: Vec<String> = self
            .blocks
            .iter()
            .zip(&outputs)
            .filter(|(b, got)| &b.expected != *got)
            .map(|(b, got)| {
                format!(
                    "line {}: {}\n--- expected\n{}\n--- got\n{}\n",
                    b.line,
                    b.input,
                    b.expected.join("\n"),
                    got.join("\n")
                )
            })
            .collect();
        assert!(
            failures.is_empty(),
            "{} of {} inputs in {} printed something else ({UPDATE}=1 rewrites the file):\n\n{}",
            failures.len(),
            self.blocks.len(),
            self.path.display(),
            failures.join("\n")
        );
        assert!(
            rewritten == self.text,
            "{} differs from its outputs only in whitespace or line ends ({UPDATE}=1 rewrites it)",
            self.path.display()
        );
    }
}

/// The files of `dir` (relative to the crate) with extension `ext`, sorted.
pub fn files(dir: &str, ext: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no scripts in {}", dir.display());
    files
}
