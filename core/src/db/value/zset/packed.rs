//! The compact encoding of a small sorted set: member, score, member,
//! score... ordered by score then member, as Redis's listpack holds it.
//!
//! INTERIM: until the listpack module is merged, the pairs are kept in a
//! vector; the interface is the one the listpack-backed version keeps.

use std::borrow::Cow;

use super::number::{score_from_text, score_to_text};
use super::skiplist::compare;

/// A small sorted set in Redis's listpack layout.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packed {
    pairs: Vec<(Box<[u8]>, Box<[u8]>)>,
}

impl Packed {
    pub fn new() -> Self {
        Packed::default()
    }

    /// Elements (pairs).
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    fn score_at(&self, index: usize) -> f64 {
        score_from_text(&self.pairs[index].1)
    }

    /// The element at `index`.
    pub fn get(&self, index: usize) -> Option<(Cow<'_, [u8]>, f64)> {
        (index < self.pairs.len())
            .then(|| (Cow::Borrowed(&*self.pairs[index].0), self.score_at(index)))
    }

    /// The index and score of `member`.
    pub fn find(&self, member: &[u8]) -> Option<(usize, f64)> {
        let index = self.pairs.iter().position(|(m, _)| &**m == member)?;
        Some((index, self.score_at(index)))
    }

    /// Inserts a member that is not present at its place in the order.
    pub fn insert(&mut self, member: &[u8], score: f64) {
        let index = (0..self.pairs.len())
            .find(|&i| compare(self.score_at(i), &self.pairs[i].0, score, member).is_gt())
            .unwrap_or(self.pairs.len());
        let text = score_to_text(score).into_bytes().into_boxed_slice();
        self.pairs.insert(index, (member.into(), text));
    }

    /// Removes the element at `index`.
    pub fn remove(&mut self, index: usize) {
        self.pairs.remove(index);
    }

    /// Removes `count` elements from `start` on.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let end = start.saturating_add(count).min(self.pairs.len());
        self.pairs.drain(start.min(end)..end);
    }

    /// The elements from `index` on, forwards or backwards.
    pub fn iter_from(
        &self,
        index: usize,
        reverse: bool,
    ) -> Box<dyn Iterator<Item = (Cow<'_, [u8]>, f64)> + '_> {
        let element = move |i: usize| (Cow::Borrowed(&*self.pairs[i].0), self.score_at(i));
        if reverse {
            let end = if index < self.pairs.len() {
                index + 1
            } else {
                0
            };
            Box::new((0..end).rev().map(element))
        } else {
            Box::new((index.min(self.pairs.len())..self.pairs.len()).map(element))
        }
    }

    /// Bytes the encoding takes.
    pub fn byte_len(&self) -> usize {
        self.pairs
            .iter()
            .map(|(m, s)| m.len() + s.len() + 4)
            .sum::<usize>()
            + 7
    }
}
