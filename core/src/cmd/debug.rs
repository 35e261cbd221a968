//! DEBUG: the subcommands Redis's test suite and operators use, behind
//! `enable-debug-command` as in Redis 7 (refused before it runs, see
//! [`protected_refusal`]).
//!
//! - RELOAD [MERGE|NOFLUSH|NOSAVE]: SAVE, empty the data (keys and
//!   function libraries), load the dump back. With MERGE, loaded keys and
//!   libraries replace the ones present; NOFLUSH without MERGE fails on
//!   the first key present (Redis kills the server there; this answers
//!   the load error instead).
//! - LOADAOF: write and fsync what the AOF holds, empty the data and
//!   replay the AOF directory. With `appendonly no` there is no AOF being
//!   written to trust, so it refuses and keeps the data (Redis 7.0 empties
//!   the data, then dies).
//! - DIGEST, DIGEST-VALUE: Redis's own signature of the data (see
//!   `db::digest`), equal to Redis's for the same dataset.
//! - OBJECT, SDSLEN, LISTPACK, QUICKLIST, HTSTATS, HTSTATS-KEY,
//!   STRUCTSIZE (redoubt's own structures): what the encodings look like,
//!   in Redis's words.
//! - SLEEP, SET-ACTIVE-EXPIRE, CHANGE-REPL-ID, PROTOCOL, ERROR, LOG,
//!   REPLICATE, POPULATE, STRINGMATCH-TEST, and the knobs the suite turns
//!   (SET-DISABLE-DENY-SCRIPTS, which lets scripts call `noscript`
//!   commands; QUICKLIST-PACKED-THRESHOLD, SET-SKIP-CHECKSUM-VALIDATION,
//!   PAUSE-CRON, REPLYBUFFER, AOF-FLUSH-SLEEP, accepted and without
//!   effect).
//!
//! Left out: the crash subcommands (SEGFAULT, PANIC, ASSERT, OOM,
//! RESTART, CRASH-AND-RECOVER), jemalloc's MALLCTL, and the cluster ones.
//! They answer Redis's unknown-subcommand error. DEBUG JMAP and
//! STRINGMATCH-LEN do not exist in Redis 7.0 either.

use super::connection::help_lines;
use super::{flag, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER};
use crate::client::Client;
use crate::config::{parse_memory, ProtectedAction};
use crate::db::digest;
use crate::db::Value;
use crate::env::LogLevel;
use crate::glob::glob_match;
use crate::persist::load::{load_aof, load_dump};
use crate::resp::{parse_i64, Protocol};
use crate::server::Server;

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "debug",
    -2,
    flag::ADMIN | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::PROTECTED,
    debug,
)
.doc(
    "server",
    "1.0.0",
    "A container for debugging commands",
    "Depends on subcommand.",
)];

/// Redis's refusal of DEBUG while `enable-debug-command` does not allow
/// `client` (see `Config::allows`).
pub fn protected_refusal(server: &Server, client: &Client) -> Option<String> {
    let action = ProtectedAction::DebugCommand;
    (!server.config.allows(action, &client.info)).then(|| action.refusal())
}

