//! A tracing `#[global_allocator]` that pushes an event into a sigring channel on every
//! allocation and deallocation, from inside the allocator, while several threads allocate
//! and a consumer drains (and allocates itself, which pushes more events).
//!
//! A queue with a lock or an allocating push would deadlock or recurse here. Checked: no
//! deadlock (watchdog), every allocating thread's events arrive, in that thread's order,
//! and `received + rejected == attempted`.
//!
//! Its own test binary: a global allocator is per binary.
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use common::{build, gettid, watchdog, Hooked, BACKENDS};
use sigring::{RecvTimeoutError, Sender, TrySendError};

/// One allocator call, as pushed from inside the allocator.
#[derive(Clone, Copy, Debug)]
struct Event {
    tid: i32,
    /// Global order of attempts; increasing along each thread.
    seq: u64,
    size: usize,
    dealloc: bool,
}

/// The sender the allocator pushes with; null when tracing is off.
static SLOT: AtomicPtr<Sender<Event>> = AtomicPtr::new(ptr::null_mut());
/// Allocator calls between loading `SLOT` and finishing with it.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static SEQ: AtomicU64 = AtomicU64::new(0);
static ATTEMPTED: AtomicU64 = AtomicU64::new(0);
static REJECTED: AtomicU64 = AtomicU64::new(0);
static DISCONNECTED: AtomicU64 = AtomicU64::new(0);

/// Pushes one event if tracing is on. Never allocates: `try_send` takes no lock and
/// allocates nothing, so this cannot recurse or deadlock.
fn trace(size: usize, dealloc: bool) {
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let p = SLOT.load(Ordering::SeqCst);
    if !p.is_null() {
        let ev = Event {
            tid: gettid(),
            seq: SEQ.fetch_add(1, Ordering::Relaxed),
            size,
            dealloc,
        };
        ATTEMPTED.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `p` stays valid until `retract` sees ACTIVE at 0.
        match unsafe { &*p }.try_send(ev) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                DISCONNECTED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
}

#[global_allocator]
static GLOBAL: Hooked = Hooked(|layout, dealloc| trace(layout.size(), dealloc));

fn publish(tx: Sender<Event>) {
    let old = SLOT.swap(Box::into_raw(Box::new(tx)), Ordering::SeqCst);
    assert!(old.is_null());
}

fn retract() -> Sender<Event> {
    let p = SLOT.swap(ptr::null_mut(), Ordering::SeqCst);
    assert!(!p.is_null());
    while ACTIVE.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    // SAFETY: from `Box::into_raw` in `publish`; no allocator call holds it any more.
    *unsafe { Box::from_raw(p) }
}

/// Some allocation traffic of various sizes.
fn churn(i: usize) {
    let mut v: Vec<u64> = Vec::with_capacity(1 + i % 7);
    for k in 0..(i % 40) {
        v.push(k as u64); // reallocs
    }
    let s = format!("event {i} {}", v.len());
    let b = Box::new([0u8; 64]);
    black_box((&v, &s, &b));
}

#[test]
fn tracing_allocator_pushes_on_every_allocation() {
    let _wd = watchdog(60, "tracing_allocator_pushes_on_every_allocation");
    const THREADS: usize = 4;
    const ITERS: usize = 20_000;
    for backend in BACKENDS {
        let (tx, rx) = build::<Event>(1024, backend);
        for c in [&SEQ, &ATTEMPTED, &REJECTED, &DISCONNECTED] {
            c.store(0, Ordering::SeqCst);
        }
        publish(tx);

        let consumer = {
            thread::spawn(move || {
                // The consumer allocates too (this map): those events go into the same
                // channel it is draining.
                let mut last: HashMap<i32, u64> = HashMap::new();
                let mut received = 0u64;
                let mut bytes = 0u64;
                loop {
                    match rx.recv_timeout(Duration::from_millis(20)) {
                        Ok(ev) => {
                            if let Some(&prev) = last.get(&ev.tid) {
                                assert!(
                                    ev.seq > prev,
                                    "thread {}: event {} after {prev}",
                                    ev.tid,
                                    ev.seq
                                );
                            }
                            last.insert(ev.tid, ev.seq);
                            received += 1;
                            if !ev.dealloc {
                                bytes += ev.size as u64;
                            }
                        }
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                (received, last.into_keys().collect::<Vec<_>>(), bytes, rx)
            })
        };

        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                thread::spawn(|| {
                    let tid = gettid();
                    for i in 0..ITERS {
                        churn(i);
                        if i % 512 == 0 {
                            thread::yield_now();
                        }
                    }
                    tid
                })
            })
            .collect();
        let tids: Vec<i32> = workers.into_iter().map(|h| h.join().unwrap()).collect();
        // Tracing off, then the last sender goes: the consumer drains and stops.
        drop(retract());
        let (received, seen_tids, bytes, rx) = consumer.join().unwrap();

        let attempted = ATTEMPTED.load(Ordering::SeqCst);
        let rejected = REJECTED.load(Ordering::SeqCst);
        assert_eq!(DISCONNECTED.load(Ordering::SeqCst), 0);
        assert_eq!(
            received + rejected,
            attempted,
            "{backend:?}: received + rejected != attempted"
        );
        assert_eq!(rx.full_rejections(), rejected);
        // Each worker makes several allocations per iteration.
        assert!(
            attempted >= (THREADS * ITERS) as u64,
            "{backend:?}: too few events"
        );
        for tid in &tids {
            assert!(
                seen_tids.contains(tid),
                "{backend:?}: no event from worker thread {tid} arrived"
            );
        }
        println!(
            "{backend:?}: {attempted} allocator events, {received} received ({bytes} bytes \
             allocated), {rejected} rejected as full, {} wake-ups",
            rx.wakeups()
        );
    }
}
