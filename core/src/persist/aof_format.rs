//! The bytes of the append-only file: Redis 7's manifest, commands as RESP
//! multibulk, and redoubt's batch trailers.
//!
//! Every batch of commands flushed in one event-loop iteration ends with a
//! trailer annotation line, `#CK:<seq>:<len>:<crc32c>:<synced>\r\n`,
//! covering the `len` bytes since the previous trailer; `synced` is how many
//! bytes of the file were known durable (fsynced) when the batch was
//! written, and the checksum covers it too. Redis 7 skips lines starting
//! with `#` when loading, and `redis-check-aof` accepts them, so real Redis
//! still reads our files; we use the trailers to tell a torn tail (truncate)
//! from corruption before the tail (refuse), and to refuse flipped bits that
//! Redis would serve. A trailer is self-locating: the `len` bytes before it
//! must hash to its checksum, so valid data after damage can be found
//! without parsing through the damage.
//!
//! Why `synced`: at power loss the kernel may have written a later page of
//! the unsynced tail and not an earlier one, so a torn tail can hold a hole
//! followed by a valid batch. That batch's `synced` says whether the hole
//! was already durable when it was written: if so, the hole is corruption
//! of durable data; if not, it is an unsynced tail that power loss tore,
//! and cutting it loses nothing the policy promised. Trailers without the
//! field (BASE files, older files) vouch for everything before them.

use crc::{Crc, CRC_32_ISCSI};

use crate::resp::{parse_i64, split_args};

/// CRC-32C, for batch trailers.
pub static CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// The prefix of a batch trailer line.
pub const TRAILER_PREFIX: &[u8] = b"#CK:";
/// Longest annotation line Redis's loader reads (AOF_ANNOTATION_LINE_MAX_LEN).
pub const ANNOTATION_BYTES_MAX: usize = 1024;
/// Longest manifest line, its `\n` included (Redis's MANIFEST_MAX_LINE).
pub const MANIFEST_LINE_BYTES_MAX: usize = 1024;

/// Appends one command as RESP multibulk.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, argv: &[A]) {
    out.push(b'*');
    crate::resp::push_i64(out, argv.len() as i64);
    out.extend_from_slice(b"\r\n");
    for arg in argv {
        let arg = arg.as_ref();
        out.push(b'$');
        crate::resp::push_i64(out, arg.len() as i64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The trailer closing a batch whose bytes are `batch`; `synced`: bytes of
/// the file known durable when the batch was written (`None` for files
/// that are made durable whole before anyone reads them).
pub fn batch_trailer(seq: u64, batch: &[u8], synced: Option<u64>) -> Vec<u8> {
    let crc = trailer_checksum(batch, synced);
    match synced {
        Some(synced) => format!("#CK:{seq}:{}:{crc:08x}:{synced}\r\n", batch.len()),
        None => format!("#CK:{seq}:{}:{crc:08x}\r\n", batch.len()),
    }
    .into_bytes()
}

/// The checksum of a batch and its `synced` field (the scanner computes
/// the same incrementally).
fn trailer_checksum(batch: &[u8], synced: Option<u64>) -> u32 {
    let mut digest = CRC32C.digest();
    digest.update(batch);
    if let Some(synced) = synced {
        digest.update(b":");
        digest.update(synced.to_string().as_bytes());
    }
    digest.finalize()
}

/// A parsed trailer line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trailer {
    pub seq: u64,
    pub len: u64,
    pub crc: u32,
    /// Bytes of the file known durable when the batch was written, if the
    /// trailer says.
    pub synced: Option<u64>,
}

/// Parses a trailer line without its `\r\n`; `None` if it is not one.
pub fn parse_trailer(line: &[u8]) -> Option<Trailer> {
    let rest = line.strip_prefix(TRAILER_PREFIX)?;
    let text = std::str::from_utf8(rest).ok()?;
    let mut parts = text.split(':');
    let seq = parts.next()?.parse().ok()?;
    let len = parts.next()?.parse().ok()?;
    let crc = u32::from_str_radix(parts.next()?, 16).ok()?;
    let synced = match parts.next() {
        Some(field) => Some(field.parse().ok()?),
        None => None,
    };
    parts.next().is_none().then_some(Trailer {
        seq,
        len,
        crc,
        synced,
    })
}

/// What a manifest entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> &'static str {
        match self {
            FileKind::Base => "b",
            FileKind::History => "h",
            FileKind::Incr => "i",
        }
    }
}

/// One file named by the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// Redis 7's AOF manifest: at most one BASE, the INCR files in order, and
/// HISTORY files awaiting deletion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<AofFile>,
    pub incrs: Vec<AofFile>,
    pub history: Vec<AofFile>,
}

