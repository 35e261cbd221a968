//! The checker on histories written by hand, and on large ones generated
//! from a store that runs every request at a moment inside its interval.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use super::*;
use crate::workload::resp::Reply;
use crate::world::rng::SimRng;

/// One connection's log, written request by request.
struct Conn {
    log: ConnectionLog,
}

impl Conn {
    fn new(client: usize) -> Conn {
        Conn {
            log: ConnectionLog {
                client,
                ..ConnectionLog::default()
            },
        }
    }

    /// Sends `command` (words split at spaces) at `at_ms`; its reply (RESP
    /// bytes) arrives at `back_ms`.
    fn call(mut self, command: &str, at_ms: u64, reply: &[u8], back_ms: u64) -> Conn {
        self.send(command, at_ms);
        self.log.received.extend_from_slice(reply);
        let received = self.log.received.len() as u64;
        self.log.arrived.push((back_ms, received));
        self
    }

    /// Sends `command` at `at_ms`; no reply ever comes (the connection is
    /// cut).
    fn pending(mut self, command: &str, at_ms: u64) -> Conn {
        self.send(command, at_ms);
        self.log.cut = true;
        self
    }

    fn send(&mut self, command: &str, at_ms: u64) {
        let argv = command.split(' ').map(|w| w.as_bytes().to_vec()).collect();
        self.log.requests.push(argv);
        self.log.sent.push((at_ms, self.log.requests.len()));
    }
}

fn ok() -> Vec<u8> {
    b"+OK\r\n".to_vec()
}

fn bulk(value: &str) -> Vec<u8> {
    Reply::Bulk(Some(value.as_bytes().to_vec())).encode()
}

fn nil() -> Vec<u8> {
    b"$-1\r\n".to_vec()
}

fn int(n: i64) -> Vec<u8> {
    Reply::Integer(n).encode()
}

fn queued() -> Vec<u8> {
    b"+QUEUED\r\n".to_vec()
}

fn run(conns: Vec<Conn>) -> LinearizableReport {
    let connections: BTreeMap<SimConn, ConnectionLog> = conns
        .into_iter()
        .enumerate()
        .map(|(id, conn)| ((0, id as u64), conn.log))
        .collect();
    check(&connections)
}

fn assert_passes(conns: Vec<Conn>) -> LinearizableReport {
    let report = run(conns);
    assert!(report.passed(), "{:#?}", report.violations);
    report
}

/// Fails, naming key `k` of database 0.
fn assert_fails_on_k(conns: Vec<Conn>) -> LinearizableReport {
    let report = run(conns);
    assert!(!report.passed(), "should fail: {report:#?}");
    assert_eq!(report.failing_keys, vec![(0, b"k".to_vec())]);
    assert!(
        report.violations[0].starts_with("key db0:k:"),
        "the violation names the key: {}",
        report.violations[0]
    );
    report
}

/// A history of one client, one request at a time, is its own order.
#[test]
fn a_sequential_history_passes() {
    let conn = Conn::new(1)
        .call("SET k 1", 0, &ok(), 1)
        .call("GET k", 2, &bulk("1"), 3)
        .call("INCR k", 4, &int(2), 5)
        .call("APPEND k x", 6, &int(2), 7)
        .call("STRLEN k", 8, &int(2), 9)
        .call("GET k", 10, &bulk("2x"), 11)
        .call(
            "INCR k",
            12,
            b"-ERR value is not an integer or out of range\r\n",
            13,
        )
        .call("SET k 9 NX", 14, &nil(), 15)
        .call("GETDEL k", 16, &bulk("2x"), 17)
        .call("SETNX k 3", 18, &int(1), 19)
        .call("GETSET k 4", 20, &bulk("3"), 21)
        .call("DEL k", 22, &int(1), 23)
        .call("EXISTS k", 24, &int(0), 25)
        .call("TYPE k", 26, b"+none\r\n", 27)
        .call("GET k", 28, &nil(), 29);
    let report = assert_passes(vec![conn]);
    assert_eq!((report.keys_checked, report.operations_checked), (1, 15));
    let summary = report.verdict().summary;
    assert!(
        summary.starts_with("15 operations on 1 keys checked (0 pending, 0 of commands"),
        "{summary}"
    );
}

