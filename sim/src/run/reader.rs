//! The replica reader: a reporting job on the machine of the replica in
//! seat [`READER_SEAT`] that reads the workload's keys there with MGET
//! (and the script-based lock's string keys, in runs with the lock),
//! one request at a time, every [`READ_EVERY_MS`] at most, over a
//! connection of its own that the node's sends reach directly (as the
//! publish-confirm listener's do).
//!
//! A session is one connection within one life and one history of the
//! replica: when the replica goes down, changes history (a full sync, a
//! repointing) or is promoted, the connection is dropped and the next read
//! opens another. The answers are judged at the end of the run
//! ([`crate::check::replica_reads`]), against every state the master's
//! dataset went through.

use redoubt_core::env::ConnId;

use super::nodes::local_request;
use super::simulation::Simulation;
use crate::check::replica_reads::{KeyHistory, Read, ReadFindings};
use crate::workload::resp::{encode_request, parse_reply, Reply};
use crate::world::env::NetAction;
use crate::world::rng::{stream, SimRng};

/// The seat of the replica the reader reads from.
pub const READER_SEAT: usize = 1;
/// Simulated ms after an answer before the next request when the replica
/// applied nothing since (it reads at once when the replica moved on).
const READ_AGAIN_MS: u64 = 100;
/// Keys one MGET reads, at most.
const KEYS_PER_READ_MAX: u64 = 64;

/// The reader, what it read and what the master's keys held.
#[derive(Debug)]
pub(super) struct ReaderState {
    rng: SimRng,
    /// The workload's key space (`key:0` …).
    keys: u64,
    /// Keys every MGET reads after the workload's: the script-based
    /// lock's string keys, in runs that have it.
    extra: Vec<Vec<u8>>,
    pub(super) history: KeyHistory,
    pub(super) findings: ReadFindings,
    session: Option<Session>,
    /// When the last answer came, and the replica's (history, offset) then.
    last: (u64, String, u64),
}

/// One connection in one life and history of the replica.
#[derive(Debug)]
struct Session {
    life: usize,
    conn: ConnId,
    history: String,
    number: u64,
    /// The keys of the MGET awaiting its answer.
    asked: Option<Vec<Vec<u8>>>,
    received: Vec<u8>,
}

impl ReaderState {
    /// The reader of run `seed` over `keys` workload keys; its draws come
    /// from a stream of its own.
    pub(super) fn new(seed: u64, keys: u64, extra: Vec<Vec<u8>>) -> Self {
        ReaderState {
            rng: SimRng::new(seed, stream::REPLICA_READER),
            keys: keys.max(1),
            extra,
            history: KeyHistory::default(),
            findings: ReadFindings::default(),
            session: None,
            last: (0, String::new(), 0),
        }
    }

    /// The replica's (history, offset) is `at`: whether to read now.
    fn due(&self, now_ms: u64, at: (&str, u64)) -> bool {
        let (answered_ms, history, offset) = &self.last;
        (history.as_str(), *offset) != at || now_ms >= answered_ms + READ_AGAIN_MS
    }

    /// Every key of the workload's key space, or a run of
    /// [`KEYS_PER_READ_MAX`] of them from a drawn start when it is larger;
    /// then the extra keys.
    fn next_keys(&mut self) -> Vec<Vec<u8>> {
        let count = self.keys.min(KEYS_PER_READ_MAX);
        let start = if count < self.keys {
            self.rng.range(0, self.keys - 1)
        } else {
            0
        };
        (0..count)
            .map(|i| format!("key:{}", (start + i) % self.keys).into_bytes())
            .chain(self.extra.iter().cloned())
            .collect()
    }
}

fn mget(keys: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut argv = vec![b"MGET".to_vec()];
    argv.extend(keys.iter().cloned());
    argv
}

