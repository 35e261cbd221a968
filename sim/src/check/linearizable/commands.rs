//! What the projection knows of each command: its family, by name, and
//! the step a single-key string command makes on its key, with what its
//! reply says of the model's answer (`None`: a reply of a shape the
//! command never has).

use super::model::{Answer, Command, Condition, Expect, Lifetime, Model, Step, Ttl, NIL};
use crate::check::model::strict_int;
use crate::workload::resp::Reply;

/// How the projection treats a command, by name.
pub(super) enum Family {
    String,
    Select,
    FlushAll,
    FlushDb,
    SwapDb,
    /// Names no key and changes no data.
    Keyless,
    /// May change any key (becoming a replica, DEBUG).
    Everything,
    /// A script (EVAL, EVALSHA, FCALL and their read-only forms): may
    /// change any key it names among its arguments. Redis asks scripts to
    /// pass every key they touch in KEYS (cluster mode enforces it); the
    /// simulator's scripts do, and this leans on it: a key the workload
    /// reads is left unknown only by the scripts that name it, instead of
    /// by every script (each of which would havoc every key).
    Script,
    /// Reads a collection: changes nothing.
    CollectionRead,
    /// Changes a collection, or makes one.
    CollectionWrite,
    Unknown,
}

pub(super) fn family(name: &[u8]) -> Family {
    const STRING: &[&[u8]] = &[
        b"GET",
        b"SET",
        b"SETNX",
        b"GETSET",
        b"GETDEL",
        b"DEL",
        b"UNLINK",
        b"EXISTS",
        b"INCR",
        b"DECR",
        b"INCRBY",
        b"DECRBY",
        b"APPEND",
        b"STRLEN",
        b"MGET",
        b"MSET",
        b"MSETNX",
        b"TYPE",
        b"TTL",
        b"PTTL",
        b"EXPIRE",
        b"PEXPIRE",
        b"EXPIREAT",
        b"PEXPIREAT",
        b"PERSIST",
        b"SETEX",
        b"PSETEX",
        b"GETEX",
    ];
    const KEYLESS: &[&[u8]] = &[
        b"PING",
        b"ECHO",
        b"INFO",
        b"CONFIG",
        b"BGSAVE",
        b"SAVE",
        b"BGREWRITEAOF",
        b"SHUTDOWN",
        b"DBSIZE",
        b"WAIT",
        b"TIME",
        b"LASTSAVE",
        b"CLIENT",
        b"COMMAND",
        b"HELLO",
        b"AUTH",
        b"QUIT",
        b"SLOWLOG",
        b"LATENCY",
        b"ROLE",
        b"KEYS",
        b"SCAN",
        b"RANDOMKEY",
        b"PUBLISH",
        b"SUBSCRIBE",
        b"UNSUBSCRIBE",
        b"PSUBSCRIBE",
        b"PUNSUBSCRIBE",
        b"WATCH",
        b"UNWATCH",
    ];
    const EVERYTHING: &[&[u8]] = &[b"REPLICAOF", b"SLAVEOF", b"DEBUG", b"FAILOVER", b"RESET"];
    const SCRIPTS: &[&[u8]] = &[
        b"EVAL",
        b"EVALSHA",
        b"EVAL_RO",
        b"EVALSHA_RO",
        b"FCALL",
        b"FCALL_RO",
    ];
    const COLLECTION_READS: &[&[u8]] = &[
        b"LLEN",
        b"LRANGE",
        b"LINDEX",
        b"LPOS",
        b"HGET",
        b"HMGET",
        b"HGETALL",
        b"HKEYS",
        b"HVALS",
        b"HEXISTS",
        b"HLEN",
        b"HSTRLEN",
        b"HRANDFIELD",
        b"HSCAN",
        b"SISMEMBER",
        b"SMISMEMBER",
        b"SCARD",
        b"SMEMBERS",
        b"SRANDMEMBER",
        b"SUNION",
        b"SINTER",
        b"SDIFF",
        b"SSCAN",
        b"ZSCORE",
        b"ZMSCORE",
        b"ZRANK",
        b"ZREVRANK",
        b"ZCARD",
        b"ZCOUNT",
        b"ZRANGE",
        b"ZREVRANGE",
        b"ZRANGEBYSCORE",
        b"ZREVRANGEBYSCORE",
        b"ZSCAN",
    ];
    const COLLECTION_WRITES: &[&[u8]] = &[
        b"LPUSH",
        b"RPUSH",
        b"LPUSHX",
        b"RPUSHX",
        b"LPOP",
        b"RPOP",
        b"LREM",
        b"LTRIM",
        b"LSET",
        b"LINSERT",
        b"LMOVE",
        b"BLMOVE",
        b"RPOPLPUSH",
        b"BRPOPLPUSH",
        b"BLPOP",
        b"BRPOP",
        b"LMPOP",
        b"BLMPOP",
        b"HSET",
        b"HSETNX",
        b"HMSET",
        b"HDEL",
        b"HINCRBY",
        b"HINCRBYFLOAT",
        b"SADD",
        b"SREM",
        b"SPOP",
        b"SMOVE",
        b"SUNIONSTORE",
        b"SINTERSTORE",
        b"SDIFFSTORE",
        b"ZADD",
        b"ZINCRBY",
        b"ZREM",
        b"ZRANGESTORE",
        b"ZPOPMIN",
        b"ZPOPMAX",
        b"BZPOPMIN",
        b"BZPOPMAX",
        b"ZUNIONSTORE",
        b"ZINTERSTORE",
        b"ZDIFFSTORE",
    ];
    match name {
        b"SELECT" => Family::Select,
        b"FLUSHALL" => Family::FlushAll,
        b"FLUSHDB" => Family::FlushDb,
        b"SWAPDB" => Family::SwapDb,
        _ if STRING.contains(&name) => Family::String,
        _ if KEYLESS.contains(&name) => Family::Keyless,
        _ if EVERYTHING.contains(&name) => Family::Everything,
        _ if SCRIPTS.contains(&name) => Family::Script,
        _ if COLLECTION_READS.contains(&name) => Family::CollectionRead,
        _ if COLLECTION_WRITES.contains(&name) => Family::CollectionWrite,
        _ => Family::Unknown,
    }
}

