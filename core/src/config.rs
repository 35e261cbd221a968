//! Configuration: Redis's directive names, defaults, value syntax and error
//! strings, shared by redis.conf files, `--directive value` command-line
//! arguments and `CONFIG GET/SET`.
//!
//! Directives core acts on are typed fields of [`Config`]. Every other Redis
//! 7.0 directive is accepted and kept as text, so real redis.conf files load
//! and tools that read them with `CONFIG GET` see Redis's defaults; the
//! server logs which of those it does not act on. A name Redis does not know
//! is refused, as Redis refuses it.

use std::collections::BTreeMap;

use crate::client::ConnInfo;
use crate::glob::glob_match;
use crate::resp::split_args;

pub mod rewrite;

/// `appendfsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendFsync {
    Always,
    EverySec,
    No,
}

/// Everything core reads from the configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub requirepass: Option<Vec<u8>>,
    pub hz: u32,
    pub databases: usize,
    pub proto_max_bulk_len: i64,
    pub client_query_buffer_limit: u64,
    pub maxclients: u64,
    pub timeout_s: u64,
    /// `shutdown-timeout`: seconds a shutdown waits for lagging replicas
    /// (0: it does not wait).
    pub shutdown_timeout_s: u64,
    pub dir: String,
    pub dbfilename: String,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: AppendFsync,
    /// `save` points: (seconds, changes).
    pub save: Vec<(u64, u64)>,
    pub loglevel: String,
    pub logfile: String,
    pub client_output_buffer_limit: OutputLimits,
    pub aof_load_truncated: bool,
    pub aof_use_rdb_preamble: bool,
    pub aof_timestamp_enabled: bool,
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    /// When collections change from their compact encodings.
    pub encodings: Encodings,
    /// Replication's directives.
    pub repl: ReplConfig,
    /// `maxmemory` and how keys are evicted to stay under it.
    pub memory: MemoryConfig,
    /// The command PIPESAVE pipes the dump into (`/bin/sh -c`).
    pub pipesave_command: String,
    /// `notify-keyspace-events`: the classes of keyspace notifications
    /// published, as `crate::notify::class` bits (0: none, the default).
    pub notify_keyspace_events: u32,
    /// `slowlog-log-slower-than`: microseconds a command must take to be
    /// logged in SLOWLOG (-1: nothing is logged, 0: every command).
    pub slowlog_log_slower_than_us: i64,
    /// `slowlog-max-len`: entries SLOWLOG keeps.
    pub slowlog_max_len: u64,
    /// `latency-monitor-threshold`: milliseconds an event must take to be
    /// recorded for LATENCY (0: the monitor is off).
    pub latency_monitor_threshold_ms: u64,
    /// `rdb-key-save-delay`: microseconds a background snapshot spends per
    /// element (Redis's testing knob for a slow BGSAVE; 0: none).
    pub rdb_key_save_delay_us: u64,
    /// Redis directives kept as text.
    passive: BTreeMap<&'static str, String>,
    /// Absolute path of the config file the server was started with, for
    /// INFO and CONFIG REWRITE (empty: started without one).
    pub config_file: String,
    /// The absolute directory the server was started in: what a relative
    /// `dir` is relative to when CONFIG REWRITE writes it out absolute, as
    /// Redis writes its working directory.
    pub launch_dir: String,
    /// `rename-command` lines, in the order given (see
    /// [`Config::rename_command`]).
    pub renamed_commands: Vec<RenamedCommand>,
    save_given_at_startup: bool,
    /// A bug planted for the simulator's self-test (`planted-bug`).
    #[cfg(feature = "planted-bugs")]
    pub planted_bug: Option<crate::planted::PlantedBug>,
}

/// Replication's directives, with Redis 7.0's names and defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplConfig {
    /// `replicaof host port` (`None`: a master).
    pub replicaof: Option<(String, u16)>,
    pub masterauth: Option<Vec<u8>>,
    pub masteruser: Option<Vec<u8>>,
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub diskless_sync: bool,
    pub diskless_sync_delay_s: u64,
    pub diskless_sync_max_replicas: u64,
    pub ping_replica_period_s: u64,
    pub timeout_s: u64,
    pub backlog_size: u64,
    pub backlog_ttl_s: u64,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag_s: u64,
    pub announce_ip: String,
    pub announce_port: u16,
}

impl Default for ReplConfig {
    fn default() -> Self {
        ReplConfig {
            replicaof: None,
            masterauth: None,
            masteruser: None,
            replica_serve_stale_data: true,
            replica_read_only: true,
            diskless_sync: true,
            diskless_sync_delay_s: 5,
            diskless_sync_max_replicas: 0,
            ping_replica_period_s: 10,
            timeout_s: 60,
            backlog_size: 1024 * 1024,
            backlog_ttl_s: 3600,
            min_replicas_to_write: 0,
            min_replicas_max_lag_s: 10,
            announce_ip: String::new(),
            announce_port: 0,
        }
    }
}

/// `maxmemory-policy`: which keys eviction may take, and by what measure
/// (Redis's `maxmemory_policy_enum`, in its order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvictionPolicy {
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    AllkeysLru,
    AllkeysLfu,
    AllkeysRandom,
    NoEviction,
}

impl EvictionPolicy {
    /// Every policy with its name, in the order Redis lists them.
    pub const ALL: [(EvictionPolicy, &'static str); 8] = [
        (EvictionPolicy::VolatileLru, "volatile-lru"),
        (EvictionPolicy::VolatileLfu, "volatile-lfu"),
        (EvictionPolicy::VolatileRandom, "volatile-random"),
        (EvictionPolicy::VolatileTtl, "volatile-ttl"),
        (EvictionPolicy::AllkeysLru, "allkeys-lru"),
        (EvictionPolicy::AllkeysLfu, "allkeys-lfu"),
        (EvictionPolicy::AllkeysRandom, "allkeys-random"),
        (EvictionPolicy::NoEviction, "noeviction"),
    ];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(policy, _)| *policy == self)
            .map_or("noeviction", |(_, name)| name)
    }

    fn parse(value: &str) -> Result<EvictionPolicy, SetError> {
        let names: Vec<&str> = Self::ALL.iter().map(|(_, name)| *name).collect();
        let name = one_of(value, &names)?;
        Ok(Self::ALL
            .iter()
            .find(|(_, n)| *n == name)
            .map_or(EvictionPolicy::NoEviction, |(policy, _)| *policy))
    }

    /// Keys' access fields count frequency (Redis's MAXMEMORY_FLAG_LFU);
    /// otherwise they hold the time of the last access.
    pub fn is_lfu(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLfu | EvictionPolicy::AllkeysLfu
        )
    }

    /// Only keys with a time to live may be evicted.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

