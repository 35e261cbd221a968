//! Blocked commands, run again: when a key they wait on is ready, and when
//! their time is up (see `crate::blocking`).

use super::{call, commands, Ctx};
use crate::client::Client;
use crate::env::{Env, Trace};
use crate::server::Server;

/// Runs `client`'s blocked command again after one of its keys changed.
/// Returns whether it was served (it replied and is no longer blocked);
/// otherwise it keeps waiting, in its place.
pub fn retry(server: &mut Server, client: &mut Client, env: &mut dyn Env) -> bool {
    rerun(server, client, env, true)
}

/// Runs the blocked command again; with `may_block` false it must answer
/// (its time is up). Returns whether it answered.
fn rerun(server: &mut Server, client: &mut Client, env: &mut dyn Env, may_block: bool) -> bool {
    let Some(on) = client.blocked.clone() else {
        return false;
    };
    let Ok(resolved) = commands(&server.config).resolve(&on.argv) else {
        unreachable!("a blocked command resolved when it first ran");
    };
    let saved_db = std::mem::replace(&mut client.db, on.db);
    let now_ms = env.wall_ms();
    let mut ctx = Ctx {
        server: &mut *server,
        client: &mut *client,
        argv: &on.argv,
        now_ms,
        env: &mut *env,
        may_block,
    };
    call(&mut ctx, &resolved, false);
    client.db = saved_db;
    if server.block_request.take().is_some() {
        return false;
    }
    server
        .blocking
        .unblock(&mut server.keyspace, client.id, &on);
    client.blocked = None;
    server.commit_propagation(Some(client));
    server.after_propagation(env);
    server.unblocked.push(client.id);
    true
}

/// Answers `client`'s blocked command as Redis does when its timeout
/// passes: a null array for a command blocked on keys; WAIT and WAITAOF
/// run once more and answer with what they counted.
pub fn time_out(server: &mut Server, client: &mut Client, env: &mut dyn Env) {
    let waits_on_offsets = client.blocked.as_ref().is_some_and(|on| on.keys.is_empty());
    if waits_on_offsets {
        // WAIT and WAITAOF answer with the counts they reached.
        server.repl.waiting.retain(|&conn| conn != client.id);
        rerun(server, client, env, false);
    } else {
        answer(server, client, env, None);
    }
}

/// Unblocks `client`, answering its command with the error `error` (CLIENT
/// UNBLOCK ... ERROR), or as a timeout does when `None`.
pub fn answer(server: &mut Server, client: &mut Client, env: &mut dyn Env, error: Option<&str>) {
    let Some(on) = client.blocked.take() else {
        return;
    };
    server
        .blocking
        .unblock(&mut server.keyspace, client.id, &on);
    let reply_start = client.out.buf.len();
    match error {
        Some(text) => client.out.error(text),
        None => client.out.null_array(),
    }
    server.stats.total_commands_processed += 1;
    env.trace(&Trace::Executed {
        conn: client.id,
        db: on.db,
        argv: &on.argv,
        reply: &client.out.buf[reply_start..],
        in_transaction: false,
        after_block: true,
    });
    server.unblocked.push(client.id);
}
