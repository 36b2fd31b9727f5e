//! CQL data types: what a column, a bind marker or a collection element holds.
//!
//! # What lives here
//!
//! [`CqlType`] names a CQL type the way a schema does. Every other part of the
//! node reads it: the schema keeps one per column, the value codec
//! (`node::value`) needs it to turn the bytes a driver sends into a
//! [`CqlValue`](crate::node::value::CqlValue), and the protocol writer turns it into
//! the `[option]` of result metadata.
//!
//! # Reading a type from text
//!
//! `CREATE TABLE t (k int PRIMARY KEY, m map<text, frozen<list<int>>>)` hands
//! the parser type texts such as `int` or `map<text, frozen<list<int>>>`.
//! [`CqlType::parse`] reads them: keywords are case-insensitive, whitespace is
//! free, `varchar` is an alias of `text`, a single-quoted string names a custom
//! Java type, and nesting is capped at [`MAX_TYPE_DEPTH`] so hostile input
//! cannot exhaust the stack. User-defined types are looked up by name through
//! [`CqlType::parse_with`]; the plain parsers know none and answer
//! `Unknown type ks.name` as Cassandra does.
//!
//! Parsing also applies Cassandra's rules for *where* a type may appear, and
//! returns the type in the canonical form Cassandra stores:
//!
//! * a collection inside a collection must be written `frozen<...>`
//!   (`list<list<int>>` is refused with Cassandra's message);
//! * inside `frozen<...>` everything is frozen, so
//!   `frozen<list<list<int>>>` becomes `frozen<list<frozen<list<int>>>>`;
//! * tuples are always frozen: `tuple<int, text>` becomes
//!   `frozen<tuple<int, text>>`;
//! * `frozen<int>` is refused, counters may not sit inside collections or
//!   tuples, durations may not be set elements or map keys.
//!
//! # Writing a type as text
//!
//! `Display` writes the type as Cassandra writes it in
//! `system_schema.columns.type` and in `DESCRIBE`: lower-case names, `text`
//! for `varchar`, `", "` between type arguments, `frozen<...>` kept. Feeding
//! that text back to [`CqlType::parse`] yields the same type.
//!
//! # Other helpers
//!
//! Predicates ([`CqlType::is_collection`], [`CqlType::is_multicell`], ...),
//! the Java validator class name (`org.apache.cassandra.db.marshal.Int32Type`)
//! that some system tables and custom types use, and the protocol `[option]`
//! id of each type.
//!
//! Counter, duration, tuple and UDT types are parsed and representable even
//! though the node may answer them as unsupported; that decision is not made
//! here.

use std::fmt;

/// The deepest nesting of type arguments accepted, counted in levels of
/// `<...>`. Cassandra itself has no limit; real schemas stay far below this.
pub const MAX_TYPE_DEPTH: usize = 32;

/// A CQL data type, as schema and protocol metadata name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CqlType {
    Ascii,
    Bigint,
    Blob,
    Boolean,
    Counter,
    Date,
    Decimal,
    Double,
    Duration,
    Float,
    Inet,
    Int,
    Smallint,
    Text,
    Time,
    Timestamp,
    Timeuuid,
    Tinyint,
    Uuid,
    Varint,
    List(Box<CqlType>),
    Set(Box<CqlType>),
    Map(Box<CqlType>, Box<CqlType>),
    Tuple(Vec<CqlType>),
    Udt {
        keyspace: String,
        name: String,
        fields: Vec<(String, CqlType)>,
    },
    /// `frozen<...>`: the same values on the wire, stored as one cell.
    Frozen(Box<CqlType>),
    /// A custom type, by Java class name.
    Custom(String),
}

/// Why a type text was refused.
///
/// The node answers [`TypeParseError::Syntax`] with a protocol `Syntax_error`
/// and the other two with `Invalid`; the display text is the message to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypeParseError {
    /// The text is not a type at all (`map<int>`, `list<int`, `int int`).
    #[error("{0}")]
    Syntax(String),
    /// A name that is neither a native type nor a known user type; holds the
    /// qualified name (`ks.name`) when a keyspace was known.
    #[error("Unknown type {0}")]
    UnknownType(String),
    /// Well formed but not allowed here (`list<list<int>>`, `frozen<int>`).
    #[error("{0}")]
    Invalid(String),
}

