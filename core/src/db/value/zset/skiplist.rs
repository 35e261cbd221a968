//! The ordered half of a large sorted set: a skip list of (score, member)
//! pairs, ordered by score then by member bytes, whose links carry spans
//! (how many elements each one skips), so that the rank of an element and
//! the element at a rank are found in O(log n), as in Redis's `zskiplist`.
//!
//! Nodes live in an arena of fixed-size chunks and link to each other by
//! index; removed slots are reused. Each chunk sits behind an `Rc`, so that
//! cloning the list (a snapshot taking its copy of a value) shares every
//! chunk, and a later write copies only the chunks holding the nodes it
//! changes, as fork's copy-on-write copies only the pages a process
//! touches. All writes go through `SkipList::node_mut`, the one place that
//! unshares a chunk; reads go through `SkipList::node`, which never does.
//!
//! A node's height is drawn from a generator kept in the list (P = 1/4, at
//! most 32 levels): the shape never shows in a reply, so it needs no
//! randomness from the environment.

use std::cmp::Ordering;
use std::rc::Rc;

/// No node: the end of a level, the header's backward link, or the end of
/// the free-slot stack.
const NIL: u32 = u32::MAX;
/// The header node's slot.
const HEADER: u32 = 0;
/// Most levels a node has.
const LEVELS_MAX: usize = 32;
/// Node slots per chunk of the arena. A clone costs one refcount increment
/// per chunk, and the first write to a shared chunk deep-copies its nodes
/// (two allocations each, member and links); an insert or remove changes
/// about one node per level, 10 to 12 chunks on a 1M-element list. Measured
/// there in a release build: with 64 slots a clone takes about
/// 0.3 ms (the increments miss the cache) and a first write 10 to 80 µs;
/// 128 slots halve the clone but double the writes, 16 or 32 do the
/// reverse, and the throughput of inserts and lookups is the same for 64
/// and 128. A power of two makes the slot arithmetic a shift and a mask,
/// and a 3 KiB chunk (64 nodes of 48 bytes) keeps its `Rc` header and its
/// pointer in the arena under 1% of the nodes' memory.
const CHUNK_SLOTS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Link {
    forward: u32,
    span: usize,
}

#[derive(Debug, Clone)]
struct Node {
    member: Box<[u8]>,
    score: f64,
    /// The previous node; in a free slot, the slot freed before it (see
    /// `SkipList::free`).
    backward: u32,
    links: Box<[Link]>,
}

impl Node {
    /// A slot holding no element: its boxes are empty and allocate nothing.
    fn vacant() -> Self {
        Node {
            member: Box::default(),
            score: 0.0,
            backward: NIL,
            links: Box::default(),
        }
    }
}

/// `CHUNK_SLOTS` node slots, shared between clones of a list until one of
/// them writes to it (`Rc::make_mut` then copies it).
#[derive(Debug, Clone)]
struct Chunk {
    slots: [Node; CHUNK_SLOTS],
}

impl Chunk {
    fn vacant() -> Self {
        Chunk {
            slots: std::array::from_fn(|_| Node::vacant()),
        }
    }
}

/// Compares two elements by score, then member.
pub fn compare(score: f64, member: &[u8], other_score: f64, other_member: &[u8]) -> Ordering {
    score
        .partial_cmp(&other_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| member.cmp(other_member))
}

