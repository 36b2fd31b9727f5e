//! Statements about roles and permissions (Cassandra's DCL): CREATE,
//! ALTER, DROP and LIST ROLES (and their USER forms), GRANT and REVOKE of
//! roles and of permissions, and LIST PERMISSIONS, as Cassandra 4.1's
//! grammar has them.

use crate::node::auth::resource::{Permission, Resource};
use crate::node::cql::parser::*;

impl Parser<'_> {
    pub(super) fn role_name(&mut self) -> R<String> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.advance();
                Ok(s)
            }
            _ => self.ident(),
        }
    }

    pub(super) fn role_options(&mut self) -> R<RoleOptions> {
        let mut o = RoleOptions::default();
        if !self.eat_kw("with") {
            return Ok(o);
        }
        loop {
            let Tok::Ident(w) = self.advance() else {
                return Err(self.no_viable());
            };
            match w.as_str() {
                "password" => {
                    self.expect_sym("=")?;
                    match self.advance() {
                        Tok::Str(s) => o.password = Some(s),
                        _ => return Err(self.unexpected("a string")),
                    }
                }
                "login" | "superuser" => {
                    self.expect_sym("=")?;
                    let b = match self.advance() {
                        Tok::Ident(b) if b == "true" || b == "false" => b == "true",
                        _ => return Err(self.unexpected("true or false")),
                    };
                    if w == "login" {
                        o.login = Some(b);
                    } else {
                        o.superuser = Some(b);
                    }
                }
                "options" => {
                    self.skip_rest();
                    return Err(CqlError::Invalid(
                        "Role OPTIONS are not supported by PasswordAuthenticator".into(),
                    ));
                }
                "access" | "hashed" => {
                    self.skip_rest();
                    return Err(CqlError::Invalid(format!(
                        "Role option {} is not supported by ccrsim",
                        w.to_ascii_uppercase()
                    )));
                }
                _ => {
                    return Err(CqlError::Syntax(format!(
                        "line {}:{} no viable alternative at input '{w}'",
                        self.here().0,
                        self.here().1
                    )));
                }
            }
            if !self.eat_kw("and") {
                return Ok(o);
            }
        }
    }

    /// `CREATE/ALTER USER name [WITH PASSWORD 'p'] [SUPERUSER | NOSUPERUSER]`.
    pub(super) fn user_options(&mut self) -> R<RoleOptions> {
        let mut o = RoleOptions {
            login: Some(true),
            ..Default::default()
        };
        if self.eat_kw("with") {
            self.expect_kw("password")?;
            match self.advance() {
                Tok::Str(s) => o.password = Some(s),
                _ => return Err(self.unexpected("a string")),
            }
        }
        if self.eat_kw("superuser") {
            o.superuser = Some(true);
        } else if self.eat_kw("nosuperuser") {
            o.superuser = Some(false);
        }
        Ok(o)
    }

    /// `LIST ROLES|USERS ...` or `LIST permission|ALL [ON resource] [OF role] [NORECURSIVE]`.
    pub(super) fn list(&mut self) -> R<Statement> {
        self.expect_kw("list")?;
        if self.eat_kw("roles") || self.eat_kw("users") {
            let of = if self.eat_kw("of") {
                Some(self.role_name()?)
            } else {
                None
            };
            let recursive = !self.eat_kw("norecursive");
            return Ok(Statement::ListRoles { of, recursive });
        }
        let permissions = self.permissions()?;
        let resource = if self.eat_kw("on") {
            Some(self.resource()?)
        } else {
            None
        };
        let of = if self.eat_kw("of") {
            Some(self.role_name()?)
        } else {
            None
        };
        let recursive = !self.eat_kw("norecursive");
        Ok(Statement::ListPermissions {
            permissions,
            resource,
            of,
            recursive,
        })
    }

    /// `GRANT permission ON resource TO role`, `GRANT role TO role`, and
    /// the same with `REVOKE ... FROM`.
    pub(super) fn grant_or_revoke(&mut self) -> R<Statement> {
        let grant = self.eat_kw("grant");
        if !grant {
            self.expect_kw("revoke")?;
        }
        let to = if grant { "to" } else { "from" };
        if self.at_permissions() {
            let (permissions, resource) = self.permissions_on()?;
            self.expect_kw(to)?;
            let role = self.role_name()?;
            return Ok(if grant {
                Statement::GrantPermissions {
                    permissions,
                    resource,
                    grantee: role,
                }
            } else {
                Statement::RevokePermissions {
                    permissions,
                    resource,
                    revokee: role,
                }
            });
        }
        let role = self.role_name()?;
        self.expect_kw(to)?;
        let other = self.role_name()?;
        Ok(if grant {
            Statement::GrantRole {
                role,
                grantee: other,
            }
        } else {
            Statement::RevokeRole {
                role,
                revokee: other,
            }
        })
    }

    /// Whether a permission (or `ALL [PERMISSIONS]`) starts here, rather than a role name.
    fn at_permissions(&self) -> bool {
        match self.peek() {
            Tok::Ident(w) if w == "all" => {
                self.is_kw_at(1, "permissions") || self.is_kw_at(1, "on")
            }
            Tok::Ident(w) => Permission::from_name(w).is_some(),
            _ => false,
        }
    }

    /// `permission [PERMISSION]` or `ALL [PERMISSIONS]`.
    fn permissions(&mut self) -> R<PermissionSpec> {
        if self.eat_kw("all") {
            self.eat_kw("permissions");
            return Ok(PermissionSpec::All);
        }
        let p = match self.peek() {
            Tok::Ident(w) => Permission::from_name(w),
            _ => None,
        };
        let Some(p) = p else {
            return Err(self.no_viable());
        };
        self.advance();
        self.eat_kw("permission");
        Ok(PermissionSpec::One(p))
    }

    /// `permissions ON resource`, refusing a permission the resource does
    /// not take as Cassandra's grammar does.
    fn permissions_on(&mut self) -> R<(PermissionSpec, ResourceName)> {
        let permissions = self.permissions()?;
        self.expect_kw("on")?;
        let resource = self.resource()?;
        if let PermissionSpec::One(p) = permissions {
            let kind = shape(&resource);
            if !kind.applicable().contains(p) {
                return Err(CqlError::Syntax(format!(
                    "Resource type {} does not support any of the requested permissions",
                    kind.kind()
                )));
            }
        }
        Ok((permissions, resource))
    }

    fn resource(&mut self) -> R<ResourceName> {
        if self.eat_kw("all") {
            return if self.eat_kw("keyspaces") {
                Ok(ResourceName::AllKeyspaces)
            } else if self.eat_kw("roles") {
                Ok(ResourceName::AllRoles)
            } else if self.eat_kw("mbeans") {
                Ok(ResourceName::AllMbeans)
            } else if self.eat_kw("functions") {
                if self.eat_kw("in") {
                    self.expect_kw("keyspace")?;
                    Ok(ResourceName::FunctionsIn(self.ident()?))
                } else {
                    Ok(ResourceName::AllFunctions)
                }
            } else {
                Err(self.no_viable())
            };
        }
        if self.eat_kw("keyspace") {
            return Ok(ResourceName::Keyspace(self.ident()?));
        }
        let named = |p: &Self| {
            !matches!(p.peek_at(1), Tok::Eof | Tok::Sym(_))
                && !p.is_kw_at(1, "to")
                && !p.is_kw_at(1, "from")
                && !p.is_kw_at(1, "of")
                && !p.is_kw_at(1, "norecursive")
        };
        if self.is_kw("role") && named(self) {
            self.advance();
            return Ok(ResourceName::Role(self.role_name()?));
        }
        if (self.is_kw("mbean") || self.is_kw("mbeans")) && matches!(self.peek_at(1), Tok::Str(_)) {
            self.advance();
            let Tok::Str(name) = self.advance() else {
                return Err(self.unexpected("an MBean name"));
            };
            return Ok(ResourceName::Mbean(name));
        }
        if self.is_kw("function") && named(self) {
            self.advance();
            let name = self.qname()?;
            self.expect_sym("(")?;
            let mut args = Vec::new();
            if !self.is_sym(")") {
                args.push(self.type_text()?);
                while self.eat_sym(",") {
                    args.push(self.type_text()?);
                }
            }
            self.expect_sym(")")?;
            return Ok(ResourceName::Function { name, args });
        }
        let _ = self.eat_kw("table") || self.eat_kw("columnfamily");
        Ok(ResourceName::Table(self.qname()?))
    }
}

