//! `handler_push`: what one `try_send` costs inside a signal handler, against the same
//! call in plain code. sigring only: no peer's send is async-signal-safe.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Instant;

use crate::peers::{Msg, CAP};
use crate::stats::median;

/// The sender the SIGUSR1 handler pushes into.
static HANDLER_TX: AtomicPtr<sigring::Sender<Msg>> = AtomicPtr::new(std::ptr::null_mut());
/// Whether the handler pushes (`false`: it only looks at this flag, the baseline).
static HANDLER_PUSH: AtomicBool = AtomicBool::new(false);
/// The next sequence number to push (one thread: load + store, no RMW).
static PUSH_SEQ: AtomicU64 = AtomicU64::new(0);
/// Pushes that were rejected (must stay 0).
static PUSH_FAILED: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds spent inside `try_send`, timed around each call (the cross-check).
static PUSH_TIMED_NS: AtomicU64 = AtomicU64::new(0);
/// Whether `push_one` times itself.
static PUSH_TIMING: AtomicBool = AtomicBool::new(false);

/// One push, as the plain loop and the handler both make it.
#[inline(always)]
fn push_one(tx: &sigring::Sender<Msg>) {
    let seq = PUSH_SEQ.load(Ordering::Relaxed);
    PUSH_SEQ.store(seq + 1, Ordering::Relaxed);
    let ok = if PUSH_TIMING.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let r = tx.try_send(Msg { a: 0, b: seq });
        let dt = t0.elapsed().as_nanos() as u64;
        PUSH_TIMED_NS.store(
            PUSH_TIMED_NS.load(Ordering::Relaxed) + dt,
            Ordering::Relaxed,
        );
        r.is_ok()
    } else {
        tx.try_send(Msg { a: 0, b: seq }).is_ok()
    };
    if !ok {
        PUSH_FAILED.store(PUSH_FAILED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

extern "C" fn usr1_handler(_: libc::c_int) {
    if HANDLER_PUSH.load(Ordering::Relaxed) {
        let p = HANDLER_TX.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the pointer is set to a live `Sender` before the signals are raised
            // and cleared (and the handler uninstalled) before it is dropped.
            push_one(unsafe { &*p });
        }
    }
}

fn set_usr1(handler: Option<extern "C" fn(libc::c_int)>) {
    // SAFETY: a zeroed sigaction is a valid starting point; we set the handler (or the
    // default disposition) and an empty mask; the handler only does async-signal-safe work.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler.map_or(libc::SIG_DFL, |h| h as usize);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()),
            0,
            "sigaction"
        );
    }
}

fn raise_usr1(n: usize) {
    for _ in 0..n {
        // SAFETY: SIGUSR1 has our handler installed.
        unsafe { libc::raise(libc::SIGUSR1) };
    }
}

/// What one handler_push repetition measured, all in ns per push.
pub(crate) struct HandlerRun {
    pub(crate) plain: f64,
    pub(crate) raise_empty: f64,
    pub(crate) raise_push: f64,
    /// Median of the paired differences (pushing batch - the empty batch next to it).
    pub(crate) handler: f64,
    pub(crate) plain_timed: f64,
    pub(crate) handler_timed: f64,
}

/// `rounds` rounds of three batches of `batch`: plain `try_send` in a loop;
/// `raise(SIGUSR1)` whose handler only looks at a flag (the baseline); the same with the
/// flag set, so the handler makes one `try_send`. Toggling the flag needs no syscall, so the
/// baseline and the pushing batches alternate closely and their paired difference cancels
/// the (large, noisy) cost of raising and delivering the signal. The ring is drained after
/// each batch outside the timing by exactly the count pushed, so it never fills and the
/// receiver never arms its wake-up: no push makes a syscall (checked).
///
/// Then the cross-check: each `try_send` timed on its own with `Instant::now`, in plain
/// code and in the handler; the median over batches of the mean per batch.
pub(crate) fn handler_push(rounds: usize, batch: usize) -> HandlerRun {
    assert!(batch <= CAP);
    let (tx, rx) = sigring::channel::<Msg>(CAP).expect("channel");
    let mut next_expected = PUSH_SEQ.load(Ordering::Relaxed);
    let mut drain = |n: usize| {
        for _ in 0..n {
            let m = rx.try_recv().expect("handler_push: value missing");
            assert_eq!(m.b, next_expected, "handler_push: order");
            next_expected += 1;
        }
    };
    // A new channel starts armed (an event loop may poll it before any `try_recv`), so the
    // first push writes the fd once; take that write before anything is measured.
    push_one(&tx);
    drain(1);
    let writes_before = rx.wake_writes();
    let tx = Box::new(tx);
    let tx_ptr: *const sigring::Sender<Msg> = &*tx;
    HANDLER_TX.store(tx_ptr.cast_mut(), Ordering::Release);
    PUSH_FAILED.store(0, Ordering::Relaxed);
    set_usr1(Some(usr1_handler));
    let (mut plain, mut empty, mut pushed, mut diff) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let per = |t: Instant| t.elapsed().as_nanos() as f64 / batch as f64;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            push_one(&tx);
        }
        plain.push(per(t));
        drain(batch);
        HANDLER_PUSH.store(false, Ordering::Relaxed);
        let t = Instant::now();
        raise_usr1(batch);
        let e = per(t);
        HANDLER_PUSH.store(true, Ordering::Relaxed);
        let t = Instant::now();
        raise_usr1(batch);
        let p = per(t);
        drain(batch);
        empty.push(e);
        pushed.push(p);
        diff.push(p - e);
    }
    // Cross-check, each call timed on its own.
    PUSH_TIMING.store(true, Ordering::Relaxed);
    let timed = |f: &mut dyn FnMut()| {
        PUSH_TIMED_NS.store(0, Ordering::Relaxed);
        f();
        PUSH_TIMED_NS.load(Ordering::Relaxed) as f64
    };
    let (mut plain_t, mut handler_t) = (Vec::new(), Vec::new());
    for _ in 0..rounds.div_ceil(4) {
        plain_t.push(
            timed(&mut || {
                for _ in 0..batch {
                    push_one(&tx);
                }
            }) / batch as f64,
        );
        drain(batch);
        handler_t.push(timed(&mut || raise_usr1(batch)) / batch as f64);
        drain(batch);
    }
    PUSH_TIMING.store(false, Ordering::Relaxed);
    set_usr1(None);
    HANDLER_PUSH.store(false, Ordering::Relaxed);
    HANDLER_TX.store(std::ptr::null_mut(), Ordering::Release);
    assert_eq!(PUSH_FAILED.load(Ordering::Relaxed), 0, "handler_push: Full");
    assert_eq!(
        rx.wake_writes() - writes_before,
        0,
        "handler_push: a push wrote the fd (the receiver was armed)"
    );
    drop(tx);
    HandlerRun {
        plain: median(&mut plain),
        raise_empty: median(&mut empty),
        raise_push: median(&mut pushed),
        handler: median(&mut diff),
        plain_timed: median(&mut plain_t),
        handler_timed: median(&mut handler_t),
    }
}
