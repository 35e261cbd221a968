//! Many seeds in one process: each seed is a fresh run that shares nothing
//! with the others, so a seed's report is the same in a swarm as alone.
//!
//! A swarm runs every seed of a [`SeedRange`] that belongs to its
//! [`Shard`], under each of its scenarios. Shards cut the range into `N`
//! contiguous blocks whose sizes differ by at most one seed, so `N`
//! machines that each run one shard run every seed exactly once, and each
//! shard's report covers one plain range of seeds.
//!
//! The runner hands out runs seed by seed (every scenario at seed `s`
//! before any at `s + 1`), so a swarm stopped early has run, for each
//! scenario, a prefix of its seeds. A run that panics is a failed run with
//! the panic's message, and the swarm goes on. A run that cannot start
//! (an error in the scenario's configuration) stops the swarm: every other
//! seed of that scenario would fail the same way.
//!
//! The swarm's speed is the only wall-clock figure of the simulator.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::IsTerminal;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::report::record::{ScenarioInfo, SeedRecord};
use crate::run::run_seed;
use crate::run::scenario_files::ScenarioSource;
use crate::Report;

/// Threads a swarm may use, at most.
pub const JOBS_MAX: usize = 256;

/// The seeds `start..end`, `end` excluded; never empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeedRange {
    pub start: u64,
    pub end: u64,
}

impl SeedRange {
    /// The range `start..end`; an error when it holds no seed.
    pub fn new(start: u64, end: u64) -> Result<SeedRange, String> {
        if start < end {
            return Ok(SeedRange { start, end });
        }
        if start == end {
            return Err(format!(
                "{start}..{end} holds no seed (the end is excluded); \
                 to run seed {start} alone write {start}..={start}"
            ));
        }
        Err(format!(
            "{start}..{end} holds no seed: the start is above the end; \
             did you mean {end}..{start}?"
        ))
    }

    /// Parses `A..B` (B excluded) or `A..=B` (B included).
    pub fn parse(text: &str) -> Result<SeedRange, String> {
        let explain = "expected A..B (B excluded) or A..=B (B included), \
                       A and B whole numbers from 0 to 18446744073709551615";
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("--seeds {text:?}: {part:?} is not a seed: {explain}"))
        };
        let range = if let Some((start, last)) = text.split_once("..=") {
            let (start, last) = (number(start)?, number(last)?);
            let end = last.checked_add(1).ok_or_else(|| {
                format!("--seeds {text:?}: the last seed can be at most 18446744073709551614")
            })?;
            if start > last {
                return Err(format!(
                    "--seeds {text:?}: holds no seed: the start is above the end; \
                     did you mean {last}..={start}?"
                ));
            }
            SeedRange::new(start, end)
        } else if let Some((start, end)) = text.split_once("..") {
            SeedRange::new(number(start)?, number(end)?)
        } else {
            return Err(format!("--seeds {text:?}: {explain}"));
        };
        range.map_err(|reason| format!("--seeds {text:?}: {reason}"))
    }

    /// Seeds in the range.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Never true: a `SeedRange` holds at least one seed.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The seeds of `shard`: block `shard.index` of `shard.count`
    /// contiguous blocks whose sizes differ by at most one. Empty when the
    /// range has fewer seeds than there are shards.
    pub fn shard(&self, shard: Shard) -> std::ops::Range<u64> {
        self.boundary(shard.index, shard.count)..self.boundary(shard.index + 1, shard.count)
    }

    /// Where block `block` of `count` starts: `start + len * block / count`,
    /// computed without overflow.
    fn boundary(&self, block: u64, count: u64) -> u64 {
        let offset = u128::from(self.len()) * u128::from(block) / u128::from(count);
        self.start + offset as u64
    }
}

impl fmt::Display for SeedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

/// Shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole range, unsharded.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N`: shard I (0-based) of N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let explain = "expected I/N, shard I (counted from 0) of N shards, 0 <= I < N";
        let (index, count) = text
            .split_once('/')
            .ok_or_else(|| format!("--shard {text:?}: {explain}"))?;
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("--shard {text:?}: {part:?} is not a number: {explain}"))
        };
        let shard = Shard {
            index: number(index)?,
            count: number(count)?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(format!("--shard {text:?}: {explain}"));
        }
        Ok(shard)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a swarm runs.
pub struct SwarmPlan<'a> {
    pub scenarios: &'a [ScenarioSource],
    pub seeds: SeedRange,
    pub shard: Shard,
    /// Threads, 1 to [`JOBS_MAX`].
    pub jobs: usize,
}

impl SwarmPlan<'_> {
    /// The seeds this swarm runs, under each scenario.
    pub fn shard_seeds(&self) -> std::ops::Range<u64> {
        self.seeds.shard(self.shard)
    }

    /// Runs in the plan: every seed of the shard under every scenario.
    pub fn runs(&self) -> u64 {
        let seeds = self.shard_seeds();
        (seeds.end - seeds.start) * self.scenarios.len() as u64
    }

    /// Run `index` of the plan: (scenario index, seed), seed by seed.
    fn run_at(&self, index: u64) -> (usize, u64) {
        let scenarios = self.scenarios.len() as u64;
        let seed = self.shard_seeds().start + index / scenarios;
        ((index % scenarios) as usize, seed)
    }
}

