//! The portable backend: a self-pipe. Producers write one byte to the write end; the
//! consumer polls and drains the read end.
//!
//! Same API as `eventfd.rs`: `create`, `TOKEN`, `consume`. The wake protocol lets at most
//! one token be outstanding at a time, so the pipe never fills; if it ever did, `EAGAIN`
//! would be harmless (the read end is readable already).

use std::io;
use std::os::fd::{OwnedFd, RawFd};

use crate::sys;

/// What one token write puts into the pipe.
pub(super) const TOKEN: &[u8] = &[1u8];

/// A new pipe, both ends non-blocking and close-on-exec: `(read end, Some(write end))`.
pub(super) fn create() -> io::Result<(OwnedFd, Option<OwnedFd>)> {
    let mut fds = [-1; 2];
    create_raw(&mut fds)?;
    Ok((sys::owned_fd(fds[0])?, Some(sys::owned_fd(fds[1])?)))
}

/// Drains the read end; returns whether any byte was there.
pub(super) fn consume(fd: RawFd) -> bool {
    let mut buf = [0u8; 64];
    let mut any = false;
    loop {
        let n = sys::read_nonblocking(fd, &mut buf);
        any |= n > 0;
        if n < buf.len() {
            return any;
        }
    }
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris"
))]
fn create_raw(fds: &mut [libc::c_int; 2]) -> io::Result<()> {
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly",
    target_os = "illumos",
    target_os = "solaris"
)))]
fn create_raw(fds: &mut [libc::c_int; 2]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Take ownership at once so an fcntl failure closes both ends.
    let read = sys::owned_fd(fds[0])?;
    let write = sys::owned_fd(fds[1])?;
    for fd in [read.as_raw_fd(), write.as_raw_fd()] {
        // SAFETY: fcntl on fds we own, with valid commands and flags.
        let ok = unsafe {
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) == 0
                && libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK) == 0
        };
        if !ok {
            return Err(io::Error::last_os_error());
        }
    }
    fds[0] = std::os::fd::IntoRawFd::into_raw_fd(read);
    fds[1] = std::os::fd::IntoRawFd::into_raw_fd(write);
    Ok(())
}
