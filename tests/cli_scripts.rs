//! The CLI and the CCR rules as data: each file in `tests/scripts/` is a
//! terminal transcript. Lines starting with `$ ccrsim` are run (in-process,
//! against a fresh server on 127.0.0.1:0), and the lines below each one are
//! what it must print: its output, then its error output, then `[exit N]`
//! when it fails. Timestamps print as `<time>`; `$TMP` is a directory of the
//! script's own. `$ cat FILE` prints a file.
//!
//! Run `UPDATE_GOLDEN=1 cargo test --test cli_scripts` to rewrite the
//! expected output after a deliberate change, then read the diff.

mod common;

use std::path::Path;

use common::TestServer;

struct Block {
    /// Comment and blank lines before the command, kept as they are.
    preamble: Vec<String>,
    command: String,
    expected: Vec<String>,
}

fn parse(text: &str) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    let mut current: Option<Block> = None;
    // Blank lines that close an output belong to what follows.
    let close = |b: &mut Block, pending: &mut Vec<String>| {
        let mut blanks = Vec::new();
        while b.expected.last().is_some_and(|l| l.trim().is_empty()) {
            blanks.push(b.expected.pop().unwrap());
        }
        pending.extend(blanks);
    };
    for line in text.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            if let Some(mut b) = current.take() {
                close(&mut b, &mut pending);
                blocks.push(b);
            }
            current = Some(Block {
                preamble: std::mem::take(&mut pending),
                command: cmd.to_string(),
                expected: Vec::new(),
            });
        } else if line.starts_with('#') || (line.trim().is_empty() && current.is_none()) {
            if let Some(mut b) = current.take() {
                close(&mut b, &mut pending);
                blocks.push(b);
            }
            pending.push(line.to_string());
        } else if let Some(b) = current.as_mut() {
            b.expected.push(line.trim_end().to_string());
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

/// Replaces RFC 3339 timestamps (`2026-11-22T14:23:20Z`) with `<time>`.
fn mask_times(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let shape = b"dddd-dd-ddTdd:dd:ddZ";
    while i < b.len() {
        let fits = i + shape.len() <= b.len()
            && shape.iter().zip(&b[i..]).all(|(p, c)| {
                if *p == b'd' {
                    c.is_ascii_digit()
                } else {
                    p == c
                }
            });
        if fits {
            out.push_str("<time>");
            i += shape.len();
        } else {
            let ch = s[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

async fn run_command(server: &TestServer, tmp: &Path, command: &str) -> Vec<String> {
    let tmp_s = tmp.display().to_string();
    let words = shell_words::split(&command.replace("$TMP", &tmp_s))
        .expect("command parses as shell words");
    let text = match words.first().map(String::as_str) {
        Some("ccrsim") => {
            let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
            let (out, err, code) = server.cli(&args).await;
            let mut text = out + &err;
            if code != 0 {
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(&format!("[exit {code}]"));
            }
            text
        }
        Some("cat") => std::fs::read_to_string(&words[1]).unwrap_or_else(|e| format!("cat: {e}")),
        _ => panic!("unknown command in script: {command}"),
    };
    let text = mask_times(&text).replace(&tmp_s, "$TMP");
    text.trim_end()
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect()
}

async fn run_script(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name);
    let text = std::fs::read_to_string(&path).expect("script exists");
    let (blocks, tail) = parse(&text);
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut rewritten = String::new();
    let mut failures = Vec::new();
    for b in &blocks {
        let got = run_command(&server, tmp.path(), &b.command).await;
        if got != b.expected {
            failures.push(format!(
                "$ {}\n--- expected\n{}\n--- got\n{}\n",
                b.command,
                b.expected.join("\n"),
                got.join("\n")
            ));
        }
        for l in &b.preamble {
            rewritten.push_str(l);
            rewritten.push('\n');
        }
        rewritten.push_str(&format!("$ {}\n", b.command));
        for l in &got {
            rewritten.push_str(l);
            rewritten.push('\n');
        }
    }
    for l in &tail {
        rewritten.push_str(l);
        rewritten.push('\n');
    }
    server.server.shutdown().await;
    if update {
        std::fs::write(&path, rewritten).unwrap();
    } else if !failures.is_empty() {
        panic!(
            "{} of {} commands in tests/scripts/{name} printed something else (UPDATE_GOLDEN=1 rewrites the file):\n\n{}",
            failures.len(),
            blocks.len(),
            failures.join("\n")
        );
    }
}

#[test]
fn masks_timestamps() {
    assert_eq!(mask_times("at 2026-11-22T14:23:20Z."), "at <time>.");
    assert_eq!(mask_times("2026-11-22 no"), "2026-11-22 no");
}

#[tokio::test]
async fn rules() {
    run_script("rules.txt").await;
}

#[tokio::test]
async fn services() {
    run_script("services.txt").await;
}

#[tokio::test]
async fn cql() {
    run_script("cql.txt").await;
}
