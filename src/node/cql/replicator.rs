//! The engine's way to the other replicas: a [`Write`] to make, the
//! [`Decide`] step of a lightweight transaction, and the [`Replicator`]
//! the cluster's coordinator implements. Without one the engine reads and
//! writes its own storage only.

use crate::node::cql::session::Result;
use crate::node::db::consistency::Consistency;
use crate::node::db::read;
use crate::node::db::storage::Mutation;
use crate::node::db::storage::partition::PartitionData;
use crate::node::transport::protocol::frame::ResultBody;

/// A mutation to write: durable (the keyspace's `durable_writes`), and its keyspace.
pub type Write = (Mutation, bool, String);

/// What a lightweight transaction decides from its partition's current
/// content (merged from a quorum of replicas) and the timestamp its update
/// must carry: the write to make, if any, and the answer to give.
pub type Decide<'a> =
    dyn FnMut(Option<PartitionData>, i64) -> Result<(Option<Write>, ResultBody)> + 'a;

/// Writes mutations on their replicas (the cluster's coordinator). Called
/// on a blocking thread.
pub trait Replicator: Send + Sync {
    /// Whether this node knows no other node (then everything is local).
    fn alone(&self) -> bool;
    fn write(&self, writes: &[Write], cl: Consistency, batch: bool) -> Result<()>;
    /// These partitions as the replicas `cl` needs have them, merged.
    fn read(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        keys: &[(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Result<read::Gathered>;
    /// A lightweight transaction on one partition: Paxos among its replicas
    /// at `serial` (SERIAL or LOCAL_SERIAL), the update committed at `commit`.
    #[allow(clippy::too_many_arguments)]
    fn cas(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        token: i64,
        key: &[u8],
        serial: Consistency,
        commit: Consistency,
        decide: &mut Decide<'_>,
    ) -> Result<ResultBody>;
    /// Whether this node alone holds every row of `keyspace` a range read at `cl` must see.
    fn holds_all(&self, keyspace: &str, cl: Consistency) -> bool;
    /// Every partition of a table in `[start, end]` from every live node, merged.
    fn scan_all(
        &self,
        keyspace: &str,
        table: &[u8; 16],
        start: i64,
        end: i64,
        cl: Consistency,
    ) -> Result<read::Gathered>;
}
