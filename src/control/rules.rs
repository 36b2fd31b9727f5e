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
