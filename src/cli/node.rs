//! `ccrsim node`: one Cassandra-style node in this process.

use crate::cli::daemon::ShutdownSignal;
use crate::cli::error::CliError;

pub async fn node(args: &crate::node::config::NodeArgs) -> Result<(), CliError> {
    let signal = ShutdownSignal::install();
    let config = args.resolve().map_err(|e| CliError::Usage(e.to_string()))?;
    let node = crate::node::instance::Node::start(config)
        .await
        .map_err(|e| CliError::Io(e.to_string()))?;
    signal.wait().await;
    tracing::info!("Stopping the node: closing client connections and flushing storage");
    node.stop().await;
    tracing::info!("Node stopped");
    Ok(())
}
