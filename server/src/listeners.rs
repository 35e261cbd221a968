//! The listening sockets and the mio tokens of every source.
//!
//! Tokens: a connection's token is its id (core counts ids from 1), the
//! waker and the signal pipe take the two highest tokens, and listener `i`
//! takes `LISTENER_FIRST - i`. A connection id above [`CONN_TOKEN_MAX`] is
//! refused rather than allowed to alias a listener (it would take 2^64
//! connections to get there).
//!
//! [`Listeners::replace`] binds a new set of addresses (start-up, and
//! `CONFIG SET port` / `bind` at run time through `Net::listen`). A
//! listener already open on an address that is asked for again is kept,
//! so its backlog survives. The new sockets are bound while the old ones
//! still listen, and the old ones close only once every new one is bound;
//! on an error the old set keeps listening. One exception, as Redis (which
//! closes before it binds) needs none: a new address that collides with an
//! old socket of ours that is going away (`*` to `127.0.0.1` on the same
//! port) is retried after closing that socket, and the socket is opened
//! again if the retry fails too.
//!
//! Beside them, at most one Unix-domain listener (`unixsocket`, with the
//! mode `unixsocketperm`), opened at start-up only, under its own token
//! [`UNIX_LISTENER`]; its file is removed at exit.

use std::io;
use std::net::{IpAddr, SocketAddr};

use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use redoubt_core::env::{ConnId, LogLevel};

use crate::logging;

pub const WAKER: Token = Token(usize::MAX);
pub const SIGNALS: Token = Token(usize::MAX - 1);
/// Listener `i` has token `LISTENER_FIRST - i`.
const LISTENER_FIRST: usize = usize::MAX - 2;
/// Listening sockets at most (Redis's CONFIG_BINDADDR_MAX).
pub const LISTENERS_MAX: usize = 16;
/// The Unix-domain listener's token, just below the TCP listeners'.
pub const UNIX_LISTENER: Token = Token(LISTENER_FIRST - LISTENERS_MAX);
/// The highest token a connection may have: below every listener's.
const CONN_TOKEN_MAX: usize = LISTENER_FIRST - LISTENERS_MAX - 1;

/// The mio token of connection `conn`, or an error if the id could alias
/// another source's token.
pub fn conn_token(conn: ConnId) -> io::Result<Token> {
    match usize::try_from(conn) {
        Ok(n) if (1..=CONN_TOKEN_MAX).contains(&n) => Ok(Token(n)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("connection id {conn} is outside the range of connection tokens"),
        )),
    }
}

/// The connection a token stands for, if it is a connection's.
pub fn token_conn(token: Token) -> Option<ConnId> {
    (1..=CONN_TOKEN_MAX)
        .contains(&token.0)
        .then_some(token.0 as ConnId)
}

pub fn listener_token(index: usize) -> Token {
    Token(LISTENER_FIRST - index)
}

