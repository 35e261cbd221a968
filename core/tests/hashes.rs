//! Hash commands: exact replies and errors as Redis 7.0 gives them (checked
//! against redis-server 7.0.15), the listpack/hashtable encodings and their
//! thresholds, RESP3 maps and HRANDFIELD's pairs, HINCRBYFLOAT's
//! formatting, HSCAN's cursor promise, change counting and WATCH.

use std::collections::BTreeSet;

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

/// The bulk strings of a flat reply, in reply order.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('$') && line != "$-1" {
            items.push(lines.next().unwrap_or_default().to_string());
        }
    }
    items
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// HSET counts new fields, HMSET answers OK; a listpack hash keeps
// insertion order and replaces values in place.
#[test]
fn set_get_and_order() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["HSET", "h", "b", "1", "a", "2"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["HSET", "h", "b", "3", "c", "4"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HMSET", "h", "d", "5"]), "+OK\r\n");
    assert_eq!(
        bulks(&t.cmd(c, &["HGETALL", "h"])),
        strings(&["b", "3", "a", "2", "c", "4", "d", "5"])
    );
    assert_eq!(
        bulks(&t.cmd(c, &["HKEYS", "h"])),
        strings(&["b", "a", "c", "d"])
    );
    assert_eq!(
        bulks(&t.cmd(c, &["HVALS", "h"])),
        strings(&["3", "2", "4", "5"])
    );
    assert_eq!(t.cmd(c, &["HLEN", "h"]), ":4\r\n");
    assert_eq!(t.cmd(c, &["HGET", "h", "a"]), "$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["HGET", "h", "zz"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["HGET", "none", "a"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["HMGET", "h", "a", "zz", "b"]),
        "*3\r\n$1\r\n2\r\n$-1\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.cmd(c, &["HMGET", "none", "a"]), "*1\r\n$-1\r\n");
    assert_eq!(t.cmd(c, &["HEXISTS", "h", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HEXISTS", "h", "zz"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HSTRLEN", "h", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HSTRLEN", "h", "zz"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HSTRLEN", "none", "zz"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HLEN", "none"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HKEYS", "none"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["HGETALL", "none"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "h"]), "$8\r\nlistpack\r\n");
}

// A field without its value is the arity error, named after the command.
#[test]
fn odd_arguments() {
    let (mut t, c) = node();
    for name in ["hset", "hmset"] {
        let expected = format!("-ERR wrong number of arguments for '{name}' command\r\n");
        assert_eq!(t.cmd(c, &[name, "h", "f"]), expected);
        assert_eq!(t.cmd(c, &[name, "h", "f", "v", "g"]), expected);
    }
    assert_eq!(t.cmd(c, &["EXISTS", "h"]), ":0\r\n");
}

// HSETNX sets only a missing field; HDEL removes fields and the key with
// the last one.
#[test]
fn setnx_and_delete() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["HSETNX", "h", "a", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HSETNX", "h", "a", "2"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HGET", "h", "a"]), "$1\r\n1\r\n");
    t.cmd(c, &["HSET", "h", "b", "2", "c", "3"]);
    assert_eq!(t.cmd(c, &["HDEL", "h", "a", "zz", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HDEL", "h", "zz"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HDEL", "none", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["HDEL", "h", "b", "c", "d"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "h"]), ":0\r\n");
}

// Every hash command answers WRONGTYPE on a key of another type.
#[test]
fn wrong_type_everywhere() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "str", "x"]);
    let commands: &[&[&str]] = &[
        &["HSET", "str", "a", "b"],
        &["HMSET", "str", "a", "b"],
        &["HSETNX", "str", "a", "b"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HDEL", "str", "a"],
        &["HLEN", "str"],
        &["HEXISTS", "str", "a"],
        &["HSTRLEN", "str", "a"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HSCAN", "str", "0"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
    ];
    for argv in commands {
        assert_eq!(t.cmd(c, argv), WRONGTYPE, "{argv:?}");
    }
    assert_eq!(t.cmd(c, &["GET", "str"]), "$1\r\nx\r\n");
}

// The listpack limits: a long field or value converts before anything is
// set (HSETNX and HINCRBY too), too many fields after; never back.
#[test]
fn encodings_and_thresholds() {
    let (mut t, c) = node();
    let long = "v".repeat(65);
    t.cmd(c, &["HSET", "big", "f", &long]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "big"]),
        "$9\r\nhashtable\r\n"
    );
    t.cmd(c, &["HSETNX", "nx", &long, "1"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "nx"]),
        "$9\r\nhashtable\r\n"
    );
    t.cmd(c, &["HINCRBY", "incr", &long, "1"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "incr"]),
        "$9\r\nhashtable\r\n"
    );
    let exact = "v".repeat(64);
    t.cmd(c, &["HSET", "edge", "f", &exact]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "edge"]),
        "$8\r\nlistpack\r\n"
    );
    t.cmd(c, &["CONFIG", "SET", "hash-max-listpack-entries", "2"]);
    t.cmd(c, &["HSET", "small", "a", "1", "b", "2"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "small"]),
        "$8\r\nlistpack\r\n"
    );
    t.cmd(c, &["HSET", "small", "c", "3"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "small"]),
        "$9\r\nhashtable\r\n"
    );
    t.cmd(c, &["HDEL", "small", "a", "b"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "small"]),
        "$9\r\nhashtable\r\n"
    );
}

