//! The replica side: the link to our master.
//!
//! `REPLICAOF host port` (or `replicaof` in the config) makes the node a
//! replica. Once a second the cron connects if the link is down; the
//! handshake is Redis 7.0's: `PING`, `AUTH` (with `masterauth`),
//! `REPLCONF listening-port`, `REPLCONF ip-address` (with
//! `replica-announce-ip`), `REPLCONF capa eof capa psync2`, then
//! `PSYNC replid offset+1` with the history we have. `+CONTINUE` resumes
//! the stream where we were; `+FULLRESYNC replid offset` is followed by the
//! dataset (`$len` or the diskless `$EOF:mark` format), written to a temp
//! file, renamed over the dump file and loaded. The stream is then applied
//! by the master client as ordinary commands, without replies; its bytes
//! advance our offset (only at a transaction's end) and go on verbatim to
//! our own replicas, so a chain keeps one history.

use std::collections::VecDeque;

use crate::client::{Client, ConnInfo};
use crate::env::{ConnId, Env, FileId, LogLevel, OpenMode};
use crate::persist::aof::join;
use crate::persist::aof_format::encode_command;
use crate::persist::load::load_rdb;
use crate::server::Server;

use super::backlog::Backlog;

/// The diskless format's end mark length (Redis's RDB_EOF_MARK_SIZE).
const EOF_MARK_BYTES: usize = 40;
/// Longest handshake reply line kept while waiting for its end.
const HANDSHAKE_LINE_MAX: usize = 64 * 1024;

/// Where the link to our master stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Down; the cron connects (`connect` in ROLE).
    Connect,
    /// The connection is being opened (`connecting`).
    Connecting,
    /// Handshake replies are awaited (`handshake`).
    Handshake,
    /// The dataset is arriving (`sync`).
    Transfer,
    /// The stream is applied (`connected`).
    Connected,
}

impl LinkState {
    /// The state's name in ROLE.
    pub fn role_name(&self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Transfer => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// A handshake reply we wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Pong,
    Auth,
    Port,
    Ip,
    Capa,
    Psync,
}

/// The dataset being received.
#[derive(Debug)]
struct Transfer {
    path: String,
    file: FileId,
    /// `Some(len)` for `$len`, `None` for the EOF-mark format.
    size: Option<u64>,
    mark: Vec<u8>,
    /// Payload bytes written to the file.
    written: u64,
    /// EOF format: the last bytes received, held back in case they are
    /// (part of) the mark.
    tail: Vec<u8>,
}

/// Our master and the link to it.
#[derive(Debug)]
pub struct Link {
    pub host: String,
    pub port: u16,
    pub state: LinkState,
    /// The link's connection, while one is open.
    pub conn: Option<ConnId>,
    expect: VecDeque<Step>,
    /// Bytes read during the handshake and the transfer.
    input: Vec<u8>,
    /// Monotonic time of the last byte from the master.
    pub last_io_ms: u64,
    /// Monotonic time the state last changed (connect and handshake
    /// timeouts; `master_link_down_since_seconds`).
    pub since_ms: u64,
    transfer: Option<Transfer>,
    /// What `+FULLRESYNC` announced: the master's id and offset.
    fullresync: Option<(String, u64)>,
    last_ack_ms: u64,
    /// Bytes of the dataset received, and its announced size (INFO's
    /// `master_sync_*` fields).
    pub transfer_read: u64,
    pub transfer_size: Option<u64>,
}

impl Link {
    fn new(host: String, port: u16, now_ms: u64) -> Self {
        Link {
            host,
            port,
            state: LinkState::Connect,
            conn: None,
            expect: VecDeque::new(),
            input: Vec::new(),
            last_io_ms: now_ms,
            since_ms: now_ms,
            transfer: None,
            fullresync: None,
            last_ack_ms: 0,
            transfer_read: 0,
            transfer_size: None,
        }
    }