/// A resource of the same kind as `r` (the names do not matter), to ask
/// which permissions the kind takes.
fn shape(r: &ResourceName) -> Resource {
    let n = String::new;
    match r {
        ResourceName::AllKeyspaces => Resource::AllKeyspaces,
        ResourceName::Keyspace(_) => Resource::Keyspace(n()),
        ResourceName::Table(_) => Resource::Table(n(), n()),
        ResourceName::AllRoles => Resource::AllRoles,
        ResourceName::Role(_) => Resource::Role(n()),
        ResourceName::AllFunctions => Resource::AllFunctions,
        ResourceName::FunctionsIn(_) => Resource::FunctionsIn(n()),
        ResourceName::Function { .. } => Resource::Function {
            keyspace: n(),
            name: n(),
            args: Vec::new(),
        },
        ResourceName::AllMbeans => Resource::AllMbeans,
        ResourceName::Mbean(_) => Resource::Mbean(n()),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn grants_revokes_and_lists() {
        let p = |q: &str| parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
        assert_eq!(
            p("GRANT SELECT ON ks.t TO bob"),
            Statement::GrantPermissions {
                permissions: PermissionSpec::One(Permission::Select),
                resource: ResourceName::Table(QualifiedName {
                    keyspace: Some("ks".into()),
                    name: "t".into()
                }),
                grantee: "bob".into()
            }
        );
        assert_eq!(
            p("GRANT ALL PERMISSIONS ON ALL KEYSPACES TO 'Bob'"),
            Statement::GrantPermissions {
                permissions: PermissionSpec::All,
                resource: ResourceName::AllKeyspaces,
                grantee: "Bob".into()
            }
        );
        assert_eq!(
            p("revoke modify permission on keyspace shop from app"),
            Statement::RevokePermissions {
                permissions: PermissionSpec::One(Permission::Modify),
                resource: ResourceName::Keyspace("shop".into()),
                revokee: "app".into()
            }
        );
        assert_eq!(
            p("GRANT manager TO alice"),
            Statement::GrantRole {
                role: "manager".into(),
                grantee: "alice".into()
            }
        );
        assert_eq!(
            p("REVOKE manager FROM alice;"),
            Statement::RevokeRole {
                role: "manager".into(),
                revokee: "alice".into()
            }
        );
        assert_eq!(
            p("LIST ALL PERMISSIONS ON TABLE ks.t OF bob NORECURSIVE"),
            Statement::ListPermissions {
                permissions: PermissionSpec::All,
                resource: Some(ResourceName::Table(QualifiedName {
                    keyspace: Some("ks".into()),
                    name: "t".into()
                })),
                of: Some("bob".into()),
                recursive: false
            }
        );
        assert_eq!(
            p("LIST ALL"),
            Statement::ListPermissions {
                permissions: PermissionSpec::All,
                resource: None,
                of: None,
                recursive: true
            }
        );
        assert_eq!(
            p("LIST ROLES OF bob NORECURSIVE"),
            Statement::ListRoles {
                of: Some("bob".into()),
                recursive: false
            }
        );
        for (q, r) in [
            ("GRANT DESCRIBE ON ALL ROLES TO r", ResourceName::AllRoles),
            (
                "GRANT ALTER ON ROLE bob TO r",
                ResourceName::Role("bob".into()),
            ),
            (
                "GRANT EXECUTE ON ALL FUNCTIONS TO r",
                ResourceName::AllFunctions,
            ),
            (
                "GRANT EXECUTE ON ALL FUNCTIONS IN KEYSPACE ks TO r",
                ResourceName::FunctionsIn("ks".into()),
            ),
            (
                "GRANT EXECUTE ON FUNCTION ks.f(int, frozen<list<text>>) TO r",
                ResourceName::Function {
                    name: QualifiedName {
                        keyspace: Some("ks".into()),
                        name: "f".into(),
                    },
                    args: vec!["int".into(), "frozen<list<text>>".into()],
                },
            ),
            ("GRANT SELECT ON ALL MBEANS TO r", ResourceName::AllMbeans),
            (
                "GRANT SELECT ON MBEAN 'org.apache.cassandra.db:type=Tables' TO r",
                ResourceName::Mbean("org.apache.cassandra.db:type=Tables".into()),
            ),
        ] {
            match p(q) {
                Statement::GrantPermissions { resource, .. } => assert_eq!(resource, r, "{q}"),
                other => panic!("{q}: {other:?}"),
            }
        }
    }

    #[test]
    fn permissions_a_resource_does_not_take_are_syntax_errors() {
        for (q, kind) in [
            ("GRANT DESCRIBE ON TABLE ks.t TO r", "DataResource"),
            ("GRANT CREATE ON ROLE bob TO r", "RoleResource"),
            ("GRANT SELECT ON ALL FUNCTIONS TO r", "FunctionResource"),
        ] {
            assert_eq!(
                parse(q),
                Err(CqlError::Syntax(format!(
                    "Resource type {kind} does not support any of the requested permissions"
                ))),
                "{q}"
            );
        }
        assert!(matches!(
            parse("GRANT ON ks TO r"),
            Err(CqlError::Syntax(_))
        ));
        assert!(matches!(
            parse("GRANT SELECT ks.t TO r"),
            Err(CqlError::Syntax(_))
        ));
    }
}