impl Manifest {
    /// Parses manifest text with Redis's rules (aof.c's
    /// aofLoadManifestFromFile), refusing with Redis's reasons: `#` lines
    /// are comments; every other line ends in `\n` within
    /// [`MANIFEST_LINE_BYTES_MAX`] bytes and holds `key value` pairs
    /// (`file`, `seq`, `type` required, other keys ignored); one base at
    /// most, INCR sequence numbers increasing. A manifest redoubt wrote
    /// starts with its checksum line, which must verify: one flipped bit
    /// turns `type i` into `type h` and would silently drop an INCR file.
    /// Redis writes no comment lines, so a manifest whose first line is a
    /// comment but no valid checksum is damaged.
    pub fn parse(text: &[u8]) -> Result<Manifest, ManifestRefusal> {
        if text.first() == Some(&b'#') {
            verify_manifest_checksum(text)
                .map_err(|reason| ManifestRefusal { reason, line: None })?;
        }
        let mut manifest = Manifest::default();
        let mut lines = 0;
        for line in text.split_inclusive(|&b| b == b'\n') {
            lines += 1;
            if line.first() == Some(&b'#') {
                continue;
            }
            let refuse = |reason: &str| ManifestRefusal {
                reason: reason.to_string(),
                line: Some((lines, trim_manifest_line(line).to_vec())),
            };
            if line.len() > MANIFEST_LINE_BYTES_MAX || line.last() != Some(&b'\n') {
                return Err(ManifestRefusal {
                    reason: "The AOF manifest file contains too long line".to_string(),
                    line: None,
                });
            }
            let file = parse_manifest_line(trim_manifest_line(line)).map_err(refuse)?;
            manifest.add(file).map_err(refuse)?;
        }
        if lines == 0 {
            return Err(ManifestRefusal {
                reason: "Found an empty AOF manifest".to_string(),
                line: None,
            });
        }
        Ok(manifest)
    }

    fn add(&mut self, file: AofFile) -> Result<(), &'static str> {
        match file.kind {
            FileKind::Base if self.base.is_some() => Err("Found duplicate base file information"),
            FileKind::Base => {
                self.base = Some(file);
                Ok(())
            }
            FileKind::History => {
                self.history.push(file);
                Ok(())
            }
            FileKind::Incr => {
                if self.incrs.last().is_some_and(|last| last.seq >= file.seq) {
                    return Err("Found a non-monotonic sequence number");
                }
                self.incrs.push(file);
                Ok(())
            }
        }
    }

    /// The manifest as Redis writes it (base, history, then INCR files),
    /// after a checksum line that Redis skips as a comment.
    pub fn to_text(&self) -> String {
        let mut body = String::new();
        let all = self.base.iter().chain(&self.history).chain(&self.incrs);
        for file in all {
            body.push_str(&format!(
                "file {} seq {} type {}\n",
                quote_name(&file.name),
                file.seq,
                file.kind.letter()
            ));
        }
        let crc = CRC32C.checksum(body.as_bytes());
        format!(
            "{}{crc:08x}\n{body}",
            std::str::from_utf8(TRAILER_PREFIX).unwrap_or("#CK:")
        )
    }

    /// Files to load, in order: base first, then INCR files.
    pub fn load_order(&self) -> Vec<&AofFile> {
        self.base.iter().chain(&self.incrs).collect()
    }

    pub fn next_incr_seq(&self) -> u64 {
        self.incrs.last().map_or(1, |f| f.seq + 1)
    }

    pub fn next_base_seq(&self) -> u64 {
        self.base.as_ref().map_or(1, |f| f.seq + 1)
    }
}

/// Checks a manifest's first line, `#CK:<crc32c of the rest>`.
fn verify_manifest_checksum(text: &[u8]) -> Result<(), String> {
    let damaged = || "The AOF manifest file is damaged: its checksum does not match".to_string();
    let newline = text.iter().position(|&b| b == b'\n').ok_or_else(damaged)?;
    let hex = text[..newline]
        .strip_prefix(TRAILER_PREFIX)
        .filter(|hex| hex.len() == 8)
        .and_then(|hex| std::str::from_utf8(hex).ok())
        .and_then(|hex| u32::from_str_radix(hex, 16).ok())
        .ok_or_else(damaged)?;
    match CRC32C.checksum(&text[newline + 1..]) == hex {
        true => Ok(()),
        false => Err(damaged()),
    }
}

/// Why a manifest was refused: Redis's reason (what its log says last,
/// and what the tests look for), and the line it was found at, counting
/// comment lines as Redis does, with that line's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRefusal {
    /// Redis's words for what is wrong (`Invalid AOF manifest file format`).
    pub reason: String,
    /// The 1-based line number and the line, trimmed; `None` when the
    /// refusal concerns the whole file (empty, a too long line, a checksum).
    pub line: Option<(usize, Vec<u8>)>,
}

impl std::fmt::Display for ManifestRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A manifest line without the blanks and line end around it.
fn trim_manifest_line(line: &[u8]) -> &[u8] {
    let blank = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !blank(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |at| at + 1);
    &line[start..end]
}

