//! Commands on keys of any type and on whole databases, Redis's `generic`
//! group and the keyspace part of its `server` group: DEL, UNLINK, EXISTS,
//! TYPE, KEYS, SCAN, RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, the EXPIRE
//! and TTL families, PERSIST, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB and OBJECT.
//!
//! It also holds what other families share about keys: [`lookup_read`],
//! which reads a key and counts a keyspace hit or miss as Redis's
//! `lookupKeyRead` does, and [`expire_time_ms`], which turns an expire
//! argument into an absolute time for EXPIRE, SET and GETEX alike.
//!
//! Commands whose replay would differ are propagated (to the AOF and
//! replicas) in Redis's absolute form: the EXPIRE family as PEXPIREAT, or
//! DEL when the time has already passed.
//!
//! Write commands count their changes with `Ctx::dirty` the way Redis counts
//! `server.dirty`: one per key deleted, renamed, copied, moved or given a
//! new expiry, the number of keys removed by a flush (plus one for
//! FLUSHALL), one per SWAPDB.

use super::connection::{container_help, help_lines};
use super::{flag, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_NO_SUCH_KEY, ERR_SYNTAX};
use crate::db::Value;
use crate::glob::glob_match;
use crate::notify::class;
use crate::resp::parse_i64;
use crate::server::Server;

