//! Text output, and literals read back from it.

use super::*;

#[test]
fn text_forms() {
    let text = |x: &str| CqlValue::Text(x.into());
    assert_eq!(text("it's").to_cql_literal(), "'it''s'");
    assert_eq!(text("it's").to_cqlsh(), "it's");
    assert_eq!(CqlValue::List(vec![text("it's")]).to_cqlsh(), "['it''s']");
    assert_eq!(CqlValue::Blob(vec![0xca, 0xfe]).to_cqlsh(), "0xcafe");
    assert_eq!(CqlValue::Boolean(true).to_cqlsh(), "True");
    assert_eq!(CqlValue::Boolean(true).to_cql_literal(), "true");
    assert_eq!(
        CqlValue::Timestamp(1_704_164_645_123).to_cqlsh(),
        "2024-01-02 03:04:05.123000+0000"
    );
    assert_eq!(
        CqlValue::Timestamp(1_704_164_645_123).to_cql_literal(),
        "'2024-01-02T03:04:05.123Z'"
    );
    assert_eq!(
        CqlValue::Timestamp(0).to_cqlsh(),
        "1970-01-01 00:00:00.000000+0000"
    );
    assert_eq!(
        CqlValue::Timestamp(-1).to_cqlsh(),
        "1969-12-31 23:59:59.999000+0000"
    );
    assert_eq!(
        CqlValue::Timestamp(i64::MAX).to_cqlsh(),
        i64::MAX.to_string()
    );
    assert_eq!(CqlValue::Date(DATE_EPOCH + 19_724).to_cqlsh(), "2024-01-02");
    assert_eq!(
        CqlValue::Date(DATE_EPOCH + 19_724).to_cql_literal(),
        "'2024-01-02'"
    );
    assert_eq!(CqlValue::Date(0).to_cqlsh(), "-2147483648");
    assert_eq!(CqlValue::Date(0).to_cql_literal(), "0");
    assert_eq!(
        CqlValue::Time(48_654_234_000_000).to_cqlsh(),
        "13:30:54.234000000"
    );
    assert_eq!(
        CqlValue::Time(48_654_234_000_000).to_cql_literal(),
        "'13:30:54.234000000'"
    );
    assert_eq!(
        CqlValue::Inet(IpAddr::V4(Ipv4Addr::LOCALHOST)).to_cqlsh(),
        "127.0.0.1"
    );
    assert_eq!(
        CqlValue::Set(vec![CqlValue::Inet(IpAddr::V4(Ipv4Addr::LOCALHOST))]).to_cqlsh(),
        "{'127.0.0.1'}"
    );
    assert_eq!(CqlValue::Float(1.1).to_cqlsh(), "1.1");
    assert_eq!(CqlValue::Float(1.1).to_cql_literal(), "1.1");
    assert_eq!(CqlValue::Float(123_456.7).to_cqlsh(), "1.2346e+05");
    assert_eq!(CqlValue::Double(0.1).to_cqlsh(), "0.1");
    assert_eq!(CqlValue::Double(1e20).to_cqlsh(), "1e+20");
    assert_eq!(CqlValue::Double(1e20).to_cql_literal(), "1e20");
    assert_eq!(CqlValue::Double(123_456_789.0).to_cqlsh(), "123456789");
    assert_eq!(
        CqlValue::Double(std::f64::consts::PI).to_cqlsh(),
        "3.14159265359"
    );
    assert_eq!(CqlValue::Double(0.000_123_456).to_cqlsh(), "0.000123456");
    assert_eq!(CqlValue::Double(-2.5).to_cqlsh(), "-2.5");
    assert_eq!(CqlValue::Double(0.0).to_cqlsh(), "0");
    assert_eq!(CqlValue::Double(f64::NAN).to_cqlsh(), "NaN");
    assert_eq!(
        CqlValue::Double(f64::NEG_INFINITY).to_cql_literal(),
        "-Infinity"
    );
    assert_eq!(CqlValue::Int(-7).to_string(), "-7");
    assert_eq!(
        CqlValue::Map(vec![(
            text("k"),
            CqlValue::List(vec![CqlValue::Int(1), CqlValue::Int(2)])
        )])
        .to_cqlsh(),
        "{'k': [1, 2]}"
    );
    assert_eq!(
        CqlValue::Tuple(vec![Some(CqlValue::Int(1)), None, Some(text("a"))]).to_cqlsh(),
        "(1, null, 'a')"
    );
    assert_eq!(
        CqlValue::Uuid(uuid("550e8400-e29b-41d4-a716-446655440000")).to_cql_literal(),
        "550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(format_g(1234.5, 3), "1.23e+03");
    assert_eq!(format_g(0.0001, 5), "0.0001");
    assert_eq!(format_g(0.00001, 5), "1e-05");
    assert_eq!(format_g(99_999.5, 5), "1e+05");
}

// --- a tiny CQL literal reader, only for the round-trip test --------

struct LitReader<'a> {
    s: &'a [u8],
    i: usize,
}

