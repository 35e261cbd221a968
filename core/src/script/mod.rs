//! Lua scripting, as Redis 7.0 runs it: EVAL and EVALSHA over a cache of
//! scripts by SHA1, on one Lua 5.1 interpreter shared by every client.
//!
//! A script runs atomically: nothing else runs until it returns. Each
//! `redis.call` goes through the same `cmd::call` as a client's command,
//! writing its reply into a buffer that is read back as Lua values
//! (`reply`), in the script's own database and protocol. Its writes are
//! propagated as the commands it ran (Redis 7's effects replication): the
//! top-level command's unit wraps them in MULTI/EXEC, so the AOF, replicas
//! and the simulator only ever see plain commands. Time stands still
//! inside a script: every command sees the wall-clock time read when the
//! script started.
//!
//! The interpreter is created on first use, so a server that runs no
//! script pays nothing (and the simulator draws nothing for it). Its
//! globals are read-only to scripts, as Redis's are: a script reads an
//! undeclared global or assigns one with an error, and cannot replace the
//! libraries. `math.random` is Redis's lrand48, seeded through `Env`.
//!
//! A script that runs past `busy-reply-threshold` is busy: other clients
//! get `-BUSY`, and SCRIPT KILL or SHUTDOWN NOSAVE can stop it (`busy`).
//! Functions (`function`) are libraries of Lua functions kept with the
//! dataset.
//!
//! Not here yet: `redis.set_repl` other than REPL_ALL, the `struct`
//! library, and the Lua debugger (SCRIPT DEBUG).

mod busy;
pub mod function;
pub mod libs;
pub mod reply;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value, Variadic};
use sha1::{Digest, Sha1};

use crate::cmd::{self, flag, Ctx, Error, Outcome};
use crate::env::LogLevel;
use crate::planted::{self, PlantedBug};
use crate::resp::{split_args, Out, Protocol};

use libs::{format_g, Rand48, RAND48_MAX};

/// The SHA1 of `body` in lower-case hex, as script names are.
pub fn sha1_hex(body: &[u8]) -> String {
    let digest = Sha1::digest(body);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The flags a script declares on its `#!lua flags=...` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// No shebang: Redis's backwards-compatible mode, where the checks are
    /// made per command as the script runs.
    pub compat: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// Reads the shebang line of `body`; returns the flags and the length
    /// of the line (without its line feed, which stays, so that line
    /// numbers do not move). Errors are Redis's.
    pub fn parse(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
        if !body.starts_with(b"#!") {
            return Ok((
                ScriptFlags {
                    compat: true,
                    ..ScriptFlags::default()
                },
                0,
            ));
        }
        let Some(end) = body.iter().position(|&b| b == b'\n') else {
            return Err("ERR Invalid script shebang".into());
        };
        let parts = split_args(&body[..end]).unwrap_or_default();
        let Some(engine) = parts.first() else {
            return Err("ERR Invalid engine in script shebang".into());
        };
        if engine != b"#!lua" {
            return Err(format!(
                "ERR Unexpected engine in script shebang: {}",
                String::from_utf8_lossy(engine)
            ));
        }
        let mut flags = ScriptFlags::default();
        for part in &parts[1..] {
            let Some(list) = part.strip_prefix(b"flags=") else {
                return Err(format!(
                    "ERR Unknown lua shebang option: {}",
                    String::from_utf8_lossy(part)
                ));
            };
            for name in list.split(|&b| b == b',').filter(|name| !name.is_empty()) {
                match name {
                    b"no-writes" => flags.no_writes = true,
                    b"allow-oom" => flags.allow_oom = true,
                    b"allow-stale" => flags.allow_stale = true,
                    b"no-cluster" => flags.no_cluster = true,
                    b"allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                    _ => {
                        return Err(format!(
                            "ERR Unexpected flag in script shebang: {}",
                            String::from_utf8_lossy(name)
                        ))
                    }
                }
            }
        }
        Ok((flags, end))
    }
}

/// A script in the cache.
struct CachedScript {
    flags: ScriptFlags,
    function: Function,
}

/// The interpreter and what the scripts share.
struct Engine {
    lua: Lua,
    /// The real globals, behind the read-only view scripts get.
    globals: Table,
    /// The read-only view of the globals every script runs in.
    sandbox: Table,
    /// The globals of functions: the library API while a library's code
    /// runs (`set_loading`), the scripts' globals otherwise.
    function_sandbox: Table,
    set_loading: Function,
    /// `invoke(f)`: runs `f` under the error handler, as `xpcall`.
    invoke: Function,
}

/// Every script the server knows, and the interpreter they run on.
#[derive(Default)]
pub struct Scripts {
    engine: Option<Engine>,
    /// Scripts run since the last garbage-collection step.
    runs_since_gc: u32,
    cache: BTreeMap<String, CachedScript>,
    /// Bytes of the bodies cached (INFO `used_memory_scripts_eval`); the
    /// bodies themselves live compiled in the interpreter.
    bodies_bytes: usize,
    /// The function libraries, compiled, by name (their code is kept
    /// with the dataset, in `Keyspace::functions`).
    libraries: BTreeMap<String, function::Library>,
    /// Each function's library and registered name, by its name in lower
    /// case (FCALL finds functions in any case, as Redis does).
    function_library: BTreeMap<String, (String, String)>,
}

