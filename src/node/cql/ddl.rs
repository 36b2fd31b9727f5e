//! Statements that change the schema: CREATE, ALTER and DROP of keyspaces
//! and tables, and TRUNCATE. Each one takes the engine's DDL lock, changes
//! a copy of the schema, records the difference as cells of the schema log
//! (`db::schema::log`, persisted before the answer), makes the log's schema
//! current and answers with the protocol's SCHEMA_CHANGE; data of dropped
//! tables is removed as they leave the schema.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::node::cql::ast::*;
use crate::node::cql::exec::Engine;
use crate::node::cql::session::{Result, Session};
use crate::node::cql::tablespec::{parse_type, table_spec};
use crate::node::db::schema::{Change, KeyspaceMeta, OptionValue, Strategy, TableMeta};
use crate::node::db::system::tables::LOCAL_KEYSPACES;
use crate::node::error::QueryError;
use crate::node::transport::protocol::frame::{ResultBody, SchemaChange, SchemaChangeTarget};

/// Turns a schema change into the protocol's SCHEMA_CHANGE.
pub fn schema_change(c: &Change) -> Option<SchemaChange> {
    let (change, keyspace, table) = match c {
        Change::Created { keyspace, table } => ("CREATED", keyspace, table),
        Change::Updated { keyspace, table } => ("UPDATED", keyspace, table),
        Change::Dropped { keyspace, table } => ("DROPPED", keyspace, table),
        Change::None => return None,
    };
    Some(SchemaChange {
        change,
        target: match table {
            None => SchemaChangeTarget::Keyspace(keyspace.clone()),
            Some(t) => SchemaChangeTarget::Table {
                keyspace: keyspace.clone(),
                table: t.clone(),
            },
        },
    })
}

impl Engine {
    /// The datacenters of the cluster: this node's and its peers'.
    fn known_dcs(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = self.peers().into_iter().map(|p| p.datacenter).collect();
        s.insert(
            self.local
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .datacenter
                .clone(),
        );
        s
    }

    fn keyspace_meta(
        &self,
        name: &str,
        options: &[(String, OptionValue)],
        old: Option<&KeyspaceMeta>,
    ) -> Result<KeyspaceMeta> {
        let mut strategy: Option<Strategy> = old.map(|o| o.strategy.clone());
        let mut durable_writes = old.is_none_or(|o| o.durable_writes);
        for (k, v) in options {
            match (k.as_str(), v) {
                ("replication", OptionValue::Map(m)) => {
                    strategy = Some(Strategy::from_options(name, m, &self.known_dcs())?);
                }
                ("durable_writes", OptionValue::Bool(b)) => durable_writes = *b,
                ("durable_writes", OptionValue::Text(t)) => {
                    durable_writes = t.eq_ignore_ascii_case("true")
                }
                ("replication" | "durable_writes", _) => {
                    return Err(QueryError::Syntax(format!(
                        "Invalid value for property '{k}'"
                    )));
                }
                _ => return Err(QueryError::Syntax(format!("Unknown property '{k}'"))),
            }
        }
        let Some(strategy) = strategy else {
            return Err(QueryError::Config(
                "Missing mandatory option 'replication'".into(),
            ));
        };
        Ok(KeyspaceMeta {
            name: name.to_string(),
            strategy,
            durable_writes,
        })
    }

