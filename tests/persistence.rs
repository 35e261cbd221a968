//! Persistence through the real binary and the real file system: what
//! RealEnv's Disk (std::fs, fdatasync, the background fsync thread) does
//! under core's AOF and RDB code, and file compatibility with real Redis in
//! both directions.

use std::time::Duration;

use redoubt_tests::{command, Flavor, ScratchDir, Server, EXIT_TIMEOUT};

const KEYS: usize = 200;

fn write_keys(server: &Server) {
    let mut client = server.connect();
    for i in 0..KEYS {
        let key = format!("key:{i}");
        let value = format!("value-{i}");
        assert_eq!(command(&mut client, &["SET", &key, &value]), b"+OK\r\n");
    }
}

fn assert_keys(server: &Server) {
    let mut client = server.connect();
    for i in 0..KEYS {
        let key = format!("key:{i}");
        let value = format!("value-{i}");
        let expected = format!("${}\r\n{value}\r\n", value.len());
        let reply = command(&mut client, &["GET", &key]);
        assert_eq!(
            String::from_utf8_lossy(&reply),
            expected,
            "{key} after restart; log:\n{}",
            server.log()
        );
    }
}

// With appendfsync always, every acknowledged write survives SIGKILL.
#[test]
fn aof_always_survives_kill() {
    let dir = ScratchDir::new("aof-kill");
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    write_keys(&server);
    server.signal(libc::SIGKILL);
    server.wait_exit(EXIT_TIMEOUT).expect("killed");
    let restarted = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_keys(&restarted);
}

// With appendfsync everysec, writes reach the file and survive SIGKILL of
// the process (the page cache keeps them; only power loss could not).
#[test]
fn aof_everysec_survives_process_kill() {
    let dir = ScratchDir::new("aof-everysec");
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    write_keys(&server);
    // Let a background fsync run through the bio thread.
    std::thread::sleep(Duration::from_millis(1200));
    server.signal(libc::SIGKILL);
    server.wait_exit(EXIT_TIMEOUT).expect("killed");
    let restarted = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_keys(&restarted);
}

// SIGTERM saves the RDB (save points configured) and a restart loads it.
#[test]
fn rdb_saved_at_sigterm_and_loaded() {
    let dir = ScratchDir::new("rdb-term");
    let args = ["--save", "3600 1"];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    write_keys(&server);
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", server.log());
    assert!(dir.path.join("dump.rdb").exists(), "{}", server.log());
    let restarted = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_keys(&restarted);
}

// An RDB written by redoubt's SAVE loads in real redis-server.
#[test]
fn redoubt_rdb_loads_in_redis() {
    let dir = ScratchDir::new("rdb-to-redis");
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &["--save", ""]);
    write_keys(&server);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["SAVE"]), b"+OK\r\n");
    drop(server);
    let redis = Server::start_in(
        Flavor::Redis,
        Some(&dir.path),
        &["--save", "", "--appendonly", "no"],
    );
    assert_keys(&redis);
}

// An AOF directory written by real redis-server loads in redoubt.
#[test]
fn redis_aof_loads_in_redoubt() {
    let dir = ScratchDir::new("aof-from-redis");
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut redis = Server::start_in(Flavor::Redis, Some(&dir.path), &args);
    write_keys(&redis);
    redis.signal(libc::SIGTERM);
    redis.wait_exit(EXIT_TIMEOUT).expect("redis exits");
    let redoubt = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_keys(&redoubt);
}

// An AOF directory redoubt wrote (RDB-preamble BASE from a rewrite, INCR
// files with checksum trailers, expiries, a transaction) passes Debian's
// redis-check-aof and loads in real redis-server with the same data.
#[test]
fn redoubt_aof_loads_in_redis_and_passes_check_aof() {
    redoubt_tests::require_redis_tools();
    let dir = ScratchDir::new("aof-to-redis");
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    write_keys(&server);
    let mut client = server.connect();
    assert_eq!(
        command(&mut client, &["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    for _ in 0..100 {
        let info =
            String::from_utf8_lossy(&command(&mut client, &["INFO", "persistence"])).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        command(&mut client, &["SET", "ttl", "v", "EX", "1000"]),
        b"+OK\r\n"
    );
    assert_eq!(command(&mut client, &["MULTI"]), b"+OK\r\n");
    assert_eq!(command(&mut client, &["INCR", "counter"]), b"+QUEUED\r\n");
    assert_eq!(
        command(&mut client, &["SET", "key:0", "value-0"]),
        b"+QUEUED\r\n"
    );
    assert_eq!(command(&mut client, &["EXEC"]), b"*2\r\n:1\r\n+OK\r\n");
    server.signal(libc::SIGTERM);
    server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGTERM");
    let manifest = dir.path.join("appendonlydir/appendonly.aof.manifest");
    let check = redoubt_tests::run_bounded(
        "redis-check-aof",
        &[manifest.to_str().unwrap()],
        EXIT_TIMEOUT,
    );
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "redis-check-aof refused our AOF:\n{report}"
    );
    assert!(
        report.contains("All AOF files and manifest are valid"),
        "{report}"
    );
    assert!(
        report.contains("base.rdb"),
        "the rewrite wrote an RDB-preamble BASE:\n{report}"
    );
    let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &args);
    assert_keys(&redis);
    let mut client = redis.connect();
    assert_eq!(command(&mut client, &["GET", "counter"]), b"$1\r\n1\r\n");
    let ttl = String::from_utf8_lossy(&command(&mut client, &["TTL", "ttl"])).into_owned();
    assert!(ttl.starts_with(":99") || ttl.starts_with(":100"), "{ttl}");
}

// A dump written by real Redis's SAVE loads in redoubt at start.
#[test]
fn redis_rdb_loads_in_redoubt() {
    let dir = ScratchDir::new("rdb-from-redis");
    let args = ["--save", "", "--appendonly", "no"];
    let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &args);
    write_keys(&redis);
    let mut client = redis.connect();
    assert_eq!(command(&mut client, &["SAVE"]), b"+OK\r\n");
    drop(redis);
    let redoubt = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_keys(&redoubt);
    assert!(
        redoubt.log().contains("Done loading RDB, keys loaded: 200"),
        "{}",
        redoubt.log()
    );
}
