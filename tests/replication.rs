//! Replication between redoubt-server and the real redis-server (Debian's
//! 7.0.15), over loopback, in every pairing of master and replica: full
//! sync (diskless EOF format and an RDB file), the command stream, the
//! read-only replica, partial and full resync after a broken link, WAIT,
//! ROLE, `redis-cli --replica` and `--rdb`, and promotion.
//!
//! Each scenario is a function of (master flavor, replica flavor); the
//! macros at the bottom make one test per pairing, named
//! `<scenario>::<master>_to_<replica>` (`full_sync_diskless::redis_to_redoubt`
//! is a Redis master with a redoubt replica). Redis to Redis runs always
//! and proves the test states Redis's behaviour; the pairings with redoubt
//! are ignored until replication lands in core. To run them, build the
//! server in the same profile first:
//!
//! ```sh
//! cargo build -p redoubt-server
//! cargo test -p redoubt-tests --test replication -- --include-ignored
//! ```
//!
//! A link is broken three ways: the master drops its replica (CLIENT
//! KILL), the replica is promoted (REPLICAOF NO ONE), or a relay between
//! the two that the test cuts and heals ([`LinkRelay`]): a real break that
//! neither side is told of by a command, after which the replica asks for a
//! partial resync that the backlog can or cannot serve.
//!
//! Datasets are compared without DUMP or DEBUG DIGEST: every key of every
//! database is read back with its type's commands, with its absolute
//! expiry (PEXPIRETIME), on both sides. Every wait polls with a deadline.
//! Servers run with `repl-diskless-sync-delay 0`, so a full sync starts at
//! once instead of after Redis's default five seconds.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redoubt_tests::{
    encode, read_reply, require_redis_tools, run_bounded, show, Flavor, ScratchDir, Server,
    EXIT_TIMEOUT, REPLY_TIMEOUT,
};

/// How long a replica may take to reach `master_link_status:up` (Redis
/// retries a failed connection once a second).
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a replica may take to apply what its master already sent.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// Polling step of every wait.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a redis-cli or redis-check-rdb run may take.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);
/// Databases a dataset comparison reads (Redis's default `databases`).
const DATABASES: u32 = 16;
/// The bound given to `WAIT 1 <ms>` when one replica is attached: a
/// replica acknowledges at once when asked (REPLCONF GETACK), so this is a
/// bound, not a speed requirement.
const WAIT_BOUND_MS: u64 = 5000;
/// The timeout of `WAIT 2 <ms>`, which one replica can never satisfy.
const WAIT_UNSATISFIED_MS: u64 = 100;
/// The smallest backlog Redis keeps (it rounds smaller sizes up to 16 kB).
const BACKLOG_BYTES_MIN: usize = 16 * 1024;

/// Given to every server: no persistence, and a full sync that starts at
/// once instead of after Redis's default five-second delay.
const COMMON_ARGS: [&str; 6] = [
    "--save",
    "",
    "--appendonly",
    "no",
    "--repl-diskless-sync-delay",
    "0",
];

const READONLY_ERROR: &str = "READONLY You can't write against a read only replica.";
const WAIT_ON_REPLICA_ERROR: &str = "ERR WAIT cannot be used with replica instances. \
    Please also note that since Redis 4.0 if a replica is configured to be writable \
    (which is not the default) writes to replicas are just local and are not propagated.";

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

// A replica started with `--replicaof` receives, by a diskless full sync
// (the EOF format), exactly the master's data of every type and size.
fn full_sync_diskless(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let master = start(master, &["--repl-diskless-sync", "yes"]);
    fill_every_type(&mut Client::connect(&master));
    let replica = start_replica(replica, master.port, &[]);
    wait_link_up(&replica, &master);
    assert_replica_info(&replica, &master);
    assert_same_data(&master, &replica, "after a diskless full sync");
    assert_same_encodings(&master, &replica);
    assert_master_lists_replica(&master, &replica);
}

// A running server told `REPLICAOF` receives, by a full sync through an RDB
// file the master writes first, exactly the master's data, and loses the
// keys it had of its own.
fn full_sync_disk(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let master = start(master, &["--repl-diskless-sync", "no"]);
    fill_every_type(&mut Client::connect(&master));
    let replica = start(replica, &[]);
    let mut client = Client::connect(&replica);
    client.ok(&["SET", "replica:own", "dropped by the sync"]);
    client.ok(&["SELECT", "7"]);
    client.ok(&["SADD", "replica:own:set", "a"]);
    let port = master.port.to_string();
    assert_eq!(
        client.call(&["REPLICAOF", "127.0.0.1", &port]),
        Reply::Status("OK".into())
    );
    wait_link_up(&replica, &master);
    assert_replica_info(&replica, &master);
    assert_same_data(&master, &replica, "after a full sync from an RDB file");
    assert_same_encodings(&master, &replica);
    let mut client = Client::connect(&replica);
    assert_eq!(
        client.call(&["REPLICAOF", "127.0.0.1", &port]),
        Reply::Status("OK Already connected to specified master".into()),
        "REPLICAOF naming the current master again"
    );
}

// Writes on the master reach the replica: every type's commands, MULTI/EXEC,
// EXPIRE and PERSIST, DEL, other databases, a blocked pop served by a push,
// a key that expires on the master, and a PUBLISH that a subscriber
// connected to the replica receives.
fn command_stream(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    let mut subscriber = Client::connect(&pair.replica);
    assert_eq!(
        subscriber.call(&["SUBSCRIBE", "news"]),
        array(&[bulk("subscribe"), bulk("news"), Reply::Int(1)])
    );
    let mut popper = Client::connect(&pair.master);
    popper.send(&[b"BLPOP", b"queue", b"30"]);
    wait_until("the BLPOP to block on the master", || {
        info_field(&pair.master, "clients", "blocked_clients") == "1"
    });
    let mut client = Client::connect(&pair.master);
    write_stream(&mut client);
    assert_eq!(
        popper.read(),
        array(&[bulk("queue"), bulk("job")]),
        "BLPOP served by LPUSH"
    );
    assert_eq!(
        client.call(&["PUBLISH", "news", "hello"]),
        Reply::Int(0),
        "PUBLISH on the master counts the master's subscribers only"
    );
    assert_eq!(
        subscriber.read(),
        array(&[bulk("message"), bulk("news"), bulk("hello")]),
        "the replica's subscriber receives the master's PUBLISH"
    );
    expire_on_master(&mut client, "ephemeral");
    wait_caught_up(&pair.master, &pair.replica);
    assert_same_data(&pair.master, &pair.replica, "after the command stream");
    assert_same_db_sizes(&pair.master, &pair.replica);
}

// A replica refuses writes with Redis's exact READONLY error (also inside
// MULTI, which it then aborts) and serves reads.
fn replica_is_read_only(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    Client::connect(&pair.master).ok(&["SET", "k", "from master"]);
    wait_caught_up(&pair.master, &pair.replica);
    let mut client = Client::connect(&pair.replica);
    let refused: [&[&str]; 6] = [
        &["SET", "k", "v"],
        &["DEL", "k"],
        &["INCR", "counter"],
        &["LPUSH", "list", "a"],
        &["EXPIRE", "k", "100"],
        &["FLUSHALL"],
    ];
    for command in refused {
        assert_eq!(
            client.call(command),
            Reply::Error(READONLY_ERROR.into()),
            "{command:?} on a replica"
        );
    }
    assert_eq!(client.call(&["GET", "k"]), bulk("from master"));
    client.ok(&["SELECT", "3"]);
    assert_eq!(
        client.call(&["SET", "k", "v"]),
        Reply::Error(READONLY_ERROR.into()),
        "SET in another database"
    );
    client.ok(&["MULTI"]);
    assert_eq!(
        client.call(&["SET", "k", "v"]),
        Reply::Error(READONLY_ERROR.into()),
        "SET queued in MULTI"
    );
    assert_eq!(client.call(&["GET", "k"]), Reply::Status("QUEUED".into()));
    assert_eq!(
        client.call(&["EXEC"]),
        Reply::Error("EXECABORT Transaction discarded because of previous errors.".into())
    );
    assert_eq!(
        client.call(&["PUBLISH", "channel", "message"]),
        Reply::Int(0),
        "PUBLISH is no write"
    );
}

