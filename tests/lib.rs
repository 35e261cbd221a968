//! Shared helpers for the workspace integration tests: start
//! `redoubt-server` (or Debian's real `redis-server`, the oracle) as a
//! process on a free loopback port in a scratch directory, wait until it is
//! ready, talk raw RESP to it, and kill it when the test is done.
//!
//! The server binary is found next to the test executable's directory
//! (`$CARGO_TARGET_DIR/<profile>/redoubt-server`); `cargo test --workspace`
//! builds it before any test runs (the server package has an integration
//! test of its own, which makes cargo build the binary).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a server may take to say it is ready.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Socket read timeout in every test: a missing reply fails, never hangs.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// Start attempts when the chosen port is taken by someone else meanwhile.
const START_ATTEMPTS_MAX: usize = 3;
/// The real Redis, our oracle.
pub const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// `$CARGO_TARGET_DIR/<profile>/redoubt-server`, derived from where this
/// test executable lives (`<profile>/deps/<test>-<hash>`).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let binary = profile_dir.join("redoubt-server");
    assert!(
        binary.exists(),
        "{} not found: build it first (`cargo build -p redoubt-server`, same profile), \
         or run `cargo test --workspace`, which builds it",
        binary.display()
    );
    binary
}

/// The commands an AOF directory's INCR files hold (under
/// `appendonlydir`, in file order), each as its words; `#` annotation
/// lines are skipped. For comparing what two servers propagated.
pub fn aof_incr_commands(dir: &Path) -> Vec<Vec<String>> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("appendonlydir"))
        .expect("appendonlydir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.to_string_lossy().ends_with(".incr.aof"))
        .collect();
    files.sort();
    let mut commands = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).expect("read INCR file");
        let mut at = 0;
        let line = |at: &mut usize| {
            let end = at_line_end(&bytes, *at);
            let text = String::from_utf8_lossy(&bytes[*at..end]).into_owned();
            *at = end + 2;
            text
        };
        while at < bytes.len() {
            let header = line(&mut at);
            if header.starts_with('#') {
                continue;
            }
            let count: usize = header[1..].parse().expect("multibulk header");
            let mut words = Vec::new();
            for _ in 0..count {
                let length: usize = line(&mut at)[1..].parse().expect("bulk header");
                words.push(String::from_utf8_lossy(&bytes[at..at + length]).into_owned());
                at += length + 2;
            }
            commands.push(words);
        }
    }
    commands
}

/// Where the line starting at `at` ends (its `\r\n`).
fn at_line_end(bytes: &[u8], at: usize) -> usize {
    at + bytes[at..]
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .expect("a line end")
}

/// A free loopback port (bound, then released for the server to take).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A scratch directory, removed on drop.
pub struct ScratchDir {
    pub path: PathBuf,
}

