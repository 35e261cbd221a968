//! The simulator proper: an event heap over simulated time that drives one
//! `Node<SimEnv>`, its clients and the faults of its plan.
//!
//! Events are ordered by (simulated ms, sequence number); time jumps to the
//! next event, so idle time costs nothing. All events due at the same
//! millisecond form one event-loop iteration of the node: they are
//! delivered, then `before_sleep` runs once and the node's sends leave
//! through `SimNet`.
//!
//! A run has a fault phase and a quiet phase. In the fault phase the plan's
//! scheduled faults fire ([`super::lives`]: crashes, also between two disk
//! calls, pauses, clock jumps, full disks, shutdowns, bit flips) and the
//! disk injects its per-call faults. At the quiet phase every fault stops:
//! the disk heals, space returns, and a probe client must get a write
//! acknowledged within the plan's liveness bound. Once every client has
//! finished, the plan's final crash (if any) ends the run with one more
//! restart to judge.
//!
//! Each life of the node is an incarnation with its own connection ids and
//! trace. At each restart the durability checkers compare what the node
//! recovered with the lineage of write units ([`crate::check::durability`]);
//! the reference model then carries on from the recovered dataset.
//!
//! With `topology.replicas`, nodes 1..=N run beside it as its replicas
//! ([`super::nodes`]): each has its own iterations, timer and disk, and
//! the connections between nodes travel through `SimNet`'s peer links.
//! Their events never count as work the run waits for; instead, once the
//! work is over (and just before the final crash), the run waits for the
//! replicas to catch up and the replication checker compares datasets
//! ([`crate::check::replication`]). Without replicas nothing of this
//! happens, and no random draw is added. The plan's partitions between
//! node 0 and a replica ([`crate::world::net`]) start as faults of the
//! fault phase and heal by the quiet phase at the latest.
//! The plan's replica crashes ([`super::nodes`]) drop a replica, give its
//! disk the crash treatment node 0's gets, and start it again after their
//! delay; a replica that will not start again stays down, and the
//! replication checker fails the run naming why. The plan's failovers
//! ([`super::failover`]) promote a replica into node 0's seat.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use redoubt_core::env::ConnId;
use redoubt_core::{Config, Node};

use crate::check::apps::{AckedJob, AppFindings};
use crate::check::durability::{Trouble, WriteUnit, WrittenValues};
use crate::check::integrity::ConnectionLog;
use crate::check::model::Model;
use crate::check::recovery::RestartReport;
use crate::report::{replay_command, Report};
use crate::run::options::{RunOptions, EVENTS_MAX, SIM_TIME_MS_MAX};
use crate::run::scenario::Scenario;
use crate::workload::apps::App;
use crate::workload::{Client, ClientScript, Role};
use crate::world::clock::SimClock;
use crate::world::disk::{DiskOptions, SimDisk};
use crate::world::env::SimEnv;
use crate::world::net::SimNet;
use crate::world::rng::{stream, SimRng};
use crate::world::trace::TraceRecord;

pub use super::lives::Parked;
pub use super::nodes::ReplicationPaths;
use super::nodes::{node_addr, OtherNode, PeerDelivery, PeerLink};
use crate::check::replication::ReplicationEnd;

/// A connection as the simulator names it: the node incarnation it was
/// accepted by, and the id that incarnation gave it.
pub type SimConn = (usize, ConnId);

/// Operations each application client runs, at least.
const APP_OPERATIONS_MIN: u64 = 10;

/// Something that happens at a simulated time.
#[derive(Debug)]
pub(super) enum Event {
    ClientConnect {
        client: usize,
    },
    /// The client sends its next batch on `conn` (stale once the client
    /// moved to another connection).
    ClientSend {
        client: usize,
        conn: SimConn,
    },
    /// The client gives up on batch number `batch` if it is still waiting
    /// for it on `conn`.
    ClientTimeout {
        client: usize,
        conn: SimConn,
        batch: u64,
    },
    ToNode {
        conn: SimConn,
        bytes: Vec<u8>,
    },
    ToClient {
        conn: SimConn,
        bytes: Vec<u8>,
    },
    /// The client's close reaches the node.
    ClientClosed {
        conn: SimConn,
    },
    /// The node's close reaches the client.
    NodeClosed {
        conn: SimConn,
    },
    NodeTick,
    DiskDone,
    /// The plan's fault at this index fires.
    Fault {
        index: usize,
    },
    /// A crash armed to fall between disk calls found none in time: the
    /// process dies now.
    DeathDeadline {
        armed: u64,
    },
    /// A paused node resumes.
    Resume,
    /// Space returns after a full-disk episode.
    SpaceBack {
        episode: u64,
    },
    /// SIGTERM again after a refused shutdown, or SIGKILL after the grace.
    ShutdownRetry,
    /// The node that went down starts again.
    Restart,
    /// Every fault stops.
    Quiet,
    /// The run's last crash.
    FinalCrash,
    /// A node's connect reaches the address it named (see
    /// [`super::nodes`]).
    PeerOpen {
        link: usize,
    },
    /// Something reaches side `side` of a connection between nodes, on
    /// node `node`.
    PeerDeliver {
        node: usize,
        link: usize,
        side: usize,
        what: PeerDelivery,
    },
    /// The timer of node `node` (not node 0).
    OtherTick {
        node: usize,
    },
    /// Background disk operations of node `node` (not node 0) complete.
    OtherDiskDone {
        node: usize,
    },
    /// A partition between nodes heals ([`super::nodes`]).
    Heal {
        partition: usize,
    },
    /// Node `node` (not node 0), down after a crash, starts again.
    ReplicaRestart {
        node: usize,
    },
    /// The operator promotes a replica ([`super::failover`]).
    Promote,
}

