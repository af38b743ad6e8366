//! [`Sender`] and [`Receiver`]: the ring, the wake protocol and the waits put together.
//!
//! A channel's state ([`Chan`]: the ring's positions, the wake flag and fd, the counters and
//! the senders' wait) and its slots live either in one heap allocation shared by the
//! handles ([`channel`], [`Builder`]) or in a `static` ([`StaticChannel`](crate::StaticChannel)).
//! Every operation is written once, as a method of [`Chan`] that is handed the slots; a
//! handle only knows where the two are ([`Handle`]).

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use crate::process::Owner;
use crate::ring::{alloc_slots, PushError, Ring, Slot};
use crate::shared;
use crate::sync::{const_fn, Arc, AtomicU64, AtomicUsize, Backoff, Barrier, Ordering};
use crate::wait::{RecvWait, SendWait, Source};
use crate::waker::{Armed, Backend, Sleep, Wake, WakeRef};

/// The state one channel's handles share, wherever it lives.
pub(crate) struct Chan {
    pub(crate) ring: Ring,
    pub(crate) wake: Wake,
    /// Live `Sender` handles (plus one for a static channel itself, which can always
    /// send). The one that takes it to zero closes the ring.
    senders: AtomicUsize,
    /// `try_send` calls rejected with `Full`. Bumped by producers only on that path.
    full_rejections: CachePadded<AtomicU64>,
    /// Senders blocked in `send` until a slot frees.
    pub(crate) send_wait: SendWait,
    /// Which process the channel belongs to (see `process`).
    pub(crate) owner: Owner,
}

impl Chan {
    const_fn! {
        /// A channel of `cap` slots with `senders` sender handles, no fd yet.
        pub(crate) fn new(cap: usize, senders: usize) -> Self {
            Chan {
                ring: Ring::new(cap),
                wake: Wake::new(),
                senders: AtomicUsize::new(senders),
                full_rejections: CachePadded::new(AtomicU64::new(0)),
                send_wait: SendWait::new(),
                owner: Owner::new(),
            }
        }
    }

    /// Creates the fd and arms the wake-up for the receiver being created; if values are
    /// queued already (sent to a static channel before its receiver existed), makes the fd
    /// readable at once.
    ///
    /// The channel must stay where it is until [`Chan::close_receiver`] (it joins this
    /// process's list of owned channels, see `process`).
    pub(crate) fn open_receiver(&self, backend: Backend) -> io::Result<()> {
        Barrier::init();
        self.wake.get().open(backend)?;
        Owner::register(self);
        let tail = self.ring.rmw_tail();
        if tail.claimed || tail.closed {
            self.wake.get().post_self();
        }
        Ok(())
    }

    /// In a process forked from the owner, for every inherited channel (see `process`):
    /// every send returns `Disconnected`, and no call of this process writes the fd.
    #[cfg_attr(sigring_loom, allow(dead_code))]
    pub(crate) fn disown(&self) {
        self.ring.close();
        self.wake.get().gone();
    }

    /// Whether this channel was inherited from the process this one forked from.
    #[inline]
    pub(crate) fn is_foreign(&self) -> bool {
        self.owner.is_foreign()
    }

    /// [`Sender::try_send`] for any channel. Async-signal-safe (see there).
    #[inline]
    pub(crate) fn try_send<T>(&self, slots: &[Slot<T>], value: T) -> Result<(), TrySendError<T>> {
        match self.push(slots, value) {
            Ok(()) => Ok(()),
            Err(PushError::Full(value)) => {
                self.full_rejections.fetch_add(1, Ordering::Relaxed);
                Err(TrySendError::Full(value))
            }
            Err(PushError::Closed(value)) => Err(TrySendError::Disconnected(value)),
        }
    }

    /// One push, and the wake-up if the consumer may be asleep: every send starts here.
    /// Async-signal-safe.
    #[inline(always)]
    fn push<T>(&self, slots: &[Slot<T>], value: T) -> Result<(), PushError<T>> {
        self.ring.push(slots, value)?;
        self.wake.get().notify();
        Ok(())
    }

