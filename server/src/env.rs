//! `RealEnv`: core's `Env` over the operating system.
//!
//! * Clock: monotonic milliseconds from an `Instant` taken at start, wall
//!   time from `SystemTime`.
//! * Disk: `std::fs` behind a table of `FileId`s; writes append; fsync is
//!   `fdatasync` (Redis's `redis_fsync` on Linux); background fsyncs and
//!   closes go to the one [`Bio`] thread; free space from `statvfs`.
//! * Net: the table of client sockets (TCP, or the Unix-domain socket:
//!   [`Stream`]) with their unsent output. `send`
//!   writes straight to the socket when nothing is queued (it is called from
//!   `before_sleep`, after the work that must precede replies) and queues
//!   the rest behind writable interest; `close` closes once the queue is
//!   empty. A socket that fails while writing is reported back to the event
//!   loop, which tells core with `on_closed`. `connect` opens a
//!   non-blocking outgoing socket under the id core chose; it is
//!   *connecting* until its first readiness event, when
//!   [`RealEnv::connect_progress`] checks `take_error` and `peer_addr` (mio's
//!   recipe) and the event loop reports `on_connected` or `on_closed`. From
//!   then on it is a connection like an accepted one. Output sent while it
//!   connects waits in its queue. The listening sockets live here too
//!   ([`Listeners`]), so that `listen` can replace them at run time.
//! * Random: ChaCha8 seeded once from `/dev/urandom`.
//! * Host: the counting allocator, the pid, and the log sink.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mio::event::Source;
use mio::net::{TcpStream, UnixStream};
use mio::{Interest, Registry, Token, Waker};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use redoubt_core::env::{
    Clock, ConnId, CpuUsage, Disk, DiskOpId, FileId, Host, LogLevel, Net, OpenMode, PipeId, Random,
};

use crate::bio::Bio;
use crate::listeners::{conn_token, Listeners};
use crate::pipes::Pipes;
use crate::{logging, memory};

/// Bytes read and discarded from a socket that is being closed, so the
/// kernel sends FIN rather than RST and the peer reads our last reply.
const CLOSE_DRAIN_BYTES_MAX: usize = 64 * 1024;

/// A client's socket: TCP, or the Unix-domain socket (`unixsocket`).
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.shutdown(how),
            Stream::Unix(stream) => stream.shutdown(how),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(stream) => stream.take_error(),
            Stream::Unix(stream) => stream.take_error(),
        }
    }

    /// Whether the socket is connected (only an outgoing TCP one may not
    /// be yet).
    fn connected(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.peer_addr().map(drop),
            Stream::Unix(_) => Ok(()),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.read(buf),
            Stream::Unix(stream) => stream.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => stream.write(buf),
            Stream::Unix(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.flush(),
            Stream::Unix(stream) => stream.flush(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.register(registry, token, interest),
            Stream::Unix(stream) => stream.register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.reregister(registry, token, interest),
            Stream::Unix(stream) => stream.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.deregister(registry),
            Stream::Unix(stream) => stream.deregister(registry),
        }
    }
}

/// One client socket and the output it has not taken yet.
pub struct Connection {
    pub stream: Stream,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    out_sent: usize,
    /// Core asked to close once `out` is written.
    pub closing: bool,
    writable_interest: bool,
    /// An outgoing connection whose connect has not completed yet.
    connecting: bool,
}

impl Connection {
    fn new(stream: Stream) -> Self {
        Connection {
            stream,
            out: Vec::new(),
            out_sent: 0,
            closing: false,
            writable_interest: false,
            connecting: false,
        }
    }

    fn has_output(&self) -> bool {
        self.out_sent < self.out.len()
    }

