//! Real clients against a real node: the DataStax Python driver
//! (`cassandra-driver`) and `cqlsh`, both installed by `.ci/run` into
//! `.venv`. The node runs in this process on its own loopback address.
//! Without the virtualenv these tests fail under `CI=true` and say loudly
//! that they skipped otherwise.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn venv_bin(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(".venv/bin")
        .join(name);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{} is missing: .ci/run installs it into .venv", p.display());
    }
    eprintln!("SKIPPED: {} is not installed (run .ci/run)", p.display());
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_driver_uses_the_node_like_cassandra() {
    let Some(python) = venv_bin("python") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::start_node("127.0.60.1", dir.path()).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/driver_check.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["127.0.60.1", "9042", "pydriver"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    node.stop().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "driver check failed:\n{stdout}\n{stderr}"
    );
}

fn cqlsh(cqlsh: &PathBuf, host: &str, cql: &str) -> (String, String, bool) {
    let out = Command::new(cqlsh)
        .args([
            host,
            "9042",
            "-u",
            "cassandra",
            "-p",
            "cassandra",
            "-e",
            cql,
        ])
        .env("CQLSH_NO_BUNDLED", "1")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cqlsh_walkthrough() {
    let Some(bin) = venv_bin("cqlsh") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let node = common::start_node("127.0.60.2", dir.path()).await;
    let host = "127.0.60.2";
    let steps: Vec<(&str, Vec<&str>)> = vec![
        (
            "CREATE KEYSPACE shop WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}; \
             CREATE TABLE shop.orders (customer text, id int, item text, PRIMARY KEY (customer, id)); \
             INSERT INTO shop.orders (customer, id, item) VALUES ('ann', 1, 'tea'); \
             INSERT INTO shop.orders (customer, id, item) VALUES ('ann', 2, 'cake'); \
             SELECT * FROM shop.orders WHERE customer = 'ann';",
            vec![" ann |  1 |  tea", " ann |  2 | cake", "(2 rows)"],
        ),
        (
            "DESCRIBE KEYSPACES",
            vec!["shop", "system_auth", "system_schema"],
        ),
        (
            "DESCRIBE TABLE shop.orders",
            vec![
                "CREATE TABLE shop.orders (",
                "    customer text,",
                "    PRIMARY KEY (customer, id)",
                ") WITH CLUSTERING ORDER BY (id ASC)",
            ],
        ),
        (
            "DESCRIBE KEYSPACE shop",
            vec![
                "CREATE KEYSPACE shop WITH replication = {'class': 'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'}",
            ],
        ),
        (
            "SELECT * FROM system.local",
            vec![
                "local",
                "4.1.3",
                "org.apache.cassandra.dht.Murmur3Partitioner",
                "(1 rows)",
            ],
        ),
        ("LIST ROLES", vec!["cassandra |  True |  True"]),
    ];
    for (cql, expected) in steps {
        let c = cql.to_string();
        let b = bin.clone();
        let (out, err, ok) = tokio::task::spawn_blocking(move || cqlsh(&b, host, &c))
            .await
            .unwrap();
        assert!(ok, "cqlsh -e {cql:?} failed:\n{out}\n{err}");
        for e in expected {
            assert!(
                out.contains(e),
                "cqlsh -e {cql:?}: {e:?} missing in:\n{out}\n{err}"
            );
        }
        // cqlsh's own notices are fine; errors about the server are not.
        for line in err.lines() {
            let benign = line.trim().is_empty()
                || line.contains("Using a password on the command line")
                || line.contains("use the credentials file")
                || line.contains("cqlsh was built against");
            assert!(benign, "cqlsh -e {cql:?} printed an error: {line}\n{err}");
        }
    }
    // A wrong password is refused with Cassandra's message.
    let b = bin.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(b)
            .args([
                host,
                "9042",
                "-u",
                "cassandra",
                "-p",
                "wrong",
                "-e",
                "SELECT * FROM system.local",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("Provided username cassandra and/or password are incorrect"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.stop().await;
}
