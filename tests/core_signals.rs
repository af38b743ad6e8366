//! Real signals, at well over 10 kHz, whose handlers push into the channel:
//!
//! * aimed at a thread that is itself in a tight `try_send` loop on the same channel;
//! * aimed at the consumer while it sleeps in `recv` / `recv_timeout`;
//! * `errno` is unchanged across a `try_send` in a handler, including when the wake-up
//!   `write(2)` fails (`EAGAIN` on a saturated eventfd or a full pipe).
//!
//! Checked: no deadlock (watchdog), per-source order (every value is tagged with its
//! source and a per-source sequence number), `received + rejected == attempted` per source,
//! and `full_rejections()` equal to the rejections the pushers counted.
//!
//! Handlers are installed with `libc::sigaction` directly; every test holds `LOCK`.
#![cfg(target_os = "linux")]

mod common;

use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    build, current_pthread, errno, fds_opened_by, gettid, install_handler, serial, set_errno,
    watchdog, Storm, ThreadTimer, BACKENDS,
};
use sigring::{Backend, Receiver, RecvTimeoutError, Sender, TrySendError};

static LOCK: Mutex<()> = Mutex::new(());

const SIG: libc::c_int = libc::SIGUSR1;
/// Each storm lasts at least `STORM_MIN`, then until the handler ran `STORM_RUNS` times
/// or `STORM_MAX` passed. How many signals reach a thread depends on the machine's load
/// (standard signals do not queue: a send to a thread that has one pending is merged), so
/// the length adapts, and only a low floor of handler runs is asserted.
const STORM_MIN: Duration = Duration::from_millis(300);
const STORM_MAX: Duration = Duration::from_secs(2);
const STORM_RUNS: u64 = 5_000;
/// Fewer handler runs than this means the storm did not reach the thread.
///
/// The timer delivers thousands per second even on a loaded machine, so its floor is
/// what makes these tests meaningful. A `pthread_kill` storm sends several 100 000 per
/// second, but what reaches the target is bounded by how often the target gets a CPU while
/// one is pending: on this 2-core VM, with other builds running (load 5-12), that fell
/// from thousands to a handful of handler runs per second. The kill storms therefore only
/// have to land at all; their rates are printed.
const MIN_RUNS_TIMER: u64 = 200;
const MIN_RUNS_KILL: u64 = 1;
/// Timer periods: 50 kHz at a spinning thread; 12.5 kHz at the consumer, which must get
/// some sleep in between for the test to cover signals landing in `poll` (at 50 kHz its own
/// handler's pushes keep it from ever sleeping).
const FAST: Source = Source::Timer(Duration::from_micros(20));
const SLOWER: Source = Source::Timer(Duration::from_micros(80));

// --- Values: a source tag in the top byte, a per-source sequence number below. ----------

const SRC_THREAD: u64 = 1;
const SRC_HANDLER: u64 = 2;
const SEQ_MASK: u64 = (1 << 56) - 1;

fn tag(src: u64, seq: u64) -> u64 {
    src << 56 | seq
}

/// Per-source order and counts, as seen by the consumer.
#[derive(Default, Debug)]
struct Seen {
    /// Received count per source (index = tag).
    count: [u64; 3],
    /// The next sequence number must be at least this (gaps are rejected sends).
    min_next: [u64; 3],
}

impl Seen {
    fn take(&mut self, v: u64) {
        let src = (v >> 56) as usize;
        let seq = v & SEQ_MASK;
        assert!(src == 1 || src == 2, "garbage value {v:#x}");
        assert!(
            seq >= self.min_next[src],
            "source {src} out of order: {seq} after {}",
            self.min_next[src] as i64 - 1
        );
        self.min_next[src] = seq + 1;
        self.count[src] += 1;
    }
}

// --- The handler's view of the channel. -------------------------------------------------

/// The sender the handler pushes with; null when none.
static SLOT: AtomicPtr<Sender<u64>> = AtomicPtr::new(ptr::null_mut());
/// Handlers currently between loading `SLOT` and finishing with it.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The thread signals are aimed at; handler runs elsewhere are counted as foreign.
static TARGET_TID: AtomicI32 = AtomicI32::new(0);
/// Set by the target around the region we want signals to interrupt.
static IN_REGION: AtomicBool = AtomicBool::new(false);

