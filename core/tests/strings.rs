//! String commands: exact replies and errors as Redis 7.0 gives them, SET's
//! options, expiry through SET/GETEX, the INCR family and INCRBYFLOAT's
//! formatting, ranges, RESP3 nulls, change counting, keyspace hit/miss
//! counting and WATCH.

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

const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";

// GET and SET round-trip binary-safe values; a missing key is null.
#[test]
fn get_and_set() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["GET", "k"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", ""]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$0\r\n\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "a\r\nb"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$4\r\na\r\nb\r\n");
    assert_eq!(
        t.cmd(c, &["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SET", "k"]),
        "-ERR wrong number of arguments for 'set' command\r\n"
    );
}

// RESP3 clients get `_` where RESP2 clients get a null bulk.
#[test]
fn resp3_nulls() {
    let (mut t, c) = node();
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(t.cmd(c, &["GET", "nokey"]), "_\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v", "GET"]), "_\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v", "NX"]), "_\r\n");
    assert_eq!(t.cmd(c, &["MGET", "k", "nokey"]), "*2\r\n$1\r\nv\r\n_\r\n");
    assert_eq!(t.cmd(c, &["GETDEL", "nokey"]), "_\r\n");
    assert_eq!(t.cmd(c, &["GETEX", "nokey"]), "_\r\n");
    assert_eq!(t.cmd(c, &["GETSET", "new", "1"]), "_\r\n");
}

// NX and XX decide whether SET stores; GET returns the old value either way.
#[test]
fn set_conditions_and_get() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["SET", "k", "1", "XX"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "1", "NX"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "2", "NX"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "3", "xx"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "4", "GET"]), "$1\r\n3\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "5", "NX", "GET"]), "$1\r\n4\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\n4\r\n");
    assert_eq!(t.cmd(c, &["SET", "n", "1", "GET", "NX"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["GET", "n"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["SET", "m", "1", "XX", "GET"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "m"]), ":0\r\n");
}

// SET's option errors, in Redis's order: syntax first, then the number.
#[test]
fn set_option_errors() {
    let (mut t, c) = node();
    for options in [
        &["NX", "XX"][..],
        &["XX", "NX"],
        &["EX", "10", "PX", "100"],
        &["KEEPTTL", "EX", "10"],
        &["EX", "10", "KEEPTTL"],
        &["EX"],
        &["PERSIST"],
        &["FOO"],
        &["EX", "abc", "NX", "XX"],
    ] {
        let mut args = vec!["SET", "k", "v"];
        args.extend_from_slice(options);
        assert_eq!(t.cmd(c, &args), SYNTAX, "{options:?}");
    }
    assert_eq!(t.cmd(c, &["SET", "k", "v", "EX", "abc"]), NOT_INTEGER);
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    for (option, amount) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "0"),
        ("EX", "9223372036854775"),
        ("EX", "9223372036854776"),
        ("PX", "9223372036854775807"),
    ] {
        assert_eq!(
            t.cmd(c, &["SET", "k", "v", option, amount]),
            invalid,
            "{option} {amount}"
        );
    }
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(dirty(&t), 0);
    // Repeating an option is allowed; the last expiry wins.
    assert_eq!(
        t.cmd(c, &["SET", "k", "v", "EX", "10", "EX", "20"]),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":20\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v", "NX", "NX"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["SET", "k", "v", "EXAT", "9223372036854775"]),
        "+OK\r\n"
    );
}

