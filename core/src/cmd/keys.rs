//! Placeholder while this family is written.

use super::CommandSpec;

pub const COMMANDS: &[CommandSpec] = &[];