const HELP: &[&str] = &[
    "AOF-FLUSH-SLEEP <microsec>",
    "    Server will sleep before flushing the AOF, this is used for testing.",
    "CHANGE-REPL-ID",
    "    Change the replication IDs of the instance.",
    "    Dangerous: should be used only for testing the replication subsystem.",
    "DIGEST",
    "    Output a hex signature representing the current DB content.",
    "DIGEST-VALUE <key> [<key> ...]",
    "    Output a hex signature of the values of all the specified keys.",
    "ERROR <string>",
    "    Return a Redis protocol error with <string> as message. Useful for clients",
    "    unit tests to simulate Redis errors.",
    "LEAK <string>",
    "    Create a memory leak of the input string.",
    "LOG <message>",
    "    Write <message> to the server log.",
    "HTSTATS <dbid>",
    "    Return hash table statistics of the specified Redis database.",
    "HTSTATS-KEY <key>",
    "    Like HTSTATS but for the hash table stored at <key>'s value.",
    "LOADAOF",
    "    Flush the AOF buffers on disk and reload the AOF in memory.",
    "REPLICATE <string>",
    "    Replicates the provided string to replicas, allowing data divergence.",
    "OBJECT <key>",
    "    Show low level info about `key` and associated value.",
    "POPULATE <count> [<prefix>] [<size>]",
    "    Create <count> string keys named key:<num>. If <prefix> is specified then",
    "    it is used instead of the 'key' prefix. These are not propagated to",
    "    replicas.",
    "PROTOCOL <type>",
    "    Reply with a test value of the specified type. <type> can be: string,",
    "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    "    true, false.",
    "RELOAD [option ...]",
    "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    "    * MERGE: conflicting keys will be loaded from RDB.",
    "    * NOFLUSH: the existing database will not be removed before load, but",
    "      conflicting keys will fail the load.",
    "    * NOSAVE: the database will be loaded from an existing RDB file.",
    "SDSLEN <key>",
    "    Show low level SDS string info representing `key` and value.",
    "SET-ACTIVE-EXPIRE <0|1>",
    "    Setting it to 0 disables expiring keys in background when they are not",
    "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    "    default.",
    "QUICKLIST-PACKED-THRESHOLD <size>",
    "    Sets the threshold for elements to be inserted as plain vs packed nodes",
    "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "STRINGMATCH-TEST",
    "    Run a fuzz tester against the stringmatchlen() function.",
    "STRUCTSIZE",
    "    Return the size of different Redis core C structures.",
    "LISTPACK <key>",
    "    Show low level info about the listpack encoding of <key>.",
    "QUICKLIST <key> [<0|1>]",
    "    Show low level info about the quicklist encoding of <key>.",
    "PAUSE-CRON <0|1>",
    "    Stop periodic cron job processing.",
    "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    "REPLYBUFFER RESIZING <0|1>",
    "    Enable or disable the reply buffer resize cron job",
];

/// The largest packed threshold Redis takes (4 GB less 1 MB).
const PACKED_THRESHOLD_MAX: u64 = (1 << 32) - (1 << 20);

