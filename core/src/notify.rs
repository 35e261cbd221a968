//! Keyspace notifications (`notify-keyspace-events`): after each change to
//! a key, a pub/sub message on `__keyspace@<db>__:<key>` carrying the
//! event's name (class `K`) and one on `__keyevent@<db>__:<event>` carrying
//! the key (class `E`), as Redis 7.0's `notifyKeyspaceEvent` publishes them.
//!
//! Command handlers call [`Ctx::notify`] with the event's class and Redis's
//! name for it, at the place Redis notifies. Two events happen inside the
//! keyspace instead, where no handler sees them: a key added (`new`, class
//! `n`) and a key removed by expiry (`expired`, class `x`, lazy or active).
//! The databases queue those (`db::Db::notices`) only while their class is
//! enabled, and every notification first delivers what they queued, so the
//! order is the order things happened; `Server::after_command` delivers the
//! rest (a GET that found its key expired, the active expiry cycle).
//! Eviction notifies from `crate::evict`.
//!
//! Messages go to local subscribers only, through the same delivery as
//! PUBLISH (`cmd::pubsub::deliver`), and are never propagated to the AOF or
//! replicas: a replica notifies its own subscribers as it applies its
//! master's stream. With the directive empty (the default), a notification
//! costs one test of the flags; with no subscriber at all, no message is
//! built.

use crate::client::Client;
use crate::cmd::pubsub::deliver;
use crate::cmd::Ctx;
use crate::db::KeyNotice;
use crate::server::Server;

/// Event classes and the two kinds of channel, as the flag bits of
/// `notify-keyspace-events` (Redis's `NOTIFY_*` names).
pub mod class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: u32 = 1 << 0;
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: u32 = 1 << 1;
    /// `g`: commands on any type (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: u32 = 1 << 2;
    /// `$`: string commands.
    pub const STRING: u32 = 1 << 3;
    /// `l`: list commands.
    pub const LIST: u32 = 1 << 4;
    /// `s`: set commands.
    pub const SET: u32 = 1 << 5;
    /// `h`: hash commands.
    pub const HASH: u32 = 1 << 6;
    /// `z`: sorted set commands.
    pub const ZSET: u32 = 1 << 7;
    /// `x`: a key removed by expiry.
    pub const EXPIRED: u32 = 1 << 8;
    /// `e`: a key removed by eviction.
    pub const EVICTED: u32 = 1 << 9;
    /// `t`: stream commands (no streams here: accepted, never fired).
    pub const STREAM: u32 = 1 << 10;
    /// `m`: a key a command looked for and did not find (accepted; not
    /// fired here).
    pub const KEY_MISS: u32 = 1 << 11;
    /// `d`: module events (no modules: accepted, never fired).
    pub const MODULE: u32 = 1 << 13;
    /// `n`: a key added to a database.
    pub const NEW: u32 = 1 << 14;
    /// `A`: every class but `m` and `n`.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Redis's error for a `notify-keyspace-events` with an unknown letter.
pub const ERR_CLASS: &str = "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.";

/// The letters of the classes below `A`, in the order Redis writes them.
const CLASS_LETTERS: &[(u32, char)] = &[
    (class::GENERIC, 'g'),
    (class::STRING, '$'),
    (class::LIST, 'l'),
    (class::SET, 's'),
    (class::HASH, 'h'),
    (class::ZSET, 'z'),
    (class::EXPIRED, 'x'),
    (class::EVICTED, 'e'),
    (class::STREAM, 't'),
    (class::MODULE, 'd'),
    (class::NEW, 'n'),
];

/// Reads a `notify-keyspace-events` value (`KEA`, `Elg`, ...) into flag
/// bits; `None` if a letter names no class.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for letter in text.chars() {
        flags |= match letter {
            'A' => class::ALL,
            'K' => class::KEYSPACE,
            'E' => class::KEYEVENT,
            'm' => class::KEY_MISS,
            _ => CLASS_LETTERS.iter().find(|&&(_, l)| l == letter)?.0,
        };
    }
    Some(flags)
}

