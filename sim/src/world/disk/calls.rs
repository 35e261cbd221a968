//! The calls core makes through `Disk`. Each passes one gate (a dead
//! process fails with EIO and changes nothing; a live one counts the call
//! toward its death and may be slow), does its one job drawing its own
//! faults, and is recorded when recording is on. Nothing is formatted when
//! it is off.

use std::io;

use redoubt_core::env::{Disk, DiskOpId, FileId, OpenMode};

use super::inode::Covered;
use super::{
    eio, name_of, no_space, normalize, not_found, parent_dir, take_one, InodeId, OpenFile,
    PendingFsync, Scope, SimDisk, EIO, ENOSPC,
};

fn bad_handle() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "bad file id")
}

fn read_only() -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, "file opened read only")
}

/// EISDIR: a file call on a directory's path.
fn is_a_directory() -> io::Error {
    io::Error::from_raw_os_error(21)
}

/// How a recorded call names an error.
fn error_name(error: &io::Error) -> String {
    match (error.raw_os_error(), error.kind()) {
        (Some(EIO), _) => "EIO".to_string(),
        (Some(ENOSPC), _) => "ENOSPC".to_string(),
        (Some(code), _) => format!("errno {code}"),
        (None, io::ErrorKind::NotFound) => "ENOENT".to_string(),
        (None, io::ErrorKind::AlreadyExists) => "EEXIST".to_string(),
        (None, io::ErrorKind::InvalidInput | io::ErrorKind::PermissionDenied) => {
            "EBADF".to_string()
        }
        (None, kind) => format!("{kind:?}"),
    }
}

fn plain<T>(_: &T) -> String {
    "ok".to_string()
}

impl SimDisk {
    /// The gate of every call. A slow call adds to the stall, unless the
    /// caller (a background fsync) spends its slowness elsewhere.
    fn gate<T>(
        &mut self,
        slow_stalls: bool,
        body: impl FnOnce(&mut Self) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.is_dead() {
            self.note("dead");
            return Err(eio());
        }
        if let Some(left) = self.calls_left.as_mut() {
            *left -= 1;
        }
        let result = body(self);
        if slow_stalls {
            self.stall_ms += self.draw_slow_ms();
        }
        result
    }

    /// Records a finished call (only while recording).
    fn finish<T>(
        &mut self,
        op: &'static str,
        path: impl FnOnce() -> String,
        detail: impl FnOnce() -> String,
        result: &io::Result<T>,
        ok: impl FnOnce(&T) -> String,
    ) {
        if !self.recording {
            return;
        }
        let base = match result {
            Ok(value) => ok(value),
            Err(error) => error_name(error),
        };
        let notes = std::mem::take(&mut self.notes).join(",");
        let outcome = match (notes.is_empty(), base == "ok") {
            (true, _) => base,
            (false, true) => notes,
            (false, false) => format!("{base},{notes}"),
        };
        self.record(op, path(), detail(), outcome);
    }

    /// Records a background fsync's completion.
    pub(super) fn record_completion(&mut self, pending: &PendingFsync, result: &io::Result<()>) {
        let path = self
            .entries
            .iter()
            .find(|(_, id)| **id == pending.inode)
            .map(|(path, _)| path.clone())
            .unwrap_or_default();
        let detail = || format!("op {}", pending.op);
        self.finish("fsync_done", || path, detail, result, plain);
    }

    /// The path a handle was opened by, when it will be recorded.
    fn recorded_path(&self, file: FileId) -> String {
        match self.recording {
            true => self
                .open
                .get(&file)
                .map(|f| f.path.clone())
                .unwrap_or_default(),
            false => String::new(),
        }
    }

    fn file(&self, file: FileId) -> io::Result<&OpenFile> {
        self.open.get(&file).ok_or_else(bad_handle)
    }

    /// The inode behind a handle that may write.
    fn writable(&self, file: FileId) -> io::Result<InodeId> {
        let open = self.file(file)?;
        match open.readable_only {
            true => Err(read_only()),
            false => Ok(open.inode),
        }
    }

