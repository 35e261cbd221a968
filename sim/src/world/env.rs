//! `SimEnv`: core's `Env` for one simulated node.
//!
//! Calls from core land in buffers the simulator drains after each event:
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

/// The fixed `used_memory` the node reports: the simulator measures no real
/// allocation, so the figure must not depend on the machine.
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
    hasher: TraceHasher,
}

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
            hasher: TraceHasher::default(),
        }
    }

    /// Moves the node's clock and disk to simulated time `now_ms`.
    pub fn advance_to(&mut self, now_ms: u64) {
        self.clock.advance_to(now_ms);
        self.disk.set_now_ms(now_ms);
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
        self.disk.open(path, mode)
    }
    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        self.disk.write(file, data)
    }
    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.disk.read_at(file, offset, buf)
    }
    fn size(&mut self, file: FileId) -> io::Result<u64> {
        self.disk.size(file)
    }
    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()> {
        self.disk.truncate(file, len)
    }
    fn fsync(&mut self, file: FileId) -> io::Result<()> {
        self.disk.fsync(file)
    }
    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()> {
        self.disk.fsync_background(file, op)
    }
    fn close_file(&mut self, file: FileId) -> io::Result<()> {
        self.disk.close_file(file)
    }
    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        self.disk.rename(from, to)
    }
    fn remove(&mut self, path: &str) -> io::Result<()> {
        self.disk.remove(path)
    }
    fn list(&mut self, dir: &str) -> io::Result<Vec<String>> {
        self.disk.list(dir)
    }
    fn create_dir(&mut self, dir: &str) -> io::Result<()> {
        self.disk.create_dir(dir)
    }
    fn fsync_dir(&mut self, dir: &str) -> io::Result<()> {
        self.disk.fsync_dir(dir)
    }
    fn free_space(&mut self, path: &str) -> io::Result<u64> {
        self.disk.free_space(path)
    }
}

impl Net for SimEnv {
    fn send(&mut self, conn: ConnId, data: &[u8]) {
        self.outbox.push(NetAction::Send {
            conn,
            data: data.to_vec(),
        });
    }
    fn close(&mut self, conn: ConnId) {
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
    fn used_memory_bytes(&self) -> u64 {
        USED_MEMORY_BYTES
    }

    fn process_id(&self) -> u32 {
        PROCESS_ID
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        let now = self.clock.monotonic_ms();
        hash_log(&mut self.hasher, now, level, message);
        if self.logs.len() < LOG_LINES_MAX {
            self.logs.push((now, level, message.to_string()));
        } else {
            self.log_lines_dropped += 1;
        }
    }

    fn trace(&mut self, event: &Trace<'_>) {
        let monotonic_ms = self.clock.monotonic_ms();
        hash_event(&mut self.hasher, monotonic_ms, event);
        self.trace.push(TraceRecord {
            monotonic_ms,
            wall_ms: self.clock.wall_ms(),
            event: TraceEvent::from_core(event),
        });
    }
}
