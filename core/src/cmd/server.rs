//! Server commands: INFO, CONFIG, COMMAND, TIME, LASTSAVE, SHUTDOWN.
//!
//! INFO uses Redis's section and field names so monitoring and load
//! balancers read it unchanged (`role:master` included). Its cpu,
//! commandstats and errorstats sections read what `cmd::call` counted and
//! the host's `getrusage` (see `crate::observe`).

use std::fmt::Write;

use super::connection::help_lines;
use super::replication::peer_ip;
use super::{
    commands, flag, help_subcommand, CommandSpec, Commands, Ctx, Error, Outcome, ERR_SYNTAX,
};
use crate::config::{Config, ProtectedAction, PROTECTED_DIRECTIVES};
use crate::env::Env;
use crate::env::LogLevel;
use crate::persist::background::{JobKind, Started};
use crate::repl::replica::LinkState;
use crate::resp::Out;
use crate::server::ShutdownReason;
use crate::shutdown::{ShutdownFlags, ShutdownStart, ERR_SHUTDOWN_FAILED};

const GROUP: &str = "server";
const ADMIN: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "info", arity: -1, flags: flag::LOADING | flag::STALE, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Returns information and statistics about the server.", complexity: "O(1)", handler: info, subcommands: &[] },
    CommandSpec { name: "config", arity: -2, flags: 0, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "A container for server configuration commands.", complexity: "Depends on subcommand.", handler: super::connection::container_help, subcommands: CONFIG_SUBCOMMANDS },
    CommandSpec { name: "command", arity: -1, flags: flag::LOADING | flag::STALE, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.8.13", summary: "Returns detailed information about all commands.", complexity: "O(N) where N is the total number of Redis commands", handler: command_all, subcommands: COMMAND_SUBCOMMANDS },
    CommandSpec { name: "time", arity: 1, flags: flag::LOADING | flag::STALE | flag::FAST, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.6.0", summary: "Returns the server time.", complexity: "O(1)", handler: time, subcommands: &[] },
    CommandSpec { name: "lastsave", arity: 1, flags: flag::LOADING | flag::STALE | flag::FAST, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Returns the Unix timestamp of the last successful save to disk.", complexity: "O(1)", handler: lastsave, subcommands: &[] },
    CommandSpec { name: "save", arity: 1, flags: ADMIN | flag::NO_MULTI, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Synchronously saves the database(s) to disk.", complexity: "O(N) where N is the total number of keys in all databases", handler: save, subcommands: &[] },
    CommandSpec { name: "bgsave", arity: -1, flags: ADMIN | flag::NOSCRIPT, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Asynchronously saves the database(s) to disk.", complexity: "O(1)", handler: bgsave, subcommands: &[] },
    CommandSpec { name: "bgrewriteaof", arity: 1, flags: ADMIN | flag::NOSCRIPT, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Asynchronously rewrites the append-only file to disk.", complexity: "O(1)", handler: bgrewriteaof, subcommands: &[] },
    CommandSpec { name: "shutdown", arity: -1, flags: ADMIN | flag::NO_MULTI, keys: (0, 0, 0), movable: None, group: GROUP, since: "1.0.0", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.", complexity: "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)", handler: shutdown, subcommands: &[] },
];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: -3,
        flags: ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Returns the effective values of configuration parameters.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        handler: config_get,
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -4,
        flags: ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Sets configuration parameters in-flight.",
        complexity: "O(N) when N is the number of configuration parameters provided",
        handler: config_set,
        subcommands: &[],
    },
    CommandSpec {
        name: "resetstat",
        arity: 2,
        flags: ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Resets the server's statistics.",
        complexity: "O(1)",
        handler: config_resetstat,
        subcommands: &[],
    },
    CommandSpec {
        name: "rewrite",
        arity: 2,
        flags: ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.8.0",
        summary: "Persists the effective configuration to file.",
        complexity: "O(1)",
        handler: config_rewrite,
        subcommands: &[],
    },
    help_subcommand(GROUP, "5.0.0", config_help),
];

const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "count",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.8.13",
        summary: "Returns a count of commands.",
        complexity: "O(1)",
        handler: command_count,
        subcommands: &[],
    },
    CommandSpec {
        name: "info",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.8.13",
        summary: "Returns information about one, multiple or all commands.",
        complexity: "O(N) where N is the number of commands to look up",
        handler: command_info,
        subcommands: &[],
    },
    CommandSpec {
        name: "docs",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "7.0.0",
        summary: "Returns documentary information about one, multiple or all commands.",
        complexity: "O(N) where N is the number of commands to look up",
        handler: command_docs,
        subcommands: &[],
    },
    CommandSpec {
        name: "list",
        arity: -2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "7.0.0",
        summary: "Returns a list of command names.",
        complexity: "O(N) where N is the total number of Redis commands",
        handler: command_list,
        subcommands: &[],
    },
    CommandSpec {
        name: "getkeys",
        arity: -3,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.8.13",
        summary: "Extracts the key names from an arbitrary command.",
        complexity: "O(N) where N is the number of arguments to the command",
        handler: command_getkeys,
        subcommands: &[],
    },
    help_subcommand(GROUP, "5.0.0", command_help),
];

/// Redis's `bytesToHuman`.
fn human_bytes(bytes: u64) -> String {
    let value = bytes as f64;
    let units = [
        (1u64 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (size, unit) in units {
        if bytes >= size {
            return format!("{:.2}{unit}", value / size as f64);
        }
    }
    format!("{bytes}B")
}

/// The sections INFO knows, in Redis's order, and whether the default set
/// includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

fn info(ctx: &mut Ctx<'_>) -> Outcome {
    let asked: Vec<String> = ctx.argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = asked.iter().any(|s| s == "all" || s == "everything");
    let default = asked.is_empty() || asked.iter().any(|s| s == "default");
    let mut text = String::new();
    for &(name, in_default) in SECTIONS {
        if everything || (default && in_default) || asked.iter().any(|s| s == name) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            info_section(ctx, name, &mut text);
        }
    }
    ctx.out().verbatim(text.as_bytes());
    Ok(())
}

fn info_section(ctx: &mut Ctx<'_>, name: &str, text: &mut String) {
    match name {
        "server" => info_server(ctx, text),
        "clients" => info_clients(ctx, text),
        "memory" => info_memory(ctx, text),
        "persistence" => info_persistence(ctx, text),
        "stats" => info_stats(ctx, text),
        "replication" => info_replication(ctx, text),
        "cpu" => info_cpu(ctx, text),
        "modules" => text.push_str("# Modules\r\n"),
        "commandstats" => info_commandstats(ctx, text),
        "errorstats" => info_errorstats(ctx, text),
        "latencystats" => info_latencystats(ctx, text),
        "cluster" => text.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        _ => info_keyspace(ctx, text),
    }
}

/// Appends `field:value` lines.
fn fields(text: &mut String, pairs: &[(&str, String)]) {
    for (field, value) in pairs {
        let _ = write!(text, "{field}:{value}\r\n");
    }
}

fn info_server(ctx: &mut Ctx<'_>, text: &mut String) {
    let now_ms = ctx.env.monotonic_ms();
    let uptime = ctx.server.uptime_s(now_ms);
    let config = &ctx.server.config;
    text.push_str("# Server\r\n");
    fields(
        text,
        &[
            ("redis_version", crate::REDIS_VERSION.to_string()),
            ("redis_git_sha1", "00000000".to_string()),
            ("redis_git_dirty", "0".to_string()),
            ("redis_build_id", "0".to_string()),
            ("redis_mode", "standalone".to_string()),
            ("redoubt_version", crate::REDOUBT_VERSION.to_string()),
            (
                "os",
                format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            ),
            ("arch_bits", (usize::BITS).to_string()),
            ("monotonic_clock", "POSIX clock_gettime".to_string()),
            ("multiplexing_api", "epoll".to_string()),
            ("process_id", ctx.env.process_id().to_string()),
            ("process_supervised", "no".to_string()),
            ("run_id", ctx.server.run_id.clone()),
            ("tcp_port", config.port.to_string()),
            ("server_time_usec", ctx.env.wall_us().to_string()),
            ("uptime_in_seconds", uptime.to_string()),
            ("uptime_in_days", (uptime / 86400).to_string()),
            ("hz", config.hz.to_string()),
            ("configured_hz", config.hz.to_string()),
            (
                "lru_clock",
                ((ctx.now_ms / 1000) & ((1 << 24) - 1)).to_string(),
            ),
            ("config_file", config.config_file.clone()),
        ],
    );
}

fn info_clients(ctx: &mut Ctx<'_>, text: &mut String) {
    let connected = ctx.server.clients.len() + 1;
    let input_max = ctx
        .server
        .clients
        .values()
        .map(|c| c.query.len())
        .chain([ctx.client.query.len()])
        .max()
        .unwrap_or(0);
    let output_max = ctx
        .server
        .clients
        .values()
        .map(|c| c.out.buf.len())
        .max()
        .unwrap_or(0);
    let pubsub_clients = ctx
        .server
        .clients
        .values()
        .filter(|c| c.subscription_count() > 0)
        .count();
    text.push_str("# Clients\r\n");
    fields(
        text,
        &[
            ("connected_clients", connected.to_string()),
            ("cluster_connections", "0".to_string()),
            ("maxclients", ctx.server.config.maxclients.to_string()),
            ("client_recent_max_input_buffer", input_max.to_string()),
            ("client_recent_max_output_buffer", output_max.to_string()),
            (
                "blocked_clients",
                ctx.server.blocking.blocked_count().to_string(),
            ),
            ("tracking_clients", "0".to_string()),
            ("pubsub_clients", pubsub_clients.to_string()),
            (
                "clients_in_timeout_table",
                ctx.server.blocking.timeouts_count().to_string(),
            ),
        ],
    );
}

fn info_memory(ctx: &mut Ctx<'_>, text: &mut String) {
    let dataset = ctx.server.keyspace.dataset_bytes();
    let used = ctx.env.used_memory_bytes(dataset);
    let peak = ctx.env.used_memory_peak_bytes(dataset).max(used);
    let maxmemory = ctx.server.config.memory.maxmemory_bytes;
    let not_counted = crate::evict::not_counted_bytes(ctx.server, ctx.env);
    let lua = ctx.server.scripts.lua_bytes() as u64;
    let scripts = ctx.server.scripts.bodies_bytes() as u64;
    let cached = ctx.server.scripts.len();
    text.push_str("# Memory\r\n");
    fields(
        text,
        &[
            ("used_memory", used.to_string()),
            ("used_memory_human", human_bytes(used)),
            ("used_memory_peak", peak.to_string()),
            ("used_memory_peak_human", human_bytes(peak)),
            (
                "used_memory_peak_perc",
                format!("{:.2}%", used as f64 * 100.0 / peak.max(1) as f64),
            ),
            ("used_memory_lua", lua.to_string()),
            ("used_memory_vm_eval", lua.to_string()),
            ("used_memory_lua_human", human_bytes(lua)),
            ("used_memory_scripts_eval", scripts.to_string()),
            ("number_of_cached_scripts", cached.to_string()),
            ("number_of_functions", "0".to_string()),
            ("number_of_libraries", "0".to_string()),
            ("used_memory_vm_functions", "0".to_string()),
            ("used_memory_vm_total", lua.to_string()),
            ("used_memory_vm_total_human", human_bytes(lua)),
            ("used_memory_functions", "0".to_string()),
            ("used_memory_scripts", scripts.to_string()),
            ("used_memory_scripts_human", human_bytes(scripts)),
            ("maxmemory", maxmemory.to_string()),
            ("maxmemory_human", human_bytes(maxmemory)),
            (
                "maxmemory_policy",
                ctx.server.config.memory.policy.name().to_string(),
            ),
            ("mem_not_counted_for_evict", not_counted.to_string()),
            ("mem_allocator", "libc".to_string()),
        ],
    );
}

fn info_persistence(ctx: &mut Ctx<'_>, text: &mut String) {
    let now_ms = ctx.env.monotonic_ms();
    let server = &ctx.server;
    let background = &server.background;
    let running = background.running();
    let bgsave_running = running == Some(JobKind::Save);
    let rewrite_running = matches!(running, Some(JobKind::Rewrite { .. }));
    let last_rewrite = background.last_rewrite_wall_ms.map_or(-1, |ms| ms / 1000);
    text.push_str("# Persistence\r\n");
    fields(
        text,
        &[
            ("loading", "0".to_string()),
            ("async_loading", "0".to_string()),
            // Snapshots are taken without fork: nothing is copied on write
            // by the kernel (values a snapshot still needs are kept by the
            // keyspace, see `db::snapshot`).
            ("current_cow_peak", "0".to_string()),
            ("current_cow_size", "0".to_string()),
            ("current_cow_size_age", "0".to_string()),
            ("rdb_changes_since_last_save", server.dirty.to_string()),
            ("rdb_bgsave_in_progress", (bgsave_running as u8).to_string()),
            ("rdb_last_save_time", server.lastsave_s.to_string()),
            (
                "rdb_last_bgsave_status",
                status(!background.last_bgsave_failed),
            ),
            (
                "rdb_last_bgsave_time_sec",
                background.last_bgsave_seconds_or_none().to_string(),
            ),
            (
                "rdb_current_bgsave_time_sec",
                background.running_seconds(true, now_ms).to_string(),
            ),
            ("rdb_saves", background.rdb_saves.to_string()),
            (
                "rdb_last_load_keys_expired",
                server.rdb_last_load.1.to_string(),
            ),
            (
                "rdb_last_load_keys_loaded",
                server.rdb_last_load.0.to_string(),
            ),
            ("aof_enabled", (server.aof_on as u8).to_string()),
            (
                "aof_rewrite_in_progress",
                (rewrite_running as u8).to_string(),
            ),
            (
                "aof_rewrite_scheduled",
                (background.rewrite_scheduled as u8).to_string(),
            ),
            (
                "aof_last_rewrite_time_sec",
                background.last_rewrite_seconds_or_none().to_string(),
            ),
            (
                "aof_current_rewrite_time_sec",
                background.running_seconds(false, now_ms).to_string(),
            ),
            (
                "aof_last_bgrewrite_status",
                status(!background.last_rewrite_failed),
            ),
            ("aof_rewrites", background.rewrites.to_string()),
            (
                "aof_rewrites_consecutive_failures",
                background.rewrite_failures_in_row.to_string(),
            ),
            (
                "aof_last_write_status",
                status(server.aof.write_error.is_none() && server.aof.fsync_error.is_none()),
            ),
            (
                "aof_last_successful_rewrite_unixtime",
                last_rewrite.to_string(),
            ),
        ],
    );
    // redoubt's own: the push backup (PIPESAVE).
    let last = background.pipesave_last.as_ref();
    fields(
        text,
        &[
            (
                "pipesave_in_progress",
                u8::from(background.pipesave.is_some()).to_string(),
            ),
            (
                "pipesave_last_status",
                status(last.is_none_or(|outcome| outcome.result.is_ok())),
            ),
            (
                "pipesave_last_exit_code",
                last.and_then(|o| o.exit_code).unwrap_or(-1).to_string(),
            ),
            (
                "pipesave_last_bytes",
                last.map_or(0, |o| o.bytes).to_string(),
            ),
            (
                "pipesave_last_time_sec",
                last.map_or(-1, |o| o.seconds as i64).to_string(),
            ),
        ],
    );
    if ctx.server.aof_on {
        info_aof(ctx, text);
    }
}

fn status(ok: bool) -> String {
    if ok { "ok" } else { "err" }.to_string()
}

/// The AOF fields Redis adds when the AOF is on, and redoubt's own about
/// what loading truncated.
fn info_aof(ctx: &mut Ctx<'_>, text: &mut String) {
    let aof = &ctx.server.aof;
    let (truncated_file, truncated_offset, truncated_bytes) = match &ctx.server.aof_load.truncated {
        Some((file, offset, bytes)) => (file.clone(), offset.to_string(), bytes.to_string()),
        None => (String::new(), "-1".to_string(), "0".to_string()),
    };
    fields(
        text,
        &[
            ("aof_current_size", aof.current_size.to_string()),
            ("aof_base_size", aof.base_size.to_string()),
            ("aof_pending_rewrite", "0".to_string()),
            ("aof_buffer_length", aof.buffer.len().to_string()),
            (
                "aof_pending_bio_fsync",
                (aof.fsync_in_flight() as u8).to_string(),
            ),
            ("aof_delayed_fsync", aof.delayed_fsync.to_string()),
            ("aof_fsynced_offset", aof.fsynced.to_string()),
            ("aof_written_offset", aof.written.to_string()),
            ("aof_load_truncated_file", truncated_file),
            ("aof_load_truncated_offset", truncated_offset),
            ("aof_load_truncated_bytes", truncated_bytes),
        ],
    );
}

fn info_stats(ctx: &mut Ctx<'_>, text: &mut String) {
    let stats = &ctx.server.stats;
    text.push_str("# Stats\r\n");
    fields(
        text,
        &[
            (
                "total_connections_received",
                stats.total_connections_received.to_string(),
            ),
            (
                "total_commands_processed",
                stats.total_commands_processed.to_string(),
            ),
            (
                "instantaneous_ops_per_sec",
                stats.instantaneous_ops_per_sec().to_string(),
            ),
            (
                "total_net_input_bytes",
                stats.total_net_input_bytes.to_string(),
            ),
            (
                "total_net_output_bytes",
                stats.total_net_output_bytes.to_string(),
            ),
            (
                "rejected_connections",
                stats.rejected_connections.to_string(),
            ),
            ("sync_full", ctx.server.repl.stats.sync_full.to_string()),
            (
                "sync_partial_ok",
                ctx.server.repl.stats.sync_partial_ok.to_string(),
            ),
            (
                "sync_partial_err",
                ctx.server.repl.stats.sync_partial_err.to_string(),
            ),
            ("expired_keys", stats.expired_keys.to_string()),
            ("evicted_keys", stats.evicted_keys.to_string()),
            // Clients are never evicted (no `maxmemory-clients`).
            ("evicted_clients", "0".to_string()),
            ("keyspace_hits", stats.keyspace_hits.to_string()),
            ("keyspace_misses", stats.keyspace_misses.to_string()),
            (
                "pubsub_channels",
                ctx.server.pubsub.channel_count().to_string(),
            ),
            (
                "pubsub_patterns",
                ctx.server.pubsub.pattern_count().to_string(),
            ),
            ("total_forks", "0".to_string()),
            ("total_error_replies", stats.total_error_replies.to_string()),
        ],
    );
}

/// CPU seconds as Redis prints a `timeval`: `seconds.micros`.
fn cpu_seconds(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

fn info_cpu(ctx: &mut Ctx<'_>, text: &mut String) {
    let cpu = ctx.env.cpu_usage();
    text.push_str("# CPU\r\n");
    fields(
        text,
        &[
            ("used_cpu_sys", cpu_seconds(cpu.sys_us)),
            ("used_cpu_user", cpu_seconds(cpu.user_us)),
            ("used_cpu_sys_children", cpu_seconds(cpu.children_sys_us)),
            ("used_cpu_user_children", cpu_seconds(cpu.children_user_us)),
            (
                "used_cpu_sys_main_thread",
                cpu_seconds(cpu.main_thread_sys_us),
            ),
            (
                "used_cpu_user_main_thread",
                cpu_seconds(cpu.main_thread_user_us),
            ),
        ],
    );
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,
/// failed_calls=..` for every command that ran or was refused, by name.
fn info_commandstats(ctx: &mut Ctx<'_>, text: &mut String) {
    text.push_str("# Commandstats\r\n");
    let mut commands: Vec<_> = ctx.server.stats.commands.values().collect();
    commands.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, stat) in commands {
        let per_call = if stat.calls == 0 {
            0.0
        } else {
            stat.usec as f64 / stat.calls as f64
        };
        let _ = write!(
            text,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            stat.calls, stat.usec, stat.rejected_calls, stat.failed_calls
        );
    }
}

/// `errorstat_<CODE>:count=N` for every error code replied, by code.
fn info_errorstats(ctx: &mut Ctx<'_>, text: &mut String) {
    text.push_str("# Errorstats\r\n");
    for (code, count) in &ctx.server.stats.errors {
        let _ = write!(
            text,
            "errorstat_{}:count={count}\r\n",
            String::from_utf8_lossy(code)
        );
    }
}

/// `latency_percentiles_usec_<name>:p50=..,p99=..,p99.9=..` for every
/// command that ran, at the percentiles `latency-tracking-info-percentiles`
/// names. Each value is the upper bound, in microseconds, of the
/// power-of-two bucket the percentile falls in (see LATENCY HISTOGRAM).
fn info_latencystats(ctx: &mut Ctx<'_>, text: &mut String) {
    text.push_str("# Latencystats\r\n");
    let percentiles: Vec<f64> = ctx
        .server
        .config
        .get("latency-tracking-info-percentiles")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut commands: Vec<_> = ctx.server.stats.commands.values().collect();
    commands.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, stat) in commands {
        if stat.histogram.is_empty() {
            continue;
        }
        let values: Vec<String> = percentiles
            .iter()
            .map(|&p| format!("p{p}={:.3}", stat.percentile_bound_ns(p) as f64 / 1000.0))
            .collect();
        let _ = write!(
            text,
            "latency_percentiles_usec_{name}:{}\r\n",
            values.join(",")
        );
    }
}

fn info_replication(ctx: &mut Ctx<'_>, text: &mut String) {
    let now = ctx.env.monotonic_ms();
    let server = &*ctx.server;
    let repl = &server.repl;
    let config = &server.config.repl;
    text.push_str("# Replication\r\n");
    let mut pairs: Vec<(&str, String)> = Vec::new();
    match &repl.link {
        None => pairs.push(("role", "master".to_string())),
        Some(link) => {
            let up = link.state == LinkState::Connected;
            let last_io = match link.conn.and_then(|conn| server.clients.get(&conn)) {
                Some(master) if up => ((now - master.last_interaction_ms) / 1000) as i64,
                _ => -1,
            };
            pairs.extend([
                ("role", "slave".to_string()),
                ("master_host", link.host.clone()),
                ("master_port", link.port.to_string()),
                (
                    "master_link_status",
                    if up { "up" } else { "down" }.to_string(),
                ),
                ("master_last_io_seconds_ago", last_io.to_string()),
                (
                    "master_sync_in_progress",
                    u8::from(link.state == LinkState::Transfer).to_string(),
                ),
                ("slave_read_repl_offset", repl.offset.to_string()),
                ("slave_repl_offset", repl.offset.to_string()),
            ]);
            if link.state == LinkState::Transfer {
                let total = link.transfer_size.map_or(-1, |size| size as i64);
                let read = link.transfer_read as i64;
                let left = if total >= 0 { total - read } else { -1 };
                let perc = if total > 0 {
                    read as f64 * 100.0 / total as f64
                } else {
                    0.0
                };
                pairs.extend([
                    ("master_sync_total_bytes", total.to_string()),
                    ("master_sync_read_bytes", read.to_string()),
                    ("master_sync_left_bytes", left.to_string()),
                    ("master_sync_perc", format!("{perc:.2}")),
                    (
                        "master_sync_last_io_seconds_ago",
                        ((now - link.last_io_ms) / 1000).to_string(),
                    ),
                ]);
            }
            if !up {
                pairs.push((
                    "master_link_down_since_seconds",
                    ((now - link.since_ms) / 1000).to_string(),
                ));
            }
            pairs.extend([
                (
                    "slave_priority",
                    server.config.get("replica-priority").unwrap_or_default(),
                ),
                (
                    "slave_read_only",
                    u8::from(config.replica_read_only).to_string(),
                ),
                ("replica_announced", "1".to_string()),
            ]);
        }
    }
    pairs.push(("connected_slaves", repl.peers.len().to_string()));
    if config.min_replicas_to_write > 0 && repl.link.is_none() {
        pairs.push((
            "min_slaves_good_slaves",
            repl.good_peers(now, config.min_replicas_max_lag_s)
                .to_string(),
        ));
    }
    fields(text, &pairs);
    for (index, (conn, peer)) in repl.peers.iter().enumerate() {
        let ip = peer
            .announced_ip
            .clone()
            .or_else(|| server.clients.get(conn).map(|c| peer_ip(&c.info.peer_addr)))
            .unwrap_or_default();
        let _ = write!(
            text,
            "slave{index}:ip={ip},port={},state={},offset={},lag={}\r\n",
            peer.listening_port,
            peer.state.info_name(),
            peer.ack_offset,
            (now - peer.ack_ms) / 1000
        );
    }
    let backlog = repl.backlog.as_ref();
    fields(
        text,
        &[
            ("master_failover_state", "no-failover".to_string()),
            ("master_replid", repl.replid.clone()),
            ("master_replid2", repl.replid2.clone()),
            ("master_repl_offset", repl.offset.to_string()),
            ("second_repl_offset", repl.second_offset.to_string()),
            (
                "repl_backlog_active",
                u8::from(backlog.is_some()).to_string(),
            ),
            ("repl_backlog_size", config.backlog_size.to_string()),
            (
                "repl_backlog_first_byte_offset",
                backlog.map_or(0, |b| b.first_offset()).to_string(),
            ),
            (
                "repl_backlog_histlen",
                backlog.map_or(0, |b| b.histlen()).to_string(),
            ),
        ],
    );
}

fn info_keyspace(ctx: &mut Ctx<'_>, text: &mut String) {
    text.push_str("# Keyspace\r\n");
    for (index, db) in ctx.server.keyspace.dbs.iter().enumerate() {
        if !db.is_empty() {
            let _ = write!(
                text,
                "db{index}:keys={},expires={},avg_ttl=0\r\n",
                db.len(),
                db.expires_len()
            );
        }
    }
}

fn config_get(ctx: &mut Ctx<'_>) -> Outcome {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pattern in &ctx.argv[2..] {
        for pair in ctx.server.config.matching(pattern) {
            if !pairs.iter().any(|(name, _)| *name == pair.0) {
                pairs.push(pair);
            }
        }
    }
    let out = ctx.out();
    out.map(pairs.len());
    for (name, value) in pairs {
        out.bulk(name.as_bytes());
        out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET applies all pairs or none.
fn config_set(ctx: &mut Ctx<'_>) -> Outcome {
    if !(ctx.argv.len() - 2).is_multiple_of(2) {
        return Err(Error::msg(
            "ERR wrong number of arguments for 'config|set' command",
        ));
    }
    let mut updated = ctx.server.config.clone();
    let mut seen: Vec<String> = Vec::new();
    for pair in ctx.argv[2..].chunks(2) {
        let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
        let value = String::from_utf8_lossy(&pair[1]).into_owned();
        if !updated.knows(&name) {
            return Err(Error::msg(&format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{name}'"
            )));
        }
        if seen.contains(&name) {
            return Err(Error::msg(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - duplicate parameter")));
        }
        let protected = PROTECTED_DIRECTIVES.contains(&name.as_str());
        if protected && !updated.allows(ProtectedAction::Configs, &ctx.client.info) {
            return Err(Error::msg(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            )));
        }
        if let Err(error) = updated.set(&name, &value) {
            return Err(Error::msg(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {}",
                error.0
            )));
        }
        seen.push(name);
    }
    let appendonly_changed = updated.appendonly != ctx.server.config.appendonly;
    // Listening anew comes first: it is the step that fails most often, and
    // until it succeeds nothing has changed.
    let relisten = relisten_argument(&seen, &ctx.server.config, &updated);
    if let Some(name) = relisten {
        if ctx.env.listen(&updated.bind, updated.port).is_err() {
            // The driver logged the address and the reason.
            ctx.env.log(
                LogLevel::Warning,
                &format!("Failed applying new configuration. Possibly related to new {name} setting. Restoring previous settings."),
            );
            return Err(Error::msg(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - {}",
                listen_error(name)
            )));
        }
    }
    if updated.appendfsync != ctx.server.config.appendfsync {
        // Replies already sent under the old policy keep its promise: what
        // is written gets an fsync whatever the new policy says.
        ctx.server.aof.fsync_soon();
    }
    let maxmemory_changed =
        updated.memory.maxmemory_bytes != ctx.server.config.memory.maxmemory_bytes;
    let previous = std::mem::replace(&mut ctx.server.config, updated);
    if maxmemory_changed {
        crate::evict::maxmemory_lowered(ctx.server, ctx.env);
    }
    if appendonly_changed {
        if let Err(error) = switch_appendonly(ctx) {
            if relisten.is_some() {
                restore_listeners(ctx, &previous);
            }
            ctx.server.config = previous;
            return Err(Error::msg(&format!(
                "ERR CONFIG SET failed (possibly related to argument 'appendonly') - {error}"
            )));
        }
    }
    ctx.out().ok();
    Ok(())
}

/// The argument a CONFIG SET must listen anew for, as Redis 7.0 decides:
/// `bind` whenever it is given, `port` when its value changes; of both, the
/// first given names a failure (Redis applies in argument order, and either
/// application binds the whole new set).
fn relisten_argument(given: &[String], current: &Config, updated: &Config) -> Option<&'static str> {
    given.iter().find_map(|name| match name.as_str() {
        "bind" => Some("bind"),
        "port" if updated.port != current.port => Some("port"),
        _ => None,
    })
}

