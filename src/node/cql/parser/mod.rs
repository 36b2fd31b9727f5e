//! The CQL parser: tokens to [`Statement`]s, by recursive descent over
//! Cassandra 4.1's grammar (`Parser.g`) for the statements ccrsim runs.
//!
//! Statements Cassandra has and ccrsim does not (indexes, views, types,
//! functions...) parse to [`Statement::Unsupported`], so the executor can
//! answer a clear Invalid error instead of a syntax error. Errors carry
//! Cassandra's `line L:C` prefix.
//!
//! This file holds the [`Parser`] itself (tokens, keywords, names) and the
//! dispatch on a statement's first word; each family of statements is
//! parsed by an `impl Parser` of its own file: [`terms`] (terms and WHERE
//! clauses), [`select`], [`dml`] (INSERT, UPDATE, DELETE, BATCH), [`ddl`]
//! (keyspaces, tables, DESCRIBE) and [`dcl`] (roles and
//! permissions).
use std::collections::BTreeMap;

use crate::node::cql::ast::*;
use crate::node::cql::error::CqlError;
use crate::node::cql::lexer::{Tok, Token, lex, position};

mod dcl;
mod ddl;
mod dml;
mod select;
mod terms;
use crate::node::db::schema::{OptionValue, Order};
use crate::node::value::CqlLiteral;

/// Words that cannot be unquoted identifiers (Cassandra's reserved keywords).
const RESERVED: &[&str] = &[
    "add",
    "allow",
    "alter",
    "and",
    "apply",
    "asc",
    "authorize",
    "batch",
    "begin",
    "by",
    "columnfamily",
    "create",
    "delete",
    "desc",
    "describe",
    "drop",
    "entries",
    "execute",
    "from",
    "full",
    "grant",
    "if",
    "in",
    "index",
    "infinity",
    "insert",
    "into",
    "is",
    "keyspace",
    "limit",
    "modify",
    "nan",
    "norecursive",
    "not",
    "null",
    "of",
    "on",
    "or",
    "order",
    "primary",
    "rename",
    "replace",
    "revoke",
    "schema",
    "select",
    "set",
    "table",
    "to",
    "token",
    "truncate",
    "unlogged",
    "update",
    "use",
    "using",
    "view",
    "where",
    "with",
];

/// Parses one statement (a trailing `;` is allowed).
pub fn parse(src: &str) -> Result<Statement, CqlError> {
    parse_with_markers(src).map(|(s, _)| s)
}

/// Parses and also returns the names of the bind markers (`None` for `?`), in order.
pub fn parse_with_markers(src: &str) -> Result<(Statement, Vec<Option<String>>), CqlError> {
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        markers: 0,
        names: Vec::new(),
        depth: 0,
    };
    let stmt = p.statement()?;
    p.eat_sym(";");
    if p.peek() != &Tok::Eof {
        return Err(p.unexpected("<EOF>"));
    }
    Ok((stmt, p.names))
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    markers: usize,
    names: Vec<Option<String>>,
    /// How deep the term being parsed is nested (see [`MAX_TERM_DEPTH`]).
    depth: usize,
}

/// How deep collection literals, tuples and function calls may nest in a
/// term. Every step of parsing, binding and evaluating a term recurses once
/// per level, so the bound keeps a hostile statement from exhausting a
/// thread's stack; no valid value nests deeper than its type (at most
/// [`crate::node::value::types::MAX_TYPE_DEPTH`] levels) plus a few function calls.
pub const MAX_TERM_DEPTH: usize = 64;

