//! The recorded trace: owned copies of core's `Trace` events, stamped with
//! the node's clocks, and their canonical encoding into the trace hash.
//!
//! The checkers read the recorded events; the hash folds in every event so a
//! rerun of the seed can be compared with one number.

use redoubt_core::env::{ConnId, LogLevel, Trace};

use crate::world::hash::TraceHasher;

/// One recorded `Trace` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceEvent {
    Executed {
        conn: ConnId,
        db: usize,
        argv: Vec<Vec<u8>>,
        reply: Vec<u8>,
        in_transaction: bool,
        /// It blocked first (see core's `Trace::Executed`).
        after_block: bool,
    },
    Rejected {
        conn: ConnId,
        argv: Vec<Vec<u8>>,
        reply: Vec<u8>,
    },
    Expired {
        db: usize,
        key: Vec<u8>,
        /// The connection whose command found the key expired; `None` for
        /// active expiry.
        conn: Option<ConnId>,
    },
    /// A key evicted for `maxmemory`, before the command that ran next.
    Evicted {
        db: usize,
        key: Vec<u8>,
    },
    Connected {
        conn: ConnId,
    },
    Disconnected {
        conn: ConnId,
    },
}

/// An event with the node's clocks at the moment it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceRecord {
    pub monotonic_ms: u64,
    pub wall_ms: i64,
    pub event: TraceEvent,
}

impl TraceEvent {
    /// An owned copy of core's event.
    pub fn from_core(event: &Trace<'_>) -> Self {
        match *event {
            Trace::Executed {
                conn,
                db,
                argv,
                reply,
                in_transaction,
                after_block,
            } => TraceEvent::Executed {
                conn,
                db,
                argv: argv.to_vec(),
                reply: reply.to_vec(),
                in_transaction,
                after_block,
            },
            Trace::Rejected { conn, argv, reply } => TraceEvent::Rejected {
                conn,
                argv: argv.to_vec(),
                reply: reply.to_vec(),
            },
            Trace::Expired { db, key, conn } => TraceEvent::Expired {
                db,
                key: key.to_vec(),
                conn,
            },
            Trace::Evicted { db, key } => TraceEvent::Evicted {
                db,
                key: key.to_vec(),
            },
            Trace::Connected { conn } => TraceEvent::Connected { conn },
            Trace::Disconnected { conn } => TraceEvent::Disconnected { conn },
        }
    }
}

/// Tags of the canonical encoding; never reuse a retired number.
mod tag {
    pub const EXECUTED: u8 = 1;
    pub const EXPIRED: u8 = 2;
    pub const CONNECTED: u8 = 3;
    pub const DISCONNECTED: u8 = 4;
    pub const LOG: u8 = 5;
    pub const REJECTED: u8 = 6;
    pub const AFTER_BLOCK: u8 = 7;
    pub const EVICTED: u8 = 8;
}

/// Folds a core event, at `monotonic_ms`, into `hasher`.
pub fn hash_event(hasher: &mut TraceHasher, monotonic_ms: u64, event: &Trace<'_>) {
    hasher.u64(monotonic_ms);
    match *event {
        Trace::Executed {
            conn,
            db,
            argv,
            reply,
            in_transaction,
            after_block,
        } => {
            hasher.u8(tag::EXECUTED);
            hasher.u64(conn);
            hasher.u64(db as u64);
            hasher.u64(argv.len() as u64);
            for arg in argv {
                hasher.bytes(arg);
            }
            hasher.bytes(reply);
            hasher.u8(u8::from(in_transaction));
            // Folded only when set, so traces without blocking keep the
            // hashes they had before blocking commands existed.
            if after_block {
                hasher.u8(tag::AFTER_BLOCK);
            }
        }
        Trace::Rejected { conn, argv, reply } => {
            hasher.u8(tag::REJECTED);
            hasher.u64(conn);
            hasher.u64(argv.len() as u64);
            for arg in argv {
                hasher.bytes(arg);
            }
            hasher.bytes(reply);
        }
        Trace::Expired { db, key, conn } => {
            hasher.u8(tag::EXPIRED);
            hasher.u64(db as u64);
            hasher.bytes(key);
            hasher.u64(conn.map_or(0, |conn| conn + 1));
        }
        Trace::Evicted { db, key } => {
            hasher.u8(tag::EVICTED);
            hasher.u64(db as u64);
            hasher.bytes(key);
        }
        Trace::Connected { conn } => {
            hasher.u8(tag::CONNECTED);
            hasher.u64(conn);
        }
        Trace::Disconnected { conn } => {
            hasher.u8(tag::DISCONNECTED);
            hasher.u64(conn);
        }
    }
}

/// Folds a log line into `hasher`.
pub fn hash_log(hasher: &mut TraceHasher, monotonic_ms: u64, level: LogLevel, message: &str) {
    hasher.u64(monotonic_ms);
    hasher.u8(tag::LOG);
    hasher.u8(level as u8);
    hasher.bytes(message.as_bytes());
}
