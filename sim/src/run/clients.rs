//! The clients' side of a run: connecting, sending batches, receiving
//! replies, disconnecting; the node's sends and closes as they travel back;
//! the prefill, the liveness probe and an operator's one-off commands.

use redoubt_core::{ConnInfo, Node};

use super::simulation::{ClientSlot, Event, NodeState, SimConn, Simulation};
use crate::check::apps::AckedJob;
use crate::check::durability::Promise;
use crate::check::integrity::ConnectionLog;
use crate::workload::resp::encode_request;
use crate::workload::{Batch, Client, Next, Role, ScriptStep};
use crate::world::env::{NetAction, SimEnv};
use crate::world::net::Direction;

/// Keys the prefill writes per MSET.
const PREFILL_KEYS_PER_BATCH: u64 = 200;

impl Simulation {
    /// The running node, if the connection belongs to it and is open there.
    pub(super) fn node_for(&mut self, conn: SimConn) -> Option<&mut Node<SimEnv>> {
        if conn.0 != self.incarnation || !self.open_at_node.contains(&conn.1) {
            return None;
        }
        self.running()
    }

    /// Adds a client of `role` that connects at `at_ms`; `counted`: its
    /// finishing is part of liveness.
    pub(super) fn add_client(&mut self, role: Role, at_ms: u64, counted: bool) -> usize {
        let index = self.clients.len();
        let client = Client::with_role(index, &self.options.workload, role);
        self.clients.push(ClientSlot {
            client,
            conn: None,
            finished: false,
            counted,
        });
        self.net.add_link(self.options.seed, index);
        self.schedule(at_ms, Event::ClientConnect { client: index });
        index
    }

    /// The prefill: MSETs of `fill:N` keys before the workload starts, so
    /// snapshots and rewrites span many slices.
    pub(super) fn start_prefill(&mut self) {
        let keys = self.options.prefill_keys;
        if keys == 0 {
            return;
        }
        let value_bytes = self.options.workload.value_bytes_max.clamp(8, 256) as usize;
        let mut batches: Vec<Batch> = Vec::new();
        let mut first = 0;
        while first < keys {
            let last = (first + PREFILL_KEYS_PER_BATCH).min(keys);
            let mut argv = vec![b"MSET".to_vec()];
            for i in first..last {
                argv.push(format!("fill:{i}").into_bytes());
                let mut value = format!("{i}:").into_bytes();
                value.resize(value_bytes, b'f');
                argv.push(value);
            }
            batches.push(vec![argv]);
            first = last;
        }
        self.add_client(Role::one_off(batches), 0, false);
    }

    pub(super) fn client_connect(&mut self, index: usize) {
        let restart_at_ms = match &self.node {
            NodeState::Down(parked) => Some(parked.restart_at_ms),
            NodeState::Up { .. } => None,
            NodeState::Gone => return,
        };
        // Behind the proxy, which routes to a new master from its next check.
        let restart_at_ms = restart_at_ms.or(self.proxy_wait_ms());
        if let Some(retry_ms) = restart_at_ms {
            // The node is down: the client tries again when it is back.
            let retry_ms = retry_ms.max(self.now_ms + 1);
            self.schedule(retry_ms, Event::ClientConnect { client: index });
            return;
        }
        let info = ConnInfo {
            peer_addr: format!(
                "10.0.1.{}:{}",
                index % 250 + 1,
                40000 + self.clients[index].client.stats.reconnects
            ),
            local_addr: "10.0.0.1:6379".to_string(),
            fd: 8 + index as i64,
        };
        let NodeState::Up { node, .. } = &mut self.node else {
            unreachable!("the node is up");
        };
        // A paused node's kernel still accepts; the node sees it on resume.
        let id = node.on_accept(info);
        self.node_touched = true;
        self.open_at_node.insert(id);
        let conn = (self.incarnation, id);
        self.connections.insert(
            conn,
            ConnectionLog {
                client: index,
                opened_ms: self.now_ms,
                ..ConnectionLog::default()
            },
        );
        self.clients[index].conn = Some(conn);
        let event = Event::ClientSend {
            client: index,
            conn,
        };
        self.schedule(self.now_ms, event);
    }

