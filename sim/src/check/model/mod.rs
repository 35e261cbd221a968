//! The reference model: the string commands of the workload over a
//! `BTreeMap`, replayed from the node's trace.
//!
//! The model reads the node's `Executed` events in order, applies `Expired`
//! events as deletions, and predicts each reply from its own state at the
//! wall-clock time the event carries. A reply that differs is a violation.
//! It also models WATCH: each key has a write version and an expiry count,
//! and an EXEC must answer the null array exactly when a watched key changed
//! after WATCH (written, deleted, or expired if it was live when watched).

mod hashes_sets;
mod lists;
pub mod value;
mod zsets;

use std::collections::BTreeMap;

use redoubt_core::env::ConnId;

use value::Data;

use crate::workload::resp::{parse_reply, Reply};
use crate::world::trace::{TraceEvent, TraceRecord};

/// Violations kept in full per checker; the rest are only counted.
pub const VIOLATIONS_KEPT_MAX: usize = 8;

/// A stored value and its absolute expiry time (wall-clock ms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: Data,
    pub expire_at_ms: Option<i64>,
}

impl Entry {
    /// Whether the key's time has come at wall time `now_ms`.
    pub fn is_due(&self, now_ms: i64) -> bool {
        self.expire_at_ms.is_some_and(|at| at <= now_ms)
    }
}

/// How often a key changed, for WATCH.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct KeyVersion {
    writes: u64,
    expiries: u64,
}

/// A key with its database index.
pub type DbKey = (usize, Vec<u8>);

/// A whole dataset: database index, then key.
pub type Dataset = BTreeMap<usize, BTreeMap<Vec<u8>, Entry>>;

/// One change to the dataset, with what the key held before it: the
/// journal the durability checker walks backwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: DbKey,
    pub before: Option<Entry>,
}

#[derive(Debug, Clone)]
struct Watch {
    key: DbKey,
    version: KeyVersion,
    expired_at_watch: bool,
}

#[derive(Debug, Default)]
struct ConnState {
    watched: Vec<Watch>,
    in_multi: bool,
    /// Replies of the transaction's commands, run just before its EXEC.
    inner_replies: Vec<u8>,
    inner_count: usize,
    /// Whether a watched key had changed when the transaction's first
    /// command ran (EXEC's own check happens before its commands).
    dirty_at_exec: Option<bool>,
}

/// What the model expects a command to answer.
enum Expected {
    Exact(Reply),
    /// TTL or PTTL of a key with a time to live: a non-negative integer no
    /// larger than this.
    TimeToLive {
        at_most: i64,
    },
    /// A command the model does not know.
    Unmodeled,
}

/// The model's findings.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ModelVerdict {
    pub commands_checked: u64,
    pub commands_unmodeled: u64,
    pub transactions_committed: u64,
    pub transactions_aborted_by_watch: u64,
    pub expirations_applied: u64,
    /// Blocking commands answered after blocking: served by another
    /// client's change, or at their timeout (the null array).
    pub served_after_block: u64,
    pub timed_out_after_block: u64,
    pub violations: Vec<String>,
    pub violations_total: u64,
}

impl ModelVerdict {
    pub fn passed(&self) -> bool {
        self.violations_total == 0
    }

    fn violation(&mut self, text: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(text);
        }
    }
}

/// The model state.
#[derive(Debug, Default)]
pub struct Model {
    /// Database index, then key.
    data: Dataset,
    versions: BTreeMap<DbKey, KeyVersion>,
    conns: BTreeMap<ConnId, ConnState>,
    verdict: ModelVerdict,
    /// Changes since the last [`Model::take_changes`], oldest first.
    journal: Vec<Change>,
    /// The command being predicted runs inside EXEC.
    in_transaction_now: bool,
    /// The command being predicted blocked before it answered.
    after_block_now: bool,
}

/// Replays `trace` through a fresh model.
pub fn check_trace(trace: &[TraceRecord]) -> ModelVerdict {
    let mut model = Model::default();
    for record in trace {
        model.apply(record);
    }
    model.verdict
}

fn upper(word: &[u8]) -> Vec<u8> {
    word.to_ascii_uppercase()
}