    /// [`Sender::send_deadline`] for any channel: waits while full. Not async-signal-safe.
    /// A value that finds room costs what `try_send` costs, inlined into the caller; only
    /// a full ring calls out to the waiting.
    #[inline]
    pub(crate) fn send_until<T>(
        &self,
        slots: &[Slot<T>],
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        match self.push(slots, value) {
            Ok(()) => Ok(()),
            Err(PushError::Closed(value)) => Err(SendTimeoutError::Disconnected(value)),
            Err(PushError::Full(value)) => self.wait_for_room(slots, value, deadline),
        }
    }

    /// [`Chan::send_until`] once the ring was found full.
    #[inline(never)]
    fn wait_for_room<T>(
        &self,
        slots: &[Slot<T>],
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send_wait.send_until(
            deadline,
            value,
            slots.len(),
            || self.ring.len(),
            || self.ring.is_closed(),
            |value| self.push(slots, value),
        )
    }

    /// A new sender handle. Async-signal-safe.
    pub(crate) fn add_sender(&self) {
        self.senders.fetch_add(1, Ordering::Relaxed);
    }

    /// A sender handle goes away; the last one closes the ring and wakes the consumer.
    /// Async-signal-safe.
    pub(crate) fn remove_sender(&self) {
        // AcqRel: the last sender's decrement acquires every earlier sender's, so all their
        // publishes happen-before the close below, and the consumer, seeing the close,
        // sees them all.
        if self.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.ring.close();
            self.wake.get().notify();
        }
    }

    /// The receiver goes away: from now on `try_send` returns `Disconnected`, blocked
    /// senders wake with their value, and what is queued now is dropped.
    ///
    /// # Safety
    ///
    /// Called by the one consumer, once, with this channel's slots.
    ///
    /// In a forked child, for a channel inherited from the parent, nothing happens: the
    /// queued values are the parent's (their destructors are not run here) and no sender of
    /// this process can be waiting (every send returns at once).
    pub(crate) unsafe fn close_receiver<T>(&self, slots: &[Slot<T>]) {
        if self.is_foreign() {
            return;
        }
        Owner::unregister(self);
        self.ring.close();
        self.wake.get().gone();
        self.send_wait.wake_if_waiting();
        // A value's destructor may itself `try_send` into this channel: it gets
        // `Disconnected`, and nothing here holds a lock it could need.
        //
        // A producer that claimed a slot before the close publishes it after the close: the
        // drain stops at that slot, and it must not return there. The value may hold a
        // `Sender` of this channel (a request carrying its reply channel): published into
        // a ring that nobody drains again, it would keep the channel, and so itself, alive
        // forever (found by `tests/core_drop.rs` under ThreadSanitizer; loom model m5
        // "receiver drop vs a value holding a sender"). So the drain waits for every claim
        // made before the close, as crossbeam-channel's `discard_all_messages` does. The
        // close is an RMW of `tail`, so no claim comes after it, and `rmw_tail` sees every
        // claim before it: once it reports nothing claimed past `head`, everything ever
        // published has been taken. The wait is for a producer between its claim and its
        // publishing store (a move and a store, no user code, no wait of its own): a
        // signal handler that interrupts it there delays this drop, as it would delay
        // `recv`. Never reached in a forked child (`is_foreign` above), where the producer
        // may be a thread that no longer exists.
        let backoff = Backoff::new();
        loop {
            // SAFETY: forwarded from the caller: the one consumer.
            unsafe { self.ring.drain(slots) };
            if !self.ring.rmw_tail().claimed {
                return;
            }
            backoff.snooze();
        }
    }

    /// How many `try_send` calls were rejected with `Full`.
    pub(crate) fn full_rejections(&self) -> u64 {
        self.full_rejections.load(Ordering::Relaxed)
    }
}

/// The consumer's view of a channel. Only a [`Receiver`] makes one, which is what makes its
/// `pop` safe: one consumer, never reentered (see [`Receiver`]).
pub(crate) struct Consumer<'a, T> {
    pub(crate) chan: &'a Chan,
    slots: &'a [Slot<T>],
}

/// What the consumer learned after arming the wake-up.
pub(crate) enum Ready<T> {
    Value(T),
    /// Nothing claimed: safe to sleep where `sleep` says. `was_armed`: the flag was armed
    /// already before this look (no token was read, nothing changed).
    Empty {
        was_armed: bool,
        sleep: Sleep,
    },
    /// A producer claimed a slot and has not published it yet; the flag is armed for
    /// `sleep`.
    Busy {
        sleep: Sleep,
    },
    Disconnected,
}

