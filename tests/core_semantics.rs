//! Channel semantics: FIFO, exact capacity, `Full` accounting, disconnection both ways,
//! sizes, timeouts, bad capacities, backend choice. Every test runs on both backends.
#![cfg(target_os = "linux")]

mod common;

use std::io::ErrorKind;
use std::thread;
use std::time::{Duration, Instant};

use common::{build, send_retry, watchdog, BACKENDS};
use sigring::{channel, Backend, Builder, RecvError, RecvTimeoutError, TryRecvError, TrySendError};

/// Capacities that exercise the lap arithmetic: every small one, and odd large ones on
/// both sides of powers of two (the mark bit is `(cap + 1).next_power_of_two()`).
fn capacities() -> Vec<usize> {
    let mut caps: Vec<usize> = (1..=17).collect();
    caps.extend([
        31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 257, 1000, 1023, 1024, 1025, 4095, 4097,
        12345,
    ]);
    caps
}

#[test]
#[cfg_attr(
    miri,
    ignore = "60 000 values through 3 threads: too slow, trips the watchdog"
)]
fn per_producer_fifo() {
    let _wd = watchdog(60, "per_producer_fifo");
    const PRODUCERS: u64 = 3;
    const PER: u64 = 20_000;
    for backend in BACKENDS {
        let (tx, rx) = build::<(u64, u64)>(64, backend);
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for seq in 0..PER {
                        send_retry(&tx, (p, seq)).expect("receiver alive");
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; PRODUCERS as usize];
        for (p, seq) in rx.iter() {
            assert_eq!(
                seq, next[p as usize],
                "{backend:?}: producer {p} out of order: got {seq}, expected {}",
                next[p as usize]
            );
            next[p as usize] += 1;
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            next, [PER; PRODUCERS as usize],
            "{backend:?}: values missing"
        );
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "capacities up to 12345 on both backends: too slow for miri"
)]
fn exact_capacity_over_many_laps() {
    let _wd = watchdog(60, "exact_capacity_over_many_laps");
    for backend in BACKENDS {
        for cap in capacities() {
            let (tx, rx) = build::<usize>(cap, backend);
            assert_eq!(tx.capacity(), cap);
            assert_eq!(rx.capacity(), cap);
            let mut next_in = 0usize;
            let mut next_out = 0usize;
            let mut rejected = 0u64;
            // Several laps, each starting at a different index (drain a varying amount).
            for round in 0..5 {
                let free = cap - rx.len();
                for _ in 0..free {
                    tx.try_send(next_in)
                        .unwrap_or_else(|e| panic!("cap {cap}: send {next_in} failed: {e}"));
                    next_in += 1;
                }
                assert_eq!(rx.len(), cap, "cap {cap}");
                assert!(tx.is_full() && !tx.is_empty(), "cap {cap}");
                match tx.try_send(usize::MAX) {
                    Err(TrySendError::Full(v)) => assert_eq!(v, usize::MAX),
                    other => panic!("cap {cap}: expected Full, got {other:?}"),
                }
                rejected += 1;
                assert_eq!(rx.full_rejections(), rejected, "cap {cap}");
                // Take some (at least one), leaving the head at a new index.
                let take = 1 + (round * 7 + cap / 3) % cap;
                for _ in 0..take {
                    assert_eq!(rx.try_recv(), Ok(next_out), "cap {cap}");
                    next_out += 1;
                }
                assert_eq!(rx.len(), cap - take, "cap {cap}");
            }
            // Drain; FIFO across all the laps.
            while let Ok(v) = rx.try_recv() {
                assert_eq!(v, next_out, "cap {cap}");
                next_out += 1;
            }
            assert_eq!(next_out, next_in, "cap {cap}: values lost");
            assert!(rx.is_empty() && tx.is_empty());
            assert_eq!(rx.len(), 0);
        }
    }
}

