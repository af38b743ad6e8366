//! Model 10: the handler-safe queries (`len`, `is_empty`, `is_full`) racing pushes and pops,
//! and a "signal handler" push that interrupts the consumer itself.
//!
//! * `len` never reports more than the capacity, `is_full` never contradicts it, and both
//!   settle on the right value once the racing threads are done;
//! * a push that runs between any two steps of the consumer's own `try_recv` (its pop, its
//!   arming, its look at `tail`) completes on its own (`Ok` or `Full`, never a wait: loom
//!   would report a spin), and its value is received exactly once if it was accepted. As in
//!   model 7, the "handler" is a second thread: loom runs its whole push between every
//!   pair of the consumer's consecutive atomic steps, and also follows the schedule that
//!   never switches back until the push returns, which is what an interrupted consumer
//!   experiences. (The consumer's thread is not the handler's here; what differs on one
//!   thread, that the consumer cannot move until the handler returns, is exactly that
//!   schedule.)
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;
use sigring::TryRecvError;

/// Capacity 2: one producer pushes twice while the consumer pops and a third thread reads
/// the queries.
///
/// Bound: 2 preemptions.
#[test]
fn queries_stay_within_bounds() {
    check("m10 len/is_full racing", Some(2), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        let (tp, tq) = (tx.clone(), tx.clone());
        let producer = thread::spawn(move || {
            let _ = tp.try_send(1);
            let _ = tp.try_send(2);
        });
        let observer = thread::spawn(move || {
            let len = tq.len();
            assert!(len <= 2, "len {len} above the capacity");
            let full = tq.is_full();
            let empty = tq.is_empty();
            assert!(!(full && empty), "full and empty at once");
        });
        let first = rx.try_recv();
        producer.join().unwrap();
        observer.join().unwrap();
        let rest = rx.len();
        let taken = usize::from(first.is_ok());
        assert_eq!(taken + rest, 2, "len after the race");
        assert_eq!(tx.is_full(), rest == 2);
        assert_eq!(tx.is_empty(), rest == 0);
    });
}

/// Capacity 1, one value queued. The consumer takes it with `try_recv` while a "handler"
/// pushes a second value: the push is `Ok` (the slot was freed first) or `Full` (the slot
/// was still taken or being released), never a wait; an accepted value is received once.
///
/// Bound: 3 preemptions.
#[test]
fn handler_push_interrupting_try_recv() {
    check("m10 handler interrupts the consumer", Some(3), || {
        let (tx, rx) = sigring::channel::<u32>(1).unwrap();
        tx.try_send(1).unwrap();
        let handler_tx = tx.clone();
        let handler = thread::spawn(move || handler_tx.try_send(2).is_ok());
        assert_eq!(rx.try_recv(), Ok(1));
        let accepted = handler.join().unwrap();
        if accepted {
            assert_eq!(rx.try_recv(), Ok(2));
            assert_eq!(rx.full_rejections(), 0);
        } else {
            assert_eq!(rx.full_rejections(), 1);
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    });
}
