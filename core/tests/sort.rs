//! SORT and SORT_RO: exact replies and errors as Redis 7.0.15 gives them
//! (every expectation below was first taken from Debian's redis-server
//! 7.0.15), the changes counted, keyspace hits and misses, WATCH, and the
//! commands' flags.

use redoubt_core::cmd::{flag, table};
use redoubt_core::testing::TestNode;

#[test]
fn numeric_alpha_desc() {
    let (mut t, c) = TestNode::with_client();
    // numeric by default, ties broken by the elements' bytes
    assert_eq!(
        t.cmd(
            c,
            &["RPUSH", "l", "10", "2", "-3.5", "2.0", "1e2", "+2", "0"]
        ),
        ":7\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l"]),
        "*7\r\n$4\r\n-3.5\r\n$1\r\n0\r\n$2\r\n+2\r\n$1\r\n2\r\n$3\r\n2.0\r\n$2\r\n10\r\n$3\r\n1e2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "DESC"]),
        "*7\r\n$3\r\n1e2\r\n$2\r\n10\r\n$3\r\n2.0\r\n$1\r\n2\r\n$2\r\n+2\r\n$1\r\n0\r\n$4\r\n-3.5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ASC"]),
        "*7\r\n$4\r\n-3.5\r\n$1\r\n0\r\n$2\r\n+2\r\n$1\r\n2\r\n$3\r\n2.0\r\n$2\r\n10\r\n$3\r\n1e2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA"]),
        "*7\r\n$2\r\n+2\r\n$4\r\n-3.5\r\n$1\r\n0\r\n$2\r\n10\r\n$3\r\n1e2\r\n$1\r\n2\r\n$3\r\n2.0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "DESC"]),
        "*7\r\n$3\r\n2.0\r\n$1\r\n2\r\n$3\r\n1e2\r\n$2\r\n10\r\n$1\r\n0\r\n$4\r\n-3.5\r\n$2\r\n+2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "DESC", "ASC"]),
        "*7\r\n$4\r\n-3.5\r\n$1\r\n0\r\n$2\r\n+2\r\n$1\r\n2\r\n$3\r\n2.0\r\n$2\r\n10\r\n$3\r\n1e2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ASC", "DESC"]),
        "*7\r\n$3\r\n1e2\r\n$2\r\n10\r\n$3\r\n2.0\r\n$1\r\n2\r\n$2\r\n+2\r\n$1\r\n0\r\n$4\r\n-3.5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "alpha", "desc"]),
        "*7\r\n$3\r\n2.0\r\n$1\r\n2\r\n$3\r\n1e2\r\n$2\r\n10\r\n$1\r\n0\r\n$4\r\n-3.5\r\n$2\r\n+2\r\n"
    );
    // what strtod accepts: spaces before, hex, inf, the empty string as 0
    assert_eq!(
        t.cmd(
            c,
            &["RPUSH", "n", "0x10", "inf", "-inf", "1", "-0", "0", "+3", ".5", "", " 7"]
        ),
        ":10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "n"]),
        "*10\r\n$4\r\n-inf\r\n$0\r\n\r\n$2\r\n-0\r\n$1\r\n0\r\n$2\r\n.5\r\n$1\r\n1\r\n$2\r\n+3\r\n$2\r\n 7\r\n$4\r\n0x10\r\n$3\r\ninf\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "n", "DESC"]),
        "*10\r\n$3\r\ninf\r\n$4\r\n0x10\r\n$2\r\n 7\r\n$2\r\n+3\r\n$1\r\n1\r\n$2\r\n.5\r\n$1\r\n0\r\n$2\r\n-0\r\n$0\r\n\r\n$4\r\n-inf\r\n"
    );
    // a zero byte ends the number and the ALPHA comparison
    assert_eq!(t.cmd(c, &["RPUSH", "z", "3\u{0}abc", "2"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "z"]),
        "*2\r\n$1\r\n2\r\n$5\r\n3\u{0}abc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "z", "ALPHA"]),
        "*2\r\n$1\r\n2\r\n$5\r\n3\u{0}abc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RPUSH", "al", "b\u{0}z", "b\u{0}a", "b", "a"]),
        ":4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "al", "ALPHA"]),
        "*4\r\n$1\r\na\r\n$3\r\nb\u{0}z\r\n$3\r\nb\u{0}a\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "al", "ALPHA", "DESC"]),
        "*4\r\n$3\r\nb\u{0}z\r\n$3\r\nb\u{0}a\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "u", "é", "€", "z", "Z"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "u", "ALPHA"]),
        "*4\r\n$1\r\nZ\r\n$1\r\nz\r\n$2\r\né\r\n$3\r\n€\r\n"
    );
    // not numbers
    assert_eq!(t.cmd(c, &["RPUSH", "bad1", "1", "x"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad1"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad2", "1", "5 "]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad2"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad3", "1", "nan"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad3"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad4", "1", "1e309"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad4"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad5", "1", "1e-400"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad5"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad6", "1", "1e-310"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad6"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "bad7", "1", " "]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad7"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "bad1", "ALPHA"]),
        "*2\r\n$1\r\n1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "bad1", "BY", "nosort"]),
        "*2\r\n$1\r\n1\r\n$1\r\nx\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "sub", "0x1p-1070", "1"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "sub"]),
        "*2\r\n$9\r\n0x1p-1070\r\n$1\r\n1\r\n"
    );
}

