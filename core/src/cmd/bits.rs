//! Bit commands on strings: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD and BITFIELD_RO (Redis's `bitops.c`), and LCS (`t_string.c`),
//! with Redis 7.0's replies and errors.
//!
//! A string is a bitmap whose bit 0 is the most significant bit of its
//! first byte. Reads past the end see zero bits; writes first pad the
//! string with zero bytes up to the byte they reach, and a bit offset must
//! stay below `proto-max-bulk-len` bytes (except for the master's stream
//! and a load, which Redis obeys whatever they ask).
//!
//! Changes are counted as Redis counts `server.dirty`, which decides what
//! is propagated: SETBIT counts only a change of the bit or of the string's
//! length, BITFIELD one per SET or INCRBY that changed its field (or ran on
//! a string it created or grew); a BITFIELD of GETs, or whose writes all
//! failed under `OVERFLOW FAIL`, changes nothing and is not propagated. As
//! in Redis, such a BITFIELD still leaves the key created or padded.

use super::keys::lookup_read;
use super::{flag, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Value;
use crate::notify::class;
use crate::resp::parse_i64;
use crate::server::Server;

const GROUP: &str = "bitmap";
const WRITE_DENYOOM: u32 = flag::WRITE | flag::DENYOOM;
const READ_FAST: u32 = flag::READONLY | flag::FAST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE_DENYOOM, setbit)
        .key(1)
        .doc(
            GROUP,
            "2.2.0",
            "Sets or clears the bit at offset in the string value stored at key",
            "O(1)",
        ),
    CommandSpec::new("getbit", 3, READ_FAST, getbit).key(1).doc(
        GROUP,
        "2.2.0",
        "Returns the bit value at offset in the string value stored at key",
        "O(1)",
    ),
    CommandSpec::new("bitcount", -2, flag::READONLY, bitcount)
        .key(1)
        .doc(GROUP, "2.6.0", "Count set bits in a string", "O(N)"),
    CommandSpec::new("bitpos", -3, flag::READONLY, bitpos)
        .key(1)
        .doc(GROUP, "2.8.7", "Find first bit set or clear in a string", "O(N)"),
    CommandSpec::new("bitop", -4, WRITE_DENYOOM, bitop)
        .keys(2, -1, 1)
        .doc(GROUP, "2.6.0", "Perform bitwise operations between strings", "O(N)"),
    CommandSpec::new("bitfield", -2, WRITE_DENYOOM, bitfield)
        .key(1)
        .doc(
            GROUP,
            "3.2.0",
            "Perform arbitrary bitfield integer operations on strings",
            "O(1) for each subcommand specified",
        ),
    CommandSpec::new("bitfield_ro", -2, READ_FAST, bitfield_ro)
        .key(1)
        .doc(
            GROUP,
            "6.0.0",
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of BITFIELD",
            "O(1) for each subcommand specified",
        ),
    CommandSpec::new("lcs", -3, flag::READONLY, lcs).keys(1, 2, 1).doc(
        "string",
        "7.0.0",
        "Find longest common substring",
        "O(N*M) where N and M are the lengths of s1 and s2, respectively",
    ),
];

const ERR_BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const ERR_BIT_VALUE: &str = "ERR bit is not an integer or out of range";
const ERR_BITFIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

/// The live string under `key`, counting a keyspace hit or miss
/// (`lookupKeyRead`); WRONGTYPE for another type.
fn read_string<'s>(
    server: &'s mut Server,
    db: usize,
    key: &[u8],
    now_ms: i64,
) -> Result<Option<&'s [u8]>, Error> {
    match lookup_read(server, db, key, now_ms) {
        None => Ok(None),
        Some(Value::String(bytes)) => Ok(Some(bytes)),
        Some(_) => Err(Error::WrongType),
    }
}

