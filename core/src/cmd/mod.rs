//! The command table and the path every request takes through it.
//!
//! Each command family lives in its own file with its table of
//! [`CommandSpec`]s, its argument parsing, its execution and its replies side
//! by side. This module checks what is common to all of them in one place,
//! in Redis's order (`processCommand`): the name, the arity, authentication,
//! `maxmemory` (eviction first, then the OOM refusal, also at MULTI queue
//! time: see `crate::evict`), the pub/sub context, MULTI queueing; then it
//! runs the handler and reports the execution to the trace.

pub mod bits;
pub mod blocked;
pub mod connection;
pub mod debug;
pub mod dump;
pub mod hash;
pub mod keys;
pub mod list;
pub mod memory;
pub mod observe;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod set;
pub mod sort;
pub mod string;
pub mod transaction;
pub mod zset;

use std::borrow::Cow;

use crate::blocking::BlockedOn;
use crate::client::Client;
use crate::db::value::Typed;
use crate::db::{AccessClock, Db, Value};
use crate::env::{Env, Trace};
use crate::evict::{self, Eviction, ERR_OOM};
use crate::observe::{self as observing, SlowEntry};
use crate::planted::{self, PlantedBug};
use crate::resp::{parse_i64, Out};
use crate::server::{Server, Stats};

/// Command flags, Redis's names.
pub mod flag {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const LOADING: u32 = 1 << 6;
    pub const STALE: u32 = 1 << 7;
    pub const FAST: u32 = 1 << 8;
    pub const NO_AUTH: u32 = 1 << 9;
    /// Runs even in MULTI instead of being queued (EXEC, DISCARD, ...).
    pub const NO_MULTI_QUEUE: u32 = 1 << 10;
    /// Refused inside MULTI with Redis's "not allowed" error.
    pub const NO_MULTI: u32 = 1 << 11;
    pub const BLOCKING: u32 = 1 << 12;
    pub const ALLOW_BUSY: u32 = 1 << 13;
    /// Allowed in the RESP2 pub/sub context.
    pub const SUBSCRIBED_OK: u32 = 1 << 14;
    /// Allowed only as `enable-debug-command` says (Redis's `protected`,
    /// which COMMAND INFO does not list).
    pub const PROTECTED: u32 = 1 << 15;

    /// Flag names as COMMAND INFO lists them.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (BLOCKING, "blocking"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Runs a command: reads `ctx.argv`, acts, and writes exactly one reply,
/// or returns the error to reply with (and then writes nothing).
pub type Handler = fn(&mut Ctx<'_>) -> Outcome;

/// What a handler ends with.
pub type Outcome = Result<(), Error>;

/// Finds the keys of a command whose keys move with its arguments.
pub type KeysOf = fn(&[Vec<u8>]) -> Vec<usize>;

/// Keys counted by a `numkeys` argument at `at`, following it; `None` when
/// the count is not a number or runs past the arguments.
fn counted_keys(argv: &[Vec<u8>], at: usize) -> Vec<usize> {
    let count = argv
        .get(at)
        .and_then(|word| parse_i64(word))
        .filter(|&n| n > 0 && (n as usize) < argv.len().saturating_sub(at));
    match count {
        Some(n) => (at + 1..=at + n as usize).collect(),
        None => Vec::new(),
    }
}

/// `CMD numkeys key ...` (LMPOP, SINTERCARD, ZUNION, ZMPOP, ...).
pub fn keys_counted_at_1(argv: &[Vec<u8>]) -> Vec<usize> {
    counted_keys(argv, 1)
}

/// `CMD timeout numkeys key ...` (BLMPOP, BZMPOP).
pub fn keys_counted_at_2(argv: &[Vec<u8>]) -> Vec<usize> {
    counted_keys(argv, 2)
}

/// `CMD destination numkeys key ...` (ZUNIONSTORE, ZINTERSTORE,
/// ZDIFFSTORE): the destination, then the counted keys.
pub fn keys_destination_then_counted(argv: &[Vec<u8>]) -> Vec<usize> {
    let mut keys = vec![1];
    keys.extend(counted_keys(argv, 2));
    keys
}

/// A command's error reply, returned rather than written, so that `?` ends
/// a handler at the first failure: a wrong type, a bad argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The key holds a value of another type ([`ERR_WRONG_TYPE`]).
    WrongType,
    /// Any other error: the reply's text, its code first (`ERR ...`).
    Reply(Cow<'static, str>),
}

impl Error {
    /// An error reply with this text.
    pub fn msg(text: &str) -> Self {
        Error::Reply(Cow::Owned(text.to_owned()))
    }

    /// The error reply's text.
    pub fn text(&self) -> &str {
        match self {
            Error::WrongType => ERR_WRONG_TYPE,
            Error::Reply(text) => text,
        }
    }
}

impl From<WrongType> for Error {
    fn from(_: WrongType) -> Self {
        Error::WrongType
    }
}

impl From<&'static str> for Error {
    fn from(text: &'static str) -> Self {
        Error::Reply(Cow::Borrowed(text))
    }
}

impl From<String> for Error {
    fn from(text: String) -> Self {
        Error::Reply(Cow::Owned(text))
    }
}

/// One command (or subcommand) and its metadata, as COMMAND reports it.
pub struct CommandSpec {
    /// Lower case; subcommands hold only their own word (`get`).
    pub name: &'static str,
    /// Redis's arity: `n` exactly n words, `-n` at least n (name included).
    pub arity: i32,
    pub flags: u32,
    /// Key positions: first, last (negative counts from the end), step.
    pub keys: (i32, i32, i32),
    /// For commands whose keys move with their arguments (a `numkeys`
    /// count, SORT's STORE): the positions of the keys in an argv.
    /// COMMAND INFO then flags the command `movablekeys`.
    pub movable: Option<KeysOf>,
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    /// A command with no key, documentation or subcommands yet: the start
    /// of a one-line declaration,
    /// `CommandSpec::new("lpush", -3, WRITE_FAST, lpush).key(1).doc(...)`.
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            keys: (0, 0, 0),
            movable: None,
            group: "",
            since: "",
            summary: "",
            complexity: "",
            handler,
            subcommands: &[],
        }
    }

    /// A container command's subcommands (`MEMORY USAGE`, ...).
    pub const fn subs(mut self, subcommands: &'static [CommandSpec]) -> Self {
        self.subcommands = subcommands;
        self
    }

    /// One key, at argument `index`.
    pub const fn key(self, index: i32) -> Self {
        self.keys(index, index, 1)
    }

    /// Keys from argument `first` to `last` (negative: from the end), every
    /// `step` arguments.
    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> Self {
        self.keys = (first, last, step);
        self
    }

    /// Keys found by `keys_of` in each call's arguments.
    pub const fn movable(mut self, keys_of: KeysOf) -> Self {
        self.movable = Some(keys_of);
        self
    }

    /// The positions of the keys in `argv`: the declared range, or what
    /// the movable-keys function finds.
    pub fn key_positions(&self, argv: &[Vec<u8>]) -> Vec<usize> {
        if let Some(keys_of) = self.movable {
            return keys_of(argv);
        }
        let (first, last, step) = self.keys;
        if first <= 0 {
            return Vec::new();
        }
        let last = if last < 0 {
            argv.len() as i32 + last
        } else {
            last
        };
        (first..=last)
            .step_by(step.max(1) as usize)
            .map(|at| at as usize)
            .filter(|&at| at < argv.len())
            .collect()
    }

    /// What COMMAND DOCS says: the group, the version that introduced it,
    /// a summary and the complexity.
    pub const fn doc(
        mut self,
        group: &'static str,
        since: &'static str,
        summary: &'static str,
        complexity: &'static str,
    ) -> Self {
        self.group = group;
        self.since = since;
        self.summary = summary;
        self.complexity = complexity;
        self
    }

    pub fn is_write(&self) -> bool {
        self.flags & flag::WRITE != 0
    }
}

