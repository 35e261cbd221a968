//! Keyspace notifications on exact bytes: the directive's syntax, the
//! messages a scripted sequence publishes, class filtering, expiry (lazy
//! and active), eviction, MULTI/EXEC, a RESP3 client notified of its own
//! command, and notifications kept off the replication stream.

use redoubt_core::config::Config;
use redoubt_core::testing::TestNode;
use redoubt_core::ConnId;

/// A node with `notify-keyspace-events` set to `flags`, a subscriber on
/// every keyspace and keyevent channel, and a client.
fn node(flags: &str) -> (TestNode, ConnId, ConnId) {
    let mut config = Config::default();
    config
        .apply_startup("notify-keyspace-events", flags)
        .unwrap();
    config.repl.diskless_sync_delay_s = 0;
    let mut t = TestNode::with_config(config);
    let subscriber = t.connect();
    t.cmd(subscriber, &["PSUBSCRIBE", "__key*__:*"]);
    let client = t.connect();
    (t, subscriber, client)
}

/// The pmessages `conn` received since the last look, as
/// `channel message` lines.
fn messages(t: &mut TestNode, conn: ConnId) -> Vec<String> {
    let sent = t.take_sent(conn);
    let mut lines = Vec::new();
    let mut words = sent.split("\r\n").filter(|w| !w.starts_with('$'));
    while let Some(header) = words.next() {
        if header.is_empty() {
            continue;
        }
        assert_eq!(header, "*4", "a pmessage in RESP2: {sent}");
        assert_eq!(words.next(), Some("pmessage"));
        assert_eq!(words.next(), Some("__key*__:*"));
        let channel = words.next().unwrap();
        let message = words.next().unwrap();
        lines.push(format!("{channel} {message}"));
    }
    lines
}

/// The keyspace and keyevent pair of lines one event publishes under `KE`.
fn both(db: usize, event: &str, key: &str) -> [String; 2] {
    [
        format!("__keyspace@{db}__:{key} {event}"),
        format!("__keyevent@{db}__:{event} {key}"),
    ]
}

fn expected(events: &[(usize, &str, &str)]) -> Vec<String> {
    events
        .iter()
        .flat_map(|&(db, event, key)| both(db, event, key))
        .collect()
}

// The directive reads Redis's class letters and writes them back in
// Redis's order; a letter it does not know is refused with Redis's words.
#[test]
fn the_directive_reads_and_writes_as_redis() {
    let (mut t, c) = TestNode::with_client();
    let get = |t: &mut TestNode| t.cmd(c, &["CONFIG", "GET", "notify-keyspace-events"]);
    assert_eq!(
        get(&mut t),
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$0\r\n\r\n"
    );
    for (given, shown) in [
        ("KEA", "AKE"),
        ("Exg", "gxE"),
        ("KEAnm", "AKEm"),
        ("Kz", "zK"),
    ] {
        let set = t.cmd(c, &["CONFIG", "SET", "notify-keyspace-events", given]);
        assert_eq!(set, "+OK\r\n");
        let reply = get(&mut t);
        assert!(
            reply.ends_with(&format!("${}\r\n{shown}\r\n", shown.len())),
            "{given}: {reply}"
        );
    }
    assert_eq!(
        t.cmd(c, &["CONFIG", "SET", "notify-keyspace-events", "KEq"]),
        "-ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.\r\n"
    );
    assert!(
        get(&mut t).ends_with("$2\r\nzK\r\n"),
        "a refused value changes nothing"
    );
}

// A scripted sequence publishes exactly Redis's messages, in Redis's
// order: `new` before the event that created the key, `del` after the
// pop that emptied it, one event per command whatever its arity.
#[test]
fn a_scripted_sequence_publishes_redis_messages() {
    let (mut t, sub, c) = node("KEA");
    for command in [
        &["SET", "k", "v"][..],
        &["SET", "k", "w", "EX", "100"],
        &["INCR", "n"],
        &["APPEND", "k", "x"],
        &["RPUSH", "l", "a", "b"],
        &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        &["RPOP", "l"],
        &["HSET", "h", "f", "1", "g", "2"],
        &["HDEL", "h", "f", "g"],
        &["SADD", "s", "a"],
        &["ZADD", "z", "1", "a"],
        &["ZINCRBY", "z", "2", "a"],
        &["RENAME", "k", "k2"],
        &["PERSIST", "k2"],
        &["DEL", "k2", "n", "missing"],
        &["GET", "m"],
    ] {
        t.cmd(c, command);
    }
    assert_eq!(
        messages(&mut t, sub),
        expected(&[
            (0, "set", "k"),
            (0, "set", "k"),
            (0, "expire", "k"),
            (0, "incrby", "n"),
            (0, "append", "k"),
            (0, "rpush", "l"),
            (0, "rpush", "m"),
            (0, "lpop", "l"),
            (0, "rpop", "l"),
            (0, "del", "l"),
            (0, "hset", "h"),
            (0, "hdel", "h"),
            (0, "del", "h"),
            (0, "sadd", "s"),
            (0, "zadd", "z"),
            (0, "zincr", "z"),
            (0, "rename_from", "k"),
            (0, "rename_to", "k2"),
            (0, "persist", "k2"),
            (0, "del", "k2"),
            (0, "del", "n"),
        ])
    );
}

