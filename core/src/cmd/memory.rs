//! MEMORY USAGE: how many bytes a key and its value take, estimated from
//! their sizes as stored (redoubt's allocator reports no per-allocation
//! sizes; tools and Redis's own tests read this for comparisons). The other
//! MEMORY subcommands come with the operator's commands.

use super::connection::help_lines;
use super::flag::READONLY;
use super::{help_subcommand, CommandSpec, Ctx, Error, Outcome, ERR_NOT_INTEGER, ERR_SYNTAX};
use crate::db::Value;
use crate::resp::parse_i64;

const GROUP: &str = "server";

pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("memory", -2, 0, super::connection::container_help)
            .doc(
                GROUP,
                "4.0.0",
                "A container for memory diagnostics commands.",
                "Depends on subcommand.",
            )
            .subs(SUBCOMMANDS),
    ];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, READONLY, usage).key(2).doc(
        GROUP,
        "4.0.0",
        "Estimates the memory usage of a key.",
        "O(N) where N is the number of samples.",
    ),
    help_subcommand(GROUP, "4.0.0", help),
];

/// Elements MEMORY USAGE looks at in a collection by default.
const SAMPLES_DEFAULT: usize = 5;
/// Bytes of a key's entry in its database: the table slot, the entry and
/// the value's header.
const KEY_OVERHEAD_BYTES: usize = 56;
/// Bytes an element of a large collection costs beyond its own bytes.
const ELEMENT_OVERHEAD_BYTES: usize = 40;

/// MEMORY USAGE key [SAMPLES count]: the estimated bytes, or null for a
/// missing key. A collection in its large form is estimated from `count`
/// elements (0: all of them).
fn usage(ctx: &mut Ctx<'_>) -> Outcome {
    let mut samples = SAMPLES_DEFAULT;
    let mut i = 3;
    while i < ctx.argv.len() {
        if !ctx.arg(i).eq_ignore_ascii_case(b"SAMPLES") || i + 1 >= ctx.argv.len() {
            return Err(ERR_SYNTAX.into());
        }
        let count = parse_i64(ctx.arg(i + 1)).ok_or(Error::from(ERR_NOT_INTEGER))?;
        if count < 0 {
            return Err(ERR_SYNTAX.into());
        }
        samples = if count == 0 {
            usize::MAX
        } else {
            count as usize
        };
        i += 2;
    }
    let key = ctx.arg(2);
    let now = ctx.now_ms;
    let bytes = ctx
        .db()
        .get(key, now)
        .map(|value| KEY_OVERHEAD_BYTES + key.len() + value_bytes(value, samples));
    match bytes {
        Some(bytes) => ctx.out().int(bytes as i64),
        None => ctx.out().null(),
    }
    Ok(())
}

/// A value's estimated bytes: compact forms by their exact size, large
/// ones from the average of `samples` elements.
fn value_bytes(value: &Value, samples: usize) -> usize {
    let extrapolate = |sizes: Vec<usize>, len: usize| -> usize {
        if sizes.is_empty() {
            return 0;
        }
        let average = sizes.iter().sum::<usize>() / sizes.len();
        (average + ELEMENT_OVERHEAD_BYTES) * len
    };
    match value {
        Value::String(bytes) => bytes.len(),
        Value::List(list) => list
            .nodes()
            .map(|node| node.byte_len() + ELEMENT_OVERHEAD_BYTES)
            .sum(),
        Value::Hash(hash) => match hash.as_listpack() {
            Some(listpack) => listpack.byte_len(),
            None => {
                let sizes = hash
                    .iter()
                    .take(samples)
                    .map(|(f, v)| f.text_len() + v.text_len())
                    .collect();
                extrapolate(sizes, hash.len())
            }
        },
        Value::Set(set) => match set.as_intset() {
            Some(intset) => intset.byte_len(),
            None => extrapolate(
                set.iter().take(samples).map(|m| m.len()).collect(),
                set.len(),
            ),
        },
        Value::ZSet(zset) => match zset.as_listpack() {
            Some(listpack) => listpack.byte_len(),
            None => extrapolate(
                zset.iter()
                    .take(samples)
                    .map(|(m, _)| m.len() + 8)
                    .collect(),
                zset.len(),
            ),
        },
    }
}

fn help(ctx: &mut Ctx<'_>) -> Outcome {
    help_lines(
        ctx,
        "MEMORY",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
