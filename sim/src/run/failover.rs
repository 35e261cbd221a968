//! Failover by an operator, behind a proxy.
//!
//! The clients reach the master through a proxy that, as HAProxy's
//! tcp-check does, asks every node `INFO replication` once a second and
//! routes new connections to the one answering `role:master`. Node 0 is
//! that seat: whichever node the proxy routes to. A failover
//! ([`crate::faults::ScheduledFault::Failover`]) loses the master, by a
//! crash or by cutting it from every replica (not from its clients, which
//! go on writing to it: a split brain), and after the plan's detection
//! delay the operator:
//!
//! 1. picks the running replica furthest ahead (the largest offset), as
//!    Sentinel does, and sends it `REPLICAOF NO ONE`;
//! 2. sends every other replica `REPLICAOF` the new master (a replica that
//!    is down gets it in its configuration, for its restart);
//! 3. demotes the old master: if it still runs, `REPLICAOF` the new master
//!    at once and the proxy drops its clients' connections (under CLIENT
//!    PAUSE ALL, which would hold the REPLICAOF, the operator first waits
//!    for the pause to end); if it is down,
//!    its configuration names the new master, and it starts again as a
//!    replica after the plan's delay.
//!
//! The simulator then swaps the two nodes' seats: the promoted node becomes
//! node 0 (its address, configuration, disk profile and faults with it),
//! the old master takes the promoted node's number. Every connection
//! either node held to another node closes (both sides hear of it),
//! partitions follow the nodes they were drawn for, and both seats begin a
//! new life. The proxy routes new connections to the new master from its
//! next check, on the next whole second.
//!
//! For the checkers a failover is a restart of node 0 whose recovered
//! dataset is the promoted replica's: the prefix checker finds which prefix
//! of the write log it holds; the durability rule is
//! [`crate::check::durability::FailoverLoss`] (what WAIT and WAITAOF
//! confirmed to enough replicas); the acknowledged writes it lost anyway are
//! counted, Jepsen's way, and reported, not judged, since Redis does not
//! promise them ([`crate::check::failover`]).

use redoubt_core::env::ConnId;
use redoubt_core::Node;

use super::lives::{dataset_of, disk_faults};
use super::nodes::{local_request, DownReplica, NODE_HOST};
use super::simulation::{Event, NodeState, Simulation};
use crate::check::durability::{Ending, FailoverLoss, Promise};
use crate::check::failover::FailoverRecord;
use crate::check::recovery::{DownCause, Recovered, RestartReport};
use crate::faults::{CrashKind, FailoverTrigger, PartitionMode, ShutdownHow};
use crate::world::disk::DiskFaults;
use crate::world::env::{NetAction, SimEnv};

/// Between the proxy's checks of the nodes.
pub const PROXY_CHECK_MS: u64 = 1000;
/// Between the operator's looks at a master it stopped, until it exits.
const SWITCHOVER_POLL_MS: u64 = 100;

/// A failover under way: the master is lost, the promotion not yet made.
#[derive(Debug, Clone)]
pub struct FailoverStart {
    pub started_ms: u64,
    /// The history (`master_replid`) the master was at when last seen: a
    /// replica on another (one that never synced since it came back)
    /// would bring back a dataset that is no prefix of it, and Sentinel
    /// would not pick it either.
    pub history: String,
    /// Node 0's life when the master was lost: if it went down and came
    /// back since, the operator saw it return and does not promote.
    pub incarnation: usize,
    pub trigger: FailoverTrigger,
    pub back_after_ms: u64,
    /// A switchover's master exited cleanly before its `shutdown-timeout`
    /// was up: the replicas it counted then (their numbers), each of
    /// which had acknowledged its every write.
    pub linked_at_exit: Option<Vec<usize>>,
}

