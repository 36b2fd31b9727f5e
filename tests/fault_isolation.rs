//! Hostile requests over the wire cannot take a process down: statements
//! nested 10 000 deep (QUERY and PREPARE), keys over Cassandra's limit
//! (bound and literal), a small BATCH naming a statement with a 1 MB value
//! thousands of times, and a 70 000-byte username before authentication.
//! Each gets its error, and then:
//!
//! - a `ccrsim node` process keeps serving;
//! - under `ccrsim serve` (nodes in the daemon's process, the default
//!   runtime), the daemon, its API, the service's node and another
//!   service's node keep serving.
//!
//! The frames are written by hand (protocol v4), so nothing in a driver
//! refuses them first. `tests/hostile_input.rs` checks the same requests,
//! and more, against an engine in-process.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Child;

const SYNTAX: i32 = 0x2000;
const INVALID: i32 = 0x2200;
const KEY_TOO_LONG: &str = "Key length of 70000 is longer than maximum of 65535";

/// A CQL connection speaking raw protocol v4 frames.
struct Cql {
    s: TcpStream,
    stream: i16,
}

/// An ERROR frame's code and message.
type CqlError = (i32, String);

fn long_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as i32).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as i32).to_be_bytes());
    out.extend_from_slice(b);
}

/// STARTUP's options: CQL_VERSION 3.0.0.
fn startup_body() -> Vec<u8> {
    let mut body = 1u16.to_be_bytes().to_vec();
    for t in ["CQL_VERSION", "3.0.0"] {
        body.extend_from_slice(&(t.len() as u16).to_be_bytes());
        body.extend_from_slice(t.as_bytes());
    }
    body
}

impl Cql {
    /// Connects and sends STARTUP; logs in when the node asks.
    async fn open(addr: &str, login: Option<(&str, &str)>) -> Result<Cql, CqlError> {
        let s = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(addr))
            .await
            .expect("connects within 10 s")
            .expect("connects");
        let mut c = Cql { s, stream: 0 };
        let (op, _) = c.request(0x01, &startup_body()).await;
        if op == 0x03 {
            let (user, password) = login.unwrap_or(("cassandra", "cassandra"));
            c.login(user, password).await?;
        }
        Ok(c)
    }

    async fn login(&mut self, user: &str, password: &str) -> Result<(), CqlError> {
        let mut token = vec![0];
        token.extend_from_slice(user.as_bytes());
        token.push(0);
        token.extend_from_slice(password.as_bytes());
        let mut body = Vec::new();
        bytes(&mut body, &token);
        self.answer(0x0F, &body).await.map(|_| ())
    }

    /// Sends a request; returns the answer's opcode and body.
    async fn request(&mut self, opcode: u8, body: &[u8]) -> (u8, Vec<u8>) {
        self.stream = (self.stream + 1) % 1000;
        let mut f = vec![0x04, 0];
        f.extend_from_slice(&self.stream.to_be_bytes());
        f.push(opcode);
        f.extend_from_slice(&(body.len() as u32).to_be_bytes());
        f.extend_from_slice(body);
        let deadline = Instant::now() + Duration::from_secs(60);
        tokio::time::timeout_at(deadline.into(), async {
            self.s.write_all(&f).await.expect("sends");
            loop {
                let mut h = [0u8; 9];
                self.s.read_exact(&mut h).await.expect("the node answers");
                let len = u32::from_be_bytes([h[5], h[6], h[7], h[8]]) as usize;
                let mut b = vec![0; len];
                self.s.read_exact(&mut b).await.expect("a whole frame");
                if i16::from_be_bytes([h[2], h[3]]) == self.stream {
                    return (h[4], b);
                }
            }
        })
        .await
        .expect("an answer within 60 s")
    }

    /// Sends a request; an ERROR answer becomes `Err((code, message))`.
    async fn answer(&mut self, opcode: u8, body: &[u8]) -> Result<Vec<u8>, CqlError> {
        let (op, b) = self.request(opcode, body).await;
        if op != 0x00 {
            return Ok(b);
        }
        let code = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let n = usize::from(u16::from_be_bytes([b[4], b[5]]));
        Err((code, String::from_utf8_lossy(&b[6..6 + n]).into_owned()))
    }

    async fn query(&mut self, q: &str) -> Result<Vec<u8>, CqlError> {
        let mut body = Vec::new();
        long_string(&mut body, q);
        body.extend_from_slice(&[0, 1, 0]); // ONE, no flags
        self.answer(0x07, &body).await
    }

    async fn prepare(&mut self, q: &str) -> Result<Vec<u8>, CqlError> {
        let mut body = Vec::new();
        long_string(&mut body, q);
        let b = self.answer(0x09, &body).await?;
        let n = usize::from(u16::from_be_bytes([b[4], b[5]]));
        Ok(b[6..6 + n].to_vec())
    }

    async fn execute(&mut self, id: &[u8], values: &[&[u8]]) -> Result<Vec<u8>, CqlError> {
        let mut body = (id.len() as u16).to_be_bytes().to_vec();
        body.extend_from_slice(id);
        body.extend_from_slice(&[0, 1, 0x01]); // ONE, values
        body.extend_from_slice(&(values.len() as u16).to_be_bytes());
        for v in values {
            bytes(&mut body, v);
        }
        self.answer(0x0A, &body).await
    }

    /// A BATCH naming the prepared statement `id` `n` times, without values.
    async fn batch_of(&mut self, id: &[u8], n: u16) -> Result<Vec<u8>, CqlError> {
        let mut body = vec![1]; // UNLOGGED
        body.extend_from_slice(&n.to_be_bytes());
        for _ in 0..n {
            body.push(1);
            body.extend_from_slice(&(id.len() as u16).to_be_bytes());
            body.extend_from_slice(id);
            body.extend_from_slice(&0u16.to_be_bytes());
        }
        body.extend_from_slice(&[0, 1, 0]);
        self.answer(0x0D, &body).await
    }
}

