//! An idle consumer sleeps in the kernel: (almost) no CPU and no wake-ups while nothing
//! happens, and it wakes on one send. Timed receives keep their deadline under a storm of
//! `EINTR` from a handler installed without `SA_RESTART`.
#![cfg(target_os = "linux")]

mod common;

use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    build, current_pthread, gettid, install_handler, serial, thread_cpu_time, wait_until_sleeping,
    watchdog, Storm, ThreadTimer, BACKENDS,
};
use sigring::RecvTimeoutError;

/// CPU time and signal handlers are per process: one test at a time.
static LOCK: Mutex<()> = Mutex::new(());

/// How long the consumer idles.
const IDLE: Duration = Duration::from_secs(1);
/// "Almost no CPU": the spin-then-sleep phase costs microseconds; this is generous.
const IDLE_CPU_BOUND: Duration = Duration::from_millis(50);

/// What the consumer measured around one blocking receive.
struct Idle {
    value: u32,
    cpu: Duration,
    wakeups: u64,
    woke_at: Instant,
    wake_writes: u64,
}

fn idle_once(backend: sigring::Backend, timed: bool) {
    let (tx, rx) = build::<u32>(8, backend);
    let (ready_tx, ready_rx) = mpsc::channel();
    let consumer = thread::spawn(move || {
        ready_tx.send(gettid()).unwrap();
        let cpu0 = thread_cpu_time();
        let w0 = rx.wakeups();
        let value = if timed {
            rx.recv_timeout(Duration::from_secs(30)).unwrap()
        } else {
            rx.recv().unwrap()
        };
        let woke_at = Instant::now();
        Idle {
            value,
            cpu: thread_cpu_time() - cpu0,
            wakeups: rx.wakeups() - w0,
            woke_at,
            wake_writes: rx.wake_writes(),
        }
    });
    let tid = ready_rx.recv().unwrap();
    assert!(
        wait_until_sleeping(tid, Duration::from_secs(10)),
        "the consumer never went to sleep"
    );
    thread::sleep(IDLE);
    let sent_at = Instant::now();
    tx.try_send(7).unwrap();
    let idle = consumer.join().unwrap();
    let what = format!(
        "{backend:?} {}",
        if timed { "recv_timeout" } else { "recv" }
    );
    assert_eq!(idle.value, 7);
    assert!(
        idle.cpu < IDLE_CPU_BOUND,
        "{what}: the idle consumer used {:?} of CPU in {IDLE:?}",
        idle.cpu
    );
    assert_eq!(
        idle.wakeups, 1,
        "{what}: woken {} times; expected exactly once, by the send",
        idle.wakeups
    );
    assert_eq!(
        idle.wake_writes, 1,
        "{what}: one send to a sleeper is one write"
    );
    println!(
        "{what}: idle {IDLE:?}, consumer CPU {:?}, wake-ups {}, wake latency {:?}",
        idle.cpu,
        idle.wakeups,
        idle.woke_at.saturating_duration_since(sent_at)
    );
}

#[test]
fn idle_consumer_uses_no_cpu_and_wakes_on_one_send() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "idle_consumer_uses_no_cpu_and_wakes_on_one_send");
    for backend in BACKENDS {
        idle_once(backend, false);
        idle_once(backend, true);
    }
}

/// An idle consumer woken by the last sender going away, not by a value.
#[test]
fn idle_consumer_wakes_on_disconnect() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(30, "idle_consumer_wakes_on_disconnect");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(8, backend);
        let (ready_tx, ready_rx) = mpsc::channel();
        let consumer = thread::spawn(move || {
            ready_tx.send(gettid()).unwrap();
            let cpu0 = thread_cpu_time();
            let r = rx.recv();
            (r, thread_cpu_time() - cpu0, rx.wakeups())
        });
        let tid = ready_rx.recv().unwrap();
        assert!(wait_until_sleeping(tid, Duration::from_secs(10)));
        thread::sleep(Duration::from_millis(100));
        drop(tx);
        let (r, cpu, wakeups) = consumer.join().unwrap();
        assert!(r.is_err(), "{backend:?}");
        assert!(cpu < IDLE_CPU_BOUND, "{backend:?}: {cpu:?}");
        assert_eq!(wakeups, 1, "{backend:?}");
    }
}

// --- EINTR storm ------------------------------------------------------------------------

static TARGET_TID: AtomicI32 = AtomicI32::new(0);
static ON_TARGET: AtomicU64 = AtomicU64::new(0);
static ELSEWHERE: AtomicU64 = AtomicU64::new(0);

/// Counts its runs on the target thread (installed without `SA_RESTART`, so every run
/// makes the interrupted `poll` fail with `EINTR`).
extern "C" fn count_handler(_sig: libc::c_int) {
    if gettid() == TARGET_TID.load(Ordering::Relaxed) {
        ON_TARGET.fetch_add(1, Ordering::Relaxed);
    } else {
        ELSEWHERE.fetch_add(1, Ordering::Relaxed);
    }
}

/// How the storm is made.
#[derive(Clone, Copy, Debug)]
enum Source {
    Kill,
    Timer,
}