const GROUP: &str = "generic";
const SERVER_GROUP: &str = "server";
const WRITE_FAST: u32 = flag::WRITE | flag::FAST;
const READ_FAST: u32 = flag::READONLY | flag::FAST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: flag::WRITE,
        keys: (1, -1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Removes one or more keys.",
        complexity: "O(N) in the number of keys removed, plus O(M) in the elements of each removed collection",
        handler: del,
        subcommands: &[],
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: WRITE_FAST,
        keys: (1, -1, 1), movable: None,
        group: GROUP,
        since: "4.0.0",
        summary: "Removes one or more keys, reclaiming their memory in the background.",
        complexity: "O(1) for each key removed; freeing the memory is O(N) in the allocations of each value, done elsewhere",
        handler: del,
        subcommands: &[],
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: READ_FAST,
        keys: (1, -1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Counts how many of the given keys exist.",
        complexity: "O(N) where N is the number of keys given",
        handler: exists,
        subcommands: &[],
    },    CommandSpec {
        name: "touch",
        arity: -2,
        flags: READ_FAST,
        keys: (1, -1, 1), movable: None,
        group: GROUP,
        since: "3.2.1",
        summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        complexity: "O(N) where N is the number of keys that will be touched.",
        handler: touch,
        subcommands: &[],
    },
    CommandSpec {
        name: "type",arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Names the type of the value a key holds.",
        complexity: "O(1)",
        handler: type_of,
        subcommands: &[],
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: flag::READONLY,
        keys: (0, 0, 0), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Lists every key that matches a glob pattern.",
        complexity: "O(N) in the number of keys in the database, for patterns and keys of limited length",
        handler: keys,
        subcommands: &[],
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: flag::READONLY,
        keys: (0, 0, 0), movable: None,
        group: GROUP,
        since: "2.8.0",
        summary: "Walks the keyspace a few keys at a time with a cursor.",
        complexity: "O(1) per call; O(N) over a complete iteration back to cursor 0",
        handler: scan,
        subcommands: &[],
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: flag::READONLY,
        keys: (0, 0, 0), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns a key picked at random.",
        complexity: "O(1)",
        handler: randomkey,
        subcommands: &[],
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: flag::WRITE,
        keys: (1, 2, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Gives a key a new name, replacing any key of that name.",
        complexity: "O(1)",
        handler: rename,
        subcommands: &[],
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: WRITE_FAST,
        keys: (1, 2, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Gives a key a new name unless that name is taken.",
        complexity: "O(1)",
        handler: renamenx,
        subcommands: &[],
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: flag::WRITE | flag::DENYOOM,
        keys: (1, 2, 1), movable: None,
        group: GROUP,
        since: "6.2.0",
        summary: "Copies a key's value and expiry to another key, possibly in another database.",
        complexity: "O(1) for strings; O(N) in the nested items of a collection",
        handler: copy,
        subcommands: &[],
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Moves a key to another database.",
        complexity: "O(1)",
        handler: move_key,
        subcommands: &[],
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Gives a key a time to live in seconds.",
        complexity: "O(1)",
        handler: expire,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "2.6.0",
        summary: "Gives a key a time to live in milliseconds.",
        complexity: "O(1)",
        handler: pexpire,
        subcommands: &[],
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "1.2.0",
        summary: "Makes a key expire at a Unix time in seconds.",
        complexity: "O(1)",
        handler: expireat,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "2.6.0",
        summary: "Makes a key expire at a Unix time in milliseconds.",
        complexity: "O(1)",
        handler: pexpireat,
        subcommands: &[],
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns a key's remaining time to live in seconds.",
        complexity: "O(1)",
        handler: ttl,
        subcommands: &[],
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "2.6.0",
        summary: "Returns a key's remaining time to live in milliseconds.",
        complexity: "O(1)",
        handler: pttl,
        subcommands: &[],
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "7.0.0",
        summary: "Returns the Unix time in seconds at which a key expires.",
        complexity: "O(1)",
        handler: expiretime,
        subcommands: &[],
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "7.0.0",
        summary: "Returns the Unix time in milliseconds at which a key expires.",
        complexity: "O(1)",
        handler: pexpiretime,
        subcommands: &[],
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: WRITE_FAST,
        keys: (1, 1, 1), movable: None,
        group: GROUP,
        since: "2.2.0",
        summary: "Removes a key's time to live.",
        complexity: "O(1)",
        handler: persist,
        subcommands: &[],
    },
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: READ_FAST,
        keys: (0, 0, 0), movable: None,
        group: SERVER_GROUP,
        since: "1.0.0",
        summary: "Counts the keys in the selected database.",
        complexity: "O(1)",
        handler: dbsize,
        subcommands: &[],
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: flag::WRITE,
        keys: (0, 0, 0), movable: None,
        group: SERVER_GROUP,
        since: "1.0.0",
        summary: "Removes every key from the selected database.",
        complexity: "O(N) in the number of keys in the database",
        handler: flushdb,
        subcommands: &[],
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: flag::WRITE,
        keys: (0, 0, 0), movable: None,
        group: SERVER_GROUP,
        since: "1.0.0",
        summary: "Removes every key from every database.",
        complexity: "O(N) in the number of keys in all databases",
        handler: flushall,
        subcommands: &[],
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: WRITE_FAST,
        keys: (0, 0, 0), movable: None,
        group: SERVER_GROUP,
        since: "4.0.0",
        summary: "Exchanges the contents of two databases.",
        complexity: "O(N) in the clients watching or blocked on keys of either database",
        handler: swapdb,
        subcommands: &[],
    },
    CommandSpec {
        name: "object",
        arity: -2,
        flags: 0,
        keys: (0, 0, 0), movable: None,
        group: GROUP,
        since: "2.2.3",
        summary: "A container for commands that inspect how a value is stored.",
        complexity: "Depends on subcommand.",
        handler: container_help,
        subcommands: OBJECT_SUBCOMMANDS,
    },
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "encoding",
        arity: 3,
        flags: flag::READONLY,
        keys: (2, 2, 1),
        movable: None,
        group: GROUP,
        since: "2.2.3",
        summary: "Names the internal representation of a key's value.",
        complexity: "O(1)",
        handler: object_encoding,
        subcommands: &[],
    },
    CommandSpec {
        name: "freq",
        arity: 3,
        flags: flag::READONLY,
        keys: (2, 2, 1),
        movable: None,
        group: GROUP,
        since: "4.0.0",
        summary: "Returns the logarithmic access frequency counter of a key.",
        complexity: "O(1)",
        handler: object_freq,
        subcommands: &[],
    },
    CommandSpec {
        name: "idletime",
        arity: 3,
        flags: flag::READONLY,
        keys: (2, 2, 1),
        movable: None,
        group: GROUP,
        since: "2.2.3",
        summary: "Returns the time since the last access to a key.",
        complexity: "O(1)",
        handler: object_idletime,
        subcommands: &[],
    },
    CommandSpec {
        name: "refcount",
        arity: 3,
        flags: flag::READONLY,
        keys: (2, 2, 1),
        movable: None,
        group: GROUP,
        since: "2.2.3",
        summary: "Returns how many references a key's value has.",
        complexity: "O(1)",
        handler: object_refcount,
        subcommands: &[],
    },
    super::help_subcommand(GROUP, "6.2.0", object_help),
];

/// Redis's reply when a command is asked to act on a key from itself.
const ERR_SAME_OBJECT: &str = "ERR source and destination objects are the same";
const ERR_DB_INDEX: &str = "ERR DB index is out of range";
/// Redis's reply to a number outside a C `int` where one is expected.
const ERR_NOT_INT32: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
/// SCAN's COUNT when none is given.
const SCAN_COUNT_DEFAULT: i64 = 10;
/// SCAN visits at most this many buckets per key asked for, so a sparse
/// table cannot make one call walk the whole keyspace (HSCAN and SSCAN
/// too, per element).
pub(crate) const SCAN_BUCKETS_PER_KEY_MAX: i64 = 10;
/// Integers Redis keeps as shared objects (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;
/// The reference count Redis reports for a shared object.
const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// Reads `key` in database `db` the way Redis's `lookupKeyRead` does:
/// removes it if its time has passed, and counts a keyspace hit or miss.
/// Read commands use this; write commands look keys up without counting.
pub fn lookup_read<'s>(
    server: &'s mut Server,
    db: usize,
    key: &[u8],
    now_ms: i64,
) -> Option<&'s Value> {
    let found = server.keyspace.dbs[db].get(key, now_ms);
    match found {
        Some(_) => server.stats.keyspace_hits += 1,
        None => server.stats.keyspace_misses += 1,
    }
    found
}

