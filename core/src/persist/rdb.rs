//! Redis's RDB snapshot format, version 10, as Redis 7.0 writes it.
//!
//! This module owns the bytes of a dump and nothing else: it never opens a
//! file. [`RdbWriter`] appends encoded pieces to a caller's buffer one at a
//! time (header, database selector, entry, end), so a background save can
//! produce the file in bounded slices of the event loop. [`RdbReader`] pulls
//! bytes from a [`ByteSource`] (a slice, or a file through [`DiskSource`])
//! and yields one [`RdbEvent`] at a time, holding one key and value at most.
//! It also takes the older encodings Redis 7.0 still loads from dumps of
//! earlier servers (zipmap, ziplists, quicklists of ziplists; see
//! [`super::ziplist`]), converted to the forms Redis 7.0 keeps.
//!
//! A dump is `REDIS` + four ASCII digits of version, then opcodes and
//! entries, then `0xFF` and, from version 5 on, the CRC-64/REDIS of every
//! byte before it as 8 little-endian bytes (0 when the writer had
//! `rdbchecksum no`).
//!
//! Entry: `[0xFC expire_ms:i64le] type:u8 key:string value`. Lengths use the
//! first byte's two top bits: `00` 6-bit, `01` 14-bit (big-endian), `10`
//! followed by 0x80 = 32-bit or 0x81 = 64-bit big-endian, `11` a special
//! string encoding: 0xC0/0xC1/0xC2 an 8/16/32-bit little-endian integer,
//! 0xC3 LZF (`compressed_len original_len bytes`).
//!
//! Reading never panics and never trusts a length: strings are read in
//! chunks, so memory grows only with bytes that really are in the file, and
//! every problem is an [`RdbError`] naming the byte offset.

use super::lzf::Lzf;
use super::ziplist::{decode_ziplist, decode_zipmap, Pair};
use std::fmt;
use std::io;

use crc::{Crc, Digest, Table, CRC_64_REDIS};

use crate::config::Encodings;
use crate::db::value::intset::Intset;
use crate::db::value::list::{End, List};
use crate::db::value::listpack::{Entry, Listpack};
use crate::db::value::{Cursor, Hash, Set, ZSet};
use crate::db::Value;
use crate::env::{Disk, FileId};

/// The version this module writes (Redis 7.0's).
pub const RDB_VERSION: u32 = 10;
/// Oldest version the reader accepts.
pub const RDB_VERSION_MIN: u32 = 1;
/// First version whose files end with a CRC64.
const CHECKSUM_VERSION_MIN: u32 = 5;
const MAGIC: &[u8; 5] = b"REDIS";

/// Opcodes: bytes that stand where a value type would and mean something else.
mod opcode {
    /// A Redis 7.0 release candidate's function library (never in GA files).
    pub const FUNCTION_PRE_GA: u8 = 0xF6;
    /// A function library (`FUNCTION LOAD`).
    pub const FUNCTION2: u8 = 0xF5;
    /// Module-owned data outside any key.
    pub const MODULE_AUX: u8 = 0xF7;
    /// LRU idle time of the next key, in seconds (a length).
    pub const IDLE: u8 = 0xF8;
    /// LFU counter of the next key (one byte).
    pub const FREQ: u8 = 0xF9;
    /// A string key and string value describing the dump.
    pub const AUX: u8 = 0xFA;
    /// Key and expire counts of the current database (two lengths).
    pub const RESIZEDB: u8 = 0xFB;
    /// Absolute expiry of the next key, milliseconds, i64 little-endian.
    pub const EXPIRETIME_MS: u8 = 0xFC;
    /// Absolute expiry of the next key, seconds, i32 little-endian.
    pub const EXPIRETIME: u8 = 0xFD;
    /// Switch database (a length).
    pub const SELECTDB: u8 = 0xFE;
    /// End of the dump; the checksum follows.
    pub const EOF: u8 = 0xFF;
}

/// Value type byte of a plain string.
const TYPE_STRING: u8 = 0;
/// A list as a length and its elements (Redis before 3.2).
const TYPE_LIST: u8 = 1;
/// A list as a quicklist of listpack nodes (Redis 7.0).
const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// A set as a length and its members.
const TYPE_SET: u8 = 2;
/// A sorted set with scores as text (Redis before 5.0).
const TYPE_ZSET: u8 = 3;
/// A hash as a length and its field, value pairs.
const TYPE_HASH: u8 = 4;
/// A sorted set with scores as 8-byte doubles.
const TYPE_ZSET_2: u8 = 5;
/// A hash as a zipmap (Redis before 2.6).
const TYPE_HASH_ZIPMAP: u8 = 9;
/// A list as one ziplist (Redis before 3.2).
const TYPE_LIST_ZIPLIST: u8 = 10;
/// A set of integers as an intset.
const TYPE_SET_INTSET: u8 = 11;
/// A sorted set as a ziplist of member, score (Redis before 7.0).
const TYPE_ZSET_ZIPLIST: u8 = 12;
/// A hash as a ziplist of field, value (Redis before 7.0).
const TYPE_HASH_ZIPLIST: u8 = 13;
/// A list as a quicklist of ziplist nodes (Redis 3.2 to 6.2).
const TYPE_LIST_QUICKLIST: u8 = 14;
/// A hash as a listpack of field, value.
const TYPE_HASH_LISTPACK: u8 = 16;
/// A sorted set as a listpack of member, score.
const TYPE_ZSET_LISTPACK: u8 = 17;
/// A quicklist node holding one large element as is.
const QUICKLIST_NODE_PLAIN: u64 = 1;
/// A quicklist node holding a listpack.
const QUICKLIST_NODE_PACKED: u64 = 2;

/// Top two bits of a length byte.
const LEN_6BIT: u8 = 0;
const LEN_14BIT: u8 = 1;
const LEN_WIDE: u8 = 2;
const LEN_ENCODED: u8 = 3;
const LEN_32BIT: u8 = 0x80;
const LEN_64BIT: u8 = 0x81;

/// Special string encodings (low six bits after `11`).
const ENC_INT8: u8 = 0;
const ENC_INT16: u8 = 1;
const ENC_INT32: u8 = 2;
const ENC_LZF: u8 = 3;

/// Redis tries integer encoding only on strings this short ("-2147483648").
const INT_ENCODING_BYTES_MAX: usize = 11;
/// Redis compresses only strings longer than this.
const LZF_INPUT_BYTES_MIN: usize = 21;
/// Compression must save at least this many bytes to be used.
const LZF_SAVING_BYTES_MIN: usize = 4;
/// Most output one LZF input byte can produce: a 3-byte back reference
/// expands to at most 264 bytes. A claimed original length above
/// `compressed * this` is corrupt.
const LZF_EXPANSION_MAX: u64 = 88;

/// The reader's buffer over its source.
const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Strings longer than this are checked against the bytes the source says
/// remain before reading; shorter ones are just read.
const LENGTH_CHECK_BYTES_MIN: u64 = 64 * 1024;
/// Longest key shown in an error message.
const ERROR_KEY_BYTES_MAX: usize = 128;

/// CRC-64/REDIS (Jones polynomial, reflected, init 0, xorout 0).
static CRC64: Crc<u64, Table<16>> = Crc::<u64, Table<16>>::new(&CRC_64_REDIS);

/// CRC-64/REDIS of `bytes`, as Redis's `crc64(0, bytes)`.
pub fn crc64(bytes: &[u8]) -> u64 {
    CRC64.checksum(bytes)
}

// ---------------------------------------------------------------------------
// Writing

/// Encodes a dump piece by piece into caller-provided buffers, folding every
/// byte it appends into the running checksum.
///
/// Order of calls: [`header`](Self::header), then for each non-empty database
/// [`select_db`](Self::select_db) followed by its [`entry`](Self::entry)s,
/// then [`finish`](Self::finish). An entry may also be written in parts:
/// [`entry_start`](Self::entry_start), then
/// [`entry_elements`](Self::entry_elements) until its cursor is complete. The buffers may differ from call to call
/// (the caller writes each out and clears it), but every byte appended must
/// reach the file in order, or the checksum will not match.
pub struct RdbWriter {
    /// The LZF compressor when `rdbcompression` is on.
    lzf: Option<Lzf>,
    checksum: bool,
    digest: Digest<'static, u64, Table<16>>,
    written_bytes: u64,
}

impl fmt::Debug for RdbWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdbWriter")
            .field("compress", &self.lzf.is_some())
            .field("checksum", &self.checksum)
            .field("written_bytes", &self.written_bytes)
            .finish()
    }
}

impl RdbWriter {
    /// `compress` is `rdbcompression`, `checksum` is `rdbchecksum`.
    pub fn new(compress: bool, checksum: bool) -> Self {
        RdbWriter {
            lzf: compress.then(Lzf::default),
            checksum,
            digest: CRC64.digest(),
            written_bytes: 0,
        }
    }

    /// Bytes appended so far, over all calls.
    pub fn written_bytes(&self) -> u64 {
        self.written_bytes
    }

    /// Appends `REDIS0010` and one AUX field per `(name, value)`. Redis 7.0
    /// writes `redis-ver`, `redis-bits`, `ctime`, `used-mem` and `aof-base`
    /// (see [`aux_int`](Self::aux_int) for the integer-valued ones).
    pub fn header(&mut self, out: &mut Vec<u8>, aux: &[(&str, &[u8])]) {
        let start = out.len();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(format!("{RDB_VERSION:04}").as_bytes());
        self.fold(out, start);
        for (name, value) in aux {
            self.aux(out, name, value);
        }
    }

    /// Appends one AUX field: `0xFA name value`, both strings (a value that
    /// is a canonical 32-bit integer is stored integer-encoded, as Redis does).
    pub fn aux(&mut self, out: &mut Vec<u8>, name: &str, value: &[u8]) {
        let start = out.len();
        out.push(opcode::AUX);
        put_string(out, name.as_bytes(), self.lzf.as_mut());
        put_string(out, value, self.lzf.as_mut());
        self.fold(out, start);
    }

    /// Appends a function library: `0xF5` and its code (FUNCTION2, as
    /// Redis 7.0 writes one per library, before the databases).
    pub fn function(&mut self, out: &mut Vec<u8>, code: &[u8]) {
        let start = out.len();
        out.push(opcode::FUNCTION2);
        put_string(out, code, self.lzf.as_mut());
        self.fold(out, start);
    }

