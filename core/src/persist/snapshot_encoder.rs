//! The bytes of a snapshot, a step at a time: the slices `db::snapshot`
//! hands out, encoded as an RDB dump or as a checked RESP BASE. It owns no
//! file; `persist::job` writes each step's bytes to the temp file.
//!
//! A step encodes about [`SLICE_ELEMENTS`] elements, so that no iteration
//! of the event loop stalls on a large dataset or on one large value. A
//! value with more elements than that (a hash, set, sorted set or list in
//! its large encoding) is written over several steps: the encoder keeps the
//! snapshot's copy of the value, which no command changes (a write to the
//! live key copies it first), and a [`Cursor`] into it, and the next step
//! resumes there. The bytes are those of writing the value in one go; only
//! a RESP BASE's batch trailers, one per step, fall in more places.

use std::collections::{BTreeMap, VecDeque};

use super::aof_format::{batch_trailer, encode_command, marker};
use super::rdb::RdbWriter;
use crate::db::value::Cursor;
use crate::db::{Keyspace, SnapshotEntry, Value};

/// Elements per step of a background job: keys for strings, elements for
/// collections. A collection up to this size is written whole, in the step
/// that reaches it; a larger one goes this many elements a step.
pub const SLICE_ELEMENTS: usize = 1000;

/// What a snapshot is written as.
#[derive(Debug, Clone)]
pub enum Encoding {
    /// An RDB dump (BGSAVE, or an AOF BASE with the RDB preamble).
    Rdb {
        compress: bool,
        checksum: bool,
        aux: Vec<(String, Vec<u8>)>,
    },
    /// A RESP BASE in checked batches, one per step, after a marker;
    /// `timestamp_s` (`aof-timestamp-enabled`) puts Redis's
    /// `#TS:<unix seconds>` line before it, at the top of the file, as
    /// Redis's rewrite does.
    Resp { timestamp_s: Option<i64> },
}

enum Format {
    /// The writer, until the end of the dump is written.
    Rdb(Option<RdbWriter>),
    Resp {
        batch_seq: u64,
    },
}

/// A key being written: the snapshot's copy of its value, and how far the
/// encoder got.
struct InProgress {
    key: Vec<u8>,
    value: Value,
    expire: Option<i64>,
    cursor: Cursor,
}

impl InProgress {
    fn is_complete(&self) -> bool {
        self.cursor.is_complete(&self.value)
    }
}

/// The part of the snapshot's current slice not written yet.
#[derive(Default)]
struct SliceLeft {
    /// The database the slice is from, and its RESIZEDB hints.
    db: usize,
    hints: (usize, usize),
    /// A large value that the last step left part-written.
    unfinished: Option<InProgress>,
    /// The slice's entries after it.
    entries: VecDeque<SnapshotEntry>,
}

impl SliceLeft {
    fn is_empty(&self) -> bool {
        self.unfinished.is_none() && self.entries.is_empty()
    }
}

/// Encodes one snapshot; see the module documentation.
pub struct SnapshotEncoder {
    format: Format,
    /// Elements a step encodes: [`SLICE_ELEMENTS`], but tests choose.
    slice_elements: usize,
    current_db: Option<usize>,
    left: SliceLeft,
    /// Keys written whole so far.
    pub keys: u64,
    /// Values too large for one step, so written over several.
    pub values_split: u64,
    /// The planted bug `resumed-value-skips-element` (never set
    /// otherwise).
    pub skip_on_resume: bool,
    /// The planted bug `rewrite-scores-rounded` (never set otherwise).
    pub round_scores: bool,
}

impl SnapshotEncoder {
    /// Sets how many elements the next steps take (at least one).
    pub(crate) fn set_slice_elements(&mut self, elements: usize) {
        self.slice_elements = elements.max(1);
    }