/// Like [`lookup_read`], without recording an access (Redis's
/// LOOKUP_NOTOUCH: TYPE, EXISTS, the TTL family, OBJECT).
pub fn lookup_read_untouched<'s>(
    server: &'s mut Server,
    db: usize,
    key: &[u8],
    now_ms: i64,
) -> Option<&'s Value> {
    let found = server.keyspace.dbs[db].peek(key, now_ms);
    match found {
        Some(_) => server.stats.keyspace_hits += 1,
        None => server.stats.keyspace_misses += 1,
    }
    found
}

/// The unit an expire argument counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Milliseconds,
}

/// Turns an expire argument into absolute wall-clock milliseconds: `amount`
/// in `unit`, plus `base_ms` (the current time for a relative expiry, 0 for
/// an absolute one). `None` if the conversion or the addition overflows,
/// where Redis replies [`invalid_expire_error`]. Callers add their own
/// checks (SET and GETEX refuse amounts that are not positive).
pub fn expire_time_ms(amount: i64, unit: TimeUnit, base_ms: i64) -> Option<i64> {
    let milliseconds = match unit {
        TimeUnit::Seconds => amount.checked_mul(1000)?,
        TimeUnit::Milliseconds => amount,
    };
    milliseconds.checked_add(base_ms)
}

/// Propagates the running command as `PEXPIREAT key at_ms`, the absolute
/// form Redis writes for every command that sets an expiry, so the AOF and
/// replicas replay the same instant.
pub fn propagate_as_pexpireat(ctx: &mut Ctx<'_>, key: &[u8], at_ms: i64) {
    let argv = vec![
        b"PEXPIREAT".to_vec(),
        key.to_vec(),
        at_ms.to_string().into_bytes(),
    ];
    ctx.propagate_as(argv);
}

/// Propagates the running command as `DEL key`, as Redis does for a
/// command that deleted a key by giving it a time already past.
pub fn propagate_as_del(ctx: &mut Ctx<'_>, key: &[u8]) {
    ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
}

/// `ERR invalid expire time in '<command>' command`, naming the running
/// command as Redis does.
pub fn invalid_expire_error(ctx: &Ctx<'_>) -> String {
    let command = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
    format!("ERR invalid expire time in '{command}' command")
}

/// DEL key [key ...] and UNLINK key [key ...]: removes the keys; replies
/// with how many existed. Memory is freed at once in both cases.
fn del(ctx: &mut Ctx<'_>) -> Outcome {
    let (argv, now) = (ctx.argv, ctx.now_ms);
    let mut removed = 0;
    for key in &argv[1..] {
        if ctx.db().remove(key, now).is_some() {
            ctx.notify(class::GENERIC, "del", key);
            removed += 1;
        }
    }
    ctx.dirty(removed);
    ctx.out().int(removed as i64);
    Ok(())
}

/// EXISTS key [key ...]: how many of the keys exist, a key named twice
/// counting twice.
fn exists(ctx: &mut Ctx<'_>) -> Outcome {
    let (argv, now, db) = (ctx.argv, ctx.now_ms, ctx.client.db);
    let found = argv[1..]
        .iter()
        .filter(|key| lookup_read_untouched(ctx.server, db, key, now).is_some())
        .count();
    ctx.out().int(found as i64);
    Ok(())
}

/// TOUCH key [key ...]: records an access to each key that exists (its
/// idle time starts over, its LFU counter may grow); how many did.
fn touch(ctx: &mut Ctx<'_>) -> Outcome {
    let (argv, now, db) = (ctx.argv, ctx.now_ms, ctx.client.db);
    let found = argv[1..]
        .iter()
        .filter(|key| lookup_read(ctx.server, db, key, now).is_some())
        .count();
    ctx.out().int(found as i64);
    Ok(())
}

/// TYPE key: `+string` (and later the other type names), `+none` for a
/// missing key.
fn type_of(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let name = lookup_read_untouched(ctx.server, ctx.client.db, key, ctx.now_ms)
        .map_or("none", Value::type_name);
    ctx.out().simple(name);
    Ok(())
}

/// KEYS pattern: an array of the live keys matching the glob pattern, in
/// table order. Expired keys are left out but not removed, as in Redis.
fn keys(ctx: &mut Ctx<'_>) -> Outcome {
    let (pattern, now) = (ctx.arg(1), ctx.now_ms);
    let match_all = pattern == b"*";
    let db = &ctx.server.keyspace.dbs[ctx.client.db];
    let found: Vec<&[u8]> = db
        .keys()
        .map(|(key, _)| key)
        .filter(|key| match_all || glob_match(pattern, key, false))
        .filter(|key| !db.is_stale(key, now))
        .collect();
    let out = &mut ctx.client.out;
    out.array(found.len());
    for key in found {
        out.bulk(key);
    }
    Ok(())
}

