//! Faults: what a run injects, drawn from the seed within the scenario's
//! ranges before the run starts.
//!
//! Today: node crashes (process crash or power loss), each followed by a
//! restart on the same disk.

use crate::run::options::{pick, SIM_TIME_MS_MAX};
use crate::run::scenario::{CrashChoice, Scenario};
use crate::world::disk::CrashKind;
use crate::world::rng::SimRng;

/// Crashes one run injects, at most.
pub const CRASHES_MAX: u64 = 16;

/// One crash of the node and its restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashPlan {
    pub at_ms: u64,
    pub kind: CrashKind,
    /// Time from the crash to the restart.
    pub restart_delay_ms: u64,
}

/// How reports name a crash kind.
pub fn crash_kind_name(kind: CrashKind) -> &'static str {
    match kind {
        CrashKind::Process => "process",
        CrashKind::PowerLoss => "power_loss",
    }
}

/// The crash plan: seeded times in the scenario's window, sorted, each
/// pushed past the previous restart so incarnations never overlap.
pub fn derive_crashes(rng: &mut SimRng, scenario: &Scenario) -> Vec<CrashPlan> {
    let Some(crashes) = &scenario.faults.crashes else {
        return Vec::new();
    };
    let count = pick(rng, crashes.count, CRASHES_MAX);
    let mut times: Vec<u64> = (0..count)
        .map(|_| pick(rng, crashes.at_ms, SIM_TIME_MS_MAX))
        .collect();
    times.sort_unstable();
    let mut plans: Vec<CrashPlan> = Vec::new();
    for at_ms in times {
        let kind = match crashes.kind {
            CrashChoice::Process => CrashKind::Process,
            CrashChoice::PowerLoss => CrashKind::PowerLoss,
            CrashChoice::Mixed if rng.percent(50) => CrashKind::Process,
            CrashChoice::Mixed => CrashKind::PowerLoss,
        };
        let restart_delay_ms = pick(rng, crashes.restart_delay_ms, SIM_TIME_MS_MAX);
        let not_before = plans
            .last()
            .map_or(0, |last| last.at_ms + last.restart_delay_ms + 1);
        plans.push(CrashPlan {
            at_ms: at_ms.max(not_before),
            kind,
            restart_delay_ms,
        });
    }
    plans
}
