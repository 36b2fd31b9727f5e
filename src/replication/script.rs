//! Splitting a CQL script into statements, as cqlsh does: the scripts this
//! room writes under `cql/` are applied one statement at a time by the CLI,
//! the runtimes and the test kit.

/// The statements of a CQL script: `--` and `//` comments dropped, split on
/// semicolons outside quotes.
pub fn statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    if chars.peek() == Some(&q) {
                        cur.push(chars.next().unwrap_or(q));
                    } else {
                        quote = None;
                    }
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    cur.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    cur.push('\n');
                }
                '/' if chars.peek() == Some(&'/') => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                    cur.push('\n');
                }
                ';' => {
                    let s = cur.trim();
                    if !s.is_empty() {
                        out.push(s.to_string());
                    }
                    cur.clear();
                }
                c => cur.push(c),
            },
        }
    }
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_split_into_statements() {
        let script = "-- a comment; with a semicolon\nALTER KEYSPACE a WITH x = 'it''s;';\n\n// other\nCREATE TABLE t (k int PRIMARY KEY);\nSELECT 1";
        assert_eq!(
            statements(script),
            vec![
                "ALTER KEYSPACE a WITH x = 'it''s;'",
                "CREATE TABLE t (k int PRIMARY KEY)",
                "SELECT 1"
            ]
        );
        assert!(statements("-- only a comment\n").is_empty());
    }
}