#[test]
fn by_get() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "l", "c", "a", "d", "b"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["MSET", "w_a", "3", "w_b", "1", "w_c", "2"]),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["HSET", "h_a", "f", "30", "g", "x"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["HSET", "h_b", "f", "10"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HSET", "h_c", "f", "20", "g", "y"]), ":2\r\n");
    // BY a string key, BY a hash field; missing weights count as 0
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*"]),
        "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "DESC"]),
        "*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "ALPHA"]),
        "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "h_*->f"]),
        "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "h_*->f", "DESC"]),
        "*4\r\n$1\r\na\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\nd\r\n"
    );
    // ALPHA BY: values not found come first, ties keep the list's order
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "h_*->g", "ALPHA"]),
        "*4\r\n$1\r\nd\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "h_*->g", "ALPHA", "DESC"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "h_*->g"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    // GET: # for the element, string keys, hash fields, nulls
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "h_*->f", "GET", "nothing", "GET", "h_*->"]),
        "*20\r\n$1\r\nd\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\nb\r\n$1\r\n1\r\n$2\r\n10\r\n$-1\r\n$-1\r\n$1\r\nc\r\n$1\r\n2\r\n$2\r\n20\r\n$-1\r\n$-1\r\n$1\r\na\r\n$1\r\n3\r\n$2\r\n30\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "GET", "h_*->g"]),
        "*4\r\n$1\r\nx\r\n$-1\r\n$1\r\ny\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "GET", "#", "GET", "#"]),
        "*8\r\n$1\r\na\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "GET", "#\u{0}junk", "GET", "##", "GET", ""]),
        "*12\r\n$1\r\na\r\n$-1\r\n$-1\r\n$1\r\nb\r\n$-1\r\n$-1\r\n$1\r\nc\r\n$-1\r\n$-1\r\n$1\r\nd\r\n$-1\r\n$-1\r\n"
    );
    // a key of another type reads as nothing
    assert_eq!(t.cmd(c, &["LPUSH", "wt", "x"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HSET", "hs_a", "f", "1"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "GET", "hs_*", "GET", "wt_*", "GET", "w_*->f", "GET", "l"]),
        "*16\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    // the first -> after the * splits key and field; a pattern without * names nothing
    assert_eq!(t.cmd(c, &["HSET", "hh_a", "f->g", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["HSET", "hh_b", "f->g", "2", "f", "5"]), ":2\r\n");
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "l",
                "BY",
                "hh_*->f->g",
                "GET",
                "hh_*->f->g",
                "GET",
                "hh_*->f"
            ]
        ),
        "*8\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "x->y", "GET", "*->y", "ALPHA"]),
        "*4\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(t.cmd(c, &["HSET", "a->y", "q", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SET", "a", "7"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["HSET", "b", "y", "8"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "GET", "*", "GET", "*->y", "GET", "*->"]),
        "*12\r\n$1\r\n7\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\n8\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    // zero bytes: C string functions stop there
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_\u{0}*"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*\u{0}x"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(t.cmd(c, &["SET", "w_a\u{0}x", "9"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*\u{0}x", "GET", "w_*\u{0}x"]),
        "*4\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\n9\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ASC\u{0}x", "ALPHA"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    // a BY value that is no number
    assert_eq!(t.cmd(c, &["SET", "w_b", "notnum"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "ALPHA"]),
        "*4\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "keys", "w_a", "w_c"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "keys", "BY", "*"]),
        "*2\r\n$3\r\nw_c\r\n$3\r\nw_a\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "keys", "BY", "*", "GET", "*"]),
        "*2\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT_RO", "l", "BY", "h_*->f", "GET", "#", "GET", "h_*->g"]
        ),
        "*8\r\n$1\r\nd\r\n$-1\r\n$1\r\nb\r\n$-1\r\n$1\r\nc\r\n$1\r\ny\r\n$1\r\na\r\n$1\r\nx\r\n"
    );
}

#[test]
fn nosort() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "l", "c", "a", "d", "b"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["MSET", "w_a", "3", "w_b", "1", "w_c", "2"]),
        "+OK\r\n"
    );
    // BY a pattern without *: the list's own order, reversed by DESC
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "DESC"]),
        "*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\na\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\nd\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "LIMIT", "3", "5"]),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "3", "5"]),
        "*1\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "LIMIT", "4", "1"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "LIMIT", "-1", "-1"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "GET", "w_*", "GET", "#"]),
        "*8\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\na\r\n$-1\r\n$1\r\nd\r\n$1\r\n1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", ""]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "BY", "w_*"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "BY", "nosort"]),
        "*4\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nd\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "ALPHA", "DESC"]),
        "*4\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    // no number needed when nothing is sorted
    assert_eq!(t.cmd(c, &["RPUSH", "words", "x", "y"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "words", "BY", "nosort"]),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    // GET "" is no BY: the sort is still numeric
    assert_eq!(
        t.cmd(c, &["SORT", "l", "GET", ""]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
}

#[test]
fn limit() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "l", "c", "a", "d", "b"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "0", "0"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "0", "1"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "-5", "2"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "2", "-1"]),
        "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "2", "-100"]),
        "*2\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "3", "100"]),
        "*1\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "4", "1"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "4", "-1"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "l",
                "ALPHA",
                "LIMIT",
                "9223372036854775807",
                "9223372036854775807"
            ]
        ),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "l",
                "ALPHA",
                "LIMIT",
                "-9223372036854775808",
                "-9223372036854775808"
            ]
        ),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "ALPHA", "LIMIT", "1", "9223372036854775807"]
        ),
        "*3\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "ALPHA", "LIMIT", "0", "2", "LIMIT", "1", "1"]
        ),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "DESC", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "missing", "LIMIT", "1", "2"]), "*0\r\n");
    assert_eq!(t.cmd(c, &["SORT", "missing", "LIMIT", "0", "-1"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "1"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "x", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", "1", "1.5"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "ALPHA", "LIMIT", "1", "9223372036854775808"]
        ),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "LIMIT", " 1", "1"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn partial_sort() {
    let (mut t, c) = TestNode::with_client();
    // BY with a LIMIT leaving elements out sorts partially: equal values in
    // Redis's quicksort order; without LIMIT (or with one keeping all) stably
    assert_eq!(
        t.cmd(
            c,
            &[
                "RPUSH", "big", "9", "8", "7", "6", "5", "4", "3", "2", "1", "0", "19", "18", "17",
                "16", "15", "14", "13", "12", "11", "10", "29", "28", "27", "26", "25", "24", "23",
                "22", "21", "20", "39", "38", "37", "36", "35", "34", "33", "32", "31", "30", "49",
                "48", "47", "46", "45", "44", "43", "42", "41", "40"
            ]
        ),
        ":50\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["MSET", "k_3", "b", "k_17", "a", "k_40", "b", "k_5", "a", "k_22", "c"]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA"]),
        "*50\r\n$1\r\n9\r\n$1\r\n8\r\n$1\r\n7\r\n$1\r\n6\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n19\r\n$2\r\n18\r\n$2\r\n16\r\n$2\r\n15\r\n$2\r\n14\r\n$2\r\n13\r\n$2\r\n12\r\n$2\r\n11\r\n$2\r\n10\r\n$2\r\n29\r\n$2\r\n28\r\n$2\r\n27\r\n$2\r\n26\r\n$2\r\n25\r\n$2\r\n24\r\n$2\r\n23\r\n$2\r\n21\r\n$2\r\n20\r\n$2\r\n39\r\n$2\r\n38\r\n$2\r\n37\r\n$2\r\n36\r\n$2\r\n35\r\n$2\r\n34\r\n$2\r\n33\r\n$2\r\n32\r\n$2\r\n31\r\n$2\r\n30\r\n$2\r\n49\r\n$2\r\n48\r\n$2\r\n47\r\n$2\r\n46\r\n$2\r\n45\r\n$2\r\n44\r\n$2\r\n43\r\n$2\r\n42\r\n$2\r\n41\r\n$1\r\n5\r\n$2\r\n17\r\n$1\r\n3\r\n$2\r\n40\r\n$2\r\n22\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "0", "10"]),
        "*10\r\n$2\r\n32\r\n$1\r\n8\r\n$1\r\n7\r\n$1\r\n6\r\n$2\r\n45\r\n$2\r\n44\r\n$2\r\n43\r\n$2\r\n42\r\n$2\r\n41\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "5", "10"]),
        "*10\r\n$2\r\n44\r\n$2\r\n43\r\n$2\r\n42\r\n$2\r\n41\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n19\r\n$2\r\n18\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "40", "20"]),
        "*10\r\n$2\r\n30\r\n$2\r\n49\r\n$2\r\n48\r\n$2\r\n47\r\n$2\r\n46\r\n$1\r\n5\r\n$2\r\n17\r\n$1\r\n3\r\n$2\r\n40\r\n$2\r\n22\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "big", "BY", "k_*", "ALPHA", "DESC", "LIMIT", "3", "7"]
        ),
        "*7\r\n$1\r\n5\r\n$2\r\n17\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n19\r\n$2\r\n18\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "0", "50"]),
        "*50\r\n$1\r\n9\r\n$1\r\n8\r\n$1\r\n7\r\n$1\r\n6\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n19\r\n$2\r\n18\r\n$2\r\n16\r\n$2\r\n15\r\n$2\r\n14\r\n$2\r\n13\r\n$2\r\n12\r\n$2\r\n11\r\n$2\r\n10\r\n$2\r\n29\r\n$2\r\n28\r\n$2\r\n27\r\n$2\r\n26\r\n$2\r\n25\r\n$2\r\n24\r\n$2\r\n23\r\n$2\r\n21\r\n$2\r\n20\r\n$2\r\n39\r\n$2\r\n38\r\n$2\r\n37\r\n$2\r\n36\r\n$2\r\n35\r\n$2\r\n34\r\n$2\r\n33\r\n$2\r\n32\r\n$2\r\n31\r\n$2\r\n30\r\n$2\r\n49\r\n$2\r\n48\r\n$2\r\n47\r\n$2\r\n46\r\n$2\r\n45\r\n$2\r\n44\r\n$2\r\n43\r\n$2\r\n42\r\n$2\r\n41\r\n$1\r\n5\r\n$2\r\n17\r\n$1\r\n3\r\n$2\r\n40\r\n$2\r\n22\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "0", "49"]),
        "*49\r\n$2\r\n32\r\n$1\r\n8\r\n$1\r\n7\r\n$1\r\n6\r\n$2\r\n45\r\n$2\r\n44\r\n$2\r\n43\r\n$2\r\n42\r\n$2\r\n41\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n0\r\n$2\r\n19\r\n$2\r\n18\r\n$2\r\n16\r\n$2\r\n15\r\n$2\r\n14\r\n$2\r\n13\r\n$2\r\n12\r\n$2\r\n11\r\n$2\r\n10\r\n$2\r\n29\r\n$2\r\n28\r\n$2\r\n27\r\n$2\r\n26\r\n$2\r\n25\r\n$2\r\n24\r\n$2\r\n23\r\n$2\r\n21\r\n$2\r\n20\r\n$2\r\n39\r\n$2\r\n38\r\n$2\r\n37\r\n$2\r\n36\r\n$2\r\n35\r\n$2\r\n34\r\n$2\r\n33\r\n$1\r\n9\r\n$2\r\n31\r\n$2\r\n30\r\n$2\r\n49\r\n$2\r\n48\r\n$2\r\n47\r\n$2\r\n46\r\n$1\r\n5\r\n$2\r\n17\r\n$1\r\n3\r\n$2\r\n40\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "big", "BY", "k_*", "ALPHA", "LIMIT", "20", "3", "GET", "#", "GET", "k_*"]
        ),
        "*6\r\n$2\r\n11\r\n$-1\r\n$2\r\n10\r\n$-1\r\n$2\r\n29\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "big", "BY", "k_*", "LIMIT", "10", "5"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RPUSH", "small", "3", "1", "2", "5", "4"]),
        ":5\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "small", "BY", "nokey_*", "ALPHA", "LIMIT", "1", "3"]
        ),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "small", "BY", "nokey_*", "ALPHA"]),
        "*5\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n5\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "small", "BY", "nokey_*", "LIMIT", "1", "3"]),
        "*3\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RPUSH", "seven", "7", "6", "5", "4", "3", "2", "1"]),
        ":7\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "seven", "BY", "nokey_*", "ALPHA", "LIMIT", "0", "6"]
        ),
        "*6\r\n$1\r\n4\r\n$1\r\n6\r\n$1\r\n5\r\n$1\r\n7\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["RPUSH", "eight", "8", "7", "6", "5", "4", "3", "2", "1"]
        ),
        ":8\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "eight", "BY", "nokey_*", "ALPHA", "LIMIT", "0", "7"]
        ),
        "*7\r\n$1\r\n1\r\n$1\r\n7\r\n$1\r\n6\r\n$1\r\n5\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "eight", "BY", "nokey_*", "ALPHA", "DESC", "LIMIT", "2", "3"]
        ),
        "*3\r\n$1\r\n6\r\n$1\r\n5\r\n$1\r\n4\r\n"
    );
}