/// Overlapping writes may take effect in either order, and a read that
/// overlaps them may see either; reads after both see the one that came
/// last, always the same one.
#[test]
fn concurrent_writes_may_land_in_either_order() {
    let writers = || {
        vec![
            Conn::new(1).call("SET k a", 0, &ok(), 10),
            Conn::new(2).call("SET k b", 0, &ok(), 10),
        ]
    };
    for (during, after) in [("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")] {
        let mut conns = writers();
        conns.push(Conn::new(3).call("GET k", 5, &bulk(during), 8));
        conns.push(Conn::new(4).call("GET k", 11, &bulk(after), 12).call(
            "GET k",
            13,
            &bulk(after),
            14,
        ));
        assert_passes(conns);
    }
    // Once both writes are done, a read of b then a read of a: no order.
    let mut conns = writers();
    conns.push(
        Conn::new(3)
            .call("GET k", 11, &bulk("b"), 12)
            .call("GET k", 13, &bulk("a"), 14),
    );
    assert_fails_on_k(conns);
}

/// A read after a completed write that returns the value before it fails,
/// and the violation names the key.
#[test]
fn a_stale_read_fails_naming_the_key() {
    let conns = vec![
        Conn::new(1).call("SET k 1", 0, &ok(), 5),
        Conn::new(2).call("SET k 2", 10, &ok(), 15),
        Conn::new(3).call("GET k", 20, &bulk("1"), 25),
        Conn::new(4).call("SET other x", 0, &ok(), 1),
    ];
    let report = assert_fails_on_k(conns);
    let text = &report.violations[0];
    assert!(
        text.contains("GET k at 20..25 ms -> \"1\"") && text.contains("the model answers \"2\""),
        "the stale read and the model's answer: {text}"
    );
    assert_eq!(report.keys_checked, 2, "the other key is checked too");
}

/// An acknowledged write that a later read does not see fails.
#[test]
fn a_lost_acknowledged_write_fails() {
    let conns = vec![
        Conn::new(1).call("SET k v", 0, &ok(), 5),
        Conn::new(2).call("GET k", 10, &nil(), 15),
    ];
    assert_fails_on_k(conns);
}

/// A write without a reply may have happened at any moment after its
/// call, or never: reads may see it or not, but not lose it once seen.
#[test]
fn a_pending_write_may_or_may_not_have_happened() {
    let writer = || Conn::new(1).pending("SET k v", 0);
    for reads in [
        vec![nil(), nil()],
        vec![bulk("v"), bulk("v")],
        vec![nil(), bulk("v")],
    ] {
        let reader = Conn::new(2)
            .call("GET k", 10, &reads[0], 15)
            .call("GET k", 20, &reads[1], 25);
        let report = assert_passes(vec![writer(), reader]);
        assert_eq!(report.pending, 1);
    }
    let reader = Conn::new(2)
        .call("GET k", 10, &bulk("v"), 15)
        .call("GET k", 20, &nil(), 25);
    assert_fails_on_k(vec![writer(), reader]);
    // Nor may it take effect before it was sent.
    let early = Conn::new(2).call("GET k", 0, &bulk("v"), 1);
    let writer = Conn::new(1).pending("SET k v", 5);
    assert_fails_on_k(vec![writer, early]);
}

/// Concurrent INCRs each count once; two that answer the same number lost
/// an update. INCR's error is judged against the value.
#[test]
fn increments_count_each_once() {
    let both = |first: i64, second: i64| {
        vec![
            Conn::new(1).call("INCR k", 0, &int(first), 10),
            Conn::new(2).call("INCR k", 0, &int(second), 10),
            Conn::new(3).call("GET k", 11, &bulk("2"), 12),
        ]
    };
    assert_passes(both(2, 1));
    assert_fails_on_k(both(1, 1));
    let not_integer = b"-ERR value is not an integer or out of range\r\n";
    let on_text = Conn::new(1)
        .call("SET k abc", 0, &ok(), 1)
        .call("INCRBY k 5", 2, not_integer, 3)
        .call("DECRBY k x", 4, not_integer, 5);
    assert_passes(vec![on_text]);
    let on_number = Conn::new(1)
        .call("SET k 7", 0, &ok(), 1)
        .call("INCR k", 2, not_integer, 3);
    assert_fails_on_k(vec![on_number]);
}

