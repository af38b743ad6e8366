//! `StaticChannel`: a channel in a `static`, used from threads, from a signal handler and
//! from an event loop.
//!
//! * capacity is exactly `N` for several element types and sizes, values come out in FIFO
//!   order over many laps, and `len` / `is_full` / `is_empty` follow;
//! * values sent before `receiver()` are kept (up to `N`, then `Full`) and received first;
//!   the fd is readable at once when the receiver is created with values queued, and not
//!   when it is created empty;
//! * one receiver per channel, ever: `AlreadyExists` afterwards, also after it was dropped
//!   and when several threads race for it;
//! * after the receiver is dropped every send gives its value back; the receiver never
//!   sees `Disconnected` because `sender()` handles went away;
//! * four producers × 100 000 values with the blocking `send`;
//! * a timer-driven signal storm whose handler does nothing but `try_send` on the static,
//!   at a thread that is itself in a `try_send` loop on it: received + rejected ==
//!   attempted;
//! * the static's receiver in `mio::Poll`.
//! * `receiver()` with no descriptor to be had (`EMFILE`, in a child process) fails, keeps
//!   what is queued, and a later call succeeds.
//!
//! Every test uses statics of its own: a `StaticChannel` gets one receiver per process.
//! (`N == 0` is a compile error, which a test file cannot show: see the `compile_fail`
//! doctest on `StaticChannel`.)
//!
//! Under miri (`.ci/verify`, Stacked and Tree Borrows) all but two run, some with fewer
//! values: the signal storm (miri delivers no signals and has no POSIX timers) and the
//! `EMFILE` test (a child process) are ignored. Miri has no `poll(2)`, so there
//! `fd_readable` asks a one-shot epoll instance instead, as `src/sys.rs` does for waits.
#![cfg(target_os = "linux")]

mod common;

use std::fmt::Debug;
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::fd_readable;
use common::{gettid, install_handler, serial, watchdog, DropLog, ThreadTimer};
use sigring::{
    Backend, RecvTimeoutError, SendError, SendTimeoutError, StaticChannel, TryRecvError,
    TrySendError,
};

/// Signal handlers are per process: the signal test holds this (the others install none).
static LOCK: Mutex<()> = Mutex::new(());

// --- Capacity, FIFO, len -----------------------------------------------------------------

/// A plain-data element with several fields.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Reading {
    sensor: u16,
    seq: u32,
    value: f64,
    label: &'static str,
}

const WORDS: [&str; 8] = [
    "alpha", "bravo", "charlie", "delta", "echo", "fox", "golf", "hotel",
];

static U8_1: StaticChannel<u8, 1> = StaticChannel::new();
static U64_3: StaticChannel<u64, 3> = StaticChannel::new();
static BYTES_64: StaticChannel<[u8; 64], 64> = StaticChannel::new();
static READINGS_LARGE: StaticChannel<Reading, LARGE> = StaticChannel::new();
static STR_3: StaticChannel<&'static str, 3> = StaticChannel::new();
static U64_LARGE: StaticChannel<u64, LARGE> = StaticChannel::new();

/// The large capacity here: 1000, and 40 under miri, where each operation costs time in
/// proportion to the capacity (miri tracks borrows over the whole slot array), so the
/// laps below cost its square.
const LARGE: usize = if cfg!(miri) { 40 } else { 1000 };

