//! Model 11: a shared channel (`sigring::shared`) whose sending process dies in the
//! middle of a send.
//!
//! Model processes are loom threads with a pid of their own
//! (`sigring::model_process::become_process`); `model_process::die` marks one dead, as
//! `kill(pid, 0)` would then report, and `Sender::model_claim_and_die` is the claiming CAS
//! of a real send followed by death: a worker killed between claim and publish. The
//! consumer runs concurrently with them. Proves: a slot a process published just before
//! dying is taken, not skipped; a claim the dead process never published is skipped and
//! counted in `lost`, exactly once; a live process's claim is never skipped; and a dead
//! process's lane is given to a new process only once drained, so the new process's
//! values arrive.
#![cfg(sigring_loom)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use loom::thread;
use loom_tests::check;
use sigring::model_process;

/// A process sends one value and exits while the consumer looks: the value arrives
/// (whether the consumer first saw the slot claimed while the process lived, or only after
/// its death), nothing is counted lost.
///
/// Bound: 2 preemptions (the consumer's loop yields while the slot is claimed, so the
/// unbounded space is infinite).
#[test]
fn a_value_published_just_before_death_arrives() {
    check("m11 shared, published then died", Some(2), || {
        let (tx, rx) = sigring::shared::Builder::new(2)
            .lanes(1)
            .build::<u32>()
            .unwrap();
        let worker = thread::spawn(move || {
            model_process::become_process(2);
            assert!(tx.try_send(1).is_ok());
            model_process::die();
        });
        let mut got = Vec::new();
        while got.len() as u64 + rx.lost() < 1 {
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(_) => thread::yield_now(),
            }
        }
        worker.join().unwrap();
        assert_eq!(got, [1], "a published value was skipped");
        assert_eq!(rx.lost(), 0);
    });
}

/// One lane, two processes. The first sends 1, then claims a slot and dies before
/// publishing it; the second (which lives on) sends 10 if it finds the lane free, once.
/// The consumer takes 1, skips the dead claim (lost 1), frees the lane once drained, and
/// takes 10 if it was sent: a lane handed over too early would put 10 behind the dead
/// claim, now owned by a live process, and it would never arrive.
///
/// Bound: 2 preemptions.
#[test]
fn a_dead_claim_is_skipped_and_the_lane_handed_over_drained() {
    check("m11 shared, dead claim and lane reuse", Some(2), || {
        let (tx, rx) = sigring::shared::Builder::new(2)
            .lanes(1)
            .build::<u32>()
            .unwrap();
        // Outcomes, as plain counters (bookkeeping outside the model, see the crate docs):
        // values sent, claims left unpublished, threads finished.
        let outcome = Arc::new([AtomicU32::new(0), AtomicU32::new(0), AtomicU32::new(0)]);
        let (out_a, out_b) = (outcome.clone(), outcome.clone());
        let tx_b = tx.clone();
        let dying = thread::spawn(move || {
            model_process::become_process(2);
            if tx.try_send(1).is_ok() {
                out_a[0].fetch_add(1, Ordering::Relaxed);
            }
            if tx.model_claim_and_die().is_ok() {
                out_a[1].fetch_add(1, Ordering::Relaxed);
            }
            out_a[2].fetch_add(1, Ordering::Relaxed);
        });
        let live = thread::spawn(move || {
            model_process::become_process(3);
            if tx_b.try_send(10).is_ok() {
                out_b[0].fetch_add(1, Ordering::Relaxed);
            }
            out_b[2].fetch_add(1, Ordering::Relaxed);
        });
        let mut got = Vec::new();
        loop {
            let finished = outcome[2].load(Ordering::Relaxed) == 2;
            let expected = outcome[0].load(Ordering::Relaxed) + outcome[1].load(Ordering::Relaxed);
            if finished && got.len() as u64 + rx.lost() == u64::from(expected) {
                break;
            }
            match rx.try_recv() {
                Ok(v) => got.push(v),
                Err(_) => thread::yield_now(),
            }
        }
        dying.join().unwrap();
        live.join().unwrap();
        assert_eq!(
            rx.lost(),
            u64::from(outcome[1].load(Ordering::Relaxed)),
            "lost counts exactly the dead claim"
        );
        assert_eq!(
            got.len() as u32,
            outcome[0].load(Ordering::Relaxed),
            "{got:?}"
        );
    });
}
