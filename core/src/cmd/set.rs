//! Sets: SADD, SINTER and the rest.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