/// `maxmemory` and its companions, with Redis 7.0's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryConfig {
    /// `maxmemory` in bytes; 0: no limit.
    pub maxmemory_bytes: u64,
    pub policy: EvictionPolicy,
    /// `maxmemory-samples`: keys each eviction draws (1 to 64).
    pub samples: usize,
    /// `maxmemory-eviction-tenacity` (0 to 100): how long one eviction
    /// pass may run before it lets commands go on.
    pub eviction_tenacity: u32,
    pub replica_ignore_maxmemory: bool,
    /// `lazyfree-lazy-eviction`: evictions propagate as UNLINK.
    pub lazyfree_lazy_eviction: bool,
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`, minutes.
    pub lfu_decay_time_min: u32,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        MemoryConfig {
            maxmemory_bytes: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
            eviction_tenacity: 10,
            replica_ignore_maxmemory: true,
            lazyfree_lazy_eviction: false,
            lfu_log_factor: 10,
            lfu_decay_time_min: 1,
        }
    }
}

/// `replicaof` as the config file and command line give it: `host port`,
/// or nothing.
fn replicaof(value: &str) -> Result<Option<(String, u16)>, SetError> {
    let words: Vec<&str> = value.split_whitespace().collect();
    match words.as_slice() {
        [] => Ok(None),
        [host, port] if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") => {
            Ok(None)
        }
        [host, port] => {
            let port = port
                .parse::<u16>()
                .map_err(|_| SetError("Invalid master port".to_string()))?;
            Ok(Some((host.to_string(), port)))
        }
        _ => Err(SetError(
            "Bad directive or wrong number of arguments".to_string(),
        )),
    }
}

fn secret(value: &str) -> Option<Vec<u8>> {
    (!value.is_empty()).then(|| value.as_bytes().to_vec())
}

fn secret_text(value: &Option<Vec<u8>>) -> String {
    value
        .as_deref()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default()
}

/// The thresholds at which a collection leaves its compact encoding
/// (listpack, intset) for the general one, with Redis 7.0's directive names
/// and defaults. A list's `list_max_listpack_size` bounds each node of the
/// list instead: negative values are byte sizes (-1 is 4 KB ... -5 is
/// 64 KB), positive ones entry counts.
///
/// It also carries `table_seed`, no directive: the SipHash key of the hash
/// tables a collection moves to when it outgrows its compact encoding. The
/// server derives it from the keyspace's seed at start, so it is secret
/// (fields and members chosen to collide cannot be computed in advance)
/// and, in the simulator, a function of the run's seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encodings {
    pub list_max_listpack_size: i64,
    pub hash_max_listpack_entries: u64,
    pub hash_max_listpack_value: u64,
    pub set_max_intset_entries: u64,
    pub zset_max_listpack_entries: u64,
    pub zset_max_listpack_value: u64,
    pub table_seed: (u64, u64),
}

impl Default for Encodings {
    fn default() -> Self {
        Encodings {
            list_max_listpack_size: -2,
            hash_max_listpack_entries: 512,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            table_seed: (0x7461_626c_6573_6565, 0x0064_6572_6f75_6274),
        }
    }
}

/// One class's output buffer limit: a client is closed when its pending
/// output exceeds `hard_bytes`, or stays above `soft_bytes` for more than
/// `soft_seconds`. Zero disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for Redis's three client classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    pub normal: OutputLimit,
    pub replica: OutputLimit,
    pub pubsub: OutputLimit,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            normal: OutputLimit {
                hard_bytes: 0,
                soft_bytes: 0,
                soft_seconds: 0,
            },
            replica: OutputLimit {
                hard_bytes: 256 << 20,
                soft_bytes: 64 << 20,
                soft_seconds: 60,
            },
            pubsub: OutputLimit {
                hard_bytes: 32 << 20,
                soft_bytes: 8 << 20,
                soft_seconds: 60,
            },
        }
    }
}

impl std::fmt::Display for OutputLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let classes = [
            ("normal", self.normal),
            ("slave", self.replica),
            ("pubsub", self.pubsub),
        ];
        let words: Vec<String> = classes
            .iter()
            .map(|(name, l)| {
                format!(
                    "{name} {} {} {}",
                    l.hard_bytes, l.soft_bytes, l.soft_seconds
                )
            })
            .collect();
        f.write_str(&words.join(" "))
    }
}

impl OutputLimits {
    /// Applies `class hard soft seconds` groups; classes not named keep
    /// their limits. All groups are checked before any is applied.
    fn apply(&mut self, value: &str) -> Result<(), SetError> {
        let words: Vec<&str> = value.split_whitespace().collect();
        let invalid =
            || SetError("Wrong number of arguments in buffer limit configuration.".to_string());
        if words.is_empty() || !words.len().is_multiple_of(4) {
            return Err(invalid());
        }
        let mut updated = *self;
        for group in words.chunks(4) {
            let limit = OutputLimit {
                hard_bytes: parse_memory(group[1]).ok_or_else(invalid)?,
                soft_bytes: parse_memory(group[2]).ok_or_else(invalid)?,
                soft_seconds: group[3].parse().map_err(|_| invalid())?,
            };
            match group[0].to_ascii_lowercase().as_str() {
                "normal" => updated.normal = limit,
                "slave" | "replica" => updated.replica = limit,
                "pubsub" => updated.pubsub = limit,
                _ => {
                    return Err(SetError(
                        "Invalid client class specified in buffer limit configuration.".to_string(),
                    ))
                }
            }
        }
        *self = updated;
        Ok(())
    }
}

/// One `rename-command old new`: the command Redis's table calls
/// `original` answers to `name` instead, and no longer to its own name; an
/// empty `name` disables it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenamedCommand {
    pub original: &'static str,
    pub name: String,
}

/// What an `enable-*` directive guards (Redis's protected actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtectedAction {
    /// CONFIG SET of a protected directive (`enable-protected-configs`).
    Configs,
    /// The DEBUG command (`enable-debug-command`).
    DebugCommand,
    /// The MODULE command (`enable-module-command`).
    ModuleCommand,
}

impl ProtectedAction {
    /// The directive that says who may take this action.
    pub fn directive(self) -> &'static str {
        match self {
            ProtectedAction::Configs => "enable-protected-configs",
            ProtectedAction::DebugCommand => "enable-debug-command",
            ProtectedAction::ModuleCommand => "enable-module-command",
        }
    }

    /// Redis's error for a DEBUG or MODULE command that
    /// [`Config::allows`] refused. (A protected CONFIG SET is refused with
    /// CONFIG SET's own words instead.)
    pub fn refusal(self) -> String {
        let command = match self {
            ProtectedAction::ModuleCommand => "MODULE",
            _ => "DEBUG",
        };
        format!(
            "ERR {command} command not allowed. If the {} option is set to \"local\", you can \
             run it from a local connection, otherwise you need to set this option in the \
             configuration file, and then restart the server.",
            self.directive()
        )
    }
}

/// Directives kept as text here that the server driver acts on at
/// start-up (listening, the pid file, detaching) or that core reads
/// through [`Config::get`] (protected mode and actions).
const ACTED_ON_AS_TEXT: &[&str] = &[
    "daemonize",
    "pidfile",
    "unixsocket",
    "unixsocketperm",
    "protected-mode",
    "enable-protected-configs",
    "enable-debug-command",
    "enable-module-command",
];

/// Directives CONFIG SET changes only where `enable-protected-configs`
/// allows it (Redis 7.0's PROTECTED_CONFIG).
pub const PROTECTED_DIRECTIVES: &[&str] = &["dir", "dbfilename"];

/// What a client refused by protected mode is sent before it is closed.
pub const PROTECTED_MODE_DENIED: &str = "-DENIED Redis is running in protected mode because \
protected mode is enabled and no password is set for the default user. In this mode \
connections are only accepted from the loopback interface. If you want to connect from \
external computers to Redis you may adopt one of the following solutions: 1) Just disable \
protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface \
by connecting to Redis from the same host the server is running, however MAKE SURE Redis is \
not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change \
permanent. 2) Alternatively you can just disable the protected mode by editing the Redis \
configuration file, and setting the protected mode option to 'no', and then restarting the \
server. 3) If you started the server manually just for testing, restart it with the \
'--protected-mode no' option. 4) Setup a an authentication password for the default user. \
NOTE: You only need to do one of the above things in order for the server to start accepting \
connections from the outside.\r\n";

/// Whether a connection came through the Unix-domain socket: the driver
/// gives such a connection `<path>:0` as both of its addresses, as Redis's
/// CLIENT LIST shows it. No TCP connection has the same address at both
/// ends.
pub fn is_unix_socket(info: &ConnInfo) -> bool {
    info.peer_addr == info.local_addr && info.peer_addr.ends_with(":0")
}

/// Redis's `islocalClient`: a Unix-socket connection, or one whose peer is
/// exactly `127.0.0.1` or `::1`.
pub fn is_local_client(info: &ConnInfo) -> bool {
    if is_unix_socket(info) {
        return true;
    }
    let ip = match info.peer_addr.parse::<std::net::SocketAddr>() {
        Ok(address) => address.ip().to_string(),
        Err(_) => return false,
    };
    ip == "127.0.0.1" || ip == "::1"
}

/// Why a directive could not be set: the text after
/// `CONFIG SET failed (possibly related to argument '<name>') - `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError(pub String);

/// A directive error while reading a config file or command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

type Getter = fn(&Config) -> String;
type Setter = fn(&mut Config, &str) -> Result<(), SetError>;

struct Directive {
    name: &'static str,
    mutable: bool,
    get: Getter,
    set: Setter,
}

const MEMORY_MAX: u64 = i64::MAX as u64;
/// `bind` addresses at most (Redis's CONFIG_BINDADDR_MAX).
const BIND_ADDRESSES_MAX: usize = 16;

/// The directives core acts on.
const DIRECTIVES: &[Directive] = &[
    Directive {
        name: "slowlog-log-slower-than",
        mutable: true,
        get: |c| c.slowlog_log_slower_than_us.to_string(),
        set: |c, v| {
            c.slowlog_log_slower_than_us = int(v, -1, i64::MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "slowlog-max-len",
        mutable: true,
        get: |c| c.slowlog_max_len.to_string(),
        set: |c, v| {
            c.slowlog_max_len = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "rdb-key-save-delay",
        mutable: true,
        get: |c| c.rdb_key_save_delay_us.to_string(),
        set: |c, v| {
            c.rdb_key_save_delay_us = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "latency-monitor-threshold",
        mutable: true,
        get: |c| c.latency_monitor_threshold_ms.to_string(),
        set: |c, v| {
            c.latency_monitor_threshold_ms = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        // redoubt's own: the command PIPESAVE streams the dump into.
        // Not settable at run time, as a command line is what it runs.
        name: "pipesave-command",
        mutable: false,
        get: |c| c.pipesave_command.clone(),
        set: |c, v| {
            c.pipesave_command = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "replicaof",
        mutable: false,
        get: |c| {
            c.repl
                .replicaof
                .as_ref()
                .map(|(host, port)| format!("{host} {port}"))
                .unwrap_or_default()
        },
        set: |c, v| {
            c.repl.replicaof = replicaof(v)?;
            Ok(())
        },
    },
    Directive {
        name: "masterauth",
        mutable: true,
        get: |c| secret_text(&c.repl.masterauth),
        set: |c, v| {
            c.repl.masterauth = secret(v);
            Ok(())
        },
    },
    Directive {
        name: "masteruser",
        mutable: true,
        get: |c| secret_text(&c.repl.masteruser),
        set: |c, v| {
            c.repl.masteruser = secret(v);
            Ok(())
        },
    },
    Directive {
        name: "replica-serve-stale-data",
        mutable: true,
        get: |c| yes_no(c.repl.replica_serve_stale_data),
        set: |c, v| {
            c.repl.replica_serve_stale_data = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "replica-read-only",
        mutable: true,
        get: |c| yes_no(c.repl.replica_read_only),
        set: |c, v| {
            c.repl.replica_read_only = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "repl-diskless-sync",
        mutable: true,
        get: |c| yes_no(c.repl.diskless_sync),
        set: |c, v| {
            c.repl.diskless_sync = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "repl-diskless-sync-delay",
        mutable: true,
        get: |c| c.repl.diskless_sync_delay_s.to_string(),
        set: |c, v| {
            c.repl.diskless_sync_delay_s = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "repl-diskless-sync-max-replicas",
        mutable: true,
        get: |c| c.repl.diskless_sync_max_replicas.to_string(),
        set: |c, v| {
            c.repl.diskless_sync_max_replicas = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "repl-ping-replica-period",
        mutable: true,
        get: |c| c.repl.ping_replica_period_s.to_string(),
        set: |c, v| {
            c.repl.ping_replica_period_s = int(v, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "repl-timeout",
        mutable: true,
        get: |c| c.repl.timeout_s.to_string(),
        set: |c, v| {
            c.repl.timeout_s = int(v, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "repl-backlog-size",
        mutable: true,
        get: |c| c.repl.backlog_size.to_string(),
        set: |c, v| {
            // Redis's CONFIG_REPL_BACKLOG_MIN_SIZE is 16 KB.
            c.repl.backlog_size = memory(v, 1, MEMORY_MAX)?.max(16 * 1024);
            Ok(())
        },
    },
    Directive {
        name: "repl-backlog-ttl",
        mutable: true,
        get: |c| c.repl.backlog_ttl_s.to_string(),
        set: |c, v| {
            c.repl.backlog_ttl_s = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "min-replicas-to-write",
        mutable: true,
        get: |c| c.repl.min_replicas_to_write.to_string(),
        set: |c, v| {
            c.repl.min_replicas_to_write = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "min-replicas-max-lag",
        mutable: true,
        get: |c| c.repl.min_replicas_max_lag_s.to_string(),
        set: |c, v| {
            c.repl.min_replicas_max_lag_s = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "replica-announce-ip",
        mutable: true,
        get: |c| c.repl.announce_ip.clone(),
        set: |c, v| {
            c.repl.announce_ip = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "replica-announce-port",
        mutable: true,
        get: |c| c.repl.announce_port.to_string(),
        set: |c, v| {
            c.repl.announce_port = int(v, 0, 65535)? as u16;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory",
        mutable: true,
        get: |c| c.memory.maxmemory_bytes.to_string(),
        set: |c, v| {
            c.memory.maxmemory_bytes = memory(v, 0, MEMORY_MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-policy",
        mutable: true,
        get: |c| c.memory.policy.name().to_string(),
        set: |c, v| {
            c.memory.policy = EvictionPolicy::parse(v)?;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-samples",
        mutable: true,
        get: |c| c.memory.samples.to_string(),
        set: |c, v| {
            c.memory.samples = int(v, 1, 64)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "maxmemory-eviction-tenacity",
        mutable: true,
        get: |c| c.memory.eviction_tenacity.to_string(),
        set: |c, v| {
            c.memory.eviction_tenacity = int(v, 0, 100)? as u32;
            Ok(())
        },
    },
    Directive {
        name: "replica-ignore-maxmemory",
        mutable: true,
        get: |c| yes_no(c.memory.replica_ignore_maxmemory),
        set: |c, v| {
            c.memory.replica_ignore_maxmemory = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "lazyfree-lazy-eviction",
        mutable: true,
        get: |c| yes_no(c.memory.lazyfree_lazy_eviction),
        set: |c, v| {
            c.memory.lazyfree_lazy_eviction = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "lfu-log-factor",
        mutable: true,
        get: |c| c.memory.lfu_log_factor.to_string(),
        set: |c, v| {
            c.memory.lfu_log_factor = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Directive {
        name: "lfu-decay-time",
        mutable: true,
        get: |c| c.memory.lfu_decay_time_min.to_string(),
        set: |c, v| {
            c.memory.lfu_decay_time_min = int(v, 0, i32::MAX as i64)? as u32;
            Ok(())
        },
    },
    Directive {
        name: "list-max-listpack-size",
        mutable: true,
        get: |c| c.encodings.list_max_listpack_size.to_string(),
        set: |c, v| {
            c.encodings.list_max_listpack_size = int(v, i32::MIN as i64, i32::MAX as i64)?;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-listpack-entries",
        mutable: true,
        get: |c| c.encodings.hash_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_entries = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "hash-max-listpack-value",
        mutable: true,
        get: |c| c.encodings.hash_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.hash_max_listpack_value = memory(v, 0, MEMORY_MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "set-max-intset-entries",
        mutable: true,
        get: |c| c.encodings.set_max_intset_entries.to_string(),
        set: |c, v| {
            c.encodings.set_max_intset_entries = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-listpack-entries",
        mutable: true,
        get: |c| c.encodings.zset_max_listpack_entries.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_entries = int(v, 0, i64::MAX)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "zset-max-listpack-value",
        mutable: true,
        get: |c| c.encodings.zset_max_listpack_value.to_string(),
        set: |c, v| {
            c.encodings.zset_max_listpack_value = memory(v, 0, MEMORY_MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "client-output-buffer-limit",
        mutable: true,
        get: |c| c.client_output_buffer_limit.to_string(),
        set: |c, v| c.client_output_buffer_limit.apply(v),
    },
    // `port` and `bind` change at run time as in Redis 7: CONFIG SET
    // listens anew through `Net::listen` (see `cmd/server.rs`); port 0 and
    // an empty `bind` listen nowhere.
    Directive {
        name: "port",
        mutable: true,
        get: |c| c.port.to_string(),
        set: |c, v| {
            c.port = int(v, 0, 65535)? as u16;
            Ok(())
        },
    },
    Directive {
        name: "bind",
        mutable: true,
        get: |c| c.bind.join(" "),
        set: |c, v| {
            let addresses: Vec<String> = v.split_whitespace().map(str::to_string).collect();
            if addresses.len() > BIND_ADDRESSES_MAX {
                return Err(SetError("Too many bind addresses specified.".to_string()));
            }
            c.bind = addresses;
            Ok(())
        },
    },
    Directive {
        name: "requirepass",
        mutable: true,
        get: |c| {
            c.requirepass
                .as_deref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default()
        },
        set: |c, v| {
            c.requirepass = (!v.is_empty()).then(|| v.as_bytes().to_vec());
            Ok(())
        },
    },
    Directive {
        name: "hz",
        mutable: true,
        get: |c| c.hz.to_string(),
        set: |c, v| {
            c.hz = int(v, 0, i32::MAX as i64)?.clamp(1, 500) as u32;
            Ok(())
        },
    },
    Directive {
        name: "databases",
        mutable: false,
        get: |c| c.databases.to_string(),
        set: |c, v| {
            c.databases = int(v, 1, i32::MAX as i64)? as usize;
            Ok(())
        },
    },
    Directive {
        name: "proto-max-bulk-len",
        mutable: true,
        get: |c| c.proto_max_bulk_len.to_string(),
        set: |c, v| {
            c.proto_max_bulk_len = memory(v, 1024 * 1024, MEMORY_MAX)? as i64;
            Ok(())
        },
    },
    Directive {
        name: "client-query-buffer-limit",
        mutable: true,
        get: |c| c.client_query_buffer_limit.to_string(),
        set: |c, v| {
            c.client_query_buffer_limit = memory(v, 1024 * 1024, MEMORY_MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "maxclients",
        mutable: true,
        get: |c| c.maxclients.to_string(),
        set: |c, v| {
            c.maxclients = int(v, 1, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "shutdown-timeout",
        mutable: true,
        get: |c| c.shutdown_timeout_s.to_string(),
        set: |c, v| {
            c.shutdown_timeout_s = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "timeout",
        mutable: true,
        get: |c| c.timeout_s.to_string(),
        set: |c, v| {
            c.timeout_s = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "dir",
        mutable: true,
        get: |c| c.dir.clone(),
        set: |c, v| {
            c.dir = v.to_string();
            Ok(())
        },
    },
    Directive {
        name: "dbfilename",
        mutable: true,
        get: |c| c.dbfilename.clone(),
        set: |c, v| {
            c.dbfilename = file_name(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appendonly",
        mutable: true,
        get: |c| yes_no(c.appendonly),
        set: |c, v| {
            c.appendonly = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appendfilename",
        mutable: false,
        get: |c| c.appendfilename.clone(),
        set: |c, v| {
            c.appendfilename = file_name(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appenddirname",
        mutable: false,
        get: |c| c.appenddirname.clone(),
        set: |c, v| {
            c.appenddirname = file_name(v)?;
            Ok(())
        },
    },
    Directive {
        name: "appendfsync",
        mutable: true,
        get: |c| appendfsync_name(c.appendfsync).to_string(),
        set: |c, v| {
            c.appendfsync = appendfsync(v)?;
            Ok(())
        },
    },
    Directive {
        name: "save",
        mutable: true,
        get: |c| save_text(&c.save),
        set: |c, v| {
            c.save = save_points(v)?;
            Ok(())
        },
    },
    Directive {
        name: "loglevel",
        mutable: true,
        get: |c| c.loglevel.clone(),
        set: |c, v| {
            c.loglevel = one_of(v, &["debug", "verbose", "notice", "warning", "nothing"])?;
            Ok(())
        },
    },
    Directive {
        name: "aof-load-truncated",
        mutable: true,
        get: |c| yes_no(c.aof_load_truncated),
        set: |c, v| {
            c.aof_load_truncated = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "aof-use-rdb-preamble",
        mutable: true,
        get: |c| yes_no(c.aof_use_rdb_preamble),
        set: |c, v| {
            c.aof_use_rdb_preamble = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "aof-timestamp-enabled",
        mutable: true,
        get: |c| yes_no(c.aof_timestamp_enabled),
        set: |c, v| {
            c.aof_timestamp_enabled = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "no-appendfsync-on-rewrite",
        mutable: true,
        get: |c| yes_no(c.no_appendfsync_on_rewrite),
        set: |c, v| {
            c.no_appendfsync_on_rewrite = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "auto-aof-rewrite-percentage",
        mutable: true,
        get: |c| c.auto_aof_rewrite_percentage.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_percentage = int(v, 0, i32::MAX as i64)? as u64;
            Ok(())
        },
    },
    Directive {
        name: "auto-aof-rewrite-min-size",
        mutable: true,
        get: |c| c.auto_aof_rewrite_min_size.to_string(),
        set: |c, v| {
            c.auto_aof_rewrite_min_size = memory(v, 0, MEMORY_MAX)?;
            Ok(())
        },
    },
    Directive {
        name: "rdbcompression",
        mutable: true,
        get: |c| yes_no(c.rdbcompression),
        set: |c, v| {
            c.rdbcompression = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "rdbchecksum",
        mutable: false,
        get: |c| yes_no(c.rdbchecksum),
        set: |c, v| {
            c.rdbchecksum = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "stop-writes-on-bgsave-error",
        mutable: true,
        get: |c| yes_no(c.stop_writes_on_bgsave_error),
        set: |c, v| {
            c.stop_writes_on_bgsave_error = boolean(v)?;
            Ok(())
        },
    },
    Directive {
        name: "notify-keyspace-events",
        mutable: true,
        get: |c| crate::notify::format_flags(c.notify_keyspace_events),
        set: |c, v| {
            c.notify_keyspace_events = crate::notify::parse_flags(v)
                .ok_or_else(|| SetError(crate::notify::ERR_CLASS.to_string()))?;
            Ok(())
        },
    },
    Directive {
        name: "logfile",
        mutable: false,
        get: |c| c.logfile.clone(),
        set: |c, v| {
            c.logfile = v.to_string();
            Ok(())
        },
    },
];

/// Redis 7.0 directives core keeps as text, with Redis's defaults.
const PASSIVE_DEFAULTS: &[(&str, &str)] = &[
    ("daemonize", "no"),
    ("pidfile", ""),
    ("protected-mode", "yes"),
    ("tcp-backlog", "511"),
    ("tcp-keepalive", "300"),
    ("unixsocket", ""),
    ("unixsocketperm", "0"),
    ("supervised", "no"),
    ("syslog-enabled", "no"),
    ("syslog-ident", "redis"),
    ("syslog-facility", "local0"),
    ("always-show-logo", "no"),
    ("set-proc-title", "yes"),
    ("proc-title-template", "{title} {listen-addr} {server-mode}"),
    ("crash-log-enabled", "yes"),
    ("crash-memcheck-enabled", "yes"),
    ("locale-collate", ""),
    ("sanitize-dump-payload", "no"),
    ("rdb-del-sync-files", "no"),
    ("repl-diskless-load", "disabled"),
    ("repl-disable-tcp-nodelay", "no"),
    ("replica-priority", "100"),
    ("propagation-error-behavior", "ignore"),
    ("replica-ignore-disk-write-errors", "no"),
    ("replica-announced", "yes"),
    ("replica-lazy-flush", "no"),
    ("acllog-max-len", "128"),
    ("aclfile", ""),
    ("active-expire-effort", "1"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("io-threads", "1"),
    ("io-threads-do-reads", "no"),
    ("oom-score-adj", "no"),
    ("oom-score-adj-values", "0 200 800"),
    ("disable-thp", "yes"),
    ("aof-rewrite-incremental-fsync", "yes"),
    ("rdb-save-incremental-fsync", "yes"),
    ("shutdown-on-sigint", "default"),
    ("shutdown-on-sigterm", "default"),
    ("lua-time-limit", "5000"),
    ("busy-reply-threshold", "5000"),
    ("cluster-enabled", "no"),
    ("latency-tracking", "yes"),
    ("latency-tracking-info-percentiles", "50 99 99.9"),
    ("list-compress-depth", "0"),
    ("hll-sparse-max-bytes", "3000"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("activerehashing", "yes"),
    ("dynamic-hz", "yes"),
    ("jemalloc-bg-thread", "yes"),
    ("activedefrag", "no"),
    ("active-defrag-ignore-bytes", "104857600"),
    ("active-defrag-threshold-lower", "10"),
    ("active-defrag-threshold-upper", "100"),
    ("active-defrag-cycle-min", "1"),
    ("active-defrag-cycle-max", "25"),
    ("active-defrag-max-scan-fields", "1000"),
    ("maxmemory-clients", "0"),
    ("tracking-table-max-keys", "1000000"),
    ("enable-protected-configs", "no"),
    ("enable-debug-command", "no"),
    ("enable-module-command", "no"),
    ("tls-port", "0"),
    ("cluster-config-file", "nodes.conf"),
    ("cluster-node-timeout", "15000"),
    ("bind-source-addr", ""),
    ("ignore-warnings", ""),
    ("appendfsync-always-group-commit", "yes"),
];

impl Default for Config {
    fn default() -> Self {
        let passive = PASSIVE_DEFAULTS
            .iter()
            .map(|&(k, v)| (k, v.to_string()))
            .collect();
        Config {
            port: 6379,
            bind: vec!["127.0.0.1".to_string(), "-::1".to_string()],
            requirepass: None,
            hz: 10,
            databases: 16,
            proto_max_bulk_len: 512 * 1024 * 1024,
            client_query_buffer_limit: 1024 * 1024 * 1024,
            maxclients: 10000,
            timeout_s: 0,
            shutdown_timeout_s: 10,
            dir: ".".to_string(),
            dbfilename: "dump.rdb".to_string(),
            appendonly: false,
            appendfilename: "appendonly.aof".to_string(),
            appenddirname: "appendonlydir".to_string(),
            appendfsync: AppendFsync::EverySec,
            save: vec![(3600, 1), (300, 100), (60, 10000)],
            loglevel: "notice".to_string(),
            logfile: String::new(),
            client_output_buffer_limit: OutputLimits::default(),
            aof_load_truncated: true,
            aof_use_rdb_preamble: true,
            aof_timestamp_enabled: false,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 100,
            auto_aof_rewrite_min_size: 64 * 1024 * 1024,
            rdbcompression: true,
            rdbchecksum: true,
            stop_writes_on_bgsave_error: true,
            encodings: Encodings::default(),
            repl: ReplConfig::default(),
            memory: MemoryConfig::default(),
            pipesave_command: String::new(),
            notify_keyspace_events: 0,
            slowlog_log_slower_than_us: 10_000,
            slowlog_max_len: 128,
            latency_monitor_threshold_ms: 0,
            rdb_key_save_delay_us: 0,
            passive,
            config_file: String::new(),
            launch_dir: String::new(),
            renamed_commands: Vec::new(),
            save_given_at_startup: false,
            #[cfg(feature = "planted-bugs")]
            planted_bug: None,
        }
    }
}

/// Older names Redis accepts for a directive, and the directive each
/// stands for. `CONFIG GET` lists them too, with the directive's value.
const ALIASES: &[(&str, &str)] = &[
    ("slaveof", "replicaof"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slave-read-only", "replica-read-only"),
    ("slave-priority", "replica-priority"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-ignore-maxmemory", "replica-ignore-maxmemory"),
    ("repl-ping-slave-period", "repl-ping-replica-period"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
];

/// The directive a name stands for (itself, or what an alias names).
fn canonical(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    match ALIASES.iter().find(|(alias, _)| *alias == lower) {
        Some((_, directive)) => directive.to_string(),
        None => lower,
    }
}

/// Directives Redis 7.0 takes only at start-up (`IMMUTABLE_CONFIG`) among
/// those kept as text here; CONFIG SET refuses them.
const IMMUTABLE_PASSIVE: &[&str] = &[
    "replicaof",
    "slaveof",
    "daemonize",
    "pidfile",
    "unixsocket",
    "unixsocketperm",
    "supervised",
    "syslog-enabled",
    "syslog-ident",
    "syslog-facility",
    "always-show-logo",
    "io-threads",
    "io-threads-do-reads",
    "enable-protected-configs",
    "enable-debug-command",
    "enable-module-command",
    "aclfile",
    "tcp-backlog",
    "cluster-enabled",
    "cluster-config-file",
    "logfile",
];

impl Config {
    /// Sets one directive from its text value, as `CONFIG SET` does.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), SetError> {
        self.set_inner(name, value, true)
    }

    fn set_inner(&mut self, name: &str, value: &str, at_runtime: bool) -> Result<(), SetError> {
        let name = canonical(name);
        #[cfg(feature = "planted-bugs")]
        if name == "planted-bug" && !at_runtime {
            let bug = crate::planted::PlantedBug::from_name(value)
                .ok_or_else(|| SetError(format!("no planted bug is called {value:?}")))?;
            self.planted_bug = Some(bug);
            return Ok(());
        }
        if let Some(directive) = DIRECTIVES.iter().find(|d| d.name == name) {
            if at_runtime && !directive.mutable {
                return Err(SetError("can't set immutable config".to_string()));
            }
            return (directive.set)(self, value);
        }
        if at_runtime && IMMUTABLE_PASSIVE.contains(&name.as_str()) {
            return Err(SetError("can't set immutable config".to_string()));
        }
        match self.passive.keys().find(|k| **k == name) {
            Some(&key) => {
                let normalized = normalize_passive(key, value)?;
                self.passive.insert(key, normalized);
                Ok(())
            }
            None => Err(SetError(
                "Bad directive or wrong number of arguments".to_string(),
            )),
        }
    }

    /// True if `name` (or an alias of it) is a directive Redis knows.
    pub fn knows(&self, name: &str) -> bool {
        let name = canonical(name);
        DIRECTIVES.iter().any(|d| d.name == name) || self.passive.contains_key(name.as_str())
    }

    /// Reads one directive's current value.
    pub fn get(&self, name: &str) -> Option<String> {
        let name = canonical(name);
        if let Some(directive) = DIRECTIVES.iter().find(|d| d.name == name) {
            return Some((directive.get)(self));
        }
        self.passive.get(name.as_str()).cloned()
    }

    /// The (name, value) pairs whose names match the glob `pattern`, in name
    /// order, for `CONFIG GET`.
    pub fn matching(&self, pattern: &[u8]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = DIRECTIVES
            .iter()
            .map(|d| (d.name.to_string(), (d.get)(self)))
            .chain(self.passive.iter().map(|(k, v)| (k.to_string(), v.clone())))
            .chain(ALIASES.iter().filter_map(|(alias, directive)| {
                self.get(directive).map(|value| (alias.to_string(), value))
            }))
            .filter(|(name, _)| glob_match(pattern, name.as_bytes(), true))
            .collect();
        pairs.sort();
        pairs
    }

    /// Whether redoubt acts on this directive, in core or in the server
    /// driver (false: kept as text only).
    pub fn is_active(name: &str) -> bool {
        let name = canonical(name);
        DIRECTIVES.iter().any(|d| d.name == name) || ACTED_ON_AS_TEXT.contains(&name.as_str())
    }

    /// Applies redis.conf text: one directive a line, `#` comments, Redis's
    /// quoting, multi-word values joined by spaces. `include` is refused
    /// (the driver reads files; see `redoubt-server`).
    pub fn apply_file_text(&mut self, text: &str) -> Result<Vec<String>, FileError> {
        let mut applied = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason: &str| FileError {
                line: index + 1,
                text: raw.to_string(),
                reason: reason.to_string(),
            };
            let words = split_args(line.as_bytes())
                .ok_or_else(|| error("Unbalanced quotes in configuration line"))?;
            let words: Vec<String> = words
                .iter()
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let (name, values) = words
                .split_first()
                .ok_or_else(|| error("Bad directive or wrong number of arguments"))?;
            let takes_words = name.eq_ignore_ascii_case("rename-command");
            if values.is_empty() && canonical(name) != "save" && !takes_words {
                return Err(error("wrong number of arguments"));
            }
            self.apply_startup_words(name, values)
                .map_err(|e| error(&e.0))?;
            applied.push(canonical(name));
        }
        Ok(applied)
    }

    /// Whether the `enable-*` directive guarding `action` allows it to the
    /// client `info`: `yes` to everyone, `local` to loopback and
    /// Unix-socket clients only, `no` to nobody. DEBUG, MODULE and CONFIG
    /// SET of a protected directive all ask here.
    pub fn allows(&self, action: ProtectedAction, info: &ConnInfo) -> bool {
        match self.get(action.directive()).as_deref() {
            Some("yes") => true,
            Some("local") => is_local_client(info),
            _ => false,
        }
    }

    /// Redis's protected mode: with `protected-mode yes` and no password,
    /// a client that is not local is sent [`PROTECTED_MODE_DENIED`] and
    /// closed as soon as it connects.
    pub fn protected_mode_refuses(&self, info: &ConnInfo) -> bool {
        self.get("protected-mode").as_deref() == Some("yes")
            && self.requirepass.is_none()
            && !is_local_client(info)
    }

    /// Applies one `rename-command old new` (its two words), as Redis does
    /// to its one command table: `old` is looked up among the names in
    /// force now (so renames chain), and `new` must not name a command yet.
    /// Errors are Redis's start-up errors.
    pub fn rename_command(&mut self, words: &[String]) -> Result<(), SetError> {
        let [old, new] = words else {
            return Err(SetError(
                "Bad directive or wrong number of arguments".to_string(),
            ));
        };
        let no_such = || SetError("No such command in rename-command".to_string());
        let renamed_before = self
            .renamed_commands
            .iter()
            .position(|r| !r.name.is_empty() && r.name.eq_ignore_ascii_case(old));
        let original = match renamed_before {
            Some(at) => self.renamed_commands.remove(at).original,
            None => {
                let hidden = self
                    .renamed_commands
                    .iter()
                    .any(|r| r.original.eq_ignore_ascii_case(old));
                match crate::cmd::table().get(old.as_bytes()) {
                    Some(spec) if !hidden => spec.name,
                    _ => return Err(no_such()),
                }
            }
        };
        // Out of the table while the new name is checked, as Redis deletes
        // the old entry before it adds the new one.
        self.renamed_commands.push(RenamedCommand {
            original,
            name: String::new(),
        });
        if !new.is_empty() && crate::cmd::commands(self).get(new.as_bytes()).is_some() {
            return Err(SetError("Target command name already exists".to_string()));
        }
        if let Some(last) = self.renamed_commands.last_mut() {
            last.name = new.clone();
        }
        Ok(())
    }

    /// Applies a directive's words at start-up (`rename-command` keeps its
    /// two words apart; every other directive takes them joined).
    pub fn apply_startup_words(&mut self, name: &str, values: &[String]) -> Result<(), SetError> {
        if name.eq_ignore_ascii_case("rename-command") {
            return self.rename_command(values);
        }
        self.apply_startup(name, &values.join(" "))
    }

    /// Sets a directive at start-up, where immutable ones are allowed.
    /// redis.conf lists `save` once per point: the first `save` replaces the
    /// defaults, later ones add points, and `save ""` clears them all.
    pub fn apply_startup(&mut self, name: &str, value: &str) -> Result<(), SetError> {
        if canonical(name) != "save" {
            return self.set_inner(name, value, false);
        }
        let points = save_points(value)?;
        if !self.save_given_at_startup || points.is_empty() {
            self.save.clear();
        }
        self.save_given_at_startup = true;
        self.save.extend(points);
        Ok(())
    }
}

