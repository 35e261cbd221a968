//! List commands: exact replies and errors as Redis 7.0.15 gives them (the
//! expectations of `redis_7_0_replies` were taken from Debian's
//! redis-server 7.0.15), blocking pops served in arrival order and timed
//! out from the clock, MULTI, WATCH, and lists spread over many nodes.

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

// Every list command's replies and errors, as Redis answered the same
// sequence.
#[test]
fn redis_7_0_replies() {
    let (mut t, c) = node();
    // push and pop at both ends
    assert_eq!(t.cmd(c, &["LPUSH", "l", "a", "b", "c"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["RPUSH", "l", "d", "e"]), ":5\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*5\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\ne\r\n"
    );
    assert_eq!(t.cmd(c, &["LLEN", "l"]), ":5\r\n");
    assert_eq!(t.cmd(c, &["LPOP", "l"]), "$1\r\nc\r\n");
    assert_eq!(t.cmd(c, &["RPOP", "l"]), "$1\r\ne\r\n");
    assert_eq!(
        t.cmd(c, &["LPOP", "l", "2"]),
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(t.cmd(c, &["LPOP", "l", "0"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["RPOP", "l", "5"]), "*1\r\n$1\r\nd\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "l"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["LPOP", "l"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["LPOP", "l", "3"]), "*-1\r\n");
    assert_eq!(t.cmd(c, &["RPOP", "l", "0"]), "*-1\r\n");
    assert_eq!(t.cmd(c, &["LLEN", "l"]), ":0\r\n");
    // wrong types and arity
    assert_eq!(t.cmd(c, &["SET", "s", "v"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["LPUSH", "s", "a"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOP", "s"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LLEN", "s"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "s", "0", "-1"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LINDEX", "s", "0"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPUSH", "l"]),
        "-ERR wrong number of arguments for 'lpush' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOP", "l", "1", "2"]),
        "-ERR wrong number of arguments for 'lpop' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOP", "l", "-1"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOP", "l", "x"]),
        "-ERR value is out of range, must be positive\r\n"
    );
    // pushx
    assert_eq!(t.cmd(c, &["LPUSHX", "l", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["RPUSHX", "l", "a"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["RPUSH", "l", "x"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["LPUSHX", "l", "w"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["RPUSHX", "l", "y", "z"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\nw\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nz\r\n"
    );
    // index and set
    assert_eq!(t.cmd(c, &["LINDEX", "l", "0"]), "$1\r\nw\r\n");
    assert_eq!(t.cmd(c, &["LINDEX", "l", "-1"]), "$1\r\nz\r\n");
    assert_eq!(t.cmd(c, &["LINDEX", "l", "9"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["LINDEX", "l", "-9"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["LINDEX", "l", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.cmd(c, &["LINDEX", "missing", "x"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["LSET", "l", "1", "X"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["LSET", "l", "-1", "Z"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["LSET", "l", "9", "a"]),
        "-ERR index out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LSET", "missing", "0", "a"]),
        "-ERR no such key\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LSET", "l", "x", "a"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\nw\r\n$1\r\nX\r\n$1\r\ny\r\n$1\r\nZ\r\n"
    );
    // ranges
    assert_eq!(t.cmd(c, &["DEL", "l"]), ":1\r\n");
    assert_eq!(
        t.cmd(
            c,
            &["RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
        ),
        ":10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "2", "4"]),
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "-3", "-1"]),
        "*3\r\n$1\r\n7\r\n$1\r\n8\r\n$1\r\n9\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "-100", "1"]),
        "*2\r\n$1\r\n0\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "8", "100"]),
        "*2\r\n$1\r\n8\r\n$1\r\n9\r\n"
    );
    assert_eq!(t.cmd(c, &["LRANGE", "l", "5", "2"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["LRANGE", "l", "10", "20"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "x", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.cmd(c, &["LRANGE", "missing", "0", "-1"]), "*0\r\n");
    // trim
    assert_eq!(t.cmd(c, &["LTRIM", "l", "1", "-2"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["LRANGE", "l", "0", "-1"]), "*8\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n$1\r\n8\r\n");
    assert_eq!(t.cmd(c, &["LTRIM", "l", "5", "2"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "l"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["LTRIM", "missing", "0", "1"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["LTRIM", "l", "x", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // lrem
    assert_eq!(
        t.cmd(c, &["RPUSH", "l", "a", "b", "a", "c", "a", "b", "a"]),
        ":7\r\n"
    );
    assert_eq!(t.cmd(c, &["LREM", "l", "2", "a"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*5\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(t.cmd(c, &["LREM", "l", "-1", "a"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(t.cmd(c, &["LREM", "l", "0", "b"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*2\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(t.cmd(c, &["LREM", "l", "0", "zz"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["LREM", "missing", "0", "a"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["LREM", "l", "x", "a"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    // linsert
    assert_eq!(t.cmd(c, &["LINSERT", "l", "BEFORE", "c", "X"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["LINSERT", "l", "AFTER", "c", "Y"]), ":4\r\n");
    assert_eq!(t.cmd(c, &["LINSERT", "l", "AFTER", "nope", "Y"]), ":-1\r\n");
    assert_eq!(
        t.cmd(c, &["LINSERT", "missing", "AFTER", "c", "Y"]),
        ":0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LINSERT", "l", "MIDDLE", "c", "Y"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "l", "0", "-1"]),
        "*4\r\n$1\r\nX\r\n$1\r\nc\r\n$1\r\nY\r\n$1\r\na\r\n"
    );
    // lpos
    assert_eq!(t.cmd(c, &["DEL", "l"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]),
        ":8\r\n"
    );
    assert_eq!(t.cmd(c, &["LPOS", "l", "c"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "l", "c", "RANK", "2"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "l", "c", "RANK", "-1"]), ":7\r\n");
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "COUNT", "0"]),
        "*3\r\n:2\r\n:6\r\n:7\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "COUNT", "2", "RANK", "-1"]),
        "*2\r\n:7\r\n:6\r\n"
    );
    assert_eq!(t.cmd(c, &["LPOS", "l", "c", "MAXLEN", "3"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "MAXLEN", "4", "COUNT", "0"]),
        "*1\r\n:2\r\n"
    );
    assert_eq!(t.cmd(c, &["LPOS", "l", "1"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "l", "z"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "l", "z", "COUNT", "2"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "missing", "a"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "missing", "a", "COUNT", "1"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["LPOS", "l", "c", "RANK", "0"]), "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n");
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "COUNT", "-1"]),
        "-ERR COUNT can't be negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "MAXLEN", "-1"]),
        "-ERR MAXLEN can't be negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "FOO", "1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "FOO", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "RANK", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "RANK"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LPOS", "l", "c", "RANK", "-9223372036854775808"]),
        ":7\r\n"
    );
    // lmove and rpoplpush
    assert_eq!(t.cmd(c, &["DEL", "l", "m"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["RPUSH", "l", "1", "2", "3"]), ":3\r\n");
    assert_eq!(
        t.cmd(c, &["LMOVE", "l", "m", "LEFT", "RIGHT"]),
        "$1\r\n1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMOVE", "l", "m", "RIGHT", "LEFT"]),
        "$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "m", "0", "-1"]),
        "*2\r\n$1\r\n3\r\n$1\r\n1\r\n"
    );
    assert_eq!(t.cmd(c, &["RPOPLPUSH", "l", "m"]), "$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "l"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["LMOVE", "l", "m", "LEFT", "LEFT"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["RPOPLPUSH", "l", "m"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["LMOVE", "m", "m", "LEFT", "RIGHT"]),
        "$1\r\n2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "m", "0", "-1"]),
        "*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMOVE", "m", "s", "LEFT", "LEFT"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMOVE", "s", "m", "LEFT", "LEFT"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMOVE", "m", "m", "UP", "LEFT"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "m", "0", "-1"]),
        "*3\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
    // lmpop
    assert_eq!(
        t.cmd(c, &["LMPOP", "2", "missing", "m", "LEFT"]),
        "*2\r\n$1\r\nm\r\n*1\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "2", "missing", "m", "RIGHT", "COUNT", "10"]),
        "*2\r\n$1\r\nm\r\n*2\r\n$1\r\n2\r\n$1\r\n1\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "m"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["LMPOP", "1", "m", "LEFT"]), "*-1\r\n");
    assert_eq!(
        t.cmd(c, &["LMPOP", "0", "m", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "x", "m", "LEFT"]),
        "-ERR numkeys should be greater than 0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "2", "m", "LEFT"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "1", "m", "LEFT", "COUNT", "0"]),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "1", "m", "LEFT", "COUNT", "-1"]),
        "-ERR count should be greater than 0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "1", "m", "LEFT", "COUNT", "1", "COUNT", "1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "1", "m", "UP"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LMPOP", "1", "s", "LEFT"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    // blocking forms with data answer at once
    assert_eq!(t.cmd(c, &["RPUSH", "b1", "x", "y"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["BLPOP", "missing", "b1", "0"]),
        "*2\r\n$2\r\nb1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BRPOP", "b1", "1.5"]),
        "*2\r\n$2\r\nb1\r\n$1\r\ny\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "b1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["RPUSH", "b1", "x"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["BLMOVE", "b1", "b2", "LEFT", "LEFT", "0"]),
        "$1\r\nx\r\n"
    );
    assert_eq!(t.cmd(c, &["BRPOPLPUSH", "b2", "b1", "0"]), "$1\r\nx\r\n");
    assert_eq!(
        t.cmd(c, &["BLMPOP", "0", "1", "b1", "RIGHT", "COUNT", "3"]),
        "*2\r\n$2\r\nb1\r\n*1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLPOP", "b1", "-1"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLPOP", "b1", "x"]),
        "-ERR timeout is not a float or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLPOP", "b1", "1e400"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLPOP", "s", "0"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLMPOP", "-1", "1", "b1", "LEFT"]),
        "-ERR timeout is negative\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BLMOVE", "b1", "b2", "LEFT", "UP", "0"]),
        "-ERR syntax error\r\n"
    );
    // blocking forms inside MULTI answer as a timeout
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["BLPOP", "b1", "0"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["BRPOPLPUSH", "b1", "b2", "0"]), "+QUEUED\r\n");
    assert_eq!(
        t.cmd(c, &["BLMOVE", "b1", "b2", "LEFT", "LEFT", "0"]),
        "+QUEUED\r\n"
    );
    assert_eq!(t.cmd(c, &["BLMPOP", "0", "1", "b1", "LEFT"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*4\r\n*-1\r\n$-1\r\n$-1\r\n*-1\r\n");
    // encodings and types
    assert_eq!(t.cmd(c, &["RPUSH", "e", "1"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "e"]),
        "$9\r\nquicklist\r\n"
    );
    assert_eq!(t.cmd(c, &["TYPE", "e"]), "+list\r\n");
}

// A blocked BLPOP is served by the next push, with the pushed element, and
// the pusher's reply is unaffected.
#[test]
fn blpop_is_served_by_a_push() {
    let (mut t, waiter) = node();
    let pusher = t.connect();
    assert_eq!(t.cmd(waiter, &["BLPOP", "q", "0"]), "");
    assert_eq!(t.cmd(pusher, &["RPUSH", "q", "job"]), ":1\r\n");
    assert_eq!(t.take_sent(waiter), "*2\r\n$1\r\nq\r\n$3\r\njob\r\n");
    assert_eq!(t.cmd(pusher, &["EXISTS", "q"]), ":0\r\n");
}

// Waiters are served oldest first, one element each; the rest wait on.
#[test]
fn waiters_are_served_in_arrival_order() {
    let (mut t, first) = node();
    let second = t.connect();
    let third = t.connect();
    let pusher = t.connect();
    assert_eq!(t.cmd(first, &["BRPOP", "q", "0"]), "");
    assert_eq!(t.cmd(second, &["BLPOP", "other", "q", "0"]), "");
    assert_eq!(t.cmd(third, &["BLPOP", "q", "0"]), "");
    assert!(t
        .cmd(pusher, &["INFO", "clients"])
        .contains("blocked_clients:3\r\n"));
    assert_eq!(t.cmd(pusher, &["RPUSH", "q", "a", "b"]), ":2\r\n");
    assert_eq!(t.take_sent(first), "*2\r\n$1\r\nq\r\n$1\r\nb\r\n");
    assert_eq!(t.take_sent(second), "*2\r\n$1\r\nq\r\n$1\r\na\r\n");
    assert_eq!(t.take_sent(third), "");
    assert!(t
        .cmd(pusher, &["INFO", "clients"])
        .contains("blocked_clients:1\r\n"));
    assert_eq!(t.cmd(pusher, &["LPUSH", "q", "c"]), ":1\r\n");
    assert_eq!(t.take_sent(third), "*2\r\n$1\r\nq\r\n$1\r\nc\r\n");
}

// A timeout answers a null array (RESP3: null) once the monotonic clock
// passes it, and not before.
#[test]
fn timeouts_answer_null() {
    let (mut t, c) = node();
    let d = t.connect();
    assert!(t.cmd(d, &["HELLO", "3"]).starts_with("%7"));
    assert_eq!(t.cmd(c, &["BLPOP", "q", "1.5"]), "");
    assert_eq!(t.cmd(d, &["BLMOVE", "q", "r", "LEFT", "LEFT", "0.25"]), "");
    assert!(t.node.next_deadline() <= t.node.env().monotonic_ms + 250);
    t.advance(249);
    assert_eq!(t.take_sent(d), "");
    t.advance(1);
    assert_eq!(t.take_sent(d), "_\r\n");
    t.advance(1249);
    assert_eq!(t.take_sent(c), "");
    t.advance(1);
    assert_eq!(t.take_sent(c), "*-1\r\n");
    assert!(t
        .cmd(c, &["INFO", "clients"])
        .contains("blocked_clients:0\r\n"));
}

// A blocked client reads nothing else until served; then its pipelined
// requests run in order.
#[test]
fn a_blocked_client_resumes_its_pipeline() {
    let (mut t, c) = node();
    let pusher = t.connect();
    let pipeline = b"*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n*2\r\n$4\r\nLLEN\r\n$1\r\nq\r\n";
    assert_eq!(t.raw(c, pipeline), b"");
    assert_eq!(t.cmd(pusher, &["RPUSH", "q", "x", "y"]), ":2\r\n");
    assert_eq!(t.take_sent(c), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n:1\r\n");
}

// BLMOVE serves from the source into the destination, which wakes a
// client blocked on the destination in turn.
#[test]
fn blmove_chains_wake_ups() {
    let (mut t, mover) = node();
    let waiter = t.connect();
    let pusher = t.connect();
    assert_eq!(
        t.cmd(mover, &["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]),
        ""
    );
    assert_eq!(t.cmd(waiter, &["BLPOP", "b", "0"]), "");
    assert_eq!(t.cmd(pusher, &["RPUSH", "a", "v"]), ":1\r\n");
    assert_eq!(t.take_sent(mover), "$1\r\nv\r\n");
    assert_eq!(t.take_sent(waiter), "*2\r\n$1\r\nb\r\n$1\r\nv\r\n");
    assert_eq!(t.cmd(pusher, &["DBSIZE"]), ":0\r\n");
}

// A client that disconnects while blocked is forgotten: a later push is
// not lost to it.
#[test]
fn a_closed_blocked_client_takes_nothing() {
    let (mut t, gone) = node();
    let pusher = t.connect();
    assert_eq!(t.cmd(gone, &["BLPOP", "q", "0"]), "");
    t.node.on_closed(gone);
    assert_eq!(t.cmd(pusher, &["RPUSH", "q", "x"]), ":1\r\n");
    assert_eq!(t.cmd(pusher, &["LLEN", "q"]), ":1\r\n");
    assert!(t
        .cmd(pusher, &["INFO", "clients"])
        .contains("blocked_clients:0\r\n"));
}

// Blocking on a key of another type answers WRONGTYPE at once; a key that
// turns into another type while waited on leaves the waiter blocked, as in
// Redis 7.0, until a list appears there.
#[test]
fn blocking_and_types() {
    let (mut t, c) = node();
    let other = t.connect();
    assert_eq!(t.cmd(c, &["SET", "s", "v"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["BLPOP", "s", "0"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(t.cmd(c, &["BLPOP", "q", "0"]), "");
    assert_eq!(t.cmd(other, &["SET", "q", "v"]), "+OK\r\n");
    assert_eq!(t.take_sent(c), "");
    assert_eq!(t.cmd(other, &["DEL", "q"]), ":1\r\n");
    assert_eq!(t.cmd(other, &["RPUSH", "q", "x"]), ":1\r\n");
    assert_eq!(t.take_sent(c), "*2\r\n$1\r\nq\r\n$1\r\nx\r\n");
}

// A push to a watched list aborts the watcher's transaction.
#[test]
fn pushes_invalidate_watch() {
    let (mut t, c) = node();
    let other = t.connect();
    assert_eq!(t.cmd(c, &["WATCH", "l"]), "+OK\r\n");
    assert_eq!(t.cmd(other, &["RPUSH", "l", "x"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["LPOP", "l"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*-1\r\n");
}

// A long list spreads over many listpack nodes; indexes, ranges, inserts
// and trims work across node boundaries, under every fill setting.
#[test]
fn long_lists_across_nodes() {
    for fill in ["-1", "-5", "1", "3", "128"] {
        let (mut t, c) = node();
        assert_eq!(
            t.cmd(c, &["CONFIG", "SET", "list-max-listpack-size", fill]),
            "+OK\r\n"
        );
        let mut model: Vec<String> = Vec::new();
        for i in 0..2000 {
            let element = format!("element-{i}-{}", "x".repeat(i % 50));
            if i % 3 == 0 {
                t.cmd(c, &["LPUSH", "l", &element]);
                model.insert(0, element);
            } else {
                t.cmd(c, &["RPUSH", "l", &element]);
                model.push(element);
            }
        }
        for index in [0usize, 1, 999, 1000, 1999] {
            let expected = format!("${}\r\n{}\r\n", model[index].len(), model[index]);
            assert_eq!(
                t.cmd(c, &["LINDEX", "l", &index.to_string()]),
                expected,
                "fill {fill}"
            );
        }
        assert_eq!(
            t.cmd(c, &["LINSERT", "l", "AFTER", &model[700].clone(), "new"]),
            ":2001\r\n"
        );
        model.insert(701, "new".to_string());
        assert_eq!(t.cmd(c, &["LSET", "l", "-2", "set"]), "+OK\r\n");
        let at = model.len() - 2;
        model[at] = "set".to_string();
        assert_eq!(t.cmd(c, &["LTRIM", "l", "100", "-100"]), "+OK\r\n");
        model = model[100..model.len() - 99].to_vec();
        let removed = t.cmd(c, &["LREM", "l", "0", "new"]);
        assert_eq!(removed, ":1\r\n");
        model.retain(|e| e != "new");
        let mut expected = format!("*{}\r\n", model.len());
        for element in &model {
            expected.push_str(&format!("${}\r\n{}\r\n", element.len(), element));
        }
        assert_eq!(
            t.cmd(c, &["LRANGE", "l", "0", "-1"]),
            expected,
            "fill {fill}"
        );
        assert_eq!(t.cmd(c, &["LLEN", "l"]), format!(":{}\r\n", model.len()));
    }
}

// CLIENT UNBLOCK answers a blocked client as its timeout would, or with
// -UNBLOCKED; a client that is not blocked gives 0 (replies as Redis 7.0).
#[test]
fn client_unblock() {
    let (mut t, waiter) = node();
    let admin = t.connect();
    assert_eq!(t.cmd(waiter, &["CLIENT", "ID"]), format!(":{waiter}\r\n"));
    assert_eq!(t.cmd(waiter, &["BLPOP", "q", "0"]), "");
    let id = waiter.to_string();
    assert_eq!(
        t.cmd(admin, &["CLIENT", "UNBLOCK", &id, "FOO"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"
    );
    assert_eq!(t.cmd(admin, &["CLIENT", "UNBLOCK", &id]), ":1\r\n");
    assert_eq!(t.take_sent(waiter), "*-1\r\n");
    assert_eq!(t.cmd(admin, &["CLIENT", "UNBLOCK", &id]), ":0\r\n");
    assert_eq!(t.cmd(waiter, &["BRPOP", "q", "0"]), "");
    assert_eq!(t.cmd(admin, &["CLIENT", "UNBLOCK", &id, "ERROR"]), ":1\r\n");
    assert_eq!(
        t.take_sent(waiter),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    assert_eq!(
        t.cmd(admin, &["CLIENT", "UNBLOCK", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert!(t
        .cmd(admin, &["INFO", "clients"])
        .contains("blocked_clients:0\r\n"));
}

// A timeout under a millisecond rounds up to one, as Redis reads it; a tiny
// negative one rounds to 0, which waits forever.
#[test]
fn sub_millisecond_timeouts() {
    let (mut t, c) = node();
    let d = t.connect();
    assert_eq!(t.cmd(c, &["BLPOP", "q", "0.0001"]), "");
    assert_eq!(
        t.cmd(d, &["BLMOVE", "q", "r", "LEFT", "LEFT", "-0.0001"]),
        ""
    );
    t.advance(1);
    assert_eq!(t.take_sent(c), "*-1\r\n");
    t.advance(100_000);
    assert_eq!(t.take_sent(d), "");
    assert!(t
        .cmd(c, &["INFO", "clients"])
        .contains("blocked_clients:1\r\n"));
}
