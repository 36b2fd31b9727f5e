//! Entry points for fuzzing (the `fuzz/` crate's libFuzzer targets and the
//! stable smoke test in `tests/fuzz_smoke.rs` call these). Each must
//! return, never panic, whatever the bytes:
//!
//! - [`frame`]: arbitrary bytes into the frame decoder (and the parser for
//!   the text of a QUERY or PREPARE);
//! - [`cql_text`]: arbitrary text into the CQL parser;
//! - [`engine_statements`] (an [`EngineFuzzer`]): whole statements run by a
//!   live engine on real storage, logged in as a superuser, against a schema
//!   whose tables cover the types it stores (every native type, collections,
//!   frozen and nested ones, static columns, compound partition keys,
//!   clustering columns in both orders, a default TTL), as QUERY, as PREPARE then
//!   EXECUTE with bound values, in protocol BATCHes, and paged with a page
//!   size and paging state of the input's choosing.
//!
//! ## The engine input
//! Up to the first 0x00 byte the input is text, one statement a line (lines
//! that are not UTF-8 are skipped); after it, a pool of values the
//! statements' bind markers take in order. A line's first character says
//! how it runs: `!` prepared then executed, `+` one statement of a protocol
//! BATCH (consecutive `+` lines make one batch), `%` paged (page size and
//! paging state from the pool, then up to three more pages), anything else
//! a QUERY (with values from the pool when it has markers). A value from
//! the pool is a tag byte and what follows: 0xFF null, 0xFE unset, 0xFD a
//! 3-byte count and a byte repeated that many times (up to 1 MiB: keys and
//! elements over every limit), 0xFC a typical value of the marker's type,
//! any other n the next n bytes. An empty pool gives typical values.
//!
//! After each input the fuzzer puts the engine back as it was (roles the
//! input created dropped, keyspaces it created dropped, the schema rebuilt
//! if it changed, the tables truncated if anything was written), so an
//! input does the same thing whenever it runs and a crash reproduces alone;
//! after a few hundred truncations it starts over with a fresh engine.
//! With `CCRSIM_FUZZ_TRACE` set, each statement and its outcome is printed.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::node::cql;
use crate::node::cql::ast::{BatchType, Statement};
use crate::node::cql::exec::{Engine, EngineConfig, Options, Session};
use crate::node::cql::wait::wait;
use crate::node::db::schema::SYSTEM_KEYSPACE_NAMES;
use crate::node::db::storage::{CommitlogSync, Storage};
use crate::node::db::system::NodeInfo;
use crate::node::transport::protocol::frame::{
    ColumnSpec, Header, Request, ResultBody, check_version, decode_request,
};
use crate::node::transport::protocol::primitives::Value;
use crate::node::value::types::CqlType;

/// A frame: the first 9 bytes are the header, the rest the body.
pub fn frame(data: &[u8]) {
    let Some((h, body)) = data.split_first_chunk::<9>() else {
        return;
    };
    let _ = check_version(h[0], i16::from_be_bytes([h[2], h[3]]));
    let header = Header::parse(h);
    if let Ok(Request::Query { query, .. } | Request::Prepare { query }) =
        decode_request(&header, body)
    {
        let _ = cql::parse(query);
    }
}

/// CQL text (bytes that are not UTF-8 are skipped, as the frame decoder refuses them).
pub fn cql_text(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = cql::parse(s);
    }
}

/// The schema every input starts from (keyspace `fz`, the session's).
pub const ENGINE_SCHEMA: [&str; 5] = [
    "CREATE KEYSPACE fz WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
    "CREATE TABLE fz.kv (k text PRIMARY KEY, b blob, i int, bi bigint, si smallint, ti tinyint, \
     d double, f float, u uuid, tu timeuuid, ts timestamp, da date, tm time, ip inet, \
     vi varint, de decimal, bo boolean, a ascii)",
    "CREATE TABLE fz.rows (p text, q int, c1 text, c2 bigint, v text, n int, s int static, \
     PRIMARY KEY ((p, q), c1, c2)) WITH CLUSTERING ORDER BY (c1 DESC, c2 ASC)",
    "CREATE TABLE fz.coll (k int PRIMARY KEY, l list<text>, s set<blob>, m map<text, int>, \
     fl frozen<list<int>>, fm frozen<map<int, frozen<set<text>>>>, \
     nested map<int, frozen<list<frozen<map<text, frozen<set<bigint>>>>>>>)",
    "CREATE TABLE fz.ttl (k int, c blob, v text, PRIMARY KEY (k, c)) WITH default_time_to_live = 100",
];

