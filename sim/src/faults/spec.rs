//! The `[faults]` section of a scenario file: fault generators, each a set
//! of ranges a seed draws from, and an explicit schedule.
//!
//! Swarm testing, the way TigerBeetle's VOPR does it: every generator has
//! an `enabled_percent`, the chance that a seed turns it on at all, and
//! every per-call disk knob is switched off for a seed with the chance
//! `disk.off_percent`. So each seed runs its own combination of faults and
//! rare combinations come up across a swarm.
//!
//! ```toml
//! [faults]
//! phase_ms = [3000, 8000]      # faults happen in this first stretch; the quiet phase follows
//! crashes = { count = [1, 2], kind = "mixed", between_disk_calls_percent = 50 }
//! pauses = { count = [0, 2], duration_ms = [500, 5000] }
//! clock = { drift_ppm = [0, 500], jumps = [0, 2], jump_ms = [1000, 60000] }
//! disk_full = { count = [0, 2], duration_ms = [200, 3000], free_bytes = [0, 512] }
//! shutdowns = { count = [0, 1], kind = "mixed" }
//! partitions = { count = [1, 4], duration_ms = [500, 70000], modes = ["cut", "hold", "one_way"] }
//! replica_crashes = { count = [1, 3], kind = "mixed", restart_delay_ms = [0, 2000] }
//!
//! [faults.disk]
//! off_percent = 30
//! fsync_error_ppm = [0, 20000]
//!
//! [[faults.schedule]]           # explicit faults, on top of what generators draw
//! fault = "crash"
//! at_ms = 1200
//! kind = "power_loss"
//! ```

use serde::{Deserialize, Serialize};

use crate::world::rng::Range;

/// The `[faults]` section.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// How long the fault phase lasts; every fault stops after it (the
    /// disk heals, space returns). Default: the run has no quiet phase
    /// to speak of (faults may come until the end of the generators'
    /// windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_ms: Option<Range>,
    /// After the quiet phase starts (and the node is up), writes must be
    /// acknowledged again within this bound.
    #[serde(default = "default_liveness_ms")]
    pub liveness_ms: u64,
    /// How the run ends: a last crash or shutdown, then a restart whose
    /// recovered dataset is judged. Default: a clean end, no last crash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_crash: Option<FinalCrash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crashes: Option<CrashSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pauses: Option<PauseSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_full: Option<DiskFullSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shutdowns: Option<ShutdownSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bit_flips: Option<BitFlipSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskSpec>,
    /// Network partitions between node 0 and its replicas (needs
    /// `phase_ms`: every partition heals when the quiet phase starts).
    /// Drawn from a stream of their own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<PartitionSpec>,
    /// Crashes of replicas (nodes 1..), each followed by a restart on the
    /// replica's disk with its configuration. Drawn from a stream of their
    /// own, only for seeds with replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replica_crashes: Option<ReplicaCrashSpec>,
    /// Failovers by an operator: the master is lost (a crash, or a cut
    /// from its replicas but not from its clients), and after a detection
    /// delay the replica furthest ahead is promoted. Drawn from a stream
    /// of their own, only for seeds with replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failovers: Option<FailoverSpec>,
    /// The node's clock drift, fixed (what `shrink` writes); otherwise the
    /// clock generator draws it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_ppm: Option<i64>,
    /// Faults at fixed times, added to what the generators draw.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedule: Vec<ScheduledFault>,
}

/// The default liveness bound: a failed save stopping writes is retried
/// after 5 s (Redis's delay), plus cron ticks and fsyncs.
fn default_liveness_ms() -> u64 {
    10_000
}

fn always() -> u64 {
    100
}

/// Which crashes a run injects.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum CrashChoice {
    /// The process dies; the page cache survives.
    Process,
    /// The machine loses power; only durable data survives.
    PowerLoss,
    /// Each crash picks one of the two.
    Mixed,
}

