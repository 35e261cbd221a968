//! Set commands: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD, SPOP,
//! SRANDMEMBER, SMOVE, SINTER, SUNION, SDIFF and their STORE forms,
//! SINTERCARD and SSCAN, with Redis 7.0's replies, errors and algorithms
//! (`t_set.c`).
//!
//! The algorithms are Redis's where the choice is observable: which
//! members a random draw returns depends on the seeded source, but the
//! encoding a result ends in depends on the order members were added (a
//! difference computed by adding the first set and removing the others
//! may pass `set-max-intset-entries` on the way and stay a table), so
//! SDIFF picks its algorithm and SPOP its strategy as Redis does.
//!
//! Commands that may change nothing look their key up first without
//! signalling a change ([`Ctx::lookup_write`]), so WATCH and snapshots see
//! a change only when there is one, as Redis's `signalModifiedKey` calls
//! say. Changes are counted as Redis counts `server.dirty`. SPOP is
//! propagated as SREM (one per member, wrapped in MULTI/EXEC when more than
//! one, as 7.0's `alsoPropagate`) or as DEL when it empties the set.

use super::keys::{
    parse_scan_options, reply_scan, scan_cursor_arg, scan_loop, SCAN_BUCKETS_PER_KEY_MAX,
};
use super::{
    flag, keys_counted_at_1, reply_overflowing, CommandSpec, Ctx, Error, Outcome, ERR_SYNTAX,
};
use crate::db::value::Set;
use crate::db::Value;
use crate::notify::class;

const GROUP: &str = "set";
const WRITE_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const WRITE_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const WRITE_FAST: u32 = flag::WRITE | flag::FAST;
const READ_FAST: u32 = flag::READONLY | flag::FAST;
const READ: u32 = flag::READONLY;
const SCAN_COMPLEXITY: &str = "O(1) per call; O(N) over a complete iteration back to cursor 0";
const INTER_COMPLEXITY: &str =
    "O(N*M) worst case, N the smallest set's size and M the number of sets";
const UNION_COMPLEXITY: &str = "O(N) where N is the total number of members of all the sets";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, WRITE_DENYOOM_FAST, sadd)
        .key(1)
        .doc(
            GROUP,
            "1.0.0",
            "Adds members to a set, creating it if needed.",
            "O(1) for each member added",
        ),
    CommandSpec::new("srem", -3, WRITE_FAST, srem).key(1).doc(
        GROUP,
        "1.0.0",
        "Removes members from a set, deleting it once empty.",
        "O(N) where N is the number of members to remove",
    ),
    CommandSpec::new("sismember", 3, READ_FAST, sismember)
        .key(1)
        .doc(
            GROUP,
            "1.0.0",
            "Tells whether a string is a member of a set.",
            "O(1)",
        ),
    CommandSpec::new("smismember", -3, READ_FAST, smismember)
        .key(1)
        .doc(
            GROUP,
            "6.2.0",
            "Tells, for each of several strings, whether it is a member of a set.",
            "O(N) where N is the number of strings checked",
        ),
    CommandSpec::new("smembers", 2, READ, smembers).key(1).doc(
        GROUP,
        "1.0.0",
        "Returns every member of a set.",
        "O(N) where N is the set's size",
    ),
    CommandSpec::new("scard", 2, READ_FAST, scard).key(1).doc(
        GROUP,
        "1.0.0",
        "Returns the number of members of a set.",
        "O(1)",
    ),
    CommandSpec::new("spop", -2, WRITE_FAST, spop).key(1).doc(
        GROUP,
        "1.0.0",
        "Removes and returns one or more members picked at random.",
        "O(1) without a count, else O(N) where N is the count",
    ),
    CommandSpec::new("srandmember", -2, READ, srandmember)
        .key(1)
        .doc(
            GROUP,
            "1.0.0",
            "Returns one or more members picked at random, distinct for a positive count.",
            "O(1) without a count, else O(N) where N is the count's absolute value",
        ),
    CommandSpec::new("smove", 4, WRITE_FAST, smove)
        .keys(1, 2, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Moves a member from one set to another.",
            "O(1)",
        ),
    CommandSpec::new("sinter", -2, READ, sinter)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Returns the members every one of the sets holds.",
            INTER_COMPLEXITY,
        ),
    CommandSpec::new("sunion", -2, READ, sunion)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Returns the members any of the sets holds.",
            UNION_COMPLEXITY,
        ),
    CommandSpec::new("sdiff", -2, READ, sdiff)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Returns the members of the first set that none of the others holds.",
            UNION_COMPLEXITY,
        ),
    CommandSpec::new("sinterstore", -3, WRITE_DENYOOM, sinterstore)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Stores the intersection of sets at a key.",
            INTER_COMPLEXITY,
        ),
    CommandSpec::new("sunionstore", -3, WRITE_DENYOOM, sunionstore)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Stores the union of sets at a key.",
            UNION_COMPLEXITY,
        ),
    CommandSpec::new("sdiffstore", -3, WRITE_DENYOOM, sdiffstore)
        .keys(1, -1, 1)
        .doc(
            GROUP,
            "1.0.0",
            "Stores the difference of sets at a key.",
            UNION_COMPLEXITY,
        ),
    CommandSpec::new("sintercard", -3, READ, sintercard)
        .movable(keys_counted_at_1)
        .doc(
            GROUP,
            "7.0.0",
            "Counts the members every one of the sets holds, up to a limit.",
            INTER_COMPLEXITY,
        ),
    CommandSpec::new("sscan", -3, READ, sscan).key(1).doc(
        GROUP,
        "2.8.0",
        "Walks a set a few members at a time with a cursor.",
        SCAN_COMPLEXITY,
    ),
];

