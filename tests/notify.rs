//! Keyspace notifications against real Redis: the same ~150 commands, one
//! for every event Redis 7.0 names (expiry and containers emptied
//! included), run under `notify-keyspace-events KEA` (plus `n`, new keys)
//! on both servers, with a subscriber on `__key*__:*`. The messages each
//! subscriber receives must be the same, in the same order. The directive
//! given at startup, and refused there, is compared too.

use std::io::Write;
use std::thread::sleep;
use std::time::Duration;

use redoubt_tests::{
    command, encode, read_reply, run_bounded, server_binary, show, Flavor, Server, REDIS_SERVER,
    REPLY_TIMEOUT,
};

/// A pause before the next command, for a key given 50 ms to live to
/// expire (actively or when the next command looks at it: either way its
/// `expired` event comes before the next command's).
const PAUSE: &str = "PAUSE";

/// DUMP the key `s1n`, then RESTORE it as `r` and as `r` again (REPLACE).
const RESTORE: &str = "RESTORE";

/// The script: one command a line; `PAUSE` waits for an expiry; a line
/// starting with `&` is sent by a second client, which blocks until the
/// next line's command serves it.
const SCRIPT: &[&str] = &[
    // Strings.
    "SET s1 v",
    "SET s1 v2",
    "SETNX s1 x",
    "SETNX s2 x",
    "SETEX s3 100 v",
    "PSETEX s3 100000 v",
    "SETRANGE s1 1 zz",
    "SETRANGE s5 2 ab",
    "APPEND s1 aa",
    "APPEND s4 aa",
    "INCR n",
    "INCRBY n 5",
    "DECR n",
    "DECRBY n 2",
    "INCRBYFLOAT f 1.5",
    "GETSET s1 x",
    "GETDEL s2",
    "GETEX s1 EX 100",
    "GETEX s1 PERSIST",
    "MSET a 1 b 2",
    "MSETNX c 3 d 4",
    "SET s1 v KEEPTTL GET",
    "SET s1 v NX",
    // Keys.
    "DEL a b missing",
    "UNLINK c",
    "RENAME s1 s1r",
    "RENAMENX s1r d",
    "RENAMENX s1r s1n",
    "COPY s1n s1c",
    "COPY s1n s1c REPLACE",
    "MOVE s1c 1",
    "EXPIRE s1n 100",
    "PEXPIRE s1n 100000",
    "EXPIREAT s1n 99999999999",
    "PERSIST s1n",
    "EXPIRE d 0",
    "EXPIRE s4 -1",
    "PEXPIREAT s5 1",
    // Expiry: active or lazy, then lazy while a command writes the key.
    "SET e1 v PX 50",
    PAUSE,
    "GET e1",
    "SET e2 v PX 50",
    PAUSE,
    "SET e2 again",
    // Lists.
    "LPUSH l a b c",
    "RPUSH l d e",
    "LPUSHX l x",
    "RPUSHX nolist x",
    "LINSERT l BEFORE a z",
    "LSET l 0 q",
    "LREM l 1 q",
    "LTRIM l 0 4",
    "LPOP l",
    "RPOP l 2",
    "LMOVE l l2 LEFT RIGHT",
    "RPOPLPUSH l l2",
    "BLPOP l 1",
    "LMPOP 1 l2 RIGHT COUNT 1",
    "BRPOP l2 1",
    "RPUSH l3 a",
    "LTRIM l3 1 0",
    // Blocked clients served by a push: their pops notify after it.
    "&BLPOP bl 5",
    "RPUSH bl a",
    "&BLMOVE bm bl2 RIGHT LEFT 5",
    "LPUSH bm a b",
    "&BZPOPMAX bz 5",
    "ZADD bz 1 a",
    // Hashes.
    "HSET h f v g w",
    "HSETNX h f2 v",
    "HMSET h f3 v",
    "HINCRBY h n 3",
    "HINCRBYFLOAT h fl 1.5",
    "HDEL h f g f2 f3 n",
    "HDEL h fl",
    // Sets.
    "SADD s a b c d",
    "SREM s a",
    "SADD sp x",
    "SPOP sp",
    "SMOVE s t b",
    "SMOVE s t c",
    "SMOVE s t d",
    "SADD u 1 2 3",
    "SINTERSTORE i s u",
    "SUNIONSTORE un s u",
    "SDIFFSTORE df u s",
    "SINTERSTORE df s nothing",
    "SPOP u 3",
    // Sorted sets.
    "ZADD z 1 a 2 b 3 c 4 d 5 e 6 f",
    "ZADD z INCR 5 a",
    "ZINCRBY z 1 b",
    "ZADD z XX 7 c",
    "ZREM z c",
    "ZREMRANGEBYSCORE z 4 4",
    "ZREMRANGEBYRANK z 0 0",
    "ZADD zl 0 a 0 b 0 c",
    "ZREMRANGEBYLEX zl [a [b",
    "ZPOPMIN z",
    "ZPOPMAX z",
    "ZUNIONSTORE zu 2 z zl",
    "ZINTERSTORE zi 2 z zl",
    "ZDIFFSTORE zd 2 zu zl",
    "ZRANGESTORE zr zu 0 -1",
    "BZPOPMIN zl 1",
    "ZMPOP 1 zu MIN COUNT 10",
    "ZINTERSTORE zd 2 z nothing",
    // Sort, bits, dump.
    "RPUSH sl 3 1 2",
    "SORT sl STORE sorted",
    "SETBIT bits 3 1",
    "BITOP OR bor bits bits",
    "BITFIELD bf SET u8 0 200",
    "BITFIELD bf GET u8 0",
    RESTORE,
    // Commands that change nothing notify nothing (or what Redis does).
    "SETBIT bits 3 1",
    "SETBIT bits 100 0",
    "ZADD z INCR 0 d",
    "ZADD z NX 1 d",
    "SADD s c",
    "HSET h2 f v",
    "HSET h2 f v",
    "LPUSH el a",
    "LREM el 1 nothing",
    "LTRIM el 0 -1",
    "SETRANGE nothing 0 \"\"",
    "APPEND s1r \"\"",
    "EXPIRE el 100 NX",
    "EXPIRE el 200 NX",
    "RENAME el el",
    "COPY el h2",
    "MOVE el 1",
    "SET el1 v",
    "MOVE el1 1",
    "SPOP s 0",
    "ZREM z nothing",
    "BITFIELD bf OVERFLOW FAIL INCRBY u8 0 100",
    "SORT nothing STORE sorted",
    "INCRBYFLOAT s1r 1",
    "LSET el 10 x",
    "ZRANGESTORE zr nothing 0 -1",
    "BITOP AND bor nothing",
    "GETEX el PX 100",
    "GETEX el PXAT 1",
    "DEL nothing",
    "SWAPDB 0 1",
    "SWAPDB 0 1",
    // Transactions and scripts.
    "MULTI",
    "SET m1 v",
    "LPUSH m2 x",
    "EXEC",
    "EVAL \"redis.call('set', KEYS[1], 'x'); redis.call('del', KEYS[1]); return 1\" 1 sc",
    // Flushes notify nothing but the keys they do not touch.
    "SELECT 1",
    "SET inone v",
    "FLUSHDB",
    "SELECT 0",
    "FLUSHALL",
    "SET last v",
];

