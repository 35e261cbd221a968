//! `SimDisk`: core's `Disk` over memory, with the page cache and the platter
//! kept apart, and every disk fault of the project's fault model drawn per
//! seed from the disk's own random stream.
//!
//! # What it keeps
//!
//! Per file (inode): the page cache (what reads see) and the durable image
//! (what power loss keeps). The durable image is stored as a difference from
//! the page cache, never as a second copy (see `inode.rs`), so an fsync costs the
//! bytes it makes durable, not the file's size. Per directory: the visible
//! entries and the durable ones; a create, rename, remove or mkdir becomes
//! durable only when its directory is fsynced.
//!
//! # Faults
//!
//! What each fault does and which knob turns it on. Knobs live in
//! [`DiskFaults`] (`ppm`: chance per call, in a million); its `Default` is no
//! fault at all, and a knob at zero draws nothing from the stream. What
//! fired is counted in [`DiskFaultCounts`].
//!
//! * **Power loss** ([`SimDisk::crash`] with [`CrashKind::PowerLoss`],
//!   shaped by [`PowerLossModel`]): each 512-byte sector holding unsynced
//!   bytes is kept (the new bytes), dropped (the old durable bytes, or zeros
//!   past the old durable length), zeroed (torn) or garbage (seeded random
//!   bytes), by the model's weights; in `all_kept_percent` of power losses
//!   every unsynced byte happens to be kept. Only a sector's unsynced bytes
//!   change. The file's length becomes its old durable length, extended to
//!   the end of the last sector not dropped, never past the page cache's
//!   length. Directory entries not fsynced since they changed revert. The
//!   default model drops every unsynced sector: a clean loss.
//! * **Process crash** ([`CrashKind::Process`]): the kernel survives, so the
//!   page cache and every visible entry are kept; open handles and pending
//!   background fsyncs die.
//! * **Lost fsync** (`fsync_lost_ppm`): success is reported and nothing
//!   becomes durable. The ranges it covered are lost: no later fsync makes
//!   them durable (the kernel believes them clean), and after power loss
//!   they hold their old durable content, or zeros.
//! * **fsync error** (`fsync_error_ppm`; or armed): EIO, sometimes ENOSPC,
//!   reported once. As on Linux, the dirty ranges it covered are lost just
//!   as for a lost fsync while reads still show them, and a later fsync of
//!   the same file succeeds without making them durable.
//! * **ENOSPC** (capacity, [`SimDisk::set_capacity_bytes`]): used bytes are
//!   the lengths of the files still linked or open. A write that does not
//!   fit stores what fits and returns `Ok(n)` with n < len, or fails with
//!   ENOSPC (raw os error 28) when nothing fits. Truncating frees space at
//!   once, and so does removing a file, unless a handle still holds it open
//!   (then at that handle's close, as on Linux).
//! * **Write error** (`write_error_ppm`; or armed): EIO, nothing stored.
//! * **Short write** (`short_write_ppm`; or armed): a seeded prefix is
//!   stored and `Ok(n)` returned, n < len; an empty prefix is ENOSPC, never
//!   `Ok(0)`.
//! * **Read error** (`read_error_ppm`): EIO from `read_at`, nothing read.
//! * **Metadata error** (`metadata_error_ppm`; truncate also armed): EIO
//!   from an open with create (`Append`, `CreateTruncate`), rename, remove,
//!   truncate, create_dir and fsync_dir, and nothing changes.
//! * **Slow operation** (`slow_ppm`, lasting `slow_ms_min..=slow_ms_max`,
//!   seconds allowed): a synchronous call takes that long, and a background
//!   fsync completes that much later, so it can still run when the next
//!   write comes. Background fsyncs always take `fsync_delay_ms_*` and
//!   synchronous ones `sync_fsync_ms_*` ([`DiskOptions`]). Synchronous time
//!   accumulates until the simulator takes it ([`SimDisk::take_stall_ms`])
//!   and stalls the node's event loop by as much.
//! * **Dying between two calls** ([`SimDisk::die_after_calls`]): once n more
//!   calls have completed, every call does nothing and fails with EIO, until
//!   the crash the simulator then applies.
//!
//! Two corruptions run only in scenarios that check detection (checksums,
//! a refusal to load), never recovery: one node has no copy to repair from.
//! * **Bit flip at rest** ([`SimDisk::flip_bit_at_rest`]): one seeded bit of
//!   a seeded closed file flips, in the page cache and the durable image.
//! * **Misdirected write** (`misdirected_write_ppm`, at most once per disk,
//!   as in TigerBeetle): up to [`MISDIRECTED_BYTES_MAX`] bytes an fsync
//!   makes durable land at another sector-aligned offset of the same file in
//!   the durable image, overwriting what was there, and their own place
//!   keeps its old durable content. Reads see it only after power loss.
//!
//! # Background fsyncs and ordering
//!
//! A background fsync covers what was written before it was submitted. When
//! it completes (unless drawn lost or failed), that becomes durable with the
//! file's length as it was then, or shorter if a truncation came since. It
//! never replaces newer durable content with older: each file has a durable
//! version that only grows, and a completion older than it changes nothing.
//! A violation panics, in the simulator as anywhere.
//!
//! # Promises no fault breaks
//!
//! * A successful fsync not drawn lost keeps exactly what it covered: power
//!   loss never changes a byte it made durable (the two detection-only
//!   corruptions aside).
//! * Durability never moves backwards (asserted).
//! * Reads show exactly the bytes written and not truncated away: no fault
//!   changes the page cache, except a bit flip at rest and power loss.
//! * Torn and garbage sectors only ever replace unsynced bytes.
//! * The disk never panics on a call. Every failure is an `io::Result`
//!   error: EIO (raw os error 5), ENOSPC (28), EISDIR (21) for a file call
//!   on a directory, or a plain error kind for a bad handle, a missing path
//!   or an existing entry.
//! * All randomness comes from the disk's own stream: the same seed and the
//!   same calls give the same bytes, errors and counts.

