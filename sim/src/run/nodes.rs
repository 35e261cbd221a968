//! The nodes of a run other than node 0, and the connections between
//! nodes.
//!
//! Node 0 is the node the clients talk to (the master when the scenario
//! has replicas); its lives are [`super::lives`]. Nodes 1..=N are its
//! replicas ([`OtherNode`]): each has its own `SimEnv` (its own clock
//! without drift or jumps, its own `SimDisk` without faults, its own
//! random streams, see `stream::OTHER_NODE_BASE`), its own event-loop
//! iterations (delivered events, then `before_sleep`, as node 0's), its
//! own timer and background disk completions. They do not crash yet.
//!
//! A node's `Net::connect` to the address of another node opens a
//! [`PeerLink`]: after one network latency the connect reaches the target,
//! which accepts (`on_accept`, a connection id of its own) if it is up, or
//! refuses; the answer takes one latency back, and the connecting node
//! gets `on_connected` or `on_closed`. Bytes then flow both ways through
//! `SimNet`'s peer links (seeded latency and splits, in order per
//! direction); a close on one side, or the side's node going down,
//! reaches the other side after what was sent before it, as `on_closed`.
//! Events for node 0 wait while it is paused, as its clients' do.
//!
//! Node 0's trace records the commands of the replicas' connections
//! (`PING`, `REPLCONF`, `PSYNC`): they are taken out of the trace the
//! checkers read, which knows only clients ([`Simulation::forget_peer_commands`]);
//! the trace hash keeps them.

use std::collections::BTreeSet;

use redoubt_core::env::ConnId;
use redoubt_core::{ConnInfo, Node};

use redoubt_core::repl::replica::LinkState;

use super::lives::dataset_of;
use super::simulation::{Event, NodeState, Simulation};
use crate::check::replication::{
    differences, key_count, ReplicaEnd, ReplicationEnd, SETTLE_MS_MAX,
};
use crate::world::env::{NetAction, SimEnv};
use crate::world::net::{Direction, LinkId};
use crate::world::trace::{TraceEvent, TraceRecord};

/// The host every simulated node listens on.
pub const NODE_HOST: &str = "127.0.0.1";

/// A node other than node 0: a replica.
pub(super) struct OtherNode {
    /// `host:port` it listens on.
    pub addr: String,
    pub node: Box<Node<SimEnv>>,
    /// Lives so far, minus one (replicas do not restart yet).
    pub incarnation: usize,
    /// Something was delivered since its last `before_sleep`.
    pub touched: bool,
    pub tick_at_ms: Option<u64>,
    pub disk_done_at_ms: BTreeSet<u64>,
    /// The history (`master_replid`) and offset it had at its last look.
    pub seen: (String, u64),
    /// Stream bytes it applied within one history, over the run.
    pub stream_bytes: u64,
    /// Times its history changed: full syncs it loaded.
    pub full_syncs: u64,
}

impl OtherNode {
    pub fn new(addr: String, node: Node<SimEnv>) -> Self {
        let repl = &node.server().repl;
        let seen = (repl.replid.clone(), repl.offset);
        OtherNode {
            addr,
            node: Box::new(node),
            incarnation: 0,
            touched: true,
            tick_at_ms: None,
            disk_done_at_ms: BTreeSet::new(),
            seen,
            stream_bytes: 0,
            full_syncs: 0,
        }
    }

    /// Counts what its replication did since the last look.
    fn look_at_stream(&mut self) {
        let repl = &self.node.server().repl;
        if repl.replid != self.seen.0 {
            self.full_syncs += 1;
            self.seen = (repl.replid.clone(), repl.offset);
        } else if repl.offset != self.seen.1 {
            self.stream_bytes += repl.offset.saturating_sub(self.seen.1);
            self.seen.1 = repl.offset;
        }
    }
}

/// One side of a connection between nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct End {
    pub node: usize,
    pub incarnation: usize,
    pub conn: ConnId,
}

