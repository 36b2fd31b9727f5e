//! What permissions are about, and the permissions themselves, as
//! Cassandra's `IResource` and `Permission` have them.
//!
//! Resources form trees: `<all keyspaces>` → `<keyspace ks>` →
//! `<table ks.t>`; `<all roles>` → `<role r>`; `<all functions>` →
//! `<all functions in ks>` → `<function ks.f(int)>`; `<all mbeans>` →
//! `<mbean name>`. A permission granted on a resource holds on everything
//! below it, so a check walks the resource's [`Resource::chain`]. Each
//! resource has a stable name (`data/ks/t`), the key it has in
//! `system_auth.role_permissions`, and a display form (`<table ks.t>`) for
//! messages and `LIST PERMISSIONS`.

use std::fmt;

/// A permission, in Cassandra's order (which `LIST PERMISSIONS` sorts by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Create,
    Alter,
    Drop,
    Select,
    Modify,
    Authorize,
    Describe,
    Execute,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Create,
        Permission::Alter,
        Permission::Drop,
        Permission::Select,
        Permission::Modify,
        Permission::Authorize,
        Permission::Describe,
        Permission::Execute,
    ];

    /// The name Cassandra stores and shows: `SELECT`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Create => "CREATE",
            Permission::Alter => "ALTER",
            Permission::Drop => "DROP",
            Permission::Select => "SELECT",
            Permission::Modify => "MODIFY",
            Permission::Authorize => "AUTHORIZE",
            Permission::Describe => "DESCRIBE",
            Permission::Execute => "EXECUTE",
        }
    }

    /// From a stored or written name, in any case.
    pub fn from_name(name: &str) -> Option<Permission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Permissions(u16);

impl Permissions {
    pub const NONE: Permissions = Permissions(0);

    pub fn all() -> Permissions {
        Permission::ALL.into_iter().collect()
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn insert(&mut self, p: Permission) {
        self.0 |= p.bit();
    }

    pub fn union(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }

    pub fn intersect(self, other: Permissions) -> Permissions {
        Permissions(self.0 & other.0)
    }

    pub fn minus(self, other: Permissions) -> Permissions {
        Permissions(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// In Cassandra's order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL
            .into_iter()
            .filter(move |p| self.contains(*p))
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        let mut s = Permissions::NONE;
        for p in iter {
            s.insert(p);
        }
        s
    }
}

/// A resource permissions are granted on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resource {
    AllKeyspaces,
    Keyspace(String),
    Table(String, String),
    AllRoles,
    Role(String),
    AllFunctions,
    FunctionsIn(String),
    /// A function with the CQL names of its argument types.
    Function {
        keyspace: String,
        name: String,
        args: Vec<String>,
    },
    AllMbeans,
    Mbean(String),
}

use Permission::*;

impl Resource {
    /// Cassandra's class name for the kind, as its messages use it.
    pub fn kind(&self) -> &'static str {
        match self {
            Resource::AllKeyspaces | Resource::Keyspace(_) | Resource::Table(..) => "DataResource",
            Resource::AllRoles | Resource::Role(_) => "RoleResource",
            Resource::AllFunctions | Resource::FunctionsIn(_) | Resource::Function { .. } => {
                "FunctionResource"
            }
            Resource::AllMbeans | Resource::Mbean(_) => "JMXResource",
        }
    }

    /// The permissions that mean something on this resource.
    pub fn applicable(&self) -> Permissions {
        let set: &[Permission] = match self {
            Resource::AllKeyspaces | Resource::Keyspace(_) => {
                &[Create, Alter, Drop, Select, Modify, Authorize]
            }
            Resource::Table(..) => &[Alter, Drop, Select, Modify, Authorize],
            Resource::AllRoles => &[Create, Alter, Drop, Authorize, Describe],
            Resource::Role(_) => &[Alter, Drop, Authorize],
            Resource::AllFunctions | Resource::FunctionsIn(_) => {
                &[Create, Alter, Drop, Authorize, Execute]
            }
            Resource::Function { .. } => &[Alter, Drop, Authorize, Execute],
            Resource::AllMbeans | Resource::Mbean(_) => {
                &[Select, Modify, Authorize, Describe, Execute]
            }
        };
        set.iter().copied().collect()
    }

    /// The resource one level up, if any.
    pub fn parent(&self) -> Option<Resource> {
        match self {
            Resource::Keyspace(_) => Some(Resource::AllKeyspaces),
            Resource::Table(ks, _) => Some(Resource::Keyspace(ks.clone())),
            Resource::Role(_) => Some(Resource::AllRoles),
            Resource::FunctionsIn(_) => Some(Resource::AllFunctions),
            Resource::Function { keyspace, .. } => Some(Resource::FunctionsIn(keyspace.clone())),
            Resource::Mbean(_) => Some(Resource::AllMbeans),
            Resource::AllKeyspaces
            | Resource::AllRoles
            | Resource::AllFunctions
            | Resource::AllMbeans => None,
        }
    }

    /// This resource and every one above it, nearest first.
    pub fn chain(&self) -> Vec<Resource> {
        let mut out = vec![self.clone()];
        while let Some(p) = out.last().and_then(Resource::parent) {
            out.push(p);
        }
        out
    }

    /// The keyspace of a keyspace or table resource.
    pub fn keyspace(&self) -> Option<&str> {
        match self {
            Resource::Keyspace(ks) | Resource::Table(ks, _) => Some(ks),
            _ => None,
        }
    }

