//! The CCR rules, as pure functions.
//!
//! Aiven lists seven limitations for cross-cluster replication; ccrsim adds the
//! ones a user of a real pair runs into (the join target must exist, be a
//! Cassandra service, not already be paired, and have another datacenter
//! name). Each refusal is a [`RuleViolation`] that names its [`Rule`], so the
//! message a user sees says which rule they broke, and the store checks the
//! rules inside the transaction that would write, so a refusal writes nothing.

use std::fmt;

use super::catalog::Catalog;
use super::model::{CASSANDRA, Service};

/// A rule about CCR pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `service_to_join_with` must name an existing service of the same project.
    JoinTargetExists,
    /// Only `cassandra` services form pairs.
    CassandraOnly,
    /// A pair is two services: a service already in a pair cannot be joined.
    PairOfTwo,
    /// Aiven limitation 3: the plan must allow cross-cluster replication.
    PlanAllowsCcr,
    /// Aiven limitation 3: both services use the same plan and disk size.
    SamePlanAndDisk,
    /// The two datacenters of a pair have different names.
    UniqueDatacenter,
    /// A datacenter name Cassandra and Aiven accept.
    ValidDatacenter,
    /// Aiven limitation 1: two existing services cannot be connected.
    NoPairingExisting,
    /// Aiven limitation 6: a split pair is never reconnected.
    SplitIsFinal,
    /// Aiven limitation 7: `cassandra.datacenter` and `service_to_join_with` are set at creation only.
    SetAtCreationOnly,
    /// Aiven limitation 2: an existing service that holds keyspaces needs one
    /// with NetworkTopologyStrategy before a peer joins it.
    ExistingNeedsNts,
}

impl Rule {
    pub const ALL: [Rule; 11] = [
        Rule::JoinTargetExists,
        Rule::CassandraOnly,
        Rule::PairOfTwo,
        Rule::PlanAllowsCcr,
        Rule::SamePlanAndDisk,
        Rule::UniqueDatacenter,
        Rule::ValidDatacenter,
        Rule::NoPairingExisting,
        Rule::SplitIsFinal,
        Rule::SetAtCreationOnly,
        Rule::ExistingNeedsNts,
    ];

    /// The rule's short name, as messages and the README show it.
    pub fn slug(self) -> &'static str {
        match self {
            Rule::JoinTargetExists => "join-target-exists",
            Rule::CassandraOnly => "cassandra-only",
            Rule::PairOfTwo => "pair-of-two",
            Rule::PlanAllowsCcr => "plan-allows-ccr",
            Rule::SamePlanAndDisk => "same-plan-and-disk",
            Rule::UniqueDatacenter => "unique-datacenter",
            Rule::ValidDatacenter => "valid-datacenter",
            Rule::NoPairingExisting => "no-pairing-existing",
            Rule::SplitIsFinal => "split-is-final",
            Rule::SetAtCreationOnly => "set-at-creation-only",
            Rule::ExistingNeedsNts => "existing-needs-nts",
        }
    }

    /// The number of the limitation in Aiven's CCR documentation, if it is one of them.
    pub fn aiven_limitation(self) -> Option<u8> {
        match self {
            Rule::NoPairingExisting => Some(1),
            Rule::ExistingNeedsNts => Some(2),
            Rule::PlanAllowsCcr | Rule::SamePlanAndDisk => Some(3),
            Rule::SplitIsFinal => Some(6),
            Rule::SetAtCreationOnly => Some(7),
            _ => None,
        }
    }

    /// The rule in one sentence.
    pub fn summary(self) -> &'static str {
        match self {
            Rule::JoinTargetExists => {
                "service_to_join_with must name an existing service in the same project"
            }
            Rule::CassandraOnly => "only cassandra services can form a CCR pair",
            Rule::PairOfTwo => "a CCR pair is exactly two services",
            Rule::PlanAllowsCcr => "the plan must allow cross-cluster replication",
            Rule::SamePlanAndDisk => "both services of a pair use the same plan and disk size",
            Rule::UniqueDatacenter => {
                "the two services of a pair need different cassandra.datacenter names"
            }
            Rule::ValidDatacenter => {
                "cassandra.datacenter is 1 to 128 characters: letters, digits, '-', '_' and '.', starting with a letter or digit"
            }
            Rule::NoPairingExisting => {
                "two existing services cannot be connected; only a new service can join an existing one"
            }
            Rule::SplitIsFinal => "services of a split pair can never be reconnected",
            Rule::SetAtCreationOnly => {
                "cassandra.datacenter and service_to_join_with can be set only when the service is created"
            }
            Rule::ExistingNeedsNts => {
                "an existing service with keyspaces needs one using NetworkTopologyStrategy before a service joins it"
            }
        }
    }
}

