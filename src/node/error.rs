//! The node's one error type for requests, with Cassandra's error codes.
//!
//! Every layer below (schema, storage, auth, CQL parsing and execution)
//! has its own error type; each converts into [`QueryError`] here, and the
//! server turns a `QueryError` into the protocol's ERROR frame in one place,
//! so a client always gets the code and message Cassandra would send.

use crate::node::auth::AuthError;
use crate::node::db::schema::SchemaError;
use crate::node::db::storage::StorageError;

/// A request's failure, as the client will see it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("{0}")]
    Server(String),
    #[error("{0}")]
    Protocol(String),
    #[error("{0}")]
    Authentication(String),
    /// The node refuses the request for now (bytes in flight over a limit,
    /// with the client's STARTUP option `THROW_ON_OVERLOAD`); drivers retry
    /// on another node.
    #[error("{0}")]
    Overloaded(String),
    #[error("Cannot achieve consistency level {consistency}")]
    Unavailable {
        consistency: String,
        required: i32,
        alive: i32,
    },
    #[error("Operation timed out - received only {received} responses.")]
    WriteTimeout {
        consistency: String,
        received: i32,
        block_for: i32,
        write_type: String,
    },
    #[error("Operation timed out - received only {received} responses.")]
    ReadTimeout {
        consistency: String,
        received: i32,
        block_for: i32,
        data_present: bool,
    },
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Config(String),
    #[error("{message}")]
    AlreadyExists {
        keyspace: String,
        table: String,
        message: String,
    },
    #[error("Prepared query with ID {} not found (either the query was not prepared on this host (maybe the host has been restarted?) or you have prepared too many queries and it has been evicted from the internal cache)", hex(.0))]
    Unprepared(Vec<u8>),
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl QueryError {
    /// The native protocol error code.
    pub fn code(&self) -> i32 {
        match self {
            QueryError::Server(_) => 0x0000,
            QueryError::Protocol(_) => 0x000A,
            QueryError::Authentication(_) => 0x0100,
            QueryError::Unavailable { .. } => 0x1000,
            QueryError::Overloaded(_) => 0x1001,
            QueryError::WriteTimeout { .. } => 0x1100,
            QueryError::ReadTimeout { .. } => 0x1200,
            QueryError::Syntax(_) => 0x2000,
            QueryError::Unauthorized(_) => 0x2100,
            QueryError::Invalid(_) => 0x2200,
            QueryError::Config(_) => 0x2300,
            QueryError::AlreadyExists { .. } => 0x2400,
            QueryError::Unprepared(_) => 0x2500,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> QueryError {
        QueryError::Invalid(msg.into())
    }

    /// A clear answer for what ccrsim does not do (yet): Invalid, naming it.
    pub fn unsupported(what: &str) -> QueryError {
        QueryError::Invalid(format!("{what} is not supported by ccrsim"))
    }
}

impl From<SchemaError> for QueryError {
    fn from(e: SchemaError) -> Self {
        match e {
            SchemaError::Invalid(m) => QueryError::Invalid(m),
            SchemaError::Config(m) => QueryError::Config(m),
            SchemaError::Unauthorized(m) => QueryError::Unauthorized(m),
            SchemaError::AlreadyExists {
                keyspace,
                table,
                message,
            } => QueryError::AlreadyExists {
                keyspace,
                table,
                message,
            },
        }
    }
}

impl From<StorageError> for QueryError {
    fn from(e: StorageError) -> Self {
        match e {
            // What the request asked to store, not a fault of the node.
            StorageError::KeyTooLong(_) | StorageError::ClusteringTooWide(_) => {
                QueryError::Invalid(e.to_string())
            }
            _ => QueryError::Server(e.to_string()),
        }
    }
}

impl From<AuthError> for QueryError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Failed(m) => QueryError::Authentication(m),
            AuthError::Malformed(m) => QueryError::Protocol(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_conversions() {
        assert_eq!(
            QueryError::from(SchemaError::Config("x".into())).code(),
            0x2300
        );
        let e = QueryError::from(SchemaError::AlreadyExists {
            keyspace: "ks".into(),
            table: String::new(),
            message: "Keyspace 'ks' already exists".into(),
        });
        assert_eq!(
            (e.code(), e.to_string()),
            (0x2400, "Keyspace 'ks' already exists".to_string())
        );
        assert_eq!(
            QueryError::from(AuthError::Failed("no".into())).code(),
            0x0100
        );
        assert!(
            QueryError::Unprepared(vec![0xab, 0x01])
                .to_string()
                .contains("ab01")
        );
        assert_eq!(QueryError::Overloaded("busy".into()).code(), 0x1001);
        assert_eq!(
            QueryError::unsupported("CREATE INDEX").to_string(),
            "CREATE INDEX is not supported by ccrsim"
        );
        assert_eq!(
            QueryError::Unavailable {
                consistency: "QUORUM".into(),
                required: 4,
                alive: 3
            }
            .to_string(),
            "Cannot achieve consistency level QUORUM"
        );
    }
}
