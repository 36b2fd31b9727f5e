//! The real `avn` CLI (PyPI `aiven-client`) against a running ccrsim daemon:
//! it creates a CCR pair, reads, lists, updates and terminates it, and a
//! refused join fails with the rule's message; with real nodes, a service
//! holding data joined by a second one: after `avn service wait`, the old
//! data is readable at LOCAL_ONE in the new datacenter.
//!
//! `.ci/run` installs aiven-client into `.venv`. The test looks for `avn` in
//! `$CCRSIM_AVN`, then `.venv/bin/avn`, then `PATH`. Without it the test
//! fails under `CI=true` and says loudly that it skipped otherwise.

mod common;

use std::path::PathBuf;

use common::TestServer;
use serde_json::Value;
use tokio::process::Command;

fn find_avn() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CCRSIM_AVN") {
        return Some(PathBuf::from(p));
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/avn");
    if venv.exists() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("avn"))
            .find(|p| p.exists())
    })
}

struct Avn {
    bin: PathBuf,
    url: String,
    token: String,
    home: tempfile::TempDir,
}

impl Avn {
    /// Runs `avn --url URL --auth-token TOKEN ARGS... --project ccrsim`.
    async fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(&self.bin)
            .args(["--url", &self.url, "--auth-token", &self.token])
            .args(args)
            .args(["--project", "ccrsim"])
            // Keep avn's config and credentials away from the user's.
            .env("HOME", self.home.path())
            .env("AIVEN_CONFIG_DIR", self.home.path())
            .env_remove("AIVEN_AUTH_TOKEN")
            .env_remove("AIVEN_PROJECT")
            .output()
            .await
            .expect("avn runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args).await;
        assert_eq!(code, 0, "avn {args:?} failed:\n{out}\n{err}");
        out
    }

    /// `avn service create` of a business-4 cassandra service, joining `join`.
    async fn create(&self, name: &str, cloud: &str, dc: &str, join: Option<&str>) -> String {
        let dc = format!("cassandra.datacenter={dc}");
        let mut args = vec![
            "service",
            "create",
            "--service-type",
            "cassandra",
            "--cloud",
            cloud,
            "--plan",
            "business-4",
            "-c",
            &dc,
        ];
        let join = join.map(|j| format!("service_to_join_with={j}"));
        if let Some(j) = &join {
            args.extend(["-c", j]);
        }
        args.push(name);
        self.ok(&args).await
    }

    async fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args).await;
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("avn {args:?} printed no JSON ({e}):\n{out}"))
    }
}

