//! The JSON report a swarm (or one shard of a campaign) writes, and that
//! `redoubt-sim merge` reads back. One object:
//!
//! ```text
//! {
//!   "format": "redoubt-sim-swarm/1",
//!   "covers": [{"seeds": {"start": 0, "end": 40}, "shard_count": 3, "shards": [1]}],
//!   "complete": true,
//!   "scenarios": [{"name": "smoke", "path": "scenarios/smoke.toml",
//!                  "required_checkers": [...], "checkers_off": [{"checker", "reason"}]}],
//!   "summary": [{"scenario", "path", "runs", "passed", "failed", "panicked",
//!                "seeds_ran": [{"start", "end"}],
//!                "guarantees": [{"checker", "checked", "passed", "failed"}],
//!                "checkers_off": [...],
//!                "faults": [{"kind", "injected", "runs", "failed_runs"}],
//!                "paths": [{"kind", "injected", "runs", "failed_runs"}]}],
//!   "speed": {"commands_simulated": 40799, "wall_seconds": 0.08},
//!   "records": [
//!     {"seed": 13, "scenario": "smoke", "passed": true, "trace_hash": "57060e692e82d4ce",
//!      "faults": {"power_loss": 1}, "paths": {"aof_tails_truncated": 1}, "checked": ["reply_integrity", "model", "liveness"],
//!      "failed": [{"checker": "model", "violation": "..."}], "panic": "...",
//!      "replay": "cargo run --release -p redoubt-sim -- run --seed 13 --scenario scenarios/smoke.toml"},
//!     ...
//!   ]
//! }
//! ```
//!
//! `covers` says which seeds the report was meant to run: a range (end
//! excluded), cut into `shard_count` shards, of which it ran `shards`; a
//! merged report has one entry per distinct range and shard count.
//! `complete` is false when a swarm was stopped early or a merge lacks a
//! shard. `summary` is derived from `records` (a merge recomputes it).
//! In a record, `faults`, `paths`, `failed`, `panic` and `trace_hash` are left out
//! when empty. Records come one per line, by scenario then seed.

use serde::{Deserialize, Serialize};

use crate::report::record::{ScenarioInfo, SeedRecord};
use crate::report::summary::{render_spans, summarize, ScenarioSummary, Summary};
use crate::run::swarm::{SeedRange, Shard, SwarmOutcome};

/// The value of `format` this version writes and reads.
pub const FORMAT: &str = "redoubt-sim-swarm/1";

/// A swarm's report as its JSON file holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwarmReport {
    pub format: String,
    pub covers: Vec<Coverage>,
    pub complete: bool,
    pub scenarios: Vec<ScenarioInfo>,
    pub summary: Vec<ScenarioSummary>,
    pub speed: Speed,
    pub records: Vec<SeedRecord>,
}

/// Which seeds a report was meant to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coverage {
    pub seeds: SeedRange,
    pub shard_count: u64,
    /// The shards run, sorted.
    pub shards: Vec<u64>,
}

/// The simulator's speed: summed over the shards of a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Speed {
    pub commands_simulated: u64,
    /// Simulated time over every run (absent in older reports).
    #[serde(default)]
    pub simulated_ms: u64,
    pub wall_seconds: f64,
}

impl SwarmReport {
    /// The report of a swarm that ran shard `shard` of `seeds`.
    pub fn of_swarm(outcome: &SwarmOutcome, seeds: SeedRange, shard: Shard) -> SwarmReport {
        SwarmReport::new(
            vec![Coverage {
                seeds,
                shard_count: shard.count,
                shards: vec![shard.index],
            }],
            !outcome.interrupted,
            outcome.scenarios.clone(),
            outcome.records.clone(),
            Speed {
                commands_simulated: outcome.commands_simulated,
                simulated_ms: outcome.simulated_ms,
                wall_seconds: outcome.wall_seconds,
            },
        )
    }

    /// A report over `records`, with its summary computed from them.
    pub fn new(
        covers: Vec<Coverage>,
        complete: bool,
        scenarios: Vec<ScenarioInfo>,
        records: Vec<SeedRecord>,
        speed: Speed,
    ) -> SwarmReport {
        let summary = summarize(&scenarios, &records).scenarios;
        SwarmReport {
            format: FORMAT.to_string(),
            covers,
            complete,
            scenarios,
            summary,
            speed,
            records,
        }
    }

    /// The summary of the records.
    pub fn summary(&self) -> Summary {
        summarize(&self.scenarios, &self.records)
    }

    /// Whether every run recorded passed.
    pub fn passed(&self) -> bool {
        self.records.iter().all(|record| record.passed)
    }

