//! The libraries Redis gives every script besides Lua's own: `bit` (Lua
//! BitOp), `cjson` and `cmsgpack`, with the number formatting they and
//! `redis.call` share, and the 48-bit generator behind `math.random`.
//!
//! They follow the C libraries Redis embeds, as scripts in the wild see
//! them: BitOp's 32-bit wrap-around of any number, cjson's `%.14g` numbers
//! and `\/` escapes, an empty table encoded as `{}`, `cjson.null` as a
//! light userdata; cmsgpack's smallest encodings, arrays for tables whose
//! keys are 1..n.

use std::cell::Cell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};

/// C's `%.{precision}g`: `precision` significant digits, trailing zeros
/// dropped, exponent form below 1e-4 and from 10^precision.
pub fn format_g(value: f64, precision: usize) -> String {
    if value.is_nan() {
        return if value.is_sign_negative() {
            "-nan"
        } else {
            "nan"
        }
        .to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    if value == 0.0 {
        return if value.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let precision = precision.max(1);
    // Rust rounds correctly, as glibc's printf does.
    let scientific = format!("{:.*e}", precision - 1, value);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("{:e} always has an exponent");
    let exponent: i32 = exponent.parse().expect("{:e} has a decimal exponent");
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = trim_fraction(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs());
    }
    let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
    trim_fraction(&format!("{value:.decimals$}")).to_string()
}

fn trim_fraction(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Redis's `redisLrand48`: the 48-bit linear congruential generator of
/// POSIX `lrand48`, the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rand48 {
    state: u64,
}

const RAND48_MULTIPLIER: u64 = 0x5_DEEC_E66D;
const RAND48_ADDEND: u64 = 0xB;
const RAND48_MASK: u64 = (1 << 48) - 1;
/// `REDIS_LRAND48_MAX`.
pub const RAND48_MAX: u64 = i32::MAX as u64;

impl Rand48 {
    /// `srand48(seed)`: the seed's low 32 bits above the fixed 0x330E.
    pub fn new(seed: i32) -> Self {
        Rand48 {
            state: (u64::from(seed as u32) << 16) | 0x330E,
        }
    }

    /// The next 31-bit value.
    pub fn next_value(&mut self) -> u64 {
        self.state = (self.state.wrapping_mul(RAND48_MULTIPLIER) + RAND48_ADDEND) & RAND48_MASK;
        self.state >> 17
    }
}

/// Registers `bit`, `cjson` and `cmsgpack` as globals.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    lua.globals().raw_set("bit", bit_library(lua)?)?;
    lua.globals().raw_set("cjson", cjson_library(lua)?)?;
    lua.globals().raw_set("cmsgpack", cmsgpack_library(lua)?)?;
    Ok(())
}

// ---------------------------------------------------------------- bit ----

