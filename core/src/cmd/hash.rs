//! Hash commands: HSET, HSETNX, HGET, HMSET, HMGET, HDEL, HLEN, HEXISTS,
//! HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HSTRLEN, HSCAN and
//! HRANDFIELD, with Redis 7.0's replies and errors (`t_hash.c`).
//!
//! As in Redis, a command that sets fields first converts a listpack hash
//! whose new fields or values are too long ([`Hash::convert_for`]), then
//! sets them one by one. HINCRBYFLOAT reads, adds and prints as INCRBYFLOAT
//! does, in long double ([`LongDouble`]) and is propagated as `HSET key field value` with the
//! value it produced, so a replay cannot round differently. Commands that
//! may change nothing look their key up first without signalling a
//! change ([`Ctx::lookup_write`]); changes are counted as Redis counts
//! `server.dirty` (HSET counts every pair, new or not).

use super::keys::{
    parse_scan_options, reply_scan, scan_cursor_arg, scan_loop, SCAN_BUCKETS_PER_KEY_MAX,
};
use super::set::distinct_draws;
use super::string::float_sum_text;
use super::{
    flag, reply_overflowing, CommandSpec, Ctx, Error, Outcome, ERR_NOT_FLOAT, ERR_NOT_INTEGER,
    ERR_OVERFLOW, ERR_SYNTAX,
};
use crate::client::Client;
use crate::db::value::listpack::Entry;
use crate::db::value::Hash;
use crate::long_double::LongDouble;
use crate::notify::class;
use crate::resp::{parse_i64, Out, Protocol};

const GROUP: &str = "hash";
const WRITE_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const WRITE_FAST: u32 = flag::WRITE | flag::FAST;
const READ_FAST: u32 = flag::READONLY | flag::FAST;
const READ: u32 = flag::READONLY;
const WHOLE_HASH: &str = "O(N) where N is the hash's size";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE_DENYOOM_FAST, hset)
        .key(1)
        .doc(
            GROUP,
            "2.0.0",
            "Sets fields of a hash to values, creating the hash if needed.",
            "O(1) for each field set",
        ),
    CommandSpec::new("hsetnx", 4, WRITE_DENYOOM_FAST, hsetnx)
        .key(1)
        .doc(
            GROUP,
            "2.0.0",
            "Sets a field of a hash only if the field does not exist.",
            "O(1)",
        ),
    CommandSpec::new("hget", 3, READ_FAST, hget).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns the value of a field of a hash.",
        "O(1)",
    ),
    CommandSpec::new("hmset", -4, WRITE_DENYOOM_FAST, hmset)
        .key(1)
        .doc(
            GROUP,
            "2.0.0",
            "Sets fields of a hash to values (the old form of HSET, replying OK).",
            "O(N) where N is the number of fields set",
        ),
    CommandSpec::new("hmget", -3, READ_FAST, hmget).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns the values of several fields of a hash.",
        "O(N) where N is the number of fields asked for",
    ),
    CommandSpec::new("hdel", -3, WRITE_FAST, hdel).key(1).doc(
        GROUP,
        "2.0.0",
        "Removes fields from a hash, deleting it once empty.",
        "O(N) where N is the number of fields to remove",
    ),
    CommandSpec::new("hlen", 2, READ_FAST, hlen).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns the number of fields of a hash.",
        "O(1)",
    ),
    CommandSpec::new("hexists", 3, READ_FAST, hexists)
        .key(1)
        .doc(GROUP, "2.0.0", "Tells whether a hash has a field.", "O(1)"),
    CommandSpec::new("hkeys", 2, READ, hkeys).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns every field of a hash.",
        WHOLE_HASH,
    ),
    CommandSpec::new("hvals", 2, READ, hvals).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns every value of a hash.",
        WHOLE_HASH,
    ),
    CommandSpec::new("hgetall", 2, READ, hgetall).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns every field of a hash with its value.",
        WHOLE_HASH,
    ),
    CommandSpec::new("hincrby", 4, WRITE_DENYOOM_FAST, hincrby)
        .key(1)
        .doc(
            GROUP,
            "2.0.0",
            "Adds an integer to the integer value of a field of a hash.",
            "O(1)",
        ),
    CommandSpec::new("hincrbyfloat", 4, WRITE_DENYOOM_FAST, hincrbyfloat)
        .key(1)
        .doc(
            GROUP,
            "2.6.0",
            "Adds a floating point number to the number value of a field of a hash.",
            "O(1)",
        ),
    CommandSpec::new("hstrlen", 3, READ_FAST, hstrlen)
        .key(1)
        .doc(
            GROUP,
            "3.2.0",
            "Returns the length of the value of a field of a hash.",
            "O(1)",
        ),
    CommandSpec::new("hscan", -3, READ, hscan).key(1).doc(
        GROUP,
        "2.8.0",
        "Walks a hash a few fields at a time with a cursor.",
        "O(1) per call; O(N) over a complete iteration back to cursor 0",
    ),
    CommandSpec::new("hrandfield", -2, READ, hrandfield)
        .key(1)
        .doc(
            GROUP,
            "6.2.0",
            "Returns one or more fields picked at random, distinct for a positive count.",
            "O(N) where N is the number of fields returned",
        ),
];