// After the master drops its replica (CLIENT KILL TYPE replica, then its
// old name TYPE slave), the replica reconnects and continues from the
// backlog: a partial resync each time, no full one, and the writes made
// meanwhile arrive.
fn partial_resync_after_kill(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    let mut client = Client::connect(&pair.master);
    fill_small(&mut client, "before");
    wait_caught_up(&pair.master, &pair.replica);
    for kind in ["replica", "slave"] {
        let before = sync_stats(&pair.master);
        assert_eq!(
            client.call(&["CLIENT", "KILL", "TYPE", kind]),
            Reply::Int(1),
            "CLIENT KILL TYPE {kind} kills the one replica"
        );
        fill_small(&mut client, &format!("while-killed-{kind}"));
        wait_until("a partial resync (sync_partial_ok + 1)", || {
            sync_stats(&pair.master).partial_ok > before.partial_ok
        });
        wait_link_up(&pair.replica, &pair.master);
        fill_small(&mut client, &format!("after-{kind}"));
        wait_caught_up(&pair.master, &pair.replica);
        assert_same_data(&pair.master, &pair.replica, "after a partial resync");
        let after = sync_stats(&pair.master);
        assert_eq!(after.partial_ok, before.partial_ok + 1, "{after:?}");
        assert_eq!(after.full, before.full, "no full sync: {after:?}");
        assert_eq!(after.partial_err, before.partial_err, "{after:?}");
    }
}

// Through a relay the test cuts: a break shorter than the backlog ends in
// a partial resync; one during which the master writes more than its
// (minimal) backlog holds ends in a full resync. Both times the replica
// ends with the master's data.
fn resync_after_link_cut(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let backlog = BACKLOG_BYTES_MIN.to_string();
    let master = start(master, &["--repl-backlog-size", &backlog]);
    let relay = LinkRelay::new(master.port);
    let replica = start_replica(replica, relay.port, &[]);
    wait_link_up(&replica, &master);
    let mut client = Client::connect(&master);
    fill_small(&mut client, "before");
    wait_caught_up(&master, &replica);

    let before = sync_stats(&master);
    relay.cut();
    wait_replicas_gone(&master);
    fill_small(&mut client, "short-break");
    relay.heal();
    wait_until("a partial resync (sync_partial_ok + 1)", || {
        sync_stats(&master).partial_ok > before.partial_ok
    });
    wait_link_up(&replica, &master);
    wait_caught_up(&master, &replica);
    assert_same_data(&master, &replica, "after a short break");
    let after_short = sync_stats(&master);
    assert_eq!(after_short.full, before.full, "{after_short:?}");

    relay.cut();
    wait_replicas_gone(&master);
    let offset_at_cut = info_int(&master, "replication", "master_repl_offset");
    fill_bytes(&mut client, 64 * BACKLOG_BYTES_MIN);
    let written = info_int(&master, "replication", "master_repl_offset") - offset_at_cut;
    assert!(
        written > 2 * BACKLOG_BYTES_MIN as i64,
        "wrote {written} bytes"
    );
    relay.heal();
    wait_until("a full resync (sync_full + 1)", || {
        sync_stats(&master).full > after_short.full
    });
    wait_link_up(&replica, &master);
    wait_caught_up(&master, &replica);
    assert_same_data(&master, &replica, "after a break longer than the backlog");
    let after_long = sync_stats(&master);
    assert_eq!(after_long.full, after_short.full + 1, "{after_long:?}");
    assert_eq!(
        after_long.partial_ok, after_short.partial_ok,
        "{after_long:?}"
    );
    assert_eq!(
        after_long.partial_err,
        after_short.partial_err + 1,
        "the replica asked for a partial resync, refused: {after_long:?}"
    );
}

// WAIT counts the replicas that acknowledged the client's writes: 1 of 1
// at once, 1 when asked for 2 (after its timeout); a replica refuses WAIT.
fn wait_counts_acks(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    let mut client = Client::connect(&pair.master);
    client.ok(&["SET", "waited", "1"]);
    let bound = WAIT_BOUND_MS.to_string();
    assert_eq!(client.call(&["WAIT", "1", &bound]), Reply::Int(1));
    client.ok(&["SET", "waited", "2"]);
    let timeout = WAIT_UNSATISFIED_MS.to_string();
    let started = Instant::now();
    assert_eq!(client.call(&["WAIT", "2", &timeout]), Reply::Int(1));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(WAIT_UNSATISFIED_MS * 9 / 10),
        "WAIT 2 {timeout} answered after {waited:?}, before its timeout"
    );
    assert_eq!(
        Client::connect(&pair.replica).call(&["WAIT", "1", "0"]),
        Reply::Error(WAIT_ON_REPLICA_ERROR.into())
    );
}

// A master shut down with a replica attached first waits for it to
// acknowledge every write (Redis 7's shutdown-timeout), so the replica
// holds all it acknowledged. While the replica cannot answer, SHUTDOWN
// blocks and holds writes (reads go on); SHUTDOWN ABORT from another
// client cancels it, the SHUTDOWN gets Redis's error and the held write
// runs. SIGTERM then waits the same way and exits.
fn shutdown_waits_for_replicas(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let mut pair = Pair::start(master, replica, &[]);
    let mut client = Client::connect(&pair.master);
    client.ok(&["SET", "before", "1"]);
    wait_caught_up(&pair.master, &pair.replica);
    pair.replica.signal(libc::SIGSTOP);
    client.ok(&["SET", "during", "1"]);
    let mut shutdown = Client::connect(&pair.master);
    shutdown.send(&[b"SHUTDOWN", b"NOSAVE"]);
    wait_until("the master to wait for its replica", || {
        pair.master
            .log()
            .contains("Waiting for replicas before shutting down.")
    });
    assert_eq!(client.call(&["GET", "during"]), bulk("1"), "reads go on");
    let mut writer = Client::connect(&pair.master);
    writer.send(&[b"INCR", b"held"]);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        client.call(&["GET", "held"]),
        Reply::Nil,
        "the write is held while the shutdown waits"
    );
    assert_eq!(
        client.call(&["SHUTDOWN", "ABORT"]),
        Reply::Status("OK".into())
    );
    assert_eq!(
        shutdown.read(),
        Reply::Error("ERR Errors trying to SHUTDOWN. Check logs.".into())
    );
    assert_eq!(writer.read(), Reply::Int(1), "the held write ran");
    assert_eq!(
        client.call(&["SHUTDOWN", "ABORT"]),
        Reply::Error("ERR No shutdown in progress.".into())
    );
    pair.replica.signal(libc::SIGCONT);
    client.ok(&["SET", "last", "1"]);
    pair.master.signal(libc::SIGTERM);
    let status = pair.master.wait_exit(EXIT_TIMEOUT);
    assert!(status.is_some(), "the master did not exit after SIGTERM");
    let log = pair.master.log();
    assert!(
        log.contains("1 of 1 replicas are in sync when shutting down."),
        "{log}"
    );
    let mut reader = Client::connect(&pair.replica);
    for key in ["before", "during", "held", "last"] {
        assert_eq!(reader.call(&["EXISTS", key]), Reply::Int(1), "{key}");
    }
}

