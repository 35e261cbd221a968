//! Set commands: exact replies and errors as Redis 7.0 gives them (checked
//! against redis-server 7.0.15), the intset/hashtable encodings and their
//! thresholds, RESP3 set replies, the STORE forms, random picks from the
//! seeded source, SSCAN's cursor promise, change counting and WATCH.

use std::collections::BTreeSet;

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

/// The bulk strings of a flat reply (array or set), in reply order.
fn bulks(reply: &str) -> Vec<String> {
    let mut lines = reply.split("\r\n");
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with('*') || header.starts_with('~'),
        "not an array: {reply:?}"
    );
    let mut items = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('$') {
            items.push(lines.next().unwrap_or_default().to_string());
        }
    }
    items
}

fn sorted(reply: &str) -> Vec<String> {
    let mut items = bulks(reply);
    items.sort();
    items
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// SADD counts new members, SREM removed ones; the key goes with the last
// member; SCARD, SISMEMBER and SMISMEMBER answer for missing keys too.
#[test]
fn add_remove_and_membership() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["SADD", "s", "3", "1", "2", "2"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["SADD", "s", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SCARD", "s"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["SISMEMBER", "s", "2"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SISMEMBER", "s", "02"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SISMEMBER", "none", "2"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["SMISMEMBER", "s", "a", "1", "3"]),
        "*3\r\n:0\r\n:1\r\n:1\r\n"
    );
    assert_eq!(t.cmd(c, &["SMISMEMBER", "none", "a"]), "*1\r\n:0\r\n");
    assert_eq!(t.cmd(c, &["SREM", "s", "1", "x", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SREM", "none", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SREM", "s", "2", "3", "4"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "s"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SCARD", "s"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["SADD", "s"]),
        "-ERR wrong number of arguments for 'sadd' command\r\n"
    );
}

// Every set command answers WRONGTYPE on a key of another type, and the
// key is left alone.
#[test]
fn wrong_type_everywhere() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "str", "x"]);
    t.cmd(c, &["SADD", "s", "a"]);
    let commands: &[&[&str]] = &[
        &["SADD", "str", "a"],
        &["SREM", "str", "a"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTER", "none", "str"],
        &["SUNION", "s", "str"],
        &["SDIFF", "s", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "str", "s"],
        &["SINTERCARD", "2", "s", "str"],
        &["SSCAN", "str", "0"],
    ];
    for argv in commands {
        assert_eq!(t.cmd(c, argv), WRONGTYPE, "{argv:?}");
    }
    assert_eq!(t.cmd(c, &["GET", "str"]), "$1\r\nx\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "d"]), ":0\r\n");
    // A missing source: SMOVE answers 0 before looking at the destination.
    assert_eq!(t.cmd(c, &["SMOVE", "none", "str", "a"]), ":0\r\n");
}

// Canonical integers stay an intset, sorted, up to set-max-intset-entries;
// anything else makes a hashtable, for good.
#[test]
fn encodings_and_thresholds() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "i", "10", "-5", "3"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "i"]), "$6\r\nintset\r\n");
    assert_eq!(
        bulks(&t.cmd(c, &["SMEMBERS", "i"])),
        strings(&["-5", "3", "10"])
    );
    t.cmd(c, &["SADD", "n", "01", "1", "-0", "+1", " 1"]);
    assert_eq!(t.cmd(c, &["SCARD", "n"]), ":5\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "n"]),
        "$9\r\nhashtable\r\n"
    );
    t.cmd(
        c,
        &["SADD", "big", "9223372036854775807", "-9223372036854775808"],
    );
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "big"]), "$6\r\nintset\r\n");
    t.cmd(c, &["SADD", "big", "9223372036854775808"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "big"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "set-max-intset-entries", "3"]),
        "+OK\r\n"
    );
    t.cmd(c, &["SADD", "m", "1", "2", "3"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "m"]), "$6\r\nintset\r\n");
    t.cmd(c, &["SADD", "m", "4"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "m"]),
        "$9\r\nhashtable\r\n"
    );
    t.cmd(c, &["SREM", "m", "4", "3"]);
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "m"]),
        "$9\r\nhashtable\r\n"
    );
}

