//! Linearizability of what the clients saw, judged from their side alone:
//! when each request left the client, when the last byte of its reply
//! arrived, and what the reply said. Nothing here reads the node's trace:
//! the model checker judges the order the node says it ran commands in,
//! this one whether any order fits what the clients saw, and when.
//!
//! A history is linearizable when every operation can be given a single
//! moment between its call and its return such that, run in the order of
//! those moments, a plain Redis key answers every reply the clients got.
//! Linearizability is local (Herlihy and Wing): a history is linearizable
//! when each key's part of it is. So [`history`] projects every command
//! onto the keys it touches (what it knows of each command is in
//! [`commands`]), and [`search`] judges each key on its own
//! against [`model`], one string key, with the Wing and Gong search and
//! Lowe's memoization, as Porcupine does.
//!
//! A request without a reply is pending: it may have taken effect at any
//! moment after its call, or never. A key with a time to live may vanish
//! at any moment. A command the model does not hold (collections, SWAPDB,
//! one it does not know) leaves its keys unknown until a write that does
//! not read them. Each of these makes the model admit more, never less,
//! so the checker can miss a violation but never invents one. What it
//! leaves out, it counts: keys with a reply of a shape their command never
//! has (unjudged) and keys whose search hit its bound (undecided); neither
//! fails a run.
//!
//! The run judges it only when no request reached the node after a
//! restart: Redis does not promise that a crash keeps what it
//! acknowledged, and the durability checkers judge what a restart owes.

mod commands;
mod history;
mod model;
mod search;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use history::{History, KeyHistory, Operation, Request};
use model::{Answer, Command, Expect, Model, States, Ttl, NIL, UNKNOWN};
use search::{search, Outcome, Stuck};

use super::model::value::short;
use super::model::{DbKey, VIOLATIONS_KEPT_MAX};
use super::Verdict;
use crate::check::integrity::ConnectionLog;
use crate::run::simulation::SimConn;
use crate::workload::resp::Reply;

/// Steps the search may take on one key before the key is undecided.
pub const SEARCH_STEPS_MAX: u64 = 2_000_000;
/// Operations a violation shows from the end of the longest order found.
const PLACED_SHOWN_MAX: usize = 3;
/// Operations a violation shows among those that could not come next.
const NEXT_SHOWN_MAX: usize = 4;
/// Words of a command a violation shows.
const WORDS_SHOWN_MAX: usize = 6;

/// What the checker found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LinearizableReport {
    /// Operations on judged keys, pending ones and flushes included.
    pub operations_checked: u64,
    pub pending: u64,
    /// Operations of commands the model does not hold, which leave their
    /// key unknown.
    pub unmodelled: u64,
    /// Requests answered with an error that changes nothing (a refused
    /// write, a syntax error), left out.
    pub refused: u64,
    pub keys_checked: u64,
    /// Keys left out for a reply of a shape its command never has.
    pub keys_unjudged: u64,
    pub keys_undecided: u64,
    /// Keys with no linearization, the first few.
    pub failing_keys: Vec<DbKey>,
    pub violations: Vec<String>,
    pub violations_total: u64,
}

impl LinearizableReport {
    pub fn passed(&self) -> bool {
        self.violations_total == 0
    }

    /// The verdict for the run's report.
    pub fn verdict(&self) -> Verdict {
        Verdict {
            name: "linearizable",
            passed: self.passed(),
            summary: format!(
                "{} operations on {} keys checked ({} pending, {} of commands the model does not hold), {} refused requests left out, {} keys unjudged, {} undecided, {} violations",
                self.operations_checked,
                self.keys_checked,
                self.pending,
                self.unmodelled,
                self.refused,
                self.keys_unjudged,
                self.keys_undecided,
                self.violations_total
            ),
            violations: self.violations.clone(),
        }
    }
}

/// Checks the history of every connection.
pub fn check(connections: &BTreeMap<SimConn, ConnectionLog>) -> LinearizableReport {
    check_within(connections, SEARCH_STEPS_MAX)
}

/// Checks the history of every connection, each key within `steps_max`
/// steps of search.
pub fn check_within(
    connections: &BTreeMap<SimConn, ConnectionLog>,
    steps_max: u64,
) -> LinearizableReport {
    let history = History::of(connections);
    let mut report = LinearizableReport {
        refused: history.refused,
        keys_unjudged: history.unjudged.len() as u64,
        ..LinearizableReport::default()
    };
    for (key, mut key_history) in history.keys {
        let operations = &key_history.operations;
        let count = |wanted: fn(&Operation) -> bool| {
            operations.iter().filter(|&o| wanted(o)).count() as u64
        };
        report.keys_checked += 1;
        report.operations_checked += operations.len() as u64;
        report.pending += count(|o| o.complete_ms.is_none());
        report.unmodelled += count(|o| o.steps.iter().all(|s| s.command == Command::Havoc));
        match search(operations, &mut key_history.model, steps_max) {
            Outcome::Linearizable => {}
            Outcome::Undecided => report.keys_undecided += 1,
            Outcome::Violation(stuck) => {
                report.violations_total += 1;
                if report.violations.len() < VIOLATIONS_KEPT_MAX {
                    let text = describe(&key, &mut key_history, &history.requests, &stuck);
                    report.violations.push(text);
                    report.failing_keys.push(key);
                }
            }
        }
    }
    report
}

