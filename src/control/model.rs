//! Services, their node layouts, and the shapes of create and update requests.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A value the model refuses: a service or project name, a `user_config`, a
/// link setting. The API answers it as a bad request (`ControlError` converts it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

/// The only service type ccrsim runs.
pub const CASSANDRA: &str = "cassandra";
/// The datacenter a service gets when `cassandra.datacenter` is not set (as on Aiven).
pub const DEFAULT_DATACENTER: &str = "aiven";
/// The CQL port every node listens on (one loopback address per node).
pub const CQL_PORT: u16 = 9042;
/// The role every service is created with, as on Aiven.
pub const ADMIN_USER: &str = "avnadmin";

/// A service as the store keeps it. Everything else (node layout, state) is
/// derived from these fields and from the node runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub project: String,
    pub name: String,
    pub service_type: String,
    pub plan: String,
    pub cloud: String,
    pub disk_space_mb: u64,
    /// `cassandra.datacenter`: the datacenter all of this service's nodes are in.
    pub datacenter: String,
    /// The `k` of the service's addresses `127.0.k.1 ..= 127.0.k.n`.
    pub slot: u8,
    pub powered: bool,
    pub termination_protection: bool,
    /// The pair this service belongs to, if any.
    pub pair_id: Option<i64>,
    /// `service_to_join_with` as given at creation.
    pub joined: Option<String>,
    /// The user config as the user gave it (echoed by the API).
    pub user_config: Value,
    pub admin_password: String,
    pub create_time: String,
    pub update_time: String,
}

/// One node of a service: what the node runtime starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeLayout {
    /// 1-based position in the service.
    pub index: u32,
    pub name: String,
    pub address: Ipv4Addr,
    pub cql_port: u16,
    /// The rack, named after the availability zone the node is in.
    pub rack: String,
    pub datacenter: String,
}

/// The nodes of a service: node `i` (1-based) is `{service}-{i}` at
/// `{base}.{slot}.{i}` (`127.0.{slot}.{i}` for in-process nodes), in zone `zones[(i - 1) % zones.len()]`. Derived, never
/// stored, so a plan change that adds nodes keeps the racks of the old ones.
pub fn layout(
    service: &str,
    datacenter: &str,
    base: [u8; 2],
    slot: u8,
    node_count: u32,
    zones: &[String],
) -> Vec<NodeLayout> {
    (1..=node_count)
        .map(|i| NodeLayout {
            index: i,
            name: format!("{service}-{i}"),
            address: Ipv4Addr::new(base[0], base[1], slot, i as u8),
            cql_port: CQL_PORT,
            rack: zones
                .get((i as usize - 1) % zones.len().max(1))
                .cloned()
                .unwrap_or_else(|| format!("rack{}", (i - 1) % 3 + 1)),
            datacenter: datacenter.to_string(),
        })
        .collect()
}

/// Aiven's service name rule: `^[a-z][-a-z0-9]{0,63}$`.
pub fn validate_service_name(name: &str) -> Result<(), Invalid> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 64
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "Invalid service name '{name}': use 1 to 64 characters, lowercase letters, digits and '-', starting with a letter"
        )))
    }
}

/// Project names follow the same rule as service names, up to 63 characters.
pub fn validate_project_name(name: &str) -> Result<(), Invalid> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some('a'..='z'))
        && name.len() <= 63
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Invalid(format!(
            "Invalid project name '{name}': use 1 to 63 characters, lowercase letters, digits and '-', starting with a letter"
        )))
    }
}

/// The part of a cassandra service's `user_config` that ccrsim understands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserConfig {
    pub datacenter: Option<String>,
    pub service_to_join_with: Option<String>,
}

/// The keys a cassandra `user_config` may have, as `avn -c` writes them.
pub const USER_CONFIG_KEYS: &[&str] = &["cassandra.datacenter", "service_to_join_with"];

impl UserConfig {
    /// Reads a `user_config` object, refusing keys and types ccrsim does not support.
    pub fn parse(value: &Value) -> Result<UserConfig, Invalid> {
        let bad = |msg: String| Invalid(format!("Invalid user_config: {msg}"));
        let available = USER_CONFIG_KEYS.join(", ");
        let obj = match value {
            Value::Null => return Ok(UserConfig::default()),
            Value::Object(obj) => obj,
            other => return Err(bad(format!("expected an object, got {}", json_type(other)))),
        };
        let mut config = UserConfig::default();
        for (key, value) in obj {
            match (key.as_str(), value) {
                ("service_to_join_with", Value::String(s)) => {
                    config.service_to_join_with = Some(s.clone())
                }
                ("service_to_join_with", Value::Null) => {}
                ("cassandra", Value::Object(inner)) => {
                    for (k, v) in inner {
                        match (k.as_str(), v) {
                            ("datacenter", Value::String(s)) => config.datacenter = Some(s.clone()),
                            ("datacenter", Value::Null) => {}
                            ("datacenter", other) => {
                                return Err(bad(format!(
                                    "cassandra.datacenter must be a string, got {}",
                                    json_type(other)
                                )));
                            }
                            (k, _) => {
                                return Err(bad(format!(
                                    "unknown key 'cassandra.{k}'; available options: {available}"
                                )));
                            }
                        }
                    }
                }
                ("service_to_join_with", other) | ("cassandra", other) => {
                    return Err(bad(format!(
                        "'{key}' must be {}, got {}",
                        if key == "cassandra" {
                            "an object"
                        } else {
                            "a string"
                        },
                        json_type(other)
                    )));
                }
                (k, _) => {
                    return Err(bad(format!(
                        "unknown key '{k}'; available options: {available}"
                    )));
                }
            }
        }
        Ok(config)
    }