/// How the run ends, after every client finished.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FinalCrash {
    Process,
    PowerLoss,
    /// SIGTERM, the node exits cleanly, then the machine loses power.
    Shutdown,
    /// One of the three, drawn per seed.
    Mixed,
}

/// Node crashes, each followed by a restart on the same disk.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct CrashSpec {
    pub count: Range,
    pub kind: CrashChoice,
    /// When each crash comes; default: within the fault phase.
    #[serde(default)]
    pub at_ms: Option<Range>,
    #[serde(default = "default_restart_delay_ms")]
    pub restart_delay_ms: Range,
    /// Chance that a crash falls between two disk calls of an event-loop
    /// iteration (the process dies after a few more disk calls) rather
    /// than between iterations.
    #[serde(default)]
    pub between_disk_calls_percent: u64,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

fn default_restart_delay_ms() -> Range {
    [0, 500]
}

/// The node stops for a while (SIGSTOP, a long GC) and resumes; events
/// for it wait.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PauseSpec {
    pub count: Range,
    #[serde(default)]
    pub at_ms: Option<Range>,
    pub duration_ms: Range,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

/// The node's clocks: drift against simulated time, and wall-clock jumps.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// Drift in parts per million, either way (the sign is drawn).
    #[serde(default)]
    pub drift_ppm: Range,
    /// Wall-clock jumps in the fault phase.
    #[serde(default)]
    pub jumps: Range,
    /// Size of a jump; its direction is drawn.
    #[serde(default)]
    pub jump_ms: Range,
    /// Chance that a jump goes backwards.
    #[serde(default = "half")]
    pub backward_percent: u64,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

fn half() -> u64 {
    50
}

fn is_false(value: &bool) -> bool {
    !value
}

/// The disk fills up, then space returns.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DiskFullSpec {
    pub count: Range,
    #[serde(default)]
    pub at_ms: Option<Range>,
    /// How long until space returns.
    pub duration_ms: Range,
    /// Bytes left free when the disk fills (writes beyond are short).
    #[serde(default)]
    pub free_bytes: Range,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

/// How a shutdown is asked for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownChoice {
    /// SIGTERM from the supervisor.
    Signal,
    /// A client sends SHUTDOWN.
    Command,
    Mixed,
}

/// Shutdowns at seeded moments, each followed by a restart.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSpec {
    pub count: Range,
    pub kind: ShutdownChoice,
    #[serde(default)]
    pub at_ms: Option<Range>,
    #[serde(default = "default_restart_delay_ms")]
    pub restart_delay_ms: Range,
    /// Chance that the machine also loses power while the node is down.
    #[serde(default = "half")]
    pub power_loss_percent: u64,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

/// How a partition breaks the connections between two nodes.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum PartitionMode {
    /// The connections between the two nodes are reset (each side hears
    /// the close after one latency) and connects between them are refused
    /// until the partition heals.
    Cut,
    /// Bytes (and connects, and closes) both ways are held, then delivered
    /// in order once it heals, as TCP retransmits after a partition.
    Hold,
    /// The same, one way only (`held`).
    OneWay,
}

impl PartitionMode {
    pub fn name(self) -> &'static str {
        match self {
            PartitionMode::Cut => "cut",
            PartitionMode::Hold => "hold",
            PartitionMode::OneWay => "one_way",
        }
    }
}

/// The direction a one-way partition holds.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum HeldDirection {
    MasterToReplica,
    ReplicaToMaster,
}

/// Network partitions between node 0 (the master) and one of its
/// replicas, each drawn per seed: when, for how long (cut short by the
/// quiet phase), which replica, which mode, and for `one_way` which
/// direction.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    pub count: Range,
    /// When each starts; default: within the fault phase.
    #[serde(default)]
    pub at_ms: Option<Range>,
    pub duration_ms: Range,
    /// The modes drawn from, each equally likely.
    #[serde(default = "all_partition_modes")]
    pub modes: Vec<PartitionMode>,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

fn all_partition_modes() -> Vec<PartitionMode> {
    vec![
        PartitionMode::Cut,
        PartitionMode::Hold,
        PartitionMode::OneWay,
    ]
}

