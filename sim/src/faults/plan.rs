//! A run's fault plan: everything it injects, drawn once from the seed's
//! fault stream before the run starts, so the plan can be printed, written
//! out as an explicit schedule, and shrunk.

use serde::Serialize;

use super::spec::{
    CrashChoice, CrashKind, DiskSpec, FailoverTrigger, FaultSpec, FinalCrash, HeldDirection,
    PartitionMode, ScheduledFault, ShutdownChoice, ShutdownHow,
};
use crate::world::rng::{Range, SimRng};

/// Faults of one generator in one run, at most.
pub const FAULTS_PER_GENERATOR_MAX: u64 = 16;
/// Where generator faults fall when neither the generator nor the scenario
/// gives a window.
const DEFAULT_WINDOW_MS: Range = [100, 3000];
/// A crash armed to fall between disk calls dies after at most this many
/// more calls.
pub const DISK_CALLS_BEFORE_DEATH_MAX: u64 = 12;

/// Per-call disk faults and disk behaviour for one run's fault phase.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DiskProfile {
    pub write_error_ppm: u64,
    pub short_write_ppm: u64,
    pub fsync_error_ppm: u64,
    pub fsync_lost_ppm: u64,
    pub read_error_ppm: u64,
    pub metadata_error_ppm: u64,
    pub misdirected_write_ppm: u64,
    pub slow_ppm: u64,
    pub slow_ms_min: u64,
    pub slow_ms_max: u64,
    pub fsync_delay_ms_min: u64,
    pub fsync_delay_ms_max: u64,
    /// Weights of the four outcomes of an unsynced sector at power loss.
    pub sector_weights: [u64; 4],
    pub all_kept_percent: u64,
}

impl DiskProfile {
    /// The knobs that are on, as `name=value` words for the report.
    pub fn describe(&self) -> String {
        let knobs = [
            ("write_error_ppm", self.write_error_ppm),
            ("short_write_ppm", self.short_write_ppm),
            ("fsync_error_ppm", self.fsync_error_ppm),
            ("fsync_lost_ppm", self.fsync_lost_ppm),
            ("read_error_ppm", self.read_error_ppm),
            ("metadata_error_ppm", self.metadata_error_ppm),
            ("misdirected_write_ppm", self.misdirected_write_ppm),
            ("slow_ppm", self.slow_ppm),
        ];
        let mut words: Vec<String> = knobs
            .iter()
            .filter(|(_, value)| *value > 0)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if self.slow_ppm > 0 {
            words.push(format!(
                "slow_ms={}..={}",
                self.slow_ms_min, self.slow_ms_max
            ));
        }
        words.push(format!(
            "fsync_delay_ms={}..={}",
            self.fsync_delay_ms_min, self.fsync_delay_ms_max
        ));
        let [kept, dropped, zeroed, garbage] = self.sector_weights;
        words.push(format!(
            "sectors=kept:{kept},dropped:{dropped},zeroed:{zeroed},garbage:{garbage}"
        ));
        words.push(format!("all_kept_percent={}", self.all_kept_percent));
        words.join(" ")
    }

    /// Whether the disk may lose acknowledged data silently (a lost fsync,
    /// a misdirected write): a single node cannot promise durability then.
    pub fn loses_silently(&self) -> bool {
        self.fsync_lost_ppm > 0 || self.misdirected_write_ppm > 0
    }
}

/// The last crash of a run, once every client finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinalKind {
    Process,
    PowerLoss,
    Shutdown,
}

/// Everything a run injects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FaultPlan {
    /// When the quiet phase starts: every fault stops, the disk heals and
    /// space returns. `None`: the run injects nothing.
    pub quiet_at_ms: Option<u64>,
    /// Writes must be acknowledged within this long after the quiet phase
    /// starts and the node is up.
    pub liveness_ms: u64,
    /// Drift of the node's clocks against simulated time.
    pub drift_ppm: i64,
    pub disk: DiskProfile,
    /// Faults at fixed times, in time order.
    pub schedule: Vec<ScheduledFault>,
    pub final_crash: Option<FinalKind>,
}

