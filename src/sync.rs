//! The one place that imports atomics, `Arc`, `UnsafeCell`, locks and thread yields, and
//! where every difference between the shipped build and the loom models lives.
//!
//! Under the crate-specific `cfg(sigring_loom)` everything here comes from
//! [loom](https://docs.rs/loom), so the loom models in `loom-tests/` explore every
//! interleaving of the real ring, wake and send-wait protocols. A plain `cfg(loom)` is not
//! used: it would also flip every other crate in the dependency graph that checks it.
//!
//! No other module may import `std::sync::atomic`, `std::sync::{Mutex, Condvar}` or
//! `std::cell::UnsafeCell` directly, and no module outside this one and the backend
//! selection in `waker` carries a `cfg(sigring_loom)`.
//!
//! What differs under loom, and why that is sound:
//!
//! * [`spin_loop`] yields to loom's scheduler instead of executing a `pause`: a spin is a
//!   wait for another thread, which loom must be told about, or it would explore a loop
//!   that never ends.
//! * [`BUSY_SPINS`] is 1 instead of 64: each look at the ring is one more branch point for
//!   loom; one look keeps the path (spin, then give up and yield) while keeping the state
//!   space small.
//! * [`passed`] never reports a deadline as passed: loom has no clock, and its modeled fd
//!   already treats a timed wait as expiring at once (`waker/model.rs`).
//! * [`Backoff`] is complete at once (see there).
//! * [`Barrier`] is a pair of `SeqCst` fences, which loom models exactly, where the shipped
//!   build may use the kernel's `membarrier(2)` (see [`Barrier`]).

#[cfg(not(sigring_loom))]
pub(crate) use std::sync::{
    atomic::{
        AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    },
    Arc, Condvar, Mutex, MutexGuard,
};

#[cfg(sigring_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard, Notify,
};

use std::time::Instant;

/// How often the consumer re-looks at a claimed, unpublished slot before giving up the
/// processor (the claim-to-publish window is a handful of instructions).
/// The shared channel (`shared`): how long a lane's next slot may stay claimed but
/// unpublished before the consumer asks whether the process that claimed it still exists
/// (and how often after that). Zero under loom, where time does not pass: the model checks
/// at once.
#[cfg(not(sigring_loom))]
pub(crate) const STALL_GRACE: std::time::Duration = std::time::Duration::from_millis(10);
#[cfg(sigring_loom)]
pub(crate) const STALL_GRACE: std::time::Duration = std::time::Duration::ZERO;

/// The shared channel: the longest `recv` sleeps on the fd before it looks at the mapping
/// again, which bounds the delay a scribbled wake flag can cause. None under loom (a model
/// never sleeps on a timer).
#[cfg(not(sigring_loom))]
pub(crate) const WATCHDOG: Option<std::time::Duration> =
    Some(std::time::Duration::from_millis(100));
#[cfg(sigring_loom)]
pub(crate) const WATCHDOG: Option<std::time::Duration> = None;

/// The shared channel: how often (at most) the consumer, finding the channel empty, frees
/// the lanes of processes that have exited. Every time under loom (a decision taken on the
/// clock would make the model's executions differ).
#[cfg(not(sigring_loom))]
pub(crate) const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
#[cfg(sigring_loom)]
pub(crate) const SWEEP_EVERY: std::time::Duration = std::time::Duration::ZERO;

#[cfg(not(sigring_loom))]
pub(crate) const BUSY_SPINS: u32 = 64;
/// Under loom: one look (see the module docs).
#[cfg(sigring_loom)]
pub(crate) const BUSY_SPINS: u32 = 1;

/// How often a `send` that found the channel full looks again, one pause apart, before
/// it registers to sleep: about a microsecond, less than a value takes a consumer that
/// does real work (see `wait.rs`).
#[cfg(not(sigring_loom))]
pub(crate) const SEND_SPINS: u32 = 16;
/// Under loom: no look before registering (like [`Backoff`], a shorter path to the sleep
/// the models cover).
#[cfg(sigring_loom)]
pub(crate) const SEND_SPINS: u32 = 0;

/// One step of a spin that waits for another thread. Never called on a producer path.
#[inline(always)]
pub(crate) fn spin_loop() {
    #[cfg(not(sigring_loom))]
    std::hint::spin_loop();
    #[cfg(sigring_loom)]
    loom::thread::yield_now();
}

/// Gives up the processor while the consumer waits for a producer that has claimed a slot
/// but not yet published it. Never called on a producer path.
pub(crate) fn yield_now() {
    #[cfg(not(sigring_loom))]
    std::thread::yield_now();
    #[cfg(sigring_loom)]
    loom::thread::yield_now();
}

/// Exponential backoff for ordinary threads (never a handler path): crossbeam's, which
/// spins and then yields. Under loom it is complete at once: a bounded spin is only a
/// faster path to the sleep that the models do cover, and every look would multiply the
/// interleavings.
#[cfg(not(sigring_loom))]
pub(crate) use crossbeam_utils::Backoff;

/// Under loom: a backoff that is complete at once (see above).
#[cfg(sigring_loom)]
#[derive(Debug, Default)]
pub(crate) struct Backoff;

#[cfg(sigring_loom)]
impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff
    }

    pub(crate) fn is_completed(&self) -> bool {
        true
    }

    pub(crate) fn snooze(&self) {
        loom::thread::yield_now();
    }
}

