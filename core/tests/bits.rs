//! Bit commands and LCS on exact bytes as Redis 7.0.15 gives them (each
//! expected reply here was read from a real redis-server): SETBIT, GETBIT,
//! BITCOUNT and BITPOS with BYTE and BIT ranges, BITOP, BITFIELD and
//! BITFIELD_RO with every overflow rule, LCS with its options in RESP2 and
//! RESP3, the change counting that decides propagation, and INCRBYFLOAT's
//! long double arithmetic.

use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

fn node() -> (TestNode, ConnId) {
    TestNode::with_client()
}

const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
const SYNTAX: &str = "-ERR syntax error\r\n";
const NOT_INTEGER: &str = "-ERR value is not an integer or out of range\r\n";
const BAD_OFFSET: &str = "-ERR bit offset is not an integer or out of range\r\n";
const BAD_TYPE: &str = "-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n";

/// An array of integer replies, `None` as the RESP2 null bulk.
fn ints(items: &[Option<i64>]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        match item {
            Some(n) => out.push_str(&format!(":{n}\r\n")),
            None => out.push_str("$-1\r\n"),
        }
    }
    out
}

// SETBIT returns the old bit and pads the string; GETBIT reads past the end
// as 0; offsets and values are checked in Redis's order.
#[test]
fn setbit_and_getbit() {
    let (mut t, c) = node();
    assert_eq!(t.cmd(c, &["SETBIT", "k", "7", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SETBIT", "k", "7", "1"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["SETBIT", "k", "17", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$3\r\n\x01\x00\x40\r\n");
    assert_eq!(t.cmd(c, &["SETBIT", "k", "7", "0"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["GETBIT", "k", "17"]), ":1\r\n");
    assert_eq!(t.cmd(c, &["GETBIT", "k", "7"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GETBIT", "k", "100000"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["GETBIT", "nokey", "0"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["SETBIT", "k", "-1", "1"]), BAD_OFFSET);
    assert_eq!(t.cmd(c, &["SETBIT", "k", "x", "2"]), BAD_OFFSET);
    assert_eq!(t.cmd(c, &["SETBIT", "k", "4294967296", "1"]), BAD_OFFSET);
    assert_eq!(t.cmd(c, &["GETBIT", "k", "4294967296"]), BAD_OFFSET);
    let bad_bit = "-ERR bit is not an integer or out of range\r\n";
    assert_eq!(t.cmd(c, &["SETBIT", "k", "1", "2"]), bad_bit);
    assert_eq!(t.cmd(c, &["SETBIT", "k", "1", "-1"]), bad_bit);
    assert_eq!(t.cmd(c, &["SETBIT", "k", "1", "x"]), bad_bit);
    t.cmd(c, &["LPUSH", "l", "a"]);
    assert_eq!(t.cmd(c, &["SETBIT", "l", "1", "1"]), WRONGTYPE);
    assert_eq!(
        t.cmd(c, &["SETBIT", "l", "1", "2"]),
        bad_bit,
        "the value first"
    );
    assert_eq!(t.cmd(c, &["GETBIT", "l", "1"]), WRONGTYPE);
    assert_eq!(
        t.cmd(c, &["SETBIT", "k", "1"]),
        "-ERR wrong number of arguments for 'setbit' command\r\n"
    );
}

// The offset limit is proto-max-bulk-len in bytes: the last bit below it
// is allowed.
#[test]
fn bit_offsets_follow_proto_max_bulk_len() {
    let (mut t, c) = node();
    t.cmd(c, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]);
    assert_eq!(t.cmd(c, &["SETBIT", "k", "8388607", "1"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["STRLEN", "k"]), ":1048576\r\n");
    assert_eq!(t.cmd(c, &["SETBIT", "k", "8388608", "1"]), BAD_OFFSET);
    assert_eq!(
        t.cmd(c, &["BITFIELD", "k", "GET", "u8", "#1048576"]),
        BAD_OFFSET
    );
}

// SETBIT counts a change only when the bit or the length changed, so an
// idle SETBIT is not propagated.
#[test]
fn setbit_counts_only_changes() {
    let (mut t, c) = node();
    let before = t.dirty();
    t.cmd(c, &["SETBIT", "k", "3", "1"]);
    assert_eq!(t.dirty(), before + 1, "created");
    t.cmd(c, &["SETBIT", "k", "3", "1"]);
    assert_eq!(t.dirty(), before + 1, "the bit was already set");
    t.cmd(c, &["SETBIT", "k", "20", "0"]);
    assert_eq!(t.dirty(), before + 2, "the string grew");
    t.cmd(c, &["SETBIT", "k", "3", "0"]);
    assert_eq!(t.dirty(), before + 3, "the bit changed");
}

// BITCOUNT looks the key up first, then reads its range in bytes or bits.
#[test]
fn bitcount_ranges() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "s", "foobar"]);
    assert_eq!(t.cmd(c, &["BITCOUNT", "s"]), ":26\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "0", "0"]), ":4\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "1", "1"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "1", "1", "BYTE"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "5", "30", "bit"]), ":17\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "-5", "-1", "BIT"]), ":2\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "-1", "-2", "junk"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "0", "-1", "junk"]), SYNTAX);
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "1"]), SYNTAX);
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "a", "b"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["BITCOUNT", "s", "0", "-1", "BIT", "x"]), SYNTAX);
    assert_eq!(t.cmd(c, &["BITCOUNT", "nokey", "a", "b"]), ":0\r\n");
    t.cmd(c, &["LPUSH", "l", "a"]);
    assert_eq!(t.cmd(c, &["BITCOUNT", "l"]), WRONGTYPE);
}