impl Event {
    /// Whether the event is for the node itself, and so waits while the
    /// node is paused.
    pub(super) fn for_node(&self) -> bool {
        matches!(
            self,
            Event::ToNode { .. }
                | Event::ClientClosed { .. }
                | Event::NodeTick
                | Event::DiskDone
                | Event::ShutdownRetry
                | Event::PeerDeliver { node: 0, .. }
        )
    }

    /// Whether the run waits for the event before it ends: timers and the
    /// traffic between nodes (which never stops: pings, acks) do not
    /// count.
    fn is_work(&self) -> bool {
        !matches!(
            self,
            Event::NodeTick
                | Event::PeerOpen { .. }
                | Event::PeerDeliver { .. }
                | Event::OtherTick { .. }
                | Event::OtherDiskDone { .. }
        )
    }
}

struct Scheduled {
    at_ms: u64,
    sequence: u64,
    event: Event,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at_ms, self.sequence).cmp(&(other.at_ms, other.sequence))
    }
}

pub(super) struct ClientSlot {
    pub client: Client,
    pub conn: Option<SimConn>,
    pub finished: bool,
    /// Counted in liveness (workload clients and the probe).
    pub counted: bool,
}

/// The node: running (perhaps paused), or down between a crash or exit
/// and its restart.
pub(super) enum NodeState {
    Up {
        node: Box<Node<SimEnv>>,
        /// Paused (SIGSTOP, a stall) until this time; events for the node
        /// wait in `deferred`.
        paused_until: Option<u64>,
    },
    Down(Box<Parked>),
    /// Between states, or after the run ended with the node unable to
    /// come back.
    Gone,
}

/// Counts of recovery paths that ran: the evidence that faults reached the
/// code they test.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RecoveryPaths {
    pub aof_tails_truncated: u64,
    pub rewrites_interrupted: u64,
    pub saves_interrupted: u64,
    pub fsync_errors_recovered: u64,
    pub write_errors_recovered: u64,
    pub starts_refused: u64,
    pub shutdowns_refused: u64,
    pub crashes_between_disk_calls: u64,
    /// Values a background snapshot wrote over several steps.
    pub values_written_in_steps: u64,
}

impl RecoveryPaths {
    /// Every path by the name reports print, in a fixed order.
    pub fn named(&self) -> [(&'static str, u64); 9] {
        [
            ("aof_tails_truncated", self.aof_tails_truncated),
            ("rewrites_interrupted", self.rewrites_interrupted),
            ("saves_interrupted", self.saves_interrupted),
            ("fsync_errors_recovered", self.fsync_errors_recovered),
            ("write_errors_recovered", self.write_errors_recovered),
            ("starts_refused", self.starts_refused),
            ("shutdowns_refused", self.shutdowns_refused),
            (
                "crashes_between_disk_calls",
                self.crashes_between_disk_calls,
            ),
            ("values_written_in_steps", self.values_written_in_steps),
        ]
    }
}

/// A shutdown in progress: SIGTERM sent, the node not yet gone.
#[derive(Debug, Clone, Copy)]
pub(super) struct ShutdownProgress {
    pub since_ms: u64,
    pub power_loss: bool,
    pub restart_delay_ms: u64,
    pub is_final: bool,
    /// The client sending SHUTDOWN, when asked by command: if it gets a
    /// reply, the shutdown was refused.
    pub command_client: Option<usize>,
}

/// One shutdown as the shutdown checker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownRecord {
    pub requested_ms: u64,
    /// When the node exited, if it did cleanly.
    pub exited_ms: Option<u64>,
    /// Killed after the grace period.
    pub killed: bool,
    /// Requested during the quiet phase (no fault active).
    pub in_quiet_phase: bool,
    /// The exit made every acknowledged write safe first.
    pub made_safe: bool,
    /// `CONFIG SET appendonly` had switched the node's persistence away
    /// from its config file's: the restart reads the file's and loads
    /// another copy, so the exit promises nothing (as in Redis, where
    /// CONFIG SET is not remembered without CONFIG REWRITE).
    pub persistence_switched: bool,
}