impl Simulation {
    /// The plan's failover starts: the master is lost now and the operator
    /// promotes a replica after `detect_ms`. False if there is no replica,
    /// another failover is under way, or the master cannot be lost this way
    /// now (a partition needs it running).
    pub(super) fn start_failover(
        &mut self,
        trigger: FailoverTrigger,
        kind: CrashKind,
        detect_ms: u64,
        back_after_ms: u64,
    ) -> bool {
        if self.others.is_empty() || self.failover.is_some() || self.shutdown.is_some() {
            return false;
        }
        let up = matches!(
            self.node,
            NodeState::Up {
                paused_until: None,
                ..
            }
        );
        if let NodeState::Up { node, .. } = &self.node {
            self.master_history = node.server().repl.replid.clone();
        }
        match trigger {
            FailoverTrigger::Crash if up => {
                // Clients retry when the proxy could route them again.
                let delay = detect_ms + PROXY_CHECK_MS;
                self.crash_node(kind, delay, DownCause::Crash(kind), false);
            }
            // Down already: the operator notices all the same.
            FailoverTrigger::Crash => {}
            FailoverTrigger::Partition if up => {
                let duration_ms = detect_ms + back_after_ms;
                for replica in 1..=self.others.len() as u64 {
                    self.start_partition(replica, duration_ms, PartitionMode::Cut, None);
                }
            }
            FailoverTrigger::Partition => return false,
            FailoverTrigger::Shutdown if up => {
                // The operator stops the master, and waits for it to exit.
                let delay = detect_ms + PROXY_CHECK_MS;
                if !self.begin_shutdown(ShutdownHow::Signal, delay, false, false) {
                    return false;
                }
            }
            FailoverTrigger::Shutdown => return false,
        }
        self.failover = Some(FailoverStart {
            history: self.master_history.clone(),
            incarnation: self.incarnation,
            started_ms: self.now_ms,
            trigger,
            back_after_ms,
            linked_at_exit: None,
        });
        self.schedule(self.now_ms + detect_ms, Event::Promote);
        true
    }

    /// The master exits after a SIGTERM asked at `asked_ms`: in a
    /// switchover, records the replicas it counts if it exits before its
    /// `shutdown-timeout` is up (it then waited for each to acknowledge
    /// every write; Redis promises nothing for one it no longer counts).
    pub(super) fn switchover_exit(&mut self, asked_ms: u64) {
        let Some(progress) = self.failover.as_mut() else {
            return;
        };
        if progress.trigger != FailoverTrigger::Shutdown {
            return;
        }
        let in_time = self.now_ms - asked_ms < self.config.shutdown_timeout_s * 1000;
        let NodeState::Up { node, .. } = &self.node else {
            return;
        };
        // The replicas the master counts (a replica it timed out is not
        // one, even if its own side of the link still looks up), by the
        // port each announced.
        let ports: Vec<u16> = node
            .server()
            .repl
            .peers
            .values()
            .map(|peer| peer.listening_port)
            .collect();
        let linked = (1..=self.others.len())
            .filter(|&number| ports.contains(&self.others[number - 1].config.port))
            .collect();
        progress.linked_at_exit = in_time.then_some(linked);
    }

