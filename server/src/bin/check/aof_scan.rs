//! Reading one AOF file (or the RESP tail after an RDB preamble) the way
//! the server's loader reads it: items from core's `next_item`, fed to
//! core's `Scanner`, which alone decides which commands are good; after
//! damage, core's `damage_proven_durable` decides between a torn tail and
//! corruption before the tail. This module only adds what a report needs:
//! Redis's line count, the damaged batch, and `#TS:` timestamps.
//!
//! The file is read in bounded chunks; after damage only the region from
//! the good end to the end of the file is held, as the loader does.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;

use redoubt_core::persist::aof_format::{
    damage_proven_durable, next_item, Damage, Item, Scanner, Stop, Trailer,
};

/// Bytes read per call.
const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Longest bulk accepted: Redis's default `proto-max-bulk-len`.
pub const BULK_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// A `#TS:` annotation later than the target of `--truncate-to-timestamp`.
#[derive(Debug, Clone, Copy)]
pub struct LateTimestamp {
    /// Where the annotation starts (Redis cuts here).
    pub start: u64,
    /// Where the file is good up to before it: the annotation's start,
    /// unless an unverified batch or an open MULTI precedes it.
    pub good_end: u64,
}

/// What reading one file found.
#[derive(Debug)]
pub struct Scan {
    pub size: u64,
    /// The file starts with a trailer marker: batches are verified.
    pub checked: bool,
    /// Batches verified, not counting the marker.
    pub batches: u64,
    pub commands: u64,
    /// Damage and where reading stopped (the loader's `damage_at`).
    pub damage: Option<(Damage, u64)>,
    /// Why parsing stopped, when it stopped on bytes rather than a trailer.
    pub stop: Option<Stop>,
    /// Where the file is good up to (its size when undamaged).
    pub good_end: u64,
    /// The trailer that failed to verify, for a checksum mismatch.
    pub bad_trailer: Option<Trailer>,
    /// A MULTI was open when reading stopped.
    pub in_multi: bool,
    /// Redis's `ok_up_to_line` counter after this file.
    pub lines: u64,
    /// Set when scanning stopped at a late timestamp.
    pub late_timestamp: Option<LateTimestamp>,
}

/// A `#TS:` annotation that is not `#TS:<integer>\r\n`.
#[derive(Debug)]
pub struct InvalidTimestamp;

/// The file being read, from `buf_offset` on.
struct Reader {
    file: File,
    buf: Vec<u8>,
    buf_offset: u64,
    pos: usize,
    eof: bool,
}

impl Reader {
    fn offset(&self) -> u64 {
        self.buf_offset + self.pos as u64
    }