/// A transaction's commands take effect at its EXEC with the replies in
/// EXEC's array, its commands on one key as one atomic step.
#[test]
fn transactions_are_projected_onto_their_keys() {
    let transaction = |get_reply: &str| {
        let array = [b"*3\r\n".to_vec(), ok(), int(1), bulk(get_reply)].concat();
        Conn::new(1)
            .call("MULTI", 0, &ok(), 1)
            .call("SET k 1", 0, &queued(), 1)
            .call("INCR b", 0, &queued(), 1)
            .call("GET k", 0, &queued(), 1)
            .call("EXEC", 0, &array, 10)
    };
    let after = |k: &[u8], b: &[u8]| {
        Conn::new(2)
            .call("GET k", 11, k, 12)
            .call("GET b", 11, b, 12)
    };
    let report = assert_passes(vec![transaction("1"), after(&bulk("1"), &bulk("1"))]);
    assert_eq!(report.operations_checked, 4, "SET and GET of k are one");
    assert_fails_on_k(vec![transaction("1"), after(&nil(), &bulk("1"))]);
    // Inside the transaction nothing comes between its SET and its GET.
    let other = Conn::new(3).call("SET k 2", 0, &ok(), 10);
    assert_fails_on_k(vec![transaction("2"), other]);
}

/// EXEC aborted by WATCH (the null array), or refused, changes nothing;
/// so does DISCARD.
#[test]
fn aborted_transactions_change_nothing() {
    let ended = |end: &str, reply: &[u8]| {
        Conn::new(1)
            .call("WATCH k", 0, &ok(), 1)
            .call("MULTI", 2, &ok(), 3)
            .call("SET k 1", 2, &queued(), 3)
            .call(end, 2, reply, 3)
    };
    let endings: [(&str, &[u8]); 3] = [
        ("EXEC", b"*-1\r\n"),
        (
            "EXEC",
            b"-EXECABORT Transaction discarded because of: MISCONF x\r\n",
        ),
        ("DISCARD", b"+OK\r\n"),
    ];
    for (end, reply) in endings {
        let reader = || Conn::new(2).call("GET k", 10, &nil(), 11);
        assert_passes(vec![ended(end, reply), reader()]);
        let seen = Conn::new(2).call("GET k", 10, &bulk("1"), 11);
        assert_fails_on_k(vec![ended(end, reply), seen]);
    }
}

/// FLUSHALL deletes every key of every database, FLUSHDB those of its
/// own; SELECT moves a connection between databases.
#[test]
fn flushes_delete_the_keys_of_their_databases() {
    let writer = || {
        Conn::new(1)
            .call("SET k v", 0, &ok(), 1)
            .call("SELECT 1", 2, &ok(), 3)
            .call("SET k w", 4, &ok(), 5)
    };
    let flush = |command: &str| Conn::new(2).call(command, 10, &ok(), 11);
    let read = |db0: &[u8], db1: &[u8]| {
        Conn::new(3)
            .call("GET k", 20, db0, 21)
            .call("SELECT 1", 22, &ok(), 23)
            .call("GET k", 24, db1, 25)
    };
    let report = assert_passes(vec![writer(), flush("FLUSHALL"), read(&nil(), &nil())]);
    assert_eq!(report.keys_checked, 2, "k in databases 0 and 1");
    assert_passes(vec![writer(), flush("FLUSHDB"), read(&nil(), &bulk("w"))]);
    assert_fails_on_k(vec![writer(), flush("FLUSHALL"), read(&bulk("v"), &nil())]);
}

