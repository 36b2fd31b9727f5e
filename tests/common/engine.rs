//! One node's query engine in this process, with no sockets: its own data
//! directory, a batch commit log, datacenter dc1, and `cassandra` as the
//! superuser.

use std::path::Path;
use std::sync::Arc;

use ccrsim::node::cql::exec::{Engine, EngineConfig};
use ccrsim::node::db::storage::{CommitlogSync, Storage};
use ccrsim::node::db::system::NodeInfo;

/// Opens an engine on `dir` for a cluster named `cluster_name`, its host id
/// all `host_id` bytes, checking permissions when `authorization` is set.
pub fn open(dir: &Path, cluster_name: &str, host_id: u8, authorization: bool) -> Arc<Engine> {
    let storage = Arc::new(Storage::open(dir, CommitlogSync::Batch).unwrap());
    let info = NodeInfo {
        host_id: [host_id; 16],
        datacenter: "dc1".into(),
        rack: "rack1".into(),
        listen_address: "127.0.0.1".parse().unwrap(),
        listen_port: 7000,
        broadcast_address: "127.0.0.1".parse().unwrap(),
        rpc_address: "127.0.0.1".parse().unwrap(),
        native_port: 9042,
        tokens: vec![0],
        schema_version: [0; 16],
        release_version: "4.1.3".into(),
    };
    Arc::new(
        Engine::open(
            storage,
            info,
            EngineConfig {
                cluster_name: cluster_name.into(),
                auth_enabled: true,
                authorization,
                superuser_name: "cassandra".into(),
                superuser_password: "cassandra".into(),
                batch_limits: Default::default(),
            },
        )
        .unwrap(),
    )
}
