//! The master side: replicas attach with PSYNC (or the old SYNC), and get
//! either the backlog's tail (`+CONTINUE`) or a full sync
//! (`+FULLRESYNC replid offset`, the dataset, then the stream from that
//! offset on).
//!
//! A full sync's dataset comes from the same forkless snapshot as BGSAVE.
//! Diskless (`repl-diskless-sync yes`, Redis 7's default), each step of the
//! snapshot goes straight to the waiting replicas in the EOF-marker format
//! (`$EOF:<40 bytes>\r\n` … `<40 bytes>`). Disk-based, a BGSAVE writes the
//! dump file, which is then sent with its length (`$<len>\r\n` …). Either
//! way the stream produced meanwhile waits in the replica's `pending`
//! buffer and follows the dataset, so the replica sees every write exactly
//! once.

use super::backlog::Backlog;
use super::{Peer, PeerState};
use crate::client::Client;
use crate::env::{ConnId, Env, LogLevel, OpenMode};
use crate::persist::aof::{join, rdb_aux};
use crate::persist::aof_format::encode_command;
use crate::persist::background::JobKind;
use crate::persist::job::{Encoding, Job};
use crate::persist::load::ReplInfo;
use crate::server::Server;

/// Bytes of unsent output to a replica above which its dataset is not
/// produced or read further until it drains.
const SYNC_OUTPUT_WINDOW_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes of the dump file sent per replica per tick.
const FILE_CHUNK_BYTES: usize = 256 * 1024;

/// What a PSYNC or SYNC asked for.
pub struct SyncRequest<'a> {
    /// `None` for the old SYNC, which gets no `+FULLRESYNC` line.
    pub psync: Option<(&'a [u8], i64)>,
}

impl Server {
    /// PSYNC / SYNC from `client`: a partial resync from the backlog when
    /// the history and offset allow, else a full sync. Replies are sent
    /// directly, ahead of anything else queued after them.
    pub fn replica_sync(
        &mut self,
        env: &mut dyn Env,
        client: &mut Client,
        request: SyncRequest<'_>,
    ) {
        if client.is_replica {
            return;
        }
        // Replies to the handshake go out before the sync's first byte.
        if !client.out.buf.is_empty() {
            env.send(client.id, &client.out.buf);
            client.out.buf.clear();
        }
        let addr = client.info.peer_addr.clone();
        if let Some((replid, offset)) = request.psync {
            if self.try_partial_resync(env, client, replid, offset) {
                return;
            }
            if replid != b"?" {
                self.repl.stats.sync_partial_err += 1;
            }
            env.log(
                LogLevel::Notice,
                &format!("Full resync requested by replica {addr}"),
            );
        } else {
            env.log(
                LogLevel::Notice,
                &format!("Replica {addr} asks for synchronization"),
            );
        }
        self.repl.stats.sync_full += 1;
        if self.repl.backlog.is_none() {
            // The first replica of a master without history: a new one.
            self.repl.replid = super::hex_id(env);
            self.clear_replid2();
            self.create_backlog();
            env.log(
                LogLevel::Notice,
                &format!(
                    "Replication backlog created, my new replication IDs are '{}' and '{}'",
                    self.repl.replid, self.repl.replid2
                ),
            );
        }
        client.is_replica = true;
        let now = env.monotonic_ms();
        let mut peer = Peer::new(client, now);
        peer.pre_psync = request.psync.is_none();
        self.repl.peers.insert(client.id, peer);
        self.start_pending_sync(env);
    }

