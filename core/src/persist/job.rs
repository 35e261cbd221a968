//! One background save or rewrite: a point-in-time snapshot of the keyspace
//! (see `db::snapshot`) encoded slice by slice into a temp file, as RDB or as
//! a checked RESP BASE, then fsynced. The event loop runs a slice at a time,
//! so no iteration stalls for the whole dataset; the caller renames the temp
//! file into place once `step` reports it complete and durable.

use std::io;

use super::aof_format::{batch_trailer, encode_command};
use super::rdb::RdbWriter;
use crate::db::{Keyspace, Value};
use crate::env::{DiskOpId, Env, FileId, OpenMode};

/// Elements per slice of a background job: keys for strings, elements
/// for collections (a single larger collection still goes whole).
pub const SLICE_ELEMENTS: usize = 1000;

/// Background disk operations of jobs carry this bit, so their completions
/// are told apart from the AOF's.
pub const JOB_OP_BIT: DiskOpId = 1 << 63;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Slices remain to be written.
    Writing,
    /// Everything is written; the fsync of the temp file runs in the
    /// background and `Job::on_fsync_done` will report it.
    Syncing(DiskOpId),
    /// The temp file is complete, durable and closed.
    Done,
}

/// What a job writes.
pub enum Encoding {
    /// An RDB dump (BGSAVE, or an AOF BASE with the RDB preamble).
    Rdb {
        compress: bool,
        checksum: bool,
        aux: Vec<(String, Vec<u8>)>,
    },
    /// A RESP BASE in checked batches, one per slice.
    Resp,
}

enum Encoder {
    Rdb(Option<RdbWriter>),
    Resp { batch_seq: u64 },
}

/// A snapshot being written to a temp file.
pub struct Job {
    pub temp_path: String,
    file: FileId,
    encoder: Encoder,
    current_db: Option<usize>,
    /// Bytes written to the temp file so far.
    pub bytes: u64,
    /// Keys written so far.
    pub keys: u64,
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
        let mut header = Vec::new();
        let encoder = match encoding {
            Encoding::Rdb {
                compress,
                checksum,
                aux,
            } => {
                let mut writer = RdbWriter::new(compress, checksum);
                let aux: Vec<(&str, &[u8])> = aux
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_slice()))
                    .collect();
                writer.header(&mut header, &aux);
                Encoder::Rdb(Some(writer))
            }
            Encoding::Resp => {
                header.extend_from_slice(&batch_trailer(0, b"", None));
                Encoder::Resp { batch_seq: 0 }
            }
        };
        let mut job = Job {
            temp_path: temp_path.to_string(),
            file,
            encoder,
            current_db: None,
            bytes: 0,
            keys: 0,
            progress: Progress::Writing,
        };
        keyspace.start_snapshot();
        if let Err(error) = job.write(env, &header) {
            job.abort(env, keyspace);
            return Err(error);
        }
        Ok(job)
    }

    /// Writes the next slice. Once the whole snapshot is in the file, the
    /// temp file is fsynced: in the background when `background` (the
    /// event loop goes on; `on_fsync_done` finishes it), else at once.
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
        let Some(slice) = keyspace.snapshot_next(SLICE_ELEMENTS) else {
            if let Encoder::Rdb(writer) = &mut self.encoder {
                if let Some(writer) = writer.take() {
                    writer.finish(&mut out);
                }
            }
            self.write(env, &out)?;
            keyspace.end_snapshot();
            return self.sync(env, background);
        };
        for (key, value, expire) in &slice.entries {
            self.encode(&mut out, slice.db, slice.hints, key, value, *expire);
        }
        if let Encoder::Resp { batch_seq } = &mut self.encoder {
            if !out.is_empty() {
                *batch_seq += 1;
                let trailer = batch_trailer(*batch_seq, &out, None);
                out.extend_from_slice(&trailer);
            }
        }
        self.keys += slice.entries.len() as u64;
        self.write(env, &out)?;
        Ok(Progress::Writing)
    }

    fn sync(&mut self, env: &mut dyn Env, background: bool) -> Result<Progress, String> {
        if background {
            let op = JOB_OP_BIT | self.file;
            env.fsync_background(self.file, op)
                .map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path))?;
            self.progress = Progress::Syncing(op);
        } else {
            env.fsync(self.file)
                .map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path))?;
            let _ = env.close_file(self.file);
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
        let _ = env.close_file(self.file);
        self.progress = Progress::Done;
        Some(result.map_err(|e| format!("Failed fsyncing {}: {e}", self.temp_path)))
    }

    fn encode(
        &mut self,
        out: &mut Vec<u8>,
        db: usize,
        hints: (usize, usize),
        key: &[u8],
        value: &Value,
        expire: Option<i64>,
    ) {
        let new_db = self.current_db != Some(db);
        match &mut self.encoder {
            Encoder::Rdb(Some(writer)) => {
                if new_db {
                    writer.select_db(out, db as u64, hints.0 as u64, hints.1 as u64);
                }
                writer.entry(out, key, value, expire);
            }
            Encoder::Rdb(None) => return,
            Encoder::Resp { .. } => {
                // Keys already past their time are written too, as the RDB
                // encoder does: the wall clock may go back, and the live
                // dataset, which still holds them, then serves them again
                // (an INCR in the INCR file would otherwise load on top of
                // nothing). Loading keeps them; expiry takes them later.
                if new_db {
                    encode_command(out, &[b"SELECT".to_vec(), db.to_string().into_bytes()]);
                }
                encode_resp_entry(out, key, value, expire);
            }
        }
        self.current_db = Some(db);
    }

    fn write(&mut self, env: &mut dyn Env, data: &[u8]) -> Result<(), String> {
        let mut done = 0;
        while done < data.len() {
            let written = env
                .write(self.file, &data[done..])
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
        if self.progress != Progress::Done {
            let _ = env.close_file(self.file);
        }
        let _ = env.remove(&self.temp_path);
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

/// A key as the commands that recreate it: SET, then PEXPIREAT if it
/// expires.
pub fn encode_resp_entry(out: &mut Vec<u8>, key: &[u8], value: &Value, expire: Option<i64>) {
    value.rewrite_commands(key, &mut |words| encode_command(out, words));
    if let Some(at) = expire {
        encode_command(out, &[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()]);
    }
}
