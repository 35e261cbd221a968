//! The run report: stable across machines (no wall-clock time, no paths
//! beyond the scenario name given on the command line), so it can be
//! snapshot-tested and diffed between runs of the same seed.
//!
//! The words a run's report uses (unit, lineage, k, owed) are defined in
//! [`crate::check::durability`]; the report prints a short legend too.
//!
//! A swarm's outputs are built on the reports of its runs: [`record`] (what
//! one run leaves in a swarm's report), [`summary`] (counts by scenario,
//! checker and fault kind, and the failures, as text), [`json`] (the file a
//! swarm or shard writes), [`merge`] (shards' files joined into one), and
//! [`junit`] (JUnit XML for CI systems). [`timeline`] is a run's picture, and
//! [`html`] draws it.

use std::fmt::Write;

pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
pub mod record;
pub mod summary;
pub mod timeline;

use crate::check::recovery::RestartReport;
use crate::check::Verdict;
use crate::run::options::RunOptions;
use crate::run::simulation::{RecoveryPaths, ReplicationPaths};
use crate::workload::ops::OpKind;
use crate::workload::ClientStats;
use timeline::Timeline;

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
    /// Keys evicted for `maxmemory` (a scenario that sets it); reported
    /// only when some were.
    pub evictions: u64,
    pub connections: u64,
    pub verdicts: Vec<Verdict>,
    /// Names of the checkers the scenario requires to pass.
    pub required_checkers: Vec<String>,
    /// Every time the node went down and came back, in order.
    pub restarts: Vec<RestartReport>,
    /// How often each kind of fault fired in this run, by the names the
    /// summary and scenario files use; kinds that never fired are absent.
    pub faults: Vec<FaultTally>,
    /// Checkers this run leaves off, each with the reason.
    pub checkers_off: Vec<(String, String)>,
    /// How often each recovery path ran.
    pub paths: RecoveryPaths,
    /// How the replicas synced (only when the scenario asks for
    /// partitions, so other reports keep their lines).
    pub replication_paths: Option<ReplicationPaths>,
    /// Set when the run hit a bound.
    pub stopped_by: Option<String>,
    pub trace_hash: u64,
    /// The run's picture, when asked for (`run --html`).
    pub timeline: Option<Timeline>,
}

