//! `maxmemory` and eviction on exact bytes: which keys each policy takes,
//! the OOM refusal (also in MULTI and at EXEC), evictions in the
//! replication stream, the configuration's checks, and the access fields
//! behind OBJECT IDLETIME, OBJECT FREQ and TOUCH.
//!
//! The test environment reports `used_memory` as one million bytes plus
//! core's dataset estimate, so a limit just under that forces evictions
//! deterministically.

use redoubt_core::config::Config;
use redoubt_core::env::LogLevel;
use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

const OOM: &str = "-OOM command not allowed when used memory > 'maxmemory'.\r\n";

/// RESP for one command.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

/// A node under `policy` (no limit yet) and one client.
fn node(policy: &str) -> (TestNode, ConnId) {
    let mut config = Config::default();
    config.apply_startup("maxmemory-policy", policy).unwrap();
    config.apply_startup("maxmemory-samples", "64").unwrap();
    config.repl.diskless_sync_delay_s = 0;
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    (t, c)
}

fn used_memory(t: &TestNode) -> u64 {
    1_000_000 + t.node.server().keyspace.dataset_bytes()
}

/// CONFIG SET maxmemory, then the tick that evicts right after it (as
/// Redis's eviction time event does).
fn set_maxmemory(t: &mut TestNode, c: ConnId, limit: u64) {
    let limit = limit.to_string();
    assert_eq!(t.cmd(c, &["CONFIG", "SET", "maxmemory", &limit]), "+OK\r\n");
    assert_eq!(t.node.next_deadline(), 0, "eviction is due at once");
    t.node.on_tick();
    t.node.before_sleep();
}

/// Sets the limit `bytes` under what the node uses now.
fn squeeze(t: &mut TestNode, c: ConnId, bytes: u64) {
    let limit = used_memory(t) - bytes;
    set_maxmemory(t, c, limit);
}

fn exists(t: &mut TestNode, c: ConnId, key: &str) -> bool {
    t.cmd(c, &["EXISTS", key]) == ":1\r\n"
}

fn evicted_keys(t: &TestNode) -> u64 {
    t.node.server().stats.evicted_keys
}

// Under noeviction a denyoom write is refused with Redis's exact error;
// reads, deletions and non-denyoom writes run.
#[test]
fn noeviction_refuses_denyoom_writes() {
    let (mut t, c) = node("noeviction");
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(t.cmd(c, &["SET", "b", "2"]), OOM);
    assert_eq!(t.cmd(c, &["LPUSH", "l", "x"]), OOM);
    assert_eq!(t.cmd(c, &["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "a", "100"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["DEL", "a"]), ":1\r\n");
    assert_eq!(evicted_keys(&t), 0);
    assert_eq!(t.cmd(c, &["CONFIG", "SET", "maxmemory", "0"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "b", "2"]), "+OK\r\n");
}

// Out of memory, nothing is queued in MULTI and EXEC then aborts; a
// transaction queued before the limit holding a denyoom command is
// refused at EXEC with EXECABORT naming the OOM error.
#[test]
fn oom_in_multi_refuses_queueing_and_exec() {
    let (mut t, c) = node("noeviction");
    let other = t.connect();
    t.cmd(other, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "a"]), OOM, "queuing is refused");
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    t.cmd(other, &["CONFIG", "SET", "maxmemory", "0"]);
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "a", "1"]), "+QUEUED\r\n");
    t.cmd(other, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "a"]), "$-1\r\n");
    // A transaction of reads and deletions still runs.
    t.cmd(other, &["CONFIG", "SET", "maxmemory", "0"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["DEL", "a"]);
    t.cmd(other, &["CONFIG", "SET", "maxmemory", "1"]);
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n:0\r\n");
}

// volatile-ttl takes the keys that expire soonest, and never a key
// without a time to live.
#[test]
fn volatile_ttl_evicts_the_nearest_expiry() {
    let (mut t, c) = node("volatile-ttl");
    for i in 0..20 {
        t.cmd(c, &["SET", &format!("persistent:{i}"), "v"]);
    }
    for i in 0..20 {
        let seconds = (1000 + i * 100).to_string();
        t.cmd(c, &["SET", &format!("ttl:{i}"), "v", "EX", &seconds]);
    }
    squeeze(&mut t, c, 150);
    let evicted = evicted_keys(&t);
    assert!(evicted >= 2, "a few keys had to go, {evicted} did");
    for i in 0..evicted {
        assert!(
            !exists(&mut t, c, &format!("ttl:{i}")),
            "ttl:{i} expires soonest"
        );
    }
    for i in evicted..20 {
        assert!(
            exists(&mut t, c, &format!("ttl:{i}")),
            "ttl:{i} expires later"
        );
    }
    for i in 0..20 {
        assert!(exists(&mut t, c, &format!("persistent:{i}")));
    }
}

