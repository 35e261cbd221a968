//! A swarm's summary: per scenario, its runs, its guarantees (per checker:
//! runs that checked it, passed, failed; and the checkers left off) and
//! its faults (per kind: injected, runs where it fired, failed runs among
//! those); then every failure with its replay command.
//!
//! The summary is computed from the runs' records alone, so a swarm, a
//! shard, and the merge of shards all summarize the same way, and the merge
//! of a campaign's shards prints what one machine running it would have.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::report::record::{CheckerOff, ScenarioInfo, SeedRecord};

/// The words of the summary, printed once above it.
pub const LEGEND: &str = "\
how to read this:
  run: one seed of one scenario. A run fails when a checker it requires
    fails, or when it panics (a panic fails its run, not the swarm).
  guarantees, per checker: checked = runs that required the checker and got
    its verdict (a crash checker gives none in a run without crashes);
    passed + failed = checked. checkers off: left off by the scenario, with
    the reason; they judge nothing in its runs.
  faults, per kind: injected = faults of that kind that fired, in all runs;
    runs = runs where it fired at least once; failed = those runs that failed.
  recovery paths: taken = how often the node took that path (truncated a
    torn tail, recovered from an fsync error, refused to start, ...), the
    evidence that the faults reached the code they aim at.
";

/// One checker over the runs of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerTally {
    pub checker: String,
    pub checked: u64,
    pub passed: u64,
    pub failed: u64,
}

/// One kind of fault over the runs of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultKindTally {
    pub kind: String,
    pub injected: u64,
    pub runs: u64,
    pub failed_runs: u64,
}

/// The runs of one scenario, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub runs: u64,
    pub passed: u64,
    pub failed: u64,
    /// Failed runs that panicked.
    pub panicked: u64,
    /// The seeds that ran, as ranges (end excluded).
    pub seeds_ran: Vec<Range<u64>>,
    pub guarantees: Vec<CheckerTally>,
    pub checkers_off: Vec<CheckerOff>,
    pub faults: Vec<FaultKindTally>,
    /// Recovery paths, as faults are counted: taken (`injected`), runs
    /// that took it, failed runs among those.
    #[serde(default)]
    pub paths: Vec<FaultKindTally>,
}

/// A swarm's summary: the scenarios in order, then the failed runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub scenarios: Vec<ScenarioSummary>,
    /// The failed runs, by scenario then seed.
    pub failures: Vec<SeedRecord>,
}

/// Summarizes `records`, grouped by the scenarios of `scenarios` (in that
/// order; a record of a scenario not listed gets a group at the end).
pub fn summarize(scenarios: &[ScenarioInfo], records: &[SeedRecord]) -> Summary {
    let mut infos = scenarios.to_vec();
    for record in records {
        if !infos.iter().any(|info| info.name == record.scenario) {
            infos.push(ScenarioInfo {
                name: record.scenario.clone(),
                path: None,
                required_checkers: Vec::new(),
                checkers_off: Vec::new(),
            });
        }
    }
    let mut summary = Summary {
        scenarios: Vec::new(),
        failures: Vec::new(),
    };
    for info in &infos {
        let mut own: Vec<&SeedRecord> =
            records.iter().filter(|r| r.scenario == info.name).collect();
        own.sort_by_key(|record| record.seed);
        summary.scenarios.push(summarize_scenario(info, &own));
        summary
            .failures
            .extend(own.into_iter().filter(|r| !r.passed).cloned());
    }
    summary
}

fn summarize_scenario(info: &ScenarioInfo, records: &[&SeedRecord]) -> ScenarioSummary {
    let failed = records.iter().filter(|r| !r.passed).count() as u64;
    ScenarioSummary {
        scenario: info.name.clone(),
        path: info.path.clone(),
        runs: records.len() as u64,
        passed: records.len() as u64 - failed,
        failed,
        panicked: records.iter().filter(|r| r.panic.is_some()).count() as u64,
        seeds_ran: seed_spans(records.iter().map(|r| r.seed)),
        guarantees: tally_checkers(&info.required_checkers, records),
        checkers_off: info.checkers_off.clone(),
        faults: tally_by_kind(records, |record| &record.faults),
        paths: tally_by_kind(records, |record| &record.paths),
    }
}

/// Per checker: the required ones first, in order, then any other that a
/// record names.
fn tally_checkers(required: &[String], records: &[&SeedRecord]) -> Vec<CheckerTally> {
    let mut tallies: Vec<CheckerTally> = required.iter().map(|name| tally(name)).collect();
    for record in records {
        for name in &record.checked {
            let index = match tallies.iter().position(|t| &t.checker == name) {
                Some(index) => index,
                None => {
                    tallies.push(tally(name));
                    tallies.len() - 1
                }
            };
            let entry = &mut tallies[index];
            entry.checked += 1;
            if record.failed.iter().any(|f| &f.checker == name) {
                entry.failed += 1;
            } else {
                entry.passed += 1;
            }
        }
    }
    tallies
}

