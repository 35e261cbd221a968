//! Replication on exact bytes: the handshake a replica sends, the master's
//! PSYNC replies, the diskless payload, the stream, ACKs and WAIT.

use crate::config::Config;
use crate::persist::rdb::{RdbEvent, RdbReader};
use crate::testing::TestNode;

/// RESP for one command.
fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
    }
    out
}

fn master() -> TestNode {
    let mut config = Config::default();
    config.repl.diskless_sync_delay_s = 0;
    TestNode::with_config(config)
}

/// Runs ticks until the running background job is over.
fn finish_job(t: &mut TestNode) {
    for _ in 0..1000 {
        if t.node.server().background.running().is_none() {
            return;
        }
        t.node.on_tick();
    }
    panic!("the sync job never finished");
}

/// Attaches a replica with a full diskless sync: returns its connection,
/// the replication id, and the RDB payload it received.
fn attach_replica(t: &mut TestNode) -> (u64, String, Vec<u8>) {
    let r = t.connect();
    assert_eq!(t.cmd(r, &["REPLCONF", "listening-port", "6380"]), "+OK\r\n");
    assert_eq!(
        t.cmd(r, &["REPLCONF", "capa", "eof", "capa", "psync2"]),
        "+OK\r\n"
    );
    let mut got = t.raw(r, &resp(&["PSYNC", "?", "-1"]));
    finish_job(t);
    t.node.before_sleep();
    got.extend(t.node.env_mut().sent.remove(&r).unwrap_or_default());
    let text = String::from_utf8_lossy(&got).into_owned();
    let line_end = text.find("\r\n").unwrap();
    let words: Vec<&str> = text[..line_end].split(' ').collect();
    assert_eq!(words[0], "+FULLRESYNC", "{text:?}");
    let replid = words[1].to_string();
    assert_eq!(replid, t.node.server().repl.replid);
    let rest = &got[line_end + 2..];
    assert_eq!(&rest[..5], b"$EOF:");
    let mark = rest[5..45].to_vec();
    assert_eq!(&rest[45..47], b"\r\n");
    let payload = &rest[47..];
    assert_eq!(&payload[payload.len() - 40..], mark.as_slice());
    (r, replid, payload[..payload.len() - 40].to_vec())
}

fn keys_in(payload: &[u8]) -> Vec<Vec<u8>> {
    let mut reader = RdbReader::new(payload).expect("an RDB header");
    let mut keys = Vec::new();
    while let Some(event) = reader.next_event().expect("a valid RDB") {
        if let RdbEvent::Entry(entry) = event {
            keys.push(entry.key);
        }
    }
    keys
}

#[test]
fn full_sync_sends_the_dataset_then_holds_the_stream_until_the_first_ack() {
    let mut t = master();
    let c = t.connect();
    t.cmd(c, &["SET", "k", "v"]);
    let (r, _, payload) = attach_replica(&mut t);
    assert_eq!(keys_in(&payload), vec![b"k".to_vec()]);
    assert_eq!(t.cmd(c, &["SET", "a", "1"]), "+OK\r\n");
    t.node.before_sleep();
    assert_eq!(t.take_sent(r), "", "the stream waits for the first ACK");
    // The ACK has no reply; the held stream follows it, SELECT first.
    let after_ack = t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let mut expected = resp(&["SELECT", "0"]);
    expected.extend(resp(&["SET", "a", "1"]));
    assert_eq!(after_ack, expected);
    assert_eq!(t.node.server().repl.offset, expected.len() as u64);
    // From now on each write goes out as it is committed.
    t.cmd(c, &["DEL", "a"]);
    assert_eq!(t.take_sent(r).into_bytes(), resp(&["DEL", "a"]));
}

#[test]
fn a_transaction_goes_down_the_stream_as_one_unit() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["SET", "x", "1"]);
    t.cmd(c, &["INCR", "x"]);
    t.cmd(c, &["EXEC"]);
    let mut expected = resp(&["SELECT", "0"]);
    expected.extend(resp(&["MULTI"]));
    expected.extend(resp(&["SET", "x", "1"]));
    expected.extend(resp(&["INCR", "x"]));
    expected.extend(resp(&["EXEC"]));
    assert_eq!(t.take_sent(r).into_bytes(), expected);
}