/// HRANDFIELD with a positive count copies the hash and removes random
/// fields while the hash is less than three times the count; else it
/// draws distinct fields (HRANDFIELD_SUB_STRATEGY_MUL).
const HRANDFIELD_SUB_STRATEGY_MUL: u64 = 3;

/// HSET key field value [field value ...]: how many fields were new.
/// Errors: WRONGTYPE, the arity error for a field without its value.
fn hset(ctx: &mut Ctx<'_>) -> Outcome {
    let created = set_pairs(ctx)?;
    ctx.out().int(created as i64);
    Ok(())
}

/// HMSET key field value [field value ...]: `+OK`; otherwise as HSET.
fn hmset(ctx: &mut Ctx<'_>) -> Outcome {
    set_pairs(ctx)?;
    ctx.out().ok();
    Ok(())
}

/// Sets the field/value pairs from argument 2 on, Redis's `hsetCommand`;
/// returns how many fields were new. Every pair counts as a change.
fn set_pairs(ctx: &mut Ctx<'_>) -> Result<usize, Error> {
    let (key, pairs) = (ctx.arg(1), &ctx.argv[2..]);
    if pairs.len() % 2 != 0 {
        let command = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
        return Err(format!("ERR wrong number of arguments for '{command}' command").into());
    }
    let limits = ctx.server.config.encodings;
    let hash = ctx.write_or_create::<Hash>(key)?;
    hash.convert_for(pairs.iter().map(Vec::as_slice), &limits);
    let created = pairs
        .chunks(2)
        .filter(|pair| hash.set(&pair[0], &pair[1], &limits))
        .count();
    ctx.notify(class::HASH, "hset", key);
    ctx.dirty((pairs.len() / 2) as u64);
    Ok(created)
}

/// HSETNX key field value: `:1` if the field was set, `:0` if it exists.
/// Errors: WRONGTYPE.
fn hsetnx(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field, value) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    if ctx
        .lookup_write::<Hash>(key)?
        .is_some_and(|hash| hash.contains(field))
    {
        ctx.out().int(0);
        return Ok(());
    }
    let limits = ctx.server.config.encodings;
    let hash = ctx.write_or_create::<Hash>(key)?;
    hash.convert_for([field, value].into_iter(), &limits);
    hash.set(field, value, &limits);
    ctx.notify(class::HASH, "hset", key);
    ctx.dirty(1);
    ctx.out().int(1);
    Ok(())
}

/// HGET key field: the value, null if the field or the key is missing.
/// Errors: WRONGTYPE.
fn hget(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    match db.read::<Hash>(key)?.and_then(|hash| hash.get(field)) {
        Some(value) => bulk_entry(out, value),
        None => out.null(),
    }
    Ok(())
}

