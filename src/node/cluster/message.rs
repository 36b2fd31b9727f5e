//! Internode messages and their binary form.
//!
//! Nodes talk only through these messages, over TCP between their listen
//! addresses (port 7000 by default), also when they share a process. A
//! frame is `u32 length`, then `u8 version` (this is version 2; a peer
//! speaking another answers nothing and is logged), `u8 verb`, `u64 id`,
//! the sender's address and the address to answer to (a forwarded mutation
//! is answered straight to its coordinator), then the verb's body.
//! Decoding checks every length against what is left and never panics.

use std::net::IpAddr;

use crate::node::cluster::gossip::{AppState, EndpointState, Status};
use crate::node::cluster::paxos::{Ballot, Promise};

pub const VERSION: u8 = 2;
/// The largest frame a node accepts from a peer.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Gossip round: the sender's known states.
    GossipSyn(Vec<EndpointState>),
    /// The answer: the receiver's known states.
    GossipAck(Vec<EndpointState>),
    /// Apply a mutation (a `storage::Mutation` in its wire form), then relay
    /// it to `forward_to` (same id, answers go to the coordinator). With a
    /// ballot, it is a Paxos commit: the replica also records the ballot as
    /// committed for the mutation's partition.
    Mutation {
        mutation: Vec<u8>,
        durable: bool,
        forward_to: Vec<IpAddr>,
        commit: Option<Ballot>,
    },
    MutationAck,
    /// The replica could not apply the mutation.
    MutationFailed(String),
    /// The sender's schema log (JSON): merge it, and answer with
    /// [`Body::SchemaMerged`].
    SchemaPush(Vec<u8>),
    /// The answer to a push: the receiver's schema version after merging,
    /// and its own log when it holds cells the pusher lacked (else empty).
    SchemaMerged {
        version: [u8; 16],
        json: Vec<u8>,
    },
    /// Everything a replica has of one partition.
    ReadPartition {
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
    },
    /// A partition in a mutation's wire form, or none.
    Partition(Option<Vec<u8>>),
    /// Every partition a node has of a table in a token range.
    Scan {
        table: [u8; 16],
        start: i64,
        end: i64,
    },
    Partitions(Vec<Vec<u8>>),
    /// A `nodetool` command; answered on the same connection.
    Admin(Vec<String>),
    /// Its output, and whether it succeeded.
    AdminReply {
        ok: bool,
        text: String,
    },
    /// Paxos phase 1 for one partition.
    PaxosPrepare {
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
        ballot: Ballot,
    },
    PaxosPromise(Promise),
    /// Paxos phase 2: accept this update (a mutation's wire form)?
    PaxosPropose {
        table: [u8; 16],
        token: i64,
        key: Vec<u8>,
        ballot: Ballot,
        update: Vec<u8>,
    },
    PaxosAccepted(bool),
    /// Repair: the Merkle tree of a table's partitions in the token range
    /// `(start, end]` with `2^depth` leaves, answered with
    /// [`Body::MerkleLeaves`] (or [`Body::MutationFailed`]).
    MerkleRequest {
        table: [u8; 16],
        start: i64,
        end: i64,
        depth: u8,
    },
    /// The leaves of a Merkle tree, in token order.
    MerkleLeaves(Vec<[u8; 16]>),
    /// Repair streaming: apply these partitions (mutations' wire form),
    /// all or none; answered with [`Body::MutationAck`] or
    /// [`Body::MutationFailed`].
    Stream(Vec<Vec<u8>>),
}

impl Body {
    fn verb(&self) -> u8 {
        match self {
            Body::GossipSyn(_) => 1,
            Body::GossipAck(_) => 2,
            Body::Mutation { .. } => 3,
            Body::MutationAck => 4,
            Body::MutationFailed(_) => 5,
            Body::SchemaPush(_) => 6,
            Body::SchemaMerged { .. } => 7,
            Body::ReadPartition { .. } => 8,
            Body::Partition(_) => 9,
            Body::Scan { .. } => 10,
            Body::Partitions(_) => 11,
            Body::Admin(_) => 12,
            Body::AdminReply { .. } => 13,
            Body::PaxosPrepare { .. } => 14,
            Body::PaxosPromise(_) => 15,
            Body::PaxosPropose { .. } => 16,
            Body::PaxosAccepted(_) => 17,
            Body::MerkleRequest { .. } => 18,
            Body::MerkleLeaves(_) => 19,
            Body::Stream(_) => 20,
        }
    }

