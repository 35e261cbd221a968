//! A reliable job queue ("Redis in Action" §6.4, and the pattern the LMOVE
//! documentation gives): producers LPUSH jobs onto `queue:pending`; worker
//! W moves one at a time into its own `queue:processing:W` with BLMOVE,
//! works on it, and acknowledges it by removing it from its processing
//! list and appending it to `queue:done` in one MULTI, after checking under
//! WATCH that the job is still there. When a worker reconnects it first
//! sweeps its processing list: jobs it took before the connection broke
//! are finished then, so none stays stuck.
//!
//! Every job name is unique and a producer never sends one twice, so the
//! checker can hold each job to one place at most, and each acknowledged
//! enqueue to being somewhere.

use std::collections::VecDeque;

use super::{
    exec_outcome, request, AppAck, AppNext, AppStats, ExecOutcome, RETRIES_MAX, THINK_MS_MAX,
};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

pub const PENDING_KEY: &[u8] = b"queue:pending";
pub const DONE_KEY: &[u8] = b"queue:done";
/// The prefix of every worker's processing list.
pub const PROCESSING_PREFIX: &[u8] = b"queue:processing:";
/// Jobs one producer batch enqueues, at most.
const JOBS_PER_BATCH_MAX: u64 = 3;
/// How long a worker's BLMOVE waits for a job.
const TAKE_TIMEOUT: &[u8] = b"0.2";

pub fn processing_key(worker: u64) -> Vec<u8> {
    let mut key = PROCESSING_PREFIX.to_vec();
    key.extend_from_slice(worker.to_string().as_bytes());
    key
}

/// Enqueues unique jobs, never resending one whose reply was lost.
#[derive(Debug, Clone)]
pub struct Producer {
    index: u64,
    next_job: u64,
    jobs_left: u64,
    /// The jobs of the batch in flight, in request order.
    sent: Vec<Vec<u8>>,
    /// Enqueues acknowledged since the simulator last collected them.
    pub acks: Vec<AppAck>,
    pub stats: AppStats,
}

impl Producer {
    pub fn new(index: u64, operations: u64) -> Producer {
        Producer {
            index,
            next_job: 0,
            jobs_left: operations,
            sent: Vec::new(),
            acks: Vec::new(),
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.jobs_left == 0
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        let jobs = rng.range(1, JOBS_PER_BATCH_MAX).min(self.jobs_left);
        self.jobs_left -= jobs;
        self.sent = (0..jobs)
            .map(|_| {
                self.next_job += 1;
                format!("job:{}:{}", self.index, self.next_job).into_bytes()
            })
            .collect();
        self.sent
            .iter()
            .map(|job| request(&[b"LPUSH", PENDING_KEY, job]))
            .collect()
    }

    pub fn after_batch(&mut self, replies: &[Reply], ends: &[u64]) -> AppNext {
        for ((job, reply), &reply_end) in self.sent.iter().zip(replies).zip(ends) {
            if let Reply::Integer(_) = reply {
                self.stats.jobs_enqueued += 1;
                self.acks.push(AppAck {
                    job: job.clone(),
                    reply_end,
                });
            }
        }
        self.sent.clear();
        if self.finished() {
            return AppNext::Finished;
        }
        AppNext::Continue {
            think_ms: THINK_MS_MAX,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Read the processing list: jobs left from a broken connection.
    Sweep,
    /// Take the next job, or the next swept one.
    Take,
    /// WATCH the processing list and check the job is in it.
    AckWatch(Vec<u8>),
    AckCommit(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct Worker {
    index: u64,
    stage: Stage,
    /// Swept jobs still to acknowledge.
    swept: VecDeque<Vec<u8>>,
    takes_left: u64,
    attempts: u64,
    pub stats: AppStats,
}

impl Worker {
    pub fn new(index: u64, operations: u64) -> Worker {
        Worker {
            index,
            stage: Stage::Sweep,
            swept: VecDeque::new(),
            takes_left: operations,
            attempts: 0,
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.stage == Stage::Take && self.swept.is_empty() && self.takes_left == 0
    }

    pub fn on_disconnected(&mut self) {
        self.stage = Stage::Sweep;
        self.swept.clear();
    }

    pub fn next_batch(&mut self, _rng: &mut SimRng) -> Batch {
        let processing = processing_key(self.index);
        if self.stage == Stage::Take {
            if let Some(job) = self.swept.pop_front() {
                self.attempts = 0;
                self.stage = Stage::AckWatch(job);
            }
        }
        match &self.stage {
            Stage::Sweep => vec![request(&[b"LRANGE", &processing, b"0", b"-1"])],
            Stage::Take if self.takes_left == 0 => Batch::new(),
            Stage::Take => {
                self.takes_left -= 1;
                vec![request(&[
                    b"BLMOVE",
                    PENDING_KEY,
                    &processing,
                    b"RIGHT",
                    b"LEFT",
                    TAKE_TIMEOUT,
                ])]
            }
            Stage::AckWatch(_) => vec![
                request(&[b"UNWATCH"]),
                request(&[b"WATCH", &processing]),
                request(&[b"LRANGE", &processing, b"0", b"-1"]),
            ],
            Stage::AckCommit(job) => vec![
                request(&[b"MULTI"]),
                request(&[b"LREM", &processing, b"1", job]),
                request(&[b"RPUSH", DONE_KEY, job]),
                request(&[b"EXEC"]),
            ],
        }
    }

    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        let stage = std::mem::replace(&mut self.stage, Stage::Take);
        self.stage = match stage {
            Stage::Sweep => match replies.first() {
                Some(Reply::Array(Some(jobs))) => {
                    self.swept = jobs
                        .iter()
                        .filter_map(|job| match job {
                            Reply::Bulk(Some(job)) => Some(job.clone()),
                            _ => None,
                        })
                        .collect();
                    self.stats.jobs_swept += self.swept.len() as u64;
                    Stage::Take
                }
                // Refused (a full disk does not refuse reads, but a
                // loading node might): the next reconnect sweeps again.
                _ => Stage::Take,
            },
            Stage::Take => match replies.first() {
                Some(Reply::Bulk(Some(job))) => {
                    self.stats.jobs_taken += 1;
                    self.attempts = 0;
                    Stage::AckWatch(job.clone())
                }
                _ => Stage::Take,
            },
            Stage::AckWatch(job) => {
                let held = matches!(
                    replies.last(),
                    Some(Reply::Array(Some(jobs)))
                        if jobs.iter().any(|j| matches!(j, Reply::Bulk(Some(j)) if *j == job))
                );
                // Not there: a crash lost the move, and the job is back
                // in the pending list for someone to take again.
                if held {
                    Stage::AckCommit(job)
                } else {
                    Stage::Take
                }
            }
            Stage::AckCommit(job) => match exec_outcome(replies) {
                ExecOutcome::Committed => {
                    self.stats.jobs_done += 1;
                    Stage::Take
                }
                ExecOutcome::Aborted if self.attempts < RETRIES_MAX => {
                    self.attempts += 1;
                    self.stats.transactions_retried += 1;
                    Stage::AckWatch(job)
                }
                // Left in the processing list: the next sweep finishes it.
                _ => Stage::Take,
            },
        };
        if self.finished() {
            return AppNext::Finished;
        }
        AppNext::Continue { think_ms: 0 }
    }
}
