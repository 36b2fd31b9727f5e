//! The tables of `system_auth`, as Cassandra 4.1's `AuthKeyspace` defines
//! them: roles and their hashes, role memberships, permissions granted to
//! roles and their reverse index, and network permissions. Each has a
//! stable id derived from its name, so every node creates the same table.

use crate::node::db::schema::{OptionValue, TableMeta, TableSpec, system_table_id};
use crate::node::value::types::CqlType;

pub const ROLES: &str = "roles";
pub const ROLE_MEMBERS: &str = "role_members";
pub const ROLE_PERMISSIONS: &str = "role_permissions";
/// Cassandra's name, spelling included.
pub const RESOURCE_ROLE_INDEX: &str = "resource_role_permissons_index";
pub const NETWORK_PERMISSIONS: &str = "network_permissions";

fn table(
    name: &str,
    comment: &str,
    columns: &[(&str, CqlType)],
    pk: &[&str],
    ck: &[&str],
) -> TableMeta {
    let spec = TableSpec {
        columns: columns
            .iter()
            .map(|(n, t)| (n.to_string(), t.clone(), false))
            .collect(),
        partition_key: pk.iter().map(|s| s.to_string()).collect(),
        clustering: ck.iter().map(|s| s.to_string()).collect(),
        options: vec![
            ("comment".into(), OptionValue::Text(comment.into())),
            ("gc_grace_seconds".into(), OptionValue::Number(7_776_000.0)),
        ],
        ..Default::default()
    };
    TableMeta::create(
        "system_auth",
        name,
        system_table_id("system_auth", name),
        &spec,
    )
    .expect("system_auth tables are valid")
}

/// Every table of `system_auth`.
pub fn tables() -> Vec<TableMeta> {
    let text = || CqlType::Text;
    let set = || CqlType::Set(Box::new(CqlType::Text));
    vec![
        table(
            ROLES,
            "role definitions",
            &[
                ("role", text()),
                ("can_login", CqlType::Boolean),
                ("is_superuser", CqlType::Boolean),
                ("member_of", set()),
                ("salted_hash", text()),
            ],
            &["role"],
            &[],
        ),
        table(
            ROLE_MEMBERS,
            "role memberships lookup table",
            &[("role", text()), ("member", text())],
            &["role"],
            &["member"],
        ),
        table(
            ROLE_PERMISSIONS,
            "permissions granted to db roles",
            &[
                ("role", text()),
                ("resource", text()),
                ("permissions", set()),
            ],
            &["role"],
            &["resource"],
        ),
        table(
            RESOURCE_ROLE_INDEX,
            "index of db roles with permissions granted on a resource",
            &[("resource", text()), ("role", text())],
            &["resource"],
            &["role"],
        ),
        table(
            NETWORK_PERMISSIONS,
            "user network permissions",
            &[("role", text()), ("dcs", CqlType::Frozen(Box::new(set())))],
            &["role"],
            &[],
        ),
    ]
}
