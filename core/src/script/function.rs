//! Redis 7.0's functions: libraries of Lua functions loaded with FUNCTION
//! LOAD, called by name with FCALL, and kept with the dataset.
//!
//! A library's code is part of the dataset (`Keyspace::functions`, by
//! library name): snapshots write it (an RDB's FUNCTION2 records, a RESP
//! BASE's FUNCTION LOAD commands), loads bring it back, and FUNCTION LOAD,
//! DELETE, FLUSH and RESTORE reach the AOF and replicas as the commands
//! they are. What is compiled from it lives here: each library's functions
//! by name, with their flags and description. FLUSHALL leaves functions
//! alone, as Redis does.

use std::collections::BTreeMap;

use mlua::{Function, Lua, Value};

use super::{error_table, lua_error_text, Engine, ScriptFlags, Scripts};
use crate::env::Env;
use crate::resp::split_args;

/// A function a library registered.
pub struct RegisteredFunction {
    pub function: Function,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// What FUNCTION LOAD compiled from one library.
#[derive(Default)]
pub struct Library {
    pub functions: BTreeMap<String, RegisteredFunction>,
}

/// How long a library's code may run while it loads (Redis's
/// `LOAD_TIMEOUT_MS`).
const LOAD_TIMEOUT_MS: u64 = 500;

/// Redis's rule for library and function names.
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Reads the `#!lua name=<library>` line: the library's name and the
/// length of the line (its line feed stays with the code).
fn library_metadata(code: &[u8]) -> Result<(String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".into());
    }
    let end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
    let parts = split_args(&code[..end]).unwrap_or_default();
    let Some(engine) = parts.first() else {
        return Err("ERR Missing library metadata".into());
    };
    let engine = &engine[2..];
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(engine)
        ));
    }
    let mut name = None;
    for part in &parts[1..] {
        match part.strip_prefix(b"name=") {
            Some(value) => name = Some(value.to_vec()),
            None => {
                return Err(format!(
                    "ERR Invalid metadata value given: {}",
                    String::from_utf8_lossy(part)
                ))
            }
        }
    }
    let Some(name) = name else {
        return Err("ERR Library name was not given".into());
    };
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok((String::from_utf8_lossy(&name).into_owned(), end))
}

/// The flags a function declares in `flags={...}`.
fn function_flags(flags: &Value) -> Result<ScriptFlags, String> {
    let mut parsed = ScriptFlags::default();
    let Value::Table(table) = flags else {
        return Err(
            "flags argument to redis.register_function must be a table representing function flags"
                .into(),
        );
    };
    for flag in table.clone().sequence_values::<Value>() {
        let Ok(Value::String(flag)) = flag else {
            return Err("unknown flag given".into());
        };
        match &*flag.as_bytes() {
            b"no-writes" => parsed.no_writes = true,
            b"allow-oom" => parsed.allow_oom = true,
            b"allow-stale" => parsed.allow_stale = true,
            b"no-cluster" => parsed.no_cluster = true,
            b"allow-cross-slot-keys" => parsed.allow_cross_slot_keys = true,
            _ => return Err("unknown flag given".into()),
        }
    }
    Ok(parsed)
}

