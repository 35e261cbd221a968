//! `SimEnv`: core's `Env` for one simulated node.
//!
//! Calls from core land in buffers the simulator drains after each event:
//! once the process has died between two disk calls, nothing more lands;
//! sends and closes go to the outbox (the simulator turns them into
//! deliveries after network latency), trace events are recorded for the
//! checkers and folded into the trace hash, log lines are recorded. The
//! clock is moved by the simulator before each event; the disk is a
//! [`SimDisk`]; randomness is the node's own stream.

use std::io;

use redoubt_core::env::{
    Clock, ConnId, Disk, DiskOpId, FileId, Host, LogLevel, Net, OpenMode, Random, Trace,
};

use crate::world::clock::SimClock;
use crate::world::disk::SimDisk;
use crate::world::hash::TraceHasher;
use crate::world::rng::SimRng;
use crate::world::trace::{hash_event, hash_log, TraceEvent, TraceRecord};

/// What the node asked the network to do, in call order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetAction {
    Send { conn: ConnId, data: Vec<u8> },
    Close { conn: ConnId },
    Connect { conn: ConnId, addr: String },
}

/// The `used_memory` of a node without data: the simulator measures no
/// real allocation, so the figure must not depend on the machine. A node
/// reports this plus core's deterministic estimate of its dataset
/// (`Keyspace::dataset_bytes`), so `maxmemory` and eviction replay from
/// the seed.
pub const USED_MEMORY_BYTES: u64 = 1_048_576;
/// The fixed process id the node reports.
pub const PROCESS_ID: u32 = 4242;
/// Log lines kept per run; later lines are counted, hashed, not stored.
pub const LOG_LINES_MAX: usize = 10_000;

/// The environment of one simulated node.
#[derive(Debug)]
pub struct SimEnv {
    pub clock: SimClock,
    pub disk: SimDisk,
    random: SimRng,
    pub outbox: Vec<NetAction>,
    pub trace: Vec<TraceRecord>,
    pub logs: Vec<(u64, LogLevel, String)>,
    pub log_lines_dropped: u64,
    /// Stretches of simulated time in which the node was told of a disk
    /// error or had a slow fsync in flight; the simulator drains it.
    pub trouble: Vec<(u64, u64)>,
    hasher: TraceHasher,
}

/// A background fsync in flight longer than this is trouble: `everysec`
/// cannot keep its window with such a disk.
pub const SLOW_FSYNC_MS: u64 = 1000;

impl SimEnv {
    pub fn new(clock: SimClock, disk: SimDisk, random: SimRng) -> Self {
        SimEnv {
            clock,
            disk,
            random,
            outbox: Vec::new(),
            trace: Vec::new(),
            logs: Vec::new(),
            log_lines_dropped: 0,
            trouble: Vec::new(),
            hasher: TraceHasher::default(),
        }
    }

    /// Moves the node's clock and disk to simulated time `now_ms`.
    pub fn advance_to(&mut self, now_ms: u64) {
        self.clock.advance_to(now_ms);
        self.disk.set_now_ms(now_ms);
    }

    /// Notes a disk error the node was told of, now.
    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        let trouble = result.as_ref().is_err_and(|error| {
            !matches!(
                error.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::AlreadyExists
            )
        });
        if trouble {
            let now = self.clock.sim_now_ms();
            self.trouble.push((now, now));
        }
        result
    }

    /// Whether the process died (between two disk calls): nothing it does
    /// afterwards reaches the world.
    fn dead(&self) -> bool {
        self.disk.is_dead()
    }

    /// The running trace hash.
    pub fn trace_hash(&self) -> u64 {
        self.hasher.finish()
    }
}

impl Clock for SimEnv {
    fn monotonic_ms(&self) -> u64 {
        self.clock.monotonic_ms()
    }
    fn wall_ms(&self) -> i64 {
        self.clock.wall_ms()
    }
}

impl Disk for SimEnv {
    fn open(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId> {
        let result = self.disk.open(path, mode);
        self.note(result)
    }
    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        let result = self.disk.write(file, data);
        if matches!(result, Ok(n) if n < data.len()) {
            let now = self.clock.sim_now_ms();
            self.trouble.push((now, now));
        }
        self.note(result)
    }
    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let result = self.disk.read_at(file, offset, buf);
        self.note(result)
    }
    fn size(&mut self, file: FileId) -> io::Result<u64> {
        let result = self.disk.size(file);
        self.note(result)
    }
    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()> {
        let result = self.disk.truncate(file, len);
        self.note(result)
    }
    fn fsync(&mut self, file: FileId) -> io::Result<()> {
        let result = self.disk.fsync(file);
        self.note(result)
    }
    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()> {
        let result = self.disk.fsync_background(file, op);
        let now = self.clock.sim_now_ms();
        let due = self.disk.pending_due_ms().into_iter().max().unwrap_or(now);
        if due > now + SLOW_FSYNC_MS {
            self.trouble.push((now, due));
        }
        self.note(result)
    }
    fn close_file(&mut self, file: FileId) -> io::Result<()> {
        let result = self.disk.close_file(file);
        self.note(result)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let result = self.disk.rename(from, to);
        self.note(result)
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        let result = self.disk.remove(path);
        self.note(result)
    }
    fn list(&mut self, dir: &str) -> io::Result<Vec<String>> {
        let result = self.disk.list(dir);
        self.note(result)
    }
    fn create_dir(&mut self, dir: &str) -> io::Result<()> {
        let result = self.disk.create_dir(dir);
        self.note(result)
    }
    fn fsync_dir(&mut self, dir: &str) -> io::Result<()> {
        let result = self.disk.fsync_dir(dir);
        self.note(result)
    }
    fn free_space(&mut self, path: &str) -> io::Result<u64> {
        let result = self.disk.free_space(path);
        self.note(result)
    }
}

impl Net for SimEnv {
    fn send(&mut self, conn: ConnId, data: &[u8]) {
        if self.dead() {
            return;
        }
        self.outbox.push(NetAction::Send {
            conn,
            data: data.to_vec(),
        });
    }
    fn close(&mut self, conn: ConnId) {
        if self.dead() {
            return;
        }
        self.outbox.push(NetAction::Close { conn });
    }
    fn connect(&mut self, conn: ConnId, addr: &str) -> io::Result<()> {
        self.outbox.push(NetAction::Connect {
            conn,
            addr: addr.to_string(),
        });
        Ok(())
    }
}

impl Random for SimEnv {
    fn random_u64(&mut self) -> u64 {
        self.random.next_u64()
    }
}

impl Host for SimEnv {
    fn used_memory_bytes(&self, dataset_bytes: u64) -> u64 {
        USED_MEMORY_BYTES + dataset_bytes
    }

    fn process_id(&self) -> u32 {
        PROCESS_ID
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        if self.dead() {
            return;
        }
        let now = self.clock.monotonic_ms();
        hash_log(&mut self.hasher, now, level, message);
        if self.logs.len() < LOG_LINES_MAX {
            self.logs.push((now, level, message.to_string()));
        } else {
            self.log_lines_dropped += 1;
        }
    }

    fn trace(&mut self, event: &Trace<'_>) {
        if self.dead() {
            return;
        }
        let monotonic_ms = self.clock.monotonic_ms();
        hash_event(&mut self.hasher, monotonic_ms, event);
        self.trace.push(TraceRecord {
            monotonic_ms,
            wall_ms: self.clock.wall_ms(),
            event: TraceEvent::from_core(event),
        });
    }
}