fn debug(ctx: &mut Ctx<'_>) -> Outcome {
    let sub = String::from_utf8_lossy(ctx.arg(1)).to_ascii_lowercase();
    let argc = ctx.argv.len();
    match (sub.as_str(), argc) {
        ("help", 2) => help_lines(ctx, "DEBUG", HELP),
        ("reload", _) => return reload(ctx),
        ("loadaof", _) => return loadaof(ctx),
        ("object", 3) => return object(ctx),
        ("sdslen", 3) => return sdslen(ctx),
        ("listpack", 3) => return structure(ctx, "listpack"),
        ("quicklist", 3 | 4) => return structure(ctx, "quicklist"),
        ("digest", 2) => {
            let text = digest::dataset_digest(&ctx.server.keyspace);
            ctx.out().simple(&text);
        }
        ("digest-value", _) => digest_value(ctx),
        ("protocol", 3) => return protocol(ctx),
        ("sleep", 3) => {
            let seconds = std::str::from_utf8(ctx.arg(2))
                .ok()
                .and_then(|text| text.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .unwrap_or(0.0);
            ctx.env.stall_ms((seconds * 1000.0) as u64);
            ctx.out().ok();
        }
        ("set-active-expire", 3) => {
            ctx.server.active_expire_enabled = c_atoi(ctx.arg(2)) != 0;
            ctx.out().ok();
        }
        ("quicklist-packed-threshold", 3) => {
            let size = std::str::from_utf8(ctx.arg(2)).ok().and_then(parse_memory);
            match size {
                Some(size) if size <= PACKED_THRESHOLD_MAX => ctx.out().ok(),
                _ => {
                    return Err(Error::msg(
                        "ERR argument must be a memory value bigger than 1 and smaller than 4gb",
                    ))
                }
            }
        }
        ("set-disable-deny-scripts", 3) => {
            ctx.server.scripts_may_call_noscript = c_atoi(ctx.arg(2)) != 0;
            ctx.out().ok();
        }
        ("set-skip-checksum-validation" | "aof-flush-sleep" | "pause-cron", 3) => {
            // Accepted as Redis accepts them; redoubt keeps checksums,
            // flushes the AOF when due and runs its cron regardless.
            ctx.out().ok();
        }
        ("replybuffer", 4) => {
            let what = ctx.keyword(2);
            if what != "PEAK-RESET-TIME" && what != "RESIZING" {
                return Err(subcommand_error(ctx));
            }
            ctx.out().ok();
        }
        ("leak", 3) => ctx.out().ok(),
        ("log", 3) => {
            let message = format!("DEBUG LOG: {}", String::from_utf8_lossy(ctx.arg(2)));
            ctx.env.log(LogLevel::Warning, &message);
            ctx.out().ok();
        }
        ("error", 3) => {
            let text: String = String::from_utf8_lossy(ctx.arg(2))
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            ctx.out().error(&text);
        }
        ("replicate", n) if n >= 3 => {
            // To the replicas only, and never to the AOF.
            let argv = ctx.argv[2..].to_vec();
            ctx.server.propagate_owned(ctx.client.db, argv, false);
            ctx.out().ok();
        }
        ("populate", 3..=5) => return populate(ctx),
        ("change-repl-id", 2) => {
            ctx.env.log(
                LogLevel::Notice,
                "Changing replication IDs after receiving DEBUG change-repl-id",
            );
            ctx.server.repl.replid = crate::repl::hex_id(ctx.env);
            ctx.server.clear_replid2();
            ctx.out().ok();
        }
        ("stringmatch-test", 2) => {
            stringmatch_fuzz(ctx);
            ctx.out()
                .simple("Apparently Redis did not crash: test passed");
        }
        ("structsize", 2) => {
            // Redis's line names its C structures; these are redoubt's own.
            let sizes = format!(
                "bits:{} value:{} client:{} ",
                usize::BITS,
                std::mem::size_of::<Value>(),
                std::mem::size_of::<Client>()
            );
            ctx.out().bulk(sizes.as_bytes());
        }
        ("htstats", 3) => return htstats(ctx),
        ("htstats-key", 3) => return htstats_key(ctx),
        ("client-eviction", 2) => return Err(Error::msg("ERR maxmemory-clients is disabled.")),
        _ => return Err(subcommand_error(ctx)),
    }
    Ok(())
}

/// Redis's answer to a subcommand it does not know, or with the wrong
/// number of arguments.
fn subcommand_error(ctx: &Ctx<'_>) -> Error {
    Error::Reply(
        format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(ctx.arg(1))
        )
        .into(),
    )
}

/// C's `atoi`: leading digits with an optional sign, 0 when there are none.
fn c_atoi(text: &[u8]) -> i64 {
    let text = std::str::from_utf8(text).unwrap_or("").trim_start();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    sign * digits[..end].parse::<i64>().unwrap_or(0)
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE].
fn reload(ctx: &mut Ctx<'_>) -> Outcome {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for i in 2..ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "MERGE" => merge = true,
            "NOFLUSH" => flush = false,
            "NOSAVE" => save = false,
            _ => {
                return Err(Error::msg(
                    "ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
                ))
            }
        }
    }
    if save {
        ctx.server
            .save_now(ctx.env)
            .map_err(|error| Error::Reply(error.into()))?;
    }
    if flush {
        empty_data(ctx.server);
    }
    ctx.server.load_merges = merge;
    let loaded = load_dump(ctx.server, ctx.env);
    ctx.server.load_merges = false;
    match loaded {
        Ok(Some(_)) => {}
        Ok(None) => {
            ctx.env.log(
                LogLevel::Warning,
                "DEBUG RELOAD: there is no RDB file to load",
            );
            return Err(Error::msg(
                "ERR Error trying to load the RDB dump, check server logs.",
            ));
        }
        Err(error) => {
            ctx.env.log(LogLevel::Warning, &error);
            return Err(Error::msg(
                "ERR Error trying to load the RDB dump, check server logs.",
            ));
        }
    }
    ctx.env.log(LogLevel::Notice, "DB reloaded by DEBUG RELOAD");
    ctx.out().ok();
    Ok(())
}