/// A violation in words: the key, the furthest the search got, and the
/// operations none of which could come next.
fn describe(
    key: &DbKey,
    key_history: &mut KeyHistory,
    requests: &[Request],
    stuck: &Stuck,
) -> String {
    let KeyHistory { model, operations } = key_history;
    let show = |op: usize| show_request(&requests[operations[op].request]);
    let mut text = format!(
        "key db{}:{}: no order of its {} operations explains every reply; the longest order found places {}",
        key.0,
        short(&key.1),
        operations.len(),
        stuck.placed.len()
    );
    let last = &stuck.placed[stuck.placed.len().saturating_sub(PLACED_SHOWN_MAX)..];
    if !last.is_empty() {
        let shown: Vec<String> = last.iter().map(|&op| show(op)).collect();
        text += &format!(", ending {}", shown.join(", "));
    }
    text += &format!(", after which the key is {}", model.show(stuck.states));
    text += "; none of these could come next:";
    for (shown, &op) in stuck.next.iter().enumerate() {
        if shown == NEXT_SHOWN_MAX {
            text += &format!(" (and {} more)", stuck.next.len() - shown);
            break;
        }
        let why = disagreement(model, stuck.states, &operations[op]);
        text += &format!(" {} ({why});", show(op));
    }
    text.trim_end_matches(';').to_string()
}

/// Why an operation does not fit after `states`: the model's answers that
/// differ from the reply, from each state.
fn disagreement(model: &mut Model, states: States, operation: &Operation) -> String {
    let mut answers: Vec<String> = Vec::new();
    for mut state in model.states(states) {
        if state == UNKNOWN {
            if operation
                .steps
                .iter()
                .all(|&step| !model.after_unknown(step).is_empty())
            {
                return "it fits here, but no order of the rest does".to_string();
            }
            answers.push("no such answer".to_string());
            continue;
        }
        let mut fits = true;
        for step in &operation.steps {
            let (after, answer) = model.apply(state, step.command);
            match step.expect {
                Expect::Never(why) => return why.to_string(),
                Expect::Is(seen) if seen != answer => {
                    answers.push(show_answer(model, step.command, answer));
                    fits = false;
                    break;
                }
                _ => state = after,
            }
        }
        if fits {
            return "it fits here, but no order of the rest does".to_string();
        }
    }
    answers.sort();
    answers.dedup();
    format!("the model answers {}", answers.join(" or "))
}

fn show_answer(model: &Model, command: Command, answer: Answer) -> String {
    match (answer, command) {
        (Answer::Value(NIL), _) => "nil".to_string(),
        (Answer::Value(id), _) => format!("{:?}", short(model.bytes(id).unwrap_or_default())),
        (Answer::Integer(n), _) => n.to_string(),
        (Answer::Flag(wrote), Command::Set { .. }) => {
            if wrote { "a write" } else { "no write" }.to_string()
        }
        (Answer::Flag(flag), Command::Expire { .. } | Command::Persist) => {
            if flag { "1" } else { "0" }.to_string()
        }
        (Answer::Flag(present), _) => if present { "present" } else { "absent" }.to_string(),
        (Answer::Ttl(Ttl::Absent), _) => "-2".to_string(),
        (Answer::Ttl(Ttl::Persistent), _) => "-1".to_string(),
        (Answer::Ttl(Ttl::Expiring), _) => "a time left".to_string(),
        (Answer::Error, _) => "an error".to_string(),
    }
}

/// A request as a violation shows it: who, what, when, and the reply.
fn show_request(request: &Request) -> String {
    let commands: Vec<String> = request
        .commands
        .iter()
        .map(|argv| show_argv(argv))
        .collect();
    let what = if request.transaction {
        format!("MULTI; {}; EXEC", commands.join("; "))
    } else {
        commands.join("; ")
    };
    let until = request
        .complete_ms
        .map_or("(pending)".to_string(), |ms| ms.to_string());
    let reply = request
        .reply
        .as_ref()
        .map_or("nothing".to_string(), show_reply);
    format!(
        "[client {} conn {}.{}: {what} at {}..{until} ms -> {reply}]",
        request.client, request.conn.0, request.conn.1, request.invoke_ms
    )
}

fn show_argv(argv: &[Vec<u8>]) -> String {
    let mut words: Vec<String> = argv
        .iter()
        .take(WORDS_SHOWN_MAX)
        .map(|word| short(word))
        .collect();
    if argv.len() > WORDS_SHOWN_MAX {
        words.push(format!("...({} words)", argv.len()));
    }
    words.join(" ")
}

fn show_reply(reply: &Reply) -> String {
    match reply {
        Reply::Simple(text) => short(text),
        Reply::Error(text) => format!("-{}", short(text)),
        Reply::Integer(n) => n.to_string(),
        Reply::Bulk(None) | Reply::Array(None) => "nil".to_string(),
        Reply::Bulk(Some(bytes)) => format!("{:?}", short(bytes)),
        Reply::Array(Some(items)) => {
            let items: Vec<String> = items.iter().map(show_reply).collect();
            format!("[{}]", items.join(", "))
        }
    }
}