type R<T> = Result<T, CqlError>;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].tok
    }

    fn advance(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == kw)
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_at(n), Tok::Ident(s) if s == kw)
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> R<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(&kw.to_ascii_uppercase()))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Tok::Sym(x) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> R<()> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{s}'")))
        }
    }

    fn here(&self) -> (usize, usize) {
        position(self.src, self.toks[self.pos].start)
    }

    fn unexpected(&self, expecting: &str) -> CqlError {
        let (l, c) = self.here();
        let t = self.toks[self.pos].text(self.src);
        CqlError::Syntax(format!(
            "line {l}:{c} mismatched input '{t}' expecting {expecting}"
        ))
    }

    fn no_viable(&self) -> CqlError {
        let (l, c) = self.here();
        let t = self.toks[self.pos].text(self.src);
        CqlError::Syntax(format!("line {l}:{c} no viable alternative at input '{t}'"))
    }

    /// An identifier: unquoted (not reserved) or quoted.
    fn ident(&mut self) -> R<String> {
        match self.peek().clone() {
            Tok::Ident(s) if !RESERVED.contains(&s.as_str()) => {
                self.advance();
                Ok(s)
            }
            Tok::Quoted(s) => {
                self.advance();
                Ok(s)
            }
            _ => Err(self.no_viable()),
        }
    }

    /// `[ks.]name`
    fn qname(&mut self) -> R<QualifiedName> {
        let first = self.ident()?;
        if self.eat_sym(".") {
            let name = self.ident()?;
            Ok(QualifiedName {
                keyspace: Some(first),
                name,
            })
        } else {
            Ok(QualifiedName {
                keyspace: None,
                name: first,
            })
        }
    }

    fn idents_in_parens(&mut self) -> R<Vec<String>> {
        self.expect_sym("(")?;
        let mut out = vec![self.ident()?];
        while self.eat_sym(",") {
            out.push(self.ident()?);
        }
        self.expect_sym(")")?;
        Ok(out)
    }

    fn if_not_exists(&mut self) -> R<bool> {
        if self.is_kw("if") {
            self.advance();
            self.expect_kw("not")?;
            self.expect_kw("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    fn if_exists(&mut self) -> R<bool> {
        if self.is_kw("if") {
            self.advance();
            self.expect_kw("exists")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Consumes everything up to the end (for statements answered as unsupported).
    fn skip_rest(&mut self) {
        while !matches!(self.peek(), Tok::Eof) {
            self.advance();
        }
    }

    fn unsupported(&mut self, what: &'static str) -> R<Statement> {
        self.skip_rest();
        Ok(Statement::Unsupported(what))
    }

    fn statement(&mut self) -> R<Statement> {
        let Tok::Ident(first) = self.peek().clone() else {
            return Err(self.no_viable());
        };
        match first.as_str() {
            "select" => Ok(Statement::Select(self.select()?)),
            "insert" => Ok(Statement::Insert(self.insert()?)),
            "update" => Ok(Statement::Update(self.update()?)),
            "delete" => Ok(Statement::Delete(self.delete()?)),
            "begin" => self.batch(),
            "use" => {
                self.advance();
                Ok(Statement::Use(self.ident()?))
            }
            "create" => self.create(),
            "alter" => self.alter(),
            "drop" => self.drop(),
            "truncate" => {
                self.advance();
                let _ = self.eat_kw("table") || self.eat_kw("columnfamily");
                Ok(Statement::Truncate(self.qname()?))
            }
            "grant" | "revoke" => self.grant_or_revoke(),
            "list" => self.list(),
            "describe" | "desc" => self.describe(),
            _ => Err(self.no_viable()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_bounded_with_a_syntax_error() {
        for (open, close) in [("[", "]"), ("(", ")"), ("{", "}"), ("f(", ")")] {
            for depth in [MAX_TERM_DEPTH, 10_000] {
                let q = format!(
                    "INSERT INTO ks.t (k, v) VALUES (0, {}1{})",
                    open.repeat(depth),
                    close.repeat(depth)
                );
                match parse(&q) {
                    Err(CqlError::Syntax(m)) => assert!(m.contains("too deeply nested"), "{m}"),
                    other => panic!("{open} x {depth}: {other:?}"),
                }
            }
            let ok = format!(
                "SELECT * FROM ks.t WHERE k = {}1{}",
                open.repeat(MAX_TERM_DEPTH - 1),
                close.repeat(MAX_TERM_DEPTH - 1)
            );
            assert!(parse(&ok).is_ok(), "{ok}");
        }
    }
}
