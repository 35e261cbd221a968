//! MEMORY: USAGE, how many bytes a key and its value take, estimated from
//! their sizes as stored (redoubt's allocator reports no per-allocation
//! sizes; tools and Redis's own tests read this for comparisons); STATS,
//! where the memory goes, with Redis's field names; DOCTOR, a short report
//! on what STATS shows; MALLOC-STATS and PURGE, answered as Redis answers
//! them when it is not built on jemalloc.

use super::connection::help_lines;
use super::flag::READONLY;
use super::{help_subcommand, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Value;
use crate::resp::parse_i64;

const GROUP: &str = "server";

pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("memory", -2, 0, super::connection::container_help)
            .doc(
                GROUP,
                "4.0.0",
                "A container for memory diagnostics commands.",
                "Depends on subcommand.",
            )
            .subs(SUBCOMMANDS),
    ];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, READONLY, usage).key(2).doc(
        GROUP,
        "4.0.0",
        "Estimates the memory usage of a key.",
        "O(N) where N is the number of samples.",
    ),
    CommandSpec::new("stats", 2, 0, stats).doc(
        GROUP,
        "4.0.0",
        "Returns details about memory usage.",
        "O(1)",
    ),
    CommandSpec::new("doctor", 2, 0, doctor).doc(
        GROUP,
        "4.0.0",
        "Outputs a memory problems report.",
        "O(1)",
    ),
    CommandSpec::new("malloc-stats", 2, 0, malloc_stats).doc(
        GROUP,
        "4.0.0",
        "Returns the allocator statistics.",
        "Depends on how much memory is allocated, could be slow",
    ),
    CommandSpec::new("purge", 2, 0, purge).doc(
        GROUP,
        "4.0.0",
        "Asks the allocator to release memory.",
        "Depends on how much memory is allocated, could be slow",
    ),
    help_subcommand(GROUP, "4.0.0", help),
];

/// Elements MEMORY USAGE looks at in a collection by default.
const SAMPLES_DEFAULT: usize = 5;
/// Bytes of a key's entry in its database: the table slot, the entry and
/// the value's header.
const KEY_OVERHEAD_BYTES: usize = 56;
/// Bytes an element of a large collection costs beyond its own bytes.
const ELEMENT_OVERHEAD_BYTES: usize = 40;

/// MEMORY USAGE key [SAMPLES count]: the estimated bytes, or null for a
/// missing key. A collection in its large form is estimated from `count`
/// elements (0: all of them).
fn usage(ctx: &mut Ctx<'_>) -> Outcome {
    let mut samples = SAMPLES_DEFAULT;
    let mut i = 3;
    while i < ctx.argv.len() {
        if !ctx.arg(i).eq_ignore_ascii_case(b"SAMPLES") || i + 1 >= ctx.argv.len() {
            return Err(ERR_SYNTAX.into());
        }
        let count = parse_i64(ctx.arg(i + 1)).ok_or(Error::from(ERR_NOT_INTEGER))?;
        if count < 0 {
            return Err(ERR_SYNTAX.into());
        }
        samples = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        i += 2;
    }
    let key = ctx.arg(2);
    let now = ctx.now_ms;
    let bytes = ctx
        .db()
        .get(key, now)
        .map(|value| KEY_OVERHEAD_BYTES + key.len() + value_bytes(value, samples));
    match bytes {
        Some(bytes) => ctx.out().int(bytes as i64),
        None => ctx.out().null(),
    }
    Ok(())
}

/// A value's estimated bytes: compact forms by their exact size, large
/// ones from the average of `samples` elements.
fn value_bytes(value: &Value, samples: usize) -> usize {
    let extrapolate = |sizes: Vec<usize>, len: usize| -> usize {
        if sizes.is_empty() {
            return 0;
        }
        let average = sizes.iter().sum::<usize>() / sizes.len();
        (average + ELEMENT_OVERHEAD_BYTES) * len
    };
    match value {
        Value::String(bytes) => bytes.len(),
        Value::List(list) => list
            .nodes()
            .map(|node| node.byte_len() + ELEMENT_OVERHEAD_BYTES)
            .sum(),
        Value::Hash(hash) => match hash.as_listpack() {
            Some(listpack) => listpack.byte_len(),
            None => {
                let sizes = hash
                    .iter()
                    .take(samples)
                    .map(|(f, v)| f.text_len() + v.text_len())
                    .collect();
                extrapolate(sizes, hash.len())
            }
        },
        Value::Set(set) => match set.as_intset() {
            Some(intset) => intset.byte_len(),
            None => extrapolate(
                set.iter().take(samples).map(|m| m.len()).collect(),
                set.len(),
            ),
        },
        Value::ZSet(zset) => match zset.as_listpack() {
            Some(listpack) => listpack.byte_len(),
            None => extrapolate(
                zset.iter()
                    .take(samples)
                    .map(|(m, _)| m.len() + 8)
                    .collect(),
                zset.len(),
            ),
        },
    }
}

