//! A [`log::Log`] sink that is safe to use from signal handlers, destructors and
//! allocator hooks (feature `log`).
//!
//! [`Logger::log`] formats the record with `core::fmt` into a fixed-size buffer inside the
//! message itself (no heap), stamps it with the level, the target, a monotonic timestamp and
//! the kernel thread id, and hands it to a sigring channel with
//! [`try_send`](crate::Sender::try_send). A background writer thread receives the records
//! and writes one line per record to any `io::Write + Send` (stderr by default). When the
//! channel is full the record is counted, and the writer reports the losses with a line
//! such as `sigring: 37 records dropped`.
//!
//! ```
//! use std::io::Write;
//!
//! // A writer the example can read back; real programs keep the default (stderr) or pass
//! // a `File`.
//! #[derive(Clone, Default)]
//! struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
//! impl Write for Shared {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
//!         self.0.lock().unwrap().write(b)
//!     }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//!
//! let out = Shared::default();
//! let guard = sigring::log::Builder::new()
//!     .capacity(4096)
//!     .level(log::LevelFilter::Info)
//!     .writer(out.clone())
//!     .init()?;
//! log::info!("hello from {}", "main");
//! log::debug!("filtered out");
//! guard.flush()?; // everything logged before this call is written
//! let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
//! assert!(text.contains("INFO") && text.contains("hello from main"));
//! assert!(!text.contains("filtered out"));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Async-signal safety of `log()`
//!
//! Everything on the path of a `log::info!(...)` call is async-signal-safe and reentrant,
//! provided the `Display`/`Debug` impls of the *arguments* are:
//!
//! * the `log` crate's macros compare the level with `log::max_level()` (an atomic load),
//!   fetch the logger with `log::logger()` (an atomic load), and build the `Record` on the
//!   stack;
//! * [`Logger::enabled`](::log::Log::enabled) compares with a level stored in the logger
//!   (a plain field, no lock);
//! * the timestamp comes from `clock_gettime(CLOCK_MONOTONIC)`, which POSIX lists as
//!   async-signal-safe (on Linux it is a vDSO read); `std::time::Instant` is not used;
//! * the thread id comes from `syscall(SYS_gettid)` on Linux and Android (a raw system
//!   call, async-signal-safe); `std::thread::current()`, which may allocate and touches a
//!   thread-local, is not used. Elsewhere no thread id is recorded, and
//!   [`Builder::thread_ids`]`(false)` skips the system call;
//! * the message is formatted with `core::fmt::write` into a `[u8; N]` buffer on the
//!   stack ([`MAX_MESSAGE_LEN`] bytes of text, [`MAX_TARGET_LEN`] of target); text that does
//!   not fit is cut at a UTF-8 character boundary and ends with [`TRUNCATION_MARKER`];
//! * the message is moved into the channel with [`Sender::try_send`](crate::Sender::try_send)
//!   (no lock, no allocation, never waits; at most one `write(2)`), and a failure bumps an
//!   atomic counter;
//! * `errno` is saved and restored around all of it.
//!
//! The formatting of your arguments is yours: core's integer, float, `str` and `char`
//! formatting and `#[derive(Debug)]` on such fields are fine; a `Display` impl that
//! allocates (`format!`, `to_string`), locks, or panics is not safe in a signal handler,
//! whichever logger you use. A record takes about `MAX_MESSAGE_LEN + MAX_TARGET_LEN + 64`
//! bytes of stack (twice that while it is moved into the channel), which matters on a small
//! `sigaltstack`.
//!
//! Setup ([`Builder::init`]), [`LogGuard`], [`Log::flush`] and the writer
//! thread are not async-signal-safe: call them from ordinary code.
//!
//! # Flushing
//!
//! [`LogGuard::flush`], dropping the [`LogGuard`], and `log::logger().flush()` all wait
//! until every record logged before the call (in the happens-before sense, e.g. earlier on
//! the same thread) has been written and the writer flushed: the flusher sends a marker
//! with a sequence number through the channel behind those records and waits until the
//! writer has reached it (the protocol is described in the source, on `Control`). A flush
//! called on the writer thread itself (from inside your `io::Write`) returns at once.
//!
//! # Lines
//!
//! ```text
//!      0.002345 INFO  [12345] my_app::net: connected to 127.0.0.1:80
//!      0.002401 WARN  [12346] my_app: disk almost full…[truncated]
//! sigring: 37 records dropped
//! ```
//!
//! The first column is seconds since the logger was built (monotonic clock), then the
//! level, the kernel thread id in brackets (Linux and Android, unless turned off), the
//! target and the message.

