//! The blocking `send` family: `send` waits while the channel is full and completes when
//! the consumer takes a value; many producers on one slot lose nothing; senders woken one
//! at a time hand the wake-up on while half the ring is free, and one that times out never
//! strands the others; a dropped receiver wakes blocked senders with their values; `send_timeout` keeps its deadline, also under a
//! storm of `EINTR`; a blocked sender sleeps (no CPU); and a signal handler's `try_send` on
//! a channel full of blocked senders returns `Full` at once.
//!
//! The senders' wait is a lock and a condition variable (`src/wait.rs`), the same for both
//! wake-up backends; the backends still matter where a completed `send` wakes a sleeping
//! receiver, so the tests that involve the receiver's fd run on both.
//!
//! Tests that measure CPU time or install signal handlers hold `LOCK`.
//!
//! Under miri (`.ci/verify`) the tests without signals or CPU clocks run, some with fewer
//! values. Miri has no `/proc` to see a thread asleep in, so there [`block_in`] gives the
//! blocked thread time to reach its wait instead (see [`wait_until_blocked`]).
#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[cfg(not(miri))]
use common::wait_until_sleeping;
use common::{
    build, eintr_storm_runs, gettid, install_handler, serial, thread_cpu_time, under_eintr_storm,
    watchdog, StormSource, BACKENDS,
};
use sigring::{Backend, SendError, SendTimeoutError, StaticChannel, TryRecvError, TrySendError};

/// CPU time and signal handlers are per process: one such test at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// How long the tests give a woken sender to return. Waking takes microseconds; this
/// allows for a loaded 2-core machine that does not schedule the thread for a while.
const PROMPT: Duration = Duration::from_secs(2);

/// A thread blocked in a send: `f` runs on it, and `block_in` returns once the thread is
/// asleep in the kernel (it spins only briefly before sleeping).
struct Blocked<R> {
    handle: JoinHandle<(R, Instant)>,
}

impl<R> Blocked<R> {
    /// Whether the send has returned.
    fn returned(&self) -> bool {
        self.handle.is_finished()
    }

    /// The send's result and when it returned.
    fn join(self) -> (R, Instant) {
        self.handle.join().unwrap()
    }
}

fn block_in<R: Send + 'static>(f: impl FnOnce() -> R + Send + 'static) -> Blocked<R> {
    let (tid_tx, tid_rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        tid_tx.send(gettid()).unwrap();
        let r = f();
        (r, Instant::now())
    });
    let tid = tid_rx.recv().unwrap();
    assert!(
        wait_until_blocked(tid),
        "the sender never went to sleep (did the send return, or spin?)"
    );
    Blocked { handle }
}

/// Waits (up to 10 s) until thread `tid` sleeps in the kernel; whether it did.
#[cfg(not(miri))]
fn wait_until_blocked(tid: libc::pid_t) -> bool {
    wait_until_sleeping(tid, Duration::from_secs(10))
}

/// Under miri, which has no `/proc`: sleeping lets miri's scheduler run the other thread
/// until it blocks in its wait (miri's clock only moves on to this sleep's end once every
/// other thread is blocked or done). The callers still check that the send has not
/// returned.
#[cfg(miri)]
fn wait_until_blocked(_tid: libc::pid_t) -> bool {
    thread::sleep(Duration::from_millis(50));
    true
}

// --- Waiting for room --------------------------------------------------------------------

/// `send` on a full channel sleeps until the consumer takes a value, then completes, and
/// the value queues behind those already there.
#[test]
fn send_waits_while_full_and_completes_when_a_slot_frees() {
    let _wd = watchdog(60, "send_waits_while_full_and_completes_when_a_slot_frees");
    for backend in BACKENDS {
        for cap in [1u32, 2] {
            let what = format!("{backend:?} capacity {cap}");
            let (tx, rx) = build::<u32>(cap as usize, backend);
            for i in 0..cap {
                tx.try_send(i).unwrap();
            }
            let blocked = {
                let tx = tx.clone();
                block_in(move || tx.send(100))
            };
            thread::sleep(Duration::from_millis(50));
            assert!(
                !blocked.returned(),
                "{what}: send returned on a full channel"
            );
            assert_eq!(rx.len(), cap as usize, "{what}");
            assert_eq!(
                rx.full_rejections(),
                0,
                "{what}: a waiting send is no rejection"
            );

            let freeing = Instant::now();
            assert_eq!(rx.recv(), Ok(0), "{what}");
            let (r, returned_at) = blocked.join();
            assert_eq!(r, Ok(()), "{what}");
            let latency = returned_at.saturating_duration_since(freeing);
            assert!(
                latency < PROMPT,
                "{what}: send returned {latency:?} after the slot freed"
            );
            for i in 1..cap {
                assert_eq!(rx.recv(), Ok(i), "{what}");
            }
            assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(100), "{what}");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{what}");
            println!("{what}: the blocked send returned {latency:?} after the slot freed");
        }
    }
}