fn help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}

/// Bytes of a table entry and of a bucket pointer, as Redis's
/// `dictEntry` and bucket array cost them: the per-key overhead MEMORY
/// STATS reports for a database's tables.
const TABLE_ENTRY_BYTES: u64 = 24;
const TABLE_BUCKET_BYTES: u64 = 8;
/// Below this much memory MEMORY DOCTOR has nothing to say.
const DOCTOR_EMPTY_BYTES: u64 = 5 << 20;

/// Where the memory goes, as MEMORY STATS reports it.
struct Overhead {
    peak: u64,
    total: u64,
    startup: u64,
    backlog: u64,
    replicas: u64,
    normal: u64,
    aof_buffer: u64,
    lua: u64,
    functions: u64,
    /// Per non-empty database: (index, main table bytes, expires table
    /// bytes).
    dbs: Vec<(usize, u64, u64)>,
    keys: u64,
    resident: u64,
}

/// A table of `entries` keys: its entries and its buckets (a power of two).
fn table_bytes(entries: usize) -> u64 {
    if entries == 0 {
        return 0;
    }
    entries as u64 * TABLE_ENTRY_BYTES + entries.next_power_of_two() as u64 * TABLE_BUCKET_BYTES
}

impl Overhead {
    fn measure(ctx: &Ctx<'_>) -> Self {
        let server = &*ctx.server;
        let dataset = server.keyspace.dataset_bytes();
        let total = ctx.env.used_memory_bytes(dataset);
        let client_bytes = |c: &crate::client::Client| {
            (c.query.capacity() + c.out.buf.capacity()) as u64 + ctx.env.backlog_bytes(c.id)
        };
        let (replicas, normal) = server.all_clients(ctx.client).into_iter().fold(
            (0, 0),
            |(replicas, normal), c| match c.is_replica {
                true => (replicas + client_bytes(c), normal),
                false => (replicas, normal + client_bytes(c)),
            },
        );
        let dbs = server
            .keyspace
            .dbs
            .iter()
            .enumerate()
            .filter(|(_, db)| !db.is_empty())
            .map(|(index, db)| (index, table_bytes(db.len()), table_bytes(db.expires_len())))
            .collect();
        Overhead {
            peak: ctx.env.used_memory_peak_bytes(dataset).max(total),
            total,
            startup: server.startup_memory_bytes,
            backlog: server.repl.backlog.as_ref().map_or(0, |b| b.capacity()),
            replicas,
            normal,
            aof_buffer: server.aof.buffer.capacity() as u64,
            lua: server.scripts.bodies_bytes() as u64,
            functions: server
                .keyspace
                .functions
                .iter()
                .map(|(name, code)| (name.len() + code.len()) as u64)
                .sum(),
            dbs,
            keys: server.keyspace.dbs.iter().map(|db| db.len() as u64).sum(),
            resident: ctx.env.resident_bytes(dataset),
        }
    }

    fn overhead_total(&self) -> u64 {
        let tables: u64 = self
            .dbs
            .iter()
            .map(|&(_, main, expires)| main + expires)
            .sum();
        self.startup
            + self.backlog
            + self.replicas
            + self.normal
            + self.aof_buffer
            + self.lua
            + self.functions
            + tables
    }
}

