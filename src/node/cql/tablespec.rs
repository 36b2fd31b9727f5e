//! A table's definition from `CREATE TABLE`: the [`TableSpec`] the schema
//! builds a table from. The system tables' definitions
//! ([`crate::node::db::system::tables`]) are read with it too, so it
//! imports nothing that imports them.

use crate::node::cql::ast::CreateTable;
use crate::node::cql::session::Result;
use crate::node::db::schema::TableSpec;
use crate::node::error::QueryError;
use crate::node::value::types::CqlType;

/// Builds a [`TableSpec`] from `CREATE TABLE`, with types parsed in `keyspace`.
pub fn table_spec(ct: &CreateTable, keyspace: &str) -> Result<TableSpec> {
    let mut columns = Vec::with_capacity(ct.columns.len());
    for c in &ct.columns {
        columns.push((c.name.clone(), parse_type(&c.ty, keyspace)?, c.is_static));
    }
    if ct.partition_key.is_empty() {
        return Err(QueryError::Invalid(
            "No PRIMARY KEY specifed for table (exactly one required)".into(),
        ));
    }
    Ok(TableSpec {
        columns,
        partition_key: ct.partition_key.clone(),
        clustering: ct.clustering.clone(),
        clustering_order: ct.clustering_order.clone(),
        options: ct.options.clone(),
    })
}

/// A column's type, its user types resolved in `keyspace`.
pub(super) fn parse_type(text: &str, keyspace: &str) -> Result<CqlType> {
    CqlType::parse_in_keyspace(text, keyspace).map_err(|e| QueryError::Invalid(e.to_string()))
}
