//! The operator's observability commands: SLOWLOG, LATENCY and MONITOR.
//! Their state (the slow log, the latency series, the MONITOR clients)
//! lives in `crate::observe`, and `cmd::call` feeds it after each command.

use super::connection::help_lines;
use super::{flag, help_subcommand, table, CommandSpec, Ctx, Error, Outcome};
use crate::observe::{latency_graph, LatencySeries};

const GROUP: &str = "server";
const ADMIN: u32 = flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE;
/// SLOWLOG's subcommands may run from scripts, as in Redis.
const SLOWLOG_FLAGS: u32 = flag::ADMIN | flag::LOADING | flag::STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("slowlog", -2, 0, super::connection::container_help)
        .doc(
            GROUP,
            "2.2.12",
            "A container for slow log commands.",
            "Depends on subcommand.",
        )
        .subs(SLOWLOG_SUBCOMMANDS),
    CommandSpec::new("latency", -2, 0, super::connection::container_help)
        .doc(
            GROUP,
            "2.8.13",
            "A container for latency diagnostics commands.",
            "Depends on subcommand.",
        )
        .subs(LATENCY_SUBCOMMANDS),
    CommandSpec::new("monitor", 1, ADMIN, monitor).doc(
        GROUP,
        "1.0.0",
        "Listens for all requests received by the server in real-time.",
        "",
    ),
];

const SLOWLOG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, SLOWLOG_FLAGS, slowlog_get).doc(
        GROUP,
        "2.2.12",
        "Returns the slow log's entries.",
        "O(N) where N is the number of entries returned",
    ),
    CommandSpec::new("len", 2, SLOWLOG_FLAGS, slowlog_len).doc(
        GROUP,
        "2.2.12",
        "Returns the number of entries in the slow log.",
        "O(1)",
    ),
    CommandSpec::new("reset", 2, SLOWLOG_FLAGS, slowlog_reset).doc(
        GROUP,
        "2.2.12",
        "Clears all entries from the slow log.",
        "O(N) where N is the number of entries in the slowlog",
    ),
    help_subcommand(GROUP, "6.2.0", slowlog_help),
];

const LATENCY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, ADMIN, latency_doctor).doc(
        GROUP,
        "2.8.13",
        "Returns a human-readable latency analysis report.",
        "O(1)",
    ),
    CommandSpec::new("graph", 3, ADMIN, latency_graph_command).doc(
        GROUP,
        "2.8.13",
        "Returns a latency graph for an event.",
        "O(1)",
    ),
    CommandSpec::new("histogram", -2, ADMIN, latency_histogram).doc(
        GROUP,
        "7.0.0",
        "Returns the cumulative distribution of latencies of a subset or all commands.",
        "O(N) where N is the number of commands with latency information being retrieved.",
    ),
    CommandSpec::new("history", 3, ADMIN, latency_history).doc(
        GROUP,
        "2.8.13",
        "Returns timestamp-latency samples for an event.",
        "O(1)",
    ),
    CommandSpec::new("latest", 2, ADMIN, latency_latest).doc(
        GROUP,
        "2.8.13",
        "Returns the latest latency samples for all events.",
        "O(1)",
    ),
    CommandSpec::new("reset", -2, ADMIN, latency_reset).doc(
        GROUP,
        "2.8.13",
        "Resets the latency data for one or more events.",
        "O(1)",
    ),
    help_subcommand(GROUP, "2.8.13", latency_help),
];

/// Redis's reply to a subcommand given the wrong number of arguments by a
/// command that checks them itself.
fn subcommand_syntax_error(ctx: &Ctx<'_>, command: &str) -> Error {
    let word: String = String::from_utf8_lossy(&ctx.argv[1])
        .chars()
        .take(128)
        .collect();
    Error::from(format!(
        "ERR unknown subcommand or wrong number of arguments for '{word}'. Try {command} HELP."
    ))
}

