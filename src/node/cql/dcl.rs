//! Statements about roles and permissions, run as Cassandra 4.1 runs them:
//! first the statement's own authorization, then its validation, then the
//! change to `system_auth` (roles, `member_of` and `role_members` as
//! `CassandraRoleManager` keeps them; `role_permissions` and its reverse
//! index `resource_role_permissons_index` as `CassandraAuthorizer` does).
//! The messages are Cassandra's, word for word.
//!
//! Dropping a role also drops what was granted to it and on it; dropping a
//! keyspace or table drops what was granted on it (the reverse index says
//! to whom), so a new object of the same name starts with no grants.

use std::collections::BTreeSet;

use crate::node::auth::hash_password;
use crate::node::auth::resource::{Permission, Permissions, Resource};
use crate::node::auth::roles::roles_of;
use crate::node::cql::ast::*;
use crate::node::cql::exec::Engine;
use crate::node::cql::session::{Result, Session};
use crate::node::db::read::{Partitions, ResultRow};
use crate::node::db::schema::system_auth::{
    RESOURCE_ROLE_INDEX, ROLE_MEMBERS, ROLE_PERMISSIONS, ROLES,
};
use crate::node::db::storage::Mutation;
use crate::node::db::write::MutationBuilder;
use crate::node::error::QueryError;
use crate::node::locator::partitioner;
use crate::node::transport::protocol::frame::{ColumnSpec, ResultBody, Rows};
use crate::node::value::CqlValue;
use crate::node::value::types::CqlType;

fn column(table: &str, name: &str, ty: CqlType) -> ColumnSpec {
    ColumnSpec {
        keyspace: "system_auth".into(),
        table: table.into(),
        name: name.into(),
        ty,
    }
}

/// The first clustering value of a `system_auth` row, as text.
fn first_clustering(r: &ResultRow) -> Option<String> {
    String::from_utf8(r.clustering.first()?.clone()).ok()
}

fn rows(columns: Vec<ColumnSpec>, rows: Vec<Vec<Option<Vec<u8>>>>) -> ResultBody {
    if rows.is_empty() {
        return ResultBody::Void;
    }
    ResultBody::Rows(Rows {
        columns,
        rows,
        paging_state: None,
        no_metadata: false,
    })
}

impl Engine {
    fn builder(&self, table: &str, key: &str) -> Result<MutationBuilder> {
        self.builder_at(table, key, self.timestamp())
    }

    fn builder_at(&self, table: &str, key: &str, ts: i64) -> Result<MutationBuilder> {
        let t = self
            .schema()
            .table("system_auth", table)
            .cloned()
            .ok_or_else(|| QueryError::Server(format!("system_auth.{table} is missing")))?;
        let key = key.as_bytes().to_vec();
        Ok(MutationBuilder::new(
            t.id,
            partitioner::token(&key),
            key,
            ts,
            0,
            self.now_micros() / 1_000_000,
        ))
    }

    /// Creates or changes a role's row; `ts` 0 for the default superuser,
    /// so that any later change wins, as Cassandra writes it.
    pub(super) async fn write_role(
        &self,
        name: &str,
        o: &RoleOptions,
        ts: Option<i64>,
    ) -> Result<()> {
        // bcrypt takes tens of milliseconds: on the store's stage.
        let hash = match o.password.clone() {
            Some(p) => Some(self.storage.off_runtime(move |_| hash_password(&p)).await?),
            None => None,
        };
        let m = self.role_mutation(name, o, hash, ts)?;
        self.auth_write(vec![m]).await
    }

    /// A role's row as `o` sets it, its password already hashed.
    pub(super) fn role_mutation(
        &self,
        name: &str,
        o: &RoleOptions,
        hash: Option<String>,
        ts: Option<i64>,
    ) -> Result<Mutation> {
        let mut b = self.builder_at(ROLES, name, ts.unwrap_or_else(|| self.timestamp()))?;
        let ck = Vec::new();
        b.marker(&ck);
        if let Some(l) = o.login {
            b.set(Some(&ck), "can_login", Some(vec![u8::from(l)]));
        }
        if let Some(s) = o.superuser {
            b.set(Some(&ck), "is_superuser", Some(vec![u8::from(s)]));
        }
        if let Some(h) = hash {
            b.set(Some(&ck), "salted_hash", Some(h.into_bytes()));
        }
        Ok(b.build())
    }

