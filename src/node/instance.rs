//! A running node: storage, engine and CQL listener, started and stopped
//! as one value, so a test or the control plane can run many in one process
//! and `ccrsim node` is a thin wrapper.
//!
//! The connection protocol lives here too ([`Dispatch`]): the handshake
//! (OPTIONS, STARTUP, AUTHENTICATE with SASL PLAIN), REGISTER for pushed
//! events, and the requests that run statements. Statements run on tokio's
//! blocking pool (storage and bcrypt block); the frame is decoded there as
//! well, so nothing borrowed crosses threads. The client warnings a
//! statement raises there ([`super::cql::warn`]) go out with its response,
//! after any the server added (backpressure). A STARTUP with
//! `THROW_ON_OVERLOAD` set to `1` asks for Overloaded rather than
//! backpressure when the node holds too many request bytes; frames the
//! server refuses on their header ([`Refusal`]) are answered here with
//! Cassandra's error codes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{broadcast, mpsc};

use super::auth::sasl_plain;
use super::cluster::gossip::{AppState, Status};
use super::cluster::member::{Core, GossipSettings, Member, Timeouts};
use super::cluster::transport::Faults;
use super::config::{Authenticator, Authorizer, NodeConfig};
use super::cql::ast::BatchType;
use super::cql::exec::{Engine, EngineConfig, Options, Session};
use super::cql::warn;
use super::error::QueryError;
use super::limits::Refusal;
use super::protocol::frame::{
    BatchKind, BatchStatement, Event, Header, Opcode, Request, Response, ResultBody, check_version,
    decode_request, encode_response_warned,
};
use super::ring::LocalIdentity;
use super::server::{BoxFuture, CqlServer, Dispatcher, RawFrame, Reply};
use super::storage::Storage;
use super::system::{NodeInfo, RELEASE_VERSION};

pub const PASSWORD_AUTHENTICATOR: &str = "org.apache.cassandra.auth.PasswordAuthenticator";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("cannot open the data directory {dir}: {reason}")]
    Storage { dir: String, reason: String },
    #[error("cannot listen for CQL clients on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("{0}")]
    Start(String),
}

/// A started node.
pub struct Node {
    pub engine: Arc<Engine>,
    pub cql_addr: SocketAddr,
    pub member: Member,
    server: CqlServer,
}

impl Node {
    /// Opens the data directory, loads or creates the node's identity and
    /// schema, and starts listening for CQL clients.
    pub async fn start(cfg: NodeConfig) -> Result<Node, NodeError> {
        Self::start_with(cfg, Arc::new(Faults::default()), GossipSettings::default()).await
    }

