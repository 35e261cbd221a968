//! The one event loop, Redis's ae over mio (epoll).
//!
//! Each iteration, in Redis's order: wait for readiness (no longer than
//! core's `next_deadline`); accept new clients; report outgoing connections
//! that connected (`on_connected`) or failed; read every readable socket
//! in 16 KiB chunks into `on_bytes`; report closed sockets with `on_closed`
//! and finished background fsyncs with `on_disk_done`; run `on_tick` once
//! its deadline has come; call `before_sleep`, which does the work that must
//! precede replies and then releases them through `Net::send`; finally act
//! on signals and on a requested shutdown. The loop decides nothing about
//! replies or durability; core does.
//!
//! Clients come from the TCP listeners and from the Unix-domain socket
//! (`unixsocket`, named `<path>:0` at both ends). A TCP client that
//! protected mode refuses (`Config::protected_mode_refuses`) is sent
//! Redis's DENIED text and closed before core hears of it: the decision is
//! core's, the refusal the driver's, so the simulator's clients (from
//! 10.0.1.x, with no password) are not refused. At exit the pid file and
//! the socket file are removed, before core's last log line.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token, Waker};
use redoubt_core::env::{Clock, ConnId, LogLevel};
use redoubt_core::server::ShutdownReason;
use redoubt_core::{Config, ConnInfo, Node, REDIS_VERSION, REDOUBT_VERSION};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::env::{token, Outgoing, RealEnv, Stream};
use crate::listeners::{listener_index, listener_token, token_conn, SIGNALS, UNIX_LISTENER, WAKER};
use crate::logging;

/// Bytes asked of the kernel per read (Redis's PROTO_IOBUF_LEN).
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Bytes read from one connection before the others get their turn; the
/// rest is read in the next iteration.
const READ_BYTES_PER_TURN_MAX: usize = 64 * 1024;
/// Connections accepted per listener per iteration (Redis's
/// MAX_ACCEPTS_PER_CALL).
const ACCEPTS_PER_TURN_MAX: usize = 1000;
/// Readiness events taken from the kernel per poll.
const EVENTS_PER_POLL_MAX: usize = 1024;
/// Longest sleep, whatever core's deadline says.
const SLEEP_MS_MAX: u64 = 1000;

/// Start-up failed after logging why; the process exits with status 1.
#[derive(Debug)]
pub struct Aborted;

struct EventLoop {
    poll: Poll,
    signals: Signals,
    node: Node<RealEnv>,
    read_buffer: Vec<u8>,
    /// Sources with work left over from the last turn (a busy socket, a
    /// listener with more clients): served again without sleeping.
    unfinished: Vec<Token>,
    /// This iteration's work, kept to reuse its allocation.
    ready: Vec<(Token, bool, bool)>,
    signal_received: Option<i32>,
    loglevel: String,
    /// The pid file written at start, removed at exit.
    pidfile: Option<String>,
}

/// Listens, then serves until shutdown. Returns after a clean shutdown, or
/// `Aborted` if start-up failed (the reason is already logged). `pidfile`,
/// written by the caller, is removed at a clean exit.
pub fn run(config: Config, pidfile: Option<String>) -> Result<(), Aborted> {
    let mut event_loop = start(config, pidfile)?;
    event_loop.serve();
    Ok(())
}

