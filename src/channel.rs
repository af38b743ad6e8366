//! [`Sender`] and [`Receiver`]: the ring and the wake protocol put together.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
#[cfg(not(sigring_loom))]
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::error::{RecvError, RecvTimeoutError, TryRecvError, TrySendError};
use crate::ring::{PushError, Ring};
#[cfg(not(sigring_loom))]
use crate::spin::{SpinPolicy, BATCH_PAUSES};
use crate::sync::{Arc, AtomicU64, AtomicUsize, Ordering};
use crate::waker::{Backend, Wake};

/// What both halves share; freed (and the fds closed) when the last handle goes.
struct Shared<T> {
    ring: Ring<T>,
    wake: Wake,
    /// Live `Sender` handles. The one that takes it to zero closes the ring.
    senders: AtomicUsize,
    /// `try_send` calls rejected with `Full`. Bumped by producers only on that path.
    dropped: CachePadded<AtomicU64>,
}

/// Creates a bounded channel that holds exactly `capacity` values, with the default
/// [`Backend`] (eventfd on Linux, a self-pipe elsewhere).
///
/// # Errors
///
/// * `InvalidInput` if `capacity` is 0 or too large to address;
/// * `OutOfMemory` if the buffer cannot be allocated;
/// * the OS error if no file descriptor can be created (`EMFILE`, `ENFILE`).
///
/// Never panics on bad input.
///
/// # Examples
///
/// ```
/// let (tx, rx) = sigring::channel::<u32>(2)?;
/// tx.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert!(tx.try_send(3).unwrap_err().is_full());
/// assert_eq!(rx.recv(), Ok(1));
/// assert_eq!(rx.dropped(), 1);
///
/// assert_eq!(sigring::channel::<u32>(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T: Send>(capacity: usize) -> io::Result<(Sender<T>, Receiver<T>)> {
    Builder::new(capacity).build()
}

/// Configures a channel before creating it.
///
/// # Examples
///
/// ```
/// use sigring::{Backend, Builder};
///
/// let (tx, rx) = Builder::new(64).backend(Backend::Pipe).build::<&str>()?;
/// assert_eq!(rx.backend(), Backend::Pipe);
/// tx.try_send("hello").unwrap();
/// assert_eq!(rx.try_recv(), Ok("hello"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    capacity: usize,
    backend: Backend,
}

impl Builder {
    /// A channel that holds exactly `capacity` values.
    pub fn new(capacity: usize) -> Self {
        Builder {
            capacity,
            backend: Backend::Auto,
        }
    }

    /// Chooses the kernel object that carries wake-ups.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Creates the channel. Errors as for [`channel`].
    pub fn build<T: Send>(self) -> io::Result<(Sender<T>, Receiver<T>)> {
        let ring = Ring::with_capacity(self.capacity)?;
        let wake = Wake::new(self.backend)?;
        let shared = Arc::new(Shared {
            ring,
            wake,
            senders: AtomicUsize::new(1),
            dropped: CachePadded::new(AtomicU64::new(0)),
        });
        Ok((
            Sender {
                shared: shared.clone(),
            },
            Receiver {
                shared,
                wakeups: Cell::new(0),
                #[cfg(not(sigring_loom))]
                spin: SpinPolicy::new(),
                _not_sync: PhantomData,
            },
        ))
    }
}

