//! How long `recv` spins before it sleeps: a budget that adapts to how soon values have
//! been arriving. Consumer-only state (plain `Cell`s); nothing here is shared.
//!
//! Sleeping costs a system call on each side (a futex wait and wake; with an fd, a
//! `ppoll` and a `read` against a `write`), and the kernel's wake-up latency: a few microseconds on a busy machine, but tens
//! of microseconds when the consumer's CPU has gone idle (about 50 us on the 2-vCPU VM the
//! benchmarks run on, where an idle vCPU is halted). Spinning costs CPU for as long as it
//! lasts. So:
//!
//! * **Saturated** (the previous `recv` found a value at once): the producer is mid-burst
//!   and the consumer has just caught up with it. Looking at the ring at once would make
//!   the two work in lockstep on the same slot: the consumer polls the stamp of the slot
//!   the producer is about to write, so every message costs a cache-line round trip
//!   between the cores (this capped `spsc` at about a quarter of a bare two-thread ring).
//!   So first wait [`BATCH_PAUSES`] pause instructions without touching the ring (about
//!   2 us on the benchmark machine, where a pause takes 15 ns), letting a batch build up
//!   that the consumer then takes at cache speed; then crossbeam's `Backoff` (spin, then
//!   `sched_yield`): yielding matters here, because with more runnable threads than CPUs
//!   a spinning consumer would keep the producer off the CPU.
//! * **Sparse** (the previous `recv` had to wait): spin with pause instructions only (no
//!   `sched_yield`, which on current kernels also delays the next wake-up), for
//!   `2 * average wait + 1 us`, at most [`MAX_SPIN`].
//! * **Medium** (the average wait is between [`MAX_SPIN`] and [`LONG_SPIN`]): waits this
//!   long may be made of wake-up latency itself. Two threads that ping-pong through two
//!   channels settle either with both spinning (each reply caught within a microsecond) or
//!   with both asleep, each waiting out the other's wake-up: every wait is then one
//!   wake-up latency long, too long for a [`MAX_SPIN`] spin to catch, and nothing would
//!   ever bring them back. So spin up to `2 * average wait + 1 us`, at most
//!   [`LONG_SPIN`]: one side outlasts the other's wake-up, catches its reply, answers at
//!   once, and the other side, spinning too, catches that: both are back to short waits.
//!   A spin that catches its value only after more than [`MAX_SPIN`] counts as a miss
//!   (below), so a steady stream spaced 20-100 us apart spins on a few waits in ten, not
//!   on all of them.
//! * **Idle** (average wait above [`LONG_SPIN`]): no spin; the consumer sleeps at once
//!   and an idle stream costs only the syscalls of the wake itself. It does not even read
//!   the clock, except on one wait in [`IDLE_SAMPLE`] ([`SpinPolicy::start`]): the two
//!   clock reads that time a wait cost a measurable part of an idle message (the clock's
//!   lines are cold after a sleep), and one sample in eight still moves the average, so a
//!   stream that speeds up leaves the idle regime after about 8 x 8 waits instead of 8.
//! * **Spinning that keeps failing** ([`MISSES_TO_PAUSE`] spins in a row that end in a
//!   sleep or run past [`MAX_SPIN`], as when producer and consumer share one CPU) turns
//!   spinning off for the next [`PAUSED_WAITS`] waits.
//!
//! Under loom the policy never spins (no budget, never saturated): its decisions depend on
//! the clock, which loom does not model, and a spin is only a faster path to the same
//! sleep, which the models do cover.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Pause instructions the consumer waits, without looking at the ring, after catching up
/// with a producer mid-burst (saturated regime).
pub(crate) const BATCH_PAUSES: u32 = 128;
/// The longest sparse-regime spin: about what a sleep and a wake-up cost on a busy machine.
pub(crate) const MAX_SPIN: Duration = Duration::from_micros(20);
/// The longest medium-regime spin: about twice a wake-up of an idle (halted) vCPU.
pub(crate) const LONG_SPIN: Duration = Duration::from_micros(100);
/// In the idle regime, one wait in this many is timed (the others skip the clock).
const IDLE_SAMPLE: u8 = 8;
/// Spins in a row that end in a sleep before spinning is paused.
const MISSES_TO_PAUSE: u8 = 8;
/// Waits for which spinning stays off after that.
const PAUSED_WAITS: u8 = 64;
/// The average wait assumed before any was measured: idle (twice [`LONG_SPIN`]), so a new
/// receiver spins only once it has seen values come quickly; a stream that never does
/// costs no spin at all. Two threads that start ping-ponging reach the medium regime
/// after about eight waits and spin from then on.
const INITIAL_AVG_NS: u64 = 2 * LONG_SPIN.as_nanos() as u64;

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
    /// Idle-regime waits since the last timed one.
    untimed: Cell<u8>,
}

