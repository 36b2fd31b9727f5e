//! What a statement runs with: the connection's [`Session`] (its keyspace
//! and role), one execution's protocol [`Options`] (bound values, paging,
//! consistency), and the [`Result`] every step of running returns.

use crate::node::db::consistency::Consistency;
use crate::node::error::QueryError;
use crate::node::transport::protocol::primitives::Value;

pub type Result<T> = std::result::Result<T, QueryError>;

/// The connection's state that statements see and change.
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub keyspace: Option<String>,
    /// The logged-in role; `None` with authentication off.
    pub user: Option<String>,
    /// The node's own work (Cassandra's internal client state): no login,
    /// no permission checks. Never set for a client's connection.
    pub internal: bool,
}

impl Session {
    /// A session of the logged-in role `user`.
    pub fn user(user: &str) -> Session {
        Session {
            user: Some(user.to_string()),
            ..Session::default()
        }
    }

    /// The session of the node's own operations (a runtime altering a
    /// service's keyspaces): nothing is checked, as for Cassandra's
    /// internal calls.
    pub fn internal() -> Session {
        Session {
            internal: true,
            ..Session::default()
        }
    }
}

/// The protocol-level options of one execution.
#[derive(Debug, Clone, Default)]
pub struct Options<'a> {
    pub values: Vec<Value<'a>>,
    pub names: Option<Vec<&'a str>>,
    pub page_size: Option<i32>,
    pub paging_state: Option<&'a [u8]>,
    pub default_timestamp: Option<i64>,
    pub skip_metadata: bool,
    pub consistency: Consistency,
    /// For conditional statements: SERIAL (the default) or LOCAL_SERIAL.
    pub serial_consistency: Option<Consistency>,
}