impl Simulation {
    /// Drops the reader's session if its replica went away, changed
    /// history or stopped being a replica; sends the next MGET when the
    /// last was answered and its time has come.
    pub(super) fn reader_look(&mut self) {
        let now = self.now_ms;
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        let other = &mut self.others[READER_SEAT - 1];
        let Some(node) = other.node.as_mut() else {
            reader.session = None;
            return;
        };
        let repl = &node.server().repl;
        let history = repl.replid.clone();
        let replica = repl.is_replica();
        let due = reader.due(now, (&history, repl.offset));
        if let Some(session) = reader.session.take() {
            let same_life = session.life == other.incarnation;
            if same_life && session.history == history && replica {
                if session.asked.is_none() && due {
                    let keys = reader.next_keys();
                    let mut bytes = Vec::new();
                    encode_request(&mget(&keys), &mut bytes);
                    node.on_bytes(session.conn, &bytes);
                    other.touched = true;
                    reader.session = Some(Session {
                        asked: Some(keys),
                        ..session
                    });
                } else {
                    reader.session = Some(session);
                }
                return;
            }
            if same_life {
                node.on_closed(session.conn);
                other.touched = true;
            }
        }
        if !replica || !due {
            return;
        }
        let keys = reader.next_keys();
        let conn = local_request(node, "10.0.9.3:62000", 9002, &mget(&keys));
        other.touched = true;
        reader.findings.sessions += 1;
        reader.session = Some(Session {
            life: other.incarnation,
            conn,
            history,
            number: reader.findings.sessions,
            asked: Some(keys),
            received: Vec::new(),
        });
    }

    /// Takes what node `number` sent the reader out of `actions`, and
    /// records each answer.
    pub(super) fn reader_take(&mut self, number: usize, actions: Vec<NetAction>) -> Vec<NetAction> {
        let now = self.now_ms;
        let Some(reader) = self.reader.as_mut() else {
            return actions;
        };
        let Some(session) = reader.session.as_mut() else {
            return actions;
        };
        if number != READER_SEAT || session.life != self.others[number - 1].incarnation {
            return actions;
        }
        let conn = session.conn;
        let mut broken = false;
        let mut closed = false;
        let rest = actions
            .into_iter()
            .filter(|action| match action {
                NetAction::Send { conn: to, data } if *to == conn => {
                    session.received.extend_from_slice(data);
                    false
                }
                NetAction::Close { conn: to } if *to == conn => {
                    closed = true;
                    false
                }
                _ => true,
            })
            .collect();
        loop {
            let (reply, used) = match parse_reply(&session.received) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            };
            session.received.drain(..used);
            let Some(keys) = session.asked.take() else {
                broken = true;
                break;
            };
            let repl = &self.others[number - 1]
                .node
                .as_ref()
                .expect("it answered")
                .server()
                .repl;
            reader.last = (now, repl.replid.clone(), repl.offset);
            match reply {
                Reply::Array(Some(parts)) if parts.len() == keys.len() => {
                    let mut values = Vec::with_capacity(parts.len());
                    for part in parts {
                        match part {
                            Reply::Bulk(value) => values.push(value),
                            _ => broken = true,
                        }
                    }
                    if !broken {
                        reader.findings.reads.push(Read {
                            session: session.number,
                            at_ms: now,
                            node: number,
                            keys,
                            values,
                        });
                    }
                }
                Reply::Error(_) => reader.findings.refused += 1,
                _ => broken = true,
            }
        }
        if closed || broken {
            // A closed connection or a malformed answer: start over.
            reader.session = None;
        }
        if broken && !closed {
            let other = &mut self.others[number - 1];
            if let Some(node) = other.node.as_mut() {
                node.on_closed(conn);
                other.touched = true;
            }
        }
        rest
    }

    /// A failover promotes node `chosen`: if it is the reader's replica,
    /// the session ends (it is no replica any more). Returns the
    /// connection the promoted node must close.
    pub(super) fn reader_promoted(&mut self, chosen: usize) -> Option<ConnId> {
        let reader = self.reader.as_mut()?;
        if chosen != READER_SEAT {
            return None;
        }
        let session = reader.session.take()?;
        (session.life == self.others[chosen - 1].incarnation).then_some(session.conn)
    }
}
