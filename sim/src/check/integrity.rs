//! Reply integrity: every request got exactly one reply, in order (on a
//! connection a crash cut, the replies received are a prefix), and each
//! reply's bytes are the bytes the node reported for that command in its
//! trace. A reply core produced without running a command (`+QUEUED`, an
//! unknown-command error) is allowed only as `+QUEUED` or an error, and
//! counted.

use std::collections::BTreeMap;

use redoubt_core::env::ConnId;

use super::durability::Promise;
use super::model::VIOLATIONS_KEPT_MAX;
use super::Verdict;
use crate::workload::resp::parse_reply;
use crate::world::trace::{TraceEvent, TraceRecord};

/// What one connection sent and received, as the client saw it.
#[derive(Debug, Default, Clone)]
pub struct ConnectionLog {
    pub client: usize,
    pub requests: Vec<Vec<Vec<u8>>>,
    /// When the client sent each batch: (simulated ms, requests sent so
    /// far), one entry per batch. A request's invoke time.
    pub sent: Vec<(u64, usize)>,
    pub received: Vec<u8>,
    /// When bytes reached the client: (simulated ms, bytes received so
    /// far), one entry per delivery. A reply's completion time is that of
    /// the delivery that brought its last byte.
    pub arrived: Vec<(u64, u64)>,
    /// What the node sent, as (simulated ms, bytes sent so far, what the
    /// node promised then), one entry per send: when each reply left.
    pub released: Vec<(u64, u64, Promise)>,
    /// The connection was cut with requests in flight (the node crashed or
    /// exited, or the client gave up waiting): requests after the last
    /// reply have an unknown outcome.
    pub cut: bool,
    /// Simulated ms of the connection's accept and close.
    pub opened_ms: u64,
    pub closed_ms: Option<u64>,
}

impl ConnectionLog {
    /// Records bytes the node sent at `at_ms` under `promise`.
    pub fn release(&mut self, at_ms: u64, bytes: usize, promise: Promise) {
        let total = self.released.last().map_or(0, |&(_, sent, _)| sent) + bytes as u64;
        self.released.push((at_ms, total, promise));
    }
}

/// Counts for the reply-integrity verdict.
#[derive(Debug, Default)]
struct IntegrityCounts {
    replies_compared: u64,
    replies_queued: u64,
    refused: u64,
    violations: Vec<String>,
    violations_total: u64,
}

impl IntegrityCounts {
    fn violation(&mut self, text: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(text);
        }
    }
}

/// What the node answered one request with: its argv, its reply, and
/// whether it ran (an `Executed` event) or was answered without running
/// (`Rejected`: `+QUEUED`, or a refusal).
type Answer<'a> = (&'a [Vec<u8>], &'a [u8], bool);

/// The node's answers per connection, in order: one per request.
fn answers_by_conn(trace: &[TraceRecord]) -> BTreeMap<ConnId, Vec<Answer<'_>>> {
    let mut by_conn: BTreeMap<ConnId, Vec<Answer<'_>>> = BTreeMap::new();
    for record in trace {
        let (conn, answer) = match &record.event {
            TraceEvent::Executed {
                conn,
                argv,
                reply,
                in_transaction: false,
                ..
            } => (*conn, (argv.as_slice(), reply.as_slice(), true)),
            TraceEvent::Rejected { conn, argv, reply } => {
                (*conn, (argv.as_slice(), reply.as_slice(), false))
            }
            _ => continue,
        };
        by_conn.entry(conn).or_default().push(answer);
    }
    by_conn
}

/// What follows the last whole reply of a stream.
pub(super) enum Tail {
    Incomplete(String),
    Malformed(String),
}

/// Splits a byte stream into replies, and says what follows the last whole
/// one, if anything.
pub(super) fn split_replies(mut bytes: &[u8]) -> (Vec<&[u8]>, Option<Tail>) {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        match parse_reply(bytes) {
            Ok(Some((_, used))) => {
                replies.push(&bytes[..used]);
                bytes = &bytes[used..];
            }
            Ok(None) => {
                let text = format!("{} bytes of incomplete reply", bytes.len());
                return (replies, Some(Tail::Incomplete(text)));
            }
            Err(error) => {
                let text = format!("malformed reply: {}", error.0);
                return (replies, Some(Tail::Malformed(text)));
            }
        }
    }
    (replies, None)
}