/// Redis 7.0's words when listening anew failed (config.c, `updatePort`
/// and `applyBind`).
fn listen_error(argument: &str) -> &'static str {
    if argument == "port" {
        "Unable to listen on this port. Check server logs."
    } else {
        "Failed to bind to specified addresses."
    }
}

/// Goes back to listening where `previous` says, after a later step of the
/// same CONFIG SET failed.
fn restore_listeners(ctx: &mut Ctx<'_>, previous: &Config) {
    if let Err(error) = ctx.env.listen(&previous.bind, previous.port) {
        ctx.env.log(
            LogLevel::Warning,
            &format!("Failed applying restored failed CONFIG SET command: {error}"),
        );
    }
}

/// Applies a changed `appendonly`: on writes a fresh BASE from memory
/// first, off writes what is buffered and closes the file.
fn switch_appendonly(ctx: &mut Ctx<'_>) -> Result<(), String> {
    if ctx.server.config.appendonly && ctx.server.in_exec {
        // The BASE must hold the transaction exactly once: after it.
        ctx.server.aof_start_deferred = true;
        Ok(())
    } else if ctx.server.config.appendonly {
        ctx.server.aof_start_deferred = false;
        ctx.server.start_aof(ctx.env)
    } else {
        ctx.server.aof_start_deferred = false;
        ctx.server.stop_aof(ctx.env);
        Ok(())
    }
}