/// The options of SCAN and of the collection scans (HSCAN, SSCAN, ...).
pub(crate) struct ScanOptions<'a> {
    pub count: i64,
    /// `None` also when the pattern is exactly `*`.
    pub pattern: Option<&'a [u8]>,
    /// SCAN's TYPE; the collection scans refuse it.
    pub type_name: Option<&'a [u8]>,
}

impl ScanOptions<'_> {
    /// Whether an element passes MATCH.
    pub fn matches(&self, element: &[u8]) -> bool {
        self.pattern
            .is_none_or(|pattern| glob_match(pattern, element, false))
    }
}

/// Parses SCAN's cursor the way Redis's `strtoul` call does: an optional
/// sign and decimal digits (a negative cursor wraps around), the empty
/// string reading as 0; no leading space, nothing after the digits, no
/// overflow.
fn parse_cursor(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text {
        [] => return Some(0),
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |value, digit| {
        value.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
    })?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// Argument `i` as a SCAN-family cursor (Redis's
/// `parseScanCursorOrReply`), else `ERR invalid cursor`.
pub(crate) fn scan_cursor_arg(ctx: &Ctx<'_>, i: usize) -> Result<u64, Error> {
    parse_cursor(ctx.arg(i)).ok_or_else(|| Error::msg("ERR invalid cursor"))
}

/// Reads SCAN-family options from argument `first` on, as Redis's
/// `scanGenericCommand` does: COUNT (an integer of at least 1), MATCH, and
/// TYPE only for the keyspace's SCAN (`keyspace`). Errors: `ERR syntax
/// error` (also for COUNT below 1, an option without its argument, TYPE on
/// a collection), the integer error for a COUNT that is not one.
pub(crate) fn parse_scan_options<'a>(
    ctx: &Ctx<'a>,
    first: usize,
    keyspace: bool,
) -> Result<ScanOptions<'a>, Error> {
    let mut options = ScanOptions {
        count: SCAN_COUNT_DEFAULT,
        pattern: None,
        type_name: None,
    };
    let mut i = first;
    while i < ctx.argv.len() {
        if i + 1 >= ctx.argv.len() {
            return Err(ERR_SYNTAX.into());
        }
        match ctx.keyword(i).as_str() {
            "COUNT" => {
                options.count = parse_i64(ctx.arg(i + 1)).ok_or(ERR_NOT_INTEGER)?;
                if options.count < 1 {
                    return Err(ERR_SYNTAX.into());
                }
            }
            "MATCH" => options.pattern = Some(ctx.arg(i + 1)).filter(|p| *p != b"*"),
            "TYPE" if keyspace => options.type_name = Some(ctx.arg(i + 1)),
            _ => return Err(ERR_SYNTAX.into()),
        }
        i += 2;
    }
    Ok(options)
}

/// The loop of Redis's `scanGenericCommand` over a hash table: `step`
/// visits the bucket its cursor names, adds what it finds to `found` and
/// returns the next cursor. Stops at cursor 0, once `found` holds `count`
/// items, or after `steps_max` more steps, so a sparse table cannot make
/// one call walk it all. Returns the cursor to hand back.
pub(crate) fn scan_loop<T>(
    mut cursor: u64,
    count: i64,
    steps_max: i64,
    found: &mut Vec<T>,
    mut step: impl FnMut(u64, &mut Vec<T>) -> u64,
) -> u64 {
    let mut steps_left = steps_max;
    loop {
        cursor = step(cursor, found);
        if cursor == 0 || steps_left <= 0 || found.len() as i64 >= count {
            return cursor;
        }
        steps_left -= 1;
    }
}

