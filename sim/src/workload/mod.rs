//! Simulated clients: a seeded workload over a small key space, spoken as
//! RESP with pipelining, transactions with optimistic retry, disconnects and
//! reconnects.
//!
//! A client works in batches: it sends up to `pipeline_depth` requests at
//! once, waits for all their replies, thinks for a seeded time, and goes on.
//! A transaction takes two batches (WATCH and GET, then MULTI ... EXEC) and
//! starts over when EXEC answers the null array, up to a retry bound.
//!
//! Besides the workload's clients, the simulator runs two other [`Role`]s:
//! a liveness probe, which writes until a write is acknowledged, and
//! scripted clients, which send fixed batches (the prefill, an operator's
//! SHUTDOWN).

pub mod apps;
pub mod ops;
pub mod resp;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::world::rng::{stream, SimRng};
use apps::{App, AppNext};
use ops::OpKind;
use resp::{parse_reply, MalformedReply, Reply};

/// Longest timeout of a blocking command the workload sends.
const BLOCK_TIMEOUT_MS_MAX: u64 = 500;
/// The big collections of each type that the `*_many` kinds grow.
const BIG_KEYS: u64 = 3;
/// Elements one `*_many` command adds, at most: a few such commands make
/// a collection larger than a snapshot step (`SLICE_ELEMENTS`), so
/// snapshots and rewrites write it over several steps.
const BULK_ELEMENTS_MAX: u64 = 300;
/// Distinct members the big hashes, sets and sorted sets draw from.
const BIG_MEMBERS: u64 = 4000;

/// What every client of a run does, derived from the seed.
#[derive(Debug, Clone)]
pub struct WorkloadOptions {
    pub seed: u64,
    pub keys: u64,
    pub ops_per_client: u64,
    pub pipeline_depth: u64,
    pub think_ms_max: u64,
    pub disconnect_percent: u64,
    pub expire_ms_max: u64,
    pub discard_percent: u64,
    pub transaction_retries_max: u64,
    /// Largest value written; one value in ten is a long one.
    pub value_bytes_max: u64,
    /// A batch unanswered this long is given up on; 0: never.
    pub timeout_ms: u64,
    /// Weights indexed like `OpKind::ALL`.
    pub mix: Vec<u64>,
}

/// What a client is for.
#[derive(Debug, Clone)]
pub enum Role {
    /// Runs the seeded operation mix.
    Workload,
    /// Writes one key until a write is acknowledged: the liveness probe of
    /// the quiet phase.
    Probe { attempts: u64, acknowledged: bool },
    /// An application of "Redis in Action" ([`apps`]).
    App(Box<App>),
    /// Sends these steps in order, then finishes. A one-off script (an
    /// operator's command) is done when the node goes away under it; a
    /// replayed client reconnects and goes on.
    Script {
        steps: VecDeque<ScriptStep>,
        /// What to do once the batch in flight is answered.
        after: Next,
        one_off: bool,
    },
}

impl Role {
    /// A script of plain batches, sent back to back.
    pub fn one_off(batches: impl IntoIterator<Item = Batch>) -> Role {
        let steps = batches.into_iter().map(ScriptStep::from_batch).collect();
        Role::Script {
            steps,
            after: Next::Continue { think_ms: 0 },
            one_off: true,
        }
    }

    /// A client that replays a recorded script.
    pub fn replay(script: &ClientScript) -> Role {
        Role::Script {
            steps: script.steps.iter().cloned().collect(),
            after: Next::Continue { think_ms: 0 },
            one_off: false,
        }
    }
}

/// One batch of a scripted client, and what the client does once it is
/// answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptStep {
    /// Each request's words.
    pub requests: Vec<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub think_ms: u64,
    /// Close the connection and connect again after this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconnect_after_ms: Option<u64>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

impl ScriptStep {
    pub fn from_batch(batch: Batch) -> ScriptStep {
        let requests = batch
            .iter()
            .map(|argv| {
                argv.iter()
                    .map(|word| String::from_utf8_lossy(word).into_owned())
                    .collect()
            })
            .collect();
        ScriptStep {
            requests,
            think_ms: 0,
            reconnect_after_ms: None,
        }
    }