// SMEMBERS, SINTER, SUNION and SDIFF reply with sets (`~` in RESP3); a
// missing key is an empty set.
#[test]
fn set_replies_in_both_protocols() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "s", "1", "2"]);
    assert_eq!(t.cmd(c, &["SMEMBERS", "s"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["SMEMBERS", "none"]), "*0\r\n");
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["SMEMBERS", "s"]), "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["SMEMBERS", "none"]), "~0\r\n");
    assert_eq!(t.cmd(c, &["SINTER", "s", "none"]), "~0\r\n");
    assert_eq!(t.cmd(c, &["SUNION", "none"]), "~0\r\n");
    assert_eq!(t.cmd(c, &["SDIFF", "s", "s"]), "~0\r\n");
    assert_eq!(t.cmd(c, &["SPOP", "none", "2"]), "~0\r\n");
    assert_eq!(t.cmd(c, &["SPOP", "none"]), "_\r\n");
    assert_eq!(t.cmd(c, &["SRANDMEMBER", "none"]), "_\r\n");
    assert_eq!(t.cmd(c, &["SRANDMEMBER", "none", "2"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["SSCAN", "none", "0"]), "*2\r\n$1\r\n0\r\n*0\r\n");
}

// Intersection, union and difference, with missing keys as empty sets and
// a key named twice.
#[test]
fn algebra() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "i", "1", "2", "3", "4", "5"]);
    t.cmd(c, &["SADD", "j", "4", "5", "6"]);
    t.cmd(c, &["SADD", "k", "5", "x"]);
    assert_eq!(
        sorted(&t.cmd(c, &["SINTER", "i", "j"])),
        strings(&["4", "5"])
    );
    assert_eq!(
        sorted(&t.cmd(c, &["SINTER", "i", "j", "k"])),
        strings(&["5"])
    );
    assert_eq!(t.cmd(c, &["SINTER", "i", "none"]), "*0\r\n");
    assert_eq!(
        sorted(&t.cmd(c, &["SUNION", "j", "none", "k"])),
        strings(&["4", "5", "6", "x"])
    );
    assert_eq!(
        bulks(&t.cmd(c, &["SDIFF", "i", "j", "k"])),
        strings(&["1", "2", "3"])
    );
    assert_eq!(t.cmd(c, &["SDIFF", "none", "i"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["SDIFF", "i", "none", "i"]), "*0\r\n");
    assert_eq!(
        sorted(&t.cmd(c, &["SDIFF", "k", "none"])),
        strings(&["5", "x"])
    );
    assert_eq!(t.cmd(c, &["SINTERCARD", "2", "i", "j"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "i", "LIMIT", "3"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "i", "LIMIT", "0"]), ":5\r\n");
    assert_eq!(t.cmd(c, &["SINTERCARD", "2", "i", "none"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "i", "limit", "2"]), ":2\r\n");
}

// SINTERCARD's argument errors, in Redis's words.
#[test]
fn sintercard_errors() {
    let (mut t, c) = node();
    let numkeys = "-ERR numkeys should be greater than 0\r\n";
    assert_eq!(t.cmd(c, &["SINTERCARD", "0", "a"]), numkeys);
    assert_eq!(t.cmd(c, &["SINTERCARD", "x", "a"]), numkeys);
    assert_eq!(
        t.cmd(c, &["SINTERCARD", "3", "a", "b"]),
        "-ERR Number of keys can't be greater than number of args\r\n"
    );
    let limit = "-ERR LIMIT can't be negative\r\n";
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "a", "LIMIT", "-1"]), limit);
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "a", "LIMIT", "x"]), limit);
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "a", "LIMIT"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SINTERCARD", "1", "a", "b"]), SYNTAX);
}

