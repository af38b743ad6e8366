//! The two ways a record can be lost, each counted once, where it happens.
//!
//! [`Logger::log`](super::Logger) is the only place a record can be lost: its `try_send`
//! either queues the record or hands it back with the reason, and [`Losses::count`] files
//! it under that reason.
//!
//! | public name | what it counts | who reports it |
//! |---|---|---|
//! | `dropped` ([`Logger::dropped`](super::Logger::dropped), [`LogGuard::dropped`](super::LogGuard::dropped)) | records lost because the channel was full | the writer, once each, in `sigring: N records dropped` lines |
//! | `discarded` ([`Logger::discarded`](super::Logger::discarded), [`LogGuard::discarded`](super::LogGuard::discarded)) | records lost because the writer had stopped: logged after the [`LogGuard`](super::LogGuard) was dropped, or after the writer's `io::Write` panicked | nobody: no writer is left to write a line; only the counter |
//!
//! So `written + dropped + discarded == logged` (records the level filter let through).
//!
//! The channel's own count ([`Receiver::full_rejections`](crate::Receiver::full_rejections))
//! would count the same `Full`s (the flusher's marker goes with a blocking `send`, which is
//! not counted), but the writer's last loss report comes after its receiver is gone, so
//! the sink keeps its own count, bumped at the one place a record is lost.
//!
//! # Orderings
//!
//! Both counters are `Relaxed`. They are statistics: nothing else is published through
//! them. The one guarantee that involves them, that a flush reports the losses that
//! happened before it, needs no more: a loss counted before a flush call (in
//! happens-before order) precedes the flusher's marker `try_send`, which the channel's
//! release/acquire hand-off carries to the writer, so the writer's load when it answers
//! the marker sees the count at least that high.

use crate::sync::{AtomicU64, Ordering};
use crate::TrySendError;

/// The loss counters (see the module docs).
#[derive(Debug)]
pub(super) struct Losses {
    /// Records lost because the channel was full. Only grows.
    dropped: AtomicU64,
    /// Records lost because the writer had stopped. Only grows.
    discarded: AtomicU64,
}

impl Losses {
    pub(super) fn new() -> Self {
        Losses {
            dropped: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
        }
    }

    /// Counts the record a failed `try_send` gave back, under the failure's reason.
    /// Async-signal-safe: one relaxed atomic add.
    #[inline]
    pub(super) fn count<T>(&self, failure: &TrySendError<T>) {
        let counter = match failure {
            TrySendError::Full(_) => &self.dropped,
            TrySendError::Disconnected(_) => &self.discarded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Records lost because the channel was full. Async-signal-safe.
    #[inline]
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records lost because the writer had stopped. Async-signal-safe.
    #[inline]
    pub(super) fn discarded(&self) -> u64 {
        self.discarded.load(Ordering::Relaxed)
    }
}
