//! The physical references: rows that are not channels but say what the hardware and the
//! kernel can do. The bare ring is the ceiling for `spsc`; the raw eventfd is the floor for
//! `pingpong` and `idle_wake`.

use std::cell::{Cell, UnsafeCell};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use std::{hint, io, thread};

use crossbeam_utils::CachePadded;

use crate::measure::{sleep_until, IdleRun};
use crate::peers::{Chan, Msg, CAP};
use crate::perf::thread_cpu;

// ------------------------------------------------------------------------------------------
// The bare ring
// ------------------------------------------------------------------------------------------

/// The bare two-thread ring ceiling: a minimal SPSC ring (power-of-two capacity, head and
/// tail on their own cache lines, each side caching the other's index), both threads
/// spinning. No wake-up machinery at all: the physical limit of handing 16 bytes from one
/// core to another through shared cache lines.
pub(crate) struct BareRing;

pub(crate) struct BareShared {
    buf: Box<[UnsafeCell<Msg>]>,
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    closed: AtomicBool,
}

// SAFETY: a slot is written only by the one producer while `tail - head < CAP` says it is
// free, and read only by the one consumer after the producer's Release store of `tail`
// published it (Acquire load); `BareTx` is not `Clone` in practice (`clone_tx` panics).
unsafe impl Sync for BareShared {}

pub(crate) struct BareTx {
    ring: Arc<BareShared>,
    tail: Cell<usize>,
    head_cache: Cell<usize>,
}

impl Drop for BareTx {
    fn drop(&mut self) {
        self.ring.closed.store(true, Ordering::Release);
    }
}

pub(crate) struct BareRx {
    ring: Arc<BareShared>,
    head: usize,
    tail_cache: usize,
}

impl Chan for BareRing {
    type Tx = BareTx;
    type Rx = BareRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let ring = Arc::new(BareShared {
            buf: (0..CAP).map(|_| UnsafeCell::new(Msg::default())).collect(),
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
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
        while t.wrapping_sub(tx.head_cache.get()) >= CAP {
            hint::spin_loop();
            tx.head_cache.set(tx.ring.head.load(Ordering::Acquire));
        }
        // SAFETY: `t - head < CAP`: the consumer is done with this slot (its Release store
        // of `head` was acquired above), and only this producer writes slots.
        unsafe { *tx.ring.buf[t & (CAP - 1)].get() = m };
        tx.tail.set(t.wrapping_add(1));
        tx.ring.tail.store(t.wrapping_add(1), Ordering::Release);
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        let h = rx.head;
        while h == rx.tail_cache {
            rx.tail_cache = rx.ring.tail.load(Ordering::Acquire);
            if h == rx.tail_cache {
                if rx.ring.closed.load(Ordering::Acquire) {
                    rx.tail_cache = rx.ring.tail.load(Ordering::Acquire);
                    if h == rx.tail_cache {
                        return None;
                    }
                } else {
                    hint::spin_loop();
                }
            }
        }
        // SAFETY: `h < tail`: the producer published this slot with its Release store of
        // `tail`, acquired above, and does not touch it again until `head` moves past it.
        let m = unsafe { *rx.ring.buf[h & (CAP - 1)].get() };
        rx.head = h.wrapping_add(1);
        rx.ring.head.store(rx.head, Ordering::Release);
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