    async fn exists(&self, role: &str) -> Result<bool> {
        Ok(self.load_role(role).await?.is_some())
    }

    /// Cassandra's `ensureNotAnonymous`: role statements need a login.
    fn not_anonymous(&self, s: &Session) -> Result<()> {
        if !self.auth_enabled || s.user.is_none() {
            return Err(QueryError::Unauthorized(
                "You have to be logged in and not anonymous to perform this request".into(),
            ));
        }
        Ok(())
    }

    /// A role-management permission, with the friendlier message role statements give.
    async fn check_role_permission(&self, s: &Session, p: Permission, r: Resource) -> Result<()> {
        self.ensure(s, p, &r).await.map_err(|e| match e {
            QueryError::Unauthorized(_) => QueryError::Unauthorized(format!(
                "User {} does not have sufficient privileges to perform the requested operation",
                s.user.as_deref().unwrap_or("anonymous")
            )),
            other => other,
        })
    }

    /// Runs a role or permission statement.
    pub(super) async fn dcl(&self, s: &Session, stmt: &Statement) -> Result<ResultBody> {
        match stmt {
            Statement::CreateRole {
                name,
                if_not_exists,
                options,
            } => self.create_role(s, name, *if_not_exists, options).await,
            Statement::AlterRole {
                name,
                if_exists,
                options,
            } => self.alter_role(s, name, *if_exists, options).await,
            Statement::DropRole { name, if_exists } => self.drop_role(s, name, *if_exists).await,
            Statement::ListRoles { of, recursive } => {
                self.list_roles(s, of.as_deref(), *recursive).await
            }
            Statement::GrantRole { role, grantee } => self.grant_role(s, role, grantee, true).await,
            Statement::RevokeRole { role, revokee } => {
                self.grant_role(s, role, revokee, false).await
            }
            Statement::GrantPermissions {
                permissions,
                resource,
                grantee,
            } => {
                self.grant_permissions(s, *permissions, resource, grantee, true)
                    .await
            }
            Statement::RevokePermissions {
                permissions,
                resource,
                revokee,
            } => {
                self.grant_permissions(s, *permissions, resource, revokee, false)
                    .await
            }
            Statement::ListPermissions {
                permissions,
                resource,
                of,
                recursive,
            } => {
                self.list_permissions(
                    s,
                    *permissions,
                    resource.as_ref(),
                    of.as_deref(),
                    *recursive,
                )
                .await
            }
            _ => Err(QueryError::Server(
                "not a role or permission statement".into(),
            )),
        }
    }

    async fn create_role(
        &self,
        s: &Session,
        name: &str,
        if_not_exists: bool,
        options: &RoleOptions,
    ) -> Result<ResultBody> {
        self.check_role_permission(s, Permission::Create, Resource::AllRoles)
            .await?;
        if options.superuser == Some(true) && !self.is_super(s).await? {
            return Err(QueryError::Unauthorized(
                "Only superusers can create a role with superuser status".into(),
            ));
        }
        if name.is_empty() {
            return Err(QueryError::Invalid(
                "Role name can't be an empty string".into(),
            ));
        }
        self.not_anonymous(s)?;
        if self.exists(name).await? {
            if if_not_exists {
                return Ok(ResultBody::Void);
            }
            return Err(QueryError::Invalid(format!("{name} already exists")));
        }
        let o = RoleOptions {
            password: options.password.clone(),
            login: Some(options.login.unwrap_or(false)),
            superuser: Some(options.superuser.unwrap_or(false)),
        };
        self.write_role(name, &o, None).await?;
        let created = Resource::Role(name.to_string());
        self.grant_to_creator(s, std::slice::from_ref(&created))
            .await?;
        Ok(ResultBody::Void)
    }

