//! The append-only file at run time: the buffer of propagated writes, the
//! flush at `before_sleep` under the three `appendfsync` policies, write and
//! fsync errors, the reply barrier, and the multi-part directory (manifest,
//! BASE, INCR files) through `env::Disk`.
//!
//! Offsets: `appended` counts bytes of commands fed to the buffer since the
//! node started, `written` how many of them reached the file, `fsynced` how
//! many are known durable. Every reply records the offset it depends on; the
//! node releases it only once `barrier()` (written, or fsynced under
//! `always`) has passed that offset. So a reply never leaves before its
//! write reached the file, and under `always` never before the fsync that
//! covers it; one fsync covers every client of the iteration (group commit).
//!
//! Errors: a failed or short write truncates the file back to the last
//! complete batch (retrying the truncate until it succeeds), keeps the
//! buffer, and leaves `write_error` set so write commands are refused with
//! `-MISCONF`; the cron retries and the same bytes are written exactly once
//! when space returns. A failed fsync poisons the INCR file: writes stay
//! refused until a fresh BASE written from memory and a new INCR file
//! replace it in the manifest.

use std::io;

use super::aof_format::{
    base_name, batch_trailer, encode_command, incr_name, manifest_name, marker, temp_manifest_name,
    AofFile, FileKind, Manifest,
};
use super::job::{Encoding, Job};
use crate::config::{AppendFsync, Config};
use crate::db::Keyspace;
use crate::env::{DiskOpId, Env, FileId, LogLevel, OpenMode};
use crate::planted::{self, PlantedBug};

/// What loading found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Commands executed.
    pub commands: u64,
    /// Bytes read from all files.
    pub bytes: u64,
    /// Bytes of the BASE file.
    pub base_bytes: u64,
    /// The tail cut from the last file: (file, offset, bytes removed).
    pub truncated: Option<(String, u64, u64)>,
    /// The loaded files cannot be trusted to become durable: an fsync of
    /// them failed, now or (the marker says) in the life before. The node
    /// writes them afresh before building on them.
    pub untrusted: Option<String>,
}

/// How long an `everysec` write may wait for a running background fsync
/// before it is written anyway (Redis's 2 seconds).
pub const POSTPONE_MS_MAX: u64 = 2000;
/// Interval between `everysec` fsyncs.
pub const FSYNC_INTERVAL_MS: u64 = 1000;
/// Bytes read per call while loading.
pub const READ_CHUNK_BYTES: usize = 64 * 1024;

/// The INCR file being appended to.
#[derive(Debug)]
struct Incr {
    file: FileId,
    name: String,
    /// Bytes of the file that hold complete batches.
    size: u64,
    /// A failed write left partial bytes past `size` that must be cut
    /// before anything else is written.
    truncate_pending: bool,
    /// Bytes of the file known durable: what each batch trailer records,
    /// so that loading can tell a torn tail from corrupt durable data.
    synced_bytes: u64,
}

/// A background fsync in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    op: DiskOpId,
    /// `written` when it was submitted: what it makes durable.
    covers: u64,
    /// The INCR file's size when it was submitted.
    covers_bytes: u64,
    /// `Clock::monotonic_us` when it was submitted, and whether the policy
    /// was `always` (its duration is then the `aof-fsync-always` latency).
    started_us: u64,
    always: bool,
}

