//! What starts and finishes background saves and AOF rewrites (BGSAVE,
//! BGREWRITEAOF, `save` points, automatic rewrites on growth, SAVE, the
//! save at SHUTDOWN), and what turns the AOF on and off and recovers it
//! from an fsync error. One job runs at a time, a step per event-loop
//! iteration (see `persist::job`); the other kind waits as scheduled.

use super::aof::{aof_dir, base_encoding, join};
use super::background::{JobKind, Started};
use super::job::{Encoding, Job, Progress, JOB_OP_BIT, SLICE_ELEMENTS};
use crate::env::{DiskOpId, Env, LogLevel};
use crate::planted::{self, PlantedBug};
use crate::server::Server;

/// Seconds to wait before a `save` point retries after a failed BGSAVE
/// (Redis's CONFIG_BGSAVE_RETRY_DELAY).
pub const BGSAVE_RETRY_DELAY_MS: u64 = 5000;
/// Consecutive rewrite failures after which automatic rewrites back off,
/// and the back-off's bounds (Redis's aofRewriteLimited).
const REWRITE_FAILURES_BEFORE_BACKOFF: u32 = 3;
const REWRITE_BACKOFF_MS_MIN: u64 = 60 * 1000;
const REWRITE_BACKOFF_MS_MAX: u64 = 60 * 60 * 1000;

impl Server {
    /// BGSAVE: starts a background save, or schedules it after a running
    /// rewrite when `schedule` is set. Inside EXEC it is always scheduled,
    /// as Redis does: the snapshot must not see a transaction whose writes
    /// are not yet propagated.
    pub fn bgsave(&mut self, env: &mut dyn Env, schedule: bool) -> Result<Started, String> {
        match self.background.running() {
            Some(JobKind::Save | JobKind::Sync) => {
                Err("ERR Background save already in progress".to_string())
            }
            Some(JobKind::Rewrite { .. }) | None if schedule || self.in_exec => {
                self.background.bgsave_scheduled = true;
                Ok(Started::Scheduled)
            }
            Some(JobKind::Rewrite { .. }) => Err("ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.".to_string()),
            None => self.start_bgsave(env).map(|()| Started::Now),
        }
    }

    fn start_bgsave(&mut self, env: &mut dyn Env) -> Result<(), String> {
        let encoding = Encoding::Rdb {
            compress: self.config.rdbcompression,
            checksum: self.config.rdbchecksum,
            aux: self.dump_aux(env),
        };
        self.start_bgsave_with(env, encoding)
    }

    /// Starts a BGSAVE of the dump in `encoding` (replication adds its
    /// AUX fields).
    pub(crate) fn start_bgsave_with(
        &mut self,
        env: &mut dyn Env,
        encoding: Encoding,
    ) -> Result<(), String> {
        let temp = join(&self.config.dir, &format!("temp-{}.rdb", env.process_id()));
        self.background.save_for_sync = false;
        self.background.last_bgsave_try_ms = env.monotonic_ms();
        let job = Job::start(env, &mut self.keyspace, &temp, encoding).inspect_err(|error| {
            self.background.last_bgsave_failed = true;
            env.log(
                LogLevel::Warning,
                &format!("Can't save in background: {error}"),
            );
        })?;
        self.background.dirty_at_start = self.dirty;
        self.background.job = Some((JobKind::Save, job, env.monotonic_ms()));
        env.log(
            LogLevel::Notice,
            &format!("Background saving started by pid {}", env.process_id()),
        );
        Ok(())
    }

    /// BGREWRITEAOF: starts a rewrite, or schedules it after a running
    /// BGSAVE.
    pub fn bgrewriteaof(&mut self, env: &mut dyn Env) -> Result<Started, String> {
        match self.background.running() {
            Some(JobKind::Rewrite { .. }) => {
                Err("ERR Background append only file rewriting already in progress".to_string())
            }
            // Inside EXEC a rewrite would take a BASE holding the
            // transaction and then log it again in the new INCR file: it is
            // scheduled after the transaction, as Redis does.
            Some(JobKind::Save | JobKind::Sync) => {
                self.background.rewrite_scheduled = true;
                Ok(Started::Scheduled)
            }
            None if self.in_exec && self.aof_on => {
                self.background.rewrite_scheduled = true;
                Ok(Started::Scheduled)
            }
            None if !self.aof_on => Err(
                "ERR Background append only file rewriting needs appendonly yes on this server"
                    .to_string(),
            ),
            None => self.start_rewrite(env).map(|()| Started::Now),
        }
    }

