//! Model 7: a signal handler's push interrupting a push on the same thread.
//!
//! A handler that interrupts `try_send` runs its own `try_send` between two steps of the
//! interrupted one, and the interrupted one cannot move until the handler returns. Loom
//! cannot pause a thread inside `try_send` from outside, but it does not need to: with the
//! "handler" as a second thread racing the first producer, loom runs the handler's whole
//! push between every pair of consecutive atomic steps of the first one (in particular
//! after its claiming CAS and before its publishing store), and with the preemption budget
//! spent it keeps running the handler without switching back, which is what the
//! interrupted context experiences. So these models check that in that position the
//! handler's push completes on its own (it returns `Full` for a slot still being
//! published, never waits: a spin would never end and loom would report it) and that
//! neither value is lost or duplicated.
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;

/// Capacity 1: whichever push comes second finds the one slot taken (published or only
/// claimed) and gets `Full`; exactly one value is queued, one rejection counted.
///
/// Bound: none (exhaustive; about 50 executions): two threads, one push each.
#[test]
fn capacity_1_second_push_is_full() {
    check("m7 handler, cap 1", None, || {
        let (tx, rx) = sigring::channel::<u32>(1).unwrap();
        let handler_tx = tx.clone();
        let handler = thread::spawn(move || handler_tx.try_send(2).map_err(|e| e.is_full()));
        let first = tx.try_send(1).map_err(|e| e.is_full());
        let second = handler.join().unwrap();
        match (first, second) {
            (Ok(()), Err(true)) => assert_eq!(rx.try_recv(), Ok(1)),
            (Err(true), Ok(())) => assert_eq!(rx.try_recv(), Ok(2)),
            other => panic!("capacity 1, two pushes: {other:?}"),
        }
        assert_eq!(rx.full_rejections(), 1);
        assert!(rx.try_recv().is_err());
    });
}

/// Capacity 2, with the ring already one lap in (the next two pushes take the last index
/// and then index 0 of the next lap) and a consumer taking values concurrently: both
/// pushes succeed, whatever point of the other's push the "handler" lands on, and the
/// consumer receives both exactly once.
///
/// Bound: 2 preemptions (about 75 000 executions, ~6 s; bound 3 passes too, in about
/// 75 s). Placing the handler's whole push after the first producer's claim takes one
/// preemption (the handler then runs to its end, and switching back is no preemption);
/// the second lets the consumer cut in anywhere as well.
#[test]
fn capacity_2_across_a_lap_with_consumer() {
    check("m7 handler, cap 2 across a lap", Some(2), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        tx.try_send(0).unwrap();
        assert_eq!(rx.try_recv(), Ok(0));
        let handler_tx = tx.clone();
        let first_tx = tx.clone();
        let handler = thread::spawn(move || assert!(handler_tx.try_send(2).is_ok()));
        let first = thread::spawn(move || assert!(first_tx.try_send(1).is_ok()));
        let mut got = [rx.recv().unwrap(), rx.recv().unwrap()];
        handler.join().unwrap();
        first.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.full_rejections(), 0);
        drop(tx);
        assert!(rx.recv().is_err());
    });
}