/// Passive directives holding memory sizes; stored in bytes as Redis does.
const PASSIVE_MEMORY: &[&str] = &[
    "repl-backlog-size",
    "active-defrag-ignore-bytes",
    "hll-sparse-max-bytes",
    "stream-node-max-bytes",
];

/// Validates a passive directive's value by the shape of its default:
/// booleans take yes/no, integers and memory sizes take numbers.
/// Passive directives that take `yes`, `no` or `local`.
const PASSIVE_YES_NO_LOCAL: &[&str] = &[
    "enable-protected-configs",
    "enable-debug-command",
    "enable-module-command",
];

fn normalize_passive(name: &str, value: &str) -> Result<String, SetError> {
    if PASSIVE_MEMORY.contains(&name) {
        return Ok(memory(value, 0, MEMORY_MAX)?.to_string());
    }
    if PASSIVE_YES_NO_LOCAL.contains(&name) {
        // Redis's protected configs: yes, no, or local (loopback only).
        return one_of(value, &["yes", "no", "local"]);
    }
    let default = PASSIVE_DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, d)| d);
    if default == "yes" || default == "no" {
        return Ok(yes_no(boolean(value)?));
    }
    if !default.is_empty() && default.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(int(value, i64::MIN, i64::MAX)?.to_string());
    }
    Ok(value.to_string())
}

