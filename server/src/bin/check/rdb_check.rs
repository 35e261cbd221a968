//! The RDB half of the offline checkers: walks a dump with core's
//! [`RdbReader`] and prints what `redis-check-rdb` 7.0 prints, line for
//! line (`[offset N] ...`, `--- RDB ERROR DETECTED ---`, `[additional info]
//! ...`, `[info] ...`), plus one `[additional info]` line with the reader's
//! full diagnosis when it says more than Redis's wording. Used by
//! `redoubt-check-rdb` and by `redoubt-check-aof` for an RDB BASE file.
//!
//! Offsets are those of Redis's checker: bytes consumed after the item was
//! read, so `AUX FIELD` and `Selecting DB ID` lines show where the item
//! ends. Nothing here panics on any input: every length comes from the
//! reader, which never trusts one, and the few bytes peeked to name what
//! was being read when an error struck are bounds-checked.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use redoubt_core::persist::rdb::{
    ByteSource, Checksum, RdbError, RdbErrorKind, RdbEvent, RdbReader,
};

/// Prints one line to stdout; a closed pipe is not worth a panic.
pub fn say(line: &str) {
    let _ = writeln!(io::stdout().lock(), "{line}");
}

/// Bytes peeked after the last good event to name what failed.
const PEEK_BYTES_MAX: usize = 4096;

/// Redis's names for what its checker was doing (`rdb_check_doing_string`).
const DOING_START: &str = "start";
const DOING_READ_TYPE: &str = "read-type";
const DOING_READ_EXPIRE: &str = "read-expire";
const DOING_READ_KEY: &str = "read-key";
const DOING_READ_VALUE: &str = "read-object-value";
const DOING_CHECK_SUM: &str = "check-sum";
const DOING_READ_LEN: &str = "read-len";
const DOING_READ_AUX: &str = "read-aux";
const DOING_READ_MODULE_AUX: &str = "read-module-aux";
const DOING_READ_FUNCTIONS: &str = "read-functions";

/// Redis's names for value types (`rdb_type_string`).
fn type_name(rdb_type: u8) -> &'static str {
    const NAMES: [&str; 19] = [
        "string",
        "list-linked",
        "set-hashtable",
        "zset-v1",
        "hash-hashtable",
        "zset-v2",
        "module-value",
        "",
        "",
        "hash-zipmap",
        "list-ziplist",
        "set-intset",
        "zset-ziplist",
        "hash-ziplist",
        "quicklist",
        "stream",
        "hash-listpack",
        "zset-listpack",
        "quicklist-v2",
    ];
    NAMES.get(rdb_type as usize).copied().unwrap_or("unknown")
}

/// A file as the reader's byte source, knowing how much is left.
struct FileSource {
    file: File,
    remaining: u64,
}

impl ByteSource for FileSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.remaining = self.remaining.saturating_sub(n as u64);
        Ok(n)
    }

    fn remaining_hint(&mut self) -> Option<u64> {
        Some(self.remaining)
    }
}

/// Counts kept while reading, as Redis's `rdbstate`.
#[derive(Default, Clone, Copy)]
struct Counts {
    keys: u64,
    expires: u64,
    already_expired: u64,
}

impl Counts {
    fn show(&self) {
        say(&format!("[info] {} keys read", self.keys));
        say(&format!("[info] {} expires", self.expires));
        say(&format!("[info] {} already expired", self.already_expired));
    }
}

/// Checks the dump at the start of `path`, printing the report under the
/// name `name`. Returns where the dump ends if it is sound.
pub fn check_rdb(path: &Path, name: &str) -> Option<u64> {
    say(&format!("[offset 0] Checking RDB file {name}"));
    let opened = File::open(path).and_then(|file| {
        let remaining = file.metadata()?.len();
        Ok(FileSource { file, remaining })
    });
    let source = match opened {
        Ok(source) => source,
        Err(error) => {
            say(&format!("[error] Cannot open RDB file {name}: {error}"));
            return None;
        }
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut counts = Counts::default();
    let mut reader = match RdbReader::new(source) {
        Ok(reader) => reader,
        Err(error) => {
            report_error(path, &error, 0, &counts);
            return None;
        }
    };
    let mut last_end = reader.offset();
    loop {
        let event = match reader.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => break,
            Err(error) => {
                report_error(path, &error, last_end, &counts);
                return None;
            }
        };
        let offset = reader.offset();
        show_event(&event, offset, now_ms, &mut counts);
        last_end = offset;
    }
    say(&format!("[offset {last_end}] \\o/ RDB looks OK! \\o/"));
    counts.show();
    Some(last_end)
}