/// A command the model does not hold (a collection write, SWAPDB, one it
/// does not know) leaves a key unknown until a write that does not read it;
/// a refused one changes nothing. A reply of a shape its command never has
/// leaves the key out, counted.
#[test]
fn unmodelled_commands_leave_keys_unknown_until_a_write() {
    let wrong_type = b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    let history = |unmodelled: &str, reply: &[u8], seen: &[u8], then: &[u8]| {
        let conn = Conn::new(1)
            .call("SELECT 2", 0, &ok(), 1)
            .call("SET k 1", 2, &ok(), 3)
            .call(unmodelled, 4, reply, 5)
            .call("GET k", 6, seen, 7)
            .call("SET k 2", 8, &ok(), 9)
            .call("GET k", 10, then, 11);
        run(vec![conn])
    };
    let unmodelled: [(&str, &[u8]); 4] = [
        ("LPUSH k x", b":1\r\n"),
        ("RENAME k o", b"+OK\r\n"),
        ("SWAPDB 2 3", b"+OK\r\n"),
        ("OBJECT FREQ k", b":0\r\n"),
    ];
    for (command, reply) in unmodelled {
        for seen in [nil(), bulk("1"), bulk("x"), wrong_type.to_vec()] {
            let report = history(command, reply, &seen, &bulk("2"));
            assert!(report.passed(), "{command}: {:?}", report.violations);
            assert_eq!(report.unmodelled, 1, "{command}");
        }
        let report = history(command, reply, &nil(), &bulk("1"));
        assert!(!report.passed(), "{command}: SET makes the key known again");
    }
    // Refused, the collection command changed nothing.
    let report = history("LPUSH k x", wrong_type, &nil(), &bulk("2"));
    assert_eq!(report.failing_keys, vec![(2, b"k".to_vec())]);
    // Reads of collections change nothing either.
    let report = history("LLEN k", b":0\r\n", &nil(), &bulk("2"));
    assert!(!report.passed(), "LLEN does not make the key unknown");

    // MGET answers nil for a collection, where GET answers WRONGTYPE.
    let list = Conn::new(1)
        .call("LPUSH k x", 0, b":1\r\n", 1)
        .call("MGET k", 2, &[b"*1\r\n".to_vec(), nil()].concat(), 3)
        .call("GET k", 4, wrong_type, 5);
    assert_passes(vec![list]);

    let odd_reply = Conn::new(1)
        .call("SET k 1", 0, &ok(), 1)
        .call("GET k", 2, &int(5), 3)
        .call("SET q 1", 4, &ok(), 5);
    let report = assert_passes(vec![odd_reply]);
    assert_eq!((report.keys_checked, report.keys_unjudged), (1, 1));
    let summary = report.verdict().summary;
    assert!(summary.contains("1 keys unjudged"), "{summary}");
}

/// A key with a time to live may vanish at any moment, unseen: reads may
/// find it or not, until a write without one (or PERSIST) settles it.
/// INCR keeps the time to live; TTL says whether there is one.
#[test]
fn a_time_to_live_lets_a_key_vanish_and_nothing_else() {
    let reads = |first: &[u8], second: &[u8]| {
        Conn::new(2)
            .call("GET k", 10, first, 11)
            .call("GET k", 12, second, 13)
    };
    let expiring = || Conn::new(1).call("SET k 5 PX 100", 0, &ok(), 1);
    assert_passes(vec![expiring(), reads(&bulk("5"), &nil())]);
    assert_passes(vec![expiring(), reads(&nil(), &nil())]);
    assert_fails_on_k(vec![expiring(), reads(&nil(), &bulk("5"))]);
    let incremented = Conn::new(1)
        .call("SET k 5 EX 1", 0, &ok(), 1)
        .call("INCR k", 2, &int(6), 3)
        .call("PTTL k", 4, &int(900), 5);
    assert_passes(vec![incremented, reads(&nil(), &nil())]);
    let expired_first = Conn::new(1)
        .call("SETEX k 1 5", 0, &ok(), 1)
        .call("INCR k", 2, &int(1), 3)
        .call("TTL k", 4, &int(-1), 5);
    assert_passes(vec![expired_first]);
    for settle in ["PERSIST k", "SET k 5"] {
        let settled = Conn::new(1).call("SET k 5 EX 1", 0, &ok(), 1).call(
            settle,
            2,
            &if settle == "PERSIST k" { int(1) } else { ok() },
            3,
        );
        assert_fails_on_k(vec![settled, reads(&bulk("5"), &nil())]);
    }
    let no_time_to_live = Conn::new(1)
        .call("EXPIRE k 10", 0, &int(0), 1)
        .call("SET k 1", 2, &ok(), 3)
        .call("TTL k", 4, &int(7), 5);
    assert_fails_on_k(vec![no_time_to_live]);
}

