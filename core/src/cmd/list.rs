//! Lists: LPUSH, LPOP, BLPOP and the rest.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