/// Empties every database and the function libraries (Redis's
/// `emptyData`), invalidating WATCHes as a flush does.
fn empty_data(server: &mut Server) {
    for db in &mut server.keyspace.dbs {
        db.clear();
    }
    server
        .scripts
        .flush_libraries(&mut server.keyspace.functions);
}

/// DEBUG LOADAOF.
fn loadaof(ctx: &mut Ctx<'_>) -> Outcome {
    const FAILED: &str = "ERR Error trying to load the AOF files, check server logs.";
    if !ctx.server.aof_on {
        ctx.env.log(
            LogLevel::Warning,
            "DEBUG LOADAOF refused: appendonly is off, the dataset was kept.",
        );
        return Err(Error::msg(FAILED));
    }
    let server = &mut *ctx.server;
    server.aof.flush(ctx.env, &server.config);
    if let Err(error) = server.aof.sync_now(ctx.env) {
        ctx.env.log(
            LogLevel::Warning,
            &format!("DEBUG LOADAOF refused: the AOF could not be written: {error}"),
        );
        return Err(Error::msg(FAILED));
    }
    empty_data(ctx.server);
    if let Err(error) = load_aof(ctx.server, ctx.env) {
        ctx.env.log(LogLevel::Warning, &error);
        return Err(Error::msg(FAILED));
    }
    ctx.server.dirty = 0;
    ctx.env
        .log(LogLevel::Notice, "Append Only File loaded by DEBUG LOADAOF");
    ctx.out().ok();
    Ok(())
}

/// The value under argument 2 in the client's database, live or past its
/// time; `ERR no such key` otherwise.
fn raw_value<'s>(ctx: &'s Ctx<'_>) -> Result<&'s Value, Error> {
    ctx.server.keyspace.dbs[ctx.client.db]
        .value_raw(ctx.arg(2))
        .ok_or_else(|| Error::msg(super::ERR_NO_SUCH_KEY))
}

/// DEBUG OBJECT key: Redis's one status line about the value.
fn object(ctx: &mut Ctx<'_>) -> Outcome {
    let value = raw_value(ctx)?;
    let config = &ctx.server.config;
    let refcount = super::keys::refcount(config, value);
    let serialized = super::dump::payload(value, config.rdbcompression).len() - 11;
    let mut extra = String::new();
    if let Value::List(list) = value {
        let nodes = list.nodes().count().max(1);
        let bytes: usize = list.nodes().map(|node| node.byte_len()).sum();
        let compressed = config
            .get("list-compress-depth")
            .is_some_and(|depth| depth != "0");
        extra = format!(
            " ql_nodes:{} ql_avg_node:{:.2} ql_listpack_max:{} ql_compressed:{} ql_uncompressed_size:{}",
            list.nodes().count(),
            list.len() as f64 / nodes as f64,
            config.encodings.list_max_listpack_size,
            u8::from(compressed),
            bytes
        );
    }
    let encoding = value.encoding();
    let address = value as *const Value as usize;
    let key = ctx.arg(2).to_vec();
    let db = ctx.client.db;
    let field = ctx.server.keyspace.dbs[db]
        .access_of(&key, i64::MIN)
        .unwrap_or(0);
    let clock = ctx.server.keyspace.access_clock();
    let idle_s = if clock.lfu {
        0
    } else {
        clock.idle_ms(field) / 1000
    };
    let line = format!(
        "Value at:{address:#x} refcount:{refcount} encoding:{encoding} serializedlength:{serialized} lru:{field} lru_seconds_idle:{idle_s}{extra}"
    );
    ctx.out().simple(&line);
    Ok(())
}

