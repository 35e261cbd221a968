//! Replication as Redis 7.0 does it: the master side (replicas attach
//! with PSYNC or SYNC, get a full sync or the backlog's tail, then the
//! command stream; see `master`), the replica side (the link to a master:
//! handshake, transfer, then the stream applied as commands; see
//! `replica`), and the backlog (`backlog`).
//!
//! The stream itself is fed in one place, `stream.rs`, where every
//! propagated write unit goes to the AOF and to replicas in execution order.
//! This module depends on `Server` and the persistence jobs, never on
//! `Node` or on `cmd`.

pub mod backlog;
pub mod master;
pub mod replica;

use std::collections::BTreeMap;

use self::backlog::Backlog;
use crate::env::{ConnId, Env, FileId};

/// 40 hex characters from `env`'s random source: a run id, a replication
/// id, a diskless sync's end mark.
pub fn hex_id(env: &mut dyn Env) -> String {
    (0..5)
        .map(|_| format!("{:08x}", env.random_u64() as u32))
        .collect()
}

/// How far a replica of ours has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// Wants a full sync; waits for a snapshot to start
    /// (`wait_bgsave` in INFO).
    WaitStart { since_ms: u64 },
    /// Its snapshot is being produced: streamed to it as it is made
    /// (diskless), or written to the dump file first (disk-based).
    WaitSnapshot,
    /// The dump file is being sent (`send_bulk`).
    SendFile { file: FileId, sent: u64, size: u64 },
    /// Has its dataset; gets the stream (`online`).
    Online,
}

impl PeerState {
    /// Redis's name for the state in INFO's `slaveN` lines.
    pub fn info_name(&self) -> &'static str {
        match self {
            PeerState::WaitStart { .. } | PeerState::WaitSnapshot => "wait_bgsave",
            PeerState::SendFile { .. } => "send_bulk",
            PeerState::Online => "online",
        }
    }
}

/// A replica of ours, as the master side knows it.
#[derive(Debug)]
pub struct Peer {
    pub state: PeerState,
    /// From `REPLCONF listening-port`, for INFO and ROLE.
    pub listening_port: u16,
    /// From `REPLCONF ip-address`; else the connection's address.
    pub announced_ip: Option<String>,
    /// The replica accepts the diskless EOF format (`REPLCONF capa eof`).
    pub capa_eof: bool,
    /// Stream bytes produced while its dataset is on the way: they follow
    /// the snapshot.
    pub pending: Vec<u8>,
    /// The offset it reported applied (`REPLCONF ACK`).
    pub ack_offset: u64,
    /// The offset it reported fsynced to its AOF (`REPLCONF ACK … FACK`).
    pub fack_offset: u64,
    /// Monotonic time of its last ACK (`lag` in INFO).
    pub ack_ms: u64,
    /// `REPLCONF rdb-only 1`: it wants the snapshot alone (a backup with
    /// `redis-cli --rdb`), no stream after it.
    pub rdb_only: bool,
    /// It attached with the old SYNC: no `+FULLRESYNC` line, and no ACKs
    /// to expect.
    pub pre_psync: bool,
    /// A diskless sync's end mark was sent: the stream waits for the
    /// replica's first ACK, which says it has loaded the dataset (a Redis
    /// replica reads past the mark otherwise, into the dump).
    pub await_ack: bool,
}

/// Sync counters for INFO stats.
#[derive(Debug, Default, Clone)]
pub struct SyncStats {
    pub sync_full: u64,
    pub sync_partial_ok: u64,
    pub sync_partial_err: u64,
}

