//! A node on `SimEnv` driven by hand: commands in, replies out, time moved
//! explicitly, faults armed on the `SimDisk`, crashes and restarts.

use redoubt_core::config::Config;
use redoubt_core::env::{Clock, ConnId};
use redoubt_core::{ConnInfo, Node};
use redoubt_sim::world::clock::SimClock;
use redoubt_sim::world::disk::{CrashKind, DiskOptions, SimDisk};
use redoubt_sim::world::env::{NetAction, SimEnv};
use redoubt_sim::world::rng::SimRng;

/// Steps `advance` moves time in, so ticks and fsync completions interleave
/// as they would.
const STEP_MS: u64 = 10;
/// How long `send` waits for a reply (an `always` fsync takes 1 to 20 ms on
/// the default disk).
const REPLY_WAIT_MS_MAX: u64 = 100;
/// Bound on `on_tick` calls per step while a background job runs.
const TICKS_PER_STEP_MAX: usize = 100_000;

pub struct Harness {
    pub config: Config,
    node: Option<Node<SimEnv>>,
    parked_disk: Option<SimDisk>,
    now_ms: u64,
    starts: u64,
    /// Log lines of every run so far.
    pub logs: Vec<String>,
}

impl Harness {
    /// A harness whose node has `directives` applied (redis.conf style) and
    /// a disk with the given options. The node is not started.
    pub fn new(directives: &[(&str, &str)], disk: DiskOptions) -> Self {
        let mut config = Config::default();
        config.apply_startup("save", "").unwrap();
        for (name, value) in directives {
            config.apply_startup(name, value).unwrap();
        }
        Harness {
            config,
            node: None,
            parked_disk: Some(SimDisk::new(disk, SimRng::new(7, 1))),
            now_ms: 0,
            starts: 0,
            logs: Vec::new(),
        }
    }

    /// An AOF harness under `appendfsync policy`.
    pub fn aof(policy: &str) -> Self {
        let mut harness = Harness::new(
            &[("appendonly", "yes"), ("appendfsync", policy)],
            DiskOptions::default(),
        );
        harness.start().unwrap();
        harness
    }

    /// Starts the node on the current disk, loading what is there.
    pub fn start(&mut self) -> Result<(), String> {
        let disk = self
            .parked_disk
            .take()
            .expect("the node is already running");
        self.starts += 1;
        let mut env = SimEnv::new(SimClock::new(0), disk, SimRng::new(7, 100 + self.starts));
        env.advance_to(self.now_ms);
        match Node::start(env, self.config.clone()) {
            Ok(node) => {
                self.node = Some(node);
                self.collect_logs();
                Ok(())
            }
            Err(error) => {
                self.logs
                    .extend(error.env.logs.iter().map(|(_, _, line)| line.clone()));
                self.parked_disk = Some(error.env.disk);
                Err(error.reason)
            }
        }
    }

    pub fn node(&mut self) -> &mut Node<SimEnv> {
        self.node.as_mut().expect("the node is not running")
    }

    pub fn disk(&mut self) -> &mut SimDisk {
        match self.node.as_mut() {
            Some(node) => &mut node.env_mut().disk,
            None => self.parked_disk.as_mut().expect("a disk"),
        }
    }

    pub fn connect(&mut self) -> ConnId {
        let info = ConnInfo {
            peer_addr: "10.0.0.1:5000".into(),
            local_addr: "10.0.0.2:6379".into(),
            fd: 9,
        };
        self.node().on_accept(info)
    }

    /// Sends one command and lets simulated time run (up to
    /// [`REPLY_WAIT_MS_MAX`]) until its reply is released, as a client
    /// waiting for it would; returns what was released.
    pub fn send(&mut self, conn: ConnId, args: &[&str]) -> String {
        let mut reply = self.send_now(conn, args);
        let mut waited = 0;
        while reply.is_empty() && waited < REPLY_WAIT_MS_MAX {
            self.advance(1);
            waited += 1;
            reply = self.replies(conn);
        }
        reply
    }

    /// Sends one command and runs only the rest of this event-loop
    /// iteration; returns whatever the node released to `conn` meanwhile.
    pub fn send_now(&mut self, conn: ConnId, args: &[&str]) -> String {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        let node = self.node();
        node.on_bytes(conn, &request);
        node.before_sleep();
        self.replies(conn)
    }

