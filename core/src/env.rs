//! The only door between core and the world.
//!
//! Core reads time, touches files, talks to peers and draws randomness only
//! through the traits here. The production driver (`redoubt-server`) plugs in
//! the system clock, real files and sockets; the simulator plugs in a
//! simulated clock, disk and network under a seed. Because nothing else leaks
//! in, the same seed replays the same run byte for byte.
//!
//! Every disk call returns an `io::Result`: ENOSPC, EIO and short writes are
//! ordinary results that core must handle, never panics.

use std::io;

/// A client or peer connection. Core allocates ids (they are Redis's
/// `CLIENT ID`s), so ids are deterministic under simulation.
pub type ConnId = u64;

/// An open file handle handed out by [`Disk::open`].
pub type FileId = u64;

/// Names a PIPESAVE command started with [`Host::pipe_open`].
pub type PipeId = u64;

/// Names a background disk operation; its result arrives through
/// `Node::on_disk_done`.
pub type DiskOpId = u64;

/// Time, in two separate kinds, as Redis uses them.
pub trait Clock {
    /// Milliseconds since an arbitrary origin; never goes backwards. Used for
    /// fsync scheduling, timeouts and replication lag.
    fn monotonic_ms(&self) -> u64;
    /// Milliseconds since the Unix epoch; may jump either way. Used for
    /// absolute expiry times (`PEXPIREAT`) and `TIME`.
    fn wall_ms(&self) -> i64;
    /// Microseconds since the Unix epoch, for `TIME` and
    /// `server_time_usec`. Defaults to the millisecond clock.
    fn wall_us(&self) -> i64 {
        self.wall_ms().saturating_mul(1000)
    }
    /// Microseconds since the origin of [`Clock::monotonic_ms`]; never
    /// goes backwards. Times commands for SLOWLOG, LATENCY and INFO
    /// commandstats. Defaults to the millisecond clock (a simulated clock
    /// then sees no time pass inside a command).
    fn monotonic_us(&self) -> u64 {
        self.monotonic_ms().saturating_mul(1000)
    }
}

/// CPU time the process has used, as `getrusage` reports it, in
/// microseconds (INFO cpu).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuUsage {
    /// Of the whole process, in the kernel and in user space.
    pub sys_us: u64,
    pub user_us: u64,
    /// Of the children the process waited for.
    pub children_sys_us: u64,
    pub children_user_us: u64,
    /// Of the thread that runs the node.
    pub main_thread_sys_us: u64,
    pub main_thread_user_us: u64,
}

/// How [`Disk::open`] opens a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Read only; the file must exist.
    Read,
    /// Read and append; created if missing, existing data kept.
    Append,
    /// Read and append; created empty, existing data discarded.
    CreateTruncate,
}

