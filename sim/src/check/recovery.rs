//! The verdicts over every time the node went down and came back:
//! recovery (the node started again), prefix, durable and integrity, from
//! what [`super::durability`] found at each restart.

use super::durability::RecoveryCheck;
use super::Verdict;
use crate::faults::CrashKind;

/// Why the node went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownCause {
    Crash(CrashKind),
    /// The process died between two disk calls of an iteration.
    CrashBetweenDiskCalls(CrashKind),
    /// SIGKILL after a shutdown that did not finish within the grace.
    Killed,
    /// A clean exit (SIGTERM or SHUTDOWN), perhaps followed by power loss.
    Exit {
        power_loss: bool,
    },
    /// The run's last crash.
    Final(CrashKind),
    /// An operator promoted replica `promoted` in the master's place.
    Failover {
        promoted: usize,
    },
}

impl DownCause {
    pub fn name(&self) -> String {
        let kind = |kind: &CrashKind| match kind {
            CrashKind::Process => "process crash",
            CrashKind::PowerLoss => "power loss",
        };
        match self {
            DownCause::Crash(k) => kind(k).to_string(),
            DownCause::CrashBetweenDiskCalls(k) => format!("{} between disk calls", kind(k)),
            DownCause::Killed => "SIGKILL after the shutdown grace".to_string(),
            DownCause::Exit { power_loss: false } => "clean exit".to_string(),
            DownCause::Exit { power_loss: true } => "clean exit, then power loss".to_string(),
            DownCause::Final(k) => format!("final {}", kind(k)),
            DownCause::Failover { promoted } => format!("failover to node {promoted}"),
        }
    }
}

/// What the node recovered after going down, and the checkers' findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Keys loaded, expired ones included.
    pub keys: usize,
    /// The tail cut from the last AOF file: (file, offset, bytes removed).
    pub truncated: Option<(String, u64, u64)>,
    pub check: RecoveryCheck,
}

/// One time the node went down, and its restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartReport {
    /// 1 for the first of the run.
    pub number: usize,
    pub cause: DownCause,
    pub down_ms: u64,
    pub restart_ms: u64,
    /// Why earlier start attempts were refused.
    pub refusals: Vec<String>,
    /// What the node recovered, or why it finally refused to start.
    pub outcome: Result<Recovered, String>,
}

impl RestartReport {
    pub fn name(&self) -> String {
        format!(
            "restart {} after {} at {} ms",
            self.number,
            self.cause.name(),
            self.down_ms
        )
    }
}

fn verdict(name: &'static str) -> Verdict {
    Verdict {
        name,
        passed: true,
        summary: String::new(),
        violations: Vec::new(),
    }
}

/// The verdicts of the restart checkers: recovery (the node started
/// after every time it went down; refusals only where allowed), prefix,
/// durable (or why it is off) and integrity.
pub fn restart_verdicts(
    restarts: &[RestartReport],
    refusal_allowed: bool,
    durable_off: Option<&str>,
) -> Vec<Verdict> {
    let mut recovery = verdict("recovery");
    let mut prefix = verdict("prefix");
    let mut durable = verdict("durable");
    let mut integrity = verdict("integrity");
    let mut rules: Vec<(&str, u64)> = Vec::new();
    let (mut refused, mut retried, mut prefixes) = (0, 0, 0);
    for restart in restarts {
        retried += restart.refusals.len();
        let recovered = match &restart.outcome {
            Ok(recovered) => recovered,
            Err(reason) => {
                refused += 1;
                recovery.passed &= refusal_allowed;
                let allowed = if refusal_allowed { " (allowed)" } else { "" };
                recovery.violations.push(format!(
                    "{}: the node refused to start{allowed}: {reason}",
                    restart.name()
                ));
                continue;
            }
        };
        let check = &recovered.check;
        match check.prefix {
            Some(_) => prefixes += 1,
            None => {
                prefix.passed = false;
                prefix.violations.push(format!(
                    "{}: the recovered dataset ({} keys) is no prefix of the {} units; {}",
                    restart.name(),
                    recovered.keys,
                    check.units,
                    check.mismatch.as_deref().unwrap_or("")
                ));
            }
        }
        if !check.invented.is_empty() {
            integrity.passed = false;
            integrity.violations.push(format!(
                "{}: recovered values no client wrote, at {}",
                restart.name(),
                check.invented.join(" ")
            ));
        }
        let Some(owed) = &check.durable else {
            continue;
        };
        match rules.iter_mut().find(|(name, _)| *name == owed.rule) {
            Some((_, count)) => *count += 1,
            None => rules.push((owed.rule, 1)),
        }
        if !owed.passed {
            durable.passed = false;
            let held = check
                .prefix
                .map_or("no prefix".to_string(), |k| k.to_string());
            durable.violations.push(format!(
                "{}: by the {} rule the first {} of {} units were owed, the recovered prefix holds {held}; lost: {}",
                restart.name(),
                owed.rule,
                owed.required,
                check.units,
                owed.lost.as_deref().unwrap_or("?")
            ));
        }
    }
    let started = restarts.len() - refused;
    recovery.summary = format!(
        "{} times down, {started} restarts, {retried} refused attempts retried, {refused} final refusals",
        restarts.len()
    );
    prefix.summary = format!("{prefixes}/{started} recovered datasets are a prefix of the lineage");
    integrity.summary = format!("{started} recovered datasets hold only values clients wrote");
    durable.summary = match (durable_off, rules.is_empty()) {
        (Some(reason), _) => format!("off: {reason}"),
        (None, true) => "no restart owed more than prefix".to_string(),
        (None, false) => {
            let checked: Vec<String> = rules.iter().map(|(n, c)| format!("{n} x{c}")).collect();
            format!("checked {}", checked.join(", "))
        }
    };
    vec![recovery, prefix, durable, integrity]
}
