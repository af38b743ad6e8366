//! The wake protocol: when a producer must write the fd, and how the consumer clears it.
//!
//! # States of the wake flag
//!
//! | state    | meaning |
//! |----------|---------|
//! | `IDLE`   | the consumer is awake (or, for a static channel, does not exist yet: no fd); producers write nothing |
//! | `ARMED`  | the consumer found the ring empty (or has not looked yet: the state right after [`WakeRef::open`]) and may sleep on the fd, which holds no token; the next publish (or disconnect) must write one |
//! | `POSTED` | exactly one token has been written to the fd, or is about to be |
//! | `PARKED` | as `ARMED`, but the consumer may sleep on the flag itself (a futex wait: `recv` of an in-process channel on Linux, [`Sleep::Flag`]); the fd holds no token; the next publish (or disconnect) must wake the flag instead of writing the fd |
//! | `GONE`   | no receiver in this process: it was dropped, or this is a forked child and the receiver is the parent's (`process`); nobody writes the fd or wakes the flag any more. Final |
//!
//! | transition          | by whom | how |
//! |---------------------|---------|-----|
//! | `IDLE -> ARMED`, `IDLE -> PARKED` | consumer, in [`WakeRef::arm`] | `Release` store |
//! | `POSTED -> ARMED`, `POSTED -> PARKED` | consumer, in [`WakeRef::arm`], only after reading the token from the fd | `Release` store |
//! | `ARMED <-> PARKED`  | consumer, in [`WakeRef::arm`] (the other kind of sleep) and [`WakeRef::unpark`] (`recv` returns: the flag is left as an event loop expects it) | CAS |
//! | `ARMED -> POSTED`   | the one producer whose CAS wins, after publishing ([`WakeRef::notify`]); the last `Sender` on disconnect; the consumer itself ([`WakeRef::post_self`]) | CAS, then one `write(2)` |
//! | `PARKED -> IDLE`    | the one producer whose CAS wins, after publishing ([`WakeRef::notify`]); the last `Sender` on disconnect | CAS, then one `FUTEX_WAKE` |
//! | `ARMED -> POSTED`   | consumer, in [`WakeRef::clear_stray_token`], when the fd is readable with no token the protocol wrote | CAS, then it reads the token |
//! | `ARMED -> IDLE`, `PARKED -> IDLE` | consumer, in [`WakeRef::disarm`], when it found a value right after arming | CAS |
//! | any `-> GONE`       | the receiver's drop, or the atfork child handler ([`WakeRef::gone`]) | store |
//!
//! Producers only ever move `ARMED -> POSTED` or `PARKED -> IDLE`, by compare-and-swap, so
//! among any number of racing producers exactly one writes (or wakes), and never again
//! until the consumer has re-armed. At most one token is ever outstanding: a pipe cannot
//! fill, and the fd is readable exactly while a token is there (`PARKED` writes none, and
//! the consumer leaves it for `ARMED` before `recv` returns). A busy consumer leaves the
//! flag `IDLE` or `POSTED`, so producers then pay one relaxed load and no syscall: the
//! two states in which the consumer may sleep, `ARMED` and `PARKED`, are the odd ones, and
//! the producer's fast path tests that one bit.
//!
//! # Two ways to sleep
//!
//! An event loop sleeps in `poll`/`epoll` on the fd, so its wake-up must be a token in the
//! fd (`ARMED`), and reading the token back costs the consumer a second system call. `recv`
//! owns its thread's sleep, so on Linux it sleeps on the flag word itself (`PARKED`): the
//! producer's `FUTEX_WAKE` and the consumer's `FUTEX_WAIT` are the only two system calls of
//! an idle message, and nothing is left in the fd to read. The futex is private to the
//! process (a forked child's copy of the flag is its own memory; a shared channel's
//! consumer never parks: `shared`). The futex's own check ("sleep only while the word is
//! still `PARKED`", done by the kernel atomically with queueing the sleeper) closes the
//! window between the consumer's last look and its sleep, as the fd's readiness does for
//! `poll`.
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
//! Before sleeping, the consumer (1) makes the flag `ARMED` (or `PARKED`) and then (2) reads `tail` with
//! a read-modify-write ([`crate::ring::Ring::rmw_tail`]). A producer (a) claims its slot
//! with an `AcqRel` CAS on `tail`, (b) publishes, then (c) loads the flag. Both RMWs on
//! `tail` are ordered in its modification order:
//!
//! * if the consumer's RMW (2) comes first, the producer's CAS (a) reads from `tail`'s
//!   release sequence headed by (2), so (1) happens-before (c): the producer sees `ARMED`
//!   or `PARKED` (or `POSTED`/`IDLE` after another producer's CAS: someone else wrote or
//!   woke) and the token is written, or the flag woken;
//! * if the claim (a) comes first, (2) sees `tail` past `head`: the consumer does not sleep.
//!   If the slot is not yet published ("busy"), the consumer keeps looking (spinning,
//!   yielding, or with short timed waits) or, for an external loop, writes a token to its
//!   own fd ([`WakeRef::post_self`]) so the loop comes back.
//!
//! A producer whose CAS fails because the consumer switched the kind of sleep (`ARMED <->
//! PARKED`) tries again with the state it found: the consumer moves between the two only
//! while it arms or returns, so the retry ends as soon as the consumer makes progress (and
//! a handler that interrupted the consumer's own thread sees the state stand still).
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