/// Keeps a latency sample for LATENCY to read, dropping it when
/// [`crate::observe::PENDING_SAMPLES_MAX`] wait already.
fn record_latency(
    samples: &mut Vec<(&'static str, i64, u64)>,
    event: &'static str,
    now_s: i64,
    latency_ms: u64,
) {
    if samples.len() < crate::observe::PENDING_SAMPLES_MAX {
        samples.push((event, now_s, latency_ms));
    }
}

/// The append-only file's state while the server runs.
#[derive(Debug, Default)]
pub struct Aof {
    /// Commands not yet written (Redis's `aof_buf`).
    pub buffer: Vec<u8>,
    /// Latency monitor samples not yet read by LATENCY: (event, Unix
    /// second, milliseconds), at most `observe::PENDING_SAMPLES_MAX`.
    pub latency_samples: Vec<(&'static str, i64, u64)>,
    /// `latency-monitor-threshold` as of the last flush.
    latency_threshold_ms: u64,
    selected_db: Option<usize>,
    pub appended: u64,
    pub written: u64,
    pub fsynced: u64,
    incr: Option<Incr>,
    pub manifest: Manifest,
    batch_seq: u64,
    last_timestamp_s: i64,
    last_fsync_ms: u64,
    in_flight: Option<InFlight>,
    postponed_since_ms: Option<u64>,
    /// INFO `aof_delayed_fsync`.
    pub delayed_fsync: u64,
    /// The next flush fsyncs what is written whatever the policy (the
    /// policy changed, and replies sent under the old one keep its promise).
    fsync_forced: bool,
    /// The last write failed with this error (INFO `aof_last_write_status`).
    pub write_error: Option<String>,
    /// An fsync failed: the INCR file can no longer be trusted.
    pub fsync_error: Option<String>,
    /// Bytes of the BASE file (INFO `aof_base_size`).
    pub base_size: u64,
    /// Bytes of all files (INFO `aof_current_size`).
    pub current_size: u64,
    /// Where to leave the fsync-error marker (set once the AOF is open).
    marker_path: Option<String>,
    /// The marker could not be left when an fsync failed: the cron tries
    /// again until it is, or a fresh BASE makes it moot.
    marker_pending: bool,
    /// `current_size` when the last rotation opened a new INCR file: the
    /// bytes a rewrite's BASE replaces.
    size_before_rotation: u64,
    next_op: DiskOpId,
}

/// Joins a directory and a name.
pub fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir == "." {
        name.to_string()
    } else {
        format!("{}/{name}", dir.trim_end_matches('/'))
    }
}

/// The file an fsync error leaves in the AOF directory until a fresh BASE
/// replaces the files it poisoned. Linux reports a failed fsync once and
/// may then report success for the same lost pages, so a node that starts
/// on files whose fsync failed in its previous life (a process crash keeps
/// their pages in the cache) must write them afresh rather than fsync
/// them. A start whose fsync of the files it loaded fails leaves it too,
/// in case its fresh BASE fails and the start is refused. The marker needs
/// no fsync: only a process crash, which keeps the page cache, can leave
/// such pages behind.
pub fn fsync_error_marker(config: &Config) -> String {
    join(
        &aof_dir(config),
        &format!("{}.fsync-error", config.appendfilename),
    )
}

/// Leaves the fsync-error marker (see [`fsync_error_marker`]). False if
/// the disk would not even create it: the caller tries again later.
pub fn leave_fsync_error_marker(env: &mut dyn Env, path: &str) -> bool {
    match env.open(path, OpenMode::CreateTruncate) {
        Ok(file) => {
            let _ = env.close_file(file);
            true
        }
        Err(_) => false,
    }
}

/// The AOF directory for a configuration.
pub fn aof_dir(config: &Config) -> String {
    join(&config.dir, &config.appenddirname)
}

/// Reads a whole file through `Disk`.
pub fn read_file(env: &mut dyn Env, path: &str) -> io::Result<Vec<u8>> {
    let file = env.open(path, OpenMode::Read)?;
    let mut contents = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let result = loop {
        match env.read_at(file, contents.len() as u64, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => contents.extend_from_slice(&chunk[..n]),
            Err(e) => break Err(e),
        }
    };
    let _ = env.close_file(file);
    result.map(|()| contents)
}

/// Writes `data` whole to a new file and fsyncs it; a short write is
/// retried from where it stopped, an error removes nothing (callers clean
/// up temp files).
fn write_durable(env: &mut dyn Env, path: &str, data: &[u8]) -> io::Result<()> {
    let file = env.open(path, OpenMode::CreateTruncate)?;
    let mut done = 0;
    let result = (|| {
        while done < data.len() {
            match env.write(file, &data[done..])? {
                0 => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
                n => done += n,
            }
        }
        env.fsync(file)
    })();
    let _ = env.close_file(file);
    result
}

impl Aof {
    /// Whether write commands must be refused, and the MISCONF text.
    pub fn refusal(&self) -> Option<String> {
        let error = self.write_error.as_ref().or(self.fsync_error.as_ref())?;
        Some(format!("MISCONF Errors writing to the AOF file: {error}"))
    }

    /// The offset replies may depend on and still be released.
    pub fn barrier(&self, policy: AppendFsync) -> u64 {
        // What reached the file never passes what was appended, and what
        // is durable never passes what reached the file: a reply released
        // on an offset past either would promise bytes that do not exist.
        assert!(
            self.fsynced <= self.written && self.written <= self.appended,
            "AOF offsets out of order: fsynced {} written {} appended {}",
            self.fsynced,
            self.written,
            self.appended
        );
        match policy {
            AppendFsync::Always => self.fsynced,
            AppendFsync::EverySec | AppendFsync::No => self.written,
        }
    }

    /// Appends one propagated command, selecting its database first.
    pub fn feed(&mut self, db: usize, argv: &[Vec<u8>]) {
        let before = self.buffer.len();
        if self.selected_db != Some(db) {
            encode_command(
                &mut self.buffer,
                &[b"SELECT".to_vec(), db.to_string().into_bytes()],
            );
            self.selected_db = Some(db);
        }
        encode_command(&mut self.buffer, argv);
        self.appended += (self.buffer.len() - before) as u64;
    }

    fn next_op(&mut self) -> DiskOpId {
        self.next_op += 1;
        self.next_op
    }

    /// The flush at `before_sleep` (and retried from cron): write the
    /// buffer as one batch, then fsync as the policy says.
    pub fn flush(&mut self, env: &mut dyn Env, config: &Config) {
        if self.incr.is_none() || self.fsync_error.is_some() {
            return;
        }
        let now = env.monotonic_ms();
        self.latency_threshold_ms = config.latency_monitor_threshold_ms;
        if !self.buffer.is_empty() && !self.postpone(env, config, now) {
            self.write_batch(env, config);
        }
        self.fsync_by_policy(env, config.appendfsync, now);
    }

    /// Under `everysec`, a write waits while a background fsync runs, at
    /// most [`POSTPONE_MS_MAX`]. True if this flush is postponed.
    fn postpone(&mut self, env: &mut dyn Env, config: &Config, now_ms: u64) -> bool {
        if config.appendfsync != AppendFsync::EverySec || self.in_flight.is_none() {
            self.postponed_since_ms = None;
            return false;
        }
        let since = *self.postponed_since_ms.get_or_insert(now_ms);
        if now_ms - since < POSTPONE_MS_MAX {
            return true;
        }
        self.delayed_fsync += 1;
        self.postponed_since_ms = None;
        env.log(
            LogLevel::Notice,
            "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer without waiting for fsync to complete, this may slow down Redis.",
        );
        false
    }

    fn write_batch(&mut self, env: &mut dyn Env, config: &Config) {
        let Some(incr) = self.incr.as_mut() else {
            return;
        };
        if incr.truncate_pending {
            match env.truncate(incr.file, incr.size) {
                Ok(()) => incr.truncate_pending = false,
                Err(error) => {
                    let text = format!("Could not remove short write from the append-only file ({error}). Redis may refuse to load the AOF the next time it starts.");
                    env.log(LogLevel::Warning, &text);
                    return;
                }
            }
        }
        let mut batch = Vec::with_capacity(self.buffer.len() + 64);
        let now_s = env.wall_ms() / 1000;
        if config.aof_timestamp_enabled && now_s != self.last_timestamp_s {
            batch.extend_from_slice(format!("#TS:{now_s}\r\n").as_bytes());
            self.last_timestamp_s = now_s;
        }
        batch.extend_from_slice(&self.buffer);
        let synced = Some(incr.synced_bytes);
        batch.extend_from_slice(&batch_trailer(self.batch_seq + 1, &batch, synced));
        let started_us = env.monotonic_us();
        let result = env.write(incr.file, &batch);
        let latency_ms = env.monotonic_us().saturating_sub(started_us) / 1000;
        if self.latency_threshold_ms > 0 && latency_ms >= self.latency_threshold_ms {
            let now_s = env.wall_ms().div_euclid(1000);
            let event = if self.in_flight.is_some() {
                "aof-write-pending-fsync"
            } else {
                "aof-write-alone"
            };
            for event in [event, "aof-write"] {
                record_latency(&mut self.latency_samples, event, now_s, latency_ms);
            }
        }
        match result {
            Ok(n) if n == batch.len() => {
                incr.size += n as u64;
                self.current_size += n as u64;
                self.batch_seq += 1;
                self.written = self.appended;
                self.buffer.clear();
                if self.write_error.take().is_some() {
                    env.log(
                        LogLevel::Warning,
                        "AOF write error looks solved, Redis can write again.",
                    );
                }
            }
            Ok(n) if planted::active(config, PlantedBug::ShortWriteDropsBuffer) => {
                incr.size += n as u64;
                self.current_size += n as u64;
                self.written = self.appended;
                self.buffer.clear();
            }
            Ok(n) => self.write_failed(
                env,
                format!(
                    "short write ({n} of {} bytes): No space left on device",
                    batch.len()
                ),
                true,
            ),
            Err(error) => self.write_failed(env, error.to_string(), false),
        }
    }

    /// Cuts partial bytes off the file and keeps the buffer for a retry.
    fn write_failed(&mut self, env: &mut dyn Env, error: String, partial: bool) {
        let Some(incr) = self.incr.as_mut() else {
            return;
        };
        if partial || env.size(incr.file).map_or(true, |size| size != incr.size) {
            incr.truncate_pending = env.truncate(incr.file, incr.size).is_err();
        }
        if self.write_error.is_none() {
            let text = format!("Error writing to the AOF file {}: {error}", incr.name);
            env.log(LogLevel::Warning, &text);
        }
        self.write_error = Some(error);
    }

    fn fsync_by_policy(&mut self, env: &mut dyn Env, policy: AppendFsync, now_ms: u64) {
        let Some((file, size)) = self.incr.as_ref().map(|incr| (incr.file, incr.size)) else {
            return;
        };
        if self.written == self.fsynced {
            return;
        }
        // Under `always` an fsync starts as soon as the previous one is done
        // and covers every write made until it starts: the event loop keeps
        // serving while it runs, and the replies it covers wait for it
        // (group commit across iterations, not only within one).
        let due = self.fsync_forced
            || match policy {
                AppendFsync::Always => true,
                AppendFsync::EverySec => {
                    now_ms.saturating_sub(self.last_fsync_ms) >= FSYNC_INTERVAL_MS
                }
                AppendFsync::No => false,
            };
        if due && self.in_flight.is_none() {
            self.fsync_forced = false;
            let op = self.next_op();
            match env.fsync_background(file, op) {
                Ok(()) => {
                    self.in_flight = Some(InFlight {
                        op,
                        covers: self.written,
                        covers_bytes: size,
                        started_us: env.monotonic_us(),
                        always: policy == AppendFsync::Always,
                    });
                    self.last_fsync_ms = now_ms;
                }
                Err(error) => self.fsync_failed(env, error.to_string()),
            }
        }
    }

    /// Asks the next flush to fsync what is written, whatever the policy.
    pub fn fsync_soon(&mut self) {
        self.fsync_forced = true;
    }

    /// Makes everything written durable now, or says why it is not:
    /// bytes still buffered (the write failed) or a failed fsync.
    pub fn sync_now(&mut self, env: &mut dyn Env) -> Result<(), String> {
        if let Some(error) = self
            .write_error
            .clone()
            .or_else(|| self.fsync_error.clone())
        {
            return Err(error);
        }
        let Some(incr) = self.incr.as_ref() else {
            return Ok(());
        };
        match env.fsync(incr.file) {
            Ok(()) => {
                self.fsynced = self.written;
                if let Some(incr) = self.incr.as_mut() {
                    incr.synced_bytes = incr.size;
                }
                Ok(())
            }
            Err(error) => {
                let text = error.to_string();
                self.fsync_failed(env, text.clone());
                Err(text)
            }
        }
    }

    /// A background fsync finished. Returns false if `op` was not ours.
    pub fn on_fsync_done(
        &mut self,
        env: &mut dyn Env,
        op: DiskOpId,
        result: io::Result<()>,
    ) -> bool {
        // An fsync of a file replaced meanwhile (rotation, rewrite): the new
        // file's state owes it nothing.
        let stale = self.in_flight.is_none_or(|in_flight| in_flight.op != op);
        if stale && op <= self.next_op {
            return true;
        }
        match self.in_flight {
            Some(in_flight) if in_flight.op == op => {
                self.in_flight = None;
                let latency_ms = env.monotonic_us().saturating_sub(in_flight.started_us) / 1000;
                let threshold_ms = self.latency_threshold_ms;
                if in_flight.always && threshold_ms > 0 && latency_ms >= threshold_ms {
                    let now_s = env.wall_ms().div_euclid(1000);
                    let samples = &mut self.latency_samples;
                    record_latency(samples, "aof-fsync-always", now_s, latency_ms);
                }
                match result {
                    // A poisoned file proves nothing durable any more, even
                    // by an fsync that reports success: the pages an
                    // earlier failed fsync covered may be gone.
                    Ok(()) if self.fsync_error.is_some() => {}
                    Ok(()) => {
                        assert!(
                            in_flight.covers <= self.written,
                            "an fsync covered {} bytes, only {} were written",
                            in_flight.covers,
                            self.written
                        );
                        self.fsynced = self.fsynced.max(in_flight.covers);
                        if let Some(incr) = self.incr.as_mut() {
                            incr.synced_bytes = incr.synced_bytes.max(in_flight.covers_bytes);
                        }
                    }
                    Err(error) => self.fsync_failed(env, error.to_string()),
                }
                true
            }
            _ => false,
        }
    }

    pub(crate) fn fsync_failed(&mut self, env: &mut dyn Env, error: String) {
        self.marker_pending = true;
        self.retry_marker(env);
        env.log(
            LogLevel::Warning,
            &format!("Can't persist AOF for fsync error when the AOF fsync policy is 'always' or 'everysec': {error}. The INCR file can no longer be trusted: refusing writes until a new BASE is written from memory."),
        );
        self.fsync_error = Some(error);
    }

    /// Leaves the fsync-error marker if an fsync error still owes it.
    pub fn retry_marker(&mut self, env: &mut dyn Env) {
        if let (true, Some(path)) = (self.marker_pending, &self.marker_path) {
            self.marker_pending = !leave_fsync_error_marker(env, path);
        }
    }

    /// Whether the node still needs the cron to call `flush` or `recover`.
    pub fn needs_attention(&self) -> bool {
        self.write_error.is_some()
            || self.fsync_error.is_some()
            || self.written > self.fsynced
            || !self.buffer.is_empty()
    }

    /// When the `everysec` fsync of what is written comes due (monotonic
    /// ms), if one is owed and none is running: the node wakes for it even
    /// when `hz` is low, so the one-second promise does not stretch to the
    /// next cron tick.
    pub fn fsync_due_ms(&self, policy: AppendFsync) -> Option<u64> {
        let owed = self.incr.is_some() && self.written > self.fsynced;
        if !owed || self.in_flight.is_some() || self.fsync_error.is_some() {
            return None;
        }
        match policy {
            AppendFsync::EverySec => Some(self.last_fsync_ms + FSYNC_INTERVAL_MS),
            AppendFsync::Always => None,
            AppendFsync::No if self.fsync_forced => Some(0),
            AppendFsync::No => None,
        }
    }

    /// INFO `aof_pending_bio_fsync`.
    pub fn fsync_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Stops appending: closes the INCR file. Buffered bytes are dropped;
    /// callers flush first.
    pub fn close(&mut self, env: &mut dyn Env) {
        if let Some(incr) = self.incr.take() {
            let _ = env.close_file(incr.file);
        }
        self.buffer.clear();
        self.selected_db = None;
        self.written = self.appended;
        self.fsynced = self.appended;
    }

    /// Replaces the files with a BASE holding `keyspace` and a fresh INCR
    /// file, switching the manifest only once both are durable. Everything
    /// buffered is part of the BASE, so all offsets become durable. On error
    /// the old files stay in place and temp files are removed. The keyspace
    /// must have no snapshot in progress.
    pub fn rewrite_from_memory(
        &mut self,
        env: &mut dyn Env,
        config: &Config,
        keyspace: &mut Keyspace,
    ) -> Result<(), String> {
        let dir = aof_dir(config);
        ensure_dir(env, &dir)?;
        let base_seq = self.manifest.next_base_seq();
        let temp = join(&dir, &format!("temp-rewriteaof-{base_seq}.aof"));
        let encoding = base_encoding(env, config, keyspace.dataset_bytes());
        let job = Job::start(env, keyspace, &temp, encoding)?;
        let job = job.run_to_end(env, keyspace)?;
        let incr_seq = self.manifest.next_incr_seq();
        let incr = AofFile {
            name: incr_name(&config.appendfilename, incr_seq),
            seq: incr_seq,
            kind: FileKind::Incr,
        };
        let (file, marker_bytes) = match create_incr(env, &dir, &incr.name) {
            Ok(opened) => opened,
            Err(error) => {
                let _ = env.remove(&temp);
                return Err(error);
            }
        };
        let installed = self.install_base(
            env,
            config,
            &temp,
            base_seq,
            job.bytes,
            u64::MAX,
            Some(incr.clone()),
        );
        let not_durable = match installed {
            Ok(not_durable) => not_durable,
            Err(error) => {
                let _ = env.close_file(file);
                let _ = env.remove(&join(&dir, &incr.name));
                return Err(error);
            }
        };
        let fsynced_before = self.fsynced;
        self.switch_to(env, file, incr.name, marker_bytes);
        self.current_size = self.base_size + marker_bytes;
        let marker = fsync_error_marker(config);
        self.marker_path = Some(marker.clone());
        match not_durable {
            // The new manifest may not survive power loss: the old files
            // may come back, so nothing more is durable than before.
            Some(error) => {
                self.fsynced = fsynced_before;
                self.fsync_failed(env, error);
            }
            // The files an fsync error poisoned are history now.
            None => {
                self.marker_pending = false;
                let _ = env.remove(&marker);
            }
        }
        Ok(())
    }

    /// Starts a background rewrite's INCR file: writes and fsyncs what is
    /// buffered to the current file, then appends to a new INCR file that
    /// the manifest lists from now on. Returns its sequence number: the
    /// rewritten BASE will replace every file before it. Fails (changing
    /// nothing) if the buffer cannot be written, since the BASE will
    /// contain those commands and they must not also land in the new file.
    pub fn rotate_incr(&mut self, env: &mut dyn Env, config: &Config) -> Result<u64, String> {
        self.flush(env, config);
        if !self.buffer.is_empty() || self.write_error.is_some() || self.fsync_error.is_some() {
            return Err("the AOF buffer could not be written".to_string());
        }
        // The sync_now path: an fsync error here poisons the INCR file like
        // any other (the pages it covered may never become durable).
        self.sync_now(env)
            .map_err(|e| format!("Can't fsync the AOF incr file: {e}"))?;
        let dir = aof_dir(config);
        let seq = self.manifest.next_incr_seq();
        let incr = AofFile {
            name: incr_name(&config.appendfilename, seq),
            seq,
            kind: FileKind::Incr,
        };
        let (file, marker_bytes) = create_incr(env, &dir, &incr.name)?;
        let mut manifest = self.manifest.clone();
        manifest.incrs.push(incr.clone());
        let persisted = persist_manifest(env, config, &manifest);
        if let Err(ManifestError::NotInstalled(error)) = persisted {
            let _ = env.close_file(file);
            let _ = env.remove(&join(&dir, &incr.name));
            return Err(error);
        }
        self.manifest = manifest;
        self.size_before_rotation = self.current_size;
        if let Some(old) = self.incr.replace(Incr {
            file,
            name: incr.name,
            size: marker_bytes,
            truncate_pending: false,
            synced_bytes: marker_bytes,
        }) {
            let _ = env.close_file(old.file);
        }
        self.in_flight = None;
        self.selected_db = None;
        self.batch_seq = 0;
        self.current_size += marker_bytes;
        if let Err(ManifestError::NotDurable(error)) = persisted {
            self.fsync_failed(env, error.clone());
            return Err(error);
        }
        Ok(seq)
    }

    /// Renames a finished BASE temp file into place and switches the
    /// manifest to it: the old BASE and every INCR file before
    /// `first_kept` become history and are deleted; `fresh_incr`, if
    /// given, is listed after the kept ones. `Ok(Some(error))`: the new
    /// manifest is in place but its directory could not be fsynced (the
    /// caller poisons the AOF, see [`ManifestError::NotDurable`]).
    #[allow(clippy::too_many_arguments)]
    pub fn install_base(
        &mut self,
        env: &mut dyn Env,
        config: &Config,
        temp: &str,
        base_seq: u64,
        base_bytes: u64,
        first_kept: u64,
        fresh_incr: Option<AofFile>,
    ) -> Result<Option<String>, String> {
        let dir = aof_dir(config);
        let base = AofFile {
            name: base_name(&config.appendfilename, base_seq, preamble(config)),
            seq: base_seq,
            kind: FileKind::Base,
        };
        let mut manifest = self.manifest.clone();
        manifest.history.extend(manifest.base.take());
        let (old, kept): (Vec<AofFile>, Vec<AofFile>) =
            manifest.incrs.drain(..).partition(|f| f.seq < first_kept);
        manifest.history.extend(old);
        manifest
            .history
            .iter_mut()
            .for_each(|f| f.kind = FileKind::History);
        manifest.incrs = kept;
        manifest.incrs.extend(fresh_incr);
        manifest.base = Some(base.clone());
        if let Err(error) = env.rename(temp, &join(&dir, &base.name)) {
            let _ = env.remove(temp);
            return Err(format!(
                "Error trying to rename the temporary AOF base file {temp} into {}: {error}",
                base.name
            ));
        }
        let persisted = persist_manifest(env, config, &manifest);
        if let Err(ManifestError::NotInstalled(error)) = persisted {
            return Err(error);
        }
        env.log(
            LogLevel::Notice,
            &format!(
                "Successfully renamed the temporary AOF base file {temp} into {}",
                base.name
            ),
        );
        let kept_bytes = self.current_size.saturating_sub(self.size_before_rotation);
        self.manifest = manifest;
        self.base_size = base_bytes;
        self.current_size = base_bytes + kept_bytes;
        // History stays until a manifest without it is durable: power loss
        // may bring back the old manifest, which needs those files.
        match persisted {
            Err(error) => Ok(Some(error.to_string())),
            Ok(()) => {
                self.delete_history(env, config);
                Ok(None)
            }
        }
    }

    /// Starts appending to `file` with everything so far durable.
    fn switch_to(&mut self, env: &mut dyn Env, file: FileId, name: String, size: u64) {
        if let Some(old) = self.incr.take() {
            let _ = env.close_file(old.file);
        }
        self.incr = Some(Incr {
            file,
            name,
            size,
            truncate_pending: false,
            synced_bytes: size,
        });
        self.in_flight = None;
        self.buffer.clear();
        self.selected_db = None;
        self.written = self.appended;
        self.fsynced = self.appended;
        self.write_error = None;
        self.fsync_error = None;
        self.batch_seq = 0;
    }

    /// Removes HISTORY files and drops them from the manifest.
    fn delete_history(&mut self, env: &mut dyn Env, config: &Config) {
        if self.manifest.history.is_empty() {
            return;
        }
        let dir = aof_dir(config);
        for file in &self.manifest.history {
            if env.remove(&join(&dir, &file.name)).is_ok() {
                env.log(
                    LogLevel::Notice,
                    &format!("Removing the history file {} in the background", file.name),
                );
            }
        }
        let mut manifest = self.manifest.clone();
        manifest.history.clear();
        match persist_manifest(env, config, &manifest) {
            Ok(()) | Err(ManifestError::NotDurable(_)) => self.manifest = manifest,
            Err(ManifestError::NotInstalled(_)) => {}
        }
    }

    /// After loading files that cannot be trusted to become durable: take
    /// their manifest as the current one, so that a fresh BASE written from
    /// memory replaces them all.
    pub fn adopt_loaded(&mut self, config: &Config, manifest: Manifest, sizes: (u64, u64)) {
        self.marker_path = Some(fsync_error_marker(config));
        self.manifest = manifest;
        self.base_size = sizes.0;
        self.current_size = sizes.1;
        self.size_before_rotation = sizes.1;
    }

    /// After loading: go on appending to the manifest's last INCR file, as
    /// Redis does, or create the first one when the manifest lists none.
    /// `sizes` are the loaded BASE's bytes and all loaded bytes.
    ///
    /// The loaded files are durable by now (the loader fsynced them, and cut
    /// and fsynced a torn tail), and files whose fsync ever failed never get
    /// here (they are replaced by a fresh BASE). The continued file gets a
    /// marker, fsynced before any write: what follows it is checked batch by
    /// batch even in a file Redis wrote, and every later batch's `synced`
    /// field counts the whole loaded file as durable, which it is.
    pub fn open_incr_on_start(
        &mut self,
        env: &mut dyn Env,
        config: &Config,
        manifest: Manifest,
        sizes: (u64, u64),
    ) -> Result<(), String> {
        let Some(last) = manifest.incrs.last().cloned() else {
            return self.open_new_incr(env, config, manifest, sizes);
        };
        let path = join(&aof_dir(config), &last.name);
        let file = env
            .open(&path, OpenMode::Append)
            .map_err(|error| format!("Can't open the append-only file {}: {error}", last.name))?;
        let size = match append_marker(env, file) {
            Ok(size) => size,
            Err(error) => {
                let _ = env.close_file(file);
                // The write may have failed in its fsync: the next start
                // must not trust the file's pages (see fsync_error_marker).
                let _ = leave_fsync_error_marker(env, &fsync_error_marker(config));
                return Err(format!(
                    "Error writing the AOF incr file {}: {error}",
                    last.name
                ));
            }
        };
        env.log(
            LogLevel::Notice,
            &format!("Opening AOF incr file {} on server start", last.name),
        );
        let marker_bytes = marker().len() as u64;
        self.switch_to(env, file, last.name, size);
        self.base_size = sizes.0;
        self.current_size = sizes.1 + marker_bytes;
        self.manifest = manifest;
        self.marker_path = Some(fsync_error_marker(config));
        Ok(())
    }

    /// After loading a manifest that lists no INCR file: append to a new
    /// one. `sizes` are the loaded BASE's bytes and all loaded bytes.
    fn open_new_incr(
        &mut self,
        env: &mut dyn Env,
        config: &Config,
        manifest: Manifest,
        sizes: (u64, u64),
    ) -> Result<(), String> {
        let dir = aof_dir(config);
        let seq = manifest.next_incr_seq();
        let incr = AofFile {
            name: incr_name(&config.appendfilename, seq),
            seq,
            kind: FileKind::Incr,
        };
        let (file, marker_bytes) = create_incr(env, &dir, &incr.name)?;
        let mut updated = manifest;
        updated.incrs.push(incr.clone());
        let persisted = persist_manifest(env, config, &updated);
        if let Err(ManifestError::NotInstalled(error)) = persisted {
            let _ = env.close_file(file);
            let _ = env.remove(&join(&dir, &incr.name));
            return Err(error);
        }
        env.log(
            LogLevel::Notice,
            &format!("Creating AOF incr file {} on server start", incr.name),
        );
        self.switch_to(env, file, incr.name, marker_bytes);
        self.base_size = sizes.0;
        self.current_size = sizes.1 + marker_bytes;
        self.manifest = updated;
        self.marker_path = Some(fsync_error_marker(config));
        if let Err(error) = persisted {
            self.fsync_failed(env, error.to_string());
        }
        Ok(())
    }
}

/// Whether BASE files are RDB (`aof-use-rdb-preamble yes`).
fn preamble(config: &Config) -> bool {
    config.aof_use_rdb_preamble
}

/// How a BASE is written under this configuration.
pub fn base_encoding(env: &mut dyn Env, config: &Config, dataset_bytes: u64) -> Encoding {
    if preamble(config) {
        Encoding::Rdb {
            compress: config.rdbcompression,
            checksum: true,
            aux: rdb_aux(env, true, dataset_bytes),
        }
    } else {
        let timestamp_s = config.aof_timestamp_enabled.then(|| env.wall_ms() / 1000);
        Encoding::Resp { timestamp_s }
    }
}

/// The AUX fields Redis 7.0 writes at the top of a dump.
pub fn rdb_aux(env: &mut dyn Env, aof_base: bool, dataset_bytes: u64) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "redis-ver".to_string(),
            crate::REDIS_VERSION.as_bytes().to_vec(),
        ),
        ("redis-bits".to_string(), b"64".to_vec()),
        (
            "ctime".to_string(),
            (env.wall_ms() / 1000).to_string().into_bytes(),
        ),
        (
            "used-mem".to_string(),
            env.used_memory_bytes(dataset_bytes)
                .to_string()
                .into_bytes(),
        ),
        (
            "aof-base".to_string(),
            if aof_base {
                b"1".to_vec()
            } else {
                b"0".to_vec()
            },
        ),
    ]
}

