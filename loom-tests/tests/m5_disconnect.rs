//! Model 5: disconnection racing with sends and receives.
//!
//! Proves: every value ends exactly once, either received or dropped (by the producer that
//! got it back in an error, by `Receiver::drop`, or by the ring's own drop when the last
//! handle goes). The values are [`Tracked`]: each owns a clone of a loom `Arc`, so loom's
//! leak check fails any execution in which one is never dropped, and the ledger fails one
//! dropped twice. Also: `recv` reports the disconnect only after every value sent, and a
//! `try_send` that starts after the receiver is gone gets `Disconnected`.
#![cfg(sigring_loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::{check, Ledger, Tracked};
use sigring::TrySendError;

/// The only `Sender` sends two values and goes away while the consumer `recv`s.
///
/// Bound: 5 preemptions (about 135 000 executions, ~8 s). `recv` loops while a slot is
/// claimed but unpublished, so the unbounded space is infinite; 5 covers the close landing
/// between any two steps of the consumer's arm/re-check/sleep with the producer also
/// stopped between claim and publish.
#[test]
fn last_sender_drop_races_recv() {
    check("m5 last sender drop vs recv", Some(5), || {
        let ledger = Ledger::new(2);
        let (tx, rx) = sigring::channel::<Tracked>(2).unwrap();
        let l2 = ledger.clone();
        let producer = thread::spawn(move || {
            for id in 0..2 {
                assert!(tx.try_send(Tracked::new(id, &l2)).is_ok());
            }
        });
        let mut got = Vec::new();
        // Ends on `Err(RecvError)`: disconnected and drained.
        while let Ok(v) = rx.recv() {
            got.push(v.id);
        }
        assert_eq!(
            got,
            [0, 1],
            "disconnect reported before every value was received"
        );
        producer.join().unwrap();
        drop(rx);
        ledger.assert_each_dropped_once();
    });
}

/// A producer sends three values into a channel of capacity 1 while the consumer takes
/// at most one and drops the `Receiver`. Every value is dropped exactly once wherever it
/// ends; a send that starts after the drop finished is `Disconnected`.
///
/// Bound: 4 preemptions (about 390 000 executions, ~30 s). The space is finite but large:
/// the consumer's first `try_recv` on a fresh channel also runs the stray-token check
/// (`wait.rs`), which roughly squares it (bound 5: 1.9 million executions, 4 minutes, run
/// by hand on 2026-11-30; bound 6, 170 000 executions before that check existed). 4 still
/// lets the receiver's close, drain and final drop land between any two steps of a send.
#[test]
fn receiver_drop_races_send() {
    check("m5 receiver drop vs send", Some(4), || {
        let ledger = Ledger::new(3);
        let (tx, rx) = sigring::channel::<Tracked>(1).unwrap();
        let gone = Arc::new(AtomicBool::new(false));
        let gone2 = gone.clone();
        let l2 = ledger.clone();
        let producer = thread::spawn(move || {
            for id in 0..3 {
                let was_gone = gone2.load(Ordering::Acquire);
                match tx.try_send(Tracked::new(id, &l2)) {
                    Ok(()) => assert!(!was_gone, "value {id} accepted after the receiver left"),
                    Err(TrySendError::Full(v)) => {
                        assert!(!was_gone, "Full after the receiver left");
                        drop(v);
                    }
                    Err(TrySendError::Disconnected(v)) => drop(v),
                }
            }
            // The last handle may be this one: the ring's drop then runs here.
        });
        if let Ok(v) = rx.try_recv() {
            drop(v);
        }
        drop(rx);
        gone.store(true, Ordering::Release);
        producer.join().unwrap();
        ledger.assert_each_dropped_once();
    });
}

/// A value that holds a `Sender` of its own channel, as a request carrying its reply
/// channel does, or a destructor that reports into the channel it came from.
struct Carrier {
    _value: Tracked,
    _tx: sigring::Sender<Carrier>,
}

/// The receiver is dropped while a producer is between claiming a slot and publishing a
/// value that holds a `Sender`. If the receiver's drain stopped at the claimed slot and
/// returned, the value would be published into a ring nobody drains again: the `Sender`
/// inside it keeps the channel (and so itself) alive forever. Loom's leak check and the
/// ledger fail that execution; the receiver's drop must wait for the claim to be published.
///
/// Bound: 3 preemptions (finite space without the wait; the wait loops while the slot is
/// claimed).
#[test]
fn receiver_drop_races_a_value_holding_a_sender() {
    check(
        "m5 receiver drop vs a value holding a sender",
        Some(3),
        || {
            let ledger = Ledger::new(1);
            let (tx, rx) = sigring::channel::<Carrier>(2).unwrap();
            let l2 = ledger.clone();
            let producer = thread::spawn(move || {
                let value = Carrier {
                    _value: Tracked::new(0, &l2),
                    _tx: tx.clone(),
                };
                // Queued (and later dropped by the receiver's drain or the last handle) or
                // returned and dropped here.
                drop(tx.try_send(value));
            });
            drop(rx);
            producer.join().unwrap();
            ledger.assert_each_dropped_once();
        },
    );
}