// BITPOS finds set and clear bits, padding with zeros only when no end was
// given.
#[test]
fn bitpos_ranges() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "ff", "\u{7f}\u{7f}"]);
    t.cmd(c, &["SETBIT", "ones", "23", "1"]);
    t.cmd(c, &["BITOP", "NOT", "ones", "ones"]);
    // ones: ff ff fe
    assert_eq!(t.cmd(c, &["BITPOS", "ones", "0"]), ":23\r\n");
    assert_eq!(t.cmd(c, &["BITPOS", "ones", "0", "0", "1"]), ":-1\r\n");
    assert_eq!(t.cmd(c, &["BITPOS", "ones", "0", "0", "-1"]), ":23\r\n");
    assert_eq!(
        t.cmd(c, &["BITPOS", "ones", "1", "0", "-1", "BIT"]),
        ":0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BITPOS", "ones", "0", "3", "10", "BIT"]),
        ":-1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BITPOS", "ones", "1", "3", "10", "BIT"]),
        ":3\r\n"
    );
    assert_eq!(t.cmd(c, &["BITPOS", "ff", "0", "1"]), ":8\r\n");
    assert_eq!(t.cmd(c, &["BITPOS", "ff", "1", "9", "-1", "BIT"]), ":9\r\n");
    assert_eq!(t.cmd(c, &["BITPOS", "nokey", "1"]), ":-1\r\n");
    assert_eq!(
        t.cmd(c, &["BITPOS", "nokey", "0", "x", "y", "z", "w"]),
        ":0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["BITPOS", "ff", "2"]),
        "-ERR The bit argument must be 1 or 0.\r\n"
    );
    assert_eq!(t.cmd(c, &["BITPOS", "ff", "x"]), NOT_INTEGER);
    assert_eq!(t.cmd(c, &["BITPOS", "ff", "1", "1", "2", "foo"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["BITPOS", "ff", "1", "x", "2", "foo"]),
        NOT_INTEGER
    );
    assert_eq!(
        t.cmd(c, &["BITPOS", "ff", "1", "1", "2", "BIT", "x"]),
        SYNTAX
    );
}

