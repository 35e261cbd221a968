//! EVAL, EVALSHA, their read-only forms, and SCRIPT; FCALL, FCALL_RO and
//! FUNCTION: the commands over `script::Scripts`. The scripts' own work
//! happens there.

use super::{flag, help_subcommand, CommandSpec, Ctx, Outcome};
use crate::glob::glob_match;
use crate::persist::rdb::{crc64, RdbEvent, RdbReader, RdbWriter, RDB_VERSION};
use crate::script::function::flag_names;
use crate::script::{EvalCall, Scripts};

const GROUP: &str = "scripting";
/// Redis's flags for EVAL: `noscript skip_monitor may_replicate
/// no_mandatory_keys stale`; the _RO forms are `readonly` instead.
const EVAL_FLAGS: u32 = flag::NOSCRIPT | flag::STALE;
const SCRIPT_FLAGS: u32 = flag::NOSCRIPT;

#[rustfmt::skip]
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EVAL_FLAGS, eval).movable(super::keys_counted_at_2).doc(GROUP, "2.6.0", "Executes a server-side Lua script.", "Depends on the script that is executed."),
    CommandSpec::new("evalsha", -3, EVAL_FLAGS, evalsha).movable(super::keys_counted_at_2).doc(GROUP, "2.6.0", "Executes a server-side Lua script by SHA1 digest.", "Depends on the script that is executed."),
    CommandSpec::new("eval_ro", -3, EVAL_FLAGS | flag::READONLY, eval_ro).movable(super::keys_counted_at_2).doc(GROUP, "7.0.0", "Executes a read-only server-side Lua script.", "Depends on the script that is executed."),
    CommandSpec::new("evalsha_ro", -3, EVAL_FLAGS | flag::READONLY, evalsha_ro).movable(super::keys_counted_at_2).doc(GROUP, "7.0.0", "Executes a read-only server-side Lua script by SHA1 digest.", "Depends on the script that is executed."),
    CommandSpec::new("script", -2, 0, script_help).doc(GROUP, "2.6.0", "A container for Lua scripts management commands.", "Depends on subcommand.").subs(SCRIPT_SUBCOMMANDS),
    CommandSpec::new("fcall", -3, EVAL_FLAGS, fcall).movable(super::keys_counted_at_2).doc(GROUP, "7.0.0", "Invokes a function.", "Depends on the function that is executed."),
    CommandSpec::new("fcall_ro", -3, EVAL_FLAGS | flag::READONLY, fcall_ro).movable(super::keys_counted_at_2).doc(GROUP, "7.0.0", "Invokes a read-only function.", "Depends on the function that is executed."),
    CommandSpec::new("function", -2, 0, function_help).doc(GROUP, "7.0.0", "A container for function commands.", "Depends on subcommand.").subs(FUNCTION_SUBCOMMANDS),
];

const FUNCTION_WRITE: u32 = flag::WRITE | flag::NOSCRIPT;

#[rustfmt::skip]
const FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", -3, FUNCTION_WRITE | flag::DENYOOM, function_load).doc(GROUP, "7.0.0", "Creates a library.", "O(1) (considering compilation time is redundant)"),
    CommandSpec::new("delete", 3, FUNCTION_WRITE, function_delete).doc(GROUP, "7.0.0", "Deletes a library and its functions.", "O(1)"),
    CommandSpec::new("flush", -2, FUNCTION_WRITE, function_flush).doc(GROUP, "7.0.0", "Deletes all libraries and functions.", "O(N) where N is the number of functions deleted"),
    CommandSpec::new("restore", -3, FUNCTION_WRITE | flag::DENYOOM, function_restore).doc(GROUP, "7.0.0", "Restores all libraries from a payload.", "O(N) where N is the number of functions on the payload"),
    CommandSpec::new("list", -2, flag::NOSCRIPT, function_list).doc(GROUP, "7.0.0", "Returns information about all libraries.", "O(N) where N is the number of functions"),
    CommandSpec::new("dump", 2, flag::NOSCRIPT, function_dump).doc(GROUP, "7.0.0", "Dumps all libraries into a serialized binary payload.", "O(N) where N is the number of functions"),
    CommandSpec::new("stats", 2, flag::NOSCRIPT | flag::ALLOW_BUSY, function_stats).doc(GROUP, "7.0.0", "Returns information about a function during execution.", "O(1)"),
    CommandSpec::new("kill", 2, flag::NOSCRIPT | flag::ALLOW_BUSY, function_kill).doc(GROUP, "7.0.0", "Terminates a function during execution.", "O(1)"),
    help_subcommand(GROUP, "7.0.0", function_help),
];

