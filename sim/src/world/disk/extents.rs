//! Byte ranges of one file, the two shapes the disk needs: [`Extents`]
//! holds bytes (where the durable image differs from the page cache) and
//! [`Dirty`] holds versioned ranges without bytes (what is written but not
//! yet durable). Both are sorted by offset and never overlap. Every method
//! that moves bytes returns how many it copied, so the disk can prove its
//! cost stays proportional to what changed, never to the file's size.

use std::collections::BTreeMap;

/// Non-overlapping byte extents keyed by their start offset.
#[derive(Debug, Clone, Default)]
pub(super) struct Extents {
    map: BTreeMap<u64, Vec<u8>>,
}

fn end_of(start: u64, bytes: &[u8]) -> u64 {
    start + bytes.len() as u64
}

impl Extents {
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// Extents as (start, bytes), by offset.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.map
            .iter()
            .map(|(start, bytes)| (*start, bytes.as_slice()))
    }

    /// The start of the extent holding `offset` strictly inside it, if any.
    fn straddler(&self, offset: u64) -> Option<u64> {
        let (start, bytes) = self.map.range(..offset).next_back()?;
        (end_of(*start, bytes) > offset).then_some(*start)
    }

    /// Cuts the extent holding `offset` in two, so that none straddles it.
    fn split_at(&mut self, offset: u64) -> u64 {
        let Some(start) = self.straddler(offset) else {
            return 0;
        };
        let bytes = self.map.get_mut(&start).expect("straddler exists");
        let tail = bytes.split_off((offset - start) as usize);
        let copied = tail.len() as u64;
        self.map.insert(offset, tail);
        copied
    }

    /// Forgets every byte in `start..end`.
    pub fn remove_range(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let copied = self.split_at(start) + self.split_at(end);
        let inside: Vec<u64> = self.map.range(start..end).map(|(at, _)| *at).collect();
        for at in inside {
            self.map.remove(&at);
        }
        copied
    }

    /// Forgets every byte at `offset` and beyond.
    pub fn remove_from(&mut self, offset: u64) -> u64 {
        let copied = self.split_at(offset);
        self.map.split_off(&offset);
        copied
    }

    /// Stores `bytes` at `start`, replacing what was there.
    pub fn insert(&mut self, start: u64, bytes: Vec<u8>) -> u64 {
        if bytes.is_empty() {
            return 0;
        }
        let end = end_of(start, &bytes);
        let copied = self.remove_range(start, end) + bytes.len() as u64;
        self.map.insert(start, bytes);
        copied
    }

    /// Sets every stored byte in `start..end` to zero; gaps stay gaps.
    pub fn zero_range(&mut self, start: u64, end: u64) -> u64 {
        if start >= end {
            return 0;
        }
        let mut copied = self.split_at(start) + self.split_at(end);
        for bytes in self.map.range_mut(start..end).map(|(_, bytes)| bytes) {
            bytes.fill(0);
            copied += bytes.len() as u64;
        }
        copied
    }

    /// Extents overlapping `start..end`, as (start, bytes).
    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, &Vec<u8>)> {
        let from = self.straddler(start).unwrap_or(start);
        let range = if from < end { from..end } else { end..end };
        self.map.range(range).map(|(at, bytes)| (*at, bytes))
    }

    /// The parts of `start..end` that no extent covers.
    pub fn gaps(&self, start: u64, end: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut cursor = start;
        for (at, bytes) in self.overlapping(start, end) {
            if at > cursor {
                gaps.push((cursor, at.min(end)));
            }
            cursor = cursor.max(end_of(at, bytes));
        }
        if cursor < end {
            gaps.push((cursor, end));
        }
        gaps
    }

    /// Copies the covered bytes of `start..end` onto `buffer`, which is
    /// indexed by file offset and must reach `end`.
    pub fn copy_onto(&self, buffer: &mut [u8], start: u64, end: u64) -> u64 {
        let mut copied = 0;
        for (at, bytes) in self.overlapping(start, end) {
            let from = at.max(start);
            let to = end_of(at, bytes).min(end);
            let source = &bytes[(from - at) as usize..(to - at) as usize];
            buffer[from as usize..to as usize].copy_from_slice(source);
            copied += to - from;
        }
        copied
    }

    /// The stored byte at `offset`, if an extent covers it.
    pub fn byte_mut(&mut self, offset: u64) -> Option<&mut u8> {
        let start = match self.map.contains_key(&offset) {
            true => offset,
            false => self.straddler(offset)?,
        };
        let bytes = self.map.get_mut(&start)?;
        bytes.get_mut((offset - start) as usize)
    }
}

/// A written range not yet durable, with the version of the inode's last
/// mutation that wrote into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DirtyExtent {
    pub start: u64,
    pub end: u64,
    pub version: u64,
}

/// The dirty ranges of one file, by offset. Writes only ever append, so a
/// new range always lies past every other one and the list stays sorted.
#[derive(Debug, Clone, Default)]
pub(super) struct Dirty {
    extents: Vec<DirtyExtent>,
    /// The version at the last background fsync's submission: a range
    /// written up to it is covered by that fsync, so a later write never
    /// merges into it (not even after a truncation took away what had been
    /// written since), or the range's version would move past the fsync
    /// and it would never become durable.
    sealed_version: u64,
}

impl Dirty {
    pub fn iter(&self) -> impl Iterator<Item = &DirtyExtent> {
        self.extents.iter()
    }

    /// Adds `start..end` written by mutation `version`, merging it into the
    /// previous range when nothing was submitted in between.
    pub fn add(&mut self, start: u64, end: u64, version: u64) {
        if start >= end {
            return;
        }
        match self.extents.last_mut() {
            Some(last) if last.version > self.sealed_version && last.end == start => {
                last.end = end;
                last.version = version;
            }
            _ => self.extents.push(DirtyExtent {
                start,
                end,
                version,
            }),
        }
    }

    /// A background fsync covers everything dirty now (written up to
    /// `version`) and nothing later.
    pub fn seal(&mut self, version: u64) {
        self.sealed_version = self.sealed_version.max(version);
    }

    /// Forgets everything at `len` and beyond (the file was truncated).
    pub fn clip(&mut self, len: u64) {
        self.extents.retain(|extent| extent.start < len);
        if let Some(last) = self.extents.last_mut() {
            last.end = last.end.min(len);
        }
    }

    /// Takes out every range written by a mutation up to `version`.
    pub fn take_through(&mut self, version: u64) -> Vec<DirtyExtent> {
        let (taken, kept) = self
            .extents
            .drain(..)
            .partition(|extent| extent.version <= version);
        self.extents = kept;
        taken
    }

    /// Takes `start..end` out of whatever range holds it.
    pub fn remove_range(&mut self, start: u64, end: u64) {
        let mut kept = Vec::with_capacity(self.extents.len() + 1);
        for extent in self.extents.drain(..) {
            if extent.start < start {
                kept.push(DirtyExtent {
                    end: extent.end.min(start),
                    ..extent
                });
            }
            if extent.end > end {
                kept.push(DirtyExtent {
                    start: extent.start.max(end),
                    ..extent
                });
            }
        }
        self.extents = kept;
    }
}
