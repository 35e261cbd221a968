//! Scenario files: named, versioned run descriptions in TOML.
//!
//! A scenario gives the topology (one node, or a master and its
//! replicas), the node's configuration (fixed
//! directives, and directives each seed chooses among), the workload (each
//! size as an inclusive `[min, max]` range the seed picks from, and the
//! command mix as weights), the network, the faults ([`FaultSpec`]), and
//! the checkers that must pass. Without a file, the built-in
//! [`Scenario::default`] (the same as `scenarios/smoke.toml`) runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::faults::FaultSpec;
use crate::workload::apps::AppsSection;
use crate::workload::ops::OpKind;
use crate::workload::ClientScript;
use crate::world::rng::Range;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub topology: Topology,
    #[serde(default)]
    pub node: NodeSection,
    #[serde(default)]
    pub workload: Workload,
    #[serde(default)]
    pub network: Network,
    #[serde(default)]
    pub faults: FaultSpec,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Nodes in the run: 1, or 1 plus `replicas`.
    pub nodes: u64,
    /// Replicas of node 0 (the master the clients talk to): nodes
    /// 1..=replicas start with `replicaof` pointing at it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub replicas: u64,
    /// Instead of `replicas`: each seed draws how many replicas node 0
    /// has, from this range (swarm testing; a seed that draws 0 runs one
    /// node exactly as without replicas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_per_seed: Option<Range>,
    /// Configuration lines every replica applies after node 0's own
    /// (`appendonly no`, `save 1 1`): replicas clone node 0's
    /// configuration otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_config: Vec<String>,
    /// Lines for one replica each, after `replica_config`: the first list
    /// is replica 1's, and so on (replicas past the end add none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_configs: Vec<Vec<String>>,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// Replicas in one run, at most.
pub const REPLICAS_MAX: u64 = 8;

