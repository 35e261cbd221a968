//! DEBUG on the real binary, reply for reply against the real Redis: the
//! `enable-debug-command` gate, the dataset digest (computed as Redis
//! computes it, so both servers give the same signature for the same
//! data), RELOAD and LOADAOF keeping the data, and the sample replies of
//! PROTOCOL in RESP2 and RESP3.

use std::io::{Read, Write};
use std::net::TcpStream;

use redoubt_tests::{command, encode, show, Flavor, Server, REPLY_TIMEOUT};

/// Starts both servers with `args` and runs `script` on each, returning
/// the replies (Redis's, then redoubt's).
fn both(args: &[&str], script: impl Fn(&mut TcpStream) -> Vec<Vec<u8>>) -> [Vec<Vec<u8>>; 2] {
    [Flavor::Redis, Flavor::Redoubt].map(|flavor| {
        let server = match flavor {
            Flavor::Redis => Server::redis(args),
            Flavor::Redoubt => Server::redoubt(args),
        };
        let mut stream = server.connect();
        script(&mut stream)
    })
}

/// Asserts that both servers gave the same replies, showing them side by
/// side when not.
fn assert_same(requests: &[&[&str]], replies: &[Vec<Vec<u8>>; 2]) {
    for (i, request) in requests.iter().enumerate() {
        assert_eq!(
            show(&replies[1][i]),
            show(&replies[0][i]),
            "redoubt (left) and Redis (right) differ on {request:?}"
        );
    }
}

/// Sends `args` then PING, and returns every byte before PING's reply:
/// the whole reply, however many frames (a push or an attribute, then
/// the reply proper).
fn raw_until_pong(stream: &mut TcpStream, args: &[&str]) -> Vec<u8> {
    let words: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut request = encode(&words);
    request.extend_from_slice(&encode(&[b"PING"]));
    stream.write_all(&request).expect("write");
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"+PONG\r\n") {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "connection closed after {}", show(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got.truncate(got.len() - b"+PONG\r\n".len());
    got
}

fn run(stream: &mut TcpStream, requests: &[&[&str]]) -> Vec<Vec<u8>> {
    requests.iter().map(|args| command(stream, args)).collect()
}

const REFUSED: &str = "-ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.\r\n";

// By default DEBUG is refused before it runs, and inside MULTI at queue
// time (the transaction is then discarded); `local` allows a loopback
// client.
#[test]
fn debug_is_gated_by_enable_debug_command() {
    let requests: &[&[&str]] = &[
        &["DEBUG", "DIGEST"],
        &["MULTI"],
        &["DEBUG", "DIGEST"],
        &["EXEC"],
        &["DEBUG", "NOSUCH"],
    ];
    let replies = both(&[], |stream| run(stream, requests));
    assert_same(requests, &replies);
    assert_eq!(show(&replies[1][0]), show(REFUSED.as_bytes()));
    assert!(replies[1][3].starts_with(b"-EXECABORT"));
    let replies = both(&["--enable-debug-command", "local"], |stream| {
        run(stream, &[&["DEBUG", "DIGEST"]])
    });
    assert_eq!(replies[0], replies[1]);
    assert_eq!(
        show(&replies[1][0]),
        "+0000000000000000000000000000000000000000\\r\\n"
    );
}

// The same data gives the same digest on both servers, whatever the
// types, encodings, expiries and databases; DIGEST-VALUE likewise per key.
#[test]
fn digests_equal_redis_for_the_same_data() {
    let requests: &[&[&str]] = &[
        &["DEBUG", "DIGEST"],
        &["SET", "s", "text"],
        &["SET", "n", "12345"],
        &["RPUSH", "l", "a", "b", "1", "-7", "c"],
        &["SADD", "ints", "3", "1", "2"],
        &["SADD", "words", "x", "y", "z"],
        &["HSET", "h", "f", "v", "n", "1"],
        &["ZADD", "z", "0.1", "a", "-2", "b", "1e20", "c", "inf", "d"],
        &["SET", "ttl", "v", "EX", "1000"],
        &["SELECT", "3"],
        &["SET", "other", "db"],
        &["SELECT", "0"],
        &["DEBUG", "DIGEST"],
        &[
            "DEBUG",
            "DIGEST-VALUE",
            "s",
            "n",
            "l",
            "ints",
            "words",
            "h",
            "z",
            "ttl",
            "missing",
        ],
        &["DEBUG", "POPULATE", "50", "pop", "12"],
        &["DEBUG", "DIGEST"],
        &["DEBUG", "OBJECT", "missing"],
        &["DEBUG", "SDSLEN", "n"],
        &["DEBUG", "LISTPACK", "l"],
        &["DEBUG", "QUICKLIST", "words"],
        &["DEBUG", "HTSTATS", "99"],
        &["DEBUG", "HTSTATS-KEY", "h"],
    ];
    let args = ["--enable-debug-command", "yes"];
    let replies = both(&args, |stream| run(stream, requests));
    assert_same(requests, &replies);
    assert_ne!(
        replies[1][12], replies[1][0],
        "the digest of data differs from the empty one"
    );
}

/// DEBUG OBJECT's line without what depends on the process (address,
/// LRU clock, idle time).
fn object_fields(reply: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(reply)
        .split_whitespace()
        .filter(|field| !field.starts_with("at:") && !field.starts_with("lru"))
        .map(str::to_string)
        .collect()
}

// DEBUG OBJECT reports encodings and serialized lengths as Redis does.
#[test]
fn debug_object_describes_the_value_as_redis_does() {
    let setup: &[&[&str]] = &[
        &["SET", "small", "7"],
        &["SET", "big", "123456789012"],
        &["SET", "text", "hello world"],
        &["RPUSH", "l", "a", "b", "c"],
        &["SADD", "set", "1", "2"],
        &["HSET", "h", "a", "b"],
        &["ZADD", "z", "1", "a"],
    ];
    let keys = ["small", "big", "text", "l", "set", "h", "z"];
    let replies = both(&["--enable-debug-command", "yes"], |stream| {
        run(stream, setup);
        keys.iter()
            .map(|key| command(stream, &["DEBUG", "OBJECT", key]))
            .collect()
    });
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            object_fields(&replies[1][i]),
            object_fields(&replies[0][i]),
            "DEBUG OBJECT {key}"
        );
    }
}