    /// An encoder whose steps take about `slice_elements` elements each,
    /// and the header of its file (RDB's magic and AUX fields, or a RESP
    /// BASE's opening trailer).
    /// `functions` are the function libraries' code, written first (as
    /// FUNCTION2 records, or FUNCTION LOAD commands in a RESP BASE).
    pub fn new(
        encoding: Encoding,
        slice_elements: usize,
        functions: &BTreeMap<String, Vec<u8>>,
    ) -> (SnapshotEncoder, Vec<u8>) {
        let mut header = Vec::new();
        let format = match encoding {
            Encoding::Rdb {
                compress,
                checksum,
                aux,
            } => {
                let mut writer = RdbWriter::new(compress, checksum);
                let aux: Vec<(&str, &[u8])> = aux
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_slice()))
                    .collect();
                writer.header(&mut header, &aux);
                for code in functions.values() {
                    writer.function(&mut header, code);
                }
                Format::Rdb(Some(writer))
            }
            Encoding::Resp { timestamp_s } => {
                if let Some(timestamp_s) = timestamp_s {
                    header.extend_from_slice(format!("#TS:{timestamp_s}\r\n").as_bytes());
                }
                // The marker first, so that the file is checked from its
                // first command on (a first line that is a command would
                // make it a Redis file, read unchecked).
                header.extend_from_slice(&marker());
                let start = header.len();
                for code in functions.values() {
                    encode_command(&mut header, &[&b"FUNCTION"[..], b"LOAD", code]);
                }
                if header.len() > start {
                    let trailer = batch_trailer(0, &header[start..], None);
                    header.extend_from_slice(&trailer);
                }
                Format::Resp { batch_seq: 0 }
            }
        };
        let encoder = SnapshotEncoder {
            format,
            slice_elements: slice_elements.max(1),
            current_db: None,
            left: SliceLeft::default(),
            keys: 0,
            values_split: 0,
            skip_on_resume: false,
            round_scores: false,
        };
        (encoder, header)
    }

    /// Appends the next step's bytes to `out`: what is left of the current
    /// slice, or else the next slice of `keyspace`'s snapshot. Returns
    /// true once the snapshot is over and `out` holds the file's end (an
    /// RDB's EOF and checksum).
    pub fn step(&mut self, keyspace: &mut Keyspace, out: &mut Vec<u8>) -> bool {
        if self.left.is_empty() {
            let Some(slice) = keyspace.snapshot_next(self.slice_elements) else {
                if let Format::Rdb(writer) = &mut self.format {
                    if let Some(writer) = writer.take() {
                        writer.finish(out);
                    }
                }
                return true;
            };
            self.left = SliceLeft {
                db: slice.db,
                hints: slice.hints,
                unfinished: None,
                entries: slice.entries.into(),
            };
        }
        let start = out.len();
        self.encode_step(out);
        if let Format::Resp { batch_seq } = &mut self.format {
            if out.len() > start {
                *batch_seq += 1;
                let trailer = batch_trailer(*batch_seq, &out[start..], None);
                out.extend_from_slice(&trailer);
            }
        }
        false
    }

    /// Encodes what is left of the current slice, as far as one step goes:
    /// first the value the last step left unfinished, then the entries
    /// after it. A value of at most `slice_elements` elements is written
    /// whole (so a slice of small values is one step, as a slice always
    /// was); a larger one gets what is left of this step's elements,
    /// starts only if some are, and the next steps go on with it.
    fn encode_step(&mut self, out: &mut Vec<u8>) {
        let budget = self.slice_elements;
        let mut spent = 0;
        loop {
            let mut current = match self.left.unfinished.take() {
                Some(current) => current,
                None => {
                    let Some((_, value, _)) = self.left.entries.front() else {
                        return;
                    };
                    if value.weight() > budget && spent >= budget {
                        return;
                    }
                    let entry = self.left.entries.pop_front().expect("front seen above");
                    self.begin(out, entry)
                }
            };
            let allowed = if current.value.weight() > budget {
                budget - spent
            } else {
                usize::MAX
            };
            let before = current.cursor.elements;
            self.continue_value(out, &mut current, allowed);
            spent += current.cursor.elements - before;
            if !current.is_complete() {
                self.values_split += u64::from(before == 0);
                self.left.unfinished = Some(current);
                return;
            }
            self.end(out, &current);
        }
    }

    /// Starts writing a key of the current slice: the database switch if
    /// it is the first of its database, then what comes before the
    /// elements (for an RDB, the whole of a string or compact value).
    fn begin(&mut self, out: &mut Vec<u8>, (key, value, expire): SnapshotEntry) -> InProgress {
        let db = self.left.db;
        let new_db = self.current_db != Some(db);
        self.current_db = Some(db);
        let cursor = match &mut self.format {
            Format::Rdb(Some(writer)) => {
                if new_db {
                    let (keys, expires) = self.left.hints;
                    writer.select_db(out, db as u64, keys as u64, expires as u64);
                }
                writer.entry_start(out, &key, &value, expire)
            }
            Format::Rdb(None) => Cursor::complete(&value),
            Format::Resp { .. } => {
                if new_db {
                    encode_command(out, &[b"SELECT".to_vec(), db.to_string().into_bytes()]);
                }
                Cursor::default()
            }
        };
        InProgress {
            key,
            value,
            expire,
            cursor,
        }
    }

    /// Encodes about `elements_max` more elements of the key being written.
    fn continue_value(&mut self, out: &mut Vec<u8>, current: &mut InProgress, elements_max: usize) {
        let InProgress {
            key, value, cursor, ..
        } = current;
        if self.skip_on_resume && cursor.elements > 0 && matches!(value, Value::ZSet(_)) {
            cursor.elements += 1;
        }
        match &mut self.format {
            Format::Rdb(Some(writer)) => writer.entry_elements(out, value, cursor, elements_max),
            Format::Rdb(None) => {}
            Format::Resp { .. } if self.round_scores => {
                value.rewrite_commands_from(key, cursor, elements_max, &mut |words| {
                    encode_command(out, &rounded_scores(words))
                });
            }
            Format::Resp { .. } => {
                value.rewrite_commands_from(key, cursor, elements_max, &mut |words| {
                    encode_command(out, words)
                });
            }
        }
    }

    /// Finishes a key whose elements are all written. Keys already past
    /// their time are written too, as the RDB encoder does: the wall clock
    /// may go back, and the live dataset, which still holds them, then
    /// serves them again (an INCR in the INCR file would otherwise load on
    /// top of nothing). Loading keeps them; expiry takes them later.
    fn end(&mut self, out: &mut Vec<u8>, done: &InProgress) {
        if let (Format::Resp { .. }, Some(at)) = (&self.format, done.expire) {
            let at = at.to_string();
            encode_command(out, &[&b"PEXPIREAT"[..], &done.key, at.as_bytes()]);
        }
        self.keys += 1;
    }
}