impl<T> Source<T> for Consumer<'_, T> {
    /// Takes the next value if one is published, and wakes blocked senders if there are
    /// any: one compiler barrier and one relaxed load when there are none.
    #[inline]
    fn pop(&self) -> Option<T> {
        // SAFETY: a `Consumer` exists only inside a `Receiver` method; the receiver is the
        // channel's only consumer: it is neither `Clone` nor `Sync`, and its methods are
        // documented as not callable from signal handlers, so no two pops overlap.
        let value = unsafe { self.chan.ring.pop(self.slots) }?;
        self.chan
            .send_wait
            .slot_freed(self.slots.len(), || self.chan.ring.len());
        Some(value)
    }

    /// Whether the next `pop` would return a value.
    fn head_ready(&self) -> bool {
        self.chan.ring.head_ready(self.slots)
    }

    /// After a pop found nothing: arm the wake-up, then look again with authority (see the
    /// `waker` module for why this loses no wake-up).
    fn prepare_wait(&self, sleep: Sleep) -> Ready<T> {
        let Armed { was_armed, sleep } = self.wake().arm(sleep);
        let tail = self.chan.ring.rmw_tail();
        if let Some(value) = self.pop() {
            self.wake().disarm(sleep);
            return Ready::Value(value);
        }
        // Nothing to take now: senders waiting for room get it all, now.
        self.chan.send_wait.wake_if_waiting();
        if tail.claimed {
            Ready::Busy { sleep }
        } else if tail.closed {
            Ready::Disconnected
        } else {
            Ready::Empty { was_armed, sleep }
        }
    }

    fn is_foreign(&self) -> bool {
        self.chan.is_foreign()
    }

    #[inline(always)]
    fn wake(&self) -> WakeRef<'_> {
        self.chan.wake.get()
    }

    fn full_rejections(&self) -> u64 {
        self.chan.full_rejections()
    }

    fn capacity(&self) -> usize {
        self.chan.ring.capacity()
    }

    fn len(&self) -> usize {
        self.chan.ring.len()
    }
}

/// A boxed channel: its state and slots in one allocation shared by the handles.
struct Boxed<T> {
    chan: Chan,
    slots: Box<[Slot<T>]>,
}

impl<T> Drop for Boxed<T> {
    fn drop(&mut self) {
        if self.chan.is_foreign() {
            // The parent's values: not dropped in a forked child (see `close_receiver`).
            return;
        }
        // The last handle is gone: drop what was never taken, exactly once.
        // SAFETY: `&mut self`: no producer or consumer is left, so every claimed slot was
        // published.
        unsafe { self.chan.ring.drain(&self.slots) };
    }
}

/// Where a handle's channel lives: pointers to its state and slots, valid for as long as
/// the handle exists, because the handle either holds a reference count of the boxed
/// channel they point into, or they point into a `static`.
pub(crate) struct Handle<T> {
    chan: NonNull<Chan>,
    slots: NonNull<[Slot<T>]>,
    /// Keeps a boxed channel alive; `None` for a static one.
    boxed: Option<Arc<Boxed<T>>>,
}

// SAFETY: a handle is a shared reference to a `Chan` (`Sync`: atomics and a lock) and to
// slots that hand `T` values between threads under the ring protocol; with `T: Send` it
// may move to and be used from any thread, like `Arc<Chan>` and `&[Slot<T>]` would.
unsafe impl<T: Send> Send for Handle<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Handle<T> {}

impl<T> Handle<T> {
    fn boxed(boxed: Arc<Boxed<T>>) -> Self {
        Handle {
            chan: NonNull::from(&boxed.chan),
            slots: NonNull::from(&*boxed.slots),
            boxed: Some(boxed),
        }
    }

    /// A handle to a channel in a `static`.
    #[cfg_attr(sigring_loom, allow(dead_code))]
    pub(crate) fn of_static(chan: &'static Chan, slots: &'static [Slot<T>]) -> Self {
        Handle {
            chan: NonNull::from(chan),
            slots: NonNull::from(slots),
            boxed: None,
        }
    }