mod inline;

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use ::log::{Level, LevelFilter, Log, Metadata, Record};

use self::inline::InlineStr;
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::sys::ErrnoGuard;
use crate::{Receiver, Sender, TryRecvError, TrySendError};

/// Bytes of message text a record can hold; longer text is truncated (see
/// [`TRUNCATION_MARKER`]).
pub const MAX_MESSAGE_LEN: usize = 400;

/// Bytes of target a record can hold; a longer target is cut and ends with `…`.
pub const MAX_TARGET_LEN: usize = 64;

/// What a truncated message ends with. It counts towards [`MAX_MESSAGE_LEN`].
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// The default channel capacity, in records.
pub const DEFAULT_CAPACITY: usize = 1024;

/// One log record, formatted; lives on the caller's stack, then in a channel slot.
struct Entry {
    /// `CLOCK_MONOTONIC`, in nanoseconds.
    mono_ns: u64,
    /// Kernel thread id; 0 when unknown.
    tid: u64,
    level: Level,
    target: InlineStr<MAX_TARGET_LEN>,
    text: InlineStr<MAX_MESSAGE_LEN>,
}

/// What travels through the channel.
// The record is inline on purpose: boxing it would allocate on the logging path.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Record(Entry),
    /// Write and flush everything before this, then publish `seq` as flushed; with `stop`,
    /// also drain what is left and end the writer thread.
    Flush {
        seq: u64,
        stop: bool,
    },
}

/// `CLOCK_MONOTONIC` in nanoseconds. Async-signal-safe (POSIX lists `clock_gettime`);
/// does not change `errno` on success, and the caller guards it anyway.
#[inline]
fn monotonic_ns() -> u64 {
    // SAFETY: `timespec` is plain old data; all zeroes is a valid value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on the
    // supported systems, and on failure `ts` stays zero (a harmless timestamp).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The calling thread's kernel id, or 0 where it cannot be had async-signal-safely.
#[inline]
fn thread_id() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: `gettid` takes no arguments and cannot fail; a raw system call is
        // async-signal-safe.
        unsafe { libc::syscall(libc::SYS_gettid) as u64 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0
    }
}

