//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and
//! CLIENT, plus the HELP replies container commands share.

use super::{flag, help_subcommand, CommandSpec, Ctx, Error, Outcome, ERR_SYNTAX};
use crate::client::Client;
use crate::resp::{parse_i64, Protocol};
use crate::server::Server;

const GROUP: &str = "connection";
const CONN: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE | flag::FAST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: flag::FAST | flag::SUBSCRIBED_OK,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns the server's liveliness response.",
        complexity: "O(1)",
        handler: ping,
        subcommands: &[],
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Returns the given string.",
        complexity: "O(1)",
        handler: echo,
        subcommands: &[],
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: CONN | flag::NO_AUTH | flag::ALLOW_BUSY,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "6.0.0",
        summary: "Handshakes with the Redis server.",
        complexity: "O(1)",
        handler: hello,
        subcommands: &[],
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: CONN | flag::NO_AUTH | flag::ALLOW_BUSY,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Authenticates the connection.",
        complexity: "O(N) where N is the number of passwords defined for the user",
        handler: auth,
        subcommands: &[],
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: flag::LOADING | flag::STALE | flag::FAST,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Changes the selected database.",
        complexity: "O(1)",
        handler: select,
        subcommands: &[],
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: CONN | flag::NO_AUTH | flag::ALLOW_BUSY | flag::NO_MULTI_QUEUE | flag::SUBSCRIBED_OK,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "1.0.0",
        summary: "Closes the connection.",
        complexity: "O(1)",
        handler: quit,
        subcommands: &[],
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: CONN | flag::NO_AUTH | flag::ALLOW_BUSY | flag::NO_MULTI_QUEUE | flag::SUBSCRIBED_OK,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "6.2.0",
        summary: "Resets the connection.",
        complexity: "O(1)",
        handler: reset,
        subcommands: &[],
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: 0,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.4.0",
        summary: "A container for client connection commands.",
        complexity: "Depends on subcommand.",
        handler: container_help,
        subcommands: CLIENT_SUBCOMMANDS,
    },
];

const CLIENT_FLAGS: u32 = flag::NOSCRIPT | flag::LOADING | flag::STALE;

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "id",
        arity: 2,
        flags: CLIENT_FLAGS,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "5.0.0",
        summary: "Returns the unique client ID of the connection.",
        complexity: "O(1)",
        handler: client_id,
        subcommands: &[],
    },
    CommandSpec {
        name: "setname",
        arity: 3,
        flags: CLIENT_FLAGS,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.6.9",
        summary: "Sets the connection name.",
        complexity: "O(1)",
        handler: client_setname,
        subcommands: &[],
    },
    CommandSpec {
        name: "getname",
        arity: 2,
        flags: CLIENT_FLAGS,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.6.9",
        summary: "Returns the name of the connection.",
        complexity: "O(1)",
        handler: client_getname,
        subcommands: &[],
    },
    CommandSpec {
        name: "setinfo",
        arity: 4,
        flags: CLIENT_FLAGS,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "7.2.0",
        summary: "Sets information specific to the client or connection.",
        complexity: "O(1)",
        handler: client_setinfo,
        subcommands: &[],
    },
    CommandSpec {
        name: "list",
        arity: -2,
        flags: CLIENT_FLAGS | flag::ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.4.0",
        summary: "Lists open connections.",
        complexity: "O(N) where N is the number of client connections",
        handler: client_list,
        subcommands: &[],
    },
    CommandSpec {
        name: "info",
        arity: 2,
        flags: CLIENT_FLAGS,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "6.2.0",
        summary: "Returns information about the connection.",
        complexity: "O(1)",
        handler: client_info,
        subcommands: &[],
    },
    CommandSpec {
        name: "kill",
        arity: -3,
        flags: CLIENT_FLAGS | flag::ADMIN,
        keys: (0, 0, 0),
        movable: None,
        group: GROUP,
        since: "2.4.0",
        summary: "Terminates open connections.",
        complexity: "O(N) where N is the number of client connections",
        handler: client_kill,
        subcommands: &[],
    },
    CommandSpec::new("reply", 3, CLIENT_FLAGS, client_reply).doc(
        GROUP,
        "3.2.0",
        "Instructs the server whether to reply to commands.",
        "O(1)",
    ),
    CommandSpec::new("pause", -3, CLIENT_FLAGS | flag::ADMIN, client_pause).doc(
        GROUP,
        "3.0.0",
        "Suspends commands processing.",
        "O(1)",
    ),
    CommandSpec::new("unpause", 2, CLIENT_FLAGS | flag::ADMIN, client_unpause).doc(
        GROUP,
        "6.2.0",
        "Resumes processing commands from paused clients.",
        "O(N) Where N is the number of paused clients",
    ),
    CommandSpec::new("no-evict", 3, CLIENT_FLAGS | flag::ADMIN, client_no_evict).doc(
        GROUP,
        "7.0.0",
        "Sets the client eviction mode of the connection.",
        "O(1)",
    ),
    CommandSpec::new("unblock", -3, CLIENT_FLAGS | flag::ADMIN, client_unblock).doc(
        GROUP,
        "5.0.0",
        "Unblocks a client blocked by a blocking command from a different connection.",
        "O(log N) where N is the number of client connections",
    ),
    help_subcommand(GROUP, "5.0.0", client_help),
];