    fn start_rewrite(&mut self, env: &mut dyn Env) -> Result<(), String> {
        let result = self.try_start_rewrite(env);
        if let Err(error) = &result {
            self.rewrite_failed(env, error);
        }
        result.map_err(|error| format!("ERR Can't start the AOF rewrite: {error}"))
    }

    fn try_start_rewrite(&mut self, env: &mut dyn Env) -> Result<(), String> {
        let first_kept_incr = self.aof.rotate_incr(env, &self.config)?;
        let base_seq = self.aof.manifest.next_base_seq();
        let temp = join(
            &aof_dir(&self.config),
            &format!("temp-rewriteaof-bg-{}.aof", env.process_id()),
        );
        let encoding = base_encoding(env, &self.config, self.keyspace.dataset_bytes());
        let job = Job::start(env, &mut self.keyspace, &temp, encoding)?;
        self.background.job = Some((
            JobKind::Rewrite {
                base_seq,
                first_kept_incr,
            },
            job,
            env.monotonic_ms(),
        ));
        env.log(
            LogLevel::Notice,
            &format!(
                "Background append only file rewriting started by pid {}",
                env.process_id()
            ),
        );
        Ok(())
    }

    fn rewrite_failed(&mut self, env: &mut dyn Env, error: &str) {
        self.background.last_rewrite_failed = true;
        self.background.rewrite_failures_in_row += 1;
        let failures = self.background.rewrite_failures_in_row;
        env.log(
            LogLevel::Warning,
            &format!("Background AOF rewrite failed: {error}"),
        );
        if failures >= REWRITE_FAILURES_BEFORE_BACKOFF {
            let shift = (failures - REWRITE_FAILURES_BEFORE_BACKOFF).min(6);
            let delay = (REWRITE_BACKOFF_MS_MIN << shift).min(REWRITE_BACKOFF_MS_MAX);
            self.background.rewrite_not_before_ms = env.monotonic_ms() + delay;
            env.log(LogLevel::Warning, &format!("Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {} minutes", delay / 60_000));
        }
    }

    /// Runs one step of the running job and finishes it when complete.
    /// Called from `on_tick` while a job runs.
    pub fn background_step(&mut self, env: &mut dyn Env) {
        let Some((kind, mut job, started)) = self.background.job.take() else {
            return;
        };
        job.plant(
            planted::active(&self.config, PlantedBug::ResumedValueSkipsElement),
            planted::active(&self.config, PlantedBug::RewriteScoresRounded),
        );
        if let Some(elements) = self.key_delay_budget(env) {
            if elements == 0 {
                self.background.job = Some((kind, job, started));
                return;
            }
            job.set_slice_elements(elements);
        }
        let split_before = job.values_split();
        let stepped = job.step(env, &mut self.keyspace, true);
        self.stats.snapshot_values_split += job.values_split() - split_before;
        if kind == JobKind::Sync {
            let output = job.take_output();
            self.sync_output(env, &output);
        }
        match stepped {
            Ok(Progress::Done) => self.finish_job(env, kind, job, started, Ok(())),
            Ok(_) => self.background.job = Some((kind, job, started)),
            Err(error) => self.finish_job(env, kind, job, started, Err(error)),
        }
    }

