//! `Server`: the state every part of the node shares (the keyspace, the
//! clients, the configuration, persistence and statistics), and the
//! bookkeeping that goes with it.
//!
//! This module sits below everything that acts on that state: command
//! handlers (`cmd`), persistence (`persist`) and, later, replication
//! depend on it, and `node::Node` drives them all. It imports only the
//! leaves they share (the keyspace, clients, configuration, and the plain
//! state of the AOF, the background job and pub/sub), so the import graph
//! has no circle.

use std::collections::BTreeMap;

use crate::blocking::{BlockedOn, Blocking};
use crate::client::Client;
use crate::cmd::CommandSpec;
use crate::config::Config;
use crate::db::{Expiry, Keyspace};
use crate::env::{ConnId, Env, Trace};
use crate::observe::{CommandStat, Observe};
use crate::persist::aof::{Aof, LoadReport};
use crate::persist::aof_format::encode_command;
use crate::persist::background::Background;
use crate::pubsub::PubSub;
use crate::repl::{hex_id, Repl};

/// Counters reported by INFO stats.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Values a background snapshot wrote over several steps (the
    /// simulator's report counts them; no INFO field).
    pub snapshot_values_split: u64,
    pub total_connections_received: u64,
    pub total_commands_processed: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub rejected_connections: u64,
    pub expired_keys: u64,
    /// Keys removed to bring memory under `maxmemory`.
    pub evicted_keys: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub total_error_replies: u64,
    /// INFO commandstats: per command, keyed by the address of its
    /// `CommandSpec` (one per command and subcommand), with its full name.
    pub commands: BTreeMap<usize, (String, CommandStat)>,
    /// INFO errorstats: error replies per error code (`ERR`, `WRONGTYPE`),
    /// at most [`crate::observe::ERROR_CODES_MAX`] codes.
    pub errors: BTreeMap<Vec<u8>, u64>,
    /// Commands counted at each of the last samples, for
    /// `instantaneous_ops_per_sec`.
    ops_samples: Vec<u64>,
    ops_last_count: u64,
    pub(crate) ops_last_ms: u64,
}

/// How many samples `instantaneous_ops_per_sec` averages (Redis's
/// STATS_METRIC_SAMPLES).
const OPS_SAMPLES_MAX: usize = 16;
/// Sampling interval for `instantaneous_ops_per_sec`.
const OPS_SAMPLE_INTERVAL_MS: u64 = 100;

impl Stats {
    /// Operations per second over the recent samples.
    pub fn instantaneous_ops_per_sec(&self) -> u64 {
        if self.ops_samples.is_empty() {
            return 0;
        }
        self.ops_samples.iter().sum::<u64>() / self.ops_samples.len() as u64
    }

    pub(crate) fn sample_ops(&mut self, now_ms: u64) {
        let elapsed = now_ms.saturating_sub(self.ops_last_ms);
        if elapsed < OPS_SAMPLE_INTERVAL_MS {
            return;
        }
        let ops = self.total_commands_processed - self.ops_last_count;
        if self.ops_samples.len() == OPS_SAMPLES_MAX {
            self.ops_samples.remove(0);
        }
        self.ops_samples.push(ops * 1000 / elapsed);
        self.ops_last_count = self.total_commands_processed;
        self.ops_last_ms = now_ms;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }

    /// The counters of the command `spec` (named `full_name`).
    pub fn command(&mut self, spec: &'static CommandSpec, full_name: &str) -> &mut CommandStat {
        let key = spec as *const CommandSpec as usize;
        &mut self
            .commands
            .entry(key)
            .or_insert_with(|| (full_name.to_string(), CommandStat::default()))
            .1
    }

