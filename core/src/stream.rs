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

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::client::Client;
use crate::env::ConnId;
use crate::persist::aof::Aof;
use crate::persist::aof_format::encode_command;
use crate::repl::{PeerState, Repl};
use crate::server::{PropagatedOp, Propagation, Server};

/// How many (AOF offset, stream offset) marks are kept for the fsynced
/// stream offset; older ones are folded into the newest the AOF covers.
const AOF_MARKS_MAX: usize = 4096;
/// The buffer a unit is assembled in is given back past this size.
const UNIT_SCRATCH_KEPT_BYTES: usize = 64 * 1024;

impl Server {
    /// Whether anything consumes propagated writes (the AOF, or replicas),
    /// so commands need not copy their arguments otherwise.
    pub fn propagation_wanted(&self) -> bool {
        self.aof_on || self.repl.feeds_own_writes()
    }

    /// Propagates a command the running top-level command executed (or
    /// stands for), in database `db`; `to_aof`: the AOF gets it too.
    pub fn propagate(&mut self, db: usize, argv: &[Vec<u8>], to_aof: bool) {
        let keep_argv = self.aof_on && to_aof;
        self.propagated.push(db, argv, to_aof, keep_argv);
    }

    /// As `propagate`, for arguments the caller gives away.
    pub fn propagate_owned(&mut self, db: usize, argv: Vec<Vec<u8>>, to_aof: bool) {
        let keep_argv = self.aof_on && to_aof;
        self.propagated.push_owned(db, argv, to_aof, keep_argv);
    }

