//! [`Logger`]: the `log::Log` implementation, whose `log()` is the handler-safe path.
//!
//! `log()` is: a level comparison, an `errno` guard, [`Entry::capture`] (clock, thread id,
//! formatting into inline buffers), one `try_send`, and on failure one relaxed counter
//! add ([`Losses::count`](super::losses::Losses::count)). Everything else the sink does
//! happens on the writer thread or in ordinary code.

use std::fmt;

use ::log::{LevelFilter, Log, Metadata, Record};

use super::record::{Entry, Msg};
use super::Shared;
use crate::sync::Arc;
use crate::sys::ErrnoGuard;
use crate::Sender;

/// The `log::Log` implementation. [`log`](Logger::log) is async-signal-safe (see the
/// [module docs](crate::log)); cloning shares the same channel and writer.
///
/// # Examples
///
/// Installed globally, the `log` macros can be used right inside a signal handler:
///
/// ```
/// extern "C" fn on_sigusr1(signo: libc::c_int) {
///     // Formats into a stack buffer and try_sends it: no lock, no allocation.
///     log::warn!("caught signal {signo}");
/// }
///
/// let guard = sigring::log::Builder::new().writer(std::io::sink()).init()?;
/// // SAFETY (of the example): a zeroed sigaction is valid; `on_sigusr1` has the
/// // handler signature; `raise` runs the handler before it returns.
/// unsafe {
///     let mut sa: libc::sigaction = std::mem::zeroed();
///     sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
///     libc::sigemptyset(&mut sa.sa_mask);
///     assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
///     libc::raise(libc::SIGUSR1);
/// }
/// guard.flush()?; // the handler's record is written
/// assert_eq!(guard.dropped(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Logger {
    tx: Sender<Msg>,
    level: LevelFilter,
    /// Whether to call `gettid` for each record.
    thread_ids: bool,
    shared: Arc<Shared>,
}

impl Logger {
    pub(super) fn new(
        tx: Sender<Msg>,
        level: LevelFilter,
        thread_ids: bool,
        shared: Arc<Shared>,
    ) -> Self {
        Logger {
            tx,
            level,
            thread_ids,
            shared,
        }
    }

    /// Records lost because the channel was full (the writer had fallen `capacity`
    /// records behind). The writer reports them, once each, in `sigring: N records
    /// dropped` lines. Async-signal-safe.
    pub fn dropped(&self) -> u64 {
        self.shared.losses.dropped()
    }

    /// Records lost because the writer had already stopped: logged after the
    /// [`LogGuard`](super::LogGuard) was dropped, or after the writer's `io::Write`
    /// panicked. No line reports them (no writer is left). Async-signal-safe.
    pub fn discarded(&self) -> u64 {
        self.shared.losses.discarded()
    }

    /// The most verbose level this logger records. Async-signal-safe.
    pub fn level(&self) -> LevelFilter {
        self.level
    }
}

impl Clone for Logger {
    fn clone(&self) -> Self {
        Logger {
            tx: self.tx.clone(),
            level: self.level,
            thread_ids: self.thread_ids,
            shared: self.shared.clone(),
        }
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .field("dropped", &self.dropped())
            .field("discarded", &self.discarded())
            .finish_non_exhaustive()
    }
}

impl Log for Logger {
    /// Whether `metadata`'s level is recorded. Async-signal-safe: compares with a field.
    #[inline]
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    /// Formats `record` into an inline buffer and sends it to the writer; never blocks.
    ///
    /// Async-signal-safe and reentrant as long as the record's arguments format
    /// async-signal-safely (see the [module docs](crate::log)). A record that cannot be
    /// queued is counted: [`Logger::dropped`] if the channel is full,
    /// [`Logger::discarded`] if the writer has stopped.
    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _errno = ErrnoGuard::new();
        let entry = Entry::capture(record, self.thread_ids);
        if let Err(failure) = self.tx.try_send(Msg::Record(entry)) {
            self.shared.losses.count(&failure);
        }
    }

    /// Waits until everything logged before this call is written.
    /// Not async-signal-safe. Does nothing once the writer has stopped.
    fn flush(&self) {
        let _ = self.shared.flush.request(&self.tx, false);
    }
}