/// Writes a SCAN-family reply: the next cursor as a bulk string, then the
/// elements as a flat array (RESP3 too).
pub(crate) fn reply_scan<T: AsRef<[u8]>>(ctx: &mut Ctx<'_>, cursor: u64, elements: &[T]) {
    let out = ctx.out();
    out.array(2);
    out.bulk(cursor.to_string().as_bytes());
    out.array(elements.len());
    for element in elements {
        out.bulk(element.as_ref());
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]: a two-element
/// array, the next cursor as a bulk string and an array of keys. Every key
/// present for a whole iteration is returned at least once. Errors: `ERR
/// invalid cursor`, `ERR syntax error` (also for COUNT below 1), the integer
/// error for a COUNT that is not one.
fn scan(ctx: &mut Ctx<'_>) -> Outcome {
    let cursor = scan_cursor_arg(ctx, 1)?;
    let options = parse_scan_options(ctx, 2, true)?;
    let mut found: Vec<Vec<u8>> = Vec::new();
    let steps_max = options.count.saturating_mul(SCAN_BUCKETS_PER_KEY_MAX);
    let db = ctx.db();
    let cursor = scan_loop(
        cursor,
        options.count,
        steps_max,
        &mut found,
        |cursor, found| db.scan(cursor, |key, _| found.push(key.to_vec())),
    );
    found.retain(|key| scan_keeps(ctx, &options, key));
    reply_scan(ctx, cursor, &found);
    Ok(())
}

/// Whether SCAN returns a key it collected: it must match the pattern and
/// the type, and be live. As in Redis, the type check reads the key (a
/// keyspace hit or miss) and an expired key is removed on the way.
fn scan_keeps(ctx: &mut Ctx<'_>, options: &ScanOptions<'_>, key: &[u8]) -> bool {
    if !options.matches(key) {
        return false;
    }
    let now = ctx.now_ms;
    if let Some(wanted) = options.type_name {
        let found = lookup_read(ctx.server, ctx.client.db, key, now);
        let name = found.map_or("none", Value::type_name);
        if !name.as_bytes().eq_ignore_ascii_case(wanted) {
            return false;
        }
    }
    !ctx.db().expire_if_needed(key, now)
}

/// RANDOMKEY: a live key picked at random, or null when there is none.
fn randomkey(ctx: &mut Ctx<'_>) -> Outcome {
    let now = ctx.now_ms;
    let env = &mut *ctx.env;
    let db = &mut ctx.server.keyspace.dbs[ctx.client.db];
    match db.random_key(now, &mut || env.random_u64()) {
        Some(key) => ctx.client.out.bulk(&key),
        None => ctx.client.out.null(),
    }
    Ok(())
}

/// RENAME key newkey: `+OK`; replaces any value under `newkey` and keeps
/// the time to live. `ERR no such key` if `key` does not exist.
fn rename(ctx: &mut Ctx<'_>) -> Outcome {
    rename_generic(ctx, false)
}

/// RENAMENX key newkey: `:1` if renamed, `:0` if `newkey` exists. `ERR no
/// such key` if `key` does not exist.
fn renamenx(ctx: &mut Ctx<'_>) -> Outcome {
    rename_generic(ctx, true)
}

fn rename_generic(ctx: &mut Ctx<'_>, only_if_absent: bool) -> Outcome {
    let (source, destination, now) = (ctx.arg(1), ctx.arg(2), ctx.now_ms);
    if !ctx.db().exists(source, now) {
        return Err(Error::msg(ERR_NO_SUCH_KEY));
    }
    if source == destination {
        reply_rename(ctx, only_if_absent, !only_if_absent);
        return Ok(());
    }
    if only_if_absent && ctx.db().exists(destination, now) {
        reply_rename(ctx, only_if_absent, false);
        return Ok(());
    }
    let (value, expire_at) = ctx.db().take(source, now).expect("source checked live");
    // Replaced, not overwritten: the destination is a new key (`new`).
    ctx.db().remove(destination, now);
    ctx.db().put(destination, value, expire_at);
    ctx.notify(class::GENERIC, "rename_from", source);
    ctx.notify(class::GENERIC, "rename_to", destination);
    ctx.dirty(1);
    reply_rename(ctx, only_if_absent, true);
    Ok(())
}

fn reply_rename(ctx: &mut Ctx<'_>, only_if_absent: bool, renamed: bool) {
    if only_if_absent {
        ctx.out().int(renamed as i64);
    } else {
        ctx.out().ok();
    }
}

/// Argument `i` as a C `int`, as Redis's `getIntFromObjectOrReply` reads
/// it. On failure replies with `error` if given, else with the integer
/// error (not a number) or Redis's range error (outside a C `int`), and
/// returns `None`.
pub(crate) fn int32_arg(ctx: &mut Ctx<'_>, i: usize, error: Option<&str>) -> Option<i64> {
    let parsed = parse_i64(ctx.arg(i));
    let value = parsed.filter(|n| i32::try_from(*n).is_ok());
    if value.is_none() {
        let default = match parsed {
            None => ERR_NOT_INTEGER,
            Some(_) => ERR_NOT_INT32,
        };
        ctx.error(error.unwrap_or(default));
    }
    value
}

/// `index` as a database number, or `ERR DB index is out of range` replied
/// and `None`.
fn db_index(ctx: &mut Ctx<'_>, index: i64) -> Option<usize> {
    let valid = usize::try_from(index)
        .ok()
        .filter(|&i| i < ctx.server.keyspace.dbs.len());
    if valid.is_none() {
        ctx.error(ERR_DB_INDEX);
    }
    valid
}

/// Reads COPY's options (`DB destination-db`, `REPLACE`): the destination
/// database and whether to replace. Replies with the error and returns
/// `None` if one is wrong.
fn parse_copy_options(ctx: &mut Ctx<'_>) -> Option<(usize, bool)> {
    let (mut destination_db, mut replace) = (ctx.client.db, false);
    let mut i = 3;
    while i < ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "REPLACE" => replace = true,
            "DB" if i + 1 < ctx.argv.len() => {
                let index = int32_arg(ctx, i + 1, None)?;
                destination_db = db_index(ctx, index)?;
                i += 1;
            }
            _ => {
                ctx.error(ERR_SYNTAX);
                return None;
            }
        }
        i += 1;
    }
    Some((destination_db, replace))
}