const ENGINE_TABLES: [&str; 4] = ["kv", "rows", "coll", "ttl"];

/// The largest value the pool repeats a byte into (see the module docs).
const MAX_REPEATED: usize = 1 << 20;

/// A value taken from the pool, owned until it is bound.
enum Owned {
    Null,
    Unset,
    Bytes(Vec<u8>),
}

impl Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Unset => Value::Unset,
            Owned::Bytes(b) => Value::Bytes(b),
        }
    }
}

/// The input's values (see the module docs).
struct Pool<'a> {
    bytes: &'a [u8],
    typical: u8,
}

impl Pool<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(*b)
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.bytes.split_at(n.min(self.bytes.len()));
        self.bytes = b;
        a
    }

    fn value(&mut self, ty: &CqlType) -> Owned {
        match self.byte() {
            None => {
                self.typical = self.typical.wrapping_add(1);
                Owned::Bytes(typical(ty, self.typical))
            }
            Some(0xFF) => Owned::Null,
            Some(0xFE) => Owned::Unset,
            Some(0xFD) => {
                let c = self.take(3);
                let n = c.iter().fold(0usize, |n, b| n << 8 | usize::from(*b));
                let fill = self.byte().unwrap_or(b'x');
                Owned::Bytes(vec![fill; n.min(MAX_REPEATED)])
            }
            Some(0xFC) => {
                let n = self.byte().unwrap_or(0);
                Owned::Bytes(typical(ty, n))
            }
            Some(n) => Owned::Bytes(self.take(usize::from(n)).to_vec()),
        }
    }

    fn values(&mut self, specs: &[ColumnSpec]) -> Vec<Owned> {
        specs.iter().map(|s| self.value(&s.ty)).collect()
    }

    fn i32(&mut self) -> Option<i32> {
        let b: [u8; 4] = self.take(4).try_into().ok()?;
        Some(i32::from_be_bytes(b))
    }
}

/// A well-formed value of `ty` (varied by `n`), so that statements with
/// markers mostly run rather than fail on their values.
fn typical(ty: &CqlType, n: u8) -> Vec<u8> {
    let item = |t: &CqlType, out: &mut Vec<u8>| {
        let v = typical(t, n);
        out.extend_from_slice(&(v.len() as i32).to_be_bytes());
        out.extend_from_slice(&v);
    };
    match ty {
        CqlType::Ascii | CqlType::Text => vec![b'a' + n % 26],
        CqlType::Blob | CqlType::Custom(_) => vec![n],
        CqlType::Bigint | CqlType::Counter | CqlType::Timestamp | CqlType::Time => {
            i64::from(n).to_be_bytes().to_vec()
        }
        CqlType::Int => i32::from(n).to_be_bytes().to_vec(),
        CqlType::Date => (0x8000_0000u32 + u32::from(n)).to_be_bytes().to_vec(),
        CqlType::Smallint => i16::from(n).to_be_bytes().to_vec(),
        CqlType::Tinyint => vec![n],
        CqlType::Boolean => vec![n & 1],
        CqlType::Double => f64::from(n).to_be_bytes().to_vec(),
        CqlType::Float => f32::from(n).to_be_bytes().to_vec(),
        CqlType::Uuid | CqlType::Timeuuid => {
            let mut u = [n; 16];
            u[6] = 0x10 | (n & 0x0F); // version 1
            u[8] = 0x80 | (n & 0x3F); // the IETF variant
            u.to_vec()
        }
        CqlType::Inet => vec![127, 0, 0, n],
        CqlType::Varint => vec![n],
        CqlType::Decimal => vec![0, 0, 0, 1, n],
        CqlType::Duration => vec![0, 0, n & 0x3F],
        CqlType::List(t) | CqlType::Set(t) => {
            let mut out = 1i32.to_be_bytes().to_vec();
            item(t, &mut out);
            out
        }
        CqlType::Map(k, v) => {
            let mut out = 1i32.to_be_bytes().to_vec();
            item(k, &mut out);
            item(v, &mut out);
            out
        }
        CqlType::Tuple(ts) => {
            let mut out = Vec::new();
            for t in ts {
                item(t, &mut out);
            }
            out
        }
        CqlType::Udt { fields, .. } => {
            let mut out = Vec::new();
            for (_, t) in fields {
                item(t, &mut out);
            }
            out
        }
        CqlType::Frozen(t) => typical(t, n),
    }
}