fn config_resetstat(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.server.stats.reset();
    ctx.out().ok();
    Ok(())
}

/// CONFIG REWRITE: the config file the server started with, rewritten in
/// place (see `config::rewrite`) and replaced atomically.
fn config_rewrite(ctx: &mut Ctx<'_>) -> Outcome {
    let path = ctx.server.config.config_file.clone();
    if path.is_empty() {
        return Err(Error::msg(
            "ERR The server is running without a config file",
        ));
    }
    let result = read_config_file(ctx.env, &path).and_then(|old| {
        let text = crate::config::rewrite::rewrite(&ctx.server.config, &old);
        replace_file(ctx.env, &path, text.as_bytes())
    });
    match result {
        Ok(()) => {
            ctx.env
                .log(LogLevel::Warning, "CONFIG REWRITE executed with success.");
            ctx.out().ok();
            Ok(())
        }
        Err(error) => {
            let reason = os_error_text(&error);
            ctx.env.log(
                LogLevel::Warning,
                &format!("CONFIG REWRITE failed: {reason}"),
            );
            Err(Error::msg(&format!("ERR Rewriting config file: {reason}")))
        }
    }
}

/// Largest config file CONFIG REWRITE reads.
const CONFIG_FILE_BYTES_MAX: u64 = 64 << 20;

