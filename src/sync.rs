//! The one place that imports atomics, `Arc`, `UnsafeCell` and thread yields.
//!
//! Under the crate-specific `cfg(sigring_loom)` everything here comes from
//! [loom](https://docs.rs/loom), so the loom models in `loom-tests/` explore every
//! interleaving of the real ring and wake protocol. A plain `cfg(loom)` is not used: it
//! would also flip every other crate in the dependency graph that checks it.
//!
//! No other module may import `std::sync::atomic` or `std::cell::UnsafeCell` directly.

#[cfg(not(sigring_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc,
};

#[cfg(sigring_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering},
    Arc, Notify,
};

/// Gives up the processor while the consumer waits for a producer that has claimed a slot
/// but not yet published it. Never called on a producer path.
#[cfg(not(sigring_loom))]
pub(crate) fn yield_now() {
    std::thread::yield_now();
}

/// Under loom a yield tells the scheduler that this thread waits for another one.
#[cfg(sigring_loom)]
pub(crate) fn yield_now() {
    loom::thread::yield_now();
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