    /// Writes queued output until done or the socket is full; while
    /// connecting, keeps it queued.
    fn write_queued(&mut self) -> io::Result<()> {
        if self.connecting {
            return Ok(());
        }
        while self.has_output() {
            match self.stream.write(&self.out[self.out_sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_sent = 0;
        Ok(())
    }

    /// Writes `data` straight from the caller's buffer when nothing is
    /// queued before it (no copy), queueing what the socket does not take.
    fn write_now(&mut self, data: &[u8]) -> io::Result<()> {
        let mut sent = 0;
        if !self.connecting {
            while sent < data.len() {
                match self.stream.write(&data[sent..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if sent < data.len() {
            self.out.clear();
            self.out_sent = 0;
            self.out.extend_from_slice(&data[sent..]);
        }
        Ok(())
    }

    /// Sends FIN, drains what the peer sent meanwhile, and drops the socket.
    fn finish_close(mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut scratch = [0u8; 4096];
        let mut drained = 0;
        while drained < CLOSE_DRAIN_BYTES_MAX {
            match self.stream.read(&mut scratch) {
                Ok(n) if n > 0 => drained += n,
                _ => break,
            }
        }
    }
}

/// The operating system, as core sees it.
pub struct RealEnv {
    started: Instant,
    files: BTreeMap<FileId, File>,
    next_file_id: FileId,
    bio: Bio,
    registry: Registry,
    connections: HashMap<ConnId, Connection>,
    /// An accepted socket whose id core is choosing in `on_accept`.
    accepting: Option<Stream>,
    /// Connections that failed while writing, for `on_closed`.
    failed: Vec<ConnId>,
    listeners: Listeners,
    random: ChaCha8Rng,
    pipes: Pipes,
}

/// Where an outgoing connection stands after a readiness event.
#[derive(Debug)]
pub enum Outgoing {
    /// Not connected yet; the next event will tell.
    Waiting,
    /// Connected: core hears `on_connected`.
    Connected,
    /// The connect failed: core hears `on_closed`.
    Failed(io::Error),
    /// Core closed it while it was connecting: nothing to report.
    Abandoned,
}

impl RealEnv {
    /// An environment whose sockets register with `registry` and whose
    /// background thread wakes `waker`.
    pub fn new(registry: Registry, waker: Arc<Waker>) -> io::Result<Self> {
        Ok(RealEnv {
            started: Instant::now(),
            files: BTreeMap::new(),
            next_file_id: 1,
            bio: Bio::start(Arc::clone(&waker))?,
            pipes: Pipes::new(waker),
            registry,
            connections: HashMap::new(),
            accepting: None,
            failed: Vec::new(),
            listeners: Listeners::default(),
            random: ChaCha8Rng::from_seed(os_seed()),
        })
    }

    /// Holds `stream` while core assigns it an id in `on_accept`; any send
    /// or close core makes for the new id during that call finds it here.
    pub fn begin_accept(&mut self, stream: Stream) {
        self.accepting = Some(stream);
    }

    /// Files the accepted socket under the id core chose and starts reading
    /// it (unless core already took it, to refuse the client).
    pub fn finish_accept(&mut self, conn: ConnId) -> io::Result<()> {
        if self.accepting.is_some() {
            self.adopt_accepting(conn)?;
        }
        Ok(())
    }

    fn adopt_accepting(&mut self, conn: ConnId) -> io::Result<()> {
        let Some(mut stream) = self.accepting.take() else {
            return Ok(());
        };
        self.registry
            .register(&mut stream, conn_token(conn)?, Interest::READABLE)?;
        self.connections.insert(conn, Connection::new(stream));
        Ok(())
    }

    /// The connection `conn`, adopting the socket being accepted if core
    /// addresses it before `on_accept` returned.
    fn connection(&mut self, conn: ConnId) -> Option<&mut Connection> {
        if !self.connections.contains_key(&conn) && self.accepting.is_some() {
            if let Err(e) = self.adopt_accepting(conn) {
                logging::log(LogLevel::Warning, &format!("Error registering fd: {e}"));
                return None;
            }
        }
        self.connections.get_mut(&conn)
    }

    /// The socket of `conn` for reading, unless core is closing it or it
    /// is still connecting.
    pub fn readable_stream(&mut self, conn: ConnId) -> Option<&mut Stream> {
        self.connections
            .get_mut(&conn)
            .filter(|c| !c.closing && !c.connecting)
            .map(|c| &mut c.stream)
    }

    /// Listens on `bind` addresses and `port` instead of the current ones
    /// (see [`Listeners::replace`]).
    pub fn replace_listeners(&mut self, bind: &[String], port: u16) -> io::Result<()> {
        self.listeners.replace(&self.registry, bind, port)
    }

    /// Listens on the Unix-domain socket `path` too (see
    /// [`Listeners::listen_unix`]).
    pub fn listen_unix(&mut self, path: &str, perm: &str) -> io::Result<()> {
        self.listeners.listen_unix(&self.registry, path, perm)
    }

    /// Accepts one client on the Unix-domain listener, with its path.
    pub fn accept_unix(&mut self) -> Option<io::Result<(UnixStream, String)>> {
        self.listeners.accept_unix()
    }

    /// Closes the Unix-domain listener and removes its file.
    pub fn remove_unix(&mut self) {
        self.listeners.remove_unix(&self.registry);
    }

    /// How many sockets listen.
    pub fn listener_count(&self) -> usize {
        self.listeners.len()
    }

    /// Accepts one client on listener `index`; `None` if there is no such
    /// listener (any more: `CONFIG SET port` replaced it).
    pub fn accept(&mut self, index: usize) -> Option<io::Result<(TcpStream, SocketAddr)>> {
        self.listeners.accept(index)
    }

    /// After a readiness event on `conn`: `None` if it is not an outgoing
    /// connection still connecting, else whether its connect completed.
    /// mio's recipe: an error from `take_error` is the connect's failure;
    /// otherwise `peer_addr` answers once it is connected, and
    /// `NotConnected` means not yet.
    pub fn connect_progress(&mut self, conn: ConnId) -> Option<Outgoing> {
        let connection = self.connections.get_mut(&conn)?;
        if !connection.connecting {
            return None;
        }
        let outcome = match connection.stream.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match connection.stream.connected() {
                Ok(_) => Ok(true),
                Err(e)
                    if e.kind() == io::ErrorKind::NotConnected
                        || e.raw_os_error() == Some(libc::EINPROGRESS) =>
                {
                    Ok(false)
                }
                Err(e) => Err(e),
            },
        };
        match outcome {
            Ok(false) => Some(Outgoing::Waiting),
            Ok(true) => {
                connection.connecting = false;
                // Registered for both while connecting; from here on
                // `after_write` keeps the interest, starting with the
                // `on_writable` that writes what was queued meanwhile.
                connection.writable_interest = true;
                if connection.closing {
                    // Core closed it while it connected, output queued:
                    // deliver that, then close; core expects no event.
                    self.on_writable(conn);
                    return Some(Outgoing::Abandoned);
                }
                Some(Outgoing::Connected)
            }
            Err(e) => {
                let connection = self.connections.remove(&conn)?;
                if connection.closing {
                    return Some(Outgoing::Abandoned);
                }
                Some(Outgoing::Failed(e))
            }
        }
    }

    /// Forgets a connection the peer closed (core hears of it separately).
    pub fn drop_connection(&mut self, conn: ConnId) {
        self.connections.remove(&conn);
    }

    /// The socket took more output: write what is queued, then finish a
    /// close core asked for.
    pub fn on_writable(&mut self, conn: ConnId) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        if let Err(e) = connection.write_queued() {
            self.fail(conn, &e);
            return;
        }
        self.after_write(conn);
    }

    /// Connections that failed while writing since the last call.
    pub fn take_failed(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.failed)
    }

    /// PIPESAVE commands that exited.
    pub fn pipe_exits(&self) -> Vec<(PipeId, io::Result<i32>)> {
        self.pipes.exits()
    }

    /// Completed background disk operations.
    pub fn completed_disk_ops(&self) -> Vec<(DiskOpId, io::Result<()>)> {
        self.bio.completed()
    }

    /// Last chance at exit: writes what each socket takes without waiting.
    pub fn flush_all(&mut self) {
        let ids: Vec<ConnId> = self.connections.keys().copied().collect();
        for conn in ids {
            self.on_writable(conn);
        }
    }

    fn fail(&mut self, conn: ConnId, error: &io::Error) {
        if let Some(connection) = self.connections.remove(&conn) {
            logging::log(
                LogLevel::Verbose,
                &format!("Error writing to client: {error}"),
            );
            if !connection.closing {
                self.failed.push(conn);
            }
        }
    }

    /// Keeps writable interest exactly while output is queued, and closes a
    /// closing connection once its output is gone. A connecting socket
    /// keeps both interests until its connect completes.
    fn after_write(&mut self, conn: ConnId) {
        let Some(connection) = self.connections.get_mut(&conn) else {
            return;
        };
        let pending = connection.has_output();
        if !pending && connection.closing {
            if let Some(connection) = self.connections.remove(&conn) {
                connection.finish_close();
            }
            return;
        }
        if connection.connecting {
            return;
        }
        if pending == connection.writable_interest {
            return;
        }
        let interest = match (pending, connection.closing) {
            (true, true) => Interest::WRITABLE,
            (true, false) => Interest::READABLE | Interest::WRITABLE,
            (false, _) => Interest::READABLE,
        };
        connection.writable_interest = pending;
        if let Err(e) = self
            .registry
            .reregister(&mut connection.stream, token(conn), interest)
        {
            self.fail(conn, &e);
        }
    }
}

/// The mio token of a connection: its id.
pub fn token(conn: ConnId) -> Token {
    Token(conn as usize)
}

/// 32 bytes from the kernel's entropy pool; time and pid if that fails.
fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    let read = File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut seed));
    if read.is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as u64;
        seed[..8].copy_from_slice(&nanos.to_le_bytes());
        seed[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    seed
}

impl Clock for RealEnv {
    fn monotonic_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn wall_ms(&self) -> i64 {
        self.wall_us() / 1000
    }

    fn monotonic_us(&self) -> u64 {
        self.started.elapsed().as_micros() as u64
    }

    fn wall_us(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i64,
            Err(e) => -(e.duration().as_micros() as i64),
        }
    }
}

fn bad_file(file: FileId) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("unknown file id {file}"),
    )
}