    /// The operator's promotion, if the master is still lost and a replica
    /// runs.
    pub(super) fn promote(&mut self) {
        let Some(progress) = self.failover.take() else {
            return;
        };
        let exiting = matches!(self.node, NodeState::Up { .. }) && self.shutdown.is_some();
        if progress.trigger == FailoverTrigger::Shutdown && exiting {
            // The operator waits for the master to exit.
            self.failover = Some(progress);
            self.schedule(self.now_ms + SWITCHOVER_POLL_MS, Event::Promote);
            return;
        }
        let still_lost = match progress.trigger {
            // It came back by itself first: nothing to do.
            FailoverTrigger::Crash | FailoverTrigger::Shutdown => {
                matches!(&self.node, NodeState::Down(parked) if !parked.is_final)
            }
            // Healed already (by the quiet phase): the master has its
            // replicas back, and the operator sees nothing to do.
            FailoverTrigger::Partition => match &self.node {
                NodeState::Up { paused_until, .. } => {
                    paused_until.is_none() && self.net.cut_between(0, 1)
                }
                NodeState::Down(parked) => !parked.is_final,
                NodeState::Gone => false,
            },
        };
        // A shutdown under way (the master exiting by itself) is left to
        // finish; its restart is the master coming back.
        let still_lost = still_lost
            && self.incarnation == progress.incarnation
            && self.shutdown.is_none()
            && !self.ended;
        let chosen = self.furthest_replica(&progress.history);
        let Some(chosen) = chosen.filter(|_| still_lost) else {
            let record = FailoverRecord::new(progress.started_ms, progress.trigger);
            self.failovers.push(record);
            return;
        };
        // A running old master under CLIENT PAUSE ALL would hold the
        // operator's REPLICAOF like any request: the operator waits for
        // the pause to end before it switches.
        let paused_all = match &self.node {
            NodeState::Up { node, .. } => node.server().client_pause.is_some_and(|p| p.all),
            _ => false,
        };
        if paused_all {
            self.failover = Some(progress);
            self.schedule(self.now_ms + SWITCHOVER_POLL_MS, Event::Promote);
            return;
        }
        let repl = &self.config.repl;
        let split_brain_bound_ms =
            (repl.min_replicas_to_write > 0).then_some(repl.min_replicas_max_lag_s * 1000);
        // The old master's life as node 0 ends; what it ran joins the log.
        let old = match std::mem::replace(&mut self.node, NodeState::Gone) {
            NodeState::Up { mut node, .. } => {
                self.end_incarnation_into_lineage(node.env_mut());
                let held: Vec<ConnId> = self.open_at_node.iter().copied().collect();
                let peers = self.peer_conns_of(0);
                self.close_connections_of_node();
                for conn in held.into_iter().chain(peers) {
                    node.on_closed(conn);
                }
                self.forget_node_schedule();
                // A crash armed between disk calls dies with the seat: the
                // demoted master goes on as a replica, whose disk must not
                // stop answering after its n-th call with nobody to end
                // the process (its fsyncs would never complete).
                if self.death.take().is_some() {
                    node.env_mut().disk.revive();
                }
                if let Some(since) = self.fsync_error_since_ms.take() {
                    self.trouble.add(since, self.now_ms);
                }
                Ok(node)
            }
            NodeState::Down(parked) => Err(parked.disk),
            NodeState::Gone => unreachable!("a lost master is up or down"),
        };
        // The promoted node leaves its seat.
        let other = &mut self.others[chosen - 1];
        let mut promoted = other.node.take().expect("the chosen replica runs");
        if self.listener.is_some() {
            let data = dataset_of(&promoted);
            if let Some(conn) = self.listener_promoted(chosen, &data) {
                promoted.on_closed(conn);
            }
        }
        if let Some(conn) = self.reader_promoted(chosen) {
            promoted.on_closed(conn);
        }
        let peers = self.peer_conns_of(chosen);
        self.close_peer_links_of(chosen);
        for conn in peers {
            promoted.on_closed(conn);
        }
        operator_command(&mut promoted, &["REPLICAOF", "NO", "ONE"]);
        assert!(
            !promoted.server().repl.is_replica(),
            "REPLICAOF NO ONE left the node a replica"
        );
        // Only client-facing lives keep their trace. Its life in this seat
        // ended: the seat's next start draws from a stream of its own.
        promoted.env_mut().trace.clear();
        let hash = promoted.env().trace_hash();
        self.others[chosen - 1].past_hashes.push(hash);
        // Swap the seats: addresses, configurations, numbers.
        let other = &mut self.others[chosen - 1];
        std::mem::swap(&mut self.master_addr, &mut other.addr);
        let mut master_config = other.config.clone();
        master_config.repl.replicaof = None;
        let mut old_config = std::mem::replace(&mut self.config, master_config);
        let (host, port) = (NODE_HOST.to_string(), self.config.port);
        old_config.repl.replicaof = Some((host.clone(), port));
        other.config = old_config;
        other.incarnation += 1;
        other.touched = true;
        other.tick_at_ms = None;
        other.disk_done_at_ms.clear();
        other.sync_after_restart_pending = true;
        self.net.swap_nodes(0, chosen);
        // The old master, demoted.
        match old {
            Ok(mut node) => {
                let env = node.env_mut();
                env.disk.heal();
                env.disk.set_faults(DiskFaults::default());
                env.disk.set_capacity_bytes(self.capacity_default_bytes);
                let port_text = port.to_string();
                operator_command(&mut node, &["REPLICAOF", &host, &port_text]);
                assert!(
                    node.server().repl.is_replica(),
                    "REPLICAOF left the old master a master"
                );
                let other = &mut self.others[chosen - 1];
                let repl = &node.server().repl;
                other.seen = (repl.replid.clone(), repl.offset);
                other.node = Some(node);
            }
            Err(mut disk) => {
                disk.heal();
                disk.set_faults(DiskFaults::default());
                disk.set_capacity_bytes(self.capacity_default_bytes);
                self.others[chosen - 1].down = Some(DownReplica {
                    disk,
                    refusals: Vec::new(),
                    given_up: false,
                });
                let at_ms = self.now_ms + progress.back_after_ms;
                self.schedule(at_ms, Event::ReplicaRestart { node: chosen });
            }
        }
        // The other replicas follow the new master.
        let port_text = port.to_string();
        for number in 1..=self.others.len() {
            if number == chosen {
                continue;
            }
            let other = &mut self.others[number - 1];
            other.config.repl.replicaof = Some((host.clone(), port));
            if let Some(node) = other.node.as_mut() {
                operator_command(node, &["REPLICAOF", &host, &port_text]);
                other.touched = true;
            }
        }
        let record = FailoverRecord {
            promoted: Some(chosen),
            split_brain_bound_ms,
            ..FailoverRecord::new(progress.started_ms, progress.trigger)
        };
        let in_sync = progress
            .linked_at_exit
            .as_ref()
            .is_some_and(|linked| linked.contains(&chosen));
        self.seat_promoted(promoted, chosen, record, in_sync);
    }