    /// Counts one error reply with this text (its code, in errorstats)
    /// and in `total_error_replies`.
    pub fn count_error(&mut self, message: &[u8]) {
        self.total_error_replies += 1;
        let code = crate::observe::error_code(message);
        if let Some(count) = self.errors.get_mut(code) {
            *count += 1;
        } else if self.errors.len() < crate::observe::ERROR_CODES_MAX {
            self.errors.insert(code.to_vec(), 1);
        }
    }
}

/// What the running top-level command propagated, in execution order:
/// each command's database, whether the AOF gets it too (PUBLISH goes to
/// replicas only), and the command itself, RESP-encoded once, back to back
/// in one buffer, as the replication stream wants it (without SELECT or the
/// MULTI/EXEC wrap, which are decided when the unit is committed). The AOF
/// takes arguments: they are kept as well while the AOF is on. Both
/// buffers keep their allocations from one command to the next.
#[derive(Debug, Default)]
pub struct Propagation {
    ops: Vec<PropagatedOp>,
    bytes: Vec<u8>,
}

/// One propagated command (see `Propagation`).
#[derive(Debug)]
pub(crate) struct PropagatedOp {
    pub(crate) db: usize,
    /// Its encoding: `bytes[start..end]`.
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) to_aof: bool,
    /// Its arguments, kept when the AOF was on as it was propagated.
    pub(crate) argv: Option<Vec<Vec<u8>>>,
}

/// Buffers of a unit past this size are given back after its commit.
const PROPAGATION_CAPACITY_KEPT_BYTES: usize = 64 * 1024;

impl Propagation {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Appends a command; `keep_argv`: the AOF will want its arguments.
    pub(crate) fn push<A: AsRef<[u8]>>(
        &mut self,
        db: usize,
        argv: &[A],
        to_aof: bool,
        keep_argv: bool,
    ) {
        let start = self.bytes.len();
        encode_command(&mut self.bytes, argv);
        self.ops.push(PropagatedOp {
            db,
            start,
            end: self.bytes.len(),
            to_aof,
            argv: keep_argv.then(|| argv.iter().map(|a| a.as_ref().to_vec()).collect()),
        });
    }

    /// As `push`, for arguments the caller gives away.
    pub(crate) fn push_owned(
        &mut self,
        db: usize,
        argv: Vec<Vec<u8>>,
        to_aof: bool,
        keep_argv: bool,
    ) {
        let start = self.bytes.len();
        encode_command(&mut self.bytes, &argv);
        self.ops.push(PropagatedOp {
            db,
            start,
            end: self.bytes.len(),
            to_aof,
            argv: keep_argv.then_some(argv),
        });
    }

    pub(crate) fn ops(&self) -> &[PropagatedOp] {
        &self.ops
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Empties the unit, keeping its buffers unless a large one grew them.
    pub(crate) fn clear(&mut self) {
        self.ops.clear();
        self.bytes.clear();
        if self.bytes.capacity() > PROPAGATION_CAPACITY_KEPT_BYTES {
            self.bytes.shrink_to(PROPAGATION_CAPACITY_KEPT_BYTES);
        }
        if self.ops.capacity() > PROPAGATION_CAPACITY_KEPT_BYTES / 64 {
            self.ops.shrink_to(PROPAGATION_CAPACITY_KEPT_BYTES / 64);
        }
    }
}

/// Why the node is shutting down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownReason {
    Command,
    Signal,
}