/// COPY source destination [DB destination-db] [REPLACE]: `:1` if copied
/// (value and time to live), `:0` if `source` is missing or `destination`
/// exists without REPLACE. Errors: `ERR source and destination objects are
/// the same`, `ERR DB index is out of range`, the integer error, syntax.
fn copy(ctx: &mut Ctx<'_>) -> Outcome {
    let Some((destination_db, replace)) = parse_copy_options(ctx) else {
        return Ok(());
    };
    let (source, destination, now) = (ctx.arg(1), ctx.arg(2), ctx.now_ms);
    let source_db = ctx.client.db;
    if source_db == destination_db && source == destination {
        return Err(Error::msg(ERR_SAME_OBJECT));
    }
    let Some(value) = lookup_read(ctx.server, source_db, source, now).cloned() else {
        ctx.out().int(0);
        return Ok(());
    };
    let expire_at = ctx.db().expire_at(source, now);
    let target = &mut ctx.server.keyspace.dbs[destination_db];
    if target.exists(destination, now) && !replace {
        ctx.out().int(0);
        return Ok(());
    }
    // Replaced, not overwritten: the destination is a new key (`new`).
    target.remove(destination, now);
    target.put(destination, value, expire_at);
    crate::notify::notify(
        ctx.server,
        Some(&mut *ctx.client),
        class::GENERIC,
        "copy_to",
        destination,
        destination_db,
    );
    ctx.dirty(1);
    ctx.out().int(1);
    Ok(())
}

/// MOVE key db: `:1` if moved (with its time to live), `:0` if the key is
/// missing or exists in the target. Errors: the integer error, `ERR DB index
/// is out of range`, `ERR source and destination objects are the same`.
fn move_key(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(index) = int32_arg(ctx, 2, None) else {
        return Ok(());
    };
    let Some(target) = db_index(ctx, index) else {
        return Ok(());
    };
    if target == ctx.client.db {
        return Err(Error::msg(ERR_SAME_OBJECT));
    }
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    if !ctx.db().exists(key, now) || ctx.server.keyspace.dbs[target].exists(key, now) {
        ctx.out().int(0);
        return Ok(());
    }
    let (value, expire_at) = ctx.db().take(key, now).expect("key checked live");
    ctx.server.keyspace.dbs[target].put(key, value, expire_at);
    ctx.notify(class::GENERIC, "move_from", key);
    crate::notify::notify(
        ctx.server,
        Some(&mut *ctx.client),
        class::GENERIC,
        "move_to",
        key,
        target,
    );
    ctx.dirty(1);
    ctx.out().int(1);
    Ok(())
}

/// The NX, XX, GT and LT options of the EXPIRE family.
#[derive(Default)]
struct ExpireConditions {
    only_without_expiry: bool,
    only_with_expiry: bool,
    only_later: bool,
    only_earlier: bool,
}

impl ExpireConditions {
    /// Whether a key whose expiry is `current` (`None`: never) may be given
    /// the expiry `new`, as Redis decides: no expiry counts as infinitely
    /// late.
    fn allow(&self, current: Option<i64>, new: i64) -> bool {
        !(self.only_without_expiry && current.is_some()
            || self.only_with_expiry && current.is_none()
            || self.only_later && current.is_none_or(|at| new <= at)
            || self.only_earlier && current.is_some_and(|at| new >= at))
    }
}

/// Reads the EXPIRE family's options from argument 3 on; replies with
/// Redis's error and returns `None` if they are unknown or incompatible.
fn parse_expire_conditions(ctx: &mut Ctx<'_>) -> Option<ExpireConditions> {
    let mut conditions = ExpireConditions::default();
    for i in 3..ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "NX" => conditions.only_without_expiry = true,
            "XX" => conditions.only_with_expiry = true,
            "GT" => conditions.only_later = true,
            "LT" => conditions.only_earlier = true,
            _ => {
                let option = String::from_utf8_lossy(ctx.arg(i)).into_owned();
                ctx.error(&format!("ERR Unsupported option {option}"));
                return None;
            }
        }
    }
    let others = conditions.only_with_expiry || conditions.only_later || conditions.only_earlier;
    if conditions.only_without_expiry && others {
        ctx.error("ERR NX and XX, GT or LT options at the same time are not compatible");
        return None;
    }
    if conditions.only_later && conditions.only_earlier {
        ctx.error("ERR GT and LT options at the same time are not compatible");
        return None;
    }
    Some(conditions)
}

/// EXPIRE key seconds [NX|XX|GT|LT]: `:1` if the expiry was set (or, for a
/// time already past, the key deleted), `:0` if the key is missing or a
/// condition refused. Errors: the integer error, `ERR invalid expire time
/// in 'expire' command` on overflow, the option errors.
fn expire(ctx: &mut Ctx<'_>) -> Outcome {
    expire_generic(ctx, TimeUnit::Seconds, true)
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]: as EXPIRE, in milliseconds.
fn pexpire(ctx: &mut Ctx<'_>) -> Outcome {
    expire_generic(ctx, TimeUnit::Milliseconds, true)
}