impl FaultPlan {
    /// Draws the plan of one run from `spec` on the seed's fault stream.
    /// Draws happen in a fixed order; add new ones at the end.
    pub fn derive(spec: &FaultSpec, rng: &mut SimRng) -> FaultPlan {
        let phase_end_ms = spec.phase_ms.map(|range| rng.pick(range, u64::MAX));
        let window = phase_end_ms.map_or(DEFAULT_WINDOW_MS, |end| [end.min(100), end]);
        let mut schedule = spec.schedule.clone();
        crashes(spec, rng, window, &mut schedule);
        pauses(spec, rng, window, &mut schedule);
        let drawn_drift_ppm = clock(spec, rng, window, &mut schedule);
        let drift_ppm = spec.drift_ppm.unwrap_or(drawn_drift_ppm);
        disk_full(spec, rng, window, &mut schedule);
        shutdowns(spec, rng, window, &mut schedule);
        bit_flips(spec, rng, window, &mut schedule);
        schedule.sort_by_key(ScheduledFault::at_ms);
        let disk = spec
            .disk
            .as_ref()
            .map(|disk| disk_profile(disk, rng))
            .unwrap_or_else(|| disk_profile(&DiskSpec::default(), rng));
        let last_fault_ms = schedule.iter().map(ScheduledFault::at_ms).max();
        let disk_faulty = spec.disk.is_some();
        let quiet_at_ms = match (phase_end_ms, last_fault_ms) {
            (Some(end), _) => Some(end),
            (None, Some(last)) => Some(last + 1),
            (None, None) if disk_faulty => Some(window[1]),
            (None, None) => None,
        };
        let final_crash = spec.final_crash.map(|choice| final_kind(choice, rng));
        FaultPlan {
            quiet_at_ms,
            liveness_ms: spec.liveness_ms,
            drift_ppm,
            disk,
            schedule,
            final_crash,
        }
    }
}

impl FaultPlan {
    /// Draws the partitions of `spec` (on their own stream, `rng`) between
    /// node 0 and its `replicas`, into the schedule. A partition ends by
    /// the quiet phase at the latest. Nothing is drawn without replicas or
    /// a quiet phase.
    pub fn add_partitions(&mut self, spec: &FaultSpec, replicas: u64, rng: &mut SimRng) {
        let (Some(partitions), Some(quiet_ms)) = (&spec.partitions, self.quiet_at_ms) else {
            return;
        };
        if replicas == 0 || partitions.modes.is_empty() {
            return;
        }
        let window = partitions.at_ms.unwrap_or([quiet_ms.min(100), quiet_ms]);
        for _ in 0..count(rng, partitions.count, partitions.enabled_percent) {
            let at_ms = rng.pick(window, quiet_ms);
            let drawn_ms = rng.pick(partitions.duration_ms, u64::MAX);
            let replica = rng.range(1, replicas);
            let mode = partitions.modes[rng.index(partitions.modes.len())];
            let held = if rng.percent(50) {
                HeldDirection::MasterToReplica
            } else {
                HeldDirection::ReplicaToMaster
            };
            self.schedule.push(ScheduledFault::Partition {
                at_ms,
                duration_ms: drawn_ms.min(quiet_ms - at_ms),
                replica,
                mode,
                held: (mode == PartitionMode::OneWay).then_some(held),
            });
        }
        self.schedule.sort_by_key(ScheduledFault::at_ms);
    }
}

