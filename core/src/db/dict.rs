//! The keyspace hash table: [`Dict`], a chained hash table keyed by byte
//! strings that grows and shrinks by incremental rehashing, like Redis's
//! `dict.c`.
//!
//! A dict owns two bucket tables. Normally only the first is in use. When it
//! fills up (or, from cron, when it becomes too sparse) a second table of the
//! new size is allocated and entries move across a few buckets at a time, one
//! step per mutating call plus whatever the cron asks for, so resizing a
//! table of millions of keys never stalls the event loop. Lookups search both
//! tables while a rehash is in progress; new entries go to the new table.
//!
//! Keys are hashed with SipHash-1-3 under a caller-supplied seed, so bucket
//! order, iteration order, SCAN cursors and random picks are all a pure
//! function of the seed and the history of operations.
//!
//! [`Dict::scan`] uses Redis's reverse-binary cursor: every key present for
//! the whole of a scan is returned at least once, even if the table grows or
//! shrinks between calls.

use std::fmt;
use std::hash::Hasher;
use std::iter;
use std::mem;
use std::sync::Arc;

use siphasher::sip::SipHasher13;

/// Number of buckets in a dict's first table, and the smallest size a table
/// shrinks to.
const INITIAL_SIZE: usize = 4;

/// A table filled below this percentage is shrunk by [`Dict::shrink_if_needed`].
const MIN_FILL_PERCENT: usize = 10;

/// How many empty buckets one rehash step may skip over, per bucket it was
/// asked to move, before giving up for this call.
const EMPTY_VISITS_PER_STEP: usize = 10;

/// How many random bucket draws [`Dict::random_entry`] makes before it falls
/// back to walking forward from the last draw to the next non-empty bucket.
const RANDOM_DRAW_LIMIT: usize = 100;
/// Entries a fair random pick samples before choosing one.
pub const FAIR_SAMPLE_ENTRIES: usize = 15;

/// One key-value pair, linked to the next entry in its bucket's chain.
struct Entry<V> {
    key: Box<[u8]>,
    value: V,
    next: Chain<V>,
}

/// A bucket: a singly linked chain of entries, newest first.
type Chain<V> = Option<Box<Entry<V>>>;

/// The entries of one chain, head to tail.
fn chain_entries<V>(chain: &Chain<V>) -> impl Iterator<Item = &Entry<V>> {
    iter::successors(chain.as_deref(), |entry| entry.next.as_deref())
}

/// Finds the entry for `key` in a chain.
fn find_in_chain<'a, V>(chain: &'a Chain<V>, key: &[u8]) -> Option<&'a Entry<V>> {
    chain_entries(chain).find(|entry| *entry.key == *key)
}

/// Finds the entry for `key` in a chain, mutably.
fn find_in_chain_mut<'a, V>(chain: &'a mut Chain<V>, key: &[u8]) -> Option<&'a mut Entry<V>> {
    let mut current = chain.as_deref_mut();
    while let Some(entry) = current {
        if *entry.key == *key {
            return Some(entry);
        }
        current = entry.next.as_deref_mut();
    }
    None
}

/// Detaches the entry for `key` from a chain, relinking its neighbours.
fn unlink_from_chain<V>(chain: &mut Chain<V>, key: &[u8]) -> Option<Box<Entry<V>>> {
    let mut link = chain;
    loop {
        let found = *link.as_deref()?.key == *key;
        if found {
            break;
        }
        link = &mut link.as_mut()?.next;
    }
    let mut removed = link.take()?;
    *link = removed.next.take();
    Some(removed)
}

/// Drops a chain one entry at a time, so a long chain cannot overflow the
/// stack through recursive `Box` drops.
fn drop_chain<V>(chain: &mut Chain<V>) {
    let mut next = chain.take();
    while let Some(mut entry) = next {
        next = entry.next.take();
    }
}

/// Buckets per shared chunk of a table: the most a write to a dict whose
/// copy a snapshot holds has to copy (a few dozen entries), against one
/// chunk header per this many buckets. A power of two.
const CHUNK_BUCKETS: usize = 64;

/// A run of consecutive buckets, shared between a dict and its copies
/// until one of them writes to it (copy-on-write, as fork shares pages).
/// Held inline, so a bucket is one pointer away from the chunk list; a
/// table smaller than a chunk leaves the rest unused.
struct Chunk<V>([Chain<V>; CHUNK_BUCKETS]);

impl<V> Drop for Chunk<V> {
    fn drop(&mut self) {
        for chain in self.0.iter_mut() {
            drop_chain(chain);
        }
    }
}

impl<V: Clone> Clone for Chunk<V> {
    fn clone(&self) -> Self {
        Chunk(std::array::from_fn(|at| clone_chain(&self.0[at])))
    }
}

/// A table's bucket array, in shared chunks: copying a dict copies one
/// pointer per chunk, and a write copies only the chunk it touches. The
/// count is atomic only so that a dict may sit in a `static` (the command
/// table); nothing shares one across threads.
struct Buckets<V> {
    chunks: Vec<Arc<Chunk<V>>>,
    len: usize,
}

impl<V> Buckets<V> {
    fn with_size(size: usize) -> Self {
        let chunks = (0..size.div_ceil(CHUNK_BUCKETS))
            .map(|_| Arc::new(Chunk(std::array::from_fn(|_| None))))
            .collect();
        Buckets { chunks, len: size }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn get(&self, index: usize) -> &Chain<V> {
        &self.chunks[index / CHUNK_BUCKETS].0[index % CHUNK_BUCKETS]
    }

    /// The bucket at `index`, for writing: its chunk is copied first if a
    /// copy of the dict shares it.
    fn get_mut(&mut self, index: usize) -> &mut Chain<V>
    where
        V: Clone,
    {
        &mut Arc::make_mut(&mut self.chunks[index / CHUNK_BUCKETS]).0[index % CHUNK_BUCKETS]
    }

    /// The buckets from `first` on, with their indices.
    fn iter_from(&self, first: usize) -> impl Iterator<Item = (usize, &Chain<V>)> {
        (first..self.len).map(|at| (at, self.get(at)))
    }

    fn iter(&self) -> impl Iterator<Item = &Chain<V>> {
        self.iter_from(0).map(|(_, chain)| chain)
    }

    /// Whether the chunk holding `index` is shared with a copy (tests).
    #[cfg(test)]
    fn shared(&self, index: usize) -> bool {
        Arc::strong_count(&self.chunks[index / CHUNK_BUCKETS]) > 1
    }
}

/// One bucket array and the number of entries it holds.
struct Table<V> {
    buckets: Buckets<V>,
    used: usize,
}

impl<V> Table<V> {
    /// A table with no buckets, as a dict has before its first insert.
    fn empty() -> Self {
        Table::with_size(0)
    }

