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
//!
//! # No panic path
//!
//! `push_str`, `finish` and `write_str` run in signal handlers, so they contain no panic
//! site, in release builds and with debug assertions and overflow checks on alike: slices
//! are taken with `get`/`get_mut` (an out-of-range request yields nothing instead of
//! `slice_index_fail`), bytes are copied by a zip of two slices (no `copy_from_slice`
//! length check), lengths are clamped with `min`/`saturating_sub`, and the additions
//! (`len + copied`, `keep + copied`) are `wrapping_add`s of values whose sum is at most
//! `N`. The invariants above are what make every `get` succeed; nothing checks them at run
//! time.

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

/// The largest `i <= idx` such that `i` is a character boundary of `bytes`, which is
/// valid UTF-8 (`bytes.len()` itself is a boundary). No panic path.
fn floor_boundary(bytes: &[u8], idx: usize) -> usize {
    let mut i = idx.min(bytes.len());
    // A position is a boundary unless the byte there is a continuation byte (10xxxxxx).
    while i > 0 {
        match bytes.get(i) {
            Some(&b) if (b & 0xC0) == 0x80 => i = i.wrapping_sub(1),
            _ => break,
        }
    }
    i
}

/// Copies as much of `src` as fits into the front of `dst`; returns how many bytes. No
/// panic path: the copy is a zip of the two slices (compiled to a `memcpy`), not a
/// `copy_from_slice`, whose length check and debug precondition check are panic sites.
#[inline]
fn copy_prefix(dst: &mut [u8], src: &[u8]) -> usize {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = *s;
    }
    dst.len().min(src.len())
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

    /// The bytes in use, `buf[..len]`.
    #[inline]
    fn used(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or_default()
    }

    /// The text; valid UTF-8 by the invariants.
    pub(crate) fn as_str(&self) -> &str {
        // `from_utf8` cannot fail here (see the invariants); checking costs little and is
        // only done by the writer thread.
        std::str::from_utf8(self.used()).unwrap_or("<sigring: invalid UTF-8>")
    }

    /// Appends as much of `s` as fits, cut at a character boundary. Returns whether all
    /// of it fitted.
    ///
    /// Async-signal-safe: copies bytes, nothing else. No panic site, with or without
    /// overflow checks: slices are taken with `get`, lengths only shrink with `min`, and
    /// `len` grows by at most the room left, so the invariants hold without being
    /// checked.
    #[inline]
    pub(crate) fn push_str(&mut self, s: &str) -> bool {
        if self.truncated {
            return false;
        }
        let Some(free) = self.buf.get_mut(self.len..) else {
            return false;
        };
        let bytes = s.as_bytes();
        let fits = bytes.len() <= free.len();
        let take = if fits {
            bytes.len()
        } else {
            floor_boundary(bytes, free.len())
        };
        let copied = copy_prefix(free, bytes.get(..take).unwrap_or_default());
        // `copied <= free.len() == N - len`: no overflow, and `len <= N` still.
        self.len = self.len.wrapping_add(copied);
        if !fits {
            self.truncated = true;
        }
        fits
    }

    /// If text was cut off, ends the buffer with `marker` (cutting more text, at a
    /// character boundary, to make room for it). `marker.len()` must be `<= N`; a longer
    /// marker is itself cut. Async-signal-safe; no panic site (as for `push_str`).
    #[inline]
    pub(crate) fn finish(&mut self, marker: &str) {
        if !self.truncated {
            return;
        }
        let marker = marker.as_bytes();
        let marker = marker.get(..floor_boundary(marker, N)).unwrap_or_default();
        // `keep <= N - marker.len()`, so the marker fits behind it.
        let keep = floor_boundary(self.used(), N.saturating_sub(marker.len()));
        let Some(tail) = self.buf.get_mut(keep..) else {
            return;
        };
        let copied = copy_prefix(tail, marker);
        // `copied <= tail.len() == N - keep`: no overflow, and `len <= N`.
        self.len = keep.wrapping_add(copied);
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

    /// Writes `pad` ASCII bytes and then `text` into an `InlineStr<N>`, finishes it, and checks the result: no panic, valid UTF-8,
    /// within `N`, the marker (or its longest prefix that fits) at the end, the body a
    /// prefix of the input, and no more than one character lost to the boundary.
    fn check_cut<const N: usize>(pad: usize, text: &str) {
        let input = format!("{}{}", "-".repeat(pad), text);
        let mut s = InlineStr::<N>::new();
        let _ = s.push_str(&input[..pad]);
        let _ = s.push_str(text);
        s.finish(MARK);
        let bytes = s.used();
        let out = std::str::from_utf8(bytes).expect("valid UTF-8");
        assert!(out.len() <= N, "N {N} pad {pad}: {out:?}");
        if input.len() <= N {
            assert!(!s.is_truncated());
            assert_eq!(out, input);
            return;
        }
        assert!(s.is_truncated());
        let mark = &MARK[..floor_boundary(MARK.as_bytes(), N)];
        assert!(out.ends_with(mark), "N {N} pad {pad}: {out:?}");
        let body = &out[..out.len() - mark.len()];
        assert!(input.starts_with(body), "N {N} pad {pad}: {body:?}");
        // At most one character (4 bytes) lost to the boundary.
        assert!(body.len() + 4 > N - mark.len(), "N {N} pad {pad}: {body:?}");
    }

    fn check_every_cut<const N: usize>() {
        // Every alignment of the buffer's end (and of the marker's start) against
        // characters of one, two, three and four bytes.
        let text = "aé€😀".repeat(8);
        for pad in 0..=N + 4 {
            check_cut::<N>(pad, &text);
        }
        for end in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
            check_cut::<N>(0, &text[..end]);
        }
    }

    #[test]
    fn truncation_at_every_byte_boundary_of_a_multibyte_string() {
        check_every_cut::<0>();
        check_every_cut::<1>();
        check_every_cut::<2>();
        check_every_cut::<3>();
        check_every_cut::<4>();
        check_every_cut::<5>();
        check_every_cut::<7>();
        check_every_cut::<11>();
        check_every_cut::<13>();
        check_every_cut::<14>();
        check_every_cut::<15>();
        check_every_cut::<16>();
        check_every_cut::<17>();
        check_every_cut::<23>();
        check_every_cut::<37>();
        check_every_cut::<64>();
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