/// A refused write changes nothing; WRONGTYPE on a key only strings ever
/// touched cannot be right.
#[test]
fn error_replies_change_nothing() {
    let refused = Conn::new(1)
        .call(
            "SET k v",
            0,
            b"-MISCONF Errors writing to the AOF file\r\n",
            1,
        )
        .call("GET k", 2, &nil(), 3);
    let report = assert_passes(vec![refused]);
    assert_eq!(report.refused, 1);
    let wrong_type = Conn::new(1).call(
        "GET k",
        0,
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
        1,
    );
    let report = assert_fails_on_k(vec![wrong_type]);
    assert!(
        report.violations[0].contains("WRONGTYPE"),
        "{:?}",
        report.violations
    );
}

/// MGET, MSET and DEL of several keys say something of each key: the
/// values read, the writes, and a count that is none or all of them.
#[test]
fn multi_key_commands_are_projected() {
    let writer = Conn::new(1)
        .call("MSET k 1 j 2", 0, &ok(), 1)
        .call(
            "MGET k j",
            2,
            &[b"*2\r\n".to_vec(), bulk("1"), bulk("2")].concat(),
            3,
        )
        .call("DEL k j i", 4, &int(2), 5)
        .call("EXISTS k j k", 6, &int(0), 7);
    assert_passes(vec![writer]);
    let all_gone = Conn::new(1)
        .call("SET k 1", 0, &ok(), 1)
        .call("DEL k j", 2, &int(0), 3);
    assert_fails_on_k(vec![all_gone]);
}

/// A search past its bound leaves the key undecided, which does not fail.
#[test]
fn a_search_past_its_bound_is_undecided() {
    let conns: Vec<Conn> = (0..8)
        .map(|client| Conn::new(client).call(&format!("SET k {client}"), 0, &ok(), 10))
        .chain([Conn::new(9).call("GET k", 11, &bulk("7"), 12)])
        .collect();
    let connections: BTreeMap<SimConn, ConnectionLog> = conns
        .into_iter()
        .enumerate()
        .map(|(id, conn)| ((0, id as u64), conn.log))
        .collect();
    let report = check_within(&connections, 3);
    assert!(report.passed());
    assert_eq!(report.keys_undecided, 1);
    assert!(check(&connections).passed(), "decided with room to search");
}

/// A request of a generated history: what it is, when it was sent, when
/// the store ran it and when its reply arrived.
struct Generated {
    argv: Vec<Vec<u8>>,
    invoke_ms: u64,
    run_ms: u64,
    complete_ms: u64,
    reply: Reply,
    /// The request was sent in the same batch as the one before.
    same_batch: bool,
}

/// Registers (`r:N`) take GET, SET, DEL, MGET and MSET with unique
/// values; counters (`c:N`) take INCR, GET and DEL; some batches are
/// MULTI ... EXEC.
fn generated_batch(
    rng: &mut SimRng,
    client: usize,
    serial: &mut u64,
    keys: u64,
) -> Vec<Vec<Vec<u8>>> {
    let register = |rng: &mut SimRng| format!("r:{}", rng.range(0, keys * 4 / 5 - 1)).into_bytes();
    let counter = |rng: &mut SimRng| format!("c:{}", rng.range(0, keys / 5 - 1)).into_bytes();
    let mut value = || {
        *serial += 1;
        format!("v{client}.{serial}").into_bytes()
    };
    let word = |text: &str| text.as_bytes().to_vec();
    let mut one = |rng: &mut SimRng| -> Vec<Vec<u8>> {
        match rng.range(0, 99) {
            0..=29 => vec![word("GET"), register(rng)],
            30..=34 => vec![word("GET"), counter(rng)],
            35..=59 => vec![word("SET"), register(rng), value()],
            60..=69 => vec![word("INCR"), counter(rng)],
            70..=74 => {
                let key = if rng.percent(50) {
                    register(rng)
                } else {
                    counter(rng)
                };
                vec![word("DEL"), key]
            }
            75..=84 => vec![word("MGET"), register(rng), register(rng), counter(rng)],
            _ => vec![word("MSET"), register(rng), value(), register(rng), value()],
        }
    };
    if rng.percent(5) {
        let key = register(rng);
        return vec![
            vec![word("MULTI")],
            vec![word("SET"), key.clone(), value()],
            vec![word("INCR"), counter(rng)],
            vec![word("GET"), key],
            vec![word("EXEC")],
        ];
    }
    (0..rng.range(1, 4)).map(|_| one(rng)).collect()
}

