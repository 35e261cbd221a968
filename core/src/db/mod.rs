//! The keyspace: numbered databases of keys to values, with expiry times.
//!
//! Expiry is lazy (a key past its time is removed when a command touches it)
//! and active (`Keyspace::active_expire_cycle`, run from `on_tick`). Time is
//! the wall-clock milliseconds the caller passes in; this module reads no
//! clock. Every change to a key is seen by `WATCH`: mutations go through
//! methods that mark the clients watching the key, so no command can forget.

pub mod access;
pub mod dict;
pub mod digest;
mod snapshot;
pub mod value;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

pub use access::AccessClock;
pub use dict::Dict;
pub use snapshot::{DbSnapshot, SnapshotEntry, SnapshotSlice};
pub use value::Value;

use crate::env::ConnId;

/// A key's value, with its access field (see [`access`]) and the bytes
/// the dataset estimate charged for it ([`Db::dataset_bytes`]). The two
/// fields fill what would otherwise be padding after the value: a key
/// costs 8 bytes more than its value and hash-table entry alone.
#[derive(Debug, Clone)]
pub struct Slot {
    pub value: Value,
    /// Redis's 24-bit `lru`: the last access, or an LFU counter.
    pub access: u32,
    charged: u32,
}

/// Bytes the dataset estimate charges a key beyond its own bytes and its
/// value's: the hash-table entry and the slot (`MEMORY USAGE` counts the
/// same).
pub const KEY_OVERHEAD_BYTES: usize = 56;

/// The bytes the dataset estimate charges for `key` holding `value`:
/// deterministic, and computed in constant time (see
/// `Value::estimated_bytes`).
fn charge(key: &[u8], value: &Value) -> u32 {
    let bytes = KEY_OVERHEAD_BYTES + key.len() + value.estimated_bytes();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// One numbered database.
pub struct Db {
    entries: Dict<Slot>,
    expires: Dict<i64>,
    /// Keys some client WATCHes, with the watchers in WATCH order and
    /// whether the key was already expired when each watched it.
    watched: BTreeMap<Vec<u8>, Vec<(ConnId, bool)>>,
    /// Clients whose watched key changed since the node last drained them.
    pub touched_watchers: Vec<ConnId>,
    /// Keys some client is blocked on (BLPOP and the like).
    waited: BTreeSet<Vec<u8>>,
    /// Waited-on keys that changed since the node last drained them: the
    /// blocked clients may now be served.
    pub ready_keys: Vec<Vec<u8>>,
    /// Keys removed by expiry since the node last drained them.
    pub expired_keys: Vec<Vec<u8>>,
    /// Keys added and keys expired, in order, while their keyspace
    /// notification class is on, for `crate::notify` to publish.
    pub notices: Vec<(KeyNotice, Vec<u8>)>,
    /// Shared by every database of a keyspace: the enabled
    /// `notify-keyspace-events` classes (see `crate::notify::class`).
    notify_classes: Rc<Cell<u32>>,
    /// This database's part of a snapshot in progress.
    snapshot: Option<DbSnapshot>,
    /// What a key past its time is (see [`Expiry`]).
    expiry: Expiry,
    /// Shared by every database of a keyspace: set when any of them records
    /// a WATCH invalidation or an expired key, so the node looks at all of
    /// them only when there is something to drain.
    events_pending: Rc<Cell<bool>>,
    /// Shared by every database of a keyspace: the clock and policy that
    /// accesses record (see [`access`]).
    clock: Rc<Cell<AccessClock>>,
    /// Shared by every database of a keyspace: bytes left under
    /// `maxmemory` (`u64::MAX` without a limit), which the hash tables
    /// consult before they grow (see `Dict::set_growth_room`).
    memory_room: Rc<Cell<u64>>,
    /// The sum of what each key is charged (see [`charge`]).
    dataset_bytes: u64,
    /// Keys handed out to be changed in place since their charge was last
    /// measured, back to back; `resized_ends` marks where each ends.
    resized: Vec<u8>,
    resized_ends: Vec<usize>,
}

/// A change the keyspace makes that no command handler sees, queued for
/// keyspace notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNotice {
    /// A key was added (Redis's `dbAdd`): the `new` event.
    New,
    /// A key was removed because its time passed: the `expired` event.
    Expired,
}

