//! The wake-up descriptors of one channel: created once, by the receiver's side, and read
//! by producers from then on.
//!
//! They are kept as raw descriptors in atomics so that a `static` channel can hold them
//! from a `const` constructor and install them later ([`Fds::install`]). Publication: the
//! consumer installs them before its first `Release` store of `ARMED` to the wake flag, and
//! a producer writes a token only after its `AcqRel` CAS read `ARMED`, so it sees them
//! (see `waker`). A channel's descriptors are closed when its state is dropped: for a
//! boxed channel with its last handle, for a static channel never.

use std::io;
use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::time::Instant;

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::eventfd;
use super::pipe;
use super::Backend;
use crate::sync::{AtomicI32, AtomicU32, AtomicU8, Ordering};
use crate::sys;

const NONE: u8 = 0;
const EVENTFD: u8 = 1;
const PIPE: u8 = 2;

/// The descriptors, or `-1` before [`Fds::install`].
#[derive(Debug)]
pub(crate) struct Fds {
    /// Polled and read by the consumer.
    read: AtomicI32,
    /// Written by producers: the same descriptor as `read` for an eventfd.
    write: AtomicI32,
    /// `NONE`, `EVENTFD` or `PIPE`.
    kind: AtomicU8,
}

impl Fds {
    /// No descriptors yet.
    pub(crate) const fn new() -> Self {
        Fds {
            read: AtomicI32::new(-1),
            write: AtomicI32::new(-1),
            kind: AtomicU8::new(NONE),
        }
    }

    /// Creates the descriptors for `backend`. Called once per channel, by the consumer's
    /// side, before any producer may write (the flag is `IDLE` until then).
    ///
    /// Errors: `Unsupported` for an eventfd off Linux; the OS error when no descriptor can
    /// be created (`EMFILE`, `ENFILE`).
    pub(crate) fn install(&self, backend: Backend) -> io::Result<()> {
        let linux = cfg!(any(target_os = "linux", target_os = "android"));
        let use_eventfd = match backend {
            Backend::EventFd if !linux => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "sigring: the eventfd backend exists only on Linux and Android",
                ))
            }
            Backend::EventFd => true,
            Backend::Auto => linux && !cfg!(sigring_force_pipe),
            Backend::Pipe => false,
        };
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (kind, (read, write)) = if use_eventfd {
            (EVENTFD, eventfd::create()?)
        } else {
            (PIPE, pipe::create()?)
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let (kind, (read, write)) = {
            let _ = use_eventfd;
            (PIPE, pipe::create()?)
        };
        let read = read.into_raw_fd();
        let write = write.map_or(read, IntoRawFd::into_raw_fd);
        self.write.store(write, Ordering::Relaxed);
        self.read.store(read, Ordering::Relaxed);
        self.kind.store(kind, Ordering::Relaxed);
        Ok(())
    }

    /// The backend in use (`Auto` before [`Fds::install`]).
    pub(crate) fn backend(&self) -> Backend {
        match self.kind.load(Ordering::Relaxed) {
            EVENTFD => Backend::EventFd,
            PIPE => Backend::Pipe,
            _ => Backend::Auto,
        }
    }

    /// Writes one token: the read side becomes readable. One successful `write(2)`
    /// (`EINTR` is retried, `EAGAIN` ignored); nothing before [`Fds::install`].
    ///
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn post(&self) {
        let fd = self.write.load(Ordering::Relaxed);
        let token = match self.kind.load(Ordering::Relaxed) {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            EVENTFD => eventfd::TOKEN,
            PIPE => pipe::TOKEN,
            _ => return,
        };
        sys::write_token(fd, token);
    }

    /// Reads what tokens are there; returns whether there were any. Consumer only.
    pub(crate) fn consume(&self) -> bool {
        let fd = self.read.load(Ordering::Relaxed);
        match self.kind.load(Ordering::Relaxed) {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            EVENTFD => eventfd::consume(fd),
            PIPE => pipe::consume(fd),
            _ => false,
        }
    }

    /// Blocks until readable (`true`) or `deadline` passes (`false`). Consumer only.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        match self.raw_read() {
            Some(fd) => {
                // SAFETY: `fd` stays open for as long as `self` exists (closed only in drop).
                let fd = unsafe { BorrowedFd::borrow_raw(fd) };
                sys::wait_readable(fd, deadline)
            }
            None => false,
        }
    }

    /// Whether the consumer can sleep on the flag word itself ([`super::Sleep::Flag`]): a
    /// futex, Linux and Android only.
    pub(crate) fn can_park(&self) -> bool {
        cfg!(any(target_os = "linux", target_os = "android"))
    }

    /// Sleeps while `word` holds `expected` (a futex wait), until woken or `deadline`
    /// passes (`false`). Consumer only; only where [`Fds::can_park`].
    pub(crate) fn park(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            sys::futex_wait(word, expected, deadline)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (word, expected);
            self.wait(deadline)
        }
    }

    /// Wakes the consumer sleeping on `word` (a futex wake of one waiter).
    ///
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn unpark(&self, word: &AtomicU32) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        sys::futex_wake(word);
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = word;
    }

    /// The descriptor that is readable while a token is outstanding, once installed.
    pub(crate) fn raw_read(&self) -> Option<RawFd> {
        let fd = self.read.load(Ordering::Relaxed);
        (fd >= 0).then_some(fd)
    }
}

impl Drop for Fds {
    fn drop(&mut self) {
        let read = self.read.load(Ordering::Relaxed);
        let write = self.write.load(Ordering::Relaxed);
        let second = if write != read { write } else { -1 };
        for fd in [read, second] {
            if fd >= 0 {
                // SAFETY: we own these descriptors (created in `install`, an eventfd's
                // once) and this is the last use of them.
                unsafe { libc::close(fd) };
            }
        }
    }
}
