//! The fixed-size record that [`Logger::log`](super::Logger) builds on the caller's stack
//! and moves through the channel, and the control message that shares the channel with it.
//!
//! Building a record ([`Entry::capture`]) is on the handler path: it reads the clock and
//! the thread id with raw system calls, and formats into [`InlineStr`] buffers. It takes
//! no lock, allocates nothing, and has no panic site of its own (see the module docs of
//! [`crate::log`] for what `core::fmt` itself may do).

use ::log::{Level, Record};

use super::inline::InlineStr;
use crate::sys::{monotonic_ns, thread_id};

/// Bytes of message text a record can hold; longer text is truncated (see
/// [`TRUNCATION_MARKER`]).
pub const MAX_MESSAGE_LEN: usize = 400;

/// Bytes of target a record can hold; a longer target is cut and ends with `…`.
pub const MAX_TARGET_LEN: usize = 64;

/// What a truncated message ends with. It counts towards [`MAX_MESSAGE_LEN`].
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// What a cut target ends with. It counts towards [`MAX_TARGET_LEN`].
const TARGET_MARKER: &str = "…";

/// One log record, formatted; lives on the caller's stack, then in a channel slot.
pub(super) struct Entry {
    /// `CLOCK_MONOTONIC`, in nanoseconds.
    pub(super) mono_ns: u64,
    /// Kernel thread id; 0 when unknown or not asked for.
    pub(super) tid: u64,
    pub(super) level: Level,
    pub(super) target: InlineStr<MAX_TARGET_LEN>,
    pub(super) text: InlineStr<MAX_MESSAGE_LEN>,
}

/// What travels through the channel.
// The record is inline on purpose: boxing it would allocate on the logging path.
#[allow(clippy::large_enum_variant)]
pub(super) enum Msg {
    /// A record to write.
    Record(Entry),
    /// A flush marker (see [`flush`](super::flush)): write and flush everything before
    /// this, then acknowledge `seq`; with `stop`, also write what is left and end the
    /// writer thread.
    Flush { seq: u64, stop: bool },
}

impl Entry {
    /// Stamps and formats `record`: monotonic time, the kernel thread id (if
    /// `thread_ids`), the level, the target and the message, each cut to fit.
    ///
    /// Async-signal-safe and reentrant, provided the record's arguments format
    /// async-signal-safely: two raw system calls (`clock_gettime`, `gettid`), byte copies
    /// and `core::fmt::write`. The caller guards `errno`. No panic site of its own: an
    /// argument that does not fit, or whose `Display` fails, ends the text early.
    #[inline]
    pub(super) fn capture(record: &Record<'_>, thread_ids: bool) -> Entry {
        let mut entry = Entry {
            mono_ns: monotonic_ns(),
            tid: if thread_ids { thread_id() } else { 0 },
            level: record.level(),
            target: InlineStr::new(),
            text: InlineStr::new(),
        };
        entry.target.push_str(record.target());
        entry.target.finish(TARGET_MARKER);
        // An error only means the text did not fit (or a Display impl failed): keep what
        // was written.
        let _ = core::fmt::Write::write_fmt(&mut entry.text, *record.args());
        entry.text.finish(TRUNCATION_MARKER);
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;
    use std::time::Duration;

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

    #[test]
    fn capture_cuts_target_and_text() {
        let target = "t".repeat(MAX_TARGET_LEN + 1);
        let text = "x".repeat(MAX_MESSAGE_LEN + 1);
        let e = Entry::capture(
            &Record::builder()
                .level(Level::Warn)
                .target(&target)
                .args(format_args!("{text}"))
                .build(),
            false,
        );
        assert_eq!(e.tid, 0);
        assert_eq!(e.level, Level::Warn);
        assert_eq!(e.target.as_str().len(), MAX_TARGET_LEN);
        assert!(e.target.as_str().ends_with(TARGET_MARKER));
        assert_eq!(e.text.as_str().len(), MAX_MESSAGE_LEN);
        assert!(e.text.as_str().ends_with(TRUNCATION_MARKER));
    }
}
