//! `Node<E>`: the server as a state machine over events.
//!
//! A driver feeds events in (`on_accept`, `on_bytes`, `on_closed`,
//! `on_tick`, `on_disk_done`) and calls `before_sleep` once it has delivered
//! everything that was ready, exactly where Redis's event loop calls
//! `beforeSleep`. The order is the durability contract (DESIGN.md §2):
//! commands execute during the events, their replies wait in each client's
//! output buffer, and only `before_sleep` releases them, after the work that
//! must precede any reply. `next_deadline` says when the node next needs
//! `on_tick`.

use std::io;

use crate::client::{Client, ConnInfo};
use crate::cmd;
use crate::config::Config;
use crate::db::Expiry;
use crate::env::{ConnId, DiskOpId, Env, LogLevel, Trace};
use crate::persist::job::JOB_OP_BIT;
use crate::persist::load::{load_aof, load_dump};
use crate::planted::{self, PlantedBug};
use crate::resp::ParseLimits;
use crate::server::{Server, ShutdownReason};
use crate::shutdown::{ShutdownFlags, ShutdownStart};

/// Incremental rehash steps per database per cron run.
const REHASH_STEPS_PER_CRON: usize = 100;
/// Output buffers larger than this are given back to the allocator once
/// sent.
const OUTPUT_CAPACITY_KEPT_BYTES: usize = 64 * 1024;

/// Why a node could not start, with its environment handed back (the
/// simulator inspects the disk it refused to load).
pub struct StartError<E> {
    pub env: E,
    pub reason: String,
}

impl<E> std::fmt::Display for StartError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

impl<E> std::fmt::Debug for StartError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StartError({:?})", self.reason)
    }
}

/// The server: state plus the environment it runs in.
pub struct Node<E: Env> {
    env: E,
    server: Server,
}

impl<E: Env> Node<E> {
    /// Starts a node the way `redis-server` starts: a new node, then the
    /// dataset loaded from the AOF when `appendonly` is on (which also
    /// opens the AOF for writing). Errors say why the data cannot be
    /// loaded; the caller must not serve clients then.
    pub fn start(env: E, config: Config) -> Result<Self, StartError<E>> {
        let mut node = Node::new(env, config);
        let loaded = if node.server.config.appendonly {
            node.load_and_open_aof()
        } else {
            load_dump(&mut node.server, &mut node.env).map(|report| {
                if let Some(info) = report.and_then(|report| report.repl) {
                    node.server.restore_repl_info(&mut node.env, &info);
                }
            })
        };
        if let Err(reason) = loaded {
            return Err(StartError {
                env: node.env,
                reason,
            });
        }
        node.server.dirty = 0;
        if let Some((host, port)) = node.server.config.repl.replicaof.take() {
            node.server.set_master(&mut node.env, &host, port);
        }
        Ok(node)
    }

    fn load_and_open_aof(&mut self) -> Result<(), String> {
        let server = &mut self.server;
        match load_aof(server, &mut self.env)? {
            Some((manifest, report)) => {
                let sizes = (report.base_bytes, report.bytes);
                let untrusted = report.untrusted.clone();
                server.aof_load = report;
                match untrusted {
                    None => server.aof.open_incr_on_start(
                        &mut self.env,
                        &server.config,
                        manifest,
                        sizes,
                    )?,
                    Some(why) => {
                        self.env.log(
                            LogLevel::Warning,
                            &format!("The loaded AOF files may never become durable ({why}): writing a fresh BASE from memory before accepting writes."),
                        );
                        server.aof.adopt_loaded(&server.config, manifest, sizes);
                        if let Err(error) = server.rewrite_now(&mut self.env) {
                            // Serve what was loaded, refuse writes, and
                            // retry from cron, as after any fsync error.
                            server.aof.fsync_failed(
                                &mut self.env,
                                format!("{why}; writing a fresh BASE failed: {error}"),
                            );
                        }
                    }
                }
            }
            None => {
                self.env.log(
                    LogLevel::Notice,
                    "Creating AOF base file and incr file on server start",
                );
                server.rewrite_now(&mut self.env)?;
            }
        }
        server.aof_on = true;
        server.background.rewrite_base_size = server.aof.current_size;
        Ok(())
    }

    /// A node with an empty dataset that has touched no file.
    pub fn new(mut env: E, config: Config) -> Self {
        let server = Server::new(&mut env, config);
        Node { env, server }
    }

    pub fn env(&self) -> &E {
        &self.env
    }

    pub fn env_mut(&mut self) -> &mut E {
        &mut self.env
    }

