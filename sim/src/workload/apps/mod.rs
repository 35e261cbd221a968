//! The applications of "Redis in Action" chapter 4 as simulated clients:
//! each keeps its state in the node the way the book's code does, and
//! [`crate::check::apps`] checks its invariant on every recovered dataset.
//!
//! * [`market`]: users' funds in hashes, inventories in sets, a market
//!   sorted set; listing and buying under WATCH/MULTI/EXEC with retries;
//! * [`logs`]: a log processor that writes its results and its progress
//!   checkpoint in one MULTI, and resumes from the checkpoint after a
//!   lost connection;
//! * [`queue`]: a reliable job queue: producers LPUSH, workers BLMOVE into
//!   their own processing list and acknowledge with LREM and RPUSH to the
//!   done list in one MULTI, sweeping their processing list when they
//!   reconnect;
//!   The same queue runs with producers that keep a fallback buffer
//!   until a replica confirms each job;
//! * [`confirm`]: publish-confirm: each action one MULTI that writes its
//!   record and PUBLISHes its name on the master, heard on a replica;
//! * [`lock`]: a lock taken, extended and released with Lua scripts (SET
//!   NX PX with a token, a fencing counter) guarding a counter whose every
//!   increment is written with its record by one fenced script;
//! * [`ratelimit`]: a fixed-window rate limiter in one Lua script that
//!   counts each request and records the admitted ones.
//!
//! The script-based applications call their scripts with EVALSHA and fall
//! back to EVAL on NOSCRIPT ([`LuaScript`]), as client libraries do: the
//! script cache starts empty after every restart and on a promoted
//! replica.
//!
//! Every key an application writes starts with its name and a colon, so
//! the random workload (`key:N`) never touches them, and the checker finds
//! everything it needs in the dataset alone: a replayed (shrunk) run is
//! checked as well as a drawn one.

pub mod confirm;
pub mod lock;
pub mod logs;
pub mod market;
pub mod queue;
pub mod ratelimit;

use serde::{Deserialize, Serialize};

use super::resp::Reply;
use super::Batch;
use crate::world::rng::{Range, SimRng};

/// How many clients of each application a scenario runs, as ranges the
/// seed picks from.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AppsSection {
    /// Market traders; the first one sets the market up.
    pub market: Range,
    /// Log processors, each with its own checkpoint.
    pub logs: Range,
    /// Queue producers, and as many workers.
    pub queue: Range,
    /// Publish-confirm publishers (their listener needs a replica).
    pub confirm: Range,
    /// Producers with a fallback buffer, and as many workers, on the
    /// `fq:` queue (their WAIT needs a replica).
    pub fallback_queue: Range,
    /// A reader on replica 1's machine (0 or 1) that reads the workload's
    /// keys there with MGET, judged as a prefix of the master's stream.
    pub replica_reads: Range,
    /// Clients of the script-based lock (`lock:` keys). Drawn, with
    /// `ratelimit`, on a random stream of their own.
    pub lock: Range,
    /// Clients of the script-based rate limiter (`rl:` keys).
    pub ratelimit: Range,
}

impl AppsSection {
    pub fn is_empty(&self) -> bool {
        *self == AppsSection::default()
    }
}

/// The application clients of one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppCounts {
    pub market: u64,
    pub logs: u64,
    pub queue: u64,
    pub confirm: u64,
    pub fallback_queue: u64,
    pub lock: u64,
    pub ratelimit: u64,
}

impl AppCounts {
    pub fn total(&self) -> u64 {
        self.market
            + self.logs
            + 2 * self.queue
            + self.confirm
            + 2 * self.fallback_queue
            + self.scripted()
    }

    /// Clients of the applications that run Lua scripts.
    pub fn scripted(&self) -> u64 {
        self.lock + self.ratelimit
    }
}

/// What an application does after a batch is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppNext {
    /// Send the next batch after thinking this long.
    Continue {
        think_ms: u64,
    },
    Finished,
}

/// A write the node acknowledged to an application, which the checker
/// holds it to: the enqueued job, and where its reply ended in the
/// connection's reply stream (which names the write unit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAck {
    pub job: Vec<u8>,
    pub reply_end: u64,
}

