//! Lists: Redis 7.0's quicklist, a sequence of listpack nodes.
//!
//! Every node is a listpack (Redis's byte format, so a dump can copy it out
//! as is) behind an `Rc`: cloning a list for a snapshot copies the node
//! pointers only, and the first change to a node a snapshot still holds
//! copies that one node (at most `list-max-listpack-size` bytes), never the
//! whole list. Nodes fill up to the limit `list-max-listpack-size` sets:
//! negative values are byte sizes (-1 is 4 KB ... -5 is 64 KB), positive
//! ones entry counts (each node still at most 8 KB, as Redis's safety
//! limit). No node is ever empty. Redis 7.0 reports every list as
//! `quicklist`.

use std::collections::VecDeque;
use std::rc::Rc;

use super::listpack::{Entry, Listpack};
use super::{CommandBatch, Cursor};
use crate::config::Encodings;

/// Node byte sizes for `list-max-listpack-size` -1 to -5.
const NODE_BYTES_BY_LEVEL: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// A node's byte bound when the fill counts entries (Redis's
/// SIZE_SAFETY_LIMIT).
const NODE_BYTES_SAFETY: usize = 8192;
/// Bytes a listpack entry adds beyond its data, at most (encoding and
/// back-length), for the fill check.
const ENTRY_OVERHEAD_BYTES: usize = 11;

/// How full a node may get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fill {
    Bytes(usize),
    Entries(usize),
}

impl Fill {
    fn from_config(size: i64) -> Fill {
        if size >= 0 {
            Fill::Entries(size.max(1) as usize)
        } else {
            let level = (size.unsigned_abs() as usize).min(NODE_BYTES_BY_LEVEL.len());
            Fill::Bytes(NODE_BYTES_BY_LEVEL[level - 1])
        }
    }

    /// Whether `node` can take one more entry of `bytes` bytes.
    fn allows(self, node: &Listpack, bytes: usize) -> bool {
        let grown = node.byte_len() + bytes + ENTRY_OVERHEAD_BYTES;
        match self {
            Fill::Bytes(limit) => grown <= limit,
            Fill::Entries(count) => node.len() < count && grown <= NODE_BYTES_SAFETY,
        }
    }
}

/// Which end of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Head,
    Tail,
}

impl End {
    /// `LEFT` / `RIGHT`, case-insensitively.
    pub fn parse(word: &[u8]) -> Option<End> {
        if word.eq_ignore_ascii_case(b"LEFT") {
            Some(End::Head)
        } else if word.eq_ignore_ascii_case(b"RIGHT") {
            Some(End::Tail)
        } else {
            None
        }
    }
}

/// A list of byte strings.
#[derive(Debug, Clone)]
pub struct List {
    nodes: VecDeque<Rc<Listpack>>,
    len: usize,
    fill: Fill,
}

