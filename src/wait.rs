//! Waiting: how the receiver spins and sleeps for a value ([`RecvWait`]), and how senders
//! sleep for room ([`SendWait`]).
//!
//! # The receiver
//!
//! `recv` takes a value if one is there; otherwise it spins for as long as the spin policy
//! (`spin.rs`) says values have lately been worth waiting for, then arms the wake-up and
//! sleeps: on Linux on the wake flag itself (a futex wait; the producer that publishes
//! makes one `FUTEX_WAKE`, and there is no token to read afterwards), elsewhere and for a
//! shared channel in `poll(2)` on the fd (the wake protocol and the two kinds of sleep are
//! in `waker`). A slot that a producer has claimed but not yet published ("busy") is
//! waited out: a short spin, a yield, then timed waits of 1 ms, never a sleep without end
//! (the producer may have looked at the flag before it was armed and will wake nobody). `try_recv` never sleeps: for a
//! busy slot it spins briefly and then makes the fd readable itself, so an event loop comes
//! back.
//!
//! # Blocked senders
//!
//! `send` on a full channel looks again a few times, a pause apart (about a microsecond:
//! `sync::SEND_SPINS`), then sleeps on a condition variable until it is woken, the receiver
//! goes, or the deadline passes. `try_send` and signal handlers never come here.
//!
//! Senders are woken **one at a time**. Waking every sleeper at once (a broadcast) on a
//! machine with fewer CPUs than producers puts all of them on the run queue together: the
//! first to run refills the ring, the others find it full and go back to sleep, and all of
//! them take CPU time from the consumer on the way. Instead, one wake-up at a time is under
//! way, passed from sender to sender like a baton, for as long as half the ring is free:
//!
//! | state of a sender | meaning | moved by |
//! |---|---|---|
//! | trying | pushing, then a short spin; not counted in `registered` | itself |
//! | registered | counted in `registered` (`+= 1` under the lock), barrier, re-checks the ring | itself |
//! | asleep | waits on the condition variable for the baton or a broadcast `round` | (a spurious wake-up, or its deadline, only makes it look again) |
//! | picked | out of `registered`, the baton `Pending`: any sleeper that sees it takes it | the consumer, or the previous holder (`registered -= 1` under the lock, then `notify_one`) |
//! | holder | took the baton (`Held`), pushes, then hands it on or sets it `Free` | itself |
//! | timed out | leaves, out of `registered` (or, if the baton is `Pending`, takes it first and leaves as its holder) | itself, under the lock |
//!
//! | baton | meaning | next |
//! |---|---|---|
//! | `Free` | no wake-up under way | `Pending`: the consumer's `wake_one`, if anyone is registered |
//! | `Pending` | one sender signalled, not yet awake | `Held`: the first sleeper to look (the consumer's `wake_one` leaves it alone: that sender will find the room) |
//! | `Held` | a woken sender is pushing | `Pending` (handed on) or `Free`; the consumer's `wake_one` sets `owed` |
//!
//! **When a wake-up starts.** The consumer, after every value it takes (`slot_freed`), runs
//! the light side of an asymmetric barrier (`sync::Barrier`: a compiler barrier when the
//! kernel offers `membarrier(2)`) and loads `registered`; only if it is non-zero does it
//! count the value. Every half ring of counted values it reads the ring's length, and if
//! half the ring is free it calls `wake_one`. It also calls `wake_one`, whatever it counted,
//! when it finds the ring empty or busy (`wake_if_waiting`, from `prepare_wait`) and when
//! it goes away. So when nobody waits a received value costs one relaxed load; when senders
//! wait but the ones awake keep the ring more than half full (a producer that spins catches
//! every slot a fast consumer frees), nobody is woken at all.
//!
//! **How far it goes.** The holder pushes its value, then (`hand_on`) picks the next sleeper
//! if half the ring is still free, or if the consumer called `wake_one` while it held the
//! baton (`owed`); otherwise the baton is `Free` again. A holder that returns from `send`
//! and keeps sending refills the ring at `try_send` speed, without the lock, and is all
//! the ring needs; a run of one-shot senders is woken one after another while half the
//! ring is free. On a closed ring the holder wakes every sleeper at once (a broadcast
//! `round`): each has only to return its value.
//!
//! The price: a sender that found the ring full sleeps while less than half of it is free,
//! even beside a free slot, and is woken once half the ring is free (or the consumer ran
//! out of values, or left), as the consumer sees it every half ring of values it takes: a
//! consumer that stops receiving while values are queued may leave it asleep. So a producer facing
//! a consumer slower than itself sleeps through half a ring of values and then refills it
//! in one go, instead of taking every slot as it frees (which costs it a CPU, spinning or
//! yielding, and the consumer the cache misses); the consumer always has half a ring to
//! take while the producer wakes. A `send_timeout` can expire while fewer than half the
//! slots were free (its last push, at the deadline, still takes a free slot). And there is
//! no fairness among senders: one that is awake and keeps the ring full keeps the others
//! asleep.
//!
//! **No lost wake-up.** A sender registers (`registered += 1`), runs the heavy side of the
//! barrier (a `membarrier(2)` system call; only if nobody else is registered, see below),
//! then looks at the ring once more (the re-check): if half the ring or more is free the
//! sender pushes, if it is closed the sender returns, otherwise it sleeps. The
//! consumer frees a slot (its stores to the stamp and `head`), runs the light side, then
//! loads `registered`. The barrier pair orders each side's store before its load against
//! the other side, so at least one of them sees the other's store: either the sender's
//! re-check sees the consumer's pops (and pushes if half the ring has drained), or the
//! consumer sees `registered > 0` at that pop and counts the slot. A sender that sleeps saw
//! more than half the ring (at least one value) still queued after its barrier: the
//! consumer pops those values after it, sees the registration at each of them, and looks
//! at the room after half a ring of them. The sender holds the lock from registering until the condition variable
//! releases it, so a `wake_one` that sees it registered comes after it is asleep, and its
//! `notify_one` wakes a sleeper that finds the baton `Pending` (every sleeper looks at the
//! baton under the lock before it waits and after it wakes). From then on the baton is
//! never lost: `wake_one` does not start a second wake-up while one is
//! `Pending` (its sender will push and see the room) and, while one is `Held`, records
//! `owed` under the same lock the holder takes to decide, so either the holder sees the
//! request or the consumer sees the baton `Free` and starts a new one. A sender that times
//! out while the baton is `Pending` takes it, makes its last push, and hands it on like any
//! holder: a wake-up meant for a slot is never taken away by a sender that leaves. A
//! receiver that goes away closes the ring (an RMW of `tail`, the store of this argument)
//! and calls `wake_one`; the sender it wakes sees the ring closed and wakes every sleeper.
//!
//! A sender that registers while another is registered (and so asleep: the lock is held
//! from registering until sleeping) skips the barrier. Its re-check may then miss a slot
//! the consumer freed, but the consumer does not miss the slot. The sender that last took
//! `registered` from 0 made the barrier, and `registered` has not been 0 since (the late
//! sender registered while another was counted, and is counted itself): a slot freed
//! after that barrier is freed while the consumer sees `registered > 0`, and is counted;
//! one freed before it was seen by that sender's own re-check, which found the ring full,
//! so the slot was taken again. The count starts a wake-up as for any sleeper, and the
//! wake-up is handed on while a slot stays free, so it reaches the late sender too. With
//! many blocked producers, only the first to block pays the system call.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use crate::channel::Ready;
use crate::error::{RecvTimeoutError, SendTimeoutError, TryRecvError};
use crate::ring::PushError;
use crate::spin::{SpinPolicy, BATCH_PAUSES};
use crate::sync::{self, const_fn, AtomicUsize, Backoff, Barrier, Condvar, Mutex, Ordering};
use crate::waker::{Sleep, WakeRef};

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
    /// After a pop found nothing: arm the wake-up for `sleep` (where the caller would
    /// sleep), then look again with authority.
    fn prepare_wait(&self, sleep: Sleep) -> Ready<T>;
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
        match c.prepare_wait(Sleep::Fd) {
            Ready::Empty {
                was_armed: true, ..
            } => {
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
                self.ready_now(c, c.prepare_wait(Sleep::Fd))
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
            Ready::Busy { sleep } => {
                for _ in 0..sync::BUSY_SPINS {
                    sync::spin_loop();
                    if let Some(value) = c.pop() {
                        c.wake().disarm(sleep);
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

    /// The value that is there now, if any: what `recv*` does first. Small enough that
    /// `Receiver` inlines it where `recv` is called, for a channel of this process
    /// (everything that waits, and a shared channel, stays out of line).
    #[inline(always)]
    pub(crate) fn take_now<T>(&self, c: &impl Source<T>) -> Option<T> {
        if c.is_foreign() {
            return None;
        }
        let value = c.pop()?;
        self.spin.ready_at_once();
        Some(value)
    }

    /// `Receiver::recv*`: a value, `Disconnected` when drained, or `Timeout` at `deadline`.
    pub(crate) fn recv_until<T>(
        &self,
        c: &impl Source<T>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        if let Some(value) = self.take_now(c) {
            return Ok(value);
        }
        if c.is_foreign() {
            return Err(RecvTimeoutError::Disconnected);
        }
        // Idle regime between samples: sleep at once, without reading the clock.
        let Some(started) = self.spin.start() else {
            return self.sleep_until(c, deadline);
        };
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

    /// Arms the wake-up and sleeps until a value, the deadline or disconnection: on the
    /// flag word where the platform allows (`Sleep::Flag`: one system call to sleep, none
    /// to clear a token), else on the fd. Before returning it leaves the flag as an event
    /// loop expects it: after a value, not `PARKED` (`unpark`: armed for the fd, or idle if
    /// a producer woke it; an event loop calls `try_recv` until `Empty` anyway); after the
    /// deadline, armed for the fd with the ring looked at again (`timed_out`).
    fn sleep_until<T>(
        &self,
        c: &impl Source<T>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        match self.sleep_on_flag_until(c, deadline) {
            Err(RecvTimeoutError::Timeout) => self.timed_out(c),
            result => {
                c.wake().unpark();
                result
            }
        }
    }

    /// The deadline passed while the flag may be `PARKED`, or `IDLE` after a producer's
    /// wake-up that came as the time ran out. Arm it for the fd and look again, as an event
    /// loop's `try_recv` does, so that a `poll` right after a timeout is woken by the next
    /// send, and a value that landed as the time ran out is returned rather than left
    /// behind a flag nobody will wake (loom model m3 "fd and flag sleeps mixed", mutation
    /// M33).
    fn timed_out<T>(&self, c: &impl Source<T>) -> Result<T, RecvTimeoutError> {
        match self.ready_now(c, c.prepare_wait(Sleep::Fd)) {
            Ok(value) => Ok(value),
            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
            Err(TryRecvError::Disconnected) => Err(RecvTimeoutError::Disconnected),
        }
    }

    fn sleep_on_flag_until<T>(
        &self,
        c: &impl Source<T>,
        deadline: Option<Instant>,
    ) -> Result<T, RecvTimeoutError> {
        loop {
            match c.prepare_wait(Sleep::Flag) {
                Ready::Value(value) => return Ok(value),
                Ready::Disconnected => return Err(RecvTimeoutError::Disconnected),
                Ready::Empty { sleep, .. } => {
                    let until = c.wake_by(deadline);
                    if !c.wake().wait(until, sleep) {
                        if until != deadline && !sync::passed(deadline) {
                            // The source's own time to look again came first.
                            continue;
                        }
                        // `timed_out` looks again: a value may have landed just as the
                        // time ran out.
                        return Err(RecvTimeoutError::Timeout);
                    }
                    self.wakeups.set(self.wakeups.get().wrapping_add(1));
                    if sleep == Sleep::Fd {
                        c.wake().clear_stray_token();
                    }
                }
                Ready::Busy { sleep } => {
                    if !Self::wait_busy(c, deadline, sleep) {
                        return Err(RecvTimeoutError::Timeout);
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
    fn wait_busy<T>(c: &impl Source<T>, deadline: Option<Instant>, sleep: Sleep) -> bool {
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
                .wait(Some(deadline.map_or(short, |d| d.min(short))), sleep);
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
    /// Senders asleep (or about to sleep: they hold the lock) and not picked. Read by the
    /// consumer after every value it takes: its own cache line, written only when senders
    /// block, wake or are picked, always under the lock.
    registered: CachePadded<AtomicUsize>,
    /// Values the consumer took while senders were registered, since it last looked at the
    /// room in the ring. The consumer's own count (only it reads or writes it), on its own
    /// cache line: with senders asleep the consumer writes it at every value, and the lock
    /// beside it is the senders'.
    freed: CachePadded<AtomicUsize>,
    /// Who holds the wake-up, and the broadcast round; see [`Waiting`].
    state: Mutex<Waiting>,
    cond: Condvar,
}

/// The senders' shared state, under `SendWait::state`.
#[derive(Debug)]
struct Waiting {
    /// Bumped by a broadcast (the ring closed): every sleeper then wakes and retries.
    round: u64,
    /// The one wake-up that is under way, if any.
    baton: Baton,
    /// The consumer wanted to wake a sender while the baton was held: its holder hands it
    /// on even if it finds no free slot (see [`SendWait::hand_on`]).
    owed: bool,
}

/// Where the one wake-up under way is (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Baton {
    /// None under way.
    Free,
    /// One sleeper has been signalled (and taken out of `registered`); the first sleeper
    /// to see it takes it.
    Pending,
    /// A woken sender took it, pushes, and then hands it on or frees it.
    Held,
}

/// How a sleeping sender's wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Woken {
    /// A broadcast round.
    Round,
    /// It took the baton.
    Picked,
    /// Its deadline passed (it took itself out of `registered`).
    TimedOut,
}

/// Half the ring, at least one slot: the room at which a sleeper is woken.
#[inline(always)]
fn half(cap: usize) -> usize {
    (cap / 2).max(1)
}

impl SendWait {
    const_fn! {
        pub(crate) fn new() -> Self {
            SendWait {
                registered: CachePadded::new(AtomicUsize::new(0)),
                freed: CachePadded::new(AtomicUsize::new(0)),
                state: Mutex::new(Waiting {
                    round: 0,
                    baton: Baton::Free,
                    owed: false,
                }),
                cond: Condvar::new(),
            }
        }
    }

    /// The consumer took a value from a ring of `cap` slots (its store freeing the slot
    /// comes before this call); `len` tells how many values the ring holds now. When
    /// senders are registered, every half ring of values it looks at the room, and wakes
    /// one sender if half the ring is free and no wake-up is under way.
    #[inline(always)]
    pub(crate) fn slot_freed(&self, cap: usize, len: impl FnOnce() -> usize) {
        Barrier::light();
        if self.registered.load(Ordering::Relaxed) != 0 {
            self.freed_while_waited(cap, len);
        }
    }

    #[cold]
    fn freed_while_waited(&self, cap: usize, len: impl FnOnce() -> usize) {
        let freed = self.freed.load(Ordering::Relaxed).saturating_add(1);
        if freed < half(cap) {
            self.freed.store(freed, Ordering::Relaxed);
            return;
        }
        self.freed.store(0, Ordering::Relaxed);
        if cap.saturating_sub(len()) >= half(cap) {
            self.wake_one();
        }
    }

    /// The consumer found the ring empty (or busy), or closed it: wake a sleeping sender
    /// now, if there is one and no wake-up is under way. The caller's store (the
    /// `rmw_tail` that found nothing, the closing `fetch_or`) comes before.
    pub(crate) fn wake_if_waiting(&self) {
        Barrier::light();
        if self.registered.load(Ordering::Relaxed) != 0 {
            self.freed.store(0, Ordering::Relaxed);
            self.wake_one();
        }
    }

    /// Starts a wake-up if none is under way: one registered sender is counted out and
    /// signalled. If a woken sender holds the baton, it is told to hand it on.
    #[cold]
    fn wake_one(&self) {
        let mut w = self.lock();
        if self.registered.load(Ordering::Relaxed) == 0 {
            return;
        }
        match w.baton {
            Baton::Free => {
                self.registered.fetch_sub(1, Ordering::Relaxed);
                w.baton = Baton::Pending;
                drop(w);
                self.cond.notify_one();
            }
            // The sender to be woken has yet to push: it finds the room.
            Baton::Pending => {}
            Baton::Held => w.owed = true,
        }
    }

    /// The holder of the baton has pushed (or found the ring full, or closed): hand the
    /// wake-up on to the next sleeper if half the ring is still free, or the consumer asked
    /// for one meanwhile (`owed`); on a closed ring, wake every sleeper.
    #[cold]
    fn hand_on(&self, cap: usize, len: impl FnOnce() -> usize, closed: bool) {
        let room = cap.saturating_sub(len());
        let mut w = self.lock();
        debug_assert_eq!(w.baton, Baton::Held);
        let wanted = closed || w.owed || room >= half(cap);
        w.owed = false;
        w.baton = Baton::Free;
        if !wanted || self.registered.load(Ordering::Relaxed) == 0 {
            return;
        }
        if closed {
            self.registered.store(0, Ordering::Relaxed);
            w.round = w.round.wrapping_add(1);
            drop(w);
            self.cond.notify_all();
        } else {
            self.registered.fetch_sub(1, Ordering::Relaxed);
            w.baton = Baton::Pending;
            drop(w);
            self.cond.notify_one();
        }
    }

    fn lock(&self) -> sync::MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock; a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes `value` with `push`, waiting while it reports `Full`, until `deadline`. The
    /// ring has `cap` slots, holds `len()` values, and `closed()` once the receiver is gone.
    pub(crate) fn send_until<T>(
        &self,
        deadline: Option<Instant>,
        value: T,
        cap: usize,
        len: impl Fn() -> usize,
        closed: impl Fn() -> bool,
        push: impl Fn(T) -> Result<(), PushError<T>>,
    ) -> Result<(), SendTimeoutError<T>> {
        let mut value = match push(value) {
            Ok(()) => return Ok(()),
            Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
            Err(PushError::Full(value)) => value,
        };
        // A short spin first: a consumer that is keeping up frees a slot within a few
        // hundred nanoseconds, much sooner than a sleep and a wake-up take. One that is
        // slower is not waited for (spinning or yielding for it would cost a CPU per
        // producer): the sender sleeps until half the ring is free.
        for _ in 0..sync::SEND_SPINS {
            sync::spin_loop();
            value = match push(value) {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
                Err(PushError::Full(value)) => value,
            };
        }
        loop {
            let mut w = self.lock();
            let others = self.registered.fetch_add(1, Ordering::Relaxed);
            if others == 0 {
                // Orders the registration before the re-check below, against the
                // consumer's freeing store and its load of `registered` (see the module
                // docs). With others registered, the consumer counts every slot it frees
                // while we sleep anyway, and the wake-up it starts is handed on while a
                // slot is free: no barrier needed.
                Barrier::heavy();
            }
            // The re-check. With less than half the ring free, sleep even beside a free
            // slot: the values queued are taken after the barrier, so the consumer sees the
            // registration, and the sender is woken once half the ring is free, refilling it
            // in one go rather than slot by slot.
            if cap.saturating_sub(len()) >= half(cap) {
                value = match push(value) {
                    Ok(()) => {
                        self.registered.fetch_sub(1, Ordering::Relaxed);
                        return Ok(());
                    }
                    Err(PushError::Closed(value)) => {
                        self.registered.fetch_sub(1, Ordering::Relaxed);
                        return Err(SendTimeoutError::Disconnected(value));
                    }
                    Err(PushError::Full(value)) => value,
                };
            } else if closed() {
                self.registered.fetch_sub(1, Ordering::Relaxed);
                return Err(SendTimeoutError::Disconnected(value));
            }
            let seen = w.round;
            let woken = loop {
                if w.round != seen {
                    break Woken::Round;
                }
                if w.baton == Baton::Pending {
                    w.baton = Baton::Held;
                    break Woken::Picked;
                }
                if sync::passed(deadline) {
                    self.registered.fetch_sub(1, Ordering::Relaxed);
                    break Woken::TimedOut;
                }
                w = match deadline {
                    None => self.cond.wait(w).unwrap_or_else(|e| e.into_inner()),
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        match self.cond.wait_timeout(w, left) {
                            Ok((guard, _)) => guard,
                            Err(e) => e.into_inner().0,
                        }
                    }
                };
            };
            drop(w);
            let pushed = push(value);
            if woken == Woken::Picked {
                let closed = matches!(pushed, Err(PushError::Closed(_)));
                self.hand_on(cap, &len, closed);
            }
            value = match pushed {
                Ok(()) => return Ok(()),
                Err(PushError::Closed(value)) => return Err(SendTimeoutError::Disconnected(value)),
                Err(PushError::Full(value)) => value,
            };
            if woken == Woken::TimedOut || sync::passed(deadline) {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
    }
}
