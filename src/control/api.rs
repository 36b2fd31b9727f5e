//! The Aiven-compatible REST API.
//!
//! Paths, bodies and error shapes follow Aiven's API closely enough that the
//! real `avn` CLI drives ccrsim (`avn --url http://127.0.0.1:9180 ...`).
//! ccrsim's own additions (the pair view and split) live beside them under
//! `/v1/project/{project}/service/{service}/ccr`.
//!
//! Handlers are thin: parse the request, run the store call on the blocking
//! pool, tell the node runtime about the change, and render JSON. Every error
//! is a [`ControlError`], rendered once by [`ApiError`] in Aiven's shape:
//! `{"message": "...", "errors": [{"message": "...", "status": 400}]}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::catalog::Catalog;
use super::error::ControlError;
use super::model::{
    ADMIN_USER, CASSANDRA, CreateServiceRequest, NodeLayout, Service, USER_CONFIG_KEYS,
    UpdateServiceRequest,
};
use super::runtime::{NodeRuntime, NodeStatus, service_state};
use super::store::Store;

/// What every handler shares.
pub struct AppState {
    pub store: Arc<Store>,
    pub runtime: Arc<dyn NodeRuntime>,
    pub token: String,
}

/// An error answered in Aiven's JSON shape.
pub struct ApiError(pub ControlError);

impl<E: Into<ControlError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let message = self.0.to_string();
        if status >= 500 {
            tracing::error!("{message}");
        }
        let body = json!({
            "message": message,
            "errors": [{"message": message, "status": status}],
        });
        (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            Json(body),
        )
            .into_response()
    }
}

type ApiResult = Result<Json<Value>, ApiError>;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/clouds", get(clouds))
        .route("/v1/project", get(list_projects).post(create_project))
        .route("/v1/project/{project}", get(get_project))
        .route("/v1/project/{project}/clouds", get(project_clouds))
        .route("/v1/project/{project}/vpcs", get(list_vpcs))
        .route("/v1/project/{project}/service_types", get(service_types))
        .route(
            "/v1/project/{project}/service-types/{service_type}",
            get(service_type),
        )
        .route("/v1/service_types", get(all_service_types))
        .route(
            "/v1/project/{project}/service",
            get(list_services).post(create_service),
        )
        .route(
            "/v1/project/{project}/service/{service}",
            get(get_service).put(update_service).delete(delete_service),
        )
        .route("/v1/project/{project}/service/{service}/ccr", get(ccr_view))
        .route(
            "/v1/project/{project}/service/{service}/ccr/split",
            post(ccr_split),
        )
        .route(
            "/v1/project/{project}/service/{service}/ccr/repair",
            post(ccr_repair),
        )
        .route(
            "/v1/project/{project}/service/{service}/ccr/link",
            get(ccr_link).put(ccr_set_link),
        )
        .fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Accepts `Authorization: Bearer <token>` and `Authorization: aivenv1 <token>`.
async fn auth(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if authorized(req.headers(), &state.token) {
        next.run(req).await
    } else {
        ApiError(ControlError::Unauthorized).into_response()
    }
}

fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some((scheme, given)) = value.trim().split_once(' ') else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("aivenv1"))
        && constant_time_eq(given.trim().as_bytes(), token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn no_route(method: Method, uri: Uri) -> ApiError {
    ApiError(ControlError::NotFound(format!(
        "No such API endpoint: {method} {}",
        uri.path()
    )))
}

async fn no_method(method: Method, uri: Uri) -> Response {
    let message = format!("Method {method} is not allowed on {}", uri.path());
    let body = json!({"message": message, "errors": [{"message": message, "status": 405}]});
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ControlError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError(ControlError::Internal(format!("request task failed: {e}"))))?
        .map_err(ApiError)
}

/// Parses a JSON body, answering 400 with the reason when it does not fit.
fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    if body.is_empty() {
        return Err(ApiError(ControlError::BadRequest(
            "Request body is missing; send a JSON object".into(),
        )));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError(ControlError::BadRequest(format!(
            "Invalid request body: {e}"
        )))
    })
}

// ---- catalog ----