/// Crashes of a replica, each drawn per seed: which replica, when
/// (default: within the fault phase), which kind, and how long until it
/// starts again on its disk.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReplicaCrashSpec {
    pub count: Range,
    pub kind: CrashChoice,
    #[serde(default)]
    pub at_ms: Option<Range>,
    #[serde(default = "default_restart_delay_ms")]
    pub restart_delay_ms: Range,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

/// How a failover's master is lost.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum FailoverTrigger {
    /// The master crashes (a process crash or power loss).
    Crash,
    /// The master is cut from every replica but not from its clients, and
    /// goes on accepting writes until it is demoted: a split brain.
    Partition,
    /// A planned switchover: the operator sends the master SIGTERM, waits
    /// for it to exit (Redis 7 first waits for its replicas to acknowledge
    /// every write, up to `shutdown-timeout`) and promotes a replica. Only
    /// where a scenario names it (scenarios/switchover.toml).
    Shutdown,
}

/// Failovers, each drawn per seed: when, what loses the master, how long
/// the operator takes to notice, and how long the old master stays away
/// after the promotion (down, or cut off) before it returns as a replica.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    pub count: Range,
    #[serde(default)]
    pub at_ms: Option<Range>,
    #[serde(default = "all_failover_triggers")]
    pub triggers: Vec<FailoverTrigger>,
    /// From losing the master to the promotion.
    pub detect_ms: Range,
    /// From the promotion to the old master's return.
    pub back_after_ms: Range,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

fn all_failover_triggers() -> Vec<FailoverTrigger> {
    vec![FailoverTrigger::Crash, FailoverTrigger::Partition]
}

/// Bits flipped at rest in a closed file (detection scenarios only).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BitFlipSpec {
    pub count: Range,
    #[serde(default)]
    pub at_ms: Option<Range>,
    /// Only files whose path contains this (`.incr.aof`, `.rdb`).
    #[serde(default)]
    pub in_file: String,
    /// Wait until the node is down (every file closed, the next start
    /// reads them) rather than flip a closed file of a running node.
    #[serde(default)]
    pub while_down: bool,
    #[serde(default = "always")]
    pub enabled_percent: u64,
}

/// Per-call disk faults during the fault phase, in parts per million of
/// calls, and the disk's timing and power-loss behaviour.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct DiskSpec {
    /// Chance that a seed switches each knob below off entirely.
    pub off_percent: u64,
    pub write_error_ppm: Range,
    pub short_write_ppm: Range,
    pub fsync_error_ppm: Range,
    pub fsync_lost_ppm: Range,
    pub read_error_ppm: Range,
    pub metadata_error_ppm: Range,
    pub misdirected_write_ppm: Range,
    pub slow_ppm: Range,
    /// How long a slow operation takes (drawn per operation).
    pub slow_ms: Range,
    /// How long a background fsync takes when it is not slow (drawn per
    /// operation).
    pub fsync_delay_ms: Range,
    /// Weights of what happens to each unsynced 512-byte sector at power
    /// loss.
    pub sector_kept: Range,
    pub sector_dropped: Range,
    pub sector_zeroed: Range,
    pub sector_garbage: Range,
    /// Chance that a power loss happens to keep every pending byte.
    pub all_kept_percent: Range,
}

impl Default for DiskSpec {
    fn default() -> Self {
        DiskSpec {
            off_percent: 0,
            write_error_ppm: [0, 0],
            short_write_ppm: [0, 0],
            fsync_error_ppm: [0, 0],
            fsync_lost_ppm: [0, 0],
            read_error_ppm: [0, 0],
            metadata_error_ppm: [0, 0],
            misdirected_write_ppm: [0, 0],
            slow_ppm: [0, 0],
            slow_ms: [1000, 3000],
            fsync_delay_ms: [1, 20],
            sector_kept: [1, 4],
            sector_dropped: [1, 4],
            sector_zeroed: [0, 2],
            sector_garbage: [0, 2],
            all_kept_percent: [0, 10],
        }
    }
}

