//! Model 3: the wake protocol.
//!
//! Proves, with the modeled fd (a loom `Notify`: sleeping blocks, a token write wakes):
//! * no lost wake-up: a consumer that goes to sleep while a producer pushes is always
//!   woken with the value waiting, including the second time, after it has read the first
//!   token and re-armed (`SIGNALED -> ARMED`); otherwise loom reports a deadlock;
//! * a busy consumer causes no write: while the consumer has not re-armed since its last
//!   wake-up (flag `IDLE` or `POSTED`), pushes make no `write(2)`;
//! * among racing producers exactly one writes the token for one arming, and reading it
//!   leaves the fd not readable;
//! * the two kinds of sleep mix: `recv` sleeps on the flag (`PARKED`, a modeled futex),
//!   an event loop on the fd (`ARMED`); a consumer switching between them while a producer
//!   takes the flag loses no wake-up and leaves no token behind.
#![cfg(sigring_loom)]

use std::time::Duration;

use sigring::RecvTimeoutError;

use loom::thread;
use loom_tests::check;
use sigring::TryRecvError;

/// The consumer `recv`s twice while a producer sends two values. The main thread keeps a
/// `Sender` until the end, so the disconnect's own wake-up cannot hide a lost one.
///
/// Bound: 5 preemptions (about 26 000 executions, ~1 s). Not exhaustive: while a slot is
/// claimed but unpublished the consumer yields and looks again, a loop that makes the
/// unbounded space infinite. Five preemptions are more than the lost-wake-up races need
/// (one between the consumer's arm and its re-check, one in the producer between claim and
/// the flag load).
#[test]
fn no_lost_wakeup() {
    check("m3 no lost wake-up", Some(5), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        let tx2 = tx.clone();
        let producer = thread::spawn(move || {
            assert!(tx2.try_send(1).is_ok());
            assert!(tx2.try_send(2).is_ok());
        });
        assert_eq!(rx.recv(), Ok(1));
        assert_eq!(rx.recv(), Ok(2));
        producer.join().unwrap();
        drop(tx);
    });
}

/// The consumer is busy taking a value that is already there while two producers push:
/// no token is written. (A new channel starts `ARMED`, so the first send writes the one
/// token; from then on the consumer has not re-armed, and the flag stays `POSTED`.)
///
/// Bound: none (exhaustive): the consumer's one `try_recv` succeeds at its first look,
/// so three short threads.
#[test]
fn busy_consumer_causes_no_write() {
    check("m3 busy consumer, no write", None, || {
        let (tx, rx) = sigring::channel::<u32>(4).unwrap();
        tx.try_send(0).unwrap();
        let first = rx.wake_writes();
        assert_eq!(first, 1, "a new channel is armed: the first send writes");
        let (t1, t2) = (tx.clone(), tx.clone());
        let p1 = thread::spawn(move || assert!(t1.try_send(1).is_ok()));
        let p2 = thread::spawn(move || assert!(t2.try_send(2).is_ok()));
        assert_eq!(rx.try_recv(), Ok(0));
        p1.join().unwrap();
        p2.join().unwrap();
        assert_eq!(rx.wake_writes(), first, "a busy consumer caused a write");
        let mut got = [rx.try_recv().unwrap(), rx.try_recv().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
        assert_eq!(rx.wake_writes(), first);
    });
}

/// The consumer found the ring empty (its `Empty` armed the flag) and is "asleep"
/// elsewhere while two producers race: exactly one of them writes a token, the fd is
/// readable, and after draining, the `Empty` that re-arms reads the token, so the fd is
/// no longer readable.
///
/// Bound: none (exhaustive): only the two producers run concurrently.
#[test]
fn racing_producers_write_one_token() {
    check("m3 one token per arming", None, || {
        let (tx, rx) = sigring::channel::<u32>(4).unwrap();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!rx.model_fd_readable());
        assert_eq!(rx.wake_writes(), 0);
        let (t1, t2) = (tx.clone(), tx.clone());
        let p1 = thread::spawn(move || assert!(t1.try_send(3).is_ok()));
        let p2 = thread::spawn(move || assert!(t2.try_send(4).is_ok()));
        p1.join().unwrap();
        p2.join().unwrap();
        assert_eq!(rx.wake_writes(), 1, "one arming, one token");
        assert!(rx.model_fd_readable(), "the armed consumer was not woken");
        let mut got = [rx.try_recv().unwrap(), rx.try_recv().unwrap()];
        got.sort_unstable();
        assert_eq!(got, [3, 4]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(
            !rx.model_fd_readable(),
            "the token was not read on re-arming"
        );
        assert_eq!(rx.wake_writes(), 1);
    });
}

/// The consumer switches between the two kinds of sleep while a producer sends two values:
/// `try_recv` arms the flag for the fd (`ARMED`), `recv` parks on the flag (`ARMED ->
/// PARKED` by CAS, racing the producer's `ARMED -> POSTED`), and `recv_timeout` (under
/// loom its deadline passes at once) may return `Timeout` with the flag parked, which it
/// must leave armed for the fd again: the consumer then polls the fd *without* first
/// calling `try_recv`, as a loop that mixes `recv_timeout` and `poll` may, and must be
/// woken by the second send. A lost wake-up is a deadlock; a second token while one is
/// outstanding fails the modeled fd's check.
///
/// Bound: 4 preemptions (the consumer's busy-slot loop makes the space infinite).
#[test]
fn switching_between_the_fd_and_the_flag() {
    check("m3 fd and flag sleeps mixed", Some(4), || {
        let (tx, rx) = sigring::channel::<u32>(2).unwrap();
        let tx2 = tx.clone();
        let producer = thread::spawn(move || {
            assert!(tx2.try_send(1).is_ok());
            assert!(tx2.try_send(2).is_ok());
        });
        let first = match rx.try_recv() {
            Ok(v) => v,
            Err(TryRecvError::Empty) => rx.recv().unwrap(),
            Err(TryRecvError::Disconnected) => unreachable!("a sender is kept"),
        };
        assert_eq!(first, 1);
        let second = match rx.recv_timeout(Duration::from_millis(1)) {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => loop {
                // Straight to the poll: the flag must be armed for the fd.
                rx.model_poll();
                if let Ok(v) = rx.try_recv() {
                    break v;
                }
            },
            Err(RecvTimeoutError::Disconnected) => unreachable!("a sender is kept"),
        };
        assert_eq!(second, 2);
        producer.join().unwrap();
        drop(tx);
    });
}
