//! PIPESAVE: a push backup. The forkless snapshot is written, a step at a
//! time, into the standard input of the command `pipesave-command` names
//! (a compressor and an uploader, say); the save succeeded only if that
//! command exits 0. It rides on the same in-memory snapshot job as a
//! diskless full sync and DUMPSAVE (see `repl::master`), so the three can
//! share one snapshot, and the event loop never waits for the command: a
//! command that reads slowly holds the snapshot back instead.

use crate::env::{Env, LogLevel, PipeId};
use crate::server::Server;

/// Bytes queued for the command above which the snapshot waits.
pub const PIPE_WINDOW_BYTES: u64 = 16 * 1024 * 1024;

/// A PIPESAVE asked for or running.
#[derive(Debug, Clone)]
pub struct PipeSave {
    /// The command it runs, as configured when it was asked for.
    pub command: String,
    /// Set once the snapshot started and the command runs.
    pub pipe: Option<PipeId>,
    pub started_ms: u64,
    /// Bytes handed to the command.
    pub bytes: u64,
    /// The whole dump was handed over; the command's exit decides.
    pub closing: bool,
    /// Something failed before the command exited.
    pub failed: Option<String>,
}

/// How a PIPESAVE ended.
#[derive(Debug, Clone)]
pub struct PipeSaveOutcome {
    pub result: Result<(), String>,
    /// The command's exit code, when it exited.
    pub exit_code: Option<i32>,
    pub bytes: u64,
    pub seconds: u64,
}

impl Server {
    /// PIPESAVE: asks for a push backup; it starts with the next snapshot
    /// (at once when no background job runs).
    pub fn pipesave(&mut self, env: &mut dyn Env) -> Result<(), String> {
        let command = self.config.pipesave_command.clone();
        if command.is_empty() {
            return Err("ERR PIPESAVE needs the pipesave-command directive to name the command that receives the dump".to_string());
        }
        if self.background.pipesave.is_some() {
            return Err("ERR Pipe save already in progress".to_string());
        }
        self.background.pipesave = Some(PipeSave {
            command,
            pipe: None,
            started_ms: env.monotonic_ms(),
            bytes: 0,
            closing: false,
            failed: None,
        });
        self.start_pending_sync(env);
        Ok(())
    }

    /// Whether a PIPESAVE waits for a snapshot to start.
    pub(crate) fn pipesave_waiting(&self) -> bool {
        self.background
            .pipesave
            .as_ref()
            .is_some_and(|save| save.pipe.is_none() && save.failed.is_none())
    }

    /// A snapshot starts: the waiting PIPESAVE's command starts with it.
    pub(crate) fn pipesave_attach(&mut self, env: &mut dyn Env) {
        if !self.pipesave_waiting() {
            return;
        }
        self.background.next_pipe += 1;
        let pipe = self.background.next_pipe;
        let Some(save) = self.background.pipesave.as_mut() else {
            return;
        };
        save.started_ms = env.monotonic_ms();
        match env.pipe_open(pipe, &save.command) {
            Ok(()) => {
                save.pipe = Some(pipe);
                env.log(
                    LogLevel::Notice,
                    &format!("Pipe save started into: {}", save.command),
                );
            }
            Err(error) => {
                let error = format!("can't start '{}': {error}", save.command);
                self.pipesave_finished(env, Err(error), None);
            }
        }
    }

    /// A step of the snapshot: to the command.
    pub(crate) fn pipesave_output(&mut self, env: &mut dyn Env, bytes: &[u8]) {
        if let Some(PipeSave {
            pipe: Some(pipe),
            closing: false,
            bytes: sent,
            ..
        }) = self.background.pipesave.as_mut()
        {
            env.pipe_write(*pipe, bytes);
            *sent += bytes.len() as u64;
        }
    }

    /// Whether the command has too much unread to take more now.
    pub(crate) fn pipesave_throttled(&self, env: &dyn Env) -> bool {
        matches!(
            &self.background.pipesave,
            Some(PipeSave { pipe: Some(pipe), closing: false, .. })
                if env.pipe_backlog(*pipe) > PIPE_WINDOW_BYTES
        )
    }

    /// The snapshot is complete (its input closes; the exit decides) or
    /// failed (the command is killed).
    pub(crate) fn pipesave_snapshot_done(
        &mut self,
        env: &mut dyn Env,
        result: &Result<(), String>,
    ) {
        let Some(save) = self.background.pipesave.as_mut() else {
            return;
        };
        let (Some(pipe), false) = (save.pipe, save.closing) else {
            return;
        };
        save.closing = true;
        match result {
            Ok(()) => env.pipe_close(pipe, false),
            Err(error) => {
                save.failed = Some(format!("the snapshot failed: {error}"));
                env.pipe_close(pipe, true);
            }
        }
    }

    /// The command exited (`Ok(code)`) or could not be waited for.
    pub fn pipe_done(
        &mut self,
        env: &mut dyn Env,
        pipe: crate::env::PipeId,
        exit: std::io::Result<i32>,
    ) {
        let Some(save) = self.background.pipesave.as_ref() else {
            return;
        };
        if save.pipe != Some(pipe) {
            return;
        }
        let failed = save.failed.clone();
        let closing = save.closing;
        let (result, code) = match exit {
            Ok(0) if closing && failed.is_none() => (Ok(()), Some(0)),
            Ok(code) => (
                Err(failed.unwrap_or_else(|| format!("'{}' exited with code {code}", save.command))),
                Some(code),
            ),
            Err(error) => (
                Err(failed.unwrap_or_else(|| format!("'{}' failed: {error}", save.command))),
                None,
            ),
        };
        self.pipesave_finished(env, result, code);
    }

    fn pipesave_finished(
        &mut self,
        env: &mut dyn Env,
        result: Result<(), String>,
        exit_code: Option<i32>,
    ) {
        let Some(save) = self.background.pipesave.take() else {
            return;
        };
        match &result {
            Ok(()) => env.log(LogLevel::Notice, "Pipe save terminated with success"),
            Err(error) => env.log(LogLevel::Warning, &format!("Pipe save failed: {error}")),
        }
        self.background.pipesave_last = Some(PipeSaveOutcome {
            result,
            exit_code,
            bytes: save.bytes,
            seconds: env.monotonic_ms().saturating_sub(save.started_ms) / 1000,
        });
    }
}
