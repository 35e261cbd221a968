//! An in-memory `Env` for unit tests of core: a clock the test moves by
//! hand, captured output, a fixed random sequence. It has no disk: every
//! disk call fails with `Unsupported` (the simulator's `SimDisk` is the disk
//! for tests that need one).

use std::collections::BTreeMap;
use std::io;

use crate::client::ConnInfo;
use crate::config::Config;
use crate::env::{
    Clock, ConnId, Disk, DiskOpId, FileId, Host, LogLevel, Net, OpenMode, PipeId, Random,
};
use crate::node::Node;

#[derive(Debug, Default)]
pub struct TestEnv {
    pub monotonic_ms: u64,
    pub wall_ms: i64,
    pub sent: BTreeMap<ConnId, Vec<u8>>,
    pub closed: Vec<ConnId>,
    pub logs: Vec<(LogLevel, String)>,
    /// What `backlog_bytes` reports per connection: bytes the test pretends
    /// the peer has not read.
    pub backlog: BTreeMap<ConnId, u64>,
    /// Outgoing connections asked for: (id, address). They succeed once
    /// the test calls `Node::on_connected`.
    pub connects: Vec<(ConnId, String)>,
    /// PIPESAVE commands started: their command line, what they were fed,
    /// and whether their input was closed (`Some(abort)`).
    pub pipes: BTreeMap<PipeId, (String, Vec<u8>, Option<bool>)>,
    /// What `busy_poll` hands over, once, while a script is busy: bytes
    /// per connection, as if they arrived meanwhile.
    pub busy_input: Vec<(ConnId, Vec<u8>)>,
    /// Microseconds `monotonic_us` moves on at each read, so that every
    /// command seems to take time (0: none passes inside a command).
    pub us_per_clock_read: u64,
    clock_reads: std::cell::Cell<u64>,
    random_state: u64,
}

impl Clock for TestEnv {
    fn monotonic_ms(&self) -> u64 {
        self.monotonic_ms
    }
    fn wall_ms(&self) -> i64 {
        self.wall_ms
    }
    fn monotonic_us(&self) -> u64 {
        let reads = self.clock_reads.get() + 1;
        self.clock_reads.set(reads);
        self.monotonic_ms * 1000 + reads * self.us_per_clock_read
    }
}

fn unsupported<T>() -> io::Result<T> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "TestEnv has no disk",
    ))
}

impl Disk for TestEnv {
    fn open(&mut self, _: &str, _: OpenMode) -> io::Result<FileId> {
        unsupported()
    }
    fn write(&mut self, _: FileId, _: &[u8]) -> io::Result<usize> {
        unsupported()
    }
    fn read_at(&mut self, _: FileId, _: u64, _: &mut [u8]) -> io::Result<usize> {
        unsupported()
    }
    fn size(&mut self, _: FileId) -> io::Result<u64> {
        unsupported()
    }
    fn truncate(&mut self, _: FileId, _: u64) -> io::Result<()> {
        unsupported()
    }
    fn fsync(&mut self, _: FileId) -> io::Result<()> {
        unsupported()
    }
    fn fsync_background(&mut self, _: FileId, _: DiskOpId) -> io::Result<()> {
        unsupported()
    }
    fn close_file(&mut self, _: FileId) -> io::Result<()> {
        unsupported()
    }
    fn rename(&mut self, _: &str, _: &str) -> io::Result<()> {
        unsupported()
    }
    fn remove(&mut self, _: &str) -> io::Result<()> {
        unsupported()
    }
    fn list(&mut self, _: &str) -> io::Result<Vec<String>> {
        unsupported()
    }
    fn create_dir(&mut self, _: &str) -> io::Result<()> {
        unsupported()
    }
    fn fsync_dir(&mut self, _: &str) -> io::Result<()> {
        unsupported()
    }
    fn free_space(&mut self, _: &str) -> io::Result<u64> {
        unsupported()
    }
}

impl Net for TestEnv {
    fn send(&mut self, conn: ConnId, data: &[u8]) {
        self.sent.entry(conn).or_default().extend_from_slice(data);
    }
    fn busy_poll(&mut self, conns: &[ConnId]) -> Vec<(ConnId, Vec<u8>)> {
        let (polled, kept) = std::mem::take(&mut self.busy_input)
            .into_iter()
            .partition(|(conn, _)| conns.contains(conn));
        self.busy_input = kept;
        polled
    }
    fn close(&mut self, conn: ConnId) {
        self.closed.push(conn);
    }
    fn connect(&mut self, conn: ConnId, addr: &str) -> io::Result<()> {
        self.connects.push((conn, addr.to_string()));
        Ok(())
    }
    fn backlog_bytes(&self, conn: ConnId) -> u64 {
        self.backlog.get(&conn).copied().unwrap_or(0)
    }
}

