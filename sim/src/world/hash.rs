//! The run's trace hash: 64-bit FNV-1a over a canonical encoding.
//!
//! Written here rather than taken from std because std's hashers may change
//! between releases and `DefaultHasher` is not promised to be stable; a trace
//! hash must be the same on every machine and every build of the same code.
//! Every field is written with an explicit width or length prefix, so two
//! different event sequences cannot encode to the same bytes.

const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running FNV-1a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceHasher {
    state: u64,
}

impl Default for TraceHasher {
    fn default() -> Self {
        TraceHasher {
            state: FNV_OFFSET_BASIS,
        }
    }
}

impl TraceHasher {
    pub fn bytes_raw(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.state ^= u64::from(byte);
            self.state = self.state.wrapping_mul(FNV_PRIME);
        }
    }

    pub fn u8(&mut self, value: u8) {
        self.bytes_raw(&[value]);
    }

    pub fn u64(&mut self, value: u64) {
        self.bytes_raw(&value.to_le_bytes());
    }

    pub fn i64(&mut self, value: i64) {
        self.bytes_raw(&value.to_le_bytes());
    }

    /// A length-prefixed byte string.
    pub fn bytes(&mut self, bytes: &[u8]) {
        self.u64(bytes.len() as u64);
        self.bytes_raw(bytes);
    }

    pub fn finish(&self) -> u64 {
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hash matches the published FNV-1a test vector.
    #[test]
    fn matches_fnv1a_vector() {
        let mut hasher = TraceHasher::default();
        hasher.bytes_raw(b"a");
        assert_eq!(hasher.finish(), 0xaf63_dc4c_8601_ec8c);
    }

    /// Length prefixes keep ("ab","c") apart from ("a","bc").
    #[test]
    fn length_prefix_separates_fields() {
        let mut one = TraceHasher::default();
        one.bytes(b"ab");
        one.bytes(b"c");
        let mut two = TraceHasher::default();
        two.bytes(b"a");
        two.bytes(b"bc");
        assert_ne!(one.finish(), two.finish());
    }
}
