//! Persistence: the RDB snapshot format and the append-only file, in Redis
//! 7's formats, written and read only through `env::Disk`.

pub mod aof;
pub mod aof_format;
pub mod background;
pub mod control;
pub mod job;
pub mod load;
pub mod lzf;
pub mod pipesave;
pub mod rdb;
pub mod snapshot_encoder;
pub mod ziplist;
