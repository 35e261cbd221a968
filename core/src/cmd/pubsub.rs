//! Publish/subscribe: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE,
//! PUBLISH and PUBSUB, with the registry of who listens to what.
//!
//! Messages are written straight into each subscriber's output buffer as
//! pushes (`>` in RESP3, arrays in RESP2) and leave with the other replies at
//! `before_sleep`. Delivery order is deterministic: channel subscribers in
//! subscription order, then pattern subscribers by pattern.

use crate::persist::aof_format::encode_command;
use crate::planted::{self, PlantedBug};
use crate::pubsub::remove_listener;

use super::{flag, CommandSpec, Ctx, Outcome};
use crate::client::Client;
use crate::env::ConnId;
use crate::glob::glob_match;
use crate::resp::Out;
use crate::server::Server;

const GROUP: &str = "pubsub";
const SUB_FLAGS: u32 =
    flag::PUBSUB | flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::SUBSCRIBED_OK;
const INSPECT: u32 = flag::PUBSUB | flag::LOADING | flag::STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "subscribe", arity: -2, flags: SUB_FLAGS, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "Listens for messages published to channels.", complexity: "O(N) where N is the number of channels to subscribe to.", handler: subscribe, subcommands: &[] },
    CommandSpec { name: "unsubscribe", arity: -1, flags: SUB_FLAGS, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "Stops listening to messages posted to channels.", complexity: "O(N) where N is the number of channels to unsubscribe.", handler: unsubscribe, subcommands: &[] },
    CommandSpec { name: "psubscribe", arity: -2, flags: SUB_FLAGS, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "Listens for messages published to channels that match one or more patterns.", complexity: "O(N) where N is the number of patterns to subscribe to.", handler: psubscribe, subcommands: &[] },
    CommandSpec { name: "punsubscribe", arity: -1, flags: SUB_FLAGS, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "Stops listening to messages published to channels that match one or more patterns.", complexity: "O(N) where N is the number of patterns to unsubscribe.", handler: punsubscribe, subcommands: &[] },
    CommandSpec { name: "publish", arity: 3, flags: flag::PUBSUB | flag::LOADING | flag::STALE | flag::FAST, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.0.0", summary: "Posts a message to a channel.", complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", handler: publish, subcommands: &[] },
    CommandSpec { name: "pubsub", arity: -2, flags: 0, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.8.0", summary: "A container for Pub/Sub commands.", complexity: "Depends on subcommand.", handler: super::connection::container_help, subcommands: &[
        CommandSpec { name: "channels", arity: -2, flags: INSPECT, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.8.0", summary: "Returns the active channels.", complexity: "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", handler: pubsub_channels, subcommands: &[] },
        CommandSpec { name: "numsub", arity: -2, flags: INSPECT, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.8.0", summary: "Returns a count of subscribers to channels.", complexity: "O(N) for the NUMSUB subcommand, where N is the number of requested channels", handler: pubsub_numsub, subcommands: &[] },
        CommandSpec { name: "numpat", arity: 2, flags: INSPECT, keys: (0, 0, 0), movable: None, group: GROUP, since: "2.8.0", summary: "Returns a count of unique pattern subscriptions.", complexity: "O(1)", handler: pubsub_numpat, subcommands: &[] },
        super::help_subcommand(GROUP, "6.2.0", pubsub_help),
    ] },
];

/// Writes one subscription change: `[kind, name or null, count]`.
fn confirm(out: &mut Out, kind: &str, name: Option<&[u8]>, count: usize) {
    out.push(3);
    out.bulk(kind.as_bytes());
    match name {
        Some(name) => out.bulk(name),
        None => out.null(),
    }
    out.int(count as i64);
}

fn subscribe(ctx: &mut Ctx<'_>) -> Outcome {
    for channel in &ctx.argv[1..] {
        if ctx.client.channels.insert(channel.clone()) {
            ctx.server
                .pubsub
                .channels
                .entry(channel.clone())
                .or_default()
                .push(ctx.client.id);
        }
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "subscribe", Some(channel), count);
    }
    Ok(())
}

fn psubscribe(ctx: &mut Ctx<'_>) -> Outcome {
    for pattern in &ctx.argv[1..] {
        if ctx.client.patterns.insert(pattern.clone()) {
            ctx.server
                .pubsub
                .patterns
                .entry(pattern.clone())
                .or_default()
                .push(ctx.client.id);
        }
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "psubscribe", Some(pattern), count);
    }
    Ok(())
}