/// The config file's text; empty if it is gone (the rewrite creates it, as
/// Redis's does).
fn read_config_file(env: &mut dyn Env, path: &str) -> std::io::Result<String> {
    let file = match env.open(path, crate::env::OpenMode::Read) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(e),
    };
    let result = read_whole(env, file);
    let _ = env.close_file(file);
    result.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

fn read_whole(env: &mut dyn Env, file: crate::env::FileId) -> std::io::Result<Vec<u8>> {
    let size = env.size(file)?;
    if size > CONFIG_FILE_BYTES_MAX {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "File too large",
        ));
    }
    let mut bytes = vec![0; size as usize];
    let mut done = 0;
    while done < bytes.len() {
        match env.read_at(file, done as u64, &mut bytes[done..])? {
            0 => break,
            n => done += n,
        }
    }
    bytes.truncate(done);
    Ok(bytes)
}

/// Replaces `path` with `data` atomically, as Redis's
/// `rewriteConfigOverwriteFile`: a temp file beside it written and
/// fsynced, renamed over it, and the directory fsynced. On an error the
/// temp file is removed and `path` is untouched.
fn replace_file(env: &mut dyn Env, path: &str, data: &[u8]) -> std::io::Result<()> {
    let temp = format!("{path}.rewrite-{}", env.process_id());
    let file = env.open(&temp, crate::env::OpenMode::CreateTruncate)?;
    let written = write_all(env, file, data).and_then(|()| env.fsync(file));
    let closed = env.close_file(file);
    let result = written
        .and(closed)
        .and_then(|()| env.rename(&temp, path))
        .and_then(|()| {
            let dir = match path.rfind('/') {
                Some(0) => "/",
                Some(at) => &path[..at],
                None => ".",
            };
            env.fsync_dir(dir)
        });
    if result.is_err() {
        let _ = env.remove(&temp);
    }
    result
}

