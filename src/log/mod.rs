//! A [`log::Log`] sink that is safe to use from signal handlers, destructors and
//! allocator hooks (feature `log`).
//!
//! [`Logger::log`](Logger#method.log) formats the record with `core::fmt` into a fixed-size buffer inside the
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
//! Setup ([`Builder::init`]), [`LogGuard`], [`Log::flush`](::log::Log::flush) and the writer
//! thread are not async-signal-safe: call them from ordinary code.
//!
//! # No panic on the record path
//!
//! A panic inside a signal handler or an allocator hook is as bad as a deadlock, so the
//! sink's own part of `log()` (the level check, the clock and thread-id calls, building
//! the record, the inline buffer's `write_str` and truncation, the loss counters) has no
//! panic site: no indexing that can fail, no `unwrap`, no arithmetic that can overflow.
//! That holds in release builds and with debug assertions and overflow checks on, and is
//! checked by reading the compiled code (the calls `log()` can reach, `fmt::Write` vtables
//! included, contain no call into core's panic machinery). The rest of `log()`, the
//! channel's `try_send` and the `errno` guard, has no panic site in release builds either;
//! with debug assertions on they carry rustc's overflow and pointer checks.
//!
//! What is left is `core::fmt::write` and the formatting of the arguments, which are
//! core's. Reading core's compiled code (rustc 1.95) shows which argument types stay clear
//! of core's own panic sites:
//!
//! * no panic site: integers up to 64 bits (`u8`..`u64`, `i8`..`i64`, `usize`, `isize`)
//!   in every format (`{}`, `{:?}`, `{:x}`, `{:b}`, `{:o}`, width, fill, sign); `&str` and
//!   `String` with `{}` (precision and padding too); `char` and `bool` with `{}`; nested
//!   `format_args!`; `#[derive(Debug)]` (also `{:#?}`) on enums, tuple structs and structs
//!   of up to five named fields, slices and `Option`s, around such values;
//! * core's internal checks (assertions and bounds checks that guard core's own
//!   invariants, not expected to fire): floats (`f32`, `f64`, in every format: they go
//!   through core's float formatting, `flt2dec`), `u128`/`i128` with `{}`, `{:?}` of `str`
//!   and `char` (escaping looks characters up in tables), and `#[derive(Debug)]` on a
//!   struct of more than five named fields (core's helper asserts its two lists match).
//!
//! Core's formatting is async-signal-safe either way (no allocation, no lock); the list
//! only says where a panic could come from at all.
//!
//! # Flushing
//!
//! [`LogGuard::flush`], dropping the [`LogGuard`], and `log::logger().flush()` all wait
//! until every record logged before the call (in the happens-before sense, e.g. earlier on
//! the same thread) has been written and the writer flushed: the flusher sends a marker
//! with a sequence number through the channel behind those records and waits until the
//! writer has reached it (the protocol, and why it is correct, is written at the top of
//! `src/log/flush.rs`). A flush called on the writer thread itself (from inside your
//! `io::Write`) returns at once.
//!
//! # Losses
//!
//! A record that `log()` cannot queue is counted, never waited for:
//!
//! * [`Logger::dropped`] (and [`LogGuard::dropped`]): records lost because the channel was
//!   full, the writer being `capacity` records behind. The writer reports them in
//!   `sigring: N records dropped` lines when it catches up, each loss once.
//! * [`Logger::discarded`] (and [`LogGuard::discarded`]): records lost because the writer
//!   had stopped (logged after the [`LogGuard`] was dropped, or after the writer's
//!   `io::Write` panicked), or because this is a forked child (below). Only the counter
//!   knows about them.
//!
//! Every record the level filter lets through is written, dropped or discarded.
//!
//! # In a forked child
//!
//! The logger belongs to the process that built it: its channel is disowned in a child
//! forked from it (see the crate's fork contract), and the writer thread does not exist
//! there. In the child every record is counted as discarded, and a flush returns at once
//! (an error from [`LogGuard::flush`]). A child that needs logging builds its own logger
//! after the fork with [`Builder::build`] and logs through that [`Logger`] (the `log`
//! crate's global logger is set once per process, and the child inherits the parent's),
//! or execs.
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
//
// # Where things are
//
// | file | job |
// |---|---|
// | `record.rs` | the fixed-size record `log()` builds on the stack (handler path), the channel's message type, the size limits |
// | `inline.rs` | the inline UTF-8 buffer the record is formatted into (handler path) |
// | `logger.rs` | `Logger`: the `log::Log` impl; `log()` is the handler path |
// | `losses.rs` | the two loss counters, what each means, where each is counted |
// | `flush.rs` | the flush protocol: states, steps, why it is correct |
// | `writer.rs` | the writer thread: lines, batches, loss reports, flush answers |
// | `builder.rs` | `Builder`: settings and setup |
// | `guard.rs` | `LogGuard`: flush and stop |
//
// `sys::{monotonic_ns, thread_id}` are the raw clock and thread-id calls the record uses.

mod builder;
mod flush;
mod guard;
mod inline;
mod logger;
mod losses;
mod record;
mod writer;

pub use self::builder::Builder;
pub use self::guard::LogGuard;
pub use self::logger::Logger;
pub use self::record::{MAX_MESSAGE_LEN, MAX_TARGET_LEN, TRUNCATION_MARKER};

/// The default channel capacity, in records.
pub const DEFAULT_CAPACITY: usize = 1024;

/// What the loggers, the guard and the writer thread share, behind one `Arc`.
#[derive(Debug)]
struct Shared {
    /// Records lost on the record path, by reason.
    losses: losses::Losses,
    /// The flush protocol's state.
    flush: flush::Flush,
}
