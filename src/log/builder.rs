//! [`Builder`]: the sink's settings, and the setup that creates the channel, the shared
//! state and the writer thread. Ordinary code only (allocates, spawns a thread).

use std::fmt;
use std::io::{self, Write};

use ::log::LevelFilter;

use super::flush::Flush;
use super::losses::Losses;
use super::record::Msg;
use super::{writer, LogGuard, Logger, Shared, DEFAULT_CAPACITY};
use crate::sync::Arc;
use crate::sys::monotonic_ns;

/// Configures the sink; [`init`](Builder::init) installs it as the global logger,
/// [`build`](Builder::build) returns it without installing.
///
/// # Examples
///
/// ```
/// use log::Log;
///
/// // Not installed globally: useful in tests and libraries.
/// let (logger, guard) = sigring::log::Builder::new()
///     .capacity(64)
///     .level(log::LevelFilter::Warn)
///     .writer(std::io::sink())
///     .build()?;
/// let record = log::Record::builder()
///     .level(log::Level::Warn)
///     .target("demo")
///     .args(format_args!("disk {}% full", 97))
///     .build();
/// logger.log(&record);
/// guard.flush()?;
/// assert_eq!(logger.dropped(), 0);
///
/// assert!(sigring::log::Builder::new().capacity(0).build().is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Builder {
    capacity: usize,
    level: LevelFilter,
    thread_ids: bool,
    writer: Option<Box<dyn Write + Send>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("capacity", &self.capacity)
            .field("level", &self.level)
            .field("thread_ids", &self.thread_ids)
            .field("writer", &self.writer.as_ref().map(|_| "custom"))
            .finish()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// [`DEFAULT_CAPACITY`] records, level `Info`, with thread ids, writing to stderr.
    pub fn new() -> Self {
        Builder {
            capacity: DEFAULT_CAPACITY,
            level: LevelFilter::Info,
            thread_ids: true,
            writer: None,
        }
    }

    /// How many records the channel holds before new ones are dropped (and counted, see
    /// [`Logger::dropped`]). Each takes about `MAX_MESSAGE_LEN + MAX_TARGET_LEN + 64`
    /// bytes.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// The most verbose level that is recorded. [`init`](Builder::init) also sets
    /// `log::set_max_level` to it.
    pub fn level(mut self, level: LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// Whether records carry the kernel thread id (default: yes, on Linux and Android).
    /// Getting it costs one `gettid` system call per record, which can be a good part of
    /// the cost of `log()` on a virtual machine; without it the column is left out.
    pub fn thread_ids(mut self, enabled: bool) -> Self {
        self.thread_ids = enabled;
        self
    }

    /// Where the writer thread writes the lines (default: stderr). Lines are handed over
    /// in batches (up to 64 KiB), whenever the channel runs empty and on every flush
    /// request, each time followed by `flush()`. A batch whose write fails is lost, and the
    /// error is returned by the next [`LogGuard::flush`].
    pub fn writer(mut self, writer: impl Write + Send + 'static) -> Self {
        self.writer = Some(Box::new(writer));
        self
    }

    /// Creates the channel and starts the writer thread, without installing the logger
    /// globally. Use the [`Logger`] through [`log::Log`] directly (or the
    /// `log!(logger: ..)` form of the macros).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a capacity of 0 (or too large), the OS error if the channel's fd
    /// or the thread cannot be created.
    pub fn build(self) -> io::Result<(Logger, LogGuard)> {
        let (tx, rx) = crate::channel::<Msg>(self.capacity).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "sigring::log: cannot create a channel of {} records: {e}",
                    self.capacity
                ),
            )
        })?;
        let shared = Arc::new(Shared {
            losses: Losses::new(),
            flush: Flush::new(),
        });
        let out = self.writer.unwrap_or_else(|| Box::new(io::stderr()));
        let thread = writer::spawn(rx, out, shared.clone(), monotonic_ns())?;
        let logger = Logger::new(tx.clone(), self.level, self.thread_ids, shared.clone());
        let guard = LogGuard::new(tx, shared, thread);
        Ok((logger, guard))
    }

    /// Like [`build`](Builder::build), then installs the logger with `log::set_boxed_logger`
    /// and sets `log::set_max_level` to the configured level.
    ///
    /// Keep the returned guard alive for as long as you log: dropping it writes everything
    /// logged so far and stops the writer; records logged after that are discarded (and
    /// counted, see [`Logger::discarded`]).
    ///
    /// # Errors
    ///
    /// As for [`build`](Builder::build), and `AlreadyExists` if a global logger was already
    /// set (the `log` crate allows one per process); the writer thread started for this
    /// call is stopped again.
    pub fn init(self) -> io::Result<LogGuard> {
        let level = self.level;
        let (logger, guard) = self.build()?;
        ::log::set_boxed_logger(Box::new(logger)).map_err(|e| {
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "sigring::log: cannot install the logger, a global logger is already set \
                     (log::set_logger succeeds once per process): {e}"
                ),
            )
        })?;
        ::log::set_max_level(level);
        Ok(guard)
    }
}