/// All server state except the environment.
pub struct Server {
    pub config: Config,
    pub keyspace: Keyspace,
    /// Connected clients, except the one running a command right now.
    pub clients: BTreeMap<ConnId, Box<Client>>,
    pub pubsub: PubSub,
    /// Clients blocked on keys.
    pub blocking: Blocking,
    /// The Lua scripts cached by EVAL and SCRIPT LOAD, and their
    /// interpreter.
    pub scripts: crate::script::Scripts,
    /// A handler asked to block the running client (see `cmd::Ctx::block_on`).
    pub block_request: Option<BlockedOn>,
    /// Clients unblocked since the last `before_sleep`, whose pending
    /// requests are then read.
    pub unblocked: Vec<ConnId>,
    pub stats: Stats,
    /// SLOWLOG, LATENCY and MONITOR's state.
    pub observe: Observe,
    /// `used_memory` when the node started (MEMORY STATS
    /// `startup.allocated`).
    pub startup_memory_bytes: u64,
    /// 40 hex characters identifying this process run.
    pub run_id: String,
    /// Replication: the stream, replicas, and our master if we have one.
    pub repl: Repl,
    pub started_monotonic_ms: u64,
    pub started_wall_ms: i64,
    /// Changes to the dataset since the last save.
    pub dirty: u64,
    /// Wall-clock seconds of the last successful save (start time at first).
    pub lastsave_s: i64,
    /// Monotonic time of the last successful save (start time at first):
    /// what save points measure from.
    pub lastsave_monotonic_ms: u64,
    pub shutdown: Option<ShutdownReason>,
    /// A shutdown waiting for lagging replicas (see `crate::shutdown`).
    pub shutdown_wait: Option<crate::shutdown::ShutdownWait>,
    pub cron_loops: u64,
    /// The append-only file, while `appendonly` is on.
    pub aof: Aof,
    pub aof_on: bool,
    /// The running background job and save/rewrite history.
    pub background: Background,
    /// What the last AOF load found (INFO and reports).
    pub aof_load: LoadReport,
    /// Executing commands read from disk: nothing is propagated or traced.
    pub loading: bool,
    /// What keys past their time are for the commands running now, as
    /// every database of `keyspace` was last told (see `set_expiry`).
    expiry: Expiry,
    /// Writes propagated by the running top-level command, with their
    /// databases, in execution order.
    pub propagated: Propagation,
    /// The running command's unit goes out without MULTI/EXEC: a command
    /// run directly that may touch arbitrary keys (SCAN, KEYS, RANDOMKEY:
    /// their lazy expiries are independent DELs, which Redis sends so),
    /// or a script's under the planted bug `script-effects-not-wrapped`.
    pub unwrapped_unit: bool,
    /// Rewritten forms of the running command to propagate instead of its
    /// own argv (relative expiry made absolute, SPOP as SREMs, and the
    /// like).
    pub propagate_override: Option<Vec<Vec<Vec<u8>>>>,
    /// The running command asked to be propagated even without changes.
    pub force_propagation: bool,
    /// Commands are running inside EXEC: work that would snapshot the
    /// dataset (a background save or rewrite, turning the AOF on) waits
    /// until the transaction has been propagated.
    pub in_exec: bool,
    /// A Lua script or function is running (SORT then orders a set's
    /// elements, as Redis does for scripts).
    pub script_running: bool,
    /// The memory check before the running command found memory still
    /// over `maxmemory` after evicting (Redis's `pre_command_oom_state`):
    /// a script is then refused its first `denyoom` write.
    pub out_of_memory: bool,
    /// DEBUG SET-DISABLE-DENY-SCRIPTS 1: scripts may call commands flagged
    /// `noscript` (Redis's test suite calls DEBUG PROTOCOL from scripts).
    pub scripts_may_call_noscript: bool,
    /// Keys loaded and keys skipped as expired by the last dump loaded
    /// (INFO `rdb_last_load_keys_loaded`, `rdb_last_load_keys_expired`).
    pub rdb_last_load: (u64, u64),
    /// CLIENT PAUSE in force (see `pause`).
    pub client_pause: Option<crate::pause::ClientPause>,
    /// Keys past their time are removed by the cron's sampling too, not
    /// only when touched (DEBUG SET-ACTIVE-EXPIRE turns it off).
    pub active_expire_enabled: bool,
    /// The dump being loaded replaces keys and function libraries already
    /// present instead of failing on them (DEBUG RELOAD MERGE).
    pub load_merges: bool,
    /// `CONFIG SET appendonly yes` ran inside EXEC: the AOF is turned on
    /// once the transaction has been propagated.
    pub aof_start_deferred: bool,
    /// Monotonic time of the last attempt to recover from an fsync error.
    pub(crate) aof_recovery_last_ms: u64,
    pub(crate) next_conn_id: ConnId,
    /// Clients with replies to release at `before_sleep`, in queue order.
    pub(crate) pending_writes: Vec<ConnId>,
    pub(crate) cron_next_ms: u64,
    /// Eviction's best candidates, kept from one pass to the next.
    pub eviction_pool: crate::evict::EvictionPool,
    /// The database the random policies look at next.
    pub eviction_next_db: usize,
    /// A pass of eviction ran out of time over the limit: it goes on from
    /// the next tick (Redis's `evictionTimeProc`).
    pub eviction_running: bool,
}