    /// Appends an integer-valued AUX field (`redis-bits`, `ctime`,
    /// `used-mem`, `aof-base`) the way Redis does: its decimal digits,
    /// integer-encoded when they fit 32 bits.
    pub fn aux_int(&mut self, out: &mut Vec<u8>, name: &str, value: i64) {
        self.aux(out, name, value.to_string().as_bytes());
    }

    /// Appends `0xFE index` then `0xFB keys expires`: the database that the
    /// following entries belong to and its key and expire counts (a hint the
    /// loader uses to size its tables).
    pub fn select_db(&mut self, out: &mut Vec<u8>, index: u64, keys: u64, expires: u64) {
        let start = out.len();
        out.push(opcode::SELECTDB);
        put_len(out, index);
        out.push(opcode::RESIZEDB);
        put_len(out, keys);
        put_len(out, expires);
        self.fold(out, start);
    }

    /// Appends one key: `[0xFC expire_at_ms] type key value`. Strings are
    /// integer-encoded when canonical and within 32 bits, LZF-compressed
    /// when compression is on, they exceed 20 bytes and it saves at least
    /// 4 bytes, and raw otherwise; keys are encoded the same way.
    pub fn entry(
        &mut self,
        out: &mut Vec<u8>,
        key: &[u8],
        value: &Value,
        expire_at_ms: Option<i64>,
    ) {
        let mut cursor = self.entry_start(out, key, value, expire_at_ms);
        self.entry_elements(out, value, &mut cursor, usize::MAX);
    }

    /// The first part of [`RdbWriter::entry`]: the expiry, type and key,
    /// then a string or a compact encoding whole, or the length of a large
    /// collection, whose elements [`RdbWriter::entry_elements`] appends
    /// from the cursor returned. Writing a large value in parts gives the
    /// bytes of writing it in one go: a snapshot step never encodes a
    /// million elements at once.
    pub fn entry_start(
        &mut self,
        out: &mut Vec<u8>,
        key: &[u8],
        value: &Value,
        expire_at_ms: Option<i64>,
    ) -> Cursor {
        let start = out.len();
        if let Some(at) = expire_at_ms {
            out.push(opcode::EXPIRETIME_MS);
            out.extend_from_slice(&at.to_le_bytes());
        }
        let (rdb_type, blob) = match value {
            Value::String(bytes) => (TYPE_STRING, Some(&bytes[..])),
            Value::List(_) => (TYPE_LIST_QUICKLIST_2, None),
            Value::Hash(hash) => match hash.as_listpack() {
                Some(listpack) => (TYPE_HASH_LISTPACK, Some(listpack.as_bytes())),
                None => (TYPE_HASH, None),
            },
            Value::Set(set) => match set.as_intset() {
                Some(intset) => (TYPE_SET_INTSET, Some(intset.as_bytes())),
                None => (TYPE_SET, None),
            },
            Value::ZSet(zset) => match zset.as_listpack() {
                Some(listpack) => (TYPE_ZSET_LISTPACK, Some(listpack.as_bytes())),
                None => (TYPE_ZSET_2, None),
            },
        };
        out.push(rdb_type);
        put_string(out, key, self.lzf.as_mut());
        let cursor = match blob {
            Some(bytes) => {
                put_string(out, bytes, self.lzf.as_mut());
                Cursor::complete(value)
            }
            None => {
                let length = match value {
                    Value::List(list) => list.nodes().count(),
                    other => other.weight(),
                };
                put_len(out, length as u64);
                Cursor::default()
            }
        };
        self.fold(out, start);
        cursor
    }

    /// Appends about `elements_max` more elements of a large collection
    /// from `cursor` on (a list's in whole nodes, each a packed quicklist
    /// node; a hash's as field, value; a set's members; a sorted set's
    /// members with their scores as binary doubles, highest first, as
    /// Redis writes them so that a load inserts each at the head), and
    /// moves the cursor past them. Nothing for a complete cursor.
    pub fn entry_elements(
        &mut self,
        out: &mut Vec<u8>,
        value: &Value,
        cursor: &mut Cursor,
        elements_max: usize,
    ) {
        if cursor.is_complete(value) {
            return;
        }
        let start = out.len();
        let lzf = &mut self.lzf;
        match value {
            Value::String(_) => unreachable!("a string is complete at its start"),
            Value::List(list) => list.nodes_from(cursor, elements_max, |node| {
                put_len(out, QUICKLIST_NODE_PACKED);
                put_string(out, node.as_bytes(), lzf.as_mut());
            }),
            Value::Hash(hash) => hash.pairs_from(cursor, elements_max, |field, value| {
                put_string(out, &field.to_vec(), lzf.as_mut());
                put_string(out, &value.to_vec(), lzf.as_mut());
            }),
            Value::Set(set) => set.members_from(cursor, elements_max, |member| {
                put_string(out, &member, lzf.as_mut());
            }),
            Value::ZSet(zset) => zset.elements_from(cursor, elements_max, true, |member, score| {
                put_string(out, member, lzf.as_mut());
                out.extend_from_slice(&score.to_le_bytes());
            }),
        }
        self.fold(out, start);
    }

    /// Appends `0xFF` and the checksum of the whole dump (8 zero bytes when
    /// checksums are off). Returns the checksum written.
    pub fn finish(mut self, out: &mut Vec<u8>) -> u64 {
        let start = out.len();
        out.push(opcode::EOF);
        self.fold(out, start);
        let checksum = if self.checksum {
            self.digest.finalize()
        } else {
            0
        };
        out.extend_from_slice(&checksum.to_le_bytes());
        checksum
    }

    fn fold(&mut self, out: &[u8], start: usize) {
        let appended = &out[start..];
        self.digest.update(appended);
        self.written_bytes += appended.len() as u64;
    }
}

/// Appends a length in the shortest of the 6/14/32/64-bit forms.
fn put_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push((LEN_6BIT << 6) | len as u8);
    } else if len < 1 << 14 {
        out.push((LEN_14BIT << 6) | (len >> 8) as u8);
        out.push(len as u8);
    } else if let Ok(len) = u32::try_from(len) {
        out.push(LEN_32BIT);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a string in the encoding Redis would choose for it.
fn put_string(out: &mut Vec<u8>, bytes: &[u8], lzf: Option<&mut Lzf>) {
    if let Some(n) = int_encodable(bytes) {
        put_int(out, n);
        return;
    }
    if let Some(lzf) = lzf.filter(|_| bytes.len() >= LZF_INPUT_BYTES_MIN) {
        let mut compressed = Vec::with_capacity(bytes.len());
        if lzf.compress(bytes, &mut compressed, bytes.len() - LZF_SAVING_BYTES_MIN) {
            out.push((LEN_ENCODED << 6) | ENC_LZF);
            put_len(out, compressed.len() as u64);
            put_len(out, bytes.len() as u64);
            out.extend_from_slice(&compressed);
            return;
        }
    }
    put_len(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The integer `bytes` spell, if they are its canonical decimal form (no
/// sign on positives, no leading zeros, no "-0") and it fits 32 bits.
fn int_encodable(bytes: &[u8]) -> Option<i32> {
    if bytes.is_empty() || bytes.len() > INT_ENCODING_BYTES_MAX {
        return None;
    }
    let n: i32 = std::str::from_utf8(bytes).ok()?.parse().ok()?;
    (n.to_string().as_bytes() == bytes).then_some(n)
}

fn put_int(out: &mut Vec<u8>, n: i32) {
    if let Ok(n) = i8::try_from(n) {
        out.push((LEN_ENCODED << 6) | ENC_INT8);
        out.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = i16::try_from(n) {
        out.push((LEN_ENCODED << 6) | ENC_INT16);
        out.extend_from_slice(&n.to_le_bytes());
    } else {
        out.push((LEN_ENCODED << 6) | ENC_INT32);
        out.extend_from_slice(&n.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------
// Errors

/// Why a dump cannot be loaded, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdbError {
    /// Byte offset in the dump: where the bad item starts, or where the
    /// bytes ran out.
    pub offset: u64,
    pub kind: RdbErrorKind,
}

/// What is wrong with a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdbErrorKind {
    /// The byte source failed.
    Io {
        kind: io::ErrorKind,
        message: String,
    },
    /// The file does not start with `REDIS`.
    BadMagic,
    /// The four version bytes are not decimal digits.
    BadVersion([u8; 4]),
    /// A version this reader does not know (0, or newer than 10).
    UnsupportedVersion(u32),
    /// The bytes ended before the dump did.
    UnexpectedEof,
    /// The stored CRC64 differs from the one computed over the dump.
    BadChecksum { expected: u64, found: u64 },
    /// A type byte that is neither an opcode nor a value type.
    UnknownType(u8),
    /// A value type Redis writes that this server cannot hold yet.
    UnsupportedType { rdb_type: u8, key: Vec<u8> },
    /// A value whose encoding is corrupt: a listpack that does not check
    /// out.
    CorruptValue { key: Vec<u8>, detail: String },
    /// A function library in the format of Redis 7.0's release
    /// candidates: not supported.
    FunctionsUnsupported,
    /// Module data outside any key: no modules here.
    ModuleAuxUnsupported,
    /// A first length byte of the form `10xxxxxx` other than 0x80/0x81.
    UnknownLengthEncoding(u8),
    /// A special string encoding other than INT8/16/32 or LZF.
    UnknownStringEncoding(u8),
    /// A special string encoding where a plain length belongs.
    EncodedLength { what: &'static str, marker: u8 },
    /// A length larger than what can possibly follow.
    ImplausibleLength {
        what: &'static str,
        length: u64,
        limit: u64,
    },
    /// LZF data that does not decompress to its stated length.
    Lzf(String),
    /// An expire time not followed by a key.
    DanglingExpire,
}

impl RdbError {
    fn new(offset: u64, kind: RdbErrorKind) -> Self {
        RdbError { offset, kind }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte offset {})", self.kind, self.offset)
    }
}

impl std::error::Error for RdbError {}

impl fmt::Display for RdbErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use RdbErrorKind::*;
        match self {
            Io { message, .. } => write!(f, "error reading RDB file: {message}"),
            BadMagic => write!(f, "wrong signature trying to load DB from file"),
            BadVersion(bytes) => write!(
                f,
                "bad RDB format version field {}",
                escape_for_message(bytes)
            ),
            UnsupportedVersion(v) => write!(f, "can't handle RDB format version {v}"),
            UnexpectedEof => write!(f, "Unexpected EOF reading RDB file"),
            BadChecksum { expected, found } => write!(
                f,
                "RDB CRC error (wrong RDB checksum: expected {expected:#018x}, found {found:#018x})"
            ),
            UnknownType(t) => write!(f, "unknown RDB value type or opcode {t}"),
            UnsupportedType { rdb_type, key } => write!(
                f,
                "unsupported value type {rdb_type} for key '{}' ({}; this server \
                 cannot load that encoding yet)",
                escape_for_message(key),
                type_description(*rdb_type)
            ),
            CorruptValue { key, detail } => write!(
                f,
                "corrupt value for key '{}': {detail}",
                escape_for_message(key)
            ),
            FunctionsUnsupported => write!(
                f,
                "the RDB file holds a function library; functions are not supported"
            ),
            ModuleAuxUnsupported => write!(
                f,
                "the RDB file holds module data; modules are not supported"
            ),
            UnknownLengthEncoding(b) => write!(f, "unknown length encoding {b:#04x}"),
            UnknownStringEncoding(e) => write!(f, "unknown string encoding {e}"),
            EncodedLength { what, marker } => write!(
                f,
                "string encoding marker {marker:#04x} where the {what} length belongs"
            ),
            ImplausibleLength {
                what,
                length,
                limit,
            } => write!(
                f,
                "implausible {what} length {length} (at most {limit} possible here)"
            ),
            Lzf(detail) => write!(f, "invalid LZF compressed string: {detail}"),
            DanglingExpire => write!(f, "expire time not followed by a key"),
        }
    }
}

/// What Redis stores under a value type byte, for error messages.
fn type_description(rdb_type: u8) -> &'static str {
    match rdb_type {
        1 => "a list",
        2 => "a set",
        3 | 5 => "a sorted set",
        4 => "a hash",
        6 | 7 => "a module value",
        9 => "a hash as zipmap",
        10 => "a list as ziplist",
        11 => "a set as intset",
        12 => "a sorted set as ziplist",
        13 => "a hash as ziplist",
        14 => "a list as quicklist of ziplists",
        18 => "a list as quicklist",
        15 | 19 => "a stream",
        16 => "a hash as listpack",
        17 => "a sorted set as listpack",
        _ => "an unknown type",
    }
}

/// Whether Redis writes `rdb_type` as a value type.
fn is_known_type(rdb_type: u8) -> bool {
    matches!(rdb_type, 0..=7 | 9..=19)
}

fn corrupt(at: u64, key: &[u8], detail: String) -> RdbError {
    let key = key.to_vec();
    RdbError::new(at, RdbErrorKind::CorruptValue { key, detail })
}

/// A score stored as decimal text.
fn parse_score(at: u64, key: &[u8], text: &[u8]) -> Result<f64, RdbError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| corrupt(at, key, "unreadable score".to_string()))
}

/// A compact encoding's entries paired up (field and value, or member and
/// score); an odd count is corrupt.
fn into_pairs(
    at: u64,
    key: &[u8],
    what: &str,
    entries: Vec<Vec<u8>>,
) -> Result<Vec<Pair>, RdbError> {
    if !entries.len().is_multiple_of(2) {
        return Err(corrupt(at, key, format!("{what} with an odd count")));
    }
    let mut pairs = Vec::with_capacity(entries.len() / 2);
    let mut entries = entries.into_iter();
    while let (Some(first), Some(second)) = (entries.next(), entries.next()) {
        pairs.push((first, second));
    }
    Ok(pairs)
}

/// Printable ASCII as is, other bytes as `\xNN`, cut at a bound.
fn escape_for_message(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(ERROR_KEY_BYTES_MAX)];
    let mut text: String = shown
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    if bytes.len() > shown.len() {
        text.push_str("...");
    }
    text
}