/// Handler of a container command reached without a subcommand; `resolve`
/// refuses that by arity, so it only answers if called directly.
pub fn container_help(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.error("ERR missing subcommand");
    Ok(())
}

/// Redis's HELP reply: a header, the lines, and HELP's own entry.
pub fn help_lines(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    let out = ctx.out();
    out.array(lines.len() + 3);
    out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        out.simple(line);
    }
    out.simple("HELP");
    out.simple("    Prints this help.");
}

fn ping(ctx: &mut Ctx<'_>) -> Outcome {
    if ctx.argv.len() > 2 {
        ctx.error("ERR wrong number of arguments for 'ping' command");
        return Ok(());
    }
    let message = ctx.argv.get(1).map(Vec::as_slice);
    if ctx.client.in_pubsub_context() {
        let out = ctx.out();
        out.array(2);
        out.bulk(b"pong");
        out.bulk(message.unwrap_or(b""));
        return Ok(());
    }
    match message {
        Some(message) => ctx.out().bulk(message),
        None => ctx.out().simple("PONG"),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>) -> Outcome {
    let message = ctx.arg(1);
    ctx.out().bulk(message);
    Ok(())
}

/// Checks a password for the default user, the only user there is.
fn check_password(server: &Server, user: &[u8], password: &[u8]) -> bool {
    user == b"default"
        && server
            .config
            .requirepass
            .as_deref()
            .is_none_or(|p| p == password)
}

const ERR_WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";

fn auth(ctx: &mut Ctx<'_>) -> Outcome {
    let (user, password) = match ctx.argv.len() {
        2 => {
            if ctx.server.config.requirepass.is_none() {
                ctx.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?");
                return Ok(());
            }
            (&b"default"[..], ctx.arg(1))
        }
        3 => (ctx.arg(1), ctx.arg(2)),
        _ => return Err(Error::msg(ERR_SYNTAX)),
    };
    if check_password(ctx.server, user, password) {
        ctx.client.authenticated = true;
        ctx.out().ok();
    } else {
        ctx.error(ERR_WRONGPASS);
    }
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>) -> Outcome {
    let mut protocol = ctx.client.out.protocol;
    let mut next = 1;
    if let Some(version) = ctx.argv.get(1) {
        match parse_i64(version) {
            None => {
                return Err(Error::msg(
                    "ERR Protocol version is not an integer or out of range",
                ))
            }
            Some(2) => protocol = Protocol::Resp2,
            Some(3) => protocol = Protocol::Resp3,
            Some(_) => return Err(Error::msg("NOPROTO unsupported protocol version")),
        }
        next = 2;
    }
    let mut name = None;
    while next < ctx.argv.len() {
        let option = ctx.keyword(next);
        let remaining = ctx.argv.len() - next - 1;
        if option == "AUTH" && remaining >= 2 {
            if !check_password(ctx.server, ctx.arg(next + 1), ctx.arg(next + 2)) {
                return Err(Error::msg(ERR_WRONGPASS));
            }
            ctx.client.authenticated = true;
            next += 3;
        } else if option == "SETNAME" && remaining >= 1 {
            name = Some(ctx.arg(next + 1));
            next += 2;
        } else {
            let text = String::from_utf8_lossy(ctx.arg(next)).into_owned();
            return Err(Error::msg(&format!(
                "ERR Syntax error in HELLO option '{text}'"
            )));
        }
    }
    if !ctx.client.authenticated {
        return Err(Error::msg("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"));
    }
    if let Some(name) = name {
        if !set_name(ctx, name) {
            return Ok(());
        }
    }
    ctx.client.out.protocol = protocol;
    let id = ctx.client.id as i64;
    let out = ctx.out();
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(crate::REDIS_VERSION.as_bytes());
    out.bulk(b"proto");
    out.int(protocol.version());
    out.bulk(b"id");
    out.int(id);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn select(ctx: &mut Ctx<'_>) -> Outcome {
    let Some(index) = super::keys::int32_arg(ctx, 1, None) else {
        return Ok(());
    };
    if index < 0 || index as usize >= ctx.server.keyspace.dbs.len() {
        return Err(Error::msg("ERR DB index is out of range"));
    }
    ctx.client.db = index as usize;
    ctx.out().ok();
    Ok(())
}

fn quit(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.out().ok();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.client.monitor = false;
    ctx.server.observe.monitors.remove(ctx.client.id);
    ctx.client.multi = None;
    ctx.server.unwatch_all(ctx.client);
    ctx.server.pubsub.unsubscribe_everything(ctx.client);
    ctx.client.db = 0;
    ctx.client.out.protocol = Protocol::Resp2;
    ctx.client.name = None;
    ctx.client.authenticated = ctx.server.config.requirepass.is_none();
    ctx.out().simple("RESET");
    Ok(())
}

fn client_id(ctx: &mut Ctx<'_>) -> Outcome {
    let id = ctx.client.id as i64;
    ctx.out().int(id);
    Ok(())
}

/// Sets or clears the client's name; false after replying with an error.
fn set_name(ctx: &mut Ctx<'_>, name: &[u8]) -> bool {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        ctx.error("ERR Client names cannot contain spaces, newlines or special characters.");
        return false;
    }
    ctx.client.name = (!name.is_empty()).then(|| name.to_vec());
    true
}

fn client_setname(ctx: &mut Ctx<'_>) -> Outcome {
    if set_name(ctx, ctx.arg(2)) {
        ctx.out().ok();
    }
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>) -> Outcome {
    match ctx.client.name.clone() {
        Some(name) => ctx.out().bulk(&name),
        None => ctx.out().null(),
    }
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>) -> Outcome {
    let attribute = ctx.keyword(2);
    if attribute != "LIB-NAME" && attribute != "LIB-VER" {
        let text = String::from_utf8_lossy(ctx.arg(2)).into_owned();
        return Err(Error::msg(&format!("ERR Unrecognized option '{text}'")));
    }
    ctx.out().ok();
    Ok(())
}

/// One CLIENT LIST line, Redis 7.0's fields.
/// Whether `client` is of the type a TYPE filter names (`slave` is
/// `replica`).
fn same_kind(kind: &str, client: &Client) -> bool {
    let kind = if kind == "slave" { "replica" } else { kind };
    client.kind() == kind
}

/// A client's CLIENT LIST flags: `U` added for a Unix-socket connection,
/// after the others as Redis orders them (alone, it replaces `N`).
fn flags(client: &Client) -> String {
    let flags = client.flags();
    if !crate::config::is_unix_socket(&client.info) {
        return flags;
    }
    if flags == "N" {
        "U".to_string()
    } else {
        flags + "U"
    }
}

fn describe(client: &Client, now_ms: u64) -> String {
    let name = client
        .name
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let multi = client.multi.as_ref().map_or(-1, |m| m.queued.len() as i64);
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub=0 multi={} qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl={} oll=0 omem=0 tot-mem={} events=r cmd={} user=default redir=-1 resp={}\n",
        client.id,
        client.info.peer_addr,
        client.info.local_addr,
        client.info.fd,
        name,
        now_ms.saturating_sub(client.created_ms) / 1000,
        now_ms.saturating_sub(client.last_interaction_ms) / 1000,
        flags(client),
        client.db,
        client.channels.len(),
        client.patterns.len(),
        multi,
        client.query.len(),
        client.query.capacity() - client.query.len(),
        client.query.capacity(),
        client.out.buf.len(),
        client.query.capacity() + client.out.buf.capacity(),
        client.last_command,
        client.out.protocol.version(),
    )
}