/// Prints what Redis's checker prints for one event and counts keys.
fn show_event(event: &RdbEvent, offset: u64, now_ms: i64, counts: &mut Counts) {
    match event {
        RdbEvent::Aux { key, value } => say(&format!(
            "[offset {offset}] AUX FIELD {} = '{}'",
            printable(key),
            printable(value)
        )),
        RdbEvent::SelectDb { index } => say(&format!("[offset {offset}] Selecting DB ID {index}")),
        RdbEvent::ResizeDb { .. } | RdbEvent::Function { .. } => {}
        RdbEvent::EmptyKey { key } => say(&format!(
            "[offset {offset}] Skipping empty key: {}",
            printable(key)
        )),
        RdbEvent::Entry(entry) => {
            counts.keys += 1;
            if let Some(at) = entry.expire_at_ms {
                counts.expires += 1;
                if at < now_ms {
                    counts.already_expired += 1;
                }
            }
        }
        RdbEvent::End { checksum } => match checksum {
            Checksum::Verified(_) => say(&format!("[offset {offset}] Checksum OK")),
            Checksum::Disabled => say(&format!(
                "[offset {offset}] RDB file was saved with checksum disabled: no check performed."
            )),
            Checksum::NotVerified(_) | Checksum::Absent => {}
        },
    }
}

