//! The shared channel (`sigring::shared`) with real processes: forked workers send from a
//! loop and from a signal handler stormed by a timer; workers killed with SIGKILL in the
//! middle of it; a worker that writes random bytes over the mapping.
//!
//! Children report only through the channel and their exit code, and leave with `_exit`.
//! The tests are serialized (`LOCK`): one set of workers at a time. Run with
//! `--nocapture` to see the counts.
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use common::{gettid, install_handler, serial, watchdog, ThreadTimer};
use sigring::shared::{self, Sender};
use sigring::{RecvTimeoutError, TrySendError};

static LOCK: Mutex<()> = Mutex::new(());

/// What workers send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
struct Msg {
    worker: u32,
    kind: u32,
    seq: u32,
    /// For `DONE`: handler sends accepted; otherwise 0.
    extra: u32,
}

const LOOP: u32 = 1;
const HANDLER: u32 = 2;
/// The last message of a worker: `seq` = handler attempts, `extra` = handler rejections.
const DONE: u32 = 3;

/// The worker's sender, for its signal handler (set in the child before the timer starts).
static TX: AtomicPtr<Sender<Msg>> = AtomicPtr::new(std::ptr::null_mut());
/// The child's worker number, its handler's attempts and rejections.
static WORKER: AtomicU32 = AtomicU32::new(0);
static H_TRIED: AtomicU32 = AtomicU32::new(0);
static H_FULL: AtomicU64 = AtomicU64::new(0);