/// The command that replays `seed` under the scenario file `scenario_path`
/// (the built-in scenario when `None`). A build that can plant bugs says
/// so, since only such a build reads a scenario that plants one.
pub fn replay_command(seed: u64, scenario_path: Option<&str>) -> String {
    let features = if cfg!(feature = "planted-bugs") {
        " --features planted-bugs"
    } else {
        ""
    };
    let mut command = format!("cargo run --release -p redoubt-sim{features} -- run --seed {seed}");
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

/// The legend of the report's words, printed once per report.
const LEGEND: &str = "\
legend:
  unit: one write of the log (a command, or a whole MULTI/EXEC) that changed the dataset
  lineage: the units the node's data descends from, across its lives
  k: how many units of the lineage the recovered dataset holds (a prefix)
  owed: units a restart must not lose, by the rule of how the node went down
";

impl Report {
    /// Whether every required checker that this run checks passed.
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
        self.render_faults(&mut out);
        self.render_restarts(&mut out);
        self.render_checkers(&mut out);
        out.push_str(LEGEND);
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
        let plan = &self.options.faults;
        let _ = writeln!(out, "fault_plan:");
        match plan.quiet_at_ms {
            Some(at) => {
                let _ = writeln!(out, "  quiet_phase_from_ms: {at}");
                let _ = writeln!(out, "  liveness_bound_ms: {}", plan.liveness_ms);
            }
            None => {
                let _ = writeln!(out, "  quiet_phase_from_ms: none (no faults)");
            }
        }
        let _ = writeln!(out, "  clock_drift_ppm: {}", plan.drift_ppm);
        let _ = writeln!(out, "  disk: {}", plan.disk.describe());
        for fault in &plan.schedule {
            let _ = writeln!(out, "  - {}", describe_fault(fault));
        }
        if let Some(kind) = plan.final_crash {
            let _ = writeln!(out, "  final: {kind:?}");
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
        for (name, value) in [
            ("sent", totals.requests_sent),
            ("replies", totals.replies_received),
            ("error_replies", totals.error_replies),
            ("transactions_committed", totals.transactions_committed),
            ("transactions_retried", totals.transactions_retried),
            ("transactions_given_up", totals.transactions_given_up),
            ("transactions_discarded", totals.transactions_discarded),
            ("reconnects", totals.reconnects),
            ("timeouts", totals.timeouts),
        ] {
            let _ = writeln!(out, "  {name}: {value}");
        }
    }

    fn render_timeline(&self, out: &mut String) {
        let _ = writeln!(out, "timeline:");
        let _ = writeln!(out, "  start_ms: {}", self.start_ms);
        let _ = writeln!(out, "  end_ms: {}", self.end_ms);
        let _ = writeln!(out, "  events_processed: {}", self.events_processed);
        let _ = writeln!(out, "  connections: {}", self.connections);
        let _ = writeln!(out, "  commands_executed: {}", self.commands_executed);
        let _ = writeln!(out, "  keys_expired: {}", self.expirations);
        if self.evictions > 0 {
            let _ = writeln!(out, "  keys_evicted: {}", self.evictions);
        }
        if let Some(bound) = &self.stopped_by {
            let _ = writeln!(out, "  stopped_by: {bound}");
        }
    }

    fn render_faults(&self, out: &mut String) {
        if self.faults.is_empty() {
            let _ = writeln!(out, "faults_fired: none");
        } else {
            let _ = writeln!(out, "faults_fired:");
            for tally in &self.faults {
                let _ = writeln!(out, "  {}: {}", tally.kind, tally.count);
            }
        }
        let _ = writeln!(out, "recovery_paths:");
        for (name, count) in self.paths.named() {
            let _ = writeln!(out, "  {name}: {count}");
        }
        if let Some(paths) = &self.replication_paths {
            let _ = writeln!(out, "replication_paths:");
            for (name, count) in paths.named() {
                let _ = writeln!(out, "  {name}: {count}");
            }
        }
    }

    fn render_restarts(&self, out: &mut String) {
        if self.restarts.is_empty() {
            return;
        }
        let _ = writeln!(out, "restarts:");
        for restart in &self.restarts {
            let _ = writeln!(
                out,
                "  - {}, up again at {} ms",
                restart.name(),
                restart.restart_ms
            );
            for refusal in &restart.refusals {
                let _ = writeln!(out, "    refused to start: {refusal}");
            }
            let recovered = match &restart.outcome {
                Ok(recovered) => recovered,
                Err(_) => continue,
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
                None => "not checked".to_string(),
                Some(owed) => format!(
                    "{} rule: {} units owed: {}",
                    owed.rule,
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
                (true, true) => "pass",
                (true, false) => "pass (not required)",
                (false, true) => "FAIL",
                (false, false) => "fail (not required)",
            };
            let _ = writeln!(out, "  {}: {outcome}: {}", verdict.name, verdict.summary);
            for violation in &verdict.violations {
                let _ = writeln!(out, "    - {violation}");
            }
        }
        for (name, reason) in &self.checkers_off {
            let _ = writeln!(out, "  {name}: off: {reason}");
        }
    }
}

/// One scheduled fault, as the report lists it.
fn describe_fault(fault: &crate::faults::ScheduledFault) -> String {
    use crate::faults::ScheduledFault as F;
    match fault {
        F::Crash {
            at_ms,
            restart_delay_ms,
            after_disk_calls,
            ..
        } => {
            let between = after_disk_calls
                .map(|n| format!(" after {n} more disk calls"))
                .unwrap_or_default();
            format!(
                "{} at {at_ms} ms{between}, restart after {restart_delay_ms} ms",
                fault.kind_name()
            )
        }
        F::Pause { at_ms, duration_ms } => format!("pause at {at_ms} ms for {duration_ms} ms"),
        F::Failover {
            at_ms,
            kind,
            detect_ms,
            back_after_ms,
            ..
        } => format!(
            "{} at {at_ms} ms ({kind:?}), promotion after {detect_ms} ms, old master back {back_after_ms} ms later",
            fault.kind_name()
        ),
        F::ClockJump { at_ms, delta_ms } => format!("clock jump at {at_ms} ms by {delta_ms} ms"),
        F::DiskFull {
            at_ms,
            duration_ms,
            free_bytes,
        } => format!("disk full at {at_ms} ms for {duration_ms} ms ({free_bytes} bytes left)"),
        F::Shutdown {
            at_ms,
            restart_delay_ms,
            power_loss,
            ..
        } => format!(
            "{} at {at_ms} ms, restart after {restart_delay_ms} ms{}",
            fault.kind_name(),
            if *power_loss {
                ", power lost meanwhile"
            } else {
                ""
            }
        ),
        F::BitFlip {
            at_ms,
            in_file,
            while_down,
        } => {
            let file = if in_file.is_empty() {
                String::new()
            } else {
                format!(" in a {in_file} file")
            };
            let when = if *while_down {
                ", once the node is down"
            } else {
                ""
            };
            format!("bit flip at rest at {at_ms} ms{file}{when}")
        }
        F::Partition {
            at_ms,
            duration_ms,
            replica,
            held,
            ..
        } => {
            let way = match held {
                Some(crate::faults::HeldDirection::MasterToReplica) => ", master to replica held",
                Some(crate::faults::HeldDirection::ReplicaToMaster) => ", replica to master held",
                None => "",
            };
            format!(
                "{} at {at_ms} ms for {duration_ms} ms between node 0 and replica {replica}{way}",
                fault.kind_name()
            )
        }
        F::ReplicaCrash {
            at_ms,
            replica,
            restart_delay_ms,
            ..
        } => format!(
            "{} of replica {replica} at {at_ms} ms, restart after {restart_delay_ms} ms",
            fault.kind_name()
        ),
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
        assert!(report.passed(), "{}", report.render());
        assert!(!report.render().contains("replay:"));
        report.verdicts[0].passed = false;
        let text = report.render();
        assert!(!report.passed());
        assert!(text.contains(
            "replay: cargo run --release -p redoubt-sim -- run --seed 3 --scenario scenarios/smoke.toml"
        ));
    }
}