/// Sixteen producers × 2 000 values (5 under miri) with `send` on one slot (every send
/// but a few waits): all finish, nothing is lost or duplicated, each producer's order is
/// kept.
#[test]
fn sixteen_producers_send_through_one_slot() {
    let _wd = watchdog(120, "sixteen_producers_send_through_one_slot");
    const PRODUCERS: u64 = 16;
    const PER: u64 = if cfg!(miri) { 5 } else { 2_000 };
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(1, backend);
        let start = Instant::now();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..PER {
                        tx.send(p << 32 | i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; PRODUCERS as usize];
        // Ends when every producer has finished and dropped its sender.
        for v in rx.iter() {
            let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(p < PRODUCERS as usize, "{backend:?}: garbage value {v:#x}");
            assert_eq!(i, next[p], "{backend:?}: producer {p} out of order");
            next[p] += 1;
        }
        for t in producers {
            t.join().unwrap();
        }
        assert_eq!(next, [PER; PRODUCERS as usize], "{backend:?}");
        assert_eq!(rx.full_rejections(), 0, "{backend:?}");
        println!(
            "{backend:?}: {} values through one slot in {:?}, {} receiver wake-ups",
            PRODUCERS * PER,
            start.elapsed(),
            rx.wakeups()
        );
    }
}

/// Senders are woken one at a time, each waking the next while half the ring is free:
/// one-shot senders blocked on a full ring all complete when the consumer takes what is
/// queued and then only waits for them (as they would if every sleeper were woken at once).
#[test]
fn one_shot_senders_complete_when_the_consumer_empties_the_ring_and_waits() {
    let _wd = watchdog(60, "one_shot_senders_complete_when_the_consumer_empties");
    const CAP: u64 = 8;
    const SENDERS: u64 = 4;
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(CAP as usize, backend);
        for i in 0..CAP {
            tx.try_send(i).unwrap();
        }
        let blocked: Vec<_> = (0..SENDERS)
            .map(|k| {
                let tx = tx.clone();
                block_in(move || tx.send(100 + k))
            })
            .collect();
        let mut got: Vec<u64> = (0..CAP).map(|_| rx.recv().unwrap()).collect();
        // No further receive until every sender has returned.
        for b in blocked {
            assert_eq!(b.join().0, Ok(()), "{backend:?}");
        }
        drop(tx);
        got.extend(rx.iter());
        got.sort_unstable();
        let want: Vec<u64> = (0..CAP).chain(100..100 + SENDERS).collect();
        assert_eq!(got, want, "{backend:?}");
    }
}

/// A sender whose deadline passes just as it is picked to wake must not take the wake-up
/// away from the sleepers beside it: with senders that keep timing out mixed among senders
/// without a deadline on one slot, every value of the latter arrives, in order.
#[test]
fn senders_timing_out_never_strand_the_others() {
    let _wd = watchdog(120, "senders_timing_out_never_strand_the_others");
    const PATIENT: u64 = 4;
    const HASTY: u64 = 4;
    const PER: u64 = if cfg!(miri) { 5 } else { 20_000 };
    const HASTY_TRIES: u64 = if cfg!(miri) { 10 } else { 40_000 };
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(1, backend);
        let patient: Vec<_> = (0..PATIENT)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    for i in 0..PER {
                        tx.send(p << 32 | i).unwrap();
                    }
                })
            })
            .collect();
        let hasty: Vec<_> = (PATIENT..PATIENT + HASTY)
            .map(|p| {
                let tx = tx.clone();
                thread::spawn(move || {
                    let mut sent = 0u64;
                    for _ in 0..HASTY_TRIES {
                        // Deadlines from "already passed" to a few microseconds.
                        let timeout = Duration::from_micros(sent % 8);
                        match tx.send_timeout(p << 32 | sent, timeout) {
                            Ok(()) => sent += 1,
                            Err(e) => assert!(e.is_timeout()),
                        }
                    }
                    sent
                })
            })
            .collect();
        drop(tx);
        let mut next = [0u64; (PATIENT + HASTY) as usize];
        for v in rx.iter() {
            let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
            assert!(p < next.len(), "{backend:?}: garbage value {v:#x}");
            assert_eq!(i, next[p], "{backend:?}: producer {p} out of order");
            next[p] += 1;
        }
        for t in patient {
            t.join().unwrap();
        }
        let hasty_sent: Vec<u64> = hasty.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(
            &next[..PATIENT as usize],
            &[PER; PATIENT as usize],
            "{backend:?}"
        );
        assert_eq!(&next[PATIENT as usize..], &hasty_sent[..], "{backend:?}");
    }
}

