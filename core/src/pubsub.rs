//! The pub/sub registry: who listens to which channel and pattern. The
//! commands that change it and the delivery of messages are in
//! `cmd::pubsub`.

use std::collections::BTreeMap;

use crate::client::Client;
use crate::env::ConnId;

/// Who listens to which channel and pattern.
#[derive(Debug, Default)]
pub struct PubSub {
    pub(crate) channels: BTreeMap<Vec<u8>, Vec<ConnId>>,
    pub(crate) patterns: BTreeMap<Vec<u8>, Vec<ConnId>>,
}

impl PubSub {
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// Drops every subscription of a client that is leaving, silently.
    pub fn unsubscribe_everything(&mut self, client: &mut Client) {
        for channel in std::mem::take(&mut client.channels) {
            remove_listener(&mut self.channels, &channel, client.id);
        }
        for pattern in std::mem::take(&mut client.patterns) {
            remove_listener(&mut self.patterns, &pattern, client.id);
        }
    }
}

pub(crate) fn remove_listener(
    registry: &mut BTreeMap<Vec<u8>, Vec<ConnId>>,
    name: &[u8],
    conn: ConnId,
) {
    if let Some(listeners) = registry.get_mut(name) {
        listeners.retain(|&c| c != conn);
        if listeners.is_empty() {
            registry.remove(name);
        }
    }
}
