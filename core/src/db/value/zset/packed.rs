//! The compact encoding of a small sorted set: a [`Listpack`] holding
//! member, score, member, score... ordered by score then member, byte for
//! byte as Redis 7.0 holds it. Scores are written as Redis's `d2string`
//! writes them (integers as integer entries) and read back with `strtod`.

use std::borrow::Cow;

use super::number::{score_from_text, score_to_text};
use super::skiplist::compare;
use crate::db::value::listpack::{Entry, Iter, Listpack};

/// A small sorted set in a listpack.
#[derive(Clone, PartialEq)]
pub struct Packed {
    entries: Listpack,
}

impl Default for Packed {
    fn default() -> Self {
        Packed::new()
    }
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("bytes", &self.entries.byte_len())
            .finish()
    }
}

/// A member entry as bytes: integers as their decimal text.
fn member_of(entry: Entry<'_>) -> Cow<'_, [u8]> {
    match entry {
        Entry::Bytes(bytes) => Cow::Borrowed(bytes),
        Entry::Int(_) => Cow::Owned(entry.to_vec()),
    }
}

/// A score entry as a double.
fn score_of(entry: Entry<'_>) -> f64 {
    match entry {
        Entry::Int(value) => value as f64,
        Entry::Bytes(text) => score_from_text(text),
    }
}

impl Packed {
    pub fn new() -> Self {
        Packed {
            entries: Listpack::new(),
        }
    }

    /// The listpack itself (for the RDB writer).
    pub fn listpack(&self) -> &Listpack {
        &self.entries
    }

    /// Elements (member-score pairs).
    pub fn len(&self) -> usize {
        self.entries.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<(Cow<'_, [u8]>, f64)> {
        let mut entries = self.entries.iter().skip(index.checked_mul(2)?);
        let member = entries.next()?;
        let score = entries.next()?;
        Some((member_of(member), score_of(score)))
    }

    /// The index and score of `member`.
    pub fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        let at = self.entries.position_stride(member, 2)?;
        let score = self.entries.iter().nth(at + 1).map(score_of)?;
        Some((at / 2, score))
    }

    /// Inserts a member that is not present at its place in the order
    /// (Redis's `zzlInsert`: before the first element that sorts after it).
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let index = self
            .iter_from(0, false)
            .position(|(other, other_score)| compare(other_score, &other, score, member).is_gt())
            .unwrap_or_else(|| self.len());
        let text = score_to_text(score);
        self.entries.insert(index * 2, member);
        self.entries.insert(index * 2 + 1, text.as_bytes());
    }

    /// Removes the element at `index`.
    pub fn remove(&mut self, index: usize) {
        self.entries.remove_range(index * 2, 2);
    }

    /// Removes `count` elements from `start` on.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        self.entries
            .remove_range(start.saturating_mul(2), count.saturating_mul(2));
    }

    /// The elements from `index` on, forwards or (down to the first)
    /// backwards.
    pub fn iter_from(
        &self,
        index: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = (Cow<'_, [u8]>, f64)> + '_> {
        if reverse {
            let total = self.len() * 2;
            let taken = index.saturating_add(1).min(self.len()) * 2;
            Box::new(Backward {
                entries: self.entries.iter().rev().skip(total - taken),
            })
        } else {
            Box::new(Forward {
                entries: self.entries.iter().skip(index.saturating_mul(2)),
            })
        }
    }
}

/// Pairs read front to back.
struct Forward<'a> {
    entries: std::iter::Skip<Iter<'a>>,
}

impl<'a> Iterator for Forward<'a> {
    type Item = (Cow<'a, [u8]>, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let member = self.entries.next()?;
        let score = self.entries.next()?;
        Some((member_of(member), score_of(score)))
    }
}

/// Pairs read back to front: score first, then its member.
struct Backward<'a> {
    entries: std::iter::Skip<std::iter::Rev<Iter<'a>>>,
}

impl<'a> Iterator for Backward<'a> {
    type Item = (Cow<'a, [u8]>, f64);

    fn next(&mut self) -> Option<Self::Item> {
        let score = self.entries.next()?;
        let member = self.entries.next()?;
        Some((member_of(member), score_of(score)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Redis's bytes for ZADD z 1 a 2.5 b 3 c: members and scores in
    // order, integral scores as integers.
    #[test]
    fn redis_layout() {
        let mut packed = Packed::new();
        packed.insert(b"c", 3.0);
        packed.insert(b"a", 1.0);
        packed.insert(b"b", 2.5);
        let expected: Vec<u8> = vec![
            0x19, 0, 0, 0, 6, 0, 0x81, b'a', 2, 0x01, 1, 0x81, b'b', 2, 0x83, b'2', b'.', b'5', 4,
            0x81, b'c', 2, 0x03, 1, 0xff,
        ];
        assert_eq!(packed.listpack().as_bytes(), &expected[..]);
        assert_eq!(packed.find(b"b"), Some((1, 2.5)));
        let backward: Vec<_> = packed
            .iter_from(1, true)
            .map(|(m, s)| (m.to_vec(), s))
            .collect();
        assert_eq!(backward, vec![(b"b".to_vec(), 2.5), (b"a".to_vec(), 1.0)]);
        packed.remove(0);
        assert_eq!(packed.get(0).map(|(m, _)| m.to_vec()), Some(b"b".to_vec()));
    }
}
