//! String commands: GET, SET and its variants (SETNX, SETEX, PSETEX,
//! GETSET, GETDEL, GETEX), MGET, MSET, MSETNX, the INCR family,
//! INCRBYFLOAT, APPEND, STRLEN, GETRANGE (and its old name SUBSTR) and
//! SETRANGE, with Redis 7.0's replies and errors.
//!
//! Reads go through [`lookup_read`] so keyspace hits and misses are counted
//! as Redis counts them; writes look keys up without counting, as Redis's
//! `lookupKeyWrite` does. Expire options (EX, PX, EXAT, PXAT, KEEPTTL,
//! PERSIST) are parsed once, by [`parse_string_options`], for SET and GETEX,
//! and turned into absolute times by the shared [`expire_time_ms`].
//!
//! As in Redis 7.0, commands are propagated to the AOF and replicas in a
//! form that replays identically: SET with an expiry (and SETEX, PSETEX)
//! as `SET key value PXAT ms`, GETEX as PEXPIREAT, DEL or PERSIST, GETSET
//! as SET, GETDEL as DEL, INCRBYFLOAT as `SET key value KEEPTTL` with the
//! value it produced.

use super::keys::{
    expire_time_ms, invalid_expire_error, lookup_read, propagate_as_del, propagate_as_pexpireat,
    TimeUnit,
};
use super::{
    flag, CommandSpec, Ctx, Error, Outcome, WrongType, ERR_NOT_FLOAT, ERR_NOT_INTEGER,
    ERR_OVERFLOW, ERR_SYNTAX, ERR_WRONG_TYPE,
};
use crate::db::Value;
use crate::long_double::LongDouble;
use crate::notify::class;
use crate::resp::parse_i64;

const GROUP: &str = "string";
const WRITE_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const WRITE_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const WRITE_FAST: u32 = flag::WRITE | flag::FAST;
const READ_FAST: u32 = flag::READONLY | flag::FAST;
const GETRANGE_COMPLEXITY: &str =
    "O(N) in the length of the returned string; O(1) in practice for short ranges";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns the string stored at a key.",
        complexity: "O(1)",
        handler: get,
        subcommands: &[],
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: WRITE_DENYOOM,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Stores a string at a key, with optional expiry and conditions.",
        complexity: "O(1)",
        handler: set,
        subcommands: &[],
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Stores a string at a key only if the key does not exist.",
        complexity: "O(1)",
        handler: setnx,
        subcommands: &[],
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: WRITE_DENYOOM,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Stores a string at a key with a time to live in seconds.",
        complexity: "O(1)",
        handler: setex,
        subcommands: &[],
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: WRITE_DENYOOM,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.6.0",
        summary: "Stores a string at a key with a time to live in milliseconds.",
        complexity: "O(1)",
        handler: psetex,
        subcommands: &[],
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Stores a string at a key and returns the string it replaced.",
        complexity: "O(1)",
        handler: getset,
        subcommands: &[],
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: WRITE_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "6.2.0",
        summary: "Returns the string at a key and deletes the key.",
        complexity: "O(1)",
        handler: getdel,
        subcommands: &[],
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: WRITE_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "6.2.0",
        summary: "Returns the string at a key and optionally changes its expiry.",
        complexity: "O(1)",
        handler: getex,
        subcommands: &[],
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: READ_FAST,
        keys: (1, -1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns the strings stored at several keys.",
        complexity: "O(N) where N is the number of keys",
        handler: mget,
        subcommands: &[],
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: WRITE_DENYOOM,
        keys: (1, -1, 2),
        movable: None,
        group: GROUP,
        since: "1.0.1",
        summary: "Stores strings at several keys.",
        complexity: "O(N) where N is the number of keys",
        handler: mset,
        subcommands: &[],
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: WRITE_DENYOOM,
        keys: (1, -1, 2),
        movable: None,
        group: GROUP,
        since: "1.0.1",
        summary: "Stores strings at several keys only if none of them exists.",
        complexity: "O(N) where N is the number of keys",
        handler: msetnx,
        subcommands: &[],
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Adds one to the integer stored at a key.",
        complexity: "O(1)",
        handler: incr,
        subcommands: &[],
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Subtracts one from the integer stored at a key.",
        complexity: "O(1)",
        handler: decr,
        subcommands: &[],
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Adds an amount to the integer stored at a key.",
        complexity: "O(1)",
        handler: incrby,
        subcommands: &[],
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Subtracts an amount from the integer stored at a key.",
        complexity: "O(1)",
        handler: decrby,
        subcommands: &[],
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.6.0",
        summary: "Adds a floating point amount to the number stored at a key.",
        complexity: "O(1)",
        handler: incrbyfloat,
        subcommands: &[],
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: WRITE_DENYOOM_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Appends a string to the string stored at a key.",
        complexity: "O(1) amortized: the string's spare room doubles as it grows",
        handler: append,
        subcommands: &[],
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: READ_FAST,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.2.0",
        summary: "Returns the length of the string stored at a key.",
        complexity: "O(1)",
        handler: strlen,
        subcommands: &[],
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: flag::READONLY,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.4.0",
        summary: "Returns a substring of the string stored at a key.",
        complexity: GETRANGE_COMPLEXITY,
        handler: getrange,
        subcommands: &[],
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: flag::READONLY,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns a substring of the string stored at a key (the old name of GETRANGE).",
        complexity: GETRANGE_COMPLEXITY,
        handler: getrange,
        subcommands: &[],
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: WRITE_DENYOOM,
        keys: (1, 1, 1),
        movable: None,
        group: GROUP,
        since: "2.2.0",
        summary: "Overwrites part of the string stored at a key, padding with zero bytes.",
        complexity: "O(1) not counting the copy of the new bytes; O(M) in their length",
        handler: setrange,
        subcommands: &[],
    },
];

