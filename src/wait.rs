//! Waiting: how the receiver spins and sleeps for a value ([`RecvWait`]), and how senders
//! sleep for room ([`SendWait`]).
//!
//! # The receiver
//!
//! `recv` takes a value if one is there; otherwise it spins for as long as the spin policy
//! (`spin.rs`) says values have lately been worth waiting for, then arms the wake-up and
//! sleeps in `poll(2)` on the fd (the wake protocol is in `waker`). A slot that a producer
//! has claimed but not yet published ("busy") is waited out: a short spin, a yield, then
//! timed waits of 1 ms on the fd, never a sleep without end (the producer may have looked at
//! the flag before it was armed and will write no token). `try_recv` never sleeps: for a
//! busy slot it spins briefly and then makes the fd readable itself, so an event loop comes
//! back.
//!
//! # Blocked senders
//!
//! `send` on a full channel spins briefly (crossbeam's `Backoff`), then sleeps on a condition
//! variable until the consumer frees a slot, the receiver goes, or the deadline passes.
//! `try_send` and signal handlers never come here.
//!
//! | state of a sender | meaning | moved by |
//! |---|---|---|
//! | trying | pushing; not counted in `registered` | itself |
//! | registered | counted in `registered`, holds the lock, re-checks the ring | itself (`fetch_add` under the lock) |
//! | asleep | waits on the condition variable for `round` to change | the consumer: `round += 1` and `registered = 0` under the lock, then `notify_all` |
//! | timed out | leaves; takes itself out of `registered` if no round has counted it out | itself, under the lock |
//!
//! The consumer, after every value it takes (`slot_freed`), runs the light side of an
//! asymmetric barrier (`sync::Barrier`: a compiler barrier when the kernel offers
//! `membarrier(2)`) and loads `registered`; only if it is non-zero does it count the value,
//! and once half the ring has been freed since the last round it takes the lock and wakes
//! every sleeper. So when nobody waits a received value costs one relaxed load, and when
//! senders do wait, one round (a lock and a `notify_all`) serves half a ring of values,
//! not one: with many producers on few CPUs, waking all of them for every value would keep
//! the scheduler busy with threads that find the ring full again. The consumer also runs a
//! round, whatever it counted, when it finds the ring empty or busy (`wake_if_waiting`,
//! from `prepare_wait`) and when it goes away.
//!
//! Only the first sender to register makes the heavy side of the barrier (a
//! `membarrier(2)` system call): while others are registered, and so asleep (the lock is
//! held from registering until sleeping), a round is owed to them anyway, and it wakes
//! every sender registered by then.
//!
//! The price: a blocked sender is woken when half the ring is free (or the consumer ran
//! out of values, or left), not at the first free slot. It sleeps only on a full ring, so
//! half of it is always there for the consumer to take while the sender sleeps; a
//! `send_timeout` can expire while fewer than half the slots were free.
//!
//! **No lost wake-up.** A sender registers (`registered += 1`), runs the heavy side of the
//! barrier, then tries the ring once more before sleeping. The consumer frees a slot (its
//! store to the stamp), runs the light side, then loads `registered`. The barrier pair
//! orders each side's store before its load against the other side, so at least one of
//! them sees the other's store: either the sender's re-check finds the freed slot (and
//! does not sleep), or the consumer sees `registered > 0` and takes the lock. The sender
//! holds the lock from registering until the condition variable releases it, so the
//! consumer's wake-up round comes after the sender is asleep and wakes it. A receiver
//! that goes away closes the ring (an RMW of `tail`, the store of this argument) and then
//! does the same as after a freed slot, so sleeping senders wake, see the ring closed and
//! return their value.
//!
//! Wake-ups are broadcast (every sleeper wakes and retries): a woken sender that finds the
//! ring full again (another sender, or a handler's `try_send`, took the slot) registers
//! again. A broadcast never leaves a sender asleep beside a free slot, which waking only
//! one could (a sender woken at its deadline would take the wake-up with it).

use std::cell::Cell;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::channel::Ready;
use crate::error::{RecvTimeoutError, SendTimeoutError, TryRecvError};
use crate::ring::PushError;
use crate::spin::{SpinPolicy, BATCH_PAUSES};
use crate::sync::{self, const_fn, AtomicUsize, Backoff, Barrier, Condvar, Mutex, Ordering};
use crate::waker::WakeRef;

/// How long `recv` waits on the fd at a time while a slot is claimed but unpublished.
const BUSY_WAIT: Duration = Duration::from_millis(1);

