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

use common::{TestServer, golden};

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

/// Runs one script's commands against a fresh server; the runner compares
/// what each printed with the file.
async fn run_script(name: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name);
    let script = golden::Script::read(&path, |l| l.starts_with("$ "));
    let server = TestServer::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for b in &script.blocks {
        let command = b.input.strip_prefix("$ ").unwrap();
        outputs.push(run_command(&server, tmp.path(), command).await);
    }
    server.server.shutdown().await;
    script.finish(outputs);
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
