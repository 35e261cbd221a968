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
        let now = self.now_ms as i64;
        now + now * self.drift_parts_per_million / 1_000_000
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
