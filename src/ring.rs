//! The bounded lock-free MPSC ring: positions, stamps and laps over a slice of slots. No
//! syscalls and no storage live here: a boxed buffer (`channel`) and a `static` array
//! (`StaticChannel`) hand their slots to the same [`Ring`].
//!
//! # Layout
//!
//! A [`Ring`] holds the positions; the caller holds `cap` [`Slot`]s and passes them to every
//! call. Positions (`head`, `tail`) are single words split into three fields, as in
//! crossbeam's `ArrayQueue`:
//!
//! ```text
//!   position = { lap | mark | index }
//!   index : the low bits, in `0 .. cap`
//!   mark  : one bit above the index (`mark_bit`); used only in `tail`: "closed"
//!   lap   : the bits above the mark; `one_lap = 2 * mark_bit`
//! ```
//!
//! `mark_bit = (cap + 1).next_power_of_two()`, so the capacity is exactly the one asked for
//! (no rounding up to a power of two): advancing past the last index jumps to index 0 of the
//! next lap. All position arithmetic wraps, so no build (overflow checks included) has a
//! panic path here.
//!
//! # The slot protocol
//!
//! Every slot carries a `stamp` that holds only a lap: the slot's own index is implied by
//! where it sits, so every slot of a new ring starts at stamp 0, and a `static` ring is a
//! `const` array of identical empty slots. For the slot at index `i`, with `L` a lap:
//!
//! | stamp      | meaning                                                  | who moves it next         |
//! |------------|----------------------------------------------------------|---------------------------|
//! | `L`        | empty, writable by the push at position `{L, i}`         | the producer that claims  |
//! | `L` (claimed) | `tail` moved past `{L, i}`: a producer owns the slot and is writing | that producer: `L + 1` |
//! | `L + 1`    | full: published, readable by the pop at `{L, i}`          | the consumer: `L + one_lap` |
//!
//! * **Claim** (producers): a producer reads `tail = {L, i}` and the slot's stamp. Only if
//!   the stamp is `L` may it move `tail` to the next position with a compare-and-swap. The
//!   CAS winner owns the slot exclusively.
//! * **Publish** (the claiming producer): writes the value, then stores the stamp `L + 1`
//!   with `Release`.
//! * **Take** (the one consumer): at `head = {L, i}` it loads the stamp with `Acquire`; if it
//!   is `L + 1`, the `Release`/`Acquire` pair makes the value visible. It reads the value,
//!   stores the stamp `L + one_lap` (the next lap's "empty") with `Release`, then advances
//!   `head`.
//! * **Release seen by the next lap**: a producer at `{L + 1, i}` loads that stamp with
//!   `Acquire`, so the consumer's read of the old value happens-before the new write.
//!
//! # Never waiting
//!
//! `push` must be callable from a signal handler that interrupted a push or a pop on the
//! same thread, so it never waits for anyone. When the stamp does not match `tail`'s lap it
//! reloads `tail` once: if `tail` moved, another producer made progress and the push retries
//! at the new position (the only retry there is, as is the retry after a failed CAS, which
//! also fails only because `tail` moved); if `tail` is unchanged the slot is still occupied,
//! either by a value not yet taken (the ring is full) or by a pop or a push that has not yet
//! released it (a consumer mid-pop, or a producer that claimed the slot one lap ago and has
//! not yet published, perhaps the very context this handler interrupted). In every such case
//! the push returns `Full` instead of spinning.
//!
//! A handler that interrupts a push on the same thread runs its whole push between two
//! atomic steps of the interrupted one, which cannot take another step until the handler
//! returns. That is one of the interleavings loom already explores with a second thread:
//! it runs the other thread's push between every pair of consecutive steps of the first
//! (in particular between the claiming CAS and the publishing store), and it also follows
//! the schedule that never switches back until that push returns, so a push that waited
//! for the interrupted one would never end there and loom reports it.
//! `loom-tests/tests/m7_handler_interrupts_push.rs` is that model.
//!
//! # Closing
//!
//! Either side closes the ring by setting the mark bit in `tail` with an atomic `fetch_or`.
//! A producer sees it on the `tail` load it makes anyway (or when its CAS fails) and
//! returns `Closed`. The consumer sees it in [`Ring::rmw_tail`].

use std::io;
use std::mem::{self, MaybeUninit};

use crossbeam_utils::CachePadded;

use crate::sync::{const_fn, AtomicUsize, Ordering, UnsafeCell};

