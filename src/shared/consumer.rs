//! The receiving side of a shared channel: takes values from every lane, checks everything
//! it reads from the mapping, and recovers lanes whose process died in the middle of a send.

use std::cell::Cell;
use std::mem::{self, MaybeUninit};
use std::ptr;
use std::time::Instant;

use crate::channel::Ready;
use crate::process;
use crate::ring::Take;
use crate::sync::{self, Arc, Ordering};
use crate::wait::Source;
use crate::waker::{Armed, Sleep, WakeRef};

use super::region::Region;

/// How many values in a row the consumer takes from one lane before it looks at the next.
const STREAK: u32 = 32;

/// The consumer's private state for one lane.
#[derive(Debug)]
struct Cursor {
    /// The next position to take: the consumer's own, never read from the mapping.
    head: Cell<usize>,
    /// Whether the last look found positions claimed past `head`.
    claimed: Cell<bool>,
    /// Since when the slot at `head` has been claimed but unpublished, as far as the
    /// consumer saw.
    stuck_since: Cell<Option<Instant>>,
    /// The slot at `head` has been stuck for longer than [`sync::STALL_GRACE`] while its process
    /// lives (stopped, perhaps): stop waiting for it actively.
    stalled: Cell<bool>,
    /// The lane held something the protocol never writes: it was closed and is ignored.
    quarantined: Cell<bool>,
}

/// The consumer of a shared channel (inside a [`Receiver`](crate::Receiver)).
pub(crate) struct Consumer<T> {
    region: Arc<Region<T>>,
    cursors: Box<[Cursor]>,
    /// The lanes `pop` looks at: those that held claimed positions at the last full look
    /// (`prepare_wait`, or `refresh` every `refresh_every` pops), `active[..n_active]`. So
    /// a consumer of many lanes, few of them in use, pays for the ones in use.
    active: Box<[Cell<usize>]>,
    n_active: Cell<usize>,
    /// The position in `active` that `pop` looks at first, and how many values it took
    /// from that lane in a row.
    current: Cell<usize>,
    streak: Cell<u32>,
    /// Pops since the last full look; at `refresh_every`, `pop` looks at every lane again.
    since_refresh: Cell<usize>,
    refresh_every: usize,
    /// Values claimed and never published (their process died), or held by a lane that
    /// was closed as corrupt.
    lost: Cell<u64>,
    /// When the next sweep for lanes of exited processes is due.
    next_sweep: Cell<Instant>,
    /// The fork generation of the process that created the channel.
    generation: u32,
    /// Whether a process exists (`sys::process_alive`; a model under loom).
    alive: fn(u32) -> bool,
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("shared::Consumer")
            .field("lanes", &self.cursors.len())
            .field("lost", &self.lost.get())
            .finish_non_exhaustive()
    }
}

impl<T> Consumer<T> {
    /// The consumer of `region`, in the process that created it.
    pub(crate) fn new(region: Arc<Region<T>>, alive: fn(u32) -> bool) -> Self {
        let lanes = region.lanes();
        let cursors = (0..region.lanes())
            .map(|_| Cursor {
                head: Cell::new(0),
                claimed: Cell::new(false),
                stuck_since: Cell::new(None),
                stalled: Cell::new(false),
                quarantined: Cell::new(false),
            })
            .collect();
        Consumer {
            region,
            cursors,
            active: (0..lanes).map(Cell::new).collect(),
            n_active: Cell::new(lanes),
            current: Cell::new(0),
            streak: Cell::new(0),
            since_refresh: Cell::new(0),
            refresh_every: lanes.max(64),
            lost: Cell::new(0),
            next_sweep: Cell::new(Instant::now()),
            generation: process::generation(),
            alive,
        }
    }

