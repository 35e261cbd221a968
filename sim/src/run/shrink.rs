//! Shrinking a failing run to a small scenario file that replays it.
//!
//! The failing seed runs once more with its clients recorded; its options,
//! its fault plan and every batch each client sent are written out as an
//! explicit scenario (fixed values instead of ranges, a fault schedule
//! instead of generators, client scripts instead of a mix). That file
//! replays the run without drawing any of them from the seed. Then, while
//! the same checker still fails, the shrinker removes what it can, greedily
//! and in this order: scheduled faults, per-call disk faults, the final
//! crash, whole clients, batches of each client (halves, then smaller
//! chunks, ddmin-style), prefilled keys, and time (an earlier quiet phase).
//!
//! Randomness that stays: the network's latencies and splits, the node's
//! own random stream, and the disk's per-call draws. They still come from
//! the seed, so the written file is replayed with the same `--seed`.

use crate::faults::spec::{DiskSpec, FaultSpec, FinalCrash};
use crate::faults::{FaultPlan, FinalKind, ScheduledFault};
use crate::report::{replay_command, Report};
use crate::run::options::RunOptions;
use crate::run::scenario::{NodeSection, Scenario, Topology, Workload};
use crate::run::simulation::Simulation;
use crate::workload::ClientScript;

/// Runs one shrink may try, at most.
pub const SHRINK_RUNS_MAX: u64 = 2000;

/// What a shrink produced.
#[derive(Debug, Clone)]
pub struct Shrunk {
    /// The smallest scenario found that still fails.
    pub scenario: Scenario,
    /// It, as a scenario file.
    pub text: String,
    /// The checkers that fail, in the original run and in the shrunk one.
    pub failing: Vec<String>,
    /// Runs tried.
    pub runs: u64,
    /// The shrunk run's report.
    pub report: Report,
}

/// The required checkers a report fails.
pub fn failing_checkers(report: &Report) -> Vec<String> {
    report
        .verdicts
        .iter()
        .filter(|v| !v.passed && report.required_checkers.iter().any(|n| n == v.name))
        .map(|v| v.name.to_string())
        .collect()
}

struct Shrinker {
    seed: u64,
    failing: Vec<String>,
    runs: u64,
    best: Scenario,
    best_report: Report,
}

impl Shrinker {
    /// Runs `candidate`; keeps it if one of the original checkers still
    /// fails.
    fn try_candidate(&mut self, candidate: Scenario) -> bool {
        if self.runs >= SHRINK_RUNS_MAX || candidate.validate().is_err() {
            return false;
        }
        self.runs += 1;
        let Some(report) = run(self.seed, &candidate) else {
            return false;
        };
        let still = failing_checkers(&report);
        if still.iter().any(|name| self.failing.contains(name)) {
            self.best = candidate;
            self.best_report = report;
            return true;
        }
        false
    }
}

fn run(seed: u64, scenario: &Scenario) -> Option<Report> {
    let options = RunOptions::derive(seed, scenario);
    let simulation = Simulation::new(options).ok()?;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| simulation.run()));
    outcome.ok()
}

/// Shrinks the failing run of `seed` under `scenario`.
pub fn shrink(seed: u64, scenario: &Scenario) -> Result<Shrunk, String> {
    let options = RunOptions::derive(seed, scenario);
    let (report, recorded) = Simulation::new(options.clone())?
        .with_recording()
        .run_recorded();
    let failing = failing_checkers(&report);
    if failing.is_empty() {
        return Err(format!("seed {seed} passes: nothing to shrink"));
    }
    let explicit = explicit_scenario(&options, scenario, recorded);
    let mut shrinker = Shrinker {
        seed,
        failing: failing.clone(),
        runs: 0,
        best: explicit.clone(),
        best_report: report,
    };
    if !shrinker.try_candidate(explicit) {
        return Err(format!(
            "seed {seed} fails {failing:?}, but its explicit form does not; nothing written"
        ));
    }
    loop {
        let before = shrinker.runs;
        let changed = [
            remove_faults(&mut shrinker),
            earlier_faults(&mut shrinker),
            quiet_disk(&mut shrinker),
            drop_final(&mut shrinker),
            remove_clients(&mut shrinker),
            shorten_scripts(&mut shrinker),
            shrink_prefill(&mut shrinker),
            earlier_quiet(&mut shrinker),
        ]
        .contains(&true);
        if !changed || shrinker.runs == before || shrinker.runs >= SHRINK_RUNS_MAX {
            break;
        }
    }
    let text = scenario_text(&shrinker.best, seed, &failing)?;
    Ok(Shrunk {
        scenario: shrinker.best,
        text,
        failing,
        runs: shrinker.runs,
        report: shrinker.best_report,
    })
}

