//! Sorted sets: members with a double score, ordered by score then by
//! member bytes.
//!
//! Two encodings, as in Redis 7.0, reported by `OBJECT ENCODING`:
//!
//! * `listpack` ([`packed::Packed`]): member and score entries side by side
//!   in order, for sets of at most `zset-max-listpack-entries` members none
//!   longer than `zset-max-listpack-value` bytes. Lookups are linear, as in
//!   Redis; the set is small.
//! * `skiplist` ([`Sorted`]): a skip list with spans (rank and range
//!   queries in O(log n)) beside a member → score hash table (score lookups
//!   in O(1)).
//!
//! A set starts compact and converts when an insertion would cross a
//! threshold (Redis's `zsetAdd`), and never converts back, except that the
//! stored results of ZUNIONSTORE, ZINTERSTORE and ZDIFFSTORE are built large
//! and made compact if they fit ([`ZSet::from_sorted`], Redis's
//! `zsetConvertToListpackIfNeeded`).
//!
//! Snapshots: the large encoding sits behind an `Rc`, so cloning a sorted
//! set for a snapshot is O(1). The first write to it while the snapshot
//! still holds the clone copies the skip list and the member index, but
//! both keep their storage in shared chunks (64 nodes, 64 buckets), so that
//! copy is one pointer per chunk, and each write then copies only the
//! chunks it touches.

pub mod number;
pub mod packed;
pub mod skiplist;

use std::borrow::Cow;
use std::rc::Rc;

use crate::config::Encodings;
use crate::db::Dict;

use super::listpack::Listpack;
use super::{CommandBatch, Cursor};
pub use number::{format_score, parse_range_number, parse_score, parse_timeout_ms};
use packed::Packed;
use skiplist::{compare, SkipList};

/// Seed of the member → score tables (their order shows only in ZSCAN
/// cursors and ZRANDMEMBER picks).
const MEMBER_TABLE_SEED: (u64, u64) = (0x7a73_6574_5f6d_656d, 0x6265_725f_7461_626c);

/// One element as commands see it: the member's bytes and its score.
pub type Element<'a> = (Cow<'a, [u8]>, f64);

/// The large encoding: the ordered skip list and the member index.
pub struct Sorted {
    list: SkipList,
    scores: Dict<f64>,
}

impl Sorted {
    fn new() -> Self {
        Sorted {
            list: SkipList::new(),
            scores: Dict::new(MEMBER_TABLE_SEED),
        }
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        self.list.insert(score, member.into());
        self.scores.insert(member.to_vec(), score);
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, score) = self.scores.remove(member)?;
        self.list.remove(score, member);
        Some(score)
    }
}

impl Clone for Sorted {
    fn clone(&self) -> Self {
        Sorted {
            list: self.list.clone(),
            scores: self.scores.clone(),
        }
    }
}

#[derive(Clone)]
enum Encoding {
    Packed(Packed),
    Sorted(Rc<Sorted>),
}

/// A sorted set; see the module documentation.
#[derive(Clone)]
pub struct ZSet {
    encoding: Encoding,
}

/// ZADD's conditions (NX, XX, GT, LT) and INCR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    pub incr: bool,
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

/// What one ZADD element did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Added {
    /// A new member, with this score.
    New(f64),
    /// An existing member now has this score (maybe the same as before).
    Updated { score: f64, changed: bool },
    /// Nothing: a condition was not met.
    Skipped,
}

/// An increment produced NaN (`inf` plus `-inf`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotANumber;

impl ZSet {
    /// An empty sorted set in the compact encoding; the first insertion
    /// converts it if the limits want the large one.
    pub fn new(_limits: &Encodings) -> Self {
        ZSet {
            encoding: Encoding::Packed(Packed::new()),
        }
    }