/// What reaches a side of a peer link.
#[derive(Debug)]
pub(super) enum PeerDelivery {
    /// The connect was accepted (to the connecting side).
    Connected,
    Bytes(Vec<u8>),
    /// The other side closed, went down, or refused the connect.
    Closed,
}

/// Side 0 connected, side 1 accepted.
const CONNECTING: usize = 0;
const ACCEPTING: usize = 1;

/// A connection between two nodes.
#[derive(Debug)]
pub(super) struct PeerLink {
    /// The connecting side, and the accepting side once it accepted.
    pub ends: [Option<End>; 2],
    /// Whether each side still holds the connection open.
    pub open: [bool; 2],
    /// The node the connect was addressed to, if any has that address.
    pub target: Option<usize>,
}

/// The direction of traffic towards `side`.
fn towards(side: usize) -> Direction {
    if side == ACCEPTING {
        Direction::ToNode
    } else {
        Direction::ToClient
    }
}

/// The address of node `number` whose node 0 listens on `master_port`.
pub fn node_addr(master_port: u16, number: usize) -> String {
    format!("{NODE_HOST}:{}", u64::from(master_port) + number as u64)
}

impl Simulation {
    /// Node `number`'s incarnation now.
    fn node_incarnation(&self, number: usize) -> usize {
        match number {
            0 => self.incarnation,
            n => self.others[n - 1].incarnation,
        }
    }

    /// Node `number`, if it runs (up and not paused).
    fn node_running(&mut self, number: usize) -> Option<&mut Node<SimEnv>> {
        match number {
            0 => self.running(),
            n => Some(&mut self.others[n - 1].node),
        }
    }

    /// Node `number` has something to do before it sleeps.
    fn touch(&mut self, number: usize) {
        match number {
            0 => self.node_touched = true,
            n => self.others[n - 1].touched = true,
        }
    }

    /// The node listening on `addr`.
    fn node_at(&self, addr: &str) -> Option<usize> {
        if addr == self.master_addr {
            return Some(0);
        }
        self.others
            .iter()
            .position(|other| other.addr == addr)
            .map(|index| index + 1)
    }

    /// Routes one network action of node `number` about a connection
    /// between nodes. False if `action` is not about one (a client's
    /// connection).
    pub(super) fn peer_action(&mut self, number: usize, action: NetAction) -> bool {
        let incarnation = self.node_incarnation(number);
        match action {
            NetAction::Connect { conn, addr } => {
                self.peer_connect(
                    End {
                        node: number,
                        incarnation,
                        conn,
                    },
                    &addr,
                );
                true
            }
            NetAction::Send { conn, data } => {
                let Some(&(link, side)) = self.peer_ends.get(&(number, incarnation, conn)) else {
                    return false;
                };
                self.peer_send(link, side, &data);
                true
            }
            NetAction::Close { conn } => {
                let Some((link, side)) = self.peer_ends.remove(&(number, incarnation, conn)) else {
                    return false;
                };
                self.peer_close(link, side);
                true
            }
        }
    }

    fn peer_connect(&mut self, from: End, addr: &str) {
        let link = self.net.add_peer_link(self.options.seed);
        debug_assert_eq!(link, self.peer_links.len());
        let target = self.node_at(addr);
        self.peer_links.push(PeerLink {
            ends: [Some(from), None],
            open: [true, false],
            target,
        });
        self.peer_ends
            .insert((from.node, from.incarnation, from.conn), (link, CONNECTING));
        let at_ms = self
            .net
            .delivery_ms_on(LinkId::Peer(link), towards(ACCEPTING), self.now_ms);
        self.schedule(at_ms, Event::PeerOpen { link });
    }

