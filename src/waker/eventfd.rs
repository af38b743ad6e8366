//! The Linux backend: one `eventfd(2)`, both the wake-up token and the pollable fd.
//!
//! Same API as `pipe.rs`: `create`, `TOKEN`, `consume`.

use std::io;
use std::os::fd::{OwnedFd, RawFd};

use crate::sys;

/// What one token write puts into the fd: 1 added to the counter.
pub(super) const TOKEN: &[u8] = &1u64.to_ne_bytes();

/// A new non-blocking, close-on-exec eventfd with a zero counter: `(read, write)` are the
/// same descriptor, so `write` is `None`.
pub(super) fn create() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    // SAFETY: plain syscall with valid flags; the result is checked by `owned_fd`.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    Ok((sys::owned_fd(fd)?, None))
}

/// Resets the counter to zero; returns whether any token was there.
pub(super) fn consume(fd: RawFd) -> bool {
    let mut buf = [0u8; 8];
    sys::read_nonblocking(fd, &mut buf) == buf.len()
}