/// What a key past its time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Gone: removed when touched or sampled, and the removal propagated
    /// (a master).
    Delete,
    /// Gone for readers, but kept until the master's DEL arrives (a
    /// replica, for its clients: Redis's replicas answer so since 3.2).
    Hide,
    /// Still there: while loading (the log replays as it was written), and
    /// for a replica's master client (its stream decides).
    Off,
}

/// Most keys sampled per database per active expiry cycle (Redis's
/// ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP is 20 a loop; we bound the loops too).
pub const ACTIVE_EXPIRE_KEYS_PER_LOOP: usize = 20;
pub const ACTIVE_EXPIRE_LOOPS_MAX: usize = 16;

impl Db {
    fn new(
        seed: (u64, u64),
        events_pending: Rc<Cell<bool>>,
        clock: Rc<Cell<AccessClock>>,
        memory_room: Rc<Cell<u64>>,
        notify_classes: Rc<Cell<u32>>,
    ) -> Self {
        Db {
            entries: Dict::new(seed),
            expires: Dict::new((seed.1, seed.0)),
            watched: BTreeMap::new(),
            waited: BTreeSet::new(),
            ready_keys: Vec::new(),
            touched_watchers: Vec::new(),
            expired_keys: Vec::new(),
            notices: Vec::new(),
            notify_classes,
            snapshot: None,
            expiry: Expiry::Delete,
            events_pending,
            clock,
            memory_room,
            dataset_bytes: 0,
            resized: Vec::new(),
            resized_ends: Vec::new(),
        }
    }

    /// A new slot for `value`, charged and stamped as created now.
    fn new_slot(&mut self, key: &[u8], value: Value) -> Slot {
        let charged = charge(key, &value);
        self.dataset_bytes += u64::from(charged);
        Slot {
            value,
            access: self.clock.get().new_field(),
            charged,
        }
    }

    /// Takes a removed slot's charge off the estimate.
    fn discharge(&mut self, slot: &Slot) {
        self.dataset_bytes -= u64::from(slot.charged);
    }

    /// Notes that `key`'s value may change size before it is measured
    /// again (see [`Db::settle_sizes`]).
    fn mark_resized(&mut self, key: &[u8]) {
        self.resized.extend_from_slice(key);
        self.resized_ends.push(self.resized.len());
        self.events_pending.set(true);
    }

    /// Measures again the keys changed in place since the last call, so
    /// that [`Db::dataset_bytes`] is exact for the estimate.
    pub fn settle_sizes(&mut self) {
        let mut start = 0;
        for at in 0..self.resized_ends.len() {
            let end = self.resized_ends[at];
            let key = &self.resized[start..end];
            if let Some(slot) = self.entries.get_mut(key) {
                let charged = charge(key, &slot.value);
                self.dataset_bytes =
                    self.dataset_bytes - u64::from(slot.charged) + u64::from(charged);
                slot.charged = charged;
            }
            start = end;
        }
        self.resized.clear();
        self.resized_ends.clear();
    }

    /// A deterministic estimate of this database's size in bytes: each
    /// key, its value (see `Value::estimated_bytes`) and their overhead.
    /// The simulator reports it as `used_memory`; the server measures its
    /// allocator instead. Exact for the estimate once
    /// [`Db::settle_sizes`] ran (after every command).
    pub fn dataset_bytes(&self) -> u64 {
        self.dataset_bytes
    }

    /// The clock and policy accesses record now.
    pub fn access_clock(&self) -> AccessClock {
        self.clock.get()
    }

    /// The slot of `key`, its access recorded (Redis's `lookupKey`
    /// without LOOKUP_NOTOUCH): every lookup through [`Db::get`] (TOUCH's
    /// too) and [`Db::get_mut`]. Expiry is the caller's business.
    fn accessed_slot(&mut self, key: &[u8]) -> Option<&mut Slot> {
        let mut clock = self.clock.get();
        let slot = self.entries.get_mut(key)?;
        slot.access = clock.touched(slot.access);
        if clock.lfu {
            // The LFU coin moved on.
            self.clock.set(clock);
        }
        Some(slot)
    }

