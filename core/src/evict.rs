//! `maxmemory` and eviction, as Redis 7.0's evict.c does them.
//!
//! Before each command (and when `CONFIG SET maxmemory` lowers the limit)
//! [`perform_evictions`] compares the memory the node uses, less what
//! Redis does not count for eviction (the AOF buffer, replicas' output),
//! with `maxmemory`, and removes keys until it is under or nothing is left
//! to take. Which keys is `maxmemory-policy`'s choice:
//!
//! * `allkeys-lru`, `volatile-lru`, `allkeys-lfu`, `volatile-lfu`,
//!   `volatile-ttl`: approximated, as Redis does. Each round samples
//!   `maxmemory-samples` keys of every database (all keys, or those with a
//!   time to live) into a pool of the 16 best candidates kept across
//!   calls, sorted by idle time (LRU), by 255 minus the decayed LFU
//!   counter, or by how soon the key expires; the best one left in the
//!   pool goes.
//! * `allkeys-random`, `volatile-random`: a random key of the next
//!   database that has one.
//! * `noeviction`: nothing is removed.
//!
//! When memory stays over the limit, write commands flagged `denyoom`
//! (and anything queued in MULTI) are refused with [`ERR_OOM`]; see
//! `cmd::oom_refusal`. Every evicted key is propagated as `DEL` (`UNLINK`
//! with `lazyfree-lazy-eviction yes`) to the AOF and the replicas, counted
//! in INFO `evicted_keys`, and reported to the trace. A replica leaves its
//! dataset to its master (`replica-ignore-maxmemory yes`), and nothing is
//! evicted while loading.
//!
//! Randomness is drawn through `Env`, and only when a pass must evict, so
//! a run without `maxmemory` draws nothing more than it did before.

use crate::config::EvictionPolicy;
use crate::env::{Env, LogLevel, Trace};
use crate::notify;
use crate::server::Server;

/// Redis's reply to a command refused for memory (`shared.oomerr`).
pub const ERR_OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// Candidates the pool keeps between passes (Redis's EVPOOL_SIZE).
pub const EVICTION_POOL_SIZE: usize = 16;

/// Keys evicted between two looks at the clock (and at the limit, when
/// eviction propagates as UNLINK), as Redis does.
const KEYS_PER_CLOCK_CHECK: u64 = 16;

/// What a pass of eviction achieved (Redis's EVICT_OK, EVICT_RUNNING,
/// EVICT_FAIL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Under the limit, or no limit applies.
    Ok,
    /// Still over, but the pass ran out of time and goes on from the next
    /// tick (Redis's `evictionTimeProc`): commands are not refused
    /// meanwhile.
    Running,
    /// Over the limit with nothing left that the policy may take.
    Fail,
}

/// One candidate of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    /// Larger is better to evict: idle milliseconds, 255 minus the LFU
    /// counter, or `u64::MAX` minus the expiry time.
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// The best candidates seen so far, worst first (Redis's
/// `EvictionPoolLRU`), at most [`EVICTION_POOL_SIZE`].
#[derive(Debug, Default)]
pub struct EvictionPool {
    candidates: Vec<Candidate>,
}

impl EvictionPool {
    /// Offers a sampled key: it enters if the pool has room or it beats the
    /// worst candidate (Redis's `evictionPoolPopulate`). A key already in
    /// the pool for the same database is scored anew.
    fn offer(&mut self, candidate: Candidate) {
        self.candidates
            .retain(|c| !(c.db == candidate.db && c.key == candidate.key));
        let full = self.candidates.len() >= EVICTION_POOL_SIZE;
        if full && self.candidates[0].score >= candidate.score {
            return;
        }
        if full {
            self.candidates.remove(0);
        }
        let at = self
            .candidates
            .partition_point(|c| c.score < candidate.score);
        self.candidates.insert(at, candidate);
    }

    /// Takes the best candidate out.
    fn pop_best(&mut self) -> Option<Candidate> {
        self.candidates.pop()
    }

    pub fn len(&self) -> usize {
        self.candidates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.candidates.is_empty()
    }

    pub fn clear(&mut self) {
        self.candidates.clear();
    }
}

/// Memory that does not count against `maxmemory` (Redis's
/// `freeMemoryGetNotCountedMemory`): replicas' output and the AOF buffer,
/// which evicting keys would only grow.
pub fn not_counted_bytes(server: &Server, env: &dyn Env) -> u64 {
    let replicas: u64 = server
        .clients
        .values()
        .filter(|client| client.is_replica)
        .map(|client| client.out.buf.len() as u64 + env.backlog_bytes(client.id))
        .sum();
    replicas + server.aof.buffer.len() as u64
}

/// Bytes the node uses, as INFO `used_memory` reports them.
pub fn used_memory(server: &Server, env: &dyn Env) -> u64 {
    env.used_memory_bytes(server.keyspace.dataset_bytes())
}