/// What the receiver's waiting needs from a channel: the consumer's view of an in-process
/// channel (`channel::Consumer`) or of a shared one (`shared`).
pub(crate) trait Source<T> {
    /// Whether the channel was inherited from the parent of this process (see `process`).
    fn is_foreign(&self) -> bool;
    /// Takes the next value if one is published.
    fn pop(&self) -> Option<T>;
    /// Whether the next `pop` would return a value.
    fn head_ready(&self) -> bool;
    /// After a pop found nothing: arm the wake-up, then look again with authority.
    fn prepare_wait(&self) -> Ready<T>;
    /// The wake protocol's flag and this process's descriptors.
    fn wake(&self) -> WakeRef<'_>;
    /// When a sleep on the fd that may last until `deadline` must end at the latest to look
    /// at the channel again. An in-process channel sleeps until `deadline`; a shared one
    /// wakes now and then to check its mapping (see `shared`).
    fn wake_by(&self, deadline: Option<Instant>) -> Option<Instant> {
        deadline
    }
    /// How many `try_send` calls were rejected with `Full`.
    fn full_rejections(&self) -> u64;
    /// The capacity (of each lane, for a shared channel).
    fn capacity(&self) -> usize;
    /// How many positions are claimed and not yet taken.
    fn len(&self) -> usize;
}

/// The receiver's waiting state: its spin policy and what it counts. Consumer-only.
#[derive(Debug)]
pub(crate) struct RecvWait {
    /// How long `recv` spins before sleeping.
    spin: SpinPolicy,
    /// How many times `recv` slept on the fd and was woken.
    wakeups: Cell<u64>,
    /// `try_recv` calls in a row that found the channel empty with the flag armed already.
    idle_empties: Cell<u32>,
}

impl RecvWait {
    pub(crate) fn new() -> Self {
        RecvWait {
            spin: SpinPolicy::new(),
            wakeups: Cell::new(0),
            idle_empties: Cell::new(0),
        }
    }

    pub(crate) fn wakeups(&self) -> u64 {
        self.wakeups.get()
    }

    /// `Receiver::try_recv`.
    pub(crate) fn try_recv<T>(&self, c: &impl Source<T>) -> Result<T, TryRecvError> {
        if c.is_foreign() {
            return Err(TryRecvError::Disconnected);
        }
        if let Some(value) = c.pop() {
            self.idle_empties.set(0);
            return Ok(value);
        }
        match c.prepare_wait() {
            Ready::Empty { was_armed: true } => {
                // Empty again, with nothing changed since the last look. In an event loop
                // that calls `try_recv` only when the fd is readable, that means a token the
                // protocol did not write (a stray one): read it, or the loop would spin on
                // it. A busy-poll loop gets here on every call: look only on the 1st, 2nd,
                // 4th, 8th... call in a row, so it pays a vanishing number of `read`s.
                let n = self.idle_empties.get().saturating_add(1);
                self.idle_empties.set(n);
                if !n.is_power_of_two() {
                    return Err(TryRecvError::Empty);
                }
                c.wake().clear_stray_token();
                // Look again: a value published while the flag was taken wrote no token.
                self.ready_now(c, c.prepare_wait())
            }
            ready => {
                self.idle_empties.set(0);
                self.ready_now(c, ready)
            }
        }
    }

    /// What `try_recv` returns for what `prepare_wait` found.
    fn ready_now<T>(&self, c: &impl Source<T>, ready: Ready<T>) -> Result<T, TryRecvError> {
        match ready {
            Ready::Value(value) => {
                self.idle_empties.set(0);
                Ok(value)
            }
            Ready::Empty { .. } => Err(TryRecvError::Empty),
            Ready::Disconnected => Err(TryRecvError::Disconnected),
            Ready::Busy => {
                for _ in 0..sync::BUSY_SPINS {
                    sync::spin_loop();
                    if let Some(value) = c.pop() {
                        c.wake().disarm();
                        self.idle_empties.set(0);
                        return Ok(value);
                    }
                }
                // The producer will publish, but may have looked at the flag before we
                // armed it: make the fd readable ourselves so the event loop looks again.
                c.wake().post_self();
                Err(TryRecvError::Empty)
            }
        }
    }

    /// `Receiver::recv*`: a value, `Disconnected` when drained, or `Timeout` at `deadline`.
    pub(crate) fn recv_until<T>(
        &self,
        c: &impl Source<T>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        if c.is_foreign() {
            return Err(RecvTimeoutError::Disconnected);
        }
        if let Some(value) = c.pop() {
            self.spin.ready_at_once();
            return Ok(value);
        }
        let started = Instant::now();
        let spun = match self.spin_before_sleep(c, started, deadline) {
            Spin::Caught(value) => return Ok(value),
            Spin::Missed { spun } => spun,
            Spin::Saturated => None,
        };
        let result = self.sleep_until(c, deadline);
        if let Some(spun) = spun {
            self.spin.record(started.elapsed(), spun, false);
        }
        result
    }