    fn batch(&self) -> Batch {
        self.requests
            .iter()
            .map(|words| words.iter().map(|w| w.as_bytes().to_vec()).collect())
            .collect()
    }

    fn next(&self) -> Next {
        match self.reconnect_after_ms {
            Some(after_ms) => Next::Reconnect { after_ms },
            None => Next::Continue {
                think_ms: self.think_ms,
            },
        }
    }
}

/// A client written out explicitly: when it first connects, and every
/// batch it sends (what `shrink` writes, and a scenario can replay).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientScript {
    pub connect_ms: u64,
    pub steps: Vec<ScriptStep>,
}

/// The key the liveness probe writes.
pub const PROBE_KEY: &[u8] = b"redoubt:probe";
/// How long the probe waits after an error before it writes again.
pub const PROBE_RETRY_MS: u64 = 100;

/// Requests in wire order (each an argv).
pub type Batch = Vec<Vec<Vec<u8>>>;

/// A transaction in progress.
#[derive(Debug, Clone)]
struct TransactionProgress {
    keys: [Vec<u8>; 2],
    /// Attempts made so far.
    attempts: u64,
    /// The WATCH batch was answered; the MULTI batch is next.
    watched: bool,
    discard: bool,
}

/// What a client does once a batch has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send the next batch after thinking this long.
    Continue { think_ms: u64 },
    /// Close the connection, and reconnect after this long.
    Reconnect { after_ms: u64 },
    /// All operations are done.
    Finished,
}

/// Per-client counters for the report.
#[derive(Debug, Default, Clone)]
pub struct ClientStats {
    pub ops_by_kind: Vec<u64>,
    pub requests_sent: u64,
    pub replies_received: u64,
    pub error_replies: u64,
    pub transactions_committed: u64,
    pub transactions_retried: u64,
    pub transactions_given_up: u64,
    pub transactions_discarded: u64,
    pub reconnects: u64,
    /// Batches given up on after the client's timeout.
    pub timeouts: u64,
}

/// One simulated client.
#[derive(Debug)]
pub struct Client {
    pub index: usize,
    pub role: Role,
    rng: SimRng,
    keys: u64,
    /// The key names, built once.
    key_names: Vec<Vec<u8>>,
    pipeline_depth: u64,
    think_ms_max: u64,
    disconnect_percent: u64,
    expire_ms_max: u64,
    discard_percent: u64,
    transaction_retries_max: u64,
    value_bytes_max: u64,
    mix: Vec<u64>,
    /// Weights of the operator commands alone, for transactions.
    operator_mix: Vec<u64>,
    ops_remaining: u64,
    /// Requests awaiting a reply.
    in_flight: usize,
    /// Replies to the current batch, in order.
    batch_replies: Vec<Reply>,
    /// Where each of them ended in the connection's reply stream.
    reply_ends: Vec<u64>,
    received: Vec<u8>,
    /// Reply bytes of this connection parsed before `received` begins.
    stream_offset: u64,
    transaction: Option<TransactionProgress>,
    /// Batches sent so far (names a batch for its timeout).
    batches_sent: u64,
    pub stats: ClientStats,
}

impl Client {
    pub fn new(index: usize, options: &WorkloadOptions) -> Self {
        Client::with_role(index, options, Role::Workload)
    }

