//! Sorted-set commands: exact replies and errors as Redis 7.0 gives them,
//! RESP3 doubles, encoding conversions, empty sets removed, change
//! counting, WATCH, and blocking pops with their timeouts.

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";

/// Bulk strings for `items`, one after another.
fn bulks(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("${}\r\n{item}\r\n", item.len()))
        .collect()
}

// ZADD's counts, options and the errors for conflicting options.
#[test]
fn zadd_options_and_errors() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["ZADD", "z", "1", "a", "5", "b"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["ZADD", "z", "CH", "1", "a", "6", "b", "1", "c"]),
        ":2\r\n"
    );
    assert_eq!(t.cmd(c, &["ZADD", "z", "NX", "9", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["ZADD", "z", "XX", "9", "new"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["ZADD", "z", "GT", "CH", "0", "a", "7", "b"]),
        ":1\r\n"
    );
    assert_eq!(t.cmd(c, &["ZADD", "z", "INCR", "2", "a"]), "$1\r\n3\r\n");
    assert_eq!(t.cmd(c, &["ZADD", "z", "INCR", "LT", "2", "a"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["ZADD", "nokey", "XX", "INCR", "2", "a"]),
        "$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZADD", "z", "NX", "XX", "1", "a"]),
        "-ERR XX and NX options at the same time are not compatible\r\n"
    );
    for options in [["GT", "LT"], ["GT", "NX"], ["NX", "LT"]] {
        assert_eq!(
            t.cmd(c, &["ZADD", "z", options[0], options[1], "1", "a"]),
            "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"
        );
    }
    assert_eq!(
        t.cmd(c, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        "-ERR INCR option supports a single increment-element pair\r\n"
    );
    assert_eq!(t.cmd(c, &["ZADD", "z", "1", "a", "2"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["ZADD", "z", "nan", "a"]),
        "-ERR value is not a valid float\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZADD", "z"]),
        "-ERR wrong number of arguments for 'zadd' command\r\n"
    );
    t.cmd(c, &["ZADD", "z", "inf", "i"]);
    assert_eq!(
        t.cmd(c, &["ZINCRBY", "z", "-inf", "i"]),
        "-ERR resulting score is not a number (NaN)\r\n"
    );
    t.cmd(c, &["SET", "s", "x"]);
    assert_eq!(t.cmd(c, &["ZADD", "s", "1", "a"]), WRONGTYPE);
    assert_eq!(t.cmd(c, &["ZSCORE", "s", "a"]), WRONGTYPE);
}

// Scores are read as strtod reads them and written as %.17g, as bulk
// strings in RESP2 and doubles in RESP3.
#[test]
fn score_formats() {
    let (mut t, c) = node();
    t.cmd(
        c,
        &[
            "ZADD", "z", "1.1", "a", "0x10", "b", "-inf", "c", "1e20", "d",
        ],
    );
    assert_eq!(
        t.cmd(c, &["ZSCORE", "z", "a"]),
        "$18\r\n1.1000000000000001\r\n"
    );
    assert_eq!(t.cmd(c, &["ZSCORE", "z", "b"]), "$2\r\n16\r\n");
    assert_eq!(t.cmd(c, &["ZSCORE", "z", "d"]), "$5\r\n1e+20\r\n");
    assert_eq!(t.cmd(c, &["ZSCORE", "z", "nope"]), "$-1\r\n");
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["ZSCORE", "z", "c"]), ",-inf\r\n");
    assert_eq!(t.cmd(c, &["ZSCORE", "z", "nope"]), "_\r\n");
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "0", "1", "WITHSCORES"]),
        format!(
            "*2\r\n*2\r\n{},-inf\r\n*2\r\n{},1.1000000000000001\r\n",
            bulks(&["c"]),
            bulks(&["a"])
        )
    );
    assert_eq!(t.cmd(c, &["ZMSCORE", "z", "b", "x"]), "*2\r\n,16\r\n_\r\n");
}

