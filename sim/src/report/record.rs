//! What one run leaves in a swarm's report: a [`SeedRecord`], small enough
//! to keep for every seed of a large campaign, and per scenario a
//! [`ScenarioInfo`] with what is the same for all its runs.
//!
//! Checker and fault names are data taken from the runs' reports, never a
//! list kept here: a new checker or fault kind shows up on its own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::report::replay_command;
use crate::run::scenario_files::ScenarioSource;
use crate::Report;

/// One run of a swarm: a seed of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeedRecord {
    pub seed: u64,
    /// The scenario's name.
    pub scenario: String,
    /// Every required checker that gave a verdict passed, and no panic.
    pub passed: bool,
    /// The run's trace hash, 16 hex digits as the run's report prints it;
    /// absent when the run panicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
    /// Faults that fired, by kind: how often.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub faults: BTreeMap<String, u64>,
    /// Recovery paths the node took, by name: how often (those taken only).
    /// The evidence that the faults reached the code they aim at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paths: BTreeMap<String, u64>,
    /// The required checkers that gave a verdict (a crash checker gives
    /// none in a run without crashes).
    #[serde(default)]
    pub checked: Vec<String>,
    /// The required checkers that failed, each with its first violation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedChecker>,
    /// The panic's message and location, when the run panicked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    /// The command that replays this run.
    pub replay: String,
}

/// A required checker that failed in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedChecker {
    pub checker: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
}

impl SeedRecord {
    /// The record of a finished run.
    pub fn of_report(report: &Report) -> SeedRecord {
        let required = |name: &str| report.required_checkers.iter().any(|r| r == name);
        let mut faults = BTreeMap::new();
        for tally in &report.faults {
            *faults.entry(tally.kind.clone()).or_insert(0) += tally.count;
        }
        let verdicts = report.verdicts.iter().filter(|v| required(v.name));
        SeedRecord {
            seed: report.options.seed,
            scenario: report.options.scenario.clone(),
            passed: report.passed(),
            trace_hash: Some(format!("{:016x}", report.trace_hash)),
            faults,
            paths: report
                .paths
                .named()
                .into_iter()
                .chain(
                    report
                        .replication_paths
                        .iter()
                        .flat_map(|paths| paths.named()),
                )
                .filter(|(_, count)| *count > 0)
                .map(|(name, count)| (name.to_string(), count))
                .collect(),
            checked: verdicts.clone().map(|v| v.name.to_string()).collect(),
            failed: verdicts
                .filter(|v| !v.passed)
                .map(|v| FailedChecker {
                    checker: v.name.to_string(),
                    violation: v.violations.first().cloned(),
                })
                .collect(),
            panic: None,
            replay: report.replay_command(),
        }
    }

    /// The record of a run that panicked.
    pub fn of_panic(seed: u64, source: &ScenarioSource, message: &str) -> SeedRecord {
        SeedRecord {
            seed,
            scenario: source.scenario.name.clone(),
            passed: false,
            trace_hash: None,
            faults: BTreeMap::new(),
            paths: BTreeMap::new(),
            checked: Vec::new(),
            failed: Vec::new(),
            panic: Some(message.to_string()),
            replay: replay_command(seed, source.path.as_deref()),
        }
    }

    /// Why the run failed, on one line: the failed checkers with their
    /// first violations, or the panic.
    pub fn failure_reason(&self) -> String {
        if let Some(message) = &self.panic {
            return format!("panic: {}", message.replace('\n', " "));
        }
        let reasons: Vec<String> = self
            .failed
            .iter()
            .map(|failed| match &failed.violation {
                Some(violation) => format!("{}: {violation}", failed.checker),
                None => failed.checker.clone(),
            })
            .collect();
        reasons.join("; ")
    }
}

/// A checker a scenario leaves off, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerOff {
    pub checker: String,
    pub reason: String,
}

/// What is the same for every run of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    /// The file, as named on the command line; absent for the built-in one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The checkers its runs require, in the order the reports give them.
    #[serde(default)]
    pub required_checkers: Vec<String>,
    #[serde(default)]
    pub checkers_off: Vec<CheckerOff>,
}

impl ScenarioInfo {
    /// A scenario before any of its runs reported.
    pub fn of(source: &ScenarioSource) -> ScenarioInfo {
        ScenarioInfo {
            name: source.scenario.name.clone(),
            path: source.path.clone(),
            required_checkers: Vec::new(),
            checkers_off: Vec::new(),
        }
    }

    /// Adds what `report` says of its scenario: its required checkers and
    /// the checkers it leaves off, each once.
    pub fn note(&mut self, report: &Report) {
        for name in &report.required_checkers {
            self.note_required(name);
        }
        for (checker, reason) in &report.checkers_off {
            self.note_off(CheckerOff {
                checker: checker.clone(),
                reason: reason.clone(),
            });
        }
    }

    /// Adds what another report of the same scenario knew.
    pub fn absorb(&mut self, other: &ScenarioInfo) {
        for name in &other.required_checkers {
            self.note_required(name);
        }
        for off in &other.checkers_off {
            self.note_off(off.clone());
        }
    }

    fn note_required(&mut self, name: &str) {
        if !self.required_checkers.iter().any(|known| known == name) {
            self.required_checkers.push(name.to_string());
        }
    }

    fn note_off(&mut self, off: CheckerOff) {
        if !self.checkers_off.contains(&off) {
            self.checkers_off.push(off);
        }
    }
}
