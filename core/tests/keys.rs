//! Key and database commands: exact replies and errors as Redis 7.0 gives
//! them, expiry (lazy, active and by command), SCAN's guarantees, RESP3
//! nulls, change counting, keyspace hit/miss counting and WATCH.

use std::collections::BTreeSet;

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

fn dirty(t: &TestNode) -> u64 {
    t.dirty()
}

fn hits_and_misses(t: &TestNode) -> (u64, u64) {
    t.hits_and_misses()
}

/// The current wall-clock time of the test node, in milliseconds.
fn now_ms(t: &TestNode) -> i64 {
    t.node.env().wall_ms
}

/// Reads the bulk strings of a flat RESP array of bulk strings.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let header = lines.next().expect("reply has a header");
    assert!(header.starts_with('*'), "not an array: {reply:?}");
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('$') {
            items.push(lines.next().expect("bulk body").to_string());
        }
    }
    items
}

/// Splits a SCAN reply into its cursor and its keys.
fn scan_reply(reply: &str) -> (String, Vec<String>) {
    let rest = reply.strip_prefix("*2\r\n$").expect("SCAN reply shape");
    let (_, rest) = rest.split_once("\r\n").expect("cursor length");
    let (cursor, keys) = rest.split_once("\r\n").expect("cursor");
    (cursor.to_string(), bulks(keys))
}

/// Runs SCAN with `options` until the cursor returns to 0; every key seen.
fn scan_all(t: &mut TestNode, c: ConnId, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for _ in 0..100_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let (next, keys) = scan_reply(&t.cmd(c, &args));
        seen.extend(keys);
        if next == "0" {
            return seen;
        }
        cursor = next;
    }
    panic!("SCAN did not finish");
}

const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const SAME_OBJECT: &str = "-ERR source and destination objects are the same\r\n";
const NOT_INT32: &str =
    "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n";
const DB_RANGE: &str = "-ERR DB index is out of range\r\n";

// DEL and UNLINK count removed keys; EXISTS counts repeats.
#[test]
fn del_unlink_exists() {
    let (mut t, c) = node();
    t.cmd(c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(t.cmd(c, &["EXISTS", "a", "a", "nokey", "b"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["DEL", "a", "nokey", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["UNLINK", "b", "c"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "a", "b", "c"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["DEL"]),
        "-ERR wrong number of arguments for 'del' command\r\n"
    );
}

// TYPE names the value's type or `none`.
#[test]
fn type_names() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "s", "v"]);
    assert_eq!(t.cmd(c, &["TYPE", "s"]), "+string\r\n");
    assert_eq!(t.cmd(c, &["TYPE", "nokey"]), "+none\r\n");
}

// OBJECT reports encodings and reference counts as Redis does.
#[test]
fn object_subcommands() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "int", "123"]);
    t.cmd(c, &["SET", "long", "12345678901234567890"]);
    t.cmd(c, &["SET", "short", &"x".repeat(44)]);
    t.cmd(c, &["SET", "raw", &"x".repeat(45)]);
    t.cmd(c, &["SET", "big", "10000"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "int"]), "$3\r\nint\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "long"]),
        "$6\r\nembstr\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT", "encoding", "short"]),
        "$6\r\nembstr\r\n"
    );
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "raw"]), "$3\r\nraw\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "nokey"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "int"]), ":2147483647\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "big"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "raw"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "REFCOUNT", "nokey"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "FREQ", "nokey"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "FREQ", "int"]),
        "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try OBJECT HELP.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT"]),
        "-ERR wrong number of arguments for 'object' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING"]),
        "-ERR wrong number of arguments for 'object|encoding' command\r\n"
    );
    let help = t.cmd(c, &["OBJECT", "HELP"]);
    assert!(help.starts_with(
        "*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ENCODING <key>\r\n"
    ));
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "nokey"]), "_\r\n");
}

