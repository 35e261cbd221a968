//! The access field every key carries (Redis's 24-bit `robj->lru`), which
//! approximated LRU and LFU eviction read.
//!
//! Under a policy that is not LFU it holds the LRU clock of the key's last
//! access: seconds, modulo 2^24 (Redis's `LRU_CLOCK`, a resolution of one
//! second, wrapping after 194 days). Under an LFU policy it holds, in the
//! same 24 bits, the minutes (modulo 2^16) of the counter's last decrement
//! and an 8-bit logarithmic access counter that starts at
//! [`LFU_INIT_VAL`], grows with probability `1 / ((counter - 5) *
//! lfu-log-factor + 1)` on each access and loses one every
//! `lfu-decay-time` minutes (evict.c: `LFULogIncr`, `LFUDecrAndReturn`).
//!
//! Time is the node's monotonic clock, read once per command through
//! `Env` (Redis reads the wall clock; a wall-clock jump must not make every
//! key look idle or fresh). The LFU coin is a draw from `Env` too, taken
//! once per command and only under an LFU policy, and stretched over the
//! command's accesses.

/// The largest LRU clock value (Redis's LRU_CLOCK_MAX).
pub const LRU_CLOCK_MAX: u32 = (1 << 24) - 1;
/// Milliseconds per LRU clock tick (Redis's LRU_CLOCK_RESOLUTION).
pub const LRU_CLOCK_RESOLUTION_MS: u64 = 1000;
/// The counter a new key starts with under LFU, so that it is not evicted
/// before it had a chance to be accessed.
pub const LFU_INIT_VAL: u32 = 5;
/// The LFU counter's ceiling.
const LFU_COUNTER_MAX: u32 = 255;

/// What every access of the running command needs: the clock, the policy's
/// kind and its LFU parameters. Shared by the databases of a keyspace and
/// set by the node before each command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClock {
    /// Monotonic milliseconds of the running command.
    pub now_ms: u64,
    /// The field counts frequency (an LFU policy) rather than time.
    pub lfu: bool,
    pub lfu_log_factor: u32,
    pub lfu_decay_time_min: u32,
    /// State of the LFU coin (splitmix64), seeded from `Env` per command.
    pub coin: u64,
}

impl Default for AccessClock {
    fn default() -> Self {
        AccessClock {
            now_ms: 0,
            lfu: false,
            lfu_log_factor: 10,
            lfu_decay_time_min: 1,
            coin: 0,
        }
    }
}

impl AccessClock {
    /// The LRU clock now: seconds modulo 2^24.
    pub fn lru_clock(&self) -> u32 {
        ((self.now_ms / LRU_CLOCK_RESOLUTION_MS) as u32) & LRU_CLOCK_MAX
    }

    /// Minutes now, modulo 2^16 (Redis's `LFU_GetTimeInMinutes`).
    fn minutes(&self) -> u32 {
        ((self.now_ms / 1000 / 60) & 0xffff) as u32
    }

    /// The field of a key created now.
    pub fn new_field(&self) -> u32 {
        if self.lfu {
            (self.minutes() << 8) | LFU_INIT_VAL
        } else {
            self.lru_clock()
        }
    }

    /// An LFU field with `counter`, decremented last now.
    pub fn lfu_field(&self, counter: u32) -> u32 {
        (self.minutes() << 8) | counter.min(LFU_COUNTER_MAX)
    }

    /// An LRU field for a key last accessed `idle_s` seconds ago (RESTORE
    /// IDLETIME). The clock wraps, so this is arithmetic modulo the clock's
    /// range, in step with [`AccessClock::idle_ms`].
    pub fn lru_field_idle(&self, idle_s: u64) -> u32 {
        let idle = (idle_s % u64::from(LRU_CLOCK_MAX)) as u32;
        let now = self.lru_clock();
        if now >= idle {
            now - idle
        } else {
            now + (LRU_CLOCK_MAX - idle)
        }
    }