/// The HELP subcommand of a container command (CONFIG HELP, CLIENT
/// HELP, ...): same arity, flags and documentation everywhere.
pub const fn help_subcommand(
    group: &'static str,
    since: &'static str,
    handler: Handler,
) -> CommandSpec {
    CommandSpec {
        name: "help",
        arity: 2,
        flags: flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group,
        since,
        summary: "Returns helpful text about the different subcommands.",
        complexity: "O(1)",
        handler,
        subcommands: &[],
    }
}

/// Longest command name the lookup index covers.
const COMMAND_NAME_BYTES_MAX: usize = 32;

/// Every top-level command, by name.
pub struct CommandTable {
    sorted: Vec<&'static CommandSpec>,
    /// `sorted` regrouped by (name length, first byte): each group is a
    /// run of `by_shape`, found through `shapes` without hashing the name.
    by_shape: Vec<&'static CommandSpec>,
    /// For each shape (see `shape`), its run in `by_shape`.
    shapes: Vec<(u16, u16)>,
}

/// The index of a name's (length, first byte, lower-cased) group, if a
/// command could have that shape.
fn shape(name: &[u8]) -> Option<usize> {
    let first = name.first()?.to_ascii_lowercase();
    if name.len() > COMMAND_NAME_BYTES_MAX || !first.is_ascii_lowercase() {
        return None;
    }
    Some(name.len() * 26 + usize::from(first - b'a'))
}

impl CommandTable {
    pub fn new() -> Self {
        let families: [&'static [CommandSpec]; 18] = [
            bits::COMMANDS,
            connection::COMMANDS,
            debug::COMMANDS,
            dump::COMMANDS,
            hash::COMMANDS,
            keys::COMMANDS,
            list::COMMANDS,
            memory::COMMANDS,
            observe::COMMANDS,
            pubsub::COMMANDS,
            replication::COMMANDS,
            scripting::COMMANDS,
            server::COMMANDS,
            set::COMMANDS,
            sort::COMMANDS,
            string::COMMANDS,
            transaction::COMMANDS,
            zset::COMMANDS,
        ];
        let mut sorted: Vec<&'static CommandSpec> =
            families.iter().flat_map(|f| f.iter()).collect();
        sorted.sort_by_key(|spec| spec.name);
        for pair in sorted.windows(2) {
            assert_ne!(pair[0].name, pair[1].name, "command defined twice");
        }
        let mut by_shape = sorted.clone();
        let shape_of = |spec: &&CommandSpec| {
            shape(spec.name.as_bytes()).expect("a command name is short and starts with a letter")
        };
        by_shape.sort_by_key(shape_of);
        let mut shapes = vec![(0, 0); (COMMAND_NAME_BYTES_MAX + 1) * 26];
        for (at, spec) in by_shape.iter().enumerate() {
            let run = &mut shapes[shape_of(spec)];
            if run.0 == run.1 {
                *run = (at as u16, at as u16);
            }
            run.1 = at as u16 + 1;
        }
        CommandTable {
            sorted,
            by_shape,
            shapes,
        }
    }

    /// Looks a command up by name, case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        let (start, end) = self.shapes[shape(name)?];
        self.by_shape[usize::from(start)..usize::from(end)]
            .iter()
            .find(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
            .copied()
    }

    pub fn all(&self) -> &[&'static CommandSpec] {
        &self.sorted
    }
}

impl Default for CommandTable {
    fn default() -> Self {
        Self::new()
    }
}

/// The process-wide command table, built on first use.
pub fn table() -> &'static CommandTable {
    static TABLE: std::sync::OnceLock<CommandTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(CommandTable::new)
}

/// One server's view of the command table: the process-wide table with
/// that server's `rename-command`s applied, as Redis applies them to its
/// one table. Every lookup a client, a script, MULTI, the AOF loader or the
/// master's stream makes goes through it; COMMAND lists through it.
#[derive(Clone, Copy)]
pub struct Commands<'a> {
    table: &'static CommandTable,
    renamed: &'a [crate::config::RenamedCommand],
}

/// The command table as the server configured by `config` sees it.
pub fn commands(config: &crate::Config) -> Commands<'_> {
    Commands {
        table: table(),
        renamed: &config.renamed_commands,
    }
}

impl<'a> Commands<'a> {
    /// Looks a command up by the name it answers to, case-insensitively:
    /// a renamed command by its new name only, a disabled one not at all.
    pub fn get(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        if self.renamed.is_empty() {
            return self.table.get(name);
        }
        let renamed = |r: &&crate::config::RenamedCommand| {
            !r.name.is_empty() && r.name.as_bytes().eq_ignore_ascii_case(name)
        };
        if let Some(rename) = self.renamed.iter().find(renamed) {
            return self.table.get(rename.original.as_bytes());
        }
        let spec = self.table.get(name)?;
        let moved = self.renamed.iter().any(|r| r.original == spec.name);
        (!moved).then_some(spec)
    }

    /// Every command that answers to some name, in the table's order (a
    /// renamed one under its own name, as Redis's COMMAND LIST shows it).
    pub fn all(&self) -> Vec<&'static CommandSpec> {
        self.table
            .all()
            .iter()
            .copied()
            .filter(|spec| {
                !self
                    .renamed
                    .iter()
                    .any(|r| r.original == spec.name && r.name.is_empty())
            })
            .collect()
    }

    /// [`resolve`] through this view.
    pub fn resolve(&self, argv: &[Vec<u8>]) -> Result<Resolved, String> {
        let Some(spec) = self.get(&argv[0]) else {
            return Err(unknown_command_error(argv));
        };
        resolve_spec(spec, argv)
    }
}