/// The native types by their CQL names, `varchar` included as an alias.
const NATIVE_NAMES: [(&str, CqlType); 21] = [
    ("ascii", CqlType::Ascii),
    ("bigint", CqlType::Bigint),
    ("blob", CqlType::Blob),
    ("boolean", CqlType::Boolean),
    ("counter", CqlType::Counter),
    ("date", CqlType::Date),
    ("decimal", CqlType::Decimal),
    ("double", CqlType::Double),
    ("duration", CqlType::Duration),
    ("float", CqlType::Float),
    ("inet", CqlType::Inet),
    ("int", CqlType::Int),
    ("smallint", CqlType::Smallint),
    ("text", CqlType::Text),
    ("time", CqlType::Time),
    ("timestamp", CqlType::Timestamp),
    ("timeuuid", CqlType::Timeuuid),
    ("tinyint", CqlType::Tinyint),
    ("uuid", CqlType::Uuid),
    ("varchar", CqlType::Text),
    ("varint", CqlType::Varint),
];

const MARSHAL: &str = "org.apache.cassandra.db.marshal.";

impl CqlType {
    /// The native type of that name (case-insensitive), `varchar` = `text`.
    pub fn native_from_name(name: &str) -> Option<CqlType> {
        let lower = name.to_ascii_lowercase();
        NATIVE_NAMES
            .iter()
            .find(|(n, _)| *n == lower)
            .map(|(_, t)| t.clone())
    }

    /// Parses a column type with no keyspace and no user types known.
    /// Unknown names answer `Unknown type name` (or `ks.name` if qualified).
    pub fn parse(text: &str) -> Result<CqlType, TypeParseError> {
        Self::parse_with(text, None, &|_, _| None)
    }

    /// Parses a column type for a table of `keyspace`: an unknown bare name
    /// answers `Unknown type keyspace.name`.
    pub fn parse_in_keyspace(text: &str, keyspace: &str) -> Result<CqlType, TypeParseError> {
        Self::parse_with(text, Some(keyspace), &|_, _| None)
    }

    /// Parses a column type, resolving user type names through `resolve`,
    /// called with (keyspace, name); bare names use `keyspace`. The result
    /// is canonical (see the module notes): what `system_schema` would store.
    pub fn parse_with(
        text: &str,
        keyspace: Option<&str>,
        resolve: &dyn Fn(&str, &str) -> Option<CqlType>,
    ) -> Result<CqlType, TypeParseError> {
        let tokens = lex(text)?;
        let mut parser = Parser {
            text,
            tokens,
            pos: 0,
            keyspace,
            resolve,
        };
        let raw = parser.parse_type(0)?;
        if let Some(tok) = parser.peek() {
            return Err(parser.syntax(&format!("unexpected {tok} after the type")));
        }
        canonical(&raw, false, 0)
    }

    /// True for the 20 native types (not collections, tuples, UDTs, custom).
    pub fn is_native(&self) -> bool {
        !matches!(
            self,
            CqlType::List(_)
                | CqlType::Set(_)
                | CqlType::Map(_, _)
                | CqlType::Tuple(_)
                | CqlType::Udt { .. }
                | CqlType::Frozen(_)
                | CqlType::Custom(_)
        )
    }

    /// True when wrapped in `frozen<...>`.
    pub fn is_frozen(&self) -> bool {
        matches!(self, CqlType::Frozen(_))
    }

    /// The type without any `frozen<...>` wrapper.
    pub fn unfrozen(&self) -> &CqlType {
        let mut t = self;
        while let CqlType::Frozen(inner) = t {
            t = inner;
        }
        t
    }

