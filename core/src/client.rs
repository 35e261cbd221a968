//! One connected client: its query buffer and parser, its pending replies,
//! and the state commands keep per connection (database, protocol, name,
//! authentication, MULTI queue, WATCHed keys, subscriptions).

use std::collections::BTreeSet;

use crate::blocking::BlockedOn;
use crate::env::ConnId;
use crate::resp::{Out, Protocol, RequestParser};

/// Where a connection comes from, as the driver knows it.
#[derive(Debug, Clone, Default)]
pub struct ConnInfo {
    /// `ip:port` of the peer.
    pub peer_addr: String,
    /// `ip:port` of our end.
    pub local_addr: String,
    /// The driver's file descriptor number, for CLIENT LIST.
    pub fd: i64,
}

/// What a replica said about itself with REPLCONF before PSYNC.
#[derive(Debug, Clone, Default)]
pub struct ReplicaHello {
    pub listening_port: u16,
    pub announced_ip: Option<String>,
    /// `capa eof`: takes a diskless sync's EOF-marker format.
    pub capa_eof: bool,
    /// `rdb-only 1`: wants the dataset only (`redis-cli --rdb`).
    pub rdb_only: bool,
}

/// A MULTI in progress.
#[derive(Debug, Default)]
pub struct Transaction {
    pub queued: Vec<Vec<Vec<u8>>>,
    /// A command failed to queue: EXEC must answer EXECABORT.
    pub aborted: bool,
}

/// A key this client WATCHes.
#[derive(Debug, Clone)]
pub struct WatchedKey {
    pub db: usize,
    pub key: Vec<u8>,
    /// The key was already logically expired when watched, so its removal
    /// by expiry does not count as a change.
    pub expired_at_watch: bool,
}

#[derive(Debug)]
pub struct Client {
    pub id: ConnId,
    pub info: ConnInfo,
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub out: Out,
    /// Bytes received and not yet parsed start at `query_pos`.
    pub query: Vec<u8>,
    pub query_pos: usize,
    pub parser: RequestParser,
    pub authenticated: bool,
    pub multi: Option<Transaction>,
    pub watched: Vec<WatchedKey>,
    /// A watched key changed: the next EXEC fails.
    pub watch_dirty: bool,
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    /// Close once the pending replies have been sent (QUIT, protocol
    /// errors, CLIENT KILL).
    pub close_after_reply: bool,
    /// Queued in the node's list of clients with replies to release.
    pub pending_write: bool,
    pub created_ms: u64,
    pub last_interaction_ms: u64,
    /// Full name of the last command run (`client|list`).
    pub last_command: String,
    /// Monotonic time since which pending output has exceeded the soft
    /// output buffer limit.
    pub soft_limit_since_ms: Option<u64>,
    /// The AOF offset the pending replies depend on: they leave only once
    /// the AOF barrier has passed it.
    pub reply_offset: u64,
    /// What the client is blocked on; it reads no request meanwhile.
    pub blocked: Option<BlockedOn>,
    /// A request parsed but held while writes are paused (a shutdown waits
    /// for its replicas); it runs first when the pause ends.
    pub held_request: Option<Vec<Vec<u8>>>,
    /// The replication offset right after this client's last command that
    /// propagated something: what WAIT waits for.
    pub repl_woff: u64,
    /// This connection is a replica of ours (after SYNC or PSYNC).
    pub is_replica: bool,
    /// This connection is our master's link: its commands are the
    /// replication stream, applied without replies.
    pub is_master: bool,
    /// Bytes of the master's stream read as commands inside a MULTI that
    /// has not reached its EXEC: they count toward the replication offset
    /// only once the transaction is applied as a whole.
    pub master_unapplied: Vec<u8>,
    /// What the connection said with REPLCONF, if it is a replica.
    pub hello: ReplicaHello,
    /// CLIENT REPLY OFF: replies are dropped (pub/sub messages still go).
    pub reply_off: bool,
    /// CLIENT REPLY SKIP: the next command's reply is dropped.
    pub reply_skip_next: bool,
    /// The running command's reply is dropped (it follows a SKIP), unless
    /// it is CLIENT REPLY ON.
    pub reply_skip_this: bool,
    /// In MONITOR mode: it receives every command others run.
    pub monitor: bool,
}

impl Client {
    pub fn new(id: ConnId, info: ConnInfo, now_monotonic_ms: u64, authenticated: bool) -> Self {
        Client {
            id,
            info,
            name: None,
            db: 0,
            out: Out::new(Protocol::Resp2),
            query: Vec::new(),
            query_pos: 0,
            parser: RequestParser::default(),
            authenticated,
            multi: None,
            watched: Vec::new(),
            watch_dirty: false,
            channels: BTreeSet::new(),
            patterns: BTreeSet::new(),
            close_after_reply: false,
            pending_write: false,
            created_ms: now_monotonic_ms,
            last_interaction_ms: now_monotonic_ms,
            last_command: "NULL".to_string(),
            soft_limit_since_ms: None,
            reply_offset: 0,
            blocked: None,
            held_request: None,
            repl_woff: 0,
            is_replica: false,
            is_master: false,
            master_unapplied: Vec::new(),
            hello: ReplicaHello::default(),
            reply_off: false,
            reply_skip_next: false,
            reply_skip_this: false,
            monitor: false,
        }
    }

    /// Number of channel and pattern subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// RESP2 clients with subscriptions may only run pub/sub commands.
    pub fn in_pubsub_context(&self) -> bool {
        self.out.protocol == Protocol::Resp2 && self.subscription_count() > 0
    }

    /// Redis's client type for CLIENT LIST / KILL TYPE and the output
    /// buffer classes: `master`, `replica`, `pubsub` or `normal`.
    pub fn kind(&self) -> &'static str {
        if self.is_master {
            "master"
        } else if self.is_replica {
            "replica"
        } else if self.subscription_count() > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Redis's CLIENT LIST flags for this client.
    pub fn flags(&self) -> String {
        let mut flags = String::new();
        if self.monitor {
            flags.push('O');
        }
        if self.is_replica {
            flags.push('S');
        }
        if self.is_master {
            flags.push('M');
        }
        if self.subscription_count() > 0 {
            flags.push('P');
        }
        if self.multi.is_some() {
            flags.push('x');
        }
        if self.blocked.is_some() {
            flags.push('b');
        }
        if self.watch_dirty {
            flags.push('d');
        }
        if self.close_after_reply {
            flags.push('c');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        flags
    }
}
