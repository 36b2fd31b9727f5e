//! Writes: INSERT (`INSERT JSON` is refused), UPDATE with its assignments, DELETE
//! of rows, columns or elements, their `USING` and `IF` clauses, and BATCH.

use crate::node::cql::parser::*;

impl Parser<'_> {
    pub(super) fn using(&mut self, u: &mut Using) -> R<()> {
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

    pub(super) fn insert(&mut self) -> R<Insert> {
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

    pub(super) fn condition(&mut self) -> R<Condition> {
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

    pub(super) fn update(&mut self) -> R<Update> {
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

    pub(super) fn assignment(&mut self) -> R<Assignment> {
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

    pub(super) fn delete(&mut self) -> R<Delete> {
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

    pub(super) fn batch(&mut self) -> R<Statement> {
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
}
