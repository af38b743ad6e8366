//! The receiver's fd in an external event loop: a level-triggered `epoll` loop built with
//! libc, and an edge-triggered `mio::Poll`.
//!
//! The contract: drain with `try_recv` until `Empty` (that `Empty` arms the wake-up);
//! after that the fd is readable exactly when a send (or the last sender's drop) happened.
#![cfg(target_os = "linux")]

mod common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;
use std::time::Duration;

use common::{build, send_retry, watchdog, BACKENDS};
use sigring::TryRecvError;

/// A level-triggered epoll instance watching one fd for `EPOLLIN`.
struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    fn watching(fd: i32) -> Epoll {
        // SAFETY: plain syscalls with valid arguments; the new fd is owned right away.
        unsafe {
            let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            assert!(
                ep >= 0,
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            );
            let ep = OwnedFd::from_raw_fd(ep);
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32, // level-triggered: no EPOLLET
                u64: 42,
            };
            let rc = libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev);
            assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
            Epoll { fd: ep }
        }
    }

    /// Waits up to `timeout_ms` (0: just look); returns whether the fd is readable.
    fn readable(&self, timeout_ms: i32) -> bool {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        loop {
            // SAFETY: `events` has room for 4 entries.
            let n = unsafe {
                libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), 4, timeout_ms)
            };
            if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            assert!(n >= 0, "epoll_wait: {}", std::io::Error::last_os_error());
            if n == 0 {
                return false;
            }
            let ev = events[0];
            let (bits, token) = (ev.events, ev.u64);
            assert_eq!(token, 42);
            assert_ne!(
                bits & libc::EPOLLIN as u32,
                0,
                "event without EPOLLIN: {bits:#x}"
            );
            return true;
        }
    }
}

/// An event loop may poll a fresh receiver before it ever calls `try_recv`: the first
/// send must still make the fd readable (a new channel starts armed).
#[test]
fn fresh_receiver_polled_first_sees_the_first_send() {
    let _wd = watchdog(30, "fresh_receiver_polled_first_sees_the_first_send");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(8, backend);
        let ep = Epoll::watching(rx.as_raw_fd());
        assert!(!ep.readable(0), "{backend:?}: readable with nothing sent");
        let t = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(20));
            tx.try_send(9).unwrap();
            tx
        });
        assert!(ep.readable(10_000), "{backend:?}: first send not seen");
        assert_eq!(rx.try_recv(), Ok(9));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!ep.readable(0), "{backend:?}: readable after draining");
        drop(t.join().unwrap());
    }
}

#[test]
fn level_triggered_epoll_sees_sends_and_not_drained() {
    let _wd = watchdog(30, "level_triggered_epoll_sees_sends_and_not_drained");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(8, backend);
        let ep = Epoll::watching(rx.as_raw_fd());
        // An event loop starts by draining: the Empty arms the wake-up.
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!ep.readable(0), "{backend:?}: readable with nothing sent");

        tx.try_send(1).unwrap();
        assert!(ep.readable(0), "{backend:?}: not readable after a send");
        assert!(
            ep.readable(0),
            "{backend:?}: level-triggered: still readable"
        );
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(
            !ep.readable(0),
            "{backend:?}: readable after draining to Empty"
        );
        assert!(
            !ep.readable(50),
            "{backend:?}: became readable with nothing sent"
        );

        // Several sends, one drain.
        for i in 2..6 {
            tx.try_send(i).unwrap();
            assert!(ep.readable(0), "{backend:?}: not readable after send {i}");
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3, 4, 5]);
        assert!(!ep.readable(0), "{backend:?}: readable after draining");

        // A send from another thread wakes an epoll_wait that is blocked.
        let t = thread::spawn({
            let tx = tx.clone();
            move || {
                thread::sleep(Duration::from_millis(50));
                tx.try_send(6).unwrap();
            }
        });
        assert!(
            ep.readable(10_000),
            "{backend:?}: a blocked epoll_wait missed a send"
        );
        t.join().unwrap();
        assert_eq!(rx.try_recv(), Ok(6));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!ep.readable(0));

        // The last sender going makes it readable, and try_recv says why.
        let tx2 = tx.clone();
        drop(tx);
        assert!(!ep.readable(0), "{backend:?}: a sender remains");
        drop(tx2);
        assert!(
            ep.readable(0),
            "{backend:?}: not readable after the last sender left"
        );
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    }
}

/// An `Empty` from `try_recv` with no token outstanding makes no syscall: the counter of
/// token writes does not move, and the fd stays unreadable.
#[test]
fn repeated_empty_is_quiet() {
    let _wd = watchdog(30, "repeated_empty_is_quiet");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(8, backend);
        let ep = Epoll::watching(rx.as_raw_fd());
        for _ in 0..1000 {
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }
        assert_eq!(rx.wake_writes(), 0);
        assert!(!ep.readable(0));
        tx.try_send(1).unwrap();
        assert_eq!(rx.wake_writes(), 1);
        assert!(ep.readable(0));
    }
}

