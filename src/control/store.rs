//! The control plane's state, in SQLite.
//!
//! One database file in the state directory holds projects, services, pairs
//! and the history of splits. Every change runs in one `IMMEDIATE`
//! transaction: it takes the write lock first, re-reads what the rules need,
//! checks them, and writes; so a refused or failed request writes nothing, and
//! of two concurrent creates of one name exactly one succeeds. The database
//! runs in WAL mode with `synchronous = FULL`: a committed change survives a
//! SIGKILL of the daemon (and a power loss).
//!
//! The store is synchronous. The API calls it from `spawn_blocking`, so the
//! async runtime never waits on the disk.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngExt as _;
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::Serialize;
use serde_json::Value;

use super::catalog::{Catalog, DEFAULT_CLOUD, Plan};
use super::error::ControlError;
use super::model::{
    CASSANDRA, CreateServiceRequest, DEFAULT_DATACENTER, NodeLayout, Service, UpdateServiceRequest,
    UserConfig, layout, validate_project_name, validate_service_name,
};
use super::rules::{self, JoinRequest, JoinTarget};
use super::time::now_rfc3339;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    pub project_name: String,
    pub create_time: String,
}

/// A split recorded for good: these two services can never be paired again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    pub services: [String; 2],
    pub split_time: String,
}

pub struct Store {
    conn: Mutex<Connection>,
    catalog: Arc<Catalog>,
    /// New services get address blocks `127.0.k.0/24` from this `k` up.
    first_slot: std::sync::atomic::AtomicU8,
    /// The first two octets of node addresses (the runtime's).
    address_base: std::sync::atomic::AtomicU16,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS projects (
    name        TEXT PRIMARY KEY,
    create_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pairs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project     TEXT NOT NULL REFERENCES projects(name),
    create_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS links (
    pair_id     INTEGER PRIMARY KEY REFERENCES pairs(id),
    settings    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS services (
    project                TEXT NOT NULL REFERENCES projects(name),
    name                   TEXT NOT NULL,
    service_type           TEXT NOT NULL,
    plan                   TEXT NOT NULL,
    cloud                  TEXT NOT NULL,
    disk_space_mb          INTEGER NOT NULL,
    datacenter             TEXT NOT NULL,
    slot                   INTEGER NOT NULL UNIQUE CHECK (slot BETWEEN 1 AND 255),
    powered                INTEGER NOT NULL,
    termination_protection INTEGER NOT NULL,
    pair_id                INTEGER REFERENCES pairs(id),
    joined                 TEXT,
    user_config            TEXT NOT NULL,
    admin_password         TEXT NOT NULL,
    create_time            TEXT NOT NULL,
    update_time            TEXT NOT NULL,
    PRIMARY KEY (project, name)
);
CREATE TABLE IF NOT EXISTS splits (
    project    TEXT NOT NULL,
    a          TEXT NOT NULL,
    b          TEXT NOT NULL,
    split_time TEXT NOT NULL
);
";

const SERVICE_COLUMNS: &str = "project, name, service_type, plan, cloud, disk_space_mb, datacenter, slot, powered, termination_protection, pair_id, joined, user_config, admin_password, create_time, update_time";

fn service_from_row(row: &Row<'_>) -> rusqlite::Result<Service> {
    let user_config: String = row.get(12)?;
    Ok(Service {
        project: row.get(0)?,
        name: row.get(1)?,
        service_type: row.get(2)?,
        plan: row.get(3)?,
        cloud: row.get(4)?,
        disk_space_mb: row.get::<_, i64>(5)? as u64,
        datacenter: row.get(6)?,
        slot: row.get::<_, i64>(7)? as u8,
        powered: row.get(8)?,
        termination_protection: row.get(9)?,
        pair_id: row.get(10)?,
        joined: row.get(11)?,
        user_config: serde_json::from_str(&user_config).unwrap_or(Value::Null),
        admin_password: row.get(13)?,
        create_time: row.get(14)?,
        update_time: row.get(15)?,
    })
}

impl Store {
    /// Opens (or creates) the database at `path`.
    pub fn open(path: &Path, catalog: Arc<Catalog>) -> Result<Store, ControlError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        Ok(Store {
            conn: Mutex::new(conn),
            catalog,
            first_slot: std::sync::atomic::AtomicU8::new(1),
            address_base: std::sync::atomic::AtomicU16::new(u16::from_be_bytes([127, 0])),
        })
    }

    /// New services get address blocks from `127.0.{first}.0/24` up (tests
    /// running several daemons at once give each its own range).
    pub fn set_first_slot(&self, first: u8) {
        self.first_slot
            .store(first.max(1), std::sync::atomic::Ordering::Relaxed);
    }

    /// Node addresses are `{base}.{slot}.{i}` (default `127.0`).
    pub fn set_address_base(&self, base: [u8; 2]) {
        self.address_base.store(
            u16::from_be_bytes(base),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction half-done
        // (SQLite rolls back an unfinished transaction), so the connection is
        // still good.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one IMMEDIATE transaction, committed only if `f` succeeds.
    fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ControlError>,
    ) -> Result<T, ControlError> {
        f(&self.conn())
    }

    // ---- projects ----

    /// Creates the project if it does not exist (the daemon's default project).
    pub fn ensure_project(&self, name: &str) -> Result<(), ControlError> {
        validate_project_name(name)?;
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO projects (name, create_time) VALUES (?1, ?2)",
                params![name, now_rfc3339()],
            )?;
            Ok(())
        })
    }