/// The replication state of a node: its stream and replicas, and its own
/// master when it is a replica.
#[derive(Debug)]
pub struct Repl {
    /// `master_replid`: names the history the offsets count.
    pub replid: String,
    /// `master_replid2`: the history before the last promotion, valid up
    /// to `second_offset` (-1: none), so that replicas of the old master
    /// continue partially.
    pub replid2: String,
    pub second_offset: i64,
    /// `master_repl_offset`: the last byte of the stream this node has
    /// (produced as a master, or applied from its master as a replica).
    pub offset: u64,
    /// The database the stream last selected (`None`: the next unit
    /// starts with SELECT).
    pub(crate) selected_db: Option<usize>,
    pub backlog: Option<Backlog>,
    /// Replicas of ours, by connection.
    pub peers: BTreeMap<ConnId, Peer>,
    /// Monotonic time since which no replica is attached (the backlog is
    /// freed after `repl-backlog-ttl`).
    pub(crate) no_peers_since_ms: u64,
    pub(crate) last_ping_ms: u64,
    pub(crate) last_cron_ms: u64,
    /// Clients blocked in WAIT or WAITAOF.
    pub waiting: Vec<ConnId>,
    /// Ask replicas for an ACK at the next `before_sleep` (a client waits).
    pub get_ack_wanted: bool,
    /// The database our stream had selected when we became a replica, or
    /// the link last broke: a partial resync continues in it.
    pub(crate) link_stream_db: usize,
    /// The diskless sync's end-of-file mark, while one runs.
    pub(crate) eof_mark: Option<Vec<u8>>,
    pub stats: SyncStats,
    /// (AOF offset, stream offset) at recent commits, for the stream
    /// offset the AOF has made durable (WAITAOF, `FACK`).
    pub(crate) aof_marks: std::collections::VecDeque<(u64, u64)>,
    /// The stream offset whose writes are fsynced to the local AOF.
    pub fsynced_offset: u64,
    /// The fsynced offset our last ACK to our master reported.
    pub(crate) fack_sent: u64,
    /// Where a propagated unit is assembled for the stream (kept between
    /// units).
    pub(crate) unit_scratch: Vec<u8>,
    /// Our master, when we are a replica.
    pub link: Option<replica::Link>,
    /// DUMPSAVE clients and the dump each is getting.
    pub dumps: BTreeMap<ConnId, Dump>,
}

/// A point-in-time dump a DUMPSAVE client waits for.
#[derive(Debug, Default)]
pub struct Dump {
    /// The snapshot this dump is part of has started.
    pub started: bool,
    /// The RDB bytes so far.
    pub bytes: Vec<u8>,
    /// Complete (`Ok`), or failed with this error.
    pub outcome: Option<Result<(), String>>,
}

impl Repl {
    pub fn new(replid: String) -> Self {
        Repl {
            replid,
            replid2: "0".repeat(40),
            second_offset: -1,
            offset: 0,
            selected_db: None,
            backlog: None,
            peers: BTreeMap::new(),
            no_peers_since_ms: 0,
            last_ping_ms: 0,
            last_cron_ms: 0,
            waiting: Vec::new(),
            get_ack_wanted: false,
            link_stream_db: 0,
            eof_mark: None,
            stats: SyncStats::default(),
            aof_marks: std::collections::VecDeque::new(),
            fsynced_offset: 0,
            fack_sent: 0,
            unit_scratch: Vec::new(),
            link: None,
            dumps: BTreeMap::new(),
        }
    }

    /// Whether this node is a replica (`role:slave`).
    pub fn is_replica(&self) -> bool {
        self.link.is_some()
    }

    /// Whether this node's own writes go into its replication stream: it
    /// is a master with a backlog. A replica's stream is its master's,
    /// proxied byte for byte.
    pub fn feeds_own_writes(&self) -> bool {
        self.link.is_none() && self.backlog.is_some()
    }

    /// Replicas that have their dataset and get the stream.
    pub fn online_peers(&self) -> usize {
        self.peers
            .values()
            .filter(|p| p.state == PeerState::Online && !p.rdb_only)
            .count()
    }

    /// Replicas whose ACK covers `offset` (WAIT), or whose fsynced ACK does
    /// (`fsynced`, WAITAOF).
    pub fn peers_acked(&self, offset: u64, fsynced: bool) -> usize {
        self.peers
            .values()
            .filter(|p| p.state == PeerState::Online && !p.rdb_only)
            .filter(|p| {
                if fsynced {
                    p.fack_offset >= offset
                } else {
                    p.ack_offset >= offset
                }
            })
            .count()
    }

    /// Replicas whose last ACK is at most `max_lag_s` old
    /// (`min-replicas-max-lag`).
    pub fn good_peers(&self, now_ms: u64, max_lag_s: u64) -> usize {
        self.peers
            .values()
            .filter(|p| p.state == PeerState::Online && !p.rdb_only)
            .filter(|p| now_ms.saturating_sub(p.ack_ms) <= max_lag_s * 1000)
            .count()
    }
}

#[cfg(test)]
mod tests;
