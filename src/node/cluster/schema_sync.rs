//! How schema changes reach every node: pushed at once, exchanged on any
//! difference gossip shows, until every schema version agrees.
//!
//! A node's schema is a [`SchemaLog`](crate::node::db::schema::log::SchemaLog):
//! cells merged per keyspace, table and column, so nodes that have seen
//! the same changes hold the same schema whatever the order. Two paths
//! carry the cells:
//!
//! - **Push.** A DDL statement's coordinator sends its whole log to every
//!   live peer (`SchemaPush`) and waits, at most [`PUSH_WAIT`], for their
//!   answers (`SchemaMerged`: the peer's version after merging, and the
//!   peer's own log when it had cells the coordinator lacked). It notes
//!   each answering peer's version in its gossip view, so a driver that
//!   asks `system.peers` right after the statement sees agreement; drivers
//!   wait for it after every DDL statement, so this is what makes DDL fast.
//! - **Exchange on difference.** Every gossip round, a node that sees a
//!   live peer announce another schema version sends its log to one such
//!   peer, chosen at random ([`pick`]); the answer brings the peer's log
//!   back when the peer had more. A push lost, a node down during the
//!   change, a datacenter cut: whatever was missed is exchanged once gossip
//!   shows the difference, so versions converge (a property the
//!   simulator checks on every seed).
//!
//! Schemas are small (kilobytes), so whole logs travel instead of diffs.

use std::net::IpAddr;
use std::time::Duration;

/// How long a DDL statement waits for the live peers to merge its change.
pub const PUSH_WAIT: Duration = Duration::from_secs(1);

/// The live peer with another schema version to exchange logs with this
/// round: one of them, chosen by `r` (a random number the caller draws).
pub fn pick(
    mine: [u8; 16],
    live_peers: impl IntoIterator<Item = (IpAddr, [u8; 16])>,
    r: u64,
) -> Option<IpAddr> {
    let differing: Vec<IpAddr> = live_peers
        .into_iter()
        .filter(|(_, v)| *v != mine)
        .map(|(a, _)| a)
        .collect();
    if differing.is_empty() {
        return None;
    }
    Some(differing[(r % differing.len() as u64) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_chooses_among_the_differing_peers_only() {
        let a = IpAddr::from([127, 0, 1, 1]);
        let b = IpAddr::from([127, 0, 1, 2]);
        let c = IpAddr::from([127, 0, 1, 3]);
        let peers = [(a, [1; 16]), (b, [2; 16]), (c, [3; 16])];
        assert_eq!(pick([1; 16], [(a, [1; 16])], 5), None);
        let picked: std::collections::BTreeSet<IpAddr> =
            (0..10).filter_map(|r| pick([1; 16], peers, r)).collect();
        assert_eq!(picked, [b, c].into());
    }
}
