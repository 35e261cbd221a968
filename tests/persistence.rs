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

/// The manifest's entries, without comment lines (redoubt's first line is
/// its `#CK:` checksum, which Redis skips as a comment).
fn manifest_entries(dir: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest"))
        .expect("a manifest");
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Stops a server with SIGTERM and waits for it.
fn stop(mut server: Server) {
    server.signal(libc::SIGTERM);
    server.wait_exit(EXIT_TIMEOUT).expect("exit after SIGTERM");
}

// A pre-7 `appendonly.aof` in `dir` is moved into `appendonlydir/` under a
// manifest naming it the BASE, with Redis's log line; later starts go on
// appending to the one INCR file. Real Redis, given the same file, ends
// with the same layout and manifest.
#[test]
fn pre_7_aof_is_upgraded_and_its_incr_file_continued_as_redis_does() {
    redoubt_tests::require_redis_tools();
    let old_style = redoubt_tests::encode(&[b"SET", b"old", b"v1"]);
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let mut layouts = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let dir = ScratchDir::new("aof-upgrade");
        std::fs::write(dir.path.join("appendonly.aof"), &old_style).unwrap();
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        assert!(
            server.log().contains("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."),
            "{flavor:?}: {}",
            server.log()
        );
        let mut client = server.connect();
        assert_eq!(command(&mut client, &["SET", "new", "v2"]), b"+OK\r\n");
        stop(server);
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        assert!(
            server
                .log()
                .contains("Opening AOF incr file appendonly.aof.1.incr.aof on server start"),
            "{flavor:?}: {}",
            server.log()
        );
        let mut client = server.connect();
        assert_eq!(command(&mut client, &["SET", "newer", "v3"]), b"+OK\r\n");
        assert_eq!(
            command(&mut client, &["MGET", "old", "new", "newer"]),
            b"*3\r\n$2\r\nv1\r\n$2\r\nv2\r\n$2\r\nv3\r\n",
            "{flavor:?}"
        );
        stop(server);
        assert!(!dir.path.join("appendonly.aof").exists(), "{flavor:?}");
        assert!(
            dir.path.join("appendonlydir/appendonly.aof").exists(),
            "{flavor:?}"
        );
        layouts.push(manifest_entries(&dir.path));
    }
    assert_eq!(
        layouts[0],
        [
            "file appendonly.aof seq 1 type b",
            "file appendonly.aof.1.incr.aof seq 1 type i"
        ]
    );
    assert_eq!(
        layouts[1], layouts[0],
        "redoubt's manifest differs from Redis's"
    );
}

/// The `#TS:` annotations of a file, in order.
fn timestamps(path: &std::path::Path) -> Vec<i64> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .split(|&b| b == b'\n')
        .filter_map(|line| line.strip_prefix(b"#TS:"))
        .map(|digits| {
            std::str::from_utf8(digits)
                .unwrap()
                .trim_end_matches('\r')
                .parse()
                .unwrap()
        })
        .collect()
}

// With aof-timestamp-enabled, redoubt's INCR file carries Redis's `#TS:`
// annotations, one per second that saw writes (a restart in between goes
// on in the same file), and Debian's `redis-check-aof
// --truncate-to-timestamp` cuts it at one: redoubt and real Redis then
// both load exactly the writes made up to that second.
#[test]
fn check_aof_truncates_redoubt_files_to_a_timestamp() {
    redoubt_tests::require_redis_tools();
    let dir = ScratchDir::new("aof-timestamps");
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
        "--save",
        "",
    ];
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["SET", "a", "1"]), b"+OK\r\n");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(command(&mut client, &["SET", "b", "2"]), b"+OK\r\n");
    stop(server);
    std::thread::sleep(Duration::from_millis(1100));
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["SET", "c", "3"]), b"+OK\r\n");
    stop(server);
    let incr = dir.path.join("appendonlydir/appendonly.aof.1.incr.aof");
    let stamps = timestamps(&incr);
    assert_eq!(stamps.len(), 3, "one annotation per second with writes");
    assert!(
        stamps.windows(2).all(|pair| pair[0] < pair[1]),
        "{stamps:?}"
    );
    let manifest = dir.path.join("appendonlydir/appendonly.aof.manifest");
    let check = redoubt_tests::run_bounded(
        "redis-check-aof",
        &[
            "--truncate-to-timestamp",
            &stamps[1].to_string(),
            manifest.to_str().unwrap(),
        ],
        EXIT_TIMEOUT,
    );
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(check.status.success(), "{report}");
    assert!(report.contains("Successfully truncated AOF"), "{report}");
    assert_eq!(timestamps(&incr), stamps[..2], "cut at the third second");
    for flavor in [Flavor::Redoubt, Flavor::Redis] {
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        let mut client = server.connect();
        assert_eq!(
            command(&mut client, &["MGET", "a", "b", "c"]),
            b"*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n",
            "{flavor:?}: {}",
            server.log()
        );
        stop(server);
    }
}

// With aof-timestamp-enabled and a RESP BASE, a rewrite's BASE starts with
// a `#TS:` line, as Redis's does; redoubt's passes redis-check-aof and
// loads back.
#[test]
fn rewritten_resp_base_starts_with_a_timestamp() {
    redoubt_tests::require_redis_tools();
    let args = [
        "--appendonly",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
        "--aof-timestamp-enabled",
        "yes",
        "--save",
        "",
    ];
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let dir = ScratchDir::new("aof-base-timestamp");
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        let mut client = server.connect();
        assert_eq!(command(&mut client, &["SET", "k", "v"]), b"+OK\r\n");
        command(&mut client, &["BGREWRITEAOF"]);
        for _ in 0..100 {
            let info = String::from_utf8_lossy(&command(&mut client, &["INFO", "persistence"]))
                .into_owned();
            if info.contains("aof_rewrite_in_progress:0") && info.contains("aof_rewrites:1") {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        stop(server);
        let entries = manifest_entries(&dir.path);
        assert_eq!(
            entries[0], "file appendonly.aof.2.base.aof seq 2 type b",
            "{flavor:?}"
        );
        let base = std::fs::read(dir.path.join("appendonlydir/appendonly.aof.2.base.aof")).unwrap();
        assert!(
            base.starts_with(b"#TS:"),
            "{flavor:?}: {}",
            redoubt_tests::show(&base)
        );
        let manifest = dir.path.join("appendonlydir/appendonly.aof.manifest");
        let check = redoubt_tests::run_bounded(
            "redis-check-aof",
            &[manifest.to_str().unwrap()],
            EXIT_TIMEOUT,
        );
        assert!(
            check.status.success(),
            "{flavor:?}: {}",
            String::from_utf8_lossy(&check.stdout)
        );
        let server = Server::start_in(flavor, Some(&dir.path), &args);
        let mut client = server.connect();
        assert_eq!(
            command(&mut client, &["GET", "k"]),
            b"$1\r\nv\r\n",
            "{flavor:?}"
        );
        stop(server);
    }
}
