//! A lock taken with Lua scripts, as redis-py's `Lock` and Redlock take
//! theirs, guarding a counter with fenced writes.
//!
//! * **acquire**: `SET lock:mutex TOKEN NX PX ttl` in a script that, when
//!   the SET took, also INCRs the fencing counter `lock:fence` and records
//!   the holder of that fence in the hash `lock:holders` (fence → token);
//! * **the protected work**: the holder reads `lock:counter` with a plain
//!   GET, then writes the value plus one with a script that checks it
//!   still holds the lock (`GET lock:mutex` is its token) and, only then,
//!   SETs the counter, RPUSHes `VALUE:FENCE:TOKEN` to `lock:log` and SETs
//!   the same entry in `lock:last`;
//! * **extend**: a script that PEXPIREs the lock while it is the caller's;
//! * **release**: redis-py's script, `if GET == token then DEL`.
//!
//! Every script goes out as EVALSHA; a NOSCRIPT (the cache is empty after
//! every restart, and a promoted replica never had it) sends it again as
//! EVAL, which caches it, as client libraries do.
//!
//! The invariants ([`crate::check::apps`]) hold on every prefix of the
//! write log: the counter equals the number of log entries and entry i
//! holds value i+1 (no increment torn from its record, no two holders'
//! read-modify-writes interleaved), fences never go back along the log,
//! every fence up to `lock:fence` has exactly one holder and each entry
//! names the holder of its fence, `lock:last` is the log's last entry, and
//! a lock present is its last fence's. In runs with a reader on a replica
//! ([`crate::run::reader`]), its MGETs include the lock's string keys, so
//! a script applied in part on a replica shows there.

use super::{request, AppNext, AppStats, LuaScript, THINK_MS_MAX};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

pub const MUTEX_KEY: &[u8] = b"lock:mutex";
pub const FENCE_KEY: &[u8] = b"lock:fence";
pub const HOLDERS_KEY: &[u8] = b"lock:holders";
pub const COUNTER_KEY: &[u8] = b"lock:counter";
pub const LOG_KEY: &[u8] = b"lock:log";
pub const LAST_KEY: &[u8] = b"lock:last";

/// The lock's string keys, which the reader on a replica reads with the
/// workload's: what one script writes must show whole there.
pub const STRING_KEYS: [&[u8]; 4] = [MUTEX_KEY, FENCE_KEY, COUNTER_KEY, LAST_KEY];

/// KEYS: mutex, fence, holders. ARGV: token, ttl ms. The new fence, or 0
/// when the lock is taken.
pub const ACQUIRE: LuaScript = LuaScript::new(
    "if not redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then\n\
     \x20 return 0\n\
     end\n\
     local fence = redis.call('incr', KEYS[2])\n\
     redis.call('hset', KEYS[3], fence, ARGV[1])\n\
     return fence\n",
);

/// KEYS: mutex, counter, log, last. ARGV: token, fence, value. 1 when
/// written, 0 when the lock is no longer the caller's. The log's last
/// entry is also kept as a string, so that a reader's MGET of the counter
/// and it sees the write whole or not at all.
pub const WRITE: LuaScript = LuaScript::new(
    "if redis.call('get', KEYS[1]) ~= ARGV[1] then\n\
     \x20 return 0\n\
     end\n\
     local entry = ARGV[3] .. ':' .. ARGV[2] .. ':' .. ARGV[1]\n\
     redis.call('set', KEYS[2], ARGV[3])\n\
     redis.call('rpush', KEYS[3], entry)\n\
     redis.call('set', KEYS[4], entry)\n\
     return 1\n",
);

/// KEYS: mutex. ARGV: token, ttl ms.
pub const EXTEND: LuaScript = LuaScript::new(
    "if redis.call('get', KEYS[1]) == ARGV[1] then\n\
     \x20 return redis.call('pexpire', KEYS[1], ARGV[2])\n\
     end\n\
     return 0\n",
);

/// KEYS: mutex. ARGV: token. redis-py's release script, word for word.
pub const RELEASE: LuaScript = LuaScript::new(
    "if redis.call('get',KEYS[1]) == ARGV[1] then return redis.call('del',KEYS[1]) else return 0 end",
);

/// The lock's time to live, drawn per acquisition: short enough that
/// pauses, crashes and slow links let it expire under its holder.
const TTL_MS_MIN: u64 = 100;
const TTL_MS_MAX: u64 = 3000;
/// Increments one hold makes, at most.
const INCREMENTS_PER_HOLD_MAX: u64 = 3;
/// How long a locker waits after finding the lock taken (redis-py's
/// blocking acquire sleeps 0.1 s).
const BUSY_THINK_MS: u64 = 50;
/// Attempts at a release the node refused (a full disk refuses the DEL),
/// before the lock is left to its time to live.
const RELEASE_ATTEMPTS_MAX: u64 = 10;