fn write_all(env: &mut dyn Env, file: crate::env::FileId, mut data: &[u8]) -> std::io::Result<()> {
    while !data.is_empty() {
        match env.write(file, data)? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => data = &data[n..],
        }
    }
    Ok(())
}

/// An I/O error as `strerror` says it, without Rust's " (os error N)".
fn os_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn config_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

fn time(ctx: &mut Ctx<'_>) -> Outcome {
    let micros = ctx.env.wall_us();
    let out = ctx.out();
    out.array(2);
    out.bulk_i64(micros.div_euclid(1_000_000));
    out.bulk_i64(micros.rem_euclid(1_000_000));
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>) -> Outcome {
    let seconds = ctx.server.lastsave_s;
    ctx.out().int(seconds);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]. On success there is no
/// reply: the connection closes as the server exits. With lagging
/// replicas the client waits for them first (see `crate::shutdown`).
fn shutdown(ctx: &mut Ctx<'_>) -> Outcome {
    let (mut abort, mut save, mut nosave) = (false, false, false);
    let mut flags = ShutdownFlags::default();
    for i in 1..ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "NOSAVE" => nosave = true,
            "SAVE" => save = true,
            "NOW" => flags.now = true,
            "FORCE" => flags.force = true,
            "ABORT" => abort = true,
            _ => return Err(Error::msg(ERR_SYNTAX)),
        }
    }
    if (abort && ctx.argv.len() > 2) || (save && nosave) {
        return Err(Error::msg(ERR_SYNTAX));
    }
    if abort {
        if !ctx.server.abort_shutdown(ctx.env) {
            return Err(Error::msg("ERR No shutdown in progress."));
        }
        ctx.out().ok();
        return Ok(());
    }
    if !flags.now && !ctx.may_block {
        return Err(Error::msg(
            "ERR SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client",
        ));
    }
    flags.save = match (save, nosave) {
        (_, true) => Some(false),
        (true, _) => Some(true),
        _ => None,
    };
    match ctx
        .server
        .begin_shutdown(ctx.env, ShutdownReason::Command, flags)
    {
        ShutdownStart::Exiting => Ok(()),
        ShutdownStart::Waiting => {
            let conn = ctx.client.id;
            if let Some(wait) = ctx.server.shutdown_wait.as_mut() {
                wait.clients.push(conn);
            }
            ctx.block_on(Vec::new(), 0);
            Ok(())
        }
        ShutdownStart::Refused => Err(Error::msg(ERR_SHUTDOWN_FAILED)),
    }
}