    /// Sets the access field of a stored key (RESTORE IDLETIME or FREQ).
    pub fn set_access(&mut self, key: &[u8], field: u32) {
        if let Some(slot) = self.entries.get_mut(key) {
            slot.access = field;
        }
    }

    /// The access field of a live key, without touching it (OBJECT
    /// IDLETIME and FREQ).
    pub fn access_of(&mut self, key: &[u8], now_ms: i64) -> Option<u32> {
        if self.hidden(key, now_ms) {
            return None;
        }
        self.entries.get(key).map(|slot| slot.access)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }
    fn is_expired(&self, key: &[u8], now_ms: i64) -> bool {
        self.expiry != Expiry::Off && self.expires.get(key).is_some_and(|&at| at <= now_ms)
    }

    /// Whether `key` is past its time and, on a replica, only hidden: the
    /// accessors below then answer as if it were gone, and leave it.
    fn hidden(&mut self, key: &[u8], now_ms: i64) -> bool {
        self.expire_if_needed(key, now_ms) && self.expiry == Expiry::Hide
    }

    /// Removes `key` if its time has passed (on a replica, only says so:
    /// see [`Expiry::Hide`]); true if it is gone for the caller.
    pub fn expire_if_needed(&mut self, key: &[u8], now_ms: i64) -> bool {
        if !self.is_expired(key, now_ms) {
            return false;
        }
        if self.expiry == Expiry::Hide {
            return true;
        }
        self.preserve_for_snapshot(key);
        if let Some((_, slot)) = self.entries.remove(key) {
            self.discharge(&slot);
        }
        self.expires.remove(key);
        self.expired_keys.push(key.to_vec());
        self.events_pending.set(true);
        self.queue_notice(crate::notify::class::EXPIRED, KeyNotice::Expired, key);
        // A key that had already expired when watched did not change for
        // that watcher when expiry removes it.
        if let Some(watchers) = self.watched.get(key) {
            let changed = watchers
                .iter()
                .filter(|(_, expired)| !expired)
                .map(|(c, _)| *c);
            self.touched_watchers.extend(changed);
            self.events_pending.set(true);
        }
        true
    }

    /// The live value under `key`; records the access (Redis's
    /// `lookupKey`).
    pub fn get(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
        if self.hidden(key, now_ms) {
            return None;
        }
        self.accessed_slot(key).map(|slot| &slot.value)
    }

    /// The live value under `key`, without recording an access (Redis's
    /// LOOKUP_NOTOUCH: TYPE, EXISTS, TTL, OBJECT, and a command's second
    /// look at a key it already looked up).
    pub fn peek(&mut self, key: &[u8], now_ms: i64) -> Option<&Value> {
        if self.hidden(key, now_ms) {
            return None;
        }
        self.entries.get(key).map(|slot| &slot.value)
    }

    /// The live value under `key`, to be changed in place. Counts as a
    /// change for WATCH, and as an access.
    pub fn get_mut(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        if self.hidden(key, now_ms) {
            return None;
        }
        if !self.entries.contains_key(key) {
            return None;
        }
        self.touch(key);
        self.mark_resized(key);
        self.accessed_slot(key).map(|slot| &mut slot.value)
    }

    /// The live value under `key`, for a change no client can see but in
    /// its encoding (SORT moving a sorted set to its large encoding, as
    /// Redis does without signalling the key): neither WATCH nor blocked
    /// clients hear of it; a snapshot in progress keeps the old version.
    pub fn get_mut_unseen(&mut self, key: &[u8], now_ms: i64) -> Option<&mut Value> {
        if self.hidden(key, now_ms) {
            return None;
        }
        if !self.entries.contains_key(key) {
            return None;
        }
        self.preserve_for_snapshot(key);
        self.mark_resized(key);
        self.entries.get_mut(key).map(|slot| &mut slot.value)
    }

    /// Whether `key` holds a live value, without touching it.
    pub fn exists(&mut self, key: &[u8], now_ms: i64) -> bool {
        !self.hidden(key, now_ms) && self.entries.contains_key(key)
    }