/// A script's writes go down the stream as the commands it ran, wrapped
/// in MULTI/EXEC (effects replication); one that only reads sends nothing,
/// and a SELECT inside it reaches the stream as the database it wrote in.
#[test]
fn a_script_goes_down_the_stream_as_its_effects() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    let script = "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[1]); return redis.call('GET', 'nope')";
    assert_eq!(t.cmd(c, &["EVAL", script, "1", "x", "1"]), "$-1\r\n");
    let mut expected = resp(&["SELECT", "0"]);
    expected.extend(resp(&["MULTI"]));
    expected.extend(resp(&["SET", "x", "1"]));
    expected.extend(resp(&["INCR", "x"]));
    expected.extend(resp(&["EXEC"]));
    assert_eq!(t.take_sent(r).into_bytes(), expected);
    assert_eq!(
        t.cmd(c, &["EVAL", "return redis.call('GET', 'x')", "0"]),
        "$1\r\n2\r\n"
    );
    assert_eq!(t.take_sent(r), "");
    let script = "redis.call('SELECT', 3); return redis.call('SET', 'y', 'v')";
    assert_eq!(t.cmd(c, &["EVAL", script, "0"]), "+OK\r\n");
    let mut expected = resp(&["SELECT", "3"]);
    expected.extend(resp(&["SET", "y", "v"]));
    assert_eq!(t.take_sent(r).into_bytes(), expected);
}

#[test]
fn a_broken_link_continues_from_the_backlog() {
    let mut t = master();
    let (r, replid, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    let seen = t.node.server().repl.offset;
    t.node.on_closed(r);
    t.cmd(c, &["SET", "b", "2"]);
    let r2 = t.connect();
    let next = (seen + 1).to_string();
    let reply = t.raw(r2, &resp(&["PSYNC", &replid, &next]));
    let mut expected = format!("+CONTINUE {replid}\r\n").into_bytes();
    expected.extend(resp(&["SET", "b", "2"]));
    assert_eq!(reply, expected);
    let stats = &t.node.server().repl.stats;
    assert_eq!((stats.sync_full, stats.sync_partial_ok), (1, 1));
}

#[test]
fn an_unknown_history_or_a_lost_offset_gets_a_full_sync() {
    let mut t = master();
    let (_, replid, _) = attach_replica(&mut t);
    let c = t.connect();
    t.cmd(c, &["CONFIG", "SET", "repl-backlog-size", "1"]);
    t.advance(1000);
    let big = "x".repeat(20_000);
    t.cmd(c, &["SET", "big", &big]);
    t.cmd(c, &["SET", "small", "1"]);
    let r2 = t.connect();
    t.cmd(r2, &["REPLCONF", "capa", "eof"]);
    let reply = t.raw(r2, &resp(&["PSYNC", &replid, "1"]));
    assert!(
        String::from_utf8_lossy(&reply).starts_with("+FULLRESYNC "),
        "the backlog lost offset 1: {:?}",
        String::from_utf8_lossy(&reply[..reply.len().min(200)])
    );
    finish_job(&mut t);
    let r3 = t.connect();
    t.cmd(r3, &["REPLCONF", "capa", "eof"]);
    let reply = t.raw(r3, &resp(&["PSYNC", &"f".repeat(40), "5"]));
    assert!(String::from_utf8_lossy(&reply).starts_with("+FULLRESYNC "));
    assert_eq!(t.node.server().repl.stats.sync_partial_err, 2);
}

#[test]
fn wait_asks_for_acks_and_counts_the_replicas_that_have_the_write() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    let offset = t.node.server().repl.offset;
    t.take_sent(r);
    assert_eq!(t.cmd(c, &["WAIT", "1", "0"]), "", "WAIT blocks");
    assert_eq!(
        t.take_sent(r).into_bytes(),
        resp(&["REPLCONF", "GETACK", "*"])
    );
    let ack = offset.to_string();
    t.raw(r, &resp(&["REPLCONF", "ACK", &ack]));
    t.node.before_sleep();
    assert_eq!(t.take_sent(c), ":1\r\n");
    // Two replicas cannot be had: the timeout answers with the count.
    assert_eq!(t.cmd(c, &["WAIT", "2", "100"]), "");
    t.advance(150);
    assert_eq!(t.take_sent(c), ":1\r\n");
    assert_eq!(
        t.cmd(c, &["WAIT", "abc", "0"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["WAIT", "1", "-1"]),
        "-ERR timeout is negative\r\n"
    );
}

#[test]
fn role_and_info_describe_the_master_and_its_replica() {
    let mut t = master();
    let (r, replid, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["ROLE"]),
        "*3\r\n$6\r\nmaster\r\n:0\r\n*1\r\n*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n$1\r\n0\r\n"
    );
    let info = t.cmd(c, &["INFO", "replication"]);
    assert!(info.contains("role:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=0,lag=0\r\n"), "{info}");
    assert!(info.contains(&format!("master_replid:{replid}\r\n")));
    assert!(info.contains("repl_backlog_active:1\r\n"));
}