    #[inline(always)]
    pub(crate) fn chan(&self) -> &Chan {
        // SAFETY: valid for as long as the handle exists (see the type's docs); only
        // shared references are ever made to it.
        unsafe { self.chan.as_ref() }
    }

    #[inline(always)]
    pub(crate) fn slots(&self) -> &[Slot<T>] {
        // SAFETY: as for `chan`.
        unsafe { self.slots.as_ref() }
    }

    fn duplicate(&self) -> Self {
        Handle {
            chan: self.chan,
            slots: self.slots,
            boxed: self.boxed.clone(),
        }
    }
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
/// assert_eq!(rx.full_rejections(), 1);
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
        let slots = alloc_slots(self.capacity)?;
        let boxed = Arc::new(Boxed {
            chan: Chan::new(self.capacity, 1),
            slots,
        });
        let handle = Handle::boxed(boxed);
        let rx = Receiver::open(handle.duplicate(), self.backend)?;
        Ok((Sender { handle }, rx))
    }
}

/// The sending half: `Clone + Send + Sync`, and safe to use from signal handlers.
///
/// # Async-signal safety
///
/// [`try_send`](Sender::try_send), [`capacity`](Sender::capacity),
/// [`len`](Sender::len), [`is_empty`](Sender::is_empty), [`is_full`](Sender::is_full) and
/// [`clone`](Clone::clone) are async-signal-safe and reentrant. Dropping a `Sender` is too,
/// unless it is the last handle of a boxed channel (the receiver already gone), because
/// that frees the buffer; a sender of a [`StaticChannel`](crate::StaticChannel) frees
/// nothing. [`send`](Sender::send) and its timed forms may sleep and take a lock: they are
/// for ordinary threads only.
///
/// # fork
///
/// A channel belongs to the process that created its receiver. In a process forked from it
/// (without exec), an inherited `Sender` is disconnected: `try_send` returns
/// [`TrySendError::Disconnected`] with the value and writes nothing to any fd, `send`
/// returns [`SendError`] at once, and dropping it changes nothing the parent can observe.
/// A channel created in the child after the fork is an ordinary channel.
pub struct Sender<T> {
    handle: Handle<T>,
}

impl<T> Sender<T> {
    /// A sender of a static channel (see [`StaticChannel::sender`](crate::StaticChannel::sender)).
    #[cfg_attr(sigring_loom, allow(dead_code))]
    pub(crate) fn of_static(handle: Handle<T>) -> Self {
        handle.chan().add_sender();
        Sender { handle }
    }
}

