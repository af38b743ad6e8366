//! `StaticChannel` and allocation: its paths allocate nothing, and a `#[global_allocator]`
//! can report every allocation through one, including allocations made by the thread
//! that drains it and those made before `main`.
//!
//! The allocator here does two jobs:
//!
//! * it counts the allocations of one "armed" thread (its kernel thread id in a global,
//!   compared with `gettid()`; no thread-locals inside the allocator), for the zero-
//!   allocation checks;
//! * while `TRACING` is set (from process start), it `try_send`s one record per allocation
//!   (size, align) into the static `TRACE`, counting attempts and `Full` rejections.
//!
//! A boxed channel could not do the second job: creating it allocates, so the allocator
//! cannot create it, and a lazily created one would recurse into the allocator.
//!
//! Its own test binary: a global allocator is per binary.
//!
//! Under miri (`.ci/verify`) every test runs, with a smaller channel and fewer
//! allocations; miri has no `poll(2)`, so there `fd_readable` asks a one-shot epoll
//! instance instead.
#![cfg(target_os = "linux")]

mod common;

use std::alloc::Layout;
use std::hint::black_box;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::fd_readable;
use common::{gettid, watchdog, Hooked};
use sigring::{Backend, RecvTimeoutError, SendError, StaticChannel, TryRecvError, TrySendError};

// --- The allocator -----------------------------------------------------------------------

/// The thread whose allocations count; 0 = none.
static ARMED_TID: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// One allocation, as the allocator reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rec {
    size: usize,
    align: usize,
}

/// Every allocation of the process while `TRACING` is set; created before `main` (it is a
/// `const`), so the allocator can use it from the first allocation on.
static TRACE: StaticChannel<Rec, TRACE_CAPACITY> = StaticChannel::new();
/// 64 under miri, where an operation costs time in proportion to the capacity.
const TRACE_CAPACITY: usize = if cfg!(miri) { 64 } else { 1024 };
/// On from process start, until the tracing test turns it off.
static TRACING: AtomicBool = AtomicBool::new(true);
/// Allocator calls between their increment here and their end (for a clean stop).
static IN_ALLOC: AtomicUsize = AtomicUsize::new(0);
static ATTEMPTED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static DISCONNECTED: AtomicU64 = AtomicU64::new(0);