use crate::sync::{const_fn, AtomicU32, AtomicU64, Ordering};

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

const IDLE: u32 = 0;
// A shared channel's mapping starts zero-filled and that is its initial state (`shared`).
const _: () = assert!(IDLE == 0);
const ARMED: u32 = 1;
const POSTED: u32 = 2;
const PARKED: u32 = 3;
const GONE: u32 = 4;
/// Set exactly in the states in which the consumer may be asleep: a producer that
/// published must then wake it.
const MAY_SLEEP: u32 = 1;
const _: () = assert!(
    ARMED & MAY_SLEEP != 0 && PARKED & MAY_SLEEP != 0 && (IDLE | POSTED | GONE) & MAY_SLEEP == 0
);

/// Where the consumer sleeps once it has armed the flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sleep {
    /// In `poll(2)` on the fd (`ARMED`): what an event loop does, and every sleep of a
    /// shared channel's consumer or off Linux.
    Fd,
    /// On the flag word, a futex wait (`PARKED`): `recv` of an in-process channel on Linux.
    Flag,
}

/// What [`WakeRef::arm`] did.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Armed {
    /// The flag was armed already for this kind of sleep: nothing changed.
    pub(crate) was_armed: bool,
    /// Where the consumer must sleep: as asked, except [`Sleep::Fd`] when a token is on
    /// its way to the fd (the flag stays `POSTED`) or the platform has no futex.
    pub(crate) sleep: Sleep,
}

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
    /// `IDLE`, `ARMED`, `POSTED`, `PARKED` or `GONE`. Read by every push, written rarely:
    /// its own line. 32 bits: a futex word (`PARKED`).
    state: CachePadded<AtomicU32>,
    /// How many tokens were written (each one `write(2)`).
    writes: AtomicU64,
}