    /// A client of another role; scripts and probes draw nothing from the
    /// workload's mix.
    pub fn with_role(index: usize, options: &WorkloadOptions, role: Role) -> Self {
        let operator_mix = OpKind::ALL
            .iter()
            .zip(&options.mix)
            .map(|(kind, &weight)| {
                if OpKind::OPERATOR.contains(kind) {
                    weight
                } else {
                    0
                }
            })
            .collect();
        let ops_remaining = match role {
            Role::Workload => options.ops_per_client,
            Role::Probe { .. } | Role::Script { .. } | Role::App(_) => 0,
        };
        Client {
            index,
            role,
            rng: SimRng::new(options.seed, stream::CLIENT_BASE + index as u64),
            keys: options.keys,
            key_names: (0..options.keys)
                .map(|i| format!("key:{i}").into_bytes())
                .collect(),
            pipeline_depth: options.pipeline_depth,
            think_ms_max: options.think_ms_max,
            disconnect_percent: options.disconnect_percent,
            expire_ms_max: options.expire_ms_max,
            discard_percent: options.discard_percent,
            transaction_retries_max: options.transaction_retries_max,
            value_bytes_max: options.value_bytes_max,
            mix: options.mix.clone(),
            operator_mix,
            ops_remaining,
            in_flight: 0,
            batch_replies: Vec::new(),
            reply_ends: Vec::new(),
            received: Vec::new(),
            stream_offset: 0,
            transaction: None,
            batches_sent: 0,
            stats: ClientStats {
                ops_by_kind: vec![0; OpKind::ALL.len()],
                ..ClientStats::default()
            },
        }
    }

    /// Whether every operation is done and answered.
    pub fn finished(&self) -> bool {
        let role_done = match &self.role {
            Role::Workload => self.ops_remaining == 0,
            Role::Probe { acknowledged, .. } => *acknowledged,
            Role::Script { steps, .. } => steps.is_empty(),
            Role::App(app) => app.finished(),
        };
        role_done && self.in_flight == 0 && self.transaction.is_none()
    }

    pub fn batches_sent(&self) -> u64 {
        self.batches_sent
    }

    pub fn requests_in_flight(&self) -> usize {
        self.in_flight
    }

    /// The seeded delay before the first connection, within `spread_ms`.
    pub fn connect_delay_ms(&mut self, spread_ms: u64) -> u64 {
        self.rng.range(0, spread_ms)
    }

    /// The next batch to send, recorded as in flight. Empty when finished.
    pub fn next_batch(&mut self) -> Batch {
        debug_assert_eq!(self.in_flight, 0);
        let batch = match (&mut self.role, self.transaction.clone()) {
            (Role::Probe { attempts, .. }, _) => {
                *attempts += 1;
                let value = attempts.to_string().into_bytes();
                vec![vec![b"SET".to_vec(), PROBE_KEY.to_vec(), value]]
            }
            (Role::Script { steps, after, .. }, _) => match steps.pop_front() {
                Some(step) => {
                    *after = step.next();
                    step.batch()
                }
                None => Batch::new(),
            },
            (Role::App(app), _) => app.next_batch(&mut self.rng),
            (Role::Workload, Some(progress)) if progress.watched => {
                self.transaction_body(&progress)
            }
            (Role::Workload, Some(progress)) => self.transaction_watch(&progress),
            (Role::Workload, None) => self.plain_batch(),
        };
        self.batch_replies.clear();
        self.reply_ends.clear();
        self.batches_sent += 1;
        self.stats.requests_sent += batch.len() as u64;
        self.in_flight += batch.len();
        batch
    }

    fn plain_batch(&mut self) -> Batch {
        let mut batch = Batch::new();
        while self.ops_remaining > 0 && (batch.len() as u64) < self.pipeline_depth {
            let kind = OpKind::ALL[self.rng.weighted(&self.mix)];
            self.ops_remaining -= 1;
            self.stats.ops_by_kind[kind as usize] += 1;
            if kind == OpKind::Transaction {
                if batch.is_empty() {
                    let progress = self.start_transaction();
                    return self.transaction_watch(&progress);
                }
                // A transaction starts its own batch; count it back.
                self.ops_remaining += 1;
                self.stats.ops_by_kind[kind as usize] -= 1;
                break;
            }
            batch.push(self.request(kind));
        }
        batch
    }

    /// Feeds bytes from the node. Returns true when the batch is complete.
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<bool, MalformedReply> {
        self.received.extend_from_slice(bytes);
        let mut used = 0;
        while let Some((reply, length)) = parse_reply(&self.received[used..])? {
            used += length;
            if self.in_flight == 0 {
                return Err(MalformedReply("a reply to no request".into()));
            }
            self.in_flight -= 1;
            self.stats.replies_received += 1;
            self.stats.error_replies += u64::from(reply.is_error());
            self.batch_replies.push(reply);
            self.reply_ends.push(self.stream_offset + used as u64);
        }
        self.received.drain(..used);
        self.stream_offset += used as u64;
        Ok(self.in_flight == 0)
    }