/// A resolved command: the spec to run and its full name (`config|get`).
pub struct Resolved {
    pub spec: &'static CommandSpec,
    pub full_name: Cow<'static, str>,
}

/// Finds the spec for `argv`, descending into subcommands, and checks arity.
/// On failure returns Redis's error text.
pub fn resolve(table: &CommandTable, argv: &[Vec<u8>]) -> Result<Resolved, String> {
    let Some(spec) = table.get(&argv[0]) else {
        return Err(unknown_command_error(argv));
    };
    resolve_spec(spec, argv)
}

/// Descends from the top-level `spec` that `argv[0]` named into its
/// subcommand, and checks arity.
fn resolve_spec(spec: &'static CommandSpec, argv: &[Vec<u8>]) -> Result<Resolved, String> {
    if spec.subcommands.is_empty() || argv.len() < 2 {
        check_arity(spec, spec.name, argv.len())?;
        return Ok(Resolved {
            spec,
            full_name: Cow::Borrowed(spec.name),
        });
    }
    let word = String::from_utf8_lossy(&argv[1]).to_ascii_lowercase();
    let Some(sub) = spec.subcommands.iter().find(|s| s.name == word) else {
        return Err(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            truncate(&String::from_utf8_lossy(&argv[1]), 128),
            spec.name.to_ascii_uppercase()
        ));
    };
    let full_name = format!("{}|{}", spec.name, sub.name);
    check_arity(sub, &full_name, argv.len())?;
    Ok(Resolved {
        spec: sub,
        full_name: Cow::Owned(full_name),
    })
}

fn check_arity(spec: &CommandSpec, full_name: &str, words: usize) -> Result<(), String> {
    let words = words as i32;
    let fits = if spec.arity >= 0 {
        words == spec.arity
    } else {
        words >= -spec.arity
    };
    if fits {
        Ok(())
    } else {
        Err(format!(
            "ERR wrong number of arguments for '{full_name}' command"
        ))
    }
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// Redis's reply to an unknown command, quoting the first arguments.
fn unknown_command_error(argv: &[Vec<u8>]) -> String {
    let mut args = String::new();
    for arg in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let remaining = 128 - args.len();
        args.push_str(&format!(
            "'{}' ",
            truncate(&String::from_utf8_lossy(arg), remaining)
        ));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {}",
        truncate(&String::from_utf8_lossy(&argv[0]), 128),
        args
    )
}

/// Everything a command handler may touch.
pub struct Ctx<'a> {
    pub server: &'a mut Server,
    pub client: &'a mut Client,
    pub argv: &'a [Vec<u8>],
    /// Wall-clock milliseconds, read once per command (once per EXEC).
    pub now_ms: i64,
    pub env: &'a mut dyn Env,
    /// Whether the command may block the client: a top-level command,
    /// not one run by EXEC or replayed from disk.
    pub may_block: bool,
}

/// The running client's database and its reply, borrowed apart so a
/// handler can read a value and reply from it at once.
pub struct Reader<'c> {
    db: &'c mut Db,
    stats: &'c mut Stats,
    now_ms: i64,
}

impl Reader<'_> {
    /// The live value of type `T` under `key`, counting a keyspace hit or
    /// miss; [`Error::WrongType`] if it holds another type.
    pub fn read<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&T>, Error> {
        let found = self.db.get(key, self.now_ms);
        match found {
            Some(_) => self.stats.keyspace_hits += 1,
            None => self.stats.keyspace_misses += 1,
        }
        match found {
            None => Ok(None),
            Some(value) => T::of(value).map(Some).ok_or(Error::WrongType),
        }
    }
}

/// Most bytes one reply may grow to while a command keeps adding to it
/// on a client's say-so (SRANDMEMBER with a count of -10^18): past it the
/// command stops and the client is closed after its output, as Redis closes
/// a client whose output outgrew its limit (`CLIENT_CLOSE_ASAP`), instead
/// of growing without end.
pub const REPLY_BYTES_MAX: usize = 1 << 30;

/// Whether `client`'s output has grown past [`REPLY_BYTES_MAX`]; if so,
/// the client is marked to close once its output has gone.
pub fn reply_overflowing(client: &mut Client) -> bool {
    let over = client.out.len() > REPLY_BYTES_MAX;
    client.close_after_reply |= over;
    over
}

/// A key holds a value of another type than the command works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// A blocking command's timeout argument, seconds as Redis reads them (a
/// long double, rounded up to whole milliseconds: `0.0001` waits 1 ms,
/// `-0.0001` rounds to 0 and waits forever), in milliseconds, 0 meaning
/// forever. Errors: `ERR timeout is not a float or out of range`, `ERR
/// timeout is negative`.
pub fn timeout_arg(text: &[u8]) -> Result<u64, Error> {
    crate::db::value::zset::number::parse_timeout_ms(text).map_err(|negative| {
        Error::from(if negative {
            "ERR timeout is negative"
        } else {
            "ERR timeout is not a float or out of range"
        })
    })
}

/// Redis's common error replies.
pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
pub const ERR_WRONG_TYPE: &str =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_SUCH_KEY: &str = "ERR no such key";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";

impl<'a> Ctx<'a> {
    /// The database and the reply, apart: `let (mut db, out) = ctx.split();`.
    pub fn split(&mut self) -> (Reader<'_>, &mut Out) {
        let reader = Reader {
            db: &mut self.server.keyspace.dbs[self.client.db],
            stats: &mut self.server.stats,
            now_ms: self.now_ms,
        };
        (reader, &mut self.client.out)
    }

    /// The live value of type `T` under `key`, to read (counts a keyspace
    /// hit or miss).
    pub fn read<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&T>, Error> {
        let (mut reader, _) = self.split();
        match reader.read::<T>(key)? {
            None => Ok(None),
            Some(_) => {
                let now = self.now_ms;
                Ok(self.db().peek(key, now).and_then(T::of))
            }
        }
    }

    /// Whether `key` holds a live value of type `T`, without counting a
    /// keyspace hit or miss or touching it; [`Error::WrongType`] if it
    /// holds another type.
    pub fn holds<T: Typed>(&mut self, key: &[u8]) -> Result<bool, Error> {
        let now = self.now_ms;
        match self.db().peek(key, now) {
            None => Ok(false),
            Some(value) => T::of(value).map(|_| true).ok_or(Error::WrongType),
        }
    }