/// How much keyspace churn (tables truncated or dropped, by inputs or by
/// restoring) an engine takes before the fuzzer replaces it with a fresh
/// one: each truncation (a new fjall keyspace for the table, the old one
/// deleted) is measurably slower than the one before, which would slow
/// fuzzing to a crawl.
const MAX_CHURN: usize = 64;

/// A live engine that runs fuzz inputs (see the module docs).
pub struct EngineFuzzer {
    engine: Arc<Engine>,
    /// Where the engines keep their data: one subdirectory per engine.
    dir: PathBuf,
    /// The current engine's subdirectory.
    generation: u64,
    /// Tables truncated or dropped since the engine opened.
    churn: usize,
    /// The schema version every input starts from.
    baseline: [u8; 16],
    /// Roles the current input created.
    roles: Vec<String>,
    /// Which of the schema's tables the current input wrote to.
    wrote: [bool; ENGINE_TABLES.len()],
    /// Statements that ran without error, and with one.
    outcomes: (u64, u64),
}

fn superuser() -> Session {
    Session {
        keyspace: Some("fz".into()),
        ..Session::user("cassandra")
    }
}

impl EngineFuzzer {
    /// Opens an engine with its data under `dir` and creates the schema.
    pub fn open(dir: &Path) -> EngineFuzzer {
        let mut f = EngineFuzzer {
            engine: Self::engine(&dir.join("0")),
            dir: dir.to_path_buf(),
            generation: 0,
            churn: 0,
            baseline: [0; 16],
            roles: Vec::new(),
            wrote: [false; ENGINE_TABLES.len()],
            outcomes: (0, 0),
        };
        f.create_schema();
        f
    }

    /// Replaces the engine with a fresh one, in a fresh subdirectory.
    fn renew(&mut self) {
        let old = self.dir.join(self.generation.to_string());
        self.generation += 1;
        self.engine = Self::engine(&self.dir.join(self.generation.to_string()));
        let _ = std::fs::remove_dir_all(old);
        self.churn = 0;
        self.create_schema();
    }

    fn engine(dir: &Path) -> Arc<Engine> {
        std::fs::create_dir_all(dir).expect("the fuzz engine's directory");
        let storage = Storage::open(
            dir,
            CommitlogSync::Periodic(std::time::Duration::from_secs(3600)),
        )
        .expect("the fuzz engine's storage opens");
        let info = NodeInfo {
            host_id: [0x42; 16],
            datacenter: "dc1".into(),
            rack: "rack1".into(),
            listen_address: [127, 0, 0, 1].into(),
            listen_port: 7000,
            broadcast_address: [127, 0, 0, 1].into(),
            rpc_address: [127, 0, 0, 1].into(),
            native_port: 9042,
            tokens: vec![0],
            schema_version: [0; 16],
            release_version: crate::node::db::system::RELEASE_VERSION.into(),
        };
        let cfg = EngineConfig {
            cluster_name: "Fuzz".into(),
            auth_enabled: true,
            authorization: true,
            superuser_name: "cassandra".into(),
            superuser_password: "cassandra".into(),
            batch_limits: Default::default(),
        };
        Arc::new(Engine::open(Arc::new(storage), info, cfg).expect("the fuzz engine opens"))
    }

    fn create_schema(&mut self) {
        let mut s = Session {
            keyspace: Some("fz".into()),
            ..Session::internal()
        };
        for q in ENGINE_SCHEMA {
            wait(self.engine.query(&mut s, q, &Options::default()))
                .expect("the fuzz schema is valid");
        }
        self.baseline = self.engine.schema().version();
    }

    /// Runs one input, then restores the engine's state.
    pub fn run(&mut self, data: &[u8]) {
        let (text, pool) = match data.iter().position(|b| *b == 0) {
            Some(i) => (&data[..i], &data[i + 1..]),
            None => (data, &[][..]),
        };
        let mut pool = Pool {
            bytes: pool,
            typical: 0,
        };
        let mut s = superuser();
        let mut batch: Vec<(Statement, Vec<ColumnSpec>, Vec<Owned>)> = Vec::new();
        for line in text.split(|b| *b == b'\n') {
            let Ok(line) = std::str::from_utf8(line) else {
                continue;
            };
            let mode = line.chars().next().unwrap_or(' ');
            let stmt = line
                .get(1..)
                .filter(|_| "!+%".contains(mode))
                .unwrap_or(line);
            if mode != '+' && !batch.is_empty() {
                self.batch(&mut s, std::mem::take(&mut batch), &mut pool);
            }
            if stmt.trim().is_empty() {
                continue;
            }
            match mode {
                '!' => self.prepared(&mut s, stmt, &mut pool),
                '+' => {
                    // A protocol BATCH item: prepared, or its text parsed as the node does.
                    let item = if pool.byte().is_some_and(|b| b & 1 == 1) {
                        self.engine
                            .prepare(&s, stmt)
                            .map(|p| (p.statement.clone(), p.bind.clone()))
                    } else {
                        cql::parse(stmt)
                            .map_err(Into::into)
                            .and_then(|st| Ok((st.clone(), self.engine.bind_specs(&s, &st)?)))
                    };
                    if let Ok((st, specs)) = item {
                        let values = pool.values(&specs);
                        batch.push((st, specs, values));
                    }
                }
                '%' => self.paged(&mut s, stmt, &mut pool),
                _ => self.query(&mut s, stmt, &mut pool),
            }
        }
        if !batch.is_empty() {
            self.batch(&mut s, batch, &mut pool);
        }
        self.restore();
    }

