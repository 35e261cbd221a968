//! Values stored under keys: one file per type, each owning its encodings,
//! the thresholds at which it changes encoding, and the names `OBJECT
//! ENCODING` reports for them.
//!
//! Small collections live in Redis's compact formats (listpack, intset),
//! byte for byte, so the RDB writer can copy them out and the RDB reader
//! can adopt them after checking; large ones use structures with the
//! complexity Redis documents for each command. A list is always a
//! sequence of listpack nodes (Redis's quicklist).
//!
//! Cloning a value is how a snapshot keeps the version it must see before
//! a command changes it; each type keeps that cheap for large values.

pub mod hash;
pub mod intset;
pub mod list;
pub mod listpack;
pub mod set;
pub mod string;
pub mod zset;

pub use hash::Hash;
pub use list::List;
pub use set::Set;
pub use zset::ZSet;

use crate::config::Encodings;

/// Most items one command of an AOF rewrite carries (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
pub const REWRITE_ITEMS_PER_COMMAND: usize = 64;

/// A value stored under a key.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Vec<u8>),
    /// Boxed: a list's own fields are the largest, and every key pays for
    /// the largest variant.
    List(Box<List>),
    Hash(Hash),
    Set(Set),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// The name `OBJECT ENCODING` replies with.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::String(bytes) => string::encoding(bytes),
            Value::List(list) => list.encoding(),
            Value::Hash(hash) => hash.encoding(),
            Value::Set(set) => set.encoding(),
            Value::ZSet(zset) => zset.encoding(),
        }
    }

    /// A collection with no element left: its key must go.
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Value::String(_) => false,
            Value::List(list) => list.is_empty(),
            Value::Hash(hash) => hash.is_empty(),
            Value::Set(set) => set.is_empty(),
            Value::ZSet(zset) => zset.is_empty(),
        }
    }

    /// Elements (fields, members) in a collection, 1 for a string: the
    /// unit a snapshot's slice budget counts.
    pub fn weight(&self) -> usize {
        match self {
            Value::String(_) => 1,
            Value::List(list) => list.len(),
            Value::Hash(hash) => hash.len(),
            Value::Set(set) => set.len(),
            Value::ZSet(zset) => zset.len(),
        }
    }

    /// The commands that recreate this value under `key` (an AOF rewrite,
    /// a RESP BASE), each passed to `emit` as its words; collections go in
    /// batches of at most [`REWRITE_ITEMS_PER_COMMAND`] items.
    pub fn rewrite_commands(&self, key: &[u8], emit: &mut dyn FnMut(&[&[u8]])) {
        match self {
            Value::String(bytes) => emit(&[b"SET", key, bytes]),
            Value::List(list) => list.rewrite_commands(key, emit),
            Value::Hash(hash) => hash.rewrite_commands(key, emit),
            Value::Set(set) => set.rewrite_commands(key, emit),
            Value::ZSet(zset) => zset.rewrite_commands(key, emit),
        }
    }
}

/// A value type commands ask for by name: `ctx.read::<List>(key)` finds a
/// key of another type and answers WRONGTYPE in one place.
pub trait Typed: Sized {
    /// A new, empty value, encoded as `limits` say a new one starts.
    fn new_empty(limits: &Encodings) -> Self;
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
}

macro_rules! typed {
    ($variant:ident, $type:ty) => {
        impl Typed for $type {
            fn new_empty(limits: &Encodings) -> Self {
                <$type>::new(limits)
            }
            fn of(value: &Value) -> Option<&Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(inner) => Some(inner),
                    _ => None,
                }
            }
            fn into_value(self) -> Value {
                Value::$variant(self)
            }
        }
    };
}

impl Typed for List {
    fn new_empty(limits: &Encodings) -> Self {
        List::new(limits)
    }
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::List(inner) => Some(inner),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(inner) => Some(inner),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
}
typed!(Hash, Hash);
typed!(Set, Set);
typed!(ZSet, ZSet);