/// SPOP removes members one by one while what stays is more than a fifth
/// of what goes; else it draws the members that stay into a new set
/// (Redis's SPOP_MOVE_STRATEGY_MUL).
const SPOP_MOVE_STRATEGY_MUL: u64 = 5;
/// SRANDMEMBER with a positive count copies the set and removes random
/// members while the set is less than three times the count; else it
/// draws until it has enough distinct ones (SRANDMEMBER_SUB_STRATEGY_MUL).
const SRANDMEMBER_SUB_STRATEGY_MUL: u64 = 3;

/// SADD key member [member ...]: how many members were new.
/// Errors: WRONGTYPE.
fn sadd(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, members) = (ctx.arg(1), &ctx.argv[2..]);
    let limits = ctx.server.config.encodings;
    let adds = match ctx.lookup_write::<Set>(key)? {
        None => true,
        Some(set) => members.iter().any(|member| !set.contains(member)),
    };
    let mut added = 0;
    if adds {
        let set = ctx.write_or_create::<Set>(key)?;
        added = members.iter().filter(|m| set.add(m, &limits)).count();
    }
    if added > 0 {
        ctx.notify(class::SET, "sadd", key);
    }
    ctx.dirty(added as u64);
    ctx.out().int(added as i64);
    Ok(())
}

/// SREM key member [member ...]: how many members were removed; the key
/// goes once the set is empty. Errors: WRONGTYPE.
fn srem(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, members) = (ctx.arg(1), &ctx.argv[2..]);
    let removes = ctx
        .lookup_write::<Set>(key)?
        .is_some_and(|set| members.iter().any(|member| set.contains(member)));
    let mut removed = 0;
    if removes {
        let set = ctx.write::<Set>(key)?.expect("looked up above");
        for member in members {
            if set.remove(member) {
                removed += 1;
                if set.is_empty() {
                    break;
                }
            }
        }
        ctx.notify(class::SET, "srem", key);
        ctx.drop_if_empty(key);
    }
    ctx.dirty(removed);
    ctx.out().int(removed as i64);
    Ok(())
}

/// SISMEMBER key member: `:1` or `:0`. Errors: WRONGTYPE.
fn sismember(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, member) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    let found = db.read::<Set>(key)?.is_some_and(|set| set.contains(member));
    out.int(found as i64);
    Ok(())
}

/// SMISMEMBER key member [member ...]: an array of `:1`/`:0`, one per
/// member (all `:0` for a missing key). Errors: WRONGTYPE.
fn smismember(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, members) = (ctx.arg(1), &ctx.argv[2..]);
    let (mut db, out) = ctx.split();
    let set = db.read::<Set>(key)?;
    out.array(members.len());
    for member in members {
        out.int(set.is_some_and(|set| set.contains(member)) as i64);
    }
    Ok(())
}

/// SMEMBERS key: every member, as a set reply (`~` in RESP3); empty for a
/// missing key. Errors: WRONGTYPE. (Redis runs it as a one-key SINTER.)
fn smembers(ctx: &mut Ctx<'_>) -> Outcome {
    intersect(ctx, &ctx.argv[1..], Intersect::Reply)
}