/// One call of `redis.register_function`, read into its parts.
fn registration(args: &[Value]) -> Result<(String, RegisteredFunction), String> {
    let (name, callback, flags, description) = match args {
        [Value::Table(named)] => {
            let mut name = Value::Nil;
            let mut callback = Value::Nil;
            let mut flags = ScriptFlags::default();
            let mut description = None;
            for pair in named.clone().pairs::<Value, Value>() {
                let (key, value) = pair.map_err(|e| e.to_string())?;
                let Value::String(key) = key else {
                    return Err("named argument key given to redis.register_function is not a string".into());
                };
                match &*key.as_bytes() {
                    b"function_name" => name = value,
                    b"callback" => callback = value,
                    b"flags" => flags = function_flags(&value)?,
                    b"description" => match value {
                        Value::String(text) => description = Some(text.as_bytes().to_vec()),
                        _ => return Err("description argument given to redis.register_function must be a string".into()),
                    },
                    _ => return Err("unknown argument given to redis.register_function".into()),
                }
            }
            (name, callback, flags, description)
        }
        [_] => return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into()),
        [Value::String(_), Value::Function(_)] => {
            (args[0].clone(), args[1].clone(), ScriptFlags::default(), None)
        }
        [Value::String(_), _] => {
            return Err("second argument to redis.register_function must be a function".into())
        }
        [_, _] => return Err("first argument to redis.register_function must be a string".into()),
        _ => return Err("wrong number of arguments to redis.register_function".into()),
    };
    let name = match name {
        Value::String(name) => name,
        Value::Nil => {
            return Err("redis.register_function must get a function name argument".into())
        }
        _ => {
            return Err(
                "function_name argument given to redis.register_function must be a string".into(),
            )
        }
    };
    let function = match callback {
        Value::Function(function) => function,
        Value::Nil => return Err("redis.register_function must get a callback argument".into()),
        _ => {
            return Err(
                "callback argument given to redis.register_function must be a function".into(),
            )
        }
    };
    // Redis checks a function's name with its library-name rule and words.
    if !valid_name(&name.as_bytes()) {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    let name = String::from_utf8_lossy(&name.as_bytes()).into_owned();
    Ok((
        name,
        RegisteredFunction {
            function,
            description,
            flags,
        },
    ))
}