// Only the enabled classes and channel kinds publish: `El` is the
// keyevent channel of list commands alone; `n` adds new keys.
#[test]
fn classes_filter_events() {
    let (mut t, sub, c) = node("El");
    t.cmd(c, &["SET", "k", "v"]);
    t.cmd(c, &["LPUSH", "l", "a"]);
    t.cmd(c, &["DEL", "l"]);
    assert_eq!(messages(&mut t, sub), ["__keyevent@0__:lpush l"]);
    t.cmd(c, &["CONFIG", "SET", "notify-keyspace-events", "Kn"]);
    t.cmd(c, &["SET", "fresh", "v"]);
    t.cmd(c, &["SET", "fresh", "again"]);
    assert_eq!(messages(&mut t, sub), ["__keyspace@0__:fresh new"]);
    t.cmd(c, &["CONFIG", "SET", "notify-keyspace-events", ""]);
    t.cmd(c, &["SET", "other", "v"]);
    assert!(messages(&mut t, sub).is_empty());
}

// A key past its time publishes `expired` once: found by a command (before
// that command's own events) or by the active expiry cycle.
#[test]
fn expiry_publishes_expired() {
    let (mut t, sub, c) = node("KEAn");
    t.cmd(c, &["SET", "lazy", "v", "PX", "100"]);
    t.cmd(c, &["SET", "active", "v", "PX", "100"]);
    messages(&mut t, sub);
    // The wall clock moves without a tick: only a command finds `lazy`.
    t.node.env_mut().wall_ms += 200;
    assert_eq!(t.cmd(c, &["SET", "lazy", "again"]), "+OK\r\n");
    assert_eq!(
        messages(&mut t, sub),
        expected(&[
            (0, "expired", "lazy"),
            (0, "new", "lazy"),
            (0, "set", "lazy")
        ])
    );
    t.advance(1000);
    assert_eq!(messages(&mut t, sub), expected(&[(0, "expired", "active")]));
}

// An evicted key publishes `evicted`.
#[test]
fn eviction_publishes_evicted() {
    let (mut t, sub, c) = node("Ee");
    t.cmd(c, &["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    t.cmd(c, &["SET", "victim", "v"]);
    let limit = (1_000_000 + t.node.server().keyspace.dataset_bytes() - 10).to_string();
    assert_eq!(t.cmd(c, &["CONFIG", "SET", "maxmemory", &limit]), "+OK\r\n");
    t.node.on_tick();
    t.node.before_sleep();
    assert_eq!(messages(&mut t, sub), ["__keyevent@0__:evicted victim"]);
}

// A transaction's commands publish in order when EXEC runs them; MOVE
// publishes in both databases.
#[test]
fn exec_publishes_in_order() {
    let (mut t, sub, c) = node("KEg$");
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["SET", "a", "1"]);
    t.cmd(c, &["MOVE", "a", "3"]);
    assert!(messages(&mut t, sub).is_empty(), "nothing ran yet");
    t.cmd(c, &["EXEC"]);
    assert_eq!(
        messages(&mut t, sub),
        expected(&[(0, "set", "a"), (0, "move_from", "a"), (3, "move_to", "a")])
    );
}

// A RESP3 client subscribed to its own key gets the push before its
// command's reply, as Redis 7.0 writes it.
#[test]
fn a_resp3_client_hears_its_own_change_first() {
    let (mut t, _, c) = node("K$");
    t.cmd(c, &["HELLO", "3"]);
    t.cmd(c, &["SUBSCRIBE", "__keyspace@0__:k"]);
    assert_eq!(
        t.cmd(c, &["SET", "k", "v"]),
        ">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:k\r\n$3\r\nset\r\n+OK\r\n"
    );
}

// Notifications are local: the replication stream carries the command,
// never a PUBLISH of its events.
#[test]
fn notifications_stay_off_the_stream() {
    let (mut t, sub, c) = node("KEA");
    let replica = t.attach_replica();
    t.cmd(c, &["LPUSH", "l", "a"]);
    t.cmd(c, &["LPOP", "l"]);
    assert_eq!(messages(&mut t, sub).len(), 6, "lpush, lpop, del");
    let stream = t.take_sent(replica);
    assert_eq!(
        stream,
        "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nl\r\n$1\r\na\r\n*2\r\n$4\r\nLPOP\r\n$1\r\nl\r\n"
    );
}

// A RESP3 caller subscribed to the key a script changes gets a script
// reply that is only the script's (Redis would push to it first: the
// caller goes without its own message here), and other subscribers get
// the messages.
#[test]
fn a_script_reply_is_never_mixed_with_a_push() {
    let (mut t, sub, c) = node("K$");
    t.cmd(c, &["HELLO", "3"]);
    t.cmd(c, &["SUBSCRIBE", "__keyspace@0__:k"]);
    assert_eq!(
        t.cmd(c, &["EVAL", "return redis.call('set', 'k', 'v')", "0"]),
        "+OK\r\n"
    );
    assert_eq!(messages(&mut t, sub), ["__keyspace@0__:k set"]);
}