fn save(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.server.save_now(ctx.env) {
        Ok(()) => ctx.out().ok(),
        Err(error) => ctx.error(&error),
    }
    Ok(())
}

fn bgsave(ctx: &mut Ctx<'_>) -> Outcome {
    let schedule = match ctx.argv.len() {
        1 => false,
        2 if ctx.keyword(1) == "SCHEDULE" => true,
        _ => return Err(Error::msg(ERR_SYNTAX)),
    };
    match ctx.server.bgsave(ctx.env, schedule) {
        Ok(Started::Now) => ctx.out().simple("Background saving started"),
        Ok(Started::Scheduled) => ctx.out().simple("Background saving scheduled"),
        Err(error) => ctx.error(&error),
    }
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.server.bgrewriteaof(ctx.env) {
        Ok(Started::Now) => ctx
            .out()
            .simple("Background append only file rewriting started"),
        Ok(Started::Scheduled) => ctx
            .out()
            .simple("Background append only file rewriting scheduled"),
        Err(error) => ctx.error(&error),
    }
    Ok(())
}

/// Redis's ACL categories for a command, derived from its flags and group.
fn acl_categories(spec: &CommandSpec) -> Vec<&'static str> {
    let flagged = |f: u32| spec.flags & f != 0;
    let group = |name: &str| spec.group == name;
    // In the order of Redis's category bits, as COMMAND INFO lists them.
    [
        (group("generic"), "@keyspace"),
        (flagged(flag::READONLY), "@read"),
        (flagged(flag::WRITE), "@write"),
        (group("set"), "@set"),
        (group("sorted-set"), "@sortedset"),
        (group("list"), "@list"),
        (group("hash"), "@hash"),
        (group("string"), "@string"),
        (group("bitmap"), "@bitmap"),
        (flagged(flag::PUBSUB), "@pubsub"),
        (flagged(flag::ADMIN), "@admin"),
        (flagged(flag::FAST), "@fast"),
        (!flagged(flag::FAST), "@slow"),
        (flagged(flag::BLOCKING), "@blocking"),
        (flagged(flag::ADMIN), "@dangerous"),
        (group("connection"), "@connection"),
        (group("transactions"), "@transaction"),
    ]
    .into_iter()
    .filter(|(applies, _)| *applies)
    .map(|(_, name)| name)
    .collect()
}

