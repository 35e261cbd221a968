//! Sets, in Redis 7.0's two encodings.
//!
//! * `intset` ([`Intset`], Redis's bytes): while every member is an integer
//!   in canonical form (what Redis's `string2ll` accepts: no sign but `-`,
//!   no leading zero, within 64 bits) and there are at most
//!   `set-max-intset-entries` of them. Members come out in ascending order.
//! * `hashtable`: a [`Dict`] keyed by the member, once a member is not such
//!   an integer or the set outgrows the threshold. A set never goes back.
//!
//! Redis 7.0 has no listpack sets (7.2 added them). The encoding is decided
//! on each addition from the configuration of the moment, as Redis does.
//!
//! The table sits behind an `Rc`: cloning a set (a snapshot keeping the
//! version it must write, COPY) shares it in O(1), and the first change
//! after that copies the whole table ([`Rc::make_mut`], O(n) in that one
//! command) with its layout, so SCAN cursors and iteration order carry
//! over. A copy bounded to part of the table would need a chunked or
//! persistent table; this is the simple first step.

use std::borrow::Cow;
use std::rc::Rc;

use super::intset::Intset;
use super::{CommandBatch, Cursor};
use crate::config::Encodings;
use crate::db::Dict;
use crate::resp::parse_i64;

/// Most integers an intset holds whatever the configuration says (Redis
/// caps `set-max-intset-entries` at 2^30 because of intset internals).
const INTSET_ENTRIES_MAX: u64 = 1 << 30;

/// A set of byte strings.
#[derive(Debug, Clone)]
pub struct Set {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    IntSet(Intset),
    Table(Rc<Dict<()>>),
}

impl PartialEq for Set {
    /// Same members, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|member| other.contains(&member))
    }
}

/// A member as a set hands it out: borrowed from a table, or the text of
/// an intset's integer.
pub type Member<'a> = Cow<'a, [u8]>;

fn integer_text<'a>(value: i64) -> Member<'a> {
    Cow::Owned(value.to_string().into_bytes())
}

