//! The operation kinds of the workload, by the names scenario files use.

/// Where the collection kinds start in [`OpKind::ALL`].
const FIRST_COLLECTION: usize = 36;

/// One kind of workload operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    Get,
    Set,
    SetNx,
    SetXx,
    SetEx,
    SetPx,
    SetNxCommand,
    GetSet,
    GetDel,
    Incr,
    IncrBy,
    Decr,
    Append,
    Strlen,
    Del,
    Exists,
    Mget,
    Mset,
    Expire,
    Pexpire,
    Persist,
    Ttl,
    Pttl,
    Transaction,
    FlushAll,
    SwapDb,
    /// SELECT 0, 1 or 2: the connection's later commands go there, so
    /// writes reach several databases and the replication stream moves
    /// between them.
    Select,
    BgRewriteAof,
    BgSave,
    Save,
    ConfigSetAppendFsync,
    ConfigSetAppendOnly,
    Shutdown,
    /// WAIT for 1 or 2 replicas, up to half a second: confirms the
    /// connection's earlier writes to the replicas that acknowledged them.
    Wait,
    /// WAITAOF for the local AOF (or not) and 0 to 2 replicas, up to half a
    /// second: confirms the connection's earlier writes as fsynced.
    WaitAof,
    /// CLIENT PAUSE for 20 to 300 ms, WRITE or ALL: the node holds the
    /// clients' requests (writes, or everything) and expires and evicts
    /// nothing meanwhile, as before a failover.
    ClientPause,
    LPush,
    RPush,
    LPop,
    RPop,
    LPopCount,
    LLen,
    LRange,
    LIndex,
    LRem,
    LTrim,
    LMove,
    BLPop,
    BRPop,
    BLMove,
    Type,
    HSet,
    HGet,
    HMGet,
    HExists,
    HLen,
    HDel,
    HIncrBy,
    SAdd,
    SRem,
    SIsMember,
    SMIsMember,
    SCard,
    ZAdd,
    ZIncrBy,
    ZScore,
    ZRank,
    ZCard,
    ZRem,
    ZRange,
    ZPopMin,
    BZPopMin,
    ZUnionStore,
    RPushMany,
    HSetMany,
    SAddMany,
    ZAddMany,
    ZAddFloat,
    ZIncrByFloat,
}