/// EXPIREAT key unix-time-seconds [NX|XX|GT|LT]: as EXPIRE, absolute.
fn expireat(ctx: &mut Ctx<'_>) -> Outcome {
    expire_generic(ctx, TimeUnit::Seconds, false)
}

/// PEXPIREAT key unix-time-milliseconds [NX|XX|GT|LT]: as EXPIRE, absolute
/// in milliseconds.
fn pexpireat(ctx: &mut Ctx<'_>) -> Outcome {
    expire_generic(ctx, TimeUnit::Milliseconds, false)
}

fn expire_generic(ctx: &mut Ctx<'_>, unit: TimeUnit, relative: bool) -> Outcome {
    let Some(conditions) = parse_expire_conditions(ctx) else {
        return Ok(());
    };
    let Some(amount) = ctx.int_arg(2) else {
        return Ok(());
    };
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    let base_ms = if relative { now } else { 0 };
    let Some(at_ms) = expire_time_ms(amount, unit, base_ms) else {
        let error = invalid_expire_error(ctx);
        return Err(Error::msg(&error));
    };
    if !ctx.db().exists(key, now) {
        ctx.out().int(0);
        return Ok(());
    }
    let current = ctx.db().expire_at(key, now);
    if !conditions.allow(current, at_ms) {
        ctx.out().int(0);
        return Ok(());
    }
    if ctx.already_expired(at_ms) {
        ctx.db().remove(key, now);
        ctx.notify(class::GENERIC, "del", key);
        propagate_as_del(ctx, key);
    } else {
        ctx.db().set_expire(key, at_ms);
        ctx.notify(class::GENERIC, "expire", key);
        propagate_as_pexpireat(ctx, key, at_ms);
    }
    ctx.dirty(1);
    ctx.out().int(1);
    Ok(())
}

/// TTL key: seconds left, rounded; `:-1` without expiry, `:-2` if missing.
fn ttl(ctx: &mut Ctx<'_>) -> Outcome {
    ttl_generic(ctx, TimeUnit::Seconds, false)
}

/// PTTL key: milliseconds left; `:-1` without expiry, `:-2` if missing.
fn pttl(ctx: &mut Ctx<'_>) -> Outcome {
    ttl_generic(ctx, TimeUnit::Milliseconds, false)
}

/// EXPIRETIME key: the Unix time in seconds of the expiry; `:-1`, `:-2`.
fn expiretime(ctx: &mut Ctx<'_>) -> Outcome {
    ttl_generic(ctx, TimeUnit::Seconds, true)
}

/// PEXPIRETIME key: the Unix time in milliseconds of the expiry; `:-1`,
/// `:-2`.
fn pexpiretime(ctx: &mut Ctx<'_>) -> Outcome {
    ttl_generic(ctx, TimeUnit::Milliseconds, true)
}

fn ttl_generic(ctx: &mut Ctx<'_>, unit: TimeUnit, absolute: bool) -> Outcome {
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    if lookup_read_untouched(ctx.server, ctx.client.db, key, now).is_none() {
        ctx.out().int(-2);
        return Ok(());
    }
    let Some(at_ms) = ctx.db().expire_at(key, now) else {
        ctx.out().int(-1);
        return Ok(());
    };
    let milliseconds = if absolute { at_ms } else { at_ms - now }.max(0);
    let reply = match unit {
        TimeUnit::Milliseconds => milliseconds,
        TimeUnit::Seconds => milliseconds.saturating_add(500) / 1000,
    };
    ctx.out().int(reply);
    Ok(())
}

/// PERSIST key: `:1` if the key's time to live was removed, `:0` if it had
/// none or is missing.
fn persist(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    let removed = ctx.db().persist(key, now);
    if removed {
        ctx.notify(class::GENERIC, "persist", key);
        ctx.dirty(1);
    }
    ctx.out().int(removed as i64);
    Ok(())
}

/// DBSIZE: the number of keys in the selected database, counting keys past
/// their time that expiry has not removed yet, as Redis does.
fn dbsize(ctx: &mut Ctx<'_>) -> Outcome {
    let keys = ctx.db().len();
    ctx.out().int(keys as i64);
    Ok(())
}

/// Checks FLUSHDB's and FLUSHALL's optional `ASYNC` or `SYNC`; both free
/// memory at once here. Replies `ERR syntax error` and returns false on
/// anything else.
fn check_flush_option(ctx: &mut Ctx<'_>) -> bool {
    let valid = match ctx.argv.len() {
        1 => true,
        2 => matches!(ctx.keyword(1).as_str(), "ASYNC" | "SYNC"),
        _ => false,
    };
    if !valid {
        ctx.error(ERR_SYNTAX);
    }
    valid
}

