//! From what the clients saw to one history per key.
//!
//! Each connection's requests are paired with the replies that arrived on
//! it: a request's call is when its batch left the client, its return when
//! the last byte of its reply arrived; a request without a whole reply is
//! pending. Walking a connection in order tracks its database (SELECT) and
//! its transaction (MULTI ... EXEC).
//!
//! Every command is projected onto the keys it touches: MSET becomes one
//! write per key, MGET one read per key, a DEL of several keys one delete
//! per key whose count says something only when it is 0 or all of them.
//! A transaction's commands take effect at its EXEC, with EXEC's times
//! and the replies in EXEC's array, and its commands on one key form one
//! atomic operation. FLUSHALL and FLUSHDB become a delete of every key of
//! their databases, added once every key is known. The projection of a
//! linearizable history is linearizable, so judging keys one at a time
//! can miss a violation that spans keys but never invents one.
//!
//! A command the model does not hold leaves the keys it names unknown: a
//! collection command that was not refused, SWAPDB for every key of its
//! two databases, a command the projection does not know, or a script,
//! for each of its arguments in every database (a script is taken to
//! touch only keys it names, as Redis asks; becoming a replica, every
//! key). An unknown key answers anything until a write that does not
//! read it (SET, DEL, a flush) makes it known again. Only a reply of a
//! shape its command never has leaves its keys out (unjudged): the
//! reply-integrity checker judges those.

use std::collections::{BTreeMap, BTreeSet};

use super::commands::{expect_value, family, single_key_step, Family, Projected, DELETE, HAVOC};
use super::model::{Answer, Command, Condition, Expect, Lifetime, Model, Step};
use crate::check::integrity::{split_replies, ConnectionLog};
use crate::check::model::{strict_int, DbKey, ERR_NOT_INTEGER, ERR_OVERFLOW};
use crate::run::simulation::SimConn;
use crate::workload::resp::{parse_reply, Reply};

/// One operation on one key: the steps of one command, or of one
/// transaction's commands on that key, applied atomically.
#[derive(Debug, Clone)]
pub struct Operation {
    pub steps: Vec<Step>,
    pub invoke_ms: u64,
    /// `None`: pending, no reply came.
    pub complete_ms: Option<u64>,
    /// Where it came from, in [`History::requests`].
    pub request: usize,
}

/// A request (or a whole transaction) as the client saw it, for reports.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub client: usize,
    pub conn: SimConn,
    /// The command, or the commands a transaction queued.
    pub commands: Vec<&'a [Vec<u8>]>,
    pub transaction: bool,
    /// The reply (EXEC's, for a transaction); `None` if none came.
    pub reply: Option<Reply>,
    pub invoke_ms: u64,
    pub complete_ms: Option<u64>,
}

/// One key's operations, and its model with the values they name.
#[derive(Debug, Default)]
pub struct KeyHistory {
    pub model: Model,
    pub operations: Vec<Operation>,
}

/// Every judged key's history, and what was left out.
#[derive(Debug, Default)]
pub struct History<'a> {
    pub requests: Vec<Request<'a>>,
    pub keys: BTreeMap<DbKey, KeyHistory>,
    /// Keys with a reply of a shape its command never has, left out.
    pub unjudged: BTreeSet<DbKey>,
    /// Requests answered with an error that changes nothing (a refused
    /// write, a syntax error), left out.
    pub refused: u64,
}

impl<'a> History<'a> {
    /// The history of every key, from every connection's log.
    pub fn of(connections: &'a BTreeMap<SimConn, ConnectionLog>) -> History<'a> {
        let mut builder = Builder::default();
        for (&conn, log) in connections {
            builder.connection(conn, log);
        }
        builder.finish()
    }
}

/// One request with its reply and times.
struct Exchange<'a> {
    argv: &'a [Vec<u8>],
    reply: Option<Reply>,
    invoke_ms: u64,
    complete_ms: Option<u64>,
}

