//! The types of bind markers, from where they stand
//! ([`Engine::bind_specs`]): the column a marker is compared with or
//! assigned to, an element of a collection column, `[limit]`, `[ttl]`,
//! `[timestamp]`, or `partition key token`, as Cassandra names them; and
//! the markers that give the partition key ([`Engine::pk_indexes`]), so a
//! driver can compute a statement's routing token.

use crate::node::cql::ast::*;
use crate::node::cql::exec::Engine;
use crate::node::cql::session::{Result, Session};
use crate::node::db::schema::TableMeta;
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::ColumnSpec;
use crate::node::value::types::CqlType;

impl Engine {
    /// The type and name of each bind marker of `stmt`, in marker order.
    pub fn bind_specs(&self, s: &Session, stmt: &Statement) -> Result<Vec<ColumnSpec>> {
        let mut out: Vec<Option<ColumnSpec>> = Vec::new();
        self.collect_specs(s, stmt, &mut out)?;
        out.into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.ok_or_else(|| {
                    QueryError::Invalid(format!("Cannot infer the type of bind marker {i}"))
                })
            })
            .collect()
    }

    fn collect_specs(
        &self,
        s: &Session,
        stmt: &Statement,
        out: &mut Vec<Option<ColumnSpec>>,
    ) -> Result<()> {
        let (table, using, relations, conditions): (
            &QualifiedName,
            Option<&Using>,
            &[Relation],
            Option<&Condition>,
        ) = match stmt {
            Statement::Select(sel) => {
                let t = self.table(s, &sel.table)?;
                specs_for_relations(&t, &sel.relations, out)?;
                let int = |name: &str| spec(&t, name, CqlType::Int);
                if let Some(Term::Marker(m)) = &sel.per_partition_limit {
                    put(out, m, int("[per_partition_limit]"));
                }
                if let Some(Term::Marker(m)) = &sel.limit {
                    put(out, m, int("[limit]"));
                }
                return Ok(());
            }
            Statement::Insert(ins) => {
                let t = self.table(s, &ins.table)?;
                for (c, v) in ins.columns.iter().zip(&ins.values) {
                    let col = column(&t, c)?;
                    term_specs(&t, v, &col.ty, &col.name, out);
                }
                (&ins.table, Some(&ins.using), &[][..], None)
            }
            Statement::Update(u) => {
                let t = self.table(s, &u.table)?;
                if let Some(Term::Marker(m)) = &u.using.ttl {
                    put(out, m, spec(&t, "[ttl]", CqlType::Int));
                }
                if let Some(Term::Marker(m)) = &u.using.timestamp {
                    put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
                }
                for a in &u.assignments {
                    let col = column(&t, a.column())?;
                    match a {
                        Assignment::Set { value, .. }
                        | Assignment::Add { value, .. }
                        | Assignment::Prepend { value, .. } => {
                            term_specs(&t, value, &col.ty, &col.name, out)
                        }
                        Assignment::Remove { value, .. } => {
                            let ty = match col.ty.unfrozen() {
                                CqlType::Map(k, _) => CqlType::Set(k.clone()),
                                other => other.clone(),
                            };
                            term_specs(&t, value, &ty, &col.name, out)
                        }
                        Assignment::SetElement { key, value, .. } => {
                            let (kt, vt) = element_types(&col.ty);
                            let kname = if matches!(col.ty.unfrozen(), CqlType::List(_)) {
                                format!("idx({})", col.name)
                            } else {
                                format!("key({})", col.name)
                            };
                            term_specs(&t, key, &kt, &kname, out);
                            term_specs(&t, value, &vt, &format!("value({})", col.name), out);
                        }
                    }
                }
                specs_for_relations(&t, &u.relations, out)?;
                specs_for_conditions(&t, &u.condition, out)?;
                return Ok(());
            }
            Statement::Delete(d) => {
                let t = self.table(s, &d.table)?;
                for tg in &d.targets {
                    if let DeleteTarget::Element(c, key) = tg {
                        let col = column(&t, c)?;
                        let (kt, _) = element_types(&col.ty);
                        term_specs(&t, key, &kt, &format!("key({c})"), out);
                    }
                }
                if let Some(Term::Marker(m)) = &d.using.timestamp {
                    put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
                }
                specs_for_relations(&t, &d.relations, out)?;
                specs_for_conditions(&t, &d.condition, out)?;
                return Ok(());
            }
            Statement::Batch(b) => {
                if let Some(Term::Marker(m)) = &b.using.timestamp {
                    out_put(
                        out,
                        m.index,
                        ColumnSpec {
                            keyspace: String::new(),
                            table: String::new(),
                            name: "[timestamp]".into(),
                            ty: CqlType::Bigint,
                        },
                    );
                }
                for st in &b.statements {
                    self.collect_specs(s, st, out)?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let t = self.table(s, table)?;
        if let Some(u) = using {
            if let Some(Term::Marker(m)) = &u.ttl {
                put(out, m, spec(&t, "[ttl]", CqlType::Int));
            }
            if let Some(Term::Marker(m)) = &u.timestamp {
                put(out, m, spec(&t, "[timestamp]", CqlType::Bigint));
            }
        }
        specs_for_relations(&t, relations, out)?;
        if let Some(c) = conditions {
            specs_for_conditions(&t, c, out)?;
        }
        Ok(())
    }

    /// Indexes of the markers that give the partition key, when each key
    /// column is bound by exactly one `=` marker.
    pub(super) fn pk_indexes(&self, s: &Session, stmt: &Statement) -> Vec<u16> {
        let schema = self.schema();
        let (q, relations, insert) = match stmt {
            Statement::Select(x) => (&x.table, &x.relations[..], None),
            Statement::Update(x) => (&x.table, &x.relations[..], None),
            Statement::Delete(x) => (&x.table, &x.relations[..], None),
            Statement::Insert(x) => (&x.table, &[][..], Some(x)),
            _ => return Vec::new(),
        };
        let Some(ks) = q.keyspace.clone().or_else(|| s.keyspace.clone()) else {
            return Vec::new();
        };
        let Some(t) = schema.table(&ks, &q.name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for pk in t.partition_key() {
            let idx = if let Some(ins) = insert {
                ins.columns
                    .iter()
                    .position(|c| *c == pk.name)
                    .and_then(|i| match &ins.values[i] {
                        Term::Marker(m) => Some(m.index),
                        _ => None,
                    })
            } else {
                relations.iter().find_map(|r| match r {
                    Relation::Single {
                        column,
                        op: Op::Eq,
                        value: Term::Marker(m),
                    } if *column == pk.name => Some(m.index),
                    _ => None,
                })
            };
            match idx.and_then(|i| u16::try_from(i).ok()) {
                Some(i) => out.push(i),
                None => return Vec::new(),
            }
        }
        out
    }
}

pub(super) fn column<'t>(
    t: &'t TableMeta,
    name: &str,
) -> Result<&'t crate::node::db::schema::ColumnMeta> {
    t.column(name).ok_or_else(|| {
        QueryError::Invalid(format!(
            "Undefined column name {name} in table {}.{}",
            t.keyspace, t.name
        ))
    })
}

/// Key and value types of a collection's elements (list: int index).
pub(super) fn element_types(ty: &CqlType) -> (CqlType, CqlType) {
    match ty.unfrozen() {
        CqlType::Map(k, v) => ((**k).clone(), (**v).clone()),
        CqlType::List(e) => (CqlType::Int, (**e).clone()),
        CqlType::Set(e) => ((**e).clone(), (**e).clone()),
        other => (other.clone(), other.clone()),
    }
}

fn spec(t: &TableMeta, name: &str, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: t.keyspace.clone(),
        table: t.name.clone(),
        name: name.to_string(),
        ty,
    }
}

