//! DUMP and RESTORE: a value as Redis serializes it, for any type.
//!
//! The payload is the value's RDB encoding (type byte, then the value), the
//! RDB version as two little-endian bytes, and a CRC-64 of everything
//! before it, little-endian: what `redis-cli --rdb`-era tools and a real
//! Redis exchange. RESTORE reads the payload with the same reader as a
//! dump, so every encoding a dump may hold is accepted here too.

use super::flag::{DENYOOM, READONLY, WRITE};
use super::{CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Value;
use crate::notify::class;
use crate::persist::rdb::{crc64, RdbEvent, RdbReader, RdbWriter, RDB_VERSION};
use crate::resp::parse_i64;

const GROUP: &str = "generic";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("dump", 2, READONLY, dump).key(1).doc(GROUP, "2.6.0", "Returns a serialized representation of the value stored at a key.", "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1)."),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, restore).key(1).doc(GROUP, "2.6.0", "Creates a key from the serialized representation of a value.", "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N))."),
];

/// Bytes after the value: the version, then the checksum.
const TRAILER_BYTES: usize = 10;

/// `value` as a DUMP payload.
pub fn payload(value: &Value, compress: bool) -> Vec<u8> {
    // The writer encodes a whole entry: type, key, value. An empty key is
    // the single byte 0, which is cut out again.
    let mut entry = Vec::new();
    RdbWriter::new(compress, false).entry(&mut entry, b"", value, None);
    let mut out = Vec::with_capacity(entry.len() + TRAILER_BYTES);
    out.push(entry[0]);
    out.extend_from_slice(&entry[2..]);
    out.extend_from_slice(&(RDB_VERSION as u16).to_le_bytes());
    let checksum = crc64(&out);
    out.extend_from_slice(&checksum.to_le_bytes());
    out
}

/// The value in a DUMP payload: `None` when its version is newer than
/// this server's, its checksum is wrong, or it does not decode.
pub fn value_of(payload: &[u8]) -> Result<Value, &'static str> {
    const WRONG: &str = "ERR DUMP payload version or checksum are wrong";
    if payload.len() < TRAILER_BYTES + 1 {
        return Err(WRONG);
    }
    let (body, trailer) = payload.split_at(payload.len() - TRAILER_BYTES);
    let version = u16::from_le_bytes([trailer[0], trailer[1]]) as u32;
    let checksum = u64::from_le_bytes(trailer[2..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || crc64(&payload[..payload.len() - 8]) != checksum {
        return Err(WRONG);
    }
    // A one-key dump around the value, read by the dump reader.
    let mut dump = format!("REDIS{version:04}").into_bytes();
    dump.push(body[0]);
    dump.push(0);
    dump.extend_from_slice(&body[1..]);
    dump.push(0xFF);
    dump.extend_from_slice(&[0; 8]);
    let bad = "ERR Bad data format";
    let mut reader = RdbReader::new(&dump[..]).map_err(|_| bad)?;
    reader.set_verify_checksum(false);
    match reader.next_event() {
        Ok(Some(RdbEvent::Entry(entry))) => match reader.next_event() {
            Ok(Some(RdbEvent::End { .. })) => Ok(entry.value),
            _ => Err(bad),
        },
        _ => Err(bad),
    }
}

/// DUMP key: the serialized value, or null if the key is missing.
fn dump(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let now = ctx.now_ms;
    let compress = ctx.server.config.rdbcompression;
    let found = ctx.db().get(key, now).map(|value| payload(value, compress));
    match &found {
        Some(_) => ctx.server.stats.keyspace_hits += 1,
        None => ctx.server.stats.keyspace_misses += 1,
    }
    match found {
        Some(bytes) => ctx.out().bulk(&bytes),
        None => ctx.out().null(),
    }
    Ok(())
}

/// RESTORE's options.
#[derive(Default)]
struct RestoreOptions {
    replace: bool,
    absolute: bool,
    /// IDLETIME seconds, FREQ counter: the access field to give the key.
    idle_s: Option<u64>,
    freq: Option<u32>,
}

fn restore_options(ctx: &Ctx<'_>) -> Result<RestoreOptions, Error> {
    let mut options = RestoreOptions::default();
    let mut i = 4;
    while i < ctx.argv.len() {
        match ctx.keyword(i).as_str() {
            "REPLACE" => options.replace = true,
            "ABSTTL" => options.absolute = true,
            "IDLETIME" | "FREQ" if i + 1 < ctx.argv.len() => {
                let limit = if ctx.keyword(i) == "FREQ" {
                    255
                } else {
                    i64::MAX
                };
                let number = parse_i64(ctx.arg(i + 1)).filter(|n| (0..=limit).contains(n));
                match (number, limit) {
                    (Some(n), 255) => options.freq = Some(n as u32),
                    (Some(n), _) => options.idle_s = Some(n as u64),
                    (None, _) => {}
                }
                if number.is_none() {
                    let text = if limit == 255 {
                        "ERR Invalid FREQ value, must be >= 0 and <= 255"
                    } else {
                        "ERR Invalid IDLETIME value, must be >= 0"
                    };
                    return Err(text.into());
                }
                i += 1;
            }
            _ => return Err(ERR_SYNTAX.into()),
        }
        i += 1;
    }
    Ok(options)
}

/// Gives a restored key the access its IDLETIME or FREQ says, whichever
/// the policy tracks (Redis's `objectSetLRUOrLFU`).
fn set_access(ctx: &mut Ctx<'_>, key: &[u8], options: &RestoreOptions) {
    let clock = ctx.db().access_clock();
    let field = if clock.lfu {
        options.freq.map(|freq| clock.lfu_field(freq))
    } else {
        options.idle_s.map(|idle_s| clock.lru_field_idle(idle_s))
    };
    if let Some(field) = field {
        ctx.db().set_access(key, field);
    }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency]: OK. `BUSYKEY` if the key exists without REPLACE; a
/// TTL of 0 keeps no expiry, one already past stores nothing.
fn restore(ctx: &mut Ctx<'_>) -> Outcome {
    let options = restore_options(ctx)?;
    let key = ctx.arg(1);
    let now = ctx.now_ms;
    let exists = ctx.db().exists(key, now);
    if exists && !options.replace {
        return Err("BUSYKEY Target key name already exists.".into());
    }
    let ttl = parse_i64(ctx.arg(2)).ok_or(Error::from(ERR_NOT_INTEGER))?;
    if ttl < 0 {
        return Err("ERR Invalid TTL value, must be >= 0".into());
    }
    let value = value_of(ctx.arg(3)).map_err(Error::from)?;
    let expire_at = match (ttl, options.absolute) {
        (0, _) => None,
        (at, true) => Some(at),
        (ms, false) => Some(now.saturating_add(ms)),
    };
    if expire_at.is_some_and(|at| ctx.already_expired(at)) {
        if exists {
            ctx.db().remove(key, now);
            ctx.notify(class::GENERIC, "del", key);
            ctx.dirty(1);
            ctx.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        ctx.out().ok();
        return Ok(());
    }
    ctx.db().remove(key, now);
    ctx.db().put(key, value, expire_at);
    set_access(ctx, key, &options);
    ctx.notify(class::GENERIC, "restore", key);
    ctx.dirty(1);
    if let (Some(at), false) = (expire_at, options.absolute) {
        // As Redis propagates it: the command as given, its TTL made an
        // absolute time and ABSTTL added.
        let mut argv = ctx.argv.to_vec();
        argv[2] = at.to_string().into_bytes();
        argv.push(b"ABSTTL".to_vec());
        ctx.propagate_as(argv);
    }
    ctx.out().ok();
    Ok(())
}
