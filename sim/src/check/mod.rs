//! The checkers that judge a run, each with a verdict for the report.
//!
//! * [`integrity`]: every reply is the one the node produced for its request;
//! * [`model`]: the reference model predicts every reply;
//! * [`linearizable`]: what the clients saw, by their own clocks, has an
//!   order per key that a plain Redis key explains;
//! * [`liveness`]: every client finished within the run's bounds;
//! * [`durability`]: at each restart, the recovered dataset is a prefix of
//!   the write log and holds what the policy promised;
//! * [`recovery`]: the verdicts over every restart of a run (recovery,
//!   prefix, durable, integrity);
//! * [`enospc`]: a full disk refuses or holds writes, and writing resumes
//!   by itself;
//! * [`shutdown`]: a shutdown exits within a bound, having made writes
//!   safe;
//! * [`work`]: the run did the work its scenario asks for;
//! * [`apps`]: the invariants of the "Redis in Action" applications hold
//!   on every recovered dataset;
//! * [`replication`]: once the work is over, every replica catches up with
//!   its master and holds exactly its dataset;
//! * [`failover`]: what each promotion lost, and the split-brain bound of
//!   `min-replicas-to-write`;
//! * [`confirm`]: publish-confirm: an action confirmed from a replica is
//!   on it, and survives a failover to it;
//! * [`replica_reads`]: what a replica answers is its master's dataset at
//!   some point of the stream, a point that only moves forward.

pub mod apps;
pub mod confirm;
pub mod durability;
pub mod enospc;
pub mod failover;
pub mod integrity;
pub mod linearizable;
pub mod liveness;
pub mod model;
pub mod recovery;
pub mod replica_reads;
pub mod replication;
pub mod shutdown;
pub mod work;

use model::ModelVerdict;

/// Milliseconds of `[start, end]` the node was absent.
pub fn absent_within(absent: &[(u64, u64)], start: u64, end: u64) -> u64 {
    let mut covered: Vec<(u64, u64)> = absent
        .iter()
        .map(|&(a, b)| (a.max(start), b.min(end)))
        .filter(|(a, b)| a < b)
        .collect();
    covered.sort_unstable();
    let (mut total, mut reach) = (0, start);
    for (a, b) in covered {
        let a = a.max(reach);
        if b > a {
            total += b - a;
            reach = b;
        }
    }
    total
}

/// A checker's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub name: &'static str,
    pub passed: bool,
    /// One line of figures (what was checked).
    pub summary: String,
    /// The first violations, if any.
    pub violations: Vec<String>,
}

/// The model checker's verdict.
pub fn model_verdict(verdict: &ModelVerdict) -> Verdict {
    let mut summary = format!(
        "{} commands checked, {} unmodeled, {} transactions committed, {} aborted by WATCH, {} expirations, {} violations",
        verdict.commands_checked,
        verdict.commands_unmodeled,
        verdict.transactions_committed,
        verdict.transactions_aborted_by_watch,
        verdict.expirations_applied,
        verdict.violations_total
    );
    // Only runs that block say so, so other reports keep their words.
    if verdict.served_after_block + verdict.timed_out_after_block > 0 {
        summary.push_str(&format!(
            ", {} served after blocking, {} timed out",
            verdict.served_after_block, verdict.timed_out_after_block
        ));
    }
    Verdict {
        name: "model",
        passed: verdict.passed(),
        summary,
        violations: verdict.violations.clone(),
    }
}
