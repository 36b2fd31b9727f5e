//! The schema a node starts with: the replicated system keyspaces as
//! Cassandra 4.1 creates them, with the `system_auth` tables this build
//! knows (also added to a schema kept by an older build).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::node::db::schema::system_auth;
use crate::node::db::schema::{
    Keyspace, KeyspaceMeta, REPLICATED_SYSTEM_KEYSPACES, Schema, Strategy,
};

impl Schema {
    /// A schema holding the replicated system keyspaces as Cassandra creates them.
    pub fn bootstrap() -> Schema {
        let mut s = Schema::default();
        for (name, rf) in REPLICATED_SYSTEM_KEYSPACES {
            s.keyspaces.insert(
                name.to_string(),
                Keyspace {
                    meta: KeyspaceMeta {
                        name: name.to_string(),
                        strategy: Strategy::Simple {
                            replication_factor: rf,
                        },
                        durable_writes: true,
                    },
                    tables: BTreeMap::new(),
                },
            );
        }
        s.add_missing_auth_tables();
        s
    }

    /// Adds the `system_auth` tables this build knows and `self` lacks (a
    /// schema kept by an older build); returns whether it added any. Every
    /// node adds the same tables, with the same ids, so versions still agree.
    pub fn add_missing_auth_tables(&mut self) -> bool {
        let Some(ks) = self.keyspaces.get_mut("system_auth") else {
            return false;
        };
        let mut added = false;
        for t in system_auth::tables() {
            if !ks.tables.contains_key(&t.name) {
                ks.tables.insert(t.name.clone(), Arc::new(t));
                added = true;
            }
        }
        added
    }
}