    /// Looks for a value without arming the wake-up, for as long as the spin policy says
    /// it is worth it (see `spin.rs`).
    fn spin_before_sleep<T>(
        &self,
        c: &impl Source<T>,
        start: Instant,
        deadline: Option<Instant>,
    ) -> Spin<T> {
        if sync::passed(deadline) {
            return Spin::Saturated;
        }
        if self.spin.was_saturated() {
            // Values were flowing a moment ago: let a batch build up without touching the
            // ring, then spin and yield as crossbeam does (see `spin.rs`).
            for _ in 0..BATCH_PAUSES {
                sync::spin_loop();
            }
            let backoff = Backoff::new();
            while !backoff.is_completed() {
                backoff.snooze();
                if let Some(value) = c.pop() {
                    self.spin.ready_at_once();
                    return Spin::Caught(value);
                }
            }
            return Spin::Saturated;
        }
        let budget = self.spin.budget();
        if budget.is_zero() {
            return Spin::Missed { spun: Some(false) };
        }
        let until = deadline.map_or(start + budget, |d| d.min(start + budget));
        let mut spins = 0u32;
        loop {
            sync::spin_loop();
            if let Some(value) = c.pop() {
                self.spin.record(start.elapsed(), true, true);
                return Spin::Caught(value);
            }
            spins = spins.wrapping_add(1);
            // Read the clock only now and then: it costs more than a pause.
            if spins % 16 == 0 && Instant::now() >= until {
                return Spin::Missed { spun: Some(true) };
            }
        }
    }

    /// Arms the wake-up and sleeps on the fd until a value, the deadline or disconnection.
    fn sleep_until<T>(
        &self,
        c: &impl Source<T>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        loop {
            match c.prepare_wait() {
                Ready::Value(value) => return Ok(value),
                Ready::Disconnected => return Err(RecvTimeoutError::Disconnected),
                Ready::Empty { .. } => {
                    let until = c.wake_by(deadline);
                    if !c.wake().wait(until) {
                        if until != deadline && !sync::passed(deadline) {
                            // The source's own time to look again came first.
                            continue;
                        }
                        // A value may have landed just as the time ran out.
                        return c.pop().ok_or(RecvTimeoutError::Timeout);
                    }
                    self.wakeups.set(self.wakeups.get().wrapping_add(1));
                    c.wake().clear_stray_token();
                }
                Ready::Busy => {
                    if !Self::wait_busy(c, deadline) {
                        return c.pop().ok_or(RecvTimeoutError::Timeout);
                    }
                }
            }
            if let Some(value) = c.pop() {
                return Ok(value);
            }
        }
    }

    /// A producer has claimed the next slot but not yet published it (it may be a thread
    /// that was preempted, or interrupted by a signal handler). Give it time without
    /// sleeping forever: the flag is armed, so its publish usually writes the fd, but it
    /// may have looked at the flag before we armed it. Returns `false` once `deadline`
    /// has passed.
    fn wait_busy<T>(c: &impl Source<T>, deadline: Option<Instant>) -> bool {
        for _ in 0..sync::BUSY_SPINS {
            sync::spin_loop();
            if c.head_ready() {
                return true;
            }
        }
        sync::yield_now();
        if !c.head_ready() {
            let short = Instant::now() + BUSY_WAIT;
            c.wake()
                .wait(Some(deadline.map_or(short, |d| d.min(short))));
        }
        !sync::passed(deadline)
    }
}

/// How a spin before sleeping ended.
enum Spin<T> {
    /// It found a value.
    Caught(T),
    /// It found nothing; `spun` (for the policy to learn from) says whether it spun at
    /// all, `None` when there is nothing to learn (the deadline had passed).
    Missed { spun: Option<bool> },
    /// The saturated regime's wait found nothing (the policy learns nothing from it).
    Saturated,
}

/// Senders blocked in `send` on a full channel; see the module docs.
#[derive(Debug)]
pub(crate) struct SendWait {
    /// Senders registered and not yet counted out by a wake-up round. Read by the consumer
    /// after every value it takes: its own cache line, written only when senders block.
    registered: CachePadded<AtomicUsize>,
    /// Values the consumer took since the last round while senders were registered. The
    /// consumer's own count (only it reads or writes it).
    freed: AtomicUsize,
    /// The wake-up round: bumped by every round; a sleeper waits for it to change.
    round: Mutex<u64>,
    cond: Condvar,
}

impl SendWait {
    const_fn! {
        pub(crate) fn new() -> Self {
            SendWait {
                registered: CachePadded::new(AtomicUsize::new(0)),
                freed: AtomicUsize::new(0),
                round: Mutex::new(0),
                cond: Condvar::new(),
            }
        }
    }