impl Set {
    /// An empty set. It starts as an intset; the first member that is not
    /// an integer turns it into a table, which is what Redis's
    /// `setTypeCreate` decides from that member.
    pub fn new(_limits: &Encodings) -> Self {
        Set {
            repr: Repr::IntSet(Intset::new()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::IntSet(intset) => intset.len(),
            Repr::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::IntSet(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// The intset, while the set is one (an RDB writes its bytes).
    pub fn as_intset(&self) -> Option<&Intset> {
        match &self.repr {
            Repr::IntSet(intset) => Some(intset),
            Repr::Table(_) => None,
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match &self.repr {
            Repr::IntSet(intset) => parse_i64(member).is_some_and(|n| intset.contains(n)),
            Repr::Table(table) => table.contains_key(member),
        }
    }

    /// Adds `member`; false if it was there already. Converts to a table
    /// first for a member that is not an integer, or after adding when the
    /// intset holds more than `set-max-intset-entries`.
    pub fn add(&mut self, member: &[u8], limits: &Encodings) -> bool {
        if let Repr::IntSet(intset) = &mut self.repr {
            match parse_i64(member) {
                Some(value) => {
                    if !intset.insert(value) {
                        return false;
                    }
                    let entries_max = limits.set_max_intset_entries.min(INTSET_ENTRIES_MAX);
                    if intset.len() as u64 > entries_max {
                        self.convert_to_table(limits);
                    }
                    return true;
                }
                None => self.convert_to_table(limits),
            }
        }
        let Repr::Table(table) = &mut self.repr else {
            unreachable!("converted above");
        };
        if table.contains_key(member) {
            return false;
        }
        Rc::make_mut(table).insert(member.to_vec(), ());
        true
    }

    /// Removes `member`; false if it was not there. A table that became
    /// sparse starts shrinking, as Redis's `htNeedsResize` check does.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match &mut self.repr {
            Repr::IntSet(intset) => parse_i64(member).is_some_and(|n| intset.remove(n)),
            Repr::Table(table) => {
                if !table.contains_key(member) {
                    return false;
                }
                let table = Rc::make_mut(table);
                table.remove(member);
                table.shrink_if_needed();
                true
            }
        }
    }

    /// The members: an intset's in ascending order, a table's in table
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = Member<'_>> + '_ {
        let (integers, members) = match &self.repr {
            Repr::IntSet(intset) => (Some(intset.iter().map(integer_text)), None),
            Repr::Table(table) => (None, Some(table.iter().map(|(m, _)| Cow::Borrowed(m)))),
        };
        integers
            .into_iter()
            .flatten()
            .chain(members.into_iter().flatten())
    }

    /// A member picked at random (the set must not be empty): uniformly
    /// from an intset, as Redis's `dictGetRandomKey` does from a table.
    pub fn random_member(&self, random: &mut dyn FnMut() -> u64) -> Member<'_> {
        assert!(!self.is_empty(), "random member of an empty set");
        match &self.repr {
            Repr::IntSet(intset) => {
                let index = (random() % intset.len() as u64) as usize;
                integer_text(intset.get(index).expect("index below the length"))
            }
            Repr::Table(table) => {
                let (member, _) = table.fair_random_entry(random).expect("not empty");
                Cow::Borrowed(member)
            }
        }
    }

    /// One step of SSCAN from `cursor`: an intset hands every member over
    /// at once and ends the scan (cursor 0), as Redis does for compact
    /// encodings; a table visits one bucket (see [`Dict::scan`]). Returns
    /// the next cursor.
    pub fn scan_step(&self, cursor: u64, mut visit: impl FnMut(Member<'_>)) -> u64 {
        match &self.repr {
            Repr::IntSet(intset) => {
                intset.iter().map(integer_text).for_each(visit);
                0
            }
            Repr::Table(table) => table.scan(cursor, |member, _| visit(Cow::Borrowed(member))),
        }
    }

    /// Hands `visit` the members from `cursor` on, in [`Set::iter`]'s
    /// order, at most `members_max` of them (an intset's all at once: its
    /// threshold keeps it small), and moves the cursor past them. A table
    /// resumes at the place of its next entry.
    pub fn members_from(
        &self,
        cursor: &mut Cursor,
        members_max: usize,
        mut visit: impl FnMut(Member<'_>),
    ) {
        match &self.repr {
            Repr::IntSet(intset) => {
                if cursor.elements == 0 {
                    intset.iter().map(integer_text).for_each(visit);
                }
                cursor.elements = intset.len();
            }
            Repr::Table(table) => {
                for (place, member, _) in table.iter_from(cursor.place).take(members_max) {
                    visit(Cow::Borrowed(member));
                    cursor.place = place.after();
                    cursor.elements += 1;
                }
            }
        }
    }

    /// `SADD key member ...` commands that recreate the set, at most
    /// [`super::REWRITE_ITEMS_PER_COMMAND`] members each: those of
    /// `members_max` members from `cursor` on (see
    /// [`super::Value::rewrite_commands_from`]).
    pub fn rewrite_commands_from(
        &self,
        key: &[u8],
        cursor: &mut Cursor,
        members_max: usize,
        emit: &mut dyn FnMut(&[&[u8]]),
    ) {
        let mut batch = CommandBatch::new(b"SADD", key, emit);
        self.members_from(cursor, members_max, |member| batch.push(&[&member]));
        batch.finish();
    }

    /// Moves the members into a table sized for them.
    fn convert_to_table(&mut self, limits: &Encodings) {
        let Repr::IntSet(intset) = &self.repr else {
            return;
        };
        let mut table = Dict::new(limits.table_seed);
        table.reserve(intset.len());
        for value in intset.iter() {
            table.insert(value.to_string().into_bytes(), ());
        }
        self.repr = Repr::Table(Rc::new(table));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(intset_entries: u64) -> Encodings {
        Encodings {
            set_max_intset_entries: intset_entries,
            ..Encodings::default()
        }
    }

    fn members(set: &Set) -> Vec<String> {
        set.iter()
            .map(|m| String::from_utf8_lossy(&m).into_owned())
            .collect()
    }

    // Integers in canonical form keep an intset, sorted; anything else, or
    // one integer too many, moves the set to a table for good.
    #[test]
    fn encodings_follow_redis() {
        let limits = limits(3);
        let mut set = Set::new(&limits);
        for member in ["3", "-1", "2", "3"] {
            set.add(member.as_bytes(), &limits);
        }
        assert_eq!(set.encoding(), "intset");
        assert_eq!(members(&set), ["-1", "2", "3"]);
        assert!(set.add(b"4", &limits));
        assert_eq!(set.encoding(), "hashtable");
        assert!(set.remove(b"4") && set.remove(b"3"));
        assert_eq!(set.encoding(), "hashtable");

        let mut set = Set::new(&limits);
        assert!(set.add(b"01", &limits));
        assert_eq!(set.encoding(), "hashtable");
        assert!(set.contains(b"01") && !set.contains(b"1"));

        let mut set = Set::new(&limits);
        set.add(b"1", &limits);
        assert!(!set.contains(b"01") && !set.contains(b"+1") && set.contains(b"1"));
        assert!(!set.remove(b"01"));
    }

    // A clone shares the table until one side changes; the other keeps
    // what it had.
    #[test]
    fn clones_are_independent() {
        let limits = limits(512);
        let mut set = Set::new(&limits);
        for number in 0..100 {
            set.add(format!("m{number}").as_bytes(), &limits);
        }
        let copy = set.clone();
        assert!(set.remove(b"m1"));
        assert!(copy.contains(b"m1") && !set.contains(b"m1"));
        assert_eq!(copy.len(), 100);
        assert_ne!(copy, set);
        set.add(b"m1", &limits);
        assert_eq!(copy, set);
    }

    // AOF rewrite emits batches of 64 members.
    #[test]
    fn rewrite_batches() {
        let limits = limits(512);
        let mut set = Set::new(&limits);
        for number in 0..130 {
            set.add(number.to_string().as_bytes(), &limits);
        }
        let mut sizes = Vec::new();
        let mut cursor = Cursor::default();
        set.rewrite_commands_from(b"k", &mut cursor, usize::MAX, &mut |words| {
            sizes.push(words.len() - 2)
        });
        assert_eq!(sizes, [64, 64, 2]);
    }
}
