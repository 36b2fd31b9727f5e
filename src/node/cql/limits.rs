//! Bounds on what one request may make the node build, beyond the frame
//! size: a short statement can multiply what it carries, and under `ccrsim
//! serve` every service's nodes share the daemon's memory, so running out
//! of it would take them all down (an allocation failure aborts).
//!
//! - The `IN` lists of a WHERE clause multiply into at most
//!   [`MAX_IN_PRODUCT`] partition keys or clustering prefixes, and
//!   [`MAX_IN_PRODUCT_BYTES`] of them ([`Product`]), with the message of
//!   Cassandra 4.1's `in_select_cartesian_product` guardrail (off by default
//!   in Cassandra, always on here).
//! - The mutations of one statement or BATCH take at most
//!   [`MAX_REQUEST_MUTATION_BYTES`] ([`Writes`], counted as they are built:
//!   one value written to every row an `IN` list names, a BATCH naming one
//!   prepared statement thousands of times).
//! - The prepared-statement cache holds at most [`MAX_PREPARED_BYTES`] of
//!   statement text.

use crate::node::cql::replicator::Write;
use crate::node::cql::session::Result;
use crate::node::db::write::MutationBuilder;
use crate::node::error::QueryError;

/// The text of prepared statements kept at once, in bytes.
pub const MAX_PREPARED_BYTES: usize = 64 << 20;

/// How many combinations the `IN` lists of a WHERE clause may multiply into
/// (partition keys, or clustering prefixes): Cassandra's
/// `in_select_cartesian_product` guardrail, off by default there and always
/// on here, so that a short statement cannot make the node build millions
/// of keys.
pub const MAX_IN_PRODUCT: u128 = 100_000;

/// The bytes those combinations may take in all (values in `IN` lists can
/// be 64 KiB each).
pub const MAX_IN_PRODUCT_BYTES: u128 = 64 << 20;

/// The size of a cartesian product of `IN` lists, checked as it grows.
pub(super) struct Product {
    what: &'static str,
    count: u128,
    bytes: u128,
}

impl Product {
    pub(super) fn new(what: &'static str) -> Product {
        Product {
            what,
            count: 1,
            bytes: 0,
        }
    }

    /// Checks the product of `lists`.
    pub(super) fn of<'a>(
        what: &'static str,
        lists: impl IntoIterator<Item = &'a Vec<Vec<u8>>>,
    ) -> Result<()> {
        let mut p = Product::new(what);
        lists.into_iter().try_for_each(|l| p.times(l))
    }

    /// Multiplies by one more list of candidates.
    pub(super) fn times(&mut self, values: &[Vec<u8>]) -> Result<()> {
        let n = values.len() as u128;
        let sum: u128 = values.iter().map(|v| v.len() as u128).sum();
        self.bytes = self.bytes * n + self.count * sum;
        self.count *= n;
        let (what, count, bytes) = (self.what, self.count, self.bytes);
        if count > MAX_IN_PRODUCT {
            return Err(QueryError::Invalid(format!(
                "Aborting query because the cartesian product of the IN restrictions on {what} produces {count} values, this exceeds fail threshold of {MAX_IN_PRODUCT}."
            )));
        }
        if bytes > MAX_IN_PRODUCT_BYTES {
            return Err(QueryError::Invalid(format!(
                "Aborting query because the cartesian product of the IN restrictions on {what} produces {count} values of {bytes} bytes in all, more than ccrsim's limit of {MAX_IN_PRODUCT_BYTES} bytes."
            )));
        }
        Ok(())
    }
}

/// The most bytes the mutations of one request (a statement, or a BATCH)
/// may take (as [`MutationBuilder::bytes`] counts them). A request can
/// multiply what it carries (one value written to every partition and row
/// its `IN` lists name, a BATCH naming one prepared statement thousands of
/// times), so this bounds the node's memory where the frame size does not.
pub const MAX_REQUEST_MUTATION_BYTES: usize = 256 << 20;

/// The mutations of one request so far, and the bytes they take.
#[derive(Debug, Default)]
pub(super) struct Writes {
    pub(super) list: Vec<Write>,
    bytes: usize,
}

impl std::ops::Deref for Writes {
    type Target = Vec<Write>;
    fn deref(&self) -> &Vec<Write> {
        &self.list
    }
}

impl Writes {
    /// Fails once these mutations and `m`, being built, take too much.
    pub(super) fn check(&self, m: &MutationBuilder) -> Result<()> {
        let total = self.bytes.saturating_add(m.bytes());
        if total > MAX_REQUEST_MUTATION_BYTES {
            return Err(QueryError::Invalid(format!(
                "Rejected an oversized request: its mutations take more than {MAX_REQUEST_MUTATION_BYTES} bytes (ccrsim's limit per statement or batch)"
            )));
        }
        Ok(())
    }

    pub(super) fn push(&mut self, m: MutationBuilder, durable: bool, keyspace: &str) -> Result<()> {
        self.check(&m)?;
        self.bytes += m.bytes();
        self.list.push((m.build(), durable, keyspace.to_string()));
        Ok(())
    }
}