mod calls;
mod extents;
mod inode;
mod power;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use redoubt_core::env::{DiskOpId, FileId};

use crate::world::rng::SimRng;
use inode::{Covered, Inode, Misdirect};
use power::SectorDraw;

/// The unit power loss tears and misdirected writes align to.
pub const SECTOR_BYTES: u64 = 512;
/// The most bytes one misdirected write moves (one page).
pub const MISDIRECTED_BYTES_MAX: u64 = 4096;
/// Calls kept while recording; later ones are counted, not stored.
pub const CALLS_RECORDED_MAX: usize = 100_000;
/// One in a million: the unit of the `_ppm` knobs.
pub const PPM: u64 = 1_000_000;

/// What a crash keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// The process dies, the kernel and its page cache survive.
    Process,
    /// The machine loses power: only durable data survives, plus what the
    /// power-loss model lets through of the rest.
    PowerLoss,
}

/// Bounds and timing of the simulated disk.
#[derive(Debug, Clone)]
pub struct DiskOptions {
    pub capacity_bytes: u64,
    /// Time a background fsync takes.
    pub fsync_delay_ms_min: u64,
    pub fsync_delay_ms_max: u64,
    /// Time a synchronous fsync holds the caller (0: none).
    pub sync_fsync_ms_min: u64,
    pub sync_fsync_ms_max: u64,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions {
            capacity_bytes: 1 << 30,
            fsync_delay_ms_min: 1,
            fsync_delay_ms_max: 20,
            sync_fsync_ms_min: 0,
            sync_fsync_ms_max: 0,
        }
    }
}

/// How power loss treats each sector of unsynced bytes: relative weights of
/// the four outcomes, and the share of power losses that keep everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerLossModel {
    pub kept_weight: u64,
    pub dropped_weight: u64,
    pub zeroed_weight: u64,
    pub garbage_weight: u64,
    /// Percentage of power losses in which every unsynced byte happens to
    /// be kept (FoundationDB keeps all pending writes 10% of the time).
    pub all_kept_percent: u64,
}

impl Default for PowerLossModel {
    /// A clean loss: every unsynced sector is dropped.
    fn default() -> Self {
        PowerLossModel {
            kept_weight: 0,
            dropped_weight: 1,
            zeroed_weight: 0,
            garbage_weight: 0,
            all_kept_percent: 0,
        }
    }
}