fn unsubscribe(ctx: &mut Ctx<'_>) -> Outcome {
    let names: Vec<Vec<u8>> = match ctx.argv.len() {
        1 => ctx.client.channels.iter().cloned().collect(),
        _ => ctx.argv[1..].to_vec(),
    };
    for channel in &names {
        if ctx.client.channels.remove(channel) {
            remove_listener(&mut ctx.server.pubsub.channels, channel, ctx.client.id);
        }
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "unsubscribe", Some(channel), count);
    }
    if names.is_empty() {
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "unsubscribe", None, count);
    }
    Ok(())
}

fn punsubscribe(ctx: &mut Ctx<'_>) -> Outcome {
    let names: Vec<Vec<u8>> = match ctx.argv.len() {
        1 => ctx.client.patterns.iter().cloned().collect(),
        _ => ctx.argv[1..].to_vec(),
    };
    for pattern in &names {
        if ctx.client.patterns.remove(pattern) {
            remove_listener(&mut ctx.server.pubsub.patterns, pattern, ctx.client.id);
        }
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "punsubscribe", Some(pattern), count);
    }
    if names.is_empty() {
        let count = ctx.client.subscription_count();
        confirm(&mut ctx.client.out, "punsubscribe", None, count);
    }
    Ok(())
}

fn publish(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.server.repl.feeds_own_writes() {
        if planted::active(&ctx.server.config, PlantedBug::PublishAheadOfItsTransaction) {
            let mut bytes = Vec::new();
            encode_command(&mut bytes, ctx.argv);
            ctx.server.feed_stream(&bytes);
        } else {
            // Replicas deliver it to their own subscribers; the AOF keeps
            // no messages.
            ctx.server.propagate(ctx.client.db, ctx.argv, false);
        }
    }
    let receivers = deliver(ctx.server, Some(ctx.client), &ctx.argv[1], &ctx.argv[2]);
    ctx.out().int(receivers as i64);
    Ok(())
}

/// Delivers a message to every subscriber; returns how many received it.
/// `current` is the client running the command (PUBLISH, or one that
/// changed a key: see `crate::notify`), which may itself subscribe; it is
/// out of the server's client table meanwhile.
pub fn deliver(
    server: &mut Server,
    mut current: Option<&mut Client>,
    channel: &[u8],
    message: &[u8],
) -> usize {
    let mut deliveries: Vec<(ConnId, Option<Vec<u8>>)> = Vec::new();
    if let Some(listeners) = server.pubsub.channels.get(channel) {
        deliveries.extend(listeners.iter().map(|&c| (c, None)));
    }
    for (pattern, listeners) in &server.pubsub.patterns {
        if glob_match(pattern, channel, false) {
            deliveries.extend(listeners.iter().map(|&c| (c, Some(pattern.clone()))));
        }
    }
    for (conn, pattern) in &deliveries {
        if let Some(current) = current.as_deref_mut().filter(|c| c.id == *conn) {
            write_message(&mut current.out, pattern.as_deref(), channel, message);
        } else if let Some(target) = server.clients.get_mut(conn) {
            write_message(&mut target.out, pattern.as_deref(), channel, message);
            if !target.pending_write {
                target.pending_write = true;
                server.pending_writes.push(*conn);
            }
        }
    }
    deliveries.len()
}

fn write_message(out: &mut Out, pattern: Option<&[u8]>, channel: &[u8], message: &[u8]) {
    match pattern {
        None => {
            out.push(3);
            out.bulk(b"message");
        }
        Some(pattern) => {
            out.push(4);
            out.bulk(b"pmessage");
            out.bulk(pattern);
        }
    }
    out.bulk(channel);
    out.bulk(message);
}

fn pubsub_channels(ctx: &mut Ctx<'_>) -> Outcome {
    let pattern = ctx.argv.get(2);
    let names: Vec<Vec<u8>> = ctx
        .server
        .pubsub
        .channels
        .keys()
        .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
        .cloned()
        .collect();
    ctx.out().array(names.len());
    for name in names {
        ctx.out().bulk(&name);
    }
    Ok(())
}

fn pubsub_numsub(ctx: &mut Ctx<'_>) -> Outcome {
    let pairs = ctx.argv.len() - 2;
    ctx.out().array(pairs * 2);
    for channel in &ctx.argv[2..] {
        let count = ctx.server.pubsub.channels.get(channel).map_or(0, Vec::len);
        ctx.client.out.bulk(channel);
        ctx.client.out.int(count as i64);
    }
    Ok(())
}

fn pubsub_numpat(ctx: &mut Ctx<'_>) -> Outcome {
    let count = ctx.server.pubsub.patterns.len();
    ctx.out().int(count as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>) -> Outcome {
    super::connection::help_lines(
        ctx,
        "PUBSUB",
        &[
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
        ],
    );
    Ok(())
}
