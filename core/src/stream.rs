//! The one write stream, and what waits on it.
//!
//! Every top-level command's writes are committed here once, in execution
//! order, as one unit (wrapped in MULTI/EXEC when it is more than one
//! command). The unit goes to both consumers: the AOF buffer, and the
//! replication stream (the backlog and every replica), whose byte count is
//! `master_repl_offset`. PUBLISH goes to the replication stream only.
//!
//! Replies wait on conditions over these offsets: the AOF barrier (the
//! AOF written, or fsynced under `always`: `Client::reply_offset`), and
//! for WAIT and WAITAOF the replicas' acknowledged offsets
//! (`Client::repl_woff`). A replica's own output is gated by the same AOF
//! barrier as a client's reply, so under `appendfsync always` no command
//! of the stream reaches a replica before the master made it durable (a
//! full sync's snapshot, taken when it starts as Redis's fork is, may hold
//! writes of that iteration not yet fsynced).

use crate::client::Client;
use crate::persist::aof_format::encode_command;
use crate::repl::PeerState;
use crate::server::Server;

/// How many (AOF offset, stream offset) marks are kept for the fsynced
/// stream offset; older ones are folded into the newest the AOF covers.
const AOF_MARKS_MAX: usize = 4096;

impl Server {
    /// Whether anything consumes propagated writes (the AOF, or replicas),
    /// so commands need not copy their arguments otherwise.
    pub fn propagation_wanted(&self) -> bool {
        self.aof_on || self.repl.feeds_own_writes()
    }

    /// Hands what the finished top-level command propagated to the AOF and
    /// to the replication stream, as one unit, and records the offsets the
    /// client's replies (and WAIT) now depend on.
    pub fn commit_propagation(&mut self, client: Option<&mut Client>) {
        let ops = std::mem::take(&mut self.propagated);
        let stream_before = self.repl.offset;
        if !ops.is_empty() {
            if self.aof_on {
                let to_aof: Vec<_> = ops.iter().filter(|op| op.to_aof).collect();
                let wrap = to_aof.len() > 1;
                if wrap {
                    self.aof.feed(to_aof[0].db, &[b"MULTI".to_vec()]);
                }
                for op in &to_aof {
                    self.aof.feed(op.db, &op.argv);
                }
                if wrap {
                    self.aof
                        .feed(to_aof[to_aof.len() - 1].db, &[b"EXEC".to_vec()]);
                }
            }
            if self.repl.feeds_own_writes() {
                let mut bytes = Vec::new();
                let wrap = ops.len() > 1;
                if wrap {
                    self.encode_for_stream(&mut bytes, ops[0].db, &[b"MULTI".to_vec()]);
                }
                for op in &ops {
                    self.encode_for_stream(&mut bytes, op.db, &op.argv);
                }
                if wrap {
                    self.encode_for_stream(&mut bytes, ops[ops.len() - 1].db, &[b"EXEC".to_vec()]);
                }
                self.feed_stream(&bytes);
            }
        }
        if self.aof_on && self.repl.offset != stream_before {
            self.mark_aof_offset();
        }
        let wrote = !ops.is_empty();
        let every_reply_waits = self.config.appendfsync == crate::config::AppendFsync::Always;
        if let Some(client) = client {
            if self.aof_on && (wrote || every_reply_waits) {
                client.reply_offset = self.aof.appended;
            }
            if self.repl.offset != stream_before {
                client.repl_woff = self.repl.offset;
            }
        }
    }

    /// Encodes one command for the replication stream, selecting its
    /// database first when the stream is elsewhere.
    fn encode_for_stream(&mut self, out: &mut Vec<u8>, db: usize, argv: &[Vec<u8>]) {
        if self.repl.selected_db != Some(db) {
            encode_command(out, &[b"SELECT".to_vec(), db.to_string().into_bytes()]);
            self.repl.selected_db = Some(db);
        }
        encode_command(out, argv);
    }

    /// Appends bytes to the replication stream: the backlog, the offset,
    /// and every replica (online ones at once, behind the AOF barrier;
    /// those still receiving their dataset after it).
    pub fn feed_stream(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let Some(backlog) = self.repl.backlog.as_mut() else {
            return;
        };
        backlog.append(bytes);
        self.repl.offset = backlog.end_offset();
        let barrier = if self.aof_on { self.aof.appended } else { 0 };
        for (conn, peer) in &mut self.repl.peers {
            match peer.state {
                PeerState::Online if peer.rdb_only => {}
                PeerState::Online if peer.await_ack => peer.pending.extend_from_slice(bytes),
                PeerState::Online => match self.clients.get_mut(conn) {
                    Some(client) => {
                        client.out.buf.extend_from_slice(bytes);
                        client.reply_offset = client.reply_offset.max(barrier);
                        if !client.pending_write {
                            client.pending_write = true;
                            self.pending_writes.push(*conn);
                        }
                    }
                    // The replica is the client running a command right
                    // now: its bytes wait until that command is done.
                    None => peer.pending.extend_from_slice(bytes),
                },
                PeerState::WaitSnapshot | PeerState::SendFile { .. } => {
                    peer.pending.extend_from_slice(bytes)
                }
                PeerState::WaitStart { .. } => {}
            }
        }
    }

    /// Moves stream bytes held for an online replica into its output
    /// (after it became online, or after it ran a command itself).
    pub fn release_peer_pending(&mut self, client: &mut Client) {
        let Some(peer) = self.repl.peers.get_mut(&client.id) else {
            return;
        };
        if peer.state != PeerState::Online || peer.await_ack || peer.pending.is_empty() {
            return;
        }
        client.out.buf.extend_from_slice(&peer.pending);
        peer.pending = Vec::new();
        if self.aof_on {
            client.reply_offset = client.reply_offset.max(self.aof.appended);
        }
        if !client.pending_write {
            client.pending_write = true;
            self.pending_writes.push(client.id);
        }
    }

    /// Remembers which stream offset the AOF reaches at its current end.
    pub(crate) fn mark_aof_offset(&mut self) {
        let marks = &mut self.repl.aof_marks;
        if marks.len() == AOF_MARKS_MAX {
            marks.pop_front();
        }
        marks.push_back((self.aof.appended, self.repl.offset));
    }

    /// Advances the stream offset known fsynced to the local AOF, from the
    /// AOF's fsynced offset. Durability never moves backwards.
    pub fn update_fsynced_offset(&mut self) {
        if !self.aof_on {
            return;
        }
        let fsynced = self.aof.fsynced;
        if fsynced == self.aof.appended {
            // Everything the AOF holds is durable: so is the whole stream
            // up to here, PINGs and PUBLISHes included.
            self.repl.aof_marks.clear();
            assert!(self.repl.offset >= self.repl.fsynced_offset);
            self.repl.fsynced_offset = self.repl.offset;
            return;
        }
        let mut newest = None;
        while let Some(&(aof_at, stream_at)) = self.repl.aof_marks.front() {
            if aof_at > fsynced {
                break;
            }
            newest = Some(stream_at);
            self.repl.aof_marks.pop_front();
        }
        if let Some(stream_at) = newest {
            assert!(
                stream_at >= self.repl.fsynced_offset,
                "fsynced stream offset moved backwards: {} after {}",
                stream_at,
                self.repl.fsynced_offset
            );
            self.repl.fsynced_offset = stream_at;
        }
    }
}
