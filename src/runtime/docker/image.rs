//! The node image and the Docker engine, shared by the Docker runtime and
//! the test kit: which image runs (ccrsim's own or Apache Cassandra's), how
//! it is found or built from this checkout (no registry), and the engine's
//! client.

use std::path::Path;
use std::time::{Duration, SystemTime};

use testcontainers::bollard::Docker;
use testcontainers::core::WaitFor;

/// The ready line of both images.
pub const READY_LINE: &str = "Starting listening for CQL clients";
/// The image the harness builds from this repository.
pub const DEFAULT_IMAGE: &str = "ccrsim-node:dev";
pub(crate) const CQL_PORT: u16 = 9042;

/// What went wrong, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error(
        "Docker is not available ({0}). The container tests need a running Docker engine: \
         install it (Debian: apt-get install docker.io) and start it (service docker start)"
    )]
    NoDocker(String),
    #[error("the image {0} is not here and cannot be pulled (no registry): {1}")]
    NoImage(String, String),
    #[error("building the node image failed: {0}")]
    Build(String),
    #[error("docker: {0}")]
    Docker(String),
    #[error("CQL: {0}")]
    Cql(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("partition: {0}")]
    Partition(String),
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn docker_err(
    what: &str,
) -> impl FnOnce(testcontainers::bollard::errors::Error) -> HarnessError {
    let what = what.to_string();
    move |e| HarnessError::Docker(format!("{what}: {e}"))
}

pub(crate) fn tc_err(
    what: &str,
) -> impl FnOnce(testcontainers::TestcontainersError) -> HarnessError {
    let what = what.to_string();
    move |e| HarnessError::Docker(format!("{what}: {e}"))
}

/// Which engine an image runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// A ccrsim node image (`docker/build.sh`).
    Ccrsim,
    /// The official Apache Cassandra image.
    Cassandra,
}

/// The node image, as `name:tag`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeImage {
    pub name: String,
    pub tag: String,
    pub flavor: Flavor,
}

impl NodeImage {
    /// Parses `name[:tag]`; an image whose last path part is `cassandra`
    /// is taken to be the official Cassandra image.
    pub fn parse(spec: &str) -> NodeImage {
        let spec = spec.trim();
        let (name, tag) = match spec.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t),
            _ => (spec, "latest"),
        };
        let last = name.rsplit('/').next().unwrap_or(name);
        let flavor = if last == "cassandra" {
            Flavor::Cassandra
        } else {
            Flavor::Ccrsim
        };
        NodeImage {
            name: name.to_string(),
            tag: tag.to_string(),
            flavor,
        }
    }

    /// `CCRSIM_NODE_IMAGE`, or [`DEFAULT_IMAGE`].
    pub fn from_env() -> NodeImage {
        match std::env::var("CCRSIM_NODE_IMAGE") {
            Ok(s) if !s.trim().is_empty() => NodeImage::parse(&s),
            _ => NodeImage::parse(DEFAULT_IMAGE),
        }
    }

    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    pub(crate) fn nodetool(&self) -> Vec<&'static str> {
        match self.flavor {
            Flavor::Ccrsim => vec!["ccrsim", "nodetool"],
            Flavor::Cassandra => vec!["nodetool"],
        }
    }

    pub(crate) fn ready(&self) -> WaitFor {
        match self.flavor {
            Flavor::Ccrsim => WaitFor::message_on_stderr(READY_LINE),
            Flavor::Cassandra => WaitFor::message_on_stdout(READY_LINE),
        }
    }

    pub(crate) fn startup_timeout(&self) -> Duration {
        match self.flavor {
            Flavor::Ccrsim => Duration::from_secs(60),
            Flavor::Cassandra => Duration::from_secs(240),
        }
    }
}

/// A reachable Docker engine, or why not.
pub async fn docker() -> Result<Docker, HarnessError> {
    let d = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| HarnessError::NoDocker(e.to_string()))?;
    d.ping()
        .await
        .map_err(|e| HarnessError::NoDocker(e.to_string()))?;
    Ok(d)
}

