//! # Who may log in, and who may do what
//!
//! Cassandra splits security into three pluggable parts, and ccrsim keeps
//! the split and the names:
//!
//! - the **authenticator** checks a login: [`password`] is Cassandra's
//!   `PasswordAuthenticator` (SASL PLAIN against bcrypt hashes in
//!   `system_auth.roles`); `AllowAllAuthenticator` (no login) is the node's
//!   `--authenticator allow-all`;
//! - the **role manager** keeps roles, their options and which roles are
//!   granted to which (`GRANT role TO role`): `system_auth.roles.member_of`
//!   and `system_auth.role_members`, as `CassandraRoleManager` does;
//! - the **authorizer** decides whether a role may do something to a
//!   resource. `AllowAllAuthorizer` (Cassandra's default, and a bare
//!   node's) lets every logged-in role do everything and refuses GRANT and
//!   REVOKE; `CassandraAuthorizer` (what services run) keeps permissions in
//!   `system_auth.role_permissions` and checks them on every statement.
//!
//! This module holds the decisions, free of I/O: [`resource`] names what
//! permissions are about (`<all keyspaces>`, `<keyspace ks>`,
//! `<table ks.t>`, `<all roles>`, `<role r>`, functions, MBeans) and which
//! permissions each kind takes; [`roles`] walks the role graph (a role has
//! the permissions of every role granted to it, directly or not, and is a
//! superuser if any of them is) and answers "may this role do this".
//! Reading and writing the `system_auth` tables, caching what was read, and
//! knowing which statement needs which permission is the query engine's
//! part (`crate::node::cql::access`).

pub mod password;
pub mod resource;
pub mod roles;

pub use password::{
    AuthError, Authenticator, BCRYPT_COST, PASSWORD_AUTHENTICATOR, RoleLogin, hash_password,
    sasl_plain,
};