    /// Sends several commands from several clients within one event-loop
    /// iteration (one `before_sleep`).
    pub fn send_together(&mut self, commands: &[(ConnId, &[&str])]) {
        for (conn, args) in commands {
            let mut request = format!("*{}\r\n", args.len()).into_bytes();
            for arg in *args {
                request.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
            }
            self.node().on_bytes(*conn, &request);
        }
        self.node().before_sleep();
    }

    /// What the node released to `conn` since the last call.
    pub fn replies(&mut self, conn: ConnId) -> String {
        let env = self.node().env_mut();
        let mut text = String::new();
        env.outbox.retain(|action| match action {
            NetAction::Send { conn: to, data } if *to == conn => {
                text.push_str(&String::from_utf8_lossy(data));
                false
            }
            _ => true,
        });
        text
    }

    /// Moves the clock forward by `ms` and nothing else: no tick, no
    /// completion (time passing inside one long iteration).
    pub fn skip_ms(&mut self, ms: u64) {
        self.now_ms += ms;
        let now = self.now_ms;
        self.node().env_mut().advance_to(now);
    }

    /// Moves time forward by `ms`, delivering fsync completions and ticks.
    pub fn advance(&mut self, ms: u64) {
        let target = self.now_ms + ms;
        while self.now_ms < target {
            self.now_ms = (self.now_ms + STEP_MS).min(target);
            let now = self.now_ms;
            let node = self.node();
            node.env_mut().advance_to(now);
            let done = node.env_mut().disk.complete_due(now);
            for (op, result) in done {
                node.on_disk_done(op, result);
            }
            for _ in 0..TICKS_PER_STEP_MAX {
                if node.next_deadline() > node.env().monotonic_ms() {
                    break;
                }
                node.on_tick();
            }
            node.before_sleep();
        }
        self.collect_logs();
    }

    /// Kills the node; the disk keeps what `kind` keeps.
    pub fn crash(&mut self, kind: CrashKind) {
        let node = self.node.take().expect("the node is not running");
        let mut env = node.into_env();
        self.logs
            .extend(env.logs.drain(..).map(|(_, _, line)| line));
        env.disk.crash(kind);
        self.parked_disk = Some(env.disk);
    }

    /// Crash, then start again.
    pub fn restart(&mut self, kind: CrashKind) -> Result<(), String> {
        self.crash(kind);
        self.start()
    }

    fn collect_logs(&mut self) {
        if let Some(node) = self.node.as_mut() {
            let env = node.env_mut();
            self.logs
                .extend(env.logs.drain(..).map(|(_, _, line)| line));
        }
    }

    /// Whether some log line contains `needle`.
    pub fn logged(&mut self, needle: &str) -> bool {
        self.collect_logs();
        self.logs.iter().any(|line| line.contains(needle))
    }

    /// One INFO field's value.
    pub fn info_field(&mut self, field: &str) -> String {
        let conn = self.connect();
        let info = self.send(conn, &["INFO", "everything"]);
        let prefix = format!("{field}:");
        info.split("\r\n")
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {field} in {info}"))
            .to_string()
    }

    /// Path of a file in the AOF directory.
    pub fn aof_path(name: &str) -> String {
        format!("appendonlydir/{name}")
    }

    /// Path of the INCR file being appended to.
    pub fn last_incr_path(&mut self) -> String {
        Harness::aof_path(&self.last_incr())
    }

    /// Reads a file as the node would.
    pub fn file(&mut self, path: &str) -> Vec<u8> {
        self.disk()
            .contents(path)
            .map(<[u8]>::to_vec)
            .unwrap_or_default()
    }

    /// The manifest's text.
    pub fn manifest(&mut self) -> String {
        String::from_utf8(self.file("appendonlydir/appendonly.aof.manifest")).unwrap()
    }

    /// The name of the last INCR file in the manifest.
    pub fn last_incr(&mut self) -> String {
        let manifest = self.manifest();
        let line = manifest
            .lines()
            .rev()
            .find(|l| l.ends_with("type i"))
            .expect("an INCR file");
        line.split(' ').nth(1).unwrap().to_string()
    }
}