// ROLE has Redis's exact shape on both sides: the master's
// ["master", offset, [[ip, port, offset]]] with the replica's port and
// offset as bulk strings, and the replica's
// ["slave", ip, port, "connected", offset] with integers.
fn role_shapes(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    Client::connect(&pair.master).ok(&["SET", "k", "v"]);
    wait_caught_up(&pair.master, &pair.replica);
    // A replica acknowledges its offset once a second and a master PINGs
    // its replicas every ten: poll until ROLE shows the replica level with
    // the master, at the offset INFO gives just after.
    poll_reply(&pair.master, &["ROLE"], "the master's ROLE", || {
        let offset = info_int(&pair.master, "replication", "master_repl_offset");
        array(&[
            bulk("master"),
            Reply::Int(offset),
            array(&[array(&[
                bulk("127.0.0.1"),
                bulk(&pair.replica.port.to_string()),
                bulk(&offset.to_string()),
            ])]),
        ])
    });
    poll_reply(&pair.replica, &["ROLE"], "the replica's ROLE", || {
        array(&[
            bulk("slave"),
            bulk("127.0.0.1"),
            Reply::Int(i64::from(pair.master.port)),
            bulk("connected"),
            Reply::Int(info_int(&pair.replica, "replication", "master_repl_offset")),
        ])
    });
}

// `REPLICAOF NO ONE` promotes a replica: it keeps the data, accepts
// writes, reports role:master, and remembers its old master's replication
// ID as master_replid2, valid up to the offset it had reached.
fn promotion(master: Flavor, replica: Flavor) {
    require_redis_tools();
    let pair = Pair::start(master, replica, &[]);
    fill_small(&mut Client::connect(&pair.master), "before");
    wait_caught_up(&pair.master, &pair.replica);
    let old_replid = info_field(&pair.master, "replication", "master_replid");
    let synced_offset = info_int(&pair.replica, "replication", "master_repl_offset");
    let mut client = Client::connect(&pair.replica);
    assert_eq!(
        client.call(&["REPLICAOF", "NO", "ONE"]),
        Reply::Status("OK".into())
    );
    let replication = info(&pair.replica, "replication");
    assert_eq!(replication["role"], "master", "{replication:?}");
    assert_eq!(replication["connected_slaves"], "0", "{replication:?}");
    assert_eq!(replication["master_replid2"], old_replid, "{replication:?}");
    assert_ne!(replication["master_replid"], old_replid, "{replication:?}");
    assert!(!replication.contains_key("master_host"), "{replication:?}");
    // A PING from the old master may have arrived since synced_offset.
    let offset: i64 = replication["master_repl_offset"].parse().expect("offset");
    assert!(offset >= synced_offset, "{replication:?}");
    assert_eq!(
        replication["second_repl_offset"],
        (offset + 1).to_string(),
        "the old replication ID is valid up to the offset reached: {replication:?}"
    );
    assert_same_data(&pair.master, &pair.replica, "after the promotion");
    client.ok(&["SET", "written", "on the promoted replica"]);
    assert_eq!(
        client.call(&["GET", "written"]),
        bulk("on the promoted replica")
    );
    assert_eq!(
        client.call(&["ROLE"]),
        array(&[
            bulk("master"),
            Reply::Int(info_int(&pair.replica, "replication", "master_repl_offset")),
            Reply::Array(vec![]),
        ])
    );
    wait_replicas_gone(&pair.master);
}

// `redis-cli --replica` syncs from the master (discarding the RDB) and then
// prints each command the master propagates.
fn cli_replica(master: Flavor) {
    require_redis_tools();
    let master = start(master, &[]);
    let port = master.port.to_string();
    let mut cli = Spawned::new("redis-cli", &["-h", "127.0.0.1", "-p", &port, "--replica"]);
    wait_until("redis-cli --replica to finish its sync", || {
        cli.stderr().contains("Logging commands from master.")
    });
    Client::connect(&master).ok(&["set", "replica:probe", "seen by redis-cli"]);
    let line = r#""set","replica:probe","seen by redis-cli""#;
    wait_until("redis-cli --replica to print the SET", || {
        cli.stdout().to_lowercase().contains(line)
    });
    assert!(
        cli.stderr().contains("sending REPLCONF capa eof"),
        "{}",
        cli.stderr()
    );
    cli.kill();
}

// `redis-cli --rdb FILE` fetches the master's snapshot (REPLCONF rdb-only,
// then SYNC), and redis-check-rdb accepts the file and counts every key.
fn cli_rdb(master: Flavor) {
    require_redis_tools();
    let master = start(master, &[]);
    fill_every_type(&mut Client::connect(&master));
    let keys: i64 = db_sizes(&master).iter().sum();
    let dir = ScratchDir::new("cli-rdb");
    let file = dir.path.join("fetched.rdb");
    let file_text = file.to_str().expect("utf-8 path");
    let port = master.port.to_string();
    let output = run_bounded(
        "redis-cli",
        &["-h", "127.0.0.1", "-p", &port, "--rdb", file_text],
        TOOL_TIMEOUT,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "redis-cli --rdb: {output:?}");
    assert!(
        stderr.contains("Transfer finished with success"),
        "{stderr}"
    );
    assert!(file.exists(), "no file at {}", file.display());
    let check = run_bounded("redis-check-rdb", &[file_text], TOOL_TIMEOUT);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "redis-check-rdb: {check:?}");
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(
        report.contains(&format!("[info] {keys} keys read")),
        "expected {keys} keys: {report}"
    );
}

/// A chain: `top` → `middle` → `bottom`, the middle a replica of the top
/// and the master of the bottom. Writes on the top reach the bottom with
/// the top's offsets; when the middle is promoted, the bottom continues
/// with it partially (through `replid2`) and gets its new writes.
fn chained(middle_flavor: Flavor) {
    require_redis_tools();
    let top = start(Flavor::Redis, &[]);
    let middle = start_replica(middle_flavor, top.port, &[]);
    let bottom = start_replica(Flavor::Redoubt, middle.port, &[]);
    wait_link_up(&middle, &top);
    wait_link_up(&bottom, &middle);
    fill_small(&mut Client::connect(&top), "chained");
    wait_caught_up(&top, &middle);
    wait_caught_up(&top, &bottom);
    assert_same_data(&top, &bottom, "down the chain");
    assert_eq!(
        info_field(&top, "replication", "master_replid"),
        info_field(&bottom, "replication", "master_replid"),
        "a chain keeps one history"
    );
    let partial_before = info_int(&middle, "stats", "sync_partial_ok");
    let mut client = Client::connect(&middle);
    assert_eq!(
        client.call(&["REPLICAOF", "NO", "ONE"]),
        Reply::Status("OK".into())
    );
    client.ok(&["SET", "after-promotion", "1"]);
    wait_until("the bottom to continue with the promoted middle", || {
        info_int(&middle, "stats", "sync_partial_ok") > partial_before
    });
    wait_caught_up(&middle, &bottom);
    assert_same_data(&middle, &bottom, "after the promotion");
    assert_eq!(
        info_field(&bottom, "replication", "master_replid"),
        info_field(&middle, "replication", "master_replid")
    );
}