/// SLOWLOG GET [count]: the newest `count` entries (10 by default, -1 for
/// all), each `[id, unix time, microseconds, [args...], addr, name]`.
/// Errors: `ERR count should be greater than or equal to -1`.
fn slowlog_get(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.argv.len() > 3 {
        return Err(subcommand_syntax_error(ctx, "SLOWLOG"));
    }
    let mut count = 10usize;
    if ctx.argv.len() == 3 {
        let message = "ERR count should be greater than or equal to -1";
        count = match ctx.range_arg(2, -1, i64::MAX, Some(message))? {
            -1 => usize::MAX,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
    }
    let slowlog = &ctx.server.observe.slowlog;
    let out = &mut ctx.client.out;
    out.array(slowlog.len().min(count));
    for entry in slowlog.entries().take(count) {
        out.array(6);
        out.int(entry.id as i64);
        out.int(entry.time_s);
        out.int(entry.duration_us as i64);
        out.array(entry.argv.len());
        for arg in &entry.argv {
            out.bulk(arg);
        }
        out.bulk(entry.addr.as_bytes());
        out.bulk(&entry.name);
    }
    Ok(())
}

/// SLOWLOG LEN: how many entries the slow log holds.
fn slowlog_len(ctx: &mut Ctx<'_>) -> Outcome {
    let len = ctx.server.observe.slowlog.len();
    ctx.out().int(len as i64);
    Ok(())
}

/// SLOWLOG RESET: empties the slow log.
fn slowlog_reset(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.server.observe.slowlog.reset();
    ctx.out().ok();
    Ok(())
}

fn slowlog_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "SLOWLOG",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

/// The latency samples the AOF recorded since the last look are moved into
/// the monitor first, so every LATENCY subcommand sees them.
fn take_pending_samples(ctx: &mut Ctx<'_>) {
    let threshold_ms = ctx.server.config.latency_monitor_threshold_ms;
    for (event, time_s, latency_ms) in ctx.server.aof.latency_samples.drain(..) {
        ctx.server
            .observe
            .latency
            .add_if_needed(threshold_ms, event, latency_ms, time_s);
    }
}

/// LATENCY LATEST: for each event, `[name, unix time of the latest sample,
/// its milliseconds, the all-time worst]`.
fn latency_latest(ctx: &mut Ctx<'_>) -> Outcome {
    take_pending_samples(ctx);
    let latency = &ctx.server.observe.latency;
    let out = &mut ctx.client.out;
    let events: Vec<(&str, &LatencySeries)> = latency.events().collect();
    out.array(events.len());
    for (name, series) in events {
        let latest = series.latest();
        out.array(4);
        out.bulk(name.as_bytes());
        out.int(latest.time_s);
        out.int(latest.latency_ms as i64);
        out.int(series.max_ms as i64);
    }
    Ok(())
}

/// LATENCY HISTORY event: `[unix time, milliseconds]` for each sample held,
/// oldest first; empty for an event with none.
fn latency_history(ctx: &mut Ctx<'_>) -> Outcome {
    take_pending_samples(ctx);
    let samples = ctx
        .server
        .observe
        .latency
        .series(&ctx.argv[2])
        .map(LatencySeries::history)
        .unwrap_or_default();
    let out = &mut ctx.client.out;
    out.array(samples.len());
    for sample in samples {
        out.array(2);
        out.int(sample.time_s);
        out.int(sample.latency_ms as i64);
    }
    Ok(())
}

/// LATENCY GRAPH event: the ASCII chart of the event's samples. Errors:
/// `ERR No samples available for event '<event>'`.
fn latency_graph_command(ctx: &mut Ctx<'_>) -> Outcome {
    take_pending_samples(ctx);
    let event = String::from_utf8_lossy(&ctx.argv[2]).into_owned();
    let Some(series) = ctx.server.observe.latency.series(&ctx.argv[2]) else {
        return Err(format!("ERR No samples available for event '{event}'").into());
    };
    let now_s = ctx.env.wall_ms().div_euclid(1000);
    let graph = latency_graph(&event, series, now_s);
    ctx.out().verbatim(graph.as_bytes());
    Ok(())
}

/// The specs a LATENCY HISTOGRAM argument names: a command (and, for a
/// container, each of its subcommands) or `container|sub`.
fn named_specs(name: &[u8]) -> Vec<&'static CommandSpec> {
    let mut parts = name.splitn(2, |&b| b == b'|');
    let Some(spec) = parts.next().and_then(|top| table().get(top)) else {
        return Vec::new();
    };
    match parts.next() {
        Some(sub) => spec
            .subcommands
            .iter()
            .filter(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))
            .collect(),
        None => std::iter::once(spec)
            .chain(spec.subcommands.iter())
            .collect(),
    }
}