/// The times of one client's requests: each batch leaves when the last
/// reply of the one before arrived (plus thinking), each request runs
/// inside its interval and in order, replies arrive in order.
fn generate_client(
    rng: &mut SimRng,
    client: usize,
    requests_max: usize,
    keys: u64,
) -> Vec<Generated> {
    let mut serial = 0;
    let mut out: Vec<Generated> = Vec::new();
    let mut now_ms = rng.range(0, 20);
    while out.len() < requests_max {
        let batch = generated_batch(rng, client, &mut serial, keys);
        let invoke_ms = now_ms;
        let (mut run_ms, mut complete_ms) = (invoke_ms, invoke_ms);
        let transaction = batch[0][0] == b"MULTI";
        for (index, argv) in batch.into_iter().enumerate() {
            if !transaction || index == 0 {
                run_ms += rng.range(0, 3);
            }
            complete_ms = complete_ms.max(run_ms + rng.range(0, 6));
            out.push(Generated {
                argv,
                invoke_ms,
                run_ms,
                complete_ms,
                reply: Reply::Bulk(None),
                same_batch: index > 0,
            });
        }
        now_ms = complete_ms + rng.range(0, 8);
    }
    out
}

/// The store: runs requests one at a time and answers as Redis does.
#[derive(Default)]
struct Store {
    data: HashMap<Vec<u8>, Vec<u8>>,
    /// The queued commands of each client's open transaction.
    queued: HashMap<usize, Vec<Vec<Vec<u8>>>>,
}

impl Store {
    fn run(&mut self, client: usize, argv: &[Vec<u8>]) -> Reply {
        if let Some(queue) = self.queued.get_mut(&client) {
            if argv[0] != b"EXEC" {
                queue.push(argv.to_vec());
                return Reply::Simple(b"QUEUED".to_vec());
            }
            let queue = self.queued.remove(&client).unwrap_or_default();
            let replies = queue.iter().map(|argv| self.command(argv)).collect();
            return Reply::Array(Some(replies));
        }
        if argv[0] == b"MULTI" {
            self.queued.insert(client, Vec::new());
            return Reply::Simple(b"OK".to_vec());
        }
        self.command(argv)
    }

    fn command(&mut self, argv: &[Vec<u8>]) -> Reply {
        let data = &mut self.data;
        match argv[0].as_slice() {
            b"GET" => Reply::Bulk(data.get(&argv[1]).cloned()),
            b"SET" => {
                data.insert(argv[1].clone(), argv[2].clone());
                Reply::Simple(b"OK".to_vec())
            }
            b"MSET" => {
                for pair in argv[1..].chunks(2) {
                    data.insert(pair[0].clone(), pair[1].clone());
                }
                Reply::Simple(b"OK".to_vec())
            }
            b"MGET" => Reply::Array(Some(
                argv[1..]
                    .iter()
                    .map(|key| Reply::Bulk(data.get(key).cloned()))
                    .collect(),
            )),
            b"DEL" => Reply::Integer(i64::from(data.remove(&argv[1]).is_some())),
            b"INCR" => {
                let entry = data.entry(argv[1].clone()).or_insert_with(|| b"0".to_vec());
                let next: i64 = std::str::from_utf8(entry).unwrap().parse::<i64>().unwrap() + 1;
                *entry = next.to_string().into_bytes();
                Reply::Integer(next)
            }
            other => panic!("the store does not know {other:?}"),
        }
    }
}