/// The outcome of a swarm.
#[derive(Debug, Clone)]
pub struct SwarmOutcome {
    /// One record per run made, by scenario (in the plan's order), then seed.
    pub records: Vec<SeedRecord>,
    /// The scenarios, in the plan's order, with what their runs reported.
    pub scenarios: Vec<ScenarioInfo>,
    /// Stopped (Ctrl-C, or a configuration error) before every run of the
    /// plan was made.
    pub interrupted: bool,
    /// A run could not start: the scenario file and the reason.
    pub configuration_error: Option<String>,
    pub commands_simulated: u64,
    /// Simulated time over every run, in milliseconds.
    pub simulated_ms: u64,
    pub wall_seconds: f64,
}

impl SwarmOutcome {
    pub fn passed(&self) -> bool {
        self.records.iter().all(|record| record.passed)
    }
}

/// Runs the plan with [`run_seed`]. Once `stop` is set, no run starts;
/// the runs under way finish.
pub fn run_swarm(plan: &SwarmPlan<'_>, stop: &AtomicBool) -> SwarmOutcome {
    run_swarm_with(plan, stop, |seed, source| {
        run_seed(seed, &source.scenario, source.path.as_deref())
    })
}

/// What the threads of a swarm share.
struct Shared {
    next_run: AtomicU64,
    commands: AtomicU64,
    simulated_ms: AtomicU64,
    finished: Mutex<Vec<(usize, SeedRecord)>>,
    reports_seen: Mutex<Vec<ScenarioInfo>>,
    configuration_error: Mutex<Option<String>>,
}

/// Runs the plan, each run made by `run` (the simulator, or a stand-in in
/// tests). A panic in `run` fails that run alone.
pub fn run_swarm_with<F>(plan: &SwarmPlan<'_>, stop: &AtomicBool, run: F) -> SwarmOutcome
where
    F: Fn(u64, &ScenarioSource) -> Result<Report, String> + Sync,
{
    install_panic_capture();
    let started = Instant::now();
    let bar = progress_bar(plan.runs());
    let shared = Shared {
        next_run: AtomicU64::new(0),
        commands: AtomicU64::new(0),
        simulated_ms: AtomicU64::new(0),
        finished: Mutex::new(Vec::new()),
        reports_seen: Mutex::new(plan.scenarios.iter().map(ScenarioInfo::of).collect()),
        configuration_error: Mutex::new(None),
    };
    std::thread::scope(|scope| {
        for _ in 0..plan.jobs.clamp(1, JOBS_MAX) {
            scope.spawn(|| worker(plan, stop, &run, &shared, &bar));
        }
    });
    bar.finish_and_clear();
    let mut finished = shared
        .finished
        .into_inner()
        .expect("no panic holds the lock");
    finished.sort_by_key(|(scenario, record)| (*scenario, record.seed));
    SwarmOutcome {
        interrupted: (finished.len() as u64) < plan.runs(),
        records: finished.into_iter().map(|(_, record)| record).collect(),
        scenarios: shared
            .reports_seen
            .into_inner()
            .expect("no panic holds the lock"),
        configuration_error: shared
            .configuration_error
            .into_inner()
            .expect("no panic holds the lock"),
        commands_simulated: shared.commands.into_inner(),
        simulated_ms: shared.simulated_ms.into_inner(),
        wall_seconds: started.elapsed().as_secs_f64(),
    }
}

/// One thread of a swarm: takes the next run until none is left or the
/// swarm stops.
fn worker<F>(plan: &SwarmPlan<'_>, stop: &AtomicBool, run: &F, shared: &Shared, bar: &ProgressBar)
where
    F: Fn(u64, &ScenarioSource) -> Result<Report, String> + Sync,
{
    let halted = || {
        stop.load(Ordering::SeqCst)
            || shared
                .configuration_error
                .lock()
                .expect("no panic holds the lock")
                .is_some()
    };
    while !halted() {
        let index = shared.next_run.fetch_add(1, Ordering::SeqCst);
        if index >= plan.runs() {
            break;
        }
        let (scenario, seed) = plan.run_at(index);
        let source = &plan.scenarios[scenario];
        let record = match run_caught(|| run(seed, source)) {
            Ok(Ok(report)) => {
                shared
                    .commands
                    .fetch_add(report.commands_executed, Ordering::Relaxed);
                shared.simulated_ms.fetch_add(
                    report.end_ms.saturating_sub(report.start_ms),
                    Ordering::Relaxed,
                );
                shared.reports_seen.lock().expect("no panic holds the lock")[scenario]
                    .note(&report);
                SeedRecord::of_report(&report)
            }
            Ok(Err(error)) => {
                let error = source.start_error(seed, &error);
                let mut slot = shared
                    .configuration_error
                    .lock()
                    .expect("no panic holds the lock");
                slot.get_or_insert(error);
                break;
            }
            Err(message) => SeedRecord::of_panic(seed, source, &message),
        };
        let mut finished = shared.finished.lock().expect("no panic holds the lock");
        finished.push((scenario, record));
        drop(finished);
        bar.inc(1);
    }
}

thread_local! {
    /// Set while this thread runs a seed: its panics are captured, not printed.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The last panic captured on this thread, as the default hook would
    /// have printed it.
    static CAPTURED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Replaces the panic hook, once per process, with one that captures the
/// message of a panic on a thread running a seed, and hands every other
/// panic to the hook it replaced.
fn install_panic_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if CAPTURING.with(Cell::get) {
                CAPTURED.with(|slot| *slot.borrow_mut() = Some(info.to_string()));
            } else {
                previous(info);
            }
        }));
    });
}