/// LATENCY HISTOGRAM [command ...]: for each command that ran (all, or
/// those named), `{calls, histogram_usec: {bound: calls up to it, ...}}`
/// over power-of-two buckets. Unknown names are skipped.
fn latency_histogram(ctx: &mut Ctx<'_>) -> Outcome {
    let commands = &ctx.server.stats.commands;
    let mut chosen: Vec<(&str, &crate::observe::CommandStat)> = if ctx.argv.len() == 2 {
        let mut all: Vec<_> = commands
            .values()
            .map(|(name, stat)| (name.as_str(), stat))
            .collect();
        all.sort_by_key(|(name, _)| *name);
        all
    } else {
        ctx.argv[2..]
            .iter()
            .flat_map(|name| named_specs(name))
            .filter_map(|spec| commands.get(&(spec as *const CommandSpec as usize)))
            .map(|(name, stat)| (name.as_str(), stat))
            .collect()
    };
    chosen.retain(|(_, stat)| stat.calls > 0);
    let out = &mut ctx.client.out;
    out.map(chosen.len());
    for (name, stat) in chosen {
        out.bulk(name.as_bytes());
        out.map(2);
        out.bulk(b"calls");
        out.int(stat.calls as i64);
        out.bulk(b"histogram_usec");
        let points = stat.cumulative_histogram();
        out.map(points.len());
        for (bound_us, calls) in points {
            out.int(bound_us as i64);
            out.int(calls as i64);
        }
    }
    Ok(())
}

/// LATENCY RESET [event ...]: forgets the named events, or all; how many
/// were forgotten.
fn latency_reset(ctx: &mut Ctx<'_>) -> Outcome {
    take_pending_samples(ctx);
    let reset = ctx.server.observe.latency.reset(&ctx.argv[2..]);
    ctx.out().int(reset as i64);
    Ok(())
}

/// LATENCY DOCTOR: a report on the events recorded, each with its spikes,
/// their average, mean deviation and period, and the worst ever; then
/// what the events usually mean.
fn latency_doctor(ctx: &mut Ctx<'_>) -> Outcome {
    take_pending_samples(ctx);
    let now_s = ctx.env.wall_ms().div_euclid(1000);
    let threshold_ms = ctx.server.config.latency_monitor_threshold_ms;
    let report = doctor_report(&ctx.server.observe.latency, threshold_ms, now_s);
    ctx.out().verbatim(report.as_bytes());
    Ok(())
}

/// The text of LATENCY DOCTOR.
fn doctor_report(latency: &crate::observe::Latency, threshold_ms: u64, now_s: i64) -> String {
    let events: Vec<(&str, &LatencySeries)> = latency.events().collect();
    if events.is_empty() {
        return if threshold_ms == 0 {
            "Latency monitoring is disabled (latency-monitor-threshold is 0), so there is nothing to report. Enable it with CONFIG SET latency-monitor-threshold <milliseconds>.\n".to_string()
        } else {
            format!("No latency spike of {threshold_ms} ms or more was recorded since the monitor was started or reset.\n")
        };
    }
    let mut report =
        format!("Latency spikes of {threshold_ms} ms or more were recorded for these events:\n\n");
    for (number, (name, series)) in events.iter().enumerate() {
        let samples = series.history();
        let count = samples.len().max(1) as u64;
        let average = samples.iter().map(|s| s.latency_ms).sum::<u64>() / count;
        let deviation = samples
            .iter()
            .map(|s| s.latency_ms.abs_diff(average))
            .sum::<u64>()
            / count;
        let oldest = samples.iter().map(|s| s.time_s).min().unwrap_or(now_s);
        let period_s = (now_s - oldest).max(1) as f64 / count as f64;
        report.push_str(&format!(
            "{}. {name}: {} latency spikes (average {average}ms, mean deviation {deviation}ms, period {period_s:.2} sec). Worst all time event {}ms.\n",
            number + 1,
            samples.len(),
            series.max_ms
        ));
    }
    report.push('\n');
    let has = |prefix: &str| events.iter().any(|(name, _)| name.starts_with(prefix));
    if has("command") || has("fast-command") {
        report.push_str("- Commands took long to run: SLOWLOG GET names them. A script's busy loop or an O(N) command over a large value holds every other client meanwhile.\n");
    }
    if has("aof-") {
        report.push_str("- Writing the append-only file was slow: the disk is busy or slow. appendfsync everysec or no waits less for it than always.\n");
    }
    report
}

fn latency_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "LATENCY",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

/// MONITOR: from now on the client receives every command the server runs
/// (see `cmd::call`), as `+<unix.micros> [<db> <addr>] "arg" ...`. A client
/// already in MONITOR mode (or a replica) gets no reply, as in Redis; one
/// whose commands must each be answered (inside EXEC) is refused.
fn monitor(ctx: &mut Ctx<'_>) -> Outcome {
    if !ctx.may_block && !ctx.server.loading {
        return Err("ERR MONITOR isn't allowed for DENY BLOCKING client".into());
    }
    if ctx.client.monitor || ctx.client.is_replica {
        return Ok(());
    }
    ctx.client.monitor = true;
    ctx.server.observe.monitors.add(ctx.client.id);
    ctx.out().ok();
    Ok(())
}