/// HMGET key field [field ...]: an array with each field's value, null
/// for a missing one (all null for a missing key). Errors: WRONGTYPE.
fn hmget(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, fields) = (ctx.arg(1), &ctx.argv[2..]);
    let (mut db, out) = ctx.split();
    let hash = db.read::<Hash>(key)?;
    out.array(fields.len());
    for field in fields {
        match hash.and_then(|hash| hash.get(field)) {
            Some(value) => bulk_entry(out, value),
            None => out.null(),
        }
    }
    Ok(())
}

/// HDEL key field [field ...]: how many fields were removed; the key goes
/// once the hash is empty. Errors: WRONGTYPE.
fn hdel(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, fields) = (ctx.arg(1), &ctx.argv[2..]);
    let removes = ctx
        .lookup_write::<Hash>(key)?
        .is_some_and(|hash| fields.iter().any(|field| hash.contains(field)));
    let mut removed = 0;
    if removes {
        let hash = ctx.write::<Hash>(key)?.expect("looked up above");
        for field in fields {
            if hash.remove(field) {
                removed += 1;
                if hash.is_empty() {
                    break;
                }
            }
        }
        ctx.notify(class::HASH, "hdel", key);
        ctx.drop_if_empty(key);
    }
    ctx.dirty(removed);
    ctx.out().int(removed as i64);
    Ok(())
}

/// HLEN key: the number of fields, `:0` for a missing key. Errors:
/// WRONGTYPE.
fn hlen(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let (mut db, out) = ctx.split();
    out.int(db.read::<Hash>(key)?.map_or(0, Hash::len) as i64);
    Ok(())
}

/// HEXISTS key field: `:1` or `:0`. Errors: WRONGTYPE.
fn hexists(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    let found = db
        .read::<Hash>(key)?
        .is_some_and(|hash| hash.contains(field));
    out.int(found as i64);
    Ok(())
}

/// HSTRLEN key field: the length of the field's value, `:0` if the field
/// or the key is missing. Errors: WRONGTYPE.
fn hstrlen(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    let length = db
        .read::<Hash>(key)?
        .and_then(|hash| hash.get(field))
        .map_or(0, |value| value.text_len());
    out.int(length as i64);
    Ok(())
}

/// Which halves of the pairs HKEYS, HVALS and HGETALL reply with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Halves {
    Fields,
    Values,
    Both,
}

/// HKEYS key: every field, an empty array for a missing key.
fn hkeys(ctx: &mut Ctx<'_>) -> Outcome {
    reply_whole(ctx, Halves::Fields)
}

/// HVALS key: every value, an empty array for a missing key.
fn hvals(ctx: &mut Ctx<'_>) -> Outcome {
    reply_whole(ctx, Halves::Values)
}

/// HGETALL key: every field and its value, as a map (a flat array in
/// RESP2); empty for a missing key.
fn hgetall(ctx: &mut Ctx<'_>) -> Outcome {
    reply_whole(ctx, Halves::Both)
}

/// Redis's `genericHgetallCommand`. Errors: WRONGTYPE.
fn reply_whole(ctx: &mut Ctx<'_>, halves: Halves) -> Outcome {
    let key = ctx.arg(1);
    let (mut db, out) = ctx.split();
    let hash = db.read::<Hash>(key)?;
    let size = hash.map_or(0, Hash::len);
    match halves {
        Halves::Both => out.map(size),
        Halves::Fields | Halves::Values => out.array(size),
    }
    for (field, value) in hash.into_iter().flat_map(Hash::iter) {
        if halves != Halves::Values {
            bulk_entry(out, field);
        }
        if halves != Halves::Fields {
            bulk_entry(out, value);
        }
    }
    Ok(())
}

