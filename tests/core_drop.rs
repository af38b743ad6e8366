//! Every value is dropped exactly once, whatever the order of teardown: counting values
//! ([`common::DropLog`]) in every order, racing teardown, and values whose `Drop` pushes
//! into the same channel while the receiver is being torn down.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use common::{build, watchdog, DropLog, Tracked, BACKENDS};
use sigring::{Sender, TryRecvError, TrySendError};

#[test]
fn receiver_dropped_first_with_values_queued() {
    let _wd = watchdog(30, "receiver_dropped_first_with_values_queued");
    for backend in BACKENDS {
        let log = DropLog::new(10);
        let (tx, rx) = build::<Tracked>(8, backend);
        for id in 0..5 {
            tx.try_send(log.track(id)).unwrap();
        }
        assert_eq!(rx.try_recv().map(|t| t.id).ok(), Some(0)); // dropped here: id 0
        assert_eq!(log.total(), 1);
        drop(rx);
        // The queued values go with the receiver, not later.
        log.assert_each_once(0..5);
        // Pushed after the receiver drop: refused and given back, not lost nor kept.
        match tx.try_send(log.track(5)) {
            Err(TrySendError::Disconnected(v)) => {
                assert_eq!(v.id, 5);
                assert_eq!(log.drops(5), 0, "the value came back alive");
            }
            other => panic!("expected Disconnected, got {other:?}"),
        }
        log.assert_each_once(0..6);
        drop(tx);
        log.assert_each_once(0..6);
        assert_eq!(log.total(), 6);
        assert_eq!(Arc::strong_count(&log), 1, "a value leaked");
    }
}

#[test]
fn senders_dropped_first_then_receiver() {
    let _wd = watchdog(30, "senders_dropped_first_then_receiver");
    for backend in BACKENDS {
        let log = DropLog::new(8);
        let (tx, rx) = build::<Tracked>(8, backend);
        let tx2 = tx.clone();
        for id in 0..8 {
            let s = if id % 2 == 0 { &tx } else { &tx2 };
            s.try_send(log.track(id)).unwrap();
        }
        drop(tx);
        drop(tx2);
        assert_eq!(log.total(), 0, "senders going must not drop queued values");
        for id in 0..3 {
            assert_eq!(rx.try_recv().unwrap().id, id);
        }
        log.assert_each_once(0..3);
        drop(rx); // 3..8 still queued
        log.assert_each_once(0..8);
        assert_eq!(Arc::strong_count(&log), 1, "a value leaked");
    }
}

#[test]
fn full_and_disconnected_values_come_back_once() {
    let _wd = watchdog(30, "full_and_disconnected_values_come_back_once");
    for backend in BACKENDS {
        let log = DropLog::new(4);
        let (tx, rx) = build::<Tracked>(1, backend);
        tx.try_send(log.track(0)).unwrap();
        let back = tx.try_send(log.track(1)).unwrap_err();
        assert!(back.is_full());
        assert_eq!(log.total(), 0);
        drop(back);
        assert_eq!(
            (log.drops(0), log.drops(1)),
            (0, 1),
            "queued one alive, refused one gone"
        );
        drop(rx);
        let back = tx.try_send(log.track(2)).unwrap_err().into_inner();
        assert_eq!(log.drops(2), 0);
        drop(back);
        drop(tx);
        log.assert_each_once(0..3);
    }
}

/// Producers keep pushing while the receiver goes away at an arbitrary moment. Each value
/// ends up received, refused (`Full`/`Disconnected`, dropped by its producer), dropped by
/// the receiver's teardown, or dropped with the buffer when a producer published after the
/// receiver's drain (the last handle is then a `Sender`). Exactly once in every case.
#[test]
#[cfg_attr(miri, ignore = "thousands of racing teardowns: too slow for miri")]
fn racing_teardown_in_every_order() {
    let _wd = watchdog(90, "racing_teardown_in_every_order");
    const PRODUCERS: usize = 2;
    const PER: usize = 5_000;
    for backend in BACKENDS {
        for round in 0..60usize {
            let order = round % 3;
            let log = DropLog::new(PRODUCERS * PER);
            let (tx, rx) = build::<Tracked>(1 + round % 7, backend);
            let handles: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let tx = tx.clone();
                    let log = log.clone();
                    thread::spawn(move || {
                        let mut created = 0;
                        for i in 0..PER {
                            created += 1;
                            match tx.try_send(log.track(p * PER + i)) {
                                Ok(()) => {}
                                Err(TrySendError::Full(v)) => {
                                    drop(v);
                                    thread::yield_now();
                                }
                                Err(TrySendError::Disconnected(v)) => {
                                    drop(v);
                                    break;
                                }
                            }
                        }
                        created
                    })
                })
                .collect();
            drop(tx);
            let created: Vec<usize> = match order {
                // Receiver goes while producers are pushing.
                0 => {
                    let want = round * 37 % 500;
                    let mut got = 0;
                    while got < want {
                        match rx.try_recv() {
                            Ok(_) => got += 1,
                            Err(TryRecvError::Empty) => thread::yield_now(),
                            Err(TryRecvError::Disconnected) => break,
                        }
                    }
                    drop(rx);
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                }
                // Senders finish first; the receiver takes some and drops the rest.
                1 => {
                    let mut first = rx.recv().ok();
                    let created = handles.into_iter().map(|h| h.join().unwrap()).collect();
                    first.take();
                    let _ = rx.try_recv();
                    drop(rx);
                    created
                }
                // Receiver drained to the end.
                _ => {
                    let n = rx.iter().count();
                    assert!(n >= 1);
                    assert!(matches!(rx.try_recv(), Err(TryRecvError::Disconnected)));
                    drop(rx);
                    handles.into_iter().map(|h| h.join().unwrap()).collect()
                }
            };
            for (p, &c) in created.iter().enumerate() {
                log.assert_each_once(p * PER..p * PER + c);
                for id in p * PER + c..(p + 1) * PER {
                    assert_eq!(log.drops(id), 0, "value {id} was never created");
                }
            }
            assert_eq!(
                Arc::strong_count(&log),
                1,
                "{backend:?} round {round}: a leak"
            );
        }
    }
}