// EX/PX/EXAT/PXAT set the expiry; a plain SET clears it, KEEPTTL keeps it.
#[test]
fn set_expiry_options() {
    let (mut t, c) = node();
    let now_s = 1_700_000_000i64;
    assert_eq!(t.cmd(c, &["SET", "k", "v", "EX", "100"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":100000\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "v", "PX", "1500"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":1500\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":2\r\n");
    let at = (now_s + 50).to_string();
    assert_eq!(t.cmd(c, &["SET", "k", "v", "EXAT", &at]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["EXPIRETIME", "k"]), format!(":{at}\r\n"));
    let at_ms = (now_s * 1000 + 1234).to_string();
    assert_eq!(t.cmd(c, &["SET", "k", "v", "PXAT", &at_ms]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PEXPIRETIME", "k"]), format!(":{at_ms}\r\n"));
    assert_eq!(t.cmd(c, &["SET", "k", "w", "KEEPTTL"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":1234\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nw\r\n");
    assert_eq!(t.cmd(c, &["SET", "k", "x"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-1\r\n");
    // An absolute time in the past stores a key that is already gone.
    assert_eq!(t.cmd(c, &["SET", "k", "v", "PXAT", "1"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$-1\r\n");
}

// SETNX, SETEX and PSETEX are SET with fixed options.
#[test]
fn setnx_setex_psetex() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["SETNX", "k", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SETNX", "k", "2"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(c, &["SETEX", "k", "10", "v"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":10\r\n");
    assert_eq!(t.cmd(c, &["PSETEX", "k", "900", "v"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":900\r\n");
    assert_eq!(
        t.cmd(c, &["SETEX", "k", "0", "v"]),
        "-ERR invalid expire time in 'setex' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["PSETEX", "k", "-5", "v"]),
        "-ERR invalid expire time in 'psetex' command\r\n"
    );
    assert_eq!(t.cmd(c, &["SETEX", "k", "x", "v"]), NOT_INTEGER);
    assert_eq!(
        t.cmd(c, &["SETEX", "k", "10"]),
        "-ERR wrong number of arguments for 'setex' command\r\n"
    );
}

// GETSET clears the time to live; GETDEL removes the key.
#[test]
fn getset_and_getdel() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "old", "EX", "100"]);
    assert_eq!(t.cmd(c, &["GETSET", "k", "new"]), "$3\r\nold\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["GETDEL", "k"]), "$3\r\nnew\r\n");
    assert_eq!(t.cmd(c, &["GETDEL", "k"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n");
}

// GETEX changes or removes the expiry; a past EXAT deletes the key.
#[test]
fn getex() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["GETEX", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["GETEX", "k", "EX", "100"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":100\r\n");
    assert_eq!(t.cmd(c, &["GETEX", "k", "PX", "5000"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["PTTL", "k"]), ":5000\r\n");
    assert_eq!(t.cmd(c, &["GETEX", "k", "PERSIST"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-1\r\n");
    for options in [
        &["PERSIST", "EX", "10"][..],
        &["EX", "10", "PERSIST"],
        &["FOO"],
        &["NX"],
        &["KEEPTTL"],
        &["GET"],
    ] {
        let mut args = vec!["GETEX", "k"];
        args.extend_from_slice(options);
        assert_eq!(t.cmd(c, &args), SYNTAX, "{options:?}");
    }
    assert_eq!(
        t.cmd(c, &["GETEX", "k", "EX", "0"]),
        "-ERR invalid expire time in 'getex' command\r\n"
    );
    assert_eq!(t.cmd(c, &["GETEX", "k", "EX", "x"]), NOT_INTEGER);
    // A missing key is looked up before the number is checked.
    assert_eq!(t.cmd(c, &["GETEX", "nokey", "EX", "0"]), "$-1\r\n");
    let before = dirty(&t);
    assert_eq!(t.cmd(c, &["GETEX", "k", "EXAT", "1"]), "$1\r\nv\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(dirty(&t), before + 1);
}

// GETEX counts a change only when it changes something.
#[test]
fn getex_counts_changes() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v"]);
    let before = dirty(&t);
    t.cmd(c, &["GETEX", "k"]);
    t.cmd(c, &["GETEX", "k", "PERSIST"]);
    assert_eq!(dirty(&t), before);
    t.cmd(c, &["GETEX", "k", "EX", "10"]);
    t.cmd(c, &["GETEX", "k", "PERSIST"]);
    assert_eq!(dirty(&t), before + 2);
}

// MGET returns null for missing keys; MSET and MSETNX set pairs.
#[test]
fn mget_mset_msetnx() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["MSET", "a", "1", "b", "2"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["MGET", "a", "nokey", "b"]),
        "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MSET", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["MSETNX", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'msetnx' command\r\n"
    );
    assert_eq!(t.cmd(c, &["MSETNX", "c", "3", "a", "9"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "c"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["MSETNX", "c", "3", "d", "4"]), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["MGET", "c", "d"]),
        "*2\r\n$1\r\n3\r\n$1\r\n4\r\n"
    );
    t.cmd(c, &["SET", "e", "v", "EX", "100"]);
    t.cmd(c, &["MSET", "e", "w"]);
    assert_eq!(t.cmd(c, &["TTL", "e"]), ":-1\r\n");
}

// The INCR family: arithmetic, the time to live kept, and every error.
#[test]
fn incr_family() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["INCR", "n"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["INCRBY", "n", "10"]), ":11\r\n");
    assert_eq!(t.cmd(c, &["DECR", "n"]), ":10\r\n");
    assert_eq!(t.cmd(c, &["DECRBY", "n", "15"]), ":-5\r\n");
    assert_eq!(t.cmd(c, &["GET", "n"]), "$2\r\n-5\r\n");
    assert_eq!(t.cmd(c, &["DECR", "fresh"]), ":-1\r\n");
    t.cmd(c, &["SET", "n", "5", "EX", "100"]);
    assert_eq!(t.cmd(c, &["INCR", "n"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["TTL", "n"]), ":100\r\n");
    for bad in [
        " 1",
        "1 ",
        "01",
        "+1",
        "1.0",
        "abc",
        "",
        "99999999999999999999",
    ] {
        t.cmd(c, &["SET", "s", bad]);
        assert_eq!(t.cmd(c, &["INCR", "s"]), NOT_INTEGER, "{bad:?}");
    }
    assert_eq!(t.cmd(c, &["INCRBY", "n", "x"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["DECRBY", "n", "1.5"]), NOT_INTEGER);
    t.cmd(c, &["SET", "max", "9223372036854775807"]);
    let overflow = "-ERR increment or decrement would overflow\r\n";
    assert_eq!(t.cmd(c, &["INCR", "max"]), overflow);
    t.cmd(c, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(t.cmd(c, &["DECR", "min"]), overflow);
    assert_eq!(t.cmd(c, &["INCRBY", "min", "-1"]), overflow);
    assert_eq!(
        t.cmd(c, &["DECRBY", "x", "-9223372036854775808"]),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(
        t.cmd(c, &["INCRBY", "x", "9223372036854775807"]),
        ":9223372036854775807\r\n"
    );
}

// INCRBYFLOAT prints as Redis does for ordinary sums and rejects bad input.
#[test]
fn incrbyfloat() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "f", "0.1"]), "$3\r\n0.1\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "f", "0.2"]), "$3\r\n0.3\r\n");
    assert_eq!(t.cmd(c, &["GET", "f"]), "$3\r\n0.3\r\n");
    t.cmd(c, &["SET", "g", "10.50"]);
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "g", "0.1"]), "$4\r\n10.6\r\n");
    t.cmd(c, &["SET", "h", "5.0e3"]);
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "h", "2.0e2"]), "$4\r\n5200\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "h", "-5200"]), "$1\r\n0\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "i", "+1.5"]), "$3\r\n1.5\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "j", ".5"]), "$3\r\n0.5\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "k", "5."]), "$1\r\n5\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "l", "1e-20"]), "$1\r\n0\r\n");
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "m", "1.2345678e-12"]),
        "$19\r\n0.00000000000123457\r\n"
    );
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "o", "1e17"]),
        "$18\r\n100000000000000000\r\n"
    );
    t.cmd(c, &["SET", "p", "3", "EX", "100"]);
    t.cmd(c, &["INCRBYFLOAT", "p", "1.5"]);
    assert_eq!(t.cmd(c, &["TTL", "p"]), ":100\r\n");
    for bad in [" 1.5", "1.5 ", "abc", "", "nan"] {
        t.cmd(c, &["SET", "s", bad]);
        assert_eq!(t.cmd(c, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT, "{bad:?}");
        assert_eq!(t.cmd(c, &["INCRBYFLOAT", "f", bad]), NOT_FLOAT, "{bad:?}");
    }
    let nan_or_infinity = "-ERR increment would produce NaN or Infinity\r\n";
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "f", "inf"]), nan_or_infinity);
    t.cmd(c, &["SET", "big", "inf"]);
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "big", "1"]), nan_or_infinity);
    assert_eq!(t.cmd(c, &["GET", "f"]), "$3\r\n0.3\r\n");
}

