//! The nodes of a run other than node 0, and the connections between
//! nodes.
//!
//! Node 0 is the node the clients talk to (the master when the scenario
//! has replicas); its lives are [`super::lives`]. Nodes 1..=N are its
//! replicas ([`OtherNode`]): each has its own `SimEnv` (its own clock
//! without drift or jumps, its own `SimDisk` without faults, its own
//! random streams, see `stream::OTHER_NODE_BASE`), its own event-loop
//! iterations (delivered events, then `before_sleep`, as node 0's), its
//! own timer and background disk completions.
//!
//! A replica crashes when the plan says so (`faults.replica_crashes`,
//! drawn from a stream of their own): the node is dropped, its disk gets
//! what node 0's disk gets at a crash of the same kind (a process crash
//! keeps the page cache; a power loss keeps the durable image plus what
//! the plan's sector model lets through), every connection it held closes
//! as a crashed node 0's do, and after the delay it starts again on that
//! disk with the same configuration (`replicaof` included), as a new
//! incarnation with a `Random` stream of its own
//! (`stream::OTHER_NODE_RESTART_BASE`). A replica that refuses to start is
//! tried again every second, [`REPLICA_START_ATTEMPTS_MAX`] times at most;
//! then it stays down, and the replication checker says why.
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
//! Partitions ([`crate::world::net`]) act here and in `SimNet`: a `cut`
//! resets every connection between its two nodes (each side hears the
//! close after one latency; bytes in flight or sent since are dropped)
//! and refuses their connects until it heals; a hold delays what is sent
//! between them to its heal. In runs whose scenario asks for partitions,
//! the replication paths taken are counted ([`ReplicationPaths`]): each
//! PSYNC node 0 answers, judged by the replica's history and offset
//! against node 0's backlog at that moment, and the links core timed out.
//!
//! Node 0's trace records the commands of the replicas' connections
//! (`PING`, `REPLCONF`, `PSYNC`): they are taken out of the trace the
//! checkers read, which knows only clients ([`Simulation::forget_peer_commands`]);
//! the trace hash keeps them.

use std::collections::BTreeSet;

use redoubt_core::env::ConnId;
use redoubt_core::{Config, ConnInfo, Node};

use redoubt_core::repl::replica::LinkState;
use redoubt_core::repl::PeerState;

use super::lives::dataset_of;
use super::simulation::{Event, NodeState, Simulation};
use crate::check::replication::{
    differences, key_count, ReplicaEnd, ReplicationEnd, SETTLE_MS_MAX,
};
use crate::faults::{CrashKind, HeldDirection, PartitionMode};
use crate::world::clock::SimClock;
use crate::world::disk::{CrashKind as DiskCrash, SimDisk};
use crate::world::env::{NetAction, SimEnv};
use crate::world::net::{Direction, LinkId, NetPartition};
use crate::world::rng::{stream, SimRng};
use crate::world::trace::{TraceEvent, TraceRecord};

/// The host every simulated node listens on.
pub const NODE_HOST: &str = "127.0.0.1";

/// Start attempts of a crashed replica, at most, a second apart.
pub const REPLICA_START_ATTEMPTS_MAX: usize = 30;
/// Between start attempts of a replica that refused to start.
const REPLICA_START_RETRY_MS: u64 = 1000;

/// A crashed replica waiting to start again.
pub(super) struct DownReplica {
    pub disk: SimDisk,
    /// Why earlier start attempts failed.
    pub refusals: Vec<String>,
    /// It gave up: it refused [`REPLICA_START_ATTEMPTS_MAX`] times.
    pub given_up: bool,
}

/// A node other than node 0: a replica.
pub(super) struct OtherNode {
    /// `host:port` it listens on.
    pub addr: String,
    /// `None` while it is down after a crash.
    pub node: Option<Box<Node<SimEnv>>>,
    /// The configuration it starts with (again after a crash).
    pub config: Config,
    /// Its disk while it is down.
    pub down: Option<DownReplica>,
    /// The trace hashes of its lives that ended (crashes, refused starts).
    pub past_hashes: Vec<u64>,
    /// It restarted and node 0 has not answered a PSYNC of it since.
    pub sync_after_restart_pending: bool,
    /// Lives so far, minus one.
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
    /// PSYNCs node 0 answered for it (partially or in full).
    pub syncs_answered: u64,
}

