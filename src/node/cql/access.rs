//! Who may run a statement: the engine's side of authorization.
//!
//! Before a statement runs, [`Engine::authorize`] asks what it needs, as
//! Cassandra's statements do in `authorize()`: SELECT on the table for a
//! read, MODIFY for a write (and SELECT too for a conditional one), CREATE
//! on the keyspace for `CREATE TABLE`, ALTER or DROP on what is altered or
//! dropped, CREATE on `<all keyspaces>` for `CREATE KEYSPACE`. Two rules
//! hold whatever the authorizer: the local system keyspaces cannot be
//! changed, and the replicated ones (`system_auth`, `system_distributed`,
//! `system_traces`) only have their replication altered. With
//! `CassandraAuthorizer` the permission must then be held on the resource
//! or one above it (the decision is [`crate::node::auth::roles`]); with
//! `AllowAllAuthorizer` it always is. A few system tables (`system.local`,
//! `system.peers`, `system_schema.*`...) are readable by everyone, because
//! every driver reads them.
//!
//! Roles and grants are read from `system_auth` through the same read path
//! as any table (the coordinator when the node is in a cluster), and kept
//! in [`crate::node::cql::authcache`] for its `VALIDITY_MICROS` as
//! Cassandra's roles and permissions caches (`roles_validity`,
//! `permissions_validity`: 2 s) keep them: a statement
//! costs a map lookup, not a read. A change made through this node drops
//! the cache at once; one made through another node is seen here within
//! the validity.

use std::collections::HashMap;
use std::sync::Arc;

use crate::node::auth::resource::{Permission, Permissions, Resource};
use crate::node::auth::roles::{AuthSource, Effective, Grants, RoleRecord};
use crate::node::cql::ast::*;
use crate::node::cql::authcache::cached;
use crate::node::cql::exec::{Engine, has_condition};
use crate::node::cql::session::{Result, Session};
use crate::node::db::consistency::Consistency;
use crate::node::db::read::{self, Partitions, ReadCommand};
use crate::node::db::schema::ALTERABLE_SYSTEM_KEYSPACES;
use crate::node::db::schema::system_auth::{ROLE_PERMISSIONS, ROLES};
use crate::node::db::storage::Mutation;
use crate::node::db::storage::partition::LiveColumn;
use crate::node::db::system::tables::LOCAL_KEYSPACES;
use crate::node::error::QueryError;
use crate::node::locator::partitioner;
use crate::node::transport::protocol::frame::{ResultBody, SchemaChangeTarget};

/// The role a page of `system_auth.roles` holds, with its password hash.
fn role_of(name: &str, page: &read::Page) -> Option<(RoleRecord, Option<String>)> {
    let row = page.rows.first()?;
    let get = |c: &str| match row.columns.get(c) {
        Some(LiveColumn::Simple(cell)) => cell.value.clone(),
        _ => None,
    };
    let b = |c: &str| get(c).is_some_and(|v| v == [1]);
    let hash = get("salted_hash").and_then(|v| String::from_utf8(v).ok());
    Some((
        RoleRecord {
            name: name.to_string(),
            is_superuser: b("is_superuser"),
            can_login: b("can_login"),
            member_of: text_set(row.columns.get("member_of")).into_iter().collect(),
        },
        hash,
    ))
}

/// Tables every logged-in role may read.
fn readable_system(r: &Resource) -> bool {
    match r {
        Resource::Table(ks, t) => {
            (ks == "system" && matches!(t.as_str(), "local" | "peers" | "peers_v2"))
                || ks == "system_schema"
                || ks == "system_virtual_schema"
        }
        _ => false,
    }
}

/// Tables the role manager and the authorizer keep for themselves.
fn protected(r: &Resource) -> bool {
    matches!(r, Resource::Table(ks, t) if ks == "system_auth"
        && matches!(t.as_str(), "roles" | "role_members" | "role_permissions"))
}