// KEYS matches globs; exactly `*` skips matching, so it lists the empty key.
#[test]
fn keys_patterns() {
    let (mut t, c) = node();
    t.cmd(
        c,
        &[
            "MSET", "hello", "1", "hallo", "2", "hxllo", "3", "world", "4",
        ],
    );
    t.cmd(c, &["SET", "", "empty"]);
    let sorted = |reply: String| bulks(&reply).into_iter().collect::<BTreeSet<_>>();
    let all = sorted(t.cmd(c, &["KEYS", "*"]));
    assert_eq!(all.len(), 5);
    assert!(all.contains(""));
    assert_eq!(sorted(t.cmd(c, &["KEYS", "**"])).len(), 4);
    assert_eq!(
        sorted(t.cmd(c, &["KEYS", "h[ae]llo"])),
        BTreeSet::from(["hallo".to_string(), "hello".to_string()])
    );
    assert_eq!(sorted(t.cmd(c, &["KEYS", "h?llo"])).len(), 3);
    assert_eq!(t.cmd(c, &["KEYS", "nomatch*"]), "*0\r\n");
}

// KEYS leaves out expired keys without removing them, as Redis does.
#[test]
fn keys_skips_expired() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "live", "1"]);
    t.cmd(c, &["SET", "dying", "1", "PX", "10"]);
    t.node.env_mut().wall_ms += 10;
    assert_eq!(t.cmd(c, &["KEYS", "*"]), "*1\r\n$4\r\nlive\r\n");
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":2\r\n");
}

// SCAN's errors and its cursor syntax.
#[test]
fn scan_errors() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v"]);
    let invalid = "-ERR invalid cursor\r\n";
    for cursor in ["abc", " 1", "1 ", "-", "18446744073709551616"] {
        assert_eq!(t.cmd(c, &["SCAN", cursor]), invalid, "{cursor:?}");
    }
    for cursor in ["", "+0", "0"] {
        assert_eq!(
            t.cmd(c, &["SCAN", cursor]),
            "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n",
            "{cursor:?}"
        );
    }
    assert_eq!(t.cmd(c, &["SCAN", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SCAN", "0", "COUNT", "-1"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SCAN", "0", "COUNT", "abc"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["SCAN", "0", "FOO", "bar"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SCAN", "0", "MATCH"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["SCAN", "0", "TYPE", "strin"]),
        "*2\r\n$1\r\n0\r\n*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SCAN", "0", "type", "STRING"]),
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nk\r\n"
    );
}

// A full SCAN returns every key of a few thousand, with or without COUNT,
// and MATCH filters them.
#[test]
fn scan_is_complete() {
    let (mut t, c) = node();
    let keys: BTreeSet<String> = (0..3000).map(|i| format!("key:{i}")).collect();
    for key in &keys {
        t.cmd(c, &["SET", key, "v"]);
    }
    for options in [
        &[][..],
        &["COUNT", "1"],
        &["COUNT", "250"],
        &["COUNT", "100000"],
    ] {
        let seen = scan_all(&mut t, c, options);
        let distinct: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(distinct, keys, "{options:?}");
    }
    let matched: BTreeSet<String> = scan_all(&mut t, c, &["MATCH", "key:1??", "COUNT", "50"])
        .into_iter()
        .collect();
    let expected: BTreeSet<String> = (100..200).map(|i| format!("key:{i}")).collect();
    assert_eq!(matched, expected);
    let typed = scan_all(&mut t, c, &["TYPE", "string", "MATCH", "*"]);
    assert_eq!(typed.len(), keys.len());
}

// SCAN keeps keys that exist for the whole iteration even while the table
// grows under it.
#[test]
fn scan_survives_growth() {
    let (mut t, c) = node();
    for i in 0..200 {
        t.cmd(c, &["SET", &format!("old:{i}"), "v"]);
    }
    let mut cursor = "0".to_string();
    let mut seen = BTreeSet::new();
    let mut added = 0;
    loop {
        let (next, keys) = scan_reply(&t.cmd(c, &["SCAN", &cursor, "COUNT", "5"]));
        seen.extend(keys);
        for _ in 0..20 {
            t.cmd(c, &["SET", &format!("new:{added}"), "v"]);
            added += 1;
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    for i in 0..200 {
        assert!(seen.contains(&format!("old:{i}")), "old:{i} missed");
    }
}

// SCAN never returns an expired key, and removes the ones it meets.
#[test]
fn scan_skips_and_expires_dead_keys() {
    let (mut t, c) = node();
    for i in 0..50 {
        t.cmd(c, &["SET", &format!("live:{i}"), "v"]);
        t.cmd(c, &["SET", &format!("dead:{i}"), "v", "PX", "10"]);
    }
    t.node.env_mut().wall_ms += 10;
    let seen = scan_all(&mut t, c, &[]);
    assert_eq!(seen.len(), 50);
    assert!(seen.iter().all(|key| key.starts_with("live:")));
    assert_eq!(t.node.server().stats.expired_keys, 50);
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":50\r\n");
}

// RANDOMKEY returns a live key, or null when there is none.
#[test]
fn randomkey() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["RANDOMKEY"]), "$-1\r\n");
    t.cmd(c, &["SET", "only", "v"]);
    assert_eq!(t.cmd(c, &["RANDOMKEY"]), "$4\r\nonly\r\n");
    t.cmd(c, &["PEXPIRE", "only", "10"]);
    t.node.env_mut().wall_ms += 10;
    assert_eq!(t.cmd(c, &["RANDOMKEY"]), "$-1\r\n");
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["RANDOMKEY"]), "_\r\n");
}