/// What a script may do, fixed when it starts.
#[derive(Debug, Clone, Copy)]
struct RunLimits {
    read_only: bool,
    caller_is_master: bool,
    /// Functions loaded when it started (FUNCTION STATS while busy).
    functions_loaded: usize,
    /// Declared `allow-oom`: writes run even over `maxmemory`.
    allow_oom: bool,
}

/// The running script's hold on the server, for `redis.call`.
struct Run<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    limits: RunLimits,
    /// The script's database (a SELECT inside moves only this one).
    db: usize,
    /// The protocol of the replies the script reads.
    protocol: Protocol,
    /// A write ran: later writes may not be refused half-way.
    wrote: bool,
    /// The script's name in logs and errors (a SHA1, a function's name),
    /// and whether it is a function.
    name: String,
    is_function: bool,
    /// Monotonic time the script started, and how long it runs before it
    /// is busy (see `busy`).
    started_ms: u64,
    busy_after_ms: u64,
    busy: bool,
    /// Set once SCRIPT KILL or SHUTDOWN NOSAVE stopped the script.
    stop: Option<busy::Stop>,
}

/// The Lua code that wires the sandbox: the error handler (which finds the
/// script's own line under a C function or our wrappers), `invoke`, the
/// `redis.call`/`pcall` wrappers that raise a command's error, Redis's
/// `pcall` that hands back an error table's text, and read-only views.
const PRELUDE: &str = r#"
local dbg, error_text, register_function = ...
local G = _G
local function handler(err)
  if type(err) == 'userdata' then
    -- An error raised by one of our Rust functions: its message alone.
    err = error_text(err)
  end
  local level = 2
  local info = dbg.getinfo(level, 'nSl')
  while info and (info.what == 'C' or info.source == '=redis') do
    level = level + 1
    info = dbg.getinfo(level, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then
    err['source'] = info.source
    err['line'] = info.currentline
  end
  return err
end
local function invoke(f, keys, args)
  if keys == nil then return xpcall(f, handler) end
  return xpcall(function() return f(keys, args) end, handler)
end
local lua_pcall = pcall
local function pack(...) return {n = select('#', ...), ...} end
rawset(G, 'pcall', function(...)
  local result = pack(lua_pcall(...))
  if not result[1] and type(result[2]) == 'table' and type(result[2].err) == 'string' then
    return false, result[2].err
  end
  return unpack(result, 1, result.n)
end)
local lua_setmetatable, lua_rawset, lua_getfenv = setmetatable, rawset, getfenv
local readonly_tables = lua_setmetatable({}, {__mode = 'k'})
local function refuse() error('Attempt to modify a readonly table', 2) end
local function readonly(t, index)
  local meta = {__index = index or t, __newindex = refuse}
  local view = lua_setmetatable({}, meta)
  readonly_tables[view] = true
  local meta_view = lua_setmetatable({}, {__index = meta, __newindex = refuse})
  readonly_tables[meta_view] = true
  meta.__metatable = meta_view
  return view
end
for _, name in ipairs({'redis', 'string', 'math', 'table', 'coroutine', 'bit', 'cjson', 'cmsgpack'}) do
  lua_rawset(G, name, readonly(G[name]))
end
lua_rawset(G, 'setmetatable', function(t, meta)
  if readonly_tables[t] then error('Attempt to modify a readonly table', 2) end
  return lua_setmetatable(t, meta)
end)
lua_rawset(G, 'rawset', function(t, key, value)
  if readonly_tables[t] then error('Attempt to modify a readonly table', 2) end
  return lua_rawset(t, key, value)
end)
lua_rawset(G, 'debug', nil)
lua_rawset(G, 'print', nil)
lua_rawset(G, 'dofile', nil)
lua_rawset(G, 'loadfile', nil)
local sandbox = readonly(G, function(_, name)
  local value = rawget(G, name)
  if value == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end
  return value
end)
-- Code loaded by a script runs in the sandbox too, and only as text
-- (Redis refuses precompiled chunks).
local lua_loadstring, lua_setfenv = loadstring, setfenv
local function load_text(text, name)
  if type(text) == 'string' and text:byte(1) == 27 then
    return nil, 'binary chunks are not allowed'
  end
  local f, problem = lua_loadstring(text, name)
  if f then lua_setfenv(f, sandbox) end
  return f, problem
end
lua_rawset(G, 'loadstring', load_text)
lua_rawset(G, 'load', function(source, name)
  if type(source) ~= 'function' then return load_text(source, name) end
  local pieces = {}
  while true do
    local piece = source()
    if piece == nil or piece == '' then break end
    pieces[#pieces + 1] = piece
  end
  return load_text(table.concat(pieces), name)
end)
lua_rawset(G, 'getfenv', function(f)
  local env = lua_getfenv(f == nil and 2 or (type(f) == 'number' and f > 0 and f + 1 or f))
  if env == G then return sandbox end
  return env
end)
lua_rawset(G, '_G', sandbox)
-- Functions run in globals of their own: the library API while their
-- library's code runs (only `redis`, with register_function and log),
-- the globals scripts see afterwards.
local library_redis = {register_function = register_function, log = G.redis.log}
for _, name in ipairs({'LOG_DEBUG', 'LOG_VERBOSE', 'LOG_NOTICE', 'LOG_WARNING', 'REDIS_VERSION', 'REDIS_VERSION_NUM'}) do
  library_redis[name] = G.redis[name]
end
local function strict(t)
  return readonly(t, function(_, name)
    local value = rawget(t, name)
    if value == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end
    return value
  end)
end
local library_api = {redis = strict(library_redis)}
local loading = false
local function_sandbox = readonly({}, function(_, name)
  local value = rawget(loading and library_api or G, name)
  if value == nil then
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end
  return value
end)
local function set_loading(on) loading = on end
return invoke, sandbox, function_sandbox, set_loading
"#;

impl Engine {
    fn new(seed: u64) -> mlua::Result<Engine> {
        // The debug library is loaded only for the error handler, which
        // keeps it; scripts never see it.
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG;
        let lua = unsafe { Lua::unsafe_new_with(libs, LuaOptions::default()) };
        let globals = lua.globals();
        libs::register(&lua)?;
        let redis = lua.create_table()?;
        register_redis_api(&lua, &redis)?;
        globals.raw_set("redis", redis)?;
        replace_math_random(&lua, seed)?;
        for (at, name) in BRIDGED.iter().enumerate() {
            lua.set_named_registry_value(name, outside_function(&lua, at)?)?;
        }
        set_busy_hook(&lua);
        let debug: Table = globals.raw_get("debug")?;
        let error_text = lua.create_function(|_, error: Value| {
            Ok(match error {
                Value::Error(error) => lua_error_text(&error),
                other => other.to_string().unwrap_or_default(),
            })
        })?;
        // SAFETY: `bridged` follows the Lua C API (see its comment).
        let register_function = unsafe { lua.create_c_function(bridged::<4, true>)? };
        let (invoke, sandbox, function_sandbox, set_loading): (Function, Table, Table, Function) =
            lua.load(PRELUDE)
                .set_name("=redis")
                .call((debug, error_text, register_function))?;
        Ok(Engine {
            lua,
            globals,
            sandbox,
            function_sandbox,
            set_loading,
            invoke,
        })
    }

    /// Compiles a script's body (its shebang line left out) in the
    /// sandbox. The error is Redis's reply.
    fn compile(&self, body: &[u8], shebang_bytes: usize) -> Result<Function, String> {
        self.lua
            .load(&body[shebang_bytes..])
            .set_name("@user_script")
            .set_mode(mlua::ChunkMode::Text)
            .set_environment(self.sandbox.clone())
            .into_function()
            .map_err(|error| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    lua_error_text(&error)
                )
            })
    }
}