/// How the replicas got (back) in sync with node 0, over the run: what
/// node 0 answered to each PSYNC, and the links core timed out. Counted
/// only when the scenario asks for partitions.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplicationPaths {
    /// `+CONTINUE`: the backlog held the replica's offset.
    pub partial_resyncs: u64,
    /// A replica's first sync.
    pub full_syncs_first: u64,
    /// The replica's history was not node 0's (node 0 restarted with a
    /// new replication id).
    pub full_syncs_new_history: u64,
    /// Same history, but the backlog no longer held the replica's offset:
    /// it overflowed while the replica was away.
    pub full_syncs_backlog_overflow: u64,
    /// Same history, the replica's offset past node 0's (node 0 lost
    /// writes it had streamed), or no backlog at all.
    pub full_syncs_other: u64,
    /// Node 0 dropped a replica that had not acknowledged within
    /// `repl-timeout`.
    pub master_timeouts: u64,
    /// A replica timed out its link (no data, a connect or handshake that
    /// took too long, a transfer that stalled).
    pub replica_timeouts: u64,
    /// A replica's link closed while its dataset was arriving (a cut, its
    /// master going down): the full sync starts over.
    pub full_syncs_interrupted: u64,
    /// The counts below are reported (the scenario asks for replica
    /// crashes).
    pub restarts_counted: bool,
    /// Replicas that started again after a crash.
    pub replica_restarts: u64,
    /// Start attempts of a crashed replica that failed.
    pub replica_starts_refused: u64,
    /// The first PSYNC node 0 answered for a restarted replica was
    /// accepted (`+CONTINUE`): it went on from its own dump's history.
    pub restarts_resynced_partially: u64,
    /// ... or needed a full sync.
    pub restarts_resynced_fully: u64,
}

impl ReplicationPaths {
    /// Every count by the name reports print, in a fixed order.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        let mut named = vec![
            ("partial_resyncs", self.partial_resyncs),
            ("full_syncs_first", self.full_syncs_first),
            ("full_syncs_new_history", self.full_syncs_new_history),
            (
                "full_syncs_backlog_overflow",
                self.full_syncs_backlog_overflow,
            ),
            ("full_syncs_other", self.full_syncs_other),
            ("master_timeouts", self.master_timeouts),
            ("replica_timeouts", self.replica_timeouts),
            ("full_syncs_interrupted", self.full_syncs_interrupted),
        ];
        if self.restarts_counted {
            named.extend([
                ("replica_restarts", self.replica_restarts),
                ("replica_starts_refused", self.replica_starts_refused),
                (
                    "restarts_resynced_partially",
                    self.restarts_resynced_partially,
                ),
                ("restarts_resynced_fully", self.restarts_resynced_fully),
            ]);
        }
        named
    }

    /// Counts the timeouts a node's log lines tell of.
    pub(super) fn count_log_lines<'a>(&mut self, lines: impl Iterator<Item = &'a str>) {
        for line in lines {
            if line.starts_with("Disconnecting timedout replica") {
                self.master_timeouts += 1;
            } else if line.starts_with("MASTER timeout")
                || line.starts_with("Timeout connecting to the MASTER")
                || line.starts_with("Timeout receiving bulk data from MASTER")
            {
                self.replica_timeouts += 1;
            }
        }
    }
}

impl OtherNode {
    pub fn new(addr: String, node: Node<SimEnv>, config: Config) -> Self {
        let repl = &node.server().repl;
        let seen = (repl.replid.clone(), repl.offset);
        OtherNode {
            addr,
            node: Some(Box::new(node)),
            config,
            down: None,
            past_hashes: Vec::new(),
            sync_after_restart_pending: false,
            incarnation: 0,
            touched: true,
            tick_at_ms: None,
            disk_done_at_ms: BTreeSet::new(),
            seen,
            stream_bytes: 0,
            full_syncs: 0,
            syncs_answered: 0,
        }
    }

