//! A script that runs past `busy-reply-threshold`: the BUSY state.
//!
//! Every [`CHECK_INSTRUCTIONS`] Lua instructions a hook looks at the
//! script's running time. Once it passes the threshold the script is busy:
//! Redis's warning is logged, and from then on each check reads what the
//! other clients sent (through `Net::busy_poll`) and answers it at once,
//! as Redis's `processEventsWhileBlocked` does:
//!
//! * SCRIPT KILL (FUNCTION KILL for a function) stops a script that has
//!   not written; one that wrote, or one its master sent, is UNKILLABLE;
//! * SHUTDOWN NOSAVE stops the script and the server, discarding what the
//!   script did;
//! * FUNCTION STATS names the running script and its command;
//! * MULTI and DISCARD run (Redis flags them `allow-busy`); EXEC ends its
//!   transaction with EXECABORT;
//! * anything else gets `-BUSY`, is not run, and dooms the transaction
//!   the client has open.
//!
//! Replicas and the master link are not read meanwhile, and neither is the
//! script's own client: their bytes wait until the script returns.

use super::Run;
use crate::client::{Client, Transaction};
use crate::env::{ConnId, LogLevel};
use crate::resp::ParseLimits;
use crate::server::ShutdownReason;
use crate::shutdown::ShutdownFlags;

/// Lua instructions between two looks at the clock (Redis's hook period).
pub const CHECK_INSTRUCTIONS: u32 = 100_000;

/// Why a busy script was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Killed,
    Shutdown,
}

impl Stop {
    /// The error the stopped script (or function) answers its caller.
    pub fn message(self, function: bool) -> &'static str {
        match (self, function) {
            (Stop::Killed, false) => "ERR Script killed by user with SCRIPT KILL...",
            (Stop::Killed, true) => "ERR Script killed by user with FUNCTION KILL...",
            (Stop::Shutdown, _) => "ERR Script killed by a SHUTDOWN NOSAVE",
        }
    }
}

const ERR_BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const ERR_BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

impl Run<'_, '_> {
    /// The hook's look: `Some(error)` stops the script.
    pub(super) fn busy_check(&mut self) -> Option<String> {
        if self.stop.is_none() {
            let ran_ms = self.ctx.env.monotonic_ms().saturating_sub(self.started_ms);
            if ran_ms < self.busy_after_ms {
                return None;
            }
            if !self.busy {
                self.busy = true;
                let command = if self.is_function {
                    "FUNCTION KILL"
                } else {
                    "SCRIPT KILL"
                };
                self.ctx.env.log(
                    LogLevel::Warning,
                    &format!(
                        "Slow script detected: still in execution after {ran_ms} milliseconds. You can try killing the script using the {command} command. Script name is: {}.",
                        self.name
                    ),
                );
            }
            self.serve_clients();
        }
        self.stop
            .map(|stop| stop.message(self.is_function).to_string())
    }

    /// Reads and answers what the other clients sent.
    fn serve_clients(&mut self) {
        let conns: Vec<ConnId> = self
            .ctx
            .server
            .clients
            .values()
            .filter(|client| !client.is_replica && !client.is_master)
            .map(|client| client.id)
            .collect();
        if conns.is_empty() {
            return;
        }
        for (conn, bytes) in self.ctx.env.busy_poll(&conns) {
            let Some(mut client) = self.ctx.server.clients.remove(&conn) else {
                continue;
            };
            client.query.extend_from_slice(&bytes);
            self.answer(&mut client);
            self.ctx.server.clients.insert(conn, client);
        }
    }

    /// Answers every complete request in `client`'s query.
    fn answer(&mut self, client: &mut Client) {
        let held_before = !client.out.is_empty() || client.pending_write;
        loop {
            let limits = ParseLimits {
                bulk_bytes_max: self.ctx.server.config.proto_max_bulk_len,
                authenticated: client.authenticated,
            };
            match client
                .parser
                .next_request(&client.query, &mut client.query_pos, &limits)
            {
                Ok(None) => break,
                Ok(Some(argv)) if argv.is_empty() => {}
                Ok(Some(argv)) => {
                    self.answer_request(client, &argv);
                    client.parser.recycle(argv);
                }
                Err(error) => {
                    client.out.error(&format!("ERR {}", error.0));
                    client.close_after_reply = true;
                    break;
                }
            }
        }
        client.query.drain(..client.query_pos);
        client.query_pos = 0;
        if held_before || client.close_after_reply {
            // Behind replies not released yet: in their order, later.
            self.ctx.server.queue_write(client);
        } else if !client.out.is_empty() {
            self.ctx.env.send(client.id, &client.out.buf);
            client.out.buf.clear();
        }
    }

