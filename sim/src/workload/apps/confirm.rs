//! Publish-confirm: an application runs each atomic action on the master
//! as one transaction that writes the action's record and publishes its
//! name, `MULTI; SET confirm:P:N N; PUBLISH confirm:actions confirm:P:N;
//! EXEC`, and listens on a replica (a [`Listener`], which the simulator
//! connects to a replica node). PUBLISH propagates inside the same
//! transaction, so a confirmation heard on the replica comes after the
//! record was applied there.
//!
//! The invariant ([`crate::check::confirm`]): every action whose
//! confirmation arrived from the replica is present on the replica then,
//! and survives a failover to that replica.

use super::{exec_outcome, request, AppNext, AppStats, ExecOutcome, THINK_MS_MAX};
use crate::workload::resp::{parse_reply, Reply};
use crate::workload::Batch;
use crate::world::rng::SimRng;

/// The prefix of every action record.
pub const ACTION_PREFIX: &[u8] = b"confirm:";
/// The channel confirmations go out on.
pub const CHANNEL: &[u8] = b"confirm:actions";

/// Runs actions on the master, one transaction each.
#[derive(Debug, Clone)]
pub struct Publisher {
    index: u64,
    next_action: u64,
    actions_left: u64,
    pub stats: AppStats,
}

impl Publisher {
    pub fn new(index: u64, operations: u64) -> Publisher {
        Publisher {
            index,
            next_action: 0,
            actions_left: operations,
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.actions_left == 0
    }

    pub fn next_batch(&mut self, _rng: &mut SimRng) -> Batch {
        self.next_action += 1;
        let number = self.next_action.to_string().into_bytes();
        let mut key = ACTION_PREFIX.to_vec();
        key.extend_from_slice(format!("{}:{}", self.index, self.next_action).as_bytes());
        vec![
            request(&[b"MULTI"]),
            request(&[b"SET", &key, &number]),
            request(&[b"PUBLISH", CHANNEL, &key]),
            request(&[b"EXEC"]),
        ]
    }

    /// A committed action is done; a refused one (a full disk, too few
    /// replicas) is given up, as its record never reached the stream.
    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        self.actions_left -= 1;
        if exec_outcome(replies) == ExecOutcome::Committed {
            self.stats.actions_committed += 1;
        }
        if self.finished() {
            return AppNext::Finished;
        }
        AppNext::Continue {
            think_ms: THINK_MS_MAX,
        }
    }
}

/// The application's subscriber on a replica: its connection's bytes in,
/// the actions confirmed out.
#[derive(Debug, Clone, Default)]
pub struct Listener {
    received: Vec<u8>,
}

impl Listener {
    /// The request that subscribes.
    pub fn subscribe() -> Vec<Vec<u8>> {
        request(&[b"SUBSCRIBE", CHANNEL])
    }

    /// Feeds bytes from the replica; returns the actions confirmed in them.
    /// Malformed bytes end the parse (the caller drops the connection).
    pub fn on_bytes(&mut self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
        self.received.extend_from_slice(bytes);
        let mut used = 0;
        let mut confirmed = Vec::new();
        while let Some((reply, length)) =
            parse_reply(&self.received[used..]).map_err(|e| format!("{e:?}"))?
        {
            used += length;
            let Reply::Array(Some(parts)) = reply else {
                return Err(format!("not a push message: {reply:?}"));
            };
            match parts.as_slice() {
                [Reply::Bulk(Some(kind)), Reply::Bulk(Some(channel)), Reply::Integer(_)]
                    if kind == b"subscribe" && channel == CHANNEL => {}
                [Reply::Bulk(Some(kind)), Reply::Bulk(Some(channel)), Reply::Bulk(Some(action))]
                    if kind == b"message" && channel == CHANNEL =>
                {
                    confirmed.push(action.clone());
                }
                other => return Err(format!("an unexpected push: {other:?}")),
            }
        }
        self.received.drain(..used);
        Ok(confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The subscription's answer, then messages split across reads.
    #[test]
    fn listener_reads_confirmations() {
        let mut listener = Listener::default();
        let subscribed = b"*3\r\n$9\r\nsubscribe\r\n$15\r\nconfirm:actions\r\n:1\r\n";
        assert_eq!(listener.on_bytes(subscribed), Ok(vec![]));
        let message = b"*3\r\n$7\r\nmessage\r\n$15\r\nconfirm:actions\r\n$11\r\nconfirm:0:1\r\n";
        let (first, rest) = message.split_at(20);
        assert_eq!(listener.on_bytes(first), Ok(vec![]));
        assert_eq!(listener.on_bytes(rest), Ok(vec![b"confirm:0:1".to_vec()]));
        assert!(listener.on_bytes(b"+OK\r\n").is_err());
    }

    /// Each action is one transaction that writes and publishes it.
    #[test]
    fn publisher_sends_one_transaction_per_action() {
        let mut publisher = Publisher::new(3, 2);
        let batch = publisher.next_batch(&mut SimRng::new(0, 0));
        assert_eq!(batch[1], request(&[b"SET", b"confirm:3:1", b"1"]));
        assert_eq!(batch[2], request(&[b"PUBLISH", CHANNEL, b"confirm:3:1"]));
        let committed = [
            Reply::Simple(b"OK".to_vec()),
            Reply::Simple(b"QUEUED".to_vec()),
            Reply::Simple(b"QUEUED".to_vec()),
            Reply::Array(Some(vec![Reply::Simple(b"OK".to_vec()), Reply::Integer(1)])),
        ];
        assert_eq!(
            publisher.after_batch(&committed),
            AppNext::Continue {
                think_ms: THINK_MS_MAX
            }
        );
        assert_eq!(publisher.stats.actions_committed, 1);
        publisher.next_batch(&mut SimRng::new(0, 0));
        assert_eq!(publisher.after_batch(&committed), AppNext::Finished);
    }
}
