//! The operation kinds of the workload, by the names scenario files use.

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
    BgRewriteAof,
    BgSave,
    Save,
    ConfigSetAppendFsync,
    ConfigSetAppendOnly,
    Shutdown,
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
        OpKind::BgRewriteAof,
        OpKind::BgSave,
        OpKind::Save,
        OpKind::ConfigSetAppendFsync,
        OpKind::ConfigSetAppendOnly,
        OpKind::Shutdown,
    ];

    /// What operators do, rather than applications: the workload also
    /// sends these inside MULTI.
    pub const OPERATOR: &'static [OpKind] = &[
        OpKind::FlushAll,
        OpKind::SwapDb,
        OpKind::BgRewriteAof,
        OpKind::BgSave,
        OpKind::Save,
        OpKind::ConfigSetAppendFsync,
        OpKind::ConfigSetAppendOnly,
        OpKind::Shutdown,
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
            OpKind::BgRewriteAof => "bgrewriteaof",
            OpKind::BgSave => "bgsave",
            OpKind::Save => "save",
            OpKind::ConfigSetAppendFsync => "config_set_appendfsync",
            OpKind::ConfigSetAppendOnly => "config_set_appendonly",
            OpKind::Shutdown => "shutdown",
        }
    }

    pub fn from_name(name: &str) -> Option<OpKind> {
        OpKind::ALL.iter().copied().find(|kind| kind.name() == name)
    }

    /// The weight of the built-in mix.
    pub fn default_weight(self) -> u64 {
        match self {
            _ if OpKind::OPERATOR.contains(&self) => 0,
            OpKind::Get | OpKind::Set | OpKind::Incr => 10,
            OpKind::Transaction => 6,
            OpKind::Mget | OpKind::Mset | OpKind::Del | OpKind::Append => 4,
            _ => 3,
        }
    }
}