fn client_list(ctx: &mut Ctx<'_>) -> Outcome {
    let mut ids: Option<Vec<u64>> = None;
    let mut kind: Option<String> = None;
    let mut i = 2;
    while i < ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "TYPE" if i + 1 < ctx.argv.len() => {
                let wanted = ctx.keyword(i + 1).to_ascii_lowercase();
                if !["normal", "master", "replica", "slave", "pubsub"].contains(&wanted.as_str()) {
                    let text = String::from_utf8_lossy(ctx.arg(i + 1)).into_owned();
                    return Err(Error::msg(&format!("ERR Unknown client type '{text}'")));
                }
                kind = Some(wanted);
                i += 2;
            }
            "ID" if i + 1 < ctx.argv.len() => {
                let mut list = Vec::new();
                for arg in &ctx.argv[i + 1..] {
                    match parse_i64(arg).filter(|&n| n > 0) {
                        Some(n) => list.push(n as u64),
                        None => return Err(Error::msg("ERR Invalid client ID")),
                    }
                }
                ids = Some(list);
                i = ctx.argv.len();
            }
            _ => return Err(Error::msg(ERR_SYNTAX)),
        }
    }
    let now = ctx.env.monotonic_ms();
    let text: String = ctx
        .server
        .all_clients(ctx.client)
        .into_iter()
        .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .filter(|c| kind.as_deref().is_none_or(|k| same_kind(k, c)))
        .map(|c| describe(c, now))
        .collect();
    ctx.out().verbatim(text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>) -> Outcome {
    let now = ctx.env.monotonic_ms();
    let text = describe(ctx.client, now);
    ctx.out().verbatim(text.as_bytes());
    Ok(())
}