    /// `+CONTINUE` and the backlog's tail, if `replid`'s history holds
    /// `offset` (the next byte the replica wants).
    fn try_partial_resync(
        &mut self,
        env: &mut dyn Env,
        client: &mut Client,
        replid: &[u8],
        offset: i64,
    ) -> bool {
        let addr = client.info.peer_addr.clone();
        let ours = replid == self.repl.replid.as_bytes();
        let before_promotion =
            replid == self.repl.replid2.as_bytes() && offset <= self.repl.second_offset;
        if !ours && !before_promotion {
            if replid != b"?" {
                let reason = if replid == self.repl.replid2.as_bytes() {
                    format!(
                        "Replication ID matches our previous one, but the requested offset ({offset}) is beyond the point where our history diverged ({})",
                        self.repl.second_offset
                    )
                } else {
                    format!(
                        "Replication ID mismatch (Replica asked for '{}', my replication IDs are '{}' and '{}')",
                        String::from_utf8_lossy(replid),
                        self.repl.replid,
                        self.repl.replid2
                    )
                };
                env.log(
                    LogLevel::Notice,
                    &format!("Partial resynchronization not accepted: {reason}"),
                );
            }
            return false;
        }
        let tail = match (&self.repl.backlog, u64::try_from(offset)) {
            (Some(backlog), Ok(offset)) => backlog.since(offset),
            _ => None,
        };
        let Some(tail) = tail else {
            env.log(
                LogLevel::Notice,
                &format!("Unable to partial resync with replica {addr} for lack of backlog (Replica request was: {offset})."),
            );
            return false;
        };
        // Through the client's output, behind the AOF barrier like the
        // rest of the stream: the tail may hold writes not yet fsynced.
        let reply = format!("+CONTINUE {}\r\n", self.repl.replid);
        client.out.buf.extend_from_slice(reply.as_bytes());
        client.out.buf.extend_from_slice(&tail);
        if self.aof_on {
            client.reply_offset = client.reply_offset.max(self.aof.appended);
        }
        client.is_replica = true;
        let now = env.monotonic_ms();
        let mut peer = Peer::new(client, now);
        peer.state = PeerState::Online;
        peer.ack_offset = offset.saturating_sub(1) as u64;
        self.repl.peers.insert(client.id, peer);
        self.repl.stats.sync_partial_ok += 1;
        env.log(
            LogLevel::Notice,
            &format!(
                "Partial resynchronization request from {addr} accepted. Sending {} bytes of backlog starting from offset {offset}.",
                tail.len()
            ),
        );
        true
    }

    pub(crate) fn clear_replid2(&mut self) {
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
    }

    fn create_backlog(&mut self) {
        let backlog = Backlog::new(self.config.repl.backlog_size, self.repl.offset);
        self.repl.backlog = Some(backlog);
    }

    /// Starts the snapshot for replicas waiting for a full sync, when no
    /// other job runs and, diskless, once `repl-diskless-sync-delay` has
    /// passed for them (or `repl-diskless-sync-max-replicas` are waiting).
    pub fn start_pending_sync(&mut self, env: &mut dyn Env) {
        let now = env.monotonic_ms();
        let waiting: Vec<(ConnId, u64, bool)> = self
            .repl
            .peers
            .iter()
            .filter_map(|(&conn, peer)| match peer.state {
                PeerState::WaitStart { since_ms } => Some((conn, since_ms, peer.capa_eof)),
                _ => None,
            })
            .collect();
        let dumps_waiting =
            self.repl.dumps.values().any(|dump| !dump.started) || self.pipesave_waiting();
        if (waiting.is_empty() && !dumps_waiting)
            || self.background.running().is_some()
            || self.in_exec
        {
            return;
        }
        let diskless = self.config.repl.diskless_sync && waiting.iter().all(|w| w.2);
        if waiting.is_empty() {
            // DUMPSAVE alone: no delay, no replication history.
            self.start_dump_snapshot(env, now);
            return;
        }
        if diskless {
            let longest = waiting.iter().map(|w| now - w.1).max().unwrap_or(0);
            let max = self.config.repl.diskless_sync_max_replicas;
            let enough = max > 0 && waiting.len() as u64 >= max;
            if longest < self.config.repl.diskless_sync_delay_s * 1000 && !enough {
                return;
            }
        }
        // The dataset is taken now, at this offset; the stream after it
        // starts with a SELECT.
        self.repl.selected_db = None;
        let offset = self.repl.offset;
        let target = if diskless { "replicas sockets" } else { "disk" };
        env.log(
            LogLevel::Notice,
            &format!("Starting BGSAVE for SYNC with target: {target}"),
        );
        let encoding = Encoding::Rdb {
            compress: self.config.rdbcompression,
            checksum: self.config.rdbchecksum,
            aux: self.dump_aux(env),
        };
        let preamble = if diskless {
            let mark = super::hex_id(env).into_bytes();
            let mut preamble = b"$EOF:".to_vec();
            preamble.extend_from_slice(&mark);
            preamble.extend_from_slice(b"\r\n");
            let job = Job::start_in_memory(&mut self.keyspace, encoding);
            self.background.job = Some((JobKind::Sync, job, now));
            self.repl.eof_mark = Some(mark);
            for dump in self.repl.dumps.values_mut() {
                dump.started = true;
            }
            self.pipesave_attach(env);
            Some(preamble)
        } else {
            if let Err(error) = self.start_bgsave_with(env, encoding) {
                env.log(
                    LogLevel::Warning,
                    &format!("BGSAVE for replication failed: {error}"),
                );
                for (conn, _, _) in waiting {
                    self.drop_peer(env, conn);
                }
                return;
            }
            self.background.save_for_sync = true;
            None
        };
        for (conn, _, _) in waiting {
            if let Some(client) = self.clients.get_mut(&conn) {
                if !client.out.buf.is_empty() {
                    env.send(conn, &client.out.buf);
                    client.out.buf.clear();
                }
            }
            let Some(peer) = self.repl.peers.get_mut(&conn) else {
                continue;
            };
            if !peer.pre_psync {
                let line = format!("+FULLRESYNC {} {offset}\r\n", self.repl.replid);
                env.send(conn, line.as_bytes());
            }
            if let Some(preamble) = &preamble {
                env.send(conn, preamble);
            }
            peer.state = PeerState::WaitSnapshot;
        }
    }