    /// Gives the environment back, dropping the node (a crash, as the
    /// simulator sees it).
    pub fn into_env(self) -> E {
        self.env
    }

    pub fn server(&self) -> &Server {
        &self.server
    }

    pub fn config(&self) -> &Config {
        &self.server.config
    }

    /// A new connection. Returns its id; if the node is full the client gets
    /// Redis's error and is closed.
    pub fn on_accept(&mut self, info: ConnInfo) -> ConnId {
        let id = self.server.next_conn_id;
        self.server.next_conn_id += 1;
        self.server.stats.total_connections_received += 1;
        if self.server.clients.len() as u64 >= self.server.config.maxclients {
            self.server.stats.rejected_connections += 1;
            self.env.send(id, b"-ERR max number of clients reached\r\n");
            self.env.close(id);
            return id;
        }
        let now = self.env.monotonic_ms();
        let authenticated = self.server.config.requirepass.is_none();
        let client = Box::new(Client::new(id, info, now, authenticated));
        self.server.clients.insert(id, client);
        self.env.trace(&Trace::Connected { conn: id });
        id
    }

    /// Bytes from a peer: parse and execute every complete request.
    pub fn on_bytes(&mut self, conn: ConnId, bytes: &[u8]) {
        if self.server.link_conn() == Some(conn) && !self.server.clients.contains_key(&conn) {
            // The link to our master, before its stream starts.
            if let Some(rest) = self.server.link_bytes(&mut self.env, conn, bytes) {
                if !rest.is_empty() {
                    self.on_bytes(conn, &rest);
                }
            }
            return;
        }
        let Some(mut client) = self.server.clients.remove(&conn) else {
            return;
        };
        self.server.stats.total_net_input_bytes += bytes.len() as u64;
        client.last_interaction_ms = self.env.monotonic_ms();
        client.query.extend_from_slice(bytes);
        let unparsed = (client.query.len() - client.query_pos) as u64;
        if unparsed > self.server.config.client_query_buffer_limit {
            self.env.log(
                LogLevel::Warning,
                &format!("Closing client that reached max query buffer length: id={conn}"),
            );
            self.close_client(client);
            return;
        }
        self.process_query(&mut client);
        if client.is_replica {
            self.server.release_peer_pending(&mut client);
        }
        if !client.out.is_empty() || client.close_after_reply {
            self.server.queue_write(&mut client);
        }
        self.server.clients.insert(conn, client);
    }

    fn process_query(&mut self, client: &mut Client) {
        while !client.close_after_reply
            && self.server.shutdown.is_none()
            && client.blocked.is_none()
        {
            let limits = ParseLimits {
                bulk_bytes_max: self.server.config.proto_max_bulk_len,
                authenticated: client.authenticated,
            };
            let start = client.query_pos;
            let parsed = match client.held_request.take() {
                Some(argv) => {
                    if planted::active(&self.server.config, PlantedBug::HeldRequestRunsTwice) {
                        let start = client.out.buf.len();
                        let argv = argv.clone();
                        let argv = cmd::process(&mut self.server, client, &mut self.env, argv);
                        client.parser.recycle(argv);
                        client.out.buf.truncate(start);
                    }
                    Ok(Some(argv))
                }
                None => client
                    .parser
                    .next_request(&client.query, &mut client.query_pos, &limits),
            };
            match parsed {
                Ok(None) => {
                    let planted =
                        planted::active(&self.server.config, PlantedBug::ReplicaOffsetSkipsSplit);
                    if client.is_master && !planted {
                        // The parser keeps what it consumed of a command
                        // not yet complete: those bytes count with it.
                        let consumed = client.query[start..client.query_pos].to_vec();
                        client.master_unapplied.extend_from_slice(&consumed);
                    }
                    break;
                }
                Ok(Some(argv)) if argv.is_empty() => {
                    if client.is_master {
                        self.apply_master_bytes(client, start);
                    }
                }
                Ok(Some(argv)) if client.is_master => {
                    // The master's stream sees keys as they are: its DELs
                    // decide when they go. The mode stays for the master's
                    // next command, and is restored before anything else.
                    self.server.set_expiry(Expiry::Off);
                    let argv = cmd::process(&mut self.server, client, &mut self.env, argv);
                    client.parser.recycle(argv);
                    self.apply_master_bytes(client, start);
                    if self.server.blocking.blocked_count() > 0 {
                        self.server.set_expiry(self.server.expiry_mode());
                        self.serve_ready_keys();
                    }
                }
                Ok(Some(argv)) if self.server.holds_request(client, &argv) => {
                    // It runs once the pause ends (or never: the node
                    // exits).
                    client.held_request = Some(argv);
                    break;
                }
                Ok(Some(argv)) => {
                    self.server.set_expiry(self.server.expiry_mode());
                    let argv = cmd::process(&mut self.server, client, &mut self.env, argv);
                    client.parser.recycle(argv);
                    if self.server.blocking.blocked_count() > 0 {
                        self.serve_ready_keys();
                    }
                }
                Err(error) => {
                    client.out.error(&format!("ERR {}", error.0));
                    client.close_after_reply = true;
                }
            }
        }
        self.server.set_expiry(self.server.expiry_mode());
        client.query.drain(..client.query_pos);
        client.query_pos = 0;
    }