/// The planted bug `rewrite-scores-rounded`: a ZADD's scores with six
/// decimals.
fn rounded_scores(words: &[&[u8]]) -> Vec<Vec<u8>> {
    let zadd = words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case(b"ZADD"));
    words
        .iter()
        .enumerate()
        .map(|(at, word)| {
            let score = std::str::from_utf8(word)
                .ok()
                .and_then(|t| t.parse::<f64>().ok());
            match score {
                Some(score) if zadd && at >= 2 && at % 2 == 0 && score.is_finite() => {
                    format!("{score:.6}").into_bytes()
                }
                _ => word.to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Encodings;
    use crate::db::value::list::End;
    use crate::db::value::zset::AddFlags;
    use crate::db::value::{Hash, List, Set, ZSet};
    use crate::persist::aof_format::{next_item, Item, Scanner};

    /// A budget no value reaches: every value goes whole, as before
    /// values were written in parts.
    const WHOLE: usize = 1 << 40;
    /// Budgets from one element a step up, around the batch size of a
    /// rewrite command and the production budget.
    const BUDGETS: [usize; 8] = [1, 2, 63, 64, 65, 100, 999, SLICE_ELEMENTS];

    fn rdb(compress: bool) -> Encoding {
        Encoding::Rdb {
            compress,
            checksum: true,
            aux: vec![("redis-ver".to_string(), b"7.0.15".to_vec())],
        }
    }

    /// Text of `bytes` bytes, varied enough to compress some and not all.
    fn text(number: usize, bytes: usize) -> Vec<u8> {
        let mut text = format!("{number}:").into_bytes();
        text.extend((0..bytes).map(|at| b'a' + ((number * 7 + at / 5) % 26) as u8));
        text
    }

    fn list(elements: usize, limits: &Encodings) -> Value {
        let mut list = List::new(limits);
        for number in 0..elements {
            match number % 3 {
                0 => list.push(End::Tail, number.to_string().as_bytes()),
                1 => list.push(End::Tail, &text(number, 30)),
                _ => list.push(End::Head, &text(number, 3)),
            }
        }
        Value::List(Box::new(list))
    }

    fn hash(pairs: usize, limits: &Encodings) -> Value {
        let mut hash = Hash::new(limits);
        for number in 0..pairs {
            hash.set(&text(number, 8), &text(number * 3, number % 40), limits);
        }
        Value::Hash(hash)
    }

    fn set(members: usize, integers: bool, limits: &Encodings) -> Value {
        let mut set = Set::new(limits);
        for number in 0..members {
            let member = if integers {
                (number as i64 * 7919 - 100_000).to_string().into_bytes()
            } else {
                text(number, 12)
            };
            set.add(&member, limits);
        }
        Value::Set(set)
    }

    /// Members with many equal scores, negative, fractional and infinite
    /// ones, so order falls back on the member bytes.
    fn zset(members: usize, limits: &Encodings) -> Value {
        let mut zset = ZSet::new(limits);
        for number in 0..members {
            let score = match number % 5 {
                0 => (number % 17) as f64,
                1 => -(number as f64) / 3.0,
                2 if number % 1000 == 2 => f64::INFINITY,
                3 if number % 1000 == 3 => f64::NEG_INFINITY,
                _ => number as f64 * 0.25,
            };
            zset.add(&text(number, 6), score, AddFlags::default(), limits)
                .expect("no NaN");
        }
        Value::ZSet(zset)
    }

    /// Every type in every encoding, small and larger than any budget
    /// above but the whole one, some with an expiry, in databases 0 and 2.
    fn keyspace() -> Keyspace {
        let limits = Encodings::default();
        let mut keyspace = Keyspace::new(3, (11, 13));
        let values: [(usize, &str, Value, Option<i64>); 17] = [
            (0, "string:int", Value::String(b"12345".to_vec()), None),
            (
                0,
                "string:raw",
                Value::String(text(1, 80)),
                Some(1_900_000_000_000),
            ),
            (0, "list:small", list(5, &limits), None),
            (
                0,
                "list:large",
                list(5000, &limits),
                Some(1_900_000_000_001),
            ),
            (0, "hash:listpack", hash(10, &limits), None),
            (0, "hash:wide-listpack", hash(300, &limits), None),
            (
                0,
                "hash:table",
                hash(3000, &limits),
                Some(1_900_000_000_002),
            ),
            (0, "set:intset", set(10, true, &limits), None),
            (0, "set:wide-intset", set(500, true, &limits), None),
            (0, "set:integers-table", set(2000, true, &limits), None),
            (0, "set:table", set(3000, false, &limits), None),
            (0, "zset:listpack", zset(100, &limits), None),
            (
                0,
                "zset:skiplist",
                zset(5000, &limits),
                Some(1_900_000_000_003),
            ),
            (2, "string:db2", Value::String(b"x".to_vec()), None),
            (2, "zset:db2", zset(1500, &limits), None),
            (2, "hash:db2", hash(1200, &limits), None),
            (2, "list:db2", list(1, &limits), None),
        ];
        for (db, key, value, expire) in values {
            keyspace.dbs[db].set(key.as_bytes(), value);
            if let Some(at) = expire {
                keyspace.dbs[db].set_expire(key.as_bytes(), at);
            }
        }
        keyspace
    }

    /// The encodings the keyspace was built to hold.
    #[test]
    fn the_keyspace_holds_every_encoding() {
        let mut keyspace = keyspace();
        let mut encodings: Vec<&str> = keyspace.dbs[0]
            .keys()
            .map(|(_, value)| value.encoding())
            .collect();
        encodings.sort_unstable();
        encodings.dedup();
        let expected = [
            "hashtable",
            "int",
            "intset",
            "listpack",
            "quicklist",
            "raw",
            "skiplist",
        ];
        assert_eq!(encodings, expected);
        let wide = keyspace.dbs[0].get(b"set:wide-intset", 0).expect("there");
        assert!(wide.encoding() == "intset" && wide.weight() > 64);
        let wide = keyspace.dbs[0]
            .get(b"hash:wide-listpack", 0)
            .expect("there");
        assert!(wide.encoding() == "listpack" && wide.weight() > 64);
    }

    /// The file a snapshot of `keyspace` makes with `budget` elements a
    /// step, and the bytes of each step. After each step, `during` gets
    /// the keyspace and the key (database, key) the step left part-written.
    fn snapshot_with(
        keyspace: &mut Keyspace,
        encoding: Encoding,
        budget: usize,
        mut during: impl FnMut(&mut Keyspace, Option<(usize, &[u8])>),
    ) -> (Vec<u8>, Vec<usize>) {
        let (mut encoder, mut file) = SnapshotEncoder::new(encoding, budget, &BTreeMap::new());
        let mut steps = Vec::new();
        keyspace.start_snapshot();
        loop {
            let before = file.len();
            let over = encoder.step(keyspace, &mut file);
            steps.push(file.len() - before);
            if over {
                break;
            }
            let unfinished = encoder.left.unfinished.as_ref();
            during(keyspace, unfinished.map(|u| (encoder.left.db, &u.key[..])));
        }
        keyspace.end_snapshot();
        assert_eq!(encoder.keys, 17, "every key written whole once");
        (file, steps)
    }

    fn snapshot(keyspace: &mut Keyspace, encoding: Encoding, budget: usize) -> Vec<u8> {
        snapshot_with(keyspace, encoding, budget, |_, _| ()).0
    }

    /// The commands of a RESP BASE, without its batch trailers, after
    /// checking every batch as a load does; and the number of batches.
    fn resp_commands(file: &[u8]) -> (Vec<u8>, u64) {
        let (mut scanner, mut commands, mut at) = (Scanner::default(), Vec::new(), 0);
        while at < file.len() {
            let (item, used) = next_item(&file[at..], at as u64, u64::MAX).expect("whole items");
            let bytes = &file[at..at + used];
            if let Item::Command { .. } = item {
                commands.extend_from_slice(bytes);
            }
            scanner
                .accept(item, bytes, at as u64)
                .expect("every batch's trailer checks");
            at += used;
        }
        assert_eq!(
            scanner.finish(None, at as u64).0,
            None,
            "no command after the last trailer"
        );
        (commands, scanner.batches)
    }

    /// An RDB dump as it is, a RESP BASE's commands (see `resp_commands`).
    fn without_trailers(file: &[u8]) -> Vec<u8> {
        if file.starts_with(b"REDIS") {
            file.to_vec()
        } else {
            resp_commands(file).0
        }
    }

    // Writing large values in parts changes no byte of an RDB dump: any
    // budget, down to one element a step, gives the file that writing
    // each value whole gives, for every type and encoding, compressed or
    // not.
    #[test]
    fn rdb_bytes_do_not_depend_on_the_budget() {
        for compress in [false, true] {
            let mut keyspace = keyspace();
            let whole = snapshot(&mut keyspace, rdb(compress), WHOLE);
            for budget in BUDGETS {
                let parts = snapshot(&mut keyspace, rdb(compress), budget);
                assert!(parts == whole, "budget {budget}, compress {compress}");
            }
        }
    }

    // A RESP BASE written in parts holds the same commands, cut at the
    // same 64 items, byte for byte, and every batch still checks; only the
    // trailers, one per step, are more.
    #[test]
    fn resp_commands_do_not_depend_on_the_budget() {
        let mut keyspace = keyspace();
        let (whole, whole_batches) = resp_commands(&snapshot(
            &mut keyspace,
            Encoding::Resp { timestamp_s: None },
            WHOLE,
        ));
        for budget in BUDGETS {
            let (parts, batches) = resp_commands(&snapshot(
                &mut keyspace,
                Encoding::Resp { timestamp_s: None },
                budget,
            ));
            assert!(parts == whole, "budget {budget}");
            assert!(batches > whole_batches, "budget {budget} takes more steps");
        }
    }

    // The value a snapshot is in the middle of writing is its own copy:
    // changing or deleting the live key between its steps changes nothing
    // in the file.
    #[test]
    fn writes_to_a_value_being_written_do_not_reach_the_file() {
        let limits = Encodings::default();
        let mut changes = 0;
        let mut change = |keyspace: &mut Keyspace, unfinished: Option<(usize, &[u8])>| {
            let Some((db, key)) = unfinished else {
                return;
            };
            changes += 1;
            let db = &mut keyspace.dbs[db];
            if changes % 10 == 0 {
                db.remove(key, 0);
                return;
            }
            let Some(value) = db.get_mut(key, 0) else {
                return;
            };
            let member = text(changes, 6);
            match value {
                Value::ZSet(zset) => {
                    zset.add(&member, -1.0, AddFlags::default(), &limits)
                        .expect("no NaN");
                }
                Value::Hash(hash) => {
                    hash.set(&member, b"changed", &limits);
                }
                Value::Set(set) => {
                    set.add(&member, &limits);
                }
                Value::List(list) => {
                    list.set(changes, b"changed");
                    list.push(End::Head, &member);
                }
                Value::String(_) => unreachable!("a string is never part-written"),
            }
        };
        for encoding in [rdb(true), Encoding::Resp { timestamp_s: None }] {
            let whole = snapshot(&mut keyspace(), encoding.clone(), WHOLE);
            let (written, _) = snapshot_with(&mut keyspace(), encoding, 100, &mut change);
            assert!(
                without_trailers(&written) == without_trailers(&whole),
                "the snapshot is point-in-time"
            );
        }
        assert!(changes > 100, "{changes} changes made");
    }

    // One sorted set of 20 000 members takes 20 steps and more, none of
    // them with much more than a thousand members: no step encodes the
    // value whole.
    #[test]
    fn a_large_value_is_spread_over_steps() {
        let limits = Encodings::default();
        for encoding in [rdb(false), Encoding::Resp { timestamp_s: None }] {
            let mut keyspace = Keyspace::new(1, (3, 5));
            keyspace.dbs[0].set(b"z", zset(20_000, &limits));
            let (mut encoder, _) = SnapshotEncoder::new(encoding, SLICE_ELEMENTS, &BTreeMap::new());
            let (mut steps, mut largest, mut total) = (0, 0, 0);
            keyspace.start_snapshot();
            loop {
                let mut out = Vec::new();
                let over = encoder.step(&mut keyspace, &mut out);
                steps += 1;
                largest = largest.max(out.len());
                total += out.len();
                if over {
                    break;
                }
            }
            keyspace.end_snapshot();
            assert!(steps > 20, "{steps} steps");
            assert!(
                largest * 15 < total,
                "a step wrote {largest} of {total} bytes"
            );
        }
    }
}