fn int(value: &str, min: i64, max: i64) -> Result<i64, SetError> {
    let n: i64 = value
        .trim()
        .parse()
        .map_err(|_| SetError("argument couldn't be parsed into an integer".to_string()))?;
    if n < min || n > max {
        return Err(SetError(format!(
            "argument must be between {min} and {max} inclusive"
        )));
    }
    Ok(n)
}

/// Redis's memory values: a number with an optional k, kb, m, mb, g, gb
/// suffix (k = 1000, kb = 1024), case-insensitive.
pub fn parse_memory(value: &str) -> Option<u64> {
    let lower = value.trim().to_ascii_lowercase();
    let units: &[(&str, u64)] = &[
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1000),
        ("b", 1),
    ];
    let (digits, multiplier) = units
        .iter()
        .find_map(|&(suffix, m)| lower.strip_suffix(suffix).map(|d| (d.to_string(), m)))
        .unwrap_or((lower.clone(), 1));
    digits.parse::<u64>().ok()?.checked_mul(multiplier)
}

fn memory(value: &str, min: u64, max: u64) -> Result<u64, SetError> {
    let n = parse_memory(value)
        .ok_or_else(|| SetError("argument must be a memory value".to_string()))?;
    if n < min || n > max {
        return Err(SetError(format!(
            "argument must be between {min} and {max} inclusive"
        )));
    }
    Ok(n)
}