/// A command projected onto one key.
pub(super) enum Projected {
    Steps(Vec<Step>),
    /// The reply has a shape the command never answers with.
    Unexpected,
}

/// A command the model does not hold: the key may hold anything after it.
pub(super) const HAVOC: Step = Step {
    command: Command::Havoc,
    expect: Expect::Any,
};

/// A delete whose answer says nothing: a flush as one key sees it.
pub(super) const DELETE: Command = Command::Delete { get: false };

/// The step of a single-key string command (`rest`: its arguments after
/// the key), with what its reply says.
pub(super) fn single_key_step(
    model: &mut Model,
    name: &[u8],
    rest: &[Vec<u8>],
    reply: Option<&Reply>,
) -> Projected {
    let step = |command: Command, expect: Option<Expect>| match expect {
        Some(expect) => Projected::Steps(vec![Step { command, expect }]),
        None => Projected::Unexpected,
    };
    let written = |model: &mut Model, value: &[u8], condition, get, lifetime| Command::Set {
        value: model.intern(value),
        condition,
        get,
        lifetime,
    };
    match (name, rest) {
        (b"GET", []) => step(Command::Get, expect_value(model, reply)),
        (b"STRLEN", []) => step(Command::Strlen, expect_integer(reply)),
        (b"TYPE", []) => step(Command::Exists, expect_type(reply)),
        (b"TTL" | b"PTTL", []) => step(Command::TimeToLive, expect_time_to_live(reply)),
        (b"GETDEL", []) => step(Command::Delete { get: true }, expect_value(model, reply)),
        (b"SET", [value, options @ ..]) => set(model, value, options, reply),
        (b"SETNX", [value]) => {
            let command = written(model, value, Condition::IfAbsent, false, Lifetime::Clear);
            step(command, expect_flag(reply))
        }
        (b"GETSET", [value]) => {
            let command = written(model, value, Condition::Always, true, Lifetime::Clear);
            step(command, expect_value(model, reply))
        }
        (b"SETEX" | b"PSETEX", [_, value]) => {
            let command = written(model, value, Condition::Always, false, Lifetime::Expiring);
            step(command, expect_ok(reply))
        }
        (b"INCR" | b"DECR", []) => {
            let by = if name == b"INCR" { 1 } else { -1 };
            step(Command::Increment { by: Some(by) }, expect_integer(reply))
        }
        (b"INCRBY" | b"DECRBY", [by]) => {
            let by = match name {
                b"INCRBY" => strict_int(by),
                _ => strict_int(by).and_then(i64::checked_neg),
            };
            step(Command::Increment { by }, expect_integer(reply))
        }
        (b"APPEND", [tail]) => {
            let tail = model.intern(tail);
            step(Command::Append { tail }, expect_integer(reply))
        }
        // A time already past deletes the key; an absolute one may be past
        // on the node's clock or not, which a time to live covers.
        (b"EXPIRE" | b"PEXPIRE", [amount]) => match strict_int(amount) {
            Some(amount) => step(Command::Expire { now: amount <= 0 }, expect_flag(reply)),
            None => Projected::Steps(vec![HAVOC]),
        },
        (b"EXPIREAT" | b"PEXPIREAT", [_]) => {
            step(Command::Expire { now: false }, expect_flag(reply))
        }
        (b"PERSIST", []) => step(Command::Persist, expect_flag(reply)),
        (b"GETEX", options) => match getex_lifetime(options) {
            Some(lifetime) => step(Command::GetEx { lifetime }, expect_value(model, reply)),
            None => Projected::Steps(vec![HAVOC]),
        },
        // Options the model does not know (EXPIRE NX, say).
        _ => Projected::Steps(vec![HAVOC]),
    }
}