/// Fills `ch` to exactly `N` before and after its receiver exists, checks the `N + 1`-th
/// value comes back as `Full`, and that everything comes out in order, over several laps
/// of the ring (through the static and through a `sender()` handle alike).
fn exact_capacity_and_fifo<T, const N: usize>(
    ch: &'static StaticChannel<T, N>,
    make: impl Fn(usize) -> T,
    what: &str,
) where
    T: Send + PartialEq + Debug + 'static,
{
    assert_eq!(ch.capacity(), N, "{what}");
    assert!(ch.is_empty() && !ch.is_full(), "{what}");
    assert_eq!(ch.len(), 0, "{what}");

    // Before the receiver exists.
    for i in 0..N {
        assert_eq!(ch.try_send(make(i)), Ok(()), "{what}: value {i} of {N}");
        assert_eq!(ch.len(), i + 1, "{what}");
        assert!(!ch.is_empty(), "{what}");
    }
    assert!(ch.is_full(), "{what}");
    match ch.try_send(make(N)) {
        Err(TrySendError::Full(v)) => {
            assert_eq!(v, make(N), "{what}: Full gave back another value")
        }
        other => panic!("{what}: value {N} into a full channel: {other:?}"),
    }
    let rx = ch.receiver().unwrap();
    assert_eq!(rx.capacity(), N, "{what}");
    assert_eq!(rx.len(), N, "{what}");
    assert_eq!(rx.full_rejections(), 1, "{what}");
    for i in 0..N {
        assert_eq!(
            rx.try_recv(),
            Ok(make(i)),
            "{what}: before-receiver value {i}"
        );
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{what}");
    assert!(ch.is_empty(), "{what}");

    // Three full laps, alternating the static and a handle.
    let tx = ch.sender();
    let mut next = N + 1;
    for lap in 0..3 {
        let first = next;
        for i in 0..N {
            let r = if i % 2 == 0 {
                ch.try_send(make(next))
            } else {
                tx.try_send(make(next))
            };
            assert_eq!(r, Ok(()), "{what}: lap {lap} value {i}");
            next += 1;
        }
        assert!(ch.is_full() && tx.is_full(), "{what}: lap {lap}");
        assert_eq!(tx.len(), N, "{what}");
        assert!(tx.try_send(make(next)).unwrap_err().is_full(), "{what}");
        assert!(ch.try_send(make(next)).unwrap_err().is_full(), "{what}");
        for k in first..next {
            assert_eq!(rx.try_recv(), Ok(make(k)), "{what}: lap {lap}");
        }
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{what}: lap {lap}");
    }
    assert_eq!(rx.full_rejections(), 1 + 3 * 2, "{what}");

    // Half full (less than full: one more goes in before one comes out), one in and one
    // out for 3 N steps: positions wrap at every offset.
    let keep = N / 2;
    let mut head = next;
    for _ in 0..keep {
        ch.try_send(make(next)).unwrap();
        next += 1;
    }
    for _ in 0..3 * N {
        tx.try_send(make(next)).unwrap();
        next += 1;
        assert_eq!(rx.try_recv(), Ok(make(head)), "{what}: sliding window");
        head += 1;
        assert_eq!(rx.len(), keep, "{what}");
    }
    while head < next {
        assert_eq!(rx.try_recv(), Ok(make(head)), "{what}: tail of the window");
        head += 1;
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{what}");
}

#[test]
fn exact_capacity_and_fifo_for_several_types_and_sizes() {
    let _wd = watchdog(60, "exact_capacity_and_fifo_for_several_types_and_sizes");
    exact_capacity_and_fifo(&U8_1, |i| i as u8, "u8 / 1");
    exact_capacity_and_fifo(&U64_3, |i| i as u64 * 1_000_003, "u64 / 3");
    exact_capacity_and_fifo(
        &BYTES_64,
        |i| {
            let mut b = [0u8; 64];
            for (k, x) in b.iter_mut().enumerate() {
                *x = (i * 31 + k) as u8;
            }
            b
        },
        "[u8; 64] / 64",
    );
    exact_capacity_and_fifo(
        &READINGS_LARGE,
        |i| Reading {
            sensor: (i % 7) as u16,
            seq: i as u32,
            value: i as f64 * 0.5,
            label: WORDS[i % WORDS.len()],
        },
        &format!("Reading / {LARGE}"),
    );
    // Consecutive words differ, so a reordering or a repeat shows.
    exact_capacity_and_fifo(&STR_3, |i| WORDS[i % WORDS.len()], "&str / 3");
    exact_capacity_and_fifo(&U64_LARGE, |i| !(i as u64), &format!("u64 / {LARGE}"));
}

// --- Before the receiver; readiness of a new receiver ------------------------------------

static EARLY_EVENTFD: StaticChannel<u32, 8> = StaticChannel::new();
static EARLY_PIPE: StaticChannel<u32, 8> = StaticChannel::new();
static EMPTY_EVENTFD: StaticChannel<u32, 8> = StaticChannel::new();
static EMPTY_PIPE: StaticChannel<u32, 8> = StaticChannel::new();

/// Values sent before `receiver()` are kept (up to `N`, then `Full`) and come out first,
/// and the new receiver's fd is readable at once.
#[test]
fn values_sent_before_the_receiver_are_kept_and_make_its_fd_readable() {
    let _wd = watchdog(30, "values_sent_before_the_receiver_are_kept");
    for (ch, backend) in [
        (&EARLY_EVENTFD, Backend::EventFd),
        (&EARLY_PIPE, Backend::Pipe),
    ] {
        let what = format!("{backend:?}");
        // From another thread and from this one, through the static and a handle.
        thread::spawn(|| {
            for i in 0..4 {
                ch.try_send(i).unwrap();
            }
        })
        .join()
        .unwrap();
        let tx = ch.sender();
        for i in 4..8 {
            tx.try_send(i).unwrap();
        }
        assert_eq!(ch.try_send(8), Err(TrySendError::Full(8)), "{what}");
        assert_eq!(tx.try_send(9), Err(TrySendError::Full(9)), "{what}");

        let rx = ch.receiver_with(backend).unwrap();
        assert_eq!(rx.backend(), backend);
        assert!(
            fd_readable(rx.as_raw_fd()),
            "{what}: created with 8 values queued, the fd is not readable"
        );
        assert_eq!(rx.full_rejections(), 2, "{what}");
        // A value sent now queues behind the early ones.
        assert_eq!(rx.try_recv(), Ok(0), "{what}");
        tx.try_send(100).unwrap();
        let got: Vec<u32> = rx.try_iter().collect();
        assert_eq!(got, [1, 2, 3, 4, 5, 6, 7, 100], "{what}");
        // Drained to Empty: the token is consumed and the fd quiet again.
        assert!(!fd_readable(rx.as_raw_fd()), "{what}: readable after Empty");
        // A blocking receive works as on any receiver.
        let t = thread::spawn(|| {
            thread::sleep(Duration::from_millis(20));
            ch.try_send(7).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(7), "{what}");
        t.join().unwrap();
    }
}

/// A receiver created with nothing queued has a quiet fd, and the first send (with no
/// `try_recv` in between) makes it readable: an event loop can poll a fresh receiver.
#[test]
fn a_receiver_created_empty_is_not_readable_until_the_first_send() {
    let _wd = watchdog(30, "a_receiver_created_empty_is_not_readable");
    for (ch, backend) in [
        (&EMPTY_EVENTFD, Backend::EventFd),
        (&EMPTY_PIPE, Backend::Pipe),
    ] {
        let rx = ch.receiver_with(backend).unwrap();
        assert!(
            !fd_readable(rx.as_raw_fd()),
            "{backend:?}: created empty, the fd is readable"
        );
        ch.try_send(1).unwrap();
        assert!(
            fd_readable(rx.as_raw_fd()),
            "{backend:?}: the first send did not make the fd readable"
        );
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!fd_readable(rx.as_raw_fd()), "{backend:?}");
        assert_eq!(rx.wake_writes(), 1, "{backend:?}: one send, one token");
    }
}

// --- One receiver ------------------------------------------------------------------------

static ONE: StaticChannel<u8, 4> = StaticChannel::new();
static RACED: StaticChannel<u8, 4> = StaticChannel::new();

#[test]
fn a_second_receiver_is_already_exists_also_after_the_first_was_dropped() {
    let _wd = watchdog(30, "a_second_receiver_is_already_exists");
    let rx = ONE.receiver().unwrap();
    let e = ONE.receiver().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    let e = ONE.receiver_with(Backend::Pipe).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    // The failed calls did not disturb the receiver.
    ONE.try_send(3).unwrap();
    assert_eq!(rx.try_recv(), Ok(3));
    drop(rx);
    for _ in 0..3 {
        let e = ONE.receiver().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}");
    }
    assert_eq!(ONE.try_send(4), Err(TrySendError::Disconnected(4)));
}

/// Eight threads call `receiver()` at once: exactly one gets it.
#[test]
fn racing_receiver_calls_yield_exactly_one_receiver() {
    let _wd = watchdog(30, "racing_receiver_calls_yield_exactly_one_receiver");
    const THREADS: usize = 8;
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                RACED.receiver()
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut winners = Vec::new();
    for r in results {
        match r {
            Ok(rx) => winners.push(rx),
            Err(e) => assert_eq!(e.kind(), ErrorKind::AlreadyExists, "{e}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{} receivers for one static",
        winners.len()
    );
    RACED.try_send(5).unwrap();
    assert_eq!(winners[0].try_recv(), Ok(5));
}

// --- Disconnection -----------------------------------------------------------------------

static GONE: StaticChannel<String, 4> = StaticChannel::new();
static GONE_TRACKED: StaticChannel<common::Tracked, 4> = StaticChannel::new();

/// Once the receiver is dropped, every form of send gives its own value back.
#[test]
fn after_the_receiver_is_dropped_every_send_gives_the_value_back() {
    let _wd = watchdog(30, "after_the_receiver_is_dropped");
    let tx = GONE.sender();
    let rx = GONE.receiver().unwrap();
    GONE.try_send("kept".to_owned()).unwrap();
    assert_eq!(rx.try_recv().as_deref(), Ok("kept"));
    drop(rx);

    assert_eq!(
        GONE.try_send("a".to_owned()),
        Err(TrySendError::Disconnected("a".to_owned()))
    );
    assert_eq!(GONE.send("b".to_owned()), Err(SendError("b".to_owned())));
    assert_eq!(
        GONE.send_timeout("c".to_owned(), Duration::from_secs(10)),
        Err(SendTimeoutError::Disconnected("c".to_owned()))
    );
    assert_eq!(
        GONE.send_deadline("d".to_owned(), Instant::now() + Duration::from_secs(10)),
        Err(SendTimeoutError::Disconnected("d".to_owned()))
    );
    // A handle made before the drop and one made after.
    for tx in [tx, GONE.sender()] {
        assert_eq!(
            tx.try_send("e".to_owned()),
            Err(TrySendError::Disconnected("e".to_owned()))
        );
        assert_eq!(tx.send("f".to_owned()), Err(SendError("f".to_owned())));
        assert!(tx
            .send_timeout("g".to_owned(), Duration::from_secs(10))
            .unwrap_err()
            .is_disconnected());
    }
    assert!(GONE.is_empty());
}

/// What is queued when the receiver goes is dropped then, exactly once; values refused
/// afterwards come back to the caller, not dropped by the channel.
#[test]
fn values_queued_when_the_receiver_goes_are_dropped_once() {
    let _wd = watchdog(30, "values_queued_when_the_receiver_goes");
    let log = DropLog::new(6);
    let rx = GONE_TRACKED.receiver().unwrap();
    for id in 0..3 {
        GONE_TRACKED.try_send(log.track(id)).unwrap();
    }
    assert_eq!(log.total(), 0);
    drop(rx);
    log.assert_each_once(0..3);
    let back = GONE_TRACKED
        .try_send(log.track(3))
        .unwrap_err()
        .into_inner();
    assert_eq!(back.id, 3);
    assert_eq!(
        log.drops(3),
        0,
        "the refused value was dropped by the channel"
    );
    let SendError(back) = GONE_TRACKED.send(log.track(4)).unwrap_err();
    assert_eq!((back.id, log.drops(4)), (4, 0));
    drop(back);
    assert_eq!(log.total(), 4);
}

static KEEP: StaticChannel<u32, 4> = StaticChannel::new();

/// Dropping `sender()` handles, however many, never disconnects the receiver.
#[test]
fn the_receiver_is_never_disconnected_by_dropped_senders() {
    let _wd = watchdog(30, "the_receiver_is_never_disconnected");
    let rx = KEEP.receiver().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..1000 {
                    let tx = KEEP.sender();
                    let tx2 = tx.clone();
                    if i == 0 {
                        tx2.send(t).unwrap();
                    }
                    drop(tx);
                    drop(tx2);
                }
            })
        })
        .collect();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
    for t in threads {
        t.join().unwrap();
    }
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2, 3]);
    // Every handle is gone, the last one too.
    assert!(!rx.is_disconnected());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(50)),
        Err(RecvTimeoutError::Timeout)
    );
    // And the static still sends.
    KEEP.try_send(9).unwrap();
    assert_eq!(rx.recv(), Ok(9));
}