/// FLUSHDB [ASYNC|SYNC]: `+OK`; empties the selected database.
fn flushdb(ctx: &mut Ctx<'_>) -> Outcome {
    if !check_flush_option(ctx) {
        return Ok(());
    }
    let removed = ctx.db().clear();
    ctx.dirty(removed as u64);
    ctx.force_propagation();
    ctx.out().ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]: `+OK`; empties every database. Counts one change
/// more than the keys removed, as Redis does, so even an empty flush is
/// propagated.
fn flushall(ctx: &mut Ctx<'_>) -> Outcome {
    if !check_flush_option(ctx) {
        return Ok(());
    }
    let removed: usize = ctx
        .server
        .keyspace
        .dbs
        .iter_mut()
        .map(|db| db.clear())
        .sum();
    ctx.dirty(removed as u64 + 1);
    ctx.out().ok();
    Ok(())
}

/// SWAPDB index1 index2: `+OK`. Errors: `ERR invalid first DB index`, `ERR
/// invalid second DB index`, `ERR DB index is out of range`.
fn swapdb(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(first) = int32_arg(ctx, 1, Some("ERR invalid first DB index")) else {
        return Ok(());
    };
    let Some(second) = int32_arg(ctx, 2, Some("ERR invalid second DB index")) else {
        return Ok(());
    };
    let Some(first) = db_index(ctx, first) else {
        return Ok(());
    };
    let Some(second) = db_index(ctx, second) else {
        return Ok(());
    };
    ctx.server.keyspace.swap(first, second);
    ctx.dirty(1);
    ctx.out().ok();
    Ok(())
}

/// OBJECT ENCODING key: the encoding name as a bulk string, null if the key
/// is missing.
fn object_encoding(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(2);
    match lookup_read_untouched(ctx.server, ctx.client.db, key, ctx.now_ms) {
        Some(value) => ctx.client.out.bulk(value.encoding().as_bytes()),
        None => ctx.client.out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT key: see [`refcount`]; null if the key is missing.
fn object_refcount(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(2);
    let config = &ctx.server.config;
    let found = ctx.server.keyspace.dbs[ctx.client.db]
        .peek(key, ctx.now_ms)
        .map(|value| refcount(config, value));
    match found {
        Some(count) => {
            ctx.server.stats.keyspace_hits += 1;
            ctx.out().int(count);
        }
        None => {
            ctx.server.stats.keyspace_misses += 1;
            ctx.out().null();
        }
    }
    Ok(())
}

/// The reference count Redis would report for `value`: 1, or
/// `2147483647` for the small integers Redis shares between keys (not
/// with `maxmemory` under an LRU or LFU policy, where each key needs an
/// access field of its own).
pub(crate) fn refcount(config: &crate::config::Config, value: &Value) -> i64 {
    let memory = &config.memory;
    let policy = memory.policy;
    let shares_integers = memory.maxmemory_bytes == 0
        || !(policy.is_lfu()
            || matches!(
                policy,
                crate::config::EvictionPolicy::AllkeysLru
                    | crate::config::EvictionPolicy::VolatileLru
            ));
    let shared = match value {
        Value::String(bytes) if value.encoding() == "int" && shares_integers => {
            parse_i64(bytes).is_some_and(|n| (0..SHARED_INTEGERS).contains(&n))
        }
        _ => false,
    };
    if shared {
        SHARED_REFCOUNT
    } else {
        1
    }
}

/// The access field of `key` for OBJECT IDLETIME and FREQ, looked up
/// without touching it; null replied for a missing key.
fn object_access(ctx: &mut Ctx<'_>) -> Option<u32> {
    let key = ctx.arg(2);
    let (db, now) = (ctx.client.db, ctx.now_ms);
    if lookup_read_untouched(ctx.server, db, key, now).is_none() {
        ctx.out().null();
        return None;
    }
    ctx.db().access_of(key, now)
}

/// OBJECT FREQ key: the key's logarithmic access counter after decay;
/// null if the key is missing. Errors unless an LFU `maxmemory-policy` is
/// selected.
fn object_freq(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(field) = object_access(ctx) else {
        return Ok(());
    };
    let clock = ctx.db().access_clock();
    if !ctx.server.config.memory.policy.is_lfu() {
        return Err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    ctx.out().int(i64::from(clock.lfu_counter(field)));
    Ok(())
}

/// OBJECT IDLETIME key: seconds since the key was last accessed; null if
/// it is missing. An error under an LFU `maxmemory-policy`.
fn object_idletime(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(field) = object_access(ctx) else {
        return Ok(());
    };
    let clock = ctx.db().access_clock();
    if ctx.server.config.memory.policy.is_lfu() {
        return Err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.".into());
    }
    ctx.out().int((clock.idle_ms(field) / 1000) as i64);
    Ok(())
}

/// OBJECT HELP: the subcommands, one status line each.
fn object_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