    /// Decides what follows a completed batch.
    pub fn after_batch(&mut self) -> Next {
        match &self.role {
            Role::Workload => {}
            Role::Probe { .. } => {
                let acknowledged =
                    matches!(self.batch_replies.first(), Some(Reply::Simple(ok)) if ok == b"OK");
                if let Role::Probe {
                    acknowledged: done, ..
                } = &mut self.role
                {
                    *done = acknowledged;
                }
                if acknowledged {
                    return Next::Finished;
                }
                return Next::Continue {
                    think_ms: PROBE_RETRY_MS,
                };
            }
            Role::Script { steps, .. } if steps.is_empty() => return Next::Finished,
            Role::Script { after, .. } => return *after,
            Role::App(_) => {
                let Role::App(app) = &mut self.role else {
                    unreachable!("matched above");
                };
                return match app.after_batch(&self.batch_replies, &self.reply_ends) {
                    AppNext::Continue { think_ms } => Next::Continue { think_ms },
                    AppNext::Finished => Next::Finished,
                };
            }
        }
        if let Some(progress) = self.transaction.take() {
            self.transaction = self.advance_transaction(progress);
            if self.transaction.is_some() {
                return Next::Continue { think_ms: 0 };
            }
        }
        if self.finished() {
            return Next::Finished;
        }
        if self.rng.percent(self.disconnect_percent) {
            self.stats.reconnects += 1;
            return Next::Reconnect {
                after_ms: self.rng.range(0, self.think_ms_max * 4 + 1),
            };
        }
        Next::Continue {
            think_ms: self.rng.range(0, self.think_ms_max),
        }
    }

    /// The connection was lost: forget what was in flight.
    pub fn on_disconnected(&mut self) {
        self.in_flight = 0;
        self.received.clear();
        self.stream_offset = 0;
        self.batch_replies.clear();
        self.reply_ends.clear();
        self.transaction = None;
        if let Role::App(app) = &mut self.role {
            app.on_disconnected();
        }
    }

    fn key(&mut self) -> Vec<u8> {
        let index = self.rng.range(0, self.keys - 1) as usize;
        self.key_names[index].clone()
    }

    fn keys_distinct_pair(&mut self) -> [Vec<u8>; 2] {
        let first = self.key();
        let mut second = self.key();
        if second == first && self.keys > 1 {
            second = self.key_names[self.key_names.len() - 1].clone();
            if second == first {
                second = self.key_names[0].clone();
            }
        }
        [first, second]
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.range(0, 9) {
            0..=6 => self.rng.range(0, 999).to_string().into_bytes(),
            7 | 8 => format!("v{}", self.rng.range(0, 99)).into_bytes(),
            _ => {
                let length = self.rng.range(10, self.value_bytes_max.max(10)) as usize;
                let letter = b'a' + self.rng.range(0, 25) as u8;
                let mut value = vec![letter; length];
                // A seeded stamp at both ends, so equal lengths still differ.
                let stamp = self.rng.next_u64().to_le_bytes();
                for (at, byte) in stamp.iter().enumerate() {
                    let last = length - 1 - at % length;
                    value[at % length] = b'a' + byte % 26;
                    value[last] = b'a' + (byte >> 3) % 26;
                }
                value
            }
        }
    }

    /// A collection element: few distinct ones, so removals find them.
    fn element(&mut self) -> Vec<u8> {
        match self.rng.range(0, 3) {
            0 => self.rng.range(0, 20).to_string().into_bytes(),
            _ => format!("e{}", self.rng.range(0, 7)).into_bytes(),
        }
    }

    /// A sorted-set score: a small integer, so the model formats it as
    /// Redis does.
    fn score(&mut self) -> Vec<u8> {
        (self.rng.range(0, 10) as i64 - 5).to_string().into_bytes()
    }