#[test]
fn min_replicas_to_write_refuses_writes_without_enough_good_replicas() {
    let mut t = master();
    let c = t.connect();
    t.cmd(c, &["CONFIG", "SET", "min-replicas-to-write", "1"]);
    assert_eq!(
        t.cmd(c, &["SET", "a", "1"]),
        "-NOREPLICAS Not enough good replicas to write.\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "a"]), "$-1\r\n");
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    assert_eq!(t.cmd(c, &["SET", "a", "1"]), "+OK\r\n");
}

/// A node made a replica of 127.0.0.1:6380, through the handshake up to
/// the PSYNC it sends. Returns the link's connection.
fn replica_through_handshake(t: &mut TestNode) -> u64 {
    let c = t.connect();
    assert_eq!(t.cmd(c, &["REPLICAOF", "127.0.0.1", "6380"]), "+OK\r\n");
    let (link, addr) = t.node.env().connects.last().cloned().expect("a connect");
    assert_eq!(addr, "127.0.0.1:6380");
    t.node.on_connected(link);
    assert_eq!(t.take_sent(link).into_bytes(), resp(&["PING"]));
    t.node.on_bytes(link, b"+PONG\r\n");
    let mut hello = resp(&["REPLCONF", "listening-port", "6379"]);
    hello.extend(resp(&["REPLCONF", "capa", "eof", "capa", "psync2"]));
    assert_eq!(t.take_sent(link).into_bytes(), hello);
    t.node.on_bytes(link, b"+OK\r\n+OK\r\n");
    let replid = t.node.server().repl.replid.clone();
    assert_eq!(
        t.take_sent(link).into_bytes(),
        resp(&["PSYNC", &replid, "1"])
    );
    link
}

#[test]
fn a_replica_continues_and_applies_the_stream_without_replies() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    let new_id = "a".repeat(40);
    let mut stream = format!("+CONTINUE {new_id}\r\n").into_bytes();
    let set = resp(&["SET", "k", "v"]);
    stream.extend(&set);
    t.node.on_bytes(link, &stream);
    t.node.before_sleep();
    assert_eq!(t.take_sent(link), "", "the stream gets no replies");
    let c = t.connect();
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
    assert_eq!(t.node.server().repl.replid, new_id);
    assert_eq!(t.node.server().repl.offset, set.len() as u64);
    assert_eq!(
        t.cmd(c, &["SET", "k", "w"]),
        "-READONLY You can't write against a read only replica.\r\n"
    );
    // A command split across reads counts whole, once complete.
    let split = resp(&["SET", "split", "across-reads"]);
    for piece in split.chunks(3) {
        t.node.on_bytes(link, piece);
    }
    assert_eq!(t.cmd(c, &["GET", "split"]), "$12\r\nacross-reads\r\n");
    let set_len = set.len() + split.len();
    assert_eq!(t.node.server().repl.offset, set_len as u64);
    let set = vec![0u8; set_len];
    // A transaction counts only once its EXEC is applied.
    t.node
        .on_bytes(link, &[resp(&["MULTI"]), resp(&["INCR", "n"])].concat());
    assert_eq!(t.node.server().repl.offset, set.len() as u64);
    let exec = resp(&["EXEC"]);
    t.node.on_bytes(link, &exec);
    let applied = set.len() + resp(&["MULTI"]).len() + resp(&["INCR", "n"]).len() + exec.len();
    assert_eq!(t.node.server().repl.offset, applied as u64);
    // GETACK is answered on the link with the offset before it.
    t.node.on_bytes(link, &resp(&["REPLCONF", "GETACK", "*"]));
    let offset = applied.to_string();
    assert_eq!(
        t.take_sent(link).into_bytes(),
        resp(&["REPLCONF", "ACK", &offset, "FACK", "0"])
    );
    assert_eq!(
        t.cmd(c, &["ROLE"]),
        format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6380\r\n$9\r\nconnected\r\n:{}\r\n",
            applied + resp(&["REPLCONF", "GETACK", "*"]).len()
        )
    );
    assert_eq!(
        t.cmd(c, &["WAIT", "1", "0"]),
        "-ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.\r\n"
    );
}