/// BitOp's `tobit`: the number rounded to an integer, modulo 2^32, as a
/// signed 32-bit value (by its trick of adding 2^52 + 2^51).
fn tobit(value: f64) -> i32 {
    (value + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn bit_arg(args: &[Value], at: usize, name: &str) -> mlua::Result<i32> {
    match args.get(at) {
        Some(Value::Integer(n)) => Ok(tobit(*n as f64)),
        Some(Value::Number(n)) => Ok(tobit(*n)),
        Some(Value::String(s)) => s
            .to_str()
            .ok()
            .and_then(|text| text.trim().parse::<f64>().ok())
            .map(tobit)
            .ok_or_else(|| bad_argument(at, name, "number expected, got string")),
        Some(other) => Err(bad_argument(
            at,
            name,
            &format!("number expected, got {}", other.type_name()),
        )),
        None => Err(bad_argument(at, name, "number expected, got no value")),
    }
}

fn bad_argument(at: usize, name: &str, why: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{} to '{name}' ({why})", at + 1))
}

fn bit_library(lua: &Lua) -> mlua::Result<Table> {
    let bit = lua.create_table()?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, fold) in folds {
        bit.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                let mut acc = bit_arg(&args, 0, name)?;
                for at in 1..args.len() {
                    acc = fold(acc, bit_arg(&args, at, name)?);
                }
                Ok(f64::from(acc))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |a, n| ((a as u32) << n) as i32),
        ("rshift", |a, n| ((a as u32) >> n) as i32),
        ("arshift", |a, n| a >> n),
        ("rol", |a, n| (a as u32).rotate_left(n) as i32),
        ("ror", |a, n| (a as u32).rotate_right(n) as i32),
    ];
    for (name, shift) in shifts {
        bit.raw_set(
            name,
            lua.create_function(move |_, args: Variadic<Value>| {
                let value = bit_arg(&args, 0, name)?;
                let count = (bit_arg(&args, 1, name)? & 31) as u32;
                Ok(f64::from(shift(value, count)))
            })?,
        )?;
    }
    bit.raw_set(
        "tobit",
        lua.create_function(|_, args: Variadic<Value>| Ok(f64::from(bit_arg(&args, 0, "tobit")?)))?,
    )?;
    bit.raw_set(
        "bnot",
        lua.create_function(|_, args: Variadic<Value>| Ok(f64::from(!bit_arg(&args, 0, "bnot")?)))?,
    )?;
    bit.raw_set(
        "bswap",
        lua.create_function(|_, args: Variadic<Value>| {
            Ok(f64::from(bit_arg(&args, 0, "bswap")?.swap_bytes()))
        })?,
    )?;
    bit.raw_set(
        "tohex",
        lua.create_function(|_, args: Variadic<Value>| {
            let value = bit_arg(&args, 0, "tohex")? as u32;
            let digits = if args.len() > 1 {
                bit_arg(&args, 1, "tohex")?
            } else {
                8
            };
            let upper = digits < 0;
            let count = digits.unsigned_abs().min(8) as usize;
            let text = format!("{value:08x}");
            let text = &text[8 - count..];
            Ok(if upper {
                text.to_ascii_uppercase()
            } else {
                text.to_string()
            })
        })?,
    )?;
    Ok(bit)
}

// -------------------------------------------------------------- cjson ----

/// Deepest nesting cjson encodes or decodes (its default).
const JSON_DEPTH_MAX: usize = 1000;

/// The value `cjson.null` stands for: a light userdata holding NULL.
fn json_null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

/// cjson's settings, which scripts may change (`cjson.encode_max_depth`,
/// ...), shared by its functions.
#[derive(Debug, Clone, Copy)]
struct JsonSettings {
    encode_max_depth: usize,
    decode_max_depth: usize,
    encode_invalid_numbers: bool,
}