impl Random for TestEnv {
    fn random_u64(&mut self) -> u64 {
        // splitmix64: a fixed sequence, good enough to spread hash seeds.
        self.random_state = self.random_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Host for TestEnv {
    fn used_memory_bytes(&self, dataset_bytes: u64) -> u64 {
        1_000_000 + dataset_bytes
    }
    fn process_id(&self) -> u32 {
        4242
    }
    fn stall_ms(&mut self, ms: u64) {
        self.monotonic_ms += ms;
        self.wall_ms += ms as i64;
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        self.logs.push((level, message.to_string()));
    }
    fn pipe_open(&mut self, pipe: PipeId, command: &str) -> io::Result<()> {
        self.pipes
            .insert(pipe, (command.to_string(), Vec::new(), None));
        Ok(())
    }
    fn pipe_write(&mut self, pipe: PipeId, data: &[u8]) {
        if let Some(entry) = self.pipes.get_mut(&pipe) {
            entry.1.extend_from_slice(data);
        }
    }
    fn pipe_close(&mut self, pipe: PipeId, abort: bool) {
        if let Some(entry) = self.pipes.get_mut(&pipe) {
            entry.2 = Some(abort);
        }
    }
}

/// A node on a `TestEnv` with helpers to talk to it as clients would.
pub struct TestNode {
    pub node: Node<TestEnv>,
}

impl TestNode {
    pub fn new() -> Self {
        Self::with_config(Config::default())
    }

    pub fn with_config(config: Config) -> Self {
        let env = TestEnv {
            wall_ms: 1_700_000_000_000,
            ..TestEnv::default()
        };
        TestNode {
            node: Node::new(env, config),
        }
    }

    pub fn connect(&mut self) -> ConnId {
        let info = ConnInfo {
            peer_addr: "127.0.0.1:40000".into(),
            local_addr: "127.0.0.1:6379".into(),
            fd: 8,
        };
        self.node.on_accept(info)
    }

    /// Sends raw bytes and returns everything the node released for `conn`.
    pub fn raw(&mut self, conn: ConnId, bytes: &[u8]) -> Vec<u8> {
        self.node.on_bytes(conn, bytes);
        self.node.before_sleep();
        self.node.env_mut().sent.remove(&conn).unwrap_or_default()
    }

    /// Everything released for `conn` since the last look, as text (the
    /// reply a blocked client got when another client served it).
    pub fn take_sent(&mut self, conn: ConnId) -> String {
        let sent = self.node.env_mut().sent.remove(&conn).unwrap_or_default();
        String::from_utf8_lossy(&sent).into_owned()
    }

    /// Sends one command as a multibulk request and returns the reply as
    /// text.
    pub fn cmd(&mut self, conn: ConnId, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        String::from_utf8_lossy(&self.raw(conn, &request)).into_owned()
    }

    /// Connects a replica, runs its full sync to the end and sends its
    /// first acknowledgement: from here on the replication stream flows to
    /// the returned connection (`take_sent` reads it). The node's
    /// `repl-diskless-sync-delay` must be 0.
    pub fn attach_replica(&mut self) -> ConnId {
        let replica = self.connect();
        self.cmd(replica, &["REPLCONF", "capa", "eof", "capa", "psync2"]);
        self.cmd(replica, &["PSYNC", "?", "-1"]);
        for _ in 0..1000 {
            if self.node.server().background.running().is_none() {
                break;
            }
            self.node.on_tick();
        }
        self.node.before_sleep();
        self.take_sent(replica);
        self.cmd(replica, &["REPLCONF", "ACK", "0"]);
        self.take_sent(replica);
        replica
    }

    /// A node and one connected client.
    pub fn with_client() -> (Self, ConnId) {
        let mut t = TestNode::new();
        let c = t.connect();
        (t, c)
    }

    /// Changes counted since the start (`rdb_changes_since_last_save`).
    pub fn dirty(&self) -> u64 {
        self.node.server().dirty
    }

    /// Keyspace hits and misses so far.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        let stats = &self.node.server().stats;
        (stats.keyspace_hits, stats.keyspace_misses)
    }

    /// Moves both clocks forward and runs the cron.
    pub fn advance(&mut self, ms: u64) {
        let env = self.node.env_mut();
        env.monotonic_ms += ms;
        env.wall_ms += ms as i64;
        self.node.on_tick();
        self.node.before_sleep();
    }
}

impl Default for TestNode {
    fn default() -> Self {
        Self::new()
    }
}
