//! [`Listpack`]: Redis 7.0's listpack, byte for byte.
//!
//! A listpack is the compact encoding Redis gives small lists (one per
//! quicklist node), hashes and sorted sets, and it is written into RDB files
//! exactly as it sits in memory. So the bytes built here are the bytes Redis
//! builds, and the bytes Redis writes are read back here unchanged.
//!
//! # Layout
//!
//! ```text
//! total bytes: u32 LE | element count: u16 LE | entry ... | 0xFF
//! entry = encoding and payload | backlen
//! ```
//!
//! The element count saturates: from 65535 elements on the header holds
//! 65535 ([`COUNT_UNKNOWN`]), meaning "walk the entries to count them".
//!
//! An entry's first byte says how it is stored:
//!
//! | first byte  | meaning                                           | size  |
//! |-------------|---------------------------------------------------|-------|
//! | `0xxxxxxx`  | integer 0..=127 in the low 7 bits                 | 1     |
//! | `10llllll`  | string of up to 63 bytes, length in the low bits  | 1+n   |
//! | `110xxxxx`  | 13-bit signed integer, high bits here, low next   | 2     |
//! | `1110llll`  | string of up to 4095 bytes, length 12 bits        | 2+n   |
//! | `0xF0`      | string, length in the next 4 bytes LE             | 5+n   |
//! | `0xF1`      | i16 LE                                            | 3     |
//! | `0xF2`      | 24-bit signed LE                                  | 4     |
//! | `0xF3`      | i32 LE                                            | 5     |
//! | `0xF4`      | i64 LE                                            | 9     |
//! | `0xFF`      | end of the listpack, not an entry                 | 1     |
//!
//! A value a client sends is stored as an integer when its text is the
//! canonical decimal of an i64 ([`parse_canonical_i64`]), in the smallest
//! of the integer forms that holds it; otherwise as a string in the smallest
//! string form.
//!
//! The backlen after each entry is the size of the encoding and payload,
//! written so it can be read from its last byte backwards: 7 bits a byte,
//! most significant group first, every byte but the first with its high bit
//! set. It takes 1 byte up to 127, 2 bytes below 16383, 3 below 2097151, 4
//! below 268435455, 5 beyond (the limits are Redis's, 16383 itself takes 3).
//! Backlens are what make reverse iteration ([`Iter::next_back`]) possible.

use std::fmt;
use std::iter::FusedIterator;

/// Bytes before the first entry: the u32 total size and the u16 count.
pub const HEADER_BYTES: usize = 6;

/// The byte that ends every listpack.
pub const END: u8 = 0xFF;

/// The header count meaning "too many to say": the true count is at least
/// this and is found by walking the entries.
pub const COUNT_UNKNOWN: u16 = u16::MAX;

/// Redis lets no listpack grow past 1 GiB (its LISTPACK_MAX_SAFETY_SIZE);
/// see [`Listpack::safe_to_add`].
pub const SAFETY_BYTES_MAX: usize = 1 << 30;
/// Listpacks up to this size grow by exactly what they need.
const EXACT_GROWTH_BYTES_MAX: usize = 1024;

/// The size field of the header is a u32, so no listpack can be larger.
const TOTAL_BYTES_MAX: usize = u32::MAX as usize;

/// An empty listpack: 7 bytes in total, no elements, the end byte.
const EMPTY: [u8; 7] = [7, 0, 0, 0, 0, 0, END];

/// Entry tags whose whole first byte is the tag.
const STR32: u8 = 0xF0;
const INT16: u8 = 0xF1;
const INT24: u8 = 0xF2;
const INT32: u8 = 0xF3;
const INT64: u8 = 0xF4;

/// Entry tags that keep data in their low bits.
const STR6: u8 = 0x80;
const INT13: u8 = 0xC0;
const STR12: u8 = 0xE0;

/// Longest string each short string form holds.
const STR6_LEN_MAX: usize = 63;
const STR12_LEN_MAX: usize = 4095;

/// Most bytes a backlen takes.
const BACKLEN_BYTES_MAX: usize = 5;

/// A listpack, owning its bytes, which are always a valid listpack.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Listpack {
    bytes: Vec<u8>,
}

/// One element of a listpack, borrowed from it.
///
/// Which variant an element is depends only on how it was stored: a value
/// inserted from a client's bytes is an `Int` exactly when those bytes were
/// the canonical decimal of an i64. A listpack read from a file may hold
/// such text as `Bytes` too; both compare equal to the same client bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

/// The decimal text of an i64, on the stack (at most 20 bytes).
#[derive(Clone, Copy)]
pub struct IntText {
    digits: [u8; 20],
    start: usize,
}

impl IntText {
    /// Formats `value` as Redis does: optional '-', no leading zeros.
    pub fn new(value: i64) -> Self {
        let mut digits = [0; 20];
        let mut start = digits.len();
        let mut rest = value.unsigned_abs();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        if value < 0 {
            start -= 1;
            digits[start] = b'-';
        }
        IntText { digits, start }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[self.start..]
    }
}

impl Default for IntText {
    fn default() -> Self {
        IntText::new(0)
    }
}

impl fmt::Debug for IntText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Parses `text` as an i64 only if it is the number's canonical decimal
/// form, the rule Redis's string2ll applies: an optional '-', then digits
/// with no leading zero (except "0" itself), nothing else, in range. So
/// "-0", "007", "+1", " 1" and "9223372036854775808" are not integers.
/// Such text is exactly what formatting the number gives back, so storing
/// the number instead of the text loses nothing.
pub fn parse_canonical_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    match digits {
        [] => return None,
        [b'0'] if !negative => return Some(0),
        [b'0', ..] => return None,
        _ => {}
    }
    let mut magnitude: u64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        magnitude = magnitude
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(magnitude)
    } else {
        i64::try_from(magnitude).ok()
    }
}

impl<'a> Entry<'a> {
    /// The element as a client sees it: integers as decimal text.
    pub fn to_vec(&self) -> Vec<u8> {
        match *self {
            Entry::Int(value) => IntText::new(value).as_bytes().to_vec(),
            Entry::Bytes(bytes) => bytes.to_vec(),
        }
    }

