//! The object each key is checked against: one Redis key that is absent or
//! holds a string, with or without a time to live, what each string
//! command does to it, and what it answers.
//!
//! A key with a time to live may vanish at any moment: when it expires
//! depends on the node's wall clock, which drifts and jumps, and no client
//! sees it. So the model is nondeterministic, and the search works on the
//! set of states the key may be in (as Porcupine does for such models):
//! after every step, each state with a time to live brings the absent
//! state along. The model never insists that a key has expired by a given
//! moment, only that it can vanish, so it can miss a key served past its
//! time (the reference model judges that by the wall clock) but never
//! accuses a node of one.
//!
//! A command the model does not hold (a collection command, SWAPDB, a
//! command it does not know) havocs the key: it may hold anything after
//! it, any string, a collection, or nothing, and answers anything until a
//! write that does not read it (SET, DEL) makes it known again.
//!
//! Values are interned per key, and so are the sets of states, so that the
//! search holds one small number it can copy, hash and compare for free.
//! The reply semantics are those of the reference model
//! (`crate::check::model`): the same strict integer syntax for INCR and
//! its kin, the same error texts, and the same rules for which writes keep
//! a time to live (INCR and APPEND do; SET, GETSET and MSET clear it).

use std::collections::HashMap;

use crate::check::model::strict_int;

/// A value of one key's table; value 0 stands for no value.
pub type ValueId = u32;

/// One state of the key: [`ABSENT`], [`UNKNOWN`], or a value id shifted
/// left once with the low bit set when the key has a time to live.
pub type State = u32;

/// The key does not exist (and a GET answers nil).
pub const ABSENT: State = 0;

/// The key may hold anything: a command the model does not hold touched
/// it. Above every state of a value.
pub const UNKNOWN: State = (1 << 31) - 1;

/// Nil, as a [`ValueId`].
pub const NIL: ValueId = 0;

/// A set of states, as the search holds it: a single state stands for
/// itself; with this bit set, the rest is an index into the key's table of
/// larger sets.
pub type States = u32;

const SET_BIT: u32 = 1 << 31;

/// Value ids must leave room for the time-to-live bit, [`SET_BIT`] and
/// [`UNKNOWN`].
const VALUE_IDS_MAX: usize = (1 << 30) - 1;

fn state_of(value: ValueId, volatile: bool) -> State {
    value << 1 | u32::from(volatile && value != NIL)
}

fn value_of(state: State) -> ValueId {
    state >> 1
}

fn is_volatile(state: State) -> bool {
    state & 1 == 1
}

/// What a write does to the key's time to live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// SET, GETSET, MSET: the key lives until deleted.
    Clear,
    /// KEEPTTL: as before the write (none for a new key).
    Keep,
    /// EX, PX, EXAT, PXAT, SETEX: the key may vanish from now on.
    Expiring,
}

/// Which SET writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    /// NX, SETNX, MSETNX.
    IfAbsent,
    /// XX.
    IfPresent,
}

/// What one command does to one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// GET: answers the value.
    Get,
    /// An MGET's key: answers the value, as GET, but nil also for a key
    /// that holds a collection, where GET answers WRONGTYPE.
    MgetKey,
    /// STRLEN: answers the length (0 when absent).
    Strlen,
    /// EXISTS and TYPE: answers whether the key is there.
    Exists,
    /// TTL and PTTL: answers whether the key is there and has a time to
    /// live (how long is the wall clock's business).
    TimeToLive,
    /// SET and its kin (SETNX, GETSET, SETEX, an MSET's key): writes
    /// `value` when `condition` holds, and answers whether it wrote, or
    /// with `get` the value before.
    Set {
        value: ValueId,
        condition: Condition,
        get: bool,
        lifetime: Lifetime,
    },
    /// DEL, GETDEL, and a FLUSHALL or FLUSHDB as this key sees it: answers
    /// whether the key was there, or with `get` the value before.
    Delete { get: bool },
    /// INCR, DECR, INCRBY, DECRBY; `by` is `None` when the argument is not
    /// an integer, which is an error whatever the key holds.
    Increment { by: Option<i64> },
    /// APPEND: answers the new length.
    Append { tail: ValueId },
    /// EXPIRE and its kin: a live key gets a time to live, or with `now`
    /// (a time already past) is deleted. Answers whether it was there.
    Expire { now: bool },
    /// PERSIST: answers whether the key had a time to live, and removes it.
    Persist,
    /// GETEX: answers the value, and sets the time to live of a live key
    /// as `lifetime` says (`Keep`: unchanged).
    GetEx { lifetime: Lifetime },
    /// A command the model does not hold: the key is [`UNKNOWN`] after it.
    Havoc,
}