    /// Whether the running job has steps left to write (the node then
    /// wants `on_tick` at once rather than at the next cron).
    /// Under `rdb-key-save-delay` (Redis's knob for a slow BGSAVE: its
    /// child sleeps that long per key), how many elements the running job
    /// may write now: the time passed since the job started, less what the
    /// elements already written paid for, over the delay. `None` without
    /// the knob (the job writes its ordinary slices).
    fn key_delay_budget(&mut self, env: &dyn Env) -> Option<usize> {
        let delay_us = self.config.rdb_key_save_delay_us;
        if delay_us == 0 {
            self.background.key_delay_paid_us = None;
            return None;
        }
        let now_us = env.monotonic_us();
        let paid_us = *self.background.key_delay_paid_us.get_or_insert(now_us);
        let elements = (now_us.saturating_sub(paid_us) / delay_us).min(SLICE_ELEMENTS as u64);
        self.background.key_delay_paid_us = Some(paid_us + elements * delay_us);
        Some(elements as usize)
    }

    pub fn background_wants_slices(&self, env: &dyn Env) -> bool {
        if self.config.rdb_key_save_delay_us > 0 {
            // The cron's ticks step the job: it is paced, not busy.
            return false;
        }
        match &self.background.job {
            Some((JobKind::Sync, job, _)) => {
                job.progress == Progress::Writing && !self.sync_throttled(env)
            }
            Some((_, job, _)) => job.progress == Progress::Writing,
            None => false,
        }
    }

    /// A background fsync of a job's temp file finished. Returns false if
    /// `op` is not a job's.
    pub fn background_fsync_done(
        &mut self,
        env: &mut dyn Env,
        op: DiskOpId,
        result: std::io::Result<()>,
    ) -> bool {
        if op & JOB_OP_BIT == 0 {
            return false;
        }
        let Some((kind, mut job, started)) = self.background.job.take() else {
            return true;
        };
        match job.on_fsync_done(env, op, result) {
            Some(outcome) => self.finish_job(env, kind, job, started, outcome),
            None => self.background.job = Some((kind, job, started)),
        }
        true
    }

    /// Installs a complete job's file, or cleans up after a failed one;
    /// then starts what was scheduled.
    fn finish_job(
        &mut self,
        env: &mut dyn Env,
        kind: JobKind,
        job: Job,
        started: u64,
        outcome: Result<(), String>,
    ) {
        self.background.key_delay_paid_us = None;
        match outcome {
            Ok(()) => {
                let seconds = ((env.monotonic_ms() - started) / 1000) as i64;
                match kind {
                    JobKind::Save => {
                        let ok = self.finish_bgsave(env, &job, seconds);
                        if std::mem::take(&mut self.background.save_for_sync) {
                            self.disk_sync_done(env, ok);
                        }
                    }
                    JobKind::Sync => {
                        job.abort(env, &mut self.keyspace);
                        self.diskless_sync_done(env, Ok(()));
                    }
                    JobKind::Rewrite {
                        base_seq,
                        first_kept_incr,
                    } => self.finish_rewrite(env, &job, base_seq, first_kept_incr, seconds),
                }
            }
            Err(error) => {
                job.abort(env, &mut self.keyspace);
                match kind {
                    JobKind::Save => {
                        self.background.last_bgsave_failed = true;
                        env.log(
                            LogLevel::Warning,
                            &format!("Background saving error: {error}"),
                        );
                        if std::mem::take(&mut self.background.save_for_sync) {
                            self.disk_sync_done(env, false);
                        }
                    }
                    JobKind::Sync => self.diskless_sync_done(env, Err(error)),
                    JobKind::Rewrite { .. } => self.rewrite_failed(env, &error),
                }
            }
        }
        self.start_scheduled(env);
        // Replicas that asked for a full sync while this job ran get theirs
        // now, not at the next replication cron, as Redis's
        // updateSlavesWaitingBgsave does.
        self.start_pending_sync(env);
    }