/// One trimmed manifest line. Keys are matched without case, the type by
/// its first letter, and keys Redis does not know are skipped (it added
/// them for forward compatibility), as aofLoadManifestFromFile does.
fn parse_manifest_line(line: &[u8]) -> Result<AofFile, &'static str> {
    const INVALID: &str = "Invalid AOF manifest file format";
    let words = split_args(line).ok_or(INVALID)?;
    if words.len() < 6 || !words.len().is_multiple_of(2) {
        return Err(INVALID);
    }
    let (mut name, mut seq, mut kind) = (None, None, None);
    for pair in words.chunks(2) {
        let key = pair[0].to_ascii_lowercase();
        match key.as_slice() {
            b"file" if pair[1].contains(&b'/') => {
                return Err("File can't be a path, just a filename")
            }
            b"file" => name = Some(String::from_utf8_lossy(&pair[1]).into_owned()),
            b"seq" => seq = parse_i64(&pair[1]).filter(|&n| n > 0),
            b"type" => kind = pair[1].first().copied(),
            _ => {}
        }
    }
    let (Some(name), Some(seq), Some(kind)) = (name, seq, kind) else {
        return Err(INVALID);
    };
    let kind = match kind {
        b'b' => FileKind::Base,
        b'h' => FileKind::History,
        b'i' => FileKind::Incr,
        _ => return Err("Unknown AOF file type"),
    };
    Ok(AofFile {
        name,
        seq: seq as u64,
        kind,
    })
}

/// Quotes a file name the way Redis's manifest writer does when it holds
/// spaces, quotes or unprintable bytes.
fn quote_name(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\'' && b != b'\\');
    if plain {
        return name.to_string();
    }
    let mut quoted = String::from("\"");
    for byte in name.bytes() {
        match byte {
            b'"' | b'\\' => quoted.push_str(&format!("\\{}", byte as char)),
            b'\n' => quoted.push_str("\\n"),
            b'\r' => quoted.push_str("\\r"),
            b'\t' => quoted.push_str("\\t"),
            0x20..=0x7e => quoted.push(byte as char),
            _ => quoted.push_str(&format!("\\x{byte:02x}")),
        }
    }
    quoted.push('"');
    quoted
}

/// Names of the files in `appenddirname`, as Redis 7 names them.
pub fn base_name(appendfilename: &str, seq: u64, rdb_preamble: bool) -> String {
    let extension = if rdb_preamble { "rdb" } else { "aof" };
    format!("{appendfilename}.{seq}.base.{extension}")
}

pub fn incr_name(appendfilename: &str, seq: u64) -> String {
    format!("{appendfilename}.{seq}.incr.aof")
}

pub fn manifest_name(appendfilename: &str) -> String {
    format!("{appendfilename}.manifest")
}

pub fn temp_manifest_name(appendfilename: &str) -> String {
    format!("temp-{appendfilename}.manifest")
}

/// One item read from an AOF file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A complete command ending at `end` (file offset).
    Command { argv: Vec<Vec<u8>>, end: u64 },
    /// A batch trailer starting at `start` and ending at `end`.
    Trailer {
        trailer: Trailer,
        start: u64,
        end: u64,
    },
    /// Any other `#` annotation (Redis's `#TS:` timestamps) ending at `end`.
    Annotation { end: u64 },
}

/// Why parsing stopped before the end of the bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// More bytes are needed to finish the item starting at `offset`.
    Incomplete { offset: u64 },
    /// The bytes at `offset` are not a command or annotation.
    BadFormat { offset: u64, reason: String },
}

/// Parses one item from `buf`, which holds the file from `base_offset`
/// on. Returns the item and the bytes it used.
pub fn next_item(buf: &[u8], base_offset: u64, bulk_bytes_max: u64) -> Result<(Item, usize), Stop> {
    let incomplete = Stop::Incomplete {
        offset: base_offset,
    };
    let bad = |reason: &str, at: usize| Stop::BadFormat {
        offset: base_offset + at as u64,
        reason: reason.to_string(),
    };
    let first = *buf.first().ok_or(incomplete.clone())?;
    if first == b'#' {
        let Some(newline) = buf
            .iter()
            .take(ANNOTATION_BYTES_MAX)
            .position(|&b| b == b'\n')
        else {
            return if buf.len() >= ANNOTATION_BYTES_MAX {
                Err(bad("annotation line too long", 0))
            } else {
                Err(incomplete)
            };
        };
        let used = newline + 1;
        let end = base_offset + used as u64;
        let line = buf[..newline]
            .strip_suffix(b"\r")
            .unwrap_or(&buf[..newline]);
        let item = match parse_trailer(line) {
            Some(trailer) => Item::Trailer {
                trailer,
                start: base_offset,
                end,
            },
            None => Item::Annotation { end },
        };
        return Ok((item, used));
    }
    if first != b'*' {
        return Err(bad("expected '*' or '#'", 0));
    }
    let (count, mut pos) = read_header(buf, 1, bulk_bytes_max).map_err(|e| {
        e.map(
            |at| bad("invalid multibulk length", at),
            || incomplete.clone(),
        )
    })?;
    if count == 0 {
        return Err(bad("invalid multibulk length", 0));
    }
    let mut argv = Vec::with_capacity(count.min(1024) as usize);
    for _ in 0..count {
        if pos >= buf.len() {
            return Err(incomplete);
        }
        if buf[pos] != b'$' {
            return Err(bad("expected '$'", pos));
        }
        let (len, after) = read_header(buf, pos + 1, bulk_bytes_max)
            .map_err(|e| e.map(|at| bad("invalid bulk length", at), || incomplete.clone()))?;
        let len = len as usize;
        if buf.len() < after + len + 2 {
            return Err(incomplete);
        }
        if &buf[after + len..after + len + 2] != b"\r\n" {
            return Err(bad("bulk not terminated by CRLF", after + len));
        }
        argv.push(buf[after..after + len].to_vec());
        pos = after + len + 2;
    }
    Ok((
        Item::Command {
            argv,
            end: base_offset + pos as u64,
        },
        pos,
    ))
}