    /// Starts with a test network (`faults`) and gossip timing of the caller's choice.
    pub async fn start_with(
        cfg: NodeConfig,
        faults: Arc<Faults>,
        gossip: GossipSettings,
    ) -> Result<Node, NodeError> {
        let dir = cfg.data_dir.clone();
        let sync = cfg.commitlog_sync;
        let num_tokens = cfg.num_tokens;
        let seed = cfg.identity_seed();
        let storage = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&dir).map_err(|e| NodeError::Storage {
                dir: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let storage = Storage::open(&dir, sync).map_err(|e| NodeError::Storage {
                dir: dir.display().to_string(),
                reason: e.to_string(),
            })?;
            let identity = LocalIdentity::load_or_create(&storage, num_tokens, seed)
                .map_err(|e| NodeError::Start(format!("node identity: {e}")))?;
            Ok::<_, NodeError>((storage, identity))
        })
        .await
        .map_err(|e| NodeError::Start(e.to_string()))??;
        let (storage, identity) = storage;
        let identity_tokens = identity.tokens.clone();
        let info = NodeInfo {
            host_id: identity.host_id,
            datacenter: cfg.dc.clone(),
            rack: cfg.rack.clone(),
            listen_address: cfg.listen_address,
            listen_port: cfg.storage_port,
            broadcast_address: cfg.broadcast_address,
            rpc_address: cfg.broadcast_rpc_address,
            native_port: cfg.cql_port,
            tokens: identity_tokens,
            schema_version: [0; 16],
            release_version: RELEASE_VERSION.to_string(),
        };
        let ecfg = EngineConfig {
            cluster_name: cfg.cluster_name.clone(),
            auth_enabled: cfg.authenticator == Authenticator::Password,
            authorization: cfg.authenticator == Authenticator::Password
                && cfg.authorizer == Authorizer::Cassandra,
            superuser_name: cfg.superuser_name.clone(),
            superuser_password: cfg.superuser_password.clone(),
            batch_limits: cfg.batch,
        };
        let storage = Arc::new(storage);
        let engine = tokio::task::spawn_blocking(move || Engine::open(storage, info, ecfg))
            .await
            .map_err(|e| NodeError::Start(e.to_string()))?
            .map_err(|e| NodeError::Start(e.to_string()))?;
        let engine = Arc::new(engine);
        let addr = SocketAddr::new(cfg.rpc_address, cfg.cql_port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| NodeError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        let (events, _) = broadcast::channel(256);
        let app = AppState {
            host_id: identity.host_id,
            datacenter: cfg.dc.clone(),
            rack: cfg.rack.clone(),
            tokens: identity.tokens.clone(),
            status: Status::Normal,
            schema_version: engine.schema().version(),
            rpc_address: cfg.broadcast_rpc_address,
            native_port: cfg.cql_port,
            release_version: RELEASE_VERSION.to_string(),
            load: 0,
        };
        let seeds = if cfg.seeds.is_empty() {
            vec![cfg.listen_address]
        } else {
            cfg.seeds.clone()
        };
        let member = Member::start(
            engine.clone(),
            cfg.listen_address,
            cfg.storage_port,
            app,
            seeds,
            gossip,
            faults,
            events.clone(),
            Timeouts {
                write: cfg.write_request_timeout,
                read: cfg.read_request_timeout,
                max_hint_window: cfg.max_hint_window,
            },
        )
        .await
        .map_err(|e| NodeError::Listen {
            addr: SocketAddr::new(cfg.listen_address, cfg.storage_port),
            reason: e.to_string(),
        })?;
        let dispatch = Arc::new(Dispatch {
            engine: engine.clone(),
            events,
            member: member.core.clone(),
            slots: Arc::new(tokio::sync::Semaphore::new(EXECUTION_SLOTS)),
        });
        let server =
            CqlServer::start(listener, dispatch, cfg.transport).map_err(|e| NodeError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        let cql_addr = server.addr;
        tracing::info!(
            "Starting listening for CQL clients on /{}:{} (unencrypted)...",
            cql_addr.ip(),
            cql_addr.port()
        );
        Ok(Node {
            engine,
            cql_addr,
            member,
            server,
        })
    }

    /// Request bytes the node holds for clients at `ip`, and for all
    /// (`native_transport_max_request_data_in_flight[_per_ip]`).
    pub fn bytes_in_flight(&self, ip: std::net::IpAddr) -> (u64, u64) {
        self.server.bytes_in_flight(ip)
    }

    /// Client connections open, and how many of them are paused by
    /// backpressure (Cassandra's `connectedNativeClients` and `PausedConnections`).
    pub fn client_connections(&self) -> (u64, u64) {
        (self.server.connections(), self.server.paused_connections())
    }

    /// Stops accepting clients, lets requests in flight finish, flushes storage.
    pub async fn stop(self) {
        self.member.stop().await;
        self.server.shutdown().await;
        let storage = self.engine.storage.clone();
        let _ = tokio::task::spawn_blocking(move || storage.flush()).await;
    }
}

/// The connection protocol.
pub struct Dispatch {
    engine: Arc<Engine>,
    events: broadcast::Sender<Event>,
    member: Arc<Core>,
    /// Statements running at once on the blocking pool (a coordinator may
    /// wait there for replicas; the bound keeps threads free for the
    /// replica side of other nodes in the same process).
    slots: Arc<tokio::sync::Semaphore>,
}

/// See [`Dispatch::slots`].
const EXECUTION_SLOTS: usize = 64;

#[derive(Default)]
struct ConnState {
    started: bool,
    authenticated: bool,
    /// STARTUP's `THROW_ON_OVERLOAD`: Overloaded rather than backpressure.
    throw_on_overload: bool,
    session: Session,
}

pub struct Conn {
    state: Mutex<ConnState>,
    events: mpsc::Sender<Vec<u8>>,
    forwarder: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A response frame with the request's client warnings.
fn respond(stream: i16, r: &Response, warnings: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_response_warned(&mut out, stream, r, warnings);
    out
}

fn error(stream: i16, e: &QueryError, warnings: &[String]) -> Vec<u8> {
    respond(stream, &Response::Error(e.clone()), warnings)
}

impl Dispatcher for Dispatch {
    type Conn = Conn;

