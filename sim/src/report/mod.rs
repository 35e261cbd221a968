//! The run report: stable across machines (no wall-clock time, no paths
//! beyond the scenario name given on the command line), so it can be
//! snapshot-tested and diffed between runs of the same seed.
//!
//! A swarm's outputs are built on the reports of its runs: [`record`] (what
//! one run leaves in a swarm's report), [`summary`] (counts by scenario,
//! checker and fault kind, and the failures, as text), [`json`] (the file a
//! swarm or shard writes), [`merge`] (shards' files joined into one), and
//! [`junit`] (JUnit XML for CI systems).

use std::fmt::Write;

pub mod json;
pub mod junit;
pub mod merge;
pub mod record;
pub mod summary;

use crate::check::recovery::CrashReport;
use crate::check::Verdict;
use crate::run::options::RunOptions;
use crate::workload::ops::OpKind;
use crate::workload::ClientStats;

/// Everything a finished run reports.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: RunOptions,
    /// The scenario file as named on the command line, if any.
    pub scenario_path: Option<String>,
    pub client_totals: ClientStats,
    pub start_ms: u64,
    pub end_ms: u64,
    pub events_processed: u64,
    pub commands_executed: u64,
    pub expirations: u64,
    pub connections: u64,
    pub verdicts: Vec<Verdict>,
    /// Names of the checkers the scenario requires to pass.
    pub required_checkers: Vec<String>,
    /// Crashes and restarts, in order.
    pub crashes: Vec<CrashReport>,
    /// How often each kind of fault fired in this run, by the names the
    /// summary and scenario files use; kinds that never fired are absent.
    pub faults: Vec<FaultTally>,
    /// Checkers the scenario leaves off, each with the reason.
    pub checkers_off: Vec<(String, String)>,
    pub trace_hash: u64,
}

/// The command that replays `seed` under the scenario file `scenario_path`
/// (the built-in scenario when `None`).
pub fn replay_command(seed: u64, scenario_path: Option<&str>) -> String {
    let mut command = format!("cargo run --release -p redoubt-sim -- run --seed {seed}");
    if let Some(path) = scenario_path {
        write!(command, " --scenario {path}").expect("write to String");
    }
    command
}

/// One kind of fault and how often it fired in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultTally {
    pub kind: String,
    pub count: u64,
}

impl Report {
    /// Whether every required checker passed.
    pub fn passed(&self) -> bool {
        self.verdicts
            .iter()
            .filter(|v| self.required(v))
            .all(|v| v.passed)
    }

    fn required(&self, verdict: &Verdict) -> bool {
        self.required_checkers
            .iter()
            .any(|name| name == verdict.name)
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        replay_command(self.options.seed, self.scenario_path.as_deref())
    }

