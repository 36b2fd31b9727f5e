//! One client connection: the native protocol's conversation.
//!
//! [`Dispatch`] is what the [`server`](crate::node::transport::server)
//! hands each frame to: the handshake (OPTIONS, STARTUP, AUTHENTICATE with
//! SASL PLAIN), REGISTER for pushed events, and the requests that run
//! statements. A statement is a future this awaits on the async runtime:
//! it waits for replicas and for the store without holding a thread (the
//! store's writer and read stage do the blocking work, bcrypt included),
//! and a panic in it fails that request alone. The client warnings a
//! statement raises ([`crate::node::cql::warn`]) go out with its response,
//! after any the server added (backpressure). A STARTUP with `THROW_ON_OVERLOAD` set to
//! `1` asks for Overloaded rather than backpressure when the node holds too
//! many request bytes; frames the server refuses on their header
//! ([`Refusal`]) are answered here with Cassandra's error codes.

use crate::node::auth::sasl_plain;
use crate::node::cluster::member::Core;
use crate::node::cql::ast::BatchType;
use crate::node::cql::exec::{Engine, Options, Session};
use crate::node::cql::warn;
use crate::node::error::QueryError;
use crate::node::transport::limits::Refusal;
use crate::node::transport::protocol::frame::{
    BatchKind, BatchStatement, Event, Header, Opcode, Request, Response, ResultBody, check_version,
    decode_request, encode_response_warned,
};
use crate::node::transport::server::{BoxFuture, Dispatcher, RawFrame, Reply};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, mpsc};

/// The connection protocol, one per node; [`Conn`] holds each connection's state.
pub struct Dispatch {
    engine: Arc<Engine>,
    events: broadcast::Sender<Event>,
    member: Arc<Core>,
    /// Statements running at once on this node: the bound keeps what the
    /// node holds for requests in flight, and the queues of its store, in
    /// proportion.
    slots: Arc<tokio::sync::Semaphore>,
}

/// See [`Dispatch::slots`].
const EXECUTION_SLOTS: usize = 64;

impl Dispatch {
    /// The connection protocol of a node: statements go to `engine`, pushed
    /// events come from `events`, topology and status from `member`.
    pub fn new(
        engine: Arc<Engine>,
        events: broadcast::Sender<Event>,
        member: Arc<Core>,
    ) -> Dispatch {
        Dispatch {
            engine,
            events,
            member,
            slots: Arc::new(tokio::sync::Semaphore::new(EXECUTION_SLOTS)),
        }
    }
}

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
                        ("CQL_VERSION", vec![crate::node::db::system::CQL_VERSION]),
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
                        &Response::Authenticate(crate::node::auth::PASSWORD_AUTHENTICATOR),
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
                let result = async {
                    let req =
                        decode_request(&header, &body).map_err(|e| QueryError::Protocol(e.0))?;
                    let Request::AuthResponse(token) = req else {
                        return Err(QueryError::Protocol("not an AUTH_RESPONSE".into()));
                    };
                    let (user, password) = sasl_plain(token.unwrap_or_default())?;
                    engine.login(&user, &password).await?;
                    Ok(user)
                }
                .await;
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
        // A panic in the statement fails this request alone (ServerError);
        // the connection and the node carry on.
        let ran = std::panic::AssertUnwindSafe(warn::capture_async(run(
            &engine,
            &conn2,
            header,
            &frame.body,
        )));
        let (out, raised) = futures_util::FutureExt::catch_unwind(ran)
            .await
            .unwrap_or_else(|_| {
                let e = QueryError::Server("the request failed: the node panicked on it".into());
                (Err(e), Vec::new())
            });
        drop(slot);
        let mut warnings = warnings;
        warnings.extend(raised);
        match out {
            Ok(body) => {
                if let ResultBody::SchemaChange(sc) = &body {
                    let _ = self.events.send(Event::SchemaChange(sc.clone()));
                    self.member.push_schema().await;
                }
                Reply::Send(respond(stream, &Response::Result(body), &warnings))
            }
            Err(e @ QueryError::Protocol(_)) => Reply::SendAndClose(error(stream, &e, &warnings)),
            Err(e) => Reply::Send(error(stream, &e, &warnings)),
        }
    }
}

fn options<'a>(p: &crate::node::transport::protocol::frame::QueryParams<'a>) -> Options<'a> {
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
        Box<crate::node::cql::ast::Statement>,
        Vec<crate::node::transport::protocol::frame::ColumnSpec>,
    ),
    Prepared(Arc<crate::node::cql::exec::Prepared>),
}

/// Decodes and runs a QUERY, PREPARE, EXECUTE or BATCH.
async fn run(
    engine: &Arc<Engine>,
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
        Request::Query { query, params } => {
            engine.query(&mut session, query, &options(&params)).await
        }
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
            let r = engine
                .execute(&mut s, &p.statement, &p.bind, &options(&params))
                .await;
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
                        let stmt = crate::node::cql::parse(text)?;
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
            engine
                .batch_message(&mut session, kind, &items, default_timestamp, consistency)
                .await
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
