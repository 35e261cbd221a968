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
//!
//! The same queue runs on `fq:` keys with producers that keep a fallback
//! buffer, as a client behind a failover proxy does ([`Producer`]): a job
//! leaves the buffer only once a WAIT confirmed a replica has it, and the
//! checker holds every confirmed job to being somewhere at the end, in
//! Redis or lost where the durability contract allowed.

use std::collections::VecDeque;

use super::{
    exec_outcome, request, AppAck, AppNext, AppStats, ExecOutcome, RETRIES_MAX, THINK_MS_MAX,
};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

/// The keys of one queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueKeys {
    /// Every key of the queue starts with it.
    pub prefix: &'static [u8],
    pub pending: &'static [u8],
    pub done: &'static [u8],
    /// The prefix of every worker's processing list.
    pub processing: &'static [u8],
}

/// The reliable queue's keys.
pub const QUEUE: QueueKeys = QueueKeys {
    prefix: b"queue:",
    pending: b"queue:pending",
    done: b"queue:done",
    processing: b"queue:processing:",
};

/// The keys of the queue whose producers keep a fallback buffer.
pub const FALLBACK_QUEUE: QueueKeys = QueueKeys {
    prefix: b"fq:",
    pending: b"fq:pending",
    done: b"fq:done",
    processing: b"fq:processing:",
};

/// Jobs one producer batch enqueues, at most.
const JOBS_PER_BATCH_MAX: u64 = 3;
/// How long a worker's BLMOVE waits for a job.
const TAKE_TIMEOUT: &[u8] = b"0.2";
/// How long a fallback producer's WAIT waits for a replica, in ms.
const CONFIRM_TIMEOUT: &[u8] = b"200";
/// Attempts at one job before a fallback producer gives up on it.
pub const ATTEMPTS_MAX: u64 = 30;

impl QueueKeys {
    pub fn processing_key(&self, worker: u64) -> Vec<u8> {
        let mut key = self.processing.to_vec();
        key.extend_from_slice(worker.to_string().as_bytes());
        key
    }
}

/// Enqueues unique jobs. A plain producer never resends one whose reply
/// was lost. A fallback producer (a client behind a failover proxy) keeps
/// each job in its own buffer until a WAIT confirms its enqueue reached a
/// replica; when the node is unreachable, refuses, or no replica confirms,
/// the job stays in the buffer and is enqueued again later, as a new
/// attempt (`job:P:N/A`), so a job may be done more than once but no
/// attempt is in two places.
#[derive(Debug, Clone)]
pub struct Producer {
    index: u64,
    keys: QueueKeys,
    next_job: u64,
    jobs_left: u64,
    /// The jobs of the batch in flight, in request order.
    sent: Vec<Vec<u8>>,
    /// Fallback producers: jobs waiting to be enqueued (again), as
    /// (job, attempts so far).
    buffer: Option<VecDeque<(Vec<u8>, u64)>>,
    /// Fallback producers: the attempts of the batch in flight.
    attempts_sent: Vec<u64>,
    /// Enqueues acknowledged since the simulator last collected them.
    pub acks: Vec<AppAck>,
    pub stats: AppStats,
}

impl Producer {
    pub fn new(index: u64, operations: u64) -> Producer {
        Producer {
            index,
            keys: QUEUE,
            next_job: 0,
            jobs_left: operations,
            sent: Vec::new(),
            buffer: None,
            attempts_sent: Vec::new(),
            acks: Vec::new(),
            stats: AppStats::default(),
        }
    }

    /// A producer with a fallback buffer, on [`FALLBACK_QUEUE`].
    pub fn with_fallback(index: u64, operations: u64) -> Producer {
        Producer {
            keys: FALLBACK_QUEUE,
            buffer: Some(VecDeque::new()),
            ..Producer::new(index, operations)
        }
    }