/// Pairs each request of a connection with its reply and times.
fn exchanges(log: &ConnectionLog) -> Vec<Exchange<'_>> {
    let (replies, _) = split_replies(&log.received);
    let (mut batch, mut delivery, mut reply_end) = (0, 0, 0u64);
    let mut exchanges = Vec::with_capacity(log.requests.len());
    for (index, argv) in log.requests.iter().enumerate() {
        while log.sent.get(batch).is_some_and(|&(_, sent)| sent <= index) {
            batch += 1;
        }
        // A request the log has no batch for called no later than the
        // connection opened: the earliest call is the weakest claim.
        let invoke_ms = log.sent.get(batch).map_or(log.opened_ms, |&(at, _)| at);
        let reply = replies.get(index).and_then(|bytes| {
            reply_end += bytes.len() as u64;
            match parse_reply(bytes) {
                Ok(Some((reply, _))) => Some(reply),
                _ => None,
            }
        });
        let complete_ms = reply.as_ref().and_then(|_| {
            while log
                .arrived
                .get(delivery)
                .is_some_and(|&(_, got)| got < reply_end)
            {
                delivery += 1;
            }
            log.arrived.get(delivery).map(|&(at, _)| at)
        });
        let reply = reply.filter(|_| complete_ms.is_some());
        exchanges.push(Exchange {
            argv,
            reply,
            invoke_ms,
            complete_ms,
        });
    }
    exchanges
}

/// What a connection is in: the databases its next command may run in
/// (more than one only after a pending SELECT, when every later request is
/// pending too), and its open transaction's queued requests.
struct ConnectionState {
    dbs: Vec<usize>,
    queued: Option<Vec<usize>>,
}

/// What one request (or transaction) does, before it becomes operations.
#[derive(Default)]
struct Action {
    steps: BTreeMap<DbKey, Vec<Step>>,
    /// Commands on every key of a scope, added once every key is known.
    broad: Vec<(Scope, Command)>,
}

/// Which keys a broad command touches.
#[derive(Clone, PartialEq, Eq)]
enum Scope {
    Everything,
    Db(usize),
    /// The name in every database.
    Name(Vec<u8>),
}

impl Scope {
    fn covers(&self, key: &DbKey) -> bool {
        match self {
            Scope::Everything => true,
            Scope::Db(db) => *db == key.0,
            Scope::Name(name) => *name == key.1,
        }
    }
}

/// A broad command with its request's times.
struct Broad {
    scope: Scope,
    command: Command,
    invoke_ms: u64,
    complete_ms: Option<u64>,
    request: usize,
}

/// Builds the histories, connection by connection.
#[derive(Default)]
struct Builder<'a> {
    requests: Vec<Request<'a>>,
    keys: BTreeMap<DbKey, KeyHistory>,
    /// Keys with a reply of a shape its command never has.
    unexpected: BTreeSet<DbKey>,
    broad: Vec<Broad>,
    refused: u64,
}

impl<'a> Builder<'a> {
    fn connection(&mut self, conn: SimConn, log: &'a ConnectionLog) {
        let exchanges = exchanges(log);
        let mut state = ConnectionState {
            dbs: vec![0],
            queued: None,
        };
        for (index, exchange) in exchanges.iter().enumerate() {
            let name = exchange.argv[0].to_ascii_uppercase();
            let reply = exchange.reply.as_ref();
            let accepted = !reply.is_some_and(Reply::is_error);
            if let Some(queued) = &mut state.queued {
                match name.as_slice() {
                    b"EXEC" => {
                        let queued = state.queued.take().unwrap_or_default();
                        self.exec(conn, log.client, &exchanges, &queued, index, &mut state.dbs);
                    }
                    b"DISCARD" if accepted => state.queued = None,
                    // Refused at once inside MULTI, never queued.
                    b"MULTI" | b"WATCH" | b"DISCARD" => {}
                    _ => match reply {
                        None => queued.push(index),
                        Some(Reply::Simple(text)) if text == b"QUEUED" => queued.push(index),
                        // Refused when queued: EXEC will refuse too.
                        Some(Reply::Error(_)) => {}
                        // Answered at once: it ran.
                        Some(_) => self.request(conn, log.client, exchange, &mut state.dbs),
                    },
                }
                continue;
            }
            match name.as_slice() {
                b"MULTI" if accepted => state.queued = Some(Vec::new()),
                b"MULTI" | b"EXEC" | b"DISCARD" => {}
                _ => self.request(conn, log.client, exchange, &mut state.dbs),
            }
        }
    }

    /// A request outside a transaction.
    fn request(
        &mut self,
        conn: SimConn,
        client: usize,
        exchange: &Exchange<'a>,
        dbs: &mut Vec<usize>,
    ) {
        let mut action = Action::default();
        self.project(&mut action, dbs, exchange.argv, exchange.reply.as_ref());
        let request = Request {
            client,
            conn,
            commands: vec![exchange.argv],
            transaction: false,
            reply: exchange.reply.clone(),
            invoke_ms: exchange.invoke_ms,
            complete_ms: exchange.complete_ms,
        };
        self.emit(action, request);
    }