    /// A table of `size` empty buckets; `size` is a power of two.
    fn with_size(size: usize) -> Self {
        Table {
            buckets: Buckets::with_size(size),
            used: 0,
        }
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    /// The bits of a hash (or cursor) that select a bucket. Only meaningful
    /// for a table with buckets.
    fn mask(&self) -> u64 {
        (self.size() as u64).wrapping_sub(1)
    }

    fn bucket_index(&self, hash: u64) -> usize {
        (hash & self.mask()) as usize
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<&Entry<V>> {
        if self.buckets.is_empty() {
            return None;
        }
        find_in_chain(self.buckets.get(self.bucket_index(hash)), key)
    }

    /// Calls `visit` for every entry in the bucket `cursor` selects.
    fn visit_bucket(&self, cursor: u64, visit: &mut impl FnMut(&[u8], &V)) {
        for entry in chain_entries(self.buckets.get((cursor & self.mask()) as usize)) {
            visit(&entry.key, &entry.value);
        }
    }
}

/// The writes, which copy a shared chunk first.
impl<V: Clone> Table<V> {
    fn find_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry<V>> {
        if self.buckets.is_empty() {
            return None;
        }
        // Looked up before writing, so a miss copies nothing.
        let index = self.bucket_index(hash);
        find_in_chain(self.buckets.get(index), key)?;
        find_in_chain_mut(self.buckets.get_mut(index), key)
    }

    /// Links `entry` at the head of its bucket's chain.
    fn push(&mut self, hash: u64, mut entry: Box<Entry<V>>) -> &mut Entry<V> {
        let index = self.bucket_index(hash);
        let bucket = self.buckets.get_mut(index);
        entry.next = bucket.take();
        self.used += 1;
        bucket.insert(entry)
    }

    fn unlink(&mut self, hash: u64, key: &[u8]) -> Option<Box<Entry<V>>> {
        if self.buckets.is_empty() {
            return None;
        }
        let index = self.bucket_index(hash);
        find_in_chain(self.buckets.get(index), key)?;
        let removed = unlink_from_chain(self.buckets.get_mut(index), key)?;
        self.used -= 1;
        Some(removed)
    }
}

/// Advances a reverse-binary SCAN cursor over a table with the given mask:
/// increments the cursor's masked bits starting from the most significant
/// one, so that buckets are visited in an order that stays valid when the
/// table doubles or halves between calls.
fn next_cursor(cursor: u64, mask: u64) -> u64 {
    // Setting the unmasked bits makes the carry of the reversed increment
    // run through them and leave only masked bits behind.
    (cursor | !mask)
        .reverse_bits()
        .wrapping_add(1)
        .reverse_bits()
}

/// Where an entry stands in table order ([`Dict::iter`]'s): its table, its
/// bucket, and its index in the bucket's chain. A place stays meaningful
/// while the dict does not change, so an iteration can stop after an entry
/// and resume at [`Place::after`] it later ([`Dict::iter_from`]): a
/// snapshot writes a large hash or set over several steps that way, from a
/// copy no command changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    table: usize,
    bucket: usize,
    index: usize,
}

impl Place {
    /// The first place of any dict.
    pub const START: Place = Place {
        table: 0,
        bucket: 0,
        index: 0,
    };

    /// The place of the entry that follows this one in table order (it
    /// may be past the end of its chain: iteration then goes on with the
    /// next bucket).
    pub fn after(self) -> Place {
        Place {
            index: self.index + 1,
            ..self
        }
    }
}

/// The keyspace hash table; see the module documentation.
pub struct Dict<V> {
    /// `tables[0]` is the live table; `tables[1]` has buckets only while a
    /// rehash moves entries from `tables[0]` into it.
    tables: [Table<V>; 2],
    /// While rehashing, the first bucket of `tables[0]` not yet moved.
    rehash_index: Option<usize>,
    /// The SipHash-1-3 keys.
    seed: (u64, u64),
    /// While positive, entries never move: no rehash step, no growth or
    /// shrink (a snapshot is walking the buckets in order).
    paused: u32,
    /// Bytes a growth may take before it would put the node over
    /// `maxmemory` (see [`Dict::set_growth_room`]).
    growth_room_bytes: u64,
}

impl<V: Clone> Dict<V> {
    /// An empty dict; no buckets are allocated until the first insert.
    /// `seed` keys the SipHash-1-3 hasher.
    pub fn new(seed: (u64, u64)) -> Self {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_index: None,
            seed,
            paused: 0,
            growth_room_bytes: u64::MAX,
        }
    }

    /// Tells the dict how many bytes a new bucket table may take before
    /// the node would be over `maxmemory`. A table no fuller than Redis's
    /// HASHTABLE_MAX_LOAD_FACTOR (1.618 entries a bucket) then waits to
    /// grow rather than force evictions (Redis's `dictExpandAllowed`).
    pub fn set_growth_room(&mut self, bytes: u64) {
        self.growth_room_bytes = bytes;
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    /// Whether the dict has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        self.find(key).map(|entry| &entry.value)
    }

    /// The value stored under `key`, mutably. Does not advance rehashing.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash(key);
        self.find_mut_hashed(hash, key)
            .map(|entry| &mut entry.value)
    }

    /// Whether an entry for `key` exists.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Inserts or replaces the value under `key`; returns the old value if
    /// the key existed. Performs one rehash step if a rehash is in progress.
    pub fn insert(&mut self, key: Vec<u8>, value: V) -> Option<V> {
        self.prepare_for_add();
        let hash = self.hash(&key);
        if let Some(entry) = self.find_mut_hashed(hash, &key) {
            return Some(mem::replace(&mut entry.value, value));
        }
        self.add_new(hash, key.into_boxed_slice(), value);
        None
    }

    /// Sizes an empty dict for `entries` at once (RDB's RESIZEDB hint), so
    /// loading does not grow it step by step. Does nothing to a dict that
    /// holds entries or while paused.
    pub fn reserve(&mut self, entries: usize) {
        if self.is_empty() && !self.is_rehashing() && self.paused == 0 {
            if let Some(size) = entries.max(INITIAL_SIZE).checked_next_power_of_two() {
                self.tables[0] = Table::with_size(size);
            }
        }
    }

    /// Inserts a key that must be new; if it is already there, nothing
    /// changes and the key and value are handed back.
    pub fn try_insert(&mut self, key: Vec<u8>, value: V) -> Result<(), (Vec<u8>, V)> {
        self.prepare_for_add();
        let hash = self.hash(&key);
        if self.find_hashed(hash, &key).is_some() {
            return Err((key, value));
        }
        self.add_new(hash, key.into_boxed_slice(), value);
        Ok(())
    }