/// DEBUG SDSLEN key: Redis's line about a string's buffers; redoubt's
/// strings have no spare room, so `avail` is 0 and the allocation is the
/// length.
fn sdslen(ctx: &mut Ctx<'_>) -> Outcome {
    let key_len = ctx.arg(2).len();
    let value = raw_value(ctx)?;
    let Value::String(bytes) = value else {
        return Err(Error::msg("ERR Not an sds encoded string."));
    };
    if value.encoding() == "int" {
        return Err(Error::msg("ERR Not an sds encoded string."));
    }
    let len = bytes.len();
    let line = format!(
        "key_sds_len:{key_len}, key_sds_avail:0, key_zmalloc: {key_len}, val_sds_len:{len}, val_sds_avail:0, val_zmalloc: {len}"
    );
    ctx.out().simple(&line);
    Ok(())
}

/// DEBUG LISTPACK / QUICKLIST key: Redis prints the structure on its
/// standard output; redoubt writes a summary to the log.
fn structure(ctx: &mut Ctx<'_>, kind: &str) -> Outcome {
    let value = raw_value(ctx)?;
    let summary = match value {
        Value::List(list) if kind == "quicklist" => Some(format!(
            "{{quicklist {{count : {}}} {{len : {}}}}}",
            list.len(),
            list.nodes().count()
        )),
        _ if kind == "listpack" && value.encoding() == "listpack" => {
            Some(format!("{{listpack {{count : {}}}}}", value.weight()))
        }
        _ => None,
    };
    let Some(summary) = summary else {
        return Err(Error::Reply(
            format!("ERR Not a {kind} encoded object.").into(),
        ));
    };
    ctx.env.log(LogLevel::Notice, &summary);
    let mut title = kind.to_string();
    title[..1].make_ascii_uppercase();
    ctx.out()
        .simple(&format!("{title} structure printed on stdout"));
    Ok(())
}

/// DEBUG DIGEST-VALUE key ...: one digest per key, forty zeros for a
/// missing one.
fn digest_value(ctx: &mut Ctx<'_>) {
    let db = &ctx.server.keyspace.dbs[ctx.client.db];
    let digests: Vec<String> = ctx.argv[2..]
        .iter()
        .map(|key| {
            let value = db.value_raw(key);
            let has_expiry = db.expire_at_raw(key).is_some();
            digest::value_digest(value.map(|v| (v, has_expiry)))
        })
        .collect();
    let out = ctx.out();
    out.array(digests.len());
    for digest in digests {
        out.simple(&digest);
    }
}

