//! Bound values: a [`Binder`] holds an execution's values in marker order
//! and turns each term of a statement (literal, marker, collection,
//! function call) into a value of its receiver's type.

use crate::node::cql::ast::*;
use crate::node::cql::functions::function;
use crate::node::cql::session::{Options, Result};
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::ColumnSpec;
use crate::node::transport::protocol::primitives::Value;
use crate::node::value::types::CqlType;
use crate::node::value::{CqlLiteral, CqlValue};

/// Bound values, in marker order.
pub struct Binder<'a> {
    values: Vec<Value<'a>>,
    specs: &'a [ColumnSpec],
}

impl<'a> Binder<'a> {
    pub fn new(specs: &'a [ColumnSpec], o: &Options<'a>) -> Result<Binder<'a>> {
        let values = match &o.names {
            None => o.values.clone(),
            Some(names) => {
                let mut v = Vec::with_capacity(specs.len());
                for s in specs {
                    let i = names.iter().position(|n| n.eq_ignore_ascii_case(&s.name));
                    match i {
                        Some(i) => v.push(o.values[i].clone()),
                        None => {
                            return Err(QueryError::Invalid(format!(
                                "Invalid unset value for column {}",
                                s.name
                            )));
                        }
                    }
                }
                v
            }
        };
        if values.len() != specs.len() {
            return Err(QueryError::Invalid(format!(
                "There were {} markers(?) in CQL but {} bound variables",
                specs.len(),
                values.len()
            )));
        }
        Ok(Binder { values, specs })
    }

    pub fn is_unset(&self, term: &Term) -> bool {
        matches!(term, Term::Marker(m) if matches!(self.values.get(m.index), Some(Value::Unset)))
    }

    /// The value of `term` as a value of `ty` (`None`: null).
    pub fn value(&self, term: &Term, ty: &CqlType, name: &str) -> Result<Option<CqlValue>> {
        match term {
            Term::Literal(l) => {
                CqlValue::from_literal(ty, l).map_err(|e| QueryError::Invalid(e.for_column(name)))
            }
            Term::Marker(m) => match self.values.get(m.index) {
                None | Some(Value::Null) | Some(Value::Unset) => Ok(None),
                Some(Value::Bytes(b)) => {
                    let mut v = CqlValue::decode(ty, b).map_err(|e| {
                        QueryError::Invalid(format!(
                            "Exception while binding column {}: {}",
                            self.specs.get(m.index).map_or(name, |s| s.name.as_str()),
                            e.for_column(name)
                        ))
                    })?;
                    v.normalize(ty);
                    Ok(Some(v))
                }
            },
            Term::Function(f, args) => function(f, args, ty, name).map(Some),
            Term::List(items) | Term::Set(items) => {
                if let Some(lit) = literal_of(term) {
                    return self.value(&Term::Literal(lit), ty, name);
                }
                let is_set = matches!(term, Term::Set(_));
                let et = match ty.unfrozen() {
                    CqlType::List(e) | CqlType::Set(e) => (**e).clone(),
                    _ => {
                        return Err(QueryError::Invalid(format!(
                            "Invalid {} literal for {name} of type {ty}",
                            if is_set { "set" } else { "list" }
                        )));
                    }
                };
                let mut vals = Vec::with_capacity(items.len());
                for i in items {
                    vals.push(self.value(i, &et, name)?.ok_or_else(|| {
                        QueryError::Invalid("null is not supported inside collections".into())
                    })?);
                }
                let mut v = if matches!(ty.unfrozen(), CqlType::Set(_)) {
                    CqlValue::Set(vals)
                } else {
                    CqlValue::List(vals)
                };
                v.normalize(ty);
                Ok(Some(v))
            }
            Term::Map(entries) => {
                if let Some(lit) = literal_of(term) {
                    return self.value(&Term::Literal(lit), ty, name);
                }
                let CqlType::Map(kt, vt) = ty.unfrozen() else {
                    return Err(QueryError::Invalid(format!(
                        "Invalid map literal for {name} of type {ty}"
                    )));
                };
                let mut vals = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let k = self.value(k, kt, name)?;
                    let v = self.value(v, vt, name)?;
                    match (k, v) {
                        (Some(k), Some(v)) => vals.push((k, v)),
                        _ => {
                            return Err(QueryError::Invalid(
                                "null is not supported inside collections".into(),
                            ));
                        }
                    }
                }
                let mut v = CqlValue::Map(vals);
                v.normalize(ty);
                Ok(Some(v))
            }
            Term::Tuple(_) => match literal_of(term) {
                Some(lit) => self.value(&Term::Literal(lit), ty, name),
                None => Err(QueryError::unsupported(
                    "Bind markers inside tuple literals are",
                )),
            },
        }
    }

    pub fn bytes(&self, term: &Term, ty: &CqlType, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.value(term, ty, name)?.map(|v| v.to_bytes()))
    }

    /// An integer parameter (`LIMIT`, `USING TTL`, `USING TIMESTAMP`).
    pub fn i64(&self, term: &Term, name: &str) -> Result<i64> {
        let ty = if name == "[timestamp]" || name == "partition key token" {
            CqlType::Bigint
        } else {
            CqlType::Int
        };
        match self.value(term, &ty, name)? {
            Some(CqlValue::Int(n)) => Ok(i64::from(n)),
            Some(CqlValue::Bigint(n)) => Ok(n),
            _ => Err(QueryError::Invalid(format!("Invalid null value of {name}"))),
        }
    }
}

/// A collection term whose elements are all literals, as one literal.
fn literal_of(term: &Term) -> Option<CqlLiteral> {
    match term {
        Term::Literal(l) => Some(l.clone()),
        Term::List(items) => Some(CqlLiteral::List(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        Term::Set(items) => Some(CqlLiteral::Set(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        Term::Map(entries) => Some(CqlLiteral::Map(
            entries
                .iter()
                .map(|(k, v)| Some((literal_of(k)?, literal_of(v)?)))
                .collect::<Option<_>>()?,
        )),
        Term::Tuple(items) => Some(CqlLiteral::Tuple(
            items.iter().map(literal_of).collect::<Option<_>>()?,
        )),
        _ => None,
    }
}
