//! The applications' invariants ([`crate::workload::apps`]), checked on
//! every dataset a restart recovers and on the dataset at the end of the
//! run. They hold on any prefix of the write log, since every application
//! step that spans keys is one transaction; so they hold whatever the fsync
//! policy lost, and a failure means a transaction was torn, a WATCH let a
//! conflict through, or a recovery invented or dropped part of a unit.
//!
//! * **market:** with the setup record present, the users' funds add up to
//!   what they started with and none is negative, and every item is in
//!   exactly one place (an inventory or the market); without it, no
//!   market key exists;
//! * **logs:** each processor's counts are exactly those of the lines its
//!   checkpoint says were processed;
//! * **queue:** no job is in two places (pending, a processing list, done)
//!   or twice in one; and every enqueue the node acknowledged whose write
//!   the durability contract owes at this restart is somewhere;
//! * **the fallback queue** (`fq:`) the same for each attempt at a job; and
//!   at the end every job a replica confirmed is somewhere, counting both
//!   places (Redis, and the producer's buffer, which keeps whatever was not
//!   confirmed), unless a restart or failover lost it where the durability
//!   contract did not owe it;
//! * **the lock** (`lock:`): the guarded counter equals the number of
//!   entries in its log and entry i records value i+1 (no increment torn
//!   from its record, no two holders' read-modify-writes interleaved),
//!   and `lock:last` is its last entry; fences never go back along the
//!   log; the fences 1..=`lock:fence` each
//!   have one holder and no other does; each entry names its fence's
//!   holder; a lock present is held by the last fence's holder;
//! * **the rate limiter** (`rl:`): each window's log holds exactly
//!   `min(count, LIMIT)` distinct request ids, and its two keys expire
//!   together (a window with one of them gone is one that expired).
//!
//! Everything but the owed enqueues is read from the dataset alone, so a
//! replayed run is checked as well as a drawn one.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use redoubt_core::env::ConnId;

use super::model::value::Data;
use super::model::{Dataset, Entry};
use super::Verdict;
use crate::workload::apps::lock::{self, LogEntry};
use crate::workload::apps::logs::{self, Position, STATUSES};
use crate::workload::apps::market;
use crate::workload::apps::queue::{QueueKeys, FALLBACK_QUEUE, QUEUE};
use crate::workload::apps::ratelimit;
use crate::workload::apps::{AppCounts, AppStats};

/// Violations kept for the report; the rest are counted.
const VIOLATIONS_KEPT: usize = 10;

/// Where an acknowledged write's reply ended: the node's life, the
/// connection, and the offset in its reply stream. Names a write unit.
pub type ReplyEnd = (usize, ConnId, u64);

/// An enqueue the node acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckedJob {
    pub job: Vec<u8>,
    pub at: ReplyEnd,
}

/// What the checks found over a run.
#[derive(Debug, Default, Clone)]
pub struct AppFindings {
    /// Datasets that held application keys and were checked.
    pub datasets_checked: u64,
    /// Owed enqueues found where they should be.
    pub owed_enqueues_checked: u64,
    /// Fallback-queue attempts a restart or failover lost, unowed.
    pub fallback_lost_unowed: BTreeSet<Vec<u8>>,
    /// A restart was checked without the contract (durability off): what
    /// it lost cannot be told from what it may lose.
    pub unowed_restarts: bool,
    /// Confirmed fallback-queue jobs nowhere at the end, lost where the
    /// contract did not owe them (counted, not judged).
    pub fallback_lost_at_end: u64,
    pub violations: Vec<String>,
    pub violations_total: u64,
}

impl AppFindings {
    fn violation(&mut self, when: &str, text: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_KEPT {
            self.violations.push(format!("{when}: {text}"));
        }
    }

    /// Checks `data`, recovered (or held at the end) at `when`. `owed`: the
    /// reply ends of the write units the durability contract owed, when it
    /// owed any.
    pub fn check(
        &mut self,
        when: &str,
        data: &Dataset,
        acked: &[AckedJob],
        owed: Option<&BTreeSet<ReplyEnd>>,
    ) {
        let Some(keys) = data.get(&0) else {
            return;
        };
        let before = self.violations_total;
        let mut found = Vec::new();
        let mut seen = check_market(keys, &mut found) | check_logs(keys, &mut found);
        seen |= check_lock(keys, &mut found) | check_ratelimit(keys, &mut found);
        for queue in [QUEUE, FALLBACK_QUEUE] {
            let places = queue_places(keys, &queue, &mut found);
            seen |= !places.is_empty();
            let acked = acked.iter().filter(|ack| ack.job.starts_with(b"job:"));
            let acked = acked.filter(|ack| is_attempt(&ack.job) == (queue == FALLBACK_QUEUE));
            for ack in acked {
                let here = places.contains_key(ack.job.as_slice());
                match owed {
                    Some(owed) if owed.contains(&ack.at) => {
                        self.owed_enqueues_checked += 1;
                        if !here {
                            found.push(format!(
                                "the acknowledged enqueue of {} is lost, and the durability contract owed it",
                                show(&ack.job)
                            ));
                        }
                    }
                    Some(_) if !here && queue == FALLBACK_QUEUE => {
                        self.fallback_lost_unowed.insert(ack.job.clone());
                    }
                    _ => {}
                }
            }
        }
        for text in found {
            self.violation(when, text);
        }
        if seen || self.violations_total > before {
            self.datasets_checked += 1;
        }
    }
}

