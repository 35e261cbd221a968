//! The search for a linearization of one key's history: Wing and Gong's
//! algorithm with Lowe's memoization, as Porcupine implements it.
//!
//! The history is a list of call and return entries ordered by time (at
//! equal times calls come first, so operations that touch at a
//! millisecond overlap). Walking the list, an operation whose call comes
//! before every remaining return may be placed next: the model runs it,
//! and if its answers agree with what the client saw, its two entries
//! leave the list and the walk starts over. Reaching a return entry means
//! that operation had to be placed by now: the last placement is undone
//! and the walk goes on after it. Every (set of operations placed, states
//! the key may be in) reached is remembered, so no configuration is
//! explored twice. The list empties exactly when a linearization exists;
//! the stack of placements empties first exactly when none does.
//!
//! A pending operation (no reply) returns at the end of time with any
//! answer; placing it last is the same as it never having happened.
//!
//! The work is bounded: past `steps_max` steps the key is undecided.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::history::Operation;
use super::model::{Model, States, ABSENT};

/// What the search found for one key.
#[derive(Debug)]
pub enum Outcome {
    Linearizable,
    /// No order of the operations explains every answer.
    Violation(Stuck),
    /// The search gave up at its bound.
    Undecided,
}

/// Where the search got furthest before it failed.
#[derive(Debug)]
pub struct Stuck {
    /// The longest order found that agrees with every answer in it, as
    /// indices of operations.
    pub placed: Vec<usize>,
    /// The states the key may be in after those.
    pub states: States,
    /// The operations one of which had to come next: none could.
    pub next: Vec<usize>,
}

/// No entry: the end of the list.
const NIL: u32 = u32::MAX;
/// The list's head, before the first entry.
const HEAD: u32 = 0;

/// The call and return entries of a history as a doubly linked list, so
/// that an operation's two entries leave and come back in constant time.
struct Entries {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// For each entry, its operation; entry 0 is the head.
    op: Vec<u32>,
    is_call: Vec<bool>,
    /// For each operation, its call and return entries.
    call_of: Vec<u32>,
    return_of: Vec<u32>,
    /// For each operation, its place among the calls: its bit in
    /// [`Placed`].
    rank: Vec<u32>,
}

impl Entries {
    fn new(operations: &[Operation]) -> Entries {
        // (time, is a return, operation): at equal times calls come first.
        let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(operations.len() * 2);
        for (index, operation) in operations.iter().enumerate() {
            events.push((operation.invoke_ms, false, index));
            let end = operation.complete_ms.unwrap_or(u64::MAX);
            events.push((end, true, index));
        }
        events.sort_unstable();
        let count = events.len() + 1;
        let mut entries = Entries {
            next: (1..=count as u32).collect(),
            prev: (0..count as u32).map(|i| i.wrapping_sub(1)).collect(),
            op: vec![u32::MAX; count],
            is_call: vec![false; count],
            call_of: vec![NIL; operations.len()],
            return_of: vec![NIL; operations.len()],
            rank: vec![NIL; operations.len()],
        };
        let mut calls = 0;
        entries.next[count - 1] = NIL;
        entries.prev[0] = NIL;
        for (at, &(_, is_return, index)) in events.iter().enumerate() {
            let entry = at + 1;
            entries.op[entry] = index as u32;
            entries.is_call[entry] = !is_return;
            if is_return {
                entries.return_of[index] = entry as u32;
            } else {
                entries.call_of[index] = entry as u32;
                entries.rank[index] = calls;
                calls += 1;
            }
        }
        entries
    }

    fn unlink(&mut self, entry: u32) {
        let (before, after) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[before as usize] = after;
        if after != NIL {
            self.prev[after as usize] = before;
        }
    }

    fn relink(&mut self, entry: u32) {
        let (before, after) = (self.prev[entry as usize], self.next[entry as usize]);
        self.next[before as usize] = entry;
        if after != NIL {
            self.prev[after as usize] = entry;
        }
    }