fn avn_or_skip() -> Option<PathBuf> {
    let bin = find_avn();
    if bin.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "avn (PyPI aiven-client) is not installed: .ci/run installs it into .venv; set CCRSIM_AVN to its path"
            );
        }
        eprintln!(
            "\n*** SKIPPED avn test: avn (PyPI aiven-client) not found; run `python3 -m venv .venv && .venv/bin/pip install aiven-client` ***\n"
        );
    }
    bin
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avn_joins_a_service_holding_data_and_the_data_follows() {
    use scylla::statement::Consistency;
    use scylla::statement::unprepared::Statement;

    let Some(bin) = avn_or_skip() else { return };
    let services = common::Services::start(100).await;
    let avn = Avn {
        bin,
        url: services.server.url(),
        token: services.server.token.clone(),
        home: tempfile::tempdir().unwrap(),
    };
    avn.create("east", "aws-eu-west-1", "east", None).await;
    avn.ok(&["service", "wait", "east"]).await;
    let v = avn.json(&["service", "get", "east", "--json"]).await;
    let password = v["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let connect = |addr: &'static str, dc: &'static str| {
        let password = password.clone();
        async move {
            common::session::pinned(dc)
                .login("avnadmin", &password)
                .connect(addr)
                .await
                .unwrap()
        }
    };
    let east = connect("127.0.100.1", "east").await;
    common::session::ddl(
        &east,
        &[
            "CREATE KEYSPACE shop WITH replication = {'class': 'NetworkTopologyStrategy', 'east': 3}",
            "CREATE TABLE shop.items (k int PRIMARY KEY, v text)",
        ],
    )
    .await;
    for k in 0..50 {
        let mut st = Statement::new("INSERT INTO shop.items (k, v) VALUES (?, ?)");
        st.set_consistency(Consistency::LocalQuorum);
        east.query_unpaged(st, (k, format!("item {k}")))
            .await
            .unwrap();
    }
    avn.create("west", "google-us-east1", "west", Some("east"))
        .await;
    avn.ok(&["service", "wait", "west"]).await;
    let west = connect("127.0.101.1", "west").await;
    let mut st = Statement::new("SELECT k, v FROM shop.items");
    st.set_consistency(Consistency::LocalOne);
    let rows = west
        .query_unpaged(st, &[])
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut rows: Vec<(i32, String)> = rows.rows().unwrap().map(|r| r.unwrap()).collect();
    rows.sort();
    assert_eq!(rows.len(), 50, "the old data in the new datacenter");
    assert_eq!(rows[3], (3, "item 3".to_string()));
    drop((east, west));
    services.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn avn_creates_reads_lists_updates_and_terminates_a_pair() {
    let Some(bin) = find_avn() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "avn (PyPI aiven-client) is not installed: .ci/run installs it into .venv; set CCRSIM_AVN to its path"
            );
        }
        eprintln!(
            "\n*** SKIPPED avn test: avn (PyPI aiven-client) not found; run `python3 -m venv .venv && .venv/bin/pip install aiven-client` ***\n"
        );
        return;
    };
    let s = TestServer::start().await;
    let avn = Avn {
        bin,
        url: s.url(),
        token: s.token().to_string(),
        home: tempfile::tempdir().unwrap(),
    };

    avn.create("svc1", "aws-eu-west-1", "dc1", None).await;
    avn.create("svc2", "google-us-east1", "dc2", Some("svc1"))
        .await;

    // A refused join: the rule's message reaches the avn user, nothing is created.
    let (code, out, err) = avn
        .run(&[
            "service",
            "create",
            "-t",
            "cassandra",
            "--plan",
            "business-4",
            "-c",
            "cassandra.datacenter=dc1",
            "-c",
            "service_to_join_with=svc1",
            "svc3",
        ])
        .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("pair-of-two"), "{err}");

    // get, as a table, as JSON and verbose.
    let table = avn.ok(&["service", "get", "svc2"]).await;
    assert!(
        table.starts_with("SERVICE_NAME  SERVICE_TYPE  STATE"),
        "{table}"
    );
    assert!(
        table.contains("svc2") && table.contains("REBUILDING") && table.contains("google-us-east1"),
        "{table}"
    );
    let svc2 = avn.json(&["service", "get", "svc2", "--json"]).await;
    assert_eq!(svc2["user_config"]["service_to_join_with"], "svc1");
    assert_eq!(svc2["user_config"]["cassandra"]["datacenter"], "dc2");
    assert_eq!(svc2["ccrsim"]["pair"]["peer_service"], "svc1");
    let verbose = avn.ok(&["service", "get", "svc2", "-v"]).await;
    assert!(
        verbose.contains("service_uri") && verbose.contains("svc2-3"),
        "{verbose}"
    );

    // list
    let list = avn.json(&["service", "list", "--json"]).await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["svc1", "svc2"]);
    assert!(avn.ok(&["service", "types"]).await.contains("cassandra"));

    // The pair shows up in ccrsim with two datacenters.
    let (status, _, code) = s.cli(&["ccr", "status", "svc1"]).await;
    assert_eq!(code, 0);
    assert!(
        status.contains("CCR pair: svc1 (datacenter dc1) + svc2 (datacenter dc2)"),
        "{status}"
    );

    // update: a plan change applies to both; power and user-config rules.
    avn.ok(&["service", "update", "--plan", "business-8", "svc2"])
        .await;
    assert_eq!(
        avn.json(&["service", "get", "svc1", "--json"]).await["plan"],
        "business-8"
    );
    avn.ok(&["service", "update", "--power-off", "svc2"]).await;
    assert_eq!(
        avn.json(&["service", "get", "svc2", "--json"]).await["state"],
        "POWEROFF"
    );
    avn.ok(&["service", "update", "--power-on", "svc2"]).await;
    let (code, _, err) = avn
        .run(&[
            "service",
            "update",
            "-c",
            "cassandra.datacenter=other",
            "svc2",
        ])
        .await;
    assert_eq!(code, 1);
    assert!(err.contains("set-at-creation-only"), "{err}");

    // terminate one: the other is standalone.
    avn.ok(&["service", "terminate", "--force", "svc2"]).await;
    let list = avn.json(&["service", "list", "--json"]).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["ccrsim"]["pair"], Value::Null);
    s.server.shutdown().await;
}