impl PowerLossModel {
    /// Every outcome possible, after FoundationDB's proportions: all kept
    /// 10% of the time, else a quarter of sectors kept and the rest
    /// dropped, torn or garbage.
    pub const fn torn() -> Self {
        PowerLossModel {
            kept_weight: 25,
            dropped_weight: 25,
            zeroed_weight: 25,
            garbage_weight: 25,
            all_kept_percent: 10,
        }
    }
}

/// The knobs of the seeded faults. `Default` is no fault at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFaults {
    pub write_error_ppm: u64,
    pub short_write_ppm: u64,
    pub fsync_error_ppm: u64,
    pub fsync_lost_ppm: u64,
    pub read_error_ppm: u64,
    pub metadata_error_ppm: u64,
    /// Only in scenarios that check detection; fires once per disk at most.
    pub misdirected_write_ppm: u64,
    pub slow_ppm: u64,
    pub slow_ms_min: u64,
    pub slow_ms_max: u64,
    pub power_loss: PowerLossModel,
}

/// What fired so far, by kind. Armed faults count too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskFaultCounts {
    pub write_errors: u64,
    pub short_writes: u64,
    /// Writes refused or cut short by capacity.
    pub enospc_writes: u64,
    pub fsync_errors: u64,
    pub fsyncs_lost: u64,
    pub read_errors: u64,
    pub metadata_errors: u64,
    pub misdirected_writes: u64,
    pub bit_flips: u64,
    pub slow_ops: u64,
    pub power_losses: u64,
    pub sectors_kept: u64,
    pub sectors_dropped: u64,
    pub sectors_zeroed: u64,
    pub sectors_garbage: u64,
    /// Directory entries (files and directories) reverted by power loss.
    pub entries_lost: u64,
}

/// What the disk's bookkeeping cost so far: proof that an fsync is paid by
/// the bytes it touches, not by the file's size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskCost {
    /// Dirty bytes made durable.
    pub bytes_synced: u64,
    /// Bytes copied, zeroed or split to keep durable images right (appends
    /// to the page cache and reads not included).
    pub bytes_copied: u64,
}

/// Faults a test arms by hand. Each counter makes that many of the next
/// calls of its kind fail, then returns to zero.
#[derive(Debug, Default, Clone)]
pub struct ArmedFaults {
    /// The next writes fail with EIO and store nothing.
    pub write_errors: u32,
    /// The next writes store only the first half of their bytes and say so.
    pub short_writes: u32,
    /// The next fsyncs (synchronous or background) fail with EIO, and what
    /// they covered is lost, as after any fsync error.
    pub fsync_errors: u32,
    /// The next truncates fail with EIO.
    pub truncate_errors: u32,
    /// The next directory fsyncs fail with EIO: entries created, renamed
    /// or removed in it since the last one may not survive power loss.
    pub dir_fsync_errors: u32,
}

/// One disk call, as recorded for traces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskCall {
    pub at_ms: u64,
    pub op: &'static str,
    pub path: String,
    pub detail: String,
    /// "ok", "short 12/40", "EIO", "ENOSPC", "lost", ...
    pub outcome: String,
}

type InodeId = u64;

#[derive(Debug, Clone)]
struct OpenFile {
    inode: InodeId,
    readable_only: bool,
    /// The path it was opened by (for recorded calls).
    path: String,
}

/// How an fsync ends, drawn when it is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Durable,
    Lost,
    Failed { errno: i32 },
}

/// A background fsync waiting for its completion event.
#[derive(Debug, Clone)]
struct PendingFsync {
    op: DiskOpId,
    inode: InodeId,
    covered: Covered,
    due_ms: u64,
    fate: Fate,
}

/// What an fsync makes durable: everything, or what a background one
/// covered.
#[derive(Debug, Clone, Copy)]
enum Scope {
    All,
    Covered(Covered),
}

const EIO: i32 = 5;
const ENOSPC: i32 = 28;

fn take_one(counter: &mut u32) -> bool {
    let armed = *counter > 0;
    *counter = counter.saturating_sub(1);
    armed
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(EIO)
}

fn no_space() -> io::Error {
    io::Error::from_raw_os_error(ENOSPC)
}

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))
}

/// The directory part of `path` ("." for a bare name).
pub fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(at) => &path[..at],
        None => ".",
    }
}

fn name_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(at) => &path[at + 1..],
        None => path,
    }
}