    fn open(&self, _peer: SocketAddr, events: mpsc::Sender<Vec<u8>>) -> Arc<Conn> {
        Arc::new(Conn {
            state: Mutex::new(ConnState::default()),
            events,
            forwarder: Mutex::new(None),
        })
    }

    fn is_sequential(&self, conn: &Conn, frame: &RawFrame) -> bool {
        let ready = {
            let s = conn.state.lock().unwrap_or_else(|e| e.into_inner());
            s.started && s.authenticated
        };
        !ready
            || matches!(
                Opcode::from_u8(frame.opcode()),
                Some(Opcode::Startup | Opcode::AuthResponse | Opcode::Register | Opcode::Options)
            )
    }

    fn handle(self: &Arc<Self>, conn: Arc<Conn>, frame: RawFrame) -> BoxFuture<Reply> {
        let me = self.clone();
        Box::pin(async move { me.handle_frame(conn, frame).await })
    }

    fn authenticated(&self, conn: &Conn) -> bool {
        let s = conn.state.lock().unwrap_or_else(|e| e.into_inner());
        s.started && s.authenticated
    }

    fn throw_on_overload(&self, conn: &Conn) -> bool {
        conn.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .throw_on_overload
    }

    fn refuse(&self, _conn: &Conn, header: &[u8; 9], why: &Refusal) -> Vec<u8> {
        let stream = i16::from_be_bytes([header[2], header[3]]);
        let message = why.to_string();
        let e = match why {
            Refusal::TooBig { .. } => QueryError::Invalid(message),
            Refusal::TooBigBeforeAuth { .. } => QueryError::Protocol(message),
            Refusal::Overloaded { .. } => QueryError::Overloaded(message),
        };
        error(stream, &e, &[])
    }