/// A bit offset argument as Redis's `getBitOffsetFromArgument` reads it:
/// an integer, or with `field_bits` (BITFIELD) also `#n`, meaning n fields
/// of that width; not negative, and below `proto-max-bulk-len` bytes
/// unless the master or a load asks. Error: `ERR bit offset is not an
/// integer or out of range`.
fn bit_offset_arg(ctx: &Ctx<'_>, i: usize, field_bits: Option<u32>) -> Result<u64, Error> {
    let text = ctx.arg(i);
    let (in_fields, digits) = match (text.first(), field_bits) {
        (Some(b'#'), Some(_)) => (true, &text[1..]),
        _ => (false, text),
    };
    let mut offset = parse_i64(digits).ok_or(ERR_BIT_OFFSET)?;
    if in_fields {
        // Redis multiplies in C, where an overflow wraps.
        offset = offset.wrapping_mul(i64::from(field_bits.unwrap_or(1)));
    }
    let obeyed = ctx.client.is_master || ctx.server.loading;
    if offset < 0 || (!obeyed && (offset >> 3) >= ctx.server.config.proto_max_bulk_len) {
        return Err(ERR_BIT_OFFSET.into());
    }
    Ok(offset as u64)
}

/// Checks that `key` is missing or a string, as `lookupKeyWrite` finds it
/// (no hit or miss counted); WRONGTYPE otherwise.
fn writable_string(ctx: &mut Ctx<'_>, key: &[u8]) -> Outcome {
    let now = ctx.now_ms;
    match ctx.db().get(key, now) {
        None | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(Error::WrongType),
    }
}

/// The string under `key` (checked by [`writable_string`]), created or
/// padded with zero bytes to at least `length` bytes, to change in place,
/// and whether it was created or grown (Redis's `lookupStringForBitCommand`).
/// A new key is seen at once; a change to an existing one is unseen (a
/// background save keeps the old version) until the caller touches the
/// key, which it does only when something changed, as Redis signals it.
fn string_for_bits<'c>(ctx: &'c mut Ctx<'_>, key: &[u8], length: usize) -> (&'c mut Vec<u8>, bool) {
    let now = ctx.now_ms;
    let created = !ctx.db().exists(key, now);
    if created {
        ctx.db().set(key, Value::String(vec![0; length]));
    }
    let Some(Value::String(bytes)) = ctx.db().get_mut_unseen(key, now) else {
        unreachable!("the key was checked to hold a string or just created");
    };
    let grown = bytes.len() < length;
    if grown {
        bytes.resize(length, 0);
    }
    (bytes, created || grown)
}

/// The bit at `offset`, 0 past the end.
fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = (offset >> 3) as usize;
    bytes
        .get(byte)
        .is_some_and(|&value| value & (0x80 >> (offset & 7)) != 0)
}

/// SETBIT key offset value: the bit's previous value, `:0` or `:1`,
/// creating or padding the string as needed. Errors, in Redis's order:
/// `ERR bit offset is not an integer or out of range`, `ERR bit is not an
/// integer or out of range` (a value other than 0 or 1), WRONGTYPE.
fn setbit(ctx: &mut Ctx<'_>) -> Outcome {
    let offset = bit_offset_arg(ctx, 2, None)?;
    let on = match parse_i64(ctx.arg(3)) {
        Some(value @ (0 | 1)) => value == 1,
        _ => return Err(ERR_BIT_VALUE.into()),
    };
    let key = ctx.arg(1);
    writable_string(ctx, key)?;
    let byte = (offset >> 3) as usize;
    let mask = 0x80u8 >> (offset & 7);
    let (bytes, created_or_grown) = string_for_bits(ctx, key, byte + 1);
    let was_on = bytes[byte] & mask != 0;
    if created_or_grown || was_on != on {
        if on {
            bytes[byte] |= mask;
        } else {
            bytes[byte] &= !mask;
        }
        ctx.db().touch(key);
        ctx.notify(class::STRING, "setbit", key);
        ctx.dirty(1);
    }
    ctx.out().int(i64::from(was_on));
    Ok(())
}

/// GETBIT key offset: the bit, `:0` past the end or for a missing key.
/// Errors: the bit offset error, WRONGTYPE.
fn getbit(ctx: &mut Ctx<'_>) -> Outcome {
    let offset = bit_offset_arg(ctx, 2, None)?;
    let key = ctx.arg(1);
    let found = read_string(ctx.server, ctx.client.db, key, ctx.now_ms)?;
    let on = found.is_some_and(|bytes| bit_at(bytes, offset));
    ctx.client.out.int(i64::from(on));
    Ok(())
}

/// The set bits in `bytes`.
fn popcount(bytes: &[u8]) -> i64 {
    let words = bytes.chunks_exact(8);
    let tail: u32 = words.remainder().iter().map(|b| b.count_ones()).sum();
    let body: u64 = words
        .map(|word| u64::from(u64::from_ne_bytes(word.try_into().expect("8 bytes")).count_ones()))
        .sum();
    body as i64 + i64::from(tail)
}