// The volatile policies never touch a key without a time to live: with
// none left to take, eviction fails and denyoom writes are refused.
#[test]
fn volatile_policies_never_evict_persistent_keys() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let (mut t, c) = node(policy);
        for i in 0..10 {
            t.cmd(c, &["SET", &format!("k{i}"), "v"]);
        }
        t.cmd(c, &["SET", "temp", "v", "EX", "100"]);
        squeeze(&mut t, c, 1000);
        assert_eq!(evicted_keys(&t), 1, "{policy}: only the volatile key");
        assert!(!exists(&mut t, c, "temp"), "{policy}");
        assert_eq!(t.cmd(c, &["DBSIZE"]), ":10\r\n", "{policy}");
        assert_eq!(t.cmd(c, &["SET", "new", "v"]), OOM, "{policy}");
    }
}

// allkeys-lru takes the keys idle longest: the keys read a minute later
// survive, the others go.
#[test]
fn allkeys_lru_evicts_the_idle_keys() {
    let (mut t, c) = node("allkeys-lru");
    for i in 0..20 {
        t.cmd(c, &["SET", &format!("k{i}"), "value"]);
    }
    t.advance(60_000);
    for i in 10..20 {
        t.cmd(c, &["GET", &format!("k{i}")]);
    }
    // TYPE and EXISTS do not count as accesses (LOOKUP_NOTOUCH).
    for i in 0..10 {
        t.cmd(c, &["TYPE", &format!("k{i}")]);
        t.cmd(c, &["EXISTS", &format!("k{i}")]);
    }
    squeeze(&mut t, c, 8 * 70);
    let evicted = evicted_keys(&t);
    assert!((5..=10).contains(&evicted), "{evicted} evicted");
    for i in 10..20 {
        assert!(
            exists(&mut t, c, &format!("k{i}")),
            "k{i} was read recently"
        );
    }
}

// allkeys-lfu takes the keys accessed least often.
#[test]
fn allkeys_lfu_evicts_the_rarely_used_keys() {
    let (mut t, c) = node("allkeys-lfu");
    for i in 0..20 {
        t.cmd(c, &["SET", &format!("k{i}"), "value"]);
    }
    for _ in 0..50 {
        for i in 10..20 {
            t.cmd(c, &["GET", &format!("k{i}")]);
        }
    }
    squeeze(&mut t, c, 8 * 70);
    let evicted = evicted_keys(&t);
    assert!((5..=10).contains(&evicted), "{evicted} evicted");
    for i in 10..20 {
        assert!(exists(&mut t, c, &format!("k{i}")), "k{i} is used often");
    }
}

// allkeys-random may take any key, and takes enough of them.
#[test]
fn allkeys_random_frees_enough() {
    let (mut t, c) = node("allkeys-random");
    for i in 0..50 {
        t.cmd(c, &["SET", &format!("k{i}"), "value"]);
    }
    let limit = used_memory(&t) - 1000;
    set_maxmemory(&mut t, c, limit);
    assert!(used_memory(&t) <= limit);
    assert!(evicted_keys(&t) > 0);
    assert_eq!(
        t.cmd(c, &["SET", "new", "v"]),
        "+OK\r\n",
        "eviction makes room"
    );
}