type Keys = BTreeMap<Vec<u8>, super::model::Entry>;

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn number(bytes: Option<&Vec<u8>>) -> Option<i64> {
    std::str::from_utf8(bytes?).ok()?.parse().ok()
}

/// The market's conservation. Returns whether any market key exists.
fn check_market(keys: &Keys, found: &mut Vec<String>) -> bool {
    let market_keys: Vec<&Vec<u8>> = keys
        .keys()
        .filter(|key| key.starts_with(b"market:"))
        .collect();
    if market_keys.is_empty() {
        return false;
    }
    let Some(setup) = keys.get(market::SETUP_KEY) else {
        found.push(format!(
            "market keys without the setup record: {}",
            market_keys
                .iter()
                .map(|k| show(k))
                .collect::<Vec<_>>()
                .join(" ")
        ));
        return true;
    };
    let Data::Hash(setup) = &setup.value else {
        found.push("market:setup is not a hash".into());
        return true;
    };
    let figures = (
        number(setup.get(b"users".as_slice())),
        number(setup.get(b"items".as_slice())),
        number(setup.get(b"funds".as_slice())),
    );
    let (Some(users), Some(items), Some(funds)) = figures else {
        found.push(format!("market:setup is incomplete: {setup:?}"));
        return true;
    };
    let mut total = 0;
    for user in 0..users as u64 {
        let balance = match keys.get(&market::user_key(user)).map(|e| &e.value) {
            Some(Data::Hash(fields)) => number(fields.get(b"funds".as_slice())),
            _ => None,
        };
        match balance {
            Some(balance) if balance < 0 => {
                found.push(format!("user {user} has negative funds {balance}"))
            }
            Some(balance) => total += balance,
            None => found.push(format!("user {user} has no funds field")),
        }
    }
    if total != users * funds {
        found.push(format!(
            "money is not conserved: the users hold {total}, they started with {}",
            users * funds
        ));
    }
    let mut places: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    for user in 0..users as u64 {
        if let Some(entry) = keys.get(&market::inventory_key(user)) {
            let Data::Set(members) = &entry.value else {
                found.push(format!("user {user}'s inventory is not a set"));
                continue;
            };
            for item in members {
                places
                    .entry(item.clone())
                    .or_default()
                    .push(format!("inventory {user}"));
            }
        }
    }
    if let Some(entry) = keys.get(market::MARKET_KEY) {
        let Data::ZSet(listings) = &entry.value else {
            found.push("the market is not a sorted set".into());
            return true;
        };
        for member in listings.keys() {
            match market::parse_listing(member) {
                Some((item, seller)) if (seller as i64) < users => places
                    .entry(item.to_vec())
                    .or_default()
                    .push(format!("listed by {seller}")),
                _ => found.push(format!("a listing names no user: {}", show(member))),
            }
        }
    }
    for item in 0..items as u64 {
        let name = market::item_name(item);
        match places.remove(&name).unwrap_or_default().as_slice() {
            [_] => {}
            [] => found.push(format!("{} is nowhere", show(&name))),
            many => found.push(format!("{} is in {}", show(&name), many.join(" and "))),
        }
    }
    for item in places.keys() {
        found.push(format!("an item no setup made: {}", show(item)));
    }
    true
}

/// Each processor's counts against its checkpoint. Returns whether any
/// processor's key exists.
fn check_logs(keys: &Keys, found: &mut Vec<String>) -> bool {
    let processors: BTreeSet<u64> = keys
        .keys()
        .filter_map(|key| {
            let rest = key.strip_prefix(b"logs:")?;
            let colon = rest.iter().position(|&b| b == b':')?;
            std::str::from_utf8(&rest[..colon]).ok()?.parse().ok()
        })
        .collect();
    for &processor in &processors {
        let progress = keys.get(&logs::progress_key(processor));
        let counts = keys.get(&logs::counts_key(processor));
        let position = match progress.map(|e| &e.value) {
            None => Position::default(),
            Some(Data::String(text)) => match Position::parse(text) {
                Some(position) => position,
                None => {
                    found.push(format!(
                        "processor {processor}'s checkpoint is unreadable: {}",
                        show(text)
                    ));
                    continue;
                }
            },
            Some(_) => {
                found.push(format!(
                    "processor {processor}'s checkpoint is not a string"
                ));
                continue;
            }
        };
        let want = counts_through(position);
        let have: BTreeMap<Vec<u8>, Vec<u8>> = match counts.map(|e| &e.value) {
            None => BTreeMap::new(),
            Some(Data::Hash(fields)) => fields.clone(),
            Some(_) => {
                found.push(format!("processor {processor}'s counts are not a hash"));
                continue;
            }
        };
        if have != want {
            found.push(format!(
                "processor {processor}'s counts do not match its checkpoint {}: have {}, the lines before it give {}",
                show(&position.encode()),
                show_counts(&have),
                show_counts(&want)
            ));
        }
    }
    !processors.is_empty()
}