fn tally(name: &str) -> CheckerTally {
    CheckerTally {
        checker: name.to_string(),
        checked: 0,
        passed: 0,
        failed: 0,
    }
}

/// Per kind of what `counts` gives of each record (faults, recovery
/// paths), by name.
fn tally_by_kind(
    records: &[&SeedRecord],
    counts: impl Fn(&SeedRecord) -> &BTreeMap<String, u64>,
) -> Vec<FaultKindTally> {
    let mut kinds: BTreeMap<&str, FaultKindTally> = BTreeMap::new();
    for record in records {
        for (kind, &count) in counts(record) {
            let entry = kinds.entry(kind).or_insert_with(|| FaultKindTally {
                kind: kind.clone(),
                injected: 0,
                runs: 0,
                failed_runs: 0,
            });
            entry.injected += count;
            entry.runs += 1;
            entry.failed_runs += u64::from(!record.passed);
        }
    }
    kinds.into_values().collect()
}

/// Sorted, distinct `seeds` as ranges of consecutive seeds (end excluded).
pub fn seed_spans(seeds: impl IntoIterator<Item = u64>) -> Vec<Range<u64>> {
    let mut seeds: Vec<u64> = seeds.into_iter().collect();
    seeds.sort_unstable();
    seeds.dedup();
    let mut spans: Vec<Range<u64>> = Vec::new();
    for seed in seeds {
        match spans.last_mut() {
            Some(span) if span.end == seed => span.end = seed.saturating_add(1),
            _ => spans.push(seed..seed.saturating_add(1)),
        }
    }
    spans
}

/// Spans as text: `0..13, 26..40`, or `none`.
pub fn render_spans(spans: &[Range<u64>]) -> String {
    if spans.is_empty() {
        return "none".to_string();
    }
    let texts: Vec<String> = spans
        .iter()
        .map(|span| format!("{}..{}", span.start, span.end))
        .collect();
    texts.join(", ")
}

impl Summary {
    pub fn runs(&self) -> u64 {
        self.scenarios.iter().map(|s| s.runs).sum()
    }

    pub fn failed(&self) -> u64 {
        self.scenarios.iter().map(|s| s.failed).sum()
    }

    /// The summary as text: the legend, each scenario, the failures with
    /// their replay commands, and the verdict.
    pub fn render(&self) -> String {
        let mut out = String::from(LEGEND);
        for scenario in &self.scenarios {
            out.push('\n');
            render_scenario(&mut out, scenario);
        }
        out.push('\n');
        self.render_failures(&mut out);
        let verdict = match self.failed() {
            0 => format!("PASS ({} runs, all passed)", self.runs()),
            failed => format!("FAIL ({failed} of {} runs failed)", self.runs()),
        };
        let _ = writeln!(out, "verdict: {verdict}");
        out
    }

    fn render_failures(&self, out: &mut String) {
        if self.failures.is_empty() {
            let _ = writeln!(out, "failures: none");
            return;
        }
        let _ = writeln!(out, "failures: {}", self.failures.len());
        for failure in &self.failures {
            let _ = writeln!(
                out,
                "  {} seed {}: {}",
                failure.scenario,
                failure.seed,
                failure.failure_reason()
            );
            let _ = writeln!(out, "    replay: {}", failure.replay);
        }
    }
}

fn render_scenario(out: &mut String, scenario: &ScenarioSummary) {
    let file = scenario.path.as_deref().unwrap_or("built-in");
    let _ = writeln!(
        out,
        "scenario {} ({file}): {} runs, {} passed, {} failed",
        scenario.scenario, scenario.runs, scenario.passed, scenario.failed
    );
    let _ = writeln!(out, "  seeds ran: {}", render_spans(&scenario.seeds_ran));
    if scenario.panicked > 0 {
        let _ = writeln!(out, "  panicked: {} of the failed runs", scenario.panicked);
    }
    let rows: Vec<(&str, [u64; 3])> = scenario
        .guarantees
        .iter()
        .map(|t| (t.checker.as_str(), [t.checked, t.passed, t.failed]))
        .collect();
    render_table(out, "guarantees", ["checked", "passed", "failed"], &rows);
    if scenario.checkers_off.is_empty() {
        let _ = writeln!(out, "  checkers off: none");
    } else {
        let _ = writeln!(out, "  checkers off:");
    }
    for off in &scenario.checkers_off {
        let _ = writeln!(out, "    {}: {}", off.checker, off.reason);
    }
    let rows: Vec<(&str, [u64; 3])> = scenario
        .faults
        .iter()
        .map(|t| (t.kind.as_str(), [t.injected, t.runs, t.failed_runs]))
        .collect();
    render_table(out, "faults", ["injected", "runs", "failed"], &rows);
    let rows: Vec<(&str, [u64; 3])> = scenario
        .paths
        .iter()
        .map(|t| (t.kind.as_str(), [t.injected, t.runs, t.failed_runs]))
        .collect();
    render_table(out, "recovery paths", ["taken", "runs", "failed"], &rows);
}