/// The storm's handler: one `try_send`, nothing else.
extern "C" fn on_tick(_: libc::c_int) {
    // SAFETY: set before the timer starts, never freed in the child.
    let Some(tx) = (unsafe { TX.load(Ordering::Relaxed).as_ref() }) else {
        return;
    };
    let seq = H_TRIED.fetch_add(1, Ordering::Relaxed);
    let msg = Msg {
        worker: WORKER.load(Ordering::Relaxed),
        kind: HANDLER,
        seq,
        extra: 0,
    };
    if tx.try_send(msg).is_err() {
        H_FULL.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends `msg` from ordinary code, retrying while full. Returns false if disconnected.
fn send_retry(tx: &Sender<Msg>, msg: Msg) -> bool {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return true,
            Err(TrySendError::Full(_)) => std::thread::yield_now(),
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

/// Forks a worker that sends `count` loop values (and, with `storm`, handler values from a
/// SIGUSR1 timer every 50 us), then `DONE`, and exits 0. Returns its pid.
fn spawn_worker(tx: &Sender<Msg>, worker: u32, count: u32, storm: bool) -> libc::pid_t {
    // SAFETY: the child only makes async-signal-safe calls and sigring sends (atomics and
    // `write`), plus `sigaction`/`timer_create`, and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid > 0 {
        return pid;
    }
    WORKER.store(worker, Ordering::Relaxed);
    H_TRIED.store(0, Ordering::Relaxed);
    H_FULL.store(0, Ordering::Relaxed);
    let tx = Box::leak(Box::new(tx.clone()));
    TX.store(tx, Ordering::Relaxed);
    let mut _guard = None;
    let mut _timer = None;
    if storm {
        _guard = Some(install_handler(libc::SIGUSR1, on_tick, true));
        _timer = Some(ThreadTimer::start(
            gettid(),
            libc::SIGUSR1,
            Duration::from_micros(50),
        ));
    }
    for seq in 0..count {
        let msg = Msg {
            worker,
            kind: LOOP,
            seq,
            extra: 0,
        };
        if !send_retry(tx, msg) {
            // SAFETY: leaving the child.
            unsafe { libc::_exit(2) };
        }
    }
    drop(_timer.take());
    // Let a signal already pending land before the counts are read.
    std::thread::sleep(Duration::from_millis(1));
    let tried = H_TRIED.load(Ordering::Relaxed);
    let full = H_FULL.load(Ordering::Relaxed) as u32;
    send_retry(
        tx,
        Msg {
            worker,
            kind: DONE,
            seq: tried,
            extra: full,
        },
    );
    // SAFETY: leaving the child without running the parent's atexit handlers.
    unsafe { libc::_exit(0) }
}

/// Waits for `pid` and returns its wait status.
fn reap(pid: libc::pid_t) -> libc::c_int {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", std::io::Error::last_os_error());
    status
}

/// What one worker was seen to send.
#[derive(Default, Debug)]
struct Seen {
    next_loop: u32,
    last_handler: Option<u32>,
    handler: u32,
    done: Option<(u32, u32)>,
}

impl Seen {
    /// Checks order: loop values exactly `0, 1, 2...`, handler values increasing.
    fn take(&mut self, msg: Msg) {
        match msg.kind {
            LOOP => {
                assert_eq!(msg.seq, self.next_loop, "worker {} loop order", msg.worker);
                self.next_loop += 1;
            }
            HANDLER => {
                if let Some(last) = self.last_handler {
                    assert!(msg.seq > last, "worker {} handler order", msg.worker);
                }
                self.last_handler = Some(msg.seq);
                self.handler += 1;
            }
            DONE => self.done = Some((msg.seq, msg.extra)),
            other => panic!("kind {other}"),
        }
    }
}

#[test]
fn in_process_send_and_receive() {
    let (tx, rx) = shared::Builder::new(4).lanes(2).build::<u64>().unwrap();
    assert_eq!((tx.capacity(), tx.lanes(), rx.capacity()), (4, 2, 4));
    for i in 0..4 {
        tx.try_send(i).unwrap();
    }
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert_eq!(rx.len(), 4);
    assert_eq!(rx.full_rejections(), 1);
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
    assert!(!rx.is_disconnected());
    drop(rx);
    assert!(matches!(
        tx.try_send(5),
        Err(TrySendError::Disconnected(5))
    ));
}

#[test]
fn bad_sizes_are_errors() {
    use std::io::ErrorKind::InvalidInput;
    assert_eq!(shared::channel::<u64>(0).unwrap_err().kind(), InvalidInput);
    assert_eq!(
        shared::Builder::new(4).lanes(0).build::<u64>().unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        shared::Builder::new(4).lanes(1 << 20).build::<u64>().unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        shared::Builder::new(usize::MAX / 2).build::<u64>().unwrap_err().kind(),
        InvalidInput
    );
}

/// 8 workers x 100 000 loop values, each stormed by a 20 kHz timer whose handler also
/// sends: every value received exactly once, in each worker's order; handler values
/// received + rejected == attempted.
#[test]
fn eight_workers_with_handler_storms() {
    let _lock = serial(&LOCK);
    let _dog = watchdog(120, "eight_workers_with_handler_storms");
    const WORKERS: u32 = 8;
    const COUNT: u32 = 100_000;
    let (tx, rx) = shared::Builder::new(1024).lanes(16).build::<Msg>().unwrap();
    let pids: Vec<_> = (0..WORKERS)
        .map(|w| spawn_worker(&tx, w, COUNT, true))
        .collect();
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    let mut done = 0;
    let start = Instant::now();
    while done < WORKERS {
        let msg = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a value within 30 s");
        let s = seen.entry(msg.worker).or_default();
        s.take(msg);
        if msg.kind == DONE {
            done += 1;
        }
    }
    let elapsed = start.elapsed();
    for pid in pids {
        assert_eq!(reap(pid), 0, "worker exit status");
    }
    assert_eq!(rx.try_recv().ok(), None);
    let mut handler_total = 0;
    for w in 0..WORKERS {
        let s = &seen[&w];
        assert_eq!(s.next_loop, COUNT, "worker {w}");
        let (tried, full) = s.done.unwrap();
        assert_eq!(s.handler + full, tried, "worker {w} handler accounting");
        handler_total += s.handler;
    }
    assert_eq!(rx.lost(), 0);
    println!(
        "{} loop + {handler_total} handler values from {WORKERS} processes in {elapsed:?}; \
         full rejections {}",
        WORKERS * COUNT,
        rx.full_rejections()
    );
}