/// One command line split on spaces, with `"..."` quoting (for EVAL).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line;
    while !rest.is_empty() {
        rest = rest.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').expect("closing quote");
            words.push(quoted[..end].to_string());
            rest = &quoted[end + 1..];
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
    words
}

/// Runs the script on `server` and returns every (channel, message) its
/// subscriber got, then the replies (both servers must agree on those too).
fn run_script(server: &Server) -> (Vec<(String, String)>, Vec<String>) {
    let mut subscriber = server.connect();
    subscriber.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut pending = Vec::new();
    let mut client = server.connect();
    client.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let config = command(
        &mut client,
        &["CONFIG", "SET", "notify-keyspace-events", "KEAn"],
    );
    assert_eq!(config, b"+OK\r\n", "{:?}", server.flavor);
    subscriber
        .write_all(&encode(&[b"PSUBSCRIBE", b"__key*__:*"]))
        .unwrap();
    read_reply(&mut subscriber, &mut pending).expect("psubscribe confirmed");
    subscriber
        .write_all(&encode(&[b"SUBSCRIBE", b"done"]))
        .unwrap();
    read_reply(&mut subscriber, &mut pending).expect("subscribe confirmed");
    let mut blocker = server.connect();
    blocker.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut blocked = false;
    let mut replies = Vec::new();
    for line in SCRIPT {
        if let Some(blocking) = line.strip_prefix('&') {
            let argv = words(blocking);
            let argv: Vec<&[u8]> = argv.iter().map(|w| w.as_bytes()).collect();
            blocker.write_all(&encode(&argv)).unwrap();
            // Let the server read it and block the client.
            sleep(Duration::from_millis(100));
            blocked = true;
            continue;
        }
        if *line == PAUSE {
            sleep(Duration::from_millis(200));
            continue;
        }
        if *line == RESTORE {
            let dump = read_bulk(&command(&mut client, &["DUMP", "s1n"]));
            for replace in [&[][..], &[&b"REPLACE"[..]][..]] {
                let mut argv: Vec<&[u8]> = vec![b"RESTORE", b"r", b"0", &dump];
                argv.extend_from_slice(replace);
                client.write_all(&encode(&argv)).unwrap();
                let reply = read_reply(&mut client, &mut Vec::new()).expect("reply");
                replies.push(format!("RESTORE -> {}", show(&reply)));
            }
            continue;
        }
        let argv = words(line);
        let argv: Vec<&[u8]> = argv.iter().map(|w| w.as_bytes()).collect();
        client.write_all(&encode(&argv)).unwrap();
        let reply = read_reply(&mut client, &mut Vec::new()).expect("reply");
        replies.push(format!("{line} -> {}", show(&reply)));
        if std::mem::take(&mut blocked) {
            let reply = read_reply(&mut blocker, &mut Vec::new()).expect("served");
            replies.push(format!("served -> {}", show(&reply)));
        }
    }
    command(&mut client, &["PUBLISH", "done", "x"]);
    let mut messages = Vec::new();
    loop {
        let frame = read_reply(&mut subscriber, &mut pending).expect("message");
        let parts = bulk_strings(&frame);
        if parts[0] == "message" {
            break;
        }
        assert_eq!(parts[0], "pmessage", "{}", show(&frame));
        messages.push((parts[2].clone(), parts[3].clone()));
    }
    (messages, replies)
}

