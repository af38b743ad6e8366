//! [`LogGuard`]: the owner's handle on the writer thread; flushes, and stops the writer
//! when dropped. Ordinary code only.

use std::fmt;
use std::io;
use std::thread::JoinHandle;

use super::record::Msg;
use super::Shared;
use crate::sync::Arc;
use crate::Sender;

/// Keeps the writer thread running; dropping it writes everything logged before the drop,
/// then stops the writer.
///
/// Not async-signal-safe: [`flush`](LogGuard::flush) and `drop` wait for the writer thread.
/// They wait for as long as the `io::Write` blocks (a stderr pipe nobody reads, say).
///
/// # Examples
///
/// ```
/// use log::Log;
/// use std::io::Write;
///
/// let path = std::env::temp_dir().join(format!("sigring-doc-{}.log", std::process::id()));
/// let (logger, guard) = sigring::log::Builder::new()
///     .writer(std::fs::File::create(&path)?)
///     .build()?;
/// for i in 0..3 {
///     logger.log(&log::Record::builder()
///         .level(log::Level::Info)
///         .target("doc")
///         .args(format_args!("record {i}"))
///         .build());
/// }
/// drop(guard); // writes all three, then stops the writer
/// let text = std::fs::read_to_string(&path)?;
/// assert_eq!(text.lines().count(), 3);
/// assert!(text.lines().last().unwrap().ends_with("doc: record 2"));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct LogGuard {
    tx: Sender<Msg>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogGuard {
    pub(super) fn new(tx: Sender<Msg>, shared: Arc<Shared>, thread: JoinHandle<()>) -> Self {
        LogGuard {
            tx,
            shared,
            thread: Some(thread),
        }
    }

    /// Waits until every record logged before this call is written and the writer is
    /// flushed.
    ///
    /// # Errors
    ///
    /// The first error the writer hit since the previous `flush` (the writer keeps going
    /// after errors: the records it could not write are lost), or `BrokenPipe` if the
    /// writer thread has stopped.
    pub fn flush(&self) -> io::Result<()> {
        self.shared.flush.request(&self.tx, false)
    }

    /// Records lost because the channel was full, so far; the same number as
    /// [`Logger::dropped`](super::Logger::dropped).
    pub fn dropped(&self) -> u64 {
        self.shared.losses.dropped()
    }

    /// Records lost because they came after the writer stopped; the same number as
    /// [`Logger::discarded`](super::Logger::discarded).
    pub fn discarded(&self) -> u64 {
        self.shared.losses.discarded()
    }
}

impl fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogGuard")
            .field("dropped", &self.dropped())
            .field("discarded", &self.discarded())
            .finish_non_exhaustive()
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = self.shared.flush.request(&self.tx, true);
        if let Some(thread) = self.thread.take() {
            if !self.shared.flush.on_writer_thread() {
                let _ = thread.join();
            }
        }
    }
}