impl Default for Topology {
    fn default() -> Self {
        Topology {
            nodes: 1,
            replicas: 0,
            replicas_per_seed: None,
            replica_config: Vec::new(),
            replica_configs: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    /// redis.conf lines applied to the node, in order, after `hz`.
    #[serde(default)]
    pub config: Vec<String>,
    /// Directives each seed sets to one of the values listed (swarm
    /// testing of the configuration), applied after `config`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub choose: BTreeMap<String, Vec<String>>,
    #[serde(default = "default_hz")]
    pub hz: Range,
    /// The node's wall clock offset from the epoch; drawn per seed when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_offset_ms: Option<u64>,
}

fn default_hz() -> Range {
    [1, 100]
}

impl Default for NodeSection {
    fn default() -> Self {
        NodeSection {
            config: Vec::new(),
            choose: BTreeMap::new(),
            hz: default_hz(),
            wall_offset_ms: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Workload {
    pub clients: Range,
    pub keys: Range,
    pub ops_per_client: Range,
    pub pipeline_depth: Range,
    pub think_ms: Range,
    pub connect_spread_ms: Range,
    pub disconnect_percent: Range,
    /// Longest time to live the workload sets with PX/PEXPIRE.
    pub expire_ms_max: Range,
    /// Chance that a transaction ends in DISCARD instead of EXEC.
    pub discard_percent: Range,
    /// EXEC retries after a WATCH conflict, at most.
    pub transaction_retries_max: u64,
    /// Largest value a client writes (most values stay short).
    pub value_bytes_max: Range,
    /// How long a client waits for a batch's replies before it gives up on
    /// the connection and reconnects (a socket timeout); 0: forever.
    pub timeout_ms: Range,
    /// Keys written before the clients start, so that snapshots and
    /// rewrites span many slices.
    pub prefill_keys: Range,
    /// Weights of the operation kinds, by name (see `OpKind::NAMES`).
    pub mix: BTreeMap<String, u64>,
    /// Clients running the applications of "Redis in Action", beside the
    /// drawn ones.
    #[serde(skip_serializing_if = "AppsSection::is_empty")]
    pub apps: AppsSection,
    /// Clients written out explicitly (what `shrink` writes): when given,
    /// they replace the drawn clients, one each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scripts: Vec<ClientScript>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            clients: [2, 8],
            keys: [8, 32],
            ops_per_client: [50, 300],
            pipeline_depth: [1, 8],
            think_ms: [0, 20],
            connect_spread_ms: [0, 200],
            disconnect_percent: [0, 5],
            expire_ms_max: [5, 500],
            discard_percent: [0, 20],
            transaction_retries_max: 5,
            value_bytes_max: [40, 40],
            timeout_ms: [0, 0],
            prefill_keys: [0, 0],
            mix: OpKind::ALL
                .iter()
                .map(|kind| (kind.name().to_string(), kind.default_weight()))
                .collect(),
            apps: AppsSection::default(),
            scripts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Network {
    /// Each seed draws a latency window inside this range (unless `fixed`).
    pub latency_ms: Range,
    pub split_percent: Range,
    /// Use the ranges as they are: the latency window is `latency_ms`, and
    /// the split chance `split_percent[0]` (what `shrink` writes).
    #[serde(skip_serializing_if = "is_false")]
    pub fixed: bool,
    /// Chance, in percent, that a message between two nodes is split
    /// (none without replicas); by default the clients' chance. No draw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_split_percent: Option<u64>,
    /// How fast a link between two nodes carries bytes, each way, in
    /// bytes per simulated ms (a full sync of a large dataset then takes
    /// seconds); by default without limit. No draw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_bytes_per_ms: Option<u64>,
}

fn is_false(value: &bool) -> bool {
    !value
}

impl Default for Network {
    fn default() -> Self {
        Network {
            latency_ms: [0, 10],
            split_percent: [0, 60],
            fixed: false,
            peer_split_percent: None,
            peer_bytes_per_ms: None,
        }
    }
}

/// The checkers a run of this scenario must pass.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub checkers: Vec<String>,
    /// The node may refuse to start after a crash (a scenario that injects
    /// damage it cannot recover from); otherwise a refusal fails the run.
    #[serde(default)]
    pub start_refusal: bool,
}

/// The checkers that exist, by the names scenarios use.
pub const CHECKER_NAMES: &[&str] = &[
    "reply_integrity",
    "model",
    "liveness",
    "work",
    "recovery",
    "prefix",
    "durable",
    "integrity",
    "enospc",
    "shutdown",
    "apps",
    "replication",
    "failover",
    "publish_confirm",
    "linearizable",
    "replica_reads",
];

/// The checkers every scenario without crashes runs.
const DEFAULT_CHECKERS: &[&str] = &["reply_integrity", "model", "liveness", "work"];

impl Default for Expect {
    fn default() -> Self {
        Expect {
            checkers: DEFAULT_CHECKERS.iter().map(|s| s.to_string()).collect(),
            start_refusal: false,
        }
    }
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "default".to_string(),
            description: "Built-in: the smoke workload.".to_string(),
            topology: Topology::default(),
            node: NodeSection::default(),
            workload: Workload::default(),
            network: Network::default(),
            faults: FaultSpec::default(),
            expect: Expect::default(),
        }
    }
}

fn check_range(name: &str, range: Range) -> Result<(), String> {
    if range[0] > range[1] {
        return Err(format!("{name}: min {} above max {}", range[0], range[1]));
    }
    Ok(())
}

impl Scenario {
    /// Parses and checks a scenario file's text.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks every range, name and section of an already parsed scenario.
    pub fn validate(&self) -> Result<(), String> {
        let topology = &self.topology;
        if topology.replicas > REPLICAS_MAX {
            return Err(format!(
                "topology.replicas: at most {REPLICAS_MAX} replicas are simulated"
            ));
        }
        if let Some(range) = topology.replicas_per_seed {
            if range[0] > range[1] || range[1] > REPLICAS_MAX || topology.replicas != 0 {
                return Err(format!(
                    "topology.replicas_per_seed: a range [min, max] with max at most {REPLICAS_MAX}, instead of topology.replicas"
                ));
            }
            if topology.nodes != 1 {
                return Err(
                    "topology.nodes: 1 with replicas_per_seed (the seed draws the rest)".into(),
                );
            }
        }
        if topology.nodes != 1 && topology.nodes != 1 + topology.replicas {
            return Err(
                "topology.nodes: one node, or one master and its replicas (1 + topology.replicas)"
                    .into(),
            );
        }
        let workload = &self.workload;
        for (name, range) in [
            ("node.hz", self.node.hz),
            ("workload.clients", workload.clients),
            ("workload.keys", workload.keys),
            ("workload.ops_per_client", workload.ops_per_client),
            ("workload.pipeline_depth", workload.pipeline_depth),
            ("workload.think_ms", workload.think_ms),
            ("workload.connect_spread_ms", workload.connect_spread_ms),
            ("workload.disconnect_percent", workload.disconnect_percent),
            ("workload.expire_ms_max", workload.expire_ms_max),
            ("workload.discard_percent", workload.discard_percent),
            ("workload.value_bytes_max", workload.value_bytes_max),
            ("workload.timeout_ms", workload.timeout_ms),
            ("workload.prefill_keys", workload.prefill_keys),
            ("network.latency_ms", self.network.latency_ms),
            ("network.split_percent", self.network.split_percent),
        ] {
            check_range(name, range)?;
        }
        self.faults.validate()?;
        for (name, values) in &self.node.choose {
            if values.is_empty() {
                return Err(format!("node.choose.{name}: no values to choose from"));
            }
        }
        for name in workload.mix.keys() {
            if OpKind::from_name(name).is_none() {
                return Err(format!("workload.mix: unknown operation {name:?}"));
            }
        }
        if workload.mix.values().all(|&w| w == 0) && workload.scripts.is_empty() {
            return Err("workload.mix: all weights are zero".into());
        }
        for name in &self.expect.checkers {
            if !CHECKER_NAMES.contains(&name.as_str()) {
                return Err(format!("expect.checkers: unknown checker {name:?}"));
            }
        }
        Ok(())
    }
}