/// State shared by the [`Logger`]s, the [`LogGuard`] and the writer thread.
///
/// # The flush protocol
///
/// A flush must not return before every record logged before it has been written. The
/// channel is FIFO in claim order, so the flusher sends a marker, `Msg::Flush { seq }`,
/// behind those records, and waits for the writer to reach it:
///
/// 1. The flusher takes a fresh `seq` from `next_flush` with an `AcqRel` `fetch_add`.
/// 2. It sends `Flush { seq }` with `try_send`, retrying every millisecond while the
///    channel is full (the flusher is ordinary code, it may wait; its own `Full`s are not
///    counted as lost records because the sink counts losses itself, in `dropped`, only on
///    the record path).
/// 3. The writer, on receiving the marker, has written every record ahead of it. It writes
///    the dropped-records line if due, flushes the `io::Write`, then under `state`'s mutex
///    sets `flushed = max(flushed, seq)` and `notify_all`s `cond`.
/// 4. The flusher waits on `cond` until `flushed >= seq`, or until the writer is gone
///    (`running == false`, set by the writer thread on every exit path, panics included).
///
/// Why `flushed >= seq` is enough even when several flushers race and markers arrive out
/// of `seq` order: if marker `s2 > s1` is acknowledged first, the `fetch_add` that produced
/// `s2` read the one that produced `s1` (they are RMWs on one atomic, and `AcqRel` makes
/// that a release/acquire pair), so everything that happened before the first flusher's
/// call happened before the second flusher's `try_send`, whose marker therefore sits
/// behind those records.
///
/// A flush called on the writer thread itself (an `io::Write` that logs and flushes)
/// returns at once instead of waiting for itself.
struct Control {
    /// Records rejected because the channel was full. Bumped (relaxed) on the record path;
    /// the writer reports increases. Relaxed suffices: the report needs no ordering, and a
    /// flush's marker send follows the bumps it must cover in happens-before order, which
    /// the channel's release/acquire hand-off carries to the writer.
    dropped: AtomicU64,
    /// Records rejected because the writer had already stopped (after the guard went).
    discarded: AtomicU64,
    /// The last flush sequence number handed out.
    next_flush: AtomicU64,
    /// `CLOCK_MONOTONIC` when the logger was built: the zero of the time column.
    start_ns: u64,
    state: Mutex<WriterState>,
    cond: Condvar,
}

thread_local! {
    /// On a writer thread: the address of the `Control` it serves; 0 elsewhere. A
    /// `const` thread-local without destructor, so it is usable at any point of a thread's
    /// life, TLS teardown included (unlike `thread::current()`).
    static WRITER_OF: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug)]
struct WriterState {
    /// The largest flush `seq` the writer has completed.
    flushed: u64,
    /// False once the writer thread has ended (or is unwinding).
    running: bool,
    /// The first write error since the last `LogGuard::flush` took it.
    error: Option<io::Error>,
}

impl Control {
    fn lock(&self) -> MutexGuard<'_, WriterState> {
        // The state is a few plain fields, always consistent: a panic elsewhere while
        // holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the calling thread is this sink's writer thread.
    fn on_writer_thread(&self) -> bool {
        let me = self as *const Control as usize;
        WRITER_OF.try_with(Cell::get).unwrap_or(0) == me
    }

    /// Steps 1, 2 and 4 of the flush protocol. Not async-signal-safe: may sleep and lock.
    fn flush(&self, tx: &Sender<Msg>, stop: bool) -> io::Result<()> {
        if self.on_writer_thread() {
            return Ok(());
        }
        let seq = self.next_flush.fetch_add(1, Ordering::AcqRel) + 1;
        let mut msg = Msg::Flush { seq, stop };
        loop {
            match tx.try_send(msg) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    msg = m;
                    thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return Err(writer_gone()),
            }
        }
        let mut state = self.lock();
        while state.flushed < seq && state.running {
            state = self
                .cond
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.flushed < seq {
            return Err(writer_gone());
        }
        match state.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn writer_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "sigring::log: the writer thread has stopped (its LogGuard was dropped, or its io::Write panicked)",
    )
}

impl fmt::Debug for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Control")
            .field("dropped", &self.dropped.load(Ordering::Relaxed))
            .field("discarded", &self.discarded.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

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

    /// How many records the channel holds before new ones are dropped (and counted).
    /// Each takes about `MAX_MESSAGE_LEN + MAX_TARGET_LEN + 64` bytes.
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
        let control = Arc::new(Control {
            dropped: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            next_flush: AtomicU64::new(0),
            start_ns: monotonic_ns(),
            state: Mutex::new(WriterState {
                flushed: 0,
                running: true,
                error: None,
            }),
            cond: Condvar::new(),
        });
        let out = self.writer.unwrap_or_else(|| Box::new(io::stderr()));
        let writer_control = control.clone();
        let thread = thread::Builder::new()
            .name("sigring-log".into())
            .spawn(move || write_loop(rx, out, writer_control))?;
        let logger = Logger {
            tx: tx.clone(),
            level: self.level,
            thread_ids: self.thread_ids,
            control: control.clone(),
        };
        let guard = LogGuard {
            tx,
            control,
            thread: Some(thread),
        };
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
    control: Arc<Control>,
}