/// What the applications did, for the report.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AppStats {
    pub market_setups: u64,
    pub listings: u64,
    pub purchases: u64,
    pub transactions_retried: u64,
    pub log_chunks: u64,
    pub log_resumes: u64,
    pub jobs_enqueued: u64,
    pub jobs_taken: u64,
    pub jobs_done: u64,
    pub jobs_swept: u64,
    pub actions_committed: u64,
    /// Fallback producers: jobs put back in the buffer, and given up.
    pub jobs_buffered: u64,
    pub jobs_given_up: u64,
    /// The lock: acquisitions, attempts that found it taken, increments
    /// written under it, holds that lost it to its expiry, releases.
    pub locks_acquired: u64,
    pub locks_busy: u64,
    pub lock_increments: u64,
    pub locks_lost: u64,
    pub locks_released: u64,
    /// The rate limiter: requests admitted and turned away.
    pub requests_admitted: u64,
    pub requests_limited: u64,
    /// EVALSHA calls answered NOSCRIPT and sent again as EVAL.
    pub noscript_fallbacks: u64,
}

impl AppStats {
    pub fn add(&mut self, other: &AppStats) {
        self.market_setups += other.market_setups;
        self.listings += other.listings;
        self.purchases += other.purchases;
        self.transactions_retried += other.transactions_retried;
        self.log_chunks += other.log_chunks;
        self.log_resumes += other.log_resumes;
        self.jobs_enqueued += other.jobs_enqueued;
        self.jobs_taken += other.jobs_taken;
        self.jobs_done += other.jobs_done;
        self.jobs_swept += other.jobs_swept;
        self.actions_committed += other.actions_committed;
        self.jobs_buffered += other.jobs_buffered;
        self.jobs_given_up += other.jobs_given_up;
        self.locks_acquired += other.locks_acquired;
        self.locks_busy += other.locks_busy;
        self.lock_increments += other.lock_increments;
        self.locks_lost += other.locks_lost;
        self.locks_released += other.locks_released;
        self.requests_admitted += other.requests_admitted;
        self.requests_limited += other.requests_limited;
        self.noscript_fallbacks += other.noscript_fallbacks;
    }
}

/// One application client's state machine.
#[derive(Debug, Clone)]
pub enum App {
    Market(market::Trader),
    Logs(logs::Processor),
    Producer(queue::Producer),
    Worker(queue::Worker),
    Publisher(confirm::Publisher),
    Locker(lock::Locker),
    Limiter(ratelimit::Limiter),
}

impl App {
    /// The applications of a run, in client order: traders, processors,
    /// producer and worker pairs, publishers, then lockers and limiters
    /// (last, so that a seed that draws none of them keeps every other
    /// client's index). `operations` bounds each one's work.
    pub fn all(counts: AppCounts, operations: u64) -> Vec<App> {
        let mut apps = Vec::new();
        for trader in 0..counts.market {
            apps.push(App::Market(market::Trader::new(trader, operations)));
        }
        for processor in 0..counts.logs {
            apps.push(App::Logs(logs::Processor::new(processor, operations)));
        }
        for pair in 0..counts.queue {
            apps.push(App::Producer(queue::Producer::new(pair, operations)));
            apps.push(App::Worker(queue::Worker::new(pair, operations)));
        }
        for pair in 0..counts.fallback_queue {
            apps.push(App::Producer(queue::Producer::with_fallback(
                pair, operations,
            )));
            apps.push(App::Worker(queue::Worker::with_fallback(pair, operations)));
        }
        for publisher in 0..counts.confirm {
            apps.push(App::Publisher(confirm::Publisher::new(
                publisher, operations,
            )));
        }
        for locker in 0..counts.lock {
            apps.push(App::Locker(lock::Locker::new(locker, operations)));
        }
        for limiter in 0..counts.ratelimit {
            apps.push(App::Limiter(ratelimit::Limiter::new(limiter, operations)));
        }
        apps
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        match self {
            App::Market(app) => app.next_batch(rng),
            App::Logs(app) => app.next_batch(rng),
            App::Producer(app) => app.next_batch(rng),
            App::Worker(app) => app.next_batch(rng),
            App::Publisher(app) => app.next_batch(rng),
            App::Locker(app) => app.next_batch(rng),
            App::Limiter(app) => app.next_batch(rng),
        }
    }