    fn peer_send(&mut self, link: usize, side: usize, data: &[u8]) {
        let other = 1 - side;
        let state = &self.peer_links[link];
        let Some(end) = state.ends[other] else {
            return;
        };
        if !state.open[side] || !state.open[other] {
            return;
        }
        let pieces = self
            .net
            .transmit_on(LinkId::Peer(link), towards(other), self.now_ms, data);
        for (at_ms, bytes) in pieces {
            let event = Event::PeerDeliver {
                node: end.node,
                link,
                side: other,
                what: PeerDelivery::Bytes(bytes),
            };
            self.schedule(at_ms, event);
        }
    }

    /// Side `side` closed its end: the other side hears of it after what
    /// was sent before.
    fn peer_close(&mut self, link: usize, side: usize) {
        let other = 1 - side;
        let state = &mut self.peer_links[link];
        state.open[side] = false;
        let Some(end) = state.ends[other] else {
            return;
        };
        if !state.open[other] {
            return;
        }
        let at_ms = self
            .net
            .delivery_ms_on(LinkId::Peer(link), towards(other), self.now_ms);
        let event = Event::PeerDeliver {
            node: end.node,
            link,
            side: other,
            what: PeerDelivery::Closed,
        };
        self.schedule(at_ms, event);
    }

    /// A connect reaches its address: the node there accepts if it is up
    /// (a paused node's kernel accepts too), else the connect is refused.
    pub(super) fn peer_open(&mut self, link: usize) {
        let state = &self.peer_links[link];
        let Some(from) = state.ends[CONNECTING] else {
            return;
        };
        if !state.open[CONNECTING] {
            return;
        }
        let target = state.target;
        let info = target.map(|number| self.peer_conn_info(link, number));
        let accepted = match (target, info) {
            (Some(0), Some(info)) => match &mut self.node {
                NodeState::Up { node, .. } => Some(node.on_accept(info)),
                _ => None,
            },
            (Some(number), Some(info)) => Some(self.others[number - 1].node.on_accept(info)),
            _ => None,
        };
        let what = match (target, accepted) {
            (Some(number), Some(conn)) => {
                self.touch(number);
                let incarnation = self.node_incarnation(number);
                let end = End {
                    node: number,
                    incarnation,
                    conn,
                };
                let state = &mut self.peer_links[link];
                state.ends[ACCEPTING] = Some(end);
                state.open[ACCEPTING] = true;
                self.peer_ends
                    .insert((number, incarnation, conn), (link, ACCEPTING));
                if number == 0 {
                    self.master_peer_conns.insert((incarnation, conn));
                }
                PeerDelivery::Connected
            }
            _ => PeerDelivery::Closed,
        };
        let at_ms = self
            .net
            .delivery_ms_on(LinkId::Peer(link), towards(CONNECTING), self.now_ms);
        let event = Event::PeerDeliver {
            node: from.node,
            link,
            side: CONNECTING,
            what,
        };
        self.schedule(at_ms, event);
    }

    fn peer_conn_info(&self, link: usize, number: usize) -> ConnInfo {
        let from = self.peer_links[link].ends[CONNECTING].map_or(0, |end| end.node);
        let local_addr = match number {
            0 => self.master_addr.clone(),
            n => self.others[n - 1].addr.clone(),
        };
        ConnInfo {
            peer_addr: format!("{NODE_HOST}:{}", 50000 + link as u64 % 10000),
            local_addr,
            fd: 1000 + (link as i64) * 8 + from as i64 % 8,
        }
    }

    /// Something reaches side `side` of `link` on node `number`: delivered
    /// if that side is still open there, in the same life of its node.
    pub(super) fn peer_deliver(
        &mut self,
        number: usize,
        link: usize,
        side: usize,
        what: PeerDelivery,
    ) {
        let state = &self.peer_links[link];
        let Some(end) = state.ends[side] else {
            return;
        };
        if !state.open[side] || end.incarnation != self.node_incarnation(number) {
            return;
        }
        if matches!(what, PeerDelivery::Closed) {
            self.peer_links[link].open[side] = false;
            self.peer_ends
                .remove(&(end.node, end.incarnation, end.conn));
        }
        let Some(node) = self.node_running(number) else {
            return;
        };
        match what {
            PeerDelivery::Connected => node.on_connected(end.conn),
            PeerDelivery::Bytes(bytes) => node.on_bytes(end.conn, &bytes),
            PeerDelivery::Closed => node.on_closed(end.conn),
        }
        self.touch(number);
    }