    pub(super) fn ddl(&self, s: &mut Session, stmt: &Statement) -> Result<ResultBody> {
        let _guard = self.ddl.lock().unwrap_or_else(|e| e.into_inner());
        let old = self.schema();
        let mut schema = (*old).clone();
        let mut truncate: Option<Arc<TableMeta>> = None;
        // Authorization refused most of these already (Cassandra's
        // preventSystemKSSchemaModification); what is left is refused as
        // Cassandra's AlterSchemaStatement does.
        let check_local = |ks: &str| -> Result<()> {
            if LOCAL_KEYSPACES.contains(&ks) {
                return Err(QueryError::Invalid(format!(
                    "System keyspace '{ks}' is not user-modifiable"
                )));
            }
            Ok(())
        };
        let change = match stmt {
            Statement::CreateKeyspace {
                name,
                if_not_exists,
                options,
            } => {
                if schema.keyspace(name).is_some() && *if_not_exists {
                    Change::None
                } else {
                    check_local(name)?;
                    let meta = self.keyspace_meta(name, options, None)?;
                    schema.create_keyspace(meta, *if_not_exists)?
                }
            }
            Statement::AlterKeyspace {
                name,
                if_exists,
                options,
            } => {
                check_local(name)?;
                match schema.keyspace(name) {
                    None if *if_exists => Change::None,
                    None => {
                        return Err(QueryError::Invalid(format!(
                            "Keyspace '{name}' doesn't exist"
                        )));
                    }
                    Some(ks) => {
                        let meta = self.keyspace_meta(name, options, Some(&ks.meta))?;
                        schema.alter_keyspace(meta, *if_exists)?
                    }
                }
            }
            Statement::DropKeyspace { name, if_exists } => {
                check_local(name)?;
                let (c, _) = schema.drop_keyspace(name, *if_exists)?;
                if let Some(k) = &s.keyspace
                    && k == name
                    && c != Change::None
                {
                    s.keyspace = None;
                }
                c
            }
            Statement::CreateTable(ct) => {
                let ks = self.resolve_keyspace(s, &ct.name)?;
                check_local(&ks)?;
                if schema.keyspace(&ks).is_none() {
                    return Err(QueryError::Invalid(format!(
                        "Keyspace '{ks}' doesn't exist"
                    )));
                }
                if schema.table(&ks, &ct.name.name).is_some() && ct.if_not_exists {
                    Change::None
                } else {
                    let spec = table_spec(ct, &ks)?;
                    let id = crate::node::locator::ring::random_uuid(&mut rand::rng());
                    let t = TableMeta::create(&ks, &ct.name.name, id, &spec)?;
                    schema.create_table(t, ct.if_not_exists)?
                }
            }
            Statement::AlterTable {
                name,
                if_exists,
                op,
            } => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                let Some(t) = schema.table(&ks, &name.name) else {
                    if *if_exists {
                        return Ok(ResultBody::Void);
                    }
                    return Err(QueryError::Invalid(format!(
                        "Table '{ks}.{}' doesn't exist",
                        name.name
                    )));
                };
                let mut t = (**t).clone();
                match op {
                    AlterTableOp::Add(defs) => {
                        let mut added = Vec::new();
                        for d in defs {
                            added.push((d.name.clone(), parse_type(&d.ty, &ks)?, d.is_static));
                        }
                        t.add_columns(&added)?;
                    }
                    AlterTableOp::Drop(names) => t.drop_columns(names)?,
                    AlterTableOp::With(options) => {
                        if options.iter().any(|(k, _)| k == "id") {
                            return Err(QueryError::Config("Cannot update table id".into()));
                        }
                        t.options.apply(options)?;
                    }
                }
                schema.replace_table(t)?
            }
            Statement::DropTable { name, if_exists } => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                if schema.keyspace(&ks).is_none() {
                    if *if_exists {
                        return Ok(ResultBody::Void);
                    }
                    return Err(QueryError::Invalid(format!(
                        "Keyspace '{ks}' doesn't exist"
                    )));
                }
                schema.drop_table(&ks, &name.name, *if_exists)?.0
            }
            Statement::Truncate(name) => {
                let ks = self.resolve_keyspace(s, name)?;
                check_local(&ks)?;
                let t = schema.table(&ks, &name.name).cloned().ok_or_else(|| {
                    QueryError::Invalid(format!("Table '{ks}.{}' doesn't exist", name.name))
                })?;
                truncate = Some(t);
                Change::None
            }
            _ => return Err(QueryError::Server("not a DDL statement".into())),
        };
        if let Some(t) = truncate {
            self.storage.truncate(&t.id)?;
            return Ok(ResultBody::Void);
        }
        let Some(sc) = schema_change(&change) else {
            return Ok(ResultBody::Void);
        };
        // Data of dropped tables is removed as the log's schema becomes current.
        self.change_schema(&old, &schema)?;
        Ok(ResultBody::SchemaChange(sc))
    }
}
