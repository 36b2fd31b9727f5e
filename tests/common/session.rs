//! Driver sessions and the queries tests repeat: a session pinned to one
//! datacenter, a database error out of a driver error, rows counted.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, NewSessionError, RequestAttemptError};
use scylla::policies::load_balancing::{
    DefaultPolicy, NodeIdentifier, SingleTargetLoadBalancingPolicy,
};
use scylla::policies::retry::FallthroughRetryPolicy;
use scylla::response::query_result::QueryRowsResult;
use scylla::serialize::row::SerializeRow;
use scylla::statement::Consistency;
use scylla::statement::Statement;

/// A session that stays in one datacenter (no failover to another), logged
/// in as `cassandra` with the driver's default retries unless told otherwise.
pub struct Pinned {
    dc: String,
    user: String,
    password: String,
    token_aware: bool,
    never_retry: bool,
}

/// A session whose every request is coordinated by the node at
/// `addr`:9042 and never retried, connected within `secs` seconds (a failed
/// attempt is logged and tried again every 100 ms).
pub async fn through(addr: IpAddr, secs: u64) -> Session {
    let target = SocketAddr::new(addr, 9042);
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let profile = ExecutionProfile::builder()
            .load_balancing_policy(SingleTargetLoadBalancingPolicy::new(
                NodeIdentifier::NodeAddress(target),
                None,
            ))
            .retry_policy(Arc::new(FallthroughRetryPolicy::new()))
            .build();
        let e = match SessionBuilder::new()
            .known_node(target.to_string())
            .user("cassandra", "cassandra")
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
        {
            Ok(s) => return s,
            Err(e) => e,
        };
        assert!(
            Instant::now() < deadline,
            "no session to {addr} within {secs} s: {e}"
        );
        eprintln!("connecting to {addr} failed, retrying: {e}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A session pinned to datacenter `dc`.
pub fn pinned(dc: &str) -> Pinned {
    Pinned {
        dc: dc.to_string(),
        user: "cassandra".into(),
        password: "cassandra".into(),
        token_aware: false,
        never_retry: false,
    }
}

impl Pinned {
    pub fn login(mut self, user: &str, password: &str) -> Pinned {
        self.user = user.into();
        self.password = password.into();
        self
    }

    /// Routes each request to a replica of its partition.
    pub fn token_aware(mut self) -> Pinned {
        self.token_aware = true;
        self
    }

    /// Never retries: a write that returns `Ok` was acknowledged at its
    /// consistency level, and every failure is the one the server answered.
    pub fn never_retry(mut self) -> Pinned {
        self.never_retry = true;
        self
    }

    /// Connects through the node at `addr`:9042.
    pub async fn connect(self, addr: &str) -> Result<Session, NewSessionError> {
        let mut policy = DefaultPolicy::builder()
            .prefer_datacenter(self.dc)
            .permit_dc_failover(false);
        if self.token_aware {
            policy = policy.token_aware(true);
        }
        let mut profile = ExecutionProfile::builder().load_balancing_policy(policy.build());
        if self.never_retry {
            profile = profile.retry_policy(Arc::new(FallthroughRetryPolicy::new()));
        }
        SessionBuilder::new()
            .known_node(format!("{addr}:9042"))
            .user(self.user, self.password)
            .default_execution_profile_handle(profile.build().into_handle())
            .build()
            .await
    }
}

/// A session through `addr`:9042 as `cassandra`, with the driver's defaults.
pub async fn connect(addr: &str) -> Result<Session, NewSessionError> {
    login(addr, "cassandra", "cassandra").await
}

/// A session through `addr`:9042 as `user`, with the driver's defaults.
pub async fn login(addr: &str, user: &str, password: &str) -> Result<Session, NewSessionError> {
    SessionBuilder::new()
        .known_node(format!("{addr}:9042"))
        .user(user, password)
        .build()
        .await
}

/// The database error a request failed with; fails the test on any other failure.
pub fn db_error<T>(r: Result<T, ExecutionError>) -> Result<T, DbError> {
    match r {
        Ok(v) => Ok(v),
        Err(ExecutionError::LastAttemptError(RequestAttemptError::DbError(e, _))) => Err(e),
        Err(e) => panic!("{e}"),
    }
}

/// `cql` at consistency `cl`.
pub fn at(cql: &str, cl: Consistency) -> Statement {
    let mut st = Statement::new(cql);
    st.set_consistency(cl);
    st
}

/// The rows `st` returns, bound to `values`.
pub async fn rows(
    s: &Session,
    st: impl Into<Statement>,
    values: impl SerializeRow,
) -> QueryRowsResult {
    s.query_unpaged(st, values)
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
}

/// How many rows `st` returns.
pub async fn rows_num(s: &Session, st: impl Into<Statement>) -> usize {
    rows(s, st, &[]).await.rows_num()
}

/// The one row `st` returns, bound to `values`.
pub async fn single_row<R>(s: &Session, st: impl Into<Statement>, values: impl SerializeRow) -> R
where
    R: for<'f> scylla::deserialize::row::DeserializeRow<'f, 'f>,
{
    rows(s, st, values).await.single_row::<R>().unwrap()
}

/// The first row `st` returns, bound to `values`, if it returns any.
pub async fn first_row<R>(
    s: &Session,
    st: impl Into<Statement>,
    values: impl SerializeRow,
) -> Option<R>
where
    R: for<'f> scylla::deserialize::row::DeserializeRow<'f, 'f>,
{
    rows(s, st, values).await.maybe_first_row::<R>().unwrap()
}

/// Runs each schema statement in turn, then waits for every node to agree
/// on the schema.
pub async fn ddl(s: &Session, statements: &[&str]) {
    for st in statements {
        s.query_unpaged(*st, &[]).await.unwrap();
    }
    s.await_schema_agreement().await.unwrap();
}

/// The database error and message of a failed request; fails the test on
/// any other failure.
pub fn db_error_and_message(e: ExecutionError) -> (DbError, String) {
    match e {
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(db, msg)) => (db, msg),
        other => panic!("expected a database error, got {other:?}"),
    }
}