    /// Starts an in-memory snapshot for DUMPSAVE clients only.
    fn start_dump_snapshot(&mut self, env: &mut dyn Env, now: u64) {
        let encoding = Encoding::Rdb {
            compress: self.config.rdbcompression,
            checksum: self.config.rdbchecksum,
            aux: self.dump_aux(env),
        };
        let job = Job::start_in_memory(&mut self.keyspace, encoding);
        self.background.job = Some((JobKind::Sync, job, now));
        self.repl.eof_mark = None;
        for dump in self.repl.dumps.values_mut() {
            dump.started = true;
        }
        self.pipesave_attach(env);
        env.log(
            LogLevel::Notice,
            "Starting a point-in-time snapshot for DUMPSAVE or PIPESAVE",
        );
    }

    /// A dump's AUX fields: Redis's, plus the replication history the
    /// dataset is at (`repl-stream-db`, `repl-id`, `repl-offset`) when
    /// there is one, so a replica restarted from it can continue with its
    /// master partially.
    pub fn dump_aux(&self, env: &mut dyn Env) -> Vec<(String, Vec<u8>)> {
        let mut aux = rdb_aux(env, false, self.keyspace.dataset_bytes());
        let stream_db = match &self.repl.link {
            Some(link) => link
                .conn
                .and_then(|conn| self.clients.get(&conn))
                .filter(|master| master.is_master)
                .map(|master| master.db),
            None => self
                .repl
                .backlog
                .as_ref()
                .map(|_| self.repl.selected_db.unwrap_or(0)),
        };
        if let Some(db) = stream_db {
            let at = aux.len() - 1;
            aux.splice(
                at..at,
                [
                    ("repl-stream-db".to_string(), db.to_string().into_bytes()),
                    ("repl-id".to_string(), self.repl.replid.clone().into_bytes()),
                    (
                        "repl-offset".to_string(),
                        self.repl.offset.to_string().into_bytes(),
                    ),
                ],
            );
        }
        aux
    }

    /// A replica restarted from a dump that names its history takes it
    /// up again: its next PSYNC asks to continue from there.
    pub fn restore_repl_info(&mut self, env: &mut dyn Env, info: &ReplInfo) {
        if self.config.repl.replicaof.is_none() {
            return;
        }
        self.repl.replid = info.replid.clone();
        self.repl.offset = info.offset;
        self.repl.selected_db = Some(info.stream_db);
        self.repl.backlog = Some(Backlog::new(self.config.repl.backlog_size, info.offset));
        self.repl.fsynced_offset = info.offset;
        env.log(
            LogLevel::Notice,
            &format!(
                "The dump names replication ID {} at offset {}: this replica will try to continue from there",
                info.replid, info.offset
            ),
        );
    }

    /// A step of a diskless sync's snapshot: to every replica it is for,
    /// and to the DUMPSAVE clients that wait for it.
    pub fn sync_output(&mut self, env: &mut dyn Env, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        for dump in self.repl.dumps.values_mut() {
            if dump.started && dump.outcome.is_none() {
                dump.bytes.extend_from_slice(bytes);
            }
        }
        self.pipesave_output(env, bytes);
        for (&conn, peer) in &self.repl.peers {
            if peer.state == PeerState::WaitSnapshot {
                env.send(conn, bytes);
            }
        }
    }

    /// Whether the running diskless sync should wait for its replicas to
    /// take what was sent.
    pub fn sync_throttled(&self, env: &dyn Env) -> bool {
        self.pipesave_throttled(env)
            || self.repl.peers.iter().any(|(&conn, peer)| {
                peer.state == PeerState::WaitSnapshot
                    && env.backlog_bytes(conn) > SYNC_OUTPUT_WINDOW_BYTES
            })
    }