/// A log entry: `VALUE:FENCE:TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub value: i64,
    pub fence: i64,
    pub token: Vec<u8>,
}

impl LogEntry {
    pub fn parse(text: &[u8]) -> Option<LogEntry> {
        let mut parts = text.splitn(3, |&b| b == b':');
        let number =
            |part: Option<&[u8]>| -> Option<i64> { std::str::from_utf8(part?).ok()?.parse().ok() };
        let value = number(parts.next())?;
        let fence = number(parts.next())?;
        let token = parts.next()?.to_vec();
        Some(LogEntry {
            value,
            fence,
            token,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// SCRIPT LOAD every script, as a client does at start.
    Load,
    Idle,
    Acquire,
    /// Holding: read the counter.
    Read,
    /// Holding: write `value` if the lock is still ours.
    Write {
        value: i64,
    },
    Extend,
    Release,
}

/// What the locker holds, or tried to take.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hold {
    token: Vec<u8>,
    ttl_ms: u64,
    /// The fence the acquisition returned (0 until it did).
    fence: i64,
    increments_left: u64,
    /// Extend the lock before each further increment.
    extend: bool,
}

#[derive(Debug, Clone)]
pub struct Locker {
    index: u64,
    stage: Stage,
    hold: Option<Hold>,
    attempts: u64,
    operations_left: u64,
    /// The next call goes out as EVAL: the last EVALSHA found no script.
    eval_next: bool,
    /// Release attempts the node refused, for the hold being released.
    release_refusals: u64,
    pub stats: AppStats,
}

impl Locker {
    pub fn new(index: u64, operations: u64) -> Locker {
        Locker {
            index,
            stage: Stage::Load,
            hold: None,
            attempts: 0,
            operations_left: operations,
            eval_next: false,
            release_refusals: 0,
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.stage == Stage::Idle && self.operations_left == 0
    }

    /// The outcome of the call in flight is unknown: the lock may be ours.
    /// Release it if it is (a token never taken releases nothing).
    pub fn on_disconnected(&mut self) {
        self.eval_next = false;
        self.stage = match self.hold {
            Some(_) => Stage::Release,
            None => Stage::Idle,
        };
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        if self.stage == Stage::Idle {
            if self.operations_left == 0 {
                return Batch::new();
            }
            self.operations_left -= 1;
            self.attempts += 1;
            let token = format!("{}.{}", self.index, self.attempts).into_bytes();
            self.hold = Some(Hold {
                token,
                ttl_ms: rng.range(TTL_MS_MIN, TTL_MS_MAX),
                fence: 0,
                increments_left: rng.range(1, INCREMENTS_PER_HOLD_MAX),
                extend: rng.percent(50),
            });
            self.stage = Stage::Acquire;
        }
        let eval = std::mem::take(&mut self.eval_next);
        let hold = self.hold.as_ref();
        let token = hold.map_or(&[][..], |hold| hold.token.as_slice());
        let ttl = hold.map_or(0, |hold| hold.ttl_ms).to_string().into_bytes();
        match &self.stage {
            Stage::Load => [ACQUIRE, WRITE, EXTEND, RELEASE]
                .iter()
                .map(|script| request(&[b"SCRIPT", b"LOAD", script.body.as_bytes()]))
                .collect(),
            Stage::Idle => unreachable!("an acquisition was started"),
            Stage::Acquire => {
                vec![ACQUIRE.call(eval, &[MUTEX_KEY, FENCE_KEY, HOLDERS_KEY], &[token, &ttl])]
            }
            Stage::Read => vec![request(&[b"GET", COUNTER_KEY])],
            Stage::Write { value } => {
                let fence = hold.map_or(0, |hold| hold.fence).to_string();
                vec![WRITE.call(
                    eval,
                    &[MUTEX_KEY, COUNTER_KEY, LOG_KEY, LAST_KEY],
                    &[token, fence.as_bytes(), value.to_string().as_bytes()],
                )]
            }
            Stage::Extend => vec![EXTEND.call(eval, &[MUTEX_KEY], &[token, &ttl])],
            Stage::Release => vec![RELEASE.call(eval, &[MUTEX_KEY], &[token])],
        }
    }

    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        let reply = replies.last();
        if self.stage != Stage::Load && reply.is_some_and(LuaScript::is_noscript) {
            // Send the same call again as EVAL.
            self.stats.noscript_fallbacks += 1;
            self.eval_next = true;
            return AppNext::Continue { think_ms: 0 };
        }
        let integer = match reply {
            Some(Reply::Integer(n)) => Some(*n),
            _ => None,
        };
        let stage = std::mem::replace(&mut self.stage, Stage::Idle);
        let busy = stage == Stage::Acquire && integer == Some(0);
        self.stage = match stage {
            Stage::Load | Stage::Idle => Stage::Idle,
            Stage::Acquire => match integer {
                Some(fence) if fence > 0 => {
                    self.stats.locks_acquired += 1;
                    if let Some(hold) = &mut self.hold {
                        hold.fence = fence;
                    }
                    Stage::Read
                }
                Some(_) => {
                    self.stats.locks_busy += 1;
                    self.hold = None;
                    Stage::Idle
                }
                // Refused: nothing was written (a script's first write is
                // the one refused), so the lock is not ours.
                None => {
                    self.hold = None;
                    Stage::Idle
                }
            },
            Stage::Read => match reply {
                Some(Reply::Bulk(None)) => Stage::Write { value: 1 },
                Some(Reply::Bulk(Some(text))) => {
                    match std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.parse::<i64>().ok())
                    {
                        Some(value) => Stage::Write { value: value + 1 },
                        // Not a number: the checker reports it; let go.
                        None => Stage::Release,
                    }
                }
                _ => Stage::Release,
            },
            Stage::Write { .. } => match integer {
                Some(1) => {
                    self.stats.lock_increments += 1;
                    let hold = self.hold.as_mut().expect("a writer holds the lock");
                    hold.increments_left = hold.increments_left.saturating_sub(1);
                    match hold.increments_left {
                        0 => Stage::Release,
                        _ if hold.extend => Stage::Extend,
                        _ => Stage::Read,
                    }
                }
                Some(_) => {
                    // The lock expired under us (and perhaps went to
                    // another): the fence kept the write out.
                    self.stats.locks_lost += 1;
                    self.hold = None;
                    Stage::Idle
                }
                None => Stage::Release,
            },
            Stage::Extend => match integer {
                Some(1) => Stage::Read,
                Some(_) => {
                    self.stats.locks_lost += 1;
                    self.hold = None;
                    Stage::Idle
                }
                None => Stage::Release,
            },
            // Refused: try again (after the refusal's back-off), so that
            // a lock is not left to its time to live, which a clock
            // jumping back can stretch for minutes.
            Stage::Release if integer.is_none() && self.release_refusals < RELEASE_ATTEMPTS_MAX => {
                self.release_refusals += 1;
                Stage::Release
            }
            Stage::Release => {
                if integer == Some(1) {
                    self.stats.locks_released += 1;
                }
                self.release_refusals = 0;
                self.hold = None;
                Stage::Idle
            }
        };
        match self.stage {
            Stage::Idle if self.operations_left == 0 => AppNext::Finished,
            Stage::Idle if busy => AppNext::Continue {
                think_ms: BUSY_THINK_MS,
            },
            Stage::Idle => AppNext::Continue {
                think_ms: THINK_MS_MAX,
            },
            _ => AppNext::Continue { think_ms: 1 },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_entries_round_trip() {
        let entry = LogEntry::parse(b"12:4:1.7").expect("an entry");
        assert_eq!(
            entry,
            LogEntry {
                value: 12,
                fence: 4,
                token: b"1.7".to_vec()
            }
        );
        assert_eq!(LogEntry::parse(b"12:x:1.7"), None);
        assert_eq!(LogEntry::parse(b"12:4"), None);
    }

    /// A hold: acquire, read, write, then release; a NOSCRIPT resends the
    /// call as EVAL.
    #[test]
    fn a_hold_acquires_writes_and_releases() {
        let mut rng = SimRng::new(0, 0);
        let mut locker = Locker::new(0, 1);
        locker.next_batch(&mut rng);
        let loaded: Vec<Reply> = (0..4).map(|_| Reply::Bulk(Some(vec![b'0'; 40]))).collect();
        locker.after_batch(&loaded);
        let batch = locker.next_batch(&mut rng);
        assert_eq!(batch[0][0], b"EVALSHA");
        let noscript = Reply::Error(b"NOSCRIPT No matching script. Please use EVAL.".to_vec());
        locker.after_batch(&[noscript]);
        assert_eq!(locker.stats.noscript_fallbacks, 1);
        let batch = locker.next_batch(&mut rng);
        assert_eq!(batch[0][0], b"EVAL");
        assert_eq!(batch[0][1], ACQUIRE.body.as_bytes());
        locker.after_batch(&[Reply::Integer(3)]);
        assert_eq!(
            locker.next_batch(&mut rng),
            vec![request(&[b"GET", COUNTER_KEY])]
        );
        locker.after_batch(&[Reply::Bulk(Some(b"41".to_vec()))]);
        let write = locker.next_batch(&mut rng);
        assert_eq!(write[0][0], b"EVALSHA");
        assert_eq!(
            &write[0][7..],
            &[b"0.1".to_vec(), b"3".to_vec(), b"42".to_vec()]
        );
    }
}