/// WAITAOF (Redis 7.2's, which 7.0 lacks): a write is counted once it is
/// fsynced to the master's AOF and to the replica's, from the replica's
/// `REPLCONF ACK … FACK` offsets.
#[test]
fn waitaof_counts_fsynced_copies() {
    require_redis_tools();
    let aof = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let master = start(Flavor::Redoubt, &aof);
    let replica = start_replica(Flavor::Redoubt, master.port, &aof);
    wait_link_up(&replica, &master);
    let mut client = Client::connect(&master);
    client.ok(&["SET", "k", "v"]);
    assert_eq!(
        client.call(&["WAITAOF", "1", "1", "5000"]),
        array(&[Reply::Int(1), Reply::Int(1)])
    );
    // Two replicas cannot be had: the timeout answers with the counts.
    client.ok(&["SET", "k", "w"]);
    assert_eq!(
        client.call(&["WAITAOF", "1", "2", "3000"]),
        array(&[Reply::Int(1), Reply::Int(1)])
    );
    let plain = start(Flavor::Redoubt, &[]);
    let mut client = Client::connect(&plain);
    assert_eq!(
        client.call(&["WAITAOF", "1", "0", "0"]),
        Reply::Error(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.".into()
        )
    );
}

/// A replica saved (SAVE), stopped and started again from its dump
/// continues with its master partially: the dump names the replication
/// ID and offset it holds (`repl-id`, `repl-offset`).
fn restart_continues(master_flavor: Flavor, replica_flavor: Flavor) {
    require_redis_tools();
    let master = start(master_flavor, &[]);
    let dir = ScratchDir::new("replica-restart");
    let port = master.port.to_string();
    let mut args = COMMON_ARGS.to_vec();
    args.extend_from_slice(&["--replicaof", "127.0.0.1", &port]);
    let mut replica = Server::start_in(replica_flavor, Some(&dir.path), &args);
    wait_link_up(&replica, &master);
    fill_small(&mut Client::connect(&master), "before-restart");
    wait_caught_up(&master, &replica);
    let mut client = Client::connect(&replica);
    client.ok(&["SAVE"]);
    client.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(
        replica.wait_exit(EXIT_TIMEOUT).is_some(),
        "the replica exits"
    );
    drop(replica);
    let full_before = info_int(&master, "stats", "sync_full");
    let partial_before = info_int(&master, "stats", "sync_partial_ok");
    fill_small(&mut Client::connect(&master), "while-down");
    let replica = Server::start_in(replica_flavor, Some(&dir.path), &args);
    wait_link_up(&replica, &master);
    wait_caught_up(&master, &replica);
    assert_same_data(&master, &replica, "after the restart");
    assert_eq!(
        info_int(&master, "stats", "sync_partial_ok"),
        partial_before + 1,
        "{}",
        logs(&[&master, &replica])
    );
    assert_eq!(info_int(&master, "stats", "sync_full"), full_before);
}

/// A master with `min-replicas-to-write` set loads its AOF at a restart:
/// the commands replayed from disk are not refused for want of replicas
/// (redoubt refused them, and would not start, until the split-brain
/// scenario of the simulator drew the directive).
fn min_replicas_master_restarts_from_its_aof(flavor: Flavor) {
    require_redis_tools();
    let dir = ScratchDir::new("min-replicas-restart");
    let args = ["--appendonly", "yes", "--min-replicas-to-write", "1"];
    let server = Server::start_in(flavor, Some(&dir.path), &args);
    let mut client = Client::connect(&server);
    assert_eq!(
        client.call(&["SET", "refused", "1"]),
        Reply::Error("NOREPLICAS Not enough good replicas to write.".into())
    );
    client.ok(&["CONFIG", "SET", "min-replicas-to-write", "0"]);
    client.ok(&["SET", "k", "v"]);
    client.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let mut server = server;
    assert!(server.wait_exit(EXIT_TIMEOUT).is_some(), "the server exits");
    drop(server);
    let server = Server::start_in(flavor, Some(&dir.path), &args);
    let mut client = Client::connect(&server);
    assert_eq!(client.call(&["GET", "k"]), Reply::Bulk(b"v".to_vec()));
    assert_eq!(client.call(&["EXISTS", "refused"]), Reply::Int(0));
}

/// `redis-check-rdb FILE` accepts the dump and counts `keys` keys in it.
fn check_rdb(file: &std::path::Path, keys: i64) {
    let file_text = file.to_str().expect("utf-8 path");
    let check = run_bounded("redis-check-rdb", &[file_text], TOOL_TIMEOUT);
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "redis-check-rdb: {check:?}");
    assert!(report.contains("RDB looks OK"), "{report}");
    assert!(
        report.contains(&format!("[info] {keys} keys read")),
        "expected {keys} keys: {report}"
    );
}

/// DUMPSAVE (redoubt's pull backup) replies with a dump that real
/// `redis-check-rdb` accepts, holding every key.
#[test]
fn dumpsave_gives_a_dump_redis_check_rdb_accepts() {
    require_redis_tools();
    let server = start(Flavor::Redoubt, &[]);
    let mut client = Client::connect(&server);
    fill_every_type(&mut client);
    let keys: i64 = db_sizes(&server).iter().sum();
    let Reply::Bulk(dump) = client.call(&["DUMPSAVE"]) else {
        panic!("DUMPSAVE did not reply with a bulk string");
    };
    let dir = ScratchDir::new("dumpsave");
    let file = dir.path.join("pulled.rdb");
    std::fs::write(&file, &dump).expect("write the dump");
    check_rdb(&file, keys);
    // The connection serves commands again afterwards.
    assert_eq!(client.call(&["PING"]), Reply::Status("PONG".to_string()));
}

/// PIPESAVE (redoubt's push backup) streams the dump into a command and
/// reports its outcome in INFO persistence: `ok` only when it exits 0.
#[test]
fn pipesave_pushes_a_dump_through_a_command() {
    require_redis_tools();
    let dir = ScratchDir::new("pipesave");
    let file = dir.path.join("pushed.rdb.gz");
    let command = format!("gzip -c > {}", file.display());
    let server = start(Flavor::Redoubt, &["--pipesave-command", &command]);
    let mut client = Client::connect(&server);
    fill_every_type(&mut client);
    let keys: i64 = db_sizes(&server).iter().sum();
    assert_eq!(
        client.call(&["PIPESAVE"]),
        Reply::Status("Pipe save started".to_string())
    );
    assert_eq!(pipesave_outcome(&server), ("ok".into(), "0".into()));
    let unpacked = dir.path.join("pushed.rdb");
    let file_text = file.to_str().expect("utf-8 path");
    let gunzip = run_bounded("gzip", &["-dk", file_text], TOOL_TIMEOUT);
    assert!(gunzip.status.success(), "gzip -d: {gunzip:?}");
    check_rdb(&unpacked, keys);
    // A command that fails makes the save fail, whatever it was fed.
    let failing = start(
        Flavor::Redoubt,
        &["--pipesave-command", "cat > /dev/null; exit 3"],
    );
    let mut client = Client::connect(&failing);
    client.ok(&["SET", "k", "v"]);
    client.ok(&["PIPESAVE"]);
    assert_eq!(pipesave_outcome(&failing), ("err".into(), "3".into()));
}

/// Once the PIPESAVE in progress ends: its status and exit code.
fn pipesave_outcome(server: &Server) -> (String, String) {
    wait_until("the pipe save to end", || {
        info_field(server, "persistence", "pipesave_in_progress") == "0"
    });
    (
        info_field(server, "persistence", "pipesave_last_status"),
        info_field(server, "persistence", "pipesave_last_exit_code"),
    )
}

// ---------------------------------------------------------------------------
// Datasets: what the scenarios write
// ---------------------------------------------------------------------------

/// Sizes past Redis 7.0's default listpack and intset thresholds
/// (hash 512 entries, zset 128, values over 64 bytes, set 512 integers, list
/// nodes of 8 kB), so both encodings of each type cross the link.
const BIG_LIST: usize = 3000;
const BIG_HASH: usize = 1000;
const BIG_SET: usize = 1000;
const BIG_ZSET: usize = 500;
const BIG_STRING_BYTES: usize = 300_000;