    async fn alter_role(
        &self,
        s: &Session,
        name: &str,
        if_exists: bool,
        options: &RoleOptions,
    ) -> Result<ResultBody> {
        let user = s.user.as_deref().unwrap_or("anonymous");
        let is_super = self.is_super(s).await?;
        if options.superuser.is_some()
            && self.auth_enabled
            && self.effective(user).await?.holds(name)
        {
            return Err(QueryError::Unauthorized(
                "You aren't allowed to alter your own superuser status or that of a role granted to you".into(),
            ));
        }
        if options.superuser.is_some() && !is_super {
            return Err(QueryError::Unauthorized(
                "Only superusers are allowed to alter superuser status".into(),
            ));
        }
        if !is_super {
            if user == name {
                if options.login.is_some() {
                    return Err(QueryError::Unauthorized(
                        "You aren't allowed to alter LOGIN".into(),
                    ));
                }
            } else {
                self.check_role_permission(s, Permission::Alter, Resource::Role(name.into()))
                    .await?;
            }
        }
        if *options == RoleOptions::default() {
            return Err(QueryError::Invalid(
                "ALTER [ROLE|USER] can't be empty".into(),
            ));
        }
        self.not_anonymous(s)?;
        if !self.exists(name).await? {
            if if_exists {
                return Ok(ResultBody::Void);
            }
            return Err(QueryError::Invalid(format!("{name} doesn't exist")));
        }
        self.write_role(name, options, None).await?;
        Ok(ResultBody::Void)
    }

    async fn drop_role(&self, s: &Session, name: &str, if_exists: bool) -> Result<ResultBody> {
        self.check_role_permission(s, Permission::Drop, Resource::Role(name.into()))
            .await?;
        let existing = self.load_role(name).await?;
        if existing.is_some() && !self.is_super(s).await? {
            let target_super = self
                .walk_roles(true, |f| roles_of(f, name, true))
                .await?
                .iter()
                .any(|r| r.is_superuser);
            if target_super {
                return Err(QueryError::Unauthorized(
                    "Only superusers can drop a role with superuser status".into(),
                ));
            }
        }
        self.not_anonymous(s)?;
        let Some((record, _)) = existing else {
            if if_exists {
                return Ok(ResultBody::Void);
            }
            return Err(QueryError::Invalid(format!("{name} doesn't exist")));
        };
        if s.user.as_deref() == Some(name) {
            return Err(QueryError::Invalid(
                "Cannot DROP primary role for current login".into(),
            ));
        }
        let mut ms = Vec::new();
        let mut b = self.builder(ROLES, name)?;
        b.delete_partition();
        ms.push(b.build());
        // The roles this one was granted to lose it (Cassandra's removeAllMembers)...
        for member in self.members_of(name).await? {
            ms.push(self.membership(&member, name, false)?);
        }
        let mut b = self.builder(ROLE_MEMBERS, name)?;
        b.delete_partition();
        ms.push(b.build());
        // ...and the lookup rows naming it as a member go too.
        for granted in &record.member_of {
            let mut b = self.builder(ROLE_MEMBERS, granted)?;
            b.delete_row(&vec![name.as_bytes().to_vec()]);
            ms.push(b.build());
        }
        self.auth_write(ms).await?;
        self.revoke_all_from(name).await?;
        self.revoke_all_on(&Resource::Role(name.into())).await?;
        Ok(ResultBody::Void)
    }

    /// The roles `role` is granted to (its `role_members` partition).
    async fn members_of(&self, role: &str) -> Result<Vec<String>> {
        Ok(self
            .auth_partition(ROLE_MEMBERS, role)
            .await?
            .rows
            .iter()
            .filter_map(first_clustering)
            .collect())
    }

    /// Adds `role` to (or removes it from) `grantee`'s `member_of`.
    fn membership(&self, grantee: &str, role: &str, add: bool) -> Result<Mutation> {
        let mut b = self.builder(ROLES, grantee)?;
        let path = vec![role.as_bytes().to_vec()];
        if add {
            b.add_keyed(
                Some(&Vec::new()),
                "member_of",
                vec![(path[0].clone(), Vec::new())],
            );
        } else {
            b.remove_keyed(Some(&Vec::new()), "member_of", path);
        }
        Ok(b.build())
    }