    /// Removes the entry for `key` and returns its key and value. Performs
    /// one rehash step if a rehash is in progress.
    pub fn remove(&mut self, key: &[u8]) -> Option<(Box<[u8]>, V)> {
        if self.is_empty() {
            return None;
        }
        self.rehash_step_if_rehashing();
        let hash = self.hash(key);
        let live = self.live_table_count();
        let entry = self.tables[..live]
            .iter_mut()
            .find_map(|table| table.unlink(hash, key))?;
        let Entry { key, value, .. } = *entry;
        Some((key, value))
    }

    /// Removes every entry and frees both tables.
    pub fn clear(&mut self) {
        self.tables = [Table::empty(), Table::empty()];
        self.rehash_index = None;
    }

    /// The value under `key`, inserting `make()` first if the key is absent
    /// (like `entry(key).or_insert_with(make)`). Performs one rehash step if
    /// a rehash is in progress.
    pub fn get_or_insert_with(&mut self, key: &[u8], make: impl FnOnce() -> V) -> &mut V {
        self.prepare_for_add();
        let hash = self.hash(key);
        if self.find_hashed(hash, key).is_none() {
            return &mut self.add_new(hash, key.into(), make()).value;
        }
        let entry = self.find_mut_hashed(hash, key);
        &mut entry.expect("the key was found just above").value
    }