/// The skip list; see the module documentation. Cloning it copies one
/// pointer per `CHUNK_SLOTS` nodes and a few words.
#[derive(Debug, Clone)]
pub struct SkipList {
    /// The arena: slot `i` is `chunks[i / CHUNK_SLOTS].slots[i % CHUNK_SLOTS]`.
    chunks: Vec<Rc<Chunk>>,
    /// How many slots have been handed out, the header's included; the
    /// slots past them in the last chunk are vacant. The arena never
    /// shrinks, as the single vector it replaces never did.
    slots_len: usize,
    /// The most recently freed slot, or `NIL`. Free slots form a stack
    /// threaded through their `backward` fields rather than a vector: a
    /// list emptied of its elements has as many free slots as it had
    /// elements, and a vector of them would make a clone O(n) again.
    free: u32,
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
            links: vec![
                Link {
                    forward: NIL,
                    span: 0
                };
                LEVELS_MAX
            ]
            .into_boxed_slice(),
            ..Node::vacant()
        };
        let mut list = SkipList {
            chunks: Vec::new(),
            slots_len: 0,
            free: NIL,
            level: 1,
            len: 0,
            tail: NIL,
            generator: 0x2545_f491_4f6c_dd1d,
        };
        let slot = list.place(header);
        assert_eq!(slot, HEADER, "the header takes the arena's first slot");
        list
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads a node; never copies a chunk.
    fn node(&self, index: u32) -> &Node {
        let index = index as usize;
        debug_assert!(index < self.slots_len, "slot {index} was never handed out");
        &self.chunks[index / CHUNK_SLOTS].slots[index % CHUNK_SLOTS]
    }

    /// The one way to change a node: first copies its chunk if a clone of
    /// the list still shares it, so a write never shows in the clone and
    /// copies only the chunks it touches.
    fn node_mut(&mut self, index: u32) -> &mut Node {
        let index = index as usize;
        debug_assert!(index < self.slots_len, "slot {index} was never handed out");
        &mut Rc::make_mut(&mut self.chunks[index / CHUNK_SLOTS]).slots[index % CHUNK_SLOTS]
    }

    /// Stores `node` in the most recently freed slot, or else in the next
    /// slot of the arena (adding a chunk when the last one is full), and
    /// returns the slot's index.
    fn place(&mut self, node: Node) -> u32 {
        let index = if self.free != NIL {
            let index = self.free;
            debug_assert!(
                self.node(index).links.is_empty(),
                "a free slot holds no node"
            );
            self.free = self.node(index).backward;
            index
        } else {
            assert!(
                self.slots_len < NIL as usize,
                "a skip list holds fewer than {NIL} nodes"
            );
            if self.slots_len.is_multiple_of(CHUNK_SLOTS) {
                self.chunks.push(Rc::new(Chunk::vacant()));
            }
            self.slots_len += 1;
            (self.slots_len - 1) as u32
        };
        *self.node_mut(index) = node;
        index
    }

    /// Empties the slot of an unlinked node and pushes it on the free
    /// stack, for the next `place` to reuse.
    fn release(&mut self, index: u32) {
        *self.node_mut(index) = Node {
            backward: self.free,
            ..Node::vacant()
        };
        self.free = index;
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
                self.node_mut(HEADER).links[i].span = self.len;
            }
            self.level = level;
        }
        // The new node takes over the tail of each predecessor's link, so
        // it is built whole before any predecessor changes.
        let links = (0..level)
            .map(|i| {
                let link = self.node(update[i]).links[i];
                Link {
                    forward: link.forward,
                    span: link.span - (rank[0] - rank[i]),
                }
            })
            .collect();
        let index = self.place(Node {
            member,
            score,
            backward: if update[0] == HEADER { NIL } else { update[0] },
            links,
        });
        for i in 0..level {
            self.node_mut(update[i]).links[i] = Link {
                forward: index,
                span: rank[0] - rank[i] + 1,
            };
        }
        for (i, &previous) in update.iter().enumerate().take(self.level).skip(level) {
            self.node_mut(previous).links[i].span += 1;
        }
        let next = self.node(index).links[0].forward;
        if next == NIL {
            self.tail = index;
        } else {
            self.node_mut(next).backward = index;
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
            let link = &mut self.node_mut(previous).links[i];
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
            self.node_mut(next).backward = backward;
        }
        while self.level > 1 && self.node(HEADER).links[self.level - 1].forward == NIL {
            self.level -= 1;
        }
        self.len -= 1;
        self.release(index);
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
    use std::collections::{BTreeMap, BTreeSet};

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

    /// A seeded generator for the tests (a 64-bit LCG's high bits).
    struct Seeded(u64);

    impl Seeded {
        fn below(&mut self, bound: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % bound
        }
    }

    /// The reference a list must agree with: its elements ordered by
    /// (score, member), the scores being small integers so that ties are
    /// ordered by member. Cloning it is O(n), which a test can afford.
    #[derive(Clone, Default)]
    struct Reference {
        elements: BTreeSet<(i64, Vec<u8>)>,
        scores: BTreeMap<Vec<u8>, i64>,
    }

    impl Reference {
        /// Applies one random insert or remove to both, returning it.
        fn step(&mut self, list: &mut SkipList, random: &mut Seeded) -> Operation {
            let member = format!("m{}", random.below(6000)).into_bytes();
            if let Some(score) = self.scores.remove(&member) {
                self.elements.remove(&(score, member.clone()));
                assert!(
                    list.remove(score as f64, &member),
                    "a present member is removed"
                );
                return Operation {
                    inserted: false,
                    score,
                    member,
                };
            }
            let score = random.below(40) as i64 - 20;
            self.elements.insert((score, member.clone()));
            self.scores.insert(member.clone(), score);
            list.insert(score as f64, member.clone().into_boxed_slice());
            Operation {
                inserted: true,
                score,
                member,
            }
        }
    }

    /// One step of a test: an element inserted or removed.
    #[derive(Debug)]
    struct Operation {
        inserted: bool,
        score: i64,
        member: Vec<u8>,
    }

    /// Checks every query of `list` against `reference`: length, order both
    /// ways, rank and lookup by rank of each element, a range from the
    /// middle, and counts below a score.
    fn assert_agrees(list: &SkipList, reference: &Reference, context: &str) {
        let expected: Vec<(&[u8], f64)> = reference
            .elements
            .iter()
            .map(|(score, member)| (&member[..], *score as f64))
            .collect();
        assert_eq!(list.len(), expected.len(), "length, {context}");
        let forward: Vec<_> = list.iter_from(0, false).collect();
        assert_eq!(forward, expected, "order from the start, {context}");
        let mut backward: Vec<_> = list
            .iter_from(expected.len().wrapping_sub(1), true)
            .collect();
        backward.reverse();
        assert_eq!(backward, expected, "order from the end, {context}");
        for (rank, (member, score)) in expected.iter().enumerate() {
            assert_eq!(list.rank(*score, member), Some(rank), "rank, {context}");
            assert_eq!(list.get(rank), Some((*member, *score)), "get, {context}");
        }
        let middle = expected.len() / 2;
        let range: Vec<_> = list.iter_from(middle, false).take(20).collect();
        let expected_range: Vec<_> = expected.iter().skip(middle).take(20).copied().collect();
        assert_eq!(range, expected_range, "range from the middle, {context}");
        for bound in [-25.0, -3.0, 0.0, 7.0, 25.0] {
            assert_eq!(
                list.count_before(|score, _| score < bound),
                expected.iter().filter(|(_, score)| *score < bound).count(),
                "count below {bound}, {context}"
            );
        }
    }

    /// How many of `list`'s chunks it does not share with `original`: the
    /// chunks copied or added since one was cloned from the other.
    fn chunks_not_shared(list: &SkipList, original: &SkipList) -> usize {
        list.chunks
            .iter()
            .enumerate()
            .filter(|&(i, chunk)| original.chunks.get(i).is_none_or(|o| !Rc::ptr_eq(chunk, o)))
            .count()
    }

    // A clone shares every chunk, and one insert or remove on it copies at
    // most one chunk per level plus two (the new or removed node's, and its
    // successor's), never changing the original.
    #[test]
    fn a_write_on_a_clone_copies_only_the_chunks_it_touches() {
        let mut random = Seeded(23);
        let mut list = SkipList::new();
        let mut reference = Reference::default();
        // Members are drawn from 6000 names and a present one is removed,
        // so the list settles near 3000 elements, about 50 chunks.
        for _ in 0..6000 {
            reference.step(&mut list, &mut random);
        }
        assert!(list.chunks.len() > 30, "the list spans many chunks");
        for step in 0..3000 {
            let mut copy = list.clone();
            assert_eq!(
                chunks_not_shared(&copy, &list),
                0,
                "a clone shares every chunk"
            );
            assert!(
                list.chunks.iter().all(|chunk| Rc::strong_count(chunk) == 2),
                "every chunk is held by the list and its clone"
            );
            let (level_before, len_before) = (copy.level, copy.len());
            let reference_before = (step % 100 == 0).then(|| reference.clone());
            let operation = reference.step(&mut copy, &mut random);
            let copied = chunks_not_shared(&copy, &list);
            let bound = level_before.max(copy.level) + 2;
            assert!(
                copied <= bound,
                "step {step}, {operation:?}: copied {copied} chunks of {}, more than {bound}",
                list.chunks.len()
            );
            assert_eq!(
                (
                    list.len(),
                    list.rank(operation.score as f64, &operation.member)
                        .is_some()
                ),
                (len_before, !operation.inserted),
                "step {step}, {operation:?}: the write on the clone shows in the original"
            );
            if let Some(reference_before) = reference_before {
                assert_agrees(
                    &list,
                    &reference_before,
                    &format!("original at step {step}"),
                );
                assert_agrees(&copy, &reference, &format!("clone at step {step}"));
            }
            list = copy;
        }
        assert_agrees(&list, &reference, "at the end");
    }

    // Several versions cloned from one another and written in turn keep
    // their own ranks and ranges: no write leaks into a version sharing
    // its chunks.
    #[test]
    fn ranks_and_ranges_on_interleaved_clones_match_the_reference() {
        let mut random = Seeded(5);
        let mut versions = vec![(SkipList::new(), Reference::default())];
        for step in 0..4000 {
            let chosen = random.below(versions.len() as u64) as usize;
            if versions.len() < 4 && step % 50 == 0 {
                let clone = versions[chosen].clone();
                versions.push(clone);
            }
            let (list, reference) = &mut versions[chosen];
            reference.step(list, &mut random);
            if step % 500 == 499 {
                for (i, (list, reference)) in versions.iter().enumerate() {
                    assert_agrees(list, reference, &format!("version {i} at step {step}"));
                }
            }
        }
        for (i, (list, reference)) in versions.iter().enumerate() {
            assert_agrees(list, reference, &format!("version {i} at the end"));
        }
    }

    // A removed node's slot is reused, the most recently freed first, so
    // the arena stays as large as the most elements it ever held, and an
    // emptied list still clones its free slots in O(1).
    #[test]
    fn removed_slots_are_reused() {
        let mut list = SkipList::new();
        for i in 0..1000u32 {
            list.insert(f64::from(i), i.to_string().into_bytes().into_boxed_slice());
        }
        let (slots_len, chunks_len) = (list.slots_len, list.chunks.len());
        for i in 0..1000u32 {
            assert!(list.remove(f64::from(i), i.to_string().as_bytes()));
        }
        assert!(list.is_empty());
        let emptied = list.clone();
        assert_eq!(
            emptied.free, 1000,
            "the last freed slot is on top of the stack"
        );
        for i in (0..1000u32).rev() {
            list.insert(f64::from(i), i.to_string().into_bytes().into_boxed_slice());
        }
        assert_eq!(
            (list.slots_len, list.chunks.len()),
            (slots_len, chunks_len),
            "every insert reused a freed slot"
        );
        assert_eq!(list.free, NIL, "every freed slot was reused");
        assert!(emptied.is_empty() && emptied.iter_from(0, false).next().is_none());
        assert_eq!(list.iter_from(0, false).count(), 1000);
    }
}
