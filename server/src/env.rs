//! `RealEnv`: core's `Env` over the operating system.
//!
//! * Clock: monotonic milliseconds from an `Instant` taken at start, wall
//!   time from `SystemTime`.
//! * Disk: `std::fs` behind a table of `FileId`s; writes append; fsync is
//!   `fdatasync` (Redis's `redis_fsync` on Linux); background fsyncs and
//!   closes go to the one [`Bio`] thread; free space from `statvfs`.
//! * Net: the table of client sockets with their unsent output. `send`
//!   writes straight to the socket when nothing is queued (it is called from
//!   `before_sleep`, after the work that must precede replies) and queues
//!   the rest behind writable interest; `close` closes once the queue is
//!   empty. A socket that fails while writing is reported back to the event
//!   loop, which tells core with `on_closed`.
//! * Random: ChaCha8 seeded once from `/dev/urandom`.
//! * Host: the counting allocator, the pid, and the log sink.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mio::net::TcpStream;
use mio::{Interest, Registry, Token, Waker};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use redoubt_core::env::{
    Clock, ConnId, Disk, DiskOpId, FileId, Host, LogLevel, Net, OpenMode, Random,
};

use crate::bio::Bio;
use crate::{logging, memory};

/// Bytes read and discarded from a socket that is being closed, so the
/// kernel sends FIN rather than RST and the peer reads our last reply.
const CLOSE_DRAIN_BYTES_MAX: usize = 64 * 1024;

/// One client socket and the output it has not taken yet.
pub struct Connection {
    pub stream: TcpStream,
    out: Vec<u8>,
    /// Bytes of `out` already written.
    out_sent: usize,
    /// Core asked to close once `out` is written.
    pub closing: bool,
    writable_interest: bool,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Connection {
            stream,
            out: Vec::new(),
            out_sent: 0,
            closing: false,
            writable_interest: false,
        }
    }

    fn has_output(&self) -> bool {
        self.out_sent < self.out.len()
    }

    /// Writes queued output until done or the socket is full.
    fn write_queued(&mut self) -> io::Result<()> {
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
    accepting: Option<TcpStream>,
    /// Connections that failed while writing, for `on_closed`.
    failed: Vec<ConnId>,
    random: ChaCha8Rng,
}

impl RealEnv {
    /// An environment whose sockets register with `registry` and whose
    /// background thread wakes `waker`.
    pub fn new(registry: Registry, waker: Arc<Waker>) -> io::Result<Self> {
        Ok(RealEnv {
            started: Instant::now(),
            files: BTreeMap::new(),
            next_file_id: 1,
            bio: Bio::start(waker)?,
            registry,
            connections: HashMap::new(),
            accepting: None,
            failed: Vec::new(),
            random: ChaCha8Rng::from_seed(os_seed()),
        })
    }

    /// Holds `stream` while core assigns it an id in `on_accept`; any send
    /// or close core makes for the new id during that call finds it here.
    pub fn begin_accept(&mut self, stream: TcpStream) {
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
            .register(&mut stream, token(conn), Interest::READABLE)?;
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

    /// The socket of `conn` for reading, unless core is closing it.
    pub fn readable_stream(&mut self, conn: ConnId) -> Option<&mut TcpStream> {
        self.connections
            .get_mut(&conn)
            .filter(|c| !c.closing)
            .map(|c| &mut c.stream)
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
    /// closing connection once its output is gone.
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

impl Net for RealEnv {
    fn send(&mut self, conn: ConnId, data: &[u8]) {
        let Some(connection) = self.connection(conn) else {
            return;
        };
        if connection.closing {
            return;
        }
        connection.out.extend_from_slice(data);
        if let Err(e) = connection.write_queued() {
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

    fn connect(&mut self, _conn: ConnId, addr: &str) -> io::Result<()> {
        // Node has no `on_connected` event yet to report success to, so
        // outgoing connections (replication) cannot be offered honestly.
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("outgoing connections are not supported yet ({addr})"),
        ))
    }
}

impl Random for RealEnv {
    fn random_u64(&mut self) -> u64 {
        self.random.next_u64()
    }
}

impl Host for RealEnv {
    fn used_memory_bytes(&self) -> u64 {
        memory::used_bytes()
    }

    fn used_memory_peak_bytes(&self) -> u64 {
        memory::peak_bytes()
    }

    fn process_id(&self) -> u32 {
        std::process::id()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        logging::log(level, message);
    }
}