    async fn list_roles(
        &self,
        s: &Session,
        of: Option<&str>,
        recursive: bool,
    ) -> Result<ResultBody> {
        self.not_anonymous(s)?;
        if let Some(g) = of
            && !self.exists(g).await?
        {
            return Err(QueryError::Invalid(format!(
                "{} doesn't exist",
                Resource::Role(g.into())
            )));
        }
        let user = s.user.as_deref().unwrap_or_default();
        let names: Vec<String> = if self
            .permissions_on(s, &Resource::AllRoles)
            .await?
            .contains(Permission::Describe)
        {
            match of {
                None => self
                    .auth_read(
                        ROLES,
                        Partitions::Range {
                            start: std::ops::Bound::Unbounded,
                            end: std::ops::Bound::Unbounded,
                        },
                    )
                    .await?
                    .rows
                    .iter()
                    .filter_map(|r| String::from_utf8(r.key.clone()).ok())
                    .collect(),
                Some(g) => self.role_names(g, recursive).await?,
            }
        } else {
            match of {
                None => self.role_names(user, recursive).await?,
                Some(g) if self.role_names(user, true).await?.iter().any(|r| r == g) => {
                    self.role_names(g, recursive).await?
                }
                Some(g) => {
                    return Err(QueryError::Unauthorized(format!(
                        "You are not authorized to view roles granted to {g} "
                    )));
                }
            }
        };
        let mut records = Vec::new();
        for n in names.into_iter().collect::<BTreeSet<_>>() {
            if let Some((r, _)) = self.load_role(&n).await? {
                records.push(r);
            }
        }
        let columns = vec![
            column(ROLES, "role", CqlType::Text),
            column(ROLES, "super", CqlType::Boolean),
            column(ROLES, "login", CqlType::Boolean),
            column(
                ROLES,
                "options",
                CqlType::Frozen(Box::new(CqlType::Map(
                    Box::new(CqlType::Text),
                    Box::new(CqlType::Text),
                ))),
            ),
            column(ROLES, "datacenters", CqlType::Text),
        ];
        let out = records
            .into_iter()
            .map(|r| {
                vec![
                    Some(r.name.into_bytes()),
                    Some(vec![u8::from(r.is_superuser)]),
                    Some(vec![u8::from(r.can_login)]),
                    Some(CqlValue::Map(Vec::new()).to_bytes()),
                    Some(b"ALL".to_vec()),
                ]
            })
            .collect();
        Ok(rows(columns, out))
    }

    /// `role` and the roles granted to it (all of them, or only directly).
    async fn role_names(&self, role: &str, recursive: bool) -> Result<Vec<String>> {
        Ok(self
            .walk_roles(true, |f| roles_of(f, role, recursive))
            .await?
            .iter()
            .map(|r| r.name.clone())
            .collect())
    }

    async fn grant_role(
        &self,
        s: &Session,
        role: &str,
        grantee: &str,
        grant: bool,
    ) -> Result<ResultBody> {
        self.check_role_permission(s, Permission::Authorize, Resource::Role(role.into()))
            .await?;
        self.not_anonymous(s)?;
        for r in [role, grantee] {
            if !self.exists(r).await? {
                return Err(QueryError::Invalid(format!("{r} doesn't exist")));
            }
        }
        if grant {
            if self
                .role_names(grantee, true)
                .await?
                .iter()
                .any(|r| r == role)
            {
                return Err(QueryError::Invalid(format!(
                    "{grantee} is a member of {role}"
                )));
            }
            if self
                .role_names(role, true)
                .await?
                .iter()
                .any(|r| r == grantee)
            {
                return Err(QueryError::Invalid(format!(
                    "{role} is a member of {grantee}"
                )));
            }
        } else if !self
            .role_names(grantee, false)
            .await?
            .iter()
            .any(|r| r == role)
        {
            return Err(QueryError::Invalid(format!(
                "{grantee} is not a member of {role}"
            )));
        }
        let mut b = self.builder(ROLE_MEMBERS, role)?;
        let ck = vec![grantee.as_bytes().to_vec()];
        if grant {
            b.marker(&ck);
        } else {
            b.delete_row(&ck);
        }
        self.auth_write(vec![self.membership(grantee, role, grant)?, b.build()])
            .await?;
        Ok(ResultBody::Void)
    }

    /// A resource as written, made whole (a table's keyspace from the session).
    fn resolve(&self, s: &Session, r: &ResourceName) -> Result<Resource> {
        let ks_of = |q: &QualifiedName| {
            q.keyspace.clone().or_else(|| s.keyspace.clone()).ok_or_else(|| {
                QueryError::Invalid(
                    "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename"
                        .into(),
                )
            })
        };
        Ok(match r {
            ResourceName::AllKeyspaces => Resource::AllKeyspaces,
            ResourceName::Keyspace(k) => Resource::Keyspace(k.clone()),
            ResourceName::Table(q) => Resource::Table(ks_of(q)?, q.name.clone()),
            ResourceName::AllRoles => Resource::AllRoles,
            ResourceName::Role(r) => Resource::Role(r.clone()),
            ResourceName::AllFunctions => Resource::AllFunctions,
            ResourceName::FunctionsIn(k) => Resource::FunctionsIn(k.clone()),
            ResourceName::Function { name, args } => Resource::Function {
                keyspace: ks_of(name)?,
                name: name.name.clone(),
                args: args.clone(),
            },
            ResourceName::AllMbeans => Resource::AllMbeans,
            ResourceName::Mbean(m) => Resource::Mbean(m.clone()),
        })
    }

