//! Placeholder while the RDB codec is written.