/// A POSIX-shaped file system. Paths are `/`-separated strings, relative to
/// the driver's working directory unless absolute.
///
/// Writes append at the end of the file (the only pattern the AOF and RDB
/// need) and may be short: `Ok(n)` with `n < data.len()` means only the first
/// `n` bytes reached the file.
pub trait Disk {
    fn open(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId>;
    /// Appends `data`; may write fewer bytes than asked.
    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize>;
    /// Reads up to `buf.len()` bytes at `offset`; `Ok(0)` at end of file.
    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// The file's current length, unsynced writes included.
    fn size(&mut self, file: FileId) -> io::Result<u64>;
    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()>;
    /// Makes everything written to `file` so far durable, synchronously.
    fn fsync(&mut self, file: FileId) -> io::Result<()>;
    /// Starts an fsync in the background (Redis's bio thread). Its result is
    /// delivered later as `Node::on_disk_done(op, result)`. An `Err` here
    /// means it could not even be submitted.
    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()>;
    fn close_file(&mut self, file: FileId) -> io::Result<()>;
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()>;
    fn remove(&mut self, path: &str) -> io::Result<()>;
    /// Names (not paths) of the entries in `dir`, sorted.
    fn list(&mut self, dir: &str) -> io::Result<Vec<String>>;
    fn create_dir(&mut self, dir: &str) -> io::Result<()>;
    /// Makes renames and creations inside `dir` durable.
    fn fsync_dir(&mut self, dir: &str) -> io::Result<()>;
    /// Bytes available to writes on the file system holding `path`.
    fn free_space(&mut self, path: &str) -> io::Result<u64>;
}

/// Peers. Incoming bytes arrive as `Node::on_bytes` events.
pub trait Net {
    /// Queues `data` for the peer. The driver buffers what the socket does not
    /// take at once; a send to a closed connection is dropped.
    fn send(&mut self, conn: ConnId, data: &[u8]);
    /// Closes the connection after what was sent before it has been written.
    /// No `on_closed` event follows a close that core asked for.
    fn close(&mut self, conn: ConnId);
    /// Opens an outgoing connection (a replica to its master) under the id
    /// core chose. Success arrives as `Node::on_connected`, failure as
    /// `Node::on_closed`.
    fn connect(&mut self, conn: ConnId, addr: &str) -> io::Result<()>;
    /// Replaces the listening sockets with ones on `bind` addresses and
    /// `port` (`CONFIG SET bind` / `port`, as Redis 7 does without a
    /// restart). On error the old sockets keep listening. Connections
    /// already open are not touched. A driver without listeners (the
    /// simulator, where clients are created by the run) accepts any.
    fn listen(&mut self, _bind: &[String], _port: u16) -> io::Result<()> {
        Ok(())
    }
    /// While a script is busy (it holds the node, so no `on_bytes` comes):
    /// the bytes `conns` sent since, read without waiting, for core to
    /// answer at once (`-BUSY`, SCRIPT KILL). A driver that cannot read
    /// meanwhile returns none.
    fn busy_poll(&mut self, _conns: &[ConnId]) -> Vec<(ConnId, Vec<u8>)> {
        Vec::new()
    }
    /// Bytes sent to `conn` that the peer has not taken yet. Core enforces
    /// `client-output-buffer-limit` with it; a driver that never holds
    /// bytes back may keep the default.
    fn backlog_bytes(&self, _conn: ConnId) -> u64 {
        0
    }
}

/// The seeded random source: RANDOMKEY, SPOP, run ids, hash seeds.
pub trait Random {
    fn random_u64(&mut self) -> u64;
}

/// Facts about the process that hosts the node, and the trace sink.
pub trait Host {
    /// Bytes currently allocated by the process (INFO `used_memory`, and
    /// what `maxmemory` limits). `dataset_bytes` is core's own
    /// deterministic estimate of its keyspace (`Keyspace::dataset_bytes`):
    /// a driver that counts its allocator ignores it; one that measures
    /// no real allocation (the simulator) answers from it, so that
    /// eviction replays from a seed.
    fn used_memory_bytes(&self, dataset_bytes: u64) -> u64;
    /// Peak of [`Host::used_memory_bytes`] since start.
    fn used_memory_peak_bytes(&self, dataset_bytes: u64) -> u64 {
        self.used_memory_bytes(dataset_bytes)
    }
    /// The process id for the INFO `process_id` field.
    fn process_id(&self) -> u32;
    /// The process's resident set size (MEMORY STATS). A driver that
    /// measures none answers [`Host::used_memory_bytes`].
    fn resident_bytes(&self, dataset_bytes: u64) -> u64 {
        self.used_memory_bytes(dataset_bytes)
    }
    /// CPU time used so far (INFO cpu). A driver that measures none (the
    /// simulator, the test env) reports zeros, so runs replay.
    fn cpu_usage(&self) -> CpuUsage {
        CpuUsage::default()
    }
    /// Writes a log line (Redis's words for Redis's events). The server
    /// prints it in Redis's log format; the simulator records it.
    fn log(&mut self, level: LogLevel, message: &str);
    /// The node became a replica (`true`) or a master: Redis's log lines
    /// then carry `S` or `M`.
    fn role_changed(&mut self, _replica: bool) {}
    /// Starts `command` (run by `/bin/sh -c`) with a pipe to its standard
    /// input, for PIPESAVE. Its exit arrives as `Node::on_pipe_done`.
    fn pipe_open(&mut self, _pipe: PipeId, _command: &str) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this driver cannot start commands",
        ))
    }
    /// Queues bytes for the command's standard input.
    fn pipe_write(&mut self, _pipe: PipeId, _data: &[u8]) {}
    /// Bytes queued for the command that it has not read yet.
    fn pipe_backlog(&self, _pipe: PipeId) -> u64 {
        0
    }
    /// Closes the command's standard input once what was queued is written
    /// (the command then finishes and exits), or kills it when `abort`.
    fn pipe_close(&mut self, _pipe: PipeId, _abort: bool) {}
    /// Stops the whole node for `ms` (DEBUG SLEEP): the server's thread
    /// sleeps. Environments with a simulated clock may advance it instead.
    fn stall_ms(&mut self, _ms: u64) {}
    /// A script started: it holds the node until it returns, and after
    /// `busy_after_ms` (`busy-reply-threshold`) it counts as busy. The
    /// production driver lets SIGTERM end the process at once while a busy
    /// script runs, since the loop that would shut down gracefully is
    /// stopped. [`Host::script_finished`] follows.
    fn script_started(&mut self, _busy_after_ms: u64) {}
    /// The running script returned.
    fn script_finished(&mut self) {}
    /// Receives every observable decision core makes. The simulator hashes
    /// these into the run's trace hash and feeds its checkers from them; the
    /// production driver ignores them.
    fn trace(&mut self, _event: &Trace<'_>) {}
}

/// Everything core needs from the world.
pub trait Env: Clock + Disk + Net + Random + Host {}

impl<T: Clock + Disk + Net + Random + Host> Env for T {}

/// Redis's log levels, least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

/// An observable event inside core, in execution order.
#[derive(Debug)]
pub enum Trace<'a> {
    /// A command ran to completion. `reply` is the exact RESP bytes it
    /// produced (for EXEC, the whole array), `db` the database it ran in.
    /// Commands inside MULTI/EXEC are reported one by one with
    /// `in_transaction` set, followed by the EXEC itself. `after_block`:
    /// the command blocked first and answers now, served by a change to
    /// one of its keys or at its timeout.
    Executed {
        conn: ConnId,
        db: usize,
        argv: &'a [Vec<u8>],
        reply: &'a [u8],
        in_transaction: bool,
        after_block: bool,
    },
    /// A request was answered without running: queued inside MULTI
    /// (`+QUEUED`), or refused before execution (unknown command, wrong
    /// arity, NOAUTH, pub/sub context, MISCONF). `reply` is its exact bytes.
    Rejected {
        conn: ConnId,
        argv: &'a [Vec<u8>],
        reply: &'a [u8],
    },
    /// A key was removed because its time to live ran out: by lazy expiry
    /// while a command on `conn` ran (its reply then waits for the removal
    /// to be written, as for the command's own writes), or by active expiry
    /// (`conn` is `None`).
    Expired {
        db: usize,
        key: &'a [u8],
        conn: Option<ConnId>,
    },
    /// A key was evicted to bring memory under `maxmemory` (see
    /// `evict`), before the command on whose behalf eviction ran.
    Evicted {
        db: usize,
        key: &'a [u8],
    },
    /// A connection was accepted or closed.
    Connected {
        conn: ConnId,
    },
    Disconnected {
        conn: ConnId,
    },
}