const ERR_STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// The bytes of a string value; `Err(WrongType)` for any other type.
fn string_bytes(value: &Value) -> Result<&Vec<u8>, WrongType> {
    match value {
        Value::String(bytes) => Ok(bytes),
        #[allow(unreachable_patterns)]
        _ => Err(WrongType),
    }
}

/// The bytes of a string value, to change in place.
fn string_bytes_mut(value: &mut Value) -> Result<&mut Vec<u8>, WrongType> {
    match value {
        Value::String(bytes) => Ok(bytes),
        #[allow(unreachable_patterns)]
        _ => Err(WrongType),
    }
}

/// Looks `key` up for writing (no hit/miss counting) and reads what `read`
/// needs of its string value: `Ok(None)` if missing, `Err` if not a string.
fn read_for_write<T>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    read: impl FnOnce(&Vec<u8>) -> T,
) -> Result<Option<T>, WrongType> {
    let now = ctx.now_ms;
    match ctx.db().get(key, now) {
        None => Ok(None),
        Some(value) => string_bytes(value).map(|bytes| Some(read(bytes))),
    }
}

/// Replies with an old value read by `Ctx::get_string`: the bulk string or
/// null.
fn reply_old_value(ctx: &mut Ctx<'_>, old: Option<Vec<u8>>) {
    match old {
        Some(bytes) => ctx.out().bulk(&bytes),
        None => ctx.out().null(),
    }
}

/// GET key: the string as a bulk reply, null if missing, WRONGTYPE if the
/// key holds another type.
fn get(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let found = lookup_read(ctx.server, ctx.client.db, key, ctx.now_ms);
    let out = &mut ctx.client.out;
    match found.map(string_bytes) {
        None => out.null(),
        Some(Ok(bytes)) => out.bulk(bytes),
        Some(Err(WrongType)) => out.error(ERR_WRONG_TYPE),
    }
    Ok(())
}

