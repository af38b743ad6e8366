//! The flush protocol: how [`LogGuard::flush`](super::LogGuard::flush), `Log::flush` and
//! dropping the guard wait until every record logged before the call has been written.
//!
//! # Idea
//!
//! The channel is FIFO in claim order, so a flusher sends a marker,
//! [`Msg::Flush`]` { seq, stop }`, behind the records it must cover, and waits until the
//! writer thread has reached it: the writer has then written every record ahead of it.
//!
//! # State
//!
//! | field | meaning | written by | read by |
//! |---|---|---|---|
//! | `next` (atomic) | the last `seq` handed out | flushers (step 1) | flushers |
//! | `State::flushed` | the largest `seq` acknowledged | the writer (step 3) | flushers (step 4) |
//! | `State::running` | the writer thread is alive | the writer: `false` on every exit path, unwinding included ([`Serving`]'s drop) | flushers (step 4) |
//! | `State::error` | the first write error not yet returned | the writer ([`Flush::store_error`]) | the next flusher takes it |
//!
//! The last three live under one mutex; the writer changes them under it and then
//! `notify_all`s the condvar.
//!
//! # Steps
//!
//! 1. Flusher: takes a fresh `seq` with an `AcqRel` `fetch_add` on `next`.
//! 2. Flusher: sends `Flush { seq, stop }` with the blocking [`Sender::send`], which waits
//!    while the channel is full (the flusher is ordinary code, it may wait; its waiting
//!    loses nothing and is not counted as a lost record, see [`losses`](super::losses)).
//!    `SendError` means the writer is gone: `BrokenPipe`.
//! 3. Writer (`Writer::answer_flush`): on receiving the marker it has put every record
//!    ahead of it into its batch. It adds the dropped-records line if due, hands the batch
//!    to the `io::Write` and flushes that, then [`acknowledge`](Flush::acknowledge)s:
//!    under the mutex `flushed = max(flushed, seq)`, then `notify_all`. With `stop` it
//!    first writes whatever is left in the channel (answering any marker among it the same
//!    way), acknowledges, and ends.
//! 4. Flusher: waits on the condvar until `flushed >= seq` (done; returns the stored write
//!    error, if any), or `running == false` (`BrokenPipe`).
//!
//! # Why it is correct
//!
//! * *Records before their marker.* A record logged before the flush call (in the
//!   happens-before sense, e.g. earlier on the same thread) claimed its slot before the
//!   marker's `try_send` claimed one: claims are read-modify-writes of the ring's tail, and
//!   happens-before orders them. The writer receives in claim order, and the ring's
//!   release/acquire on each slot carries the record's bytes to it.
//! * *Markers out of order.* Several flushers race, so marker `s2 > s1` may be answered
//!   first; hence `flushed >= seq`, not `== seq`. That is enough: the `fetch_add` that
//!   produced `s2` read the one that produced `s1` (RMWs on one atomic; `AcqRel` makes
//!   that a release/acquire pair), so everything before the first flusher's call
//!   happened before the second flusher's `try_send`, whose marker therefore sits behind
//!   those records. `Relaxed` would lose that edge; nothing weaker than `AcqRel` carries
//!   it both ways.
//! * *Written before returned.* The writer flushes the `io::Write` before it locks to
//!   store `flushed`; the flusher reads `flushed` under the same mutex, so the output is
//!   complete when it sees its `seq`.
//! * *No lost wake-up.* The flusher tests `flushed`/`running` under the mutex and
//!   `Condvar::wait` releases it and sleeps atomically; the writer changes them under the
//!   mutex before notifying.
//! * *A writer that dies* (its `io::Write` panics) never acknowledges. [`Serving`]'s drop
//!   sets `running = false` on every exit path; the writer drops its receiver before
//!   that, so by the time flushers give up, later `try_send`s see `Disconnected` rather
//!   than a channel that nobody drains.
//! * *A flush on the writer thread* (an `io::Write` that logs and flushes) would wait for
//!   itself. [`Flush::on_writer_thread`] recognises that thread by a `const` thread-local
//!   holding the address of the `Flush` it serves (no destructor, so usable during thread
//!   teardown, unlike `thread::current()`), and such a flush returns at once.
//!
//! Nothing here is async-signal-safe: flushers lock, sleep and wait. Only the record path
//! ([`Logger::log`](super::Logger)) is.

