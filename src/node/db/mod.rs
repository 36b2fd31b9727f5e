//! # db: what a statement reads and writes
//!
//! Cassandra's `db` package: everything between a parsed statement and the
//! bytes on disk, on one node.
//!
//! - [`schema`]: keyspaces, tables and columns, kept in the node's data
//!   directory and exchanged with peers; [`schema::system_auth`] defines
//!   the auth tables, `schema/bootstrap.rs` the schema a new node starts
//!   with.
//! - [`write`]: a write as mutations of partitions (cells with timestamps
//!   and TTLs, tombstones), applied to storage.
//! - [`read`]: a SELECT's restrictions turned into partition and row
//!   ranges, read from storage, reconciled, filtered, paged.
//! - [`consistency`]: consistency levels and how many replicas each needs.
//! - [`system`]: the system tables that are made, not stored (`system.local`,
//!   `system.peers`, `system_schema.*`, virtual tables): their rows from the
//!   node's state, their definitions in [`system::tables`].
//! - [`storage`]: the storage engine: partitions of rows of cells on an
//!   embedded LSM engine (fjall), with Cassandra's reconciliation rules in
//!   [`storage::cell`] and a mutation's byte form in `storage/mutation.rs`.
//!
//! Nothing here knows about other nodes: the coordinator in
//! `node::cluster` decides where a mutation goes, this room applies it.

pub mod consistency;
pub mod read;
pub mod schema;
pub mod storage;
pub mod system;
pub mod write;
