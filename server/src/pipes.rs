//! The commands PIPESAVE streams dumps into.
//!
//! Each command runs under `/bin/sh -c` with a pipe to its standard input,
//! fed by a thread of its own, so a command that reads slowly never blocks
//! the event loop: core sees the bytes it has not taken
//! (`Host::pipe_backlog`) and holds its snapshot back. Closing the input
//! lets the command finish; its exit code comes back to the event loop
//! (woken like the bio thread does), which hands it to core as
//! `Node::on_pipe_done`. Aborting kills it.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use mio::Waker;
use redoubt_core::env::PipeId;

/// What the feeding thread is told.
enum Feed {
    Bytes(Vec<u8>),
    /// Close the input and wait for the exit.
    Close,
}

struct Pipe {
    feed: Sender<Feed>,
    queued: Arc<AtomicU64>,
    child: Arc<Mutex<Child>>,
}

/// The running commands and their exits.
pub struct Pipes {
    running: HashMap<PipeId, Pipe>,
    exits_sender: Sender<(PipeId, io::Result<i32>)>,
    exits: Receiver<(PipeId, io::Result<i32>)>,
    waker: Arc<Waker>,
}

impl Pipes {
    pub fn new(waker: Arc<Waker>) -> Self {
        let (exits_sender, exits) = mpsc::channel();
        Pipes {
            running: HashMap::new(),
            exits_sender,
            exits,
            waker,
        }
    }

    /// Starts `command` and the thread that feeds it.
    pub fn open(&mut self, pipe: PipeId, command: &str) -> io::Result<()> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .spawn()?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| io::Error::other("no standard input"))?;
        let (feed, fed) = mpsc::channel();
        let queued = Arc::new(AtomicU64::new(0));
        let child = Arc::new(Mutex::new(child));
        let exits = self.exits_sender.clone();
        let waker = Arc::clone(&self.waker);
        let thread_queued = Arc::clone(&queued);
        let thread_child = Arc::clone(&child);
        thread::Builder::new()
            .name(format!("pipesave-{pipe}"))
            .spawn(move || {
                let exit = feed_command(stdin, &fed, &thread_queued, &thread_child);
                let _ = exits.send((pipe, exit));
                let _ = waker.wake();
            })?;
        self.running.insert(
            pipe,
            Pipe {
                feed,
                queued,
                child,
            },
        );
        Ok(())
    }

    pub fn write(&mut self, pipe: PipeId, data: &[u8]) {
        if let Some(running) = self.running.get(&pipe) {
            running
                .queued
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            let _ = running.feed.send(Feed::Bytes(data.to_vec()));
        }
    }

    pub fn backlog(&self, pipe: PipeId) -> u64 {
        self.running
            .get(&pipe)
            .map_or(0, |running| running.queued.load(Ordering::Relaxed))
    }

    pub fn close(&mut self, pipe: PipeId, abort: bool) {
        let Some(running) = self.running.remove(&pipe) else {
            return;
        };
        if abort {
            if let Ok(mut child) = running.child.lock() {
                let _ = child.kill();
            }
        }
        let _ = running.feed.send(Feed::Close);
    }

    /// Commands that exited since the last call.
    pub fn exits(&self) -> Vec<(PipeId, io::Result<i32>)> {
        self.exits.try_iter().collect()
    }
}

/// Writes what comes until told to close (or the command stops reading),
/// then waits for the command's exit code.
fn feed_command(
    mut stdin: ChildStdin,
    fed: &Receiver<Feed>,
    queued: &AtomicU64,
    child: &Mutex<Child>,
) -> io::Result<i32> {
    let mut write_error = None;
    for feed in fed {
        match feed {
            Feed::Bytes(bytes) => {
                if write_error.is_none() {
                    if let Err(error) = stdin.write_all(&bytes) {
                        write_error = Some(error);
                    }
                }
                queued.fetch_sub(bytes.len() as u64, Ordering::Relaxed);
            }
            Feed::Close => break,
        }
    }
    drop(stdin);
    let status = child
        .lock()
        .map_err(|_| io::Error::other("poisoned"))?
        .wait()?;
    if let Some(error) = write_error {
        return Err(io::Error::new(
            error.kind(),
            format!("writing to the command failed: {error}"),
        ));
    }
    status
        .code()
        .ok_or_else(|| io::Error::other(format!("the command was killed ({status})")))
}