/// Writes flag bits as CONFIG GET shows them, in Redis's order: `A` for
/// all its classes (then `n` is not shown, as in Redis), else each class
/// letter; then `K`, `E` and `m`.
pub fn format_flags(flags: u32) -> String {
    let mut text = String::new();
    if flags & class::ALL == class::ALL {
        text.push('A');
    } else {
        for &(bit, letter) in CLASS_LETTERS {
            if flags & bit != 0 {
                text.push(letter);
            }
        }
    }
    for (bit, letter) in [
        (class::KEYSPACE, 'K'),
        (class::KEYEVENT, 'E'),
        (class::KEY_MISS, 'm'),
    ] {
        if flags & bit != 0 {
            text.push(letter);
        }
    }
    text
}

impl Ctx<'_> {
    /// Publishes `event` of `class` for `key` in the client's database, if
    /// `notify-keyspace-events` enables the class.
    pub fn notify(&mut self, class: u32, event: &str, key: &[u8]) {
        if self.server.config.notify_keyspace_events & class == 0 {
            return;
        }
        let db = self.client.db;
        // A script's commands run on its caller with the script's reply
        // buffer in place of the caller's: a message for the caller would
        // land in the script's reply, so the caller goes without it.
        let current = (!self.server.script_running).then_some(&mut *self.client);
        notify(self.server, current, class, event, key, db);
    }
}

/// Publishes `event` of `class` for `key` in database `db`, if enabled,
/// after what the databases queued. `current` is the client running the
/// command (out of the server's client table meanwhile), if any.
pub fn notify(
    server: &mut Server,
    mut current: Option<&mut Client>,
    class: u32,
    event: &str,
    key: &[u8],
    db: usize,
) {
    let flags = server.config.notify_keyspace_events;
    if flags & class == 0 {
        return;
    }
    deliver_queued(server, current.as_deref_mut());
    publish(server, current, flags, event, key, db);
}

/// Delivers the `new` and `expired` events the databases queued.
pub fn deliver_queued(server: &mut Server, mut current: Option<&mut Client>) {
    let flags = server.config.notify_keyspace_events;
    for db in 0..server.keyspace.dbs.len() {
        if server.keyspace.dbs[db].notices.is_empty() {
            continue;
        }
        for (notice, key) in std::mem::take(&mut server.keyspace.dbs[db].notices) {
            let (class, event) = match notice {
                KeyNotice::New => (class::NEW, "new"),
                KeyNotice::Expired => (class::EXPIRED, "expired"),
            };
            if flags & class != 0 {
                publish(server, current.as_deref_mut(), flags, event, &key, db);
            }
        }
    }
}

/// Sends the keyspace and keyevent messages `flags` ask for.
fn publish(
    server: &mut Server,
    mut current: Option<&mut Client>,
    flags: u32,
    event: &str,
    key: &[u8],
    db: usize,
) {
    // With no subscriber at all nobody could receive either message.
    if server.pubsub.channel_count() == 0 && server.pubsub.pattern_count() == 0 {
        return;
    }
    if flags & class::KEYSPACE != 0 {
        let mut channel = format!("__keyspace@{db}__:").into_bytes();
        channel.extend_from_slice(key);
        deliver(server, current.as_deref_mut(), &channel, event.as_bytes());
    }
    if flags & class::KEYEVENT != 0 {
        let channel = format!("__keyevent@{db}__:{event}").into_bytes();
        deliver(server, current, &channel, key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_and_write_as_redis_does() {
        for (given, shown) in [
            ("AKE", "AKE"),
            ("KEA", "AKE"),
            ("Kg", "gK"),
            ("Exg", "gxE"),
            ("nA", "A"),
            ("KEAnm", "AKEm"),
            ("g$lshzxetd", "A"),
            ("Kz", "zK"),
            ("m", "m"),
            ("", ""),
            ("E", "E"),
            ("Kn", "nK"),
        ] {
            let flags = parse_flags(given).expect(given);
            assert_eq!(format_flags(flags), shown, "{given}");
        }
        assert_eq!(parse_flags("zzq"), None);
        assert_eq!(parse_flags("a"), None, "letters are case-sensitive");
        assert!(
            parse_flags("nA").unwrap() & class::NEW != 0,
            "n is kept under A"
        );
    }
}