    /// A score that is not an integer, in the spellings clients use:
    /// fractions that have no exact double (0.1, 1.1), exponents, very
    /// large and very small magnitudes, and the infinities. Each must come
    /// back from RDB and AOF as the same double.
    fn float_score(&mut self) -> Vec<u8> {
        const SCORES: [&str; 12] = [
            "0.1",
            "1.1",
            "-2.25",
            "0.5",
            "3.14159",
            "1e3",
            "2.5e-3",
            "-7.125e-9",
            "1.7976931348623157e308",
            "123456789.123456789",
            "inf",
            "-inf",
        ];
        SCORES[self.rng.index(SCORES.len())].as_bytes().to_vec()
    }

    /// A hash field: few distinct ones.
    fn field(&mut self) -> Vec<u8> {
        format!("f{}", self.rng.range(0, 5)).into_bytes()
    }

    /// A command on a key with one to three elements (LPUSH, SADD, ...).
    fn push(&mut self, name: &str) -> Vec<Vec<u8>> {
        let mut argv = vec![name.as_bytes().to_vec(), self.key()];
        for _ in 0..self.rng.range(1, 3) {
            argv.push(self.element());
        }
        argv
    }

    /// LEFT or RIGHT.
    fn side(&mut self) -> Vec<u8> {
        let side: &[u8] = if self.rng.range(0, 1) == 0 {
            b"LEFT"
        } else {
            b"RIGHT"
        };
        side.to_vec()
    }

    /// A blocking command's timeout, in seconds: short, and never 0
    /// (forever), so a client blocked on a key nobody pushes to goes on.
    fn block_timeout(&mut self) -> Vec<u8> {
        let ms = self.rng.range(1, BLOCK_TIMEOUT_MS_MAX);
        format!("{}.{:03}", ms / 1000, ms % 1000).into_bytes()
    }

    /// BLPOP or BRPOP on one or two keys.
    fn blocking_pop(&mut self, name: &str) -> Vec<Vec<u8>> {
        let mut argv = vec![name.as_bytes().to_vec(), self.key()];
        if self.rng.range(0, 1) == 1 {
            argv.push(self.key());
        }
        argv.push(self.block_timeout());
        argv
    }

    /// A WAIT's timeout: never 0, which waits for good.
    fn wait_timeout(&mut self) -> Vec<u8> {
        self.rng.range(10, 500).to_string().into_bytes()
    }

    fn short_ms(&mut self) -> Vec<u8> {
        self.rng
            .range(1, self.expire_ms_max)
            .to_string()
            .into_bytes()
    }

