//! `SimDisk`: core's `Disk` over memory, with the page cache and the platter
//! kept apart.
//!
//! # Fault model
//!
//! Per file (inode) the disk keeps `written` bytes (what reads see: the page
//! cache) and `durable` bytes (what survives power loss). Per directory it
//! keeps the visible entries and the durable entries separately: a create,
//! rename or remove becomes durable only when its directory is fsynced.
//! `fsync` makes a file's written bytes durable; `fsync_background`
//! snapshots them at submission and makes that snapshot durable when its
//! completion event fires, after a seeded delay.
//!
//! Crash kinds ([`CrashKind`]):
//! * process crash: the kernel survives, so every written byte and every
//!   visible entry is kept; open handles and pending background fsyncs die;
//! * power loss: only durable bytes under durable entries are kept.
//!
//! Faults to be injected in a later change, per seed: torn writes on power
//! loss (some sectors of the unsynced remainder written, some dropped, some
//! garbage), lost fsync (success reported, nothing persisted), fsync EIO
//! (and the affected pages lost afterwards), ENOSPC on write and fsync, also
//! as short writes, read errors, bit flips on read, misdirected writes, and a
//! missing directory fsync (entries lost on power loss).
//!
//! Promises, never broken by any fault: a successful fsync (not one marked
//! lost) keeps exactly what it covered; durable data is never changed except
//! by the named corruption faults, which run only in scenarios that check
//! detection rather than recovery; a fault never corrupts data a reader has
//! no way to detect (checksummed formats aside, corruption is confined to
//! the tail of the last written file); the disk never panics on a call, and
//! every failure is an `io::Result` error.

use std::collections::{BTreeMap, BTreeSet};
use std::io;

use redoubt_core::env::{Disk, DiskOpId, FileId, OpenMode};

use crate::world::rng::SimRng;

/// What a crash keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashKind {
    /// The process dies, the kernel and its page cache survive.
    Process,
    /// The machine loses power: only durable data survives.
    PowerLoss,
}

/// Bounds of the simulated disk.
#[derive(Debug, Clone)]
pub struct DiskOptions {
    pub capacity_bytes: u64,
    pub fsync_delay_ms_min: u64,
    pub fsync_delay_ms_max: u64,
}

impl Default for DiskOptions {
    fn default() -> Self {
        DiskOptions {
            capacity_bytes: 1 << 30,
            fsync_delay_ms_min: 1,
            fsync_delay_ms_max: 20,
        }
    }
}

type InodeId = u64;

#[derive(Debug, Default, Clone)]
struct Inode {
    written: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Clone)]
struct OpenFile {
    inode: InodeId,
    readable_only: bool,
}

/// A background fsync waiting for its completion event.
#[derive(Debug, Clone)]
struct PendingFsync {
    op: DiskOpId,
    inode: InodeId,
    snapshot: Vec<u8>,
    due_ms: u64,
    /// Armed to fail: completes with EIO and persists nothing.
    fails: bool,
}

/// Faults a test arms by hand. Each counter makes that many of the next
/// calls of its kind fail, then returns to zero. (Seeded injection of the
/// same faults comes with the fault-injection scenarios.)
#[derive(Debug, Default, Clone)]
pub struct ArmedFaults {
    /// The next writes fail with EIO and store nothing.
    pub write_errors: u32,
    /// The next writes store only the first half of their bytes and say so.
    pub short_writes: u32,
    /// The next fsyncs (synchronous or background) fail with EIO; the
    /// written bytes stay readable but are not made durable, as Linux marks
    /// the pages clean after a failed fsync.
    pub fsync_errors: u32,
    /// The next truncates fail with EIO.
    pub truncate_errors: u32,
}

fn take_one(counter: &mut u32) -> bool {
    let armed = *counter > 0;
    *counter = counter.saturating_sub(1);
    armed
}

fn eio() -> io::Error {
    io::Error::from_raw_os_error(5)
}