#[test]
fn promotion_keeps_the_old_history_as_replid2() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    let master_id = "b".repeat(40);
    let mut stream = format!("+CONTINUE {master_id}\r\n").into_bytes();
    stream.extend(resp(&["SET", "k", "v"]));
    t.node.on_bytes(link, &stream);
    let offset = t.node.server().repl.offset;
    let c = t.connect();
    assert_eq!(t.cmd(c, &["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert!(t.node.env().closed.contains(&link));
    let repl = &t.node.server().repl;
    assert_eq!(repl.replid2, master_id);
    assert_eq!(repl.second_offset, offset as i64 + 1);
    assert_ne!(repl.replid, master_id);
    assert_eq!(t.cmd(c, &["SET", "k", "w"]), "+OK\r\n");
    // A replica of the old master continues with us.
    let r = t.connect();
    let next = (offset + 1).to_string();
    let reply = t.raw(r, &resp(&["PSYNC", &master_id, &next]));
    let new_id = t.node.server().repl.replid.clone();
    let mut expected = format!("+CONTINUE {new_id}\r\n").into_bytes();
    expected.extend(resp(&["SELECT", "0"]));
    expected.extend(resp(&["SET", "k", "w"]));
    assert_eq!(reply, expected);
}

#[test]
fn the_handshake_gives_up_on_an_error_and_retries_from_cron() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["REPLICAOF", "127.0.0.1", "6380"]);
    let (link, _) = t.node.env().connects[0].clone();
    t.node.on_connected(link);
    t.node.on_bytes(link, b"-ERR nope\r\n");
    assert!(t.node.env().closed.contains(&link));
    t.advance(1000);
    assert_eq!(t.node.env().connects.len(), 2, "the cron connects again");
    let info = t.cmd(c, &["INFO", "replication"]);
    assert!(info.contains("master_link_status:down\r\n"), "{info}");
}

#[test]
fn dumpsave_replies_with_a_point_in_time_dump() {
    let mut t = master();
    let c = t.connect();
    for i in 0..3000 {
        t.cmd(c, &["SET", &format!("k{i}"), "v"]);
    }
    assert_eq!(t.cmd(c, &["DUMPSAVE"]), "", "the client waits for the dump");
    // Written after the snapshot began: not in the dump.
    let other = t.connect();
    t.cmd(other, &["SET", "late", "1"]);
    finish_job(&mut t);
    t.node.before_sleep();
    let reply = t.node.env_mut().sent.remove(&c).unwrap_or_default();
    let header_end = reply.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len: usize = std::str::from_utf8(&reply[1..header_end - 2])
        .unwrap()
        .parse()
        .unwrap();
    let payload = &reply[header_end..header_end + len];
    assert_eq!(&reply[header_end + len..], b"\r\n");
    let keys = keys_in(payload);
    assert_eq!(keys.len(), 3000);
    assert!(!keys.contains(&b"late".to_vec()));
    assert!(
        t.node.server().repl.backlog.is_none(),
        "a dump starts no replication"
    );
    assert_eq!(t.cmd(c, &["PING"]), "+PONG\r\n");
}