impl LitReader<'_> {
    fn ws(&mut self) {
        while self.s.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn word(&mut self) -> String {
        self.ws();
        let start = self.i;
        while let Some(&c) = self.s.get(self.i) {
            if b",)]}: ".contains(&c) {
                break;
            }
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
    fn items(&mut self, close: u8) -> Vec<CqlLiteral> {
        let mut out = Vec::new();
        if self.eat(close) {
            return out;
        }
        loop {
            out.push(self.lit());
            if self.eat(close) {
                return out;
            }
            assert!(self.eat(b','), "expected , at {}", self.i);
        }
    }
    fn lit(&mut self) -> CqlLiteral {
        self.ws();
        match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.i) {
                        Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                            out.push(b'\'');
                            self.i += 2;
                        }
                        Some(b'\'') => {
                            self.i += 1;
                            break;
                        }
                        Some(&c) => {
                            out.push(c);
                            self.i += 1;
                        }
                        None => panic!("unterminated string"),
                    }
                }
                CqlLiteral::Str(String::from_utf8_lossy(&out).into_owned())
            }
            Some(b'[') => {
                self.i += 1;
                CqlLiteral::List(self.items(b']'))
            }
            Some(b'(') => {
                self.i += 1;
                CqlLiteral::Tuple(self.items(b')'))
            }
            Some(b'{') => {
                self.i += 1;
                if self.eat(b'}') {
                    return CqlLiteral::Set(vec![]);
                }
                let save = self.i;
                let w = self.word();
                let is_ident = w.starts_with(|c: char| c.is_ascii_alphabetic() || c == '"')
                    && parse_uuid(&w).is_none()
                    && !["true", "false", "null", "NaN", "Infinity"].contains(&w.as_str());
                if is_ident && self.eat(b':') {
                    let mut fields = vec![(w.trim_matches('"').to_string(), self.lit())];
                    while self.eat(b',') {
                        let n = self.word();
                        assert!(self.eat(b':'));
                        fields.push((n.trim_matches('"').to_string(), self.lit()));
                    }
                    assert!(self.eat(b'}'));
                    return CqlLiteral::Udt(fields);
                }
                self.i = save;
                let first = self.lit();
                if self.eat(b':') {
                    let mut entries = vec![(first, self.lit())];
                    while self.eat(b',') {
                        let k = self.lit();
                        assert!(self.eat(b':'));
                        entries.push((k, self.lit()));
                    }
                    assert!(self.eat(b'}'));
                    CqlLiteral::Map(entries)
                } else {
                    let mut items = vec![first];
                    while self.eat(b',') {
                        items.push(self.lit());
                    }
                    assert!(self.eat(b'}'));
                    CqlLiteral::Set(items)
                }
            }
            _ => {
                let w = self.word();
                let body = w.strip_prefix('-').unwrap_or(&w);
                if w == "null" {
                    CqlLiteral::Null
                } else if w == "true" || w == "false" {
                    CqlLiteral::Bool(w == "true")
                } else if w.starts_with("0x") {
                    CqlLiteral::Hex(w)
                } else if parse_uuid(&w).is_some() {
                    CqlLiteral::Uuid(w)
                } else if is_all_digits(body) {
                    CqlLiteral::Int(w)
                } else if body == "NaN"
                    || body == "Infinity"
                    || body
                        .bytes()
                        .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
                {
                    CqlLiteral::Float(w)
                } else {
                    CqlLiteral::Duration(w)
                }
            }
        }
    }
}

fn read_literal(text: &str) -> CqlLiteral {
    let mut r = LitReader {
        s: text.as_bytes(),
        i: 0,
    };
    let l = r.lit();
    r.ws();
    assert_eq!(r.i, text.len(), "trailing text in {text}");
    l
}

#[test]
fn literals_read_back() {
    for (ty, v) in samples() {
        // Cassandra's duration grammar adds positive units up to
        // i32::MAX / i64::MAX and negates at the end, so the minimum
        // values have no literal (in Cassandra either).
        if matches!(
            v,
            CqlValue::Duration {
                months: i32::MIN,
                ..
            }
        ) {
            continue;
        }
        let text = v.to_cql_literal();
        let l = read_literal(&text);
        let back = CqlValue::from_literal(&ty, &l)
            .unwrap_or_else(|e| panic!("{ty} {text}: {e}"))
            .unwrap_or_else(|| panic!("{ty} {text}: null"));
        assert_eq!(back.to_bytes(), v.to_bytes(), "{ty} {text}");
    }
}
