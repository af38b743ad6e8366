//! The wake protocol: when a producer must write the fd, and how the consumer clears it.
//!
//! # States of the wake flag
//!
//! | state    | meaning |
//! |----------|---------|
//! | `IDLE`   | the consumer is awake (or, for a static channel, does not exist yet: no fd); producers write nothing |
//! | `ARMED`  | the consumer found the ring empty (or has not looked yet: the state right after [`WakeRef::open`]) and may sleep on the fd, which holds no token; the next publish (or disconnect) must write one |
//! | `POSTED` | exactly one token has been written to the fd, or is about to be |
//! | `GONE`   | no receiver in this process: it was dropped, or this is a forked child and the receiver is the parent's (`process`); nobody writes the fd any more. Final |
//!
//! | transition          | by whom | how |
//! |---------------------|---------|-----|
//! | `IDLE -> ARMED`     | consumer, in [`WakeRef::arm`] | `Release` store |
//! | `POSTED -> ARMED`   | consumer, in [`WakeRef::arm`], only after reading the token from the fd | `Release` store |
//! | `ARMED -> POSTED`   | the one producer whose CAS wins, after publishing ([`WakeRef::notify`]); the last `Sender` on disconnect; the consumer itself ([`WakeRef::post_self`]) | CAS, then one `write(2)` |
//! | `ARMED -> POSTED`   | consumer, in [`WakeRef::clear_stray_token`], when the fd is readable with no token the protocol wrote | CAS, then it reads the token |
//! | `ARMED -> IDLE`     | consumer, in [`WakeRef::disarm`], when it found a value right after arming | CAS |
//! | any `-> GONE`       | the receiver's drop, or the atfork child handler ([`WakeRef::gone`]) | store |
//!
//! Producers only ever move `ARMED -> POSTED`, by compare-and-swap, so among any number of
//! racing producers exactly one writes, and never again until the consumer has read that
//! token and re-armed. At most one token is ever outstanding: a pipe cannot fill, and the
//! fd is readable exactly while a token is there. A busy consumer leaves the flag `IDLE` or
//! `POSTED`, so producers then pay one relaxed load and no syscall.
//!
//! "Token" here means the wake-up written to the fd (a count of 1 in an eventfd, a byte in
//! a pipe); it has nothing to do with Unix signals, which only ever reach this module as
//! producers calling [`WakeRef::notify`] from their handlers.
//!
//! Every store of `ARMED` is `Release` and the producers' CAS is `AcqRel`, so a producer
//! that wins `ARMED -> POSTED` sees the descriptors the consumer installed before its
//! first arming (`fds.rs`); on x86 a `Release` store is a plain store.
//!
//! # Why no wake-up is lost
//!
//! Before sleeping, the consumer (1) makes the flag `ARMED` and then (2) reads `tail` with
//! a read-modify-write ([`crate::ring::Ring::rmw_tail`]). A producer (a) claims its slot
//! with an `AcqRel` CAS on `tail`, (b) publishes, then (c) loads the flag. Both RMWs on
//! `tail` are ordered in its modification order:
//!
//! * if the consumer's RMW (2) comes first, the producer's CAS (a) reads from `tail`'s
//!   release sequence headed by (2), so (1) happens-before (c): the producer sees `ARMED`
//!   (or `POSTED`: someone else wrote) and the token is written;
//! * if the claim (a) comes first, (2) sees `tail` past `head`: the consumer does not sleep.
//!   If the slot is not yet published ("busy"), the consumer keeps looking (spinning,
//!   yielding, or with short timed waits) or, for an external loop, writes a token to its
//!   own fd ([`WakeRef::post_self`]) so the loop comes back.
//!
//! The last `Sender`'s disconnect is the same argument with `fetch_or` of the mark bit in
//! place of the claim. This needs no `SeqCst` and no fence on the producer path.
//!
//! # The token
//!
//! A token is read only by the consumer, in [`WakeRef::arm`]. If the flag is `POSTED` but
//! the read finds nothing, the winning producer has not reached its `write(2)` yet; the
//! flag stays `POSTED` and the fd becomes readable when the write lands, so a sleeper or
//! an external loop is woken then. Only after a token was actually read does the flag go
//! back to `ARMED`, which keeps "readable" and "token outstanding" the same thing.

use std::time::Instant;
use std::{fmt, io};

use crossbeam_utils::CachePadded;

use crate::sync::{const_fn, AtomicU64, AtomicU8, Ordering};

