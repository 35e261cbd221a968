//! DUMP and RESTORE: payloads byte for byte as Redis 7.0.15 writes them
//! (the expected bytes were taken from Debian's redis-server 7.0.15),
//! round trips of every type, and RESTORE's errors in Redis's order.

use redoubt_core::testing::TestNode;

/// RESP bulk of raw bytes, as `TestNode::cmd` returns it (lossy UTF-8).
fn bulk(bytes: &[u8]) -> String {
    let mut text = format!("${}\r\n", bytes.len()).into_bytes();
    text.extend_from_slice(bytes);
    text.extend_from_slice(b"\r\n");
    String::from_utf8_lossy(&text).into_owned()
}

/// Sends a command whose arguments may be any bytes.
fn raw_cmd(t: &mut TestNode, c: redoubt_core::ConnId, args: &[&[u8]]) -> Vec<u8> {
    let mut request = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        request.extend_from_slice(arg);
        request.extend_from_slice(b"\r\n");
    }
    t.raw(c, &request)
}

/// The payload inside a bulk reply.
fn payload_of(reply: &[u8]) -> Vec<u8> {
    let header_end = reply
        .iter()
        .position(|&b| b == b'\n')
        .expect("a bulk header")
        + 1;
    reply[header_end..reply.len() - 2].to_vec()
}

// Payloads are Redis's bytes: a list as a quicklist and an integer string.
#[test]
fn payloads_match_redis() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["RPUSH", "k", "a", "b"]), ":2\r\n");
    let list: &[u8] =
        b"\x12\x01\x02\r\r\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\n\x00h\xeb\n\x89\x13A\xbb\xb1";
    assert_eq!(t.cmd(c, &["DUMP", "k"]), bulk(list));
    assert_eq!(t.cmd(c, &["SET", "s", "12345"]), "+OK\r\n");
    let string: &[u8] = b"\x00\xc190\n\x00\x9d\x94\xea'\x93\xfc\x08\xb9";
    assert_eq!(t.cmd(c, &["DUMP", "s"]), bulk(string));
    assert_eq!(t.cmd(c, &["DUMP", "missing"]), "$-1\r\n");
    // A payload Redis wrote restores here.
    assert_eq!(
        raw_cmd(&mut t, c, &[b"RESTORE", b"copy", b"0", list]),
        b"+OK\r\n"
    );
    assert_eq!(
        t.cmd(c, &["LRANGE", "copy", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

// Every type survives DUMP then RESTORE, in both encodings, with its
// time to live when asked.
#[test]
fn every_type_round_trips() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["RPUSH", "list", "1", "two", "3"]);
    for i in 0..600 {
        let i = i.to_string();
        t.cmd(c, &["HSET", "bighash", &i, &i]);
        t.cmd(c, &["SADD", "bigset", &format!("m{i}")]);
        t.cmd(c, &["ZADD", "bigzset", &i, &format!("z{i}")]);
    }
    t.cmd(c, &["HSET", "hash", "f", "v", "g", "1"]);
    t.cmd(c, &["SADD", "intset", "1", "2", "-5"]);
    t.cmd(c, &["ZADD", "zset", "1.5", "a", "-2", "b"]);
    let reads: &[(&str, &[&str])] = &[
        ("list", &["LRANGE", "KEY", "0", "-1"]),
        ("hash", &["HGET", "KEY", "g"]),
        ("bighash", &["HGET", "KEY", "599"]),
        ("intset", &["SISMEMBER", "KEY", "-5"]),
        ("bigset", &["SCARD", "KEY"]),
        ("zset", &["ZRANGE", "KEY", "0", "-1", "WITHSCORES"]),
        ("bigzset", &["ZRANGE", "KEY", "100", "103", "WITHSCORES"]),
    ];
    for (key, read) in reads {
        let dumped = t.raw(
            c,
            format!("*2\r\n$4\r\nDUMP\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
        let payload = payload_of(&dumped);
        let copy = format!("{key}-copy");
        assert_eq!(
            raw_cmd(
                &mut t,
                c,
                &[b"RESTORE", copy.as_bytes(), b"100000", &payload]
            ),
            b"+OK\r\n"
        );
        let original: Vec<&str> = read
            .iter()
            .map(|w| if *w == "KEY" { *key } else { *w })
            .collect();
        let restored: Vec<&str> = read
            .iter()
            .map(|w| if *w == "KEY" { copy.as_str() } else { *w })
            .collect();
        assert_eq!(t.cmd(c, &restored), t.cmd(c, &original), "{key}");
        assert_eq!(
            t.cmd(c, &["OBJECT", "ENCODING", &copy]),
            t.cmd(c, &["OBJECT", "ENCODING", key]),
            "{key}"
        );
        assert_eq!(t.cmd(c, &["PTTL", &copy]), ":100000\r\n", "{key}");
    }
}

// RESTORE's errors come in Redis's order: options, BUSYKEY, the TTL, the
// payload's trailer, then its contents.
#[test]
fn restore_errors() {
    let (mut t, c) = TestNode::with_client();
    t.cmd(c, &["RPUSH", "k", "a"]);
    assert_eq!(
        t.cmd(c, &["RESTORE", "k", "0", "x"]),
        "-BUSYKEY Target key name already exists.\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RESTORE", "k2", "-1", "x"]),
        "-ERR Invalid TTL value, must be >= 0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RESTORE", "k2", "0", "x"]),
        "-ERR DUMP payload version or checksum are wrong\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RESTORE", "k2", "x", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RESTORE", "k2", "0", "x", "FOO"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(
        t.cmd(c, &["RESTORE", "k2", "0", "x", "FREQ", "300"]),
        "-ERR Invalid FREQ value, must be >= 0 and <= 255\r\n"
    );
    // A checksum that matches over a value that does not decode.
    let mut bad = vec![0x12u8, 0x05, 0x02, 0x01];
    bad.extend_from_slice(&10u16.to_le_bytes());
    let checksum = redoubt_core::persist::rdb::crc64(&bad);
    bad.extend_from_slice(&checksum.to_le_bytes());
    assert_eq!(
        raw_cmd(&mut t, c, &[b"RESTORE", b"k2", b"0", &bad]),
        b"-ERR Bad data format\r\n"
    );
    assert_eq!(t.cmd(c, &["EXISTS", "k2"]), ":0\r\n");
}
