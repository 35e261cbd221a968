//! The options of one run, every one derived from the seed within the
//! scenario's ranges, and the hard bounds no scenario can lift.

use redoubt_core::Config;

use crate::faults::{FaultPlan, ScheduledFault};
use crate::run::scenario::{Expect, Scenario, REPLICAS_MAX};
use crate::workload::apps::AppCounts;
use crate::workload::ops::OpKind;
use crate::workload::{ClientScript, WorkloadOptions};
use crate::world::net::NetOptions;
use crate::world::rng::{stream, SimRng};

/// Clients in one run, at most.
pub const CLIENTS_MAX: u64 = 64;
/// Keys in the key space, at most.
pub const KEYS_MAX: u64 = 100_000;
/// Keys written before the clients start, at most.
pub const PREFILL_KEYS_MAX: u64 = 200_000;
/// Largest value a client writes, at most.
pub const VALUE_BYTES_MAX: u64 = 1 << 20;
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
    /// Application clients, after the drawn ones (none when scripts
    /// replace the clients: the scripts hold theirs).
    pub apps: AppCounts,
    pub connect_spread_ms: u64,
    /// What each client does.
    pub workload: WorkloadOptions,
    /// Keys written before the clients start.
    pub prefill_keys: u64,
    pub node_hz: u64,
    /// The scenario's fixed directives, then the ones this seed chose.
    pub node_config: Vec<String>,
    pub wall_offset_ms: u64,
    pub net: NetOptions,
    /// What the run injects.
    pub faults: FaultPlan,
    /// Clients written out explicitly, replacing the drawn ones.
    pub scripts: Vec<ClientScript>,
    /// The checkers the run must pass.
    pub expect: Expect,
    /// Replicas of the node the clients talk to (no draw: the topology
    /// says).
    pub replicas: u64,
    /// The scenario asks for partitions between nodes, by generator or
    /// schedule (and the run has replicas): the report then shows the
    /// replication paths taken.
    pub partitions_asked: bool,
    /// The scenario asks for replica crashes, by generator or schedule
    /// (and the run has replicas): the report then shows the replication
    /// paths taken, with how restarted replicas synced.
    pub replica_crashes_asked: bool,
    /// Lines the replicas add to node 0's configuration
    /// (`topology.replica_config`).
    pub replica_config: Vec<String>,
    /// Lines for one replica each, after those (`topology.replica_configs`).
    pub replica_configs: Vec<Vec<String>>,
    /// A reader reads the workload's keys on replica 1
    /// (`workload.apps.replica_reads`, drawn from a stream of its own).
    pub replica_reads: bool,
}

