//! `ccrsim nodetool`: Cassandra's nodetool, spoken to a node's internode port.

use std::io::Write;
use std::net::SocketAddr;

use crate::cli::args::NodetoolArgs;
use crate::cli::error::CliError;
use crate::cli::output::w;

pub async fn nodetool(args: &NodetoolArgs, out: &mut (dyn Write + Send)) -> Result<(), CliError> {
    let host = match (&args.host, std::env::var("CASSANDRA_LISTEN_ADDRESS")) {
        (Some(h), _) => h.clone(),
        (None, Ok(a)) if a.trim().eq_ignore_ascii_case("auto") => {
            crate::node::config::own_address().to_string()
        }
        (None, Ok(a)) if !a.trim().is_empty() => a.trim().to_string(),
        _ => "127.0.0.1".to_string(),
    };
    let ip: std::net::IpAddr = match host.parse() {
        Ok(ip) => ip,
        Err(_) => tokio::net::lookup_host((host.as_str(), args.port))
            .await
            .ok()
            .and_then(|mut a| a.next())
            .map(|a| a.ip())
            .ok_or_else(|| CliError::Usage(format!("nodetool: unknown host {host}")))?,
    };
    let addr = SocketAddr::new(ip, args.port);
    let (ok, text) = crate::node::cluster::transport::admin(addr, args.command.clone())
        .await
        .map_err(|e| {
            CliError::Io(format!(
                "nodetool: Failed to connect to '{host}:{}' - {e}.",
                args.port
            ))
        })?;
    if ok {
        w(out, &text)
    } else {
        Err(CliError::Io(text.trim_end().to_string()))
    }
}