/// One fault at a fixed time: what scenario files write under
/// `[[faults.schedule]]`, and what a derived plan is made of.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum ScheduledFault {
    /// The node dies; it restarts on the same disk after the delay. With
    /// `after_disk_calls`, it dies only after that many more disk calls
    /// (between two calls of an iteration), or after a short while if
    /// it makes none.
    Crash {
        at_ms: u64,
        kind: CrashKind,
        #[serde(default)]
        restart_delay_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_disk_calls: Option<u64>,
    },
    /// The node stops handling events for a while.
    Pause { at_ms: u64, duration_ms: u64 },
    /// The node's wall clock jumps (negative: backwards).
    ClockJump { at_ms: u64, delta_ms: i64 },
    /// The disk fills, leaving `free_bytes`, until `duration_ms` later.
    DiskFull {
        at_ms: u64,
        duration_ms: u64,
        #[serde(default)]
        free_bytes: u64,
    },
    /// The node is asked to shut down; once it exited, the machine may
    /// lose power; it restarts after the delay.
    Shutdown {
        at_ms: u64,
        how: ShutdownHow,
        #[serde(default)]
        restart_delay_ms: u64,
        #[serde(default)]
        power_loss: bool,
    },
    /// A bit flips in a closed file (whose path contains `in_file`, if
    /// given), in the cache and on the platter.
    BitFlip {
        at_ms: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        in_file: String,
        #[serde(default, skip_serializing_if = "is_false")]
        while_down: bool,
    },
    /// The network between node 0 and replica `replica` (1..) breaks in
    /// `mode` for `duration_ms` (or until the quiet phase, if sooner).
    Partition {
        at_ms: u64,
        duration_ms: u64,
        replica: u64,
        mode: PartitionMode,
        /// For `one_way`: the direction held (default: master to replica).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        held: Option<HeldDirection>,
    },
    /// Replica `replica` (1..) crashes: its disk keeps what `kind` keeps,
    /// every connection it held closes, and it starts again on its disk
    /// after `restart_delay_ms`.
    ReplicaCrash {
        at_ms: u64,
        replica: u64,
        kind: CrashKind,
        #[serde(default)]
        restart_delay_ms: u64,
    },
    /// The master is lost by `trigger` (with `kind` for a crash); after
    /// `detect_ms` the operator promotes the replica furthest ahead,
    /// repoints the others to it, and the old master returns as its
    /// replica `back_after_ms` after that.
    Failover {
        at_ms: u64,
        trigger: FailoverTrigger,
        kind: CrashKind,
        detect_ms: u64,
        back_after_ms: u64,
    },
}

/// A crash as a schedule names it.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum CrashKind {
    Process,
    PowerLoss,
}

/// How a scheduled shutdown is asked for.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ShutdownHow {
    Signal,
    Command,
}

impl ScheduledFault {
    /// When the fault happens.
    pub fn at_ms(&self) -> u64 {
        match *self {
            ScheduledFault::Crash { at_ms, .. }
            | ScheduledFault::Pause { at_ms, .. }
            | ScheduledFault::ClockJump { at_ms, .. }
            | ScheduledFault::DiskFull { at_ms, .. }
            | ScheduledFault::Shutdown { at_ms, .. }
            | ScheduledFault::BitFlip { at_ms, .. }
            | ScheduledFault::Partition { at_ms, .. }
            | ScheduledFault::ReplicaCrash { at_ms, .. }
            | ScheduledFault::Failover { at_ms, .. } => at_ms,
        }
    }

    /// Moves the fault to `at_ms`.
    pub fn set_at_ms(&mut self, new_at_ms: u64) {
        match self {
            ScheduledFault::Crash { at_ms, .. }
            | ScheduledFault::Pause { at_ms, .. }
            | ScheduledFault::ClockJump { at_ms, .. }
            | ScheduledFault::DiskFull { at_ms, .. }
            | ScheduledFault::Shutdown { at_ms, .. }
            | ScheduledFault::BitFlip { at_ms, .. }
            | ScheduledFault::Partition { at_ms, .. }
            | ScheduledFault::ReplicaCrash { at_ms, .. }
            | ScheduledFault::Failover { at_ms, .. } => *at_ms = new_at_ms,
        }
    }

