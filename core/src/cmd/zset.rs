//! Sorted sets: ZADD and ZINCRBY, removals, scores and ranks, ranges by
//! rank, score and lex (and their stored and removing forms), pops
//! (blocking too), set algebra (ZUNION, ZINTER, ZDIFF and their stored
//! forms, ZINTERCARD), ZRANDMEMBER and ZSCAN, with Redis 7.0's replies,
//! errors and argument checks.
//!
//! Scores are doubles read as Redis reads them (`strtod`, see
//! `db::value::zset::number`) and written back as Redis 7.0 writes them
//! (`%.17g`): a bulk string in RESP2, a RESP3 double (`,`) in RESP3,
//! except in ZSCAN where they stay bulk strings.
//!
//! Write commands look the key up without touching it first and only
//! take it for writing when they will change it, so WATCH sees a change
//! exactly when Redis signals one. Pops are propagated as Redis 7.0
//! propagates them: a served BZPOPMIN/BZPOPMAX as `ZPOPMIN|ZPOPMAX key`,
//! ZMPOP and BZMPOP as `ZPOPMIN|ZPOPMAX key count` with the count popped.

use std::borrow::Cow;

use super::{
    flag, keys_counted_at_1, keys_counted_at_2, keys_destination_then_counted, CommandSpec, Ctx,
    Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX,
};
use crate::db::value::zset::skiplist::compare;
use crate::db::value::zset::{
    format_score, parse_range_number, parse_score, AddFlags, Added, Element,
};
use crate::db::value::{Typed, ZSet};
use crate::db::{Dict, Value};
use crate::glob::glob_match;
use crate::notify::class;
use crate::resp::{parse_i64, Out, Protocol};

const GROUP: &str = "sorted-set";
const WRITE_DENYOOM_FAST: u32 = flag::WRITE | flag::DENYOOM | flag::FAST;
const WRITE_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const WRITE_FAST: u32 = flag::WRITE | flag::FAST;
const READ_FAST: u32 = flag::READONLY | flag::FAST;
const BLOCKING_POP: u32 = flag::WRITE | flag::NOSCRIPT | flag::BLOCKING | flag::FAST;
const RANGE_COMPLEXITY: &str = "O(log(N)+M): N elements in the sorted set, M elements returned";
const REMOVE_RANGE_COMPLEXITY: &str =
    "O(log(N)+M): N elements in the sorted set, M elements removed";
const POP_COMPLEXITY: &str = "O(log(N)*M): N elements in the sorted set, M elements popped";
const UNION_COMPLEXITY: &str =
    "O(N)+O(M*log(M)): N elements in all inputs, M elements in the result";
const INTER_COMPLEXITY: &str =
    "O(N*K)+O(M*log(M)): N elements in the smallest input, K inputs, M elements in the result";