/// An expiry option of SET and GETEX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// EX seconds
    Seconds,
    /// PX milliseconds
    Milliseconds,
    /// EXAT unix-time-seconds
    AtSeconds,
    /// PXAT unix-time-milliseconds
    AtMilliseconds,
}

impl ExpireKind {
    fn from_keyword(word: &str) -> Option<Self> {
        match word {
            "EX" => Some(ExpireKind::Seconds),
            "PX" => Some(ExpireKind::Milliseconds),
            "EXAT" => Some(ExpireKind::AtSeconds),
            "PXAT" => Some(ExpireKind::AtMilliseconds),
            _ => None,
        }
    }

    fn unit(self) -> TimeUnit {
        match self {
            ExpireKind::Seconds | ExpireKind::AtSeconds => TimeUnit::Seconds,
            ExpireKind::Milliseconds | ExpireKind::AtMilliseconds => TimeUnit::Milliseconds,
        }
    }

    fn is_relative(self) -> bool {
        matches!(self, ExpireKind::Seconds | ExpireKind::Milliseconds)
    }
}

/// Which command's options [`parse_string_options`] reads: SET takes NX,
/// XX, GET and KEEPTTL; GETEX takes PERSIST; both take EX, PX, EXAT, PXAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionsOf {
    Set,
    Getex,
}

/// The options of SET or GETEX.
#[derive(Debug, Default)]
struct StringOptions<'a> {
    /// NX
    only_if_absent: bool,
    /// XX
    only_if_present: bool,
    /// GET
    reply_old_value: bool,
    /// KEEPTTL
    keep_ttl: bool,
    /// PERSIST
    persist: bool,
    /// EX, PX, EXAT or PXAT, with its unparsed argument.
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Reads SET's (from argument 3) or GETEX's (from argument 2) options with
/// Redis's rules: NX and XX exclude each other, KEEPTTL and PERSIST exclude
/// any expiry, different expiry kinds exclude each other, and repeating an
/// option is allowed (the last expiry wins). `None` means `ERR syntax
/// error`; the expiry's number is checked later, by [`resolve_expire`].
fn parse_string_options<'a>(ctx: &Ctx<'a>, command: OptionsOf) -> Option<StringOptions<'a>> {
    let set = command == OptionsOf::Set;
    let mut options = StringOptions::default();
    let mut i = if set { 3 } else { 2 };
    while i < ctx.argv.len() {
        let word = ctx.keyword(i);
        let no_expiry = options.expire.is_none();
        match word.as_str() {
            "NX" if set && !options.only_if_present => options.only_if_absent = true,
            "XX" if set && !options.only_if_absent => options.only_if_present = true,
            "GET" if set => options.reply_old_value = true,
            "KEEPTTL" if set && no_expiry => options.keep_ttl = true,
            "PERSIST" if !set && no_expiry => options.persist = true,
            _ => {
                let kind = ExpireKind::from_keyword(&word)?;
                let compatible = options.expire.is_none_or(|(other, _)| other == kind);
                let argument = ctx.argv.get(i + 1)?;
                if options.keep_ttl || options.persist || !compatible {
                    return None;
                }
                options.expire = Some((kind, argument.as_slice()));
                i += 1;
            }
        }
        i += 1;
    }
    Some(options)
}

/// The absolute expiry, in wall-clock milliseconds, an EX/PX/EXAT/PXAT
/// argument asks for. Replies with the integer error, or `ERR invalid
/// expire time in '<command>' command` if the number is not positive or
/// overflows, and returns `None`.
fn resolve_expire(ctx: &mut Ctx<'_>, kind: ExpireKind, text: &[u8]) -> Option<i64> {
    let Some(amount) = parse_i64(text) else {
        ctx.error(ERR_NOT_INTEGER);
        return None;
    };
    let base_ms = if kind.is_relative() { ctx.now_ms } else { 0 };
    let at_ms = expire_time_ms(amount, kind.unit(), base_ms).filter(|&at| amount > 0 && at > 0);
    if at_ms.is_none() {
        let error = invalid_expire_error(ctx);
        ctx.error(&error);
    }
    at_ms
}