fn normalize(path: &str) -> String {
    let trimmed = path.strip_prefix("./").unwrap_or(path);
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() {
        ".".to_string()
    } else {
        trimmed.to_string()
    }
}

/// The simulated file system of one node.
#[derive(Debug)]
pub struct SimDisk {
    options: DiskOptions,
    faults: DiskFaults,
    armed: ArmedFaults,
    counts: DiskFaultCounts,
    cost: DiskCost,
    rng: SimRng,
    now_ms: u64,
    inodes: BTreeMap<InodeId, Inode>,
    /// Path to inode as reads see it.
    entries: BTreeMap<String, InodeId>,
    /// Path to inode as power loss would leave it.
    durable_entries: BTreeMap<String, InodeId>,
    dirs: BTreeSet<String>,
    durable_dirs: BTreeSet<String>,
    open: BTreeMap<FileId, OpenFile>,
    pending: Vec<PendingFsync>,
    next_inode: InodeId,
    next_file: FileId,
    /// Fsyncs of files so far, synchronous or background.
    fsyncs: u64,
    /// Lengths of the inodes still linked or open.
    used_bytes: u64,
    /// Time synchronous calls took that the simulator has not taken yet.
    stall_ms: u64,
    /// Calls left before the process dies (`die_after_calls`).
    calls_left: Option<u64>,
    recording: bool,
    calls: Vec<DiskCall>,
    calls_dropped: u64,
    /// Remarks on the current call for its record ("lost", "slow").
    notes: Vec<&'static str>,
}

impl SimDisk {
    pub fn new(options: DiskOptions, rng: SimRng) -> Self {
        let root: BTreeSet<String> = [".".to_string(), "/".to_string()].into();
        SimDisk {
            options,
            faults: DiskFaults::default(),
            armed: ArmedFaults::default(),
            counts: DiskFaultCounts::default(),
            cost: DiskCost::default(),
            rng,
            now_ms: 0,
            inodes: BTreeMap::new(),
            entries: BTreeMap::new(),
            durable_entries: BTreeMap::new(),
            dirs: root.clone(),
            durable_dirs: root,
            open: BTreeMap::new(),
            pending: Vec::new(),
            next_inode: 1,
            next_file: 1,
            fsyncs: 0,
            used_bytes: 0,
            stall_ms: 0,
            calls_left: None,
            recording: false,
            calls: Vec::new(),
            calls_dropped: 0,
            notes: Vec::new(),
        }
    }

    /// The faults armed for the next calls.
    pub fn arm(&mut self) -> &mut ArmedFaults {
        &mut self.armed
    }

    /// Sets the seeded fault knobs from now on.
    pub fn set_faults(&mut self, faults: DiskFaults) {
        self.faults = faults;
    }

    pub fn faults(&self) -> &DiskFaults {
        &self.faults
    }

    /// The quiet phase: no fault of any kind from now on, armed ones
    /// included. (Capacity is the simulator's to restore.)
    pub fn heal(&mut self) {
        self.faults = DiskFaults::default();
        self.armed = ArmedFaults::default();
    }

    /// What fired so far.
    pub fn counts(&self) -> DiskFaultCounts {
        self.counts.clone()
    }

    /// The bookkeeping cost so far.
    pub fn cost(&self) -> DiskCost {
        self.cost
    }

    /// Tells the disk the current simulated time (for completion times).
    pub fn set_now_ms(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// The capacity in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.options.capacity_bytes
    }

    /// Changes the capacity, as a full or freed disk would.
    pub fn set_capacity_bytes(&mut self, capacity_bytes: u64) {
        self.options.capacity_bytes = capacity_bytes;
    }

    /// Fsyncs of files so far, synchronous or background.
    pub fn fsync_count(&self) -> u64 {
        self.fsyncs
    }

    /// Bytes of the files still linked or open, as capacity counts them.
    pub fn used_bytes_total(&self) -> u64 {
        self.used_bytes
    }

    /// Bytes a write may still add.
    pub fn free_bytes(&self) -> u64 {
        self.options.capacity_bytes.saturating_sub(self.used_bytes)
    }

    /// Time synchronous calls took since the last call; the simulator
    /// stalls the node's event loop by it.
    pub fn take_stall_ms(&mut self) -> u64 {
        std::mem::take(&mut self.stall_ms)
    }

