//! How long `recv` spins before it sleeps: a budget that adapts to how soon values have
//! been arriving. Consumer-only state (plain `Cell`s); nothing here is shared.
//!
//! Sleeping costs a `ppoll` and a `read` on the consumer side, a `write` on the producer
//! side, and the kernel's wake-up latency (a few microseconds). Spinning costs CPU for as
//! long as it lasts. So:
//!
//! * **Saturated** (the previous `recv` found a value at once): the producer is mid-burst.
//!   Use crossbeam's `Backoff` (spin, then `sched_yield`): yielding matters here, because
//!   with more runnable threads than CPUs a spinning consumer would keep the producer off
//!   the CPU.
//! * **Sparse** (the previous `recv` had to wait): spin with pause instructions only (no
//!   `sched_yield`, which on current kernels also delays the next wake-up), for at most
//!   `2 * average wait + 1 µs`, capped at [`MAX_SPIN`]. When values arrive further apart
//!   than the cap the budget is zero and the consumer goes straight to sleep, so an idle
//!   stream costs only the syscalls of the wake itself.
//! * **Spinning that keeps failing** ([`MISSES_TO_PAUSE`] spins in a row that still end in
//!   a sleep, as when producer and consumer share one CPU) turns spinning off for the next
//!   [`PAUSED_WAITS`] waits.

use std::cell::Cell;
use std::time::Duration;

/// The longest sparse-regime spin. About twice what a sleep and wake-up cost here.
pub(crate) const MAX_SPIN: Duration = Duration::from_micros(20);
/// Spins in a row that end in a sleep before spinning is paused.
const MISSES_TO_PAUSE: u8 = 8;
/// Waits for which spinning stays off after that.
const PAUSED_WAITS: u8 = 64;
/// The average wait assumed before any was measured.
const INITIAL_AVG_NS: u64 = 5_000;

/// The consumer's spin policy.
#[derive(Debug)]
pub(crate) struct SpinPolicy {
    /// Moving average (1/8 weight) of how long waits took, in nanoseconds.
    avg_wait_ns: Cell<u64>,
    /// Spins in a row that did not catch the value.
    misses: Cell<u8>,
    /// Waits left with spinning paused.
    paused: Cell<u8>,
    /// The last `recv` found a value without waiting.
    hot: Cell<bool>,
}

impl SpinPolicy {
    pub(crate) fn new() -> Self {
        SpinPolicy {
            avg_wait_ns: Cell::new(INITIAL_AVG_NS),
            misses: Cell::new(0),
            paused: Cell::new(0),
            hot: Cell::new(false),
        }
    }

    /// A `recv` found a value without waiting.
    #[inline]
    pub(crate) fn ready_at_once(&self) {
        self.hot.set(true);
    }

    /// A `recv` must wait: whether values were flowing a moment ago (saturated regime).
    /// Clears the flag.
    #[inline]
    pub(crate) fn was_saturated(&self) -> bool {
        self.hot.replace(false)
    }

    /// How long to spin before sleeping, in the sparse regime.
    pub(crate) fn budget(&self) -> Duration {
        if self.paused.get() > 0 {
            self.paused.set(self.paused.get() - 1);
            return Duration::ZERO;
        }
        let avg = self.avg_wait_ns.get();
        if avg > MAX_SPIN.as_nanos() as u64 {
            return Duration::ZERO;
        }
        Duration::from_nanos(2 * avg + 1_000).min(MAX_SPIN)
    }

    /// A sparse-regime wait ended after `waited`; `spun` says whether it spun and
    /// `caught` whether the spin found the value (no sleep).
    pub(crate) fn record(&self, waited: Duration, spun: bool, caught: bool) {
        let sample = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let avg = self.avg_wait_ns.get();
        self.avg_wait_ns
            .set(avg - avg / 8 + (sample / 8).min(u64::MAX / 16));
        if caught {
            self.misses.set(0);
        } else if spun {
            let misses = self.misses.get() + 1;
            if misses >= MISSES_TO_PAUSE {
                self.misses.set(0);
                self.paused.set(PAUSED_WAITS);
            } else {
                self.misses.set(misses);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_arrivals_stop_the_spin_and_quick_ones_restore_it() {
        let p = SpinPolicy::new();
        assert!(p.budget() > Duration::ZERO);
        for _ in 0..64 {
            p.record(Duration::from_micros(200), false, false);
        }
        assert_eq!(p.budget(), Duration::ZERO, "idle stream: sleep at once");
        for _ in 0..64 {
            p.record(Duration::from_micros(2), true, true);
        }
        let b = p.budget();
        assert!(b > Duration::from_micros(2) && b <= MAX_SPIN, "{b:?}");
    }

    #[test]
    fn failing_spins_pause_spinning() {
        let p = SpinPolicy::new();
        for _ in 0..MISSES_TO_PAUSE {
            p.record(Duration::from_micros(3), true, false);
        }
        for _ in 0..PAUSED_WAITS {
            assert_eq!(p.budget(), Duration::ZERO);
        }
        assert!(p.budget() > Duration::ZERO);
    }

    #[test]
    fn saturation_flag_is_consumed() {
        let p = SpinPolicy::new();
        assert!(!p.was_saturated());
        p.ready_at_once();
        assert!(p.was_saturated());
        assert!(!p.was_saturated());
    }
}