/// One slot of the ring: a stamp and room for one value.
pub(crate) struct Slot<T> {
    /// The slot's state as a lap; see the module docs.
    stamp: AtomicUsize,
    /// Initialized exactly when `stamp` is `L + 1` for the current lap `L`.
    value: UnsafeCell<MaybeUninit<T>>,
}

impl<T> Slot<T> {
    const_fn! {
        /// An empty slot at lap 0.
        pub(crate) fn new() -> Self {
            Slot {
                stamp: AtomicUsize::new(0),
                value: UnsafeCell::new(MaybeUninit::uninit()),
            }
        }
    }

    /// An empty slot, for `const` arrays (`[Slot::EMPTY; N]`). Each use of the constant is
    /// a fresh slot, which is what the array repeat needs (no slot is shared).
    #[cfg(not(sigring_loom))]
    #[allow(clippy::declare_interior_mutable_const)]
    pub(crate) const EMPTY: Self = Self::new();
}

/// Why a push did not take the value; the value comes back.
pub(crate) enum PushError<T> {
    /// The slot at `tail` is not free yet.
    Full(T),
    /// The ring was closed (the other side is gone).
    Closed(T),
}

/// What the consumer learned from its read-modify-write of `tail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TailSnapshot {
    /// Some producer has claimed a slot the consumer has not taken yet.
    pub(crate) claimed: bool,
    /// The mark bit is set.
    pub(crate) closed: bool,
}

/// The largest capacity the position arithmetic supports: the lap field needs room above
/// the index and mark bits.
pub(crate) const MAX_CAPACITY: usize = usize::MAX >> 4;

/// Allocates `cap` empty slots.
///
/// Errors: `InvalidInput` for `cap == 0` or a capacity whose buffer could never be
/// addressed; `OutOfMemory` when the allocator refuses the buffer. Never panics.
pub(crate) fn alloc_slots<T>(cap: usize) -> io::Result<Box<[Slot<T>]>> {
    if cap == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "sigring: capacity must be at least 1",
        ));
    }
    let slot_size = mem::size_of::<Slot<T>>().max(1);
    if cap > MAX_CAPACITY || cap > (isize::MAX as usize) / slot_size {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("sigring: capacity {cap} is too large to allocate"),
        ));
    }
    let mut slots: Vec<Slot<T>> = Vec::new();
    if slots.try_reserve_exact(cap).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!(
                "sigring: cannot allocate {} bytes for capacity {cap}",
                cap * slot_size
            ),
        ));
    }
    slots.extend((0..cap).map(|_| Slot::new()));
    Ok(slots.into_boxed_slice())
}

/// The position arithmetic of a ring of exactly `cap` slots, and the slot protocol itself
/// ([`Geometry::push`], [`Geometry::take`]) over positions kept anywhere.
///
/// Plain data derived from the capacity, never shared: every user keeps its own copy. A
/// [`Ring`] holds one beside its positions; a shared channel (`shared`) keeps one in every
/// process's private memory, so nothing written into a shared mapping can change where an
/// index points.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// The capacity asked for, in `1 ..= MAX_CAPACITY`.
    cap: usize,
    /// `2 * mark_bit`: adding it to a position moves to the same index one lap later.
    one_lap: usize,
    /// `(cap + 1).next_power_of_two()`: the bit of `tail` that says "closed".
    mark_bit: usize,
    /// `mark_bit - 1`: the index bits of a position.
    index_mask: usize,
    /// `!(one_lap - 1)`: the lap bits of a position.
    lap_mask: usize,
}

/// What [`Geometry::take`] found at `head`.
pub(crate) enum Take<T> {
    /// The value, and the position after `head`.
    Value(T, usize),
    /// The stamp says "empty at this lap": nothing published yet (perhaps claimed).
    NotYet,
    /// A stamp the protocol never leaves at `head` (only a scribbled shared mapping has
    /// one).
    Invalid,
}

impl Geometry {
    /// The geometry of exactly `cap` slots. `cap` must be in `1 ..= MAX_CAPACITY` (checked
    /// by [`alloc_slots`], at compile time for a static channel, or by the shared channel's
    /// builder); out of range it is clamped, never a panic.
    pub(crate) const fn new(cap: usize) -> Self {
        let cap = if cap == 0 {
            1
        } else if cap > MAX_CAPACITY {
            MAX_CAPACITY
        } else {
            cap
        };
        let mark_bit = (cap + 1).next_power_of_two();
        let one_lap = mark_bit * 2;
        Geometry {
            cap,
            one_lap,
            mark_bit,
            index_mask: mark_bit - 1,
            lap_mask: !(one_lap - 1),
        }
    }

