//! [`Intset`]: Redis 7.0's intset, byte for byte.
//!
//! An intset is the encoding Redis gives a set whose members are all
//! integers (up to `set-max-intset-entries` of them), and it is written into
//! RDB files as it sits in memory.
//!
//! # Layout
//!
//! ```text
//! encoding: u32 LE | length: u32 LE | member ... (sorted ascending, distinct)
//! ```
//!
//! Every member takes the same width, the encoding: 2 bytes (i16), 4 (i32)
//! or 8 (i64), little-endian. The width grows when a member that does not
//! fit is added, and it never shrinks: removing the wide members leaves the
//! set at its width, as in Redis.

use std::fmt;
use std::iter::FusedIterator;

/// Bytes before the first member: encoding and length.
pub const HEADER_BYTES: usize = 8;

/// The width every member of an intset takes; the u32 in its header is
/// the width in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Encoding {
    Int16,
    Int32,
    Int64,
}

impl Encoding {
    /// Bytes per member: 2, 4 or 8.
    pub fn width(self) -> usize {
        match self {
            Encoding::Int16 => 2,
            Encoding::Int32 => 4,
            Encoding::Int64 => 8,
        }
    }

    /// The narrowest encoding that holds `value`.
    pub fn for_value(value: i64) -> Encoding {
        if i16::try_from(value).is_ok() {
            Encoding::Int16
        } else if i32::try_from(value).is_ok() {
            Encoding::Int32
        } else {
            Encoding::Int64
        }
    }

    fn from_header(word: u32) -> Option<Encoding> {
        match word {
            2 => Some(Encoding::Int16),
            4 => Some(Encoding::Int32),
            8 => Some(Encoding::Int64),
            _ => None,
        }
    }
}

/// An intset, owning its bytes, which are always a valid intset.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Intset {
    bytes: Vec<u8>,
}

impl Intset {
    /// An empty set of 16-bit width (`02 00 00 00 00 00 00 00`).
    pub fn new() -> Self {
        Intset {
            bytes: vec![2, 0, 0, 0, 0, 0, 0, 0],
        }
    }

