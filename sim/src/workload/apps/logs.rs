//! Log processing with a progress checkpoint ("Redis in Action" §4.2):
//! processor P reads synthetic log files line by line, counts each line's
//! status in the hash `logs:P:counts`, and records how far it got in
//! `logs:P:progress` (`FILE:LINE`) in the same MULTI as the counts. After a
//! lost connection it reads the checkpoint again and resumes from it, so
//! the counts always equal exactly what the recorded progress covers.

use super::{exec_outcome, request, AppNext, AppStats, ExecOutcome, THINK_MS_MAX};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

/// Lines in each log file.
pub const LINES_PER_FILE: u64 = 40;
/// Lines one MULTI processes, at most.
const CHUNK_LINES_MAX: u64 = 12;
/// The statuses a line can carry.
pub const STATUSES: [&str; 5] = ["200", "301", "404", "500", "503"];

pub fn progress_key(processor: u64) -> Vec<u8> {
    format!("logs:{processor}:progress").into_bytes()
}

pub fn counts_key(processor: u64) -> Vec<u8> {
    format!("logs:{processor}:counts").into_bytes()
}

/// The status of line `line` of file `file`: a fixed function, so the
/// checker can recount any prefix of the logs.
pub fn status_of(file: u64, line: u64) -> &'static str {
    let mut x = file
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(line.wrapping_mul(0xbf58_476d_1ce4_e5b9));
    x ^= x >> 31;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^= x >> 29;
    STATUSES[(x % STATUSES.len() as u64) as usize]
}

/// A position in the logs: the next line to process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub file: u64,
    pub line: u64,
}

impl Position {
    pub fn encode(&self) -> Vec<u8> {
        format!("{}:{}", self.file, self.line).into_bytes()
    }

    pub fn parse(text: &[u8]) -> Option<Position> {
        let text = std::str::from_utf8(text).ok()?;
        let (file, line) = text.split_once(':')?;
        let position = Position {
            file: file.parse().ok()?,
            line: line.parse().ok()?,
        };
        (position.line < LINES_PER_FILE).then_some(position)
    }

    /// The position `lines` lines on, moving to the next file at the end
    /// of one.
    pub fn advanced(&self, lines: u64) -> Position {
        let line = self.line + lines;
        if line >= LINES_PER_FILE {
            Position {
                file: self.file + 1,
                line: 0,
            }
        } else {
            Position {
                file: self.file,
                line,
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Read the checkpoint.
    Resume,
    /// Process from here.
    At(Position),
    /// A chunk is in flight, ending at this position.
    Committing { to: Position },
}

#[derive(Debug, Clone)]
pub struct Processor {
    index: u64,
    stage: Stage,
    chunks_left: u64,
    pub stats: AppStats,
}

impl Processor {
    pub fn new(index: u64, operations: u64) -> Processor {
        Processor {
            index,
            stage: Stage::Resume,
            chunks_left: operations,
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.chunks_left == 0 && matches!(self.stage, Stage::At(_))
    }

    pub fn on_disconnected(&mut self) {
        self.stage = Stage::Resume;
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        match self.stage {
            Stage::Resume => vec![request(&[b"GET", &progress_key(self.index)])],
            Stage::At(_) if self.chunks_left == 0 => Batch::new(),
            Stage::At(from) => {
                let wanted = rng.range(1, CHUNK_LINES_MAX);
                let lines = wanted.min(LINES_PER_FILE - from.line);
                let to = from.advanced(lines);
                self.stage = Stage::Committing { to };
                self.chunk_batch(from, lines, to)
            }
            Stage::Committing { .. } => unreachable!("a chunk is answered before the next"),
        }
    }

    /// MULTI, one HINCRBY per status the chunk's lines carry, the new
    /// checkpoint, EXEC.
    fn chunk_batch(&self, from: Position, lines: u64, to: Position) -> Batch {
        let mut counts = [0u64; STATUSES.len()];
        for line in from.line..from.line + lines {
            let status = status_of(from.file, line);
            let at = STATUSES
                .iter()
                .position(|s| *s == status)
                .expect("a status");
            counts[at] += 1;
        }
        let counts_key = counts_key(self.index);
        let mut batch = vec![request(&[b"MULTI"])];
        for (status, count) in STATUSES.iter().zip(counts) {
            if count > 0 {
                batch.push(request(&[
                    b"HINCRBY",
                    &counts_key,
                    status.as_bytes(),
                    count.to_string().as_bytes(),
                ]));
            }
        }
        batch.push(request(&[b"SET", &progress_key(self.index), &to.encode()]));
        batch.push(request(&[b"EXEC"]));
        batch
    }

    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        self.stage = match self.stage {
            Stage::Resume => {
                self.stats.log_resumes += 1;
                match replies.first() {
                    Some(Reply::Bulk(Some(text))) => match Position::parse(text) {
                        Some(position) => Stage::At(position),
                        // A checkpoint it cannot read: stop rather than
                        // count lines twice (the checker reports it).
                        None => {
                            self.chunks_left = 0;
                            Stage::At(Position::default())
                        }
                    },
                    Some(Reply::Bulk(None)) => Stage::At(Position::default()),
                    // Refused: try again, spending a chunk, so that a node
                    // that refuses everything still lets the run end.
                    _ => {
                        self.chunks_left = self.chunks_left.saturating_sub(1);
                        if self.chunks_left == 0 {
                            Stage::At(Position::default())
                        } else {
                            Stage::Resume
                        }
                    }
                }
            }
            Stage::At(position) => Stage::At(position),
            Stage::Committing { to } => {
                self.chunks_left -= 1;
                match exec_outcome(replies) {
                    ExecOutcome::Committed => {
                        self.stats.log_chunks += 1;
                        Stage::At(to)
                    }
                    // Nothing is watched, so EXEC runs or is refused
                    // whole; whatever happened, the checkpoint says.
                    ExecOutcome::Aborted | ExecOutcome::Failed => Stage::Resume,
                }
            }
        };
        match self.stage {
            Stage::Resume => AppNext::Continue {
                think_ms: THINK_MS_MAX,
            },
            _ if self.finished() => AppNext::Finished,
            _ => AppNext::Continue { think_ms: 1 },
        }
    }
}