    /// The name reports and summaries use for this fault's kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ScheduledFault::Crash {
                kind: CrashKind::Process,
                ..
            } => "crash_process",
            ScheduledFault::Crash {
                kind: CrashKind::PowerLoss,
                ..
            } => "crash_power_loss",
            ScheduledFault::Pause { .. } => "pause",
            ScheduledFault::ClockJump { delta_ms, .. } if *delta_ms < 0 => "clock_jump_back",
            ScheduledFault::ClockJump { .. } => "clock_jump_forward",
            ScheduledFault::DiskFull { .. } => "disk_full",
            ScheduledFault::Shutdown {
                how: ShutdownHow::Signal,
                ..
            } => "shutdown_signal",
            ScheduledFault::Shutdown {
                how: ShutdownHow::Command,
                ..
            } => "shutdown_command",
            ScheduledFault::BitFlip { .. } => "bit_flip",
            ScheduledFault::Partition { mode, .. } => match mode {
                PartitionMode::Cut => "partition_cut",
                PartitionMode::Hold => "partition_hold",
                PartitionMode::OneWay => "partition_one_way",
            },
            ScheduledFault::ReplicaCrash {
                kind: CrashKind::Process,
                ..
            } => "replica_crash_process",
            ScheduledFault::ReplicaCrash {
                kind: CrashKind::PowerLoss,
                ..
            } => "replica_crash_power_loss",
            ScheduledFault::Failover {
                trigger: FailoverTrigger::Crash,
                ..
            } => "failover_crash",
            ScheduledFault::Failover {
                trigger: FailoverTrigger::Partition,
                ..
            } => "failover_partition",
            ScheduledFault::Failover {
                trigger: FailoverTrigger::Shutdown,
                ..
            } => "failover_shutdown",
        }
    }
}

fn check_range(name: &str, range: Range) -> Result<(), String> {
    if range[0] > range[1] {
        return Err(format!("{name}: min {} above max {}", range[0], range[1]));
    }
    Ok(())
}

fn check_percent(name: &str, percent: u64) -> Result<(), String> {
    if percent > 100 {
        return Err(format!("{name}: {percent} is not a percentage"));
    }
    Ok(())
}