#[test]
fn pipesave_feeds_the_dump_to_the_command_and_judges_by_its_exit() {
    let mut config = Config::default();
    config.pipesave_command = "gzip > /backups/dump.rdb.gz".to_string();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    t.cmd(c, &["SET", "k", "v"]);
    assert_eq!(t.cmd(c, &["PIPESAVE"]), "+Pipe save started\r\n");
    assert_eq!(
        t.cmd(c, &["PIPESAVE"]),
        "-ERR Pipe save already in progress\r\n"
    );
    finish_job(&mut t);
    let (pipe, (command, fed, closed)) = t
        .node
        .env()
        .pipes
        .iter()
        .next()
        .map(|(p, e)| (*p, e.clone()))
        .unwrap();
    assert_eq!(command, "gzip > /backups/dump.rdb.gz");
    assert_eq!(closed, Some(false), "input closed, not killed");
    assert_eq!(keys_in(&fed), vec![b"k".to_vec()]);
    let info = t.cmd(c, &["INFO", "persistence"]);
    assert!(info.contains("pipesave_in_progress:1\r\n"), "{info}");
    // Only the command's exit says whether the backup exists.
    t.node.on_pipe_done(pipe, Ok(0));
    let info = t.cmd(c, &["INFO", "persistence"]);
    let expected = format!("pipesave_in_progress:0\r\npipesave_last_status:ok\r\npipesave_last_exit_code:0\r\npipesave_last_bytes:{}\r\n", fed.len());
    assert!(info.contains(&expected), "{info}");
    t.cmd(c, &["PIPESAVE"]);
    finish_job(&mut t);
    let pipe = *t.node.env().pipes.keys().last().unwrap();
    t.node.on_pipe_done(pipe, Ok(3));
    let info = t.cmd(c, &["INFO", "persistence"]);
    assert!(
        info.contains("pipesave_last_status:err\r\npipesave_last_exit_code:3\r\n"),
        "{info}"
    );
    let mut bare = TestNode::new();
    let c = bare.connect();
    assert!(bare
        .cmd(c, &["PIPESAVE"])
        .starts_with("-ERR PIPESAVE needs the pipesave-command directive"));
}

#[test]
fn a_replica_without_its_master_serves_stale_data_only_if_allowed() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    t.cmd(c, &["REPLICAOF", "127.0.0.1", "6380"]);
    assert_eq!(
        t.cmd(c, &["GET", "k"]),
        "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    // As in Redis 7.0, PING is no `stale` command either.
    assert!(t.cmd(c, &["PING"]).starts_with("-MASTERDOWN"));
    assert!(t
        .cmd(c, &["INFO", "replication"])
        .contains("role:slave\r\n"));
    t.cmd(c, &["CONFIG", "SET", "replica-serve-stale-data", "yes"]);
    assert_eq!(t.cmd(c, &["GET", "k"]), "$-1\r\n");
    // A transaction queued while stale data was allowed is refused whole,
    // and ended, when it is not any more at EXEC.
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["GET", "k"]), "+QUEUED\r\n");
    let operator = t.connect();
    t.cmd(
        operator,
        &["CONFIG", "SET", "replica-serve-stale-data", "no"],
    );
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of: MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.\r\n"
    );
    assert_eq!(t.cmd(c, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
}

#[test]
fn a_silent_master_times_out_and_the_replica_reconnects_to_continue() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    t.node
        .on_bytes(link, format!("+CONTINUE {}\r\n", "c".repeat(40)).as_bytes());
    let c = t.connect();
    t.cmd(c, &["CONFIG", "SET", "repl-timeout", "5"]);
    for _ in 0..7 {
        t.advance(1000);
    }
    assert!(t.node.env().closed.contains(&link), "the link timed out");
    let (next, _) = t.node.env().connects.last().cloned().unwrap();
    assert_ne!(next, link, "and a new one is opened");
    t.node.on_connected(next);
    t.node.on_bytes(next, b"+PONG\r\n+OK\r\n+OK\r\n");
    let sent = t.take_sent(next);
    assert!(
        sent.ends_with(&String::from_utf8(resp(&["PSYNC", &"c".repeat(40), "1"])).unwrap()),
        "it asks to continue the history it has: {sent:?}"
    );
}

