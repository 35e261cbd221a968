//! Shutdown: a SIGTERM or SHUTDOWN in the quiet phase makes the node exit
//! within a bound, having made every acknowledged write safe first (the
//! restarts' durability verdicts prove what it kept). In the fault phase a
//! shutdown may be refused (the data could not be made safe); the
//! supervisor then signals again, and kills the node after a grace period.
//! With replicas attached the node may first wait for them to acknowledge
//! its offset, up to `shutdown-timeout` (Redis 7): the bound grows by it.

use super::Verdict;
use crate::run::simulation::ShutdownRecord;

/// A quiet-phase shutdown must finish within this long.
pub const SHUTDOWN_EXIT_BOUND_MS: u64 = 1000;

/// The shutdown verdict, `None` when the run had no shutdown;
/// `replica_wait_ms`: how long the node may wait for its replicas first.
pub fn check_shutdown(
    records: &[ShutdownRecord],
    safety_expected: bool,
    replica_wait_ms: u64,
) -> Option<Verdict> {
    if records.is_empty() {
        return None;
    }
    let bound_ms = SHUTDOWN_EXIT_BOUND_MS + replica_wait_ms;
    let mut violations = Vec::new();
    let exited = records.iter().filter(|r| r.exited_ms.is_some()).count();
    let killed = records.iter().filter(|r| r.killed).count();
    let switched = records.iter().filter(|r| r.persistence_switched).count();
    for record in records.iter().filter(|r| r.in_quiet_phase) {
        match record.exited_ms {
            Some(at) if at - record.requested_ms > bound_ms => violations.push(format!(
                "the shutdown asked at {} ms took {} ms (bound {bound_ms} ms)",
                record.requested_ms,
                at - record.requested_ms
            )),
            Some(_) if safety_expected && !record.persistence_switched && !record.made_safe => {
                violations.push(format!(
                    "the shutdown asked at {} ms exited without making every write safe",
                    record.requested_ms
                ))
            }
            Some(_) => {}
            None => violations.push(format!(
                "the shutdown asked at {} ms in the quiet phase never completed{}",
                record.requested_ms,
                if record.killed { " (killed)" } else { "" }
            )),
        }
    }
    Some(Verdict {
        name: "shutdown",
        passed: violations.is_empty(),
        summary: format!(
            "{} shutdowns asked, {exited} clean exits, {killed} killed after the grace{}",
            records.len(),
            if switched > 0 {
                format!(
                    ", {switched} after CONFIG SET appendonly switched persistence (nothing promised)"
                )
            } else {
                String::new()
            }
        ),
        violations,
    })
}