/// How SET-like commands answer when they store or decline to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetReply {
    /// `+OK`, or null when NX/XX declined (SET, SETEX, PSETEX).
    Status,
    /// `:1` or `:0` (SETNX).
    Integer,
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT t|PXAT t|KEEPTTL]: `+OK`;
/// null if NX or XX declined; with GET, the old value (or null) whether or
/// not it stored. Errors: `ERR syntax error`, the integer error, `ERR
/// invalid expire time in 'set' command`, WRONGTYPE with GET on another
/// type.
fn set(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(options) = parse_string_options(ctx, OptionsOf::Set) else {
        return Err(Error::msg(ERR_SYNTAX));
    };
    set_generic(ctx, 2, options, SetReply::Status)
}

/// SETNX key value: `:1` if stored, `:0` if the key exists.
fn setnx(ctx: &mut Ctx<'_>) -> Outcome {
    let options = StringOptions {
        only_if_absent: true,
        ..StringOptions::default()
    };
    set_generic(ctx, 2, options, SetReply::Integer)
}

/// SETEX key seconds value: `+OK`. Errors: the integer error, `ERR invalid
/// expire time in 'setex' command`.
fn setex(ctx: &mut Ctx<'_>) -> Outcome {
    set_with_expiry(ctx, ExpireKind::Seconds)
}

/// PSETEX key milliseconds value: `+OK`. Errors: the integer error, `ERR
/// invalid expire time in 'psetex' command`.
fn psetex(ctx: &mut Ctx<'_>) -> Outcome {
    set_with_expiry(ctx, ExpireKind::Milliseconds)
}

fn set_with_expiry(ctx: &mut Ctx<'_>, kind: ExpireKind) -> Outcome {
    let options = StringOptions {
        expire: Some((kind, ctx.arg(2))),
        ..StringOptions::default()
    };
    set_generic(ctx, 3, options, SetReply::Status)
}

/// Stores argument `value_index` at argument 1 as `options` say, Redis's
/// `setGenericCommand`.
fn set_generic(
    ctx: &mut Ctx<'_>,
    value_index: usize,
    options: StringOptions<'_>,
    reply: SetReply,
) -> Outcome {
    let (key, value, now) = (ctx.arg(1), ctx.arg(value_index), ctx.now_ms);
    let expire_at = match options.expire {
        Some((kind, text)) => match resolve_expire(ctx, kind, text) {
            Some(at_ms) => Some(at_ms),
            None => return Ok(()),
        },
        None => None,
    };
    let old = if options.reply_old_value {
        ctx.get_string(key)?
    } else {
        None
    };
    let found = ctx.db().exists(key, now);
    let declined = options.only_if_absent && found || options.only_if_present && !found;
    if !declined {
        let stored = Value::String(value.to_vec());
        if options.keep_ttl {
            ctx.db().set_keep_ttl(key, stored);
        } else {
            ctx.db().put(key, stored, expire_at);
        }
        ctx.dirty(1);
        ctx.notify(class::STRING, "set", key);
        if let Some(at_ms) = expire_at {
            ctx.notify(class::GENERIC, "expire", key);
            propagate_as_set_pxat(ctx, key, value, at_ms);
        }
    }
    match reply {
        _ if options.reply_old_value => reply_old_value(ctx, old),
        SetReply::Integer => ctx.out().int(!declined as i64),
        SetReply::Status if declined => ctx.out().null(),
        SetReply::Status => ctx.out().ok(),
    }
    Ok(())
}

/// Propagates the running command as `SET key value PXAT at_ms`.
fn propagate_as_set_pxat(ctx: &mut Ctx<'_>, key: &[u8], value: &[u8], at_ms: i64) {
    let argv = vec![
        b"SET".to_vec(),
        key.to_vec(),
        value.to_vec(),
        b"PXAT".to_vec(),
        at_ms.to_string().into_bytes(),
    ];
    ctx.propagate_as(argv);
}