/// A string value as an integer: `None` when absent, an error when it is
/// no integer or no string.
fn integer_at(keys: &Keys, key: &[u8]) -> Result<Option<i64>, String> {
    match keys.get(key).map(|entry| &entry.value) {
        None => Ok(None),
        Some(Data::String(text)) => std::str::from_utf8(text)
            .ok()
            .and_then(|text| text.parse().ok())
            .map(Some)
            .ok_or_else(|| format!("{} holds no integer: {}", show(key), show(text))),
        Some(_) => Err(format!("{} is not a string", show(key))),
    }
}

/// The lock's invariants. Returns whether any lock key exists.
fn check_lock(keys: &Keys, found: &mut Vec<String>) -> bool {
    let mut any = false;
    for (key, _) in keys.range(b"lock:".to_vec()..) {
        if !key.starts_with(b"lock:") {
            break;
        }
        any = true;
        let known = [
            lock::MUTEX_KEY,
            lock::FENCE_KEY,
            lock::HOLDERS_KEY,
            lock::COUNTER_KEY,
            lock::LOG_KEY,
            lock::LAST_KEY,
        ];
        if !known.contains(&key.as_slice()) {
            found.push(format!("a lock key no application writes: {}", show(key)));
        }
    }
    if !any {
        return false;
    }
    let mut problems = Vec::new();
    if let Err(problem) = check_lock_keys(keys, &mut problems) {
        problems.push(problem);
    }
    found.extend(problems.into_iter().map(|text| format!("lock: {text}")));
    true
}

fn check_lock_keys(keys: &Keys, found: &mut Vec<String>) -> Result<(), String> {
    let counter = integer_at(keys, lock::COUNTER_KEY)?.unwrap_or(0);
    let fence = integer_at(keys, lock::FENCE_KEY)?.unwrap_or(0);
    let empty_log = VecDeque::new();
    let log = match keys.get(lock::LOG_KEY).map(|entry| &entry.value) {
        None => &empty_log,
        Some(Data::List(items)) => items,
        Some(_) => return Err("lock:log is not a list".into()),
    };
    let empty_holders = BTreeMap::new();
    let holders = match keys.get(lock::HOLDERS_KEY).map(|entry| &entry.value) {
        None => &empty_holders,
        Some(Data::Hash(fields)) => fields,
        Some(_) => return Err("lock:holders is not a hash".into()),
    };
    if counter != log.len() as i64 {
        found.push(format!(
            "the counter is {counter} but the log records {} increments",
            log.len()
        ));
    }
    // The holders are exactly the fences handed out.
    let fences: Vec<i64> = holders.keys().filter_map(|f| number(Some(f))).collect();
    let expected: Vec<i64> = (1..=fence).collect();
    let mut sorted = fences.clone();
    sorted.sort_unstable();
    if sorted != expected || fences.len() != holders.len() {
        let shown: Vec<String> = holders.keys().map(|f| show(f)).collect();
        found.push(format!(
            "lock:fence is {fence} but the holders are recorded for fences [{}]",
            shown.join(" ")
        ));
    }
    let mut last_fence = 0;
    for (at, text) in log.iter().enumerate() {
        let Some(entry) = LogEntry::parse(text) else {
            found.push(format!("log entry {at} is unreadable: {}", show(text)));
            continue;
        };
        if entry.value != at as i64 + 1 {
            found.push(format!(
                "log entry {at} records value {} (an increment lost or made twice): {}",
                entry.value,
                show(text)
            ));
        }
        if entry.fence < last_fence {
            found.push(format!(
                "log entry {at} was written under fence {} after one under fence {last_fence}",
                entry.fence
            ));
        }
        last_fence = last_fence.max(entry.fence);
        let holder = holders.get(entry.fence.to_string().as_bytes());
        if holder != Some(&entry.token) {
            found.push(format!(
                "log entry {at} was written by {} under fence {}, whose holder is {}",
                show(&entry.token),
                entry.fence,
                holder.map_or("nobody".to_string(), |h| show(h))
            ));
        }
    }
    let last = match keys.get(lock::LAST_KEY).map(|entry| &entry.value) {
        None => None,
        Some(Data::String(text)) => Some(text),
        Some(_) => return Err("lock:last is not a string".into()),
    };
    if last != log.back() {
        found.push(format!(
            "lock:last is {} but the log ends with {}",
            last.map_or("nothing".to_string(), |l| show(l)),
            log.back().map_or("nothing".to_string(), |l| show(l))
        ));
    }
    if let Some(entry) = keys.get(lock::MUTEX_KEY) {
        let Data::String(token) = &entry.value else {
            return Err("lock:mutex is not a string".into());
        };
        let last = holders.get(fence.to_string().as_bytes());
        if last != Some(token) {
            found.push(format!(
                "the lock is held by {} but the last fence {fence} went to {}",
                show(token),
                last.map_or("nobody".to_string(), |h| show(h))
            ));
        }
    }
    Ok(())
}

