//! Helpers shared by the integration tests: a real control-plane server on
//! `127.0.0.1:0` with its own state directory, the CLI run in-process, a
//! daemon whose services run real nodes, and the CQL protocol by hand
//! ([`wire`]).

#![allow(dead_code)]

pub mod cluster;
pub mod engine;
pub mod golden;
pub mod process;
pub mod session;
pub mod wire;

use std::path::Path;
use std::sync::Arc;

use ccrsim::cli::{Cli, run};
use ccrsim::control::runtime::NoRuntime;
use ccrsim::control::server::{ServeConfig, Server};
use clap::Parser;

/// A server on a free port of 127.0.0.1, with state in a fresh temporary directory.
pub struct TestServer {
    pub server: Server,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = start_in(dir.path()).await;
        TestServer { server, dir }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    pub fn token(&self) -> &str {
        &self.server.token
    }

    /// Runs `ccrsim ARGS...` against this server; returns (stdout, stderr, exit code).
    pub async fn cli(&self, args: &[&str]) -> (String, String, i32) {
        cli(&self.url(), self.token(), args).await
    }
}

pub async fn start_in(dir: &Path) -> Server {
    Server::start(
        ServeConfig {
            state_dir: dir.to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            project: "ccrsim".into(),
            first_slot: 1,
        },
        Arc::new(NoRuntime),
    )
    .await
    .expect("server starts")
}

/// Runs the real CLI in-process against `url`.
pub async fn cli(url: &str, token: &str, args: &[&str]) -> (String, String, i32) {
    let mut argv = vec!["ccrsim", "--url", url, "--auth-token", token];
    argv.extend_from_slice(args);
    ccrsim(&argv).await
}

/// `ccrsim nodetool -h HOST ARGS` run in-process (over the internode port);
/// fails the test if the arguments do not parse.
pub async fn nodetool(host: &str, args: &[&str]) -> (String, String, i32) {
    let mut argv = vec!["ccrsim", "nodetool", "-h", host];
    argv.extend_from_slice(args);
    Cli::try_parse_from(&argv).expect("nodetool arguments parse");
    ccrsim(&argv).await
}

/// Runs `ARGV` (its first word the program's name) with the real CLI in
/// this process; a parse error is printed with its exit code.
pub async fn ccrsim(argv: &[&str]) -> (String, String, i32) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = match Cli::try_parse_from(argv) {
        Ok(parsed) => run(parsed, &mut out, &mut err).await,
        Err(e) => {
            err.extend_from_slice(e.to_string().as_bytes());
            e.exit_code()
        }
    };
    (
        String::from_utf8(out).expect("utf-8 output"),
        String::from_utf8(err).expect("utf-8 errors"),
        code,
    )
}

/// Gossip fast enough for tests: a round every 100 ms, a silent node
/// convicted after 3 s.
pub const FAST: ccrsim::node::cluster::member::GossipSettings =
    ccrsim::node::cluster::member::GossipSettings {
        interval: std::time::Duration::from_millis(100),
        convict_after: std::time::Duration::from_millis(3000),
    };

/// Starts a node in this process on `addr`:9042 with its data in `dir`
/// (datacenter dc1, batch commit log).
pub async fn start_node(addr: &str, dir: &Path) -> ccrsim::node::instance::Node {
    start_node_with(addr, dir, |_| {}).await
}

/// [`start_node`] with its configuration changed by `tune` first.
pub async fn start_node_with(
    addr: &str,
    dir: &Path,
    tune: impl FnOnce(&mut ccrsim::node::config::NodeConfig),
) -> ccrsim::node::instance::Node {
    let mut cfg = ccrsim::node::config::NodeConfig::local(addr.parse().unwrap(), dir);
    cfg.dc = "dc1".into();
    cfg.commitlog_sync = ccrsim::node::db::storage::CommitlogSync::Batch;
    tune(&mut cfg);
    ccrsim::node::instance::Node::start(cfg)
        .await
        .expect("node starts")
}

/// Polls `cond` every 50 ms until it holds; fails the test after `secs` seconds.
pub async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Polls `check` every 100 ms until it returns `Ok`; after `secs` seconds,
/// fails the test with `what` and the last reason `check` gave.
pub async fn poll<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let why = match check().await {
            Ok(()) => return,
            Err(why) => why,
        };
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs} s waiting: {what}; last state:\n{why}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A daemon whose services run real nodes in this process, on address
/// blocks from `127.0.{first_slot}.0/24` up (each test its own range).
pub struct Services {
    pub server: Server,
    pub runtime: Arc<ccrsim::runtime::in_process::InProcess>,
    pub dir: tempfile::TempDir,
}

impl Services {
    pub async fn start(first_slot: u8) -> Services {
        let dir = tempfile::tempdir().unwrap();
        let runtime =
            Arc::new(ccrsim::runtime::in_process::InProcess::new(dir.path()).with_gossip(FAST));
        let server = Server::start(
            ServeConfig {
                state_dir: dir.path().to_path_buf(),
                listen: "127.0.0.1:0".parse().unwrap(),
                project: "ccrsim".into(),
                first_slot,
            },
            Arc::new(runtime.clone()),
        )
        .await
        .expect("server starts");
        Services {
            server,
            runtime,
            dir,
        }
    }

    /// Runs `ccrsim LINE` (split on spaces) and expects success.
    pub async fn ok(&self, line: &str) -> String {
        let args: Vec<&str> = line.split(' ').collect();
        let (out, err, code) = cli(&self.server.url(), &self.server.token, &args).await;
        assert_eq!(code, 0, "ccrsim {line}: {out}{err}");
        out
    }

    /// `service get NAME --json`.
    pub async fn service(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&format!("service get {name} --json")).await).unwrap()
    }

    pub async fn stop(self) {
        self.server.shutdown().await;
        self.runtime.stop_all().await;
    }
}
