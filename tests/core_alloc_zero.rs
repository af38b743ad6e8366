//! `try_send`, `try_recv`, `recv` (and the timed forms) make zero allocations once
//! `channel()` has returned, on every path: success, `Full`, `Empty`, `Disconnected`,
//! arming, a token write, a sleep in `poll` and a timeout.
//!
//! A counting `#[global_allocator]` counts only the calls made by one "armed" thread (its
//! kernel thread id in a global, compared with `gettid()`; no thread-locals inside the
//! allocator), so other threads (the test harness, a helper producer) do not disturb it.
//!
//! Its own test binary: a global allocator is per binary.
#![cfg(target_os = "linux")]

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{build, gettid, wait_until_sleeping, watchdog, Hooked, BACKENDS};
use sigring::{RecvTimeoutError, TryRecvError};

/// The thread whose allocations count; 0 = none.
static ARMED_TID: AtomicI32 = AtomicI32::new(0);
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn note() {
    let armed = ARMED_TID.load(Ordering::Relaxed);
    if armed != 0 && gettid() == armed {
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static GLOBAL: Hooked = Hooked(|_, dealloc| {
    if !dealloc {
        note();
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

/// The counter itself works: an allocation in the armed region counts, one on another
/// thread does not.
#[test]
fn the_counter_counts_this_thread_only() {
    let _wd = watchdog(30, "the_counter_counts_this_thread_only");
    let (_, n) = count_allocs(|| black_box(Box::new(5u64)));
    assert_eq!(n, 1);
    let (_, n) = count_allocs(|| black_box(vec![1u8; 100]));
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

#[test]
fn no_allocation_in_send_and_receive_paths() {
    let _wd = watchdog(60, "no_allocation_in_send_and_receive_paths");
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(4, backend);
        // A helper that sends once `go` is set, after the consumer fell asleep; started
        // (and its own allocations made) before counting begins.
        let go = Arc::new(AtomicBool::new(false));
        let tid = gettid();
        let helper = {
            let (go, tx) = (go.clone(), tx.clone());
            thread::spawn(move || {
                while !go.load(Ordering::SeqCst) {
                    thread::sleep(Duration::from_millis(1));
                }
                wait_until_sleeping(tid, Duration::from_secs(10));
                tx.try_send(100).unwrap();
            })
        };

        let ((), n) = count_allocs(|| {
            // Sends up to Full, and the Full path.
            for i in 0..4 {
                tx.try_send(i).unwrap();
            }
            assert!(tx.try_send(9).unwrap_err().is_full());
            black_box((tx.len(), tx.is_full(), tx.is_empty(), tx.capacity()));
            black_box((rx.len(), rx.is_empty(), rx.full_rejections(), rx.capacity()));
            // Receives, then Empty (arms the wake-up).
            for i in 0..4 {
                assert_eq!(rx.try_recv(), Ok(i));
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // A send to an armed consumer writes the fd; try_recv takes the value, the
            // next Empty reads the token.
            tx.try_send(5).unwrap();
            assert_eq!(rx.try_recv(), Ok(5));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            // recv / recv_timeout / recv_deadline with a value ready.
            tx.try_send(6).unwrap();
            assert_eq!(rx.recv(), Ok(6));
            tx.try_send(7).unwrap();
            assert_eq!(rx.recv_timeout(Duration::from_secs(1)), Ok(7));
            tx.try_send(8).unwrap();
            assert_eq!(rx.recv_deadline(Instant::now()), Ok(8));
            // Timeouts: spin, arm, poll, give up.
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(5)),
                Err(RecvTimeoutError::Timeout)
            );
            assert_eq!(
                rx.recv_deadline(Instant::now() + Duration::from_millis(5)),
                Err(RecvTimeoutError::Timeout)
            );
            // A real sleep in poll, woken by another thread's send.
            let wakeups = rx.wakeups();
            go.store(true, Ordering::SeqCst);
            assert_eq!(rx.recv(), Ok(100));
            assert!(rx.wakeups() > wakeups, "recv did not sleep");
            // try_iter, a clone and a non-last drop.
            tx.try_send(10).unwrap();
            assert_eq!(rx.try_iter().count(), 1);
            let tx2 = tx.clone();
            tx2.try_send(11).unwrap();
            drop(tx2);
            assert_eq!(rx.try_recv(), Ok(11));
            black_box(rx.wakeups() + rx.wake_writes());
        });
        helper.join().unwrap();
        assert_eq!(
            n, 0,
            "{backend:?}: {n} allocations in the send/receive paths"
        );

        // Disconnected paths.
        let tx2 = tx.clone();
        drop(tx2);
        drop(tx);
        let ((), n) = count_allocs(|| {
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            assert!(rx.recv().is_err());
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(1)),
                Err(RecvTimeoutError::Disconnected)
            );
        });
        assert_eq!(
            n, 0,
            "{backend:?}: {n} allocations on the disconnected paths"
        );
        let (tx, rx) = build::<u64>(4, backend);
        drop(rx);
        let ((), n) = count_allocs(|| {
            assert!(tx.try_send(1).unwrap_err().is_disconnected());
        });
        assert_eq!(
            n, 0,
            "{backend:?}: {n} allocations in try_send -> Disconnected"
        );
    }
}
