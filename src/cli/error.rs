//! The error every command returns; `run` prints it and exits 1.

use crate::replication::ReplicationError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{message} (HTTP {status})")]
    Api { status: u16, message: String },
    #[error("cannot reach the ccrsim API at {url}: {reason}. Is `ccrsim serve` running there?")]
    Connect { url: String, reason: String },
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    #[error("{0}")]
    Io(String),
    #[error(transparent)]
    Serve(#[from] crate::control::server::ServeError),
}