    pub fn create_project(&self, name: &str) -> Result<Project, ControlError> {
        validate_project_name(name)?;
        self.write(|tx| {
            let now = now_rfc3339();
            let n = tx.execute(
                "INSERT OR IGNORE INTO projects (name, create_time) VALUES (?1, ?2)",
                params![name, now],
            )?;
            if n == 0 {
                return Err(ControlError::Conflict(format!(
                    "Project '{name}' already exists"
                )));
            }
            Ok(Project {
                project_name: name.to_string(),
                create_time: now,
            })
        })
    }

    pub fn projects(&self) -> Result<Vec<Project>, ControlError> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT name, create_time FROM projects ORDER BY name")?;
            let rows = stmt.query_map([], |r| {
                Ok(Project {
                    project_name: r.get(0)?,
                    create_time: r.get(1)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
    }

    pub fn project(&self, name: &str) -> Result<Project, ControlError> {
        self.read(|c| project_in(c, name))
    }

    // ---- services ----

    pub fn service(&self, project: &str, name: &str) -> Result<Service, ControlError> {
        self.read(|c| {
            project_in(c, project)?;
            service_in(c, project, name)?.ok_or_else(|| not_found(project, name))
        })
    }

    pub fn services(&self, project: &str) -> Result<Vec<Service>, ControlError> {
        self.read(|c| {
            project_in(c, project)?;
            query_services(c, "WHERE project = ?1 ORDER BY name", params![project])
        })
    }

    /// Every service of every project (what the runtime must bring up at start).
    pub fn all_services(&self) -> Result<Vec<Service>, ControlError> {
        self.read(|c| query_services(c, "ORDER BY project, name", params![]))
    }

    /// The other service of `service`'s pair.
    pub fn peer(&self, service: &Service) -> Result<Option<Service>, ControlError> {
        self.read(|c| peer_in(c, service))
    }

    /// The simulated link of the service's pair: as set, or the default from
    /// the two services' clouds. `None` for a standalone service.
    pub fn link(
        &self,
        service: &Service,
    ) -> Result<Option<super::model::LinkSettings>, ControlError> {
        let Some(pair_id) = service.pair_id else {
            return Ok(None);
        };
        let Some(peer) = self.peer(service)? else {
            return Ok(None);
        };
        let stored: Option<String> = self.read(|c| {
            Ok(c.query_row(
                "SELECT settings FROM links WHERE pair_id = ?1",
                params![pair_id],
                |r| r.get(0),
            )
            .optional()?)
        })?;
        if let Some(l) = stored.and_then(|s| serde_json::from_str(&s).ok()) {
            return Ok(Some(l));
        }
        let ms = self.catalog.one_way_delay_ms(&service.cloud, &peer.cloud);
        Ok(Some(super::model::LinkSettings::from_clouds(
            ms,
            pair_id as u64,
        )))
    }

    /// Keeps new settings for the link of the service's pair.
    pub fn set_link(
        &self,
        service: &Service,
        link: &super::model::LinkSettings,
    ) -> Result<(), ControlError> {
        link.validate()?;
        let Some(pair_id) = service.pair_id else {
            return Err(ControlError::BadRequest(format!(
                "Service '{}' is not in a CCR pair: it has no cross-datacenter link",
                service.name
            )));
        };
        let json =
            serde_json::to_string(link).map_err(|e| ControlError::Internal(e.to_string()))?;
        self.write(|tx| {
            tx.execute(
                "INSERT INTO links (pair_id, settings) VALUES (?1, ?2) ON CONFLICT(pair_id) DO UPDATE SET settings = ?2",
                params![pair_id, json],
            )?;
            Ok(())
        })
    }

    /// The splits `service` took part in.
    pub fn splits(&self, project: &str, name: &str) -> Result<Vec<Split>, ControlError> {
        self.read(|c| splits_in(c, project, name))
    }

    /// The other service of a pair with its nodes, as runtimes take it.
    pub fn runtime_peer(
        &self,
        service: &Service,
    ) -> Result<Option<super::runtime::Peer>, ControlError> {
        Ok(self.peer(service)?.map(|p| super::runtime::Peer {
            nodes: self.nodes(&p),
            service: p,
        }))
    }

    /// The node layout of a service under its current plan.
    pub fn nodes(&self, service: &Service) -> Vec<NodeLayout> {
        let count = self.catalog.plan(&service.plan).map_or(0, |p| p.node_count);
        let zones = self
            .catalog
            .cloud(&service.cloud)
            .map(|c| c.zones.clone())
            .unwrap_or_default();
        layout(
            &service.name,
            &service.datacenter,
            self.address_base
                .load(std::sync::atomic::Ordering::Relaxed)
                .to_be_bytes(),
            service.slot,
            count,
            &zones,
        )
    }

    /// Creates a service, joining it to `service_to_join_with` when given.
    pub fn create_service(
        &self,
        project: &str,
        req: &CreateServiceRequest,
    ) -> Result<Service, ControlError> {
        validate_service_name(&req.service_name)?;
        let config = UserConfig::parse(&req.user_config)?;
        let plan = self.plan(&req.plan)?.clone();
        let cloud = req
            .cloud
            .clone()
            .unwrap_or_else(|| DEFAULT_CLOUD.to_string());
        if self.catalog.cloud(&cloud).is_none() {
            return Err(ControlError::BadRequest(format!(
                "Unknown cloud '{cloud}'; available clouds: {}",
                self.catalog.cloud_names()
            )));
        }
        let datacenter = config
            .datacenter
            .clone()
            .unwrap_or_else(|| DEFAULT_DATACENTER.to_string());
        rules::check_datacenter_name(&datacenter)?;
        if req.service_type != CASSANDRA && config.service_to_join_with.is_none() {
            return Err(ControlError::BadRequest(format!(
                "Service type '{}' is not available; ccrsim offers: {CASSANDRA}",
                req.service_type
            )));
        }

        self.write(|tx| {
            project_in(tx, project)?;
            if service_in(tx, project, &req.service_name)?.is_some() {
                return Err(ControlError::Conflict(format!(
                    "Service '{}' already exists in project '{project}'",
                    req.service_name
                )));
            }
            let mut disk = req.disk_space_mb;
            let mut pair_id = None;
            let mut joined_password = None;
            if let Some(target_name) = &config.service_to_join_with {
                let target = service_in(tx, project, target_name)?;
                let peer = match &target {
                    Some(t) => peer_in(tx, t)?,
                    None => None,
                };
                // A joining service gets its target's disk unless it asks for another.
                if disk.is_none() {
                    disk = target.as_ref().map(|t| t.disk_space_mb);
                }
                let split_before = splits_in(tx, project, &req.service_name)?
                    .iter()
                    .any(|s| s.services.contains(target_name));
                rules::check_join(
                    &self.catalog,
                    &JoinRequest {
                        name: &req.service_name,
                        service_type: &req.service_type,
                        plan: &req.plan,
                        disk_space_mb: disk.unwrap_or(plan.disk_space_mb),
                        datacenter: &datacenter,
                        target: target_name,
                    },
                    target.as_ref().map(|t| JoinTarget {
                        service: t,
                        peer: peer.as_ref().map(|p| p.name.as_str()),
                    }),
                    split_before,
                    project,
                )?;
                let target = target.expect("check_join refuses a missing target");
                joined_password = Some(target.admin_password.clone());
                let id = match target.pair_id {
                    Some(id) => id,
                    None => {
                        tx.execute(
                            "INSERT INTO pairs (project, create_time) VALUES (?1, ?2)",
                            params![project, now_rfc3339()],
                        )?;
                        let id = tx.last_insert_rowid();
                        tx.execute(
                            "UPDATE services SET pair_id = ?1, update_time = ?2 WHERE project = ?3 AND name = ?4",
                            params![id, now_rfc3339(), project, target.name],
                        )?;
                        id
                    }
                };
                pair_id = Some(id);
            }
            let disk = disk.unwrap_or(plan.disk_space_mb);
            check_disk(&plan, disk)?;
            let slot = free_slot(tx, self.first_slot.load(std::sync::atomic::Ordering::Relaxed))?;
            let now = now_rfc3339();
            let service = Service {
                project: project.to_string(),
                name: req.service_name.clone(),
                service_type: req.service_type.clone(),
                plan: plan.name.clone(),
                cloud,
                disk_space_mb: disk,
                datacenter,
                slot,
                powered: true,
                termination_protection: req.termination_protection.unwrap_or(false),
                pair_id,
                joined: config.service_to_join_with.clone(),
                user_config: config.to_value(),
                // One cluster, one `avnadmin` role: a joining service shares
                // its peer's password.
                admin_password: joined_password.unwrap_or_else(generate_password),
                create_time: now.clone(),
                update_time: now,
            };
            insert_service(tx, &service)?;
            Ok(service)
        })
    }

    /// Applies an update. Returns every service it changed: a plan or disk
    /// change on a paired service changes its peer too.
    pub fn update_service(
        &self,
        project: &str,
        name: &str,
        req: &UpdateServiceRequest,
    ) -> Result<Vec<Service>, ControlError> {
        let new_config = match &req.user_config {
            Some(v) => Some(UserConfig::parse(v)?),
            None => None,
        };
        if let Some(plan) = &req.plan {
            self.plan(plan)?;
        }
        self.write(|tx| {
            project_in(tx, project)?;
            let mut service = service_in(tx, project, name)?.ok_or_else(|| not_found(project, name))?;
            let peer = peer_in(tx, &service)?;
            if let Some(cfg) = &new_config {
                let partners: Vec<String> = splits_in(tx, project, name)?
                    .into_iter()
                    .flat_map(|s| s.services)
                    .filter(|s| s != name)
                    .collect();
                rules::check_datacenter_name(cfg.datacenter.as_deref().unwrap_or(&service.datacenter))?;
                rules::check_user_config_update(
                    &service,
                    cfg.datacenter.as_deref(),
                    cfg.service_to_join_with.as_deref(),
                    peer.as_ref().map(|p| p.name.as_str()),
                    &partners,
                )?;
            }
            if let Some(cloud) = &req.cloud
                && cloud != &service.cloud
            {
                return Err(ControlError::BadRequest(format!(
                    "Moving service '{name}' from cloud '{}' to '{cloud}' is not supported by ccrsim; create a new service in '{cloud}' instead",
                    service.cloud
                )));
            }
            let now = now_rfc3339();
            let mut changed = Vec::new();

            // Plan and disk: one change for both services of a pair.
            let plan_name = req.plan.clone().unwrap_or_else(|| service.plan.clone());
            let plan = self.plan(&plan_name)?.clone();
            if req.plan.is_some() || req.disk_space_mb.is_some() {
                rules::check_plan_change(&self.catalog, &service, &plan.name, peer.as_ref().map(|p| p.name.as_str()))?;
                let disk = match req.disk_space_mb {
                    Some(d) => d,
                    // A new plan keeps the disk if it fits, else takes the plan's default.
                    None if service.disk_space_mb < plan.disk_space_mb
                        || service.disk_space_mb > plan.disk_space_cap_mb =>
                    {
                        plan.disk_space_mb
                    }
                    None => service.disk_space_mb,
                };
                check_disk(&plan, disk)?;
                for s in std::iter::once(&service.name).chain(peer.as_ref().map(|p| &p.name)) {
                    tx.execute(
                        "UPDATE services SET plan = ?1, disk_space_mb = ?2, update_time = ?3 WHERE project = ?4 AND name = ?5",
                        params![plan.name, disk as i64, now, project, s],
                    )?;
                }
                if let Some(peer) = &peer {
                    changed.push(peer.name.clone());
                }
            }
            if let Some(powered) = req.powered {
                tx.execute(
                    "UPDATE services SET powered = ?1, update_time = ?2 WHERE project = ?3 AND name = ?4",
                    params![powered, now, project, name],
                )?;
            }
            if let Some(tp) = req.termination_protection {
                tx.execute(
                    "UPDATE services SET termination_protection = ?1, update_time = ?2 WHERE project = ?3 AND name = ?4",
                    params![tp, now, project, name],
                )?;
            }
            service = service_in(tx, project, name)?.ok_or_else(|| not_found(project, name))?;
            let mut out = vec![service];
            for other in changed {
                if let Some(s) = service_in(tx, project, &other)? {
                    out.push(s);
                }
            }
            Ok(out)
        })
    }

    /// Deletes a service. Its peer, if any, becomes standalone and is returned.
    pub fn delete_service(
        &self,
        project: &str,
        name: &str,
    ) -> Result<(Service, Option<Service>), ControlError> {
        self.write(|tx| {
            project_in(tx, project)?;
            let service = service_in(tx, project, name)?.ok_or_else(|| not_found(project, name))?;
            if service.termination_protection {
                return Err(ControlError::Forbidden(format!(
                    "Service '{name}' is protected against termination and shutdown. Remove termination protection first."
                )));
            }
            let peer = peer_in(tx, &service)?;
            tx.execute("DELETE FROM services WHERE project = ?1 AND name = ?2", params![project, name])?;
            let peer = match (peer, service.pair_id) {
                (Some(peer), Some(pair_id)) => {
                    tx.execute(
                        "UPDATE services SET pair_id = NULL, update_time = ?1 WHERE project = ?2 AND name = ?3",
                        params![now_rfc3339(), project, peer.name],
                    )?;
                    tx.execute("DELETE FROM links WHERE pair_id = ?1", params![pair_id])?;
                    tx.execute("DELETE FROM pairs WHERE id = ?1", params![pair_id])?;
                    service_in(tx, project, &peer.name)?
                }
                (None, Some(pair_id)) => {
                    tx.execute("DELETE FROM links WHERE pair_id = ?1", params![pair_id])?;
                    tx.execute("DELETE FROM pairs WHERE id = ?1", params![pair_id])?;
                    None
                }
                _ => None,
            };
            Ok((service, peer))
        })
    }

    /// Splits the pair `name` belongs to: both services become standalone,
    /// and the split is recorded so that they are never paired again.
    pub fn split(&self, project: &str, name: &str) -> Result<(Service, Service), ControlError> {
        self.write(|tx| {
            project_in(tx, project)?;
            let service = service_in(tx, project, name)?.ok_or_else(|| not_found(project, name))?;
            let (Some(pair_id), Some(peer)) = (service.pair_id, peer_in(tx, &service)?) else {
                return Err(ControlError::Conflict(format!(
                    "Service '{name}' is not part of a CCR pair; there is nothing to split"
                )));
            };
            let now = now_rfc3339();
            tx.execute(
                "UPDATE services SET pair_id = NULL, update_time = ?1 WHERE pair_id = ?2",
                params![now, pair_id],
            )?;
            tx.execute("DELETE FROM links WHERE pair_id = ?1", params![pair_id])?;
            tx.execute("DELETE FROM pairs WHERE id = ?1", params![pair_id])?;
            let (a, b) = if service.name < peer.name {
                (&service.name, &peer.name)
            } else {
                (&peer.name, &service.name)
            };
            tx.execute(
                "INSERT INTO splits (project, a, b, split_time) VALUES (?1, ?2, ?3, ?4)",
                params![project, a, b, now],
            )?;
            let s = service_in(tx, project, name)?.ok_or_else(|| not_found(project, name))?;
            let p = service_in(tx, project, &peer.name)?
                .ok_or_else(|| not_found(project, &peer.name))?;
            Ok((s, p))
        })
    }

    fn plan(&self, name: &str) -> Result<&Plan, ControlError> {
        self.catalog.plan(name).ok_or_else(|| {
            ControlError::BadRequest(format!(
                "Unknown plan '{name}' for service type cassandra; available plans: {}",
                self.catalog.plan_names()
            ))
        })
    }
}

fn not_found(project: &str, name: &str) -> ControlError {
    ControlError::NotFound(format!(
        "Service '{name}' does not exist in project '{project}'"
    ))
}

fn project_in(c: &Connection, name: &str) -> Result<Project, ControlError> {
    c.query_row(
        "SELECT name, create_time FROM projects WHERE name = ?1",
        params![name],
        |r| {
            Ok(Project {
                project_name: r.get(0)?,
                create_time: r.get(1)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| ControlError::NotFound(format!("Project '{name}' does not exist")))
}

fn service_in(c: &Connection, project: &str, name: &str) -> Result<Option<Service>, ControlError> {
    Ok(c.query_row(
        &format!("SELECT {SERVICE_COLUMNS} FROM services WHERE project = ?1 AND name = ?2"),
        params![project, name],
        service_from_row,
    )
    .optional()?)
}

fn query_services(
    c: &Connection,
    tail: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<Service>, ControlError> {
    let mut stmt = c.prepare(&format!("SELECT {SERVICE_COLUMNS} FROM services {tail}"))?;
    let rows = stmt.query_map(params, service_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn peer_in(c: &Connection, service: &Service) -> Result<Option<Service>, ControlError> {
    let Some(pair_id) = service.pair_id else {
        return Ok(None);
    };
    Ok(query_services(
        c,
        "WHERE pair_id = ?1 AND NOT (project = ?2 AND name = ?3)",
        params![pair_id, service.project, service.name],
    )?
    .into_iter()
    .next())
}

fn splits_in(c: &Connection, project: &str, name: &str) -> Result<Vec<Split>, ControlError> {
    let mut stmt = c.prepare(
        "SELECT a, b, split_time FROM splits WHERE project = ?1 AND (a = ?2 OR b = ?2) ORDER BY rowid",
    )?;
    let rows = stmt.query_map(params![project, name], |r| {
        Ok(Split {
            services: [r.get(0)?, r.get(1)?],
            split_time: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn insert_service(tx: &Transaction<'_>, s: &Service) -> Result<(), ControlError> {
    tx.execute(
        &format!("INSERT INTO services ({SERVICE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"),
        params![
            s.project,
            s.name,
            s.service_type,
            s.plan,
            s.cloud,
            s.disk_space_mb as i64,
            s.datacenter,
            s.slot as i64,
            s.powered,
            s.termination_protection,
            s.pair_id,
            s.joined,
            s.user_config.to_string(),
            s.admin_password,
            s.create_time,
            s.update_time,
        ],
    )?;
    Ok(())
}

/// The lowest address block `127.0.k.0/24` no service uses (k in first..=255).
fn free_slot(c: &Connection, first: u8) -> Result<u8, ControlError> {
    let mut stmt = c.prepare("SELECT slot FROM services ORDER BY slot")?;
    let used: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    (first..=255u8)
        .find(|k| !used.contains(&i64::from(*k)))
        .ok_or_else(|| {
            ControlError::Conflict(
                "All 255 loopback address blocks (127.0.1.0/24 to 127.0.255.0/24) are in use; terminate a service first".into(),
            )
        })
}

fn check_disk(plan: &Plan, disk_mb: u64) -> Result<(), ControlError> {
    if !disk_mb.is_multiple_of(1024)
        || disk_mb < plan.disk_space_mb
        || disk_mb > plan.disk_space_cap_mb
    {
        return Err(ControlError::BadRequest(format!(
            "Invalid disk size {disk_mb} MiB for plan '{}': use whole GiB from {} to {} GiB",
            plan.name,
            plan.disk_space_mb / 1024,
            plan.disk_space_cap_mb / 1024
        )));
    }
    Ok(())
}

/// A password in the style of Aiven's generated ones (`AVNS_` and 19 letters and digits).
fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..19)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("AVNS_{tail}")
}