/// A header parse failure: malformed at an index, or incomplete.
enum HeaderError {
    Malformed(usize),
    Incomplete,
}

impl HeaderError {
    fn map<T>(self, malformed: impl FnOnce(usize) -> T, incomplete: impl FnOnce() -> T) -> T {
        match self {
            HeaderError::Malformed(at) => malformed(at),
            HeaderError::Incomplete => incomplete(),
        }
    }
}

/// Reads the number after a `*` or `$` at `start`, up to `\r\n`; returns
/// it and the index after the line.
fn read_header(buf: &[u8], start: usize, max: u64) -> Result<(u64, usize), HeaderError> {
    const DIGITS_MAX: usize = 20;
    let window = &buf[start.min(buf.len())..];
    let Some(cr) = window.iter().take(DIGITS_MAX + 1).position(|&b| b == b'\r') else {
        return if window.len() > DIGITS_MAX {
            Err(HeaderError::Malformed(start))
        } else {
            Err(HeaderError::Incomplete)
        };
    };
    if window.len() < cr + 2 {
        return Err(HeaderError::Incomplete);
    }
    if window[cr + 1] != b'\n' {
        return Err(HeaderError::Malformed(start + cr));
    }
    match parse_i64(&window[..cr]) {
        Some(n) if n >= 0 && (n as u64) <= max => Ok((n as u64, start + cr + 2)),
        _ => Err(HeaderError::Malformed(start)),
    }
}

/// Whether a trailer at `trailer_start` in `file` correctly covers the
/// bytes before it.
pub fn trailer_verifies(file: &[u8], trailer_start: usize, trailer: &Trailer) -> bool {
    let len = trailer.len as usize;
    trailer_start >= len
        && trailer_checksum(&file[trailer_start - len..trailer_start], trailer.synced)
            == trailer.crc
}