/// The simulated file system of one node.
#[derive(Debug)]
pub struct SimDisk {
    options: DiskOptions,
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
    armed: ArmedFaults,
    /// Fsyncs of files so far, synchronous or background (group commit is
    /// measured by it).
    fsyncs: u64,
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

fn not_found(path: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{path}: no such file"))
}

fn no_space() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl SimDisk {
    pub fn new(options: DiskOptions, rng: SimRng) -> Self {
        let root: BTreeSet<String> = [".".to_string(), "/".to_string()].into();
        SimDisk {
            options,
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
            armed: ArmedFaults::default(),
            fsyncs: 0,
        }
    }

    /// The faults armed for the next calls.
    pub fn arm(&mut self) -> &mut ArmedFaults {
        &mut self.armed
    }

    /// Replaces the bytes of an existing file, both written and durable:
    /// how a test lays down a torn tail or a flipped bit before a restart.
    pub fn overwrite(&mut self, path: &str, bytes: &[u8]) -> io::Result<()> {
        let inode = *self
            .entries
            .get(&normalize(path))
            .ok_or_else(|| not_found(path))?;
        let inode = self.inodes.get_mut(&inode).expect("entry has an inode");
        inode.written = bytes.to_vec();
        inode.durable = bytes.to_vec();
        Ok(())
    }

    /// Tells the disk the current simulated time (for completion times).
    pub fn set_now_ms(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
    }

    /// Changes the capacity, as a full or freed disk would.
    pub fn set_capacity_bytes(&mut self, capacity_bytes: u64) {
        self.options.capacity_bytes = capacity_bytes;
    }

    /// Fsyncs of files so far, synchronous or background.
    pub fn fsync_count(&self) -> u64 {
        self.fsyncs
    }

    /// Bytes stored in all files, as capacity counts them.
    pub fn used_bytes_total(&self) -> u64 {
        self.used_bytes()
    }

    fn used_bytes(&self) -> u64 {
        self.inodes.values().map(|i| i.written.len() as u64).sum()
    }

    fn file(&self, file: FileId) -> io::Result<&OpenFile> {
        self.open
            .get(&file)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad file id"))
    }

    fn inode_mut(&mut self, file: FileId) -> io::Result<&mut Inode> {
        let inode = self.file(file)?.inode;
        Ok(self.inodes.get_mut(&inode).expect("open file has an inode"))
    }

    /// Background fsyncs whose completion is due by `now_ms`, in submission
    /// order: applies each and returns its id and result.
    pub fn complete_due(&mut self, now_ms: u64) -> Vec<(DiskOpId, io::Result<()>)> {
        let (due, waiting): (Vec<_>, Vec<_>) =
            self.pending.drain(..).partition(|p| p.due_ms <= now_ms);
        self.pending = waiting;
        due.into_iter()
            .map(|pending| {
                if pending.fails {
                    return (pending.op, Err(eio()));
                }
                if let Some(inode) = self.inodes.get_mut(&pending.inode) {
                    inode.durable = pending.snapshot;
                }
                (pending.op, Ok(()))
            })
            .collect()
    }

    /// Completion times of the background fsyncs still pending.
    pub fn pending_due_ms(&self) -> Vec<u64> {
        self.pending.iter().map(|p| p.due_ms).collect()
    }

    /// Simulates a crash of the given kind. Open handles and pending
    /// background fsyncs are gone afterwards either way.
    pub fn crash(&mut self, kind: CrashKind) {
        self.open.clear();
        self.pending.clear();
        if kind == CrashKind::PowerLoss {
            self.entries = self.durable_entries.clone();
            self.dirs = self.durable_dirs.clone();
            for inode in self.inodes.values_mut() {
                inode.written = inode.durable.clone();
            }
        }
        let live: BTreeSet<InodeId> = self.entries.values().copied().collect();
        self.inodes.retain(|id, _| live.contains(id));
    }

    /// The bytes a reader of `path` would see (tests and checkers).
    pub fn contents(&self, path: &str) -> Option<&[u8]> {
        let inode = self.entries.get(&normalize(path))?;
        Some(&self.inodes[inode].written)
    }

    /// The bytes of `path` that power loss would keep.
    pub fn durable_contents(&self, path: &str) -> Option<&[u8]> {
        let inode = self.durable_entries.get(&normalize(path))?;
        Some(&self.inodes[inode].durable)
    }

    fn create(&mut self, path: &str) -> InodeId {
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(inode, Inode::default());
        self.entries.insert(path.to_string(), inode);
        inode
    }

    fn handle(&mut self, inode: InodeId, readable_only: bool) -> FileId {
        let file = self.next_file;
        self.next_file += 1;
        self.open.insert(
            file,
            OpenFile {
                inode,
                readable_only,
            },
        );
        file
    }

    fn check_parent(&self, path: &str) -> io::Result<()> {
        if self.dirs.contains(parent_dir(path)) {
            Ok(())
        } else {
            Err(not_found(parent_dir(path)))
        }
    }
}

impl Disk for SimDisk {
    fn open(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId> {
        let path = normalize(path);
        let existing = self.entries.get(&path).copied();
        let inode = match (mode, existing) {
            (OpenMode::Read, None) => return Err(not_found(&path)),
            (_, Some(inode)) => inode,
            (_, None) => {
                self.check_parent(&path)?;
                self.create(&path)
            }
        };
        if mode == OpenMode::CreateTruncate {
            self.inodes.get_mut(&inode).expect("entry").written.clear();
        }
        Ok(self.handle(inode, mode == OpenMode::Read))
    }

    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        if self.file(file)?.readable_only {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "read only"));
        }
        let free = self
            .options
            .capacity_bytes
            .saturating_sub(self.used_bytes());
        if free == 0 && !data.is_empty() {
            return Err(no_space());
        }
        if take_one(&mut self.armed.write_errors) {
            return Err(eio());
        }
        let mut length = data.len().min(free as usize);
        if take_one(&mut self.armed.short_writes) {
            length = length.min(data.len() / 2);
        }
        self.inode_mut(file)?
            .written
            .extend_from_slice(&data[..length]);
        Ok(length)
    }

    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let inode = self.inode_mut(file)?;
        let start = (offset as usize).min(inode.written.len());
        let length = buf.len().min(inode.written.len() - start);
        buf[..length].copy_from_slice(&inode.written[start..start + length]);
        Ok(length)
    }

    fn size(&mut self, file: FileId) -> io::Result<u64> {
        Ok(self.inode_mut(file)?.written.len() as u64)
    }

    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()> {
        if take_one(&mut self.armed.truncate_errors) {
            return Err(eio());
        }
        let inode = self.inode_mut(file)?;
        inode.written.resize(len as usize, 0);
        Ok(())
    }

    fn fsync(&mut self, file: FileId) -> io::Result<()> {
        self.fsyncs += 1;
        if take_one(&mut self.armed.fsync_errors) {
            self.file(file)?;
            return Err(eio());
        }
        let inode = self.inode_mut(file)?;
        inode.durable = inode.written.clone();
        Ok(())
    }

    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()> {
        let inode = self.file(file)?.inode;
        self.fsyncs += 1;
        let snapshot = self.inodes[&inode].written.clone();
        let delay_ms = self.rng.range(
            self.options.fsync_delay_ms_min,
            self.options.fsync_delay_ms_max,
        );
        self.pending.push(PendingFsync {
            op,
            inode,
            snapshot,
            due_ms: self.now_ms + delay_ms,
            fails: take_one(&mut self.armed.fsync_errors),
        });
        Ok(())
    }

    fn close_file(&mut self, file: FileId) -> io::Result<()> {
        self.open
            .remove(&file)
            .map(|_| ())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad file id"))
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        self.check_parent(&to)?;
        let inode = self.entries.remove(&from).ok_or_else(|| not_found(&from))?;
        self.entries.insert(to, inode);
        Ok(())
    }

    fn remove(&mut self, path: &str) -> io::Result<()> {
        let path = normalize(path);
        self.entries.remove(&path).ok_or_else(|| not_found(&path))?;
        Ok(())
    }

    fn list(&mut self, dir: &str) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        if !self.dirs.contains(&dir) {
            return Err(not_found(&dir));
        }
        let files = self.entries.keys().map(String::as_str);
        let subdirs = self.dirs.iter().map(String::as_str);
        let names: BTreeSet<String> = files
            .chain(subdirs)
            .filter(|path| *path != dir && parent_dir(path) == dir)
            .map(|path| name_of(path).to_string())
            .collect();
        Ok(names.into_iter().collect())
    }

    fn create_dir(&mut self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        if self.dirs.contains(&dir) || self.entries.contains_key(&dir) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, dir));
        }
        self.check_parent(&dir)?;
        self.dirs.insert(dir);
        Ok(())
    }

    fn fsync_dir(&mut self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        if !self.dirs.contains(&dir) {
            return Err(not_found(&dir));
        }
        let inside = |path: &String| parent_dir(path) == dir && *path != dir;
        self.durable_entries.retain(|path, _| !inside(path));
        let visible = self.entries.iter().filter(|(path, _)| inside(path));
        let visible: Vec<(String, InodeId)> = visible.map(|(p, i)| (p.clone(), *i)).collect();
        self.durable_entries.extend(visible);
        self.durable_dirs.retain(|path| !inside(path));
        let subdirs: Vec<String> = self.dirs.iter().filter(|p| inside(p)).cloned().collect();
        self.durable_dirs.extend(subdirs);
        Ok(())
    }

    fn free_space(&mut self, _path: &str) -> io::Result<u64> {
        Ok(self
            .options
            .capacity_bytes
            .saturating_sub(self.used_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disk() -> SimDisk {
        SimDisk::new(DiskOptions::default(), SimRng::new(1, 3))
    }

    fn write_file(disk: &mut SimDisk, path: &str, data: &[u8]) -> FileId {
        let file = disk.open(path, OpenMode::Append).unwrap();
        assert_eq!(disk.write(file, data).unwrap(), data.len());
        file
    }

    /// A process crash keeps written bytes; power loss keeps only durable.
    #[test]
    fn crash_kinds_keep_written_or_durable() {
        for kind in [CrashKind::Process, CrashKind::PowerLoss] {
            let mut disk = disk();
            let file = write_file(&mut disk, "a.aof", b"synced");
            disk.fsync(file).unwrap();
            disk.fsync_dir(".").unwrap();
            disk.write(file, b"+unsynced").unwrap();
            disk.crash(kind);
            let expected: &[u8] = match kind {
                CrashKind::Process => b"synced+unsynced",
                CrashKind::PowerLoss => b"synced",
            };
            assert_eq!(disk.contents("a.aof").unwrap(), expected);
            assert!(disk.open("a.aof", OpenMode::Read).is_ok());
        }
    }

    /// A new file whose directory was never fsynced vanishes on power loss,
    /// even if its data was fsynced.
    #[test]
    fn new_entry_needs_dir_fsync() {
        let mut disk = disk();
        let file = write_file(&mut disk, "new.rdb", b"data");
        disk.fsync(file).unwrap();
        disk.crash(CrashKind::PowerLoss);
        assert!(disk.contents("new.rdb").is_none());
        assert_eq!(disk.list(".").unwrap(), Vec::<String>::new());
    }

    /// A rename is visible at once and durable only after the dir fsync;
    /// before it, power loss brings the old names back.
    #[test]
    fn rename_and_remove_follow_dir_fsync() {
        let mut disk = disk();
        let old = write_file(&mut disk, "dump.rdb", b"old");
        disk.fsync(old).unwrap();
        let temp = write_file(&mut disk, "temp.rdb", b"new");
        disk.fsync(temp).unwrap();
        disk.fsync_dir(".").unwrap();
        disk.rename("temp.rdb", "dump.rdb").unwrap();
        assert_eq!(disk.list(".").unwrap(), vec!["dump.rdb".to_string()]);
        assert_eq!(disk.contents("dump.rdb").unwrap(), b"new");
        let mut lost = disk_clone_by_replay();
        lost.crash(CrashKind::PowerLoss);
        disk.fsync_dir(".").unwrap();
        disk.crash(CrashKind::PowerLoss);
        assert_eq!(disk.contents("dump.rdb").unwrap(), b"new");
        assert!(disk.contents("temp.rdb").is_none());
        assert_eq!(lost.contents("dump.rdb").unwrap(), b"old");
        assert_eq!(lost.contents("temp.rdb").unwrap(), b"new");
        disk.remove("dump.rdb").unwrap();
        assert!(disk.open("dump.rdb", OpenMode::Read).is_err());
        disk.crash(CrashKind::PowerLoss);
        assert_eq!(disk.contents("dump.rdb").unwrap(), b"new");
    }

    /// The same steps as above up to the unsynced rename.
    fn disk_clone_by_replay() -> SimDisk {
        let mut disk = disk();
        let old = write_file(&mut disk, "dump.rdb", b"old");
        disk.fsync(old).unwrap();
        let temp = write_file(&mut disk, "temp.rdb", b"new");
        disk.fsync(temp).unwrap();
        disk.fsync_dir(".").unwrap();
        disk.rename("temp.rdb", "dump.rdb").unwrap();
        disk
    }

    /// Directories list files and subdirectories; a subdirectory needs its
    /// parent fsynced to survive power loss.
    #[test]
    fn directories_list_and_survive() {
        let mut disk = disk();
        disk.create_dir("appendonlydir").unwrap();
        assert!(disk.create_dir("appendonlydir").is_err());
        write_file(&mut disk, "appendonlydir/a.1.incr.aof", b"x");
        write_file(&mut disk, "appendonlydir/a.1.base.rdb", b"y");
        assert_eq!(
            disk.list("appendonlydir").unwrap(),
            vec!["a.1.base.rdb".to_string(), "a.1.incr.aof".to_string()]
        );
        assert_eq!(disk.list(".").unwrap(), vec!["appendonlydir".to_string()]);
        assert!(disk.open("missing/x", OpenMode::Append).is_err());
        disk.fsync_dir(".").unwrap();
        disk.crash(CrashKind::PowerLoss);
        assert_eq!(disk.list("appendonlydir").unwrap(), Vec::<String>::new());
    }

    /// A background fsync makes its snapshot durable only when it completes.
    #[test]
    fn background_fsync_completes_later() {
        let mut disk = disk();
        let file = write_file(&mut disk, "a.aof", b"one");
        disk.fsync_dir(".").unwrap();
        disk.fsync_background(file, 9).unwrap();
        disk.write(file, b"two").unwrap();
        assert_eq!(disk.durable_contents("a.aof").unwrap(), b"");
        let due = disk.pending_due_ms()[0];
        assert!(due >= 1);
        assert!(disk.complete_due(due - 1).is_empty());
        let done = disk.complete_due(due);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].0, 9);
        assert_eq!(disk.durable_contents("a.aof").unwrap(), b"one");
    }

    /// Writes beyond the capacity are short, then fail with ENOSPC.
    #[test]
    fn full_disk_gives_short_writes_then_enospc() {
        let mut disk = SimDisk::new(
            DiskOptions {
                capacity_bytes: 4,
                ..DiskOptions::default()
            },
            SimRng::new(1, 3),
        );
        let file = disk.open("f", OpenMode::Append).unwrap();
        assert_eq!(disk.write(file, b"abcdef").unwrap(), 4);
        assert_eq!(disk.free_space(".").unwrap(), 0);
        let error = disk.write(file, b"g").unwrap_err();
        assert_eq!(error.raw_os_error(), Some(28));
        disk.truncate(file, 1).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(disk.read_at(file, 0, &mut buf).unwrap(), 1);
        assert_eq!(&buf[..1], b"a");
    }
}
