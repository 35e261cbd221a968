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

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use redoubt_core::env::ConnId;
use redoubt_core::{ConnInfo, Node};

use crate::check::{
    check_liveness, check_reply_integrity, model_verdict, ConnectionLog, LivenessFacts, Verdict,
};
use crate::clock::SimClock;
use crate::disk::{DiskOptions, SimDisk};
use crate::env::{NetAction, SimEnv};
use crate::model::check_trace;
use crate::net::{Direction, SimNet};
use crate::options::{RunOptions, EVENTS_MAX, SIM_TIME_MS_MAX};
use crate::report::Report;
use crate::resp::encode_request;
use crate::rng::{stream, SimRng};
use crate::scenario::Scenario;
use crate::trace::TraceEvent;
use crate::workload::{ClientStats, Next, OpKind};

/// Something that happens at a simulated time.
#[derive(Debug)]
enum Event {
    ClientConnect {
        client: usize,
    },
    ClientSend {
        client: usize,
    },
    ToNode {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    ToClient {
        conn: ConnId,
        bytes: Vec<u8>,
    },
    /// The client's close reaches the node.
    ClientClosed {
        conn: ConnId,
    },
    /// The node's close reaches the client.
    NodeClosed {
        conn: ConnId,
    },
    NodeTick,
    DiskDone,
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
    conn: Option<ConnId>,
    finished: bool,
}

/// One run in progress.
pub struct Simulation {
    options: RunOptions,
    now_ms: u64,
    heap: BinaryHeap<Reverse<Scheduled>>,
    sequence: u64,
    /// Events in the heap other than node ticks.
    pending_work: u64,
    node: Node<SimEnv>,
    net: SimNet,
    clients: Vec<ClientSlot>,
    clients_finished: usize,
    connections: BTreeMap<ConnId, ConnectionLog>,
    open_at_node: BTreeSet<ConnId>,
    tick_at_ms: Option<u64>,
    disk_done_at_ms: BTreeSet<u64>,
    node_touched: bool,
    events_processed: u64,
    requests_lost: u64,
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
        let node = Node::new(env, config);
        let net = SimNet::new(seed, options.clients as usize, options.net.clone());
        let clients = (0..options.clients as usize)
            .map(|index| ClientSlot {
                client: crate::workload::Client::new(index, &options),
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
            node,
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
            stopped_by: None,
        };
        for index in 0..simulation.clients.len() {
            let spread = simulation.options.connect_spread_ms;
            let delay = simulation.clients[index].client.connect_delay_ms(spread);
            simulation.schedule(delay, Event::ClientConnect { client: index });
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
            self.node.env_mut().advance_to(self.now_ms);
            self.handle(next.at_ms, next.event);
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
        self.node.before_sleep();
        self.drain_outbox();
        self.node_touched = false;
        let deadline = self.node.next_deadline().max(self.now_ms);
        if self.tick_at_ms != Some(deadline) {
            self.tick_at_ms = Some(deadline);
            self.schedule(deadline, Event::NodeTick);
        }
        let due: Vec<u64> = self.node.env().disk.pending_due_ms();
        for at_ms in due {
            if self.disk_done_at_ms.insert(at_ms) {
                self.schedule(at_ms, Event::DiskDone);
            }
        }
    }

    fn handle(&mut self, at_ms: u64, event: Event) {
        match event {
            Event::ClientConnect { client } => self.client_connect(client),
            Event::ClientSend { client } => self.client_send(client),
            Event::ToNode { conn, bytes } => {
                if self.open_at_node.contains(&conn) {
                    self.node.on_bytes(conn, &bytes);
                    self.node_touched = true;
                }
            }
            Event::ToClient { conn, bytes } => self.client_receive(conn, &bytes),
            Event::ClientClosed { conn } => {
                if self.open_at_node.remove(&conn) {
                    self.node.on_closed(conn);
                    self.node_touched = true;
                }
            }
            Event::NodeClosed { conn } => self.client_lost(conn),
            Event::NodeTick => {
                if self.tick_at_ms == Some(at_ms) {
                    self.tick_at_ms = None;
                    self.node.on_tick();
                    self.node_touched = true;
                }
            }
            Event::DiskDone => {
                self.disk_done_at_ms.remove(&at_ms);
                let done = self.node.env_mut().disk.complete_due(at_ms);
                for (op, result) in done {
                    self.node.on_disk_done(op, result);
                }
                self.node_touched = true;
            }
        }
    }

    fn drain_outbox(&mut self) {
        let actions = std::mem::take(&mut self.node.env_mut().outbox);
        for action in actions {
            match action {
                NetAction::Send { conn, data } => {
                    let Some(link) = self.connections.get(&conn).map(|c| c.client) else {
                        continue;
                    };
                    let pieces = self
                        .net
                        .transmit(link, Direction::ToClient, self.now_ms, &data);
                    for (at_ms, bytes) in pieces {
                        self.schedule(at_ms, Event::ToClient { conn, bytes });
                    }
                }
                NetAction::Close { conn } => {
                    self.open_at_node.remove(&conn);
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
        let info = ConnInfo {
            peer_addr: format!(
                "10.0.1.{}:{}",
                index + 1,
                40000 + self.clients[index].client.stats.reconnects
            ),
            local_addr: "10.0.0.1:6379".to_string(),
            fd: 8 + index as i64,
        };
        let conn = self.node.on_accept(info);
        self.node_touched = true;
        self.open_at_node.insert(conn);
        self.connections.insert(
            conn,
            ConnectionLog {
                client: index,
                ..ConnectionLog::default()
            },
        );
        self.clients[index].conn = Some(conn);
        self.schedule(self.now_ms, Event::ClientSend { client: index });
    }

    fn client_send(&mut self, index: usize) {
        let Some(conn) = self.clients[index].conn else {
            return;
        };
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

    fn client_receive(&mut self, conn: ConnId, bytes: &[u8]) {
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
                self.schedule(self.now_ms + think_ms, Event::ClientSend { client: index })
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
    fn client_lost(&mut self, conn: ConnId) {
        let Some(index) = self.connections.get(&conn).map(|c| c.client) else {
            return;
        };
        let slot = &mut self.clients[index];
        if slot.conn != Some(conn) {
            return;
        }
        slot.conn = None;
        self.requests_lost += slot.client.requests_in_flight() as u64;
        slot.client.on_disconnected();
        if !slot.finished {
            self.schedule(self.now_ms, Event::ClientConnect { client: index });
        }
    }

    fn finish(mut self) -> Report {
        let env = self.node.env_mut();
        let trace = std::mem::take(&mut env.trace);
        let trace_hash = env.trace_hash();
        let mut totals = ClientStats {
            ops_by_kind: vec![0; OpKind::ALL.len()],
            ..ClientStats::default()
        };
        for slot in &self.clients {
            add_stats(&mut totals, &slot.client.stats);
        }
        let commands_executed = trace
            .iter()
            .filter(|r| matches!(r.event, TraceEvent::Executed { .. }))
            .count() as u64;
        let expirations = trace
            .iter()
            .filter(|r| matches!(r.event, TraceEvent::Expired { .. }))
            .count() as u64;
        let liveness = LivenessFacts {
            clients: self.clients.len(),
            clients_finished: self
                .clients
                .iter()
                .filter(|s| s.client.finished() && s.finished)
                .count(),
            requests_unanswered: self.requests_lost,
            stopped_by: self.stopped_by.clone(),
        };
        let verdicts: Vec<Verdict> = vec![
            check_reply_integrity(&self.connections, &trace),
            model_verdict(&check_trace(&trace)),
            check_liveness(&liveness),
        ];
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
            trace_hash,
        }
    }
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