/// A refused request: which rule, and what about this request broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    pub rule: Rule,
    pub detail: String,
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (CCR rule {}", self.detail, self.rule.slug())?;
        if let Some(n) = self.rule.aiven_limitation() {
            write!(f, ", Aiven limitation {n}")?;
        }
        write!(f, ": {})", self.rule.summary())
    }
}

impl std::error::Error for RuleViolation {}

fn refuse(rule: Rule, detail: impl Into<String>) -> Result<(), RuleViolation> {
    Err(RuleViolation {
        rule,
        detail: detail.into(),
    })
}

/// Checks a datacenter name: Aiven allows up to 128 characters; ccrsim
/// keeps to the characters a datacenter name needs, so that it can be used
/// unquoted in nodetool commands and in container names.
pub fn check_datacenter_name(name: &str) -> Result<(), RuleViolation> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        refuse(
            Rule::ValidDatacenter,
            format!("Invalid datacenter name '{}'", name.escape_debug()),
        )
    }
}

/// What the rules need to know about the service being created.
#[derive(Debug, Clone)]
pub struct JoinRequest<'a> {
    pub name: &'a str,
    pub service_type: &'a str,
    pub plan: &'a str,
    pub disk_space_mb: u64,
    pub datacenter: &'a str,
    /// The name given in `service_to_join_with`.
    pub target: &'a str,
}

/// What the store found about the join target.
#[derive(Debug, Clone, Copy)]
pub struct JoinTarget<'a> {
    pub service: &'a Service,
    /// The other member of the target's pair, if it is already paired.
    pub peer: Option<&'a str>,
}

/// Aiven limitation 2, against the keyspaces the target's running nodes
/// report: a service holding user keyspaces, none of them with
/// NetworkTopologyStrategy, cannot be joined. A service with no user
/// keyspace yet (a new one) can.
pub fn check_existing_keyspaces(
    target: &str,
    keyspaces: &[crate::replication::KeyspaceInfo],
) -> Result<(), RuleViolation> {
    let user: Vec<&crate::replication::KeyspaceInfo> = keyspaces
        .iter()
        .filter(|k| !k.name.starts_with("system") && k.class != "LocalStrategy")
        .collect();
    if user.is_empty()
        || user
            .iter()
            .any(|k| k.class.ends_with("NetworkTopologyStrategy"))
    {
        return Ok(());
    }
    let names: Vec<&str> = user.iter().map(|k| k.name.as_str()).collect();
    refuse(
        Rule::ExistingNeedsNts,
        format!(
            "Cannot join '{target}': its keyspaces ({}) all use SimpleStrategy; alter one to NetworkTopologyStrategy first",
            names.join(", ")
        ),
    )
}