// ---------------------------------------------------------------------------
// Reading

/// Where the reader's bytes come from: `read` fills a prefix of `buf` and
/// returns how many bytes it wrote, `Ok(0)` at the end.
pub trait ByteSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Bytes the source can still deliver, if it knows. The reader uses it
    /// to refuse a corrupt length at once with a precise message; without
    /// it the length is still caught, when the bytes run out.
    fn remaining_hint(&mut self) -> Option<u64> {
        None
    }
}

impl ByteSource for &[u8] {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.len());
        buf[..n].copy_from_slice(&self[..n]);
        *self = &self[n..];
        Ok(n)
    }

    fn remaining_hint(&mut self) -> Option<u64> {
        Some(self.len() as u64)
    }
}

/// Reads a file through [`Disk::read_at`], from a starting offset on.
pub struct DiskSource<'d, D: Disk + ?Sized> {
    disk: &'d mut D,
    file: FileId,
    offset: u64,
}

impl<'d, D: Disk + ?Sized> DiskSource<'d, D> {
    pub fn new(disk: &'d mut D, file: FileId, offset: u64) -> Self {
        DiskSource { disk, file, offset }
    }

    /// The file offset of the next byte this source will read (the reader
    /// buffers ahead: use [`RdbReader::offset`] for what it consumed).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl<D: Disk + ?Sized> ByteSource for DiskSource<'_, D> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.disk.read_at(self.file, self.offset, buf)?;
        self.offset += n as u64;
        Ok(n)
    }

    fn remaining_hint(&mut self) -> Option<u64> {
        let size = self.disk.size(self.file).ok()?;
        Some(size.saturating_sub(self.offset))
    }
}

/// One thing a dump says, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum RdbEvent {
    /// An AUX field (`redis-ver`, `ctime`, `repl-id`, ...).
    Aux { key: Vec<u8>, value: Vec<u8> },
    /// The following entries belong to database `index`. The reader does not
    /// check it against `databases`; the loader must.
    SelectDb { index: u64 },
    /// Key and expire counts of the current database, as the writer saw them.
    ResizeDb { keys: u64, expires: u64 },
    /// One key. Its expiry may lie in the past: whether to drop it is the
    /// loader's decision (Redis masters drop, replicas keep).
    Entry(RdbEntry),
    /// A collection with no element: Redis never writes one, and skips it
    /// when loading a file (logging `rdbLoadObject skipping empty key`);
    /// RESTORE refuses it.
    EmptyKey { key: Vec<u8> },
    /// A function library's code (FUNCTION LOAD).
    Function { code: Vec<u8> },
    /// The end marker was read and the checksum handled. The reader's
    /// [`offset`](RdbReader::offset) is now just past the dump.
    End { checksum: Checksum },
}

/// One key as read from a dump.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbEntry {
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute expiry, wall-clock milliseconds since the Unix epoch.
    pub expire_at_ms: Option<i64>,
}

/// What became of the dump's checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checksum {
    /// Stored and computed checksums agree.
    Verified(u64),
    /// The writer had `rdbchecksum no` (stored 0): nothing was checked.
    Disabled,
    /// The reader was told not to verify; this is the stored value.
    NotVerified(u64),
    /// Versions before 5 carry no checksum.
    Absent,
}

/// A pull parser over a dump: [`new`](Self::new) reads the header, then
/// each [`next_event`](Self::next_event) returns the next event until
/// [`RdbEvent::End`], after which it returns `None`.
pub struct RdbReader<S: ByteSource> {
    source: S,
    buf: Box<[u8]>,
    buf_pos: usize,
    buf_len: usize,
    /// Bytes of the dump consumed (the offset of the next byte to parse).
    offset: u64,
    digest: Digest<'static, u64, Table<16>>,
    version: u32,
    verify_checksum: bool,
    ended: bool,
    failed: Option<RdbError>,
    /// How collections read from the dump are encoded from then on.
    encodings: Encodings,
}

/// A length field as read: a plain number, or a special string encoding.
enum LengthField {
    Plain(u64),
    Encoded(u8),
}

