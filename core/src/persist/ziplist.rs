//! Readers for Redis's two retired compact encodings: the ziplist (lists,
//! hashes and sorted sets, and quicklist nodes, up to Redis 6.2) and the
//! zipmap (hashes up to Redis 2.4). Redis 7.0 writes neither, but still loads
//! both from old dumps and old `DUMP` payloads, so this server must as well.
//! Nothing here writes them.
//!
//! Both decoders take untrusted bytes, check every one of them, never panic,
//! and return the elements as byte strings (integers as their decimal text).
//!
//! # Ziplist
//!
//! All multi-byte numbers are little-endian unless said otherwise.
//!
//! ```text
//! zlbytes:u32 zltail:u32 zllen:u16 entry* 0xFF
//! ```
//!
//! `zlbytes` is the whole length, `zltail` the offset of the last entry's
//! first byte (10 when there is none), `zllen` the entry count, or 65535
//! when the count is too big to say. Each entry is `prevlen encoding data`:
//!
//! - `prevlen`: the previous entry's total size (0 for the first), as one
//!   byte when below 254, else `0xFE` and a u32. Redis sometimes keeps the
//!   5-byte form for a small size, so both forms are accepted for any size.
//! - `encoding`, by its first byte:
//!   - `00llllll`: a string of up to 63 bytes;
//!   - `01llllll llllllll`: a string of up to 16383 bytes (big-endian);
//!   - `10xxxxxx` and a big-endian u32: a longer string (the low six bits
//!     are unused; like Redis, they are ignored);
//!   - `0xC0` i16, `0xD0` i32, `0xE0` i64, `0xF0` a signed 24-bit integer,
//!     `0xFE` i8, each followed by its bytes;
//!   - `0xF1`..=`0xFD`: the integer 0..=12 itself (low four bits minus 1),
//!     with no data;
//!   - anything else is invalid (`0xFF` ends the ziplist where an entry
//!     would start).
//!
//! # Zipmap
//!
//! ```text
//! zmlen:u8 (field_length field value_length free:u8 value free_bytes)* 0xFF
//! ```
//!
//! `zmlen` is the pair count, or 254 when the count is too big to say. A
//! length is one byte below 254, else `0xFE` and a u32. `free` counts unused
//! bytes after the value, left by an update in place; they are skipped.

use std::fmt;

/// Bytes of a ziplist's header: zlbytes, zltail and zllen.
const ZIPLIST_HEADER_BYTES: usize = 10;
/// The byte that ends a ziplist or a zipmap.
const END: u8 = 0xFF;
/// A `prevlen` first byte saying a u32 follows.
const PREVLEN_WIDE: u8 = 0xFE;
/// A `zllen` meaning the count must be found by walking the entries.
const ZIPLIST_COUNT_UNKNOWN: u16 = u16::MAX;

/// Integer entry encodings: the first byte of the entry's encoding field.
const INT16: u8 = 0xC0;
const INT32: u8 = 0xD0;
const INT64: u8 = 0xE0;
const INT24: u8 = 0xF0;
const INT8: u8 = 0xFE;
/// Immediate integers: the value plus one sits in the low four bits.
const IMMEDIATE_MIN: u8 = 0xF1;
const IMMEDIATE_MAX: u8 = 0xFD;

/// A zipmap length first byte saying a u32 follows.
const ZIPMAP_LENGTH_WIDE: u8 = 0xFE;
/// A `zmlen` meaning the count must be found by walking the pairs.
const ZIPMAP_COUNT_UNKNOWN: u8 = 0xFE;

/// A field and its value.
pub type Pair = (Vec<u8>, Vec<u8>);

