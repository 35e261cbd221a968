//! Hashes, in Redis 7.0's two encodings.
//!
//! * `listpack`: a [`Listpack`] of field, value, field, value ..., in
//!   insertion order, searched from the front, while there are at most
//!   `hash-max-listpack-entries` pairs and no field or value is longer than
//!   `hash-max-listpack-value` bytes. Replacing a value keeps its place, a
//!   new field goes to the end, as in Redis, so HGETALL's order matches.
//! * `hashtable`: a [`Dict`] from field to value once either limit is
//!   passed. A hash never goes back.
//!
//! As in Redis, the limits are those configured when a field is added:
//! [`Hash::convert_for`] is `hashTypeTryConversion` (any argument too long
//! converts before anything is added) and [`Hash::set`] is `hashTypeSet`.
//! Fields and values come out as listpack [`Entry`]s: a listpack stores
//! the canonical decimal text of an integer as the integer.
//!
//! The table sits behind an `Rc`, as in [`super::set`]: clones share it in
//! O(1) and the first change after a clone copies it whole, with its
//! layout.

use std::rc::Rc;

use super::listpack::{parse_canonical_i64, Entry, Listpack};
use super::{CommandBatch, Cursor};
use crate::config::Encodings;
use crate::db::Dict;

/// A map from field to value, both byte strings.
#[derive(Debug, Clone)]
pub struct Hash {
    repr: Repr,
}

#[derive(Debug, Clone)]
enum Repr {
    Listpack(Listpack),
    Table(Rc<Dict<Box<[u8]>>>),
}

impl PartialEq for Hash {
    /// Same fields with the same values, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().all(|(field, value)| {
                let field = field.to_vec();
                other.get(&field).map(|v| v.to_vec()) == Some(value.to_vec())
            })
    }
}

/// Whether a listpack entry is the client's `text` (an integer entry
/// equals its canonical decimal text only); `integer` is `text` parsed
/// once for many comparisons.
fn entry_is(entry: Entry<'_>, text: &[u8], integer: Option<i64>) -> bool {
    match entry {
        Entry::Int(value) => integer == Some(value),
        Entry::Bytes(bytes) => bytes == text,
    }
}

/// A listpack's elements taken two at a time: (field, value).
fn pairs(listpack: &Listpack) -> impl Iterator<Item = (Entry<'_>, Entry<'_>)> {
    let mut elements = listpack.iter();
    std::iter::from_fn(move || Some((elements.next()?, elements.next()?)))
}

