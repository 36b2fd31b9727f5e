//! The scripts in `cql/` are what `ccrsim cql setup` generates for the demo
//! pair of `fixtures/demo.json` on a fresh control plane. This test fails
//! when they drift apart; `UPDATE_GOLDEN=1 cargo test --test golden_cql`
//! rewrites `cql/` after a deliberate change.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use ccrsim::control::server::Demo;
use common::TestServer;

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "cql"))
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read_to_string(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn cql_folder_matches_the_generator() {
    let server = TestServer::start().await;
    let demo = Demo::builtin();
    let state = server.server.state.clone();
    let d = demo.clone();
    tokio::task::spawn_blocking(move || d.ensure(&state))
        .await
        .unwrap()
        .unwrap();

    let out = tempfile::tempdir().unwrap();
    let out_s = out.path().display().to_string();
    let rf = demo.rf.to_string();
    let mut args = vec![
        "--project",
        &demo.project,
        "cql",
        "setup",
        &demo.services[0].name,
        "--rf",
        &rf,
        "--out",
        &out_s,
    ];
    for ks in &demo.keyspaces {
        args.extend(["--keyspace", ks]);
    }
    let (_, err, code) = server.cli(&args).await;
    assert_eq!(code, 0, "{err}");
    let generated = read_dir(out.path());
    assert!(
        generated.len() > demo.keyspaces.len(),
        "system script and one per keyspace"
    );

    let cql = Path::new(env!("CARGO_MANIFEST_DIR")).join("cql");
    if common::golden::updating() {
        for name in read_dir(&cql).keys() {
            std::fs::remove_file(cql.join(name)).unwrap();
        }
        for (name, text) in &generated {
            std::fs::write(cql.join(name), text).unwrap();
        }
    }
    let committed = read_dir(&cql);
    assert_eq!(
        committed.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>(),
        "cql/ holds other files than the generator writes (UPDATE_GOLDEN=1 rewrites cql/)"
    );
    for (name, text) in &generated {
        assert_eq!(
            &committed[name], text,
            "cql/{name} differs from the generator (UPDATE_GOLDEN=1 rewrites cql/)"
        );
    }
    // Both services of the pair produce the same scripts.
    let out2 = tempfile::tempdir().unwrap();
    let out2_s = out2.path().display().to_string();
    args[4] = &demo.services[1].name;
    args[8] = &out2_s;
    let (_, err, code) = server.cli(&args).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(read_dir(out2.path()), generated);
    server.server.shutdown().await;
}

/// The README's harness example is tests/docker_example.rs, word for word,
/// so the example a user copies is one that runs in every test run.
#[test]
fn readme_shows_the_tested_harness_example() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = include_str!("docker_example.rs");
    let block = format!("```rust\n{example}```");
    assert!(
        readme.contains(&block),
        "README.md must show tests/docker_example.rs verbatim in a ```rust block"
    );
}