/// Creates an INCR file holding only its marker, fsynced. Returns the open
/// file and the marker's length.
fn create_incr(env: &mut dyn Env, dir: &str, name: &str) -> Result<(FileId, u64), String> {
    let path = join(dir, name);
    let file = env
        .open(&path, OpenMode::CreateTruncate)
        .map_err(|e| format!("Can't open the append-only file {name}: {e}"))?;
    let marker = marker();
    if let Err(error) = write_whole(env, file, &marker).and_then(|()| env.fsync(file)) {
        let _ = env.close_file(file);
        let _ = env.remove(&path);
        return Err(format!("Error writing the AOF incr file {name}: {error}"));
    }
    Ok((file, marker.len() as u64))
}

/// Appends a marker to a file opened for appending and fsyncs it. Returns
/// the file's size after it. A failed write is cut off again, so the file
/// ends where it ended.
fn append_marker(env: &mut dyn Env, file: FileId) -> io::Result<u64> {
    let size = env.size(file)?;
    let written = write_whole(env, file, &marker()).and_then(|()| env.fsync(file));
    match written {
        Ok(()) => Ok(size + marker().len() as u64),
        Err(error) => {
            let _ = env.truncate(file, size);
            Err(error)
        }
    }
}

fn write_whole(env: &mut dyn Env, file: FileId, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        match env.write(file, &data[done..])? {
            0 => return Err(io::Error::new(io::ErrorKind::WriteZero, "write returned 0")),
            n => done += n,
        }
    }
    Ok(())
}

