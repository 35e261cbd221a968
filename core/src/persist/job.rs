//! One background save or rewrite: a point-in-time snapshot of the keyspace
//! (see `db::snapshot`) encoded a step at a time into a temp file (see
//! `persist::snapshot_encoder`), as RDB or as a checked RESP BASE, then
//! fsynced. The event loop runs a step at a time, so no iteration stalls
//! for the whole dataset or for one large value; the caller renames the
//! temp file into place once `step` reports it complete and durable.

use std::io;

use super::snapshot_encoder::SnapshotEncoder;
pub use super::snapshot_encoder::{Encoding, SLICE_ELEMENTS};
use crate::db::Keyspace;
use crate::env::{DiskOpId, Env, FileId, OpenMode};

/// Background disk operations of jobs carry this bit, so their completions
/// are told apart from the AOF's.
pub const JOB_OP_BIT: DiskOpId = 1 << 63;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Steps remain to be written.
    Writing,
    /// Everything is written; the fsync of the temp file runs in the
    /// background and `Job::on_fsync_done` will report it.
    Syncing(DiskOpId),
    /// The temp file is complete, durable and closed.
    Done,
}

/// A snapshot being written to a temp file.
pub struct Job {
    pub temp_path: String,
    /// The temp file; `None` for a snapshot kept in memory for the caller
    /// to send (a diskless full sync), taken with [`Job::take_output`].
    file: Option<FileId>,
    output: Vec<u8>,
    encoder: SnapshotEncoder,
    /// Bytes written to the temp file so far.
    pub bytes: u64,
    pub progress: Progress,
}

impl Job {
    /// Opens the temp file, writes the header and starts the snapshot.
    pub fn start(
        env: &mut dyn Env,
        keyspace: &mut Keyspace,
        temp_path: &str,
        encoding: Encoding,
    ) -> Result<Job, String> {
        let file = env
            .open(temp_path, OpenMode::CreateTruncate)
            .map_err(|e| format!("Failed opening the temp file {temp_path}: {e}"))?;
        let (encoder, header) = SnapshotEncoder::new(encoding, SLICE_ELEMENTS, &keyspace.functions);
        let mut job = Job {
            temp_path: temp_path.to_string(),
            file: Some(file),
            output: Vec::new(),
            encoder,
            bytes: 0,
            progress: Progress::Writing,
        };
        keyspace.start_snapshot();
        if let Err(error) = job.write(env, &header) {
            job.abort(env, keyspace);
            return Err(error);
        }
        Ok(job)
    }

    /// Starts a snapshot whose bytes stay in memory, a step at a time, for
    /// the caller to send (a diskless full sync to replicas).
    pub fn start_in_memory(keyspace: &mut Keyspace, encoding: Encoding) -> Job {
        let (encoder, header) = SnapshotEncoder::new(encoding, SLICE_ELEMENTS, &keyspace.functions);
        keyspace.start_snapshot();
        Job {
            temp_path: String::new(),
            file: None,
            bytes: header.len() as u64,
            output: header,
            encoder,
            progress: Progress::Writing,
        }
    }

    /// The bytes an in-memory job produced since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Writes the next step of the snapshot. Once the whole snapshot is in
    /// the file, the temp file is fsynced: in the background when
    /// `background` (the event loop goes on; `on_fsync_done` finishes it),
    /// else at once.
    pub fn step(
        &mut self,
        env: &mut dyn Env,
        keyspace: &mut Keyspace,
        background: bool,
    ) -> Result<Progress, String> {
        if self.progress != Progress::Writing {
            return Ok(self.progress);
        }
        let mut out = Vec::new();
        let over = self.encoder.step(keyspace, &mut out);
        self.write(env, &out)?;
        if over {
            keyspace.end_snapshot();
            return self.sync(env, background);
        }
        Ok(Progress::Writing)
    }

    /// Sets how many elements the next steps take (`rdb-key-save-delay`).
    pub fn set_slice_elements(&mut self, elements: usize) {
        self.encoder.set_slice_elements(elements);
    }

    /// Plants the bugs `resumed-value-skips-element` and
    /// `rewrite-scores-rounded` in this job's encoder, as asked.
    pub fn plant(&mut self, skip_on_resume: bool, round_scores: bool) {
        self.encoder.skip_on_resume = skip_on_resume;
        self.encoder.round_scores = round_scores;
    }

    /// Values this job wrote over several steps, so far.
    pub fn values_split(&self) -> u64 {
        self.encoder.values_split
    }

    fn sync(&mut self, env: &mut dyn Env, background: bool) -> Result<Progress, String> {
        let Some(file) = self.file else {
            self.progress = Progress::Done;
            return Ok(self.progress);
        };
        if background {
            let op = JOB_OP_BIT | file;
            env.fsync_background(file, op)
                .map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path))?;
            self.progress = Progress::Syncing(op);
        } else {
            env.fsync(file)
                .map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path))?;
            let _ = env.close_file(file);
            self.progress = Progress::Done;
        }
        Ok(self.progress)
    }

    /// A background fsync finished: `None` if it was not this job's.
    pub fn on_fsync_done(
        &mut self,
        env: &mut dyn Env,
        op: DiskOpId,
        result: io::Result<()>,
    ) -> Option<Result<(), String>> {
        if self.progress != Progress::Syncing(op) {
            return None;
        }
        if let Some(file) = self.file {
            let _ = env.close_file(file);
        }
        self.progress = Progress::Done;
        Some(result.map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path)))
    }

    fn write(&mut self, env: &mut dyn Env, data: &[u8]) -> Result<(), String> {
        let Some(file) = self.file else {
            self.output.extend_from_slice(data);
            self.bytes += data.len() as u64;
            return Ok(());
        };
        let mut done = 0;
        while done < data.len() {
            let written = env
                .write(file, &data[done..])
                .map_err(|e| format!("Write error writing {}: {e}", self.temp_path))?;
            if written == 0 {
                let error = io::Error::new(io::ErrorKind::WriteZero, "no progress");
                return Err(format!("Write error writing {}: {error}", self.temp_path));
            }
            done += written;
        }
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Gives up: closes and removes the temp file and ends the snapshot.
    pub fn abort(self, env: &mut dyn Env, keyspace: &mut Keyspace) {
        if let Some(file) = self.file {
            if self.progress != Progress::Done {
                let _ = env.close_file(file);
            }
            let _ = env.remove(&self.temp_path);
        }
        keyspace.end_snapshot();
    }

    /// Runs the whole job at once (SAVE, start-up, fsync-error recovery).
    pub fn run_to_end(mut self, env: &mut dyn Env, keyspace: &mut Keyspace) -> Result<Job, String> {
        loop {
            match self.step(env, keyspace, false) {
                Ok(Progress::Done) => return Ok(self),
                Ok(_) => {}
                Err(error) => {
                    self.abort(env, keyspace);
                    return Err(error);
                }
            }
        }
    }
}