const DIFF_COMPLEXITY: &str =
    "O(L+(N-K)*log(N)): L elements in all inputs, N in the first, K in the result";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, WRITE_DENYOOM_FAST, zadd).key(1).doc(
        GROUP,
        "1.2.0",
        "Adds members with scores to a sorted set, or updates the scores of members already in it.",
        "O(log(N)) per member added, N being the number of elements in the sorted set",
    ),
    CommandSpec::new("zincrby", 4, WRITE_DENYOOM_FAST, zincrby).key(1).doc(
        GROUP,
        "1.2.0",
        "Adds an increment to the score of a member of a sorted set.",
        "O(log(N)), N being the number of elements in the sorted set",
    ),
    CommandSpec::new("zrem", -3, WRITE_FAST, zrem).key(1).doc(
        GROUP,
        "1.2.0",
        "Removes members from a sorted set.",
        "O(M*log(N)): N elements in the sorted set, M members removed",
    ),
    CommandSpec::new("zscore", 3, READ_FAST, zscore).key(1).doc(
        GROUP,
        "1.2.0",
        "Returns the score of a member of a sorted set.",
        "O(1)",
    ),
    CommandSpec::new("zmscore", -3, READ_FAST, zmscore).key(1).doc(
        GROUP,
        "6.2.0",
        "Returns the scores of several members of a sorted set.",
        "O(N), N being the number of members asked for",
    ),
    CommandSpec::new("zcard", 2, READ_FAST, zcard).key(1).doc(
        GROUP,
        "1.2.0",
        "Returns the number of members of a sorted set.",
        "O(1)",
    ),
    CommandSpec::new("zcount", 4, READ_FAST, zcount).key(1).doc(
        GROUP,
        "2.0.0",
        "Counts the members of a sorted set whose scores lie within a range.",
        "O(log(N)), N being the number of elements in the sorted set",
    ),
    CommandSpec::new("zlexcount", 4, READ_FAST, zlexcount).key(1).doc(
        GROUP,
        "2.8.9",
        "Counts the members of a sorted set within a lexicographical range.",
        "O(log(N)), N being the number of elements in the sorted set",
    ),
    CommandSpec::new("zrange", -4, flag::READONLY, zrange).key(1).doc(
        GROUP,
        "1.2.0",
        "Returns members of a sorted set by rank, score or lexicographical range.",
        RANGE_COMPLEXITY,
    ),
    CommandSpec::new("zrangestore", -5, WRITE_DENYOOM, zrangestore)
        .keys(1, 2, 1)
        .doc(
            GROUP,
            "6.2.0",
            "Stores a range of a sorted set's members in another key.",
            RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zrangebyscore", -4, flag::READONLY, zrangebyscore)
        .key(1)
        .doc(
            GROUP,
            "1.0.5",
            "Returns members of a sorted set within a score range.",
            RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zrevrangebyscore", -4, flag::READONLY, zrevrangebyscore)
        .key(1)
        .doc(
            GROUP,
            "2.2.0",
            "Returns members of a sorted set within a score range, highest scores first.",
            RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zrangebylex", -4, flag::READONLY, zrangebylex)
        .key(1)
        .doc(
            GROUP,
            "2.8.9",
            "Returns members of a sorted set within a lexicographical range.",
            RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zrevrangebylex", -4, flag::READONLY, zrevrangebylex)
        .key(1)
        .doc(
            GROUP,
            "2.8.9",
            "Returns members of a sorted set within a lexicographical range, highest first.",
            RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zrevrange", -4, flag::READONLY, zrevrange).key(1).doc(
        GROUP,
        "1.2.0",
        "Returns members of a sorted set by rank, highest scores first.",
        RANGE_COMPLEXITY,
    ),
    CommandSpec::new("zrank", 3, READ_FAST, zrank).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns the rank of a member of a sorted set, lowest score first.",
        "O(log(N))",
    ),
    CommandSpec::new("zrevrank", 3, READ_FAST, zrevrank).key(1).doc(
        GROUP,
        "2.0.0",
        "Returns the rank of a member of a sorted set, highest score first.",
        "O(log(N))",
    ),
    CommandSpec::new("zremrangebyrank", 4, flag::WRITE, zremrangebyrank)
        .key(1)
        .doc(
            GROUP,
            "2.0.0",
            "Removes the members of a sorted set within a range of ranks.",
            REMOVE_RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zremrangebyscore", 4, flag::WRITE, zremrangebyscore)
        .key(1)
        .doc(
            GROUP,
            "1.2.0",
            "Removes the members of a sorted set within a score range.",
            REMOVE_RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zremrangebylex", 4, flag::WRITE, zremrangebylex)
        .key(1)
        .doc(
            GROUP,
            "2.8.9",
            "Removes the members of a sorted set within a lexicographical range.",
            REMOVE_RANGE_COMPLEXITY,
        ),
    CommandSpec::new("zpopmin", -2, WRITE_FAST, zpopmin).key(1).doc(
        GROUP,
        "5.0.0",
        "Removes and returns the members of a sorted set with the lowest scores.",
        POP_COMPLEXITY,
    ),
    CommandSpec::new("zpopmax", -2, WRITE_FAST, zpopmax).key(1).doc(
        GROUP,
        "5.0.0",
        "Removes and returns the members of a sorted set with the highest scores.",
        POP_COMPLEXITY,
    ),
    CommandSpec::new("bzpopmin", -3, BLOCKING_POP, bzpopmin)
        .keys(1, -2, 1)
        .doc(
            GROUP,
            "5.0.0",
            "Removes and returns the lowest-scored member of the first non-empty sorted set, waiting for one if there is none.",
            "O(log(N)), N being the number of elements in the sorted set",
        ),
    CommandSpec::new("bzpopmax", -3, BLOCKING_POP, bzpopmax)
        .keys(1, -2, 1)
        .doc(
            GROUP,
            "5.0.0",
            "Removes and returns the highest-scored member of the first non-empty sorted set, waiting for one if there is none.",
            "O(log(N)), N being the number of elements in the sorted set",
        ),
    CommandSpec::new("zmpop", -4, flag::WRITE, zmpop)
        .movable(keys_counted_at_1)
        .doc(
        GROUP,
        "7.0.0",
        "Removes and returns members with the lowest or highest scores from the first non-empty sorted set.",
        "O(K)+O(M*log(N)): K keys, N elements in the sorted set, M elements popped",
    ),
    CommandSpec::new("bzmpop", -5, flag::WRITE | flag::BLOCKING, bzmpop)
        .movable(keys_counted_at_2)
        .doc(
        GROUP,
        "7.0.0",
        "Removes and returns members with the lowest or highest scores from the first non-empty sorted set, waiting for one if there is none.",
        "O(K)+O(M*log(N)): K keys, N elements in the sorted set, M elements popped",
    ),
    CommandSpec::new("zunionstore", -4, WRITE_DENYOOM, zunionstore)
        .key(1)
        .movable(keys_destination_then_counted)
        .doc(
            GROUP,
            "2.0.0",
            "Stores the union of sorted sets in a key.",
            UNION_COMPLEXITY,
        ),
    CommandSpec::new("zinterstore", -4, WRITE_DENYOOM, zinterstore)
        .key(1)
        .movable(keys_destination_then_counted)
        .doc(
            GROUP,
            "2.0.0",
            "Stores the intersection of sorted sets in a key.",
            INTER_COMPLEXITY,
        ),
    CommandSpec::new("zdiffstore", -4, WRITE_DENYOOM, zdiffstore)
        .key(1)
        .movable(keys_destination_then_counted)
        .doc(
            GROUP,
            "6.2.0",
            "Stores the difference of sorted sets in a key.",
            DIFF_COMPLEXITY,
        ),
    CommandSpec::new("zunion", -3, flag::READONLY, zunion)
        .movable(keys_counted_at_1)
        .doc(
        GROUP,
        "6.2.0",
        "Returns the union of sorted sets.",
        UNION_COMPLEXITY,
    ),
    CommandSpec::new("zinter", -3, flag::READONLY, zinter)
        .movable(keys_counted_at_1)
        .doc(
        GROUP,
        "6.2.0",
        "Returns the intersection of sorted sets.",
        INTER_COMPLEXITY,
    ),
    CommandSpec::new("zdiff", -3, flag::READONLY, zdiff)
        .movable(keys_counted_at_1)
        .doc(
        GROUP,
        "6.2.0",
        "Returns the difference of sorted sets.",
        DIFF_COMPLEXITY,
    ),
    CommandSpec::new("zintercard", -3, flag::READONLY, zintercard)
        .movable(keys_counted_at_1)
        .doc(
        GROUP,
        "7.0.0",
        "Returns the number of members in the intersection of sorted sets.",
        "O(N*K): N elements in the smallest input, K inputs",
    ),
    CommandSpec::new("zrandmember", -2, flag::READONLY, zrandmember)
        .key(1)
        .doc(
            GROUP,
            "6.2.0",
            "Returns random members of a sorted set.",
            "O(N), N being the number of members returned",
        ),
    CommandSpec::new("zscan", -3, flag::READONLY, zscan).key(1).doc(
        GROUP,
        "2.8.0",
        "Iterates over the members and scores of a sorted set.",
        "O(1) per call, O(N) for a whole iteration",
    ),
];

const ERR_NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const ERR_NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";
const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
const ERR_NOT_POSITIVE: &str = "ERR value is out of range, must be positive";
/// Most elements a ZRANDMEMBER reply may hold. Redis has no such bound
/// and would try to build replies of any size (a negative count repeats
/// members); here a count beyond it is refused with `ERR value is out of
/// range` rather than exhausting memory.
const RANDOM_REPLY_ELEMENTS_MAX: u64 = 1 << 24;

/// Replies with a score as Redis 7.0's `addReplyDouble`: `%.17g` in a
/// bulk string (RESP2) or a RESP3 double.
fn reply_score(out: &mut Out, score: f64) {
    let text = format_score(score);
    if out.protocol == Protocol::Resp3 {
        out.buf.push(b',');
        out.buf.extend_from_slice(text.as_bytes());
        out.buf.extend_from_slice(b"\r\n");
    } else {
        out.bulk(text.as_bytes());
    }
}

/// Replies with elements as the range commands do: members only, or
/// members and scores (a flat array in RESP2, pairs in RESP3).
fn reply_elements(out: &mut Out, elements: &[Element<'_>], with_scores: bool) {
    let resp3 = out.protocol == Protocol::Resp3;
    if with_scores && !resp3 {
        out.array(elements.len() * 2);
    } else {
        out.array(elements.len());
    }
    for (member, score) in elements {
        if with_scores && resp3 {
            out.array(2);
        }
        out.bulk(member);
        if with_scores {
            reply_score(out, *score);
        }
    }
}

/// The sorted set under `key` as a write command looks it up: live,
/// not counted as a keyspace hit or miss, not marked as changed.
fn peek<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c ZSet>, Error> {
    let now = ctx.now_ms;
    match ctx.db().get(key, now) {
        None => Ok(None),
        Some(value) => ZSet::of(value).map(Some).ok_or(Error::WrongType),
    }
}

/// The sorted set under `key`, to change (WATCH sees it). The caller has
/// checked that it exists.
fn write<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> &'c mut ZSet {
    match ctx.write::<ZSet>(key) {
        Ok(Some(zset)) => zset,
        _ => unreachable!("the sorted set was just looked up"),
    }
}

/// An integer argument, or the integer error.
fn integer(text: &[u8]) -> Result<i64, Error> {
    parse_i64(text).ok_or(Error::from(ERR_NOT_INTEGER))
}

/// An integer argument within `min..=max`; `message` replaces both the
/// integer error and the range error when given (Redis's
/// `getRangeLongFromObjectOrReply`).
fn integer_in(
    text: &[u8],
    min: i64,
    max: i64,
    message: Option<&'static str>,
) -> Result<i64, Error> {
    let value = match (parse_i64(text), message) {
        (Some(value), _) => value,
        (None, Some(message)) => return Err(message.into()),
        (None, None) => return Err(ERR_NOT_INTEGER.into()),
    };
    if value < min || value > max {
        return Err(match message {
            Some(message) => message.into(),
            None => format!("ERR value is out of range, value must between {min} and {max}").into(),
        });
    }
    Ok(value)
}

/// A score range: `min` and `max`, each inclusive or exclusive (`(`).
#[derive(Debug, Clone, Copy)]
struct ScoreRange {
    min: f64,
    max: f64,
    min_exclusive: bool,
    max_exclusive: bool,
}

impl ScoreRange {
    /// Parses two bounds (Redis's `zslParseRange`).
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, Error> {
        let bound = |text: &[u8]| -> Option<(f64, bool)> {
            match text.first() {
                Some(b'(') => parse_range_number(&text[1..]).map(|v| (v, true)),
                _ => parse_range_number(text).map(|v| (v, false)),
            }
        };
        match (bound(min), bound(max)) {
            (Some((min, min_exclusive)), Some((max, max_exclusive))) => Ok(ScoreRange {
                min,
                max,
                min_exclusive,
                max_exclusive,
            }),
            _ => Err(ERR_NOT_FLOAT_RANGE.into()),
        }
    }

    fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }

    fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }

    /// Whether some element of `zset` may lie in the range (Redis's
    /// `zslIsInRange`): the range is not empty, the highest score is not
    /// below it and the lowest not above it.
    fn touches(&self, zset: &ZSet) -> bool {
        let empty = self.min > self.max
            || (self.min == self.max && (self.min_exclusive || self.max_exclusive));
        let (Some(first), Some(last)) = (zset.get(0), zset.get(zset.len().wrapping_sub(1))) else {
            return false;
        };
        !empty && self.above_min(last.1) && self.below_max(first.1)
    }

    /// The rank of the lowest element in the range.
    fn first(&self, zset: &ZSet) -> Option<usize> {
        if !self.touches(zset) {
            return None;
        }
        let rank = zset.first_not(|score, _| !self.above_min(score))?;
        let (_, score) = zset.get(rank)?;
        self.below_max(score).then_some(rank)
    }

    /// The rank of the highest element in the range.
    fn last(&self, zset: &ZSet) -> Option<usize> {
        if !self.touches(zset) {
            return None;
        }
        let rank = zset.last_where(|score, _| self.below_max(score))?;
        let (_, score) = zset.get(rank)?;
        self.above_min(score).then_some(rank)
    }
}

/// One end of a lexicographical range.
#[derive(Debug, Clone)]
enum LexBound {
    /// `-`: below every member.
    Lowest,
    /// `+`: above every member.
    Highest,
    /// `[member` or `(member`.
    Member { bytes: Vec<u8>, exclusive: bool },
}

impl LexBound {
    /// Parses `-`, `+`, `[member` or `(member` (Redis's
    /// `zslParseLexRangeItem`, which stops at a zero byte after `-`/`+`).
    fn parse(text: &[u8]) -> Option<Self> {
        let alone = text.len() == 1 || text.get(1) == Some(&0);
        match text.first()? {
            b'-' if alone => Some(LexBound::Lowest),
            b'+' if alone => Some(LexBound::Highest),
            b'(' => Some(LexBound::Member {
                bytes: text[1..].to_vec(),
                exclusive: true,
            }),
            b'[' => Some(LexBound::Member {
                bytes: text[1..].to_vec(),
                exclusive: false,
            }),
            _ => None,
        }
    }
}

/// A lexicographical range of members.
#[derive(Debug, Clone)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, Error> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(ERR_NOT_LEX_RANGE.into()),
        }
    }

    fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::Lowest => true,
            LexBound::Highest => false,
            LexBound::Member { bytes, exclusive } => {
                if *exclusive {
                    member > &bytes[..]
                } else {
                    member >= &bytes[..]
                }
            }
        }
    }

    fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::Lowest => false,
            LexBound::Highest => true,
            LexBound::Member { bytes, exclusive } => {
                if *exclusive {
                    member < &bytes[..]
                } else {
                    member <= &bytes[..]
                }
            }
        }
    }

    /// Whether the range can hold anything (Redis's `sdscmplex` test).
    fn is_empty(&self) -> bool {
        use LexBound::*;
        match (&self.min, &self.max) {
            (Lowest, Lowest) | (Highest, _) | (_, Lowest) => true,
            (Lowest, _) | (_, Highest) => false,
            (
                Member {
                    bytes: min,
                    exclusive: min_exclusive,
                },
                Member {
                    bytes: max,
                    exclusive: max_exclusive,
                },
            ) => min > max || (min == max && (*min_exclusive || *max_exclusive)),
        }
    }

    fn touches(&self, zset: &ZSet) -> bool {
        let (Some(first), Some(last)) = (zset.get(0), zset.get(zset.len().wrapping_sub(1))) else {
            return false;
        };
        !self.is_empty() && self.above_min(&last.0) && self.below_max(&first.0)
    }

    fn first(&self, zset: &ZSet) -> Option<usize> {
        if !self.touches(zset) {
            return None;
        }
        let rank = zset.first_not(|_, member| !self.above_min(member))?;
        let (member, _) = zset.get(rank)?;
        self.below_max(&member).then_some(rank)
    }

    fn last(&self, zset: &ZSet) -> Option<usize> {
        if !self.touches(zset) {
            return None;
        }
        let rank = zset.last_where(|_, member| self.below_max(member))?;
        let (member, _) = zset.get(rank)?;
        self.above_min(&member).then_some(rank)
    }
}