// RENAME moves value and expiry; RENAMENX refuses an existing target.
#[test]
fn rename_and_renamenx() {
    let (mut t, c) = node();
    let no_such_key = "-ERR no such key\r\n";
    assert_eq!(t.cmd(c, &["RENAME", "nokey", "x"]), no_such_key);
    assert_eq!(t.cmd(c, &["RENAMENX", "nokey", "x"]), no_such_key);
    assert_eq!(t.cmd(c, &["RENAME", "nokey", "nokey"]), no_such_key);
    t.cmd(c, &["SET", "a", "1", "EX", "100"]);
    assert_eq!(t.cmd(c, &["RENAME", "a", "a"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["RENAMENX", "a", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["RENAME", "a", "b"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GET", "b"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "b"]), ":100\r\n");
    t.cmd(c, &["SET", "c", "3"]);
    assert_eq!(t.cmd(c, &["RENAMENX", "b", "c"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["RENAMENX", "b", "d"]), ":1\r\n");
    t.cmd(c, &["SET", "e", "5", "EX", "50"]);
    assert_eq!(t.cmd(c, &["RENAME", "c", "e"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "e"]), "$1\r\n3\r\n");
    assert_eq!(t.cmd(c, &["TTL", "e"]), ":-1\r\n");
}

// COPY copies value and expiry, across databases too, with Redis's errors.
#[test]
fn copy() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "a", "1", "EX", "100"]);
    assert_eq!(t.cmd(c, &["COPY", "a", "a"]), SAME_OBJECT);
    assert_eq!(t.cmd(c, &["COPY", "a", "a", "DB", "0"]), SAME_OBJECT);
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "DB", "abc"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "DB", "4294967296"]), NOT_INT32);
    assert_eq!(
        t.cmd(c, &["COPY", "a", "b", "DB", "99999999999999999999"]),
        NOT_INTEGER
    );
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "DB", "99"]), DB_RANGE);
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "DB", "-1"]), DB_RANGE);
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "FOO"]), SYNTAX);
    assert_eq!(t.cmd(c, &["COPY", "a", "b", "DB"]), SYNTAX);
    assert_eq!(t.cmd(c, &["COPY", "nokey", "b"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["COPY", "a", "b"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["GET", "b"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "b"]), ":100\r\n");
    t.cmd(c, &["SET", "a", "2"]);
    assert_eq!(t.cmd(c, &["COPY", "a", "b"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["COPY", "a", "b", "REPLACE", "REPLACE"]),
        ":1\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "b"]), "$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["TTL", "b"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["COPY", "a", "a", "DB", "1"]), ":1\r\n");
    t.cmd(c, &["SELECT", "1"]);
    assert_eq!(t.cmd(c, &["GET", "a"]), "$1\r\n2\r\n");
}

// MOVE moves a key and its expiry to another database.
#[test]
fn move_key() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v", "EX", "100"]);
    assert_eq!(t.cmd(c, &["MOVE", "k", "abc"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["MOVE", "k", "99"]), DB_RANGE);
    assert_eq!(t.cmd(c, &["MOVE", "k", "4294967296"]), NOT_INT32);
    assert_eq!(t.cmd(c, &["MOVE", "k", "-1"]), DB_RANGE);
    assert_eq!(t.cmd(c, &["MOVE", "k", "0"]), SAME_OBJECT);
    assert_eq!(t.cmd(c, &["MOVE", "nokey", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["MOVE", "k", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n");
    t.cmd(c, &["SET", "k", "other"]);
    t.cmd(c, &["SELECT", "1"]);
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":100\r\n");
    assert_eq!(t.cmd(c, &["MOVE", "k", "0"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
}

// EXPIRE's option errors and overflow, checked before the key is looked up.
#[test]
fn expire_errors() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v"]);
    let nx_with_others = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "10", "NX", "XX"]), nx_with_others);
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "10", "nx", "gt"]), nx_with_others);
    assert_eq!(
        t.cmd(c, &["EXPIRE", "nokey", "10", "LT", "NX"]),
        nx_with_others
    );
    assert_eq!(
        t.cmd(c, &["PEXPIRE", "k", "10", "GT", "LT"]),
        "-ERR GT and LT options at the same time are not compatible\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EXPIRE", "k", "10", "foo"]),
        "-ERR Unsupported option foo\r\n"
    );
    assert_eq!(t.cmd(c, &["EXPIRE", "nokey", "abc"]), NOT_INTEGER);
    let cases = [
        ("EXPIRE", "9223372036854776"),
        ("EXPIRE", "-9223372036854776"),
        ("PEXPIRE", "9223372036854775807"),
        ("EXPIREAT", "9223372036854776"),
    ];
    for (command, amount) in cases {
        let expected = format!(
            "-ERR invalid expire time in '{}' command\r\n",
            command.to_lowercase()
        );
        assert_eq!(t.cmd(c, &[command, "k", amount]), expected);
    }
    assert_eq!(t.cmd(c, &["EXPIREAT", "k", "9223372036854775"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["PEXPIREAT", "k", "9223372036854775807"]),
        ":1\r\n"
    );
    assert_eq!(t.cmd(c, &["PEXPIRETIME", "k"]), ":9223372036854775807\r\n");
}