    /// Notes what a statement that ran changed, for [`Self::restore`].
    fn ran(
        &mut self,
        text: &str,
        stmt: Option<&Statement>,
        r: &Result<ResultBody, crate::node::error::QueryError>,
    ) {
        if std::env::var_os("CCRSIM_FUZZ_TRACE").is_some() {
            let text: String = text.chars().take(200).collect();
            match r {
                Ok(_) => eprintln!("ok    {text}"),
                Err(e) => eprintln!("error {text}\n      {e}"),
            }
        }
        if r.is_err() {
            self.outcomes.1 += 1;
            return;
        }
        self.outcomes.0 += 1;
        match stmt {
            Some(Statement::CreateRole { name, .. }) => self.roles.push(name.clone()),
            Some(Statement::Truncate(_) | Statement::DropTable { .. }) => self.churn += 1,
            Some(Statement::DropKeyspace { .. }) => self.churn += ENGINE_TABLES.len(),
            Some(Statement::Batch(b)) => b.statements.iter().for_each(|st| self.wrote_to(st)),
            Some(st) => self.wrote_to(st),
            // A protocol BATCH.
            None => self.wrote = [true; ENGINE_TABLES.len()],
        }
    }

    /// Notes the table a write went to, if it is one of the schema's.
    fn wrote_to(&mut self, stmt: &Statement) {
        let table = match stmt {
            Statement::Insert(i) => &i.table,
            Statement::Update(u) => &u.table,
            Statement::Delete(d) => &d.table,
            _ => return,
        };
        if table.keyspace.as_deref().is_none_or(|k| k == "fz")
            && let Some(i) = ENGINE_TABLES.iter().position(|t| *t == table.name)
        {
            self.wrote[i] = true;
        }
    }

    fn query(&mut self, s: &mut Session, text: &str, pool: &mut Pool<'_>) {
        let parsed = cql::parse(text).ok();
        let specs = parsed
            .as_ref()
            .and_then(|st| self.engine.bind_specs(s, st).ok())
            .unwrap_or_default();
        let owned = pool.values(&specs);
        let o = Options {
            values: owned.iter().map(Owned::value).collect(),
            ..Default::default()
        };
        let r = wait(self.engine.query(s, text, &o));
        self.ran(text, parsed.as_ref(), &r);
    }

    fn prepared(&mut self, s: &mut Session, text: &str, pool: &mut Pool<'_>) {
        let Ok(p) = self.engine.prepare(s, text) else {
            return;
        };
        let owned = pool.values(&p.bind);
        let o = Options {
            values: owned.iter().map(Owned::value).collect(),
            default_timestamp: pool.byte().filter(|b| *b == 0x7F).and_then(|_| {
                let b: [u8; 8] = pool.take(8).try_into().ok()?;
                Some(i64::from_be_bytes(b))
            }),
            ..Default::default()
        };
        let r = wait(self.engine.execute(s, &p.statement, &p.bind, &o));
        self.ran(text, Some(&p.statement), &r);
    }

    fn paged(&mut self, s: &mut Session, text: &str, pool: &mut Pool<'_>) {
        let Ok(p) = self.engine.prepare(s, text) else {
            return;
        };
        let owned = pool.values(&p.bind);
        let page_size = pool.i32().unwrap_or(2);
        let mut state = match pool.bytes.is_empty() {
            true => None,
            false => match pool.value(&CqlType::Blob) {
                Owned::Bytes(b) => Some(b),
                Owned::Null | Owned::Unset => None,
            },
        };
        for _ in 0..4 {
            let o = Options {
                values: owned.iter().map(Owned::value).collect(),
                page_size: Some(page_size),
                paging_state: state.as_deref(),
                ..Default::default()
            };
            let r = wait(self.engine.execute(s, &p.statement, &p.bind, &o));
            self.ran(text, Some(&p.statement), &r);
            match r {
                Ok(ResultBody::Rows(rows)) if rows.paging_state.is_some() => {
                    state = rows.paging_state;
                }
                _ => return,
            }
        }
    }