static H_RUNS: AtomicU64 = AtomicU64::new(0);
static H_FOREIGN: AtomicU64 = AtomicU64::new(0);
static H_IN_REGION: AtomicU64 = AtomicU64::new(0);
static H_ATTEMPTED: AtomicU64 = AtomicU64::new(0);
static H_REJECTED: AtomicU64 = AtomicU64::new(0);
static H_DISCONNECTED: AtomicU64 = AtomicU64::new(0);

fn reset_handler_state() {
    for c in [
        &H_RUNS,
        &H_FOREIGN,
        &H_IN_REGION,
        &H_ATTEMPTED,
        &H_REJECTED,
        &H_DISCONNECTED,
    ] {
        c.store(0, Ordering::SeqCst);
    }
    IN_REGION.store(false, Ordering::SeqCst);
}

/// Hands a sender to the handler.
fn publish(tx: Sender<u64>) {
    let old = SLOT.swap(Box::into_raw(Box::new(tx)), Ordering::SeqCst);
    assert!(old.is_null());
}

/// Takes the sender back from the handler, waiting for any handler still using it.
fn retract() -> Sender<u64> {
    let p = SLOT.swap(ptr::null_mut(), Ordering::SeqCst);
    assert!(!p.is_null());
    // A handler that loaded `p` incremented ACTIVE before (SeqCst), so we see it here.
    while ACTIVE.load(Ordering::SeqCst) != 0 {
        std::hint::spin_loop();
    }
    // SAFETY: `p` came from `Box::into_raw` in `publish`; no handler holds it any more.
    *unsafe { Box::from_raw(p) }
}