    /// Values lost to dead senders and corrupt lanes.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.get()
    }

    /// Makes the lanes for which `keep` says so the active ones (see `active`).
    fn set_active(&self, keep: impl Fn(usize, &Cursor) -> bool) {
        let mut n = 0;
        for (i, cursor) in self.cursors.iter().enumerate() {
            if !cursor.quarantined.get() && keep(i, cursor) {
                if let Some(slot) = self.active.get(n) {
                    slot.set(i);
                    n += 1;
                }
            }
        }
        self.n_active.set(n);
        self.current.set(0);
        self.streak.set(0);
        self.since_refresh.set(0);
    }

    /// A full look (plain loads, no read-modify-write): every lane with positions claimed
    /// past the consumer's head becomes active.
    fn refresh(&self) {
        let geo = &self.region.geo;
        self.set_active(|i, cursor| {
            self.region.lane(i).is_some_and(|lane| {
                lane.tail.load(Ordering::Relaxed) & !geo.mark_bit() != cursor.head.get()
            })
        });
    }

    /// Takes the value at lane `i`'s head, if published.
    fn take(&self, i: usize) -> Option<T> {
        let cursor = &self.cursors[i];
        if cursor.quarantined.get() {
            return None;
        }
        let head = cursor.head.get();
        // SAFETY: this consumer is the channel's only one (it lives in a `Receiver`, which
        // is neither `Clone` nor `Sync`, and the creating process's alone: see
        // `is_foreign`); `head` is its own. `T: Pod` (required to create a shared channel)
        // makes every bit pattern a valid `T`, so a volatile copy of whatever another
        // process left there is sound (`read_pod`).
        match unsafe {
            self.region
                .geo
                .take(self.region.slots(i), head, read_pod::<T>)
        } {
            Take::Value(value, next) => {
                cursor.head.set(next);
                cursor.stuck_since.set(None);
                cursor.stalled.set(false);
                Some(value)
            }
            Take::NotYet => None,
            Take::Invalid => {
                self.quarantine(i);
                None
            }
        }
    }

    /// Lane `i` holds what the protocol never writes: close it (its process gets
    /// `Disconnected`), count what it held as lost, and ignore it from now on.
    #[cold]
    fn quarantine(&self, i: usize) {
        let cursor = &self.cursors[i];
        cursor.quarantined.set(true);
        cursor.claimed.set(false);
        let geo = &self.region.geo;
        if let Some(lane) = self.region.lane(i) {
            let tail = lane.tail.fetch_or(geo.mark_bit(), Ordering::AcqRel) & !geo.mark_bit();
            // What will not be received now: the claimed positions if `tail` still makes
            // sense, else the values published from `head` on (what was only claimed
            // behind a nonsense `tail` cannot be known).
            let held = geo.distance(cursor.head.get(), tail).unwrap_or_else(|| {
                let slots = self.region.slots(i);
                let mut pos = cursor.head.get();
                let mut n = 0;
                while n < geo.capacity() && geo.ready(slots, pos) {
                    n += 1;
                    pos = geo.next(pos);
                }
                n
            });
            self.lost.set(self.lost.get().wrapping_add(held as u64));
        }
    }

    /// For every lane whose head has been claimed but not published for longer than
    /// [`sync::STALL_GRACE`]: if the process that owns the lane is gone, it will never publish,
    /// so skip the slot and count it lost (unless it published just before dying); if it
    /// lives, mark the lane stalled. Returns whether a lane may have a value to take now.
    fn recover(&self) -> bool {
        let now = Instant::now();
        let mut skipped = false;
        for (i, cursor) in self.cursors.iter().enumerate() {
            if !cursor.claimed.get() || cursor.quarantined.get() {
                continue;
            }
            let since = cursor.stuck_since.get().unwrap_or(now);
            cursor.stuck_since.set(Some(since));
            if now.saturating_duration_since(since) < sync::STALL_GRACE {
                continue;
            }
            let owner = self
                .region
                .lane(i)
                .map_or(0, |lane| lane.owner.load(Ordering::Acquire));
            if owner != 0 && (self.alive)(owner) {
                // Alive: stopped or preempted. Look again after another grace period.
                cursor.stalled.set(true);
                cursor.stuck_since.set(Some(now));
                continue;
            }
            let head = cursor.head.get();
            cursor.stuck_since.set(None);
            cursor.stalled.set(false);
            // Gone, so it writes nothing more: a look at the slot now is final. It may have
            // published just before it died (after the look that found the slot claimed):
            // then the value is there to take, not to skip.
            if self.region.geo.ready(self.region.slots(i), head) {
                skipped = true;
                continue;
            }
            cursor
                .head
                .set(self.region.geo.skip(self.region.slots(i), head));
            cursor.stuck_since.set(None);
            cursor.stalled.set(false);
            self.lost.set(self.lost.get().wrapping_add(1));
            skipped = true;
        }
        skipped
    }

    /// Now and then, when the channel is empty: free the lanes of processes that have
    /// exited, once drained, so new processes can claim them.
    fn sweep(&self) {
        let now = Instant::now();
        if now < self.next_sweep.get() {
            return;
        }
        self.next_sweep.set(now + sync::SWEEP_EVERY);
        for (i, cursor) in self.cursors.iter().enumerate() {
            let Some(lane) = self.region.lane(i) else {
                continue;
            };
            let owner = lane.owner.load(Ordering::Acquire);
            if owner == 0 || cursor.quarantined.get() || (self.alive)(owner) {
                continue;
            }
            // Its process is gone, so the lane's `tail` moves no more: a look at it now is
            // final (an earlier look may predate the process's last sends). Drained, the
            // lane is free: nobody else sends into it. A CAS, so that a lane claimed anew
            // meanwhile (it cannot be: only free lanes are claimed) stays.
            let tail = lane.tail.load(Ordering::Acquire) & !self.region.geo.mark_bit();
            if tail == cursor.head.get() {
                let _ = lane
                    .owner
                    .compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
            }
        }
    }

    /// How many positions are claimed past the heads of the open lanes.
    fn claimed(&self) -> usize {
        let geo = &self.region.geo;
        (0..self.cursors.len())
            .filter(|&i| !self.cursors[i].quarantined.get())
            .filter_map(|i| {
                let lane = self.region.lane(i)?;
                let tail = lane.tail.load(Ordering::Acquire) & !geo.mark_bit();
                geo.distance(self.cursors[i].head.get(), tail)
            })
            .fold(0usize, usize::saturating_add)
    }

    /// The receiver goes: every lane is closed (senders get `Disconnected`) and nobody
    /// writes the fd any more. The values are plain data: nothing to drop. Nothing happens
    /// in a forked child (the channel is its parent's).
    pub(crate) fn close(&self) {
        if self.is_foreign() {
            return;
        }
        self.region.wake().gone();
        for i in 0..self.region.lanes() {
            if let Some(lane) = self.region.lane(i) {
                lane.tail
                    .fetch_or(self.region.geo.mark_bit(), Ordering::AcqRel);
            }
        }
    }
}

