//! A fixed-window rate limiter in one Lua script: each request INCRs its
//! window's counter `rl:count:W` (PEXPIRE on the window's first hit), and
//! when the count is within [`LIMIT`] it is admitted and recorded, in the
//! same script, by RPUSHing its id to the window's log `rl:log:W` (given
//! the same time to live on its first entry, at the same frozen script
//! time, so both keys expire together).
//!
//! Clients pipeline a few requests at a time, move to the next window
//! every [`REQUESTS_PER_WINDOW`] requests (so clients that run at
//! different speeds share windows, and most windows turn requests away),
//! and call the script with EVALSHA, sending it again as EVAL after a
//! NOSCRIPT.
//!
//! The invariant ([`crate::check::apps`]), on every prefix of the write
//! log: a window's log holds exactly `min(count, LIMIT)` distinct ids, so
//! never more than the limit, and the two keys expire at the same moment.

use super::{request, AppNext, AppStats, LuaScript, THINK_MS_MAX};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

/// Requests a window admits.
pub const LIMIT: i64 = 4;
/// Requests one client sends to a window before it moves to the next.
const REQUESTS_PER_WINDOW: u64 = 6;
/// Requests one batch pipelines, at most.
const REQUESTS_PER_BATCH_MAX: u64 = 3;
/// A window's time to live, drawn per request (only a window's first
/// request sets it).
const WINDOW_TTL_MS_MIN: u64 = 500;
const WINDOW_TTL_MS_MAX: u64 = 5000;

pub const COUNT_PREFIX: &[u8] = b"rl:count:";
pub const LOG_PREFIX: &[u8] = b"rl:log:";

/// KEYS: count, log. ARGV: limit, request id, ttl ms. The request's
/// number in its window when admitted, 0 when turned away.
pub const ADMIT: LuaScript = LuaScript::new(
    "local count = redis.call('incr', KEYS[1])\n\
     if count == 1 then\n\
     \x20 redis.call('pexpire', KEYS[1], ARGV[3])\n\
     end\n\
     if count > tonumber(ARGV[1]) then\n\
     \x20 return 0\n\
     end\n\
     redis.call('rpush', KEYS[2], ARGV[2])\n\
     if count == 1 then\n\
     \x20 redis.call('pexpire', KEYS[2], ARGV[3])\n\
     end\n\
     return count\n",
);

pub fn count_key(window: u64) -> Vec<u8> {
    let mut key = COUNT_PREFIX.to_vec();
    key.extend_from_slice(window.to_string().as_bytes());
    key
}

pub fn log_key(window: u64) -> Vec<u8> {
    let mut key = LOG_PREFIX.to_vec();
    key.extend_from_slice(window.to_string().as_bytes());
    key
}

/// One request: its window, id and the time to live it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    window: u64,
    id: Vec<u8>,
    ttl_ms: u64,
}

#[derive(Debug, Clone)]
pub struct Limiter {
    index: u64,
    loaded: bool,
    requests_sent: u64,
    requests_left: u64,
    /// The batch in flight, and whether it went out as EVAL.
    in_flight: Vec<Request>,
    /// Requests answered NOSCRIPT, sent again as EVAL next.
    again: Vec<Request>,
    pub stats: AppStats,
}

impl Limiter {
    pub fn new(index: u64, operations: u64) -> Limiter {
        Limiter {
            index,
            loaded: false,
            requests_sent: 0,
            requests_left: operations,
            in_flight: Vec::new(),
            again: Vec::new(),
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.loaded && self.requests_left == 0 && self.again.is_empty()
    }

    /// Requests in flight have an unknown outcome; a rate limiter's client
    /// does not send them again.
    pub fn on_disconnected(&mut self) {
        self.in_flight.clear();
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        if !self.loaded {
            return vec![request(&[b"SCRIPT", b"LOAD", ADMIT.body.as_bytes()])];
        }
        let eval = !self.again.is_empty();
        self.in_flight = std::mem::take(&mut self.again);
        if !eval {
            let count = rng.range(1, REQUESTS_PER_BATCH_MAX).min(self.requests_left);
            for _ in 0..count {
                self.requests_left -= 1;
                let window = self.requests_sent / REQUESTS_PER_WINDOW;
                self.requests_sent += 1;
                self.in_flight.push(Request {
                    window,
                    id: format!("{}.{}", self.index, self.requests_sent).into_bytes(),
                    ttl_ms: rng.range(WINDOW_TTL_MS_MIN, WINDOW_TTL_MS_MAX),
                });
            }
        }
        let limit = LIMIT.to_string();
        self.in_flight
            .iter()
            .map(|request| {
                ADMIT.call(
                    eval,
                    &[&count_key(request.window), &log_key(request.window)],
                    &[
                        limit.as_bytes(),
                        &request.id,
                        request.ttl_ms.to_string().as_bytes(),
                    ],
                )
            })
            .collect()
    }

    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        if !self.loaded {
            self.loaded = true;
            return AppNext::Continue { think_ms: 0 };
        }
        let sent = std::mem::take(&mut self.in_flight);
        for (request, reply) in sent.into_iter().zip(replies) {
            match reply {
                reply if LuaScript::is_noscript(reply) => {
                    self.stats.noscript_fallbacks += 1;
                    self.again.push(request);
                }
                Reply::Integer(n) if *n > 0 => self.stats.requests_admitted += 1,
                Reply::Integer(_) => self.stats.requests_limited += 1,
                // Refused (a full disk): the request is turned away.
                _ => {}
            }
        }
        if self.finished() {
            return AppNext::Finished;
        }
        let think_ms = if self.again.is_empty() {
            THINK_MS_MAX / 2
        } else {
            0
        };
        AppNext::Continue { think_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests move to the next window every few requests; a NOSCRIPT
    /// sends the request again as EVAL.
    #[test]
    fn requests_fill_windows_and_fall_back_to_eval() {
        let mut rng = SimRng::new(1, 0);
        let mut limiter = Limiter::new(2, 20);
        let load = limiter.next_batch(&mut rng);
        assert_eq!(load[0][..2], [b"SCRIPT".to_vec(), b"LOAD".to_vec()]);
        limiter.after_batch(&[Reply::Bulk(Some(vec![b'0'; 40]))]);
        let batch = limiter.next_batch(&mut rng);
        assert_eq!(batch[0][0], b"EVALSHA");
        assert_eq!(batch[0][3], count_key(0));
        assert_eq!(batch[0][4], log_key(0));
        assert_eq!(batch[0][6], b"2.1");
        let noscript = Reply::Error(b"NOSCRIPT No matching script. Please use EVAL.".to_vec());
        let mut replies = vec![noscript];
        replies.extend((1..batch.len()).map(|_| Reply::Integer(0)));
        limiter.after_batch(&replies);
        let again = limiter.next_batch(&mut rng);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0][0], b"EVAL");
        assert_eq!(again[0][6], b"2.1");
        limiter.after_batch(&[Reply::Integer(1)]);
        assert_eq!(limiter.stats.requests_admitted, 1);
        assert_eq!(limiter.stats.noscript_fallbacks, 1);
    }
}
