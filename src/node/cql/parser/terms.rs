//! Terms and WHERE clauses: literals, bind markers (positional and named),
//! collections, tuples and function calls, nested at most
//! [`MAX_TERM_DEPTH`] deep; the operators and relations of a WHERE clause
//! (single column, `IN`, multi-column tuples, `token(...)`).

use crate::node::cql::parser::*;

impl Parser<'_> {
    pub(super) fn marker(&mut self, name: Option<String>) -> Marker {
        let index = self.markers;
        self.markers += 1;
        self.names.push(name.clone());
        Marker { index, name }
    }

    pub(super) fn term(&mut self) -> R<Term> {
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

    pub(super) fn term_at_depth(&mut self) -> R<Term> {
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

    pub(super) fn int_term(&mut self) -> R<Term> {
        match self.peek() {
            Tok::Int(_) | Tok::Marker | Tok::NamedMarker(_) => self.term(),
            _ => Err(self.unexpected("an integer or a bind marker")),
        }
    }

    // ----- WHERE -----

    pub(super) fn op(&mut self) -> R<Op> {
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

    pub(super) fn relations(&mut self) -> R<Vec<Relation>> {
        let mut out = vec![self.relation()?];
        while self.eat_kw("and") {
            out.push(self.relation()?);
        }
        Ok(out)
    }

    pub(super) fn relation(&mut self) -> R<Relation> {
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
}