// --- The receiver goes away --------------------------------------------------------------

/// Senders blocked in `send` when the receiver is dropped return `SendError` with their
/// own value, promptly.
#[test]
fn dropping_the_receiver_wakes_blocked_senders_with_their_values() {
    let _wd = watchdog(60, "dropping_the_receiver_wakes_blocked_senders");
    const SENDERS: u64 = 4;
    for backend in BACKENDS {
        let (tx, rx) = build::<u64>(2, backend);
        tx.try_send(0).unwrap();
        tx.try_send(1).unwrap();
        let blocked: Vec<_> = (0..SENDERS)
            .map(|k| {
                let tx = tx.clone();
                block_in(move || tx.send(1000 + k))
            })
            .collect();
        thread::sleep(Duration::from_millis(20));
        assert!(blocked.iter().all(|b| !b.returned()), "{backend:?}");
        let dropped_at = Instant::now();
        drop(rx);
        let mut slowest = Duration::ZERO;
        for (k, b) in (0..SENDERS).zip(blocked) {
            let (r, returned_at) = b.join();
            assert_eq!(r, Err(SendError(1000 + k)), "{backend:?}: sender {k}");
            slowest = slowest.max(returned_at.saturating_duration_since(dropped_at));
        }
        assert!(
            slowest < PROMPT,
            "{backend:?}: a blocked sender returned {slowest:?} after the receiver went"
        );
        assert_eq!(tx.send(7), Err(SendError(7)), "{backend:?}");
        println!(
            "{backend:?}: {SENDERS} blocked senders all returned within {slowest:?} of the drop"
        );
    }
}

// --- Timeouts ----------------------------------------------------------------------------

const TIMEOUT: Duration = Duration::from_millis(200);

/// Generous: on a loaded machine the waiting thread may not get a CPU for a while, and a
/// storm can keep it in its handler; a wait restarted or extended per `EINTR` would take far
/// longer than this.
fn late_bound(timeout: Duration) -> Duration {
    (timeout * 10).max(timeout + Duration::from_secs(1))
}

/// `send_timeout` / `send_deadline` on a channel that stays full: one attempt, timed.
fn timed_send_on_full(
    tx: &sigring::Sender<u32>,
    deadline_form: bool,
) -> (SendTimeoutError<u32>, Duration) {
    let start = Instant::now();
    let r = if deadline_form {
        tx.send_deadline(5, start + TIMEOUT)
    } else {
        tx.send_timeout(5, TIMEOUT)
    };
    (r.expect_err("sent into a full channel"), start.elapsed())
}

fn check_timeout(e: SendTimeoutError<u32>, elapsed: Duration, what: &str) {
    assert_eq!(e, SendTimeoutError::Timeout(5), "{what}");
    assert!(
        elapsed >= TIMEOUT,
        "{what}: returned early, after {elapsed:?}"
    );
    assert!(
        elapsed < late_bound(TIMEOUT),
        "{what}: {TIMEOUT:?} took {elapsed:?}"
    );
}

/// On a channel that stays full, `send_timeout` and `send_deadline` give the value back
/// as `Timeout` no earlier than the deadline, and not grossly later.
#[test]
fn send_timeout_on_a_full_channel_returns_the_value_at_the_deadline() {
    let _wd = watchdog(60, "send_timeout_on_a_full_channel");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(1, backend);
        tx.try_send(0).unwrap();
        for deadline_form in [false, true] {
            let what = format!("{backend:?} deadline={deadline_form}");
            let (e, elapsed) = timed_send_on_full(&tx, deadline_form);
            check_timeout(e, elapsed, &what);
            println!("{what}: {TIMEOUT:?} took {elapsed:?}");
        }
        // A deadline already past: Timeout at once, value back.
        assert_eq!(
            tx.send_deadline(6, Instant::now()),
            Err(SendTimeoutError::Timeout(6))
        );
        assert_eq!(
            tx.send_timeout(7, Duration::ZERO),
            Err(SendTimeoutError::Timeout(7))
        );
        // With room, the timed forms send at once.
        assert_eq!(rx.recv(), Ok(0));
        assert_eq!(tx.send_timeout(8, TIMEOUT), Ok(()));
        assert_eq!(rx.recv(), Ok(8));
        assert_eq!(
            rx.full_rejections(),
            0,
            "{backend:?}: a timed-out send is no rejection"
        );
    }
}