    /// `host:port`, with IPv6 literals bracketed.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Takes one `\r\n`- or `\n`-terminated line from the front of `input`.
fn take_line(input: &mut Vec<u8>) -> Option<String> {
    let end = input.iter().position(|&b| b == b'\n')?;
    let mut line: Vec<u8> = input.drain(..=end).collect();
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Some(String::from_utf8_lossy(&line).into_owned())
}

impl Server {
    /// The connection of the link to our master, if one is open.
    pub fn link_conn(&self) -> Option<ConnId> {
        self.repl.link.as_ref().and_then(|link| link.conn)
    }

    /// `REPLICAOF host port`: becomes (or stays) a replica of that master.
    /// False if it already is, connected or trying.
    pub fn set_master(&mut self, env: &mut dyn Env, host: &str, port: u16) -> bool {
        if let Some(link) = &self.repl.link {
            if link.host == host && link.port == port {
                return false;
            }
        }
        let was_master = self.repl.link.is_none();
        self.drop_link(env);
        // Our replicas must hear of the new history; they continue
        // partially with us where they can.
        self.disconnect_peers(env);
        if was_master {
            env.log(LogLevel::Notice, "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
            self.repl.link_stream_db = self.repl.selected_db.unwrap_or(0);
        }
        let now = env.monotonic_ms();
        self.repl.link = Some(Link::new(host.to_string(), port, now));
        self.set_expiry(self.expiry_mode());
        self.config.repl.replicaof = Some((host.to_string(), port));
        env.role_changed(true);
        env.log(
            LogLevel::Notice,
            &format!("Connecting to MASTER {host}:{port}"),
        );
        self.connect_to_master(env);
        true
    }

    /// `REPLICAOF NO ONE`: becomes a master, keeping the dataset and the
    /// history (the old id becomes `replid2`).
    pub fn unset_master(&mut self, env: &mut dyn Env) -> bool {
        if self.repl.link.is_none() {
            return false;
        }
        self.drop_link(env);
        self.repl.link = None;
        self.config.repl.replicaof = None;
        self.shift_replid(env);
        self.disconnect_peers(env);
        self.repl.selected_db = None;
        if self.repl.backlog.is_none() {
            let backlog = Backlog::new(self.config.repl.backlog_size, self.repl.offset);
            self.repl.backlog = Some(backlog);
        }
        self.repl.no_peers_since_ms = env.monotonic_ms();
        self.set_expiry(self.expiry_mode());
        env.role_changed(false);
        true
    }

    /// Closes whatever link is open (handshake, transfer or stream).
    fn drop_link(&mut self, env: &mut dyn Env) {
        let Some(conn) = self.link_conn() else {
            return;
        };
        if let Some(mut master) = self.clients.remove(&conn) {
            self.repl.link_stream_db = master.db;
            master.is_master = false;
            self.forget_client(&mut master, env);
        }
        self.cancel_handshake(env);
    }

    /// Opens the link's connection (from `set_master` and the cron).
    fn connect_to_master(&mut self, env: &mut dyn Env) {
        let conn = self.next_conn_id;
        self.next_conn_id += 1;
        let now = env.monotonic_ms();
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        let addr = link.addr();
        link.since_ms = now;
        match env.connect(conn, &addr) {
            Ok(()) => {
                link.conn = Some(conn);
                link.state = LinkState::Connecting;
                env.log(LogLevel::Notice, "MASTER <-> REPLICA sync started");
            }
            Err(error) => {
                link.state = LinkState::Connect;
                env.log(
                    LogLevel::Warning,
                    &format!("Unable to connect to MASTER: {error}"),
                );
            }
        }
    }

    /// An outgoing connection opened: if it is the link, the handshake
    /// starts.
    pub fn link_connected(&mut self, env: &mut dyn Env, conn: ConnId) {
        let now = env.monotonic_ms();
        let Some(link) = self.repl.link.as_mut() else {
            env.close(conn);
            return;
        };
        if link.conn != Some(conn) || link.state != LinkState::Connecting {
            env.close(conn);
            return;
        }
        env.log(
            LogLevel::Notice,
            "Non blocking connect for SYNC fired the event.",
        );
        link.state = LinkState::Handshake;
        link.since_ms = now;
        link.last_io_ms = now;
        link.expect.push_back(Step::Pong);
        send_command(env, conn, &[b"PING".as_slice()]);
    }

    /// The link's connection closed before the master client existed
    /// (during the handshake or the transfer), or failed to open.
    pub fn link_closed(&mut self, env: &mut dyn Env, conn: ConnId) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        if link.conn != Some(conn) {
            return;
        }
        let what = match link.state {
            LinkState::Connecting => "Error condition on socket for SYNC: Connection refused",
            LinkState::Transfer => "I/O error trying to sync with MASTER: connection lost",
            _ => "Master closed the connection during the handshake",
        };
        env.log(LogLevel::Warning, what);
        self.cancel_handshake(env);
    }