/// The text of a Lua error as Lua would print it.
fn lua_error_text(error: &mlua::Error) -> String {
    match error {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) => message.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// Registry names of the functions that reach the running script's
/// server: `redis.call`/`pcall`, `redis.log`, `redis.setresp`,
/// `redis.set_repl`. Each returns `(value, failed)`.
const BRIDGED: [&str; 5] = [
    "redoubt.call",
    "redoubt.log",
    "redoubt.setresp",
    "redoubt.set_repl",
    "redoubt.register_function",
];
/// Sets the busy check: a running script's look at the clock, through
/// the function its run leaves in the registry. Once the script is to
/// stop, the hook fires on every instruction and fails each, so that no
/// `pcall` of the script's own can catch it for long (as Redis's does).
fn set_busy_hook(lua: &Lua) {
    lua.set_hook(
        mlua::HookTriggers::new().every_nth_instruction(busy::CHECK_INSTRUCTIONS),
        |lua, _| {
            if let Ok(Value::Function(check)) = lua.named_registry_value::<Value>(BUSY_CHECK) {
                if let Some(stop) = check.call::<Option<String>>(())? {
                    lua.set_hook(
                        mlua::HookTriggers::new().every_nth_instruction(1),
                        move |_, _| Err(mlua::Error::runtime(stop.clone())),
                    );
                    return Err(mlua::Error::runtime("the script was stopped"));
                }
            }
            Ok(mlua::VmState::Continue)
        },
    );
}

/// Registry name of the running script's busy check.
const BUSY_CHECK: &str = "redoubt.busy";

/// What each bridged function answers when no script runs.
const BRIDGED_OUTSIDE: [&str; 5] = [
    "ERR redis.call/pcall can only be called inside a script invocation",
    "ERR redis.log can only be called inside a script invocation",
    "ERR redis.setresp can only be called inside a script invocation",
    "ERR redis.set_repl can only be called inside a script invocation",
    "ERR redis.register_function can only be called on FUNCTION LOAD command",
];

/// What a bridged function is outside a script run: an error.
fn outside_function(lua: &Lua, at: usize) -> mlua::Result<Function> {
    let message = BRIDGED_OUTSIDE[at];
    lua.create_function(move |lua, _: Variadic<Value>| Ok((error_table(lua, message)?, true)))
}

/// `redis.call` and its kind, as C functions, so that a script's
/// `return redis.call(...)` keeps its own frame (a Lua wrapper would be
/// tail-called over it, losing the line an error names): calls the
/// bridged function `BRIDGED[AT]` with the arguments, then raises its error
/// table when it failed and `RAISE` is set, else returns its value.
///
/// # Safety
/// Called by Lua only, with a valid state; it uses the stack as the Lua C
/// API allows, and `lua_call` and `lua_error` unwind by longjmp, which
/// passes no Rust frame that owns anything.
unsafe extern "C-unwind" fn bridged<const AT: usize, const RAISE: bool>(
    state: *mut mlua::lua_State,
) -> std::os::raw::c_int {
    use mlua::ffi;
    // The arguments go over in one table with their count, so that as
    // many as a C function may take (Lua's stack limit) still fit.
    // The last argument waits in the registry meanwhile: with as many
    // arguments as the stack holds, there is no room for the table yet.
    let args = ffi::lua_gettop(state);
    let parked = c"redoubt.parked";
    if args > 0 {
        ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, parked.as_ptr());
    }
    ffi::lua_createtable(state, args, 0);
    ffi::lua_insert(state, 1);
    for index in (1..args).rev() {
        ffi::lua_rawseti(state, 1, i64::from(index));
    }
    if args > 0 {
        ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, parked.as_ptr());
        ffi::lua_rawseti(state, 1, i64::from(args));
        ffi::lua_pushnil(state);
        ffi::lua_setfield(state, ffi::LUA_REGISTRYINDEX, parked.as_ptr());
    }
    let name = std::ffi::CString::new(BRIDGED[AT]).expect("registry names have no NUL");
    ffi::lua_getfield(state, ffi::LUA_REGISTRYINDEX, name.as_ptr());
    drop(name);
    ffi::lua_insert(state, 1);
    ffi::lua_pushinteger(state, args as ffi::lua_Integer);
    ffi::lua_call(state, 2, 2);
    let failed = ffi::lua_toboolean(state, -1) != 0;
    ffi::lua_settop(state, -2);
    if failed && RAISE {
        ffi::lua_error(state);
    }
    1
}

