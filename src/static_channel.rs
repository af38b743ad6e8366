//! [`StaticChannel`]: a channel that lives in a `static`, reachable from any signal
//! handler, destructor or allocator with no allocation and no unsafe code.
//!
//! It holds the same [`Chan`] state and the same ring slots as a boxed channel, as a
//! `const` value: the ring's stamps start at zero for every slot, so `N` empty slots are a
//! `const` array, and the wake-up fd is created later, by [`StaticChannel::receiver`].
//! Until then the wake flag is `IDLE`, so producers write no fd, and values queue up (up
//! to `N`) for the receiver to take first.

use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use crate::channel::{Chan, Handle, Receiver, Sender};
use crate::error::{SendError, SendTimeoutError, TrySendError};
use crate::ring::{Slot, MAX_CAPACITY};
use crate::sync::{AtomicU8, Ordering};
use crate::waker::Backend;

/// `receiver` has not been called (or its fd could not be created).
const NO_RECEIVER: u8 = 0;
/// A `receiver` call is creating the fd.
const OPENING: u8 = 1;
/// The receiver exists or existed.
const TAKEN: u8 = 2;

/// A bounded channel of exactly `N` values that lives in a `static`.
///
/// ```
/// use sigring::StaticChannel;
///
/// static EVENTS: StaticChannel<u32, 64> = StaticChannel::new();
///
/// EVENTS.try_send(1).unwrap(); // before the receiver exists: kept, received first
/// let rx = EVENTS.receiver()?;
/// let tx = EVENTS.sender(); // an ordinary `Sender`
/// tx.send(2).unwrap();
/// assert_eq!(rx.recv(), Ok(1));
/// assert_eq!(rx.recv(), Ok(2));
/// assert!(EVENTS.receiver().is_err()); // one receiver per channel
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Rules
///
/// * [`try_send`](StaticChannel::try_send) is async-signal-safe and reentrant, exactly
///   like [`Sender::try_send`]: a signal handler, a `Drop` or a `#[global_allocator]` can
///   call it on the static directly.
/// * Values sent before [`receiver`](StaticChannel::receiver) is called are kept (up to
///   `N`; then `Full`) and received first, so handlers can be installed before the
///   consumer thread exists.
/// * `receiver` creates the wake-up fd the first time; every later call returns an
///   [`io::ErrorKind::AlreadyExists`] error (also after that receiver was dropped). It is
///   the same [`Receiver`] type as [`channel`](crate::channel)'s: `recv*`, `try_recv`,
///   iterators, `AsFd`, mio and tokio all work unchanged.
/// * Once the receiver is dropped, every send returns `Disconnected` with the value.
/// * The receiver never sees `Disconnected` because senders went away: the static itself
///   can always send. [`sender`](StaticChannel::sender) handles are ordinary [`Sender`]s;
///   dropping one, even the last, frees nothing and is async-signal-safe.
/// * Values still queued when the process exits are not dropped (statics never are), and
///   the fd stays open for the life of the process. Dropping the receiver drops what is
///   queued then; a value whose `try_send` was still between claiming its slot and
///   publishing it at that moment is accepted (`Ok`) but never dropped.
/// * `N == 0` does not compile:
///
/// ```compile_fail
/// static NONE: sigring::StaticChannel<u8, 0> = sigring::StaticChannel::new();
/// ```
///
/// Nothing here allocates: `new` is `const`, and `try_send` (every outcome), `receiver`
/// and `sender` make no allocation.
pub struct StaticChannel<T, const N: usize> {
    chan: Chan,
    slots: [Slot<T>; N],
    /// `NO_RECEIVER`, `OPENING` or `TAKEN`.
    receiver: AtomicU8,
}

// SAFETY: the slots hand `T` values from any thread to the consumer under the ring
// protocol, exactly as a boxed channel's do (`Sender<T>: Sync` for `T: Send`).
unsafe impl<T: Send, const N: usize> Sync for StaticChannel<T, N> {}

impl<T, const N: usize> StaticChannel<T, N> {
    /// Rejects `N == 0` (and capacities the ring cannot address) at compile time.
    const VALID: () = assert!(
        N > 0 && N <= MAX_CAPACITY,
        "sigring::StaticChannel: the capacity N must be at least 1 (and addressable)"
    );

