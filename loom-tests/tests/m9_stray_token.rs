//! Model 9: a token in the fd that the protocol did not write (a "stray" one: a process
//! cloned without the atfork handlers, or any other writer).
//!
//! Proves, with the modeled fd and a token injected from outside:
//! * a `recv` woken by the stray token reads it and still receives a value sent
//!   concurrently (no deadlock, no busy loop: a wait that kept returning at once would
//!   exhaust loom's branch limit);
//! * an event loop (poll, then `try_recv` until `Empty`) pays at most one wasted turn for
//!   the stray token, is left with a clean fd, and still gets a value sent while it cleared
//!   the token (the value's producer saw the flag taken and wrote nothing, so `try_recv`
//!   must look at the ring again after clearing; otherwise loom reports a deadlock).
//!
//! These run the consumer transitions `ARMED -> POSTED -> ARMED` of
//! `Wake::clear_stray_token`, which no other model reaches (the modeled fd cannot hold a
//! token the protocol did not write).
#![cfg(sigring_loom)]

use loom::thread;
use loom_tests::check;
use sigring::TryRecvError;

/// Armed receiver, stray token, one concurrent send: `recv` returns the value.
///
/// Bound: 5 preemptions (about 10 000 executions, 1-2 s).
#[test]
fn recv_reads_the_stray_token_and_gets_the_value() {
    check("m9 recv past a stray token", Some(5), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        rx.model_inject_stray_token();
        let producer = thread::spawn(move || assert!(tx.try_send(1).is_ok()));
        assert_eq!(rx.recv(), Ok(1));
        producer.join().unwrap();
    });
}

/// Armed receiver in an event loop, stray token, one concurrent send: the loop gets the
/// value, pays at most one wasted turn in all, and the fd ends clean.
///
/// Bound: 5 preemptions (about 10 000 executions, 1-2 s).
#[test]
fn event_loop_pays_one_turn_for_a_stray_token() {
    check("m9 event loop past a stray token", Some(5), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        // The first `Empty` arms; the loop would now poll.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        rx.model_inject_stray_token();
        // The main thread keeps a sender, so no disconnect token joins in.
        let tx2 = tx.clone();
        let producer = thread::spawn(move || assert!(tx2.try_send(7).is_ok()));
        let mut wasted = 0;
        let got = loop {
            rx.model_poll();
            match rx.try_recv() {
                Ok(v) => break v,
                Err(TryRecvError::Empty) => wasted += 1,
                Err(TryRecvError::Disconnected) => panic!("disconnected"),
            }
        };
        assert_eq!(got, 7);
        producer.join().unwrap();
        // Drain as the loop would (`try_recv` until `Empty`), then keep polling while the fd
        // says readable: every such turn is wasted too. The stray token may have been taken
        // for the producer's (read while the flag was `POSTED`), leaving the producer's own
        // token to be read as the stray one: still one extra turn in all.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        while rx.model_fd_readable() {
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            wasted += 1;
            assert!(wasted <= 1, "the stray token cost {wasted} turns");
        }
        assert!(wasted <= 1, "the stray token cost {wasted} turns");
        drop(tx);
    });
}