fn text_set(c: Option<&LiveColumn>) -> Vec<String> {
    match c {
        Some(LiveColumn::Complex(els)) => els
            .iter()
            .filter_map(|(path, _)| String::from_utf8(path.clone()).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// The roles and grants read so far for one decision of
/// [`crate::node::auth::roles`] (which does no I/O): a decision that meets
/// one not read yet names it ([`Missing`]), the engine reads it, and the
/// decision is made again ([`Engine::walk_roles`]).
#[derive(Default)]
pub(super) struct Fetched {
    roles: HashMap<String, Option<Arc<RoleRecord>>>,
    grants: HashMap<String, Arc<Grants>>,
}

/// What a decision needs and [`Fetched`] does not hold yet.
pub(super) enum Missing {
    Role(String),
    Grants(String),
}

impl AuthSource for Fetched {
    type Error = Missing;
    fn role(&self, name: &str) -> std::result::Result<Option<Arc<RoleRecord>>, Missing> {
        self.roles
            .get(name)
            .cloned()
            .ok_or_else(|| Missing::Role(name.to_string()))
    }
    fn grants(&self, role: &str) -> std::result::Result<Arc<Grants>, Missing> {
        self.grants
            .get(role)
            .cloned()
            .ok_or_else(|| Missing::Grants(role.to_string()))
    }
}

impl Engine {
    /// Makes a decision over the role graph, reading the roles and grants
    /// it asks for: through the caches, or (`fresh`) straight from
    /// `system_auth`, for checks that must see the latest state. Each pass
    /// reads one more role or grant set, so it ends after at most twice as
    /// many passes as there are roles.
    pub(super) async fn walk_roles<R>(
        &self,
        fresh: bool,
        decide: impl Fn(&Fetched) -> std::result::Result<R, Missing>,
    ) -> Result<R> {
        let mut f = Fetched::default();
        loop {
            match decide(&f) {
                Ok(r) => return Ok(r),
                Err(Missing::Role(n)) => {
                    let r = if fresh {
                        self.load_role(&n).await?.map(|(r, _)| Arc::new(r))
                    } else {
                        let now = self.now_micros();
                        cached(&self.auth_cache.roles, &n, now, async {
                            Ok(self.load_role(&n).await?.map(|(r, _)| Arc::new(r)))
                        })
                        .await?
                    };
                    f.roles.insert(n, r);
                }
                Err(Missing::Grants(n)) => {
                    let g = if fresh {
                        Arc::new(self.load_grants(&n).await?)
                    } else {
                        let now = self.now_micros();
                        cached(&self.auth_cache.grants, &n, now, async {
                            Ok(Arc::new(self.load_grants(&n).await?))
                        })
                        .await?
                    };
                    f.grants.insert(n, g);
                }
            }
        }
    }

    /// The read of a `system_auth` table's partitions.
    fn auth_command(&self, table: &str, partitions: Partitions) -> Result<ReadCommand> {
        let t = self
            .schema()
            .table("system_auth", table)
            .cloned()
            .ok_or_else(|| QueryError::Server(format!("system_auth.{table} is missing")))?;
        Ok(ReadCommand {
            table: t,
            partitions,
            slices: Vec::new(),
            filters: Vec::new(),
            reversed: false,
            limit: None,
            per_partition_limit: None,
            distinct: false,
            now: self.now_micros() / 1_000_000,
        })
    }

    /// Reads a `system_auth` table at LOCAL_ONE, as the role manager and
    /// the authorizer do.
    pub(super) async fn auth_read(
        &self,
        table: &str,
        partitions: Partitions,
    ) -> Result<read::Page> {
        let cmd = self.auth_command(table, partitions)?;
        self.read_page(&cmd, Consistency::LocalOne, None, None)
            .await
    }

    /// A role as this node's own storage holds it, read on the calling
    /// thread: for start-up, before the node takes requests or joins.
    pub(super) fn load_role_here(&self, name: &str) -> Result<Option<RoleRecord>> {
        let key = name.as_bytes().to_vec();
        let token = partitioner::token(&key);
        let cmd = self.auth_command(ROLES, Partitions::Keys(vec![(token, key)]))?;
        let page = read::execute(
            &**self.storage,
            &cmd,
            crate::node::value::compare,
            None,
            None,
        )?;
        Ok(role_of(name, &page).map(|(r, _)| r))
    }

    /// One partition of a `system_auth` table keyed by text.
    pub(super) async fn auth_partition(&self, table: &str, key: &str) -> Result<read::Page> {
        partitioner::check_key_lengths(&[key.as_bytes()]).map_err(QueryError::Invalid)?;
        let key = key.as_bytes().to_vec();
        let token = partitioner::token(&key);
        self.auth_read(table, Partitions::Keys(vec![(token, key)]))
            .await
    }

    /// Writes to `system_auth` at LOCAL_ONE (which drops the cache).
    pub(super) async fn auth_write(&self, ms: Vec<Mutation>) -> Result<()> {
        let writes: Vec<_> = ms
            .into_iter()
            .map(|m| (m, true, "system_auth".to_string()))
            .collect();
        self.apply_all(&writes, Consistency::LocalOne, false).await
    }

    /// A role's row and its password hash, read (not cached).
    pub(super) async fn load_role(
        &self,
        name: &str,
    ) -> Result<Option<(RoleRecord, Option<String>)>> {
        let page = self.auth_partition(ROLES, name).await?;
        Ok(role_of(name, &page))
    }

    /// The permissions granted directly to `role`, read (not cached).
    /// Rows naming a resource this build does not know are skipped.
    pub(super) async fn load_grants(&self, role: &str) -> Result<Grants> {
        let page = self.auth_partition(ROLE_PERMISSIONS, role).await?;
        Ok(page
            .rows
            .iter()
            .filter_map(|r| {
                let name = std::str::from_utf8(r.clustering.first()?).ok()?;
                let resource = Resource::from_name(name)?;
                let perms: Permissions = text_set(r.columns.get("permissions"))
                    .iter()
                    .filter_map(|p| Permission::from_name(p))
                    .collect();
                (!perms.is_empty()).then_some((resource, perms))
            })
            .collect())
    }

    /// What `role` holds: its roles, superuser status and grants (cached).
    pub(super) async fn effective(&self, role: &str) -> Result<Arc<Effective>> {
        let now = self.now_micros();
        cached(&self.auth_cache.effective, role, now, async {
            self.walk_roles(false, |f| Effective::of(f, role))
                .await
                .map(Arc::new)
        })
        .await
        .map_err(|e| match e {
            // As Cassandra answers when system_auth cannot be read.
            QueryError::Unavailable { .. } | QueryError::ReadTimeout { .. } => {
                QueryError::Unauthorized(format!(
                    "Unable to perform authorization of permissions: {e}"
                ))
            }
            other => other,
        })
    }

    /// Whether `role` is a superuser now, itself or through a role granted to it.
    pub async fn is_superuser(&self, role: &str) -> Result<bool> {
        Ok(self.effective(role).await?.is_superuser)
    }

    /// Whether the session's role is a superuser now (always, with authentication off).
    pub(super) async fn is_super(&self, s: &Session) -> Result<bool> {
        if !self.auth_enabled || s.internal {
            return Ok(true);
        }
        match &s.user {
            Some(u) => self.is_superuser(u).await,
            None => Ok(false),
        }
    }

    /// The permissions the session's role holds on `resource` itself
    /// (every applicable one without authorization, as `AllowAllAuthorizer` answers).
    pub(super) async fn permissions_on(
        &self,
        s: &Session,
        resource: &Resource,
    ) -> Result<Permissions> {
        if !self.authorization || !self.auth_enabled || s.internal {
            return Ok(resource.applicable());
        }
        match &s.user {
            Some(u) => Ok(self.effective(u).await?.on(resource)),
            None => Ok(Permissions::NONE),
        }
    }

    /// Cassandra's `ensurePermission(perm, resource)`: held on the resource
    /// or a parent, with the authorizer on; always without it.
    pub(super) async fn ensure(
        &self,
        s: &Session,
        perm: Permission,
        resource: &Resource,
    ) -> Result<()> {
        if !self.authorization || !self.auth_enabled || s.internal {
            return Ok(());
        }
        let user = s.user.as_deref().unwrap_or("anonymous");
        if self.effective(user).await?.may(perm, resource) {
            return Ok(());
        }
        Err(QueryError::Unauthorized(format!(
            "User {user} has no {perm} permission on {resource} or any of its parents"
        )))
    }

    /// A permission on a data resource: the system keyspaces' protection
    /// first, then the readable system tables, then the protected auth
    /// tables, then the authorizer.
    async fn ensure_data(&self, s: &Session, perm: Permission, resource: Resource) -> Result<()> {
        let ks = resource.keyspace().unwrap_or_default();
        if matches!(
            perm,
            Permission::Create | Permission::Alter | Permission::Drop
        ) {
            if LOCAL_KEYSPACES.contains(&ks) {
                return Err(QueryError::Unauthorized(format!(
                    "{ks} keyspace is not user-modifiable."
                )));
            }
            let keyspace_level = matches!(resource, Resource::Keyspace(_));
            if ALTERABLE_SYSTEM_KEYSPACES.contains(&ks)
                && !(perm == Permission::Alter && keyspace_level)
            {
                return Err(QueryError::Unauthorized(format!(
                    "Cannot {perm} {resource}"
                )));
            }
        }
        if perm == Permission::Select && readable_system(&resource) {
            return Ok(());
        }
        if protected(&resource)
            && matches!(
                perm,
                Permission::Create | Permission::Alter | Permission::Drop
            )
        {
            return Err(QueryError::Unauthorized(format!(
                "{resource} schema is protected"
            )));
        }
        self.ensure(s, perm, &resource).await
    }

    /// The table a statement names, if it can be resolved and exists (a
    /// statement on a missing table fails with its own error, as in
    /// Cassandra, where the table is resolved before authorization).
    fn named_table(&self, s: &Session, q: &QualifiedName) -> Option<Resource> {
        let ks = q.keyspace.clone().or_else(|| s.keyspace.clone())?;
        let exists = self.schema().table(&ks, &q.name).is_some()
            || crate::node::db::system::tables::table(&ks, &q.name).is_some();
        exists.then(|| Resource::Table(ks, q.name.clone()))
    }

    fn named_keyspace(&self, s: &Session, q: &QualifiedName) -> Option<String> {
        q.keyspace.clone().or_else(|| s.keyspace.clone())
    }

    /// Checks that the session may run `stmt` (Cassandra's `authorize`).
    /// Role and permission statements check their own rules as they run.
    pub(super) async fn authorize(&self, s: &Session, stmt: &Statement) -> Result<()> {
        if s.internal {
            return Ok(());
        }
        let checked = self.authorization && self.auth_enabled;
        if !checked
            && matches!(
                stmt,
                Statement::Select(_)
                    | Statement::Insert(_)
                    | Statement::Update(_)
                    | Statement::Delete(_)
                    | Statement::Batch(_)
                    | Statement::Truncate(_)
            )
        {
            // Reads and writes need no permission but the authorizer's;
            // only schema changes meet the system keyspaces' protection.
            return Ok(());
        }
        let table = async |q: &QualifiedName, perm: Permission| match self.named_table(s, q) {
            Some(r) => self.ensure_data(s, perm, r).await,
            None => Ok(()),
        };
        match stmt {
            Statement::Select(sel) => table(&sel.table, Permission::Select).await,
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => {
                let q = match stmt {
                    Statement::Insert(i) => &i.table,
                    Statement::Update(u) => &u.table,
                    Statement::Delete(d) => &d.table,
                    _ => unreachable!("matched above"),
                };
                table(q, Permission::Modify).await?;
                if has_condition(stmt) {
                    table(q, Permission::Select).await?;
                }
                Ok(())
            }
            Statement::Batch(b) => {
                for st in &b.statements {
                    Box::pin(self.authorize(s, st)).await?;
                }
                Ok(())
            }
            Statement::Truncate(q) => table(q, Permission::Modify).await,
            Statement::CreateKeyspace { .. } => {
                self.ensure_data(s, Permission::Create, Resource::AllKeyspaces)
                    .await
            }
            Statement::AlterKeyspace { name, .. } => {
                self.ensure_data(s, Permission::Alter, Resource::Keyspace(name.clone()))
                    .await
            }
            Statement::DropKeyspace { name, .. } => {
                self.ensure_data(s, Permission::Drop, Resource::Keyspace(name.clone()))
                    .await
            }
            Statement::CreateTable(ct) => match self.named_keyspace(s, &ct.name) {
                Some(ks) => {
                    self.ensure_data(s, Permission::Create, Resource::Keyspace(ks))
                        .await
                }
                None => Ok(()),
            },
            Statement::AlterTable { name, .. } => match self.named_keyspace(s, name) {
                Some(ks) => {
                    self.ensure_data(s, Permission::Alter, Resource::Table(ks, name.name.clone()))
                        .await
                }
                None => Ok(()),
            },
            Statement::DropTable { name, .. } => match self.named_keyspace(s, name) {
                Some(ks) => {
                    self.ensure_data(s, Permission::Drop, Resource::Table(ks, name.name.clone()))
                        .await
                }
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// After a schema change: the creator of a keyspace or table gets every
    /// permission on it; what was granted on a dropped one is dropped
    /// (`dropped_tables`: the tables a dropped keyspace had).
    pub(super) async fn after_ddl(
        &self,
        s: &Session,
        result: &ResultBody,
        dropped_tables: &[String],
    ) -> Result<()> {
        let ResultBody::SchemaChange(c) = result else {
            return Ok(());
        };
        if !self.authorization || !self.auth_enabled {
            return Ok(());
        }
        let on: Vec<Resource> = match &c.target {
            SchemaChangeTarget::Keyspace(ks) => {
                let mut v = vec![
                    Resource::Keyspace(ks.clone()),
                    Resource::FunctionsIn(ks.clone()),
                ];
                if c.change == "DROPPED" {
                    v.extend(
                        dropped_tables
                            .iter()
                            .map(|t| Resource::Table(ks.clone(), t.clone())),
                    );
                }
                v
            }
            SchemaChangeTarget::Table { keyspace, table } => {
                vec![Resource::Table(keyspace.clone(), table.clone())]
            }
        };
        match c.change {
            "CREATED" => self.grant_to_creator(s, &on).await,
            "DROPPED" => {
                for r in &on {
                    self.revoke_all_on(r).await?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Grants every applicable permission on resources a statement created
    /// to the role that created them, as Cassandra does (with
    /// `CassandraAuthorizer` and a logged-in role).
    pub(super) async fn grant_to_creator(&self, s: &Session, created: &[Resource]) -> Result<()> {
        let Some(user) = s.user.as_deref() else {
            return Ok(());
        };
        if !self.authorization || !self.auth_enabled {
            return Ok(());
        }
        for r in created {
            self.modify_grants(user, r, r.applicable(), true).await?;
        }
        Ok(())
    }
}