    pub(super) fn client_send(&mut self, index: usize, conn: SimConn) {
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
        if let Some(script) = self
            .recorded
            .as_mut()
            .and_then(|recorded| recorded.get_mut(index))
        {
            script.steps.push(ScriptStep::from_batch(batch.clone()));
        }
        let log = self.connections.get_mut(&conn).expect("open connection");
        log.requests.extend(batch);
        log.sent.push((self.now_ms, log.requests.len()));
        let timeout_ms = self.options.workload.timeout_ms;
        // Only the workload's clients give up; the probe waits.
        let workload = matches!(self.clients[index].client.role, Role::Workload);
        if timeout_ms > 0 && workload {
            let batch = self.clients[index].client.batches_sent();
            let event = Event::ClientTimeout {
                client: index,
                conn,
                batch,
            };
            self.schedule(self.now_ms + timeout_ms, event);
        }
        for (at_ms, piece) in self
            .net
            .transmit(index, Direction::ToNode, self.now_ms, &bytes)
        {
            self.schedule(at_ms, Event::ToNode { conn, bytes: piece });
        }
    }

    pub(super) fn client_receive(&mut self, conn: SimConn, bytes: &[u8]) {
        let Some(log) = self.connections.get_mut(&conn) else {
            return;
        };
        let index = log.client;
        if self.clients[index].conn != Some(conn) {
            return;
        }
        log.received.extend_from_slice(bytes);
        log.arrived.push((self.now_ms, log.received.len() as u64));
        match self.clients[index].client.on_bytes(bytes) {
            Ok(true) => self.client_next(index),
            Ok(false) => {}
            // The integrity checker reports the malformed bytes from the log.
            Err(_) => self.client_disconnect(index, 0),
        }
    }

    fn client_next(&mut self, index: usize) {
        let probe = self.probe == Some(index);
        let next = self.clients[index].client.after_batch();
        self.collect_app_acks(index);
        let step = self
            .recorded
            .as_mut()
            .and_then(|recorded| recorded.get_mut(index))
            .and_then(|script| script.steps.last_mut());
        if let Some(step) = step {
            match next {
                Next::Continue { think_ms } => step.think_ms = think_ms,
                Next::Reconnect { after_ms } => step.reconnect_after_ms = Some(after_ms),
                Next::Finished => {}
            }
        }
        if probe && next == Next::Finished {
            self.probe_acked_ms = Some(self.now_ms);
            let quiet = self.quiet_since_ms.unwrap_or(self.now_ms);
            self.probe_from_ms = Some(quiet.max(self.up_since_ms));
        }
        match next {
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
            Next::Finished => {
                self.shutdown_command_answered(index);
                self.client_finished(index);
            }
        }
    }

    /// Files the enqueues an application client saw acknowledged, under
    /// the connection they came on.
    fn collect_app_acks(&mut self, index: usize) {
        let slot = &mut self.clients[index];
        let Role::App(app) = &mut slot.client.role else {
            return;
        };
        let Some((incarnation, conn)) = slot.conn else {
            return;
        };
        for ack in app.take_acks() {
            self.app_acks.push(AckedJob {
                job: ack.job,
                at: (incarnation, conn, ack.reply_end),
            });
        }
    }