    /// The element's text, using `buf` for the digits of an integer (like
    /// Redis's lpGet with a buffer): no allocation either way.
    pub fn as_bytes<'b>(&self, buf: &'b mut IntText) -> &'b [u8]
    where
        'a: 'b,
    {
        match *self {
            Entry::Int(value) => {
                *buf = IntText::new(value);
                buf.as_bytes()
            }
            Entry::Bytes(bytes) => bytes,
        }
    }

    /// Whether the element equals a client's bytes: an integer equals its
    /// canonical decimal text and nothing else.
    pub fn eq_bytes(&self, text: &[u8]) -> bool {
        match *self {
            Entry::Int(value) => parse_canonical_i64(text) == Some(value),
            Entry::Bytes(bytes) => bytes == text,
        }
    }

    /// The element as an i64: an integer entry, or string text that is a
    /// canonical integer ([`parse_canonical_i64`]). None otherwise.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Entry::Int(value) => Some(value),
            Entry::Bytes(bytes) => parse_canonical_i64(bytes),
        }
    }

    /// Length of the element's text (of its decimal form for an integer).
    pub fn text_len(&self) -> usize {
        match *self {
            Entry::Int(value) => IntText::new(value).as_bytes().len(),
            Entry::Bytes(bytes) => bytes.len(),
        }
    }
}

/// A client's value prepared for comparing against many entries: the
/// integer it stands for is parsed once.
struct Needle<'v> {
    text: &'v [u8],
    int: Option<i64>,
}

impl<'v> Needle<'v> {
    fn new(text: &'v [u8]) -> Self {
        Needle {
            text,
            int: parse_canonical_i64(text),
        }
    }

    fn matches(&self, entry: Entry<'_>) -> bool {
        match entry {
            Entry::Int(value) => self.int == Some(value),
            Entry::Bytes(bytes) => bytes == self.text,
        }
    }
}

impl Listpack {
    /// An empty listpack (`07 00 00 00 00 00 FF`).
    pub fn new() -> Self {
        Listpack {
            bytes: EMPTY.to_vec(),
        }
    }