    /// Hands what the finished top-level command propagated to the AOF and
    /// to the replication stream, as one unit, and records the offsets the
    /// client's replies (and WAIT) now depend on.
    pub fn commit_propagation(&mut self, client: Option<&mut Client>) {
        let stream_before = self.repl.offset;
        let wrote = !self.propagated.is_empty();
        let wrapped = !std::mem::take(&mut self.unwrapped_unit);
        if wrote {
            if self.aof_on {
                feed_aof_unit(&mut self.aof, &self.propagated, wrapped);
            }
            if self.repl.feeds_own_writes() {
                self.feed_stream_unit(wrapped);
            }
            self.propagated.clear();
        }
        if self.aof_on && self.repl.offset != stream_before {
            self.mark_aof_offset();
        }
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

    /// The running command's unit, as the replication stream carries it:
    /// wrapped in MULTI/EXEC when more than one command (and `wrapped`:
    /// only the planted bug `script-effects-not-wrapped` says otherwise),
    /// each preceded by SELECT when the stream is in another database.
    fn feed_stream_unit(&mut self, wrapped: bool) {
        let ops = self.propagated.ops();
        if let [op] = ops {
            if self.repl.selected_db == Some(op.db) {
                // The common case: the command's bytes as they are.
                let bytes = &self.propagated.bytes()[op.start..op.end];
                let barrier = self.stream_barrier();
                feed_stream_to(
                    &mut self.repl,
                    &mut self.clients,
                    &mut self.pending_writes,
                    barrier,
                    bytes,
                );
                return;
            }
        }
        let (Some(first), Some(last)) = (ops.first(), ops.last()) else {
            return;
        };
        let (first_db, last_db) = (first.db, last.db);
        let mut out = std::mem::take(&mut self.repl.unit_scratch);
        out.clear();
        let wrap = ops.len() > 1 && wrapped;
        let selected = &mut self.repl.selected_db;
        if wrap {
            select_for_stream(selected, &mut out, first_db);
            encode_command(&mut out, &[b"MULTI"]);
        }
        for op in ops {
            select_for_stream(selected, &mut out, op.db);
            out.extend_from_slice(&self.propagated.bytes()[op.start..op.end]);
        }
        if wrap {
            select_for_stream(selected, &mut out, last_db);
            encode_command(&mut out, &[b"EXEC"]);
        }
        self.feed_stream(&out);
        out.clear();
        if out.capacity() > UNIT_SCRATCH_KEPT_BYTES {
            out.shrink_to(UNIT_SCRATCH_KEPT_BYTES);
        }
        self.repl.unit_scratch = out;
    }

    /// Appends bytes to the replication stream: the backlog, the offset,
    /// and every replica (online ones at once, behind the AOF barrier;
    /// those still receiving their dataset after it).
    pub fn feed_stream(&mut self, bytes: &[u8]) {
        let barrier = self.stream_barrier();
        feed_stream_to(
            &mut self.repl,
            &mut self.clients,
            &mut self.pending_writes,
            barrier,
            bytes,
        );
    }

    /// The AOF offset a replica's output waits for (see the module's
    /// comment).
    fn stream_barrier(&self) -> u64 {
        if self.aof_on {
            self.aof.appended
        } else {
            0
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

/// The unit's commands the AOF gets, wrapped in MULTI/EXEC when more than
/// one (and `wrapped`, as for the stream).
fn feed_aof_unit(aof: &mut Aof, unit: &Propagation, wrapped: bool) {
    let mut to_aof = unit.ops().iter().filter(|op| op.to_aof);
    let (Some(first), last) = (to_aof.next(), to_aof.next_back()) else {
        return;
    };
    fn argv<'a>(unit: &Propagation, op: &'a PropagatedOp) -> Cow<'a, [Vec<u8>]> {
        match &op.argv {
            Some(argv) => Cow::Borrowed(argv),
            // The AOF came on after the command was propagated.
            None => Cow::Owned(decode_command(&unit.bytes()[op.start..op.end])),
        }
    }
    let Some(last) = last else {
        aof.feed(first.db, &argv(unit, first));
        return;
    };
    if !wrapped {
        aof.feed(first.db, &argv(unit, first));
        for op in to_aof {
            aof.feed(op.db, &argv(unit, op));
        }
        aof.feed(last.db, &argv(unit, last));
        return;
    }
    aof.feed(first.db, &[b"MULTI".to_vec()]);
    aof.feed(first.db, &argv(unit, first));
    for op in to_aof {
        aof.feed(op.db, &argv(unit, op));
    }
    aof.feed(last.db, &argv(unit, last));
    aof.feed(last.db, &[b"EXEC".to_vec()]);
}

/// Selects `db` in the replication stream, unless it is there already.
fn select_for_stream(selected: &mut Option<usize>, out: &mut Vec<u8>, db: usize) {
    if *selected != Some(db) {
        encode_command(out, &[b"SELECT".to_vec(), db.to_string().into_bytes()]);
        *selected = Some(db);
    }
}

/// Appends bytes to the replication stream: the backlog, the offset, and
/// every replica (online ones at once, behind the AOF `barrier`; those
/// still receiving their dataset after it).
fn feed_stream_to(
    repl: &mut Repl,
    clients: &mut BTreeMap<ConnId, Box<Client>>,
    pending_writes: &mut Vec<ConnId>,
    barrier: u64,
    bytes: &[u8],
) {
    if bytes.is_empty() {
        return;
    }
    let Some(backlog) = repl.backlog.as_mut() else {
        return;
    };
    backlog.append(bytes);
    repl.offset = backlog.end_offset();
    for (conn, peer) in &mut repl.peers {
        match peer.state {
            PeerState::Online if peer.rdb_only => {}
            PeerState::Online if peer.await_ack => peer.pending.extend_from_slice(bytes),
            PeerState::Online => match clients.get_mut(conn) {
                Some(client) => {
                    client.out.buf.extend_from_slice(bytes);
                    client.reply_offset = client.reply_offset.max(barrier);
                    if !client.pending_write {
                        client.pending_write = true;
                        pending_writes.push(*conn);
                    }
                }
                // The replica is the client running a command right now:
                // its bytes wait until that command is done.
                None => peer.pending.extend_from_slice(bytes),
            },
            PeerState::WaitSnapshot | PeerState::SendFile { .. } => {
                peer.pending.extend_from_slice(bytes)
            }
            PeerState::WaitStart { .. } => {}
        }
    }
}

/// The arguments of one command as `encode_command` wrote it (a RESP
/// multibulk of bulk strings).
fn decode_command(bytes: &[u8]) -> Vec<Vec<u8>> {
    fn number(bytes: &[u8], at: &mut usize) -> usize {
        let mut n = 0;
        while bytes[*at] != b'\r' {
            n = n * 10 + usize::from(bytes[*at] - b'0');
            *at += 1;
        }
        *at += 2;
        n
    }
    let mut at = 1;
    let count = number(bytes, &mut at);
    let mut argv = Vec::with_capacity(count);
    for _ in 0..count {
        at += 1;
        let len = number(bytes, &mut at);
        argv.push(bytes[at..at + len].to_vec());
        at += len + 2;
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_what_encode_command_wrote() {
        let argv: Vec<Vec<u8>> = vec![b"SET".to_vec(), b"".to_vec(), vec![b'x'; 1234]];
        let mut bytes = Vec::new();
        encode_command(&mut bytes, &argv);
        assert_eq!(decode_command(&bytes), argv);
    }
}