impl FaultPlan {
    /// Draws the replica crashes of `spec` (on their own stream, `rng`)
    /// among node 0's `replicas`, into the schedule. Nothing is drawn
    /// without replicas.
    pub fn add_replica_crashes(&mut self, spec: &FaultSpec, replicas: u64, rng: &mut SimRng) {
        let Some(crashes) = &spec.replica_crashes else {
            return;
        };
        if replicas == 0 {
            return;
        }
        let window = match self.quiet_at_ms {
            Some(quiet_ms) => [quiet_ms.min(100), quiet_ms],
            None => DEFAULT_WINDOW_MS,
        };
        for _ in 0..count(rng, crashes.count, crashes.enabled_percent) {
            let at_ms = rng.pick(crashes.at_ms.unwrap_or(window), u64::MAX);
            let replica = rng.range(1, replicas);
            let kind = match crashes.kind {
                CrashChoice::Process => CrashKind::Process,
                CrashChoice::PowerLoss => CrashKind::PowerLoss,
                CrashChoice::Mixed if rng.percent(50) => CrashKind::Process,
                CrashChoice::Mixed => CrashKind::PowerLoss,
            };
            let restart_delay_ms = rng.pick(crashes.restart_delay_ms, u64::MAX);
            self.schedule.push(ScheduledFault::ReplicaCrash {
                at_ms,
                replica,
                kind,
                restart_delay_ms,
            });
        }
        self.schedule.sort_by_key(ScheduledFault::at_ms);
    }
}

impl FaultPlan {
    /// Draws the failovers of `spec` (on their own stream, `rng`) into the
    /// schedule. Nothing is drawn without replicas.
    pub fn add_failovers(&mut self, spec: &FaultSpec, replicas: u64, rng: &mut SimRng) {
        let Some(failovers) = &spec.failovers else {
            return;
        };
        if replicas == 0 || failovers.triggers.is_empty() {
            return;
        }
        let window = match self.quiet_at_ms {
            Some(quiet_ms) => [quiet_ms.min(100), quiet_ms],
            None => DEFAULT_WINDOW_MS,
        };
        for _ in 0..count(rng, failovers.count, failovers.enabled_percent) {
            let at_ms = rng.pick(failovers.at_ms.unwrap_or(window), u64::MAX);
            let trigger = failovers.triggers[rng.index(failovers.triggers.len())];
            let kind = if rng.percent(50) {
                CrashKind::Process
            } else {
                CrashKind::PowerLoss
            };
            self.schedule.push(ScheduledFault::Failover {
                at_ms,
                trigger,
                kind,
                detect_ms: rng.pick(failovers.detect_ms, u64::MAX),
                back_after_ms: rng.pick(failovers.back_after_ms, u64::MAX),
            });
        }
        self.schedule.sort_by_key(ScheduledFault::at_ms);
    }
}

/// How often a planned switchover comes while the link to one replica
/// holds the stream back, in percent.
const SWITCHOVER_LAG_PERCENT: u64 = 75;
/// How long before the SIGTERM that link starts holding, and how long it
/// holds after it: past the operator's promotion, often.
const SWITCHOVER_LAG_LEAD_MS: Range = [20, 500];
const SWITCHOVER_LAG_AFTER_MS: Range = [1500, 6000];

impl FaultPlan {
    /// For each planned switchover (a failover by SIGTERM) in the
    /// schedule, and most of the time, a partition that holds the link to
    /// one replica from a little before the SIGTERM to a while after it
    /// (on its own stream, `rng`): what the master sent last is still in
    /// flight, and the link stays up. Redis 7 then waits for that
    /// replica's acknowledgement before it exits; a master that did not
    /// wait would exit in time, promising what that replica lacks, and the
    /// replica promoted before the held bytes arrive would be without
    /// writes the master acknowledged. (A cut would not show it: the
    /// master stops counting a replica whose link broke, and promises
    /// nothing for it.) The hold ends by the quiet phase at the latest.
    pub fn add_switchover_lag(&mut self, replicas: u64, rng: &mut SimRng) {
        let Some(quiet_ms) = self.quiet_at_ms else {
            return;
        };
        if replicas == 0 {
            return;
        }
        let switchovers: Vec<u64> = self
            .schedule
            .iter()
            .filter_map(|fault| match fault {
                ScheduledFault::Failover {
                    at_ms,
                    trigger: FailoverTrigger::Shutdown,
                    ..
                } => Some(*at_ms),
                _ => None,
            })
            .collect();
        for sigterm_ms in switchovers {
            if !rng.percent(SWITCHOVER_LAG_PERCENT) {
                continue;
            }
            let lead_ms = rng.pick(SWITCHOVER_LAG_LEAD_MS, u64::MAX);
            let after_ms = rng.pick(SWITCHOVER_LAG_AFTER_MS, u64::MAX);
            let replica = rng.range(1, replicas);
            let at_ms = sigterm_ms.saturating_sub(lead_ms);
            if at_ms >= quiet_ms {
                continue;
            }
            self.schedule.push(ScheduledFault::Partition {
                at_ms,
                duration_ms: (lead_ms + after_ms).min(quiet_ms - at_ms),
                replica,
                mode: PartitionMode::Hold,
                held: None,
            });
        }
        self.schedule.sort_by_key(ScheduledFault::at_ms);
    }
}

