//! Configuration as hardened deployments write it: `rename-command`, the
//! pid file, `daemonize`, the Unix-domain socket, protected configs and
//! CONFIG REWRITE, each checked against the real redis-server where that
//! is cheap.

use std::path::Path;
use std::time::{Duration, Instant};

use redoubt_tests::{
    command, free_port, require_redis_tools, run_bounded, server_binary, Flavor, ScratchDir,
    Server, EXIT_TIMEOUT, REDIS_SERVER, START_TIMEOUT,
};

/// Starts `flavor` on the config file `conf` (its first argument), in
/// `dir`, on `port` (which the file names).
fn start_with_file(flavor: Flavor, dir: &Path, conf: &Path, port: u16) -> Server {
    let conf = conf.to_str().expect("utf-8 path");
    let mut server = Server::spawn_in(flavor, Some(dir), &[conf], port);
    if let Err(log) = server.wait_for_log("Ready to accept connections", START_TIMEOUT) {
        panic!("{flavor:?} did not start on {conf}:\n{log}");
    }
    server
}

/// Sends SHUTDOWN NOSAVE, which closes the connection instead of replying.
fn shutdown(client: &mut std::net::TcpStream) {
    use std::io::Write;
    client
        .write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        .expect("send SHUTDOWN");
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Waits (bounded) until `path` exists or is gone, as `present` asks.
fn wait_for_file(path: &Path, present: bool) -> bool {
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if path.exists() == present {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

// A renamed command answers only to its new name, a disabled one to none,
// and COMMAND INFO reports it as Redis does; both servers reply alike.
#[test]
fn rename_command_replies_like_redis() {
    require_redis_tools();
    let args = [
        "--rename-command",
        "set",
        "myset",
        "--rename-command",
        "flushall",
        "",
    ];
    let mut replies = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let mut all = vec!["--save", ""];
        all.extend_from_slice(&args);
        let server = Server::start(flavor, &all);
        let mut client = server.connect();
        let seen: Vec<String> = [
            &["SET", "a", "b"][..],
            &["MYSET", "a", "b"],
            &["GET", "a"],
            &["FLUSHALL"],
            &["COMMAND", "INFO", "set"],
            &["COMMAND", "GETKEYS", "set", "a", "b"],
            &["EVAL", "return redis.call('myset','x','y')", "0"],
        ]
        .iter()
        .map(|words| text(command(&mut client, words)))
        .collect();
        let info = text(command(&mut client, &["COMMAND", "INFO", "myset"]));
        assert!(
            info.starts_with("*1\r\n*10\r\n$3\r\nset\r\n"),
            "{flavor:?}: {info}"
        );
        replies.push(seen);
    }
    assert_eq!(replies[0], replies[1], "Redis first, redoubt second");
}

// Renaming a command that does not exist stops start-up with Redis's
// fatal error, at the same line.
#[test]
fn rename_unknown_command_is_fatal_like_redis() {
    require_redis_tools();
    let port = free_port().to_string();
    let args = ["--port", &port, "--rename-command", "nosuch", "bar"];
    let redis = run_bounded(REDIS_SERVER, &args, START_TIMEOUT);
    let binary = server_binary();
    let ours = run_bounded(binary.to_str().unwrap(), &args, START_TIMEOUT);
    let message = |output: &std::process::Output| {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let start = all.find("Reading the configuration").unwrap_or(0);
        all[start..].trim().to_string()
    };
    assert_eq!(ours.status.code(), Some(1));
    assert_eq!(redis.status.code(), Some(1));
    assert_eq!(message(&ours), message(&redis));
    assert!(message(&ours).ends_with("No such command in rename-command"));
}

// The pid file holds our pid while we run and goes at a clean exit, with
// Redis's log line.
#[test]
fn pidfile_written_and_removed() {
    let scratch = ScratchDir::new("pidfile");
    let pidfile = scratch.path.join("redoubt.pid");
    let mut server = Server::redoubt(&["--pidfile", pidfile.to_str().unwrap()]);
    let written = std::fs::read_to_string(&pidfile).expect("pid file written");
    let pid: u32 = written.trim().parse().expect("a pid");
    assert_eq!(written, format!("{pid}\n"));
    let mut client = server.connect();
    assert_eq!(
        text(command(&mut client, &["CONFIG", "GET", "pidfile"])),
        format!(
            "*2\r\n$7\r\npidfile\r\n${}\r\n{}\r\n",
            pidfile.to_str().unwrap().len(),
            pidfile.display()
        )
    );
    shutdown(&mut client);
    let status = server.wait_exit(EXIT_TIMEOUT).expect("exit after SHUTDOWN");
    assert_eq!(status.code(), Some(0));
    assert!(!pidfile.exists(), "pid file removed at exit");
    assert!(
        server.log().contains("Removing the pid file."),
        "{}",
        server.log()
    );
}

/// Kills the daemon by the pid its pid file names, if a test fails before
/// it shut it down.
struct Daemon(Option<i32>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) on the daemon this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

// `daemonize yes`: the launched process exits 0 at once, the detached one
// writes its pid file, serves, and removes the file at exit.
#[test]
fn daemonize_detaches() {
    let scratch = ScratchDir::new("daemonize");
    let pidfile = scratch.path.join("d.pid");
    let logfile = scratch.path.join("d.log");
    let port = free_port();
    let port_text = port.to_string();
    let binary = server_binary();
    let launched = run_bounded(
        binary.to_str().unwrap(),
        &[
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "yes",
            "--pidfile",
            pidfile.to_str().unwrap(),
            "--logfile",
            logfile.to_str().unwrap(),
            "--dir",
            scratch.path.to_str().unwrap(),
            "--save",
            "",
        ],
        START_TIMEOUT,
    );
    assert_eq!(launched.status.code(), Some(0), "{launched:?}");
    assert!(
        launched.stdout.is_empty(),
        "the daemon's output goes to its log"
    );
    assert!(wait_for_file(&pidfile, true), "pid file written");
    let mut daemon = Daemon(None);
    let pid = loop {
        // The file may be read between its creation and its write.
        if let Ok(pid) = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse::<i32>()
        {
            break pid;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    daemon.0 = Some(pid);
    let deadline = Instant::now() + START_TIMEOUT;
    let mut client = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(stream) => break stream,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("the daemon does not listen: {e}"),
        }
    };
    client.set_read_timeout(Some(START_TIMEOUT)).unwrap();
    assert_eq!(command(&mut client, &["PING"]), b"+PONG\r\n");
    let info = text(command(&mut client, &["INFO", "server"]));
    assert!(info.contains(&format!("process_id:{pid}\r\n")), "{info}");
    shutdown(&mut client);
    assert!(wait_for_file(&pidfile, false), "pid file removed at exit");
    daemon.0 = None;
    let log = std::fs::read_to_string(&logfile).unwrap_or_default();
    assert!(log.contains("Removing the pid file."), "{log}");
}

// The Unix-domain socket listens beside TCP with its mode; redis-cli -s
// works; CLIENT LIST names the path as Redis does; the file goes at exit.
#[test]
fn unixsocket_listens_beside_tcp() {
    require_redis_tools();
    let scratch = ScratchDir::new("unixsocket");
    let socket = scratch.path.join("redoubt.sock");
    let socket_text = socket.to_str().unwrap();
    let mut server = Server::redoubt(&["--unixsocket", socket_text, "--unixsocketperm", "700"]);
    assert!(server.log().contains(&format!(
        "The server is now ready to accept connections at {socket_text}"
    )));
    let cli = |args: &[&str]| {
        let mut all = vec!["-s", socket_text];
        all.extend_from_slice(args);
        let output = run_bounded("/usr/bin/redis-cli", &all, START_TIMEOUT);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(cli(&["ping"]), "PONG\n");
    let list = cli(&["client", "list"]);
    assert!(
        list.contains(&format!(" addr={socket_text}:0 laddr={socket_text}:0 "))
            && list.contains(" flags=U "),
        "{list}"
    );
    assert_eq!(
        cli(&["config", "get", "unixsocket*"]),
        format!("unixsocket\n{socket_text}\nunixsocketperm\n700\n")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["PING"]), b"+PONG\r\n");
    let _ = cli(&["shutdown", "nosave"]);
    server.wait_exit(EXIT_TIMEOUT).expect("exit after SHUTDOWN");
    assert!(!socket.exists(), "socket file removed at exit");
    assert!(server.log().contains("Removing the unix socket file."));
}

// Protected configs and immutable enable-* directives refuse CONFIG SET in
// Redis's words; CONFIG REWRITE without a file names the problem.
#[test]
fn protected_configs_and_no_file_like_redis() {
    require_redis_tools();
    let mut replies = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let server = Server::start(flavor, &["--save", ""]);
        let mut client = server.connect();
        let seen: Vec<String> = [
            &["CONFIG", "SET", "dir", "/tmp"][..],
            &["CONFIG", "SET", "dbfilename", "x.rdb"],
            &["CONFIG", "SET", "enable-debug-command", "yes"],
            &["CONFIG", "SET", "unixsocket", "/tmp/x.sock"],
            &["CONFIG", "GET", "enable-debug-command"],
            &["CONFIG", "GET", "enable-protected-configs"],
            &["CONFIG", "REWRITE"],
        ]
        .iter()
        .map(|words| text(command(&mut client, words)))
        .collect();
        replies.push(seen);
    }
    assert_eq!(replies[0], replies[1], "Redis first, redoubt second");
    let local = Server::redoubt(&["--enable-protected-configs", "local"]);
    let mut client = local.connect();
    let dir = local.dir.to_str().unwrap().to_string();
    assert_eq!(
        command(&mut client, &["CONFIG", "SET", "dir", &dir]),
        b"+OK\r\n"
    );
}

/// The config file both servers start from: every kind of line the
/// rewrite treats differently.
const REWRITE_CONFIG: &str = "\
# A hardened deployment's file.
port PORT
bind 127.0.0.1
protected-mode yes
enable-protected-configs local

# Persistence
save 900 1
save 300 10
appendfsync everysec
maxmemory 100mb
client-output-buffer-limit normal 0 0 0
rename-command flushall \"\"
rename-command keys my-keys
timeout 0
slaveof 127.0.0.1 1
include INCLUDED
";

/// The lines of a rewritten file before the signature, and the set of
/// lines after it, with this run's port and directory made neutral and
/// `user` lines (ACL, which redoubt does not have) left out.
fn rewritten_parts(text: &str, port: u16, dir: &Path) -> (Vec<String>, Vec<String>) {
    let neutral = |line: &str| {
        line.replace(&port.to_string(), "PORT")
            .replace(dir.to_str().unwrap(), "DIR")
    };
    let (head, tail) = text
        .split_once("# Generated by CONFIG REWRITE\n")
        .unwrap_or((text, ""));
    let head = head.lines().map(neutral).collect();
    let mut tail: Vec<String> = tail
        .lines()
        .filter(|line| !line.starts_with("user "))
        .map(neutral)
        .collect();
    tail.sort();
    (head, tail)
}

// The same file and the same CONFIG SETs give the same rewritten file on
// both servers: lines rewritten in place, leftovers blanked, the rest
// appended after the signature (in an order of Redis's hash table, so
// compared as a set).
#[test]
fn config_rewrite_matches_redis() {
    require_redis_tools();
    let mut results = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let scratch = ScratchDir::new("rewrite");
        let port = free_port();
        let conf = scratch.path.join("redis.conf");
        let included = scratch.path.join("included.conf");
        std::fs::write(&included, "hz 11\nlatency-tracking no\n").unwrap();
        let file = REWRITE_CONFIG
            .replace("PORT", &port.to_string())
            .replace("INCLUDED", included.to_str().unwrap());
        std::fs::write(&conf, file).unwrap();
        let server = start_with_file(flavor, &scratch.path, &conf, port);
        let mut client = server.connect();
        for words in [
            &["REPLICAOF", "NO", "ONE"][..],
            &["CONFIG", "SET", "save", "100 1 200 2 300 3"],
            &["CONFIG", "SET", "maxmemory", "3gb"],
            &[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 2mb 3",
            ],
            &["CONFIG", "SET", "hz", "12"],
            &["CONFIG", "SET", "appendfsync", "always"],
            &["CONFIG", "SET", "masterauth", "s3cret word"],
            &["CONFIG", "SET", "repl-backlog-size", "1000000"],
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"],
            &["CONFIG", "SET", "dbfilename", "other.rdb"],
        ] {
            assert_eq!(
                command(&mut client, words),
                b"+OK\r\n",
                "{flavor:?} {words:?}"
            );
        }
        assert_eq!(command(&mut client, &["CONFIG", "REWRITE"]), b"+OK\r\n");
        let rewritten = std::fs::read_to_string(&conf).unwrap();
        let dir = std::fs::canonicalize(&scratch.path).unwrap();
        eprintln!("{flavor:?} rewrote:\n{rewritten}");
        results.push((rewritten.clone(), rewritten_parts(&rewritten, port, &dir)));
        // Nothing but the file: no temp file left beside it.
        let names: Vec<String> = std::fs::read_dir(&scratch.path)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|name| name.starts_with("redis.conf"))
            .collect();
        assert_eq!(names, vec!["redis.conf".to_string()], "{flavor:?}");
        // The rewritten file starts the same server again.
        drop(client);
        drop(server);
        let again = start_with_file(flavor, &scratch.path, &conf, port);
        let mut client = again.connect();
        assert_eq!(
            text(command(&mut client, &["CONFIG", "GET", "hz"])),
            "*2\r\n$2\r\nhz\r\n$2\r\n12\r\n"
        );
    }
    let (redis_text, redis) = &results[0];
    let (ours_text, ours) = &results[1];
    assert_eq!(
        redis.0, ours.0,
        "in-place part differs:\nRedis:\n{redis_text}\nredoubt:\n{ours_text}"
    );
    assert_eq!(
        redis.1, ours.1,
        "appended part differs:\nRedis:\n{redis_text}\nredoubt:\n{ours_text}"
    );
}