/// One full-disk episode as the ENOSPC checker sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFullRecord {
    pub start_ms: u64,
    pub space_back_ms: Option<u64>,
    /// When the node's AOF wrote again without error after space returned.
    pub resumed_ms: Option<u64>,
    /// The node saw a write error during the episode.
    pub hit: bool,
}

/// One run in progress.
pub struct Simulation {
    pub(super) options: RunOptions,
    pub(super) now_ms: u64,
    heap: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    /// Events in the heap other than node ticks.
    pending_work: u64,
    /// The configuration every start of the node uses.
    pub(super) config: Config,
    pub(super) node: NodeState,
    /// Events for a paused node, in arrival order.
    pub(super) deferred: Vec<Event>,
    /// Background fsyncs that completed while the node was paused.
    pub(super) deferred_disk: Vec<(redoubt_core::env::DiskOpId, std::io::Result<()>)>,
    /// Lives of the node so far, minus one.
    pub(super) incarnation: usize,
    /// Traces of the incarnations that ended, in order.
    pub(super) traces: Vec<Vec<TraceRecord>>,
    /// Trace hashes of the incarnations that ended.
    pub(super) trace_hashes: Vec<u64>,
    /// The reference model, fed each incarnation's trace at its end.
    pub(super) model: Model,
    /// The write units the node's data descends from.
    pub(super) lineage: Vec<WriteUnit>,
    pub(super) written: WrittenValues,
    pub(super) trouble: Trouble,
    /// Stretches in which the node was down or paused.
    pub(super) absent: Vec<(u64, u64)>,
    pub(super) restarts: Vec<RestartReport>,
    pub(super) net: SimNet,
    pub(super) clients: Vec<ClientSlot>,
    /// Enqueues the node acknowledged to the applications.
    pub(super) app_acks: Vec<AckedJob>,
    /// What the applications' invariants found so far.
    pub(super) app_findings: AppFindings,
    pub(super) connections: BTreeMap<SimConn, ConnectionLog>,
    /// Connections of the running incarnation that the node holds open.
    pub(super) open_at_node: BTreeSet<ConnId>,
    tick_at_ms: Option<u64>,
    disk_done_at_ms: BTreeSet<u64>,
    pub(super) node_touched: bool,
    pub(super) events_processed: u64,
    /// Writes whose replies left the node, over the run.
    pub(super) writes_acknowledged: u64,
    pub(super) requests_lost: u64,
    pub(super) requests_lost_to_crashes: u64,
    pub(super) stopped_by: Option<String>,
    /// Faults that fired, by kind.
    pub(super) tallies: BTreeMap<&'static str, u64>,
    /// Faults that fired, in order: (simulated ms, what).
    pub(super) fired: Vec<(u64, String)>,
    /// Bit flips waiting for the node to go down (their file filters).
    pub(super) flips_waiting: Vec<String>,
    /// Stretches in which the node was paused (or stalled).
    pub(super) pauses: Vec<(u64, u64)>,
    /// Disk errors and slow fsyncs the node saw: (start, end) ms.
    pub(super) disk_trouble: Vec<(u64, u64)>,
    /// Build the report's timeline (for `run --html`).
    pub(super) record_timeline: bool,
    /// What each workload client sent, for `shrink` to write out.
    pub(super) recorded: Option<Vec<ClientScript>>,
    pub(super) quiet: bool,
    pub(super) quiet_since_ms: Option<u64>,
    /// The liveness probe's client index, once the quiet phase started.
    pub(super) probe: Option<usize>,
    pub(super) probe_acked_ms: Option<u64>,
    /// When the probe's bound started: the quiet phase, or the node coming
    /// up after it.
    pub(super) probe_from_ms: Option<u64>,
    /// When the node last came up.
    pub(super) up_since_ms: u64,
    pub(super) wall_jump_ms: i64,
    /// The latest wall time the node's clock has shown before a jump moved
    /// it: a key whose expiry passed then may be gone, whatever the clock
    /// says now, so recovery is judged at this time or later.
    pub(super) wall_high_ms: i64,
    /// Armed crash between disk calls: (arm id, crash, restart delay).
    pub(super) death: Option<(u64, crate::faults::CrashKind, u64)>,
    pub(super) deaths_armed: u64,
    pub(super) shutdown: Option<ShutdownProgress>,
    pub(super) shutdowns: Vec<ShutdownRecord>,
    pub(super) disk_fulls: Vec<DiskFullRecord>,
    pub(super) capacity_default_bytes: u64,
    pub(super) paths: RecoveryPaths,
    /// The node's AOF errors at the last look: (write error, fsync error).
    pub(super) aof_errors_seen: (bool, bool),
    /// Since when the node's AOF has held an unrecovered fsync error: the
    /// whole stretch is trouble for the `everysec` rule, not only the
    /// moment the error was reported.
    pub(super) fsync_error_since_ms: Option<u64>,
    /// AOF fsync errors the kernel reported to a node that went down
    /// before it heard of them (stalled, then crashed): no process can
    /// learn of them afterwards, so they are lost fsyncs in effect.
    pub(super) unheard_fsync_errors: u64,
    pub(super) final_scheduled: bool,
    /// The run is over: the final restart was judged, or the node could
    /// not come back.
    pub(super) ended: bool,
    /// The address node 0 listens on (for its replicas).
    pub(super) master_addr: String,
    /// Nodes 1..: node 0's replicas.
    pub(super) others: Vec<OtherNode>,
    /// Connections between nodes, by the index of their `SimNet` link.
    pub(super) peer_links: Vec<PeerLink>,
    /// Open ends of connections between nodes: (node, incarnation, conn)
    /// to (link, side).
    pub(super) peer_ends: BTreeMap<(usize, usize, ConnId), (usize, usize)>,
    /// Node 0's connections from other nodes, (incarnation, conn), ever.
    pub(super) master_peer_conns: BTreeSet<SimConn>,
    /// Since when the run waits for the replicas to catch up.
    pub(super) settle_since_ms: Option<u64>,
    /// How the replicas stood once they caught up, or the wait ended.
    pub(super) replication: Option<ReplicationEnd>,
    /// Since when the final crash waits for the replicas to catch up.
    pub(super) final_wait_since_ms: Option<u64>,
    /// How the replicas stood just before the final crash.
    pub(super) replication_before_final: Option<ReplicationEnd>,
    /// Partitions started so far (their ids in `SimNet`).
    pub(super) partitions_started: usize,
    /// How replicas synced, when the scenario asks for partitions.
    pub(super) replication_paths: ReplicationPaths,
    /// A failover whose promotion is due.
    pub(super) failover: Option<super::failover::FailoverStart>,
    /// The failovers so far.
    pub(super) failovers: Vec<crate::check::failover::FailoverRecord>,
    /// When nodes were lost (replica crashes, masters a failover replaced),
    /// for what a later failover owes.
    pub(super) nodes_lost_ms: Vec<u64>,
    /// The proxy routes new connections to node 0 from this time on.
    pub(super) proxy_ready_at_ms: u64,
    /// The replication history node 0 was at when last seen up.
    pub(super) master_history: String,
    /// The publish-confirm application's listener on a replica, in runs
    /// with both.
    pub(super) listener: Option<super::listener::ListenerState>,
    pub(super) confirm_findings: crate::check::confirm::ConfirmFindings,
    /// The reader on a replica, in runs that draw it.
    pub(super) reader: Option<super::reader::ReaderState>,
}