    /// The master client ran a command from `start` to its query
    /// position: the stream advances (see `Server::master_applied`), and
    /// its reply goes nowhere.
    fn apply_master_bytes(&mut self, client: &mut Client, start: usize) {
        self.server.master_applied(client, start..client.query_pos);
        client.out.buf.clear();
    }

    /// Clients in WAIT or WAITAOF look at the acknowledgements again.
    fn retry_waiting(&mut self) {
        for conn in self.server.repl.waiting.clone() {
            let Some(mut client) = self.server.clients.remove(&conn) else {
                continue;
            };
            if client.blocked.is_some()
                && cmd::blocked::retry(&mut self.server, &mut client, &mut self.env)
            {
                self.server.repl.waiting.retain(|&waiting| waiting != conn);
                self.server.queue_write(&mut client);
            }
            self.server.clients.insert(conn, client);
        }
    }

    /// Runs again the commands blocked on keys that changed, oldest first,
    /// as Redis does after every command. A served command's propagation
    /// follows the one that made its key ready.
    fn serve_ready_keys(&mut self) {
        loop {
            let mut ready = Vec::new();
            for (index, db) in self.server.keyspace.dbs.iter_mut().enumerate() {
                ready.extend(db.ready_keys.drain(..).map(|key| (index, key)));
            }
            if ready.is_empty() {
                return;
            }
            for (db, key) in ready {
                for conn in self.server.blocking.waiters(db, &key) {
                    let Some(mut client) = self.server.clients.remove(&conn) else {
                        continue;
                    };
                    let ready_before: Vec<usize> = self
                        .server
                        .keyspace
                        .dbs
                        .iter()
                        .map(|db| db.ready_keys.len())
                        .collect();
                    if cmd::blocked::retry(&mut self.server, &mut client, &mut self.env) {
                        self.server.queue_write(&mut client);
                    } else {
                        // It changed nothing: what it looked at is not
                        // news for anyone.
                        for (db, before) in self.server.keyspace.dbs.iter_mut().zip(ready_before) {
                            db.ready_keys.truncate(before);
                        }
                    }
                    self.server.clients.insert(conn, client);
                }
            }
        }
    }

    /// Answers the blocked clients whose timeout has passed.
    fn time_out_blocked_clients(&mut self) {
        let now = self.env.monotonic_ms();
        for conn in self.server.blocking.due(now) {
            let Some(mut client) = self.server.clients.remove(&conn) else {
                continue;
            };
            cmd::blocked::time_out(&mut self.server, &mut client, &mut self.env);
            self.server.queue_write(&mut client);
            self.server.clients.insert(conn, client);
        }
    }

    /// Reads the requests that waited behind a blocked command, for the
    /// clients unblocked since the last call (Redis's
    /// processUnblockedClients). Bounded: each client unblocked once per
    /// blocking command it ran.
    fn resume_unblocked_clients(&mut self) {
        while !self.server.unblocked.is_empty() {
            for conn in std::mem::take(&mut self.server.unblocked) {
                let Some(mut client) = self.server.clients.remove(&conn) else {
                    continue;
                };
                if client.blocked.is_none() {
                    self.process_query(&mut client);
                }
                if !client.out.is_empty() || client.close_after_reply {
                    self.server.queue_write(&mut client);
                }
                self.server.clients.insert(conn, client);
            }
        }
    }

    /// An outgoing connection asked for with `Net::connect` is open.
    pub fn on_connected(&mut self, conn: ConnId) {
        self.server.link_connected(&mut self.env, conn);
    }