#[test]
fn sets() {
    let (mut t, c) = TestNode::with_client();
    // an intset iterates in ascending order
    assert_eq!(
        t.cmd(c, &["SADD", "iset", "5", "3", "10", "-2", "7"]),
        ":5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset"]),
        "*5\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "DESC"]),
        "*5\r\n$2\r\n10\r\n$1\r\n7\r\n$1\r\n5\r\n$1\r\n3\r\n$2\r\n-2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "BY", "nosort"]),
        "*5\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "BY", "nosort", "DESC"]),
        "*5\r\n$2\r\n-2\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "BY", "nosort", "LIMIT", "1", "2"]),
        "*2\r\n$1\r\n3\r\n$1\r\n5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "ALPHA"]),
        "*5\r\n$2\r\n-2\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n"
    );
    // stored, an unsorted set is sorted with ALPHA
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "BY", "nosort", "STORE", "dst"]),
        ":5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*5\r\n$2\r\n-2\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\n5\r\n$1\r\n7\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "iset", "BY", "nosort", "DESC", "STORE", "dst"]),
        ":5\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*5\r\n$1\r\n7\r\n$1\r\n5\r\n$1\r\n3\r\n$2\r\n10\r\n$2\r\n-2\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT", "iset", "BY", "nosort", "DESC", "LIMIT", "1", "2", "STORE", "dst", "GET",
                "#"
            ]
        ),
        ":2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*2\r\n$1\r\n5\r\n$1\r\n3\r\n"
    );
    assert_eq!(t.cmd(c, &["SADD", "sset", "b", "a", "c"]), ":3\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "sset", "ALPHA"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "sset"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "sset", "ALPHA", "DESC", "LIMIT", "0", "2"]),
        "*2\r\n$1\r\nc\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "sset", "BY", "nosort", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "sset", "BY", "nosort", "STORE", "dst", "GET", "h_*->f", "GET", "#"]
        ),
        ":6\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*6\r\n$0\r\n\r\n$1\r\na\r\n$0\r\n\r\n$1\r\nb\r\n$0\r\n\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MSET", "w_a", "2", "w_b", "1", "w_c", "3"]),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "sset", "BY", "w_*"]),
        "*3\r\n$1\r\nb\r\n$1\r\na\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "sset", "BY", "w_*", "GET", "w_*"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "sset", "BY", "w_*", "DESC"]),
        "*3\r\n$1\r\nc\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