fn out_put(out: &mut Vec<Option<ColumnSpec>>, index: usize, c: ColumnSpec) {
    if out.len() <= index {
        out.resize(index + 1, None);
    }
    out[index] = Some(c);
}

fn put(out: &mut Vec<Option<ColumnSpec>>, m: &Marker, c: ColumnSpec) {
    out_put(out, m.index, c);
}

/// Records the specs of markers inside `term`, which stands for a value of `ty`.
fn term_specs(
    t: &TableMeta,
    term: &Term,
    ty: &CqlType,
    name: &str,
    out: &mut Vec<Option<ColumnSpec>>,
) {
    match term {
        Term::Marker(m) => put(out, m, spec(t, name, ty.clone())),
        Term::List(items) | Term::Set(items) => {
            let (_, et) = element_types(ty);
            let et = if matches!(ty.unfrozen(), CqlType::Set(_)) {
                element_types(ty).0
            } else {
                et
            };
            for i in items {
                term_specs(t, i, &et, name, out);
            }
        }
        Term::Map(entries) => {
            let (kt, vt) = element_types(ty);
            for (k, v) in entries {
                term_specs(t, k, &kt, name, out);
                term_specs(t, v, &vt, name, out);
            }
        }
        Term::Tuple(items) => {
            if let CqlType::Tuple(types) = ty.unfrozen() {
                for (i, ty) in items.iter().zip(types) {
                    term_specs(t, i, ty, name, out);
                }
            }
        }
        Term::Function(_, args) => {
            for a in args {
                term_specs(t, a, &CqlType::Timeuuid, name, out);
            }
        }
        Term::Literal(_) => {}
    }
}