    /// Installs a finished BGSAVE's dump; false if it could not be.
    fn finish_bgsave(&mut self, env: &mut dyn Env, job: &Job, seconds: i64) -> bool {
        let target = join(&self.config.dir, &self.config.dbfilename);
        let renamed = env.rename(&job.temp_path, &target).and_then(|()| {
            env.fsync_dir(if self.config.dir.is_empty() {
                "."
            } else {
                &self.config.dir
            })
        });
        match renamed {
            Ok(()) => {
                self.dirty = self.dirty.saturating_sub(self.background.dirty_at_start);
                self.saved_now(env);
                self.background.last_bgsave_failed = false;
                self.background.last_bgsave_seconds = Some(seconds);
                self.background.rdb_saves += 1;
                env.log(LogLevel::Notice, "DB saved on disk");
                env.log(
                    LogLevel::Notice,
                    "Background saving terminated with success",
                );
                true
            }
            Err(error) => {
                let _ = env.remove(&job.temp_path);
                self.background.last_bgsave_failed = true;
                env.log(
                    LogLevel::Warning,
                    &format!(
                        "Error moving temp DB file {} on the final destination {target}: {error}",
                        job.temp_path
                    ),
                );
                false
            }
        }
    }

    fn finish_rewrite(
        &mut self,
        env: &mut dyn Env,
        job: &Job,
        base_seq: u64,
        first_kept_incr: u64,
        seconds: i64,
    ) {
        match self.aof.install_base(
            env,
            &self.config,
            &job.temp_path,
            base_seq,
            job.bytes,
            first_kept_incr,
            None,
        ) {
            Ok(not_durable) => {
                if let Some(error) = not_durable {
                    self.aof.fsync_failed(env, error);
                }
                self.background.last_rewrite_failed = false;
                self.background.rewrite_failures_in_row = 0;
                self.background.last_rewrite_seconds = Some(seconds);
                self.background.rewrites += 1;
                self.background.last_rewrite_wall_ms = Some(env.wall_ms());
                self.background.rewrite_base_size = self.aof.current_size;
                env.log(
                    LogLevel::Notice,
                    "Background AOF rewrite terminated with success",
                );
                env.log(
                    LogLevel::Notice,
                    "Background AOF rewrite finished successfully",
                );
            }
            Err(error) => {
                let _ = env.remove(&job.temp_path);
                self.rewrite_failed(env, &error);
            }
        }
    }

    fn start_scheduled(&mut self, env: &mut dyn Env) {
        if self.background.running().is_some() {
            return;
        }
        if self.background.rewrite_scheduled && self.aof_on {
            self.background.rewrite_scheduled = false;
            let _ = self.start_rewrite(env);
        } else if self.background.bgsave_scheduled {
            self.background.bgsave_scheduled = false;
            let _ = self.start_bgsave(env);
        }
    }

    /// From cron: `save` points and automatic AOF rewrites.
    pub fn persistence_cron(&mut self, env: &mut dyn Env) {
        if self.background.running().is_some() {
            return;
        }
        // Jobs scheduled while none could start (inside EXEC) start now.
        let scheduled =
            (self.background.rewrite_scheduled && self.aof_on) || self.background.bgsave_scheduled;
        if scheduled {
            self.start_scheduled(env);
            return;
        }
        // Monotonic time, unlike Redis's wall clock: a clock set back must
        // neither hold save points back nor delay the retry of a failed save.
        let now_ms = env.monotonic_ms();
        let elapsed_ms = now_ms.saturating_sub(self.lastsave_monotonic_ms);
        let retry_ok = !self.background.last_bgsave_failed
            || now_ms.saturating_sub(self.background.last_bgsave_try_ms) >= BGSAVE_RETRY_DELAY_MS;
        let due = self.config.save.iter().find(|&&(seconds, changes)| {
            self.dirty >= changes && elapsed_ms >= seconds.saturating_mul(1000)
        });
        if let (Some(&(seconds, _)), true) = (due, retry_ok) {
            env.log(
                LogLevel::Notice,
                &format!("{} changes in {seconds} seconds. Saving...", self.dirty),
            );
            let _ = self.start_bgsave(env);
            return;
        }
        // Unlike Redis, a failed save that stops writes is retried even when
        // no save point is due: refused writes never make one due again,
        // and the node must start writing again by itself once the disk
        // heals.
        if self.bgsave_refusal().is_some() && retry_ok {
            env.log(
                LogLevel::Notice,
                "Writes are stopped by the last failed save: saving again...",
            );
            let _ = self.start_bgsave(env);
            return;
        }
        self.auto_rewrite(env);
    }