/// One COMMAND INFO entry: Redis 7.0's ten fields.
fn write_command_info(out: &mut Out, spec: &CommandSpec, full_name: &str) {
    out.array(10);
    out.bulk(full_name.as_bytes());
    out.int(spec.arity as i64);
    let mut names: Vec<&str> = flag::NAMES
        .iter()
        .filter(|(f, _)| spec.flags & f != 0)
        .map(|(_, n)| *n)
        .collect();
    if spec.movable.is_some() {
        names.push("movablekeys");
    }
    out.set(names.len());
    for name in names {
        out.simple(name);
    }
    out.int(spec.keys.0 as i64);
    out.int(spec.keys.1 as i64);
    out.int(spec.keys.2 as i64);
    let categories = acl_categories(spec);
    out.set(categories.len());
    for category in categories {
        out.simple(category);
    }
    out.set(0);
    write_key_specs(out, spec);
    out.array(spec.subcommands.len());
    for sub in spec.subcommands {
        write_command_info(out, sub, &format!("{full_name}|{}", sub.name));
    }
}

/// Key specs equivalent to the (first, last, step) triple.
fn write_key_specs(out: &mut Out, spec: &CommandSpec) {
    let (first, last, step) = spec.keys;
    if first == 0 {
        out.array(0);
        return;
    }
    out.array(1);
    out.map(3);
    out.bulk(b"flags");
    out.set(1);
    out.simple(if spec.is_write() { "RW" } else { "RO" });
    out.bulk(b"begin_search");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"index");
    out.bulk(b"spec");
    out.map(1);
    out.bulk(b"index");
    out.int(first as i64);
    out.bulk(b"find_keys");
    out.map(2);
    out.bulk(b"type");
    out.bulk(b"range");
    out.bulk(b"spec");
    out.map(3);
    out.bulk(b"lastkey");
    out.int(if last < 0 {
        last as i64
    } else {
        (last - first) as i64
    });
    out.bulk(b"keystep");
    out.int(step as i64);
    out.bulk(b"limit");
    out.int(0);
}