    /// The diskless snapshot is complete (`ok`) or failed: the end mark
    /// and the stream follow, or the replicas are dropped.
    pub fn diskless_sync_done(&mut self, env: &mut dyn Env, result: Result<(), String>) {
        let mark = self.repl.eof_mark.take().unwrap_or_default();
        self.pipesave_snapshot_done(env, &result);
        for dump in self.repl.dumps.values_mut() {
            if dump.started && dump.outcome.is_none() {
                dump.outcome = Some(result.clone());
            }
        }
        let conns = self.peers_waiting_for_snapshot();
        for conn in conns {
            match &result {
                Ok(()) => {
                    env.send(conn, &mark);
                    if let Some(peer) = self.repl.peers.get_mut(&conn) {
                        peer.await_ack = !peer.pre_psync;
                    }
                    self.peer_online(env, conn);
                }
                Err(error) => {
                    env.log(
                        LogLevel::Warning,
                        &format!("Diskless rdb transfer failed: {error}"),
                    );
                    self.drop_peer(env, conn);
                }
            }
        }
    }

    /// The replicas whose dataset the running snapshot is.
    fn peers_waiting_for_snapshot(&self) -> Vec<ConnId> {
        self.repl
            .peers
            .iter()
            .filter(|(_, peer)| peer.state == PeerState::WaitSnapshot)
            .map(|(&conn, _)| conn)
            .collect()
    }

    /// A BGSAVE made for replicas finished: send the dump to those that
    /// waited for it, or drop them if it failed.
    pub fn disk_sync_done(&mut self, env: &mut dyn Env, ok: bool) {
        let path = join(&self.config.dir, &self.config.dbfilename);
        let conns = self.peers_waiting_for_snapshot();
        for conn in conns {
            let opened = if ok {
                env.open(&path, OpenMode::Read)
                    .and_then(|file| env.size(file).map(|size| (file, size)))
                    .map_err(|e| e.to_string())
            } else {
                Err("BGSAVE child returned an error".to_string())
            };
            match opened {
                Ok((file, size)) => {
                    env.send(conn, format!("${size}\r\n").as_bytes());
                    if let Some(peer) = self.repl.peers.get_mut(&conn) {
                        peer.state = PeerState::SendFile {
                            file,
                            sent: 0,
                            size,
                        };
                    }
                }
                Err(error) => {
                    env.log(LogLevel::Warning, &format!("SYNC failed. {error}"));
                    self.drop_peer(env, conn);
                }
            }
        }
    }

    /// Sends the next chunks of the dump file to replicas receiving it
    /// (every tick while there are some: see `repl_wants_ticks`).
    pub fn send_files(&mut self, env: &mut dyn Env) {
        let sending: Vec<ConnId> = self
            .repl
            .peers
            .iter()
            .filter(|(_, p)| matches!(p.state, PeerState::SendFile { .. }))
            .map(|(&c, _)| c)
            .collect();
        if sending.is_empty() {
            // Every tick comes here: no chunk buffer unless one is needed.
            return;
        }
        let mut chunk = vec![0u8; FILE_CHUNK_BYTES];
        for conn in sending {
            let Some(peer) = self.repl.peers.get_mut(&conn) else {
                continue;
            };
            let PeerState::SendFile { file, sent, size } = peer.state else {
                continue;
            };
            if env.backlog_bytes(conn) > SYNC_OUTPUT_WINDOW_BYTES {
                continue;
            }
            let want = ((size - sent) as usize).min(FILE_CHUNK_BYTES);
            match env.read_at(file, sent, &mut chunk[..want]) {
                Ok(n) if n > 0 || want == 0 => {
                    env.send(conn, &chunk[..n]);
                    let sent = sent + n as u64;
                    peer.state = PeerState::SendFile { file, sent, size };
                    if sent == size {
                        let _ = env.close_file(file);
                        self.peer_online(env, conn);
                    }
                }
                Ok(_) | Err(_) => {
                    let _ = env.close_file(file);
                    env.log(LogLevel::Warning, "Read error sending DB to replica");
                    self.drop_peer(env, conn);
                }
            }
        }
    }