impl RealEnv {
    fn file(&self, file: FileId) -> io::Result<&File> {
        self.files.get(&file).ok_or_else(|| bad_file(file))
    }
}

impl Disk for RealEnv {
    fn open(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId> {
        let file = match mode {
            OpenMode::Read => File::open(path)?,
            OpenMode::Append | OpenMode::CreateTruncate => {
                let file = OpenOptions::new()
                    .read(true)
                    .append(true)
                    .create(true)
                    .open(path)?;
                if mode == OpenMode::CreateTruncate {
                    file.set_len(0)?;
                }
                file
            }
        };
        let id = self.next_file_id;
        self.next_file_id += 1;
        self.files.insert(id, file);
        Ok(id)
    }

    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        let mut handle = self.file(file)?;
        loop {
            match handle.write(data) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file(file)?.read_at(buf, offset)
    }

    fn size(&mut self, file: FileId) -> io::Result<u64> {
        Ok(self.file(file)?.metadata()?.len())
    }

    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()> {
        self.file(file)?.set_len(len)
    }

    fn fsync(&mut self, file: FileId) -> io::Result<()> {
        self.file(file)?.sync_data()
    }

    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()> {
        let handle = self.file(file)?.try_clone()?;
        self.bio.fsync(op, handle)
    }

    fn close_file(&mut self, file: FileId) -> io::Result<()> {
        let handle = self.files.remove(&file).ok_or_else(|| bad_file(file))?;
        self.bio.close(handle);
        Ok(())
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&mut self, path: &str) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&mut self, dir: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn create_dir(&mut self, dir: &str) -> io::Result<()> {
        fs::create_dir(dir)
    }

    fn fsync_dir(&mut self, dir: &str) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn free_space(&mut self, path: &str) -> io::Result<u64> {
        let c_path = std::ffi::CString::new(path)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: statvfs writes only into the struct we own, and a zeroed
        // statvfs is a valid value of that plain C struct.
        let stats = unsafe {
            let mut stats: libc::statvfs = std::mem::zeroed();
            if libc::statvfs(c_path.as_ptr(), &mut stats) != 0 {
                return Err(io::Error::last_os_error());
            }
            stats
        };
        Ok((stats.f_bavail as u64).saturating_mul(stats.f_frsize as u64))
    }
}

/// Most bytes read from one connection by one busy poll.
const BUSY_POLL_BYTES_MAX: usize = 64 * 1024;

impl Net for RealEnv {
    fn busy_poll(&mut self, conns: &[ConnId]) -> Vec<(ConnId, Vec<u8>)> {
        let mut arrived = Vec::new();
        let mut buffer = [0u8; 16 * 1024];
        for &conn in conns {
            let Some(stream) = self.readable_stream(conn) else {
                continue;
            };
            let mut bytes = Vec::new();
            // Until the socket is empty: its readiness is edge-triggered,
            // and the loop, once back, reads whatever came after. An end
            // of stream or an error is left for the loop to find again.
            while bytes.len() < BUSY_POLL_BYTES_MAX {
                match stream.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => bytes.extend_from_slice(&buffer[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            if !bytes.is_empty() {
                arrived.push((conn, bytes));
            }
        }
        arrived
    }

    fn send(&mut self, conn: ConnId, data: &[u8]) {
        let Some(connection) = self.connection(conn) else {
            return;
        };
        if connection.closing {
            return;
        }
        let result = if connection.has_output() {
            connection.out.extend_from_slice(data);
            connection.write_queued()
        } else {
            connection.write_now(data)
        };
        if let Err(e) = result {
            self.fail(conn, &e);
            return;
        }
        self.after_write(conn);
    }

    fn close(&mut self, conn: ConnId) {
        let Some(connection) = self.connection(conn) else {
            return;
        };
        connection.closing = true;
        self.after_write(conn);
    }
    fn backlog_bytes(&self, conn: ConnId) -> u64 {
        self.connections
            .get(&conn)
            .map_or(0, |c| (c.out.len() - c.out_sent) as u64)
    }

    fn connect(&mut self, conn: ConnId, addr: &str) -> io::Result<()> {
        let token = conn_token(conn)?;
        if self.connections.contains_key(&conn) {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("connection id {conn} is in use"),
            ));
        }
        let mut last_error = None;
        for target in resolve(addr)? {
            // A failure here is immediate (no route, no such family); one
            // that takes time arrives with the first readiness event.
            let mut stream = match TcpStream::connect(target) {
                Ok(stream) => stream,
                Err(e) => {
                    last_error = Some(e);
                    continue;
                }
            };
            // As for accepted clients: small messages, latency first.
            let _ = stream.set_nodelay(true);
            self.registry
                .register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
            let mut connection = Connection::new(Stream::Tcp(stream));
            connection.connecting = true;
            connection.writable_interest = true;
            self.connections.insert(conn, connection);
            logging::log(LogLevel::Verbose, &format!("Connecting to {target}"));
            return Ok(());
        }
        Err(last_error.unwrap_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{addr}: the name resolves to no address"),
            )
        }))
    }

    fn listen(&mut self, bind: &[String], port: u16) -> io::Result<()> {
        self.replace_listeners(bind, port)
    }
}

