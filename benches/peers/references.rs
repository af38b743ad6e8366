//! The physical references: rows that are not channels but say what the hardware and the
//! kernel can do. The bare ring is the ceiling for `spsc`; the raw eventfd is the floor for
//! `pingpong` and `idle_wake`.

use std::cell::{Cell, UnsafeCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{hint, io, thread};

use crossbeam_utils::{Backoff, CachePadded};

use crate::measure::{sleep_until, IdleRun};
use crate::peers::{Chan, Msg, CAP};
use crate::perf::thread_cpu;

// ------------------------------------------------------------------------------------------
// The bare ring
// ------------------------------------------------------------------------------------------

/// The bare two-thread ring ceiling for `spsc`: a classic single-producer single-consumer
/// ring, both threads spinning, no wake-up machinery at all. It carries the same [`Msg`],
/// has the same capacity and runs through the same `measure::throughput` as the channel
/// rows (same producer loop, same checks, same clock, the main thread as the consumer), so
/// the `spsc` ratio compares like with like: a channel's protocol and wake-ups against the
/// bare handing of 16 bytes from one core to another.
///
/// # Why it was unstable, and what changed
///
/// The previous version (47.9 Mmsg/s median, 36.8 to 586 across repetitions, where a
/// separate harness measures about 312) already had each side cache the other's index,
/// but its consumer published `head` after every message and, once it had caught up,
/// re-read `tail` in a tight `pause` loop. A repetition then settled into one of two
/// regimes, depending on who got ahead in its first microseconds:
///
/// * **lockstep**: the consumer polls `tail` while the producer writes it, and reads each
///   slot's cache line while the producer is still filling it, so every message costs an
///   index-line round trip between the cores (plus a slot-line transfer every four
///   messages). That is the 37-50 Mmsg/s mode: what a channel's own protocol costs, not
///   a ceiling, and why sigring could come out level with its "ceiling".
/// * **batched**: the producer is far enough ahead that the consumer takes hundreds of
///   messages per read of `tail`: the 300-590 mode.
///
/// Nothing pulled a repetition out of lockstep once it was in it. And a pure spinner whose
/// peer has been preempted (two CPUs, anything else that runs) spins out its whole time
/// slice. The changes make the batched regime the one every run ends up in:
///
/// 1. **The consumer backs off when it catches up**: on an empty ring it publishes what it
///    consumed, waits [`BATCH_PAUSES`] pause instructions *without touching the ring*
///    (the producer keeps the `tail` and slot lines to itself meanwhile and gets a batch
///    ahead), then re-reads `tail` with crossbeam's `Backoff::snooze`. A lockstep consumer
///    finds the ring empty at once, so it backs off and comes back to a batch. sigring's
///    receiver waits the same way after catching up with a producer mid-burst, so this is
///    the fair ceiling for it, not a trick the channel lacks.
/// 2. **The consumer publishes `head` in batches**: every [`RELEASE_BATCH`] messages and
///    before every wait (so the producer never waits on slots that are consumed but not
///    yet released), not after every message. A full producer finds a chunk of free slots
///    per read of `head`, not one, and the `head` line moves once per chunk.
/// 3. **Both sides wait with `Backoff::snooze`** (spin 1..64 pauses, then `sched_yield`),
///    so a side whose peer is off the CPU gives its CPU back instead of spinning for a
///    time slice.
///
/// The layout is the classic one: `head`, `tail` and `closed` each on their own cache-line
/// pair ([`CachePadded`]); each side's position and its cached copy of the other's index
/// live in its own half ([`BareTx`], [`BareRx`]), never shared; the slots follow in the
/// same 128-byte-aligned allocation, so no slot line holds an index or anything else.
///
/// Measured since (2026-11-30, 9 and more repetitions): the median moved to 150-181 Mmsg/s,
/// but the spread did not shrink to noise. The machine has slow and fast spells (seconds
/// to minutes) in which this ring runs at 58-74 or at 150-181 while sigring, in the same
/// repetitions, runs at 86-105 or 101-136; publishing `tail` in batches and spinning
/// without `sched_yield` did not change that (docs/benchmarks.md). The `spsc` target
/// therefore also compares the two per repetition (`report::targets`).
pub(crate) struct BareRing;

/// Pause instructions the consumer waits, without looking at the ring, each time it
/// finds the ring empty (about 1 us where a pause takes 15 ns: some hundreds of messages
/// at the producer's rate, well under [`CAP`]).
const BATCH_PAUSES: u32 = 64;

/// The consumer publishes `head` at least this often (and before every wait).
const RELEASE_BATCH: usize = CAP / 8;

/// The part both threads see.
pub(crate) struct BareShared {
    /// The consumer's published position: every slot before it may be overwritten.
    /// Written by the consumer only, every [`RELEASE_BATCH`] messages and before it waits.
    head: CachePadded<AtomicUsize>,
    /// The producer's published position: every slot before it holds a value. Written by
    /// the producer only, after every message.
    tail: CachePadded<AtomicUsize>,
    /// Set by the producer when its half is dropped, after its last `tail` store.
    closed: CachePadded<AtomicBool>,
    slots: CachePadded<[UnsafeCell<Msg>; CAP]>,
}

const _: () = assert!(CAP.is_power_of_two());

// SAFETY: a slot is written only by the one producer while `tail - head < CAP` says it is
// free, and read only by the one consumer after the producer's Release store of `tail`
// published it (Acquire load); there is one `BareTx` (`clone_tx` panics) and one `BareRx`.
unsafe impl Sync for BareShared {}

pub(crate) struct BareTx {
    ring: Arc<BareShared>,
    /// The next position to write (the producer's own, published as `ring.tail`).
    tail: Cell<usize>,
    /// The last `ring.head` seen: at least this much is free.
    head_cache: Cell<usize>,
}

impl Drop for BareTx {
    fn drop(&mut self) {
        self.ring.closed.store(true, Ordering::Release);
    }
}

pub(crate) struct BareRx {
    ring: Arc<BareShared>,
    /// The next position to read.
    head: usize,
    /// The last `head` published to the producer.
    released: usize,
    /// The last `ring.tail` seen: at least this much is readable.
    tail_cache: usize,
}

impl BareRx {
    fn release(&mut self) {
        if self.released != self.head {
            self.released = self.head;
            self.ring.head.store(self.head, Ordering::Release);
        }
    }

    /// Waits until the ring holds something; `false` once the producer is gone and all is
    /// read.
    #[cold]
    fn wait(&mut self) -> bool {
        self.release();
        for _ in 0..BATCH_PAUSES {
            hint::spin_loop();
        }
        let backoff = Backoff::new();
        loop {
            self.tail_cache = self.ring.tail.load(Ordering::Acquire);
            if self.tail_cache != self.head {
                return true;
            }
            if self.ring.closed.load(Ordering::Acquire) {
                // The producer's last `tail` store came before `closed`.
                self.tail_cache = self.ring.tail.load(Ordering::Acquire);
                return self.tail_cache != self.head;
            }
            backoff.snooze();
        }
    }
}

impl Chan for BareRing {
    type Tx = BareTx;
    type Rx = BareRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let ring = Arc::new(BareShared {
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            closed: CachePadded::new(AtomicBool::new(false)),
            slots: CachePadded::new(std::array::from_fn(|_| UnsafeCell::new(Msg::default()))),
        });
        (
            BareTx {
                ring: ring.clone(),
                tail: Cell::new(0),
                head_cache: Cell::new(0),
            },
            BareRx {
                ring,
                head: 0,
                released: 0,
                tail_cache: 0,
            },
        )
    }
    fn clone_tx(_: &Self::Tx) -> Self::Tx {
        panic!("the bare ring is single-producer")
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        let t = tx.tail.get();
        if t.wrapping_sub(tx.head_cache.get()) >= CAP {
            let backoff = Backoff::new();
            loop {
                tx.head_cache.set(tx.ring.head.load(Ordering::Acquire));
                if t.wrapping_sub(tx.head_cache.get()) < CAP {
                    break;
                }
                backoff.snooze();
            }
        }
        // SAFETY: `t - head < CAP`: the consumer is done with this slot (its Release store
        // of `head` was acquired above, now or earlier), and only this producer writes
        // slots.
        unsafe { *tx.ring.slots[t & (CAP - 1)].get() = m };
        tx.tail.set(t.wrapping_add(1));
        tx.ring.tail.store(t.wrapping_add(1), Ordering::Release);
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        if rx.head == rx.tail_cache && !rx.wait() {
            return None;
        }
        let h = rx.head;
        // SAFETY: `h < tail`: the producer published this slot with its Release store of
        // `tail`, acquired in `wait`, and does not touch it again until `head` moves past
        // it.
        let m = unsafe { *rx.ring.slots[h & (CAP - 1)].get() };
        rx.head = h.wrapping_add(1);
        if rx.head.wrapping_sub(rx.released) >= RELEASE_BATCH {
            rx.release();
        }
        Some(m)
    }
}