/// Whether a generator runs in this seed, and how many faults it draws.
fn count(rng: &mut SimRng, count: Range, enabled_percent: u64) -> u64 {
    let enabled = rng.percent(enabled_percent);
    let count = rng.pick(count, FAULTS_PER_GENERATOR_MAX);
    if enabled {
        count
    } else {
        0
    }
}

fn crashes(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) {
    let Some(crashes) = &spec.crashes else {
        return;
    };
    for _ in 0..count(rng, crashes.count, crashes.enabled_percent) {
        let at_ms = rng.pick(crashes.at_ms.unwrap_or(window), u64::MAX);
        let kind = match crashes.kind {
            CrashChoice::Process => CrashKind::Process,
            CrashChoice::PowerLoss => CrashKind::PowerLoss,
            CrashChoice::Mixed if rng.percent(50) => CrashKind::Process,
            CrashChoice::Mixed => CrashKind::PowerLoss,
        };
        let restart_delay_ms = rng.pick(crashes.restart_delay_ms, u64::MAX);
        let between = rng.percent(crashes.between_disk_calls_percent);
        let calls = rng.range(0, DISK_CALLS_BEFORE_DEATH_MAX);
        out.push(ScheduledFault::Crash {
            at_ms,
            kind,
            restart_delay_ms,
            after_disk_calls: between.then_some(calls),
        });
    }
}

fn pauses(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) {
    let Some(pauses) = &spec.pauses else {
        return;
    };
    for _ in 0..count(rng, pauses.count, pauses.enabled_percent) {
        out.push(ScheduledFault::Pause {
            at_ms: rng.pick(pauses.at_ms.unwrap_or(window), u64::MAX),
            duration_ms: rng.pick(pauses.duration_ms, u64::MAX),
        });
    }
}

/// Draws the clock's jumps into `out` and returns its drift.
fn clock(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) -> i64 {
    let Some(clock) = &spec.clock else {
        return 0;
    };
    let enabled = rng.percent(clock.enabled_percent);
    let drift = rng.pick(clock.drift_ppm, 100_000) as i64;
    let drift = if rng.percent(50) { drift } else { -drift };
    let jumps = rng.pick(clock.jumps, FAULTS_PER_GENERATOR_MAX);
    if !enabled {
        return 0;
    }
    for _ in 0..jumps {
        let at_ms = rng.pick(window, u64::MAX);
        let size = rng.pick(clock.jump_ms, u64::MAX / 4) as i64;
        let delta_ms = if rng.percent(clock.backward_percent) {
            -size
        } else {
            size
        };
        out.push(ScheduledFault::ClockJump { at_ms, delta_ms });
    }
    drift
}

fn disk_full(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) {
    let Some(full) = &spec.disk_full else {
        return;
    };
    for _ in 0..count(rng, full.count, full.enabled_percent) {
        out.push(ScheduledFault::DiskFull {
            at_ms: rng.pick(full.at_ms.unwrap_or(window), u64::MAX),
            duration_ms: rng.pick(full.duration_ms, u64::MAX),
            free_bytes: rng.pick(full.free_bytes, u64::MAX),
        });
    }
}