/// The sending half: `Clone + Send + Sync`, and safe to use from signal handlers.
///
/// # Async-signal safety
///
/// [`try_send`](Sender::try_send), [`capacity`](Sender::capacity),
/// [`len`](Sender::len), [`is_empty`](Sender::is_empty), [`is_full`](Sender::is_full) and
/// [`clone`](Clone::clone) are async-signal-safe and reentrant. Dropping a `Sender` is too,
/// unless it is the last handle of the channel (the receiver already gone), because that
/// frees the buffer.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send> Sender<T> {
    /// Sends `value` if there is room now; otherwise gives it back.
    ///
    /// # Async-signal safety and reentrancy
    ///
    /// `try_send` may be called from a signal handler that interrupted *any* sigring call
    /// on the same thread (another `try_send`, a `recv`, a drop), from a `Drop` impl, from
    /// inside a `#[global_allocator]`, and from many threads at once:
    ///
    /// * no lock, no allocation, no thread-local, no panic path, no `io::Error`;
    /// * it never waits for another thread or for the context it interrupted: a slot not
    ///   yet released (the consumer mid-pop, a producer mid-push) means `Full`, not a spin.
    ///   It retries only after a failed compare-and-swap, which means another producer
    ///   made progress;
    /// * it makes at most one `write(2)`, and only when the consumer may be asleep; a busy
    ///   consumer costs it no syscall. `EAGAIN` is ignored, and `errno` is saved and
    ///   restored around the write.
    ///
    /// Dropping the value inside a returned error is up to the caller, as is what that
    /// drop does.
    ///
    /// # Errors
    ///
    /// * [`TrySendError::Full`] when there is no free slot now; counted in
    ///   [`Receiver::dropped`].
    /// * [`TrySendError::Disconnected`] when the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use sigring::TrySendError;
    ///
    /// let (tx, rx) = sigring::channel(1)?;
    /// assert_eq!(tx.try_send('a'), Ok(()));
    /// assert_eq!(tx.try_send('b'), Err(TrySendError::Full('b')));
    /// drop(rx);
    /// assert_eq!(tx.try_send('c'), Err(TrySendError::Disconnected('c')));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let shared = &*self.shared;
        match shared.ring.push(value) {
            Ok(()) => {
                shared.wake.notify();
                Ok(())
            }
            Err(PushError::Full(value)) => {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                Err(TrySendError::Full(value))
            }
            Err(PushError::Closed(value)) => Err(TrySendError::Disconnected(value)),
        }
    }

    /// The capacity the channel was created with. Async-signal-safe.
    pub fn capacity(&self) -> usize {
        self.shared.ring.capacity()
    }

    /// How many values are queued (including ones being written). Async-signal-safe.
    pub fn len(&self) -> usize {
        self.shared.ring.len()
    }

    /// Whether nothing is queued. Async-signal-safe.
    pub fn is_empty(&self) -> bool {
        self.shared.ring.is_empty()
    }

    /// Whether the channel holds `capacity` values. Async-signal-safe.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }
}

impl<T> Clone for Sender<T> {
    /// Another handle to the same channel. Async-signal-safe.
    fn clone(&self) -> Self {
        self.shared.senders.fetch_add(1, Ordering::Relaxed);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        // AcqRel: the last sender's decrement acquires every earlier sender's, so all their
        // publishes happen-before the close below, and the consumer, seeing the close,
        // sees them all.
        if self.shared.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.ring.close();
            self.shared.wake.notify();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.shared.ring.capacity())
            .finish_non_exhaustive()
    }
}

/// The receiving half: one consumer, `Send` but neither `Sync` nor `Clone`.
///
/// Block with [`recv`](Receiver::recv), or plug the receiver into an event loop: its fd
/// ([`AsFd`]) is readable while values may be waiting. Use it level-triggered: when
/// readable, call [`try_recv`](Receiver::try_recv) until it returns
/// [`TryRecvError::Empty`]; that `Empty` re-arms the wake-up, so the fd stops being
/// readable until the next send. The fd also becomes readable when the last [`Sender`]
/// goes.
///
/// # Not for signal handlers
///
/// The receiver's methods may sleep, read the fd and run the values' destructors; none of
/// them is async-signal-safe or reentrant, so a signal handler must not call them.
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// How many times `recv` slept on the fd and was woken.
    wakeups: Cell<u64>,
    /// How long `recv` spins before sleeping.
    #[cfg(not(sigring_loom))]
    spin: SpinPolicy,
    /// One consumer: `Receiver` is not `Sync`, so no two threads pop at once.
    _not_sync: PhantomData<Cell<()>>,
}

/// What the consumer learned after arming the wake-up.
enum Ready<T> {
    Value(T),
    /// Nothing claimed: safe to sleep on the fd.
    Empty,
    /// A producer claimed a slot and has not published it yet.
    Busy,
    Disconnected,
}