    /// Iterates over all entries in table order: the buckets of the first
    /// table, then of the second, each chain newest first. The order is a
    /// pure function of the seed and the history of operations.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.tables
            .iter()
            .flat_map(|table| table.buckets.iter())
            .flat_map(chain_entries)
            .map(|entry| (&*entry.key, &entry.value))
    }

    /// The entries from `from` on, in table order (as [`Dict::iter`]),
    /// each with its place. Finding `from` costs its index in its chain,
    /// not the entries before it.
    pub fn iter_from(&self, from: Place) -> impl Iterator<Item = (Place, &[u8], &V)> {
        let tables = &self.tables;
        (from.table..tables.len()).flat_map(move |table| {
            let first = if table == from.table { from.bucket } else { 0 };
            tables[table]
                .buckets
                .iter_from(first)
                .flat_map(move |(bucket, chain)| {
                    let skipped = if (table, bucket) == (from.table, from.bucket) {
                        from.index
                    } else {
                        0
                    };
                    chain_entries(chain)
                        .enumerate()
                        .skip(skipped)
                        .map(move |(index, entry)| {
                            let place = Place {
                                table,
                                bucket,
                                index,
                            };
                            (place, &*entry.key, &entry.value)
                        })
                })
        })
    }

    /// One SCAN step. Calls `visit` for every entry in the bucket `cursor`
    /// names; while rehashing, that is the smaller table's bucket and then
    /// every bucket of the larger table that expands from it. Returns the
    /// next cursor, 0 once the scan is complete.
    ///
    /// Every entry present from the call with cursor 0 until the call that
    /// returns 0 is visited at least once, however the table is resized in
    /// between; some may be visited more than once.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], &V)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        if !self.is_rehashing() {
            let table = &self.tables[0];
            table.visit_bucket(cursor, &mut visit);
            return next_cursor(cursor, table.mask());
        }
        let (small, large) = self.tables_by_size();
        small.visit_bucket(cursor, &mut visit);
        let mut cursor = cursor;
        let expansion_bits = small.mask() ^ large.mask();
        loop {
            large.visit_bucket(cursor, &mut visit);
            cursor = next_cursor(cursor, large.mask());
            if cursor & expansion_bits == 0 {
                return cursor;
            }
        }
    }

    /// A random entry, or `None` if the dict is empty, chosen like Redis's
    /// `dictGetRandomKey`: a random non-empty bucket, then a random entry in
    /// its chain. `random` is called as many times as needed. After
    /// `RANDOM_DRAW_LIMIT` draws that all hit empty buckets (a very sparse
    /// table or a poor random source) it takes the next non-empty bucket
    /// after the last draw instead, so the call always terminates.
    pub fn random_entry(&self, random: &mut dyn FnMut() -> u64) -> Option<(&[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        let chain = self.random_chain(random)?;
        let length = chain_entries(chain).count() as u64;
        let position = (random() % length) as usize;
        let entry = chain_entries(chain).nth(position)?;
        Some((&entry.key, &entry.value))
    }

    /// Up to `count` entries from consecutive buckets starting at a random
    /// one, as Redis's `dictGetSomeKeys` samples keys for eviction: cheap,
    /// not uniform, and possibly fewer than asked (it gives up after
    /// `count * 10` buckets). While rehashing, both tables are read at
    /// each index; buckets of the old table already moved are skipped.
    pub fn some_entries(&self, count: usize, random: &mut dyn FnMut() -> u64) -> Vec<(&[u8], &V)> {
        let count = count.min(self.len());
        let mut found = Vec::with_capacity(count);
        if count == 0 {
            return found;
        }
        let live = self.live_table_count();
        let mask = self.tables[..live]
            .iter()
            .map(Table::mask)
            .max()
            .unwrap_or(0);
        let mut index = random() & mask;
        let mut empty_run = 0;
        let mut steps_left = count * 10;
        while found.len() < count && steps_left > 0 {
            steps_left -= 1;
            for (at, table) in self.tables[..live].iter().enumerate() {
                let moved =
                    at == 0 && live == 2 && (index as usize) < self.rehash_index.unwrap_or(0);
                if moved || index as usize >= table.size() {
                    continue;
                }
                let chain = table.buckets.get(index as usize);
                if chain.is_none() {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        index = random() & mask;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                for entry in chain_entries(chain) {
                    found.push((&*entry.key, &entry.value));
                    if found.len() == count {
                        return found;
                    }
                }
            }
            index = (index + 1) & mask;
        }
        found
    }

    /// A random entry chosen close to uniformly, like Redis's
    /// `dictGetFairRandomKey` (SRANDMEMBER, SPOP, HRANDFIELD): the entries
    /// of consecutive buckets from a random one, up to
    /// [`FAIR_SAMPLE_ENTRIES`], then one of those at random. A plain
    /// [`Dict::random_entry`] favours entries alone in their bucket.
    pub fn fair_random_entry(&self, random: &mut dyn FnMut() -> u64) -> Option<(&[u8], &V)> {
        if self.is_empty() {
            return None;
        }
        let first_slot = self.rehash_index.unwrap_or(0);
        let span = self.bucket_count() - first_slot;
        let start = (random() % span as u64) as usize;
        let mut sample: Vec<&Entry<V>> = Vec::with_capacity(FAIR_SAMPLE_ENTRIES);
        for step in 0..span {
            if let Some(chain) = self.chain_at_slot(first_slot + (start + step) % span) {
                sample.extend(chain_entries(chain));
                if sample.len() >= FAIR_SAMPLE_ENTRIES {
                    break;
                }
            }
        }
        let entry = sample[(random() % sample.len() as u64) as usize];
        Some((&entry.key, &entry.value))
    }

    /// Moves up to `steps` buckets from the old table to the new one,
    /// skipping at most `steps * 10` empty buckets. Returns whether the
    /// rehash is still in progress afterwards (false if none was).
    pub fn rehash_steps(&mut self, steps: usize) -> bool {
        let Some(mut index) = self.rehash_index else {
            return false;
        };
        if self.paused > 0 {
            return true;
        }
        let mut empty_visits_left = steps.saturating_mul(EMPTY_VISITS_PER_STEP);
        for _ in 0..steps {
            if self.tables[0].used == 0 {
                break;
            }
            while self.tables[0].buckets.get(index).is_none() {
                index += 1;
                empty_visits_left -= 1;
                if empty_visits_left == 0 {
                    self.rehash_index = Some(index);
                    return true;
                }
            }
            self.move_bucket(index);
            index += 1;
        }
        self.rehash_index = Some(index);
        if self.tables[0].used == 0 {
            self.finish_rehash();
            return false;
        }
        true
    }

    /// Whether an incremental rehash is in progress.
    pub fn is_rehashing(&self) -> bool {
        self.rehash_index.is_some()
    }

    /// Starts an incremental rehash to a smaller table if the table has more
    /// than the initial number of buckets and is filled below 10%, as Redis's
    /// cron does. Returns whether it started one.
    pub fn shrink_if_needed(&mut self) -> bool {
        let (size, used) = (self.tables[0].size(), self.tables[0].used);
        let sparse = size > INITIAL_SIZE && used * 100 / size < MIN_FILL_PERCENT;
        self.paused == 0 && !self.is_rehashing() && sparse && self.resize_to(used)
    }

    /// The hash seed, to make a dict that hashes the same way.
    pub fn seed(&self) -> (u64, u64) {
        self.seed
    }

    /// Stops entries from moving until the matching
    /// [`Dict::resume_rehashing`]: inserts still work (chains grow), but no
    /// rehash step, growth or shrink happens, so every entry keeps the
    /// position [`Dict::position`] reports. Pauses nest.
    pub fn pause_rehashing(&mut self) {
        self.paused += 1;
    }

    pub fn resume_rehashing(&mut self) {
        self.paused = self.paused.saturating_sub(1);
    }

    /// Where `key` lives: (table, bucket). Stable while paused.
    pub fn position(&self, key: &[u8]) -> Option<(usize, usize)> {
        if self.is_empty() {
            return None;
        }
        let hash = self.hash(key);
        (0..self.live_table_count()).find_map(|t| {
            let table = &self.tables[t];
            table.find(hash, key).map(|_| (t, table.bucket_index(hash)))
        })
    }

    /// Bucket counts of the two tables.
    pub fn table_sizes(&self) -> (usize, usize) {
        (self.tables[0].size(), self.tables[1].size())
    }

    /// The entries in one bucket; empty for a position past the table.
    pub fn bucket(&self, table: usize, bucket: usize) -> impl Iterator<Item = (&[u8], &V)> {
        let chain = self
            .tables
            .get(table)
            .filter(|t| bucket < t.buckets.len())
            .map(|t| t.buckets.get(bucket));
        chain
            .into_iter()
            .flat_map(chain_entries)
            .map(|entry| (&*entry.key, &entry.value))
    }

    /// The number of buckets across both tables.
    pub fn bucket_count(&self) -> usize {
        self.tables[0].size() + self.tables[1].size()
    }

    /// SipHash-1-3 of the key bytes under the seed.
    fn hash(&self, key: &[u8]) -> u64 {
        let mut hasher = SipHasher13::new_with_keys(self.seed.0, self.seed.1);
        hasher.write(key);
        hasher.finish()
    }

    /// How many tables may hold entries: both while rehashing, else one.
    fn live_table_count(&self) -> usize {
        if self.is_rehashing() {
            2
        } else {
            1
        }
    }

    /// The table new entries go to.
    fn insert_table_index(&self) -> usize {
        self.live_table_count() - 1
    }

    fn find(&self, key: &[u8]) -> Option<&Entry<V>> {
        if self.is_empty() {
            return None;
        }
        self.find_hashed(self.hash(key), key)
    }

    fn find_hashed(&self, hash: u64, key: &[u8]) -> Option<&Entry<V>> {
        self.tables[..self.live_table_count()]
            .iter()
            .find_map(|table| table.find(hash, key))
    }

    fn find_mut_hashed(&mut self, hash: u64, key: &[u8]) -> Option<&mut Entry<V>> {
        let live = self.live_table_count();
        self.tables[..live]
            .iter_mut()
            .find_map(|table| table.find_mut(hash, key))
    }

    /// What every call that may add an entry does first, as Redis's
    /// `dictAddRaw` does: one rehash step, then grow if the table is full.
    fn prepare_for_add(&mut self) {
        self.rehash_step_if_rehashing();
        self.expand_if_needed();
    }

    /// Adds an entry whose key is known to be absent.
    fn add_new(&mut self, hash: u64, key: Box<[u8]>, value: V) -> &mut Entry<V> {
        let entry = Box::new(Entry {
            key,
            value,
            next: None,
        });
        let table = self.insert_table_index();
        self.tables[table].push(hash, entry)
    }

    fn rehash_step_if_rehashing(&mut self) {
        if self.is_rehashing() {
            self.rehash_steps(1);
        }
    }

    /// Allocates the first table, or starts doubling a full one (load
    /// factor 1). Does nothing while a rehash is in progress.
    fn expand_if_needed(&mut self) {
        if self.is_rehashing() {
            return;
        }
        let table = &self.tables[0];
        if table.size() == 0 {
            self.resize_to(INITIAL_SIZE);
        } else if table.used >= table.size() && self.paused == 0 {
            let new_table_bytes = (table.used + 1)
                .checked_next_power_of_two()
                .map_or(u64::MAX, |size| (size * mem::size_of::<Chain<V>>()) as u64);
            let light = table.used * 1000 <= table.size() * 1618;
            if light && new_table_bytes > self.growth_room_bytes {
                return;
            }
            self.resize_to(table.used + 1);
        }
    }

    /// Switches to a table of the smallest power of two (at least
    /// `INITIAL_SIZE`) that holds `wanted` entries: directly if there is no
    /// table yet, else by starting an incremental rehash. Returns false if
    /// rehashing already, the size would not change, or it cannot hold the
    /// current entries.
    fn resize_to(&mut self, wanted: usize) -> bool {
        let Some(size) = wanted.max(INITIAL_SIZE).checked_next_power_of_two() else {
            return false;
        };
        let current = &self.tables[0];
        if self.is_rehashing() || current.used > size || current.size() == size {
            return false;
        }
        if current.size() == 0 {
            self.tables[0] = Table::with_size(size);
        } else {
            self.tables[1] = Table::with_size(size);
            self.rehash_index = Some(0);
        }
        true
    }

    /// Moves every entry of the old table's bucket `index` to the new table.
    fn move_bucket(&mut self, index: usize) {
        let mut next = self.tables[0].buckets.get_mut(index).take();
        while let Some(mut entry) = next {
            next = entry.next.take();
            let hash = self.hash(&entry.key);
            self.tables[0].used -= 1;
            self.tables[1].push(hash, entry);
        }
    }

    /// Makes the new table the live one once the old one is empty.
    fn finish_rehash(&mut self) {
        self.tables[0] = mem::replace(&mut self.tables[1], Table::empty());
        self.rehash_index = None;
    }

    /// While rehashing: the smaller table, then the larger.
    fn tables_by_size(&self) -> (&Table<V>, &Table<V>) {
        let [first, second] = &self.tables;
        if first.size() <= second.size() {
            (first, second)
        } else {
            (second, first)
        }
    }

    /// The chain at `slot`, counting the old table's buckets first and then
    /// the new table's; `None` if that bucket is empty.
    fn chain_at_slot(&self, slot: usize) -> Option<&Chain<V>> {
        let old_size = self.tables[0].size();
        let chain = if slot < old_size {
            self.tables[0].buckets.get(slot)
        } else {
            self.tables[1].buckets.get(slot - old_size)
        };
        chain.is_some().then_some(chain)
    }

    /// A random non-empty chain, skipping the old table's buckets that
    /// rehashing has already emptied. The dict must not be empty.
    fn random_chain(&self, random: &mut dyn FnMut() -> u64) -> Option<&Chain<V>> {
        let first_slot = self.rehash_index.unwrap_or(0);
        let span = self.bucket_count() - first_slot;
        let mut offset = 0;
        for _ in 0..RANDOM_DRAW_LIMIT {
            offset = (random() % span as u64) as usize;
            if let Some(chain) = self.chain_at_slot(first_slot + offset) {
                return Some(chain);
            }
        }
        (0..span)
            .map(|step| first_slot + (offset + step) % span)
            .find_map(|slot| self.chain_at_slot(slot))
    }
}

/// A copy with the same buckets, chains in the same order and the same
/// rehash position, so iteration order, SCAN cursors and random picks carry
/// over to the copy. The copy is not paused.
impl<V: Clone> Clone for Dict<V> {
    fn clone(&self) -> Self {
        Dict {
            tables: [self.tables[0].clone(), self.tables[1].clone()],
            rehash_index: self.rehash_index,
            seed: self.seed,
            paused: 0,
            growth_room_bytes: u64::MAX,
        }
    }
}

/// Shares every chunk: O(buckets / CHUNK_BUCKETS), whatever the entries.
impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        Table {
            buckets: Buckets {
                chunks: self.buckets.chunks.clone(),
                len: self.buckets.len,
            },
            used: self.used,
        }
    }
}