    /// Whether a metadata call fails now (seeded).
    fn metadata_fault(&mut self) -> bool {
        let fires = self.fires(self.faults.metadata_error_ppm);
        self.counts.metadata_errors += u64::from(fires);
        fires
    }

    fn check_parent(&self, path: &str) -> io::Result<()> {
        match self.dirs.contains(parent_dir(path)) {
            true => Ok(()),
            false => Err(not_found(parent_dir(path))),
        }
    }

    fn create(&mut self, path: &str) -> InodeId {
        let inode = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(inode, Default::default());
        self.entries.insert(path.to_string(), inode);
        inode
    }

    fn new_handle(&mut self, inode: InodeId, readable_only: bool, path: String) -> FileId {
        let file = self.next_file;
        self.next_file += 1;
        self.inodes.get_mut(&inode).expect("inode").handles += 1;
        let open = OpenFile {
            inode,
            readable_only,
            path,
        };
        self.open.insert(file, open);
        file
    }

    /// Truncates a live inode, keeping used bytes and pending background
    /// fsyncs in step.
    fn truncate_inode(&mut self, id: InodeId, len: u64) {
        let inode = self.inodes.get_mut(&id).expect("live inode");
        let before = inode.len();
        self.cost.bytes_copied += inode.truncate(len);
        self.used_bytes = self.used_bytes - before + len;
        for pending in self.pending.iter_mut().filter(|p| p.inode == id) {
            let shortest = &mut pending.covered.length_shortest;
            *shortest = (*shortest).min(len);
        }
    }

    fn open_path(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId> {
        let path = normalize(path);
        if self.dirs.contains(&path) {
            return Err(is_a_directory());
        }
        let existing = self.entries.get(&path).copied();
        let inode = match (mode, existing) {
            (OpenMode::Read, None) => return Err(not_found(&path)),
            (OpenMode::Read, Some(inode)) => inode,
            (_, existing) => {
                if existing.is_none() {
                    self.check_parent(&path)?;
                }
                if self.metadata_fault() {
                    return Err(eio());
                }
                existing.unwrap_or_else(|| self.create(&path))
            }
        };
        if mode == OpenMode::CreateTruncate {
            self.truncate_inode(inode, 0);
        }
        Ok(self.new_handle(inode, mode == OpenMode::Read, path))
    }

    /// How many bytes a short write keeps (armed: half; seeded: a prefix).
    fn short_write(&mut self, length: u64, asked: u64) -> u64 {
        if take_one(&mut self.armed.short_writes) {
            self.counts.short_writes += 1;
            return length.min(asked / 2);
        }
        if self.fires(self.faults.short_write_ppm) {
            self.counts.short_writes += 1;
            return length.min(self.rng.range(0, asked - 1));
        }
        length
    }

    fn write_file(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        let id = self.writable(file)?;
        if data.is_empty() {
            return Ok(0);
        }
        let free = self.free_bytes();
        if free == 0 {
            self.counts.enospc_writes += 1;
            return Err(no_space());
        }
        if take_one(&mut self.armed.write_errors) || self.fires(self.faults.write_error_ppm) {
            self.counts.write_errors += 1;
            return Err(eio());
        }
        let asked = data.len() as u64;
        if free < asked {
            self.counts.enospc_writes += 1;
        }
        let length = self.short_write(asked.min(free), asked);
        if length == 0 {
            return Err(no_space());
        }
        let inode = self.inodes.get_mut(&id).expect("open file has an inode");
        inode.append(&data[..length as usize]);
        self.used_bytes += length;
        Ok(length as usize)
    }

    fn read_file_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let id = self.file(file)?.inode;
        if self.fires(self.faults.read_error_ppm) {
            self.counts.read_errors += 1;
            return Err(eio());
        }
        let cache = &self.inodes[&id].cache;
        let start = offset.min(cache.len() as u64) as usize;
        let length = buf.len().min(cache.len() - start);
        buf[..length].copy_from_slice(&cache[start..start + length]);
        Ok(length)
    }

    fn truncate_file(&mut self, file: FileId, len: u64) -> io::Result<()> {
        let id = self.writable(file)?;
        if take_one(&mut self.armed.truncate_errors) {
            self.counts.metadata_errors += 1;
            return Err(eio());
        }
        if self.metadata_fault() {
            return Err(eio());
        }
        self.truncate_inode(id, len);
        Ok(())
    }