/// A history of `clients` clients over `keys` keys, about `requests`
/// requests in all, each run by the store at a moment inside its
/// interval.
fn generate(seed: u64, clients: usize, keys: u64, requests: usize) -> Vec<Vec<Generated>> {
    let mut history: Vec<Vec<Generated>> = (0..clients)
        .map(|client| {
            let mut rng = SimRng::new(seed, client as u64);
            generate_client(&mut rng, client, requests / clients, keys)
        })
        .collect();
    let mut order: Vec<(u64, usize, usize)> = Vec::new();
    for (client, requests) in history.iter().enumerate() {
        for (index, request) in requests.iter().enumerate() {
            order.push((request.run_ms, client, index));
        }
    }
    order.sort_unstable();
    let mut store = Store::default();
    for (_, client, index) in order {
        let reply = store.run(client, &history[client][index].argv);
        history[client][index].reply = reply;
    }
    history
}

/// The connection logs of a generated history, one connection per client.
fn logs(history: &[Vec<Generated>]) -> BTreeMap<SimConn, ConnectionLog> {
    let mut connections = BTreeMap::new();
    for (client, requests) in history.iter().enumerate() {
        let mut log = ConnectionLog {
            client,
            ..ConnectionLog::default()
        };
        for request in requests {
            log.requests.push(request.argv.clone());
            match log.sent.last_mut() {
                Some(last) if request.same_batch => last.1 += 1,
                _ => log.sent.push((request.invoke_ms, log.requests.len())),
            }
            request.reply.encode_into(&mut log.received);
            log.arrived
                .push((request.complete_ms, log.received.len() as u64));
        }
        connections.insert((0, client as u64), log);
    }
    connections
}

/// A plain SET of a generated history: when it was sent, when its reply
/// arrived, and its value (every value is written once).
struct Write {
    sent_ms: u64,
    done_ms: u64,
    value: Vec<u8>,
}

/// Makes one GET of a register read a value two writes back: a write of
/// it, then a write of another value after it, both done before the GET
/// was sent. Returns the key.
fn plant_stale_read(history: &mut [Vec<Generated>]) -> Vec<u8> {
    let mut writes: BTreeMap<Vec<u8>, Vec<Write>> = BTreeMap::new();
    for request in history.iter().flatten() {
        // A transaction's SET follows its MULTI: the SETs that start a
        // batch are plain ones, with times of their own.
        if request.argv[0] == b"SET" && !request.same_batch {
            writes
                .entry(request.argv[1].clone())
                .or_default()
                .push(Write {
                    sent_ms: request.invoke_ms,
                    done_ms: request.complete_ms,
                    value: request.argv[2].clone(),
                });
        }
    }
    for request in history.iter_mut().flatten() {
        // A queued GET answers QUEUED; its value is in EXEC's reply.
        if request.argv[0] != b"GET" || !matches!(request.reply, Reply::Bulk(_)) {
            continue;
        }
        let Some(writes) = writes.get(&request.argv[1]) else {
            continue;
        };
        let stale = writes.iter().find(|old| {
            writes
                .iter()
                .any(|later| old.done_ms < later.sent_ms && later.done_ms < request.invoke_ms)
        });
        if let Some(old) = stale {
            request.reply = Reply::Bulk(Some(old.value.clone()));
            return request.argv[1].clone();
        }
    }
    panic!("no read to plant a stale value in");
}

/// 100k requests of 20 clients over 1000 keys, each run at a moment
/// inside its interval, are linearizable; one stale read planted among
/// them fails, naming its key.
#[test]
fn a_generated_history_passes_and_a_planted_stale_read_fails() {
    let mut history = generate(7, 20, 1000, 100_000);
    let requests: usize = history.iter().map(Vec::len).sum();
    assert!(requests >= 100_000);
    let connections = logs(&history);
    let started = Instant::now();
    let report = check(&connections);
    eprintln!(
        "checked {requests} requests ({} operations on {} keys) in {:?}",
        report.operations_checked,
        report.keys_checked,
        started.elapsed()
    );
    assert!(report.passed(), "{:#?}", report.violations);
    assert_eq!(report.keys_checked, 1000, "{:?}", report.verdict().summary);
    assert_eq!(report.keys_undecided, 0);
    let key = plant_stale_read(&mut history);
    let report = check(&logs(&history));
    assert!(!report.passed(), "the stale read is caught");
    assert_eq!(report.failing_keys, vec![(0, key.clone())]);
    let name = String::from_utf8_lossy(&key);
    assert!(
        report.violations[0].starts_with(&format!("key db0:{name}:")),
        "{}",
        report.violations[0]
    );
}