    /// Takes bytes from an untrusted source (an RDB file, RESTORE) after
    /// checking them as Redis does: the encoding is 2, 4 or 8; the length
    /// times the width plus the header is the byte count; the set is not
    /// empty (Redis never writes an empty set and refuses one); the members
    /// strictly ascend. Never panics. The error says what is wrong.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Intset, &'static str> {
        validate(&bytes)?;
        Ok(Intset { bytes })
    }

    /// The set's bytes, as Redis would write them to an RDB file.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub fn byte_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn encoding(&self) -> Encoding {
        Encoding::from_header(read_u32(&self.bytes, 0)).expect("an intset's encoding is checked")
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        read_u32(&self.bytes, 4) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The member at `index` in ascending order; O(1), so a uniformly
    /// random index gives a uniformly random member (SRANDMEMBER, SPOP).
    pub fn get(&self, index: usize) -> Option<i64> {
        (index < self.len()).then(|| self.member(index))
    }

    pub fn min(&self) -> Option<i64> {
        self.get(0)
    }

    pub fn max(&self) -> Option<i64> {
        self.len().checked_sub(1).map(|last| self.member(last))
    }

    /// Whether `value` is a member (binary search).
    pub fn contains(&self, value: i64) -> bool {
        self.search(value).is_ok()
    }

    /// Binary search: `Ok` with the index of `value`, or `Err` with the
    /// index where it would go.
    pub fn search(&self, value: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            match self.member(mid).cmp(&value) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(low)
    }

    /// Adds `value`, widening every member first if it does not fit the
    /// current width; false if it was already a member.
    pub fn insert(&mut self, value: i64) -> bool {
        if Encoding::for_value(value) > self.encoding() {
            self.widen_and_add(value);
            return true;
        }
        let Err(index) = self.search(value) else {
            return false;
        };
        let at = HEADER_BYTES + index * self.encoding().width();
        let encoded = encode(value, self.encoding());
        self.bytes.splice(at..at, encoded);
        self.set_len(self.len() + 1);
        true
    }

    /// Removes `value`; false if it was not a member. The width stays.
    pub fn remove(&mut self, value: i64) -> bool {
        let Ok(index) = self.search(value) else {
            return false;
        };
        let width = self.encoding().width();
        let at = HEADER_BYTES + index * width;
        self.bytes.drain(at..at + width);
        self.set_len(self.len() - 1);
        true
    }

    /// The members in ascending order (`.rev()` for descending).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            set: self,
            front: 0,
            back: self.len(),
        }
    }

    /// Rewrites the set at the width `value` needs and adds it. A value too
    /// wide for the current width lies outside every member's range, so it
    /// goes first if negative and last otherwise.
    fn widen_and_add(&mut self, value: i64) {
        let wider = Encoding::for_value(value);
        let len = self.len() + 1;
        let mut bytes = Vec::with_capacity(HEADER_BYTES + len * wider.width());
        bytes.extend_from_slice(&(wider.width() as u32).to_le_bytes());
        bytes.extend_from_slice(&len_word(len).to_le_bytes());
        if value < 0 {
            bytes.extend(encode(value, wider));
        }
        for member in self.iter() {
            bytes.extend(encode(member, wider));
        }
        if value >= 0 {
            bytes.extend(encode(value, wider));
        }
        self.bytes = bytes;
        self.debug_check();
    }

    /// The member at `index`, which must be in range.
    fn member(&self, index: usize) -> i64 {
        let width = self.encoding().width();
        let at = HEADER_BYTES + index * width;
        decode(&self.bytes[at..at + width])
    }

    fn set_len(&mut self, len: usize) {
        self.bytes[4..HEADER_BYTES].copy_from_slice(&len_word(len).to_le_bytes());
        self.debug_check();
    }

    /// The cheap invariants, after every change.
    fn debug_check(&self) {
        let width = self.encoding().width();
        debug_assert_eq!(self.bytes.len(), HEADER_BYTES + self.len() * width);
        debug_assert!(self.len() < 2 || self.member(0) < self.member(1));
        debug_assert!(self.len() < 2 || self.member(self.len() - 2) < self.member(self.len() - 1));
    }
}

impl Default for Intset {
    fn default() -> Self {
        Intset::new()
    }
}

impl fmt::Debug for Intset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for &'a Intset {
    type Item = i64;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Iterator over an intset's members, ascending (or descending with
/// `.rev()`).
#[derive(Clone)]
pub struct Iter<'a> {
    set: &'a Intset,
    front: usize,
    back: usize,
}