/// What TTL answers, in kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// -2.
    Absent,
    /// -1.
    Persistent,
    /// A time left, of any length.
    Expiring,
}

/// What the model answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A bulk string, or [`NIL`].
    Value(ValueId),
    Integer(i64),
    /// Whether a key was there, or whether a conditional write wrote.
    Flag(bool),
    Ttl(Ttl),
    /// INCR's "not an integer" or "would overflow": nothing changes.
    Error,
}

/// What the client saw, as a constraint on the model's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Anything: the reply never came, or it says nothing of this key.
    Any,
    Is(Answer),
    /// A reply no state of a string key can give (WRONGTYPE on a key only
    /// string commands touched): the operation cannot be placed anywhere.
    Never(&'static str),
}

impl Expect {
    fn admits(self, answer: Answer) -> bool {
        match self {
            Expect::Any => true,
            Expect::Is(seen) => seen == answer,
            Expect::Never(_) => false,
        }
    }
}

/// One command on one key and what the client saw of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub command: Command,
    pub expect: Expect,
}

impl Step {
    /// Whether the step changes nothing and constrains nothing, so that
    /// it may be left out of the history.
    pub fn is_idle(&self) -> bool {
        let reads = matches!(
            self.command,
            Command::Get
                | Command::MgetKey
                | Command::Strlen
                | Command::Exists
                | Command::TimeToLive
        );
        reads && self.expect == Expect::Any
    }
}

/// One key's values and sets of states, each stored once, and the model's
/// transitions over them.
#[derive(Debug)]
pub struct Model {
    value_ids: HashMap<Box<[u8]>, ValueId>,
    /// Indexed by id; entry 0 stands for nil and is never read.
    values: Vec<Interned>,
    set_ids: HashMap<Box<[State]>, States>,
    /// Sets of more than one state, sorted, indexed by id without
    /// [`SET_BIT`].
    sets: Vec<Box<[State]>>,
}

#[derive(Debug)]
struct Interned {
    bytes: Box<[u8]>,
    /// The value as INCR reads it, if it is an integer.
    integer: Option<i64>,
}

impl Default for Model {
    fn default() -> Self {
        Model {
            value_ids: HashMap::new(),
            values: vec![Interned {
                bytes: Box::default(),
                integer: None,
            }],
            set_ids: HashMap::new(),
            sets: Vec::new(),
        }
    }
}

impl Model {
    /// The id of `bytes`, added if new.
    pub fn intern(&mut self, bytes: &[u8]) -> ValueId {
        if let Some(&id) = self.value_ids.get(bytes) {
            return id;
        }
        assert!(
            self.values.len() < VALUE_IDS_MAX,
            "too many values for one key"
        );
        let id = self.values.len() as ValueId;
        self.values.push(Interned {
            bytes: bytes.into(),
            integer: strict_int(bytes),
        });
        self.value_ids.insert(bytes.into(), id);
        id
    }

    /// The bytes of a value; [`NIL`] has none.
    pub fn bytes(&self, id: ValueId) -> Option<&[u8]> {
        (id != NIL).then(|| &*self.values[id as usize].bytes)
    }

    fn length(&self, id: ValueId) -> i64 {
        self.bytes(id).map_or(0, |bytes| bytes.len() as i64)
    }