    /// An EXEC: its queued commands take effect with its times and the
    /// replies of its array, or not at all.
    fn exec(
        &mut self,
        conn: SimConn,
        client: usize,
        exchanges: &[Exchange<'a>],
        queued: &[usize],
        at: usize,
        dbs: &mut Vec<usize>,
    ) {
        let exec = &exchanges[at];
        let commands: Vec<&[Vec<u8>]> = queued.iter().map(|&i| exchanges[i].argv).collect();
        let mut action = Action::default();
        match &exec.reply {
            // Aborted by WATCH, refused (EXECABORT, MISCONF): no effect.
            Some(Reply::Array(None) | Reply::Error(_)) => return,
            Some(Reply::Array(Some(items))) if items.len() == commands.len() => {
                for (argv, item) in commands.iter().zip(items) {
                    self.project(&mut action, dbs, argv, Some(item));
                }
            }
            Some(_) => {
                for argv in &commands {
                    self.unexpected_reply(dbs, &argv[1..]);
                    if argv[0].eq_ignore_ascii_case(b"SELECT") {
                        // Whether it ran is unknown, as if it were pending.
                        self.project(&mut Action::default(), dbs, argv, None);
                    }
                }
                return;
            }
            None => {
                for argv in &commands {
                    self.project(&mut action, dbs, argv, None);
                }
            }
        }
        let request = Request {
            client,
            conn,
            commands,
            transaction: true,
            reply: exec.reply.clone(),
            invoke_ms: exec.invoke_ms,
            complete_ms: exec.complete_ms,
        };
        self.emit(action, request);
    }

    /// Turns an action into operations (and broad commands) with the
    /// request's times; the request is kept only if it made some.
    fn emit(&mut self, action: Action, request: Request<'a>) {
        let index = self.requests.len();
        let mut made = false;
        for (key, steps) in action.steps {
            let steps: Vec<Step> = steps.into_iter().filter(|s| !s.is_idle()).collect();
            if steps.is_empty() {
                continue;
            }
            made = true;
            self.keys
                .entry(key)
                .or_default()
                .operations
                .push(Operation {
                    steps,
                    invoke_ms: request.invoke_ms,
                    complete_ms: request.complete_ms,
                    request: index,
                });
        }
        for (scope, command) in action.broad {
            made = true;
            self.broad.push(Broad {
                scope,
                command,
                invoke_ms: request.invoke_ms,
                complete_ms: request.complete_ms,
                request: index,
            });
        }
        if made {
            self.requests.push(request);
        }
    }

    /// Leaves out the keys of a command whose reply has a shape it never
    /// has.
    fn unexpected_reply(&mut self, dbs: &[usize], args: &[Vec<u8>]) {
        for &db in dbs {
            for name in args {
                self.unexpected.insert((db, name.clone()));
            }
        }
    }

    /// Projects one command, run in one of `dbs` and answered `reply`
    /// (`None`: pending), onto the keys it touches.
    fn project(
        &mut self,
        action: &mut Action,
        dbs: &mut Vec<usize>,
        argv: &[Vec<u8>],
        reply: Option<&Reply>,
    ) {
        let name = argv[0].to_ascii_uppercase();
        let args = &argv[1..];
        let accepted = !reply.is_some_and(Reply::is_error);
        match family(&name) {
            Family::String if dbs.len() > 1 && reply.is_some() => {
                // Only a pending command can follow a pending SELECT.
                self.unexpected_reply(dbs, args);
            }
            Family::String => {
                for db in dbs.clone() {
                    self.string_command(action, db, &name, args, reply);
                }
            }
            Family::Select => {
                // A pending SELECT of a database the node lacks fails, and
                // the connection stays where it was, which `dbs` keeps.
                let index = match args {
                    [index] => strict_int(index).and_then(|n| usize::try_from(n).ok()),
                    _ => None,
                };
                match (reply, index) {
                    (Some(Reply::Simple(_)), Some(db)) => *dbs = vec![db],
                    (None, Some(db)) if !dbs.contains(&db) => dbs.push(db),
                    _ => {}
                }
            }
            Family::FlushAll if accepted => action.broad.push((Scope::Everything, DELETE)),
            Family::FlushDb if accepted => action
                .broad
                .extend(dbs.iter().map(|&db| (Scope::Db(db), DELETE))),
            Family::SwapDb if accepted => {
                for arg in args {
                    match strict_int(arg).and_then(|n| usize::try_from(n).ok()) {
                        Some(db) => action.broad.push((Scope::Db(db), Command::Havoc)),
                        None => action.broad.push((Scope::Everything, Command::Havoc)),
                    }
                }
            }
            Family::FlushAll | Family::FlushDb | Family::SwapDb | Family::Keyless => {}
            Family::Everything => action.broad.push((Scope::Everything, Command::Havoc)),
            Family::CollectionRead => {}
            // Every argument is taken for a key: a few are elements, which
            // costs nothing but precision.
            Family::CollectionWrite if accepted => {
                for &db in dbs.iter() {
                    for name in args {
                        let key = (db, name.clone());
                        action.steps.entry(key).or_default().push(HAVOC);
                    }
                }
            }
            Family::CollectionWrite => self.refused += 1,
            // Every argument is taken for a key name in every database: the
            // script's body or SHA1, its key count and ARGV cost nothing
            // but precision.
            Family::Unknown | Family::Script => {
                for name in args {
                    action
                        .broad
                        .push((Scope::Name(name.clone()), Command::Havoc));
                }
            }
        }
    }

    /// The steps of a string command on its keys in `db`.
    fn string_command(
        &mut self,
        action: &mut Action,
        db: usize,
        name: &[u8],
        args: &[Vec<u8>],
        reply: Option<&Reply>,
    ) {
        if let Some(Reply::Error(text)) = reply {
            return self.string_error(action, db, name, args, text);
        }
        let projected = match name {
            b"MGET" => self.mget(action, db, args, reply),
            b"MSET" | b"MSETNX" => self.mset(action, db, name, args, reply),
            b"DEL" | b"UNLINK" | b"EXISTS" => self.counted(action, db, name, args, reply),
            _ => match args {
                [key, rest @ ..] => {
                    let model = &mut self.keys.entry((db, key.clone())).or_default().model;
                    match single_key_step(model, name, rest, reply) {
                        Projected::Steps(steps) => {
                            let key_steps = action.steps.entry((db, key.clone())).or_default();
                            key_steps.extend(steps);
                            Ok(())
                        }
                        Projected::Unexpected => Err(()),
                    }
                }
                [] => Err(()),
            },
        };
        if projected.is_err() {
            self.unexpected_reply(&[db], args);
        }
    }

    /// An error reply to a string command. INCR's own errors are checked
    /// against the model, and WRONGTYPE is never right for a key the model
    /// knows (holding a string or nothing); any other error refused the
    /// command, which changed nothing.
    fn string_error(
        &mut self,
        action: &mut Action,
        db: usize,
        name: &[u8],
        args: &[Vec<u8>],
        text: &[u8],
    ) {
        let increment = matches!(name, b"INCR" | b"DECR" | b"INCRBY" | b"DECRBY");
        let single_key = !matches!(
            name,
            b"MGET" | b"MSET" | b"MSETNX" | b"DEL" | b"UNLINK" | b"EXISTS"
        );
        let own_error = text == ERR_NOT_INTEGER.as_bytes() || text == ERR_OVERFLOW.as_bytes();
        let step = match args.first() {
            Some(key) if increment && own_error => {
                let model = &mut self.keys.entry((db, key.clone())).or_default().model;
                match single_key_step(model, name, &args[1..], None) {
                    Projected::Steps(mut steps) => {
                        steps[0].expect = Expect::Is(Answer::Error);
                        Some((key, steps[0]))
                    }
                    _ => None,
                }
            }
            Some(key) if single_key && text.starts_with(b"WRONGTYPE") => {
                let step = Step {
                    command: Command::Exists,
                    expect: Expect::Never("WRONGTYPE on a key holding a string or nothing"),
                };
                self.keys.entry((db, key.clone())).or_default();
                Some((key, step))
            }
            _ => None,
        };
        match step {
            Some((key, step)) => action
                .steps
                .entry((db, key.clone()))
                .or_default()
                .push(step),
            None => self.refused += 1,
        }
    }

    fn mget(
        &mut self,
        action: &mut Action,
        db: usize,
        keys: &[Vec<u8>],
        reply: Option<&Reply>,
    ) -> Result<(), ()> {
        let items: Vec<Option<&Reply>> = match reply {
            None => vec![None; keys.len()],
            Some(Reply::Array(Some(items))) if items.len() == keys.len() => {
                items.iter().map(Some).collect()
            }
            Some(_) => return Err(()),
        };
        for (key, item) in keys.iter().zip(items) {
            let model = &mut self.keys.entry((db, key.clone())).or_default().model;
            let expect = expect_value(model, item).ok_or(())?;
            let step = Step {
                command: Command::MgetKey,
                expect,
            };
            action
                .steps
                .entry((db, key.clone()))
                .or_default()
                .push(step);
        }
        Ok(())
    }

    /// MSET writes every pair; MSETNX writes all its pairs (answering 1)
    /// when every key is absent, or none (0). A pending MSETNX cannot be
    /// split into keys: each key's write depends on the others.
    fn mset(
        &mut self,
        action: &mut Action,
        db: usize,
        name: &[u8],
        args: &[Vec<u8>],
        reply: Option<&Reply>,
    ) -> Result<(), ()> {
        if args.is_empty() || args.len() % 2 == 1 {
            return Err(());
        }
        let condition = match (name, reply) {
            (b"MSET", None) => Condition::Always,
            (b"MSET", Some(Reply::Simple(text))) if text == b"OK" => Condition::Always,
            (b"MSETNX", Some(Reply::Integer(1))) => Condition::IfAbsent,
            (b"MSETNX", Some(Reply::Integer(0))) => return Ok(()),
            (b"MSETNX", None) => {
                for pair in args.chunks(2) {
                    let key = (db, pair[0].clone());
                    action.steps.entry(key).or_default().push(HAVOC);
                }
                return Ok(());
            }
            _ => return Err(()),
        };
        let expect = match reply {
            None => Expect::Any,
            Some(_) => Expect::Is(Answer::Flag(true)),
        };
        for pair in args.chunks(2) {
            let key = (db, pair[0].clone());
            let value = self
                .keys
                .entry(key.clone())
                .or_default()
                .model
                .intern(&pair[1]);
            let step = Step {
                command: Command::Set {
                    value,
                    condition,
                    get: false,
                    lifetime: Lifetime::Clear,
                },
                expect,
            };
            action.steps.entry(key).or_default().push(step);
        }
        Ok(())
    }

    /// DEL and EXISTS answer a count over their keys: for each key it says
    /// something only when it is 0 (none there) or all of them.
    fn counted(
        &mut self,
        action: &mut Action,
        db: usize,
        name: &[u8],
        keys: &[Vec<u8>],
        reply: Option<&Reply>,
    ) -> Result<(), ()> {
        if keys.is_empty() {
            return Err(());
        }
        let delete = name != b"EXISTS";
        let distinct: BTreeSet<&Vec<u8>> = keys.iter().collect();
        // DEL counts each key once; EXISTS counts each time it is named.
        let all = (if delete { distinct.len() } else { keys.len() }) as i64;
        let expect = match reply {
            None => Expect::Any,
            Some(Reply::Integer(0)) => Expect::Is(Answer::Flag(false)),
            Some(&Reply::Integer(count)) if count == all => Expect::Is(Answer::Flag(true)),
            Some(&Reply::Integer(count)) if (0..all).contains(&count) => Expect::Any,
            Some(_) => return Err(()),
        };
        let command = if delete {
            Command::Delete { get: false }
        } else {
            Command::Exists
        };
        for key in distinct {
            let key = (db, key.clone());
            self.keys.entry(key.clone()).or_default();
            action
                .steps
                .entry(key)
                .or_default()
                .push(Step { command, expect });
        }
        Ok(())
    }

    /// Every key's history, with the broad commands in their scopes. A
    /// key only unmodelled commands touched is not judged at all.
    fn finish(self) -> History<'a> {
        let mut history = History {
            requests: self.requests,
            refused: self.refused,
            ..History::default()
        };
        for (key, mut key_history) in self.keys {
            let modelled = key_history
                .operations
                .iter()
                .any(|o| o.steps.iter().any(|s| s.command != Command::Havoc));
            if !modelled {
                continue;
            }
            if self.unexpected.contains(&key) {
                history.unjudged.insert(key);
                continue;
            }
            for broad in self.broad.iter().filter(|b| b.scope.covers(&key)) {
                key_history.operations.push(Operation {
                    steps: vec![Step {
                        command: broad.command,
                        expect: Expect::Any,
                    }],
                    invoke_ms: broad.invoke_ms,
                    complete_ms: broad.complete_ms,
                    request: broad.request,
                });
            }
            history.keys.insert(key, key_history);
        }
        history
    }
}