#[test]
fn a_replica_that_stops_acking_is_dropped_after_repl_timeout() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["CONFIG", "SET", "repl-timeout", "3"]);
    for _ in 0..5 {
        t.advance(1000);
    }
    assert!(t.node.env().closed.contains(&r));
    assert!(t
        .cmd(c, &["INFO", "replication"])
        .contains("connected_slaves:0\r\n"));
}

#[test]
fn old_sync_gets_the_dataset_without_a_fullresync_line() {
    let mut t = master();
    let c = t.connect();
    t.cmd(c, &["SET", "k", "v"]);
    let r = t.connect();
    t.cmd(r, &["REPLCONF", "capa", "eof"]);
    let mut got = t.raw(r, b"SYNC\r\n");
    finish_job(&mut t);
    t.node.before_sleep();
    got.extend(t.node.env_mut().sent.remove(&r).unwrap_or_default());
    assert!(
        got.starts_with(b"$EOF:"),
        "{:?}",
        String::from_utf8_lossy(&got[..20])
    );
}

#[test]
fn a_replica_keeps_a_key_its_masters_expiry_has_passed_by_its_own_clock() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    // The master's clock is behind ours: the expiry it sends is already
    // past here, and still the key stays until the master's DEL.
    let past = (t.node.env().wall_ms - 10_000).to_string();
    let mut stream = format!("+CONTINUE {}\r\n", "d".repeat(40)).into_bytes();
    stream.extend(resp(&["SET", "k", "v"]));
    stream.extend(resp(&["PEXPIREAT", "k", &past]));
    t.node.on_bytes(link, &stream);
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 1);
    t.advance(1000);
    assert_eq!(
        t.node.server().keyspace.dbs[0].len(),
        1,
        "no active expiry either"
    );
    t.node.on_bytes(link, &resp(&["DEL", "k"]));
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 0);
}

#[test]
fn a_master_that_sends_an_endless_line_is_given_up() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["REPLICAOF", "127.0.0.1", "6380"]);
    let (link, _) = t.node.env().connects[0].clone();
    t.node.on_connected(link);
    let junk = vec![b'x'; 70 * 1024];
    t.node.on_bytes(link, &junk);
    assert!(t.node.env().closed.contains(&link));
    let info = t.cmd(c, &["INFO", "replication"]);
    assert!(info.contains("master_link_status:down\r\n"), "{info}");
}

#[test]
fn a_replica_hides_keys_past_their_time_until_its_master_deletes_them() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    let soon = (t.node.env().wall_ms + 1000).to_string();
    let mut stream = format!("+CONTINUE {}\r\n", "e".repeat(40)).into_bytes();
    stream.extend(resp(&["SET", "k", "v"]));
    stream.extend(resp(&["PEXPIREAT", "k", &soon]));
    t.node.on_bytes(link, &stream);
    let c = t.connect();
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
    t.advance(2000);
    // Past its time: readers see nothing, the key stays.
    assert_eq!(t.cmd(c, &["GET", "k"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["EXISTS", "k"]), ":0\r\n");
    assert_eq!(t.cmd(c, &["TTL", "k"]), ":-2\r\n");
    assert_eq!(t.cmd(c, &["KEYS", "*"]), "*0\r\n");
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 1);
    // The stream still sees it: an APPEND from the master extends it.
    t.node.on_bytes(link, &resp(&["APPEND", "k", "w"]));
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 1);
    t.node.on_bytes(link, &resp(&["DEL", "k"]));
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 0);
    // Promoted, it expires keys itself again.
    t.node.on_bytes(
        link,
        &[resp(&["SET", "j", "v"]), resp(&["PEXPIREAT", "j", &soon])].concat(),
    );
    t.cmd(c, &["REPLICAOF", "NO", "ONE"]);
    assert_eq!(t.cmd(c, &["GET", "j"]), "$-1\r\n");
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 0);
}

