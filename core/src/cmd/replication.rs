//! Replication's commands: REPLICAOF (and SLAVEOF), REPLCONF, PSYNC,
//! SYNC, ROLE, WAIT and WAITAOF. What they act on is in `crate::repl`.

use super::flag::{ADMIN, LOADING, NOSCRIPT, NO_MULTI, STALE};
use super::{CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::env::LogLevel;
use crate::planted::{self, PlantedBug};
use crate::repl::master::SyncRequest;
use crate::repl::PeerState;
use crate::resp::parse_i64;

const GROUP: &str = "server";
const ERR_UNBLOCKED: &str =
    "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";
const ADMIN_STALE: u32 = ADMIN | NOSCRIPT | STALE;
const SYNC_FLAGS: u32 = ADMIN | NOSCRIPT | NO_MULTI;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("replicaof", 3, ADMIN_STALE, replicaof).doc(GROUP, "5.0.0", "Configures a server as replica of another, or promotes it to a master.", "O(1)"),
    CommandSpec::new("slaveof", 3, ADMIN_STALE, replicaof).doc(GROUP, "1.0.0", "Sets a Redis server as a replica of another, or promotes it to being a master.", "O(1)"),
    CommandSpec::new("replconf", -1, ADMIN_STALE | LOADING, replconf).doc(GROUP, "3.0.0", "An internal command for configuring the replication stream.", "O(1)"),
    CommandSpec::new("psync", -3, SYNC_FLAGS, psync).doc(GROUP, "2.8.0", "An internal command used in replication.", "O(1)"),
    CommandSpec::new("sync", 1, SYNC_FLAGS, sync).doc(GROUP, "1.0.0", "An internal command used in replication.", "O(1)"),
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | super::flag::FAST, role).doc(GROUP, "2.8.12", "Returns the replication role.", "O(1)"),
    CommandSpec::new("wait", 3, NOSCRIPT, wait).doc("generic", "3.0.0", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "O(1)"),
    CommandSpec::new("dumpsave", 1, ADMIN | NOSCRIPT | NO_MULTI, dumpsave).doc(GROUP, "redoubt", "Replies with a point-in-time RDB dump of the dataset, produced without stalling the server: a backup pulled over the network.", "O(N)"),
    CommandSpec::new("pipesave", 1, ADMIN | NOSCRIPT, pipesave).doc(GROUP, "redoubt", "Streams a point-in-time RDB dump into the standard input of the command pipesave-command names, in the background: a push backup.", "O(N)"),
    CommandSpec::new("waitaof", 4, NOSCRIPT, waitaof).doc("generic", "7.2.0", "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.", "O(1)"),
];

/// REPLICAOF host port | REPLICAOF NO ONE.
fn replicaof(ctx: &mut Ctx<'_>) -> Outcome {
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let port_text = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    let who = format!("id={} addr={}", ctx.client.id, ctx.client.info.peer_addr);
    if host.eq_ignore_ascii_case("no") && port_text.eq_ignore_ascii_case("one") {
        if ctx.server.unset_master(ctx.env) {
            ctx.env.log(
                LogLevel::Notice,
                &format!("MASTER MODE enabled (user request from '{who}')"),
            );
        }
        ctx.out().ok();
        return Ok(());
    }
    if ctx.client.is_replica {
        return Err("ERR Command is not valid when client is a replica.".into());
    }
    let port = parse_i64(ctx.arg(2)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    let port = u16::try_from(port).map_err(|_| Error::from("ERR Invalid master port"))?;
    if !ctx.server.set_master(ctx.env, &host, port) {
        ctx.env.log(
            LogLevel::Notice,
            "REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.",
        );
        ctx.out().simple("OK Already connected to specified master");
        return Ok(());
    }
    // Blocked clients hear that the node changed role, as in Redis.
    let blocked: Vec<_> = ctx
        .server
        .clients
        .iter()
        .filter(|(_, c)| c.blocked.is_some())
        .map(|(&conn, _)| conn)
        .collect();
    for conn in blocked {
        if let Some(mut client) = ctx.server.clients.remove(&conn) {
            super::blocked::answer(ctx.server, &mut client, ctx.env, Some(ERR_UNBLOCKED));
            ctx.server.queue_write(&mut client);
            ctx.server.clients.insert(conn, client);
        }
    }
    ctx.env.log(
        LogLevel::Notice,
        &format!("REPLICAOF {host}:{port} enabled (user request from '{who}')"),
    );
    ctx.out().ok();
    Ok(())
}

/// REPLCONF option value [option value ...]: what a replica tells its
/// master about itself, and the ACKs of the stream.
fn replconf(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.argv.len().is_multiple_of(2) {
        return Err(ERR_SYNTAX.into());
    }
    let mut i = 1;
    while i < ctx.argv.len() {
        let option = ctx.keyword(i);
        let value = ctx.arg(i + 1);
        match option.as_str() {
            "LISTENING-PORT" => {
                let port = parse_i64(value)
                    .and_then(|p| u16::try_from(p).ok())
                    .ok_or(Error::from(ERR_NOT_INTEGER))?;
                ctx.client.hello.listening_port = port;
            }
            "IP-ADDRESS" => {
                ctx.client.hello.announced_ip = Some(String::from_utf8_lossy(value).into_owned());
            }
            "CAPA" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    ctx.client.hello.capa_eof = true;
                }
            }
            "RDB-ONLY" => match value {
                b"1" => ctx.client.hello.rdb_only = true,
                b"0" => ctx.client.hello.rdb_only = false,
                _ => return Err(ERR_SYNTAX.into()),
            },
            "ACK" => {
                // From a replica: no reply.
                let Some(offset) = parse_i64(value).and_then(|n| u64::try_from(n).ok()) else {
                    return Ok(());
                };
                let fack = (ctx.argv.len() > i + 3
                    && ctx.argv[i + 2].eq_ignore_ascii_case(b"fack"))
                .then(|| parse_i64(&ctx.argv[i + 3]).and_then(|n| u64::try_from(n).ok()))
                .flatten();
                if ctx.client.is_replica {
                    ctx.server.replica_ack(ctx.env, ctx.client.id, offset, fack);
                }
                return Ok(());
            }
            "GETACK" => {
                // From our master: answered with an ACK on the link.
                if ctx.client.is_master {
                    ctx.server.send_ack(ctx.env);
                }
                return Ok(());
            }
            _ => {
                return Err(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(ctx.arg(i))
                )
                .into())
            }
        }
        i += 2;
    }
    ctx.out().ok();
    Ok(())
}

