//! The HTTP API end to end, against a real server on 127.0.0.1:0: auth,
//! Aiven's error shape, bad bodies, and concurrent creates.

mod common;

use common::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn send(
    s: &TestServer,
    method: reqwest::Method,
    path: &str,
    auth: Option<String>,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let client = reqwest::Client::new();
    let mut req = client.request(method, format!("{}{path}", s.url()));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    if let Some(b) = body {
        req = req
            .header("Content-Type", "application/json")
            .body(b.to_string());
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let v = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

fn bearer(s: &TestServer) -> Option<String> {
    Some(format!("Bearer {}", s.token()))
}

#[tokio::test]
async fn auth_accepts_bearer_and_aivenv1_only_with_the_token() {
    let s = TestServer::start().await;
    let get = reqwest::Method::GET;
    let path = "/v1/project/ccrsim/service";
    assert_eq!(
        send(&s, get.clone(), path, bearer(&s), None).await.0,
        StatusCode::OK
    );
    let avn = Some(format!("aivenv1 {}", s.token()));
    assert_eq!(
        send(&s, get.clone(), path, avn, None).await.0,
        StatusCode::OK
    );
    for bad in [
        None,
        Some("Bearer nope".to_string()),
        Some(s.token().to_string()),
        Some(format!("Basic {}", s.token())),
    ] {
        let (status, body) = send(&s, get.clone(), path, bad.clone(), None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(body["errors"][0]["status"], 401);
        assert!(body["message"].as_str().unwrap().contains("token"));
    }
    s.server.shutdown().await;
}

#[tokio::test]
async fn errors_have_aivens_shape_and_statuses() {
    let s = TestServer::start().await;
    use reqwest::Method as M;
    let cases: Vec<(M, &str, Option<&str>, u16, &str)> = vec![
        (
            M::GET,
            "/v1/project/nope/service",
            None,
            404,
            "Project 'nope' does not exist",
        ),
        (
            M::GET,
            "/v1/project/ccrsim/service/nope",
            None,
            404,
            "Service 'nope' does not exist",
        ),
        (
            M::GET,
            "/v1/no/such/path",
            None,
            404,
            "No such API endpoint: GET /v1/no/such/path",
        ),
        (
            M::PATCH,
            "/v1/project/ccrsim/service",
            None,
            405,
            "Method PATCH is not allowed",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            None,
            400,
            "Request body is missing",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some("{not json"),
            400,
            "Invalid request body",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some("[]"),
            400,
            "Invalid request body",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some(r#"{"service_name": "a"}"#),
            400,
            "missing field `service_type`",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some(
                r#"{"service_name": "a", "service_type": "cassandra", "plan": "business-4", "bogus": 1}"#,
            ),
            400,
            "unknown field `bogus`",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some(
                r#"{"service_name": "a", "service_type": "cassandra", "plan": "business-4", "user_config": {"cassandra": {"datacenter": 7}}}"#,
            ),
            400,
            "cassandra.datacenter must be a string",
        ),
        (
            M::POST,
            "/v1/project/ccrsim/service",
            Some(
                r#"{"service_name": "a", "service_type": "cassandra", "plan": "business-4", "disk_space_mb": -5}"#,
            ),
            400,
            "Invalid request body",
        ),
        (
            M::PUT,
            "/v1/project/ccrsim/service/a",
            Some(r#"{"powered": "yes"}"#),
            400,
            "Invalid request body",
        ),
        (
            M::POST,
            "/v1/project",
            Some(r#"{"project": "ccrsim"}"#),
            409,
            "Project 'ccrsim' already exists",
        ),
        (
            M::GET,
            "/v1/project/ccrsim/service-types/kafka",
            None,
            404,
            "Service type 'kafka' is not available",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let (got, v) = send(&s, method.clone(), path, bearer(&s), body).await;
        assert_eq!(got.as_u16(), status, "{method} {path} {body:?}: {v}");
        let m = v["message"].as_str().unwrap_or_default();
        assert!(
            m.contains(message),
            "{method} {path}: {m:?} should contain {message:?}"
        );
        assert_eq!(v["errors"][0]["message"], v["message"]);
        assert_eq!(v["errors"][0]["status"], status);
    }
    // Nothing was created by any of them.
    let (_, v) = send(&s, M::GET, "/v1/project/ccrsim/service", bearer(&s), None).await;
    assert_eq!(v["services"], json!([]));
    s.server.shutdown().await;
}

#[tokio::test]
async fn service_object_has_the_fields_avn_and_users_read() {
    let s = TestServer::start().await;
    let body = json!({"service_name": "one", "service_type": "cassandra", "plan": "business-4", "cloud": "aws-us-east-1",
        "user_config": {"cassandra": {"datacenter": "dc1"}}});
    let (status, v) = send(
        &s,
        reqwest::Method::POST,
        "/v1/project/ccrsim/service",
        bearer(&s),
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let svc = &v["service"];
    for key in [
        "service_name",
        "service_type",
        "state",
        "plan",
        "cloud_name",
        "disk_space_mb",
        "node_count",
        "node_states",
        "service_uri",
        "service_uri_params",
        "components",
        "connection_info",
        "user_config",
        "create_time",
        "update_time",
    ] {
        assert!(svc.get(key).is_some(), "missing {key}");
    }
    assert_eq!(svc["state"], "REBUILDING", "no node runs, so never RUNNING");
    assert_eq!(svc["node_count"], 3);
    assert_eq!(
        svc["user_config"],
        json!({"cassandra": {"datacenter": "dc1"}})
    );
    let password = svc["service_uri_params"]["password"].as_str().unwrap();
    assert!(password.starts_with("AVNS_") && password.len() == 24);
    assert_eq!(
        svc["service_uri"],
        format!("cassandra://avnadmin:{password}@127.0.1.1:9042")
    );
    let zones: Vec<&str> = svc["node_states"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["availability_zone"].as_str().unwrap())
        .collect();
    assert_eq!(zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    let addrs: Vec<&str> = svc["ccrsim"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs, ["127.0.1.1", "127.0.1.2", "127.0.1.3"]);
    // The service type schema declares what `-c` can set.
    let (_, t) = send(
        &s,
        reqwest::Method::GET,
        "/v1/project/ccrsim/service-types/cassandra",
        bearer(&s),
        None,
    )
    .await;
    let props = &t["user_config_schema"]["properties"];
    assert_eq!(
        props["cassandra"]["properties"]["datacenter"]["type"],
        "string"
    );
    assert_eq!(props["service_to_join_with"]["type"], "string");
    s.server.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_name_let_exactly_one_win() {
    let s = TestServer::start().await;
    let url = format!("{}/v1/project/ccrsim/service", s.url());
    let token = s.token().to_string();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let (url, token) = (url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"service_name": "race", "service_type": "cassandra", "plan": "business-4",
                "user_config": {"cassandra": {"datacenter": format!("dc{i}")}}});
            reqwest::Client::new().post(&url).bearer_auth(token).json(&body).send().await.unwrap().status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    // Concurrent joins of one target: one pair, the rest refused by pair-of-two.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (url, token) = (url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let body = json!({"service_name": format!("joiner{i}"), "service_type": "cassandra", "plan": "business-4",
                "user_config": {"cassandra": {"datacenter": format!("j{i}")}, "service_to_join_with": "race"}});
            let resp = reqwest::Client::new().post(&url).bearer_auth(token).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        if status == 200 {
            ok += 1;
        } else {
            assert_eq!(status, 400);
            assert!(
                v["message"].as_str().unwrap().contains("pair-of-two"),
                "{v}"
            );
        }
    }
    assert_eq!(ok, 1);
    let (_, list) = send(
        &s,
        reqwest::Method::GET,
        "/v1/project/ccrsim/service",
        bearer(&s),
        None,
    )
    .await;
    assert_eq!(list["services"].as_array().unwrap().len(), 2);
    s.server.shutdown().await;
}

#[tokio::test]
async fn a_second_daemon_on_the_same_state_is_refused() {
    let s = TestServer::start().await;
    let err = ccrsim::control::server::Server::start(
        ccrsim::control::server::ServeConfig {
            state_dir: s.dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            project: "ccrsim".into(),
            first_slot: 1,
        },
        std::sync::Arc::new(ccrsim::control::runtime::NoRuntime),
    )
    .await
    .err()
    .expect("second daemon refused");
    assert!(err.to_string().contains("another ccrsim daemon"), "{err}");
    s.server.shutdown().await;
}