/// Bytes over `maxmemory` once what is not counted is taken off
/// (Redis's `getMaxmemoryState`); 0 when under it or without a limit.
pub fn bytes_over_limit(server: &Server, env: &dyn Env) -> u64 {
    let maxmemory = server.config.memory.maxmemory_bytes;
    if maxmemory == 0 {
        return 0;
    }
    let reported = used_memory(server, env);
    if reported <= maxmemory {
        return 0;
    }
    reported
        .saturating_sub(not_counted_bytes(server, env))
        .saturating_sub(maxmemory)
}

/// Bytes the node may still take before it is over `maxmemory`, what is
/// not counted for eviction left out (Redis's `overMaxmemoryAfterAlloc`);
/// `u64::MAX` without a limit.
pub fn room_bytes(server: &Server, env: &dyn Env) -> u64 {
    let maxmemory = server.config.memory.maxmemory_bytes;
    if maxmemory == 0 {
        return u64::MAX;
    }
    let used = used_memory(server, env);
    if used <= maxmemory {
        return maxmemory - used;
    }
    maxmemory.saturating_sub(used.saturating_sub(not_counted_bytes(server, env)))
}

/// Whether eviction may run now (Redis's `isSafeToPerformEvictions`):
/// not while loading, and not on a replica that ignores `maxmemory`.
fn may_evict(server: &Server) -> bool {
    let ignored = server.repl.is_replica() && server.config.memory.replica_ignore_maxmemory;
    !server.loading && !ignored
}

/// How long one pass may run, in microseconds, from
/// `maxmemory-eviction-tenacity` (Redis's `evictionTimeLimitUs`).
fn time_limit_us(tenacity: u32) -> u64 {
    match tenacity {
        0..=10 => 50 * u64::from(tenacity),
        11..=99 => (500.0 * 1.15f64.powi(tenacity as i32 - 10)) as u64,
        _ => u64::MAX,
    }
}

/// One pass of eviction: removes keys the policy picks until the node is
/// under `maxmemory`, nothing is left to take, or the pass's time is up.
pub fn perform_evictions(server: &mut Server, env: &mut dyn Env) -> Eviction {
    if server.config.memory.maxmemory_bytes == 0 || !may_evict(server) {
        server.eviction_running = false;
        return Eviction::Ok;
    }
    if server.clients_paused() {
        // Nothing may reach the stream while clients are paused; the
        // next command after the pause evicts.
        server.eviction_running = false;
        return Eviction::Ok;
    }
    let to_free = bytes_over_limit(server, env);
    if to_free == 0 {
        server.eviction_running = false;
        return Eviction::Ok;
    }
    let policy = server.config.memory.policy;
    if policy == EvictionPolicy::NoEviction {
        server.eviction_running = false;
        return Eviction::Fail;
    }
    let limit_ms = time_limit_us(server.config.memory.eviction_tenacity).div_ceil(1000);
    let started_ms = env.monotonic_ms();
    // Each eviction is its own unit in the stream, as Redis propagates
    // it at once, unless a command's unit is open (CONFIG SET maxmemory
    // inside EXEC): then the DELs join it.
    let own_units = server.propagated.is_empty() && !server.in_exec;
    let mut freed = 0u64;
    let mut evicted = 0u64;
    while freed < to_free {
        let Some((db, key)) = pick_victim(server, env, policy) else {
            server.eviction_running = false;
            return Eviction::Fail;
        };
        let before = used_memory(server, env);
        let charged = server.keyspace.dbs[db].dataset_bytes();
        if !server.keyspace.dbs[db].evict(&key) {
            continue;
        }
        let charged = charged - server.keyspace.dbs[db].dataset_bytes();
        // The allocator may not see the memory back at once (a snapshot
        // in progress keeps a copy): count at least the key's estimate,
        // so one pass never takes every key for lack of a measure.
        freed += before.saturating_sub(used_memory(server, env)).max(charged);
        evicted += 1;
        record_eviction(server, env, db, key, own_units);
        if evicted.is_multiple_of(KEYS_PER_CLOCK_CHECK) {
            if server.config.memory.lazyfree_lazy_eviction && bytes_over_limit(server, env) == 0 {
                break;
            }
            if env.monotonic_ms().saturating_sub(started_ms) > limit_ms {
                server.eviction_running = true;
                return Eviction::Running;
            }
        }
    }
    server.eviction_running = false;
    Eviction::Ok
}