/// Checks every connection's replies against its requests and the trace.
pub fn check_reply_integrity(
    connections: &BTreeMap<ConnId, ConnectionLog>,
    trace: &[TraceRecord],
) -> Verdict {
    check_reply_integrity_runs(&[(connections, trace)])
}

/// One incarnation of the node: its connections and its trace.
pub type Incarnation<'a> = (&'a BTreeMap<ConnId, ConnectionLog>, &'a [TraceRecord]);

/// Reply integrity over every incarnation of a node (connection ids start
/// again at each restart, so each incarnation is matched on its own).
pub fn check_reply_integrity_runs(incarnations: &[Incarnation<'_>]) -> Verdict {
    let mut counts = IntegrityCounts::default();
    let mut connections_total = 0;
    for (index, (connections, trace)) in incarnations.iter().enumerate() {
        let answers = answers_by_conn(trace);
        let violations_before = counts.violations.len();
        for (&conn, log) in connections.iter() {
            let events = answers.get(&conn).map(Vec::as_slice).unwrap_or(&[]);
            check_connection(conn, log, events, &mut counts);
        }
        for conn in answers.keys() {
            if !connections.contains_key(conn) {
                counts.violation(format!(
                    "conn {conn}: node answered requests of an unknown connection"
                ));
            }
        }
        if index > 0 {
            for text in &mut counts.violations[violations_before..] {
                *text = format!("incarnation {}: {text}", index + 1);
            }
        }
        connections_total += connections.len();
    }
    Verdict {
        name: "reply_integrity",
        passed: counts.violations_total == 0,
        summary: format!(
            "{} connections, {} replies matched the trace ({} QUEUED, {} refused before running), {} violations",
            connections_total,
            counts.replies_compared,
            counts.replies_queued,
            counts.refused,
            counts.violations_total
        ),
        violations: counts.violations,
    }
}

fn check_connection(
    conn: ConnId,
    log: &ConnectionLog,
    answers: &[Answer<'_>],
    counts: &mut IntegrityCounts,
) {
    let (replies, tail) = split_replies(&log.received);
    match tail {
        // A cut connection may stop in the middle of a reply.
        Some(Tail::Incomplete(_)) if log.cut => {}
        Some(Tail::Incomplete(text) | Tail::Malformed(text)) => {
            counts.violation(format!("conn {conn}: {text}"))
        }
        None => {}
    }
    let cut_short = log.cut && replies.len() < log.requests.len();
    if replies.len() != log.requests.len() && !cut_short {
        counts.violation(format!(
            "conn {conn}: {} requests got {} replies",
            log.requests.len(),
            replies.len()
        ));
    }
    for (index, (request, reply)) in log.requests.iter().zip(&replies).enumerate() {
        let Some(&(argv, traced, executed)) = answers.get(index) else {
            counts.violation(format!(
                "conn {conn}: reply {index} {:?} to {:?} has no answer in the trace",
                String::from_utf8_lossy(reply),
                String::from_utf8_lossy(&request[0])
            ));
            continue;
        };
        if argv != request.as_slice() {
            counts.violation(format!(
                "conn {conn}: request {index} was {:?} but the node answered {:?}",
                String::from_utf8_lossy(&request[0]),
                String::from_utf8_lossy(&argv[0])
            ));
            continue;
        }
        counts.replies_compared += 1;
        match (executed, traced == b"+QUEUED\r\n") {
            (true, _) => {}
            (false, true) => counts.replies_queued += 1,
            (false, false) => counts.refused += 1,
        }
        if traced != *reply {
            counts.violation(format!(
                "conn {conn}: reply {index} to {:?} was {:?}, the trace says {:?}",
                String::from_utf8_lossy(&request[0]),
                String::from_utf8_lossy(reply),
                String::from_utf8_lossy(traced)
            ));
        }
    }
    // Answers a crash or exit cut off were made, but never arrived.
    if answers.len() > replies.len() && !log.cut {
        counts.violation(format!(
            "conn {conn}: the node answered {} requests whose replies never arrived",
            answers.len() - replies.len()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(requests: &[&[&str]], received: &[u8]) -> BTreeMap<ConnId, ConnectionLog> {
        let requests = requests
            .iter()
            .map(|words| words.iter().map(|w| w.as_bytes().to_vec()).collect())
            .collect();
        let log = ConnectionLog {
            client: 0,
            requests,
            received: received.to_vec(),
            ..ConnectionLog::default()
        };
        [(7, log)].into()
    }

    fn executed(words: &[&str], reply: &[u8], in_transaction: bool) -> TraceRecord {
        TraceRecord {
            monotonic_ms: 0,
            wall_ms: 0,
            event: TraceEvent::Executed {
                conn: 7,
                db: 0,
                argv: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                reply: reply.to_vec(),
                in_transaction,
                after_block: false,
            },
        }
    }

    fn queued(words: &[&str]) -> TraceRecord {
        TraceRecord {
            monotonic_ms: 0,
            wall_ms: 0,
            event: TraceEvent::Rejected {
                conn: 7,
                argv: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                reply: b"+QUEUED\r\n".to_vec(),
            },
        }
    }

    fn trace() -> Vec<TraceRecord> {
        vec![
            executed(&["SET", "k", "v"], b"+OK\r\n", false),
            executed(&["MULTI"], b"+OK\r\n", false),
            queued(&["GET", "k"]),
            executed(&["GET", "k"], b"$1\r\nv\r\n", true),
            executed(&["EXEC"], b"*1\r\n$1\r\nv\r\n", false),
        ]
    }

    const REQUESTS: &[&[&str]] = &[&["SET", "k", "v"], &["MULTI"], &["GET", "k"], &["EXEC"]];

    /// Replies equal to the trace pass, QUEUED counted as untraced.
    #[test]
    fn matching_replies_pass() {
        let received = b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n";
        let verdict = check_reply_integrity(&log(REQUESTS, received), &trace());
        assert!(verdict.passed, "{:?}", verdict.violations);
        assert!(
            verdict
                .summary
                .contains("4 replies matched the trace (1 QUEUED, 0 refused"),
            "{}",
            verdict.summary
        );
    }

    /// A changed byte, a missing reply or an unmatched execution fails.
    #[test]
    fn corrupted_replies_fail() {
        let corrupted = b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\nw\r\n";
        assert!(!check_reply_integrity(&log(REQUESTS, corrupted), &trace()).passed);
        let missing = b"+OK\r\n+OK\r\n+QUEUED\r\n";
        assert!(!check_reply_integrity(&log(REQUESTS, missing), &trace()).passed);
        let torn = b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\n";
        assert!(!check_reply_integrity(&log(REQUESTS, torn), &trace()).passed);
        let mut extra = trace();
        extra.push(executed(&["DEL", "k"], b":1\r\n", false));
        let received = b"+OK\r\n+OK\r\n+QUEUED\r\n*1\r\n$1\r\nv\r\n";
        assert!(!check_reply_integrity(&log(REQUESTS, received), &extra).passed);
    }

    /// On a connection a crash cut, the replies received may stop early and
    /// executed commands may lack replies; elsewhere that fails.
    #[test]
    fn crash_cut_connections_may_stop_early() {
        let received = b"+OK\r\n+OK\r\n";
        let mut connections = log(REQUESTS, received);
        assert!(!check_reply_integrity(&connections, &trace()).passed);
        connections.get_mut(&7).unwrap().cut = true;
        let verdict = check_reply_integrity(&connections, &trace());
        assert!(verdict.passed, "{:?}", verdict.violations);
        let wrong = b"+OK\r\n-ERR no\r\n";
        connections.get_mut(&7).unwrap().received = wrong.to_vec();
        assert!(!check_reply_integrity(&connections, &trace()).passed);
    }
}
