//! Coexistence: a raw `sigaction` handler installed before the first registration keeps
//! being called; two `forward`s of the same signal into different channels both receive;
//! an action registered separately through signal-hook-registry keeps working; dropping
//! one forwarding leaves the others alone.
//!
//! One test function in its own process: the raw handler must be installed before anything
//! registers `SIGWINCH` through the registry, which no other test here can disturb.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use common::{install_handler, watchdog};
use sigring::signal;
use sigring::TryRecvError;

static RAW_RUNS: AtomicU64 = AtomicU64::new(0);

extern "C" fn raw_handler(_: libc::c_int) {
    RAW_RUNS.fetch_add(1, Ordering::SeqCst);
}

fn raise(signal: libc::c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; the signal is handled.
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

#[test]
fn forwarding_coexists_with_earlier_and_other_handlers() {
    let _wd = watchdog(60, "forwarding_coexists_with_earlier_and_other_handlers");
    let sig = libc::SIGWINCH;

    // A plain handler from before anyone used the registry for this signal.
    let raw = install_handler(sig, raw_handler, true);
    // The registry chains to it from now on; restoring the old disposition would unhook
    // the registry's handler, so this guard is never dropped.
    std::mem::forget(raw);

    let (tx1, rx1) = sigring::channel(16).unwrap();
    let (tx2, rx2) = sigring::channel(16).unwrap();
    let first = signal::forward(&[sig], &tx1).unwrap();
    let second = signal::forward(&[sig], &tx2).unwrap();
    let other_runs = Arc::new(AtomicU64::new(0));
    let other = {
        let runs = other_runs.clone();
        // SAFETY: the action is one atomic add: async-signal-safe, cannot panic.
        unsafe {
            signal_hook_registry::register(sig, move || {
                runs.fetch_add(1, Ordering::SeqCst);
            })
        }
        .unwrap()
    };

    // `raise` runs every handler on this thread before it returns.
    for _ in 0..3 {
        raise(sig);
    }
    assert_eq!(
        RAW_RUNS.load(Ordering::SeqCst),
        3,
        "the earlier handler was not chained"
    );
    assert_eq!(
        other_runs.load(Ordering::SeqCst),
        3,
        "the registry action did not run"
    );
    assert_eq!(rx1.try_iter().count(), 3);
    assert_eq!(rx2.try_iter().count(), 3);
    assert_eq!((first.delivered(sig), second.delivered(sig)), (3, 3));

    // Dropping one forwarding stops only that one.
    drop(first);
    raise(sig);
    assert_eq!(RAW_RUNS.load(Ordering::SeqCst), 4);
    assert_eq!(other_runs.load(Ordering::SeqCst), 4);
    assert_eq!(rx2.try_iter().count(), 1);
    drop(tx1);
    assert_eq!(rx1.try_recv(), Err(TryRecvError::Disconnected));

    // And the separately registered action going away leaves the forwarding working.
    assert!(signal_hook_registry::unregister(other));
    raise(sig);
    assert_eq!(RAW_RUNS.load(Ordering::SeqCst), 5);
    assert_eq!(other_runs.load(Ordering::SeqCst), 4);
    assert_eq!(rx2.try_recv().map(|i| i.signal), Ok(sig));
    assert_eq!(second.delivered(sig), 5);
}