/// The arguments a bridged function received: `count` values of `table`.
fn arguments(table: Table, count: i64) -> mlua::Result<Vec<Value>> {
    (1..=count).map(|index| table.raw_get(index)).collect()
}

fn register_redis_api(lua: &Lua, redis: &Table) -> mlua::Result<()> {
    // SAFETY: `bridged` follows the Lua C API (see its comment).
    unsafe {
        redis.raw_set("call", lua.create_c_function(bridged::<0, true>)?)?;
        redis.raw_set("pcall", lua.create_c_function(bridged::<0, false>)?)?;
        redis.raw_set("log", lua.create_c_function(bridged::<1, true>)?)?;
        redis.raw_set("setresp", lua.create_c_function(bridged::<2, true>)?)?;
        redis.raw_set("set_repl", lua.create_c_function(bridged::<3, true>)?)?;
    }
    redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", redis_version_num())?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        redis.raw_set(name, level)?;
    }
    for (name, flags) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        redis.raw_set(name, flags)?;
    }
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, args: Variadic<Value>| {
            let [Value::String(text)] = args.as_slice() else {
                let text = match args.as_slice() {
                    [Value::Integer(n)] => n.to_string(),
                    [Value::Number(n)] => format_g(*n, 14),
                    _ => return Err(mlua::Error::runtime("wrong number of arguments")),
                };
                return Ok(sha1_hex(text.as_bytes()));
            };
            Ok(sha1_hex(&text.as_bytes()))
        })?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [Value::String(text)] = args.as_slice() else {
                return error_table(lua, "ERR wrong number or type of arguments");
            };
            let text = String::from_utf8_lossy(&text.as_bytes()).into_owned();
            let text = text.strip_prefix('-').unwrap_or(&text).to_string();
            let message = match text.split_once(' ') {
                Some((code, message)) => format!("{code} {message}"),
                None => format!("ERR {text}"),
            };
            error_table(lua, message.trim_end_matches(['\r', '\n']))
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: Variadic<Value>| {
            let [Value::String(text)] = args.as_slice() else {
                return error_table(lua, "ERR wrong number or type of arguments");
            };
            let table = lua.create_table()?;
            table.raw_set("ok", text.clone())?;
            Ok(table)
        })?,
    )?;
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    redis.raw_set("breakpoint", lua.create_function(|_, ()| Ok(false))?)?;
    redis.raw_set(
        "debug",
        lua.create_function(|_, _: Variadic<Value>| Ok(()))?,
    )?;
    redis.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: Variadic<Value>| {
            let name = match args.first() {
                Some(Value::String(name)) => name.as_bytes().to_vec(),
                _ => {
                    return Err(mlua::Error::runtime(
                        "Please specify at least one argument for this redis lib call",
                    ))
                }
            };
            if cmd::table().get(&name).is_none() {
                return Err(mlua::Error::runtime(
                    "Invalid command passed to redis.acl_check_cmd()",
                ));
            }
            // No ACL users: the default user may run every command.
            Ok(true)
        })?,
    )?;
    Ok(())
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn redis_version_num() -> i64 {
    let mut parts = crate::REDIS_VERSION
        .split('.')
        .map(|part| part.parse::<i64>().unwrap_or(0));
    let mut next = || parts.next().unwrap_or(0);
    (next() << 16) | (next() << 8) | next()
}

/// A `{err=...}` table.
fn error_table(lua: &Lua, message: &str) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("err", message)?;
    Ok(table)
}