    /// The process dies once `calls` more disk calls have completed: every
    /// later call does nothing and fails with EIO.
    pub fn die_after_calls(&mut self, calls: u64) {
        self.calls_left = Some(calls);
    }

    /// Whether the process has made its last disk call.
    pub fn is_dead(&self) -> bool {
        self.calls_left == Some(0)
    }

    /// Calls succeed again (a crash does this too).
    pub fn revive(&mut self) {
        self.calls_left = None;
    }

    /// Records every call from now on, or stops.
    pub fn set_recording(&mut self, recording: bool) {
        self.recording = recording;
        self.notes.clear();
    }

    /// The calls recorded since the last take.
    pub fn take_calls(&mut self) -> Vec<DiskCall> {
        std::mem::take(&mut self.calls)
    }

    /// Calls not recorded because [`CALLS_RECORDED_MAX`] were waiting.
    pub fn calls_dropped(&self) -> u64 {
        self.calls_dropped
    }

    /// Replaces the bytes of an existing file, page cache and durable image
    /// both: how a test lays down a torn tail or a flipped bit.
    pub fn overwrite(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let inode = *self
            .entries
            .get(&normalize(path))
            .ok_or_else(|| not_found(path))?;
        let inode = self.inodes.get_mut(&inode).expect("entry has an inode");
        inode.overwrite(bytes);
        self.settle();
        Ok(())
    }

