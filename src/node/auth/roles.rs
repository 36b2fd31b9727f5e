//! The role graph and the permission decision, as `CassandraRoleManager`
//! and `CassandraAuthorizer` make them, without I/O.
//!
//! A role may be granted other roles (`GRANT manager TO alice`); it then
//! holds, besides its own permissions, those of every role reachable
//! through `member_of`, and it is a superuser when any of them is. A
//! superuser holds every permission that applies to a resource. A
//! permission on a resource also holds on everything below it, so a check
//! walks the resource's chain (`<table ks.t>`, `<keyspace ks>`,
//! `<all keyspaces>`).
//!
//! The graph comes from an [`AuthSource`] (the engine's cached reads of
//! `system_auth`); walking it is iterative and visits each role once, so
//! neither a long chain of grants nor a cycle left by concurrent grants on
//! two nodes can exhaust the stack or loop.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::node::auth::resource::{Permission, Permissions, Resource};

/// What the role manager keeps about one role (`system_auth.roles`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoleRecord {
    pub name: String,
    pub is_superuser: bool,
    pub can_login: bool,
    /// The roles granted to this one.
    pub member_of: BTreeSet<String>,
}

/// Permissions granted directly to one role, by resource (`system_auth.role_permissions`).
pub type Grants = BTreeMap<Resource, Permissions>;

/// Where the decisions read roles and grants from.
pub trait AuthSource {
    type Error;
    /// A role, or `None` if there is no such role.
    fn role(&self, name: &str) -> Result<Option<Arc<RoleRecord>>, Self::Error>;
    /// The permissions granted directly to `role`.
    fn grants(&self, role: &str) -> Result<Arc<Grants>, Self::Error>;
}

/// `name` and, with `inherited`, every role granted to it directly or not
/// (without: only the roles granted to it directly), each once, `name`
/// first. Roles named in `member_of` that no longer exist are skipped.
pub fn roles_of<S: AuthSource>(
    src: &S,
    name: &str,
    inherited: bool,
) -> Result<Vec<Arc<RoleRecord>>, S::Error> {
    let Some(first) = src.role(name)? else {
        return Ok(Vec::new());
    };
    let mut seen: HashSet<String> = HashSet::from([first.name.clone()]);
    let mut out = vec![first.clone()];
    let mut todo: Vec<String> = first.member_of.iter().rev().cloned().collect();
    while let Some(n) = todo.pop() {
        if !seen.insert(n.clone()) {
            continue;
        }
        let Some(r) = src.role(&n)? else {
            continue;
        };
        if inherited {
            todo.extend(r.member_of.iter().rev().cloned());
        }
        out.push(r);
    }
    Ok(out)
}

/// What a logged-in role may do, computed once from the graph and its grants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effective {
    /// The role and every role it holds, `name` first.
    pub roles: Vec<String>,
    pub is_superuser: bool,
    pub can_login: bool,
    /// The union of the grants of every role held.
    pub grants: HashMap<Resource, Permissions>,
}

impl Effective {
    /// Everything `name` holds; a role that does not exist holds nothing.
    pub fn of<S: AuthSource>(src: &S, name: &str) -> Result<Effective, S::Error> {
        let roles = roles_of(src, name, true)?;
        let mut e = Effective {
            roles: roles.iter().map(|r| r.name.clone()).collect(),
            is_superuser: roles.iter().any(|r| r.is_superuser),
            can_login: roles.first().is_some_and(|r| r.can_login),
            grants: HashMap::new(),
        };
        if !e.is_superuser {
            for r in &roles {
                for (res, p) in src.grants(&r.name)?.iter() {
                    let slot = e.grants.entry(res.clone()).or_default();
                    *slot = slot.union(*p);
                }
            }
        }
        Ok(e)
    }

    /// The permissions held on `resource` itself (not through its parents).
    pub fn on(&self, resource: &Resource) -> Permissions {
        if self.is_superuser {
            return resource.applicable();
        }
        self.grants.get(resource).copied().unwrap_or_default()
    }

    /// Whether `perm` is held on `resource` or on any resource above it.
    pub fn may(&self, perm: Permission, resource: &Resource) -> bool {
        if self.on(resource).contains(perm) {
            return true;
        }
        let mut up = resource.parent();
        while let Some(r) = up {
            if self.on(&r).contains(perm) {
                return true;
            }
            up = r.parent();
        }
        false
    }

