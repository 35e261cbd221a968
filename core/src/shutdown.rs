//! Shutting down as Redis 7 does. With replicas attached, SHUTDOWN and
//! SIGTERM first pause writes and wait, up to `shutdown-timeout` seconds,
//! until every replica has acknowledged the master's offset, so that a
//! replica promoted afterwards holds every write the master acknowledged.
//! Then come the final AOF fsync and save, and the exit. `SHUTDOWN NOW`
//! skips the wait and `SHUTDOWN ABORT` cancels it. A final save that fails
//! cancels the shutdown too, unless `FORCE` was given: the SHUTDOWN clients
//! that waited get an error, the paused writes run, and the node serves on.

use crate::cmd;
use crate::env::{ConnId, Env, LogLevel};
use crate::planted::{self, PlantedBug};
use crate::server::{Server, ShutdownReason};

/// The reply to the SHUTDOWN clients of a shutdown that could not finish.
pub const ERR_SHUTDOWN_FAILED: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// What SHUTDOWN (or a signal) asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShutdownFlags {
    /// `SAVE` (`Some(true)`), `NOSAVE` (`Some(false)`), or save when save
    /// points exist (`None`).
    pub save: Option<bool>,
    /// `NOW`: do not wait for lagging replicas.
    pub now: bool,
    /// `FORCE`: exit even if the data could not be made safe.
    pub force: bool,
}

/// A shutdown waiting for its replicas.
#[derive(Debug)]
pub struct ShutdownWait {
    pub reason: ShutdownReason,
    pub flags: ShutdownFlags,
    /// Monotonic ms at which it goes on without the lagging ones.
    pub deadline_ms: u64,
    /// The clients whose SHUTDOWN waits with it; they get no reply unless
    /// it fails.
    pub clients: Vec<ConnId>,
}

/// Where a shutdown stands once asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownStart {
    /// The node is ready to exit (`Server::shutdown` is set).
    Exiting,
    /// It waits for lagging replicas (`Server::shutdown_wait`).
    Waiting,
    /// The data could not be made safe: the node serves on.
    Refused,
}

impl Server {
    /// Asks for a shutdown: waits for lagging replicas when it should, or
    /// finishes at once. A shutdown already waiting stays as it is.
    pub fn begin_shutdown(
        &mut self,
        env: &mut dyn Env,
        reason: ShutdownReason,
        mut flags: ShutdownFlags,
    ) -> ShutdownStart {
        if self.shutdown.is_some() {
            return ShutdownStart::Exiting;
        }
        if self.shutdown_wait.is_some() {
            return ShutdownStart::Waiting;
        }
        if self.loading {
            // The dataset in memory is incomplete: never save it.
            flags.save = Some(false);
        }
        env.log(LogLevel::Warning, "User requested shutdown...");
        if !flags.now && self.config.shutdown_timeout_s > 0 && !self.replicas_in_sync() {
            self.shutdown_wait = Some(ShutdownWait {
                reason,
                flags,
                deadline_ms: env.monotonic_ms() + self.config.shutdown_timeout_s * 1000,
                clients: Vec::new(),
            });
            self.repl.get_ack_wanted = true;
            env.log(
                LogLevel::Notice,
                "Waiting for replicas before shutting down.",
            );
            return ShutdownStart::Waiting;
        }
        self.finish_shutdown_as(env, reason, flags)
    }

    /// Every replica has acknowledged the master's offset.
    fn replicas_in_sync(&self) -> bool {
        if planted::active(&self.config, PlantedBug::ShutdownIgnoresLaggingReplicas) {
            return true;
        }
        let offset = self.repl.offset;
        self.repl
            .peers
            .values()
            .all(|peer| peer.ack_offset == offset)
    }