    fn fsync_file(&mut self, file: FileId) -> io::Result<()> {
        let id = self.file(file)?.inode;
        self.fsyncs += 1;
        self.stall_ms += self.draw_ms(
            self.options.sync_fsync_ms_min,
            self.options.sync_fsync_ms_max,
        );
        let fate = self.draw_fate();
        self.settle_fsync(id, Scope::All, fate)
    }

    fn submit_fsync(&mut self, file: FileId, op: DiskOpId) -> io::Result<u64> {
        let id = self.file(file)?.inode;
        self.fsyncs += 1;
        let delay_ms = self.draw_ms(
            self.options.fsync_delay_ms_min,
            self.options.fsync_delay_ms_max,
        );
        let fate = self.draw_fate();
        let due_ms = self.now_ms + delay_ms + self.draw_slow_ms();
        let inode = self.inodes.get_mut(&id).expect("open file has an inode");
        inode.dirty.seal(inode.version);
        let covered = Covered {
            version: inode.version,
            length_at_submit: inode.len(),
            length_shortest: inode.len(),
        };
        self.pending.push(PendingFsync {
            op,
            inode: id,
            covered,
            due_ms,
            fate,
        });
        Ok(due_ms)
    }

    fn close(&mut self, file: FileId) -> io::Result<()> {
        let open = self.open.remove(&file).ok_or_else(bad_handle)?;
        if let Some(inode) = self.inodes.get_mut(&open.inode) {
            inode.handles -= 1;
        }
        self.settle();
        Ok(())
    }

    fn rename_path(&mut self, from: &str, to: &str) -> io::Result<()> {
        let (from, to) = (normalize(from), normalize(to));
        self.check_parent(&to)?;
        if self.dirs.contains(&to) {
            return Err(is_a_directory());
        }
        if !self.entries.contains_key(&from) {
            return Err(not_found(&from));
        }
        if self.metadata_fault() {
            return Err(eio());
        }
        let inode = self.entries.remove(&from).expect("checked");
        self.entries.insert(to, inode);
        self.settle();
        Ok(())
    }

    fn remove_path(&mut self, path: &str) -> io::Result<()> {
        let path = normalize(path);
        if !self.entries.contains_key(&path) {
            return Err(not_found(&path));
        }
        if self.metadata_fault() {
            return Err(eio());
        }
        self.entries.remove(&path);
        self.settle();
        Ok(())
    }

    fn list_dir(&self, dir: &str) -> io::Result<Vec<String>> {
        let dir = normalize(dir);
        if !self.dirs.contains(&dir) {
            return Err(not_found(&dir));
        }
        let files = self.entries.keys().map(String::as_str);
        let subdirs = self.dirs.iter().map(String::as_str);
        let mut names: Vec<String> = files
            .chain(subdirs)
            .filter(|path| *path != dir && parent_dir(path) == dir)
            .map(|path| name_of(path).to_string())
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn make_dir(&mut self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        if self.dirs.contains(&dir) || self.entries.contains_key(&dir) {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, dir));
        }
        self.check_parent(&dir)?;
        if self.metadata_fault() {
            return Err(eio());
        }
        self.dirs.insert(dir);
        Ok(())
    }

    /// Makes the entries directly inside `dir` durable as they are seen.
    fn sync_dir(&mut self, dir: &str) -> io::Result<()> {
        let dir = normalize(dir);
        if !self.dirs.contains(&dir) {
            return Err(not_found(&dir));
        }
        if take_one(&mut self.armed.dir_fsync_errors) || self.metadata_fault() {
            return Err(eio());
        }
        self.stall_ms += self.draw_ms(
            self.options.sync_fsync_ms_min,
            self.options.sync_fsync_ms_max,
        );
        let inside = |path: &String| parent_dir(path) == dir && *path != dir;
        self.durable_entries.retain(|path, _| !inside(path));
        let visible = self.entries.iter().filter(|(path, _)| inside(path));
        let visible: Vec<(String, InodeId)> = visible.map(|(p, i)| (p.clone(), *i)).collect();
        self.durable_entries.extend(visible);
        self.durable_dirs.retain(|path| !inside(path));
        let subdirs: Vec<String> = self.dirs.iter().filter(|p| inside(p)).cloned().collect();
        self.durable_dirs.extend(subdirs);
        self.settle();
        Ok(())
    }
}

