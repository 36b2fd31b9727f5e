//! The real `ccrsim` binary as a daemon: state survives SIGKILL (and the
//! services that ran with real nodes run again, with their data), SIGTERM
//! stops it cleanly, and the CLI process reports errors on stderr with a
//! non-zero exit code.

mod common;

use common::process::BIN;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::{Child, Command};

struct Daemon {
    child: Child,
    url: String,
    token: String,
}

/// Starts `ccrsim serve` (the control plane alone) on a free port and
/// waits (with a deadline) for the line that gives its URL.
async fn start(state: &Path) -> Daemon {
    start_with(state, &["--runtime", "none"]).await
}

async fn start_with(state: &Path, flags: &[&str]) -> Daemon {
    let d = common::process::serve(state, flags, Stdio::inherit()).await;
    Daemon {
        child: d.child,
        url: d.url,
        token: d.token,
    }
}

impl Daemon {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", format!("aivenv1 {}", self.token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    async fn services(&self, project: &str) -> Value {
        let (status, v) = self
            .call(
                reqwest::Method::GET,
                &format!("/v1/project/{project}/service"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{v}");
        v["services"].clone()
    }
}

fn create(name: &str, dc: &str, join: Option<&str>) -> Value {
    let mut uc = json!({"cassandra": {"datacenter": dc}});
    if let Some(j) = join {
        uc["service_to_join_with"] = json!(j);
    }
    json!({"service_name": name, "service_type": "cassandra", "plan": "business-4", "cloud": "aws-eu-west-1", "user_config": uc})
}

#[tokio::test]
async fn sigkill_and_restart_lose_no_service() {
    let state = tempfile::tempdir().unwrap();
    let d = start(state.path()).await;
    use reqwest::Method as M;
    assert_eq!(
        d.call(M::POST, "/v1/project", Some(json!({"project": "second"})))
            .await
            .0,
        200
    );
    for (project, body) in [
        ("ccrsim", create("svc1", "dc1", None)),
        ("ccrsim", create("svc2", "dc2", Some("svc1"))),
        ("ccrsim", create("solo", "solo", None)),
        ("second", create("a", "a", None)),
        ("second", create("b", "b", Some("a"))),
    ] {
        let (status, v) = d
            .call(
                M::POST,
                &format!("/v1/project/{project}/service"),
                Some(body),
            )
            .await;
        assert_eq!(status, 200, "{v}");
    }
    assert_eq!(
        d.call(
            M::POST,
            "/v1/project/second/service/a/ccr/split",
            Some(json!({}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        d.call(
            M::PUT,
            "/v1/project/ccrsim/service/solo",
            Some(json!({"powered": false}))
        )
        .await
        .0,
        200
    );
    // A refused request just before the crash leaves nothing behind.
    assert_eq!(
        d.call(
            M::POST,
            "/v1/project/ccrsim/service",
            Some(create("svc3", "dc3", Some("svc1")))
        )
        .await
        .0,
        400
    );
    let before = (d.services("ccrsim").await, d.services("second").await);
    let token = d.token.clone();

    let mut child = d.child;
    child.kill().await.unwrap(); // SIGKILL
    let _ = child.wait().await;

    let d = start(state.path()).await;
    assert_eq!(d.token, token, "the token survives");
    let after = (d.services("ccrsim").await, d.services("second").await);
    assert_eq!(
        after, before,
        "every service, pair, split and password is back as it was"
    );
    let names: Vec<&str> = after
        .0
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["solo", "svc1", "svc2"]);
    let (_, ccr) = d
        .call(M::GET, "/v1/project/ccrsim/service/svc1/ccr", None)
        .await;
    assert_eq!(ccr["ccr"]["paired"], true);
    let (_, ccr) = d
        .call(M::GET, "/v1/project/second/service/b/ccr", None)
        .await;
    assert_eq!(ccr["ccr"]["paired"], false);
    assert_eq!(ccr["ccr"]["splits"].as_array().unwrap().len(), 1);
    // The split is still final after the restart.
    let (status, v) = d
        .call(
            M::PUT,
            "/v1/project/second/service/b",
            Some(json!({"user_config": {"service_to_join_with": "a"}})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        v["message"].as_str().unwrap().contains("split-is-final"),
        "{v}"
    );
    // New services after the restart get a fresh address block.
    let (_, v) = d
        .call(
            M::POST,
            "/v1/project/ccrsim/service",
            Some(create("late", "late", None)),
        )
        .await;
    assert_eq!(v["service"]["service_uri_params"]["host"], "127.0.6.1");
}

impl Daemon {
    /// Polls until the service is RUNNING (deadline 60 s); returns its JSON.
    async fn running(&self, name: &str) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let (status, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!("/v1/project/ccrsim/service/{name}"),
                    None,
                )
                .await;
            if status == 200 && v["service"]["state"] == "RUNNING" {
                return v["service"].clone();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name} not RUNNING: {v}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn rows(addr: &str, password: &str) -> Vec<i32> {
    let s = common::session::login(addr, "avnadmin", password)
        .await
        .unwrap();
    let mut ks: Vec<i32> = s
        .query_unpaged("SELECT k FROM keep.t", &[])
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows::<(i32,)>()
        .unwrap()
        .map(|r| r.unwrap().0)
        .collect();
    ks.sort();
    ks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_with_nodes_run_again_with_their_data_after_sigkill() {
    let state = tempfile::tempdir().unwrap();
    let flags = ["--first-slot", "130"];
    let mut d = start_with(state.path(), &flags).await;
    let body = json!({"service_name": "keep", "service_type": "cassandra", "plan": "startup-4",
        "cloud": "aws-eu-west-1", "user_config": {"cassandra": {"datacenter": "keep"}}});
    let (status, v) = d
        .call(
            reqwest::Method::POST,
            "/v1/project/ccrsim/service",
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let svc = d.running("keep").await;
    let password = svc["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let s = common::session::login("127.0.130.1", "avnadmin", &password)
        .await
        .unwrap();
    s.query_unpaged(
        "CREATE KEYSPACE keep WITH replication = {'class': 'NetworkTopologyStrategy', 'keep': 1}",
        &[],
    )
    .await
    .unwrap();
    s.query_unpaged("CREATE TABLE keep.t (k int PRIMARY KEY)", &[])
        .await
        .unwrap();
    for k in 0..20 {
        s.query_unpaged("INSERT INTO keep.t (k) VALUES (?)", (k,))
            .await
            .unwrap();
    }
    drop(s);
    // The nodes keep Cassandra's periodic commit log (synced every 10 s):
    // make the writes durable before the crash, as `nodetool drain` does.
    let out = Command::new(BIN)
        .args(["nodetool", "-h", "127.0.130.1", "drain"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    d.child.kill().await.unwrap();
    let d = start_with(state.path(), &flags).await;
    d.running("keep").await;
    assert_eq!(
        rows("127.0.130.1", &password).await,
        (0..20).collect::<Vec<_>>()
    );
    drop(d);
}

#[tokio::test]
async fn sigterm_stops_the_daemon_cleanly() {
    let state = tempfile::tempdir().unwrap();
    let mut d = start(state.path()).await;
    let pid = d.child.id().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), d.child.wait())
        .await
        .expect("exits")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    // The state directory is free again.
    let d2 = start(state.path()).await;
    assert_eq!(d2.token, d.token);
}

#[tokio::test]
async fn cli_process_reports_errors_on_stderr() {
    let state = tempfile::tempdir().unwrap();
    let d = start(state.path()).await;
    let out = Command::new(BIN)
        .args(["--url", &d.url, "--state-dir"])
        .arg(state.path())
        .args(["service", "get", "nope"])
        .env_remove("CCRSIM_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("error: Service 'nope' does not exist in project 'ccrsim' (HTTP 404)"),
        "{err}"
    );

    // The token comes from the state directory when the environment has none.
    let out = Command::new(BIN)
        .args(["--url", &d.url, "--state-dir"])
        .arg(state.path())
        .args(["service", "list", "--json"])
        .env_remove("CCRSIM_AUTH_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&out.stdout).unwrap(),
        json!([])
    );

    // No daemon at the URL: a clear error.
    let out = Command::new(BIN)
        .args([
            "--url",
            "http://127.0.0.1:9",
            "--auth-token",
            "x",
            "service",
            "list",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the ccrsim API at http://127.0.0.1:9"),
        "{err}"
    );
}
