//! `SimClock`: a node's view of simulated time.
//!
//! The simulator owns one global time (milliseconds since the run began);
//! each node reads it through its own clock.
//!
//! # Fault model
//!
//! * **Drift** (`drift_parts_per_million`, drawn per run): both clocks run
//!   faster or slower than simulated time by that much.
//! * **Wall-clock jumps** ([`SimClock::jump_wall_ms`], scheduled faults):
//!   the wall clock moves by the given amount, either way, as NTP or an
//!   operator can make it.
//!
//! Promises: monotonic time never goes backwards, whatever the drift (it is
//! never below zero) and whatever the jumps (they touch only wall time).

use redoubt_core::env::Clock;

/// Wall-clock milliseconds at simulated time zero, before the seeded offset:
/// 2023-11-14T22:13:20Z.
pub const WALL_EPOCH_MS: i64 = 1_700_000_000_000;

/// One node's clock.
#[derive(Debug, Clone)]
pub struct SimClock {
    now_ms: u64,
    wall_origin_ms: i64,
    /// Sum of injected wall-clock jumps (none yet).
    wall_jump_ms: i64,
    /// Drift of this clock against simulated time (zero for now).
    pub drift_parts_per_million: i64,
}

impl SimClock {
    /// A clock whose wall time starts `wall_offset_ms` after the epoch.
    pub fn new(wall_offset_ms: i64) -> Self {
        SimClock {
            now_ms: 0,
            wall_origin_ms: WALL_EPOCH_MS + wall_offset_ms,
            wall_jump_ms: 0,
            drift_parts_per_million: 0,
        }
    }

    /// Moves the clock to global simulated time `now_ms`. Time never goes
    /// backwards.
    pub fn advance_to(&mut self, now_ms: u64) {
        assert!(now_ms >= self.now_ms, "simulated time went backwards");
        self.now_ms = now_ms;
    }

    /// Global simulated time as this clock last saw it.
    pub fn sim_now_ms(&self) -> u64 {
        self.now_ms
    }

    /// Makes the wall clock jump by `delta_ms` (either way); the seam for
    /// clock faults.
    pub fn jump_wall_ms(&mut self, delta_ms: i64) {
        self.wall_jump_ms += delta_ms;
    }

    fn drifted_ms(&self) -> i64 {
        Self::drifted(self.now_ms, self.drift_parts_per_million)
    }

    fn drifted(sim_ms: u64, drift_ppm: i64) -> i64 {
        let now = sim_ms as i64;
        now + now * drift_ppm / 1_000_000
    }

    /// The first simulated time at which this clock's monotonic time reaches
    /// `monotonic_ms`: when a deadline the node set on its own clock comes.
    pub fn sim_ms_at_monotonic(&self, monotonic_ms: u64) -> u64 {
        let drift = self.drift_parts_per_million;
        let target = monotonic_ms as i128;
        let guess = target * 1_000_000 / (1_000_000 + drift as i128);
        let mut sim_ms = guess.max(0) as u64;
        while sim_ms > 0 && Self::drifted(sim_ms - 1, drift).max(0) as i128 >= target {
            sim_ms -= 1;
        }
        while (Self::drifted(sim_ms, drift).max(0) as i128) < target {
            sim_ms += 1;
        }
        sim_ms
    }
}

impl Clock for SimClock {
    fn monotonic_ms(&self) -> u64 {
        self.drifted_ms().max(0) as u64
    }

    fn wall_ms(&self) -> i64 {
        self.wall_origin_ms + self.drifted_ms() + self.wall_jump_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deadline on a drifting clock maps back to the first simulated
    /// time that reaches it, either way of drift.
    #[test]
    fn deadlines_map_back_through_drift() {
        for drift in [-1000, -592, 0, 333, 1000] {
            let mut clock = SimClock::new(0);
            clock.drift_parts_per_million = drift;
            for deadline in [0, 1, 999, 1000, 1001, 123_456, 3_600_000] {
                let at = clock.sim_ms_at_monotonic(deadline);
                clock.now_ms = at;
                assert!(clock.monotonic_ms() >= deadline, "drift {drift}: reached");
                if at > 0 {
                    clock.now_ms = at - 1;
                    assert!(clock.monotonic_ms() < deadline, "drift {drift}: first");
                }
            }
        }
    }

    /// Both clocks follow simulated time; a wall jump moves only wall time.
    #[test]
    fn clocks_follow_time_and_jumps() {
        let mut clock = SimClock::new(500);
        clock.advance_to(1_000);
        assert_eq!(clock.monotonic_ms(), 1_000);
        assert_eq!(clock.wall_ms(), WALL_EPOCH_MS + 1_500);
        clock.jump_wall_ms(-2_000);
        assert_eq!(clock.monotonic_ms(), 1_000);
        assert_eq!(clock.wall_ms(), WALL_EPOCH_MS - 500);
    }
}