fn boolean(value: &str) -> Result<bool, SetError> {
    match value.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(SetError("argument must be 'yes' or 'no'".to_string())),
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn one_of(value: &str, allowed: &[&str]) -> Result<String, SetError> {
    let lower = value.to_ascii_lowercase();
    if allowed.contains(&lower.as_str()) {
        Ok(lower)
    } else {
        Err(SetError(format!(
            "argument(s) must be one of the following: {}",
            allowed.join(", ")
        )))
    }
}

fn file_name(value: &str) -> Result<String, SetError> {
    if value.contains('/') {
        return Err(SetError(
            "File can't be a path, just a filename".to_string(),
        ));
    }
    Ok(value.to_string())
}

fn appendfsync(value: &str) -> Result<AppendFsync, SetError> {
    match one_of(value, &["always", "everysec", "no"])?.as_str() {
        "always" => Ok(AppendFsync::Always),
        "everysec" => Ok(AppendFsync::EverySec),
        _ => Ok(AppendFsync::No),
    }
}

fn appendfsync_name(value: AppendFsync) -> &'static str {
    match value {
        AppendFsync::Always => "always",
        AppendFsync::EverySec => "everysec",
        AppendFsync::No => "no",
    }
}

fn save_points(value: &str) -> Result<Vec<(u64, u64)>, SetError> {
    let words: Vec<&str> = value.split_whitespace().collect();
    if !words.len().is_multiple_of(2) {
        return Err(SetError("Invalid save parameters".to_string()));
    }
    words
        .chunks(2)
        .map(|pair| match (pair[0].parse(), pair[1].parse()) {
            (Ok(seconds), Ok(changes)) => Ok((seconds, changes)),
            _ => Err(SetError("Invalid save parameters".to_string())),
        })
        .collect()
}

fn save_text(points: &[(u64, u64)]) -> String {
    let words: Vec<String> = points.iter().map(|(s, c)| format!("{s} {c}")).collect();
    words.join(" ")
}