    /// The capacity asked for.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.cap
    }

    /// The bit of `tail` that says "closed".
    #[inline]
    pub(crate) fn mark_bit(&self) -> usize {
        self.mark_bit
    }

    /// The position after `pos` (which carries no mark bit).
    #[inline(always)]
    pub(crate) fn next(&self, pos: usize) -> usize {
        if (pos & self.index_mask).wrapping_add(1) < self.cap {
            pos.wrapping_add(1)
        } else {
            // Last index: index 0 of the next lap.
            (pos & self.lap_mask).wrapping_add(self.one_lap)
        }
    }

    /// How many positions `to` is past `from` (neither with the mark bit), if `to` is a
    /// position this geometry produces and at most one ring ahead; `None` for anything
    /// else. The shared channel's check of a `tail` read from the mapping.
    pub(crate) fn distance(&self, from: usize, to: usize) -> Option<usize> {
        let (fi, ti) = (from & self.index_mask, to & self.index_mask);
        if ti >= self.cap || to & self.mark_bit != 0 {
            return None;
        }
        // Laps as counts: the lap bits shifted down.
        let shift = self.one_lap.trailing_zeros();
        let laps = (to >> shift).wrapping_sub(from >> shift);
        let d = laps
            .wrapping_mul(self.cap)
            .wrapping_add(ti)
            .wrapping_sub(fi);
        (d <= self.cap).then_some(d)
    }

    /// Pushes `value` into `slots` at the position `tail` names, or gives it back: the
    /// producers' side of the slot protocol (see the module docs): [`Geometry::claim`],
    /// then write and publish.
    ///
    /// Async-signal-safe and reentrant: no lock, no allocation, no syscall, no panic path,
    /// and no waiting. A retry happens only after another producer moved `tail`.
    #[inline]
    pub(crate) fn push<T>(
        &self,
        tail_word: &AtomicUsize,
        slots: &[Slot<T>],
        value: T,
    ) -> Result<(), PushError<T>> {
        match self.claim(tail_word, slots) {
            Ok((slot, lap)) => {
                // SAFETY: the claim gives this producer exclusive ownership of the slot
                // until it publishes: no other producer can claim the same position, and
                // the consumer does not read before the stamp becomes `L + 1`.
                slot.value.with_mut(|p| unsafe { (*p).write(value) });
                // Publish. Release: the value is written before the stamp says so.
                slot.stamp.store(lap.wrapping_add(1), Ordering::Release);
                Ok(())
            }
            Err(PushError::Full(())) => Err(PushError::Full(value)),
            Err(PushError::Closed(())) => Err(PushError::Closed(value)),
        }
    }

    /// Claims the slot at `tail` for one value: on success the caller owns the slot and
    /// must write it and store the stamp `lap + 1` (publish). Same guarantees as
    /// [`Geometry::push`].
    #[inline(always)]
    pub(crate) fn claim<'s, T>(
        &self,
        tail_word: &AtomicUsize,
        slots: &'s [Slot<T>],
    ) -> Result<(&'s Slot<T>, usize), PushError<()>> {
        let mut tail = tail_word.load(Ordering::Relaxed);
        loop {
            if tail & self.mark_bit != 0 {
                return Err(PushError::Closed(()));
            }
            let lap = tail & self.lap_mask;
            // `index < cap` because positions only ever hold indices produced by `next`
            // (a scribbled shared mapping aside); `get` avoids a panic path all the same.
            let Some(slot) = slots.get(tail & self.index_mask) else {
                return Err(PushError::Full(()));
            };
            // Acquire: pairs with the consumer's Release when it freed this slot, so its
            // read of the previous value happens-before our write.
            let stamp = slot.stamp.load(Ordering::Acquire);
            if stamp == lap {
                // The slot is free at this lap: try to claim it.
                //
                // AcqRel on success: Acquire makes the claim synchronize with the consumer's
                // `rmw_tail` when that came first, so our later load of the wake flag sees
                // the consumer's "armed" (see `waker`); the release sequence of `tail`
                // carries that edge through other producers' CASes.
                match tail_word.compare_exchange(
                    tail,
                    self.next(tail),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    // Winning the CAS from `tail` while the stamp said `L`: the slot is ours.
                    Ok(_) => return Ok((slot, lap)),
                    // The CAS fails only because `tail` changed: another producer claimed
                    // this position, or the ring was closed. Retry at the new `tail`.
                    Err(current) => tail = current,
                }
            } else {
                // The slot is not free at this lap. If `tail` moved meanwhile, someone made
                // progress: retry there. Otherwise the slot is still occupied (full, or a
                // pop or push not yet finished with it): report Full, never wait.
                let current = tail_word.load(Ordering::Relaxed);
                if current == tail {
                    return Err(PushError::Full(()));
                }
                tail = current;
            }
        }
    }

    /// Takes the value at position `head` of `slots` if it has been published, reading it
    /// with `read`: the consumer's side of the slot protocol. The caller stores the returned
    /// next position as its new `head`.
    ///
    /// # Safety
    ///
    /// Only one consumer: no two calls for the same ring may overlap, on different threads
    /// or through reentrancy on one thread; `head` is that consumer's own position (never
    /// ahead of a publish it has not seen). `read` must be sound for a slot's initialized
    /// value (`ptr::read`, or `ptr::read_volatile` where every bit pattern is a valid `T`).
    #[inline]
    pub(crate) unsafe fn take<T>(
        &self,
        slots: &[Slot<T>],
        head: usize,
        read: unsafe fn(*const T) -> T,
    ) -> Take<T> {
        let lap = head & self.lap_mask;
        let Some(slot) = slots.get(head & self.index_mask) else {
            return Take::Invalid;
        };
        // Acquire: pairs with the producer's publishing Release.
        let stamp = slot.stamp.load(Ordering::Acquire);
        if stamp != lap.wrapping_add(1) {
            return if stamp == lap {
                Take::NotYet
            } else {
                Take::Invalid
            };
        }
        // SAFETY: the stamp `L + 1` says the value was written and published, and the
        // caller guarantees we are the only consumer, so nobody else reads or frees it; no
        // producer writes it before we store the next-lap stamp below.
        let value = slot.value.with_mut(|p| unsafe { read((*p).as_ptr()) });
        // Free the slot for the next lap. Release: our read is done before a producer of
        // the next lap may write.
        slot.stamp
            .store(lap.wrapping_add(self.one_lap), Ordering::Release);
        Take::Value(value, self.next(head))
    }

    /// Frees the slot at `head`, claimed by a producer that will never publish it (a
    /// process that died between claim and publish): the shared channel's recovery. Returns
    /// the next position.
    pub(crate) fn skip<T>(&self, slots: &[Slot<T>], head: usize) -> usize {
        if let Some(slot) = slots.get(head & self.index_mask) {
            slot.stamp.store(
                (head & self.lap_mask).wrapping_add(self.one_lap),
                Ordering::Release,
            );
        }
        self.next(head)
    }

    /// Whether the slot at `head` is published.
    pub(crate) fn ready<T>(&self, slots: &[Slot<T>], head: usize) -> bool {
        slots.get(head & self.index_mask).is_some_and(|slot| {
            slot.stamp.load(Ordering::Acquire) == (head & self.lap_mask).wrapping_add(1)
        })
    }
}