/// Which clients CLIENT KILL selects.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    kind: Option<String>,
    user: Option<Vec<u8>>,
    skip_me: bool,
    max_age_s: Option<u64>,
}

impl KillFilter {
    fn matches(&self, client: &Client, current_id: u64, now_ms: u64) -> bool {
        if self.skip_me && client.id == current_id {
            return false;
        }
        self.id.is_none_or(|id| id == client.id)
            && self
                .addr
                .as_ref()
                .is_none_or(|a| a == client.info.peer_addr.as_bytes())
            && self
                .laddr
                .as_ref()
                .is_none_or(|a| a == client.info.local_addr.as_bytes())
            && self.user.as_ref().is_none_or(|u| u == b"default")
            && self
                .max_age_s
                .is_none_or(|age| now_ms.saturating_sub(client.created_ms) / 1000 >= age)
            && self.kind.as_deref().is_none_or(|k| same_kind(k, client))
    }
}

fn parse_kill_filter(ctx: &mut Ctx<'_>) -> Result<KillFilter, String> {
    let mut filter = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    if !(ctx.argv.len() - 2).is_multiple_of(2) {
        return Err(ERR_SYNTAX.to_string());
    }
    for pair in ctx.argv[2..].chunks(2) {
        let value = &pair[1];
        match String::from_utf8_lossy(&pair[0])
            .to_ascii_uppercase()
            .as_str()
        {
            "ID" => {
                let id = parse_i64(value)
                    .filter(|&n| n > 0)
                    .ok_or("ERR client-id should be greater than 0")?;
                filter.id = Some(id as u64);
            }
            "TYPE" => {
                let kind = String::from_utf8_lossy(value).to_ascii_lowercase();
                if !["normal", "master", "replica", "slave", "pubsub"].contains(&kind.as_str()) {
                    return Err(format!(
                        "ERR Unknown client type '{}'",
                        String::from_utf8_lossy(value)
                    ));
                }
                filter.kind = Some(kind);
            }
            "ADDR" => filter.addr = Some(value.clone()),
            "LADDR" => filter.laddr = Some(value.clone()),
            "USER" => filter.user = Some(value.clone()),
            "SKIPME" => match String::from_utf8_lossy(value).to_ascii_lowercase().as_str() {
                "yes" => filter.skip_me = true,
                "no" => filter.skip_me = false,
                _ => return Err(ERR_SYNTAX.to_string()),
            },
            "MAXAGE" => {
                let age = parse_i64(value)
                    .filter(|&n| n >= 0)
                    .ok_or(super::ERR_NOT_INTEGER)?;
                filter.max_age_s = Some(age as u64);
            }
            _ => return Err(ERR_SYNTAX.to_string()),
        }
    }
    Ok(filter)
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]: 1 if that client was blocked
/// and is now answered, as at its timeout (the default) or with
/// `-UNBLOCKED`; 0 otherwise.
fn client_unblock(ctx: &mut Ctx<'_>) -> Outcome {
    let id = parse_i64(ctx.arg(2)).ok_or(Error::from(super::ERR_NOT_INTEGER))?;
    let as_error = match ctx.argv.get(3) {
        None => false,
        Some(word) if word.eq_ignore_ascii_case(b"TIMEOUT") => false,
        Some(word) if word.eq_ignore_ascii_case(b"ERROR") => true,
        Some(_) => return Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into()),
    };
    if ctx.argv.len() > 4 {
        return Err(ERR_SYNTAX.into());
    }
    let blocked = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.server.clients.remove(&id));
    let Some(mut target) = blocked else {
        ctx.out().int(0);
        return Ok(());
    };
    let was_blocked = target.blocked.is_some();
    if was_blocked {
        let reply = as_error.then_some("UNBLOCKED client unblocked via CLIENT UNBLOCK");
        super::blocked::answer(ctx.server, &mut target, ctx.env, reply);
        ctx.server.queue_write(&mut target);
    }
    ctx.server.clients.insert(target.id, target);
    ctx.out().int(i64::from(was_blocked));
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: `+OK` for ON; OFF and SKIP answer nothing
/// (see `cmd::process`, which drops the replies).
fn client_reply(ctx: &mut Ctx<'_>) -> Outcome {
    let word = ctx.arg(2);
    if word.eq_ignore_ascii_case(b"ON") {
        ctx.client.reply_off = false;
        ctx.client.reply_skip_next = false;
        ctx.client.reply_skip_this = false;
        ctx.out().ok();
    } else if word.eq_ignore_ascii_case(b"OFF") {
        ctx.client.reply_off = true;
    } else if word.eq_ignore_ascii_case(b"SKIP") {
        ctx.client.reply_skip_next = !ctx.client.reply_off;
    } else {
        return Err(ERR_SYNTAX.into());
    }
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL]: `+OK`; see `crate::pause`.
fn client_pause(ctx: &mut Ctx<'_>) -> Outcome {
    let timeout = parse_i64(ctx.arg(2))
        .ok_or(Error::from("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err("ERR timeout is negative".into());
    }
    let all = match ctx.argv.len() {
        3 => true,
        4 if ctx.arg(3).eq_ignore_ascii_case(b"ALL") => true,
        4 if ctx.arg(3).eq_ignore_ascii_case(b"WRITE") => false,
        4 => return Err("ERR CLIENT PAUSE mode must be WRITE or ALL".into()),
        _ => return Err(ERR_SYNTAX.into()),
    };
    let end_ms = ctx.env.monotonic_ms().saturating_add(timeout as u64);
    ctx.server.pause_clients(all, end_ms);
    ctx.out().ok();
    Ok(())
}

/// CLIENT UNPAUSE: `+OK`; the held clients go on.
fn client_unpause(ctx: &mut Ctx<'_>) -> Outcome {
    ctx.server.unpause_clients();
    ctx.out().ok();
    Ok(())
}

/// CLIENT NO-EVICT on|off: `+OK`. Clients are never evicted here (there
/// is no `maxmemory-clients`), so the mode changes nothing.
fn client_no_evict(ctx: &mut Ctx<'_>) -> Outcome {
    let word = ctx.arg(2);
    if !word.eq_ignore_ascii_case(b"on") && !word.eq_ignore_ascii_case(b"off") {
        return Err(ERR_SYNTAX.into());
    }
    ctx.out().ok();
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>) -> Outcome {
    let old_form = ctx.argv.len() == 3;
    let filter = if old_form {
        KillFilter {
            addr: Some(ctx.arg(2).to_vec()),
            ..KillFilter::default()
        }
    } else {
        match parse_kill_filter(ctx) {
            Ok(filter) => filter,
            Err(error) => return Err(Error::msg(&error)),
        }
    };
    let now = ctx.env.monotonic_ms();
    let me = ctx.client.id;
    let victims: Vec<u64> = ctx
        .server
        .all_clients(ctx.client)
        .into_iter()
        .filter(|c| filter.matches(c, me, now))
        .map(|c| c.id)
        .collect();
    for &id in &victims {
        if id == me {
            ctx.client.close_after_reply = true;
        } else if let Some(client) = ctx.server.clients.get_mut(&id) {
            client.close_after_reply = true;
            if !client.pending_write {
                client.pending_write = true;
                ctx.server.pending_writes.push(id);
            }
        }
    }
    if old_form {
        if victims.is_empty() {
            ctx.error("ERR No such client");
        } else {
            ctx.out().ok();
        }
    } else {
        ctx.out().int(victims.len() as i64);
    }
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "CLIENT",
        &[
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