#[test]
fn a_partial_resync_continues_in_the_database_the_stream_had_selected() {
    let mut t = TestNode::new();
    let link = replica_through_handshake(&mut t);
    let id = "f".repeat(40);
    let mut stream = format!("+CONTINUE {id}\r\n").into_bytes();
    stream.extend(resp(&["SELECT", "3"]));
    stream.extend(resp(&["SET", "a", "1"]));
    t.node.on_bytes(link, &stream);
    // The master closes the link; the replica reconnects and continues.
    t.node.on_closed(link);
    t.advance(1000);
    let (next, _) = t.node.env().connects.last().cloned().unwrap();
    assert_ne!(next, link);
    t.node.on_connected(next);
    t.node.on_bytes(next, b"+PONG\r\n+OK\r\n+OK\r\n");
    let mut rest = format!("+CONTINUE {id}\r\n").into_bytes();
    rest.extend(resp(&["SET", "b", "2"]));
    t.node.on_bytes(next, &rest);
    let dbs = &t.node.server().keyspace.dbs;
    assert_eq!((dbs[0].len(), dbs[3].len()), (0, 2), "b went to database 3");
}

fn logged(t: &TestNode, text: &str) -> bool {
    t.node
        .env()
        .logs
        .iter()
        .any(|(_, line)| line.contains(text))
}

/// SHUTDOWN with a lagging replica asks it for an ACK and waits, holding
/// writes (reads go on); once the replica has the master's offset, the
/// node exits, and says the replicas were in sync.
#[test]
fn shutdown_waits_for_lagging_replicas_and_holds_writes_meanwhile() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    let other = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    t.take_sent(r);
    assert_eq!(t.cmd(c, &["SHUTDOWN", "NOSAVE"]), "", "SHUTDOWN waits");
    // The GETACK is part of the stream the replica must acknowledge.
    let offset = t.node.server().repl.offset;
    assert!(!t.node.shutdown_requested());
    assert!(logged(&t, "Waiting for replicas before shutting down."));
    assert_eq!(
        t.take_sent(r).into_bytes(),
        resp(&["REPLCONF", "GETACK", "*"])
    );
    assert_eq!(t.cmd(other, &["GET", "a"]), "$1\r\n1\r\n");
    assert_eq!(t.cmd(other, &["SET", "b", "2"]), "", "writes are held");
    assert_eq!(t.cmd(other, &["MULTI"]), "", "behind the held write");
    t.raw(r, &resp(&["REPLCONF", "ACK", &offset.to_string()]));
    t.node.before_sleep();
    assert!(t.node.shutdown_requested());
    assert!(logged(
        &t,
        "1 of 1 replicas are in sync when shutting down."
    ));
    assert_eq!(t.take_sent(other), "", "the held write never ran");
    assert_eq!(t.node.server().keyspace.dbs[0].len(), 1);
}