/// What GETEX's options do to the time to live: none keep it.
fn getex_lifetime(options: &[Vec<u8>]) -> Option<Lifetime> {
    let words: Vec<Vec<u8>> = options.iter().map(|o| o.to_ascii_uppercase()).collect();
    match words.as_slice() {
        [] => Some(Lifetime::Keep),
        [persist] if persist == b"PERSIST" => Some(Lifetime::Clear),
        [unit, _] if matches!(unit.as_slice(), b"EX" | b"PX" | b"EXAT" | b"PXAT") => {
            Some(Lifetime::Expiring)
        }
        _ => None,
    }
}

/// SET with its options: NX, XX, GET, a time to live (EX, PX, EXAT, PXAT)
/// or KEEPTTL.
fn set(model: &mut Model, value: &[u8], options: &[Vec<u8>], reply: Option<&Reply>) -> Projected {
    let (mut condition, mut get, mut lifetime) = (Condition::Always, false, Lifetime::Clear);
    let mut words = options.iter().map(|o| o.to_ascii_uppercase());
    while let Some(word) = words.next() {
        match word.as_slice() {
            b"NX" if condition == Condition::Always => condition = Condition::IfAbsent,
            b"XX" if condition == Condition::Always => condition = Condition::IfPresent,
            b"GET" => get = true,
            b"KEEPTTL" if lifetime == Lifetime::Clear => lifetime = Lifetime::Keep,
            b"EX" | b"PX" | b"EXAT" | b"PXAT" if lifetime == Lifetime::Clear => {
                // The amount: an accepted one is in the future, or (an
                // absolute time) perhaps past, which a time to live covers.
                words.next();
                lifetime = Lifetime::Expiring;
            }
            _ => return Projected::Steps(vec![HAVOC]),
        }
    }
    let expect = match (get, reply) {
        (_, None) => Some(Expect::Any),
        (true, _) => expect_value(model, reply),
        (false, Some(Reply::Simple(text))) if text == b"OK" => Some(Expect::Is(Answer::Flag(true))),
        (false, Some(Reply::Bulk(None))) if condition != Condition::Always => {
            Some(Expect::Is(Answer::Flag(false)))
        }
        _ => None,
    };
    let command = Command::Set {
        value: model.intern(value),
        condition,
        get,
        lifetime,
    };
    match expect {
        Some(expect) => Projected::Steps(vec![Step { command, expect }]),
        None => Projected::Unexpected,
    }
}

/// A bulk reply as the value it names (nil is [`NIL`]).
pub(super) fn expect_value(model: &mut Model, reply: Option<&Reply>) -> Option<Expect> {
    match reply {
        None => Some(Expect::Any),
        Some(Reply::Bulk(None)) => Some(Expect::Is(Answer::Value(NIL))),
        Some(Reply::Bulk(Some(bytes))) => Some(Expect::Is(Answer::Value(model.intern(bytes)))),
        Some(_) => None,
    }
}

fn expect_integer(reply: Option<&Reply>) -> Option<Expect> {
    match reply {
        None => Some(Expect::Any),
        Some(&Reply::Integer(n)) => Some(Expect::Is(Answer::Integer(n))),
        Some(_) => None,
    }
}

/// An unconditional write's OK.
fn expect_ok(reply: Option<&Reply>) -> Option<Expect> {
    match reply {
        None => Some(Expect::Any),
        Some(Reply::Simple(text)) if text == b"OK" => Some(Expect::Is(Answer::Flag(true))),
        Some(_) => None,
    }
}

/// 1 or 0: SETNX wrote, EXPIRE found the key, PERSIST removed a time to
/// live.
fn expect_flag(reply: Option<&Reply>) -> Option<Expect> {
    match reply {
        None => Some(Expect::Any),
        Some(&Reply::Integer(n @ (0 | 1))) => Some(Expect::Is(Answer::Flag(n == 1))),
        Some(_) => None,
    }
}

/// TYPE: `string` or `none`, unless a collection command made one.
fn expect_type(reply: Option<&Reply>) -> Option<Expect> {
    match reply {
        None => Some(Expect::Any),
        Some(Reply::Simple(text)) => Some(match text.as_slice() {
            b"none" => Expect::Is(Answer::Flag(false)),
            b"string" => Expect::Is(Answer::Flag(true)),
            _ => Expect::Never("TYPE names a collection for a key holding a string or nothing"),
        }),
        Some(_) => None,
    }
}

/// TTL and PTTL: -2 (absent), -1 (no time to live), or the time left.
fn expect_time_to_live(reply: Option<&Reply>) -> Option<Expect> {
    let ttl = match reply {
        None => return Some(Expect::Any),
        Some(Reply::Integer(-2)) => Ttl::Absent,
        Some(Reply::Integer(-1)) => Ttl::Persistent,
        Some(&Reply::Integer(left)) if left >= 0 => Ttl::Expiring,
        Some(_) => return None,
    };
    Some(Expect::Is(Answer::Ttl(ttl)))
}