fn cjson_library(lua: &Lua) -> mlua::Result<Table> {
    let settings = Rc::new(Cell::new(JsonSettings {
        encode_max_depth: JSON_DEPTH_MAX,
        decode_max_depth: JSON_DEPTH_MAX,
        encode_invalid_numbers: false,
    }));
    let cjson = lua.create_table()?;
    let shared = Rc::clone(&settings);
    cjson.raw_set(
        "encode",
        lua.create_function(move |lua, value: Value| {
            let mut out = Vec::new();
            json_encode(&value, 0, shared.get(), &mut out)?;
            lua.create_string(&out)
        })?,
    )?;
    let shared = Rc::clone(&settings);
    cjson.raw_set(
        "decode",
        lua.create_function(move |lua, text: mlua::String| {
            let parsed: serde_json::Value =
                serde_json::from_slice(&text.as_bytes()).map_err(|error| {
                    mlua::Error::runtime(format!(
                        "Expected value but found invalid token at character {}: {error}",
                        error.column()
                    ))
                })?;
            json_to_lua(lua, &parsed, 0, shared.get().decode_max_depth)
        })?,
    )?;
    type Setter = fn(&mut JsonSettings, &Value);
    let setters: [(&str, Setter); 3] = [
        ("encode_max_depth", |s, v| {
            if let Some(n) = number_of(v) {
                s.encode_max_depth = n as usize;
            }
        }),
        ("decode_max_depth", |s, v| {
            if let Some(n) = number_of(v) {
                s.decode_max_depth = n as usize;
            }
        }),
        ("encode_invalid_numbers", |s, v| {
            if let Value::Boolean(on) = v {
                s.encode_invalid_numbers = *on;
            }
        }),
    ];
    for (name, set) in setters {
        let shared = Rc::clone(&settings);
        cjson.raw_set(
            name,
            lua.create_function(move |_, value: Value| {
                let mut current = shared.get();
                set(&mut current, &value);
                shared.set(current);
                Ok(())
            })?,
        )?;
    }
    // Settings of the C library that change nothing here.
    for name in [
        "encode_keep_buffer",
        "decode_invalid_numbers",
        "encode_sparse_array",
        "encode_number_precision",
    ] {
        cjson.raw_set(name, lua.create_function(|_, _: Variadic<Value>| Ok(()))?)?;
    }
    cjson.raw_set("null", json_null())?;
    Ok(cjson)
}