use std::cell::Cell;
use std::io;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use super::record::Msg;
use crate::sync::{AtomicU64, Ordering};
use crate::Sender;

/// The flush protocol's state (see the module docs).
#[derive(Debug)]
pub(super) struct Flush {
    /// The last flush sequence number handed out; 0 before the first.
    next: AtomicU64,
    state: Mutex<State>,
    cond: Condvar,
}

/// What the writer tells flushers; under [`Flush::state`].
#[derive(Debug)]
struct State {
    /// The largest `seq` the writer has acknowledged.
    flushed: u64,
    /// False once the writer thread has ended (or is unwinding).
    running: bool,
    /// The first write error since a flush last took it.
    error: Option<io::Error>,
}

thread_local! {
    /// On a writer thread: the address of the [`Flush`] it serves; 0 elsewhere. A `const`
    /// thread-local without destructor, so it is usable at any point of a thread's life,
    /// TLS teardown included.
    static WRITER_OF: Cell<usize> = const { Cell::new(0) };
}

impl Flush {
    pub(super) fn new() -> Self {
        Flush {
            next: AtomicU64::new(0),
            state: Mutex::new(State {
                flushed: 0,
                running: true,
                error: None,
            }),
            cond: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a few plain fields, always consistent: a panic elsewhere while
        // holding the lock leaves nothing half-done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn address(&self) -> usize {
        self as *const Flush as usize
    }

    /// Whether the calling thread is the writer thread serving this `Flush`.
    pub(super) fn on_writer_thread(&self) -> bool {
        WRITER_OF.try_with(Cell::get).unwrap_or(0) == self.address()
    }

    /// Steps 1, 2 and 4: sends a marker behind everything logged before this call and
    /// waits until the writer has acknowledged it. With `stop`, the writer ends after it.
    ///
    /// Not async-signal-safe: may sleep, lock and wait.
    ///
    /// # Errors
    ///
    /// The first write error since the previous flush, or `BrokenPipe` if the writer has
    /// stopped.
    pub(super) fn request(&self, tx: &Sender<Msg>, stop: bool) -> io::Result<()> {
        if self.on_writer_thread() {
            return Ok(());
        }
        let seq = self.next.fetch_add(1, Ordering::AcqRel) + 1;
        // A blocking send: waits while the channel is full (the writer is behind), and is
        // not counted as a lost record.
        if tx.send(Msg::Flush { seq, stop }).is_err() {
            return Err(writer_gone());
        }
        let mut state = self.lock();
        while state.flushed < seq && state.running {
            state = self
                .cond
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.flushed < seq {
            return Err(writer_gone());
        }
        match state.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Step 3's end, on the writer thread: everything up to marker `seq` is written and
    /// the `io::Write` flushed; wakes the flushers waiting for it (or an earlier one).
    pub(super) fn acknowledge(&self, seq: u64) {
        let mut state = self.lock();
        state.flushed = state.flushed.max(seq);
        drop(state);
        self.cond.notify_all();
    }

    /// On the writer thread: keeps the first write error for the next flush to return.
    pub(super) fn store_error(&self, e: io::Error) {
        let mut state = self.lock();
        if state.error.is_none() {
            state.error = Some(e);
        }
    }

    /// Called first thing on the writer thread: marks it as this `Flush`'s writer, and
    /// returns the guard that tells flushers when the writer is gone.
    pub(super) fn serve(&self) -> Serving<'_> {
        WRITER_OF.with(|w| w.set(self.address()));
        Serving(self)
    }
}

/// Held by the writer thread for its whole life: dropping it, on every exit path
/// (unwinding included), sets `running = false` and wakes the flushers.
#[derive(Debug)]
pub(super) struct Serving<'a>(&'a Flush);

impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.lock().running = false;
        self.0.cond.notify_all();
    }
}

fn writer_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "sigring::log: the writer thread has stopped (its LogGuard was dropped, or its io::Write panicked)",
    )
}