/// DEBUG PROTOCOL type: a sample reply of each RESP type.
fn protocol(ctx: &mut Ctx<'_>) -> Outcome {
    let name = String::from_utf8_lossy(ctx.arg(2)).to_ascii_lowercase();
    let out = ctx.out();
    let resp3 = out.protocol == Protocol::Resp3;
    match name.as_str() {
        "string" => out.bulk(b"Hello World"),
        "integer" => out.int(12345),
        // Redis's sample double, not an approximation of pi.
        #[allow(clippy::approx_constant)]
        "double" => out.double(3.141),
        "bignum" => {
            const BIGNUM: &[u8] = b"1234567999999999999999999999999999999";
            if resp3 {
                out.buf.push(b'(');
                out.buf.extend_from_slice(BIGNUM);
                out.buf.extend_from_slice(b"\r\n");
            } else {
                out.bulk(BIGNUM);
            }
        }
        "null" => out.null(),
        "array" | "set" => {
            if name == "set" {
                out.set(3);
            } else {
                out.array(3);
            }
            for j in 0..3 {
                out.int(j);
            }
        }
        "map" => {
            out.map(3);
            for j in 0..3 {
                out.int(j);
                out.boolean(j == 1);
            }
        }
        "attrib" => {
            if resp3 {
                out.buf.extend_from_slice(b"|1\r\n");
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.int(90);
            }
            out.bulk(b"Some real reply following the attribute");
        }
        "push" => {
            if !resp3 {
                return Err(Error::msg("ERR RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.int(42);
            out.bulk(b"Some real reply following the push reply");
        }
        "true" => out.boolean(true),
        "false" => out.boolean(false),
        "verbatim" => out.verbatim(b"This is a verbatim\nstring"),
        _ => return Err(Error::msg("ERR Wrong protocol type name. Please use one of the following: string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false")),
    }
    Ok(())
}

/// DEBUG POPULATE count [prefix] [size]: `prefix:N` = `value:N` (padded
/// with zero bytes or cut to `size`) for each N below count whose key is
/// free; not propagated, as in Redis.
fn populate(ctx: &mut Ctx<'_>) -> Outcome {
    const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";
    let count = parse_i64(ctx.arg(2)).ok_or(Error::msg(ERR_NOT_INTEGER))?;
    if count < 0 {
        return Err(Error::msg(ERR_POSITIVE));
    }
    let size = match ctx.argv.get(4) {
        Some(word) => {
            let size = parse_i64(word).ok_or(Error::msg(ERR_NOT_INTEGER))?;
            if size < 0 {
                return Err(Error::msg(ERR_POSITIVE));
            }
            size as usize
        }
        None => 0,
    };
    let prefix = ctx.argv.get(3).map_or(&b"key"[..], Vec::as_slice).to_vec();
    let now = ctx.now_ms;
    for j in 0..count {
        let mut key = prefix.clone();
        key.extend_from_slice(format!(":{j}").as_bytes());
        if ctx.db().exists(&key, now) {
            continue;
        }
        let mut value = format!("value:{j}").into_bytes();
        if size > 0 {
            value.resize(size, 0);
        }
        ctx.db().set(&key, Value::String(value));
    }
    ctx.out().ok();
    Ok(())
}

/// DEBUG HTSTATS dbid: the sizes of a database's tables, in the shape of
/// Redis's `dictGetStats` text.
fn htstats(ctx: &mut Ctx<'_>) -> Outcome {
    let index = parse_i64(ctx.arg(2)).ok_or(Error::msg(ERR_NOT_INTEGER))?;
    let Some(db) = usize::try_from(index)
        .ok()
        .and_then(|i| ctx.server.keyspace.dbs.get(i))
    else {
        return Err(Error::msg("ERR Out of range database"));
    };
    let text = format!(
        "[Dictionary HT]\n{}[Expires HT]\n{}",
        table_stats(db.len()),
        table_stats(db.expires_len())
    );
    ctx.out().verbatim(text.as_bytes());
    Ok(())
}

/// DEBUG HTSTATS-KEY key: the same for a value held in a hash table.
fn htstats_key(ctx: &mut Ctx<'_>) -> Outcome {
    let value = raw_value(ctx)?;
    if !matches!(value.encoding(), "hashtable" | "skiplist") {
        return Err(Error::msg(
            "ERR The value stored at the specified key is not represented using an hash table",
        ));
    }
    let text = table_stats(value.weight());
    ctx.out().verbatim(text.as_bytes());
    Ok(())
}

/// A table's statistics in the words of Redis's `dictGetStats`.
fn table_stats(elements: usize) -> String {
    if elements == 0 {
        return "No stats available for empty dictionaries\n".to_string();
    }
    let size = elements.next_power_of_two().max(4);
    format!("Hash table 0 stats (main hash table):\n table size: {size}\n number of elements: {elements}\n")
}

/// Redis's STRINGMATCH-TEST: glob-matches random patterns against random
/// strings, checking only that nothing fails.
fn stringmatch_fuzz(ctx: &mut Ctx<'_>) {
    const ALPHABET: &[u8] = b"*?[]\\^-abc";
    for _ in 0..1000 {
        let pattern_len = (ctx.random() % 32) as usize;
        let text_len = (ctx.random() % 32) as usize;
        let pattern: Vec<u8> = (0..pattern_len)
            .map(|_| ALPHABET[(ctx.random() % ALPHABET.len() as u64) as usize])
            .collect();
        let text: Vec<u8> = (0..text_len).map(|_| (ctx.random() % 256) as u8).collect();
        let _ = glob_match(&pattern, &text, false);
    }
}