// NX, XX, GT and LT decide by the current expiry, no expiry being infinite.
#[test]
fn expire_conditions() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["EXPIRE", "nokey", "10"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "100", "XX"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "100", "GT"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "100", "LT"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "50", "NX"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "200", "GT"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "150", "GT"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "200", "LT"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "150", "XX", "LT"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":150\r\n");
    t.cmd(c, &["PERSIST", "k"]);
    assert_eq!(t.cmd(c, &["EXPIRE", "k", "50", "NX"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":50\r\n");
}

// An expire time not in the future deletes the key and counts a change.
#[test]
fn expire_in_the_past_deletes() {
    let (mut t, c) = node();
    let now = now_ms(&t);
    let cases = [
        ("EXPIRE", "-1".to_string()),
        ("PEXPIRE", "0".to_string()),
        ("EXPIREAT", "1".to_string()),
        ("PEXPIREAT", now.to_string()),
    ];
    for (command, amount) in cases {
        t.cmd(c, &["SET", "k", "v"]);
        let before = dirty(&t);
        assert_eq!(t.cmd(c, &[command, "k", &amount]), ":1\r\n", "{command}");
        assert_eq!(dirty(&t), before + 1, "{command}");
        assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n", "{command}");
    }
    assert_eq!(t.node.server().stats.expired_keys, 0);
}

// TTL and PTTL count down with the clock; EXPIRETIME is absolute.
#[test]
fn ttl_family() {
    let (mut t, c) = node();
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(t.cmd(c, &[command, "nokey"]), ":-2\r\n");
    }
    t.cmd(c, &["SET", "k", "v"]);
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(t.cmd(c, &[command, "k"]), ":-1\r\n");
    }
    let at_ms = now_ms(&t) + 10_000;
    t.cmd(c, &["PEXPIREAT", "k", &at_ms.to_string()]);
    t.node.env_mut().wall_ms += 8_501;
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":1499\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":1\r\n");
    t.node.env_mut().wall_ms -= 1;
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["PEXPIRETIME", "k"]), format!(":{at_ms}\r\n"));
    assert_eq!(
        t.cmd(c, &["EXPIRETIME", "k"]),
        format!(":{}\r\n", (at_ms + 500) / 1000)
    );
    t.node.env_mut().wall_ms += 1_500;
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-2\r\n");
}

