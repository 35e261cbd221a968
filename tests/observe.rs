//! The operator's observability commands against real Redis and then
//! redoubt-server, with what must differ (ids, times, durations, ports)
//! masked: SLOWLOG GET's entries, LATENCY LATEST after a busy script, INFO
//! commandstats and errorstats after one sequence of commands, and the
//! lines a MONITOR client receives.

use std::fmt::Debug;
use std::net::TcpStream;

use redoubt_tests::{command, read_reply, show, Server};

/// Runs `observe` on real Redis and on redoubt-server and asserts both saw
/// the same.
fn same_on_both<T: PartialEq + Debug>(args: &[&str], observe: impl Fn(&Server) -> T) -> T {
    let redis = observe(&Server::redis(args));
    let redoubt = observe(&Server::redoubt(args));
    assert_eq!(redoubt, redis, "redoubt (left) differs from Redis (right)");
    redis
}

/// A reply, parsed: enough of RESP2 to compare shapes.
#[derive(Debug, Clone, PartialEq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn parse(bytes: &[u8]) -> (Reply, usize) {
    let end = bytes.windows(2).position(|w| w == b"\r\n").expect("a line");
    let line = String::from_utf8_lossy(&bytes[1..end]).into_owned();
    let next = end + 2;
    match bytes[0] {
        b'+' => (Reply::Status(line), next),
        b'-' => (Reply::Error(line), next),
        b':' => (Reply::Int(line.parse().unwrap()), next),
        b'$' => {
            let len: i64 = line.parse().unwrap();
            if len < 0 {
                return (Reply::Bulk(None), next);
            }
            let body = bytes[next..next + len as usize].to_vec();
            (Reply::Bulk(Some(body)), next + len as usize + 2)
        }
        b'*' => {
            let mut items = Vec::new();
            let mut at = next;
            for _ in 0..line.parse::<i64>().unwrap().max(0) {
                let (item, used) = parse(&bytes[at..]);
                items.push(item);
                at += used;
            }
            (Reply::Array(items), at)
        }
        other => panic!(
            "unexpected reply type {:?} in {}",
            other as char,
            show(bytes)
        ),
    }
}

fn call(stream: &mut TcpStream, args: &[&str]) -> Reply {
    parse(&command(stream, args)).0
}