    fn auto_rewrite(&mut self, env: &mut dyn Env) {
        let percentage = self.config.auto_aof_rewrite_percentage;
        let min_size = self.config.auto_aof_rewrite_min_size;
        let size = self.aof.current_size;
        if !self.aof_on
            || percentage == 0
            || size <= min_size
            || env.monotonic_ms() < self.background.rewrite_not_before_ms
        {
            return;
        }
        let base = self.background.rewrite_base_size.max(1);
        let growth = size.saturating_mul(100) / base;
        if growth >= 100 + percentage {
            env.log(
                LogLevel::Notice,
                &format!(
                    "Starting automatic rewriting of AOF on {}% growth",
                    growth - 100
                ),
            );
            let _ = self.start_rewrite(env);
        }
    }

    /// Cancels the running job (its temp file is removed).
    pub fn abort_background(&mut self, env: &mut dyn Env) {
        self.background.key_delay_paid_us = None;
        if let Some((kind, job, _)) = self.background.job.take() {
            job.abort(env, &mut self.keyspace);
            let what = match kind {
                JobKind::Save => "save",
                JobKind::Sync => "transfer to replicas",
                JobKind::Rewrite { .. } => "AOF rewrite",
            };
            env.log(LogLevel::Warning, &format!("Background {what} cancelled"));
            match kind {
                JobKind::Save if std::mem::take(&mut self.background.save_for_sync) => {
                    self.disk_sync_done(env, false)
                }
                JobKind::Sync => self.diskless_sync_done(env, Err("cancelled".to_string())),
                _ => {}
            }
        }
    }

    /// SAVE, and the save at SHUTDOWN: writes the dump now, synchronously.
    pub fn save_now(&mut self, env: &mut dyn Env) -> Result<(), String> {
        if self.background.running().is_some() {
            return Err("ERR Background save already in progress".to_string());
        }
        let temp = join(&self.config.dir, &format!("temp-{}.rdb", env.process_id()));
        let encoding = Encoding::Rdb {
            compress: self.config.rdbcompression,
            checksum: self.config.rdbchecksum,
            aux: self.dump_aux(env),
        };
        let target = join(&self.config.dir, &self.config.dbfilename);
        let dir = if self.config.dir.is_empty() {
            ".".to_string()
        } else {
            self.config.dir.clone()
        };
        let result = Job::start(env, &mut self.keyspace, &temp, encoding)
            .and_then(|job| job.run_to_end(env, &mut self.keyspace))
            .and_then(|_| {
                env.rename(&temp, &target)
                    .and_then(|()| env.fsync_dir(&dir))
                    .map_err(|e| e.to_string())
            });
        match result {
            Ok(()) => {
                self.dirty = 0;
                self.saved_now(env);
                self.background.last_bgsave_failed = false;
                env.log(LogLevel::Notice, "DB saved on disk");
                Ok(())
            }
            Err(error) => {
                let _ = env.remove(&temp);
                self.background.last_bgsave_failed = true;
                env.log(LogLevel::Warning, &format!("Failed saving the DB: {error}"));
                Err(format!("ERR {error}"))
            }
        }
    }

    /// Rewrites the AOF from memory synchronously (start-up, turning the
    /// AOF on, recovery from an fsync error), cancelling a running job.
    pub fn rewrite_now(&mut self, env: &mut dyn Env) -> Result<(), String> {
        self.abort_background(env);
        self.aof
            .rewrite_from_memory(env, &self.config, &mut self.keyspace)?;
        self.background.rewrite_base_size = self.aof.current_size;
        Ok(())
    }

    /// A save finished: LASTSAVE reports the wall clock, save points count
    /// from the monotonic one.
    fn saved_now(&mut self, env: &mut dyn Env) {
        self.lastsave_s = env.wall_ms() / 1000;
        self.lastsave_monotonic_ms = env.monotonic_ms();
    }