/// A range over a string in bytes (or bits, with `BIT`), clamped as Redis
/// clamps BITCOUNT's and BITPOS's: negative positions count from the
/// end. For a bit range, the bytes it touches and masks of the bits of
/// its first and last byte that lie outside it (Redis's "negative
/// masks").
struct ByteRange {
    start: i64,
    end: i64,
    first_outside: u8,
    last_outside: u8,
}

fn clamp_range(length: i64, start: i64, end: i64, in_bits: bool) -> ByteRange {
    let total = if in_bits { length << 3 } else { length };
    let start = if start < 0 { total + start } else { start }.max(0);
    let end = if end < 0 { total + end } else { end }
        .max(0)
        .min(total - 1);
    if in_bits && start <= end {
        return ByteRange {
            start: start >> 3,
            end: end >> 3,
            first_outside: !((1u16 << (8 - (start & 7))) - 1) as u8,
            last_outside: ((1u16 << (7 - (end & 7))) - 1) as u8,
        };
    }
    ByteRange {
        start,
        end,
        first_outside: 0,
        last_outside: 0,
    }
}

/// BITCOUNT key [start end [BYTE|BIT]]: the set bits in the range (the
/// whole string by default). As in Redis 7.0 the key is looked up first: a
/// missing key is `:0` whatever the other arguments say. Errors:
/// WRONGTYPE, the integer error, `ERR syntax error` (a start without an
/// end, an unknown unit, too many arguments).
fn bitcount(ctx: &mut Ctx<'_>) -> Outcome {
    let key = ctx.arg(1);
    let (argv, db, now) = (ctx.argv, ctx.client.db, ctx.now_ms);
    let Some(bytes) = read_string(ctx.server, db, key, now)? else {
        ctx.client.out.int(0);
        return Ok(());
    };
    let length = bytes.len() as i64;
    let range = match argv.len() {
        2 => clamp_range(length, 0, -1, false),
        4 | 5 => {
            let start = parse_i64(&argv[2]).ok_or(ERR_NOT_INTEGER)?;
            let end = parse_i64(&argv[3]).ok_or(ERR_NOT_INTEGER)?;
            if start < 0 && end < 0 && start > end {
                ctx.client.out.int(0);
                return Ok(());
            }
            let in_bits = argv.len() == 5 && unit_is_bit(&argv[4])?;
            clamp_range(length, start, end, in_bits)
        }
        _ => return Err(ERR_SYNTAX.into()),
    };
    if range.start > range.end {
        ctx.client.out.int(0);
        return Ok(());
    }
    let (start, end) = (range.start as usize, range.end as usize);
    let mut count = popcount(&bytes[start..=end]);
    count -= i64::from((bytes[start] & range.first_outside).count_ones());
    count -= i64::from((bytes[end] & range.last_outside).count_ones());
    ctx.client.out.int(count);
    Ok(())
}

/// The unit of a BITCOUNT or BITPOS range, `BYTE` or `BIT` in any case:
/// whether it is `BIT`. Error: `ERR syntax error`.
fn unit_is_bit(word: &[u8]) -> Result<bool, Error> {
    if word.eq_ignore_ascii_case(b"bit") {
        Ok(true)
    } else if word.eq_ignore_ascii_case(b"byte") {
        Ok(false)
    } else {
        Err(ERR_SYNTAX.into())
    }
}

/// Redis's `redisBitpos`: the position of the first bit equal to `bit` in
/// `bytes`; for a clear bit none found means the first bit past the end
/// (the string is taken as padded with zeros), for a set bit -1.
fn first_bit(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0x00 } else { 0xff };
    match bytes.iter().position(|&byte| byte != skip) {
        Some(at) => {
            let byte = if bit { bytes[at] } else { !bytes[at] };
            at as i64 * 8 + i64::from(byte.leading_zeros())
        }
        None if bit => -1,
        None => bytes.len() as i64 * 8,
    }
}