    fn close(&self, conn: &Conn) {
        if let Some(f) = conn
            .forwarder
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            f.abort();
        }
    }
}

impl Dispatch {
    async fn handle_frame(self: Arc<Self>, conn: Arc<Conn>, frame: RawFrame) -> Reply {
        let stream = frame.stream();
        let warnings = frame.warnings.clone();
        if let Err(bytes) = check_version(frame.version(), stream) {
            return Reply::SendAndClose(bytes);
        }
        let header = Header::parse(&frame.header);
        let opcode = Opcode::from_u8(header.opcode);
        let (started, authenticated) = {
            let s = conn.state.lock().unwrap_or_else(|e| e.into_inner());
            (s.started, s.authenticated)
        };
        match opcode {
            Some(Opcode::Options) => {
                return Reply::Send(respond(
                    stream,
                    &Response::Supported(vec![
                        ("CQL_VERSION", vec![super::system::CQL_VERSION]),
                        ("COMPRESSION", vec![]),
                        ("PROTOCOL_VERSIONS", vec!["4/v4"]),
                    ]),
                    &warnings,
                ));
            }
            Some(Opcode::Startup) => {
                let options = match decode_request(&header, &frame.body) {
                    Ok(Request::Startup(options)) => options,
                    Ok(_) => Vec::new(),
                    Err(e) => {
                        let e = QueryError::Protocol(e.0);
                        return Reply::SendAndClose(error(stream, &e, &warnings));
                    }
                };
                let auth = self.engine.auth_enabled;
                {
                    let mut s = conn.state.lock().unwrap_or_else(|e| e.into_inner());
                    s.started = true;
                    s.authenticated = !auth;
                    // Cassandra's test: the option's value is exactly "1".
                    s.throw_on_overload = options.contains(&("THROW_ON_OVERLOAD", "1"));
                }
                return Reply::Send(if auth {
                    respond(
                        stream,
                        &Response::Authenticate(PASSWORD_AUTHENTICATOR),
                        &warnings,
                    )
                } else {
                    respond(stream, &Response::Ready, &warnings)
                });
            }
            _ if !started => {
                return Reply::SendAndClose(error(
                    stream,
                    &QueryError::Protocol(format!(
                        "Unexpected message {}, expecting STARTUP or OPTIONS",
                        opcode.map_or("UNKNOWN".to_string(), |o| format!("{o:?}").to_uppercase())
                    )),
                    &warnings,
                ));
            }
            Some(Opcode::AuthResponse) => {
                let engine = self.engine.clone();
                let body = frame.body;
                let result = tokio::task::spawn_blocking(move || {
                    let req =
                        decode_request(&header, &body).map_err(|e| QueryError::Protocol(e.0))?;
                    let Request::AuthResponse(token) = req else {
                        return Err(QueryError::Protocol("not an AUTH_RESPONSE".into()));
                    };
                    let (user, password) = sasl_plain(token.unwrap_or_default())?;
                    engine.login(&user, &password)?;
                    Ok(user)
                })
                .await
                .unwrap_or_else(|e| Err(QueryError::Server(e.to_string())));
                return match result {
                    Ok(user) => {
                        let mut s = conn.state.lock().unwrap_or_else(|e| e.into_inner());
                        s.authenticated = true;
                        s.session.user = Some(user);
                        Reply::Send(respond(stream, &Response::AuthSuccess, &warnings))
                    }
                    Err(e) => Reply::Send(error(stream, &e, &warnings)),
                };
            }
            _ if !authenticated => {
                return Reply::SendAndClose(error(
                    stream,
                    &QueryError::Protocol(
                        "Unexpected message, expecting SASL_RESPONSE (AUTH_RESPONSE)".into(),
                    ),
                    &warnings,
                ));
            }
            Some(Opcode::Register) => {
                let mut rx = self.events.subscribe();
                let tx = conn.events.clone();
                let task = tokio::spawn(async move {
                    loop {
                        match rx.recv().await {
                            Ok(ev) => {
                                let bytes = respond(-1, &Response::Event(ev), &[]);
                                if tx.send(bytes).await.is_err() {
                                    return;
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => continue,
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                });
                if let Some(old) = conn
                    .forwarder
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .replace(task)
                {
                    old.abort();
                }
                return Reply::Send(respond(stream, &Response::Ready, &warnings));
            }
            _ => {}
        }
        let engine = self.engine.clone();
        let conn2 = conn.clone();
        let Ok(slot) = self.slots.clone().acquire_owned().await else {
            return Reply::Send(error(
                stream,
                &QueryError::Server("the node is stopping".into()),
                &warnings,
            ));
        };
        let (out, raised) = tokio::task::spawn_blocking(move || {
            let r = warn::capture(|| run(&engine, &conn2, header, &frame.body));
            drop(slot);
            r
        })
        .await
        .unwrap_or_else(|e| {
            let e = QueryError::Server(format!("request failed: {e}"));
            (Err(e), Vec::new())
        });
        let mut warnings = warnings;
        warnings.extend(raised);
        match out {
            Ok(body) => {
                if let ResultBody::SchemaChange(sc) = &body {
                    let _ = self.events.send(Event::SchemaChange(sc.clone()));
                    self.member.push_schema();
                }
                Reply::Send(respond(stream, &Response::Result(body), &warnings))
            }
            Err(e @ QueryError::Protocol(_)) => Reply::SendAndClose(error(stream, &e, &warnings)),
            Err(e) => Reply::Send(error(stream, &e, &warnings)),
        }
    }
}

fn options<'a>(p: &super::protocol::frame::QueryParams<'a>) -> Options<'a> {
    Options {
        values: p.values.clone(),
        names: p.names.clone(),
        page_size: p.page_size,
        paging_state: p.paging_state,
        default_timestamp: p.default_timestamp,
        skip_metadata: p.skip_metadata,
        consistency: p.consistency,
        serial_consistency: p.serial_consistency,
    }
}

/// A statement of a BATCH message: parsed from its text, or prepared before.
enum BatchItem {
    Parsed(
        Box<super::cql::ast::Statement>,
        Vec<super::protocol::frame::ColumnSpec>,
    ),
    Prepared(Arc<super::cql::exec::Prepared>),
}

/// Decodes and runs a QUERY, PREPARE, EXECUTE or BATCH (on a blocking thread).
fn run(
    engine: &Engine,
    conn: &Conn,
    header: Header,
    body: &[u8],
) -> Result<ResultBody, QueryError> {
    let req = decode_request(&header, body).map_err(|e| QueryError::Protocol(e.0))?;
    let mut session = conn
        .state
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .session
        .clone();
    let before = session.keyspace.clone();
    let result = match req {
        Request::Query { query, params } => engine.query(&mut session, query, &options(&params)),
        Request::Prepare { query } => {
            let p = engine.prepare(&session, query)?;
            Ok(ResultBody::Prepared {
                id: p.id.to_vec(),
                bind: p.bind.clone(),
                pk_indexes: p.pk_indexes.clone(),
                result: p.result.clone(),
            })
        }
        Request::Execute { id, params } => {
            let p = engine
                .cached(id)
                .ok_or_else(|| QueryError::Unprepared(id.to_vec()))?;
            let mut s = session.clone();
            if p.keyspace.is_some() {
                s.keyspace = p.keyspace.clone();
            }
            let r = engine.execute(&mut s, &p.statement, &p.bind, &options(&params));
            if let Ok(ResultBody::SetKeyspace(k)) = &r {
                session.keyspace = Some(k.clone());
            }
            r
        }
        Request::Batch {
            kind,
            statements,
            default_timestamp,
            consistency,
            ..
        } => {
            // Prepared statements are shared, not copied: a small BATCH
            // can name a large one thousands of times.
            let mut held = Vec::with_capacity(statements.len());
            for (st, values) in statements {
                match st {
                    BatchStatement::Query(text) => {
                        let stmt = super::cql::parse(text)?;
                        let bind = engine.bind_specs(&session, &stmt)?;
                        held.push((BatchItem::Parsed(Box::new(stmt), bind), values));
                    }
                    BatchStatement::Prepared(id) => {
                        let p = engine
                            .cached(id)
                            .ok_or_else(|| QueryError::Unprepared(id.to_vec()))?;
                        held.push((BatchItem::Prepared(p), values));
                    }
                }
            }
            let kind = match kind {
                BatchKind::Logged => BatchType::Logged,
                BatchKind::Unlogged => BatchType::Unlogged,
                BatchKind::Counter => BatchType::Counter,
            };
            let items: Vec<_> = held
                .iter()
                .map(|(item, values)| match item {
                    BatchItem::Parsed(stmt, bind) => (&**stmt, bind.as_slice(), values.clone()),
                    BatchItem::Prepared(p) => (&p.statement, p.bind.as_slice(), values.clone()),
                })
                .collect();
            engine.batch_message(&mut session, kind, &items, default_timestamp, consistency)
        }
        other => Err(QueryError::Protocol(format!(
            "Unexpected message {:?} after the handshake",
            std::mem::discriminant(&other)
        ))),
    };
    if session.keyspace != before {
        conn.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .session
            .keyspace = session.keyspace.clone();
    }
    result
}
