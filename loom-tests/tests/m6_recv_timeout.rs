//! Model 6: `recv_timeout` expiring while a push lands.
//!
//! The modeled fd's timed wait expires at once unless a token is there, so loom places
//! the expiry before, during and after the concurrent push. Proves: the value is either
//! returned by `recv_timeout` or still queued, and a later blocking `recv` (concurrent
//! with the push, if it has not happened yet) gets it: the timeout leaves the wake state
//! consistent, with no lost value and no lost wake-up.
#![cfg(sigring_loom)]

use std::time::Duration;

use loom::thread;
use loom_tests::check;
use sigring::{RecvTimeoutError, TryRecvError};

/// Bound: none (exhaustive; about 3 800 executions): two threads, one value, and the
/// consumer never loops without the producer's value having landed.
#[test]
fn timeout_racing_a_push() {
    check("m6 recv_timeout vs push", None, || {
        let (tx, rx) = sigring::channel::<u32>(1).unwrap();
        let tx2 = tx.clone();
        let producer = thread::spawn(move || assert!(tx2.try_send(7).is_ok()));
        match rx.recv_timeout(Duration::from_millis(10)) {
            Ok(v) => assert_eq!(v, 7),
            Err(RecvTimeoutError::Timeout) => {
                assert_eq!(rx.recv(), Ok(7), "value lost after a timeout");
            }
            Err(RecvTimeoutError::Disconnected) => panic!("a sender is alive"),
        }
        producer.join().unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "value duplicated");
        drop(tx);
    });
}