    fn batch(
        &mut self,
        s: &mut Session,
        items: Vec<(Statement, Vec<ColumnSpec>, Vec<Owned>)>,
        pool: &mut Pool<'_>,
    ) {
        let items: Vec<(&Statement, &[ColumnSpec], Vec<Value<'_>>)> = items
            .iter()
            .map(|(st, specs, owned)| {
                (
                    st,
                    specs.as_slice(),
                    owned.iter().map(Owned::value).collect(),
                )
            })
            .collect();
        let ts = pool.byte().filter(|b| *b == 0x7F).map(|_| i64::MIN);
        let kind = match pool.byte().map(|b| b % 3) {
            Some(1) => BatchType::Unlogged,
            Some(2) => BatchType::Counter,
            _ => BatchType::Logged,
        };
        let r = wait(
            self.engine
                .batch_message(s, kind, &items, ts, Default::default()),
        );
        self.ran("(protocol batch)", None, &r);
    }

    /// How many statements have run without error, and with one (a test
    /// checks that the seeds mostly run, so fuzzing reaches past errors).
    pub fn outcomes(&self) -> (u64, u64) {
        self.outcomes
    }

    /// Puts the engine back as [`Self::open`] left it.
    fn restore(&mut self) {
        // The harness's own work: an input may have taken the superuser's
        // status away (it may edit system_auth), which is put back first.
        let mut s = Session {
            keyspace: Some("fz".into()),
            ..Session::internal()
        };
        let o = Options::default();
        let _ = wait(self.engine.query(
            &mut s,
            "UPDATE system_auth.roles SET is_superuser = true, can_login = true WHERE role = 'cassandra'",
            &o,
        ));
        if !wait(self.engine.is_superuser("cassandra")).unwrap_or(false) {
            // Beyond repair (a write stamped far in the future): start over.
            self.renew();
            return;
        }
        for role in std::mem::take(&mut self.roles) {
            let q = format!("DROP ROLE IF EXISTS '{}'", role.replace('\'', "''"));
            let _ = wait(self.engine.query(&mut s, &q, &o));
        }
        if self.engine.schema().version() != self.baseline {
            let schema = self.engine.schema();
            let created = schema
                .keyspaces
                .iter()
                .filter(|(k, _)| !SYSTEM_KEYSPACE_NAMES.contains(&k.as_str()) && *k != "fz");
            for (name, ks) in created {
                let q = format!("DROP KEYSPACE IF EXISTS \"{}\"", name.replace('"', "\"\""));
                let _ = wait(self.engine.query(&mut s, &q, &o));
                self.churn += ks.tables.len();
            }
        }
        if self.engine.schema().version() != self.baseline {
            // The input changed the schema's own keyspace (or a system one).
            let _ = wait(self.engine.query(&mut s, "DROP KEYSPACE IF EXISTS fz", &o));
            self.churn += ENGINE_TABLES.len();
            self.create_schema();
        } else {
            for (t, wrote) in ENGINE_TABLES.iter().zip(self.wrote) {
                if wrote {
                    let _ = wait(self.engine.query(&mut s, &format!("TRUNCATE fz.{t}"), &o));
                    self.churn += 1;
                }
            }
        }
        self.wrote = [false; ENGINE_TABLES.len()];
        if self.churn >= MAX_CHURN {
            self.renew();
        }
    }
}

/// Statements against a live engine, for libFuzzer: one [`EngineFuzzer`]
/// per process, its data in a fresh directory (under `/dev/shm` when there
/// is one: the fuzzer syncs often and tmpfs makes that free). Directories
/// left by earlier fuzzing processes that are gone are removed.
pub fn engine_statements(data: &[u8]) {
    static FUZZER: OnceLock<Mutex<EngineFuzzer>> = OnceLock::new();
    let f = FUZZER.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        if let Ok(entries) = std::fs::read_dir(&base) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(pid) = name.strip_prefix("ccrsim-fuzz-engine-")
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(format!("ccrsim-fuzz-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the fuzz engine's directory");
        Mutex::new(EngineFuzzer::open(&dir))
    });
    f.lock().unwrap_or_else(|e| e.into_inner()).run(data);
}