impl FaultSpec {
    /// Checks every range and percentage; errors name the field.
    pub fn validate(&self) -> Result<(), String> {
        let mut ranges: Vec<(&str, Range)> = Vec::new();
        let mut percents: Vec<(&str, u64)> = Vec::new();
        if let Some(range) = self.phase_ms {
            ranges.push(("faults.phase_ms", range));
        }
        if let Some(spec) = &self.crashes {
            ranges.push(("faults.crashes.count", spec.count));
            ranges.push(("faults.crashes.restart_delay_ms", spec.restart_delay_ms));
            ranges.extend(spec.at_ms.map(|r| ("faults.crashes.at_ms", r)));
            percents.push((
                "faults.crashes.between_disk_calls_percent",
                spec.between_disk_calls_percent,
            ));
            percents.push(("faults.crashes.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.pauses {
            ranges.push(("faults.pauses.count", spec.count));
            ranges.push(("faults.pauses.duration_ms", spec.duration_ms));
            ranges.extend(spec.at_ms.map(|r| ("faults.pauses.at_ms", r)));
            percents.push(("faults.pauses.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.clock {
            ranges.push(("faults.clock.drift_ppm", spec.drift_ppm));
            ranges.push(("faults.clock.jumps", spec.jumps));
            ranges.push(("faults.clock.jump_ms", spec.jump_ms));
            percents.push(("faults.clock.backward_percent", spec.backward_percent));
            percents.push(("faults.clock.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.disk_full {
            ranges.push(("faults.disk_full.count", spec.count));
            ranges.push(("faults.disk_full.duration_ms", spec.duration_ms));
            ranges.push(("faults.disk_full.free_bytes", spec.free_bytes));
            ranges.extend(spec.at_ms.map(|r| ("faults.disk_full.at_ms", r)));
            percents.push(("faults.disk_full.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.shutdowns {
            ranges.push(("faults.shutdowns.count", spec.count));
            ranges.push(("faults.shutdowns.restart_delay_ms", spec.restart_delay_ms));
            ranges.extend(spec.at_ms.map(|r| ("faults.shutdowns.at_ms", r)));
            percents.push((
                "faults.shutdowns.power_loss_percent",
                spec.power_loss_percent,
            ));
            percents.push(("faults.shutdowns.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.bit_flips {
            ranges.push(("faults.bit_flips.count", spec.count));
            ranges.extend(spec.at_ms.map(|r| ("faults.bit_flips.at_ms", r)));
            percents.push(("faults.bit_flips.enabled_percent", spec.enabled_percent));
        }
        if let Some(spec) = &self.partitions {
            ranges.push(("faults.partitions.count", spec.count));
            ranges.push(("faults.partitions.duration_ms", spec.duration_ms));
            ranges.extend(spec.at_ms.map(|r| ("faults.partitions.at_ms", r)));
            percents.push(("faults.partitions.enabled_percent", spec.enabled_percent));
            if spec.modes.is_empty() {
                return Err("faults.partitions.modes: name at least one mode".into());
            }
            if self.phase_ms.is_none() {
                return Err(
                    "faults.partitions: needs faults.phase_ms (partitions heal when the quiet phase starts)"
                        .into(),
                );
            }
        }
        if let Some(spec) = &self.replica_crashes {
            ranges.push(("faults.replica_crashes.count", spec.count));
            ranges.push((
                "faults.replica_crashes.restart_delay_ms",
                spec.restart_delay_ms,
            ));
            ranges.extend(spec.at_ms.map(|r| ("faults.replica_crashes.at_ms", r)));
            percents.push((
                "faults.replica_crashes.enabled_percent",
                spec.enabled_percent,
            ));
        }
        if let Some(spec) = &self.failovers {
            ranges.push(("faults.failovers.count", spec.count));
            ranges.push(("faults.failovers.detect_ms", spec.detect_ms));
            ranges.push(("faults.failovers.back_after_ms", spec.back_after_ms));
            ranges.extend(spec.at_ms.map(|r| ("faults.failovers.at_ms", r)));
            percents.push(("faults.failovers.enabled_percent", spec.enabled_percent));
            if spec.triggers.is_empty() {
                return Err("faults.failovers.triggers: name at least one trigger".into());
            }
        }
        if let Some(disk) = &self.disk {
            disk.collect_checks(&mut ranges, &mut percents);
        }
        ranges
            .into_iter()
            .try_for_each(|(name, range)| check_range(name, range))?;
        percents
            .into_iter()
            .try_for_each(|(name, percent)| check_percent(name, percent))
    }
}

impl DiskSpec {
    fn collect_checks<'a>(
        &self,
        ranges: &mut Vec<(&'a str, Range)>,
        percents: &mut Vec<(&'a str, u64)>,
    ) {
        ranges.extend([
            ("faults.disk.write_error_ppm", self.write_error_ppm),
            ("faults.disk.short_write_ppm", self.short_write_ppm),
            ("faults.disk.fsync_error_ppm", self.fsync_error_ppm),
            ("faults.disk.fsync_lost_ppm", self.fsync_lost_ppm),
            ("faults.disk.read_error_ppm", self.read_error_ppm),
            ("faults.disk.metadata_error_ppm", self.metadata_error_ppm),
            (
                "faults.disk.misdirected_write_ppm",
                self.misdirected_write_ppm,
            ),
            ("faults.disk.slow_ppm", self.slow_ppm),
            ("faults.disk.slow_ms", self.slow_ms),
            ("faults.disk.fsync_delay_ms", self.fsync_delay_ms),
            ("faults.disk.sector_kept", self.sector_kept),
            ("faults.disk.sector_dropped", self.sector_dropped),
            ("faults.disk.sector_zeroed", self.sector_zeroed),
            ("faults.disk.sector_garbage", self.sector_garbage),
            ("faults.disk.all_kept_percent", self.all_kept_percent),
        ]);
        percents.push(("faults.disk.off_percent", self.off_percent));
        percents.push(("faults.disk.all_kept_percent", self.all_kept_percent[1]));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedule entry reads from TOML by its `fault` tag and writes back
    /// to the same text.
    #[test]
    fn schedule_round_trips_through_toml() {
        let text = r#"
[[schedule]]
fault = "crash"
at_ms = 1200
kind = "power_loss"
restart_delay_ms = 50
after_disk_calls = 3

[[schedule]]
fault = "clock_jump"
at_ms = 300
delta_ms = -5000
"#;
        #[derive(Deserialize, Serialize)]
        struct Holder {
            schedule: Vec<ScheduledFault>,
        }
        let holder: Holder = toml::from_str(text).expect("parses");
        assert_eq!(
            holder.schedule[0],
            ScheduledFault::Crash {
                at_ms: 1200,
                kind: CrashKind::PowerLoss,
                restart_delay_ms: 50,
                after_disk_calls: Some(3),
            }
        );
        assert_eq!(holder.schedule[1].kind_name(), "clock_jump_back");
        let written = toml::to_string(&holder).expect("writes");
        let again: Holder = toml::from_str(&written).expect("reads back");
        assert_eq!(again.schedule, holder.schedule, "{written}");
    }

    /// A range the wrong way round is refused with the field's name.
    #[test]
    fn bad_ranges_name_their_field() {
        let spec = FaultSpec {
            pauses: Some(PauseSpec {
                count: [2, 1],
                at_ms: None,
                duration_ms: [1, 2],
                enabled_percent: 100,
            }),
            ..FaultSpec::default()
        };
        let error = spec.validate().unwrap_err();
        assert!(error.contains("faults.pauses.count"), "{error}");
    }

    /// Partitions need a fault phase (they heal when it ends), and read
    /// from TOML with their modes.
    #[test]
    fn partitions_need_a_phase() {
        let text = r#"
partitions = { count = [1, 2], duration_ms = [100, 200], modes = ["cut", "one_way"] }
"#;
        let mut spec: FaultSpec = toml::from_str(text).expect("parses");
        let modes = &spec.partitions.as_ref().expect("partitions").modes;
        assert_eq!(modes, &vec![PartitionMode::Cut, PartitionMode::OneWay]);
        let error = spec.validate().unwrap_err();
        assert!(error.contains("faults.phase_ms"), "{error}");
        spec.phase_ms = Some([1000, 2000]);
        spec.validate().expect("valid with a phase");
    }

    /// Failovers read from TOML with both triggers by default, and name at
    /// least one; an unknown key is refused.
    #[test]
    fn failovers_name_their_triggers() {
        let text = r#"
failovers = { count = [1, 2], detect_ms = [300, 3000], back_after_ms = [0, 3000] }
"#;
        let spec: FaultSpec = toml::from_str(text).expect("parses");
        let failovers = spec.failovers.as_ref().expect("failovers");
        assert_eq!(
            failovers.triggers,
            [FailoverTrigger::Crash, FailoverTrigger::Partition]
        );
        spec.validate().expect("valid");
        let none = text.replace("count", "triggers = [], count");
        let spec: FaultSpec = toml::from_str(&none).expect("parses");
        let error = spec.validate().unwrap_err();
        assert!(error.contains("faults.failovers.triggers"), "{error}");
        let unknown = text.replace("count", "promote = 1, count");
        assert!(toml::from_str::<FaultSpec>(&unknown).is_err());
    }
}