fn sync_refusal(ctx: &Ctx<'_>) -> Option<&'static str> {
    if ctx.client.is_master {
        return Some("ERR Replica can't be the master of its own replica");
    }
    let link_down = ctx
        .server
        .repl
        .link
        .as_ref()
        .is_some_and(|link| link.state != crate::repl::replica::LinkState::Connected);
    link_down.then_some("NOMASTERLINK Can't SYNC while not connected with my master")
}

/// PSYNC replid offset.
fn psync(ctx: &mut Ctx<'_>) -> Outcome {
    if let Some(refusal) = sync_refusal(ctx) {
        return Err(refusal.into());
    }
    let offset = parse_i64(ctx.arg(2)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    let replid = ctx.arg(1);
    let request = SyncRequest {
        psync: Some((replid, offset)),
    };
    ctx.server.replica_sync(ctx.env, ctx.client, request);
    Ok(())
}

/// SYNC: the old full sync, without `+FULLRESYNC`.
fn sync(ctx: &mut Ctx<'_>) -> Outcome {
    if let Some(refusal) = sync_refusal(ctx) {
        return Err(refusal.into());
    }
    let request = SyncRequest { psync: None };
    ctx.server.replica_sync(ctx.env, ctx.client, request);
    Ok(())
}

/// ROLE: `master offset [[ip port offset] ...]`, or
/// `slave host port state offset`.
fn role(ctx: &mut Ctx<'_>) -> Outcome {
    let repl = &ctx.server.repl;
    let out = &mut ctx.client.out;
    match &repl.link {
        None => {
            out.array(3);
            out.bulk(b"master");
            out.int(repl.offset as i64);
            let online: Vec<_> = repl
                .peers
                .iter()
                .filter(|(_, p)| p.state == PeerState::Online)
                .collect();
            out.array(online.len());
            for (conn, peer) in online {
                let ip = peer
                    .announced_ip
                    .clone()
                    .or_else(|| {
                        ctx.server
                            .clients
                            .get(conn)
                            .map(|c| peer_ip(&c.info.peer_addr))
                    })
                    .unwrap_or_default();
                out.array(3);
                out.bulk(ip.as_bytes());
                out.bulk(peer.listening_port.to_string().as_bytes());
                out.bulk(peer.ack_offset.to_string().as_bytes());
            }
        }
        Some(link) => {
            out.array(5);
            out.bulk(b"slave");
            out.bulk(link.host.as_bytes());
            out.int(i64::from(link.port));
            out.bulk(link.state.role_name().as_bytes());
            let offset = if link.state == crate::repl::replica::LinkState::Connected {
                repl.offset as i64
            } else {
                -1
            };
            out.int(offset);
        }
    }
    Ok(())
}

/// The IP part of `ip:port` (IPv6 literals keep their colons).
pub fn peer_ip(addr: &str) -> String {
    match addr.rsplit_once(':') {
        Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']').to_string(),
        None => addr.to_string(),
    }
}

/// A WAIT timeout: milliseconds, 0 forever.
fn wait_timeout(text: &[u8]) -> Result<u64, Error> {
    let ms = parse_i64(text).ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
    u64::try_from(ms).map_err(|_| Error::from("ERR timeout is negative"))
}

/// Parks the client until an ACK (or an fsync) changes the count, or its
/// timeout passes; replicas are asked for ACKs when it first waits.
fn park(ctx: &mut Ctx<'_>, timeout_ms: u64) {
    if !ctx.server.repl.waiting.contains(&ctx.client.id) {
        ctx.server.repl.waiting.push(ctx.client.id);
        ctx.server.repl.get_ack_wanted = true;
    }
    ctx.block_on(Vec::new(), timeout_ms);
}

/// WAIT numreplicas timeout: the number of replicas that acknowledged
/// this client's last write, once there are enough or the time is up.
fn wait(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.server.repl.is_replica() {
        return Err("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into());
    }
    let wanted = parse_i64(ctx.arg(1)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    let timeout_ms = wait_timeout(ctx.arg(2))?;
    let acked = if planted::active(&ctx.server.config, PlantedBug::WaitCountsOnlineReplicas) {
        ctx.server.repl.online_peers()
    } else {
        ctx.server.repl.peers_acked(ctx.client.repl_woff, false)
    };
    if acked as i64 >= wanted || !ctx.may_block {
        ctx.server
            .repl
            .waiting
            .retain(|&conn| conn != ctx.client.id);
        ctx.out().int(acked as i64);
        return Ok(());
    }
    park(ctx, timeout_ms);
    Ok(())
}

/// WAITAOF numlocal numreplicas timeout: `[local, replicas]`, the copies
/// of this client's last write fsynced to an AOF, here and on replicas,
/// once there are enough or the time is up (Redis 7.2).
fn waitaof(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.server.repl.is_replica() {
        return Err("ERR WAITAOF cannot be used with replica instances. Please also note that writes to replicas are just local and are not propagated.".into());
    }
    let numlocal = parse_i64(ctx.arg(1)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    let numreplicas = parse_i64(ctx.arg(2)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    let timeout_ms = wait_timeout(ctx.arg(3))?;
    if numlocal > 0 && !ctx.server.aof_on {
        return Err(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.".into(),
        );
    }
    let local = i64::from(ctx.server.aof_on && ctx.server.aof.fsynced >= ctx.client.reply_offset);
    let replicas = ctx.server.repl.peers_acked(ctx.client.repl_woff, true) as i64;
    if (local >= numlocal && replicas >= numreplicas) || !ctx.may_block {
        ctx.server
            .repl
            .waiting
            .retain(|&conn| conn != ctx.client.id);
        let out = ctx.out();
        out.array(2);
        out.int(local);
        out.int(replicas);
        return Ok(());
    }
    park(ctx, timeout_ms);
    Ok(())
}

/// DUMPSAVE: a point-in-time RDB of the whole dataset as one bulk string.
/// The snapshot is the forkless one BGSAVE and replication use, written a
/// step at a time; the client waits (as in WAIT) until it is complete.
fn dumpsave(ctx: &mut Ctx<'_>) -> Outcome {
    let conn = ctx.client.id;
    let finished = ctx
        .server
        .repl
        .dumps
        .get(&conn)
        .is_some_and(|dump| dump.outcome.is_some());
    if finished {
        let dump = ctx.server.repl.dumps.remove(&conn).unwrap_or_default();
        ctx.server.repl.waiting.retain(|&waiting| waiting != conn);
        return match dump.outcome {
            Some(Ok(())) => {
                ctx.out().bulk(&dump.bytes);
                Ok(())
            }
            Some(Err(error)) => Err(format!("ERR DUMPSAVE failed: {error}").into()),
            None => Ok(()),
        };
    }
    if !ctx.may_block {
        ctx.server.repl.dumps.remove(&conn);
        return Err("ERR DUMPSAVE could not complete".into());
    }
    ctx.server.repl.dumps.entry(conn).or_default();
    if !ctx.server.repl.waiting.contains(&conn) {
        ctx.server.repl.waiting.push(conn);
    }
    ctx.server.start_pending_sync(ctx.env);
    ctx.block_on(Vec::new(), 0);
    Ok(())
}

/// PIPESAVE: starts a push backup (see `persist::pipesave`).
fn pipesave(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.server.pipesave(ctx.env)?;
    ctx.out().simple("Pipe save started");
    Ok(())
}
