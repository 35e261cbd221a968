//! Strings: bytes, reported as Redis encodes them.

/// Longest string Redis stores embedded with its object header
/// (OBJ_ENCODING_EMBSTR_SIZE_LIMIT); longer ones report `raw`.
const EMBSTR_BYTES_MAX: usize = 44;

/// The name `OBJECT ENCODING` gives a string: `int` for a canonical
/// integer, `embstr` for a short string, `raw` otherwise.
pub fn encoding(bytes: &[u8]) -> &'static str {
    if bytes.len() <= 20 && crate::resp::parse_i64(bytes).is_some() {
        "int"
    } else if bytes.len() <= EMBSTR_BYTES_MAX {
        "embstr"
    } else {
        "raw"
    }
}