#[test]
fn full_is_counted_in_full_rejections() {
    let _wd = watchdog(30, "full_is_counted_in_full_rejections");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(3, backend);
        let tx2 = tx.clone();
        for i in 0..3 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(rx.full_rejections(), 0);
        for i in 0..10u32 {
            let s = if i % 2 == 0 { &tx } else { &tx2 };
            let err = s.try_send(100 + i).unwrap_err();
            assert!(err.is_full() && !err.is_disconnected());
            assert_eq!(err.into_inner(), 100 + i, "the rejected value comes back");
        }
        assert_eq!(rx.full_rejections(), 10);
        assert_eq!(tx.full_rejections(), 10, "a sender reads the same count");
        // Disconnected rejections are not Full: not counted.
        drop(rx);
        assert!(tx.try_send(7).unwrap_err().is_disconnected());
    }
}

#[test]
fn senders_gone_receiver_drains_then_disconnected() {
    let _wd = watchdog(30, "senders_gone_receiver_drains_then_disconnected");
    for backend in BACKENDS {
        // try_recv
        let (tx, rx) = build::<u32>(8, backend);
        let tx2 = tx.clone();
        tx.try_send(1).unwrap();
        tx2.try_send(2).unwrap();
        drop(tx);
        assert!(!rx.is_disconnected(), "one sender is still alive");
        tx2.try_send(3).unwrap();
        drop(tx2);
        assert!(rx.is_disconnected());
        assert_eq!(rx.len(), 3);
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Ok(3));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        // recv
        let (tx, rx) = build::<u32>(8, backend);
        tx.try_send(5).unwrap();
        drop(tx);
        assert_eq!(rx.recv(), Ok(5));
        assert_eq!(rx.recv(), Err(RecvError));

        // recv_timeout / recv_deadline: Disconnected, not Timeout, and without waiting.
        let (tx, rx) = build::<u32>(8, backend);
        tx.try_send(6).unwrap();
        drop(tx);
        let t = Instant::now();
        assert_eq!(rx.recv_timeout(Duration::from_secs(20)), Ok(6));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(20)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert_eq!(
            rx.recv_deadline(Instant::now() + Duration::from_secs(20)),
            Err(RecvTimeoutError::Disconnected)
        );
        assert!(t.elapsed() < Duration::from_secs(10), "waited for nothing");

        // iter ends; try_iter too.
        let (tx, rx) = build::<u32>(8, backend);
        for i in 0..8 {
            tx.try_send(i).unwrap();
        }
        drop(tx);
        assert_eq!(rx.iter().collect::<Vec<_>>(), (0..8).collect::<Vec<_>>());
        assert_eq!(rx.try_iter().count(), 0);

        // IntoIterator for Receiver and &Receiver.
        let (tx, rx) = build::<u32>(4, backend);
        tx.try_send(9).unwrap();
        drop(tx);
        assert_eq!(rx.into_iter().collect::<Vec<_>>(), [9]);
    }
}

#[test]
fn blocked_recv_wakes_on_send_and_on_disconnect() {
    let _wd = watchdog(30, "blocked_recv_wakes_on_send_and_on_disconnect");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(4, backend);
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100)); // let the receiver fall asleep
            tx.try_send(42).unwrap();
            thread::sleep(Duration::from_millis(100));
            drop(tx); // wakes the next recv with Disconnected
        });
        assert_eq!(rx.recv(), Ok(42));
        assert_eq!(rx.recv(), Err(RecvError));
        assert!(
            rx.wakeups() >= 1,
            "{backend:?}: recv should have slept at least once"
        );
        t.join().unwrap();

        let (tx, rx) = build::<u32>(4, backend);
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            drop(tx);
        });
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(20)),
            Err(RecvTimeoutError::Disconnected)
        );
        t.join().unwrap();
    }
}

#[test]
fn receiver_gone_try_send_gives_value_back() {
    let _wd = watchdog(30, "receiver_gone_try_send_gives_value_back");
    for backend in BACKENDS {
        let (tx, rx) = build::<String>(4, backend);
        tx.try_send("queued".to_owned()).unwrap();
        let tx2 = tx.clone();
        drop(rx);
        for s in [&tx, &tx2] {
            match s.try_send("late".to_owned()) {
                Err(TrySendError::Disconnected(v)) => assert_eq!(v, "late"),
                other => panic!("expected Disconnected, got {other:?}"),
            }
        }
        let err = tx.try_send("again".to_owned()).unwrap_err();
        assert!(err.is_disconnected() && !err.is_full());
        assert_eq!(err.into_inner(), "again");
        // A full channel whose receiver is gone reports Disconnected, not Full.
        let (tx, rx) = build::<u8>(1, backend);
        tx.try_send(1).unwrap();
        drop(rx);
        assert!(tx.try_send(2).unwrap_err().is_disconnected());
    }
}