    /// Takes bytes from an untrusted source (an RDB file, RESTORE) after
    /// checking all of them: the header total equals the length; the last
    /// byte is 0xFF; every entry before it has a known encoding, ends before
    /// the last byte and is followed by the backlen of its size in the form
    /// Redis writes; the header count equals the number of entries unless it
    /// is [`COUNT_UNKNOWN`]. Never panics; the error says what is wrong.
    ///
    /// This is stricter than Redis in two corners Redis never produces: a
    /// 0xFF where an entry should start before the last byte (Redis stops
    /// there and ignores the rest), and a backlen in a non-canonical form.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Listpack, &'static str> {
        validate(&bytes)?;
        Ok(Listpack { bytes })
    }

    /// The listpack's bytes, as Redis would write them to an RDB file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Size in bytes, header and end byte included.
    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    /// The count the header holds ([`COUNT_UNKNOWN`] from 65535 on).
    pub fn header_count(&self) -> u16 {
        u16::from_le_bytes([self.bytes[4], self.bytes[5]])
    }

    /// Number of elements; walks the entries when the header says
    /// [`COUNT_UNKNOWN`].
    pub fn len(&self) -> usize {
        match self.header_count() {
            COUNT_UNKNOWN => self.iter().count(),
            count => usize::from(count),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bytes[HEADER_BYTES] == END
    }

    /// Number of elements, writing it into the header if it fits there
    /// again. Redis's lpLength does this as a side effect, so call it where
    /// Redis asks a listpack its length (HLEN, HDEL) to keep the header
    /// bytes what Redis would write.
    pub fn recount(&mut self) -> usize {
        let count = self.len();
        self.set_count(count);
        count
    }

    /// Whether `extra` more bytes keep the listpack within Redis's 1 GiB
    /// safety limit ([`SAFETY_BYTES_MAX`]); past it Redis converts the value
    /// to its big encoding instead of growing the listpack.
    pub fn safe_to_add(&self, extra: usize) -> bool {
        self.bytes.len().saturating_add(extra) <= SAFETY_BYTES_MAX
    }

    /// The elements front to back; `.rev()` walks back to front using the
    /// backlens.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            bytes: &self.bytes,
            front: HEADER_BYTES,
            back: self.end_offset(),
        }
    }

    /// The element at `index` from the front (O(index)).
    pub fn get(&self, index: usize) -> Option<Entry<'_>> {
        self.iter().nth(index)
    }

    pub fn first(&self) -> Option<Entry<'_>> {
        self.iter().next()
    }

    /// The last element, found in O(1) through its backlen.
    pub fn last(&self) -> Option<Entry<'_>> {
        self.iter().next_back()
    }

    /// Index of the first element equal to `value` (see [`Entry::eq_bytes`]).
    pub fn position(&self, value: &[u8]) -> Option<usize> {
        self.position_stride(value, 1)
    }

    /// Index of the first element equal to `value` among those at indexes
    /// 0, `stride`, 2 × `stride`, ...: with a stride of 2 it finds a hash
    /// field or a sorted-set member without matching values or scores.
    ///
    /// # Panics
    ///
    /// If `stride` is 0.
    pub fn position_stride(&self, value: &[u8], stride: usize) -> Option<usize> {
        assert!(stride > 0, "listpack search stride must be positive");
        let needle = Needle::new(value);
        let found = self.iter().step_by(stride).position(|e| needle.matches(e));
        found.map(|i| i * stride)
    }

    /// Appends `value`, encoded as Redis would (see the module docs).
    ///
    /// # Panics
    ///
    /// If the listpack would pass 4 GiB, which its u32 size field cannot
    /// say. Redis stops at 1 GiB: check [`Listpack::safe_to_add`] first.
    pub fn push_back(&mut self, value: &[u8]) {
        self.insert_at(self.end_offset(), value);
    }

    /// Prepends `value`. Panics as [`Listpack::push_back`] does.
    pub fn push_front(&mut self, value: &[u8]) {
        self.insert_at(HEADER_BYTES, value);
    }

    /// Inserts `value` before the element at `index`, or appends it when
    /// `index` is the length. Returns false, changing nothing, when `index`
    /// is past the length. Panics as [`Listpack::push_back`] does.
    pub fn insert(&mut self, index: usize, value: &[u8]) -> bool {
        let Some(offset) = self.offset_of(index) else {
            return false;
        };
        self.insert_at(offset, value);
        true
    }

    /// Replaces the element at `index` with `value`; false if there is no
    /// such element. Panics as [`Listpack::push_back`] does.
    pub fn replace(&mut self, index: usize, value: &[u8]) -> bool {
        let Some(offset) = self.entry_offset(index) else {
            return false;
        };
        let span = entry_span(&self.bytes, offset);
        self.splice(offset, span, &encode_entry(value));
        debug_assert!(decode_valid(&self.bytes, offset).0.eq_bytes(value));
        true
    }

    /// Removes the element at `index`; false if there is no such element.
    /// A header at [`COUNT_UNKNOWN`] stays so, as in Redis (see
    /// [`Listpack::recount`]).
    pub fn remove(&mut self, index: usize) -> bool {
        let Some(offset) = self.entry_offset(index) else {
            return false;
        };
        self.remove_at(offset);
        true
    }

    /// Removes and returns the first element.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let value = self.first()?.to_vec();
        self.remove_at(HEADER_BYTES);
        Some(value)
    }

    /// Removes and returns the last element.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let offset = self.last_offset()?;
        let value = decode_valid(&self.bytes, offset).0.to_vec();
        self.remove_at(offset);
        Some(value)
    }

    /// Removes up to `count` elements from `start` on; returns how many it
    /// removed. Like Redis's range delete, it leaves the header count exact
    /// (or [`COUNT_UNKNOWN`] if still 65535 or more).
    pub fn remove_range(&mut self, start: usize, count: usize) -> usize {
        let Some(first) = self.offset_of(start) else {
            return 0;
        };
        let (past, removed) = self.skip_entries(first, count);
        if removed == 0 {
            return 0;
        }
        let left = match self.header_count() {
            COUNT_UNKNOWN => None,
            known => Some(usize::from(known) - removed),
        };
        self.splice(first, past - first, &[]);
        let left = left.unwrap_or_else(|| self.iter().count());
        self.set_count(left);
        removed
    }

    /// Offset of the end byte.
    fn end_offset(&self) -> usize {
        self.bytes.len() - 1
    }

    /// Offset of the element at `index`, or of the end byte when `index` is
    /// the length; None past that.
    fn offset_of(&self, index: usize) -> Option<usize> {
        let (offset, skipped) = self.skip_entries(HEADER_BYTES, index);
        (skipped == index).then_some(offset)
    }

    /// Offset of the element at `index`; None if there is none.
    fn entry_offset(&self, index: usize) -> Option<usize> {
        self.offset_of(index)
            .filter(|&offset| offset != self.end_offset())
    }

    /// Offset of the last element, found through its backlen.
    fn last_offset(&self) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        let end = self.end_offset();
        let size = read_backlen(&self.bytes, end);
        Some(end - backlen_bytes(size) - size)
    }

    /// Walks up to `count` entries from `offset`; returns where it stopped
    /// and how many it passed.
    fn skip_entries(&self, mut offset: usize, count: usize) -> (usize, usize) {
        let end = self.end_offset();
        let mut skipped = 0;
        while skipped < count && offset < end {
            offset += entry_span(&self.bytes, offset);
            skipped += 1;
        }
        (offset, skipped)
    }

    fn insert_at(&mut self, offset: usize, value: &[u8]) {
        self.splice(offset, 0, &encode_entry(value));
        debug_assert!(decode_valid(&self.bytes, offset).0.eq_bytes(value));
        match self.header_count() {
            COUNT_UNKNOWN => {}
            // Reaching 65535 turns the count into "unknown", as in Redis.
            count => self.write_header_count(count + 1),
        }
    }

    fn remove_at(&mut self, offset: usize) {
        let span = entry_span(&self.bytes, offset);
        self.splice(offset, span, &[]);
        match self.header_count() {
            COUNT_UNKNOWN => {}
            count => self.write_header_count(count - 1),
        }
    }

    /// Gives back the room grown past the bytes held (a list node that
    /// will take no more entries).
    pub fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    /// Replaces `old_len` bytes at `offset` with `new`, then fixes the
    /// header's total.
    fn splice(&mut self, offset: usize, old_len: usize, new: &[u8]) {
        let total = self.bytes.len() - old_len + new.len();
        assert!(total <= TOTAL_BYTES_MAX, "a listpack cannot pass 4 GiB");
        // Small listpacks (a hash, a sorted set, a list node while small)
        // take exactly the room they need, as Redis's realloc does, so a
        // million of them cost no doubled capacity; larger ones grow the
        // usual way and their owner trims them (`shrink_to_fit`).
        if total > self.bytes.capacity() && total <= EXACT_GROWTH_BYTES_MAX {
            self.bytes.reserve_exact(total - self.bytes.len());
        }
        self.bytes
            .splice(offset..offset + old_len, new.iter().copied());
        if self.bytes.capacity() > 2 * total.max(EXACT_GROWTH_BYTES_MAX) {
            self.bytes.shrink_to_fit();
        }
        self.bytes[..4].copy_from_slice(&(total as u32).to_le_bytes());
        self.debug_check();
    }

    /// Writes `count` into the header, saturating at [`COUNT_UNKNOWN`].
    fn set_count(&mut self, count: usize) {
        let saturated = u16::try_from(count).unwrap_or(COUNT_UNKNOWN);
        self.write_header_count(saturated);
    }

    fn write_header_count(&mut self, count: u16) {
        self.bytes[4..HEADER_BYTES].copy_from_slice(&count.to_le_bytes());
    }

    /// The cheap invariants, after every change.
    fn debug_check(&self) {
        debug_assert!(self.bytes.len() >= EMPTY.len());
        debug_assert_eq!(
            read_le(&self.bytes, 0, 4),
            Some(self.bytes.len() as u64),
            "header total must equal the byte length"
        );
        debug_assert_eq!(self.bytes.last(), Some(&END), "must end with 0xFF");
    }
}

impl Default for Listpack {
    fn default() -> Self {
        Listpack::new()
    }
}

impl fmt::Debug for Listpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(
                self.iter()
                    .map(|e| String::from_utf8_lossy(&e.to_vec()).into_owned()),
            )
            .finish()
    }
}