/// The pushing handler. It deliberately does not save or restore `errno` itself: the
/// `errno` tests check that `try_send` does.
extern "C" fn push_handler(_sig: libc::c_int) {
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    let p = SLOT.load(Ordering::SeqCst);
    if !p.is_null() {
        H_RUNS.fetch_add(1, Ordering::Relaxed);
        if gettid() != TARGET_TID.load(Ordering::Relaxed) {
            H_FOREIGN.fetch_add(1, Ordering::Relaxed);
        }
        if IN_REGION.load(Ordering::Relaxed) {
            H_IN_REGION.fetch_add(1, Ordering::Relaxed);
        }
        // The handler runs on one thread with its own signal blocked: not reentered, so
        // a load + store sequence counter is enough.
        let seq = H_ATTEMPTED.load(Ordering::Relaxed);
        H_ATTEMPTED.store(seq + 1, Ordering::Relaxed);
        // SAFETY: `p` stays valid until `retract` sees ACTIVE at 0.
        match unsafe { &*p }.try_send(tag(SRC_HANDLER, seq)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                H_REJECTED.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                H_DISCONNECTED.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    ACTIVE.fetch_sub(1, Ordering::SeqCst);
}

/// Checks the handler-side numbers after a storm and returns how many times it ran.
fn check_handler(seen: &Seen, source: Source, what: &str) -> u64 {
    let min_runs = match source {
        Source::Kill => MIN_RUNS_KILL,
        Source::Timer(_) => MIN_RUNS_TIMER,
    };
    let runs = H_RUNS.load(Ordering::SeqCst);
    let attempted = H_ATTEMPTED.load(Ordering::SeqCst);
    let rejected = H_REJECTED.load(Ordering::SeqCst);
    assert_eq!(
        H_FOREIGN.load(Ordering::SeqCst),
        0,
        "{what}: handler ran elsewhere"
    );
    assert_eq!(H_DISCONNECTED.load(Ordering::SeqCst), 0, "{what}");
    assert_eq!(runs, attempted, "{what}");
    assert_eq!(
        seen.count[SRC_HANDLER as usize] + rejected,
        attempted,
        "{what}: handler: received + rejected != attempted"
    );
    assert!(
        runs >= min_runs,
        "{what}: only {runs} handler runs; the storm did not reach the thread"
    );
    runs
}

/// Which kind of signal source drives a storm.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// `pthread_kill` in a tight loop from a helper thread (several 100 000 sends/s).
    Kill,
    /// A POSIX timer with this period delivering to the thread (`SIGEV_THREAD_ID`).
    Timer(Duration),
}

/// Fires `SIG` at the thread (`target`, `tid`) from `source` for the storm's length (see
/// [`STORM_MIN`]). Returns how long it lasted and how many signals were sent (the timer's
/// count is computed from its period).
fn run_storm(source: Source, target: libc::pthread_t, tid: libc::pid_t) -> (Duration, u64) {
    let start = Instant::now();
    let wait = || {
        while start.elapsed() < STORM_MIN
            || (start.elapsed() < STORM_MAX && H_RUNS.load(Ordering::Relaxed) < STORM_RUNS)
        {
            thread::sleep(Duration::from_millis(10));
        }
        start.elapsed()
    };
    match source {
        Source::Kill => {
            let storm = Storm::start(target, SIG, Duration::ZERO);
            let elapsed = wait();
            (elapsed, storm.stop())
        }
        Source::Timer(period) => {
            let timer = ThreadTimer::start(tid, SIG, period);
            let elapsed = wait();
            drop(timer);
            (elapsed, (elapsed.as_nanos() / period.as_nanos()) as u64)
        }
    }
}

/// What a storm run measured, once [`storm_and_check`] has checked it.
struct Outcome {
    elapsed: Duration,
    sent: u64,
    attempted: u64,
    rejected: u64,
    runs: u64,
    inside: u64,
    rx: Receiver<u64>,
}

impl Outcome {
    /// One line for the test's output: what was sent, handled, and refused.
    fn summary(&self, region: &str) -> String {
        format!(
            "{} signals sent, {} handled ({:.0}/s), {} inside {region}; thread {} attempted / \
             {} full; handler {} full",
            self.sent,
            self.runs,
            self.runs as f64 / self.elapsed.as_secs_f64(),
            self.inside,
            self.attempted,
            self.rejected,
            H_REJECTED.load(Ordering::SeqCst)
        )
    }
}

/// Runs the storm at `target`, stops the thread `pusher` (which returns how many values it
/// attempted and how many were refused), disconnects, and checks the accounting: every
/// value the thread attempted was received or refused, the handler's values are all there
/// (see `check_handler`), `dropped()` counts every refusal, and a signal landed inside
/// `region` (the code the storm is aimed at) unless a kill storm landed too few times.
#[allow(clippy::too_many_arguments)]
fn storm_and_check(
    what: &str,
    region: &str,
    source: Source,
    (target, tid): (libc::pthread_t, libc::pid_t),
    stop: std::sync::Arc<AtomicBool>,
    pusher: thread::JoinHandle<(u64, u64)>,
    tx: Sender<u64>,
    consumer: thread::JoinHandle<(Seen, Receiver<u64>)>,
) -> Outcome {
    let (elapsed, sent) = run_storm(source, target, tid);
    stop.store(true, Ordering::Relaxed);
    let (attempted, rejected) = pusher.join().unwrap();
    drop(retract());
    drop(tx);
    let (seen, rx) = consumer.join().unwrap();

    assert_eq!(
        seen.count[SRC_THREAD as usize] + rejected,
        attempted,
        "{what}: thread: received + rejected != attempted"
    );
    let runs = check_handler(&seen, source, what);
    assert_eq!(
        rx.full_rejections(),
        rejected + H_REJECTED.load(Ordering::SeqCst),
        "{what}: dropped() != the rejections the pushers saw"
    );
    let inside = H_IN_REGION.load(Ordering::SeqCst);
    // (A kill storm that landed only a few times may have missed the region.)
    if matches!(source, Source::Timer(_)) || runs >= 50 {
        assert!(inside > 0, "{what}: no signal landed inside {region}");
    }
    Outcome {
        elapsed,
        sent,
        attempted,
        rejected,
        runs,
        inside,
        rx,
    }
}

/// (a) Signals at a thread in a tight `try_send` loop; the handler `try_send`s into the
/// same channel, so it interrupts `try_send` at every point, including between a claim
/// and its publish.
#[test]
fn signals_at_a_thread_in_a_tight_try_send_loop() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "signals_at_a_thread_in_a_tight_try_send_loop");
    for backend in BACKENDS {
        // Both capacities and both sources, split over the two backends to save time.
        let cases = match backend {
            Backend::EventFd => [(4, Source::Kill), (256, FAST)],
            _ => [(256, Source::Kill), (4, FAST)],
        };
        for (cap, source) in cases {
            let what = format!("{backend:?} cap {cap} {source:?}");
            reset_handler_state();
            let (tx, rx) = build::<u64>(cap, backend);
            let _handler = install_handler(SIG, push_handler, true);
            publish(tx.clone());

            let consumer = thread::spawn(move || {
                let mut seen = Seen::default();
                for v in rx.iter() {
                    seen.take(v);
                }
                (seen, rx)
            });

            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let (id_tx, id_rx) = mpsc::channel();
            let pusher = {
                let tx = tx.clone();
                let stop = stop.clone();
                thread::spawn(move || {
                    TARGET_TID.store(gettid(), Ordering::SeqCst);
                    id_tx.send((current_pthread(), gettid())).unwrap();
                    let (mut attempted, mut rejected) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        IN_REGION.store(true, Ordering::Relaxed);
                        let r = tx.try_send(tag(SRC_THREAD, attempted));
                        IN_REGION.store(false, Ordering::Relaxed);
                        attempted += 1;
                        match r {
                            Ok(()) => {}
                            Err(TrySendError::Full(_)) => rejected += 1,
                            Err(TrySendError::Disconnected(_)) => panic!("receiver gone"),
                        }
                    }
                    (attempted, rejected)
                })
            };
            let (target, tid) = id_rx.recv().unwrap();
            let o = storm_and_check(
                &what,
                "try_send",
                source,
                (target, tid),
                stop,
                pusher,
                tx,
                consumer,
            );
            println!("{what}: {}", o.summary("try_send"));
        }
    }
}