/// A copy of a chain, entries in the same order, built without recursion.
fn clone_chain<V: Clone>(chain: &Chain<V>) -> Chain<V> {
    let entries: Vec<&Entry<V>> = chain_entries(chain).collect();
    let mut copy: Chain<V> = None;
    for entry in entries.into_iter().rev() {
        copy = Some(Box::new(Entry {
            key: entry.key.clone(),
            value: entry.value.clone(),
            next: copy,
        }));
    }
    copy
}

impl<V: fmt::Debug + Clone> fmt::Debug for Dict<V> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_map()
            .entries(
                self.iter()
                    .map(|(key, value)| (String::from_utf8_lossy(key), value)),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    const SEED: (u64, u64) = (0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3210);

    fn key(prefix: &str, number: usize) -> Vec<u8> {
        format!("{prefix}{number}").into_bytes()
    }

    /// A small deterministic generator (SplitMix64) for tests.
    fn splitmix(state: &mut u64) -> u64 {
        *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = *state;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    fn filled(count: usize) -> Dict<usize> {
        let mut dict = Dict::new(SEED);
        for number in 0..count {
            dict.insert(key("k", number), number);
        }
        dict
    }

    fn finish_rehashing<V: Clone>(dict: &mut Dict<V>) {
        while dict.rehash_steps(100) {}
    }

    fn scan_all<V: Clone>(dict: &Dict<V>) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            cursor = dict.scan(cursor, |key, _| seen.push(key.to_vec()));
            if cursor == 0 {
                return seen;
            }
        }
    }

    // Short of memory, a full table keeps its size until it holds 1.618
    // entries a bucket, then grows whatever the memory (Redis's
    // dictExpandAllowed); with room it grows at one entry a bucket.
    #[test]
    fn growth_waits_for_memory_up_to_the_max_load_factor() {
        let mut dict = filled(64);
        finish_rehashing(&mut dict);
        assert_eq!(dict.table_sizes(), (64, 0));
        dict.set_growth_room(100);
        for number in 64..=103 {
            dict.insert(key("k", number), number);
            assert_eq!(dict.table_sizes(), (64, 0), "{number} entries");
        }
        dict.insert(key("k", 104), 104);
        assert_eq!(dict.table_sizes(), (64, 128), "past 1.618, it grows");
        for number in 0..=104 {
            assert_eq!(dict.get(&key("k", number)), Some(&number));
        }
        let mut roomy = filled(64);
        finish_rehashing(&mut roomy);
        roomy.insert(key("k", 64), 64);
        assert_eq!(roomy.table_sizes(), (64, 128));
    }

    #[test]
    fn insert_get_replace_remove() {
        let mut dict = Dict::new(SEED);
        assert!(dict.is_empty());
        assert_eq!(dict.insert(b"alpha".to_vec(), 1), None);
        assert_eq!(dict.insert(b"beta".to_vec(), 2), None);
        assert_eq!(dict.len(), 2);
        assert_eq!(dict.get(b"alpha"), Some(&1));
        assert!(dict.contains_key(b"beta"));
        assert!(!dict.contains_key(b"gamma"));
        assert_eq!(dict.insert(b"alpha".to_vec(), 10), Some(1));
        assert_eq!(dict.len(), 2);
        *dict.get_mut(b"beta").unwrap() += 5;
        assert_eq!(dict.get(b"beta"), Some(&7));
        let (removed_key, removed_value) = dict.remove(b"alpha").unwrap();
        assert_eq!((&*removed_key, removed_value), (&b"alpha"[..], 10));
        assert_eq!(dict.remove(b"alpha"), None);
        assert_eq!(dict.get(b"alpha"), None);
        assert_eq!(dict.len(), 1);
    }

    // A clone keeps the layout: same order, same SCAN steps, same random
    // picks, also mid-rehash; changing one leaves the other alone.
    #[test]
    fn clone_keeps_layout_and_is_independent() {
        let mut dict = Dict::new(SEED);
        for number in 0..300 {
            dict.insert(key("k", number), number);
        }
        assert!(dict.is_rehashing() || dict.len() == 300);
        let copy = dict.clone();
        let order = |d: &Dict<usize>| d.iter().map(|(k, v)| (k.to_vec(), *v)).collect::<Vec<_>>();
        assert_eq!(order(&copy), order(&dict));
        assert_eq!(scan_all(&copy), scan_all(&dict));
        assert_eq!(copy.is_rehashing(), dict.is_rehashing());
        let pick = |d: &Dict<usize>| {
            let mut draws = 7u64;
            d.random_entry(&mut || {
                draws = draws.wrapping_mul(6364136223846793005).wrapping_add(1);
                draws
            })
            .map(|(k, _)| k.to_vec())
        };
        assert_eq!(pick(&copy), pick(&dict));
        dict.remove(&key("k", 1));
        assert_eq!(copy.get(&key("k", 1)), Some(&1));
        assert_eq!(copy.len(), 300);
    }

    // A copy shares every chunk of buckets; a write to either side copies
    // only the chunk it touches (one chunk for a settled table), and
    // neither side sees the other's writes. Reads and misses copy nothing.
    #[test]
    fn a_copy_shares_chunks_until_written() {
        let mut dict = filled(10_000);
        finish_rehashing(&mut dict);
        let chunks = dict.tables[0].buckets.chunks.len();
        assert!(chunks > 100, "{chunks}");
        let copy = dict.clone();
        let shared = |d: &Dict<usize>| {
            (0..d.tables[0].buckets.len())
                .step_by(CHUNK_BUCKETS)
                .filter(|&at| d.tables[0].buckets.shared(at))
                .count()
        };
        assert_eq!(shared(&dict), chunks);
        assert_eq!(dict.get(&key("k", 5)), Some(&5));
        assert!(dict.get_mut(&key("missing", 1)).is_none());
        assert_eq!(dict.remove(&key("missing", 1)), None);
        assert_eq!(shared(&dict), chunks, "reads and misses copy nothing");
        *dict.get_mut(&key("k", 5)).expect("present") = 55;
        assert_eq!(shared(&dict), chunks - 1);
        assert!(dict.remove(&key("k", 6)).is_some());
        assert!(shared(&dict) >= chunks - 2);
        assert_eq!(copy.get(&key("k", 5)), Some(&5));
        assert_eq!(copy.get(&key("k", 6)), Some(&6));
        assert_eq!(dict.get(&key("k", 5)), Some(&55));
        assert_eq!(dict.get(&key("k", 6)), None);
        assert_eq!((copy.len(), dict.len()), (10_000, 9_999));
    }

    // Iterating from the place after any entry gives the rest of `iter`'s
    // order, in a settled table and mid-rehash, and in chunks of any size.
    #[test]
    fn iter_from_resumes_table_order() {
        let mut seen_rehashing = false;
        for count in [0, 1, 3, 300, 1000] {
            let dict = filled(count);
            seen_rehashing |= dict.is_rehashing();
            let order: Vec<Vec<u8>> = dict.iter().map(|(k, _)| k.to_vec()).collect();
            let placed: Vec<(Place, Vec<u8>)> = dict
                .iter_from(Place::START)
                .map(|(place, k, _)| (place, k.to_vec()))
                .collect();
            let keys: Vec<Vec<u8>> = placed.iter().map(|(_, k)| k.clone()).collect();
            assert_eq!(keys, order, "iter_from(START) is iter, {count} entries");
            for (at, (place, _)) in placed.iter().enumerate() {
                let rest: Vec<Vec<u8>> = dict
                    .iter_from(place.after())
                    .map(|(_, k, _)| k.to_vec())
                    .collect();
                assert_eq!(rest, order[at + 1..], "resumed after entry {at} of {count}");
            }
            for chunk in [1, 2, 7, 64] {
                let (mut place, mut resumed) = (Place::START, Vec::new());
                loop {
                    let before = resumed.len();
                    for (at, k, _) in dict.iter_from(place).take(chunk) {
                        resumed.push(k.to_vec());
                        place = at.after();
                    }
                    if resumed.len() == before {
                        break;
                    }
                }
                assert_eq!(resumed, order, "chunks of {chunk}, {count} entries");
            }
        }
        assert!(seen_rehashing, "one of the dicts is mid-rehash");
    }

    #[test]
    fn empty_dict_allocates_nothing_and_answers_none() {
        let mut dict: Dict<u8> = Dict::new(SEED);
        assert_eq!(dict.bucket_count(), 0);
        assert_eq!(dict.get(b""), None);
        assert_eq!(dict.get_mut(b"x"), None);
        assert_eq!(dict.remove(b"x"), None);
        assert_eq!(dict.scan(0, |_, _| panic!("no entries")), 0);
        assert_eq!(dict.random_entry(&mut || 0), None);
        assert!(!dict.shrink_if_needed());
        assert!(!dict.rehash_steps(10));
        dict.insert(Vec::new(), 1);
        assert_eq!(dict.bucket_count(), INITIAL_SIZE);
        assert_eq!(dict.get(b""), Some(&1));
    }

    #[test]
    fn get_or_insert_with_inserts_once() {
        let mut dict = Dict::new(SEED);
        *dict.get_or_insert_with(b"counter", || 0) += 1;
        *dict.get_or_insert_with(b"counter", || panic!("already present")) += 1;
        assert_eq!(dict.get(b"counter"), Some(&2));
        for number in 0..1000 {
            *dict.get_or_insert_with(&key("k", number % 100), || 0) += 1;
        }
        assert_eq!(dict.len(), 101);
        assert!((0..100).all(|number| dict.get(&key("k", number)) == Some(&10)));
    }

    #[test]
    fn growth_is_incremental_and_lookups_work_mid_rehash() {
        let mut dict = Dict::new(SEED);
        let mut saw_rehashing = false;
        for number in 0..5000 {
            dict.insert(key("k", number), number);
            saw_rehashing |= dict.is_rehashing();
            if dict.is_rehashing() {
                assert_eq!(dict.bucket_count(), dict.tables[0].size() * 3);
                for probe in (0..=number).step_by(97) {
                    assert_eq!(dict.get(&key("k", probe)), Some(&probe));
                }
            }
            assert_eq!(dict.len(), number + 1);
        }
        assert!(saw_rehashing);
        finish_rehashing(&mut dict);
        assert_eq!(dict.bucket_count(), 8192);
        assert!((0..5000).all(|number| dict.get(&key("k", number)) == Some(&number)));
    }

    #[test]
    fn expansion_only_allocates_and_moves_nothing_at_once() {
        let mut dict = filled(INITIAL_SIZE << 10);
        finish_rehashing(&mut dict);
        let full_size = dict.bucket_count();
        assert_eq!(dict.len(), full_size);
        dict.insert(b"one more".to_vec(), 0);
        assert!(dict.is_rehashing());
        assert!(dict.tables[1].used <= 1 + EMPTY_VISITS_PER_STEP);
        assert!(dict.tables[0].used >= full_size - EMPTY_VISITS_PER_STEP);
    }

    #[test]
    fn removal_and_replacement_work_mid_rehash() {
        let mut dict = filled(64);
        dict.insert(b"trigger".to_vec(), 0);
        assert!(dict.is_rehashing());
        for number in (0..64).step_by(2) {
            assert_eq!(
                dict.remove(&key("k", number)).map(|entry| entry.1),
                Some(number)
            );
        }
        for number in (1..64).step_by(2) {
            assert_eq!(dict.insert(key("k", number), number * 10), Some(number));
        }
        assert_eq!(dict.len(), 33);
        finish_rehashing(&mut dict);
        for number in 0..64 {
            let expected = (number % 2 == 1).then_some(number * 10);
            assert_eq!(dict.get(&key("k", number)).copied(), expected);
        }
    }

    #[test]
    fn rehash_steps_respect_empty_visit_limit() {
        let mut dict = filled(1024);
        finish_rehashing(&mut dict);
        for number in 0..1000 {
            dict.remove(&key("k", number));
        }
        finish_rehashing(&mut dict);
        assert!(dict.shrink_if_needed());
        let before = dict.rehash_index.unwrap();
        dict.rehash_steps(1);
        let after = dict.rehash_index.unwrap_or(usize::MAX);
        assert!(after <= before + 1 + EMPTY_VISITS_PER_STEP);
    }

    #[test]
    fn shrinks_when_sparse() {
        let mut dict = filled(1000);
        finish_rehashing(&mut dict);
        assert_eq!(dict.bucket_count(), 1024);
        assert!(!dict.shrink_if_needed());
        for number in 10..1000 {
            dict.remove(&key("k", number));
        }
        finish_rehashing(&mut dict);
        assert!(dict.shrink_if_needed());
        assert!(dict.is_rehashing());
        assert!(!dict.shrink_if_needed());
        finish_rehashing(&mut dict);
        assert_eq!(dict.bucket_count(), 16);
        assert_eq!(dict.len(), 10);
        assert!((0..10).all(|number| dict.get(&key("k", number)) == Some(&number)));
        assert!(!dict.shrink_if_needed());
    }

    #[test]
    fn empty_table_shrinks_to_initial_size() {
        let mut dict = filled(100);
        for number in 0..100 {
            dict.remove(&key("k", number));
        }
        finish_rehashing(&mut dict);
        assert!(dict.shrink_if_needed());
        assert!(!dict.rehash_steps(1));
        assert_eq!(dict.bucket_count(), INITIAL_SIZE);
    }

    #[test]
    fn clear_empties_everything() {
        let mut dict = filled(300);
        dict.clear();
        assert!(dict.is_empty());
        assert!(!dict.is_rehashing());
        assert_eq!(dict.bucket_count(), 0);
        assert_eq!(dict.iter().count(), 0);
        dict.insert(b"again".to_vec(), 1);
        assert_eq!(dict.get(b"again"), Some(&1));
    }

    #[test]
    fn iter_yields_every_entry_once_even_mid_rehash() {
        for count in [0, 1, 4, 5, 100, 1025] {
            let dict = filled(count);
            assert_eq!(dict.iter().count(), dict.len());
            let keys: BTreeSet<Vec<u8>> = dict.iter().map(|(key, _)| key.to_vec()).collect();
            assert_eq!(keys.len(), count);
            assert!(dict
                .iter()
                .all(|(key, value)| *key == *super::tests::key("k", *value)));
        }
    }

    #[test]
    fn scan_of_a_stable_table_visits_each_entry_exactly_once() {
        for count in [1, 3, 17, 1000] {
            let mut dict = filled(count);
            finish_rehashing(&mut dict);
            let mut seen = scan_all(&dict);
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), count);
            assert_eq!(scan_all(&dict).len(), count);
        }
    }

    #[test]
    fn scan_mid_rehash_visits_every_entry() {
        let mut dict = filled(64);
        dict.insert(b"trigger".to_vec(), 0);
        dict.rehash_steps(5);
        assert!(dict.is_rehashing());
        let seen: BTreeSet<Vec<u8>> = scan_all(&dict).into_iter().collect();
        assert_eq!(seen.len(), 65);
    }

    #[test]
    fn scan_cursor_ignores_bits_above_the_mask() {
        let dict = filled(3);
        let mut from_zero = Vec::new();
        let mut from_high = Vec::new();
        let next_zero = dict.scan(0, |key, _| from_zero.push(key.to_vec()));
        let next_high = dict.scan(1 << 40, |key, _| from_high.push(key.to_vec()));
        assert_eq!(from_zero, from_high);
        assert_eq!(next_zero, next_high);
    }

    #[test]
    fn next_cursor_walks_reverse_binary_order() {
        let mut order = Vec::new();
        let mut cursor = 0;
        loop {
            order.push(cursor);
            cursor = next_cursor(cursor, 7);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(order, [0, 4, 2, 6, 1, 5, 3, 7]);
    }

    #[test]
    fn random_entry_returns_existing_entries_and_covers_all() {
        let mut dict = filled(20);
        for number in 20..40 {
            dict.insert(key("k", number), number);
            dict.remove(&key("k", number));
        }
        let mut state = 7;
        let mut random = || splitmix(&mut state);
        let mut seen = BTreeSet::new();
        for _ in 0..2000 {
            let (key, value) = dict.random_entry(&mut random).unwrap();
            assert_eq!(dict.get(key), Some(value));
            seen.insert(*value);
        }
        assert_eq!(seen.len(), 20);
    }

    #[test]
    fn random_entry_works_mid_rehash_and_with_a_constant_source() {
        let mut dict = filled(64);
        dict.insert(b"trigger".to_vec(), 1000);
        dict.rehash_steps(3);
        assert!(dict.is_rehashing());
        for constant in [0, 1, u64::MAX] {
            let (key, value) = dict.random_entry(&mut || constant).unwrap();
            assert_eq!(dict.get(key), Some(value));
        }
        let mut sparse = filled(1000);
        for number in 1..1000 {
            sparse.remove(&key("k", number));
        }
        assert_eq!(
            sparse.random_entry(&mut || 0).map(|entry| *entry.1),
            Some(0)
        );
    }

    #[test]
    fn same_seed_and_history_give_same_order() {
        let build = |seed| {
            let mut dict = Dict::new(seed);
            for number in 0..3000 {
                dict.insert(key("k", number), number);
                if number % 3 == 0 {
                    dict.remove(&key("k", number / 2));
                }
            }
            dict.iter().map(|(key, _)| key.to_vec()).collect::<Vec<_>>()
        };
        assert_eq!(build(SEED), build(SEED));
        assert_ne!(build(SEED), build((1, 2)));
    }

    #[test]
    fn dropping_a_large_dict_does_not_overflow_the_stack() {
        let dict = filled(200_000);
        assert_eq!(dict.len(), 200_000);
        drop(dict);
    }

    #[test]
    fn dropping_a_very_long_chain_does_not_overflow_the_stack() {
        let mut table = Table::with_size(1);
        for number in 0..200_000 {
            let entry = Entry {
                key: key("k", number).into_boxed_slice(),
                value: number,
                next: None,
            };
            table.push(0, Box::new(entry));
        }
        assert_eq!(table.used, 200_000);
        drop(table);
    }

    #[test]
    fn unlink_handles_head_middle_tail_and_missing() {
        let mut table = Table::with_size(1);
        for name in ["a", "b", "c", "d"] {
            let entry = Entry {
                key: name.as_bytes().into(),
                value: (),
                next: None,
            };
            table.push(0, Box::new(entry));
        }
        for name in ["d", "b", "a", "x", "c"] {
            let removed = table.unlink(0, name.as_bytes());
            assert_eq!(removed.is_some(), name != "x");
        }
        assert_eq!(table.used, 0);
        assert!(table.buckets.get(0).is_none());
    }

    /// One change made between two SCAN calls.
    #[derive(Clone, Debug)]
    enum Change {
        InsertOthers(usize),
        RemoveOthers(usize),
        RemoveVolatile(usize),
        Shrink,
        Rehash(usize),
    }

    fn change_strategy() -> impl Strategy<Value = Change> {
        prop_oneof![
            (1usize..400).prop_map(Change::InsertOthers),
            (1usize..400).prop_map(Change::RemoveOthers),
            (0usize..50).prop_map(Change::RemoveVolatile),
            Just(Change::Shrink),
            (1usize..50).prop_map(Change::Rehash),
        ]
    }

    /// The dict under test and the keys added by changes.
    struct Scenario {
        dict: Dict<()>,
        others: Vec<Vec<u8>>,
        next_other: usize,
        ever_inserted: BTreeSet<Vec<u8>>,
    }

    impl Scenario {
        fn apply(&mut self, change: &Change) {
            match *change {
                Change::InsertOthers(count) => self.insert_others(count),
                Change::RemoveOthers(count) => self.remove_others(count),
                Change::RemoveVolatile(number) => {
                    self.dict.remove(&key("volatile", number));
                }
                Change::Shrink => {
                    self.dict.shrink_if_needed();
                }
                Change::Rehash(steps) => {
                    self.dict.rehash_steps(steps);
                }
            }
        }

        fn insert_others(&mut self, count: usize) {
            for _ in 0..count {
                let other = key("other", self.next_other);
                self.next_other += 1;
                self.ever_inserted.insert(other.clone());
                self.dict.insert(other.clone(), ());
                self.others.push(other);
            }
        }

        fn remove_others(&mut self, count: usize) {
            for _ in 0..count.min(self.others.len()) {
                let index = self.next_other % self.others.len();
                let other = self.others.swap_remove(index);
                self.dict.remove(&other);
            }
            self.dict.shrink_if_needed();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn scan_visits_every_key_present_throughout(
            stable_count in 0usize..60,
            volatile_count in 0usize..50,
            preload in 0usize..600,
            changes in prop::collection::vec(change_strategy(), 0..60),
            seed in any::<(u64, u64)>(),
        ) {
            let mut scenario = Scenario {
                dict: Dict::new(seed),
                others: Vec::new(),
                next_other: 0,
                ever_inserted: BTreeSet::new(),
            };
            let stable: BTreeSet<Vec<u8>> = (0..stable_count).map(|n| key("stable", n)).collect();
            for name in stable.iter().cloned().chain((0..volatile_count).map(|n| key("volatile", n))) {
                scenario.ever_inserted.insert(name.clone());
                scenario.dict.insert(name, ());
            }
            scenario.insert_others(preload);
            let mut seen = BTreeSet::new();
            let mut cursor = 0;
            let mut calls = 0;
            loop {
                cursor = scenario.dict.scan(cursor, |key, _| { seen.insert(key.to_vec()); });
                if cursor == 0 {
                    break;
                }
                if let Some(change) = changes.get(calls) {
                    scenario.apply(change);
                }
                calls += 1;
                prop_assert!(calls < 100_000, "scan did not terminate");
            }
            prop_assert!(stable.is_subset(&seen));
            prop_assert!(seen.is_subset(&scenario.ever_inserted));
        }

        #[test]
        fn behaves_like_a_map(operations in prop::collection::vec((0u8..4, 0usize..200), 0..800)) {
            let mut dict = Dict::new(SEED);
            let mut model = std::collections::BTreeMap::new();
            for (operation, number) in operations {
                let name = key("k", number);
                match operation {
                    0 => prop_assert_eq!(dict.insert(name.clone(), number), model.insert(name, number)),
                    1 => prop_assert_eq!(dict.remove(&name).map(|entry| entry.1), model.remove(&name)),
                    2 => { dict.shrink_if_needed(); }
                    _ => prop_assert_eq!(dict.get(&name), model.get(&name)),
                }
                prop_assert_eq!(dict.len(), model.len());
            }
            let mut entries: Vec<(Vec<u8>, usize)> = dict.iter().map(|(key, value)| (key.to_vec(), *value)).collect();
            entries.sort();
            prop_assert_eq!(entries, model.into_iter().collect::<Vec<_>>());
        }
    }
}

#[cfg(test)]
mod pause_tests {
    use super::*;

    // While paused, entries keep their positions through many inserts and
    // removals, and nothing is lost; resuming lets the table grow again.
    #[test]
    fn paused_positions_are_stable() {
        let mut dict: Dict<u32> = Dict::new((1, 2));
        for i in 0..100u32 {
            dict.insert(i.to_be_bytes().to_vec(), i);
        }
        dict.pause_rehashing();
        let positions: Vec<_> = (0..100u32)
            .map(|i| dict.position(&i.to_be_bytes()).unwrap())
            .collect();
        let sizes = dict.table_sizes();
        for i in 100..5000u32 {
            dict.insert(i.to_be_bytes().to_vec(), i);
        }
        for i in (0..100u32).step_by(3) {
            dict.remove(&i.to_be_bytes());
            dict.insert(i.to_be_bytes().to_vec(), i);
        }
        assert!(!dict.shrink_if_needed());
        assert_eq!(dict.table_sizes(), sizes);
        // Keys removed and added again are new entries; the others stay put.
        for i in (0..100u32).filter(|i| i % 3 != 0) {
            assert_eq!(
                dict.position(&i.to_be_bytes()).unwrap(),
                positions[i as usize]
            );
        }
        let walked: usize = (0..2)
            .map(|t| {
                (0..[sizes.0, sizes.1][t])
                    .map(|b| dict.bucket(t, b).count())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(walked, 5000);
        dict.resume_rehashing();
        dict.insert(b"more".to_vec(), 1);
        while dict.rehash_steps(100) {}
        assert!(dict.table_sizes().0 > sizes.0);
        assert_eq!(dict.len(), 5001);
    }
}