    /// Builds a set from elements given in order (no duplicates), in the
    /// encoding Redis gives a computed result: compact when it has at most
    /// `zset-max-listpack-entries` members, none longer than
    /// `zset-max-listpack-value`.
    pub fn from_sorted(elements: Vec<(Vec<u8>, f64)>, limits: &Encodings) -> Self {
        let longest = elements.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let fits = elements.len() as u64 <= limits.zset_max_listpack_entries
            && longest as u64 <= limits.zset_max_listpack_value;
        let encoding = if fits {
            let mut packed = Packed::new();
            for (member, score) in &elements {
                packed.insert(member, *score);
            }
            Encoding::Packed(packed)
        } else {
            let mut sorted = Sorted::new();
            sorted.scores.reserve(elements.len());
            for (member, score) in elements.iter().rev() {
                sorted.insert(member, *score);
            }
            Encoding::Sorted(Rc::new(sorted))
        };
        ZSet { encoding }
    }

    /// The listpack of a compact sorted set (member, score pairs, as an
    /// RDB `ZSET_LISTPACK` holds them).
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match &self.encoding {
            Encoding::Packed(packed) => Some(packed.listpack()),
            Encoding::Sorted(_) => None,
        }
    }

    pub fn len(&self) -> usize {
        match &self.encoding {
            Encoding::Packed(packed) => packed.len(),
            Encoding::Sorted(sorted) => sorted.list.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` gives the encoding.
    pub fn encoding(&self) -> &'static str {
        match &self.encoding {
            Encoding::Packed(_) => "listpack",
            Encoding::Sorted(_) => "skiplist",
        }
    }

    /// Whether the compact encoding is in use.
    pub fn is_compact(&self) -> bool {
        matches!(self.encoding, Encoding::Packed(_))
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.encoding {
            Encoding::Packed(packed) => packed.find(member).map(|(_, score)| score),
            Encoding::Sorted(sorted) => sorted.scores.get(member).copied(),
        }
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.encoding {
            Encoding::Packed(packed) => packed.find(member).map(|(index, _)| index),
            Encoding::Sorted(sorted) => {
                let score = *sorted.scores.get(member)?;
                sorted.list.rank(score, member)
            }
        }
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<Element<'_>> {
        match &self.encoding {
            Encoding::Packed(packed) => packed.get(rank),
            Encoding::Sorted(sorted) => sorted
                .list
                .get(rank)
                .map(|(member, score)| (Cow::Borrowed(member), score)),
        }
    }

    /// The elements from 0-based `rank` on, in ascending order or, when
    /// `reverse`, descending towards the first.
    pub fn iter_from(
        &self,
        rank: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = Element<'_>> + '_> {
        match &self.encoding {
            Encoding::Packed(packed) => packed.iter_from(rank, reverse),
            Encoding::Sorted(sorted) => Box::new(
                sorted
                    .list
                    .iter_from(rank, reverse)
                    .map(|(member, score)| (Cow::Borrowed(member), score)),
            ),
        }
    }

    /// Every element, in ascending order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = Element<'_>> + '_> {
        self.iter_from(0, false)
    }

    /// The rank of the first element for which `outside` is false, scanning
    /// from the lowest: linearly in the compact encoding (as Redis's
    /// listpack code), by descending the skip list in the large one (which
    /// assumes `outside` holds for a prefix, as Redis's skip list code).
    pub fn first_not(&self, mut outside: impl FnMut(f64, &[u8]) -> bool) -> Option<usize> {
        let rank = match &self.encoding {
            Encoding::Packed(packed) => packed
                .iter_from(0, false)
                .position(|(member, score)| !outside(score, &member))?,
            Encoding::Sorted(sorted) => sorted.list.count_before(outside),
        };
        (rank < self.len()).then_some(rank)
    }

    /// The rank of the last element for which `inside` is true, scanning
    /// from the highest: the counterpart of [`ZSet::first_not`] (the large
    /// encoding assumes `inside` holds for a prefix).
    pub fn last_where(&self, mut inside: impl FnMut(f64, &[u8]) -> bool) -> Option<usize> {
        match &self.encoding {
            Encoding::Packed(packed) => {
                let len = packed.len();
                let from_end = packed
                    .iter_from(len.checked_sub(1)?, true)
                    .position(|(member, score)| inside(score, &member))?;
                Some(len - 1 - from_end)
            }
            Encoding::Sorted(sorted) => sorted.list.count_before(inside).checked_sub(1),
        }
    }

    /// A uniformly random element.
    pub fn random(&self, random: &mut dyn FnMut() -> u64) -> Option<Element<'_>> {
        let len = self.len() as u64;
        if len == 0 {
            return None;
        }
        self.get((random() % len) as usize)
    }

    /// ZADD's effect on one element, as Redis's `zsetAdd`: NX skips an
    /// existing member, XX a new one; INCR adds to the current score (0 for
    /// a new member); GT and LT update an existing member only if its score
    /// would grow or shrink. Converts to the large encoding when a new
    /// member would cross the limits.
    pub fn add(
        &mut self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
        limits: &Encodings,
    ) -> Result<Added, NotANumber> {
        let outcome = self.preview_add(member, score, flags)?;
        match outcome {
            Added::New(score) => self.insert_new(member, score, limits),
            Added::Updated {
                score,
                changed: true,
            } => {
                self.remove(member);
                self.insert_new(member, score, limits);
            }
            Added::Updated { .. } | Added::Skipped => {}
        }
        Ok(outcome)
    }

    /// What [`ZSet::add`] would do, without doing it.
    pub fn preview_add(
        &self,
        member: &[u8],
        score: f64,
        flags: AddFlags,
    ) -> Result<Added, NotANumber> {
        if score.is_nan() {
            return Err(NotANumber);
        }
        let Some(current) = self.score(member) else {
            return Ok(if flags.xx {
                Added::Skipped
            } else {
                Added::New(score)
            });
        };
        if flags.nx {
            return Ok(Added::Skipped);
        }
        let score = if flags.incr { score + current } else { score };
        if score.is_nan() {
            return Err(NotANumber);
        }
        if (flags.lt && score >= current) || (flags.gt && score <= current) {
            return Ok(Added::Skipped);
        }
        Ok(Added::Updated {
            score,
            changed: score != current,
        })
    }

    /// Inserts a member known to be absent.
    fn insert_new(&mut self, member: &[u8], score: f64, limits: &Encodings) {
        if let Encoding::Packed(packed) = &self.encoding {
            let too_many = packed.len() as u64 + 1 > limits.zset_max_listpack_entries;
            let too_long = member.len() as u64 > limits.zset_max_listpack_value;
            if too_many || too_long {
                self.convert_to_sorted();
            }
        }
        match &mut self.encoding {
            Encoding::Packed(packed) => packed.insert(member, score),
            Encoding::Sorted(sorted) => Rc::make_mut(sorted).insert(member, score),
        }
    }

    /// Moves a compact set to the large encoding (a no-op if it has it
    /// already): what Redis's SORT does to every sorted set it reads.
    pub fn convert_to_sorted(&mut self) {
        if !self.is_compact() {
            return;
        }
        let mut sorted = Sorted::new();
        for (member, score) in self.iter_from(self.len().saturating_sub(1), true) {
            sorted.insert(&member, score);
        }
        self.encoding = Encoding::Sorted(Rc::new(sorted));
    }

    /// Removes `member`; returns its score if it was there.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.encoding {
            Encoding::Packed(packed) => {
                let (index, score) = packed.find(member)?;
                packed.remove(index);
                Some(score)
            }
            Encoding::Sorted(sorted) => {
                if !sorted.scores.contains_key(member) {
                    return None;
                }
                Rc::make_mut(sorted).remove(member)
            }
        }
    }

    /// Removes `count` elements from 0-based rank `start` on; returns how
    /// many went.
    pub fn remove_range(&mut self, start: usize, count: usize) -> usize {
        let count = count.min(self.len().saturating_sub(start));
        if count == 0 {
            return 0;
        }
        match &mut self.encoding {
            Encoding::Packed(packed) => packed.remove_range(start, count),
            Encoding::Sorted(sorted) => {
                let sorted = Rc::make_mut(sorted);
                let doomed: Vec<Vec<u8>> = sorted
                    .list
                    .iter_from(start, false)
                    .take(count)
                    .map(|(member, _)| member.to_vec())
                    .collect();
                for member in doomed {
                    sorted.remove(&member);
                }
            }
        }
        count
    }

    /// One ZSCAN step. The compact encoding returns everything at once
    /// with cursor 0; the large one walks its hash table from `cursor`,
    /// as Redis's `dictScan`. `visit` receives each member and score;
    /// returns the next cursor.
    pub fn scan_step(&self, cursor: u64, visit: &mut dyn FnMut(&[u8], f64)) -> u64 {
        match &self.encoding {
            Encoding::Packed(packed) => {
                for (member, score) in packed.iter_from(0, false) {
                    visit(&member, score);
                }
                0
            }
            Encoding::Sorted(sorted) => sorted.scores.scan(cursor, |member, score| {
                visit(member, *score);
            }),
        }
    }

    /// Hands `visit` the elements from `cursor` on, in ascending order or,
    /// when `reverse`, descending from the highest (the order an RDB
    /// writes), at most `elements_max` of them (a listpack's all at once:
    /// its thresholds keep it small), and moves the cursor past them. The
    /// skip list finds where to resume by rank, in O(log n).
    pub fn elements_from(
        &self,
        cursor: &mut Cursor,
        elements_max: usize,
        reverse: bool,
        mut visit: impl FnMut(&[u8], f64),
    ) {
        let left = self.len().saturating_sub(cursor.elements);
        if left == 0 {
            return;
        }
        let count = if self.is_compact() {
            left
        } else {
            elements_max.min(left)
        };
        let rank = if reverse { left - 1 } else { cursor.elements };
        for (member, score) in self.iter_from(rank, reverse).take(count) {
            visit(&member, score);
        }
        cursor.elements += count;
    }

    /// The commands that rebuild this set under `key`: ZADD with up to
    /// [`super::REWRITE_ITEMS_PER_COMMAND`] score-member pairs each, in
    /// ascending order, scores as `%.17g` (Redis's `rioWriteBulkDouble`):
    /// those of `elements_max` elements from `cursor` on (see
    /// [`super::Value::rewrite_commands_from`]).
    pub fn rewrite_commands_from(
        &self,
        key: &[u8],
        cursor: &mut Cursor,
        elements_max: usize,
        emit: &mut dyn FnMut(&[&[u8]]),
    ) {
        let mut batch = CommandBatch::new(b"ZADD", key, emit);
        self.elements_from(cursor, elements_max, false, |member, score| {
            batch.push(&[format_score(score).as_bytes(), member]);
        });
        batch.finish();
    }
}

impl std::fmt::Debug for ZSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZSet")
            .field("encoding", &self.encoding())
            .field("len", &self.len())
            .finish()
    }
}

impl PartialEq for ZSet {
    fn eq(&self, other: &Self) -> bool {
        self.encoding() == other.encoding()
            && self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|(a, b)| a.0 == b.0 && compare(a.1, &a.0, b.1, &b.0).is_eq())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The AOF rewrite: ZADD in batches of 64 pairs, scores as %.17g, in
    // either encoding; large sets convert at the entry threshold.
    #[test]
    fn rewrite_batches_and_conversion() {
        let limits = Encodings::default();
        let mut zset = ZSet::new(&limits);
        for i in 0..130 {
            let member = format!("m{i:03}");
            zset.add(
                member.as_bytes(),
                i as f64 + 0.1,
                AddFlags::default(),
                &limits,
            )
            .unwrap();
            let expected = if i < 128 { "listpack" } else { "skiplist" };
            assert_eq!(zset.encoding(), expected, "after {} members", i + 1);
        }
        let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut cursor = Cursor::default();
        zset.rewrite_commands_from(b"k", &mut cursor, usize::MAX, &mut |words| {
            commands.push(words.iter().map(|w| w.to_vec()).collect());
        });
        let sizes: Vec<usize> = commands.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2 + 128, 2 + 128, 2 + 4]);
        assert_eq!(commands[0][2], b"0.10000000000000001");
        assert_eq!(commands[0][3], b"m000");
        let clone = zset.clone();
        assert_eq!(clone, zset);
        assert_eq!(zset.rank(b"m129"), Some(129));
        assert_eq!(zset.remove_range(0, 200), 130);
        assert!(zset.is_empty());
        assert_eq!(clone.len(), 130);
    }
}