/// Keys of every type in both encodings, with expiries, binary bytes, and
/// data in databases 0, 3 and 9; then checks the master encoded them as
/// intended (so a sync carries every encoding).
fn fill_every_type(client: &mut Client) {
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut add = |args: &[&[u8]]| commands.push(args.iter().map(|a| a.to_vec()).collect());
    add(&[b"SET", b"str:plain", b"hello"]);
    add(&[b"SET", b"str:int", b"12345"]);
    add(&[b"SET", b"str:negative", b"-987654321012"]);
    add(&[b"SET", b"str:raw", "r".repeat(200).as_bytes()]);
    add(&[b"SET", b"str:big", &pattern_bytes(BIG_STRING_BYTES)]);
    add(&[b"SET", b"str:binary\r\n\x00key", b"\x00\xff\r\n\x01value"]);
    add(&[b"SET", b"str:ttl", b"expires", b"EX", b"3600"]);
    add(&[b"SET", b"str:pttl", b"expires", b"PX", b"100000000"]);
    add(&[b"SET", b"str:empty", b""]);
    add(&[b"RPUSH", b"list:small", b"a", b"b", b"", b"12", b"a"]);
    add(&[b"RPUSH", b"list:ttl", b"x", b"y"]);
    add(&[b"EXPIRE", b"list:ttl", b"7200"]);
    add(&[
        b"HSET",
        b"hash:small",
        b"f1",
        b"v1",
        b"f2",
        b"22",
        b"f3",
        b"",
    ]);
    add(&[
        b"HSET",
        b"hash:long-value",
        b"f",
        "v".repeat(100).as_bytes(),
    ]);
    add(&[b"HSET", b"hash:ttl", b"f", b"v"]);
    add(&[b"PEXPIRE", b"hash:ttl", b"9000000"]);
    add(&[
        b"SADD",
        b"set:ints",
        b"1",
        b"-5",
        b"300",
        b"70000",
        b"5000000000",
    ]);
    add(&[b"SADD", b"set:strings", b"alpha", b"beta", b"gamma"]);
    add(&[
        b"ZADD",
        b"zset:small",
        b"1",
        b"one",
        b"2.5",
        b"two",
        b"-3",
        b"three",
    ]);
    add(&[
        b"ZADD",
        b"zset:odd-scores",
        b"-inf",
        b"low",
        b"inf",
        b"high",
        b"0.1",
        b"tenth",
        b"1e-10",
        b"tiny",
        b"123456789012.75",
        b"large",
        b"-0",
        b"zero",
    ]);
    for i in 0..BIG_LIST {
        add(&[b"RPUSH", b"list:big", format!("element-{i}").as_bytes()]);
    }
    for i in 0..BIG_HASH {
        let (field, value) = (format!("field-{i}"), format!("value-{i}"));
        add(&[b"HSET", b"hash:big", field.as_bytes(), value.as_bytes()]);
    }
    for i in 0..BIG_SET {
        add(&[b"SADD", b"set:big-ints", (i * 7).to_string().as_bytes()]);
        add(&[b"SADD", b"set:big", format!("member-{i}").as_bytes()]);
    }
    for i in 0..BIG_ZSET {
        let score = format!("{}.25", i as i64 - 100);
        add(&[
            b"ZADD",
            b"zset:big",
            score.as_bytes(),
            format!("m-{i}").as_bytes(),
        ]);
    }
    add(&[b"EXPIRE", b"zset:big", b"86400"]);
    add(&[b"SELECT", b"3"]);
    add(&[b"SET", b"db3:string", b"in database 3"]);
    add(&[b"SET", b"db3:ttl", b"x", b"EX", b"5000"]);
    add(&[b"RPUSH", b"db3:list", b"1", b"2", b"3"]);
    add(&[b"SELECT", b"9"]);
    add(&[b"ZADD", b"db9:zset", b"1", b"a"]);
    add(&[b"SELECT", b"0"]);
    client.pipeline(&commands);
    assert_thresholds_crossed(client);
}

/// The master holds each type in the encoding `fill_every_type` meant.
fn assert_thresholds_crossed(client: &mut Client) {
    let expected = [
        ("list:big", "quicklist"),
        ("hash:small", "listpack"),
        ("hash:big", "hashtable"),
        ("hash:long-value", "hashtable"),
        ("set:ints", "intset"),
        ("set:big-ints", "hashtable"),
        ("set:big", "hashtable"),
        ("zset:small", "listpack"),
        ("zset:big", "skiplist"),
    ];
    for (key, encoding) in expected {
        assert_eq!(
            client.call(&["OBJECT", "ENCODING", key]),
            bulk(encoding),
            "{key} on the master"
        );
    }
}

/// `n` bytes that do not repeat with a short period.
fn pattern_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// A few writes of each type under keys named after `tag`.
fn fill_small(client: &mut Client, tag: &str) {
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..50 {
        let key = format!("{tag}:string:{i}");
        commands.push(args(&["SET", &key, &format!("value {i}")]));
    }
    commands.push(args(&["RPUSH", &format!("{tag}:list"), "a", "b", "c"]));
    commands.push(args(&["HSET", &format!("{tag}:hash"), "f", "v"]));
    commands.push(args(&["SADD", &format!("{tag}:set"), "x", "y"]));
    commands.push(args(&["ZADD", &format!("{tag}:zset"), "1.5", "m"]));
    commands.push(args(&["SET", &format!("{tag}:ttl"), "v", "EX", "1000"]));
    client.pipeline(&commands);
}

/// At least `bytes` of replication stream: SETs of 4 kB values.
fn fill_bytes(client: &mut Client, bytes: usize) {
    const VALUE_BYTES: usize = 4096;
    let value = "b".repeat(VALUE_BYTES);
    let commands: Vec<Vec<Vec<u8>>> = (0..bytes.div_ceil(VALUE_BYTES))
        .map(|i| args(&["SET", &format!("bulk:{i}"), &value]))
        .collect();
    client.pipeline(&commands);
}