    /// Whether the command runs again for a client it blocked (see
    /// `cmd::blocked`).
    pub fn serving_blocked(&self) -> bool {
        self.client.blocked.is_some()
    }

    /// The live value of type `T` under `key`, to change in place (WATCH
    /// sees the change). The handler removes the key if it leaves the
    /// collection empty ([`Ctx::drop_if_empty`]).
    pub fn write<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&mut T>, Error> {
        let now = self.now_ms;
        match self.db().get_mut(key, now) {
            None => Ok(None),
            Some(value) => T::of_mut(value).map(Some).ok_or(Error::WrongType),
        }
    }

    /// The live value of type `T` under `key`, looked up as Redis's
    /// `lookupKeyWrite` does for a write command that may change nothing:
    /// no keyspace hit or miss counted, no change signalled to WATCH.
    /// Change it through [`Ctx::write`] once the command knows it will.
    pub fn lookup_write<T: Typed>(&mut self, key: &[u8]) -> Result<Option<&T>, Error> {
        let now = self.now_ms;
        match self.db().get(key, now) {
            None => Ok(None),
            Some(value) => T::of(value).map(Some).ok_or(Error::WrongType),
        }
    }

    /// Like [`Ctx::write`], creating an empty value when the key is
    /// missing.
    pub fn write_or_create<T: Typed>(&mut self, key: &[u8]) -> Result<&mut T, Error> {
        let now = self.now_ms;
        let exists = match self.db().peek(key, now) {
            None => false,
            Some(value) => T::of(value).map(|_| true).ok_or(Error::WrongType)?,
        };
        if !exists {
            let empty = T::new_empty(&self.server.config.encodings).into_value();
            self.db().set(key, empty);
        }
        let value = self
            .db()
            .get_mut(key, now)
            .expect("the key was just found or created");
        Ok(T::of_mut(value).expect("the key holds this type"))
    }

    /// For commands that draw random numbers while they read a value
    /// (SRANDMEMBER, HRANDFIELD): the value of type `T` under `key`, the
    /// client (to reply) and the random source, borrowed apart. Counts no
    /// keyspace hit or miss (the command's [`Ctx::read`] did); `None` for a
    /// missing key or one of another type.
    pub fn read_with_random<T: Typed>(
        &mut self,
        key: &[u8],
    ) -> (Option<&T>, &mut Client, &mut dyn Env) {
        let db = &mut self.server.keyspace.dbs[self.client.db];
        let value = db.peek(key, self.now_ms).and_then(T::of);
        (value, &mut *self.client, &mut *self.env)
    }

    /// Like [`Ctx::read_with_random`], for a command that changes the value
    /// (SPOP): the value to change in place (WATCH sees the change).
    pub fn write_with_random<T: Typed>(
        &mut self,
        key: &[u8],
    ) -> (Option<&mut T>, &mut Client, &mut dyn Env) {
        let db = &mut self.server.keyspace.dbs[self.client.db];
        let value = db.get_mut(key, self.now_ms).and_then(T::of_mut);
        (value, &mut *self.client, &mut *self.env)
    }

    /// Removes `key` if it holds a collection with nothing left in it,
    /// notifying `del` as Redis does (see `crate::notify`).
    pub fn drop_if_empty(&mut self, key: &[u8]) {
        let now = self.now_ms;
        let empty = self
            .db()
            .peek(key, now)
            .is_some_and(Value::is_empty_collection);
        if empty {
            self.db().remove(key, now);
            self.notify(crate::notify::class::GENERIC, "del", key);
        }
    }

    /// Blocks the client on `keys` until one of them can serve it or
    /// `timeout_ms` (0: never) passes; the handler writes no reply then.
    /// Not allowed when [`Ctx::may_block`] is false: the handler answers
    /// as if the timeout had passed.
    pub fn block_on(&mut self, keys: Vec<Vec<u8>>, timeout_ms: u64) {
        assert!(self.may_block, "blocking where a command may not block");
        let deadline_ms = (timeout_ms > 0).then(|| self.env.monotonic_ms() + timeout_ms);
        self.server.block_request = Some(BlockedOn {
            db: self.client.db,
            keys,
            deadline_ms,
            argv: self.argv.to_vec(),
        });
    }

    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.server.keyspace.dbs[self.client.db]
    }

    pub fn out(&mut self) -> &mut Out {
        &mut self.client.out
    }

    pub fn error(&mut self, message: &str) {
        self.client.out.error(message);
    }

    /// Argument `i`, as bytes.
    pub fn arg(&self, i: usize) -> &'a [u8] {
        &self.argv[i]
    }

    /// Argument `i`, upper-cased, for keyword matching.
    pub fn keyword(&self, i: usize) -> String {
        String::from_utf8_lossy(&self.argv[i]).to_ascii_uppercase()
    }

    /// Argument `i` as an integer, or the integer error reply and `None`.
    pub fn int_arg(&mut self, i: usize) -> Option<i64> {
        let value = parse_i64(&self.argv[i]);
        if value.is_none() {
            self.error(ERR_NOT_INTEGER);
        }
        value
    }

    /// Argument `i` as Redis's `getRangeLongFromObjectOrReply` reads it: an
    /// integer from `min` to `max`. The error is `message` if given (for a
    /// number out of range and for no number alike, as in Redis), else the
    /// integer error or `ERR value is out of range, value must between
    /// <min> and <max>`.
    pub fn range_arg(
        &self,
        i: usize,
        min: i64,
        max: i64,
        message: Option<&'static str>,
    ) -> Result<i64, Error> {
        let Some(value) = parse_i64(&self.argv[i]) else {
            return Err(message.unwrap_or(ERR_NOT_INTEGER).into());
        };
        if (min..=max).contains(&value) {
            return Ok(value);
        }
        Err(match message {
            Some(text) => text.into(),
            None => format!("ERR value is out of range, value must between {min} and {max}").into(),
        })
    }

    /// Argument `i` as Redis's `getPositiveLongFromObjectOrReply` reads it:
    /// an integer of 0 or more, else `message` (Redis's default: `ERR value
    /// is out of range, must be positive`, also for no number at all).
    pub fn positive_arg(&self, i: usize, message: Option<&'static str>) -> Result<i64, Error> {
        let message = message.unwrap_or("ERR value is out of range, must be positive");
        self.range_arg(i, 0, i64::MAX, Some(message))
    }

    /// Reads a live string value, counting keyspace hits and misses.
    /// `Err(WrongType)` when the key holds another type; the caller replies
    /// with [`ERR_WRONG_TYPE`].
    pub fn get_string(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, WrongType> {
        let now = self.now_ms;
        let found = self.server.keyspace.dbs[self.client.db].get(key, now);
        match &found {
            Some(_) => self.server.stats.keyspace_hits += 1,
            None => self.server.stats.keyspace_misses += 1,
        }
        match found {
            None => Ok(None),
            Some(Value::String(bytes)) => Ok(Some(bytes.clone())),
            Some(_) => Err(WrongType),
        }
    }
    /// Whether an absolute expiry time means "delete now" (Redis's
    /// checkAlreadyExpired): never while loading, where the log is replayed
    /// as it was written and expiry waits until the load is done, and never
    /// on a replica, whose clock may run ahead of its master's: the key
    /// goes when the master's DEL arrives.
    pub fn already_expired(&self, at_ms: i64) -> bool {
        let replica = self.server.repl.is_replica()
            && !planted::active(&self.server.config, PlantedBug::ReplicaExpiresByItsClock);
        at_ms <= self.now_ms && !self.server.loading && !replica
    }

    /// Counts `n` changes to the dataset (`rdb_changes_since_last_save`).
    pub fn dirty(&mut self, n: u64) {
        self.server.dirty += n;
    }

    /// Propagates the command even if it changed nothing (FLUSHDB on an
    /// empty database), as Redis forces it.
    pub fn force_propagation(&mut self) {
        self.server.force_propagation = true;
    }

    /// Propagates `argv` to the AOF (and replicas) instead of the command as
    /// the client sent it, when the two would replay differently: relative
    /// expiry made absolute, a float increment as the value it produced.
    /// Only takes effect if the command changed the dataset.
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        self.server.propagate_override = Some(vec![argv]);
    }

    /// Propagates several commands instead of the running one, in order
    /// (SPOP with a count as one SREM per member, as Redis 7.0's
    /// `alsoPropagate`); more than one are wrapped in MULTI/EXEC when the
    /// top-level command is committed. Only takes effect if the command
    /// changed the dataset.
    pub fn propagate_as_several(&mut self, commands: Vec<Vec<Vec<u8>>>) {
        self.server.propagate_override = Some(commands);
    }

    pub fn random(&mut self) -> u64 {
        self.env.random_u64()
    }
}