/// The socket addresses of `host:port`: the host is an IPv4 or IPv6
/// literal (bracketed or not: the port follows the last colon) or a name,
/// resolved by the system resolver.
fn resolve(addr: &str) -> io::Result<Vec<SocketAddr>> {
    let invalid = || {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr:?} is not host:port"),
        )
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(invalid)?;
    let port: u16 = port.parse().map_err(|_| invalid())?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(invalid());
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok((host, port).to_socket_addrs()?.collect())
}

impl Random for RealEnv {
    fn random_u64(&mut self) -> u64 {
        self.random.next_u64()
    }
}

impl Host for RealEnv {
    fn used_memory_bytes(&self, _dataset_bytes: u64) -> u64 {
        memory::used_bytes()
    }

    fn used_memory_peak_bytes(&self, _dataset_bytes: u64) -> u64 {
        memory::peak_bytes()
    }

    fn process_id(&self) -> u32 {
        std::process::id()
    }

    fn resident_bytes(&self, _dataset_bytes: u64) -> u64 {
        // The second field of /proc/self/statm: resident pages.
        let pages = fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok());
        // SAFETY: sysconf reads a constant of the system.
        let page_bytes = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        match pages {
            Some(pages) if page_bytes > 0 => pages * page_bytes as u64,
            _ => memory::used_bytes(),
        }
    }

    fn cpu_usage(&self) -> CpuUsage {
        let (sys_us, user_us) = rusage(libc::RUSAGE_SELF);
        let (children_sys_us, children_user_us) = rusage(libc::RUSAGE_CHILDREN);
        let (main_thread_sys_us, main_thread_user_us) = rusage(libc::RUSAGE_THREAD);
        CpuUsage {
            sys_us,
            user_us,
            children_sys_us,
            children_user_us,
            main_thread_sys_us,
            main_thread_user_us,
        }
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        logging::log(level, message);
    }

    fn role_changed(&mut self, replica: bool) {
        logging::set_role_replica(replica);
    }

    fn script_started(&mut self, busy_after_ms: u64) {
        crate::busy::script_started(busy_after_ms);
    }

    fn script_finished(&mut self) {
        crate::busy::script_finished();
    }

    fn stall_ms(&mut self, ms: u64) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }

    fn pipe_open(&mut self, pipe: PipeId, command: &str) -> io::Result<()> {
        self.pipes.open(pipe, command)
    }

    fn pipe_write(&mut self, pipe: PipeId, data: &[u8]) {
        self.pipes.write(pipe, data);
    }

    fn pipe_backlog(&self, pipe: PipeId) -> u64 {
        self.pipes.backlog(pipe)
    }

    fn pipe_close(&mut self, pipe: PipeId, abort: bool) {
        self.pipes.close(pipe, abort);
    }
}