    /// The promoted node takes node 0's seat: judged as a restart whose
    /// dataset is the replica's, then the clients' master.
    fn seat_promoted(
        &mut self,
        mut node: Box<Node<SimEnv>>,
        chosen: usize,
        mut record: FailoverRecord,
        switchover_in_sync: bool,
    ) {
        self.incarnation += 1;
        let recovered = dataset_of(&node);
        let ending = Ending {
            at_ms: self.now_ms,
            power_loss: false,
            exit_made_safe: false,
            window_ms: 0,
            failover: Some(FailoverLoss {
                nodes_lost_ms: self.nodes_lost_ms.clone(),
                switchover_in_sync,
            }),
        };
        let when = format!("failover {}", self.failovers.len() + 1);
        let check = self.judge_dataset(&node, &recovered, &ending, &when);
        let kept = check.prefix.unwrap_or(0);
        let acknowledged_lost = self.lineage[kept..]
            .iter()
            .filter(|unit| unit.released_at_ms.is_some())
            .collect::<Vec<_>>();
        record.acknowledged_lost = acknowledged_lost.len() as u64;
        record.last_lost_released_ms = acknowledged_lost
            .iter()
            .filter_map(|unit| unit.released_at_ms)
            .max();
        record.confirmed_lost = acknowledged_lost
            .iter()
            .filter(|unit| unit.confirmed.replicas > 0)
            .count() as u64;
        // The old master is lost to later failovers: it comes back only as
        // a replica of the new one, with its dataset.
        self.nodes_lost_ms.push(record.started_ms);
        let repl = &node.server().repl;
        record.promoted_synced = node.server().aof_on && repl.fsynced_offset >= repl.offset;
        let (started_ms, synced) = (record.started_ms, record.promoted_synced);
        self.failovers.push(record);
        let report = RestartReport {
            number: self.restarts.len() + 1,
            cause: DownCause::Failover { promoted: chosen },
            down_ms: started_ms,
            restart_ms: self.now_ms,
            refusals: Vec::new(),
            outcome: Ok(Recovered {
                keys: recovered.values().map(|keys| keys.len()).sum(),
                truncated: None,
                check,
            }),
        };
        node.env_mut()
            .disk
            .set_faults(disk_faults(&self.options.faults.disk));
        self.take_seat(node, recovered, report);
        // What the old master promised about its disk (the fsync policy in
        // force, a WAITAOF's local fsync) says nothing of the new master's.
        // What the new master says of its own does: a replica whose AOF is
        // fsynced up to the offset it applied holds every write it kept on
        // its disk (under `appendfsync always` it always does), and a
        // later power loss owes them; otherwise they are owed as written.
        let kept = if synced { Promise::Always } else { Promise::No };
        for unit in &mut self.lineage {
            if unit.promise != Promise::AofOff {
                unit.promise = kept;
            }
            unit.confirmed.local_fsync = false;
        }
        let ready_ms = (self.now_ms / PROXY_CHECK_MS + 1) * PROXY_CHECK_MS;
        self.proxy_ready_at_ms = ready_ms;
        self.absent.push((started_ms, ready_ms));
        self.trouble.add(started_ms, ready_ms);
    }

    /// The running replica of `history` furthest ahead: the largest offset,
    /// the lowest number among equals.
    fn furthest_replica(&self, history: &str) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for (index, other) in self.others.iter().enumerate() {
            let Some(node) = other
                .node
                .as_ref()
                .filter(|n| n.server().repl.replid == history)
            else {
                continue;
            };
            let offset = node.server().repl.offset;
            if best.is_none_or(|(top, _)| offset > top) {
                best = Some((offset, index + 1));
            }
        }
        best.map(|(_, number)| number)
    }

    /// A client connecting now waits for the proxy to route it: until its
    /// first check after a promotion.
    pub(super) fn proxy_wait_ms(&self) -> Option<u64> {
        (self.now_ms < self.proxy_ready_at_ms).then_some(self.proxy_ready_at_ms)
    }
}

/// The operator runs one command on `node` over a connection of its own,
/// then closes it; the caller looks at the node's state for the outcome
/// (a reply may wait behind the node's fsync barrier).
fn operator_command(node: &mut Node<SimEnv>, words: &[&str]) {
    let argv: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
    let conn = local_request(node, "10.0.9.1:60000", 9000, &argv);
    node.before_sleep();
    node.env_mut().outbox.retain(|action| match action {
        NetAction::Send { conn: to, .. } | NetAction::Close { conn: to } => *to != conn,
        NetAction::Connect { .. } => true,
    });
    node.on_closed(conn);
}