impl<T: Send> Sender<T> {
    /// Sends `value` if there is room now; otherwise gives it back.
    ///
    /// # Async-signal safety and reentrancy
    ///
    /// `try_send` may be called from a signal handler that interrupted *any* sigring call
    /// on the same thread (another `try_send`, a `recv`, a `send`, a drop), from a `Drop`
    /// impl, from inside a `#[global_allocator]`, and from many threads at once:
    ///
    /// * no lock, no allocation, no panic path, no `io::Error`; the only thread-local it
    ///   touches is `errno`, saved and restored around the write;
    /// * it never waits for another thread or for the context it interrupted: a slot not
    ///   yet released (the consumer mid-pop, a producer mid-push) means `Full`, not a spin.
    ///   It retries only after another producer made progress (a failed compare-and-swap,
    ///   or a slot that did not match because `tail` had moved on);
    /// * it makes at most one successful `write(2)` (`EINTR` is retried, `EAGAIN`
    ///   ignored), and only when the consumer may be asleep; a busy consumer costs it no
    ///   syscall;
    /// * it never touches the machinery of blocked senders ([`send`](Sender::send)): while
    ///   threads wait in `send` on a full channel, `try_send` returns `Full` at once.
    ///
    /// Dropping the value inside a returned error is up to the caller, as is what that
    /// drop does.
    ///
    /// # Errors
    ///
    /// * [`TrySendError::Full`] when there is no free slot now; counted in
    ///   [`Receiver::full_rejections`].
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
        self.handle.chan().try_send(self.handle.slots(), value)
    }

    /// Sends `value`, waiting while the channel is full.
    ///
    /// For ordinary threads: **not** async-signal-safe. A full channel makes it spin
    /// briefly, then sleep (no CPU use) until the receiver frees a slot or goes away.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the receiver is gone (also while waiting).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::channel(1)?;
    /// let producer = std::thread::spawn(move || {
    ///     for i in 0..10 {
    ///         tx.send(i).unwrap(); // waits whenever the one slot is taken
    ///     }
    /// });
    /// assert_eq!(rx.iter().sum::<i32>(), 45);
    /// producer.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.handle
            .chan()
            .send_until(self.handle.slots(), value, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Like [`send`](Sender::send), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (tx, _rx) = sigring::channel(1)?;
    /// tx.send(1).unwrap();
    /// let e = tx.send_timeout(2, Duration::from_millis(10)).unwrap_err();
    /// assert!(e.is_timeout());
    /// assert_eq!(e.into_inner(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        // A timeout too large for the clock is no timeout at all.
        let deadline = Instant::now().checked_add(timeout);
        self.handle
            .chan()
            .send_until(self.handle.slots(), value, deadline)
    }

    /// Like [`send`](Sender::send), giving up at `deadline` (monotonic: signals that
    /// interrupt the wait neither end it early nor extend it).
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] or [`SendTimeoutError::Disconnected`], with the value.
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.handle
            .chan()
            .send_until(self.handle.slots(), value, Some(deadline))
    }

    /// The capacity the channel was created with. Async-signal-safe.
    pub fn capacity(&self) -> usize {
        self.handle.chan().ring.capacity()
    }

    /// How many values are queued (including ones being written). Async-signal-safe.
    pub fn len(&self) -> usize {
        self.handle.chan().ring.len()
    }

    /// Whether nothing is queued. Async-signal-safe.
    pub fn is_empty(&self) -> bool {
        self.handle.chan().ring.is_empty()
    }

    /// Whether the channel holds `capacity` values. Async-signal-safe.
    pub fn is_full(&self) -> bool {
        self.len() == self.capacity()
    }

    /// How many `try_send` calls on this channel were rejected with `Full` so far, by every
    /// sender (the same count as [`Receiver::full_rejections`], readable where only a
    /// `Sender` is at hand, such as a signal handler). Async-signal-safe: one relaxed load.
    pub fn full_rejections(&self) -> u64 {
        self.handle.chan().full_rejections()
    }
}

impl<T> Clone for Sender<T> {
    /// Another handle to the same channel. Async-signal-safe.
    fn clone(&self) -> Self {
        self.handle.chan().add_sender();
        Sender {
            handle: self.handle.duplicate(),
        }
    }
}

impl<T> Drop for Sender<T> {
    /// Async-signal-safe, with one exception: the last handle of a boxed channel (every
    /// other `Sender` and the `Receiver` gone) frees the buffer and closes the fds, and
    /// drops the values still queued. A handler cannot know that another thread did not
    /// just drop the receiver, so the rule for handlers is: send through a
    /// [`StaticChannel`](crate::StaticChannel) (its senders free nothing, ever), or hold a
    /// boxed `Sender` that some other handle outlives; never let a handler own the last one.
    fn drop(&mut self) {
        self.handle.chan().remove_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("capacity", &self.handle.chan().ring.capacity())
            .finish_non_exhaustive()
    }
}

// A panic while a `Sender` is borrowed leaves the channel consistent: every operation is a
// single atomic step or a lock that tolerates poisoning, as in crossbeam-channel.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}

/// The receiving half: one consumer, `Send` but neither `Sync` nor `Clone`.
///
/// Block with [`recv`](Receiver::recv), or plug the receiver into an event loop: its fd
/// ([`AsFd`](std::os::fd::AsFd)) is readable while values may be waiting. Use it
/// level-triggered: when readable, call [`try_recv`](Receiver::try_recv) until it returns
/// [`TryRecvError::Empty`]; that `Empty` re-arms the wake-up, so the fd stops being
/// readable until the next send. The fd also becomes readable when the last [`Sender`]
/// goes.
///
/// # Not for signal handlers
///
/// The receiver's methods may sleep, read the fd and run the values' destructors; none of
/// them is async-signal-safe or reentrant, so a signal handler must not call them.
///
/// # fork
///
/// The receiver's process owns the channel. In a process forked from it (without exec),
/// the inherited `Receiver` returns `Disconnected` from `try_recv` and `recv*` without
/// reading the fd, and dropping it drops none of the queued values (they are the
/// parent's) and touches nothing the parent can observe.
pub struct Receiver<T> {
    origin: Origin<T>,
    /// How it spins and sleeps, and what it counts.
    wait: RecvWait,
    /// One consumer: `Receiver` is not `Sync`, so no two threads pop at once.
    _not_sync: PhantomData<Cell<()>>,
}