/// The rate limiter's invariants. Returns whether any of its keys exists.
fn check_ratelimit(keys: &Keys, found: &mut Vec<String>) -> bool {
    let mut windows: BTreeMap<&[u8], (Option<&Entry>, Option<&Entry>)> = BTreeMap::new();
    for (key, entry) in keys.range(b"rl:".to_vec()..) {
        if !key.starts_with(b"rl:") {
            break;
        }
        if let Some(window) = key.strip_prefix(ratelimit::COUNT_PREFIX) {
            windows.entry(window).or_default().0 = Some(entry);
        } else if let Some(window) = key.strip_prefix(ratelimit::LOG_PREFIX) {
            windows.entry(window).or_default().1 = Some(entry);
        } else {
            found.push(format!(
                "a rate limiter key no application writes: {}",
                show(key)
            ));
        }
    }
    for (window, pair) in &windows {
        if let Err(text) = check_window(pair) {
            found.push(format!("rate limiter window {}: {text}", show(window)));
        }
    }
    !windows.is_empty()
}

/// One window: its count and its log.
fn check_window(pair: &(Option<&Entry>, Option<&Entry>)) -> Result<(), String> {
    let (count, log) = match pair {
        (Some(count), Some(log)) => (count, log),
        // One key expired before the other was removed: both expire at
        // the same moment, so the window is over. A key that never
        // expires lost its partner otherwise.
        (Some(only), None) | (None, Some(only)) => {
            return match only.expire_at_ms {
                Some(_) => Ok(()),
                None => Err(format!(
                    "only its {} is left, with no time to live",
                    if pair.0.is_some() { "count" } else { "log" }
                )),
            };
        }
        (None, None) => return Ok(()),
    };
    let Data::String(text) = &count.value else {
        return Err("the count is not a string".into());
    };
    let count_value: i64 = std::str::from_utf8(text)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("the count is no integer: {}", show(text)))?;
    let Data::List(ids) = &log.value else {
        return Err("the log is not a list".into());
    };
    let distinct: BTreeSet<&Vec<u8>> = ids.iter().collect();
    if distinct.len() != ids.len() {
        return Err(format!("a request is recorded twice: {ids:?}"));
    }
    if ids.len() as i64 > ratelimit::LIMIT {
        return Err(format!(
            "{} requests admitted, over the limit of {}",
            ids.len(),
            ratelimit::LIMIT
        ));
    }
    if ids.len() as i64 != count_value.min(ratelimit::LIMIT) {
        return Err(format!(
            "{} requests counted but {} recorded as admitted",
            count_value,
            ids.len()
        ));
    }
    if count.expire_at_ms != log.expire_at_ms {
        return Err(format!(
            "the count expires at {:?} and the log at {:?}",
            count.expire_at_ms, log.expire_at_ms
        ));
    }
    Ok(())
}

/// The counts of every line before `position`, as the hash holds them.
fn counts_through(position: Position) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut counts = [0u64; STATUSES.len()];
    for file in 0..=position.file {
        let lines = if file == position.file {
            position.line
        } else {
            logs::LINES_PER_FILE
        };
        for line in 0..lines {
            let status = logs::status_of(file, line);
            let at = STATUSES
                .iter()
                .position(|s| *s == status)
                .expect("a status");
            counts[at] += 1;
        }
    }
    STATUSES
        .iter()
        .zip(counts)
        .filter(|(_, count)| *count > 0)
        .map(|(status, count)| (status.as_bytes().to_vec(), count.to_string().into_bytes()))
        .collect()
}

fn show_counts(counts: &BTreeMap<Vec<u8>, Vec<u8>>) -> String {
    let fields: Vec<String> = counts
        .iter()
        .map(|(status, count)| format!("{}={}", show(status), show(count)))
        .collect();
    format!("{{{}}}", fields.join(" "))
}