pub fn listener_index(token: Token) -> Option<usize> {
    let index = LISTENER_FIRST.checked_sub(token.0)?;
    (index < LISTENERS_MAX).then_some(index)
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

/// One listener of a new set: an open one kept, or a freshly bound one.
enum Slot {
    Kept(usize),
    Fresh(TcpListener),
}

/// An address that could not be bound, and why.
struct BindFailure {
    address: String,
    error: io::Error,
}

/// The listening sockets, each registered under its index's token.
#[derive(Default)]
pub struct Listeners {
    sockets: Vec<TcpListener>,
    /// The Unix-domain listener and its path.
    unix: Option<(UnixListener, String)>,
}

impl Listeners {
    /// Listens on the Unix-domain socket `path` as Redis does: a file left
    /// there is removed first, and `perm` (octal text, `0` for none) is
    /// applied to the new one.
    pub fn listen_unix(&mut self, registry: &Registry, path: &str, perm: &str) -> io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let mode = u32::from_str_radix(perm, 8)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Invalid unixsocketperm"))?;
        let _ = std::fs::remove_file(path);
        let mut listener = UnixListener::bind(path)?;
        if mode != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
        registry.register(&mut listener, UNIX_LISTENER, Interest::READABLE)?;
        self.unix = Some((listener, path.to_string()));
        Ok(())
    }

    /// Accepts one client on the Unix-domain listener, with the path it
    /// listens on; `None` if there is none.
    pub fn accept_unix(&self) -> Option<io::Result<(UnixStream, String)>> {
        let (listener, path) = self.unix.as_ref()?;
        Some(listener.accept().map(|(stream, _)| (stream, path.clone())))
    }

    /// Closes the Unix-domain listener and removes its file, logging as
    /// Redis does at exit.
    pub fn remove_unix(&mut self, registry: &Registry) {
        let Some((mut listener, path)) = self.unix.take() else {
            return;
        };
        let _ = registry.deregister(&mut listener);
        drop(listener);
        logging::log(LogLevel::Notice, "Removing the unix socket file.");
        if let Err(e) = std::fs::remove_file(&path) {
            let reason = e.to_string();
            let reason = reason.split(" (os error").next().unwrap_or_default();
            logging::log(
                LogLevel::Warning,
                &format!("Error removing the unix socket file: {reason}"),
            );
        }
    }

    pub fn len(&self) -> usize {
        self.sockets.len()
    }

    /// Accepts one connection on listener `index`; `None` if there is no
    /// such listener (any more).
    pub fn accept(&self, index: usize) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        self.sockets.get(index).map(TcpListener::accept)
    }

    /// The addresses listened on, in order.
    #[cfg(test)]
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.sockets
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .collect()
    }

    /// Listens on every `bind` address (`-` marks an optional one) on
    /// `port`, instead of the current set; port 0 listens nowhere. On an
    /// error the current set stays, and the failure is logged as Redis logs
    /// it.
    pub fn replace(&mut self, registry: &Registry, bind: &[String], port: u16) -> io::Result<()> {
        let bind = if port == 0 { &[][..] } else { bind };
        let failure = match self.plan(bind, port) {
            Ok(plan) => return self.install(registry, plan),
            Err(failure) => failure,
        };
        let leaving = self.leaving(bind, port);
        let failure = if failure.error.kind() == io::ErrorKind::AddrInUse && !leaving.is_empty() {
            self.close(registry, &leaving);
            match self.plan(bind, port) {
                Ok(plan) => return self.install(registry, plan),
                Err(failure) => {
                    self.reopen(registry, &leaving);
                    failure
                }
            }
        } else {
            failure
        };
        let BindFailure { address, error } = failure;
        let reason = error.to_string();
        let reason = reason.split(" (os error").next().unwrap_or_default();
        logging::log(
            LogLevel::Warning,
            &format!(
                "Warning: Could not create server TCP listening socket {address}:{port}: bind: {reason}"
            ),
        );
        Err(error)
    }

    /// Binds what `bind` asks for that is not open yet, touching nothing.
    fn plan(&self, bind: &[String], port: u16) -> Result<Vec<Slot>, BindFailure> {
        let mut plan = Vec::new();
        for entry in bind.iter().take(LISTENERS_MAX) {
            let optional = entry.starts_with('-');
            let address = entry.trim_start_matches('-');
            let result = socket_address(address, port).and_then(|target| {
                match self.open_at(target, &plan) {
                    Some(index) => Ok(Slot::Kept(index)),
                    None => listen_on(target).map(Slot::Fresh),
                }
            });
            match result {
                Ok(slot) => plan.push(slot),
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
                Err(error) => {
                    return Err(BindFailure {
                        address: address.to_string(),
                        error,
                    })
                }
            }
        }
        Ok(plan)
    }

    /// The open listener on `target` that `plan` does not keep yet.
    fn open_at(&self, target: SocketAddr, plan: &[Slot]) -> Option<usize> {
        (0..self.sockets.len()).find(|&index| {
            self.sockets[index].local_addr().ok() == Some(target)
                && !plan
                    .iter()
                    .any(|slot| matches!(slot, Slot::Kept(k) if *k == index))
        })
    }

    /// Addresses of open listeners on `port` that `bind` does not ask for:
    /// sockets of ours a new bind may collide with.
    fn leaving(&self, bind: &[String], port: u16) -> Vec<SocketAddr> {
        let wanted: Vec<SocketAddr> = bind
            .iter()
            .filter_map(|entry| socket_address(entry.trim_start_matches('-'), port).ok())
            .collect();
        self.sockets
            .iter()
            .filter_map(|l| l.local_addr().ok())
            .filter(|a| a.port() == port && !wanted.contains(a))
            .collect()
    }

    /// Makes `plan` the listening set: kept sockets move to their new
    /// places, fresh ones join, the rest close.
    fn install(&mut self, registry: &Registry, plan: Vec<Slot>) -> io::Result<()> {
        let mut old: Vec<Option<TcpListener>> =
            self.take_all(registry).into_iter().map(Some).collect();
        let sockets = plan
            .into_iter()
            .filter_map(|slot| match slot {
                Slot::Kept(index) => old[index].take(),
                Slot::Fresh(listener) => Some(listener),
            })
            .collect();
        drop(old);
        self.put_all(registry, sockets)
    }

    /// Closes the listeners on `addresses`.
    fn close(&mut self, registry: &Registry, addresses: &[SocketAddr]) {
        let mut sockets = self.take_all(registry);
        sockets.retain(|l| l.local_addr().map_or(true, |a| !addresses.contains(&a)));
        if let Err(e) = self.put_all(registry, sockets) {
            logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
        }
    }

    /// Listens again on `addresses`, closed by [`Listeners::close`].
    fn reopen(&mut self, registry: &Registry, addresses: &[SocketAddr]) {
        let mut sockets = self.take_all(registry);
        for &address in addresses {
            match listen_on(address) {
                Ok(listener) => sockets.push(listener),
                Err(e) => logging::log(
                    LogLevel::Warning,
                    &format!("Failed restoring the listening socket {address}: {e}"),
                ),
            }
        }
        if let Err(e) = self.put_all(registry, sockets) {
            logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
        }
    }

    /// Every listener, deregistered.
    fn take_all(&mut self, registry: &Registry) -> Vec<TcpListener> {
        let mut sockets = std::mem::take(&mut self.sockets);
        for listener in &mut sockets {
            let _ = registry.deregister(listener);
        }
        sockets
    }

    /// Registers `sockets` under their indexes' tokens and keeps them. A
    /// socket that cannot be registered is closed; the first such error is
    /// returned after the others are in place.
    fn put_all(&mut self, registry: &Registry, sockets: Vec<TcpListener>) -> io::Result<()> {
        let mut result = Ok(());
        for mut listener in sockets {
            let token = listener_token(self.sockets.len());
            match registry.register(&mut listener, token, Interest::READABLE) {
                Ok(()) => self.sockets.push(listener),
                Err(e) => {
                    logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
        }
        result
    }
}

/// The queue of connections not yet accepted: Redis's default
/// `tcp-backlog` (the directive is kept as text, not applied).
const LISTEN_BACKLOG: i32 = 511;

/// A listening socket on `address`, as Redis opens one: `SO_REUSEADDR`,
/// and on an IPv6 address `IPV6_V6ONLY`, so that `bind * -::*` listens on
/// both families instead of the IPv6 wildcard colliding with the IPv4 one.
fn listen_on(address: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// The socket address of a `bind` entry on `port`: `*` and `::*` are the
/// IPv4 and IPv6 wildcards, anything else an IP literal.
fn socket_address(address: &str, port: u16) -> io::Result<SocketAddr> {
    let ip: IpAddr = match address {
        "*" => IpAddr::from([0, 0, 0, 0]),
        "::*" => IpAddr::from([0u16; 8]),
        other => other
            .parse()
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "Invalid address"))?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::Poll;

    fn strings(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port()
    }

    /// The Unix-domain listener replaces a stale file, takes its mode,
    /// accepts, and removes its file when closed.
    #[test]
    fn unix_listener_lives_and_goes() {
        use std::os::unix::fs::PermissionsExt;
        let poll = Poll::new().unwrap();
        let dir = std::env::temp_dir().join(format!("redoubt-unix-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("s.sock");
        std::fs::write(&path, b"stale").unwrap();
        let path_text = path.to_str().unwrap();
        let mut listeners = Listeners::default();
        listeners
            .listen_unix(poll.registry(), path_text, "700")
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let _client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        let (_, listened) = listeners
            .accept_unix()
            .expect("a Unix listener")
            .expect("the waiting client");
        assert_eq!(listened, path_text);
        assert!(listeners
            .listen_unix(poll.registry(), path_text, "9x")
            .is_err());
        listeners.remove_unix(poll.registry());
        assert!(!path.exists());
        assert!(listeners.accept_unix().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tokens_of_connections_never_reach_other_sources() {
        assert_eq!(conn_token(1).unwrap(), Token(1));
        assert!(conn_token(0).is_err());
        assert!(conn_token(CONN_TOKEN_MAX as ConnId).is_ok());
        assert!(conn_token(CONN_TOKEN_MAX as ConnId + 1).is_err());
        for index in 0..LISTENERS_MAX {
            let token = listener_token(index);
            assert_eq!(listener_index(token), Some(index));
            assert_eq!(token_conn(token), None);
        }
        assert_eq!(token_conn(WAKER), None);
        assert_eq!(token_conn(SIGNALS), None);
        assert_eq!(listener_index(WAKER), None);
        assert_eq!(listener_index(SIGNALS), None);
        assert_eq!(listener_index(Token(CONN_TOKEN_MAX)), None);
        assert_eq!(listener_index(UNIX_LISTENER), None);
        assert_eq!(token_conn(UNIX_LISTENER), None);
    }

    #[test]
    fn replacing_moves_to_the_new_port_and_keeps_the_old_set_on_error() {
        let poll = Poll::new().unwrap();
        let mut listeners = Listeners::default();
        let first = free_port();
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1"]), first)
            .unwrap();
        assert_eq!(
            listeners.addresses(),
            vec![SocketAddr::from(([127, 0, 0, 1], first))]
        );

        // A port someone else holds: refused, the old socket still listens.
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let taken_port = taken.local_addr().unwrap().port();
        let error = listeners
            .replace(poll.registry(), &strings(&["127.0.0.1"]), taken_port)
            .unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(
            listeners.addresses(),
            vec![SocketAddr::from(([127, 0, 0, 1], first))]
        );
        std::net::TcpStream::connect(("127.0.0.1", first)).expect("old port still listens");

        // An address that is no address: refused the same way.
        assert!(listeners
            .replace(poll.registry(), &strings(&["999.999.999.999"]), first)
            .is_err());
        assert_eq!(listeners.len(), 1);

        // A free port: the old one closes.
        let second = free_port();
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1", "-::1"]), second)
            .unwrap();
        assert!(listeners
            .addresses()
            .contains(&SocketAddr::from(([127, 0, 0, 1], second))));
        assert!(std::net::TcpStream::connect(("127.0.0.1", first)).is_err());
        std::net::TcpStream::connect(("127.0.0.1", second)).expect("new port listens");

        // Port 0 listens nowhere, as Redis's CONFIG SET port 0 does.
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1"]), 0)
            .unwrap();
        assert_eq!(listeners.len(), 0);
        assert!(std::net::TcpStream::connect(("127.0.0.1", second)).is_err());
    }

    #[test]
    fn an_address_asked_for_again_keeps_its_socket() {
        let poll = Poll::new().unwrap();
        let mut listeners = Listeners::default();
        let port = free_port();
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1"]), port)
            .unwrap();
        // A client waiting in the backlog survives the replacement.
        let _waiting = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1", "-::1"]), port)
            .unwrap();
        assert_eq!(
            listeners.addresses()[0],
            SocketAddr::from(([127, 0, 0, 1], port))
        );
        let (accepted, _) = listeners.accept(0).unwrap().expect("the waiting client");
        drop(accepted);
    }

    /// Redis's default `bind * -::*`: both wildcards on one port, the IPv6
    /// one only for IPv6 (it used to collide with the IPv4 one).
    #[test]
    fn both_wildcards_listen_on_one_port() {
        let poll = Poll::new().unwrap();
        let mut listeners = Listeners::default();
        let port = free_port();
        listeners
            .replace(poll.registry(), &strings(&["*", "-::*"]), port)
            .unwrap();
        let mut expected = vec![SocketAddr::from(([0, 0, 0, 0], port))];
        if std::net::TcpListener::bind("[::1]:0").is_ok() {
            expected.push(SocketAddr::from(([0u16; 8], port)));
        }
        assert_eq!(listeners.addresses(), expected);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    }

    #[test]
    fn a_wildcard_can_narrow_to_one_address_on_the_same_port() {
        let poll = Poll::new().unwrap();
        let mut listeners = Listeners::default();
        let port = free_port();
        listeners
            .replace(poll.registry(), &strings(&["*"]), port)
            .unwrap();
        listeners
            .replace(poll.registry(), &strings(&["127.0.0.1"]), port)
            .unwrap();
        assert_eq!(
            listeners.addresses(),
            vec![SocketAddr::from(([127, 0, 0, 1], port))]
        );
        listeners
            .replace(poll.registry(), &strings(&["*"]), port)
            .unwrap();
        assert_eq!(
            listeners.addresses(),
            vec![SocketAddr::from(([0, 0, 0, 0], port))]
        );
    }
}