/// HINCRBY key field increment: the value after adding `increment` to the
/// field's integer (0 for a missing field). Errors: the integer error for
/// the increment, WRONGTYPE, `ERR hash value is not an integer`, `ERR
/// increment or decrement would overflow`.
fn hincrby(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let increment = parse_i64(ctx.arg(3)).ok_or(ERR_NOT_INTEGER)?;
    let current = match ctx
        .lookup_write::<Hash>(key)?
        .and_then(|hash| hash.get(field))
    {
        Some(value) => value.as_i64().ok_or("ERR hash value is not an integer")?,
        None => 0,
    };
    let value = current.checked_add(increment).ok_or(ERR_OVERFLOW)?;
    let limits = ctx.server.config.encodings;
    let text = value.to_string();
    ctx.write_or_create::<Hash>(key)?
        .set(field, text.as_bytes(), &limits);
    ctx.notify(class::HASH, "hincrby", key);
    ctx.dirty(1);
    ctx.out().int(value);
    Ok(())
}

/// HINCRBYFLOAT key field increment: the field's number after adding
/// `increment` (0 for a missing field), as a bulk string printed as
/// INCRBYFLOAT prints. Errors: `ERR value is not a valid float` for the
/// increment, `ERR value is NaN or Infinity` for an infinite one,
/// WRONGTYPE, `ERR hash value is not a float`, `ERR increment would
/// produce NaN or Infinity`.
fn hincrbyfloat(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let increment = LongDouble::parse(ctx.arg(3)).ok_or(ERR_NOT_FLOAT)?;
    if !increment.is_finite() {
        return Err("ERR value is NaN or Infinity".into());
    }
    let current = match ctx
        .lookup_write::<Hash>(key)?
        .and_then(|hash| hash.get(field))
    {
        Some(value) => LongDouble::parse(&value.to_vec()).ok_or("ERR hash value is not a float")?,
        None => LongDouble::ZERO,
    };
    let text = float_sum_text(current, increment)?.into_bytes();
    let limits = ctx.server.config.encodings;
    ctx.write_or_create::<Hash>(key)?.set(field, &text, &limits);
    ctx.notify(class::HASH, "hincrbyfloat", key);
    ctx.dirty(1);
    ctx.out().bulk(&text);
    ctx.propagate_as(vec![b"HSET".to_vec(), key.to_vec(), field.to_vec(), text]);
    Ok(())
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a
/// flat array of fields and values; a listpack's pairs all at once with
/// cursor 0. MATCH applies to fields. Every field present for a whole scan
/// is returned at least once. Errors: `ERR invalid cursor`, WRONGTYPE,
/// `ERR syntax error`, the integer error.
fn hscan(ctx: &mut Ctx<'_>) -> Outcome {
    let cursor = scan_cursor_arg(ctx, 2)?;
    let key = ctx.arg(1);
    if ctx.read::<Hash>(key)?.is_none() {
        reply_scan::<&[u8]>(ctx, 0, &[]);
        return Ok(());
    }
    let options = parse_scan_options(ctx, 3, false)?;
    let hash = ctx.lookup_write::<Hash>(key)?.expect("read above");
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    // Redis doubles COUNT for a hash (it counts fields and values), and so
    // the steps it allows.
    let steps_max = options
        .count
        .saturating_mul(2)
        .saturating_mul(SCAN_BUCKETS_PER_KEY_MAX);
    let cursor = scan_loop(
        cursor,
        options.count,
        steps_max,
        &mut found,
        |cursor, found| {
            hash.scan_step(cursor, |field, value| {
                found.push((field.to_vec(), value.to_vec()));
            })
        },
    );
    let elements: Vec<Vec<u8>> = found
        .into_iter()
        .filter(|(field, _)| options.matches(field))
        .flat_map(|(field, value)| [field, value])
        .collect();
    reply_scan(ctx, cursor, &elements);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]: without a count, one field at
/// random (null for a missing key); with a positive count, up to `count`
/// distinct fields; with a negative one, exactly `-count` fields, repeats
/// allowed. WITHVALUES adds each value: after its field in RESP2, as a
/// [field, value] pair in RESP3. Errors: the integer error, Redis's range
/// errors (`-2^63`; beyond ±2^62 with WITHVALUES, `ERR value is out of
/// range`), `ERR syntax error`, WRONGTYPE.
fn hrandfield(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    if ctx.argv.len() >= 3 {
        let count = ctx.range_arg(2, -i64::MAX, i64::MAX, None)?;
        let with_values = match ctx.argv.len() {
            3 => false,
            4 if ctx.keyword(3) == "WITHVALUES" => true,
            _ => return Err(ERR_SYNTAX.into()),
        };
        if with_values && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err("ERR value is out of range".into());
        }
        return hrandfield_count(ctx, count, with_values);
    }
    if ctx.read::<Hash>(key)?.is_none() {
        ctx.out().null();
        return Ok(());
    }
    let (hash, client, env) = ctx.read_with_random::<Hash>(key);
    let (field, _) = hash
        .expect("read above")
        .random_pair(&mut || env.random_u64());
    bulk_entry(&mut client.out, field);
    Ok(())
}