    /// Takes an operation's entries out of the list.
    fn lift(&mut self, op: usize) {
        self.unlink(self.call_of[op]);
        self.unlink(self.return_of[op]);
    }

    /// Puts them back; undoes the last `lift`.
    fn unlift(&mut self, op: usize) {
        self.relink(self.return_of[op]);
        self.relink(self.call_of[op]);
    }

    fn first(&self) -> u32 {
        self.next[HEAD as usize]
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }
}

/// SplitMix64's finalizer: a well spread 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The operations placed so far, as a bitset by call order. Every
/// operation before `open` is placed, so a configuration is told apart by
/// `open` and the few words from there to the last placed operation: the
/// memo stays small however long the history.
struct Placed {
    words: Vec<u64>,
    /// The first operation, in call order, not placed.
    open: usize,
    /// One past the last word with an operation placed.
    end_word: usize,
}

impl Placed {
    fn new(operations: usize) -> Placed {
        Placed {
            words: vec![0; operations.div_ceil(64)],
            open: 0,
            end_word: 0,
        }
    }

    fn is_set(&self, rank: usize) -> bool {
        self.words
            .get(rank / 64)
            .is_some_and(|w| w >> (rank % 64) & 1 == 1)
    }

    fn set(&mut self, rank: usize) {
        self.words[rank / 64] |= 1 << (rank % 64);
        self.end_word = self.end_word.max(rank / 64 + 1);
        while self.is_set(self.open) {
            self.open += 1;
        }
    }

    fn clear(&mut self, rank: usize) {
        self.words[rank / 64] &= !(1 << (rank % 64));
        self.open = self.open.min(rank);
        while self.end_word > 0 && self.words[self.end_word - 1] == 0 {
            self.end_word -= 1;
        }
    }

    /// The words past the placed prefix: with `open`, they name the set.
    fn window(&self) -> &[u64] {
        &self.words[(self.open / 64).min(self.end_word)..self.end_word]
    }
}

/// Words the memo may hold for one key before the key is undecided.
const SEEN_WORDS_MAX: usize = 1 << 24;

/// The configurations seen, (operations placed, states), stored flat.
struct Seen {
    words: Vec<u64>,
    /// Per configuration: where its window starts in `words`, its length,
    /// its `open`, its states, and the configuration stored before it
    /// with the same hash.
    spans: Vec<(u32, u32)>,
    opens: Vec<u32>,
    states: Vec<States>,
    chain: Vec<u32>,
    by_hash: HashMap<u64, u32, BuildHasherDefault<PassThrough>>,
}

impl Seen {
    fn new() -> Seen {
        Seen {
            words: Vec::new(),
            spans: Vec::new(),
            opens: Vec::new(),
            states: Vec::new(),
            chain: Vec::new(),
            by_hash: HashMap::default(),
        }
    }

    fn is_full(&self) -> bool {
        self.words.len() > SEEN_WORDS_MAX
    }

    /// Remembers a configuration; false if it was seen before.
    fn insert(&mut self, placed: &Placed, states: States) -> bool {
        let window = placed.window();
        let mut hash = mix(placed.open as u64) ^ mix(u64::from(states) | 1 << 40);
        for &word in window {
            hash = mix(hash ^ word);
        }
        let head = self.by_hash.get(&hash).copied().unwrap_or(NIL);
        let mut at = head;
        while at != NIL {
            let index = at as usize;
            let (start, length) = self.spans[index];
            let stored = &self.words[start as usize..(start + length) as usize];
            if self.opens[index] as usize == placed.open
                && self.states[index] == states
                && stored == window
            {
                return false;
            }
            at = self.chain[index];
        }
        let index = u32::try_from(self.states.len()).expect("configurations fit in u32");
        let start = u32::try_from(self.words.len()).expect("memo words fit in u32");
        self.words.extend_from_slice(window);
        self.spans.push((start, window.len() as u32));
        self.opens.push(placed.open as u32);
        self.states.push(states);
        self.chain.push(head);
        self.by_hash.insert(hash, index);
        true
    }
}