// APPEND creates or extends and keeps the time to live.
#[test]
fn append_and_strlen() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["STRLEN", "k"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["APPEND", "k", "Hello"]), ":5\r\n");
    t.cmd(c, &["EXPIRE", "k", "100"]);
    assert_eq!(t.cmd(c, &["APPEND", "k", " World"]), ":11\r\n");
    assert_eq!(t.cmd(c, &["APPEND", "k", ""]), ":11\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$11\r\nHello World\r\n");
    assert_eq!(t.cmd(c, &["STRLEN", "k"]), ":11\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":100\r\n");
}

// GETRANGE and SUBSTR clamp positions as Redis does.
#[test]
fn getrange_and_substr() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "This is a string"]);
    assert_eq!(t.cmd(c, &["GETRANGE", "k", "0", "3"]), "$4\r\nThis\r\n");
    assert_eq!(t.cmd(c, &["GETRANGE", "k", "-3", "-1"]), "$3\r\ning\r\n");
    assert_eq!(
        t.cmd(c, &["GETRANGE", "k", "0", "-1"]),
        "$16\r\nThis is a string\r\n"
    );
    assert_eq!(
        t.cmd(c, &["GETRANGE", "k", "10", "100"]),
        "$6\r\nstring\r\n"
    );
    assert_eq!(t.cmd(c, &["GETRANGE", "k", "-5", "-10"]), "$0\r\n\r\n");
    assert_eq!(t.cmd(c, &["GETRANGE", "k", "5", "2"]), "$0\r\n\r\n");
    assert_eq!(t.cmd(c, &["GETRANGE", "nokey", "0", "-1"]), "$0\r\n\r\n");
    assert_eq!(t.cmd(c, &["SUBSTR", "k", "0", "3"]), "$4\r\nThis\r\n");
    assert_eq!(t.cmd(c, &["GETRANGE", "k", "a", "3"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["GETRANGE", "nokey", "0", "b"]), NOT_INTEGER);
    t.cmd(c, &["SET", "n", "12345"]);
    assert_eq!(t.cmd(c, &["GETRANGE", "n", "1", "2"]), "$2\r\n23\r\n");
}