impl Server {
    /// The state of a node that has just started: an empty dataset, no
    /// client, nothing loaded. `env` gives the hash seeds, the ids and the
    /// start times.
    pub fn new(env: &mut dyn Env, mut config: Config) -> Self {
        let seed = (env.random_u64(), env.random_u64());
        // Collections' tables get a key of their own, from the same draw
        // (a new draw would move every later one in the simulator).
        config.encodings.table_seed = (seed.1.rotate_left(17) ^ seed.0, seed.0.rotate_left(31));
        let run_id = hex_id(env);
        let replid = hex_id(env);
        let now_ms = env.monotonic_ms();
        let wall_ms = env.wall_ms();
        Server {
            keyspace: {
                let keyspace = Keyspace::new(config.databases, seed);
                keyspace.set_notify_classes(config.notify_keyspace_events);
                keyspace
            },
            config,
            clients: BTreeMap::new(),
            pubsub: PubSub::default(),
            blocking: Blocking::default(),
            scripts: crate::script::Scripts::default(),
            block_request: None,
            unblocked: Vec::new(),
            stats: Stats {
                ops_last_ms: now_ms,
                ..Stats::default()
            },
            observe: Observe::default(),
            startup_memory_bytes: env.used_memory_bytes(0),
            run_id,
            repl: Repl::new(replid),
            started_monotonic_ms: now_ms,
            started_wall_ms: wall_ms,
            dirty: 0,
            lastsave_s: wall_ms / 1000,
            lastsave_monotonic_ms: now_ms,
            shutdown: None,
            shutdown_wait: None,
            cron_loops: 0,
            aof: Aof::default(),
            aof_on: false,
            background: Background::default(),
            aof_load: LoadReport::default(),
            loading: false,
            expiry: Expiry::Delete,
            propagated: Propagation::default(),
            unwrapped_unit: false,
            propagate_override: None,
            force_propagation: false,
            in_exec: false,
            script_running: false,
            out_of_memory: false,
            active_expire_enabled: true,
            client_pause: None,
            rdb_last_load: (0, 0),
            scripts_may_call_noscript: false,
            load_merges: false,
            aof_start_deferred: false,
            aof_recovery_last_ms: 0,
            next_conn_id: 1,
            pending_writes: Vec::new(),
            cron_next_ms: now_ms,
            eviction_pool: crate::evict::EvictionPool::default(),
            eviction_next_db: 0,
            eviction_running: false,
        }
    }

    /// Marks `conn` as having replies to release at `before_sleep`.
    pub fn queue_write(&mut self, client: &mut Client) {
        if !client.pending_write {
            client.pending_write = true;
            self.pending_writes.push(client.id);
        }
    }