#[cfg(all(not(sigring_loom), any(target_os = "linux", target_os = "android")))]
mod eventfd;
#[cfg(not(sigring_loom))]
mod fds;
#[cfg(sigring_loom)]
mod model;
#[cfg(not(sigring_loom))]
mod pipe;

/// The kernel object, or under loom its model: one API (`new`, `install`, `backend`,
/// `post`, `consume`, `wait`).
#[cfg(not(sigring_loom))]
use fds::Fds as Fd;
#[cfg(sigring_loom)]
use model::Model as Fd;

const IDLE: u8 = 0;
// A shared channel's mapping starts zero-filled and that is its initial state (`shared`).
const _: () = assert!(IDLE == 0);
const ARMED: u8 = 1;
const POSTED: u8 = 2;
const GONE: u8 = 3;

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

/// The wake flag: the part of the protocol that producers and the consumer share. For an
/// in-process channel it sits beside the fd in [`Wake`]; for a shared channel (`shared`) it
/// lives in the shared mapping while each process keeps the descriptors itself.
#[repr(C)]
pub(crate) struct WakeFlag {
    /// `IDLE`, `ARMED`, `POSTED` or `GONE`. Read by every push, written rarely: its own line.
    state: CachePadded<AtomicU8>,
    /// How many tokens were written (each one `write(2)`).
    writes: AtomicU64,
}

impl WakeFlag {
    const_fn! {
        /// `IDLE`: producers write nothing until the consumer arms it.
        pub(crate) fn new() -> Self {
            WakeFlag {
                state: CachePadded::new(AtomicU8::new(IDLE)),
                writes: AtomicU64::new(0),
            }
        }
    }
}

/// The wake flag and the fd it guards, for an in-process channel.
pub(crate) struct Wake {
    flag: WakeFlag,
    fd: Fd,
}

impl fmt::Debug for Wake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wake")
            .field("state", &self.flag.state.load(Ordering::Relaxed))
            .field("backend", &self.fd.backend())
            .finish_non_exhaustive()
    }
}

impl Wake {
    const_fn! {
        /// A flag with no fd yet: `IDLE`, so producers write nothing until [`WakeRef::open`].
        pub(crate) fn new() -> Self {
            Wake {
                flag: WakeFlag::new(),
                fd: Fd::new(),
            }
        }
    }

    /// The protocol's operations on this flag and fd.
    #[inline(always)]
    pub(crate) fn get(&self) -> WakeRef<'_> {
        WakeRef {
            flag: &self.flag,
            fd: &self.fd,
        }
    }
}

/// The kernel object that carries wake-ups (`fds.rs`, or `model.rs` under loom): each
/// process's own descriptors.
pub(crate) type WakeFd = Fd;

/// One channel's wake flag together with the descriptors this process uses for it: every
/// operation of the protocol. A copy of two references.
#[derive(Clone, Copy)]
pub(crate) struct WakeRef<'a> {
    flag: &'a WakeFlag,
    fd: &'a Fd,
}

impl<'a> WakeRef<'a> {
    /// The flag `flag` with the descriptors `fd` (a shared channel's pieces).
    #[cfg_attr(sigring_loom, allow(dead_code))]
    pub(crate) fn new(flag: &'a WakeFlag, fd: &'a Fd) -> Self {
        WakeRef { flag, fd }
    }

    /// Consumer side, once, when the receiver is created: creates the fd and arms the
    /// flag, so that an event loop that polls a fresh receiver before ever calling
    /// `try_recv` sees the first send. The caller must then call
    /// [`crate::ring::Ring::rmw_tail`] and [`WakeRef::post_self`] if anything is queued
    /// already (a static channel's values sent before its receiver existed).
    pub(crate) fn open(self, backend: Backend) -> io::Result<()> {
        self.fd.install(backend)?;
        self.arm();
        Ok(())
    }

    /// The backend actually in use.
    pub(crate) fn backend(self) -> Backend {
        self.fd.backend()
    }

    /// Producer side, after a publish or the last disconnect: wake the consumer if it may
    /// be asleep. One relaxed load when it is awake.
    ///
    /// Relaxed suffices: when it matters, the caller's RMW of `tail` already made the
    /// consumer's `ARMED` store happen-before this load (see the module docs).
    ///
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn notify(self) {
        if self.flag.state.load(Ordering::Relaxed) == ARMED {
            self.post_cold();
        }
    }

    /// `ARMED -> POSTED`; the winner writes the one token. Async-signal-safe.
    #[cold]
    #[inline(never)]
    fn post_cold(self) {
        if self
            .flag
            .state
            .compare_exchange(ARMED, POSTED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.flag.writes.fetch_add(1, Ordering::Relaxed);
            self.fd.post();
        }
    }