/// The ring's positions and geometry. `T` values move in through [`Ring::push`] and out
/// through [`Ring::pop`], into and out of the slots the caller passes (always the same
/// `cap` slots for one ring).
pub(crate) struct Ring {
    /// The next position to take. Written only by the consumer; read by `len`.
    head: CachePadded<AtomicUsize>,
    /// The next position to claim, plus the mark bit. Moved by producers' CAS, and by
    /// `fetch_or` (close) and the consumer's `fetch_add(0)` ([`Ring::rmw_tail`]).
    tail: CachePadded<AtomicUsize>,
    geo: Geometry,
}

impl Ring {
    const_fn! {
        /// The positions of an empty ring of exactly `cap` slots (see [`Geometry::new`]).
        pub(crate) fn new(cap: usize) -> Self {
            Ring {
                head: CachePadded::new(AtomicUsize::new(0)),
                tail: CachePadded::new(AtomicUsize::new(0)),
                geo: Geometry::new(cap),
            }
        }
    }

    /// The capacity asked for.
    #[inline]
    pub(crate) fn capacity(&self) -> usize {
        self.geo.cap
    }

    /// Pushes `value` into `slots`, or gives it back ([`Geometry::push`]).
    ///
    /// Async-signal-safe and reentrant: no lock, no allocation, no syscall, no panic path,
    /// and no waiting.
    #[inline]
    pub(crate) fn push<T>(&self, slots: &[Slot<T>], value: T) -> Result<(), PushError<T>> {
        self.geo.push(&self.tail, slots, value)
    }

