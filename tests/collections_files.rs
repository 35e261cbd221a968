//! Collections on disk (lists, hashes, sets and sorted sets, in every
//! encoding), through the real binaries: a dump redoubt writes is
//! accepted by `redis-check-rdb` and loaded by the real redis-server, a
//! dump the real redis-server writes is loaded by redoubt, a hand-built dump
//! in the encodings of Redis 6.2 and earlier loads the same into both, and
//! an AOF with blocking pops served replays to the same dataset.

use std::io::Write;
use std::time::Duration;

use redoubt_tests::{
    command, encode, read_reply, require_redis_tools, run_bounded, show, Flavor, ScratchDir,
    Server, EXIT_TIMEOUT,
};

/// Elements in the long list: enough for many listpack nodes.
const LONG_LIST_ELEMENTS: usize = 3000;

/// Fills the lists every test compares: a short one, a long one mixing
/// integers and strings of many sizes, and one with a large element.
fn write_lists(server: &Server) {
    let mut client = server.connect();
    assert_eq!(
        command(&mut client, &["RPUSH", "short", "a", "1", "-7"]),
        b":3\r\n"
    );
    for i in 0..LONG_LIST_ELEMENTS {
        let element = match i % 4 {
            0 => i.to_string(),
            1 => format!("-{}", i * 1_000_003),
            2 => "s".repeat(i % 300),
            _ => format!("element {i}"),
        };
        let push = if i % 2 == 0 { "RPUSH" } else { "LPUSH" };
        command(&mut client, &[push, "long", &element]);
    }
    let large = "L".repeat(20_000);
    assert_eq!(
        command(&mut client, &["RPUSH", "large", "x", &large, "y"]),
        b":3\r\n"
    );
    // Hashes, sets and sorted sets in both encodings.
    for i in 0..HASH_FIELDS {
        let (field, value) = (format!("f{i}"), format!("v{}", i * 7));
        command(&mut client, &["HSET", "bighash", &field, &value]);
        if i < 5 {
            command(&mut client, &["HSET", "smallhash", &field, &i.to_string()]);
        }
        command(&mut client, &["SADD", "bigset", &format!("m{i}")]);
        let integer = (i as i64 * 1_000_003 - 70_000).to_string();
        command(&mut client, &["SADD", "intset", &integer]);
        let score = format!("{}", (i as f64) * 0.5 - 3.25);
        command(&mut client, &["ZADD", "bigzset", &score, &format!("z{i}")]);
        if i < 7 {
            command(
                &mut client,
                &["ZADD", "smallzset", &score, &format!("z{i}")],
            );
        }
    }
}

/// Fields (and members) in the large hash, set and sorted set: past every
/// compact encoding's default limit.
const HASH_FIELDS: usize = 700;

/// Every collection's contents, asked so the answer does not depend on a
/// hash table's order.
fn contents(server: &Server) -> Vec<Vec<u8>> {
    let mut client = server.connect();
    let mut all = lists(server);
    for key in ["bighash", "smallhash"] {
        all.push(command(&mut client, &["HLEN", key]));
        for i in 0..HASH_FIELDS {
            all.push(command(&mut client, &["HGET", key, &format!("f{i}")]));
        }
    }
    for key in ["bigset", "intset"] {
        all.push(command(&mut client, &["SCARD", key]));
        let mut members = command(&mut client, &["SMEMBERS", key])
            .split(|&b| b == b'\n')
            .map(<[u8]>::to_vec)
            .collect::<Vec<_>>();
        members.sort();
        all.extend(members);
    }
    for key in ["bigzset", "smallzset"] {
        all.push(command(
            &mut client,
            &["ZRANGE", key, "0", "-1", "WITHSCORES"],
        ));
    }
    for key in [
        "long",
        "bighash",
        "smallhash",
        "bigset",
        "intset",
        "bigzset",
        "smallzset",
    ] {
        all.push(command(&mut client, &["OBJECT", "ENCODING", key]));
    }
    all
}

/// Every list's full contents, as LRANGE answers them.
fn lists(server: &Server) -> Vec<Vec<u8>> {
    let mut client = server.connect();
    ["short", "long", "large"]
        .iter()
        .map(|key| command(&mut client, &["LRANGE", key, "0", "-1"]))
        .collect()
}

fn save(server: &Server) {
    let mut client = server.connect();
    assert_eq!(
        command(&mut client, &["SAVE"]),
        b"+OK\r\n",
        "{}",
        server.log()
    );
}

fn stop(mut server: Server) {
    server.signal(libc::SIGTERM);
    server.wait_exit(EXIT_TIMEOUT).expect("stopped");
}