    /// Why it is down, for the replication checker.
    fn down_reason(&self) -> String {
        match &self.down {
            Some(down) if down.given_up => format!(
                "refused to start after its crash {} times, last: {}",
                down.refusals.len(),
                down.refusals.last().map_or("", String::as_str)
            ),
            Some(down) => match down.refusals.last() {
                Some(reason) => format!(
                    "down after a crash, {} start attempts refused so far, last: {reason}",
                    down.refusals.len()
                ),
                None => "down after a crash, its restart not due yet".into(),
            },
            None => "down".into(),
        }
    }

    /// Counts what its replication did since the last look.
    fn look_at_stream(&mut self) {
        let Some(node) = &self.node else {
            return;
        };
        let repl = &node.server().repl;
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
    /// A `cut` partition reset it: each side hears the close, nothing
    /// else gets through.
    pub reset: bool,
}

/// The direction of traffic towards `side`.
fn towards(side: usize) -> Direction {
    if side == ACCEPTING {
        Direction::ToNode
    } else {
        Direction::ToClient
    }
}

/// Opens a connection to `node` from a process on its machine (the
/// operator, the publish-confirm listener) and sends `argv` on it; the
/// caller reads or drops what comes back. Returns the connection.
pub(super) fn local_request(
    node: &mut Node<SimEnv>,
    peer_addr: &str,
    fd: i64,
    argv: &[Vec<u8>],
) -> ConnId {
    let conn = node.on_accept(ConnInfo {
        peer_addr: peer_addr.to_string(),
        local_addr: node_addr(node.config().port, 0),
        fd,
    });
    let mut bytes = Vec::new();
    crate::workload::resp::encode_request(argv, &mut bytes);
    node.on_bytes(conn, &bytes);
    conn
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
            n => self.others[n - 1].node.as_deref_mut(),
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
        let target = self.node_at(addr);
        let nodes = target.map(|target| (from.node, target));
        let link = self.net.add_peer_link(self.options.seed, nodes);
        debug_assert_eq!(link, self.peer_links.len());
        self.peer_links.push(PeerLink {
            ends: [Some(from), None],
            open: [true, false],
            target,
            reset: false,
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
        if !state.open[side] || !state.open[other] || state.reset {
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
        if !state.open[CONNECTING] || state.reset {
            // Closed meanwhile, or reset by a cut (which told it so).
            return;
        }
        let target = state.target;
        // A cut refuses connects between its nodes.
        let target = target.filter(|&number| !self.net.cut_between(from.node, number));
        let info = target.map(|number| self.peer_conn_info(link, number));
        let accepted = match (target, info) {
            (Some(0), Some(info)) => match &mut self.node {
                NodeState::Up { node, .. } => Some(node.on_accept(info)),
                _ => None,
            },
            (Some(number), Some(info)) => self.others[number - 1]
                .node
                .as_mut()
                .map(|node| node.on_accept(info)),
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
        if state.reset && !matches!(what, PeerDelivery::Closed) {
            // A reset connection delivers nothing but its close.
            return;
        }
        if matches!(what, PeerDelivery::Closed) {
            self.peer_links[link].open[side] = false;
            self.peer_ends
                .remove(&(end.node, end.incarnation, end.conn));
        }
        let watch_syncs = number == 0 && self.replication_paths_asked();
        let Some(node) = self.node_running(number) else {
            return;
        };
        let was_replica = watch_syncs && node.server().repl.peers.contains_key(&end.conn);
        let interrupted = matches!(what, PeerDelivery::Closed)
            && node.server().repl.link.as_ref().is_some_and(|link| {
                link.state == LinkState::Transfer && link.conn == Some(end.conn)
            });
        match what {
            PeerDelivery::Connected => node.on_connected(end.conn),
            PeerDelivery::Bytes(bytes) => node.on_bytes(end.conn, &bytes),
            PeerDelivery::Closed => node.on_closed(end.conn),
        }
        self.touch(number);
        if interrupted && self.replication_paths_asked() {
            self.replication_paths.full_syncs_interrupted += 1;
        }
        if watch_syncs && !was_replica {
            self.count_sync_answer(link, end.conn);
        }
    }

    /// If node 0 just took the connection `conn` of `link` as a replica
    /// (it answered a PSYNC), counts how: partially, or in full and why,
    /// judged by the replica's history and offset (what it asked with)
    /// against node 0's own and its backlog.
    fn count_sync_answer(&mut self, link: usize, conn: ConnId) {
        let Some(replica) = self.peer_links[link].ends[CONNECTING].map(|end| end.node) else {
            return;
        };
        if replica == 0 {
            return;
        }
        let NodeState::Up { node: master, .. } = &self.node else {
            return;
        };
        let master_repl = &master.server().repl;
        let Some(peer) = master_repl.peers.get(&conn) else {
            return;
        };
        let partial = peer.state == PeerState::Online;
        let other = &mut self.others[replica - 1];
        let Some(node) = &other.node else {
            return;
        };
        let first = other.syncs_answered == 0;
        other.syncs_answered += 1;
        let after_restart = std::mem::take(&mut other.sync_after_restart_pending);
        let ours = &node.server().repl;
        let wanted = ours.offset + 1;
        let same_history = ours.replid == master_repl.replid
            || (ours.replid == master_repl.replid2 && wanted as i64 <= master_repl.second_offset);
        let paths = &mut self.replication_paths;
        if after_restart && partial {
            paths.restarts_resynced_partially += 1;
        } else if after_restart {
            paths.restarts_resynced_fully += 1;
        }
        if partial {
            paths.partial_resyncs += 1;
        } else if first {
            paths.full_syncs_first += 1;
        } else if !same_history {
            paths.full_syncs_new_history += 1;
        } else if master_repl
            .backlog
            .as_ref()
            .is_some_and(|backlog| wanted < backlog.first_offset())
        {
            paths.full_syncs_backlog_overflow += 1;
        } else {
            paths.full_syncs_other += 1;
        }
    }

    /// The plan's partition between node 0 and `replica` starts; it heals
    /// after `duration_ms`, or at the quiet phase if that comes first.
    /// False if there is no such replica.
    pub(super) fn start_partition(
        &mut self,
        replica: u64,
        duration_ms: u64,
        mode: PartitionMode,
        held: Option<HeldDirection>,
    ) -> bool {
        let replica = replica as usize;
        if replica == 0 || replica > self.others.len() {
            return false;
        }
        let mut heal_at_ms = self.now_ms + duration_ms;
        if let Some(quiet_ms) = self.options.faults.quiet_at_ms {
            heal_at_ms = heal_at_ms.min(quiet_ms.max(self.now_ms));
        }
        let held = match (mode, held.unwrap_or(HeldDirection::MasterToReplica)) {
            (PartitionMode::Cut, _) => [false, false],
            (PartitionMode::Hold, _) => [true, true],
            (PartitionMode::OneWay, HeldDirection::MasterToReplica) => [true, false],
            (PartitionMode::OneWay, HeldDirection::ReplicaToMaster) => [false, true],
        };
        let id = self.partitions_started;
        self.partitions_started += 1;
        self.net.partition(NetPartition {
            id,
            nodes: (0, replica),
            cut: mode == PartitionMode::Cut,
            held,
            heal_at_ms,
        });
        if mode == PartitionMode::Cut {
            self.reset_peer_links_between(0, replica);
        }
        self.schedule(heal_at_ms, Event::Heal { partition: id });
        true
    }

    /// A cut resets every connection between nodes `a` and `b`: each side
    /// still open hears the close after one latency.
    fn reset_peer_links_between(&mut self, a: usize, b: usize) {
        for link in 0..self.peer_links.len() {
            let joins = matches!(self.net.peer_nodes(link), Some(nodes) if nodes == (a, b) || nodes == (b, a));
            let state = &self.peer_links[link];
            if !joins || state.reset || !(state.open[CONNECTING] || state.open[ACCEPTING]) {
                continue;
            }
            self.peer_links[link].reset = true;
            for side in [CONNECTING, ACCEPTING] {
                let state = &self.peer_links[link];
                let Some(end) = state.ends[side] else {
                    continue;
                };
                if !state.open[side] {
                    continue;
                }
                let at_ms = self
                    .net
                    .delivery_ms_on(LinkId::Peer(link), towards(side), self.now_ms);
                let event = Event::PeerDeliver {
                    node: end.node,
                    link,
                    side,
                    what: PeerDelivery::Closed,
                };
                self.schedule(at_ms, event);
            }
        }
    }

    /// Node `number` lost power: what it had sent to other nodes and was
    /// still on the way (in its socket buffers, on the wire) is lost, as
    /// after a cut; the other side hears only the close.
    pub(super) fn lose_peer_traffic_of(&mut self, number: usize) {
        for (_, link, _) in self.peer_ends_of(number) {
            self.peer_links[link].reset = true;
        }
    }

    /// The connections node `number` holds open to other nodes, in its
    /// life now: (its connection id, link, side).
    pub(super) fn peer_ends_of(&self, number: usize) -> Vec<(ConnId, usize, usize)> {
        let incarnation = self.node_incarnation(number);
        self.peer_ends
            .range((number, incarnation, 0)..=(number, incarnation, ConnId::MAX))
            .map(|(&(_, _, conn), &(link, side))| (conn, link, side))
            .collect()
    }

    /// The ids of those connections, as node `number` knows them.
    pub(super) fn peer_conns_of(&self, number: usize) -> Vec<ConnId> {
        self.peer_ends_of(number)
            .into_iter()
            .map(|(conn, _, _)| conn)
            .collect()
    }

    /// Node `number` went down: every connection it held to another node
    /// closes, and the other side hears of it after what was sent before.
    pub(super) fn close_peer_links_of(&mut self, number: usize) {
        for (_, link, side) in self.peer_ends_of(number) {
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
            TraceEvent::Expired { .. } | TraceEvent::Evicted { .. } => true,
        });
    }

    /// Moves every other node's clock and disk to now.
    pub(super) fn advance_other_clocks(&mut self) {
        let now = self.now_ms;
        for other in &mut self.others {
            match (&mut other.node, &mut other.down) {
                (Some(node), _) => node.env_mut().advance_to(now),
                (None, Some(down)) => down.disk.set_now_ms(now),
                (None, None) => {}
            }
        }
    }

    pub(super) fn other_tick(&mut self, number: usize, at_ms: u64) {
        let other = &mut self.others[number - 1];
        if other.tick_at_ms != Some(at_ms) {
            return;
        }
        other.tick_at_ms = None;
        let Some(node) = other.node.as_mut() else {
            return;
        };
        node.on_tick();
        other.touched = true;
    }

    pub(super) fn other_disk_done(&mut self, number: usize, at_ms: u64) {
        let other = &mut self.others[number - 1];
        other.disk_done_at_ms.remove(&at_ms);
        let Some(node) = other.node.as_mut() else {
            return;
        };
        let done = node.env_mut().disk.complete_due(at_ms);
        for (op, result) in done {
            node.on_disk_done(op, result);
        }
        other.touched = true;
    }

    /// The end of the event-loop iteration of every other node that had
    /// something delivered.
    pub(super) fn end_other_iterations(&mut self) {
        self.listener_look();
        self.reader_look();
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
        let count_logs = self.replication_paths_asked();
        let other = &mut self.others[number - 1];
        other.touched = false;
        let Some(node) = other.node.as_mut() else {
            return;
        };
        node.before_sleep();
        other.look_at_stream();
        let Some(node) = other.node.as_mut() else {
            return;
        };
        let env = node.env_mut();
        // The log lines are hashed already; kept only to print them.
        let logs = std::mem::take(&mut env.logs);
        let logs = if tracing || count_logs {
            logs
        } else {
            Vec::new()
        };
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
        if count_logs {
            let lines = logs.iter().map(|(_, _, line)| line.as_str());
            self.replication_paths.count_log_lines(lines);
        }
        if tracing {
            for (_, level, line) in &logs {
                self.trace_line(format_args!("node {number} log {level:?}: {line}"));
            }
        }
        let actions = self.listener_take(number, actions);
        let actions = self.reader_take(number, actions);
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
                other
                    .node
                    .as_ref()
                    .is_some_and(|node| link_up(node) && node.server().repl.offset == master_offset)
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
                let Some(node) = &other.node else {
                    return ReplicaEnd {
                        number: index + 1,
                        addr: other.addr.clone(),
                        link_up: false,
                        link_state: "none",
                        offset: 0,
                        keys: 0,
                        differences: Vec::new(),
                        differences_total: 0,
                        down: Some(other.down_reason()),
                    };
                };
                let data = dataset_of(node);
                let (differences, differences_total) = differences(&master_data, &data);
                let repl = &node.server().repl;
                ReplicaEnd {
                    number: index + 1,
                    addr: other.addr.clone(),
                    down: None,
                    link_up: link_up(node),
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
    /// A crashed replica's ended lives come first, then its current one.
    pub(super) fn other_trace_hashes(&self) -> Vec<u64> {
        self.others
            .iter()
            .flat_map(|other| {
                let current = other.node.as_ref().map(|node| node.env().trace_hash());
                other.past_hashes.iter().copied().chain(current)
            })
            .collect()
    }

    /// Whether the report counts the replication paths: the scenario asks
    /// for partitions or replica crashes.
    pub(super) fn replication_paths_asked(&self) -> bool {
        self.options.partitions_asked || self.options.replica_crashes_asked
    }

    /// The plan's crash of `replica`: the node is dropped, its disk gets
    /// what `kind` leaves, every connection it held closes, and it starts
    /// again after `restart_delay_ms`. False if there is no such replica
    /// or it is down already.
    pub(super) fn crash_replica(
        &mut self,
        replica: u64,
        kind: CrashKind,
        restart_delay_ms: u64,
    ) -> bool {
        let number = replica as usize;
        if number == 0 || number > self.others.len() || self.others[number - 1].node.is_none() {
            return false;
        }
        if kind == CrashKind::PowerLoss {
            self.lose_peer_traffic_of(number);
        }
        self.close_peer_links_of(number);
        let power_loss = super::lives::disk_faults(&self.options.faults.disk).power_loss;
        let other = &mut self.others[number - 1];
        let Some(node) = other.node.take() else {
            return false;
        };
        let env = node.into_env();
        other.past_hashes.push(env.trace_hash());
        let mut disk = env.disk;
        disk.crash(DiskCrash::Process);
        if kind == CrashKind::PowerLoss {
            let mut faults = disk.faults().clone();
            faults.power_loss = power_loss;
            disk.set_faults(faults);
            disk.crash(DiskCrash::PowerLoss);
        }
        other.incarnation += 1;
        other.touched = false;
        other.tick_at_ms = None;
        other.disk_done_at_ms.clear();
        self.nodes_lost_ms.push(self.now_ms);
        let other = &mut self.others[number - 1];
        other.down = Some(DownReplica {
            disk,
            refusals: Vec::new(),
            given_up: false,
        });
        self.schedule(
            self.now_ms + restart_delay_ms,
            Event::ReplicaRestart { node: number },
        );
        true
    }

    /// A crashed replica starts again on its disk with its configuration;
    /// if it refuses, it is tried again a second later, a few times.
    pub(super) fn restart_replica(&mut self, number: usize) {
        let seed = self.options.seed;
        let now = self.now_ms;
        let mut clock = SimClock::new(self.options.wall_offset_ms as i64);
        clock.advance_to(now);
        let other = &mut self.others[number - 1];
        let Some(mut down) = other.down.take() else {
            return;
        };
        let lives_ended = other.past_hashes.len() as u64;
        let random = SimRng::new(
            seed,
            stream::OTHER_NODE_RESTART_BASE
                + number as u64 * stream::NODE_RESTARTS_MAX
                + lives_ended.min(stream::NODE_RESTARTS_MAX - 1),
        );
        let mut env = SimEnv::new(clock, down.disk, random);
        env.advance_to(now);
        match Node::start(env, other.config.clone()) {
            Ok(node) => {
                let repl = &node.server().repl;
                other.seen = (repl.replid.clone(), repl.offset);
                other.node = Some(Box::new(node));
                other.touched = true;
                other.sync_after_restart_pending = true;
                self.replication_paths.replica_restarts += 1;
            }
            Err(error) => {
                let mut env = error.env;
                other.past_hashes.push(env.trace_hash());
                env.trace.clear();
                down.disk = env.disk;
                down.refusals.push(error.reason);
                self.replication_paths.replica_starts_refused += 1;
                if down.refusals.len() >= REPLICA_START_ATTEMPTS_MAX {
                    down.given_up = true;
                    other.down = Some(down);
                    return;
                }
                other.down = Some(down);
                self.schedule(
                    now + REPLICA_START_RETRY_MS,
                    Event::ReplicaRestart { node: number },
                );
            }
        }
    }
}
