//! The CQL parser: tokens to [`Statement`]s, by recursive descent over
//! Cassandra 4.1's grammar (`Parser.g`) for the statements ccrsim runs.
//!
//! Statements Cassandra has and ccrsim does not (indexes, views, types,
//! functions...) parse to [`Statement::Unsupported`], so the executor can
//! answer a clear Invalid error instead of a syntax error. Errors carry
//! Cassandra's `line L:C` prefix.

use std::collections::BTreeMap;

use crate::node::cql::ast::*;
use crate::node::cql::error::CqlError;
use crate::node::cql::lexer::{Tok, Token, lex, position};

mod dcl;
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

    // ----- terms -----

    fn marker(&mut self, name: Option<String>) -> Marker {
        let index = self.markers;
        self.markers += 1;
        self.names.push(name.clone());
        Marker { index, name }
    }

    fn term(&mut self) -> R<Term> {
        if self.depth >= MAX_TERM_DEPTH {
            let (line, col) = self.here();
            return Err(CqlError::Syntax(format!(
                "line {line}:{col} too deeply nested: terms (collections, tuples and function calls) nest at most {MAX_TERM_DEPTH} levels"
            )));
        }
        self.depth += 1;
        let t = self.term_at_depth();
        self.depth -= 1;
        t
    }

    fn term_at_depth(&mut self) -> R<Term> {
        let tok = self.peek().clone();
        let lit = |l| Ok(Term::Literal(l));
        match tok {
            Tok::Str(s) => {
                self.advance();
                lit(CqlLiteral::Str(s))
            }
            Tok::Int(s) => {
                self.advance();
                lit(CqlLiteral::Int(s))
            }
            Tok::Float(s) => {
                self.advance();
                lit(CqlLiteral::Float(s))
            }
            Tok::Hex(s) => {
                self.advance();
                lit(CqlLiteral::Hex(s))
            }
            Tok::Uuid(s) => {
                self.advance();
                lit(CqlLiteral::Uuid(s))
            }
            Tok::Marker => {
                self.advance();
                Ok(Term::Marker(self.marker(None)))
            }
            Tok::NamedMarker(n) => {
                self.advance();
                Ok(Term::Marker(self.marker(Some(n))))
            }
            Tok::Sym("-") if self.is_kw_at(1, "infinity") => {
                self.advance();
                self.advance();
                lit(CqlLiteral::Float("-Infinity".into()))
            }
            Tok::Sym("[") => {
                self.advance();
                let mut items = Vec::new();
                if !self.is_sym("]") {
                    items.push(self.term()?);
                    while self.eat_sym(",") {
                        items.push(self.term()?);
                    }
                }
                self.expect_sym("]")?;
                Ok(Term::List(items))
            }
            Tok::Sym("{") => {
                self.advance();
                if self.eat_sym("}") {
                    return Ok(Term::Set(Vec::new()));
                }
                let first = self.term()?;
                if self.eat_sym(":") {
                    let mut entries = vec![(first, self.term()?)];
                    while self.eat_sym(",") {
                        let k = self.term()?;
                        self.expect_sym(":")?;
                        entries.push((k, self.term()?));
                    }
                    self.expect_sym("}")?;
                    Ok(Term::Map(entries))
                } else {
                    let mut items = vec![first];
                    while self.eat_sym(",") {
                        items.push(self.term()?);
                    }
                    self.expect_sym("}")?;
                    Ok(Term::Set(items))
                }
            }
            Tok::Sym("(") => {
                self.advance();
                let mut items = vec![self.term()?];
                while self.eat_sym(",") {
                    items.push(self.term()?);
                }
                self.expect_sym(")")?;
                Ok(Term::Tuple(items))
            }
            Tok::Ident(w) => match w.as_str() {
                "true" | "false" => {
                    self.advance();
                    lit(CqlLiteral::Bool(w == "true"))
                }
                "null" => {
                    self.advance();
                    lit(CqlLiteral::Null)
                }
                "nan" => {
                    self.advance();
                    lit(CqlLiteral::Float("NaN".into()))
                }
                "infinity" => {
                    self.advance();
                    lit(CqlLiteral::Float("Infinity".into()))
                }
                _ if matches!(self.peek_at(1), Tok::Sym("(")) => {
                    self.advance();
                    self.advance();
                    let mut args = Vec::new();
                    if !self.is_sym(")") {
                        args.push(self.term()?);
                        while self.eat_sym(",") {
                            args.push(self.term()?);
                        }
                    }
                    self.expect_sym(")")?;
                    Ok(Term::Function(w, args))
                }
                _ => Err(self.no_viable()),
            },
            _ => Err(self.no_viable()),
        }
    }

    fn int_term(&mut self) -> R<Term> {
        match self.peek() {
            Tok::Int(_) | Tok::Marker | Tok::NamedMarker(_) => self.term(),
            _ => Err(self.unexpected("an integer or a bind marker")),
        }
    }

    // ----- WHERE -----

    fn op(&mut self) -> R<Op> {
        let op = match self.peek() {
            Tok::Sym("=") => Op::Eq,
            Tok::Sym("!=") => Op::Ne,
            Tok::Sym("<") => Op::Lt,
            Tok::Sym("<=") => Op::Le,
            Tok::Sym(">") => Op::Gt,
            Tok::Sym(">=") => Op::Ge,
            Tok::Ident(w) if w == "in" => Op::In,
            Tok::Ident(w) if w == "contains" => {
                self.advance();
                if self.eat_kw("key") {
                    return Ok(Op::ContainsKey);
                }
                return Ok(Op::Contains);
            }
            _ => return Err(self.no_viable()),
        };
        self.advance();
        Ok(op)
    }

    fn relations(&mut self) -> R<Vec<Relation>> {
        let mut out = vec![self.relation()?];
        while self.eat_kw("and") {
            out.push(self.relation()?);
        }
        Ok(out)
    }

    fn relation(&mut self) -> R<Relation> {
        if self.is_kw("token") && matches!(self.peek_at(1), Tok::Sym("(")) {
            self.advance();
            let columns = self.idents_in_parens()?;
            let op = self.op()?;
            if matches!(op, Op::In | Op::Contains | Op::ContainsKey | Op::Ne) {
                return Err(CqlError::Invalid(format!(
                    "{} cannot be used for token relations",
                    op.as_str()
                )));
            }
            let value = self.term()?;
            return Ok(Relation::Token { columns, op, value });
        }
        if self.is_sym("(") {
            let columns = self.idents_in_parens()?;
            let op = self.op()?;
            let values = if op == Op::In {
                if matches!(self.peek(), Tok::Marker | Tok::NamedMarker(_)) {
                    vec![self.term()?]
                } else {
                    self.expect_sym("(")?;
                    let mut v = Vec::new();
                    if !self.is_sym(")") {
                        v.push(self.term()?);
                        while self.eat_sym(",") {
                            v.push(self.term()?);
                        }
                    }
                    self.expect_sym(")")?;
                    v
                }
            } else {
                vec![self.term()?]
            };
            return Ok(Relation::Multi {
                columns,
                op,
                values,
            });
        }
        let column = self.ident()?;
        if self.is_kw("is") {
            return Err(CqlError::Invalid(
                "IS NOT NULL restrictions are only supported on materialized views, which are not supported by ccrsim".into(),
            ));
        }
        if self.is_kw("like") {
            return Err(CqlError::Invalid(
                "LIKE restrictions need a SASI index, which is not supported by ccrsim".into(),
            ));
        }
        let op = self.op()?;
        if op == Op::In {
            if matches!(self.peek(), Tok::Marker | Tok::NamedMarker(_)) {
                let Term::Marker(m) = self.term()? else {
                    unreachable!("a marker token parses to a marker")
                };
                return Ok(Relation::In {
                    column,
                    values: InValues::Marker(m),
                });
            }
            self.expect_sym("(")?;
            let mut v = Vec::new();
            if !self.is_sym(")") {
                v.push(self.term()?);
                while self.eat_sym(",") {
                    v.push(self.term()?);
                }
            }
            self.expect_sym(")")?;
            return Ok(Relation::In {
                column,
                values: InValues::List(v),
            });
        }
        let value = self.term()?;
        Ok(Relation::Single { column, op, value })
    }

    // ----- SELECT -----

    fn select(&mut self) -> R<Select> {
        self.expect_kw("select")?;
        if self.is_kw("json") {
            self.skip_rest();
            return Err(CqlError::Invalid(
                "SELECT JSON is not supported by ccrsim".into(),
            ));
        }
        let distinct = self.is_kw("distinct")
            && !matches!(self.peek_at(1), Tok::Sym(","))
            && !self.is_kw_at(1, "from")
            && !self.is_kw_at(1, "as");
        if distinct {
            self.advance();
        }
        let selectors = if self.eat_sym("*") {
            None
        } else {
            let mut v = vec![self.selector()?];
            while self.eat_sym(",") {
                v.push(self.selector()?);
            }
            Some(v)
        };
        self.expect_kw("from")?;
        let table = self.qname()?;
        let relations = if self.eat_kw("where") {
            self.relations()?
        } else {
            Vec::new()
        };
        if self.is_kw("group") {
            self.skip_rest();
            return Err(CqlError::Invalid(
                "GROUP BY is not supported by ccrsim".into(),
            ));
        }
        let mut order_by = Vec::new();
        if self.eat_kw("order") {
            self.expect_kw("by")?;
            loop {
                let c = self.ident()?;
                let o = if self.eat_kw("desc") {
                    Order::Desc
                } else {
                    self.eat_kw("asc");
                    Order::Asc
                };
                order_by.push((c, o));
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        let mut per_partition_limit = None;
        if self.is_kw("per") {
            self.advance();
            self.expect_kw("partition")?;
            self.expect_kw("limit")?;
            per_partition_limit = Some(self.int_term()?);
        }
        let limit = if self.eat_kw("limit") {
            Some(self.int_term()?)
        } else {
            None
        };
        let allow_filtering = if self.eat_kw("allow") {
            self.expect_kw("filtering")?;
            true
        } else {
            false
        };
        Ok(Select {
            table,
            distinct,
            selectors,
            relations,
            order_by,
            per_partition_limit,
            limit,
            allow_filtering,
        })
    }

    fn selector(&mut self) -> R<(Selector, Option<String>)> {
        let sel = if let Tok::Ident(f) = self.peek().clone()
            && matches!(self.peek_at(1), Tok::Sym("("))
        {
            self.advance();
            self.advance();
            let s = match f.as_str() {
                "count" => {
                    if !(self.eat_sym("*") || matches!(self.advance(), Tok::Int(ref n) if n == "1"))
                    {
                        return Err(CqlError::Invalid(
                            "count() of a column is not supported by ccrsim; use count(*)".into(),
                        ));
                    }
                    Selector::CountAll
                }
                "writetime" => Selector::WriteTime(self.ident()?),
                "ttl" => Selector::Ttl(self.ident()?),
                "token" => {
                    let mut cols = vec![self.ident()?];
                    while self.eat_sym(",") {
                        cols.push(self.ident()?);
                    }
                    Selector::Token(cols)
                }
                other => {
                    return Err(CqlError::Invalid(format!(
                        "Function {other} in a selection is not supported by ccrsim"
                    )));
                }
            };
            self.expect_sym(")")?;
            s
        } else {
            Selector::Column(self.ident()?)
        };
        let alias = if self.eat_kw("as") {
            Some(self.ident()?)
        } else {
            None
        };
        Ok((sel, alias))
    }

    // ----- INSERT / UPDATE / DELETE / BATCH -----

    fn using(&mut self, u: &mut Using) -> R<()> {
        if !self.eat_kw("using") {
            return Ok(());
        }
        loop {
            if self.eat_kw("ttl") {
                u.ttl = Some(self.int_term()?);
            } else if self.eat_kw("timestamp") {
                u.timestamp = Some(self.int_term()?);
            } else {
                return Err(self.unexpected("TTL or TIMESTAMP"));
            }
            if !self.eat_kw("and") {
                return Ok(());
            }
        }
    }

    fn insert(&mut self) -> R<Insert> {
        self.expect_kw("insert")?;
        self.expect_kw("into")?;
        let table = self.qname()?;
        if self.is_kw("json") {
            self.skip_rest();
            return Err(CqlError::Invalid(
                "INSERT JSON is not supported by ccrsim".into(),
            ));
        }
        let columns = self.idents_in_parens()?;
        self.expect_kw("values")?;
        self.expect_sym("(")?;
        let mut values = vec![self.term()?];
        while self.eat_sym(",") {
            values.push(self.term()?);
        }
        self.expect_sym(")")?;
        let if_not_exists = self.if_not_exists()?;
        let mut using = Using::default();
        self.using(&mut using)?;
        if columns.len() != values.len() {
            return Err(CqlError::Invalid("Unmatched column names/values".into()));
        }
        Ok(Insert {
            table,
            columns,
            values,
            if_not_exists,
            using,
        })
    }

    fn condition(&mut self) -> R<Condition> {
        if !self.is_kw("if") {
            return Ok(Condition::None);
        }
        self.advance();
        if self.eat_kw("exists") {
            return Ok(Condition::Exists);
        }
        if self.is_kw("not") && self.is_kw_at(1, "exists") {
            self.advance();
            self.advance();
            return Ok(Condition::NotExists);
        }
        let mut conds = Vec::new();
        loop {
            let column = self.ident()?;
            let element = if self.eat_sym("[") {
                let t = self.term()?;
                self.expect_sym("]")?;
                Some(t)
            } else {
                None
            };
            let op = self.op()?;
            let values = if op == Op::In {
                self.expect_sym("(")?;
                let mut v = vec![self.term()?];
                while self.eat_sym(",") {
                    v.push(self.term()?);
                }
                self.expect_sym(")")?;
                v
            } else {
                vec![self.term()?]
            };
            conds.push(ColumnCondition {
                column,
                element,
                op,
                values,
            });
            if !self.eat_kw("and") {
                break;
            }
        }
        Ok(Condition::Columns(conds))
    }

    fn update(&mut self) -> R<Update> {
        self.expect_kw("update")?;
        let table = self.qname()?;
        let mut using = Using::default();
        self.using(&mut using)?;
        self.expect_kw("set")?;
        let mut assignments = vec![self.assignment()?];
        while self.eat_sym(",") {
            assignments.push(self.assignment()?);
        }
        self.expect_kw("where")?;
        let relations = self.relations()?;
        let condition = self.condition()?;
        Ok(Update {
            table,
            using,
            assignments,
            relations,
            condition,
        })
    }

    fn assignment(&mut self) -> R<Assignment> {
        let column = self.ident()?;
        if self.eat_sym("[") {
            let key = self.term()?;
            self.expect_sym("]")?;
            self.expect_sym("=")?;
            let value = self.term()?;
            return Ok(Assignment::SetElement { column, key, value });
        }
        if self.eat_sym("+=") {
            let value = self.term()?;
            return Ok(Assignment::Add { column, value });
        }
        if self.eat_sym("-=") {
            let value = self.term()?;
            return Ok(Assignment::Remove { column, value });
        }
        self.expect_sym("=")?;
        // `c = c + v`, `c = c - v` (the lexer may have made `-1` one token).
        let same = match self.peek() {
            Tok::Ident(s) | Tok::Quoted(s) => *s == column,
            _ => false,
        };
        if same && !matches!(self.peek_at(1), Tok::Sym("(")) {
            self.advance();
            if self.eat_sym("+") {
                let value = self.term()?;
                return Ok(Assignment::Add { column, value });
            }
            if self.eat_sym("-") {
                let value = self.term()?;
                return Ok(Assignment::Remove { column, value });
            }
            if let Tok::Int(n) = self.peek().clone()
                && let Some(abs) = n.strip_prefix('-')
            {
                self.advance();
                return Ok(Assignment::Remove {
                    column,
                    value: Term::Literal(CqlLiteral::Int(abs.to_string())),
                });
            }
            return Err(self.unexpected("'+' or '-'"));
        }
        let value = self.term()?;
        if self.eat_sym("+") {
            let other = self.ident()?;
            if other != column {
                return Err(CqlError::Invalid(format!(
                    "Only expressions of the form X = <value> + X are supported (got {column} = ... + {other})"
                )));
            }
            return Ok(Assignment::Prepend { column, value });
        }
        Ok(Assignment::Set { column, value })
    }

    fn delete(&mut self) -> R<Delete> {
        self.expect_kw("delete")?;
        let mut targets = Vec::new();
        if !self.is_kw("from") {
            loop {
                let c = self.ident()?;
                if self.eat_sym("[") {
                    let t = self.term()?;
                    self.expect_sym("]")?;
                    targets.push(DeleteTarget::Element(c, t));
                } else {
                    targets.push(DeleteTarget::Column(c));
                }
                if !self.eat_sym(",") {
                    break;
                }
            }
        }
        self.expect_kw("from")?;
        let table = self.qname()?;
        let mut using = Using::default();
        self.using(&mut using)?;
        if using.ttl.is_some() {
            return Err(CqlError::Invalid(
                "TTL attribute is not allowed for deletes".into(),
            ));
        }
        self.expect_kw("where")?;
        let relations = self.relations()?;
        let condition = self.condition()?;
        Ok(Delete {
            table,
            targets,
            using,
            relations,
            condition,
        })
    }

    fn batch(&mut self) -> R<Statement> {
        self.expect_kw("begin")?;
        let kind = if self.eat_kw("unlogged") {
            BatchType::Unlogged
        } else if self.eat_kw("counter") {
            BatchType::Counter
        } else {
            self.eat_kw("logged");
            BatchType::Logged
        };
        self.expect_kw("batch")?;
        let mut using = Using::default();
        self.using(&mut using)?;
        let mut statements = Vec::new();
        loop {
            let s = match self.peek() {
                Tok::Ident(w) if w == "insert" => Statement::Insert(self.insert()?),
                Tok::Ident(w) if w == "update" => Statement::Update(self.update()?),
                Tok::Ident(w) if w == "delete" => Statement::Delete(self.delete()?),
                Tok::Ident(w) if w == "apply" => break,
                _ => return Err(self.unexpected("INSERT, UPDATE, DELETE or APPLY")),
            };
            statements.push(s);
            while self.eat_sym(";") {}
        }
        self.expect_kw("apply")?;
        self.expect_kw("batch")?;
        Ok(Statement::Batch(Batch {
            kind,
            using,
            statements,
        }))
    }

    // ----- DDL -----

    fn option_value(&mut self) -> R<OptionValue> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.advance();
                Ok(OptionValue::Text(s))
            }
            Tok::Int(n) | Tok::Float(n) => {
                self.advance();
                n.parse::<f64>()
                    .map(OptionValue::Number)
                    .map_err(|_| CqlError::Syntax(format!("invalid number {n}")))
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.advance();
                Ok(OptionValue::Bool(w == "true"))
            }
            Tok::Sym("{") => {
                self.advance();
                let mut m = BTreeMap::new();
                if !self.is_sym("}") {
                    loop {
                        let k = self.map_text()?;
                        self.expect_sym(":")?;
                        let v = self.map_text()?;
                        m.insert(k, v);
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                }
                self.expect_sym("}")?;
                Ok(OptionValue::Map(m))
            }
            _ => Err(self.no_viable()),
        }
    }

    /// A key or value of an option map, as text (`1` and `'1'` alike).
    fn map_text(&mut self) -> R<String> {
        match self.peek().clone() {
            Tok::Str(s) | Tok::Int(s) | Tok::Float(s) => {
                self.advance();
                Ok(s)
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.advance();
                Ok(w)
            }
            _ => Err(self.no_viable()),
        }
    }

    fn properties(&mut self) -> R<Vec<(String, OptionValue)>> {
        let mut out = Vec::new();
        loop {
            let name = match self.peek().clone() {
                Tok::Ident(w) | Tok::Quoted(w) => {
                    self.advance();
                    w
                }
                _ => return Err(self.no_viable()),
            };
            self.expect_sym("=")?;
            out.push((name, self.option_value()?));
            if !self.eat_kw("and") {
                return Ok(out);
            }
        }
    }

    /// A column type as written; its text is parsed against the keyspace later.
    fn type_text(&mut self) -> R<String> {
        let start = self.toks[self.pos].start;
        match self.peek() {
            Tok::Str(_) => {
                self.advance();
            }
            Tok::Ident(_) | Tok::Quoted(_) => {
                self.advance();
                if self.eat_sym(".") {
                    self.ident()?;
                }
                if self.is_sym("<") {
                    let mut depth = 0usize;
                    loop {
                        match self.advance() {
                            Tok::Sym("<") => depth += 1,
                            Tok::Sym(">") => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Tok::Eof => return Err(self.unexpected("'>'")),
                            _ => {}
                        }
                    }
                }
            }
            _ => return Err(self.no_viable()),
        }
        let end = self.toks[self.pos - 1].end;
        Ok(self.src[start..end].to_string())
    }

    fn column_def(&mut self) -> R<ColumnDef> {
        let name = self.ident()?;
        let ty = self.type_text()?;
        let is_static = self.eat_kw("static");
        Ok(ColumnDef {
            name,
            ty,
            is_static,
        })
    }

    fn create(&mut self) -> R<Statement> {
        self.expect_kw("create")?;
        let Tok::Ident(what) = self.peek().clone() else {
            return Err(self.no_viable());
        };
        match what.as_str() {
            "keyspace" | "schema" => {
                self.advance();
                let if_not_exists = self.if_not_exists()?;
                let name = self.ident()?;
                self.expect_kw("with")?;
                let options = self.properties()?;
                Ok(Statement::CreateKeyspace {
                    name,
                    if_not_exists,
                    options,
                })
            }
            "table" | "columnfamily" => {
                self.advance();
                self.create_table()
            }
            "role" | "user" => {
                self.advance();
                let if_not_exists = self.if_not_exists()?;
                let name = self.role_name()?;
                let options = if what == "role" {
                    self.role_options()?
                } else {
                    self.user_options()?
                };
                Ok(Statement::CreateRole {
                    name,
                    if_not_exists,
                    options,
                })
            }
            "index" | "custom" => self.unsupported("Secondary indexes are"),
            "materialized" => self.unsupported("Materialized views are"),
            "type" => self.unsupported("User-defined types are"),
            "function" | "or" => self.unsupported("User-defined functions are"),
            "aggregate" => self.unsupported("User-defined aggregates are"),
            "trigger" => self.unsupported("Triggers are"),
            _ => Err(self.no_viable()),
        }
    }

    fn create_table(&mut self) -> R<Statement> {
        let if_not_exists = self.if_not_exists()?;
        let name = self.qname()?;
        self.expect_sym("(")?;
        let mut columns = Vec::new();
        let mut partition_key = Vec::new();
        let mut clustering = Vec::new();
        let mut pk_seen = false;
        loop {
            if self.is_kw("primary") {
                self.advance();
                self.expect_kw("key")?;
                if pk_seen {
                    return Err(CqlError::Invalid(
                        "Multiple PRIMARY KEYs specified (exactly one required)".into(),
                    ));
                }
                pk_seen = true;
                self.expect_sym("(")?;
                if self.is_sym("(") {
                    partition_key = self.idents_in_parens()?;
                } else {
                    partition_key = vec![self.ident()?];
                }
                while self.eat_sym(",") {
                    clustering.push(self.ident()?);
                }
                self.expect_sym(")")?;
            } else {
                let def = self.column_def()?;
                if self.is_kw("primary") {
                    self.advance();
                    self.expect_kw("key")?;
                    if pk_seen {
                        return Err(CqlError::Invalid(
                            "Multiple PRIMARY KEYs specified (exactly one required)".into(),
                        ));
                    }
                    pk_seen = true;
                    partition_key = vec![def.name.clone()];
                }
                columns.push(def);
            }
            if !self.eat_sym(",") {
                break;
            }
            if self.is_sym(")") {
                break;
            }
        }
        self.expect_sym(")")?;
        let mut options = Vec::new();
        let mut clustering_order = Vec::new();
        if self.eat_kw("with") {
            loop {
                if self.is_kw("clustering") {
                    self.advance();
                    self.expect_kw("order")?;
                    self.expect_kw("by")?;
                    self.expect_sym("(")?;
                    loop {
                        let c = self.ident()?;
                        let o = if self.eat_kw("desc") {
                            Order::Desc
                        } else {
                            self.expect_kw("asc")?;
                            Order::Asc
                        };
                        clustering_order.push((c, o));
                        if !self.eat_sym(",") {
                            break;
                        }
                    }
                    self.expect_sym(")")?;
                } else if self.is_kw("compact") {
                    self.skip_rest();
                    return Err(CqlError::Invalid(
                        "COMPACT STORAGE tables are not supported by ccrsim".into(),
                    ));
                } else {
                    let name = match self.peek().clone() {
                        Tok::Ident(w) | Tok::Quoted(w) => {
                            self.advance();
                            w
                        }
                        _ => return Err(self.no_viable()),
                    };
                    self.expect_sym("=")?;
                    options.push((name, self.option_value()?));
                }
                if !self.eat_kw("and") {
                    break;
                }
            }
        }
        Ok(Statement::CreateTable(CreateTable {
            name,
            if_not_exists,
            columns,
            partition_key,
            clustering,
            clustering_order,
            options,
        }))
    }

    fn alter(&mut self) -> R<Statement> {
        self.expect_kw("alter")?;
        let Tok::Ident(what) = self.peek().clone() else {
            return Err(self.no_viable());
        };
        self.advance();
        match what.as_str() {
            "keyspace" | "schema" => {
                let if_exists = self.if_exists()?;
                let name = self.ident()?;
                self.expect_kw("with")?;
                let options = self.properties()?;
                Ok(Statement::AlterKeyspace {
                    name,
                    if_exists,
                    options,
                })
            }
            "table" | "columnfamily" => {
                let if_exists = self.if_exists()?;
                let name = self.qname()?;
                let op = if self.eat_kw("add") {
                    if self.eat_sym("(") {
                        let mut defs = vec![self.column_def()?];
                        while self.eat_sym(",") {
                            defs.push(self.column_def()?);
                        }
                        self.expect_sym(")")?;
                        AlterTableOp::Add(defs)
                    } else {
                        AlterTableOp::Add(vec![self.column_def()?])
                    }
                } else if self.eat_kw("drop") {
                    if self.is_sym("(") {
                        AlterTableOp::Drop(self.idents_in_parens()?)
                    } else {
                        AlterTableOp::Drop(vec![self.ident()?])
                    }
                } else if self.eat_kw("with") {
                    AlterTableOp::With(self.properties()?)
                } else if self.is_kw("rename") {
                    return self.unsupported("ALTER TABLE ... RENAME is");
                } else if self.is_kw("alter") {
                    return self.unsupported("Altering the type of a column is");
                } else {
                    return Err(self.no_viable());
                };
                Ok(Statement::AlterTable {
                    name,
                    if_exists,
                    op,
                })
            }
            "role" | "user" => {
                let if_exists = self.if_exists()?;
                let name = self.role_name()?;
                let options = if what == "role" {
                    self.role_options()?
                } else {
                    let mut o = self.user_options()?;
                    o.login = None;
                    o
                };
                Ok(Statement::AlterRole {
                    name,
                    if_exists,
                    options,
                })
            }
            "type" => self.unsupported("User-defined types are"),
            "materialized" => self.unsupported("Materialized views are"),
            _ => Err(self.no_viable()),
        }
    }

    fn drop(&mut self) -> R<Statement> {
        self.expect_kw("drop")?;
        let Tok::Ident(what) = self.peek().clone() else {
            return Err(self.no_viable());
        };
        self.advance();
        match what.as_str() {
            "keyspace" | "schema" => {
                let if_exists = self.if_exists()?;
                let name = self.ident()?;
                Ok(Statement::DropKeyspace { name, if_exists })
            }
            "table" | "columnfamily" => {
                let if_exists = self.if_exists()?;
                let name = self.qname()?;
                Ok(Statement::DropTable { name, if_exists })
            }
            "role" | "user" => {
                let if_exists = self.if_exists()?;
                let name = self.role_name()?;
                Ok(Statement::DropRole { name, if_exists })
            }
            "index" => self.unsupported("Secondary indexes are"),
            "materialized" => self.unsupported("Materialized views are"),
            "type" => self.unsupported("User-defined types are"),
            "function" => self.unsupported("User-defined functions are"),
            "aggregate" => self.unsupported("User-defined aggregates are"),
            "trigger" => self.unsupported("Triggers are"),
            _ => Err(self.no_viable()),
        }
    }

    fn describe(&mut self) -> R<Statement> {
        self.advance();
        let full = self.eat_kw("full");
        let Tok::Ident(w) = self.peek().clone() else {
            return Ok(Statement::Describe {
                full,
                target: DescribeTarget::Name(self.qname()?),
            });
        };
        let target = match w.as_str() {
            "cluster" => {
                self.advance();
                DescribeTarget::Cluster
            }
            "keyspaces" => {
                self.advance();
                DescribeTarget::Keyspaces
            }
            "schema" => {
                self.advance();
                DescribeTarget::Schema
            }
            "tables" | "columnfamilies" => {
                self.advance();
                DescribeTarget::Tables
            }
            "keyspace" => {
                self.advance();
                if matches!(self.peek(), Tok::Eof | Tok::Sym(";")) {
                    DescribeTarget::Keyspace(None)
                } else {
                    DescribeTarget::Keyspace(Some(self.ident()?))
                }
            }
            "table" | "columnfamily" => {
                self.advance();
                DescribeTarget::Table(self.qname()?)
            }
            "types" | "functions" | "aggregates" | "type" | "function" | "aggregate" | "index"
            | "materialized" => {
                return self
                    .unsupported("DESCRIBE of types, functions, aggregates, indexes and views is");
            }
            _ => DescribeTarget::Name(self.qname()?),
        };
        Ok(Statement::Describe { full, target })
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