/// BITPOS key bit [start [end [BYTE|BIT]]]: the position of the first bit
/// equal to `bit` in the range, -1 if none. Looking for a clear bit
/// without an end, the string counts as padded with zeros (the first bit
/// past it); with an end, the range is all there is. A missing key is all
/// zeros. Errors: the integer error, `ERR The bit argument must be 1 or
/// 0.`, WRONGTYPE, `ERR syntax error`.
fn bitpos(ctx: &mut Ctx<'_>) -> Outcome {
    let bit = match parse_i64(ctx.arg(2)).ok_or(ERR_NOT_INTEGER)? {
        0 => false,
        1 => true,
        _ => return Err("ERR The bit argument must be 1 or 0.".into()),
    };
    let key = ctx.arg(1);
    let (argv, db, now) = (ctx.argv, ctx.client.db, ctx.now_ms);
    let Some(bytes) = read_string(ctx.server, db, key, now)? else {
        ctx.client.out.int(if bit { -1 } else { 0 });
        return Ok(());
    };
    let length = bytes.len() as i64;
    let mut end_given = false;
    let range = match argv.len() {
        3 => clamp_range(length, 0, -1, false),
        4..=6 => {
            let start = parse_i64(&argv[3]).ok_or(ERR_NOT_INTEGER)?;
            let in_bits = argv.len() == 6 && unit_is_bit(&argv[5])?;
            let end = if argv.len() >= 5 {
                end_given = true;
                parse_i64(&argv[4]).ok_or(ERR_NOT_INTEGER)?
            } else {
                length - 1
            };
            clamp_range(length, start, end, in_bits)
        }
        _ => return Err(ERR_SYNTAX.into()),
    };
    let position = if range.start > range.end {
        -1
    } else {
        bit_position_in(bytes, &range, bit, end_given)
    };
    ctx.client.out.int(position);
    Ok(())
}

/// BITPOS's search of a non-empty range, Redis's way: the first byte and
/// the last with their outside bits forced to the opposite of `bit`, the
/// bytes between as they are.
fn bit_position_in(bytes: &[u8], range: &ByteRange, bit: bool, end_given: bool) -> i64 {
    let force = |byte: u8, outside: u8| {
        if bit {
            byte & !outside
        } else {
            byte | outside
        }
    };
    let mut start = range.start as usize;
    let mut count = (range.end - range.start + 1) as usize;
    let position = 'search: {
        if range.first_outside != 0 {
            let mut first = force(bytes[start], range.first_outside);
            if range.last_outside != 0 && count == 1 {
                first = force(first, range.last_outside);
            }
            let position = first_bit(&[first], bit);
            if count == 1 || (position != -1 && position != 8) {
                break 'search position;
            }
            start += 1;
            count -= 1;
        }
        let middle = count - usize::from(range.last_outside != 0);
        if middle > 0 {
            let position = first_bit(&bytes[start..start + middle], bit);
            if count == middle || (position != -1 && position != (middle as i64) << 3) {
                break 'search position;
            }
            start += middle;
            count -= middle;
        }
        first_bit(&[force(bytes[range.end as usize], range.last_outside)], bit)
    };
    if end_given && !bit && position == (count as i64) << 3 {
        return -1;
    }
    if position == -1 {
        -1
    } else {
        position + ((start as i64) << 3)
    }
}

/// A BITOP operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]: the length of the string
/// stored at `destkey`, the longest source's; shorter and missing sources
/// count as padded with zero bytes. An empty result deletes `destkey`.
/// The result replaces `destkey` whatever it held, without a time to
/// live. Errors: `ERR syntax error` for an unknown operation, `ERR BITOP
/// NOT must be called with a single source key.`, WRONGTYPE for a source.
fn bitop(ctx: &mut Ctx<'_>) -> Outcome {
    let operation = match ctx.keyword(1).as_str() {
        "AND" => BitOp::And,
        "OR" => BitOp::Or,
        "XOR" => BitOp::Xor,
        "NOT" => BitOp::Not,
        _ => return Err(ERR_SYNTAX.into()),
    };
    if operation == BitOp::Not && ctx.argv.len() != 4 {
        return Err("ERR BITOP NOT must be called with a single source key.".into());
    }
    let (argv, db, now) = (ctx.argv, ctx.client.db, ctx.now_ms);
    let mut result: Vec<u8> = Vec::new();
    for (at, key) in argv[3..].iter().enumerate() {
        let source = read_string(ctx.server, db, key, now)?.unwrap_or(&[]);
        if at == 0 {
            result = source.to_vec();
            if operation == BitOp::Not {
                result.iter_mut().for_each(|byte| *byte = !*byte);
            }
            continue;
        }
        if result.len() < source.len() {
            result.resize(source.len(), 0);
        }
        match operation {
            BitOp::And => {
                let shared = source.len();
                result[shared..].fill(0);
                result.iter_mut().zip(source).for_each(|(r, s)| *r &= s);
            }
            BitOp::Or => result.iter_mut().zip(source).for_each(|(r, s)| *r |= s),
            BitOp::Xor => result.iter_mut().zip(source).for_each(|(r, s)| *r ^= s),
            BitOp::Not => unreachable!("NOT has one source"),
        }
    }
    let destination = ctx.arg(2);
    let length = result.len();
    if length > 0 {
        ctx.db().set(destination, Value::String(result));
        ctx.notify(class::STRING, "set", destination);
        ctx.dirty(1);
    } else if ctx.db().remove(destination, now).is_some() {
        ctx.notify(class::GENERIC, "del", destination);
        ctx.dirty(1);
    }
    ctx.out().int(length as i64);
    Ok(())
}