/// Where each job (or attempt) of `queue` is; a job in two places, or a
/// key no application writes, is a finding.
fn queue_places<'a>(
    keys: &'a Keys,
    queue: &QueueKeys,
    found: &mut Vec<String>,
) -> BTreeMap<&'a [u8], Vec<String>> {
    let mut places: BTreeMap<&[u8], Vec<String>> = BTreeMap::new();
    for (key, entry) in keys.range(queue.prefix.to_vec()..) {
        if !key.starts_with(queue.prefix) {
            break;
        }
        let known = key == queue.pending || key == queue.done || key.starts_with(queue.processing);
        let Data::List(jobs) = &entry.value else {
            found.push(format!("{} is not a list", show(key)));
            continue;
        };
        if !known {
            found.push(format!("a queue key no application writes: {}", show(key)));
            continue;
        }
        for job in jobs {
            places.entry(job).or_default().push(show(key));
        }
    }
    for (job, where_) in &places {
        if where_.len() > 1 {
            found.push(format!("{} is in {}", show(job), where_.join(" and ")));
        }
    }
    places
}

/// Whether a job name is an attempt of the fallback queue (`job:P:N/A`).
fn is_attempt(job: &[u8]) -> bool {
    job.contains(&b'/')
}

/// The job an attempt is of.
fn job_of(attempt: &[u8]) -> &[u8] {
    let end = attempt
        .iter()
        .rposition(|&b| b == b'/')
        .unwrap_or(attempt.len());
    &attempt[..end]
}

impl AppFindings {
    /// At the end of the run, with `data` the final dataset: every job of
    /// the fallback queue that a replica confirmed is somewhere (any
    /// attempt of it), unless a restart or failover lost it unowed.
    /// Returns the jobs lost that way, which are counted, not judged.
    pub fn check_fallback_end(&mut self, data: &Dataset, acked: &[AckedJob]) -> u64 {
        let empty = Keys::new();
        let keys = data.get(&0).unwrap_or(&empty);
        let mut found = Vec::new();
        let present: BTreeSet<&[u8]> = queue_places(keys, &FALLBACK_QUEUE, &mut found)
            .into_keys()
            .map(job_of)
            .collect();
        let mut confirmed: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::new();
        for ack in acked.iter().filter(|ack| is_attempt(&ack.job)) {
            confirmed
                .entry(job_of(&ack.job))
                .or_default()
                .push(&ack.job);
        }
        let mut lost_unowed = 0;
        for (job, attempts) in confirmed {
            if present.contains(job) {
                continue;
            }
            let unowed = attempts
                .iter()
                .all(|attempt| self.fallback_lost_unowed.contains(*attempt));
            if unowed || self.unowed_restarts {
                lost_unowed += 1;
            } else {
                self.violation(
                    "the end of the run",
                    format!(
                        "job {} was confirmed by a replica and left its producer's buffer, and is nowhere now",
                        show(job)
                    ),
                );
            }
        }
        lost_unowed
    }
}