/// GETSET key value: the old value (or null) after storing the new one
/// without a time to live. WRONGTYPE if the key holds another type.
fn getset(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let old = match ctx.get_string(key) {
        Ok(old) => old,
        Err(WrongType) => return Err(Error::WrongType),
    };
    ctx.db().set(key, Value::String(value.to_vec()));
    ctx.notify(class::STRING, "set", key);
    ctx.dirty(1);
    ctx.propagate_as(vec![b"SET".to_vec(), key.to_vec(), value.to_vec()]);
    reply_old_value(ctx, old);
    Ok(())
}

/// GETDEL key: the value (or null), deleting the key. WRONGTYPE if the key
/// holds another type.
fn getdel(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    let old = match ctx.get_string(key) {
        Ok(old) => old,
        Err(WrongType) => return Err(Error::WrongType),
    };
    if old.is_some() {
        ctx.db().remove(key, now);
        ctx.notify(class::GENERIC, "del", key);
        ctx.dirty(1);
        propagate_as_del(ctx, key);
    }
    reply_old_value(ctx, old);
    Ok(())
}

/// GETEX key [EX s|PX ms|EXAT t|PXAT t|PERSIST]: the value (or null, when
/// nothing changes), then sets or removes its expiry; an EXAT/PXAT time
/// already past deletes the key. Errors: `ERR syntax error`, WRONGTYPE, the
/// integer error, `ERR invalid expire time in 'getex' command` (checked
/// only if the key exists, as in Redis).
fn getex(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(options) = parse_string_options(ctx, OptionsOf::Getex) else {
        return Err(Error::msg(ERR_SYNTAX));
    };
    let (key, now) = (ctx.arg(1), ctx.now_ms);
    let value = match ctx.get_string(key) {
        Ok(Some(value)) => value,
        Ok(None) => {
            ctx.out().null();
            return Ok(());
        }
        Err(WrongType) => return Err(Error::WrongType),
    };
    let expire_at = match options.expire {
        Some((kind, text)) => match resolve_expire(ctx, kind, text) {
            Some(at_ms) => Some(at_ms),
            None => return Ok(()),
        },
        None => None,
    };
    ctx.out().bulk(&value);
    match expire_at {
        Some(at_ms) if ctx.already_expired(at_ms) => {
            ctx.db().remove(key, now);
            ctx.notify(class::GENERIC, "del", key);
            ctx.dirty(1);
            propagate_as_del(ctx, key);
        }
        Some(at_ms) => {
            ctx.db().set_expire(key, at_ms);
            ctx.notify(class::GENERIC, "expire", key);
            ctx.dirty(1);
            propagate_as_pexpireat(ctx, key, at_ms);
        }
        None if options.persist && ctx.db().persist(key, now) => {
            ctx.notify(class::GENERIC, "persist", key);
            ctx.dirty(1);
            ctx.propagate_as(vec![b"PERSIST".to_vec(), key.to_vec()]);
        }
        None => {}
    }
    Ok(())
}

/// MGET key [key ...]: an array with each key's string, null for a missing
/// key or one of another type.
fn mget(ctx: &mut Ctx<'_>) -> Outcome {
    let (argv, now, db) = (ctx.argv, ctx.now_ms, ctx.client.db);
    ctx.client.out.array(argv.len() - 1);
    for key in &argv[1..] {
        let found = lookup_read(ctx.server, db, key, now);
        match found.map(string_bytes) {
            Some(Ok(bytes)) => ctx.client.out.bulk(bytes),
            _ => ctx.client.out.null(),
        }
    }
    Ok(())
}

/// MSET key value [key value ...]: `+OK`; clears the keys' times to live.
/// An odd count of arguments is the arity error.
fn mset(ctx: &mut Ctx<'_>) -> Outcome {
    mset_generic(ctx, false)
}