/// How often `try_recv` re-looks at a claimed, unpublished slot before asking the event loop
/// to come back (the claim-to-publish window is a handful of instructions).
#[cfg(not(sigring_loom))]
const BUSY_SPINS: u32 = 64;

impl<T: Send> Receiver<T> {
    /// Takes the next value if one is published.
    #[inline]
    fn pop(&self) -> Option<T> {
        // SAFETY: this receiver is the channel's only consumer: it is neither `Clone` nor
        // `Sync`, and its methods are documented as not callable from signal handlers, so
        // no two pops overlap.
        unsafe { self.shared.ring.pop() }
    }

    /// After a pop found nothing: arm the wake-up, then look again with authority (see the
    /// `waker` module for why this loses no wake-up).
    fn prepare_wait(&self) -> Ready<T> {
        self.shared.wake.arm();
        let tail = self.shared.ring.sync_tail();
        if let Some(value) = self.pop() {
            self.shared.wake.disarm();
            return Ready::Value(value);
        }
        if tail.claimed {
            Ready::Busy
        } else if tail.closed {
            Ready::Disconnected
        } else {
            Ready::Empty
        }
    }

    /// Takes a value if one is ready now; never blocks.
    ///
    /// `Empty` re-arms the wake-up: the fd will be readable after the next send (see
    /// [`Receiver`]). An `Empty` with no token outstanding makes no syscall.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is ready, [`TryRecvError::Disconnected`] when
    /// every sender is gone and everything queued was received.
    ///
    /// # Examples
    ///
    /// ```
    /// use sigring::TryRecvError;
    ///
    /// let (tx, rx) = sigring::channel(4)?;
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.try_send(7).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(7));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(value) = self.pop() {
            return Ok(value);
        }
        match self.prepare_wait() {
            Ready::Value(value) => Ok(value),
            Ready::Empty => Err(TryRecvError::Empty),
            Ready::Disconnected => Err(TryRecvError::Disconnected),
            Ready::Busy => {
                #[cfg(not(sigring_loom))]
                for _ in 0..BUSY_SPINS {
                    std::hint::spin_loop();
                    if let Some(value) = self.pop() {
                        self.shared.wake.disarm();
                        return Ok(value);
                    }
                }
                // The producer will publish, but may have looked at the flag before we
                // armed it: make the fd readable ourselves so the event loop looks again.
                self.shared.wake.signal_self();
                Err(TryRecvError::Empty)
            }
        }
    }

    /// Blocks until a value arrives, or every sender is gone and the channel is empty.
    ///
    /// Spins briefly, then sleeps in `poll(2)` on the fd with no CPU use and no periodic
    /// wake-ups. Signals that interrupt the sleep (`EINTR`) are retried.
    ///
    /// # Errors
    ///
    /// [`RecvError`] when disconnected and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::channel(8)?;
    /// let t = std::thread::spawn(move || tx.try_send("from a thread").unwrap());
    /// assert_eq!(rx.recv(), Ok("from a thread"));
    /// t.join().unwrap();
    /// assert_eq!(rx.recv(), Err(sigring::RecvError));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Like [`recv`](Receiver::recv), giving up after `timeout`.
    ///
    /// The deadline is computed once, on the monotonic clock: signals interrupting the
    /// wait neither end it early nor extend it.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use sigring::RecvTimeoutError;
    ///
    /// let (tx, rx) = sigring::channel::<u8>(1)?;
    /// assert_eq!(rx.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    /// drop(tx);
    /// assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Err(RecvTimeoutError::Disconnected));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        // A timeout too large for the clock is no timeout at all.
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Like [`recv`](Receiver::recv), giving up at `deadline`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] or [`RecvTimeoutError::Disconnected`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let (tx, rx) = sigring::channel(1)?;
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.recv_deadline(Instant::now() + Duration::from_secs(1)), Ok(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        if let Some(value) = self.pop() {
            #[cfg(not(sigring_loom))]
            self.spin.ready_at_once();
            return Ok(value);
        }
        #[cfg(not(sigring_loom))]
        {
            let started = match self.spin_before_sleep(deadline) {
                Ok(value) => return Ok(value),
                Err(started) => started,
            };
            let result = self.sleep_until(deadline);
            if let Some((start, spun)) = started {
                self.spin.record(start.elapsed(), spun, false);
            }
            result
        }
        #[cfg(sigring_loom)]
        self.sleep_until(deadline)
    }

    /// Looks for a value without arming the wake-up, for as long as the spin policy says
    /// it is worth it (see the `spin` module). On a miss returns when the wait started and
    /// whether it spun, for the policy to learn from (`None` in the saturated regime).
    #[cfg(not(sigring_loom))]
    fn spin_before_sleep(&self, deadline: Option<Instant>) -> Result<T, Option<(Instant, bool)>> {
        let start = Instant::now();
        if deadline.is_some_and(|d| start >= d) {
            return Err(None);
        }
        if self.spin.was_saturated() {
            // Values were flowing a moment ago: let a batch build up without touching the
            // ring, then spin and yield as crossbeam does (see the `spin` module).
            let backoff = crossbeam_utils::Backoff::new();
            for _ in 0..BATCH_PAUSES {
                std::hint::spin_loop();
            }
            while !backoff.is_completed() {
                backoff.snooze();
                if let Some(value) = self.pop() {
                    self.spin.ready_at_once();
                    return Ok(value);
                }
            }
            return Err(None);
        }
        let budget = self.spin.budget();
        if budget.is_zero() {
            return Err(Some((start, false)));
        }
        let until = deadline.map_or(start + budget, |d| d.min(start + budget));
        let mut spins = 0u32;
        loop {
            std::hint::spin_loop();
            if let Some(value) = self.pop() {
                self.spin.record(start.elapsed(), true, true);
                return Ok(value);
            }
            spins = spins.wrapping_add(1);
            // Read the clock only now and then: it costs more than a pause.
            if spins % 16 == 0 && Instant::now() >= until {
                return Err(Some((start, true)));
            }
        }
    }

    /// Arms the wake-up and sleeps on the fd until a value, the deadline or disconnection.
    fn sleep_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.prepare_wait() {
                Ready::Value(value) => return Ok(value),
                Ready::Disconnected => return Err(RecvTimeoutError::Disconnected),
                Ready::Empty => {
                    if !self.shared.wake.wait(deadline) {
                        // A value may have landed just as the time ran out.
                        return self.pop().ok_or(RecvTimeoutError::Timeout);
                    }
                    self.wakeups.set(self.wakeups.get() + 1);
                    self.shared.wake.after_wakeup();
                }
                Ready::Busy => {
                    if !self.wait_busy(deadline) {
                        return self.pop().ok_or(RecvTimeoutError::Timeout);
                    }
                }
            }
            if let Some(value) = self.pop() {
                return Ok(value);
            }
        }
    }

    /// A producer has claimed the next slot but not yet published it (it may be a thread
    /// that was preempted, or interrupted by a signal handler). Give it time without
    /// sleeping forever: the flag is armed, so its publish usually writes the fd, but it
    /// may have looked at the flag before we armed it. Returns `false` once `deadline`
    /// has passed.
    fn wait_busy(&self, deadline: Option<Instant>) -> bool {
        #[cfg(sigring_loom)]
        {
            let _ = deadline;
            crate::sync::yield_now();
            true
        }
        #[cfg(not(sigring_loom))]
        {
            for _ in 0..BUSY_SPINS {
                std::hint::spin_loop();
                if self.shared.ring.head_ready() {
                    return true;
                }
            }
            crate::sync::yield_now();
            if !self.shared.ring.head_ready() {
                let short = Instant::now() + Duration::from_millis(1);
                let until = deadline.map_or(short, |d| d.min(short));
                self.shared.wake.wait(Some(until));
            }
            deadline.map_or(true, |d| Instant::now() < d)
        }
    }

    /// An iterator over the values ready now; it never blocks (each step is a
    /// [`try_recv`](Receiver::try_recv)).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::channel(8)?;
    /// for i in 0..3 { tx.try_send(i).unwrap(); }
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// A blocking iterator that ends when every sender is gone and the channel is drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::channel(8)?;
    /// std::thread::spawn(move || for i in 0..3 { tx.try_send(i).unwrap(); });
    /// assert_eq!(rx.iter().sum::<i32>(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// How many `try_send` calls were rejected with `Full` so far.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// The capacity the channel was created with.
    pub fn capacity(&self) -> usize {
        self.shared.ring.capacity()
    }

    /// How many values are queued (including ones being written).
    pub fn len(&self) -> usize {
        self.shared.ring.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.shared.ring.is_empty()
    }

    /// Whether every sender is gone (values may still be queued).
    pub fn is_disconnected(&self) -> bool {
        self.shared.ring.is_closed()
    }

    /// The wake-up backend this channel uses.
    pub fn backend(&self) -> Backend {
        self.shared.wake.backend()
    }

    /// How many times [`recv`](Receiver::recv) (or its timed forms) slept on the fd and
    /// was woken. Zero growth while idle shows there are no periodic wake-ups.
    pub fn wakeups(&self) -> u64 {
        self.wakeups.get()
    }

    /// How many wake-up tokens were written to the fd so far: each is one `write(2)`,
    /// by a producer that found the consumer possibly asleep (or by the receiver itself
    /// for an event loop, when a send was half-done).
    pub fn wake_writes(&self) -> u64 {
        self.shared.wake.writes()
    }

    /// Under loom: whether the modeled fd is readable, as `poll` would report it.
    #[cfg(sigring_loom)]
    #[doc(hidden)]
    pub fn model_fd_readable(&self) -> bool {
        self.shared.wake.is_readable()
    }

    /// Under loom: block like `poll` with no timeout until the modeled fd is readable.
    #[cfg(sigring_loom)]
    #[doc(hidden)]
    pub fn model_poll(&self) {
        self.shared.wake.wait(None);
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // From now on `try_send` returns `Disconnected`.
        self.shared.ring.close();
        // Drop what is queued now. A value's destructor may itself `try_send` into this
        // channel: it gets `Disconnected`, and nothing here holds a lock it could need.
        // Anything published after this loop is dropped with the buffer.
        // SAFETY: `&mut self`: this is the one consumer and no other call is running.
        while let Some(value) = unsafe { self.shared.ring.pop() } {
            drop(value);
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.shared.ring.capacity())
            .field("wake", &self.shared.wake)
            .finish_non_exhaustive()
    }
}

