//! SORT and SORT_RO: the elements of a list, a set or a sorted set, sorted
//! by their own values or by values found in other keys, as Redis 7.0's
//! `sort.c` sorts them.
//!
//! `SORT key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern
//! ...]] [ASC|DESC] [ALPHA] [STORE destination]`; SORT_RO takes the same
//! options but STORE.
//!
//! * Order: numeric by default (each value read as C's `strtod` reads it;
//!   a value that is no number, overflows, underflows or is NaN makes the
//!   reply `ERR One or more scores can't be converted into double`), equal
//!   numbers ordered by the elements' bytes; ALPHA compares bytes, as
//!   `strcoll` in the C locale does: up to the first zero byte, except with
//!   STORE, where the whole values are compared. DESC reverses the order.
//! * Patterns (BY and GET): the first `*` is replaced by the element, and
//!   the key so named is read as a string, or, when `->field` follows the
//!   `*`, as a hash whose field is read. A missing key, a key of another
//!   type or a missing field reads as nothing: 0 (or before everything
//!   with ALPHA) for BY, a null (an empty string when stored) for GET.
//!   `GET #` is the element itself; a pattern without `*` reads nothing.
//! * `BY` a pattern without `*` (`BY nosort`) skips sorting: a list or a
//!   sorted set keeps its own order (DESC reverses it), a set its iteration
//!   order; but a set whose result is stored, or is read by a script, is
//!   sorted with ALPHA, so neither depends on the set's layout.
//! * LIMIT: a negative offset counts as 0 and a negative count as
//!   everything; a range past the end is empty. With BY and a LIMIT that
//!   leaves elements out, Redis sorts with a partial quicksort
//!   (`pqsort.c`), which places elements that compare equal in an order of
//!   its own: [`partial_quicksort`] follows the same steps to give the same
//!   order. Every other sort is a stable one, as glibc's `qsort` is.
//! * STORE: the result (each element's GET values, in order, when GET is
//!   given) replaces the destination as a list, whatever it held, and the
//!   reply is its length; an empty result deletes the destination.
//!
//! A sorted set that SORT reads moves to its large encoding, as in Redis
//! (`OBJECT ENCODING` shows `skiplist` afterwards); no client sees that as
//! a change of the key.

use std::cmp::Ordering;

use super::flag::{DENYOOM, READONLY, WRITE};
use super::{reply_overflowing, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::value::list::End;
use crate::db::value::zset::number::{is_c_space, strtod};
use crate::db::value::{Hash, List, Set, ZSet};
use crate::db::Value;
use crate::notify::class;
use crate::resp::parse_i64;

const GROUP: &str = "generic";
const COMPLEXITY: &str = "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).";

/// SORT's keys: the sorted key, and the STORE destination (the last one
/// given, as SORT uses it). Patterns after BY and GET are not keys of
/// their own; LIMIT's two numbers are skipped.
fn sort_keys(argv: &[Vec<u8>]) -> Vec<usize> {
    let mut keys = vec![1];
    let mut store = None;
    let mut at = 2;
    while at < argv.len() {
        let word = argv[at].to_ascii_lowercase();
        at += match word.as_slice() {
            b"limit" => 3,
            b"by" | b"get" => 2,
            b"store" if at + 1 < argv.len() => {
                store = Some(at + 1);
                2
            }
            _ => 1,
        };
    }
    keys.extend(store);
    keys
}

const ERR_NOT_DOUBLE: &str = "ERR One or more scores can't be converted into double";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, sort)
        .key(1)
        .movable(sort_keys)
        .doc(
            GROUP,
            "1.0.0",
            "Sort the elements in a list, set or sorted set",
            COMPLEXITY,
        ),
    CommandSpec::new("sort_ro", -2, READONLY, sort_ro)
        .key(1)
        .movable(sort_keys)
        .doc(
            GROUP,
            "7.0.0",
            "Sort the elements in a list, set or sorted set. Read-only variant of SORT.",
            COMPLEXITY,
        ),
];

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC]
/// [ALPHA] [STORE destination]: an array of the sorted elements (or, with
/// GET, of each element's GET values in turn, nulls for values not
/// found); with STORE, the number of values stored. Errors: `ERR syntax
/// error`, the integer error (LIMIT), WRONGTYPE, `ERR One or more scores
/// can't be converted into double`.
fn sort(ctx: &mut Ctx<'_>) -> Outcome {
    let options = parse_options(ctx.argv, false)?;
    run(ctx, options)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...]