impl<S: ByteSource> RdbReader<S> {
    /// Reads and checks the 9-byte header.
    ///
    /// Errors: `BadMagic`, `BadVersion`, `UnsupportedVersion`,
    /// `UnexpectedEof`, `Io`.
    pub fn new(source: S) -> Result<Self, RdbError> {
        let mut reader = RdbReader {
            source,
            buf: vec![0; READ_BUFFER_BYTES].into_boxed_slice(),
            buf_pos: 0,
            buf_len: 0,
            offset: 0,
            digest: CRC64.digest(),
            version: 0,
            verify_checksum: true,
            ended: false,
            failed: None,
            encodings: Encodings::default(),
        };
        let mut header = [0u8; 9];
        reader.read_exact(&mut header)?;
        if &header[..5] != MAGIC {
            return Err(RdbError::new(0, RdbErrorKind::BadMagic));
        }
        let digits: [u8; 4] = [header[5], header[6], header[7], header[8]];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(RdbError::new(5, RdbErrorKind::BadVersion(digits)));
        }
        let version = digits
            .iter()
            .fold(0u32, |v, d| v * 10 + u32::from(d - b'0'));
        if !(RDB_VERSION_MIN..=RDB_VERSION).contains(&version) {
            return Err(RdbError::new(5, RdbErrorKind::UnsupportedVersion(version)));
        }
        reader.version = version;
        Ok(reader)
    }

    /// Whether to compare the stored checksum with the computed one
    /// (`rdbchecksum`). On by default.
    pub fn set_verify_checksum(&mut self, verify: bool) {
        self.verify_checksum = verify;
    }

    /// The encoding limits collections read from the dump keep (the
    /// server's configuration; Redis's defaults otherwise).
    pub fn set_encodings(&mut self, encodings: Encodings) {
        self.encodings = encodings;
    }

    /// The dump's format version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Bytes of the dump consumed so far; after `End`, the dump's length
    /// (where an AOF's RESP tail begins after an RDB preamble).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next event, or `None` once `End` was returned. An error is
    /// final: every later call returns it again.
    pub fn next_event(&mut self) -> Result<Option<RdbEvent>, RdbError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.ended {
            return Ok(None);
        }
        let result = self.parse_event();
        match &result {
            Ok(event) => self.ended = matches!(event, RdbEvent::End { .. }),
            Err(error) => self.failed = Some(error.clone()),
        }
        result.map(Some)
    }

    /// Parses up to and including the next event; metadata that only
    /// qualifies the next key (expiry, LRU/LFU) is folded into it.
    fn parse_event(&mut self) -> Result<RdbEvent, RdbError> {
        let mut expire_at_ms: Option<i64> = None;
        loop {
            let at = self.offset;
            let byte = self.read_u8()?;
            let event = match byte {
                opcode::EXPIRETIME_MS => {
                    expire_at_ms = Some(i64::from_le_bytes(self.read_array()?));
                    continue;
                }
                opcode::EXPIRETIME => {
                    let seconds = i32::from_le_bytes(self.read_array()?);
                    expire_at_ms = Some(i64::from(seconds) * 1000);
                    continue;
                }
                opcode::IDLE => {
                    self.read_len("LRU idle time")?;
                    continue;
                }
                opcode::FREQ => {
                    self.read_u8()?;
                    continue;
                }
                opcode::FUNCTION2 if expire_at_ms.is_none() => RdbEvent::Function {
                    code: self.read_string("function library code")?,
                },
                opcode::FUNCTION2 => return Err(RdbError::new(at, RdbErrorKind::DanglingExpire)),
                opcode::FUNCTION_PRE_GA => {
                    return Err(RdbError::new(at, RdbErrorKind::FunctionsUnsupported))
                }
                opcode::MODULE_AUX => {
                    return Err(RdbError::new(at, RdbErrorKind::ModuleAuxUnsupported))
                }
                opcode::AUX | opcode::SELECTDB | opcode::RESIZEDB | opcode::EOF
                    if expire_at_ms.is_some() =>
                {
                    return Err(RdbError::new(at, RdbErrorKind::DanglingExpire))
                }
                opcode::AUX => RdbEvent::Aux {
                    key: self.read_string("AUX field name")?,
                    value: self.read_string("AUX field value")?,
                },
                opcode::SELECTDB => RdbEvent::SelectDb {
                    index: self.read_len("database index")?,
                },
                opcode::RESIZEDB => RdbEvent::ResizeDb {
                    keys: self.read_len("database size")?,
                    expires: self.read_len("expires size")?,
                },
                opcode::EOF => RdbEvent::End {
                    checksum: self.read_checksum()?,
                },
                rdb_type => {
                    let entry = self.read_entry(at, rdb_type, expire_at_ms)?;
                    if entry.value.is_empty_collection() {
                        RdbEvent::EmptyKey { key: entry.key }
                    } else {
                        RdbEvent::Entry(entry)
                    }
                }
            };
            return Ok(event);
        }
    }

    /// The key and value after a type byte read at `at`.
    fn read_entry(
        &mut self,
        at: u64,
        rdb_type: u8,
        expire_at_ms: Option<i64>,
    ) -> Result<RdbEntry, RdbError> {
        if !is_known_type(rdb_type) {
            return Err(RdbError::new(at, RdbErrorKind::UnknownType(rdb_type)));
        }
        let key = self.read_string("key")?;
        let value = match rdb_type {
            TYPE_STRING => Value::String(self.read_string("string value")?),
            TYPE_LIST => self.read_plain_list()?,
            TYPE_LIST_QUICKLIST_2 => self.read_quicklist(at, &key)?,
            TYPE_LIST_ZIPLIST => self.read_list_ziplist(at, &key)?,
            TYPE_LIST_QUICKLIST => self.read_ziplist_quicklist(at, &key)?,
            TYPE_SET => self.read_plain_set(at, &key)?,
            TYPE_SET_INTSET => self.read_intset(at, &key)?,
            TYPE_HASH => self.read_plain_hash(at, &key)?,
            TYPE_HASH_LISTPACK => self.read_hash_listpack(at, &key)?,
            TYPE_HASH_ZIPLIST => self.read_hash_ziplist(at, &key)?,
            TYPE_HASH_ZIPMAP => self.read_hash_zipmap(at, &key)?,
            TYPE_ZSET | TYPE_ZSET_2 => self.read_plain_zset(at, &key, rdb_type == TYPE_ZSET_2)?,
            TYPE_ZSET_LISTPACK => self.read_zset_listpack(at, &key)?,
            TYPE_ZSET_ZIPLIST => self.read_zset_ziplist(at, &key)?,
            _ => {
                let kind = RdbErrorKind::UnsupportedType { rdb_type, key };
                return Err(RdbError::new(at, kind));
            }
        };
        Ok(RdbEntry {
            key,
            value,
            expire_at_ms,
        })
    }

    /// A list as a length and its elements.
    fn read_plain_list(&mut self) -> Result<Value, RdbError> {
        let len = self.read_len("list length")?;
        let mut list = List::new(&self.encodings);
        for _ in 0..len {
            list.push(End::Tail, &self.read_string("list element")?);
        }
        Ok(Value::List(Box::new(list)))
    }

    /// A quicklist: a node count, then each node's container and bytes.
    fn read_quicklist(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let count = self.read_len("quicklist node count")?;
        let mut nodes = Vec::new();
        for _ in 0..count {
            let container = self.read_len("quicklist node container")?;
            let bytes = self.read_string("quicklist node")?;
            let node = match container {
                QUICKLIST_NODE_PACKED => Listpack::from_bytes(bytes)
                    .map_err(|detail| corrupt(at, key, format!("quicklist node: {detail}")))?,
                QUICKLIST_NODE_PLAIN => {
                    let mut node = Listpack::new();
                    node.push_back(&bytes);
                    node
                }
                other => {
                    return Err(corrupt(at, key, format!("quicklist container {other}")));
                }
            };
            nodes.push(node);
        }
        Ok(Value::List(Box::new(List::from_nodes(
            nodes,
            &self.encodings,
        ))))
    }

    /// A list as one ziplist (type 10): its elements pushed one by one, so
    /// nodes fill as the server's `list-max-listpack-size` says.
    fn read_list_ziplist(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let elements = self.read_ziplist(at, key, "list ziplist")?;
        let mut list = List::new(&self.encodings);
        for element in &elements {
            list.push(End::Tail, element);
        }
        Ok(Value::List(Box::new(list)))
    }

    /// A quicklist of ziplist nodes (type 14): a node count, then each node
    /// as a string holding a ziplist, which becomes one listpack node (more
    /// if it would pass the listpack safety limit). Empty nodes are
    /// dropped, as Redis does.
    fn read_ziplist_quicklist(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let count = self.read_len("quicklist node count")?;
        let mut nodes = Vec::new();
        for _ in 0..count {
            let mut node = Listpack::new();
            for element in self.read_ziplist(at, key, "quicklist ziplist node")? {
                if !node.is_empty() && !node.safe_to_add(element.len()) {
                    nodes.push(std::mem::take(&mut node));
                }
                node.push_back(&element);
            }
            nodes.push(node);
        }
        Ok(Value::List(Box::new(List::from_nodes(
            nodes,
            &self.encodings,
        ))))
    }

    /// A set as a length and its members; a repeated member is corrupt.
    fn read_plain_set(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let len = self.read_len("set length")?;
        let mut set = Set::new(&self.encodings);
        for _ in 0..len {
            let member = self.read_string("set member")?;
            if !set.add(&member, &self.encodings) {
                return Err(corrupt(at, key, "duplicate set member".to_string()));
            }
        }
        Ok(Value::Set(set))
    }

    /// A set as an intset, checked and rebuilt under the server's limits.
    fn read_intset(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let bytes = self.read_string("intset")?;
        let intset = Intset::from_bytes(bytes)
            .map_err(|detail| corrupt(at, key, format!("intset: {detail}")))?;
        let mut set = Set::new(&self.encodings);
        for value in intset.iter() {
            set.add(value.to_string().as_bytes(), &self.encodings);
        }
        Ok(Value::Set(set))
    }

    /// A hash as a length and its pairs; a repeated field is corrupt.
    fn read_plain_hash(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let len = self.read_len("hash length")?;
        let mut hash = Hash::new(&self.encodings);
        for _ in 0..len {
            let field = self.read_string("hash field")?;
            let value = self.read_string("hash value")?;
            if !hash.set(&field, &value, &self.encodings) {
                return Err(corrupt(at, key, "duplicate hash field".to_string()));
            }
        }
        Ok(Value::Hash(hash))
    }

    /// A hash as a listpack of field, value: checked, then rebuilt under
    /// the server's limits (the same bytes when they fit).
    fn read_hash_listpack(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let listpack = self.read_listpack(at, key, "hash listpack")?;
        if !listpack.len().is_multiple_of(2) {
            return Err(corrupt(
                at,
                key,
                "hash listpack with an odd count".to_string(),
            ));
        }
        let mut entries = listpack.iter();
        let pairs =
            std::iter::from_fn(|| Some((entries.next()?.to_vec(), entries.next()?.to_vec())));
        self.hash_from_pairs(at, key, pairs)
    }

    /// A hash as a ziplist of field, value (type 13), rebuilt under the
    /// server's limits.
    fn read_hash_ziplist(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let entries = self.read_ziplist(at, key, "hash ziplist")?;
        let pairs = into_pairs(at, key, "hash ziplist", entries)?;
        self.hash_from_pairs(at, key, pairs)
    }

    /// A hash as a zipmap (type 9), rebuilt under the server's limits.
    fn read_hash_zipmap(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let bytes = self.read_string("hash zipmap")?;
        let pairs =
            decode_zipmap(&bytes).map_err(|e| corrupt(at, key, format!("hash zipmap: {e}")))?;
        self.hash_from_pairs(at, key, pairs)
    }

    /// A hash of `pairs` in dump order; a repeated field, or none at all,
    /// is corrupt.
    fn hash_from_pairs(
        &mut self,
        at: u64,
        key: &[u8],
        pairs: impl IntoIterator<Item = Pair>,
    ) -> Result<Value, RdbError> {
        let mut hash = Hash::new(&self.encodings);
        for (field, value) in pairs {
            if !hash.set(&field, &value, &self.encodings) {
                return Err(corrupt(at, key, "duplicate hash field".to_string()));
            }
        }
        Ok(Value::Hash(hash))
    }

    /// A sorted set as a length and members with scores, as text
    /// (`binary` false) or as 8-byte doubles.
    fn read_plain_zset(&mut self, at: u64, key: &[u8], binary: bool) -> Result<Value, RdbError> {
        let len = self.read_len("sorted set length")?;
        let mut elements = Vec::new();
        for _ in 0..len {
            let member = self.read_string("sorted set member")?;
            let score = if binary {
                f64::from_le_bytes(self.read_array()?)
            } else {
                self.read_text_score(at, key)?
            };
            elements.push((member, score));
        }
        self.sorted_set(at, key, elements)
    }

    /// A score as Redis wrote it before binary doubles: a length byte and
    /// decimal text, or 253/254/255 for NaN, +inf, -inf.
    fn read_text_score(&mut self, at: u64, key: &[u8]) -> Result<f64, RdbError> {
        let len = self.read_u8()?;
        let score = match len {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            _ => {
                let mut text = vec![0u8; len as usize];
                self.read_exact(&mut text)?;
                parse_score(at, key, &text)?
            }
        };
        Ok(score)
    }

    /// A sorted set as a listpack of member, score.
    fn read_zset_listpack(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let listpack = self.read_listpack(at, key, "sorted set listpack")?;
        if listpack.len() % 2 != 0 {
            return Err(corrupt(
                at,
                key,
                "sorted set listpack with an odd count".to_string(),
            ));
        }
        let mut elements = Vec::new();
        let mut entries = listpack.iter();
        while let (Some(member), Some(score)) = (entries.next(), entries.next()) {
            let score = match score {
                Entry::Int(n) => n as f64,
                Entry::Bytes(text) => parse_score(at, key, text)?,
            };
            elements.push((member.to_vec(), score));
        }
        self.sorted_set(at, key, elements)
    }

    /// A sorted set as a ziplist of member, score (type 12), scores as
    /// text (integer entries as their digits).
    fn read_zset_ziplist(&mut self, at: u64, key: &[u8]) -> Result<Value, RdbError> {
        let entries = self.read_ziplist(at, key, "sorted set ziplist")?;
        let mut elements = Vec::new();
        for (member, score) in into_pairs(at, key, "sorted set ziplist", entries)? {
            elements.push((member, parse_score(at, key, &score)?));
        }
        self.sorted_set(at, key, elements)
    }

    /// Builds a sorted set from elements in any order: NaN scores and
    /// repeated members are corrupt, as Redis's loader says.
    fn sorted_set(
        &mut self,
        at: u64,
        key: &[u8],
        mut elements: Vec<(Vec<u8>, f64)>,
    ) -> Result<Value, RdbError> {
        if elements.iter().any(|(_, score)| score.is_nan()) {
            return Err(corrupt(at, key, "sorted set with a NaN score".to_string()));
        }
        elements.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let mut members: Vec<&[u8]> = elements.iter().map(|(m, _)| m.as_slice()).collect();
        members.sort_unstable();
        if members.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(corrupt(at, key, "duplicate sorted set member".to_string()));
        }
        let zset = ZSet::from_sorted(elements, &self.encodings);
        Ok(Value::ZSet(zset))
    }

    /// A ziplist blob, checked and decoded to its entries.
    fn read_ziplist(
        &mut self,
        at: u64,
        key: &[u8],
        what: &'static str,
    ) -> Result<Vec<Vec<u8>>, RdbError> {
        let bytes = self.read_string(what)?;
        decode_ziplist(&bytes).map_err(|e| corrupt(at, key, format!("{what}: {e}")))
    }

    /// A listpack blob, checked.
    fn read_listpack(
        &mut self,
        at: u64,
        key: &[u8],
        what: &'static str,
    ) -> Result<Listpack, RdbError> {
        let bytes = self.read_string(what)?;
        Listpack::from_bytes(bytes).map_err(|detail| corrupt(at, key, format!("{what}: {detail}")))
    }

    /// Reads the 8 checksum bytes after EOF (from version 5 on) and checks
    /// them against everything before.
    fn read_checksum(&mut self) -> Result<Checksum, RdbError> {
        if self.version < CHECKSUM_VERSION_MIN {
            return Ok(Checksum::Absent);
        }
        let expected = self.digest.clone().finalize();
        let at = self.offset;
        let found = u64::from_le_bytes(self.read_array()?);
        if !self.verify_checksum {
            return Ok(Checksum::NotVerified(found));
        }
        if found == 0 {
            return Ok(Checksum::Disabled);
        }
        if found != expected {
            let kind = RdbErrorKind::BadChecksum { expected, found };
            return Err(RdbError::new(at, kind));
        }
        Ok(Checksum::Verified(found))
    }

    /// A length or special-encoding marker.
    fn read_length_field(&mut self) -> Result<LengthField, RdbError> {
        let at = self.offset;
        let first = self.read_u8()?;
        let low = u64::from(first & 0x3f);
        let field = match first >> 6 {
            LEN_6BIT => LengthField::Plain(low),
            LEN_14BIT => LengthField::Plain((low << 8) | u64::from(self.read_u8()?)),
            LEN_WIDE if first == LEN_32BIT => {
                LengthField::Plain(u64::from(u32::from_be_bytes(self.read_array()?)))
            }
            LEN_WIDE if first == LEN_64BIT => {
                LengthField::Plain(u64::from_be_bytes(self.read_array()?))
            }
            LEN_WIDE => {
                return Err(RdbError::new(
                    at,
                    RdbErrorKind::UnknownLengthEncoding(first),
                ))
            }
            _ => LengthField::Encoded(first & 0x3f),
        };
        Ok(field)
    }

    /// A plain length; `what` names it in errors.
    fn read_len(&mut self, what: &'static str) -> Result<u64, RdbError> {
        let at = self.offset;
        match self.read_length_field()? {
            LengthField::Plain(len) => Ok(len),
            LengthField::Encoded(enc) => {
                let marker = (LEN_ENCODED << 6) | enc;
                Err(RdbError::new(
                    at,
                    RdbErrorKind::EncodedLength { what, marker },
                ))
            }
        }
    }

    /// A string in any encoding, returned as its bytes (integers as their
    /// decimal digits).
    fn read_string(&mut self, what: &'static str) -> Result<Vec<u8>, RdbError> {
        let at = self.offset;
        match self.read_length_field()? {
            LengthField::Plain(len) => self.read_bytes(at, len, what),
            LengthField::Encoded(ENC_INT8) => Ok(i8::from_le_bytes(self.read_array()?)
                .to_string()
                .into_bytes()),
            LengthField::Encoded(ENC_INT16) => Ok(i16::from_le_bytes(self.read_array()?)
                .to_string()
                .into_bytes()),
            LengthField::Encoded(ENC_INT32) => Ok(i32::from_le_bytes(self.read_array()?)
                .to_string()
                .into_bytes()),
            LengthField::Encoded(ENC_LZF) => self.read_lzf(at, what),
            LengthField::Encoded(enc) => {
                Err(RdbError::new(at, RdbErrorKind::UnknownStringEncoding(enc)))
            }
        }
    }

    /// An LZF string whose marker was at `at`: compressed length, original
    /// length, compressed bytes.
    fn read_lzf(&mut self, at: u64, what: &'static str) -> Result<Vec<u8>, RdbError> {
        let compressed_len = self.read_len("LZF compressed")?;
        let original_len = self.read_len("LZF original")?;
        if compressed_len == 0 || original_len == 0 {
            let detail = "zero length".to_string();
            return Err(RdbError::new(at, RdbErrorKind::Lzf(detail)));
        }
        let limit = compressed_len.saturating_mul(LZF_EXPANSION_MAX);
        if original_len > limit {
            let kind = RdbErrorKind::ImplausibleLength {
                what,
                length: original_len,
                limit,
            };
            return Err(RdbError::new(at, kind));
        }
        let compressed = self.read_bytes(at, compressed_len, what)?;
        // Both lengths fit usize: the compressed bytes were read into memory
        // and the original is at most 88 times as long.
        let original_len = original_len as usize;
        match lzf::decompress(&compressed, original_len) {
            Ok(bytes) if bytes.len() == original_len => Ok(bytes),
            Ok(bytes) => {
                let detail = format!(
                    "decompressed to {} bytes, {original_len} expected",
                    bytes.len()
                );
                Err(RdbError::new(at, RdbErrorKind::Lzf(detail)))
            }
            Err(e) => Err(RdbError::new(at, RdbErrorKind::Lzf(e.to_string()))),
        }
    }

    /// `len` bytes of a string that starts at `at`, read in buffer-sized
    /// pieces so that memory grows only with bytes that are really there.
    fn read_bytes(&mut self, at: u64, len: u64, what: &'static str) -> Result<Vec<u8>, RdbError> {
        let implausible = |limit: u64| {
            let kind = RdbErrorKind::ImplausibleLength {
                what,
                length: len,
                limit,
            };
            RdbError::new(at, kind)
        };
        if len > LENGTH_CHECK_BYTES_MIN {
            if let Some(remaining) = self.remaining_hint() {
                if len > remaining {
                    return Err(implausible(remaining));
                }
            }
        }
        let len = usize::try_from(len).map_err(|_| implausible(usize::MAX as u64))?;
        let mut out = Vec::with_capacity(len.min(READ_BUFFER_BYTES));
        while out.len() < len {
            let available = self.fill()?;
            let n = available.min(len - out.len());
            let piece = &self.buf[self.buf_pos..self.buf_pos + n];
            out.extend_from_slice(piece);
            self.consume(n);
        }
        Ok(out)
    }

    fn read_u8(&mut self) -> Result<u8, RdbError> {
        let [byte] = self.read_array()?;
        Ok(byte)
    }

    fn read_array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut bytes = [0u8; N];
        self.read_exact(&mut bytes)?;
        Ok(bytes)
    }

    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), RdbError> {
        let mut done = 0;
        while done < out.len() {
            let available = self.fill()?;
            let n = available.min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.buf[self.buf_pos..self.buf_pos + n]);
            self.consume(n);
            done += n;
        }
        Ok(())
    }

    /// Marks `n` buffered bytes as parsed and folds them into the checksum.
    fn consume(&mut self, n: usize) {
        self.digest
            .update(&self.buf[self.buf_pos..self.buf_pos + n]);
        self.buf_pos += n;
        self.offset += n as u64;
    }

    /// Makes at least one byte available in the buffer and returns how many
    /// are; the end of the source is `UnexpectedEof`.
    fn fill(&mut self) -> Result<usize, RdbError> {
        while self.buf_pos == self.buf_len {
            match self.source.read(&mut self.buf) {
                Ok(0) => return Err(RdbError::new(self.offset, RdbErrorKind::UnexpectedEof)),
                Ok(n) => {
                    self.buf_pos = 0;
                    self.buf_len = n.min(self.buf.len());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let kind = RdbErrorKind::Io {
                        kind: e.kind(),
                        message: e.to_string(),
                    };
                    return Err(RdbError::new(self.offset, kind));
                }
            }
        }
        Ok(self.buf_len - self.buf_pos)
    }

    /// Bytes that can still be parsed, if the source knows.
    fn remaining_hint(&mut self) -> Option<u64> {
        let buffered = (self.buf_len - self.buf_pos) as u64;
        Some(buffered + self.source.remaining_hint()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::ziplist;
    use super::*;

    /// Every event of `bytes`, through `End`.
    fn events(bytes: &[u8]) -> Result<Vec<RdbEvent>, RdbError> {
        let mut reader = RdbReader::new(bytes)?;
        let mut all = Vec::new();
        while let Some(event) = reader.next_event()? {
            all.push(event);
        }
        Ok(all)
    }

    /// `REDIS0010` + `body` + EOF + its correct checksum.
    fn framed(body: &[u8]) -> Vec<u8> {
        let mut bytes = b"REDIS0010".to_vec();
        bytes.extend_from_slice(body);
        bytes.push(opcode::EOF);
        let checksum = crc64(&bytes);
        bytes.extend_from_slice(&checksum.to_le_bytes());
        bytes
    }

    fn string_entry(key: &[u8], value: &[u8], expire_at_ms: Option<i64>) -> RdbEvent {
        RdbEvent::Entry(RdbEntry {
            key: key.to_vec(),
            value: Value::String(value.to_vec()),
            expire_at_ms,
        })
    }

    fn encoded(bytes: &[u8], compress: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut lzf = Lzf::default();
        put_string(&mut out, bytes, compress.then_some(&mut lzf));
        out
    }

    /// The key of the empty collection `bytes` holds first.
    fn empty_key(bytes: &[u8]) -> Vec<u8> {
        match events(bytes).expect("an empty key reads").remove(0) {
            RdbEvent::EmptyKey { key } => key,
            other => panic!("not an empty key: {other:?}"),
        }
    }

    fn error_of(bytes: &[u8]) -> RdbError {
        events(bytes).expect_err("the dump must be refused")
    }

    // The checksum is CRC-64/REDIS: its catalogue check value.
    #[test]
    fn crc64_check_value() {
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    // Lengths take the shortest form and read back at every boundary.
    #[test]
    fn length_forms_and_boundaries() {
        let cases: [(u64, &[u8]); 7] = [
            (0, &[0x00]),
            (63, &[0x3f]),
            (64, &[0x40, 0x40]),
            (16383, &[0x7f, 0xff]),
            (16384, &[0x80, 0x00, 0x00, 0x40, 0x00]),
            (u64::from(u32::MAX), &[0x80, 0xff, 0xff, 0xff, 0xff]),
            (1 << 32, &[0x81, 0, 0, 0, 1, 0, 0, 0, 0]),
        ];
        for (len, form) in cases {
            let mut out = Vec::new();
            put_len(&mut out, len);
            assert_eq!(out, form, "length {len}");
            let mut bytes = b"REDIS0010".to_vec();
            bytes.extend_from_slice(&out);
            let mut reader = RdbReader::new(&bytes[..]).unwrap();
            assert_eq!(reader.read_len("test").unwrap(), len);
        }
    }

    // Canonical integers within 32 bits are int-encoded in the smallest
    // width; anything else stays a string.
    #[test]
    fn integer_encoding_boundaries() {
        let cases: [(&str, &[u8]); 10] = [
            ("0", &[0xc0, 0x00]),
            ("127", &[0xc0, 0x7f]),
            ("-128", &[0xc0, 0x80]),
            ("128", &[0xc1, 0x80, 0x00]),
            ("-129", &[0xc1, 0x7f, 0xff]),
            ("32767", &[0xc1, 0xff, 0x7f]),
            ("32768", &[0xc2, 0x00, 0x80, 0x00, 0x00]),
            ("-32769", &[0xc2, 0xff, 0x7f, 0xff, 0xff]),
            ("2147483647", &[0xc2, 0xff, 0xff, 0xff, 0x7f]),
            ("-2147483648", &[0xc2, 0x00, 0x00, 0x00, 0x80]),
        ];
        for (text, form) in cases {
            assert_eq!(encoded(text.as_bytes(), true), form, "{text}");
        }
        for raw in [
            "2147483648",
            "-2147483649",
            "007",
            "+1",
            "-0",
            " 1",
            "1.0",
            "",
        ] {
            let mut form = vec![raw.len() as u8];
            form.extend_from_slice(raw.as_bytes());
            assert_eq!(encoded(raw.as_bytes(), true), form, "{raw:?}");
        }
    }

    // LZF is used only when on, for strings over 20 bytes, when it saves
    // at least 4 bytes.
    #[test]
    fn lzf_choice() {
        let long = vec![b'a'; 100];
        assert_eq!(encoded(&long, true)[0], 0xc3);
        assert_eq!(encoded(&long, false)[..2], [0x40, 100]);
        let short = vec![b'a'; 20];
        assert_eq!(encoded(&short, true)[0], 20);
        let noise: Vec<u8> = (0u32..200)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        assert_eq!(encoded(&noise, true)[..2], [0x40, 200]);
    }

    // A dump written in slices into reused buffers reads back whole, with
    // a verified checksum, and the reader stops right after it.
    #[test]
    fn sliced_writes_round_trip() {
        let mut writer = RdbWriter::new(true, true);
        let mut file = Vec::new();
        let mut slice = Vec::new();
        writer.header(&mut slice, &[("redis-ver", b"7.0.15")]);
        writer.aux_int(&mut slice, "redis-bits", 64);
        file.append(&mut slice);
        writer.select_db(&mut slice, 3, 2, 1);
        writer.entry(&mut slice, b"k", &Value::String(b"v".to_vec()), None);
        file.append(&mut slice);
        let long = vec![b'x'; 1000];
        writer.entry(&mut slice, b"12", &Value::String(long.clone()), Some(-5));
        file.append(&mut slice);
        assert_eq!(writer.written_bytes(), file.len() as u64);
        let checksum = writer.finish(&mut slice);
        file.append(&mut slice);
        assert_eq!(checksum, crc64(&file[..file.len() - 8]));
        let dump_len = file.len() as u64;
        file.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");

        let mut reader = RdbReader::new(&file[..]).unwrap();
        let mut all = Vec::new();
        while let Some(event) = reader.next_event().unwrap() {
            all.push(event);
        }
        assert_eq!(reader.offset(), dump_len);
        let expected = vec![
            RdbEvent::Aux {
                key: b"redis-ver".to_vec(),
                value: b"7.0.15".to_vec(),
            },
            RdbEvent::Aux {
                key: b"redis-bits".to_vec(),
                value: b"64".to_vec(),
            },
            RdbEvent::SelectDb { index: 3 },
            RdbEvent::ResizeDb {
                keys: 2,
                expires: 1,
            },
            string_entry(b"k", b"v", None),
            string_entry(b"12", &long, Some(-5)),
            RdbEvent::End {
                checksum: Checksum::Verified(checksum),
            },
        ];
        assert_eq!(all, expected);
    }

    // `rdbchecksum no` writes zeros, which the reader accepts unchecked.
    #[test]
    fn checksum_disabled_and_not_verified() {
        let mut writer = RdbWriter::new(false, false);
        let mut file = Vec::new();
        writer.header(&mut file, &[]);
        assert_eq!(writer.finish(&mut file), 0);
        assert_eq!(file, b"REDIS0010\xff\0\0\0\0\0\0\0\0");
        let end = events(&file).unwrap();
        assert_eq!(
            end,
            vec![RdbEvent::End {
                checksum: Checksum::Disabled
            }]
        );

        let mut bad = framed(&[]);
        bad[11] ^= 1;
        let mut reader = RdbReader::new(&bad[..]).unwrap();
        reader.set_verify_checksum(false);
        let event = reader.next_event().unwrap();
        assert!(matches!(
            event,
            Some(RdbEvent::End {
                checksum: Checksum::NotVerified(_)
            })
        ));
        assert_eq!(reader.next_event().unwrap(), None);
    }

    // Headers: wrong magic, non-digit or unknown versions are refused at
    // their offset; old versions without a checksum are read.
    #[test]
    fn header_errors_and_old_versions() {
        assert_eq!(error_of(b"RAVEN0010\xff").kind, RdbErrorKind::BadMagic);
        let e = error_of(b"REDIS0011\xff");
        assert_eq!(
            (e.offset, e.kind.clone()),
            (5, RdbErrorKind::UnsupportedVersion(11))
        );
        assert!(
            e.to_string().contains("can't handle RDB format version 11"),
            "{e}"
        );
        assert_eq!(
            error_of(b"REDIS0000\xff").kind,
            RdbErrorKind::UnsupportedVersion(0)
        );
        assert!(matches!(
            error_of(b"REDIS 010\xff").kind,
            RdbErrorKind::BadVersion(_)
        ));
        assert_eq!(error_of(b"REDIS").kind, RdbErrorKind::UnexpectedEof);
        let old = events(b"REDIS0004\x00\x01k\x01v\xff").unwrap();
        assert_eq!(
            old,
            vec![
                string_entry(b"k", b"v", None),
                RdbEvent::End {
                    checksum: Checksum::Absent
                }
            ]
        );
    }

    // Every proper prefix of a dump is an unexpected EOF at its end.
    #[test]
    fn every_truncation_is_unexpected_eof() {
        let dump = framed(b"\xfe\x00\xfb\x01\x00\x00\x01k\x01v");
        for len in 9..dump.len() {
            let e = error_of(&dump[..len]);
            assert_eq!(e.kind, RdbErrorKind::UnexpectedEof, "prefix {len}");
            assert_eq!(e.offset, len as u64);
            assert!(e.to_string().starts_with("Unexpected EOF reading RDB file"));
        }
    }

    // A flipped bit is caught by the checksum, which names both values and
    // says "RDB CRC error", Redis's words (the suite looks for them).
    #[test]
    fn bad_checksum_is_refused() {
        let mut dump = framed(b"\x00\x01k\x01v");
        dump[13] = b'w';
        let e = error_of(&dump);
        assert_eq!(e.offset, dump.len() as u64 - 8);
        assert!(matches!(e.kind, RdbErrorKind::BadChecksum { .. }));
        assert!(
            e.to_string()
                .starts_with("RDB CRC error (wrong RDB checksum: expected 0x"),
            "{e}"
        );
    }

    // A huge length is refused without allocating it, with or without a
    // source that knows its size.
    #[test]
    fn huge_lengths_do_not_allocate() {
        let mut body = vec![0x00, 0x81];
        body.extend_from_slice(&(1u64 << 60).to_be_bytes());
        let dump = framed(&body);
        let e = error_of(&dump);
        assert!(
            matches!(e.kind, RdbErrorKind::ImplausibleLength { length, .. } if length == 1 << 60),
            "{e}"
        );
        assert_eq!(e.offset, 10);

        struct Trickle<'a>(&'a [u8]);
        impl ByteSource for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(3);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = RdbReader::new(Trickle(&dump)).unwrap();
        let e = reader.next_event().unwrap_err();
        assert_eq!(e.kind, RdbErrorKind::UnexpectedEof);
        assert_eq!(e.offset, dump.len() as u64);
    }

    // LZF strings decode; a bad original length or corrupt data is refused.
    #[test]
    fn lzf_errors() {
        let text = vec![b'z'; 40];
        let compressed = lzf::compress(&text).unwrap();
        let lzf_entry = |original: u8| {
            let mut body = vec![0x00, 0x01, b'k', 0xc3, compressed.len() as u8, original];
            body.extend_from_slice(&compressed);
            framed(&body)
        };
        let good = events(&lzf_entry(40)).unwrap();
        assert_eq!(good[0], string_entry(b"k", &text, None));
        for wrong in [39, 41] {
            let e = error_of(&lzf_entry(wrong));
            assert!(matches!(e.kind, RdbErrorKind::Lzf(_)), "{e}");
            assert_eq!(e.offset, 12);
        }
        let e = error_of(&framed(b"\x00\x01k\xc3\x02\x3f\xe0\xff"));
        assert!(matches!(e.kind, RdbErrorKind::Lzf(_)), "{e}");
        let e = error_of(&framed(b"\x00\x01k\xc3\x01\x40\x64\x05"));
        assert!(
            matches!(e.kind, RdbErrorKind::ImplausibleLength { .. }),
            "{e}"
        );
        let e = error_of(&framed(b"\x00\x01k\xc3\x00\x00"));
        assert!(matches!(e.kind, RdbErrorKind::Lzf(_)), "{e}");
    }

    // Metadata Redis may write is skipped; seconds expiries are converted.
    #[test]
    fn idle_freq_and_second_expiries() {
        let body = b"\xf8\x05\xf9\x07\x00\x01a\x01b\xfd\x10\x00\x00\x00\xf9\x01\x00\x01c\x01d";
        let all = events(&framed(body)).unwrap();
        assert_eq!(all[0], string_entry(b"a", b"b", None));
        assert_eq!(all[1], string_entry(b"c", b"d", Some(16_000)));
    }

    // What this server cannot hold is refused by name and offset.
    #[test]
    fn unsupported_content_is_refused() {
        let e = error_of(&framed(b"\x00\x01k\x01v\x0f\x06stream\x01\x00"));
        assert_eq!(e.offset, 14);
        assert_eq!(
            e.kind,
            RdbErrorKind::UnsupportedType {
                rdb_type: 15,
                key: b"stream".to_vec()
            }
        );
        let text = e.to_string();
        assert!(
            text.contains("unsupported value type 15 for key 'stream'")
                && text.contains("a stream"),
            "{text}"
        );
        // A quicklist with no element is an empty key, which loading
        // skips as Redis does; a node that is no listpack is corrupt.
        let read = events(&framed(b"\x12\x06mylist\x00")).expect("an empty key reads");
        assert_eq!(
            read[0],
            RdbEvent::EmptyKey {
                key: b"mylist".to_vec()
            }
        );
        let e = error_of(&framed(b"\x12\x06mylist\x01\x02\x03abc"));
        assert!(
            e.to_string()
                .contains("corrupt value for key 'mylist': quicklist node"),
            "{e}"
        );
        let e = error_of(&framed(b"\x0f\x03a\x00b\x01"));
        assert!(e.to_string().contains("key 'a\\x00b'"), "{e}");
        assert_eq!(
            error_of(&framed(b"\x08")).kind,
            RdbErrorKind::UnknownType(8)
        );
        assert_eq!(
            error_of(&framed(b"\x30")).kind,
            RdbErrorKind::UnknownType(0x30)
        );
        // A FUNCTION2 record reads as its library's code; the pre-GA
        // form is refused.
        assert_eq!(
            events(&framed(b"\xf5\x03abc")).expect("a library reads")[0],
            RdbEvent::Function {
                code: b"abc".to_vec()
            }
        );
        assert_eq!(
            error_of(&framed(b"\xf6\x00")).kind,
            RdbErrorKind::FunctionsUnsupported
        );
        assert_eq!(
            error_of(&framed(b"\xf7\x00")).kind,
            RdbErrorKind::ModuleAuxUnsupported
        );
        let e = error_of(&framed(b"\xfc\x00\x00\x00\x00\x00\x00\x00\x00\xfe\x00"));
        assert_eq!((e.offset, e.kind), (18, RdbErrorKind::DanglingExpire));
        let e = error_of(&framed(b"\x00\x01k\xc5"));
        assert_eq!(e.kind, RdbErrorKind::UnknownStringEncoding(5));
        let e = error_of(&framed(b"\xfe\xc0\x01"));
        assert!(matches!(e.kind, RdbErrorKind::EncodedLength { .. }), "{e}");
        let e = error_of(&framed(b"\xfe\x82"));
        assert_eq!(e.kind, RdbErrorKind::UnknownLengthEncoding(0x82));

        let dump = framed(b"\x08\x00\x01k\x01v");
        let mut reader = RdbReader::new(&dump[..]).unwrap();
        let first = reader.next_event().unwrap_err();
        assert_eq!(reader.next_event().unwrap_err(), first);
    }

    /// A one-file disk whose reads are short and whose third read is
    /// interrupted.
    struct OneFileDisk {
        data: Vec<u8>,
        reads: u32,
    }

    impl Disk for OneFileDisk {
        fn open(&mut self, _: &str, _: crate::env::OpenMode) -> io::Result<FileId> {
            Ok(1)
        }
        fn write(&mut self, _: FileId, _: &[u8]) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
        fn read_at(&mut self, _: FileId, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            if self.reads == 3 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let rest = self.data.get(offset as usize..).unwrap_or_default();
            let n = rest.len().min(buf.len()).min(7);
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
        fn size(&mut self, _: FileId) -> io::Result<u64> {
            Ok(self.data.len() as u64)
        }
        fn truncate(&mut self, _: FileId, _: u64) -> io::Result<()> {
            Ok(())
        }
        fn fsync(&mut self, _: FileId) -> io::Result<()> {
            Ok(())
        }
        fn fsync_background(&mut self, _: FileId, _: crate::env::DiskOpId) -> io::Result<()> {
            Ok(())
        }
        fn close_file(&mut self, _: FileId) -> io::Result<()> {
            Ok(())
        }
        fn rename(&mut self, _: &str, _: &str) -> io::Result<()> {
            Ok(())
        }
        fn remove(&mut self, _: &str) -> io::Result<()> {
            Ok(())
        }
        fn list(&mut self, _: &str) -> io::Result<Vec<String>> {
            Ok(Vec::new())
        }
        fn create_dir(&mut self, _: &str) -> io::Result<()> {
            Ok(())
        }
        fn fsync_dir(&mut self, _: &str) -> io::Result<()> {
            Ok(())
        }
        fn free_space(&mut self, _: &str) -> io::Result<u64> {
            Ok(u64::MAX)
        }
    }

    // A dump inside a file, after other bytes, reads through Disk::read_at
    // despite short and interrupted reads; a huge length is refused at once
    // because the disk knows the file's size.
    #[test]
    fn disk_source_reads_from_an_offset() {
        let dump = framed(b"\x00\x03key\x05value");
        let mut data = b"junk".to_vec();
        data.extend_from_slice(&dump);
        let mut disk = OneFileDisk { data, reads: 0 };
        let mut reader = RdbReader::new(DiskSource::new(&mut disk, 1, 4)).unwrap();
        let entry = reader.next_event().unwrap().unwrap();
        assert_eq!(entry, string_entry(b"key", b"value", None));
        let end = reader.next_event().unwrap().unwrap();
        assert!(matches!(
            end,
            RdbEvent::End {
                checksum: Checksum::Verified(_)
            }
        ));
        assert_eq!(reader.offset(), dump.len() as u64);

        let mut body = vec![0x00, 0x80];
        body.extend_from_slice(&(100_000u32).to_be_bytes());
        let mut disk = OneFileDisk {
            data: framed(&body),
            reads: 0,
        };
        let mut reader = RdbReader::new(DiskSource::new(&mut disk, 1, 0)).unwrap();
        let e = reader.next_event().unwrap_err();
        assert!(
            matches!(
                e.kind,
                RdbErrorKind::ImplausibleLength {
                    length: 100_000,
                    ..
                }
            ),
            "{e}"
        );
    }

    // ---------------------------------------------------------------------
    // Encodings of Redis 6.2 and earlier: zipmap, ziplist, quicklist of
    // ziplists.

    /// Bytes from hex digits, spaces ignored.
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    /// A dump holding one key of `rdb_type` whose value is `blob` as an
    /// RDB string (uncompressed).
    fn blob_dump(rdb_type: u8, key: &[u8], blob: &[u8]) -> Vec<u8> {
        let mut body = vec![rdb_type];
        put_string(&mut body, key, None);
        put_string(&mut body, blob, None);
        framed(&body)
    }

    /// The value of the dump's only key.
    fn only_value(dump: &[u8]) -> Value {
        match events(dump).unwrap().remove(0) {
            RdbEvent::Entry(entry) => entry.value,
            other => panic!("not an entry: {other:?}"),
        }
    }

    fn list_elements(value: &Value) -> Vec<Vec<u8>> {
        let Value::List(list) = value else {
            panic!("not a list: {value:?}");
        };
        list.iter().map(|entry| entry.to_vec()).collect()
    }

    fn hash_pairs(value: &Value) -> (Vec<Pair>, &'static str) {
        let Value::Hash(hash) = value else {
            panic!("not a hash: {value:?}");
        };
        let mut pairs: Vec<_> = hash
            .iter()
            .map(|(field, value)| (field.to_vec(), value.to_vec()))
            .collect();
        pairs.sort();
        (pairs, hash.encoding())
    }

    fn zset_elements(value: &Value) -> (Vec<(Vec<u8>, f64)>, &'static str) {
        let Value::ZSet(zset) = value else {
            panic!("not a sorted set: {value:?}");
        };
        let elements = zset.iter().map(|(m, s)| (m.to_vec(), s)).collect();
        (elements, zset.encoding())
    }

    fn owned(texts: &[&str]) -> Vec<Vec<u8>> {
        texts.iter().map(|t| t.as_bytes().to_vec()).collect()
    }

    fn corrupt_detail(dump: &[u8]) -> String {
        match error_of(dump).kind {
            RdbErrorKind::CorruptValue { detail, .. } => detail,
            other => panic!("not a corrupt value: {other:?}"),
        }
    }

    /// "a", 7, -7: a string, a 4-bit immediate and an int8, written out.
    const SMALL_LIST_ZIPLIST: &str = "13000000 0f000000 0300 00 01 61  03 f8  02 fe f9  ff";

    // Type 10, a list as one ziplist, from hand-written bytes (including
    // the RDB string's length byte).
    #[test]
    fn list_ziplist_loads() {
        let mut body = b"\x0a\x05zlist\x13".to_vec();
        body.extend_from_slice(&hex(SMALL_LIST_ZIPLIST));
        let value = only_value(&framed(&body));
        assert_eq!(list_elements(&value), owned(&["a", "7", "-7"]));

        // A long one is split into nodes as list-max-listpack-size says.
        let elements: Vec<String> = (0..2000).map(|i| format!("element {i}")).collect();
        let refs: Vec<&[u8]> = elements.iter().map(|e| e.as_bytes()).collect();
        let value = only_value(&blob_dump(10, b"k", &ziplist::encode::ziplist(&refs)));
        assert_eq!(list_elements(&value), refs);
        let Value::List(list) = value else {
            unreachable!()
        };
        assert!(list.nodes().count() > 1);

        let empty = ziplist::encode::ziplist(&[]);
        assert_eq!(empty_key(&blob_dump(10, b"k", &empty)), b"k");
        let mut broken = hex(SMALL_LIST_ZIPLIST);
        broken[13] = 0x02;
        let e = error_of(&blob_dump(10, b"k", &broken));
        assert_eq!(
            e.to_string(),
            "corrupt value for key 'k': list ziplist: entry at offset 13 records a previous \
             entry of 2 bytes, not 3 (at byte offset 9)"
        );
    }

    // Type 14, a quicklist of ziplist nodes: one hand-written, one
    // LZF-compressed by the RDB string encoding, one empty (dropped).
    #[test]
    fn ziplist_quicklist_loads() {
        let long = "x".repeat(300);
        let second: [&[u8]; 4] = [long.as_bytes(), b"-70000", b"12", b"last"];
        let second_bytes = ziplist::encode::ziplist(&second);
        let compressed = lzf::compress(&second_bytes).unwrap();
        let mut body = b"\x0e\x05qlist\x03\x13".to_vec();
        body.extend_from_slice(&hex(SMALL_LIST_ZIPLIST));
        body.push(0xc3);
        put_len(&mut body, compressed.len() as u64);
        put_len(&mut body, second_bytes.len() as u64);
        body.extend_from_slice(&compressed);
        body.push(0x0b);
        body.extend_from_slice(&ziplist::encode::ziplist(&[]));
        let value = only_value(&framed(&body));
        let mut expected = owned(&["a", "7", "-7"]);
        expected.extend(second.iter().map(|e| e.to_vec()));
        assert_eq!(list_elements(&value), expected);
        let Value::List(list) = &value else {
            unreachable!()
        };
        assert_eq!(list.nodes().count(), 2);
        // Integers become listpack integers, as Redis converts them.
        let first_node = list.nodes().next().unwrap();
        assert_eq!(first_node.get(1).unwrap().as_i64(), Some(7));

        let only_empty = [
            b"\x0e\x01k\x01\x0b".as_slice(),
            &ziplist::encode::ziplist(&[]),
        ]
        .concat();
        assert_eq!(empty_key(&framed(&only_empty)), b"k");
        let detail = corrupt_detail(&framed(b"\x0e\x01k\x01\x00"));
        assert_eq!(detail, "quicklist ziplist node: only 0 bytes");
    }

    /// Field "name" = "redis", field "n" = 7, written out.
    const SMALL_HASH_ZIPLIST: &str =
        "1d000000 1a000000 0400 00 04 6e616d65  06 05 7265646973  07 01 6e  03 f8  ff";

    // Type 13, a hash as a ziplist.
    #[test]
    fn hash_ziplist_loads() {
        let mut body = b"\x0d\x05zhash\x1d".to_vec();
        body.extend_from_slice(&hex(SMALL_HASH_ZIPLIST));
        let (pairs, encoding) = hash_pairs(&only_value(&framed(&body)));
        let expected = vec![
            (b"n".to_vec(), b"7".to_vec()),
            (b"name".to_vec(), b"redis".to_vec()),
        ];
        assert_eq!((pairs, encoding), (expected, "listpack"));

        // Past hash-max-listpack-entries (512) it becomes a table.
        let texts: Vec<String> = (0..1200).map(|i| format!("f{i}")).collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let dump = blob_dump(13, b"k", &ziplist::encode::ziplist(&refs));
        let (pairs, encoding) = hash_pairs(&only_value(&dump));
        assert_eq!((pairs.len(), encoding), (600, "hashtable"));

        let duplicate = ziplist::encode::ziplist(&[b"f", b"1", b"f", b"2"]);
        assert_eq!(
            corrupt_detail(&blob_dump(13, b"k", &duplicate)),
            "duplicate hash field"
        );
        let odd = ziplist::encode::ziplist(&[b"f", b"1", b"g"]);
        assert_eq!(
            corrupt_detail(&blob_dump(13, b"k", &odd)),
            "hash ziplist with an odd count"
        );
        let empty = ziplist::encode::ziplist(&[]);
        assert_eq!(empty_key(&blob_dump(13, b"k", &empty)), b"k");
    }

    // Type 9, a hash as a zipmap, with free bytes after a value.
    #[test]
    fn hash_zipmap_loads() {
        let zipmap = b"\x02\x03foo\x03\x00bar\x05hello\x05\x02world!!\xff";
        let mut body = b"\x09\x05zhash".to_vec();
        body.push(zipmap.len() as u8);
        body.extend_from_slice(zipmap);
        let (pairs, encoding) = hash_pairs(&only_value(&framed(&body)));
        let expected = vec![
            (b"foo".to_vec(), b"bar".to_vec()),
            (b"hello".to_vec(), b"world".to_vec()),
        ];
        assert_eq!((pairs, encoding), (expected, "listpack"));

        let duplicate = b"\x02\x01f\x01\x00a\x01f\x01\x00b\xff";
        assert_eq!(
            corrupt_detail(&blob_dump(9, b"k", duplicate)),
            "duplicate hash field"
        );
        let detail = corrupt_detail(&blob_dump(9, b"k", b"\x00\xff"));
        assert_eq!(detail, "hash zipmap: empty zipmap");
    }

    /// Members a = 1, b = "2.5", c = "-inf", written out, out of order:
    /// Redis would keep that order, this reader sorts.
    const SMALL_ZSET_ZIPLIST: &str = "21000000 1a000000 0600 00 01 61  03 f2  02 01 62  \
                                      03 03 322e35  05 01 63  03 04 2d696e66  ff";

    // Type 12, a sorted set as a ziplist, scores as text or integers.
    #[test]
    fn zset_ziplist_loads() {
        let mut body = b"\x0c\x05zzset\x21".to_vec();
        body.extend_from_slice(&hex(SMALL_ZSET_ZIPLIST));
        let (elements, encoding) = zset_elements(&only_value(&framed(&body)));
        let expected = vec![
            (b"c".to_vec(), f64::NEG_INFINITY),
            (b"a".to_vec(), 1.0),
            (b"b".to_vec(), 2.5),
        ];
        assert_eq!((elements, encoding), (expected, "listpack"));

        // Past zset-max-listpack-entries it becomes a skip list.
        let texts: Vec<String> = (0..300)
            .map(|i| {
                if i % 2 == 0 {
                    format!("m{i}")
                } else {
                    format!("{}", i * 3)
                }
            })
            .collect();
        let refs: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let dump = blob_dump(12, b"k", &ziplist::encode::ziplist(&refs));
        let (elements, encoding) = zset_elements(&only_value(&dump));
        assert_eq!((elements.len(), encoding), (150, "skiplist"));
        assert_eq!(elements[149], (b"m298".to_vec(), 897.0));

        let cases: [(&[&[u8]], &str); 4] = [
            (&[b"m", b"x"], "unreadable score"),
            (&[b"m", b"1", b"m", b"2"], "duplicate sorted set member"),
            (&[b"m", b"nan"], "sorted set with a NaN score"),
            (&[b"m"], "sorted set ziplist with an odd count"),
        ];
        for (entries, detail) in cases {
            let dump = blob_dump(12, b"k", &ziplist::encode::ziplist(entries));
            assert_eq!(corrupt_detail(&dump), detail);
        }
    }
}
