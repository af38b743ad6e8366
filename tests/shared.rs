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
    assert!(matches!(tx.try_send(5), Err(TrySendError::Disconnected(5))));
}

#[test]
fn bad_sizes_are_errors() {
    use std::io::ErrorKind::InvalidInput;
    assert_eq!(shared::channel::<u64>(0).unwrap_err().kind(), InvalidInput);
    assert_eq!(
        shared::Builder::new(4)
            .lanes(0)
            .build::<u64>()
            .unwrap_err()
            .kind(),
        InvalidInput
    );
    assert_eq!(
        shared::Builder::new(4)
            .lanes(1 << 20)
            .build::<u64>()
            .unwrap_err()
            .kind(),
        InvalidInput
    );
    assert_eq!(
        shared::Builder::new(usize::MAX / 2)
            .build::<u64>()
            .unwrap_err()
            .kind(),
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

/// A pseudo-random number generator good enough to pick kill times (xorshift).
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// The same 8 stormed workers, 4 of them killed with SIGKILL at random moments and
/// replaced by new workers (only 8 lanes: the replacements get the lanes of the dead once
/// the consumer has freed them). Every value a killed worker sent before its death
/// arrives (its loop values are exactly `0..k`), at most its in-flight sends (one from the
/// loop, one from the handler) are lost and counted, the survivors' and replacements'
/// values all arrive, and the consumer never goes quiet for long while others send.
#[test]
fn killed_workers_cost_only_their_unfinished_sends() {
    let _lock = serial(&LOCK);
    let _dog = watchdog(120, "killed_workers_cost_only_their_unfinished_sends");
    const COUNT: u32 = 100_000;
    let (tx, rx) = shared::Builder::new(256).lanes(8).build::<Msg>().unwrap();
    let mut pids: HashMap<u32, libc::pid_t> = (0..8)
        .map(|w| (w, spawn_worker(&tx, w, COUNT, true)))
        .collect();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ u64::from(std::process::id());
    let victims = [1u32, 3, 4, 6];
    // When each victim dies, counted in values received from anyone.
    let mut kill_at: Vec<(u32, u64)> = victims
        .iter()
        .map(|&w| (w, 1 + rng(&mut seed) % 150_000))
        .collect();
    kill_at.sort_by_key(|&(_, at)| at);
    let mut seen: HashMap<u32, Seen> = HashMap::new();
    let mut received = 0u64;
    let mut killed = Vec::new();
    let mut done = 0;
    let mut max_gap = Duration::ZERO;
    let mut last = Instant::now();
    // 4 survivors and 4 replacements send DONE.
    while done < 8 {
        if let Some(&(w, at)) = kill_at.first() {
            if received >= at {
                kill_at.remove(0);
                let pid = pids.remove(&w).unwrap();
                // SAFETY: killing our own child.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                assert_eq!(reap(pid) & 0x7f, libc::SIGKILL);
                killed.push(w);
                let replacement = 100 + w;
                pids.insert(replacement, spawn_worker(&tx, replacement, COUNT, true));
            }
        }
        let msg = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(msg) => msg,
            Err(e) => panic!("no value for 20 s ({e:?}); seen {seen:?}"),
        };
        let now = Instant::now();
        max_gap = max_gap.max(now - last);
        last = now;
        received += 1;
        seen.entry(msg.worker).or_default().take(msg);
        if msg.kind == DONE {
            done += 1;
        }
    }
    for (_, pid) in pids {
        assert_eq!(reap(pid), 0);
    }
    for (w, s) in &seen {
        if killed.contains(w) {
            assert!(s.done.is_none(), "killed worker {w} finished");
        } else {
            assert_eq!(s.next_loop, COUNT, "worker {w}");
            let (tried, full) = s.done.unwrap();
            assert_eq!(s.handler + full, tried, "worker {w} handler accounting");
        }
    }
    assert_eq!(killed.len(), 4);
    assert!(rx.lost() <= 2 * killed.len() as u64, "lost {}", rx.lost());
    assert!(
        max_gap < Duration::from_secs(2),
        "consumer quiet for {max_gap:?}"
    );
    println!(
        "{received} values; killed {killed:?} after {:?} loop values; lost {}; longest gap \
         between values {max_gap:?}",
        killed
            .iter()
            .map(|w| seen.get(w).map_or(0, |s| s.next_loop))
            .collect::<Vec<_>>(),
        rx.lost()
    );
}

/// A large value: copying it into the slot takes microseconds, so a kill at a random
/// moment usually lands between the claim and the publish.
#[derive(Clone, Copy, Pod, Zeroable)]
#[repr(C)]
struct Big {
    worker: u32,
    seq: u32,
    data: [[u8; 4096]; 8],
}

/// Workers that die in the middle of copying a value into their slot: each such slot is
/// skipped and counted (the documented bound: about 10 ms after the death, plus the
/// consumer's own polling; the measured times are printed), every value published before arrives, and the lane of the
/// dead worker is freed for the next one (2 lanes, workers one after another). The
/// killed worker is left unreaped until the end: a zombie counts as gone.
#[test]
fn a_send_cut_by_sigkill_is_skipped_within_the_bound() {
    let _lock = serial(&LOCK);
    let _dog = watchdog(120, "a_send_cut_by_sigkill_is_skipped_within_the_bound");
    let (tx, rx) = shared::Builder::new(64).lanes(2).build::<Big>().unwrap();
    let mut seed = 0x2545_f491_4f6c_dd1du64 ^ u64::from(std::process::id());
    let mut zombies = Vec::new();
    let mut recoveries = Vec::new();
    let mut worker = 0u32;
    // Until 4 kills landed mid-send (about a third of them do), at most 60 workers.
    while recoveries.len() < 4 && worker < 60 {
        worker += 1;
        // SAFETY: the child only sends through the inherited channel and `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0);
        if pid == 0 {
            let mut big = Big {
                worker,
                seq: 0,
                data: [[worker as u8; 4096]; 8],
            };
            loop {
                match tx.try_send(big) {
                    Ok(()) => big.seq += 1,
                    Err(TrySendError::Full(_)) => std::hint::spin_loop(),
                    // SAFETY: leaving the child.
                    Err(TrySendError::Disconnected(_)) => unsafe { libc::_exit(2) },
                }
            }
        }
        let mut next = 0u32;
        let run = Duration::from_micros(300 + rng(&mut seed) % 1_500);
        let lost_before = rx.lost();
        // Kill it from another thread while this one keeps receiving, so that the worker
        // is busy sending (not waiting on a full lane) when it dies.
        let mut killer = Some(std::thread::spawn(move || {
            std::thread::sleep(run);
            // SAFETY: killing our own child; it stays a zombie until the end of the test.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            Instant::now()
        }));
        let mut killed = None;
        loop {
            if let Ok(big) = rx.recv_timeout(Duration::from_millis(1)) {
                assert_eq!(
                    (big.worker, big.seq),
                    (worker, next),
                    "published before the kill"
                );
                assert!(big.data.iter().flatten().all(|&b| b == worker as u8));
                next += 1;
            }
            if killer.as_ref().is_some_and(|k| k.is_finished()) {
                killed = killer.take().map(|k| k.join().unwrap());
            }
            if let Some(at) = killed {
                // Done once the skipped slot was counted, or (killed between two sends,
                // nothing to skip) after 300 ms.
                if rx.lost() > lost_before || at.elapsed() > Duration::from_millis(300) {
                    break;
                }
            }
        }
        let killed = killed.unwrap();
        zombies.push(pid);
        if rx.lost() > lost_before {
            assert_eq!(rx.lost(), lost_before + 1);
            recoveries.push(killed.elapsed());
        }
        while let Ok(big) = rx.try_recv() {
            assert_eq!((big.worker, big.seq), (worker, next));
            next += 1;
        }
    }
    for pid in zombies {
        assert_eq!(reap(pid) & 0x7f, libc::SIGKILL);
    }
    println!(
        "{worker} workers killed; {} mid-send, skipped after {recoveries:?}",
        recoveries.len()
    );
    assert!(
        !recoveries.is_empty(),
        "no kill landed in the middle of a send: the test proves nothing"
    );
    // The documented bound is about 10 ms after the death plus the consumer's own
    // polling: 12-16 ms measured on an idle machine, up to 75 ms under AddressSanitizer.
    // A timing under load is not a test's to assert; what is asserted is that the skip
    // comes at all, and long before a stall would be mistaken for one.
    for r in &recoveries {
        assert!(*r < Duration::from_secs(2), "recovery took {r:?}");
    }
}

/// A worker that writes random bytes all over the mapping while three others send: the
/// consumer keeps going (no crash, no hang: every `recv_timeout` returns within its time
/// and a little), whatever it receives or loses. Also run under AddressSanitizer
/// (`.ci/verify asan`), which would report any read outside the mapping.
#[test]
fn a_process_scribbling_over_the_mapping_cannot_hurt_the_consumer() {
    let _lock = serial(&LOCK);
    let _dog = watchdog(
        120,
        "a_process_scribbling_over_the_mapping_cannot_hurt_the_consumer",
    );
    let (tx, rx) = shared::Builder::new(64).lanes(8).build::<Msg>().unwrap();
    let senders: Vec<_> = (0..3)
        .map(|w| spawn_worker(&tx, w, u32::MAX, false))
        .collect();
    // SAFETY: the child writes only into the shared mapping and `_exit`s.
    let scribbler = unsafe { libc::fork() };
    assert!(scribbler >= 0);
    if scribbler == 0 {
        let (base, len) = tx.mapping_for_tests();
        let mut seed = 0xdead_beef_cafe_f00du64 ^ u64::from(std::process::id());
        let start = Instant::now();
        let mut round = 0u64;
        while start.elapsed() < Duration::from_millis(1500) {
            round += 1;
            let r = rng(&mut seed);
            let at = (r as usize % len) & !7;
            let value = match round % 4 {
                0 => rng(&mut seed),
                1 => 0,
                2 => u64::MAX,
                _ => rng(&mut seed) % 8,
            };
            // SAFETY: `at + 8 <= len` (aligned down inside the mapping), an aligned u64
            // slot of shared memory; racing the other processes is the point.
            unsafe { std::ptr::write_volatile(base.add(at).cast::<u64>(), value) };
            if round % 100_000 == 0 {
                // Now and then, everything at once.
                for off in (0..len).step_by(8) {
                    // SAFETY: as above.
                    unsafe {
                        std::ptr::write_volatile(base.add(off).cast::<u64>(), rng(&mut seed))
                    };
                }
            }
        }
        // SAFETY: leaving the child.
        unsafe { libc::_exit(0) };
    }
    let start = Instant::now();
    let mut received = 0u64;
    let mut timeouts = 0u64;
    let mut longest = Duration::ZERO;
    while start.elapsed() < Duration::from_secs(3) {
        let t = Instant::now();
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(_) => received += 1,
            Err(RecvTimeoutError::Timeout) => timeouts += 1,
            Err(RecvTimeoutError::Disconnected) => panic!("a shared receiver never disconnects"),
        }
        longest = longest.max(t.elapsed());
    }
    let _ = rx.try_iter().count();
    assert_eq!(reap(scribbler), 0);
    let (lost, full) = (rx.lost(), rx.full_rejections());
    drop(rx);
    for pid in senders {
        // SAFETY: our own children; they may be spinning on a lane the scribbler filled.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        reap(pid);
    }
    println!(
        "received {received}, {timeouts} timeouts, longest recv_timeout(50 ms) {longest:?}, \
         lost {lost}, full rejections {full}"
    );
    assert!(
        longest < Duration::from_secs(2),
        "recv_timeout took {longest:?}"
    );
}

/// The shared channel's receiver in a level-triggered mio loop: readable after a forked
/// worker's send, not readable once drained.
#[test]
fn a_mio_loop_sees_a_forked_workers_send() {
    use mio::unix::SourceFd;
    use mio::{Events, Interest, Poll, Token};
    use std::os::fd::AsRawFd;

    let _lock = serial(&LOCK);
    let (tx, rx) = shared::channel::<Msg>(8).unwrap();
    let mut poll = Poll::new().unwrap();
    let fd = rx.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "readable before any send");
    let pid = spawn_worker(&tx, 5, 3, false);
    let mut got = Vec::new();
    let start = Instant::now();
    while got.len() < 4 && start.elapsed() < Duration::from_secs(10) {
        poll.poll(&mut events, Some(Duration::from_secs(1)))
            .unwrap();
        while let Ok(msg) = rx.try_recv() {
            got.push(msg);
        }
    }
    assert_eq!(reap(pid), 0);
    assert_eq!(got.len(), 4, "3 loop values and DONE");
    assert_eq!(got.last().unwrap().kind, DONE);
    poll.poll(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty(), "readable after draining");
}
