//! Model 2: capacity 1 and 2 over several laps (wrap-around), with the ring full at times.
//!
//! Proves: the lap arithmetic hands every slot back and forth correctly across laps: no
//! value is lost or duplicated and order is kept; and `Full` is returned only when the
//! ring really is full or the slot at `tail` is still being released by the consumer's
//! pop. The producer retries a `Full` after a yield (the retry is the test's, not
//! `try_send`'s), so it pushes into a full ring and into slots the consumer is freeing.
//!
//! The `Full` check: the consumer counts completed receives in `released` (`Release`
//! after each `recv`); the producer reads it (`Acquire`) before each `try_send`. If it
//! read `k`, the `k` pops happened-before this push, so their slots are free to it; the
//! push of value number `sent` needs the slot freed by pop number `sent - cap`, hence a
//! legitimate `Full` implies `sent - k >= cap`.
#![cfg(sigring_loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use loom_tests::check;

/// One producer sends `0 .. n` into a channel of capacity `cap`; the consumer `recv`s
/// them all, then sees the disconnect.
fn laps(cap: usize, n: u32) {
    let (tx, rx) = sigring::channel::<u32>(cap).unwrap();
    let released = Arc::new(AtomicUsize::new(0));
    let released2 = released.clone();
    let producer = thread::spawn(move || {
        let mut fulls = 0u64;
        for v in 0..n {
            loop {
                let k = released2.load(Ordering::Acquire);
                match tx.try_send(v) {
                    Ok(()) => break,
                    Err(e) => {
                        assert!(e.is_full(), "receiver is alive: {e:?}");
                        let sent = v as usize;
                        assert!(
                            sent - k >= cap,
                            "Full with {sent} sent, {k} released, capacity {cap}"
                        );
                        fulls += 1;
                        thread::yield_now();
                    }
                }
            }
        }
        fulls
    });
    for want in 0..n {
        assert_eq!(
            rx.recv(),
            Ok(want),
            "capacity {cap}: lost, duplicated or reordered"
        );
        released.fetch_add(1, Ordering::Release);
    }
    assert_eq!(rx.recv(), Err(sigring::RecvError));
    let fulls = producer.join().unwrap();
    assert_eq!(rx.full_rejections(), fulls, "every Full is counted");
}

/// Capacity 1, three values: three laps of the single slot, full after every push.
///
/// Bound: 3 preemptions (about 200 000 executions, ~15 s). The producer's yield-retry and
/// the consumer's re-check loop make the unbounded space infinite; 3 lets the consumer be
/// preempted mid-pop (value read, slot not yet freed) while the producer retries, on
/// every lap, and still preempt the producer between claim and publish.
#[test]
fn capacity_1_three_laps() {
    check("m2 cap 1, 3 laps", Some(3), || laps(1, 3));
}

/// Capacity 2, five values: the index wraps twice and the ring fills.
///
/// Bound: 2 preemptions (about 560 000 executions, ~45 s; bound 3 does not finish in 5
/// minutes). Five values make each extra preemption multiply the space; 2 still places a
/// preemption between claim and publish and one inside a pop, anywhere.
#[test]
fn capacity_2_wraps() {
    check("m2 cap 2, 5 values", Some(2), || laps(2, 5));
}
