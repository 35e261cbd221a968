//! EVAL, EVALSHA, their read-only forms, and SCRIPT: the commands over
//! `script::Scripts`. The scripts' own work happens there.

use super::{flag, help_subcommand, CommandSpec, Ctx, Outcome};
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

/// SCRIPT FLUSH [ASYNC|SYNC]: both empty the cache at once.
fn script_flush(ctx: &mut Ctx<'_>) -> Outcome {
    let valid = match ctx.argv.len() {
        2 => true,
        3 => matches!(ctx.keyword(2).as_str(), "ASYNC" | "SYNC"),
        _ => false,
    };
    if !valid {
        return Err("ERR SCRIPT FLUSH only support SYNC|ASYNC option".into());
    }
    ctx.server.scripts.flush();
    ctx.out().ok();
    Ok(())
}

/// SCRIPT KILL: a script always runs to its end before any other command
/// is read, so there is never one to kill.
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
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
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
        "HELP",
        "    Prints this help.",
    ];
    let out = ctx.out();
    out.array(lines.len());
    for line in lines {
        out.simple(line);
    }
    Ok(())
}