/// SCARD key: the number of members, `:0` for a missing key.
/// Errors: WRONGTYPE.
fn scard(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let (mut db, out) = ctx.split();
    let size = db.read::<Set>(key)?.map_or(0, Set::len);
    out.int(size as i64);
    Ok(())
}

/// SPOP key [count]: without a count, one member removed at random (null
/// for a missing key); with one, up to `count` distinct members as a set
/// reply. Errors: WRONGTYPE, `ERR value is out of range, must be
/// positive` for a count below 0 or not a number, `ERR syntax error` for
/// more arguments.
fn spop(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.argv.len() {
        2 => {}
        3 => return spop_count(ctx),
        _ => return Err(ERR_SYNTAX.into()),
    }
    let key = ctx.arg(1);
    if ctx.lookup_write::<Set>(key)?.is_none() {
        ctx.out().null();
        return Ok(());
    }
    let (set, client, env) = ctx.write_with_random::<Set>(key);
    let set = set.expect("looked up above");
    let member = set.random_member(&mut || env.random_u64()).into_owned();
    set.remove(&member);
    client.out.bulk(&member);
    ctx.notify(class::SET, "spop", key);
    ctx.drop_if_empty(key);
    ctx.dirty(1);
    ctx.propagate_as(vec![b"SREM".to_vec(), key.to_vec(), member]);
    Ok(())
}

/// SPOP key count, as Redis's `spopWithCountCommand`.
fn spop_count(ctx: &mut Ctx<'_>) -> Outcome {
    let count = ctx.positive_arg(2, None)? as u64;
    let key = ctx.arg(1);
    let limits = ctx.server.config.encodings;
    let Some(set) = ctx.lookup_write::<Set>(key)? else {
        ctx.out().set(0);
        return Ok(());
    };
    let size = set.len() as u64;
    if count == 0 {
        ctx.out().set(0);
        return Ok(());
    }
    if count >= size {
        // The whole set, as Redis replies it: through a one-set union.
        let whole = union(&[Some(set.clone())], &limits);
        reply_members(ctx, &whole);
        let now = ctx.now_ms;
        ctx.db().remove(key, now);
        ctx.notify(class::SET, "spop", key);
        ctx.notify(class::GENERIC, "del", key);
        ctx.dirty(size);
        ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        return Ok(());
    }
    ctx.dirty(count);
    ctx.notify(class::SET, "spop", key);
    let (set, client, env) = ctx.write_with_random::<Set>(key);
    let set = set.expect("looked up above");
    let mut random = || env.random_u64();
    let remaining = size - count;
    let popped: Vec<Vec<u8>> = if remaining * SPOP_MOVE_STRATEGY_MUL > count {
        (0..count)
            .map(|_| {
                let member = set.random_member(&mut random).into_owned();
                set.remove(&member);
                member
            })
            .collect()
    } else {
        // Few stay: draw those into a new set, which takes the key's place
        // (and may be an intset again), and hand out what is left.
        let mut kept = Set::new(&limits);
        for _ in 0..remaining {
            let member = set.random_member(&mut random).into_owned();
            kept.add(&member, &limits);
            set.remove(&member);
        }
        let popped = set.iter().map(|member| member.into_owned()).collect();
        *set = kept;
        popped
    };
    client.out.set(popped.len());
    for member in &popped {
        client.out.bulk(member);
    }
    let srems = popped
        .into_iter()
        .map(|member| vec![b"SREM".to_vec(), key.to_vec(), member])
        .collect();
    ctx.propagate_as_several(srems);
    Ok(())
}

/// SRANDMEMBER key [count]: without a count, one member at random (null
/// for a missing key); with a positive count, up to `count` distinct
/// members; with a negative one, exactly `-count` members, repeats
/// allowed. Errors: WRONGTYPE, the integer error, Redis's range error for
/// -2^63, `ERR syntax error` for more arguments.
fn srandmember(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.argv.len() {
        2 => {}
        3 => return srandmember_count(ctx),
        _ => return Err(ERR_SYNTAX.into()),
    }
    let key = ctx.arg(1);
    if ctx.read::<Set>(key)?.is_none() {
        ctx.out().null();
        return Ok(());
    }
    let (set, client, env) = ctx.read_with_random::<Set>(key);
    let member = set
        .expect("read above")
        .random_member(&mut || env.random_u64());
    client.out.bulk(&member);
    Ok(())
}