/// Unique ids and drop counts for [`Echo`] values.
struct EchoLog {
    next_id: AtomicUsize,
    log: Arc<DropLog>,
}

/// A value whose `Drop` pushes a child (one level shallower) into the channel it came
/// from, through the `Sender` it carries. A refused child comes back in the error and is
/// dropped right there, pushing its own child: recursion bounded by `depth`.
struct Echo {
    _tracked: Tracked,
    depth: u32,
    tx: Option<Sender<Echo>>,
    echo: Arc<EchoLog>,
}

impl Echo {
    fn new(echo: &Arc<EchoLog>, depth: u32, tx: Option<Sender<Echo>>) -> Echo {
        let id = echo.next_id.fetch_add(1, Ordering::SeqCst);
        Echo {
            _tracked: echo.log.track(id),
            depth,
            tx,
            echo: echo.clone(),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if self.depth == 0 {
            return;
        }
        if let Some(tx) = &self.tx {
            let child = Echo::new(&self.echo, self.depth - 1, Some(tx.clone()));
            // Ok: queued. Full or Disconnected: the child comes back and is dropped
            // here, which recurses at most `depth` levels.
            if let Err(e) = tx.try_send(child) {
                drop(e.into_inner());
            }
        }
    }
}

fn echo_log(max: usize) -> Arc<EchoLog> {
    Arc::new(EchoLog {
        next_id: AtomicUsize::new(0),
        log: DropLog::new(max),
    })
}

fn check_echoes(echo: &Arc<EchoLog>, what: &str) {
    let created = echo.next_id.load(Ordering::SeqCst);
    echo.log.assert_each_once(0..created);
    assert_eq!(
        Arc::strong_count(echo),
        1,
        "{what}: an Echo (and the channel it holds) leaked"
    );
    assert_eq!(echo.log.total(), created as u64, "{what}");
}

/// The receiver is dropped while values whose `Drop` pushes into the same channel are
/// queued; the only senders live inside those values, so the last `Sender` dies inside the
/// receiver's own teardown.
#[test]
fn drop_pushing_into_the_channel_during_receiver_teardown() {
    let _wd = watchdog(30, "drop_pushing_into_the_channel_during_receiver_teardown");
    for backend in BACKENDS {
        for senders_outside in [false, true] {
            let echo = echo_log(10_000);
            let (tx, rx) = build::<Echo>(16, backend);
            for _ in 0..16 {
                let e = Echo::new(&echo, 4, Some(tx.clone()));
                assert!(tx.try_send(e).is_ok());
            }
            if !senders_outside {
                drop(tx);
                drop(rx); // must not deadlock; every child is refused (Disconnected)
            } else {
                drop(rx);
                drop(tx);
            }
            check_echoes(
                &echo,
                &format!("{backend:?}, senders_outside={senders_outside}"),
            );
            // 16 values, each refusing a chain of 4 children.
            assert_eq!(echo.next_id.load(Ordering::SeqCst), 16 * 5);
        }
    }
}

/// While the receiver is alive, dropping received values pushes children that are
/// received in turn (or refused when full); then the receiver goes with children queued.
#[test]
fn drop_pushing_into_the_channel_while_receiving() {
    let _wd = watchdog(30, "drop_pushing_into_the_channel_while_receiving");
    for backend in BACKENDS {
        let echo = echo_log(10_000);
        let (tx, rx) = build::<Echo>(4, backend);
        for _ in 0..4 {
            assert!(tx.try_send(Echo::new(&echo, 3, Some(tx.clone()))).is_ok());
        }
        drop(tx);
        let mut received = 0;
        for _ in 0..6 {
            // Dropping the received value pushes its child into the same channel.
            let v = rx.try_recv().expect("a child is always queued");
            received += 1;
            drop(v);
        }
        assert!(!rx.is_empty());
        drop(rx);
        assert!(received == 6);
        check_echoes(&echo, &format!("{backend:?}"));
    }
}

/// A consumer thread drops received `Echo`s (pushing children) while producer threads push
/// `Echo`s, and the receiver is dropped mid-stream.
#[test]
#[cfg_attr(
    miri,
    ignore = "160 000 racing sends: too slow for miri, trips the watchdog"
)]
fn drop_pushing_races_with_teardown() {
    let _wd = watchdog(60, "drop_pushing_races_with_teardown");
    for backend in BACKENDS {
        for round in 0..40usize {
            let echo = echo_log(200_000);
            let (tx, rx) = build::<Echo>(8, backend);
            let handles: Vec<_> = (0..2)
                .map(|_| {
                    let tx = tx.clone();
                    let echo = echo.clone();
                    thread::spawn(move || {
                        for _ in 0..2_000 {
                            let v = Echo::new(&echo, 2, Some(tx.clone()));
                            match tx.try_send(v) {
                                Ok(()) => {}
                                Err(TrySendError::Full(v)) => {
                                    drop(v);
                                    thread::yield_now();
                                }
                                Err(TrySendError::Disconnected(v)) => {
                                    drop(v);
                                    break;
                                }
                            }
                        }
                    })
                })
                .collect();
            drop(tx);
            for _ in 0..round * 10 {
                match rx.try_recv() {
                    Ok(v) => drop(v),
                    Err(TryRecvError::Empty) => thread::yield_now(),
                    Err(TryRecvError::Disconnected) => break,
                }
            }
            drop(rx);
            for h in handles {
                h.join().unwrap();
            }
            check_echoes(&echo, &format!("{backend:?} round {round}"));
        }
    }
}