#[test]
fn sorted_sets() {
    let (mut t, c) = TestNode::with_client();
    // sorted by member values; BY nosort keeps the sorted set's order
    assert_eq!(
        t.cmd(c, &["ZADD", "zs", "1", "c", "2", "b", "3", "a"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "ALPHA"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "BY", "nosort"]),
        "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "BY", "nosort", "DESC"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "BY", "nosort", "LIMIT", "1", "5"]),
        "*2\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "zs", "BY", "nosort", "DESC", "LIMIT", "1", "1"]
        ),
        "*1\r\n$1\r\nb\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "zs", "BY", "nosort", "DESC", "LIMIT", "2", "5"]
        ),
        "*1\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "BY", "nosort", "LIMIT", "5", "1"]),
        "*0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zs", "BY", "nosort", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["ZADD", "zn", "3", "10", "1", "30", "2", "20"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn"]),
        "*3\r\n$2\r\n10\r\n$2\r\n20\r\n$2\r\n30\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "DESC"]),
        "*3\r\n$2\r\n30\r\n$2\r\n20\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "BY", "nosort"]),
        "*3\r\n$2\r\n30\r\n$2\r\n20\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "BY", "nosort", "GET", "#"]),
        "*3\r\n$2\r\n30\r\n$2\r\n20\r\n$2\r\n10\r\n"
    );
    // SORT leaves a sorted set in its large encoding
    assert_eq!(t.cmd(c, &["ZADD", "ze", "1", "x"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "ze"]),
        "$8\r\nlistpack\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "ze", "BY", "nosort"]),
        "*1\r\n$1\r\nx\r\n"
    );
    assert_eq!(
        t.cmd(c, &["OBJECT", "ENCODING", "ze"]),
        "$8\r\nskiplist\r\n"
    );
    assert_eq!(t.cmd(c, &["ZSCORE", "ze", "x"]), "$1\r\n1\r\n");
}

