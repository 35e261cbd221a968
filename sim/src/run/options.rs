//! The options of one run, every one derived from the seed within the
//! scenario's ranges, and the hard bounds no scenario can lift.

use redoubt_core::Config;

use crate::faults::{crash_kind_name, derive_crashes, CrashPlan};
use crate::run::scenario::{Range, Scenario};
use crate::workload::ops::OpKind;
use crate::workload::WorkloadOptions;
use crate::world::net::NetOptions;
use crate::world::rng::{stream, SimRng};

/// Clients in one run, at most.
pub const CLIENTS_MAX: u64 = 64;
/// Keys in the key space, at most.
pub const KEYS_MAX: u64 = 1024;
/// Operations one client runs, at most.
pub const OPS_PER_CLIENT_MAX: u64 = 10_000;
/// Requests one client pipelines, at most.
pub const PIPELINE_DEPTH_MAX: u64 = 64;
/// Events one run processes before it is stopped (a liveness failure).
pub const EVENTS_MAX: u64 = 5_000_000;
/// Simulated time one run may last before it is stopped.
pub const SIM_TIME_MS_MAX: u64 = 3_600_000;
/// Largest seeded offset of the node's wall clock from the epoch.
pub const WALL_OFFSET_MS_MAX: u64 = 86_400_000;

/// Everything one run does, derived from its seed.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: u64,
    pub scenario: String,
    pub clients: u64,
    pub connect_spread_ms: u64,
    /// What each client does.
    pub workload: WorkloadOptions,
    pub node_hz: u64,
    pub node_config: Vec<String>,
    pub wall_offset_ms: u64,
    pub net: NetOptions,
    /// Crashes in time order; two never overlap (a crash comes after the
    /// previous restart).
    pub crashes: Vec<CrashPlan>,
    /// The scenario allows the node to refuse to start after a crash.
    pub start_refusal_expected: bool,
}

pub(crate) fn pick(rng: &mut SimRng, range: Range, max: u64) -> u64 {
    rng.range(range[0].min(max), range[1].min(max))
}

impl RunOptions {
    /// Derives the options of `seed` under `scenario`. The draws happen in a
    /// fixed order on the options stream; add new ones at the end.
    pub fn derive(seed: u64, scenario: &Scenario) -> Self {
        let mut rng = SimRng::new(seed, stream::OPTIONS);
        let workload = &scenario.workload;
        let latency_min = pick(&mut rng, scenario.network.latency_ms, u64::MAX);
        let latency_max = pick(
            &mut rng,
            [latency_min, scenario.network.latency_ms[1]],
            u64::MAX,
        );
        let clients = pick(&mut rng, workload.clients, CLIENTS_MAX).max(1);
        let keys = pick(&mut rng, workload.keys, KEYS_MAX).max(1);
        let ops_per_client = pick(&mut rng, workload.ops_per_client, OPS_PER_CLIENT_MAX);
        let pipeline_depth = pick(&mut rng, workload.pipeline_depth, PIPELINE_DEPTH_MAX).max(1);
        let think_ms_max = pick(&mut rng, workload.think_ms, u64::MAX);
        let connect_spread_ms = pick(&mut rng, workload.connect_spread_ms, u64::MAX);
        let disconnect_percent = pick(&mut rng, workload.disconnect_percent, 100);
        let expire_ms_max = pick(&mut rng, workload.expire_ms_max, u64::MAX).max(1);
        let discard_percent = pick(&mut rng, workload.discard_percent, 100);
        let workload = WorkloadOptions {
            seed,
            keys,
            ops_per_client,
            pipeline_depth,
            think_ms_max,
            disconnect_percent,
            expire_ms_max,
            discard_percent,
            transaction_retries_max: workload.transaction_retries_max,
            mix: OpKind::ALL
                .iter()
                .map(|kind| workload.mix.get(kind.name()).copied().unwrap_or(0))
                .collect(),
        };
        RunOptions {
            seed,
            scenario: scenario.name.clone(),
            clients,
            connect_spread_ms,
            workload,
            node_hz: pick(&mut rng, scenario.node.hz, 500).max(1),
            node_config: scenario.node.config.clone(),
            wall_offset_ms: rng.range(0, WALL_OFFSET_MS_MAX),
            net: NetOptions {
                latency_ms_min: latency_min,
                latency_ms_max: latency_max,
                split_percent: pick(&mut rng, scenario.network.split_percent, 100),
            },
            crashes: derive_crashes(&mut rng, scenario),
            start_refusal_expected: scenario.expect.start_refusal,
        }
    }

    /// The node's configuration: defaults, the derived `hz`, then the
    /// scenario's directives.
    pub fn node_config(&self) -> Result<Config, String> {
        let mut config = Config::default();
        config
            .apply_startup("hz", &self.node_hz.to_string())
            .map_err(|e| e.0)?;
        config
            .apply_file_text(&self.node_config.join("\n"))
            .map_err(|e| format!("line {}: {}: {}", e.line, e.text, e.reason))?;
        Ok(config)
    }

    /// The options as report lines, `name: value`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut lines = vec![
            ("clients".to_string(), self.clients.to_string()),
            ("keys".into(), self.workload.keys.to_string()),
            (
                "ops_per_client".into(),
                self.workload.ops_per_client.to_string(),
            ),
            (
                "pipeline_depth".into(),
                self.workload.pipeline_depth.to_string(),
            ),
            (
                "think_ms_max".into(),
                self.workload.think_ms_max.to_string(),
            ),
            (
                "connect_spread_ms".into(),
                self.connect_spread_ms.to_string(),
            ),
            (
                "disconnect_percent".into(),
                self.workload.disconnect_percent.to_string(),
            ),
            (
                "expire_ms_max".into(),
                self.workload.expire_ms_max.to_string(),
            ),
            (
                "discard_percent".into(),
                self.workload.discard_percent.to_string(),
            ),
            (
                "transaction_retries_max".into(),
                self.workload.transaction_retries_max.to_string(),
            ),
            ("node_hz".into(), self.node_hz.to_string()),
            ("node_config".into(), format!("{:?}", self.node_config)),
            ("wall_offset_ms".into(), self.wall_offset_ms.to_string()),
            (
                "latency_ms".into(),
                format!("{}..={}", self.net.latency_ms_min, self.net.latency_ms_max),
            ),
            ("split_percent".into(), self.net.split_percent.to_string()),
        ];
        let mix: Vec<String> = OpKind::ALL
            .iter()
            .zip(&self.workload.mix)
            .filter(|(_, &weight)| weight > 0)
            .map(|(kind, weight)| format!("{}={weight}", kind.name()))
            .collect();
        lines.push(("mix".into(), mix.join(" ")));
        if !self.crashes.is_empty() {
            let crashes: Vec<String> = self
                .crashes
                .iter()
                .map(|c| {
                    let kind = crash_kind_name(c.kind);
                    format!("{kind}@{}+{}", c.at_ms, c.restart_delay_ms)
                })
                .collect();
            lines.push(("crashes".into(), crashes.join(" ")));
        }
        lines
    }
}