// SETRANGE pads with zero bytes and checks the offset and the size limit.
#[test]
fn setrange() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "Hello World"]);
    assert_eq!(t.cmd(c, &["SETRANGE", "k", "6", "Redis"]), ":11\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$11\r\nHello Redis\r\n");
    assert_eq!(t.cmd(c, &["SETRANGE", "new", "3", "ab"]), ":5\r\n");
    assert_eq!(t.cmd(c, &["GET", "new"]), "$5\r\n\0\0\0ab\r\n");
    assert_eq!(t.cmd(c, &["SETRANGE", "none", "5", ""]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "none"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SETRANGE", "k", "100", ""]), ":11\r\n");
    assert_eq!(
        t.cmd(c, &["SETRANGE", "k", "-1", "x"]),
        "-ERR offset is out of range\r\n"
    );
    assert_eq!(t.cmd(c, &["SETRANGE", "k", "abc", "x"]), NOT_INTEGER);
    let too_long = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    assert_eq!(t.cmd(c, &["SETRANGE", "k", "536870912", "x"]), too_long);
    assert_eq!(t.cmd(c, &["SETRANGE", "z", "536870912", "x"]), too_long);
    assert_eq!(
        t.cmd(c, &["SETRANGE", "z", "9223372036854775807", "x"]),
        too_long
    );
    assert_eq!(t.cmd(c, &["EXISTS", "z"]), ":0\r\n");
    t.cmd(c, &["EXPIRE", "k", "100"]);
    t.cmd(c, &["SETRANGE", "k", "0", "J"]);
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":100\r\n");
}