/// A range of either kind, for the commands that take both.
#[derive(Debug, Clone)]
enum ValueRange {
    Score(ScoreRange),
    Lex(LexRange),
}

impl ValueRange {
    fn first(&self, zset: &ZSet) -> Option<usize> {
        match self {
            ValueRange::Score(range) => range.first(zset),
            ValueRange::Lex(range) => range.first(zset),
        }
    }

    fn last(&self, zset: &ZSet) -> Option<usize> {
        match self {
            ValueRange::Score(range) => range.last(zset),
            ValueRange::Lex(range) => range.last(zset),
        }
    }

    fn above_min(&self, element: &Element<'_>) -> bool {
        match self {
            ValueRange::Score(range) => range.above_min(element.1),
            ValueRange::Lex(range) => range.above_min(&element.0),
        }
    }

    fn below_max(&self, element: &Element<'_>) -> bool {
        match self {
            ValueRange::Score(range) => range.below_max(element.1),
            ValueRange::Lex(range) => range.below_max(&element.0),
        }
    }

    /// The ranks of the elements in the range, walked from the lowest as
    /// Redis walks them: from the first in range while below the maximum.
    fn run(&self, zset: &ZSet) -> (usize, usize) {
        let Some(first) = self.first(zset) else {
            return (0, 0);
        };
        let count = zset
            .iter_from(first, false)
            .take_while(|element| self.below_max(element))
            .count();
        (first, count)
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]:
/// the number of members added (with CH: added or whose score changed);
/// with INCR the member's new score, or null when a condition stopped it.
/// Errors: syntax (odd pairs), the option conflicts Redis names, `ERR
/// value is not a valid float`, `ERR resulting score is not a number
/// (NaN)`, WRONGTYPE.
fn zadd(ctx: &mut Ctx<'_>) -> Outcome {
    zadd_generic(ctx, AddFlags::default())
}

/// ZINCRBY key increment member: ZADD INCR, the new score.
fn zincrby(ctx: &mut Ctx<'_>) -> Outcome {
    zadd_generic(
        ctx,
        AddFlags {
            incr: true,
            ..AddFlags::default()
        },
    )
}

/// ZADD's options from argument 2 on: the flags, CH, and where the pairs
/// start.
fn zadd_options(ctx: &Ctx<'_>, mut flags: AddFlags) -> (AddFlags, bool, usize) {
    let mut changed_too = false;
    let mut at = 2;
    while at < ctx.argv.len() {
        match ctx.keyword(at).as_str() {
            "NX" => flags.nx = true,
            "XX" => flags.xx = true,
            "CH" => changed_too = true,
            "INCR" => flags.incr = true,
            "GT" => flags.gt = true,
            "LT" => flags.lt = true,
            _ => break,
        }
        at += 1;
    }
    (flags, changed_too, at)
}

/// ZADD's pairs, checked before anything changes: their count, the
/// option conflicts, then every score.
fn zadd_pairs<'a>(
    ctx: &Ctx<'a>,
    flags: AddFlags,
    start: usize,
) -> Result<Vec<(f64, &'a [u8])>, Error> {
    let words = ctx.argv.len() - start;
    if !words.is_multiple_of(2) || words == 0 {
        return Err(ERR_SYNTAX.into());
    }
    if flags.nx && flags.xx {
        return Err("ERR XX and NX options at the same time are not compatible".into());
    }
    if ((flags.gt || flags.lt) && flags.nx) || (flags.gt && flags.lt) {
        return Err("ERR GT, LT, and/or NX options at the same time are not compatible".into());
    }
    if flags.incr && words > 2 {
        return Err("ERR INCR option supports a single increment-element pair".into());
    }
    (start..ctx.argv.len())
        .step_by(2)
        .map(|i| {
            let score = parse_score(ctx.arg(i)).ok_or(Error::from(ERR_NOT_FLOAT))?;
            Ok((score, ctx.arg(i + 1)))
        })
        .collect()
}

