//! The engine's way to the other replicas: a [`Write`] to make, the
//! [`Decide`] step of a lightweight transaction, and the [`Replicator`]
//! the cluster's coordinator implements. Without one the engine reads and
//! writes its own storage only.

use std::future::Future;
use std::pin::Pin;

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
    dyn FnMut(Option<PartitionData>, i64) -> Result<(Option<Write>, ResultBody)> + Send + 'a;

/// The answer a [`Replicator`] gives later: a future that borrows its
/// arguments and holds no thread while it waits.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Writes mutations on their replicas (the cluster's coordinator). Its
/// answers are futures the engine awaits: a request waits on the network
/// without holding a thread.
pub trait Replicator: Send + Sync {
    /// Whether this node knows no other node (then everything is local).
    fn alone(&self) -> bool;
    fn write<'a>(&'a self, writes: &'a [Write], cl: Consistency, batch: bool) -> Pending<'a, ()>;
    /// These partitions as the replicas `cl` needs have them, merged.
    fn read<'a>(
        &'a self,
        keyspace: &'a str,
        table: &'a [u8; 16],
        keys: &'a [(i64, Vec<u8>)],
        cl: Consistency,
    ) -> Pending<'a, read::Gathered>;
    /// A lightweight transaction on one partition: Paxos among its replicas
    /// at `serial` (SERIAL or LOCAL_SERIAL), the update committed at `commit`.
    #[allow(clippy::too_many_arguments)]
    fn cas<'a>(
        &'a self,
        keyspace: &'a str,
        table: &'a [u8; 16],
        token: i64,
        key: &'a [u8],
        serial: Consistency,
        commit: Consistency,
        decide: &'a mut Decide<'_>,
    ) -> Pending<'a, ResultBody>;
    /// Whether this node alone holds every row of `keyspace` a range read at `cl` must see.
    fn holds_all(&self, keyspace: &str, cl: Consistency) -> bool;
    /// Every partition of a table in `[start, end]` from every live node, merged.
    fn scan_all<'a>(
        &'a self,
        keyspace: &'a str,
        table: &'a [u8; 16],
        start: i64,
        end: i64,
        cl: Consistency,
    ) -> Pending<'a, read::Gathered>;
}