/// After damage read up to `from` in `region` (the file from where its good
/// part ends), whether later valid data proves that
/// `damaged_byte` (a file offset) had been durable: a batch trailer whose
/// checksum matches and whose `synced` reaches past that byte (or that has
/// no `synced` field), or, unless
/// `trailers_only` (the file carries trailers), a complete command starting
/// on a line boundary. Such damage is corruption before the tail; damage
/// no later batch vouches for is a torn tail.
pub fn damage_proven_durable(
    region: &[u8],
    from: usize,
    damaged_byte: u64,
    bulk_bytes_max: u64,
    trailers_only: bool,
) -> bool {
    let vouches = |trailer: &Trailer| trailer.synced.is_none_or(|s| s > damaged_byte);
    let file = region;
    let mut at = from.saturating_sub(1);
    while let Some(found) = file[at..]
        .windows(2)
        .position(|w| w == b"\n#" || w == b"\n*")
    {
        let start = at + found + 1;
        if file[start] == b'#' {
            let end = file[start..]
                .iter()
                .take(ANNOTATION_BYTES_MAX)
                .position(|&b| b == b'\n');
            if let Some(end) = end {
                let line = file[start..start + end]
                    .strip_suffix(b"\r")
                    .unwrap_or(&file[start..start + end]);
                if let Some(trailer) = parse_trailer(line) {
                    if trailer_verifies(file, start, &trailer)
                        && start - trailer.len as usize >= from
                        && vouches(&trailer)
                    {
                        return true;
                    }
                }
            }
        } else if trailers_only {
            // A command alone proves nothing in a file with trailers.
        } else if let Ok((Item::Command { .. }, _)) =
            next_item(&file[start..], start as u64, bulk_bytes_max)
        {
            return true;
        }
        at = start;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    // Commands encode as RESP multibulk and parse back, offsets included.
    #[test]
    fn command_round_trip() {
        let mut bytes = Vec::new();
        encode_command(&mut bytes, &["SET", "k", "v\r\n"]);
        assert_eq!(bytes, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n");
        let (item, used) = next_item(&bytes, 100, 1 << 29).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            item,
            Item::Command {
                argv: vec![b"SET".to_vec(), b"k".to_vec(), b"v\r\n".to_vec()],
                end: 100 + bytes.len() as u64
            }
        );
    }

    // Every strict prefix of a command is incomplete, never an error.
    #[test]
    fn prefixes_are_incomplete() {
        let mut bytes = Vec::new();
        encode_command(&mut bytes, &["SET", "key", "value"]);
        for cut in 0..bytes.len() {
            assert_eq!(
                next_item(&bytes[..cut], 7, 1 << 29),
                Err(Stop::Incomplete { offset: 7 }),
                "cut at {cut}"
            );
        }
    }

    // Zeros and junk are bad format at their offset.
    #[test]
    fn garbage_is_bad_format() {
        assert!(matches!(
            next_item(b"\0\0\0\0", 10, 1 << 29),
            Err(Stop::BadFormat { offset: 10, .. })
        ));
        assert!(matches!(
            next_item(b"*1\r\n$x\r\n", 0, 1 << 29),
            Err(Stop::BadFormat { offset: 5, .. })
        ));
        assert!(matches!(
            next_item(b"*1\r\n$1\r\nab\r\n", 0, 1 << 29),
            Err(Stop::BadFormat { offset: 9, .. })
        ));
        assert!(matches!(
            next_item(b"*99999999999999999999999\r\n", 0, 1 << 29),
            Err(Stop::BadFormat { .. })
        ));
    }

    // A trailer covers the batch before it and reads back.
    #[test]
    fn trailers() {
        let mut batch = Vec::new();
        encode_command(&mut batch, &["INCR", "n"]);
        let trailer = batch_trailer(3, &batch, Some(7));
        let mut file = batch.clone();
        file.extend_from_slice(&trailer);
        let (item, _) = next_item(&file[batch.len()..], batch.len() as u64, 1 << 29).unwrap();
        let Item::Trailer {
            trailer: parsed,
            start,
            ..
        } = item
        else {
            panic!("{item:?}")
        };
        assert_eq!(parsed.seq, 3);
        assert_eq!(parsed.synced, Some(7));
        assert!(trailer_verifies(&file, start as usize, &parsed));
        file[5] ^= 1;
        assert!(!trailer_verifies(&file, start as usize, &parsed));
        assert_eq!(parse_trailer(b"#TS:1700000000"), None);
    }

    // Valid data after damage is found through trailers and commands.
    #[test]
    fn finds_valid_data_after_damage() {
        let mut file = Vec::new();
        encode_command(&mut file, &["SET", "a", "1"]);
        let damage = file.len();
        file.extend_from_slice(b"\0\0\0garbage\r\n");
        assert!(!damage_proven_durable(
            &file,
            damage,
            damage as u64,
            1 << 29,
            false
        ));
        let batch_start = file.len();
        encode_command(&mut file, &["SET", "b", "2"]);
        assert!(damage_proven_durable(
            &file,
            damage,
            damage as u64,
            1 << 29,
            false
        ));
        let trailer = batch_trailer(1, &file[batch_start..], None);
        file.extend_from_slice(&trailer);
        assert!(damage_proven_durable(
            &file,
            damage,
            damage as u64,
            1 << 29,
            false
        ));
    }

    // A valid batch after damage proves the damage durable only if its
    // trailer says the damaged bytes were fsynced when it was written: a
    // hole in an unsynced tail, torn by power loss, is not corruption.
    #[test]
    fn synced_field_tells_torn_from_corrupt() {
        let mut file = Vec::new();
        let damage = 40;
        file.resize(damage, b'x');
        file.extend_from_slice(&[0u8; 24]);
        let batch_start = file.len();
        let mut batch = Vec::new();
        encode_command(&mut batch, &["SET", "b", "2"]);
        let torn = |synced| {
            let mut file = file.clone();
            file.extend_from_slice(&batch);
            file.extend_from_slice(&batch_trailer(5, &batch, Some(synced)));
            damage_proven_durable(&file[damage..], 0, damage as u64, 1 << 29, true)
        };
        assert!(!torn(damage as u64), "synced up to the damage: a torn tail");
        assert!(!torn(10), "synced before the damage: a torn tail");
        assert!(torn(damage as u64 + 1), "the damaged byte was durable");
        let _ = batch_start;
        let mut flipped = file.clone();
        flipped.extend_from_slice(&batch);
        let mut trailer = batch_trailer(5, &batch, Some(10));
        let at = trailer.len() - 3;
        trailer[at] = b'9';
        flipped.extend_from_slice(&trailer);
        assert!(
            !damage_proven_durable(&flipped[damage..], 0, damage as u64, 1 << 29, true),
            "a changed synced field fails the checksum and proves nothing"
        );
    }

    // A file whose marker line has any bit flipped is still checked: the
    // scan reports damage before it applies a damaged command. A Redis file
    // starting with a `#TS:` annotation is not checked and loads.
    #[test]
    fn flipped_marker_is_damage_not_an_unchecked_file() {
        let mut batch = Vec::new();
        encode_command(&mut batch, &["SET", "k", "v"]);
        let marker = batch_trailer(0, b"", None);
        let mut file = marker.clone();
        file.extend_from_slice(&batch);
        file.extend_from_slice(&batch_trailer(1, &batch, Some(18)));
        let scan = |bytes: &[u8]| -> (usize, bool) {
            let mut scanner = Scanner::default();
            let (mut at, mut released) = (0, 0);
            while at < bytes.len() {
                let Ok((item, used)) = next_item(&bytes[at..], at as u64, 1 << 20) else {
                    return (released, true);
                };
                match scanner.accept(item, &bytes[at..at + used], at as u64) {
                    Ok(commands) => released += commands.len(),
                    Err(_) => return (released, true),
                }
                at += used;
            }
            (released, false)
        };
        assert_eq!(scan(&file), (1, false));
        // Flip a marker bit and a bit of the value: never a command applied
        // unverified (a flip in the marker's unused seq field is harmless
        // alone, so the value's flip is what must be caught).
        let value_at = marker.len() + batch.len() - 3;
        for bit in 0..marker.len() * 8 {
            let mut flipped = file.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            flipped[value_at] ^= 1;
            let (released, damaged) = scan(&flipped);
            assert!(damaged && released == 0, "bit {bit}: {released} released");
        }
        let mut redis = b"#TS:1700000000\r\n".to_vec();
        redis.extend_from_slice(&batch);
        assert_eq!(scan(&redis), (1, false));
    }

    // A marker after a Redis stretch (a file redoubt went on appending to)
    // turns checking on: what follows is released only once its trailer
    // verifies, and a flipped bit in it is damage, not a command.
    #[test]
    fn marker_mid_file_checks_the_rest() {
        let mut file = Vec::new();
        encode_command(&mut file, &["SET", "a", "1"]);
        let redis_end = file.len();
        file.extend_from_slice(&marker());
        let batch_start = file.len();
        encode_command(&mut file, &["SET", "k", "first"]);
        let batch = file[batch_start..].to_vec();
        file.extend_from_slice(&batch_trailer(1, &batch, Some(batch_start as u64)));
        let scan = |bytes: &[u8]| -> (Vec<Vec<u8>>, Option<Damage>, bool) {
            let mut scanner = Scanner::default();
            let (mut at, mut keys) = (0, Vec::new());
            while at < bytes.len() {
                let (item, used) = next_item(&bytes[at..], at as u64, 1 << 20).unwrap();
                match scanner.accept(item, &bytes[at..at + used], at as u64) {
                    Ok(released) => {
                        keys.extend(released.into_iter().map(|(argv, _)| argv[1].clone()))
                    }
                    Err(damage) => return (keys, Some(damage), scanner.is_checked()),
                }
                at += used;
            }
            (keys, None, scanner.is_checked())
        };
        assert_eq!(
            scan(&file),
            (vec![b"a".to_vec(), b"k".to_vec()], None, true)
        );
        assert!(
            !scan(&file[..redis_end]).2,
            "a Redis file alone is unchecked"
        );
        let mut flipped = file.clone();
        let value_at = batch_start + batch.len() - 4;
        flipped[value_at] ^= 1;
        let (keys, damage, _) = scan(&flipped);
        assert_eq!(
            keys,
            vec![b"a".to_vec()],
            "the damaged batch is never released"
        );
        assert!(
            matches!(damage, Some(Damage::Checksum { .. })),
            "{damage:?}"
        );
    }

    // The manifest round-trips in Redis's format and enforces its rules.
    #[test]
    fn manifest() {
        let text = b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.1.incr.aof seq 1 type h\nfile appendonly.aof.3.incr.aof seq 3 type i\nfile appendonly.aof.4.incr.aof seq 4 type i\n";
        let manifest = Manifest::parse(text).unwrap();
        let written = manifest.to_text();
        let (checksum, body) = written.split_once('\n').unwrap();
        assert!(checksum.starts_with("#CK:"), "{checksum}");
        assert_eq!(body.as_bytes(), text);
        assert_eq!(Manifest::parse(written.as_bytes()).unwrap(), manifest);
        // Any single flipped bit of what we wrote is refused or harmless.
        for bit in 0..written.len() * 8 {
            let mut flipped = written.clone().into_bytes();
            flipped[bit / 8] ^= 1 << (bit % 8);
            if let Ok(parsed) = Manifest::parse(&flipped) {
                assert_eq!(parsed, manifest, "bit {bit}");
            }
        }
        assert_eq!(manifest.next_incr_seq(), 5);
        assert_eq!(manifest.next_base_seq(), 3);
        assert_eq!(manifest.load_order().len(), 3);
        let reason = |text: &[u8]| Manifest::parse(text).map_err(|refusal| refusal.reason);
        assert_eq!(reason(b""), Err("Found an empty AOF manifest".to_string()));
        assert_eq!(
            reason(b"file a seq 1 type b\nfile b seq 2 type b\n"),
            Err("Found duplicate base file information".to_string())
        );
        assert_eq!(
            reason(b"file a seq 2 type i\nfile b seq 1 type i\n"),
            Err("Found a non-monotonic sequence number".to_string())
        );
        assert_eq!(
            reason(b"file a seq 1\n"),
            Err("Invalid AOF manifest file format".to_string())
        );
        assert_eq!(
            reason(b"file a seq 1 type i"),
            Err("The AOF manifest file contains too long line".to_string())
        );
        assert_eq!(
            reason(b"file a seq 1 type x\n"),
            Err("Unknown AOF file type".to_string())
        );
        assert_eq!(
            reason(b"file ../a seq 1 type i\n"),
            Err("File can't be a path, just a filename".to_string())
        );
        // Comment lines count, keys ignore case, unknown keys are skipped.
        let refusal = Manifest::parse(b"file a seq 1 type b\n# a comment\n\n").unwrap_err();
        assert_eq!(refusal.reason, "Invalid AOF manifest file format");
        assert_eq!(refusal.line, Some((3, Vec::new())));
        let parsed = Manifest::parse(b"FILE a SEQ 1 Type base newkey newvalue\n").unwrap();
        assert_eq!(parsed.base.map(|base| base.name), Some("a".to_string()));
        let odd = Manifest {
            base: None,
            incrs: vec![AofFile {
                name: "a b".into(),
                seq: 1,
                kind: FileKind::Incr,
            }],
            history: vec![],
        };
        assert_eq!(Manifest::parse(odd.to_text().as_bytes()).unwrap(), odd);
    }
}

/// How reading an AOF file stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside a command, inside MULTI, or after the last
    /// verified batch.
    Truncated,
    /// Bytes that are not a command or annotation.
    BadFormat(String),
    /// A batch whose trailer does not match its bytes, which end (and its
    /// trailer starts) at `batch_end`.
    Checksum { batch_end: u64 },
}