/// The run of `options` written out with nothing left to draw.
fn explicit_scenario(
    options: &RunOptions,
    original: &Scenario,
    scripts: Vec<ClientScript>,
) -> Scenario {
    let fixed = |value: u64| [value, value];
    let workload = &options.workload;
    Scenario {
        name: format!("{}-shrunk-{}", original.name, options.seed),
        description: format!(
            "Shrunk from seed {} of {}: an explicit fault schedule and client scripts.",
            options.seed, original.name
        ),
        // The replicas the seed drew, written out.
        topology: Topology {
            nodes: original.topology.nodes,
            replicas: options.replicas,
            replicas_per_seed: None,
            replica_config: options.replica_config.clone(),
            replica_configs: options.replica_configs.clone(),
        },
        node: NodeSection {
            config: options.node_config.clone(),
            choose: Default::default(),
            hz: fixed(options.node_hz),
            wall_offset_ms: Some(options.wall_offset_ms),
        },
        workload: Workload {
            clients: fixed(options.clients),
            keys: fixed(workload.keys),
            ops_per_client: fixed(workload.ops_per_client),
            pipeline_depth: fixed(workload.pipeline_depth),
            think_ms: fixed(workload.think_ms_max),
            connect_spread_ms: fixed(options.connect_spread_ms),
            disconnect_percent: fixed(workload.disconnect_percent),
            expire_ms_max: fixed(workload.expire_ms_max),
            discard_percent: fixed(workload.discard_percent),
            transaction_retries_max: workload.transaction_retries_max,
            value_bytes_max: fixed(workload.value_bytes_max),
            timeout_ms: fixed(workload.timeout_ms),
            prefill_keys: fixed(options.prefill_keys),
            mix: original.workload.mix.clone(),
            // The scripts hold the applications' clients too; the reader on
            // a replica is no client, and stays.
            apps: crate::workload::apps::AppsSection {
                replica_reads: fixed(u64::from(options.replica_reads)),
                ..Default::default()
            },
            scripts,
        },
        network: crate::run::scenario::Network {
            latency_ms: [options.net.latency_ms_min, options.net.latency_ms_max],
            split_percent: fixed(options.net.split_percent),
            fixed: true,
            peer_split_percent: (options.net.peer_split_percent != options.net.split_percent)
                .then_some(options.net.peer_split_percent),
            peer_bytes_per_ms: (options.net.peer_bytes_per_ms > 0)
                .then_some(options.net.peer_bytes_per_ms),
        },
        faults: explicit_faults(&options.faults),
        expect: original.expect.clone(),
    }
}

/// A plan as a `[faults]` section that draws nothing.
fn explicit_faults(plan: &FaultPlan) -> FaultSpec {
    let fixed = |value: u64| [value, value];
    let disk = &plan.disk;
    let [kept, dropped, zeroed, garbage] = disk.sector_weights;
    FaultSpec {
        phase_ms: plan.quiet_at_ms.map(fixed),
        liveness_ms: plan.liveness_ms,
        final_crash: plan.final_crash.map(|kind| match kind {
            FinalKind::Process => FinalCrash::Process,
            FinalKind::PowerLoss => FinalCrash::PowerLoss,
            FinalKind::Shutdown => FinalCrash::Shutdown,
        }),
        disk: Some(DiskSpec {
            off_percent: 0,
            write_error_ppm: fixed(disk.write_error_ppm),
            short_write_ppm: fixed(disk.short_write_ppm),
            fsync_error_ppm: fixed(disk.fsync_error_ppm),
            fsync_lost_ppm: fixed(disk.fsync_lost_ppm),
            read_error_ppm: fixed(disk.read_error_ppm),
            metadata_error_ppm: fixed(disk.metadata_error_ppm),
            misdirected_write_ppm: fixed(disk.misdirected_write_ppm),
            slow_ppm: fixed(disk.slow_ppm),
            slow_ms: [disk.slow_ms_min, disk.slow_ms_max],
            fsync_delay_ms: [disk.fsync_delay_ms_min, disk.fsync_delay_ms_max],
            sector_kept: fixed(kept),
            sector_dropped: fixed(dropped),
            sector_zeroed: fixed(zeroed),
            sector_garbage: fixed(garbage),
            all_kept_percent: fixed(disk.all_kept_percent),
        }),
        drift_ppm: Some(plan.drift_ppm),
        schedule: plan.schedule.clone(),
        ..FaultSpec::default()
    }
}

fn remove_faults(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    let mut index = shrinker.best.faults.schedule.len();
    while index > 0 {
        index -= 1;
        let mut candidate = shrinker.best.clone();
        candidate.faults.schedule.remove(index);
        changed |= shrinker.try_candidate(candidate);
    }
    changed
}