impl RunOptions {
    /// Derives the options of `seed` under `scenario`. The draws happen in a
    /// fixed order on the options stream; add new ones at the end. Faults
    /// come from their own stream.
    pub fn derive(seed: u64, scenario: &Scenario) -> Self {
        let mut rng = SimRng::new(seed, stream::OPTIONS);
        let workload = &scenario.workload;
        let network = &scenario.network;
        let latency_min = rng.pick(network.latency_ms, u64::MAX);
        let latency_max = rng.pick([latency_min, network.latency_ms[1]], u64::MAX);
        let drawn_clients = rng.pick(workload.clients, CLIENTS_MAX).max(1);
        let clients = match workload.scripts.len() {
            0 => drawn_clients,
            scripts => scripts as u64,
        };
        let keys = rng.pick(workload.keys, KEYS_MAX).max(1);
        let ops_per_client = rng.pick(workload.ops_per_client, OPS_PER_CLIENT_MAX);
        let pipeline_depth = rng.pick(workload.pipeline_depth, PIPELINE_DEPTH_MAX).max(1);
        let think_ms_max = rng.pick(workload.think_ms, u64::MAX);
        let connect_spread_ms = rng.pick(workload.connect_spread_ms, u64::MAX);
        let disconnect_percent = rng.pick(workload.disconnect_percent, 100);
        let expire_ms_max = rng.pick(workload.expire_ms_max, u64::MAX).max(1);
        let discard_percent = rng.pick(workload.discard_percent, 100);
        let node_hz = rng.pick(scenario.node.hz, 500).max(1);
        let drawn_wall_offset_ms = rng.range(0, WALL_OFFSET_MS_MAX);
        let wall_offset_ms = scenario.node.wall_offset_ms.unwrap_or(drawn_wall_offset_ms);
        let drawn_split_percent = rng.pick(network.split_percent, 100);
        let (latency_min, latency_max, split_percent) = if network.fixed {
            let [min, max] = network.latency_ms;
            (min, max, network.split_percent[0].min(100))
        } else {
            (latency_min, latency_max, drawn_split_percent)
        };
        let value_bytes_max = rng.pick(workload.value_bytes_max, VALUE_BYTES_MAX).max(1);
        let prefill_keys = rng.pick(workload.prefill_keys, PREFILL_KEYS_MAX);
        let timeout_ms = rng.pick(workload.timeout_ms, u64::MAX);
        let mut node_config = scenario.node.config.clone();
        for (name, values) in &scenario.node.choose {
            let value = &values[rng.index(values.len())];
            node_config.push(format!("{name} {value}"));
        }
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
            value_bytes_max,
            timeout_ms,
            mix: OpKind::ALL
                .iter()
                .map(|kind| workload.mix.get(kind.name()).copied().unwrap_or(0))
                .collect(),
        };
        let apps = if scenario.workload.scripts.is_empty() {
            let apps = &scenario.workload.apps;
            AppCounts {
                market: rng.pick(apps.market, CLIENTS_MAX),
                logs: rng.pick(apps.logs, CLIENTS_MAX),
                queue: rng.pick(apps.queue, CLIENTS_MAX),
                confirm: rng.pick(apps.confirm, CLIENTS_MAX),
                fallback_queue: rng.pick(apps.fallback_queue, CLIENTS_MAX),
                ..AppCounts::default()
            }
        } else {
            AppCounts::default()
        };
        let mut apps = apps;
        if scenario.workload.scripts.is_empty() {
            // A stream of their own: a scenario without them draws what
            // it drew before they existed.
            let mut script_rng = SimRng::new(seed, stream::SCRIPT_APPS);
            let section = &scenario.workload.apps;
            apps.lock = script_rng.pick(section.lock, CLIENTS_MAX);
            apps.ratelimit = script_rng.pick(section.ratelimit, CLIENTS_MAX);
        }
        let mut workload = workload;
        if apps.total() > 0 {
            // The applications' invariants need a key space nothing wipes
            // under them: a seed that draws them draws no FLUSHALL or
            // SWAPDB (the report's mix line shows it).
            for kind in [OpKind::FlushAll, OpKind::SwapDb] {
                workload.mix[kind as usize] = 0;
            }
        }
        let mut fault_rng = SimRng::new(seed, stream::FAULTS);
        let replicas = match scenario.topology.replicas_per_seed {
            // A stream of its own: drawing it moves no other draw.
            Some(range) => SimRng::new(seed, stream::TOPOLOGY).pick(range, REPLICAS_MAX),
            None => scenario.topology.replicas,
        };
        let mut faults = FaultPlan::derive(&scenario.faults, &mut fault_rng);
        // Partitions draw from their own stream, after everything else.
        let mut partition_rng = SimRng::new(seed, stream::PARTITIONS);
        faults.add_partitions(&scenario.faults, replicas, &mut partition_rng);
        let scheduled = faults
            .schedule
            .iter()
            .any(|fault| matches!(fault, ScheduledFault::Partition { .. }));
        let partitions_asked = replicas > 0 && (scenario.faults.partitions.is_some() || scheduled);
        // Replica crashes too, after partitions.
        let mut replica_crash_rng = SimRng::new(seed, stream::REPLICA_CRASHES);
        faults.add_replica_crashes(&scenario.faults, replicas, &mut replica_crash_rng);
        let scheduled = faults
            .schedule
            .iter()
            .any(|fault| matches!(fault, ScheduledFault::ReplicaCrash { .. }));
        let replica_crashes_asked =
            replicas > 0 && (scenario.faults.replica_crashes.is_some() || scheduled);
        // Failovers too, after replica crashes.
        let mut failover_rng = SimRng::new(seed, stream::FAILOVERS);
        faults.add_failovers(&scenario.faults, replicas, &mut failover_rng);
        let mut lag_rng = SimRng::new(seed, stream::SWITCHOVER_LAG);
        faults.add_switchover_lag(replicas, &mut lag_rng);
        let partitions_asked = partitions_asked
            || (replicas > 0
                && faults
                    .schedule
                    .iter()
                    .any(|fault| matches!(fault, ScheduledFault::Partition { .. })));
        let replica_reads = replicas > 0
            && SimRng::new(seed, stream::REPLICA_READER)
                .pick(scenario.workload.apps.replica_reads, 1)
                > 0;
        RunOptions {
            seed,
            scenario: scenario.name.clone(),
            clients,
            apps,
            connect_spread_ms,
            workload,
            prefill_keys,
            node_hz,
            node_config,
            wall_offset_ms,
            net: NetOptions {
                latency_ms_min: latency_min,
                latency_ms_max: latency_max,
                split_percent,
                peer_split_percent: network
                    .peer_split_percent
                    .map_or(split_percent, |percent| percent.min(100)),
                peer_bytes_per_ms: network.peer_bytes_per_ms.unwrap_or(0),
            },
            faults,
            partitions_asked,
            replica_crashes_asked,
            replica_config: scenario.topology.replica_config.clone(),
            replica_configs: scenario.topology.replica_configs.clone(),
            expect: scenario.expect.clone(),
            scripts: scenario.workload.scripts.clone(),
            replicas,
            replica_reads,
        }
    }

    /// The node's configuration: defaults, the derived `hz`, then the
    /// directives.
    pub fn node_config(&self) -> Result<Config, String> {
        let mut config = Config::default();
        config
            .apply_startup("hz", &self.node_hz.to_string())
            .map_err(|e| e.0)?;
        config
            .apply_file_text(&self.node_config.join("\n"))
            .map_err(|e| format!("node.config line {}: {}: {}", e.line, e.text, e.reason))?;
        Ok(config)
    }

    /// The options as report lines, `name: value`.
    pub fn describe(&self) -> Vec<(String, String)> {
        let workload = &self.workload;
        let mut lines: Vec<(String, String)> = [
            ("clients", self.clients.to_string()),
            ("keys", workload.keys.to_string()),
            ("prefill_keys", self.prefill_keys.to_string()),
            ("value_bytes_max", workload.value_bytes_max.to_string()),
            ("timeout_ms", workload.timeout_ms.to_string()),
            ("ops_per_client", workload.ops_per_client.to_string()),
            ("pipeline_depth", workload.pipeline_depth.to_string()),
            ("think_ms_max", workload.think_ms_max.to_string()),
            ("connect_spread_ms", self.connect_spread_ms.to_string()),
            (
                "disconnect_percent",
                workload.disconnect_percent.to_string(),
            ),
            ("expire_ms_max", workload.expire_ms_max.to_string()),
            ("discard_percent", workload.discard_percent.to_string()),
            (
                "transaction_retries_max",
                workload.transaction_retries_max.to_string(),
            ),
            ("node_hz", self.node_hz.to_string()),
            ("node_config", format!("{:?}", self.node_config)),
            ("wall_offset_ms", self.wall_offset_ms.to_string()),
            (
                "latency_ms",
                format!("{}..={}", self.net.latency_ms_min, self.net.latency_ms_max),
            ),
            ("split_percent", self.net.split_percent.to_string()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect();
        let mix: Vec<String> = OpKind::ALL
            .iter()
            .zip(&workload.mix)
            .filter(|(_, &weight)| weight > 0)
            .map(|(kind, weight)| format!("{}={weight}", kind.name()))
            .collect();
        lines.push(("mix".into(), mix.join(" ")));
        // Only runs with replicas say so, so other reports keep their
        // lines.
        if self.replicas > 0 {
            lines.push(("replicas".into(), self.replicas.to_string()));
            let split = self.net.peer_split_percent.to_string();
            lines.push(("peer_split_percent".into(), split));
            if self.net.peer_bytes_per_ms > 0 {
                let rate = self.net.peer_bytes_per_ms.to_string();
                lines.push(("peer_bytes_per_ms".into(), rate));
            }
            if !self.replica_config.is_empty() {
                let config = format!("{:?}", self.replica_config);
                lines.push(("replica_config".into(), config));
            }
            if !self.replica_configs.is_empty() {
                let configs = format!("{:?}", self.replica_configs);
                lines.push(("replica_configs".into(), configs));
            }
        }
        if self.replica_reads {
            lines.push(("replica_reads".into(), "MGETs on node 1".into()));
        }
        // Only runs with applications say so, so other reports keep their
        // lines.
        if self.apps.total() > 0 {
            let apps = &self.apps;
            let mut text = format!(
                "market={} logs={} queue={}",
                apps.market, apps.logs, apps.queue
            );
            if apps.confirm > 0 {
                text.push_str(&format!(" confirm={}", apps.confirm));
            }
            if apps.fallback_queue > 0 {
                text.push_str(&format!(" fallback_queue={}", apps.fallback_queue));
            }
            if apps.lock > 0 {
                text.push_str(&format!(" lock={}", apps.lock));
            }
            if apps.ratelimit > 0 {
                text.push_str(&format!(" ratelimit={}", apps.ratelimit));
            }
            lines.push(("apps".into(), text));
        }
        lines
    }
}