    /// Whether replicas have dump bytes to be sent and room to take them
    /// (the node then wants `on_tick` at once).
    pub fn repl_wants_ticks(&self, env: &dyn Env) -> bool {
        self.repl.peers.iter().any(|(&conn, peer)| {
            matches!(peer.state, PeerState::SendFile { .. })
                && env.backlog_bytes(conn) <= SYNC_OUTPUT_WINDOW_BYTES
        })
    }

    /// The replica has its dataset: the stream held for it follows.
    fn peer_online(&mut self, env: &mut dyn Env, conn: ConnId) {
        let Some(peer) = self.repl.peers.get_mut(&conn) else {
            return;
        };
        peer.state = PeerState::Online;
        peer.ack_ms = env.monotonic_ms();
        let addr = self
            .clients
            .get(&conn)
            .map(|c| c.info.peer_addr.clone())
            .unwrap_or_default();
        if peer.rdb_only {
            // A backup (`redis-cli --rdb`): the dataset is all it wanted.
            peer.pending = Vec::new();
            if let Some(client) = self.clients.get_mut(&conn) {
                client.close_after_reply = true;
                if !client.pending_write {
                    client.pending_write = true;
                    self.pending_writes.push(conn);
                }
            }
            env.log(
                LogLevel::Notice,
                &format!("Synchronization with replica {addr} succeeded (rdb-only)"),
            );
            return;
        }
        if let Some(mut client) = self.clients.remove(&conn) {
            self.release_peer_pending(&mut client);
            self.clients.insert(conn, client);
        }
        env.log(
            LogLevel::Notice,
            &format!("Synchronization with replica {addr} succeeded"),
        );
    }

    /// Closes a replica's connection (failed sync, timeout).
    pub fn drop_peer(&mut self, env: &mut dyn Env, conn: ConnId) {
        self.peer_gone(env, conn);
        if let Some(client) = self.clients.get_mut(&conn) {
            client.close_after_reply = true;
            client.is_replica = false;
            if !client.pending_write {
                client.pending_write = true;
                self.pending_writes.push(conn);
            }
        } else {
            env.close(conn);
        }
    }

    /// Forgets a replica whose connection is gone.
    pub fn peer_gone(&mut self, env: &mut dyn Env, conn: ConnId) {
        if let Some(peer) = self.repl.peers.remove(&conn) {
            if let PeerState::SendFile { file, .. } = peer.state {
                let _ = env.close_file(file);
            }
        }
        self.repl_peers_changed(env.monotonic_ms());
    }

    fn repl_peers_changed(&mut self, now_ms: u64) {
        if self.repl.peers.is_empty() {
            self.repl.no_peers_since_ms = now_ms;
        }
    }

    /// `REPLCONF ACK offset [FACK offset]` from a replica.
    pub fn replica_ack(&mut self, env: &mut dyn Env, conn: ConnId, offset: u64, fack: Option<u64>) {
        let now = env.monotonic_ms();
        let Some(peer) = self.repl.peers.get_mut(&conn) else {
            return;
        };
        peer.ack_offset = peer.ack_offset.max(offset);
        // The first ACK after a diskless sync releases the stream (the
        // node does, once this command is done).
        peer.await_ack = false;
        if let Some(fack) = fack {
            peer.fack_offset = peer.fack_offset.max(fack);
        }
        peer.ack_ms = now;
    }

