//! Lua scripts as the client libraries in the wild run them, against real
//! Redis first (proving the expectation) and then redoubt-server: redis-py's
//! `Lock`, a Sidekiq-style scheduled-job poller through the `redis` crate's
//! `Script` (EVALSHA with its NOSCRIPT fallback), and scripts whose
//! replies are compared byte for byte.

use std::cell::RefCell;
use std::time::Duration;

use redis::{Commands, Connection};
use redoubt_tests::{
    command, on_both, run_bounded, show, Flavor, Server, EXIT_TIMEOUT, REPLY_TIMEOUT,
};

fn connect(server: &Server) -> Connection {
    let client = redis::Client::open(server.url()).expect("client");
    let connection = client
        .get_connection_with_timeout(REPLY_TIMEOUT)
        .expect("connect");
    connection.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    connection
}

/// redis-py's Lock: acquire (SET NX PX), then extend, reacquire and
/// release, which are Lua scripts run by EVALSHA.
const REDIS_PY_LOCK: &str = r#"
import sys
import time
import redis
from redis.exceptions import LockNotOwnedError

r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), socket_timeout=10)
a = r.lock("resource", timeout=5)
b = r.lock("resource", timeout=5)
assert a.acquire(blocking=False), "a free lock is taken"
assert not b.acquire(blocking=False), "a held lock is not taken again"
assert a.owned() and a.locked()
a.extend(10)
assert 10000 < r.pttl("resource") <= 15000, r.pttl("resource")
a.reacquire()
assert 4000 < r.pttl("resource") <= 5000, r.pttl("resource")
a.release()
assert not a.locked()
assert b.acquire(blocking=False), "a released lock is taken"
b.release()
# A holder whose lock expired and was taken by another cannot release it.
c = r.lock("resource", timeout=0.2)
assert c.acquire(blocking=False)
time.sleep(0.4)
assert b.acquire(blocking=False), "an expired lock is taken"
try:
    c.release()
    raise SystemExit("a lock was released by a client that does not own it")
except LockNotOwnedError:
    pass
assert b.owned()
b.release()
print("lock ok")
"#;