    /// The report as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_header(&mut out);
        self.render_operations(&mut out);
        self.render_timeline(&mut out);
        self.render_checkers(&mut out);
        writeln!(out, "trace_hash: {:016x}", self.trace_hash).expect("write to String");
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        writeln!(out, "verdict: {verdict}").expect("write to String");
        if !self.passed() {
            writeln!(out, "replay: {}", self.replay_command()).expect("write to String");
        }
        out
    }

    fn render_header(&self, out: &mut String) {
        let _ = writeln!(out, "redoubt-sim run");
        let _ = writeln!(out, "seed: {}", self.options.seed);
        let _ = writeln!(out, "scenario: {}", self.options.scenario);
        let _ = writeln!(out, "options:");
        for (name, value) in self.options.describe() {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }

    fn render_operations(&self, out: &mut String) {
        let totals = &self.client_totals;
        let _ = writeln!(out, "operations:");
        for (kind, count) in OpKind::ALL.iter().zip(&totals.ops_by_kind) {
            if *count > 0 {
                let _ = writeln!(out, "  {}: {count}", kind.name());
            }
        }
        let _ = writeln!(out, "requests:");
        let _ = writeln!(out, "  sent: {}", totals.requests_sent);
        let _ = writeln!(out, "  replies: {}", totals.replies_received);
        let _ = writeln!(out, "  error_replies: {}", totals.error_replies);
        let _ = writeln!(
            out,
            "  transactions_committed: {}",
            totals.transactions_committed
        );
        let _ = writeln!(
            out,
            "  transactions_retried: {}",
            totals.transactions_retried
        );
        let _ = writeln!(
            out,
            "  transactions_given_up: {}",
            totals.transactions_given_up
        );
        let _ = writeln!(
            out,
            "  transactions_discarded: {}",
            totals.transactions_discarded
        );
        let _ = writeln!(out, "  reconnects: {}", totals.reconnects);
    }

    fn render_timeline(&self, out: &mut String) {
        let _ = writeln!(out, "timeline:");
        let _ = writeln!(out, "  start_ms: {}", self.start_ms);
        let _ = writeln!(out, "  end_ms: {}", self.end_ms);
        let _ = writeln!(out, "  events_processed: {}", self.events_processed);
        let _ = writeln!(out, "  connections: {}", self.connections);
        let _ = writeln!(out, "  commands_executed: {}", self.commands_executed);
        let _ = writeln!(out, "  keys_expired: {}", self.expirations);
        if self.options.crashes.is_empty() {
            let _ = writeln!(out, "faults: none");
        } else {
            self.render_crashes(out);
        }
    }

    fn render_crashes(&self, out: &mut String) {
        let _ = writeln!(out, "faults:");
        let _ = writeln!(
            out,
            "  crashes: {} planned, {} restarted",
            self.options.crashes.len(),
            self.crashes.len()
        );
        for crash in &self.crashes {
            let _ = writeln!(
                out,
                "  - {}, restart at {} ms",
                crash.name(),
                crash.restart_ms
            );
            let recovered = match &crash.outcome {
                Ok(recovered) => recovered,
                Err(reason) => {
                    let _ = writeln!(out, "    refused to start: {reason}");
                    continue;
                }
            };
            let _ = writeln!(out, "    keys_recovered: {}", recovered.keys);
            let truncated = match &recovered.truncated {
                Some((file, offset, bytes)) => {
                    format!("{bytes} bytes at offset {offset} of {file}")
                }
                None => "0".to_string(),
            };
            let _ = writeln!(out, "    aof_load_truncated_bytes: {truncated}");
            let check = &recovered.check;
            let prefix = match check.prefix {
                Some(k) => format!(
                    "k = {k} of {} units ({} lost)",
                    check.units,
                    check.units - k
                ),
                None => format!("none of {} units matches: FAIL", check.units),
            };
            let _ = writeln!(out, "    prefix: {prefix}");
            let durable = match &check.durable {
                None => "not owed (prefix only)".to_string(),
                Some(owed) => format!(
                    "{}: {} units owed: {}",
                    owed.rule.name,
                    owed.required,
                    if owed.passed { "pass" } else { "FAIL" }
                ),
            };
            let _ = writeln!(out, "    durable: {durable}");
        }
    }

    fn render_checkers(&self, out: &mut String) {
        let _ = writeln!(out, "checkers:");
        for verdict in &self.verdicts {
            let outcome = match (verdict.passed, self.required(verdict)) {
                (true, _) => "pass",
                (false, true) => "FAIL",
                (false, false) => "fail (not required)",
            };
            let _ = writeln!(out, "  {}: {outcome}: {}", verdict.name, verdict.summary);
            for violation in &verdict.violations {
                let _ = writeln!(out, "    - {violation}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{run_seed, Scenario};

    /// A failed required checker fails the run and prints the replay
    /// command; a passing run prints none.
    #[test]
    fn failing_report_prints_replay() {
        let mut report = run_seed(3, &Scenario::default(), Some("scenarios/smoke.toml")).unwrap();
        assert!(report.passed());
        assert!(!report.render().contains("replay:"));
        report.verdicts[0].passed = false;
        let text = report.render();
        assert!(!report.passed());
        assert!(text.contains(
            "replay: cargo run --release -p redoubt-sim -- run --seed 3 --scenario scenarios/smoke.toml"
        ));
    }
}