/// Bytes as Redis's `%s` would show them, stopping at a NUL as C does,
/// with non-UTF-8 bytes replaced.
fn printable(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// Prints Redis's error block for `error`; `last_end` is where the last
/// good event ended.
fn report_error(path: &Path, error: &RdbError, last_end: u64, counts: &Counts) {
    let context = Context::of(path, error, last_end);
    say("--- RDB ERROR DETECTED ---");
    say(&format!(
        "[offset {}] {}",
        context.offset,
        redis_wording(error)
    ));
    say(&format!("[additional info] While doing: {}", context.doing));
    if let Some(key) = &context.key {
        say(&format!(
            "[additional info] Reading key '{}'",
            printable(key)
        ));
    }
    if let Some(rdb_type) = context.rdb_type {
        say(&format!(
            "[additional info] Reading type {rdb_type} ({})",
            type_name(rdb_type)
        ));
    }
    say(&format!("[additional info] {error}"));
    let mut shown = *counts;
    if context.key.is_some() {
        // Redis counts a key as read once its name is, before its value.
        shown.keys += 1;
    }
    shown.show();
}

/// Redis's words for the errors it also detects; ours for the rest.
fn redis_wording(error: &RdbError) -> String {
    match &error.kind {
        RdbErrorKind::BadMagic => "Wrong signature trying to load DB from file".to_string(),
        RdbErrorKind::UnsupportedVersion(version) => {
            format!("Can't handle RDB format version {version}")
        }
        RdbErrorKind::BadVersion(_) => "Can't handle RDB format version".to_string(),
        RdbErrorKind::UnexpectedEof => "Unexpected EOF reading RDB file".to_string(),
        RdbErrorKind::BadChecksum { .. } => "RDB CRC error".to_string(),
        RdbErrorKind::UnknownType(rdb_type) => format!("Invalid object type: {rdb_type}"),
        other => other.to_string(),
    }
}

/// What the checker was doing when the error struck, in Redis's terms.
struct Context {
    offset: u64,
    doing: &'static str,
    key: Option<Vec<u8>>,
    rdb_type: Option<u8>,
}

impl Context {
    fn of(path: &Path, error: &RdbError, last_end: u64) -> Context {
        let plain = |doing| Context {
            offset: error.offset,
            doing,
            key: None,
            rdb_type: None,
        };
        match &error.kind {
            // Redis reads the 9 header bytes before checking them.
            RdbErrorKind::BadMagic
            | RdbErrorKind::BadVersion(_)
            | RdbErrorKind::UnsupportedVersion(_) => Context {
                offset: 9,
                ..plain(DOING_START)
            },
            // Redis reports the offset after the 8 checksum bytes.
            RdbErrorKind::BadChecksum { .. } => Context {
                offset: error.offset + 8,
                ..plain(DOING_CHECK_SUM)
            },
            RdbErrorKind::UnknownType(_) | RdbErrorKind::DanglingExpire => plain(DOING_READ_TYPE),
            RdbErrorKind::FunctionsUnsupported => plain(DOING_READ_FUNCTIONS),
            RdbErrorKind::ModuleAuxUnsupported => plain(DOING_READ_MODULE_AUX),
            RdbErrorKind::UnsupportedType { rdb_type, key } => Context {
                key: Some(key.clone()),
                rdb_type: Some(*rdb_type),
                ..plain(DOING_READ_VALUE)
            },
            _ => {
                let window = peek(path, last_end, error.offset);
                Context {
                    offset: error.offset,
                    ..locate(&window)
                }
            }
        }
    }
}

/// The bytes from `from` to `to` (at most [`PEEK_BYTES_MAX`]), or fewer if
/// the file is shorter or unreadable.
fn peek(path: &Path, from: u64, to: u64) -> Vec<u8> {
    let len = (to.saturating_sub(from) as usize).min(PEEK_BYTES_MAX);
    let mut window = vec![0u8; len];
    let Ok(file) = File::open(path) else {
        return Vec::new();
    };
    let mut filled = 0;
    while filled < len {
        match file.read_at(&mut window[filled..], from + filled as u64) {
            Ok(0) | Err(_) => break,
            Ok(n) => filled += n,
        }
    }
    window.truncate(filled);
    window
}

/// Names what was being read from `window`, the bytes of the failed item
/// up to the error: the opcode after any expire/LRU/LFU prefix and, for a
/// key, whether its name was complete.
fn locate(window: &[u8]) -> Context {
    let context = |doing| Context {
        offset: 0,
        doing,
        key: None,
        rdb_type: None,
    };
    let mut at = 0;
    loop {
        let Some(&opcode) = window.get(at) else {
            return context(DOING_READ_TYPE);
        };
        let skip = match opcode {
            0xFC => 9,
            0xFD => 5,
            0xF9 => 2,
            0xF8 => 1 + length_field_bytes(window.get(at + 1).copied()),
            0xFA => return context(DOING_READ_AUX),
            0xFE | 0xFB => return context(DOING_READ_LEN),
            0xFF => return context(DOING_CHECK_SUM),
            0xF7 => return context(DOING_READ_MODULE_AUX),
            0xF5 | 0xF6 => return context(DOING_READ_FUNCTIONS),
            rdb_type => return locate_key(window, at + 1, rdb_type),
        };
        if at + skip > window.len() {
            let doing = if matches!(opcode, 0xFC | 0xFD) {
                DOING_READ_EXPIRE
            } else {
                DOING_READ_TYPE
            };
            return context(doing);
        }
        at += skip;
    }
}

/// The failed item is a key of `rdb_type` whose name starts at `at`.
fn locate_key(window: &[u8], at: usize, rdb_type: u8) -> Context {
    let reading_key = Context {
        offset: 0,
        doing: DOING_READ_KEY,
        key: None,
        rdb_type: Some(rdb_type),
    };
    let Some(&first) = window.get(at) else {
        return reading_key;
    };
    let header = length_field_bytes(Some(first));
    let Some(field) = window.get(at..at + header) else {
        return reading_key;
    };
    let key = match first >> 6 {
        3 => {
            let digits: i64 = match (first & 0x3f, &field[1..]) {
                (0, [a]) => i64::from(*a as i8),
                (1, [a, b]) => i64::from(i16::from_le_bytes([*a, *b])),
                (2, [a, b, c, d]) => i64::from(i32::from_le_bytes([*a, *b, *c, *d])),
                // An LZF name: complete only if the whole window holds it;
                // it is not decoded here.
                _ => return reading_key,
            };
            digits.to_string().into_bytes()
        }
        _ => {
            let len = plain_length(field) as usize;
            match window.get(at + header..).and_then(|rest| rest.get(..len)) {
                Some(name) => name.to_vec(),
                None => return reading_key,
            }
        }
    };
    Context {
        doing: DOING_READ_VALUE,
        key: Some(key),
        ..reading_key
    }
}

/// Bytes a length field takes, judging by its first byte.
fn length_field_bytes(first: Option<u8>) -> usize {
    match first {
        None => 1,
        Some(byte) => match byte >> 6 {
            0 => 1,
            1 => 2,
            2 if byte == 0x81 => 9,
            2 => 5,
            _ => match byte & 0x3f {
                0 => 2,
                1 => 3,
                2 => 5,
                _ => 1,
            },
        },
    }
}

/// The value of a plain (non-encoded) length field.
fn plain_length(field: &[u8]) -> u64 {
    match field {
        [first] => u64::from(first & 0x3f),
        [first, second] => (u64::from(first & 0x3f) << 8) | u64::from(*second),
        [_, rest @ ..] => rest.iter().fold(0u64, |n, &b| (n << 8) | u64::from(b)),
        [] => 0,
    }
}
