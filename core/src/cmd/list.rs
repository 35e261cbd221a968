//! Lists: LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LINDEX, LSET,
//! LRANGE, LTRIM, LREM, LINSERT, LPOS, LMOVE, RPOPLPUSH, LMPOP, and the
//! blocking forms BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
//!
//! A blocking command that finds every key empty blocks the client (see
//! `crate::blocking`) unless it runs inside MULTI, where it answers as if
//! its timeout had passed. Whenever a pop happens, blocking or not, it is
//! propagated as its non-blocking form, so the AOF replays exactly what
//! happened.

use super::flag::{BLOCKING, DENYOOM, FAST, NOSCRIPT, READONLY, WRITE};
use super::{
    keys_counted_at_1, keys_counted_at_2, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER,
    ERR_NO_SUCH_KEY, ERR_SYNTAX,
};
use crate::db::value::list::{End, List};
use crate::db::value::listpack::Entry;
use crate::notify::class;
use crate::resp::{parse_i64, Out};

const GROUP: &str = "list";
const PUSH: u32 = WRITE | DENYOOM | FAST;
const POP: u32 = WRITE | FAST;
const READ: u32 = READONLY;
const BLOCK: u32 = WRITE | NOSCRIPT | BLOCKING;

const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";
const ERR_NUMKEYS: &str = "ERR numkeys should be greater than 0";
const ERR_COUNT: &str = "ERR count should be greater than 0";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, PUSH, lpush).key(1).doc(GROUP, "1.0.0", "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("rpush", -3, PUSH, rpush).key(1).doc(GROUP, "1.0.0", "Appends one or more elements to a list. Creates the key if it doesn't exist.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("lpushx", -3, PUSH, lpushx).key(1).doc(GROUP, "2.2.0", "Prepends one or more elements to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("rpushx", -3, PUSH, rpushx).key(1).doc(GROUP, "2.2.0", "Appends an element to a list only when the list exists.", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments."),
    CommandSpec::new("lpop", -2, POP, lpop).key(1).doc(GROUP, "1.0.0", "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    CommandSpec::new("rpop", -2, POP, rpop).key(1).doc(GROUP, "1.0.0", "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "O(N) where N is the number of elements returned"),
    CommandSpec::new("llen", 2, READ | FAST, llen).key(1).doc(GROUP, "1.0.0", "Returns the length of a list.", "O(1)"),
    CommandSpec::new("lindex", 3, READ, lindex).key(1).doc(GROUP, "1.0.0", "Returns an element from a list by its index.", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1)."),
    CommandSpec::new("lset", 4, WRITE | DENYOOM, lset).key(1).doc(GROUP, "1.0.0", "Sets the value of an element in a list by its index.", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1)."),
    CommandSpec::new("lrange", 4, READ, lrange).key(1).doc(GROUP, "1.0.0", "Returns a range of elements from a list.", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range."),
    CommandSpec::new("ltrim", 4, WRITE, ltrim).key(1).doc(GROUP, "1.0.0", "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "O(N) where N is the number of elements to be removed by the operation."),
    CommandSpec::new("lrem", 4, WRITE, lrem).key(1).doc(GROUP, "1.0.0", "Removes elements from a list. Deletes the list if the last element was removed.", "O(N+M) where N is the length of the list and M is the number of elements removed."),
    CommandSpec::new("linsert", 5, WRITE | DENYOOM, linsert).key(1).doc(GROUP, "2.2.0", "Inserts an element before or after another element in a list.", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N)."),
    CommandSpec::new("lpos", -3, READ, lpos).key(1).doc(GROUP, "6.0.6", "Returns the index of matching elements in a list.", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time."),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, lmove).keys(1, 2, 1).doc(GROUP, "6.2.0", "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "O(1)"),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush).keys(1, 2, 1).doc(GROUP, "1.2.0", "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "O(1)"),
    CommandSpec::new("lmpop", -4, WRITE, lmpop).movable(keys_counted_at_1).doc(GROUP, "7.0.0", "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
    CommandSpec::new("blpop", -3, BLOCK, blpop).keys(1, -2, 1).doc(GROUP, "2.0.0", "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    CommandSpec::new("brpop", -3, BLOCK, brpop).keys(1, -2, 1).doc(GROUP, "2.0.0", "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N) where N is the number of provided keys."),
    CommandSpec::new("blmove", 6, BLOCK | DENYOOM, blmove).keys(1, 2, 1).doc(GROUP, "6.2.0", "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "O(1)"),
    CommandSpec::new("brpoplpush", 4, BLOCK | DENYOOM, brpoplpush).keys(1, 2, 1).doc(GROUP, "2.2.0", "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "O(1)"),
    CommandSpec::new("blmpop", -5, WRITE | BLOCKING, blmpop).movable(keys_counted_at_2).doc(GROUP, "7.0.0", "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "O(N+M) where N is the number of provided keys and M is the number of elements returned."),
];

/// Writes one list element as a bulk string.
fn reply_entry(out: &mut Out, entry: Entry<'_>) {
    match entry {
        Entry::Int(n) => out.bulk_i64(n),
        Entry::Bytes(bytes) => out.bulk(bytes),
    }
}

/// An index or range bound: any 64-bit integer.
fn index_arg(ctx: &Ctx<'_>, i: usize) -> Result<i64, Error> {
    parse_i64(ctx.arg(i)).ok_or_else(|| ERR_NOT_INTEGER.into())
}

/// `index` (negative counts from the tail) as a position in a list of
/// `len`, if inside it.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

/// LRANGE/LTRIM bounds clamped to a list of `len`: `None` when the range
/// is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

/// LPUSH key element [element ...]: the length after adding each element
/// at the head, in order.
fn lpush(ctx: &mut Ctx<'_>) -> Outcome {
    push(ctx, End::Head, true)
}

/// RPUSH key element [element ...]: as LPUSH, at the tail.
fn rpush(ctx: &mut Ctx<'_>) -> Outcome {
    push(ctx, End::Tail, true)
}

/// LPUSHX key element [element ...]: as LPUSH, only onto an existing
/// list; 0 otherwise.
fn lpushx(ctx: &mut Ctx<'_>) -> Outcome {
    push(ctx, End::Head, false)
}

/// RPUSHX key element [element ...]: as RPUSH, only onto an existing list.
fn rpushx(ctx: &mut Ctx<'_>) -> Outcome {
    push(ctx, End::Tail, false)
}

fn push(ctx: &mut Ctx<'_>, end: End, create: bool) -> Outcome {
    let key = ctx.arg(1);
    let elements = &ctx.argv[2..];
    let list = if create {
        ctx.write_or_create::<List>(key)?
    } else {
        match ctx.write::<List>(key)? {
            Some(list) => list,
            None => {
                ctx.out().int(0);
                return Ok(());
            }
        }
    };
    for element in elements {
        list.push(end, element);
    }
    let len = list.len() as i64;
    ctx.notify(class::LIST, push_event(end), key);
    ctx.dirty(elements.len() as u64);
    ctx.out().int(len);
    Ok(())
}

/// LPOP key [count]: the head element (null if the key is missing); with a
/// count, an array of up to `count` elements (a null array if missing).
fn lpop(ctx: &mut Ctx<'_>) -> Outcome {
    pop(ctx, End::Head)
}

/// RPOP key [count]: as LPOP, from the tail.
fn rpop(ctx: &mut Ctx<'_>) -> Outcome {
    pop(ctx, End::Tail)
}

fn pop(ctx: &mut Ctx<'_>, end: End) -> Outcome {
    let count = match ctx.argv.len() {
        2 => None,
        3 => match parse_i64(ctx.arg(2)) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Err(ERR_POSITIVE.into()),
        },
        _ => {
            let name = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
            return Err(format!("ERR wrong number of arguments for '{name}' command").into());
        }
    };
    let key = ctx.arg(1);
    if !ctx.holds::<List>(key)? {
        match count {
            None => ctx.out().null(),
            Some(_) => ctx.out().null_array(),
        }
        return Ok(());
    }
    if count == Some(0) {
        ctx.out().array(0);
        return Ok(());
    }
    let list = ctx.write::<List>(key)?.expect("the key holds a list");
    let popped: Vec<Vec<u8>> = (0..count.unwrap_or(1))
        .map_while(|_| list.pop(end))
        .collect();
    ctx.notify(class::LIST, pop_event(end), key);
    ctx.drop_if_empty(key);
    ctx.dirty(popped.len() as u64);
    let out = ctx.out();
    match count {
        None => out.bulk(&popped[0]),
        Some(_) => {
            out.array(popped.len());
            for element in &popped {
                out.bulk(element);
            }
        }
    }
    Ok(())
}

/// LLEN key: the number of elements, 0 if missing.
fn llen(ctx: &mut Ctx<'_>) -> Outcome {
    let len = ctx.read::<List>(ctx.arg(1))?.map_or(0, List::len);
    ctx.out().int(len as i64);
    Ok(())
}

/// LINDEX key index: the element at `index` (negative from the tail), or
/// null.
fn lindex(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let index = parse_i64(ctx.arg(2));
    let (mut db, out) = ctx.split();
    let Some(list) = db.read::<List>(key)? else {
        out.null();
        return Ok(());
    };
    let index = index.ok_or_else(|| Error::from(ERR_NOT_INTEGER))?;
    match position(index, list.len()).and_then(|at| list.get(at)) {
        Some(entry) => reply_entry(out, entry),
        None => out.null(),
    }
    Ok(())
}

/// LSET key index element: OK; `ERR no such key`, `ERR index out of
/// range`.
fn lset(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, element) = (ctx.arg(1), ctx.arg(3));
    let index = parse_i64(ctx.arg(2));
    let Some(list) = ctx.write::<List>(key)? else {
        return Err(ERR_NO_SUCH_KEY.into());
    };
    let index = index.ok_or_else(|| Error::from(ERR_NOT_INTEGER))?;
    let Some(at) = position(index, list.len()) else {
        return Err("ERR index out of range".into());
    };
    list.set(at, element);
    ctx.notify(class::LIST, "lset", key);
    ctx.dirty(1);
    ctx.out().ok();
    Ok(())
}

/// LRANGE key start stop: the elements from `start` to `stop` inclusive,
/// negative indexes from the tail, clamped to the list.
fn lrange(ctx: &mut Ctx<'_>) -> Outcome {
    let (start, stop) = (index_arg(ctx, 2)?, index_arg(ctx, 3)?);
    let key = ctx.arg(1);
    let (mut db, out) = ctx.split();
    let Some(list) = db.read::<List>(key)? else {
        out.array(0);
        return Ok(());
    };
    let Some((first, last)) = clamp_range(start, stop, list.len()) else {
        out.array(0);
        return Ok(());
    };
    out.array(last - first + 1);
    let from_tail = list.len() - 1 - last;
    if first <= from_tail {
        for entry in list.iter().skip(first).take(last - first + 1) {
            reply_entry(out, entry);
        }
    } else {
        let mut entries: Vec<Entry<'_>> = list
            .iter()
            .rev()
            .skip(from_tail)
            .take(last - first + 1)
            .collect();
        entries.reverse();
        for entry in entries {
            reply_entry(out, entry);
        }
    }
    Ok(())
}

/// LTRIM key start stop: OK, keeping only the range (the key goes when
/// nothing is left).
fn ltrim(ctx: &mut Ctx<'_>) -> Outcome {
    let (start, stop) = (index_arg(ctx, 2)?, index_arg(ctx, 3)?);
    let key = ctx.arg(1);
    let len = ctx.read::<List>(key)?.map_or(0, List::len);
    let kept = clamp_range(start, stop, len).map_or(0, |(first, last)| last - first + 1);
    if kept < len {
        let list = ctx.write::<List>(key)?.expect("the key holds a list");
        match clamp_range(start, stop, len) {
            Some((first, last)) => list.trim(first, last),
            None => list.trim(1, 0),
        }
        ctx.notify(class::LIST, "ltrim", key);
        ctx.drop_if_empty(key);
        ctx.dirty((len - kept) as u64);
    } else if len > 0 {
        // Redis notifies a trim of an existing list even if it kept all.
        ctx.notify(class::LIST, "ltrim", key);
    }
    ctx.out().ok();
    Ok(())
}

/// LREM key count element: how many elements equal to `element` were
/// removed: the first `count` from the head, the last `-count` from the
/// tail, or all for 0.
fn lrem(ctx: &mut Ctx<'_>) -> Outcome {
    let count = index_arg(ctx, 2)?;
    let (key, element) = (ctx.arg(1), ctx.arg(3));
    let found = ctx
        .read::<List>(key)?
        .is_some_and(|list| list.iter().any(|entry| entry.eq_bytes(element)));
    let removed = match found {
        true => ctx
            .write::<List>(key)?
            .expect("the key holds a list")
            .remove_matching(element, count.unsigned_abs() as usize, count >= 0),
        false => 0,
    };
    if removed > 0 {
        ctx.notify(class::LIST, "lrem", key);
        ctx.drop_if_empty(key);
    }
    ctx.dirty(removed as u64);
    ctx.out().int(removed as i64);
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 if the
/// pivot is missing, 0 if the key is.
fn linsert(ctx: &mut Ctx<'_>) -> Outcome {
    let after = match ctx.arg(2) {
        word if word.eq_ignore_ascii_case(b"BEFORE") => false,
        word if word.eq_ignore_ascii_case(b"AFTER") => true,
        _ => return Err(ERR_SYNTAX.into()),
    };
    let (key, pivot, element) = (ctx.arg(1), ctx.arg(3), ctx.arg(4));
    let Some(list) = ctx.read::<List>(key)? else {
        ctx.out().int(0);
        return Ok(());
    };
    let Some(at) = list.iter().position(|entry| entry.eq_bytes(pivot)) else {
        ctx.out().int(-1);
        return Ok(());
    };
    let list = ctx.write::<List>(key)?.expect("the key holds a list");
    list.insert(at + usize::from(after), element);
    let len = list.len() as i64;
    ctx.notify(class::LIST, "linsert", key);
    ctx.dirty(1);
    ctx.out().int(len);
    Ok(())
}

/// LPOS's options.
struct LposOptions {
    /// Which match to start from: 1 the first, -1 the first from the tail.
    rank: i64,
    /// How many matches to return; `None` replies with one index or null.
    count: Option<usize>,
    /// Elements compared at most (0: all).
    max_len: usize,
}

fn lpos_options(ctx: &Ctx<'_>) -> Result<LposOptions, Error> {
    let mut options = LposOptions {
        rank: 1,
        count: None,
        max_len: 0,
    };
    let mut i = 3;
    while i < ctx.argv.len() {
        let Some(value) = ctx.argv.get(i + 1) else {
            return Err(ERR_SYNTAX.into());
        };
        let word = ctx.keyword(i);
        if !matches!(word.as_str(), "RANK" | "COUNT" | "MAXLEN") {
            return Err(ERR_SYNTAX.into());
        }
        let n = parse_i64(value).ok_or_else(|| Error::from(ERR_NOT_INTEGER))?;
        match word.as_str() {
            "RANK" if n == 0 => return Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list".into()),
            "RANK" => options.rank = n,
            "COUNT" if n < 0 => return Err("ERR COUNT can't be negative".into()),
            "COUNT" => options.count = Some(n as usize),
            "MAXLEN" if n < 0 => return Err("ERR MAXLEN can't be negative".into()),
            "MAXLEN" => options.max_len = n as usize,
            _ => return Err(ERR_SYNTAX.into()),
        }
        i += 2;
    }
    Ok(options)
}

/// LPOS key element [RANK rank] [COUNT num] [MAXLEN len]: the index of the
/// `rank`th match (null if none), or with COUNT an array of up to `num`
/// indexes (all for 0).
fn lpos(ctx: &mut Ctx<'_>) -> Outcome {
    let options = lpos_options(ctx)?;
    let (key, element) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    let matches = match db.read::<List>(key)? {
        Some(list) => find_matches(list, element, &options),
        None => Vec::new(),
    };
    match options.count {
        Some(_) => {
            out.array(matches.len());
            for index in matches {
                out.int(index as i64);
            }
        }
        None => match matches.first() {
            Some(&index) => out.int(index as i64),
            None => out.null(),
        },
    }
    Ok(())
}

/// The indexes LPOS answers with, in the order it finds them.
fn find_matches(list: &List, element: &[u8], options: &LposOptions) -> Vec<usize> {
    let wanted = match options.count {
        Some(0) => usize::MAX,
        Some(n) => n,
        None => 1,
    };
    // Redis negates a negative rank; i64::MIN stays negative there, and so
    // counts from the first match.
    let skip = match options.rank {
        i64::MIN => 0,
        rank => rank.unsigned_abs() as usize - 1,
    };
    let compared = if options.max_len == 0 {
        usize::MAX
    } else {
        options.max_len
    };
    let len = list.len();
    let indexed: Box<dyn Iterator<Item = (usize, Entry<'_>)>> = if options.rank > 0 {
        Box::new(list.iter().enumerate())
    } else {
        Box::new(
            list.iter()
                .rev()
                .enumerate()
                .map(move |(i, e)| (len - 1 - i, e)),
        )
    };
    indexed
        .take(compared)
        .filter(|(_, entry)| entry.eq_bytes(element))
        .skip(skip)
        .take(wanted)
        .map(|(index, _)| index)
        .collect()
}

/// Moves one element from `source`'s `from` end to `destination`'s `to`
/// end. `Ok(None)` when the source is missing; WRONGTYPE when either key
/// holds another type (the destination is checked before anything
/// moves).
fn move_element(
    ctx: &mut Ctx<'_>,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, Error> {
    // Serving a blocked BLMOVE, a source of another type leaves it
    // blocked; a destination of another type answers WRONGTYPE and
    // unblocks it, as Redis 7.0 does.
    let holds = match ctx.holds::<List>(source) {
        Err(_) if ctx.serving_blocked() => false,
        other => other?,
    };
    if !holds {
        return Ok(None);
    }
    ctx.holds::<List>(destination)?;
    let list = ctx
        .write::<List>(source)?
        .expect("the source was just found");
    let element = list
        .pop(from)
        .expect("lists in the keyspace are never empty");
    // Redis's order: the push (creating the destination), then the pop,
    // then the source's removal if it is left empty.
    ctx.write_or_create::<List>(destination)?.push(to, &element);
    ctx.notify(class::LIST, push_event(to), destination);
    ctx.notify(class::LIST, pop_event(from), source);
    ctx.drop_if_empty(source);
    ctx.dirty(1);
    Ok(Some(element))
}

/// The keyspace event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Head => "lpush",
        End::Tail => "rpush",
    }
}

/// The keyspace event of a pop at `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Head => "lpop",
        End::Tail => "rpop",
    }
}

fn end_arg(ctx: &Ctx<'_>, i: usize) -> Result<End, Error> {
    End::parse(ctx.arg(i)).ok_or_else(|| ERR_SYNTAX.into())
}

fn end_word(end: End) -> &'static [u8] {
    match end {
        End::Head => b"LEFT",
        End::Tail => b"RIGHT",
    }
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT: the element moved, or
/// null when the source is missing.
fn lmove(ctx: &mut Ctx<'_>) -> Outcome {
    let (from, to) = (end_arg(ctx, 3)?, end_arg(ctx, 4)?);
    move_and_reply(ctx, from, to, None)
}

/// RPOPLPUSH source destination: LMOVE source destination RIGHT LEFT.
fn rpoplpush(ctx: &mut Ctx<'_>) -> Outcome {
    move_and_reply(ctx, End::Tail, End::Head, None)
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout: LMOVE, or
/// waits for the source to get an element.
fn blmove(ctx: &mut Ctx<'_>) -> Outcome {
    let (from, to) = (end_arg(ctx, 3)?, end_arg(ctx, 4)?);
    let timeout = super::timeout_arg(ctx.arg(5))?;
    move_and_reply(ctx, from, to, Some(timeout))
}

/// BRPOPLPUSH source destination timeout: BLMOVE source destination RIGHT
/// LEFT timeout.
fn brpoplpush(ctx: &mut Ctx<'_>) -> Outcome {
    let timeout = super::timeout_arg(ctx.arg(3))?;
    move_and_reply(ctx, End::Tail, End::Head, Some(timeout))
}

fn move_and_reply(ctx: &mut Ctx<'_>, from: End, to: End, timeout: Option<u64>) -> Outcome {
    let (source, destination) = (ctx.arg(1), ctx.arg(2));
    match move_element(ctx, source, destination, from, to)? {
        Some(element) => {
            if timeout.is_some() {
                ctx.propagate_as(vec![
                    b"LMOVE".to_vec(),
                    source.to_vec(),
                    destination.to_vec(),
                    end_word(from).to_vec(),
                    end_word(to).to_vec(),
                ]);
            }
            ctx.out().bulk(&element);
        }
        // Inside MULTI, BLMOVE answers as LMOVE would.
        None => match timeout {
            Some(ms) if ctx.may_block => ctx.block_on(vec![source.to_vec()], ms),
            _ => ctx.out().null(),
        },
    }
    Ok(())
}

/// A key and the elements popped from it.
type Popped = (Vec<u8>, Vec<Vec<u8>>);

/// Pops up to `count` elements from `end` of the first non-empty list of
/// `keys`: that key and the elements, propagated as LPOP/RPOP. `Ok(None)`
/// when every key is missing; WRONGTYPE at the first key of another type.
fn pop_first(
    ctx: &mut Ctx<'_>,
    keys: &[Vec<u8>],
    end: End,
    count: usize,
    with_count: bool,
) -> Result<Option<Popped>, Error> {
    for key in keys {
        // Serving a blocked client, a key of another type is passed over,
        // as Redis 7.0 serves only the list keys that became ready.
        let holds = match ctx.holds::<List>(key) {
            Err(_) if ctx.serving_blocked() => false,
            other => other?,
        };
        if !holds {
            continue;
        }
        let list = ctx.write::<List>(key)?.expect("the key holds a list");
        let popped: Vec<Vec<u8>> = (0..count).map_while(|_| list.pop(end)).collect();
        ctx.notify(class::LIST, pop_event(end), key);
        ctx.drop_if_empty(key);
        ctx.dirty(popped.len() as u64);
        let name: &[u8] = if end == End::Head { b"LPOP" } else { b"RPOP" };
        let mut argv = vec![name.to_vec(), key.clone()];
        if with_count {
            argv.push(popped.len().to_string().into_bytes());
        }
        ctx.propagate_as(argv);
        return Ok(Some((key.clone(), popped)));
    }
    Ok(None)
}

/// BLPOP key [key ...] timeout: `[key, element]` from the first non-empty
/// list, or waits; a null array on timeout.
fn blpop(ctx: &mut Ctx<'_>) -> Outcome {
    blocking_pop(ctx, End::Head)
}

/// BRPOP key [key ...] timeout: as BLPOP, from the tail.
fn brpop(ctx: &mut Ctx<'_>) -> Outcome {
    blocking_pop(ctx, End::Tail)
}

fn blocking_pop(ctx: &mut Ctx<'_>, end: End) -> Outcome {
    let last = ctx.argv.len() - 1;
    let timeout = super::timeout_arg(ctx.arg(last))?;
    let keys = &ctx.argv[1..last];
    match pop_first(ctx, keys, end, 1, false)? {
        Some((key, popped)) => {
            let out = ctx.out();
            out.array(2);
            out.bulk(&key);
            out.bulk(&popped[0]);
        }
        None if ctx.may_block => ctx.block_on(keys.to_vec(), timeout),
        None => ctx.out().null_array(),
    }
    Ok(())
}

/// What LMPOP and BLMPOP were asked: the keys, the end, the count.
struct MultiPop {
    keys: Vec<Vec<u8>>,
    end: End,
    count: usize,
}

/// Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` from argument
/// `first` on.
fn multi_pop_args(ctx: &Ctx<'_>, first: usize) -> Result<MultiPop, Error> {
    let numkeys = match parse_i64(ctx.arg(first)) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(ERR_NUMKEYS.into()),
    };
    let keys_end = first + 1 + numkeys;
    if numkeys > ctx.argv.len() - first - 1 || keys_end >= ctx.argv.len() {
        return Err(ERR_SYNTAX.into());
    }
    let end = end_arg(ctx, keys_end)?;
    let mut count = None;
    let mut i = keys_end + 1;
    while i < ctx.argv.len() {
        if !ctx.arg(i).eq_ignore_ascii_case(b"COUNT") || count.is_some() || i + 1 >= ctx.argv.len()
        {
            return Err(ERR_SYNTAX.into());
        }
        count = match parse_i64(ctx.arg(i + 1)) {
            Some(n) if n > 0 => Some(n as usize),
            _ => return Err(ERR_COUNT.into()),
        };
        i += 2;
    }
    Ok(MultiPop {
        keys: ctx.argv[first + 1..keys_end].to_vec(),
        end,
        count: count.unwrap_or(1),
    })
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: `[key,
/// [elements]]` from the first non-empty list, or a null array.
fn lmpop(ctx: &mut Ctx<'_>) -> Outcome {
    let request = multi_pop_args(ctx, 1)?;
    multi_pop_and_reply(ctx, request, None)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]: LMPOP,
/// or waits.
fn blmpop(ctx: &mut Ctx<'_>) -> Outcome {
    let timeout = super::timeout_arg(ctx.arg(1))?;
    let request = multi_pop_args(ctx, 2)?;
    multi_pop_and_reply(ctx, request, Some(timeout))
}

fn multi_pop_and_reply(ctx: &mut Ctx<'_>, request: MultiPop, timeout: Option<u64>) -> Outcome {
    match pop_first(ctx, &request.keys, request.end, request.count, true)? {
        Some((key, popped)) => {
            let out = ctx.out();
            out.array(2);
            out.bulk(&key);
            out.array(popped.len());
            for element in &popped {
                out.bulk(element);
            }
        }
        None => match timeout {
            Some(ms) if ctx.may_block => ctx.block_on(request.keys, ms),
            _ => ctx.out().null_array(),
        },
    }
    Ok(())
}