/// [ASC|DESC] [ALPHA]: as SORT, without STORE (a syntax error here).
fn sort_ro(ctx: &mut Ctx<'_>) -> Outcome {
    let options = parse_options(ctx.argv, true)?;
    run(ctx, options)
}

/// What the options of one SORT ask for.
struct Options<'a> {
    descending: bool,
    alpha: bool,
    /// LIMIT's offset and count, as given (0 and -1 without LIMIT).
    offset: i64,
    count: i64,
    /// The last BY pattern.
    by: Option<&'a [u8]>,
    /// Some BY pattern had no `*`: nothing to sort by (sticks even if a
    /// later BY has one, as in Redis).
    unsorted: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

/// Reads the options after the key, in any order, each option word in any
/// case; a later ASC/DESC, LIMIT, BY or STORE overrides an earlier one.
fn parse_options(argv: &[Vec<u8>], read_only: bool) -> Result<Options<'_>, Error> {
    let mut options = Options {
        descending: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        unsorted: false,
        gets: Vec::new(),
        store: None,
    };
    let mut at = 2;
    while at < argv.len() {
        let word = c_string(&argv[at]).to_ascii_uppercase();
        let following = argv.len() - at - 1;
        match word.as_slice() {
            b"ASC" => options.descending = false,
            b"DESC" => options.descending = true,
            b"ALPHA" => options.alpha = true,
            b"LIMIT" if following >= 2 => {
                let integer = |text: &[u8]| parse_i64(text).ok_or(Error::from(ERR_NOT_INTEGER));
                options.offset = integer(&argv[at + 1])?;
                options.count = integer(&argv[at + 2])?;
                at += 2;
            }
            b"STORE" if following >= 1 && !read_only => {
                options.store = Some(&argv[at + 1]);
                at += 1;
            }
            b"BY" if following >= 1 => {
                let pattern = argv[at + 1].as_slice();
                options.unsorted |= star_position(pattern).is_none();
                options.by = Some(pattern);
                at += 1;
            }
            b"GET" if following >= 1 => {
                options.gets.push(&argv[at + 1]);
                at += 1;
            }
            _ => return Err(ERR_SYNTAX.into()),
        }
        at += 1;
    }
    Ok(options)
}

/// The part of `bytes` C string functions see: up to the first zero byte.
fn c_string(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&byte| byte == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// Where the `*` of a pattern is, if it has one before any zero byte.
fn star_position(pattern: &[u8]) -> Option<usize> {
    c_string(pattern).iter().position(|&byte| byte == b'*')
}

/// The type of the value to sort.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    List,
    Set,
    SortedSet,
}

/// The elements to output or store, and the part of them LIMIT keeps.
struct Loaded {
    items: Vec<Item>,
    /// The kept range, `start..stop` of `items` once sorted.
    start: usize,
    stop: usize,
}

/// One element to sort, with what it sorts by.
struct Item {
    element: Vec<u8>,
    /// The numeric sort's value (0 when BY finds nothing).
    score: f64,
    /// ALPHA with BY: the value BY found.
    by_value: Option<Vec<u8>>,
}

impl Item {
    fn new(element: Vec<u8>) -> Self {
        Item {
            element,
            score: 0.0,
            by_value: None,
        }
    }
}