    /// The report as text under `title`: what it covers, whether it is
    /// complete, then the summary.
    pub fn render(&self, title: &str) -> String {
        let mut out = format!("{title}\n");
        for coverage in &self.covers {
            out.push_str(&format!("seeds: {}\n", coverage.render()));
        }
        let names: Vec<&str> = self.scenarios.iter().map(|s| s.name.as_str()).collect();
        out.push_str(&format!("scenarios: {}\n", names.join(", ")));
        if self.complete {
            out.push_str("state: complete: every seed it covers ran under every scenario\n");
        } else {
            out.push_str(
                "state: PARTIAL: some seeds of the range did not run (stopped early, \
                 or a shard is missing); the counts below cover only the seeds \
                 under \"seeds ran\"\n",
            );
        }
        out.push_str(&self.summary().render());
        if !self.complete {
            out.push_str("state: PARTIAL: the verdict covers only the seeds that ran\n");
        }
        out
    }

    /// The speed as text, under `heading`.
    pub fn render_speed(&self, heading: &str) -> String {
        let speed = &self.speed;
        let seconds = speed.wall_seconds.max(1e-9);
        let runs = self.records.len() as f64;
        format!(
            "{heading}\n  commands_simulated: {}\n  wall_seconds: {:.2}\n  \
             runs_per_wall_second: {:.1}\n  simulated_commands_per_wall_second: {:.0}\n  \
             simulated_seconds_per_wall_second: {:.1}\n",
            speed.commands_simulated,
            speed.wall_seconds,
            runs / seconds,
            speed.commands_simulated as f64 / seconds,
            speed.simulated_ms as f64 / 1000.0 / seconds
        )
    }

    /// The report as JSON: one field per line, one record per line.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        field(&mut out, "format", &self.format);
        field(&mut out, "covers", &self.covers);
        field(&mut out, "complete", &self.complete);
        list(&mut out, "scenarios", &self.scenarios);
        list(&mut out, "summary", &self.summary);
        field(&mut out, "speed", &self.speed);
        list(&mut out, "records", &self.records);
        out.truncate(out.len() - ",\n".len());
        out.push_str("\n}\n");
        out
    }

    /// Parses a report; `file` names it in errors.
    pub fn from_json(file: &str, text: &str) -> Result<SwarmReport, String> {
        let report: SwarmReport = serde_json::from_str(text)
            .map_err(|e| format!("{file}: not a redoubt-sim swarm report: {e}"))?;
        if report.format != FORMAT {
            return Err(format!(
                "{file}: format {:?}, but this redoubt-sim reads {FORMAT:?}",
                report.format
            ));
        }
        report.check_covers().map_err(|e| format!("{file}: {e}"))?;
        Ok(report)
    }

    /// Every coverage names a non-empty range and shards that exist.
    fn check_covers(&self) -> Result<(), String> {
        for coverage in &self.covers {
            let seeds = coverage.seeds;
            SeedRange::new(seeds.start, seeds.end).map_err(|e| format!("covers: {e}"))?;
            let count = coverage.shard_count;
            if count == 0 {
                return Err("covers: a shard count of 0".to_string());
            }
            if let Some(index) = coverage.shards.iter().find(|&&index| index >= count) {
                return Err(format!("covers: shard {index} of {count} does not exist"));
            }
        }
        Ok(())
    }

    /// Reads a report file; errors name the file.
    pub fn read(file: &str) -> Result<SwarmReport, String> {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        SwarmReport::from_json(file, &text)
    }
}

impl Coverage {
    /// `0..40`, `0..40 (all 3 shards)`, or `0..40, shard 1 of 3 (13..26)`.
    pub fn render(&self) -> String {
        if self.shard_count == 1 {
            return self.seeds.to_string();
        }
        if self.shards.len() as u64 == self.shard_count {
            return format!("{} (all {} shards)", self.seeds, self.shard_count);
        }
        let mut spans: Vec<std::ops::Range<u64>> = Vec::new();
        for &index in &self.shards {
            let count = self.shard_count;
            let seeds = self.seeds.shard(Shard { index, count });
            match spans.last_mut() {
                _ if seeds.is_empty() => {}
                Some(last) if last.end == seeds.start => last.end = seeds.end,
                _ => spans.push(seeds),
            }
        }
        let indexes: Vec<String> = self.shards.iter().map(u64::to_string).collect();
        let shard = if self.shards.len() == 1 {
            "shard"
        } else {
            "shards"
        };
        format!(
            "{}, {shard} {} of {} (seeds {})",
            self.seeds,
            indexes.join(", "),
            self.shard_count,
            render_spans(&spans)
        )
    }
}

fn field(out: &mut String, name: &str, value: &impl Serialize) {
    let value = serde_json::to_string(value).expect("a report serializes");
    out.push_str(&format!("  {name:?}: {value},\n"));
}

fn list<T: Serialize>(out: &mut String, name: &str, items: &[T]) {
    if items.is_empty() {
        out.push_str(&format!("  {name:?}: [],\n"));
        return;
    }
    out.push_str(&format!("  {name:?}: [\n"));
    for (index, item) in items.iter().enumerate() {
        let value = serde_json::to_string(item).expect("a report serializes");
        let comma = if index + 1 < items.len() { "," } else { "" };
        out.push_str(&format!("    {value}{comma}\n"));
    }
    out.push_str("  ],\n");
}