// redoubt's dump of every collection passes redis-check-rdb and loads into Redis with
// the same contents.
#[test]
fn redis_loads_redoubt_collections() {
    require_redis_tools();
    for fill in ["-2", "5"] {
        let dir = ScratchDir::new("lists-to-redis");
        let args = ["--save", "", "--list-max-listpack-size", fill];
        let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
        write_lists(&server);
        let expected = contents(&server);
        save(&server);
        stop(server);
        let dump = dir.path.join("dump.rdb");
        let check = run_bounded(
            "redis-check-rdb",
            &[dump.to_str().expect("utf-8 path")],
            Duration::from_secs(30),
        );
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success() && report.contains("RDB looks OK"),
            "{report}"
        );
        let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &["--save", ""]);
        let loaded = contents(&redis);
        for (want, got) in expected.iter().zip(&loaded) {
            assert_eq!(show(got), show(want), "fill {fill}");
        }
        stop(redis);
    }
}

// A dump of every collection written by the real Redis loads into redoubt with the same
// contents.
#[test]
fn redoubt_loads_redis_collections() {
    require_redis_tools();
    let dir = ScratchDir::new("lists-from-redis");
    let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &["--save", ""]);
    write_lists(&redis);
    let expected = contents(&redis);
    save(&redis);
    stop(redis);
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &["--save", ""]);
    let loaded = contents(&server);
    for (want, got) in expected.iter().zip(&loaded) {
        assert_eq!(show(got), show(want), "{}", server.log());
    }
    let mut client = server.connect();
    assert_eq!(
        command(&mut client, &["OBJECT", "ENCODING", "long"]),
        b"$9\r\nquicklist\r\n"
    );
}

// Pops served to blocked clients reach the AOF as the pops they were, so a
// restart (after a rewrite, and from the INCR file) has what was left.
#[test]
fn served_blocking_pops_replay_from_the_aof() {
    let dir = ScratchDir::new("lists-aof");
    let args = ["--appendonly", "yes", "--save", ""];
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    write_lists(&server);
    let mut client = server.connect();
    assert_eq!(
        command(&mut client, &["BGREWRITEAOF"]),
        b"+Background append only file rewriting started\r\n"
    );
    let mut waiter = server.connect();
    let mut pusher = server.connect();
    use std::io::Write;
    waiter
        .write_all(&redoubt_tests::encode(&[
            b"BLMOVE", b"queue", b"done", b"LEFT", b"RIGHT", b"0",
        ]))
        .expect("send");
    // The waiter is blocked once the server counts it.
    let blocked = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        let info = command(&mut pusher, &["INFO", "clients"]);
        String::from_utf8_lossy(&info).contains("blocked_clients:1\r\n")
    });
    assert!(blocked, "{}", server.log());
    assert_eq!(
        command(&mut pusher, &["RPUSH", "queue", "j1", "j2"]),
        b":2\r\n"
    );
    let mut pending = Vec::new();
    let reply = redoubt_tests::read_reply(&mut waiter, &mut pending).expect("reply");
    assert_eq!(reply, b"$2\r\nj1\r\n");
    assert_eq!(
        command(&mut pusher, &["BLPOP", "short", "0"]),
        b"*2\r\n$5\r\nshort\r\n$1\r\na\r\n"
    );
    let mut expected = contents(&server);
    expected.push(command(&mut pusher, &["LRANGE", "queue", "0", "-1"]));
    expected.push(command(&mut pusher, &["LRANGE", "done", "0", "-1"]));
    drop((client, waiter, pusher));
    stop(server);
    let restarted = Server::start_in(Flavor::Redoubt, Some(&dir.path), &args);
    let mut got = contents(&restarted);
    let mut client = restarted.connect();
    got.push(command(&mut client, &["LRANGE", "queue", "0", "-1"]));
    got.push(command(&mut client, &["LRANGE", "done", "0", "-1"]));
    assert_eq!(got, expected, "{}", restarted.log());
}

/// Every key `write_lists` writes.
const ALL_KEYS: [&str; 9] = [
    "short",
    "long",
    "large",
    "bighash",
    "smallhash",
    "bigset",
    "intset",
    "bigzset",
    "smallzset",
];

/// Moves every key from `source` to `target` with DUMP and RESTORE.
fn dump_and_restore(source: &Server, target: &Server) {
    let mut from = source.connect();
    let mut to = target.connect();
    for key in ALL_KEYS {
        let reply = command(&mut from, &["DUMP", key]);
        let header_end = reply.iter().position(|&b| b == b'\n').expect("bulk") + 1;
        let payload = &reply[header_end..reply.len() - 2];
        let restore = redoubt_tests::encode(&[b"RESTORE", key.as_bytes(), b"0", payload]);
        use std::io::Write;
        to.write_all(&restore).expect("send");
        let mut pending = Vec::new();
        let answer = redoubt_tests::read_reply(&mut to, &mut pending).expect("reply");
        assert_eq!(show(&answer), "+OK\\r\\n", "RESTORE {key}");
    }
}