    /// The bytes a reader of `path` would see (tests and checkers).
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        let inode = self.entries.get(&normalize(path))?;
        Some(&self.inodes[inode].cache)
    }

    /// The bytes of `path` that power loss would keep if it dropped every
    /// unsynced sector (built whole: tests and checkers only).
    pub fn durable_contents(&self, path: &str) -> Option<Vec<u8>> {
        let inode = self.durable_entries.get(&normalize(path))?;
        Some(self.inodes[inode].durable_image())
    }

    /// Panics if any file's representation is inconsistent.
    pub fn check_invariants(&self) {
        for inode in self.inodes.values() {
            inode.check();
        }
        let used: u64 = self.live_inodes().map(|id| self.inodes[&id].len()).sum();
        assert_eq!(used, self.used_bytes, "used bytes kept in step");
    }

    /// Whether a fault with this chance fires now. Draws nothing at zero.
    fn fires(&mut self, ppm: u64) -> bool {
        ppm > 0 && self.rng.range(0, PPM - 1) < ppm
    }

    /// A seeded duration, or nothing drawn when the range is empty.
    fn draw_ms(&mut self, min: u64, max: u64) -> u64 {
        self.rng.range(min, max)
    }

    /// A slow operation, drawn once per call: its extra time, or 0.
    fn draw_slow_ms(&mut self) -> u64 {
        if !self.fires(self.faults.slow_ppm) {
            return 0;
        }
        self.counts.slow_ops += 1;
        self.note("slow");
        self.draw_ms(self.faults.slow_ms_min, self.faults.slow_ms_max)
    }

    /// Remarks on the current call, kept only while recording.
    fn note(&mut self, note: &'static str) {
        if self.recording {
            self.notes.push(note);
        }
    }

    /// Inodes a path or a handle still reaches.
    fn live_inodes(&self) -> impl Iterator<Item = InodeId> + '_ {
        let linked: BTreeSet<InodeId> = self.entries.values().copied().collect();
        self.inodes
            .iter()
            .filter(move |(id, inode)| inode.handles > 0 || linked.contains(id))
            .map(|(id, _)| *id)
    }

    /// After links or handles changed: forgets inodes nothing can reach
    /// any more (not even power loss) and recounts used bytes.
    fn settle(&mut self) {
        let mut kept: BTreeSet<InodeId> = self.entries.values().copied().collect();
        kept.extend(self.durable_entries.values().copied());
        self.inodes
            .retain(|id, inode| inode.handles > 0 || kept.contains(id));
        let used = self.live_inodes().map(|id| self.inodes[&id].len()).sum();
        self.used_bytes = used;
    }

    /// Draws how an fsync ends: armed errors first, then the knobs.
    fn draw_fate(&mut self) -> Fate {
        if take_one(&mut self.armed.fsync_errors) {
            return Fate::Failed { errno: EIO };
        }
        if self.fires(self.faults.fsync_error_ppm) {
            let errno = if self.rng.percent(25) { ENOSPC } else { EIO };
            return Fate::Failed { errno };
        }
        if self.fires(self.faults.fsync_lost_ppm) {
            return Fate::Lost;
        }
        Fate::Durable
    }

    /// Carries out an fsync's fate on `inode`.
    fn settle_fsync(&mut self, inode: InodeId, scope: Scope, fate: Fate) -> io::Result<()> {
        match fate {
            Fate::Durable => self.make_durable(inode, scope),
            Fate::Lost => {
                self.counts.fsyncs_lost += 1;
                self.note("lost");
                self.lose(inode, scope);
            }
            Fate::Failed { errno } => {
                self.counts.fsync_errors += 1;
                self.lose(inode, scope);
                return Err(io::Error::from_raw_os_error(errno));
            }
        }
        Ok(())
    }

    /// What `scope` covers becomes lost: never durable.
    fn lose(&mut self, id: InodeId, scope: Scope) {
        let Some(inode) = self.inodes.get_mut(&id) else {
            return;
        };
        self.cost.bytes_copied += match scope {
            Scope::All => inode.lose_all(),
            Scope::Covered(covered) => inode.lose_through(covered.version),
        };
    }

    /// What `scope` covers becomes durable, perhaps misdirected.
    fn make_durable(&mut self, id: InodeId, scope: Scope) {
        let misdirect = self.draw_misdirect(id, scope);
        let Some(inode) = self.inodes.get_mut(&id) else {
            return;
        };
        let moved = match scope {
            Scope::All => inode.sync_all(misdirect),
            Scope::Covered(covered) => inode.sync_covered(covered, misdirect),
        };
        self.cost.bytes_synced += moved.synced;
        self.cost.bytes_copied += moved.copied;
    }

    /// Whether this fsync misdirects a write, and where: the first
    /// [`MISDIRECTED_BYTES_MAX`] bytes of a seeded range it makes durable
    /// land at a seeded sector-aligned offset elsewhere in the file.
    fn draw_misdirect(&mut self, id: InodeId, scope: Scope) -> Option<Misdirect> {
        if self.counts.misdirected_writes > 0 || !self.fires(self.faults.misdirected_write_ppm) {
            return None;
        }
        let inode = self.inodes.get(&id)?;
        let (version, durable_len) = match scope {
            Scope::All => (u64::MAX, inode.len()),
            Scope::Covered(covered) if covered.version > inode.durable_version => {
                (covered.version, covered.durable_len())
            }
            Scope::Covered(_) => return None,
        };
        let ranges: Vec<_> = inode
            .dirty
            .iter()
            .filter(|e| e.version <= version)
            .copied()
            .collect();
        if ranges.is_empty() {
            return None;
        }
        let range = ranges[self.rng.index(ranges.len())];
        let end = range.end.min(range.start + MISDIRECTED_BYTES_MAX);
        let target = self.draw_target(range.start, end, durable_len)?;
        self.counts.misdirected_writes += 1;
        self.note("misdirected");
        Some(Misdirect {
            start: range.start,
            end,
            target,
        })
    }

    /// A sector-aligned offset where `start..end` fits inside `len` bytes
    /// without touching its own place, drawn evenly; `None` if none fits.
    fn draw_target(&mut self, start: u64, end: u64, len: u64) -> Option<u64> {
        let length = end - start;
        let last = len.checked_sub(length)? / SECTOR_BYTES;
        let before = match start.checked_sub(length) {
            Some(highest) => (highest / SECTOR_BYTES + 1).min(last + 1),
            None => 0,
        };
        let first_after = end.div_ceil(SECTOR_BYTES);
        let after = (last + 1).saturating_sub(first_after);
        if before + after == 0 {
            return None;
        }
        let slot = self.rng.range(0, before + after - 1);
        let slot = if slot < before {
            slot
        } else {
            first_after + slot - before
        };
        Some(slot * SECTOR_BYTES)
    }

    /// Background fsyncs whose completion is due by `now_ms`, in submission
    /// order: applies each and returns its id and result. A dead process
    /// receives nothing (its crash will drop them).
    pub fn complete_due(&mut self, now_ms: u64) -> Vec<(DiskOpId, io::Result<()>)> {
        if self.is_dead() {
            return Vec::new();
        }
        let (due, waiting): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.due_ms <= now_ms);
        self.pending = waiting;
        let mut done = Vec::with_capacity(due.len());
        for pending in due {
            let scope = Scope::Covered(pending.covered);
            let result = self.settle_fsync(pending.inode, scope, pending.fate);
            if self.recording {
                self.record_completion(&pending, &result);
            }
            done.push((pending.op, result));
        }
        done
    }

    /// Completion times of the background fsyncs still pending.
    pub fn pending_due_ms(&self) -> Vec<u64> {
        self.pending.iter().map(|p| p.due_ms).collect()
    }

    /// Simulates a crash of the given kind. Open handles and pending
    /// background fsyncs are gone afterwards either way, and the process
    /// may call again.
    pub fn crash(&mut self, kind: CrashKind) {
        self.open.clear();
        self.pending.clear();
        self.calls_left = None;
        for inode in self.inodes.values_mut() {
            inode.handles = 0;
        }
        if kind == CrashKind::PowerLoss {
            self.lose_power();
        }
        self.settle();
        if self.recording {
            let detail = format!("{kind:?}");
            self.record("crash", String::new(), detail, "ok".to_string());
        }
    }

    /// Power loss: entries revert to their durable state, and each file
    /// keeps its durable image plus what the model lets through.
    fn lose_power(&mut self) {
        self.counts.power_losses += 1;
        self.counts.entries_lost += self.entries_reverted();
        self.entries = self.durable_entries.clone();
        self.dirs = self.durable_dirs.clone();
        let model = self.faults.power_loss;
        let all_kept = model.all_kept_percent > 0 && self.rng.percent(model.all_kept_percent);
        let reached: BTreeSet<InodeId> = self.entries.values().copied().collect();
        let mut draw = SectorDraw {
            rng: &mut self.rng,
            model,
            all_kept,
            counts: &mut self.counts,
        };
        for id in reached {
            let inode = self
                .inodes
                .get_mut(&id)
                .expect("durable entry has an inode");
            self.cost.bytes_copied += power::lose_power(inode, &mut draw);
        }
    }

    /// Entries (files and directories) that differ between the visible and
    /// the durable view.
    fn entries_reverted(&self) -> u64 {
        let paths: BTreeSet<&String> = self
            .entries
            .keys()
            .chain(self.durable_entries.keys())
            .collect();
        let files = paths
            .into_iter()
            .filter(|path| self.entries.get(*path) != self.durable_entries.get(*path))
            .count();
        let dirs = self.dirs.symmetric_difference(&self.durable_dirs).count();
        (files + dirs) as u64
    }

    /// Flips one seeded bit of a seeded closed file whose path contains
    /// `path_contains` (empty: any), in the page cache and the durable
    /// image; returns the file and the byte offset. `None` if no such
    /// closed file holds durable bytes. Detection scenarios only.
    pub fn flip_bit_at_rest(&mut self, path_contains: &str) -> Option<(String, u64)> {
        let candidates: Vec<(String, InodeId, u64)> = self
            .entries
            .iter()
            .filter(|(path, _)| path.contains(path_contains))
            .filter_map(|(path, id)| {
                let inode = &self.inodes[id];
                let len = inode.len().min(inode.durable_len);
                (inode.handles == 0 && len > 0).then(|| (path.clone(), *id, len))
            })
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let (path, id, len) = candidates[self.rng.index(candidates.len())].clone();
        let offset = self.rng.range(0, len - 1);
        let mask = 1u8 << self.rng.range(0, 7);
        self.inodes
            .get_mut(&id)
            .expect("candidate")
            .flip(offset, mask);
        self.counts.bit_flips += 1;
        if self.recording {
            self.record(
                "bit_flip",
                path.clone(),
                format!("byte {offset}"),
                "ok".into(),
            );
        }
        Some((path, offset))
    }

    /// Appends one call to the record, within its bound.
    fn record(&mut self, op: &'static str, path: String, detail: String, outcome: String) {
        if self.calls.len() >= CALLS_RECORDED_MAX {
            self.calls_dropped += 1;
            return;
        }
        self.calls.push(DiskCall {
            at_ms: self.now_ms,
            op,
            path,
            detail,
            outcome,
        });
    }
}