    /// Consumer side, for a slot that is claimed but not yet published when an external
    /// loop is about to poll: make the fd readable so the loop looks again.
    pub(crate) fn post_self(self) {
        self.post_cold();
    }

    /// Consumer side, after finding the ring empty: read an outstanding token (so the fd
    /// stops being readable) and make the flag `ARMED`. The caller must then call
    /// [`crate::ring::Ring::rmw_tail`] before trusting that the ring is empty. Returns
    /// whether the flag was `ARMED` already (nothing changed).
    pub(crate) fn arm(self) -> bool {
        let state = self.flag.state.load(Ordering::Relaxed);
        match state {
            // Release: publishes the fd (see the module docs); ordered before the caller's
            // `rmw_tail` RMW, which releases it again.
            IDLE => self.flag.state.store(ARMED, Ordering::Release),
            // Only the consumer leaves POSTED, so no producer races this store. If the
            // token has not landed yet (`consume` finds nothing), stay POSTED: the fd
            // becomes readable when it lands.
            POSTED if self.fd.consume() => self.flag.state.store(ARMED, Ordering::Release),
            _ => {}
        }
        state == ARMED
    }

    /// Consumer side, when the fd may be readable without a token the protocol wrote: after
    /// [`WakeRef::wait`] reported it readable, or when an event loop keeps calling `try_recv`
    /// on an armed, empty channel. If the flag is `POSTED`, a producer owns the token and
    /// the next [`WakeRef::arm`] reads it: nothing to do. If it is `ARMED`, a token there did
    /// not come from the protocol (something outside wrote the fd, e.g. a process cloned
    /// without the atfork handlers): left there it would make every later wait return at
    /// once, a busy loop. So take the flag `ARMED -> POSTED` by CAS (from then on no
    /// producer writes), read whatever is in the fd, and re-arm. The caller must then look
    /// at the ring again with [`crate::ring::Ring::rmw_tail`] before trusting that it is
    /// empty: a producer that published meanwhile saw `POSTED` and wrote nothing.
    pub(crate) fn clear_stray_token(self) {
        if self.flag.state.load(Ordering::Relaxed) == ARMED
            && self
                .flag
                .state
                .compare_exchange(ARMED, POSTED, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            // We moved the flag ourselves: no producer's token is on its way, so the fd is
            // empty once this read returns, whatever it found.
            let _ = self.fd.consume();
            self.flag.state.store(ARMED, Ordering::Release);
        }
    }

    /// Consumer side, for a flag in memory others can write (a shared channel's): a state
    /// the protocol never gives a live consumer's flag (`GONE`, or no state at all) is put
    /// back to `ARMED`, so producers write tokens again. Never needed for an in-process
    /// channel.
    pub(crate) fn repair(self) {
        if self.flag.state.load(Ordering::Relaxed) > POSTED {
            self.flag.state.store(ARMED, Ordering::Release);
        }
    }

    /// Consumer side: a value turned up right after arming; producers need not write.
    /// If a producer already moved the flag to `POSTED`, the token stays for the next
    /// [`WakeRef::arm`] to read.
    pub(crate) fn disarm(self) {
        let _ = self
            .flag
            .state
            .compare_exchange(ARMED, IDLE, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The receiver is gone (dropped, or left behind in the parent of a forked child):
    /// from now on nobody writes a token. Final.
    pub(crate) fn gone(self) {
        self.flag.state.store(GONE, Ordering::Relaxed);
    }

    /// Blocks until a token is (or was) written, or `deadline` passes (`false`).
    pub(crate) fn wait(self, deadline: Option<Instant>) -> bool {
        self.fd.wait(deadline)
    }

    /// The fd that is readable while a token is outstanding (`None` before [`WakeRef::open`]).
    #[cfg(not(sigring_loom))]
    pub(crate) fn raw_fd(self) -> Option<std::os::fd::RawFd> {
        self.fd.raw_read()
    }

    /// Under loom: a token written from outside the protocol.
    #[cfg(sigring_loom)]
    pub(crate) fn inject_stray(self) {
        self.fd.inject_stray();
    }

    /// Under loom: whether the modeled fd is readable (what `poll` would report).
    #[cfg(sigring_loom)]
    pub(crate) fn is_readable(self) -> bool {
        self.fd.is_readable()
    }

    /// How many tokens producers (and the consumer's `post_self`) wrote so far.
    pub(crate) fn writes(self) -> u64 {
        self.flag.writes.load(Ordering::Relaxed)
    }
}