fn shutdowns(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) {
    let Some(shutdowns) = &spec.shutdowns else {
        return;
    };
    for _ in 0..count(rng, shutdowns.count, shutdowns.enabled_percent) {
        let how = match shutdowns.kind {
            ShutdownChoice::Signal => ShutdownHow::Signal,
            ShutdownChoice::Command => ShutdownHow::Command,
            ShutdownChoice::Mixed if rng.percent(50) => ShutdownHow::Signal,
            ShutdownChoice::Mixed => ShutdownHow::Command,
        };
        out.push(ScheduledFault::Shutdown {
            at_ms: rng.pick(shutdowns.at_ms.unwrap_or(window), u64::MAX),
            how,
            restart_delay_ms: rng.pick(shutdowns.restart_delay_ms, u64::MAX),
            power_loss: rng.percent(shutdowns.power_loss_percent),
        });
    }
}

fn bit_flips(spec: &FaultSpec, rng: &mut SimRng, window: Range, out: &mut Vec<ScheduledFault>) {
    let Some(flips) = &spec.bit_flips else {
        return;
    };
    for _ in 0..count(rng, flips.count, flips.enabled_percent) {
        out.push(ScheduledFault::BitFlip {
            at_ms: rng.pick(flips.at_ms.unwrap_or(window), u64::MAX),
            in_file: flips.in_file.clone(),
            while_down: flips.while_down,
        });
    }
}

/// Draws each per-call knob, switching it off with `off_percent`.
fn disk_profile(spec: &DiskSpec, rng: &mut SimRng) -> DiskProfile {
    let mut knob = |range: Range| {
        let off = rng.percent(spec.off_percent);
        let value = rng.pick(range, 1_000_000);
        if off {
            0
        } else {
            value
        }
    };
    let write_error_ppm = knob(spec.write_error_ppm);
    let short_write_ppm = knob(spec.short_write_ppm);
    let fsync_error_ppm = knob(spec.fsync_error_ppm);
    let fsync_lost_ppm = knob(spec.fsync_lost_ppm);
    let read_error_ppm = knob(spec.read_error_ppm);
    let metadata_error_ppm = knob(spec.metadata_error_ppm);
    let misdirected_write_ppm = knob(spec.misdirected_write_ppm);
    let slow_ppm = knob(spec.slow_ppm);
    // Latencies are drawn per operation from these ranges, as given.
    let [slow_ms_min, slow_ms_max] = spec.slow_ms;
    let [fsync_delay_ms_min, fsync_delay_ms_max] = spec.fsync_delay_ms;
    let mut sector_weights = [
        rng.pick(spec.sector_kept, 1000),
        rng.pick(spec.sector_dropped, 1000),
        rng.pick(spec.sector_zeroed, 1000),
        rng.pick(spec.sector_garbage, 1000),
    ];
    if sector_weights.iter().all(|&w| w == 0) {
        sector_weights[1] = 1;
    }
    DiskProfile {
        write_error_ppm,
        short_write_ppm,
        fsync_error_ppm,
        fsync_lost_ppm,
        read_error_ppm,
        metadata_error_ppm,
        misdirected_write_ppm,
        slow_ppm,
        slow_ms_min,
        slow_ms_max,
        fsync_delay_ms_min,
        fsync_delay_ms_max,
        sector_weights,
        all_kept_percent: rng.pick(spec.all_kept_percent, 100),
    }
}

