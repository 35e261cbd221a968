//! The one background thread for slow disk work, Redis's bio.
//!
//! Jobs (an fsync of a file, a file to close) go in over a channel in
//! submission order; each fsync's result comes back over a second channel
//! and the thread wakes the event loop, which hands it to core as
//! `Node::on_disk_done`. The thread never decides anything: core chose
//! what to sync and when.

use std::fs::File;
use std::io;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread;

use mio::Waker;
use redoubt_core::env::DiskOpId;

/// Work for the background thread.
enum Job {
    /// `fdatasync` the file (a duplicate of core's handle) and report.
    Fsync { op: DiskOpId, file: File },
    /// Drop a file handle away from the event loop (closing a large file
    /// that was unlinked can take a while, as Redis's BIO_CLOSE_FILE knows).
    Close(File),
}

/// The submitting end, owned by the event loop's environment.
pub struct Bio {
    jobs: Sender<Job>,
    done: Receiver<(DiskOpId, io::Result<()>)>,
}

impl Bio {
    /// Starts the thread; it wakes `waker` after each completed fsync.
    pub fn start(waker: Arc<Waker>) -> io::Result<Bio> {
        let (jobs, job_queue) = mpsc::channel::<Job>();
        let (done_sender, done) = mpsc::channel();
        thread::Builder::new()
            .name("bio".to_string())
            .spawn(move || {
                for job in job_queue {
                    match job {
                        Job::Fsync { op, file } => {
                            let result = file.sync_data();
                            if done_sender.send((op, result)).is_err() {
                                return;
                            }
                            // A failed wake only delays delivery to the next
                            // loop iteration.
                            let _ = waker.wake();
                        }
                        Job::Close(file) => drop(file),
                    }
                }
            })?;
        Ok(Bio { jobs, done })
    }

    /// Queues an fsync of `file`, which must be a handle of its own (a
    /// `try_clone` of core's file).
    pub fn fsync(&self, op: DiskOpId, file: File) -> io::Result<()> {
        self.jobs
            .send(Job::Fsync { op, file })
            .map_err(|_| io::Error::other("background thread stopped"))
    }

    /// Queues `file` to be closed in the background.
    pub fn close(&self, file: File) {
        if let Err(mpsc::SendError(Job::Close(file))) = self.jobs.send(Job::Close(file)) {
            drop(file);
        }
    }

    /// Completed operations, in completion order.
    pub fn completed(&self) -> Vec<(DiskOpId, io::Result<()>)> {
        self.done.try_iter().collect()
    }
}