/// `a / b` as a ratio, 0 when `b` is 0.
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// MEMORY STATS: Redis's fields, from the allocator's count of used bytes
/// (`total.allocated`), the process's resident size and what core knows of
/// clients, buffers, scripts and tables. Without jemalloc, as Redis then
/// does, the allocator's own figures are the used bytes (allocated) and the
/// resident size less the Lua heap (active and resident).
fn stats(ctx: &mut Ctx<'_>) -> Outcome {
    let m = Overhead::measure(ctx);
    let overhead = m.overhead_total();
    let net = m.total.saturating_sub(m.startup);
    let dataset = m.total.saturating_sub(overhead);
    let lua_heap = ctx.server.scripts.lua_bytes() as u64;
    let allocator_resident = m.resident.saturating_sub(lua_heap);
    let allocator_allocated = m.total;
    let signed = |a: u64, b: u64| a as i64 - b as i64;
    let out = ctx.out();
    out.map(25 + m.dbs.len());
    let int = |out: &mut crate::resp::Out, name: &str, value: i64| {
        out.bulk(name.as_bytes());
        out.int(value);
    };
    let double = |out: &mut crate::resp::Out, name: &str, value: f64| {
        out.bulk(name.as_bytes());
        out.double(value);
    };
    int(out, "peak.allocated", m.peak as i64);
    int(out, "total.allocated", m.total as i64);
    int(out, "startup.allocated", m.startup as i64);
    int(out, "replication.backlog", m.backlog as i64);
    int(out, "clients.slaves", m.replicas as i64);
    int(out, "clients.normal", m.normal as i64);
    int(out, "cluster.links", 0);
    int(out, "aof.buffer", m.aof_buffer as i64);
    int(out, "lua.caches", m.lua as i64);
    int(out, "functions.caches", m.functions as i64);
    for &(index, main, expires) in &m.dbs {
        out.bulk(format!("db.{index}").as_bytes());
        out.map(3);
        int(out, "overhead.hashtable.main", main as i64);
        int(out, "overhead.hashtable.expires", expires as i64);
        int(out, "overhead.hashtable.slot-to-keys", 0);
    }
    int(out, "overhead.total", overhead as i64);
    int(out, "keys.count", m.keys as i64);
    int(
        out,
        "keys.bytes-per-key",
        net.checked_div(m.keys).unwrap_or(0) as i64,
    );
    int(out, "dataset.bytes", dataset as i64);
    double(out, "dataset.percentage", ratio(dataset * 100, net));
    double(out, "peak.percentage", ratio(m.total * 100, m.peak));
    int(out, "allocator.allocated", allocator_allocated as i64);
    int(out, "allocator.active", allocator_resident as i64);
    int(out, "allocator.resident", allocator_resident as i64);
    double(
        out,
        "allocator-fragmentation.ratio",
        ratio(allocator_resident, allocator_allocated),
    );
    int(
        out,
        "allocator-fragmentation.bytes",
        signed(allocator_resident, allocator_allocated),
    );
    double(
        out,
        "allocator-rss.ratio",
        ratio(allocator_resident, allocator_resident),
    );
    int(out, "allocator-rss.bytes", 0);
    double(
        out,
        "rss-overhead.ratio",
        ratio(m.resident, allocator_resident),
    );
    int(
        out,
        "rss-overhead.bytes",
        signed(m.resident, allocator_resident),
    );
    double(out, "fragmentation", ratio(m.resident, m.total));
    int(out, "fragmentation.bytes", signed(m.resident, m.total));
    Ok(())
}

/// MEMORY DOCTOR: what in MEMORY STATS deserves a look (a peak far above
/// the current use, a resident size far above it, large client buffers),
/// or that nothing does.
fn doctor(ctx: &mut Ctx<'_>) -> Outcome {
    let m = Overhead::measure(ctx);
    let report = doctor_report(&m, ctx.server.all_clients(ctx.client).len() as u64);
    ctx.out().verbatim(report.as_bytes());
    Ok(())
}

fn doctor_report(m: &Overhead, clients: u64) -> String {
    if m.total < DOCTOR_EMPTY_BYTES {
        return format!(
            "This instance uses {} bytes, too little for a memory report to mean anything. Ask again once it holds some data.\n",
            m.total
        );
    }
    let mut issues = Vec::new();
    if m.peak > m.total / 2 * 3 {
        issues.push(format!(
            "* Peak memory: the peak ({} bytes) is more than 150% of the memory used now ({} bytes). What was freed since may not all have gone back to the system.",
            m.peak, m.total
        ));
    }
    let fragmented = m.resident.saturating_sub(m.total);
    if ratio(m.resident, m.total) > 1.4 && fragmented > 10 << 20 {
        issues.push(format!(
            "* High fragmentation: the process holds {} resident bytes for {} used ({:.2} times as much).",
            m.resident,
            m.total,
            ratio(m.resident, m.total)
        ));
    }
    if clients > 0 && m.normal / clients > 200 << 10 {
        issues.push(format!(
            "* Big client buffers: clients use {} bytes of buffers, {} on average. Look for large replies or pipelines (CLIENT LIST shows qbuf and omem).",
            m.normal,
            m.normal / clients
        ));
    }
    if issues.is_empty() {
        return "No memory problem found: the peak, the resident size and the client buffers are all in proportion to the memory used.\n".to_string();
    }
    format!("Memory report:\n\n{}\n", issues.join("\n"))
}

/// MEMORY MALLOC-STATS: the allocator keeps no report to give, and Redis
/// not built on jemalloc says so.
fn malloc_stats(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.out()
        .bulk(b"Stats not supported for the current allocator");
    Ok(())
}

/// MEMORY PURGE: nothing to ask of the allocator; OK, as Redis answers
/// when not on jemalloc.
fn purge(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.out().ok();
    Ok(())
}