    /// The user config as the API echoes it: only what was set.
    pub fn to_value(&self) -> Value {
        let mut obj = Map::new();
        if let Some(dc) = &self.datacenter {
            obj.insert("cassandra".into(), serde_json::json!({ "datacenter": dc }));
        }
        if let Some(target) = &self.service_to_join_with {
            obj.insert("service_to_join_with".into(), Value::String(target.clone()));
        }
        Value::Object(obj)
    }
}

pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `POST /v1/project/{p}/service`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateServiceRequest {
    pub service_name: String,
    pub service_type: String,
    pub plan: String,
    #[serde(default)]
    pub cloud: Option<String>,
    #[serde(default)]
    pub disk_space_mb: Option<u64>,
    #[serde(default)]
    pub user_config: Value,
    #[serde(default)]
    pub termination_protection: Option<bool>,
    // Accepted because avn and Aiven's examples send them; ccrsim has no use for them.
    #[serde(default)]
    pub project_vpc_id: Option<Value>,
    #[serde(default)]
    pub service_integrations: Option<Value>,
    #[serde(default)]
    pub static_ips: Option<Value>,
    #[serde(default)]
    pub tags: Option<Value>,
    #[serde(default)]
    pub copy_tags: Option<Value>,
    #[serde(default)]
    pub group_name: Option<Value>,
    #[serde(default)]
    pub maintenance: Option<Value>,
    #[serde(default)]
    pub tech_emails: Option<Value>,
}

/// `PUT /v1/project/{p}/service/{s}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateServiceRequest {
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub cloud: Option<String>,
    #[serde(default)]
    pub disk_space_mb: Option<u64>,
    #[serde(default)]
    pub user_config: Option<Value>,
    #[serde(default)]
    pub powered: Option<bool>,
    #[serde(default)]
    pub termination_protection: Option<bool>,
    #[serde(default)]
    pub karapace: Option<Value>,
    #[serde(default)]
    pub maintenance: Option<Value>,
    #[serde(default)]
    pub project_vpc_id: Option<Value>,
    #[serde(default)]
    pub group_name: Option<Value>,
    #[serde(default)]
    pub tech_emails: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn layout_spreads_nodes_over_three_zones() {
        let zones: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let nodes = layout("svc", "dc1", [127, 0], 2, 6, &zones);
        let racks: Vec<_> = nodes.iter().map(|n| n.rack.as_str()).collect();
        assert_eq!(racks, ["a", "b", "c", "a", "b", "c"]);
        assert_eq!(nodes[0].address, Ipv4Addr::new(127, 0, 2, 1));
        assert_eq!(nodes[5].address, Ipv4Addr::new(127, 0, 2, 6));
        assert_eq!(nodes[5].name, "svc-6");
    }

    #[test]
    fn service_names_follow_aivens_pattern() {
        for ok in ["a", "svc-1", "ccr-eu", &"a".repeat(64)] {
            assert!(validate_service_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1svc", "Svc", "svc_1", "-a", &"a".repeat(65), "sv c"] {
            assert!(validate_service_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn user_config_refuses_unknown_keys_and_wrong_types() {
        let ok = UserConfig::parse(
            &json!({"cassandra": {"datacenter": "dc2"}, "service_to_join_with": "svc1"}),
        )
        .unwrap();
        assert_eq!(ok.datacenter.as_deref(), Some("dc2"));
        assert_eq!(ok.service_to_join_with.as_deref(), Some("svc1"));
        assert_eq!(
            ok.to_value(),
            json!({"cassandra": {"datacenter": "dc2"}, "service_to_join_with": "svc1"})
        );
        let err = UserConfig::parse(&json!({"ip_filter": []}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unknown key 'ip_filter'") && err.contains("cassandra.datacenter"),
            "{err}"
        );
        let err = UserConfig::parse(&json!({"cassandra": {"datacenter": 5}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("must be a string"), "{err}");
        assert!(UserConfig::parse(&json!("x")).is_err());
        assert_eq!(
            UserConfig::parse(&Value::Null).unwrap(),
            UserConfig::default()
        );
    }
}

/// The simulated network link between the two datacenters of a pair.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LinkSettings {
    /// One-way delay.
    pub latency_ms: f64,
    /// Each message's delay varies by up to this much either way.
    pub jitter_ms: f64,
    /// Share of messages lost, in percent.
    pub loss_percent: f64,
    /// The two datacenters cannot reach each other.
    pub down: bool,
    /// Seeds the random delays and losses, so that a run can be replayed.
    pub seed: u64,
    /// Whether the latency is still the default derived from the clouds.
    pub from_clouds: bool,
}

impl LinkSettings {
    /// The default link: the clouds' one-way delay, nothing else.
    pub fn from_clouds(latency_ms: f64, seed: u64) -> LinkSettings {
        LinkSettings {
            latency_ms,
            jitter_ms: 0.0,
            loss_percent: 0.0,
            down: false,
            seed,
            from_clouds: true,
        }
    }

    /// Checks the values a user may set.
    pub fn validate(&self) -> Result<(), Invalid> {
        if !(0.0..=10_000.0).contains(&self.latency_ms) {
            return Err(Invalid(format!(
                "Invalid latency {} ms: use 0 to 10000 ms",
                self.latency_ms
            )));
        }
        if !(0.0..=self.latency_ms.max(0.0)).contains(&self.jitter_ms) {
            return Err(Invalid(format!(
                "Invalid jitter {} ms: use 0 up to the latency ({} ms)",
                self.jitter_ms, self.latency_ms
            )));
        }
        if !(0.0..=100.0).contains(&self.loss_percent) {
            return Err(Invalid(format!(
                "Invalid loss {}%: use 0 to 100",
                self.loss_percent
            )));
        }
        Ok(())
    }
}