// Ranges by rank, score and lex, with LIMIT, REV and their errors.
#[test]
fn ranges() {
    let (mut t, c) = node();
    t.cmd(c, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]);
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "-2", "-1"]),
        format!("*2\r\n{}", bulks(&["c", "d"]))
    );
    assert_eq!(t.cmd(c, &["ZRANGE", "z", "5", "1"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["ZREVRANGE", "z", "0", "0", "WITHSCORES"]),
        format!("*2\r\n{}", bulks(&["d", "4"]))
    );
    assert_eq!(
        t.cmd(c, &["ZRANGEBYSCORE", "z", "(1", "3", "LIMIT", "1", "5"]),
        format!("*1\r\n{}", bulks(&["c"]))
    );
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "+inf", "(2", "BYSCORE", "REV"]),
        format!("*2\r\n{}", bulks(&["d", "c"]))
    );
    assert_eq!(t.cmd(c, &["ZCOUNT", "z", "-inf", "(3"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["ZRANGEBYSCORE", "z", "x", "1"]),
        "-ERR min or max is not a float\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
        "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"
    );
    t.cmd(c, &["ZADD", "l", "0", "a", "0", "b", "0", "c"]);
    assert_eq!(
        t.cmd(c, &["ZRANGEBYLEX", "l", "(a", "+"]),
        format!("*2\r\n{}", bulks(&["b", "c"]))
    );
    assert_eq!(
        t.cmd(c, &["ZREVRANGEBYLEX", "l", "[b", "-"]),
        format!("*2\r\n{}", bulks(&["b", "a"]))
    );
    assert_eq!(t.cmd(c, &["ZLEXCOUNT", "l", "[a", "(c"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["ZLEXCOUNT", "l", "a", "+"]),
        "-ERR min or max not valid string range item\r\n"
    );
    assert_eq!(t.cmd(c, &["ZRANK", "z", "c"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["ZREVRANK", "z", "c"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["ZRANK", "z", "x"]), "$-1\r\n");
}

// Removing the last member removes the key; removals count changes.
#[test]
fn removals_drop_empty_keys() {
    let (mut t, c) = node();
    t.cmd(c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    let before = t.dirty();
    assert_eq!(t.cmd(c, &["ZREM", "z", "a", "x"]), ":1\r\n");
    assert_eq!(t.dirty(), before + 1);
    assert_eq!(t.cmd(c, &["ZREM", "z", "x"]), ":0\r\n");
    assert_eq!(t.dirty(), before + 1);
    assert_eq!(t.cmd(c, &["ZREMRANGEBYSCORE", "z", "-inf", "2"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["ZREMRANGEBYRANK", "z", "0", "-1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "z"]), ":0\r\n");
    t.cmd(c, &["ZADD", "z", "1", "a"]);
    assert_eq!(
        t.cmd(c, &["ZPOPMIN", "z"]),
        format!("*2\r\n{}", bulks(&["a", "1"]))
    );
    assert_eq!(t.cmd(c, &["TYPE", "z"]), "+none\r\n");
    assert_eq!(t.cmd(c, &["ZPOPMIN", "z"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["ZPOPMIN", "z", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
}

// Small sets are listpacks and become skiplists past either threshold,
// never going back; stored results are compact again when they fit.
#[test]
fn encodings() {
    let (mut t, c) = node();
    t.cmd(c, &["CONFIG", "SET", "zset-max-listpack-entries", "3"]);
    t.cmd(c, &["ZADD", "z", "1", "a", "2", "b", "3", "c"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "z"]), "$8\r\nlistpack\r\n");
    t.cmd(c, &["ZADD", "z", "4", "d"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "z"]), "$8\r\nskiplist\r\n");
    t.cmd(c, &["ZREM", "z", "d", "c"]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "z"]), "$8\r\nskiplist\r\n");
    assert_eq!(t.cmd(c, &["ZUNIONSTORE", "u", "1", "z"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "u"]), "$8\r\nlistpack\r\n");
    let long = "x".repeat(65);
    t.cmd(c, &["ZADD", "v", "1", &long]);
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "v"]), "$8\r\nskiplist\r\n");
    assert_eq!(
        t.cmd(c, &["ZRANGE", "z", "0", "-1"]),
        format!("*2\r\n{}", bulks(&["a", "b"]))
    );
}

// Union, intersection and difference, with weights and aggregates.
#[test]
fn algebra() {
    let (mut t, c) = node();
    t.cmd(c, &["ZADD", "a", "1", "x", "2", "y"]);
    t.cmd(c, &["ZADD", "b", "10", "y", "20", "z"]);
    assert_eq!(
        t.cmd(
            c,
            &["ZUNION", "2", "a", "b", "WEIGHTS", "2", "1", "WITHSCORES"]
        ),
        format!("*6\r\n{}", bulks(&["x", "2", "y", "14", "z", "20"]))
    );
    assert_eq!(
        t.cmd(
            c,
            &["ZINTER", "2", "a", "b", "AGGREGATE", "MIN", "WITHSCORES"]
        ),
        format!("*2\r\n{}", bulks(&["y", "2"]))
    );
    assert_eq!(
        t.cmd(c, &["ZDIFF", "2", "a", "b"]),
        format!("*1\r\n{}", bulks(&["x"]))
    );
    assert_eq!(t.cmd(c, &["ZINTERCARD", "2", "a", "b"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["ZDIFFSTORE", "d", "2", "a", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "d"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["ZUNIONSTORE", "d", "0", "a"]),
        "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZUNION", "1", "a", "WEIGHTS", "x"]),
        "-ERR weight value is not a float\r\n"
    );
    t.cmd(c, &["SET", "s", "x"]);
    assert_eq!(t.cmd(c, &["ZUNION", "2", "a", "s"]), WRONGTYPE);
}

// A ZADD that changes nothing does not invalidate a WATCH.
#[test]
fn watch_sees_only_changes() {
    let mut t = TestNode::new();
    let (c1, c2) = (t.connect(), t.connect());
    t.cmd(c1, &["ZADD", "z", "1", "a"]);
    t.cmd(c1, &["WATCH", "z"]);
    assert_eq!(t.cmd(c2, &["ZADD", "z", "NX", "5", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c2, &["ZREM", "z", "nope"]), ":0\r\n");
    t.cmd(c1, &["MULTI"]);
    t.cmd(c1, &["ZCARD", "z"]);
    assert_eq!(t.cmd(c1, &["EXEC"]), "*1\r\n:1\r\n");
    t.cmd(c1, &["WATCH", "z"]);
    t.cmd(c2, &["ZADD", "z", "2", "a"]);
    t.cmd(c1, &["MULTI"]);
    t.cmd(c1, &["ZCARD", "z"]);
    assert_eq!(t.cmd(c1, &["EXEC"]), "*-1\r\n");
}

// A blocked BZPOPMIN is served by a later ZADD; another times out; inside
// MULTI it answers as a timeout at once.
#[test]
fn blocking_pops() {
    let mut t = TestNode::new();
    let (c1, c2) = (t.connect(), t.connect());
    assert_eq!(t.cmd(c1, &["BZPOPMIN", "z", "0"]), "");
    assert_eq!(t.cmd(c2, &["ZADD", "z", "1", "a", "2", "b"]), ":2\r\n");
    let served = t.node.env_mut().sent.remove(&c1).unwrap_or_default();
    assert_eq!(
        String::from_utf8_lossy(&served),
        format!("*3\r\n{}", bulks(&["z", "a", "1"]))
    );
    assert_eq!(t.cmd(c2, &["ZCARD", "z"]), ":1\r\n");
    assert_eq!(t.cmd(c1, &["BZMPOP", "0.5", "1", "empty", "MAX"]), "");
    t.advance(600);
    let timed_out = t.node.env_mut().sent.remove(&c1).unwrap_or_default();
    assert_eq!(String::from_utf8_lossy(&timed_out), "*-1\r\n");
    t.cmd(c1, &["MULTI"]);
    t.cmd(c1, &["BZPOPMAX", "empty", "0"]);
    assert_eq!(t.cmd(c1, &["EXEC"]), "*1\r\n*-1\r\n");
    assert_eq!(
        t.cmd(c1, &["BZPOPMIN", "z", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        t.cmd(c1, &["BZPOPMIN", "z", "x"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c1, &["ZMPOP", "1", "z", "MAX", "COUNT", "5"]),
        format!("*2\r\n{}*1\r\n*2\r\n{}", bulks(&["z"]), bulks(&["b", "2"]))
    );
    assert_eq!(t.cmd(c1, &["ZMPOP", "1", "z", "MAX"]), "*-1\r\n");
}

// ZRANDMEMBER's shapes and ZSCAN over a small set.
#[test]
fn random_and_scan() {
    let (mut t, c) = node();
    t.cmd(c, &["ZADD", "z", "1", "a", "2", "b"]);
    assert_eq!(
        t.cmd(c, &["ZRANDMEMBER", "z", "5"]),
        format!("*2\r\n{}", bulks(&["b", "a"]))
    );
    assert!(t
        .cmd(c, &["ZRANDMEMBER", "z", "-5", "WITHSCORES"])
        .starts_with("*10\r\n"));
    assert_eq!(t.cmd(c, &["ZRANDMEMBER", "nokey"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["ZRANDMEMBER", "z", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["ZRANDMEMBER", "z", "5000000000000000000", "WITHSCORES"]
        ),
        "-ERR value is out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZSCAN", "z", "0", "MATCH", "a*"]),
        format!("*2\r\n{}*2\r\n{}", bulks(&["0"]), bulks(&["a", "1"]))
    );
    assert_eq!(t.cmd(c, &["ZSCAN", "z", "x"]), "-ERR invalid cursor\r\n");
    assert_eq!(
        t.cmd(c, &["ZSCAN", "nokey", "0", "BAD"]),
        format!("*2\r\n{}*0\r\n", bulks(&["0"]))
    );
}

// A plain set is an input of the set algebra whose members score 1, as in
// Redis (replies taken from redis-server 7.0.15).
#[test]
fn plain_sets_are_inputs_scoring_one() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["SADD", "s", "b", "a", "c"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["ZADD", "z", "5", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["ZUNIONSTORE", "d", "2", "s", "z"]), ":3\r\n");
    assert_eq!(
        t.cmd(c, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        "*6\r\n$1\r\nb\r\n$1\r\n1\r\n$1\r\nc\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n6\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZINTER", "2", "s", "z", "WITHSCORES"]),
        "*2\r\n$1\r\na\r\n$1\r\n6\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZDIFF", "2", "s", "z"]),
        "*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(t.cmd(c, &["ZINTERCARD", "2", "s", "z"]), ":1\r\n");
}