/// MSETNX key value [key value ...]: `:1` if all were stored, `:0` (and
/// nothing stored) if any key exists.
fn msetnx(ctx: &mut Ctx<'_>) -> Outcome {
    mset_generic(ctx, true)
}

fn mset_generic(ctx: &mut Ctx<'_>, only_if_none_exist: bool) -> Outcome {
    let (argv, now) = (ctx.argv, ctx.now_ms);
    if argv.len() % 2 == 0 {
        let command = String::from_utf8_lossy(&argv[0]).to_ascii_lowercase();
        return Err(Error::msg(&format!(
            "ERR wrong number of arguments for '{command}' command"
        )));
    }
    let pairs = argv[1..].chunks(2);
    if only_if_none_exist && pairs.clone().any(|pair| ctx.db().exists(&pair[0], now)) {
        ctx.out().int(0);
        return Ok(());
    }
    for pair in pairs {
        ctx.db().set(&pair[0], Value::String(pair[1].clone()));
        ctx.notify(class::STRING, "set", &pair[0]);
    }
    ctx.dirty((argv.len() / 2) as u64);
    if only_if_none_exist {
        ctx.out().int(1);
    } else {
        ctx.out().ok();
    }
    Ok(())
}

/// INCR key: the value after adding one. Errors: WRONGTYPE, `ERR value is
/// not an integer or out of range`, `ERR increment or decrement would
/// overflow`.
fn incr(ctx: &mut Ctx<'_>) -> Outcome {
    incr_by(ctx, 1)
}

/// DECR key: the value after subtracting one; errors as INCR.
fn decr(ctx: &mut Ctx<'_>) -> Outcome {
    incr_by(ctx, -1)
}

/// INCRBY key increment: the value after adding; errors as INCR, the
/// increment checked first.
fn incrby(ctx: &mut Ctx<'_>) -> Outcome {
    if let Some(increment) = ctx.int_arg(2) {
        return incr_by(ctx, increment);
    }
    Ok(())
}

/// DECRBY key decrement: the value after subtracting; errors as INCR, plus
/// `ERR decrement would overflow` for the smallest integer.
fn decrby(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(decrement) = ctx.int_arg(2) else {
        return Ok(());
    };
    match decrement.checked_neg() {
        Some(increment) => incr_by(ctx, increment),
        None => Err("ERR decrement would overflow".into()),
    }
}

/// Adds `increment` to the integer at argument 1 (0 if missing), keeping
/// its time to live.
fn incr_by(ctx: &mut Ctx<'_>, increment: i64) -> Outcome {
    let key = ctx.arg(1);
    let current = match read_for_write(ctx, key, |bytes| parse_i64(bytes)) {
        Err(WrongType) => Err(ERR_WRONG_TYPE),
        Ok(None) => Ok(0),
        Ok(Some(parsed)) => parsed.ok_or(ERR_NOT_INTEGER),
    };
    let result = current.and_then(|n| n.checked_add(increment).ok_or(ERR_OVERFLOW));
    match result {
        Ok(value) => {
            let text = value.to_string().into_bytes();
            ctx.db().set_keep_ttl(key, Value::String(text));
            ctx.notify(class::STRING, "incrby", key);
            ctx.dirty(1);
            ctx.out().int(value);
        }
        Err(error) => ctx.error(error),
    }
    Ok(())
}