    /// Applies what the keyspace recorded during a command (or expiry
    /// cycle): WATCH invalidations, expired keys, and the keyspace
    /// notifications it queued (`crate::notify`). `current` is the client
    /// running the command, which is out of `clients` meanwhile.
    pub fn after_command(&mut self, mut current: Option<&mut Client>, env: &mut dyn Env) {
        // What the databases queue for notifications from now on (a
        // CONFIG SET may have changed it).
        self.keyspace
            .set_notify_classes(self.config.notify_keyspace_events);
        if !self.keyspace.take_events_pending() {
            return;
        }
        crate::notify::deliver_queued(self, current.as_deref_mut());
        let wanted = self.propagation_wanted();
        let keep_argv = self.aof_on;
        for (index, db) in self.keyspace.dbs.iter_mut().enumerate() {
            db.settle_sizes();
            if db.touched_watchers.is_empty() && db.expired_keys.is_empty() {
                continue;
            }
            for conn in db.touched_watchers.drain(..) {
                match current.as_deref_mut() {
                    Some(client) if client.id == conn => client.watch_dirty = true,
                    _ => {
                        if let Some(client) = self.clients.get_mut(&conn) {
                            client.watch_dirty = true;
                        }
                    }
                }
            }
            let conn = current.as_deref().map(|client| client.id);
            for key in db.expired_keys.drain(..) {
                self.stats.expired_keys += 1;
                if self.loading {
                    continue;
                }
                env.trace(&Trace::Expired {
                    db: index,
                    key: &key,
                    conn,
                });
                if wanted {
                    self.propagated
                        .push_owned(index, vec![b"DEL".to_vec(), key], true, keep_argv);
                }
            }
        }
    }
    /// What keys past their time are for ordinary commands now: kept
    /// while loading; on a replica hidden but kept (its master's DELs
    /// remove them); else deleted.
    pub fn expiry_mode(&self) -> Expiry {
        if self.loading {
            Expiry::Off
        } else if self.repl.is_replica() || self.clients_paused() {
            // A paused node deletes nothing, as a replica does.
            Expiry::Hide
        } else {
            Expiry::Delete
        }
    }

    /// Enters or leaves loading: nothing is propagated or traced, and
    /// nothing expires, while commands are replayed from disk.
    pub fn set_loading(&mut self, loading: bool) {
        self.loading = loading;
        self.set_expiry(self.expiry_mode());
    }

    /// Tells every database what keys past their time are from now on,
    /// unless they are so already (a replica's master client switches to
    /// `Off` for each command it runs).
    pub fn set_expiry(&mut self, expiry: Expiry) {
        if self.expiry != expiry {
            self.keyspace.set_expiry(expiry);
            self.expiry = expiry;
        }
    }

    /// Removes every trace of a client that is going away.
    pub fn forget_client(&mut self, client: &mut Client, env: &mut dyn Env) {
        self.unwatch_all(client);
        if client.is_replica {
            self.peer_gone(env, client.id);
        }
        if client.is_master {
            self.master_link_lost(env, client.db);
        }
        self.repl.waiting.retain(|&conn| conn != client.id);
        self.repl.dumps.remove(&client.id);
        self.observe.monitors.remove(client.id);
        if let Some(on) = client.blocked.take() {
            self.blocking.unblock(&mut self.keyspace, client.id, &on);
        }
        self.pubsub.unsubscribe_everything(client);
    }

    /// Forgets every key `client` watches and clears its dirty mark.
    pub fn unwatch_all(&mut self, client: &mut Client) {
        for watched in client.watched.drain(..) {
            self.keyspace.dbs[watched.db].unwatch(&watched.key, client.id);
        }
        client.watch_dirty = false;
    }

    /// Seconds since the node started.
    pub fn uptime_s(&self, now_monotonic_ms: u64) -> u64 {
        now_monotonic_ms.saturating_sub(self.started_monotonic_ms) / 1000
    }

    /// Every client in id order, the running one included.
    pub fn all_clients<'a>(&'a self, current: &'a Client) -> Vec<&'a Client> {
        let mut all: Vec<&Client> = self.clients.values().map(|c| &**c).collect();
        let at = all.partition_point(|c| c.id < current.id);
        all.insert(at, current);
        all
    }
}
