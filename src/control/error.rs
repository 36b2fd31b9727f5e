//! The control plane's one error type, mapped once to HTTP statuses.

use super::model::Invalid;
use super::rules::RuleViolation;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The request is malformed or names something that does not exist in the catalog.
    #[error("{0}")]
    BadRequest(String),
    /// A CCR rule refused the request.
    #[error("{0}")]
    Rule(#[from] RuleViolation),
    #[error("{0}")]
    NotFound(String),
    /// The name is taken, or the request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    #[error("Invalid or missing authentication token")]
    Unauthorized,
    #[error("{0}")]
    Forbidden(String),
    /// Something failed inside ccrsim (database, runtime); the request changed nothing.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ControlError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            ControlError::BadRequest(_) | ControlError::Rule(_) => 400,
            ControlError::Unauthorized => 401,
            ControlError::Forbidden(_) => 403,
            ControlError::NotFound(_) => 404,
            ControlError::Conflict(_) => 409,
            ControlError::Internal(_) => 500,
        }
    }
}

impl From<Invalid> for ControlError {
    fn from(e: Invalid) -> Self {
        ControlError::BadRequest(e.0)
    }
}

impl From<rusqlite::Error> for ControlError {
    fn from(e: rusqlite::Error) -> Self {
        ControlError::Internal(format!("state database: {e}"))
    }
}