impl<T> Source<T> for Consumer<T> {
    fn is_foreign(&self) -> bool {
        process::generation() != self.generation
    }

    /// Takes the next published value from the active lanes, in turns: up to [`STREAK`]
    /// values from one lane, then the next. Every `refresh_every` calls it first looks at
    /// every lane (one load of each `tail`), so a lane that starts sending while others
    /// keep the consumer busy joins within that many values.
    fn pop(&self) -> Option<T> {
        let calls = self.since_refresh.get() + 1;
        if calls >= self.refresh_every {
            self.refresh();
        } else {
            self.since_refresh.set(calls);
        }
        let n = self.n_active.get();
        let start = self.current.get();
        for k in 0..n {
            let at = (start + k) % n;
            if let Some(value) = self.take(self.active[at].get()) {
                let streak = if k == 0 { self.streak.get() + 1 } else { 1 };
                if streak >= STREAK {
                    self.current.set((at + 1) % n);
                    self.streak.set(0);
                } else {
                    self.current.set(at);
                    self.streak.set(streak);
                }
                return Some(value);
            }
        }
        None
    }

    fn head_ready(&self) -> bool {
        self.active[..self.n_active.get()]
            .iter()
            .map(Cell::get)
            .any(|i| {
                !self.cursors[i].quarantined.get()
                    && self
                        .region
                        .geo
                        .ready(self.region.slots(i), self.cursors[i].head.get())
            })
    }