/// The writes of the command-stream scenario, ending with the LPUSH that
/// serves the BLPOP waiting on `queue`.
fn write_stream(client: &mut Client) {
    let script: &[&[&str]] = &[
        &["SET", "s", "1"],
        &["APPEND", "s", "23"],
        &["INCR", "s"],
        &["INCRBYFLOAT", "float", "1.5"],
        &["MSET", "m1", "a", "m2", "b"],
        &["SET", "ex", "v", "EX", "1000"],
        &["SETEX", "setex", "2000", "v"],
        &["GETEX", "m1", "PX", "3000000"],
        &["SETRANGE", "s", "10", "tail"],
        &["GETDEL", "m2"],
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["LPOP", "l"],
        &["LINSERT", "l", "BEFORE", "c", "bb"],
        &["LSET", "l", "0", "first"],
        &["LMOVE", "l", "l2", "LEFT", "RIGHT"],
        &["HSET", "h", "a", "1", "b", "2"],
        &["HINCRBY", "h", "a", "10"],
        &["HINCRBYFLOAT", "h", "f", "0.25"],
        &["HDEL", "h", "b"],
        &["SADD", "set", "a", "b", "c", "d"],
        &["SPOP", "set"],
        &["SREM", "set", "a"],
        &["SMOVE", "set", "set2", "b"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZINCRBY", "z", "0.5", "a"],
        &["ZPOPMIN", "z"],
        &["ZUNIONSTORE", "z2", "2", "z", "z", "WEIGHTS", "1", "2"],
        &["MULTI"],
        &["SET", "tx:a", "1"],
        &["INCR", "tx:a"],
        &["RPUSH", "tx:l", "x"],
        &["EXPIRE", "tx:l", "500"],
        &["EXEC"],
        &["EXPIRE", "s", "1000"],
        &["PEXPIRE", "h", "2000000"],
        &["EXPIREAT", "l", "4102444800"],
        &["SET", "persisted", "v", "EX", "100"],
        &["PERSIST", "persisted"],
        &["SET", "deleted", "v"],
        &["DEL", "deleted"],
        &["SET", "unlinked", "v"],
        &["UNLINK", "unlinked"],
        &["SET", "old-name", "v"],
        &["RENAME", "old-name", "new-name"],
        &["SET", "moved", "v"],
        &["MOVE", "moved", "6"],
        &["COPY", "h", "h-copy", "DB", "4"],
        &["SELECT", "5"],
        &["SET", "db5:s", "v"],
        &["HSET", "db5:h", "f", "v"],
        &["EXPIRE", "db5:h", "900"],
        &["SELECT", "0"],
        &["SELECT", "8"],
        &["SET", "db8:gone", "v"],
        &["FLUSHDB"],
        &["SET", "db8:kept", "v"],
        &["SELECT", "0"],
        &["SET", "ephemeral", "v", "PX", "50"],
        &["LPUSH", "queue", "job"],
    ];
    for command in script {
        let reply = client.call(command);
        assert!(
            !matches!(reply, Reply::Error(_)),
            "{command:?} on the master: {reply:?}"
        );
    }
}

/// Waits until `key` has expired on the master, and reads it there so the
/// master deletes it and propagates the DEL.
fn expire_on_master(client: &mut Client, key: &str) {
    wait_until("a short expiry to pass on the master", || {
        client.call(&["EXISTS", key]) == Reply::Int(0)
    });
}

// ---------------------------------------------------------------------------
// Datasets: reading and comparing
// ---------------------------------------------------------------------------

/// One key as its type's read commands see it, with its absolute expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: String,
    /// GET; LRANGE; HGETALL and SMEMBERS sorted; ZRANGE WITHSCORES.
    value: Vec<Vec<u8>>,
    /// PEXPIRETIME: -1 without expiry.
    expire_at_ms: i64,
}

/// Every key of every database, by (database, key).
type Dataset = BTreeMap<(u32, Vec<u8>), Entry>;

fn dataset(server: &Server) -> Dataset {
    let mut client = Client::connect(server);
    let mut data = Dataset::new();
    for db in 0..DATABASES {
        client.ok(&["SELECT", &db.to_string()]);
        for key in client.call(&["KEYS", "*"]).strings() {
            if let Some(entry) = read_entry(&mut client, &key) {
                data.insert((db, key), entry);
            }
        }
    }
    data
}

/// `None` when the key went away between KEYS and now.
fn read_entry(client: &mut Client, key: &[u8]) -> Option<Entry> {
    let kind = match client.call_bytes(&[b"TYPE", key]) {
        Reply::Status(kind) => kind,
        other => panic!("TYPE {}: {other:?}", show(key)),
    };
    let value = match kind.as_str() {
        "none" => return None,
        "string" => vec![client.call_bytes(&[b"GET", key]).bytes()],
        "list" => client.call_bytes(&[b"LRANGE", key, b"0", b"-1"]).strings(),
        "hash" => {
            let flat = client.call_bytes(&[b"HGETALL", key]).strings();
            let mut pairs: Vec<&[Vec<u8>]> = flat.chunks(2).collect();
            pairs.sort();
            pairs.concat()
        }
        "set" => {
            let mut members = client.call_bytes(&[b"SMEMBERS", key]).strings();
            members.sort();
            members
        }
        "zset" => client
            .call_bytes(&[b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"])
            .strings(),
        other => panic!("{} has type {other}, which no scenario writes", show(key)),
    };
    let expire_at_ms = match client.call_bytes(&[b"PEXPIRETIME", key]) {
        Reply::Int(at) => at,
        other => panic!("PEXPIRETIME {}: {other:?}", show(key)),
    };
    Some(Entry {
        kind,
        value,
        expire_at_ms,
    })
}

/// The replica holds exactly the master's keys, types, values and
/// expiries; on a difference, names the first few keys that differ.
fn assert_same_data(master: &Server, replica: &Server, when: &str) {
    let expected = dataset(master);
    let actual = dataset(replica);
    assert!(!expected.is_empty(), "the master has no data {when}");
    let mut differences = Vec::new();
    for (key, entry) in &expected {
        match actual.get(key) {
            None => differences.push(format!("db {} {}: missing", key.0, show(&key.1))),
            Some(other) if other != entry => differences.push(format!(
                "db {} {}: {}",
                key.0,
                show(&key.1),
                difference(entry, other)
            )),
            Some(_) => {}
        }
    }
    for key in actual.keys().filter(|key| !expected.contains_key(*key)) {
        differences.push(format!(
            "db {} {}: only on the replica",
            key.0,
            show(&key.1)
        ));
    }
    assert!(
        differences.is_empty(),
        "{when}: {} of {} keys differ (master {:?}, replica {:?}):\n{}\n{}",
        differences.len(),
        expected.len(),
        master.flavor,
        replica.flavor,
        differences
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
        logs(&[master, replica])
    );
}

/// What differs between the master's entry and the replica's, briefly.
fn difference(master: &Entry, replica: &Entry) -> String {
    if master.kind != replica.kind {
        return format!(
            "a {} on the master, a {} on the replica",
            master.kind, replica.kind
        );
    }
    if master.expire_at_ms != replica.expire_at_ms {
        return format!(
            "PEXPIRETIME {} on the master, {} on the replica",
            master.expire_at_ms, replica.expire_at_ms
        );
    }
    if master.value.len() != replica.value.len() {
        return format!(
            "{} items on the master, {} on the replica",
            master.value.len(),
            replica.value.len()
        );
    }
    let at = (0..master.value.len())
        .find(|&i| master.value[i] != replica.value[i])
        .unwrap_or(0);
    let clip = |item: &[u8]| show(&item[..item.len().min(60)]);
    format!(
        "item {at} of {} (sorted for hashes and sets) is {} on the master, {} on the replica",
        master.value.len(),
        clip(&master.value[at]),
        clip(&replica.value[at])
    )
}

/// DBSIZE of every database: a key the replica failed to delete still
/// counts here even after it expired (KEYS hides it).
fn db_sizes(server: &Server) -> Vec<i64> {
    let mut client = Client::connect(server);
    (0..DATABASES)
        .map(|db| {
            client.ok(&["SELECT", &db.to_string()]);
            match client.call(&["DBSIZE"]) {
                Reply::Int(n) => n,
                other => panic!("DBSIZE: {other:?}"),
            }
        })
        .collect()
}

fn assert_same_db_sizes(master: &Server, replica: &Server) {
    assert_eq!(
        db_sizes(master),
        db_sizes(replica),
        "DBSIZE of each database"
    );
}

/// Collections keep their encoding across a full sync.
fn assert_same_encodings(master: &Server, replica: &Server) {
    let mut on_master = Client::connect(master);
    let mut on_replica = Client::connect(replica);
    for ((db, key), entry) in dataset(master) {
        if entry.kind == "string" {
            continue;
        }
        let db = db.to_string();
        on_master.ok(&["SELECT", &db]);
        on_replica.ok(&["SELECT", &db]);
        let command: [&[u8]; 3] = [b"OBJECT", b"ENCODING", &key];
        assert_eq!(
            on_replica.call_bytes(&command),
            on_master.call_bytes(&command),
            "encoding of db {db} {}",
            show(&key)
        );
    }
}

// ---------------------------------------------------------------------------
// Replication state
// ---------------------------------------------------------------------------

/// A master and a replica started with `--replicaof`, linked and synced.
struct Pair {
    master: Server,
    replica: Server,
}

impl Pair {
    fn start(master: Flavor, replica: Flavor, master_args: &[&str]) -> Pair {
        let master = start(master, master_args);
        let replica = start_replica(replica, master.port, &[]);
        wait_link_up(&replica, &master);
        Pair { master, replica }
    }
}

/// `flavor` without persistence, with [`COMMON_ARGS`] and `args`.
fn start(flavor: Flavor, args: &[&str]) -> Server {
    let mut all = COMMON_ARGS.to_vec();
    all.extend_from_slice(args);
    Server::start(flavor, &all)
}

/// `flavor` started with `--replicaof 127.0.0.1 <master_port>`.
fn start_replica(flavor: Flavor, master_port: u16, args: &[&str]) -> Server {
    let port = master_port.to_string();
    let mut all = vec!["--replicaof", "127.0.0.1", &port];
    all.extend_from_slice(args);
    start(flavor, &all)
}

/// INFO `section` as field → value.
fn info(server: &Server, section: &str) -> HashMap<String, String> {
    let text = Client::connect(server).call(&["INFO", section]).bytes();
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(field, value)| (field.to_string(), value.to_string()))
        .collect()
}

fn info_field(server: &Server, section: &str, field: &str) -> String {
    let fields = info(server, section);
    fields
        .get(field)
        .unwrap_or_else(|| panic!("INFO {section} has no {field}: {fields:?}"))
        .clone()
}

fn info_int(server: &Server, section: &str, field: &str) -> i64 {
    let value = info_field(server, section, field);
    value
        .parse()
        .unwrap_or_else(|_| panic!("INFO {field}:{value} is no integer"))
}

/// The master's INFO stats counters of syncs.
#[derive(Debug, Clone, Copy)]
struct SyncStats {
    full: i64,
    partial_ok: i64,
    partial_err: i64,
}

fn sync_stats(master: &Server) -> SyncStats {
    let stats = info(master, "stats");
    let field = |name: &str| -> i64 {
        stats
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("INFO stats has no {name}: {stats:?}"))
    };
    SyncStats {
        full: field("sync_full"),
        partial_ok: field("sync_partial_ok"),
        partial_err: field("sync_partial_err"),
    }
}

