//! The sorted-set commands the workload sends, predicted over a map from
//! member to a double score, printed as Redis 7.0 prints it (`%.17g`).
//! Order is by score, then member.

use std::collections::BTreeMap;

use super::value::{Data, Score};
use super::{int, wrong_type, Expected, Model};
use crate::workload::resp::Reply;

type Scores = BTreeMap<Vec<u8>, Score>;

/// Redis's error when an increment gives NaN (`inf` plus `-inf`).
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";

/// A score argument in the forms the workload sends: decimal integers and
/// fractions, exponents, `inf`, `+inf` and `-inf`. `None` for anything
/// else (NaN included), which the model leaves unpredicted.
fn score_arg(text: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(text).ok()?;
    let plain = |c: char| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+');
    let score: f64 = match text {
        "inf" | "+inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ if !text.is_empty() && text.chars().all(plain) => text.parse().ok()?,
        _ => return None,
    };
    (!score.is_nan()).then_some(score)
}

fn bulk(bytes: &[u8]) -> Reply {
    Reply::Bulk(Some(bytes.to_vec()))
}

fn score_reply(score: Score) -> Reply {
    Reply::Bulk(Some(score.format().into_bytes()))
}

/// Members in sorted-set order.
fn ordered(scores: &Scores) -> Vec<(Vec<u8>, Score)> {
    let mut all: Vec<(Vec<u8>, Score)> = scores.iter().map(|(m, s)| (m.clone(), *s)).collect();
    // As Redis compares: by `<` on the doubles (so -0 ties with 0), then
    // by member bytes.
    all.sort_by(|a, b| {
        let by_score = a.1 .0.partial_cmp(&b.1 .0);
        by_score
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    all
}

impl Model {
    fn live_zset(&self, db: usize, key: &[u8], now_ms: i64) -> Result<Option<Scores>, Reply> {
        self.live_as(db, key, now_ms, |data| match data {
            Data::ZSet(scores) => Some(scores),
            _ => None,
        })
    }

    /// Predicts a sorted-set command; `None` for a command that is not
    /// one, or a form the workload does not send.
    pub(super) fn zset_command(
        &mut self,
        db: usize,
        name: &[u8],
        argv: &[Vec<u8>],
        now_ms: i64,
    ) -> Option<Expected> {
        let key = argv.get(1)?;
        let reply = match (name, argv.len()) {
            (b"ZADD", 4..) if argv.len().is_multiple_of(2) => self.zadd(db, argv, now_ms)?,
            (b"ZINCRBY", 4) => self.zincrby(db, argv, now_ms)?,
            (b"ZSCORE", 3) => match self.live_zset(db, key, now_ms) {
                Ok(scores) => Reply::Bulk(
                    scores.and_then(|s| s.get(&argv[2]).map(|v| v.format().into_bytes())),
                ),
                Err(reply) => reply,
            },
            (b"ZRANK", 3) => match self.live_zset(db, key, now_ms) {
                Ok(scores) => {
                    let all = scores.map(|s| ordered(&s)).unwrap_or_default();
                    match all.iter().position(|(m, _)| m == &argv[2]) {
                        Some(rank) => Reply::Integer(rank as i64),
                        None => Reply::Bulk(None),
                    }
                }
                Err(reply) => reply,
            },
            (b"ZCARD", 2) => match self.live_zset(db, key, now_ms) {
                Ok(scores) => Reply::Integer(scores.map_or(0, |s| s.len() as i64)),
                Err(reply) => reply,
            },
            (b"ZREM", 3..) => self.zrem(db, argv, now_ms),
            (b"ZRANGE", 4 | 5) => self.zrange(db, argv, now_ms)?,
            (b"ZPOPMIN", 2 | 3) => self.zpopmin(db, argv, now_ms)?,
            (b"BZPOPMIN", 3..) => self.bzpopmin(db, argv, now_ms),
            (b"ZUNIONSTORE", 5) if argv[2] == b"2" => self.zunionstore(db, argv, now_ms),
            _ => return None,
        };
        Some(Expected::Exact(reply))
    }

    fn zadd(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Option<Reply> {
        let mut pairs = Vec::new();
        for pair in argv[2..].chunks(2) {
            pairs.push((Score(score_arg(&pair[0])?), pair[1].clone()));
        }
        let mut scores = match self.live_zset(db, &argv[1], now_ms) {
            Ok(scores) => scores.unwrap_or_default(),
            Err(reply) => return Some(reply),
        };
        let before = scores.clone();
        let added = pairs
            .into_iter()
            .filter(|(score, member)| scores.insert(member.clone(), *score).is_none())
            .count();
        if scores != before {
            self.store_collection(db, &argv[1], Data::ZSet(scores), now_ms);
        }
        Some(Reply::Integer(added as i64))
    }

    fn zincrby(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Option<Reply> {
        let by = score_arg(&argv[2])?;
        let mut scores = match self.live_zset(db, &argv[1], now_ms) {
            Ok(scores) => scores.unwrap_or_default(),
            Err(reply) => return Some(reply),
        };
        let current = scores.get(&argv[3]).copied();
        let sum = current.map_or(0.0, |score| score.0) + by;
        if sum.is_nan() {
            return Some(Reply::Error(ERR_NAN.as_bytes().to_vec()));
        }
        let score = Score(sum);
        if current != Some(score) {
            scores.insert(argv[3].clone(), score);
            self.store_collection(db, &argv[1], Data::ZSet(scores), now_ms);
        }
        Some(score_reply(score))
    }

    fn zrem(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut scores = match self.live_zset(db, &argv[1], now_ms) {
            Ok(Some(scores)) => scores,
            Ok(None) => return Reply::Integer(0),
            Err(reply) => return reply,
        };
        let removed = argv[2..]
            .iter()
            .filter(|m| scores.remove(*m).is_some())
            .count();
        if removed > 0 {
            self.store_collection(db, &argv[1], Data::ZSet(scores), now_ms);
        }
        Reply::Integer(removed as i64)
    }

    fn zrange(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Option<Reply> {
        let with_scores = match argv.get(4) {
            None => false,
            Some(word) if word.eq_ignore_ascii_case(b"WITHSCORES") => true,
            Some(_) => return None,
        };
        let (start, stop) = (int(&argv[2])?, int(&argv[3])?);
        let scores = match self.live_zset(db, &argv[1], now_ms) {
            Ok(scores) => scores.unwrap_or_default(),
            Err(reply) => return Some(reply),
        };
        let all = ordered(&scores);
        let len = all.len() as i64;
        let first = if start < 0 {
            (len + start).max(0)
        } else {
            start
        };
        let last = if stop < 0 {
            len + stop
        } else {
            stop.min(len - 1)
        };
        let mut items = Vec::new();
        if first <= last && first < len {
            for (member, score) in &all[first as usize..=last as usize] {
                items.push(bulk(member));
                if with_scores {
                    items.push(score_reply(*score));
                }
            }
        }
        Some(Reply::Array(Some(items)))
    }

    fn zpopmin(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Option<Reply> {
        let count = match argv.get(2) {
            None => 1,
            Some(text) => usize::try_from(int(text)?).ok()?,
        };
        let scores = match self.live_zset(db, &argv[1], now_ms) {
            Ok(Some(scores)) => scores,
            Ok(None) => return Some(Reply::Array(Some(Vec::new()))),
            Err(reply) => return Some(reply),
        };
        let mut items = Vec::new();
        let mut left = scores.clone();
        for (member, score) in ordered(&scores).into_iter().take(count) {
            left.remove(&member);
            items.push(bulk(&member));
            items.push(score_reply(score));
        }
        if left.len() != scores.len() {
            self.store_collection(db, &argv[1], Data::ZSet(left), now_ms);
        }
        Some(Reply::Array(Some(items)))
    }

    /// ZUNIONSTORE destination 2 key key: the sum of both inputs' scores,
    /// a plain set's members scoring 1; the destination is replaced (or
    /// deleted when the union is empty), whatever it held.
    fn zunionstore(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut union = Scores::new();
        for key in &argv[3..] {
            let input: Scores = match self.live(db, key, now_ms).map(|entry| &entry.value) {
                None => Scores::new(),
                Some(Data::ZSet(scores)) => scores.clone(),
                Some(Data::Set(members)) => {
                    members.iter().map(|m| (m.clone(), Score(1.0))).collect()
                }
                Some(_) => return wrong_type(),
            };
            for (member, score) in input {
                // Redis's SUM aggregate: `inf` plus `-inf` counts as 0.
                let total = union.entry(member).or_insert(Score(0.0));
                let sum = total.0 + score.0;
                *total = Score(if sum.is_nan() { 0.0 } else { sum });
            }
        }
        let count = union.len() as i64;
        let destination = &argv[1];
        if union.is_empty() {
            self.delete(db, destination, now_ms);
        } else {
            self.put(db, destination, Data::ZSet(union), None);
        }
        Reply::Integer(count)
    }

    /// BZPOPMIN: the first key's lowest member with its key, or what a
    /// timeout answers; after blocking, keys of another type are passed
    /// over (as for the list pops).
    fn bzpopmin(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        for key in &argv[1..argv.len() - 1] {
            match self.live_zset(db, key, now_ms) {
                Ok(None) => continue,
                Ok(Some(mut scores)) => {
                    let (member, score) = ordered(&scores).swap_remove(0);
                    scores.remove(&member);
                    self.store_collection(db, key, Data::ZSet(scores), now_ms);
                    return Reply::Array(Some(vec![bulk(key), bulk(&member), score_reply(score)]));
                }
                Err(_) if self.after_block_now => continue,
                Err(reply) => return reply,
            }
        }
        Reply::Array(None)
    }
}