/// (b) Signals at the consumer while it sleeps in `recv` / `recv_timeout`; the handler
/// pushes into the channel the consumer is waiting on. A producer thread sends slowly, so
/// the consumer spends its time asleep.
#[test]
fn signals_at_the_consumer_blocked_in_recv() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "signals_at_the_consumer_blocked_in_recv");
    for backend in BACKENDS {
        for source in [Source::Kill, SLOWER] {
            let what = format!("{backend:?} {source:?}");
            reset_handler_state();
            let (tx, rx) = build::<u64>(16, backend);
            let _handler = install_handler(SIG, push_handler, true);
            publish(tx.clone());

            let (id_tx, id_rx) = mpsc::channel();
            let consumer = thread::spawn(move || {
                TARGET_TID.store(gettid(), Ordering::SeqCst);
                id_tx.send((current_pthread(), gettid())).unwrap();
                let mut seen = Seen::default();
                let mut i = 0u64;
                loop {
                    i += 1;
                    IN_REGION.store(true, Ordering::Relaxed);
                    let r = if i % 2 == 0 {
                        rx.recv().map_err(|_| RecvTimeoutError::Disconnected)
                    } else {
                        rx.recv_timeout(Duration::from_millis(3))
                    };
                    IN_REGION.store(false, Ordering::Relaxed);
                    match r {
                        Ok(v) => seen.take(v),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                (seen, rx)
            });
            let (target, tid) = id_rx.recv().unwrap();

            let stop = std::sync::Arc::new(AtomicBool::new(false));
            let producer = {
                let tx = tx.clone();
                let stop = stop.clone();
                thread::spawn(move || {
                    let (mut attempted, mut rejected) = (0u64, 0u64);
                    while !stop.load(Ordering::Relaxed) {
                        if tx.try_send(tag(SRC_THREAD, attempted)).is_err() {
                            rejected += 1;
                        }
                        attempted += 1;
                        thread::sleep(Duration::from_micros(300));
                    }
                    (attempted, rejected)
                })
            };

            let o = storm_and_check(
                &what,
                "recv",
                source,
                (target, tid),
                stop,
                producer,
                tx,
                consumer,
            );
            // With the timer the consumer sleeps between signals, and each signal's push
            // wakes it through the fd. (Under a heavily loaded machine the kill storm's
            // consumer may find every value while still in its spin phase.)
            if let Source::Timer(_) = source {
                assert!(o.rx.wakeups() > 0, "{what}: the consumer never slept");
            }
            println!("{what}: {}; {} wake-ups", o.summary("recv"), o.rx.wakeups());
        }
    }
}

// --- errno ------------------------------------------------------------------------------

/// A value no syscall sets.
const SENTINEL: libc::c_int = 0x5eed;

/// Builds a channel and finds its pipe write end, if the backend has one.
fn build_with_write_end(backend: Backend) -> (Sender<u64>, Receiver<u64>, Option<i32>) {
    let ((tx, rx), fds) = fds_opened_by(|| build::<u64>(16, backend));
    let write_end = match backend {
        Backend::Pipe => {
            assert_eq!(fds.len(), 2, "a pipe is two fds: {fds:?}");
            let w = fds.into_iter().find(|&fd| fd != rx.as_raw_fd()).unwrap();
            // SAFETY: F_GETFL on an open fd we just found.
            let fl = unsafe { libc::fcntl(w, libc::F_GETFL) };
            assert_eq!(
                fl & libc::O_ACCMODE,
                libc::O_WRONLY,
                "fd {w} is not the write end"
            );
            // A one-page pipe fills quickly. SAFETY: fcntl on an open pipe fd.
            unsafe { libc::fcntl(w, libc::F_SETPIPE_SZ, 4096) };
            Some(w)
        }
        _ => {
            assert_eq!(fds, [rx.as_raw_fd()], "an eventfd is one fd");
            None
        }
    };
    (tx, rx, write_end)
}

/// Makes the next token write fail with `EAGAIN`: saturates the eventfd counter or fills
/// the pipe. (This breaks the "one token" invariant on purpose; the channel stays usable,
/// the fd just stays readable.) Returns whether a probe write now fails with `EAGAIN`.
fn saturate(rx: &Receiver<u64>, write_end: Option<i32>) -> bool {
    let fd = write_end.unwrap_or(rx.as_raw_fd());
    let chunk = [0u8; 4096];
    // SAFETY: writes from valid buffers to an open non-blocking fd.
    unsafe {
        if write_end.is_none() {
            let max = (u64::MAX - 1).to_ne_bytes();
            libc::write(fd, max.as_ptr().cast(), 8);
        } else {
            while libc::write(fd, chunk.as_ptr().cast(), chunk.len()) > 0 {}
        }
        let one = 1u64.to_ne_bytes();
        let probe = if write_end.is_none() { 8 } else { 1 };
        libc::write(fd, one.as_ptr().cast(), probe) == -1 && errno() == libc::EAGAIN
    }
}

static ERRNO_IN_HANDLER: AtomicI32 = AtomicI32::new(0);

/// Sets `errno`, pushes through `SLOT`, and records `errno` afterwards.
extern "C" fn errno_handler(_sig: libc::c_int) {
    let p = SLOT.load(Ordering::SeqCst);
    set_errno(SENTINEL);
    if !p.is_null() {
        // SAFETY: the test keeps the sender published while it raises the signal.
        let _ = unsafe { &*p }.try_send(7);
    }
    ERRNO_IN_HANDLER.store(errno(), Ordering::SeqCst);
}

/// Directly: inside a handler, set `errno`, `try_send` into a channel whose consumer is
/// armed, so the push writes the fd, and check `errno` after. Once with a write that
/// succeeds and once with one that fails with `EAGAIN`.
#[test]
fn errno_unchanged_across_try_send_in_a_handler() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(30, "errno_unchanged_across_try_send_in_a_handler");
    let _handler = install_handler(libc::SIGUSR2, errno_handler, true);
    for backend in BACKENDS {
        let (tx, rx, write_end) = build_with_write_end(backend);
        publish(tx);
        for failing_write in [false, true] {
            assert!(rx.try_recv().is_err(), "drained: Empty arms the consumer");
            if failing_write {
                assert!(
                    saturate(&rx, write_end),
                    "{backend:?}: could not make the token write fail"
                );
            }
            let writes = rx.wake_writes();
            ERRNO_IN_HANDLER.store(0, Ordering::SeqCst);
            // A signal sent to oneself is delivered before pthread_kill returns.
            // SAFETY: our own thread is alive.
            let rc = unsafe { libc::pthread_kill(current_pthread(), libc::SIGUSR2) };
            assert_eq!(rc, 0);
            assert_eq!(
                rx.wake_writes(),
                writes + 1,
                "{backend:?}: the push in the handler should have written the fd"
            );
            assert_eq!(
                ERRNO_IN_HANDLER.load(Ordering::SeqCst),
                SENTINEL,
                "{backend:?} (failing write: {failing_write}): try_send changed errno"
            );
            assert_eq!(rx.try_recv(), Ok(7));
        }
        // And outside a handler, on an ordinary thread.
        assert!(rx.try_recv().is_err());
        assert!(saturate(&rx, write_end));
        let tx = retract();
        set_errno(SENTINEL);
        tx.try_send(8).unwrap();
        assert_eq!(errno(), SENTINEL, "{backend:?}: try_send changed errno");
        assert!(rx.wake_writes() >= 3);
        assert_eq!(rx.try_recv(), Ok(8));
    }
}