    /// The field of a key accessed now (Redis's `lookupKey`: the LRU clock,
    /// or `updateLFU`: decay, then a logarithmic increment).
    pub fn touched(&mut self, field: u32) -> u32 {
        if !self.lfu {
            return self.lru_clock();
        }
        let counter = self.lfu_counter(field);
        let counter = self.log_increment(counter);
        (self.minutes() << 8) | counter
    }

    /// Milliseconds since the access an LRU field records (Redis's
    /// `estimateObjectIdleTime`, whose clock wraps).
    pub fn idle_ms(&self, field: u32) -> u64 {
        let now = self.lru_clock();
        let ticks = if now >= field {
            now - field
        } else {
            now + (LRU_CLOCK_MAX - field)
        };
        u64::from(ticks) * LRU_CLOCK_RESOLUTION_MS
    }

    /// The LFU counter of `field` after the decay its idle minutes call
    /// for (Redis's `LFUDecrAndReturn`; the field itself is not changed).
    pub fn lfu_counter(&self, field: u32) -> u32 {
        let last_decrement = field >> 8;
        let counter = field & 0xff;
        if self.lfu_decay_time_min == 0 {
            return counter;
        }
        let now = self.minutes();
        let elapsed = if now >= last_decrement {
            now - last_decrement
        } else {
            65535 - last_decrement + now
        };
        counter.saturating_sub(elapsed / self.lfu_decay_time_min)
    }

    /// Redis's `LFULogIncr`: one more access, counted with a probability
    /// that falls as the counter grows.
    fn log_increment(&mut self, counter: u32) -> u32 {
        if counter >= LFU_COUNTER_MAX {
            return LFU_COUNTER_MAX;
        }
        let coin = (self.next_coin() >> 11) as f64 / (1u64 << 53) as f64;
        let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
        let probability = 1.0 / (base * f64::from(self.lfu_log_factor) + 1.0);
        if coin < probability {
            counter + 1
        } else {
            counter
        }
    }

    fn next_coin(&mut self) -> u64 {
        self.coin = self.coin.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.coin;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // An LRU field records the second of the access; idle time wraps with
    // the 24-bit clock.
    #[test]
    fn lru_idle_time_counts_whole_seconds_and_wraps() {
        let mut clock = AccessClock {
            now_ms: 10_500,
            ..AccessClock::default()
        };
        let field = clock.touched(0);
        assert_eq!(field, 10);
        clock.now_ms = 13_900;
        assert_eq!(clock.idle_ms(field), 3000);
        let near_wrap = LRU_CLOCK_MAX - 1;
        clock.now_ms = 2000;
        assert_eq!(clock.idle_ms(near_wrap), 3000, "the clock wrapped");
    }

    // The access field and the estimate's charge cost a key 8 bytes, the
    // room of one pointer, over its value.
    #[test]
    fn the_fields_cost_eight_bytes_a_key() {
        use crate::db::{Slot, Value};
        assert_eq!(
            std::mem::size_of::<Slot>(),
            std::mem::size_of::<Value>() + 8
        );
    }

    // A new key starts at LFU_INIT_VAL; accesses raise the counter ever
    // more slowly; idle minutes lower it by one per lfu-decay-time.
    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let mut clock = AccessClock {
            lfu: true,
            now_ms: 60_000,
            coin: 7,
            ..AccessClock::default()
        };
        let mut field = clock.new_field();
        assert_eq!(clock.lfu_counter(field), LFU_INIT_VAL);
        for _ in 0..100 {
            field = clock.touched(field);
        }
        let after_100 = clock.lfu_counter(field);
        assert!(
            (LFU_INIT_VAL + 2..30).contains(&after_100),
            "100 hits at factor 10 give a small count, got {after_100}"
        );
        for _ in 0..100_000 {
            field = clock.touched(field);
        }
        assert!(clock.lfu_counter(field) > after_100);
        assert!(clock.lfu_counter(field) <= 255);
        let counter = clock.lfu_counter(field);
        clock.now_ms += 3 * 60_000;
        assert_eq!(clock.lfu_counter(field), counter - 3, "three idle minutes");
    }
}