fn zadd_generic(ctx: &mut Ctx<'_>, flags: AddFlags) -> Outcome {
    let key = ctx.arg(1);
    let (flags, changed_too, start) = zadd_options(ctx, flags);
    let pairs = zadd_pairs(ctx, flags, start)?;
    // A dry run on the set as it is: any element that would change it
    // would do so when applied in order, and none otherwise.
    let mut changes = false;
    let mut last = Added::Skipped;
    match peek(ctx, key)? {
        None => changes = !flags.xx,
        Some(zset) => {
            for &(score, member) in &pairs {
                last = zset
                    .preview_add(member, score, flags)
                    .map_err(|_| Error::from(ERR_NAN))?;
                changes |= matches!(last, Added::New(_) | Added::Updated { changed: true, .. });
            }
        }
    }
    let (mut added, mut updated) = (0, 0);
    if changes {
        let limits = ctx.server.config.encodings;
        let zset = ctx.write_or_create::<ZSet>(key)?;
        for &(score, member) in &pairs {
            last = zset
                .add(member, score, flags, &limits)
                .map_err(|_| Error::from(ERR_NAN))?;
            match last {
                Added::New(_) => added += 1,
                Added::Updated { changed: true, .. } => updated += 1,
                _ => {}
            }
        }
        if added + updated > 0 {
            ctx.notify(class::ZSET, if flags.incr { "zincr" } else { "zadd" }, key);
        }
        ctx.dirty(added + updated);
    }
    let out = ctx.out();
    if flags.incr {
        match last {
            Added::New(score) | Added::Updated { score, .. } => reply_score(out, score),
            Added::Skipped => out.null(),
        }
    } else {
        out.int((if changed_too { added + updated } else { added }) as i64);
    }
    Ok(())
}

/// ZREM key member [member ...]: how many members were removed; the key
/// goes when the set empties.
fn zrem(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let members = &ctx.argv[2..];
    let present = match peek(ctx, key)? {
        None => false,
        Some(zset) => members.iter().any(|member| zset.score(member).is_some()),
    };
    let mut removed = 0;
    if present {
        let zset = write(ctx, key);
        for member in members {
            if zset.remove(member).is_some() {
                removed += 1;
            }
            if zset.is_empty() {
                break;
            }
        }
        ctx.notify(class::ZSET, "zrem", key);
        ctx.drop_if_empty(key);
        ctx.dirty(removed);
    }
    ctx.out().int(removed as i64);
    Ok(())
}

/// ZSCORE key member: the score, or null.
fn zscore(ctx: &mut Ctx<'_>) -> Outcome {
    let (key, member) = (ctx.arg(1), ctx.arg(2));
    let (mut db, out) = ctx.split();
    match db.read::<ZSet>(key)?.and_then(|zset| zset.score(member)) {
        Some(score) => reply_score(out, score),
        None => out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]: an array of scores, null for each
/// member (or every member of a missing key) not there.
fn zmscore(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let members = &ctx.argv[2..];
    let (mut db, out) = ctx.split();
    let zset = db.read::<ZSet>(key)?;
    out.array(members.len());
    for member in members {
        match zset.and_then(|zset| zset.score(member)) {
            Some(score) => reply_score(out, score),
            None => out.null(),
        }
    }
    Ok(())
}

/// ZCARD key: the number of members, 0 for a missing key.
fn zcard(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let len = ctx.read::<ZSet>(key)?.map_or(0, ZSet::len);
    ctx.out().int(len as i64);
    Ok(())
}

/// ZCOUNT key min max: how many members have a score in the range.
/// Errors: `ERR min or max is not a float` (checked before the key).
fn zcount(ctx: &mut Ctx<'_>) -> Outcome {
    let range = ScoreRange::parse(ctx.arg(2), ctx.arg(3))?;
    let count = match ctx.read::<ZSet>(ctx.arg(1))? {
        None => 0,
        Some(zset) => match (range.first(zset), range.last(zset)) {
            (Some(first), Some(last)) if last >= first => last - first + 1,
            _ => 0,
        },
    };
    ctx.out().int(count as i64);
    Ok(())
}

/// ZLEXCOUNT key min max: how many members lie in the lexicographical
/// range. Errors: `ERR min or max not valid string range item`.
fn zlexcount(ctx: &mut Ctx<'_>) -> Outcome {
    let range = LexRange::parse(ctx.arg(2), ctx.arg(3))?;
    let count = match ctx.read::<ZSet>(ctx.arg(1))? {
        None => 0,
        Some(zset) if zset.is_compact() => ValueRange::Lex(range).run(zset).1,
        Some(zset) => match (range.first(zset), range.last(zset)) {
            (Some(first), Some(last)) if last >= first => last - first + 1,
            _ => 0,
        },
    };
    ctx.out().int(count as i64);
    Ok(())
}

/// ZRANK key member: the member's 0-based rank by ascending score, or
/// null.
fn zrank(ctx: &mut Ctx<'_>) -> Outcome {
    rank_generic(ctx, false)
}

/// ZREVRANK key member: the rank by descending score, or null.
fn zrevrank(ctx: &mut Ctx<'_>) -> Outcome {
    rank_generic(ctx, true)
}

fn rank_generic(ctx: &mut Ctx<'_>, reverse: bool) -> Outcome {
    let (key, member) = (ctx.arg(1), ctx.arg(2));
    let rank = ctx.read::<ZSet>(key)?.and_then(|zset| {
        let rank = zset.rank(member)?;
        Some(if reverse { zset.len() - 1 - rank } else { rank })
    });
    match rank {
        Some(rank) => ctx.out().int(rank as i64),
        None => ctx.out().null(),
    }
    Ok(())
}

/// How a range command selects: chosen by the command, or by ZRANGE's
/// BYSCORE/BYLEX (rank by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeKind {
    Chosen,
    Rank,
    Score,
    Lex,
}

/// A parsed range request (Redis's `zrangeGenericCommand` arguments).
struct RangeRequest<'a> {
    key: &'a [u8],
    reverse: bool,
    with_scores: bool,
    /// Rank bounds, for a rank range.
    ranks: (i64, i64),
    /// Score or lex bounds, otherwise.
    range: Option<ValueRange>,
    offset: i64,
    /// Negative: no limit.
    limit: i64,
}

/// Parses a range command whose source key is argument `key_at`:
/// `<key> <min> <max>` then WITHSCORES (not when storing), LIMIT offset
/// count, and for ZRANGE itself REV, BYSCORE and BYLEX.
fn parse_range_request<'a>(
    ctx: &Ctx<'a>,
    key_at: usize,
    store: bool,
    mut kind: RangeKind,
    mut reverse: Option<bool>,
) -> Result<RangeRequest<'a>, Error> {
    let (mut with_scores, mut offset, mut limit) = (false, 0, -1);
    let mut at = key_at + 3;
    while at < ctx.argv.len() {
        let words_left = ctx.argv.len() - at - 1;
        match ctx.keyword(at).as_str() {
            "WITHSCORES" if !store => with_scores = true,
            "LIMIT" if words_left >= 2 => {
                offset = integer(ctx.arg(at + 1))?;
                limit = integer(ctx.arg(at + 2))?;
                at += 2;
            }
            "REV" if reverse.is_none() => reverse = Some(true),
            "BYLEX" if kind == RangeKind::Chosen => kind = RangeKind::Lex,
            "BYSCORE" if kind == RangeKind::Chosen => kind = RangeKind::Score,
            _ => return Err(ERR_SYNTAX.into()),
        }
        at += 1;
    }
    let reverse = reverse.unwrap_or(false);
    if kind == RangeKind::Chosen {
        kind = RangeKind::Rank;
    }
    if limit != -1 && kind == RangeKind::Rank {
        return Err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        );
    }
    if with_scores && kind == RangeKind::Lex {
        return Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX".into());
    }
    let (mut min, mut max) = (ctx.arg(key_at + 1), ctx.arg(key_at + 2));
    if reverse && kind != RangeKind::Rank {
        std::mem::swap(&mut min, &mut max);
    }
    let (ranks, range) = match kind {
        RangeKind::Score => (
            (0, 0),
            Some(ValueRange::Score(ScoreRange::parse(min, max)?)),
        ),
        RangeKind::Lex => ((0, 0), Some(ValueRange::Lex(LexRange::parse(min, max)?))),
        _ => ((integer(min)?, integer(max)?), None),
    };
    Ok(RangeRequest {
        key: ctx.arg(key_at),
        reverse,
        with_scores: with_scores || store,
        ranks,
        range,
        offset,
        limit,
    })
}