fn replace_math_random(lua: &Lua, seed: u64) -> mlua::Result<()> {
    let rand = Rc::new(RefCell::new(Rand48::new(seed as i32)));
    let math: Table = lua.globals().raw_get("math")?;
    let state = Rc::clone(&rand);
    math.raw_set(
        "random",
        lua.create_function(move |_, args: Variadic<Value>| {
            let r = (state.borrow_mut().next_value() % RAND48_MAX) as f64 / RAND48_MAX as f64;
            let int = |at: usize| match args.get(at) {
                Some(Value::Integer(n)) => Ok(*n as f64),
                Some(Value::Number(n)) => Ok(n.trunc()),
                _ => Err(mlua::Error::runtime(format!(
                    "bad argument #{} to 'random' (number expected)",
                    at + 1
                ))),
            };
            match args.len() {
                0 => Ok(r),
                1 => {
                    let upper = int(0)?;
                    if upper < 1.0 {
                        return Err(mlua::Error::runtime(
                            "bad argument #1 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * upper).floor() + 1.0)
                }
                2 => {
                    let (lower, upper) = (int(0)?, int(1)?);
                    if lower > upper {
                        return Err(mlua::Error::runtime(
                            "bad argument #2 to 'random' (interval is empty)",
                        ));
                    }
                    Ok((r * (upper - lower + 1.0)).floor() + lower)
                }
                _ => Err(mlua::Error::runtime("wrong number of arguments")),
            }
        })?,
    )?;
    math.raw_set(
        "randomseed",
        lua.create_function(move |_, seed: f64| {
            *rand.borrow_mut() = Rand48::new(seed as i64 as i32);
            Ok(())
        })?,
    )?;
    Ok(())
}

/// How EVAL was called.
#[derive(Debug, Clone, Copy)]
pub struct EvalCall {
    /// EVALSHA: `argv[1]` is the SHA1, not the body.
    pub by_sha: bool,
    /// EVAL_RO or EVALSHA_RO: the script may not write.
    pub read_only: bool,
}

/// Scripts between two steps of the garbage collector (Redis's
/// `LUA_GC_CYCLE_PERIOD`).
const GC_PERIOD_RUNS: u32 = 50;

/// `busy-reply-threshold`'s default, in milliseconds.
const BUSY_AFTER_MS_DEFAULT: u64 = 5000;

const ERR_NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

impl Scripts {
    /// How many scripts are cached (INFO `number_of_cached_scripts`).
    pub fn len(&self) -> usize {
        self.cache.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// Bytes the cached bodies hold.
    pub fn bodies_bytes(&self) -> usize {
        self.bodies_bytes
    }

    /// Bytes the interpreter holds (INFO `used_memory_lua`).
    pub fn lua_bytes(&self) -> usize {
        self.engine
            .as_ref()
            .map_or(0, |engine| engine.lua.used_memory())
    }

    /// Whether a script with this SHA1 is cached.
    pub fn contains(&self, sha: &[u8]) -> bool {
        let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
        self.cache.contains_key(&sha)
    }

    /// A step of Lua's garbage collector every [`GC_PERIOD_RUNS`] scripts,
    /// as Redis takes one, so that garbage never piles up to a full cycle.
    fn collect_garbage_now_and_then(&mut self) {
        self.runs_since_gc += 1;
        if self.runs_since_gc < GC_PERIOD_RUNS {
            return;
        }
        self.runs_since_gc = 0;
        if let Some(engine) = &self.engine {
            let _ = engine.lua.gc_step_kbytes(GC_PERIOD_RUNS as i32);
        }
    }

    /// Empties the script cache (SCRIPT FLUSH); functions stay. With no
    /// library loaded, the interpreter starts anew.
    pub fn flush(&mut self) {
        self.cache.clear();
        self.bodies_bytes = 0;
        if self.libraries.is_empty() {
            self.engine = None;
        }
    }

    fn engine(&mut self, env: &mut dyn crate::env::Env) -> &Engine {
        if self.engine.is_none() {
            let seed = env.random_u64();
            let engine = Engine::new(seed).expect("the Lua sandbox is valid Lua");
            self.engine = Some(engine);
        }
        self.engine.as_ref().expect("just created")
    }

    /// Compiles and caches `body` unless it is cached; returns its SHA1.
    pub fn load(&mut self, ctx: &mut Ctx<'_>, body: &[u8]) -> Result<String, Error> {
        let sha = sha1_hex(body);
        if self.cache.contains_key(&sha) {
            return Ok(sha);
        }
        let (flags, shebang_bytes) = ScriptFlags::parse(body).map_err(Error::from)?;
        let function = self.engine(ctx.env).compile(body, shebang_bytes)?;
        self.bodies_bytes += body.len();
        self.cache
            .insert(sha.clone(), CachedScript { flags, function });
        Ok(sha)
    }

    /// EVAL, EVALSHA and their _RO forms: `argv` is `[cmd, script or sha,
    /// numkeys, key..., arg...]`. Writes the reply.
    pub fn eval(&mut self, ctx: &mut Ctx<'_>, how: EvalCall) -> Outcome {
        let numkeys = numkeys(ctx, super::cmd::ERR_NOT_INTEGER)?;
        let sha = if how.by_sha {
            let sha = ctx.argv[1].to_ascii_lowercase();
            if sha.len() != 40 {
                return Err(ERR_NOSCRIPT.into());
            }
            let sha = String::from_utf8_lossy(&sha).into_owned();
            if !self.cache.contains_key(&sha) {
                return Err(ERR_NOSCRIPT.into());
            }
            sha
        } else {
            let body = ctx.argv[1].clone();
            self.load(ctx, &body)?
        };
        let script = &self.cache[&sha];
        let (function, flags) = (script.function.clone(), script.flags);
        let mut limits = prepare(ctx, flags, how.read_only)?;
        limits.functions_loaded = self.function_library.len();
        let split = 3 + numkeys;
        let argv = ctx.argv;
        let engine = self.engine(ctx.env);
        let invocation = Invocation::Eval {
            keys: &argv[3..split],
            args: &argv[split..],
        };
        let outcome = run(engine, ctx, limits, &sha, function, invocation);
        self.collect_garbage_now_and_then();
        outcome
    }
}

impl Scripts {
    /// FCALL and FCALL_RO: `argv` is `[cmd, function, numkeys, key...,
    /// arg...]`. Writes the reply.
    pub fn fcall(&mut self, ctx: &mut Ctx<'_>, read_only: bool) -> Outcome {
        let name = String::from_utf8_lossy(&ctx.argv[1]).into_owned();
        let Some((function, flags, name)) = self.function(&name) else {
            return Err("ERR Function not found".into());
        };
        let numkeys = numkeys(ctx, "ERR Bad number of keys provided")?;
        let mut limits = prepare(ctx, flags, read_only)?;
        limits.functions_loaded = self.function_library.len();
        let split = 3 + numkeys;
        let argv = ctx.argv;
        let engine = self.engine(ctx.env);
        let invocation = Invocation::Function {
            keys: &argv[3..split],
            args: &argv[split..],
        };
        let outcome = run(engine, ctx, limits, &name, function, invocation);
        self.collect_garbage_now_and_then();
        outcome
    }
}

/// The `numkeys` argument of EVAL and FCALL, checked against what
/// follows it; `not_a_number` is the error when it is no integer.
fn numkeys(ctx: &Ctx<'_>, not_a_number: &'static str) -> Result<usize, Error> {
    let numkeys = ctx.range_arg(2, i64::MIN, i64::MAX, Some(not_a_number))?;
    let available = ctx.argv.len() as i64 - 3;
    if numkeys > available {
        return Err("ERR Number of keys can't be greater than number of args".into());
    }
    if numkeys < 0 {
        return Err("ERR Number of keys can't be negative".into());
    }
    Ok(numkeys as usize)
}

/// A replica whose link is down, told not to serve stale data.
fn stale_replica(server: &crate::server::Server) -> bool {
    let down = server
        .repl
        .link
        .as_ref()
        .is_some_and(|link| link.state != crate::repl::replica::LinkState::Connected);
    down && !server.config.repl.replica_serve_stale_data
}

/// Redis's `scriptPrepareForRun`: the checks a script with declared flags
/// passes before it starts (without flags, each command is checked as it
/// runs), and the limits it then runs under.
fn prepare(
    ctx: &mut Ctx<'_>,
    flags: ScriptFlags,
    read_only_call: bool,
) -> Result<RunLimits, Error> {
    let caller_is_master = ctx.client.is_master;
    let server = &*ctx.server;
    let stale = stale_replica(server);
    if flags.compat {
        if stale {
            return Err(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            );
        }
    } else {
        if stale && !flags.allow_stale {
            return Err("MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into());
        }
        if !flags.no_writes {
            if server.repl.is_replica() && server.config.repl.replica_read_only && !caller_is_master
            {
                return Err(
                    "READONLY Can not run script with write flag on readonly replica".into(),
                );
            }
            if !caller_is_master {
                if let Some(refusal) = server.aof.refusal().filter(|_| server.aof_on) {
                    let reason = refusal
                        .split_once(": ")
                        .map_or("", |(_, why)| why)
                        .to_string();
                    return Err(format!("MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {reason}").into());
                }
                if server.bgsave_refusal().is_some() {
                    return Err("MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into());
                }
            }
            if read_only_call {
                return Err(
                    "ERR Can not execute a script with write flag using *_ro command.".into(),
                );
            }
            if !caller_is_master && server.config.repl.min_replicas_to_write > 0 {
                if let Some(refusal) = server.min_replicas_refusal(ctx.env.monotonic_ms()) {
                    return Err(refusal.into());
                }
            }
        }
    }
    let over_memory = server.out_of_memory && server.config.memory.maxmemory_bytes > 0;
    if !flags.compat && over_memory && !flags.allow_oom && !flags.no_writes {
        return Err("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into());
    }
    Ok(RunLimits {
        read_only: read_only_call || (!flags.compat && flags.no_writes),
        caller_is_master,
        functions_loaded: 0,
        allow_oom: !flags.compat && flags.allow_oom,
    })
}

/// What a script is called with.
#[derive(Clone, Copy)]
enum Invocation<'v> {
    /// EVAL: KEYS and ARGV are globals.
    Eval {
        keys: &'v [Vec<u8>],
        args: &'v [Vec<u8>],
    },
    /// FCALL: the keys and the arguments are the function's two arguments.
    Function {
        keys: &'v [Vec<u8>],
        args: &'v [Vec<u8>],
    },
}

/// Runs a compiled script or function, and writes its reply. `name`
/// names it in error replies (a script's SHA1, a function's name).
fn run(
    engine: &Engine,
    ctx: &mut Ctx<'_>,
    limits: RunLimits,
    name: &str,
    function: Function,
    invocation: Invocation<'_>,
) -> Outcome {
    let lua = &engine.lua;
    let lua_error = |error: mlua::Error| Error::from(format!("ERR {}", lua_error_text(&error)));
    let to_table = |items: &[Vec<u8>]| -> mlua::Result<Table> {
        lua.create_sequence_from(
            items
                .iter()
                .map(|item| lua.create_string(item))
                .collect::<mlua::Result<Vec<_>>>()?,
        )
    };
    let function_arguments = match invocation {
        Invocation::Eval { keys, args } => {
            engine
                .globals
                .raw_set("KEYS", to_table(keys).map_err(lua_error)?)
                .map_err(lua_error)?;
            engine
                .globals
                .raw_set("ARGV", to_table(args).map_err(lua_error)?)
                .map_err(lua_error)?;
            None
        }
        Invocation::Function { keys, args } => Some((
            to_table(keys).map_err(lua_error)?,
            to_table(args).map_err(lua_error)?,
        )),
    };
    let caller_db = ctx.client.db;
    let was_in_exec = std::mem::replace(&mut ctx.server.in_exec, true);
    ctx.server.script_running = true;
    let busy_after_ms = ctx
        .server
        .config
        .get("busy-reply-threshold")
        .and_then(|text| text.parse().ok())
        .unwrap_or(BUSY_AFTER_MS_DEFAULT);
    let started_ms = ctx.env.monotonic_ms();
    let state = RefCell::new(Run {
        ctx: &mut *ctx,
        limits,
        db: caller_db,
        protocol: Protocol::Resp2,
        wrote: false,
        name: name.to_string(),
        is_function: matches!(invocation, Invocation::Function { .. }),
        started_ms,
        busy_after_ms,
        busy: false,
        stop: None,
    });
    let outcome: mlua::Result<(bool, Value)> = lua.scope(|scope| {
        lua.set_named_registry_value(
            BRIDGED[0],
            scope.create_function_mut(|lua, (table, count): (Table, i64)| {
                state.borrow_mut().call(lua, arguments(table, count)?)
            })?,
        )?;
        lua.set_named_registry_value(
            BRIDGED[1],
            scope.create_function_mut(|lua, (table, count): (Table, i64)| {
                state.borrow_mut().log(lua, arguments(table, count)?)
            })?,
        )?;
        lua.set_named_registry_value(
            BRIDGED[2],
            scope.create_function_mut(|lua, (table, count): (Table, i64)| {
                state.borrow_mut().set_resp(lua, arguments(table, count)?)
            })?,
        )?;
        lua.set_named_registry_value(
            BRIDGED[3],
            scope.create_function_mut(|lua, (table, count): (Table, i64)| {
                set_repl(lua, arguments(table, count)?)
            })?,
        )?;
        lua.set_named_registry_value(
            BUSY_CHECK,
            scope.create_function_mut(|_, ()| Ok(state.borrow_mut().busy_check()))?,
        )?;
        state.borrow_mut().ctx.env.script_started(busy_after_ms);
        let result = match function_arguments {
            None => engine.invoke.call::<(bool, Value)>(function),
            Some((keys, args)) => engine.invoke.call::<(bool, Value)>((function, keys, args)),
        };
        state.borrow_mut().ctx.env.script_finished();
        for (at, name) in BRIDGED.iter().enumerate() {
            lua.set_named_registry_value(name, outside_function(lua, at)?)?;
        }
        lua.set_named_registry_value(BUSY_CHECK, Value::Nil)?;
        result
    });
    let run = state.into_inner();
    let (protocol, stop) = (run.protocol, run.stop);
    if stop.is_some() {
        set_busy_hook(lua);
    }
    ctx.server.in_exec = was_in_exec;
    ctx.server.script_running = false;
    if planted::active(&ctx.server.config, PlantedBug::ScriptEffectsNotWrapped) {
        ctx.server.unwrapped_unit = true;
    }
    ctx.client.db = caller_db;
    if let Some(stop) = stop {
        // Stopped by the busy check, wherever the script was (even inside
        // a pcall of its own).
        let function = matches!(invocation, Invocation::Function { .. });
        return Err(Error::from(stop.message(function)));
    }
    match outcome {
        Ok((true, value)) => {
            reply::write_reply(&mut ctx.client.out, &value, protocol).map_err(lua_error)?;
            Ok(())
        }
        Ok((false, error)) => Err(script_error(name, &error).into()),
        Err(error) => Err(lua_error(error)),
    }
}

/// The reply for a script that raised `error` (what the error handler
/// made of it): its message, then where it was raised.
fn script_error(name: &str, error: &Value) -> String {
    let Value::Table(table) = error else {
        let text = match error {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            _ => "execution failure".to_string(),
        };
        let text: String = text.chars().take(100).collect();
        return format!("ERR Error running script {name}, {text}");
    };
    let text_of = |field: &str| -> Option<String> {
        match table.raw_get::<Value>(field).ok()? {
            Value::String(s) => Some(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(format_g(n, 14)),
            _ => None,
        }
    };
    let message = text_of("err").unwrap_or_else(|| "ERR unknown error".to_string());
    match (text_of("source"), text_of("line")) {
        (Some(source), Some(line)) => format!("{message} script: {name}, on {source}:{line}."),
        _ => message,
    }
}

fn set_repl(lua: &Lua, args: Vec<Value>) -> mlua::Result<(Value, bool)> {
    let failed = |message: &str| Ok((Value::Table(error_table(lua, message)?), true));
    let [flags] = args.as_slice() else {
        return failed("ERR redis.set_repl() requires two arguments.");
    };
    let flags = match flags {
        Value::Integer(n) => *n,
        Value::Number(n) => *n as i64,
        _ => 0,
    };
    match flags {
        3 => Ok((Value::Nil, false)),
        0..=2 => failed(
            "ERR redis.set_repl() can only propagate to both the AOF and replicas (REPL_ALL) here",
        ),
        _ => failed(
            "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
        ),
    }
}

impl Run<'_, '_> {
    /// `redis.call` and `redis.pcall`: runs one command; returns its reply
    /// as a Lua value and whether it is an error.
    fn call(&mut self, lua: &Lua, args: Vec<Value>) -> mlua::Result<(Value, bool)> {
        let failed = |message: &str| Ok((Value::Table(error_table(lua, message)?), true));
        if args.is_empty() {
            return failed("ERR Please specify at least one argument for this redis lib call");
        }
        let mut argv = Vec::with_capacity(args.len());
        for arg in args.iter() {
            match arg {
                Value::String(s) => argv.push(s.as_bytes().to_vec()),
                Value::Integer(n) => argv.push(n.to_string().into_bytes()),
                Value::Number(n) => argv.push(format_g(*n, 17).into_bytes()),
                _ => {
                    return failed(
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )
                }
            }
        }
        let resolved = match cmd::commands(&self.ctx.server.config).resolve(&argv) {
            Ok(resolved) => resolved,
            Err(error) if error.starts_with("ERR wrong number") => {
                return failed("ERR Wrong number of args calling Redis command from script")
            }
            Err(_) => return failed("ERR Unknown Redis command called from script"),
        };
        if let Some(refusal) = self.refusal(&resolved) {
            self.ctx.server.stats.total_error_replies += 1;
            return failed(&refusal);
        }
        if resolved.spec.is_write() {
            self.wrote = true;
        }
        let reply = self.execute(&resolved, &argv);
        reply::to_lua(lua, &reply.buf)
    }

    /// Why the script may not run this command now (Redis's
    /// `scriptCall` checks, in its order).
    fn refusal(&mut self, resolved: &cmd::Resolved) -> Option<String> {
        let spec = resolved.spec;
        if spec.flags & flag::NOSCRIPT != 0 && !self.ctx.server.scripts_may_call_noscript {
            return Some("ERR This Redis command is not allowed from script".into());
        }
        let server = &*self.ctx.server;
        let stale = stale_replica(server);
        if stale && spec.flags & flag::STALE == 0 {
            return Some("ERR Can not execute the command on a stale replica".into());
        }
        let may_replicate = spec.is_write() || spec.name == "publish";
        if self.limits.read_only && may_replicate {
            return Some("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if !spec.is_write() || self.wrote || self.limits.caller_is_master {
            return None;
        }
        if server.repl.is_replica() && server.config.repl.replica_read_only {
            return Some("READONLY You can't write against a read only replica.".into());
        }
        if let Some(refusal) = cmd::disk_refusal(server) {
            return Some(refusal);
        }
        if server.config.repl.min_replicas_to_write > 0 {
            let now = self.ctx.env.monotonic_ms();
            if let Some(refusal) = self.ctx.server.min_replicas_refusal(now) {
                return Some(refusal.to_string());
            }
        }
        let server = &*self.ctx.server;
        let over_memory = server.out_of_memory && server.config.memory.maxmemory_bytes > 0;
        if over_memory && !self.limits.allow_oom && spec.flags & flag::DENYOOM != 0 {
            return Some(crate::evict::ERR_OOM.to_string());
        }
        None
    }

    /// Runs the command in the script's database, its reply captured in
    /// the script's protocol.
    fn execute(&mut self, resolved: &cmd::Resolved, argv: &[Vec<u8>]) -> Out {
        let client = &mut *self.ctx.client;
        let caller_out = std::mem::replace(&mut client.out, Out::new(self.protocol));
        let caller_db = std::mem::replace(&mut client.db, self.db);
        let mut inner = Ctx {
            server: &mut *self.ctx.server,
            client: &mut *self.ctx.client,
            argv,
            now_ms: self.ctx.now_ms,
            env: &mut *self.ctx.env,
            may_block: false,
        };
        cmd::call(&mut inner, resolved, true);
        let client = &mut *self.ctx.client;
        self.db = std::mem::replace(&mut client.db, caller_db);
        std::mem::replace(&mut client.out, caller_out)
    }

    /// `redis.log(level, message, ...)`.
    fn log(&mut self, lua: &Lua, args: Vec<Value>) -> mlua::Result<(Value, bool)> {
        let failed = |message: &str| Ok((Value::Table(error_table(lua, message)?), true));
        if args.len() < 2 {
            return failed("ERR redis.log() requires two arguments or more.");
        }
        let level = match &args[0] {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            _ => return failed("ERR First argument must be a number (log level)."),
        };
        let level = match level {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            3 => LogLevel::Warning,
            _ => return failed("ERR Invalid debug level."),
        };
        let mut words = Vec::new();
        for arg in args.iter().skip(1) {
            match arg {
                Value::String(s) => words.push(String::from_utf8_lossy(&s.as_bytes()).into_owned()),
                Value::Integer(n) => words.push(n.to_string()),
                Value::Number(n) => words.push(format_g(*n, 14)),
                _ => {}
            }
        }
        self.ctx.env.log(level, &words.join(" "));
        Ok((Value::Nil, false))
    }

    /// `redis.setresp(2|3)`: the protocol of the replies the script reads.
    fn set_resp(&mut self, lua: &Lua, args: Vec<Value>) -> mlua::Result<(Value, bool)> {
        let failed = |message: &str| Ok((Value::Table(error_table(lua, message)?), true));
        let [version] = args.as_slice() else {
            return failed("ERR redis.setresp() requires one argument.");
        };
        let version = match version {
            Value::Integer(n) => *n,
            Value::Number(n) => *n as i64,
            _ => 0,
        };
        self.protocol = match version {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return failed("ERR RESP version must be 2 or 3."),
        };
        Ok((Value::Nil, false))
    }
}