impl Simulation {
    /// Builds every piece of a run from the seed; nothing is shared with
    /// other runs.
    pub fn new(options: RunOptions) -> Result<Self, String> {
        let restarts_counted = options.replica_crashes_asked;
        let mut config = options.node_config()?;
        if options.replicas > 0 {
            // A full sync starts as soon as a replica asks.
            config
                .apply_file_text(REPLICATED_MASTER_CONFIG)
                .map_err(|e| format!("{}: {}", e.text, e.reason))?;
        }
        let seed = options.seed;
        let mut clock = SimClock::new(options.wall_offset_ms as i64);
        clock.drift_parts_per_million = options.faults.drift_ppm;
        let disk_options = disk_options(&options);
        let capacity_default_bytes = disk_options.capacity_bytes;
        let disk = SimDisk::new(disk_options, SimRng::new(seed, stream::DISK));
        let env = SimEnv::new(clock, disk, SimRng::new(seed, stream::NODE_RANDOM));
        let node = Node::start(env, config.clone())
            .map_err(|e| format!("the node refused its first start: {}", e.reason))?;
        let master_addr = node_addr(config.port, 0);
        let others = other_nodes(&options, &config)?;
        let mut net = SimNet::new(seed, options.clients as usize, options.net.clone());
        let mut clients: Vec<ClientSlot> = (0..options.clients as usize)
            .map(|index| {
                let role = match options.scripts.get(index) {
                    Some(script) => Role::replay(script),
                    None => Role::Workload,
                };
                ClientSlot {
                    client: Client::with_role(index, &options.workload, role),
                    conn: None,
                    finished: false,
                    counted: true,
                }
            })
            .collect();
        let operations = (options.workload.ops_per_client / 2).max(APP_OPERATIONS_MIN);
        for app in App::all(options.apps, operations) {
            let index = clients.len();
            net.add_link(seed, index);
            clients.push(ClientSlot {
                client: Client::with_role(index, &options.workload, Role::App(Box::new(app))),
                conn: None,
                finished: false,
                counted: true,
            });
        }
        let options_confirm = options.apps.confirm > 0;
        let reader = options.replica_reads.then(|| {
            let extra = match options.apps.lock {
                0 => Vec::new(),
                _ => crate::workload::apps::lock::STRING_KEYS
                    .iter()
                    .map(|key| key.to_vec())
                    .collect(),
            };
            super::reader::ReaderState::new(options.seed, options.workload.keys, extra)
        });
        let others_empty = others.is_empty();
        let simulation = Simulation {
            options,
            now_ms: 0,
            heap: BinaryHeap::new(),
            sequence: 0,
            pending_work: 0,
            config,
            node: NodeState::Up {
                node: Box::new(node),
                paused_until: None,
            },
            deferred: Vec::new(),
            deferred_disk: Vec::new(),
            incarnation: 0,
            traces: Vec::new(),
            trace_hashes: Vec::new(),
            model: Model::default(),
            lineage: Vec::new(),
            written: WrittenValues::default(),
            trouble: Trouble::default(),
            absent: Vec::new(),
            restarts: Vec::new(),
            net,
            clients,
            app_acks: Vec::new(),
            app_findings: AppFindings::default(),
            connections: BTreeMap::new(),
            open_at_node: BTreeSet::new(),
            tick_at_ms: None,
            disk_done_at_ms: BTreeSet::new(),
            node_touched: true,
            events_processed: 0,
            writes_acknowledged: 0,
            requests_lost: 0,
            requests_lost_to_crashes: 0,
            stopped_by: None,
            tallies: BTreeMap::new(),
            fired: Vec::new(),
            flips_waiting: Vec::new(),
            pauses: Vec::new(),
            disk_trouble: Vec::new(),
            record_timeline: false,
            recorded: None,
            quiet: false,
            quiet_since_ms: None,
            probe: None,
            probe_acked_ms: None,
            probe_from_ms: None,
            up_since_ms: 0,
            wall_jump_ms: 0,
            wall_high_ms: i64::MIN,
            death: None,
            deaths_armed: 0,
            shutdown: None,
            shutdowns: Vec::new(),
            disk_fulls: Vec::new(),
            capacity_default_bytes,
            paths: RecoveryPaths::default(),
            aof_errors_seen: (false, false),
            fsync_error_since_ms: None,
            unheard_fsync_errors: 0,
            final_scheduled: false,
            ended: false,
            master_addr,
            others,
            peer_links: Vec::new(),
            peer_ends: BTreeMap::new(),
            master_peer_conns: BTreeSet::new(),
            settle_since_ms: None,
            replication: None,
            final_wait_since_ms: None,
            replication_before_final: None,
            partitions_started: 0,
            replication_paths: ReplicationPaths {
                restarts_counted,
                ..ReplicationPaths::default()
            },
            failover: None,
            failovers: Vec::new(),
            nodes_lost_ms: Vec::new(),
            proxy_ready_at_ms: 0,
            master_history: String::new(),
            listener: (options_confirm && !others_empty).then(Default::default),
            confirm_findings: Default::default(),
            reader,
        };
        Ok(simulation)
    }