/// Runs one parsed request for `client`, with all of Redis's checks, writing
/// the reply to the client's output. Returns the arguments, for their
/// buffers to be reused.
pub fn process(
    server: &mut Server,
    client: &mut Client,
    env: &mut dyn Env,
    argv: Vec<Vec<u8>>,
) -> Vec<Vec<u8>> {
    let reply_start = client.out.buf.len();
    let errors_before = client.out.errors;
    client.reply_skip_this = std::mem::take(&mut client.reply_skip_next);
    let (argv, executed) = if client.monitor && touches_keyspace(commands(&server.config), &argv) {
        // A client in MONITOR mode is a replica to Redis, kept off the data.
        client
            .out
            .error("ERR Replica can't interact with the keyspace");
        (argv, false)
    } else {
        dispatch(server, client, env, argv)
    };
    let skip = std::mem::take(&mut client.reply_skip_this);
    if (client.reply_off || skip) && client.blocked.is_none() && !subscribes(&argv) {
        // CLIENT REPLY OFF or SKIP: the reply goes nowhere. (Subscription
        // confirmations are pushes, which Redis sends all the same.)
        client.out.buf.truncate(reply_start);
    }
    if !executed {
        let written = (client.out.errors - errors_before) as usize;
        if written > 0 {
            let errors = observing::reply_errors(&client.out.buf[reply_start..]);
            for message in &errors[errors.len().saturating_sub(written)..] {
                server.stats.count_error(message);
            }
            if let Some((spec, full_name)) = spec_of(commands(&server.config), &argv) {
                server.stats.command(spec, &full_name).rejected_calls += 1;
            }
        }
        if !server.loading {
            env.trace(&Trace::Rejected {
                conn: client.id,
                argv: &argv,
                reply: &client.out.buf[reply_start..],
            });
        }
    }
    argv
}

/// Whether `argv` is one of the (un)subscribe commands, whose replies are
/// pushes.
fn subscribes(argv: &[Vec<u8>]) -> bool {
    const NAMES: [&[u8]; 6] = [
        b"subscribe",
        b"unsubscribe",
        b"psubscribe",
        b"punsubscribe",
        b"ssubscribe",
        b"sunsubscribe",
    ];
    argv.first()
        .is_some_and(|name| NAMES.iter().any(|n| name.eq_ignore_ascii_case(n)))
}

/// The command or subcommand `argv` names, whatever its arity, for
/// counting a refusal (`rejected_calls`); `None` for an unknown one.
fn spec_of(
    commands: Commands<'_>,
    argv: &[Vec<u8>],
) -> Option<(&'static CommandSpec, Cow<'static, str>)> {
    let spec = commands.get(argv.first()?)?;
    if spec.subcommands.is_empty() || argv.len() < 2 {
        return Some((spec, Cow::Borrowed(spec.name)));
    }
    let sub = spec
        .subcommands
        .iter()
        .find(|sub| sub.name.as_bytes().eq_ignore_ascii_case(&argv[1]))?;
    Some((sub, Cow::Owned(format!("{}|{}", spec.name, sub.name))))
}

/// Whether `argv` reads or writes the dataset, or may propagate (what a
/// client in MONITOR mode may not run, as Redis's `may_replicate`, write
/// and read flags say).
fn touches_keyspace(commands: Commands<'_>, argv: &[Vec<u8>]) -> bool {
    commands.resolve(argv).is_ok_and(|r| {
        r.spec.flags & (flag::WRITE | flag::READONLY) != 0
            || matches!(
                r.spec.name,
                "publish" | "eval" | "evalsha" | "fcall" | "eval_ro" | "evalsha_ro" | "fcall_ro"
            )
    })
}

/// Whether `argv` waits while writes are paused (a shutdown waits for its
/// replicas), as Redis's write pause holds it: a write command, PUBLISH
/// (it goes down the stream too), a script that may write, or an EXEC
/// whose transaction holds one.
/// Commands queued in MULTI are not held; unknown ones are not either
/// (they fail at once).
pub fn held_by_write_pause(commands: Commands<'_>, client: &Client, argv: &[Vec<u8>]) -> bool {
    // Scripts may write (Redis's `may_replicate`); the _RO forms may not.
    let writes = |argv: &[Vec<u8>]| {
        commands.resolve(argv).is_ok_and(|r| {
            r.spec.is_write() || matches!(r.spec.name, "publish" | "eval" | "evalsha" | "fcall")
        })
    };
    let Ok(resolved) = commands.resolve(argv) else {
        return false;
    };
    match &client.multi {
        Some(transaction) if resolved.spec.name == "exec" => {
            transaction.queued.iter().any(|queued| writes(queued))
        }
        Some(_) => false,
        None => writes(argv),
    }
}