fn int(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn ok() -> Reply {
    Reply::Simple(b"OK".to_vec())
}

fn error(text: &str) -> Reply {
    Reply::Error(text.as_bytes().to_vec())
}

pub(crate) const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub(crate) const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";
const ERR_SYNTAX: &str = "ERR syntax error";
const ERR_WRONG_TYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn wrong_type() -> Reply {
    error(ERR_WRONG_TYPE)
}

impl Model {
    /// The dataset as the model holds it (keys past their time included
    /// until an `Expired` event removes them).
    pub fn data(&self) -> &Dataset {
        &self.data
    }

    /// The findings so far.
    pub fn verdict(&self) -> &ModelVerdict {
        &self.verdict
    }

    /// The changes applied since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.journal)
    }

    /// A restart: the dataset becomes what the node recovered, and every
    /// connection (with its WATCHes and open MULTI) is gone.
    pub fn restart_with(&mut self, recovered: Dataset) {
        self.data = recovered;
        self.conns.clear();
        self.journal.clear();
    }

    /// Records what `key` holds before a change.
    fn journal_before(&mut self, db: usize, key: &[u8]) {
        let before = self.stored(db, key).cloned();
        self.journal.push(Change {
            key: (db, key.to_vec()),
            before,
        });
    }

    /// Applies one trace record.
    pub fn apply(&mut self, record: &TraceRecord) {
        match &record.event {
            TraceEvent::Executed {
                conn,
                db,
                argv,
                reply,
                in_transaction,
                after_block,
            } => {
                self.in_transaction_now = *in_transaction;
                self.after_block_now = *after_block;
                if *after_block && reply.as_slice() == b"*-1\r\n" {
                    self.verdict.timed_out_after_block += 1;
                } else if *after_block {
                    self.verdict.served_after_block += 1;
                }
                self.executed(*conn, *db, argv, reply, *in_transaction, record.wall_ms)
            }
            TraceEvent::Expired { db, key, .. } => self.expired(*db, key, record.wall_ms),
            TraceEvent::Evicted { db, key } => self.evicted(*db, key),
            // Answered without running: nothing changes in the dataset. A
            // refused EXEC ends its transaction.
            TraceEvent::Rejected { conn, argv, reply } => {
                let exec = argv
                    .first()
                    .is_some_and(|name| name.eq_ignore_ascii_case(b"EXEC"));
                if exec && reply.starts_with(b"-EXECABORT") {
                    if let Some(state) = self.conns.get_mut(conn) {
                        state.in_multi = false;
                        state.watched.clear();
                        state.dirty_at_exec = None;
                    }
                }
            }
            TraceEvent::Connected { conn } => {
                self.conns.insert(*conn, ConnState::default());
            }
            TraceEvent::Disconnected { conn } => {
                self.conns.remove(conn);
            }
        }
    }

    fn expired(&mut self, db: usize, key: &[u8], now_ms: i64) {
        match self.stored(db, key) {
            Some(entry) if entry.is_due(now_ms) => {
                self.journal_before(db, key);
                self.data.entry(db).or_default().remove(key);
                self.versions
                    .entry((db, key.to_vec()))
                    .or_default()
                    .expiries += 1;
                self.verdict.expirations_applied += 1;
            }
            Some(entry) => self.verdict.violation(format!(
                "key {:?} expired at wall {now_ms} ms but its expiry is {:?}",
                String::from_utf8_lossy(key),
                entry.expire_at_ms
            )),
            None => self.verdict.violation(format!(
                "key {:?} expired at wall {now_ms} ms but does not exist",
                String::from_utf8_lossy(key)
            )),
        }
    }

    /// A key evicted for `maxmemory`: gone, whatever its expiry.
    fn evicted(&mut self, db: usize, key: &[u8]) {
        if self.stored(db, key).is_none() {
            self.verdict.violation(format!(
                "key {:?} evicted but does not exist",
                String::from_utf8_lossy(key)
            ));
            return;
        }
        self.journal_before(db, key);
        self.data.entry(db).or_default().remove(key);
        self.versions
            .entry((db, key.to_vec()))
            .or_default()
            .expiries += 1;
    }

    fn executed(
        &mut self,
        conn: ConnId,
        db: usize,
        argv: &[Vec<u8>],
        reply: &[u8],
        in_transaction: bool,
        now_ms: i64,
    ) {
        let name = upper(&argv[0]);
        if !in_transaction {
            match name.as_slice() {
                b"WATCH" | b"UNWATCH" | b"MULTI" | b"DISCARD" | b"EXEC" => {
                    return self.transaction_command(conn, db, &name, argv, reply, now_ms);
                }
                // A script's commands came before it, as a transaction's
                // do, and were checked one by one; its own reply is what
                // the script made of theirs.
                b"EVAL" | b"EVALSHA" | b"EVAL_RO" | b"EVALSHA_RO" | b"FCALL" | b"FCALL_RO" => {
                    let state = self.conns.entry(conn).or_default();
                    state.inner_replies.clear();
                    state.inner_count = 0;
                    state.dirty_at_exec = None;
                    self.verdict.commands_unmodeled += 1;
                    return;
                }
                _ => {}
            }
        }
        if in_transaction && self.conns.get(&conn).is_some_and(|s| s.inner_count == 0) {
            let dirty = self.watch_dirty(conn, now_ms);
            self.conns.entry(conn).or_default().dirty_at_exec = Some(dirty);
        }
        let expected = self.command(db, &name, argv, now_ms);
        self.compare(conn, argv, reply, expected);
        if in_transaction {
            let state = self.conns.entry(conn).or_default();
            state.inner_replies.extend_from_slice(reply);
            state.inner_count += 1;
        }
    }

    fn compare(&mut self, conn: ConnId, argv: &[Vec<u8>], reply: &[u8], expected: Expected) {
        let matches = match &expected {
            Expected::Unmodeled => {
                self.verdict.commands_unmodeled += 1;
                return;
            }
            Expected::Exact(want) => want.encode() == reply,
            Expected::TimeToLive { at_most } => match parse_reply(reply) {
                Ok(Some((Reply::Integer(n), used))) => {
                    used == reply.len() && (0..=*at_most).contains(&n)
                }
                _ => false,
            },
        };
        self.verdict.commands_checked += 1;
        if !matches {
            let want = match expected {
                Expected::Exact(want) => String::from_utf8_lossy(&want.encode()).into_owned(),
                Expected::TimeToLive { at_most } => format!(":0..={at_most}"),
                Expected::Unmodeled => unreachable!(),
            };
            self.verdict.violation(format!(
                "conn {conn}: {} replied {:?}, model expected {:?}",
                show_argv(argv),
                String::from_utf8_lossy(reply),
                want
            ));
        }
    }

    fn transaction_command(
        &mut self,
        conn: ConnId,
        db: usize,
        name: &[u8],
        argv: &[Vec<u8>],
        reply: &[u8],
        now_ms: i64,
    ) {
        let in_multi = self.conns.entry(conn).or_default().in_multi;
        let expected = match name {
            b"WATCH" if in_multi => error("ERR WATCH inside MULTI is not allowed"),
            b"WATCH" => {
                self.watch(conn, db, &argv[1..], now_ms);
                ok()
            }
            b"UNWATCH" => {
                self.conns.entry(conn).or_default().watched.clear();
                ok()
            }
            b"MULTI" if in_multi => error("ERR MULTI calls can not be nested"),
            b"MULTI" => {
                let state = self.conns.entry(conn).or_default();
                state.in_multi = true;
                state.inner_replies.clear();
                state.inner_count = 0;
                ok()
            }
            b"DISCARD" if !in_multi => error("ERR DISCARD without MULTI"),
            b"DISCARD" => {
                let state = self.conns.entry(conn).or_default();
                state.in_multi = false;
                state.watched.clear();
                ok()
            }
            b"EXEC" if !in_multi => error("ERR EXEC without MULTI"),
            _ => return self.exec(conn, reply, now_ms),
        };
        self.compare(conn, argv, reply, Expected::Exact(expected));
    }

    fn watch(&mut self, conn: ConnId, db: usize, keys: &[Vec<u8>], now_ms: i64) {
        for key in keys {
            let db_key = (db, key.clone());
            let version = self.versions.get(&db_key).copied().unwrap_or_default();
            let expired_at_watch = self.stored(db, key).is_some_and(|e| e.is_due(now_ms));
            let state = self.conns.entry(conn).or_default();
            if state.watched.iter().any(|w| w.key == db_key) {
                continue;
            }
            state.watched.push(Watch {
                key: db_key,
                version,
                expired_at_watch,
            });
        }
    }

    /// Whether a watched key of `conn` changed since WATCH.
    fn watch_dirty(&self, conn: ConnId, now_ms: i64) -> bool {
        let Some(state) = self.conns.get(&conn) else {
            return false;
        };
        state.watched.iter().any(|watch| {
            let now = self.versions.get(&watch.key).copied().unwrap_or_default();
            let expired_later = !watch.expired_at_watch
                && (now.expiries != watch.version.expiries
                    || self
                        .stored(watch.key.0, &watch.key.1)
                        .is_some_and(|e| e.is_due(now_ms)));
            now.writes != watch.version.writes || expired_later
        })
    }

    fn exec(&mut self, conn: ConnId, reply: &[u8], now_ms: i64) {
        // The inner commands already ran (they precede EXEC in the trace),
        // so the watch check was taken before the first of them.
        let dirty = match self
            .conns
            .get_mut(&conn)
            .and_then(|s| s.dirty_at_exec.take())
        {
            Some(dirty) => dirty,
            None => self.watch_dirty(conn, now_ms),
        };
        let state = self.conns.entry(conn).or_default();
        let inner_count = state.inner_count;
        let mut whole = Vec::new();
        Reply::Array(None).encode_into(&mut whole);
        let aborted = reply == whole.as_slice();
        let abort_error = reply.starts_with(b"-EXECABORT");
        state.in_multi = false;
        if aborted || abort_error {
            if aborted && !dirty {
                self.verdict.violation(format!(
                    "conn {conn}: EXEC answered the null array but no watched key changed"
                ));
            }
            if inner_count > 0 {
                self.verdict.violation(format!(
                    "conn {conn}: EXEC aborted after running {inner_count} commands"
                ));
            }
            self.verdict.transactions_aborted_by_watch += u64::from(aborted);
        } else {
            let mut expected = format!("*{inner_count}\r\n").into_bytes();
            expected.extend_from_slice(&state.inner_replies);
            if reply != expected.as_slice() {
                self.verdict.violation(format!(
                    "conn {conn}: EXEC replied {:?}, its commands replied {:?}",
                    String::from_utf8_lossy(reply),
                    String::from_utf8_lossy(&expected)
                ));
            }
            if dirty {
                self.verdict.violation(format!(
                    "conn {conn}: EXEC ran although a watched key changed after WATCH"
                ));
            }
            self.verdict.transactions_committed += 1;
        }
        self.verdict.commands_checked += 1;
        let state = self.conns.entry(conn).or_default();
        state.watched.clear();
        state.inner_replies.clear();
        state.inner_count = 0;
    }
}

