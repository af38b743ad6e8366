//! Model 4: the external-loop contract.
//!
//! An event loop calls `try_recv` until `Empty`, then polls the fd (here `model_poll`,
//! which blocks until the modeled fd is readable, as `poll(2)` without a timeout would).
//! Proves: that loop never misses a value pushed concurrently, including a push whose
//! slot is claimed but not yet published when `try_recv` looks (the `Busy` case, in which
//! the receiver makes its own fd readable so the loop comes back). A miss leaves the loop
//! blocked in `model_poll` forever: a loom deadlock.
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;
use sigring::TryRecvError;

/// Two producers push one value each; the main thread keeps a `Sender`, so only the
/// values' own wake-ups can end a poll.
///
/// Bound: 3 preemptions (about 1.1 million executions, 1.5-3 minutes; 310 000 before
/// `try_recv` checked for stray tokens, which adds steps to every `Empty` in a row). The
/// loop goes round while a slot is claimed but unpublished, so the unbounded space is
/// infinite; 3 lets one producer stop between claim and publish while the other completes
/// and the loop goes round, in every order.
#[test]
fn try_recv_until_empty_then_poll() {
    check("m4 external loop", Some(3), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        let (t1, t2) = (tx.clone(), tx.clone());
        let p1 = thread::spawn(move || assert!(t1.try_send(1).is_ok()));
        let p2 = thread::spawn(move || assert!(t2.try_send(2).is_ok()));
        let mut got = Vec::new();
        while got.len() < 2 {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(TryRecvError::Empty) => {
                    // One turn of the event loop: the poll below is where a real loop
                    // gives up the processor.
                    thread::yield_now();
                    rx.model_poll();
                }
                Err(TryRecvError::Disconnected) => panic!("a sender is alive"),
            }
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        p1.join().unwrap();
        p2.join().unwrap();
        drop(tx);
    });
}