/// `recv` sleeps on the channel's flag (a futex, on Linux), not on the fd: while it sleeps
/// and after it returns, the fd is readable only while a token is outstanding, and a
/// `recv_timeout` that times out leaves the fd armed, so an `epoll_wait` right after it
/// (without a `try_recv` first) is woken by the next send.
#[test]
fn recv_and_recv_timeout_mix_with_epoll() {
    let _wd = watchdog(60, "recv_and_recv_timeout_mix_with_epoll");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(8, backend);
        let ep = Epoll::watching(rx.as_raw_fd());
        // A blocking recv woken by a send from another thread.
        let tx2 = tx.clone();
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            tx2.try_send(1).unwrap();
        });
        assert_eq!(rx.recv(), Ok(1));
        sender.join().unwrap();
        assert!(
            !ep.readable(0),
            "{backend:?}: readable after recv took the value"
        );
        // Timeouts, then straight to epoll.
        for round in 0..3u32 {
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(20)),
                Err(sigring::RecvTimeoutError::Timeout)
            );
            assert!(!ep.readable(0), "{backend:?}: readable with nothing sent");
            let tx2 = tx.clone();
            let sender = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                tx2.try_send(10 + round).unwrap();
            });
            assert!(
                ep.readable(10_000),
                "{backend:?}: epoll after a timed-out recv_timeout missed the send"
            );
            sender.join().unwrap();
            assert_eq!(rx.try_recv(), Ok(10 + round));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert!(!ep.readable(0), "{backend:?}: readable after draining");
        }
    }
}

/// A level-triggered epoll loop as a real consumer: three producers send from threads,
/// the loop sleeps in `epoll_wait` and drains on readable until `Disconnected`. Nothing is
/// lost, per-producer order holds, and a wait that times out while values are pending
/// fails the test (a lost wake-up).
#[test]
fn epoll_loop_receives_everything_from_threads() {
    let _wd = watchdog(60, "epoll_loop_receives_everything_from_threads");
    const PRODUCERS: u64 = 3;
    const PER: u64 = 30_000;
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(16, backend);
        let ep = Epoll::watching(rx.as_raw_fd());
        let handles: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for seq in 0..PER {
                        send_retry(&tx, p << 32 | seq).unwrap();
                        if seq % 1024 == 0 {
                            thread::sleep(Duration::from_micros(200)); // let the loop sleep
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; PRODUCERS as usize];
        let mut waits = 0u64;
        'outer: loop {
            loop {
                match rx.try_recv() {
                    Ok(v) => {
                        let (p, seq) = ((v >> 32) as usize, v & 0xffff_ffff);
                        assert_eq!(seq, next[p], "{backend:?}: producer {p} out of order");
                        next[p] += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break 'outer,
                }
            }
            waits += 1;
            assert!(
                ep.readable(10_000),
                "{backend:?}: epoll_wait timed out with {next:?} received: lost wake-up"
            );
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(next, [PER; PRODUCERS as usize], "{backend:?}");
        println!(
            "{backend:?}: {} values, {waits} epoll waits, {} token writes",
            PRODUCERS * PER,
            rx.wake_writes()
        );
    }
}

/// `mio::Poll` (edge-triggered on Linux) with the receiver registered as a `Source`.
#[test]
#[cfg(feature = "mio")]
fn mio_edge_triggered_loop() {
    use mio::{Events, Interest, Poll, Token};
    let _wd = watchdog(60, "mio_edge_triggered_loop");
    const N: u64 = 50_000;
    for backend in BACKENDS {
        let (tx, mut rx) = build::<u64>(32, backend);
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut rx, Token(7), Interest::READABLE)
            .unwrap();
        let producer = thread::spawn(move || {
            for i in 0..N {
                send_retry(&tx, i).unwrap();
                if i % 4096 == 0 {
                    thread::sleep(Duration::from_micros(300));
                }
            }
        });
        let mut events = Events::with_capacity(8);
        let mut next = 0u64;
        let mut polls = 0u64;
        'outer: loop {
            // Drain first: that is what arms the next edge.
            loop {
                match rx.try_recv() {
                    Ok(v) => {
                        assert_eq!(v, next, "{backend:?}: out of order");
                        next += 1;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => break 'outer,
                }
            }
            polls += 1;
            poll.poll(&mut events, Some(Duration::from_secs(10)))
                .unwrap();
            assert!(
                events
                    .iter()
                    .any(|e| e.token() == Token(7) && e.is_readable()),
                "{backend:?}: no readable edge within 10 s at {next}: lost wake-up"
            );
        }
        producer.join().unwrap();
        assert_eq!(next, N);
        poll.registry().deregister(&mut rx).unwrap();
        println!("{backend:?}: mio received {N} values with {polls} polls");
    }
}
