//! Redis's conversions between command replies and Lua values, both ways.
//!
//! A command run by `redis.call` writes its reply into a buffer in the
//! script's protocol (RESP2 unless `redis.setresp(3)`); [`to_lua`] reads
//! it back as Lua values: integers as numbers, bulk strings as strings,
//! nulls as `false` in RESP2 (`nil` for RESP3's null), statuses as
//! `{ok=...}`, errors as `{err=...}`, and RESP3's maps, sets, doubles,
//! big numbers and verbatim strings as tables keyed by their type.
//! [`write_reply`] turns the script's result into the caller's reply the
//! other way: numbers are truncated to integers, `true` is 1, `false` is
//! null, and a table is an array up to its first nil.

use mlua::{Lua, Table, Value};

use crate::resp::{Out, Protocol};

/// Deepest nesting converted, either way: deeper parts become an error,
/// as Redis's Lua stack limit turns them into one.
const NESTING_MAX: usize = 1000;

/// The Lua value of one RESP reply at the start of `bytes`, and whether it
/// is an error reply.
pub fn to_lua(lua: &Lua, bytes: &[u8]) -> mlua::Result<(Value, bool)> {
    let mut at = 0;
    let failed = bytes.first() == Some(&b'-');
    let value = parse(lua, bytes, &mut at, 0)?;
    Ok((value, failed))
}

fn malformed() -> mlua::Error {
    mlua::Error::runtime("malformed reply from a command")
}

fn line<'b>(bytes: &'b [u8], at: &mut usize) -> mlua::Result<&'b [u8]> {
    let rest = bytes.get(*at..).ok_or_else(malformed)?;
    let end = rest
        .windows(2)
        .position(|pair| pair == b"\r\n")
        .ok_or_else(malformed)?;
    *at += end + 2;
    Ok(&rest[..end])
}

fn number(text: &[u8]) -> mlua::Result<i64> {
    crate::resp::parse_i64(text).ok_or_else(malformed)
}

fn blob<'b>(bytes: &'b [u8], at: &mut usize, len: i64) -> mlua::Result<&'b [u8]> {
    let len = usize::try_from(len).map_err(|_| malformed())?;
    let end = at.checked_add(len).ok_or_else(malformed)?;
    let body = bytes.get(*at..end).ok_or_else(malformed)?;
    *at = end + 2;
    Ok(body)
}

fn single(lua: &Lua, key: &str, value: Value) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(key, value)?;
    Ok(Value::Table(table))
}

fn parse(lua: &Lua, bytes: &[u8], at: &mut usize, depth: usize) -> mlua::Result<Value> {
    if depth > NESTING_MAX {
        return Err(mlua::Error::runtime("reached lua stack limit"));
    }
    let kind = *bytes.get(*at).ok_or_else(malformed)?;
    *at += 1;
    let head = line(bytes, at)?;
    Ok(match kind {
        b':' => Value::Number(number(head)? as f64),
        b'$' if head == b"-1" => Value::Boolean(false),
        b'*' if head == b"-1" => Value::Boolean(false),
        b'$' => Value::String(lua.create_string(blob(bytes, at, number(head)?)?)?),
        b'+' => single(lua, "ok", Value::String(lua.create_string(head)?))?,
        b'-' => single(lua, "err", Value::String(lua.create_string(head)?))?,
        b'*' | b'>' => {
            let n = number(head)?;
            let table = lua.create_table()?;
            for index in 1..=n {
                table.raw_set(index, parse(lua, bytes, at, depth + 1)?)?;
            }
            Value::Table(table)
        }
        b'%' => {
            let table = lua.create_table()?;
            for _ in 0..number(head)? {
                let key = parse(lua, bytes, at, depth + 1)?;
                let value = parse(lua, bytes, at, depth + 1)?;
                table.raw_set(key, value)?;
            }
            single(lua, "map", Value::Table(table))?
        }
        b'~' => {
            let table = lua.create_table()?;
            for _ in 0..number(head)? {
                table.raw_set(parse(lua, bytes, at, depth + 1)?, true)?;
            }
            single(lua, "set", Value::Table(table))?
        }
        b'|' => {
            // An attribute: its pairs are read and not shown to the
            // script (as in Redis); the reply is what follows it.
            for _ in 0..number(head)?.saturating_mul(2) {
                parse(lua, bytes, at, depth + 1)?;
            }
            parse(lua, bytes, at, depth + 1)?
        }
        b'_' => Value::Nil,
        b'#' => Value::Boolean(head == b"t"),
        b',' => {
            let text = std::str::from_utf8(head).map_err(|_| malformed())?;
            let value = match text {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => text.parse().map_err(|_| malformed())?,
            };
            single(lua, "double", Value::Number(value))?
        }
        b'(' => single(lua, "big_number", Value::String(lua.create_string(head)?))?,
        b'=' => {
            let body = blob(bytes, at, number(head)?)?;
            let (format, text) = body.split_at(body.len().min(4));
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(&format[..format.len().min(3)])?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            single(lua, "verbatim_string", Value::Table(inner))?
        }
        _ => return Err(malformed()),
    })
}