    /// Takes the value at `head` from `slots`, if it has been published.
    ///
    /// Returns `None` when the ring is empty *or* when the slot at `head` is claimed but
    /// not yet published; [`Ring::rmw_tail`] tells the two apart.
    ///
    /// # Safety
    ///
    /// Only one consumer: no two calls to `pop` on the same ring may overlap, on different
    /// threads or through reentrancy on one thread. `slots` are this ring's slots.
    #[inline]
    pub(crate) unsafe fn pop<T>(&self, slots: &[Slot<T>]) -> Option<T> {
        // Relaxed: only the consumer writes `head`.
        let head = self.head.load(Ordering::Relaxed);
        // SAFETY: forwarded from the caller (the one consumer, its own `head`); `ptr::read`
        // of a published, initialized value.
        match unsafe { self.geo.take(slots, head, std::ptr::read) } {
            Take::Value(value, next) => {
                self.head.store(next, Ordering::Release);
                Some(value)
            }
            Take::NotYet | Take::Invalid => None,
        }
    }

    /// Whether the slot at `head` is published, so that the next `pop` returns a value.
    /// For the consumer only (it reads `head` as its owner).
    pub(crate) fn head_ready<T>(&self, slots: &[Slot<T>]) -> bool {
        self.geo.ready(slots, self.head.load(Ordering::Relaxed))
    }

    /// The consumer's authoritative look at `tail`: a read-modify-write (`fetch_add(0)`),
    /// on which the no-lost-wake-up argument rests (see `waker`).
    ///
    /// Being an RMW it reads the latest `tail` in modification order, and it is a link of
    /// `tail`'s release sequence. So for every producer claim, either this call sees the
    /// claim (`claimed`), or the claim's CAS comes later in `tail`'s order and, through
    /// `AcqRel`, happens-after everything the consumer did before this call (in particular
    /// arming the wake flag). The same holds for a close.
    pub(crate) fn rmw_tail(&self) -> TailSnapshot {
        let tail = self.tail.fetch_add(0, Ordering::AcqRel);
        let head = self.head.load(Ordering::Relaxed);
        TailSnapshot {
            claimed: tail & !self.geo.mark_bit != head,
            closed: tail & self.geo.mark_bit != 0,
        }
    }

    /// Sets the mark bit: from now on every push returns `Closed`. Returns whether the ring
    /// was open before. Async-signal-safe.
    pub(crate) fn close(&self) -> bool {
        // AcqRel: an RMW of `tail`, so the consumer's `rmw_tail` and this call are ordered
        // exactly as a claim would be (see `rmw_tail`).
        self.tail.fetch_or(self.geo.mark_bit, Ordering::AcqRel) & self.geo.mark_bit == 0
    }

    /// Whether the mark bit is set.
    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::Acquire) & self.geo.mark_bit != 0
    }

    /// Number of claimed positions not yet taken (published or still being written).
    ///
    /// Async-signal-safe. Loops only while `tail` keeps moving under it.
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.load(Ordering::SeqCst);
            let head = self.head.load(Ordering::SeqCst);
            // A consistent pair: `tail` did not move while `head` was read.
            if self.tail.load(Ordering::SeqCst) == tail {
                let hix = head & self.geo.index_mask;
                let tix = tail & self.geo.index_mask;
                return if hix < tix {
                    tix.wrapping_sub(hix)
                } else if hix > tix {
                    self.geo.cap.wrapping_sub(hix).wrapping_add(tix)
                } else if tail & !self.geo.mark_bit == head {
                    0
                } else {
                    self.geo.cap
                };
            }
        }
    }

    /// Whether nothing is claimed past `head`. Async-signal-safe.
    pub(crate) fn is_empty(&self) -> bool {
        let head = self.head.load(Ordering::SeqCst);
        let tail = self.tail.load(Ordering::SeqCst);
        tail & !self.geo.mark_bit == head
    }

    /// Drops every published value left in `slots`, exactly once, in order. A slot that a
    /// producer has claimed but not yet published stops it there (what is left stays for
    /// a later drain).
    ///
    /// If a value's destructor panics, the panic propagates, and every value still
    /// published is *leaked* (taken out and forgotten, its destructor not run) while it
    /// unwinds: dropping another one then could panic a second time, which aborts the
    /// process. crossbeam-channel does the same.
    ///
    /// # Safety
    ///
    /// As for [`Ring::pop`].
    pub(crate) unsafe fn drain<T>(&self, slots: &[Slot<T>]) {
        /// Runs only if a destructor panicked: empties the ring without running any more.
        struct LeakRest<'a, T> {
            ring: &'a Ring,
            slots: &'a [Slot<T>],
        }
        impl<T> Drop for LeakRest<'_, T> {
            fn drop(&mut self) {
                // SAFETY: still the one consumer (the caller's guarantee, for the whole
                // drain); nothing here runs user code.
                while let Some(value) = unsafe { self.ring.pop(self.slots) } {
                    mem::forget(value);
                }
            }
        }
        let leak_rest = LeakRest { ring: self, slots };
        // SAFETY: forwarded from the caller.
        while let Some(value) = unsafe { self.pop(slots) } {
            drop(value);
        }
        mem::forget(leak_rest);
    }
}