    /// Gives up the handshake or transfer in progress; the cron retries.
    fn cancel_handshake(&mut self, env: &mut dyn Env) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        if let Some(transfer) = link.transfer.take() {
            let _ = env.close_file(transfer.file);
            let _ = env.remove(&transfer.path);
        }
        if let Some(conn) = link.conn.take() {
            env.close(conn);
        }
        link.input.clear();
        link.expect.clear();
        link.fullresync = None;
        link.state = LinkState::Connect;
        link.since_ms = env.monotonic_ms();
    }

    /// The master client went away (its connection closed or was
    /// killed); its stream had `stream_db` selected, where a partial
    /// resync continues.
    pub fn master_link_lost(&mut self, env: &mut dyn Env, stream_db: usize) {
        let now = env.monotonic_ms();
        self.repl.link_stream_db = stream_db;
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        if link.state != LinkState::Connected {
            return;
        }
        env.log(LogLevel::Notice, "Connection with master lost.");
        env.log(LogLevel::Notice, "* Caching the disconnected master state.");
        link.conn = None;
        link.state = LinkState::Connect;
        link.since_ms = now;
    }

    /// Bytes on the link before the master client exists. Returns the
    /// bytes that follow the handshake and dataset, for the master client
    /// that now exists.
    pub fn link_bytes(&mut self, env: &mut dyn Env, conn: ConnId, bytes: &[u8]) -> Option<Vec<u8>> {
        let now = env.monotonic_ms();
        let link = self.repl.link.as_mut()?;
        if link.conn != Some(conn) {
            return None;
        }
        link.input.extend_from_slice(bytes);
        link.last_io_ms = now;
        let awaiting_line = link.state == LinkState::Handshake
            || (link.state == LinkState::Transfer && link.transfer.is_none());
        if awaiting_line && link.input.len() > HANDSHAKE_LINE_MAX && !link.input.contains(&b'\n') {
            env.log(
                LogLevel::Warning,
                "Master sent a line longer than any handshake reply: giving up this attempt",
            );
            self.cancel_handshake(env);
            return None;
        }
        loop {
            let link = self.repl.link.as_mut()?;
            match link.state {
                LinkState::Handshake => {
                    let line = take_line(&mut link.input)?;
                    if line.is_empty() {
                        continue;
                    }
                    self.handshake_reply(env, conn, &line);
                }
                LinkState::Transfer => {
                    if !self.transfer_bytes(env, conn) {
                        return None;
                    }
                }
                LinkState::Connected => {
                    return Some(std::mem::take(&mut link.input));
                }
                LinkState::Connect | LinkState::Connecting => return None,
            }
        }
    }