/// The value of `INCR` and friends: Redis's strict integer syntax.
pub(crate) fn strict_int(text: &[u8]) -> Option<i64> {
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || digits.len() == 1)
        && text != b"-0";
    if canonical {
        int(text)
    } else {
        None
    }
}

impl Model {
    /// The stored entry, live or past its time.
    fn stored(&self, db: usize, key: &[u8]) -> Option<&Entry> {
        self.data.get(&db)?.get(key)
    }

    fn live(&self, db: usize, key: &[u8], now_ms: i64) -> Option<&Entry> {
        self.stored(db, key).filter(|entry| !entry.is_due(now_ms))
    }

    /// The live value under `key` as the type `pick` accepts: `Ok(None)` if
    /// missing, `Err` with WRONGTYPE's reply if it holds another type.
    fn live_as<T: Clone>(
        &self,
        db: usize,
        key: &[u8],
        now_ms: i64,
        pick: impl Fn(&Data) -> Option<&T>,
    ) -> Result<Option<T>, Reply> {
        match self.live(db, key, now_ms) {
            None => Ok(None),
            Some(entry) => pick(&entry.value).cloned().map(Some).ok_or_else(wrong_type),
        }
    }

    /// The live string under `key`; `Err` with WRONGTYPE's reply if it
    /// holds another type.
    fn live_string(&self, db: usize, key: &[u8], now_ms: i64) -> Result<Option<Vec<u8>>, Reply> {
        match self.live(db, key, now_ms).map(|e| &e.value) {
            None => Ok(None),
            Some(Data::String(bytes)) => Ok(Some(bytes.clone())),
            Some(_) => Err(wrong_type()),
        }
    }

