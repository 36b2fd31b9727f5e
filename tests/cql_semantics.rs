//! CQL semantics as data: each file in `tests/cql/` is a session with one
//! node's query engine (in-process, no sockets, its own data directory).
//! Lines starting with `> ` are statements; the lines under each are what
//! the node answers, rendered the way cqlsh shows it (`ok` for a void
//! result, `error <Kind>: <message>` for an error), then a `warning: ...`
//! line for each client warning the statement raised. Directives:
//!
//! - `@login USER PASSWORD`: log in (the session starts as `cassandra`);
//! - `@advance SECONDS`: move the node's clock forward (TTL expiry);
//! - `@paged N <statement>`: run a SELECT page by page, N rows a page;
//! - `@restart`: close the engine and open it again on the same data;
//! - `@authorizer CassandraAuthorizer` (anywhere in the file): the node
//!   checks permissions (it runs `AllowAllAuthorizer` otherwise).
//!
//! `UPDATE_GOLDEN=1 cargo test --test cql_semantics` rewrites the expected
//! output after a deliberate change; read the diff before committing it.

mod common;

use std::path::Path;
use std::sync::Arc;

use ccrsim::node::cql::exec::{Engine, Options, Session};
use ccrsim::node::cql::wait::wait;
use ccrsim::node::cql::warn;
use ccrsim::node::error::QueryError;
use ccrsim::node::transport::protocol::frame::{ResultBody, SchemaChangeTarget};
use ccrsim::node::value::CqlValue;
use common::golden;

fn open(dir: &Path, authorization: bool) -> Arc<Engine> {
    common::engine::open(dir, "Test Cluster", 7, authorization)
}

fn kind(e: &QueryError) -> &'static str {
    match e {
        QueryError::Server(_) => "Server",
        QueryError::Protocol(_) => "Protocol",
        QueryError::Authentication(_) => "Authentication",
        QueryError::Unavailable { .. } => "Unavailable",
        QueryError::Overloaded(_) => "Overloaded",
        QueryError::WriteTimeout { .. } => "WriteTimeout",
        QueryError::ReadTimeout { .. } => "ReadTimeout",
        QueryError::Syntax(_) => "Syntax",
        QueryError::Unauthorized(_) => "Unauthorized",
        QueryError::Invalid(_) => "Invalid",
        QueryError::Config(_) => "Config",
        QueryError::AlreadyExists { .. } => "AlreadyExists",
        QueryError::Unprepared(_) => "Unprepared",
    }
}

/// Renders a result as cqlsh would (values right-aligned, like cqlsh's numbers).
fn render(r: &Result<ResultBody, QueryError>, out: &mut Vec<String>) {
    match r {
        Err(e) => out.push(format!("error {}: {e}", kind(e))),
        Ok(ResultBody::Void) => out.push("ok".into()),
        Ok(ResultBody::SetKeyspace(k)) => out.push(format!("keyspace {k}")),
        Ok(ResultBody::SchemaChange(c)) => out.push(match &c.target {
            SchemaChangeTarget::Keyspace(k) => format!("schema change: {} KEYSPACE {k}", c.change),
            SchemaChangeTarget::Table { keyspace, table } => {
                format!("schema change: {} TABLE {keyspace}.{table}", c.change)
            }
        }),
        Ok(ResultBody::Prepared { .. }) => out.push("prepared".into()),
        Ok(ResultBody::Rows(rows)) => {
            let header: Vec<String> = rows.columns.iter().map(|c| c.name.clone()).collect();
            let cells: Vec<Vec<String>> = rows
                .rows
                .iter()
                .map(|row| {
                    row.iter()
                        .zip(&rows.columns)
                        .map(|(v, c)| match v {
                            None => "null".to_string(),
                            Some(b) => CqlValue::decode(&c.ty, b)
                                .map(|v| v.to_cqlsh())
                                .unwrap_or_else(|e| format!("<undecodable: {e}>")),
                        })
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = (0..header.len())
                .map(|i| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([header[i].chars().count()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |vals: &[String]| {
                let parts: Vec<String> = vals
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!(" {v:>w$} "))
                    .collect();
                parts.join("|").trim_end().to_string()
            };
            out.push(line(&header));
            out.push(
                widths
                    .iter()
                    .map(|w| "-".repeat(w + 2))
                    .collect::<Vec<_>>()
                    .join("+"),
            );
            for r in &cells {
                out.push(line(r));
            }
            out.push(format!("({} rows)", cells.len()));
        }
    }
}

/// Runs one script's inputs against a fresh node, each input's output in a
/// block of its own; the runner compares them with the file.
fn run_script(path: &Path) {
    let script = golden::Script::read(path, |l| l.starts_with("> ") || l.starts_with('@'));
    let dir = tempfile::tempdir().unwrap();
    let authorization = script
        .text
        .lines()
        .any(|l| l.trim() == "@authorizer CassandraAuthorizer");
    let mut engine = open(dir.path(), authorization);
    let mut session = Session::user("cassandra");
    let mut outputs = Vec::new();
    for block in &script.blocks {
        let line = block.input.as_str();
        let mut out: Vec<String> = Vec::new();
        if let Some(stmt) = line.strip_prefix("> ") {
            let (r, warnings) = wait(warn::capture_async(engine.query(
                &mut session,
                stmt,
                &Options::default(),
            )));
            render(&r, &mut out);
            // Client warnings, as drivers log them after the result.
            out.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
        } else if let Some(rest) = line.strip_prefix("@login ") {
            let mut it = rest.split_whitespace();
            let (u, p) = (it.next().unwrap(), it.next().unwrap_or(""));
            match wait(engine.login(u, p)) {
                Ok(()) => {
                    session = Session {
                        keyspace: session.keyspace.clone(),
                        ..Session::user(u)
                    };
                    out.push(format!("logged in as {u}"));
                }
                Err(e) => out.push(format!("error {}: {e}", kind(&e))),
            }
        } else if let Some(secs) = line.strip_prefix("@advance ") {
            let s: i64 = secs.trim().parse().unwrap();
            engine.advance_clock(s * 1_000_000);
            out.push(format!("clock +{s}s"));
        } else if let Some(rest) = line.strip_prefix("@paged ") {
            let (n, stmt) = rest.split_once(' ').unwrap();
            let n: i32 = n.parse().unwrap();
            let mut state: Option<Vec<u8>> = None;
            let mut page = 1;
            loop {
                let o = Options {
                    page_size: Some(n),
                    paging_state: state.as_deref(),
                    ..Default::default()
                };
                let r = wait(engine.query(&mut session, stmt, &o));
                out.push(format!("page {page}:"));
                render(&r, &mut out);
                match r {
                    Ok(ResultBody::Rows(rows)) if rows.paging_state.is_some() && page < 50 => {
                        state = rows.paging_state;
                        page += 1;
                    }
                    _ => break,
                }
            }
        } else if line.trim() == "@authorizer CassandraAuthorizer" {
            out.push("authorizer: CassandraAuthorizer".into());
        } else if line.trim() == "@restart" {
            drop(engine);
            engine = open(dir.path(), authorization);
            out.push("restarted".into());
        } else {
            panic!("{}: unknown directive {line}", path.display());
        }
        outputs.push(out);
    }
    script.finish(outputs);
}

#[test]
fn cql_scripts() {
    for f in golden::files("tests/cql", "txt") {
        run_script(&f);
    }
}