// Writes under a renamed name reach the AOF under that name, as in Redis
// (which applies renames to its one table, AOF loading included), and a
// restart with the same renames loads them back.
#[test]
fn renamed_commands_in_the_aof_like_redis() {
    require_redis_tools();
    let mut logged = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let scratch = ScratchDir::new("renamed-aof");
        let args = [
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--rename-command",
            "set",
            "myset",
        ];
        let mut server = Server::start_in(flavor, Some(&scratch.path), &args);
        let mut client = server.connect();
        assert_eq!(command(&mut client, &["MYSET", "k", "v"]), b"+OK\r\n");
        assert_eq!(command(&mut client, &["RPUSH", "l", "x"]), b":1\r\n");
        logged.push(redoubt_tests::aof_incr_commands(&scratch.path));
        shutdown(&mut client);
        server.wait_exit(EXIT_TIMEOUT).expect("exit after SHUTDOWN");
        let again = Server::start_in(flavor, Some(&scratch.path), &args);
        let mut client = again.connect();
        assert_eq!(
            command(&mut client, &["GET", "k"]),
            b"$1\r\nv\r\n",
            "{flavor:?}"
        );
    }
    assert_eq!(logged[0], logged[1], "Redis first, redoubt second");
    assert!(logged[1].contains(&vec!["MYSET".to_string(), "k".to_string(), "v".to_string()]));
}