fn cloud_list(catalog: &Catalog) -> Value {
    let clouds: Vec<Value> = catalog
        .clouds
        .iter()
        .map(|c| {
            json!({
                "cloud_name": c.cloud_name,
                "cloud_description": c.cloud_description,
                "geo_region": c.geo_region,
                "geo_latitude": c.geo_latitude,
                "geo_longitude": c.geo_longitude,
            })
        })
        .collect();
    json!({ "clouds": clouds })
}

async fn clouds(State(s): State<Arc<AppState>>) -> ApiResult {
    Ok(Json(cloud_list(s.store.catalog())))
}

async fn project_clouds(State(s): State<Arc<AppState>>, Path(project): Path<String>) -> ApiResult {
    let store = s.store.clone();
    blocking(move || store.project(&project)).await?;
    Ok(Json(cloud_list(s.store.catalog())))
}

/// The `user_config_schema` of a cassandra service: what `avn -c` may set.
fn user_config_schema() -> Value {
    json!({
        "type": "object",
        "title": "Cassandra user configurable settings",
        "additionalProperties": false,
        "properties": {
            "cassandra": {
                "type": "object",
                "title": "cassandra configuration values",
                "additionalProperties": false,
                "properties": {
                    "datacenter": {
                        "type": "string",
                        "title": "Cassandra datacenter name",
                        "description": "The name of the datacenter all nodes of this service belong to. Unique within a CCR pair; can be set only when the service is created. Default: aiven.",
                        "maxLength": 128,
                        "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                        "example": "my-service"
                    }
                }
            },
            "service_to_join_with": {
                "type": "string",
                "title": "Name of the service to form a bigger cluster with",
                "description": "When bootstrapping, instead of creating a new Cassandra cluster try to join an existing one from another service. Can only be set on service creation.",
                "maxLength": 64,
                "pattern": "^[a-z][-a-z0-9]{0,63}$",
                "example": "my-test-cassandra"
            }
        }
    })
}

fn service_type_json(catalog: &Catalog) -> Value {
    let plans: Vec<Value> = catalog
        .plans
        .iter()
        .map(|p| {
            let regions: serde_json::Map<String, Value> = catalog
                .clouds
                .iter()
                .map(|c| {
                    (
                        c.cloud_name.clone(),
                        json!({
                            "disk_space_mb": p.disk_space_mb,
                            "disk_space_cap_mb": p.disk_space_cap_mb,
                            "node_memory_mb": p.node_memory_mb,
                            "price_usd": "0.0000"
                        }),
                    )
                })
                .collect();
            json!({
                "service_plan": p.name,
                "service_type": CASSANDRA,
                "node_count": p.node_count,
                "node_cpu_count": p.node_cpu_count,
                "node_memory_mb": p.node_memory_mb,
                "disk_space_mb": p.disk_space_mb,
                "disk_space_cap_mb": p.disk_space_cap_mb,
                "disk_space_step_mb": 1024,
                "max_memory_percent": null,
                "backup_config": {"interval": 24, "max_count": 2, "recovery_mode": "basic"},
                "shard_count": null,
                "regions": regions,
                "ccrsim_ccr_allowed": p.ccr,
            })
        })
        .collect();
    json!({
        "description": "Apache Cassandra (simulated by ccrsim) - distributed NoSQL database with cross-cluster replication",
        "default_version": "4.1",
        "latest_available_version": "4.1",
        "service_plans": plans,
        "user_config_schema": user_config_schema(),
    })
}

async fn service_types(State(s): State<Arc<AppState>>, Path(project): Path<String>) -> ApiResult {
    let store = s.store.clone();
    blocking(move || store.project(&project)).await?;
    Ok(Json(
        json!({ "service_types": { CASSANDRA: service_type_json(s.store.catalog()) } }),
    ))
}

async fn all_service_types(State(s): State<Arc<AppState>>) -> ApiResult {
    Ok(Json(
        json!({ "service_types": { CASSANDRA: service_type_json(s.store.catalog()) } }),
    ))
}