#[cfg(all(test, not(sigring_loom)))]
mod tests {
    use super::*;

    #[test]
    fn exact_capacity_and_fifo_over_laps() {
        for cap in 1..=9 {
            let slots = alloc_slots(cap).unwrap();
            let ring = Ring::new(cap);
            let mut next_in = 0u32;
            let mut next_out = 0u32;
            for _round in 0..5 {
                while ring.push(&slots, next_in).is_ok() {
                    next_in += 1;
                }
                assert_eq!(ring.len(), cap, "cap {cap}");
                assert!(matches!(ring.push(&slots, 99), Err(PushError::Full(99))));
                // Take about half, keeping the ring wrapping at odd offsets.
                for _ in 0..cap.div_ceil(2) {
                    // SAFETY: single-threaded test, one consumer.
                    assert_eq!(unsafe { ring.pop(&slots) }, Some(next_out));
                    next_out += 1;
                }
            }
            // SAFETY: as above.
            while let Some(v) = unsafe { ring.pop(&slots) } {
                assert_eq!(v, next_out);
                next_out += 1;
            }
            assert_eq!(next_in, next_out);
            assert!(ring.is_empty());
        }
    }

    #[test]
    fn positions_wrap_around_the_word_without_panicking() {
        // Start a few laps before `usize` wraps: the arithmetic wraps with it, in every
        // build, and FIFO order survives the wrap.
        let slots = alloc_slots(3).unwrap();
        let ring = Ring::new(3);
        let start = 0usize.wrapping_sub(2 * ring.geo.one_lap);
        ring.head.store(start, Ordering::Relaxed);
        ring.tail.store(start, Ordering::Relaxed);
        for slot in slots.iter() {
            slot.stamp.store(start, Ordering::Relaxed);
        }
        for v in 0..40u32 {
            assert!(ring.push(&slots, v).is_ok());
            assert!(ring.push(&slots, v + 1000).is_ok());
            // SAFETY: single-threaded test, one consumer.
            assert_eq!(unsafe { ring.pop(&slots) }, Some(v));
            // SAFETY: as above.
            assert_eq!(unsafe { ring.pop(&slots) }, Some(v + 1000));
        }
        assert!(ring.is_empty());
    }

    #[test]
    fn close_rejects_and_reports_once() {
        let slots = alloc_slots(2).unwrap();
        let ring = Ring::new(2);
        assert!(ring.push(&slots, 1).is_ok());
        assert!(ring.close());
        assert!(!ring.close());
        assert!(matches!(ring.push(&slots, 2), Err(PushError::Closed(2))));
        let snap = ring.rmw_tail();
        assert!(snap.closed && snap.claimed);
        // SAFETY: single-threaded test.
        assert_eq!(unsafe { ring.pop(&slots) }, Some(1));
        assert!(!ring.rmw_tail().claimed);
    }

    #[test]
    fn bad_capacities_are_errors() {
        let e = alloc_slots::<u8>(0).err().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        for cap in [usize::MAX, 1 << 60, isize::MAX as usize] {
            let e = alloc_slots::<u64>(cap).err().unwrap();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{cap}");
        }
        // Addressable but far more than any machine has: the allocator says no. (Not under
        // miri, which stops the program on such an allocation instead of failing it.)
        if cfg!(miri) {
            return;
        }
        let e = alloc_slots::<[u8; 64]>(1 << 50).err().unwrap();
        assert!(
            matches!(
                e.kind(),
                io::ErrorKind::OutOfMemory | io::ErrorKind::InvalidInput
            ),
            "{e}"
        );
    }
}
