//! What the model holds under a key: a string or one of the collections,
//! in the plainest structure that answers the workload's commands (a list
//! is a `VecDeque`, a hash a `BTreeMap`), written independently of core's
//! encodings so the two check each other.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::world::hash::TraceHasher;

/// A value as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Member to score. The workload's scores are integers, so the model
    /// keeps them exactly and formats them as Redis does an integral
    /// double.
    ZSet(BTreeMap<Vec<u8>, i64>),
}

/// Tags of the canonical encoding `hash_into` folds; never reuse one.
mod tag {
    pub const STRING: u8 = 1;
    pub const LIST: u8 = 2;
    pub const HASH: u8 = 3;
    pub const SET: u8 = 4;
    pub const ZSET: u8 = 5;
}

impl Data {
    /// The value as its canonical bytes, folded into `hasher`: what the
    /// integrity checker remembers of every value a client wrote.
    pub fn hash_into(&self, hasher: &mut TraceHasher) {
        match self {
            Data::String(bytes) => {
                hasher.u8(tag::STRING);
                hasher.bytes(bytes);
            }
            Data::List(elements) => {
                hasher.u8(tag::LIST);
                hasher.u64(elements.len() as u64);
                elements.iter().for_each(|element| hasher.bytes(element));
            }
            Data::Hash(fields) => {
                hasher.u8(tag::HASH);
                hasher.u64(fields.len() as u64);
                for (field, value) in fields {
                    hasher.bytes(field);
                    hasher.bytes(value);
                }
            }
            Data::Set(members) => {
                hasher.u8(tag::SET);
                hasher.u64(members.len() as u64);
                members.iter().for_each(|member| hasher.bytes(member));
            }
            Data::ZSet(scores) => {
                hasher.u8(tag::ZSET);
                hasher.u64(scores.len() as u64);
                for (member, score) in scores {
                    hasher.bytes(member);
                    hasher.i64(*score);
                }
            }
        }
    }

    /// The value as a report shows it: a string's first bytes, a
    /// collection's type, size and first elements.
    pub fn show(&self) -> String {
        const SHOWN_ELEMENTS_MAX: usize = 4;
        let first = |items: Vec<&[u8]>| -> String {
            items
                .iter()
                .take(SHOWN_ELEMENTS_MAX)
                .map(|item| short(item))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Data::String(bytes) => format!("{:?}", short(bytes)),
            Data::List(elements) => format!(
                "list of {} [{}]",
                elements.len(),
                first(elements.iter().map(Vec::as_slice).collect())
            ),
            Data::Hash(fields) => format!(
                "hash of {} {{{}}}",
                fields.len(),
                first(fields.keys().map(Vec::as_slice).collect())
            ),
            Data::Set(members) => format!(
                "set of {} {{{}}}",
                members.len(),
                first(members.iter().map(Vec::as_slice).collect())
            ),
            Data::ZSet(scores) => format!(
                "sorted set of {} {{{}}}",
                scores.len(),
                first(scores.keys().map(Vec::as_slice).collect())
            ),
        }
    }

    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::String(_) => "string",
            Data::List(_) => "list",
            Data::Hash(_) => "hash",
            Data::Set(_) => "set",
            Data::ZSet(_) => "zset",
        }
    }

    /// Whether the value is a collection with nothing in it (never kept).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Data::String(_) => false,
            Data::List(elements) => elements.is_empty(),
            Data::Hash(fields) => fields.is_empty(),
            Data::Set(members) => members.is_empty(),
            Data::ZSet(scores) => scores.is_empty(),
        }
    }
}

/// The first bytes of `value`, as text.
pub fn short(value: &[u8]) -> String {
    const SHOWN_BYTES_MAX: usize = 40;
    let text = String::from_utf8_lossy(&value[..value.len().min(SHOWN_BYTES_MAX)]);
    if value.len() > SHOWN_BYTES_MAX {
        format!("{text}...({} bytes)", value.len())
    } else {
        text.into_owned()
    }
}
