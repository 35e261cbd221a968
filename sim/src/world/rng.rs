//! Seeded randomness: one `ChaCha8Rng` per run, split into one stream per
//! component.
//!
//! Every component (the option deriver, the node's `Random`, the disk, each
//! client, each network link) draws from its own stream of the same seed, so
//! adding a client or a draw in one component never shifts the draws of
//! another. Nothing in the simulator draws randomness any other way.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The stream ids of the components. Clients and links add their index to
/// their base.
pub mod stream {
    pub const OPTIONS: u64 = 1;
    pub const NODE_RANDOM: u64 = 2;
    pub const DISK: u64 = 3;
    pub const CLOCK: u64 = 4;
    pub const FAULTS: u64 = 5;
    /// How many replicas a seed draws (`topology.replicas_per_seed`).
    pub const TOPOLOGY: u64 = 6;
    /// Network partitions between nodes (`faults.partitions`): a stream of
    /// their own, so scenarios without them draw exactly what they drew.
    pub const PARTITIONS: u64 = 7;
    /// Replica crashes (`faults.replica_crashes`): a stream of their own,
    /// so scenarios without them draw exactly what they drew.
    pub const REPLICA_CRASHES: u64 = 8;
    /// Failovers, drawn after replica crashes.
    pub const FAILOVERS: u64 = 9;
    /// The replica reader (`workload.apps.replica_reads`): whether it
    /// runs, then the keys it reads.
    pub const REPLICA_READER: u64 = 10;
    /// The script-based applications (`workload.apps.lock` and
    /// `ratelimit`): how many clients of each a seed runs.
    pub const SCRIPT_APPS: u64 = 11;
    /// A planned switchover's lagging replica: whether the link to one
    /// replica is held around the SIGTERM, and for how long.
    pub const SWITCHOVER_LAG: u64 = 12;
    /// The node's `Random` after its n-th restart is this plus n.
    pub const NODE_RESTART_BASE: u64 = 3 << 16;
    pub const CLIENT_BASE: u64 = 1 << 16;
    pub const LINK_BASE: u64 = 2 << 16;
    /// Links between nodes: this plus the link's index.
    pub const PEER_LINK_BASE: u64 = 4 << 16;
    /// The nodes other than node 0 (replicas): node n's streams are this
    /// plus `n * NODE_STREAMS` plus one of the offsets below.
    pub const OTHER_NODE_BASE: u64 = 5 << 16;
    /// Streams each other node may use.
    pub const NODE_STREAMS: u64 = 16;
    /// Offsets within an other node's streams.
    pub const NODE_OFFSET_RANDOM: u64 = 0;
    pub const NODE_OFFSET_DISK: u64 = 1;
    /// An other node's `Random` after its n-th restart: this plus
    /// `node * NODE_RESTARTS_MAX` plus n (streams no run drew before
    /// replicas crashed).
    pub const OTHER_NODE_RESTART_BASE: u64 = 6 << 16;
    /// Restarts of one other node with streams of their own; later ones
    /// reuse the last.
    pub const NODE_RESTARTS_MAX: u64 = 1024;
}

/// An inclusive range `[min, max]` a seed picks a value from (scenario
/// files write them as two-element arrays).
pub type Range = [u64; 2];

/// A component's random stream.
#[derive(Debug, Clone)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `stream_id` of the run seeded with `seed`.
    pub fn new(seed: u64, stream_id: u64) -> Self {
        let mut inner = ChaCha8Rng::seed_from_u64(seed);
        inner.set_stream(stream_id);
        SimRng { inner }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A number in `min..=max` (`min` when the range is empty).
    pub fn range(&mut self, min: u64, max: u64) -> u64 {
        if max <= min {
            return min;
        }
        let span = max - min + 1;
        if span == 0 {
            return self.next_u64();
        }
        min + self.next_u64() % span
    }

    /// A number in `range`, each end first capped at `max`.
    pub fn pick(&mut self, range: Range, max: u64) -> u64 {
        self.range(range[0].min(max), range[1].min(max))
    }

    /// An index below `len` (`len` > 0).
    pub fn index(&mut self, len: usize) -> usize {
        debug_assert!(len > 0);
        (self.next_u64() % len as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// An index picked with probability proportional to its weight. The
    /// weights must not all be zero.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        assert!(total > 0, "all weights are zero");
        let mut pick = self.next_u64() % total;
        for (index, &weight) in weights.iter().enumerate() {
            if pick < weight {
                return index;
            }
            pick -= weight;
        }
        unreachable!("pick below the total weight")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams of one seed are independent and reproducible.
    #[test]
    fn streams_are_separate_and_stable() {
        let mut a = SimRng::new(7, stream::DISK);
        let mut b = SimRng::new(7, stream::DISK);
        let mut c = SimRng::new(7, stream::CLIENT_BASE);
        let first = a.next_u64();
        assert_eq!(first, b.next_u64());
        assert_ne!(first, c.next_u64());
    }
}
