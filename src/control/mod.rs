//! # The control plane
//!
//! ccrsim pretends to be a managed Cassandra service in the way Aiven for
//! Apache Cassandra is one: a user asks an HTTP API for a *service* (a
//! Cassandra datacenter of one to six nodes), and may ask for a second service
//! that *joins* the first with `service_to_join_with`. The two then form a
//! cross-cluster replication (CCR) *pair*: two datacenters of one Cassandra
//! cluster, replicating to each other.
//!
//! This module owns every decision about services and pairs, and it is split so
//! that the decisions stay pure and the I/O stays thin:
//!
//! - [`catalog`]: the plans and clouds a service may use, read from
//!   `fixtures/plans.json` and `fixtures/clouds.json` (compiled in).
//! - [`model`]: services, node layouts, pairs, and the request shapes.
//! - [`rules`]: the CCR rules (Aiven's limitations and a few of ccrsim's own)
//!   as plain functions over the model. Every refusal names its rule. Tests
//!   drive these directly, without a database or a socket.
//! - [`store`]: the state, in SQLite. Every change is one transaction that
//!   first re-reads what the rules need, then checks the rules, then writes, so
//!   a refused or failed request leaves nothing behind and two concurrent
//!   creates of one name cannot both succeed.
//! - [`runtime`]: the interface through which the control plane starts and
//!   watches a service's nodes. A service is `RUNNING` only when its runtime
//!   says every node serves; with no node runtime (`--runtime none`) it
//!   stays `REBUILDING` and says why.
//! - [`api`]: the Aiven-compatible REST API (axum), so that both `ccrsim` and
//!   the real `avn` CLI drive it. Errors are mapped to HTTP statuses once,
//!   in [`error`].
//! - [`server`]: the daemon, `ccrsim serve`: state directory, API token,
//!   listener and graceful shutdown.

pub mod api;
pub mod catalog;
pub mod error;
pub mod model;
pub mod rules;
pub mod runtime;
pub mod server;
pub mod store;
pub mod time;

pub use error::ControlError;