/// A value whose destructor panics (after counting the drop).
struct Bomb(Arc<AtomicUsize>);

impl Drop for Bomb {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("Bomb dropped");
    }
}

/// A peer's test, run as a new user would: two queued values whose `Drop` panics, every
/// sender gone, then `drop(receiver)` inside `catch_unwind`. The first panic comes out of
/// the drop; the second value is leaked, not dropped (dropping it while unwinding would
/// panic again, and Rust would abort the whole process: this test would not finish).
#[test]
#[cfg_attr(
    miri,
    ignore = "leaks on purpose (the values after a panicking destructor), which miri reports"
)]
fn panicking_destructors_do_not_abort_teardown() {
    let _wd = watchdog(120, "panicking_destructors_do_not_abort_teardown");
    for backend in BACKENDS {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = build::<Bomb>(4, backend);
        assert!(tx.try_send(Bomb(drops.clone())).is_ok());
        assert!(tx.try_send(Bomb(drops.clone())).is_ok());
        drop(tx);
        let outcome = std::panic::catch_unwind(move || drop(rx));
        assert!(
            outcome.is_err(),
            "the first destructor's panic comes out of the drop"
        );
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the second value is leaked"
        );
        assert_eq!(Arc::strong_count(&drops), 2, "exactly one value leaked");
    }
}

/// The same with a sender still alive when the receiver goes: the first panic comes out
/// of the receiver's drop, and dropping the last sender later drops nothing more (the rest
/// was leaked at once, so no sender's drop can panic, possibly inside a handler).
#[test]
#[cfg_attr(
    miri,
    ignore = "leaks on purpose (the values after a panicking destructor), which miri reports"
)]
fn panicking_destructor_leaves_nothing_for_the_last_sender() {
    let _wd = watchdog(
        30,
        "panicking_destructor_leaves_nothing_for_the_last_sender",
    );
    for backend in BACKENDS {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = build::<Bomb>(4, backend);
        for _ in 0..3 {
            assert!(tx.try_send(Bomb(drops.clone())).is_ok());
        }
        let outcome = std::panic::catch_unwind(move || drop(rx));
        assert!(outcome.is_err());
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        drop(tx); // must not panic: nothing left to drop
        assert_eq!(drops.load(Ordering::SeqCst), 1);
        assert_eq!(Arc::strong_count(&drops), 3, "two values leaked");
    }
}

/// `Sender` and `Receiver` are `UnwindSafe` and `RefUnwindSafe`, as crossbeam-channel's are:
/// usable across `catch_unwind` without `AssertUnwindSafe`.
#[test]
fn handles_are_unwind_safe() {
    fn assert_unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>(_: &T) {}
    let (tx, rx) = build::<Bomb>(1, BACKENDS[0]);
    assert_unwind_safe(&tx);
    assert_unwind_safe(&rx);
    let tx2 = tx.clone();
    let sent = std::panic::catch_unwind(move || tx2.len());
    assert_eq!(sent.ok(), Some(0));
}
