//! Human output: tables in the style `avn` prints, and `--format` templates.

use std::io::Write;

use serde_json::Value;

use crate::cli::error::CliError;

/// A table: upper-case headers, a `=` rule, columns two spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(cell);
            s.extend(std::iter::repeat_n(
                ' ',
                w.saturating_sub(cell.chars().count()),
            ));
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    let rules: Vec<String> = widths.iter().map(|w| "=".repeat(*w)).collect();
    line(rules.iter().map(String::as_str).collect(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

/// A field of a JSON object as table text: strings bare, null empty.
pub fn field(v: &Value, key: &str) -> String {
    text(
        v.pointer(&format!("/{}", key.replace('.', "/")))
            .unwrap_or(&Value::Null),
    )
}

/// A dotted field; a `null` on the way reads as `null` (an absent pair prints
/// as empty), a missing key as `None`.
fn lookup<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    let mut node = v;
    for part in key.split('.') {
        match node {
            Value::Null => return Some(&Value::Null),
            Value::Object(o) => node = o.get(part)?,
            _ => return None,
        }
    }
    Some(node)
}

pub fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Fills a `--format` template such as `{service_name} {state}`; dotted
/// names reach into objects (`{service_uri_params.host}`).
pub fn format_template(template: &str, v: &Value) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed '{{' in --format '{template}'"))?;
        let key = &after[..end];
        out.push_str(&text(
            lookup(v, key).ok_or_else(|| format!("--format: no field '{key}'"))?,
        ));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

pub fn w(out: &mut (dyn Write + Send), s: &str) -> Result<(), CliError> {
    out.write_all(s.as_bytes())
        .map_err(|e| CliError::Io(format!("cannot write output: {e}")))
}

pub fn json_out(out: &mut (dyn Write + Send), v: &Value) -> Result<(), CliError> {
    let s = serde_json::to_string_pretty(v).unwrap_or_default();
    w(out, &format!("{s}\n"))
}

pub fn node_table(nodes: &Value) -> String {
    let rows: Vec<Vec<String>> = nodes
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| {
            vec![
                field(n, "name"),
                field(n, "datacenter"),
                format!("{}:{}", field(n, "address"), field(n, "cql_port")),
                field(n, "rack"),
                field(n, "state"),
            ]
        })
        .collect();
    table(&["NODE", "DATACENTER", "ADDRESS", "RACK", "STATE"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "LONGER"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONGER\n===  ======\nxyz  1\n");
    }

    #[test]
    fn templates_fill_fields() {
        let v = json!({"a": "x", "n": 3, "o": {"b": true}, "p": null});
        assert_eq!(format_template("{a}-{n} {o.b}", &v).unwrap(), "x-3 true");
        assert_eq!(format_template("[{p.peer}]", &v).unwrap(), "[]");
        assert!(format_template("{o.c}", &v).is_err());
        assert!(format_template("{missing}", &v).is_err());
        assert!(format_template("{a", &v).is_err());
    }
}