/// Under a storm: the interrupted code sets `errno` to a sentinel and keeps checking it,
/// while the handler pushes into a channel whose consumer keeps re-arming and saturating
/// the fd, so the handler's token writes fail with `EAGAIN` again and again.
#[test]
fn errno_unchanged_in_interrupted_code_under_a_storm() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "errno_unchanged_in_interrupted_code_under_a_storm");
    for backend in BACKENDS {
        let what = format!("{backend:?}");
        reset_handler_state();
        let (tx, rx, write_end) = build_with_write_end(backend);
        let _handler = install_handler(SIG, push_handler, true);
        publish(tx);

        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let consumer = {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut seen = Seen::default();
                let mut saturated = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    while let Ok(v) = rx.try_recv() {
                        seen.take(v);
                    }
                    // Empty: armed. Make the next wake-up write fail.
                    saturated += u64::from(saturate(&rx, write_end));
                    thread::sleep(Duration::from_micros(100));
                }
                (seen, rx, saturated)
            })
        };
        let (id_tx, id_rx) = mpsc::channel();
        let spinner = {
            let stop = stop.clone();
            thread::spawn(move || {
                TARGET_TID.store(gettid(), Ordering::SeqCst);
                id_tx.send((current_pthread(), gettid())).unwrap();
                let mut checks = 0u64;
                let mut changed = 0u64;
                let mut last_bad = 0;
                set_errno(SENTINEL);
                while !stop.load(Ordering::Relaxed) {
                    let e = errno();
                    if e != SENTINEL {
                        changed += 1;
                        last_bad = e;
                        set_errno(SENTINEL);
                    }
                    checks += 1;
                }
                (checks, changed, last_bad)
            })
        };
        let (target, tid) = id_rx.recv().unwrap();
        let (_, sent) = run_storm(FAST, target, tid);
        stop.store(true, Ordering::Relaxed);
        let (checks, changed, last_bad) = spinner.join().unwrap();
        drop(retract());
        let (mut seen, rx, saturated) = consumer.join().unwrap();
        for v in rx.try_iter() {
            seen.take(v);
        }

        assert_eq!(
            changed, 0,
            "{what}: errno changed {changed} times under the interrupted code (last {last_bad})"
        );
        let runs = check_handler(&seen, FAST, &what);
        let writes = rx.wake_writes();
        assert!(saturated > 0, "{what}: the fd was never saturated");
        assert!(writes > 0, "{what}: no handler push wrote the fd");
        println!(
            "{what}: {sent} signals sent, {runs} handled, {checks} errno checks, {writes} \
             token writes against {saturated} saturations"
        );
    }
}