impl Damage {
    /// The last byte the damage surely touches, given where reading
    /// stopped: for a bad checksum, somewhere in its batch, so the batch's
    /// last byte; otherwise the byte where reading stopped. Later data
    /// proves the damage durable only if it vouches for this byte.
    pub fn last_damaged_byte(&self, damage_at: u64) -> u64 {
        match self {
            Damage::Checksum { batch_end } => batch_end.saturating_sub(1),
            Damage::Truncated | Damage::BadFormat(_) => damage_at,
        }
    }
}

/// Whether the first item of a file says the file carries batch trailers.
/// Files redoubt writes start with the empty marker trailer; files Redis
/// writes start with a command or with a `#TS:<unix time>` annotation. A
/// first line starting with `#` that is neither is a marker whose bits
/// flipped: the file is checked, and that line is damage (rather than a
/// Redis file whose later bytes nobody would verify).
fn starts_checked_file(item: &Item, bytes: &[u8], start: u64) -> bool {
    if start != 0 {
        return false;
    }
    match item {
        Item::Trailer { .. } => true,
        Item::Annotation { .. } => !is_timestamp_annotation(bytes),
        Item::Command { .. } => false,
    }
}

/// The marker trailer (`#CK:0:0:00000000`): a batch of no bytes, which
/// starts every stretch of a file that redoubt appends to.
pub fn marker() -> Vec<u8> {
    batch_trailer(0, b"", None)
}