    /// The client's socket timeout: still waiting for batch `batch` on
    /// `conn`, it gives up on the connection (what was in flight has an
    /// unknown outcome) and connects again.
    pub(super) fn client_timeout(&mut self, index: usize, conn: SimConn, batch: u64) {
        let client = &self.clients[index].client;
        let waiting = self.clients[index].conn == Some(conn)
            && client.batches_sent() == batch
            && client.requests_in_flight() > 0;
        if !waiting {
            return;
        }
        if let Some(log) = self.connections.get_mut(&conn) {
            log.cut = true;
        }
        let slot = &mut self.clients[index];
        self.requests_lost_to_crashes += slot.client.requests_in_flight() as u64;
        slot.client.on_disconnected();
        slot.client.stats.timeouts += 1;
        self.close_from_client(index);
        self.schedule(self.now_ms, Event::ClientConnect { client: index });
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
            if let Some(log) = self.connections.get_mut(&conn) {
                log.closed_ms.get_or_insert(self.now_ms);
            }
            let at_ms = self.net.delivery_ms(index, Direction::ToNode, self.now_ms);
            self.schedule(at_ms, Event::ClientClosed { conn });
        }
    }

    fn client_finished(&mut self, index: usize) {
        if !self.clients[index].finished {
            self.clients[index].finished = true;
            self.close_from_client(index);
        }
    }

    /// The node closed the client's connection: what was in flight is lost;
    /// the client reconnects.
    pub(super) fn client_lost(&mut self, conn: SimConn) {
        let Some(log) = self.connections.get(&conn) else {
            return;
        };
        let (index, cut) = (log.client, log.cut);
        if let Some(log) = self.connections.get_mut(&conn) {
            log.closed_ms.get_or_insert(self.now_ms);
        }
        let slot = &mut self.clients[index];
        if slot.conn != Some(conn) {
            return;
        }
        slot.conn = None;
        let in_flight = slot.client.requests_in_flight() as u64;
        if cut {
            self.requests_lost_to_crashes += in_flight;
        } else {
            self.requests_lost += in_flight;
        }
        slot.client.on_disconnected();
        if !slot.finished {
            // A one-off script whose node went away is done with.
            if matches!(slot.client.role, Role::Script { one_off: true, .. }) && cut {
                slot.finished = true;
                return;
            }
            self.schedule(self.now_ms, Event::ClientConnect { client: index });
        }
    }

    /// What the node promises about writes whose replies leave now.
    fn promise_now(node: &Node<SimEnv>) -> Promise {
        if !node.server().aof_on {
            return Promise::AofOff;
        }
        match node.config().appendfsync {
            redoubt_core::config::AppendFsync::Always => Promise::Always,
            redoubt_core::config::AppendFsync::EverySec => Promise::EverySec,
            redoubt_core::config::AppendFsync::No => Promise::No,
        }
    }

    /// Delivers what the node sent and closed since the last drain.
    pub(super) fn drain_outbox(&mut self) {
        let NodeState::Up { node, .. } = &mut self.node else {
            return;
        };
        let promise = Self::promise_now(node);
        let actions = std::mem::take(&mut node.env_mut().outbox);
        let incarnation = self.incarnation;
        for action in actions {
            // Connections between nodes (replication) go their own way.
            let peer = match &action {
                NetAction::Send { conn, .. } | NetAction::Close { conn } => {
                    !self.peer_links.is_empty()
                        && !self.connections.contains_key(&(incarnation, *conn))
                }
                NetAction::Connect { .. } => true,
            };
            if peer {
                self.peer_action(0, action);
                continue;
            }
            match action {
                NetAction::Send { conn, data } => {
                    let conn = (incarnation, conn);
                    let Some(log) = self.connections.get_mut(&conn) else {
                        continue;
                    };
                    log.release(self.now_ms, data.len(), promise);
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
                NetAction::Connect { .. } => unreachable!("routed above"),
            }
        }
    }

    /// Every connection of the node that went away closes; its clients
    /// see the close after what the node had sent them.
    pub(super) fn close_connections_of_node(&mut self) {
        self.close_peer_links_of(0);
        let incarnation = self.incarnation;
        for conn in std::mem::take(&mut self.open_at_node) {
            if let Some(log) = self.connections.get_mut(&(incarnation, conn)) {
                log.cut = true;
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
                log.cut = true;
            }
            let at_ms = self
                .net
                .delivery_ms(index, Direction::ToClient, self.now_ms);
            self.schedule(at_ms, Event::NodeClosed { conn });
        }
    }
}