impl WakeFlag {
    const_fn! {
        /// `IDLE`: producers write nothing until the consumer arms it.
        pub(crate) fn new() -> Self {
            WakeFlag {
                state: CachePadded::new(AtomicU32::new(IDLE)),
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
        self.arm(Sleep::Fd);
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
    /// consumer's `ARMED` or `PARKED` store happen-before this load (see the module docs).
    ///
    /// Async-signal-safe; preserves `errno`.
    #[inline]
    pub(crate) fn notify(self) {
        let state = self.flag.state.load(Ordering::Relaxed);
        if state & MAY_SLEEP != 0 {
            self.wake_cold(state);
        }
    }

    /// `ARMED -> POSTED` (the winner writes the one token) or `PARKED -> IDLE` (the winner
    /// wakes the flag), starting from `state`, the flag as last seen. Async-signal-safe;
    /// preserves `errno`. Lock-free: it tries again only when the consumer switched between
    /// `ARMED` and `PARKED` meanwhile (see the module docs).
    #[cold]
    #[inline(never)]
    fn wake_cold(self, mut state: u32) {
        loop {
            let (next, parked) = match state {
                ARMED => (POSTED, false),
                PARKED => (IDLE, true),
                _ => return,
            };
            match self
                .flag
                .state
                .compare_exchange(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.flag.writes.fetch_add(1, Ordering::Relaxed);
                    if parked {
                        self.fd.unpark(&self.flag.state);
                    } else {
                        self.fd.post();
                    }
                    return;
                }
                Err(now) => state = now,
            }
        }
    }

    /// Consumer side, for a slot that is claimed but not yet published when an external
    /// loop is about to poll: make the fd readable so the loop looks again.
    pub(crate) fn post_self(self) {
        if self.flag.state.load(Ordering::Relaxed) == ARMED {
            self.wake_cold(ARMED);
        }
    }

    /// Consumer side, after finding the ring empty: read an outstanding token (so the fd
    /// stops being readable) and make the flag `ARMED` (to sleep on the fd) or `PARKED`
    /// (on the flag), as `sleep` asks. The caller must then call
    /// [`crate::ring::Ring::rmw_tail`] before trusting that the ring is empty, and sleep
    /// where the result says.
    pub(crate) fn arm(self, sleep: Sleep) -> Armed {
        let sleep = if self.fd.can_park() { sleep } else { Sleep::Fd };
        let target = match sleep {
            Sleep::Fd => ARMED,
            Sleep::Flag => PARKED,
        };
        let mut state = self.flag.state.load(Ordering::Relaxed);
        loop {
            match state {
                // Release: publishes the fd (see the module docs); ordered before the
                // caller's `rmw_tail` RMW, which releases it again. Producers never leave
                // IDLE, so no CAS is needed.
                IDLE => self.flag.state.store(target, Ordering::Release),
                // Only the consumer leaves POSTED, so no producer races this store. If the
                // token has not landed yet (`consume` finds nothing), stay POSTED: the fd
                // becomes readable when it lands, so that is where to sleep.
                POSTED => {
                    if !self.fd.consume() {
                        return Armed {
                            was_armed: false,
                            sleep: Sleep::Fd,
                        };
                    }
                    self.flag.state.store(target, Ordering::Release);
                }
                // The other kind of sleep: a producer may be taking the flag (CAS), so
                // take it by CAS too; if the producer won, look at what it left.
                ARMED | PARKED if state != target => {
                    if let Err(now) = self.flag.state.compare_exchange(
                        state,
                        target,
                        Ordering::Release,
                        Ordering::Relaxed,
                    ) {
                        state = now;
                        continue;
                    }
                }
                // Armed already as asked, or GONE.
                _ => {}
            }
            return Armed {
                was_armed: state == target,
                sleep,
            };
        }
    }

    /// Consumer side, when `recv` returns: a flag left `PARKED` becomes `ARMED`, so that
    /// the fd is again where the next publish wakes the consumer, as an event loop
    /// polling it expects (the fd holds no token: none is written while `PARKED`). One
    /// relaxed load when the flag is not `PARKED` (a producer woke it: `IDLE`).
    pub(crate) fn unpark(self) {
        if self.flag.state.load(Ordering::Relaxed) == PARKED {
            // A failed CAS means a producer took the flag (`PARKED -> IDLE`) and its value
            // is published: `IDLE` is right for a consumer that is awake.
            let _ = self.flag.state.compare_exchange(
                PARKED,
                ARMED,
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
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
    /// the protocol never gives a live consumer's flag (`GONE`; `PARKED`, since a shared
    /// channel's consumer sleeps only on the fd; or no state at all) is put back to
    /// `ARMED`, so producers write tokens again. Never needed for an in-process
    /// channel.
    pub(crate) fn repair(self) {
        if self.flag.state.load(Ordering::Relaxed) > POSTED {
            self.flag.state.store(ARMED, Ordering::Release);
        }
    }

    /// Consumer side: a value turned up right after arming for `sleep`; producers need
    /// not write. If a producer already moved the flag to `POSTED`, the token stays for the
    /// next [`WakeRef::arm`] to read; if it moved `PARKED -> IDLE`, its wake-up finds nobody
    /// asleep (or ends a later wait early, which looks again).
    pub(crate) fn disarm(self, sleep: Sleep) {
        let armed = match sleep {
            Sleep::Fd => ARMED,
            Sleep::Flag => PARKED,
        };
        let _ = self
            .flag
            .state
            .compare_exchange(armed, IDLE, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The receiver is gone (dropped, or left behind in the parent of a forked child):
    /// from now on nobody writes a token. Final.
    pub(crate) fn gone(self) {
        self.flag.state.store(GONE, Ordering::Relaxed);
    }

    /// Blocks until a token is (or was) written to the fd ([`Sleep::Fd`]), or the flag is
    /// no longer `PARKED` ([`Sleep::Flag`]), or `deadline` passes (`false`). May return
    /// `true` early (a spurious wake-up): the caller looks again.
    pub(crate) fn wait(self, deadline: Option<Instant>, sleep: Sleep) -> bool {
        match sleep {
            Sleep::Fd => self.fd.wait(deadline),
            Sleep::Flag => self.fd.park(&self.flag.state, PARKED, deadline),
        }
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

    /// How many wake-ups producers (and the consumer's `post_self`) made so far: tokens
    /// written to the fd and flags woken.
    pub(crate) fn writes(self) -> u64 {
        self.flag.writes.load(Ordering::Relaxed)
    }
}