/// An address of this machine that is not loopback, if it has one: the
/// source address the kernel would use toward a documentation network.
fn non_loopback_address() -> Option<std::net::IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    probe.connect("198.51.100.1:9").ok()?;
    let ip = probe.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

// Protected mode: with no password, a client from a non-loopback address
// gets Redis's DENIED text and is closed, even with an explicit bind (as
// Redis 7.0 does); loopback clients are served.
#[test]
fn protected_mode_refuses_like_redis() {
    require_redis_tools();
    let Some(ip) = non_loopback_address() else {
        eprintln!("no non-loopback address on this machine: protected mode checked in core only");
        return;
    };
    let mut answers = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let server = Server::start(flavor, &["--save", "", "--bind", "0.0.0.0"]);
        let mut remote = std::net::TcpStream::connect((ip, server.port)).expect("connect");
        remote.set_read_timeout(Some(START_TIMEOUT)).unwrap();
        let mut answer = Vec::new();
        use std::io::Read;
        let _ = remote.read_to_end(&mut answer);
        let mut local = server.connect();
        assert_eq!(command(&mut local, &["PING"]), b"+PONG\r\n");
        answers.push(text(answer));
    }
    assert_eq!(answers[0], answers[1], "Redis first, redoubt second");
    assert!(
        answers[1].starts_with("-DENIED Redis is running in protected mode because")
            && answers[1].ends_with("from the outside.\r\n"),
        "{}",
        answers[1]
    );
}