    /// Whether a resource exists (ccrsim has no user functions and no MBeans).
    async fn resource_exists(&self, r: &Resource) -> Result<bool> {
        let schema = self.schema();
        let keyspace = |k: &str| {
            schema.keyspace(k).is_some()
                || crate::node::db::system::tables::LOCAL_KEYSPACES.contains(&k)
        };
        Ok(match r {
            Resource::AllKeyspaces | Resource::AllRoles | Resource::AllFunctions => true,
            Resource::AllMbeans => true,
            Resource::Keyspace(k) | Resource::FunctionsIn(k) => keyspace(k),
            Resource::Table(k, t) => {
                schema.table(k, t).is_some()
                    || crate::node::db::system::tables::table(k, t).is_some()
            }
            Resource::Role(r) => self.exists(r).await?,
            Resource::Function { .. } | Resource::Mbean(_) => false,
        })
    }

    async fn grant_permissions(
        &self,
        s: &Session,
        spec: PermissionSpec,
        resource: &ResourceName,
        grantee: &str,
        grant: bool,
    ) -> Result<ResultBody> {
        let resource = self.resolve(s, resource)?;
        let perms = match spec {
            PermissionSpec::All => resource.applicable(),
            PermissionSpec::One(p) => [p].into_iter().collect(),
        };
        self.ensure(s, Permission::Authorize, &resource).await?;
        for p in perms.iter() {
            self.ensure(s, p, &resource).await?;
        }
        self.not_anonymous(s)?;
        if !self.exists(grantee).await? {
            return Err(QueryError::Invalid(format!("Role {grantee} doesn't exist")));
        }
        if matches!(&resource, Resource::Function { keyspace, .. } if keyspace == "system") {
            return Err(QueryError::Invalid(
                "Altering permissions on builtin functions is not supported".into(),
            ));
        }
        if !self.resource_exists(&resource).await? {
            return Err(QueryError::Invalid(format!(
                "Resource {resource} doesn't exist"
            )));
        }
        if !self.authorization {
            return Err(QueryError::Invalid(format!(
                "{} operation is not supported by AllowAllAuthorizer",
                if grant { "GRANT" } else { "REVOKE" }
            )));
        }
        self.modify_grants(grantee, &resource, perms, grant).await?;
        Ok(ResultBody::Void)
    }

    /// Adds or removes permissions of `role` on `resource`, and keeps the
    /// reverse index (`resource_role_permissons_index`) with it.
    pub(super) async fn modify_grants(
        &self,
        role: &str,
        resource: &Resource,
        perms: Permissions,
        add: bool,
    ) -> Result<()> {
        let name = resource.name();
        let ck = vec![name.as_bytes().to_vec()];
        let names: Vec<Vec<u8>> = perms.iter().map(|p| p.name().as_bytes().to_vec()).collect();
        let mut b = self.builder(ROLE_PERMISSIONS, role)?;
        if add {
            b.add_keyed(
                Some(&ck),
                "permissions",
                names.into_iter().map(|n| (n, Vec::new())).collect(),
            );
        } else {
            b.remove_keyed(Some(&ck), "permissions", names);
        }
        let mut index = self.builder(RESOURCE_ROLE_INDEX, &name)?;
        let ick = vec![role.as_bytes().to_vec()];
        if add {
            index.marker(&ick);
        } else {
            index.delete_row(&ick);
        }
        self.auth_write(vec![b.build(), index.build()]).await
    }

    /// Drops every permission granted to `role` (it is being dropped).
    async fn revoke_all_from(&self, role: &str) -> Result<()> {
        self.drop_grants(ROLE_PERMISSIONS, RESOURCE_ROLE_INDEX, role)
            .await
    }

    /// Drops every permission granted on `resource` (it is being dropped).
    pub(super) async fn revoke_all_on(&self, resource: &Resource) -> Result<()> {
        if !self.auth_enabled {
            return Ok(());
        }
        self.drop_grants(RESOURCE_ROLE_INDEX, ROLE_PERMISSIONS, &resource.name())
            .await
    }