// Evicted keys go down the replication stream as DEL, or UNLINK under
// lazyfree-lazy-eviction, each as its own unit ahead of the command that
// made room; INFO counts them.
#[test]
fn evictions_reach_the_stream_as_del() {
    let (mut t, c) = node("volatile-ttl");
    t.cmd(c, &["SET", "old", "v", "EX", "100"]);
    t.cmd(c, &["SET", "new", "v", "EX", "1000"]);
    let r = t.attach_replica();
    let limit = used_memory(&t) - 10;
    set_maxmemory(&mut t, c, limit);
    let mut expected = resp(&["SELECT", "0"]);
    expected.extend(resp(&["DEL", "old"]));
    assert_eq!(t.take_sent(r).into_bytes(), expected);
    assert!(t.cmd(c, &["INFO", "stats"]).contains("evicted_keys:1\r\n"));
    // A write that goes over the limit makes room before the command
    // after it.
    t.cmd(c, &["CONFIG", "SET", "lazyfree-lazy-eviction", "yes"]);
    assert_eq!(t.cmd(c, &["SET", "big", "0123456789"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+PONG\r\n");
    let stream = t.take_sent(r).into_bytes();
    let mut expected = resp(&["SET", "big", "0123456789"]);
    expected.extend(resp(&["UNLINK", "new"]));
    assert_eq!(stream, expected, "{}", String::from_utf8_lossy(&stream));
    assert_eq!(evicted_keys(&t), 2);
}

// CONFIG SET maxmemory under the usage logs Redis's warning and evicts at
// once.
#[test]
fn lowering_maxmemory_warns_and_evicts() {
    let (mut t, c) = node("allkeys-lru");
    for i in 0..10 {
        t.cmd(c, &["SET", &format!("k{i}"), "v"]);
    }
    let used = used_memory(&t);
    let limit = used - 100;
    set_maxmemory(&mut t, c, limit);
    let warning = format!("WARNING: the new maxmemory value set via CONFIG SET ({limit}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
    assert!(t.node.env().logs.contains(&(LogLevel::Warning, warning)));
    assert!(evicted_keys(&t) >= 1);
    assert!(used_memory(&t) <= limit);
}

// The directives take Redis's values and refuse others with its words.
#[test]
fn configuration_is_checked() {
    let (mut t, c) = node("noeviction");
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "maxmemory-policy", "sometimes"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "maxmemory-policy"]),
        "*2\r\n$16\r\nmaxmemory-policy\r\n$11\r\nallkeys-lru\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "maxmemory", "100mb"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET", "maxmemory"]),
        "*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n"
    );
    assert!(t
        .cmd(c, &["INFO", "memory"])
        .contains("maxmemory_human:100.00M\r\n"));
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "maxmemory", "lots"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "maxmemory-samples", "0"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 64 inclusive\r\n"
    );
    let mut config = Config::default();
    assert!(config
        .apply_file_text("maxmemory-policy sometimes\n")
        .is_err());
    assert!(config.apply_file_text("maxmemory 1gb\n").is_ok());
    assert_eq!(config.memory.maxmemory_bytes, 1 << 30);
}

// OBJECT IDLETIME counts from the last access; TYPE, EXISTS, TTL and
// OBJECT itself are not accesses, GET and TOUCH are.
#[test]
fn idletime_and_touch() {
    let (mut t, c) = node("noeviction");
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "k"]), ":0\r\n");
    t.advance(5_000);
    for read in [
        &["TYPE", "k"][..],
        &["EXISTS", "k"],
        &["TTL", "k"],
        &["OBJECT", "ENCODING", "k"],
    ] {
        t.cmd(c, read);
    }
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "k"]), ":5\r\n");
    t.cmd(c, &["GET", "k"]);
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "k"]), ":0\r\n");
    t.advance(3_000);
    assert_eq!(t.cmd(c, &["TOUCH", "k", "missing", "k"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "k"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "missing"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "FREQ", "k"]),
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
}

// Under an LFU policy a new key's counter is LFU_INIT_VAL, accesses raise
// it, and OBJECT IDLETIME is refused.
#[test]
fn freq_under_lfu() {
    let (mut t, c) = node("allkeys-lfu");
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["OBJECT", "FREQ", "k"]), ":5\r\n");
    for _ in 0..200 {
        t.cmd(c, &["GET", "k"]);
    }
    let freq: i64 = t.cmd(c, &["OBJECT", "FREQ", "k"])[1..]
        .trim()
        .parse()
        .unwrap();
    assert!(freq > 5, "200 reads raise the counter, got {freq}");
    assert_eq!(
        t.cmd(c, &["OBJECT", "IDLETIME", "k"]),
        "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    assert_eq!(t.cmd(c, &["OBJECT", "FREQ", "missing"]), "$-1\r\n");
}