/// SRANDMEMBER key count, as Redis's `srandmemberWithCountCommand`.
fn srandmember_count(ctx: &mut Ctx<'_>) -> Outcome {
    let count = ctx.range_arg(2, -i64::MAX, i64::MAX, None)?;
    let key = ctx.arg(1);
    if ctx.read::<Set>(key)?.is_none() || count == 0 {
        ctx.out().array(0);
        return Ok(());
    }
    let (set, client, env) = ctx.read_with_random::<Set>(key);
    let set = set.expect("read above");
    let mut random = || env.random_u64();
    let (wanted, distinct) = (count.unsigned_abs(), count > 0);
    let size = set.len() as u64;
    if !distinct || wanted == 1 {
        client.out.array(wanted as usize);
        for _ in 0..wanted {
            client.out.bulk(&set.random_member(&mut random));
            if reply_overflowing(client) {
                break;
            }
        }
        return Ok(());
    }
    let chosen: Vec<Vec<u8>> = if wanted >= size {
        set.iter().map(|member| member.into_owned()).collect()
    } else if wanted * SRANDMEMBER_SUB_STRATEGY_MUL > size {
        let mut all: Vec<Vec<u8>> = set.iter().map(|member| member.into_owned()).collect();
        while all.len() as u64 > wanted {
            let index = (random() % all.len() as u64) as usize;
            all.swap_remove(index);
        }
        all
    } else {
        let draw = || set.random_member(&mut random).into_owned();
        distinct_draws(wanted as usize, draw, Vec::clone)
    };
    client.out.array(chosen.len());
    for member in &chosen {
        client.out.bulk(member);
    }
    Ok(())
}

/// Draws with `draw` until `wanted` results with distinct `identity` came
/// up, in the order they first came. The caller makes sure there are
/// enough.
pub(super) fn distinct_draws<T, K: Ord>(
    wanted: usize,
    mut draw: impl FnMut() -> T,
    identity: impl Fn(&T) -> K,
) -> Vec<T> {
    let mut seen = std::collections::BTreeSet::new();
    let mut chosen = Vec::with_capacity(wanted);
    while chosen.len() < wanted {
        let drawn = draw();
        if seen.insert(identity(&drawn)) {
            chosen.push(drawn);
        }
    }
    chosen
}

/// SMOVE source destination member: `:1` if the member moved (or is in
/// the set already, when source and destination are the same key), `:0`
/// if the source does not hold it or is missing. Errors: WRONGTYPE for
/// either key (the destination's checked only if the source exists).
fn smove(ctx: &mut Ctx<'_>) -> Outcome {
    let (source, destination, member) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let Some(from) = ctx.lookup_write::<Set>(source)? else {
        ctx.out().int(0);
        return Ok(());
    };
    let held = from.contains(member);
    ctx.lookup_write::<Set>(destination)?;
    if source == destination || !held {
        ctx.out().int(held as i64);
        return Ok(());
    }
    ctx.write::<Set>(source)?
        .expect("looked up above")
        .remove(member);
    ctx.notify(class::SET, "srem", source);
    ctx.drop_if_empty(source);
    ctx.dirty(1);
    let limits = ctx.server.config.encodings;
    let added = match ctx.lookup_write::<Set>(destination)? {
        Some(set) if set.contains(member) => false,
        _ => ctx
            .write_or_create::<Set>(destination)?
            .add(member, &limits),
    };
    if added {
        ctx.notify(class::SET, "sadd", destination);
        ctx.dirty(1);
    }
    ctx.out().int(1);
    Ok(())
}

/// What an intersection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intersect<'a> {
    /// SINTER, SMEMBERS: reply with the members as a set.
    Reply,
    /// SINTERSTORE: store the members at this key and reply how many.
    Store(&'a [u8]),
    /// SINTERCARD: reply how many, counting no further than a limit (0: no
    /// limit).
    Count(u64),
}

/// SINTER key [key ...]: the members every set holds, as a set reply;
/// empty if any key is missing. Errors: WRONGTYPE.
fn sinter(ctx: &mut Ctx<'_>) -> Outcome {
    intersect(ctx, &ctx.argv[1..], Intersect::Reply)
}