    fn request(&mut self, kind: OpKind) -> Vec<Vec<u8>> {
        let word = |text: &str| text.as_bytes().to_vec();
        match kind {
            OpKind::Get => vec![word("GET"), self.key()],
            OpKind::Set => vec![word("SET"), self.key(), self.value()],
            OpKind::SetNx => vec![word("SET"), self.key(), self.value(), word("NX")],
            OpKind::SetXx => vec![word("SET"), self.key(), self.value(), word("XX")],
            OpKind::SetEx => vec![word("SET"), self.key(), self.value(), word("EX"), word("1")],
            OpKind::SetPx => {
                let ms = self.short_ms();
                vec![word("SET"), self.key(), self.value(), word("PX"), ms]
            }
            OpKind::SetNxCommand => vec![word("SETNX"), self.key(), self.value()],
            OpKind::GetSet => vec![word("GETSET"), self.key(), self.value()],
            OpKind::GetDel => vec![word("GETDEL"), self.key()],
            OpKind::Incr => vec![word("INCR"), self.key()],
            OpKind::IncrBy => {
                let by = self.rng.range(0, 200) as i64 - 100;
                vec![word("INCRBY"), self.key(), by.to_string().into_bytes()]
            }
            OpKind::Decr => vec![word("DECR"), self.key()],
            OpKind::Append => vec![word("APPEND"), self.key(), self.value()],
            OpKind::Strlen => vec![word("STRLEN"), self.key()],
            OpKind::Del => self.multi_key("DEL", 3),
            OpKind::Exists => self.multi_key("EXISTS", 3),
            OpKind::Mget => self.multi_key("MGET", 4),
            OpKind::Mset => self.mset(),
            OpKind::Expire => vec![word("EXPIRE"), self.key(), word("1")],
            OpKind::Pexpire => {
                let ms = self.short_ms();
                vec![word("PEXPIRE"), self.key(), ms]
            }
            OpKind::Persist => vec![word("PERSIST"), self.key()],
            OpKind::Ttl => vec![word("TTL"), self.key()],
            OpKind::Pttl => vec![word("PTTL"), self.key()],
            OpKind::Transaction => unreachable!("transactions are batches"),
            OpKind::FlushAll => vec![word("FLUSHALL")],
            OpKind::SwapDb => vec![word("SWAPDB"), word("0"), word("1")],
            OpKind::Select => {
                let db = self.rng.index(3).to_string().into_bytes();
                vec![word("SELECT"), db]
            }
            OpKind::BgRewriteAof => vec![word("BGREWRITEAOF")],
            OpKind::BgSave => vec![word("BGSAVE")],
            OpKind::Save => vec![word("SAVE")],
            OpKind::ClientPause => {
                let ms = self.rng.range(20, 300).to_string().into_bytes();
                let kind = ["WRITE", "ALL"][self.rng.index(2)];
                vec![word("CLIENT"), word("PAUSE"), ms, word(kind)]
            }
            OpKind::ConfigSetAppendFsync => {
                let policy = ["always", "everysec", "no"][self.rng.index(3)];
                vec![
                    word("CONFIG"),
                    word("SET"),
                    word("appendfsync"),
                    word(policy),
                ]
            }
            OpKind::ConfigSetAppendOnly => {
                let on = ["yes", "no"][self.rng.index(2)];
                vec![word("CONFIG"), word("SET"), word("appendonly"), word(on)]
            }
            OpKind::Shutdown => vec![word("SHUTDOWN")],
            OpKind::Wait => {
                let replicas = self.rng.range(1, 2).to_string().into_bytes();
                vec![word("WAIT"), replicas, self.wait_timeout()]
            }
            OpKind::WaitAof => {
                let local = self.rng.range(0, 1).to_string().into_bytes();
                let replicas = self.rng.range(0, 2).to_string().into_bytes();
                vec![word("WAITAOF"), local, replicas, self.wait_timeout()]
            }
            OpKind::LPush => self.push("LPUSH"),
            OpKind::RPush => self.push("RPUSH"),
            OpKind::LPop => vec![word("LPOP"), self.key()],
            OpKind::RPop => vec![word("RPOP"), self.key()],
            OpKind::LPopCount => {
                let count = self.rng.range(0, 4).to_string().into_bytes();
                vec![word("LPOP"), self.key(), count]
            }
            OpKind::LLen => vec![word("LLEN"), self.key()],
            OpKind::LRange => {
                let start = self.rng.range(0, 6) as i64 - 3;
                let stop = self.rng.range(0, 10) as i64 - 3;
                let key = self.key();
                vec![
                    word("LRANGE"),
                    key,
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ]
            }
            OpKind::LIndex => {
                let index = self.rng.range(0, 8) as i64 - 4;
                vec![word("LINDEX"), self.key(), index.to_string().into_bytes()]
            }
            OpKind::LRem => {
                let count = self.rng.range(0, 4) as i64 - 2;
                let key = self.key();
                vec![
                    word("LREM"),
                    key,
                    count.to_string().into_bytes(),
                    self.element(),
                ]
            }
            OpKind::LTrim => {
                let start = self.rng.range(0, 3) as i64;
                let stop = self.rng.range(0, 12) as i64 - 2;
                let key = self.key();
                vec![
                    word("LTRIM"),
                    key,
                    start.to_string().into_bytes(),
                    stop.to_string().into_bytes(),
                ]
            }
            OpKind::LMove => {
                let [source, destination] = self.keys_distinct_pair();
                let (from, to) = (self.side(), self.side());
                vec![word("LMOVE"), source, destination, from, to]
            }
            OpKind::BLPop => self.blocking_pop("BLPOP"),
            OpKind::BRPop => self.blocking_pop("BRPOP"),
            OpKind::BLMove => {
                let [source, destination] = self.keys_distinct_pair();
                let (from, to) = (self.side(), self.side());
                let timeout = self.block_timeout();
                vec![word("BLMOVE"), source, destination, from, to, timeout]
            }
            OpKind::Type => vec![word("TYPE"), self.key()],
            OpKind::HSet => {
                let mut argv = vec![word("HSET"), self.key()];
                for _ in 0..self.rng.range(1, 2) {
                    argv.push(self.field());
                    argv.push(self.element());
                }
                argv
            }
            OpKind::HGet => vec![word("HGET"), self.key(), self.field()],
            OpKind::HMGet => vec![word("HMGET"), self.key(), self.field(), self.field()],
            OpKind::HExists => vec![word("HEXISTS"), self.key(), self.field()],
            OpKind::HLen => vec![word("HLEN"), self.key()],
            OpKind::HDel => vec![word("HDEL"), self.key(), self.field(), self.field()],
            OpKind::HIncrBy => {
                let by = self.rng.range(0, 20) as i64 - 10;
                vec![
                    word("HINCRBY"),
                    self.key(),
                    self.field(),
                    by.to_string().into_bytes(),
                ]
            }
            OpKind::SAdd => self.push("SADD"),
            OpKind::SRem => self.push("SREM"),
            OpKind::SIsMember => vec![word("SISMEMBER"), self.key(), self.element()],
            OpKind::SMIsMember => vec![
                word("SMISMEMBER"),
                self.key(),
                self.element(),
                self.element(),
            ],
            OpKind::SCard => vec![word("SCARD"), self.key()],
            OpKind::ZAdd => {
                let mut argv = vec![word("ZADD"), self.key()];
                for _ in 0..self.rng.range(1, 2) {
                    argv.push(self.score());
                    argv.push(self.element());
                }
                argv
            }
            OpKind::ZIncrBy => vec![word("ZINCRBY"), self.key(), self.score(), self.element()],
            OpKind::ZScore => vec![word("ZSCORE"), self.key(), self.element()],
            OpKind::ZRank => vec![word("ZRANK"), self.key(), self.element()],
            OpKind::ZCard => vec![word("ZCARD"), self.key()],
            OpKind::ZRem => vec![word("ZREM"), self.key(), self.element(), self.element()],
            OpKind::ZRange => {
                let stop = self.rng.range(0, 6) as i64 - 2;
                let mut argv = vec![
                    word("ZRANGE"),
                    self.key(),
                    word("0"),
                    stop.to_string().into_bytes(),
                ];
                if self.rng.range(0, 1) == 1 {
                    argv.push(word("WITHSCORES"));
                }
                argv
            }
            OpKind::ZPopMin => {
                let count = self.rng.range(1, 3).to_string().into_bytes();
                vec![word("ZPOPMIN"), self.key(), count]
            }
            OpKind::BZPopMin => self.blocking_pop("BZPOPMIN"),
            OpKind::ZUnionStore => {
                let [first, second] = self.keys_distinct_pair();
                vec![word("ZUNIONSTORE"), self.key(), word("2"), first, second]
            }
            OpKind::ZAddFloat => {
                vec![word("ZADD"), self.key(), self.float_score(), self.element()]
            }
            OpKind::ZIncrByFloat => vec![
                word("ZINCRBY"),
                self.key(),
                self.float_score(),
                self.element(),
            ],
            OpKind::RPushMany | OpKind::HSetMany | OpKind::SAddMany | OpKind::ZAddMany => {
                self.bulk(kind)
            }
        }
    }