/// Runs a parsed SORT: loads, sorts, then replies or stores.
fn run(ctx: &mut Ctx<'_>, mut options: Options<'_>) -> Outcome {
    let key = ctx.arg(1);
    let source = source_type(ctx, key)?;
    if options.unsorted
        && source == Source::Set
        && (options.store.is_some() || ctx.server.script_running)
    {
        options.unsorted = false;
        options.alpha = true;
        options.by = None;
    }
    let mut loaded = load(ctx, key, source, &options);
    if !options.unsorted {
        let convertible = load_sort_values(ctx, &mut loaded.items, &options);
        if !convertible {
            return Err(ERR_NOT_DOUBLE.into());
        }
        sort_items(&mut loaded, &options);
    }
    let kept = &loaded.items[loaded.start..loaded.stop];
    match options.store {
        Some(destination) => store(ctx, destination, kept, &options.gets),
        None => reply(ctx, kept, &options.gets),
    }
    Ok(())
}

/// The type of the value under `key` (a missing key sorts as an empty
/// list), counting one keyspace hit or miss; WRONGTYPE for a string or a
/// hash. A sorted set moves to its large encoding here.
fn source_type(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Source, Error> {
    let now = ctx.now_ms;
    let found = ctx.db().get(key, now).map(Value::type_name);
    match found {
        Some("set") => ctx.read::<Set>(key).map(|_| Source::Set),
        Some("zset") => {
            if let Some(Value::ZSet(zset)) = ctx.db().get_mut_unseen(key, now) {
                zset.convert_to_sorted();
            }
            ctx.read::<ZSet>(key).map(|_| Source::SortedSet)
        }
        _ => ctx.read::<List>(key).map(|_| Source::List),
    }
}

/// LIMIT's offset and count applied to `len` elements as Redis clamps
/// them: the range `start..stop` kept (empty past the end).
fn limit_range(offset: i64, count: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = offset.clamp(0, len);
    if start >= len {
        return (0, 0);
    }
    let stop = if count < 0 {
        len
    } else {
        start + count.min(len - start)
    };
    (start as usize, stop as usize)
}

/// The elements of the value under `key`: all of them to sort (a set's
/// in iteration order, kept that way when unsorted), or, unsorted, only
/// the kept range of a list or a sorted set ([`load_in_own_order`]).
fn load(ctx: &mut Ctx<'_>, key: &[u8], source: Source, options: &Options<'_>) -> Loaded {
    let now = ctx.now_ms;
    let value = ctx.db().get(key, now);
    let len = value.map_or(0, Value::weight);
    let (start, stop) = limit_range(options.offset, options.count, len);
    if options.unsorted && source != Source::Set {
        let items = load_in_own_order(value, start, stop, options.descending);
        let stop = items.len();
        return Loaded {
            items,
            start: 0,
            stop,
        };
    }
    let elements: Vec<Vec<u8>> = match value {
        Some(Value::List(list)) => list.iter().map(|entry| entry.to_vec()).collect(),
        Some(Value::Set(set)) => set.iter().map(|member| member.into_owned()).collect(),
        Some(Value::ZSet(zset)) => zset.iter().map(|(member, _)| member.into_owned()).collect(),
        _ => Vec::new(),
    };
    let items = elements.into_iter().map(Item::new).collect();
    Loaded { items, start, stop }
}

/// Positions `start..stop` of a list or a sorted set in its own order,
/// counted from the end when `descending`, and in that order.
fn load_in_own_order(
    value: Option<&Value>,
    start: usize,
    stop: usize,
    descending: bool,
) -> Vec<Item> {
    let kept = stop - start;
    let elements: Vec<Vec<u8>> = match value {
        Some(_) if kept == 0 => Vec::new(),
        Some(Value::List(list)) if descending => {
            let range = list.iter().rev().skip(start).take(kept);
            range.map(|entry| entry.to_vec()).collect()
        }
        Some(Value::List(list)) => {
            let range = list.iter().skip(start).take(kept);
            range.map(|entry| entry.to_vec()).collect()
        }
        Some(Value::ZSet(zset)) => {
            let first = if descending {
                zset.len() - 1 - start
            } else {
                start
            };
            let range = zset.iter_from(first, descending).take(kept);
            range.map(|(member, _)| member.into_owned()).collect()
        }
        _ => Vec::new(),
    };
    elements.into_iter().map(Item::new).collect()
}

/// Finds what each item sorts by: BY's value, or the element itself for a
/// numeric sort. False if a numeric sort meets a value that is no number
/// (after looking every value up, as Redis does).
fn load_sort_values(ctx: &mut Ctx<'_>, items: &mut [Item], options: &Options<'_>) -> bool {
    let mut convertible = true;
    for item in items.iter_mut() {
        let by_value = match options.by {
            Some(pattern) => lookup_pattern(ctx, pattern, &item.element),
            None => None,
        };
        if options.alpha {
            item.by_value = by_value;
            continue;
        }
        let text = match (&by_value, options.by) {
            (Some(value), _) => value.as_slice(),
            (None, Some(_)) => continue,
            (None, None) => item.element.as_slice(),
        };
        match sort_score(text) {
            Some(score) => item.score = score,
            None => convertible = false,
        }
    }
    convertible
}

/// A value read as a number the way SORT reads it: C's `strtod` up to the
/// first zero byte, which must read it all, without a range error
/// (overflow, or underflow to zero or below the normal range) or NaN.
///
/// glibc reports no range error for a hexadecimal number that is exactly
/// a subnormal double; one rounded to a subnormal is refused here, which
/// glibc also does for decimal text (rounded to a subnormal there is
/// always inexact in practice).
fn sort_score(text: &[u8]) -> Option<f64> {
    let text = c_string(text);
    let parsed = strtod(text);
    let value = parsed.value;
    let subnormal = value != 0.0 && value.abs() < f64::MIN_POSITIVE;
    let refused = parsed.range_error || value.is_nan() || (subnormal && !is_hexadecimal(text));
    (parsed.consumed == text.len() && !refused).then_some(value)
}

/// Whether `text` (after white space and a sign) is in `0x` notation.
fn is_hexadecimal(text: &[u8]) -> bool {
    let mut rest = text;
    while let [first, tail @ ..] = rest {
        if !is_c_space(*first) {
            break;
        }
        rest = tail;
    }
    if let [b'+' | b'-', tail @ ..] = rest {
        rest = tail;
    }
    matches!(rest, [b'0', b'x' | b'X', ..])
}

/// How two items compare, as Redis's `sortCompare` for these options.
struct Comparison {
    numeric: bool,
    by_pattern: bool,
    /// With STORE: whole values compared, not C strings.
    binary: bool,
    descending: bool,
}

impl Comparison {
    fn of(options: &Options<'_>) -> Self {
        Comparison {
            numeric: !options.alpha,
            by_pattern: options.by.is_some(),
            binary: options.store.is_some(),
            descending: options.descending,
        }
    }

    fn compare(&self, a: &Item, b: &Item) -> Ordering {
        let ordering = if self.numeric {
            match a.score.partial_cmp(&b.score) {
                Some(Ordering::Less) => Ordering::Less,
                Some(Ordering::Greater) => Ordering::Greater,
                _ => a.element.cmp(&b.element),
            }
        } else if self.by_pattern {
            match (&a.by_value, &b.by_value) {
                (Some(a), Some(b)) => self.compare_text(a, b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            }
        } else {
            self.compare_text(&a.element, &b.element)
        };
        if self.descending {
            ordering.reverse()
        } else {
            ordering
        }
    }

    fn compare_text(&self, a: &[u8], b: &[u8]) -> Ordering {
        if self.binary {
            a.cmp(b)
        } else {
            c_string(a).cmp(c_string(b))
        }
    }
}

/// Sorts the items: partially, as Redis does, when BY is given and LIMIT
/// leaves some out; otherwise stably. Nothing to sort when nothing is kept.
fn sort_items(loaded: &mut Loaded, options: &Options<'_>) {
    if loaded.start == loaded.stop {
        return;
    }
    let comparison = Comparison::of(options);
    let compare = |a: &Item, b: &Item| comparison.compare(a, b);
    let partial = loaded.start != 0 || loaded.stop != loaded.items.len();
    if options.by.is_some() && partial {
        partial_quicksort(&mut loaded.items, loaded.start, loaded.stop - 1, &compare);
    } else {
        loaded.items.sort_by(compare);
    }
}

/// Sorts `items` enough that positions `first..=last` hold what a full
/// sort would put there: Redis's `pqsort`, the quicksort of Bentley and
/// McIlroy's "Engineering a Sort Function" (median of three, or of three
/// medians of three past 40 items; a three-way partition gathering the
/// items equal to the pivot at both ends, then swapped to the middle;
/// insertion sort below 7 items) that skips the parts outside the range.
/// Items comparing equal end up where those steps leave them, which is
/// why they are followed one for one. Parts wait on a stack of their own
/// rather than the call stack, so no input can exhaust it; each part is
/// sorted alone, so the order they are taken in changes nothing.
fn partial_quicksort<T>(
    items: &mut [T],
    first: usize,
    last: usize,
    compare: &impl Fn(&T, &T) -> Ordering,
) {
    let mut parts = vec![(0, items.len())];
    while let Some((base, len)) = parts.pop() {
        if len < 7 {
            insertion_sort(&mut items[base..base + len], compare);
            continue;
        }
        let (lower, upper) = partition(&mut items[base..base + len], compare);
        for (start, part_len) in [(base + upper.0, upper.1), (base + lower.0, lower.1)] {
            let outside = last < start || first >= start + part_len;
            if part_len > 1 && !outside {
                parts.push((start, part_len));
            }
        }
    }
}

/// Sorts a few items by moving each back past the greater ones before it.
fn insertion_sort<T>(items: &mut [T], compare: &impl Fn(&T, &T) -> Ordering) {
    for next in 1..items.len() {
        let mut at = next;
        while at > 0 && compare(&items[at - 1], &items[at]) == Ordering::Greater {
            items.swap(at, at - 1);
            at -= 1;
        }
    }
}

/// The index of the median of three items.
fn median_of_three<T>(
    items: &[T],
    (a, b, c): (usize, usize, usize),
    compare: &impl Fn(&T, &T) -> Ordering,
) -> usize {
    let less = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Less;
    let greater = |x: usize, y: usize| compare(&items[x], &items[y]) == Ordering::Greater;
    if less(a, b) {
        if less(b, c) {
            b
        } else if less(a, c) {
            c
        } else {
            a
        }
    } else if greater(b, c) {
        b
    } else if less(a, c) {
        a
    } else {
        c
    }
}

/// The pivot's index: the middle item, the median of the first, middle
/// and last past 7 items, of three such medians past 40.
fn choose_pivot<T>(items: &[T], compare: &impl Fn(&T, &T) -> Ordering) -> usize {
    let len = items.len();
    let mut middle = len / 2;
    if len > 7 {
        let (mut low, mut high) = (0, len - 1);
        if len > 40 {
            let step = len / 8;
            low = median_of_three(items, (low, low + step, low + 2 * step), compare);
            middle = median_of_three(items, (middle - step, middle, middle + step), compare);
            high = median_of_three(items, (high - 2 * step, high - step, high), compare);
        }
        middle = median_of_three(items, (low, middle, high), compare);
    }
    middle
}

/// Partitions `items` (7 or more) around a pivot into the items before it,
/// those equal to it and those after it; returns the (start, length) of
/// the parts before and after.
fn partition<T>(
    items: &mut [T],
    compare: &impl Fn(&T, &T) -> Ordering,
) -> ((usize, usize), (usize, usize)) {
    let len = items.len();
    let pivot = choose_pivot(items, compare);
    items.swap(0, pivot);
    // Equal items gather in 1..equal_low and (equal_high, len); the rest
    // scan inwards: low..=high is what remains to look at.
    let (mut equal_low, mut low) = (1, 1);
    let (mut high, mut equal_high) = (len - 1, len - 1);
    loop {
        while low <= high {
            match compare(&items[low], &items[0]) {
                Ordering::Greater => break,
                Ordering::Equal => {
                    items.swap(equal_low, low);
                    equal_low += 1;
                }
                Ordering::Less => {}
            }
            low += 1;
        }
        while low <= high {
            match compare(&items[high], &items[0]) {
                Ordering::Less => break,
                Ordering::Equal => {
                    items.swap(high, equal_high);
                    equal_high -= 1;
                }
                Ordering::Greater => {}
            }
            high -= 1;
        }
        if low > high {
            break;
        }
        items.swap(low, high);
        low += 1;
        high -= 1;
    }
    let moved = equal_low.min(low - equal_low);
    swap_runs(items, 0, low - moved, moved);
    let moved = (equal_high - high).min(len - equal_high - 1);
    swap_runs(items, low, len - moved, moved);
    let before = low - equal_low;
    let after = equal_high - high;
    ((0, before), (len - after, after))
}

/// Swaps the `count` items from `a` with the `count` items from `b`, one
/// for one (the two runs do not overlap).
fn swap_runs<T>(items: &mut [T], a: usize, b: usize, count: usize) {
    for offset in 0..count {
        items.swap(a + offset, b + offset);
    }
}

/// The value a BY or GET pattern names for `element` (see the module
/// documentation), counting a keyspace hit or miss for the key it reads.
fn lookup_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if c_string(pattern) == b"#" {
        return Some(element.to_vec());
    }
    let star = star_position(pattern)?;
    let (key, field) = substitute(pattern, star, element);
    match field {
        None => ctx.get_string(&key).ok().flatten(),
        Some(field) => {
            let (mut db, _) = ctx.split();
            let hash = db.read::<Hash>(&key).ok().flatten()?;
            hash.get(field).map(|entry| entry.to_vec())
        }
    }
}

/// The key a pattern names for `element` (the `*` at `star` replaced by
/// it) and the hash field, if `->` and a field follow the `*`.
fn substitute<'p>(pattern: &'p [u8], star: usize, element: &[u8]) -> (Vec<u8>, Option<&'p [u8]>) {
    let after_star = &pattern[star + 1..];
    let arrow = c_string(after_star)
        .windows(2)
        .position(|pair| pair == b"->");
    let (postfix, field) = match arrow {
        Some(at) if after_star.get(at + 2).is_some_and(|&byte| byte != 0) => {
            (&after_star[..at], Some(&after_star[at + 2..]))
        }
        _ => (after_star, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    (key, field)
}

/// Replies with the kept items, or each one's GET values.
fn reply(ctx: &mut Ctx<'_>, kept: &[Item], gets: &[&[u8]]) {
    let values_each = gets.len().max(1);
    ctx.out().array(kept.len() * values_each);
    for item in kept {
        if gets.is_empty() {
            ctx.out().bulk(&item.element);
        }
        for pattern in gets {
            match lookup_pattern(ctx, pattern, &item.element) {
                Some(value) => ctx.out().bulk(&value),
                None => ctx.out().null(),
            }
        }
        if reply_overflowing(ctx.client) {
            break;
        }
    }
}

/// Stores the kept items (or each one's GET values, empty strings for
/// those not found) as a list at `destination`, replacing whatever it
/// held and clearing its time to live; an empty result deletes it. Counts
/// one change per value stored (one for a deletion) and replies with the
/// number of values.
fn store(ctx: &mut Ctx<'_>, destination: &[u8], kept: &[Item], gets: &[&[u8]]) {
    let mut list = List::new(&ctx.server.config.encodings);
    for item in kept {
        if gets.is_empty() {
            list.push(End::Tail, &item.element);
        }
        for pattern in gets {
            let value = lookup_pattern(ctx, pattern, &item.element);
            list.push(End::Tail, value.as_deref().unwrap_or_default());
        }
    }
    let (stored, now) = (list.len(), ctx.now_ms);
    if stored > 0 {
        ctx.db().set(destination, Value::List(Box::new(list)));
        ctx.notify(class::LIST, "sortstore", destination);
        ctx.dirty(stored as u64);
    } else if ctx.db().remove(destination, now).is_some() {
        ctx.notify(class::GENERIC, "del", destination);
        ctx.dirty(1);
    }
    ctx.out().int(stored as i64);
}
