//! DEBUG DIGEST and DIGEST-VALUE: a 20-byte signature of the dataset, or of
//! one value, computed as Redis computes it (debug.c), so that the digest
//! of a dataset on redoubt equals the digest of the same dataset on Redis.
//!
//! Two ways of folding bytes into a digest are used:
//! - *xor*: `digest ^= SHA1(bytes)`, for unordered things (keys, set
//!   members, hash fields, sorted-set elements): order does not matter;
//! - *mix*: `digest = SHA1(digest ^ SHA1(bytes))`, for ordered things (list
//!   elements, the parts of one element): order matters, and "fo","obar"
//!   differs from "foo","bar".
//!
//! A key's digest starts from zero with `mix(key)`, then `mix(type as 4
//! big-endian bytes)`, then its value, then `xor("!!expire!!")` if it has
//! an expiry; the result is `xor`ed in (hashed once more). Each non-empty
//! database first mixes its index into the result. Integers in
//! compact encodings count as their decimal text, and a sorted set's
//! scores as Redis 7.0 prints them (`%.17g`). An empty dataset's digest is
//! forty zeros.

use sha1::{Digest, Sha1};

use super::value::listpack::IntText;
use super::value::zset::format_score;
use super::{Keyspace, Value};

/// A digest being built.
pub type Signature = [u8; 20];

/// `digest ^= SHA1(bytes)` (Redis's `xorDigest`).
fn xor(digest: &mut Signature, bytes: &[u8]) {
    let hash = Sha1::digest(bytes);
    for (d, h) in digest.iter_mut().zip(hash.iter()) {
        *d ^= h;
    }
}

/// `digest = SHA1(digest ^ SHA1(bytes))` (Redis's `mixDigest`).
fn mix(digest: &mut Signature, bytes: &[u8]) {
    xor(digest, bytes);
    let hash = Sha1::digest(&digest[..]);
    digest.copy_from_slice(&hash);
}

/// Redis's object type numbers, which the digest includes.
fn type_number(value: &Value) -> u32 {
    match value {
        Value::String(_) => 0,
        Value::List(_) => 1,
        Value::Set(_) => 2,
        Value::ZSet(_) => 3,
        Value::Hash(_) => 4,
    }
}

/// Folds one value (and whether its key has an expiry) into `digest`
/// (Redis's `xorObjectDigest`).
pub fn fold_value(digest: &mut Signature, value: &Value, has_expiry: bool) {
    mix(digest, &type_number(value).to_be_bytes());
    let mut text = IntText::new(0);
    match value {
        Value::String(bytes) => mix(digest, bytes),
        Value::List(list) => {
            for entry in list.iter() {
                mix(digest, entry.as_bytes(&mut text));
            }
        }
        Value::Set(set) => {
            for member in set.iter() {
                xor(digest, &member);
            }
        }
        Value::ZSet(zset) => {
            for (member, score) in zset.iter() {
                let mut element = [0u8; 20];
                mix(&mut element, &member);
                mix(&mut element, format_score(score).as_bytes());
                xor(digest, &element);
            }
        }
        Value::Hash(hash) => {
            let mut field_text = IntText::new(0);
            for (field, content) in hash.iter() {
                let mut element = [0u8; 20];
                mix(&mut element, field.as_bytes(&mut field_text));
                mix(&mut element, content.as_bytes(&mut text));
                xor(digest, &element);
            }
        }
    }
    if has_expiry {
        xor(digest, b"!!expire!!");
    }
}

/// The digest of one value, as DEBUG DIGEST-VALUE gives it: forty zeros
/// for a missing key.
pub fn value_digest(value: Option<(&Value, bool)>) -> String {
    let mut digest = [0u8; 20];
    if let Some((value, has_expiry)) = value {
        fold_value(&mut digest, value, has_expiry);
    }
    hex(&digest)
}

/// The digest of every database, keys past their time included (Redis
/// walks its tables as they are).
pub fn dataset_digest(keyspace: &Keyspace) -> String {
    let mut result = [0u8; 20];
    for (index, db) in keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        mix(&mut result, &(index as u32).to_be_bytes());
        for (key, value, expiry) in db.entries_with_expiry() {
            let mut digest = [0u8; 20];
            mix(&mut digest, key);
            fold_value(&mut digest, value, expiry.is_some());
            xor(&mut result, &digest);
        }
    }
    hex(&result)
}

fn hex(digest: &Signature) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}