    /// True for lists, sets and maps, frozen or not.
    pub fn is_collection(&self) -> bool {
        matches!(
            self.unfrozen(),
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _)
        )
    }

    /// True when values are stored as several cells: a non-frozen
    /// collection or a non-frozen user type.
    pub fn is_multicell(&self) -> bool {
        matches!(
            self,
            CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _) | CqlType::Udt { .. }
        )
    }

    /// True for `counter`.
    pub fn is_counter(&self) -> bool {
        matches!(self, CqlType::Counter)
    }

    /// True if `counter` appears anywhere in the type.
    pub fn contains_counter(&self) -> bool {
        match self {
            CqlType::Counter => true,
            CqlType::List(e) | CqlType::Set(e) | CqlType::Frozen(e) => e.contains_counter(),
            CqlType::Map(k, v) => k.contains_counter() || v.contains_counter(),
            CqlType::Tuple(ts) => ts.iter().any(CqlType::contains_counter),
            CqlType::Udt { fields, .. } => fields.iter().any(|(_, t)| t.contains_counter()),
            _ => false,
        }
    }

    /// True for the types `frozen<...>` may wrap: collections, tuples, UDTs.
    pub fn supports_freezing(&self) -> bool {
        matches!(
            self.unfrozen(),
            CqlType::List(_)
                | CqlType::Set(_)
                | CqlType::Map(_, _)
                | CqlType::Tuple(_)
                | CqlType::Udt { .. }
        )
    }

    /// This type wrapped in `frozen<...>` if it can be frozen and is not yet.
    pub fn frozen(self) -> CqlType {
        if self.supports_freezing() && !self.is_frozen() {
            CqlType::Frozen(Box::new(self))
        } else {
            self
        }
    }

    /// The Java class Cassandra uses for this type, with type arguments, e.g.
    /// `org.apache.cassandra.db.marshal.ListType(org.apache.cassandra.db.marshal.Int32Type)`.
    pub fn validator_class(&self) -> String {
        let simple = |n: &str| format!("{MARSHAL}{n}");
        match self {
            CqlType::Ascii => simple("AsciiType"),
            CqlType::Bigint => simple("LongType"),
            CqlType::Blob => simple("BytesType"),
            CqlType::Boolean => simple("BooleanType"),
            CqlType::Counter => simple("CounterColumnType"),
            CqlType::Date => simple("SimpleDateType"),
            CqlType::Decimal => simple("DecimalType"),
            CqlType::Double => simple("DoubleType"),
            CqlType::Duration => simple("DurationType"),
            CqlType::Float => simple("FloatType"),
            CqlType::Inet => simple("InetAddressType"),
            CqlType::Int => simple("Int32Type"),
            CqlType::Smallint => simple("ShortType"),
            CqlType::Text => simple("UTF8Type"),
            CqlType::Time => simple("TimeType"),
            CqlType::Timestamp => simple("TimestampType"),
            CqlType::Timeuuid => simple("TimeUUIDType"),
            CqlType::Tinyint => simple("ByteType"),
            CqlType::Uuid => simple("UUIDType"),
            CqlType::Varint => simple("IntegerType"),
            CqlType::List(e) => format!("{MARSHAL}ListType({})", e.validator_class()),
            CqlType::Set(e) => format!("{MARSHAL}SetType({})", e.validator_class()),
            CqlType::Map(k, v) => format!(
                "{MARSHAL}MapType({},{})",
                k.validator_class(),
                v.validator_class()
            ),
            CqlType::Tuple(ts) => {
                let args: Vec<String> = ts.iter().map(CqlType::validator_class).collect();
                format!("{MARSHAL}TupleType({})", args.join(","))
            }
            CqlType::Udt {
                keyspace,
                name,
                fields,
            } => {
                let mut args = vec![keyspace.clone(), hex(name.as_bytes())];
                for (f, t) in fields {
                    args.push(format!("{}:{}", hex(f.as_bytes()), t.validator_class()));
                }
                format!("{MARSHAL}UserType({})", args.join(","))
            }
            CqlType::Frozen(inner) => format!("{MARSHAL}FrozenType({})", inner.validator_class()),
            CqlType::Custom(class) => class.clone(),
        }
    }

    /// The `[option]` id of this type in result and prepared metadata.
    /// `frozen` is invisible on the wire. Duration answers 0x0015, its id
    /// from protocol v5; a v4 writer sends duration as a custom type
    /// (0x0000) named by [`CqlType::validator_class`].
    pub fn option_id(&self) -> u16 {
        match self {
            CqlType::Custom(_) => 0x0000,
            CqlType::Ascii => 0x0001,
            CqlType::Bigint => 0x0002,
            CqlType::Blob => 0x0003,
            CqlType::Boolean => 0x0004,
            CqlType::Counter => 0x0005,
            CqlType::Decimal => 0x0006,
            CqlType::Double => 0x0007,
            CqlType::Float => 0x0008,
            CqlType::Int => 0x0009,
            CqlType::Timestamp => 0x000B,
            CqlType::Uuid => 0x000C,
            CqlType::Text => 0x000D,
            CqlType::Varint => 0x000E,
            CqlType::Timeuuid => 0x000F,
            CqlType::Inet => 0x0010,
            CqlType::Date => 0x0011,
            CqlType::Time => 0x0012,
            CqlType::Smallint => 0x0013,
            CqlType::Tinyint => 0x0014,
            CqlType::Duration => 0x0015,
            CqlType::List(_) => 0x0020,
            CqlType::Map(_, _) => 0x0021,
            CqlType::Set(_) => 0x0022,
            CqlType::Udt { .. } => 0x0030,
            CqlType::Tuple(_) => 0x0031,
            CqlType::Frozen(inner) => inner.option_id(),
        }
    }

    /// The nesting depth: 0 for a native type, 1 for `list<int>`, ...
    /// `frozen<...>` does not count.
    pub fn depth(&self) -> usize {
        match self {
            CqlType::List(e) | CqlType::Set(e) => 1 + e.depth(),
            CqlType::Map(k, v) => 1 + k.depth().max(v.depth()),
            CqlType::Tuple(ts) => 1 + ts.iter().map(CqlType::depth).max().unwrap_or(0),
            CqlType::Udt { fields, .. } => {
                1 + fields.iter().map(|(_, t)| t.depth()).max().unwrap_or(0)
            }
            CqlType::Frozen(inner) => inner.depth(),
            _ => 0,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes an identifier as CQL needs it: bare when lower-case
/// `[a-z][a-z0-9_]*`, otherwise double-quoted with `"` doubled.
pub fn quote_identifier(name: &str) -> String {
    let mut chars = name.chars();
    let plain = matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

impl fmt::Display for CqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            CqlType::Ascii => "ascii",
            CqlType::Bigint => "bigint",
            CqlType::Blob => "blob",
            CqlType::Boolean => "boolean",
            CqlType::Counter => "counter",
            CqlType::Date => "date",
            CqlType::Decimal => "decimal",
            CqlType::Double => "double",
            CqlType::Duration => "duration",
            CqlType::Float => "float",
            CqlType::Inet => "inet",
            CqlType::Int => "int",
            CqlType::Smallint => "smallint",
            CqlType::Text => "text",
            CqlType::Time => "time",
            CqlType::Timestamp => "timestamp",
            CqlType::Timeuuid => "timeuuid",
            CqlType::Tinyint => "tinyint",
            CqlType::Uuid => "uuid",
            CqlType::Varint => "varint",
            CqlType::List(e) => return write!(f, "list<{e}>"),
            CqlType::Set(e) => return write!(f, "set<{e}>"),
            CqlType::Map(k, v) => return write!(f, "map<{k}, {v}>"),
            CqlType::Tuple(ts) => {
                f.write_str("tuple<")?;
                for (i, t) in ts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                return f.write_str(">");
            }
            CqlType::Udt { name, .. } => return f.write_str(&quote_identifier(name)),
            CqlType::Frozen(inner) => return write!(f, "frozen<{inner}>"),
            CqlType::Custom(class) => return write!(f, "'{}'", class.replace('\'', "''")),
        };
        f.write_str(name)
    }
}

