//! `-c KEY=VALUE` options, read as `avn` reads them: dotted keys become
//! nested objects, and each value is converted to the type the service
//! type's `user_config_schema` declares for that key.

use serde_json::{Map, Value};

use crate::cli::error::CliError;

/// Builds a `user_config` object from `-c` options, checked against `schema`
/// (without a schema, values stay strings and the API judges them).
pub fn parse(options: &[String], schema: Option<&Value>) -> Result<Value, CliError> {
    let mut config = Value::Object(Map::new());
    for option in options {
        let (key, raw) = option.split_once('=').ok_or_else(|| {
            CliError::Usage(format!("Invalid -c option '{option}': use KEY=VALUE"))
        })?;
        let value = match schema {
            Some(schema) => {
                let prop = lookup(schema, key).ok_or_else(|| {
                    CliError::Usage(format!(
                        "Invalid user_config key '{key}'; available options: {}",
                        available(schema).join(", ")
                    ))
                })?;
                convert(key, raw, prop)?
            }
            None => Value::String(raw.to_string()),
        };
        let parts: Vec<&str> = key.split('.').collect();
        let conflict = || {
            CliError::Usage(format!(
                "Invalid -c option '{option}': '{key}' conflicts with another -c option"
            ))
        };
        let mut obj = config.as_object_mut().expect("config is an object");
        for part in &parts[..parts.len() - 1] {
            obj = obj
                .entry(part.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or_else(conflict)?;
        }
        obj.insert(parts[parts.len() - 1].to_string(), value);
    }
    Ok(config)
}

/// The schema of a dotted key, if the schema declares it.
fn lookup<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    let mut node = schema;
    for part in key.split('.') {
        node = node.get("properties")?.get(part)?;
    }
    Some(node)
}

/// Every settable (non-object) key, dotted.
fn available(schema: &Value) -> Vec<String> {
    fn walk(prefix: &str, node: &Value, out: &mut Vec<String>) {
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                if v.get("properties").is_some() {
                    walk(&key, v, out);
                } else {
                    out.push(key);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk("", schema, &mut out);
    out.sort();
    out
}

fn types(prop: &Value) -> Vec<&str> {
    match prop.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec!["string"],
    }
}

fn convert(key: &str, raw: &str, prop: &Value) -> Result<Value, CliError> {
    let types = types(prop);
    let bad =
        |what: &str| CliError::Usage(format!("Invalid value for '{key}': '{raw}' is not {what}"));
    if types.contains(&"null") && raw.is_empty() {
        return Ok(Value::Null);
    }
    if types.contains(&"object") {
        return Err(CliError::Usage(format!(
            "'{key}' is an object; set one of its keys instead ({key}.NAME=VALUE)"
        )));
    }
    if types.contains(&"boolean") {
        return match raw {
            "1" | "true" => Ok(Value::Bool(true)),
            "0" | "false" => Ok(Value::Bool(false)),
            _ => Err(bad("a boolean (1, 0, true, false)")),
        };
    }
    if types.contains(&"integer") {
        return parse_int(raw)
            .map(Value::from)
            .ok_or_else(|| bad("an integer"));
    }
    if types.contains(&"number") {
        return raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("a number"));
    }
    if types.contains(&"array") {
        return Ok(Value::Array(
            raw.split(',')
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ));
    }
    Ok(Value::String(raw.to_string()))
}

/// Integers as Python's `int(v, 0)` reads them: decimal, `0x`, `0o`, `0b`.
fn parse_int(raw: &str) -> Option<i64> {
    let (neg, digits) = match raw.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, raw.strip_prefix('+').unwrap_or(raw)),
    };
    let lower = digits.to_ascii_lowercase();
    let v = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"properties": {
            "cassandra": {"type": "object", "properties": {"datacenter": {"type": "string"}, "n": {"type": ["integer", "null"]}}},
            "service_to_join_with": {"type": "string"},
            "flag": {"type": "boolean"}
        }})
    }

    fn opts(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dotted_keys_nest_and_values_are_typed() {
        let v = parse(
            &opts(&[
                "cassandra.datacenter=dc2",
                "service_to_join_with=svc1",
                "cassandra.n=0x10",
                "flag=true",
            ]),
            Some(&schema()),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"cassandra": {"datacenter": "dc2", "n": 16}, "service_to_join_with": "svc1", "flag": true})
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let e = parse(&opts(&["cassandra.dc=x"]), Some(&schema()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "available options: cassandra.datacenter, cassandra.n, flag, service_to_join_with"
            ),
            "{e}"
        );
        assert!(parse(&opts(&["flag=yes"]), Some(&schema())).is_err());
        assert!(parse(&opts(&["cassandra.n=ten"]), Some(&schema())).is_err());
        assert!(parse(&opts(&["nokey"]), Some(&schema())).is_err());
        assert!(parse(&opts(&["cassandra=x"]), Some(&schema())).is_err());
        assert!(parse(&opts(&["a=x", "a.b=y"]), None).is_err());
        assert_eq!(
            parse(&opts(&["a.b=1"]), None).unwrap(),
            json!({"a": {"b": "1"}})
        );
    }
}