// DUMP payloads cross both ways: redoubt's restore into the real Redis and
// the real Redis's into redoubt, every type and encoding, same contents.
#[test]
fn dump_payloads_cross_both_ways() {
    require_redis_tools();
    let redoubt = Server::redoubt(&["--save", ""]);
    let redis = Server::redis(&[]);
    write_lists(&redoubt);
    write_lists(&redis);
    let redis_target = Server::redis(&[]);
    dump_and_restore(&redoubt, &redis_target);
    assert_eq!(contents(&redis_target), contents(&redoubt));
    let redoubt_target = Server::redoubt(&["--save", ""]);
    dump_and_restore(&redis, &redoubt_target);
    assert_eq!(contents(&redoubt_target), contents(&redis));
}

// ---------------------------------------------------------------------------
// Encodings of Redis 6.2 and earlier, which Redis 7.0 still loads.

/// A ziplist of `entries` as Redis 6 writes one: integers in the smallest
/// integer encoding, other text in the shortest string form, each entry
/// after the size of the one before it.
fn ziplist(entries: &[&str]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut previous_size = 0usize;
    let mut tail = 0;
    for entry in entries {
        tail = body.len();
        let start = body.len();
        if previous_size < 254 {
            body.push(previous_size as u8);
        } else {
            body.push(0xFE);
            body.extend_from_slice(&(previous_size as u32).to_le_bytes());
        }
        match entry.parse::<i32>() {
            Ok(n) if n.to_string() == *entry => push_ziplist_integer(&mut body, n),
            _ => push_ziplist_string(&mut body, entry.as_bytes()),
        }
        previous_size = body.len() - start;
    }
    let mut bytes = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
    bytes.extend_from_slice(&((10 + tail) as u32).to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&body);
    bytes.push(0xFF);
    bytes
}

