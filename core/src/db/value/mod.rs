//! Compact value encodings, byte-exact with Redis 7.0's in memory and in RDB files.
pub mod intset;
pub mod listpack;
