//! One file's bytes: the page cache, and the durable image kept as a
//! difference from it, never as a second copy.
//!
//! The durable image is `durable_len` bytes long. Byte `i` of it is the
//! `divergent` extent's byte where one covers `i`, else the page cache's.
//! `divergent` holds, below `durable_len`, durable bytes the page cache no
//! longer shows (left by a truncation, a lost or failed fsync, a
//! misdirected write) and, at or beyond it, zeros: the hole a lost range
//! leaves if the file later becomes durable past it. `dirty` lists what is
//! written and not durable yet. Invariants ([`Inode::check`]): every page
//! cache byte at or past `durable_len` is dirty or divergent; every dirty
//! byte below `durable_len` is divergent (its old durable content is
//! saved); every dirty range is newer than `durable_version`.
//!
//! So an fsync costs the dirty and divergent bytes it touches, and a file
//! that only grows, fsynced after each append, never copies a byte.

use super::extents::{Dirty, DirtyExtent, Extents};

/// A range whose bytes were written somewhere else of the same file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Misdirect {
    pub start: u64,
    pub end: u64,
    /// Where the bytes landed instead (sector-aligned).
    pub target: u64,
}

/// What a background fsync covers, fixed when it was submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Covered {
    /// The inode's version at submission: writes up to it are covered.
    pub version: u64,
    pub length_at_submit: u64,
    /// The shortest length a truncation left since submission.
    pub length_shortest: u64,
}

impl Covered {
    /// The durable length once this fsync is done: bytes past a later
    /// truncation no longer exist in the page cache to be written.
    pub fn durable_len(&self) -> u64 {
        self.length_at_submit.min(self.length_shortest)
    }
}

/// What an fsync or a loss moved: the counts behind the disk's cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Moved {
    /// Dirty bytes made durable (a bookkeeping step, nothing copied).
    pub synced: u64,
    /// Bytes copied, zeroed or split to keep the durable image right.
    pub copied: u64,
}

/// One file.
#[derive(Debug, Clone, Default)]
pub(super) struct Inode {
    /// What reads see.
    pub cache: Vec<u8>,
    pub durable_len: u64,
    pub divergent: Extents,
    pub dirty: Dirty,
    /// Mutations (appends, truncations) so far.
    pub version: u64,
    /// The version the durable image reflects (lost ranges aside).
    pub durable_version: u64,
    /// Open handles.
    pub handles: u32,
}

impl Inode {
    pub fn len(&self) -> u64 {
        self.cache.len() as u64
    }

    pub fn append(&mut self, data: &[u8]) {
        self.version += 1;
        let start = self.len();
        self.cache.extend_from_slice(data);
        self.dirty.add(start, self.len(), self.version);
    }

    /// Cuts or extends (with zeros) the page cache to `len`. Durable bytes
    /// cut off are saved, since power loss may bring them back.
    pub fn truncate(&mut self, len: u64) -> u64 {
        self.version += 1;
        let old = self.len();
        if len >= old {
            self.cache.resize(len as usize, 0);
            self.dirty.add(old, len, self.version);
            return 0;
        }
        let mut copied = self.save_durable(len, old.min(self.durable_len));
        copied += self.divergent.remove_from(len.max(self.durable_len));
        self.cache.truncate(len as usize);
        self.dirty.clip(len);
        copied
    }

    /// Copies the durable bytes of `start..end` the page cache still holds
    /// into `divergent`, before the page cache changes them.
    fn save_durable(&mut self, start: u64, end: u64) -> u64 {
        let mut copied = 0;
        for (from, to) in self.divergent.gaps(start, end) {
            let bytes = self.cache[from as usize..to as usize].to_vec();
            copied += self.divergent.insert(from, bytes);
        }
        copied
    }

    /// A synchronous fsync: everything written becomes durable, lost
    /// ranges aside.
    pub fn sync_all(&mut self, misdirect: Option<Misdirect>) -> Moved {
        let mut moved = self.misdirect_before(misdirect);
        for extent in self.dirty.take_through(u64::MAX) {
            moved = self.make_extent_durable(extent, moved);
        }
        self.durable_len = self.len();
        moved.copied += self.divergent.remove_from(self.durable_len);
        self.set_durable_version(self.version);
        moved.copied += self.misdirect_after(misdirect);
        moved
    }

    /// A background fsync completes: what was written before it was
    /// submitted becomes durable, unless something newer already is.
    pub fn sync_covered(&mut self, covered: Covered, misdirect: Option<Misdirect>) -> Moved {
        if covered.version <= self.durable_version {
            return Moved::default();
        }
        let mut moved = self.misdirect_before(misdirect);
        for extent in self.dirty.take_through(covered.version) {
            moved = self.make_extent_durable(extent, moved);
        }
        let target = covered.durable_len();
        if target < self.durable_len {
            moved.copied += self.divergent.zero_range(target, self.durable_len);
        }
        self.durable_len = target;
        self.set_durable_version(covered.version);
        moved.copied += self.misdirect_after(misdirect);
        moved
    }