    /// Sets `key` and clears its time to live (SET without KEEPTTL).
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.touch(key);
        self.expires.remove(key);
        self.set_keep_ttl(key, value);
    }

    /// Sets `key`, keeping the time to live of a live previous value. A
    /// replaced value's access field is kept under LFU (Redis's
    /// `dbSetValue`) and stamped now otherwise.
    pub fn set_keep_ttl(&mut self, key: &[u8], value: Value) {
        self.touch(key);
        let clock = self.clock.get();
        let charged = charge(key, &value);
        match self.entries.get_mut(key) {
            Some(slot) => {
                self.dataset_bytes =
                    self.dataset_bytes - u64::from(slot.charged) + u64::from(charged);
                slot.value = value;
                slot.charged = charged;
                if !clock.lfu {
                    slot.access = clock.new_field();
                }
            }
            None => {
                let slot = self.new_slot(key, value);
                self.entries.set_growth_room(self.memory_room.get());
                self.entries.insert(key.to_vec(), slot);
                self.queue_notice(crate::notify::class::NEW, KeyNotice::New, key);
            }
        }
    }

    /// Queues `notice` for `key` if keyspace notifications of `class` are
    /// on; otherwise costs one test.
    fn queue_notice(&mut self, class: u32, notice: KeyNotice, key: &[u8]) {
        if self.notify_classes.get() & class != 0 {
            self.notices.push((notice, key.to_vec()));
            self.events_pending.set(true);
        }
    }

    /// Removes `key` whether or not it expired; returns its value.
    pub fn remove(&mut self, key: &[u8], now_ms: i64) -> Option<Value> {
        if self.hidden(key, now_ms) {
            return None;
        }
        self.delete(key)
    }

    fn delete(&mut self, key: &[u8]) -> Option<Value> {
        if !self.entries.contains_key(key) {
            return None;
        }
        self.touch(key);
        let (_, slot) = self.entries.remove(key)?;
        self.discharge(&slot);
        self.expires.remove(key);
        Some(slot.value)
    }

    /// Removes `key` with its expiry and returns both, for RENAME and MOVE.
    pub fn take(&mut self, key: &[u8], now_ms: i64) -> Option<(Value, Option<i64>)> {
        let expire = self.expire_at(key, now_ms);
        self.remove(key, now_ms).map(|value| (value, expire))
    }

    /// Stores a value with an optional absolute expiry, replacing any.
    pub fn put(&mut self, key: &[u8], value: Value, expire_at_ms: Option<i64>) {
        self.set(key, value);
        // `set` touched the key, so a snapshot has its old version.
        if let Some(at) = expire_at_ms {
            self.expires.set_growth_room(self.memory_room.get());
            self.expires.insert(key.to_vec(), at);
        }
    }

    /// Sizes an empty database for what a dump announces (RESIZEDB).
    pub fn reserve(&mut self, keys: usize, expires: usize) {
        self.entries.reserve(keys);
        self.expires.reserve(expires);
    }

    /// Adds a key read from a dump: one hash-table insert, no WATCH or
    /// snapshot bookkeeping (nothing runs while loading). A key already
    /// there is handed back, nothing changed.
    pub fn insert_loaded(
        &mut self,
        key: Vec<u8>,
        value: Value,
        expire_at_ms: Option<i64>,
    ) -> Result<(), Vec<u8>> {
        debug_assert!(self.snapshot.is_none());
        let slot = Slot {
            charged: charge(&key, &value),
            access: self.clock.get().new_field(),
            value,
        };
        let charged = u64::from(slot.charged);
        let key = match expire_at_ms {
            Some(at) => {
                let copy = key.clone();
                self.entries.try_insert(key, slot).map_err(|(key, _)| key)?;
                self.expires.insert(copy, at);
                self.dataset_bytes += charged;
                return Ok(());
            }
            None => key,
        };
        self.entries.try_insert(key, slot).map_err(|(key, _)| key)?;
        self.dataset_bytes += charged;
        Ok(())
    }

    /// The absolute expiry of a live key, in wall-clock milliseconds.
    pub fn expire_at(&mut self, key: &[u8], now_ms: i64) -> Option<i64> {
        if self.hidden(key, now_ms) {
            return None;
        }
        self.expires.get(key).copied()
    }

    /// Sets the absolute expiry of an existing key. The caller has checked
    /// that the key exists and that `at_ms` lies in the future.
    pub fn set_expire(&mut self, key: &[u8], at_ms: i64) {
        debug_assert!(self.entries.contains_key(key));
        self.touch(key);
        match self.expires.get_mut(key) {
            Some(slot) => *slot = at_ms,
            None => {
                self.expires.set_growth_room(self.memory_room.get());
                self.expires.insert(key.to_vec(), at_ms);
            }
        }
    }

    /// Removes a key's time to live; true if it had one.
    pub fn persist(&mut self, key: &[u8], now_ms: i64) -> bool {
        if self.hidden(key, now_ms) || !self.expires.contains_key(key) {
            return false;
        }
        self.touch(key);
        self.expires.remove(key);
        true
    }

    /// Empties the database; returns how many keys it held.
    pub fn clear(&mut self) -> usize {
        let removed = self.entries.len();
        self.touch_all_existing();
        if !self.detach_for_snapshot() {
            self.entries.clear();
            self.expires.clear();
        }
        self.dataset_bytes = 0;
        self.resized.clear();
        self.resized_ends.clear();
        removed
    }

    /// Every key with its value and absolute expiry, for snapshots and
    /// rewrites. Keys past their time are included; callers filter.
    pub fn entries_with_expiry(&self) -> impl Iterator<Item = (&[u8], &Value, Option<i64>)> {
        self.entries
            .iter()
            .map(|(key, slot)| (key, &slot.value, self.expires.get(key).copied()))
    }

    /// Visits every key; order is deterministic for a given hash seed.
    pub fn keys(&self) -> impl Iterator<Item = (&[u8], &Value)> {
        self.entries.iter().map(|(key, slot)| (key, &slot.value))
    }

    /// One SCAN step over the keys (dead keys included; callers filter).
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &Value)) -> u64 {
        self.entries
            .scan(cursor, |key, slot| visit(key, &slot.value))
    }

    /// Up to `count` keys for eviction to weigh, sampled as Redis's
    /// `dictGetSomeKeys` does from every key or, `volatile`, from those
    /// with a time to live: each with its access field and expiry.
    pub fn sample_for_eviction(
        &self,
        volatile: bool,
        count: usize,
        random: &mut dyn FnMut() -> u64,
    ) -> Vec<(Vec<u8>, u32, Option<i64>)> {
        if volatile {
            self.expires
                .some_entries(count, random)
                .into_iter()
                .filter_map(|(key, &at)| {
                    let slot = self.entries.get(key)?;
                    Some((key.to_vec(), slot.access, Some(at)))
                })
                .collect()
        } else {
            self.entries
                .some_entries(count, random)
                .into_iter()
                .map(|(key, slot)| (key.to_vec(), slot.access, self.expires.get(key).copied()))
                .collect()
        }
    }

    /// Whether `key` is stored, live or past its time.
    pub fn contains_raw(&self, key: &[u8]) -> bool {
        self.entries.contains_key(key)
    }

    /// The value stored under `key`, live or past its time, untouched
    /// (DEBUG OBJECT and DIGEST-VALUE look at the table as it is).
    pub fn value_raw(&self, key: &[u8]) -> Option<&Value> {
        self.entries.get(key).map(|slot| &slot.value)
    }

    /// The expiry stored for `key`, live or past.
    pub fn expire_at_raw(&self, key: &[u8]) -> Option<i64> {
        self.expires.get(key).copied()
    }

    /// Whether eviction has anything to take here.
    pub fn has_candidates(&self, volatile: bool) -> bool {
        if volatile {
            !self.expires.is_empty()
        } else {
            !self.entries.is_empty()
        }
    }

    /// Evicts `key` (whether or not its time has passed): WATCH and
    /// blocked clients see it go. True if it was there.
    pub fn evict(&mut self, key: &[u8]) -> bool {
        self.delete(key).is_some()
    }

    /// A random key, for the random policies (`volatile`: one with a time
    /// to live).
    pub fn random_for_eviction(
        &self,
        volatile: bool,
        random: &mut dyn FnMut() -> u64,
    ) -> Option<Vec<u8>> {
        if volatile {
            self.expires
                .random_entry(random)
                .map(|(key, _)| key.to_vec())
        } else {
            self.entries
                .random_entry(random)
                .map(|(key, _)| key.to_vec())
        }
    }

    /// A random live key, trying a bounded number of samples the way Redis's
    /// RANDOMKEY does when many keys are expired.
    pub fn random_key(&mut self, now_ms: i64, random: &mut dyn FnMut() -> u64) -> Option<Vec<u8>> {
        const TRIES_MAX: usize = 100;
        for _ in 0..TRIES_MAX {
            let key = self.entries.random_entry(random)?.0.to_vec();
            if !self.expire_if_needed(&key, now_ms) {
                return Some(key);
            }
        }
        None
    }

    /// Samples keys with a time to live and removes expired ones; repeats
    /// while more than a quarter of a sample had expired, within
    /// [`ACTIVE_EXPIRE_LOOPS_MAX`]. Returns (sampled, expired).
    pub fn active_expire_cycle(
        &mut self,
        now_ms: i64,
        random: &mut dyn FnMut() -> u64,
    ) -> (usize, usize) {
        let (mut sampled, mut expired) = (0, 0);
        if self.expiry != Expiry::Delete {
            return (sampled, expired);
        }
        for _ in 0..ACTIVE_EXPIRE_LOOPS_MAX {
            if self.expires.is_empty() {
                break;
            }
            let samples = ACTIVE_EXPIRE_KEYS_PER_LOOP.min(self.expires.len());
            let mut expired_now = 0;
            for _ in 0..samples {
                let Some((key, &at)) = self.expires.random_entry(random) else {
                    break;
                };
                if at <= now_ms {
                    let key = key.to_vec();
                    self.expire_if_needed(&key, now_ms);
                    expired_now += 1;
                }
            }
            sampled += samples;
            expired += expired_now;
            if expired_now * 4 <= samples {
                break;
            }
        }
        (sampled, expired)
    }

    /// Background upkeep from cron: incremental rehashing and shrinking.
    pub fn rehash_steps(&mut self, steps: usize) {
        self.entries.shrink_if_needed();
        self.expires.shrink_if_needed();
        self.entries.rehash_steps(steps);
        self.expires.rehash_steps(steps);
    }

    /// Registers `conn` as watching `key`; returns whether the key was
    /// already logically expired (see `WatchedKey::expired_at_watch`).
    pub fn watch(&mut self, key: &[u8], conn: ConnId, now_ms: i64) -> bool {
        let expired = self.is_expired(key, now_ms);
        let watchers = self.watched.entry(key.to_vec()).or_default();
        if !watchers.iter().any(|(c, _)| *c == conn) {
            watchers.push((conn, expired));
        }
        expired
    }

    /// Drops `conn` from the watchers of `key`.
    pub fn unwatch(&mut self, key: &[u8], conn: ConnId) {
        if let Some(watchers) = self.watched.get_mut(key) {
            watchers.retain(|(c, _)| *c != conn);
            if watchers.is_empty() {
                self.watched.remove(key);
            }
        }
    }

    /// Whether the key is logically expired at `now_ms` but still stored
    /// (EXEC aborts if a watched key expired after WATCH).
    pub fn is_stale(&self, key: &[u8], now_ms: i64) -> bool {
        self.is_expired(key, now_ms)
    }

    /// Marks the watchers of `key` as having seen it change.
    pub fn touch(&mut self, key: &[u8]) {
        self.preserve_for_snapshot(key);
        if !self.waited.is_empty() && self.waited.contains(key) {
            self.signal_ready(key);
        }
        if self.watched.is_empty() {
            return;
        }
        if let Some(watchers) = self.watched.get(key) {
            self.touched_watchers
                .extend(watchers.iter().map(|(c, _)| *c));
            self.events_pending.set(true);
        }
    }

    /// Records that a client blocks on `key`.
    pub fn wait_on(&mut self, key: &[u8]) {
        if !self.waited.contains(key) {
            self.waited.insert(key.to_vec());
        }
    }

    /// Records that no client blocks on `key` any more.
    pub fn stop_waiting(&mut self, key: &[u8]) {
        self.waited.remove(key);
    }

    fn signal_ready(&mut self, key: &[u8]) {
        if !self.ready_keys.iter().any(|ready| ready == key) {
            self.ready_keys.push(key.to_vec());
        }
    }

    /// Touches every watched key that holds a value (FLUSHDB, SWAPDB), and
    /// signals every waited-on key that does.
    fn touch_all_existing(&mut self) {
        let waited: Vec<Vec<u8>> = self
            .waited
            .iter()
            .filter(|key| self.entries.contains_key(key))
            .cloned()
            .collect();
        for key in waited {
            self.signal_ready(&key);
        }
        let existing: Vec<ConnId> = self
            .watched
            .iter()
            .filter(|(key, _)| self.entries.contains_key(key))
            .flat_map(|(_, watchers)| watchers.iter().map(|(c, _)| *c))
            .collect();
        self.touched_watchers.extend(existing);
        self.events_pending.set(true);
    }
}