/// Sends every hostile request to the node at `addr` (as `login`) and
/// checks each answer.
async fn hostile(addr: &str, login: (&str, &str)) {
    let mut c = Cql::open(addr, Some(login)).await.unwrap();
    c.query("CREATE KEYSPACE IF NOT EXISTS hostile WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}")
        .await
        .unwrap();
    c.query(
        "CREATE TABLE IF NOT EXISTS hostile.t (k text, c int, v blob, w text, PRIMARY KEY (k, c))",
    )
    .await
    .unwrap();

    for (open, close) in [("[", "]"), ("(", ")"), ("{", "}"), ("blobasint(", ")")] {
        let deep = format!("{}1{}", open.repeat(10_000), close.repeat(10_000));
        let q = format!("INSERT INTO hostile.t (k, c, v) VALUES ('k', 1, {deep})");
        let (code, m) = c.query(&q).await.unwrap_err();
        assert_eq!(code, SYNTAX, "{m}");
        assert!(m.contains("too deeply nested"), "{m}");
        let (code, m) = c.prepare(&q).await.unwrap_err();
        assert_eq!(code, SYNTAX, "{m}");
    }

    let long = "k".repeat(70_000);
    let q = format!("INSERT INTO hostile.t (k, c, v) VALUES ('{long}', 1, 0x00)");
    assert_eq!(
        c.query(&q).await.unwrap_err(),
        (INVALID, KEY_TOO_LONG.into())
    );
    let id = c
        .prepare("INSERT INTO hostile.t (k, c, v) VALUES (?, 1, 0x00)")
        .await
        .unwrap();
    let err = c.execute(&id, &[long.as_bytes()]).await.unwrap_err();
    assert_eq!(err, (INVALID, KEY_TOO_LONG.into()));
    let id = c
        .prepare("SELECT * FROM hostile.t WHERE k = ?")
        .await
        .unwrap();
    let err = c.execute(&id, &[long.as_bytes()]).await.unwrap_err();
    assert_eq!(err, (INVALID, KEY_TOO_LONG.into()));

    // 10 000 times a statement carrying 1 MB, in a BATCH of 210 KB.
    let mb = "x".repeat(1 << 20);
    let id = c
        .prepare(&format!(
            "INSERT INTO hostile.t (k, c, w) VALUES ('big', 1, '{mb}')"
        ))
        .await
        .unwrap();
    let (code, m) = c.batch_of(&id, 10_000).await.unwrap_err();
    assert_eq!(code, INVALID, "{m}");
    assert!(m.starts_with("Rejected an oversized request"), "{m}");

    // A 70 000-byte username, before authentication (on for every node here).
    let s = TcpStream::connect(addr).await.unwrap();
    let mut anon = Cql { s, stream: 0 };
    assert_eq!(
        anon.request(0x01, &startup_body()).await.0,
        0x03,
        "AUTHENTICATE"
    );
    let user = "u".repeat(70_000);
    assert_eq!(
        anon.login(&user, "pw").await.unwrap_err(),
        (INVALID, KEY_TOO_LONG.into())
    );
    // The connection stays open for another try.
    anon.login(login.0, login.1).await.unwrap();
    anon.query("SELECT release_version FROM system.local")
        .await
        .unwrap();

    // The node still serves.
    c.query("INSERT INTO hostile.t (k, c, v) VALUES ('k', 1, 0x01)")
        .await
        .unwrap();
    c.query("SELECT * FROM hostile.t WHERE k = 'k'")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_node_process_answers_hostile_requests_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let addr = "127.0.187.1";
    let mut child = common::process::node_command(addr, "Hostile", dir.path(), "warn")
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("ccrsim node starts");
    let cql = format!("{addr}:9042");
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&cql).await.is_err() {
        assert!(Instant::now() < deadline, "the node listens within 30 s");
        assert!(child.try_wait().unwrap().is_none(), "the node exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    hostile(&cql, ("cassandra", "cassandra")).await;
    assert!(child.try_wait().unwrap().is_none(), "the node is running");
    let mut c = Cql::open(&cql, None).await.unwrap();
    c.query("SELECT release_version FROM system.local")
        .await
        .unwrap();
    child.kill().await.unwrap();
}

/// `ccrsim serve` on a free port with nodes in its process.
async fn serve(state: &Path) -> (Child, String, String) {
    let flags = ["--runtime", "in-process", "--first-slot", "210"];
    let d = common::process::serve(state, &flags, Stdio::null()).await;
    (d.child, d.url, d.token)
}

async fn call(
    url: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .request(method, format!("{url}{path}"))
        .header("Authorization", format!("aivenv1 {token}"))
        .timeout(Duration::from_secs(30));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("the API answers");
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// Creates a one-node service and waits until it runs; returns its node's
/// CQL address and avnadmin's password.
async fn running_service(url: &str, token: &str, name: &str) -> (String, String) {
    use reqwest::Method as M;
    let body = json!({"service_name": name, "service_type": "cassandra", "plan": "startup-4",
        "cloud": "aws-eu-west-1", "user_config": {"cassandra": {"datacenter": name}}});
    let (status, v) = call(
        url,
        token,
        M::POST,
        "/v1/project/ccrsim/service",
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let path = format!("/v1/project/ccrsim/service/{name}");
        let (status, v) = call(url, token, M::GET, &path, None).await;
        assert_eq!(status, 200, "{v}");
        let s = &v["service"];
        if s["state"] == "RUNNING" {
            let p = &s["service_uri_params"];
            return (
                format!(
                    "{}:{}",
                    p["host"].as_str().unwrap(),
                    p["port"].as_str().unwrap()
                ),
                p["password"].as_str().unwrap().to_string(),
            );
        }
        assert!(Instant::now() < deadline, "{name} runs within 90 s: {v}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_serve_one_services_hostile_requests_leave_the_daemon_and_other_services_serving() {
    let state = tempfile::tempdir().unwrap();
    let (mut daemon, url, token) = serve(state.path()).await;
    let (a, a_password) = running_service(&url, &token, "victim").await;
    let (b, b_password) = running_service(&url, &token, "bystander").await;
    let mut bystander = Cql::open(&b, Some(("avnadmin", &b_password)))
        .await
        .unwrap();

    hostile(&a, ("avnadmin", &a_password)).await;

    assert!(
        daemon.try_wait().unwrap().is_none(),
        "the daemon is running"
    );
    let (status, v) = call(
        &url,
        &token,
        reqwest::Method::GET,
        "/v1/project/ccrsim/service",
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["services"].as_array().map(Vec::len), Some(2), "{v}");
    bystander
        .query("SELECT release_version FROM system.local")
        .await
        .unwrap();
    let mut again = Cql::open(&b, Some(("avnadmin", &b_password)))
        .await
        .unwrap();
    again
        .query("SELECT release_version FROM system.local")
        .await
        .unwrap();
    let mut victim = Cql::open(&a, Some(("avnadmin", &a_password)))
        .await
        .unwrap();
    victim.query("SELECT * FROM hostile.t").await.unwrap();
    daemon.kill().await.unwrap();
}