#[test]
fn store() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(
        t.cmd(c, &["ZADD", "zn", "3", "10", "1", "30", "2", "20"]),
        ":3\r\n"
    );
    assert_eq!(t.cmd(c, &["SET", "str", "x"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SORT", "zn", "STORE", "str"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["TYPE", "str"]), "+list\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "str", "0", "-1"]),
        "*3\r\n$2\r\n10\r\n$2\r\n20\r\n$2\r\n30\r\n"
    );
    assert_eq!(t.cmd(c, &["EXPIRE", "str", "100"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SORT", "zn", "STORE", "str"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["TTL", "str"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "str"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "str"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "str"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "LIMIT", "0", "0", "STORE", "str"]),
        ":0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "LIMIT", "0", "1", "STORE", "str"]),
        ":1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "str", "0", "-1"]),
        "*1\r\n$2\r\n10\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "LIMIT", "0", "0", "STORE", "str"]),
        ":0\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "str"]), ":0\r\n");
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "zn",
                "BY",
                "nosort",
                "GET",
                "nothing_*",
                "STORE",
                "dst"
            ]
        ),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*3\r\n$0\r\n\r\n$0\r\n\r\n$0\r\n\r\n"
    );
    assert_eq!(t.cmd(c, &["SET", "w_10", "a"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "GET", "#", "GET", "w_*", "STORE", "dst"]),
        ":6\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*6\r\n$2\r\n10\r\n$1\r\na\r\n$2\r\n20\r\n$0\r\n\r\n$2\r\n30\r\n$0\r\n\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "zn", "STORE", "dst", "STORE", "dst2"]),
        ":3\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "dst", "dst2"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst2", "0", "-1"]),
        "*3\r\n$2\r\n10\r\n$2\r\n20\r\n$2\r\n30\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "zn", "STORE", "zn"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["TYPE", "zn"]), "+list\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "zn", "0", "-1"]),
        "*3\r\n$2\r\n10\r\n$2\r\n20\r\n$2\r\n30\r\n"
    );
    // STORE compares whole values where the reply stops at a zero byte
    assert_eq!(
        t.cmd(c, &["RPUSH", "al", "b\u{0}z", "b\u{0}a", "b", "a"]),
        ":4\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "al", "ALPHA", "STORE", "dst"]), ":4\r\n");
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$3\r\nb\u{0}a\r\n$3\r\nb\u{0}z\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "al", "ALPHA", "DESC", "STORE", "dst"]),
        ":4\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*4\r\n$3\r\nb\u{0}z\r\n$3\r\nb\u{0}a\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MSET", "v_a", "b\u{0}z", "v_b", "b\u{0}a", "v_c", "b"]),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["RPUSH", "ks", "a", "b", "c"]), ":3\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "ks", "BY", "v_*", "ALPHA"]),
        "*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "ks", "BY", "v_*", "ALPHA", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "dst", "0", "-1"]),
        "*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n"
    );
    // nothing stored on an error
    assert_eq!(t.cmd(c, &["SET", "dst", "keep"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["RPUSH", "bad", "1", "x"]), ":2\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "bad", "STORE", "dst"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "dst"]), "$4\r\nkeep\r\n");
}

#[test]
fn errors() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "l", "c", "a", "d", "b"]), ":4\r\n");
    assert_eq!(t.cmd(c, &["SET", "s", "v"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["HSET", "h", "f", "v"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "s"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "h"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "s"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "s", "LIMIT", "x", "y"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "s", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(t.cmd(c, &["SORT", "l", "FOO"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "ALPHA", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "l", "BY"]), "-ERR syntax error\r\n");
    assert_eq!(t.cmd(c, &["SORT", "l", "GET"]), "-ERR syntax error\r\n");
    assert_eq!(t.cmd(c, &["SORT", "l", "STORE"]), "-ERR syntax error\r\n");
    assert_eq!(t.cmd(c, &["SORT", "l", "LIMIT"]), "-ERR syntax error\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "l", "LIMIT", "0"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "DESCENDING"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "l", "STORE", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "l", "ALPHA", "STORE", "x"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO", "l", "ALPHA"]),
        "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT"]),
        "-ERR wrong number of arguments for 'sort' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT_RO"]),
        "-ERR wrong number of arguments for 'sort_ro' command\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "missing"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "missing", "BY", "nosort", "GET", "#"]),
        "*0\r\n"
    );
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "dst"]), ":0\r\n");
}

