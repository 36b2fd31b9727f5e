//! The `ccrsim` binary as a child process: a command for a node or a
//! daemon, spawned and waited for (with a deadline) until it prints the line
//! that says it is ready, then its output drained so that it never blocks
//! on a full pipe; `nodetool` against a running node.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const BIN: &str = env!("CARGO_BIN_EXE_ccrsim");

/// Which output of a child tells that it is ready.
#[derive(Debug, Clone, Copy)]
pub enum Watch {
    Stdout,
    Stderr,
}

/// Spawns `cmd` with the watched output piped (the child is killed when
/// dropped) and reads it until a line satisfies `ready`, within `secs`
/// seconds; fails with `what` and the last lines it printed otherwise.
/// Returns the child and every line up to the ready one, included.
pub async fn spawn_until(
    cmd: &mut Command,
    watch: Watch,
    secs: u64,
    what: &str,
    mut ready: impl FnMut(&str) -> bool,
) -> (Child, Vec<String>) {
    match watch {
        Watch::Stdout => cmd.stdout(Stdio::piped()),
        Watch::Stderr => cmd.stderr(Stdio::piped()),
    };
    let mut child = cmd.kill_on_drop(true).spawn().expect("ccrsim starts");
    let mut lines = match watch {
        Watch::Stdout => Lines::Out(BufReader::new(child.stdout.take().unwrap()).lines()),
        Watch::Stderr => Lines::Err(BufReader::new(child.stderr.take().unwrap()).lines()),
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen: Vec<String> = Vec::new();
    let last = |seen: &[String]| seen[seen.len().saturating_sub(40)..].join("\n");
    loop {
        let line = tokio::time::timeout_at(deadline.into(), lines.next())
            .await
            .unwrap_or_else(|_| panic!("{what} within {secs} s; its output:\n{}", last(&seen)))
            .unwrap();
        let Some(line) = line else {
            panic!("exited before {what}; its output:\n{}", last(&seen));
        };
        let done = ready(&line);
        seen.push(line);
        if done {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next().await {} });
    (child, seen)
}

enum Lines {
    Out(tokio::io::Lines<BufReader<tokio::process::ChildStdout>>),
    Err(tokio::io::Lines<BufReader<tokio::process::ChildStderr>>),
}

impl Lines {
    async fn next(&mut self) -> std::io::Result<Option<String>> {
        match self {
            Lines::Out(l) => l.next_line().await,
            Lines::Err(l) => l.next_line().await,
        }
    }
}

/// `ccrsim node` on `addr` of cluster `cluster_name`, with its data in
/// `dir` and its log at `log`, stdout discarded.
pub fn node_command(addr: &str, cluster_name: &str, dir: &Path, log: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["node", "--listen-address", addr])
        .args(["--cluster-name", cluster_name])
        .arg("--data-dir")
        .arg(dir)
        .env("CCRSIM_LOG", log)
        .stdout(Stdio::null());
    cmd
}

/// Spawns a node command and waits (30 s at most) for its log line saying
/// it listens for CQL clients on `addr`:9042.
pub async fn start_node(cmd: &mut Command, addr: &str) -> Child {
    let ready = format!("Starting listening for CQL clients on /{addr}:9042");
    let what = format!("node {addr} logs its ready line");
    spawn_until(cmd, Watch::Stderr, 30, &what, |l| l.contains(&ready))
        .await
        .0
}

/// A `ccrsim serve` on a free port of 127.0.0.1.
pub struct Serving {
    pub child: Child,
    pub url: String,
    pub token: String,
}

/// Starts `ccrsim serve --listen 127.0.0.1:0 FLAGS` on `state`, its log
/// at warn going to `stderr`, and waits (30 s at most) for the line that
/// gives its URL.
pub async fn serve(state: &Path, flags: &[&str], stderr: Stdio) -> Serving {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(flags)
        .arg("--state-dir")
        .arg(state)
        .env("CCRSIM_LOG", "warn")
        .stderr(stderr);
    const READY: &str = "ccrsim control plane: ";
    let (child, seen) = spawn_until(
        &mut cmd,
        Watch::Stdout,
        30,
        "the daemon prints its URL",
        |l| l.starts_with(READY),
    )
    .await;
    let url = seen.last().unwrap()[READY.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let token = std::fs::read_to_string(state.join("token"))
        .unwrap()
        .trim()
        .to_string();
    Serving { child, url, token }
}

/// `ccrsim nodetool -h ADDR ARGS`: its output, or what went wrong.
pub async fn nodetool(addr: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(BIN)
        .args(["nodetool", "-h", addr])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("ccrsim nodetool runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "nodetool -h {addr} {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