    /// Arms the wake-up, then reads every lane's `tail` with a read-modify-write (the
    /// argument of `waker`, once per lane: each lane is a ring of its own), checking it.
    ///
    /// Always for a sleep on the fd, whatever the caller asks: the flag lives in memory
    /// that other processes share, so a futex on it would have to be a shared one, and a
    /// process that scribbles over the mapping could then keep the consumer's futex word
    /// changing; the fd is this process's own.
    fn prepare_wait(&self, _sleep: Sleep) -> Ready<T> {
        let wake = self.wake();
        wake.repair();
        let Armed { was_armed, sleep } = wake.arm(Sleep::Fd);
        let geo = &self.region.geo;
        for (i, cursor) in self.cursors.iter().enumerate() {
            if cursor.quarantined.get() {
                continue;
            }
            let Some(lane) = self.region.lane(i) else {
                continue;
            };
            let tail = lane.tail.fetch_add(0, Ordering::AcqRel) & !geo.mark_bit();
            match geo.distance(cursor.head.get(), tail) {
                Some(d) => cursor.claimed.set(d > 0),
                None => self.quarantine(i),
            }
        }
        self.set_active(|_, cursor| cursor.claimed.get());
        if let Some(value) = self.pop() {
            wake.disarm(sleep);
            return Ready::Value(value);
        }
        let mut busy = self.cursors.iter().any(|c| c.claimed.get());
        if busy && self.recover() {
            if let Some(value) = self.pop() {
                wake.disarm(sleep);
                return Ready::Value(value);
            }
        }
        busy = self
            .cursors
            .iter()
            .any(|c| c.claimed.get() && !c.stalled.get() && !c.quarantined.get());
        self.sweep();
        if busy {
            Ready::Busy { sleep }
        } else {
            Ready::Empty { was_armed, sleep }
        }
    }

    #[inline]
    fn wake(&self) -> WakeRef<'_> {
        self.region.wake()
    }

    fn full_rejections(&self) -> u64 {
        let region = &self.region;
        (0..region.lanes())
            .filter_map(|i| region.lane(i))
            .map(|lane| lane.full.load(Ordering::Relaxed))
            .fold(
                region.header().no_lane.load(Ordering::Relaxed),
                u64::wrapping_add,
            )
    }

    fn capacity(&self) -> usize {
        self.region.geo.capacity()
    }

    fn len(&self) -> usize {
        self.claimed()
    }

    /// At most [`sync::WATCHDOG`] from now: nothing in the mapping is trusted, the wake flag
    /// included.
    fn wake_by(&self, deadline: Option<Instant>) -> Option<Instant> {
        match sync::WATCHDOG {
            Some(watchdog) => {
                let soon = Instant::now() + watchdog;
                Some(deadline.map_or(soon, |d| d.min(soon)))
            }
            None => deadline,
        }
    }
}

/// Copies a value out of the shared mapping with volatile reads, a word (or a byte) at a
/// time: memory another process may write at any moment is read as such, never as memory
/// the compiler may assume stable. (`ptr::read_volatile::<T>` itself would do, but for a
/// large `T` the compiler expands it into one load per word, and compile times explode.)
///
/// # Safety
///
/// `src` is valid for reads of a `T` and every bit pattern is a valid `T` (`T: Pod`,
/// which the shared channel's constructors require: no padding, so every byte is
/// initialized).
unsafe fn read_pod<T>(src: *const T) -> T {
    let mut out = MaybeUninit::<T>::uninit();
    let dst = out.as_mut_ptr();
    let size = mem::size_of::<T>();
    if mem::align_of::<T>() >= mem::align_of::<u64>() && size % 8 == 0 {
        let (src, dst) = (src.cast::<u64>(), dst.cast::<u64>());
        for i in 0..size / 8 {
            // SAFETY: `i < size / 8`: inside both values, aligned for `u64` (the alignment
            // of `T` is at least that of `u64`).
            unsafe { dst.add(i).write(ptr::read_volatile(src.add(i))) };
        }
    } else {
        let (src, dst) = (src.cast::<u8>(), dst.cast::<u8>());
        for i in 0..size {
            // SAFETY: `i < size`: inside both values.
            unsafe { dst.add(i).write(ptr::read_volatile(src.add(i))) };
        }
    }
    // SAFETY: every byte was written, and any bytes are a valid `T` (the caller's promise).
    unsafe { out.assume_init() }
}