    /// Once a second: PINGs into the stream, newlines to replicas waiting
    /// for their dataset, timeouts, the backlog's time to live, and syncs
    /// waiting to start.
    pub fn master_cron(&mut self, env: &mut dyn Env) {
        let now = env.monotonic_ms();
        if now < self.repl.last_cron_ms + 1000 {
            return;
        }
        self.repl.last_cron_ms = now;
        let period_ms = self.config.repl.ping_replica_period_s * 1000;
        if self.repl.feeds_own_writes()
            && !self.repl.peers.is_empty()
            && now >= self.repl.last_ping_ms + period_ms
        {
            self.repl.last_ping_ms = now;
            let mut ping = Vec::new();
            encode_command(&mut ping, &[b"PING".as_slice()]);
            self.feed_stream(&ping);
        }
        // The stream held for a replica still getting its dataset counts
        // against the replica class's hard output limit, as in Redis.
        let hard = self.config.client_output_buffer_limit.replica.hard_bytes;
        let over: Vec<ConnId> = self
            .repl
            .peers
            .iter()
            .filter(|(_, peer)| hard > 0 && peer.pending.len() as u64 > hard)
            .map(|(&conn, _)| conn)
            .collect();
        for conn in over {
            env.log(
                LogLevel::Warning,
                &format!("Client id={conn} scheduled to be closed ASAP for overcoming of output buffer limits."),
            );
            self.drop_peer(env, conn);
        }
        let diskless_running = self.background.running() == Some(JobKind::Sync);
        let timeout_ms = self.config.repl.timeout_s * 1000;
        let mut timed_out = Vec::new();
        for (&conn, peer) in &self.repl.peers {
            match peer.state {
                PeerState::WaitStart { .. } => env.send(conn, b"\n"),
                PeerState::WaitSnapshot if !diskless_running => env.send(conn, b"\n"),
                PeerState::Online
                    if !peer.pre_psync && !peer.rdb_only && now - peer.ack_ms > timeout_ms =>
                {
                    timed_out.push(conn)
                }
                _ => {}
            }
        }
        for conn in timed_out {
            let addr = self
                .clients
                .get(&conn)
                .map(|c| c.info.peer_addr.clone())
                .unwrap_or_default();
            env.log(
                LogLevel::Warning,
                &format!("Disconnecting timedout replica (streaming sync): {addr}"),
            );
            self.drop_peer(env, conn);
        }
        let ttl_ms = self.config.repl.backlog_ttl_s * 1000;
        if self.repl.peers.is_empty()
            && !self.repl.is_replica()
            && self.repl.backlog.is_some()
            && ttl_ms > 0
            && now - self.repl.no_peers_since_ms > ttl_ms
        {
            self.repl.backlog = None;
            self.repl.replid = super::hex_id(env);
            self.clear_replid2();
            env.log(
                LogLevel::Notice,
                &format!(
                    "Replication backlog freed after {} seconds without connected replicas.",
                    self.config.repl.backlog_ttl_s
                ),
            );
        }
        if let Some(backlog) = &mut self.repl.backlog {
            if backlog.capacity() != self.config.repl.backlog_size {
                backlog.resize(self.config.repl.backlog_size);
            }
        }
        self.start_pending_sync(env);
    }

    /// Sends `REPLCONF GETACK *` down the stream when a client waits for
    /// acknowledgements (called from `before_sleep`).
    pub fn request_acks(&mut self) {
        if !std::mem::take(&mut self.repl.get_ack_wanted) || !self.repl.feeds_own_writes() {
            return;
        }
        let mut getack = Vec::new();
        encode_command(&mut getack, &[b"REPLCONF".as_slice(), b"GETACK", b"*"]);
        self.feed_stream(&getack);
    }

    /// `min-replicas-to-write`: the refusal for writes while too few
    /// replicas are connected and recent.
    pub fn min_replicas_refusal(&self, now_ms: u64) -> Option<&'static str> {
        let wanted = self.config.repl.min_replicas_to_write;
        if wanted == 0 || self.repl.is_replica() {
            return None;
        }
        let good = self
            .repl
            .good_peers(now_ms, self.config.repl.min_replicas_max_lag_s) as u64;
        (good < wanted).then_some("NOREPLICAS Not enough good replicas to write.")
    }

    /// Leaves the history of a former master (`REPLICAOF NO ONE` on a
    /// replica): the old id stays valid up to here as `replid2`, so the
    /// old master's other replicas continue partially with us.
    pub fn shift_replid(&mut self, env: &mut dyn Env) {
        self.repl.replid2 = std::mem::replace(&mut self.repl.replid, super::hex_id(env));
        self.repl.second_offset = self.repl.offset as i64 + 1;
        env.log(
            LogLevel::Notice,
            &format!(
                "Setting secondary replication ID to {}, valid up to offset: {}. New replication ID is {}",
                self.repl.replid2, self.repl.second_offset, self.repl.replid
            ),
        );
    }

    /// Disconnects every replica (our history changed: they reconnect
    /// and continue partially where they can).
    pub fn disconnect_peers(&mut self, env: &mut dyn Env) {
        let conns: Vec<ConnId> = self.repl.peers.keys().copied().collect();
        for conn in conns {
            self.drop_peer(env, conn);
        }
    }
}

impl Peer {
    fn new(client: &Client, now_ms: u64) -> Self {
        Peer {
            state: PeerState::WaitStart { since_ms: now_ms },
            listening_port: client.hello.listening_port,
            announced_ip: client.hello.announced_ip.clone(),
            capa_eof: client.hello.capa_eof,
            pending: Vec::new(),
            ack_offset: 0,
            fack_offset: 0,
            ack_ms: now_ms,
            rdb_only: client.hello.rdb_only,
            pre_psync: false,
            await_ack: false,
        }
    }
}