impl SpinPolicy {
    pub(crate) fn new() -> Self {
        SpinPolicy {
            avg_wait_ns: Cell::new(INITIAL_AVG_NS),
            misses: Cell::new(0),
            paused: Cell::new(0),
            hot: Cell::new(false),
            untimed: Cell::new(0),
        }
    }

    /// A `recv` must wait: when it starts, if this wait is to be timed and may spin; `None`
    /// in the idle regime (not saturated, average wait above [`LONG_SPIN`]) except on one
    /// wait in [`IDLE_SAMPLE`]. A `None` wait sleeps at once and is not recorded.
    #[inline]
    pub(crate) fn start(&self) -> Option<Instant> {
        if !self.hot.get() && self.avg_wait_ns.get() > LONG_SPIN.as_nanos() as u64 {
            let n = self.untimed.get() + 1;
            if n < IDLE_SAMPLE {
                self.untimed.set(n);
                return None;
            }
            self.untimed.set(0);
        }
        Some(Instant::now())
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
        !cfg!(sigring_loom) && self.hot.replace(false)
    }

    /// How long to spin before sleeping, in the sparse, medium and idle regimes.
    pub(crate) fn budget(&self) -> Duration {
        if cfg!(sigring_loom) {
            return Duration::ZERO;
        }
        if self.paused.get() > 0 {
            self.paused.set(self.paused.get() - 1);
            return Duration::ZERO;
        }
        let avg = self.avg_wait_ns.get();
        let cap = if avg <= MAX_SPIN.as_nanos() as u64 {
            MAX_SPIN
        } else if avg <= LONG_SPIN.as_nanos() as u64 {
            LONG_SPIN
        } else {
            return Duration::ZERO;
        };
        Duration::from_nanos(2 * avg + 1_000).min(cap)
    }

    /// A non-saturated wait ended after `waited`; `spun` says whether it spun and
    /// `caught` whether the spin found the value (no sleep).
    pub(crate) fn record(&self, waited: Duration, spun: bool, caught: bool) {
        let sample = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        let avg = self.avg_wait_ns.get();
        self.avg_wait_ns
            .set(avg - avg / 8 + (sample / 8).min(u64::MAX / 16));
        if caught && waited <= MAX_SPIN {
            self.misses.set(0);
        } else if spun {
            // Slept anyway, or caught only after a long spin: a miss.
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
        assert_eq!(p.budget(), Duration::ZERO, "a new receiver starts idle");
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
    fn waits_of_one_wake_up_latency_get_a_spin_that_outlasts_it() {
        // Both sides of a ping-pong asleep: every wait is one idle-vCPU wake-up (~50 us).
        let p = SpinPolicy::new();
        for _ in 0..64 {
            p.record(Duration::from_micros(50), false, false);
        }
        let b = p.budget();
        assert!(b > Duration::from_micros(50) && b <= LONG_SPIN, "{b:?}");
    }

    #[test]
    fn late_catches_count_as_misses() {
        // A steady stream 60 us apart: each long spin catches, late. Spinning pauses.
        let p = SpinPolicy::new();
        for _ in 0..64 {
            p.record(Duration::from_micros(60), false, false);
        }
        for _ in 0..MISSES_TO_PAUSE {
            assert!(p.budget() > Duration::ZERO);
            p.record(Duration::from_micros(60), true, true);
        }
        for _ in 0..PAUSED_WAITS {
            assert_eq!(p.budget(), Duration::ZERO);
        }
    }

    #[test]
    fn idle_waits_are_timed_one_in_eight_and_a_faster_stream_leaves_idle() {
        let p = SpinPolicy::new();
        // A new receiver is idle: one wait in IDLE_SAMPLE reads the clock.
        let timed = (0..8 * IDLE_SAMPLE as usize)
            .filter(|_| p.start().is_some())
            .count();
        assert_eq!(timed, 8);
        // Saturated: always timed.
        p.ready_at_once();
        assert!(p.start().is_some());
        assert!(p.was_saturated());
        // Values now 5 us apart: only the timed waits are recorded, and they are enough.
        let mut waits = 0;
        while p.budget() == Duration::ZERO {
            if p.start().is_some() {
                p.record(Duration::from_micros(5), false, false);
            }
            waits += 1;
            assert!(waits <= 8 * 64, "still idle after {waits} waits");
        }
        assert!(
            p.start().is_some(),
            "out of the idle regime: every wait is timed"
        );
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