impl PartialEq for List {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    /// An empty list whose nodes fill as `limits` say.
    pub fn new(limits: &Encodings) -> Self {
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill: Fill::from_config(limits.list_max_listpack_size),
        }
    }

    /// A list made of nodes read from a dump, in order; empty nodes are
    /// dropped.
    pub fn from_nodes(nodes: Vec<Listpack>, limits: &Encodings) -> Self {
        let mut list = List::new(limits);
        for node in nodes.into_iter().filter(|node| !node.is_empty()) {
            list.len += node.len();
            list.nodes.push_back(Rc::new(node));
        }
        list
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `OBJECT ENCODING`: Redis 7.0 keeps every list in a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// The listpack nodes, head first (an RDB `QUICKLIST_2` value).
    pub fn nodes(&self) -> impl Iterator<Item = &Listpack> {
        self.nodes.iter().map(|node| &**node)
    }

    /// Every element, head first; `.rev()` walks from the tail.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Entry<'_>> {
        self.nodes.iter().flat_map(|node| node.iter())
    }

    /// Adds `element` at `end`.
    pub fn push(&mut self, end: End, element: &[u8]) {
        let fits = match end {
            End::Head => self.nodes.front(),
            End::Tail => self.nodes.back(),
        }
        .is_some_and(|node| self.fill.allows(node, element.len()));
        if !fits {
            // The node at this end is full: give back its spare room.
            let full = match end {
                End::Head => self.nodes.front_mut(),
                End::Tail => self.nodes.back_mut(),
            };
            if let Some(full) = full {
                Rc::make_mut(full).shrink_to_fit();
            }
            let node = Rc::new(Listpack::new());
            match end {
                End::Head => self.nodes.push_front(node),
                End::Tail => self.nodes.push_back(node),
            }
        }
        let node = match end {
            End::Head => self.nodes.front_mut(),
            End::Tail => self.nodes.back_mut(),
        }
        .expect("a node was just ensured");
        let node = Rc::make_mut(node);
        match end {
            End::Head => node.push_front(element),
            End::Tail => node.push_back(element),
        }
        self.len += 1;
        self.check();
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let index = match end {
            End::Head => 0,
            End::Tail => self.len.checked_sub(1)?,
        };
        self.remove_at(index)
    }

    /// The node holding element `index`, and the index within it.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index >= self.len / 2 {
            let mut after = self.len;
            for (at, node) in self.nodes.iter().enumerate().rev() {
                after -= node.len();
                if index >= after {
                    return Some((at, index - after));
                }
            }
        } else {
            let mut before = 0;
            for (at, node) in self.nodes.iter().enumerate() {
                if index < before + node.len() {
                    return Some((at, index - before));
                }
                before += node.len();
            }
        }
        unreachable!("index {index} below the length {} was not found", self.len)
    }

    /// Element `index` counted from the head.
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        let (node, within) = self.locate(index)?;
        self.nodes[node].get(within)
    }

    /// Replaces element `index`; false if out of range.
    pub fn set(&mut self, index: usize, element: &[u8]) -> bool {
        let Some((node, within)) = self.locate(index) else {
            return false;
        };
        Rc::make_mut(&mut self.nodes[node]).replace(within, element);
        true
    }

    /// Removes and returns element `index`.
    pub fn remove_at(&mut self, index: usize) -> Option<Vec<u8>> {
        let (node, within) = self.locate(index)?;
        let slot = Rc::make_mut(&mut self.nodes[node]);
        let element = slot.get(within).map(|entry| entry.to_vec())?;
        slot.remove(within);
        if slot.is_empty() {
            self.nodes.remove(node);
        }
        self.len -= 1;
        self.check();
        Some(element)
    }

    /// Inserts `element` so that it becomes element `index` (0 ..= len).
    pub fn insert(&mut self, index: usize, element: &[u8]) {
        assert!(index <= self.len, "insert past the end");
        if index == 0 {
            return self.push(End::Head, element);
        }
        if index == self.len {
            return self.push(End::Tail, element);
        }
        let (node, within) = self.locate(index).expect("index inside the list");
        if self.fill.allows(&self.nodes[node], element.len()) {
            Rc::make_mut(&mut self.nodes[node]).insert(within, element);
        } else {
            // Split the full node at the insertion point; the element
            // starts the second half.
            let slot = Rc::make_mut(&mut self.nodes[node]);
            let mut second = Listpack::new();
            second.push_back(element);
            for entry in slot.iter().skip(within) {
                second.push_back(&entry.to_vec());
            }
            let moved = slot.len() - within;
            slot.remove_range(within, moved);
            if slot.is_empty() {
                self.nodes[node] = Rc::new(second);
            } else {
                self.nodes.insert(node + 1, Rc::new(second));
            }
        }
        self.len += 1;
        self.check();
    }

    /// Keeps only elements `start ..= stop` (already clamped to the list);
    /// an empty range empties the list.
    pub fn trim(&mut self, start: usize, stop: usize) {
        if start > stop || start >= self.len {
            self.nodes.clear();
            self.len = 0;
            return;
        }
        let stop = stop.min(self.len - 1);
        let (tail_drop, head_drop) = (self.len - 1 - stop, start);
        self.remove_range(stop + 1, tail_drop);
        self.remove_range(0, head_drop);
    }

    /// Removes `count` elements from `start` on.
    pub fn remove_range(&mut self, start: usize, count: usize) {
        let mut left = count.min(self.len.saturating_sub(start));
        while left > 0 {
            let (node, within) = self.locate(start).expect("range inside the list");
            let slot = Rc::make_mut(&mut self.nodes[node]);
            let here = (slot.len() - within).min(left);
            slot.remove_range(within, here);
            if slot.is_empty() {
                self.nodes.remove(node);
            }
            self.len -= here;
            left -= here;
        }
        self.check();
    }

    /// Removes up to `count` elements equal to `element` (all of them for
    /// 0), from the head when `from_head`; returns how many went.
    pub fn remove_matching(&mut self, element: &[u8], count: usize, from_head: bool) -> usize {
        let limit = if count == 0 { usize::MAX } else { count };
        let mut matches: Vec<usize> = Vec::new();
        if from_head {
            for (index, entry) in self.iter().enumerate() {
                if matches.len() == limit {
                    break;
                }
                if entry.eq_bytes(element) {
                    matches.push(index);
                }
            }
        } else {
            for (index, entry) in self.iter().rev().enumerate() {
                if matches.len() == limit {
                    break;
                }
                if entry.eq_bytes(element) {
                    matches.push(self.len - 1 - index);
                }
            }
            matches.reverse();
        }
        // From the back, so earlier indexes stay valid.
        for &index in matches.iter().rev() {
            self.remove_at(index);
        }
        matches.len()
    }

    /// Hands `visit` the elements from `cursor` on, head first, at most
    /// `elements_max` of them, and moves the cursor past them.
    pub fn elements_from(
        &self,
        cursor: &mut Cursor,
        elements_max: usize,
        mut visit: impl FnMut(Entry<'_>),
    ) {
        let Some((node, within)) = self.locate(cursor.elements) else {
            return;
        };
        let elements = self.nodes.range(node..).flat_map(|node| node.iter());
        for element in elements.skip(within).take(elements_max) {
            visit(element);
            cursor.elements += 1;
        }
    }

    /// Hands `visit` whole nodes from `cursor` on, head first (an RDB
    /// writes nodes), until at least `elements_max` elements went or the
    /// list ends, and moves the cursor past them. The cursor must stand at
    /// the start of a node, as this leaves it.
    pub fn nodes_from(
        &self,
        cursor: &mut Cursor,
        elements_max: usize,
        mut visit: impl FnMut(&Listpack),
    ) {
        let Some((node, within)) = self.locate(cursor.elements) else {
            return;
        };
        assert_eq!(within, 0, "a list's nodes resume at a node's start");
        let mut visited = 0;
        for node in self.nodes.range(node..) {
            if visited >= elements_max {
                break;
            }
            visit(node);
            visited += node.len();
        }
        cursor.elements += visited;
    }

    /// The commands that rebuild the list: RPUSH in batches of at most
    /// [`super::REWRITE_ITEMS_PER_COMMAND`] elements, those of
    /// `elements_max` elements from `cursor` on (see
    /// [`super::Value::rewrite_commands_from`]).
    pub fn rewrite_commands_from(
        &self,
        key: &[u8],
        cursor: &mut Cursor,
        elements_max: usize,
        emit: &mut dyn FnMut(&[&[u8]]),
    ) {
        let mut batch = CommandBatch::new(b"RPUSH", key, emit);
        self.elements_from(cursor, elements_max, |element| {
            batch.push(&[&element.to_vec()]);
        });
        batch.finish();
    }

    /// The list's invariants: the length is the nodes' sum, and no node is
    /// empty.
    fn check(&self) {
        debug_assert_eq!(
            self.len,
            self.nodes.iter().map(|node| node.len()).sum::<usize>()
        );
        debug_assert!(self.nodes.iter().all(|node| !node.is_empty()));
    }
}