impl Clone for Logger {
    fn clone(&self) -> Self {
        Logger {
            tx: self.tx.clone(),
            level: self.level,
            thread_ids: self.thread_ids,
            control: self.control.clone(),
        }
    }
}

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("level", &self.level)
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl Logger {
    /// Records lost because the channel was full. Async-signal-safe.
    pub fn dropped(&self) -> u64 {
        self.control.dropped.load(Ordering::Relaxed)
    }

    /// Records discarded because the writer had already stopped (logged after the
    /// [`LogGuard`] was dropped). Async-signal-safe.
    pub fn discarded(&self) -> u64 {
        self.control.discarded.load(Ordering::Relaxed)
    }

    /// The most verbose level this logger records. Async-signal-safe.
    pub fn level(&self) -> LevelFilter {
        self.level
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
    /// async-signal-safely (see the [module docs](crate::log)). A full channel drops the record
    /// and counts it ([`Logger::dropped`]).
    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let _errno = ErrnoGuard::new();
        let mut entry = Entry {
            mono_ns: monotonic_ns(),
            tid: if self.thread_ids { thread_id() } else { 0 },
            level: record.level(),
            target: InlineStr::new(),
            text: InlineStr::new(),
        };
        entry.target.push_str(record.target());
        entry.target.finish("…");
        // An error only means the text did not fit (or a Display impl failed): keep what
        // was written.
        let _ = entry.text.write_fmt(*record.args());
        entry.text.finish(TRUNCATION_MARKER);
        match self.tx.try_send(Msg::Record(entry)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.control.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.control.discarded.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits until everything logged before this call is written.
    /// Not async-signal-safe. Does nothing once the writer has stopped.
    fn flush(&self) {
        let _ = self.control.flush(&self.tx, false);
    }
}

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
    control: Arc<Control>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for LogGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogGuard")
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}

impl LogGuard {
    /// Waits until every record logged before this call is written and the writer is
    /// flushed.
    ///
    /// # Errors
    ///
    /// The first error the writer hit since the previous `flush` (the writer keeps going
    /// after errors: the records it could not write are lost), or `BrokenPipe` if the
    /// writer thread has stopped.
    pub fn flush(&self) -> io::Result<()> {
        self.control.flush(&self.tx, false)
    }

    /// Records lost because the channel was full, so far.
    pub fn dropped(&self) -> u64 {
        self.control.dropped.load(Ordering::Relaxed)
    }

    /// Records discarded because they came after the writer stopped.
    pub fn discarded(&self) -> u64 {
        self.control.discarded.load(Ordering::Relaxed)
    }
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        let _ = self.control.flush(&self.tx, true);
        if let Some(thread) = self.thread.take() {
            if !self.control.on_writer_thread() {
                let _ = thread.join();
            }
        }
    }
}

/// Marks the writer as gone on every exit path, unwinding included, and wakes flushers.
struct Exit<'a>(&'a Control);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.lock().running = false;
        self.0.cond.notify_all();
    }
}

/// The writer thread: drain, write, report losses, answer flushes.
fn write_loop(rx: Receiver<Msg>, out: Box<dyn Write + Send>, control: Arc<Control>) {
    WRITER_OF.with(|w| w.set(&*control as *const Control as usize));
    let _exit = Exit(&control);
    // Declared after `_exit`, so dropped before it: when a panic unwinds out of here, the
    // receiver is gone (later `log()` calls see `Disconnected`) by the time flushers are
    // told the writer stopped.
    let rx = rx;
    let mut w = Writer {
        out,
        batch: Vec::with_capacity(BATCH_BYTES),
        control: &control,
        reported: 0,
    };
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                // Caught up: say what was lost and push the lines out before sleeping.
                w.report_dropped();
                w.flush();
                match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Record(entry) => w.record(&entry),
            Msg::Flush { seq, stop } => {
                if stop {
                    // Also write what raced with the stop request, then leave.
                    while let Ok(msg) = rx.try_recv() {
                        w.handle_late(msg);
                    }
                }
                w.report_dropped();
                w.flush();
                let mut state = control.lock();
                state.flushed = state.flushed.max(seq);
                drop(state);
                control.cond.notify_all();
                if stop {
                    break;
                }
            }
        }
    }
    // The receiver goes first, so later `log()` calls get `Disconnected` (and count it).
    drop(rx);
    w.report_dropped();
    w.flush();
}