    /// The consumer took a value from a ring of `cap` slots (its store freeing the slot
    /// comes before this call). When senders are registered, they are woken once half the
    /// ring has been freed since the last round: one round then serves many values
    /// instead of one, and a sender woken finds room for a burst. A ring of capacity 1
    /// wakes them at every value.
    #[inline(always)]
    pub(crate) fn slot_freed(&self, cap: usize) {
        Barrier::light();
        if self.registered.load(Ordering::Relaxed) != 0 {
            self.freed_while_waited(cap);
        }
    }

    #[cold]
    fn freed_while_waited(&self, cap: usize) {
        let freed = self.freed.load(Ordering::Relaxed).saturating_add(1);
        if freed >= (cap / 2).max(1) {
            self.freed.store(0, Ordering::Relaxed);
            self.wake_all();
        } else {
            self.freed.store(freed, Ordering::Relaxed);
        }
    }

    /// The consumer found the ring empty (or busy), or closed it: wake sleeping senders now,
    /// if there are any, however few values were taken since the last round. The caller's
    /// store (the `rmw_tail` that found nothing, the closing `fetch_or`) comes before.
    pub(crate) fn wake_if_waiting(&self) {
        Barrier::light();
        if self.registered.load(Ordering::Relaxed) != 0 {
            self.freed.store(0, Ordering::Relaxed);
            self.wake_all();
        }
    }

    /// One wake-up round: every registered sender is counted out and woken. With nobody
    /// registered (checked under the lock, which every sender holds from registering until
    /// it sleeps) nobody sleeps, and there is no round.
    #[cold]
    fn wake_all(&self) {
        let mut round = self.lock();
        if self.registered.swap(0, Ordering::Relaxed) != 0 {
            *round = round.wrapping_add(1);
            drop(round);
            self.cond.notify_all();
        }
    }

    fn lock(&self) -> sync::MutexGuard<'_, u64> {
        // Nothing panics while holding the lock; a poisoned lock is still consistent.
        self.round.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes `value` with `push`, waiting while it reports `Full`, until `deadline`.
    pub(crate) fn send_until<T>(
        &self,
        deadline: Option<Instant>,
        value: T,
        push: impl Fn(T) -> Result<(), PushError<T>>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut value = match push(value) {
            Ok(()) => return Ok(()),
            Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
            Err(PushError::Full(value)) => value,
        };
        // A short spin first: a consumer that is keeping up frees a slot within
        // microseconds, much sooner than a sleep and a wake-up take.
        let backoff = Backoff::new();
        while !backoff.is_completed() && !sync::passed(deadline) {
            backoff.snooze();
            value = match push(value) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
                Err(PushError::Full(value)) => value,
            };
        }
        loop {
            let mut round = self.lock();
            let others = self.registered.fetch_add(1, Ordering::Relaxed);
            if others == 0 {
                // Orders the registration before the re-check below, against the
                // consumer's freeing store and its load of `registered` (see the module
                // docs). With others registered (and, since we hold the lock, asleep), the
                // consumer's next round wakes them and us with them: no barrier needed.
                Barrier::heavy();
            }
            value = match push(value) {
                Ok(()) => {
                    self.unregister(&round, *round);
                    return Ok(());
                }
                Err(PushError::Closed(value)) => {
                    self.unregister(&round, *round);
                    return Err(SendTimeoutError::Disconnected(value));
                }
                Err(PushError::Full(value)) => value,
            };
            let seen = *round;
            while *round == seen {
                if sync::passed(deadline) {
                    self.unregister(&round, seen);
                    drop(round);
                    // The last look: a slot may have freed just as the time ran out.
                    return match push(value) {
                        Ok(()) => Ok(()),
                        Err(PushError::Closed(v)) => Err(SendTimeoutError::Disconnected(v)),
                        Err(PushError::Full(v)) => Err(SendTimeoutError::Timeout(v)),
                    };
                }
                round = match deadline {
                    None => self.cond.wait(round).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        match self.cond.wait_timeout(round, left) {
                            Ok((guard, _)) => guard,
                            Err(e) => e.into_inner().0,
                        }
                    }
                };
            }
            drop(round);
            // Woken by a round: try again, and register again if the ring is full.
            value = match push(value) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
                Err(PushError::Full(value)) => value,
            };
        }
    }

    /// A registered sender leaves without being counted out by a round (`round` is still
    /// `seen`): take it out of `registered`. Under the lock.
    fn unregister(&self, round: &sync::MutexGuard<'_, u64>, seen: u64) {
        if **round == seen {
            self.registered.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
