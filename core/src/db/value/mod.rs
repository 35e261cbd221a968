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
//! a command changes it; each type keeps that cheap for large values. A
//! snapshot then writes a large value a part at a time, each type handing
//! out its elements from a [`Cursor`], so that no step of the event loop
//! encodes a million-member value at once.

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
use crate::db::dict::Place;

/// Most items one command of an AOF rewrite carries (Redis's
/// AOF_REWRITE_ITEMS_PER_CMD).
pub const REWRITE_ITEMS_PER_COMMAND: usize = 64;

/// `elements` rounded up to whole rewrite commands, so that a value
/// rewritten a part at a time is cut where the one-go rewrite cuts its
/// commands, and the bytes are the same.
fn whole_commands(elements: usize) -> usize {
    elements
        .div_ceil(REWRITE_ITEMS_PER_COMMAND)
        .saturating_mul(REWRITE_ITEMS_PER_COMMAND)
}

/// The rewrite commands of one value as they are built: `command key`,
/// then items (a member; a field and its value; a score and its member),
/// handed to `emit` every [`REWRITE_ITEMS_PER_COMMAND`] items and at
/// [`CommandBatch::finish`].
struct CommandBatch<'a> {
    command: &'static [u8],
    key: &'a [u8],
    words: Vec<Vec<u8>>,
    items: usize,
    emit: &'a mut dyn FnMut(&[&[u8]]),
}

impl<'a> CommandBatch<'a> {
    fn new(command: &'static [u8], key: &'a [u8], emit: &'a mut dyn FnMut(&[&[u8]])) -> Self {
        CommandBatch {
            command,
            key,
            words: Vec::new(),
            items: 0,
            emit,
        }
    }

    /// Adds one item, given as its words.
    fn push(&mut self, item: &[&[u8]]) {
        self.words.extend(item.iter().map(|word| word.to_vec()));
        self.items += 1;
        if self.items == REWRITE_ITEMS_PER_COMMAND {
            self.flush();
        }
    }

    /// Emits the items gathered since the last command, if any.
    fn finish(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if self.items == 0 {
            return;
        }
        let mut words: Vec<&[u8]> = vec![self.command, self.key];
        words.extend(self.words.iter().map(Vec::as_slice));
        (self.emit)(&words);
        self.words.clear();
        self.items = 0;
    }
}

/// How far an encoder has got through one value, so that a snapshot can
/// write a large value over several steps and resume where it stopped
/// (see `persist::snapshot_encoder`). It means something only for the
/// value it was made on, unchanged: a snapshot's values are copies that
/// commands never change (a write to the live key copies it first).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Elements handed out so far (a string counts one, a hash counts
    /// pairs): the value is complete when this reaches its weight. A
    /// sorted set or list resumes at the element this counts to.
    pub elements: usize,
    /// A hash or set table resumes here, at the next entry's place.
    place: Place,
}

impl Cursor {
    /// A cursor past every element of `value`: what an encoder that wrote
    /// it whole (a string, a compact encoding) leaves.
    pub fn complete(value: &Value) -> Cursor {
        Cursor {
            elements: value.weight(),
            place: Place::START,
        }
    }

    /// Whether every element of `value` has been handed out.
    pub fn is_complete(&self, value: &Value) -> bool {
        self.elements >= value.weight()
    }
}

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

    /// The bytes the dataset estimate charges for this value, in constant
    /// time: a string's length, a compact encoding's exact size, and a
    /// fixed cost per element of a large one (the simulator's
    /// `used_memory`, which must not depend on the machine).
    pub fn estimated_bytes(&self) -> usize {
        /// Bytes per element of a large collection, and of a list.
        const LIST_ELEMENT_BYTES: usize = 16;
        const TABLE_ELEMENT_BYTES: usize = 64;
        const SORTED_ELEMENT_BYTES: usize = 96;
        match self {
            Value::String(bytes) => bytes.len(),
            Value::List(list) => list.len() * LIST_ELEMENT_BYTES,
            Value::Hash(hash) => match hash.as_listpack() {
                Some(listpack) => listpack.byte_len(),
                None => hash.len() * TABLE_ELEMENT_BYTES,
            },
            Value::Set(set) => match set.as_intset() {
                Some(intset) => intset.byte_len(),
                None => set.len() * TABLE_ELEMENT_BYTES,
            },
            Value::ZSet(zset) => match zset.as_listpack() {
                Some(listpack) => listpack.byte_len(),
                None => zset.len() * SORTED_ELEMENT_BYTES,
            },
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
        self.rewrite_commands_from(key, &mut Cursor::default(), usize::MAX, emit);
    }

    /// Part of [`Value::rewrite_commands`]: the commands for at least
    /// `elements_max` elements from `cursor` on (fewer at the end), in
    /// whole commands, so that the parts put together are the commands of
    /// the one-go rewrite exactly. Moves the cursor past them. A compact
    /// encoding goes whole: its thresholds keep it small.
    pub fn rewrite_commands_from(
        &self,
        key: &[u8],
        cursor: &mut Cursor,
        elements_max: usize,
        emit: &mut dyn FnMut(&[&[u8]]),
    ) {
        let elements_max = whole_commands(elements_max);
        match self {
            Value::String(bytes) => {
                if cursor.elements == 0 {
                    emit(&[b"SET", key, bytes]);
                }
                *cursor = Cursor::complete(self);
            }
            Value::List(list) => list.rewrite_commands_from(key, cursor, elements_max, emit),
            Value::Hash(hash) => hash.rewrite_commands_from(key, cursor, elements_max, emit),
            Value::Set(set) => set.rewrite_commands_from(key, cursor, elements_max, emit),
            Value::ZSet(zset) => zset.rewrite_commands_from(key, cursor, elements_max, emit),
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