async fn service_type(
    State(s): State<Arc<AppState>>,
    Path((project, ty)): Path<(String, String)>,
) -> ApiResult {
    let store = s.store.clone();
    blocking(move || store.project(&project)).await?;
    if ty != CASSANDRA {
        return Err(ApiError(ControlError::NotFound(format!(
            "Service type '{ty}' is not available; ccrsim offers: {CASSANDRA}"
        ))));
    }
    // avn reads this body as the service type itself (`user_config_schema` at the top).
    Ok(Json(service_type_json(s.store.catalog())))
}

// ---- projects ----

async fn list_projects(State(s): State<Arc<AppState>>) -> ApiResult {
    let store = s.store.clone();
    let projects = blocking(move || store.projects()).await?;
    let projects: Vec<Value> = projects.iter().map(project_json).collect();
    Ok(Json(json!({ "projects": projects })))
}

fn project_json(p: &super::store::Project) -> Value {
    json!({
        "project_name": p.project_name,
        "create_time": p.create_time,
        "default_cloud": super::catalog::DEFAULT_CLOUD,
        "account_id": "ccrsim",
        "billing_group_name": "ccrsim",
        "tags": {},
        "features": {},
        "vpc_peering_connection_count": 0,
    })
}

async fn create_project(State(s): State<Arc<AppState>>, body: Bytes) -> ApiResult {
    #[derive(serde::Deserialize)]
    struct Req {
        project: String,
        #[serde(flatten)]
        _rest: serde_json::Map<String, Value>,
    }
    let req: Req = parse_body(&body)?;
    let store = s.store.clone();
    let p = blocking(move || store.create_project(&req.project)).await?;
    Ok(Json(json!({ "project": project_json(&p) })))
}

async fn get_project(State(s): State<Arc<AppState>>, Path(project): Path<String>) -> ApiResult {
    let store = s.store.clone();
    let p = blocking(move || store.project(&project)).await?;
    Ok(Json(json!({ "project": project_json(&p) })))
}

async fn list_vpcs(State(s): State<Arc<AppState>>, Path(project): Path<String>) -> ApiResult {
    let store = s.store.clone();
    blocking(move || store.project(&project)).await?;
    Ok(Json(json!({ "vpcs": [] })))
}

// ---- services ----

/// A service with what the API shows about it: its layout, its nodes'
/// status and its peer.
struct Rendered {
    service: Service,
    nodes: Vec<NodeLayout>,
    peer: Option<Service>,
    /// The pair's simulated link (read with the rest, off the async threads).
    link: Option<super::model::LinkSettings>,
}

fn render(store: &Store, service: Service) -> Result<Rendered, ControlError> {
    let peer = store.peer(&service)?;
    let nodes = store.nodes(&service);
    let link = store.link(&service)?;
    Ok(Rendered {
        service,
        nodes,
        peer,
        link,
    })
}