/// Under a storm of `EINTR` aimed at the blocked sender (a handler installed without
/// `SA_RESTART`), the deadline is neither cut short nor extended.
#[test]
#[cfg_attr(miri, ignore = "miri delivers no signals and has no POSIX timers")]
fn send_timeout_keeps_its_deadline_under_an_eintr_storm() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "send_timeout_keeps_its_deadline_under_an_eintr_storm");
    // The senders' wait is the same for both backends: one backend here.
    let sources = [
        StormSource::Kill,
        StormSource::Timer(Duration::from_micros(50)),
    ];
    for source in sources {
        for deadline_form in [false, true] {
            let what = format!("{source:?} deadline={deadline_form}");
            let (tx, rx) = build::<u32>(1, Backend::EventFd);
            tx.try_send(0).unwrap();
            let ((e, elapsed), runs) = under_eintr_storm(libc::SIGUSR2, source, move || {
                timed_send_on_full(&tx, deadline_form)
            });
            check_timeout(e, elapsed, &what);
            // Kill storms land rarely on a loaded machine (see `common::Storm`); the timer
            // lands thousands per second.
            let floor = match source {
                StormSource::Kill => 1,
                StormSource::Timer(_) => 100,
            };
            assert!(
                runs >= floor,
                "{what}: only {runs} handler runs on the waiting thread: no storm"
            );
            assert_eq!(rx.len(), 1, "{what}");
            println!("{what}: {TIMEOUT:?} took {elapsed:?} under {runs} interruptions");
        }
    }
}

/// Under the same storm, a sender blocked in `send` (no timeout) completes when a slot
/// frees mid-storm: the interruptions neither fail it nor lose its wake-up.
#[test]
#[cfg_attr(miri, ignore = "miri delivers no signals and has no POSIX timers")]
fn send_under_an_eintr_storm_completes_when_a_slot_frees() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "send_under_an_eintr_storm_completes");
    let (tx, rx) = build::<u32>(1, Backend::Pipe);
    tx.try_send(0).unwrap();
    let consumer = thread::spawn(move || {
        // Free the slot once the storm has really been interrupting the sender.
        let start = Instant::now();
        thread::sleep(Duration::from_millis(100));
        while eintr_storm_runs() < 100 && start.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(5));
        }
        let freed_at = Instant::now();
        assert_eq!(rx.recv(), Ok(0));
        let second = rx.recv_timeout(Duration::from_secs(20));
        (freed_at, second)
    });
    let ((r, returned_at), runs) = under_eintr_storm(
        libc::SIGUSR2,
        StormSource::Timer(Duration::from_micros(50)),
        move || (tx.send(9), Instant::now()),
    );
    let (freed_at, second) = consumer.join().unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(second, Ok(9));
    assert!(
        returned_at >= freed_at,
        "send returned before the slot freed"
    );
    assert!(runs >= 100, "only {runs} handler runs: no storm");
    println!(
        "send completed {:?} after the slot freed, under {runs} interruptions",
        returned_at - freed_at
    );
}

// --- CPU ---------------------------------------------------------------------------------

/// How long the sender stays blocked.
const BLOCKED: Duration = Duration::from_secs(1);
/// "Almost no CPU": the spin before sleeping costs microseconds; this is generous.
const BLOCKED_CPU_BOUND: Duration = Duration::from_millis(50);

