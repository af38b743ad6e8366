//! The wake protocol: when a producer must write the fd, and how the consumer clears it.
//!
//! # States of the wake flag
//!
//! | state      | meaning                                                        |
//! |------------|----------------------------------------------------------------|
//! | `IDLE`     | the consumer is awake; producers write nothing |
//! | `ARMED`    | the consumer found the ring empty (or has not looked yet: the initial state) and may sleep on the fd, which holds no token; the next publish (or disconnect) must write one |
//! | `SIGNALED` | exactly one token has been written to the fd, or is about to be |
//!
//! | transition            | by whom                                   | how |
//! |-----------------------|-------------------------------------------|-----|
//! | `IDLE -> ARMED`       | consumer, in [`Wake::arm`]                 | store |
//! | `SIGNALED -> ARMED`   | consumer, in [`Wake::arm`], only after reading the token from the fd | store |
//! | `ARMED -> SIGNALED`   | the one producer whose CAS wins, after publishing ([`Wake::notify`]); the last `Sender` on disconnect; the consumer itself ([`Wake::signal_self`]) | CAS, then one `write(2)` |
//! | `ARMED -> SIGNALED`   | consumer, in [`Wake::after_wakeup`], when woken by a token the protocol did not write | CAS, then it reads the token |
//! | `ARMED -> IDLE`       | consumer, in [`Wake::disarm`], when it found a value right after arming | CAS |
//!
//! Producers only ever move `ARMED -> SIGNALED`, by compare-and-swap, so among any number of
//! racing producers exactly one writes, and never again until the consumer has read that
//! token and re-armed. At most one token is ever outstanding: a pipe cannot fill, and the
//! fd is readable exactly while a token is there. A busy consumer leaves the flag `IDLE` or
//! `SIGNALED`, so producers then pay one relaxed load and no syscall.
//!
//! # Why no wake-up is lost
//!
//! Before sleeping, the consumer (1) makes the flag `ARMED` and then (2) reads `tail` with
//! a read-modify-write ([`crate::ring::Ring::sync_tail`]). A producer (a) claims its slot
//! with an `AcqRel` CAS on `tail`, (b) publishes, then (c) loads the flag. Both RMWs on
//! `tail` are ordered in its modification order:
//!
//! * if the consumer's RMW (2) comes first, the producer's CAS (a) reads from `tail`'s
//!   release sequence headed by (2), so (1) happens-before (c): the producer sees `ARMED`
//!   (or `SIGNALED`: someone else wrote) and the token is written;
//! * if the claim (a) comes first, (2) sees `tail` past `head`: the consumer does not sleep.
//!   If the slot is not yet published ("busy"), the consumer keeps looking (spinning,
//!   yielding, or with short timed waits) or, for an external loop, writes a token to its
//!   own fd ([`Wake::signal_self`]) so the loop comes back.
//!
//! The last `Sender`'s disconnect is the same argument with `fetch_or` of the mark bit in
//! place of the claim. This needs no `SeqCst` and no fence on the producer path.
//!
//! # The token
//!
//! A token is read only by the consumer, in [`Wake::arm`]. If the flag is `SIGNALED` but
//! the read finds nothing, the winning producer has not reached its `write(2)` yet; the
//! flag stays `SIGNALED` and the fd becomes readable when the write lands, so a sleeper or
//! an external loop is woken then. Only after a token was actually read does the flag go
//! back to `ARMED`, which keeps "readable" and "token outstanding" the same thing.

#[cfg(not(sigring_loom))]
use std::os::fd::BorrowedFd;
use std::time::Instant;
use std::{fmt, io};

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicU64, AtomicU8, Ordering};

#[cfg(all(not(sigring_loom), any(target_os = "linux", target_os = "android")))]
mod eventfd;
#[cfg(sigring_loom)]
mod model;
#[cfg(not(sigring_loom))]
mod pipe;

const IDLE: u8 = 0;
const ARMED: u8 = 1;
const SIGNALED: u8 = 2;

/// Which kernel object carries wake-ups from producers to the consumer.
///
/// Chosen with [`Builder::backend`](crate::Builder::backend); both backends behave the
/// same, the eventfd uses one descriptor instead of two.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// `eventfd` on Linux and Android, the self-pipe elsewhere. Building with
    /// `--cfg sigring_force_pipe` makes this the self-pipe everywhere (for testing).
    Auto,
    /// An `eventfd(2)`. Linux and Android only; elsewhere `build` returns `Unsupported`.
    EventFd,
    /// A self-pipe: portable to every Unix.
    Pipe,
}

/// The kernel object (or, under loom, its model).
enum Fd {
    #[cfg(all(not(sigring_loom), any(target_os = "linux", target_os = "android")))]
    EventFd(eventfd::EventFd),
    #[cfg(not(sigring_loom))]
    Pipe(pipe::Pipe),
    #[cfg(sigring_loom)]
    Model(model::Model),
}

/// Dispatches one call to whichever backend is in use.
macro_rules! on_fd {
    ($fd:expr, $b:ident => $e:expr) => {
        match $fd {
            #[cfg(all(not(sigring_loom), any(target_os = "linux", target_os = "android")))]
            Fd::EventFd($b) => $e,
            #[cfg(not(sigring_loom))]
            Fd::Pipe($b) => $e,
            #[cfg(sigring_loom)]
            Fd::Model($b) => $e,
        }
    };
}