    /// The stable name, the key in `system_auth.role_permissions`.
    pub fn name(&self) -> String {
        match self {
            Resource::AllKeyspaces => "data".into(),
            Resource::Keyspace(ks) => format!("data/{ks}"),
            Resource::Table(ks, t) => format!("data/{ks}/{t}"),
            Resource::AllRoles => "roles".into(),
            Resource::Role(r) => format!("roles/{r}"),
            Resource::AllFunctions => "functions".into(),
            Resource::FunctionsIn(ks) => format!("functions/{ks}"),
            Resource::Function {
                keyspace,
                name,
                args,
            } => format!("functions/{keyspace}/{name}[{}]", args.join("^")),
            Resource::AllMbeans => "mbean".into(),
            Resource::Mbean(m) => format!("mbean/{m}"),
        }
    }

    /// Parses a stored name (the inverse of [`Resource::name`]).
    pub fn from_name(name: &str) -> Option<Resource> {
        let (kind, rest) = match name.split_once('/') {
            Some((k, r)) => (k, Some(r)),
            None => (name, None),
        };
        Some(match (kind, rest) {
            ("data", None) => Resource::AllKeyspaces,
            ("data", Some(r)) => match r.split_once('/') {
                None if !r.is_empty() => Resource::Keyspace(r.into()),
                Some((ks, t)) if !ks.is_empty() && !t.is_empty() && !t.contains('/') => {
                    Resource::Table(ks.into(), t.into())
                }
                _ => return None,
            },
            ("roles", None) => Resource::AllRoles,
            ("roles", Some(r)) => Resource::Role(r.into()),
            ("functions", None) => Resource::AllFunctions,
            ("functions", Some(r)) => match r.split_once('/') {
                None if !r.is_empty() => Resource::FunctionsIn(r.into()),
                Some((ks, f)) => {
                    let (name, args) = f.strip_suffix(']')?.split_once('[')?;
                    Resource::Function {
                        keyspace: ks.into(),
                        name: name.into(),
                        args: if args.is_empty() {
                            Vec::new()
                        } else {
                            args.split('^').map(String::from).collect()
                        },
                    }
                }
                _ => return None,
            },
            ("mbean", None) => Resource::AllMbeans,
            ("mbean", Some(m)) => Resource::Mbean(m.into()),
            _ => return None,
        })
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::AllKeyspaces => write!(f, "<all keyspaces>"),
            Resource::Keyspace(ks) => write!(f, "<keyspace {ks}>"),
            Resource::Table(ks, t) => write!(f, "<table {ks}.{t}>"),
            Resource::AllRoles => write!(f, "<all roles>"),
            Resource::Role(r) => write!(f, "<role {r}>"),
            Resource::AllFunctions => write!(f, "<all functions>"),
            Resource::FunctionsIn(ks) => write!(f, "<all functions in {ks}>"),
            Resource::Function {
                keyspace,
                name,
                args,
            } => write!(f, "<function {keyspace}.{name}({})>", args.join(", ")),
            Resource::AllMbeans => write!(f, "<all mbeans>"),
            Resource::Mbean(m) => write!(f, "<mbean {m}>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_display_as_cassandra() {
        let all = [
            (Resource::AllKeyspaces, "data", "<all keyspaces>"),
            (Resource::Keyspace("ks".into()), "data/ks", "<keyspace ks>"),
            (
                Resource::Table("ks".into(), "t".into()),
                "data/ks/t",
                "<table ks.t>",
            ),
            (Resource::AllRoles, "roles", "<all roles>"),
            (Resource::Role("bob".into()), "roles/bob", "<role bob>"),
            (Resource::AllFunctions, "functions", "<all functions>"),
            (
                Resource::FunctionsIn("ks".into()),
                "functions/ks",
                "<all functions in ks>",
            ),
            (
                Resource::Function {
                    keyspace: "ks".into(),
                    name: "f".into(),
                    args: vec!["int".into(), "text".into()],
                },
                "functions/ks/f[int^text]",
                "<function ks.f(int, text)>",
            ),
            (Resource::AllMbeans, "mbean", "<all mbeans>"),
            (
                Resource::Mbean("a:b=c".into()),
                "mbean/a:b=c",
                "<mbean a:b=c>",
            ),
        ];
        for (r, name, shown) in all {
            assert_eq!(r.name(), name);
            assert_eq!(r.to_string(), shown);
            assert_eq!(Resource::from_name(name), Some(r));
        }
        for bad in ["", "data/", "data/a/b/c", "nope/x", "functions/ks/f"] {
            assert_eq!(Resource::from_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn chains_and_applicable_permissions() {
        let t = Resource::Table("ks".into(), "t".into());
        assert_eq!(
            t.chain(),
            vec![
                t.clone(),
                Resource::Keyspace("ks".into()),
                Resource::AllKeyspaces
            ]
        );
        let names = |r: &Resource| {
            r.applicable()
                .iter()
                .map(Permission::name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&t),
            ["ALTER", "DROP", "SELECT", "MODIFY", "AUTHORIZE"]
        );
        assert_eq!(
            names(&Resource::AllRoles),
            ["CREATE", "ALTER", "DROP", "AUTHORIZE", "DESCRIBE"]
        );
        assert!(
            !Resource::Role("r".into())
                .applicable()
                .contains(Permission::Create)
        );
        assert_eq!(Permission::from_name("select"), Some(Permission::Select));
        assert_eq!(Permissions::all().len(), 8);
    }
}
