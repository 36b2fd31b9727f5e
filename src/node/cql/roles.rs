//! The engine's side of roles at the door: checking a login against the
//! role read from `system_auth`, and creating the default superuser when
//! the node starts, as Cassandra's `CassandraRoleManager` does. Statements
//! about roles run in [`crate::node::cql::dcl`].

use crate::node::auth::RoleLogin;
use crate::node::auth::hash_password;
use crate::node::cql::ast::RoleOptions;
use crate::node::cql::exec::Engine;
use crate::node::cql::session::Result;
use crate::node::error::QueryError;

impl Engine {
    /// Creates the default superuser unless a role of that name exists:
    /// at start-up, in this node's own storage (the node has joined
    /// nothing yet).
    pub(super) fn ensure_superuser(&self, name: &str, password: String) -> Result<()> {
        if self.load_role_here(name)?.is_none() {
            // As Cassandra does: written at timestamp 0, so any change wins.
            let options = RoleOptions {
                password: Some(password),
                login: Some(true),
                superuser: Some(true),
            };
            let hash = options.password.as_deref().map(hash_password);
            let m = self.role_mutation(name, &options, hash, Some(0))?;
            self.storage.apply(&m, true)?;
        }
        Ok(())
    }

    /// Checks a login (SASL PLAIN credentials).
    pub async fn login(&self, user: &str, password: &str) -> Result<()> {
        // The role is read from system_auth's replicas: when none can answer
        // (the pitfall of system_auth left at SimpleStrategy in a
        // multi-datacenter cluster), the login fails as in Cassandra.
        let role = self.load_role(user).await.map_err(|e| match e {
            QueryError::Unavailable { .. } | QueryError::ReadTimeout { .. } => {
                QueryError::Authentication(format!("Unable to perform authentication: {e}"))
            }
            other => other,
        })?;
        let login = role.as_ref().map(|(r, hash)| RoleLogin {
            can_login: r.can_login,
            salted_hash: hash.clone(),
        });
        // bcrypt takes tens of milliseconds: on the store's stage.
        let (a, user_, password) = (
            self.authenticator.clone(),
            user.to_string(),
            password.to_string(),
        );
        self.storage
            .off_runtime(move |_| a.check(&user_, &password, login.as_ref()))
            .await??;
        if self.authorization {
            // As Cassandra's login fills its roles cache: the statements
            // that follow find the role without reading it again.
            let _ = self.effective(user).await;
        }
        Ok(())
    }
}
