//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN ...): who waits on
//! which key, in arrival order, and until when.
//!
//! A handler that finds nothing to serve asks to block
//! (`cmd::Ctx::block_on`); the client then stops reading requests. Any
//! change to a waited-on key marks it ready (`db::Db::touch`), and after
//! the command that changed it the node runs the blocked commands again,
//! oldest first: each either serves itself from the key and replies, or
//! stays blocked in its place. Deadlines come from the monotonic clock and
//! reach the driver through `next_deadline`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::db::Keyspace;
use crate::env::ConnId;

/// What a blocked client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedOn {
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// Monotonic ms at which it gives up; `None` waits forever.
    pub deadline_ms: Option<u64>,
    /// The command to run again when a key is ready.
    pub argv: Vec<Vec<u8>>,
}

/// Every blocked client, by key and by deadline.
#[derive(Debug, Default)]
pub struct Blocking {
    waiters: BTreeMap<(usize, Vec<u8>), VecDeque<ConnId>>,
    deadlines: BTreeSet<(u64, ConnId)>,
    blocked: usize,
}

impl Blocking {
    /// Clients blocked now (INFO's `blocked_clients`).
    pub fn blocked_count(&self) -> usize {
        self.blocked
    }

    /// Blocked clients with a deadline (INFO's `clients_in_timeout_table`).
    pub fn timeouts_count(&self) -> usize {
        self.deadlines.len()
    }

    /// Registers `conn` as waiting for `on`.
    pub fn block(&mut self, keyspace: &mut Keyspace, conn: ConnId, on: &BlockedOn) {
        for key in &on.keys {
            let queue = self.waiters.entry((on.db, key.clone())).or_default();
            if !queue.contains(&conn) {
                queue.push_back(conn);
            }
            keyspace.dbs[on.db].wait_on(key);
        }
        if let Some(at) = on.deadline_ms {
            self.deadlines.insert((at, conn));
        }
        self.blocked += 1;
    }

    /// Forgets `conn`'s wait for `on` (served, timed out, or gone).
    pub fn unblock(&mut self, keyspace: &mut Keyspace, conn: ConnId, on: &BlockedOn) {
        for key in &on.keys {
            let slot = (on.db, key.clone());
            if let Some(queue) = self.waiters.get_mut(&slot) {
                queue.retain(|&waiting| waiting != conn);
                if queue.is_empty() {
                    self.waiters.remove(&slot);
                    keyspace.dbs[on.db].stop_waiting(key);
                }
            }
        }
        if let Some(at) = on.deadline_ms {
            self.deadlines.remove(&(at, conn));
        }
        assert!(self.blocked > 0, "unblocking a client that was not blocked");
        self.blocked -= 1;
    }

    /// The clients waiting on `key` of `db`, oldest first.
    pub fn waiters(&self, db: usize, key: &[u8]) -> Vec<ConnId> {
        self.waiters
            .get(&(db, key.to_vec()))
            .map(|queue| queue.iter().copied().collect())
            .unwrap_or_default()
    }

    /// The earliest deadline of a blocked client.
    pub fn next_deadline(&self) -> Option<u64> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Clients whose deadline is at or before `now_ms`, earliest first.
    pub fn due(&self, now_ms: u64) -> Vec<ConnId> {
        self.deadlines
            .iter()
            .take_while(|&&(at, _)| at <= now_ms)
            .map(|&(_, conn)| conn)
            .collect()
    }
}