    /// The persistence work before exit: cancel a running job, save the
    /// dump when asked (`Some(true)`) or when save points exist (`None`),
    /// and write and fsync what the AOF holds. An error means the data
    /// could not be made safe; the caller decides whether to exit anyway.
    pub fn prepare_shutdown(
        &mut self,
        env: &mut dyn Env,
        save: Option<bool>,
    ) -> Result<(), String> {
        self.abort_background(env);
        let mut result = Ok(());
        if self.aof_on {
            self.aof.flush(env, &self.config);
            if let Err(error) = self.aof.sync_now(env) {
                env.log(
                    LogLevel::Warning,
                    &format!("Error writing the AOF before exiting: {error}"),
                );
                result = Err(error);
            } else {
                env.log(LogLevel::Notice, "Calling fsync() on the AOF file.");
            }
        }
        if save.unwrap_or(!self.config.save.is_empty()) {
            env.log(
                LogLevel::Notice,
                "Saving the final RDB snapshot before exiting.",
            );
            if let Err(error) = self.save_now(env) {
                env.log(
                    LogLevel::Warning,
                    "Error trying to save the DB, can't exit.",
                );
                result = Err(error);
            }
        }
        result
    }

    /// The MISCONF error for writes after a failed BGSAVE, when
    /// `stop-writes-on-bgsave-error` is on and save points exist.
    pub fn bgsave_refusal(&self) -> Option<&'static str> {
        if !self.background.last_bgsave_failed {
            return None;
        }
        let stop = self.config.stop_writes_on_bgsave_error;
        (stop && self.background.last_bgsave_failed && !self.config.save.is_empty()).then_some(
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
        )
    }

    /// Work a top-level command left for after its propagation: turning the
    /// AOF on after a transaction that asked for it.
    pub fn after_propagation(&mut self, env: &mut dyn Env) {
        if std::mem::take(&mut self.aof_start_deferred) && self.config.appendonly {
            if let Err(error) = self.start_aof(env) {
                env.log(
                    LogLevel::Warning,
                    &format!("Turning the AOF on after the transaction failed: {error}"),
                );
                self.config.appendonly = false;
            }
        }
    }

    /// Turns the AOF on: the files are rewritten from memory first, as
    /// Redis does when `appendonly` is switched on at run time.
    pub fn start_aof(&mut self, env: &mut dyn Env) -> Result<(), String> {
        if self.aof_on {
            return Ok(());
        }
        self.rewrite_now(env)?;
        self.aof_on = true;
        env.log(
            LogLevel::Notice,
            "Background append only file rewriting started",
        );
        Ok(())
    }

    /// Turns the AOF off, writing what is buffered and fsyncing the file
    /// first, as Redis's `stopAppendOnly` does: writes acknowledged under
    /// `everysec` keep their promise after the file stops being appended to.
    pub fn stop_aof(&mut self, env: &mut dyn Env) {
        if !self.aof_on {
            return;
        }
        self.aof.flush(env, &self.config);
        if let Err(error) = self.aof.sync_now(env) {
            env.log(
                LogLevel::Warning,
                &format!("Fail to fsync the AOF file: {error}"),
            );
        }
        self.aof.close(env);
        self.aof_on = false;
    }

    /// AOF work from cron: retry a failed write, start a due `everysec`
    /// fsync, and recover from an fsync error by writing a fresh BASE (at
    /// most once a second).
    pub(crate) fn aof_cron(&mut self, env: &mut dyn Env, now_ms: u64) {
        if !self.aof_on {
            return;
        }
        if self.aof.fsync_error.is_some() {
            self.aof.retry_marker(env);
            if now_ms.saturating_sub(self.aof_recovery_last_ms) < 1000 {
                return;
            }
            self.aof_recovery_last_ms = now_ms;
            match self.rewrite_now(env) {
                Ok(()) if self.aof.fsync_error.is_some() => {}
                Ok(()) => env.log(LogLevel::Warning, "AOF recovered from the fsync error: a new BASE written from memory replaced the INCR file, accepting writes again."),
                Err(error) => env.log(LogLevel::Warning, &format!("Recovering the AOF from an fsync error failed, will retry: {error}")),
            }
            return;
        }
        if self.aof.needs_attention() {
            self.aof.flush(env, &self.config);
        }
    }
}