/// SINTERSTORE destination key [key ...]: stores the intersection at
/// `destination` (replacing any value and its time to live; deleting the
/// key when the result is empty) and replies its size. Errors: WRONGTYPE
/// for a source key.
fn sinterstore(ctx: &mut Ctx<'_>) -> Outcome {
    intersect(ctx, &ctx.argv[2..], Intersect::Store(ctx.arg(1)))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the
/// intersection, counting at most `limit` (0: all). Errors: `ERR numkeys
/// should be greater than 0`, `ERR Number of keys can't be greater than
/// number of args`, `ERR LIMIT can't be negative`, `ERR syntax error`,
/// WRONGTYPE.
fn sintercard(ctx: &mut Ctx<'_>) -> Outcome {
    let numkeys = ctx.range_arg(1, 1, i64::MAX, Some("ERR numkeys should be greater than 0"))?;
    let keys_end = 2usize.saturating_add(numkeys as usize);
    if keys_end > ctx.argv.len() {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    let mut limit = 0;
    let mut i = keys_end;
    while i < ctx.argv.len() {
        if ctx.keyword(i) != "LIMIT" || i + 1 >= ctx.argv.len() {
            return Err(ERR_SYNTAX.into());
        }
        limit = ctx.positive_arg(i + 1, Some("ERR LIMIT can't be negative"))? as u64;
        i += 2;
    }
    intersect(ctx, &ctx.argv[2..keys_end], Intersect::Count(limit))
}

/// Looks the sets up in order as Redis's `lookupKeyRead` does (a hit or
/// miss each): a missing key is `None`; the first key of another type
/// ends it with WRONGTYPE. The sets are clones: a table's is shared, not
/// copied.
fn read_sets(ctx: &mut Ctx<'_>, keys: &[Vec<u8>]) -> Result<Vec<Option<Set>>, Error> {
    keys.iter()
        .map(|key| Ok(ctx.read::<Set>(key)?.cloned()))
        .collect()
}

/// Redis's `sinterGenericCommand`: walks the smallest set and keeps the
/// members all the others hold.
fn intersect(ctx: &mut Ctx<'_>, keys: &[Vec<u8>], purpose: Intersect<'_>) -> Outcome {
    let sets = read_sets(ctx, keys)?;
    // A missing key makes the intersection empty: nothing to walk.
    let mut sets: Vec<Set> = sets
        .into_iter()
        .collect::<Option<Vec<Set>>>()
        .unwrap_or_default();
    // Smallest first; a stable sort keeps equal sizes in key order.
    sets.sort_by_key(Set::len);
    let limits = ctx.server.config.encodings;
    let mut result = Set::new(&limits);
    let mut members: Vec<Vec<u8>> = Vec::new();
    let mut count = 0u64;
    if let Some((smallest, others)) = sets.split_first() {
        for member in smallest.iter() {
            if !others.iter().all(|set| set.contains(&member)) {
                continue;
            }
            count += 1;
            match purpose {
                Intersect::Reply => members.push(member.into_owned()),
                Intersect::Store(_) => {
                    result.add(&member, &limits);
                }
                Intersect::Count(limit) if limit > 0 && count >= limit => break,
                Intersect::Count(_) => {}
            }
        }
    }
    match purpose {
        Intersect::Reply => {
            let out = ctx.out();
            out.set(members.len());
            for member in &members {
                out.bulk(member);
            }
        }
        Intersect::Store(destination) => store(ctx, destination, result, "sinterstore"),
        Intersect::Count(_) => ctx.out().int(count as i64),
    }
    Ok(())
}

/// SUNION key [key ...]: the members any set holds, as a set reply.
/// Errors: WRONGTYPE.
fn sunion(ctx: &mut Ctx<'_>) -> Outcome {
    union_or_difference(ctx, &ctx.argv[1..], None, Operation::Union)
}

/// SUNIONSTORE destination key [key ...]: stores the union at
/// `destination` (as SINTERSTORE stores) and replies its size.
fn sunionstore(ctx: &mut Ctx<'_>) -> Outcome {
    union_or_difference(ctx, &ctx.argv[2..], Some(ctx.arg(1)), Operation::Union)
}

/// SDIFF key [key ...]: the members of the first set no other set holds,
/// as a set reply. Errors: WRONGTYPE.
fn sdiff(ctx: &mut Ctx<'_>) -> Outcome {
    union_or_difference(ctx, &ctx.argv[1..], None, Operation::Difference)
}

/// SDIFFSTORE destination key [key ...]: stores the difference at
/// `destination` (as SINTERSTORE stores) and replies its size.
fn sdiffstore(ctx: &mut Ctx<'_>) -> Outcome {
    union_or_difference(ctx, &ctx.argv[2..], Some(ctx.arg(1)), Operation::Difference)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Union,
    Difference,
}

/// Redis's `sunionDiffGenericCommand`: builds the result as a new set
/// (an intset until a member or the size says otherwise), then replies
/// with it or stores it.
fn union_or_difference(
    ctx: &mut Ctx<'_>,
    keys: &[Vec<u8>],
    destination: Option<&[u8]>,
    operation: Operation,
) -> Outcome {
    let sets = read_sets(ctx, keys)?;
    let limits = ctx.server.config.encodings;
    let result = match operation {
        Operation::Union => union(&sets, &limits),
        Operation::Difference => {
            // The first key named again (and present) leaves nothing.
            let first_repeated = sets[0].is_some()
                && keys[1..]
                    .iter()
                    .zip(&sets[1..])
                    .any(|(key, set)| *key == keys[0] && set.is_some());
            if first_repeated {
                Set::new(&limits)
            } else {
                difference(&sets, &limits)
            }
        }
    };
    match destination {
        Some(destination) => {
            let event = match operation {
                Operation::Union => "sunionstore",
                Operation::Difference => "sdiffstore",
            };
            store(ctx, destination, result, event)
        }
        None => reply_members(ctx, &result),
    }
    Ok(())
}

/// Every member of every set, added set by set to a new set.
fn union(sets: &[Option<Set>], limits: &crate::config::Encodings) -> Set {
    let mut result = Set::new(limits);
    for set in sets.iter().flatten() {
        for member in set.iter() {
            result.add(&member, limits);
        }
    }
    result
}

/// The members of the first set no other set holds, by whichever of
/// Redis's two algorithms it picks: the first set's members checked
/// against every other set (when its size times the number of sets, halved,
/// is no more than all the sets' sizes together), else the first set
/// copied and every other set's members removed from it.
fn difference(sets: &[Option<Set>], limits: &crate::config::Encodings) -> Set {
    let mut result = Set::new(limits);
    let Some(first) = &sets[0] else {
        return result;
    };
    let present: Vec<&Set> = sets[1..].iter().flatten().collect();
    let one_by_one_work = (first.len() * (present.len() + 1)) / 2;
    let total_work = first.len() + present.iter().map(|set| set.len()).sum::<usize>();
    if one_by_one_work <= total_work {
        for member in first.iter() {
            if !present.iter().any(|set| set.contains(&member)) {
                result.add(&member, limits);
            }
        }
    } else {
        for member in first.iter() {
            result.add(&member, limits);
        }
        for set in present {
            for member in set.iter() {
                result.remove(&member);
            }
            if result.is_empty() {
                break;
            }
        }
    }
    result
}

/// Replies with every member of `set` as a set reply, in its order.
fn reply_members(ctx: &mut Ctx<'_>, set: &Set) {
    let out = ctx.out();
    out.set(set.len());
    for member in set.iter() {
        out.bulk(&member);
    }
}

/// The STORE forms' ending: a non-empty result replaces whatever is at
/// `destination` (any type, its time to live cleared) and counts as one
/// change; an empty one deletes `destination` (a change if it existed).
/// Replies with the result's size.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], result: Set, event: &str) {
    let (size, now) = (result.len(), ctx.now_ms);
    if size > 0 {
        ctx.db().set(destination, Value::Set(result));
        ctx.notify(class::SET, event, destination);
        ctx.dirty(1);
    } else if ctx.db().remove(destination, now).is_some() {
        ctx.notify(class::GENERIC, "del", destination);
        ctx.dirty(1);
    }
    ctx.out().int(size as i64);
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: the next cursor and a
/// batch of members; an intset's members all at once with cursor 0.
/// Every member present for a whole scan is returned at least once.
/// Errors: `ERR invalid cursor`, WRONGTYPE, `ERR syntax error`, the
/// integer error.
fn sscan(ctx: &mut Ctx<'_>) -> Outcome {
    let cursor = scan_cursor_arg(ctx, 2)?;
    let key = ctx.arg(1);
    if ctx.read::<Set>(key)?.is_none() {
        reply_scan::<&[u8]>(ctx, 0, &[]);
        return Ok(());
    }
    let options = parse_scan_options(ctx, 3, false)?;
    let set = ctx.lookup_write::<Set>(key)?.expect("read above");
    let mut found: Vec<Vec<u8>> = Vec::new();
    let steps_max = options.count.saturating_mul(SCAN_BUCKETS_PER_KEY_MAX);
    let cursor = scan_loop(
        cursor,
        options.count,
        steps_max,
        &mut found,
        |cursor, found| set.scan_step(cursor, |member| found.push(member.into_owned())),
    );
    found.retain(|member| options.matches(member));
    reply_scan(ctx, cursor, &found);
    Ok(())
}