// PERSIST removes a time to live and says whether there was one.
#[test]
fn persist() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["PERSIST", "nokey"]), ":0\r\n");
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["PERSIST", "k"]), ":0\r\n");
    t.cmd(c, &["EXPIRE", "k", "100"]);
    assert_eq!(t.cmd(c, &["PERSIST", "k"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-1\r\n");
}

// Active expiry from the cron removes keys nobody touches.
#[test]
fn active_expiry() {
    let (mut t, c) = node();
    for i in 0..30 {
        t.cmd(c, &["SET", &format!("k{i}"), "v", "PX", "100"]);
    }
    t.cmd(c, &["SET", "kept", "v"]);
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":31\r\n");
    for _ in 0..20 {
        t.advance(200);
    }
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":1\r\n");
    assert_eq!(t.node.server().stats.expired_keys, 30);
}

// DBSIZE, FLUSHDB, FLUSHALL and SWAPDB, with their options and errors.
#[test]
fn database_commands() {
    let (mut t, c) = node();
    t.cmd(c, &["MSET", "a", "1", "b", "2"]);
    t.cmd(c, &["SELECT", "1"]);
    t.cmd(c, &["SET", "c", "3"]);
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SWAPDB", "0", "1"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["SWAPDB", "1", "1"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SWAPDB", "a", "1"]),
        "-ERR invalid first DB index\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SWAPDB", "99", "b"]),
        "-ERR invalid second DB index\r\n"
    );
    assert_eq!(t.cmd(c, &["SWAPDB", "0", "99"]), DB_RANGE);
    assert_eq!(
        t.cmd(c, &["SWAPDB", "4294967296", "0"]),
        "-ERR invalid first DB index\r\n"
    );
    assert_eq!(t.cmd(c, &["SWAPDB", "-1", "0"]), DB_RANGE);
    assert_eq!(t.cmd(c, &["FLUSHDB", "foo"]), SYNTAX);
    assert_eq!(t.cmd(c, &["FLUSHDB", "ASYNC", "SYNC"]), SYNTAX);
    assert_eq!(t.cmd(c, &["FLUSHDB", "async"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":0\r\n");
    t.cmd(c, &["SELECT", "0"]);
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["FLUSHALL", "sync", "extra"]), SYNTAX);
    assert_eq!(t.cmd(c, &["FLUSHALL", "SYNC"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["DBSIZE"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["FLUSHALL"]), "+OK\r\n");
}

// Each write counts its changes as Redis's server.dirty does.
#[test]
fn changes_are_counted() {
    let (mut t, c) = node();
    t.cmd(c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    let steps: &[(&[&str], u64)] = &[
        (&["DEL", "a", "b", "nokey"], 2),
        (&["UNLINK", "nokey"], 0),
        (&["EXPIRE", "c", "100"], 1),
        (&["EXPIRE", "c", "100", "NX"], 0),
        (&["EXPIRE", "nokey", "100"], 0),
        (&["PERSIST", "c"], 1),
        (&["PERSIST", "c"], 0),
        (&["RENAME", "c", "d"], 1),
        (&["RENAME", "d", "d"], 0),
        (&["RENAMENX", "d", "d"], 0),
        (&["COPY", "d", "e"], 1),
        (&["COPY", "d", "e"], 0),
        (&["MOVE", "e", "1"], 1),
        (&["MOVE", "e", "1"], 0),
        (&["SWAPDB", "0", "1"], 1),
        (&["SWAPDB", "0", "0"], 1),
        (&["EXISTS", "d"], 0),
        (&["KEYS", "*"], 0),
        (&["SCAN", "0"], 0),
        (&["FLUSHDB"], 1),
        (&["FLUSHDB"], 0),
        (&["FLUSHALL"], 2),
        (&["FLUSHALL"], 1),
    ];
    for (args, changes) in steps {
        let before = dirty(&t);
        t.cmd(c, args);
        assert_eq!(dirty(&t) - before, *changes, "{args:?}");
    }
}

// Reads of keys count keyspace hits and misses; listing and writes do not.
#[test]
fn hits_and_misses_are_counted() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "a", "1"]);
    let steps: &[(&[&str], (u64, u64))] = &[
        (&["EXISTS", "a", "nokey", "a"], (2, 1)),
        (&["TYPE", "a"], (1, 0)),
        (&["TTL", "nokey"], (0, 1)),
        (&["PTTL", "a"], (1, 0)),
        (&["OBJECT", "ENCODING", "a"], (1, 0)),
        (&["COPY", "a", "b"], (1, 0)),
        (&["SCAN", "0", "TYPE", "string"], (2, 0)),
        (&["SCAN", "0"], (0, 0)),
        (&["KEYS", "*"], (0, 0)),
        (&["RANDOMKEY"], (0, 0)),
        (&["DEL", "b"], (0, 0)),
        (&["EXPIRE", "a", "100"], (0, 0)),
        (&["RENAME", "a", "c"], (0, 0)),
        (&["MOVE", "c", "1"], (0, 0)),
    ];
    for (args, (hits, misses)) in steps {
        let before = hits_and_misses(&t);
        t.cmd(c, args);
        let after = hits_and_misses(&t);
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (*hits, *misses),
            "{args:?}"
        );
    }
}