fn is_marker(trailer: &Trailer) -> bool {
    trailer.seq == 0
        && trailer.len == 0
        && trailer.synced.is_none()
        && trailer.crc == CRC32C.checksum(b"")
}

/// A Redis `#TS:<digits>` annotation line (with its line end).
fn is_timestamp_annotation(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.strip_prefix(b"#TS:")
        .is_some_and(|digits| !digits.is_empty() && digits.iter().all(u8::is_ascii_digit))
}

/// A command released for execution: its arguments and where it starts.
pub type Released = (Vec<Vec<u8>>, u64);

/// Decides, item by item, which commands of one file may be applied.
///
/// A file that starts with a trailer marker is checked: its commands are
/// held until their batch's trailer verifies, so a damaged batch is never
/// applied. Other files (written by Redis) release each command as soon as
/// it is complete, until a marker says that redoubt went on appending to
/// the file at a start: the rest of it is checked. Either way `good_end` is where the file is known good:
/// after the last released command outside a MULTI block, so cutting there
/// never leaves half a transaction. The loader and `redoubt-check-aof`
/// both read files through this one type.
pub struct Scanner {
    /// `None` until the first item says whether the file is checked.
    checked: Option<bool>,
    batch_start: u64,
    digest: crc::Digest<'static, u32>,
    pending: Vec<(Vec<Vec<u8>>, u64, u64)>,
    multi_start: Option<u64>,
    good_end: u64,
    /// Verified batches and released commands so far.
    pub batches: u64,
    pub commands: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner {
            checked: None,
            batch_start: 0,
            digest: CRC32C.digest(),
            pending: Vec::new(),
            multi_start: None,
            good_end: 0,
            batches: 0,
            commands: 0,
        }
    }
}

