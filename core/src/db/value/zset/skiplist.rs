//! The ordered half of a large sorted set: a skip list of (score, member)
//! pairs, ordered by score then by member bytes, whose links carry spans
//! (how many elements each one skips), so that the rank of an element and
//! the element at a rank are found in O(log n), as in Redis's `zskiplist`.
//!
//! Nodes live in one vector and link to each other by index; removed slots
//! are reused. A node's height is drawn from a generator kept in the list
//! (P = 1/4, at most 32 levels): the shape never shows in a reply, so it
//! needs no randomness from the environment.

use std::cmp::Ordering;

/// No node: the end of a level, or the header's backward link.
const NIL: u32 = u32::MAX;
/// The header node's slot.
const HEADER: u32 = 0;
/// Most levels a node has.
const LEVELS_MAX: usize = 32;

#[derive(Debug, Clone, Copy)]
struct Link {
    forward: u32,
    span: usize,
}

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    backward: u32,
    links: Box<[Link]>,
}

/// Compares two elements by score, then member.
pub fn compare(score: f64, member: &[u8], other_score: f64, other_member: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(other_member))
}

/// The skip list; see the module documentation.
#[derive(Debug, Clone)]
pub struct SkipList {
    nodes: Vec<Node>,
    free: Vec<u32>,
    level: usize,
    len: usize,
    tail: u32,
    generator: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        Self::new()
    }
}

impl SkipList {
    pub fn new() -> Self {
        let header = Node {
            member: Box::default(),
            score: 0.0,
            backward: NIL,
            links: vec![
                Link {
                    forward: NIL,
                    span: 0
                };
                LEVELS_MAX
            ]
            .into_boxed_slice(),
        };
        SkipList {
            nodes: vec![header],
            free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            generator: 0x2545_f491_4f6c_dd1d,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn node(&self, index: u32) -> &Node {
        &self.nodes[index as usize]
    }

    fn random_level(&mut self) -> usize {
        let mut level = 1;
        loop {
            self.generator ^= self.generator << 13;
            self.generator ^= self.generator >> 7;
            self.generator ^= self.generator << 17;
            if self.generator & 3 != 0 || level >= LEVELS_MAX {
                return level;
            }
            level += 1;
        }
    }

    /// Walks down from the top level, going forward while `before` holds
    /// for the next node; returns the last node passed at each level and
    /// the rank of each.
    fn descend(
        &self,
        mut before: impl FnMut(f64, &[u8]) -> bool,
    ) -> ([u32; LEVELS_MAX], [usize; LEVELS_MAX]) {
        let mut update = [HEADER; LEVELS_MAX];
        let mut rank = [0usize; LEVELS_MAX];
        let mut at = HEADER;
        for i in (0..self.level).rev() {
            rank[i] = if i + 1 == self.level { 0 } else { rank[i + 1] };
            loop {
                let link = self.node(at).links[i];
                if link.forward == NIL {
                    break;
                }
                let next = self.node(link.forward);
                if !before(next.score, &next.member) {
                    break;
                }
                rank[i] += link.span;
                at = link.forward;
            }
            update[i] = at;
        }
        (update, rank)
    }

    /// Adds an element that is not in the list.
    pub fn insert(&mut self, score: f64, member: Box<[u8]>) {
        let (mut update, mut rank) =
            self.descend(|s, m| compare(s, m, score, &member) == Ordering::Less);
        let level = self.random_level();
        if level > self.level {
            for i in self.level..level {
                rank[i] = 0;
                update[i] = HEADER;
                self.nodes[HEADER as usize].links[i].span = self.len;
            }
            self.level = level;
        }
        let node = Node {
            member,
            score,
            backward: if update[0] == HEADER { NIL } else { update[0] },
            links: vec![
                Link {
                    forward: NIL,
                    span: 0
                };
                level
            ]
            .into_boxed_slice(),
        };
        let index = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..level {
            let previous = update[i] as usize;
            let link = self.nodes[previous].links[i];
            self.nodes[index as usize].links[i] = Link {
                forward: link.forward,
                span: link.span - (rank[0] - rank[i]),
            };
            self.nodes[previous].links[i] = Link {
                forward: index,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, &previous) in update.iter().enumerate().take(self.level).skip(level) {
            self.nodes[previous as usize].links[i].span += 1;
        }
        let next = self.nodes[index as usize].links[0].forward;
        if next == NIL {
            self.tail = index;
        } else {
            self.nodes[next as usize].backward = index;
        }
        self.len += 1;
    }

    /// Removes the element (score, member); returns whether it was there.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.descend(|s, m| compare(s, m, score, member) == Ordering::Less);
        let found = self.node(update[0]).links[0].forward;
        if found == NIL {
            return false;
        }
        let node = self.node(found);
        if node.score != score || &*node.member != member {
            return false;
        }
        self.unlink(found, &update);
        true
    }

    fn unlink(&mut self, index: u32, update: &[u32; LEVELS_MAX]) {
        for (i, &previous) in update.iter().enumerate().take(self.level) {
            let removed_link = self.node(index).links.get(i).copied();
            let link = &mut self.nodes[previous as usize].links[i];
            match removed_link {
                Some(removed) if link.forward == index => {
                    link.span = link.span + removed.span - 1;
                    link.forward = removed.forward;
                }
                _ => link.span -= 1,
            }
        }
        let (next, backward) = {
            let node = self.node(index);
            (node.links[0].forward, node.backward)
        };
        if next == NIL {
            self.tail = backward;
        } else {
            self.nodes[next as usize].backward = backward;
        }
        while self.level > 1 && self.node(HEADER).links[self.level - 1].forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        let slot = &mut self.nodes[index as usize];
        slot.member = Box::default();
        slot.links = Box::default();
        self.free.push(index);
    }

    /// The 0-based rank of (score, member), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let (update, rank) = self.descend(|s, m| compare(s, m, score, member) != Ordering::Greater);
        let node = self.node(update[0]);
        (update[0] != HEADER && node.score == score && &*node.member == member).then(|| rank[0] - 1)
    }

    /// How many elements come before the first one for which `before` is
    /// false (the elements must be ordered so that `before` holds for a
    /// prefix of them).
    pub fn count_before(&self, before: impl FnMut(f64, &[u8]) -> bool) -> usize {
        let (_, rank) = self.descend(before);
        rank[0]
    }

    /// The node at 0-based `rank`.
    fn at_rank(&self, rank: usize) -> u32 {
        if rank + 1 == self.len {
            return self.tail;
        }
        let target = rank + 1;
        let mut traversed = 0;
        let mut at = HEADER;
        for i in (0..self.level).rev() {
            loop {
                let link = self.node(at).links[i];
                if link.forward == NIL || traversed + link.span > target {
                    break;
                }
                traversed += link.span;
                at = link.forward;
            }
            if traversed == target {
                return at;
            }
        }
        NIL
    }

    /// The elements from 0-based `rank` on, towards the end (or towards
    /// the start when `reverse`).
    pub fn iter_from(&self, rank: usize, reverse: bool) -> Iter<'_> {
        let at = if rank < self.len {
            self.at_rank(rank)
        } else {
            NIL
        };
        Iter {
            list: self,
            at,
            reverse,
        }
    }

