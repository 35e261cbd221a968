//! Durability bugs planted on purpose, one at a time, to prove that the
//! simulator's swarm catches each (its self-test). Only a build with the
//! `planted-bugs` cargo feature can switch one on, with the directive
//! `planted-bug <name>`; the production binary does not know the
//! directive, and every check here compiles to `false`.

use crate::config::Config;

/// A known durability bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlantedBug {
    /// Under `appendfsync always`, replies leave once written, before the
    /// fsync that must cover them.
    ReplyBeforeFsync,
    /// A torn AOF tail is loaded but not cut from the file.
    TornTailKept,
    /// A short write drops the rest of the AOF buffer instead of retrying.
    ShortWriteDropsBuffer,
    /// The manifest is renamed into place without fsyncing its directory.
    RenameWithoutDirFsync,
    /// A failed fsync is taken for a good one.
    FsyncErrorIgnored,
    /// A MULTI block torn off at the AOF's tail is executed up to the tear
    /// instead of dropped.
    TornMultiApplied,
    /// A background snapshot that resumes a sorted set written over
    /// several steps skips the element it resumes at.
    ResumedValueSkipsElement,
    /// A RESP BASE writes sorted-set scores rounded to six decimals
    /// instead of every significant digit.
    RewriteScoresRounded,
    /// A replica counts only the last read of a stream command split over
    /// several reads into its offset (the bug the simulator found first).
    ReplicaOffsetSkipsSplit,
    /// A replica deletes a key whose expiry its own clock says has passed,
    /// instead of waiting for its master's DEL.
    ReplicaExpiresByItsClock,
    /// WAIT counts the replicas online, not those whose ACK covers the
    /// client's last write.
    WaitCountsOnlineReplicas,
    /// PUBLISH goes down the replication stream when it runs, ahead of
    /// the transaction it belongs to, instead of inside it.
    PublishAheadOfItsTransaction,
    /// A replica runs each command of its master's transactions as it
    /// arrives, instead of queueing them until EXEC: a transaction split
    /// over two reads of the stream shows half done.
    ReplicaRunsTransactionsUnqueued,
    /// A shutdown exits at once instead of waiting for lagging replicas to
    /// acknowledge its writes.
    ShutdownIgnoresLaggingReplicas,
    /// A Lua script's writes are propagated as its commands without the
    /// MULTI/EXEC around them: a replica applies them as they arrive, so a
    /// stream cut in the middle of a script leaves it half done there.
    ScriptEffectsNotWrapped,
    /// A request held by CLIENT PAUSE (or a shutdown's write pause) runs
    /// twice when the pause ends: once unseen, then for its reply.
    HeldRequestRunsTwice,
}

impl PlantedBug {
    pub const ALL: &'static [PlantedBug] = &[
        PlantedBug::ReplyBeforeFsync,
        PlantedBug::TornTailKept,
        PlantedBug::ShortWriteDropsBuffer,
        PlantedBug::RenameWithoutDirFsync,
        PlantedBug::FsyncErrorIgnored,
        PlantedBug::TornMultiApplied,
        PlantedBug::ResumedValueSkipsElement,
        PlantedBug::RewriteScoresRounded,
        PlantedBug::ReplicaOffsetSkipsSplit,
        PlantedBug::ReplicaExpiresByItsClock,
        PlantedBug::WaitCountsOnlineReplicas,
        PlantedBug::PublishAheadOfItsTransaction,
        PlantedBug::ReplicaRunsTransactionsUnqueued,
        PlantedBug::ShutdownIgnoresLaggingReplicas,
        PlantedBug::ScriptEffectsNotWrapped,
        PlantedBug::HeldRequestRunsTwice,
    ];

    /// The name the directive and the self-test use.
    pub fn name(self) -> &'static str {
        match self {
            PlantedBug::ReplyBeforeFsync => "reply-before-fsync",
            PlantedBug::TornTailKept => "torn-tail-kept",
            PlantedBug::ShortWriteDropsBuffer => "short-write-drops-buffer",
            PlantedBug::RenameWithoutDirFsync => "rename-without-dir-fsync",
            PlantedBug::FsyncErrorIgnored => "fsync-error-ignored",
            PlantedBug::TornMultiApplied => "torn-multi-applied",
            PlantedBug::ResumedValueSkipsElement => "resumed-value-skips-element",
            PlantedBug::RewriteScoresRounded => "rewrite-scores-rounded",
            PlantedBug::ReplicaOffsetSkipsSplit => "replica-offset-skips-split",
            PlantedBug::ReplicaExpiresByItsClock => "replica-expires-by-its-clock",
            PlantedBug::WaitCountsOnlineReplicas => "wait-counts-online-replicas",
            PlantedBug::PublishAheadOfItsTransaction => "publish-ahead-of-its-transaction",
            PlantedBug::ReplicaRunsTransactionsUnqueued => "replica-runs-transactions-unqueued",
            PlantedBug::ShutdownIgnoresLaggingReplicas => "shutdown-ignores-lagging-replicas",
            PlantedBug::ScriptEffectsNotWrapped => "script-effects-not-wrapped",
            PlantedBug::HeldRequestRunsTwice => "held-request-runs-twice",
        }
    }

    pub fn from_name(name: &str) -> Option<PlantedBug> {
        PlantedBug::ALL
            .iter()
            .copied()
            .find(|bug| bug.name() == name)
    }
}

/// Whether `bug` is planted in this node. Always false without the
/// `planted-bugs` feature.
pub fn active(config: &Config, bug: PlantedBug) -> bool {
    #[cfg(feature = "planted-bugs")]
    {
        config.planted_bug == Some(bug)
    }
    #[cfg(not(feature = "planted-bugs"))]
    {
        let _ = (config, bug);
        false
    }
}
