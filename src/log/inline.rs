//! A fixed-size, inline UTF-8 buffer that `core::fmt` can write into without allocating.
//!
//! [`InlineStr`] is what makes [`Logger::log`](super::Logger) async-signal-safe: the record
//! is formatted into `[u8; N]` on the caller's stack and then moved into the channel, so no
//! heap is touched on the logging path.
//!
//! # Invariants
//!
//! * `buf[..len]` is valid UTF-8 at all times: text only ever enters as whole `&str`s or
//!   as a `&str` prefix cut at a character boundary.
//! * `len <= N`.
//! * `truncated` is set once some text did not fit; from then on writes are refused
//!   (`fmt::Error`, which stops `core::fmt::write` early), and [`InlineStr::finish`]
//!   replaces the tail of the buffer with a marker, cut back to a character boundary.

use std::fmt;

/// A UTF-8 string of at most `N` bytes stored inline.
#[derive(Clone, Copy)]
pub(crate) struct InlineStr<const N: usize> {
    /// Bytes in use; `<= N`.
    len: usize,
    /// Some text did not fit (see the module docs).
    truncated: bool,
    buf: [u8; N],
}

/// The largest `i <= idx` such that `i` is a character boundary of `bytes[..len]`,
/// where `bytes[..len]` is valid UTF-8. Index `len` itself is a boundary.
fn floor_boundary(bytes: &[u8], idx: usize) -> usize {
    let mut i = idx.min(bytes.len());
    // A position is a boundary unless the byte there is a continuation byte (10xxxxxx).
    while i > 0 && i < bytes.len() && (bytes[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    i
}

impl<const N: usize> InlineStr<N> {
    /// An empty buffer.
    #[inline]
    pub(crate) const fn new() -> Self {
        InlineStr {
            len: 0,
            truncated: false,
            buf: [0; N],
        }
    }

    /// Whether some text was cut off.
    #[cfg(test)]
    pub(crate) fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The text; valid UTF-8 by the invariants.
    pub(crate) fn as_str(&self) -> &str {
        // `from_utf8` cannot fail here (see the invariants); checking costs little and is
        // only done by the writer thread.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("<sigring: invalid UTF-8>")
    }

    /// Appends as much of `s` as fits, cut at a character boundary. Returns whether all
    /// of it fitted. Async-signal-safe: copies bytes, nothing else.
    #[inline]
    pub(crate) fn push_str(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        let room = N - self.len;
        let (take, fits) = if s.len() <= room {
            (s.len(), true)
        } else {
            (floor_boundary(s.as_bytes(), room), false)
        };
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        if !fits {
            self.truncated = true;
        }
        fits
    }

    /// If text was cut off, ends the buffer with `marker` (cutting more text, at a
    /// character boundary, to make room for it). `marker.len()` must be `<= N`; a longer
    /// marker is itself cut. Async-signal-safe.
    #[inline]
    pub(crate) fn finish(&mut self, marker: &str) {
        if !self.truncated {
            return;
        }
        let marker = &marker[..floor_boundary(marker.as_bytes(), N)];
        let keep = floor_boundary(&self.buf[..self.len], N - marker.len());
        self.buf[keep..keep + marker.len()].copy_from_slice(marker.as_bytes());
        self.len = keep + marker.len();
    }
}

impl<const N: usize> fmt::Write for InlineStr<N> {
    /// Refuses (`fmt::Error`) once the buffer is full, so formatting stops early.
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.push_str(s) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

impl<const N: usize> fmt::Debug for InlineStr<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write;

    const MARK: &str = "…[truncated]";

    #[test]
    fn fits_exactly_without_marker() {
        let mut s = InlineStr::<5>::new();
        assert!(write!(s, "{}", 12345).is_ok());
        s.finish(MARK);
        assert_eq!(s.as_str(), "12345");
        assert!(!s.is_truncated());
    }

    #[test]
    fn overflow_ends_with_marker_and_stays_within_n() {
        let mut s = InlineStr::<20>::new();
        assert!(write!(s, "{}", "x".repeat(50)).is_err());
        s.finish(MARK);
        assert!(s.is_truncated());
        assert_eq!(s.as_str(), format!("{}{MARK}", "x".repeat(20 - MARK.len())));
        assert_eq!(s.as_str().len(), 20);
    }

    #[test]
    fn cuts_respect_char_boundaries_at_every_offset() {
        // Multi-byte characters of every width, at every alignment against the cut.
        let text = "aé€😀".repeat(10);
        for n_prefix in 0..4 {
            let mut s = InlineStr::<37>::new();
            let _ = write!(s, "{}{}", "-".repeat(n_prefix), text);
            s.finish(MARK);
            let out = s.as_str();
            assert!(out.ends_with(MARK), "{out:?}");
            assert!(out.len() <= 37);
            let body = &out[..out.len() - MARK.len()];
            let expected = format!("{}{}", "-".repeat(n_prefix), text);
            assert!(expected.starts_with(body), "{body:?}");
            // At most one character (4 bytes) lost to the boundary.
            assert!(body.len() + 4 > 37 - MARK.len(), "{body:?}");
        }
    }

    #[test]
    fn marker_longer_than_buffer_is_cut() {
        let mut s = InlineStr::<4>::new();
        let _ = write!(s, "abcdefgh");
        s.finish(MARK);
        // "…" is 3 bytes, "[" 1 byte: the marker's first 4 bytes.
        assert_eq!(s.as_str(), "…[");
    }

    #[test]
    fn later_writes_after_truncation_are_refused() {
        let mut s = InlineStr::<3>::new();
        assert!(!s.push_str("abcd"));
        assert!(!s.push_str("e"));
        assert_eq!(s.as_str(), "abc");
    }
}