/// Writes the script's result `value` to `out`. `script_protocol` is the
/// protocol the script chose: it decides how a boolean is answered.
pub fn write_reply(out: &mut Out, value: &Value, script_protocol: Protocol) -> mlua::Result<()> {
    write_value(out, value, script_protocol, 0)
}

fn write_value(out: &mut Out, value: &Value, resp: Protocol, depth: usize) -> mlua::Result<()> {
    if depth > NESTING_MAX {
        out.error("ERR reached lua stack limit");
        return Ok(());
    }
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => match (resp, *b) {
            (Protocol::Resp2, true) => out.int(1),
            (Protocol::Resp2, false) => out.null(),
            (Protocol::Resp3, b) => out.boolean(b),
        },
        Value::Integer(n) => out.int(*n),
        Value::Number(n) => out.int(lua_number_to_i64(*n)),
        Value::Table(table) => write_table(out, table, resp, depth)?,
        _ => out.null(),
    }
    Ok(())
}

/// C's `(long long)` cast of a Lua number as x86-64 does it: toward zero,
/// and the "integer indefinite" `i64::MIN` for NaN and anything out of
/// range (2^63 included), where Rust's `as` would saturate.
fn lua_number_to_i64(n: f64) -> i64 {
    const TWO_TO_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_TO_63..TWO_TO_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn write_table(out: &mut Out, table: &Table, resp: Protocol, depth: usize) -> mlua::Result<()> {
    if let Value::String(message) = table.raw_get::<Value>("err")? {
        out.error(&String::from_utf8_lossy(&message.as_bytes()));
        return Ok(());
    }
    if let Value::String(status) = table.raw_get::<Value>("ok")? {
        out.simple(&String::from_utf8_lossy(&status.as_bytes()));
        return Ok(());
    }
    if let Value::Number(n) = table.raw_get::<Value>("double")? {
        out.double(n);
        return Ok(());
    }
    if let Value::String(digits) = table.raw_get::<Value>("big_number")? {
        let digits = String::from_utf8_lossy(&digits.as_bytes()).replace(['\r', '\n'], " ");
        match out.protocol {
            Protocol::Resp3 => out
                .buf
                .extend_from_slice(format!("({digits}\r\n").as_bytes()),
            Protocol::Resp2 => out.bulk(digits.as_bytes()),
        }
        return Ok(());
    }
    if let Value::Table(verbatim) = table.raw_get::<Value>("verbatim_string")? {
        if let (Value::String(format), Value::String(text)) = (
            verbatim.raw_get::<Value>("format")?,
            verbatim.raw_get::<Value>("string")?,
        ) {
            let text = text.as_bytes();
            match out.protocol {
                Protocol::Resp3 => {
                    out.buf.push(b'=');
                    crate::resp::push_i64(&mut out.buf, text.len() as i64 + 4);
                    out.buf.extend_from_slice(b"\r\n");
                    out.buf.extend_from_slice(&format.as_bytes());
                    out.buf.push(b':');
                    out.buf.extend_from_slice(&text);
                    out.buf.extend_from_slice(b"\r\n");
                }
                Protocol::Resp2 => out.bulk(&text),
            }
            return Ok(());
        }
    }
    if let Value::Table(map) = table.raw_get::<Value>("map")? {
        let pairs: Vec<(Value, Value)> =
            map.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
        out.map(pairs.len());
        for (key, value) in &pairs {
            write_value(out, key, resp, depth + 1)?;
            write_value(out, value, resp, depth + 1)?;
        }
        return Ok(());
    }
    if let Value::Table(set) = table.raw_get::<Value>("set")? {
        let members: Vec<Value> = set
            .pairs::<Value, Value>()
            .map(|pair| pair.map(|(member, _)| member))
            .collect::<mlua::Result<_>>()?;
        out.set(members.len());
        for member in &members {
            write_value(out, member, resp, depth + 1)?;
        }
        return Ok(());
    }
    let mut items = Vec::new();
    loop {
        let item: Value = table.raw_get(items.len() + 1)?;
        if item == Value::Nil {
            break;
        }
        items.push(item);
    }
    out.array(items.len());
    for item in &items {
        write_value(out, item, resp, depth + 1)?;
    }
    Ok(())
}