    /// Whether this answers a request (its id is the request's).
    pub fn is_response(&self) -> bool {
        matches!(
            self,
            Body::GossipAck(_)
                | Body::MutationAck
                | Body::MutationFailed(_)
                | Body::SchemaMerged { .. }
                | Body::Partition(_)
                | Body::Partitions(_)
                | Body::AdminReply { .. }
                | Body::PaxosPromise(_)
                | Body::PaxosAccepted(_)
                | Body::MerkleLeaves(_)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: u64,
    pub from: IpAddr,
    pub reply_to: IpAddr,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed internode message: {0}")]
pub struct MessageError(pub String);

fn put_ip(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v) => {
            out.push(4);
            out.extend_from_slice(&v.octets());
        }
        IpAddr::V6(v) => {
            out.push(16);
            out.extend_from_slice(&v.octets());
        }
    }
}

fn put_ballot(out: &mut Vec<u8>, b: Option<&Ballot>) {
    match b {
        Some(b) => {
            out.push(1);
            b.encode(out);
        }
        None => out.push(0),
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn put_state(out: &mut Vec<u8>, s: &EndpointState) {
    put_ip(out, &s.address);
    out.extend_from_slice(&s.generation.to_be_bytes());
    out.extend_from_slice(&s.version.to_be_bytes());
    let a = &s.app;
    out.extend_from_slice(&a.host_id);
    put_bytes(out, a.datacenter.as_bytes());
    put_bytes(out, a.rack.as_bytes());
    out.extend_from_slice(&(a.tokens.len() as u32).to_be_bytes());
    for t in &a.tokens {
        out.extend_from_slice(&t.to_be_bytes());
    }
    out.push(a.status.code());
    out.extend_from_slice(&a.schema_version);
    put_ip(out, &a.rpc_address);
    out.extend_from_slice(&a.native_port.to_be_bytes());
    put_bytes(out, a.release_version.as_bytes());
    out.extend_from_slice(&a.load.to_be_bytes());
}

impl Message {
    /// The frame, length prefix included.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![0, 0, 0, 0, VERSION, self.body.verb()];
        out.extend_from_slice(&self.id.to_be_bytes());
        put_ip(&mut out, &self.from);
        put_ip(&mut out, &self.reply_to);
        match &self.body {
            Body::GossipSyn(states) | Body::GossipAck(states) => {
                out.extend_from_slice(&(states.len() as u32).to_be_bytes());
                for s in states {
                    put_state(&mut out, s);
                }
            }
            Body::Mutation {
                mutation,
                durable,
                forward_to,
                commit,
            } => {
                put_bytes(&mut out, mutation);
                out.push(u8::from(*durable));
                out.extend_from_slice(&(forward_to.len() as u32).to_be_bytes());
                for ip in forward_to {
                    put_ip(&mut out, ip);
                }
                put_ballot(&mut out, commit.as_ref());
            }
            Body::MutationAck => {}
            Body::SchemaPush(json) => put_bytes(&mut out, json),
            Body::MutationFailed(m) => put_bytes(&mut out, m.as_bytes()),
            Body::SchemaMerged { version, json } => {
                out.extend_from_slice(version);
                put_bytes(&mut out, json);
            }
            Body::ReadPartition { table, token, key } => {
                out.extend_from_slice(table);
                out.extend_from_slice(&token.to_be_bytes());
                put_bytes(&mut out, key);
            }
            Body::Partition(p) => match p {
                Some(b) => {
                    out.push(1);
                    put_bytes(&mut out, b);
                }
                None => out.push(0),
            },
            Body::Scan { table, start, end } => {
                out.extend_from_slice(table);
                out.extend_from_slice(&start.to_be_bytes());
                out.extend_from_slice(&end.to_be_bytes());
            }
            Body::Partitions(ps) => {
                out.extend_from_slice(&(ps.len() as u32).to_be_bytes());
                for p in ps {
                    put_bytes(&mut out, p);
                }
            }
            Body::Admin(args) => {
                out.extend_from_slice(&(args.len() as u32).to_be_bytes());
                for a in args {
                    put_bytes(&mut out, a.as_bytes());
                }
            }
            Body::AdminReply { ok, text } => {
                out.push(u8::from(*ok));
                put_bytes(&mut out, text.as_bytes());
            }
            Body::PaxosPrepare {
                table,
                token,
                key,
                ballot,
            } => {
                out.extend_from_slice(table);
                out.extend_from_slice(&token.to_be_bytes());
                put_bytes(&mut out, key);
                ballot.encode(&mut out);
            }
            Body::PaxosPromise(p) => {
                out.push(u8::from(p.ok));
                p.promised.encode(&mut out);
                for proposal in [&p.committed, &p.accepted] {
                    match proposal {
                        Some((b, update)) => {
                            out.push(1);
                            b.encode(&mut out);
                            put_bytes(&mut out, update);
                        }
                        None => out.push(0),
                    }
                }
            }
            Body::PaxosPropose {
                table,
                token,
                key,
                ballot,
                update,
            } => {
                out.extend_from_slice(table);
                out.extend_from_slice(&token.to_be_bytes());
                put_bytes(&mut out, key);
                ballot.encode(&mut out);
                put_bytes(&mut out, update);
            }
            Body::PaxosAccepted(ok) => out.push(u8::from(*ok)),
            Body::MerkleRequest {
                table,
                start,
                end,
                depth,
            } => {
                out.extend_from_slice(table);
                out.extend_from_slice(&start.to_be_bytes());
                out.extend_from_slice(&end.to_be_bytes());
                out.push(*depth);
            }
            Body::MerkleLeaves(leaves) => {
                out.extend_from_slice(&(leaves.len() as u32).to_be_bytes());
                for l in leaves {
                    out.extend_from_slice(l);
                }
            }
            Body::Stream(ps) => {
                out.extend_from_slice(&(ps.len() as u32).to_be_bytes());
                for p in ps {
                    put_bytes(&mut out, p);
                }
            }
        }
        let len = (out.len() - 4) as u32;
        out[..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Decodes a frame's content (after the length prefix).
    pub fn decode(b: &[u8]) -> Result<Message, MessageError> {
        let mut r = Reader { b, pos: 0 };
        let version = r.u8("version")?;
        if version != VERSION {
            return Err(MessageError(format!(
                "unsupported internode version {version} (this node speaks {VERSION})"
            )));
        }
        let verb = r.u8("verb")?;
        let id = r.u64("id")?;
        let from = r.ip("sender")?;
        let reply_to = r.ip("reply address")?;
        let body = match verb {
            1 | 2 => {
                let n = r.count(40, "states")?;
                let mut states = Vec::with_capacity(n);
                for _ in 0..n {
                    states.push(r.state()?);
                }
                if verb == 1 {
                    Body::GossipSyn(states)
                } else {
                    Body::GossipAck(states)
                }
            }
            3 => {
                let mutation = r.bytes("mutation")?.to_vec();
                let durable = r.u8("durable")? != 0;
                let n = r.count(5, "forward list")?;
                let mut forward_to = Vec::with_capacity(n);
                for _ in 0..n {
                    forward_to.push(r.ip("forward address")?);
                }
                let commit = match r.u8("commit presence")? {
                    0 => None,
                    _ => Some(r.ballot()?),
                };
                Body::Mutation {
                    mutation,
                    durable,
                    forward_to,
                    commit,
                }
            }
            4 => Body::MutationAck,
            5 => Body::MutationFailed(r.string("failure")?),
            6 => Body::SchemaPush(r.bytes("schema")?.to_vec()),
            7 => Body::SchemaMerged {
                version: r.array16("schema version")?,
                json: r.bytes("schema")?.to_vec(),
            },
            8 => Body::ReadPartition {
                table: r.array16("table")?,
                token: r.u64("token")? as i64,
                key: r.bytes("key")?.to_vec(),
            },
            9 => match r.u8("presence")? {
                0 => Body::Partition(None),
                _ => Body::Partition(Some(r.bytes("partition")?.to_vec())),
            },
            10 => Body::Scan {
                table: r.array16("table")?,
                start: r.u64("start")? as i64,
                end: r.u64("end")? as i64,
            },
            11 => {
                let n = r.count(4, "partitions")?;
                let mut ps = Vec::with_capacity(n);
                for _ in 0..n {
                    ps.push(r.bytes("partition")?.to_vec());
                }
                Body::Partitions(ps)
            }
            12 => {
                let n = r.count(4, "arguments")?;
                let mut args = Vec::with_capacity(n);
                for _ in 0..n {
                    args.push(r.string("argument")?);
                }
                Body::Admin(args)
            }
            13 => Body::AdminReply {
                ok: r.u8("status")? != 0,
                text: r.string("output")?,
            },
            14 => Body::PaxosPrepare {
                table: r.array16("table")?,
                token: r.u64("token")? as i64,
                key: r.bytes("key")?.to_vec(),
                ballot: r.ballot()?,
            },
            15 => {
                let ok = r.u8("promised")? != 0;
                let promised = r.ballot()?;
                let committed = match r.u8("commit presence")? {
                    0 => None,
                    _ => Some((r.ballot()?, r.bytes("committed update")?.to_vec())),
                };
                let accepted = match r.u8("accepted presence")? {
                    0 => None,
                    _ => Some((r.ballot()?, r.bytes("accepted update")?.to_vec())),
                };
                Body::PaxosPromise(Promise {
                    ok,
                    promised,
                    accepted,
                    committed,
                })
            }
            16 => Body::PaxosPropose {
                table: r.array16("table")?,
                token: r.u64("token")? as i64,
                key: r.bytes("key")?.to_vec(),
                ballot: r.ballot()?,
                update: r.bytes("update")?.to_vec(),
            },
            17 => Body::PaxosAccepted(r.u8("accepted")? != 0),
            18 => Body::MerkleRequest {
                table: r.array16("table")?,
                start: r.u64("start")? as i64,
                end: r.u64("end")? as i64,
                depth: r.u8("depth")?,
            },
            19 => {
                let n = r.count(16, "leaves")?;
                let mut leaves = Vec::with_capacity(n);
                for _ in 0..n {
                    leaves.push(r.array16("leaf")?);
                }
                Body::MerkleLeaves(leaves)
            }
            20 => {
                let n = r.count(4, "partitions")?;
                let mut ps = Vec::with_capacity(n);
                for _ in 0..n {
                    ps.push(r.bytes("partition")?.to_vec());
                }
                Body::Stream(ps)
            }
            v => return Err(MessageError(format!("unknown verb {v}"))),
        };
        if r.pos != b.len() {
            return Err(MessageError(format!(
                "{} bytes after the body",
                b.len() - r.pos
            )));
        }
        Ok(Message {
            id,
            from,
            reply_to,
            body,
        })
    }
}

/// Gossip states in the form a node keeps them on disk (its saved ring,
/// as Cassandra's `system.peers`): the internode encoding, versioned.
pub fn encode_states(states: &[EndpointState]) -> Vec<u8> {
    let mut out = vec![VERSION];
    out.extend_from_slice(&(states.len() as u32).to_be_bytes());
    for s in states {
        put_state(&mut out, s);
    }
    out
}

/// The states [`encode_states`] wrote.
pub fn decode_states(b: &[u8]) -> Result<Vec<EndpointState>, MessageError> {
    let mut r = Reader { b, pos: 0 };
    let version = r.u8("version")?;
    if version != VERSION {
        return Err(MessageError(format!(
            "saved states of internode version {version} (this node speaks {VERSION})"
        )));
    }
    let n = r.count(40, "states")?;
    let mut states = Vec::with_capacity(n);
    for _ in 0..n {
        states.push(r.state()?);
    }
    Ok(states)
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn ballot(&mut self) -> Result<Ballot, MessageError> {
        let b = self.take(Ballot::LEN, "ballot")?;
        Ballot::decode(b).ok_or_else(|| MessageError("malformed ballot".into()))
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], MessageError> {
        if self.b.len() - self.pos < n {
            return Err(MessageError(format!("truncated {what}")));
        }
        let s = &self.b[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, MessageError> {
        Ok(self.take(1, what)?[0])
    }
    fn u16(&mut self, what: &str) -> Result<u16, MessageError> {
        Ok(u16::from_be_bytes(
            self.take(2, what)?.try_into().expect("2"),
        ))
    }
    fn u32(&mut self, what: &str) -> Result<u32, MessageError> {
        Ok(u32::from_be_bytes(
            self.take(4, what)?.try_into().expect("4"),
        ))
    }
    fn u64(&mut self, what: &str) -> Result<u64, MessageError> {
        Ok(u64::from_be_bytes(
            self.take(8, what)?.try_into().expect("8"),
        ))
    }
    fn array16(&mut self, what: &str) -> Result<[u8; 16], MessageError> {
        Ok(self.take(16, what)?.try_into().expect("16"))
    }
    /// A count of items of at least `min` bytes each, checked against what is left.
    fn count(&mut self, min: usize, what: &str) -> Result<usize, MessageError> {
        let n = self.u32(what)? as usize;
        if n.saturating_mul(min) > self.b.len() - self.pos {
            return Err(MessageError(format!("{what}: {n} items cannot fit")));
        }
        Ok(n)
    }
    fn bytes(&mut self, what: &str) -> Result<&'a [u8], MessageError> {
        let n = self.u32(what)? as usize;
        self.take(n, what)
    }
    fn string(&mut self, what: &str) -> Result<String, MessageError> {
        String::from_utf8(self.bytes(what)?.to_vec())
            .map_err(|_| MessageError(format!("{what} is not UTF-8")))
    }
    fn ip(&mut self, what: &str) -> Result<IpAddr, MessageError> {
        match self.u8(what)? {
            4 => {
                let o: [u8; 4] = self.take(4, what)?.try_into().expect("4");
                Ok(IpAddr::from(o))
            }
            16 => {
                let o: [u8; 16] = self.take(16, what)?.try_into().expect("16");
                Ok(IpAddr::from(o))
            }
            n => Err(MessageError(format!("{what}: bad address length {n}"))),
        }
    }
    fn state(&mut self) -> Result<EndpointState, MessageError> {
        let address = self.ip("address")?;
        let generation = self.u64("generation")? as i64;
        let version = self.u64("version")?;
        let host_id = self.array16("host id")?;
        let datacenter = self.string("datacenter")?;
        let rack = self.string("rack")?;
        let n = self.count(8, "tokens")?;
        let mut tokens = Vec::with_capacity(n);
        for _ in 0..n {
            tokens.push(self.u64("token")? as i64);
        }
        let status = Status::from_code(self.u8("status")?)
            .ok_or_else(|| MessageError("unknown status".into()))?;
        let schema_version = self.array16("schema version")?;
        let rpc_address = self.ip("rpc address")?;
        let native_port = self.u16("native port")?;
        let release_version = self.string("release version")?;
        let load = self.u64("load")?;
        Ok(EndpointState {
            address,
            generation,
            version,
            app: AppState {
                host_id,
                datacenter,
                rack,
                tokens,
                status,
                schema_version,
                rpc_address,
                native_port,
                release_version,
                load,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> EndpointState {
        EndpointState {
            address: "127.0.1.2".parse().unwrap(),
            generation: 1_700_000_000,
            version: 42,
            app: AppState {
                host_id: [9; 16],
                datacenter: "dc1".into(),
                rack: "rack-a".into(),
                tokens: vec![i64::MIN, -1, 0, i64::MAX],
                status: Status::Normal,
                schema_version: [3; 16],
                rpc_address: "::1".parse().unwrap(),
                native_port: 9042,
                release_version: "4.1.3".into(),
                load: 123_456,
            },
        }
    }

    #[test]
    fn every_message_round_trips() {
        let from: IpAddr = "127.0.1.1".parse().unwrap();
        let bodies = vec![
            Body::GossipSyn(vec![state(), state()]),
            Body::GossipAck(vec![]),
            Body::Mutation {
                mutation: vec![1, 2, 3],
                durable: true,
                forward_to: vec!["127.0.2.2".parse().unwrap(), "127.0.2.3".parse().unwrap()],
                commit: None,
            },
            Body::Mutation {
                mutation: vec![4],
                durable: false,
                forward_to: vec![],
                commit: Some(Ballot {
                    micros: 99,
                    host: [5; 16],
                }),
            },
            Body::MutationAck,
            Body::MutationFailed("disk full".into()),
            Body::SchemaPush(b"{}".to_vec()),
            Body::SchemaMerged {
                version: [1; 16],
                json: b"{}".to_vec(),
            },
            Body::ReadPartition {
                table: [2; 16],
                token: -5,
                key: b"k".to_vec(),
            },
            Body::Partition(None),
            Body::Partition(Some(vec![1, 2])),
            Body::Scan {
                table: [3; 16],
                start: i64::MIN,
                end: i64::MAX,
            },
            Body::Partitions(vec![vec![], vec![7]]),
            Body::Admin(vec!["status".into(), "ks".into()]),
            Body::AdminReply {
                ok: false,
                text: "no".into(),
            },
            Body::PaxosPrepare {
                table: [4; 16],
                token: 77,
                key: b"pk".to_vec(),
                ballot: Ballot {
                    micros: 1,
                    host: [6; 16],
                },
            },
            Body::PaxosPromise(Promise {
                ok: true,
                promised: Ballot::default(),
                accepted: Some((
                    Ballot {
                        micros: 3,
                        host: [1; 16],
                    },
                    vec![9, 9],
                )),
                committed: Some((
                    Ballot {
                        micros: 2,
                        host: [2; 16],
                    },
                    vec![8],
                )),
            }),
            Body::PaxosPromise(Promise {
                ok: false,
                promised: Ballot::default(),
                accepted: None,
                committed: None,
            }),
            Body::PaxosPropose {
                table: [4; 16],
                token: -77,
                key: vec![],
                ballot: Ballot::default(),
                update: vec![1],
            },
            Body::PaxosAccepted(true),
            Body::MerkleRequest {
                table: [3; 16],
                start: i64::MIN,
                end: 42,
                depth: 7,
            },
            Body::MerkleLeaves(vec![[1; 16], [0; 16]]),
            Body::Stream(vec![vec![1, 2, 3], vec![]]),
        ];
        for body in bodies {
            let m = Message {
                id: 7,
                from,
                reply_to: "127.0.2.1".parse().unwrap(),
                body,
            };
            let bytes = m.encode();
            let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
            assert_eq!(len, bytes.len() - 4);
            assert_eq!(Message::decode(&bytes[4..]).unwrap(), m);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let m = Message {
            id: 1,
            from: "127.0.1.1".parse().unwrap(),
            reply_to: "127.0.1.1".parse().unwrap(),
            body: Body::GossipSyn(vec![state()]),
        };
        let bytes = m.encode();
        for cut in 0..bytes.len() - 4 {
            assert!(Message::decode(&bytes[4..4 + cut]).is_err(), "cut at {cut}");
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            let mut b = bytes[4..].to_vec();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % b.len();
                b[i] = (x >> 32) as u8;
            }
            let _ = Message::decode(&b);
        }
        let mut wrong = bytes[4..].to_vec();
        wrong[0] = 9;
        assert!(Message::decode(&wrong).unwrap_err().0.contains("version 9"));
    }
}