// Changes counted: one per value stored, one for a deleted destination;
// keyspace hits and misses: the key sorted, then every key a BY or GET
// pattern reads (BY for every element, even past LIMIT).
#[test]
fn changes_hits_and_misses() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "l", "c", "a", "b"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["MSET", "w_a", "1", "w_c", "2"]), "+OK\r\n");
    let (dirty, (hits, misses)) = (t.dirty(), t.hits_and_misses());
    let args = [
        "SORT", "l", "BY", "w_*", "GET", "#", "GET", "w_*", "GET", "h_*->f", "GET", "nostar",
    ];
    assert_eq!(
        t.cmd(c, &args),
        "*12\r\n$1\r\nb\r\n$-1\r\n$-1\r\n$-1\r\n$1\r\na\r\n$1\r\n1\r\n$-1\r\n$-1\r\n$1\r\nc\r\n$1\r\n2\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(t.hits_and_misses(), (hits + 5, misses + 5));
    assert_eq!(t.dirty(), dirty);
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "GET", "w_*", "STORE", "dst"]),
        ":3\r\n"
    );
    assert_eq!(t.hits_and_misses(), (hits + 10, misses + 7));
    assert_eq!(t.dirty(), dirty + 3);
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "dst"]), ":0\r\n");
    assert_eq!(t.hits_and_misses(), (hits + 10, misses + 8));
    assert_eq!(t.dirty(), dirty + 4);
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "dst"]), ":0\r\n");
    assert_eq!(t.dirty(), dirty + 4);
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "nosort", "GET", "w_*"]),
        "*3\r\n$1\r\n2\r\n$1\r\n1\r\n$-1\r\n"
    );
    assert_eq!(t.hits_and_misses(), (hits + 13, misses + 10));
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "w_*", "LIMIT", "0", "0"]),
        "*0\r\n"
    );
    assert_eq!(t.hits_and_misses(), (hits + 16, misses + 11));
    assert_eq!(t.dirty(), dirty + 4);
}