// The dataset estimate follows changes in place and removals exactly.
#[test]
fn dataset_estimate_follows_changes() {
    let (mut t, c) = node("noeviction");
    assert_eq!(t.node.server().keyspace.dataset_bytes(), 0);
    t.cmd(c, &["SET", "k", "v"]);
    let one = t.node.server().keyspace.dataset_bytes();
    assert!(one > 0);
    t.cmd(c, &["APPEND", "k", "more"]);
    assert_eq!(t.node.server().keyspace.dataset_bytes(), one + 4);
    t.cmd(c, &["RPUSH", "l", "a", "b"]);
    t.cmd(c, &["SET", "x", "1", "PX", "10"]);
    t.advance(100);
    t.cmd(c, &["DEL", "k", "l", "x"]);
    assert_eq!(t.node.server().keyspace.dataset_bytes(), 0);
    t.cmd(c, &["SADD", "s", "a"]);
    t.cmd(c, &["FLUSHALL"]);
    assert_eq!(t.node.server().keyspace.dataset_bytes(), 0);
}

/// Sends a command of byte-string arguments; the reply, as bytes.
fn cmd_bytes(t: &mut TestNode, c: ConnId, args: &[&[u8]]) -> Vec<u8> {
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    t.raw(c, &request)
}

// RESTORE IDLETIME and FREQ set the access field the policy tracks.
#[test]
fn restore_sets_idletime_or_freq() {
    let (mut t, c) = node("allkeys-lru");
    t.cmd(c, &["SET", "foo", "bar"]);
    let reply = cmd_bytes(&mut t, c, &[b"DUMP", b"foo"]);
    let body_start = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let payload = reply[body_start..reply.len() - 2].to_vec();
    t.cmd(c, &["DEL", "foo"]);
    let restore: [&[u8]; 6] = [b"RESTORE", b"foo", b"0", &payload, b"IDLETIME", b"1000"];
    assert_eq!(cmd_bytes(&mut t, c, &restore), b"+OK\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "IDLETIME", "foo"]), ":1000\r\n");
    t.cmd(c, &["DEL", "foo"]);
    t.cmd(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]);
    let restore: [&[u8]; 6] = [b"RESTORE", b"foo", b"0", &payload, b"FREQ", b"100"];
    assert_eq!(cmd_bytes(&mut t, c, &restore), b"+OK\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "FREQ", "foo"]), ":100\r\n");
    assert_eq!(t.cmd(c, &["GET", "foo"]), "$3\r\nbar\r\n");
}

// Small integers count as shared unless maxmemory is set under an LRU or
// LFU policy (each key then needs its own access field).
#[test]
fn small_integers_are_not_shared_under_lru_with_maxmemory() {
    let (mut t, c) = node("allkeys-random");
    t.cmd(c, &["SET", "a", "1"]);
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "a"]), ":2147483647\r\n");
    t.cmd(c, &["CONFIG", "SET", "maxmemory", "1gb"]);
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "a"]), ":2147483647\r\n");
    t.cmd(c, &["CONFIG", "SET", "maxmemory-policy", "volatile-lru"]);
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "a"]), ":1\r\n");
}

// CONFIG SET maxmemory inside EXEC evicts after the transaction, not under
// it: the stream holds the transaction whole, then the DEL (Redis's test
// "propagation with eviction in MULTI").
#[test]
fn maxmemory_set_inside_exec_evicts_after_it() {
    let (mut t, c) = node("allkeys-lru");
    let r = t.attach_replica();
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["INCR", "x"]);
    t.cmd(c, &["CONFIG", "SET", "maxmemory", "1"]);
    t.cmd(c, &["INCR", "x"]);
    assert_eq!(t.cmd(c, &["EXEC"]), "*3\r\n:1\r\n+OK\r\n:2\r\n");
    t.node.on_tick();
    t.node.before_sleep();
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":0\r\n");
    let mut expected = resp(&["SELECT", "0"]);
    for command in [
        &["MULTI"][..],
        &["INCR", "x"],
        &["INCR", "x"],
        &["EXEC"],
        &["DEL", "x"],
    ] {
        expected.extend(resp(command));
    }
    let stream = t.take_sent(r).into_bytes();
    assert_eq!(stream, expected, "{}", String::from_utf8_lossy(&stream));
}
