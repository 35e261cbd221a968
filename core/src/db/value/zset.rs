//! PLACEHOLDER: the ZSet type arrives with its commands.

use crate::config::Encodings;

/// PLACEHOLDER.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ZSet {
    len: usize,
}

impl ZSet {
    pub fn new(_limits: &Encodings) -> Self {
        ZSet::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }

    pub fn rewrite_commands(&self, _key: &[u8], _emit: &mut dyn FnMut(&[&[u8]])) {}
}