    /// An empty channel, for a `static`. No fd exists until [`receiver`](Self::receiver).
    #[allow(clippy::let_unit_value)]
    pub const fn new() -> Self {
        let () = Self::VALID;
        StaticChannel {
            // The static itself counts as a sender that never goes away.
            chan: Chan::new(N, 1),
            slots: [Slot::EMPTY; N],
            receiver: AtomicU8::new(NO_RECEIVER),
        }
    }

    /// The capacity: exactly `N`. Async-signal-safe.
    pub fn capacity(&self) -> usize {
        N
    }

    /// How many values are queued (including ones being written). Async-signal-safe.
    pub fn len(&self) -> usize {
        self.chan.ring.len()
    }

    /// Whether nothing is queued. Async-signal-safe.
    pub fn is_empty(&self) -> bool {
        self.chan.ring.is_empty()
    }

    /// Whether the channel holds `N` values. Async-signal-safe.
    pub fn is_full(&self) -> bool {
        self.len() == N
    }
}

impl<T: Send, const N: usize> StaticChannel<T, N> {
    /// Sends `value` if there is room now; otherwise gives it back. The same contract as
    /// [`Sender::try_send`]: async-signal-safe, reentrant, never waits, allocates nothing.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] (counted in [`Receiver::full_rejections`]) or, once the
    /// receiver was dropped, [`TrySendError::Disconnected`].
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(&self.slots, value)
    }

    /// Sends `value`, waiting while the channel is full; see [`Sender::send`]. For ordinary
    /// threads only: not async-signal-safe.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value once the receiver was dropped.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan
            .send_until(&self.slots, value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Like [`send`](Self::send), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the value.
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        let deadline = Instant::now().checked_add(timeout);
        self.chan.send_until(&self.slots, value, deadline)
    }

    /// Like [`send`](Self::send), giving up at `deadline`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the value.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.chan.send_until(&self.slots, value, Some(deadline))
    }

    /// The channel's one receiver, with the default [`Backend`]. Creates the wake-up fd;
    /// if values were sent already, the fd is readable at once.
    ///
    /// # Errors
    ///
    /// * [`io::ErrorKind::AlreadyExists`] on every call after the first successful one
    ///   (or while another thread's first call is still running); a bare kind, with no
    ///   message, so that this path does not allocate either;
    /// * the OS error if no fd can be created (`EMFILE`, `ENFILE`); a later call may then
    ///   try again.
    pub fn receiver(&'static self) -> io::Result<Receiver<T>> {
        self.receiver_with(Backend::Auto)
    }

    /// Like [`receiver`](Self::receiver), with a chosen [`Backend`].
    ///
    /// # Errors
    ///
    /// As for [`receiver`](Self::receiver), and `Unsupported` for an eventfd off Linux.
    pub fn receiver_with(&'static self, backend: Backend) -> io::Result<Receiver<T>> {
        if self
            .receiver
            .compare_exchange(NO_RECEIVER, OPENING, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // A bare kind: `io::Error::new` with a message would allocate.
            return Err(io::ErrorKind::AlreadyExists.into());
        }
        match Receiver::open(Handle::of_static(&self.chan, &self.slots), backend) {
            Ok(rx) => {
                self.receiver.store(TAKEN, Ordering::Release);
                Ok(rx)
            }
            Err(e) => {
                self.receiver.store(NO_RECEIVER, Ordering::Release);
                Err(e)
            }
        }
    }

    /// An ordinary [`Sender`] of this channel, usable wherever a `Sender` is
    /// (`sigring::signal::forward`, the log builder, threads). Allocates nothing;
    /// async-signal-safe, and so is dropping it.
    pub fn sender(&'static self) -> Sender<T> {
        Sender::of_static(Handle::of_static(&self.chan, &self.slots))
    }
}

impl<T, const N: usize> Default for StaticChannel<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Drop for StaticChannel<T, N> {
    /// Only a `StaticChannel` that is not in a `static` is ever dropped (statics never
    /// are): it drops what is queued.
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no handle borrows a non-static channel (handles need
        // `&'static self`), so there is no other producer or consumer.
        unsafe { self.chan.ring.drain(&self.slots) };
    }
}

impl<T, const N: usize> fmt::Debug for StaticChannel<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticChannel")
            .field("capacity", &N)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}