impl ScratchDir {
    pub fn new(label: &str) -> ScratchDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "redoubt-test-{label}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create scratch dir");
        ScratchDir { path }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Which server a [`Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Redoubt,
    Redis,
}

/// A running server process; killed on drop.
pub struct Server {
    child: Option<Child>,
    pub port: u16,
    pub flavor: Flavor,
    log: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    /// The working directory (`dir` . in Redis terms).
    pub dir: PathBuf,
    /// The scratch directory this server owns, if it owns one.
    _scratch: Option<ScratchDir>,
}

impl Server {
    /// redoubt-server on a free port with `args` added.
    pub fn redoubt(args: &[&str]) -> Server {
        Server::start(Flavor::Redoubt, args)
    }

    /// The real redis-server (without persistence) on a free port.
    pub fn redis(args: &[&str]) -> Server {
        let mut all = vec!["--save", "", "--appendonly", "no"];
        all.extend_from_slice(args);
        Server::start(Flavor::Redis, &all)
    }

    /// Starts `flavor` with `--port <free> --bind 127.0.0.1` and `args`,
    /// waiting until it logs that it is ready.
    pub fn start(flavor: Flavor, args: &[&str]) -> Server {
        Server::start_in(flavor, None, args)
    }

    /// Like [`Server::start`], working in `dir` (kept after the server
    /// exits, for a restart) or in a scratch directory of its own.
    pub fn start_in(flavor: Flavor, dir: Option<&Path>, args: &[&str]) -> Server {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS_MAX {
            let port = free_port();
            let port_text = port.to_string();
            let mut full: Vec<&str> = vec!["--port", &port_text, "--bind", "127.0.0.1"];
            full.extend_from_slice(args);
            let mut server = Server::spawn_in(flavor, dir, &full, port);
            match server.wait_for_log("Ready to accept connections", START_TIMEOUT) {
                Ok(()) => return server,
                Err(log) => last_log = log,
            }
            if !last_log.contains("Address already in use") {
                break;
            }
        }
        panic!("{flavor:?} did not start:\n{last_log}");
    }

    /// Spawns the process without waiting for it to be ready.
    pub fn spawn(flavor: Flavor, args: &[&str], port: u16) -> Server {
        Server::spawn_in(flavor, None, args, port)
    }

    /// Spawns the process in `dir`, or in a scratch directory of its own.
    pub fn spawn_in(flavor: Flavor, dir: Option<&Path>, args: &[&str], port: u16) -> Server {
        let (dir, scratch) = match dir {
            Some(dir) => (dir.to_path_buf(), None),
            None => {
                let scratch = ScratchDir::new("server");
                (scratch.path.clone(), Some(scratch))
            }
        };
        let program = match flavor {
            Flavor::Redoubt => server_binary(),
            Flavor::Redis => PathBuf::from(REDIS_SERVER),
        };
        let mut child = Command::new(&program)
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let log = collect(child.stdout.take().expect("stdout piped"));
        let stderr = collect(child.stderr.take().expect("stderr piped"));
        Server {
            child: Some(child),
            port,
            flavor,
            log,
            stderr,
            dir,
            _scratch: scratch,
        }
    }

    /// Waits until the log contains `needle`; on failure (timeout or exit)
    /// returns the log so far.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .is_none_or(|c| c.try_wait().ok().flatten().is_some());
            if exited || Instant::now() >= deadline {
                std::thread::sleep(Duration::from_millis(50));
                return Err(format!("{}{}", self.log(), self.stderr()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server printed on stdout so far.
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// A raw connection with the test read timeout.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to server");
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: i32) {
        if let Some(child) = &self.child {
            // SAFETY: kill(2) on our own child's pid has no memory effects.
            unsafe {
                libc::kill(child.id() as i32, signal);
            }
        }
    }

    /// Waits (bounded) for the process to exit; kills it on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut()?;
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                // Let the reader threads take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Appends everything `source` produces to a shared string, on a thread.
fn collect(source: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = String::new();
        while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            if let Ok(mut text) = sink.lock() {
                text.push_str(&line);
            }
            line.clear();
        }
    });
    text
}

/// Runs a program to completion within `timeout`, killing it otherwise.
pub fn run_bounded(program: &str, args: &[&str], timeout: Duration) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let stdout = collect(child.stdout.take().expect("stdout piped"));
    let stderr = collect(child.stderr.take().expect("stderr piped"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "{program} {args:?} timed out after {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                stdout.lock().map(|t| t.clone()).unwrap_or_default(),
                stderr.lock().map(|t| t.clone()).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    std::thread::sleep(Duration::from_millis(50));
    let take = |text: &Arc<Mutex<String>>| text.lock().map(|t| t.clone()).unwrap_or_default();
    Output {
        status,
        stdout: take(&stdout).into_bytes(),
        stderr: take(&stderr).into_bytes(),
    }
}

/// A request as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Sends one command and returns its reply's bytes.
pub fn command(stream: &mut TcpStream, args: &[&str]) -> Vec<u8> {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    stream.write_all(&encode(&args)).expect("send request");
    let mut pending = Vec::new();
    read_reply(stream, &mut pending).expect("read reply")
}

/// Reads exactly one reply. `pending` holds bytes received past earlier
/// replies; what follows this reply stays in it. `Err` on EOF or timeout,
/// with the bytes received so far.
pub fn read_reply(stream: &mut TcpStream, pending: &mut Vec<u8>) -> Result<Vec<u8>, Vec<u8>> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(len) = frame_len(pending) {
            let rest = pending.split_off(len);
            return Ok(std::mem::replace(pending, rest));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(std::mem::take(pending)),
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&buf[1..line_end]).ok();
    let after_line = line_end + 2;
    let count = || header.and_then(|h| h.parse::<i64>().ok());
    match buf[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after_line),
        b'$' | b'!' | b'=' => {
            let len = count()?;
            if len < 0 {
                return Some(after_line);
            }
            let end = after_line + len as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let mut items = count()?;
            if items < 0 {
                return Some(after_line);
            }
            if matches!(buf[0], b'%' | b'|') {
                items *= 2;
            }
            let mut at = after_line;
            for _ in 0..items {
                at += frame_len(&buf[at..])?;
            }
            Some(at)
        }
        // Inline text (not a reply type): up to the line end.
        _ => Some(after_line),
    }
}

/// Bytes as readable text for failure messages: printable ASCII as is,
/// CR/LF as `\r\n`, the rest as `\xNN`.
pub fn show(bytes: &[u8]) -> String {
    let mut text = String::new();
    for &b in bytes {
        match b {
            b'\r' => text.push_str("\\r"),
            b'\n' => text.push_str("\\n"),
            0x20..=0x7e => text.push(b as char),
            _ => text.push_str(&format!("\\x{b:02x}")),
        }
    }
    text
}

/// Whether the real Redis tools are installed (they are on CI: `.ci/run`
/// installs them). Tests needing them fail with this message otherwise.
pub fn require_redis_tools() {
    for tool in [
        REDIS_SERVER,
        "/usr/bin/redis-cli",
        "/usr/bin/redis-benchmark",
    ] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: apt-get install redis-server redis-tools"
        );
    }
}

/// Runs `check` against the real Redis first (proving the expectation is
/// Redis's behaviour), then against redoubt-server. The flavor being
/// checked is printed, so a failure names it.
pub fn on_both(args: &[&str], check: impl Fn(&Server)) {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        eprintln!("checking against {flavor:?}");
        let server = match flavor {
            Flavor::Redis => Server::redis(args),
            Flavor::Redoubt => Server::redoubt(args),
        };
        check(&server);
    }
}

/// splitmix64: the seeded, dependency-free sequence the differential tests
/// draw their commands from.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}