// --- Many producers ----------------------------------------------------------------------

static MANY: StaticChannel<u64, 64> = StaticChannel::new();

/// Four threads × 100 000 values (200 under miri) with the blocking `send` (two through
/// the static, two through `sender()` handles): nothing lost or duplicated, each
/// producer's order kept. The channel holds 64: the senders wait for room all the time.
#[test]
fn four_producers_send_100k_each_in_order() {
    let _wd = watchdog(120, "four_producers_send_100k_each_in_order");
    const PRODUCERS: u64 = 4;
    const PER: u64 = if cfg!(miri) { 200 } else { 100_000 };
    let rx = MANY.receiver().unwrap();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            thread::spawn(move || {
                let tx = MANY.sender();
                for i in 0..PER {
                    let v = p << 32 | i;
                    if p % 2 == 0 {
                        MANY.send(v).unwrap();
                    } else {
                        tx.send(v).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut next = [0u64; PRODUCERS as usize];
    for _ in 0..PRODUCERS * PER {
        let v = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("a value within 30 s");
        let (p, i) = ((v >> 32) as usize, v & 0xffff_ffff);
        assert!(p < PRODUCERS as usize, "garbage value {v:#x}");
        assert_eq!(i, next[p], "producer {p}: {i} after {}", next[p] as i64 - 1);
        next[p] += 1;
    }
    for t in producers {
        t.join().unwrap();
    }
    assert_eq!(next, [PER; PRODUCERS as usize]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "a value too many");
    assert_eq!(
        rx.full_rejections(),
        0,
        "send is not counted as a rejection"
    );
}

// --- A signal handler's try_send on the static -------------------------------------------

/// The storm's two channels: a tiny one (`Full` is common, and the handler often lands
/// between the thread's claim and publish of the last slot) and a roomy one.
static STORM_4: StaticChannel<u64, 4> = StaticChannel::new();
static STORM_256: StaticChannel<u64, 256> = StaticChannel::new();

const SRC_THREAD: u64 = 1;
const SRC_HANDLER: u64 = 2;

fn tag(src: u64, seq: u64) -> u64 {
    src << 56 | seq
}

static H_ATTEMPTED: AtomicU64 = AtomicU64::new(0);
static H_REJECTED: AtomicU64 = AtomicU64::new(0);
static H_DISCONNECTED: AtomicU64 = AtomicU64::new(0);
/// Set by the pushing thread around its own `try_send`.
static IN_TRY_SEND: AtomicBool = AtomicBool::new(false);
static H_IN_TRY_SEND: AtomicU64 = AtomicU64::new(0);

/// The handler: its one channel operation is `try_send` on the static; the rest is
/// counting in atomics. It runs on one thread with its own signal blocked, so a load and a
/// store make its sequence number.
fn on_signal<const N: usize>(ch: &'static StaticChannel<u64, N>) {
    let seq = H_ATTEMPTED.load(Ordering::Relaxed);
    H_ATTEMPTED.store(seq + 1, Ordering::Relaxed);
    if IN_TRY_SEND.load(Ordering::Relaxed) {
        H_IN_TRY_SEND.fetch_add(1, Ordering::Relaxed);
    }
    match ch.try_send(tag(SRC_HANDLER, seq)) {
        Ok(()) => {}
        Err(TrySendError::Full(_)) => {
            H_REJECTED.fetch_add(1, Ordering::Relaxed);
        }
        Err(TrySendError::Disconnected(_)) => {
            H_DISCONNECTED.fetch_add(1, Ordering::Relaxed);
        }
    }
}

extern "C" fn handler_4(_sig: libc::c_int) {
    on_signal(&STORM_4);
}

extern "C" fn handler_256(_sig: libc::c_int) {
    on_signal(&STORM_256);
}

/// Timer period: 20 kHz at a thread that spins in `try_send`.
const STORM_PERIOD: Duration = Duration::from_micros(50);
/// The storm lasts at least this long, then until the handler ran `STORM_RUNS` times or
/// `STORM_MAX` passed (how many land depends on the machine's load).
const STORM_MIN: Duration = Duration::from_millis(300);
const STORM_MAX: Duration = Duration::from_secs(2);
const STORM_RUNS: u64 = 5_000;
/// Fewer handler runs than this and the test proved nothing. A `SIGEV_THREAD_ID` timer
/// lands thousands per second on the thread even on a loaded 2-core machine.
const MIN_RUNS: u64 = 200;

/// Per-source order and counts, as seen by the consumer.
#[derive(Default)]
struct Seen {
    count: [u64; 3],
    next_min: [u64; 3],
}

impl Seen {
    fn take(&mut self, v: u64) {
        let (src, seq) = ((v >> 56) as usize, v & ((1 << 56) - 1));
        assert!(src == 1 || src == 2, "garbage value {v:#x}");
        assert!(
            seq >= self.next_min[src],
            "source {src}: {seq} after {}",
            self.next_min[src] as i64 - 1
        );
        self.next_min[src] = seq + 1;
        self.count[src] += 1;
    }
}

fn storm_at_a_try_send_loop<const N: usize>(
    ch: &'static StaticChannel<u64, N>,
    handler: common::Handler,
    backend: Backend,
) {
    let what = format!("N = {N}, {backend:?}");
    for c in [&H_ATTEMPTED, &H_REJECTED, &H_DISCONNECTED, &H_IN_TRY_SEND] {
        c.store(0, Ordering::SeqCst);
    }
    let rx = ch.receiver_with(backend).unwrap();
    let _handler = install_handler(libc::SIGUSR1, handler, true);

    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let done = done.clone();
        thread::spawn(move || {
            let mut seen = Seen::default();
            loop {
                match rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(v) => seen.take(v),
                    // `done` is set after the pusher was joined: everything is published,
                    // so a timeout now means the channel is drained.
                    Err(RecvTimeoutError::Timeout) if done.load(Ordering::SeqCst) => break,
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => panic!("a static disconnected"),
                }
            }
            (seen, rx)
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let pusher = {
        let stop = stop.clone();
        thread::spawn(move || {
            tid_tx.send(gettid()).unwrap();
            let (mut attempted, mut rejected) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                IN_TRY_SEND.store(true, Ordering::Relaxed);
                let r = ch.try_send(tag(SRC_THREAD, attempted));
                IN_TRY_SEND.store(false, Ordering::Relaxed);
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
    let tid = tid_rx.recv().unwrap();
    let start = Instant::now();
    let timer = ThreadTimer::start(tid, libc::SIGUSR1, STORM_PERIOD);
    while start.elapsed() < STORM_MIN
        || (start.elapsed() < STORM_MAX && H_ATTEMPTED.load(Ordering::Relaxed) < STORM_RUNS)
    {
        thread::sleep(Duration::from_millis(10));
    }
    let elapsed = start.elapsed();
    drop(timer);
    stop.store(true, Ordering::Relaxed);
    let (attempted, rejected) = pusher.join().unwrap();
    done.store(true, Ordering::SeqCst);
    let (seen, rx) = consumer.join().unwrap();

    let runs = H_ATTEMPTED.load(Ordering::SeqCst);
    let h_rejected = H_REJECTED.load(Ordering::SeqCst);
    assert_eq!(H_DISCONNECTED.load(Ordering::SeqCst), 0, "{what}");
    assert_eq!(
        seen.count[SRC_THREAD as usize] + rejected,
        attempted,
        "{what}: thread: received + rejected != attempted"
    );
    assert_eq!(
        seen.count[SRC_HANDLER as usize] + h_rejected,
        runs,
        "{what}: handler: received + rejected != attempted"
    );
    assert_eq!(rx.full_rejections(), rejected + h_rejected, "{what}");
    assert!(
        runs >= MIN_RUNS,
        "{what}: only {runs} handler runs in {elapsed:?}: the storm did not reach the thread"
    );
    let inside = H_IN_TRY_SEND.load(Ordering::SeqCst);
    assert!(
        inside > 0,
        "{what}: no signal landed inside the thread's try_send"
    );
    println!(
        "{what}: {runs} handler runs in {elapsed:?} ({:.0}/s), {inside} inside the thread's \
         try_send; thread {attempted} attempted / {rejected} full; handler {} received / \
         {h_rejected} full",
        runs as f64 / elapsed.as_secs_f64(),
        seen.count[SRC_HANDLER as usize]
    );
}

/// A timer-driven `SIGUSR1` storm at a thread in a tight `try_send` loop on a static, whose
/// handler `try_send`s on the same static; a consumer drains. No deadlock (watchdog), each
/// source's order kept, and every attempt received or counted as `Full`.
#[test]
#[cfg_attr(miri, ignore = "miri delivers no signals and has no POSIX timers")]
fn signal_storm_handler_try_sends_on_the_static_it_interrupts() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "signal_storm_handler_try_sends_on_the_static");
    storm_at_a_try_send_loop(&STORM_4, handler_4, Backend::EventFd);
    storm_at_a_try_send_loop(&STORM_256, handler_256, Backend::Pipe);
}

// --- mio ---------------------------------------------------------------------------------

#[cfg(feature = "mio")]
static MIO: StaticChannel<u32, 16> = StaticChannel::new();

/// The static's receiver registered in `mio::Poll` like a socket: every readable event is
/// drained with `try_recv` until `Empty`, after which the fd is quiet until the next send.
#[cfg(feature = "mio")]
#[test]
fn the_static_receiver_in_mio_poll() {
    use mio::{Events, Interest, Poll, Token};
    let _wd = watchdog(60, "the_static_receiver_in_mio_poll");
    const ROUNDS: u32 = 200;
    // Queued before the receiver exists: the first poll must report them.
    for i in 0..3 {
        MIO.try_send(i).unwrap();
    }
    let mut rx = MIO.receiver().unwrap();
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut rx, Token(3), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(4);
    let readable = |poll: &mut Poll, events: &mut Events, timeout: Duration| {
        poll.poll(events, Some(timeout)).unwrap();
        events
            .iter()
            .any(|e| e.token() == Token(3) && e.is_readable())
    };

    assert!(
        readable(&mut poll, &mut events, Duration::from_secs(10)),
        "values queued before receiver(): no readable event"
    );
    let mut next = 0u32;
    // Drained in a loop until Empty; each round sends a different number of values, from
    // this thread or another one.
    for round in 0..=ROUNDS {
        if round > 0 {
            let n = 1 + round % 16;
            if round % 3 == 0 {
                let first = next;
                thread::spawn(move || {
                    let tx = MIO.sender();
                    for i in first..first + n {
                        tx.try_send(i).unwrap();
                    }
                })
                .join()
                .unwrap();
            } else {
                for i in next..next + n {
                    MIO.try_send(i).unwrap();
                }
            }
            assert!(
                readable(&mut poll, &mut events, Duration::from_secs(10)),
                "round {round}: no readable event within 10 s of a send"
            );
        }
        let mut got = 0;
        loop {
            match rx.try_recv() {
                Ok(v) => {
                    assert_eq!(v, next, "round {round}");
                    next += 1;
                    got += 1;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => panic!("a static disconnected"),
            }
        }
        assert!(got > 0, "round {round}: readable but nothing to receive");
        // After Empty the fd is quiet: a level-triggered look and mio both see nothing.
        assert!(
            !fd_readable(rx.as_raw_fd()),
            "round {round}: readable after Empty"
        );
        assert!(
            !readable(&mut poll, &mut events, Duration::ZERO),
            "round {round}: an event after Empty"
        );
    }
    poll.registry().deregister(&mut rx).unwrap();
    println!(
        "mio: {next} values in {ROUNDS} rounds, {} token writes",
        rx.wake_writes()
    );
}

// --- No descriptor left ------------------------------------------------------------------

static NO_FD: StaticChannel<u32, 4> = StaticChannel::new();

/// Set in the child process this test starts (see below).
const CHILD_ENV: &str = "SIGRING_STATIC_EMFILE_CHILD";

/// With no descriptor to be had (`EMFILE`), `receiver()` returns the OS error and leaves
/// the channel as it was: values sent before are kept, and a later call succeeds.
///
/// Lowering the fd limit would break the other tests running in this process, so the test
/// runs itself again as a child process (only this test, one thread) and the child does
/// the work; the parent checks that it ran and passed.
#[test]
#[cfg_attr(
    miri,
    ignore = "runs itself as a child process, which miri cannot start"
)]
fn receiver_fails_with_emfile_and_a_later_call_succeeds() {
    const NAME: &str = "receiver_fails_with_emfile_and_a_later_call_succeeds";
    let _wd = watchdog(60, NAME);
    if std::env::var_os(CHILD_ENV).is_some() {
        emfile_child();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run this test binary as a child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("child: EMFILE twice, then a receiver with the early value"),
        "the child did not run the test body:\n{stdout}\n{stderr}"
    );
}

fn set_fd_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out- and in-pointers.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}

fn emfile_child() {
    NO_FD.try_send(1).unwrap();
    // With a limit of 0 every new descriptor fails with EMFILE.
    let old = set_fd_limit(0);
    let eventfd = NO_FD.receiver_with(Backend::EventFd).map(drop);
    let pipe = NO_FD.receiver_with(Backend::Pipe).map(drop);
    // Sends meanwhile still queue.
    NO_FD.try_send(2).unwrap();
    set_fd_limit(old);
    for r in [eventfd, pipe] {
        let e = r.expect_err("a receiver without a descriptor");
        assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
    }
    let rx = NO_FD
        .receiver()
        .expect("receiver() once descriptors can be had again");
    assert!(
        fd_readable(rx.as_raw_fd()),
        "values queued, fd not readable"
    );
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(
        NO_FD.receiver().unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    println!("child: EMFILE twice, then a receiver with the early value");
}