    fn answer_request(&mut self, client: &mut Client, argv: &[Vec<u8>]) {
        let word = |at: usize| argv.get(at).map(|w| w.to_ascii_uppercase());
        let (first, second) = (word(0), word(1));
        match (first.as_deref(), second.as_deref()) {
            (Some(b"SCRIPT"), Some(b"KILL")) if argv.len() == 2 => self.kill(client, false),
            (Some(b"FUNCTION"), Some(b"KILL")) if argv.len() == 2 => self.kill(client, true),
            (Some(b"FUNCTION"), Some(b"STATS")) if argv.len() == 2 => self.stats(client),
            (Some(b"SHUTDOWN"), _)
                if argv[1..].iter().any(|w| w.eq_ignore_ascii_case(b"NOSAVE")) =>
            {
                self.shutdown_now();
            }
            // Allowed while busy (`allow-busy`), and touching nothing the
            // script could see: a transaction opens or is dropped.
            (Some(b"MULTI"), None) if client.multi.is_none() => {
                client.multi = Some(Transaction::default());
                client.out.ok();
            }
            (Some(b"MULTI"), None) => client.out.error("ERR MULTI calls can not be nested"),
            (Some(b"DISCARD"), None) if client.multi.take().is_some() => {
                self.ctx.server.unwatch_all(client);
                client.out.ok();
            }
            (Some(b"DISCARD"), None) => client.out.error("ERR DISCARD without MULTI"),
            (Some(b"EXEC"), _) if client.multi.is_some() => {
                crate::cmd::abort_exec(self.ctx.server, client, self.busy_error());
            }
            _ => {
                // Refused: a transaction it would have joined is doomed.
                if let Some(multi) = client.multi.as_mut() {
                    multi.aborted = true;
                }
                client.out.error(self.busy_error());
            }
        }
    }

    fn busy_error(&self) -> &'static str {
        if self.is_function {
            ERR_BUSY_FUNCTION
        } else {
            ERR_BUSY_EVAL
        }
    }

    /// FUNCTION STATS: the running script, and what is loaded.
    fn stats(&mut self, client: &mut Client) {
        let ran_ms = self.ctx.env.monotonic_ms().saturating_sub(self.started_ms);
        let libraries = self.ctx.server.keyspace.functions.len();
        let out = &mut client.out;
        out.map(2);
        out.bulk(b"running_script");
        out.map(3);
        out.bulk(b"name");
        out.bulk(self.name.as_bytes());
        out.bulk(b"command");
        out.array(self.ctx.argv.len());
        for word in self.ctx.argv {
            out.bulk(word);
        }
        out.bulk(b"duration_ms");
        out.int(ran_ms as i64);
        out.bulk(b"engines");
        out.map(1);
        out.bulk(b"LUA");
        out.map(2);
        out.bulk(b"libraries_count");
        out.int(libraries as i64);
        out.bulk(b"functions_count");
        out.int(self.limits.functions_loaded as i64);
    }

    /// SCRIPT KILL or FUNCTION KILL (`function`).
    fn kill(&mut self, client: &mut Client, function: bool) {
        if self.limits.caller_is_master {
            client.out.error("UNKILLABLE The busy script was sent by a master instance in the context of replication and cannot be killed.");
        } else if self.wrote {
            client.out.error("UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.");
        } else if function != self.is_function {
            client.out.error(if self.is_function {
                ERR_BUSY_FUNCTION
            } else {
                ERR_BUSY_EVAL
            });
        } else {
            self.stop = Some(Stop::Killed);
            let command = if function {
                "FUNCTION KILL"
            } else {
                "SCRIPT KILL"
            };
            self.ctx.env.log(
                LogLevel::Warning,
                &format!("Lua script killed by user with {command}."),
            );
            client.out.ok();
        }
    }

    /// SHUTDOWN NOSAVE: what the script did so far is discarded, and the
    /// server exits once the script has stopped.
    fn shutdown_now(&mut self) {
        self.stop = Some(Stop::Shutdown);
        self.ctx.server.propagated.clear();
        let flags = ShutdownFlags {
            save: Some(false),
            now: true,
            force: true,
        };
        self.ctx
            .server
            .begin_shutdown(self.ctx.env, ShutdownReason::Command, flags);
    }
}