// A master's stream carries a renamed write under its new name, and a
// replica with the same renames applies it, as Redis's replicas do.
#[test]
fn renamed_commands_down_the_master_stream() {
    let args = ["--save", "", "--rename-command", "set", "myset"];
    let mut master_args = args.to_vec();
    master_args.extend(["--repl-diskless-sync-delay", "0"]);
    let master = Server::redoubt(&master_args);
    let replica = Server::redoubt(&args);
    let mut to_replica = replica.connect();
    let port = master.port.to_string();
    assert_eq!(
        command(&mut to_replica, &["REPLICAOF", "127.0.0.1", &port]),
        b"+OK\r\n"
    );
    let mut to_master = master.connect();
    let deadline = Instant::now() + START_TIMEOUT;
    let mut round = 0;
    loop {
        round += 1;
        let value = format!("v{round}");
        assert_eq!(command(&mut to_master, &["MYSET", "k", &value]), b"+OK\r\n");
        std::thread::sleep(Duration::from_millis(50));
        let seen = text(command(&mut to_replica, &["GET", "k"]));
        if seen == format!("${}\r\n{value}\r\n", value.len()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never applied MYSET: {seen}"
        );
    }
    assert!(
        !replica.log().contains("unknown command"),
        "{}",
        replica.log()
    );
}

// A config file whose directory is gone: the rewrite fails in Redis's
// words and leaves nothing behind.
#[test]
fn config_rewrite_failure_like_redis() {
    require_redis_tools();
    let mut replies = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let scratch = ScratchDir::new("rewrite-fails");
        let conf_dir = scratch.path.join("conf");
        std::fs::create_dir_all(&conf_dir).unwrap();
        let conf = conf_dir.join("redis.conf");
        let port = free_port();
        std::fs::write(&conf, format!("port {port}\nbind 127.0.0.1\nsave \"\"\n")).unwrap();
        let server = start_with_file(flavor, &scratch.path, &conf, port);
        std::fs::remove_dir_all(&conf_dir).unwrap();
        let mut client = server.connect();
        replies.push(text(command(&mut client, &["CONFIG", "REWRITE"])));
        assert!(!conf_dir.exists(), "{flavor:?} created nothing");
    }
    assert_eq!(replies[0], replies[1], "Redis first, redoubt second");
    assert_eq!(
        replies[1],
        "-ERR Rewriting config file: No such file or directory\r\n"
    );
}