impl Hash {
    /// An empty hash, in the listpack encoding.
    pub fn new(_limits: &Encodings) -> Self {
        Hash {
            repr: Repr::Listpack(Listpack::new()),
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(listpack) => listpack.len() / 2,
            Repr::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        if self.is_listpack() {
            "listpack"
        } else {
            "hashtable"
        }
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<Entry<'_>> {
        match &self.repr {
            Repr::Listpack(listpack) => {
                let integer = parse_canonical_i64(field);
                pairs(listpack)
                    .find(|&(f, _)| entry_is(f, field, integer))
                    .map(|(_, value)| value)
            }
            Repr::Table(table) => table.get(field).map(|value| Entry::Bytes(value)),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis's `hashTypeTryConversion`: moves a listpack hash to a table if
    /// any of `arguments` (the fields and values a command is about to
    /// set) is longer than `hash-max-listpack-value`, or all of them would
    /// take the listpack past its 1 GiB limit.
    pub fn convert_for<'a>(
        &mut self,
        arguments: impl Iterator<Item = &'a [u8]>,
        limits: &Encodings,
    ) {
        let Repr::Listpack(listpack) = &self.repr else {
            return;
        };
        let mut total_bytes = 0usize;
        for argument in arguments {
            if argument.len() as u64 > limits.hash_max_listpack_value {
                self.convert_to_table(limits);
                return;
            }
            total_bytes = total_bytes.saturating_add(argument.len());
        }
        if !listpack.safe_to_add(total_bytes) {
            self.convert_to_table(limits);
        }
    }

    /// Sets `field` to `value`; true if the field is new. A listpack hash
    /// moves to a table first if either is too long, and after adding if it
    /// holds more than `hash-max-listpack-entries` fields.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &Encodings) -> bool {
        self.convert_for([field, value].into_iter(), limits);
        match &mut self.repr {
            Repr::Listpack(listpack) => {
                if let Some(index) = listpack.position_stride(field, 2) {
                    listpack.replace(index + 1, value);
                    return false;
                }
                listpack.push_back(field);
                listpack.push_back(value);
                if (listpack.len() / 2) as u64 > limits.hash_max_listpack_entries {
                    self.convert_to_table(limits);
                }
                true
            }
            Repr::Table(table) => Rc::make_mut(table)
                .insert(field.to_vec(), value.into())
                .is_none(),
        }
    }

    /// Removes `field`; false if it was not there. A table that became
    /// sparse starts shrinking, as Redis's `htNeedsResize` check does.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(listpack) => match listpack.position_stride(field, 2) {
                Some(index) => listpack.remove_range(index, 2) == 2,
                None => false,
            },
            Repr::Table(table) => {
                if !table.contains_key(field) {
                    return false;
                }
                let table = Rc::make_mut(table);
                table.remove(field);
                table.shrink_if_needed();
                true
            }
        }
    }

    /// The fields and values: a listpack's in insertion order, a table's in
    /// table order.
    pub fn iter(&self) -> impl Iterator<Item = (Entry<'_>, Entry<'_>)> + '_ {
        let (listpack, table) = match &self.repr {
            Repr::Listpack(listpack) => (Some(pairs(listpack)), None),
            Repr::Table(table) => {
                let entries = table
                    .iter()
                    .map(|(field, value)| (Entry::Bytes(field), Entry::Bytes(value)));
                (None, Some(entries))
            }
        };
        listpack
            .into_iter()
            .flatten()
            .chain(table.into_iter().flatten())
    }

    /// A field and its value picked at random (the hash must not be
    /// empty): uniformly from a listpack, as Redis's `dictGetRandomKey`
    /// does from a table.
    pub fn random_pair(&self, random: &mut dyn FnMut() -> u64) -> (Entry<'_>, Entry<'_>) {
        assert!(!self.is_empty(), "random field of an empty hash");
        match &self.repr {
            Repr::Listpack(listpack) => {
                let index = (random() % (listpack.len() / 2) as u64) as usize;
                pairs(listpack).nth(index).expect("index below the length")
            }
            Repr::Table(table) => {
                let (field, value) = table.fair_random_entry(random).expect("not empty");
                (Entry::Bytes(field), Entry::Bytes(value))
            }
        }
    }

    /// Hands `count` pairs picked at random (repeats allowed) to `visit`,
    /// until it returns false. A listpack's pairs are listed once, as
    /// Redis's `lpRandomPairs` does, not walked again for every pick.
    pub fn random_pairs(
        &self,
        count: u64,
        random: &mut dyn FnMut() -> u64,
        mut visit: impl FnMut(Entry<'_>, Entry<'_>) -> bool,
    ) {
        let listed: Vec<(Entry<'_>, Entry<'_>)> = match &self.repr {
            Repr::Listpack(listpack) => pairs(listpack).collect(),
            Repr::Table(_) => Vec::new(),
        };
        for _ in 0..count {
            let (field, value) = if listed.is_empty() {
                self.random_pair(random)
            } else {
                listed[(random() % listed.len() as u64) as usize]
            };
            if !visit(field, value) {
                return;
            }
        }
    }

    /// Whether the hash is still in its listpack encoding.
    /// The listpack of a compact hash (what an RDB `HASH_LISTPACK` holds).
    pub fn as_listpack(&self) -> Option<&Listpack> {
        match &self.repr {
            Repr::Listpack(listpack) => Some(listpack),
            Repr::Table(_) => None,
        }
    }

    pub fn is_listpack(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    /// One step of HSCAN from `cursor`: a listpack hands every pair over
    /// at once and ends the scan (cursor 0), as Redis does; a table visits
    /// one bucket (see [`Dict::scan`]). Returns the next cursor.
    pub fn scan_step(&self, cursor: u64, mut visit: impl FnMut(Entry<'_>, Entry<'_>)) -> u64 {
        match &self.repr {
            Repr::Listpack(listpack) => {
                pairs(listpack).for_each(|(field, value)| visit(field, value));
                0
            }
            Repr::Table(table) => table.scan(cursor, |field, value| {
                visit(Entry::Bytes(field), Entry::Bytes(value))
            }),
        }
    }

    /// Hands `visit` the pairs from `cursor` on, in [`Hash::iter`]'s
    /// order, at most `pairs_max` of them (a listpack's all at once: its
    /// thresholds keep it small), and moves the cursor past them. A table
    /// resumes at the place of its next entry, so each part costs its own
    /// size, not the pairs before it.
    pub fn pairs_from(
        &self,
        cursor: &mut Cursor,
        pairs_max: usize,
        mut visit: impl FnMut(Entry<'_>, Entry<'_>),
    ) {
        match &self.repr {
            Repr::Listpack(listpack) => {
                if cursor.elements == 0 {
                    pairs(listpack).for_each(|(field, value)| visit(field, value));
                }
                cursor.elements = self.len();
            }
            Repr::Table(table) => {
                for (place, field, value) in table.iter_from(cursor.place).take(pairs_max) {
                    visit(Entry::Bytes(field), Entry::Bytes(value));
                    cursor.place = place.after();
                    cursor.elements += 1;
                }
            }
        }
    }

    /// `HMSET key field value ...` commands that recreate the hash, at most
    /// [`super::REWRITE_ITEMS_PER_COMMAND`] pairs each, as Redis's rewrite writes
    /// them: those of `pairs_max` pairs from `cursor` on (see
    /// [`super::Value::rewrite_commands_from`]).
    pub fn rewrite_commands_from(
        &self,
        key: &[u8],
        cursor: &mut Cursor,
        pairs_max: usize,
        emit: &mut dyn FnMut(&[&[u8]]),
    ) {
        let mut batch = CommandBatch::new(b"HMSET", key, emit);
        self.pairs_from(cursor, pairs_max, |field, value| {
            batch.push(&[&field.to_vec(), &value.to_vec()]);
        });
        batch.finish();
    }

    /// Moves the pairs into a table sized for them, in listpack order.
    fn convert_to_table(&mut self, limits: &Encodings) {
        let Repr::Listpack(listpack) = &self.repr else {
            return;
        };
        let mut table = Dict::new(limits.table_seed);
        table.reserve(listpack.len() / 2);
        for (field, value) in pairs(listpack) {
            table.insert(field.to_vec(), value.to_vec().into_boxed_slice());
        }
        self.repr = Repr::Table(Rc::new(table));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entries: u64, value_bytes: u64) -> Encodings {
        Encodings {
            hash_max_listpack_entries: entries,
            hash_max_listpack_value: value_bytes,
            ..Encodings::default()
        }
    }

    fn pairs(hash: &Hash) -> Vec<(String, String)> {
        hash.iter()
            .map(|(f, v)| {
                let text = |e: Entry<'_>| String::from_utf8_lossy(&e.to_vec()).into_owned();
                (text(f), text(v))
            })
            .collect()
    }

    fn value(hash: &Hash, field: &[u8]) -> Option<Vec<u8>> {
        hash.get(field).map(|v| v.to_vec())
    }

    // A listpack keeps insertion order, replaces in place, and moves to a
    // table past either limit.
    #[test]
    fn listpack_order_and_conversions() {
        let limits = limits(3, 5);
        let mut hash = Hash::new(&limits);
        assert!(hash.set(b"b", b"1", &limits));
        assert!(hash.set(b"a", b"2", &limits));
        assert!(!hash.set(b"b", b"3", &limits));
        assert_eq!(
            pairs(&hash),
            [("b".into(), "3".into()), ("a".into(), "2".into())]
        );
        assert!(hash.set(b"c", b"4", &limits));
        assert_eq!(hash.encoding(), "listpack");
        assert!(hash.set(b"d", b"5", &limits));
        assert_eq!(hash.encoding(), "hashtable");
        assert!(hash.remove(b"d") && hash.remove(b"c") && !hash.remove(b"c"));
        assert_eq!(hash.encoding(), "hashtable");
        assert_eq!(value(&hash, b"b"), Some(b"3".to_vec()));

        let mut hash = Hash::new(&limits);
        hash.set(b"f", b"123456", &limits);
        assert_eq!(hash.encoding(), "hashtable");
        let mut hash = Hash::new(&limits);
        hash.convert_for([&b"f"[..], b"12345"].into_iter(), &limits);
        assert_eq!(hash.encoding(), "listpack");
        hash.convert_for([&b"123456"[..]].into_iter(), &limits);
        assert_eq!(hash.encoding(), "hashtable");
    }

    // Equality ignores encoding and order; clones are independent.
    #[test]
    fn equality_and_clones() {
        let small = limits(128, 64);
        let tiny = limits(1, 64);
        let (mut a, mut b) = (Hash::new(&small), Hash::new(&tiny));
        for (field, value) in [("x", "1"), ("y", "2")] {
            a.set(field.as_bytes(), value.as_bytes(), &small);
        }
        for (field, value) in [("y", "2"), ("x", "1")] {
            b.set(field.as_bytes(), value.as_bytes(), &tiny);
        }
        assert_eq!((a.encoding(), b.encoding()), ("listpack", "hashtable"));
        assert_eq!(a, b);
        let copy = b.clone();
        b.set(b"x", b"9", &tiny);
        assert_ne!(copy, b);
        assert_eq!(value(&copy, b"x"), Some(b"1".to_vec()));
    }
}