impl<T> Receiver<T> {
    /// The receiver of `handle`'s channel: creates its fd and arms it.
    pub(crate) fn open(handle: Handle<T>, backend: Backend) -> io::Result<Self> {
        handle.chan().open_receiver(backend)?;
        Ok(Receiver {
            origin: Origin::Local(handle),
            wait: RecvWait::new(),
            _not_sync: PhantomData,
        })
    }

    /// The receiver of a shared channel (`shared`), its fd created and armed.
    pub(crate) fn shared(consumer: shared::Consumer<T>) -> Self {
        Receiver {
            origin: Origin::Shared(consumer),
            wait: RecvWait::new(),
            _not_sync: PhantomData,
        }
    }

    /// The wake protocol of the receiver's channel.
    pub(crate) fn wake(&self) -> WakeRef<'_> {
        match &self.origin {
            Origin::Local(handle) => handle.chan().wake.get(),
            Origin::Shared(shared) => shared.wake(),
        }
    }
}

/// Where a [`Receiver`] takes its values from.
enum Origin<T> {
    /// An in-process channel: boxed or static.
    Local(Handle<T>),
    /// A channel across processes (`shared`).
    Shared(shared::Consumer<T>),
}

/// Runs `$body` with `$c` bound to the receiver's [`Source`]: the consumer's view of an
/// in-process channel, or a shared channel's consumer.
macro_rules! with_source {
    ($rx:expr, |$c:ident| $body:expr) => {
        match &$rx.origin {
            Origin::Local(handle) => {
                let $c = &Consumer {
                    chan: handle.chan(),
                    slots: handle.slots(),
                };
                $body
            }
            Origin::Shared(shared) => {
                let $c = shared;
                $body
            }
        }
    };
}

impl<T: Send> Receiver<T> {
    /// Takes a value if one is ready now; never blocks.
    ///
    /// `Empty` re-arms the wake-up: the fd will be readable after the next send (see
    /// [`Receiver`]). An `Empty` makes no syscall, except a `read` of the fd when a token
    /// is outstanding, and, when `try_recv` keeps finding the channel empty, on the 1st,
    /// 2nd, 4th, 8th... call in a row: that clears a stray token someone outside the
    /// protocol wrote, which would otherwise keep an event loop spinning.
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
        with_source!(self, |c| self.wait.try_recv(c))
    }

    /// Blocks until a value arrives, or every sender is gone and the channel is empty.
    ///
    /// Spins briefly, then sleeps with no CPU use and no periodic wake-ups: on Linux on the
    /// channel's wake flag (a futex: the sender that wakes it makes one system call, the
    /// receiver one to sleep), elsewhere and for a [`shared`](crate::shared) channel in
    /// `poll(2)` on the fd. Signals that interrupt the sleep (`EINTR`) are retried.
    ///
    /// # Errors
    ///
    /// [`RecvError`] when disconnected and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = sigring::channel(8)?;
    /// let t = std::thread::spawn(move || tx.send("from a thread").unwrap());
    /// assert_eq!(rx.recv(), Ok("from a thread"));
    /// t.join().unwrap();
    /// assert_eq!(rx.recv(), Err(sigring::RecvError));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn recv(&self) -> Result<T, RecvError> {
        if let Some(value) = self.take_now() {
            return Ok(value);
        }
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
    #[inline]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        if let Some(value) = self.take_now() {
            return Ok(value);
        }
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
    #[inline]
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        if let Some(value) = self.take_now() {
            return Ok(value);
        }
        self.recv_until(Some(deadline))
    }

    /// A value published in an in-process channel, taken now: the part of `recv*`
    /// inlined into the caller, a few loads and stores (see [`RecvWait::take_now`]).
    #[inline(always)]
    fn take_now(&self) -> Option<T> {
        match &self.origin {
            Origin::Local(handle) => self.wait.take_now(&Consumer {
                chan: handle.chan(),
                slots: handle.slots(),
            }),
            Origin::Shared(_) => None,
        }
    }

    /// `recv*` once [`Receiver::take_now`] found nothing: looks again, spins, sleeps.
    #[inline(never)]
    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        with_source!(self, |c| self.wait.recv_until(c, deadline))
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
    /// std::thread::spawn(move || for i in 0..3 { tx.send(i).unwrap(); });
    /// assert_eq!(rx.iter().sum::<i32>(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }
}

