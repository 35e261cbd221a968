//! The simulator proper: an event heap over simulated time that drives one
//! `Node<SimEnv>` and its clients.
//!
//! Events are ordered by (simulated ms, sequence number); time jumps to the
//! next event, so idle time costs nothing. All events due at the same
//! millisecond form one event-loop iteration of the node: they are
//! delivered, then `before_sleep` runs once and the node's sends leave
//! through `SimNet`. A run ends when every client has finished and no
//! message is in flight, or when it hits a bound (`EVENTS_MAX`,
//! `SIM_TIME_MS_MAX`).
//!
//! Crashes ([`crate::faults::CrashPlan`]) take the node's environment
//! back, crash its disk, and close every connection (bytes the node sent
//! before still arrive, then the close); the node restarts after a delay
//! with `Node::start` on the same disk, a clock that carried on, and a
//! fresh random stream. Each life of the node is an incarnation with its
//! own connection ids and trace. At each restart the durability checkers
//! ([`crate::check::durability`]) compare what the node recovered with the write
//! log of the incarnation that crashed; the reference model then carries
//! on from the recovered dataset. Clients reconnect and go on.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use redoubt_core::env::ConnId;
use redoubt_core::{ConnInfo, Node};

use redoubt_core::db::Value;
use redoubt_core::env::Clock;
use redoubt_core::Config;

use crate::check::durability::{check_recovery, durable_rule, WriteLog};
use crate::check::integrity::{check_reply_integrity_runs, ConnectionLog, Incarnation};
use crate::check::liveness::{check_liveness, LivenessFacts};
use crate::check::model::{Dataset, Entry, Model};
use crate::check::recovery::{crash_verdicts, CrashReport, Recovered};
use crate::check::{model_verdict, Verdict};
use crate::report::{FaultTally, Report};
use crate::run::options::{RunOptions, EVENTS_MAX, SIM_TIME_MS_MAX};
use crate::run::scenario::Scenario;
use crate::workload::ops::OpKind;
use crate::workload::resp::encode_request;
use crate::workload::{ClientStats, Next};
use crate::world::clock::SimClock;
use crate::world::disk::{DiskOptions, SimDisk};
use crate::world::env::{NetAction, SimEnv};
use crate::world::hash::TraceHasher;
use crate::world::net::{Direction, SimNet};
use crate::world::rng::{stream, SimRng};
use crate::world::trace::{TraceEvent, TraceRecord};

/// A connection as the simulator names it: the node incarnation it was
/// accepted by, and the id that incarnation gave it.
pub type SimConn = (usize, ConnId);