    pub fn finished(&self) -> bool {
        self.jobs_left == 0 && self.buffer.as_ref().is_none_or(VecDeque::is_empty)
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        let count = rng.range(1, JOBS_PER_BATCH_MAX);
        let mut jobs = Vec::new();
        if let Some(buffer) = &mut self.buffer {
            while jobs.len() < count as usize {
                let Some(job) = buffer.pop_front() else {
                    break;
                };
                jobs.push(job);
            }
        }
        while jobs.len() < count as usize && self.jobs_left > 0 {
            self.jobs_left -= 1;
            self.next_job += 1;
            let job = format!("job:{}:{}", self.index, self.next_job).into_bytes();
            jobs.push((job, 0));
        }
        self.sent = jobs.iter().map(|(job, _)| job.clone()).collect();
        self.attempts_sent = jobs.iter().map(|&(_, attempts)| attempts).collect();
        let mut batch: Batch = jobs
            .iter()
            .map(|(job, attempts)| match self.buffer {
                Some(_) => request(&[b"LPUSH", self.keys.pending, &attempt_id(job, *attempts)]),
                None => request(&[b"LPUSH", self.keys.pending, job]),
            })
            .collect();
        if self.buffer.is_some() {
            batch.push(request(&[b"WAIT", b"1", CONFIRM_TIMEOUT]));
        }
        batch
    }

    pub fn after_batch(&mut self, replies: &[Reply], ends: &[u64]) -> AppNext {
        let sent = std::mem::take(&mut self.sent);
        let attempts = std::mem::take(&mut self.attempts_sent);
        let confirmed = match self.buffer {
            // The WAIT after the enqueues: a replica has them.
            Some(_) => matches!(replies.last(), Some(Reply::Integer(n)) if *n >= 1),
            None => true,
        };
        for (index, ((job, reply), &reply_end)) in sent.iter().zip(replies).zip(ends).enumerate() {
            let enqueued = matches!(reply, Reply::Integer(_));
            if enqueued && confirmed {
                self.stats.jobs_enqueued += 1;
                let job = match self.buffer {
                    Some(_) => attempt_id(job, attempts[index]),
                    None => job.clone(),
                };
                self.acks.push(AppAck { job, reply_end });
            } else {
                self.keep(job.clone(), attempts[index]);
            }
        }
        if self.finished() {
            return AppNext::Finished;
        }
        AppNext::Continue {
            think_ms: THINK_MS_MAX,
        }
    }

    /// The batch in flight was lost with its connection: a fallback
    /// producer keeps its jobs, whose outcome is unknown, for another
    /// attempt.
    pub fn on_disconnected(&mut self) {
        let sent = std::mem::take(&mut self.sent);
        let attempts = std::mem::take(&mut self.attempts_sent);
        for (job, attempts) in sent.into_iter().zip(attempts) {
            self.keep(job, attempts);
        }
    }

    /// A fallback producer's job goes back to its buffer, unless it was
    /// tried [`ATTEMPTS_MAX`] times.
    fn keep(&mut self, job: Vec<u8>, attempts: u64) {
        let Some(buffer) = &mut self.buffer else {
            return;
        };
        if attempts + 1 < ATTEMPTS_MAX {
            self.stats.jobs_buffered += 1;
            buffer.push_back((job, attempts + 1));
        } else {
            self.stats.jobs_given_up += 1;
        }
    }
}

/// The name one attempt at `job` is enqueued under.
pub fn attempt_id(job: &[u8], attempts: u64) -> Vec<u8> {
    let mut id = job.to_vec();
    id.extend_from_slice(format!("/{attempts}").as_bytes());
    id
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
    keys: QueueKeys,
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
            keys: QUEUE,
            stage: Stage::Sweep,
            swept: VecDeque::new(),
            takes_left: operations,
            attempts: 0,
            stats: AppStats::default(),
        }
    }

    /// A worker of [`FALLBACK_QUEUE`].
    pub fn with_fallback(index: u64, operations: u64) -> Worker {
        Worker {
            keys: FALLBACK_QUEUE,
            ..Worker::new(index, operations)
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
        let processing = self.keys.processing_key(self.index);
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
                    self.keys.pending,
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
                request(&[b"RPUSH", self.keys.done, job]),
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