// BITOP pads shorter sources with zeros, replaces the destination and
// deletes it when the result is empty.
#[test]
fn bitop_operations() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "a", "abc"]);
    t.cmd(c, &["SET", "b", "abcdef"]);
    assert_eq!(t.cmd(c, &["BITOP", "AND", "d", "a", "b"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["GET", "d"]), "$6\r\nabc\0\0\0\r\n");
    assert_eq!(t.cmd(c, &["BITOP", "or", "d", "a", "b", "nokey"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["GET", "d"]), "$6\r\nabcdef\r\n");
    assert_eq!(t.cmd(c, &["BITOP", "XOR", "d", "a", "b"]), ":6\r\n");
    assert_eq!(t.cmd(c, &["GET", "d"]), "$6\r\n\0\0\0def\r\n");
    assert_eq!(t.cmd(c, &["BITOP", "NOT", "d", "a"]), ":3\r\n");
    assert_eq!(
        t.cmd(c, &["GET", "d"]),
        "$3\r\n\u{fffd}\u{fffd}\u{fffd}\r\n"
    );
    t.cmd(c, &["EXPIRE", "d", "100"]);
    assert_eq!(t.cmd(c, &["BITOP", "AND", "d", "nokey", "a"]), ":3\r\n");
    assert_eq!(t.cmd(c, &["GET", "d"]), "$3\r\n\0\0\0\r\n");
    assert_eq!(
        t.cmd(c, &["TTL", "d"]),
        ":-1\r\n",
        "the result has no time to live"
    );
    assert_eq!(t.cmd(c, &["BITOP", "AND", "d", "nokey"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "d"]), ":0\r\n");
    assert_eq!(
        t.cmd(c, &["BITOP", "NOT", "d", "a", "b"]),
        "-ERR BITOP NOT must be called with a single source key.\r\n"
    );
    assert_eq!(t.cmd(c, &["BITOP", "NAND", "d", "a"]), SYNTAX);
    t.cmd(c, &["LPUSH", "l", "x"]);
    assert_eq!(t.cmd(c, &["BITOP", "OR", "d", "a", "l"]), WRONGTYPE);
    assert_eq!(
        t.cmd(c, &["BITOP", "OR", "l", "a"]),
        ":3\r\n",
        "any destination"
    );
    assert_eq!(t.cmd(c, &["TYPE", "l"]), "+string\r\n");
}

// BITFIELD's GET, SET and INCRBY on signed and unsigned fields, with `#n`
// offsets.
#[test]
fn bitfield_get_set_incrby() {
    let (mut t, c) = node();
    assert_eq!(
        t.cmd(
            c,
            &[
                "BITFIELD", "k", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0",
                "100"
            ]
        ),
        ints(&[Some(0), Some(100), Some(-56)])
    );
    assert_eq!(
        t.cmd(
            c,
            &["BITFIELD", "k", "GET", "u4", "#1", "GET", "i4", "#3", "SET", "u2", "#100", "3"]
        ),
        ints(&[Some(8), Some(0), Some(0)])
    );
    assert_eq!(t.cmd(c, &["STRLEN", "k"]), ":26\r\n");
    assert_eq!(
        t.cmd(
            c,
            &[
                "BITFIELD_RO",
                "k",
                "GET",
                "i8",
                "0",
                "GET",
                "u63",
                "0",
                "GET",
                "i64",
                "0"
            ]
        ),
        ints(&[
            Some(-56),
            Some(7205759403792793600),
            Some(-4035225266123964416)
        ])
    );
    assert_eq!(t.cmd(c, &["BITFIELD", "k"]), "*0\r\n");
    assert_eq!(
        t.cmd(c, &["BITFIELD", "nokey", "GET", "u8", "0"]),
        ints(&[Some(0)])
    );
    assert_eq!(t.cmd(c, &["EXISTS", "nokey"]), ":0\r\n");
}

// Each overflow rule, at the edges of u8, i64, u63 and i1.
#[test]
fn bitfield_overflow_rules() {
    let (mut t, c) = node();
    let u8_ops = |rule: &'static str| {
        vec![
            "BITFIELD", "u", "OVERFLOW", rule, "SET", "u8", "0", "-1", "SET", "u8", "0", "300",
            "INCRBY", "u8", "0", "-1000", "INCRBY", "u8", "0", "5000", "GET", "u8", "0",
        ]
    };
    let reply = t.cmd(c, &u8_ops("SAT"));
    assert_eq!(
        reply,
        ints(&[Some(0), Some(255), Some(0), Some(255), Some(255)])
    );
    let reply = t.cmd(c, &u8_ops("WRAP"));
    assert_eq!(
        reply,
        ints(&[Some(255), Some(255), Some(68), Some(204), Some(204)])
    );
    let reply = t.cmd(c, &u8_ops("FAIL"));
    assert_eq!(reply, ints(&[None, None, None, None, Some(204)]));
    let i64_ops = |rule: &'static str| {
        vec![
            "BITFIELD",
            "i",
            "OVERFLOW",
            rule,
            "SET",
            "i64",
            "0",
            "9223372036854775807",
            "INCRBY",
            "i64",
            "0",
            "1",
            "INCRBY",
            "i64",
            "0",
            "-9223372036854775808",
            "INCRBY",
            "i64",
            "0",
            "-9223372036854775808",
        ]
    };
    let reply = t.cmd(c, &i64_ops("SAT"));
    let expected = ints(&[Some(0), Some(i64::MAX), Some(-1), Some(i64::MIN)]);
    assert_eq!(reply, expected);
    let reply = t.cmd(c, &i64_ops("WRAP"));
    let expected = ints(&[Some(i64::MIN), Some(i64::MIN), Some(0), Some(i64::MIN)]);
    assert_eq!(reply, expected);
    let reply = t.cmd(c, &i64_ops("FAIL"));
    assert_eq!(reply, ints(&[Some(i64::MIN), None, Some(-1), None]));
    let reply = t.cmd(
        c,
        &[
            "BITFIELD", "i", "OVERFLOW", "sat", "SET", "i1", "0", "1", "SET", "i1", "0", "-2",
            "INCRBY", "i1", "0", "1", "INCRBY", "i1", "0", "-1", "INCRBY", "i1", "0", "-1",
        ],
    );
    assert_eq!(
        reply,
        ints(&[Some(-1), Some(0), Some(0), Some(-1), Some(-1)])
    );
    let reply = t.cmd(
        c,
        &[
            "BITFIELD",
            "w",
            "OVERFLOW",
            "WRAP",
            "SET",
            "u63",
            "0",
            "-1",
            "INCRBY",
            "u63",
            "0",
            "9223372036854775807",
            "GET",
            "u63",
            "0",
        ],
    );
    let expected = ints(&[
        Some(0),
        Some(9223372036854775806),
        Some(9223372036854775806),
    ]);
    assert_eq!(reply, expected);
}