    /// The first events: clients connecting, the prefill, the plan's
    /// faults and its quiet phase.
    fn schedule_start(&mut self) {
        self.apply_disk_profile();
        if tracing::enabled!(target: "redoubt_sim", tracing::Level::DEBUG) {
            self.disk_mut().set_recording(true);
        }
        for index in 0..self.clients.len() {
            let spread = self.options.connect_spread_ms;
            let drawn = self.clients[index].client.connect_delay_ms(spread);
            let delay = self
                .options
                .scripts
                .get(index)
                .map_or(drawn, |script| script.connect_ms);
            if let Some(recorded) = self.recorded.as_mut() {
                recorded.push(ClientScript {
                    connect_ms: delay,
                    steps: Vec::new(),
                });
            }
            self.schedule(delay, Event::ClientConnect { client: index });
        }
        self.start_prefill();
        for index in 0..self.options.faults.schedule.len() {
            let at_ms = self.options.faults.schedule[index].at_ms();
            self.schedule(at_ms, Event::Fault { index });
        }
        if let Some(at_ms) = self.options.faults.quiet_at_ms {
            self.schedule(at_ms, Event::Quiet);
        }
    }

    pub(super) fn schedule(&mut self, at_ms: u64, event: Event) {
        if event.is_work() {
            self.pending_work += 1;
        }
        self.sequence += 1;
        self.heap.push(Reverse(Scheduled {
            at_ms,
            sequence: self.sequence,
            event,
        }));
    }

    /// The run's own work is over: the final restart was judged, or every
    /// client finished and nothing but timers and traffic between nodes
    /// is left.
    pub(super) fn work_done(&self) -> bool {
        if self.ended {
            return true;
        }
        let clients_done = self.clients.iter().all(|slot| slot.finished);
        clients_done && self.pending_work == 0
    }

    /// The run's work is over and, with replicas, they caught up (or the
    /// wait for them ended, or node 0 is down for good).
    fn done(&self) -> bool {
        if !self.work_done() {
            return false;
        }
        self.others.is_empty()
            || self.replication.is_some()
            || !matches!(self.node, NodeState::Up { .. })
    }

    /// Runs to the end and judges the run.
    pub fn run(self) -> Report {
        self.run_recorded().0
    }