    /// The states of a set, in order.
    pub fn states(&self, states: States) -> Vec<State> {
        if states & SET_BIT == 0 {
            vec![states]
        } else {
            self.sets[(states & !SET_BIT) as usize].to_vec()
        }
    }

    /// The id of a set of states, closed under expiry: a state with a time
    /// to live brings the absent state along. [`UNKNOWN`] holds them all.
    fn set_of(&mut self, mut states: Vec<State>) -> States {
        if states.contains(&UNKNOWN) {
            return UNKNOWN;
        }
        if states.iter().any(|&state| is_volatile(state)) {
            states.push(ABSENT);
        }
        states.sort_unstable();
        states.dedup();
        if let [only] = states[..] {
            return only;
        }
        if let Some(&id) = self.set_ids.get(&states[..]) {
            return id;
        }
        let id = u32::try_from(self.sets.len()).expect("sets fit in u32") | SET_BIT;
        assert!(id != u32::MAX, "too many sets of states for one key");
        self.set_ids.insert(states.clone().into(), id);
        self.sets.push(states.into());
        id
    }

    /// Runs `command` on one known state: the state after it, and its
    /// answer.
    pub fn apply(&mut self, state: State, command: Command) -> (State, Answer) {
        debug_assert_ne!(state, UNKNOWN, "an unknown key has no single answer");
        let (value, volatile) = (value_of(state), is_volatile(state));
        match command {
            // What it answers is not modelled; its expectation is always
            // `Any`.
            Command::Havoc => (UNKNOWN, Answer::Error),
            Command::Get | Command::MgetKey => (state, Answer::Value(value)),
            Command::Strlen => (state, Answer::Integer(self.length(value))),
            Command::Exists => (state, Answer::Flag(state != ABSENT)),
            Command::TimeToLive => {
                let ttl = match (state, volatile) {
                    (ABSENT, _) => Ttl::Absent,
                    (_, false) => Ttl::Persistent,
                    (_, true) => Ttl::Expiring,
                };
                (state, Answer::Ttl(ttl))
            }
            Command::Set {
                value: written,
                condition,
                get,
                lifetime,
            } => {
                let writes = match condition {
                    Condition::Always => true,
                    Condition::IfAbsent => state == ABSENT,
                    Condition::IfPresent => state != ABSENT,
                };
                let after = match (writes, lifetime) {
                    (false, _) => state,
                    (true, Lifetime::Clear) => state_of(written, false),
                    (true, Lifetime::Keep) => state_of(written, volatile),
                    (true, Lifetime::Expiring) => state_of(written, true),
                };
                let answer = if get {
                    Answer::Value(value)
                } else {
                    Answer::Flag(writes)
                };
                (after, answer)
            }
            Command::Delete { get } => {
                let answer = if get {
                    Answer::Value(value)
                } else {
                    Answer::Flag(state != ABSENT)
                };
                (ABSENT, answer)
            }
            Command::Increment { by } => {
                let current = match state {
                    ABSENT => Some(0),
                    _ => self.values[value as usize].integer,
                };
                match current.zip(by).and_then(|(now, by)| now.checked_add(by)) {
                    Some(next) => {
                        let after = self.intern(next.to_string().as_bytes());
                        (state_of(after, volatile), Answer::Integer(next))
                    }
                    None => (state, Answer::Error),
                }
            }
            Command::Append { tail } => {
                let mut bytes = self.bytes(value).unwrap_or_default().to_vec();
                bytes.extend_from_slice(self.bytes(tail).unwrap_or_default());
                let length = bytes.len() as i64;
                let after = self.intern(&bytes);
                (state_of(after, volatile), Answer::Integer(length))
            }
            Command::Expire { now } => {
                let after = match (state, now) {
                    (ABSENT, _) | (_, true) => ABSENT,
                    (_, false) => state_of(value, true),
                };
                (after, Answer::Flag(state != ABSENT))
            }
            Command::Persist => (state_of(value, false), Answer::Flag(volatile)),
            Command::GetEx { lifetime } => {
                let after = match lifetime {
                    Lifetime::Keep => state,
                    Lifetime::Clear => state_of(value, false),
                    Lifetime::Expiring => state_of(value, true),
                };
                (after, Answer::Value(value))
            }
        }
    }