/// The elements a range request selects, in reply order.
fn select_range<'z>(zset: &'z ZSet, request: &RangeRequest<'_>) -> Vec<Element<'z>> {
    let len = zset.len() as i64;
    let Some(range) = &request.range else {
        let (mut start, mut end) = request.ranks;
        if start < 0 {
            start += len;
        }
        if end < 0 {
            end += len;
        }
        start = start.max(0);
        if start > end || start >= len {
            return Vec::new();
        }
        end = end.min(len - 1);
        let from = if request.reverse {
            len - 1 - start
        } else {
            start
        };
        return zset
            .iter_from(from as usize, request.reverse)
            .take((end - start + 1) as usize)
            .collect();
    };
    if request.offset < 0 || (request.offset > 0 && request.offset >= len) {
        return Vec::new();
    }
    let first = if request.reverse {
        range.last(zset)
    } else {
        range.first(zset)
    };
    let Some(first) = first else {
        return Vec::new();
    };
    let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
    zset.iter_from(first, request.reverse)
        .skip(request.offset as usize)
        .take(limit)
        .take_while(|element| {
            if request.reverse {
                range.above_min(element)
            } else {
                range.below_max(element)
            }
        })
        .collect()
}

/// Runs a range command that replies with the elements.
fn range_reply(ctx: &mut Ctx<'_>, kind: RangeKind, reverse: Option<bool>) -> Outcome {
    let request = parse_range_request(ctx, 1, false, kind, reverse)?;
    let (mut db, out) = ctx.split();
    match db.read::<ZSet>(request.key)? {
        None => out.array(0),
        Some(zset) => {
            let elements = select_range(zset, &request);
            reply_elements(out, &elements, request.with_scores);
        }
    }
    Ok(())
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count]
/// [WITHSCORES]: the selected members (and scores). Errors: syntax, the
/// LIMIT and WITHSCORES conflicts, the integer, float and lex range
/// errors, WRONGTYPE.
fn zrange(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Chosen, None)
}

/// ZREVRANGE key start stop [WITHSCORES]: ranks from the highest score.
fn zrevrange(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Rank, Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count].
fn zrangebyscore(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Score, Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count].
fn zrevrangebyscore(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count].
fn zrangebylex(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count].
fn zrevrangebylex(ctx: &mut Ctx<'_>) -> Outcome {
    range_reply(ctx, RangeKind::Lex, Some(true))
}