// ---------------------------------------------------------------------------
// Lexing and parsing

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted identifier, lower-cased.
    Ident(String),
    /// A double-quoted identifier, case kept.
    Quoted(String),
    /// A single-quoted string (custom type class name).
    Str(String),
    Lt,
    Gt,
    Comma,
    Dot,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "'{s}'"),
            Tok::Quoted(s) => write!(f, "'\"{s}\"'"),
            Tok::Str(s) => write!(f, "string '{s}'"),
            Tok::Lt => f.write_str("'<'"),
            Tok::Gt => f.write_str("'>'"),
            Tok::Comma => f.write_str("','"),
            Tok::Dot => f.write_str("'.'"),
        }
    }
}

fn lex(text: &str) -> Result<Vec<Tok>, TypeParseError> {
    let syntax = |what: String| TypeParseError::Syntax(format!("Invalid type '{text}': {what}"));
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' {
            let mut s = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    s.push(c.to_ascii_lowercase());
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Ident(s));
        } else if c == '"' || c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => return Err(syntax("unterminated quoted name".into())),
                    Some(q) if q == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    Some(other) => s.push(other),
                }
            }
            out.push(if c == '"' {
                Tok::Quoted(s)
            } else {
                Tok::Str(s)
            });
        } else {
            chars.next();
            out.push(match c {
                '<' => Tok::Lt,
                '>' => Tok::Gt,
                ',' => Tok::Comma,
                '.' => Tok::Dot,
                other => return Err(syntax(format!("unexpected character '{other}'"))),
            });
        }
    }
    Ok(out)
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Tok>,
    pos: usize,
    keyspace: Option<&'a str>,
    resolve: &'a dyn Fn(&str, &str) -> Option<CqlType>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.tokens.get(self.pos).cloned();
        if t.is_some() {
            self.pos += 1;
        }
        t
    }

    fn syntax(&self, what: &str) -> TypeParseError {
        TypeParseError::Syntax(format!("Invalid type '{}': {what}", self.text))
    }

    fn expect(&mut self, want: Tok) -> Result<(), TypeParseError> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(self.syntax(&format!("expected {want} but found {t}"))),
            None => Err(self.syntax(&format!("expected {want} but the text ended"))),
        }
    }

    fn parse_args(&mut self, depth: usize) -> Result<Vec<CqlType>, TypeParseError> {
        self.expect(Tok::Lt)?;
        let mut args = vec![self.parse_type(depth + 1)?];
        loop {
            match self.next() {
                Some(Tok::Comma) => args.push(self.parse_type(depth + 1)?),
                Some(Tok::Gt) => return Ok(args),
                Some(t) => return Err(self.syntax(&format!("expected ',' or '>' but found {t}"))),
                None => return Err(self.syntax("expected '>' but the text ended")),
            }
        }
    }

    fn parse_type(&mut self, depth: usize) -> Result<CqlType, TypeParseError> {
        if depth > MAX_TYPE_DEPTH {
            return Err(TypeParseError::Invalid(format!(
                "Type nesting deeper than {MAX_TYPE_DEPTH} levels is not supported"
            )));
        }
        let tok = match self.next() {
            Some(t) => t,
            None => return Err(self.syntax("expected a type but the text ended")),
        };
        let word = match tok {
            Tok::Str(class) => return Ok(CqlType::Custom(class)),
            Tok::Quoted(name) => return self.user_type(name),
            Tok::Ident(word) => word,
            other => return Err(self.syntax(&format!("expected a type but found {other}"))),
        };
        let takes_args = self.peek() == Some(&Tok::Lt);
        let arity = |this: &Self, args: &[CqlType], n: usize, name: &str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(this.syntax(&format!(
                    "{name} takes {n} type argument{} but {} given",
                    if n == 1 { "" } else { "s" },
                    args.len()
                )))
            }
        };
        match word.as_str() {
            "frozen" | "list" | "set" | "map" | "tuple" if takes_args => {
                let mut args = self.parse_args(depth)?;
                match word.as_str() {
                    "frozen" => {
                        arity(self, &args, 1, "frozen")?;
                        Ok(CqlType::Frozen(Box::new(args.remove(0))))
                    }
                    "list" => {
                        arity(self, &args, 1, "list")?;
                        Ok(CqlType::List(Box::new(args.remove(0))))
                    }
                    "set" => {
                        arity(self, &args, 1, "set")?;
                        Ok(CqlType::Set(Box::new(args.remove(0))))
                    }
                    "map" => {
                        arity(self, &args, 2, "map")?;
                        let v = args.remove(1);
                        let k = args.remove(0);
                        Ok(CqlType::Map(Box::new(k), Box::new(v)))
                    }
                    _ => Ok(CqlType::Tuple(args)),
                }
            }
            "frozen" | "list" | "set" | "map" | "tuple" => {
                Err(self.syntax(&format!("{word} needs type arguments in <...>")))
            }
            _ => match CqlType::native_from_name(&word) {
                Some(t) => Ok(t),
                None => self.user_type(word),
            },
        }
    }

    /// A user type name, possibly `ks.name`, the first part already read.
    fn user_type(&mut self, first: String) -> Result<CqlType, TypeParseError> {
        let (ks, name) = if self.peek() == Some(&Tok::Dot) {
            self.next();
            match self.next() {
                Some(Tok::Ident(n)) | Some(Tok::Quoted(n)) => (Some(first), n),
                Some(t) => return Err(self.syntax(&format!("expected a type name but found {t}"))),
                None => return Err(self.syntax("expected a type name but the text ended")),
            }
        } else {
            (self.keyspace.map(str::to_string), first)
        };
        if let Some(ks) = &ks
            && let Some(t) = (self.resolve)(ks, &name)
        {
            return Ok(t);
        }
        Err(TypeParseError::UnknownType(match ks {
            Some(ks) => format!("{}.{}", quote_identifier(&ks), quote_identifier(&name)),
            None => quote_identifier(&name),
        }))
    }
}