fn final_kind(choice: FinalCrash, rng: &mut SimRng) -> FinalKind {
    match choice {
        FinalCrash::Process => FinalKind::Process,
        FinalCrash::PowerLoss => FinalKind::PowerLoss,
        FinalCrash::Shutdown => FinalKind::Shutdown,
        FinalCrash::Mixed => match rng.range(0, 2) {
            0 => FinalKind::Process,
            1 => FinalKind::PowerLoss,
            _ => FinalKind::Shutdown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::spec::{CrashSpec, PauseSpec};

    fn spec() -> FaultSpec {
        FaultSpec {
            phase_ms: Some([2000, 4000]),
            crashes: Some(CrashSpec {
                count: [1, 3],
                kind: CrashChoice::Mixed,
                at_ms: None,
                restart_delay_ms: [0, 100],
                between_disk_calls_percent: 50,
                enabled_percent: 100,
            }),
            pauses: Some(PauseSpec {
                count: [1, 2],
                at_ms: None,
                duration_ms: [100, 200],
                enabled_percent: 100,
            }),
            disk: Some(DiskSpec {
                off_percent: 50,
                fsync_error_ppm: [1, 1000],
                write_error_ppm: [1, 1000],
                ..DiskSpec::default()
            }),
            ..FaultSpec::default()
        }
    }

    /// A plan is a function of the seed: the same stream gives the same
    /// plan, faults fall inside the fault phase, in time order.
    #[test]
    fn plans_are_seeded_and_inside_the_phase() {
        let spec = spec();
        for seed in 0..50 {
            let plan = FaultPlan::derive(&spec, &mut SimRng::new(seed, 9));
            let again = FaultPlan::derive(&spec, &mut SimRng::new(seed, 9));
            assert_eq!(plan, again, "seed {seed}: the plan must replay");
            let quiet = plan.quiet_at_ms.expect("a fault phase");
            assert!((2000..=4000).contains(&quiet), "seed {seed}: {quiet}");
            let times: Vec<u64> = plan.schedule.iter().map(ScheduledFault::at_ms).collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "sorted: {times:?}");
            assert!(times.iter().all(|&t| t <= quiet), "inside the phase");
        }
    }

    /// Swarm testing: over many seeds, each disk knob is sometimes off and
    /// sometimes on, so combinations vary.
    #[test]
    fn knobs_are_switched_off_for_some_seeds() {
        let spec = spec();
        let plans: Vec<FaultPlan> = (0..200)
            .map(|seed| FaultPlan::derive(&spec, &mut SimRng::new(seed, 9)))
            .collect();
        let on = |f: fn(&DiskProfile) -> u64| plans.iter().filter(|p| f(&p.disk) > 0).count();
        let fsync_on = on(|d| d.fsync_error_ppm);
        let write_on = on(|d| d.write_error_ppm);
        assert!(
            (40..160).contains(&fsync_on),
            "fsync errors on in {fsync_on}/200"
        );
        assert!(
            (40..160).contains(&write_on),
            "write errors on in {write_on}/200"
        );
        let both = plans
            .iter()
            .filter(|p| p.disk.fsync_error_ppm > 0 && p.disk.write_error_ppm > 0)
            .count();
        assert!(both > 0 && both < fsync_on, "combinations vary: {both}");
    }

    /// Partitions draw from their own stream: adding them leaves the rest
    /// of the plan as it was, and each heals by the quiet phase.
    #[test]
    fn partitions_leave_the_plan_alone_and_heal_by_the_quiet_phase() {
        use crate::faults::spec::PartitionSpec;
        let without = spec();
        let mut with = spec();
        with.partitions = Some(PartitionSpec {
            count: [1, 4],
            at_ms: None,
            duration_ms: [100, 90_000],
            modes: vec![
                PartitionMode::Cut,
                PartitionMode::Hold,
                PartitionMode::OneWay,
            ],
            enabled_percent: 100,
        });
        for seed in 0..50 {
            let plain = FaultPlan::derive(&without, &mut SimRng::new(seed, 9));
            let mut plan = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            assert_eq!(plan, plain, "seed {seed}: the same draws before partitions");
            plan.add_partitions(&with, 2, &mut SimRng::new(seed, 10));
            let quiet = plan.quiet_at_ms.expect("a fault phase");
            let partitions: Vec<&ScheduledFault> = plan
                .schedule
                .iter()
                .filter(|f| matches!(f, ScheduledFault::Partition { .. }))
                .collect();
            assert!((1..=4).contains(&partitions.len()), "seed {seed}");
            for fault in partitions {
                let ScheduledFault::Partition {
                    at_ms,
                    duration_ms,
                    replica,
                    mode,
                    held,
                } = fault
                else {
                    unreachable!()
                };
                assert!(at_ms + duration_ms <= quiet, "seed {seed}: {fault:?}");
                assert!((1..=2).contains(replica));
                assert_eq!(held.is_some(), *mode == PartitionMode::OneWay);
            }
            let mut none = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            none.add_partitions(&with, 0, &mut SimRng::new(seed, 10));
            assert_eq!(none, plain, "no replicas, no partitions");
        }
    }

    /// Replica crashes draw from their own stream: adding them leaves the
    /// rest of the plan as it was; each falls in the fault phase on a
    /// replica that exists; none are drawn without replicas.
    #[test]
    fn replica_crashes_leave_the_plan_alone() {
        use crate::faults::spec::ReplicaCrashSpec;
        let without = spec();
        let mut with = spec();
        with.replica_crashes = Some(ReplicaCrashSpec {
            count: [1, 3],
            kind: CrashChoice::Mixed,
            at_ms: None,
            restart_delay_ms: [0, 2000],
            enabled_percent: 100,
        });
        let mut kinds = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let plain = FaultPlan::derive(&without, &mut SimRng::new(seed, 9));
            let mut plan = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            assert_eq!(plan, plain, "seed {seed}: the same draws before");
            plan.add_replica_crashes(&with, 2, &mut SimRng::new(seed, 11));
            let quiet = plan.quiet_at_ms.expect("a fault phase");
            let crashes: Vec<&ScheduledFault> = plan
                .schedule
                .iter()
                .filter(|f| matches!(f, ScheduledFault::ReplicaCrash { .. }))
                .collect();
            assert!((1..=3).contains(&crashes.len()), "seed {seed}");
            for fault in crashes {
                let ScheduledFault::ReplicaCrash {
                    at_ms,
                    replica,
                    kind,
                    restart_delay_ms,
                } = fault
                else {
                    unreachable!()
                };
                assert!(*at_ms <= quiet, "seed {seed}: {fault:?}");
                assert!((1..=2).contains(replica));
                assert!(*restart_delay_ms <= 2000);
                kinds.insert(*kind);
            }
            let mut none = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            none.add_replica_crashes(&with, 0, &mut SimRng::new(seed, 11));
            assert_eq!(none, plain, "no replicas, no replica crashes");
        }
        assert_eq!(kinds.len(), 2, "both kinds drawn");
    }

    /// Failovers draw from their own stream: adding them leaves the rest
    /// of the plan as it was; each falls in the fault phase with a trigger
    /// the spec names and delays in its ranges; none are drawn without
    /// replicas.
    #[test]
    fn failovers_leave_the_plan_alone() {
        use crate::faults::spec::{FailoverSpec, FailoverTrigger};
        let without = spec();
        let mut with = spec();
        with.failovers = Some(FailoverSpec {
            count: [1, 2],
            at_ms: None,
            triggers: vec![FailoverTrigger::Crash, FailoverTrigger::Partition],
            detect_ms: [300, 3000],
            back_after_ms: [0, 5000],
            enabled_percent: 100,
        });
        let mut triggers = std::collections::BTreeSet::new();
        for seed in 0..50 {
            let plain = FaultPlan::derive(&without, &mut SimRng::new(seed, 9));
            let mut plan = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            assert_eq!(plan, plain, "seed {seed}: the same draws before");
            plan.add_failovers(&with, 2, &mut SimRng::new(seed, 12));
            let quiet = plan.quiet_at_ms.expect("a fault phase");
            let failovers: Vec<&ScheduledFault> = plan
                .schedule
                .iter()
                .filter(|f| matches!(f, ScheduledFault::Failover { .. }))
                .collect();
            assert!((1..=2).contains(&failovers.len()), "seed {seed}");
            for fault in failovers {
                let ScheduledFault::Failover {
                    at_ms,
                    trigger,
                    detect_ms,
                    back_after_ms,
                    ..
                } = fault
                else {
                    unreachable!()
                };
                assert!(*at_ms <= quiet, "seed {seed}: {fault:?}");
                assert!((300..=3000).contains(detect_ms), "{fault:?}");
                assert!(*back_after_ms <= 5000, "{fault:?}");
                triggers.insert(format!("{trigger:?}"));
            }
            let mut none = FaultPlan::derive(&with, &mut SimRng::new(seed, 9));
            none.add_failovers(&with, 0, &mut SimRng::new(seed, 12));
            assert_eq!(none, plain, "no replicas, no failovers");
        }
        assert_eq!(triggers.len(), 2, "both triggers drawn");
    }
}
