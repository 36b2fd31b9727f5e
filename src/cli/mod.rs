//! # The `ccrsim` command line
//!
//! Every command except `serve` is a client of the control plane's HTTP
//! API, exactly as `avn` is a client of Aiven's: it finds the API at `--url`
//! (`CCRSIM_URL`, default `http://127.0.0.1:9180`) and authenticates with
//! `--auth-token` (`CCRSIM_AUTH_TOKEN`), or with the token the daemon wrote
//! into its state directory (`--state-dir`, `CCRSIM_STATE_DIR`). Flags follow
//! `avn`'s where both have a command (`-t`, `-p`, `--cloud`, `-c KEY=VALUE`,
//! `--json`, `--force` ...).
//!
//! [`run`] takes the parsed command line and two writers, and returns the
//! exit code, so tests drive the real CLI in-process and compare what it
//! prints (see `tests/scripts/`). Human output is a table; `--json` prints
//! the API's object. Errors go to the error writer and exit non-zero.
//!
//! This file parses and dispatches; each command group has its file:
//! `args.rs` (the clap types), `error.rs` ([`CliError`]), `daemon.rs`
//! (`serve`, `up`, and starting the daemon with the runtime `--runtime`
//! names), `bench.rs`, `node.rs`, `nodetool.rs`, `project.rs`,
//! `service.rs`, `ccr.rs` and `cql.rs` (which also says how to reach a
//! service's nodes with CQL). Below them: `client.rs` (the HTTP client),
//! `cql_client.rs` (CQL through the scylla driver), `output.rs` (tables,
//! templates and the writer helpers) and `user_config.rs` (`-c KEY=VALUE`).
//! The files below `mod.rs` never import it.

pub mod bench;
pub mod client;
pub mod cql_client;
pub mod output;
pub mod user_config;

mod args;
mod ccr;
mod cql;
mod daemon;
mod error;
mod node;
mod nodetool;
mod project;
mod service;

use std::io::Write;

use clap::Parser;

use crate::control::server::read_token;
use client::{ApiClient, seg};

pub use args::{
    BenchArgs, CcrCmd, Cli, Command, ConnArgs, CqlCmd, NodetoolArgs, OutputArgs, ProjectCmd,
    RuntimeKind, ServeArgs, ServiceCmd,
};
pub use cql::{topology, topology_from_ccr};
pub use error::CliError;

/// Entry point of the binary: parses the command line, runs it, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return e.exit_code();
        }
    };
    // CCRSIM_LOG=debug|info|warn|error (default: info for `serve` and `node`, warn otherwise).
    // `up` prints what a user needs on stdout; its nodes' routine logs
    // would bury it.
    let default = if matches!(cli.command, Command::Serve(_) | Command::Node(_)) {
        "info"
    } else {
        "warn"
    };
    let level = std::env::var("CCRSIM_LOG")
        .ok()
        .and_then(|l| l.parse::<tracing::Level>().ok())
        .unwrap_or_else(|| default.parse().expect("a valid level"));
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    rt.block_on(run(cli, &mut out, &mut err))
}

/// Runs one command, writing output to `out` and errors to `err`; returns the exit code.
pub async fn run(cli: Cli, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> i32 {
    match dispatch(cli, out).await {
        Ok(()) => 0,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            1
        }
    }
}

fn token(cli: &Cli) -> Result<String, CliError> {
    if let Some(t) = &cli.auth_token {
        return Ok(t.clone());
    }
    read_token(&cli.state_dir).map_err(|e| {
        CliError::Usage(format!(
            "no API token: set CCRSIM_AUTH_TOKEN (or --auth-token), or point --state-dir at the daemon's state directory ({}: {e})",
            cli.state_dir.join("token").display()
        ))
    })
}

async fn dispatch(cli: Cli, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    if let Command::Serve(args) = &cli.command {
        return daemon::serve(&cli, args, out).await;
    }
    if let Command::Up(args) = &cli.command {
        return daemon::up(&cli, args, out).await;
    }
    if let Command::Bench(args) = &cli.command {
        return bench::command(args, out).await;
    }
    if let Command::Node(args) = &cli.command {
        return node::node(args).await;
    }
    if let Command::Nodetool(args) = &cli.command {
        return nodetool::nodetool(args, out).await;
    }
    let api = ApiClient::new(&cli.url, token(&cli)?);
    let p = format!("/v1/project/{}", seg(&cli.project));
    match &cli.command {
        Command::Serve(_)
        | Command::Up(_)
        | Command::Bench(_)
        | Command::Node(_)
        | Command::Nodetool(_) => {
            unreachable!("handled above")
        }
        Command::Project(cmd) => project::project(&api, cmd, out).await,
        Command::Service(cmd) => service::service(&api, &p, cmd, out).await,
        Command::Ccr(cmd) => ccr::ccr(&api, &p, cmd, out).await,
        Command::Cql(cmd) => cql::cql(&api, &p, cmd, out).await,
    }
}