/// Applies Cassandra's placement rules and freezing to a parsed type.
/// `in_frozen` is true inside `frozen<...>` (and inside tuples), where every
/// freezable type is frozen too.
fn canonical(t: &CqlType, in_frozen: bool, depth: usize) -> Result<CqlType, TypeParseError> {
    if depth > MAX_TYPE_DEPTH + 1 {
        return Err(TypeParseError::Invalid(format!(
            "Type nesting deeper than {MAX_TYPE_DEPTH} levels is not supported"
        )));
    }
    let invalid = |msg: String| Err(TypeParseError::Invalid(msg));
    let wrap = |inner: CqlType| {
        if in_frozen {
            CqlType::Frozen(Box::new(inner))
        } else {
            inner
        }
    };
    // An element of a collection: checked, then frozen.
    let element = |e: &CqlType| -> Result<CqlType, TypeParseError> {
        if e.is_counter() {
            return invalid(format!("Counters are not allowed inside collections: {t}"));
        }
        if !in_frozen {
            match e {
                CqlType::List(_) | CqlType::Set(_) | CqlType::Map(_, _) => {
                    return invalid(format!(
                        "Non-frozen collections are not allowed inside collections: {t}"
                    ));
                }
                CqlType::Udt { .. } => {
                    return invalid(format!(
                        "Non-frozen UDTs are not allowed inside collections: {t}"
                    ));
                }
                _ => {}
            }
        }
        canonical(e, true, depth + 1)
    };
    match t {
        CqlType::Frozen(inner) => {
            if !inner.supports_freezing() {
                return invalid(format!(
                    "frozen<> is only allowed on collections, tuples, and user-defined types (got {inner})"
                ));
            }
            let c = canonical(inner, true, depth + 1)?;
            // canonical() in a frozen context already wraps freezable types.
            Ok(c.frozen())
        }
        CqlType::List(e) => Ok(wrap(CqlType::List(Box::new(element(e)?)))),
        CqlType::Set(e) => {
            if matches!(e.unfrozen(), CqlType::Duration) {
                return invalid(format!("Durations are not allowed inside sets: {t}"));
            }
            Ok(wrap(CqlType::Set(Box::new(element(e)?))))
        }
        CqlType::Map(k, v) => {
            if matches!(k.unfrozen(), CqlType::Duration) {
                return invalid(format!("Durations are not allowed as map keys: {t}"));
            }
            Ok(wrap(CqlType::Map(
                Box::new(element(k)?),
                Box::new(element(v)?),
            )))
        }
        CqlType::Tuple(ts) => {
            let mut out = Vec::with_capacity(ts.len());
            for e in ts {
                if e.is_counter() {
                    return invalid("Counters are not allowed inside tuples".to_string());
                }
                out.push(canonical(e, true, depth + 1)?);
            }
            Ok(CqlType::Frozen(Box::new(CqlType::Tuple(out))))
        }
        CqlType::Udt {
            keyspace,
            name,
            fields,
        } => {
            if !in_frozen {
                return Ok(t.clone());
            }
            let mut out = Vec::with_capacity(fields.len());
            for (f, ft) in fields {
                out.push((f.clone(), canonical(ft, true, depth + 1)?));
            }
            Ok(CqlType::Frozen(Box::new(CqlType::Udt {
                keyspace: keyspace.clone(),
                name: name.clone(),
                fields: out,
            })))
        }
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CqlType {
        match CqlType::parse(s) {
            Ok(t) => t,
            Err(e) => panic!("parse {s:?}: {e}"),
        }
    }

    fn err(s: &str) -> TypeParseError {
        match CqlType::parse(s) {
            Ok(t) => panic!("parse {s:?} should fail, gave {t}"),
            Err(e) => e,
        }
    }

    #[test]
    fn natives_parse_and_display() {
        for (name, t) in NATIVE_NAMES.iter() {
            assert_eq!(&p(name), t);
            assert_eq!(&p(&name.to_uppercase()), t);
            let shown = t.to_string();
            if *name == "varchar" {
                assert_eq!(shown, "text");
            } else {
                assert_eq!(&shown, name);
            }
            assert!(t.is_native());
            assert!(!t.is_collection());
        }
    }

    #[test]
    fn collections_display_like_system_schema() {
        assert_eq!(
            p("map<text, frozen<list<int>>>").to_string(),
            "map<text, frozen<list<int>>>"
        );
        assert_eq!(
            p("  MAP < VARCHAR ,FROZEN<LIST<INT>> >  ").to_string(),
            "map<text, frozen<list<int>>>"
        );
        assert_eq!(p("list<int>").to_string(), "list<int>");
        assert_eq!(p("set<uuid>").to_string(), "set<uuid>");
        assert_eq!(p("frozen<set<text>>").to_string(), "frozen<set<text>>");
        assert_eq!(
            p("frozen<tuple<int, text>>").to_string(),
            "frozen<tuple<int, text>>"
        );
        assert_eq!(p("tuple<int,text>").to_string(), "frozen<tuple<int, text>>");
        assert_eq!(
            p("frozen<list<list<int>>>").to_string(),
            "frozen<list<frozen<list<int>>>>"
        );
        assert_eq!(
            p("frozen<frozen<list<int>>>").to_string(),
            "frozen<list<int>>"
        );
        assert_eq!(
            p("tuple<int, list<int>>").to_string(),
            "frozen<tuple<int, frozen<list<int>>>>"
        );
        assert_eq!(
            p("'org.apache.cassandra.db.marshal.BytesType'").to_string(),
            "'org.apache.cassandra.db.marshal.BytesType'"
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "int",
            "map<text, frozen<list<int>>>",
            "frozen<map<frozen<set<int>>, frozen<tuple<int, text, frozen<list<blob>>>>>>",
            "list<frozen<tuple<timeuuid, inet>>>",
            "set<frozen<map<int, text>>>",
            "frozen<tuple<duration, 'com.example.Custom'>>",
        ] {
            let t = p(s);
            assert_eq!(p(&t.to_string()), t, "{s}");
        }
    }

    #[test]
    fn structure() {
        assert_eq!(
            p("map<int, frozen<list<text>>>"),
            CqlType::Map(
                Box::new(CqlType::Int),
                Box::new(CqlType::Frozen(Box::new(CqlType::List(Box::new(
                    CqlType::Text
                )))))
            )
        );
    }

    #[test]
    fn refusals_use_cassandra_wording() {
        assert_eq!(
            err("list<list<int>>").to_string(),
            "Non-frozen collections are not allowed inside collections: list<list<int>>"
        );
        assert_eq!(
            err("map<int, set<int>>").to_string(),
            "Non-frozen collections are not allowed inside collections: map<int, set<int>>"
        );
        assert_eq!(
            err("frozen<int>").to_string(),
            "frozen<> is only allowed on collections, tuples, and user-defined types (got int)"
        );
        assert_eq!(
            err("list<counter>").to_string(),
            "Counters are not allowed inside collections: list<counter>"
        );
        assert_eq!(
            err("set<duration>").to_string(),
            "Durations are not allowed inside sets: set<duration>"
        );
        assert_eq!(
            err("map<duration, int>").to_string(),
            "Durations are not allowed as map keys: map<duration, int>"
        );
        assert!(CqlType::parse("map<int, duration>").is_ok());
        assert!(CqlType::parse("list<duration>").is_ok());
    }

    #[test]
    fn unknown_types() {
        assert_eq!(err("address").to_string(), "Unknown type address");
        assert_eq!(err("ks.address").to_string(), "Unknown type ks.address");
        assert_eq!(
            CqlType::parse_in_keyspace("frozen<Address>", "ks").map_err(|e| e.to_string()),
            Err("Unknown type ks.address".to_string())
        );
        assert_eq!(
            CqlType::parse_in_keyspace("\"Address\"", "ks").map_err(|e| e.to_string()),
            Err("Unknown type ks.\"Address\"".to_string())
        );
        assert!(matches!(err("foo"), TypeParseError::UnknownType(_)));
    }

    #[test]
    fn resolver_finds_user_types() {
        let udt = CqlType::Udt {
            keyspace: "ks".into(),
            name: "address".into(),
            fields: vec![
                ("street".into(), CqlType::Text),
                (
                    "zips".into(),
                    CqlType::Frozen(Box::new(CqlType::List(Box::new(CqlType::Int)))),
                ),
            ],
        };
        let u2 = udt.clone();
        let resolve = move |ks: &str, n: &str| (ks == "ks" && n == "address").then(|| u2.clone());
        let t = CqlType::parse_with("address", Some("ks"), &resolve).unwrap_or(CqlType::Int);
        assert_eq!(t, udt);
        assert!(t.is_multicell());
        let t = CqlType::parse_with("list<frozen<address>>", Some("ks"), &resolve)
            .unwrap_or(CqlType::Int);
        assert_eq!(t.to_string(), "list<frozen<address>>");
        assert_eq!(
            CqlType::parse_with("list<address>", Some("ks"), &resolve).map_err(|e| e.to_string()),
            Err("Non-frozen UDTs are not allowed inside collections: list<address>".into())
        );
    }

    #[test]
    fn syntax_errors() {
        for s in [
            "",
            "map<int>",
            "list<int",
            "list<>",
            "int int",
            "list",
            "map<int, int, int>",
            "list<int>>",
            "<int>",
            "frozen<>",
            "tuple<>",
            "int,",
            "'unterminated",
            "list<int;>",
            "ks.",
            "ks.<",
            "map<,int>",
        ] {
            match CqlType::parse(s) {
                Ok(t) => panic!("{s:?} parsed as {t}"),
                Err(TypeParseError::Syntax(msg)) => assert!(msg.contains("Invalid type"), "{msg}"),
                Err(other) => panic!("{s:?}: expected a syntax error, got {other:?}"),
            }
        }
    }

    #[test]
    fn depth_is_capped() {
        let deep = format!("{}int{}", "frozen<list<".repeat(40), ">>".repeat(40));
        assert!(matches!(
            CqlType::parse(&deep),
            Err(TypeParseError::Invalid(_))
        ));
        let ok = format!("{}int{}", "frozen<list<".repeat(10), ">>".repeat(10));
        assert!(CqlType::parse(&ok).is_ok());
        // Hostile: a huge run of '<' must not overflow the stack.
        let hostile = "list<".repeat(100_000);
        assert!(CqlType::parse(&hostile).is_err());
    }

    #[test]
    fn predicates() {
        let l = p("list<int>");
        assert!(l.is_collection() && l.is_multicell() && !l.is_frozen());
        let fl = p("frozen<list<int>>");
        assert!(fl.is_collection() && !fl.is_multicell() && fl.is_frozen());
        assert_eq!(fl.unfrozen(), &l);
        let tup = p("tuple<int>");
        assert!(!tup.is_collection() && !tup.is_multicell() && tup.supports_freezing());
        assert!(p("counter").is_counter());
        assert!(p("frozen<tuple<int>>").depth() == 1);
        assert!(!CqlType::Int.supports_freezing());
        assert_eq!(CqlType::Int.frozen(), CqlType::Int);
        assert_eq!(l.clone().frozen(), fl);
        assert!(CqlType::Tuple(vec![CqlType::Counter]).contains_counter());
    }

    #[test]
    fn validator_classes() {
        assert_eq!(
            CqlType::Int.validator_class(),
            "org.apache.cassandra.db.marshal.Int32Type"
        );
        assert_eq!(
            p("map<text, frozen<list<int>>>").validator_class(),
            "org.apache.cassandra.db.marshal.MapType(org.apache.cassandra.db.marshal.UTF8Type,\
             org.apache.cassandra.db.marshal.FrozenType(org.apache.cassandra.db.marshal.ListType(\
             org.apache.cassandra.db.marshal.Int32Type)))"
        );
        assert_eq!(CqlType::Text.option_id(), 0x000D);
        assert_eq!(p("frozen<list<int>>").option_id(), 0x0020);
        assert_eq!(p("tuple<int>").option_id(), 0x0031);
    }

    #[test]
    fn identifiers_quote_when_needed() {
        assert_eq!(quote_identifier("abc_1"), "abc_1");
        assert_eq!(quote_identifier("Abc"), "\"Abc\"");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_identifier("1a"), "\"1a\"");
        assert_eq!(quote_identifier(""), "\"\"");
    }
}
