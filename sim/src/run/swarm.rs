//! Many seeds in one process: each seed is a fresh run that shares nothing
//! with the others, so a seed's report is the same in a swarm as alone.
//!
//! The swarm's summary carries the only wall-clock figure of the simulator:
//! its speed, in simulated commands per wall second.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::run_seed;
use crate::run::scenario::Scenario;

/// Threads a swarm may use, at most.
pub const JOBS_MAX: usize = 256;

/// A seed that failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub seed: u64,
    pub replay: String,
    pub reason: String,
}

/// The outcome of a swarm.
#[derive(Debug, Clone)]
pub struct SwarmSummary {
    pub seeds_run: u64,
    pub failures: Vec<Failure>,
    pub commands_simulated: u64,
    pub wall_seconds: f64,
}

impl SwarmSummary {
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("redoubt-sim swarm\n");
        out.push_str(&format!("seeds_run: {}\n", self.seeds_run));
        out.push_str(&format!("failures: {}\n", self.failures.len()));
        for failure in &self.failures {
            out.push_str(&format!("  seed {}: {}\n", failure.seed, failure.reason));
            out.push_str(&format!("    replay: {}\n", failure.replay));
        }
        out.push_str(&format!(
            "commands_simulated: {}\n",
            self.commands_simulated
        ));
        let seconds = self.wall_seconds.max(1e-9);
        out.push_str(&format!("wall_seconds: {:.2}\n", self.wall_seconds));
        out.push_str(&format!(
            "seeds_per_wall_second: {:.1}\n",
            self.seeds_run as f64 / seconds
        ));
        out.push_str(&format!(
            "simulated_commands_per_wall_second: {:.0}\n",
            self.commands_simulated as f64 / seconds
        ));
        out
    }
}

/// Parses `A..B` (B excluded) or `A..=B`.
pub fn parse_seed_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let number = |s: &str| s.trim().parse::<u64>().map_err(|e| format!("{s:?}: {e}"));
    if let Some((start, end)) = text.split_once("..=") {
        return Ok(number(start)?..number(end)?.saturating_add(1));
    }
    if let Some((start, end)) = text.split_once("..") {
        return Ok(number(start)?..number(end)?);
    }
    Err(format!("{text:?}: expected A..B or A..=B"))
}

fn progress_bar(seeds: u64) -> ProgressBar {
    let bar = ProgressBar::new(seeds);
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} seeds {per_sec} eta {eta}")
            .expect("valid template");
        bar.set_style(style);
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// Runs every seed of `seeds` on `jobs` threads.
pub fn run_swarm(
    seeds: std::ops::Range<u64>,
    jobs: usize,
    scenario: &Scenario,
    scenario_path: Option<&str>,
) -> SwarmSummary {
    let started = Instant::now();
    let bar = progress_bar(seeds.end.saturating_sub(seeds.start));
    let next_seed = AtomicU64::new(seeds.start);
    let commands = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, JOBS_MAX) {
            scope.spawn(|| loop {
                let seed = next_seed.fetch_add(1, Ordering::Relaxed);
                if seed >= seeds.end {
                    break;
                }
                let failure = match run_seed(seed, scenario, scenario_path) {
                    Ok(report) => {
                        commands.fetch_add(report.commands_executed, Ordering::Relaxed);
                        (!report.passed()).then(|| Failure {
                            seed,
                            replay: report.replay_command(),
                            reason: failed_checkers(&report),
                        })
                    }
                    Err(error) => Some(Failure {
                        seed,
                        replay: String::new(),
                        reason: error,
                    }),
                };
                if let Some(failure) = failure {
                    failures
                        .lock()
                        .expect("no panics holding the lock")
                        .push(failure);
                }
                bar.inc(1);
            });
        }
    });
    bar.finish_and_clear();
    let mut failures = failures.into_inner().expect("no panics holding the lock");
    failures.sort_by_key(|f| f.seed);
    SwarmSummary {
        seeds_run: seeds.end.saturating_sub(seeds.start),
        failures,
        commands_simulated: commands.into_inner(),
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

fn failed_checkers(report: &crate::Report) -> String {
    let failed: Vec<String> = report
        .verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| match v.violations.first() {
            Some(first) => format!("{} ({first})", v.name),
            None => v.name.to_string(),
        })
        .collect();
    failed.join("; ")
}