    /// A command adding many elements to one of the few big collections of
    /// its type (`big:list:N`, `big:hash:N`, ...).
    fn bulk(&mut self, kind: OpKind) -> Vec<Vec<u8>> {
        let (name, type_name) = match kind {
            OpKind::RPushMany => ("RPUSH", "list"),
            OpKind::HSetMany => ("HSET", "hash"),
            OpKind::SAddMany => ("SADD", "set"),
            _ => ("ZADD", "zset"),
        };
        let key = format!("big:{type_name}:{}", self.rng.range(0, BIG_KEYS - 1));
        let mut argv = vec![name.as_bytes().to_vec(), key.into_bytes()];
        for _ in 0..self.rng.range(1, BULK_ELEMENTS_MAX) {
            let member = format!("m{}", self.rng.range(0, BIG_MEMBERS - 1)).into_bytes();
            match kind {
                OpKind::HSetMany => {
                    argv.push(member);
                    argv.push(self.rng.range(0, 999).to_string().into_bytes());
                }
                OpKind::ZAddMany => {
                    let score = self.rng.range(0, 2000) as i64 - 1000;
                    argv.push(score.to_string().into_bytes());
                    argv.push(member);
                }
                _ => argv.push(member),
            }
        }
        argv
    }

    fn multi_key(&mut self, name: &str, keys_max: u64) -> Vec<Vec<u8>> {
        let count = self.rng.range(1, keys_max);
        let mut argv = vec![name.as_bytes().to_vec()];
        argv.extend((0..count).map(|_| self.key()));
        argv
    }