/// Runs on every allocation: counts it for the armed thread, and sends its record if
/// tracing is on. Neither allocates: `try_send` takes no lock and makes no allocation, so
/// this cannot recurse or deadlock.
fn note(layout: Layout) {
    let armed = ARMED_TID.load(Ordering::Relaxed);
    if armed != 0 && gettid() == armed {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
    IN_ALLOC.fetch_add(1, Ordering::SeqCst);
    if TRACING.load(Ordering::SeqCst) {
        ATTEMPTED.fetch_add(1, Ordering::Relaxed);
        let rec = Rec {
            size: layout.size(),
            align: layout.align(),
        };
        match TRACE.try_send(rec) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                DISCONNECTED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    IN_ALLOC.fetch_sub(1, Ordering::SeqCst);
}

#[global_allocator]
static GLOBAL: Hooked = Hooked(|layout, dealloc| {
    if !dealloc {
        note(layout);
    }
});

/// Runs `f` with this thread's allocations counted; returns its result and the count.
fn count_allocs<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.store(0, Ordering::SeqCst);
    ARMED_TID.store(gettid(), Ordering::SeqCst);
    let r = f();
    ARMED_TID.store(0, Ordering::SeqCst);
    (r, COUNT.load(Ordering::SeqCst))
}

// --- Zero allocations --------------------------------------------------------------------

/// The counter counts: an allocation in the armed region is seen, another thread's is not.
#[test]
fn the_counter_counts_this_thread_only() {
    let _wd = watchdog(30, "the_counter_counts_this_thread_only");
    let (_, n) = count_allocs(|| black_box(Box::new(5u64)));
    assert_eq!(n, 1);
    let other = thread::spawn(|| {
        for _ in 0..1000 {
            black_box(Box::new(1u8));
        }
    });
    let (_, n) = count_allocs(|| {
        while !other.is_finished() {
            std::hint::spin_loop();
        }
    });
    other.join().unwrap();
    assert_eq!(n, 0, "another thread's allocations were counted");
}

static Z_EVENTFD: StaticChannel<u64, 4> = StaticChannel::new();
static Z_PIPE: StaticChannel<u64, 4> = StaticChannel::new();

/// `new` (trivially: `const`), `try_send` with every outcome, `receiver()`, `sender()`,
/// cloning and dropping senders, receiving, dropping the receiver, and the sends that find
/// it gone: no allocation, on both backends.
#[test]
fn static_channel_paths_make_no_allocation() {
    let _wd = watchdog(30, "static_channel_paths_make_no_allocation");
    for (ch, backend) in [(&Z_EVENTFD, Backend::EventFd), (&Z_PIPE, Backend::Pipe)] {
        let (rx, n) = count_allocs(|| {
            // A non-static one, filled and dropped (its drop drops what is queued).
            let local: StaticChannel<Box<u8>, 2> = StaticChannel::new();
            black_box(&local);
            drop(local);
            // try_send before the receiver: Ok up to N, then Full.
            for i in 0..4 {
                ch.try_send(i).unwrap();
            }
            assert!(ch.try_send(9).unwrap_err().is_full());
            black_box((ch.len(), ch.is_full(), ch.is_empty(), ch.capacity()));
            // The receiver (fd creation, arming, the token for what is queued).
            let rx = ch.receiver_with(backend).unwrap();
            for i in 0..4 {
                assert_eq!(rx.try_recv(), Ok(i));
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // Handles: made, cloned, used, dropped (the last one too).
            let tx = ch.sender();
            let tx2 = tx.clone();
            tx.try_send(10).unwrap();
            tx2.try_send(11).unwrap();
            drop(tx);
            drop(tx2);
            // The static's own sends with room, and a receive that sleeps for a timeout.
            ch.send(12).unwrap();
            ch.send_timeout(13, Duration::from_secs(1)).unwrap();
            assert_eq!(rx.try_iter().count(), 4);
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(5)),
                Err(RecvTimeoutError::Timeout)
            );
            black_box((rx.full_rejections(), rx.wake_writes(), rx.is_disconnected()));
            rx
        });
        assert_eq!(
            n, 0,
            "{backend:?}: {n} allocations on the static channel paths"
        );

        // Dropping the receiver with values queued, then every send to a channel without one.
        ch.try_send(1).unwrap();
        let ((), n) = count_allocs(|| {
            drop(rx);
            assert!(ch.try_send(2).unwrap_err().is_disconnected());
            assert_eq!(ch.send(3), Err(SendError(3)));
            let tx = ch.sender();
            assert!(tx.try_send(4).unwrap_err().is_disconnected());
            drop(tx);
        });
        assert_eq!(
            n, 0,
            "{backend:?}: {n} allocations on the disconnected paths"
        );
    }
}

static TWICE: StaticChannel<u8, 1> = StaticChannel::new();

/// The success path of `receiver()` allocates nothing (above); this measures its
/// `AlreadyExists` path separately.
#[test]
fn receiver_already_exists_makes_no_allocation() {
    let _wd = watchdog(30, "receiver_already_exists_makes_no_allocation");
    let _rx = TWICE.receiver().unwrap();
    let (kind, n) = count_allocs(|| TWICE.receiver().unwrap_err().kind());
    assert_eq!(kind, ErrorKind::AlreadyExists);
    assert_eq!(n, 0, "{n} allocations on receiver()'s AlreadyExists path");
}

// --- Tracing every allocation through the static -----------------------------------------

/// Some allocation traffic of various sizes (vector growth reallocates).
fn churn(i: usize) {
    let mut v: Vec<u64> = Vec::with_capacity(1 + i % 7);
    for k in 0..(i % 40) {
        v.push(k as u64);
    }
    let s = format!("record {i} {}", v.len());
    let b = Box::new([0u8; 64]);
    black_box((&v, &s, &b));
}