    /// Runs to the end, judges the run, and gives back what the workload
    /// clients sent (empty unless [`Simulation::with_recording`]).
    pub fn run_recorded(mut self) -> (Report, Vec<ClientScript>) {
        self.schedule_start();
        self.end_iteration();
        self.end_other_iterations();
        while !self.done() {
            let Some(Reverse(next)) = self.heap.pop() else {
                self.stopped_by = Some("an empty event heap".into());
                break;
            };
            if let Some(bound) = self.bound_hit(next.at_ms) {
                self.stopped_by = Some(bound);
                break;
            }
            if next.event.is_work() {
                self.pending_work -= 1;
            }
            assert!(next.at_ms >= self.now_ms, "simulated time went backwards");
            self.now_ms = next.at_ms;
            self.advance_node_clock();
            self.dispatch(next.at_ms, next.event);
            self.events_processed += 1;
            if self.stopped_by.is_some() {
                break;
            }
            let iteration_over = !matches!(self.heap.peek(), Some(n) if n.0.at_ms <= self.now_ms);
            if self.node_touched && iteration_over {
                self.end_iteration();
            }
            if iteration_over && !self.others.is_empty() {
                self.end_other_iterations();
                self.watch_replication();
            }
            self.maybe_schedule_final();
        }
        let recorded = self.recorded.take().unwrap_or_default();
        (self.finish(), recorded)
    }

    fn bound_hit(&self, at_ms: u64) -> Option<String> {
        if self.events_processed >= EVENTS_MAX {
            return Some(format!("events_max ({EVENTS_MAX})"));
        }
        if at_ms > SIM_TIME_MS_MAX {
            return Some(format!("sim_time_ms_max ({SIM_TIME_MS_MAX})"));
        }
        None
    }

    fn advance_node_clock(&mut self) {
        let now = self.now_ms;
        match &mut self.node {
            NodeState::Up { node, .. } => node.env_mut().advance_to(now),
            NodeState::Down(parked) => parked.disk.set_now_ms(now),
            NodeState::Gone => {}
        }
        if !self.others.is_empty() {
            self.advance_other_clocks();
        }
    }

    /// The running node, if it is up and not paused.
    pub(super) fn running(&mut self) -> Option<&mut Node<SimEnv>> {
        match &mut self.node {
            NodeState::Up {
                node,
                paused_until: None,
            } => Some(node),
            _ => None,
        }
    }

    /// Whether the node is up and paused.
    pub(super) fn paused(&self) -> bool {
        matches!(
            self.node,
            NodeState::Up {
                paused_until: Some(_),
                ..
            }
        )
    }

    /// The node's disk, whether the node is up or down.
    pub(super) fn disk_mut(&mut self) -> &mut SimDisk {
        match &mut self.node {
            NodeState::Up { node, .. } => &mut node.env_mut().disk,
            NodeState::Down(parked) => &mut parked.disk,
            NodeState::Gone => unreachable!("the node is between states only inside a call"),
        }
    }

    /// Prints one line of the run's trace (`run --trace`): simulated time,
    /// then what happened. Costs nothing when tracing is off.
    pub(super) fn trace_line(&self, text: std::fmt::Arguments<'_>) {
        tracing::debug!(target: "redoubt_sim", "{:>9} ms  {}", self.now_ms, text);
    }

    fn dispatch(&mut self, at_ms: u64, event: Event) {
        let tracing = tracing::enabled!(target: "redoubt_sim", tracing::Level::DEBUG);
        if tracing {
            self.trace_event(&event);
        }
        self.dispatch_event(at_ms, event);
        if tracing {
            self.trace_disk_calls();
        }
    }

    /// Prints the disk calls made since the last look, with their outcomes.
    pub(super) fn trace_disk_calls(&mut self) {
        let calls = match &mut self.node {
            NodeState::Up { node, .. } => node.env_mut().disk.take_calls(),
            NodeState::Down(parked) => parked.disk.take_calls(),
            NodeState::Gone => Vec::new(),
        };
        for call in calls {
            self.trace_line(format_args!(
                "disk {} {} {} -> {}",
                call.op, call.path, call.detail, call.outcome
            ));
        }
    }

    fn dispatch_event(&mut self, at_ms: u64, event: Event) {
        if event.for_node() && self.paused() {
            if matches!(event, Event::DiskDone) {
                // The kernel finishes the fsync; the node hears of it later.
                self.disk_done_at_ms.remove(&at_ms);
                let done = self.disk_mut().complete_due(at_ms);
                self.record_disk_done_trouble(&done);
                self.deferred_completions(done);
                return;
            }
            self.deferred.push(event);
            return;
        }
        self.handle(at_ms, event);
        self.after_node_event();
    }

