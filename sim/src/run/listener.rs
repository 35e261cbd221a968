//! The publish-confirm application's listener on a replica
//! ([`crate::workload::apps::confirm`]).
//!
//! It subscribes on the node in seat [`LISTENER_SEAT`] once that node runs
//! as a replica with its link up, over a connection of its own that the
//! node's sends reach directly (no network in between: the listener stands
//! for a process on the replica's machine). Each confirmation it hears is
//! checked against the replica's dataset at the end of the iteration that
//! sent it. When the replica goes down, or changes history (a full sync, a
//! repointing), the connection is dropped and what it confirmed is no
//! longer held to; it subscribes again. When a failover promotes the
//! replica, what it confirmed must be in the promoted dataset.

use std::collections::BTreeSet;

use redoubt_core::env::ConnId;
use redoubt_core::repl::replica::LinkState;

use super::nodes::local_request;
use super::simulation::Simulation;
use crate::check::model::Dataset;
use crate::workload::apps::confirm::{Listener, ACTION_PREFIX};
use crate::world::env::NetAction;

/// The seat of the replica the listener subscribes on.
pub const LISTENER_SEAT: usize = 1;

/// The listener and what it heard in the current life and history of its
/// replica.
#[derive(Debug, Default)]
pub(super) struct ListenerState {
    listener: Listener,
    /// Its connection on the replica: (the seat's life, the id).
    conn: Option<(usize, ConnId)>,
    /// The replica's history when it subscribed.
    history: String,
    confirmed: BTreeSet<Vec<u8>>,
}

impl Simulation {
    /// Drops the listener's connection if its replica went away or changed
    /// history; subscribes if it has none and the replica is linked.
    pub(super) fn listener_look(&mut self) {
        let Some(state) = self.listener.as_mut() else {
            return;
        };
        let other = &mut self.others[LISTENER_SEAT - 1];
        let Some(node) = other.node.as_mut() else {
            if state.conn.take().is_some() {
                *state = ListenerState::default();
            }
            return;
        };
        let history = node.server().repl.replid.clone();
        if let Some((life, conn)) = state.conn {
            if life == other.incarnation && history == state.history {
                return;
            }
            if life == other.incarnation {
                node.on_closed(conn);
                other.touched = true;
            }
            *state = ListenerState::default();
        }
        let linked = node
            .server()
            .repl
            .link
            .as_ref()
            .is_some_and(|link| link.state == LinkState::Connected);
        if !linked {
            return;
        }
        let conn = local_request(node, "10.0.9.2:61000", 9001, &Listener::subscribe());
        other.touched = true;
        *state = ListenerState {
            conn: Some((other.incarnation, conn)),
            history,
            ..ListenerState::default()
        };
        self.confirm_findings.subscriptions += 1;
    }

    /// Takes what node `number` sent the listener out of `actions`, and
    /// checks each confirmation against the node's dataset now.
    pub(super) fn listener_take(
        &mut self,
        number: usize,
        actions: Vec<NetAction>,
    ) -> Vec<NetAction> {
        let Some(state) = self.listener.as_mut() else {
            return actions;
        };
        let Some((life, conn)) = state.conn else {
            return actions;
        };
        if number != LISTENER_SEAT || life != self.others[number - 1].incarnation {
            return actions;
        }
        let mut heard = Vec::new();
        let mut broken = false;
        let rest = actions
            .into_iter()
            .filter(|action| match action {
                NetAction::Send { conn: to, data } if *to == conn => {
                    match state.listener.on_bytes(data) {
                        Ok(actions) => heard.extend(actions),
                        Err(_) => broken = true,
                    }
                    false
                }
                NetAction::Close { conn: to } if *to == conn => {
                    broken = true;
                    false
                }
                _ => true,
            })
            .collect();
        if !heard.is_empty() {
            let node = self.others[number - 1].node.as_ref().expect("it sent");
            let held: BTreeSet<Vec<u8>> = node.server().keyspace.dbs[0]
                .keys()
                .map(|(key, _)| key)
                .filter(|key| key.starts_with(ACTION_PREFIX))
                .map(<[u8]>::to_vec)
                .collect();
            self.confirm_findings
                .heard(self.now_ms, number, &heard, &held);
            state.confirmed.extend(heard);
        }
        if broken {
            // A malformed or closed subscription: start over.
            *state = ListenerState::default();
        }
        rest
    }

    /// A failover promotes node `chosen` with `data`: if it was the
    /// listener's replica, what it confirmed must be there; the listener
    /// leaves it (it is no replica any more).
    pub(super) fn listener_promoted(&mut self, chosen: usize, data: &Dataset) -> Option<ConnId> {
        let state = self.listener.as_mut()?;
        if chosen != LISTENER_SEAT {
            return None;
        }
        let (life, conn) = state.conn?;
        let same_life = life == self.others[chosen - 1].incarnation;
        if same_life {
            self.confirm_findings
                .promoted(self.now_ms, &state.confirmed, data);
        }
        *state = ListenerState::default();
        same_life.then_some(conn)
    }
}