impl OpKind {
    pub const ALL: &'static [OpKind] = &[
        OpKind::Get,
        OpKind::Set,
        OpKind::SetNx,
        OpKind::SetXx,
        OpKind::SetEx,
        OpKind::SetPx,
        OpKind::SetNxCommand,
        OpKind::GetSet,
        OpKind::GetDel,
        OpKind::Incr,
        OpKind::IncrBy,
        OpKind::Decr,
        OpKind::Append,
        OpKind::Strlen,
        OpKind::Del,
        OpKind::Exists,
        OpKind::Mget,
        OpKind::Mset,
        OpKind::Expire,
        OpKind::Pexpire,
        OpKind::Persist,
        OpKind::Ttl,
        OpKind::Pttl,
        OpKind::Transaction,
        OpKind::FlushAll,
        OpKind::SwapDb,
        OpKind::Select,
        OpKind::BgRewriteAof,
        OpKind::BgSave,
        OpKind::Save,
        OpKind::ConfigSetAppendFsync,
        OpKind::ConfigSetAppendOnly,
        OpKind::Shutdown,
        OpKind::Wait,
        OpKind::WaitAof,
        OpKind::ClientPause,
        OpKind::LPush,
        OpKind::RPush,
        OpKind::LPop,
        OpKind::RPop,
        OpKind::LPopCount,
        OpKind::LLen,
        OpKind::LRange,
        OpKind::LIndex,
        OpKind::LRem,
        OpKind::LTrim,
        OpKind::LMove,
        OpKind::BLPop,
        OpKind::BRPop,
        OpKind::BLMove,
        OpKind::Type,
        OpKind::HSet,
        OpKind::HGet,
        OpKind::HMGet,
        OpKind::HExists,
        OpKind::HLen,
        OpKind::HDel,
        OpKind::HIncrBy,
        OpKind::SAdd,
        OpKind::SRem,
        OpKind::SIsMember,
        OpKind::SMIsMember,
        OpKind::SCard,
        OpKind::ZAdd,
        OpKind::ZIncrBy,
        OpKind::ZScore,
        OpKind::ZRank,
        OpKind::ZCard,
        OpKind::ZRem,
        OpKind::ZRange,
        OpKind::ZPopMin,
        OpKind::BZPopMin,
        OpKind::ZUnionStore,
        OpKind::RPushMany,
        OpKind::HSetMany,
        OpKind::SAddMany,
        OpKind::ZAddMany,
        OpKind::ZAddFloat,
        OpKind::ZIncrByFloat,
    ];

    /// The collection commands, and TYPE, which scenarios name to use:
    /// the kinds of [`OpKind::ALL`] from LPUSH on.
    pub const COLLECTIONS: &'static [OpKind] = OpKind::ALL.split_at(FIRST_COLLECTION).1;

    /// What operators do, rather than applications: the workload also
    /// sends these inside MULTI.
    pub const OPERATOR: &'static [OpKind] = &[
        OpKind::FlushAll,
        OpKind::SwapDb,
        OpKind::Select,
        OpKind::BgRewriteAof,
        OpKind::BgSave,
        OpKind::Save,
        OpKind::ConfigSetAppendFsync,
        OpKind::ConfigSetAppendOnly,
        OpKind::Shutdown,
        OpKind::ClientPause,
    ];

    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Get => "get",
            OpKind::Set => "set",
            OpKind::SetNx => "set_nx",
            OpKind::SetXx => "set_xx",
            OpKind::SetEx => "set_ex",
            OpKind::SetPx => "set_px",
            OpKind::SetNxCommand => "setnx",
            OpKind::GetSet => "getset",
            OpKind::GetDel => "getdel",
            OpKind::Incr => "incr",
            OpKind::IncrBy => "incrby",
            OpKind::Decr => "decr",
            OpKind::Append => "append",
            OpKind::Strlen => "strlen",
            OpKind::Del => "del",
            OpKind::Exists => "exists",
            OpKind::Mget => "mget",
            OpKind::Mset => "mset",
            OpKind::Expire => "expire",
            OpKind::Pexpire => "pexpire",
            OpKind::Persist => "persist",
            OpKind::Ttl => "ttl",
            OpKind::Pttl => "pttl",
            OpKind::Transaction => "transaction",
            OpKind::FlushAll => "flushall",
            OpKind::SwapDb => "swapdb",
            OpKind::Select => "select",
            OpKind::BgRewriteAof => "bgrewriteaof",
            OpKind::BgSave => "bgsave",
            OpKind::Save => "save",
            OpKind::ConfigSetAppendFsync => "config_set_appendfsync",
            OpKind::ConfigSetAppendOnly => "config_set_appendonly",
            OpKind::Shutdown => "shutdown",
            OpKind::Wait => "wait",
            OpKind::WaitAof => "waitaof",
            OpKind::ClientPause => "client_pause",
            OpKind::LPush => "lpush",
            OpKind::RPush => "rpush",
            OpKind::LPop => "lpop",
            OpKind::RPop => "rpop",
            OpKind::LPopCount => "lpop_count",
            OpKind::LLen => "llen",
            OpKind::LRange => "lrange",
            OpKind::LIndex => "lindex",
            OpKind::LRem => "lrem",
            OpKind::LTrim => "ltrim",
            OpKind::LMove => "lmove",
            OpKind::BLPop => "blpop",
            OpKind::BRPop => "brpop",
            OpKind::BLMove => "blmove",
            OpKind::Type => "type",
            OpKind::HSet => "hset",
            OpKind::HGet => "hget",
            OpKind::HMGet => "hmget",
            OpKind::HExists => "hexists",
            OpKind::HLen => "hlen",
            OpKind::HDel => "hdel",
            OpKind::HIncrBy => "hincrby",
            OpKind::SAdd => "sadd",
            OpKind::SRem => "srem",
            OpKind::SIsMember => "sismember",
            OpKind::SMIsMember => "smismember",
            OpKind::SCard => "scard",
            OpKind::ZAdd => "zadd",
            OpKind::ZIncrBy => "zincrby",
            OpKind::ZScore => "zscore",
            OpKind::ZRank => "zrank",
            OpKind::ZCard => "zcard",
            OpKind::ZRem => "zrem",
            OpKind::ZRange => "zrange",
            OpKind::ZPopMin => "zpopmin",
            OpKind::BZPopMin => "bzpopmin",
            OpKind::ZUnionStore => "zunionstore",
            OpKind::RPushMany => "rpush_many",
            OpKind::HSetMany => "hset_many",
            OpKind::SAddMany => "sadd_many",
            OpKind::ZAddMany => "zadd_many",
            OpKind::ZAddFloat => "zadd_float",
            OpKind::ZIncrByFloat => "zincrby_float",
        }
    }

    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    /// The weight of the built-in mix.
    pub fn default_weight(self) -> u64 {
        match self {
            _ if OpKind::OPERATOR.contains(&self) => 0,
            // Scenarios with replicas or an AOF name them.
            OpKind::Wait | OpKind::WaitAof => 0,
            // Collections join a scenario's mix by name.
            _ if OpKind::COLLECTIONS.contains(&self) => 0,
            OpKind::Get | OpKind::Set | OpKind::Incr => 10,
            OpKind::Transaction => 6,
            OpKind::Mget | OpKind::Mset | OpKind::Del | OpKind::Append => 4,
            _ => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The collection kinds are exactly the tail of `ALL` from LPUSH on.
    #[test]
    fn collections_start_at_lpush() {
        assert_eq!(OpKind::COLLECTIONS[0], OpKind::LPush);
        assert_eq!(OpKind::ALL[FIRST_COLLECTION - 1], OpKind::ClientPause);
        assert_eq!(OpKind::COLLECTIONS.last(), OpKind::ALL.last());
    }
}