/// Something that happens at a simulated time.
#[derive(Debug)]
enum Event {
    ClientConnect {
        client: usize,
    },
    /// The client sends its next batch on `conn` (stale once the client
    /// moved to another connection).
    ClientSend {
        client: usize,
        conn: SimConn,
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
    /// The node crashes (index into the crash plan).
    Crash {
        index: usize,
    },
    /// The crashed node starts again.
    Restart {
        index: usize,
    },
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

struct ClientSlot {
    client: crate::workload::Client,
    conn: Option<SimConn>,
    finished: bool,
}

/// A node that crashed and waits for its restart.
struct Parked {
    disk: SimDisk,
    restart_at_ms: u64,
    /// What the incarnation that crashed wrote, and the model's state at
    /// the crash.
    log: WriteLog,
    final_state: Dataset,
}

/// One run in progress.
pub struct Simulation {
    options: RunOptions,
    now_ms: u64,
    heap: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    /// Events in the heap other than node ticks.
    pending_work: u64,
    config: Config,
    /// The running node; `None` between a crash and its restart.
    node: Option<Node<SimEnv>>,
    parked: Option<Parked>,
    /// Lives of the node so far, minus one.
    incarnation: usize,
    /// Traces of the incarnations that ended, in order.
    traces: Vec<Vec<TraceRecord>>,
    /// Trace hashes of the incarnations that ended.
    trace_hashes: Vec<u64>,
    /// The reference model, fed each incarnation's trace at its end.
    model: Model,
    crashes: Vec<CrashReport>,
    net: SimNet,
    clients: Vec<ClientSlot>,
    clients_finished: usize,
    connections: BTreeMap<SimConn, ConnectionLog>,
    /// Connections of the running incarnation that the node holds open.
    open_at_node: BTreeSet<ConnId>,
    tick_at_ms: Option<u64>,
    disk_done_at_ms: BTreeSet<u64>,
    node_touched: bool,
    events_processed: u64,
    requests_lost: u64,
    requests_lost_to_crashes: u64,
    stopped_by: Option<String>,
}

impl Simulation {
    /// Builds every piece of a run from the seed; nothing is shared with
    /// other runs.
    pub fn new(options: RunOptions) -> Result<Self, String> {
        let config = options.node_config()?;
        let seed = options.seed;
        let clock = SimClock::new(options.wall_offset_ms as i64);
        let disk = SimDisk::new(DiskOptions::default(), SimRng::new(seed, stream::DISK));
        let env = SimEnv::new(clock, disk, SimRng::new(seed, stream::NODE_RANDOM));
        let node = Node::start(env, config.clone())
            .map_err(|e| format!("the node refused its first start: {}", e.reason))?;
        let net = SimNet::new(seed, options.clients as usize, options.net.clone());
        let clients = (0..options.clients as usize)
            .map(|index| ClientSlot {
                client: crate::workload::Client::new(index, &options.workload),
                conn: None,
                finished: false,
            })
            .collect();
        let mut simulation = Simulation {
            options,
            now_ms: 0,
            heap: BinaryHeap::new(),
            sequence: 0,
            pending_work: 0,
            config,
            node: Some(node),
            parked: None,
            incarnation: 0,
            traces: Vec::new(),
            trace_hashes: Vec::new(),
            model: Model::default(),
            crashes: Vec::new(),
            net,
            clients,
            clients_finished: 0,
            connections: BTreeMap::new(),
            open_at_node: BTreeSet::new(),
            tick_at_ms: None,
            disk_done_at_ms: BTreeSet::new(),
            node_touched: true,
            events_processed: 0,
            requests_lost: 0,
            requests_lost_to_crashes: 0,
            stopped_by: None,
        };
        for index in 0..simulation.clients.len() {
            let spread = simulation.options.connect_spread_ms;
            let delay = simulation.clients[index].client.connect_delay_ms(spread);
            simulation.schedule(delay, Event::ClientConnect { client: index });
        }
        for index in 0..simulation.options.crashes.len() {
            let at_ms = simulation.options.crashes[index].at_ms;
            simulation.schedule(at_ms, Event::Crash { index });
        }
        Ok(simulation)
    }

    fn schedule(&mut self, at_ms: u64, event: Event) {
        if !matches!(event, Event::NodeTick) {
            self.pending_work += 1;
        }
        self.sequence += 1;
        self.heap.push(Reverse(Scheduled {
            at_ms,
            sequence: self.sequence,
            event,
        }));
    }

    fn done(&self) -> bool {
        self.clients_finished == self.clients.len() && self.pending_work == 0
    }

    /// Runs to the end and judges the run.
    pub fn run(mut self) -> Report {
        self.end_iteration();
        while !self.done() {
            let Some(Reverse(next)) = self.heap.pop() else {
                self.stopped_by = Some("an empty event heap".into());
                break;
            };
            if let Some(bound) = self.bound_hit(next.at_ms) {
                self.stopped_by = Some(bound);
                break;
            }
            if !matches!(next.event, Event::NodeTick) {
                self.pending_work -= 1;
            }
            self.now_ms = next.at_ms;
            if let Some(node) = self.node.as_mut() {
                node.env_mut().advance_to(self.now_ms);
            }
            self.handle(next.at_ms, next.event);
            if self.stopped_by.is_some() {
                break;
            }
            self.events_processed += 1;
            let iteration_over = !matches!(self.heap.peek(), Some(n) if n.0.at_ms <= self.now_ms);
            if self.node_touched && iteration_over {
                self.end_iteration();
            }
        }
        self.finish()
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

    /// The end of a node event-loop iteration: `before_sleep`, then what it
    /// sent, the next tick and background disk completions.
    fn end_iteration(&mut self) {
        self.node_touched = false;
        let Some(node) = self.node.as_mut() else {
            return;
        };
        node.before_sleep();
        self.drain_outbox();
        let node = self.node.as_ref().expect("running");
        let deadline = node.next_deadline().max(self.now_ms);
        let due: Vec<u64> = node.env().disk.pending_due_ms();
        if self.tick_at_ms != Some(deadline) {
            self.tick_at_ms = Some(deadline);
            self.schedule(deadline, Event::NodeTick);
        }
        for at_ms in due {
            if self.disk_done_at_ms.insert(at_ms) {
                self.schedule(at_ms, Event::DiskDone);
            }
        }
    }

    /// The running node, if the connection belongs to it and is open there.
    fn node_for(&mut self, conn: SimConn) -> Option<&mut Node<SimEnv>> {
        if conn.0 != self.incarnation || !self.open_at_node.contains(&conn.1) {
            return None;
        }
        self.node.as_mut()
    }

    fn handle(&mut self, at_ms: u64, event: Event) {
        match event {
            Event::ClientConnect { client } => self.client_connect(client),
            Event::ClientSend { client, conn } => self.client_send(client, conn),
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
            Event::NodeTick => {
                if let (Some(node), true) = (self.node.as_mut(), self.tick_at_ms == Some(at_ms)) {
                    self.tick_at_ms = None;
                    node.on_tick();
                    self.node_touched = true;
                }
            }
            Event::DiskDone => {
                self.disk_done_at_ms.remove(&at_ms);
                if let Some(node) = self.node.as_mut() {
                    let done = node.env_mut().disk.complete_due(at_ms);
                    for (op, result) in done {
                        node.on_disk_done(op, result);
                    }
                    self.node_touched = true;
                }
            }
            Event::Crash { index } => self.crash(index),
            Event::Restart { index } => self.restart(index),
        }
    }

    fn drain_outbox(&mut self) {
        let node = self.node.as_mut().expect("running");
        let actions = std::mem::take(&mut node.env_mut().outbox);
        let incarnation = self.incarnation;
        for action in actions {
            match action {
                NetAction::Send { conn, data } => {
                    let conn = (incarnation, conn);
                    let Some(log) = self.connections.get_mut(&conn) else {
                        continue;
                    };
                    log.release(self.now_ms, data.len());
                    let link = log.client;
                    let pieces = self
                        .net
                        .transmit(link, Direction::ToClient, self.now_ms, &data);
                    for (at_ms, bytes) in pieces {
                        self.schedule(at_ms, Event::ToClient { conn, bytes });
                    }
                }
                NetAction::Close { conn } => {
                    self.open_at_node.remove(&conn);
                    let conn = (incarnation, conn);
                    if let Some(link) = self.connections.get(&conn).map(|c| c.client) {
                        let at_ms = self.net.delivery_ms(link, Direction::ToClient, self.now_ms);
                        self.schedule(at_ms, Event::NodeClosed { conn });
                    }
                }
                NetAction::Connect { .. } => {
                    // Outgoing connections (replication) come with more nodes.
                }
            }
        }
    }

    fn client_connect(&mut self, index: usize) {
        let Some(node) = self.node.as_mut() else {
            // The node is down: the client tries again when it is back.
            let retry_ms = self.parked.as_ref().expect("a parked node").restart_at_ms;
            self.schedule(retry_ms, Event::ClientConnect { client: index });
            return;
        };
        let info = ConnInfo {
            peer_addr: format!(
                "10.0.1.{}:{}",
                index + 1,
                40000 + self.clients[index].client.stats.reconnects
            ),
            local_addr: "10.0.0.1:6379".to_string(),
            fd: 8 + index as i64,
        };
        let id = node.on_accept(info);
        self.node_touched = true;
        self.open_at_node.insert(id);
        let conn = (self.incarnation, id);
        self.connections.insert(
            conn,
            ConnectionLog {
                client: index,
                ..ConnectionLog::default()
            },
        );
        self.clients[index].conn = Some(conn);
        self.schedule(
            self.now_ms,
            Event::ClientSend {
                client: index,
                conn,
            },
        );
    }

    fn client_send(&mut self, index: usize, conn: SimConn) {
        if self.clients[index].conn != Some(conn) {
            return;
        }
        let batch = self.clients[index].client.next_batch();
        if batch.is_empty() {
            self.client_finished(index);
            return;
        }
        let mut bytes = Vec::new();
        for argv in &batch {
            encode_request(argv, &mut bytes);
        }
        let log = self.connections.get_mut(&conn).expect("open connection");
        log.requests.extend(batch);
        for (at_ms, piece) in self
            .net
            .transmit(index, Direction::ToNode, self.now_ms, &bytes)
        {
            self.schedule(at_ms, Event::ToNode { conn, bytes: piece });
        }
    }

    fn client_receive(&mut self, conn: SimConn, bytes: &[u8]) {
        let Some(log) = self.connections.get_mut(&conn) else {
            return;
        };
        let index = log.client;
        if self.clients[index].conn != Some(conn) {
            return;
        }
        log.received.extend_from_slice(bytes);
        match self.clients[index].client.on_bytes(bytes) {
            Ok(true) => self.client_next(index),
            Ok(false) => {}
            // The integrity checker reports the malformed bytes from the log.
            Err(_) => self.client_disconnect(index, 0),
        }
    }

    fn client_next(&mut self, index: usize) {
        match self.clients[index].client.after_batch() {
            Next::Continue { think_ms } => {
                let conn = self.clients[index]
                    .conn
                    .expect("a batch was answered on it");
                let event = Event::ClientSend {
                    client: index,
                    conn,
                };
                self.schedule(self.now_ms + think_ms, event)
            }
            Next::Reconnect { after_ms } => self.client_disconnect(index, after_ms),
            Next::Finished => self.client_finished(index),
        }
    }

    /// The client closes its connection and connects again after
    /// `after_ms`.
    fn client_disconnect(&mut self, index: usize, after_ms: u64) {
        self.close_from_client(index);
        self.schedule(
            self.now_ms + after_ms,
            Event::ClientConnect { client: index },
        );
    }

    fn close_from_client(&mut self, index: usize) {
        let slot = &mut self.clients[index];
        self.requests_lost += slot.client.requests_in_flight() as u64;
        slot.client.on_disconnected();
        if let Some(conn) = slot.conn.take() {
            let at_ms = self.net.delivery_ms(index, Direction::ToNode, self.now_ms);
            self.schedule(at_ms, Event::ClientClosed { conn });
        }
    }

    fn client_finished(&mut self, index: usize) {
        if !self.clients[index].finished {
            self.clients[index].finished = true;
            self.clients_finished += 1;
            self.close_from_client(index);
        }
    }

    /// The node closed the client's connection: what was in flight is lost;
    /// the client reconnects.
    fn client_lost(&mut self, conn: SimConn) {
        let Some(log) = self.connections.get(&conn) else {
            return;
        };
        let (index, crashed) = (log.client, log.closed_by_crash);
        let slot = &mut self.clients[index];
        if slot.conn != Some(conn) {
            return;
        }
        slot.conn = None;
        let in_flight = slot.client.requests_in_flight() as u64;
        if crashed {
            self.requests_lost_to_crashes += in_flight;
        } else {
            self.requests_lost += in_flight;
        }
        slot.client.on_disconnected();
        if !slot.finished {
            self.schedule(self.now_ms, Event::ClientConnect { client: index });
        }
    }

    /// The node crashes: its incarnation's trace becomes a write log, the
    /// disk keeps what `kind` keeps, and every connection closes.
    fn crash(&mut self, index: usize) {
        let plan = self.options.crashes[index];
        let node = self.node.take().expect("crashes come after restarts");
        let mut env = node.into_env();
        let trace = self.end_incarnation(&mut env);
        let mut log = WriteLog::from_trace(&mut self.model, &trace);
        self.traces.push(trace);
        let incarnation = self.incarnation;
        let connections = &self.connections;
        log.mark_releases(|conn| {
            let log = connections.get(&(incarnation, conn))?;
            Some(log.released.as_slice())
        });
        env.disk.crash(plan.kind);
        self.close_connections_at_crash();
        self.tick_at_ms = None;
        self.disk_done_at_ms.clear();
        let restart_at_ms = self.now_ms + plan.restart_delay_ms;
        self.parked = Some(Parked {
            disk: env.disk,
            restart_at_ms,
            log,
            final_state: self.model.data().clone(),
        });
        self.schedule(restart_at_ms, Event::Restart { index });
    }

    /// Takes an ended incarnation's trace and folds its hash.
    fn end_incarnation(&mut self, env: &mut SimEnv) -> Vec<TraceRecord> {
        self.trace_hashes.push(env.trace_hash());
        std::mem::take(&mut env.trace)
    }

    /// Every connection of the crashed node closes; its clients see the
    /// close after what the node had sent them.
    fn close_connections_at_crash(&mut self) {
        let incarnation = self.incarnation;
        for conn in std::mem::take(&mut self.open_at_node) {
            if let Some(log) = self.connections.get_mut(&(incarnation, conn)) {
                log.closed_by_crash = true;
            }
        }
        for index in 0..self.clients.len() {
            let Some(conn) = self.clients[index].conn else {
                continue;
            };
            if conn.0 != incarnation {
                continue;
            }
            if let Some(log) = self.connections.get_mut(&conn) {
                log.closed_by_crash = true;
            }
            let at_ms = self
                .net
                .delivery_ms(index, Direction::ToClient, self.now_ms);
            self.schedule(at_ms, Event::NodeClosed { conn });
        }
    }

    /// The crashed node starts again on its disk; the checkers judge what
    /// it recovered.
    fn restart(&mut self, index: usize) {
        let plan = self.options.crashes[index];
        let Parked {
            disk,
            log,
            final_state,
            ..
        } = self.parked.take().expect("a crashed node");
        self.incarnation += 1;
        let random = SimRng::new(
            self.options.seed,
            stream::NODE_RESTART_BASE + self.incarnation as u64,
        );
        let clock = SimClock::new(self.options.wall_offset_ms as i64);
        let mut env = SimEnv::new(clock, disk, random);
        env.advance_to(self.now_ms);
        let outcome = match Node::start(env, self.config.clone()) {
            Ok(node) => Ok(self.judge_recovery(node, &final_state, &log, plan)),
            Err(mut error) => {
                let trace = self.end_incarnation(&mut error.env);
                self.traces.push(trace);
                self.stopped_by = Some(format!(
                    "the node refusing to start after crash {}",
                    index + 1
                ));
                Err(error.reason)
            }
        };
        self.crashes.push(CrashReport {
            number: index + 1,
            crash_ms: plan.at_ms,
            kind: plan.kind,
            restart_ms: self.now_ms,
            outcome,
        });
    }

    /// Checks the recovered dataset, then lets the model and the node go on
    /// from it.
    fn judge_recovery(
        &mut self,
        node: Node<SimEnv>,
        final_state: &Dataset,
        log: &WriteLog,
        plan: crate::faults::CrashPlan,
    ) -> Recovered {
        let recovered = dataset_of(&node);
        let config = node.config();
        let policy = config.appendonly.then_some(config.appendfsync);
        let check = check_recovery(
            final_state,
            log,
            &recovered,
            node.env().wall_ms(),
            durable_rule(policy, plan.kind),
            plan.at_ms,
        );
        let result = Recovered {
            keys: recovered.values().map(|keys| keys.len()).sum(),
            truncated: node.server().aof_load.truncated.clone(),
            check,
        };
        self.model.restart_with(recovered);
        self.node = Some(node);
        self.node_touched = true;
        result
    }

    fn finish(mut self) -> Report {
        if let Some(node) = self.node.take() {
            let mut env = node.into_env();
            let trace = self.end_incarnation(&mut env);
            WriteLog::from_trace(&mut self.model, &trace);
            self.traces.push(trace);
        }
        let trace_hash = match self.trace_hashes.as_slice() {
            [only] => *only,
            hashes => {
                let mut hasher = TraceHasher::default();
                hashes.iter().for_each(|&hash| hasher.u64(hash));
                hasher.finish()
            }
        };
        let mut totals = ClientStats {
            ops_by_kind: vec![0; OpKind::ALL.len()],
            ..ClientStats::default()
        };
        for slot in &self.clients {
            add_stats(&mut totals, &slot.client.stats);
        }
        let count = |wanted: fn(&TraceEvent) -> bool| {
            self.traces
                .iter()
                .flatten()
                .filter(|r| wanted(&r.event))
                .count() as u64
        };
        let commands_executed = count(|e| matches!(e, TraceEvent::Executed { .. }));
        let expirations = count(|e| matches!(e, TraceEvent::Expired { .. }));
        let verdicts = self.verdicts();
        Report {
            options: self.options,
            scenario_path: None,
            client_totals: totals,
            start_ms: 0,
            end_ms: self.now_ms,
            events_processed: self.events_processed,
            commands_executed,
            expirations,
            connections: self.connections.len() as u64,
            verdicts,
            required_checkers: Vec::new(),
            faults: fault_tallies(&self.crashes),
            checkers_off: Vec::new(),
            crashes: self.crashes,
            trace_hash,
        }
    }

    fn verdicts(&self) -> Vec<Verdict> {
        let liveness = LivenessFacts {
            clients: self.clients.len(),
            clients_finished: self
                .clients
                .iter()
                .filter(|s| s.client.finished() && s.finished)
                .count(),
            requests_unanswered: self.requests_lost,
            requests_lost_to_crashes: self.requests_lost_to_crashes,
            stopped_by: self.stopped_by.clone(),
        };
        let mut by_incarnation: Vec<BTreeMap<ConnId, ConnectionLog>> =
            vec![BTreeMap::new(); self.traces.len()];
        for (&(incarnation, conn), log) in &self.connections {
            by_incarnation[incarnation].insert(conn, log.clone());
        }
        let incarnations: Vec<Incarnation<'_>> = by_incarnation
            .iter()
            .zip(&self.traces)
            .map(|(connections, trace)| (connections, trace.as_slice()))
            .collect();
        let mut verdicts = vec![
            check_reply_integrity_runs(&incarnations),
            model_verdict(self.model.verdict()),
            check_liveness(&liveness),
        ];
        if !self.options.crashes.is_empty() {
            verdicts.extend(crash_verdicts(
                &self.crashes,
                self.options.start_refusal_expected,
            ));
        }
        verdicts
    }
}

/// The dataset a node holds, every database, values and expiry times.
pub fn dataset_of(node: &Node<SimEnv>) -> Dataset {
    let mut data = Dataset::new();
    for (index, db) in node.server().keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let keys = data.entry(index).or_default();
        for (key, value, expire_at_ms) in db.entries_with_expiry() {
            let Value::String(bytes) = value;
            let entry = Entry {
                value: bytes.clone(),
                expire_at_ms,
            };
            keys.insert(key.to_vec(), entry);
        }
    }
    data
}

/// The faults that fired, by kind.
fn fault_tallies(crashes: &[CrashReport]) -> Vec<FaultTally> {
    let mut tallies: Vec<FaultTally> = Vec::new();
    for crash in crashes {
        let kind = crate::faults::crash_kind_name(crash.kind);
        match tallies.iter_mut().find(|t| t.kind == kind) {
            Some(tally) => tally.count += 1,
            None => tallies.push(FaultTally {
                kind: kind.to_string(),
                count: 1,
            }),
        }
    }
    tallies
}

fn add_stats(totals: &mut ClientStats, stats: &ClientStats) {
    for (total, count) in totals.ops_by_kind.iter_mut().zip(&stats.ops_by_kind) {
        *total += count;
    }
    totals.requests_sent += stats.requests_sent;
    totals.replies_received += stats.replies_received;
    totals.error_replies += stats.error_replies;
    totals.transactions_committed += stats.transactions_committed;
    totals.transactions_retried += stats.transactions_retried;
    totals.transactions_given_up += stats.transactions_given_up;
    totals.transactions_discarded += stats.transactions_discarded;
    totals.reconnects += stats.reconnects;
}

/// Runs `seed` under `scenario` and returns its report. `scenario_path` is
/// how the scenario was named on the command line, for the replay command.
pub fn run_seed(
    seed: u64,
    scenario: &Scenario,
    scenario_path: Option<&str>,
) -> Result<Report, String> {
    let options = RunOptions::derive(seed, scenario);
    let mut report = Simulation::new(options)?.run();
    report.scenario_path = scenario_path.map(str::to_string);
    report.required_checkers = scenario.expect.checkers.clone();
    Ok(report)
}
