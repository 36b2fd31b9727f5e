//! Entry points for fuzzing (the `fuzz/` crate's libFuzzer targets and the
//! stable smoke test in `tests/fuzz_smoke.rs` call these): arbitrary bytes
//! into the frame decoder and the CQL parser. Each must return, never panic.

use super::cql;
use super::protocol::frame::{Header, Request, check_version, decode_request};

/// A frame: the first 9 bytes are the header, the rest the body.
pub fn frame(data: &[u8]) {
    let Some((h, body)) = data.split_first_chunk::<9>() else {
        return;
    };
    let _ = check_version(h[0], i16::from_be_bytes([h[2], h[3]]));
    let header = Header::parse(h);
    if let Ok(Request::Query { query, .. } | Request::Prepare { query }) =
        decode_request(&header, body)
    {
        let _ = cql::parse(query);
    }
}

/// CQL text (bytes that are not UTF-8 are skipped, as the frame decoder refuses them).
pub fn cql_text(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = cql::parse(s);
    }
}
