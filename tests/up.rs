//! `ccrsim up`, the main job, as a process: it brings up the demo pair,
//! applies the replication scripts, verifies replication and says it is
//! ready; a row written through the first datacenter is read through the
//! second; SIGTERM stops every node, and the next `up` finds the same
//! state and data.

mod common;

use common::process::{self, BIN};

use std::process::Stdio;
use std::time::Duration;

use scylla::client::session::Session;
use scylla::statement::Consistency;
use scylla::statement::unprepared::Statement;
use tokio::process::{Child, Command};

/// Runs `ccrsim up ARGS` in `dir` and returns it with its output up to
/// "ready".
async fn up(dir: &std::path::Path, args: &[&str]) -> (Child, Vec<String>) {
    let mut cmd = Command::new(BIN);
    cmd.args(["up", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env("CCRSIM_LOG", "warn")
        .stderr(Stdio::inherit());
    process::spawn_until(&mut cmd, process::Watch::Stdout, 240, "up is ready", |l| {
        l.starts_with("Ctrl-C stops every node")
    })
    .await
}

async fn session_in(addr: &str, dc: &str, password: &str) -> std::sync::Arc<Session> {
    ccrsim::cli::bench::session_in(addr, dc, "avnadmin", password)
        .await
        .unwrap()
}

async fn read(s: &Session) -> Option<String> {
    let st = common::session::at(
        "SELECT v FROM demo.kv WHERE k = 'hello'",
        Consistency::LocalOne,
    );
    common::session::first_row::<(String,)>(s, st, &[])
        .await
        .map(|r| r.0)
}

async fn stop(mut child: Child) {
    let pid = child.id().unwrap() as i32;
    // SIGTERM, as a service manager would.
    unsafe_kill(pid);
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("up stops within 60 s of SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}");
}

fn unsafe_kill(pid: i32) {
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

/// `up` twice: a verified pair, a row written through one datacenter read
/// through the other, SIGTERM, and the same data the second time. Nodes at
/// `{a}.{slot}.i` and `{a}.{slot + 1}.i`.
async fn up_twice(dir: &std::path::Path, extra: &[&str], a: &str, slot: u8) {
    let slot_arg = slot.to_string();
    let mut args = vec!["--first-slot", slot_arg.as_str()];
    args.extend_from_slice(extra);
    let (eu_addr, us_addr) = (format!("{a}.{slot}.1"), format!("{a}.{}.1", slot + 1));
    let (child, out) = up(dir, &args).await;
    let text = out.join("\n");
    assert!(text.contains("demo pair: created ccr-eu, ccr-us"), "{text}");
    assert!(text.contains("ccr-eu -> ccr-us: PASS"), "{text}");
    assert!(text.contains("ccr-us -> ccr-eu: PASS"), "{text}");
    assert!(
        text.contains(&format!("datacenter ccr-eu: contact points {eu_addr}:9042")),
        "{text}"
    );
    assert!(
        text.contains(&format!("datacenter ccr-us: contact points {us_addr}:9042")),
        "{text}"
    );
    let password = text
        .split(" -p ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .expect("the cqlsh line has the password")
        .to_string();
    let eu = session_in(&format!("{eu_addr}:9042"), "ccr-eu", &password).await;
    let mut st = Statement::new("INSERT INTO demo.kv (k, v) VALUES ('hello', 'from ccr-eu')");
    st.set_consistency(Consistency::LocalQuorum);
    eu.query_unpaged(st, &[]).await.unwrap();
    let us = session_in(&format!("{us_addr}:9042"), "ccr-us", &password).await;
    // LOCAL_QUORUM in ccr-eu does not wait for ccr-us: poll with a deadline.
    common::poll(10, "the row reaches ccr-us", || async {
        match read(&us).await {
            Some(v) if v == "from ccr-eu" => Ok(()),
            other => Err(format!("ccr-us reads {other:?}")),
        }
    })
    .await;
    drop((eu, us));
    stop(child).await;

    // The next `up` reuses the state and the data.
    let (child, out) = up(dir, &args).await;
    let text = out.join("\n");
    assert!(
        text.contains("demo pair: ccr-eu + ccr-us already exists"),
        "{text}"
    );
    let us = session_in(&format!("{us_addr}:9042"), "ccr-us", &password).await;
    assert_eq!(read(&us).await.as_deref(), Some("from ccr-eu"));
    drop(us);
    stop(child).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_brings_up_a_verified_pair_and_comes_back_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    up_twice(dir.path(), &[], "127.0", 120).await;
}

/// Removes a daemon's containers and their volumes, also when the test
/// fails (`up` keeps them when it stops: that is its job).
struct Containers(String);

impl Drop for Containers {
    fn drop(&mut self) {
        let docker = |args: &[&str]| {
            std::process::Command::new("docker")
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default()
        };
        let names = docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label={}", self.0),
        ]);
        let names: Vec<&str> = names.split_whitespace().collect();
        if !names.is_empty() {
            let mut rm = vec!["rm", "-f"];
            rm.extend(&names);
            docker(&rm);
            let mut vols = vec!["volume", "rm", "-f"];
            vols.extend(&names);
            docker(&vols);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_on_docker_runs_the_pair_as_containers() {
    if ccrsim::testkit::docker_or_skip("up_on_docker_runs_the_pair_as_containers")
        .await
        .is_none()
    {
        return;
    }
    // `up` keeps its containers when it stops (that is its job): remove
    // them by the daemon's label when the test ends, failed or not.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".ccrsim");
    std::fs::create_dir_all(&state).unwrap();
    let _containers = Containers(ccrsim::runtime::docker::label_for(&state));
    up_twice(dir.path(), &["--runtime", "docker"], "172.29", 124).await;
}