    fn bump(&mut self, db: usize, key: &[u8]) {
        self.versions.entry((db, key.to_vec())).or_default().writes += 1;
    }

    fn put(&mut self, db: usize, key: &[u8], value: Data, expire_at_ms: Option<i64>) {
        self.bump(db, key);
        self.journal_before(db, key);
        self.data.entry(db).or_default().insert(
            key.to_vec(),
            Entry {
                value,
                expire_at_ms,
            },
        );
    }

    /// Stores a collection under `key`, keeping a live key's time to live;
    /// an empty one deletes the key.
    pub(super) fn store_collection(&mut self, db: usize, key: &[u8], value: Data, now_ms: i64) {
        if value.is_empty_collection() {
            self.delete(db, key, now_ms);
            return;
        }
        let expire_at_ms = self.live(db, key, now_ms).and_then(|e| e.expire_at_ms);
        self.put(db, key, value, expire_at_ms);
    }

    /// Deletes a live key; true if there was one.
    fn delete(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        if self.live(db, key, now_ms).is_none() {
            return false;
        }
        self.bump(db, key);
        self.journal_before(db, key);
        self.data.entry(db).or_default().remove(key);
        true
    }

    /// Predicts a command's reply and applies its effect.
    fn command(&mut self, db: usize, name: &[u8], argv: &[Vec<u8>], now_ms: i64) -> Expected {
        let reply = match (name, argv.len()) {
            (b"GET", 2) => match self.live_string(db, &argv[1], now_ms) {
                Ok(value) => Reply::Bulk(value),
                Err(reply) => reply,
            },
            (b"SET", 3..) => return self.set(db, argv, now_ms),
            (b"SETNX", 3) => Reply::Integer(i64::from(self.set_if_absent(db, argv, now_ms))),
            (b"GETSET", 3) => match self.live_string(db, &argv[1], now_ms) {
                Ok(old) => {
                    self.put(db, &argv[1], Data::String(argv[2].clone()), None);
                    Reply::Bulk(old)
                }
                Err(reply) => reply,
            },
            (b"GETDEL", 2) => match self.live_string(db, &argv[1], now_ms) {
                Ok(old) => {
                    self.delete(db, &argv[1], now_ms);
                    Reply::Bulk(old)
                }
                Err(reply) => reply,
            },
            (b"INCR", 2) => self.increment(db, &argv[1], Some(1), now_ms),
            (b"DECR", 2) => self.increment(db, &argv[1], Some(-1), now_ms),
            (b"INCRBY", 3) => self.increment(db, &argv[1], strict_int(&argv[2]), now_ms),
            (b"DECRBY", 3) => {
                let by = strict_int(&argv[2]).and_then(i64::checked_neg);
                self.increment(db, &argv[1], by, now_ms)
            }
            (b"APPEND", 3) => self.append(db, &argv[1], &argv[2], now_ms),
            (b"STRLEN", 2) => match self.live_string(db, &argv[1], now_ms) {
                Ok(value) => Reply::Integer(value.map_or(0, |v| v.len() as i64)),
                Err(reply) => reply,
            },
            (b"DEL", 2..) => {
                let deleted = argv[1..]
                    .iter()
                    .filter(|k| self.delete(db, k, now_ms))
                    .count();
                Reply::Integer(deleted as i64)
            }
            (b"EXISTS", 2..) => Reply::Integer(
                argv[1..]
                    .iter()
                    .filter(|k| self.live(db, k, now_ms).is_some())
                    .count() as i64,
            ),
            (b"MGET", 2..) => Reply::Array(Some(
                argv[1..]
                    .iter()
                    .map(|k| Reply::Bulk(self.live_string(db, k, now_ms).unwrap_or(None)))
                    .collect(),
            )),
            (b"MSET", 3..) if argv.len() % 2 == 1 => {
                for pair in argv[1..].chunks(2) {
                    self.put(db, &pair[0], Data::String(pair[1].clone()), None);
                }
                ok()
            }
            (b"EXPIRE", 3) => return self.expire(db, argv, 1000, now_ms),
            (b"PEXPIRE", 3) => return self.expire(db, argv, 1, now_ms),
            (b"PERSIST", 2) => Reply::Integer(i64::from(self.persist(db, &argv[1], now_ms))),
            (b"FLUSHALL", 1) => {
                self.flush_all();
                ok()
            }
            (b"SWAPDB", 3) => match (int(&argv[1]), int(&argv[2])) {
                (Some(a), Some(b)) if a >= 0 && b >= 0 => {
                    self.swap_dbs(a as usize, b as usize);
                    ok()
                }
                _ => return Expected::Unmodeled,
            },
            (b"TTL", 2) => return self.time_to_live(db, &argv[1], 1000, now_ms),
            (b"PTTL", 2) => return self.time_to_live(db, &argv[1], 1, now_ms),
            (b"TYPE", 2) => Reply::Simple(
                self.live(db, &argv[1], now_ms)
                    .map_or("none", |entry| entry.value.type_name())
                    .as_bytes()
                    .to_vec(),
            ),
            _ => {
                if let Some(expected) = self.list_command(db, name, argv, now_ms) {
                    return expected;
                }
                if let Some(expected) = self.hash_set_command(db, name, argv, now_ms) {
                    return expected;
                }
                return self
                    .zset_command(db, name, argv, now_ms)
                    .unwrap_or(Expected::Unmodeled);
            }
        };
        Expected::Exact(reply)
    }