/// Checks a create request with `service_to_join_with` against the service it
/// names. `split_before` says whether the two names were once a pair that was split.
pub fn check_join(
    catalog: &Catalog,
    req: &JoinRequest<'_>,
    target: Option<JoinTarget<'_>>,
    split_before: bool,
    project: &str,
) -> Result<(), RuleViolation> {
    if req.service_type != CASSANDRA {
        return refuse(
            Rule::CassandraOnly,
            format!(
                "Service '{}' is of type '{}' and cannot join '{}'",
                req.name, req.service_type, req.target
            ),
        );
    }
    let Some(target) = target else {
        return refuse(
            Rule::JoinTargetExists,
            format!(
                "Cannot join '{}': project '{project}' has no such service",
                req.target
            ),
        );
    };
    let t = target.service;
    if t.service_type != CASSANDRA {
        return refuse(
            Rule::CassandraOnly,
            format!(
                "Cannot join '{}': it is a '{}' service",
                t.name, t.service_type
            ),
        );
    }
    if split_before {
        return refuse(
            Rule::SplitIsFinal,
            format!(
                "Cannot join '{}' to '{}': the two were a CCR pair that was split",
                req.name, t.name
            ),
        );
    }
    if let Some(peer) = target.peer {
        return refuse(
            Rule::PairOfTwo,
            format!(
                "Cannot join '{}': it already forms a CCR pair with '{peer}'",
                t.name
            ),
        );
    }
    for plan_name in [req.plan, t.plan.as_str()] {
        if catalog.plan(plan_name).is_some_and(|p| !p.ccr) {
            return refuse(
                Rule::PlanAllowsCcr,
                format!(
                    "Plan '{plan_name}' does not allow cross-cluster replication; plans that do: {}",
                    catalog
                        .plans
                        .iter()
                        .filter(|p| p.ccr)
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
    }
    if req.plan != t.plan {
        return refuse(
            Rule::SamePlanAndDisk,
            format!(
                "Service '{}' would use plan '{}' but '{}' uses plan '{}'",
                req.name, req.plan, t.name, t.plan
            ),
        );
    }
    if req.disk_space_mb != t.disk_space_mb {
        return refuse(
            Rule::SamePlanAndDisk,
            format!(
                "Service '{}' would have {} GiB of disk but '{}' has {} GiB",
                req.name,
                req.disk_space_mb / 1024,
                t.name,
                t.disk_space_mb / 1024
            ),
        );
    }
    if req.datacenter == t.datacenter {
        let hint = if req.datacenter == super::model::DEFAULT_DATACENTER {
            " (the default when cassandra.datacenter is not set: set it on both services, for example to the service names)"
        } else {
            ""
        };
        return refuse(
            Rule::UniqueDatacenter,
            format!(
                "Service '{}' would use datacenter '{}', which '{}' already uses{hint}",
                req.name, req.datacenter, t.name
            ),
        );
    }
    Ok(())
}

/// Checks what an update asks of the user config. `peer` is the service's
/// current pair member; `split_partners` the services it was split from.
pub fn check_user_config_update(
    service: &Service,
    new_datacenter: Option<&str>,
    new_join: Option<&str>,
    peer: Option<&str>,
    split_partners: &[String],
) -> Result<(), RuleViolation> {
    if let Some(dc) = new_datacenter
        && dc != service.datacenter
    {
        return refuse(
            Rule::SetAtCreationOnly,
            format!(
                "Cannot change cassandra.datacenter of '{}' from '{}' to '{dc}'",
                service.name, service.datacenter
            ),
        );
    }
    let Some(target) = new_join else {
        return Ok(());
    };
    if peer == Some(target) && service.joined.as_deref() == Some(target) {
        return Ok(()); // unchanged
    }
    if split_partners.iter().any(|p| p == target) {
        return refuse(
            Rule::SplitIsFinal,
            format!(
                "Cannot reconnect '{}' with '{target}': their pair was split",
                service.name
            ),
        );
    }
    if peer.is_none() {
        return refuse(
            Rule::NoPairingExisting,
            format!(
                "Cannot connect existing service '{}' with '{target}'; create a new service with service_to_join_with={target} instead",
                service.name
            ),
        );
    }
    refuse(
        Rule::SetAtCreationOnly,
        format!(
            "Cannot change service_to_join_with of '{}' to '{target}'",
            service.name
        ),
    )
}

/// A plan change on a paired service must keep a plan that allows CCR.
pub fn check_plan_change(
    catalog: &Catalog,
    service: &Service,
    new_plan: &str,
    peer: Option<&str>,
) -> Result<(), RuleViolation> {
    if let Some(peer) = peer
        && catalog.plan(new_plan).is_some_and(|p| !p.ccr)
    {
        return refuse(
            Rule::PlanAllowsCcr,
            format!(
                "Cannot move '{}' (paired with '{peer}') to plan '{new_plan}', which does not allow cross-cluster replication",
                service.name
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod limitation_two {
    use super::*;

    #[test]
    fn an_existing_service_needs_an_nts_keyspace() {
        use crate::replication::KeyspaceInfo;
        let ks = |name: &str, class: &str| KeyspaceInfo {
            name: name.into(),
            class: class.into(),
            replication: Default::default(),
        };
        let system = ks("system_auth", "SimpleStrategy");
        assert!(
            check_existing_keyspaces("a", std::slice::from_ref(&system)).is_ok(),
            "a new service"
        );
        let e = check_existing_keyspaces("a", &[system.clone(), ks("shop", "SimpleStrategy")])
            .unwrap_err();
        assert_eq!(e.rule, Rule::ExistingNeedsNts);
        assert!(e.to_string().contains("Aiven limitation 2"), "{e}");
        assert!(
            check_existing_keyspaces(
                "a",
                &[
                    ks("shop", "SimpleStrategy"),
                    ks("orders", "NetworkTopologyStrategy")
                ]
            )
            .is_ok()
        );
    }
}

/// Every rule function, each accepted and each refused case, with the exact
/// refusal: plain values in, no database and no socket.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::catalog::Plan;
    use crate::replication::KeyspaceInfo;

    /// Two CCR plans and one that is not.
    fn catalog() -> Catalog {
        let plan = |name: &str, ccr: bool| Plan {
            name: name.into(),
            node_count: 3,
            node_cpu_count: 1,
            node_memory_mb: 4096,
            disk_space_mb: 163840,
            disk_space_cap_mb: 491520,
            ccr,
        };
        Catalog {
            plans: vec![
                plan("startup-4", false),
                plan("business-4", true),
                plan("business-8", true),
            ],
            clouds: vec![],
        }
    }

    fn service(name: &str, plan: &str, disk_space_mb: u64, datacenter: &str) -> Service {
        Service {
            project: "ccrsim".into(),
            name: name.into(),
            service_type: CASSANDRA.into(),
            plan: plan.into(),
            cloud: "aws-eu-west-1".into(),
            disk_space_mb,
            datacenter: datacenter.into(),
            slot: 1,
            powered: true,
            termination_protection: false,
            pair_id: None,
            joined: None,
            user_config: serde_json::Value::Null,
            admin_password: "secret".into(),
            create_time: "2024-01-01T00:00:00Z".into(),
            update_time: "2024-01-01T00:00:00Z".into(),
        }
    }

    fn refused(rule: Rule, detail: &str) -> Result<(), RuleViolation> {
        Err(RuleViolation {
            rule,
            detail: detail.into(),
        })
    }

    #[test]
    fn a_violation_names_its_rule_and_aiven_limitation() {
        let e = RuleViolation {
            rule: Rule::SplitIsFinal,
            detail: "Cannot join 'b' to 'a'".into(),
        };
        assert_eq!(
            e.to_string(),
            "Cannot join 'b' to 'a' (CCR rule split-is-final, Aiven limitation 6: services of a split pair can never be reconnected)"
        );
        let e = RuleViolation {
            rule: Rule::PairOfTwo,
            detail: "Cannot join 'a'".into(),
        };
        assert_eq!(
            e.to_string(),
            "Cannot join 'a' (CCR rule pair-of-two: a CCR pair is exactly two services)"
        );
    }

    #[test]
    fn datacenter_names() {
        let long = "d".repeat(128);
        for ok in ["dc1", "a", "A", "9", "eu-west_1.b", long.as_str()] {
            assert_eq!(check_datacenter_name(ok), Ok(()), "{ok}");
        }
        let too_long = "d".repeat(129);
        let cases: &[(&str, String)] = &[
            ("", "Invalid datacenter name ''".into()),
            ("-dc", "Invalid datacenter name '-dc'".into()),
            ("_dc", "Invalid datacenter name '_dc'".into()),
            (".dc", "Invalid datacenter name '.dc'".into()),
            ("dc 1", "Invalid datacenter name 'dc 1'".into()),
            ("dc/1", "Invalid datacenter name 'dc/1'".into()),
            ("dc'1", "Invalid datacenter name 'dc\\'1'".into()),
            ("dc\n", "Invalid datacenter name 'dc\\n'".into()),
            ("dé", "Invalid datacenter name 'dé'".into()),
            (&too_long, format!("Invalid datacenter name '{too_long}'")),
        ];
        for (name, detail) in cases {
            assert_eq!(
                check_datacenter_name(name),
                refused(Rule::ValidDatacenter, detail),
                "{name:?}"
            );
        }
    }

    #[test]
    fn existing_keyspaces() {
        let ks = |name: &str, class: &str| KeyspaceInfo {
            name: name.into(),
            class: class.into(),
            replication: Default::default(),
        };
        let accepted: &[(&str, Vec<KeyspaceInfo>)] = &[
            ("no keyspace at all", vec![]),
            (
                "system keyspaces only",
                vec![
                    ks("system", "LocalStrategy"),
                    ks("system_auth", "SimpleStrategy"),
                    ks("system_distributed", "SimpleStrategy"),
                ],
            ),
            (
                "a user keyspace on LocalStrategy",
                vec![ks("local", "LocalStrategy")],
            ),
            (
                "one NTS keyspace among SimpleStrategy ones",
                vec![
                    ks("shop", "SimpleStrategy"),
                    ks("orders", "NetworkTopologyStrategy"),
                ],
            ),
            (
                "the class's full name",
                vec![ks(
                    "shop",
                    "org.apache.cassandra.locator.NetworkTopologyStrategy",
                )],
            ),
        ];
        for (what, keyspaces) in accepted {
            assert_eq!(check_existing_keyspaces("a", keyspaces), Ok(()), "{what}");
        }
        assert_eq!(
            check_existing_keyspaces(
                "a",
                &[
                    ks("system_auth", "SimpleStrategy"),
                    ks("shop", "SimpleStrategy"),
                    ks("orders", "org.apache.cassandra.locator.SimpleStrategy"),
                ]
            ),
            refused(
                Rule::ExistingNeedsNts,
                "Cannot join 'a': its keyspaces (shop, orders) all use SimpleStrategy; alter one to NetworkTopologyStrategy first"
            )
        );
    }

    /// A request to create `b` joining `a`, both on business-4 with 160 GiB.
    fn join_request<'a>() -> JoinRequest<'a> {
        JoinRequest {
            name: "b",
            service_type: CASSANDRA,
            plan: "business-4",
            disk_space_mb: 163840,
            datacenter: "dc2",
            target: "a",
        }
    }

    #[test]
    fn joins() {
        let catalog = catalog();
        let a = service("a", "business-4", 163840, "dc1");
        let target = |service| {
            Some(JoinTarget {
                service,
                peer: None,
            })
        };
        assert_eq!(
            check_join(&catalog, &join_request(), target(&a), false, "ccrsim"),
            Ok(())
        );
        // A plan the catalog does not know is not this rule's to refuse.
        let unknown = service("a", "custom-1", 163840, "dc1");
        let req = JoinRequest {
            plan: "custom-1",
            ..join_request()
        };
        assert_eq!(
            check_join(&catalog, &req, target(&unknown), false, "ccrsim"),
            Ok(())
        );

        let kafka = Service {
            service_type: "kafka".into(),
            ..a.clone()
        };
        let startup = service("a", "startup-4", 163840, "dc1");
        let bigger = service("a", "business-4", 327680, "dc1");
        let on_default = service("a", "business-4", 163840, "aiven");
        type Case<'a> = (
            &'a str,
            JoinRequest<'a>,
            Option<JoinTarget<'a>>,
            bool,
            Rule,
            &'a str,
        );
        let cases: Vec<Case> = vec![
            (
                "a kafka service joins",
                JoinRequest {
                    service_type: "kafka",
                    ..join_request()
                },
                None,
                false,
                Rule::CassandraOnly,
                "Service 'b' is of type 'kafka' and cannot join 'a'",
            ),
            (
                "no such target",
                join_request(),
                None,
                false,
                Rule::JoinTargetExists,
                "Cannot join 'a': project 'ccrsim' has no such service",
            ),
            (
                "a kafka target",
                join_request(),
                target(&kafka),
                false,
                Rule::CassandraOnly,
                "Cannot join 'a': it is a 'kafka' service",
            ),
            (
                "a split pair",
                join_request(),
                target(&a),
                true,
                Rule::SplitIsFinal,
                "Cannot join 'b' to 'a': the two were a CCR pair that was split",
            ),
            (
                "an already paired target",
                join_request(),
                Some(JoinTarget {
                    service: &a,
                    peer: Some("c"),
                }),
                false,
                Rule::PairOfTwo,
                "Cannot join 'a': it already forms a CCR pair with 'c'",
            ),
            (
                "the new service's plan has no CCR",
                JoinRequest {
                    plan: "startup-4",
                    ..join_request()
                },
                target(&a),
                false,
                Rule::PlanAllowsCcr,
                "Plan 'startup-4' does not allow cross-cluster replication; plans that do: business-4, business-8",
            ),
            (
                "the target's plan has no CCR",
                join_request(),
                target(&startup),
                false,
                Rule::PlanAllowsCcr,
                "Plan 'startup-4' does not allow cross-cluster replication; plans that do: business-4, business-8",
            ),
            (
                "another plan",
                JoinRequest {
                    plan: "business-8",
                    ..join_request()
                },
                target(&a),
                false,
                Rule::SamePlanAndDisk,
                "Service 'b' would use plan 'business-8' but 'a' uses plan 'business-4'",
            ),
            (
                "another disk size",
                join_request(),
                target(&bigger),
                false,
                Rule::SamePlanAndDisk,
                "Service 'b' would have 160 GiB of disk but 'a' has 320 GiB",
            ),
            (
                "the same datacenter",
                JoinRequest {
                    datacenter: "dc1",
                    ..join_request()
                },
                target(&a),
                false,
                Rule::UniqueDatacenter,
                "Service 'b' would use datacenter 'dc1', which 'a' already uses",
            ),
            (
                "both on the default datacenter",
                JoinRequest {
                    datacenter: "aiven",
                    ..join_request()
                },
                target(&on_default),
                false,
                Rule::UniqueDatacenter,
                "Service 'b' would use datacenter 'aiven', which 'a' already uses (the default when cassandra.datacenter is not set: set it on both services, for example to the service names)",
            ),
        ];
        for (what, req, target, split_before, rule, detail) in cases {
            assert_eq!(
                check_join(&catalog, &req, target, split_before, "ccrsim"),
                refused(rule, detail),
                "{what}"
            );
        }
    }

    #[test]
    fn user_config_updates() {
        let a = service("a", "business-4", 163840, "dc1");
        let joined = Service {
            joined: Some("b".into()),
            ..a.clone()
        };
        let none: &[String] = &[];
        let split = ["b".to_string()];
        type Case<'a> = (
            &'a str,
            &'a Service,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
            &'a [String],
        );
        let accepted: &[Case] = &[
            ("nothing asked", &a, None, None, None, none),
            ("the same datacenter", &a, Some("dc1"), None, None, none),
            (
                "the same datacenter, paired",
                &a,
                Some("dc1"),
                None,
                Some("b"),
                none,
            ),
            (
                "the join it was created with",
                &joined,
                None,
                Some("b"),
                Some("b"),
                none,
            ),
            (
                "both unchanged",
                &joined,
                Some("dc1"),
                Some("b"),
                Some("b"),
                none,
            ),
        ];
        for (what, service, dc, join, peer, split_partners) in accepted {
            assert_eq!(
                check_user_config_update(service, *dc, *join, *peer, split_partners),
                Ok(()),
                "{what}"
            );
        }
        let refusals: &[(Case, Rule, &str)] = &[
            (
                ("another datacenter", &a, Some("dc2"), None, None, none),
                Rule::SetAtCreationOnly,
                "Cannot change cassandra.datacenter of 'a' from 'dc1' to 'dc2'",
            ),
            (
                (
                    "another datacenter and the same join",
                    &joined,
                    Some("dc2"),
                    Some("b"),
                    Some("b"),
                    none,
                ),
                Rule::SetAtCreationOnly,
                "Cannot change cassandra.datacenter of 'a' from 'dc1' to 'dc2'",
            ),
            (
                ("a split partner", &a, None, Some("b"), None, &split),
                Rule::SplitIsFinal,
                "Cannot reconnect 'a' with 'b': their pair was split",
            ),
            (
                ("an unpaired service", &a, None, Some("b"), None, none),
                Rule::NoPairingExisting,
                "Cannot connect existing service 'a' with 'b'; create a new service with service_to_join_with=b instead",
            ),
            (
                (
                    "another service than its peer",
                    &joined,
                    None,
                    Some("c"),
                    Some("b"),
                    none,
                ),
                Rule::SetAtCreationOnly,
                "Cannot change service_to_join_with of 'a' to 'c'",
            ),
            (
                (
                    "its peer, when it was the one joined",
                    &a,
                    None,
                    Some("b"),
                    Some("b"),
                    none,
                ),
                Rule::SetAtCreationOnly,
                "Cannot change service_to_join_with of 'a' to 'b'",
            ),
        ];
        for ((what, service, dc, join, peer, split_partners), rule, detail) in refusals {
            assert_eq!(
                check_user_config_update(service, *dc, *join, *peer, split_partners),
                refused(*rule, detail),
                "{what}"
            );
        }
    }

    #[test]
    fn plan_changes() {
        let catalog = catalog();
        let a = service("a", "business-4", 163840, "dc1");
        let accepted: &[(&str, &str, Option<&str>)] = &[
            ("unpaired, to a plan without CCR", "startup-4", None),
            ("paired, to a CCR plan", "business-8", Some("b")),
            (
                "paired, to a plan the catalog does not know",
                "custom-1",
                Some("b"),
            ),
        ];
        for (what, plan, peer) in accepted {
            assert_eq!(
                check_plan_change(&catalog, &a, plan, *peer),
                Ok(()),
                "{what}"
            );
        }
        assert_eq!(
            check_plan_change(&catalog, &a, "startup-4", Some("b")),
            refused(
                Rule::PlanAllowsCcr,
                "Cannot move 'a' (paired with 'b') to plan 'startup-4', which does not allow cross-cluster replication"
            )
        );
    }
}
