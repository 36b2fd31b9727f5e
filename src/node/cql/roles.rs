//! The engine's side of roles at the door: checking a login against the
//! role read from `system_auth`, and creating the default superuser when
//! the node starts, as Cassandra's `CassandraRoleManager` does. Statements
//! about roles run in [`crate::node::cql::dcl`].

use crate::node::auth::RoleLogin;
use crate::node::cql::ast::RoleOptions;
use crate::node::cql::exec::Engine;
use crate::node::cql::session::Result;
use crate::node::error::QueryError;

impl Engine {
    /// Creates the default superuser unless a role of that name exists.
    pub(super) fn ensure_superuser(&self, name: &str, password: String) -> Result<()> {
        if self.load_role(name)?.is_none() {
            // As Cassandra does: written at timestamp 0, so any change wins.
            self.write_role(
                name,
                &RoleOptions {
                    password: Some(password),
                    login: Some(true),
                    superuser: Some(true),
                },
                Some(0),
            )?;
        }
        Ok(())
    }

    /// Checks a login (SASL PLAIN credentials).
    pub fn login(&self, user: &str, password: &str) -> Result<()> {
        // The role is read from system_auth's replicas: when none can answer
        // (the pitfall of system_auth left at SimpleStrategy in a
        // multi-datacenter cluster), the login fails as in Cassandra.
        let role = self.load_role(user).map_err(|e| match e {
            QueryError::Unavailable { .. } | QueryError::ReadTimeout { .. } => {
                QueryError::Authentication(format!("Unable to perform authentication: {e}"))
            }
            other => other,
        })?;
        let login = role.as_ref().map(|(r, hash)| RoleLogin {
            can_login: r.can_login,
            salted_hash: hash.clone(),
        });
        self.authenticator.check(user, password, login.as_ref())?;
        if self.authorization {
            // As Cassandra's login fills its roles cache: the statements
            // that follow find the role without reading it again.
            let _ = self.effective(user);
        }
        Ok(())
    }
}