fn specs_for_relations(
    t: &TableMeta,
    relations: &[Relation],
    out: &mut Vec<Option<ColumnSpec>>,
) -> Result<()> {
    for r in relations {
        match r {
            Relation::Single {
                column: c,
                op,
                value,
            } => {
                let col = column(t, c)?;
                let ty = match op {
                    Op::Contains => {
                        if matches!(col.ty.unfrozen(), CqlType::Map(..)) {
                            element_types(&col.ty).1
                        } else {
                            element_types(&col.ty).0.clone()
                        }
                    }
                    Op::ContainsKey => element_types(&col.ty).0,
                    _ => col.ty.clone(),
                };
                let ty = if matches!(op, Op::Contains)
                    && matches!(col.ty.unfrozen(), CqlType::List(_))
                {
                    element_types(&col.ty).1
                } else {
                    ty
                };
                term_specs(t, value, &ty, &col.name, out);
            }
            Relation::In { column: c, values } => {
                let col = column(t, c)?;
                match values {
                    InValues::Marker(m) => put(
                        out,
                        m,
                        spec(
                            t,
                            &format!("in({})", col.name),
                            CqlType::List(Box::new(col.ty.clone())),
                        ),
                    ),
                    InValues::List(items) => {
                        for i in items {
                            term_specs(t, i, &col.ty, &col.name, out);
                        }
                    }
                }
            }
            Relation::Multi {
                columns,
                op,
                values,
            } => {
                let types: Vec<CqlType> = columns
                    .iter()
                    .map(|c| column(t, c).map(|c| c.ty.clone()))
                    .collect::<Result<_>>()?;
                let tuple = CqlType::Tuple(types.clone());
                let label = format!("({})", columns.join(","));
                for v in values {
                    match v {
                        Term::Marker(m) if *op == Op::In && values.len() == 1 => put(
                            out,
                            m,
                            spec(
                                t,
                                &format!("in{label}"),
                                CqlType::List(Box::new(tuple.clone())),
                            ),
                        ),
                        Term::Marker(m) => put(out, m, spec(t, &label, tuple.clone())),
                        Term::Tuple(items) => {
                            for (i, (item, ty)) in items.iter().zip(&types).enumerate() {
                                term_specs(t, item, ty, &columns[i.min(columns.len() - 1)], out);
                            }
                        }
                        _ => {}
                    }
                }
            }
            Relation::Token { value, .. } => {
                term_specs(t, value, &CqlType::Bigint, "partition key token", out)
            }
        }
    }
    Ok(())
}

fn specs_for_conditions(
    t: &TableMeta,
    c: &Condition,
    out: &mut Vec<Option<ColumnSpec>>,
) -> Result<()> {
    if let Condition::Columns(conds) = c {
        for cond in conds {
            let col = column(t, &cond.column)?;
            let vty = match &cond.element {
                Some(e) => {
                    let (kt, vt) = element_types(&col.ty);
                    term_specs(t, e, &kt, &format!("key({})", col.name), out);
                    vt
                }
                None => col.ty.clone(),
            };
            for v in &cond.values {
                term_specs(t, v, &vty, &col.name, out);
            }
        }
    }
    Ok(())
}