/// Looks for a linearization of `operations` from an absent key, within
/// `steps_max` steps.
pub fn search(operations: &[Operation], model: &mut Model, steps_max: u64) -> Outcome {
    let mut entries = Entries::new(operations);
    let mut seen = Seen::new();
    let mut placed = Placed::new(operations.len());
    // Each placement and the states before it.
    let mut stack: Vec<(usize, States)> = Vec::new();
    // The key starts absent: the set of that state alone.
    let mut state = ABSENT;
    // The deepest stack of placements, taken when the search first backs
    // out of it, for the report of a violation.
    let mut best: Vec<usize> = Vec::new();
    let mut best_state = ABSENT;
    let mut deepest = 0;
    let mut at_deepest = false;
    let mut entry = entries.first();
    let mut steps = 0u64;
    while entries.first() != NIL {
        steps += 1;
        if steps > steps_max || seen.is_full() {
            return Outcome::Undecided;
        }
        let op = entries.op[entry as usize] as usize;
        let rank = entries.rank[op] as usize;
        if entries.is_call[entry as usize] {
            if let Some(after) = model.run(state, &operations[op].steps) {
                placed.set(rank);
                if seen.insert(&placed, after) {
                    stack.push((op, state));
                    state = after;
                    entries.lift(op);
                    entry = entries.first();
                    if stack.len() > deepest {
                        deepest = stack.len();
                        at_deepest = true;
                    }
                    continue;
                }
                placed.clear(rank);
            }
            entry = entries.next[entry as usize];
        } else {
            // This operation had to be placed by now: undo the last
            // placement and try what follows it.
            if at_deepest {
                best = stack.iter().map(|&(op, _)| op).collect();
                best_state = state;
                at_deepest = false;
            }
            let Some((last, before)) = stack.pop() else {
                return Outcome::Violation(stuck(operations, best, best_state));
            };
            state = before;
            placed.clear(entries.rank[last] as usize);
            entries.unlift(last);
            entry = entries.next[entries.call_of[last] as usize];
        }
    }
    Outcome::Linearizable
}

/// The operations that had to follow the best order found: those not in
/// it whose call comes before the first return among them.
fn stuck(operations: &[Operation], placed: Vec<usize>, states: States) -> Stuck {
    let mut is_placed = vec![false; operations.len()];
    placed.iter().for_each(|&op| is_placed[op] = true);
    let left = || (0..operations.len()).filter(|&op| !is_placed[op]);
    let first_return = left()
        .map(|op| operations[op].complete_ms.unwrap_or(u64::MAX))
        .min()
        .unwrap_or(u64::MAX);
    let next = left()
        .filter(|&op| operations[op].invoke_ms <= first_return)
        .collect();
    Stuck {
        placed,
        states,
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A set of placed operations has one form, whatever order it was
    /// built in: the memo tells configurations apart by it.
    #[test]
    fn a_placed_set_has_one_form() {
        let mut first = Placed::new(200);
        for rank in [0, 1, 2, 70, 3, 150] {
            first.set(rank);
        }
        first.clear(150);
        first.set(4);
        let mut second = Placed::new(200);
        for rank in [4, 3, 70, 2, 1, 0] {
            second.set(rank);
        }
        assert_eq!(first.open, 5, "0 to 4 are placed");
        assert_eq!((first.open, first.window()), (second.open, second.window()));
        second.clear(70);
        assert_eq!(second.window(), &[0b11111], "the prefix's own word");
        let mut prefix = Placed::new(200);
        (0..64).for_each(|rank| prefix.set(rank));
        assert!(
            prefix.window().is_empty(),
            "a whole word of prefix says it all"
        );
    }
}