impl Iterator for Iter<'_> {
    type Item = i64;

    fn next(&mut self) -> Option<i64> {
        if self.front >= self.back {
            return None;
        }
        self.front += 1;
        Some(self.set.member(self.front - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.back - self.front;
        (left, Some(left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<i64> {
        if self.front >= self.back {
            return None;
        }
        self.back -= 1;
        Some(self.set.member(self.back))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl FusedIterator for Iter<'_> {}

/// The u32 length field for `len` members.
fn len_word(len: usize) -> u32 {
    u32::try_from(len).expect("an intset holds fewer than 2^32 members")
}

/// `value` in `encoding`'s width, little-endian; it must fit.
fn encode(value: i64, encoding: Encoding) -> impl Iterator<Item = u8> {
    debug_assert!(Encoding::for_value(value) <= encoding);
    value.to_le_bytes().into_iter().take(encoding.width())
}

/// A member from its 2, 4 or 8 little-endian bytes.
fn decode(bytes: &[u8]) -> i64 {
    match *bytes {
        [a, b] => i64::from(i16::from_le_bytes([a, b])),
        [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
        [a, b, c, d, e, f, g, h] => i64::from_le_bytes([a, b, c, d, e, f, g, h]),
        _ => unreachable!("intset members are 2, 4 or 8 bytes"),
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The checks of [`Intset::from_bytes`].
fn validate(bytes: &[u8]) -> Result<(), &'static str> {
    if bytes.len() < HEADER_BYTES {
        return Err("intset shorter than its header");
    }
    let encoding =
        Encoding::from_header(read_u32(bytes, 0)).ok_or("intset encoding is not 2, 4 or 8")?;
    let width = encoding.width();
    let len = read_u32(bytes, 4) as usize;
    if len
        .checked_mul(width)
        .and_then(|b| b.checked_add(HEADER_BYTES))
        != Some(bytes.len())
    {
        return Err("intset length does not match its size");
    }
    if len == 0 {
        return Err("intset is empty");
    }
    let members = bytes[HEADER_BYTES..].chunks_exact(width).map(decode);
    let ascending = members.clone().zip(members.skip(1)).all(|(a, b)| a < b);
    if !ascending {
        return Err("intset members are not strictly ascending");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn hex(text: &str) -> Vec<u8> {
        let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn build(members: &[i64]) -> Intset {
        let mut set = Intset::new();
        for &member in members {
            set.insert(member);
        }
        set
    }

    #[test]
    fn empty_set_bytes() {
        let set = Intset::new();
        assert_eq!(set.as_bytes(), hex("02000000 00000000"));
        assert!(set.is_empty());
        assert_eq!(set.min(), None);
        assert_eq!(set.max(), None);
        assert_eq!(set.iter().next(), None);
    }

    // The expectations below are the intsets Redis 7.0.15 wrote, taken from
    // its DUMP output.

    #[test]
    fn matches_redis_sadd() {
        let cases: &[(&[i64], &str)] = &[
            (&[5, -3, 100], "0200000003000000fdff05006400"),
            (&[5, 70000], "04000000020000000500000070110100"),
            (
                &[5, -5000000000, 1],
                "0800000003000000000efad5feffffff01000000000000000500000000000000",
            ),
            (
                &[3, 1, 2, -32768, 32767],
                "02000000050000000080010002000300ff7f",
            ),
            (
                &[i64::MAX, i64::MIN, 0],
                "080000000300000000000000000000800000000000000000ffffffffffffff7f",
            ),
        ];
        for (members, redis) in cases {
            let set = build(members);
            assert_eq!(set.as_bytes(), hex(redis), "{members:?}");
            assert_eq!(Intset::from_bytes(hex(redis)).unwrap(), set);
        }
    }

    #[test]
    fn matches_redis_srem_keeping_the_width() {
        // SADD s 1 70000 -2; SREM s 70000.
        let mut set = build(&[1, 70000, -2]);
        assert!(set.remove(70000));
        assert_eq!(set.as_bytes(), hex("0400000002000000feffffff01000000"));
        assert_eq!(set.encoding(), Encoding::Int32);
    }

    #[test]
    fn widening_in_every_direction() {
        for (start, wide, encoding) in [
            (32, 65535, Encoding::Int32),
            (32, -65535, Encoding::Int32),
            (32, 4294967295, Encoding::Int64),
            (32, -4294967295, Encoding::Int64),
            (65535, 4294967295, Encoding::Int64),
            (65535, -4294967295, Encoding::Int64),
        ] {
            let mut set = build(&[start, start + 1]);
            assert!(set.insert(wide));
            assert_eq!(set.encoding(), encoding);
            assert!(set.contains(start) && set.contains(start + 1) && set.contains(wide));
            let mut expected = vec![start, start + 1, wide];
            expected.sort();
            assert_eq!(set.iter().collect::<Vec<_>>(), expected);
            assert!(!set.insert(wide));
        }
    }

    #[test]
    fn encoding_for_value_limits() {
        assert_eq!(Encoding::for_value(-32768), Encoding::Int16);
        assert_eq!(Encoding::for_value(32767), Encoding::Int16);
        assert_eq!(Encoding::for_value(-32769), Encoding::Int32);
        assert_eq!(Encoding::for_value(32768), Encoding::Int32);
        assert_eq!(Encoding::for_value(i32::MIN.into()), Encoding::Int32);
        assert_eq!(Encoding::for_value(i32::MAX.into()), Encoding::Int32);
        assert_eq!(
            Encoding::for_value(i64::from(i32::MIN) - 1),
            Encoding::Int64
        );
        assert_eq!(
            Encoding::for_value(i64::from(i32::MAX) + 1),
            Encoding::Int64
        );
    }

    #[test]
    fn lookups_and_removal() {
        let mut set = build(&[10, -4, 7, 10, 100000]);
        assert_eq!(set.len(), 4);
        assert_eq!(set.get(0), Some(-4));
        assert_eq!(set.get(3), Some(100000));
        assert_eq!(set.get(4), None);
        assert_eq!(set.search(8), Err(2));
        assert!(!set.contains(i64::MAX));
        assert!(!set.remove(i64::MIN));
        assert!(set.remove(-4));
        assert!(!set.remove(-4));
        assert_eq!(set.iter().rev().collect::<Vec<_>>(), [100000, 10, 7]);
        assert_eq!(set.iter().len(), 3);
        assert_eq!((set.min(), set.max()), (Some(7), Some(100000)));
    }

    #[test]
    fn from_bytes_refuses_bad_input() {
        let good = build(&[1, 2, 3]).into_bytes();
        assert!(Intset::from_bytes(good.clone()).is_ok());
        for cut in 0..good.len() {
            assert!(Intset::from_bytes(good[..cut].to_vec()).is_err(), "{cut}");
        }
        let mut bad_encoding = good.clone();
        bad_encoding[0] = 3;
        assert!(Intset::from_bytes(bad_encoding).is_err());
        let mut unsorted = good.clone();
        unsorted[8] = 9;
        assert!(Intset::from_bytes(unsorted).is_err());
        let mut duplicate = good.clone();
        duplicate[10] = 1;
        assert!(Intset::from_bytes(duplicate).is_err());
        assert!(Intset::from_bytes(Intset::new().into_bytes()).is_err());
        // A huge length whose byte count overflows.
        assert!(Intset::from_bytes(hex("08000000 ffffffff 0100000000000000")).is_err());
        // Wider than needed is fine: Redis never narrows.
        assert!(Intset::from_bytes(hex("08000000 01000000 0100000000000000")).is_ok());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(i64),
        Remove(i64),
    }

    fn member_strategy() -> impl Strategy<Value = i64> {
        prop_oneof![
            -40i64..40,
            any::<i16>().prop_map(i64::from),
            any::<i32>().prop_map(i64::from),
            any::<i64>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn behaves_like_a_btreeset(
            ops in proptest::collection::vec(
                prop_oneof![
                    3 => member_strategy().prop_map(Op::Insert),
                    1 => member_strategy().prop_map(Op::Remove),
                ],
                0..80,
            )
        ) {
            let mut set = Intset::new();
            let mut model = BTreeSet::new();
            let mut widest = Encoding::Int16;
            for op in ops {
                match op {
                    Op::Insert(v) => {
                        prop_assert_eq!(set.insert(v), model.insert(v));
                        widest = widest.max(Encoding::for_value(v));
                    }
                    Op::Remove(v) => prop_assert_eq!(set.remove(v), model.remove(&v)),
                }
                prop_assert_eq!(set.encoding(), widest);
            }
            prop_assert_eq!(set.iter().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(set.iter().rev().collect::<Vec<_>>(), model.iter().rev().copied().collect::<Vec<_>>());
            for v in &model {
                prop_assert!(set.contains(*v));
            }
            if !set.is_empty() {
                prop_assert_eq!(Intset::from_bytes(set.as_bytes().to_vec()).unwrap(), set);
            }
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
            if let Ok(mut set) = Intset::from_bytes(bytes) {
                let members: Vec<i64> = set.iter().collect();
                prop_assert!(members.windows(2).all(|w| w[0] < w[1]));
                set.insert(7);
                set.remove(members[0]);
            }
        }

        #[test]
        fn random_members_under_valid_headers_never_panic(
            width in prop_oneof![Just(2u32), Just(4), Just(8)],
            count in 0u32..6,
            body in proptest::collection::vec(any::<u8>(), 0..48),
        ) {
            let mut bytes = width.to_le_bytes().to_vec();
            bytes.extend(count.to_le_bytes());
            bytes.extend(body.into_iter().take((count * width) as usize));
            if let Ok(mut set) = Intset::from_bytes(bytes) {
                prop_assert_eq!(set.len(), count as usize);
                set.insert(i64::MIN);
                prop_assert_eq!(set.min(), Some(i64::MIN));
            }
        }
    }
}
