//! The daemon: `ccrsim serve`.
//!
//! It owns a state directory (`--state-dir`, default `./.ccrsim`) holding
//! the SQLite database, the API token (mode 0600, created on first start) and
//! a lock file that keeps a second daemon off the same state. It serves the
//! API until Ctrl-C or SIGTERM, then finishes the requests in flight and
//! stops. [`Server::start`] runs it inside any tokio runtime, which is how
//! the tests start real servers on `127.0.0.1:0`.

use std::fs::{self, File, OpenOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngExt as _;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::api::{AppState, router};
use super::catalog::Catalog;
use super::error::ControlError;
use super::model::{CASSANDRA, CreateServiceRequest};
use super::runtime::NodeRuntime;
use super::store::Store;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9180";
pub const DEFAULT_STATE_DIR: &str = ".ccrsim";
pub const DEFAULT_PROJECT: &str = "ccrsim";
pub const TOKEN_FILE: &str = "token";
pub const DB_FILE: &str = "ccrsim.db";

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("state directory {path}: {source}")]
    StateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another ccrsim daemon is using the state directory {0}; stop it or use another --state-dir"
    )]
    Locked(PathBuf),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Control(#[from] ControlError),
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub state_dir: PathBuf,
    pub listen: SocketAddr,
    /// The project created at start if missing.
    pub project: String,
    /// New services get address blocks `127.0.k.0/24` from this `k` up.
    pub first_slot: u8,
}

/// A running daemon.
pub struct Server {
    pub addr: SocketAddr,
    pub token: String,
    /// Whether this start created the token (first start on this state).
    pub token_created: bool,
    pub state: Arc<AppState>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    _lock: File,
}

impl Server {
    /// Opens the state, brings up the nodes of every stored service through
    /// `runtime`, and starts serving the API.
    pub async fn start(
        config: ServeConfig,
        runtime: Arc<dyn NodeRuntime>,
    ) -> Result<Server, ServeError> {
        let dir = config.state_dir.clone();
        let (lock, token, token_created, store) =
            tokio::task::spawn_blocking(move || open_state(&dir))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))??;
        store.set_first_slot(config.first_slot);
        store.set_address_base(runtime.address_base());
        let store = Arc::new(store);
        {
            let store = store.clone();
            let project = config.project.clone();
            tokio::task::spawn_blocking(move || store.ensure_project(&project))
                .await
                .map_err(|e| ControlError::Internal(e.to_string()))??;
        }
        let state = Arc::new(AppState {
            store: store.clone(),
            runtime,
            token: token.clone(),
        });
        // The daemon restarts with its services: tell the runtime what should run.
        let services = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || {
                store
                    .all_services()?
                    .into_iter()
                    .map(|s| Ok((store.runtime_peer(&s)?, store.link(&s)?, s)))
                    .map(|r: Result<_, ControlError>| r.map(|(p, l, s)| (s, p, l)))
                    .collect::<Result<Vec<_>, ControlError>>()
            })
            .await
            .map_err(|e| ControlError::Internal(e.to_string()))??
        };
        for s in &services {
            let (s, peer, link) = s;
            let nodes = store.nodes(s);
            if let Err(e) = state.runtime.ensure(s, &nodes, peer.as_ref()) {
                tracing::error!(service = %s.name, "{e}");
            }
            if let (Some(peer), Some(link)) = (peer, link) {
                super::api::apply_link(&state, s, &nodes, peer, link);
            }
        }

        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })?;
        let (tx, rx) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, services = services.len(), "ccrsim control plane listening");
        Ok(Server {
            addr,
            token,
            token_created,
            state,
            shutdown: tx,
            task,
            _lock: lock,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting requests, finishes those in flight, and releases the state.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("server stopped with an error: {e}"),
            Err(e) => tracing::error!("server task failed: {e}"),
        }
    }
}

fn state_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServeError + '_ {
    move |source| ServeError::StateDir {
        path: path.to_path_buf(),
        source,
    }
}