    /// A grant is kept twice, by role (`role_permissions`) and by resource
    /// (the index): deletes partition `key` of `table` and, for each of its
    /// rows, the matching row of `mirror`. Writes nothing when there is none.
    async fn drop_grants(&self, table: &str, mirror: &str, key: &str) -> Result<()> {
        let mut ms = Vec::new();
        for r in self.auth_partition(table, key).await?.rows {
            if let Some(other) = first_clustering(&r) {
                let mut b = self.builder(mirror, &other)?;
                b.delete_row(&vec![key.as_bytes().to_vec()]);
                ms.push(b.build());
            }
        }
        if ms.is_empty() {
            return Ok(());
        }
        let mut b = self.builder(table, key)?;
        b.delete_partition();
        ms.push(b.build());
        self.auth_write(ms).await
    }

    async fn list_permissions(
        &self,
        s: &Session,
        spec: PermissionSpec,
        resource: Option<&ResourceName>,
        of: Option<&str>,
        recursive: bool,
    ) -> Result<ResultBody> {
        self.not_anonymous(s)?;
        let resource = resource.map(|r| self.resolve(s, r)).transpose()?;
        if let Some(r) = &resource
            && !self.resource_exists(r).await?
        {
            return Err(QueryError::Invalid(format!("{r} doesn't exist")));
        }
        if let Some(g) = of
            && !self.exists(g).await?
        {
            return Err(QueryError::Invalid(format!(
                "{} doesn't exist",
                Resource::Role(g.into())
            )));
        }
        if !self.authorization {
            return Err(QueryError::Invalid(
                "LIST PERMISSIONS operation is not supported by AllowAllAuthorizer".into(),
            ));
        }
        let user = s.user.as_deref().unwrap_or_default();
        let allowed = self.is_super(s).await?
            || match of {
                Some(g) => self.effective(user).await.is_ok_and(|e| e.holds(g)),
                None => false,
            };
        if !allowed {
            return Err(QueryError::Unauthorized(format!(
                "You are not authorized to view {}'s permissions",
                of.unwrap_or("everyone")
            )));
        }
        let wanted = match spec {
            PermissionSpec::All => Permissions::all(),
            PermissionSpec::One(p) => [p].into_iter().collect(),
        };
        let resources: Option<Vec<Resource>> =
            resource.map(|r| if recursive { r.chain() } else { vec![r] });
        let holders: Option<Vec<String>> = match of {
            Some(g) => Some(self.role_names(g, true).await?),
            None => None,
        };
        let mut details: BTreeSet<(String, String, Permission, String)> = BTreeSet::new();
        let partitions = match &holders {
            Some(h) => Partitions::Keys(
                h.iter()
                    .map(|r| (partitioner::token(r.as_bytes()), r.as_bytes().to_vec()))
                    .collect(),
            ),
            None => Partitions::Range {
                start: std::ops::Bound::Unbounded,
                end: std::ops::Bound::Unbounded,
            },
        };
        for row in self.auth_read(ROLE_PERMISSIONS, partitions).await?.rows {
            let (Ok(role), Some(Some(res))) = (
                String::from_utf8(row.key.clone()),
                row.clustering
                    .first()
                    .map(|c| std::str::from_utf8(c).ok().and_then(Resource::from_name)),
            ) else {
                continue;
            };
            if resources.as_ref().is_some_and(|rs| !rs.contains(&res)) {
                continue;
            }
            let granted = match row.columns.get("permissions") {
                Some(crate::node::db::storage::partition::LiveColumn::Complex(els)) => els
                    .iter()
                    .filter_map(|(p, _)| {
                        std::str::from_utf8(p).ok().and_then(Permission::from_name)
                    })
                    .collect::<Permissions>(),
                _ => Permissions::NONE,
            };
            for p in granted.intersect(wanted).iter() {
                details.insert((role.clone(), res.name(), p, res.to_string()));
            }
        }
        let columns = ["role", "username", "resource", "permission"]
            .into_iter()
            .map(|c| column("permissions", c, CqlType::Text))
            .collect();
        let out = details
            .into_iter()
            .map(|(role, _, p, shown)| {
                vec![
                    Some(role.clone().into_bytes()),
                    Some(role.into_bytes()),
                    Some(shown.into_bytes()),
                    Some(p.name().as_bytes().to_vec()),
                ]
            })
            .collect();
        Ok(rows(columns, out))
    }
}