/// INCRBYFLOAT key increment: the new value as a bulk string, stored as
/// that text and keeping the time to live. Both numbers are read, added
/// and printed as Redis does with a C long double ([`LongDouble`]).
/// Errors: WRONGTYPE, `ERR value is not a valid float` (for the stored
/// value or the increment), `ERR increment would produce NaN or Infinity`.
fn incrbyfloat(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let current = match read_for_write(ctx, key, |bytes| LongDouble::parse(bytes)) {
        Err(WrongType) => return Err(Error::WrongType),
        Ok(None) => Some(LongDouble::ZERO),
        Ok(Some(parsed)) => parsed,
    };
    let (Some(current), Some(increment)) = (current, LongDouble::parse(ctx.arg(2))) else {
        return Err(Error::msg(ERR_NOT_FLOAT));
    };
    let text = float_sum_text(current, increment)?.into_bytes();
    ctx.out().bulk(&text);
    let argv = vec![
        b"SET".to_vec(),
        key.to_vec(),
        text.clone(),
        b"KEEPTTL".to_vec(),
    ];
    ctx.db().set_keep_ttl(key, Value::String(text));
    ctx.notify(class::STRING, "incrbyfloat", key);
    ctx.dirty(1);
    ctx.propagate_as(argv);
    Ok(())
}

/// The text INCRBYFLOAT and HINCRBYFLOAT store: the sum as Redis's
/// `ld2string` prints it in its human mode. Error: `ERR increment would
/// produce NaN or Infinity`.
pub(crate) fn float_sum_text(current: LongDouble, increment: LongDouble) -> Result<String, Error> {
    match current.plus(increment) {
        Some(sum) if sum.is_finite() => Ok(sum.to_human_text()),
        _ => Err(Error::msg("ERR increment would produce NaN or Infinity")),
    }
}

/// Replies with the string-too-long error unless `length` fits in
/// `proto-max-bulk-len`; false after replying.
fn check_string_length(ctx: &mut Ctx<'_>, length: Option<usize>) -> bool {
    let limit = ctx.server.config.proto_max_bulk_len;
    let fits = length.is_some_and(|length| (length as u64) <= limit.max(0) as u64);
    if !fits {
        ctx.error(ERR_STRING_TOO_LONG);
    }
    fits
}

/// APPEND key value: the length after appending (creating the key if
/// missing). Errors: WRONGTYPE, `ERR string exceeds maximum allowed size
/// (proto-max-bulk-len)`.
fn append(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, suffix, now) = (ctx.arg(1), ctx.arg(2), ctx.now_ms);
    let length = match read_for_write(ctx, key, Vec::len) {
        Err(WrongType) => return Err(Error::WrongType),
        Ok(None) => {
            ctx.db().set(key, Value::String(suffix.to_vec()));
            suffix.len()
        }
        Ok(Some(length)) => {
            if !check_string_length(ctx, length.checked_add(suffix.len())) {
                return Ok(());
            }
            let value = ctx.db().get_mut(key, now).expect("key checked live");
            let bytes = string_bytes_mut(value).expect("type checked");
            bytes.extend_from_slice(suffix);
            bytes.len()
        }
    };
    ctx.notify(class::STRING, "append", key);
    ctx.dirty(1);
    ctx.out().int(length as i64);
    Ok(())
}

/// STRLEN key: the string's length, `:0` if missing; WRONGTYPE.
fn strlen(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let found = lookup_read(ctx.server, ctx.client.db, key, ctx.now_ms);
    match found.map(string_bytes) {
        None => ctx.client.out.int(0),
        Some(Ok(bytes)) => ctx.client.out.int(bytes.len() as i64),
        Some(Err(WrongType)) => ctx.client.out.error(ERR_WRONG_TYPE),
    }
    Ok(())
}

/// The bytes from `start` to `end` inclusive, negative positions counting
/// from the end, clamped to the string, as Redis's GETRANGE computes them.
fn substring(bytes: &[u8], start: i64, end: i64) -> &[u8] {
    let length = bytes.len() as i64;
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let start = if start < 0 { length + start } else { start }.max(0);
    let end = if end < 0 { length + end } else { end }
        .max(0)
        .min(length - 1);
    if length == 0 || start > end {
        return &[];
    }
    &bytes[start as usize..=end as usize]
}