fn open_state(dir: &Path) -> Result<(File, String, bool, Store), ServeError> {
    fs::create_dir_all(dir).map_err(state_err(dir))?;
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    let lock_path = dir.join("lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(state_err(&lock_path))?;
    if lock.try_lock().is_err() {
        return Err(ServeError::Locked(dir.to_path_buf()));
    }
    let (token, created) = load_or_create_token(dir)?;
    let store = Store::open(&dir.join(DB_FILE), Arc::new(Catalog::builtin()))?;
    Ok((lock, token, created, store))
}

/// Reads the API token, creating it (random, mode 0600) on first start.
fn load_or_create_token(dir: &Path) -> Result<(String, bool), ServeError> {
    let path = dir.join(TOKEN_FILE);
    match fs::read_to_string(&path) {
        Ok(t) if !t.trim().is_empty() => return Ok((t.trim().to_string(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(state_err(&path)(e)),
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    // Written to a temporary file and renamed, so a crash never leaves half a token.
    let tmp = dir.join("token.tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(state_err(&tmp))?;
    f.write_all(token.as_bytes()).map_err(state_err(&tmp))?;
    f.sync_all().map_err(state_err(&tmp))?;
    fs::rename(&tmp, &path).map_err(state_err(&path))?;
    Ok((token, true))
}

/// Reads the token a daemon wrote into `dir` (what the CLI does when
/// `CCRSIM_AUTH_TOKEN` is not set).
pub fn read_token(dir: &Path) -> std::io::Result<String> {
    Ok(fs::read_to_string(dir.join(TOKEN_FILE))?.trim().to_string())
}

/// The demo pair of `fixtures/demo.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Demo {
    pub project: String,
    pub plan: String,
    pub rf: u32,
    pub keyspaces: Vec<String>,
    pub services: Vec<DemoService>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DemoService {
    pub name: String,
    pub cloud: String,
    #[serde(default)]
    pub join: Option<String>,
}

impl Demo {
    pub fn builtin() -> Demo {
        serde_json::from_str(include_str!("../../fixtures/demo.json"))
            .expect("fixtures/demo.json is valid (checked by a test)")
    }

    /// Creates the demo pair's project and services where they are missing.
    /// Returns the names of the services it created.
    pub fn ensure(&self, state: &AppState) -> Result<Vec<String>, ControlError> {
        state.store.ensure_project(&self.project)?;
        let mut created = Vec::new();
        for s in &self.services {
            if state.store.service(&self.project, &s.name).is_ok() {
                continue;
            }
            let mut user_config = serde_json::json!({"cassandra": {"datacenter": s.name}});
            if let Some(target) = &s.join {
                user_config["service_to_join_with"] = target.clone().into();
            }
            let service = state.store.create_service(
                &self.project,
                &CreateServiceRequest {
                    service_name: s.name.clone(),
                    service_type: CASSANDRA.into(),
                    plan: self.plan.clone(),
                    cloud: Some(s.cloud.clone()),
                    user_config,
                    ..Default::default()
                },
            )?;
            let peer = state.store.runtime_peer(&service)?;
            let nodes = state.store.nodes(&service);
            if let Err(e) = state.runtime.ensure(&service, &nodes, peer.as_ref()) {
                tracing::error!(service = %service.name, "{e}");
            }
            if let (Some(peer), Some(link)) = (&peer, state.store.link(&service)?) {
                super::api::apply_link(state, &service, &nodes, peer, &link);
            }
            created.push(s.name.clone());
        }
        Ok(created)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_fixture_is_a_pair_of_two_clouds() {
        let d = Demo::builtin();
        assert_eq!(d.services.len(), 2);
        assert_ne!(d.services[0].cloud, d.services[1].cloud);
        assert_eq!(
            d.services[1].join.as_deref(),
            Some(d.services[0].name.as_str())
        );
        assert_eq!(
            Catalog::builtin()
                .plan(&d.plan)
                .map(|p| (p.node_count, p.ccr)),
            Some((3, true))
        );
    }

    #[test]
    fn token_is_created_once_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("ccrsim-token-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let (t1, created) = load_or_create_token(&dir).unwrap();
        assert!(created && t1.len() == 64);
        let (t2, created) = load_or_create_token(&dir).unwrap();
        assert!(!created);
        assert_eq!(t1, t2);
        let mode = fs::metadata(dir.join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(&dir).unwrap();
    }
}