/// Lines are collected in a batch and handed to the `io::Write` once the batch is this big,
/// when the channel runs empty, and on flush requests.
const BATCH_BYTES: usize = 64 * 1024;

/// The writer thread's side of the output.
struct Writer<'a> {
    out: Box<dyn Write + Send>,
    /// Lines not yet handed to `out`. Cleared after every hand-over, failed or not: a
    /// failed write loses those lines (and reports the error) rather than retrying them
    /// forever.
    batch: Vec<u8>,
    control: &'a Control,
    /// The `dropped` count already reported.
    reported: u64,
}

impl Writer<'_> {
    fn record(&mut self, e: &Entry) {
        let ns = e.mono_ns.saturating_sub(self.control.start_ns);
        let (secs, micros) = (ns / 1_000_000_000, (ns % 1_000_000_000) / 1000);
        // Writing into a `Vec` cannot fail.
        let _ = if e.tid != 0 {
            writeln!(
                self.batch,
                "{secs:>6}.{micros:06} {:<5} [{}] {}: {}",
                e.level,
                e.tid,
                e.target.as_str(),
                e.text.as_str()
            )
        } else {
            writeln!(
                self.batch,
                "{secs:>6}.{micros:06} {:<5} {}: {}",
                e.level,
                e.target.as_str(),
                e.text.as_str()
            )
        };
        if self.batch.len() >= BATCH_BYTES {
            self.write_batch();
        }
    }

    /// A message found while stopping: records are written, flush markers acknowledged
    /// once the final flush is done (the caller acknowledges its own, the highest
    /// matters).
    fn handle_late(&mut self, msg: Msg) {
        match msg {
            Msg::Record(e) => self.record(&e),
            Msg::Flush { seq, .. } => {
                self.flush();
                let mut state = self.control.lock();
                state.flushed = state.flushed.max(seq);
                drop(state);
                self.control.cond.notify_all();
            }
        }
    }

    fn report_dropped(&mut self) {
        let dropped = self.control.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            let _ = writeln!(
                self.batch,
                "sigring: {} records dropped",
                dropped - self.reported
            );
            self.reported = dropped;
        }
    }

    fn write_batch(&mut self) {
        if !self.batch.is_empty() {
            let res = self.out.write_all(&self.batch);
            self.batch.clear();
            self.check(res);
        }
    }

    /// Hands the batch to `out` and flushes `out`.
    fn flush(&mut self) {
        self.write_batch();
        let res = self.out.flush();
        self.check(res);
    }

    fn check(&mut self, res: io::Result<()>) {
        if let Err(e) = res {
            let mut state = self.control.lock();
            if state.error.is_none() {
                state.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_size_is_bounded() {
        // The slot size users pay per record of capacity.
        let size = std::mem::size_of::<Msg>();
        assert!(size <= MAX_MESSAGE_LEN + MAX_TARGET_LEN + 64, "{size}");
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_ns();
        thread::sleep(Duration::from_millis(2));
        let b = monotonic_ns();
        assert!(b >= a + 1_000_000, "{a} {b}");
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn thread_ids_differ_between_threads() {
        let here = thread_id();
        let there = thread::spawn(thread_id).join().unwrap();
        assert_ne!(here, 0);
        assert_ne!(here, there);
        assert_eq!(here, thread_id());
    }
}