// The sample replies, byte for byte, in both protocols.
#[test]
fn debug_protocol_replies_every_type() {
    let types = [
        "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib", "push",
        "verbatim", "true", "false", "nosuch",
    ];
    let replies = both(&["--enable-debug-command", "yes"], |stream| {
        let mut replies = Vec::new();
        for protocol in ["2", "3"] {
            command(stream, &["HELLO", protocol]);
            for kind in types {
                replies.push(raw_until_pong(stream, &["DEBUG", "PROTOCOL", kind]));
            }
        }
        replies
    });
    assert_eq!(replies[1].len(), replies[0].len());
    for (ours, theirs) in replies[1].iter().zip(&replies[0]) {
        assert_eq!(show(ours), show(theirs));
    }
}

// RELOAD saves, empties and loads back: the digest is unchanged, and so
// are functions; NOSAVE NOFLUSH MERGE brings the saved keys back over
// newer ones; a bad option is refused. LOADAOF replays the AOF into an
// emptied dataset: the digest is unchanged.
#[test]
fn reload_and_loadaof_keep_the_data() {
    let library = "#!lua name=lib\nredis.register_function('f', function() return 'hi' end)";
    let requests: &[&[&str]] = &[
        &["RPUSH", "l", "1", "2", "3"],
        &["HSET", "h", "a", "1"],
        &["SET", "k", "before"],
        &["FUNCTION", "LOAD", library],
        &["DEBUG", "RELOAD"],
        &["DEBUG", "DIGEST-VALUE", "l", "h", "k"],
        &["FCALL", "f", "0"],
        &["SET", "k", "after"],
        &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"],
        &["GET", "k"],
        &["DEBUG", "RELOAD", "BOGUS"],
        &["SET", "k", "aof"],
        &["DEBUG", "LOADAOF"],
        &["GET", "k"],
        &["LRANGE", "l", "0", "-1"],
        &["FCALL", "f", "0"],
    ];
    let args = [
        "--enable-debug-command",
        "yes",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let replies = [Flavor::Redis, Flavor::Redoubt].map(|flavor| {
        let mut server = Server::start(flavor, &args);
        let mut stream = server.connect();
        let mut replies = run(&mut stream, requests);
        replies.push(command(&mut stream, &["DEBUG", "DIGEST"]));
        for line in [
            "DB reloaded by DEBUG RELOAD",
            "Append Only File loaded by DEBUG LOADAOF",
        ] {
            if let Err(log) = server.wait_for_log(line, REPLY_TIMEOUT) {
                panic!("{flavor:?} did not log {line:?}:\n{log}");
            }
        }
        replies
    });
    assert_same(requests, &replies);
    assert_eq!(show(&replies[1][9]), "$6\\r\\nbefore\\r\\n");
    assert_eq!(show(&replies[1][13]), "$3\\r\\naof\\r\\n");
    assert_eq!(replies[1].last(), replies[0].last(), "the final digests");
}