impl Disk for SimDisk {
    fn open(&mut self, path: &str, mode: OpenMode) -> io::Result<FileId> {
        let result = self.gate(true, |disk| disk.open_path(path, mode));
        let detail = || format!("{mode:?}");
        self.finish("open", || path.to_string(), detail, &result, plain);
        result
    }

    fn write(&mut self, file: FileId, data: &[u8]) -> io::Result<usize> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| disk.write_file(file, data));
        let asked = data.len();
        let ok = |n: &usize| match *n == asked {
            true => "ok".to_string(),
            false => format!("short {n}/{asked}"),
        };
        self.finish("write", || path, || format!("{asked} bytes"), &result, ok);
        result
    }

    fn read_at(&mut self, file: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| disk.read_file_at(file, offset, buf));
        let detail = || format!("at {offset}");
        self.finish("read_at", || path, detail, &result, |n| format!("ok {n}"));
        result
    }

    fn size(&mut self, file: FileId) -> io::Result<u64> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| Ok(disk.inodes[&disk.file(file)?.inode].len()));
        self.finish("size", || path, String::new, &result, |n| format!("ok {n}"));
        result
    }

    fn truncate(&mut self, file: FileId, len: u64) -> io::Result<()> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| disk.truncate_file(file, len));
        self.finish("truncate", || path, || format!("to {len}"), &result, plain);
        result
    }

    fn fsync(&mut self, file: FileId) -> io::Result<()> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| disk.fsync_file(file));
        self.finish("fsync", || path, String::new, &result, plain);
        result
    }

    fn fsync_background(&mut self, file: FileId, op: DiskOpId) -> io::Result<()> {
        let path = self.recorded_path(file);
        let result = self.gate(false, |disk| disk.submit_fsync(file, op));
        let detail = || format!("op {op}");
        self.finish(
            "fsync_background",
            || path,
            detail,
            &result,
            |due| format!("due {due}"),
        );
        result.map(|_| ())
    }

    fn close_file(&mut self, file: FileId) -> io::Result<()> {
        let path = self.recorded_path(file);
        let result = self.gate(true, |disk| disk.close(file));
        self.finish("close", || path, String::new, &result, plain);
        result
    }

    fn rename(&mut self, from: &str, to: &str) -> io::Result<()> {
        let result = self.gate(true, |disk| disk.rename_path(from, to));
        self.finish(
            "rename",
            || from.to_string(),
            || format!("to {to}"),
            &result,
            plain,
        );
        result
    }

    fn remove(&mut self, path: &str) -> io::Result<()> {
        let result = self.gate(true, |disk| disk.remove_path(path));
        self.finish("remove", || path.to_string(), String::new, &result, plain);
        result
    }

    fn list(&mut self, dir: &str) -> io::Result<Vec<String>> {
        let result = self.gate(true, |disk| disk.list_dir(dir));
        self.finish("list", || dir.to_string(), String::new, &result, plain);
        result
    }

    fn create_dir(&mut self, dir: &str) -> io::Result<()> {
        let result = self.gate(true, |disk| disk.make_dir(dir));
        self.finish(
            "create_dir",
            || dir.to_string(),
            String::new,
            &result,
            plain,
        );
        result
    }

    fn fsync_dir(&mut self, dir: &str) -> io::Result<()> {
        let result = self.gate(true, |disk| disk.sync_dir(dir));
        self.finish("fsync_dir", || dir.to_string(), String::new, &result, plain);
        result
    }

    fn free_space(&mut self, path: &str) -> io::Result<u64> {
        let result = self.gate(true, |disk| Ok(disk.free_bytes()));
        self.finish(
            "free_space",
            || path.to_string(),
            String::new,
            &result,
            |n| format!("ok {n}"),
        );
        result
    }
}