    /// FLUSHALL: every key of every database goes; WATCHes on keys that
    /// existed are touched.
    fn flush_all(&mut self) {
        let keys: Vec<DbKey> = self
            .data
            .iter()
            .flat_map(|(db, keys)| keys.keys().map(move |key| (*db, key.clone())))
            .collect();
        for (db, key) in keys {
            self.bump(db, &key);
            self.journal_before(db, &key);
            self.data.entry(db).or_default().remove(&key);
        }
    }

    /// SWAPDB: the two databases trade contents; a WATCHed key in either is
    /// touched if it exists in either.
    fn swap_dbs(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for db in [a, b] {
            keys.extend(
                self.data
                    .get(&db)
                    .into_iter()
                    .flat_map(|k| k.keys().cloned()),
            );
        }
        keys.sort();
        keys.dedup();
        for key in &keys {
            for db in [a, b] {
                self.bump(db, key);
                self.journal_before(db, key);
            }
        }
        let first = self.data.remove(&a).unwrap_or_default();
        let second = self.data.remove(&b).unwrap_or_default();
        self.data.insert(a, second);
        self.data.insert(b, first);
    }

    fn set(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Expected {
        let (mut only_absent, mut only_present, mut expire_at_ms) = (false, false, None);
        let mut words = argv[3..].iter();
        while let Some(word) = words.next() {
            let unit_ms = match upper(word).as_slice() {
                b"NX" => {
                    only_absent = true;
                    continue;
                }
                b"XX" => {
                    only_present = true;
                    continue;
                }
                b"EX" => 1000,
                b"PX" => 1,
                _ => return Expected::Unmodeled,
            };
            let Some(amount) = words.next().and_then(|w| int(w)) else {
                return Expected::Exact(error(ERR_SYNTAX));
            };
            if amount <= 0 {
                return Expected::Exact(error("ERR invalid expire time in 'set' command"));
            }
            expire_at_ms = Some(now_ms + amount * unit_ms);
        }
        if only_absent && only_present {
            return Expected::Exact(error(ERR_SYNTAX));
        }
        let present = self.live(db, &argv[1], now_ms).is_some();
        if (only_absent && present) || (only_present && !present) {
            return Expected::Exact(Reply::Bulk(None));
        }
        self.put(db, &argv[1], Data::String(argv[2].clone()), expire_at_ms);
        Expected::Exact(ok())
    }

    fn set_if_absent(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> bool {
        if self.live(db, &argv[1], now_ms).is_some() {
            return false;
        }
        self.put(db, &argv[1], Data::String(argv[2].clone()), None);
        true
    }

    fn increment(&mut self, db: usize, key: &[u8], by: Option<i64>, now_ms: i64) -> Reply {
        let Some(by) = by else {
            return error(ERR_NOT_INTEGER);
        };
        let (current, expire_at_ms) = match self.live(db, key, now_ms) {
            Some(Entry {
                value: Data::String(bytes),
                expire_at_ms,
            }) => match strict_int(bytes) {
                Some(n) => (n, *expire_at_ms),
                None => return error(ERR_NOT_INTEGER),
            },
            Some(_) => return wrong_type(),
            None => (0, None),
        };
        let Some(next) = current.checked_add(by) else {
            return error(ERR_OVERFLOW);
        };
        self.put(
            db,
            key,
            Data::String(next.to_string().into_bytes()),
            expire_at_ms,
        );
        Reply::Integer(next)
    }

    fn append(&mut self, db: usize, key: &[u8], tail: &[u8], now_ms: i64) -> Reply {
        let (mut value, expire_at_ms) = match self.live(db, key, now_ms) {
            Some(Entry {
                value: Data::String(bytes),
                expire_at_ms,
            }) => (bytes.clone(), *expire_at_ms),
            Some(_) => return wrong_type(),
            None => (Vec::new(), None),
        };
        value.extend_from_slice(tail);
        let length = value.len() as i64;
        self.put(db, key, Data::String(value), expire_at_ms);
        Reply::Integer(length)
    }

    fn expire(&mut self, db: usize, argv: &[Vec<u8>], unit_ms: i64, now_ms: i64) -> Expected {
        let Some(amount) = int(&argv[2]) else {
            return Expected::Exact(error(ERR_NOT_INTEGER));
        };
        let Some(entry) = self.live(db, &argv[1], now_ms).cloned() else {
            return Expected::Exact(Reply::Integer(0));
        };
        let at_ms = now_ms.saturating_add(amount.saturating_mul(unit_ms));
        if at_ms <= now_ms {
            self.delete(db, &argv[1], now_ms);
        } else {
            self.put(db, &argv[1], entry.value, Some(at_ms));
        }
        Expected::Exact(Reply::Integer(1))
    }

    fn persist(&mut self, db: usize, key: &[u8], now_ms: i64) -> bool {
        match self.live(db, key, now_ms).cloned() {
            Some(entry) if entry.expire_at_ms.is_some() => {
                self.put(db, key, entry.value, None);
                true
            }
            _ => false,
        }
    }

    fn time_to_live(&self, db: usize, key: &[u8], unit_ms: i64, now_ms: i64) -> Expected {
        let reply = match self.live(db, key, now_ms) {
            None => Reply::Integer(-2),
            Some(Entry {
                expire_at_ms: None, ..
            }) => Reply::Integer(-1),
            Some(Entry {
                expire_at_ms: Some(at),
                ..
            }) => {
                let remaining_ms = at - now_ms;
                let at_most = (remaining_ms + unit_ms - 1) / unit_ms;
                return Expected::TimeToLive { at_most };
            }
        };
        Expected::Exact(reply)
    }
}

fn show_argv(argv: &[Vec<u8>]) -> String {
    argv.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Vec<u8>> {
        words.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    fn executed(conn: ConnId, words: &[&str], reply: &[u8], wall_ms: i64) -> TraceRecord {
        TraceRecord {
            monotonic_ms: 0,
            wall_ms,
            event: TraceEvent::Executed {
                conn,
                db: 0,
                argv: args(words),
                reply: reply.to_vec(),
                in_transaction: false,
                after_block: false,
            },
        }
    }

    fn inner(conn: ConnId, words: &[&str], reply: &[u8]) -> TraceRecord {
        let mut record = executed(conn, words, reply, 0);
        if let TraceEvent::Executed { in_transaction, .. } = &mut record.event {
            *in_transaction = true;
        }
        record
    }

    fn expired(key: &str, wall_ms: i64) -> TraceRecord {
        TraceRecord {
            monotonic_ms: 0,
            wall_ms,
            event: TraceEvent::Expired {
                db: 0,
                key: key.as_bytes().to_vec(),
                conn: None,
            },
        }
    }

    /// Correct replies pass; one corrupted byte in a reply fails.
    #[test]
    fn catches_a_wrong_value() {
        let good = vec![
            executed(1, &["SET", "k", "5"], b"+OK\r\n", 0),
            executed(1, &["INCRBY", "k", "3"], b":8\r\n", 0),
            executed(1, &["APPEND", "k", "x"], b":2\r\n", 0),
            executed(1, &["GET", "k"], b"$2\r\n8x\r\n", 0),
            executed(
                1,
                &["INCR", "k"],
                b"-ERR value is not an integer or out of range\r\n",
                0,
            ),
            executed(1, &["MGET", "k", "m"], b"*2\r\n$2\r\n8x\r\n$-1\r\n", 0),
        ];
        let verdict = check_trace(&good);
        assert!(verdict.passed(), "{:?}", verdict.violations);
        assert_eq!(verdict.commands_checked, 6);
        let mut bad = good.clone();
        bad[3] = executed(1, &["GET", "k"], b"$2\r\n9x\r\n", 0);
        let verdict = check_trace(&bad);
        assert!(!verdict.passed());
        assert!(
            verdict.violations[0].contains("GET k"),
            "{:?}",
            verdict.violations
        );
    }

    /// Keys vanish at their time; an expiry before it, or a value served
    /// after it, fails.
    #[test]
    fn checks_expiry() {
        let good = vec![
            executed(1, &["SET", "k", "v", "PX", "100"], b"+OK\r\n", 1_000),
            executed(1, &["PTTL", "k"], b":60\r\n", 1_040),
            executed(1, &["GET", "k"], b"$-1\r\n", 1_100),
            expired("k", 1_100),
        ];
        assert!(check_trace(&good).passed());
        let early = vec![good[0].clone(), expired("k", 1_099)];
        assert!(!check_trace(&early).passed());
        let stale = vec![
            good[0].clone(),
            executed(1, &["GET", "k"], b"$1\r\nv\r\n", 1_100),
        ];
        assert!(!check_trace(&stale).passed());
        let too_long = vec![
            good[0].clone(),
            executed(1, &["PTTL", "k"], b":61\r\n", 1_040),
        ];
        assert!(!check_trace(&too_long).passed());
    }

    /// EXEC may answer the null array only if a watched key changed, and
    /// must if one did.
    #[test]
    fn checks_watch() {
        let watch = executed(1, &["WATCH", "k"], b"+OK\r\n", 0);
        let multi = executed(1, &["MULTI"], b"+OK\r\n", 0);
        let other_write = executed(2, &["SET", "k", "1"], b"+OK\r\n", 0);
        let aborted = executed(1, &["EXEC"], b"*-1\r\n", 0);
        let ran = [
            inner(1, &["INCR", "k"], b":2\r\n"),
            executed(1, &["EXEC"], b"*1\r\n:2\r\n", 0),
        ];
        let conflict = vec![
            watch.clone(),
            other_write.clone(),
            multi.clone(),
            aborted.clone(),
        ];
        assert!(check_trace(&conflict).passed());
        let spurious_abort = vec![watch.clone(), multi.clone(), aborted];
        assert!(!check_trace(&spurious_abort).passed());
        let mut lost_conflict = vec![watch.clone(), other_write.clone(), multi.clone()];
        lost_conflict.extend(ran.iter().cloned());
        let verdict = check_trace(&lost_conflict);
        assert_eq!(verdict.violations_total, 1, "{:?}", verdict.violations);
        let mut clean = vec![other_write, watch, multi];
        clean.extend(ran.iter().cloned());
        let verdict = check_trace(&clean);
        assert!(verdict.passed(), "{:?}", verdict.violations);
        assert_eq!(verdict.transactions_committed, 1);
    }

    /// An EXEC reply that is not its commands' replies fails.
    #[test]
    fn checks_exec_reply_assembly() {
        let trace = vec![
            executed(1, &["MULTI"], b"+OK\r\n", 0),
            inner(1, &["SET", "a", "1"], b"+OK\r\n"),
            inner(1, &["GET", "a"], b"$1\r\n1\r\n"),
            executed(1, &["EXEC"], b"*2\r\n+OK\r\n$1\r\n2\r\n", 0),
        ];
        assert!(!check_trace(&trace).passed());
    }

    /// An EXEC refused before running (MISCONF) ends the transaction: a
    /// MULTI after it is not nested; one after an EXEC refused with a plain
    /// error is.
    #[test]
    fn refused_exec_ends_the_transaction() {
        let refused = |reply: &[u8]| TraceRecord {
            monotonic_ms: 0,
            wall_ms: 0,
            event: TraceEvent::Rejected {
                conn: 1,
                argv: args(&["EXEC"]),
                reply: reply.to_vec(),
            },
        };
        let multi = executed(1, &["MULTI"], b"+OK\r\n", 0);
        let aborted = refused(b"-EXECABORT Transaction discarded because of: MISCONF x\r\n");
        let trace = vec![multi.clone(), aborted, multi.clone()];
        let verdict = check_trace(&trace);
        assert!(verdict.passed(), "{:?}", verdict.violations);
        let other = refused(b"-MISCONF x\r\n");
        assert!(!check_trace(&[multi.clone(), other, multi]).passed());
    }
}