#[rustfmt::skip]
const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", 3, SCRIPT_FLAGS | flag::STALE, script_load).doc(GROUP, "2.6.0", "Loads a server-side Lua script to the script cache.", "O(N) with N being the length in bytes of the script body."),
    CommandSpec::new("exists", -3, SCRIPT_FLAGS, script_exists).doc(GROUP, "2.6.0", "Determines whether server-side Lua scripts exist in the script cache.", "O(N) with N being the number of scripts to check."),
    CommandSpec::new("flush", -2, SCRIPT_FLAGS, script_flush).doc(GROUP, "2.6.0", "Removes all server-side Lua scripts from the script cache.", "O(N) with N being the number of scripts in cache"),
    CommandSpec::new("kill", 2, SCRIPT_FLAGS | flag::ALLOW_BUSY, script_kill).doc(GROUP, "2.6.0", "Terminates a server-side Lua script during execution.", "O(1)"),
    CommandSpec::new("debug", 3, SCRIPT_FLAGS, script_debug).doc(GROUP, "3.2.0", "Sets the debug mode of server-side Lua scripts.", "O(1)"),
    help_subcommand(GROUP, "5.0.0", script_help),
];

/// Runs `body` with the server's scripts taken out of it, so that the
/// script's commands can reach the rest of the server.
fn with_scripts(
    ctx: &mut Ctx<'_>,
    body: impl FnOnce(&mut Scripts, &mut Ctx<'_>) -> Outcome,
) -> Outcome {
    let mut scripts = std::mem::take(&mut ctx.server.scripts);
    let outcome = body(&mut scripts, ctx);
    ctx.server.scripts = scripts;
    outcome
}

fn eval_with(ctx: &mut Ctx<'_>, by_sha: bool, read_only: bool) -> Outcome {
    with_scripts(ctx, |scripts, ctx| {
        scripts.eval(ctx, EvalCall { by_sha, read_only })
    })
}

fn eval(ctx: &mut Ctx<'_>) -> Outcome {
    eval_with(ctx, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>) -> Outcome {
    eval_with(ctx, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>) -> Outcome {
    eval_with(ctx, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>) -> Outcome {
    eval_with(ctx, true, true)
}

/// SCRIPT LOAD body: the SHA1, once it compiles.
fn script_load(ctx: &mut Ctx<'_>) -> Outcome {
    let body = ctx.argv[2].clone();
    with_scripts(ctx, |scripts, ctx| {
        let sha = scripts.load(ctx, &body)?;
        ctx.out().bulk(sha.as_bytes());
        Ok(())
    })
}

/// SCRIPT EXISTS sha...: 1 or 0 per SHA1.
fn script_exists(ctx: &mut Ctx<'_>) -> Outcome {
    let found: Vec<bool> = ctx.argv[2..]
        .iter()
        .map(|sha| ctx.server.scripts.contains(sha))
        .collect();
    let out = ctx.out();
    out.array(found.len());
    for exists in found {
        out.int(i64::from(exists));
    }
    Ok(())
}

/// Whether a FLUSH subcommand's optional mode is ASYNC or SYNC (both
/// flush at once here).
fn flush_mode_valid(ctx: &Ctx<'_>) -> bool {
    match ctx.argv.len() {
        2 => true,
        3 => matches!(ctx.keyword(2).as_str(), "ASYNC" | "SYNC"),
        _ => false,
    }
}

/// SCRIPT FLUSH [ASYNC|SYNC]: both empty the cache at once.
fn script_flush(ctx: &mut Ctx<'_>) -> Outcome {
    if !flush_mode_valid(ctx) {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    ctx.server.scripts.flush();
    ctx.out().ok();
    Ok(())
}

/// SCRIPT KILL outside a busy script (a busy script answers it itself,
/// see `script::busy`): there is none to kill.
fn script_kill(_ctx: &mut Ctx<'_>) -> Outcome {
    Err("NOTBUSY No scripts in execution right now.".into())
}

/// SCRIPT DEBUG: only NO, the debugger is not built in.
fn script_debug(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.keyword(2).as_str() {
        "NO" => {
            ctx.out().ok();
            Ok(())
        }
        "YES" | "SYNC" => {
            Err("ERR The Lua debugger (SCRIPT DEBUG) is not supported by this server".into())
        }
        _ => Err("ERR Use SCRIPT DEBUG YES/SYNC/NO".into()),
    }
}

fn script_help(ctx: &mut Ctx<'_>) -> Outcome {
    let lines = [
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
    ];
    super::connection::help_lines(ctx, "SCRIPT", &lines);
    Ok(())
}

fn fcall(ctx: &mut Ctx<'_>) -> Outcome {
    with_scripts(ctx, |scripts, ctx| scripts.fcall(ctx, false))
}

fn fcall_ro(ctx: &mut Ctx<'_>) -> Outcome {
    with_scripts(ctx, |scripts, ctx| scripts.fcall(ctx, true))
}

/// FUNCTION LOAD [REPLACE] code: the library's name.
fn function_load(ctx: &mut Ctx<'_>) -> Outcome {
    let replace = match ctx.argv.len() {
        3 => false,
        4 if ctx.keyword(2) == "REPLACE" => true,
        _ => {
            return Err(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(&ctx.argv[2])
            )
            .into())
        }
    };
    let code = ctx.argv[ctx.argv.len() - 1].clone();
    with_scripts(ctx, |scripts, ctx| {
        let functions = &mut ctx.server.keyspace.functions;
        let name = scripts.load_library(ctx.env, functions, &code, replace)?;
        ctx.dirty(1);
        ctx.out().bulk(name.as_bytes());
        Ok(())
    })
}

/// FUNCTION DELETE library.
fn function_delete(ctx: &mut Ctx<'_>) -> Outcome {
    let name = String::from_utf8_lossy(&ctx.argv[2]).into_owned();
    let server = &mut *ctx.server;
    if !server
        .scripts
        .remove_library(&mut server.keyspace.functions, &name)
    {
        return Err("ERR Library not found".into());
    }
    ctx.dirty(1);
    ctx.out().ok();
    Ok(())
}

/// Redis's `addReplySubcommandSyntaxError` for FUNCTION: the subcommand
/// as the client typed it.
fn subcommand_syntax_error(ctx: &Ctx<'_>) -> super::Error {
    format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try FUNCTION HELP.",
        String::from_utf8_lossy(&ctx.argv[1])
    )
    .into()
}

/// FUNCTION FLUSH [ASYNC|SYNC].
fn function_flush(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.argv.len() > 3 {
        return Err(subcommand_syntax_error(ctx));
    }
    if !flush_mode_valid(ctx) {
        return Err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option".into());
    }
    let server = &mut *ctx.server;
    server
        .scripts
        .flush_libraries(&mut server.keyspace.functions);
    ctx.dirty(1);
    ctx.out().ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]: each library with its
/// engine, functions (name, description, flags) and, asked, its code.
fn function_list(ctx: &mut Ctx<'_>) -> Outcome {
    let mut pattern: Option<Vec<u8>> = None;
    let mut with_code = false;
    let mut at = 2;
    while at < ctx.argv.len() {
        match ctx.keyword(at).as_str() {
            "WITHCODE" if !with_code => with_code = true,
            "LIBRARYNAME" if pattern.is_none() => {
                let Some(value) = ctx.argv.get(at + 1) else {
                    return Err("ERR library name argument was not given".into());
                };
                pattern = Some(value.clone());
                at += 1;
            }
            _ => {
                return Err(format!(
                    "ERR Unknown argument {}",
                    String::from_utf8_lossy(&ctx.argv[at])
                )
                .into())
            }
        }
        at += 1;
    }
    let server = &mut *ctx.server;
    let libraries: Vec<_> = server
        .scripts
        .libraries()
        .iter()
        .filter(|(name, _)| {
            pattern
                .as_ref()
                .is_none_or(|p| glob_match(p, name.as_bytes(), false))
        })
        .collect();
    let out = &mut ctx.client.out;
    out.array(libraries.len());
    for (name, library) in libraries {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(library.functions.len());
        for (function, registered) in &library.functions {
            out.map(3);
            out.bulk(b"name");
            out.bulk(function.as_bytes());
            out.bulk(b"description");
            match &registered.description {
                Some(text) => out.bulk(text),
                None => out.null(),
            }
            out.bulk(b"flags");
            let flags = flag_names(registered.flags);
            out.set(flags.len());
            for flag in flags {
                out.bulk(flag.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(
                server
                    .keyspace
                    .functions
                    .get(name)
                    .map_or(&[][..], |code| code),
            );
        }
    }
    Ok(())
}

/// FUNCTION DUMP: every library's code as FUNCTION2 records, then the RDB
/// version and a CRC64, as DUMP's payloads end.
fn function_dump(ctx: &mut Ctx<'_>) -> Outcome {
    let mut payload = Vec::new();
    let mut writer = RdbWriter::new(false, false);
    for code in ctx.server.keyspace.functions.values() {
        writer.function(&mut payload, code);
    }
    payload.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let checksum = crc64(&payload);
    payload.extend_from_slice(&checksum.to_le_bytes());
    ctx.out().bulk(&payload);
    Ok(())
}

/// The library codes in a FUNCTION DUMP payload.
fn dumped_libraries(payload: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    const WRONG: &str = "ERR payload version or checksum are wrong";
    if payload.len() < 10 {
        return Err(WRONG);
    }
    let (body, trailer) = payload.split_at(payload.len() - 10);
    let version = u32::from(u16::from_le_bytes([trailer[0], trailer[1]]));
    let checksum = u64::from_le_bytes(trailer[2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64(&payload[..payload.len() - 8]) != checksum {
        return Err(WRONG);
    }
    // The records inside a dump of their own, read by the dump reader.
    let mut dump = format!("REDIS{version:04}").into_bytes();
    dump.extend_from_slice(body);
    dump.push(0xFF);
    dump.extend_from_slice(&[0; 8]);
    let mut reader = RdbReader::new(&dump[..]).map_err(|_| WRONG)?;
    reader.set_verify_checksum(false);
    let mut libraries = Vec::new();
    loop {
        match reader.next_event() {
            Ok(Some(RdbEvent::Function { code })) => libraries.push(code),
            Ok(Some(RdbEvent::End { .. })) | Ok(None) => return Ok(libraries),
            Ok(Some(_)) => return Err("ERR given type is not a function"),
            Err(_) => return Err("ERR payload version or checksum are wrong"),
        }
    }
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
fn function_restore(ctx: &mut Ctx<'_>) -> Outcome {
    let policy = match ctx.argv.len() {
        3 => "APPEND".to_string(),
        4 => ctx.keyword(3),
        _ => return Err(subcommand_syntax_error(ctx)),
    };
    if !matches!(policy.as_str(), "FLUSH" | "APPEND" | "REPLACE") {
        return Err(
            "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE."
                .into(),
        );
    }
    let libraries = dumped_libraries(&ctx.argv[2])?;
    with_scripts(ctx, |scripts, ctx| {
        let functions = &mut ctx.server.keyspace.functions;
        // All or nothing: the libraries go in on a copy of what is loaded,
        // which replaces it only if every one of them loaded.
        let mut trial = Scripts::default();
        let mut trial_functions = std::collections::BTreeMap::new();
        if policy != "FLUSH" {
            for code in functions.values() {
                trial.load_library(ctx.env, &mut trial_functions, code, false)?;
            }
        }
        for code in &libraries {
            trial.load_library(ctx.env, &mut trial_functions, code, policy == "REPLACE")?;
        }
        scripts.flush_libraries(functions);
        for code in trial_functions.values() {
            scripts.load_library(ctx.env, functions, code, false)?;
        }
        ctx.dirty(1);
        ctx.out().ok();
        Ok(())
    })
}

/// FUNCTION STATS: the libraries and functions loaded (a function never
/// runs while another command is read, so none is running here).
fn function_stats(ctx: &mut Ctx<'_>) -> Outcome {
    let libraries = ctx.server.scripts.libraries();
    let functions: usize = libraries
        .values()
        .map(|library| library.functions.len())
        .sum();
    let count = libraries.len();
    let out = ctx.out();
    out.map(2);
    out.bulk(b"running_script");
    out.null();
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(count as i64);
    out.bulk(b"functions_count");
    out.int(functions as i64);
    Ok(())
}

/// FUNCTION KILL outside a busy function: there is none to kill.
fn function_kill(_ctx: &mut Ctx<'_>) -> Outcome {
    Err("NOTBUSY No scripts in execution right now.".into())
}

fn function_help(ctx: &mut Ctx<'_>) -> Outcome {
    let lines = [
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
    ];
    super::connection::help_lines(ctx, "FUNCTION", &lines);
    Ok(())
}
