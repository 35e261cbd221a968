//! MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Commands sent after MULTI are checked (name, arity) and queued; a failed
//! check makes EXEC answer `-EXECABORT`. EXEC runs the queue as one unit and
//! answers a null array instead if any WATCHed key changed since WATCH:
//! written, deleted, expired (by lazy or active expiry, or found past its
//! time at EXEC), flushed or swapped away.

use super::{call, commands, flag, CommandSpec, Ctx, Outcome};
use crate::client::{Transaction, WatchedKey};
use crate::planted::{self, PlantedBug};

const GROUP: &str = "transactions";
const NO_QUEUE: u32 = flag::NO_MULTI_QUEUE
    | flag::NOSCRIPT
    | flag::LOADING
    | flag::STALE
    | flag::FAST
    | flag::ALLOW_BUSY;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi",
        arity: 1,
        flags: NO_QUEUE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.2.0",
        summary: "Starts a transaction.",
        complexity: "O(1)",
        handler: multi,
        subcommands: &[],
    },
    CommandSpec {
        name: "exec",
        arity: 1,
        flags: flag::NO_MULTI_QUEUE | flag::NOSCRIPT | flag::LOADING | flag::STALE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.2.0",
        summary: "Executes all commands in a transaction.",
        complexity: "Depends on commands in the transaction",
        handler: exec,
        subcommands: &[],
    },
    CommandSpec {
        name: "discard",
        arity: 1,
        flags: NO_QUEUE,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.0.0",
        summary: "Discards a transaction.",
        complexity: "O(N), when N is the number of queued commands",
        handler: discard,
        subcommands: &[],
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: NO_QUEUE,
        keys: (1, -1, 1),
        movable: None,
        group: GROUP,
        since: "2.2.0",
        summary: "Monitors changes to keys to determine the execution of a transaction.",
        complexity: "O(1) for every key.",
        handler: watch,
        subcommands: &[],
    },
    CommandSpec {
        name: "unwatch",
        arity: 1,
        flags: flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST | flag::ALLOW_BUSY,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.2.0",
        summary: "Forgets about all watched keys.",
        complexity: "O(1)",
        handler: unwatch,
        subcommands: &[],
    },
];

fn multi(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.client.is_master
        && planted::active(
            &ctx.server.config,
            PlantedBug::ReplicaRunsTransactionsUnqueued,
        )
    {
        ctx.out().ok();
        return Ok(());
    }
    if ctx.client.multi.is_some() {
        ctx.error("ERR MULTI calls can not be nested");
        return Ok(());
    }
    ctx.client.multi = Some(Transaction::default());
    ctx.out().ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.client.multi.take().is_none() {
        ctx.error("ERR DISCARD without MULTI");
        return Ok(());
    }
    ctx.server.unwatch_all(ctx.client);
    ctx.out().ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(transaction) = ctx.client.multi.take() else {
        if ctx.client.is_master
            && planted::active(
                &ctx.server.config,
                PlantedBug::ReplicaRunsTransactionsUnqueued,
            )
        {
            ctx.out().array(0);
            return Ok(());
        }
        ctx.error("ERR EXEC without MULTI");
        return Ok(());
    };
    if transaction.aborted {
        ctx.server.unwatch_all(ctx.client);
        ctx.error("EXECABORT Transaction discarded because of previous errors.");
        return Ok(());
    }
    if ctx.client.watch_dirty || watched_key_expired(ctx) {
        ctx.server.unwatch_all(ctx.client);
        ctx.out().null_array();
        return Ok(());
    }
    // Keys touched by the transaction itself must not matter any more.
    ctx.server.unwatch_all(ctx.client);
    ctx.out().array(transaction.queued.len());
    ctx.server.in_exec = true;
    for argv in &transaction.queued {
        match commands(&ctx.server.config).resolve(argv) {
            Ok(resolved) => {
                let mut inner = Ctx {
                    server: &mut *ctx.server,
                    client: &mut *ctx.client,
                    argv,
                    now_ms: ctx.now_ms,
                    env: &mut *ctx.env,
                    may_block: false,
                };
                call(&mut inner, &resolved, true);
            }
            Err(error) => ctx.error(&error),
        }
    }
    ctx.server.in_exec = false;
    Ok(())
}

/// Whether a key that was live at WATCH is now past its time but not yet
/// removed.
fn watched_key_expired(ctx: &mut Ctx<'_>) -> bool {
    let now = ctx.now_ms;
    ctx.client
        .watched
        .iter()
        .any(|w| !w.expired_at_watch && ctx.server.keyspace.dbs[w.db].is_stale(&w.key, now))
}

fn watch(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.client.multi.is_some() {
        ctx.error("ERR WATCH inside MULTI is not allowed");
        return Ok(());
    }
    let db = ctx.client.db;
    for key in &ctx.argv[1..] {
        if ctx
            .client
            .watched
            .iter()
            .any(|w| w.db == db && w.key == *key)
        {
            continue;
        }
        let expired_at_watch = ctx.server.keyspace.dbs[db].watch(key, ctx.client.id, ctx.now_ms);
        ctx.client.watched.push(WatchedKey {
            db,
            key: key.clone(),
            expired_at_watch,
        });
    }
    ctx.out().ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.server.unwatch_all(ctx.client);
    ctx.out().ok();
    Ok(())
}