impl<'a> IntoIterator for &'a Listpack {
    type Item = Entry<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over a listpack's elements, from either end.
#[derive(Clone)]
pub struct Iter<'a> {
    bytes: &'a [u8],
    /// Offset of the next entry from the front.
    front: usize,
    /// Offset just past the backlen of the next entry from the back.
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        if self.front >= self.back {
            return None;
        }
        let (entry, size) = decode_valid(self.bytes, self.front);
        self.front += size + backlen_bytes(size);
        debug_assert!(self.front <= self.back, "an entry ran past the back");
        Some(entry)
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let size = read_backlen(self.bytes, self.back);
        self.back -= backlen_bytes(size) + size;
        debug_assert!(self.back >= self.front, "an entry ran past the front");
        let (entry, decoded) = decode_valid(self.bytes, self.back);
        debug_assert_eq!(decoded, size, "backlen must match the entry");
        Some(entry)
    }
}

impl FusedIterator for Iter<'_> {}

/// An entry for `value`: its encoding, payload and backlen.
fn encode_entry(value: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(value.len() + 5 + BACKLEN_BYTES_MAX);
    match parse_canonical_i64(value) {
        Some(int) => encode_int(int, &mut entry),
        None => encode_str(value, &mut entry),
    }
    let (backlen, used) = encode_backlen(entry.len());
    entry.extend_from_slice(&backlen[..used]);
    entry
}

/// The smallest integer form holding `value`.
fn encode_int(value: i64, out: &mut Vec<u8>) {
    let le = value.to_le_bytes();
    match value {
        0..=127 => out.push(value as u8),
        -4096..=4095 => {
            let raw = (value as u16) & 0x1FFF;
            out.extend_from_slice(&[INT13 | (raw >> 8) as u8, raw as u8]);
        }
        -32768..=32767 => tagged(INT16, &le[..2], out),
        -8_388_608..=8_388_607 => tagged(INT24, &le[..3], out),
        -2_147_483_648..=2_147_483_647 => tagged(INT32, &le[..4], out),
        _ => tagged(INT64, &le, out),
    }
}

fn tagged(tag: u8, data: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    out.extend_from_slice(data);
}

/// The smallest string form holding `text`.
fn encode_str(text: &[u8], out: &mut Vec<u8>) {
    let len = text.len();
    if len <= STR6_LEN_MAX {
        out.push(STR6 | len as u8);
    } else if len <= STR12_LEN_MAX {
        out.extend_from_slice(&[STR12 | (len >> 8) as u8, len as u8]);
    } else {
        let len = u32::try_from(len).expect("a listpack cannot pass 4 GiB");
        tagged(STR32, &len.to_le_bytes(), out);
    }
    out.extend_from_slice(text);
}

/// How many bytes the backlen of an entry of `size` bytes takes.
fn backlen_bytes(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    }
}

/// The backlen of an entry of `size` bytes, and how many bytes it uses.
fn encode_backlen(size: usize) -> ([u8; BACKLEN_BYTES_MAX], usize) {
    let used = backlen_bytes(size);
    let mut out = [0; BACKLEN_BYTES_MAX];
    for (i, byte) in out[..used].iter_mut().enumerate() {
        let group = (size >> (7 * (used - 1 - i))) & 0x7F;
        let more = if i == 0 { 0 } else { 0x80 };
        *byte = group as u8 | more;
    }
    (out, used)
}

/// Reads the backlen that ends just before `end`, last byte first. Only for
/// valid listpacks, where every backlen is well formed.
fn read_backlen(bytes: &[u8], end: usize) -> usize {
    let mut size = 0;
    let mut at = end;
    for shift in (0..BACKLEN_BYTES_MAX).map(|i| 7 * i) {
        at -= 1;
        size |= usize::from(bytes[at] & 0x7F) << shift;
        if bytes[at] & 0x80 == 0 {
            break;
        }
    }
    debug_assert_eq!(end - at, backlen_bytes(size), "backlen must be canonical");
    size
}

/// Size of the entry at `offset` with its backlen. Only for valid
/// listpacks.
fn entry_span(bytes: &[u8], offset: usize) -> usize {
    let size = decode_valid(bytes, offset).1;
    size + backlen_bytes(size)
}

/// [`decode`] for an entry already known to be well formed.
fn decode_valid(bytes: &[u8], offset: usize) -> (Entry<'_>, usize) {
    decode(bytes, offset).expect("a listpack's entries were checked on the way in")
}

/// The entry starting at `offset` and its size without the backlen; None
/// if the first byte is no entry encoding (0xFF included) or the entry runs
/// past the end of `bytes`.
fn decode(bytes: &[u8], offset: usize) -> Option<(Entry<'_>, usize)> {
    let tag = *bytes.get(offset)?;
    match tag {
        0x00..=0x7F => Some((Entry::Int(i64::from(tag)), 1)),
        0x80..=0xBF => string_at(bytes, offset, 1, usize::from(tag & 0x3F)),
        0xC0..=0xDF => {
            let low = *bytes.get(offset + 1)?;
            let raw = (u64::from(tag & 0x1F) << 8) | u64::from(low);
            Some((Entry::Int(sign_extend(raw, 13)), 2))
        }
        0xE0..=0xEF => {
            let low = *bytes.get(offset + 1)?;
            let len = (usize::from(tag & 0x0F) << 8) | usize::from(low);
            string_at(bytes, offset, 2, len)
        }
        STR32 => {
            let len = usize::try_from(read_le(bytes, offset + 1, 4)?).ok()?;
            string_at(bytes, offset, 5, len)
        }
        INT16 => int_at(bytes, offset, 2),
        INT24 => int_at(bytes, offset, 3),
        INT32 => int_at(bytes, offset, 4),
        INT64 => int_at(bytes, offset, 8),
        _ => None,
    }
}

/// A string entry at `offset` of `len` bytes after a `header` of tag and
/// length.
fn string_at(bytes: &[u8], offset: usize, header: usize, len: usize) -> Option<(Entry<'_>, usize)> {
    let start = offset + header;
    let text = bytes.get(start..start.checked_add(len)?)?;
    Some((Entry::Bytes(text), header + len))
}