/// What BITFIELD does when a SET or INCRBY does not fit its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Saturate,
    Fail,
}

/// A field's type: signed or not, and its width in bits (i1..i64,
/// u1..u63).
#[derive(Debug, Clone, Copy)]
struct FieldType {
    signed: bool,
    bits: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

/// One BITFIELD operation, with the overflow rule in force where it was
/// written.
#[derive(Debug, Clone, Copy)]
struct FieldOperation {
    op: FieldOp,
    field: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// A BITFIELD type argument (`i8`, `u16`): Redis's
/// `getBitfieldTypeFromArgument`, case-sensitive.
fn field_type_arg(text: &[u8]) -> Result<FieldType, Error> {
    let signed = match text.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(ERR_BITFIELD_TYPE.into()),
    };
    let bits_max = if signed { 64 } else { 63 };
    match parse_i64(&text[1..]) {
        Some(bits) if (1..=bits_max).contains(&bits) => Ok(FieldType {
            signed,
            bits: bits as u32,
        }),
        _ => Err(ERR_BITFIELD_TYPE.into()),
    }
}

/// BITFIELD's subcommands, parsed whole before anything runs, as Redis
/// does: an error anywhere means nothing is done.
fn parse_field_operations(ctx: &Ctx<'_>) -> Result<Vec<FieldOperation>, Error> {
    let argv = ctx.argv;
    let mut operations = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut at = 2;
    while at < argv.len() {
        let remaining = argv.len() - at - 1;
        let word = ctx.keyword(at);
        let op = match word.as_str() {
            "GET" if remaining >= 2 => FieldOp::Get,
            "SET" if remaining >= 3 => FieldOp::Set(0),
            "INCRBY" if remaining >= 3 => FieldOp::IncrBy(0),
            "OVERFLOW" if remaining >= 1 => {
                overflow = match ctx.keyword(at + 1).as_str() {
                    "WRAP" => Overflow::Wrap,
                    "SAT" => Overflow::Saturate,
                    "FAIL" => Overflow::Fail,
                    _ => return Err("ERR Invalid OVERFLOW type specified".into()),
                };
                at += 2;
                continue;
            }
            _ => return Err(ERR_SYNTAX.into()),
        };
        let field = field_type_arg(&argv[at + 1])?;
        let offset = bit_offset_arg(ctx, at + 2, Some(field.bits))?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            FieldOp::Set(_) => FieldOp::Set(parse_i64(&argv[at + 3]).ok_or(ERR_NOT_INTEGER)?),
            FieldOp::IncrBy(_) => FieldOp::IncrBy(parse_i64(&argv[at + 3]).ok_or(ERR_NOT_INTEGER)?),
        };
        operations.push(FieldOperation {
            op,
            field,
            offset,
            overflow,
        });
        at += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(operations)
}

/// BITFIELD key [GET type offset | SET type offset value | INCRBY type
/// offset increment | OVERFLOW WRAP|SAT|FAIL ...]: an array with one reply
/// per GET, SET or INCRBY, in order: the field's value, its previous value
/// for SET, its new value for INCRBY, or null for a write that overflowed
/// under FAIL (which writes nothing). An offset `#n` means n fields of the
/// type's width. Errors (before anything runs): `ERR syntax error`, `ERR
/// Invalid OVERFLOW type specified`, `ERR Invalid bitfield type. ...`, the
/// bit offset error, the integer error, WRONGTYPE.
fn bitfield(ctx: &mut Ctx<'_>) -> Outcome {
    bitfield_generic(ctx, false)
}

/// BITFIELD_RO key [GET type offset ...]: BITFIELD's GETs; any other
/// subcommand is `ERR BITFIELD_RO only supports the GET subcommand` once
/// the arguments are otherwise valid.
fn bitfield_ro(ctx: &mut Ctx<'_>) -> Outcome {
    bitfield_generic(ctx, true)
}

fn bitfield_generic(ctx: &mut Ctx<'_>, read_only: bool) -> Outcome {
    let operations = parse_field_operations(ctx)?;
    let key = ctx.arg(1);
    let last_written_bit = operations
        .iter()
        .filter(|operation| operation.op != FieldOp::Get)
        .map(|operation| operation.offset + u64::from(operation.field.bits) - 1)
        .max();
    let replies: Vec<Option<i64>> = match last_written_bit {
        None => {
            let (db, now) = (ctx.client.db, ctx.now_ms);
            let bytes = read_string(ctx.server, db, key, now)?.unwrap_or(&[]);
            operations
                .iter()
                .map(|operation| Some(get_field(bytes, operation.offset, operation.field)))
                .collect()
        }
        Some(_) if read_only => {
            return Err("ERR BITFIELD_RO only supports the GET subcommand".into());
        }
        Some(last_bit) => {
            writable_string(ctx, key)?;
            let length = (last_bit >> 3) as usize + 1;
            let (bytes, created_or_grown) = string_for_bits(ctx, key, length);
            let mut changes = 0;
            let replies = operations
                .iter()
                .map(|operation| {
                    let (reply, changed) = run_field_operation(bytes, operation);
                    let wrote = operation.op != FieldOp::Get && reply.is_some();
                    changes += u64::from(wrote && (changed || created_or_grown));
                    reply
                })
                .collect();
            if changes > 0 {
                ctx.db().touch(key);
                ctx.notify(class::STRING, "setbit", key);
                ctx.dirty(changes);
            }
            replies
        }
    };
    let out = ctx.out();
    out.array(replies.len());
    for reply in replies {
        match reply {
            Some(value) => out.int(value),
            None => out.null(),
        }
    }
    Ok(())
}

/// Runs one operation on a string long enough for its writes: its reply
/// (None for a write that failed under `OVERFLOW FAIL`) and whether it
/// changed the field.
fn run_field_operation(bytes: &mut [u8], operation: &FieldOperation) -> (Option<i64>, bool) {
    let FieldOperation {
        op,
        field,
        offset,
        overflow,
    } = *operation;
    let old = get_field(bytes, offset, field);
    let (new, reply, overflowed) = match op {
        FieldOp::Get => return (Some(old), false),
        FieldOp::Set(value) => {
            let (new, overflowed) = fit(field, value, 0, overflow);
            (new, old, overflowed)
        }
        FieldOp::IncrBy(increment) => {
            let (new, overflowed) = fit(field, old, increment, overflow);
            (new, new, overflowed)
        }
    };
    if overflowed && overflow == Overflow::Fail {
        return (None, false);
    }
    set_field(bytes, offset, field.bits, new as u64);
    (Some(reply), old != new)
}

/// `value + increment` made to fit the field as Redis's
/// `check{Signed,Unsigned}BitfieldOverflow` do (an unsigned field's value
/// is its two's-complement bits), and whether it overflowed. Under FAIL
/// the value returned is not to be used.
fn fit(field: FieldType, value: i64, increment: i64, overflow: Overflow) -> (i64, bool) {
    let (wrapped, saturated) = if field.signed {
        signed_overflow(value, increment, field.bits)
    } else {
        let (wrapped, saturated) = unsigned_overflow(value as u64, increment, field.bits);
        (wrapped.map(|v| v as i64), saturated.map(|v| v as i64))
    };
    match (wrapped, overflow) {
        (None, _) => (value.wrapping_add(increment), false),
        (Some(wrapped), Overflow::Wrap) => (wrapped, true),
        (Some(_), _) => (saturated.expect("an overflow has a limit"), true),
    }
}

/// For an unsigned field: `None` if `value + increment` fits, else the
/// wrapped result and the limit it saturates to.
fn unsigned_overflow(value: u64, increment: i64, bits: u32) -> (Option<u64>, Option<u64>) {
    let max = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let max_increment = max.wrapping_sub(value) as i64;
    let min_increment = value.wrapping_neg() as i64;
    let limit = if value > max || (increment > 0 && increment > max_increment) {
        max
    } else if increment < 0 && increment < min_increment {
        0
    } else {
        return (None, None);
    };
    let mask = if bits == 64 { 0 } else { u64::MAX << bits };
    let wrapped = value.wrapping_add(increment as u64) & !mask;
    (Some(wrapped), Some(limit))
}

/// For a signed field: `None` if `value + increment` fits, else the
/// wrapped result and the limit it saturates to.
fn signed_overflow(value: i64, increment: i64, bits: u32) -> (Option<i64>, Option<i64>) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_increment = (max as u64).wrapping_sub(value as u64) as i64;
    let min_increment = min.wrapping_sub(value);
    let over = value > max
        || (bits != 64 && increment > max_increment)
        || (value >= 0 && increment > 0 && increment > max_increment);
    let under = value < min
        || (bits != 64 && increment < min_increment)
        || (value < 0 && increment < 0 && increment < min_increment);
    let limit = match (over, under) {
        (true, _) => max,
        (false, true) => min,
        (false, false) => return (None, None),
    };
    let mut sum = (value as u64).wrapping_add(increment as u64);
    if bits < 64 {
        let mask = u64::MAX << bits;
        if sum & (1u64 << (bits - 1)) != 0 {
            sum |= mask;
        } else {
            sum &= !mask;
        }
    }
    (Some(sum as i64), Some(limit))
}