/// Why bytes are not a valid ziplist or zipmap. Offsets count from the
/// first byte of the blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the smallest valid blob (11 for a ziplist, 2 for a
    /// zipmap).
    TooShort { length: usize },
    /// The ziplist's `zlbytes` differs from its real length.
    ByteCountMismatch { header: u32, actual: usize },
    /// The last byte is not `0xFF`.
    MissingEnd,
    /// The ziplist's `zltail` is past the end byte, or is not where the last
    /// entry starts.
    BadTail { tail: u32 },
    /// The header's count differs from the number of entries (or pairs).
    CountMismatch { header: u16, found: usize },
    /// A byte that is no valid entry encoding (or, in a zipmap, `0xFF`
    /// where a value's length belongs).
    BadEncoding { offset: usize, byte: u8 },
    /// The entry (or zipmap pair) starting at `offset` reaches the end byte
    /// or past it.
    Overrun { offset: usize },
    /// An entry's `prevlen` differs from the previous entry's real size.
    PrevlenMismatch {
        offset: usize,
        recorded: u32,
        actual: usize,
    },
    /// An `0xFF` where an entry should start, before the last byte: Redis
    /// would stop there and ignore the rest, which it never writes.
    EarlyEnd { offset: usize },
    /// A zipmap with no pair (Redis refuses it too).
    EmptyZipmap,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeError::*;
        match self {
            TooShort { length } => write!(f, "only {length} bytes"),
            ByteCountMismatch { header, actual } => {
                write!(f, "header says {header} bytes, {actual} found")
            }
            MissingEnd => write!(f, "the last byte is not 0xff"),
            BadTail { tail } => write!(f, "tail offset {tail} is not the last entry"),
            CountMismatch { header, found } => {
                write!(f, "header says {header} entries, {found} found")
            }
            BadEncoding { offset, byte } => {
                write!(f, "invalid encoding byte {byte:#04x} at offset {offset}")
            }
            Overrun { offset } => write!(f, "entry at offset {offset} runs past the end"),
            PrevlenMismatch {
                offset,
                recorded,
                actual,
            } => write!(
                f,
                "entry at offset {offset} records a previous entry of {recorded} bytes, \
                 not {actual}"
            ),
            EarlyEnd { offset } => write!(f, "end byte at offset {offset} before the last byte"),
            EmptyZipmap => write!(f, "empty zipmap"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The entries of a ziplist, in order, strings as their bytes and integers
/// as their decimal text. An empty ziplist gives no entries.
///
/// Every check Redis 7.0's loader makes is made: `zlbytes` equals the
/// length, the last byte is `0xFF`, every entry has a known encoding and
/// ends before the last byte, every `prevlen` equals the previous entry's
/// size (0 for the first), `zltail` is where the last entry starts, and
/// `zllen` equals the count unless it is 65535. One more: an `0xFF` where an
/// entry would start must be the last byte ([`DecodeError::EarlyEnd`]).
pub fn decode_ziplist(bytes: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
    let header = ZiplistHeader::parse(bytes)?;
    let mut cursor = Cursor::new(&bytes[..bytes.len() - 1], ZIPLIST_HEADER_BYTES);
    let mut entries = Vec::new();
    let mut last_start = None;
    let mut previous_size = 0;
    while let Some(start) = cursor.next_item()? {
        let recorded = read_prevlen(&mut cursor)?;
        let value = read_value(&mut cursor)?;
        check_prevlen(start, recorded, previous_size)?;
        previous_size = cursor.position - start;
        last_start = Some(start);
        entries.push(value);
    }
    header.check(last_start, entries.len())?;
    Ok(entries)
}

/// The field, value pairs of a zipmap, in order.
///
/// Checks, as Redis 7.0's loader does: at least 2 bytes, the last `0xFF`,
/// every length within the bytes, at least one pair, and `zmlen` equal to
/// the pair count unless it is 254. Stricter than Redis in two corners it
/// never writes: an `0xFF` where a field would start must be the last byte,
/// and `0xFF` is no value length.
pub fn decode_zipmap(bytes: &[u8]) -> Result<Vec<Pair>, DecodeError> {
    let Some((&END, body)) = bytes.split_last() else {
        return Err(match bytes.len() {
            length @ 0..=1 => DecodeError::TooShort { length },
            _ => DecodeError::MissingEnd,
        });
    };
    let Some(&header) = body.first() else {
        return Err(DecodeError::TooShort { length: 1 });
    };
    let mut cursor = Cursor::new(body, 1);
    let mut pairs = Vec::new();
    while cursor.next_item()?.is_some() {
        let field = read_zipmap_length(&mut cursor).and_then(|len| cursor.take(len))?;
        let value_length = read_zipmap_length(&mut cursor)?;
        let free = cursor.byte()?;
        let value = cursor.take(value_length)?;
        cursor.take(usize::from(free))?;
        pairs.push((field.to_vec(), value.to_vec()));
    }
    if pairs.is_empty() {
        return Err(DecodeError::EmptyZipmap);
    }
    if header != ZIPMAP_COUNT_UNKNOWN && usize::from(header) != pairs.len() {
        let header = u16::from(header);
        let found = pairs.len();
        return Err(DecodeError::CountMismatch { header, found });
    }
    Ok(pairs)
}

/// The header fields checked before the walk, and checked against it after.
struct ZiplistHeader {
    tail: u32,
    count: u16,
}

impl ZiplistHeader {
    /// Checks the length, `zlbytes`, the end byte and that `zltail` is
    /// within the blob.
    fn parse(bytes: &[u8]) -> Result<Self, DecodeError> {
        let length = bytes.len();
        if length <= ZIPLIST_HEADER_BYTES {
            return Err(DecodeError::TooShort { length });
        }
        let header = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if u64::from(header) != length as u64 {
            let actual = length;
            return Err(DecodeError::ByteCountMismatch { header, actual });
        }
        if bytes[length - 1] != END {
            return Err(DecodeError::MissingEnd);
        }
        let tail = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        if u64::from(tail) >= length as u64 {
            return Err(DecodeError::BadTail { tail });
        }
        let count = u16::from_le_bytes([bytes[8], bytes[9]]);
        Ok(ZiplistHeader { tail, count })
    }

    /// Checks `zltail` against where the last entry started (when there is
    /// one) and `zllen` against the count.
    fn check(&self, last_start: Option<usize>, found: usize) -> Result<(), DecodeError> {
        if last_start.is_some_and(|start| start as u64 != u64::from(self.tail)) {
            return Err(DecodeError::BadTail { tail: self.tail });
        }
        if self.count != ZIPLIST_COUNT_UNKNOWN && usize::from(self.count) != found {
            let header = self.count;
            return Err(DecodeError::CountMismatch { header, found });
        }
        Ok(())
    }
}

/// Reads forward through a blob without its end byte, never past it.
struct Cursor<'a> {
    /// The blob up to, not including, its last byte.
    body: &'a [u8],
    position: usize,
    /// Where the entry (or pair) being read starts, for errors.
    item_start: usize,
}

impl<'a> Cursor<'a> {
    fn new(body: &'a [u8], position: usize) -> Self {
        Cursor {
            body,
            position,
            item_start: position,
        }
    }

    /// Starts the next item and returns its offset, or `None` at the end
    /// byte. An `0xFF` before the end byte is [`DecodeError::EarlyEnd`].
    fn next_item(&mut self) -> Result<Option<usize>, DecodeError> {
        match self.body.get(self.position) {
            None => Ok(None),
            Some(&END) => Err(DecodeError::EarlyEnd {
                offset: self.position,
            }),
            Some(_) => {
                self.item_start = self.position;
                Ok(Some(self.position))
            }
        }
    }

    /// The next `count` bytes; running into the end byte is an overrun of
    /// the current item.
    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .position
            .checked_add(count)
            .filter(|&end| end <= self.body.len())
            .ok_or(DecodeError::Overrun {
                offset: self.item_start,
            })?;
        let taken = &self.body[self.position..end];
        self.position = end;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A u32 length as a `usize`; one that does not fit could never be
    /// within the blob, so it is an overrun.
    fn fit(&self, length: u32) -> Result<usize, DecodeError> {
        usize::try_from(length).map_err(|_| DecodeError::Overrun {
            offset: self.item_start,
        })
    }
}

/// The entry at `offset` must record the size of the one before it.
fn check_prevlen(offset: usize, recorded: u32, actual: usize) -> Result<(), DecodeError> {
    if u64::from(recorded) == actual as u64 {
        return Ok(());
    }
    Err(DecodeError::PrevlenMismatch {
        offset,
        recorded,
        actual,
    })
}

/// A ziplist entry's `prevlen`: one byte, or `0xFE` and a u32.
fn read_prevlen(cursor: &mut Cursor) -> Result<u32, DecodeError> {
    match cursor.byte()? {
        PREVLEN_WIDE => Ok(u32::from_le_bytes(cursor.array()?)),
        small => Ok(u32::from(small)),
    }
}

/// A ziplist entry's encoding and data, as bytes (integers as text).
fn read_value(cursor: &mut Cursor) -> Result<Vec<u8>, DecodeError> {
    let offset = cursor.position;
    let encoding = cursor.byte()?;
    let length = match encoding >> 6 {
        0 => usize::from(encoding & 0x3F),
        1 => (usize::from(encoding & 0x3F) << 8) | usize::from(cursor.byte()?),
        2 => {
            let length = u32::from_be_bytes(cursor.array()?);
            cursor.fit(length)?
        }
        _ => return read_integer(cursor, offset, encoding).map(|n| n.to_string().into_bytes()),
    };
    Ok(cursor.take(length)?.to_vec())
}

/// The integer after an encoding byte from `0xC0` on, read at `offset`.
fn read_integer(cursor: &mut Cursor, offset: usize, encoding: u8) -> Result<i64, DecodeError> {
    let value = match encoding {
        INT8 => i64::from(i8::from_le_bytes(cursor.array()?)),
        INT16 => i64::from(i16::from_le_bytes(cursor.array()?)),
        INT24 => {
            let [low, middle, high] = cursor.array()?;
            // Placed in the top three bytes, the sign bit lands on the
            // i32's; the arithmetic shift brings it back down.
            i64::from(i32::from_le_bytes([0, low, middle, high]) >> 8)
        }
        INT32 => i64::from(i32::from_le_bytes(cursor.array()?)),
        INT64 => i64::from_le_bytes(cursor.array()?),
        IMMEDIATE_MIN..=IMMEDIATE_MAX => i64::from(encoding & 0x0F) - 1,
        byte => return Err(DecodeError::BadEncoding { offset, byte }),
    };
    Ok(value)
}

/// A zipmap length: one byte below 254, or `0xFE` and a u32.
fn read_zipmap_length(cursor: &mut Cursor) -> Result<usize, DecodeError> {
    let offset = cursor.position;
    match cursor.byte()? {
        ZIPMAP_LENGTH_WIDE => {
            let length = u32::from_le_bytes(cursor.array()?);
            cursor.fit(length)
        }
        END => Err(DecodeError::BadEncoding { offset, byte: END }),
        small => Ok(usize::from(small)),
    }
}

/// Encoders for tests: ziplists and zipmaps in the forms Redis writes.
#[cfg(test)]
pub(crate) mod encode {
    /// A ziplist of `entries`, each stored as Redis would choose: the
    /// smallest integer encoding when it is a canonical integer of at most
    /// 32 characters, else the shortest string form.
    pub(crate) fn ziplist(entries: &[&[u8]]) -> Vec<u8> {
        let mut bytes = vec![0; super::ZIPLIST_HEADER_BYTES];
        let mut previous_size = 0usize;
        let mut tail = super::ZIPLIST_HEADER_BYTES;
        for entry in entries {
            tail = bytes.len();
            if previous_size < 254 {
                bytes.push(previous_size as u8);
            } else {
                bytes.push(super::PREVLEN_WIDE);
                bytes.extend_from_slice(&(previous_size as u32).to_le_bytes());
            }
            push_value(&mut bytes, entry);
            previous_size = bytes.len() - tail;
        }
        bytes.push(super::END);
        let total = bytes.len() as u32;
        bytes[..4].copy_from_slice(&total.to_le_bytes());
        bytes[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
        let count = u16::try_from(entries.len()).unwrap_or(u16::MAX);
        bytes[8..10].copy_from_slice(&count.to_le_bytes());
        bytes
    }

    /// An entry's encoding and data.
    fn push_value(bytes: &mut Vec<u8>, entry: &[u8]) {
        if let Some(n) = canonical_integer(entry) {
            push_integer(bytes, n);
        } else if entry.len() <= 0x3F {
            bytes.push(entry.len() as u8);
            bytes.extend_from_slice(entry);
        } else if entry.len() <= 0x3FFF {
            bytes.extend_from_slice(&[0x40 | (entry.len() >> 8) as u8, entry.len() as u8]);
            bytes.extend_from_slice(entry);
        } else {
            bytes.push(0x80);
            bytes.extend_from_slice(&(entry.len() as u32).to_be_bytes());
            bytes.extend_from_slice(entry);
        }
    }

    fn canonical_integer(entry: &[u8]) -> Option<i64> {
        if entry.is_empty() || entry.len() > 32 {
            return None;
        }
        let n: i64 = std::str::from_utf8(entry).ok()?.parse().ok()?;
        (n.to_string().as_bytes() == entry).then_some(n)
    }

    fn push_integer(bytes: &mut Vec<u8>, n: i64) {
        const INT24_RANGE: std::ops::RangeInclusive<i64> = -(1 << 23)..=(1 << 23) - 1;
        if (0..=12).contains(&n) {
            bytes.push(super::IMMEDIATE_MIN + n as u8);
        } else if let Ok(n) = i8::try_from(n) {
            bytes.push(super::INT8);
            bytes.extend_from_slice(&n.to_le_bytes());
        } else if let Ok(n) = i16::try_from(n) {
            bytes.push(super::INT16);
            bytes.extend_from_slice(&n.to_le_bytes());
        } else if INT24_RANGE.contains(&n) {
            bytes.push(super::INT24);
            bytes.extend_from_slice(&(n as i32).to_le_bytes()[..3]);
        } else if let Ok(n) = i32::try_from(n) {
            bytes.push(super::INT32);
            bytes.extend_from_slice(&n.to_le_bytes());
        } else {
            bytes.push(super::INT64);
            bytes.extend_from_slice(&n.to_le_bytes());
        }
    }

    /// A zipmap of `pairs` with no free bytes.
    pub(crate) fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut bytes = vec![pairs.len().min(254) as u8];
        for (field, value) in pairs {
            push_zipmap_length(&mut bytes, field.len());
            bytes.extend_from_slice(field);
            push_zipmap_length(&mut bytes, value.len());
            bytes.push(0);
            bytes.extend_from_slice(value);
        }
        bytes.push(super::END);
        bytes
    }

    fn push_zipmap_length(bytes: &mut Vec<u8>, length: usize) {
        if length < 254 {
            bytes.push(length as u8);
        } else {
            bytes.push(super::ZIPMAP_LENGTH_WIDE);
            bytes.extend_from_slice(&(length as u32).to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Bytes from hex digits, spaces ignored.
    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn texts(entries: &[&str]) -> Vec<Vec<u8>> {
        entries.iter().map(|e| e.as_bytes().to_vec()).collect()
    }

    // The two-entry ziplist of small integers, byte by byte.
    #[test]
    fn two_immediates() {
        let bytes = hex("0f000000 0c000000 0200 00f3 02f6 ff");
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&["2", "5"]));
        assert_eq!(encode::ziplist(&[b"2", b"5"]), bytes);
    }

    #[test]
    fn empty_ziplist() {
        let bytes = hex("0b000000 0a000000 0000 ff");
        assert_eq!(decode_ziplist(&bytes).unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(encode::ziplist(&[]), bytes);
    }

    /// A ziplist of `body` (its entries' bytes) with a correct total, the
    /// given tail offset and count, and the end byte.
    fn with_header(body: &[u8], tail: usize, count: u16) -> Vec<u8> {
        let total = (ZIPLIST_HEADER_BYTES + body.len() + 1) as u32;
        let mut bytes = total.to_le_bytes().to_vec();
        bytes.extend_from_slice(&(tail as u32).to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes.push(END);
        bytes
    }

    // Every integer encoding, at its bounds, written out by hand: prevlen,
    // encoding byte, little-endian data.
    #[test]
    fn every_integer_encoding() {
        let entries = [
            ("00 f1", "0"),
            ("02 fd", "12"),
            ("02 fe 0d", "13"),
            ("03 fe 80", "-128"),
            ("03 c0 8000", "128"),
            ("04 c0 0080", "-32768"),
            ("04 f0 ffff7f", "8388607"),
            ("05 f0 000080", "-8388608"),
            ("05 d0 00008000", "8388608"),
            ("06 d0 00000080", "-2147483648"),
            ("06 e0 0000008000000000", "2147483648"),
            ("0a e0 0000000000000080", "-9223372036854775808"),
            ("0a e0 ffffffffffffff7f", "9223372036854775807"),
        ];
        let mut body = Vec::new();
        let mut tail = 0;
        for (entry, _) in entries {
            tail = ZIPLIST_HEADER_BYTES + body.len();
            body.extend_from_slice(&hex(entry));
        }
        let bytes = with_header(&body, tail, entries.len() as u16);
        let values: Vec<&str> = entries.iter().map(|(_, value)| *value).collect();
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&values));
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_bytes()).collect();
        assert_eq!(encode::ziplist(&refs), bytes);
    }

    // The three string forms, and non-canonical ones Redis accepts: a
    // short string in the 14-bit form, unused bits set in the 32-bit form.
    #[test]
    fn every_string_encoding() {
        let sixty_three = "a".repeat(63);
        let sixty_four = "b".repeat(64);
        let mut body = hex("00 3f");
        body.extend_from_slice(sixty_three.as_bytes());
        body.extend_from_slice(&hex("41 4040"));
        body.extend_from_slice(sixty_four.as_bytes());
        body.extend_from_slice(&hex("43 4002"));
        body.extend_from_slice(b"hi");
        let tail = ZIPLIST_HEADER_BYTES + body.len();
        body.extend_from_slice(&hex("05 bf00000003"));
        body.extend_from_slice(b"xyz");
        let bytes = with_header(&body, tail, 4);
        let expected = texts(&[&sixty_three, &sixty_four, "hi", "xyz"]);
        assert_eq!(decode_ziplist(&bytes).unwrap(), expected);
        // A long string in the canonical 32-bit form.
        let long = "c".repeat(16384);
        let bytes = encode::ziplist(&[long.as_bytes()]);
        assert_eq!(bytes[10..16], hex("00 80 00004000"));
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&[&long]));
    }

    // An entry of 253 bytes keeps the next prevlen in one byte; one of 254
    // needs 0xFE and a u32; the wide form holding a small size is valid.
    #[test]
    fn prevlen_boundary() {
        // prevlen, two length bytes and 250 bytes: 253.
        let short = "s".repeat(250);
        let bytes = encode::ziplist(&[short.as_bytes(), b"x"]);
        assert_eq!(bytes[10 + 253..10 + 256], hex("fd 01 78"));
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&[&short, "x"]));
        // And 251 bytes: 254.
        let long = "l".repeat(251);
        let bytes = encode::ziplist(&[long.as_bytes(), b"x", b"y"]);
        assert_eq!(bytes[10 + 254..10 + 261], hex("fe fe000000 01 78"));
        // The entry after it records its 7 bytes.
        assert_eq!(bytes[10 + 261..10 + 264], hex("07 01 79"));
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&[&long, "x", "y"]));
        // Redis may keep the wide form for a small size after an update.
        let bytes = hex("15000000 0d000000 0200 00 01 61 fe03000000 01 62 ff");
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&["a", "b"]));
        let mut wrong = bytes.clone();
        wrong[14] = 4;
        assert_eq!(
            decode_ziplist(&wrong),
            Err(DecodeError::PrevlenMismatch {
                offset: 13,
                recorded: 4,
                actual: 3
            })
        );
    }

    // A count of 65535 means "walk to count"; any true count is accepted.
    #[test]
    fn unknown_count() {
        let mut bytes = encode::ziplist(&[b"a", b"b"]);
        bytes[8..10].copy_from_slice(&hex("ffff"));
        assert_eq!(decode_ziplist(&bytes).unwrap(), texts(&["a", "b"]));
    }

    #[test]
    fn header_errors() {
        let good = encode::ziplist(&[b"a", b"bc"]);
        assert_eq!(decode_ziplist(&good).unwrap(), texts(&["a", "bc"]));
        for length in 0..=10 {
            assert_eq!(
                decode_ziplist(&good[..length]),
                Err(DecodeError::TooShort { length })
            );
        }
        let mut bytes = good.clone();
        bytes[0] += 1;
        assert_eq!(
            decode_ziplist(&bytes),
            Err(DecodeError::ByteCountMismatch {
                header: good.len() as u32 + 1,
                actual: good.len()
            })
        );
        let mut bytes = good.clone();
        *bytes.last_mut().unwrap() = 0xFE;
        assert_eq!(decode_ziplist(&bytes), Err(DecodeError::MissingEnd));
        let tail = u32::from_le_bytes(good[4..8].try_into().unwrap());
        for wrong in [tail - 1, tail + 1, good.len() as u32 - 1, u32::MAX] {
            let mut bytes = good.clone();
            bytes[4..8].copy_from_slice(&wrong.to_le_bytes());
            assert_eq!(
                decode_ziplist(&bytes),
                Err(DecodeError::BadTail { tail: wrong })
            );
        }
        for wrong in [0u16, 1, 3, 65534] {
            let mut bytes = good.clone();
            bytes[8..10].copy_from_slice(&wrong.to_le_bytes());
            assert_eq!(
                decode_ziplist(&bytes),
                Err(DecodeError::CountMismatch {
                    header: wrong,
                    found: 2
                })
            );
        }
    }

    #[test]
    fn entry_errors() {
        // Entries: "a" at 10, "bc" at 13; end byte at 17.
        let good = encode::ziplist(&[b"a", b"bc"]);
        let with = |offset: usize, byte: u8| {
            let mut bytes = good.clone();
            bytes[offset] = byte;
            decode_ziplist(&bytes)
        };
        for byte in [0xC1, 0xCF, 0xD8, 0xE1, 0xEF, 0xFF] {
            let expected = DecodeError::BadEncoding { offset: 14, byte };
            assert_eq!(with(14, byte), Err(expected), "{byte:#x}");
        }
        assert_eq!(
            with(13, 2),
            Err(DecodeError::PrevlenMismatch {
                offset: 13,
                recorded: 2,
                actual: 3
            })
        );
        assert_eq!(
            with(10, 1),
            Err(DecodeError::PrevlenMismatch {
                offset: 10,
                recorded: 1,
                actual: 0
            })
        );
        // A string longer than what is left, in each length form.
        assert_eq!(with(14, 0x03), Err(DecodeError::Overrun { offset: 13 }));
        assert_eq!(with(14, 0x41), Err(DecodeError::Overrun { offset: 13 }));
        assert_eq!(with(14, 0x80), Err(DecodeError::Overrun { offset: 13 }));
        // An integer whose bytes would include the end byte.
        assert_eq!(with(14, INT64), Err(DecodeError::Overrun { offset: 13 }));
        // A wide prevlen cut by the end byte.
        assert_eq!(with(13, 0xFE), Err(DecodeError::Overrun { offset: 13 }));
        // The end byte before the last byte.
        assert_eq!(with(13, END), Err(DecodeError::EarlyEnd { offset: 13 }));
    }

    // Every proper prefix with its header fixed up is refused, never read
    // as a shorter list.
    #[test]
    fn truncations_are_refused() {
        let entries: [&[u8]; 4] = [b"first", b"-70000", &[b'z'; 300], b"7"];
        let good = encode::ziplist(&entries);
        for length in ZIPLIST_HEADER_BYTES + 1..good.len() - 1 {
            let mut bytes = good[..length].to_vec();
            bytes.push(END);
            let total = bytes.len() as u32;
            bytes[..4].copy_from_slice(&total.to_le_bytes());
            assert!(decode_ziplist(&bytes).is_err(), "length {length}");
        }
    }

    #[test]
    fn zipmap_by_hand() {
        let bytes = b"\x02\x03foo\x03\x00bar\x05hello\x05\x00world\xff";
        let pairs = decode_zipmap(bytes).unwrap();
        assert_eq!(
            pairs,
            vec![
                (b"foo".to_vec(), b"bar".to_vec()),
                (b"hello".to_vec(), b"world".to_vec())
            ]
        );
        assert_eq!(
            encode::zipmap(&[(b"foo", b"bar"), (b"hello", b"world")]),
            bytes
        );
        // Free bytes after a value are skipped; a count of 254 means unknown.
        let bytes = b"\xfe\x01k\x02\x03vvXYZ\x01j\x00\x00\xff";
        assert_eq!(
            decode_zipmap(bytes).unwrap(),
            vec![(b"k".to_vec(), b"vv".to_vec()), (b"j".to_vec(), Vec::new())]
        );
        // A 5-byte length.
        let field = vec![b'f'; 300];
        let bytes = encode::zipmap(&[(&field, b"v")]);
        assert_eq!(bytes[..6], hex("01 fe 2c010000"));
        assert_eq!(decode_zipmap(&bytes).unwrap(), vec![(field, b"v".to_vec())]);
    }

    #[test]
    fn zipmap_errors() {
        assert_eq!(decode_zipmap(b""), Err(DecodeError::TooShort { length: 0 }));
        assert_eq!(
            decode_zipmap(b"\xff"),
            Err(DecodeError::TooShort { length: 1 })
        );
        assert_eq!(decode_zipmap(b"\x00\xff"), Err(DecodeError::EmptyZipmap));
        assert_eq!(
            decode_zipmap(b"\x01\x01k\x01\x00v"),
            Err(DecodeError::MissingEnd)
        );
        assert_eq!(
            decode_zipmap(b"\x02\x01k\x01\x00v\xff"),
            Err(DecodeError::CountMismatch {
                header: 2,
                found: 1
            })
        );
        let overruns: [&[u8]; 5] = [
            b"\x01\x02k\xff",
            b"\x01\x01k\xff",
            b"\x01\x01k\x02\x00v\xff",
            b"\x01\x01k\x01\x01v\xff",
            b"\x01\xfe\x01\x00\x00\xff",
        ];
        for bytes in overruns {
            assert_eq!(
                decode_zipmap(bytes),
                Err(DecodeError::Overrun { offset: 1 }),
                "{bytes:?}"
            );
        }
        assert_eq!(
            decode_zipmap(b"\x01\x01k\xff\x00\x00\x00\x00\x00\xff"),
            Err(DecodeError::BadEncoding {
                offset: 3,
                byte: END
            })
        );
        assert_eq!(
            decode_zipmap(b"\x01\x01k\x01\x00v\xff\xff"),
            Err(DecodeError::EarlyEnd { offset: 6 })
        );
    }

    /// An entry: text that may be a canonical integer, or any bytes.
    fn entry_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string().into_bytes()),
            (-20i64..300).prop_map(|n| n.to_string().into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..80),
            proptest::collection::vec(any::<u8>(), 250..300),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn ziplist_round_trips(entries in proptest::collection::vec(entry_strategy(), 0..20)) {
            let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            prop_assert_eq!(decode_ziplist(&encode::ziplist(&refs)).unwrap(), entries);
        }

        #[test]
        fn zipmap_round_trips(pairs in proptest::collection::vec((entry_strategy(), entry_strategy()), 1..10)) {
            let refs: Vec<(&[u8], &[u8])> =
                pairs.iter().map(|(f, v)| (f.as_slice(), v.as_slice())).collect();
            prop_assert_eq!(decode_zipmap(&encode::zipmap(&refs)).unwrap(), pairs);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_ziplist(&bytes);
            let _ = decode_zipmap(&bytes);
        }

        // Random entries behind a header whose total is right, so the walk
        // always runs.
        #[test]
        fn random_bodies_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..64),
            tail in 0usize..80,
            count in any::<u16>(),
        ) {
            let bytes = with_header(&body, tail, count);
            let _ = decode_ziplist(&bytes);
            let _ = decode_zipmap(&body);
        }

        // Valid blobs with bytes overwritten, inserted or removed, and the
        // header's total fixed up half the time so the walk is reached.
        #[test]
        fn mutations_never_panic(
            entries in proptest::collection::vec(entry_strategy(), 1..8),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..4),
            fix_total in any::<bool>(),
        ) {
            let refs: Vec<&[u8]> = entries.iter().map(Vec::as_slice).collect();
            let pairs: Vec<(&[u8], &[u8])> = refs.chunks(2).map(|c| (c[0], c[c.len() - 1])).collect();
            for mut bytes in [encode::ziplist(&refs), encode::zipmap(&pairs)] {
                for (index, byte, action) in &edits {
                    let at = index.index(bytes.len());
                    match action {
                        0 => bytes[at] = *byte,
                        1 => bytes.insert(at, *byte),
                        _ => { bytes.remove(at); }
                    }
                    if bytes.is_empty() {
                        break;
                    }
                }
                if fix_total && bytes.len() >= 4 {
                    let total = bytes.len() as u32;
                    bytes[..4].copy_from_slice(&total.to_le_bytes());
                }
                let _ = decode_ziplist(&bytes);
                let _ = decode_zipmap(&bytes);
            }
        }
    }
}