fn command_all(ctx: &mut Ctx<'_>) -> Outcome {
    let all = commands(&ctx.server.config).all();
    let out = &mut ctx.client.out;
    out.array(all.len());
    for spec in all {
        write_command_info(out, spec, spec.name);
    }
    Ok(())
}

fn command_count(ctx: &mut Ctx<'_>) -> Outcome {
    let count = commands(&ctx.server.config).all().len();
    ctx.out().int(count as i64);
    Ok(())
}

fn command_list(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.argv.len() > 2 {
        return Err(Error::msg(ERR_SYNTAX));
    }
    let all = commands(&ctx.server.config).all();
    let out = &mut ctx.client.out;
    out.array(all.len());
    for spec in all {
        out.bulk(spec.name.as_bytes());
    }
    Ok(())
}

/// Finds a command or a `container|sub` name among those `commands`
/// answers to; a renamed command is reported under its own name, as Redis
/// reports it.
fn lookup(commands: Commands<'_>, name: &[u8]) -> Option<(&'static CommandSpec, String)> {
    let text = String::from_utf8_lossy(name).to_ascii_lowercase();
    match text.split_once('|') {
        None => commands.get(name).map(|spec| (spec, spec.name.to_string())),
        Some((container, sub)) => {
            let parent = commands.get(container.as_bytes())?;
            let spec = parent.subcommands.iter().find(|s| s.name == sub)?;
            Some((spec, format!("{}|{}", parent.name, spec.name)))
        }
    }
}

fn command_info(ctx: &mut Ctx<'_>) -> Outcome {
    let names = &ctx.argv[2..];
    if names.is_empty() {
        return command_all(ctx);
    }
    let commands = commands(&ctx.server.config);
    let out = &mut ctx.client.out;
    out.array(names.len());
    for name in names {
        match lookup(commands, name) {
            Some((spec, full_name)) => write_command_info(out, spec, &full_name),
            // Redis's addReplyNull: `$-1` in RESP2.
            None => out.null(),
        }
    }
    Ok(())
}

fn write_docs(out: &mut Out, spec: &CommandSpec, full_name: &str) {
    out.bulk(full_name.as_bytes());
    let has_subcommands = !spec.subcommands.is_empty();
    out.map(4 + has_subcommands as usize);
    for (field, value) in [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ] {
        out.bulk(field.as_bytes());
        out.bulk(value.as_bytes());
    }
    if has_subcommands {
        out.bulk(b"subcommands");
        out.map(spec.subcommands.len());
        for sub in spec.subcommands {
            write_docs(out, sub, &format!("{full_name}|{}", sub.name));
        }
    }
}

fn command_docs(ctx: &mut Ctx<'_>) -> Outcome {
    let commands = commands(&ctx.server.config);
    let found: Vec<(&'static CommandSpec, String)> = if ctx.argv.len() == 2 {
        commands
            .all()
            .iter()
            .map(|spec| (*spec, spec.name.to_string()))
            .collect()
    } else {
        ctx.argv[2..]
            .iter()
            .filter_map(|name| lookup(commands, name))
            .collect()
    };
    let out = ctx.out();
    out.map(found.len());
    for (spec, full_name) in found {
        write_docs(out, spec, &full_name);
    }
    Ok(())
}

fn command_getkeys(ctx: &mut Ctx<'_>) -> Outcome {
    let argv = &ctx.argv[2..];
    let resolved = match commands(&ctx.server.config).resolve(argv) {
        Ok(resolved) => resolved,
        Err(error) if error.starts_with("ERR wrong number of arguments") => {
            return Err(Error::msg(
                "ERR Invalid number of arguments specified for command",
            ))
        }
        Err(_) => return Err(Error::msg("ERR Invalid command specified")),
    };
    let positions = resolved.spec.key_positions(argv);
    if positions.is_empty() {
        let reason = match resolved.spec.movable {
            Some(_) => "ERR Invalid arguments specified for command",
            None => "ERR The command has no key arguments",
        };
        return Err(Error::msg(reason));
    }
    let keys: Vec<&Vec<u8>> = positions.iter().map(|&at| &argv[at]).collect();
    let out = &mut ctx.client.out;
    out.array(keys.len());
    for key in keys {
        out.bulk(key);
    }
    Ok(())
}

fn command_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "COMMAND",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
    Ok(())
}