/// The field at `offset` (bits past the end read as 0), sign-extended for
/// a signed type; an unsigned one's value as is.
fn get_field(bytes: &[u8], offset: u64, field: FieldType) -> i64 {
    let mut value: u64 = 0;
    for at in offset..offset + u64::from(field.bits) {
        value = value << 1 | u64::from(bit_at(bytes, at));
    }
    if field.signed && field.bits < 64 && value & (1u64 << (field.bits - 1)) != 0 {
        value |= u64::MAX << field.bits;
    }
    value as i64
}

/// Writes the low `bits` of `value` at `offset`, most significant first.
fn set_field(bytes: &mut [u8], offset: u64, bits: u32, value: u64) {
    for index in 0..u64::from(bits) {
        let at = offset + index;
        let mask = 0x80u8 >> (at & 7);
        let byte = &mut bytes[(at >> 3) as usize];
        if value >> (u64::from(bits) - 1 - index) & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// LCS's options.
#[derive(Debug, Default)]
struct LcsOptions {
    length_only: bool,
    indexes: bool,
    with_match_length: bool,
    match_length_min: u64,
}

fn parse_lcs_options(ctx: &Ctx<'_>) -> Result<LcsOptions, Error> {
    let mut options = LcsOptions::default();
    let mut at = 3;
    while at < ctx.argv.len() {
        let more = at + 1 < ctx.argv.len();
        match ctx.keyword(at).as_str() {
            "IDX" => options.indexes = true,
            "LEN" => options.length_only = true,
            "WITHMATCHLEN" => options.with_match_length = true,
            "MINMATCHLEN" if more => {
                let length = parse_i64(ctx.arg(at + 1)).ok_or(ERR_NOT_INTEGER)?;
                options.match_length_min = length.max(0) as u64;
                at += 1;
            }
            _ => return Err(ERR_SYNTAX.into()),
        }
        at += 1;
    }
    if options.length_only && options.indexes {
        return Err("ERR If you want both the length and indexes, please just use IDX.".into());
    }
    Ok(options)
}

/// A common run found by LCS: its ranges in each string, inclusive.
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]: the longest
/// common subsequence of the two strings (missing keys are empty) as a
/// bulk string; with LEN its length; with IDX a map of `matches` (the
/// common runs from the end backwards, each `[[a_start, a_end], [b_start,
/// b_end]]` plus its length with WITHMATCHLEN, runs shorter than
/// MINMATCHLEN left out) and `len`. Errors: `ERR The specified keys must
/// contain string values`, `ERR syntax error`, the integer error, `ERR If
/// you want both the length and indexes, please just use IDX.`, and `ERR
/// Insufficient memory, transient memory for LCS exceeds
/// proto-max-bulk-len` when the table would be larger.
fn lcs(ctx: &mut Ctx<'_>) -> Outcome {
    let (db, now) = (ctx.client.db, ctx.now_ms);
    let mut strings = [Vec::new(), Vec::new()];
    let mut wrong_type = false;
    for (string, key) in strings.iter_mut().zip(&ctx.argv[1..3]) {
        match read_string(ctx.server, db, key, now) {
            Ok(found) => *string = found.unwrap_or(&[]).to_vec(),
            Err(_) => wrong_type = true,
        }
    }
    if wrong_type {
        return Err("ERR The specified keys must contain string values".into());
    }
    let options = parse_lcs_options(ctx)?;
    let [a, b] = strings;
    let table_bytes = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table_bytes > ctx.server.config.proto_max_bulk_len.max(0) as u64 {
        return Err(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        );
    }
    let table = LcsTable::new(&a, &b);
    let length = table.at(a.len(), b.len());
    let (common, matches) = table.walk_back(&a, &b, &options);
    let out = ctx.out();
    if options.indexes {
        out.map(2);
        out.bulk(b"matches");
        out.array(matches.len());
        for found in &matches {
            out.array(2 + usize::from(options.with_match_length));
            for (start, end) in [found.a, found.b] {
                out.array(2);
                out.int(start as i64);
                out.int(end as i64);
            }
            if options.with_match_length {
                out.int((found.a.1 - found.a.0 + 1) as i64);
            }
        }
        out.bulk(b"len");
        out.int(i64::from(length));
    } else if options.length_only {
        out.int(i64::from(length));
    } else {
        out.bulk(&common);
    }
    Ok(())
}

/// The dynamic-programming table of LCS lengths: entry (i, j) is the
/// length of the LCS of the first i bytes of one string and the first j of
/// the other.
struct LcsTable {
    lengths: Vec<u32>,
    columns: usize,
}

impl LcsTable {
    fn new(a: &[u8], b: &[u8]) -> LcsTable {
        let columns = b.len() + 1;
        let mut lengths = vec![0u32; (a.len() + 1) * columns];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                lengths[i * columns + j] = if a[i - 1] == b[j - 1] {
                    lengths[(i - 1) * columns + j - 1] + 1
                } else {
                    lengths[(i - 1) * columns + j].max(lengths[i * columns + j - 1])
                };
            }
        }
        LcsTable { lengths, columns }
    }

    fn at(&self, i: usize, j: usize) -> u32 {
        self.lengths[i * self.columns + j]
    }

    /// Walks from the end as Redis does: the common subsequence, and the
    /// runs of it contiguous in both strings, latest first, those at least
    /// MINMATCHLEN long.
    fn walk_back(&self, a: &[u8], b: &[u8], options: &LcsOptions) -> (Vec<u8>, Vec<LcsMatch>) {
        let mut common = vec![0u8; self.at(a.len(), b.len()) as usize];
        let mut left = common.len();
        let mut matches = Vec::new();
        let mut run: Option<LcsMatch> = None;
        let (mut i, mut j) = (a.len(), b.len());
        while i > 0 && j > 0 {
            let mut emit = false;
            if a[i - 1] == b[j - 1] {
                common[left - 1] = a[i - 1];
                match &mut run {
                    None => {
                        run = Some(LcsMatch {
                            a: (i - 1, i - 1),
                            b: (j - 1, j - 1),
                        });
                    }
                    Some(current) if current.a.0 == i && current.b.0 == j => {
                        current.a.0 -= 1;
                        current.b.0 -= 1;
                    }
                    Some(_) => emit = true,
                }
                let current = run.as_ref().expect("a run is open");
                emit |= current.a.0 == 0 || current.b.0 == 0;
                left -= 1;
                i -= 1;
                j -= 1;
            } else {
                if self.at(i - 1, j) > self.at(i, j - 1) {
                    i -= 1;
                } else {
                    j -= 1;
                }
                emit = run.is_some();
            }
            if emit {
                let finished = run.take().expect("an emitted run is open");
                let length = (finished.a.1 - finished.a.0 + 1) as u64;
                if length >= options.match_length_min {
                    matches.push(finished);
                }
            }
        }
        (common, matches)
    }
}
