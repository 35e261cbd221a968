//! Point-in-time snapshots of the keyspace without fork: copy-on-write per
//! key.
//!
//! A snapshot walks each database's hash table bucket by bucket, in bounded
//! slices between event-loop iterations, while the server keeps serving.
//! Rehashing is paused meanwhile, so every entry keeps its (table, bucket)
//! position and "already written" is simply "position before the walk's".
//! Before any key changes, `Db::touch` calls [`Db::preserve_for_snapshot`]:
//! a key the walk has not reached yet is copied as it is now and marked
//! handled, so the walk skips it; a key born during the snapshot is marked
//! handled too. FLUSHDB detaches the whole table into the snapshot instead
//! of copying it, and SWAPDB moves each snapshot along with its table. The
//! extra memory is the copies and marks of keys written during the
//! snapshot, nothing more.

use super::{Db, Dict, Keyspace, Slot, Value};

/// One entry of a snapshot: key, value, absolute expiry.
pub type SnapshotEntry = (Vec<u8>, Value, Option<i64>);

/// A database's part of a snapshot in progress.
pub struct DbSnapshot {
    /// The database number the table had when the snapshot started.
    pub origin: usize,
    /// Keys and keys-with-expiry when the snapshot started (RESIZEDB hints).
    pub keys_at_start: usize,
    pub expires_at_start: usize,
    /// The next (table, bucket) the walk visits; (2, 0) once done.
    next: (usize, usize),
    /// Keys written out of order or born after the start: the walk skips
    /// them.
    handled: Dict<()>,
    /// Old versions copied before a change, waiting to be emitted.
    copied: Vec<SnapshotEntry>,
    /// The tables as FLUSHDB left them, when it emptied the database.
    detached: Option<(Dict<Slot>, Dict<i64>)>,
}

impl DbSnapshot {
    fn walk_done(&self) -> bool {
        self.next.0 >= 2
    }

    /// Whether everything of this database has been emitted.
    pub fn is_done(&self) -> bool {
        self.walk_done() && self.copied.is_empty()
    }
}

impl Db {
    /// Starts a snapshot of this database as it is now.
    fn start_snapshot(&mut self, origin: usize, seed: (u64, u64)) {
        debug_assert!(self.snapshot.is_none(), "one snapshot at a time");
        self.entries.pause_rehashing();
        self.snapshot = Some(DbSnapshot {
            origin,
            keys_at_start: self.entries.len(),
            expires_at_start: self.expires.len(),
            next: (0, 0),
            handled: Dict::new(seed),
            copied: Vec::new(),
            detached: None,
        });
    }

    /// Ends the snapshot (done or abandoned), releasing its memory.
    fn end_snapshot(&mut self) {
        if let Some(snapshot) = self.snapshot.take() {
            if snapshot.detached.is_none() {
                self.entries.resume_rehashing();
            }
        }
    }

    /// Called before `key` changes in any way: keeps the version the
    /// snapshot must see.
    pub(super) fn preserve_for_snapshot(&mut self, key: &[u8]) {
        let Some(snapshot) = self.snapshot.as_mut() else {
            return;
        };
        if snapshot.walk_done() || snapshot.detached.is_some() || snapshot.handled.contains_key(key)
        {
            return;
        }
        match self.entries.position(key) {
            Some(position) if position < snapshot.next => {}
            Some(_) => {
                let value = self
                    .entries
                    .get(key)
                    .map(|slot| slot.value.clone())
                    .expect("position found the key");
                let expire = self.expires.get(key).copied();
                snapshot.copied.push((key.to_vec(), value, expire));
                snapshot.handled.insert(key.to_vec(), ());
            }
            None => {
                snapshot.handled.insert(key.to_vec(), ());
            }
        }
    }

