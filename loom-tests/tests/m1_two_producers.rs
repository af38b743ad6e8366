//! Model 1: two producers and the consumer.
//!
//! Proves: every value sent is received exactly once, values from one producer arrive in
//! the order that producer sent them, and `recv` returns `Disconnected` only after all of
//! them. The consumer uses the blocking `recv`, so it may go to sleep on the modeled fd at
//! any point; a lost wake-up would leave it blocked and loom would report a deadlock.
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;

/// Producer A sends `A0, A1`, producer B sends `B0`; capacity 3 holds all of them, so no
/// `try_send` may fail (a `Full` here would be a spurious rejection).
///
/// Bound: 2 preemptions (about 420 000 executions, under a minute). The consumer's `recv`
/// loops while a slot is claimed but unpublished, so without a bound the space is
/// infinite, and bound 3 takes over 15 minutes on the CI machine (8.5 million executions;
/// it passes). Two preemptions already place a producer's stop between claim and publish
/// while the other producer and the consumer run, and the claim/re-check race on `tail`
/// and the sleep/wake race at every point; every mutation this model is meant to catch
/// fails within this bound (see the crate docs).
#[test]
fn two_producers_one_consumer() {
    check("m1 two producers", Some(2), || {
        let (tx, rx) = sigring::channel::<u32>(3).unwrap();
        let tx_b = tx.clone();
        let a = thread::spawn(move || {
            for v in [10, 11] {
                assert!(tx.try_send(v).is_ok(), "spurious Full/Disconnected for {v}");
            }
        });
        let b = thread::spawn(move || {
            assert!(
                tx_b.try_send(20).is_ok(),
                "spurious Full/Disconnected for 20"
            );
        });
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() {
            got.push(v);
            assert!(got.len() <= 3, "received more than was sent: {got:?}");
        }
        a.join().unwrap();
        b.join().unwrap();
        let from_a: Vec<u32> = got.iter().copied().filter(|v| *v < 20).collect();
        let from_b: Vec<u32> = got.iter().copied().filter(|v| *v >= 20).collect();
        assert_eq!(
            from_a,
            [10, 11],
            "producer A's values, in order, once: {got:?}"
        );
        assert_eq!(from_b, [20], "producer B's value, once: {got:?}");
        assert_eq!(rx.full_rejections(), 0);
    });
}