/// The checks before execution, then execution. Returns the arguments back
/// and whether the command ran (false: queued or refused).
fn dispatch(
    server: &mut Server,
    client: &mut Client,
    env: &mut dyn Env,
    argv: Vec<Vec<u8>>,
) -> (Vec<Vec<u8>>, bool) {
    let resolved = commands(&server.config).resolve(&argv);
    let is_master = client.is_master;
    set_access_clock(server, env);
    if refused_queueing_for_memory(server, client, &resolved, env) {
        return (argv, false);
    }
    // DEBUG, as `enable-debug-command` allows it: refused before it runs,
    // and at queue time inside MULTI.
    let protected = match &resolved {
        Ok(r) if r.spec.flags & flag::PROTECTED != 0 => debug::protected_refusal(server, client),
        _ => None,
    };
    if let Some(multi) = &mut client.multi {
        let queue_time = resolved
            .as_ref()
            .map(|r| r.spec.flags & flag::NO_MULTI_QUEUE == 0);
        if !matches!(queue_time, Ok(false)) {
            match resolved {
                Err(error) if argv[0].eq_ignore_ascii_case(b"exec") => {
                    // EXEC with extra words ends the transaction too.
                    abort_exec(server, client, error.strip_prefix("ERR ").unwrap_or(&error));
                }
                Err(error) => {
                    multi.aborted = true;
                    client.out.error(&error);
                }
                Ok(r) if r.spec.is_write() && server.aof_on && server.aof.refusal().is_some() => {
                    multi.aborted = true;
                    client.out.error(&server.aof.refusal().unwrap_or_default());
                }
                Ok(r) if r.spec.is_write() && role_refusal(server, is_master, env).is_some() => {
                    multi.aborted = true;
                    let refusal = role_refusal(server, is_master, env).unwrap_or_default();
                    client.out.error(refusal);
                }
                Ok(_) if protected.is_some() => {
                    multi.aborted = true;
                    client.out.error(protected.as_deref().unwrap_or_default());
                }
                Ok(r) if r.spec.flags & flag::NO_MULTI != 0 => {
                    multi.aborted = true;
                    client
                        .out
                        .error("ERR Command not allowed inside a transaction");
                }
                Ok(_) => {
                    multi.queued.push(argv.clone());
                    client.out.simple("QUEUED");
                }
            }
            return (argv, false);
        }
    }
    let resolved = match resolved {
        Ok(resolved) => resolved,
        Err(error) => {
            client.out.error(&error);
            return (argv, false);
        }
    };
    if !client.authenticated && resolved.spec.flags & flag::NO_AUTH == 0 {
        client.out.error("NOAUTH Authentication required.");
        return (argv, false);
    }
    if let Some(refusal) = protected {
        client.out.error(&refusal);
        return (argv, false);
    }
    if let Some(refusal) = oom_refusal(server, client, &resolved, env) {
        refuse(server, client, &resolved, refusal);
        return (argv, false);
    }
    if client.in_pubsub_context() && resolved.spec.flags & flag::SUBSCRIBED_OK == 0 {
        client.out.error(&format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            resolved.full_name
        ));
        return (argv, false);
    }
    if let Some(refusal) = stale_refusal(server, client, &resolved) {
        refuse(server, client, &resolved, refusal);
        return (argv, false);
    }
    if let Some(refusal) = write_refusal(server, client, &resolved, env) {
        refuse(server, client, &resolved, &refusal);
        return (argv, false);
    }
    if matches!(resolved.spec.name, "scan" | "keys" | "randomkey") {
        server.unwrapped_unit = true;
    }
    let now_ms = env.wall_ms();
    let may_block = !server.loading;
    let mut ctx = Ctx {
        server: &mut *server,
        client: &mut *client,
        argv: &argv,
        now_ms,
        env,
        may_block,
    };
    call(&mut ctx, &resolved, false);
    if let Some(on) = server.block_request.take() {
        server.blocking.block(&mut server.keyspace, client.id, &on);
        client.blocked = Some(on);
    }
    server.commit_propagation(Some(client));
    server.after_propagation(env);
    (argv, true)
}

/// Refuses a command before it runs with `refusal`; a refused EXEC ends
/// the transaction with EXECABORT, as Redis's `execCommandAbort` does, so
/// the client does not queue on forever.
fn refuse(server: &mut Server, client: &mut Client, resolved: &Resolved, refusal: &str) {
    if resolved.spec.name == "exec" && client.multi.is_some() {
        abort_exec(server, client, refusal);
    } else {
        client.out.error(refusal);
    }
}

/// Ends `client`'s transaction with `EXECABORT Transaction discarded
/// because of: <reason>` (Redis's `execCommandAbort`).
pub(crate) fn abort_exec(server: &mut Server, client: &mut Client, reason: &str) {
    client.multi = None;
    server.unwatch_all(client);
    client.out.error(&format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ));
}

/// Stamps the keyspace's access clock for the command about to run: the
/// monotonic second, the policy's kind and, under an LFU policy only, a
/// fresh draw for the counter's coin (see `db::access`).
fn set_access_clock(server: &mut Server, env: &mut dyn Env) {
    let memory = &server.config.memory;
    let lfu = memory.policy.is_lfu();
    let previous = server.keyspace.access_clock();
    server.keyspace.set_access_clock(AccessClock {
        now_ms: env.monotonic_ms(),
        lfu,
        lfu_log_factor: memory.lfu_log_factor,
        lfu_decay_time_min: memory.lfu_decay_time_min,
        coin: if lfu { env.random_u64() } else { previous.coin },
    });
}

/// Redis's memory rule before a command (`processCommand`): with
/// `maxmemory` set, evict first; if memory is still over the limit, a
/// command flagged `denyoom` (an EXEC holding one) is refused with
/// [`ERR_OOM`], and so is anything a client in MULTI would queue. The
/// master's stream is applied whatever this node's memory.
fn oom_refusal(
    server: &mut Server,
    client: &Client,
    resolved: &Resolved,
    env: &mut dyn Env,
) -> Option<&'static str> {
    if server.config.memory.maxmemory_bytes == 0 || server.loading {
        server.keyspace.set_memory_room(u64::MAX);
        server.out_of_memory = false;
        return None;
    }
    let out_of_memory = evict::perform_evictions(server, env) == Eviction::Fail;
    server.out_of_memory = out_of_memory;
    let room = evict::room_bytes(server, env);
    server.keyspace.set_memory_room(room);
    if !out_of_memory || client.is_master {
        return None;
    }
    let name = resolved.spec.name;
    let denyoom = |spec: &CommandSpec| spec.flags & flag::DENYOOM != 0;
    let queued_denyoom = name == "exec"
        && client.multi.as_ref().is_some_and(|m| {
            m.queued.iter().any(|argv| {
                commands(&server.config)
                    .resolve(argv)
                    .is_ok_and(|r| denyoom(r.spec))
            })
        });
    let queuing = client.multi.is_some() && !matches!(name, "exec" | "discard" | "quit" | "reset");
    (denyoom(resolved.spec) || queued_denyoom || queuing).then_some(ERR_OOM)
}