    /// Node `number` went down: every connection it held to another node
    /// closes, and the other side hears of it after what was sent before.
    pub(super) fn close_peer_links_of(&mut self, number: usize) {
        let incarnation = self.node_incarnation(number);
        let held: Vec<(usize, usize)> = self
            .peer_ends
            .range((number, incarnation, 0)..=(number, incarnation, ConnId::MAX))
            .map(|(_, &place)| place)
            .collect();
        for (link, side) in held {
            if let Some(end) = self.peer_links[link].ends[side] {
                self.peer_ends
                    .remove(&(end.node, end.incarnation, end.conn));
            }
            self.peer_close(link, side);
        }
    }

    /// Takes the commands of replicas' connections out of node 0's trace
    /// of incarnation `incarnation`: the checkers judge clients only.
    pub(super) fn forget_peer_commands(&self, incarnation: usize, trace: &mut Vec<TraceRecord>) {
        if self.master_peer_conns.is_empty() {
            return;
        }
        let peer = |conn: &ConnId| self.master_peer_conns.contains(&(incarnation, *conn));
        trace.retain(|record| match &record.event {
            TraceEvent::Executed { conn, .. }
            | TraceEvent::Rejected { conn, .. }
            | TraceEvent::Connected { conn }
            | TraceEvent::Disconnected { conn } => !peer(conn),
            TraceEvent::Expired { .. } => true,
        });
    }

    /// Moves every other node's clock and disk to now.
    pub(super) fn advance_other_clocks(&mut self) {
        let now = self.now_ms;
        for other in &mut self.others {
            other.node.env_mut().advance_to(now);
        }
    }

    pub(super) fn other_tick(&mut self, number: usize, at_ms: u64) {
        let other = &mut self.others[number - 1];
        if other.tick_at_ms != Some(at_ms) {
            return;
        }
        other.tick_at_ms = None;
        other.node.on_tick();
        other.touched = true;
    }

    pub(super) fn other_disk_done(&mut self, number: usize, at_ms: u64) {
        let other = &mut self.others[number - 1];
        other.disk_done_at_ms.remove(&at_ms);
        let done = other.node.env_mut().disk.complete_due(at_ms);
        for (op, result) in done {
            other.node.on_disk_done(op, result);
        }
        other.touched = true;
    }

    /// The end of the event-loop iteration of every other node that had
    /// something delivered.
    pub(super) fn end_other_iterations(&mut self) {
        for index in 0..self.others.len() {
            if self.others[index].touched {
                self.end_other_iteration(index + 1);
            }
        }
    }

    /// `before_sleep` of node `number`, then what it sent, its next tick
    /// and its background disk completions.
    fn end_other_iteration(&mut self, number: usize) {
        let now = self.now_ms;
        let tracing = tracing::enabled!(target: "redoubt_sim", tracing::Level::DEBUG);
        let other = &mut self.others[number - 1];
        other.touched = false;
        other.node.before_sleep();
        other.look_at_stream();
        let node = &mut other.node;
        let env = node.env_mut();
        // The log lines are hashed already; kept only to print them.
        let logs = std::mem::take(&mut env.logs);
        let logs = if tracing { logs } else { Vec::new() };
        // Only the hash of a replica's trace is kept.
        env.trace.clear();
        env.trouble.clear();
        env.disk.take_stall_ms();
        let actions = std::mem::take(&mut env.outbox);
        let deadline = node
            .env()
            .clock
            .sim_ms_at_monotonic(node.next_deadline())
            .max(now);
        let due = node.env().disk.pending_due_ms();
        for (_, level, line) in &logs {
            self.trace_line(format_args!("node {number} log {level:?}: {line}"));
        }
        for action in actions {
            // A replica has no clients: what is not for a peer goes nowhere.
            self.peer_action(number, action);
        }
        let other = &mut self.others[number - 1];
        let new_tick = other.tick_at_ms != Some(deadline);
        if new_tick {
            other.tick_at_ms = Some(deadline);
        }
        let new_due: Vec<u64> = due
            .into_iter()
            .filter(|&at_ms| other.disk_done_at_ms.insert(at_ms))
            .collect();
        if new_tick {
            self.schedule(deadline, Event::OtherTick { node: number });
        }
        for at_ms in new_due {
            self.schedule(at_ms, Event::OtherDiskDone { node: number });
        }
    }
}