/// A sender blocked in `send` for a second sleeps: its thread's CPU time stays tiny.
#[test]
#[cfg_attr(
    miri,
    ignore = "measures the thread's CPU time, which means nothing for an interpreter"
)]
fn a_blocked_sender_uses_no_cpu() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "a_blocked_sender_uses_no_cpu");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(1, backend);
        tx.try_send(0).unwrap();
        let blocked = block_in(move || {
            let cpu0 = thread_cpu_time();
            let r = tx.send(7);
            (r, thread_cpu_time() - cpu0)
        });
        thread::sleep(BLOCKED);
        assert!(
            !blocked.returned(),
            "{backend:?}: send returned on a full channel"
        );
        assert_eq!(rx.recv(), Ok(0));
        let ((r, cpu), _) = blocked.join();
        assert_eq!(r, Ok(()));
        assert_eq!(rx.recv(), Ok(7));
        assert!(
            cpu < BLOCKED_CPU_BOUND,
            "{backend:?}: the blocked sender used {cpu:?} of CPU in {BLOCKED:?}"
        );
        println!("{backend:?}: blocked {BLOCKED:?} in send, sender CPU {cpu:?}");
    }
}

// --- A signal handler beside blocked senders ---------------------------------------------

static HANDLER_FULL_EVENTFD: StaticChannel<u64, 2> = StaticChannel::new();
static HANDLER_FULL_PIPE: StaticChannel<u64, 2> = StaticChannel::new();
/// Which of the two the handler sends to: 0 the eventfd one, 1 the pipe one.
static WHICH: AtomicU8 = AtomicU8::new(0);
static H_RUNS: AtomicU64 = AtomicU64::new(0);
static H_OK: AtomicU64 = AtomicU64::new(0);
static H_FULL: AtomicU64 = AtomicU64::new(0);
static H_DISCONNECTED: AtomicU64 = AtomicU64::new(0);
/// The longest `try_send` the handler made, and all of them together, in nanoseconds.
static H_MAX_NANOS: AtomicU64 = AtomicU64::new(0);
static H_SUM_NANOS: AtomicU64 = AtomicU64::new(0);

fn monotonic_nanos() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; `clock_gettime` is async-signal-safe.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `try_send` on the static, timed and its outcome counted. All async-signal-safe.
extern "C" fn try_send_handler(_sig: libc::c_int) {
    H_RUNS.fetch_add(1, Ordering::SeqCst);
    let ch = if WHICH.load(Ordering::SeqCst) == 0 {
        &HANDLER_FULL_EVENTFD
    } else {
        &HANDLER_FULL_PIPE
    };
    let t0 = monotonic_nanos();
    let r = ch.try_send(u64::MAX);
    let took = monotonic_nanos() - t0;
    H_MAX_NANOS.fetch_max(took, Ordering::SeqCst);
    H_SUM_NANOS.fetch_add(took, Ordering::SeqCst);
    let counter = match r {
        Ok(()) => &H_OK,
        Err(TrySendError::Full(_)) => &H_FULL,
        Err(TrySendError::Disconnected(_)) => &H_DISCONNECTED,
    };
    counter.fetch_add(1, Ordering::SeqCst);
}

