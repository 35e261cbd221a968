//! The server's life as an operator sees it: start-up with a config file,
//! refused configuration, a port already taken, and clean exits on SIGTERM,
//! SIGINT and SHUTDOWN.

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use redoubt_tests::{
    command, free_port, run_bounded, server_binary, Flavor, ScratchDir, Server, EXIT_TIMEOUT,
    START_TIMEOUT,
};

// SIGTERM makes the server shut down cleanly, log Redis's last line, exit 0.
#[test]
fn sigterm_exits_cleanly() {
    let mut server = Server::redoubt(&[]);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["PING"]), b"+PONG\r\n");
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGTERM");
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("Received SIGTERM scheduling shutdown..."),
        "{log}"
    );
    assert!(
        log.contains("Redis is now ready to exit, bye bye..."),
        "{log}"
    );
}

// SIGINT does the same, naming SIGINT.
#[test]
fn sigint_exits_cleanly() {
    let mut server = Server::redoubt(&[]);
    server.signal(libc::SIGINT);
    let status = server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGINT");
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("Received SIGINT scheduling shutdown..."),
        "{log}"
    );
    assert!(
        log.contains("Redis is now ready to exit, bye bye..."),
        "{log}"
    );
}

// The SHUTDOWN command stops the server with exit status 0.
#[test]
fn shutdown_command_exits() {
    let mut server = Server::redoubt(&[]);
    let mut client = server.connect();
    client
        .write_all(b"*2\r\n$8\r\nSHUTDOWN\r\n$6\r\nNOSAVE\r\n")
        .unwrap();
    let status = server.wait_exit(EXIT_TIMEOUT).expect("exit after SHUTDOWN");
    let log = server.log();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("Redis is now ready to exit, bye bye..."),
        "{log}"
    );
}

// Start-up logs Redis's lines, the banner tooling waits for, and readiness.
#[test]
fn startup_log_lines() {
    let server = Server::redoubt(&[]);
    let log = server.log();
    for needle in [
        "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
        "Redis version=7.0.15, bits=64, commit=00000000, modified=0, pid=",
        "Configuration loaded",
        &format!("Port: {}", server.port),
        "PID: ",
        "Server initialized",
        "* Ready to accept connections\n",
    ] {
        assert!(log.contains(needle), "missing {needle:?} in:\n{log}");
    }
    let first = log.lines().next().unwrap_or_default();
    // PID:R DD Mon YYYY HH:MM:SS.mmm L message
    let words: Vec<&str> = first.split(' ').collect();
    assert!(
        words[0].ends_with(":C") || words[0].ends_with(":M"),
        "{first}"
    );
    assert_eq!(words[5], "#", "level character of a warning: {first}");
}

// A config file is read: its port, bind and requirepass take effect, and an
// inert directive is named in a warning.
#[test]
fn config_file() {
    let dir = ScratchDir::new("conf");
    let port = free_port();
    let path = dir.path.join("redis.conf");
    let text = format!(
        "# a comment\nport {port}\nbind 127.0.0.1\n\nrequirepass \"pass word\"\nmaxmemory 100mb\nlazyfree-lazy-expire yes\n"
    );
    std::fs::write(&path, text).unwrap();
    let path = path.to_string_lossy().into_owned();
    let mut server = Server::spawn(Flavor::Redoubt, &[&path], port);
    server
        .wait_for_log("Ready to accept connections", START_TIMEOUT)
        .unwrap_or_else(|log| panic!("did not start:\n{log}"));
    let log = server.log();
    let inert = log
        .lines()
        .find(|line| line.contains("not implemented"))
        .unwrap_or_else(|| panic!("no warning naming inert directives:\n{log}"));
    assert!(inert.contains("lazyfree-lazy-expire"), "{inert}");
    assert!(
        !inert.contains("maxmemory"),
        "maxmemory is acted on: {inert}"
    );
    let mut client = server.connect();
    let refused = command(&mut client, &["PING"]);
    assert!(
        refused.starts_with(b"-NOAUTH"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
    assert_eq!(command(&mut client, &["AUTH", "pass word"]), b"+OK\r\n");
    assert_eq!(command(&mut client, &["PING"]), b"+PONG\r\n");
}

// An unknown directive in the file is fatal, with Redis's message and line.
#[test]
fn unknown_directive_in_file() {
    let dir = ScratchDir::new("badconf");
    let path = dir.path.join("redis.conf");
    std::fs::write(&path, "port 7777\nfrobnicate yes\n").unwrap();
    let binary = server_binary();
    let output = run_bounded(
        &binary.to_string_lossy(),
        &[&path.to_string_lossy()],
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(
            "*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\n\
             Reading the configuration file, at line 2\n\
             >>> 'frobnicate yes'\n\
             Bad directive or wrong number of arguments"
        ),
        "{stderr}"
    );
}

// An unknown command-line directive is fatal at the line Redis reports.
#[test]
fn unknown_directive_on_command_line() {
    let binary = server_binary();
    let output = run_bounded(
        &binary.to_string_lossy(),
        &["--port", "7777", "--frobnicate", "yes"],
        Duration::from_secs(10),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("at line 3\n>>> 'frobnicate \"yes\"'"),
        "{stderr}"
    );
}

// A port already in use makes start-up fail with Redis's two log lines.
#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let port_text = port.to_string();
    let mut server = Server::spawn(
        Flavor::Redoubt,
        &["--port", &port_text, "--bind", "127.0.0.1"],
        port,
    );
    let status = server
        .wait_exit(EXIT_TIMEOUT)
        .expect("exit when port taken");
    let log = server.log();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "Warning: Could not create server TCP listening socket 127.0.0.1:{port}: bind: Address already in use"
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!("Failed listening on port {port} (TCP), aborting.")),
        "{log}"
    );
}