// BITFIELD's argument errors, found before anything runs, and BITFIELD_RO
// refusing writes once the arguments parse.
#[test]
fn bitfield_errors() {
    let (mut t, c) = node();
    let bitfield = |t: &mut TestNode, args: &[&str]| {
        let mut argv = vec!["BITFIELD", "k"];
        argv.extend_from_slice(args);
        t.cmd(c, &argv)
    };
    assert_eq!(bitfield(&mut t, &["SET", "u64", "0", "1"]), BAD_TYPE);
    assert_eq!(bitfield(&mut t, &["SET", "i65", "0", "1"]), BAD_TYPE);
    assert_eq!(bitfield(&mut t, &["SET", "I8", "0", "1"]), BAD_TYPE);
    assert_eq!(bitfield(&mut t, &["GET", "u0", "0"]), BAD_TYPE);
    assert_eq!(bitfield(&mut t, &["SET", "i8", "0"]), SYNTAX);
    assert_eq!(bitfield(&mut t, &["GET", "i8"]), SYNTAX);
    assert_eq!(bitfield(&mut t, &["OVERFLOW"]), SYNTAX);
    assert_eq!(bitfield(&mut t, &["FOO"]), SYNTAX);
    assert_eq!(
        bitfield(&mut t, &["OVERFLOW", "foo"]),
        "-ERR Invalid OVERFLOW type specified\r\n"
    );
    assert_eq!(bitfield(&mut t, &["SET", "i8", "0", "x"]), NOT_INTEGER);
    assert_eq!(bitfield(&mut t, &["SET", "i8", "-1", "1"]), BAD_OFFSET);
    assert_eq!(bitfield(&mut t, &["SET", "i8", "#-1", "1"]), BAD_OFFSET);
    assert_eq!(bitfield(&mut t, &["SET", "i8", "#x", "1"]), BAD_OFFSET);
    assert_eq!(
        bitfield(&mut t, &["GET", "u8", "0", "SET", "u8", "0", "1", "FOO"]),
        SYNTAX
    );
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n", "nothing ran");
    let read_only = "-ERR BITFIELD_RO only supports the GET subcommand\r\n";
    assert_eq!(
        t.cmd(
            c,
            &[
                "BITFIELD_RO",
                "k",
                "GET",
                "i8",
                "0",
                "INCRBY",
                "i8",
                "0",
                "1"
            ]
        ),
        read_only
    );
    assert_eq!(
        t.cmd(c, &["BITFIELD_RO", "k", "INCRBY", "i8", "x", "1"]),
        BAD_OFFSET
    );
    t.cmd(c, &["LPUSH", "l", "a"]);
    assert_eq!(t.cmd(c, &["BITFIELD", "l", "GET", "i8", "0"]), WRONGTYPE);
    assert_eq!(
        t.cmd(c, &["BITFIELD", "l", "SET", "i8", "0", "1"]),
        WRONGTYPE
    );
    assert_eq!(
        t.cmd(c, &["BITFIELD_RO", "l", "SET", "i8", "0", "1"]),
        read_only
    );
}

