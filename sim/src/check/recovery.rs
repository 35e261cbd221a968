//! The verdicts over every crash and restart of a run: recovery (the node
//! started again), prefix and durable, from what [`super::durability`]
//! found at each restart.

use super::durability::RecoveryCheck;
use super::Verdict;
use crate::faults::crash_kind_name;
use crate::world::disk::CrashKind;

/// What the node recovered after a crash, and the checkers' findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Keys loaded, expired ones included.
    pub keys: usize,
    /// The tail cut from the last AOF file: (file, offset, bytes removed).
    pub truncated: Option<(String, u64, u64)>,
    pub check: RecoveryCheck,
}

/// One crash and its restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrashReport {
    /// 1 for the first crash of the run.
    pub number: usize,
    pub crash_ms: u64,
    pub kind: CrashKind,
    pub restart_ms: u64,
    /// What the node recovered, or why it refused to start.
    pub outcome: Result<Recovered, String>,
}

impl CrashReport {
    pub fn name(&self) -> String {
        format!(
            "crash {} at {} ms ({})",
            self.number,
            self.crash_ms,
            crash_kind_name(self.kind)
        )
    }
}

/// The verdicts of the crash checkers: recovery (the node started after
/// every crash), prefix and durable.
pub fn crash_verdicts(crashes: &[CrashReport], refusal_expected: bool) -> Vec<Verdict> {
    let mut recovery = Verdict {
        name: "recovery",
        passed: true,
        summary: String::new(),
        violations: Vec::new(),
    };
    let mut prefix = Verdict {
        name: "prefix",
        ..recovery.clone()
    };
    let mut durable = Verdict {
        name: "durable",
        ..recovery.clone()
    };
    let mut rules: Vec<(&str, u64)> = Vec::new();
    let mut refused = 0;
    let mut prefixes = 0;
    for crash in crashes {
        let recovered = match &crash.outcome {
            Ok(recovered) => recovered,
            Err(reason) => {
                refused += 1;
                recovery.passed &= refusal_expected;
                recovery.violations.push(format!(
                    "{}: the node refused to start: {reason}",
                    crash.name()
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
                    "{}: the recovered dataset ({} keys) is no prefix of the {} units written; {}",
                    crash.name(),
                    recovered.keys,
                    check.units,
                    check.mismatch.as_deref().unwrap_or("")
                ));
            }
        }
        let Some(owed) = &check.durable else {
            continue;
        };
        match rules.iter_mut().find(|(name, _)| *name == owed.rule.name) {
            Some((_, count)) => *count += 1,
            None => rules.push((owed.rule.name, 1)),
        }
        if !owed.passed {
            durable.passed = false;
            let held = check
                .prefix
                .map_or("no prefix".to_string(), |k| k.to_string());
            durable.violations.push(format!(
                "{}: under {} the first {} of {} units were owed, the recovered prefix holds {held}; lost: {}",
                crash.name(),
                owed.rule.name,
                owed.required,
                check.units,
                owed.lost.as_deref().unwrap_or("?")
            ));
        }
    }
    let restarts = crashes.len() - refused;
    recovery.summary = format!(
        "{} crashes, {restarts} restarts, {refused} refused to start",
        crashes.len()
    );
    prefix.summary =
        format!("{prefixes}/{restarts} recovered datasets are a prefix of the write log");
    durable.summary = if rules.is_empty() {
        "no crash owed more than prefix".to_string()
    } else {
        let checked: Vec<String> = rules.iter().map(|(n, c)| format!("{n} x{c}")).collect();
        format!("checked {}", checked.join(", "))
    };
    vec![recovery, prefix, durable]
}