/// A size and alignment nothing else in this binary allocates.
const MARK: Rec = Rec {
    size: 77_777,
    align: 4096,
};

/// Every allocation of the process goes into `TRACE` (from inside the allocator) while
/// worker threads allocate and a consumer thread drains it, allocating itself as it goes
/// (those records go into the channel it is draining). No recursion and no deadlock
/// (watchdog); every record sent was received or counted as `Full`; records sent before
/// the receiver existed make its fd readable at once; a record's fields arrive intact.
#[test]
fn a_global_allocator_reports_every_allocation_through_a_static() {
    let _wd = watchdog(60, "a_global_allocator_reports_every_allocation");
    const THREADS: usize = 4;
    const ITERS: usize = if cfg!(miri) { 100 } else { 20_000 };

    // Tracing has been on since the process started: the test harness's allocations are
    // queued already (the first `TRACE_CAPACITY`; the rest were refused as Full).
    let queued_before = TRACE.len();
    let rx = TRACE.receiver().unwrap();
    assert!(queued_before > 0, "nothing was traced before the receiver");
    assert!(
        fd_readable(rx.as_raw_fd()),
        "{queued_before} records queued, and the new receiver's fd is not readable"
    );

    let stop = Arc::new(AtomicBool::new(false));
    let mark_seen = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (stop, mark_seen) = (stop.clone(), mark_seen.clone());
        thread::spawn(move || {
            // This vector's growth is traced into the channel being drained.
            let mut sizes: Vec<usize> = Vec::new();
            let mut received = 0u64;
            loop {
                match rx.recv_timeout(Duration::from_millis(10)) {
                    Ok(rec) => {
                        received += 1;
                        assert!(rec.align.is_power_of_two(), "garbage record {rec:?}");
                        if rec == MARK {
                            mark_seen.store(true, Ordering::SeqCst);
                        }
                        if sizes.len() < 100_000 {
                            sizes.push(rec.size);
                        }
                    }
                    // `stop` is set once tracing is off and no allocator call is inside
                    // `try_send`: a timeout now means the channel is drained.
                    Err(RecvTimeoutError::Timeout) if stop.load(Ordering::SeqCst) => break,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => panic!("a static disconnected"),
                }
            }
            (received, sizes.len(), rx)
        })
    };

    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            thread::spawn(|| {
                for i in 0..ITERS {
                    churn(i);
                    if i % 512 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }

    // One distinctive allocation, repeated until its record got through (a full channel
    // may refuse one); shows the fields arrive as sent.
    let start = Instant::now();
    let layout = Layout::from_size_align(MARK.size, MARK.align).unwrap();
    while !mark_seen.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(10) {
        // SAFETY: a non-zero-sized layout; the block is freed right away with it.
        unsafe {
            // `black_box`: an optimized build may remove an allocation nobody uses.
            let p = std::hint::black_box(std::alloc::alloc(layout));
            assert!(!p.is_null());
            std::alloc::dealloc(p, layout);
        }
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        mark_seen.load(Ordering::SeqCst),
        "the {MARK:?} record never arrived"
    );

    // Tracing off; wait until no allocator call is still inside `try_send`.
    TRACING.store(false, Ordering::SeqCst);
    while IN_ALLOC.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    stop.store(true, Ordering::SeqCst);
    let (received, kept, rx) = consumer.join().unwrap();

    let attempted = ATTEMPTED.load(Ordering::SeqCst);
    let rejected = REJECTED.load(Ordering::SeqCst);
    assert_eq!(DISCONNECTED.load(Ordering::SeqCst), 0);
    assert_eq!(
        received + rejected,
        attempted,
        "received {received} + rejected {rejected} != allocations observed {attempted}"
    );
    assert_eq!(rx.full_rejections(), rejected);
    assert!(
        attempted >= (THREADS * ITERS) as u64,
        "{attempted} allocations observed: the workers' were not traced"
    );
    assert!(kept > 0);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    println!(
        "{attempted} allocations observed ({queued_before} queued before the receiver), \
         {received} received, {rejected} refused as full, {} consumer wake-ups",
        rx.wakeups()
    );
}
