//! Hashes: HSET, HGET and the rest.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