    /// A waiting shutdown goes on once its replicas caught up or its time
    /// is up; a refusal answers the SHUTDOWN clients and lets the held
    /// writes run.
    pub fn shutdown_wait_check(&mut self, env: &mut dyn Env) {
        let Some(wait) = self.shutdown_wait.as_ref() else {
            return;
        };
        if env.monotonic_ms() < wait.deadline_ms && !self.replicas_in_sync() {
            return;
        }
        let Some(wait) = self.shutdown_wait.take() else {
            return;
        };
        if self.finish_shutdown_as(env, wait.reason, wait.flags) == ShutdownStart::Refused {
            self.answer_shutdown_clients(env, &wait.clients, ERR_SHUTDOWN_FAILED);
            self.resume_held_writes();
        }
    }

    /// `SHUTDOWN ABORT`: cancels a waiting shutdown. Returns whether one
    /// was waiting.
    pub fn abort_shutdown(&mut self, env: &mut dyn Env) -> bool {
        let Some(wait) = self.shutdown_wait.take() else {
            return false;
        };
        self.answer_shutdown_clients(env, &wait.clients, ERR_SHUTDOWN_FAILED);
        self.resume_held_writes();
        env.log(LogLevel::Notice, "Shutdown manually aborted.");
        true
    }

    /// The clients whose writes waited run them, then read on.
    pub(crate) fn resume_held_writes(&mut self) {
        let held = self
            .clients
            .values()
            .filter(|client| client.held_request.is_some())
            .map(|client| client.id);
        self.unblocked.extend(held);
    }

    /// Writes wait while a shutdown waits for its replicas.
    pub fn writes_paused(&self) -> bool {
        self.shutdown_wait.is_some()
    }

    /// The replicas' state in the log, then the persistence work before
    /// exit (see `prepare_shutdown`).
    fn finish_shutdown_as(
        &mut self,
        env: &mut dyn Env,
        reason: ShutdownReason,
        flags: ShutdownFlags,
    ) -> ShutdownStart {
        self.log_replicas_at_shutdown(env);
        let prepared = self.prepare_shutdown(env, flags.save);
        if prepared.is_ok() || flags.force {
            self.shutdown = Some(reason);
            return ShutdownStart::Exiting;
        }
        env.log(
            LogLevel::Warning,
            "Errors trying to shut down the server. Check the logs for more information.",
        );
        ShutdownStart::Refused
    }

    fn log_replicas_at_shutdown(&self, env: &mut dyn Env) {
        let offset = self.repl.offset;
        let now = env.monotonic_ms();
        let mut lagging = 0;
        for (conn, peer) in &self.repl.peers {
            if peer.ack_offset == offset {
                continue;
            }
            lagging += 1;
            let ip = peer
                .announced_ip
                .clone()
                .or_else(|| {
                    let addr = &self.clients.get(conn)?.info.peer_addr;
                    Some(
                        addr.rsplit_once(':')
                            .map_or(addr.as_str(), |(ip, _)| ip)
                            .to_string(),
                    )
                })
                .unwrap_or_default();
            let lag_s = match peer.state {
                crate::repl::PeerState::Online => now.saturating_sub(peer.ack_ms) / 1000,
                _ => 0,
            };
            env.log(
                LogLevel::Warning,
                &format!(
                    "Lagging replica {ip}:{} reported offset {} behind master, lag={lag_s}, state={}.",
                    peer.listening_port,
                    offset.saturating_sub(peer.ack_offset),
                    peer.state.info_name()
                ),
            );
        }
        let total = self.repl.peers.len();
        if total > 0 {
            env.log(
                LogLevel::Notice,
                &format!(
                    "{} of {total} replicas are in sync when shutting down.",
                    total - lagging
                ),
            );
        }
    }

    /// Answers each waiting SHUTDOWN client in `conns` with `error`.
    fn answer_shutdown_clients(&mut self, env: &mut dyn Env, conns: &[ConnId], error: &str) {
        for &conn in conns {
            let Some(mut client) = self.clients.remove(&conn) else {
                continue;
            };
            cmd::blocked::answer(self, &mut client, env, Some(error));
            self.queue_write(&mut client);
            self.clients.insert(conn, client);
        }
    }
}