impl Simulation {
    /// Once the run's work is over: whether every replica caught up with
    /// node 0, at the end of an iteration of every node; then (or once the
    /// wait is over) how they stand, for the replication checker.
    pub(super) fn watch_replication(&mut self) {
        if self.replication.is_some() || !self.work_done() {
            return;
        }
        let since = *self.settle_since_ms.get_or_insert(self.now_ms);
        self.replication = self.look_at_replicas(since);
    }

    /// Before the final crash: whether the replicas caught up with what the
    /// workload left (then judged, so the stream they applied is checked,
    /// not only the full sync after the crash). False while the crash
    /// should wait for them.
    pub(super) fn replicas_ready_for_final(&mut self) -> bool {
        if self.others.is_empty() || self.replication_before_final.is_some() {
            return true;
        }
        let since = *self.final_wait_since_ms.get_or_insert(self.now_ms);
        self.replication_before_final = self.look_at_replicas(since);
        self.replication_before_final.is_some()
    }

    /// How the replicas stand against node 0, if they caught up (at the end
    /// of an event-loop iteration of every node) or the wait that began at
    /// `since_ms` is over; `None` while the wait goes on.
    fn look_at_replicas(&self, since_ms: u64) -> Option<ReplicationEnd> {
        let NodeState::Up {
            node: master,
            paused_until,
        } = &self.node
        else {
            return None;
        };
        let waited_ms = self.now_ms - since_ms;
        let master_offset = master.server().repl.offset;
        let link_up = |node: &Node<SimEnv>| {
            node.server()
                .repl
                .link
                .as_ref()
                .is_some_and(|link| link.state == LinkState::Connected)
        };
        let between_iterations =
            !self.node_touched && self.others.iter().all(|other| !other.touched);
        let caught_up = paused_until.is_none()
            && between_iterations
            && self.others.iter().all(|other| {
                link_up(&other.node) && other.node.server().repl.offset == master_offset
            });
        if !caught_up && waited_ms < SETTLE_MS_MAX {
            return None;
        }
        let master_data = dataset_of(master);
        let replicas = self
            .others
            .iter()
            .enumerate()
            .map(|(index, other)| {
                let data = dataset_of(&other.node);
                let (differences, differences_total) = differences(&master_data, &data);
                let repl = &other.node.server().repl;
                ReplicaEnd {
                    number: index + 1,
                    addr: other.addr.clone(),
                    link_up: link_up(&other.node),
                    link_state: repl
                        .link
                        .as_ref()
                        .map_or("none", |link| link.state.role_name()),
                    offset: repl.offset,
                    keys: key_count(&data),
                    differences,
                    differences_total,
                }
            })
            .collect();
        Some(ReplicationEnd {
            waited_ms,
            caught_up,
            master_offset,
            master_keys: key_count(&master_data),
            replicas,
            full_syncs: self.others.iter().map(|other| other.full_syncs).sum(),
            stream_bytes: self.others.iter().map(|other| other.stream_bytes).sum(),
        })
    }

    /// The trace hashes of the other nodes' lives, in node order.
    pub(super) fn other_trace_hashes(&self) -> Vec<u64> {
        self.others
            .iter()
            .map(|other| other.node.env().trace_hash())
            .collect()
    }
}