    fn make_extent_durable(&mut self, extent: DirtyExtent, mut moved: Moved) -> Moved {
        assert!(
            extent.version > self.durable_version,
            "a dirty range (version {}) is older than the durable image (version {}): durability would move backwards",
            extent.version,
            self.durable_version
        );
        moved.copied += self.divergent.remove_range(extent.start, extent.end);
        moved.synced += extent.end - extent.start;
        moved
    }

    /// Moves the durable version forward; never back.
    pub fn set_durable_version(&mut self, version: u64) {
        assert!(
            version >= self.durable_version,
            "durability moved backwards: durable version {} replaced by older {}",
            self.durable_version,
            version
        );
        self.durable_version = version;
    }

    /// The misdirected range is never written where it belongs: it keeps
    /// its old durable content, as a lost range does.
    fn misdirect_before(&mut self, misdirect: Option<Misdirect>) -> Moved {
        let Some(misdirect) = misdirect else {
            return Moved::default();
        };
        self.dirty.remove_range(misdirect.start, misdirect.end);
        Moved {
            synced: 0,
            copied: self.keep_old_content(misdirect.start, misdirect.end),
        }
    }

    /// Its bytes land at the target instead, in the durable image only.
    fn misdirect_after(&mut self, misdirect: Option<Misdirect>) -> u64 {
        let Some(misdirect) = misdirect else {
            return 0;
        };
        let length = misdirect.end - misdirect.start;
        assert!(
            misdirect.target + length <= self.durable_len,
            "a misdirected write lands inside the durable image"
        );
        let range = misdirect.start as usize..misdirect.end as usize;
        let bytes = self.cache[range].to_vec();
        self.divergent.insert(misdirect.target, bytes)
    }

    /// Every dirty range becomes lost: never durable, and the kernel thinks
    /// it clean (an fsync that failed or was lost covered it).
    pub fn lose_all(&mut self) -> u64 {
        self.lose_through(u64::MAX)
    }

    /// Dirty ranges written up to `version` become lost.
    pub fn lose_through(&mut self, version: u64) -> u64 {
        let mut copied = 0;
        for extent in self.dirty.take_through(version) {
            copied += self.keep_old_content(extent.start, extent.end);
        }
        copied
    }

    /// Makes `start..end` show its old durable content in the durable
    /// image: saved below the durable length already, zeros beyond it.
    fn keep_old_content(&mut self, start: u64, end: u64) -> u64 {
        let below = end.min(self.durable_len);
        assert!(
            start >= below || self.divergent.gaps(start, below).is_empty(),
            "a dirty range below the durable length has its old content saved"
        );
        let from = start.max(self.durable_len);
        if from >= end {
            return 0;
        }
        self.divergent.insert(from, vec![0; (end - from) as usize])
    }

    /// The durable image, built whole (tests and checkers only).
    pub fn durable_image(&self) -> Vec<u8> {
        let shown = self.len().min(self.durable_len) as usize;
        let mut image = self.cache[..shown].to_vec();
        image.resize(self.durable_len as usize, 0);
        self.divergent.copy_onto(&mut image, 0, self.durable_len);
        image
    }

    /// Replaces everything: page cache and durable image both hold `bytes`.
    pub fn overwrite(&mut self, bytes: &[u8]) {
        self.version += 1;
        self.cache = bytes.to_vec();
        self.durable_len = self.len();
        self.divergent.clear();
        self.dirty = Dirty::default();
        self.set_durable_version(self.version);
    }

    /// Flips bits at `offset` (below both lengths) in the page cache and
    /// the durable image.
    pub fn flip(&mut self, offset: u64, mask: u8) {
        assert!(
            offset < self.len().min(self.durable_len),
            "flip inside both"
        );
        self.cache[offset as usize] ^= mask;
        if let Some(byte) = self.divergent.byte_mut(offset) {
            *byte ^= mask;
        }
    }

    /// Panics if the representation's invariants do not hold.
    pub fn check(&self) {
        let len = self.len();
        for extent in self.dirty.iter() {
            assert!(extent.start < extent.end && extent.end <= len, "{extent:?}");
            assert!(extent.version > self.durable_version, "{extent:?}");
            let below = extent.end.min(self.durable_len);
            let saved =
                extent.start >= below || self.divergent.gaps(extent.start, below).is_empty();
            assert!(saved, "dirty below the durable length unsaved: {extent:?}");
        }
        for (from, to) in self.divergent.gaps(self.durable_len.min(len), len) {
            assert!(
                self.dirty_covers(from, to),
                "bytes {from}..{to} past the durable length are neither dirty nor divergent"
            );
        }
        for (start, bytes) in self.divergent.iter() {
            let beyond = self.durable_len.saturating_sub(start) as usize;
            let zeros = bytes.iter().skip(beyond).all(|byte| *byte == 0);
            assert!(zeros, "divergent bytes past the durable length are zeros");
        }
    }

    /// Whether the dirty ranges together cover `start..end`.
    fn dirty_covers(&self, start: u64, end: u64) -> bool {
        let mut cursor = start;
        for extent in self.dirty.iter() {
            if extent.end <= cursor {
                continue;
            }
            if extent.start > cursor {
                break;
            }
            cursor = extent.end;
        }
        cursor >= end
    }
}