// `--version` prints a redis-server style version line.
#[test]
fn version_flag() {
    let binary = server_binary();
    let output = run_bounded(&binary.to_string_lossy(), &["-v"], Duration::from_secs(10));
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.starts_with("Redis server v=7.0.15"), "{stdout}");
}

// `logfile` sends the log to a file instead of stdout.
#[test]
fn logfile_directive() {
    let dir = ScratchDir::new("logfile");
    let logfile = dir.path.join("redoubt.log");
    let logfile_text = logfile.to_string_lossy().into_owned();
    let port = free_port();
    let port_text = port.to_string();
    let mut server = Server::spawn(
        Flavor::Redoubt,
        &[
            "--port",
            &port_text,
            "--bind",
            "127.0.0.1",
            "--logfile",
            &logfile_text,
        ],
        port,
    );
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    let mut text = String::new();
    while std::time::Instant::now() < deadline {
        text = std::fs::read_to_string(&logfile).unwrap_or_default();
        if text.contains("Ready to accept connections") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(text.contains("Ready to accept connections"), "{text}");
    server.signal(libc::SIGTERM);
    assert_eq!(
        server.wait_exit(EXIT_TIMEOUT).and_then(|s| s.code()),
        Some(0)
    );
    assert!(
        server.log().is_empty(),
        "stdout should be empty: {}",
        server.log()
    );
}

// `-` reads directives from standard input (an unknown one proves it was read).
#[test]
fn config_from_stdin() {
    use std::process::{Command, Stdio};
    let mut child = Command::new(server_binary())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start redoubt-server -");
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(b"# from stdin\nfrobnicate yes\n")
        .unwrap();
    // The stdin handle is dropped above, so the server sees end of input.
    // Bounded: a server that ignored `-` would start serving instead.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("at line 2\n>>> 'frobnicate yes'"),
        "{stderr}"
    );
}

// A working directory that does not exist is refused at start-up, in
// Redis's words, rather than starting a server that could neither save
// nor, then, shut down.
#[test]
fn missing_dir_is_refused_at_start() {
    for binary in [
        server_binary().to_string_lossy().into_owned(),
        "/usr/bin/redis-server".to_string(),
    ] {
        let output = run_bounded(
            &binary,
            &["--port", "0", "--dir", "/nonexistent/redoubt-dir"],
            Duration::from_secs(10),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{binary}: {stderr}{stdout}");
        assert!(
            format!("{stderr}{stdout}")
                .contains(">>> 'dir \"/nonexistent/redoubt-dir\"'\nNo such file or directory"),
            "{binary}: {stderr}{stdout}"
        );
    }
}

/// One field of an INFO reply.
fn info_field(info: &str, field: &str) -> String {
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .to_string()
}

// After loading a dump, INFO persistence says how many keys were loaded
// and how many were skipped as expired, as Redis does; with no fork,
// nothing was copied on write.
#[test]
fn info_reports_the_last_dump_loaded() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let dir = ScratchDir::new("last-load");
        let args = ["--save", "", "--appendonly", "no"];
        let mut server = Server::start_in(flavor, Some(&dir.path), &args);
        let mut client = server.connect();
        command(&mut client, &["SET", "kept", "1"]);
        command(&mut client, &["SET", "gone", "1", "PX", "200"]);
        assert_eq!(command(&mut client, &["SAVE"]), b"+OK\r\n");
        server.signal(libc::SIGTERM);
        server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(300));
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        let mut client = server.connect();
        let reply = command(&mut client, &["INFO", "persistence"]);
        let info = String::from_utf8_lossy(&reply);
        assert_eq!(
            info_field(&info, "rdb_last_load_keys_loaded"),
            "1",
            "{flavor:?}"
        );
        assert_eq!(
            info_field(&info, "rdb_last_load_keys_expired"),
            "1",
            "{flavor:?}"
        );
        assert_eq!(info_field(&info, "current_cow_size"), "0", "{flavor:?}");
    }
}

// `rdb-key-save-delay` slows a BGSAVE down as Redis's testing knob does
// (0.1 s a key here: twenty keys keep it running for two seconds), and
// setting it back to 0 lets the save finish at once.
#[test]
fn rdb_key_save_delay_paces_a_bgsave() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let args = ["--save", "", "--appendonly", "no"];
        let server = Server::start(flavor, &args);
        let mut client = server.connect();
        for i in 0..20 {
            command(&mut client, &["SET", &format!("k{i}"), "v"]);
        }
        let set = command(
            &mut client,
            &["CONFIG", "SET", "rdb-key-save-delay", "100000"],
        );
        assert_eq!(set, b"+OK\r\n", "{flavor:?}");
        command(&mut client, &["BGSAVE"]);
        std::thread::sleep(Duration::from_millis(500));
        let in_progress = |client: &mut std::net::TcpStream| {
            let reply = command(client, &["INFO", "persistence"]);
            info_field(&String::from_utf8_lossy(&reply), "rdb_bgsave_in_progress")
        };
        assert_eq!(in_progress(&mut client), "1", "{flavor:?} still saving");
        command(&mut client, &["CONFIG", "SET", "rdb-key-save-delay", "0"]);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while in_progress(&mut client) == "1" {
            assert!(
                std::time::Instant::now() < deadline,
                "{flavor:?} never finished"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
