//! The state of background saves and AOF rewrites: the running job, what
//! is scheduled, and the history INFO reports. What starts and finishes
//! them is in `persist::control`.

use super::job::Job;

/// What a running job produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Save,
    /// A diskless full sync: the snapshot goes to replicas' sockets.
    Sync,
    /// A BASE replacing every INCR file before `first_kept_incr`.
    Rewrite {
        base_seq: u64,
        first_kept_incr: u64,
    },
}

/// The running job and the history INFO reports.
#[derive(Default)]
pub struct Background {
    pub(crate) job: Option<(JobKind, Job, u64)>,
    pub rewrite_scheduled: bool,
    /// The running BGSAVE was started for replicas waiting for a full
    /// sync (they get the dump once it is written).
    pub save_for_sync: bool,
    pub bgsave_scheduled: bool,
    /// Changes counted when the running BGSAVE started.
    pub(crate) dirty_at_start: u64,
    pub last_bgsave_failed: bool,
    /// Monotonic time of the last BGSAVE attempt (save points retry a
    /// failed one after a delay that wall-clock jumps must not stretch).
    pub(crate) last_bgsave_try_ms: u64,
    pub(crate) last_bgsave_seconds: Option<i64>,
    pub rdb_saves: u64,
    pub last_rewrite_failed: bool,
    pub(crate) last_rewrite_seconds: Option<i64>,
    pub rewrites: u64,
    pub rewrite_failures_in_row: u32,
    pub(crate) rewrite_not_before_ms: u64,
    /// Wall-clock ms of the last successful rewrite (beyond Redis: lets
    /// monitoring alert when rewrites stop happening).
    pub last_rewrite_wall_ms: Option<i64>,
    /// AOF size right after the last rewrite (or load): the base for
    /// `auto-aof-rewrite-percentage`.
    pub rewrite_base_size: u64,
    /// The PIPESAVE asked for or running.
    pub pipesave: Option<super::pipesave::PipeSave>,
    /// How the last PIPESAVE ended (INFO persistence).
    pub pipesave_last: Option<super::pipesave::PipeSaveOutcome>,
    pub(crate) next_pipe: crate::env::PipeId,
    /// Under `rdb-key-save-delay`: the monotonic time (µs) up to which the
    /// running job's delay has been paid for.
    pub(crate) key_delay_paid_us: Option<u64>,
}

impl Background {
    pub fn running(&self) -> Option<JobKind> {
        self.job.as_ref().map(|(kind, _, _)| *kind)
    }

    /// Duration of the last BGSAVE in seconds, -1 before the first.
    pub fn last_bgsave_seconds_or_none(&self) -> i64 {
        self.last_bgsave_seconds.unwrap_or(-1)
    }

    /// Duration of the last rewrite in seconds, -1 before the first.
    pub fn last_rewrite_seconds_or_none(&self) -> i64 {
        self.last_rewrite_seconds.unwrap_or(-1)
    }

    /// Seconds the running job of `kind` has been running, or -1.
    pub fn running_seconds(&self, kind_is_save: bool, now_ms: u64) -> i64 {
        match &self.job {
            Some((kind, _, started)) if (*kind == JobKind::Save) == kind_is_save => {
                ((now_ms - started) / 1000) as i64
            }
            _ => -1,
        }
    }
}

/// How BGSAVE or BGREWRITEAOF answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Now,
    Scheduled,
}