#[test]
fn len_is_empty_is_full() {
    let _wd = watchdog(30, "len_is_empty_is_full");
    for backend in BACKENDS {
        let (tx, rx) = build::<u8>(3, backend);
        assert!(tx.is_empty() && rx.is_empty() && !tx.is_full());
        assert_eq!((tx.len(), rx.len()), (0, 0));
        tx.try_send(1).unwrap();
        assert!(!tx.is_empty() && !rx.is_empty() && !tx.is_full());
        assert_eq!((tx.len(), rx.len()), (1, 1));
        tx.try_send(2).unwrap();
        tx.try_send(3).unwrap();
        assert!(tx.is_full());
        assert_eq!((tx.len(), rx.len()), (3, 3));
        rx.try_recv().unwrap();
        assert!(!tx.is_full());
        assert_eq!(rx.len(), 2);
        rx.try_recv().unwrap();
        rx.try_recv().unwrap();
        assert!(rx.is_empty() && tx.is_empty());
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!rx.is_disconnected());
    }
}

#[test]
fn try_iter_takes_what_is_ready_and_never_blocks() {
    let _wd = watchdog(30, "try_iter_takes_what_is_ready_and_never_blocks");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(16, backend);
        assert_eq!(rx.try_iter().next(), None);
        for i in 0..5 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
    }
}