/// A titled table of named rows of three counts, columns aligned.
fn render_table(out: &mut String, title: &str, columns: [&str; 3], rows: &[(&str, [u64; 3])]) {
    if rows.is_empty() {
        let _ = writeln!(out, "  {title}: none");
        return;
    }
    let name_width = rows
        .iter()
        .map(|(name, _)| name.len() + 2)
        .chain([title.len()])
        .max()
        .unwrap_or(0);
    let _ = write!(out, "  {title:<name_width$}");
    for column in columns {
        let _ = write!(out, " {column:>8}");
    }
    out.push('\n');
    for (name, counts) in rows {
        let _ = write!(out, "    {name:<width$}", width = name_width - 2);
        for count in counts {
            let _ = write!(out, " {count:>8}");
        }
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::record::FailedChecker;

    fn record(seed: u64, faults: &[(&str, u64)], failed: &[&str]) -> SeedRecord {
        SeedRecord {
            seed,
            scenario: "crashy".into(),
            passed: failed.is_empty(),
            trace_hash: Some(format!("{seed:016x}")),
            faults: faults.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
            paths: BTreeMap::new(),
            checked: ["model", "prefix"].map(String::from).to_vec(),
            failed: failed
                .iter()
                .map(|name| FailedChecker {
                    checker: name.to_string(),
                    violation: Some(format!("{name} broke")),
                })
                .collect(),
            panic: None,
            replay: format!("replay {seed}"),
        }
    }

    /// Checkers and fault kinds are counted from the records, under the
    /// names the records give, and failures come out in seed order.
    #[test]
    fn counts_by_checker_and_fault_kind() {
        let info = ScenarioInfo {
            name: "crashy".into(),
            path: Some("crashy.toml".into()),
            required_checkers: ["model", "prefix", "durable"].map(String::from).to_vec(),
            checkers_off: vec![],
        };
        let records = vec![
            record(4, &[("power_loss", 2)], &["prefix"]),
            record(2, &[("power_loss", 1), ("process", 1)], &[]),
            record(3, &[], &[]),
        ];
        let summary = summarize(&[info], &records);
        let scenario = &summary.scenarios[0];
        assert_eq!(
            (scenario.runs, scenario.failed),
            (3, 1),
            "three runs, one failed"
        );
        assert_eq!(scenario.seeds_ran, vec![2..5], "seeds 2, 3, 4 are one span");
        let prefix = &scenario.guarantees[1];
        assert_eq!(
            (prefix.checked, prefix.passed, prefix.failed),
            (3, 2, 1),
            "prefix"
        );
        let durable = &scenario.guarantees[2];
        assert_eq!(
            durable.checked, 0,
            "required but never checked: listed with 0"
        );
        let power_loss = &scenario.faults[0];
        assert_eq!(
            (
                power_loss.kind.as_str(),
                power_loss.injected,
                power_loss.runs,
                power_loss.failed_runs
            ),
            ("power_loss", 3, 2, 1),
            "3 power losses in 2 runs, one of which failed"
        );
        assert_eq!(summary.failures[0].seed, 4, "the failure is seed 4");
        let text = summary.render();
        assert!(
            text.contains("crashy seed 4: prefix: prefix broke"),
            "{text}"
        );
        assert!(
            text.contains("replay: replay 4"),
            "the replay command: {text}"
        );
        assert!(
            text.contains("verdict: FAIL (1 of 3 runs failed)"),
            "{text}"
        );
    }

    /// Seeds compress into spans of consecutive seeds.
    #[test]
    fn spans_of_seeds() {
        assert_eq!(seed_spans([5, 1, 2, 3, 9, 2]), vec![1..4, 5..6, 9..10]);
        assert_eq!(render_spans(&seed_spans([1, 2, 7])), "1..3, 7..8");
        assert_eq!(render_spans(&[]), "none", "no seed ran");
    }
}