/// For tests: a reachable Docker engine, or `None` after saying loudly that
/// the test is skipped. Under `CI=true` a missing engine is a failure.
pub async fn docker_or_skip(test: &str) -> Option<Docker> {
    match docker().await {
        Ok(d) => Some(d),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: {e} (CI=true requires Docker)")
        }
        Err(e) => {
            eprintln!("\n*** SKIPPED {test}: {e} ***\n");
            None
        }
    }
}

/// Makes sure `image` is present. The default image is (re)built from this
/// repository with `docker/build.sh` when it is missing or older than the
/// sources; any other image must already be loaded.
pub async fn ensure_image(docker: &Docker, image: &NodeImage) -> Result<(), HarnessError> {
    static BUILD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _guard = BUILD.lock().await;
    let reference = image.reference();
    let created = match docker.inspect_image(&reference).await {
        Ok(i) => i.created.map(|c| c.unix_timestamp()),
        Err(_) => None,
    };
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = repo.join("docker/build.sh");
    let buildable = reference == DEFAULT_IMAGE && script.exists();
    if !buildable {
        return match created {
            Some(_) => Ok(()),
            None => Err(HarnessError::NoImage(
                reference,
                "load it with `docker load`, or unset CCRSIM_NODE_IMAGE to use ccrsim-node:dev, which docker/build.sh builds from this repository".into(),
            )),
        };
    }
    let newest = {
        let repo = repo.to_path_buf();
        tokio::task::spawn_blocking(move || newest_source(&repo))
            .await
            .map_err(|e| HarnessError::Build(e.to_string()))?
    };
    if let (Some(c), Some(n)) = (created, newest)
        && c >= n
    {
        return Ok(());
    }
    let why = if created.is_some() {
        "older than the sources"
    } else {
        "missing"
    };
    eprintln!("ccrsim harness: {reference} is {why}; building it with docker/build.sh");
    let repo = repo.to_path_buf();
    tokio::task::spawn_blocking(move || {
        // Another test process may build at the same time: one at a time.
        let lock_path = repo.join("target/image-build.lock");
        let _ = std::fs::create_dir_all(repo.join("target"));
        let lock = std::fs::File::create(&lock_path)
            .map_err(|e| HarnessError::Build(format!("{}: {e}", lock_path.display())))?;
        lock.lock()
            .map_err(|e| HarnessError::Build(format!("{}: {e}", lock_path.display())))?;
        let out = std::process::Command::new("bash")
            .arg(repo.join("docker/build.sh"))
            .current_dir(&repo)
            .output()
            .map_err(|e| HarnessError::Build(format!("cannot run docker/build.sh: {e}")))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(HarnessError::Build(format!(
                "docker/build.sh exited with {}:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )))
        }
    })
    .await
    .map_err(|e| HarnessError::Build(e.to_string()))?
}

/// The newest modification time (Unix seconds) of what goes into the image.
fn newest_source(repo: &Path) -> Option<i64> {
    fn walk(p: &Path, newest: &mut SystemTime) {
        let Ok(meta) = std::fs::metadata(p) else {
            return;
        };
        if meta.is_dir() {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    walk(&e.path(), newest);
                }
            }
        } else if let Ok(m) = meta.modified()
            && m > *newest
        {
            *newest = m;
        }
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    for p in ["src", "docker", "Cargo.toml", "Cargo.lock"] {
        walk(&repo.join(p), &mut newest);
    }
    newest
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_and_flavors() {
        let d = NodeImage::parse(DEFAULT_IMAGE);
        assert_eq!((d.name.as_str(), d.tag.as_str()), ("ccrsim-node", "dev"));
        assert_eq!(d.flavor, Flavor::Ccrsim);
        let c = NodeImage::parse("cassandra:4.1");
        assert_eq!(c.flavor, Flavor::Cassandra);
        assert_eq!(c.reference(), "cassandra:4.1");
        let r = NodeImage::parse("registry.local:5000/library/cassandra");
        assert_eq!(r.flavor, Flavor::Cassandra);
        assert_eq!(r.tag, "latest");
        assert_eq!(r.name, "registry.local:5000/library/cassandra");
        assert_eq!(c.nodetool(), vec!["nodetool"]);
        assert_eq!(d.nodetool(), vec!["ccrsim", "nodetool"]);
    }
}