    /// Whether this role holds `role` (is it, or was granted it).
    pub fn holds(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Default)]
    struct Graph {
        roles: HashMap<String, Arc<RoleRecord>>,
        grants: HashMap<String, Arc<Grants>>,
        reads: Cell<usize>,
    }

    impl Graph {
        fn role(mut self, name: &str, sup: bool, member_of: &[&str]) -> Self {
            self.roles.insert(
                name.into(),
                Arc::new(RoleRecord {
                    name: name.into(),
                    is_superuser: sup,
                    can_login: true,
                    member_of: member_of.iter().map(|s| s.to_string()).collect(),
                }),
            );
            self
        }
        fn grant(mut self, role: &str, r: Resource, p: &[Permission]) -> Self {
            let g = Arc::make_mut(self.grants.entry(role.into()).or_default());
            g.insert(r, p.iter().copied().collect());
            self
        }
    }

    impl AuthSource for Graph {
        type Error = ();
        fn role(&self, name: &str) -> Result<Option<Arc<RoleRecord>>, ()> {
            self.reads.set(self.reads.get() + 1);
            Ok(self.roles.get(name).cloned())
        }
        fn grants(&self, role: &str) -> Result<Arc<Grants>, ()> {
            Ok(self.grants.get(role).cloned().unwrap_or_default())
        }
    }

    fn ks(n: &str) -> Resource {
        Resource::Keyspace(n.into())
    }
    fn table(k: &str, t: &str) -> Resource {
        Resource::Table(k.into(), t.into())
    }

    #[test]
    fn grants_hold_below_and_through_granted_roles() {
        let g = Graph::default()
            .role("alice", false, &["reader"])
            .role("reader", false, &["base"])
            .role("base", false, &[])
            .role("bob", false, &[])
            .grant("reader", ks("shop"), &[Permission::Select])
            .grant("base", table("shop", "orders"), &[Permission::Modify]);
        let alice = Effective::of(&g, "alice").unwrap();
        assert_eq!(alice.roles, ["alice", "reader", "base"]);
        assert!(alice.may(Permission::Select, &table("shop", "orders")));
        assert!(alice.may(Permission::Modify, &table("shop", "orders")));
        assert!(!alice.may(Permission::Modify, &table("shop", "other")));
        assert!(!alice.may(Permission::Select, &ks("else")));
        assert!(!alice.may(Permission::Select, &Resource::AllKeyspaces));
        let bob = Effective::of(&g, "bob").unwrap();
        assert!(!bob.may(Permission::Select, &table("shop", "orders")));
        assert!(!Effective::of(&g, "nobody").unwrap().can_login);
        let direct: Vec<String> = roles_of(&g, "alice", false)
            .unwrap()
            .iter()
            .map(|r| r.name.clone())
            .collect();
        assert_eq!(direct, ["alice", "reader"]);
    }

    #[test]
    fn superuser_status_is_inherited_and_holds_what_applies() {
        let g = Graph::default()
            .role("admin", true, &[])
            .role("carol", false, &["admin"]);
        let c = Effective::of(&g, "carol").unwrap();
        assert!(c.is_superuser);
        assert!(c.may(Permission::Drop, &table("a", "b")));
        assert!(c.may(Permission::Create, &Resource::AllRoles));
        assert!(
            !c.on(&table("a", "b")).contains(Permission::Create),
            "CREATE does not apply to a table"
        );
    }

    #[test]
    fn cycles_and_long_chains_end() {
        let mut g = Graph::default()
            .role("x", false, &["y"])
            .role("y", false, &["x"]);
        let e = Effective::of(&g, "x").unwrap();
        assert_eq!(e.roles, ["x", "y"]);
        for i in 0..20_000 {
            let next = format!("r{}", i + 1);
            g = g.role(&format!("r{i}"), i == 19_999, &[next.as_str()]);
        }
        g.reads.set(0);
        let e = Effective::of(&g, "r0").unwrap();
        assert!(e.is_superuser);
        assert_eq!(e.roles.len(), 20_000);
        assert_eq!(
            g.reads.get(),
            20_001,
            "each role read once (r20000 missing)"
        );
    }
}