fn start(config: Config, pidfile: Option<String>) -> Result<EventLoop, Aborted> {
    let fatal = |what: &str, e: io::Error| {
        logging::log(LogLevel::Warning, &format!("{what}: {e}"));
        Aborted
    };
    let poll = Poll::new().map_err(|e| fatal("Failed creating the event loop", e))?;
    let waker = Waker::new(poll.registry(), WAKER)
        .map_err(|e| fatal("Failed creating the event loop waker", e))?;
    logging::set_role_master();
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| fatal("Failed creating the event loop", e))?;
    let mut env = RealEnv::new(registry, Arc::new(waker))
        .map_err(|e| fatal("Failed starting the background thread", e))?;
    listen(&config, &mut env)?;
    let mut signals = Signals::new([SIGTERM, SIGINT])
        .map_err(|e| fatal("Failed installing signal handlers", e))?;
    crate::busy::install().map_err(|e| fatal("Failed installing signal handlers", e))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| fatal("Failed installing signal handlers", e))?;
    let port = config.port;
    let loglevel = config.loglevel.clone();
    log_banner(port);
    logging::log(LogLevel::Warning, "Server initialized");
    let node = Node::start(env, config).map_err(|error| {
        logging::log(
            LogLevel::Warning,
            &format!("Fatal error loading the DB: {error}. Exiting."),
        );
        Aborted
    })?;
    // Redis 7.0.15's words (7.2 added " tcp").
    logging::log(LogLevel::Notice, "Ready to accept connections");
    let unixsocket = node.config().get("unixsocket").unwrap_or_default();
    if !unixsocket.is_empty() {
        logging::log(
            LogLevel::Notice,
            &format!("The server is now ready to accept connections at {unixsocket}"),
        );
    }
    Ok(EventLoop {
        poll,
        signals,
        node,
        read_buffer: vec![0; READ_CHUNK_BYTES],
        unfinished: Vec::new(),
        ready: Vec::new(),
        signal_received: None,
        loglevel,
        pidfile,
    })
}

fn log_banner(port: u16) {
    let pid = std::process::id();
    logging::log(
        LogLevel::Notice,
        &format!("Running mode=standalone, port={port}."),
    );
    for line in [
        format!("redoubt {REDOUBT_VERSION} (speaks Redis {REDIS_VERSION})"),
        format!("Port: {port}"),
        format!("PID: {pid}"),
    ] {
        logging::log(LogLevel::Notice, &line);
    }
}

/// Opens the listening sockets of start-up. Unlike `CONFIG SET port 0` or
/// `bind ""` at run time, listening nowhere at start is fatal, as in Redis.
fn listen(config: &Config, env: &mut RealEnv) -> Result<(), Aborted> {
    let port = config.port;
    let nowhere = || {
        logging::log(
            LogLevel::Warning,
            "Configured to not listen anywhere, exiting.",
        );
        Aborted
    };
    if port == 0 {
        return Err(nowhere());
    }
    if env.replace_listeners(&config.bind, port).is_err() {
        // The address and the reason are logged already.
        logging::log(
            LogLevel::Warning,
            &format!("Failed listening on port {port} (TCP), aborting."),
        );
        return Err(Aborted);
    }
    if env.listener_count() == 0 {
        return Err(nowhere());
    }
    let unixsocket = config.get("unixsocket").unwrap_or_default();
    if !unixsocket.is_empty() {
        let perm = config.get("unixsocketperm").unwrap_or_default();
        if let Err(e) = env.listen_unix(&unixsocket, &perm) {
            logging::log(
                LogLevel::Warning,
                &format!("Failed opening Unix socket: {}", os_error_text(&e)),
            );
            return Err(Aborted);
        }
    }
    Ok(())
}