/// Without ACKs the wait ends at `shutdown-timeout`, naming the lagging
/// replica; a final save that fails then refuses the shutdown. SHUTDOWN
/// NOW does not wait; ABORT cancels a wait. Both ends answer the waiting
/// SHUTDOWN with an error and run the held writes.
#[test]
fn shutdown_gives_up_on_replicas_after_its_timeout_and_can_be_aborted() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    assert_eq!(t.cmd(c, &["SHUTDOWN", "NOSAVE"]), "");
    let other = t.connect();
    assert_eq!(t.cmd(other, &["SHUTDOWN", "ABORT"]), "+OK\r\n");
    assert_eq!(
        t.take_sent(c),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert!(logged(&t, "Shutdown manually aborted."));
    assert_eq!(
        t.cmd(other, &["SHUTDOWN", "ABORT"]),
        "-ERR No shutdown in progress.\r\n"
    );
    // A write held by a wait runs when the wait is aborted.
    assert_eq!(t.cmd(c, &["SHUTDOWN"]), "");
    assert_eq!(t.cmd(other, &["INCR", "n"]), "");
    let third = t.connect();
    assert_eq!(t.cmd(third, &["SHUTDOWN", "ABORT"]), "+OK\r\n");
    t.node.before_sleep();
    assert_eq!(t.take_sent(other), ":1\r\n");
    // The timeout, then a final save this disk-less test node cannot
    // write: refused.
    t.cmd(c, &["CONFIG", "SET", "shutdown-timeout", "2"]);
    t.cmd(c, &["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]);
    t.take_sent(c);
    assert_eq!(t.cmd(c, &["SHUTDOWN", "SAVE"]), "");
    assert_eq!(t.cmd(other, &["DEL", "a"]), "");
    t.advance(1000);
    assert_eq!(t.take_sent(c), "");
    t.advance(1100);
    assert!(!t.node.shutdown_requested());
    assert!(logged(&t, "Lagging replica 127.0.0.1:6380 reported offset"));
    assert!(logged(
        &t,
        "0 of 1 replicas are in sync when shutting down."
    ));
    assert!(logged(&t, "Errors trying to shut down the server."));
    assert_eq!(
        t.take_sent(c),
        "-ERR Errors trying to SHUTDOWN. Check logs.\r\n"
    );
    assert_eq!(t.take_sent(other), ":1\r\n");
    assert_eq!(t.cmd(c, &["SHUTDOWN", "NOSAVE"]), "");
    t.advance(2100);
    assert!(t.node.shutdown_requested());

    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["SET", "a", "1"]);
    assert_eq!(
        t.cmd(c, &["SHUTDOWN", "ABORT", "NOW"]),
        "-ERR syntax error\r\n"
    );
    assert_eq!(t.cmd(c, &["SHUTDOWN", "NOW", "NOSAVE"]), "");
    assert!(t.node.shutdown_requested(), "NOW does not wait");
    assert!(logged(
        &t,
        "0 of 1 replicas are in sync when shutting down."
    ));
}

// Bit commands and INCRBYFLOAT go down the stream only when they changed
// something, and INCRBYFLOAT as the SET of the text it produced.
#[test]
fn bit_writes_and_float_increments_reach_the_stream_as_redis_sends_them() {
    let mut t = master();
    let (r, _, _) = attach_replica(&mut t);
    t.raw(r, &resp(&["REPLCONF", "ACK", "0"]));
    let c = t.connect();
    t.cmd(c, &["SETBIT", "b", "3", "1"]);
    let mut expected = resp(&["SELECT", "0"]);
    expected.extend(resp(&["SETBIT", "b", "3", "1"]));
    assert_eq!(t.take_sent(r).into_bytes(), expected);
    t.cmd(c, &["SETBIT", "b", "3", "1"]);
    t.cmd(c, &["BITFIELD", "b", "GET", "u8", "0"]);
    t.cmd(
        c,
        &[
            "BITFIELD", "b", "OVERFLOW", "FAIL", "INCRBY", "u2", "0", "9",
        ],
    );
    t.cmd(c, &["BITFIELD_RO", "b", "GET", "u8", "0"]);
    assert_eq!(t.take_sent(r), "", "nothing changed");
    let bitfield = ["BITFIELD", "b", "GET", "u8", "0", "SET", "u4", "0", "7"];
    t.cmd(c, &bitfield);
    assert_eq!(t.take_sent(r).into_bytes(), resp(&bitfield));
    t.cmd(c, &["SET", "f", "69655"]);
    t.take_sent(r);
    assert_eq!(
        t.cmd(c, &["INCRBYFLOAT", "f", "0.1"]),
        "$23\r\n69655.10000000000000142\r\n"
    );
    assert_eq!(
        t.take_sent(r).into_bytes(),
        resp(&["SET", "f", "69655.10000000000000142", "KEEPTTL"])
    );
    t.cmd(c, &["HINCRBYFLOAT", "h", "x", "1.5"]);
    assert_eq!(
        t.take_sent(r).into_bytes(),
        resp(&["HSET", "h", "x", "1.5"])
    );
}