// The STORE forms replace any value (and its time to live) and delete the
// destination when the result is empty; they count one change.
#[test]
fn store_forms() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "i", "1", "2", "3"]);
    t.cmd(c, &["SADD", "j", "2", "3", "a"]);
    t.cmd(c, &["SET", "d", "string", "EX", "100"]);
    let before = t.dirty();
    assert_eq!(t.cmd(c, &["SINTERSTORE", "d", "i", "j"]), ":2\r\n");
    assert_eq!(t.dirty() - before, 1);
    assert_eq!(t.cmd(c, &["TYPE", "d"]), "+set\r\n");
    assert_eq!(t.cmd(c, &["TTL", "d"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "d"]), "$6\r\nintset\r\n");
    assert_eq!(t.cmd(c, &["SUNIONSTORE", "u", "i", "j"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "u"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(t.cmd(c, &["SDIFFSTORE", "i", "i", "j"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SMEMBERS", "i"]), "*1\r\n$1\r\n1\r\n");
    let before = t.dirty();
    assert_eq!(t.cmd(c, &["SINTERSTORE", "d", "i", "none"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "d"]), ":0\r\n");
    assert_eq!(t.dirty() - before, 1);
    assert_eq!(t.cmd(c, &["SDIFFSTORE", "d", "j", "j"]), ":0\r\n");
    assert_eq!(t.dirty() - before, 1, "nothing to delete, nothing changed");
}

// SDIFF by removal can pass set-max-intset-entries on the way: the result
// stays a table, as in Redis; checking each member keeps it an intset.
#[test]
fn difference_algorithm_decides_the_encoding() {
    let (mut t, c) = node();
    t.cmd(c, &["CONFIG", "SET", "set-max-intset-entries", "4"]);
    t.cmd(c, &["SADD", "a", "1", "2", "3", "4", "5", "6"]);
    t.cmd(c, &["SADD", "b", "1", "2"]);
    t.cmd(c, &["SADD", "c", "3"]);
    assert_eq!(t.cmd(c, &["SDIFFSTORE", "d1", "a", "b", "c"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "d1"]), "$6\r\nintset\r\n");
    // Small sets to subtract: Redis copies the first and removes, passing
    // 4 members on the way.
    t.cmd(
        c,
        &["SADD", "wide", "100", "101", "102", "103", "104", "105"],
    );
    t.cmd(c, &["SADD", "x1", "100"]);
    t.cmd(c, &["SADD", "x2", "101"]);
    t.cmd(c, &["SADD", "x3", "102"]);
    assert_eq!(
        t.cmd(c, &["SDIFFSTORE", "d3", "wide", "x1", "x2", "x3"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "d3"]),
        "$9\r\nhashtable\r\n"
    );
}

// SMOVE moves a member, creating the destination and deleting an emptied
// source; moving within one key answers whether the member is there.
#[test]
fn smove() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "a", "1", "x"]);
    assert_eq!(t.cmd(c, &["SMOVE", "a", "b", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "b"]), "$6\r\nintset\r\n");
    assert_eq!(t.cmd(c, &["SMOVE", "a", "b", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SMOVE", "a", "a", "x"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SMOVE", "a", "a", "y"]), ":0\r\n");
    t.cmd(c, &["SADD", "b", "x"]);
    let before = t.dirty();
    assert_eq!(t.cmd(c, &["SMOVE", "a", "b", "x"]), ":1\r\n");
    assert_eq!(t.dirty() - before, 1, "already in the destination");
    assert_eq!(t.cmd(c, &["EXISTS", "a"]), ":0\r\n");
    assert_eq!(sorted(&t.cmd(c, &["SMEMBERS", "b"])), strings(&["1", "x"]));
}

// SPOP and SRANDMEMBER: argument errors, counts past the size, distinct
// members for positive counts, exactly |count| for negative ones.
#[test]
fn random_members() {
    let (mut t, c) = node();
    let members: Vec<String> = (0..20).map(|n| format!("m{n}")).collect();
    let mut argv = vec!["SADD", "s"];
    argv.extend(members.iter().map(String::as_str));
    t.cmd(c, &argv);
    let all: BTreeSet<String> = members.iter().cloned().collect();
    assert_eq!(
        t.cmd(c, &["SPOP", "s", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SPOP", "s", "x"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(t.cmd(c, &["SPOP", "s", "1", "2"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SPOP", "s", "0"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["SRANDMEMBER", "s", "x"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["SRANDMEMBER", "s", "1", "2"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(t.cmd(c, &["SRANDMEMBER", "s", "0"]), "*0\r\n");
    for count in [1usize, 3, 7, 15, 19, 20, 100] {
        let picked = bulks(&t.cmd(c, &["SRANDMEMBER", "s", &count.to_string()]));
        let distinct: BTreeSet<String> = picked.iter().cloned().collect();
        assert_eq!(picked.len(), count.min(20), "count {count}");
        assert_eq!(distinct.len(), picked.len(), "count {count}: {picked:?}");
        assert!(distinct.is_subset(&all));
    }
    let repeats = bulks(&t.cmd(c, &["SRANDMEMBER", "s", "-50"]));
    assert_eq!(repeats.len(), 50);
    assert!(repeats.iter().all(|m| all.contains(m)));
    let one = bulks(&format!("*1\r\n{}", t.cmd(c, &["SRANDMEMBER", "s"])));
    assert!(all.contains(&one[0]));

    let popped = bulks(&t.cmd(c, &["SPOP", "s", "3"]));
    assert_eq!(popped.len(), 3);
    let popped_more = bulks(&t.cmd(c, &["SPOP", "s", "15"]));
    assert_eq!(popped_more.len(), 15);
    assert_eq!(t.cmd(c, &["SCARD", "s"]), ":2\r\n");
    let rest = bulks(&t.cmd(c, &["SPOP", "s", "10"]));
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for member in popped.iter().chain(&popped_more).chain(&rest) {
        assert!(seen.insert(member.clone()), "{member} popped twice");
    }
    assert_eq!(seen, all);
    assert_eq!(t.cmd(c, &["EXISTS", "s"]), ":0\r\n");
}

// When SPOP leaves few members it rebuilds the set from them, so a table
// of integers can become an intset again, as in Redis.
#[test]
fn spop_rebuild_can_return_to_intset() {
    let (mut t, c) = node();
    t.cmd(c, &["CONFIG", "SET", "set-max-intset-entries", "5"]);
    for number in 0..10 {
        t.cmd(c, &["SADD", "s", &number.to_string()]);
    }
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "s"]),
        "$9\r\nhashtable\r\n"
    );
    assert_eq!(bulks(&t.cmd(c, &["SPOP", "s", "9"])).len(), 9);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "s"]), "$6\r\nintset\r\n");
    assert_eq!(t.cmd(c, &["SCARD", "s"]), ":1\r\n");
}

// SSCAN: an intset in one call with cursor 0; a table in steps, every
// member present throughout returned at least once while the set grows
// and shrinks; MATCH filters; option errors.
#[test]
fn sscan() {
    let (mut t, c) = node();
    t.cmd(c, &["SADD", "i", "3", "1", "2"]);
    assert_eq!(
        t.cmd(c, &["SSCAN", "i", "77", "COUNT", "1"]),
        "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SSCAN", "i", "0", "MATCH", "[23]"]),
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.cmd(c, &["SSCAN", "i", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(t.cmd(c, &["SSCAN", "i", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SSCAN", "i", "0", "COUNT", "x"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["SSCAN", "i", "0", "TYPE", "set"]), SYNTAX);
    assert_eq!(t.cmd(c, &["SSCAN", "i", "0", "MATCH"]), SYNTAX);

    let stable: Vec<String> = (0..300).map(|n| format!("stable{n}")).collect();
    for member in &stable {
        t.cmd(c, &["SADD", "t", member]);
    }
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let reply = t.cmd(c, &["SSCAN", "t", &cursor, "COUNT", "7"]);
        let mut items = bulks(&reply).into_iter();
        cursor = items.next().expect("cursor");
        seen.extend(items);
        // Churn between calls: the table grows past a resize, then shrinks.
        for n in 0..40 {
            t.cmd(c, &["SADD", "t", &format!("churn{round}-{n}")]);
        }
        if round % 2 == 1 {
            for n in 0..60 {
                t.cmd(c, &["SREM", "t", &format!("churn{}-{n}", round - 1)]);
            }
        }
        round += 1;
        if cursor == "0" {
            break;
        }
        assert!(round < 10_000, "the scan must end");
    }
    for member in &stable {
        assert!(seen.contains(member), "{member} missed by SSCAN");
    }
}

// WATCH sees a set change only when there is one; a STORE that deletes
// nothing changes nothing.
#[test]
fn watch_sees_only_real_changes() {
    let (mut t, c) = node();
    let other = t.connect();
    t.cmd(c, &["SADD", "s", "a"]);
    let no_ops: &[&[&str]] = &[
        &["SADD", "s", "a"],
        &["SREM", "s", "b"],
        &["SMOVE", "s", "d", "zz"],
        &["SINTERSTORE", "none", "none"],
        &["SPOP", "s", "0"],
    ];
    for argv in no_ops {
        t.cmd(c, &["WATCH", "s", "none", "d"]);
        t.cmd(other, argv);
        t.cmd(c, &["MULTI"]);
        t.cmd(c, &["PING"]);
        assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n+PONG\r\n", "{argv:?}");
    }
    let changes: &[&[&str]] = &[
        &["SADD", "s", "b"],
        &["SREM", "s", "b"],
        &["SPOP", "s", "0"],
        &["SMOVE", "s", "d", "a"],
    ];
    for argv in changes {
        t.cmd(other, &["SADD", "s", "a"]);
        t.cmd(c, &["WATCH", "s", "d"]);
        t.cmd(c, &["MULTI"]);
        t.cmd(c, &["PING"]);
        t.cmd(other, argv);
        let expected = if argv[1] == "s" && argv[0] == "SPOP" {
            "*1\r\n+PONG\r\n"
        } else {
            "*-1\r\n"
        };
        assert_eq!(t.cmd(c, &["EXEC"]), expected, "{argv:?}");
    }
}

// Changes are counted as Redis counts them.
#[test]
fn dirty_counts() {
    let (mut t, c) = node();
    let expect = |t: &mut TestNode, argv: &[&str], changes: u64| {
        let before = t.dirty();
        t.cmd(c, argv);
        assert_eq!(t.dirty() - before, changes, "{argv:?}");
    };
    expect(&mut t, &["SADD", "s", "a", "b", "a"], 2);
    expect(&mut t, &["SADD", "s", "a"], 0);
    expect(&mut t, &["SREM", "s", "a", "x"], 1);
    expect(&mut t, &["SADD", "s", "1", "2", "3"], 3);
    expect(&mut t, &["SPOP", "s"], 1);
    expect(&mut t, &["SPOP", "s", "2"], 2);
    expect(&mut t, &["SPOP", "s", "10"], 1);
    expect(&mut t, &["SADD", "a", "1"], 1);
    expect(&mut t, &["SMOVE", "a", "b", "1"], 2);
    expect(&mut t, &["SUNIONSTORE", "c", "b"], 1);
}

// SRANDMEMBER picks every member of a hashtable set about equally often
// (Redis's own test checks it with chi-square): 10 members, 20000 picks.
#[test]
fn srandmember_is_close_to_uniform() {
    let (mut t, c) = redoubt_core::testing::TestNode::with_client();
    for member in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"] {
        t.cmd(c, &["SADD", "s", member]);
    }
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "s"]),
        "$9\r\nhashtable\r\n"
    );
    let reply = t.cmd(c, &["SRANDMEMBER", "s", "-20000"]);
    let mut counts = std::collections::BTreeMap::new();
    for line in reply.split("\r\n").filter(|l| l.len() == 1) {
        *counts.entry(line.to_string()).or_insert(0u32) += 1;
    }
    assert_eq!(counts.len(), 10, "{counts:?}");
    let chi_square: f64 = counts
        .values()
        .map(|&n| (f64::from(n) - 2000.0).powi(2) / 2000.0)
        .sum();
    assert!(chi_square < 40.0, "chi-square {chi_square}: {counts:?}");
}