/// Creates the AOF directory if it is missing, and fsyncs its parent.
pub fn ensure_dir(env: &mut dyn Env, dir: &str) -> Result<(), String> {
    match env.create_dir(dir) {
        Ok(()) => env
            .fsync_dir(if dir.contains('/') {
                dir.rsplit_once('/').map_or(".", |(parent, _)| parent)
            } else {
                "."
            })
            .map_err(|e| format!("Can't fsync the directory of {dir}: {e}")),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("Can't create the append-only directory {dir}: {e}")),
    }
}

/// Why a manifest could not be persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    /// Nothing changed: the old manifest is still the one in place.
    NotInstalled(String),
    /// The new manifest is in place (renamed), but its directory could not
    /// be fsynced: power loss may bring the old one back. Callers must act
    /// on the new one and treat the directory like a file whose fsync
    /// failed.
    NotDurable(String),
}

impl std::fmt::Display for ManifestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ManifestError::NotInstalled(text) | ManifestError::NotDurable(text) => {
                f.write_str(text)
            }
        }
    }
}

impl From<ManifestError> for String {
    fn from(error: ManifestError) -> String {
        error.to_string()
    }
}

/// Writes the manifest: temp file, fsync, rename, directory fsync.
pub fn persist_manifest(
    env: &mut dyn Env,
    config: &Config,
    manifest: &Manifest,
) -> Result<(), ManifestError> {
    let dir = aof_dir(config);
    let temp = join(&dir, &temp_manifest_name(&config.appendfilename));
    let target = join(&dir, &manifest_name(&config.appendfilename));
    let name = manifest_name(&config.appendfilename);
    let installed = write_durable(env, &temp, manifest.to_text().as_bytes())
        .and_then(|()| env.rename(&temp, &target));
    if let Err(error) = installed {
        let _ = env.remove(&temp);
        return Err(ManifestError::NotInstalled(format!(
            "Can't persist the AOF manifest file {name}: {error}"
        )));
    }
    if planted::active(config, PlantedBug::RenameWithoutDirFsync) {
        return Ok(());
    }
    env.fsync_dir(&dir).map_err(|error| {
        ManifestError::NotDurable(format!(
            "Can't fsync the directory of the AOF manifest file {name}: {error}"
        ))
    })
}