    /// Runs the steps of one operation in order, as one atomic action,
    /// from each state of `states`: the set of states it may leave, or
    /// `None` if from no state do its answers agree with what the client
    /// saw.
    pub fn run(&mut self, states: States, steps: &[Step]) -> Option<States> {
        // The common case: one known state without a time to live, one
        // step.
        if states & SET_BIT == 0 && states != UNKNOWN {
            if let [step] = steps {
                let (after, answer) = self.apply(states, step.command);
                if !step.expect.admits(answer) {
                    return None;
                }
                return Some(if is_volatile(after) {
                    self.set_of(vec![after])
                } else {
                    after
                });
            }
        }
        let mut current = self.states(states);
        for step in steps {
            let mut next = Vec::with_capacity(current.len());
            for &state in &current {
                if state == UNKNOWN {
                    next.extend(self.after_unknown(*step));
                    continue;
                }
                let (after, answer) = self.apply(state, step.command);
                if step.expect.admits(answer) {
                    next.push(after);
                }
            }
            if next.is_empty() {
                return None;
            }
            // The key may expire between two steps too.
            let closed = self.set_of(next);
            current = self.states(closed);
        }
        Some(self.set_of(current))
    }

    /// The states an [`UNKNOWN`] key may be in after a step, given what
    /// the client saw: a write that does not read the key makes it known
    /// again, and so does a read that found it absent.
    pub fn after_unknown(&mut self, step: Step) -> Vec<State> {
        let seen = match step.expect {
            Expect::Is(answer) => Some(answer),
            Expect::Any | Expect::Never(_) => None,
        };
        match step.command {
            Command::Get | Command::Exists | Command::TimeToLive => match seen {
                Some(Answer::Value(NIL) | Answer::Flag(false) | Answer::Ttl(Ttl::Absent)) => {
                    vec![ABSENT]
                }
                _ => vec![UNKNOWN],
            },
            Command::Delete { .. } | Command::Expire { now: true } => vec![ABSENT],
            Command::Set {
                value,
                condition,
                get,
                lifetime,
            } => self.set_on_unknown(value, condition, get, lifetime, seen),
            Command::MgetKey
            | Command::Strlen
            | Command::Increment { .. }
            | Command::Append { .. }
            | Command::Expire { now: false }
            | Command::Persist
            | Command::GetEx { .. }
            | Command::Havoc => vec![UNKNOWN],
        }
    }

    /// A SET on an [`UNKNOWN`] key: it was absent, or held something (a
    /// value of any lifetime, or a collection, which SET overwrites as
    /// well), and the answer tells which where it can.
    fn set_on_unknown(
        &mut self,
        value: ValueId,
        condition: Condition,
        get: bool,
        lifetime: Lifetime,
        seen: Option<Answer>,
    ) -> Vec<State> {
        let mut after = Vec::new();
        for present in [false, true] {
            let writes = match condition {
                Condition::Always => true,
                Condition::IfAbsent => !present,
                Condition::IfPresent => present,
            };
            let agrees = match (seen, get) {
                (None, _) => true,
                (Some(Answer::Value(old)), true) => (old != NIL) == present,
                (Some(Answer::Flag(wrote)), false) => wrote == writes,
                (Some(_), _) => false,
            };
            if !agrees {
                continue;
            }
            match (writes, lifetime) {
                (false, _) if present => after.push(UNKNOWN),
                (false, _) => after.push(ABSENT),
                (true, Lifetime::Clear) => after.push(state_of(value, false)),
                (true, Lifetime::Expiring) => after.push(state_of(value, true)),
                // KEEPTTL keeps a time to live nobody knows of.
                (true, Lifetime::Keep) if present => after.push(UNKNOWN),
                (true, Lifetime::Keep) => after.push(state_of(value, false)),
            }
        }
        after
    }

