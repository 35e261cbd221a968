//! Sorted sets: ZADD, ZRANGE, BZPOPMIN and the rest.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