/// A command about to be queued in MULTI, refused by [`oom_refusal`]
/// (queuing consumes memory too): it is answered with the OOM error and
/// the transaction is doomed, as Redis's `rejectCommand` flags it. Whether
/// it was refused.
fn refused_queueing_for_memory(
    server: &mut Server,
    client: &mut Client,
    resolved: &Result<Resolved, String>,
    env: &mut dyn Env,
) -> bool {
    let Ok(resolved) = resolved else {
        return false;
    };
    let queued = resolved.spec.flags & (flag::NO_MULTI_QUEUE | flag::NO_MULTI) == 0;
    if client.multi.is_none() || !queued {
        return false;
    }
    let Some(refusal) = oom_refusal(server, client, resolved, env) else {
        return false;
    };
    if let Some(multi) = &mut client.multi {
        multi.aborted = true;
    }
    client.out.error(refusal);
    true
}

/// The MISCONF error for a write (or an EXEC holding writes) while the AOF
/// cannot be written.
fn write_refusal(
    server: &Server,
    client: &Client,
    resolved: &Resolved,
    env: &dyn Env,
) -> Option<String> {
    if client.is_master || server.loading {
        // The master's stream, and the AOF being loaded, are applied
        // whatever this node thinks (`min-replicas-to-write` included,
        // see `role_refusal`, which queuing in MULTI asks too).
        return None;
    }
    let refusal = match disk_refusal(server) {
        Some(refusal) => refusal,
        None => role_refusal(server, client.is_master, env)?.to_string(),
    };
    let queued_writes = resolved.spec.name == "exec"
        && client.multi.as_ref().is_some_and(|m| {
            m.queued.iter().any(|argv| {
                commands(&server.config)
                    .resolve(argv)
                    .is_ok_and(|r| r.spec.is_write())
            })
        });
    (resolved.spec.is_write() || queued_writes).then_some(refusal)
}

/// The MISCONF error while the AOF cannot be written, or while the last
/// background save failed (`stop-writes-on-bgsave-error`).
pub fn disk_refusal(server: &Server) -> Option<String> {
    match (server.aof_on, server.aof.refusal()) {
        (true, Some(refusal)) => Some(refusal),
        _ => server.bgsave_refusal().map(str::to_string),
    }
}

/// Why a write may not run here for replication's sake: too few good
/// replicas (`min-replicas-to-write`), or a read-only replica. The clock is
/// read only when `min-replicas-to-write` asks for it.
fn role_refusal(server: &Server, is_master: bool, env: &dyn Env) -> Option<&'static str> {
    if is_master || server.loading {
        return None;
    }
    if server.config.repl.min_replicas_to_write > 0 {
        if let Some(refusal) = server.min_replicas_refusal(env.monotonic_ms()) {
            return Some(refusal);
        }
    }
    (server.repl.is_replica() && server.config.repl.replica_read_only)
        .then_some("READONLY You can't write against a read only replica.")
}

/// A replica whose link is down with `replica-serve-stale-data no` runs
/// only the commands flagged `stale`.
fn stale_refusal(server: &Server, client: &Client, resolved: &Resolved) -> Option<&'static str> {
    let link = server.repl.link.as_ref()?;
    let down = link.state != crate::repl::replica::LinkState::Connected;
    let not_stale = |spec: &CommandSpec| spec.flags & flag::STALE == 0;
    // An EXEC is judged by what it would run (the link may have gone down
    // since they were queued), as Redis's `cmd_inv_flags` does.
    let queued_not_stale = resolved.spec.name == "exec"
        && client.multi.as_ref().is_some_and(|m| {
            m.queued.iter().any(|argv| {
                commands(&server.config)
                    .resolve(argv)
                    .is_ok_and(|r| not_stale(r.spec))
            })
        });
    (down
        && !client.is_master
        && !server.config.repl.replica_serve_stale_data
        && (not_stale(resolved.spec) || queued_not_stale))
        .then_some(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        )
}

/// Runs a resolved command and reports it: statistics, the slow log, the
/// latency monitor, MONITOR clients, expired keys, WATCH invalidations and
/// the trace.
pub fn call(ctx: &mut Ctx<'_>, resolved: &Resolved, in_transaction: bool) {
    let reply_start = ctx.client.out.buf.len();
    let errors_before = ctx.client.out.errors;
    // A script's commands reply into the script, not to its caller.
    let from_script = ctx.server.script_running;
    // A blocked command run again was shown to MONITOR when it arrived.
    let rerun = ctx.client.blocked.is_some();
    let monitor_first = runs_script(resolved.spec);
    if monitor_first && !from_script {
        ctx.server.observe.script_errors.clear();
    }
    if monitor_first && !rerun {
        feed_monitors(ctx, resolved, from_script);
    }
    ctx.client.last_command.clear();
    ctx.client.last_command.push_str(&resolved.full_name);
    let dirty_before = ctx.server.dirty;
    ctx.server.propagate_override = None;
    ctx.server.force_propagation = false;
    ctx.server.observe.nested_errors.push(0);
    let started_us = ctx.env.monotonic_us();
    if let Err(error) = (resolved.spec.handler)(ctx) {
        ctx.client.out.error(error.text());
    }
    let duration_us = ctx.env.monotonic_us().saturating_sub(started_us);
    let nested_errors = ctx.server.observe.nested_errors.pop().unwrap_or(0);
    let shown_after = !monitor_first && !rerun && !ctx.server.loading;
    if ctx.server.block_request.is_some() {
        // Blocked: it runs again, and is counted and traced, when served.
        if shown_after {
            feed_monitors(ctx, resolved, from_script);
        }
        ctx.server.after_command(Some(ctx.client), ctx.env);
        return;
    }
    ctx.server.stats.total_commands_processed += 1;
    let written = ctx.client.out.errors - errors_before;
    let failed = count_errors(
        ctx,
        resolved,
        reply_start,
        written,
        nested_errors,
        from_script,
    );
    ctx.server.after_command(Some(ctx.client), ctx.env);
    let rewritten = ctx.server.propagate_override.take();
    if ctx.server.loading {
        return;
    }
    observe_command(ctx, resolved, duration_us, failed, from_script);
    if shown_after {
        feed_monitors(ctx, resolved, from_script);
    }
    let forced = std::mem::take(&mut ctx.server.force_propagation);
    let wanted = ctx.server.propagation_wanted();
    if wanted && resolved.spec.is_write() && (ctx.server.dirty > dirty_before || forced) {
        let db = ctx.client.db;
        match rewritten {
            Some(commands) => {
                for argv in commands {
                    ctx.server.propagate_owned(db, argv, true);
                }
            }
            None => ctx.server.propagate(db, ctx.argv, true),
        }
    }
    ctx.env.trace(&Trace::Executed {
        conn: ctx.client.id,
        db: ctx.client.db,
        argv: ctx.argv,
        reply: &ctx.client.out.buf[reply_start..],
        in_transaction,
        after_block: ctx.client.blocked.is_some(),
    });
}

