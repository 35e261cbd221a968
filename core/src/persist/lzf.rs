//! LZF compression as Redis's RDB uses it (the liblzf format), with a hash
//! table that lives as long as the writer: a dump compresses millions of
//! small values, and a table allocated and cleared per value would cost
//! more than the compression itself. Entries left from earlier values are
//! told apart by a generation offset instead of being cleared. Decompression
//! is the `lzf` crate's.
//!
//! The format: a control byte below 32 starts a run of `ctrl + 1` literal
//! bytes; otherwise its top three bits are a match length minus 2 (7 means
//! "add the next byte"), its low five bits and the next byte an offset
//! back, minus 1.

/// log2 of the hash table's slots.
const HASH_BITS: u32 = 14;
const HASH_SLOTS: usize = 1 << HASH_BITS;
/// Longest literal run, longest back reference, farthest offset.
const LITERAL_RUN_MAX: usize = 32;
const MATCH_BYTES_MAX: usize = (1 << 8) + (1 << 3);
const OFFSET_MAX: usize = 1 << 13;

/// A reusable LZF compressor.
pub struct Lzf {
    /// Per slot: `base + position` of the last 3-byte sequence hashed there.
    table: Vec<u32>,
    /// Added to positions of the current input; entries below it are stale.
    base: u32,
}

impl Default for Lzf {
    fn default() -> Self {
        Lzf {
            table: vec![0; HASH_SLOTS],
            base: 1,
        }
    }
}

fn hash(sequence: u32) -> usize {
    ((sequence >> (24 - HASH_BITS)).wrapping_sub(sequence.wrapping_mul(5))
        & (HASH_SLOTS as u32 - 1)) as usize
}

impl Lzf {
    /// Compresses `input`, appending to `out`, unless the result would
    /// exceed `limit` bytes; then returns false and `out` is unchanged.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> bool {
        if input.len() < 3 || input.len() >= u32::MAX as usize / 2 {
            return false;
        }
        self.start_input(input.len());
        let start = out.len();
        let done = self.encode(input, out, start + limit);
        if !done {
            out.truncate(start);
        }
        done
    }

    /// Moves `base` past the previous input so its entries read as stale.
    fn start_input(&mut self, len: usize) {
        let next = self.base as u64 + len as u64 + 1;
        if next >= u32::MAX as u64 {
            self.table.iter_mut().for_each(|slot| *slot = 0);
            self.base = 1;
        } else {
            self.base = next as u32;
        }
    }

    fn encode(&mut self, input: &[u8], out: &mut Vec<u8>, end_max: usize) -> bool {
        let len = input.len();
        let mut literal_at = out.len();
        let mut literals = 0usize;
        out.push(0);
        let mut ip = 0usize;
        let mut sequence = (u32::from(input[0]) << 8) | u32::from(input[1]);
        while ip + 2 < len {
            sequence = (sequence << 8) | u32::from(input[ip + 2]);
            let slot = hash(sequence);
            let stored = self.table[slot];
            self.table[slot] = self.base + ip as u32;
            if let Some(reference) = self.candidate(stored, ip, input) {
                close_literals(out, literal_at, literals);
                let matched = match_length(input, reference, ip);
                emit_match(out, ip - reference - 1, matched);
                ip += matched;
                literals = 0;
                literal_at = out.len();
                out.push(0);
                if ip + 1 < len {
                    sequence = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
                }
            } else {
                push_literal(out, &mut literal_at, &mut literals, input[ip]);
                ip += 1;
            }
            if out.len() > end_max {
                return false;
            }
        }
        while ip < len {
            push_literal(out, &mut literal_at, &mut literals, input[ip]);
            ip += 1;
        }
        close_literals(out, literal_at, literals);
        out.len() <= end_max
    }

    /// The earlier position a table entry points at, if it is from this
    /// input, within reach, and starts the same three bytes.
    fn candidate(&self, stored: u32, ip: usize, input: &[u8]) -> Option<usize> {
        if stored < self.base {
            return None;
        }
        let reference = (stored - self.base) as usize;
        let reachable = reference < ip && ip - reference - 1 < OFFSET_MAX;
        (reachable && input[reference..reference + 3] == input[ip..ip + 3]).then_some(reference)
    }
}