/// Runs `body` on a fresh thread under a storm of `SIGUSR2` aimed at that thread; returns
/// `body`'s result and the handler runs on that thread.
fn under_storm<R: Send + 'static>(
    source: Source,
    body: impl FnOnce() -> R + Send + 'static,
) -> (R, u64) {
    ON_TARGET.store(0, Ordering::SeqCst);
    ELSEWHERE.store(0, Ordering::SeqCst);
    let _handler = install_handler(libc::SIGUSR2, count_handler, false);
    let (id_tx, id_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        TARGET_TID.store(gettid(), Ordering::SeqCst);
        id_tx.send((current_pthread(), gettid())).unwrap();
        go_rx.recv().unwrap();
        body()
    });
    let (target, tid) = id_rx.recv().unwrap();
    let storm = match source {
        Source::Kill => (
            Some(Storm::start(target, libc::SIGUSR2, Duration::ZERO)),
            None,
        ),
        Source::Timer => (
            None,
            Some(ThreadTimer::start(
                tid,
                libc::SIGUSR2,
                Duration::from_micros(50),
            )),
        ),
    };
    go_tx.send(()).unwrap();
    // `pthread_kill` needs the target alive: stop the storm before joining. The thread
    // may have returned from `body` already; a signal it gets while exiting is counted.
    while !t.is_finished() {
        thread::sleep(Duration::from_millis(5));
    }
    drop(storm);
    let r = t.join().unwrap();
    assert_eq!(
        ELSEWHERE.load(Ordering::SeqCst),
        0,
        "the handler ran elsewhere"
    );
    (r, ON_TARGET.load(Ordering::SeqCst))
}

#[test]
fn recv_timeout_keeps_its_deadline_under_an_eintr_storm() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "recv_timeout_keeps_its_deadline_under_an_eintr_storm");
    for backend in BACKENDS {
        for source in [Source::Kill, Source::Timer] {
            for deadline_form in [false, true] {
                let what = format!("{backend:?} {source:?} deadline={deadline_form}");
                let (tx, rx) = build::<u32>(4, backend);
                let timeout = Duration::from_millis(300);
                let ((r, elapsed, wakeups), runs) = under_storm(source, move || {
                    let start = Instant::now();
                    let r = if deadline_form {
                        rx.recv_deadline(start + timeout)
                    } else {
                        rx.recv_timeout(timeout)
                    };
                    (r, start.elapsed(), rx.wakeups())
                });
                drop(tx);
                assert_eq!(wakeups, 0, "{what}: an EINTR is not a wake-up");
                assert_eq!(r, Err(RecvTimeoutError::Timeout), "{what}");
                assert!(
                    elapsed >= timeout,
                    "{what}: returned early, after {elapsed:?}"
                );
                // Generous: on a loaded machine the waiting thread may not get a CPU for a
                // while, and a storm can keep it in its handler; a wait extended per EINTR
                // would take far longer than this.
                let bound = (timeout * 10).max(timeout + Duration::from_secs(1));
                assert!(
                    elapsed < bound,
                    "{what}: the storm extended {timeout:?} to {elapsed:?}"
                );
                assert!(
                    runs >= 10,
                    "{what}: only {runs} handler runs on the waiting thread: no storm"
                );
                println!("{what}: {timeout:?} took {elapsed:?} under {runs} interruptions");
            }
        }
    }
}

/// Under the same storm, a value sent mid-wait is still received (no lost wake-up), and
/// `recv` (no timeout) neither fails nor returns early.
#[test]
fn recv_under_an_eintr_storm_gets_the_value() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "recv_under_an_eintr_storm_gets_the_value");
    for backend in BACKENDS {
        for timed in [false, true] {
            let what = format!("{backend:?} timed={timed}");
            let (tx, rx) = build::<u32>(4, backend);
            ON_TARGET.store(0, Ordering::SeqCst); // `under_storm` resets it too, before firing
            let sender = thread::spawn(move || {
                // Send once the storm has really been interrupting the waiting thread.
                let start = Instant::now();
                thread::sleep(Duration::from_millis(100));
                while ON_TARGET.load(Ordering::SeqCst) < 100
                    && start.elapsed() < Duration::from_secs(5)
                {
                    thread::sleep(Duration::from_millis(5));
                }
                let sent_at = Instant::now();
                tx.try_send(9).unwrap();
                (tx, sent_at)
            });
            let ((r, got_at, elapsed), runs) = under_storm(Source::Kill, move || {
                let start = Instant::now();
                let r = if timed {
                    rx.recv_timeout(Duration::from_secs(20)).ok()
                } else {
                    rx.recv().ok()
                };
                (r, Instant::now(), start.elapsed())
            });
            let (tx, sent_at) = sender.join().unwrap();
            drop(tx);
            assert_eq!(r, Some(9), "{what}");
            assert!(
                got_at >= sent_at,
                "{what}: returned before the value was sent"
            );
            assert!(runs >= 10, "{what}: only {runs} handler runs");
            println!("{what}: got the value after {elapsed:?} and {runs} interruptions");
        }
    }
}