#[cfg(not(sigring_loom))]
impl<T> AsFd for Receiver<T> {
    /// The fd that is readable while values may be waiting (or the senders are gone).
    /// Only poll it; reading or writing it breaks the wake protocol.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.shared.wake.fd()
    }
}

#[cfg(not(sigring_loom))]
impl<T> AsRawFd for Receiver<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// Iterator over the values ready now; see [`Receiver::try_iter`].
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T: Send> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Blocking iterator; see [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T: Send> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

/// Owning blocking iterator; see [`Receiver::iter`].
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T: Send> Iterator for IntoIter<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T: Send> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T: Send> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

#[cfg(all(
    test,
    not(sigring_loom),
    not(miri),
    any(target_os = "linux", target_os = "android")
))]
mod tests {
    use super::*;

    /// A token written into the fd from outside the protocol (a forked child sharing the
    /// fd, say) must be read once, not make every later wait return at once.
    #[test]
    fn stray_token_does_not_make_recv_spin() {
        let (_tx, rx) = Builder::new(4)
            .backend(Backend::EventFd)
            .build::<u8>()
            .unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty)); // flag ARMED, fd clear
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes from a valid buffer to the channel's open eventfd.
        let n = unsafe { libc::write(rx.as_raw_fd(), one.as_ptr().cast(), one.len()) };
        assert_eq!(n, 8);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(200)),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(rx.wakeups() <= 2, "woken {} times", rx.wakeups());
    }
}
