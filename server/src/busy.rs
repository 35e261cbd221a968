//! SIGTERM while a script holds the event loop.
//!
//! A Lua script runs to its end before the loop reads anything again, so
//! the loop's graceful shutdown cannot start while one runs. Core tells
//! the driver when a script starts and ends (`Host::script_started`); this
//! keeps that in atomics, and a SIGTERM action, beside the loop's own,
//! ends the process at once when the running script has been running for
//! longer than `busy-reply-threshold`, as `SHUTDOWN NOSAVE` would: nothing
//! the script did has been committed yet, so the AOF holds every write
//! before it, as it would after a crash. A SIGTERM during a short script
//! is left to the loop, which shuts down gracefully once it returns.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic milliseconds at which the running script started, plus one
/// (0: no script runs).
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
/// How long a script runs before it counts as busy.
static BUSY_AFTER_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// CLOCK_MONOTONIC in milliseconds; async-signal-safe.
fn monotonic_ms() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes only into `now`, and may be called
    // from a signal handler.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    now.tv_sec as u64 * 1000 + now.tv_nsec as u64 / 1_000_000
}

/// A script started; it is busy after `busy_after_ms`.
pub fn script_started(busy_after_ms: u64) {
    BUSY_AFTER_MS.store(busy_after_ms, Ordering::SeqCst);
    STARTED_MS.store(monotonic_ms() + 1, Ordering::SeqCst);
}

/// The running script returned.
pub fn script_finished() {
    STARTED_MS.store(0, Ordering::SeqCst);
}

/// Installs the SIGTERM action that exits while a script is busy.
pub fn install() -> io::Result<()> {
    let action = || {
        let started = STARTED_MS.load(Ordering::SeqCst);
        if started == 0 {
            return;
        }
        let ran_ms = monotonic_ms().saturating_sub(started - 1);
        if ran_ms < BUSY_AFTER_MS.load(Ordering::SeqCst) {
            return;
        }
        let message = b"Received SIGTERM while a busy script runs: exiting now, without saving.\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe; nothing
        // else runs here.
        unsafe {
            libc::write(2, message.as_ptr().cast(), message.len());
            libc::_exit(1);
        }
    };
    // SAFETY: the action only reads atomics and calls async-signal-safe
    // functions.
    unsafe { signal_hook::low_level::register(libc::SIGTERM, action) }.map(|_| ())
}