/// GETRANGE key start end (and SUBSTR): the substring, an empty bulk string
/// if the key is missing or the range empty. Errors: the integer error,
/// WRONGTYPE.
fn getrange(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(start) = ctx.int_arg(2) else {
        return Ok(());
    };
    let Some(end) = ctx.int_arg(3) else {
        return Ok(());
    };
    let key = ctx.arg(1);
    let found = lookup_read(ctx.server, ctx.client.db, key, ctx.now_ms);
    match found.map(string_bytes) {
        None => ctx.client.out.bulk(b""),
        Some(Ok(bytes)) => ctx.client.out.bulk(substring(bytes, start, end)),
        Some(Err(WrongType)) => ctx.client.out.error(ERR_WRONG_TYPE),
    }
    Ok(())
}

/// SETRANGE key offset value: the string's length after writing `value` at
/// `offset`, padding with zero bytes; writing nothing changes nothing.
/// Errors: the integer error, `ERR offset is out of range` for a negative
/// offset, WRONGTYPE, `ERR string exceeds maximum allowed size
/// (proto-max-bulk-len)`.
fn setrange(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(offset) = ctx.int_arg(2) else {
        return Ok(());
    };
    let Ok(offset) = usize::try_from(offset) else {
        return Err(Error::msg("ERR offset is out of range"));
    };
    let (key, patch, now) = (ctx.arg(1), ctx.arg(3), ctx.now_ms);
    let length = match read_for_write(ctx, key, Vec::len) {
        Err(WrongType) => return Err(Error::WrongType),
        Ok(length) => length,
    };
    if patch.is_empty() {
        ctx.out().int(length.unwrap_or(0) as i64);
        return Ok(());
    }
    let end = offset.checked_add(patch.len());
    if !check_string_length(ctx, end) {
        return Ok(());
    }
    let end = end.expect("length checked");
    if length.is_none() {
        ctx.db().set(key, Value::String(Vec::new()));
    }
    let value = ctx
        .db()
        .get_mut(key, now)
        .expect("key live or just created");
    let bytes = string_bytes_mut(value).expect("type checked");
    if bytes.len() < end {
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(patch);
    let length = bytes.len();
    ctx.notify(class::STRING, "setrange", key);
    ctx.dirty(1);
    ctx.out().int(length as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // INCRBYFLOAT's sums print as Redis 7.0.15 prints them, digits of the
    // long double past a double's 17 included.
    #[test]
    fn float_sums_match_redis() {
        let cases = [
            ("0.1", "0.2", "0.3"),
            ("10.5", "0.1", "10.6"),
            ("5.0e3", "2.0e2", "5200"),
            ("-1", "1.1", "0.1"),
            ("5200", "-5200", "0"),
            ("-0", "-0", "0"),
            ("0", "1e-20", "0"),
            ("69655", "0.1", "69655.10000000000000142"),
            ("9223372036854775808", "1", "9223372036854775809"),
            ("0x10", "-2.5", "13.5"),
            ("0", "1.2345678e-12", "0.00000000000123457"),
        ];
        for (current, increment, expected) in cases {
            let parse = |text: &str| LongDouble::parse(text.as_bytes()).expect("a number");
            let text = float_sum_text(parse(current), parse(increment)).expect("finite");
            assert_eq!(text, expected, "{current} + {increment}");
        }
        let infinite = LongDouble::parse(b"inf").expect("inf is a number");
        assert!(float_sum_text(LongDouble::ZERO, infinite).is_err());
    }

    // GETRANGE's clamping of positions.
    #[test]
    fn substring_clamps() {
        let text = b"Hello World";
        assert_eq!(substring(text, 0, 4), b"Hello");
        assert_eq!(substring(text, -3, -1), b"rld");
        assert_eq!(substring(text, 0, -1), text);
        assert_eq!(substring(text, 10, 100), b"d");
        assert_eq!(substring(text, -5, -10), b"");
        assert_eq!(substring(text, 5, 3), b"");
        assert_eq!(substring(b"", 0, -1), b"");
        assert_eq!(substring(text, i64::MIN, i64::MAX), text);
    }
}
