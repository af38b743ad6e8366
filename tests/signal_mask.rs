//! Thread hygiene: `block` defers delivery until the guard restores the old mask, nests,
//! and is what `/proc` reports; `spawn_blocked` masks the new thread only.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;

use std::io::ErrorKind;
use std::sync::Mutex;

use common::{serial, watchdog};
use libc::c_int;
use sigring::signal;
use sigring::TryRecvError;

static LOCK: Mutex<()> = Mutex::new(());

/// This thread's `SigBlk` from `/proc/thread-self/status`, as a list of signals.
fn proc_blocked() -> Vec<c_int> {
    let status = std::fs::read_to_string("/proc/thread-self/status").expect("read status");
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("SigBlk:"))
        .expect("SigBlk line");
    let mask = u64::from_str_radix(hex.trim(), 16).expect("hex");
    (1..=64).filter(|s| mask & (1 << (s - 1)) != 0).collect()
}

fn pending(signal: c_int) -> bool {
    // SAFETY: `set` is initialized by `sigpending` before `sigismember` reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut set), 0);
        libc::sigismember(&set, signal) == 1
    }
}

#[test]
fn block_defers_delivery_until_the_guard_drops() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "block_defers_delivery_until_the_guard_drops");
    let (tx, rx) = sigring::channel(8).unwrap();
    let fwd = signal::forward(&[libc::SIGUSR1], &tx).unwrap();

    let guard = signal::block(&[libc::SIGUSR1]).unwrap();
    // SAFETY: `raise` has no preconditions; the signal is handled.
    unsafe { libc::raise(libc::SIGUSR1) };
    // Thread-directed and blocked here: it waits, pending on this thread.
    assert!(pending(libc::SIGUSR1));
    assert_eq!(fwd.delivered(libc::SIGUSR1), 0);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    drop(guard); // the pending signal is delivered before pthread_sigmask returns
    assert!(!pending(libc::SIGUSR1));
    assert_eq!(rx.try_recv().map(|i| i.signal), Ok(libc::SIGUSR1));
    assert_eq!(fwd.delivered(libc::SIGUSR1), 1);
}

#[test]
fn guards_nest_and_restore_the_previous_mask() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "guards_nest_and_restore_the_previous_mask");
    let start = signal::blocked().unwrap();
    assert_eq!(start, proc_blocked());
    assert!(!start.contains(&libc::SIGUSR1) && !start.contains(&libc::SIGHUP));

    let outer = signal::block(&[libc::SIGUSR1]).unwrap();
    let with = |extra: &[c_int]| {
        let mut v = start.clone();
        v.extend_from_slice(extra);
        v.sort();
        v
    };
    assert_eq!(signal::blocked().unwrap(), with(&[libc::SIGUSR1]));
    assert_eq!(proc_blocked(), with(&[libc::SIGUSR1]));
    {
        let _inner = signal::block(&[libc::SIGUSR1, libc::SIGHUP]).unwrap();
        assert_eq!(proc_blocked(), with(&[libc::SIGHUP, libc::SIGUSR1]));
        // Real-time signals too.
        let _rt = signal::block(&[libc::SIGRTMAX()]).unwrap();
        assert_eq!(
            proc_blocked(),
            with(&[libc::SIGHUP, libc::SIGUSR1, libc::SIGRTMAX()])
        );
    }
    assert_eq!(proc_blocked(), with(&[libc::SIGUSR1]));
    drop(outer);
    assert_eq!(proc_blocked(), start);
    assert_eq!(signal::blocked().unwrap(), start);
}

#[test]
fn bad_signals_are_refused_without_changing_the_mask() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "bad_signals_are_refused_without_changing_the_mask");
    let start = proc_blocked();
    for (bad, text) in [
        (libc::SIGKILL, "SIGKILL (9) cannot be blocked"),
        (libc::SIGSTOP, "SIGSTOP (19) cannot be blocked"),
        (0, "signal 0 is out of range"),
        (libc::SIGRTMAX() + 1, "is out of range"),
        (32, "reserved"),
    ] {
        // The good signal first: nothing may be blocked when a later one is bad.
        let e = signal::block(&[libc::SIGUSR2, bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(e.to_string().contains(text), "{bad}: {e}");
        assert_eq!(proc_blocked(), start, "{bad}");
        let e = signal::spawn_blocked(&[bad], || ()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
    }
    // Faults may be blocked (not forwarded).
    drop(signal::block(&[libc::SIGSEGV]).unwrap());
}

#[test]
fn spawn_blocked_masks_the_new_thread_only() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "spawn_blocked_masks_the_new_thread_only");
    let start = proc_blocked();
    let signals = [libc::SIGTERM, libc::SIGINT, libc::SIGRTMIN() + 4];
    let worker = signal::spawn_blocked(&signals, proc_blocked).unwrap();
    let inside = worker.join().unwrap();
    for s in signals {
        assert!(
            inside.contains(&s),
            "{s} not blocked in the new thread: {inside:?}"
        );
    }
    assert_eq!(proc_blocked(), start, "the spawning thread's mask changed");

    let builder = std::thread::Builder::new().name("masked".into());
    let named = signal::spawn_blocked_with(builder, &[libc::SIGHUP], || {
        (
            std::thread::current().name().map(String::from),
            proc_blocked(),
        )
    })
    .unwrap();
    let (name, inside) = named.join().unwrap();
    assert_eq!(name.as_deref(), Some("masked"));
    assert!(inside.contains(&libc::SIGHUP));
    assert_eq!(proc_blocked(), start);

    // Blocking something already blocked leaves it blocked afterwards.
    let _outer = signal::block(&[libc::SIGHUP]).unwrap();
    signal::spawn_blocked(&[libc::SIGHUP], || ())
        .unwrap()
        .join()
        .unwrap();
    assert!(proc_blocked().contains(&libc::SIGHUP));
}