/// An integer entry of `width` little-endian bytes after its tag.
fn int_at(bytes: &[u8], offset: usize, width: usize) -> Option<(Entry<'_>, usize)> {
    let raw = read_le(bytes, offset + 1, width)?;
    Some((Entry::Int(sign_extend(raw, 8 * width as u32)), 1 + width))
}

/// Reads `width` (at most 8) little-endian bytes at `from`.
fn read_le(bytes: &[u8], from: usize, width: usize) -> Option<u64> {
    let data = bytes.get(from..from.checked_add(width)?)?;
    Some(
        data.iter()
            .rev()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)),
    )
}

/// Reads the low `bits` of `raw` as a two's complement number.
fn sign_extend(raw: u64, bits: u32) -> i64 {
    let unused = 64 - bits;
    ((raw << unused) as i64) >> unused
}

/// The checks of [`Listpack::from_bytes`].
fn validate(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() < EMPTY.len() {
        return Err("listpack shorter than its header and end byte");
    }
    if read_le(bytes, 0, 4) != Some(bytes.len() as u64) {
        return Err("listpack header total does not match its length");
    }
    let end = bytes.len() - 1;
    if bytes[end] != END {
        return Err("listpack does not end with 0xFF");
    }
    let count = count_entries_checked(bytes, end)?;
    let header = u16::from_le_bytes([bytes[4], bytes[5]]);
    if header != COUNT_UNKNOWN && usize::from(header) != count {
        return Err("listpack header count does not match its entries");
    }
    Ok(())
}

/// Walks and checks every entry before the end byte at `end`; returns how
/// many there are.
fn count_entries_checked(bytes: &[u8], end: usize) -> Result<usize, &'static str> {
    let mut offset = HEADER_BYTES;
    let mut count = 0;
    while offset < end {
        offset = check_entry(bytes, offset, end)?;
        count += 1;
    }
    Ok(count)
}