// HINCRBY: integers only, overflow refused, a new field starts at 0.
#[test]
fn hincrby() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["HINCRBY", "h", "n", "5"]), ":5\r\n");
    assert_eq!(t.cmd(c, &["HINCRBY", "h", "n", "-7"]), ":-2\r\n");
    assert_eq!(t.cmd(c, &["HINCRBY", "h", "n", "x"]), NOT_INTEGER);
    t.cmd(
        c,
        &[
            "HSET",
            "h",
            "s",
            "hello",
            "lead",
            "010",
            "max",
            "9223372036854775807",
        ],
    );
    let not_integer = "-ERR hash value is not an integer\r\n";
    assert_eq!(t.cmd(c, &["HINCRBY", "h", "s", "1"]), not_integer);
    assert_eq!(t.cmd(c, &["HINCRBY", "h", "lead", "1"]), not_integer);
    assert_eq!(
        t.cmd(c, &["HINCRBY", "h", "max", "1"]),
        "-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(t.cmd(c, &["HGET", "h", "n"]), "$2\r\n-2\r\n");
}

// HINCRBYFLOAT prints as INCRBYFLOAT does and checks its input as Redis.
#[test]
fn hincrbyfloat() {
    let (mut t, c) = node();
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "f", "1.5"]),
        "$3\r\n1.5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "f", "0.1"]),
        "$3\r\n1.6\r\n"
    );
    assert_eq!(t.cmd(c, &["HINCRBYFLOAT", "h", "f", "-1.6"]), "$1\r\n0\r\n");
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "e", "5.0e3"]),
        "$4\r\n5000\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "f", "abc"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "f", "inf"]),
        "-ERR value is NaN or Infinity\r\n"
    );
    t.cmd(c, &["HSET", "h", "s", "hello", "i", "inf"]);
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "s", "1"]),
        "-ERR hash value is not a float\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "i", "1"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "none", "f", "nan"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "none"]), ":0\r\n");
}