/// The bulk strings of a RESP2 array of bulk strings.
fn bulk_strings(frame: &[u8]) -> Vec<String> {
    let line_end = |at: usize| at + frame[at..].windows(2).position(|w| w == b"\r\n").unwrap();
    let end = line_end(0);
    let count: usize = std::str::from_utf8(&frame[1..end])
        .unwrap()
        .parse()
        .unwrap();
    let mut at = end + 2;
    let mut parts = Vec::new();
    for _ in 0..count {
        let end = line_end(at);
        let len: usize = std::str::from_utf8(&frame[at + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        at = end + 2;
        parts.push(String::from_utf8_lossy(&frame[at..at + len]).into_owned());
        at += len + 2;
    }
    parts
}

/// The payload of a bulk string reply.
fn read_bulk(reply: &[u8]) -> Vec<u8> {
    let end = reply.windows(2).position(|w| w == b"\r\n").unwrap();
    reply[end + 2..reply.len() - 2].to_vec()
}

fn messages_text(messages: &[(String, String)]) -> String {
    messages
        .iter()
        .map(|(channel, message)| format!("{channel} {message}\n"))
        .collect()
}

// Every command of the script publishes on both servers exactly what Redis
// publishes, in Redis's order, and answers the same.
#[test]
fn notifications_match_real_redis() {
    let redis = Server::redis(&["--hz", "10"]);
    let (expected, expected_replies) = run_script(&redis);
    drop(redis);
    // Every command of the script but a handful notifies, twice (K and E).
    assert!(
        expected.len() > 300,
        "Redis published only {} messages",
        expected.len()
    );
    let redoubt = Server::redoubt(&["--hz", "10"]);
    assert_eq!(redoubt.flavor, Flavor::Redoubt);
    let (got, replies) = run_script(&redoubt);
    assert_eq!(
        messages_text(&got),
        messages_text(&expected),
        "redoubt's notifications (left) differ from Redis's (right)"
    );
    assert_eq!(replies, expected_replies, "replies differ");
}

// The directive given at startup reads as CONFIG SET reads it, and a bad
// letter stops both servers with the same fatal error.
#[test]
fn the_directive_at_startup_matches_redis() {
    for flavor in [Flavor::Redis, Flavor::Redoubt] {
        let server = Server::start(flavor, &["--notify-keyspace-events", "KEx$"]);
        let mut client = server.connect();
        let reply = command(&mut client, &["CONFIG", "GET", "notify-keyspace-events"]);
        assert_eq!(
            show(&reply),
            "*2\\r\\n$22\\r\\nnotify-keyspace-events\\r\\n$4\\r\\n$xKE\\r\\n",
            "{flavor:?}"
        );
    }
    let outputs: Vec<String> = [
        REDIS_SERVER.to_string(),
        server_binary().display().to_string(),
    ]
    .iter()
    .map(|binary| {
        let output = run_bounded(
            binary,
            &["--port", "0", "--notify-keyspace-events", "KEq"],
            Duration::from_secs(10),
        );
        assert_ne!(output.status.code(), Some(0), "{binary} started");
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        let start = text.find("*** FATAL").expect("a fatal config error");
        text[start..].trim_end().to_string()
    })
    .collect();
    assert!(
        outputs[0].ends_with("Invalid event class character. Use 'Ag$lshzxeKEtmdn'."),
        "{}",
        outputs[0]
    );
    assert_eq!(outputs[1], outputs[0]);
}