    /// FLUSHDB during a snapshot: the snapshot keeps the old tables and the
    /// database starts over with new ones. Returns whether it detached.
    pub(super) fn detach_for_snapshot(&mut self) -> bool {
        let Some(snapshot) = self.snapshot.as_mut() else {
            return false;
        };
        if snapshot.walk_done() || snapshot.detached.is_some() {
            return false;
        }
        let (entries_seed, expires_seed) = (self.entries.seed(), self.expires.seed());
        let entries = std::mem::replace(&mut self.entries, Dict::new(entries_seed));
        let expires = std::mem::replace(&mut self.expires, Dict::new(expires_seed));
        snapshot.detached = Some((entries, expires));
        true
    }

    /// Emits entries of the snapshot into `out` until their elements (see
    /// `Value::weight`: 1 for a string, the element count of a
    /// collection) reach `budget`: copied old versions first, then the
    /// walk. At least one entry goes out while any remain. Returns whether
    /// this database's part is complete.
    fn snapshot_slice(&mut self, budget: usize, out: &mut Vec<SnapshotEntry>) -> bool {
        let Some(snapshot) = self.snapshot.as_mut() else {
            return true;
        };
        let mut weight = 0;
        while weight < budget {
            let Some(entry) = snapshot.copied.pop() else {
                break;
            };
            weight += entry.1.weight();
            out.push(entry);
        }
        let (entries, expires) = match &snapshot.detached {
            Some((entries, expires)) => (entries, expires),
            None => (&self.entries, &self.expires),
        };
        let sizes = entries.table_sizes();
        while weight < budget && !snapshot.walk_done() {
            let (table, bucket) = snapshot.next;
            let size = if table == 0 { sizes.0 } else { sizes.1 };
            if bucket >= size {
                snapshot.next = (table + 1, 0);
                continue;
            }
            for (key, slot) in entries.bucket(table, bucket) {
                if !snapshot.handled.contains_key(key) {
                    weight += slot.value.weight();
                    out.push((key.to_vec(), slot.value.clone(), expires.get(key).copied()));
                }
            }
            snapshot.next = (table, bucket + 1);
        }
        snapshot.is_done()
    }
}

impl Keyspace {
    /// Starts a point-in-time snapshot of every database.
    pub fn start_snapshot(&mut self) {
        for (index, db) in self.dbs.iter_mut().enumerate() {
            let seed = db.entries.seed();
            db.start_snapshot(index, (seed.1 ^ 0x5a5a, seed.0));
        }
    }

    pub fn snapshot_in_progress(&self) -> bool {
        self.dbs.iter().any(|db| db.snapshot.is_some())
    }

    /// Abandons or finishes the snapshot.
    pub fn end_snapshot(&mut self) {
        for db in &mut self.dbs {
            db.end_snapshot();
        }
    }

    /// The next slice of the snapshot, in database order: (origin database,
    /// RESIZEDB hints, entries). `None` once every database is complete.
    /// A database's slices all come before the next database's.
    pub fn snapshot_next(&mut self, budget: usize) -> Option<SnapshotSlice> {
        let mut origins: Vec<(usize, usize)> = self
            .dbs
            .iter()
            .enumerate()
            .filter_map(|(at, db)| {
                db.snapshot
                    .as_ref()
                    .filter(|s| !s.is_done())
                    .map(|s| (s.origin, at))
            })
            .collect();
        origins.sort();
        let &(origin, at) = origins.first()?;
        let db = &mut self.dbs[at];
        let hints = db
            .snapshot
            .as_ref()
            .map_or((0, 0), |s| (s.keys_at_start, s.expires_at_start));
        let mut entries = Vec::new();
        let done = db.snapshot_slice(budget, &mut entries);
        Some(SnapshotSlice {
            db: origin,
            hints,
            entries,
            db_done: done,
        })
    }
}

/// A slice of a snapshot from one database.
pub struct SnapshotSlice {
    pub db: usize,
    /// (keys, keys with expiry) when the snapshot started.
    pub hints: (usize, usize),
    pub entries: Vec<SnapshotEntry>,
    /// This was the database's last slice.
    pub db_done: bool,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    type Image = BTreeMap<(usize, Vec<u8>), (Value, Option<i64>)>;