    /// The peer closed the connection (or it failed).
    pub fn on_closed(&mut self, conn: ConnId) {
        if self.server.link_conn() == Some(conn) && !self.server.clients.contains_key(&conn) {
            self.server.link_closed(&mut self.env, conn);
            return;
        }
        if let Some(mut client) = self.server.clients.remove(&conn) {
            self.server.forget_client(&mut client, &mut self.env);
            self.env.trace(&Trace::Disconnected { conn });
        }
    }

    /// A background disk operation finished.
    pub fn on_disk_done(&mut self, op: DiskOpId, result: io::Result<()>) {
        let result = match result {
            Err(_) if planted::active(&self.server.config, PlantedBug::FsyncErrorIgnored) => Ok(()),
            other => other,
        };
        if op & JOB_OP_BIT != 0 {
            self.server.background_fsync_done(&mut self.env, op, result);
        } else if !self.server.aof.on_fsync_done(&mut self.env, op, result) {
            self.env.log(
                LogLevel::Warning,
                &format!("Completion of unknown disk operation {op}"),
            );
        }
    }

    /// A PIPESAVE command exited with this code (or could not be waited
    /// for).
    pub fn on_pipe_done(&mut self, pipe: crate::env::PipeId, exit: io::Result<i32>) {
        self.server.pipe_done(&mut self.env, pipe, exit);
    }

    /// Monotonic time at which `on_tick` must run next.
    /// While a background save or rewrite runs, that is now: each
    /// `on_tick` then writes one step of it.
    pub fn next_deadline(&self) -> u64 {
        if self.server.background_wants_slices(&self.env)
            || self.server.repl_wants_ticks(&self.env)
            || self.server.eviction_running
        {
            return 0;
        }
        let fsync_due = self
            .server
            .aof_on
            .then(|| self.server.aof.fsync_due_ms(self.server.config.appendfsync))
            .flatten();
        let mut timers = fsync_due.map_or(self.server.cron_next_ms, |due| {
            due.min(self.server.cron_next_ms)
        });
        if let Some(pause) = self.server.client_pause {
            timers = timers.min(pause.end_ms);
        }
        self.server
            .blocking
            .next_deadline()
            .map_or(timers, |at| at.min(timers))
    }

    /// Periodic work (Redis's serverCron), `hz` times a second: active
    /// expiry, incremental rehashing, client timeouts, statistics.
    pub fn on_tick(&mut self) {
        self.server.background_step(&mut self.env);
        self.server.send_files(&mut self.env);
        self.time_out_blocked_clients();
        self.server.shutdown_wait_check(&mut self.env);
        self.server.pause_cron(self.env.monotonic_ms());
        if self.server.eviction_running {
            crate::evict::perform_evictions(&mut self.server, &mut self.env);
        }
        let now = self.env.monotonic_ms();
        if now < self.server.cron_next_ms {
            return;
        }
        self.server.cron_next_ms = now + 1000 / u64::from(self.server.config.hz.max(1));
        self.server.cron_loops += 1;
        self.server.stats.sample_ops(now);
        let wall = self.env.wall_ms();
        let env = &mut self.env;
        let active_expire = self.server.active_expire_enabled && !self.server.clients_paused();
        for db in &mut self.server.keyspace.dbs {
            if active_expire {
                db.active_expire_cycle(wall, &mut || env.random_u64());
            }
            db.rehash_steps(REHASH_STEPS_PER_CRON);
        }
        self.server.after_command(None, &mut self.env);
        self.server.commit_propagation(None);
        self.server.aof_cron(&mut self.env, now);
        self.server.persistence_cron(&mut self.env);
        if now >= self.server.repl.last_cron_ms + 1000 {
            self.server.replica_cron(&mut self.env);
        }
        self.server.master_cron(&mut self.env);
        self.close_timed_out_clients(now);
    }

    fn close_timed_out_clients(&mut self, now_ms: u64) {
        let timeout_ms = self.server.config.timeout_s * 1000;
        if timeout_ms == 0 {
            return;
        }
        let idle: Vec<ConnId> = self
            .server
            .clients
            .values()
            .filter(|c| {
                c.subscription_count() == 0
                    && !c.is_master
                    && !c.is_replica
                    && now_ms - c.last_interaction_ms > timeout_ms
            })
            .map(|c| c.id)
            .collect();
        for conn in idle {
            if let Some(client) = self.server.clients.remove(&conn) {
                self.env.log(LogLevel::Verbose, "Closing idle client");
                self.close_client(client);
            }
        }
    }