fn push_ziplist_integer(body: &mut Vec<u8>, n: i32) {
    if (0..=12).contains(&n) {
        body.push(0xF1 + n as u8);
    } else if let Ok(n) = i8::try_from(n) {
        body.push(0xFE);
        body.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = i16::try_from(n) {
        body.push(0xC0);
        body.extend_from_slice(&n.to_le_bytes());
    } else {
        body.push(0xD0);
        body.extend_from_slice(&n.to_le_bytes());
    }
}

fn push_ziplist_string(body: &mut Vec<u8>, text: &[u8]) {
    if text.len() < 64 {
        body.push(text.len() as u8);
    } else {
        assert!(text.len() < 1 << 14, "longer strings are not needed here");
        body.extend_from_slice(&[0x40 | (text.len() >> 8) as u8, text.len() as u8]);
    }
    body.extend_from_slice(text);
}

/// An RDB string in plain length form.
fn rdb_string(out: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.len() < 64 {
        out.push(bytes.len() as u8);
    } else {
        assert!(bytes.len() < 1 << 14, "longer strings are not needed here");
        out.extend_from_slice(&[0x40 | (bytes.len() >> 8) as u8, bytes.len() as u8]);
    }
    out.extend_from_slice(bytes);
}

/// A version 9 dump (Redis 6.2's) with a key of each old encoding, and
/// its checksum zeroed (checksums off), which both servers accept.
fn old_encodings_dump() -> Vec<u8> {
    let long = "x".repeat(300);
    let mut dump = b"REDIS0009".to_vec();
    dump.push(14);
    rdb_string(&mut dump, b"quicklist");
    dump.push(2);
    rdb_string(&mut dump, &ziplist(&["a", "7", "-7", &long]));
    rdb_string(&mut dump, &ziplist(&["-70000", "1000", "last"]));
    dump.push(10);
    rdb_string(&mut dump, b"ziplist");
    rdb_string(&mut dump, &ziplist(&["p", "q", "100"]));
    // The longest value a hash listpack holds: Redis would keep a longer one
    // in a listpack on load, where redoubt makes a table.
    let longest_compact = "v".repeat(64);
    dump.push(13);
    rdb_string(&mut dump, b"hash");
    rdb_string(
        &mut dump,
        &ziplist(&["name", "redis", "n", "7", "long", &longest_compact]),
    );
    dump.push(12);
    rdb_string(&mut dump, b"zset");
    rdb_string(&mut dump, &ziplist(&["c", "-inf", "a", "1", "b", "2.5"]));
    dump.push(9);
    rdb_string(&mut dump, b"zipmap");
    rdb_string(
        &mut dump,
        b"\x02\x03foo\x03\x00bar\x05hello\x05\x02world!!\xff",
    );
    dump.push(0xFF);
    dump.extend_from_slice(&[0; 8]);
    dump
}

/// What a server holds of the old encodings dump.
fn old_encodings_contents(server: &Server) -> Vec<Vec<u8>> {
    let mut client = server.connect();
    let commands: [&[&str]; 9] = [
        &["DBSIZE"],
        &["LRANGE", "quicklist", "0", "-1"],
        &["LRANGE", "ziplist", "0", "-1"],
        &["HGETALL", "hash"],
        &["HGET", "hash", "long"],
        &["ZRANGE", "zset", "0", "-1", "WITHSCORES"],
        &["HGETALL", "zipmap"],
        &["OBJECT", "ENCODING", "hash"],
        &["OBJECT", "ENCODING", "zset"],
    ];
    commands
        .iter()
        .map(|args| command(&mut client, args))
        .collect()
}

// A hand-built dump with each encoding Redis 7.0 no longer writes (a
// quicklist of ziplists, a list ziplist, hash and sorted set ziplists, a
// zipmap) loads into the real redis-server and into redoubt with the same
// contents.
#[test]
fn old_encodings_load_as_in_redis() {
    require_redis_tools();
    let dir = ScratchDir::new("old-encodings");
    let dump = dir.path.join("dump.rdb");
    std::fs::write(&dump, old_encodings_dump()).expect("write dump");
    let redis = Server::start_in(Flavor::Redis, Some(&dir.path), &["--save", ""]);
    let expected = old_encodings_contents(&redis);
    stop(redis);
    assert_eq!(expected[0], b":5\r\n");
    std::fs::write(&dump, old_encodings_dump()).expect("write dump");
    let server = Server::start_in(Flavor::Redoubt, Some(&dir.path), &["--save", ""]);
    let loaded = old_encodings_contents(&server);
    for (want, got) in expected.iter().zip(&loaded) {
        assert_eq!(show(got), show(want), "{}", server.log());
    }
}

/// A version 9 dump with an empty collection of each plain type beside a
/// string: Redis never writes one, but a dump from elsewhere may hold it.
fn empty_keys_dump() -> Vec<u8> {
    let mut dump = b"REDIS0009".to_vec();
    for (rdb_type, key) in [(1u8, "list"), (2, "set"), (4, "hash"), (5, "zset")] {
        dump.push(rdb_type);
        rdb_string(&mut dump, key.as_bytes());
        dump.push(0);
    }
    dump.push(0);
    rdb_string(&mut dump, b"kept");
    rdb_string(&mut dump, b"value");
    dump.push(0xFF);
    dump.extend_from_slice(&[0; 8]);
    dump
}

// Both servers skip the empty collections of a dump and load the rest;
// redoubt names each skipped key in its log with Redis's words. RESTORE of
// an empty collection is refused by both.
#[test]
fn empty_keys_are_skipped_as_in_redis() {
    require_redis_tools();
    // An empty quicklist, RDB version 10, and its CRC-64 (as DUMP frames it).
    let mut payload = b"\x12\x00\x0a\x00".to_vec();
    let crc = crc::Crc::<u64>::new(&crc::CRC_64_REDIS).checksum(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let dir = ScratchDir::new("empty-keys");
    let dump = dir.path.join("dump.rdb");
    let mut replies = Vec::new();
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        std::fs::write(&dump, empty_keys_dump()).expect("write dump");
        let server = Server::start_in(flavor, Some(&dir.path), &["--save", ""]);
        let mut client = server.connect();
        let restore: [&[u8]; 4] = [b"RESTORE", b"restored", b"0", &payload];
        client.write_all(&encode(&restore)).expect("send RESTORE");
        let restored = read_reply(&mut client, &mut Vec::new()).expect("a reply");
        replies.push((
            command(&mut client, &["DBSIZE"]),
            command(&mut client, &["GET", "kept"]),
            restored,
        ));
        if flavor == Flavor::Redoubt {
            let log = server.log();
            for key in ["list", "set", "hash", "zset"] {
                let line = format!("rdbLoadObject skipping empty key: {key}");
                assert!(log.contains(&line), "{line} not in:\n{log}");
            }
        }
        stop(server);
    }
    assert_eq!(replies[0].0, b":1\r\n");
    assert_eq!(replies[0].1, b"$5\r\nvalue\r\n");
    assert_eq!(replies[1], replies[0]);
    assert_eq!(replies[0].2, b"-ERR Bad data format\r\n");
}
