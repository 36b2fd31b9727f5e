//! Statements about the schema: CREATE, ALTER and DROP of keyspaces and
//! tables (their properties, column definitions and types), the schema
//! statements ccrsim does not run (indexes, views, types, functions...),
//! and DESCRIBE.

use crate::node::cql::parser::*;

impl Parser<'_> {
    pub(super) fn option_value(&mut self) -> R<OptionValue> {
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
    pub(super) fn map_text(&mut self) -> R<String> {
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

    pub(super) fn properties(&mut self) -> R<Vec<(String, OptionValue)>> {
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
    pub(super) fn type_text(&mut self) -> R<String> {
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

    pub(super) fn column_def(&mut self) -> R<ColumnDef> {
        let name = self.ident()?;
        let ty = self.type_text()?;
        let is_static = self.eat_kw("static");
        Ok(ColumnDef {
            name,
            ty,
            is_static,
        })
    }

    pub(super) fn create(&mut self) -> R<Statement> {
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

    pub(super) fn create_table(&mut self) -> R<Statement> {
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

    pub(super) fn alter(&mut self) -> R<Statement> {
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

    pub(super) fn drop(&mut self) -> R<Statement> {
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

    pub(super) fn describe(&mut self) -> R<Statement> {
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
