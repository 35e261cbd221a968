//! Failovers: what each promotion kept and lost.
//!
//! Whether the writes WAIT and WAITAOF confirmed survived is the
//! `durable` checker's rule at the failover's restart
//! ([`crate::check::durability::FailoverLoss`]). This checker counts, as
//! Jepsen does, the acknowledged writes a promotion lost anyway: Redis's
//! replication is asynchronous and promises them nothing, so the count is
//! reported, not judged. What it judges is the bound `min-replicas-to-write`
//! puts on a split brain: a master cut from its replicas refuses writes
//! once it has heard from none for `min-replicas-max-lag` seconds, so no
//! write it acknowledged after that (plus one ping period for the lag to
//! show, and the network's delay) may be among the lost.

use super::Verdict;
use crate::faults::FailoverTrigger;
use crate::run::failover::PROXY_CHECK_MS;

/// The slack on the split-brain bound beyond `min-replicas-max-lag`: the
/// lag is measured in whole seconds from the last ACK, which comes once a
/// second.
pub const SPLIT_BRAIN_SLACK_MS: u64 = 2 * PROXY_CHECK_MS;

/// One failover, as the report tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverRecord {
    /// When the master was lost.
    pub started_ms: u64,
    pub trigger: FailoverTrigger,
    /// The node promoted (its number before the swap); `None`: none was
    /// (the master came back first, or no replica of its history ran).
    pub promoted: Option<usize>,
    /// Acknowledged writes the promoted dataset does not hold.
    pub acknowledged_lost: u64,
    /// When the last of them was acknowledged.
    pub last_lost_released_ms: Option<u64>,
    /// Of those, writes a WAIT or WAITAOF had confirmed to some replica
    /// (too few to be owed, or the durable checker fails the run).
    pub confirmed_lost: u64,
    /// The old master's `min-replicas-max-lag` in ms, when its
    /// `min-replicas-to-write` was set.
    pub split_brain_bound_ms: Option<u64>,
    /// The promoted replica's AOF was fsynced up to what it applied: a
    /// later power loss owes the writes it kept.
    pub promoted_synced: bool,
}

impl FailoverRecord {
    /// A failover that started at `started_ms`, nothing promoted yet.
    pub fn new(started_ms: u64, trigger: FailoverTrigger) -> Self {
        FailoverRecord {
            started_ms,
            trigger,
            promoted: None,
            acknowledged_lost: 0,
            last_lost_released_ms: None,
            confirmed_lost: 0,
            split_brain_bound_ms: None,
            promoted_synced: false,
        }
    }
}

/// The failover verdict.
pub fn verdict(failovers: &[FailoverRecord]) -> Verdict {
    let promoted: Vec<&FailoverRecord> =
        failovers.iter().filter(|f| f.promoted.is_some()).collect();
    let lost: u64 = promoted.iter().map(|f| f.acknowledged_lost).sum();
    let confirmed_lost: u64 = promoted.iter().map(|f| f.confirmed_lost).sum();
    let mut violations = Vec::new();
    let mut bounded = 0;
    for failover in &promoted {
        if failover.trigger != FailoverTrigger::Partition {
            continue;
        }
        if let Some(bound_ms) = failover.split_brain_bound_ms {
            bounded += 1;
            let limit = failover.started_ms + bound_ms + SPLIT_BRAIN_SLACK_MS;
            if let Some(last) = failover.last_lost_released_ms.filter(|&ms| ms > limit) {
                violations.push(format!(
                    "split brain from {} ms: a write acknowledged at {last} ms was lost, past min-replicas-max-lag ({bound_ms} ms + {SPLIT_BRAIN_SLACK_MS} ms slack)",
                    failover.started_ms
                ));
            }
        }
    }
    let split = promoted
        .iter()
        .filter(|f| f.trigger == FailoverTrigger::Partition)
        .count();
    let synced = promoted.iter().filter(|f| f.promoted_synced).count();
    let bound = format!(
        "{split} split brains, {bounded} bounded by min-replicas-to-write, {synced} promoted replicas fsynced up to what they applied"
    );
    Verdict {
        name: "failover",
        passed: violations.is_empty(),
        summary: format!(
            "{} failovers, {} promoted, {lost} acknowledged writes lost (reported, not judged; {confirmed_lost} of them confirmed to too few replicas), {bound}",
            failovers.len(),
            promoted.len()
        ),
        violations,
    }
}