// A redis-py Lock is acquired, extended, reacquired and released, and a
// holder whose lock expired and was taken cannot release it.
#[test]
fn redis_py_lock() {
    on_both(&[], |server| {
        let port = server.port.to_string();
        let output = run_bounded(
            "/usr/bin/python3",
            &["-c", REDIS_PY_LOCK, &port],
            Duration::from_secs(60),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("lock ok"),
            "redis-py's Lock failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// Sidekiq's scheduled-set poller: pops the first job due by `now` from a
/// sorted set, atomically.
const ZPOPBYSCORE: &str = r#"
local key, now = KEYS[1], ARGV[1]
local jobs = redis.call("zrangebyscore", key, "-inf", now, "limit", 0, 1)
if jobs[1] then
  redis.call("zrem", key, jobs[1])
  return jobs[1]
end
"#;

// Jobs scheduled at times 1..=40 are moved to the queue exactly once, in
// time order, when they are due; later ones stay scheduled. The first call
// finds no script cached (NOSCRIPT) and loads it, as Sidekiq does.
#[test]
fn scheduled_job_poller() {
    on_both(&[], |server| {
        let mut con = connect(server);
        let script = redis::Script::new(ZPOPBYSCORE);
        for at in 1..=40 {
            let _: () = con.zadd("schedule", format!("job-{at}"), at).unwrap();
        }
        for now in [10, 25, 30] {
            loop {
                let job: Option<String> = script.key("schedule").arg(now).invoke(&mut con).unwrap();
                let Some(job) = job else { break };
                let _: () = con.rpush("queue", job).unwrap();
            }
        }
        let queue: Vec<String> = con.lrange("queue", 0, -1).unwrap();
        let expected: Vec<String> = (1..=30).map(|at| format!("job-{at}")).collect();
        assert_eq!(queue, expected);
        let left: Vec<String> = con.zrange("schedule", 0, -1).unwrap();
        let expected: Vec<String> = (31..=40).map(|at| format!("job-{at}")).collect();
        assert_eq!(left, expected);
    });
}

// Replies to scripts are Redis's, byte for byte: conversions, errors and
// the script cache.
#[test]
fn script_replies_match_redis() {
    let cases: &[&[&str]] = &[
        &[
            "EVAL",
            "return {1, 'two', 3.7, true, false, {ok='S'}, {'n', {1}}}",
            "0",
        ],
        &[
            "EVAL",
            "return redis.call('SET', KEYS[1], ARGV[1])",
            "1",
            "k",
            "v",
        ],
        &["EVAL", "return redis.call('GET', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.pcall('INCR', KEYS[1])", "1", "k"],
        &["EVAL", "return redis.call('INCR', KEYS[1])", "1", "k"],
        &["EVAL", "return nosuch", "0"],
        &["EVAL", "x = 1", "0"],
        &["EVAL", "error('boom')", "0"],
        &["EVAL", "return redis.error_reply('MINE is wrong')", "0"],
        &["EVAL", "return redis.call('nosuchcommand')", "0"],
        &["EVAL", "return redis.call('get')", "0"],
        &["EVAL", "return 'unfinished", "0"],
        &["EVAL", "return cjson.encode({a={1,2,3}})", "0"],
        &[
            "EVAL",
            "return cjson.decode('[1,\"x\",{\"y\":2}]')[3].y",
            "0",
        ],
        &["EVAL", "return cmsgpack.pack({1, 'a', 300, -5, 1.5})", "0"],
        &["EVAL", "return bit.tohex(bit.bor(0xf0, 0x0f), -4)", "0"],
        &["EVAL", "return redis.sha1hex('abc')", "0"],
        &[
            "EVAL",
            "redis.call('RPUSH', 'l', 'a', 'b'); return redis.call('LRANGE', 'l', 0, -1)",
            "0",
        ],
        &["EVAL", "return redis.call('HGETALL', 'nohash')", "0"],
        &[
            "EVAL",
            "#!lua flags=no-writes\nreturn redis.call('SET', 'x', 1)",
            "0",
        ],
        &["EVAL", "#!lua flags=bogus\nreturn 1", "0"],
        &["EVAL_RO", "return redis.call('DEL', 'k')", "0"],
        &["EVAL", "return 1", "3", "a"],
        &["EVAL", "return 1", "-2"],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["SCRIPT", "LOAD", "return 'loaded'"],
        &["EVALSHA", "b534286061d4b9e4026607613b95c06c06015ae8", "0"],
        &[
            "SCRIPT",
            "EXISTS",
            "b534286061d4b9e4026607613b95c06c06015ae8",
            "0000",
        ],
        &["EVAL", "return redis.call('SELECT', 2)", "0"],
        &["EVAL", "return {err='CUSTOM code'}", "0"],
        &["EVAL", "return redis.call('EXISTS', 'k', 'l', 'none')", "0"],
        &["EVAL", "return tostring(0.1 + 0.2)", "0"],
        &["EVAL", "return redis.call('INCRBYFLOAT', 'f', 0.1)", "0"],
        &["EVAL", "return #KEYS + #ARGV", "2", "a", "b", "c"],
        &["SCRIPT", "FLUSH"],
        &[
            "SCRIPT",
            "EXISTS",
            "b534286061d4b9e4026607613b95c06c06015ae8",
        ],
        &["SCRIPT", "HELP"],
        &["FUNCTION", "HELP"],
        &["FUNCTION", "FLUSH", "LATER"],
        &["FUNCTION", "FLUSH", "SYNC", "NOW"],
        &["FCALL", "nosuch", "0"],
        &["FUNCTION", "DELETE", "nosuch"],
        &["FUNCTION", "LOAD", "#!lua name=bad-name\nreturn 1"],
        &["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return redis.call('PING') end)"],
        &["FCALL", "F", "0"],
        &["FCALL_RO", "f", "0"],
        &["FUNCTION", "LOAD", "#!lua name=lib\nreturn 1"],
        &["FUNCTION", "STATS"],
    ];
    let replies: RefCell<Vec<Vec<Vec<u8>>>> = RefCell::new(Vec::new());
    on_both(&[], |server| {
        let mut stream = server.connect();
        let got: Vec<Vec<u8>> = cases
            .iter()
            .map(|case| command(&mut stream, case))
            .collect();
        let mut replies = replies.borrow_mut();
        if let Some(redis) = replies.first() {
            for ((case, want), got) in cases.iter().zip(redis).zip(&got) {
                assert_eq!(show(got), show(want), "{case:?}");
            }
        }
        replies.push(got);
    });
}

// A script that never returns holds the event loop; SIGTERM still ends the
// process once the script has run past busy-reply-threshold.
#[test]
fn sigterm_ends_a_busy_script() {
    let mut server = Server::redoubt(&["--busy-reply-threshold", "200"]);
    let mut stream = server.connect();
    let request = redoubt_tests::encode(&[b"EVAL", b"while true do end", b"0"]);
    std::io::Write::write_all(&mut stream, &request).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    server.signal(libc::SIGTERM);
    let status = server.wait_exit(Duration::from_secs(10));
    assert!(status.is_some(), "the server did not exit on SIGTERM");
    assert!(
        server
            .stderr()
            .contains("Received SIGTERM while a busy script runs"),
        "{}",
        server.stderr()
    );
}

const KNOCK_LIBRARY: &str =
    "#!lua name=knock\nredis.register_function('knockknock', function() return 'Who is there?' end)";
const ECHO_LIBRARY: &str =
    "#!lua name=echoes\nredis.register_function('echo_arg', function(keys, args) return args[1] end)";

fn knock(server: &Server) -> String {
    let mut stream = server.connect();
    show(&command(&mut stream, &["FCALL", "knockknock", "0"]))
}

// Function libraries live in the RDB as Redis 7.0 writes them: a dump
// redoubt saved loads in real Redis with its functions, and one real
// Redis saved (with one more library) loads back in redoubt.
#[test]
fn functions_persist_in_rdb_both_ways() {
    let dir = redoubt_tests::ScratchDir::new("functions-rdb");
    let args = ["--save", "", "--appendonly", "no"];
    let redoubt = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut stream = redoubt.connect();
    assert_eq!(
        show(&command(&mut stream, &["FUNCTION", "LOAD", KNOCK_LIBRARY])),
        show(b"$5\r\nknock\r\n")
    );
    assert_eq!(command(&mut stream, &["SAVE"]), b"+OK\r\n");
    drop(redoubt);
    let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &args);
    assert_eq!(
        knock(&redis),
        show(b"$13\r\nWho is there?\r\n"),
        "{}",
        redis.log()
    );
    let mut stream = redis.connect();
    assert_eq!(
        show(&command(&mut stream, &["FUNCTION", "LOAD", ECHO_LIBRARY])),
        show(b"$6\r\nechoes\r\n")
    );
    assert_eq!(command(&mut stream, &["SAVE"]), b"+OK\r\n");
    drop(redis);
    let redoubt = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_eq!(
        knock(&redoubt),
        show(b"$13\r\nWho is there?\r\n"),
        "{}",
        redoubt.log()
    );
    let mut stream = redoubt.connect();
    assert_eq!(
        show(&command(&mut stream, &["FCALL", "echo_arg", "0", "hi"])),
        show(b"$2\r\nhi\r\n")
    );
}

// With the AOF, FUNCTION LOAD is replayed from the INCR file after a
// kill, and a rewrite without the RDB preamble keeps the library as a
// FUNCTION LOAD in its RESP BASE; FUNCTION DELETE is replayed too.
#[test]
fn functions_persist_in_the_aof() {
    let dir = redoubt_tests::ScratchDir::new("functions-aof");
    let args = [
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut stream = server.connect();
    command(&mut stream, &["FUNCTION", "LOAD", KNOCK_LIBRARY]);
    command(&mut stream, &["FUNCTION", "LOAD", ECHO_LIBRARY]);
    command(&mut stream, &["FUNCTION", "DELETE", "echoes"]);
    server.signal(libc::SIGKILL);
    server.wait_exit(EXIT_TIMEOUT).expect("killed");
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_eq!(
        knock(&server),
        show(b"$13\r\nWho is there?\r\n"),
        "{}",
        server.log()
    );
    let mut stream = server.connect();
    assert_eq!(
        show(&command(&mut stream, &["FCALL", "echo_arg", "0", "x"])),
        show(b"-ERR Function not found\r\n")
    );
    assert!(command(&mut stream, &["BGREWRITEAOF"]).starts_with(b"+"));
    server
        .wait_for_log(
            "Background AOF rewrite finished successfully",
            Duration::from_secs(20),
        )
        .expect("the rewrite finished");
    server.signal(libc::SIGKILL);
    server.wait_exit(EXIT_TIMEOUT).expect("killed");
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    assert_eq!(
        knock(&server),
        show(b"$13\r\nWho is there?\r\n"),
        "{}",
        server.log()
    );
}

// Against the real binary: a script busy past busy-reply-threshold leaves
// other clients answered with BUSY, SCRIPT KILL stops it, and the server
// serves again; then SHUTDOWN NOSAVE during a busy script that wrote ends
// the server, discarding the script's writes.
#[test]
fn busy_scripts_answer_busy_and_can_be_stopped() {
    let dir = redoubt_tests::ScratchDir::new("busy-script");
    let args = [
        "--busy-reply-threshold",
        "100",
        "--appendonly",
        "yes",
        "--save",
        "",
    ];
    let mut server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut runner = server.connect();
    let mut other = server.connect();
    assert_eq!(command(&mut other, &["SET", "kept", "1"]), b"+OK\r\n");
    let request = redoubt_tests::encode(&[b"EVAL", b"while true do end", b"0"]);
    std::io::Write::write_all(&mut runner, &request).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        show(&command(&mut other, &["GET", "kept"])),
        show(b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
    );
    assert_eq!(command(&mut other, &["SCRIPT", "KILL"]), b"+OK\r\n");
    let mut pending = Vec::new();
    let killed = redoubt_tests::read_reply(&mut runner, &mut pending).expect("a reply");
    assert_eq!(
        show(&killed),
        show(b"-ERR Script killed by user with SCRIPT KILL...\r\n")
    );
    assert_eq!(command(&mut other, &["GET", "kept"]), b"$1\r\n1\r\n");
    // A script that wrote cannot be killed, but SHUTDOWN NOSAVE ends it
    // and the server, and its write never reaches the AOF.
    let request = redoubt_tests::encode(&[
        b"EVAL",
        b"redis.call('SET', 'lost', 1) while true do end",
        b"0",
    ]);
    std::io::Write::write_all(&mut runner, &request).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(show(&command(&mut other, &["SCRIPT", "KILL"])).starts_with("-UNKILLABLE"));
    let shutdown = redoubt_tests::encode(&[b"SHUTDOWN", b"NOSAVE"]);
    std::io::Write::write_all(&mut other, &shutdown).unwrap();
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "{}",
        server.log()
    );
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut client = server.connect();
    assert_eq!(command(&mut client, &["GET", "kept"]), b"$1\r\n1\r\n");
    assert_eq!(command(&mut client, &["GET", "lost"]), b"$-1\r\n");
}

// A library whose code never returns is stopped after Redis's load
// timeout, and the server serves on, loading and running functions and
// scripts as before; as real Redis does.
#[test]
fn function_load_times_out() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        let reply = command(
            &mut stream,
            &[
                "FUNCTION",
                "LOAD",
                "#!lua name=spin\nlocal a = 1 while 1 do a = a + 1 end",
            ],
        );
        assert!(
            show(&reply).contains("FUNCTION LOAD timeout"),
            "{}",
            show(&reply)
        );
        assert_eq!(command(&mut stream, &["PING"]), b"+PONG\r\n");
        // Loading and calling work as before.
        let library = "#!lua name=after\nredis.register_function('after', function() return 7 end)";
        assert_eq!(
            command(&mut stream, &["FUNCTION", "LOAD", library]),
            b"$5\r\nafter\r\n"
        );
        assert_eq!(command(&mut stream, &["FCALL", "after", "0"]), b":7\r\n");
        assert_eq!(command(&mut stream, &["EVAL", "return 8", "0"]), b":8\r\n");
    });
}