/// Calls `body`; a panic becomes `Err` with its message and location.
fn run_caught<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    CAPTURED.with(|slot| slot.borrow_mut().take());
    CAPTURING.with(|flag| flag.set(true));
    let outcome = catch_unwind(AssertUnwindSafe(body));
    CAPTURING.with(|flag| flag.set(false));
    outcome.map_err(|payload| {
        let captured = CAPTURED.with(|slot| slot.borrow_mut().take());
        captured.unwrap_or_else(|| {
            match (
                payload.downcast_ref::<&str>(),
                payload.downcast_ref::<String>(),
            ) {
                (Some(text), _) => text.to_string(),
                (_, Some(text)) => text.clone(),
                _ => "a panic without a message".to_string(),
            }
        })
    })
}

fn progress_bar(runs: u64) -> ProgressBar {
    let bar = ProgressBar::new(runs);
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{bar:40} {pos}/{len} runs {per_sec} eta {eta}")
            .expect("valid template");
        bar.set_style(style);
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

/// A flag that SIGINT (Ctrl-C) and SIGTERM set. A second signal, once the
/// flag is set, ends the process at once with exit code 130.
pub fn stop_on_interrupt() -> Result<Arc<AtomicBool>, String> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Registered first, so it sees the flag as it was before this
        // signal: set only by an earlier one.
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle signal {signal}: {e}"))?;
    }
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Empty, reversed and malformed ranges are errors that say why.
    #[test]
    fn bad_seed_ranges_are_errors() {
        for (text, says) in [
            ("5..1", "did you mean 1..5"),
            ("5..5", "to run seed 5 alone write 5..=5"),
            ("5..=4", "did you mean 4..=5"),
            ("5", "expected A..B"),
            ("a..5", "\"a\" is not a seed"),
            ("-1..5", "\"-1\" is not a seed"),
            ("1..2..3", "\"2..3\" is not a seed"),
            ("0..=18446744073709551615", "at most 18446744073709551614"),
        ] {
            let error = SeedRange::parse(text).expect_err(text);
            assert!(
                error.contains(says),
                "{text}: the error should say {says:?}: {error}"
            );
        }
    }

    /// Both spellings of a range parse to the same seeds.
    #[test]
    fn seed_ranges_parse() {
        let expected = SeedRange { start: 3, end: 8 };
        assert_eq!(SeedRange::parse("3..8"), Ok(expected), "B is excluded");
        assert_eq!(SeedRange::parse(" 3 ..= 7 "), Ok(expected), "B is included");
        assert_eq!(
            SeedRange::parse("5..=5").map(|r| r.len()),
            Ok(1),
            "one seed"
        );
    }

    /// `I/N` parses only for 0 <= I < N.
    #[test]
    fn shards_parse() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for text in ["3/3", "0/0", "1", "a/3", "1/b", "-1/3"] {
            assert!(Shard::parse(text).is_err(), "{text} is not a shard");
        }
    }

    /// Shards of a range too small for them: the first shards get nothing,
    /// the rest one seed each, and the one-shard case is the whole range.
    #[test]
    fn shard_blocks_small_ranges() {
        let range = SeedRange::new(10, 12).unwrap();
        let blocks: Vec<_> = (0..4)
            .map(|index| range.shard(Shard { index, count: 4 }))
            .collect();
        assert_eq!(
            blocks,
            vec![10..10, 10..11, 11..11, 11..12],
            "sizes differ by one at most"
        );
        assert_eq!(
            range.shard(Shard::WHOLE),
            10..12,
            "one shard is the whole range"
        );
    }

    /// A panic inside a run is caught, with its message, and no hook output.
    #[test]
    fn run_caught_returns_the_panic_message() {
        install_panic_capture();
        let outcome: Result<(), String> = run_caught(|| panic!("seed went wrong: {}", 7));
        let message = outcome.expect_err("the panic is caught");
        assert!(
            message.contains("seed went wrong: 7"),
            "the message: {message}"
        );
        assert!(message.contains("swarm.rs"), "the location: {message}");
        assert_eq!(run_caught(|| 5), Ok(5), "no panic, the value");
    }
}