/// Checks the entry at `offset`, which must end with its backlen before
/// `end`; returns the offset after it.
fn check_entry(bytes: &[u8], offset: usize, end: usize) -> Result<usize, &'static str> {
    let before_end = &bytes[..end];
    let (_, size) = decode(before_end, offset).ok_or("listpack entry malformed or past the end")?;
    let (backlen, used) = encode_backlen(size);
    let at = offset + size;
    match before_end.get(at..at + used) {
        Some(found) if found == &backlen[..used] => Ok(at + used),
        Some(_) => Err("listpack entry backlen does not match its size"),
        None => Err("listpack entry backlen runs past the end"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn build(values: &[&[u8]]) -> Listpack {
        let mut lp = Listpack::new();
        for value in values {
            lp.push_back(value);
        }
        lp
    }

    /// The bytes of one entry: a listpack holding only it, minus header and
    /// end byte.
    fn entry_bytes(value: &[u8]) -> Vec<u8> {
        let lp = build(&[value]);
        lp.as_bytes()[HEADER_BYTES..lp.byte_len() - 1].to_vec()
    }

    fn values(lp: &Listpack) -> Vec<Vec<u8>> {
        lp.iter().map(|e| e.to_vec()).collect()
    }

    fn assert_valid(lp: &Listpack) {
        let copy = Listpack::from_bytes(lp.as_bytes().to_vec()).expect("valid");
        assert_eq!(&copy, lp);
        let forward = values(lp);
        let mut backward: Vec<_> = lp.iter().rev().map(|e| e.to_vec()).collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(lp.len(), forward.len());
    }

    #[test]
    fn empty_listpack_bytes() {
        let lp = Listpack::new();
        assert_eq!(lp.as_bytes(), hex("07000000 0000 ff"));
        assert_eq!(lp.len(), 0);
        assert!(lp.is_empty());
        assert_eq!(lp.first(), None);
        assert_eq!(lp.last(), None);
        assert_valid(&lp);
    }

    #[test]
    fn integer_encodings() {
        let cases: &[(&[u8], &str)] = &[
            (b"0", "00 01"),
            (b"127", "7f 01"),
            (b"128", "c080 02"),
            (b"-1", "dfff 02"),
            (b"4095", "cfff 02"),
            (b"-4096", "d000 02"),
            (b"4096", "f10010 03"),
            (b"-4097", "f1ffef 03"),
            (b"32767", "f1ff7f 03"),
            (b"-32768", "f10080 03"),
            (b"32768", "f2008000 04"),
            (b"8388607", "f2ffff7f 04"),
            (b"-8388608", "f2000080 04"),
            (b"8388608", "f300008000 05"),
            (b"2147483647", "f3ffffff7f 05"),
            (b"-2147483648", "f300000080 05"),
            (b"2147483648", "f40000008000000000 09"),
            (b"9223372036854775807", "f4ffffffffffffff7f 09"),
            (b"-9223372036854775808", "f40000000000000080 09"),
        ];
        for (value, expected) in cases {
            assert_eq!(entry_bytes(value), hex(expected), "{:?}", value);
            let lp = build(&[value]);
            assert_eq!(lp.first().unwrap().to_vec(), value.to_vec());
            assert!(matches!(lp.first(), Some(Entry::Int(_))));
        }
    }

    #[test]
    fn text_that_is_not_canonical_stays_a_string() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "80 01"),
            (b"-", "812d 02"),
            (b"-0", "822d30 03"),
            (b"007", "83303037 04"),
            (b"+1", "822b31 03"),
            (b" 1", "822031 03"),
            (b"1 ", "823120 03"),
            (
                b"9223372036854775808",
                "9339323233333732303336383534373735383038 14",
            ),
            (
                b"-9223372036854775809",
                "942d39323233333732303336383534373735383039 15",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(entry_bytes(value), hex(expected), "{:?}", value);
            assert!(matches!(build(&[value]).first(), Some(Entry::Bytes(_))));
        }
    }

    #[test]
    fn string_encodings_by_length() {
        let s63 = entry_bytes(&[b'a'; 63]);
        assert_eq!(s63[0], 0xBF);
        assert_eq!(s63.len(), 1 + 63 + 1);
        assert_eq!(s63[64], 64);

        let s64 = entry_bytes(&[b'b'; 64]);
        assert_eq!(s64[..2], [0xE0, 0x40]);
        assert_eq!(s64[66..], [66]);

        let s4095 = entry_bytes(&[b'c'; 4095]);
        assert_eq!(s4095[..2], [0xEF, 0xFF]);

        let s4096 = entry_bytes(&[b'c'; 4096]);
        assert_eq!(s4096[..5], [0xF0, 0x00, 0x10, 0x00, 0x00]);
        // Entry of 4101 bytes: backlen 4101 = 32 << 7 | 5.
        assert_eq!(s4096[5 + 4096..], [0x20, 0x85]);
    }

    #[test]
    fn backlen_sizes_at_their_limits() {
        // (string length, entry size, backlen bytes)
        let cases: &[(usize, &str)] = &[
            (125, "7f"),       // 2 + 125 = 127
            (126, "0180"),     // 128
            (16377, "7ffe"),   // 16382
            (16378, "00ffff"), // 16383 already takes 3 bytes
            (16379, "018080"), // 16384
        ];
        for &(len, expected) in cases {
            let entry = entry_bytes(&vec![b'x'; len]);
            let backlen = hex(expected);
            assert_eq!(entry[entry.len() - backlen.len()..], backlen[..], "{len}");
        }
        assert_eq!(encode_backlen(2_097_150).1, 3);
        assert_eq!(encode_backlen(2_097_151).1, 4);
        assert_eq!(encode_backlen(268_435_455).1, 5);
        let (five, _) = encode_backlen(268_435_455);
        assert_eq!(five, [0x00, 0xFF, 0xFF, 0xFF, 0xFF]);
        let (bytes, used) = encode_backlen(u32::MAX as usize);
        assert_eq!(read_backlen(&bytes[..used], used), u32::MAX as usize);
    }

    #[test]
    fn big_entries_iterate_both_ways() {
        let values: Vec<Vec<u8>> = [125, 126, 16377, 16378, 16379, 70000]
            .iter()
            .map(|&len| vec![b'y'; len])
            .collect();
        let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
        let lp = build(&refs);
        assert_valid(&lp);
        assert_eq!(lp.last().unwrap().to_vec(), values[5]);
    }

    // The expectations below are the listpacks Redis 7.0.15 wrote, taken
    // from its DUMP output (rdbcompression off, list-max-listpack-size -5).

    #[test]
    fn matches_redis_rpush_integers() {
        let lp = build(&[
            b"0",
            b"127",
            b"128",
            b"-1",
            b"4095",
            b"-4096",
            b"4096",
            b"32767",
            b"8388607",
            b"-9223372036854775808",
        ]);
        let redis = "2e0000000a0000017f01c08002dfff02cfff02d00002f1001003f1ff7f03f2ffff7f04\
                     f4000000000000008009ff";
        assert_eq!(lp.as_bytes(), hex(redis));
        assert_valid(&lp);
    }

    #[test]
    fn matches_redis_rpush_strings() {
        let lp = build(&[
            &[b'a'; 63],
            &[b'b'; 64],
            b"007",
            b"+1",
            b" 1",
            b"-0",
            b"9223372036854775808",
            b"12345678901234567890",
            b"-",
            b"",
        ]);
        let redis = concat!(
            "cc0000000a00bf61616161616161616161616161616161616161616161616161",
            "6161616161616161616161616161616161616161616161616161616161616161",
            "61616161616140e0406262626262626262626262626262626262626262626262",
            "6262626262626262626262626262626262626262626262626262626262626262",
            "626262626262626262428330303704822b310382203103822d30039339323233",
            "3337323033363835343737353830381494313233343536373839303132333435",
            "363738393015812d028001ff",
        );
        assert_eq!(lp.as_bytes(), hex(redis));
    }

    #[test]
    fn matches_redis_rpush_wider_integers() {
        let lp = build(&[
            b"-32768",
            b"-32769",
            b"32768",
            b"-8388608",
            b"-8388609",
            b"8388608",
            b"2147483647",
            b"-2147483648",
            b"2147483648",
            b"-2147483649",
            b"9223372036854775807",
            b"-4097",
            b"4096",
        ]);
        let redis = "580000000d00f1008003f2ff7fff04f200800004f200008004f3ffff7fff05\
                     f30000800005f3ffffff7f05f30000008005f4000000800000000009\
                     f4ffffff7fffffffff09f4ffffffffffffff7f09f1ffef03f1001003ff";
        assert_eq!(lp.as_bytes(), hex(redis));
    }

    #[test]
    fn matches_redis_hash_and_sorted_set() {
        let hash = build(&[b"f1", b"v1", b"n", b"123", b"neg", b"-5"]);
        let redis = "1c00000006008266310382763103816e027b01836e656704dffb02ff";
        assert_eq!(hash.as_bytes(), hex(redis));
        // ZADD z 1.5 a 2 b -3 c: members and scores, ordered by score.
        let zset = build(&[b"c", b"-3", b"a", b"1.5", b"b", b"2"]);
        let redis = "1a0000000600816302dffd0281610283312e35048162020201ff";
        assert_eq!(zset.as_bytes(), hex(redis));
    }

    #[test]
    fn matches_redis_after_lpush_linsert_lset() {
        // RPUSH b c; LPUSH a; LINSERT BEFORE c <70 x>; LSET 1 -100.
        let x70 = [b'x'; 70];
        let mut lp = build(&[b"b", b"c"]);
        lp.push_front(b"a");
        let pivot = lp.position(b"c").unwrap();
        assert!(lp.insert(pivot, &x70));
        assert!(lp.replace(1, b"-100"));
        let redis = concat!(
            "590000000400816102df9c02e046787878787878787878787878787878787878",
            "7878787878787878787878787878787878787878787878787878787878787878",
            "787878787878787878787878787878787878787848816302ff",
        );
        assert_eq!(lp.as_bytes(), hex(redis));
    }

    #[test]
    fn matches_redis_count_rule_on_a_big_hash() {
        // HSET hh i v for i in 0..70000 (hash-max-listpack-entries 100000).
        let mut lp = Listpack::new();
        for i in 0..70000 {
            lp.push_back(i.to_string().as_bytes());
            lp.push_back(b"v");
        }
        assert_eq!(lp.byte_len(), 523015);
        assert_eq!(lp.as_bytes()[..8], hex("07fb0700ffff0001")[..]);
        assert_eq!(
            lp.as_bytes()[lp.byte_len() - 8..],
            hex("6f110104817602ff")[..]
        );
        assert_eq!(lp.header_count(), COUNT_UNKNOWN);
        assert_eq!(lp.len(), 140000);
        // HDEL of fields 0..40000: Redis's HDEL asks the length, which
        // writes the exact count back.
        assert_eq!(lp.remove_range(0, 80000), 80000);
        assert_eq!(lp.byte_len(), 240007);
        assert_eq!(lp.as_bytes()[..8], hex("87a9030060eaf240")[..]);
        assert_valid(&lp);
    }

    #[test]
    fn count_saturates_at_65535() {
        let mut lp = Listpack::new();
        for _ in 0..65534 {
            lp.push_back(b"a");
        }
        assert_eq!(lp.header_count(), 65534);
        lp.push_back(b"b");
        assert_eq!(lp.header_count(), COUNT_UNKNOWN);
        assert_eq!(lp.len(), 65535);
        lp.push_front(b"c");
        assert_eq!(lp.header_count(), COUNT_UNKNOWN);
        assert_eq!(lp.len(), 65536);
        assert_valid(&lp);
        // Single removals leave the header unknown, as in Redis ...
        assert!(lp.remove(0));
        assert_eq!(lp.pop_back(), Some(b"b".to_vec()));
        assert_eq!(lp.header_count(), COUNT_UNKNOWN);
        assert_eq!(lp.len(), 65534);
        assert_valid(&lp);
        // ... until someone asks the length.
        assert_eq!(lp.recount(), 65534);
        assert_eq!(lp.header_count(), 65534);
        assert_valid(&lp);
    }

    #[test]
    fn from_bytes_checks_the_count() {
        let mut lp = Listpack::new();
        for _ in 0..65536 {
            lp.push_back(b"1");
        }
        let mut bytes = lp.into_bytes();
        assert!(Listpack::from_bytes(bytes.clone()).is_ok());
        bytes[4..6].copy_from_slice(&65534u16.to_le_bytes());
        assert!(Listpack::from_bytes(bytes.clone()).is_err());
        // Unknown with few entries is fine: Redis leaves such headers.
        let mut small = build(&[b"a", b"b"]).into_bytes();
        small[4..6].copy_from_slice(&[0xFF, 0xFF]);
        let lp = Listpack::from_bytes(small.clone()).unwrap();
        assert_eq!(lp.len(), 2);
        small[4..6].copy_from_slice(&[3, 0]);
        assert!(Listpack::from_bytes(small).is_err());
    }

    #[test]
    fn from_bytes_refuses_bad_input() {
        let good = build(&[b"hello", b"300", &[b'z'; 100]]).into_bytes();
        assert!(Listpack::from_bytes(good.clone()).is_ok());
        for cut in 0..good.len() {
            assert!(Listpack::from_bytes(good[..cut].to_vec()).is_err(), "{cut}");
        }
        let mut no_end = good.clone();
        *no_end.last_mut().unwrap() = 0;
        assert!(Listpack::from_bytes(no_end).is_err());
        let mut bad_backlen = good.clone();
        bad_backlen[HEADER_BYTES + 6] = 5;
        assert!(Listpack::from_bytes(bad_backlen).is_err());
        let mut bad_tag = good.clone();
        bad_tag[HEADER_BYTES] = 0xF5;
        assert!(Listpack::from_bytes(bad_tag).is_err());
        let mut early_end = hex("09000000 0100 00 01 ff");
        early_end[HEADER_BYTES] = END;
        assert!(Listpack::from_bytes(early_end).is_err());
        // A string claiming more bytes than there are.
        assert!(Listpack::from_bytes(hex("0b000000 0100 f0 ffffff ff")).is_err());
        assert!(Listpack::from_bytes(hex("0c000000 0100 f0ffffffff ff")).is_err());
        assert!(Listpack::from_bytes(hex("0c000000 0100 f0ffffff7f ff")).is_err());
        // Non-canonical backlen: 3 bytes saying 2.
        assert!(Listpack::from_bytes(hex("0c000000 0100 8161 008082 ff")).is_err());
        assert!(Listpack::from_bytes(hex("0a000000 0100 8161 02 ff")).is_ok());
    }

    #[test]
    fn from_bytes_accepts_non_minimal_forms() {
        // Redis reads integers stored wider than needed and integer text
        // stored as a string; so do we, and they compare as numbers do.
        let lp =
            Listpack::from_bytes(hex("14000000 0200 f40500000000000000 09 8135 02 ff")).unwrap();
        assert_eq!(lp.get(0), Some(Entry::Int(5)));
        assert_eq!(lp.get(1), Some(Entry::Bytes(b"5")));
        assert_eq!(lp.position(b"5"), Some(0));
        assert_eq!(lp.get(1).unwrap().as_i64(), Some(5));
    }

    #[test]
    fn editing_operations() {
        let mut lp = build(&[b"a", b"b", b"c"]);
        assert!(lp.insert(1, b"10"));
        assert!(lp.insert(4, b"z"));
        assert!(!lp.insert(6, b"nope"));
        assert_eq!(values(&lp), [&b"a"[..], b"10", b"b", b"c", b"z"]);
        assert!(lp.replace(0, &[b'q'; 200]));
        assert!(!lp.replace(5, b"x"));
        assert!(lp.remove(2));
        assert!(!lp.remove(4));
        assert_eq!(lp.get(1), Some(Entry::Int(10)));
        assert_eq!(lp.get(3).map(|e| e.to_vec()), Some(b"z".to_vec()));
        assert_eq!(lp.get(4), None);
        assert_eq!(lp.remove_range(1, 100), 3);
        assert_eq!(lp.len(), 1);
        assert_eq!(lp.remove_range(1, 1), 0);
        assert_eq!(lp.pop_front(), Some(vec![b'q'; 200]));
        assert_eq!(lp.pop_front(), None);
        assert_eq!(lp.as_bytes(), Listpack::new().as_bytes());
    }

    #[test]
    fn search_by_stride() {
        let lp = build(&[b"f", b"1", b"1", b"v", b"g", b"f"]);
        assert_eq!(lp.position(b"1"), Some(1));
        assert_eq!(lp.position_stride(b"1", 2), Some(2));
        assert_eq!(lp.position_stride(b"f", 2), Some(0));
        assert_eq!(lp.position_stride(b"v", 2), None);
        assert_eq!(lp.position(b"01"), None);
    }

    #[test]
    fn entry_helpers() {
        let int = Entry::Int(-42);
        assert!(int.eq_bytes(b"-42"));
        assert!(!int.eq_bytes(b"-042"));
        assert_eq!(int.text_len(), 3);
        let mut buf = IntText::default();
        assert_eq!(int.as_bytes(&mut buf), b"-42");
        assert_eq!(Entry::Bytes(b"x1").as_i64(), None);
        assert_eq!(IntText::new(i64::MIN).as_bytes(), b"-9223372036854775808");
        assert_eq!(IntText::new(0).as_bytes(), b"0");
    }

    #[test]
    fn canonical_integers() {
        assert_eq!(parse_canonical_i64(b"0"), Some(0));
        assert_eq!(parse_canonical_i64(b"-1"), Some(-1));
        assert_eq!(parse_canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        for text in [
            &b""[..],
            b"-",
            b"-0",
            b"00",
            b"01",
            b"+5",
            b"5 ",
            b"1e3",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_canonical_i64(text), None, "{:?}", text);
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        Insert(usize, Vec<u8>),
        Replace(usize, Vec<u8>),
        Remove(usize),
        RemoveRange(usize, usize),
        PopBack,
    }

    fn value_strategy() -> impl Strategy<Value = Vec<u8>> {
        // Lengths at the edges of the string forms and backlen sizes.
        let edges = vec![63, 64, 125, 126, 4095, 4096, 16377, 16378, 16379];
        prop_oneof![
            3 => any::<i64>().prop_map(|v| v.to_string().into_bytes()),
            3 => (-5000i64..5000).prop_map(|v| v.to_string().into_bytes()),
            3 => proptest::collection::vec(any::<u8>(), 0..80),
            1 => proptest::sample::select(edges).prop_map(|n| vec![b'k'; n]),
        ]
    }

    fn op_strategy() -> impl Strategy<Value = Op> {
        prop_oneof![
            value_strategy().prop_map(Op::PushBack),
            value_strategy().prop_map(Op::PushFront),
            (0usize..40, value_strategy()).prop_map(|(i, v)| Op::Insert(i, v)),
            (0usize..40, value_strategy()).prop_map(|(i, v)| Op::Replace(i, v)),
            (0usize..40).prop_map(Op::Remove),
            (0usize..40, 0usize..5).prop_map(|(i, n)| Op::RemoveRange(i, n)),
            Just(Op::PopBack),
        ]
    }

    fn apply(lp: &mut Listpack, model: &mut Vec<Vec<u8>>, op: Op) {
        match op {
            Op::PushBack(v) => {
                lp.push_back(&v);
                model.push(v);
            }
            Op::PushFront(v) => {
                lp.push_front(&v);
                model.insert(0, v);
            }
            Op::Insert(i, v) => {
                assert_eq!(lp.insert(i, &v), i <= model.len());
                if i <= model.len() {
                    model.insert(i, v);
                }
            }
            Op::Replace(i, v) => {
                assert_eq!(lp.replace(i, &v), i < model.len());
                if i < model.len() {
                    model[i] = v;
                }
            }
            Op::Remove(i) => {
                assert_eq!(lp.remove(i), i < model.len());
                if i < model.len() {
                    model.remove(i);
                }
            }
            Op::RemoveRange(i, n) => {
                let expected = model.len().saturating_sub(i).min(n);
                assert_eq!(lp.remove_range(i, n), expected);
                if expected > 0 {
                    model.drain(i..i + expected);
                }
            }
            Op::PopBack => assert_eq!(lp.pop_back(), model.pop()),
        }
    }

    /// Everything a listpack that passed `from_bytes` must allow without
    /// panicking.
    fn exercise(lp: &mut Listpack) {
        let forward = values(lp);
        let mut backward: Vec<_> = lp.iter().rev().map(|e| e.to_vec()).collect();
        backward.reverse();
        assert_eq!(forward, backward);
        assert_eq!(lp.len(), forward.len());
        let _ = lp.position(b"x");
        lp.push_back(b"tail");
        lp.push_front(b"head");
        lp.remove(1);
        lp.remove_range(0, 2);
        lp.pop_back();
        assert_valid(lp);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn behaves_like_a_vec(ops in proptest::collection::vec(op_strategy(), 0..60)) {
            let mut lp = Listpack::new();
            let mut model = Vec::new();
            for op in ops {
                apply(&mut lp, &mut model, op);
                prop_assert_eq!(values(&lp), model.clone());
            }
            assert_valid(&lp);
            for (i, value) in model.iter().enumerate() {
                prop_assert!(lp.get(i).unwrap().eq_bytes(value));
                let first = model.iter().position(|v| v == value);
                prop_assert_eq!(lp.position(value), first);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(mut lp) = Listpack::from_bytes(bytes) {
                exercise(&mut lp);
            }
        }

        #[test]
        fn random_headers_over_random_entries_never_panic(
            count in any::<u16>(),
            body in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let total = (HEADER_BYTES + body.len() + 1) as u32;
            let mut bytes = total.to_le_bytes().to_vec();
            bytes.extend(count.to_le_bytes());
            bytes.extend(body);
            bytes.push(END);
            if let Ok(mut lp) = Listpack::from_bytes(bytes) {
                exercise(&mut lp);
            }
        }

        #[test]
        fn mutated_listpacks_never_panic(
            items in proptest::collection::vec(value_strategy(), 0..8),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..4), 1..4),
        ) {
            let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
            let mut bytes = build(&refs).into_bytes();
            for (at, byte, kind) in edits {
                let at = at % (bytes.len() + 1);
                match kind {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    2 if at < bytes.len() => { bytes.remove(at); }
                    _ => bytes.truncate(at),
                }
                // Often keep the total right, so deeper checks are reached.
                if kind != 3 && bytes.len() >= 4 {
                    let total = bytes.len() as u32;
                    bytes[..4].copy_from_slice(&total.to_le_bytes());
                }
            }
            if let Ok(mut lp) = Listpack::from_bytes(bytes) {
                exercise(&mut lp);
            }
        }
    }
}