impl Fd {
    fn new(backend: Backend) -> io::Result<(Fd, Backend)> {
        #[cfg(sigring_loom)]
        {
            let _ = backend;
            Ok((Fd::Model(model::Model::new()?), Backend::Auto))
        }
        #[cfg(not(sigring_loom))]
        {
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
            if use_eventfd {
                return Ok((Fd::EventFd(eventfd::EventFd::new()?), Backend::EventFd));
            }
            let _ = use_eventfd;
            Ok((Fd::Pipe(pipe::Pipe::new()?), Backend::Pipe))
        }
    }
}

/// The wake flag and the fd it guards.
pub(crate) struct Wake {
    /// `IDLE`, `ARMED` or `SIGNALED`. Read by every push, written rarely: its own line.
    state: CachePadded<AtomicU8>,
    /// How many tokens were written (each one `write(2)`).
    writes: AtomicU64,
    fd: Fd,
    backend: Backend,
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wake")
            .field("state", &self.state.load(Ordering::Relaxed))
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Wake {
    pub(crate) fn new(backend: Backend) -> io::Result<Self> {
        let (fd, backend) = Fd::new(backend)?;
        Ok(Wake {
            // ARMED: an event loop may poll a fresh receiver before ever calling
            // `try_recv`; the first send must make the fd readable for it.
            state: CachePadded::new(AtomicU8::new(ARMED)),
            writes: AtomicU64::new(0),
            fd,
            backend,
        })
    }

    /// The backend actually in use.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// Producer side, after a publish or the last disconnect: wake the consumer if it may
    /// be asleep. One relaxed load when it is awake.
    ///
    /// Relaxed suffices: when it matters, the caller's RMW of `tail` already made the
    /// consumer's `ARMED` store happen-before this load (see the module docs).
    ///
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn notify(&self) {
        if self.state.load(Ordering::Relaxed) == ARMED {
            self.signal_cold();
        }
    }

    /// `ARMED -> SIGNALED`; the winner writes the one token. Async-signal-safe.
    #[cold]
    #[inline(never)]
    fn signal_cold(&self) {
        if self
            .state
            .compare_exchange(ARMED, SIGNALED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.writes.fetch_add(1, Ordering::Relaxed);
            on_fd!(&self.fd, b => b.signal());
        }
    }

    /// Consumer side, for a slot that is claimed but not yet published when an external
    /// loop is about to poll: make the fd readable so the loop looks again.
    pub(crate) fn signal_self(&self) {
        self.signal_cold();
    }

    /// Consumer side, after finding the ring empty: read an outstanding token (so the fd
    /// stops being readable) and make the flag `ARMED`. The caller must then call
    /// [`crate::ring::Ring::sync_tail`] before trusting that the ring is empty.
    pub(crate) fn arm(&self) {
        match self.state.load(Ordering::Relaxed) {
            // Ordered before the caller's `sync_tail` RMW, which releases it.
            IDLE => self.state.store(ARMED, Ordering::Relaxed),
            SIGNALED => {
                // Only the consumer leaves SIGNALED, so no producer races these stores.
                // If the token has not landed yet, stay SIGNALED: the fd becomes readable
                // when it lands.
                if on_fd!(&self.fd, b => b.consume()) {
                    self.state.store(ARMED, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }

    /// Consumer side, after [`Wake::wait`] reported the fd readable. Normally the flag is
    /// then `SIGNALED` and the next [`Wake::arm`] reads the token. If it is still `ARMED`,
    /// the token did not come from the protocol (something outside wrote the fd, e.g. a
    /// forked child sharing it): left there it would make every later wait return at once,
    /// a busy loop. Take the token as if a producer had signaled: `ARMED -> SIGNALED` by
    /// CAS (so no producer writes meanwhile), read it, back to `ARMED`. If the CAS fails a
    /// producer owns the token and the normal path applies.
    pub(crate) fn after_wakeup(&self) {
        if self.state.load(Ordering::Relaxed) == ARMED
            && self
                .state
                .compare_exchange(ARMED, SIGNALED, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // With the flag SIGNALED, `arm` reads the stray token and re-arms.
            self.arm();
        }
    }

    /// Consumer side: a value turned up right after arming; producers need not write.
    /// If a producer already moved the flag to `SIGNALED`, the token stays for the next
    /// [`Wake::arm`] to read.
    pub(crate) fn disarm(&self) {
        let _ = self
            .state
            .compare_exchange(ARMED, IDLE, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Blocks until a token is (or was) written, or `deadline` passes (`false`).
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        #[cfg(sigring_loom)]
        {
            on_fd!(&self.fd, b => b.wait(deadline))
        }
        #[cfg(not(sigring_loom))]
        {
            crate::sys::wait_readable(self.fd(), deadline)
        }
    }

    /// The fd that is readable while a token is outstanding.
    #[cfg(not(sigring_loom))]
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        on_fd!(&self.fd, b => b.read_fd())
    }

    /// Under loom: whether the modeled fd is readable (what `poll` would report).
    #[cfg(sigring_loom)]
    pub(crate) fn is_readable(&self) -> bool {
        on_fd!(&self.fd, b => b.is_readable())
    }

    /// How many tokens producers (and the consumer's `signal_self`) wrote so far.
    pub(crate) fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
}