    /// Takes the answered batch's replies (and where each ended in the
    /// connection's reply stream).
    pub fn after_batch(&mut self, replies: &[Reply], ends: &[u64]) -> AppNext {
        let next = match self {
            App::Market(app) => app.after_batch(replies),
            App::Logs(app) => app.after_batch(replies),
            App::Producer(app) => app.after_batch(replies, ends),
            App::Worker(app) => app.after_batch(replies),
            App::Publisher(app) => app.after_batch(replies),
            App::Locker(app) => app.after_batch(replies),
            App::Limiter(app) => app.after_batch(replies),
        };
        // A NOSCRIPT is no refusal: the script goes again as EVAL at once.
        let refused = replies.iter().any(|reply| match reply {
            Reply::Array(Some(results)) => results.iter().any(Reply::is_error),
            reply => reply.is_error() && !LuaScript::is_noscript(reply),
        });
        match next {
            // A refusal (a full disk, a failing fsync) lasts a while: back
            // off, as a real client does, rather than spend the work.
            AppNext::Continue { think_ms } if refused => AppNext::Continue {
                think_ms: think_ms.max(REFUSED_BACKOFF_MS),
            },
            next => next,
        }
    }

    /// The connection was lost with the batch in flight: its outcome is
    /// unknown, so the application goes back to reading its state.
    pub fn on_disconnected(&mut self) {
        if self.finished() {
            // Closing after the last operation: nothing to go back to.
            return;
        }
        match self {
            App::Market(app) => app.on_disconnected(),
            App::Logs(app) => app.on_disconnected(),
            App::Producer(app) => app.on_disconnected(),
            App::Publisher(_) => {}
            App::Worker(app) => app.on_disconnected(),
            App::Locker(app) => app.on_disconnected(),
            App::Limiter(app) => app.on_disconnected(),
        }
    }

    pub fn finished(&self) -> bool {
        match self {
            App::Market(app) => app.finished(),
            App::Logs(app) => app.finished(),
            App::Producer(app) => app.finished(),
            App::Worker(app) => app.finished(),
            App::Publisher(app) => app.finished(),
            App::Locker(app) => app.finished(),
            App::Limiter(app) => app.finished(),
        }
    }

    pub fn stats(&self) -> &AppStats {
        match self {
            App::Market(app) => &app.stats,
            App::Logs(app) => &app.stats,
            App::Producer(app) => &app.stats,
            App::Worker(app) => &app.stats,
            App::Publisher(app) => &app.stats,
            App::Locker(app) => &app.stats,
            App::Limiter(app) => &app.stats,
        }
    }

    /// Acknowledgments since the last call.
    pub fn take_acks(&mut self) -> Vec<AppAck> {
        match self {
            App::Producer(app) => std::mem::take(&mut app.acks),
            _ => Vec::new(),
        }
    }
}

/// A request's words.
pub(crate) fn request(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|word| word.to_vec()).collect()
}

/// A Lua script an application calls, and its SHA1.
#[derive(Debug, Clone, Copy)]
pub struct LuaScript {
    pub body: &'static str,
}

impl LuaScript {
    pub const fn new(body: &'static str) -> LuaScript {
        LuaScript { body }
    }

    /// The SHA1 EVALSHA names it by.
    pub fn sha(&self) -> String {
        redoubt_core::script::sha1_hex(self.body.as_bytes())
    }

    /// The call: EVALSHA, or EVAL with the body when `eval` (after a
    /// NOSCRIPT), which caches it again.
    pub fn call(&self, eval: bool, keys: &[&[u8]], args: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut argv = match eval {
            true => request(&[b"EVAL", self.body.as_bytes()]),
            false => request(&[b"EVALSHA", self.sha().as_bytes()]),
        };
        argv.push(keys.len().to_string().into_bytes());
        argv.extend(keys.iter().map(|key| key.to_vec()));
        argv.extend(args.iter().map(|arg| arg.to_vec()));
        argv
    }

    /// The node does not have the script cached.
    pub fn is_noscript(reply: &Reply) -> bool {
        matches!(reply, Reply::Error(text) if text.starts_with(b"NOSCRIPT"))
    }
}

/// The reply to EXEC: committed, aborted by WATCH (null array), or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExecOutcome {
    Committed,
    Aborted,
    Failed,
}

pub(crate) fn exec_outcome(replies: &[Reply]) -> ExecOutcome {
    match replies.last() {
        Some(Reply::Array(Some(results))) if !results.iter().any(Reply::is_error) => {
            ExecOutcome::Committed
        }
        Some(Reply::Array(None)) => ExecOutcome::Aborted,
        _ => ExecOutcome::Failed,
    }
}

/// How long an application waits after the node refused a command.
const REFUSED_BACKOFF_MS: u64 = 200;
/// Think time between an application's operations.
pub(crate) const THINK_MS_MAX: u64 = 20;
/// EXEC attempts after WATCH conflicts, at most.
pub(crate) const RETRIES_MAX: u64 = 8;