    /// Work that must happen before any reply leaves (writing the AOF, and
    /// under `always` its fsync), then the replies whose writes are covered.
    /// Replies that depend on AOF bytes not yet written (or fsynced under
    /// `always`) stay queued until a later call.
    pub fn before_sleep(&mut self) {
        self.server.shutdown_wait_check(&mut self.env);
        self.resume_unblocked_clients();
        self.server.request_acks();
        let barrier = if self.server.aof_on {
            self.server.aof.flush(&mut self.env, &self.server.config);
            self.server.update_fsynced_offset();
            self.server.ack_if_fsynced_moved(&mut self.env);
            let config = &self.server.config;
            if planted::active(config, PlantedBug::ReplyBeforeFsync) {
                self.server.aof.written
            } else {
                self.server.aof.barrier(config.appendfsync)
            }
        } else {
            u64::MAX
        };
        if !self.server.repl.waiting.is_empty() {
            // WAITAOF's local copy counts once the AOF is fsynced.
            self.retry_waiting();
        }
        let pending = std::mem::take(&mut self.server.pending_writes);
        for conn in pending {
            let Some(mut client) = self.server.clients.remove(&conn) else {
                continue;
            };
            if client.reply_offset > barrier {
                self.server.pending_writes.push(conn);
                self.server.clients.insert(conn, client);
                continue;
            }
            client.pending_write = false;
            if !client.out.buf.is_empty() {
                self.env.send(conn, &client.out.buf);
                self.server.stats.total_net_output_bytes += client.out.buf.len() as u64;
                client.out.buf.clear();
                if client.out.buf.capacity() > OUTPUT_CAPACITY_KEPT_BYTES {
                    client.out.buf.shrink_to(OUTPUT_CAPACITY_KEPT_BYTES);
                }
            }
            if client.close_after_reply || self.over_output_limit(&mut client) {
                self.close_client(client);
            } else {
                self.server.clients.insert(conn, client);
            }
        }
    }

    /// Whether the client's unsent output broke its class's
    /// `client-output-buffer-limit`.
    fn over_output_limit(&mut self, client: &mut Client) -> bool {
        let limits = &self.server.config.client_output_buffer_limit;
        let limit = if client.is_master {
            return false;
        } else if client.is_replica {
            limits.replica
        } else if client.subscription_count() > 0 {
            limits.pubsub
        } else {
            limits.normal
        };
        let backlog = self.env.backlog_bytes(client.id);
        let now = self.env.monotonic_ms();
        let hard = limit.hard_bytes > 0 && backlog > limit.hard_bytes;
        let mut soft = false;
        if limit.soft_bytes > 0 && backlog > limit.soft_bytes {
            let since = *client.soft_limit_since_ms.get_or_insert(now);
            soft = now - since > limit.soft_seconds * 1000;
        } else {
            client.soft_limit_since_ms = None;
        }
        if hard || soft {
            let message = format!(
                "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits.",
                client.id, client.info.peer_addr
            );
            self.env.log(LogLevel::Warning, &message);
        }
        hard || soft
    }

    /// Closes a client core decided to drop.
    fn close_client(&mut self, mut client: Box<Client>) {
        self.server.forget_client(&mut client, &mut self.env);
        self.env.close(client.id);
        self.env.trace(&Trace::Disconnected { conn: client.id });
    }

    /// Asks the node to shut down (SIGTERM, SIGINT): at once, or once its
    /// replicas caught up (see `crate::shutdown`); a shutdown under way
    /// goes on as it was. A refusal (the data could not be made safe)
    /// leaves the node serving.
    pub fn request_shutdown(&mut self, reason: ShutdownReason) -> ShutdownStart {
        let start = self
            .server
            .begin_shutdown(&mut self.env, reason, ShutdownFlags::default());
        if start == ShutdownStart::Refused && reason == ShutdownReason::Signal {
            self.env.log(LogLevel::Warning, "SIGTERM received but errors trying to shut down the server, check the logs for more information");
        }
        start
    }

    /// Whether the driver should finish and exit.
    pub fn shutdown_requested(&self) -> bool {
        self.server.shutdown.is_some()
    }

    /// The last work before exit, once the shutdown made the data safe
    /// (`request_shutdown`, SHUTDOWN): release pending replies and close
    /// every client.
    pub fn finish_shutdown(&mut self) {
        self.before_sleep();
        let conns: Vec<ConnId> = self.server.clients.keys().copied().collect();
        for conn in conns {
            if let Some(client) = self.server.clients.remove(&conn) {
                self.close_client(client);
            }
        }
        self.env
            .log(LogLevel::Warning, "Redis is now ready to exit, bye bye...");
    }
}