impl<T> Receiver<T> {
    /// How many `try_send` calls were rejected with `Full` so far (by every sender, and by
    /// a static channel's own `try_send`). Blocking sends that waited are not counted. For
    /// a [shared channel](crate::shared), the sum over its lanes, and the sends that found
    /// no free lane.
    pub fn full_rejections(&self) -> u64 {
        with_source!(self, |c| c.full_rejections())
    }

    /// The old name of [`full_rejections`](Receiver::full_rejections).
    #[deprecated(
        since = "0.2.0",
        note = "renamed to `full_rejections`: it counts `Full` rejections"
    )]
    pub fn dropped(&self) -> u64 {
        self.full_rejections()
    }

    /// Values that were sent but will never arrive: for a [shared channel](crate::shared),
    /// slots claimed by a process that died before publishing them, and what a lane held
    /// when the receiver closed it as corrupt. Always 0 for an in-process channel, where
    /// no sender can die in the middle of a send without taking the receiver with it.
    pub fn lost(&self) -> u64 {
        match &self.origin {
            Origin::Local(_) => 0,
            Origin::Shared(shared) => shared.lost(),
        }
    }

    /// The capacity the channel was created with (for a shared channel, of each lane).
    pub fn capacity(&self) -> usize {
        with_source!(self, |c| c.capacity())
    }

    /// How many values are queued (including ones being written).
    pub fn len(&self) -> usize {
        with_source!(self, |c| c.len())
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether every sender is gone (values may still be queued). A static channel's
    /// receiver is never disconnected: the static itself can always send; nor is a shared
    /// channel's (its senders live in other processes).
    pub fn is_disconnected(&self) -> bool {
        match &self.origin {
            Origin::Local(handle) => handle.chan().ring.is_closed(),
            Origin::Shared(_) => false,
        }
    }

    /// The wake-up backend this channel uses.
    pub fn backend(&self) -> Backend {
        self.wake().backend()
    }

    /// How many times [`recv`](Receiver::recv) (or its timed forms) slept and was woken.
    /// Zero growth while idle shows there are no periodic wake-ups.
    pub fn wakeups(&self) -> u64 {
        self.wait.wakeups()
    }

    /// How many wake-ups senders made so far, each one system call by a producer that
    /// found the consumer possibly asleep: a token written to the fd (`write(2)`, for an
    /// event loop, or by the receiver itself when a send was half-done), or, for a `recv`
    /// asleep on the channel's flag (Linux), one `FUTEX_WAKE`.
    pub fn wake_writes(&self) -> u64 {
        self.wake().writes()
    }
}

// As for `Sender`: no panic can leave the receiver's state half-updated (its spin policy
// and counters are plain values written in one step).
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

impl<T> Drop for Receiver<T> {
    /// Closes the channel (every later send returns `Disconnected`), wakes blocked senders
    /// and drops the values still queued, including one that a producer had begun to send
    /// before the close (it waits for that producer's last store). If one of their destructors panics, the panic
    /// propagates out of this drop and the values after it are leaked, not dropped (a
    /// second panic while unwinding would abort the process).
    fn drop(&mut self) {
        match &self.origin {
            // SAFETY: `&mut self`: this is the one consumer and no other call is running.
            Origin::Local(handle) => unsafe { handle.chan().close_receiver(handle.slots()) },
            Origin::Shared(shared) => shared.close(),
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("capacity", &self.capacity())
            .field("backend", &self.backend())
            .field("shared", &matches!(self.origin, Origin::Shared(_)))
            .finish_non_exhaustive()
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
    use std::os::fd::AsRawFd;

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
