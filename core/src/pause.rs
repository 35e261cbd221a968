//! CLIENT PAUSE and CLIENT UNPAUSE, as Redis 7.0 pauses clients.
//!
//! While a pause is in force, requests from ordinary clients wait unread
//! (the request is parsed and held, like a write held by a shutdown that
//! waits for its replicas): every request under `ALL`, CLIENT UNPAUSE
//! included, and under `WRITE` only what may write or propagate (see
//! `cmd::held_by_write_pause`). Replicas and the master's link are never
//! held. Keys stay as they are meanwhile: a key past its time reads as
//! gone but is not deleted (nothing may reach the AOF or the replicas, so
//! that a failover can take a consistent snapshot), the cron does not
//! expire keys, and eviction waits.
//!
//! A second pause keeps the more restrictive kind and the later end.
//! The pause ends at its time (checked each tick; `Node::next_deadline`
//! wakes for it) or at CLIENT UNPAUSE; the held clients then run their
//! requests in arrival order.

use crate::client::Client;
use crate::cmd;
use crate::server::Server;

/// A CLIENT PAUSE in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientPause {
    /// `ALL` (every command waits) rather than `WRITE`.
    pub all: bool,
    /// Monotonic time at which it ends.
    pub end_ms: u64,
}

impl Server {
    /// Starts a pause, or widens the one in force.
    pub fn pause_clients(&mut self, all: bool, end_ms: u64) {
        let pause = match self.client_pause {
            Some(current) => ClientPause {
                all: current.all || all,
                end_ms: current.end_ms.max(end_ms),
            },
            None => ClientPause { all, end_ms },
        };
        self.client_pause = Some(pause);
    }

    /// Ends the pause, if any, and lets the held clients go on.
    pub fn unpause_clients(&mut self) {
        if self.client_pause.take().is_some() {
            self.resume_held_writes();
        }
    }

    /// Ends a pause whose time has come (called each tick).
    pub fn pause_cron(&mut self, now_ms: u64) {
        if self
            .client_pause
            .is_some_and(|pause| now_ms >= pause.end_ms)
        {
            self.unpause_clients();
        }
    }

    /// Whether a pause is in force (keys then neither expire nor get
    /// evicted).
    pub fn clients_paused(&self) -> bool {
        self.client_pause.is_some()
    }

    /// Whether `argv` from `client` must wait: for a CLIENT PAUSE, or for
    /// a shutdown waiting on its replicas (writes only).
    pub fn holds_request(&self, client: &Client, argv: &[Vec<u8>]) -> bool {
        if client.is_replica || client.is_master {
            return false;
        }
        match self.client_pause {
            Some(pause) if pause.all => true,
            Some(_) => cmd::held_by_write_pause(cmd::commands(&self.config), client, argv),
            None => {
                self.writes_paused()
                    && cmd::held_by_write_pause(cmd::commands(&self.config), client, argv)
            }
        }
    }
}
