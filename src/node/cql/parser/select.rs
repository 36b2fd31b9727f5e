//! SELECT: `DISTINCT`, the selectors (columns, `*`, `COUNT`, `WRITETIME`,
//! `TTL`, aliases), WHERE, ORDER BY, PER PARTITION LIMIT, LIMIT and ALLOW
//! FILTERING; `SELECT JSON` and GROUP BY are refused.

use crate::node::cql::parser::*;

impl Parser<'_> {
    pub(super) fn select(&mut self) -> R<Select> {
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

    pub(super) fn selector(&mut self) -> R<(Selector, Option<String>)> {
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
}