/// Waits until the replica's link to its master is up and no sync is in
/// progress (both, since the link is down and no sync runs before the
/// replica has even connected).
fn wait_link_up(replica: &Server, master: &Server) {
    wait_until_or(
        "master_link_status:up and master_sync_in_progress:0 on the replica",
        SYNC_TIMEOUT,
        || {
            let fields = info(replica, "replication");
            fields.get("master_link_status").map(String::as_str) == Some("up")
                && fields.get("master_sync_in_progress").map(String::as_str) == Some("0")
        },
        || logs(&[master, replica]),
    );
}

/// Waits until the replica has processed everything the master had sent
/// when this was called (the master's later PINGs may move it further).
fn wait_caught_up(master: &Server, replica: &Server) {
    let target = info_int(master, "replication", "master_repl_offset");
    wait_until_or(
        &format!("the replica's master_repl_offset to reach {target}"),
        CATCH_UP_TIMEOUT,
        || info_int(replica, "replication", "master_repl_offset") >= target,
        || logs(&[master, replica]),
    );
}

/// Waits until the master has no replica connected.
fn wait_replicas_gone(master: &Server) {
    wait_until("connected_slaves:0 on the master", || {
        info_field(master, "replication", "connected_slaves") == "0"
    });
}

/// The replica's INFO replication names its master and that master's
/// replication ID, at the master's offset.
fn assert_replica_info(replica: &Server, master: &Server) {
    wait_caught_up(master, replica);
    let fields = info(replica, "replication");
    let master_fields = info(master, "replication");
    assert_eq!(fields["role"], "slave", "{fields:?}");
    assert_eq!(fields["master_host"], "127.0.0.1", "{fields:?}");
    assert_eq!(fields["master_port"], master.port.to_string(), "{fields:?}");
    assert_eq!(fields["slave_read_only"], "1", "{fields:?}");
    assert_eq!(
        fields["master_replid"], master_fields["master_replid"],
        "the replica shares the master's replication ID"
    );
    assert_eq!(master_fields["role"], "master", "{master_fields:?}");
}

/// The master's INFO replication lists the replica, online, by its
/// listening port.
fn assert_master_lists_replica(master: &Server, replica: &Server) {
    let prefix = format!("ip=127.0.0.1,port={},state=online,offset=", replica.port);
    wait_until("the master to list its replica as online", || {
        let fields = info(master, "replication");
        fields.get("connected_slaves").map(String::as_str) == Some("1")
            && fields
                .get("slave0")
                .is_some_and(|line| line.starts_with(&prefix) && line.contains(",lag="))
    });
}

/// Sends `command` until its reply equals `expected()` (computed after
/// each reply, from state read then), or fails showing the last of both.
fn poll_reply(server: &Server, command: &[&str], what: &str, mut expected: impl FnMut() -> Reply) {
    let mut client = Client::connect(server);
    let deadline = Instant::now() + SYNC_TIMEOUT;
    loop {
        let reply = client.call(command);
        let wanted = expected();
        if reply == wanted {
            return;
        }
        if Instant::now() >= deadline {
            assert_eq!(reply, wanted, "{what}, still after {SYNC_TIMEOUT:?}");
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The last lines of each server's log, for failure messages.
fn logs(servers: &[&Server]) -> String {
    let mut text = String::new();
    for server in servers {
        let log = server.log();
        let lines: Vec<&str> = log.lines().collect();
        let tail = &lines[lines.len().saturating_sub(30)..];
        text.push_str(&format!(
            "--- {:?} on port {} (last {} lines)\n{}\n{}",
            server.flavor,
            server.port,
            tail.len(),
            tail.join("\n"),
            server.stderr()
        ));
    }
    text
}

fn wait_until(what: &str, done: impl FnMut() -> bool) {
    wait_until_or(what, SYNC_TIMEOUT, done, String::new);
}

/// Polls `done` every [`POLL_INTERVAL`] until it holds, or panics after
/// `timeout` with `context()`.
fn wait_until_or(
    what: &str,
    timeout: Duration,
    mut done: impl FnMut() -> bool,
    context: impl FnOnce() -> String,
) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}\n{}",
            context()
        );
        std::thread::sleep(POLL_INTERVAL);
    }
}

// ---------------------------------------------------------------------------
// RESP client
// ---------------------------------------------------------------------------

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Nil,
    Array(Vec<Reply>),
}