/// Bytes that match between `reference` and `ip` (at least 3, at most
/// `MATCH_BYTES_MAX`, never past the end).
fn match_length(input: &[u8], reference: usize, ip: usize) -> usize {
    let longest = (input.len() - ip).min(MATCH_BYTES_MAX);
    let mut matched = 3;
    while matched < longest && input[reference + matched] == input[ip + matched] {
        matched += 1;
    }
    matched
}

fn emit_match(out: &mut Vec<u8>, offset: usize, matched: usize) {
    let encoded = matched - 2;
    let offset_high = (offset >> 8) as u8;
    if encoded < 7 {
        out.push(offset_high + ((encoded as u8) << 5));
    } else {
        out.push(offset_high + (7 << 5));
        out.push((encoded - 7) as u8);
    }
    out.push(offset as u8);
}

fn push_literal(out: &mut Vec<u8>, literal_at: &mut usize, literals: &mut usize, byte: u8) {
    out.push(byte);
    *literals += 1;
    if *literals == LITERAL_RUN_MAX {
        out[*literal_at] = (LITERAL_RUN_MAX - 1) as u8;
        *literals = 0;
        *literal_at = out.len();
        out.push(0);
    }
}

/// Writes the pending literal run's control byte, or drops its placeholder
/// if the run is empty.
fn close_literals(out: &mut Vec<u8>, literal_at: usize, literals: usize) {
    if literals == 0 {
        out.truncate(literal_at);
    } else {
        out[literal_at] = (literals - 1) as u8;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn round_trip(lzf: &mut Lzf, input: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        if !lzf.compress(input, &mut out, input.len() * 2 + 16) {
            return None;
        }
        Some(lzf::decompress(&out, input.len()).expect("decompresses"))
    }

    // Repetitive data compresses and comes back exactly; the table carries
    // over between inputs without confusing them.
    #[test]
    fn compresses_and_round_trips() {
        let mut lzf = Lzf::default();
        let repetitive = b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxabcabcabcabcabc".to_vec();
        let mut out = Vec::new();
        assert!(lzf.compress(&repetitive, &mut out, repetitive.len()));
        assert!(out.len() < repetitive.len() / 2, "{} bytes", out.len());
        assert_eq!(lzf::decompress(&out, repetitive.len()).unwrap(), repetitive);
        for i in 0..1000u32 {
            let value = format!("value-{i}-value-{i}-value-{i}").into_bytes();
            assert_eq!(round_trip(&mut lzf, &value).unwrap(), value);
        }
    }

    // Long runs use the longest back references the format allows.
    #[test]
    fn long_matches() {
        let mut lzf = Lzf::default();
        for len in [3, 4, 263, 264, 265, 266, 10_000] {
            let input = vec![b'a'; len];
            assert_eq!(round_trip(&mut lzf, &input).unwrap(), input, "{len}");
        }
    }

    // Output that would exceed the limit is refused and leaves `out` as it
    // was.
    #[test]
    fn limit_is_respected() {
        let mut lzf = Lzf::default();
        let random: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut out = b"prefix".to_vec();
        assert!(!lzf.compress(&random, &mut out, random.len() - 4));
        assert_eq!(out, b"prefix");
    }

    proptest! {
        // Any input that compresses decompresses to itself, with the table
        // reused across inputs.
        #[test]
        fn any_input_round_trips(inputs in prop::collection::vec(prop::collection::vec(0u8..4, 0..2000), 1..8)) {
            let mut lzf = Lzf::default();
            for input in inputs {
                if let Some(back) = round_trip(&mut lzf, &input) {
                    prop_assert_eq!(back, input);
                }
            }
        }
    }
}