/// HRANDFIELD key count [WITHVALUES], as Redis's
/// `hrandfieldWithCountCommand`.
fn hrandfield_count(ctx: &mut Ctx<'_>, count: i64, with_values: bool) -> Outcome {
    let key = ctx.arg(1);
    if ctx.read::<Hash>(key)?.is_none() || count == 0 {
        ctx.out().array(0);
        return Ok(());
    }
    let (hash, client, env) = ctx.read_with_random::<Hash>(key);
    let hash = hash.expect("read above");
    let mut random = || env.random_u64();
    let (wanted, distinct) = (count.unsigned_abs(), count > 0);
    let size = hash.len() as u64;
    let pairs_in_resp2 = with_values && client.out.protocol == Protocol::Resp2;
    let reply_size = if distinct { wanted.min(size) } else { wanted };
    client.out.array(if pairs_in_resp2 {
        reply_size as usize * 2
    } else {
        reply_size as usize
    });
    if !distinct || wanted == 1 {
        hash.random_pairs(wanted, &mut random, |field, value| {
            reply_pair(client, field, value, with_values);
            !reply_overflowing(client)
        });
        return Ok(());
    }
    let chosen: Vec<(Entry<'_>, Entry<'_>)> = if wanted >= size {
        hash.iter().collect()
    } else if wanted * HRANDFIELD_SUB_STRATEGY_MUL > size {
        let mut all: Vec<(Entry<'_>, Entry<'_>)> = hash.iter().collect();
        while all.len() as u64 > wanted {
            let index = (random() % all.len() as u64) as usize;
            all.swap_remove(index);
        }
        all
    } else if hash.is_listpack() {
        // Redis's `lpRandomPairsUnique`: each pair in turn, taken with the
        // chance that leaves exactly `wanted` in the end, in listpack order.
        let mut left = wanted;
        let mut chosen = Vec::with_capacity(wanted as usize);
        for (index, pair) in hash.iter().enumerate() {
            if left > 0 && random() % (size - index as u64) < left {
                chosen.push(pair);
                left -= 1;
            }
        }
        chosen
    } else {
        let draw = || hash.random_pair(&mut random);
        distinct_draws(wanted as usize, draw, |(field, _)| field.to_vec())
    };
    for (field, value) in chosen {
        reply_pair(client, field, value, with_values);
    }
    Ok(())
}

/// One HRANDFIELD element: the field, or with values the field and its
/// value (a nested pair in RESP3).
fn reply_pair(client: &mut Client, field: Entry<'_>, value: Entry<'_>, with_values: bool) {
    if with_values && client.out.protocol == Protocol::Resp3 {
        client.out.array(2);
    }
    bulk_entry(&mut client.out, field);
    if with_values {
        bulk_entry(&mut client.out, value);
    }
}

/// A field or value as a bulk string (an integer the listpack holds as its
/// decimal text).
fn bulk_entry(out: &mut Out, entry: Entry<'_>) {
    match entry {
        Entry::Int(value) => out.bulk_i64(value),
        Entry::Bytes(bytes) => out.bulk(bytes),
    }
}