/// Moves each fault as early as it can go and still fail, trying eighths
/// of its time, earliest first.
fn earlier_faults(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    for index in 0..shrinker.best.faults.schedule.len() {
        let at_ms = shrinker.best.faults.schedule[index].at_ms();
        for eighths in 1..8 {
            let mut candidate = shrinker.best.clone();
            candidate.faults.schedule[index].set_at_ms(at_ms * eighths / 8);
            candidate.faults.schedule.sort_by_key(ScheduledFault::at_ms);
            if shrinker.try_candidate(candidate) {
                changed = true;
                break;
            }
        }
    }
    changed
}

fn quiet_disk(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    let knobs: [fn(&mut DiskSpec) -> &mut [u64; 2]; 9] = [
        |d| &mut d.write_error_ppm,
        |d| &mut d.short_write_ppm,
        |d| &mut d.fsync_error_ppm,
        |d| &mut d.fsync_lost_ppm,
        |d| &mut d.read_error_ppm,
        |d| &mut d.metadata_error_ppm,
        |d| &mut d.misdirected_write_ppm,
        |d| &mut d.slow_ppm,
        |d| &mut d.sector_garbage,
    ];
    for knob in knobs {
        let mut candidate = shrinker.best.clone();
        let Some(disk) = candidate.faults.disk.as_mut() else {
            return changed;
        };
        let value = knob(disk);
        if *value == [0, 0] {
            continue;
        }
        *value = [0, 0];
        changed |= shrinker.try_candidate(candidate);
    }
    changed
}

fn drop_final(shrinker: &mut Shrinker) -> bool {
    if shrinker.best.faults.final_crash.is_none() {
        return false;
    }
    let mut candidate = shrinker.best.clone();
    candidate.faults.final_crash = None;
    shrinker.try_candidate(candidate)
}

fn remove_clients(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    let mut index = shrinker.best.workload.scripts.len();
    while index > 0 && shrinker.best.workload.scripts.len() > 1 {
        index -= 1;
        let mut candidate = shrinker.best.clone();
        candidate.workload.scripts.remove(index);
        let count = candidate.workload.scripts.len() as u64;
        candidate.workload.clients = [count, count];
        changed |= shrinker.try_candidate(candidate);
    }
    changed
}

/// Removes chunks of each client's steps, from half its length down to
/// single steps, last chunks first.
fn shorten_scripts(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    for client in 0..shrinker.best.workload.scripts.len() {
        let mut chunk = shrinker.best.workload.scripts[client]
            .steps
            .len()
            .div_ceil(2);
        while chunk > 0 {
            let mut start = shrinker.best.workload.scripts[client].steps.len();
            while start > 0 {
                start = start.saturating_sub(chunk);
                let mut candidate = shrinker.best.clone();
                let steps = &mut candidate.workload.scripts[client].steps;
                let end = (start + chunk).min(steps.len());
                steps.drain(start..end);
                changed |= shrinker.try_candidate(candidate);
            }
            chunk /= 2;
        }
    }
    changed
}

fn shrink_prefill(shrinker: &mut Shrinker) -> bool {
    let mut changed = false;
    while shrinker.best.workload.prefill_keys[0] > 0 {
        let half = shrinker.best.workload.prefill_keys[0] / 2;
        let mut candidate = shrinker.best.clone();
        candidate.workload.prefill_keys = [half, half];
        if !shrinker.try_candidate(candidate) {
            break;
        }
        changed = true;
    }
    changed
}

/// Moves the quiet phase earlier, towards the last scheduled fault.
fn earlier_quiet(shrinker: &mut Shrinker) -> bool {
    let Some([quiet, _]) = shrinker.best.faults.phase_ms else {
        return false;
    };
    let last_fault = shrinker
        .best
        .faults
        .schedule
        .iter()
        .map(|f| f.at_ms())
        .max()
        .unwrap_or(0);
    let target = last_fault + (quiet.saturating_sub(last_fault)) / 2;
    if target >= quiet {
        return false;
    }
    let mut candidate = shrinker.best.clone();
    candidate.faults.phase_ms = Some([target, target]);
    shrinker.try_candidate(candidate)
}

/// The scenario as a file, with a header saying how to replay it.
fn scenario_text(scenario: &Scenario, seed: u64, failing: &[String]) -> Result<String, String> {
    let body = toml::to_string(scenario).map_err(|e| format!("writing the scenario: {e}"))?;
    Ok(format!(
        "# Written by `redoubt-sim shrink`: seed {seed} fails {}.\n# Replay: {}\n\n{body}",
        failing.join(", "),
        replay_command(seed, Some("<this file>"))
    ))
}