    /// The element at 0-based `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter_from(rank, false).next()
    }
}

/// Elements in order (or in reverse order) from a starting rank.
pub struct Iter<'a> {
    list: &'a SkipList,
    at: u32,
    reverse: bool,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.at == NIL {
            return None;
        }
        let node = self.list.node(self.at);
        self.at = if self.reverse {
            node.backward
        } else {
            node.links[0].forward
        };
        Some((&node.member, node.score))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ranks, lookups by rank and removals agree with a sorted vector.
    #[test]
    fn agrees_with_a_sorted_vector() {
        let mut list = SkipList::new();
        let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
        let mut state = 7u64;
        for step in 0..4000u64 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let member = format!("m{}", (state >> 33) % 500).into_bytes();
            let score = ((state >> 20) % 50) as f64;
            let present = model.iter().position(|(_, m)| *m == member);
            match present {
                Some(at) if step % 3 == 0 => {
                    let (old, _) = model.remove(at);
                    assert!(list.remove(old, &member));
                }
                Some(_) => {}
                None => {
                    list.insert(score, member.clone().into_boxed_slice());
                    model.push((score, member));
                    model.sort_by(|a, b| compare(a.0, &a.1, b.0, &b.1));
                }
            }
            assert_eq!(list.len(), model.len());
        }
        for (rank, (score, member)) in model.iter().enumerate() {
            assert_eq!(list.rank(*score, member), Some(rank));
            assert_eq!(list.get(rank), Some((&member[..], *score)));
        }
        let forward: Vec<_> = list.iter_from(0, false).map(|(m, _)| m.to_vec()).collect();
        let expected: Vec<_> = model.iter().map(|(_, m)| m.clone()).collect();
        assert_eq!(forward, expected);
        let mut backward: Vec<_> = list
            .iter_from(model.len() - 1, true)
            .map(|(m, _)| m.to_vec())
            .collect();
        backward.reverse();
        assert_eq!(backward, expected);
        assert_eq!(
            list.count_before(|s, _| s < 10.0),
            model.iter().filter(|(s, _)| *s < 10.0).count()
        );
    }
}
