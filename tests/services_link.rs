//! The simulated cross-region link of a pair: its default delay comes from
//! the two clouds, `ccr link` changes it (EACH_QUORUM pays it, as a
//! request and its answer cross it), `--down` partitions the datacenters
//! (LOCAL_QUORUM goes on, EACH_QUORUM is Unavailable, hints pile up) and
//! `--up` reconnects them: the hints replay and every write made during the
//! partition is readable in the other datacenter. With hints paused,
//! `ccr repair` brings what a partition kept from the other datacenter.

mod common;

use common::session;

use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::errors::DbError;
use scylla::statement::Consistency;
use serde_json::Value;

async fn session_in(addr: &str, dc: &str, password: &str) -> Session {
    session::pinned(dc)
        .login("avnadmin", password)
        .never_retry()
        .connect(addr)
        .await
        .unwrap()
}

async fn write(s: &Session, k: i32, cl: Consistency) -> Result<(), DbError> {
    let st = session::at("INSERT INTO net.t (k, v) VALUES (?, 'x')", cl);
    session::db_error(s.query_unpaged(st, (k,)).await).map(|_| ())
}

async fn count(s: &Session) -> usize {
    session::rows_num(s, session::at("SELECT k FROM net.t", Consistency::LocalOne)).await
}

/// How many of `keys` a LOCAL_ONE read finds.
async fn present(s: &Session, keys: std::ops::Range<i32>) -> usize {
    let mut n = 0;
    for k in keys {
        let st = session::at("SELECT k FROM net.t WHERE k = ?", Consistency::LocalOne);
        n += session::rows(s, st, (k,)).await.rows_num();
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_link_delays_partitions_and_reconnects_the_datacenters() {
    let d = common::Services::start(140).await;
    let cli = |line: &'static str| d.ok(line);
    cli("service create lon --service-type cassandra --plan business-4 --cloud aws-eu-west-1 -c cassandra.datacenter=lon").await;
    cli("service create nyc --service-type cassandra --plan business-4 --cloud google-us-east1 -c cassandra.datacenter=nyc -c service_to_join_with=lon").await;
    cli("service wait lon --timeout 60").await;
    cli("service wait nyc --timeout 120").await;

    // The default link comes from the clouds (Ireland to South Carolina).
    let link: Value = serde_json::from_str(&cli("ccr link lon --json").await).unwrap();
    let ms = link["latency_ms"].as_f64().unwrap();
    assert!(
        link["from_clouds"] == true && (35.0..60.0).contains(&ms),
        "{link}"
    );
    assert!(cli("ccr status nyc").await.contains("link: latency"));

    let v: Value = d.service("lon").await;
    let password = v["service_uri_params"]["password"]
        .as_str()
        .unwrap()
        .to_string();
    let lon = session_in("127.0.140.1", "lon", &password).await;
    let nyc = session_in("127.0.141.1", "nyc", &password).await;
    common::session::ddl(
        &lon,
        &[
            "CREATE KEYSPACE net WITH replication = {'class': 'NetworkTopologyStrategy', 'lon': 3, 'nyc': 3}",
            "CREATE TABLE net.t (k int PRIMARY KEY, v text)",
        ],
    )
    .await;

    // EACH_QUORUM waits for nyc: the write and its acknowledgements cross
    // the link, so it takes at least two one-way delays.
    cli("ccr link lon --latency 150ms --jitter 0ms --seed 7").await;
    write(&lon, 1, Consistency::EachQuorum).await.unwrap();
    let t0 = Instant::now();
    write(&lon, 2, Consistency::EachQuorum).await.unwrap();
    assert!(
        t0.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t0.elapsed()
    );

    // (A keyspace ccr status should warn about.)
    lon.query_unpaged(
        "CREATE KEYSPACE old WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
        &[],
    )
    .await
    .unwrap();

    // A partition: LOCAL_QUORUM goes on, EACH_QUORUM is Unavailable.
    cli("ccr link lon --down").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match write(&lon, 3, Consistency::EachQuorum).await {
            Err(DbError::Unavailable { .. }) => break,
            _ => assert!(Instant::now() < deadline, "nyc never seen down from lon"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for k in 100..120 {
        write(&lon, k, Consistency::LocalQuorum).await.unwrap();
    }
    // ccr status shows the hints piling up, the replication, and warnings.
    let status = cli("ccr status lon").await;
    let hints: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("pending hints in lon: "))
        .unwrap_or_else(|| panic!("{status}"))
        .parse()
        .unwrap();
    assert!(hints >= 20, "{status}");
    assert!(
        status.contains("link: latency 150.0 ms, jitter 0.0 ms, loss 0.0%, DOWN, seed 7"),
        "{status}"
    );
    assert!(
        status.lines().any(|l| l.starts_with("net ")
            && l.contains("NetworkTopologyStrategy")
            && l.ends_with("lon=3 nyc=3")),
        "{status}"
    );
    assert!(
        status.contains("warning: old uses SimpleStrategy"),
        "{status}"
    );
    assert!(!status.contains("warning: net"), "{status}");
    // Up again (and fast): the hints replay, the writes reach nyc.
    cli("ccr link lon --up --latency 0ms").await;
    common::poll(60, "nyc has all 22 rows after the partition", || async {
        match count(&nyc).await {
            22.. => Ok(()),
            n => Err(format!("nyc has {n} of 22 rows")),
        }
    })
    .await;

    // Hints paused in lon: writes made during a partition reach nyc only
    // through `ccr repair`.
    for n in 1..=3 {
        let (_, err, code) = common::nodetool(&format!("127.0.140.{n}"), &["pausehandoff"]).await;
        assert_eq!(code, 0, "{err}");
    }
    cli("ccr link lon --down").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(
        write(&lon, 3, Consistency::EachQuorum).await,
        Err(DbError::Unavailable { .. })
    ) {
        assert!(Instant::now() < deadline, "nyc never seen down from lon");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for k in 200..230 {
        write(&lon, k, Consistency::LocalQuorum).await.unwrap();
    }
    cli("ccr link lon --up").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while write(&lon, 4, Consistency::EachQuorum).await.is_err() {
        assert!(Instant::now() < deadline, "nyc never seen up from lon");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        present(&nyc, 200..230).await,
        0,
        "hints are paused: nothing written during the partition is in nyc"
    );
    let (out, err, code) = common::cli(
        &d.server.url(),
        &d.server.token,
        &["ccr", "repair", "lon", "--keyspace", "nosuch"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(
        format!("{out}{err}").contains("Keyspace [nosuch] does not exist."),
        "{out}{err}"
    );
    let out = cli("ccr repair lon --keyspace net").await;
    assert_eq!(
        out.matches("Repair completed successfully").count(),
        7,
        "{out}"
    );
    for a in ["127.0.140.1", "127.0.140.3", "127.0.141.2"] {
        assert!(
            out.contains(&format!(
                "== {} {a} ==",
                if a.starts_with("127.0.140") {
                    "lon"
                } else {
                    "nyc"
                }
            )),
            "{out}"
        );
    }
    assert!(out.contains("range(s) out of sync for t"), "{out}");
    assert_eq!(
        present(&nyc, 200..230).await,
        30,
        "every row in nyc after the repair"
    );
    drop((lon, nyc));
    d.stop().await;
}