/// `getrusage(who)`: (system, user) CPU time in microseconds; zeros if the
/// call fails. `RUSAGE_THREAD` is the calling thread, which runs the node.
fn rusage(who: libc::c_int) -> (u64, u64) {
    // SAFETY: `getrusage` only writes the struct it is given, which is
    // zero-initialised plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut usage) } != 0 {
        return (0, 0);
    }
    let micros = |tv: libc::timeval| tv.tv_sec.max(0) as u64 * 1_000_000 + tv.tv_usec.max(0) as u64;
    (micros(usage.ru_stime), micros(usage.ru_utime))
}

#[cfg(test)]
mod tests {
    //! The outgoing connection state machine against real sockets: the
    //! event loop's part (turning `Outgoing` into core's events) is a match
    //! on what these return.

    use super::*;
    use mio::{Events, Poll};
    use std::time::{Duration, Instant};

    const WAKER_TOKEN: Token = crate::listeners::WAKER;
    const DEADLINE: Duration = Duration::from_secs(10);

    fn env(poll: &Poll) -> RealEnv {
        let waker = Waker::new(poll.registry(), WAKER_TOKEN).unwrap();
        RealEnv::new(poll.registry().try_clone().unwrap(), Arc::new(waker)).unwrap()
    }

    /// Polls until `conn`'s connect completes one way or the other, as the
    /// event loop does: each event on its token asks `connect_progress`.
    fn settle(poll: &mut Poll, env: &mut RealEnv, conn: ConnId) -> Outgoing {
        let mut events = Events::with_capacity(16);
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            poll.poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            for event in events.iter() {
                if event.token() != token(conn) {
                    continue;
                }
                match env
                    .connect_progress(conn)
                    .expect("still an outgoing connection")
                {
                    Outgoing::Waiting => {}
                    outcome => return outcome,
                }
            }
        }
        panic!("connect did not complete within {DEADLINE:?}");
    }

    /// Reads what the peer sent to `conn` until `want` bytes arrived.
    fn read_from(poll: &mut Poll, env: &mut RealEnv, conn: ConnId, want: usize) -> Vec<u8> {
        let mut events = Events::with_capacity(16);
        let mut got = Vec::new();
        let deadline = Instant::now() + DEADLINE;
        while got.len() < want && Instant::now() < deadline {
            let mut buf = [0u8; 1024];
            match env.readable_stream(conn).expect("readable").read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    poll.poll(&mut events, Some(Duration::from_millis(100)))
                        .unwrap();
                }
                Err(e) => panic!("read: {e}"),
            }
        }
        got
    }

    fn peer_read(stream: &mut std::net::TcpStream, want: usize) -> Vec<u8> {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut got = vec![0u8; want];
        stream.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn connects_by_ip_literal_and_then_behaves_like_a_client_connection() {
        let mut poll = Poll::new().unwrap();
        let mut env = env(&poll);
        let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("127.0.0.1:{}", peer.local_addr().unwrap().port());

        env.connect(7, &addr).unwrap();
        assert!(
            env.readable_stream(7).is_none(),
            "not readable while connecting"
        );
        // Sent before the connect completed: queued, delivered after.
        env.send(7, b"early ");
        assert_eq!(env.backlog_bytes(7), 6);
        assert!(matches!(
            settle(&mut poll, &mut env, 7),
            Outgoing::Connected
        ));
        assert!(
            env.connect_progress(7).is_none(),
            "connected: a plain connection now"
        );
        env.on_writable(7);
        assert_eq!(env.backlog_bytes(7), 0);
        env.send(7, b"late");

        let (mut accepted, _) = peer.accept().unwrap();
        assert_eq!(peer_read(&mut accepted, 10), b"early late");
        accepted.write_all(b"+PONG\r\n").unwrap();
        assert_eq!(read_from(&mut poll, &mut env, 7, 7), b"+PONG\r\n");

        // The peer closes: reading sees the end, as for a client (the
        // event loop then forgets it and tells core `on_closed`).
        drop(accepted);
        assert_eq!(read_from(&mut poll, &mut env, 7, 1), b"");
        env.drop_connection(7);

        // Close asked by core: the peer reads what was sent, then the end.
        env.connect(8, &addr).unwrap();
        assert!(matches!(
            settle(&mut poll, &mut env, 8),
            Outgoing::Connected
        ));
        let (mut second, _) = peer.accept().unwrap();
        env.send(8, b"bye");
        env.close(8);
        second.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut rest = Vec::new();
        second.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"bye");
    }

    #[test]
    fn connects_by_name_and_by_bracketed_ipv6_literal() {
        let mut poll = Poll::new().unwrap();
        let mut env = env(&poll);
        let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = peer.local_addr().unwrap().port();
        env.connect(1, &format!("localhost:{port}")).unwrap();
        assert!(matches!(
            settle(&mut poll, &mut env, 1),
            Outgoing::Connected
        ));

        // IPv6 only where the host has it.
        if let Ok(peer6) = std::net::TcpListener::bind("[::1]:0") {
            let port6 = peer6.local_addr().unwrap().port();
            env.connect(2, &format!("[::1]:{port6}")).unwrap();
            assert!(matches!(
                settle(&mut poll, &mut env, 2),
                Outgoing::Connected
            ));
            env.connect(3, &format!("::1:{port6}")).unwrap();
            assert!(matches!(
                settle(&mut poll, &mut env, 3),
                Outgoing::Connected
            ));
        }
    }

    #[test]
    fn a_refused_connect_fails_after_the_event_and_bad_addresses_at_once() {
        let mut poll = Poll::new().unwrap();
        let mut env = env(&poll);
        // A port nobody listens on: bound, then released.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        env.connect(5, &format!("127.0.0.1:{port}")).unwrap();
        match settle(&mut poll, &mut env, 5) {
            Outgoing::Failed(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused),
            other => panic!("expected a refused connect, got {other:?}"),
        }
        assert!(env.connect_progress(5).is_none(), "forgotten after failing");
        env.send(5, b"dropped");
        assert_eq!(env.backlog_bytes(5), 0);

        for bad in ["no-port", "127.0.0.1:", "127.0.0.1:99999", ":6379"] {
            assert!(env.connect(6, bad).is_err(), "{bad}");
        }
        // Ids that would alias the listeners' or the waker's tokens.
        assert!(env.connect(0, &format!("127.0.0.1:{port}")).is_err());
        assert!(env.connect(u64::MAX, &format!("127.0.0.1:{port}")).is_err());
    }

    #[test]
    fn closing_while_connecting_reports_nothing() {
        let mut poll = Poll::new().unwrap();
        let mut env = env(&poll);
        let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("127.0.0.1:{}", peer.local_addr().unwrap().port());

        // Nothing queued: gone at once.
        env.connect(1, &addr).unwrap();
        env.close(1);
        assert!(env.connect_progress(1).is_none());

        // Output queued: delivered once connected, then closed.
        env.connect(2, &addr).unwrap();
        env.send(2, b"last words");
        env.close(2);
        assert!(matches!(
            settle(&mut poll, &mut env, 2),
            Outgoing::Abandoned
        ));
        // The first connection may or may not have reached the listener.
        peer.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + DEADLINE;
        loop {
            assert!(Instant::now() < deadline, "the queued output never arrived");
            let Ok((mut accepted, _)) = peer.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            accepted.set_nonblocking(false).unwrap();
            accepted.set_read_timeout(Some(DEADLINE)).unwrap();
            let mut got = Vec::new();
            let _ = accepted.read_to_end(&mut got);
            if got == b"last words" {
                break;
            }
        }
    }
}