// Moving a sorted set to its large encoding is no change for WATCH; a
// stored result is.
#[test]
fn watch() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["ZADD", "z", "1", "a"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["WATCH", "z"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SORT", "z", "BY", "nosort"]),
        "*1\r\n$1\r\na\r\n"
    );
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n+PONG\r\n");
    assert_eq!(t.cmd(c, &["OBJECT", "ENCODING", "z"]), "$8\r\nskiplist\r\n");
    assert_eq!(t.cmd(c, &["WATCH", "dst"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SORT", "missing", "STORE", "dst"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n+PONG\r\n");
    assert_eq!(t.cmd(c, &["WATCH", "dst"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SORT", "z", "ALPHA", "STORE", "dst"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*-1\r\n");
}

// SORT writes (STORE) and may grow memory; SORT_RO only reads.
#[test]
fn flags() {
    let sort = table().get(b"sort").expect("SORT is defined");
    assert_eq!(sort.flags, flag::WRITE | flag::DENYOOM);
    assert_eq!((sort.arity, sort.keys), (-2, (1, 1, 1)));
    let sort_ro = table().get(b"SORT_RO").expect("SORT_RO is defined");
    assert_eq!(sort_ro.flags, flag::READONLY);
    assert_eq!((sort_ro.arity, sort_ro.keys), (-2, (1, 1, 1)));
}

// A long list: partial sorts of many equal values (Redis's quicksort
// order), and what a client may send without harm: huge LIMITs, patterns
// without `*` or empty.
#[test]
fn long_list() {
    let (mut t, c) = TestNode::with_client();
    let elements: Vec<String> = (0..2000).map(|n| (n * 7919 % 1000).to_string()).collect();
    let mut push = vec!["RPUSH", "l"];
    push.extend(elements.iter().map(String::as_str));
    assert_eq!(t.cmd(c, &push), ":2000\r\n");
    assert_eq!(
        t.cmd(
            c,
            &["MSET", "500", "m", "7", "a", "919", "z", "81", "m", "3", "a"]
        ),
        "+OK\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", "1000", "1"]
        ),
        "*1\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", "0", "5"]
        ),
        "*5\r\n$2\r\n81\r\n$3\r\n919\r\n$3\r\n838\r\n$3\r\n757\r\n$3\r\n676\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", "1995", "10"]
        ),
        "*5\r\n$3\r\n405\r\n$3\r\n324\r\n$3\r\n243\r\n$3\r\n162\r\n$1\r\n0\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "nokey_*", "ALPHA", "DESC", "LIMIT", "1990", "5"]
        ),
        "*5\r\n$3\r\n810\r\n$3\r\n729\r\n$3\r\n648\r\n$3\r\n567\r\n$3\r\n486\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "nokey_*", "ALPHA", "LIMIT", "777", "4"]
        ),
        "*4\r\n$2\r\n63\r\n$3\r\n982\r\n$3\r\n901\r\n$3\r\n820\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "ALPHA", "LIMIT", "0", "8"]),
        "*8\r\n$3\r\n581\r\n$3\r\n891\r\n$3\r\n810\r\n$3\r\n729\r\n$3\r\n648\r\n$3\r\n567\r\n$3\r\n486\r\n$3\r\n405\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "ALPHA", "DESC", "LIMIT", "0", "8"]),
        "*8\r\n$3\r\n919\r\n$3\r\n919\r\n$3\r\n500\r\n$2\r\n81\r\n$3\r\n500\r\n$2\r\n81\r\n$1\r\n7\r\n$1\r\n3\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "ALPHA", "LIMIT", "1500", "6"]),
        "*6\r\n$3\r\n743\r\n$3\r\n662\r\n$1\r\n0\r\n$3\r\n419\r\n$3\r\n338\r\n$3\r\n257\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "ALPHA", "LIMIT", "1", "1"]),
        "*1\r\n$3\r\n891\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT", "l", "BY", "*", "ALPHA", "DESC", "LIMIT", "1997", "5", "GET", "#", "GET",
                "*"
            ]
        ),
        "*6\r\n$3\r\n352\r\n$-1\r\n$3\r\n271\r\n$-1\r\n$3\r\n190\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "LIMIT", "1000", "3"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "LIMIT", "1000", "2"]),
        "*2\r\n$3\r\n500\r\n$3\r\n500\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "", "GET", "", "LIMIT", "0", "1"]),
        "*1\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["SORT", "l", "BY", "*->", "GET", "*->", "LIMIT", "0", "1"]
        ),
        "*1\r\n$-1\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "l",
                "BY",
                "*",
                "LIMIT",
                "9223372036854775807",
                "9223372036854775807"
            ]
        ),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &[
                "SORT",
                "l",
                "BY",
                "*",
                "LIMIT",
                "1999",
                "9223372036854775807"
            ]
        ),
        "-ERR One or more scores can't be converted into double\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SORT", "l", "BY", "*", "LIMIT", "2000", "-1"]),
        "-ERR One or more scores can't be converted into double\r\n"
    );
}