    fn mset(&mut self) -> Vec<Vec<u8>> {
        let pairs = self.rng.range(1, 3);
        let mut argv = vec![b"MSET".to_vec()];
        for _ in 0..pairs {
            argv.push(self.key());
            argv.push(self.value());
        }
        argv
    }

    fn start_transaction(&mut self) -> TransactionProgress {
        let progress = TransactionProgress {
            keys: self.keys_distinct_pair(),
            attempts: 0,
            watched: false,
            discard: self.rng.percent(self.discard_percent),
        };
        self.transaction = Some(progress.clone());
        progress
    }

    fn transaction_watch(&mut self, progress: &TransactionProgress) -> Batch {
        let [first, second] = progress.keys.clone();
        vec![
            vec![b"WATCH".to_vec(), first.clone(), second],
            vec![b"GET".to_vec(), first],
        ]
    }

    /// MULTI, a write derived from what GET read, one or two more, EXEC.
    fn transaction_body(&mut self, progress: &TransactionProgress) -> Batch {
        let [first, second] = progress.keys.clone();
        let read = match self.batch_replies.get(1) {
            Some(Reply::Bulk(Some(value))) => value.clone(),
            _ => b"0".to_vec(),
        };
        let mut derived = read;
        derived.extend_from_slice(b"+");
        let mut batch = vec![
            vec![b"MULTI".to_vec()],
            vec![b"SET".to_vec(), second.clone(), derived],
            vec![b"INCR".to_vec(), first.clone()],
        ];
        if self.rng.percent(50) {
            batch.push(vec![b"GET".to_vec(), second]);
        }
        if self.operator_mix.iter().any(|&w| w > 0) && self.rng.percent(10) {
            let kind = OpKind::ALL[self.rng.weighted(&self.operator_mix)];
            batch.push(self.request(kind));
        }
        let end = if progress.discard { "DISCARD" } else { "EXEC" };
        batch.push(vec![end.as_bytes().to_vec()]);
        batch
    }

    /// The next step of a transaction whose batch was answered.
    fn advance_transaction(
        &mut self,
        mut progress: TransactionProgress,
    ) -> Option<TransactionProgress> {
        if !progress.watched {
            progress.watched = true;
            return Some(progress);
        }
        progress.attempts += 1;
        if progress.discard {
            self.stats.transactions_discarded += 1;
            return None;
        }
        match self.batch_replies.last() {
            Some(Reply::Array(None)) if progress.attempts <= self.transaction_retries_max => {
                self.stats.transactions_retried += 1;
                progress.watched = false;
                Some(progress)
            }
            Some(Reply::Array(Some(_))) => {
                self.stats.transactions_committed += 1;
                None
            }
            _ => {
                self.stats.transactions_given_up += 1;
                None
            }
        }
    }
}
