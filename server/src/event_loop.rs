//! The one event loop, Redis's ae over mio (epoll).
//!
//! Each iteration, in Redis's order: wait for readiness (no longer than
//! core's `next_deadline`); accept new clients; read every readable socket
//! in 16 KiB chunks into `on_bytes`; report closed sockets with `on_closed`
//! and finished background fsyncs with `on_disk_done`; run `on_tick` once
//! its deadline has come; call `before_sleep`, which does the work that must
//! precede replies and then releases them through `Net::send`; finally act
//! on signals and on a requested shutdown. The loop decides nothing about
//! replies or durability; core does.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use redoubt_core::env::{Clock, ConnId, LogLevel};
use redoubt_core::server::ShutdownReason;
use redoubt_core::{Config, ConnInfo, Node, REDIS_VERSION, REDOUBT_VERSION};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;

use crate::env::{token, RealEnv};
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

const WAKER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);
/// Listener `i` has token `LISTENER_FIRST - i`.
const LISTENER_FIRST: usize = usize::MAX - 2;
const LISTENERS_MAX: usize = 16;

/// Start-up failed after logging why; the process exits with status 1.
#[derive(Debug)]
pub struct Aborted;

struct EventLoop {
    poll: Poll,
    listeners: Vec<TcpListener>,
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
}

/// Listens, then serves until shutdown. Returns after a clean shutdown, or
/// `Aborted` if start-up failed (the reason is already logged).
pub fn run(config: Config) -> Result<(), Aborted> {
    let mut event_loop = start(config)?;
    event_loop.serve();
    Ok(())
}

fn start(config: Config) -> Result<EventLoop, Aborted> {
    let fatal = |what: &str, e: io::Error| {
        logging::log(LogLevel::Warning, &format!("{what}: {e}"));
        Aborted
    };
    let poll = Poll::new().map_err(|e| fatal("Failed creating the event loop", e))?;
    let waker = Waker::new(poll.registry(), WAKER)
        .map_err(|e| fatal("Failed creating the event loop waker", e))?;
    logging::set_role_master();
    let listeners = listen(&config, &poll)?;
    let mut signals = Signals::new([SIGTERM, SIGINT])
        .map_err(|e| fatal("Failed installing signal handlers", e))?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)
        .map_err(|e| fatal("Failed installing signal handlers", e))?;
    let registry = poll
        .registry()
        .try_clone()
        .map_err(|e| fatal("Failed creating the event loop", e))?;
    let env = RealEnv::new(registry, Arc::new(waker))
        .map_err(|e| fatal("Failed starting the background thread", e))?;
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
    logging::log(LogLevel::Notice, "Ready to accept connections tcp");
    Ok(EventLoop {
        poll,
        listeners,
        signals,
        node,
        read_buffer: vec![0; READ_CHUNK_BYTES],
        unfinished: Vec::new(),
        ready: Vec::new(),
        signal_received: None,
        loglevel,
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

/// errnos for which an optional (`-`-prefixed) bind address is skipped, as
/// Redis skips it: the address or protocol does not exist here.
const OPTIONAL_BIND_SKIPPED: &[i32] = &[
    libc::EADDRNOTAVAIL,
    libc::EAFNOSUPPORT,
    libc::EPROTONOSUPPORT,
    libc::ENOPROTOOPT,
    libc::ESOCKTNOSUPPORT,
    libc::EPFNOSUPPORT,
];

/// Binds every `bind` address on `port`, registering each listener.
fn listen(config: &Config, poll: &Poll) -> Result<Vec<TcpListener>, Aborted> {
    let port = config.port;
    let mut listeners = Vec::new();
    if port == 0 {
        logging::log(
            LogLevel::Warning,
            "Configured to not listen anywhere, exiting.",
        );
        return Err(Aborted);
    }
    for entry in config.bind.iter().take(LISTENERS_MAX) {
        let optional = entry.starts_with('-');
        let address = entry.trim_start_matches('-');
        let result = bind_address(address, port).and_then(|mut listener| {
            let index = listeners.len();
            poll.registry()
                .register(&mut listener, listener_token(index), Interest::READABLE)?;
            Ok(listener)
        });
        match result {
            Ok(listener) => listeners.push(listener),
            Err(e)
                if optional
                    && e.raw_os_error()
                        .is_some_and(|n| OPTIONAL_BIND_SKIPPED.contains(&n)) =>
            {
                logging::log(
                    LogLevel::Verbose,
                    &format!("Skipping optional bind address {address}:{port}: {e}"),
                );
            }
            Err(e) => {
                let reason = e.to_string();
                let reason = reason.split(" (os error").next().unwrap_or_default();
                logging::log(
                    LogLevel::Warning,
                    &format!(
                        "Warning: Could not create server TCP listening socket {address}:{port}: bind: {reason}"
                    ),
                );
                logging::log(
                    LogLevel::Warning,
                    &format!("Failed listening on port {port} (TCP), aborting."),
                );
                return Err(Aborted);
            }
        }
    }
    if listeners.is_empty() {
        logging::log(
            LogLevel::Warning,
            "Configured to not listen anywhere, exiting.",
        );
        return Err(Aborted);
    }
    Ok(listeners)
}

fn bind_address(address: &str, port: u16) -> io::Result<TcpListener> {
    let ip: IpAddr = match address {
        "*" => IpAddr::from([0, 0, 0, 0]),
        "::*" => IpAddr::from([0u16; 8]),
        other => other
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Invalid address"))?,
    };
    TcpListener::bind(SocketAddr::new(ip, port))
}

fn listener_token(index: usize) -> Token {
    Token(LISTENER_FIRST - index)
}

fn listener_index(token: Token) -> Option<usize> {
    let index = LISTENER_FIRST.checked_sub(token.0)?;
    (index < LISTENERS_MAX).then_some(index)
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
            // leaves the node serving, as Redis does; core has logged why.
            if self.node.shutdown_requested() && self.node.finish_shutdown().is_ok() {
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
            _ => {
                if let Some(index) = listener_index(token) {
                    self.accept(index);
                    return;
                }
                let conn = token.0 as ConnId;
                if writable {
                    self.node.env_mut().on_writable(conn);
                }
                if readable {
                    self.read(conn);
                }
            }
        }
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
    }

    fn take_signals(&mut self) {
        for signal in self.signals.pending() {
            self.signal_received = Some(signal);
        }
    }

    fn accept(&mut self, index: usize) {
        for _ in 0..ACCEPTS_PER_TURN_MAX {
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            let (stream, peer) = match listener.accept() {
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
            self.node.env_mut().begin_accept(stream);
            let conn = self.node.on_accept(info);
            if let Err(e) = self.node.env_mut().finish_accept(conn) {
                logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
                self.node.on_closed(conn);
            }
        }
        self.unfinished.push(listener_token(index));
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