#[test]
fn recv_timeout_and_deadline_time_out() {
    let _wd = watchdog(30, "recv_timeout_and_deadline_time_out");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(2, backend);
        for ms in [0u64, 1, 20, 150] {
            let timeout = Duration::from_millis(ms);
            let t = Instant::now();
            assert_eq!(rx.recv_timeout(timeout), Err(RecvTimeoutError::Timeout));
            let e = t.elapsed();
            assert!(
                e >= timeout,
                "{backend:?}: returned after {e:?} < {timeout:?}"
            );
            assert!(
                e < timeout + Duration::from_secs(5),
                "{backend:?}: {timeout:?} took {e:?}"
            );
        }
        // A deadline in the past: Timeout at once (after looking).
        assert_eq!(
            rx.recv_deadline(Instant::now() - Duration::from_millis(10)),
            Err(RecvTimeoutError::Timeout)
        );
        let deadline = Instant::now() + Duration::from_millis(100);
        assert_eq!(rx.recv_deadline(deadline), Err(RecvTimeoutError::Timeout));
        assert!(Instant::now() >= deadline);
        // A value already there beats a past deadline.
        tx.try_send(3).unwrap();
        assert_eq!(
            rx.recv_deadline(Instant::now() - Duration::from_secs(1)),
            Ok(3)
        );
        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );
        // A timeout too large for the clock waits like recv.
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            tx.try_send(4).unwrap();
            tx
        });
        assert_eq!(rx.recv_timeout(Duration::MAX), Ok(4));
        let tx = t.join().unwrap();
        drop(tx);
        assert_eq!(
            rx.recv_timeout(Duration::MAX),
            Err(RecvTimeoutError::Disconnected)
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "miri stops the program on a failed huge allocation")]
fn bad_capacities_are_errors_not_panics() {
    let _wd = watchdog(30, "bad_capacities_are_errors_not_panics");
    fn check<T: Send>(cap: usize, allowed: &[ErrorKind]) {
        for backend in [Backend::Auto, Backend::EventFd, Backend::Pipe] {
            let err = match Builder::new(cap).backend(backend).build::<T>() {
                Ok(_) => panic!("capacity {cap} ({}) accepted", std::any::type_name::<T>()),
                Err(e) => e,
            };
            assert!(
                allowed.contains(&err.kind()),
                "capacity {cap}: unexpected kind {:?} ({err})",
                err.kind()
            );
            assert!(
                !err.to_string().is_empty(),
                "capacity {cap}: the error should say what is wrong"
            );
        }
    }
    let big = [ErrorKind::InvalidInput, ErrorKind::OutOfMemory];
    check::<u8>(0, &[ErrorKind::InvalidInput]);
    check::<()>(0, &[ErrorKind::InvalidInput]);
    check::<u64>(usize::MAX, &big);
    check::<u64>(1 << 60, &big);
    check::<()>(usize::MAX, &big);
    check::<()>(1 << 60, &big);
    check::<[u8; 4096]>(1 << 40, &big);
    // Addressable but far beyond any address space: the allocator must refuse it.
    check::<u8>(1 << 50, &big);
    assert_eq!(
        channel::<u8>(0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(big.contains(&channel::<u8>(usize::MAX).unwrap_err().kind()));
    assert!(big.contains(&channel::<u8>(1 << 60).unwrap_err().kind()));
}

#[test]
fn builder_backends_work_and_are_reported() {
    let _wd = watchdog(30, "builder_backends_work_and_are_reported");
    for backend in BACKENDS {
        let (tx, rx) = Builder::new(4).backend(backend).build::<u8>().unwrap();
        assert_eq!(rx.backend(), backend);
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            tx.try_send(1).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        t.join().unwrap();
    }
    let (_tx, rx) = channel::<u8>(4).unwrap();
    let auto = if cfg!(sigring_force_pipe) {
        Backend::Pipe
    } else {
        Backend::EventFd
    };
    assert_eq!(rx.backend(), auto, "Backend::Auto on Linux");
    let (_tx, rx) = Builder::new(4)
        .backend(Backend::Auto)
        .build::<u8>()
        .unwrap();
    assert_eq!(rx.backend(), auto);
}

/// A busy consumer costs producers no syscall; an armed one costs exactly one write, no
/// matter how many sends follow before it drains.
#[test]
fn wake_writes_only_when_the_consumer_may_sleep() {
    let _wd = watchdog(30, "wake_writes_only_when_the_consumer_may_sleep");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(1024, backend);
        for i in 0..500 {
            tx.try_send(i).unwrap();
        }
        // A new channel starts armed (an event loop may poll it before any try_recv):
        // the first send writes one token, the other 499 nothing.
        assert_eq!(
            rx.wake_writes(),
            1,
            "{backend:?}: one token for a fresh receiver"
        );
        assert_eq!(rx.try_iter().count(), 500); // reads the token, re-arms on Empty
        for i in 0..500 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(
            rx.wake_writes(),
            2,
            "{backend:?}: one token for the armed consumer"
        );
        assert_eq!(rx.try_iter().count(), 500); // reads the token, re-arms on Empty
        tx.try_send(0).unwrap();
        assert_eq!(rx.wake_writes(), 3);
        assert_eq!(rx.try_recv(), Ok(0));
        // Found a value right away: the token is still unread, so sends are free.
        for i in 0..10 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(rx.wake_writes(), 3, "{backend:?}");
    }
}

#[test]
fn error_types_follow_std_conventions() {
    let full: TrySendError<u8> = TrySendError::Full(1);
    let disc: TrySendError<u8> = TrySendError::Disconnected(2);
    assert!(!full.to_string().is_empty() && !disc.to_string().is_empty());
    assert_ne!(full.to_string(), disc.to_string());
    let _: &dyn std::error::Error = &full;
    let _: &dyn std::error::Error = &RecvError;
    let _: &dyn std::error::Error = &TryRecvError::Empty;
    let _: &dyn std::error::Error = &RecvTimeoutError::Timeout;
    assert_ne!(
        TryRecvError::Empty.to_string(),
        TryRecvError::Disconnected.to_string()
    );
    assert_ne!(
        RecvTimeoutError::Timeout.to_string(),
        RecvTimeoutError::Disconnected.to_string()
    );
    assert!(format!("{full:?}").contains("Full"));

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<sigring::Sender<u8>>();
    assert_send::<sigring::Receiver<u8>>();
}