/// All databases.
pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// The function libraries' code, by library name (FUNCTION LOAD):
    /// part of the dataset that snapshots write, though FLUSHALL leaves
    /// it (see `script::function`).
    pub functions: BTreeMap<String, Vec<u8>>,
    events_pending: Rc<Cell<bool>>,
    clock: Rc<Cell<AccessClock>>,
    memory_room: Rc<Cell<u64>>,
    notify_classes: Rc<Cell<u32>>,
}

impl Keyspace {
    /// `seed` keys the hash tables; the simulator derives it from the run's
    /// seed, the server draws it at start.
    pub fn new(databases: usize, seed: (u64, u64)) -> Self {
        let events_pending = Rc::new(Cell::new(false));
        let clock = Rc::new(Cell::new(AccessClock::default()));
        let memory_room = Rc::new(Cell::new(u64::MAX));
        let notify_classes = Rc::new(Cell::new(0));
        let dbs = (0..databases)
            .map(|i| {
                Db::new(
                    (seed.0 ^ i as u64, seed.1.wrapping_add(i as u64)),
                    events_pending.clone(),
                    clock.clone(),
                    memory_room.clone(),
                    notify_classes.clone(),
                )
            })
            .collect();
        Keyspace {
            dbs,
            functions: BTreeMap::new(),
            events_pending,
            clock,
            memory_room,
            notify_classes,
        }
    }