/// Compiles a library and runs its code, collecting what it registers.
fn compile_library(
    engine: &Engine,
    env: &mut dyn Env,
    code: &[u8],
    header_bytes: usize,
) -> Result<Library, String> {
    let lua: &Lua = &engine.lua;
    let chunk = lua
        .load(&code[header_bytes..])
        .set_name("@user_function")
        .set_mode(mlua::ChunkMode::Text)
        .set_environment(engine.function_sandbox.clone())
        .into_function()
        .map_err(|error| format!("ERR Error compiling function: {}", lua_error_text(&error)))?;
    let mut library = Library::default();
    let mut failure: Option<String> = None;
    let outcome = lua.scope(|scope| {
        let register = scope.create_function_mut(|lua, (table, count): (mlua::Table, i64)| {
            let args = super::arguments(table, count)?;
            let failed = |message: &str| Ok((Value::Table(error_table(lua, message)?), true));
            match registration(&args) {
                Err(why) => failed(&format!("ERR {why}")),
                Ok((name, _)) if library.functions.contains_key(&name) => {
                    failed("ERR Function already exists in the library")
                }
                Ok((name, function)) => {
                    library.functions.insert(name, function);
                    Ok((Value::Nil, false))
                }
            }
        })?;
        lua.set_named_registry_value(super::BRIDGED[4], register)?;
        // A library's code gets LOAD_TIMEOUT_MS to register its functions,
        // as Redis gives it, through the same hook as a busy script.
        let started_ms = env.monotonic_ms();
        let timeout = scope.create_function_mut(move |_, ()| {
            let ran_ms = env.monotonic_ms().saturating_sub(started_ms);
            Ok((ran_ms > LOAD_TIMEOUT_MS).then(|| "ERR FUNCTION LOAD timeout".to_string()))
        })?;
        lua.set_named_registry_value(super::BUSY_CHECK, timeout)?;
        // While the library's code runs, its globals are the library API.
        engine.set_loading.call::<()>(true)?;
        let result = engine.invoke.call::<(bool, Value)>(chunk);
        // The ordinary hook first: after a timeout the stopping one fails
        // every Lua instruction, `set_loading` included.
        super::set_busy_hook(lua);
        lua.set_named_registry_value(super::BUSY_CHECK, Value::Nil)?;
        engine.set_loading.call::<()>(false)?;
        lua.set_named_registry_value(super::BRIDGED[4], super::outside_function(lua, 4)?)?;
        result
    });
    match outcome {
        Ok((true, _)) => {}
        Ok((false, error)) => {
            let message = match &error {
                Value::Table(table) => match table.raw_get::<Value>("err") {
                    Ok(Value::String(text)) => {
                        String::from_utf8_lossy(&text.as_bytes()).into_owned()
                    }
                    _ => "ERR unknown error".into(),
                },
                _ => "ERR unknown error".into(),
            };
            failure = Some(format!("ERR Error registering functions: {message}"));
        }
        Err(error) => {
            failure = Some(format!(
                "ERR Error registering functions: {}",
                lua_error_text(&error)
            ))
        }
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    if library.functions.is_empty() {
        return Err("ERR No functions registered".into());
    }
    Ok(library)
}

impl Scripts {
    /// FUNCTION LOAD: compiles `code` and adds its library (replacing one
    /// of the same name when `replace`), keeping the code in `stored`.
    /// Returns the library's name; errors are Redis's.
    pub fn load_library(
        &mut self,
        env: &mut dyn Env,
        stored: &mut BTreeMap<String, Vec<u8>>,
        code: &[u8],
        replace: bool,
    ) -> Result<String, String> {
        let (name, header_bytes) = library_metadata(code)?;
        if !replace && self.libraries.contains_key(&name) {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        self.engine(env);
        let engine = self.engine.as_ref().expect("just created");
        let library = compile_library(engine, env, code, header_bytes)?;
        for function in library.functions.keys() {
            if let Some((owner, _)) = self.function_library.get(&function.to_ascii_lowercase()) {
                if *owner != name {
                    return Err(format!("ERR Function {function} already exists"));
                }
            }
        }
        self.remove_library(stored, &name);
        for function in library.functions.keys() {
            self.function_library.insert(
                function.to_ascii_lowercase(),
                (name.clone(), function.clone()),
            );
        }
        self.libraries.insert(name.clone(), library);
        stored.insert(name.clone(), code.to_vec());
        Ok(name)
    }

    /// Removes a library and its functions; whether it existed.
    pub fn remove_library(&mut self, stored: &mut BTreeMap<String, Vec<u8>>, name: &str) -> bool {
        stored.remove(name);
        let Some(library) = self.libraries.remove(name) else {
            return false;
        };
        for function in library.functions.keys() {
            self.function_library.remove(&function.to_ascii_lowercase());
        }
        true
    }

    /// FUNCTION FLUSH: every library goes.
    pub fn flush_libraries(&mut self, stored: &mut BTreeMap<String, Vec<u8>>) {
        stored.clear();
        self.libraries.clear();
        self.function_library.clear();
    }

    /// The loaded libraries, by name.
    pub fn libraries(&self) -> &BTreeMap<String, Library> {
        &self.libraries
    }

    /// The function called `name`, in any case: a handle to it, its
    /// flags, and its name as registered.
    pub fn function(&self, name: &str) -> Option<(Function, ScriptFlags, String)> {
        let (library, registered_name) = self.function_library.get(&name.to_ascii_lowercase())?;
        let registered = self
            .libraries
            .get(library)?
            .functions
            .get(registered_name)?;
        Some((
            registered.function.clone(),
            registered.flags,
            registered_name.clone(),
        ))
    }
}

/// The flag names of a function, as FUNCTION LIST shows them.
pub fn flag_names(flags: ScriptFlags) -> Vec<&'static str> {
    let mut names = Vec::new();
    for (set, name) in [
        (flags.no_writes, "no-writes"),
        (flags.allow_oom, "allow-oom"),
        (flags.allow_stale, "allow-stale"),
        (flags.no_cluster, "no-cluster"),
        (flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ] {
        if set {
            names.push(name);
        }
    }
    names
}