/// Counts the error replies the command itself wrote (`written` in all,
/// `nested` of them by commands it ran, EXEC's, which counted their own)
/// in `total_error_replies` and errorstats, each once. A script's commands
/// count theirs when they get them, even if the script catches them, and
/// the script's own error reply then counts only if it is not one of
/// those passed on (Redis marks them so). Returns whether the command
/// failed (answered an error).
fn count_errors(
    ctx: &mut Ctx<'_>,
    resolved: &Resolved,
    reply_start: usize,
    written: u64,
    nested: u64,
    from_script: bool,
) -> bool {
    if !from_script {
        if let Some(parent) = ctx.server.observe.nested_errors.last_mut() {
            *parent += written;
        }
    }
    let own = written.saturating_sub(nested) as usize;
    let passed_on = if runs_script(resolved.spec) {
        std::mem::take(&mut ctx.server.observe.script_errors)
    } else {
        Vec::new()
    };
    if own > 0 {
        let errors = observing::reply_errors(&ctx.client.out.buf[reply_start..]);
        let found = &errors[errors.len().saturating_sub(own)..];
        for message in found {
            if passed_on.iter().any(|seen| message.starts_with(seen)) {
                continue;
            }
            ctx.server.stats.count_error(message);
            if from_script {
                ctx.server.observe.note_script_error(message);
            }
        }
        for _ in found.len()..own {
            ctx.server.stats.count_error(b"ERR");
        }
    }
    own > 0
}

/// The commands that run a script or function. MONITOR shows them before
/// they run, so that the script's commands follow them (Redis feeds them
/// from their handlers).
fn runs_script(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    )
}

/// INFO commandstats, the latency monitor (`command`, `fast-command`) and
/// the slow log, for a command that ran for `duration_us`.
fn observe_command(
    ctx: &mut Ctx<'_>,
    resolved: &Resolved,
    duration_us: u64,
    failed: bool,
    from_script: bool,
) {
    let server = &mut *ctx.server;
    let stat = server.stats.command(resolved.spec, &resolved.full_name);
    stat.calls += 1;
    stat.usec += duration_us;
    stat.failed_calls += u64::from(failed);
    stat.record_latency(duration_us);
    let latency_ms = duration_us / 1000;
    let threshold_ms = server.config.latency_monitor_threshold_ms;
    if threshold_ms > 0 && latency_ms >= threshold_ms {
        let event = if resolved.spec.flags & flag::FAST != 0 {
            "fast-command"
        } else {
            "command"
        };
        let now_s = ctx.env.wall_ms().div_euclid(1000);
        server
            .observe
            .latency
            .add_if_needed(threshold_ms, event, latency_ms, now_s);
    }
    let threshold_us = server.config.slowlog_log_slower_than_us;
    // EXEC is not logged itself: the commands it ran are.
    if threshold_us < 0 || resolved.spec.name == "exec" {
        return;
    }
    let max_len = server.config.slowlog_max_len;
    if duration_us < threshold_us as u64 {
        server.observe.slowlog.trim(max_len);
        return;
    }
    let hidden = observing::redacted(&resolved.full_name, ctx.argv);
    let argv = hidden.as_deref().unwrap_or(ctx.argv);
    let (addr, name) = if from_script {
        ("?:0", &b""[..])
    } else {
        (
            ctx.client.info.peer_addr.as_str(),
            ctx.client.name.as_deref().unwrap_or_default(),
        )
    };
    let now_s = ctx.env.wall_ms().div_euclid(1000);
    let entry = SlowEntry::new(duration_us, argv, now_s, addr, name);
    server.observe.slowlog.push(entry, max_len);
}

/// Sends the command to every client in MONITOR mode, as Redis's
/// `replicationFeedMonitors` does: not administrative commands, not while
/// loading; a script's commands with `lua` as their address.
fn feed_monitors(ctx: &mut Ctx<'_>, resolved: &Resolved, from_script: bool) {
    let server = &mut *ctx.server;
    if server.observe.monitors.is_empty()
        || server.loading
        || resolved.spec.flags & flag::ADMIN != 0
    {
        return;
    }
    let hidden = observing::redacted(&resolved.full_name, ctx.argv);
    let argv = hidden.as_deref().unwrap_or(ctx.argv);
    let addr = if from_script {
        "lua"
    } else {
        ctx.client.info.peer_addr.as_str()
    };
    let line = observing::monitor_line(ctx.env.wall_us(), ctx.client.db, addr, argv);
    for &conn in server.observe.monitors.conns() {
        let monitor = if conn == ctx.client.id {
            if from_script {
                continue;
            }
            &mut *ctx.client
        } else if let Some(monitor) = server.clients.get_mut(&conn) {
            monitor
        } else {
            continue;
        };
        if monitor.close_after_reply {
            continue;
        }
        monitor.out.buf.push(b'+');
        monitor.out.buf.extend_from_slice(&line);
        monitor.out.buf.extend_from_slice(b"\r\n");
        if !monitor.pending_write {
            monitor.pending_write = true;
            server.pending_writes.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_found_by_name_in_any_case() {
        let table = table();
        for spec in table.all() {
            let name = spec.name.as_bytes();
            assert!(std::ptr::eq(table.get(name).unwrap(), *spec));
            let upper = name.to_ascii_uppercase();
            assert!(std::ptr::eq(table.get(&upper).unwrap(), *spec));
        }
        for unknown in [
            &b""[..],
            b"s",
            b"sett",
            b"se",
            b"1set",
            b"\xffset",
            &[b'a'; 40],
        ] {
            assert!(table.get(unknown).is_none());
        }
    }
}