// BITFIELD counts one change per write that changed its field, none for
// GETs, and none for writes that failed (the key is still created, as in
// Redis, but nothing is propagated).
#[test]
fn bitfield_counts_only_changes() {
    let (mut t, c) = node();
    let before = t.dirty();
    t.cmd(c, &["BITFIELD", "k", "GET", "u8", "0"]);
    assert_eq!(t.dirty(), before);
    t.cmd(
        c,
        &[
            "BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "10",
        ],
    );
    assert_eq!(t.dirty(), before, "a failed write changes nothing");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\n\0\r\n");
    t.cmd(
        c,
        &[
            "BITFIELD", "k", "SET", "u8", "0", "0", "SET", "u8", "0", "5",
        ],
    );
    assert_eq!(
        t.dirty(),
        before + 1,
        "only the second SET changed the field"
    );
    t.cmd(
        c,
        &[
            "BITFIELD", "k", "SET", "u8", "8", "0", "SET", "u8", "0", "5", "GET", "u8", "0",
        ],
    );
    assert_eq!(
        t.dirty(),
        before + 3,
        "on a grown string every write counts"
    );
}

// LCS with every option, in RESP2 and RESP3 (where IDX is a map).
#[test]
fn lcs_options() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "a", "ohmytext"]);
    t.cmd(c, &["SET", "b", "mynewtext"]);
    assert_eq!(t.cmd(c, &["LCS", "a", "b"]), "$6\r\nmytext\r\n");
    assert_eq!(t.cmd(c, &["LCS", "a", "b", "LEN"]), ":6\r\n");
    assert_eq!(
        t.cmd(c, &["LCS", "a", "b", "IDX"]),
        "*4\r\n$7\r\nmatches\r\n*2\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
         *2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n$3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["LCS", "a", "b", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]
        ),
        "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n\
         $3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(t.cmd(c, &["LCS", "nokey", "a"]), "$0\r\n\r\n");
    assert_eq!(
        t.cmd(c, &["LCS", "a", "b", "LEN", "IDX"]),
        "-ERR If you want both the length and indexes, please just use IDX.\r\n"
    );
    assert_eq!(t.cmd(c, &["LCS", "a", "b", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(
        t.cmd(c, &["LCS", "a", "b", "MINMATCHLEN", "x"]),
        NOT_INTEGER
    );
    t.cmd(c, &["LPUSH", "l", "a"]);
    assert_eq!(
        t.cmd(c, &["LCS", "a", "l"]),
        "-ERR The specified keys must contain string values\r\n"
    );
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(
        t.cmd(c, &["LCS", "a", "b", "IDX", "MINMATCHLEN", "3"]),
        "%2\r\n$7\r\nmatches\r\n*1\r\n*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n\
         $3\r\nlen\r\n:6\r\n"
    );
    assert_eq!(
        t.cmd(
            c,
            &["BITFIELD", "k", "OVERFLOW", "FAIL", "INCRBY", "u1", "0", "2"]
        ),
        "*1\r\n_\r\n"
    );
}

// INCRBYFLOAT adds in long double: digits past a double's precision, and
// integers past 2^53, come out as Redis prints them.
#[test]
fn incrbyfloat_in_long_double() {
    let (mut t, c) = node();
    t.cmd(c, &["SET", "k", "69655"]);
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "k", "0.1"]),
        "$23\r\n69655.10000000000000142\r\n"
    );
    t.cmd(c, &["SET", "k", "9223372036854775808"]);
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "k", "1"]),
        "$19\r\n9223372036854775809\r\n"
    );
    t.cmd(c, &["SET", "k", "0x10"]);
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "k", "-2.5"]), "$4\r\n13.5\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "n", "5.0e3"]), "$4\r\n5000\r\n");
    assert_eq!(t.cmd(c, &["INCRBYFLOAT", "z", "-0"]), "$1\r\n0\r\n");
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "n", "inf"]),
        "-ERR increment would produce NaN or Infinity\r\n"
    );
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "n", "1e5000"]),
        "-ERR value is not a valid float\r\n"
    );
    let big = t.cmd(c, &["INCRBYFLOAT", "b", "1e400"]);
    // The long double nearest 1e400, every digit printed.
    let digits = "10000000000000000000281880683947586514586";
    assert!(big.starts_with(&format!("$401\r\n{digits}")), "{big}");
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "f", "0.1"]),
        "$3\r\n0.1\r\n"
    );
    t.cmd(c, &["HSET", "h", "g", "69655"]);
    assert_eq!(
        t.cmd(c, &["HINCRBYFLOAT", "h", "g", "0.1"]),
        "$23\r\n69655.10000000000000142\r\n"
    );
}

