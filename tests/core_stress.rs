//! MPSC stress: 4 producers x hundreds of thousands of values through small and larger
//! rings, on both backends. Per-producer order, nothing lost or duplicated, and every
//! `Full` a producer saw is counted in `dropped()`.
#![cfg(target_os = "linux")]

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::{build, watchdog, BACKENDS};
use sigring::{Backend, RecvTimeoutError, TryRecvError, TrySendError};

const PRODUCERS: usize = 4;

/// How the consumer takes values: mixing the entry points exercises every wait path.
#[derive(Clone, Copy, Debug)]
enum Consumer {
    Recv,
    Mixed,
}

fn stress(backend: Backend, cap: usize, per_producer: u64, consumer: Consumer) {
    let (tx, rx) = build::<u64>(cap, backend);
    let start = Instant::now();
    let handles: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            thread::spawn(move || {
                let mut fulls = 0u64;
                for seq in 0..per_producer {
                    // Producer id in the top byte, sequence below.
                    let mut v = (p as u64) << 56 | seq;
                    loop {
                        match tx.try_send(v) {
                            Ok(()) => break,
                            Err(TrySendError::Full(back)) => {
                                v = back;
                                fulls += 1;
                                thread::yield_now();
                            }
                            Err(TrySendError::Disconnected(_)) => panic!("receiver gone"),
                        }
                    }
                }
                fulls
            })
        })
        .collect();
    drop(tx);

    let mut next = [0u64; PRODUCERS];
    let mut received = 0u64;
    let mut take = |v: u64| {
        let p = (v >> 56) as usize;
        let seq = v & ((1 << 56) - 1);
        assert!(p < PRODUCERS, "garbage value {v:#x}");
        assert_eq!(
            seq, next[p],
            "{backend:?} cap {cap}: producer {p} out of order (or lost/duplicated)"
        );
        next[p] += 1;
        received += 1;
    };
    match consumer {
        Consumer::Recv => {
            while let Ok(v) = rx.recv() {
                take(v);
            }
        }
        Consumer::Mixed => {
            let mut i = 0u64;
            loop {
                i += 1;
                let r = match i % 3 {
                    0 => rx.recv().map_err(|_| ()),
                    1 => match rx.recv_timeout(Duration::from_millis(1)) {
                        Ok(v) => Ok(v),
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => Err(()),
                    },
                    _ => match rx.try_recv() {
                        Ok(v) => Ok(v),
                        Err(TryRecvError::Empty) => continue,
                        Err(TryRecvError::Disconnected) => Err(()),
                    },
                };
                match r {
                    Ok(v) => take(v),
                    Err(()) => break,
                }
            }
        }
    }
    let fulls: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    let elapsed = start.elapsed();
    assert_eq!(
        received,
        PRODUCERS as u64 * per_producer,
        "received != sent"
    );
    assert_eq!(next, [per_producer; PRODUCERS]);
    assert_eq!(
        rx.full_rejections(),
        fulls,
        "every Full is counted, and only those"
    );
    println!(
        "{backend:?} cap {cap} {consumer:?}: {received} values in {elapsed:?} \
         ({:.0}/s), {fulls} Full retries, {} wake-ups, {} wake writes",
        received as f64 / elapsed.as_secs_f64(),
        rx.wakeups(),
        rx.wake_writes()
    );
}

#[test]
fn mpsc_stress_small_ring() {
    let _wd = watchdog(120, "mpsc_stress_small_ring");
    for backend in BACKENDS {
        stress(backend, 8, 100_000, Consumer::Recv);
    }
}

#[test]
fn mpsc_stress_large_ring() {
    let _wd = watchdog(120, "mpsc_stress_large_ring");
    for backend in BACKENDS {
        stress(backend, 1024, 250_000, Consumer::Recv);
    }
}

#[test]
fn mpsc_stress_mixed_consumer() {
    let _wd = watchdog(120, "mpsc_stress_mixed_consumer");
    for backend in BACKENDS {
        stress(backend, 3, 50_000, Consumer::Mixed);
    }
}