/// Counts, notifies (`evicted`), traces and propagates one evicted key.
/// The running client is out of the client table while this runs: it gets
/// no notification of its own.
fn record_eviction(server: &mut Server, env: &mut dyn Env, db: usize, key: Vec<u8>, commit: bool) {
    server.stats.evicted_keys += 1;
    notify::notify(server, None, notify::class::EVICTED, "evicted", &key, db);
    env.trace(&Trace::Evicted { db, key: &key });
    if !server.propagation_wanted() {
        return;
    }
    let command: &[u8] = if server.config.memory.lazyfree_lazy_eviction {
        b"UNLINK"
    } else {
        b"DEL"
    };
    let keep_argv = server.aof_on;
    server
        .propagated
        .push_owned(db, vec![command.to_vec(), key], true, keep_argv);
    if commit {
        server.commit_propagation(None);
    }
}

/// The next key to evict under `policy`, with its database; `None` when
/// the policy finds nothing it may take.
fn pick_victim(
    server: &mut Server,
    env: &mut dyn Env,
    policy: EvictionPolicy,
) -> Option<(usize, Vec<u8>)> {
    let volatile = policy.volatile_only();
    if matches!(
        policy,
        EvictionPolicy::AllkeysRandom | EvictionPolicy::VolatileRandom
    ) {
        let databases = server.keyspace.dbs.len();
        for _ in 0..databases {
            server.eviction_next_db = (server.eviction_next_db + 1) % databases;
            let db = &server.keyspace.dbs[server.eviction_next_db];
            if let Some(key) = db.random_for_eviction(volatile, &mut || env.random_u64()) {
                return Some((server.eviction_next_db, key));
            }
        }
        return None;
    }
    loop {
        if !server
            .keyspace
            .dbs
            .iter()
            .any(|db| db.has_candidates(volatile))
        {
            return None;
        }
        populate_pool(server, env, policy);
        while let Some(best) = server.eviction_pool.pop_best() {
            // A candidate may be gone since it was sampled (a ghost).
            let db = &mut server.keyspace.dbs[best.db];
            let present = if volatile {
                db.expire_at_raw(&best.key).is_some()
            } else {
                db.contains_raw(&best.key)
            };
            if present {
                return Some((best.db, best.key));
            }
        }
    }
}

/// Samples every database that has candidates into the pool.
fn populate_pool(server: &mut Server, env: &mut dyn Env, policy: EvictionPolicy) {
    let volatile = policy.volatile_only();
    let samples = server.config.memory.samples;
    let clock = server.keyspace.access_clock();
    for (index, db) in server.keyspace.dbs.iter().enumerate() {
        if !db.has_candidates(volatile) {
            continue;
        }
        for (key, access, expire_at) in
            db.sample_for_eviction(volatile, samples, &mut || env.random_u64())
        {
            let score = match policy {
                EvictionPolicy::VolatileTtl => {
                    u64::MAX - expire_at.unwrap_or(i64::MAX).max(0) as u64
                }
                _ if policy.is_lfu() => 255 - u64::from(clock.lfu_counter(access)),
                _ => clock.idle_ms(access),
            };
            server.eviction_pool.offer(Candidate {
                score,
                db: index,
                key,
            });
        }
    }
}

/// `CONFIG SET maxmemory` to a value below what the node uses: Redis's
/// warning, and eviction from the next tick on, right after the command
/// (Redis 7.0's `updateMaxmemory` starts its `evictionTimeProc`), so that
/// a CONFIG SET inside EXEC does not evict under the transaction.
pub fn maxmemory_lowered(server: &mut Server, env: &mut dyn Env) {
    let maxmemory = server.config.memory.maxmemory_bytes;
    if maxmemory == 0 {
        return;
    }
    let used = used_memory(server, env).saturating_sub(not_counted_bytes(server, env));
    if maxmemory < used {
        env.log(
            LogLevel::Warning,
            &format!(
                "WARNING: the new maxmemory value set via CONFIG SET ({maxmemory}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy."
            ),
        );
    }
    server.eviction_running = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(score: u64, key: &str) -> Candidate {
        Candidate {
            score,
            db: 0,
            key: key.as_bytes().to_vec(),
        }
    }

    // The pool keeps the 16 best candidates and gives the best first.
    #[test]
    fn pool_keeps_the_best_sixteen() {
        let mut pool = EvictionPool::default();
        for score in 0..40u64 {
            pool.offer(candidate((score * 7) % 40, &format!("k{score}")));
        }
        assert_eq!(pool.len(), EVICTION_POOL_SIZE);
        let best = pool.pop_best().unwrap();
        assert_eq!(best.score, 39);
        let mut last = best.score;
        while let Some(next) = pool.pop_best() {
            assert!(next.score <= last, "popped in order");
            last = next.score;
        }
        assert_eq!(last, 40 - EVICTION_POOL_SIZE as u64, "the worst kept");
    }

    // Redis's time limits: linear to 500 us at tenacity 10, none at 100.
    #[test]
    fn tenacity_sets_the_time_limit() {
        assert_eq!(time_limit_us(0), 0);
        assert_eq!(time_limit_us(10), 500);
        assert!(time_limit_us(99) > 60_000_000);
        assert_eq!(time_limit_us(100), u64::MAX);
    }
}