    /// Reads another chunk after dropping what was parsed.
    fn fill(&mut self) -> io::Result<()> {
        self.buf.drain(..self.pos);
        self.buf_offset += self.pos as u64;
        self.pos = 0;
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        let n = loop {
            match self.file.read(&mut chunk) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.eof = n == 0;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Reads `file` from `start` (after an RDB preamble, or 0) to its end or
/// its first damage. `lines` is Redis's running line counter (it is not
/// reset between the files of a manifest). `to_timestamp` stops at the
/// first `#TS:` annotation later than it.
pub fn scan(
    mut file: File,
    start: u64,
    lines: u64,
    to_timestamp: Option<i64>,
) -> io::Result<Result<Scan, InvalidTimestamp>> {
    let size = file.metadata()?.len();
    io::Seek::seek(&mut file, io::SeekFrom::Start(start))?;
    let mut reader = Reader {
        file,
        buf: Vec::new(),
        buf_offset: start,
        pos: 0,
        eof: false,
    };
    let mut scanner = Scanner::default();
    let mut scan = Scan {
        size,
        checked: false,
        batches: 0,
        commands: 0,
        damage: None,
        stop: None,
        good_end: start,
        bad_trailer: None,
        in_multi: false,
        lines,
        late_timestamp: None,
    };
    if let Err(invalid) = read_items(&mut reader, &mut scanner, &mut scan, to_timestamp)? {
        return Ok(Err(invalid));
    }
    scan.checked = scanner.is_checked();
    scan.batches = scanner.batches;
    scan.commands = scanner.commands;
    scan.in_multi = scanner.in_multi();
    Ok(Ok(scan))
}

/// The loader's item loop, recording into `scan` instead of executing.
fn read_items(
    reader: &mut Reader,
    scanner: &mut Scanner,
    scan: &mut Scan,
    to_timestamp: Option<i64>,
) -> io::Result<Result<(), InvalidTimestamp>> {
    let start = reader.buf_offset;
    loop {
        let at = reader.offset();
        let parsed = next_item(&reader.buf[reader.pos..], at, BULK_BYTES_MAX);
        let (item, used) = match parsed {
            Err(Stop::Incomplete { .. }) if !reader.eof => {
                reader.fill()?;
                continue;
            }
            Err(Stop::Incomplete { .. }) if reader.pos == reader.buf.len() => {
                let (damage, good_end) = scanner.finish(None, at);
                scan.good_end = good_end.max(start);
                scan.damage = damage.map(|damage| (damage, at));
                return Ok(Ok(()));
            }
            Err(stop) => {
                scan.lines += partial_lines(&reader.buf[reader.pos..]);
                let (damage, good_end) = scanner.finish(Some(stop.clone()), at);
                scan.good_end = good_end.max(start);
                scan.damage = damage.map(|damage| (damage, at));
                scan.stop = Some(stop);
                return Ok(Ok(()));
            }
            Ok(parsed) => parsed,
        };
        let bytes = &reader.buf[reader.pos..reader.pos + used];
        match &item {
            Item::Command { argv, .. } => scan.lines += 1 + 2 * argv.len() as u64,
            Item::Annotation { .. } => {
                if let Some(target) = to_timestamp {
                    match timestamp(bytes) {
                        Some(Err(invalid)) => return Ok(Err(invalid)),
                        Some(Ok(ts)) if ts > target => {
                            scan.late_timestamp = Some(LateTimestamp {
                                start: at,
                                good_end: scanner.good_end().max(start),
                            });
                            return Ok(Ok(()));
                        }
                        _ => {}
                    }
                }
            }
            Item::Trailer { trailer, .. } => scan.bad_trailer = Some(*trailer),
        }
        let accepted = scanner.accept(item, bytes, at);
        reader.pos += used;
        if let Err(damage) = accepted {
            scan.good_end = scanner.good_end().max(start);
            scan.damage = Some((damage, reader.offset()));
            return Ok(Ok(()));
        }
    }
}

/// The timestamp of a `#TS:` annotation line, if it is one.
fn timestamp(line: &[u8]) -> Option<Result<i64, InvalidTimestamp>> {
    let rest = line.strip_prefix(b"#TS:")?;
    let digits = rest.strip_suffix(b"\r\n").ok_or(InvalidTimestamp);
    let parsed = digits.and_then(|digits| {
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse::<i64>().ok())
            .ok_or(InvalidTimestamp)
    });
    Some(parsed)
}

/// Lines Redis's checker consumes from a command it cannot finish: the
/// `*N` header, then each `$L` header and bulk that are whole.
fn partial_lines(buf: &[u8]) -> u64 {
    let Some((count, mut at)) = header(buf, 0, b'*') else {
        return 0;
    };
    let mut lines = 1;
    for _ in 0..count {
        let Some((len, after)) = header(buf, at, b'$') else {
            break;
        };
        lines += 1;
        let end = after.saturating_add(len as usize);
        if buf.get(end..end.saturating_add(2)) != Some(b"\r\n") {
            break;
        }
        lines += 1;
        at = end + 2;
    }
    lines
}

/// A `<prefix><digits>\r\n` line at `at`: its number and the index after.
fn header(buf: &[u8], at: usize, prefix: u8) -> Option<(u64, usize)> {
    const HEADER_BYTES_MAX: usize = 128;
    let rest = buf.get(at..)?.strip_prefix(&[prefix])?;
    let cr = rest
        .iter()
        .take(HEADER_BYTES_MAX)
        .position(|&b| b == b'\r')?;
    if rest.get(cr + 1) != Some(&b'\n') {
        return None;
    }
    let number = std::str::from_utf8(&rest[..cr]).ok()?.parse().ok()?;
    Some((number, at + 1 + cr + 2))
}

/// Whether valid data after damage at `damage_at` (in the file whose good
/// part ends at `good_end`) proves the damaged bytes had been durable:
/// reads that region, as the loader does, and asks core's
/// `damage_proven_durable`.
pub fn later_valid_data(
    file: &File,
    good_end: u64,
    (damage_at, damaged_byte): (u64, u64),
    trailers_only: bool,
) -> io::Result<bool> {
    let mut region = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    loop {
        match file.read_at(&mut chunk, good_end + region.len() as u64) {
            Ok(0) => break,
            Ok(n) => region.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let from = (damage_at.saturating_sub(good_end) as usize).min(region.len());
    Ok(damage_proven_durable(
        &region,
        from,
        damaged_byte,
        BULK_BYTES_MAX,
        trailers_only,
    ))
}
