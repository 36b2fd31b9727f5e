//! The error of parsing or planning a statement, [`CqlError`], and how it
//! reaches the client as a [`QueryError`].

use crate::node::error::QueryError;

/// A failure of parsing or planning a statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CqlError {
    #[error("{0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
}

impl From<CqlError> for QueryError {
    fn from(e: CqlError) -> Self {
        match e {
            CqlError::Syntax(m) => QueryError::Syntax(m),
            CqlError::Invalid(m) => QueryError::Invalid(m),
        }
    }
}
