//! The CQL lexer: text to tokens, with byte offsets for error messages.
//!
//! It follows Cassandra's `Lexer.g`: unquoted identifiers are
//! case-insensitive (kept lowercased, with their original spelling for
//! messages), `"quoted"` identifiers keep their case (`""` escapes a quote),
//! strings are `'...'` (`''` escapes) or `$$...$$`, numbers may carry a
//! leading `-`, `0x` starts a blob, a UUID is lexed as one token, and
//! comments are `--`, `//` and `/* */`.

use crate::node::cql::error::CqlError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An unquoted identifier or keyword, lowercased.
    Ident(String),
    /// A `"quoted"` identifier, case kept.
    Quoted(String),
    Str(String),
    Int(String),
    Float(String),
    Hex(String),
    Uuid(String),
    /// `?`
    Marker,
    /// `:name`
    NamedMarker(String),
    /// Punctuation and operators: `( ) [ ] { } , ; . * = != < <= > >= + - : += -=`.
    Sym(&'static str),
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    /// Byte offset of the token's first character.
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token as the user wrote it.
    pub fn text<'a>(&self, src: &'a str) -> &'a str {
        if self.tok == Tok::Eof {
            "<EOF>"
        } else {
            &src[self.start..self.end]
        }
    }
}

/// `line:column` (1-based line, 0-based column) of a byte offset, as Cassandra prints.
pub fn position(src: &str, offset: usize) -> (usize, usize) {
    let before = &src[..offset.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count());
    (line, col)
}

fn syntax(src: &str, at: usize, msg: &str) -> CqlError {
    let (l, c) = position(src, at);
    CqlError::Syntax(format!("line {l}:{c} {msg}"))
}