impl Reply {
    /// A bulk string's bytes; panics on anything else.
    fn bytes(self) -> Vec<u8> {
        match self {
            Reply::Bulk(bytes) => bytes,
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    /// An array of bulk strings; panics on anything else.
    fn strings(self) -> Vec<Vec<u8>> {
        match self {
            Reply::Array(items) => items.into_iter().map(Reply::bytes).collect(),
            other => panic!("expected an array, got {other:?}"),
        }
    }

    /// Parses one complete frame (as `frame_len` delimits it).
    fn parse(frame: &[u8]) -> Reply {
        let mut at = 0;
        let reply = Reply::parse_at(frame, &mut at);
        assert_eq!(at, frame.len(), "trailing bytes in {}", show(frame));
        reply
    }

    fn parse_at(buf: &[u8], at: &mut usize) -> Reply {
        let line_end = *at
            + buf[*at..]
                .windows(2)
                .position(|w| w == b"\r\n")
                .expect("complete frame");
        let kind = buf[*at];
        let line = String::from_utf8_lossy(&buf[*at + 1..line_end]).into_owned();
        *at = line_end + 2;
        let count = || -> i64 { line.parse().expect("length") };
        match kind {
            b'+' => Reply::Status(line),
            b'-' => Reply::Error(line),
            b':' => Reply::Int(count()),
            b'$' if count() < 0 => Reply::Nil,
            b'$' => {
                let len = count() as usize;
                let bytes = buf[*at..*at + len].to_vec();
                *at += len + 2;
                Reply::Bulk(bytes)
            }
            b'*' if count() < 0 => Reply::Nil,
            b'*' => Reply::Array((0..count()).map(|_| Reply::parse_at(buf, at)).collect()),
            _ => panic!("not a RESP2 reply: {}", show(buf)),
        }
    }
}

fn bulk(text: &str) -> Reply {
    Reply::Bulk(text.as_bytes().to_vec())
}

fn array(items: &[Reply]) -> Reply {
    Reply::Array(items.to_vec())
}

fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// One connection, keeping bytes received past the last reply.
struct Client {
    stream: TcpStream,
    pending: Vec<u8>,
    port: u16,
}

impl Client {
    fn connect(server: &Server) -> Client {
        Client {
            stream: server.connect(),
            pending: Vec::new(),
            port: server.port,
        }
    }

    fn call(&mut self, words: &[&str]) -> Reply {
        let words: Vec<&[u8]> = words.iter().map(|w| w.as_bytes()).collect();
        self.call_bytes(&words)
    }

    fn call_bytes(&mut self, words: &[&[u8]]) -> Reply {
        self.send(words);
        self.read()
    }

    /// Sends a command that must succeed (a status or an integer reply).
    fn ok(&mut self, words: &[&str]) {
        let reply = self.call(words);
        assert!(
            matches!(reply, Reply::Status(_) | Reply::Int(_)),
            "{words:?} on port {}: {reply:?}",
            self.port
        );
    }

    fn send(&mut self, words: &[&[u8]]) {
        self.stream
            .write_all(&encode(words))
            .expect("send a request");
    }

    /// The next reply (or pushed message); panics after [`REPLY_TIMEOUT`].
    fn read(&mut self) -> Reply {
        match read_reply(&mut self.stream, &mut self.pending) {
            Ok(frame) => Reply::parse(&frame),
            Err(partial) => panic!(
                "no reply from port {} within {REPLY_TIMEOUT:?} (received {})",
                self.port,
                show(&partial)
            ),
        }
    }

    /// Sends every command, then reads every reply; none may be an error.
    fn pipeline(&mut self, commands: &[Vec<Vec<u8>>]) {
        const BATCH: usize = 1000;
        for batch in commands.chunks(BATCH) {
            let mut bytes = Vec::new();
            for command in batch {
                let words: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
                bytes.extend_from_slice(&encode(&words));
            }
            self.stream.write_all(&bytes).expect("send a pipeline");
            for command in batch {
                let reply = self.read();
                assert!(
                    !matches!(reply, Reply::Error(_)),
                    "{:?}: {reply:?}",
                    command.iter().map(|w| show(w)).collect::<Vec<_>>()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// A relay the test can cut, and a child process it reads
// ---------------------------------------------------------------------------

/// A TCP relay on a loopback port of its own to `upstream`: the replica
/// connects through it, and `cut` breaks the link (closing every relayed
/// connection and refusing new ones) until `heal`. A real break, seen by
/// both sides as a closed socket, with no command sent to either.
struct LinkRelay {
    port: u16,
    open: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl LinkRelay {
    fn new(upstream: u16) -> LinkRelay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let port = listener.local_addr().expect("relay address").port();
        let open = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let live = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (open, stop, live) = (open.clone(), stop.clone(), live.clone());
            std::thread::spawn(move || relay_accept(listener, upstream, &open, &stop, &live))
        };
        LinkRelay {
            port,
            open,
            stop,
            live,
            acceptor: Some(acceptor),
        }
    }

    /// Closes every relayed connection and refuses new ones.
    fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for stream in self.live.lock().expect("relay lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Relays new connections again.
    fn heal(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for LinkRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.cut();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Accepts until `stop`: while `open`, connects each client to `upstream`
/// and copies both ways on two threads; otherwise closes it at once.
fn relay_accept(
    listener: TcpListener,
    upstream: u16,
    open: &AtomicBool,
    stop: &AtomicBool,
    live: &Mutex<Vec<TcpStream>>,
) {
    while !stop.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(_) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
        };
        if !open.load(Ordering::SeqCst) {
            continue;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        {
            let mut live = live.lock().expect("relay lock");
            live.extend(client.try_clone());
            live.extend(server.try_clone());
        }
        std::thread::spawn(move || relay_copy(client, server_copy));
        std::thread::spawn(move || relay_copy(server, client_copy));
    }
}

/// Copies `from` to `to` until either closes, then closes both.
fn relay_copy(mut from: TcpStream, mut to: TcpStream) {
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A child process whose output the test reads as it comes; killed on drop.
struct Spawned {
    child: Child,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Spawned {
    fn new(program: &str, args: &[&str]) -> Spawned {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let stdout = gather(child.stdout.take().expect("stdout piped"));
        let stderr = gather(child.stderr.take().expect("stderr piped"));
        Spawned {
            child,
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        self.stdout.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|t| t.clone()).unwrap_or_default()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.kill();
    }
}

fn gather(source: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(source);
        let mut line = Vec::new();
        while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            if let Ok(mut text) = sink.lock() {
                text.push_str(&String::from_utf8_lossy(&line));
            }
            line.clear();
        }
    });
    text
}

// ---------------------------------------------------------------------------
// One test per pairing
// ---------------------------------------------------------------------------

/// For each scenario `f(master, replica)`, a module of four tests named
/// `<master>_to_<replica>`. Remove an `#[ignore]` to run that pairing.
macro_rules! every_pairing {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use redoubt_tests::Flavor::{Redis, Redoubt};

            #[test]
            fn redis_to_redis() {
                super::$scenario(Redis, Redis);
            }

            #[test]
            fn redis_to_redoubt() {
                super::$scenario(Redis, Redoubt);
            }

            #[test]
            fn redoubt_to_redis() {
                super::$scenario(Redoubt, Redis);
            }

            #[test]
            fn redoubt_to_redoubt() {
                super::$scenario(Redoubt, Redoubt);
            }
        }
    )*};
}

/// A chain whose middle node is redoubt or Redis.
mod chained {
    use redoubt_tests::Flavor::{Redis, Redoubt};

    #[test]
    fn redis_in_the_middle() {
        super::chained(Redis);
    }

    #[test]
    fn redoubt_in_the_middle() {
        super::chained(Redoubt);
    }
}

/// For each scenario `f(master)` of a master and Redis's own tools, a
/// module of two tests named after the master.
macro_rules! every_master {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use redoubt_tests::Flavor::{Redis, Redoubt};

            #[test]
            fn redis() {
                super::$scenario(Redis);
            }

            #[test]
            fn redoubt() {
                super::$scenario(Redoubt);
            }
        }
    )*};
}

every_pairing!(
    restart_continues,
    full_sync_diskless,
    full_sync_disk,
    command_stream,
    replica_is_read_only,
    partial_resync_after_kill,
    resync_after_link_cut,
    wait_counts_acks,
    shutdown_waits_for_replicas,
    role_shapes,
    promotion,
);

every_master!(
    cli_replica,
    cli_rdb,
    min_replicas_master_restarts_from_its_aof
);