// ------------------------------------------------------------------------------------------
// The raw eventfd
// ------------------------------------------------------------------------------------------

fn eventfd() -> OwnedFd {
    // SAFETY: plain syscall with valid flags; the result is checked before it is owned.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
    // SAFETY: a fresh fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn efd_write(fd: RawFd, v: u64) {
    // SAFETY: writes 8 valid bytes to an eventfd we own.
    let n = unsafe { libc::write(fd, (&v as *const u64).cast(), 8) };
    assert_eq!(n, 8, "eventfd write: {}", io::Error::last_os_error());
}

/// Sleeps in `poll(2)` until `fd` is readable, then reads the counter.
fn efd_poll_read(fd: RawFd) -> u64 {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n == 1 {
            break;
        }
        assert_eq!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::Interrupted
        );
    }
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into a u64 from an eventfd we own.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    assert_eq!(n, 8, "eventfd read: {}", io::Error::last_os_error());
    v
}

/// The physical reference for `idle_wake`: the producer stores the send time and writes 1
/// to an eventfd; the consumer sleeps in `poll(2)`, reads the counter, looks at the clock.
pub(crate) fn idle_wake_eventfd(msgs: usize, spacing: Duration) -> IdleRun {
    let efd = Arc::new(eventfd());
    let sent_at = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let consumer = {
        let efd = efd.clone();
        let sent_at = sent_at.clone();
        thread::spawn(move || {
            let cpu0 = thread_cpu();
            let mut lat = Vec::with_capacity(msgs);
            let mut count = 0u64;
            while count < msgs as u64 {
                count += efd_poll_read(efd.as_raw_fd());
                let now = base.elapsed().as_nanos() as u64;
                lat.push(now.saturating_sub(sent_at.load(Ordering::Acquire)) as f64);
            }
            assert_eq!(count, msgs as u64, "raw eventfd: counter sum");
            let cpu = thread_cpu() - cpu0;
            IdleRun {
                cpu_per_msg: cpu.as_nanos() as f64 / msgs as f64,
                lat,
            }
        })
    };
    thread::sleep(spacing * 5);
    let t0 = Instant::now();
    for i in 0..msgs as u32 {
        sleep_until(t0 + spacing * (i + 1));
        sent_at.store(base.elapsed().as_nanos() as u64, Ordering::Release);
        efd_write(efd.as_raw_fd(), 1);
    }
    consumer.join().expect("consumer panicked")
}

/// The sleepers' floor for `pingpong`: two eventfds, both threads sleeping in `poll(2)`.
pub(crate) fn pingpong_eventfd(rounds: usize) -> Vec<f64> {
    let ab = Arc::new(eventfd());
    let ba = Arc::new(eventfd());
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let (ab, ba, stop) = (ab.clone(), ba.clone(), stop.clone());
        thread::spawn(move || loop {
            let v = efd_poll_read(ab.as_raw_fd());
            if stop.load(Ordering::Acquire) {
                return;
            }
            efd_write(ba.as_raw_fd(), v);
        })
    };
    let warmup = rounds / 10 + 10;
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let t0 = Instant::now();
        efd_write(ab.as_raw_fd(), 1);
        let v = efd_poll_read(ba.as_raw_fd());
        let rtt = t0.elapsed();
        assert_eq!(v, 1, "raw eventfd pingpong");
        if i >= warmup {
            lat.push(rtt.as_nanos() as f64 / 2.0);
        }
    }
    stop.store(true, Ordering::Release);
    efd_write(ab.as_raw_fd(), 1);
    echo.join().expect("echo panicked");
    lat
}
