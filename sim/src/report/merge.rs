//! Joins the reports of a campaign's shards into one report, as if one
//! machine had run them all.
//!
//! A seed of a scenario present in two reports is an error that names both
//! files: its runs would be counted twice. Reports that declare the same
//! seed range and shard count are shards of one campaign; a shard none of
//! them ran is a gap, reported with its seeds, and the merged report is
//! then not complete. So is one whose inputs include a swarm that was
//! stopped early.

use std::collections::{BTreeMap, HashMap};

use crate::report::json::{Coverage, Speed, SwarmReport};
use crate::report::record::{ScenarioInfo, SeedRecord};
use crate::report::summary::seed_spans;
use crate::run::swarm::{SeedRange, Shard};

/// Duplicates listed in an error, at most; the rest are counted.
const DUPLICATES_SHOWN_MAX: usize = 20;

/// A report read from a file.
pub struct MergeInput {
    pub file: String,
    pub report: SwarmReport,
}

/// The merged report and what keeps it from being complete.
pub struct Merged {
    pub report: SwarmReport,
    /// Missing shards and inputs that were stopped early, one line each.
    pub gaps: Vec<String>,
}

/// Merges `inputs`; an error lists the seeds (and shards) present twice.
pub fn merge(inputs: &[MergeInput]) -> Result<Merged, String> {
    let mut duplicates = duplicate_seeds(inputs);
    let (covers, shard_duplicates) = merge_covers(inputs);
    duplicates.extend(shard_duplicates);
    if !duplicates.is_empty() {
        return Err(duplicates_error(&duplicates));
    }
    let scenarios = merge_scenarios(inputs);
    let order = |record: &SeedRecord| {
        let scenario = scenarios.iter().position(|s| s.name == record.scenario);
        (scenario, record.seed)
    };
    let mut records: Vec<SeedRecord> = inputs
        .iter()
        .flat_map(|input| input.report.records.iter().cloned())
        .collect();
    records.sort_by_key(order);
    let mut gaps = missing_shards(&covers);
    for input in inputs.iter().filter(|input| !input.report.complete) {
        gaps.push(format!(
            "{}: partial: its swarm stopped before every seed ran",
            input.file
        ));
    }
    let speed = Speed {
        commands_simulated: inputs
            .iter()
            .map(|i| i.report.speed.commands_simulated)
            .sum(),
        simulated_ms: inputs.iter().map(|i| i.report.speed.simulated_ms).sum(),
        wall_seconds: inputs.iter().map(|i| i.report.speed.wall_seconds).sum(),
    };
    let report = SwarmReport::new(covers, gaps.is_empty(), scenarios, records, speed);
    Ok(Merged { report, gaps })
}

/// "seed S of scenario X is in A and B", for each seed present twice.
fn duplicate_seeds(inputs: &[MergeInput]) -> Vec<String> {
    let mut first_file: HashMap<(&str, u64), &str> = HashMap::new();
    let mut duplicates = Vec::new();
    for input in inputs {
        for record in &input.report.records {
            let key = (record.scenario.as_str(), record.seed);
            match first_file.get(&key) {
                Some(first) => duplicates.push(format!(
                    "seed {} of scenario {} is in {first} and in {}",
                    record.seed, record.scenario, input.file
                )),
                None => {
                    first_file.insert(key, &input.file);
                }
            }
        }
    }
    duplicates
}

/// The inputs' coverages, one per distinct (range, shard count) with the
/// union of their shards; and a line for each shard present twice.
fn merge_covers(inputs: &[MergeInput]) -> (Vec<Coverage>, Vec<String>) {
    let mut campaigns: BTreeMap<(u64, u64, u64), BTreeMap<u64, &str>> = BTreeMap::new();
    let mut duplicates = Vec::new();
    for input in inputs {
        for coverage in &input.report.covers {
            let seeds = coverage.seeds;
            let key = (seeds.start, seeds.end, coverage.shard_count);
            let shards = campaigns.entry(key).or_default();
            for &index in &coverage.shards {
                if let Some(first) = shards.insert(index, &input.file) {
                    duplicates.push(format!(
                        "shard {index}/{} of seeds {seeds} is in {first} and in {}",
                        coverage.shard_count, input.file
                    ));
                }
            }
        }
    }
    let covers = campaigns
        .into_iter()
        .map(|((start, end, shard_count), shards)| Coverage {
            seeds: SeedRange { start, end },
            shard_count,
            shards: shards.into_keys().collect(),
        })
        .collect();
    (covers, duplicates)
}

/// A line for each run of consecutive shards that no input covers.
fn missing_shards(covers: &[Coverage]) -> Vec<String> {
    let mut gaps = Vec::new();
    for coverage in covers {
        let present = seed_spans(coverage.shards.iter().copied());
        let mut next = 0;
        let ends = present.iter().map(|span| (span.start, span.end));
        for (start, end) in ends.chain([(coverage.shard_count, coverage.shard_count)]) {
            if next < start {
                gaps.push(missing_line(coverage, next..start));
            }
            next = end;
        }
    }
    gaps
}

fn missing_line(coverage: &Coverage, shards: std::ops::Range<u64>) -> String {
    let count = coverage.shard_count;
    let first = coverage.seeds.shard(Shard {
        index: shards.start,
        count,
    });
    let last = coverage.seeds.shard(Shard {
        index: shards.end - 1,
        count,
    });
    let which = if shards.end - shards.start == 1 {
        format!("shard {}/{count} is", shards.start)
    } else {
        format!("shards {}..{} of {count} are", shards.start, shards.end)
    };
    let seeds = if first.start == last.end {
        "none: the range has fewer seeds than shards".to_string()
    } else {
        format!("{}..{} did not run", first.start, last.end)
    };
    format!(
        "{which} missing from the campaign over seeds {}: seeds {seeds}",
        coverage.seeds
    )
}

/// The scenarios of every input, in order of first appearance, each with
/// what all inputs knew of it.
fn merge_scenarios(inputs: &[MergeInput]) -> Vec<ScenarioInfo> {
    let mut scenarios: Vec<ScenarioInfo> = Vec::new();
    for info in inputs.iter().flat_map(|input| &input.report.scenarios) {
        match scenarios.iter_mut().find(|known| known.name == info.name) {
            Some(known) => known.absorb(info),
            None => scenarios.push(info.clone()),
        }
    }
    scenarios
}

fn duplicates_error(duplicates: &[String]) -> String {
    let mut text = format!(
        "{} duplicates: a seed or shard must be in one report only, or its runs count twice",
        duplicates.len()
    );
    for line in duplicates.iter().take(DUPLICATES_SHOWN_MAX) {
        text.push_str("\n  ");
        text.push_str(line);
    }
    if duplicates.len() > DUPLICATES_SHOWN_MAX {
        text.push_str(&format!(
            "\n  and {} more",
            duplicates.len() - DUPLICATES_SHOWN_MAX
        ));
    }
    text
}
