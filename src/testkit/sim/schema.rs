//! Schema changes in the simulator, as `Core` makes and spreads them: the
//! real [`SchemaLog`] kept on each node's disk, the push a DDL statement's
//! coordinator sends to its live peers, and the exchange each gossip round
//! starts with one live peer whose schema version differs, chosen by the
//! real [`schema_sync::pick`]. Answers note the peer's version in the
//! gossip view ([`Gossiper::note_schema`]), as the node does.
//!
//! [`Gossiper::note_schema`]: crate::node::cluster::gossip::Gossiper::note_schema

use std::net::IpAddr;

use super::world::{EPOCH_SECS, World};
use crate::node::cluster::message::{Body, Message};
use crate::node::cluster::schema_sync;
use crate::node::db::schema::Schema;
use crate::node::db::schema::log::SchemaLog;

fn json_of(log: &SchemaLog) -> Vec<u8> {
    serde_json::to_vec(&log.to_json()).expect("a schema log is JSON")
}

/// A node's clock in microseconds: the world's, skewed per node by up to
/// about an eighth of a second either way (real clocks disagree).
fn micros(now_ms: u64, host_id: &[u8; 16]) -> i64 {
    let skew = (i64::from(host_id[0]) - 128) * 1000;
    EPOCH_SECS * 1_000_000 + (now_ms as i64) * 1000 + skew
}

impl World {
    /// A DDL statement coordinated by `node`: `change` edits a copy of the
    /// node's schema and says whether it changed anything. The node records
    /// the change in its log (stamped after every cell the log holds, as
    /// `Engine::change_schema` does), announces its new version in gossip
    /// and pushes its log to the peers it sees alive. Returns the cells the
    /// statement wrote: it is acknowledged, its log on disk.
    pub fn ddl(
        &mut self,
        node: IpAddr,
        change: impl FnOnce(&mut Schema) -> bool,
    ) -> Option<SchemaLog> {
        let now = self.now();
        let n = self.nodes.get_mut(&node)?;
        let r = n.running.as_mut()?;
        let old = n.disk.schema.schema();
        let mut new = old.clone();
        if !change(&mut new) {
            return None;
        }
        let at = micros(now, &n.host_id).max(n.disk.schema.newest().0 + 1);
        let delta = n.disk.schema.record(&old, &new, (at, n.host_id));
        n.disk.schema.merge(&delta);
        let version = n.disk.schema.schema().version();
        r.gossip.update_local(|a| a.schema_version = version);
        let peers: Vec<IpAddr> = r.gossip.live_peers().copied().collect();
        let json = json_of(&n.disk.schema);
        self.note_announced(node);
        for p in peers {
            self.send_new(node, p, Body::SchemaPush(json.clone()));
        }
        Some(delta)
    }

    /// Each gossip round: a live peer announcing another schema version
    /// gets this node's log (`Core::round`).
    pub(super) fn schema_round(&mut self, node: IpAddr) {
        let r = self.rng.next_u64();
        let Some((peer, json)) = self.nodes.get(&node).and_then(|n| {
            let g = &n.running.as_ref()?.gossip;
            let peer = schema_sync::pick(
                g.local().app.schema_version,
                g.states()
                    .filter(|s| s.address != node && g.is_alive(&s.address))
                    .map(|s| (s.address, s.app.schema_version)),
                r,
            )?;
            Some((peer, json_of(&n.disk.schema)))
        }) else {
            return;
        };
        self.send_new(node, peer, Body::SchemaPush(json));
    }

    /// `Core::handle` for `SchemaPush` and `SchemaMerged`.
    pub(super) fn handle_schema(&mut self, node: IpAddr, msg: Message) -> Option<Body> {
        match msg.body {
            Body::SchemaPush(json) => {
                let theirs = self.read_log(node, &json)?;
                let n = self.nodes.get_mut(&node)?;
                let r = n.running.as_mut()?;
                let absorbed = n.disk.schema.absorb(&theirs);
                let version = n.disk.schema.schema().version();
                if absorbed.changed {
                    r.gossip.update_local(|a| a.schema_version = version);
                }
                let json = if absorbed.pusher_lacks {
                    json_of(&n.disk.schema)
                } else {
                    Vec::new()
                };
                if absorbed.changed {
                    self.note_announced(node);
                }
                Some(Body::SchemaMerged { version, json })
            }
            Body::SchemaMerged { version, json } => {
                let theirs = if json.is_empty() {
                    None
                } else {
                    Some(self.read_log(node, &json)?)
                };
                let n = self.nodes.get_mut(&node)?;
                let r = n.running.as_mut()?;
                let mut changed = false;
                if let Some(theirs) = theirs {
                    changed = n.disk.schema.merge(&theirs);
                    if changed {
                        let mine = n.disk.schema.schema().version();
                        r.gossip.update_local(|a| a.schema_version = mine);
                    }
                }
                r.gossip.note_schema(&msg.from, version);
                if changed {
                    self.note_announced(node);
                }
                None
            }
            _ => None,
        }
    }

    fn read_log(&mut self, node: IpAddr, json: &[u8]) -> Option<SchemaLog> {
        let parsed = serde_json::from_slice(json)
            .map_err(|e| e.to_string())
            .and_then(|v| SchemaLog::from_json(&v).map_err(|e| e.to_string()));
        match parsed {
            Ok(log) => Some(log),
            Err(e) => {
                self.note(format!("{node}: schema from a peer not adopted: {e}"));
                None
            }
        }
    }
}