/// Four threads blocked in `send` on a full static (two through the static, two through
/// `sender()` handles); a signal handler's `try_send` on it returns `Full` at once, every
/// time, and never takes a blocked sender's place. Then draining lets all four through.
#[test]
#[cfg_attr(miri, ignore = "raises a signal; miri delivers none")]
fn a_handler_try_send_beside_blocked_senders_returns_full_at_once() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "a_handler_try_send_beside_blocked_senders");
    const SENDERS: u64 = 4;
    const RAISES: u64 = 100;
    for (which, ch, backend) in [
        (0, &HANDLER_FULL_EVENTFD, Backend::EventFd),
        (1, &HANDLER_FULL_PIPE, Backend::Pipe),
    ] {
        for c in [
            &H_RUNS,
            &H_OK,
            &H_FULL,
            &H_DISCONNECTED,
            &H_MAX_NANOS,
            &H_SUM_NANOS,
        ] {
            c.store(0, Ordering::SeqCst);
        }
        WHICH.store(which, Ordering::SeqCst);
        let rx = ch.receiver_with(backend).unwrap();
        ch.try_send(0).unwrap();
        ch.try_send(1).unwrap();
        let blocked: Vec<_> = (0..SENDERS)
            .map(|k| {
                block_in(move || {
                    if k % 2 == 0 {
                        ch.send(100 + k)
                    } else {
                        ch.sender().send(100 + k)
                    }
                })
            })
            .collect();

        let _handler = install_handler(libc::SIGUSR1, try_send_handler, true);
        for _ in 0..RAISES {
            // `raise` in a multithreaded process signals this thread, which has the signal
            // unblocked: the handler has run when it returns. If the handler waited for
            // room it would never return (this thread is the one that drains), and the
            // watchdog would end the test.
            // SAFETY: raising a signal that has a handler installed.
            assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
        }
        assert_eq!(H_RUNS.load(Ordering::SeqCst), RAISES, "{backend:?}");
        assert_eq!(
            H_FULL.load(Ordering::SeqCst),
            RAISES,
            "{backend:?}: ok {}, disconnected {}",
            H_OK.load(Ordering::SeqCst),
            H_DISCONNECTED.load(Ordering::SeqCst)
        );
        // Each takes microseconds. That the handlers returned at all shows they do not wait
        // for room; the bound on their total catches a bounded wait (100 waits of even
        // 10 ms), while leaving room for a few preemptions on a loaded machine.
        let slowest = Duration::from_nanos(H_MAX_NANOS.load(Ordering::SeqCst));
        let total = Duration::from_nanos(H_SUM_NANOS.load(Ordering::SeqCst));
        assert!(
            total < Duration::from_secs(1),
            "{backend:?}: {RAISES} handler try_sends took {total:?} (the slowest {slowest:?})"
        );
        assert_eq!(rx.full_rejections(), RAISES, "{backend:?}");
        assert!(blocked.iter().all(|b| !b.returned()), "{backend:?}");

        // Drain: the two queued values, then the four blocked senders' (in any order).
        assert_eq!(rx.recv(), Ok(0), "{backend:?}");
        assert_eq!(rx.recv(), Ok(1), "{backend:?}");
        let mut got = BTreeSet::new();
        for _ in 0..SENDERS {
            let v = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{backend:?}: a blocked sender's value: {e}"));
            assert!(got.insert(v), "{backend:?}: {v} twice");
        }
        assert_eq!(got, (100..100 + SENDERS).collect(), "{backend:?}");
        for b in blocked {
            assert_eq!(b.join().0, Ok(()), "{backend:?}");
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{backend:?}");
        println!(
            "{backend:?}: {RAISES} handler try_sends beside {SENDERS} blocked senders: all \
             Full, {total:?} in all, the slowest {slowest:?}"
        );
    }
}

// --- StaticChannel::send -----------------------------------------------------------------

static SEND_BEFORE: StaticChannel<u32, 1> = StaticChannel::new();
static SEND_STATIC: StaticChannel<u32, 1> = StaticChannel::new();

/// `StaticChannel::send` and its timed forms behave as `Sender`'s: they wait for room
/// (also before the receiver exists), time out with the value, and get it back when the
/// receiver goes.
#[test]
fn static_channel_send_waits_times_out_and_disconnects_like_sender() {
    let _wd = watchdog(60, "static_channel_send_waits_times_out_and_disconnects");
    // Blocked before the receiver exists; its first receive lets the sender in.
    SEND_BEFORE.try_send(0).unwrap();
    let blocked = block_in(|| SEND_BEFORE.send(1));
    let rx = SEND_BEFORE.receiver().unwrap();
    assert!(!blocked.returned(), "send returned on a full channel");
    assert_eq!(rx.recv(), Ok(0));
    assert_eq!(blocked.join().0, Ok(()));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));

    let ch = &SEND_STATIC;
    let rx = ch.receiver().unwrap();
    assert_eq!(ch.send(0), Ok(()));
    let start = Instant::now();
    assert_eq!(
        ch.send_timeout(1, TIMEOUT),
        Err(SendTimeoutError::Timeout(1))
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= TIMEOUT && elapsed < late_bound(TIMEOUT),
        "{elapsed:?}"
    );
    assert_eq!(
        ch.send_deadline(2, Instant::now()),
        Err(SendTimeoutError::Timeout(2))
    );
    let blocked = block_in(|| SEND_STATIC.send(3));
    assert_eq!(rx.recv(), Ok(0));
    assert_eq!(blocked.join().0, Ok(()));
    assert_eq!(rx.recv(), Ok(3));
    assert_eq!(rx.full_rejections(), 0);

    // Full again, one more blocked; then the receiver goes.
    ch.send(4).unwrap();
    let blocked = block_in(|| SEND_STATIC.send(5));
    let dropped_at = Instant::now();
    drop(rx);
    let (r, returned_at) = blocked.join();
    assert_eq!(r, Err(SendError(5)));
    assert!(returned_at - dropped_at < PROMPT);
    assert_eq!(ch.send(6), Err(SendError(6)));
    assert_eq!(
        ch.send_timeout(7, TIMEOUT),
        Err(SendTimeoutError::Disconnected(7))
    );
}