// COMMAND INFO gives the bit commands Redis's arity, flags, key positions
// and ACL categories (@bitmap among them).
#[test]
fn command_info_matches_redis() {
    let (mut t, c) = node();
    let head = |name: &str, arity: i32, flags: &[&str], keys: (i32, i32), acl: &[&str]| {
        let mut out = format!("*1\r\n*10\r\n${}\r\n{name}\r\n:{arity}\r\n", name.len());
        out.push_str(&format!("*{}\r\n", flags.len()));
        flags
            .iter()
            .for_each(|f| out.push_str(&format!("+{f}\r\n")));
        out.push_str(&format!(":{}\r\n:{}\r\n:1\r\n", keys.0, keys.1));
        out.push_str(&format!("*{}\r\n", acl.len()));
        acl.iter().for_each(|a| out.push_str(&format!("+{a}\r\n")));
        out
    };
    let write = ["write", "denyoom"];
    let cases = [
        head("setbit", 4, &write, (1, 1), &["@write", "@bitmap", "@slow"]),
        head(
            "getbit",
            3,
            &["readonly", "fast"],
            (1, 1),
            &["@read", "@bitmap", "@fast"],
        ),
        head(
            "bitcount",
            -2,
            &["readonly"],
            (1, 1),
            &["@read", "@bitmap", "@slow"],
        ),
        head(
            "bitpos",
            -3,
            &["readonly"],
            (1, 1),
            &["@read", "@bitmap", "@slow"],
        ),
        head(
            "bitop",
            -4,
            &write,
            (2, -1),
            &["@write", "@bitmap", "@slow"],
        ),
        head(
            "bitfield",
            -2,
            &write,
            (1, 1),
            &["@write", "@bitmap", "@slow"],
        ),
        head(
            "bitfield_ro",
            -2,
            &["readonly", "fast"],
            (1, 1),
            &["@read", "@bitmap", "@fast"],
        ),
        head(
            "lcs",
            -3,
            &["readonly"],
            (1, 2),
            &["@read", "@string", "@slow"],
        ),
    ];
    for expected in cases {
        let name = expected.split("\r\n").nth(3).expect("a name");
        let info = t.cmd(c, &["COMMAND", "INFO", name]);
        assert!(info.starts_with(&expected), "{name}: {info:?}");
    }
}
