//! CQL values: their native-protocol bytes, their CQL literals, their order.
//!
//! # The three forms of a value
//!
//! A value reaches the node in one of two forms and leaves it in a third:
//!
//! * **bytes**, bound by a driver to a `?` marker of a prepared statement or a
//!   QUERY with values. [`CqlValue::decode`] reads them given the type the
//!   marker stands for; [`CqlValue::encode`] writes them into a RESULT row.
//!   The formats are those of `native_protocol_v4.spec` section 6 (and v5
//!   section 5.8 for `duration`), described with each variant of
//!   [`CqlValue`]. Only the content of a `[bytes]` is meant: the 4-byte
//!   length before it, and the `-1` length that stands for null, belong to
//!   the frame codec. A null is therefore never a `CqlValue`; where a null
//!   can appear *inside* a value (tuple and UDT fields) it is `None`.
//! * **literals**, written in the CQL text (`INSERT ... VALUES (1, 'a',
//!   0xff, [1, 2], {'k': 3})`). The CQL parser hands them over as
//!   [`CqlLiteral`] and [`CqlValue::from_literal`] converts them to the
//!   column's type, applying Cassandra's rules of which literal kind fits
//!   which type (a quoted string is not an `int`) and its error messages
//!   (`Unable to make int from '99999999999'`).
//! * **text**: [`CqlValue::to_cql_literal`] (also `Display`) writes a literal
//!   that parses back to the same value, for `DESCRIBE` and error messages;
//!   [`CqlValue::to_cqlsh`] writes it the way cqlsh shows a cell.
//!
//! # Empty values
//!
//! For historical reasons Cassandra accepts a zero-length value for most
//! non-collection types: an "empty" int is neither null nor zero. Such bytes
//! decode to [`CqlValue::Empty`] for `bigint`, `boolean`, `counter`,
//! `decimal`, `double`, `float`, `inet`, `int`, `timestamp`, `timeuuid`,
//! `uuid`, `varint`, tuples and UDTs, exactly the types whose Cassandra
//! validators accept zero bytes. For `ascii`, `text` and `blob` zero bytes
//! are simply the empty string or blob. `smallint`, `tinyint`, `date`, `time`
//! and `duration` (newer types with strict validators) and all collections
//! refuse zero bytes.
//!
//! # Normal forms
//!
//! Decoding and literal conversion return values in the form Cassandra
//! stores: set elements sorted by the element type's order and deduplicated,
//! map entries sorted by key with the last duplicate winning, varints in
//! minimal two's complement, tuples padded with `None` to their type's
//! arity. [`CqlValue::normalize`] brings a value built by hand to that form.
//! Encoding a decoded value therefore gives back the input bytes whenever
//! the input was already normal.
//!
//! # Order
//!
//! [`compare`] orders serialized values the way Cassandra's `AbstractType`
//! subclasses do, which decides clustering order and set/map order: numbers
//! numerically (`float`/`double` like Java's `Float.compare`, `decimal`
//! ignoring scale so `1.0 == 1.00`), text, blob, inet, date and time
//! bytewise, `timeuuid` by embedded timestamp then by signed bytes, `uuid`
//! by version first, then timestamp (version 1) or unsigned bytes, frozen
//! collections, tuples and UDTs element by element. Empty values sort
//! first. `DESC` clustering is the caller's business (reverse the result).
//!
//! # Safety against hostile bytes
//!
//! Every length and count read from the wire is checked against the bytes
//! that remain before anything is allocated or sliced, nesting is capped at
//! [`MAX_VALUE_DEPTH`], and no path panics: the tests decode a hundred
//! thousand random byte strings under every type.
//!
//! # Files
//!
//! This file only declares the pieces and re-exports what the rest of the
//! node uses; the pieces import from `model.rs` and from each other,
//! never from here, so no two files import each other (`tests/layers.rs`).
//!
//! * `model.rs`: [`CqlValue`], [`CqlLiteral`], [`ValueError`],
//!   [`MAX_VALUE_DEPTH`] and the bounds-checked reader of wire bytes.
//! * `codec.rs`: bytes to values and back, the normal forms
//!   ([`CqlValue::normalize`]) and [`CqlValue::fits`].
//! * `order.rs`: [`compare`].
//! * `literal.rs`: [`CqlValue::from_literal`], UUID text.
//! * [`calendar`]: the civil calendar, and `date`, `time`, `timestamp` and
//!   `duration` text both ways.
//! * `text.rs`: [`CqlValue::to_cql_literal`] and [`CqlValue::to_cqlsh`].
//! * `big.rs`: arbitrary-precision integers for `varint` and `decimal`.
//! * [`types`]: the types, [`CqlType`](types::CqlType).
//! * `tests/`: the tests, by section.

mod big;
pub mod calendar;
mod codec;
mod literal;
mod model;
mod order;
mod text;
pub mod types;

#[cfg(test)]
mod tests;

pub use calendar::DATE_EPOCH;
pub use codec::decode;
pub use literal::{format_uuid, parse_uuid};
pub use model::{CqlLiteral, CqlValue, MAX_VALUE_DEPTH, ValueError};
pub use order::compare;