// HGETALL is a map in RESP3; HRANDFIELD with values nests its pairs in
// RESP3 and flattens them in RESP2.
#[test]
fn resp3_shapes() {
    let (mut t, c) = node();
    t.cmd(c, &["HSET", "h", "a", "1"]);
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "h", "1", "WITHVALUES"]),
        "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "h", "-2", "WITHVALUES"]),
        "*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["HGETALL", "h"]), "%1\r\n$1\r\na\r\n$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["HGETALL", "none"]), "%0\r\n");
    assert_eq!(t.cmd(c, &["HKEYS", "none"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["HGET", "h", "zz"]), "_\r\n");
    assert_eq!(t.cmd(c, &["HMGET", "h", "zz"]), "*1\r\n_\r\n");
    assert_eq!(t.cmd(c, &["HRANDFIELD", "none"]), "_\r\n");
    assert_eq!(t.cmd(c, &["HRANDFIELD", "none", "3"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "h", "5", "WITHVALUES"]),
        "*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "h", "-2", "WITHVALUES"]),
        "*2\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
}

// HRANDFIELD: argument errors in Redis's order, distinct fields for a
// positive count in every strategy, exactly |count| for a negative one.
#[test]
fn hrandfield() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["HRANDFIELD", "none", "x"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["HRANDFIELD", "none", "1", "WITHVALUE"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "none", "1", "WITHVALUES", "x"]),
        SYNTAX
    );
    assert_eq!(
        t.cmd(c, &["HRANDFIELD", "none", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["HRANDFIELD", "none", "4611686018427387904", "WITHVALUES"]
        ),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(t.cmd(c, &["HRANDFIELD", "none", "0"]), "*0\r\n");
    for (key, size) in [("small", 20), ("large", 300)] {
        for n in 0..size {
            t.cmd(c, &["HSET", key, &format!("f{n}"), &format!("v{n}")]);
        }
        assert_eq!(t.cmd(c, &["HRANDFIELD", key, "0"]), "*0\r\n");
        for count in [1, 2, 5, 10, 19, 20, 50, 299, 300, 1000] {
            let reply = t.cmd(c, &["HRANDFIELD", key, &count.to_string(), "WITHVALUES"]);
            let items = bulks(&reply);
            assert_eq!(items.len(), 2 * count.min(size), "{key} {count}");
            let fields: BTreeSet<&String> = items.iter().step_by(2).collect();
            assert_eq!(fields.len(), count.min(size), "{key} {count}: distinct");
            for pair in items.chunks(2) {
                assert_eq!(pair[0][1..], pair[1][1..], "{key}: value of {}", pair[0]);
            }
        }
        let repeats = bulks(&t.cmd(c, &["HRANDFIELD", key, "-40"]));
        assert_eq!(repeats.len(), 40);
        assert!(repeats.iter().all(|f| f.starts_with('f')));
        let one = t.cmd(c, &["HRANDFIELD", key]);
        assert!(one.starts_with('$'), "{one}");
    }
}

// HSCAN: a listpack in one call with cursor 0 (fields and values); a
// table in steps, every field present throughout returned at least once
// while the hash grows and shrinks; MATCH applies to fields.
#[test]
fn hscan() {
    let (mut t, c) = node();
    t.cmd(c, &["HSET", "h", "a1", "x", "b1", "y", "a2", "z"]);
    assert_eq!(
        bulks(&t.cmd(c, &["HSCAN", "h", "55", "COUNT", "1"])),
        strings(&["0", "a1", "x", "b1", "y", "a2", "z"])
    );
    assert_eq!(
        bulks(&t.cmd(c, &["HSCAN", "h", "0", "MATCH", "a*"])),
        strings(&["0", "a1", "x", "a2", "z"])
    );
    assert_eq!(t.cmd(c, &["HSCAN", "none", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(t.cmd(c, &["HSCAN", "h", "-x"]), "-ERR invalid cursor\r\n");
    assert_eq!(t.cmd(c, &["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(t.cmd(c, &["HSCAN", "h", "0", "TYPE", "hash"]), SYNTAX);
    assert_eq!(t.cmd(c, &["HSCAN", "h", "0", "COUNT", "1.5"]), NOT_INTEGER);

    for n in 0..300 {
        t.cmd(c, &["HSET", "t", &format!("stable{n}"), &n.to_string()]);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let items = bulks(&t.cmd(c, &["HSCAN", "t", &cursor, "COUNT", "5"]));
        cursor = items[0].clone();
        for pair in items[1..].chunks(2) {
            if let Some(n) = pair[0].strip_prefix("stable") {
                assert_eq!(n, pair[1], "a field comes with its value");
            }
            seen.insert(pair[0].clone());
        }
        for n in 0..50 {
            t.cmd(c, &["HSET", "t", &format!("churn{round}-{n}"), "v"]);
        }
        if round > 0 {
            for n in 0..50 {
                t.cmd(c, &["HDEL", "t", &format!("churn{}-{n}", round - 1)]);
            }
        }
        round += 1;
        if cursor == "0" {
            break;
        }
        assert!(round < 10_000, "the scan must end");
    }
    for n in 0..300 {
        assert!(
            seen.contains(&format!("stable{n}")),
            "stable{n} missed by HSCAN"
        );
    }
}

// WATCH sees a hash change only when there is one; HSET always changes.
#[test]
fn watch_sees_only_real_changes() {
    let (mut t, c) = node();
    let other = t.connect();
    t.cmd(c, &["HSET", "h", "a", "1"]);
    let cases: &[(&[&str], bool)] = &[
        (&["HSETNX", "h", "a", "2"], false),
        (&["HDEL", "h", "zz"], false),
        (&["HINCRBY", "h", "a", "x"], false),
        (&["HSET", "h", "a", "1"], true),
        (&["HSETNX", "h", "b", "2"], true),
        (&["HINCRBYFLOAT", "h", "a", "0.5"], true),
        (&["HDEL", "h", "b"], true),
    ];
    for (argv, changes) in cases {
        t.cmd(c, &["WATCH", "h"]);
        t.cmd(c, &["MULTI"]);
        t.cmd(c, &["PING"]);
        t.cmd(other, argv);
        let expected = if *changes {
            "*-1\r\n"
        } else {
            "*1\r\n+PONG\r\n"
        };
        assert_eq!(t.cmd(c, &["EXEC"]), expected, "{argv:?}");
    }
}

// Changes are counted as Redis counts them: HSET counts every pair.
#[test]
fn dirty_counts() {
    let (mut t, c) = node();
    let expect = |t: &mut TestNode, argv: &[&str], changes: u64| {
        let before = t.dirty();
        t.cmd(c, argv);
        assert_eq!(t.dirty() - before, changes, "{argv:?}");
    };
    expect(&mut t, &["HSET", "h", "a", "1", "b", "2"], 2);
    expect(&mut t, &["HSET", "h", "a", "1"], 1);
    expect(&mut t, &["HMSET", "h", "a", "1", "c", "3"], 2);
    expect(&mut t, &["HSETNX", "h", "a", "1"], 0);
    expect(&mut t, &["HSETNX", "h", "d", "1"], 1);
    expect(&mut t, &["HDEL", "h", "a", "b", "zz"], 2);
    expect(&mut t, &["HINCRBY", "h", "n", "1"], 1);
    expect(&mut t, &["HINCRBYFLOAT", "h", "n", "1"], 1);
    expect(&mut t, &["HINCRBY", "h", "n", "x"], 0);
}

// Hits and misses are counted by the reads, not by the writes.
#[test]
fn keyspace_hits_and_misses() {
    let (mut t, c) = node();
    t.cmd(c, &["HSET", "h", "a", "1"]);
    t.cmd(c, &["HDEL", "none", "a"]);
    assert_eq!(t.hits_and_misses(), (0, 0));
    t.cmd(c, &["HGET", "h", "a"]);
    t.cmd(c, &["HGET", "none", "a"]);
    t.cmd(c, &["HSCAN", "h", "0"]);
    assert_eq!(t.hits_and_misses(), (2, 1));
}