    fn trace_event(&self, event: &Event) {
        let show = |bytes: &[u8]| {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(120)]);
            text.replace("\r\n", " ")
        };
        match event {
            Event::ToNode { conn, bytes } => self.trace_line(format_args!(
                "node <- conn {}/{}: {}",
                conn.0,
                conn.1,
                show(bytes)
            )),
            Event::ToClient { conn, bytes } => self.trace_line(format_args!(
                "client <- conn {}/{}: {}",
                conn.0,
                conn.1,
                show(bytes)
            )),
            Event::PeerDeliver {
                node,
                link,
                side,
                what,
            } => {
                let what = match what {
                    PeerDelivery::Bytes(bytes) => show(bytes),
                    other => format!("{other:?}"),
                };
                self.trace_line(format_args!(
                    "node {node} <- peer link {link} side {side}: {what}"
                ))
            }
            Event::NodeTick
            | Event::ClientSend { .. }
            | Event::ClientTimeout { .. }
            | Event::OtherTick { .. }
            | Event::OtherDiskDone { .. } => {}
            other => self.trace_line(format_args!("{other:?}")),
        }
    }

    pub(super) fn handle(&mut self, at_ms: u64, event: Event) {
        match event {
            Event::ClientConnect { client } => self.client_connect(client),
            Event::ClientSend { client, conn } => self.client_send(client, conn),
            Event::ClientTimeout {
                client,
                conn,
                batch,
            } => self.client_timeout(client, conn, batch),
            Event::ToNode { conn, bytes } => {
                if let Some(node) = self.node_for(conn) {
                    node.on_bytes(conn.1, &bytes);
                    self.node_touched = true;
                }
            }
            Event::ToClient { conn, bytes } => self.client_receive(conn, &bytes),
            Event::ClientClosed { conn } => {
                if let Some(node) = self.node_for(conn) {
                    node.on_closed(conn.1);
                    self.open_at_node.remove(&conn.1);
                    self.node_touched = true;
                }
            }
            Event::NodeClosed { conn } => self.client_lost(conn),
            Event::NodeTick => self.node_tick(at_ms),
            Event::DiskDone => self.disk_done(at_ms),
            Event::Fault { index } => self.fault(index),
            Event::DeathDeadline { armed } => self.death_deadline(armed),
            Event::Resume => self.resume(),
            Event::SpaceBack { episode } => self.space_back(episode as usize),
            Event::ShutdownRetry => self.shutdown_retry(),
            Event::Restart => self.restart(),
            Event::Quiet => self.quiet_phase(),
            Event::FinalCrash => self.final_crash(),
            Event::PeerOpen { link } => self.peer_open(link),
            Event::PeerDeliver {
                node,
                link,
                side,
                what,
            } => self.peer_deliver(node, link, side, what),
            Event::OtherTick { node } => self.other_tick(node, at_ms),
            Event::OtherDiskDone { node } => self.other_disk_done(node, at_ms),
            Event::Heal { partition } => self.net.heal(partition),
            Event::ReplicaRestart { node } => self.restart_replica(node),
            Event::Promote => self.promote(),
        }
    }

    fn node_tick(&mut self, at_ms: u64) {
        if self.tick_at_ms != Some(at_ms) {
            return;
        }
        if let Some(node) = self.running() {
            node.on_tick();
            self.tick_at_ms = None;
            self.node_touched = true;
        }
    }

    fn disk_done(&mut self, at_ms: u64) {
        self.disk_done_at_ms.remove(&at_ms);
        let Some(node) = self.running() else {
            return;
        };
        let done = node.env_mut().disk.complete_due(at_ms);
        for (op, result) in &done {
            let result = match result {
                Ok(()) => Ok(()),
                Err(error) => Err(std::io::Error::new(error.kind(), error.to_string())),
            };
            node.on_disk_done(*op, result);
        }
        self.record_disk_done_trouble(&done);
        self.node_touched = true;
    }

    fn record_disk_done_trouble(&mut self, done: &[(u64, std::io::Result<()>)]) {
        if done.iter().any(|(_, result)| result.is_err()) {
            self.trouble.add(self.now_ms, self.now_ms);
        }
    }

    /// The end of a node event-loop iteration: `before_sleep`, then what it
    /// sent, the next tick and background disk completions.
    pub(super) fn end_iteration(&mut self) {
        self.node_touched = false;
        let now = self.now_ms;
        let count_logs = self.replication_paths_asked();
        let Some(node) = self.running() else {
            return;
        };
        node.before_sleep();
        let tracing = tracing::enabled!(target: "redoubt_sim", tracing::Level::DEBUG);
        if tracing || count_logs {
            // Node 0's log lines are hashed already; nothing else reads them.
            let logs = std::mem::take(&mut node.env_mut().logs);
            if count_logs {
                let lines = logs.iter().map(|(_, _, line)| line.as_str());
                self.replication_paths.count_log_lines(lines);
            }
            if tracing {
                for (_, level, line) in &logs {
                    self.trace_line(format_args!("node log {level:?}: {line}"));
                }
            }
        }
        self.trace_disk_calls();
        let Some(node) = self.running() else {
            return;
        };
        let stall_ms = node.env_mut().disk.take_stall_ms();
        let deadline = node
            .env()
            .clock
            .sim_ms_at_monotonic(node.next_deadline())
            .max(now);
        let due: Vec<u64> = node.env().disk.pending_due_ms();
        self.collect_env_trouble();
        self.drain_outbox();
        self.after_node_event();
        if self.running().is_none() {
            return;
        }
        self.watch_aof_errors();
        if self.tick_at_ms != Some(deadline) {
            self.tick_at_ms = Some(deadline);
            self.schedule(deadline, Event::NodeTick);
        }
        for at_ms in due {
            if self.disk_done_at_ms.insert(at_ms) {
                self.schedule(at_ms, Event::DiskDone);
            }
        }
        if stall_ms > 0 {
            self.pause_for(stall_ms);
        }
    }

    /// After anything the node did: a process that died between disk
    /// calls crashes now, and a node that finished shutting down exits.
    pub(super) fn after_node_event(&mut self) {
        let dead = match &self.node {
            NodeState::Up { node, .. } => node.env().disk.is_dead(),
            _ => false,
        };
        if dead {
            self.die_between_disk_calls();
            return;
        }
        let asked = match &self.node {
            NodeState::Up { node, .. } => node.shutdown_requested(),
            _ => false,
        };
        if asked {
            self.finish_shutdown();
        }
    }

    /// Clears a node's plan-independent run state when it goes down.
    pub(super) fn forget_node_schedule(&mut self) {
        self.tick_at_ms = None;
        self.disk_done_at_ms.clear();
        self.deferred.clear();
        // Completions the stalled node never heard die with it; the next
        // life numbers its operations afresh.
        self.deferred_disk.clear();
    }

    /// Also builds the report's timeline, for the HTML picture.
    pub fn with_timeline(mut self) -> Self {
        self.record_timeline = true;
        self
    }

    /// Also records every batch each workload client sends, as scripts.
    pub fn with_recording(mut self) -> Self {
        self.recorded = Some(Vec::new());
        self
    }
}