    fn handshake_reply(&mut self, env: &mut dyn Env, conn: ConnId, line: &str) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        let Some(step) = link.expect.pop_front() else {
            return;
        };
        let error = line.starts_with('-');
        match step {
            Step::Pong => {
                let auth_error = ["-NOAUTH", "-NOPERM", "-ERR operation not permitted"]
                    .iter()
                    .any(|prefix| line.starts_with(prefix));
                if error && !auth_error {
                    env.log(
                        LogLevel::Warning,
                        &format!("Error reply to PING from master: '{line}'"),
                    );
                    return self.cancel_handshake(env);
                }
                env.log(
                    LogLevel::Notice,
                    "Master replied to PING, replication can continue...",
                );
                self.send_hello(env, conn);
            }
            Step::Auth if error => {
                env.log(
                    LogLevel::Warning,
                    &format!("Unable to AUTH to MASTER: {line}"),
                );
                return self.cancel_handshake(env);
            }
            Step::Port | Step::Ip | Step::Capa if error => {
                let what = match step {
                    Step::Port => "REPLCONF listening-port",
                    Step::Ip => "REPLCONF ip-address",
                    _ => "REPLCONF capa",
                };
                env.log(
                    LogLevel::Notice,
                    &format!("(Non critical) Master does not understand {what}: {line}"),
                );
            }
            Step::Psync => return self.psync_reply(env, conn, line),
            _ => {}
        }
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        if link.expect.is_empty() && link.state == LinkState::Handshake {
            let replid = self.repl.replid.clone();
            let next = (self.repl.offset + 1).to_string();
            env.log(
                LogLevel::Notice,
                &format!("Trying a partial resynchronization (request {replid}:{next})."),
            );
            link.expect.push_back(Step::Psync);
            send_command(
                env,
                conn,
                &[b"PSYNC".as_slice(), replid.as_bytes(), next.as_bytes()],
            );
        }
    }

    /// AUTH, REPLCONF listening-port, ip-address and capa, pipelined.
    fn send_hello(&mut self, env: &mut dyn Env, conn: ConnId) {
        let repl = &self.config.repl;
        let port = if repl.announce_port != 0 {
            repl.announce_port
        } else {
            self.config.port
        };
        let mut steps = Vec::new();
        if let Some(password) = &repl.masterauth {
            match &repl.masteruser {
                Some(user) => send_command(env, conn, &[b"AUTH".as_slice(), user, password]),
                None => send_command(env, conn, &[b"AUTH".as_slice(), password]),
            }
            steps.push(Step::Auth);
        }
        let port = port.to_string();
        send_command(
            env,
            conn,
            &[b"REPLCONF".as_slice(), b"listening-port", port.as_bytes()],
        );
        steps.push(Step::Port);
        if !repl.announce_ip.is_empty() {
            send_command(
                env,
                conn,
                &[
                    b"REPLCONF".as_slice(),
                    b"ip-address",
                    repl.announce_ip.as_bytes(),
                ],
            );
            steps.push(Step::Ip);
        }
        send_command(
            env,
            conn,
            &[b"REPLCONF".as_slice(), b"capa", b"eof", b"capa", b"psync2"],
        );
        steps.push(Step::Capa);
        if let Some(link) = self.repl.link.as_mut() {
            link.expect.extend(steps);
        }
    }

