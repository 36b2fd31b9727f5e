//! `ccrsim serve --runtime docker`: the same API and CLI, with every node
//! a container of the ccrsim-node image at 172.29.{slot}.{i}. A service
//! becomes RUNNING with its containers up, a second service joining it is a
//! new datacenter holding the data written before the join, `ccr link`
//! answers that this runtime has no simulated link, power off stops the
//! containers and keeps the data, and terminating removes containers and
//! volumes.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccrsim::control::server::{ServeConfig, Server};
use ccrsim::runtime::docker::DockerRuntime;
use ccrsim::testkit::{NodeImage, docker_or_skip};
use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;
use serde_json::Value;

/// Removes the daemon's containers and volumes even when the test fails.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let out = std::process::Command::new("docker")
            .args(["ps", "-aq", "--filter", &format!("label={}", self.0)])
            .output();
        if let Ok(out) = out {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(String::from)
                .collect();
            if !ids.is_empty() {
                let _ = std::process::Command::new("docker")
                    .args(["rm", "-fv"])
                    .args(&ids)
                    .output();
            }
        }
    }
}

struct Daemon {
    server: Server,
    runtime: Arc<DockerRuntime>,
    _dir: tempfile::TempDir,
}

impl Daemon {
    async fn run(&self, line: &str) -> (String, String, i32) {
        let args: Vec<&str> = line.split(' ').collect();
        common::cli(&self.server.url(), &self.server.token, &args).await
    }

    async fn ok(&self, line: &str) -> String {
        let t = Instant::now();
        let (out, err, code) = self.run(line).await;
        eprintln!("ccrsim {line}: {:?}", t.elapsed());
        assert_eq!(code, 0, "ccrsim {line}: {out}{err}");
        out
    }

    async fn service(&self, name: &str) -> Value {
        serde_json::from_str(&self.ok(&format!("service get {name} --json")).await).unwrap()
    }
}

async fn rows(s: &Session) -> usize {
    common::session::rows_num(
        s,
        common::session::at("SELECT k FROM shop.orders", Consistency::LocalOne),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_run_as_containers() {
    // The runtime's own log (leave and join steps) shows with a failure.
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let Some(docker) = docker_or_skip("services_run_as_containers").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let runtime = Arc::new(
        DockerRuntime::new(dir.path(), NodeImage::from_env())
            .await
            .unwrap(),
    );
    let server = Server::start(
        ServeConfig {
            state_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().unwrap(),
            project: "ccrsim".into(),
            first_slot: 60,
        },
        Arc::new(runtime.clone()),
    )
    .await
    .unwrap();
    let _cleanup = Cleanup(runtime.label());
    let d = Daemon {
        server,
        runtime,
        _dir: dir,
    };

    d.ok("service create eu --service-type cassandra --plan business-4 --cloud aws-eu-west-1 -c cassandra.datacenter=eu").await;
    d.ok("service wait eu --timeout 120").await;
    let v = d.service("eu").await;
    assert_eq!(v["state"], "RUNNING", "{v}");
    assert_eq!(v["service_uri_params"]["host"], "172.29.60.1");
    let password = v["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    // Each node is a running container at its layout address.
    let container = |service: &str, i: u32| d.runtime.container_name("ccrsim", service, i);
    for i in 1..=3 {
        let info = docker
            .inspect_container(&container("eu", i), None)
            .await
            .unwrap();
        assert_eq!(info.state.and_then(|s| s.running), Some(true));
        let ip = info
            .network_settings
            .and_then(|n| n.networks)
            .and_then(|mut n| n.remove("ccrsim-services"))
            .and_then(|e| e.ip_address);
        assert_eq!(ip.as_deref(), Some(format!("172.29.60.{i}").as_str()));
    }

    let eu = ccrsim::cli::bench::session_in("172.29.60.1:9042", "eu", "avnadmin", &password)
        .await
        .unwrap();
    common::session::ddl(
        &eu,
        &[
            "CREATE KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'eu': 3}",
            "CREATE TABLE shop.orders (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    for k in 0..50 {
        let mut st = Statement::new("INSERT INTO shop.orders (k, v) VALUES (?, 'x')");
        st.set_consistency(Consistency::LocalQuorum);
        eu.query_unpaged(st, (k,)).await.unwrap();
    }

    // A second service joins: a new datacenter with the old data.
    d.ok("service create us --service-type cassandra --plan business-4 --cloud google-us-east1 -c cassandra.datacenter=us -c service_to_join_with=eu").await;
    d.ok("service wait us --timeout 180").await;
    let v = d.service("us").await;
    assert_eq!(v["state"], "RUNNING", "{v}");
    assert_eq!(v["service_uri_params"]["host"], "172.29.61.1");
    let us = ccrsim::cli::bench::session_in("172.29.61.1:9042", "us", "avnadmin", &password)
        .await
        .unwrap();
    assert_eq!(
        rows(&us).await,
        50,
        "the data written before the join, read in us"
    );

    // No simulated link here: said, not pretended.
    let (_, err, code) = d.run("ccr link eu --latency 10ms").await;
    assert_eq!(code, 1);
    assert!(err.contains("does not simulate links"), "{err}");
    let status = d.ok("ccr status eu --json").await;
    let status: Value = serde_json::from_str(&status).unwrap();
    assert!(status["link"].is_null(), "{status}");

    // Power off stops the containers and keeps the data.
    d.ok("service update us --power-off").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = docker
            .inspect_container(&container("us", 1), None)
            .await
            .unwrap();
        if info.state.and_then(|s| s.running) == Some(false) {
            break;
        }
        assert!(Instant::now() < deadline, "us never stopped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    d.ok("service update us --power-on").await;
    d.ok("service wait us --timeout 120").await;
    let us = ccrsim::cli::bench::session_in("172.29.61.1:9042", "us", "avnadmin", &password)
        .await
        .unwrap();
    assert_eq!(rows(&us).await, 50, "the data after power on");

    // Terminating us takes its datacenter out of the pair (eu's keyspaces
    // stop naming it), then removes its containers; then eu goes too.
    let gone = |names: Vec<String>| {
        let docker = docker.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(120);
            for name in names {
                while docker.inspect_container(&name, None).await.is_ok() {
                    assert!(Instant::now() < deadline, "{name} is still there");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    };
    d.ok("service terminate us --force").await;
    gone((1..=3).map(|i| container("us", i)).collect()).await;
    // The schema change reaches every node of eu by gossip: poll the node
    // the session asks until it has it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let replication = loop {
        let (replication,): (std::collections::BTreeMap<String, String>,) =
            common::session::single_row(
                &eu,
                "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'shop'",
                &[],
            )
            .await;
        if !replication.contains_key("us") || Instant::now() > deadline {
            break replication;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(replication.get("us"), None, "{replication:?}");
    assert_eq!(replication.get("eu").map(String::as_str), Some("3"));
    d.ok("service terminate eu --force").await;
    gone((1..=3).map(|i| container("eu", i)).collect()).await;
    d.server.shutdown().await;
    d.runtime.stop_all().await;
}