fn text(reply: &Reply) -> String {
    match reply {
        Reply::Bulk(Some(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        other => panic!("not a bulk string: {other:?}"),
    }
}

// A slow log entry is [id, time, microseconds, [args], addr, name] on
// both, newest first, with the name the command itself set.
#[test]
fn slowlog_entries_match_redis() {
    same_on_both(&[], |server| {
        let mut c = server.connect();
        call(&mut c, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        call(&mut c, &["SLOWLOG", "RESET"]);
        call(&mut c, &["SET", "foo", "bar"]);
        call(&mut c, &["CLIENT", "SETNAME", "me"]);
        let long = "y".repeat(200);
        call(&mut c, &["ECHO", &long]);
        let Reply::Array(entries) = call(&mut c, &["SLOWLOG", "GET", "3"]) else {
            panic!("SLOWLOG GET is an array");
        };
        let port = c.local_addr().unwrap().port();
        entries
            .iter()
            .map(|entry| {
                let Reply::Array(fields) = entry else {
                    panic!("an entry is an array: {entry:?}");
                };
                assert!(matches!(
                    fields[..3],
                    [Reply::Int(_), Reply::Int(_), Reply::Int(_)]
                ));
                assert_eq!(text(&fields[4]), format!("127.0.0.1:{port}"));
                (fields.len(), fields[3].clone(), fields[5].clone())
            })
            .collect::<Vec<_>>()
    });
}

// A busy script over the threshold is a `command` event on both:
// [name, time, latest ms, max ms].
#[test]
fn latency_latest_after_a_busy_script() {
    same_on_both(&[], |server| {
        let mut c = server.connect();
        call(&mut c, &["CONFIG", "SET", "latency-monitor-threshold", "1"]);
        let script = "local i=0 while i<3000000 do i=i+1 end";
        call(&mut c, &["EVAL", script, "0"]);
        let Reply::Array(events) = call(&mut c, &["LATENCY", "LATEST"]) else {
            panic!("LATENCY LATEST is an array");
        };
        let command = events
            .iter()
            .find(|e| matches!(e, Reply::Array(f) if text(&f[0]) == "command"))
            .expect("a command event");
        let Reply::Array(fields) = command else {
            unreachable!()
        };
        let [_, Reply::Int(time), Reply::Int(latest), Reply::Int(max)] = fields[..] else {
            panic!("an event is [name, time, latest, max]: {fields:?}");
        };
        assert!(time > 1_600_000_000 && latest >= 1 && max >= latest);
        let Reply::Array(history) = call(&mut c, &["LATENCY", "HISTORY", "command"]) else {
            panic!("LATENCY HISTORY is an array");
        };
        (fields.len(), history.len())
    });
}

/// INFO `section`'s lines, without the header, with `usec` figures
/// masked.
fn section(c: &mut TcpStream, name: &str) -> Vec<String> {
    let info = text(&call(c, &["INFO", name]));
    info.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| match l.split_once(",usec=") {
            Some((head, rest)) => {
                let tail = rest.split_once(",rejected").map_or("", |(_, t)| t);
                format!("{head},rejected{tail}")
            }
            None => l.to_string(),
        })
        .collect()
}

// The same commands leave the same calls, rejected and failed counts, and
// the same error codes, on both.
#[test]
fn commandstats_and_errorstats_match_redis() {
    same_on_both(&[], |server| {
        let mut c = server.connect();
        let script_error = "return redis.error_reply('MY err')";
        let sequence: &[&[&str]] = &[
            &["CONFIG", "RESETSTAT"],
            &["SET", "s", "v"],
            &["LPUSH", "s", "x"],
            &["INCR", "s"],
            &["FOOBAR"],
            &["GET"],
            &["CONFIG", "GET", "maxmemory"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["FOO"],
            &["EXEC"],
            &["MULTI"],
            &["INCR", "s"],
            &["EXEC"],
            &["EVAL", "return redis.call('incr','s')", "0"],
            &["EVAL", "return redis.pcall('incr','s')", "0"],
            &["EVAL", script_error, "0"],
            &["EVAL", "redis.pcall('incr','s') return 1", "0"],
            &["AUTH", "nopass"],
        ];
        for args in sequence {
            call(&mut c, args);
        }
        let mut commands = section(&mut c, "commandstats");
        commands.sort();
        let errors = section(&mut c, "errorstats");
        let total = section(&mut c, "stats")
            .into_iter()
            .find(|l| l.starts_with("total_error_replies:"));
        (commands, errors, total)
    });
}

/// The next `n` MONITOR lines, with the time and the client's port
/// masked.
fn monitor_lines(m: &mut TcpStream, n: usize) -> Vec<String> {
    let mut pending = Vec::new();
    (0..n)
        .map(|_| {
            let line = read_reply(m, &mut pending).expect("a MONITOR line");
            let line = String::from_utf8_lossy(&line).into_owned();
            let (stamp, rest) = line.split_once(' ').expect("a time first");
            let (secs, micros) = stamp.trim_start_matches('+').split_once('.').unwrap();
            assert!(secs.parse::<u64>().is_ok() && micros.len() == 6, "{line}");
            let rest = match rest.split_once("127.0.0.1:") {
                Some((head, tail)) => {
                    format!("{head}ADDR{}", &tail[tail.find(']').unwrap()..])
                }
                None => rest.to_string(),
            };
            format!("+T {rest}")
        })
        .collect()
}

// A MONITOR client sees the commands of others as Redis shows them:
// quoted, after SELECT in the new database, a script's commands after the
// script from `lua`, AUTH's arguments hidden, administrative and refused
// commands left out.
#[test]
fn monitor_lines_match_redis() {
    same_on_both(&[], |server| {
        let mut m = server.connect();
        assert_eq!(call(&mut m, &["MONITOR"]), Reply::Status("OK".into()));
        let mut c = server.connect();
        let sequence: &[&[&str]] = &[
            &["SELECT", "5"],
            &["SET", "a b", "x\ny\u{1}\"z\\"],
            &["MULTI"],
            &["SET", "a", "1"],
            &["EXEC"],
            &["CONFIG", "GET", "port"],
            &["GET"],
            &["EVAL", "return redis.call('get','a')", "0"],
            &["HELLO", "2", "AUTH", "default", "pw"],
            &["AUTH", "pw"],
            &["PING"],
        ];
        for args in sequence {
            call(&mut c, args);
        }
        monitor_lines(&mut m, 10)
    });
}

// LATENCY HISTOGRAM names the same commands with the same call counts on
// both (the buckets depend on speed, and are left out).
#[test]
fn latency_histogram_matches_redis() {
    same_on_both(&[], |server| {
        let mut c = server.connect();
        call(&mut c, &["CONFIG", "RESETSTAT"]);
        call(&mut c, &["SET", "a", "b"]);
        call(&mut c, &["SET", "c", "d"]);
        call(&mut c, &["CLIENT", "ID"]);
        let Reply::Array(items) = call(&mut c, &["LATENCY", "HISTOGRAM", "set", "client", "x"])
        else {
            panic!("LATENCY HISTOGRAM is a map");
        };
        let mut commands: Vec<(String, Reply)> = items
            .chunks(2)
            .map(|pair| {
                let Reply::Array(fields) = &pair[1] else {
                    panic!("a command's entry is a map: {pair:?}");
                };
                assert_eq!(text(&fields[2]), "histogram_usec");
                (text(&pair[0]), fields[1].clone())
            })
            .collect();
        commands.sort_by(|a, b| a.0.cmp(&b.0));
        commands
    });
}

// INFO's default sections, and those of INFO everything, are Redis's.
#[test]
fn info_sections_match_redis() {
    same_on_both(&[], |server| {
        let mut c = server.connect();
        let headers = |c: &mut TcpStream, args: &[&str]| -> Vec<String> {
            text(&call(c, args))
                .lines()
                .filter(|l| l.starts_with("# "))
                .map(str::to_string)
                .collect()
        };
        (
            headers(&mut c, &["INFO"]),
            headers(&mut c, &["INFO", "everything"]),
            headers(&mut c, &["INFO", "cpu", "commandstats", "latencystats"]),
        )
    });
}