    fn psync_reply(&mut self, env: &mut dyn Env, conn: ConnId, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["+FULLRESYNC", replid, offset] => {
                let Ok(offset) = offset.parse::<u64>() else {
                    env.log(
                        LogLevel::Warning,
                        "Master replied with wrong +FULLRESYNC syntax.",
                    );
                    return self.cancel_handshake(env);
                };
                env.log(
                    LogLevel::Notice,
                    &format!("Full resync from master: {replid}:{offset}"),
                );
                if let Some(link) = self.repl.link.as_mut() {
                    link.fullresync = Some((replid.to_string(), offset));
                    link.state = LinkState::Transfer;
                    link.since_ms = env.monotonic_ms();
                    link.transfer_read = 0;
                    link.transfer_size = None;
                }
            }
            ["+CONTINUE", rest @ ..] => {
                env.log(
                    LogLevel::Notice,
                    "Successful partial resynchronization with master.",
                );
                if let Some(new_id) = rest.first() {
                    if *new_id != self.repl.replid {
                        self.repl.replid2 =
                            std::mem::replace(&mut self.repl.replid, new_id.to_string());
                        self.repl.second_offset = self.repl.offset as i64 + 1;
                        env.log(
                            LogLevel::Notice,
                            &format!("Master replication ID changed to {new_id}"),
                        );
                        // Our replicas must hear of the new id too.
                        self.disconnect_peers(env);
                    }
                }
                if self.repl.backlog.is_none() {
                    let backlog = Backlog::new(self.config.repl.backlog_size, self.repl.offset);
                    self.repl.backlog = Some(backlog);
                }
                env.log(
                    LogLevel::Notice,
                    "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
                );
                self.create_master_client(env, conn);
            }
            _ if line.starts_with("-NOMASTERLINK") || line.starts_with("-LOADING") => {
                env.log(
                    LogLevel::Notice,
                    &format!(
                        "Master is currently unable to PSYNC but should be in the future: {line}"
                    ),
                );
                self.cancel_handshake(env);
            }
            _ => {
                env.log(
                    LogLevel::Warning,
                    &format!("Unexpected reply to PSYNC from master: {line}"),
                );
                self.cancel_handshake(env);
            }
        }
    }

    /// The master client: the link from now on, its commands the stream.
    fn create_master_client(&mut self, env: &mut dyn Env, conn: ConnId) {
        let now = env.monotonic_ms();
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        link.state = LinkState::Connected;
        link.since_ms = now;
        link.last_ack_ms = 0;
        let info = ConnInfo {
            peer_addr: link.addr(),
            local_addr: String::new(),
            fd: -1,
        };
        let mut client = Client::new(conn, info, now, true);
        client.is_master = true;
        client.db = self.repl.link_stream_db;
        self.clients.insert(conn, Box::new(client));
    }

    /// Consumes transfer bytes from the link's input. False when it needs
    /// more bytes (or the transfer failed).
    fn transfer_bytes(&mut self, env: &mut dyn Env, conn: ConnId) -> bool {
        let Some(link) = self.repl.link.as_mut() else {
            return false;
        };
        if link.transfer.is_none() {
            let Some(line) = take_line(&mut link.input) else {
                return false;
            };
            if line.is_empty() {
                // A keepalive newline while the master prepares.
                return true;
            }
            if !line.starts_with('$') {
                env.log(LogLevel::Warning, &format!("Bad protocol from MASTER, the first byte is not '$' (we received '{line}'), are you sure the host and port are right?"));
                self.cancel_handshake(env);
                return false;
            }
            let (size, mark) = match line.strip_prefix("$EOF:") {
                Some(mark) if mark.len() == EOF_MARK_BYTES => (None, mark.as_bytes().to_vec()),
                Some(_) => {
                    env.log(LogLevel::Warning, "Bad EOF mark from MASTER");
                    self.cancel_handshake(env);
                    return false;
                }
                None => match line[1..].parse::<u64>() {
                    Ok(size) => (Some(size), Vec::new()),
                    Err(_) => {
                        env.log(
                            LogLevel::Warning,
                            &format!("Bad bulk length from MASTER: '{line}'"),
                        );
                        self.cancel_handshake(env);
                        return false;
                    }
                },
            };
            let path = join(
                &self.config.dir,
                &format!("temp-{}.{}.rdb", env.wall_ms() / 1000, env.process_id()),
            );
            let file = match env.open(&path, OpenMode::CreateTruncate) {
                Ok(file) => file,
                Err(error) => {
                    env.log(LogLevel::Warning, &format!("Opening the temp file needed for MASTER <-> REPLICA synchronization: {error}"));
                    self.cancel_handshake(env);
                    return false;
                }
            };
            let Some(link) = self.repl.link.as_mut() else {
                return false;
            };
            match size {
                Some(size) => env.log(
                    LogLevel::Notice,
                    &format!("MASTER <-> REPLICA sync: receiving {size} bytes from master to disk"),
                ),
                None => env.log(
                    LogLevel::Notice,
                    "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to disk",
                ),
            }
            link.transfer_size = size;
            link.transfer = Some(Transfer {
                path,
                file,
                size,
                mark,
                written: 0,
                tail: Vec::new(),
            });
            return true;
        }
        let transfer = link.transfer.as_mut().expect("checked above");
        let (payload, done) = match transfer.size {
            Some(size) => {
                let take = ((size - transfer.written) as usize).min(link.input.len());
                let payload: Vec<u8> = link.input.drain(..take).collect();
                let done = transfer.written + take as u64 == size;
                (payload, done)
            }
            None => {
                let mut buffer = std::mem::take(&mut transfer.tail);
                buffer.append(&mut link.input);
                match buffer
                    .windows(EOF_MARK_BYTES)
                    .position(|window| window == transfer.mark.as_slice())
                {
                    Some(at) => {
                        link.input = buffer.split_off(at + EOF_MARK_BYTES);
                        buffer.truncate(at);
                        (buffer, true)
                    }
                    None => {
                        let keep = buffer.len().min(EOF_MARK_BYTES - 1);
                        transfer.tail = buffer.split_off(buffer.len() - keep);
                        (buffer, false)
                    }
                }
            }
        };
        let progress = !payload.is_empty() || done;
        if !payload.is_empty() {
            if let Err(error) = write_all(env, transfer.file, &payload) {
                env.log(LogLevel::Warning, &format!("Write error or short write writing to the DB dump file needed for MASTER <-> REPLICA synchronization: {error}"));
                self.cancel_handshake(env);
                return false;
            }
            transfer.written += payload.len() as u64;
            link.transfer_read = transfer.written;
        }
        if done {
            self.finish_transfer(env, conn);
            return true;
        }
        progress && !link.input.is_empty()
    }

    /// The whole dataset arrived: make it the dump file, load it, and
    /// start applying the stream.
    fn finish_transfer(&mut self, env: &mut dyn Env, conn: ConnId) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        let Some(transfer) = link.transfer.take() else {
            return;
        };
        let eof_format = transfer.size.is_none();
        let Some((replid, offset)) = link.fullresync.take() else {
            return self.cancel_handshake(env);
        };
        let synced = env
            .fsync(transfer.file)
            .and_then(|()| env.close_file(transfer.file));
        let name = self.config.dbfilename.clone();
        let target = join(&self.config.dir, &name);
        let installed = synced.and_then(|()| env.rename(&transfer.path, &target));
        if let Err(error) = installed {
            let _ = env.remove(&transfer.path);
            env.log(LogLevel::Warning, &format!("Failed trying to rename the temp DB into {name} in MASTER <-> REPLICA synchronization: {error}"));
            return self.cancel_handshake(env);
        }
        // The dataset and its history are replaced: any background job of
        // the old one goes, and our own replicas must sync again with us.
        self.abort_background(env);
        self.disconnect_peers(env);
        let aof_was_on = self.aof_on;
        if aof_was_on {
            self.stop_aof(env);
        }
        env.log(
            LogLevel::Notice,
            "MASTER <-> REPLICA sync: Flushing old data",
        );
        for db in &mut self.keyspace.dbs {
            db.clear();
        }
        self.scripts.flush_libraries(&mut self.keyspace.functions);
        env.log(
            LogLevel::Notice,
            "MASTER <-> REPLICA sync: Loading DB in memory",
        );
        self.set_loading(true);
        let loaded = load_rdb(self, env, &target, &name, true);
        self.set_loading(false);
        if let Err(error) = loaded {
            env.log(LogLevel::Warning, &format!("Failed trying to load the MASTER synchronization DB from disk, check server logs. {error}"));
            for db in &mut self.keyspace.dbs {
                db.clear();
            }
            self.scripts.flush_libraries(&mut self.keyspace.functions);
            // What is left claims no history: the next sync is full.
            self.repl.replid = super::hex_id(env);
            self.repl.offset = 0;
            self.repl.fsynced_offset = 0;
            self.repl.fack_sent = 0;
            self.repl.aof_marks.clear();
            self.repl.backlog = None;
            if aof_was_on {
                let _ = self.start_aof(env);
            }
            return self.cancel_handshake(env);
        }
        self.repl.replid = replid;
        self.repl.offset = offset;
        self.repl.replid2 = "0".repeat(40);
        self.repl.second_offset = -1;
        self.repl.selected_db = None;
        self.repl.backlog = Some(Backlog::new(self.config.repl.backlog_size, offset));
        self.repl.aof_marks.clear();
        // A new history: its offsets start where the master's dataset is.
        self.repl.fsynced_offset = offset;
        self.repl.fack_sent = 0;
        self.dirty = 0;
        env.log(
            LogLevel::Notice,
            "MASTER <-> REPLICA sync: Finished with success",
        );
        if aof_was_on {
            if let Err(error) = self.start_aof(env) {
                env.log(
                    LogLevel::Warning,
                    &format!(
                        "Failed enabling the AOF after successful master synchronization! {error}"
                    ),
                );
            }
        }
        self.repl.link_stream_db = 0;
        self.create_master_client(env, conn);
        if eof_format {
            // The master holds the stream back until this first ACK.
            self.send_ack(env);
        }
    }

    /// ACKs at once when our AOF made more of the stream durable, so a
    /// WAITAOF on the master does not wait for the next second.
    pub fn ack_if_fsynced_moved(&mut self, env: &mut dyn Env) {
        if self.repl.fsynced_offset > self.repl.fack_sent {
            self.send_ack(env);
        }
    }

    /// `REPLCONF ACK offset FACK fsynced-offset` to our master.
    pub fn send_ack(&mut self, env: &mut dyn Env) {
        let Some(link) = self.repl.link.as_mut() else {
            return;
        };
        let (Some(conn), LinkState::Connected) = (link.conn, link.state) else {
            return;
        };
        link.last_ack_ms = env.monotonic_ms();
        let offset = self.repl.offset.to_string();
        self.repl.fack_sent = self.repl.fsynced_offset;
        // Without an AOF nothing is fsynced to one: WAITAOF does not count
        // this replica.
        let fsynced = if self.aof_on {
            self.repl.fsynced_offset
        } else {
            0
        };
        let fack = fsynced.to_string();
        send_command(
            env,
            conn,
            &[
                b"REPLCONF".as_slice(),
                b"ACK",
                offset.as_bytes(),
                b"FACK",
                fack.as_bytes(),
            ],
        );
    }

    /// Stream bytes the master client consumed with a command (`range` of
    /// its query buffer, after any the parser consumed of it in earlier
    /// reads, held in `master_unapplied`): at a transaction's end (or
    /// outside one) they advance our offset and go on to our own replicas.
    pub fn master_applied(&mut self, client: &mut Client, range: std::ops::Range<usize>) {
        let bytes = &client.query[range];
        if client.multi.is_some() {
            client.master_unapplied.extend_from_slice(bytes);
            return;
        }
        if client.master_unapplied.is_empty() {
            self.feed_stream(bytes);
        } else {
            let mut unit = std::mem::take(&mut client.master_unapplied);
            unit.extend_from_slice(bytes);
            self.feed_stream(&unit);
        }
        if self.aof_on {
            self.mark_aof_offset();
        }
    }

    /// Once a second: connect when down, time the link out, and ACK.
    pub fn replica_cron(&mut self, env: &mut dyn Env) {
        let now = env.monotonic_ms();
        let timeout_ms = self.config.repl.timeout_s * 1000;
        let Some(link) = self.repl.link.as_ref() else {
            return;
        };
        match link.state {
            LinkState::Connect => self.connect_to_master(env),
            LinkState::Connecting | LinkState::Handshake if now - link.since_ms > timeout_ms => {
                env.log(LogLevel::Warning, "Timeout connecting to the MASTER...");
                self.cancel_handshake(env);
            }
            LinkState::Transfer if now - link.last_io_ms > timeout_ms => {
                env.log(LogLevel::Warning, "Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
                self.cancel_handshake(env);
            }
            LinkState::Connected => {
                let last_io = link
                    .conn
                    .and_then(|conn| self.clients.get(&conn))
                    .map_or(now, |master| master.last_interaction_ms);
                if now - last_io > timeout_ms {
                    env.log(
                        LogLevel::Warning,
                        "MASTER timeout: no data nor PING received...",
                    );
                    self.drop_link(env);
                } else if now - link.last_ack_ms >= 1000 {
                    self.send_ack(env);
                }
            }
            _ => {}
        }
    }
}

/// Sends one command in RESP on `conn`.
fn send_command(env: &mut dyn Env, conn: ConnId, argv: &[&[u8]]) {
    let mut out = Vec::new();
    encode_command(&mut out, argv);
    env.send(conn, &out);
}

fn write_all(env: &mut dyn Env, file: FileId, data: &[u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        match env.write(file, &data[done..])? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => done += n,
        }
    }
    Ok(())
}