fn is_hex(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Whether a UUID (8-4-4-4-12 hex digits) starts at `i`.
fn uuid_at(b: &[u8], i: usize) -> bool {
    const GROUPS: [usize; 5] = [8, 4, 4, 4, 12];
    let mut p = i;
    for (g, n) in GROUPS.iter().enumerate() {
        if p + n > b.len() || !b[p..p + n].iter().all(|c| is_hex(*c)) {
            return false;
        }
        p += n;
        if g < 4 {
            if b.get(p) != Some(&b'-') {
                return false;
            }
            p += 1;
        }
    }
    // Not followed by more identifier characters.
    !b.get(p)
        .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

const SYMBOLS: [&str; 21] = [
    "!=", "<=", ">=", "+=", "-=", "(", ")", "[", "]", "{", "}", ",", ";", ".", "*", "=", "<", ">",
    "+", "-", ":",
];

pub fn lex(src: &str) -> Result<Vec<Token>, CqlError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if (c == b'-' && b.get(i + 1) == Some(&b'-')) || (c == b'/' && b.get(i + 1) == Some(&b'/'))
        {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let Some(end) = src[i + 2..].find("*/") else {
                return Err(syntax(src, i, "unterminated comment"));
            };
            i = i + 2 + end + 2;
            continue;
        }
        let start = i;
        let tok = if c == b'\'' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(rel) = src[i..].find('\'') else {
                    return Err(syntax(src, start, "unterminated string literal"));
                };
                s.push_str(&src[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'\'') {
                    s.push('\'');
                    i += 1;
                } else {
                    break;
                }
            }
            Tok::Str(s)
        } else if c == b'$' && b.get(i + 1) == Some(&b'$') {
            let Some(rel) = src[i + 2..].find("$$") else {
                return Err(syntax(src, start, "unterminated $$ string literal"));
            };
            let s = src[i + 2..i + 2 + rel].to_string();
            i += 2 + rel + 2;
            Tok::Str(s)
        } else if c == b'"' {
            let mut s = String::new();
            i += 1;
            loop {
                let Some(rel) = src[i..].find('"') else {
                    return Err(syntax(src, start, "unterminated quoted identifier"));
                };
                s.push_str(&src[i..i + rel]);
                i += rel + 1;
                if b.get(i) == Some(&b'"') {
                    s.push('"');
                    i += 1;
                } else {
                    break;
                }
            }
            if s.is_empty() {
                return Err(syntax(src, start, "empty quoted identifier"));
            }
            Tok::Quoted(s)
        } else if is_hex(c) && uuid_at(b, i) {
            i += 36;
            Tok::Uuid(src[start..i].to_string())
        } else if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            i += 2;
            while i < b.len() && is_hex(b[i]) {
                i += 1;
            }
            Tok::Hex(src[start + 2..i].to_string())
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            i += 1;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut float = false;
            if b.get(i) == Some(&b'.') && b.get(i + 1).is_none_or(|d| !d.is_ascii_alphabetic()) {
                float = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if matches!(b.get(i), Some(b'e' | b'E')) {
                let mut j = i + 1;
                if matches!(b.get(j), Some(b'+' | b'-')) {
                    j += 1;
                }
                if b.get(j).is_some_and(u8::is_ascii_digit) {
                    float = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if b.get(i)
                .is_some_and(|d| d.is_ascii_alphabetic() || *d == b'_')
            {
                // `1h30m` durations and the like.
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                return Err(syntax(
                    src,
                    start,
                    &format!(
                        "no viable alternative at input '{}' (durations are not supported by ccrsim)",
                        &src[start..i]
                    ),
                ));
            }
            let text = src[start..i].to_string();
            if float {
                Tok::Float(text)
            } else {
                Tok::Int(text)
            }
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Ident(src[start..i].to_ascii_lowercase())
        } else if c == b'?' {
            i += 1;
            Tok::Marker
        } else if c == b':'
            && b.get(i + 1)
                .is_some_and(|d| d.is_ascii_alphabetic() || *d == b'_' || *d == b'"')
        {
            i += 1;
            if b[i] == b'"' {
                let Some(rel) = src[i + 1..].find('"') else {
                    return Err(syntax(src, start, "unterminated quoted identifier"));
                };
                let name = src[i + 1..i + 1 + rel].to_string();
                i += rel + 2;
                Tok::NamedMarker(name)
            } else {
                let s = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                Tok::NamedMarker(src[s..i].to_ascii_lowercase())
            }
        } else {
            let Some(sym) = SYMBOLS.iter().find(|s| src[i..].starts_with(**s)) else {
                let ch = src[i..].chars().next().unwrap_or('?');
                return Err(syntax(
                    src,
                    start,
                    &format!("token recognition error at: '{ch}'"),
                ));
            };
            i += sym.len();
            Tok::Sym(sym)
        };
        out.push(Token { tok, start, end: i });
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn lexes_cql() {
        assert_eq!(
            toks("SELECT \"Key\", v FROM ks.t WHERE k = 'it''s' -- c\n AND x >= -1.5e3;"),
            vec![
                Tok::Ident("select".into()),
                Tok::Quoted("Key".into()),
                Tok::Sym(","),
                Tok::Ident("v".into()),
                Tok::Ident("from".into()),
                Tok::Ident("ks".into()),
                Tok::Sym("."),
                Tok::Ident("t".into()),
                Tok::Ident("where".into()),
                Tok::Ident("k".into()),
                Tok::Sym("="),
                Tok::Str("it's".into()),
                Tok::Ident("and".into()),
                Tok::Ident("x".into()),
                Tok::Sym(">="),
                Tok::Float("-1.5e3".into()),
                Tok::Sym(";"),
                Tok::Eof,
            ]
        );
        assert_eq!(
            toks("0xCAFE 550e8400-e29b-41d4-a716-446655440000 ? :n $$a'b$$ /* x */ 3"),
            vec![
                Tok::Hex("CAFE".into()),
                Tok::Uuid("550e8400-e29b-41d4-a716-446655440000".into()),
                Tok::Marker,
                Tok::NamedMarker("n".into()),
                Tok::Str("a'b".into()),
                Tok::Int("3".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(
            lex("SELECT\n  'abc").unwrap_err(),
            CqlError::Syntax("line 2:2 unterminated string literal".into())
        );
        assert!(matches!(lex("SELECT #"), Err(CqlError::Syntax(m)) if m.contains("1:7")));
        assert!(lex("1h30m").is_err());
    }
}
