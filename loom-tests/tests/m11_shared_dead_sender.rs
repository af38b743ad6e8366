//! Model 11: a shared channel (`sigring::shared`) whose sending process dies between
//! claiming a slot and publishing it.
//!
//! Model processes are loom threads with a pid of their own
//! (`sigring::model_process::become_process`); one "dies" right after its claim
//! (`Sender::model_claim_and_die`: the claiming CAS of a real send, then the process is
//! marked dead, as `kill(pid, 0)` would then report). Proves: the consumer, running
//! concurrently, recovers: it skips exactly the dead process's claimed slot (counted in
//! `lost`), receives every value published by the dead process before it died and by the
//! live one, and never skips the slot of a process that is alive (which would lose its
//! value: then the counts do not add up).
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;
use sigring::model_process;

/// Sends `value`, retrying while `Full`: while the one lane is taken by the other process
/// (or still holds its values).
fn send(tx: &sigring::shared::Sender<u32>, value: u32) {
    while let Err(e) = tx.try_send(value) {
        assert!(e.is_full(), "disconnected");
        thread::yield_now();
    }
}

/// Bound: 2 preemptions (the consumer's loop yields while a slot is claimed, so the
/// unbounded space is infinite).
#[test]
fn a_sender_dying_mid_send_costs_only_its_slot() {
    check("m11 shared, dead sender", Some(2), || {
        // One lane: the live process gets it only once the consumer has freed it, after
        // the dying one is gone and its lane drained (the slot it claimed skipped).
        let (tx, rx) = sigring::shared::Builder::new(2)
            .lanes(1)
            .build::<u32>()
            .unwrap();
        let dying_tx = tx.clone();
        let dying = thread::spawn(move || {
            model_process::become_process(2);
            send(&dying_tx, 1);
            assert_eq!(
                dying_tx.model_claim_and_die(),
                Ok(()),
                "a free slot to claim"
            );
        });
        let live = thread::spawn(move || {
            model_process::become_process(3);
            send(&tx, 10);
            // Exits after its send: its lane is freed once drained.
            model_process::die();
        });
        let mut got = Vec::new();
        while got.len() as u64 + rx.lost() < 3 {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(_) => thread::yield_now(),
            }
        }
        dying.join().unwrap();
        live.join().unwrap();
        got.sort_unstable();
        assert_eq!(got, [1, 10], "a published value was skipped");
        assert_eq!(rx.lost(), 1);
    });
}
