//! The Linux backend: one `eventfd(2)`, both the wake-up token and the pollable fd.
//!
//! Same API as `pipe.rs`: `new`, `signal`, `consume`, `read_fd`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::sys;

#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    /// A new non-blocking, close-on-exec eventfd with a zero counter.
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall with valid flags; the result is checked by `owned_fd`.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        Ok(EventFd {
            fd: sys::owned_fd(fd)?,
        })
    }

    /// Adds 1 to the counter: the fd becomes readable. One `write(2)`.
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn signal(&self) {
        sys::write_token(self.fd.as_raw_fd(), &1u64.to_ne_bytes());
    }

    /// Resets the counter to zero; returns whether any token was there.
    pub(crate) fn consume(&self) -> bool {
        let mut buf = [0u8; 8];
        sys::read_nonblocking(self.fd.as_raw_fd(), &mut buf) == buf.len()
    }

    /// The fd to poll for readability.
    pub(crate) fn read_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