/// Runs `write` from another client between WATCH and EXEC on keys `w` and
/// `x`, and returns what EXEC answered.
fn exec_after(write: &[&str]) -> String {
    let (mut t, c) = node();
    let other = t.connect();
    t.cmd(c, &["SET", "w", "1"]);
    t.cmd(c, &["SET", "x", "1", "EX", "100"]);
    t.cmd(c, &["WATCH", "w", "x"]);
    t.cmd(other, write);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["PING"]);
    t.cmd(c, &["EXEC"])
}

// Key and database commands that change a watched key make EXEC fail.
#[test]
fn writes_invalidate_watch() {
    let writes: &[&[&str]] = &[
        &["DEL", "w"],
        &["UNLINK", "x"],
        &["EXPIRE", "w", "100"],
        &["PEXPIRE", "w", "-1"],
        &["PERSIST", "x"],
        &["RENAME", "w", "other"],
        &["RENAME", "x", "w"],
        &["RENAMENX", "w", "new"],
        &["COPY", "w", "x", "REPLACE"],
        &["MOVE", "w", "1"],
        &["FLUSHDB"],
        &["FLUSHALL"],
        &["SWAPDB", "0", "1"],
    ];
    for write in writes {
        assert_eq!(exec_after(write), "*-1\r\n", "{write:?}");
    }
}

// Commands that change nothing watched leave the transaction to run.
#[test]
fn reads_and_noops_keep_watch() {
    let unchanged: &[&[&str]] = &[
        &["DEL", "nokey"],
        &["EXISTS", "w"],
        &["TTL", "x"],
        &["EXPIRE", "w", "100", "XX"],
        &["PERSIST", "w"],
        &["RENAMENX", "w", "x"],
        &["COPY", "w", "x"],
        &["COPY", "w", "other"],
        &["KEYS", "*"],
        &["SCAN", "0"],
        &["SWAPDB", "1", "2"],
    ];
    for command in unchanged {
        assert_eq!(exec_after(command), "*1\r\n+PONG\r\n", "{command:?}");
    }
}

// A watched key that expires before EXEC makes EXEC fail.
#[test]
fn expiry_invalidates_watch() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "w", "1", "PX", "100"]);
    t.cmd(c, &["WATCH", "w"]);
    t.advance(1_000);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["PING"]);
    assert_eq!(t.cmd(c, &["EXEC"]), "*-1\r\n");
}

// SCAN, KEYS and RANDOMKEY may touch any key: the DELs of the keys they
// find past their time go down the replication stream on their own, not
// wrapped in MULTI/EXEC as a unit of one command's writes is (Redis's
// "touches arbitrary keys" rule).
#[test]
fn lazy_expiries_of_a_scan_are_not_wrapped() {
    let mut config = redoubt_core::config::Config::default();
    config.apply_startup("enable-debug-command", "yes").unwrap();
    config.repl.diskless_sync_delay_s = 0;
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    let replica = t.attach_replica();
    t.cmd(c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    t.cmd(c, &["SET", "a", "1", "PX", "10"]);
    t.cmd(c, &["SET", "b", "1", "PX", "10"]);
    t.advance(100);
    let before = t.take_sent(replica);
    assert!(before.contains("PXAT"), "the stream flows: {before}");
    assert_eq!(t.cmd(c, &["SCAN", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    let stream = t.take_sent(replica);
    assert!(!stream.contains("MULTI"), "{stream}");
    assert_eq!(stream.matches("DEL").count(), 2, "{stream}");
}