fn number_of(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Whether a table is a JSON array as cjson decides it: keys 1..n only
/// (an empty table is an object). Returns n.
fn array_length(table: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut count = 0usize;
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        let index = match key {
            Value::Integer(n) if n >= 1 => n as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        count += 1;
    }
    // cjson refuses arrays sparser than 2 holes per element past 10.
    if count == 0 || (max > 10 && max > count * 2) {
        return Ok(None);
    }
    Ok(Some(max))
}

fn json_encode(
    value: &Value,
    depth: usize,
    settings: JsonSettings,
    out: &mut Vec<u8>,
) -> mlua::Result<()> {
    if depth > settings.encode_max_depth {
        return Err(mlua::Error::runtime(format!(
            "Cannot serialise, excessive nesting ({depth})"
        )));
    }
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(data) if data.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::Number(n) => {
            if !n.is_finite() && !settings.encode_invalid_numbers {
                return Err(mlua::Error::runtime(
                    "Cannot serialise number: must not be NaN or Inf",
                ));
            }
            out.extend_from_slice(format_g(*n, 14).as_bytes());
        }
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(table) => match array_length(table)? {
            Some(length) => {
                out.push(b'[');
                for index in 1..=length {
                    if index > 1 {
                        out.push(b',');
                    }
                    json_encode(&table.raw_get::<Value>(index)?, depth + 1, settings, out)?;
                }
                out.push(b']');
            }
            None => {
                out.push(b'{');
                let mut first = true;
                for pair in table.clone().pairs::<Value, Value>() {
                    let (key, item) = pair?;
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    match &key {
                        Value::String(s) => json_string(&s.as_bytes(), out),
                        Value::Integer(n) => json_string(n.to_string().as_bytes(), out),
                        Value::Number(n) => json_string(format_g(*n, 14).as_bytes(), out),
                        _ => {
                            return Err(mlua::Error::runtime(
                                "Cannot serialise table: table key must be a number or string",
                            ))
                        }
                    }
                    out.push(b':');
                    json_encode(&item, depth + 1, settings, out)?;
                }
                out.push(b'}');
            }
        },
        other => {
            return Err(mlua::Error::runtime(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn json_string(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in bytes {
        match byte {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{byte:04x}").as_bytes()),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

fn json_to_lua(
    lua: &Lua,
    value: &serde_json::Value,
    depth: usize,
    depth_max: usize,
) -> mlua::Result<Value> {
    let nested = matches!(
        value,
        serde_json::Value::Array(_) | serde_json::Value::Object(_)
    );
    if nested && depth >= depth_max {
        return Err(mlua::Error::runtime(format!(
            "Found too many nested data structures ({})",
            depth + 1
        )));
    }
    Ok(match value {
        serde_json::Value::Null => json_null(),
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        serde_json::Value::String(s) => Value::String(lua.create_string(s)?),
        serde_json::Value::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (at, item) in items.iter().enumerate() {
                table.raw_set(at + 1, json_to_lua(lua, item, depth + 1, depth_max)?)?;
            }
            Value::Table(table)
        }
        serde_json::Value::Object(fields) => {
            let table = lua.create_table_with_capacity(0, fields.len())?;
            for (key, item) in fields {
                table.raw_set(key.as_str(), json_to_lua(lua, item, depth + 1, depth_max)?)?;
            }
            Value::Table(table)
        }
    })
}

// ----------------------------------------------------------- cmsgpack ----

/// Deepest nesting cmsgpack packs (`LUACMSGPACK_MAX_NESTING`): deeper
/// tables are packed as nil.
const MSGPACK_DEPTH_MAX: usize = 16;

fn cmsgpack_library(lua: &Lua) -> mlua::Result<Table> {
    let cmsgpack = lua.create_table()?;
    cmsgpack.raw_set(
        "pack",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.is_empty() {
                return Err(mlua::Error::runtime("MessagePack pack needs input."));
            }
            let mut out = Vec::new();
            for value in args.iter() {
                msgpack_encode(value, 0, &mut out)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    cmsgpack.raw_set(
        "unpack",
        lua.create_function(|lua, text: mlua::String| {
            let bytes = text.as_bytes();
            let mut at = 0;
            let mut values = Vec::new();
            while at < bytes.len() {
                values.push(msgpack_decode(lua, &bytes, &mut at, 0)?);
            }
            Ok(MultiValue::from_iter(values))
        })?,
    )?;
    // unpack_limit(s, limit, offset): up to `limit` values (0: all) from
    // byte `offset`; the offset after them first, -1 at the end.
    let unpack_limit = |lua: &Lua, text: mlua::String, limit: i64, offset: i64| {
        let bytes = text.as_bytes();
        let mut at = usize::try_from(offset)
            .ok()
            .filter(|&at| at <= bytes.len())
            .ok_or_else(|| mlua::Error::runtime("Start offset greater than input length"))?;
        let mut values = vec![Value::Nil];
        while at < bytes.len() && (limit <= 0 || (values.len() as i64) <= limit) {
            values.push(msgpack_decode(lua, &bytes, &mut at, 0)?);
        }
        values[0] = Value::Number(if at >= bytes.len() { -1.0 } else { at as f64 });
        Ok(MultiValue::from_iter(values))
    };
    cmsgpack.raw_set(
        "unpack_one",
        lua.create_function(move |lua, (text, offset): (mlua::String, Option<i64>)| {
            unpack_limit(lua, text, 1, offset.unwrap_or(0))
        })?,
    )?;
    cmsgpack.raw_set(
        "unpack_limit",
        lua.create_function(
            move |lua, (text, limit, offset): (mlua::String, i64, Option<i64>)| {
                unpack_limit(lua, text, limit, offset.unwrap_or(0))
            },
        )?,
    )?;
    Ok(cmsgpack)
}

fn msgpack_encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => msgpack_int(*n, out),
        Value::Number(n) => {
            if n.fract() == 0.0 && n.abs() < 9.2e18 {
                msgpack_int(*n as i64, out);
            } else if f64::from(*n as f32) == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let bytes = s.as_bytes();
            let len = bytes.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&bytes);
        }
        Value::Table(table) if depth < MSGPACK_DEPTH_MAX => {
            msgpack_table(table, depth, out)?;
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn msgpack_table(table: &Table, depth: usize, out: &mut Vec<u8>) -> mlua::Result<()> {
    let mut count = 0usize;
    let mut max = 0usize;
    let mut array = true;
    for pair in table.clone().pairs::<Value, Value>() {
        let (key, _) = pair?;
        count += 1;
        match key {
            Value::Integer(n) if n >= 1 => max = max.max(n as usize),
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => max = max.max(n as usize),
            _ => array = false,
        }
    }
    let header = |out: &mut Vec<u8>, fix: u8, b16: u8, b32: u8, n: usize| {
        if n < 16 {
            out.push(fix | n as u8);
        } else if n <= 0xffff {
            out.push(b16);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else {
            out.push(b32);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    };
    if array && max == count {
        header(out, 0x90, 0xdc, 0xdd, count);
        for index in 1..=count {
            msgpack_encode(&table.raw_get::<Value>(index)?, depth + 1, out)?;
        }
    } else {
        header(out, 0x80, 0xde, 0xdf, count);
        for pair in table.clone().pairs::<Value, Value>() {
            let (key, item) = pair?;
            msgpack_encode(&key, depth + 1, out)?;
            msgpack_encode(&item, depth + 1, out)?;
        }
    }
    Ok(())
}

fn msgpack_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        let n = n as u64;
        if n <= 0x7f {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= i64::from(i8::MIN) {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= i64::from(i16::MIN) {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= i64::from(i32::MIN) {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn msgpack_take<'b>(bytes: &'b [u8], at: &mut usize, n: usize) -> mlua::Result<&'b [u8]> {
    let end = at
        .checked_add(n)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| mlua::Error::runtime("Missing bytes in input."))?;
    let taken = &bytes[*at..end];
    *at = end;
    Ok(taken)
}

fn msgpack_uint(bytes: &[u8], at: &mut usize, width: usize) -> mlua::Result<u64> {
    let taken = msgpack_take(bytes, at, width)?;
    Ok(taken.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

fn msgpack_decode(lua: &Lua, bytes: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > JSON_DEPTH_MAX {
        return Err(mlua::Error::runtime("Bad data format in input."));
    }
    let tag = msgpack_take(bytes, at, 1)?[0];
    let number = |n: f64| Ok(Value::Number(n));
    match tag {
        0x00..=0x7f => number(f64::from(tag)),
        0xe0..=0xff => number(f64::from(tag as i8)),
        0xc0 => Ok(Value::Nil),
        0xc2 => Ok(Value::Boolean(false)),
        0xc3 => Ok(Value::Boolean(true)),
        0xcc => number(msgpack_uint(bytes, at, 1)? as f64),
        0xcd => number(msgpack_uint(bytes, at, 2)? as f64),
        0xce => number(msgpack_uint(bytes, at, 4)? as f64),
        0xcf => number(msgpack_uint(bytes, at, 8)? as f64),
        0xd0 => number(f64::from(msgpack_uint(bytes, at, 1)? as u8 as i8)),
        0xd1 => number(f64::from(msgpack_uint(bytes, at, 2)? as u16 as i16)),
        0xd2 => number(f64::from(msgpack_uint(bytes, at, 4)? as u32 as i32)),
        0xd3 => number(msgpack_uint(bytes, at, 8)? as i64 as f64),
        0xca => number(f64::from(
            f32::from_bits(msgpack_uint(bytes, at, 4)? as u32),
        )),
        0xcb => number(f64::from_bits(msgpack_uint(bytes, at, 8)?)),
        0xa0..=0xbf => msgpack_str(lua, bytes, at, usize::from(tag & 0x1f)),
        0xd9 | 0xc4 => {
            let n = msgpack_uint(bytes, at, 1)? as usize;
            msgpack_str(lua, bytes, at, n)
        }
        0xda | 0xc5 => {
            let n = msgpack_uint(bytes, at, 2)? as usize;
            msgpack_str(lua, bytes, at, n)
        }
        0xdb | 0xc6 => {
            let n = msgpack_uint(bytes, at, 4)? as usize;
            msgpack_str(lua, bytes, at, n)
        }
        0x90..=0x9f => msgpack_array(lua, bytes, at, usize::from(tag & 0x0f), depth),
        0xdc => {
            let n = msgpack_uint(bytes, at, 2)? as usize;
            msgpack_array(lua, bytes, at, n, depth)
        }
        0xdd => {
            let n = msgpack_uint(bytes, at, 4)? as usize;
            msgpack_array(lua, bytes, at, n, depth)
        }
        0x80..=0x8f => msgpack_map(lua, bytes, at, usize::from(tag & 0x0f), depth),
        0xde => {
            let n = msgpack_uint(bytes, at, 2)? as usize;
            msgpack_map(lua, bytes, at, n, depth)
        }
        0xdf => {
            let n = msgpack_uint(bytes, at, 4)? as usize;
            msgpack_map(lua, bytes, at, n, depth)
        }
        _ => Err(mlua::Error::runtime("Bad data format in input.")),
    }
}

fn msgpack_str(lua: &Lua, bytes: &[u8], at: &mut usize, n: usize) -> mlua::Result<Value> {
    Ok(Value::String(
        lua.create_string(msgpack_take(bytes, at, n)?)?,
    ))
}

fn msgpack_array(
    lua: &Lua,
    bytes: &[u8],
    at: &mut usize,
    n: usize,
    depth: usize,
) -> mlua::Result<Value> {
    // Each element takes at least a byte: a count past what is left is
    // malformed, and must not size the table.
    if n > bytes.len() - *at {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let table = lua.create_table_with_capacity(n, 0)?;
    for index in 1..=n {
        table.raw_set(index, msgpack_decode(lua, bytes, at, depth + 1)?)?;
    }
    Ok(Value::Table(table))
}

fn msgpack_map(
    lua: &Lua,
    bytes: &[u8],
    at: &mut usize,
    n: usize,
    depth: usize,
) -> mlua::Result<Value> {
    if n > bytes.len() - *at {
        return Err(mlua::Error::runtime("Missing bytes in input."));
    }
    let table = lua.create_table_with_capacity(0, n)?;
    for _ in 0..n {
        let key = msgpack_decode(lua, bytes, at, depth + 1)?;
        let value = msgpack_decode(lua, bytes, at, depth + 1)?;
        if key != Value::Nil {
            table.raw_set(key, value)?;
        }
    }
    Ok(Value::Table(table))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// %g formatting matches C's printf for the shapes scripts produce.
    #[test]
    fn format_g_matches_printf() {
        assert_eq!(format_g(3.0, 17), "3");
        assert_eq!(format_g(0.1, 17), "0.10000000000000001");
        assert_eq!(format_g(1e20, 17), "1e+20");
        assert_eq!(format_g(123456789012345678.0, 17), "1.2345678901234568e+17");
        assert_eq!(format_g(0.0001, 17), "0.0001");
        assert_eq!(format_g(0.00001, 14), "1e-05");
        assert_eq!(format_g(-2.5, 14), "-2.5");
        assert_eq!(format_g(1.23456, 14), "1.23456");
        assert_eq!(format_g(100.0, 14), "100");
    }

    /// The generator gives POSIX lrand48's sequence for a seed.
    #[test]
    fn rand48_is_lrand48() {
        let mut rand = Rand48::new(0);
        // glibc's lrand48 after srand48(0), and after srand48(12345).
        assert_eq!(rand.next_value(), 366850414);
        assert_eq!(rand.next_value(), 1610402240);
        assert_eq!(rand.next_value(), 206956554);
        assert_eq!(Rand48::new(12345).next_value(), 483889296);
    }

    /// BitOp wraps any number into 32 bits, rounding to the nearest.
    #[test]
    fn tobit_wraps_like_bitop() {
        assert_eq!(tobit(0xffff_ffff_u32 as f64), -1);
        assert_eq!(tobit(4294967296.0 + 5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2.5), 2);
        assert_eq!(tobit(3.5), 4);
    }
}