/// The verdict: the findings, and whether each application that ran got
/// its work done (a checker that passes a run in which nothing happened
/// proves nothing). `finished`: every application client ran all its
/// operations; when the node went away for good first, an application
/// that did nothing is no finding (liveness judges the run).
pub fn check_apps(
    counts: AppCounts,
    stats: &AppStats,
    findings: &AppFindings,
    finished: bool,
) -> Verdict {
    let mut violations = findings.violations.clone();
    let idle = [
        (counts.market, stats.listings, "no trader listed an item"),
        (
            counts.logs,
            stats.log_chunks,
            "no processor committed a chunk",
        ),
        (
            counts.queue + counts.fallback_queue,
            stats.jobs_done,
            "no worker finished a job",
        ),
        // Acquired, not written under: a hold whose release the node
        // refused is left to its time to live, which a clock jumping back
        // stretches past the lockers' operations.
        (
            counts.lock,
            stats.locks_acquired,
            "no locker acquired the lock",
        ),
        (
            counts.ratelimit,
            stats.requests_admitted,
            "the rate limiter admitted no request",
        ),
    ];
    for (ran, work, complaint) in idle {
        if finished && ran > 0 && work == 0 {
            violations.push(complaint.to_string());
        }
    }
    let passed = findings.violations_total == 0 && violations.len() == findings.violations.len();
    let mut summary = format!(
            "{} datasets checked; market: {} setups, {} listings, {} purchases; logs: {} chunks, {} resumes; queue: {} enqueued, {} taken, {} done, {} swept; {} WATCH retries; {} owed enqueues found; {} violations",
            findings.datasets_checked,
            stats.market_setups,
            stats.listings,
            stats.purchases,
            stats.log_chunks,
            stats.log_resumes,
            stats.jobs_enqueued,
            stats.jobs_taken,
            stats.jobs_done,
            stats.jobs_swept,
            stats.transactions_retried,
            findings.owed_enqueues_checked,
            findings.violations_total
        );
    // Only runs with the fallback queue say so, so other reports keep
    // their lines.
    if counts.fallback_queue > 0 {
        summary.push_str(&format!(
            "; fallback queue: {} jobs back in a buffer, {} given up, {} confirmed and lost where nothing was owed",
            stats.jobs_buffered, stats.jobs_given_up, findings.fallback_lost_at_end
        ));
    }
    // Only runs with the script-based applications say so.
    if counts.scripted() > 0 {
        summary.push_str(&format!(
            "; lock: {} acquired, {} found taken, {} increments, {} lost to expiry, {} released; rate limiter: {} admitted, {} limited; {} NOSCRIPT fallbacks to EVAL",
            stats.locks_acquired,
            stats.locks_busy,
            stats.lock_increments,
            stats.locks_lost,
            stats.locks_released,
            stats.requests_admitted,
            stats.requests_limited,
            stats.noscript_fallbacks
        ));
    }
    Verdict {
        name: "apps",
        passed,
        summary,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::check::model::value::Score;
    use crate::check::model::Entry;

    fn entry(value: Data) -> Entry {
        Entry {
            value,
            expire_at_ms: None,
        }
    }

    fn hash(fields: &[(&str, &str)]) -> Data {
        Data::Hash(
            fields
                .iter()
                .map(|(f, v)| (f.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        )
    }

    fn set(members: &[&str]) -> Data {
        Data::Set(members.iter().map(|m| m.as_bytes().to_vec()).collect())
    }

    fn list(items: &[&str]) -> Data {
        Data::List(
            items
                .iter()
                .map(|m| m.as_bytes().to_vec())
                .collect::<VecDeque<_>>(),
        )
    }

    /// A market of two users and three items after user 1 bought item0
    /// from user 0 for 30, and user 1 listed item1 for 5.
    fn market() -> Keys {
        let mut keys = Keys::new();
        let mut put = |key: &str, value: Data| {
            keys.insert(key.as_bytes().to_vec(), entry(value));
        };
        put(
            "market:setup",
            hash(&[("users", "2"), ("items", "3"), ("funds", "100")]),
        );
        put(
            "market:users:0",
            hash(&[("name", "user0"), ("funds", "130")]),
        );
        put(
            "market:users:1",
            hash(&[("name", "user1"), ("funds", "70")]),
        );
        put("market:inventory:0", set(&["item2"]));
        put("market:inventory:1", set(&["item0"]));
        let listing = [(b"item1.1".to_vec(), Score(5.0))].into_iter().collect();
        put("market:market", Data::ZSet(listing));
        keys
    }

    fn findings(keys: Keys, acked: &[AckedJob], owed: Option<&BTreeSet<ReplyEnd>>) -> AppFindings {
        let mut findings = AppFindings::default();
        let data: Dataset = [(0, keys)].into_iter().collect();
        findings.check("test", &data, acked, owed);
        findings
    }

    fn violations(keys: Keys) -> Vec<String> {
        findings(keys, &[], None).violations
    }

    #[test]
    fn a_consistent_market_passes() {
        assert_eq!(violations(market()), Vec::<String>::new());
        // No market at all passes too.
        assert_eq!(violations(Keys::new()), Vec::<String>::new());
    }

    #[test]
    fn half_a_purchase_is_caught() {
        let mut keys = market();
        // The seller was paid, the buyer not charged.
        keys.insert(b"market:users:1".to_vec(), entry(hash(&[("funds", "100")])));
        let found = violations(keys);
        assert!(
            found[0].contains("money is not conserved: the users hold 230"),
            "{found:?}"
        );
    }

    #[test]
    fn an_item_in_two_places_or_none_is_caught() {
        let mut keys = market();
        keys.insert(
            b"market:inventory:0".to_vec(),
            entry(set(&["item2", "item1"])),
        );
        let found = violations(keys.clone());
        assert!(
            found[0].contains("item1 is in inventory 0 and listed by 1"),
            "{found:?}"
        );
        keys.insert(b"market:inventory:0".to_vec(), entry(set(&[])));
        let found = violations(keys);
        assert!(found[0].contains("item2 is nowhere"), "{found:?}");
    }

    #[test]
    fn market_keys_without_the_setup_are_caught() {
        let mut keys = market();
        keys.remove(b"market:setup".as_slice());
        let found = violations(keys);
        assert!(
            found[0].starts_with("test: market keys without the setup record"),
            "{found:?}"
        );
    }

    /// Counts that match the checkpoint pass; one line more or less fails.
    #[test]
    fn log_counts_must_match_the_checkpoint() {
        let position = Position { file: 1, line: 7 };
        let want = counts_through(position);
        let total: u64 = want
            .values()
            .map(|count| std::str::from_utf8(count).unwrap().parse::<u64>().unwrap())
            .sum();
        assert_eq!(total, logs::LINES_PER_FILE + 7);
        let mut keys = Keys::new();
        keys.insert(
            b"logs:0:progress".to_vec(),
            entry(Data::String(b"1:7".to_vec())),
        );
        keys.insert(b"logs:0:counts".to_vec(), entry(Data::Hash(want.clone())));
        assert_eq!(violations(keys.clone()), Vec::<String>::new());
        let mut off_by_one = want;
        let (_, count) = off_by_one.iter_mut().next().unwrap();
        *count = (std::str::from_utf8(count).unwrap().parse::<u64>().unwrap() + 1)
            .to_string()
            .into_bytes();
        keys.insert(b"logs:0:counts".to_vec(), entry(Data::Hash(off_by_one)));
        let found = violations(keys.clone());
        assert!(
            found[0].contains("processor 0's counts do not match its checkpoint 1:7"),
            "{found:?}"
        );
        // Counts with no checkpoint: results the progress does not cover.
        keys.remove(b"logs:0:progress".as_slice());
        assert_eq!(violations(keys).len(), 1);
    }

    #[test]
    fn a_job_in_two_places_is_caught() {
        let mut keys = Keys::new();
        keys.insert(
            b"queue:pending".to_vec(),
            entry(list(&["job:0:3", "job:0:2"])),
        );
        keys.insert(b"queue:processing:0".to_vec(), entry(list(&["job:0:1"])));
        keys.insert(b"queue:done".to_vec(), entry(list(&["job:1:1"])));
        assert_eq!(violations(keys.clone()), Vec::<String>::new());
        keys.insert(b"queue:done".to_vec(), entry(list(&["job:1:1", "job:0:1"])));
        let found = violations(keys.clone());
        assert!(
            found[0].contains("job:0:1 is in queue:done and queue:processing:0"),
            "{found:?}"
        );
        keys.insert(b"queue:done".to_vec(), entry(list(&["job:1:1", "job:1:1"])));
        let found = violations(keys);
        assert!(
            found[0].contains("job:1:1 is in queue:done and queue:done"),
            "{found:?}"
        );
    }

    /// An owed enqueue must be somewhere; one the contract did not owe may
    /// be lost.
    #[test]
    fn an_owed_enqueue_must_survive() {
        let mut keys = Keys::new();
        keys.insert(b"queue:done".to_vec(), entry(list(&["job:0:1"])));
        let acked = [
            AckedJob {
                job: b"job:0:1".to_vec(),
                at: (0, 7, 10),
            },
            AckedJob {
                job: b"job:0:2".to_vec(),
                at: (0, 7, 20),
            },
        ];
        let owed_first: BTreeSet<ReplyEnd> = [(0, 7, 10)].into_iter().collect();
        let found = findings(keys.clone(), &acked, Some(&owed_first));
        assert_eq!(found.violations, Vec::<String>::new());
        assert_eq!(found.owed_enqueues_checked, 1);
        let owed_both: BTreeSet<ReplyEnd> = [(0, 7, 10), (0, 7, 20)].into_iter().collect();
        let found = findings(keys, &acked, Some(&owed_both));
        assert!(
            found.violations[0].contains("the acknowledged enqueue of job:0:2 is lost"),
            "{:?}",
            found.violations
        );
    }

    fn string(text: &str) -> Data {
        Data::String(text.as_bytes().to_vec())
    }

    /// The lock after holder 0.1 (fence 1) incremented twice and holder
    /// 1.1 (fence 2) once, and holds the lock now.
    fn locked() -> Keys {
        let mut keys = Keys::new();
        let mut put = |key: &str, value: Data| {
            keys.insert(key.as_bytes().to_vec(), entry(value));
        };
        put("lock:mutex", string("1.1"));
        put("lock:fence", string("2"));
        put("lock:holders", hash(&[("1", "0.1"), ("2", "1.1")]));
        put("lock:counter", string("3"));
        put("lock:log", list(&["1:1:0.1", "2:1:0.1", "3:2:1.1"]));
        put("lock:last", string("3:2:1.1"));
        keys
    }

    #[test]
    fn a_consistent_lock_passes() {
        assert_eq!(violations(locked()), Vec::<String>::new());
        // Released, the lock is absent.
        let mut keys = locked();
        keys.remove(b"lock:mutex".as_slice());
        assert_eq!(violations(keys), Vec::<String>::new());
    }

    /// An increment without its record, or with its record but not the
    /// last one, is half a script.
    #[test]
    fn a_torn_lock_write_is_caught() {
        let mut keys = locked();
        keys.insert(b"lock:counter".to_vec(), entry(string("4")));
        let found = violations(keys);
        assert!(
            found[0].contains("the counter is 4 but the log records 3"),
            "{found:?}"
        );
        let mut keys = locked();
        keys.insert(b"lock:last".to_vec(), entry(string("2:1:0.1")));
        let found = violations(keys);
        assert!(found[0].contains("lock:last is 2:1:0.1"), "{found:?}");
    }

    /// Two holders that read the same value both wrote its successor.
    #[test]
    fn interleaved_holders_are_caught() {
        let mut keys = locked();
        keys.insert(
            b"lock:log".to_vec(),
            entry(list(&["1:1:0.1", "2:1:0.1", "2:2:1.1"])),
        );
        keys.insert(b"lock:last".to_vec(), entry(string("2:2:1.1")));
        let found = violations(keys);
        assert!(
            found
                .iter()
                .any(|f| f.contains("log entry 2 records value 2")),
            "{found:?}"
        );
    }

    /// A fence without its holder (half an acquisition), an entry whose
    /// fence another holds, a lock that is not the last fence's.
    #[test]
    fn a_torn_acquisition_is_caught() {
        let mut keys = locked();
        keys.insert(b"lock:fence".to_vec(), entry(string("3")));
        let found = violations(keys);
        assert!(
            found[0].contains("lock:fence is 3 but the holders are recorded for fences [1 2]"),
            "{found:?}"
        );
        let mut keys = locked();
        keys.insert(
            b"lock:holders".to_vec(),
            entry(hash(&[("1", "0.1"), ("2", "0.2")])),
        );
        let found = violations(keys);
        assert!(
            found
                .iter()
                .any(|f| f.contains("written by 1.1 under fence 2, whose holder is 0.2")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|f| f.contains("the lock is held by 1.1 but the last fence 2 went to 0.2")),
            "{found:?}"
        );
    }

    fn window(count: &str, ids: &[&str], count_expiry: Option<i64>) -> Keys {
        let mut keys = Keys::new();
        keys.insert(
            b"rl:count:3".to_vec(),
            Entry {
                value: string(count),
                expire_at_ms: count_expiry,
            },
        );
        keys.insert(
            b"rl:log:3".to_vec(),
            Entry {
                value: list(ids),
                expire_at_ms: Some(5_000),
            },
        );
        keys
    }

    /// A window records exactly min(count, limit) admitted requests, and
    /// its keys expire together.
    #[test]
    fn rate_limiter_windows_are_checked() {
        let four = ["0.1", "1.1", "0.2", "1.2"];
        assert_eq!(
            violations(window("2", &four[..2], Some(5_000))),
            Vec::<String>::new()
        );
        assert_eq!(
            violations(window("9", &four, Some(5_000))),
            Vec::<String>::new()
        );
        let found = violations(window("3", &four[..2], Some(5_000)));
        assert!(
            found[0].contains("3 requests counted but 2 recorded"),
            "{found:?}"
        );
        let five = ["0.1", "1.1", "0.2", "1.2", "0.3"];
        let found = violations(window("5", &five, Some(5_000)));
        assert!(found[0].contains("over the limit of 4"), "{found:?}");
        let found = violations(window("2", &["0.1", "0.1"], Some(5_000)));
        assert!(found[0].contains("recorded twice"), "{found:?}");
        let found = violations(window("2", &four[..2], Some(6_000)));
        assert!(found[0].contains("the count expires at"), "{found:?}");
        // One key left, expiring: the window is over.
        let mut keys = window("2", &four[..2], Some(5_000));
        keys.remove(b"rl:log:3".as_slice());
        assert_eq!(violations(keys.clone()), Vec::<String>::new());
        keys.insert(b"rl:count:3".to_vec(), entry(string("2")));
        assert_eq!(violations(keys).len(), 1);
    }

    /// A run whose applications did nothing fails, whatever the data.
    #[test]
    fn idle_applications_fail_the_verdict() {
        let counts = AppCounts {
            market: 1,
            ..AppCounts::default()
        };
        let verdict = check_apps(counts, &AppStats::default(), &AppFindings::default(), true);
        assert!(!verdict.passed);
        assert_eq!(verdict.violations, ["no trader listed an item"]);
        // Cut short (the node refused to start for good): no finding.
        let cut = check_apps(counts, &AppStats::default(), &AppFindings::default(), false);
        assert!(cut.passed);
        let worked = AppStats {
            listings: 3,
            ..AppStats::default()
        };
        assert!(check_apps(counts, &worked, &AppFindings::default(), true).passed);
    }

    /// At the end, a confirmed fallback-queue job must be somewhere under
    /// any of its attempts, unless a restart lost it unowed.
    #[test]
    fn confirmed_fallback_jobs_are_somewhere_at_the_end() {
        let acked = |job: &str| AckedJob {
            job: job.as_bytes().to_vec(),
            at: (0, 1, 0),
        };
        let acks = [acked("job:0:1/0"), acked("job:0:2/1"), acked("job:0:3/0")];
        let done = VecDeque::from([b"job:0:1/2".to_vec()]);
        let data: Dataset = [(0, [(b"fq:done".to_vec(), entry(Data::List(done)))].into())].into();
        let mut findings = AppFindings::default();
        findings.fallback_lost_unowed.insert(b"job:0:3/0".to_vec());
        assert_eq!(findings.check_fallback_end(&data, &acks), 1);
        assert_eq!(findings.violations_total, 1);
        assert!(
            findings.violations[0].contains("job:0:2"),
            "{:?}",
            findings.violations
        );
    }
}