    /// The states of a set, as a report shows them.
    pub fn show(&self, states: States) -> String {
        let shown: Vec<String> = self
            .states(states)
            .into_iter()
            .map(|state| match self.bytes(value_of(state)) {
                _ if state == UNKNOWN => "unknown".to_string(),
                None => "absent".to_string(),
                Some(bytes) if is_volatile(state) => {
                    let text = crate::check::model::value::short(bytes);
                    format!("{text:?} with a time to live")
                }
                Some(bytes) => format!("{:?}", crate::check::model::value::short(bytes)),
            })
            .collect();
        shown.join(" or ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(command: Command, expect: Expect) -> Step {
        Step { command, expect }
    }

    /// INCR reads strict integers only, refuses to overflow, and an
    /// absent key counts from zero.
    #[test]
    fn increment_follows_the_reference_model() {
        let mut model = Model::default();
        let by_one = Command::Increment { by: Some(1) };
        let (state, answer) = model.apply(ABSENT, by_one);
        assert_eq!(answer, Answer::Integer(1), "an absent key counts from 0");
        assert_eq!(model.bytes(value_of(state)), Some(&b"1"[..]));
        let padded = state_of(model.intern(b"01"), false);
        assert_eq!(model.apply(padded, by_one), (padded, Answer::Error));
        let top = state_of(model.intern(i64::MAX.to_string().as_bytes()), false);
        assert_eq!(model.apply(top, by_one), (top, Answer::Error));
        let unparsed = Command::Increment { by: None };
        assert_eq!(model.apply(ABSENT, unparsed), (ABSENT, Answer::Error));
    }

    /// APPEND of nothing to an absent key creates an empty string, which
    /// exists.
    #[test]
    fn append_creates_the_key() {
        let mut model = Model::default();
        let tail = model.intern(b"");
        let (state, answer) = model.apply(ABSENT, Command::Append { tail });
        assert_eq!(answer, Answer::Integer(0));
        assert_ne!(state, ABSENT, "an empty string is a value");
        assert_eq!(model.apply(state, Command::Exists).1, Answer::Flag(true));
    }

    /// A key with a time to live may be there or gone, until a write
    /// without one or PERSIST settles it; INCR keeps the time to live.
    #[test]
    fn a_time_to_live_lets_the_key_vanish() {
        let mut model = Model::default();
        let value = model.intern(b"5");
        let set_ex = Command::Set {
            value,
            condition: Condition::Always,
            get: false,
            lifetime: Lifetime::Expiring,
        };
        let wrote = step(set_ex, Expect::Is(Answer::Flag(true)));
        let states = model.run(ABSENT, &[wrote]).expect("SET EX runs");
        assert_eq!(model.show(states), "absent or \"5\" with a time to live");
        let gone = step(Command::Get, Expect::Is(Answer::Value(NIL)));
        let there = step(Command::Get, Expect::Is(Answer::Value(value)));
        assert_eq!(model.run(states, &[gone]), Some(ABSENT));
        let incremented = step(
            Command::Increment { by: Some(1) },
            Expect::Is(Answer::Integer(6)),
        );
        let states = model.run(states, &[incremented]).expect("INCR of 5");
        assert_eq!(model.show(states), "absent or \"6\" with a time to live");
        let persisted = step(Command::Persist, Expect::Is(Answer::Flag(true)));
        let states = model.run(states, &[persisted]).expect("PERSIST");
        assert_eq!(model.show(states), "\"6\"");
        assert_eq!(model.run(states, &[there]), None, "6 is not 5");
        let seen = step(Command::TimeToLive, Expect::Is(Answer::Ttl(Ttl::Expiring)));
        assert_eq!(model.run(states, &[seen]), None, "PERSIST removed it");
    }
}