impl Scanner {
    /// Whether the file carries batch trailers.
    pub fn is_checked(&self) -> bool {
        self.checked == Some(true)
    }

    /// The offset up to which the file is good so far.
    pub fn good_end(&self) -> u64 {
        self.good_end
    }

    /// Takes one parsed item and its raw bytes; returns the commands that
    /// may now be applied, in order, or the checksum damage.
    pub fn accept(
        &mut self,
        item: Item,
        bytes: &[u8],
        start: u64,
    ) -> Result<Vec<Released>, Damage> {
        let checked = *self
            .checked
            .get_or_insert_with(|| starts_checked_file(&item, bytes, start));
        match item {
            // A checked file whose first line is no marker: bits flipped
            // in it. Damage, never a reason to stop checking.
            Item::Annotation { end } if checked && start == 0 => {
                Err(Damage::Checksum { batch_end: end })
            }
            Item::Trailer {
                trailer,
                start: trailer_start,
                end,
            } if checked => {
                let mut digest = std::mem::replace(&mut self.digest, CRC32C.digest());
                if let Some(synced) = trailer.synced {
                    digest.update(b":");
                    digest.update(synced.to_string().as_bytes());
                }
                if digest.finalize() != trailer.crc
                    || trailer.len != trailer_start - self.batch_start
                {
                    return Err(Damage::Checksum {
                        batch_end: trailer_start,
                    });
                }
                self.batch_start = end;
                if trailer.len > 0 {
                    self.batches += 1;
                }
                let released = self.release_pending();
                if self.multi_start.is_none() {
                    self.good_end = end;
                }
                Ok(released)
            }
            // A marker in a file read unchecked so far: the server went on
            // appending to a file it did not write (or whose first stretch
            // is a Redis one) and checks everything after it.
            Item::Trailer { trailer, end, .. } if !checked && is_marker(&trailer) => {
                self.checked = Some(true);
                self.batch_start = end;
                self.digest = CRC32C.digest();
                if self.multi_start.is_none() {
                    self.good_end = end;
                }
                Ok(Vec::new())
            }
            Item::Command { argv, end } => {
                self.digest.update(bytes);
                self.pending.push((argv, start, end));
                Ok(if checked {
                    Vec::new()
                } else {
                    self.release_pending()
                })
            }
            Item::Trailer { end, .. } | Item::Annotation { end } => {
                self.digest.update(bytes);
                if !checked && self.pending.is_empty() && self.multi_start.is_none() {
                    self.good_end = end;
                }
                Ok(Vec::new())
            }
        }
    }

    /// The commands read since the last verified trailer, released without
    /// their checksum: only the planted bug `torn-multi-applied` does this.
    pub fn release_unverified(&mut self) -> Vec<Released> {
        self.release_pending()
    }

    fn release_pending(&mut self) -> Vec<Released> {
        let mut released = Vec::with_capacity(self.pending.len());
        for (argv, start, end) in self.pending.drain(..) {
            if argv[0].eq_ignore_ascii_case(b"MULTI") {
                self.multi_start = Some(start);
            } else if argv[0].eq_ignore_ascii_case(b"EXEC") {
                self.multi_start = None;
            }
            if self.multi_start.is_none() && self.checked != Some(true) {
                self.good_end = end;
            }
            self.commands += 1;
            released.push((argv, start));
        }
        released
    }

    /// The verdict once reading stopped: `stop` is why (`None` for a clean
    /// end of file at `end`). Returns the damage, if any, and the offset the
    /// file is good up to.
    pub fn finish(&self, stop: Option<Stop>, end: u64) -> (Option<Damage>, u64) {
        match stop {
            Some(Stop::BadFormat { reason, .. }) => {
                (Some(Damage::BadFormat(reason)), self.good_end)
            }
            Some(Stop::Incomplete { .. }) => (Some(Damage::Truncated), self.good_end),
            None if !self.pending.is_empty() || self.multi_start.is_some() => {
                (Some(Damage::Truncated), self.good_end)
            }
            None => (None, end),
        }
    }

    /// Whether a MULTI block is open (its commands were released but its
    /// EXEC has not come).
    pub fn in_multi(&self) -> bool {
        self.multi_start.is_some()
    }
}