/// The service object in Aiven's shape, plus a `ccrsim` section with the
/// node layout and pair.
fn service_json(state: &AppState, r: &Rendered) -> Value {
    let s = &r.service;
    let catalog = state.store.catalog();
    let plan = catalog.plan(&s.plan);
    let statuses: Vec<NodeStatus> = state.runtime.status(s, &r.nodes);
    let state_name = service_state(s.powered, &statuses);
    let first = r.nodes.first();
    let host = first.map(|n| n.address.to_string()).unwrap_or_default();
    let port = first.map_or(super::model::CQL_PORT, |n| n.cql_port);
    let node_states: Vec<Value> = if s.powered {
        r.nodes
            .iter()
            .zip(&statuses)
            .map(|(n, st)| {
                json!({
                    "name": n.name,
                    "state": st.state.as_str(),
                    "role": "master",
                    "availability_zone": n.rack,
                    "progress_updates": st.progress.iter().map(|p| json!({
                        "phase": p.phase,
                        "completed": p.completed,
                        "current": p.current,
                        "max": p.max,
                        "min": 0,
                        "unit": p.unit,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect()
    } else {
        Vec::new()
    };
    let nodes: Vec<Value> = r
        .nodes
        .iter()
        .zip(&statuses)
        .map(|(n, st)| {
            json!({
                "name": n.name,
                "address": n.address.to_string(),
                "cql_port": n.cql_port,
                "datacenter": n.datacenter,
                "rack": n.rack,
                "state": if s.powered { st.state.as_str() } else { "powered_off" },
                "message": if s.powered { st.message.clone() } else { None },
            })
        })
        .collect();
    let contact_points: Vec<String> = r
        .nodes
        .iter()
        .map(|n| format!("{}:{}", n.address, n.cql_port))
        .collect();
    json!({
        "service_name": s.name,
        "service_type": s.service_type,
        "service_type_description": "Apache Cassandra (simulated by ccrsim)",
        "state": state_name,
        "plan": s.plan,
        "cloud_name": s.cloud,
        "cloud_description": catalog.cloud(&s.cloud).map(|c| c.cloud_description.clone()),
        "disk_space_mb": s.disk_space_mb,
        "node_count": r.nodes.len(),
        "node_cpu_count": plan.map(|p| p.node_cpu_count),
        "node_memory_mb": plan.map(|p| p.node_memory_mb),
        "node_states": node_states,
        "service_uri": format!("cassandra://{ADMIN_USER}:{}@{host}:{port}", s.admin_password),
        "service_uri_params": {
            "host": host,
            "port": port.to_string(),
            "user": ADMIN_USER,
            "password": s.admin_password,
        },
        "components": [{
            "component": "cassandra",
            "host": host,
            "port": port,
            "route": "dynamic",
            "usage": "primary",
        }],
        "connection_info": {
            "cassandra": contact_points,
            "datacenter": s.datacenter,
            "user": ADMIN_USER,
            "password": s.admin_password,
        },
        "users": [{"username": ADMIN_USER, "password": s.admin_password, "type": "primary"}],
        "user_config": s.user_config,
        "termination_protection": s.termination_protection,
        "create_time": s.create_time,
        "update_time": s.update_time,
        "project_vpc_id": null,
        "group_list": [],
        "service_integrations": [],
        "service_notifications": [],
        "tags": {},
        "features": {},
        "metadata": {},
        "maintenance": null,
        "backups": [],
        "acl": [],
        "topics": [],
        "databases": [],
        "connection_pools": [],
        "ccrsim": {
            "datacenter": s.datacenter,
            "runtime": state.runtime.name(),
            "pair": r.peer.as_ref().map(|p| json!({
                "peer_service": p.name,
                "peer_datacenter": p.datacenter,
            })),
            "nodes": nodes,
        },
    })
}

async fn list_services(State(s): State<Arc<AppState>>, Path(project): Path<String>) -> ApiResult {
    let store = s.store.clone();
    let rendered = blocking(move || {
        store
            .services(&project)?
            .into_iter()
            .map(|svc| render(&store, svc))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    let services: Vec<Value> = rendered.iter().map(|r| service_json(&s, r)).collect();
    Ok(Json(json!({ "services": services })))
}

async fn get_service(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let store = s.store.clone();
    let r = blocking(move || render(&store, store.service(&project, &name)?)).await?;
    Ok(Json(json!({ "service": service_json(&s, &r) })))
}

fn ensure_nodes(state: &AppState, r: &Rendered) {
    let peer = r.peer.as_ref().map(|p| super::runtime::Peer {
        nodes: state.store.nodes(p),
        service: p.clone(),
    });
    if let Err(e) = state.runtime.ensure(&r.service, &r.nodes, peer.as_ref()) {
        tracing::error!(service = %r.service.name, "{e}");
    }
    if let (Some(peer), Some(link)) = (&peer, &r.link) {
        apply_link(state, &r.service, &r.nodes, peer, link);
    }
}

async fn create_service(
    State(s): State<Arc<AppState>>,
    Path(project): Path<String>,
    body: Bytes,
) -> ApiResult {
    let req: CreateServiceRequest = parse_body(&body)?;
    let store = s.store.clone();
    let runtime = s.runtime.clone();
    let r = blocking(move || {
        // Aiven limitation 2 needs the target's running nodes.
        if let Some(target) = req
            .user_config
            .get("service_to_join_with")
            .and_then(Value::as_str)
            && let Ok(t) = store.service(&project, target)
            && let Some(i) = runtime.inspect(&t)
        {
            super::rules::check_existing_keyspaces(target, &i.keyspaces)?;
        }
        render(&store, store.create_service(&project, &req)?)
    })
    .await?;
    tracing::info!(
        service = %r.service.name,
        datacenter = %r.service.datacenter,
        peer = ?r.peer.as_ref().map(|p| &p.name),
        "service created"
    );
    ensure_nodes(&s, &r);
    Ok(Json(json!({ "service": service_json(&s, &r) })))
}

async fn update_service(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let req: UpdateServiceRequest = parse_body(&body)?;
    let store = s.store.clone();
    let changed = blocking(move || {
        store
            .update_service(&project, &name, &req)?
            .into_iter()
            .map(|svc| render(&store, svc))
            .collect::<Result<Vec<_>, _>>()
    })
    .await?;
    for r in &changed {
        ensure_nodes(&s, r);
    }
    Ok(Json(json!({ "service": service_json(&s, &changed[0]) })))
}

async fn delete_service(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let store = s.store.clone();
    let (gone, peer) = blocking(move || {
        let (gone, peer) = store.delete_service(&project, &name)?;
        let peer = peer.map(|p| render(&store, p)).transpose()?;
        Ok((gone, peer))
    })
    .await?;
    let leaving_peer = peer.as_ref().map(|p| super::runtime::Peer {
        nodes: p.nodes.clone(),
        service: p.service.clone(),
    });
    if let Err(e) = s.runtime.remove(&gone, leaving_peer.as_ref()) {
        tracing::error!(service = %gone.name, "{e}");
    }
    if let Some(peer) = &peer {
        ensure_nodes(&s, peer);
    }
    tracing::info!(service = %gone.name, "service terminated");
    Ok(Json(json!({
        "message": format!("Service '{}' terminated", gone.name),
        "standalone_peer": peer.as_ref().map(|p| p.service.name.clone()),
    })))
}

// ---- ccrsim additions: the pair ----

fn ccr_json(
    state: &AppState,
    me: &Rendered,
    peer: Option<&Rendered>,
    splits: &[super::store::Split],
) -> Value {
    let dc = |r: &Rendered| {
        let statuses = state.runtime.status(&r.service, &r.nodes);
        json!({
            "service_name": r.service.name,
            "datacenter": r.service.datacenter,
            "cloud_name": r.service.cloud,
            "plan": r.service.plan,
            "disk_space_mb": r.service.disk_space_mb,
            "state": service_state(r.service.powered, &statuses),
            "nodes": r.nodes.iter().zip(&statuses).map(|(n, st)| json!({
                "name": n.name,
                "address": n.address.to_string(),
                "cql_port": n.cql_port,
                "rack": n.rack,
                "state": if r.service.powered { st.state.as_str() } else { "powered_off" },
            })).collect::<Vec<_>>(),
        })
    };
    let mut datacenters = vec![dc(me)];
    let mut joined = Value::Null;
    if let Some(p) = peer {
        datacenters.push(dc(p));
        for (a, b) in [(me, p), (p, me)] {
            if a.service.joined.as_deref() == Some(b.service.name.as_str()) {
                joined = json!({
                    "service_name": a.service.name,
                    "datacenter": a.service.datacenter,
                    "joined_service": b.service.name,
                    "joined_datacenter": b.service.datacenter,
                });
            }
        }
    }
    json!({
        "service_name": me.service.name,
        "project": me.service.project,
        "link": me.link.as_ref().filter(|_| state.runtime.simulates_links()).map(link_json),
        "paired": peer.is_some(),
        "datacenters": datacenters,
        "joined": joined,
        "splits": splits,
    })
}

/// Gives the runtime the pair's link (as set, or the clouds' default).
pub(super) fn apply_link(
    state: &AppState,
    service: &Service,
    nodes: &[NodeLayout],
    peer: &super::runtime::Peer,
    link: &super::model::LinkSettings,
) {
    if !state.runtime.simulates_links() {
        return;
    }
    let me = super::runtime::Peer {
        service: service.clone(),
        nodes: nodes.to_vec(),
    };
    if let Err(e) = state.runtime.link(&me, peer, link) {
        tracing::error!(service = %service.name, "{e}");
    }
}

fn link_json(l: &super::model::LinkSettings) -> Value {
    json!({
        "latency_ms": l.latency_ms,
        "jitter_ms": l.jitter_ms,
        "loss_percent": l.loss_percent,
        "down": l.down,
        "seed": l.seed,
        "from_clouds": l.from_clouds,
    })
}

/// `ccr link` needs a runtime that simulates links: say so otherwise.
fn links_simulated(s: &AppState) -> Result<(), ControlError> {
    if s.runtime.simulates_links() {
        Ok(())
    } else {
        Err(ControlError::BadRequest(format!(
            "The node runtime '{}' does not simulate links between datacenters: ccr link needs ccrsim serve --runtime in-process",
            s.runtime.name()
        )))
    }
}

async fn ccr_link(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    links_simulated(&s)?;
    let store = s.store.clone();
    let link = blocking(move || {
        let svc = store.service(&project, &name)?;
        store.link(&svc)?.ok_or_else(|| {
            ControlError::BadRequest(format!(
                "Service '{}' is not in a CCR pair: it has no cross-datacenter link",
                svc.name
            ))
        })
    })
    .await?;
    Ok(Json(json!({ "link": link_json(&link) })))
}

/// The fields a link update may carry (all optional).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkUpdate {
    latency_ms: Option<f64>,
    jitter_ms: Option<f64>,
    loss_percent: Option<f64>,
    down: Option<bool>,
    seed: Option<u64>,
}

async fn ccr_set_link(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let req: LinkUpdate = parse_body(&body)?;
    links_simulated(&s)?;
    let store = s.store.clone();
    let (link, me) = blocking(move || {
        let svc = store.service(&project, &name)?;
        let mut link = store.link(&svc)?.ok_or_else(|| {
            ControlError::BadRequest(format!(
                "Service '{}' is not in a CCR pair: it has no cross-datacenter link",
                svc.name
            ))
        })?;
        if let Some(v) = req.latency_ms {
            link.latency_ms = v;
            link.from_clouds = false;
        }
        if let Some(v) = req.jitter_ms {
            link.jitter_ms = v;
        }
        if let Some(v) = req.loss_percent {
            link.loss_percent = v;
        }
        if let Some(v) = req.down {
            link.down = v;
        }
        if let Some(v) = req.seed {
            link.seed = v;
        }
        store.set_link(&svc, &link)?;
        Ok((link, render(&store, svc)?))
    })
    .await?;
    if let Some(p) = &me.peer {
        let peer = super::runtime::Peer {
            nodes: s.store.nodes(p),
            service: p.clone(),
        };
        apply_link(&s, &me.service, &me.nodes, &peer, &link);
    }
    tracing::info!(service = %me.service.name, ?link, "link changed");
    Ok(Json(json!({ "link": link_json(&link) })))
}

async fn ccr_view(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let store = s.store.clone();
    let runtime = s.runtime.clone();
    let (me, peer, splits, inspected) = blocking(move || {
        let me = render(&store, store.service(&project, &name)?)?;
        let peer = me.peer.clone().map(|p| render(&store, p)).transpose()?;
        let splits = store.splits(&project, &name)?;
        let inspected = (
            runtime.inspect(&me.service),
            peer.as_ref().and_then(|p| runtime.inspect(&p.service)),
        );
        Ok((me, peer, splits, inspected))
    })
    .await?;
    let mut v = ccr_json(&s, &me, peer.as_ref(), &splits);
    // What the running datacenters say: replication, warnings, hints.
    let mut dcs: Vec<(String, u32)> = vec![(me.service.datacenter.clone(), me.nodes.len() as u32)];
    if let Some(p) = &peer {
        dcs.push((p.service.datacenter.clone(), p.nodes.len() as u32));
    }
    if let Some(i) = inspected.0.as_ref().or(inspected.1.as_ref()) {
        let user: Vec<&crate::replication::KeyspaceInfo> = i
            .keyspaces
            .iter()
            .filter(|k| !matches!(k.class.as_str(), "LocalStrategy"))
            .collect();
        v["keyspaces"] = json!(
            user.iter()
                .map(|k| json!({"name": k.name, "class": k.class, "replication": k.replication}))
                .collect::<Vec<_>>()
        );
        v["warnings"] = json!(crate::replication::warnings(&i.keyspaces, &dcs));
    }
    if let Some(list) = v["datacenters"].as_array_mut() {
        for d in list.iter_mut() {
            let hints = if d["service_name"] == json!(me.service.name) {
                inspected.0.as_ref()
            } else {
                inspected.1.as_ref()
            }
            .map(|i| i.pending_hints);
            d["pending_hints"] = json!(hints);
        }
    }
    Ok(Json(json!({ "ccr": v })))
}

async fn ccr_split(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let store = s.store.clone();
    let (me, other, splits) = blocking(move || {
        let (me, other) = store.split(&project, &name)?;
        let splits = store.splits(&project, &name)?;
        Ok((render(&store, me)?, render(&store, other)?, splits))
    })
    .await?;
    let side = |r: &Rendered| super::runtime::Peer {
        nodes: r.nodes.clone(),
        service: r.service.clone(),
    };
    if let Err(e) = s.runtime.split(&side(&me), &side(&other)) {
        tracing::error!(service = %me.service.name, "{e}");
    }
    ensure_nodes(&s, &me);
    ensure_nodes(&s, &other);
    tracing::info!(service = %me.service.name, peer = %other.service.name, "pair split");
    Ok(Json(json!({
        "message": format!(
            "Split '{}' and '{}' into two standalone services; they can never be paired again",
            me.service.name, other.service.name
        ),
        "ccr": ccr_json(&s, &me, None, &splits),
        "other": ccr_json(&s, &other, None, &splits),
    })))
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RepairRequest {
    keyspace: Option<String>,
    #[serde(default)]
    tables: Vec<String>,
}

/// `ccr repair`: `nodetool repair -pr [KS [TABLE ...]]` on every node of
/// the service's datacenter, then of its peer's, one node at a time (each
/// node repairs the ranges it is the first replica of: together, every
/// range once).
async fn ccr_repair(
    State(s): State<Arc<AppState>>,
    Path((project, name)): Path<(String, String)>,
    body: Bytes,
) -> ApiResult {
    let req: RepairRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RepairRequest::default()
    } else {
        parse_body(&body)?
    };
    if req.keyspace.is_none() && !req.tables.is_empty() {
        return Err(ApiError(ControlError::BadRequest(
            "tables given without a keyspace".into(),
        )));
    }
    let mut args = vec!["repair".to_string(), "-pr".to_string()];
    args.extend(req.keyspace.iter().cloned());
    args.extend(req.tables.iter().cloned());
    let (store, runtime) = (s.store.clone(), s.runtime.clone());
    let nodes = blocking(move || {
        let me = store.service(&project, &name)?;
        let peer = store.peer(&me)?;
        let mut nodes = Vec::new();
        for svc in std::iter::once(me).chain(peer) {
            if !svc.powered {
                return Err(ControlError::Conflict(format!(
                    "Service '{}' is powered off: power it on to repair",
                    svc.name
                )));
            }
            let outputs = runtime
                .nodetool(&svc, &args)
                .map_err(|e| ControlError::Conflict(e.to_string()))?;
            for o in outputs {
                let failed = (!o.ok).then(|| o.text.clone());
                nodes.push(json!({
                    "service_name": svc.name,
                    "address": o.address.to_string(),
                    "ok": o.ok,
                    "output": o.text,
                }));
                if let Some(text) = failed {
                    return Err(ControlError::Conflict(format!(
                        "repair failed on {} ({}): {}",
                        o.address,
                        svc.name,
                        text.trim_end().lines().last().unwrap_or_default()
                    )));
                }
            }
        }
        Ok(nodes)
    })
    .await?;
    Ok(Json(json!({
        "message": format!("Repair completed successfully on {} nodes", nodes.len()),
        "nodes": nodes,
    })))
}

/// The `-c` keys a cassandra service accepts, for error messages.
pub fn user_config_keys() -> String {
    USER_CONFIG_KEYS.join(", ")
}