    fn image(keyspace: &Keyspace) -> Image {
        let mut all = Image::new();
        for (index, db) in keyspace.dbs.iter().enumerate() {
            for (key, value, expire) in db.entries_with_expiry() {
                all.insert((index, key.to_vec()), (value.clone(), expire));
            }
        }
        all
    }

    #[derive(Debug, Clone)]
    enum Op {
        Set(usize, u16, u8),
        Delete(usize, u16),
        Expire(usize, u16, i64),
        Persist(usize, u16),
        Append(usize, u16),
        Flush(usize),
        Swap(usize, usize),
        Slice(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        let db = 0..3usize;
        let key = 0..400u16;
        prop_oneof![
            6 => (db.clone(), key.clone(), any::<u8>()).prop_map(|(d, k, v)| Op::Set(d, k, v)),
            3 => (db.clone(), key.clone()).prop_map(|(d, k)| Op::Delete(d, k)),
            2 => (db.clone(), key.clone(), 1..1000i64).prop_map(|(d, k, t)| Op::Expire(d, k, t)),
            1 => (db.clone(), key.clone()).prop_map(|(d, k)| Op::Persist(d, k)),
            2 => (db.clone(), key).prop_map(|(d, k)| Op::Append(d, k)),
            1 => db.clone().prop_map(Op::Flush),
            1 => (db.clone(), db).prop_map(|(a, b)| Op::Swap(a, b)),
            6 => (1..50usize).prop_map(Op::Slice),
        ]
    }

    fn apply(keyspace: &mut Keyspace, op: &Op) {
        let key = |k: &u16| format!("key:{k}").into_bytes();
        match op {
            Op::Set(d, k, v) => keyspace.dbs[*d].set(&key(k), Value::String(vec![*v])),
            Op::Delete(d, k) => {
                keyspace.dbs[*d].remove(&key(k), 0);
            }
            Op::Expire(d, k, t) => {
                if keyspace.dbs[*d].exists(&key(k), 0) {
                    keyspace.dbs[*d].set_expire(&key(k), 1_000_000 + t);
                }
            }
            Op::Persist(d, k) => {
                keyspace.dbs[*d].persist(&key(k), 0);
            }
            Op::Append(d, k) => {
                if let Some(Value::String(bytes)) = keyspace.dbs[*d].get_mut(&key(k), 0) {
                    bytes.push(b'+');
                }
            }
            Op::Flush(d) => {
                keyspace.dbs[*d].clear();
            }
            Op::Swap(a, b) => keyspace.swap(*a, *b),
            Op::Slice(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        // Whatever happens while a snapshot runs, it emits exactly the
        // dataset as it was at its start: every key once, with its value
        // and expiry then, grouped by database in order.
        #[test]
        fn snapshot_is_point_in_time(setup in prop::collection::vec(op(), 0..600), during in prop::collection::vec(op(), 0..600)) {
            let mut keyspace = Keyspace::new(3, (7, 9));
            for op in &setup {
                apply(&mut keyspace, op);
            }
            let expected = image(&keyspace);
            keyspace.start_snapshot();
            let mut emitted = Image::new();
            let mut last_db = 0;
            let mut ops = during.iter();
            loop {
                let budget = match ops.next() {
                    Some(Op::Slice(budget)) => *budget,
                    Some(other) => {
                        apply(&mut keyspace, other);
                        continue;
                    }
                    None => 64,
                };
                let Some(slice) = keyspace.snapshot_next(budget) else { break };
                prop_assert!(slice.db >= last_db, "databases out of order");
                last_db = slice.db;
                for (key, value, expire) in slice.entries {
                    let previous = emitted.insert((slice.db, key.clone()), (value, expire));
                    prop_assert!(previous.is_none(), "key emitted twice: {:?}", key);
                }
            }
            keyspace.end_snapshot();
            prop_assert_eq!(emitted, expected);
        }
    }
}