/// An I/O error as `strerror` says it, without Rust's " (os error N)".
fn os_error_text(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// Drops a connection protected mode refuses (see
/// `Config::protected_mode_refuses`), after a best-effort write of Redis's
/// explanation: the socket is new, so its buffer takes it whole.
fn refuse_protected(mut stream: mio::net::TcpStream) {
    use std::io::Write;
    logging::log(
        LogLevel::Verbose,
        "Refused a client from a non-loopback address in protected mode",
    );
    let _ = stream.write_all(redoubt_core::config::PROTECTED_MODE_DENIED.as_bytes());
}

/// Removes the pid file at exit, as Redis does.
fn remove_pidfile(pidfile: Option<&str>) {
    let Some(path) = pidfile else {
        return;
    };
    logging::log(LogLevel::Notice, "Removing the pid file.");
    if let Err(e) = std::fs::remove_file(path) {
        logging::log(
            LogLevel::Warning,
            &format!("Error removing the pid file: {}", os_error_text(&e)),
        );
    }
}

impl EventLoop {
    /// Runs iterations until a shutdown has been carried out.
    fn serve(&mut self) {
        let mut events = Events::with_capacity(EVENTS_PER_POLL_MAX);
        loop {
            let timeout = self.sleep_time();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    logging::log(LogLevel::Warning, &format!("Event loop poll failed: {e}"));
                }
                events.clear();
            }
            // Leftovers first, then new readiness: (token, readable, writable).
            let mut ready = std::mem::take(&mut self.ready);
            ready.extend(self.unfinished.drain(..).map(|token| (token, true, false)));
            ready.extend(events.iter().map(|e| {
                (
                    e.token(),
                    e.is_readable() || e.is_read_closed() || e.is_error(),
                    e.is_writable(),
                )
            }));
            for &(token, readable, writable) in &ready {
                self.dispatch(token, readable, writable);
            }
            ready.clear();
            self.ready = ready;
            self.iteration_end();
            // A shutdown that failed (the final save could not be written)
            // left the node serving, as Redis does; core has logged why.
            if self.node.shutdown_requested() {
                remove_pidfile(self.pidfile.as_deref());
                self.node.env_mut().remove_unix();
                self.node.finish_shutdown();
                self.node.env_mut().flush_all();
                return;
            }
        }
    }

    /// How long poll may sleep: until core's deadline, or not at all when
    /// work was left over.
    fn sleep_time(&self) -> Duration {
        if !self.unfinished.is_empty() {
            return Duration::ZERO;
        }
        let now = self.node.env().monotonic_ms();
        let wait_ms = self.node.next_deadline().saturating_sub(now);
        Duration::from_millis(wait_ms.min(SLEEP_MS_MAX))
    }

    fn dispatch(&mut self, token: Token, readable: bool, writable: bool) {
        match token {
            WAKER => self.deliver_disk_completions(),
            SIGNALS => self.take_signals(),
            UNIX_LISTENER => self.accept_unix(),
            _ => {
                if let Some(index) = listener_index(token) {
                    self.accept(index);
                    return;
                }
                let Some(conn) = token_conn(token) else {
                    return;
                };
                if self.connect_progress(conn) {
                    return;
                }
                if writable {
                    self.node.env_mut().on_writable(conn);
                }
                if readable {
                    self.read(conn);
                }
            }
        }
    }

    /// Reports an outgoing connection whose connect completed or failed.
    /// True if the event was about the connect (nothing else to do).
    fn connect_progress(&mut self, conn: ConnId) -> bool {
        let Some(progress) = self.node.env_mut().connect_progress(conn) else {
            return false;
        };
        match progress {
            Outgoing::Waiting | Outgoing::Abandoned => {}
            Outgoing::Connected => {
                logging::log(
                    LogLevel::Verbose,
                    &format!("Outgoing connection {conn} established"),
                );
                self.node.on_connected(conn);
                // What core sent meanwhile goes out, and what the peer
                // already sent comes in.
                self.node.env_mut().on_writable(conn);
                self.read(conn);
            }
            Outgoing::Failed(e) => {
                logging::log(
                    LogLevel::Verbose,
                    &format!("Outgoing connection {conn} failed: {e}"),
                );
                self.node.on_closed(conn);
            }
        }
        true
    }

    /// After the events: closures, the cron, `before_sleep`, signals.
    fn iteration_end(&mut self) {
        self.report_failed_connections();
        if self.node.env().monotonic_ms() >= self.node.next_deadline() {
            self.node.on_tick();
        }
        self.node.before_sleep();
        self.report_failed_connections();
        if let Some(signal) = self.signal_received.take() {
            let name = if signal == SIGINT {
                "SIGINT"
            } else {
                "SIGTERM"
            };
            logging::log(
                LogLevel::Warning,
                &format!("Received {name} scheduling shutdown..."),
            );
            self.node.request_shutdown(ShutdownReason::Signal);
        }
        if self.node.config().loglevel != self.loglevel {
            self.loglevel = self.node.config().loglevel.clone();
            logging::set_level(&self.loglevel);
        }
    }

    fn report_failed_connections(&mut self) {
        for conn in self.node.env_mut().take_failed() {
            self.node.on_closed(conn);
        }
    }

    fn deliver_disk_completions(&mut self) {
        for (op, result) in self.node.env().completed_disk_ops() {
            self.node.on_disk_done(op, result);
        }
        for (pipe, exit) in self.node.env().pipe_exits() {
            self.node.on_pipe_done(pipe, exit);
        }
    }

    fn take_signals(&mut self) {
        for signal in self.signals.pending() {
            self.signal_received = Some(signal);
        }
    }

    fn accept(&mut self, index: usize) {
        for _ in 0..ACCEPTS_PER_TURN_MAX {
            let Some(accepted) = self.node.env_mut().accept(index) else {
                return;
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    logging::log(
                        LogLevel::Warning,
                        &format!("Accepting client connection: {e}"),
                    );
                    return;
                }
            };
            // Replies are small and latency matters more than packet count.
            let _ = stream.set_nodelay(true);
            let info = ConnInfo {
                peer_addr: peer.to_string(),
                local_addr: stream
                    .local_addr()
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
                fd: i64::from(stream.as_raw_fd()),
            };
            logging::log(LogLevel::Verbose, &format!("Accepted {}", info.peer_addr));
            if self.node.config().protected_mode_refuses(&info) {
                refuse_protected(stream);
                continue;
            }
            self.adopt(Stream::Tcp(stream), info);
        }
        self.unfinished.push(listener_token(index));
    }

    /// Accepts the clients waiting on the Unix-domain socket.
    fn accept_unix(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN_MAX {
            let Some(accepted) = self.node.env_mut().accept_unix() else {
                return;
            };
            let (stream, path) = match accepted {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    logging::log(
                        LogLevel::Warning,
                        &format!("Accepting client connection: {e}"),
                    );
                    return;
                }
            };
            // Redis names both ends of a Unix-socket client `<path>:0`.
            let info = ConnInfo {
                peer_addr: format!("{path}:0"),
                local_addr: format!("{path}:0"),
                fd: i64::from(stream.as_raw_fd()),
            };
            logging::log(LogLevel::Verbose, &format!("Accepted connection to {path}"));
            self.adopt(Stream::Unix(stream), info);
        }
        self.unfinished.push(UNIX_LISTENER);
    }

    /// Hands an accepted socket to core.
    fn adopt(&mut self, stream: Stream, info: ConnInfo) {
        self.node.env_mut().begin_accept(stream);
        let conn = self.node.on_accept(info);
        if let Err(e) = self.node.env_mut().finish_accept(conn) {
            logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
            self.node.on_closed(conn);
        }
    }

    /// Reads what `conn` sent, up to this turn's share, into core.
    fn read(&mut self, conn: ConnId) {
        let mut taken = 0;
        while taken < READ_BYTES_PER_TURN_MAX {
            let Some(stream) = self.node.env_mut().readable_stream(conn) else {
                return;
            };
            match stream.read(&mut self.read_buffer) {
                Ok(0) => {
                    logging::log(LogLevel::Verbose, "Client closed connection");
                    self.peer_closed(conn);
                    return;
                }
                Ok(n) => {
                    self.node.on_bytes(conn, &self.read_buffer[..n]);
                    taken += n;
                    if n < self.read_buffer.len() {
                        // A short read emptied the socket: no need to ask
                        // again only to hear WouldBlock. The readiness is
                        // edge-triggered, so bytes arriving from now on
                        // (or the peer's FIN) bring a new event.
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    logging::log(LogLevel::Verbose, &format!("Reading from client: {e}"));
                    self.peer_closed(conn);
                    return;
                }
            }
        }
        self.unfinished.push(token(conn));
    }

    fn peer_closed(&mut self, conn: ConnId) {
        self.node.env_mut().drop_connection(conn);
        self.node.on_closed(conn);
    }
}
