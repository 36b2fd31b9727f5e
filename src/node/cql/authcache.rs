//! What the engine read from `system_auth` (roles, grants, the effective
//! permissions of a role), kept for [`VALIDITY_MICROS`] as Cassandra's roles
//! and permissions caches keep them. The reads themselves are the engine's
//! ([`crate::node::cql::access`]); this file only stores and expires them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::node::auth::roles::{Effective, Grants, RoleRecord};
use crate::node::cql::session::Result;

/// How long roles and grants read from `system_auth` are trusted
/// (Cassandra's `roles_validity` and `permissions_validity`).
pub const VALIDITY_MICROS: i64 = 2_000_000;

/// Values by role name, each with when it was read (microseconds).
pub(super) type Stamped<V> = Mutex<HashMap<String, (i64, V)>>;

/// What was read from `system_auth`, with when.
#[derive(Default)]
pub struct AuthCache {
    pub(super) roles: Stamped<Option<Arc<RoleRecord>>>,
    pub(super) grants: Stamped<Arc<Grants>>,
    pub(super) effective: Stamped<Arc<Effective>>,
}

impl AuthCache {
    /// Forgets everything (after a change to roles or grants made here).
    pub fn clear(&self) {
        self.roles.lock().unwrap_or_else(|e| e.into_inner()).clear();
        self.grants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.effective
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// The value kept for `key` if still valid, else what `load` reads (kept).
pub(super) async fn cached<V: Clone>(
    map: &Stamped<V>,
    key: &str,
    now: i64,
    load: impl std::future::Future<Output = Result<V>>,
) -> Result<V> {
    let kept = map
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(key)
        .filter(|(at, _)| now - at < VALIDITY_MICROS && now >= *at)
        .map(|(_, v)| v.clone());
    if let Some(v) = kept {
        return Ok(v);
    }
    let v = load.await?;
    let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
    if m.len() > 10_000 {
        m.clear();
    }
    m.insert(key.to_string(), (now, v.clone()));
    Ok(v)
}