    /// Sets the `notify-keyspace-events` classes the databases queue
    /// notices for (see [`KeyNotice`]).
    pub fn set_notify_classes(&self, flags: u32) {
        self.notify_classes.set(flags);
    }

    /// Bytes left under `maxmemory` for the command about to run
    /// (`u64::MAX`: no limit); the hash tables wait to grow past it.
    pub fn set_memory_room(&self, bytes: u64) {
        self.memory_room.set(bytes);
    }

    /// Sets the clock and policy that accesses record from now on.
    pub fn set_access_clock(&self, clock: AccessClock) {
        self.clock.set(clock);
    }

    pub fn access_clock(&self) -> AccessClock {
        self.clock.get()
    }

    /// The dataset estimate of every database (see [`Db::dataset_bytes`]).
    pub fn dataset_bytes(&self) -> u64 {
        self.dbs.iter().map(Db::dataset_bytes).sum()
    }

    /// Whether any database recorded a WATCH invalidation or an expired key
    /// since the last call.
    pub fn take_events_pending(&self) -> bool {
        self.events_pending.replace(false)
    }

    /// Sets what keys past their time are, in every database.
    pub fn set_expiry(&mut self, expiry: Expiry) {
        for db in &mut self.dbs {
            db.expiry = expiry;
        }
    }

    /// SWAPDB: exchanges the contents of two databases; watchers stay with
    /// their database number and see every key that existed in either.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        self.dbs[a].touch_all_existing();
        self.dbs[b].touch_all_existing();
        self.dbs[a].settle_sizes();
        self.dbs[b].settle_sizes();
        let (low, high) = (a.min(b), a.max(b));
        let (left, right) = self.dbs.split_at_mut(high);
        let (first, second) = (&mut left[low], &mut right[0]);
        std::mem::swap(&mut first.entries, &mut second.entries);
        std::mem::swap(&mut first.expires, &mut second.expires);
        std::mem::swap(&mut first.snapshot, &mut second.snapshot);
        std::mem::swap(&mut first.dataset_bytes, &mut second.dataset_bytes);
        first.touch_all_existing();
        second.touch_all_existing();
    }
}