/// Stores `elements` (in ascending order) under `destination` as a
/// computed result, or deletes `destination` when there are none;
/// replies with the number stored. Counts one change either way (none
/// when nothing was there to delete).
fn store_result(ctx: &mut Ctx<'_>, destination: &[u8], elements: Vec<(Vec<u8>, f64)>, event: &str) {
    let stored = elements.len();
    if stored > 0 {
        let zset = ZSet::from_sorted(elements, &ctx.server.config.encodings);
        ctx.db().set(destination, Value::ZSet(zset));
        ctx.notify(class::ZSET, event, destination);
        ctx.dirty(1);
    } else {
        let now = ctx.now_ms;
        if ctx.db().remove(destination, now).is_some() {
            ctx.notify(class::GENERIC, "del", destination);
            ctx.dirty(1);
        }
    }
    ctx.out().int(stored as i64);
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset
/// count]: stores the selected elements in `dst` (deleting it when there
/// are none); the number stored. As in Redis, the result is built by
/// adding the elements one by one, in the order selected, to a new compact
/// set, so it converts when a threshold is crossed (and the scores added
/// while it was compact went through the listpack's text, where `-0`
/// becomes `0`).
fn zrangestore(ctx: &mut Ctx<'_>) -> Outcome {
    let request = parse_range_request(ctx, 2, true, RangeKind::Chosen, None)?;
    let limits = ctx.server.config.encodings;
    let mut stored = ZSet::new(&limits);
    if let Some(zset) = ctx.read::<ZSet>(request.key)? {
        for (member, score) in select_range(zset, &request) {
            let _ = stored.add(&member, score, AddFlags::default(), &limits);
        }
    }
    let destination = ctx.arg(1);
    let count = stored.len();
    if count > 0 {
        ctx.db().set(destination, Value::ZSet(stored));
        ctx.notify(class::ZSET, "zrangestore", destination);
        ctx.dirty(1);
    } else {
        let now = ctx.now_ms;
        if ctx.db().remove(destination, now).is_some() {
            ctx.notify(class::GENERIC, "del", destination);
            ctx.dirty(1);
        }
    }
    ctx.out().int(count as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop: removes the members ranked from start
/// to stop (negative from the end); how many went.
fn zremrangebyrank(ctx: &mut Ctx<'_>) -> Outcome {
    let start = integer(ctx.arg(2))?;
    let end = integer(ctx.arg(3))?;
    let key = ctx.arg(1);
    let Some(zset) = peek(ctx, key)? else {
        ctx.out().int(0);
        return Ok(());
    };
    let len = zset.len() as i64;
    let (mut start, mut end) = (start, end);
    if start < 0 {
        start += len;
    }
    if end < 0 {
        end += len;
    }
    start = start.max(0);
    if start > end || start >= len {
        ctx.out().int(0);
        return Ok(());
    }
    end = end.min(len - 1);
    let count = (end - start + 1) as usize;
    remove_run(ctx, key, start as usize, count, "zremrangebyrank");
    Ok(())
}

/// Removes `count` elements from rank `start` of the set under `key`,
/// notifies `event`, drops the key if it empties, and replies with the
/// count.
fn remove_run(ctx: &mut Ctx<'_>, key: &[u8], start: usize, count: usize, event: &str) {
    if count > 0 {
        write(ctx, key).remove_range(start, count);
        ctx.notify(class::ZSET, event, key);
        ctx.drop_if_empty(key);
        ctx.dirty(count as u64);
    }
    ctx.out().int(count as i64);
}

/// ZREMRANGEBYSCORE key min max: removes the members with a score in the
/// range; how many went.
fn zremrangebyscore(ctx: &mut Ctx<'_>) -> Outcome {
    let range = ValueRange::Score(ScoreRange::parse(ctx.arg(2), ctx.arg(3))?);
    remove_by_range(ctx, &range)
}

/// ZREMRANGEBYLEX key min max: removes the members in the
/// lexicographical range; how many went.
fn zremrangebylex(ctx: &mut Ctx<'_>) -> Outcome {
    let range = ValueRange::Lex(LexRange::parse(ctx.arg(2), ctx.arg(3))?);
    remove_by_range(ctx, &range)
}

fn remove_by_range(ctx: &mut Ctx<'_>, range: &ValueRange) -> Outcome {
    let key = ctx.arg(1);
    let (start, count) = match peek(ctx, key)? {
        None => (0, 0),
        Some(zset) => range.run(zset),
    };
    let event = match range {
        ValueRange::Score(_) => "zremrangebyscore",
        ValueRange::Lex(_) => "zremrangebylex",
    };
    remove_run(ctx, key, start, count, event);
    Ok(())
}

/// Which end a pop takes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

impl End {
    /// The non-blocking command a pop from this end propagates as.
    fn command(self) -> &'static [u8] {
        match self {
            End::Min => b"ZPOPMIN",
            End::Max => b"ZPOPMAX",
        }
    }
}

/// How a pop replies (Redis's `genericZpopCommand` switches).
#[derive(Debug, Clone, Copy)]
struct PopReply {
    /// Name the key the elements came from.
    with_key: bool,
    /// Member-score pairs as nested arrays.
    nested: bool,
    /// Null (not an empty array) when no key has anything.
    null_when_empty: bool,
}

/// What a pop did: the key it popped from and how many elements.
struct Popped<'a> {
    key: &'a [u8],
    count: usize,
}

/// Pops up to `count` elements (`None`: one, in the single-pop reply
/// shape) from the first of `keys` that exists, and replies. Errors with
/// WRONGTYPE if that key holds another type.
fn pop<'a>(
    ctx: &mut Ctx<'_>,
    keys: &[&'a [u8]],
    end: End,
    count: Option<u64>,
    shape: PopReply,
) -> Result<Option<Popped<'a>>, Error> {
    let mut found = None;
    for &key in keys {
        if let Some(zset) = peek(ctx, key)? {
            found = Some((key, zset.len()));
            break;
        }
    }
    let Some((key, len)) = found else {
        if shape.null_when_empty {
            ctx.out().null_array();
        } else {
            ctx.out().array(0);
        }
        return Ok(None);
    };
    if count == Some(0) {
        ctx.out().array(0);
        return Ok(None);
    }
    let taken = count.unwrap_or(1).min(len as u64) as usize;
    let zset = write(ctx, key);
    let first = match end {
        End::Min => 0,
        End::Max => len - 1,
    };
    let elements: Vec<(Vec<u8>, f64)> = zset
        .iter_from(first, end == End::Max)
        .take(taken)
        .map(|(member, score)| (member.into_owned(), score))
        .collect();
    match end {
        End::Min => zset.remove_range(0, taken),
        End::Max => zset.remove_range(len - taken, taken),
    };
    let event = match end {
        End::Min => "zpopmin",
        End::Max => "zpopmax",
    };
    ctx.notify(class::ZSET, event, key);
    ctx.drop_if_empty(key);
    ctx.dirty(taken as u64);
    let out = ctx.out();
    match (shape.nested, shape.with_key) {
        (false, false) => out.array(taken * 2),
        (true, false) => out.array(taken),
        (false, true) => {
            out.array(taken * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(taken);
        }
    }
    for (member, score) in &elements {
        if shape.nested {
            out.array(2);
        }
        out.bulk(member);
        reply_score(out, *score);
    }
    Ok(Some(Popped { key, count: taken }))
}

/// ZPOPMIN key [count]: the lowest-scored members and their scores, an
/// empty array for a missing key. Errors: `ERR value is out of range,
/// must be positive` for a bad count, syntax for more arguments.
fn zpopmin(ctx: &mut Ctx<'_>) -> Outcome {
    zpop_generic(ctx, End::Min)
}

/// ZPOPMAX key [count]: the highest-scored members and their scores.
fn zpopmax(ctx: &mut Ctx<'_>) -> Outcome {
    zpop_generic(ctx, End::Max)
}

fn zpop_generic(ctx: &mut Ctx<'_>, end: End) -> Outcome {
    if ctx.argv.len() > 3 {
        return Err(ERR_SYNTAX.into());
    }
    let count = match ctx.argv.get(2) {
        None => None,
        Some(text) => Some(integer_in(text, 0, i64::MAX, Some(ERR_NOT_POSITIVE))? as u64),
    };
    let shape = PopReply {
        with_key: false,
        nested: count.is_some() && ctx.client.out.protocol == Protocol::Resp3,
        null_when_empty: false,
    };
    let key = ctx.arg(1);
    pop(ctx, &[key], end, count, shape)?;
    Ok(())
}

/// The blocking pops: serves from the first key with elements, else
/// blocks on all of them (or, where a command may not block, answers as
/// a timeout does: a null array).
fn blocking_pop(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    end: End,
    timeout_ms: u64,
    count: Option<u64>,
    shape: PopReply,
) -> Outcome {
    for &key in keys {
        // Serving a blocked client, a key of another type is passed over,
        // as Redis 7.0 serves only the sorted-set keys that became ready.
        let serving = ctx.serving_blocked();
        let found = match peek(ctx, key) {
            Err(_) if serving => false,
            other => other?.is_some(),
        };
        if !found {
            continue;
        }
        if let Some(popped) = pop(ctx, &[key], end, count, shape)? {
            let mut argv = vec![end.command().to_vec(), popped.key.to_vec()];
            if count.is_some() {
                argv.push(popped.count.to_string().into_bytes());
            }
            ctx.propagate_as(argv);
        }
        return Ok(());
    }
    if !ctx.may_block {
        ctx.out().null_array();
        return Ok(());
    }
    ctx.block_on(keys.iter().map(|key| key.to_vec()).collect(), timeout_ms);
    Ok(())
}

/// BZPOPMIN key [key ...] timeout: `[key, member, score]` from the first
/// non-empty key, waiting up to `timeout` seconds (0: forever) for one;
/// null on timeout. Served, it propagates as `ZPOPMIN key`.
fn bzpopmin(ctx: &mut Ctx<'_>) -> Outcome {
    bzpop_generic(ctx, End::Min)
}

/// BZPOPMAX key [key ...] timeout: as BZPOPMIN from the highest end.
fn bzpopmax(ctx: &mut Ctx<'_>) -> Outcome {
    bzpop_generic(ctx, End::Max)
}

fn bzpop_generic(ctx: &mut Ctx<'_>, end: End) -> Outcome {
    let last = ctx.argv.len() - 1;
    let timeout_ms = super::timeout_arg(ctx.arg(last))?;
    let keys: Vec<&[u8]> = ctx.argv[1..last].iter().map(Vec::as_slice).collect();
    let shape = PopReply {
        with_key: true,
        nested: false,
        null_when_empty: false,
    };
    blocking_pop(ctx, &keys, end, timeout_ms, None, shape)
}

/// ZMPOP/BZMPOP's arguments from `numkeys_at`: numkeys, the keys, MIN or
/// MAX, and an optional COUNT (default 1).
fn parse_multi_pop<'a>(
    ctx: &Ctx<'a>,
    numkeys_at: usize,
) -> Result<(Vec<&'a [u8]>, End, u64), Error> {
    let numkeys = integer_in(
        ctx.arg(numkeys_at),
        1,
        i64::MAX,
        Some("ERR numkeys should be greater than 0"),
    )? as u64;
    let end_at = numkeys_at as u64 + numkeys + 1;
    if end_at >= ctx.argv.len() as u64 {
        return Err(ERR_SYNTAX.into());
    }
    let end_at = end_at as usize;
    let end = match ctx.keyword(end_at).as_str() {
        "MIN" => End::Min,
        "MAX" => End::Max,
        _ => return Err(ERR_SYNTAX.into()),
    };
    let mut count = None;
    let mut at = end_at + 1;
    while at < ctx.argv.len() {
        let more = at + 1 < ctx.argv.len();
        if count.is_none() && more && ctx.keyword(at) == "COUNT" {
            let given = integer_in(
                ctx.arg(at + 1),
                1,
                i64::MAX,
                Some("ERR count should be greater than 0"),
            )?;
            count = Some(given as u64);
            at += 2;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    let keys = ctx.argv[numkeys_at + 1..end_at]
        .iter()
        .map(Vec::as_slice)
        .collect();
    Ok((keys, end, count.unwrap_or(1)))
}

const MULTI_POP_REPLY: PopReply = PopReply {
    with_key: true,
    nested: true,
    null_when_empty: true,
};

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]: `[key, [[member,
/// score], ...]]` from the first non-empty key, or null. Propagates as
/// `ZPOPMIN|ZPOPMAX key count`.
fn zmpop(ctx: &mut Ctx<'_>) -> Outcome {
    let (keys, end, count) = parse_multi_pop(ctx, 1)?;
    if let Some(popped) = pop(ctx, &keys, end, Some(count), MULTI_POP_REPLY)? {
        let argv = vec![
            end.command().to_vec(),
            popped.key.to_vec(),
            popped.count.to_string().into_bytes(),
        ];
        ctx.propagate_as(argv);
    }
    Ok(())
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: ZMPOP,
/// waiting up to `timeout` seconds for a key to have elements.
fn bzmpop(ctx: &mut Ctx<'_>) -> Outcome {
    let (keys, end, count) = parse_multi_pop(ctx, 2)?;
    let timeout_ms = super::timeout_arg(ctx.arg(1))?;
    blocking_pop(ctx, &keys, end, timeout_ms, Some(count), MULTI_POP_REPLY)
}

/// The set algebra commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Union,
    Inter,
    Diff,
}

/// How scores of a member found in several inputs combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Combines `value` into `target` as Redis does: a sum that is NaN
    /// (`inf` plus `-inf`) becomes 0; MIN and MAX keep `target` when the
    /// comparison fails.
    fn combine(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// One input of a set operation: its set (a missing key is empty) and
/// its weight.
struct Input {
    zset: Option<ZSet>,
    weight: f64,
}

impl Input {
    fn len(&self) -> usize {
        self.zset.as_ref().map_or(0, ZSet::len)
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        self.zset.as_ref()?.score(member)
    }
}

/// The options after the keys of a set operation.
struct AlgebraOptions {
    aggregate: Aggregate,
    with_scores: bool,
    /// ZINTERCARD's LIMIT; 0 for none.
    limit: u64,
}

/// Reads the input keys of a set operation, in order; WRONGTYPE for any
/// key that is neither a sorted set nor a set.
fn read_inputs(ctx: &mut Ctx<'_>, keys: &[Vec<u8>]) -> Result<Vec<Input>, Error> {
    let mut inputs = Vec::with_capacity(keys.len());
    for key in keys {
        let now = ctx.now_ms;
        let server = &mut *ctx.server;
        let found = server.keyspace.dbs[ctx.client.db].get(key, now);
        match found {
            Some(_) => server.stats.keyspace_hits += 1,
            None => server.stats.keyspace_misses += 1,
        }
        let zset = match found {
            None => None,
            Some(Value::ZSet(zset)) => Some(zset.clone()),
            // A plain set is an input whose members all score 1.
            Some(Value::Set(set)) => {
                let mut members: Vec<(Vec<u8>, f64)> =
                    set.iter().map(|member| (member.to_vec(), 1.0)).collect();
                members.sort_unstable_by(|a, b| a.0.cmp(&b.0));
                Some(ZSet::from_sorted(members, &server.config.encodings))
            }
            Some(_) => return Err(Error::WrongType),
        };
        inputs.push(Input { zset, weight: 1.0 });
    }
    Ok(inputs)
}

/// Parses WEIGHTS, AGGREGATE, WITHSCORES and LIMIT from argument `at` on,
/// as each command allows them.
fn parse_algebra_options(
    ctx: &Ctx<'_>,
    mut at: usize,
    operation: Operation,
    store: bool,
    cardinality_only: bool,
    inputs: &mut [Input],
) -> Result<AlgebraOptions, Error> {
    let mut options = AlgebraOptions {
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let weighable = operation != Operation::Diff && !cardinality_only;
    while at < ctx.argv.len() {
        let remaining = ctx.argv.len() - at;
        let word = ctx.keyword(at);
        if weighable && remaining > inputs.len() && word == "WEIGHTS" {
            for (i, input) in inputs.iter_mut().enumerate() {
                input.weight = parse_score(ctx.arg(at + 1 + i))
                    .ok_or(Error::from("ERR weight value is not a float"))?;
            }
            at += 1 + inputs.len();
        } else if weighable && remaining >= 2 && word == "AGGREGATE" {
            options.aggregate = match ctx.keyword(at + 1).as_str() {
                "SUM" => Aggregate::Sum,
                "MIN" => Aggregate::Min,
                "MAX" => Aggregate::Max,
                _ => return Err(ERR_SYNTAX.into()),
            };
            at += 2;
        } else if !store && !cardinality_only && word == "WITHSCORES" {
            options.with_scores = true;
            at += 1;
        } else if cardinality_only && remaining >= 2 && word == "LIMIT" {
            options.limit = integer_in(
                ctx.arg(at + 1),
                0,
                i64::MAX,
                Some("ERR LIMIT can't be negative"),
            )? as u64;
            at += 2;
        } else {
            return Err(ERR_SYNTAX.into());
        }
    }
    Ok(options)
}

/// The union of `inputs` (ordered by size), each score weighted.
fn union(inputs: &[Input], aggregate: Aggregate) -> Vec<(Vec<u8>, f64)> {
    let mut accumulator: Dict<f64> = Dict::new((0x756e_696f_6e00, 0x7a73_6574));
    for input in inputs {
        let Some(zset) = &input.zset else { continue };
        for (member, score) in zset.iter() {
            let mut value = input.weight * score;
            if value.is_nan() {
                value = 0.0;
            }
            match accumulator.get_mut(&member) {
                Some(target) => aggregate.combine(target, value),
                None => {
                    accumulator.insert(member.into_owned(), value);
                }
            }
        }
    }
    accumulator
        .iter()
        .map(|(member, score)| (member.to_vec(), *score))
        .collect()
}

/// The intersection of `inputs` (ordered by size), or with `limit` only
/// its first members (0: all).
fn intersection(inputs: &[Input], aggregate: Aggregate, limit: u64) -> Vec<(Vec<u8>, f64)> {
    let mut found = Vec::new();
    let Some(smallest) = inputs[0].zset.as_ref() else {
        return found;
    };
    'members: for (member, score) in smallest.iter() {
        let mut total = inputs[0].weight * score;
        if total.is_nan() {
            total = 0.0;
        }
        for input in &inputs[1..] {
            let Some(score) = input.score(&member) else {
                continue 'members;
            };
            aggregate.combine(&mut total, score * input.weight);
        }
        found.push((member.into_owned(), total));
        if limit > 0 && found.len() as u64 >= limit {
            break;
        }
    }
    found
}

/// The members of the first input in none of the others, with their
/// scores.
fn difference(inputs: &[Input]) -> Vec<(Vec<u8>, f64)> {
    let Some(first) = inputs[0].zset.as_ref() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|(member, _)| {
            inputs[1..]
                .iter()
                .all(|input| input.score(member).is_none())
        })
        .map(|(member, score)| (member.into_owned(), score))
        .collect()
}

/// ZUNION, ZINTER, ZDIFF, ZINTERCARD and the stored forms: numkeys at
/// `numkeys_at`, then the keys, then the options; stores into
/// `destination` or replies. Errors: the integer error, `ERR at least 1
/// input key is needed for '<command>' command`, syntax, `ERR weight value
/// is not a float`, `ERR LIMIT can't be negative`, WRONGTYPE.
fn algebra(
    ctx: &mut Ctx<'_>,
    destination: Option<&[u8]>,
    numkeys_at: usize,
    operation: Operation,
    cardinality_only: bool,
) -> Outcome {
    let numkeys = integer(ctx.arg(numkeys_at))?;
    if numkeys < 1 {
        let name = String::from_utf8_lossy(ctx.arg(0)).to_ascii_lowercase();
        return Err(format!("ERR at least 1 input key is needed for '{name}' command").into());
    }
    let first_key = numkeys_at + 1;
    if numkeys as u64 > (ctx.argv.len() - first_key) as u64 {
        return Err(ERR_SYNTAX.into());
    }
    let keys = &ctx.argv[first_key..first_key + numkeys as usize];
    let mut inputs = read_inputs(ctx, keys)?;
    let options = parse_algebra_options(
        ctx,
        first_key + keys.len(),
        operation,
        destination.is_some(),
        cardinality_only,
        &mut inputs,
    )?;
    if operation != Operation::Diff {
        inputs.sort_by_key(Input::len);
    }
    let mut elements = match operation {
        Operation::Union => union(&inputs, options.aggregate),
        Operation::Inter => intersection(&inputs, options.aggregate, options.limit),
        Operation::Diff => difference(&inputs),
    };
    if cardinality_only {
        ctx.out().int(elements.len() as i64);
        return Ok(());
    }
    elements.sort_by(|a, b| compare(a.1, &a.0, b.1, &b.0));
    match destination {
        Some(destination) => {
            let event = match operation {
                Operation::Union => "zunionstore",
                Operation::Inter => "zinterstore",
                Operation::Diff => "zdiffstore",
            };
            store_result(ctx, destination, elements, event)
        }
        None => {
            let elements: Vec<Element<'_>> = elements
                .iter()
                .map(|(member, score)| (Cow::Borrowed(&member[..]), *score))
                .collect();
            reply_elements(ctx.out(), &elements, options.with_scores);
        }
    }
    Ok(())
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...]
/// [AGGREGATE SUM|MIN|MAX]: the size of the stored union.
fn zunionstore(ctx: &mut Ctx<'_>) -> Outcome {
    let destination = ctx.arg(1);
    algebra(ctx, Some(destination), 2, Operation::Union, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...]
/// [AGGREGATE SUM|MIN|MAX]: the size of the stored intersection.
fn zinterstore(ctx: &mut Ctx<'_>) -> Outcome {
    let destination = ctx.arg(1);
    algebra(ctx, Some(destination), 2, Operation::Inter, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]: the size of the stored
/// difference.
fn zdiffstore(ctx: &mut Ctx<'_>) -> Outcome {
    let destination = ctx.arg(1);
    algebra(ctx, Some(destination), 2, Operation::Diff, false)
}

/// ZUNION numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]
/// [WITHSCORES]: the union, lowest score first.
fn zunion(ctx: &mut Ctx<'_>) -> Outcome {
    algebra(ctx, None, 1, Operation::Union, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS ...] [AGGREGATE ...]
/// [WITHSCORES]: the intersection, lowest score first.
fn zinter(ctx: &mut Ctx<'_>) -> Outcome {
    algebra(ctx, None, 1, Operation::Inter, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]: the difference, lowest score
/// first.
fn zdiff(ctx: &mut Ctx<'_>) -> Outcome {
    algebra(ctx, None, 1, Operation::Diff, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]: the size of the
/// intersection, counting at most `limit` (0: no limit).
fn zintercard(ctx: &mut Ctx<'_>) -> Outcome {
    algebra(ctx, None, 1, Operation::Inter, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]]: without a count, one random
/// member (null for a missing key); with a positive count, up to that
/// many distinct members; with a negative one, that many members drawn
/// independently. Errors: the integer error, `ERR value is out of range,
/// value must between -9223372036854775807 and 9223372036854775807`,
/// syntax, `ERR value is out of range` (WITHSCORES with a count beyond
/// half the range, or a negative count too large to answer).
fn zrandmember(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    if ctx.argv.len() == 2 {
        let now = ctx.now_ms;
        let found = random_source(ctx, key, now)?;
        let (zset, mut random, out) = found;
        match zset.and_then(|zset| zset.random(&mut *random)) {
            Some((member, _)) => out.bulk(&member),
            None => out.null(),
        }
        return Ok(());
    }
    let count = integer_in(ctx.arg(2), -i64::MAX, i64::MAX, None)?;
    if ctx.argv.len() > 4 || (ctx.argv.len() == 4 && ctx.keyword(3) != "WITHSCORES") {
        return Err(ERR_SYNTAX.into());
    }
    let with_scores = ctx.argv.len() == 4;
    if with_scores && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
        return Err("ERR value is out of range".into());
    }
    let now = ctx.now_ms;
    let (zset, mut random, out) = random_source(ctx, key, now)?;
    let Some(zset) = zset else {
        out.array(0);
        return Ok(());
    };
    let picked = pick_random(zset, count, &mut *random)?;
    reply_elements(out, &picked, with_scores);
    Ok(())
}

/// The sorted set under `key` (counting a keyspace hit or miss), the
/// random source and the reply, borrowed apart.
#[allow(clippy::type_complexity)]
fn random_source<'c>(
    ctx: &'c mut Ctx<'_>,
    key: &[u8],
    now: i64,
) -> Result<(Option<&'c ZSet>, Box<dyn FnMut() -> u64 + 'c>, &'c mut Out), Error> {
    let server = &mut *ctx.server;
    let found = server.keyspace.dbs[ctx.client.db].get(key, now);
    match found {
        Some(_) => server.stats.keyspace_hits += 1,
        None => server.stats.keyspace_misses += 1,
    }
    let zset = match found {
        None => None,
        Some(value) => Some(ZSet::of(value).ok_or(Error::WrongType)?),
    };
    let env = &mut *ctx.env;
    Ok((
        zset,
        Box::new(move || env.random_u64()),
        &mut ctx.client.out,
    ))
}

/// ZRANDMEMBER's picks for a nonzero count: with repetition for a
/// negative count; otherwise distinct, the whole set (highest score
/// first, as Redis walks it) when the count reaches its size.
fn pick_random<'z>(
    zset: &'z ZSet,
    count: i64,
    random: &mut dyn FnMut() -> u64,
) -> Result<Vec<Element<'z>>, Error> {
    let size = zset.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    if count < 0 || count == 1 {
        let wanted = count.unsigned_abs();
        if wanted > RANDOM_REPLY_ELEMENTS_MAX {
            return Err("ERR value is out of range".into());
        }
        return Ok((0..wanted).filter_map(|_| zset.random(random)).collect());
    }
    let wanted = count as u64;
    if wanted >= size as u64 {
        return Ok(zset.iter_from(size - 1, true).collect());
    }
    let wanted = wanted as usize;
    let mut ranks: Vec<usize> = if wanted * 3 > size {
        let mut all: Vec<usize> = (0..size).collect();
        while all.len() > wanted {
            let drop = (random() % all.len() as u64) as usize;
            all.swap_remove(drop);
        }
        all
    } else {
        let mut chosen = std::collections::BTreeSet::new();
        let mut order = Vec::with_capacity(wanted);
        while order.len() < wanted {
            let rank = (random() % size as u64) as usize;
            if chosen.insert(rank) {
                order.push(rank);
            }
        }
        order
    };
    ranks.truncate(wanted);
    Ok(ranks
        .into_iter()
        .filter_map(|rank| zset.get(rank))
        .collect())
}

/// ZSCAN's cursor as Redis's `strtoul` reads it: optional sign, decimal
/// digits, the empty text as 0; nothing else, no overflow.
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

/// ZSCAN's options (MATCH, COUNT; no TYPE): the pattern (none for `*`)
/// and the count.
fn parse_scan_options<'a>(ctx: &Ctx<'a>) -> Result<(Option<&'a [u8]>, u64), Error> {
    let (mut pattern, mut count) = (None, 10u64);
    let mut at = 3;
    while at < ctx.argv.len() {
        if ctx.argv.len() - at < 2 {
            return Err(ERR_SYNTAX.into());
        }
        match ctx.keyword(at).as_str() {
            "COUNT" => {
                let given = integer(ctx.arg(at + 1))?;
                if given < 1 {
                    return Err(ERR_SYNTAX.into());
                }
                count = given as u64;
            }
            "MATCH" => pattern = Some(ctx.arg(at + 1)).filter(|p| *p != b"*"),
            _ => return Err(ERR_SYNTAX.into()),
        }
        at += 2;
    }
    Ok((pattern, count))
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]: `[next cursor,
/// [member, score, ...]]`, scores as bulk strings. A compact set comes
/// whole in one call. Errors: `ERR invalid cursor` (before the key),
/// syntax (COUNT below 1 too), the integer error, WRONGTYPE; options are
/// not checked for a missing key.
fn zscan(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let cursor = parse_cursor(ctx.arg(2)).ok_or(Error::from("ERR invalid cursor"))?;
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = match ctx.read::<ZSet>(key)? {
        None => 0,
        Some(_) => {
            let (pattern, count) = parse_scan_options(ctx)?;
            let Some(zset) = ctx.read::<ZSet>(key)? else {
                unreachable!("the key was just read");
            };
            let mut cursor = cursor;
            let mut rounds_left = count.saturating_mul(10);
            loop {
                cursor = zset.scan_step(cursor, &mut |member, score| {
                    found.push((member.to_vec(), score));
                });
                if cursor == 0 || rounds_left == 0 || found.len() as u64 * 2 >= count {
                    break;
                }
                rounds_left -= 1;
            }
            if let Some(pattern) = pattern {
                found.retain(|(member, _)| glob_match(pattern, member, false));
            }
            cursor
        }
    };
    let out = ctx.out();
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(found.len() * 2);
    for (member, score) in &found {
        out.bulk(member);
        out.bulk(format_score(*score).as_bytes());
    }
    Ok(())
}