// Each write counts its changes as Redis's server.dirty does; failed or
// declined writes count nothing.
#[test]
fn changes_are_counted() {
    let (mut t, c) = node();
    let steps: &[(&[&str], u64)] = &[
        (&["SET", "a", "1"], 1),
        (&["SET", "a", "1", "NX"], 0),
        (&["SET", "a", "2", "XX", "GET"], 1),
        (&["SETNX", "a", "1"], 0),
        (&["SETEX", "b", "10", "v"], 1),
        (&["MSET", "c", "1", "d", "2", "e", "3"], 3),
        (&["MSETNX", "c", "1", "f", "2"], 0),
        (&["MSETNX", "g", "1", "h", "2"], 2),
        (&["INCR", "a"], 1),
        (&["INCR", "b"], 0),
        (&["INCRBYFLOAT", "a", "1.5"], 1),
        (&["APPEND", "a", "x"], 1),
        (&["SETRANGE", "a", "0", "y"], 1),
        (&["SETRANGE", "a", "0", ""], 0),
        (&["GETSET", "a", "1"], 1),
        (&["GETDEL", "a"], 1),
        (&["GETDEL", "a"], 0),
        (&["GET", "c"], 0),
        (&["MGET", "c", "d"], 0),
    ];
    for (args, changes) in steps {
        let before = dirty(&t);
        t.cmd(c, args);
        assert_eq!(dirty(&t) - before, *changes, "{args:?}");
    }
}

// Reads count keyspace hits and misses; writes do not.
#[test]
fn hits_and_misses_are_counted() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["INCR", "a"]);
    t.cmd(c, &["APPEND", "b", "x"]);
    assert_eq!(hits_and_misses(&t), (0, 0));
    t.cmd(c, &["GET", "a"]);
    t.cmd(c, &["GET", "nokey"]);
    assert_eq!(hits_and_misses(&t), (1, 1));
    t.cmd(c, &["MGET", "a", "b", "nokey"]);
    assert_eq!(hits_and_misses(&t), (3, 2));
    t.cmd(c, &["SET", "x", "1", "GET"]);
    t.cmd(c, &["STRLEN", "a"]);
    t.cmd(c, &["GETRANGE", "a", "0", "1"]);
    assert_eq!(hits_and_misses(&t), (5, 3));
}

// Keys past their time read as missing and are removed lazily.
#[test]
fn lazy_expiry() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "v", "PX", "100"]);
    t.cmd(c, &["SET", "n", "5", "PX", "100"]);
    t.node.env_mut().wall_ms += 100;
    assert_eq!(t.cmd(c, &["GET", "k"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["INCR", "n"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["TTL", "n"]), ":-1\r\n");
    assert_eq!(t.node.server().stats.expired_keys, 2);
}

// A WATCHed key written by string commands makes EXEC fail.
#[test]
fn writes_invalidate_watch() {
    let writes: &[&[&str]] = &[
        &["SET", "w", "new"],
        &["APPEND", "w", "x"],
        &["INCR", "n"],
        &["SETRANGE", "w", "0", "z"],
        &["GETDEL", "w"],
        &["GETEX", "w", "EX", "100"],
        &["MSET", "w", "1"],
    ];
    for write in writes {
        let (mut t, c) = node();
        let other = t.connect();
        t.cmd(c, &["SET", "w", "old"]);
        t.cmd(c, &["SET", "n", "1"]);
        t.cmd(c, &["WATCH", "w", "n"]);
        t.cmd(other, write);
        t.cmd(c, &["MULTI"]);
        t.cmd(c, &["GET", "w"]);
        assert_eq!(t.cmd(c, &["EXEC"]), "*-1\r\n", "{write:?}");
    }
}

// Reads and declined writes leave a WATCH intact.
#[test]
fn reads_keep_watch() {
    let (mut t, c) = node();
    let other = t.connect();
    t.cmd(c, &["SET", "w", "old"]);
    t.cmd(c, &["WATCH", "w"]);
    t.cmd(other, &["GET", "w"]);
    t.cmd(other, &["SET", "w", "x", "NX"]);
    t.cmd(other, &["SETRANGE", "w", "0", ""]);
    t.cmd(other, &["GETEX", "w"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["GET", "w"]);
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n$3\r\nold\r\n");
}
