//! Password authentication as Cassandra's `PasswordAuthenticator` does it.
//!
//! A client that gets AUTHENTICATE answers with a SASL PLAIN token:
//! `authzid NUL username NUL password` (the authorization id is ignored).
//! The node looks the role up in `system_auth.roles` and checks the password
//! against its `salted_hash`, a bcrypt hash (`$2a$10$...`) as Cassandra
//! stores it. Passwords are never logged; hashes are compared by bcrypt.
//! Verified logins are cached per role and hash, so a driver opening many
//! connections does not pay the bcrypt cost (tens of milliseconds) each time.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;

/// The class name AUTHENTICATE announces.
pub const PASSWORD_AUTHENTICATOR: &str = "org.apache.cassandra.auth.PasswordAuthenticator";

/// bcrypt cost, as Cassandra's default (`auth_bcrypt_gensalt_log2_rounds: 10`).
#[cfg(not(fuzzing))]
pub const BCRYPT_COST: u32 = 10;
/// bcrypt's least cost when fuzzing: instrumented, cost 10 takes most of a run.
#[cfg(fuzzing)]
pub const BCRYPT_COST: u32 = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// CQL error Authentication (0x0100).
    #[error("{0}")]
    Failed(String),
    /// CQL error Protocol (0x000A): the token is not SASL PLAIN.
    #[error("{0}")]
    Malformed(String),
}

/// Splits a SASL PLAIN token into (username, password).
pub fn sasl_plain(token: &[u8]) -> Result<(String, String), AuthError> {
    let mut parts = token.split(|b| *b == 0);
    let (Some(_authzid), Some(user), Some(pass), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "Invalid SASL PLAIN token: expected authzid\\0username\\0password".into(),
        ));
    };
    let user = String::from_utf8(user.to_vec())
        .map_err(|_| AuthError::Malformed("Username is not UTF-8".into()))?;
    let pass = String::from_utf8(pass.to_vec())
        .map_err(|_| AuthError::Malformed("Password is not UTF-8".into()))?;
    if user.is_empty() {
        return Err(AuthError::Failed(
            "Authentication ID must not be null".into(),
        ));
    }
    if pass.is_empty() {
        return Err(AuthError::Failed("Password must not be null".into()));
    }
    Ok((user, pass))
}

/// A bcrypt hash of `password` in Cassandra's `$2a$` form.
pub fn hash_password(password: &str) -> String {
    bcrypt::hash_with_result(password, BCRYPT_COST)
        .map(|h| h.format_for_version(bcrypt::Version::TwoA))
        .unwrap_or_default()
}

/// What a login needs to know about a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleLogin {
    pub can_login: bool,
    pub salted_hash: Option<String>,
}

/// Checks logins, remembering which (role, hash, password) passed. The
/// password is remembered only as a keyed digest (SipHash with a random
/// per-process key), never in the clear.
#[derive(Default)]
pub struct Authenticator {
    verified: Mutex<HashMap<String, (String, u64)>>,
    key: RandomState,
}

impl Authenticator {
    /// Checks `password` for `user` whose stored state is `role` (`None`: no such role).
    pub fn check(
        &self,
        user: &str,
        password: &str,
        role: Option<&RoleLogin>,
    ) -> Result<(), AuthError> {
        let incorrect = || {
            AuthError::Failed(format!(
                "Provided username {user} and/or password are incorrect"
            ))
        };
        let role = role.ok_or_else(incorrect)?;
        let hash = role.salted_hash.as_deref().ok_or_else(incorrect)?;
        let digest = self.key.hash_one(password);
        let cached = self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .is_some_and(|(h, d)| h == hash && *d == digest);
        if !cached {
            if !bcrypt::verify(password, hash).unwrap_or(false) {
                return Err(incorrect());
            }
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(user.to_string(), (hash.to_string(), digest));
        }
        if !role.can_login {
            return Err(AuthError::Failed(format!(
                "{user} is not permitted to log in"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_plain_tokens() {
        assert_eq!(
            sasl_plain(b"\0cassandra\0secret").unwrap(),
            ("cassandra".into(), "secret".into())
        );
        assert_eq!(
            sasl_plain(b"authz\0u\0p").unwrap(),
            ("u".into(), "p".into())
        );
        assert!(matches!(sasl_plain(b"nonul"), Err(AuthError::Malformed(_))));
        assert!(matches!(
            sasl_plain(b"\0a\0b\0c"),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(sasl_plain(b"\0\0p"), Err(AuthError::Failed(_))));
        assert!(matches!(sasl_plain(b"\0u\0"), Err(AuthError::Failed(_))));
        assert!(matches!(
            sasl_plain(b"\0\xff\0p"),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn passwords_are_bcrypt_hashes_and_logins_are_checked() {
        let hash = hash_password("cassandra");
        assert!(hash.starts_with("$2a$10$"), "{hash}");
        let a = Authenticator::default();
        let role = RoleLogin {
            can_login: true,
            salted_hash: Some(hash.clone()),
        };
        a.check("cassandra", "cassandra", Some(&role)).unwrap();
        a.check("cassandra", "cassandra", Some(&role)).unwrap(); // cached
        let e = a.check("cassandra", "wrong", Some(&role)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Provided username cassandra and/or password are incorrect"
        );
        assert!(a.check("nobody", "x", None).is_err());
        let no_login = RoleLogin {
            can_login: false,
            salted_hash: Some(hash),
        };
        assert_eq!(
            a.check("r", "cassandra", Some(&no_login))
                .unwrap_err()
                .to_string(),
            "r is not permitted to log in"
        );
        let no_hash = RoleLogin {
            can_login: true,
            salted_hash: None,
        };
        assert!(a.check("r", "cassandra", Some(&no_hash)).is_err());
    }
}