/// Whether `deadline` has passed. Under loom, never (see the module docs).
pub(crate) fn passed(deadline: Option<Instant>) -> bool {
    #[cfg(not(sigring_loom))]
    {
        deadline.is_some_and(|d| Instant::now() >= d)
    }
    #[cfg(sigring_loom)]
    {
        let _ = deadline;
        false
    }
}

/// `UnsafeCell` with loom's closure API, so the ring reads the same under std and loom.
#[cfg(not(sigring_loom))]
#[derive(Debug)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(sigring_loom))]
impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        Self(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a raw pointer through which the contents may be written.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(sigring_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// An asymmetric store-load barrier: a cheap [`light`](Barrier::light) side that runs
/// often (the consumer, after every value it takes) and an expensive
/// [`heavy`](Barrier::heavy) side that runs rarely (a sender about to sleep).
///
/// The pattern it serves is "store, then load another location" on both sides (the
/// consumer frees a slot, then looks whether a sender waits; a sender registers, then looks
/// whether a slot is free): without a full barrier on *both* sides each may miss the other's
/// store, and a sender would sleep beside a free slot. A `SeqCst` fence on the consumer
/// would cost every received value an `mfence`. Instead, on Linux the heavy side calls
/// `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, which runs a full barrier on every CPU
/// currently running a thread of this process, so the light side needs only a compiler
/// barrier: either the consumer's store was already visible when the barrier ran (the
/// sender's later load sees it), or the consumer's load comes after that barrier and sees
/// the sender's registration, which came before it.
///
/// Where `membarrier` is missing, refused (a seccomp filter) or under miri, both sides are
/// `SeqCst` fences. The choice is made once per process, by [`Barrier::init`], before any
/// channel's consumer runs, and never changes afterwards (a light side that has seen
/// "expedited" relies on every later heavy side making the system call).
#[derive(Debug, Default)]
pub(crate) struct Barrier;

/// 0: not decided yet; 1: `membarrier` registered; 2: fences on both sides.
#[cfg(not(sigring_loom))]
static BARRIER_MODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

impl Barrier {
    /// Decides the mode (once per process). Called when a channel gets its receiver, on an
    /// ordinary thread; at most two system calls, once.
    pub(crate) fn init() {
        #[cfg(not(sigring_loom))]
        if BARRIER_MODE.load(Ordering::Acquire) == 0 {
            let mode = if membarrier::register() { 1 } else { 2 };
            // Only one outcome is possible per process; racing initialisers agree.
            let _ = BARRIER_MODE.compare_exchange(0, mode, Ordering::AcqRel, Ordering::Acquire);
        }
    }

    /// The consumer's side: after its store, before its load. A compiler barrier when the
    /// heavy side uses `membarrier`, a `SeqCst` fence otherwise. Never a system call.
    #[inline(always)]
    pub(crate) fn light() {
        #[cfg(not(sigring_loom))]
        {
            if BARRIER_MODE.load(Ordering::Relaxed) == 1 {
                std::sync::atomic::compiler_fence(Ordering::SeqCst);
            } else {
                std::sync::atomic::fence(Ordering::SeqCst);
            }
        }
        #[cfg(sigring_loom)]
        loom::sync::atomic::fence(Ordering::SeqCst);
    }

    /// The waiting side: after its store, before its load. May make a system call. Runs
    /// [`Barrier::init`] first, so the mode it acts on is the final one.
    pub(crate) fn heavy() {
        #[cfg(not(sigring_loom))]
        {
            Barrier::init();
            std::sync::atomic::fence(Ordering::SeqCst);
            if BARRIER_MODE.load(Ordering::Acquire) == 1 {
                membarrier::expedited();
            }
        }
        #[cfg(sigring_loom)]
        loom::sync::atomic::fence(Ordering::SeqCst);
    }
}

/// The `membarrier(2)` calls (Linux 4.14 and later).
#[cfg(all(
    not(sigring_loom),
    not(miri),
    any(target_os = "linux", target_os = "android")
))]
mod membarrier {
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    /// Registers this process for expedited private barriers; whether that worked.
    pub(super) fn register() -> bool {
        // SAFETY: membarrier takes two integer arguments and touches no memory of ours.
        unsafe { libc::syscall(libc::SYS_membarrier, CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0 }
    }

    /// A full barrier on every CPU running a thread of this process.
    pub(super) fn expedited() {
        // SAFETY: as above.
        let rc = unsafe { libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0) };
        if rc != 0 {
            // A forked child inherits the mode but not the kernel's registration: register
            // again (it succeeded in the parent, so it succeeds here) and repeat.
            register();
            // SAFETY: as above.
            unsafe { libc::syscall(libc::SYS_membarrier, CMD_PRIVATE_EXPEDITED, 0) };
        }
    }
}

/// No `membarrier`: both sides fence.
#[cfg(all(
    not(sigring_loom),
    any(miri, not(any(target_os = "linux", target_os = "android")))
))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn expedited() {}
}

/// Declares a `const fn` in the shipped build and a plain `fn` under loom, whose atomics
/// have no `const` constructors. The body is written once.
macro_rules! const_fn {
    ($(#[$meta:meta])* $vis:vis fn $($rest:tt)*) => {
        #[cfg(not(sigring_loom))]
        $(#[$meta])* $vis const fn $($rest)*
        #[cfg(sigring_loom)]
        $(#[$meta])* $vis fn $($rest)*
    };
}
pub(crate) use const_fn;