/// What node 0 adds to its configuration when it has replicas.
const REPLICATED_MASTER_CONFIG: &str = "repl-diskless-sync-delay 0";

/// Node 0's replicas, each on its own port and streams, started with
/// `replicaof` pointing at node 0; the same configuration otherwise.
fn other_nodes(options: &RunOptions, master: &Config) -> Result<Vec<OtherNode>, String> {
    let mut others = Vec::new();
    for number in 1..=options.replicas as usize {
        let addr = node_addr(master.port, number);
        let (_, port) = addr.rsplit_once(':').expect("host:port");
        let mut config = master.clone();
        let mut lines = format!(
            "port {port}\nreplicaof {} {}",
            super::nodes::NODE_HOST,
            master.port
        );
        let own = options.replica_configs.get(number - 1);
        for line in options
            .replica_config
            .iter()
            .chain(own.into_iter().flatten())
        {
            lines.push('\n');
            lines.push_str(line);
        }
        config
            .apply_file_text(&lines)
            .map_err(|e| format!("replica {number}: {}: {}", e.text, e.reason))?;
        let base = stream::OTHER_NODE_BASE + number as u64 * stream::NODE_STREAMS;
        let clock = SimClock::new(options.wall_offset_ms as i64);
        let disk = SimDisk::new(
            disk_options(options),
            SimRng::new(options.seed, base + stream::NODE_OFFSET_DISK),
        );
        let random = SimRng::new(options.seed, base + stream::NODE_OFFSET_RANDOM);
        let env = SimEnv::new(clock, disk, random);
        let node = Node::start(env, config.clone())
            .map_err(|e| format!("replica {number} refused its first start: {}", e.reason))?;
        others.push(OtherNode::new(addr, node, config));
    }
    Ok(others)
}

/// The disk of a run: the default, with the plan's fsync latency.
fn disk_options(options: &RunOptions) -> DiskOptions {
    let profile = &options.faults.disk;
    let mut disk = DiskOptions::default();
    if profile.fsync_delay_ms_max > 0 {
        disk.fsync_delay_ms_min = profile.fsync_delay_ms_min;
        disk.fsync_delay_ms_max = profile.fsync_delay_ms_max;
    }
    disk
}

/// Runs `seed` under `scenario` and returns its report. `scenario_path` is
/// how the scenario was named on the command line, for the replay command.
pub fn run_seed(
    seed: u64,
    scenario: &Scenario,
    scenario_path: Option<&str>,
) -> Result<Report, String> {
    run_seed_with(seed, scenario, scenario_path, false)
}

/// [`run_seed`], with the timeline built when `timeline` is set.
pub fn run_seed_with(
    seed: u64,
    scenario: &Scenario,
    scenario_path: Option<&str>,
    timeline: bool,
) -> Result<Report, String> {
    let options = RunOptions::derive(seed, scenario);
    let mut simulation = Simulation::new(options)?;
    if timeline {
        simulation = simulation.with_timeline();
    }
    let mut report = simulation.run();
    report.scenario_path = scenario_path.map(str::to_string);
    if let Some(timeline) = report.timeline.as_mut() {
        timeline.replay = replay_command(report.options.seed, scenario_path);
    }
    Ok(report)
}
