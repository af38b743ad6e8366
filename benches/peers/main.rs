//! sigring against its peers: a purpose-built benchmark runner (`harness = false`).
//!
//! ```text
//! cargo bench --bench peers                 # full run, a few minutes
//! cargo bench --bench peers -- --quick      # about a minute
//! cargo bench --bench peers -- --help       # every option
//! ```
//!
//! Writes markdown tables to stdout and to `docs/bench-results.md`, the raw numbers to
//! `docs/bench-results.json`, and renders `docs/bench-throughput.svg` and
//! `docs/bench-latency.svg` from that JSON (`benches/chart.rs`, also runnable on its own as
//! `cargo bench --bench chart`). The method is described in `docs/benchmarks.md`.
//!
//! Every peer is bounded at [`CAP`] and runs in the same process. Each scenario runs its
//! peers interleaved (A, B, C, ... then again, `--reps` times), so a noisy machine hits all
//! of them alike; tables show the median and the min–max over the repetitions. Every
//! scenario checks what it received (count, per-producer order, disconnect at the end) and
//! aborts the run on a wrong answer.

#[allow(dead_code)]
#[path = "chart.rs"]
mod chart;

use std::cell::{Cell, UnsafeCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use std::{env, fs, hint, io, thread};

use crossbeam_utils::{Backoff, CachePadded};
use sigring::{Backend, Builder, TrySendError};

/// The capacity of every channel.
const CAP: usize = 1024;

/// The 16-byte message. Throughput scenarios send `{producer, sequence}`; latency
/// scenarios send `{sequence, send time in ns}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Msg {
    a: u64,
    b: u64,
}

const _: () = assert!(std::mem::size_of::<Msg>() == 16);

// ------------------------------------------------------------------------------------------
// The peers
// ------------------------------------------------------------------------------------------

/// A bounded channel with a blocking `send` (or a `try_send` plus the shared retry policy)
/// and a blocking `recv` that returns `None` once every sender is gone and all is received.
trait Chan {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn new() -> (Self::Tx, Self::Rx);
    fn clone_tx(tx: &Self::Tx) -> Self::Tx;
    fn send(tx: &Self::Tx, m: Msg);
    fn recv(rx: &mut Self::Rx) -> Option<Msg>;
}

/// The producer-side retry policy for the peers that only have a `try_send`/`push`
/// (sigring and `ArrayQueue`): crossbeam's `Backoff::snooze`, i.e. spin 1, 2, 4, ... 64
/// pause instructions, then `sched_yield` on every further retry. The blocking peers
/// (crossbeam-channel, flume, thingbuf, std) do about the same internally before they park.
#[inline]
fn send_retrying(mut v: Msg, mut try_send: impl FnMut(Msg) -> Result<(), Msg>) {
    let backoff = Backoff::new();
    loop {
        match try_send(v) {
            Ok(()) => return,
            Err(back) => {
                v = back;
                backoff.snooze();
            }
        }
    }
}

/// sigring, on the eventfd (`PIPE = false`) or on the self-pipe backend.
struct Sigring<const PIPE: bool>;

impl<const PIPE: bool> Chan for Sigring<PIPE> {
    type Tx = sigring::Sender<Msg>;
    type Rx = sigring::Receiver<Msg>;
    fn new() -> (Self::Tx, Self::Rx) {
        let backend = if PIPE {
            Backend::Pipe
        } else {
            Backend::EventFd
        };
        Builder::new(CAP)
            .backend(backend)
            .build()
            .expect("sigring channel")
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.clone()
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        send_retrying(m, |v| match tx.try_send(v) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(v)) => Err(v),
            Err(TrySendError::Disconnected(_)) => panic!("sigring: receiver gone"),
        })
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        rx.recv().ok()
    }
}

/// The proposed receive policy, emulated with sigring's public API (`--with-proposal`):
/// a bounded, adaptive pure spin before sleeping, and no `sched_yield` at all.
///
/// * The spin budget follows how soon values have been arriving: `2 * ewma(wait) + 1 us`,
///   at most [`SPIN_MAX`]; zero once the average wait exceeds `SPIN_MAX` (an idle stream
///   sleeps at once, as cheaply as a bare eventfd).
/// * [`SPIN_FAILS`] spins in a row that end in a sleep anyway (the other thread is not
///   running, e.g. both share a CPU) switch spinning off for the next [`SPIN_COOLDOWN`]
///   waits.
/// * Sleeping is `try_recv` (which arms the wake-up) then `poll(2)` on the fd; the spin
///   looks at `is_empty` (two plain loads), so it never arms and costs producers nothing.
struct SigringAdaptive;

const SPIN_MAX: Duration = Duration::from_micros(50);
const SPIN_FAILS: u32 = 8;
const SPIN_COOLDOWN: u32 = 64;

struct AdaptiveRx {
    rx: sigring::Receiver<Msg>,
    /// Moving average of the recent waits, ns.
    ewma_ns: u64,
    /// Spins in a row that ended in a sleep.
    fails: u32,
    /// Waits left with spinning off.
    cooldown: u32,
}

fn poll_readable(fd: RawFd) {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; EINTR just returns to the caller's loop.
    unsafe { libc::poll(&mut pfd, 1, -1) };
}

impl Chan for SigringAdaptive {
    type Tx = sigring::Sender<Msg>;
    type Rx = AdaptiveRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let (tx, rx) = Sigring::<false>::new();
        (
            tx,
            AdaptiveRx {
                rx,
                ewma_ns: 0,
                fails: 0,
                cooldown: 0,
            },
        )
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.clone()
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        Sigring::<false>::send(tx, m)
    }
    fn recv(r: &mut Self::Rx) -> Option<Msg> {
        if !r.rx.is_empty() {
            if let Ok(v) = r.rx.try_recv() {
                return Some(v);
            }
        }
        let start = Instant::now();
        let max = SPIN_MAX.as_nanos() as u64;
        let budget = if r.ewma_ns <= max {
            Duration::from_nanos((2 * r.ewma_ns + 1_000).min(max))
        } else {
            Duration::ZERO
        };
        let spun = r.cooldown == 0 && !budget.is_zero();
        r.cooldown = r.cooldown.saturating_sub(1);
        if spun {
            let mut i = 0u32;
            while r.rx.is_empty() && !r.rx.is_disconnected() {
                hint::spin_loop();
                i = i.wrapping_add(1);
                if i % 32 == 0 && start.elapsed() >= budget {
                    break;
                }
            }
        }
        let mut slept = false;
        let v = loop {
            match r.rx.try_recv() {
                Ok(v) => break Some(v),
                Err(sigring::TryRecvError::Disconnected) => break None,
                Err(sigring::TryRecvError::Empty) => {
                    slept = true;
                    poll_readable(r.rx.as_raw_fd());
                }
            }
        };
        let gap = start.elapsed().as_nanos() as u64;
        r.ewma_ns = (r.ewma_ns * 3 + gap) / 4;
        if spun && slept {
            r.fails += 1;
            if r.fails >= SPIN_FAILS {
                r.fails = 0;
                r.cooldown = SPIN_COOLDOWN;
            }
        } else if spun {
            r.fails = 0;
        }
        v
    }
}

/// A peer with a blocking `send` and `recv` of its own: `$tx` and `$rx` are its halves,
/// `$new` builds them, `$recv` turns a receive into an `Option` (`None` once disconnected).
macro_rules! blocking_peer {
    ($(#[$doc:meta])* $name:ident, $label:literal, $tx:ty, $rx:ty, $new:expr, |$r:ident| $recv:expr) => {
        $(#[$doc])*
        struct $name;

        impl Chan for $name {
            type Tx = $tx;
            type Rx = $rx;
            fn new() -> (Self::Tx, Self::Rx) {
                $new
            }
            fn clone_tx(tx: &Self::Tx) -> Self::Tx {
                tx.clone()
            }
            fn send(tx: &Self::Tx, m: Msg) {
                tx.send(m).expect(concat!($label, ": receiver gone"));
            }
            fn recv($r: &mut Self::Rx) -> Option<Msg> {
                $recv
            }
        }
    };
}

blocking_peer!(
    /// `std::sync::mpsc::sync_channel`.
    StdSync, "std", std::sync::mpsc::SyncSender<Msg>, std::sync::mpsc::Receiver<Msg>,
    std::sync::mpsc::sync_channel(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `crossbeam_channel::bounded`.
    Crossbeam, "crossbeam", crossbeam_channel::Sender<Msg>, crossbeam_channel::Receiver<Msg>,
    crossbeam_channel::bounded(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `flume::bounded`.
    Flume, "flume", flume::Sender<Msg>, flume::Receiver<Msg>,
    flume::bounded(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `thingbuf::mpsc::blocking::channel`.
    Thingbuf, "thingbuf", thingbuf::mpsc::blocking::Sender<Msg>,
    thingbuf::mpsc::blocking::Receiver<Msg>,
    thingbuf::mpsc::blocking::channel(CAP), |rx| rx.recv()
);

/// `crossbeam_queue::ArrayQueue` + `mio::Waker`: the obvious eventfd design. Every push is
/// followed by a wake (one `write(2)` to mio's eventfd); the consumer pops until empty and
/// then sleeps in `mio::Poll` (`epoll_wait`).
struct AqMio;

struct AqShared {
    queue: crossbeam_queue::ArrayQueue<Msg>,
    waker: mio::Waker,
    senders: AtomicUsize,
}

struct AqTx(Arc<AqShared>);

impl Drop for AqTx {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.waker.wake().expect("mio wake");
        }
    }
}

struct AqRx {
    shared: Arc<AqShared>,
    poll: mio::Poll,
    events: mio::Events,
}

impl Chan for AqMio {
    type Tx = AqTx;
    type Rx = AqRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let poll = mio::Poll::new().expect("mio poll");
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("mio waker");
        let shared = Arc::new(AqShared {
            queue: crossbeam_queue::ArrayQueue::new(CAP),
            waker,
            senders: AtomicUsize::new(1),
        });
        (
            AqTx(shared.clone()),
            AqRx {
                shared,
                poll,
                events: mio::Events::with_capacity(8),
            },
        )
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.0.senders.fetch_add(1, Ordering::Relaxed);
        AqTx(tx.0.clone())
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        send_retrying(m, |v| tx.0.queue.push(v));
        tx.0.waker.wake().expect("mio wake");
    }
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        loop {
            if let Some(m) = rx.shared.queue.pop() {
                return Some(m);
            }
            // The last sender decrements before it wakes, so a wake is pending or the
            // count is already zero.
            if rx.shared.senders.load(Ordering::Acquire) == 0 {
                return rx.shared.queue.pop();
            }
            match rx.poll.poll(&mut rx.events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("mio poll: {e}"),
            }
        }
    }
}

/// `Mutex<VecDeque>` + two `Condvar`s, notifying only when someone waits.
struct MutexQ;

struct MqState {
    queue: VecDeque<Msg>,
    senders: usize,
    rx_waiting: bool,
    tx_waiting: usize,
}

struct MqShared {
    state: Mutex<MqState>,
    not_empty: Condvar,
    not_full: Condvar,
}

struct MqTx(Arc<MqShared>);

impl Drop for MqTx {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap();
        st.senders -= 1;
        if st.senders == 0 && st.rx_waiting {
            self.0.not_empty.notify_one();
        }
    }
}

impl Chan for MutexQ {
    type Tx = MqTx;
    type Rx = Arc<MqShared>;
    fn new() -> (Self::Tx, Self::Rx) {
        let shared = Arc::new(MqShared {
            state: Mutex::new(MqState {
                queue: VecDeque::with_capacity(CAP),
                senders: 1,
                rx_waiting: false,
                tx_waiting: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        (MqTx(shared.clone()), shared)
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.0.state.lock().unwrap().senders += 1;
        MqTx(tx.0.clone())
    }
    fn send(tx: &Self::Tx, m: Msg) {
        let mut st = tx.0.state.lock().unwrap();
        while st.queue.len() >= CAP {
            st.tx_waiting += 1;
            st = tx.0.not_full.wait(st).unwrap();
            st.tx_waiting -= 1;
        }
        st.queue.push_back(m);
        if st.rx_waiting {
            tx.0.not_empty.notify_one();
        }
    }
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        let mut st = rx.state.lock().unwrap();
        loop {
            if let Some(m) = st.queue.pop_front() {
                if st.tx_waiting > 0 {
                    rx.not_full.notify_one();
                }
                return Some(m);
            }
            if st.senders == 0 {
                return None;
            }
            st.rx_waiting = true;
            st = rx.not_empty.wait(st).unwrap();
            st.rx_waiting = false;
        }
    }
}

/// The bare two-thread ring ceiling: a minimal SPSC ring (power-of-two capacity, head and
/// tail on their own cache lines, each side caching the other's index), both threads
/// spinning. No wake-up machinery at all: the physical limit of handing 16 bytes from one
/// core to another through shared cache lines.
struct BareRing;

struct BareShared {
    buf: Box<[UnsafeCell<Msg>]>,
    head: CachePadded<AtomicUsize>,
    tail: CachePadded<AtomicUsize>,
    closed: AtomicBool,
}

// SAFETY: a slot is written only by the one producer while `tail - head < CAP` says it is
// free, and read only by the one consumer after the producer's Release store of `tail`
// published it (Acquire load); `BareTx` is not `Clone` in practice (`clone_tx` panics).
unsafe impl Sync for BareShared {}

struct BareTx {
    ring: Arc<BareShared>,
    tail: Cell<usize>,
    head_cache: Cell<usize>,
}

impl Drop for BareTx {
    fn drop(&mut self) {
        self.ring.closed.store(true, Ordering::Release);
    }
}

struct BareRx {
    ring: Arc<BareShared>,
    head: usize,
    tail_cache: usize,
}

impl Chan for BareRing {
    type Tx = BareTx;
    type Rx = BareRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let ring = Arc::new(BareShared {
            buf: (0..CAP).map(|_| UnsafeCell::new(Msg::default())).collect(),
            head: CachePadded::new(AtomicUsize::new(0)),
            tail: CachePadded::new(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
        });
        (
            BareTx {
                ring: ring.clone(),
                tail: Cell::new(0),
                head_cache: Cell::new(0),
            },
            BareRx {
                ring,
                head: 0,
                tail_cache: 0,
            },
        )
    }
    fn clone_tx(_: &Self::Tx) -> Self::Tx {
        panic!("the bare ring is single-producer")
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        let t = tx.tail.get();
        while t.wrapping_sub(tx.head_cache.get()) >= CAP {
            hint::spin_loop();
            tx.head_cache.set(tx.ring.head.load(Ordering::Acquire));
        }
        // SAFETY: `t - head < CAP`: the consumer is done with this slot (its Release store
        // of `head` was acquired above), and only this producer writes slots.
        unsafe { *tx.ring.buf[t & (CAP - 1)].get() = m };
        tx.tail.set(t.wrapping_add(1));
        tx.ring.tail.store(t.wrapping_add(1), Ordering::Release);
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        let h = rx.head;
        while h == rx.tail_cache {
            rx.tail_cache = rx.ring.tail.load(Ordering::Acquire);
            if h == rx.tail_cache {
                if rx.ring.closed.load(Ordering::Acquire) {
                    rx.tail_cache = rx.ring.tail.load(Ordering::Acquire);
                    if h == rx.tail_cache {
                        return None;
                    }
                } else {
                    hint::spin_loop();
                }
            }
        }
        // SAFETY: `h < tail`: the producer published this slot with its Release store of
        // `tail`, acquired above, and does not touch it again until `head` moves past it.
        let m = unsafe { *rx.ring.buf[h & (CAP - 1)].get() };
        rx.head = h.wrapping_add(1);
        rx.ring.head.store(rx.head, Ordering::Release);
        Some(m)
    }
}

/// Everything that appears as a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    SigringEventfd,
    SigringPipe,
    Crossbeam,
    Flume,
    Thingbuf,
    StdSync,
    AqMio,
    MutexQ,
    /// Reference: the bare spinning SPSC ring (spsc only).
    BareRing,
    /// Reference: raw eventfd write -> poll between two threads (pingpong, idle_wake).
    RawEventfd,
    /// The proposed receive policy, emulated (`--with-proposal`).
    SigringAdaptive,
}

const CHANNELS: [Peer; 8] = [
    Peer::SigringEventfd,
    Peer::SigringPipe,
    Peer::Crossbeam,
    Peer::Flume,
    Peer::Thingbuf,
    Peer::StdSync,
    Peer::AqMio,
    Peer::MutexQ,
];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::SigringEventfd => "sigring (eventfd)",
            Peer::SigringPipe => "sigring (pipe)",
            Peer::Crossbeam => "crossbeam-channel",
            Peer::Flume => "flume",
            Peer::Thingbuf => "thingbuf",
            Peer::StdSync => "std sync_channel",
            Peer::AqMio => "ArrayQueue + mio::Waker",
            Peer::MutexQ => "Mutex<VecDeque> + Condvar",
            Peer::BareRing => "bare spinning SPSC ring",
            Peer::RawEventfd => "raw eventfd write -> poll",
            Peer::SigringAdaptive => "sigring + adaptive spin (proposal, emulated)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Peer::SigringEventfd => "sigring-eventfd",
            Peer::SigringPipe => "sigring-pipe",
            Peer::Crossbeam => "crossbeam-channel",
            Peer::Flume => "flume",
            Peer::Thingbuf => "thingbuf",
            Peer::StdSync => "std",
            Peer::AqMio => "arrayqueue-mio",
            Peer::MutexQ => "mutex-condvar",
            Peer::BareRing => "bare-ring",
            Peer::RawEventfd => "raw-eventfd",
            Peer::SigringAdaptive => "sigring-adaptive",
        }
    }

    fn from_key(key: &str) -> Option<Peer> {
        CHANNELS
            .iter()
            .chain(&[Peer::BareRing, Peer::RawEventfd, Peer::SigringAdaptive])
            .copied()
            .find(|p| p.key() == key)
    }

    /// Rows that are not peers: physical references and the emulated proposal. They are
    /// left out of every "best peer" comparison.
    fn is_reference(self) -> bool {
        matches!(
            self,
            Peer::BareRing | Peer::RawEventfd | Peer::SigringAdaptive
        )
    }
}

/// Calls the generic scenario function `$f::<C>(args)` for the channel type of `$peer`.
macro_rules! with_chan {
    ($peer:expr, $f:ident($($arg:expr),*)) => {
        match $peer {
            Peer::SigringEventfd => $f::<Sigring<false>>($($arg),*),
            Peer::SigringPipe => $f::<Sigring<true>>($($arg),*),
            Peer::Crossbeam => $f::<Crossbeam>($($arg),*),
            Peer::Flume => $f::<Flume>($($arg),*),
            Peer::Thingbuf => $f::<Thingbuf>($($arg),*),
            Peer::StdSync => $f::<StdSync>($($arg),*),
            Peer::AqMio => $f::<AqMio>($($arg),*),
            Peer::MutexQ => $f::<MutexQ>($($arg),*),
            Peer::BareRing => $f::<BareRing>($($arg),*),
            Peer::SigringAdaptive => $f::<SigringAdaptive>($($arg),*),
            Peer::RawEventfd => unreachable!("the raw eventfd is not a channel"),
        }
    };
}

// ------------------------------------------------------------------------------------------
// Scenarios
// ------------------------------------------------------------------------------------------

/// Checks per-producer order and counts; a wrong answer aborts the run.
struct Checker {
    next: Vec<u64>,
    name: &'static str,
}

impl Checker {
    fn new(producers: usize, name: &'static str) -> Self {
        Checker {
            next: vec![0; producers],
            name,
        }
    }

    #[inline]
    fn check(&mut self, m: Msg) {
        let expected = self.next.get_mut(m.a as usize);
        match expected {
            Some(e) if *e == m.b => *e += 1,
            _ => panic!(
                "{}: wrong message {m:?} (expected per-producer sequence {:?})",
                self.name, self.next
            ),
        }
    }

    /// Everything each producer sent was received.
    fn finish(&self, sent: &[u64]) {
        assert_eq!(
            self.next, sent,
            "{}: received vs sent per producer",
            self.name
        );
    }
}

/// `producers` threads send as fast as they can for `dur`; the main thread receives and
/// checks. Producers look at the stop flag every 256 messages, then drop their senders; the
/// run ends when `recv` reports the disconnect. Returns (msg/s, messages received).
fn throughput<C: Chan>(name: &'static str, producers: usize, dur: Duration) -> (f64, u64) {
    let (tx, mut rx) = C::new();
    let mut txs: Vec<C::Tx> = (1..producers).map(|_| C::clone_tx(&tx)).collect();
    txs.push(tx);
    let start = Arc::new(Barrier::new(producers + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = txs
        .into_iter()
        .enumerate()
        .map(|(p, tx)| {
            let start = start.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                start.wait();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        C::send(&tx, Msg { a: p as u64, b: i });
                        i += 1;
                    }
                }
                i
            })
        })
        .collect();
    let mut checker = Checker::new(producers, name);
    start.wait();
    let t0 = Instant::now();
    let mut n = 0u64;
    while let Some(m) = C::recv(&mut rx) {
        checker.check(m);
        n += 1;
        if n % 1024 == 0 && t0.elapsed() >= dur {
            stop.store(true, Ordering::Relaxed);
        }
    }
    let elapsed = t0.elapsed();
    let sent: Vec<u64> = handles
        .into_iter()
        .map(|h| h.join().expect("producer panicked"))
        .collect();
    checker.finish(&sent);
    (n as f64 / elapsed.as_secs_f64(), n)
}

/// Round trips over two channels, both sides blocking. Returns one-way latencies in ns
/// (round trip / 2).
fn pingpong<C: Chan>(name: &'static str, rounds: usize) -> Vec<f64> {
    let (tx_ab, mut rx_ab) = C::new();
    let (tx_ba, mut rx_ba) = C::new();
    let echo = thread::spawn(move || {
        while let Some(m) = C::recv(&mut rx_ab) {
            C::send(&tx_ba, m);
        }
    });
    let warmup = rounds / 10 + 10;
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..(warmup + rounds) as u64 {
        let t0 = Instant::now();
        C::send(&tx_ab, Msg { a: i, b: 0 });
        let m = C::recv(&mut rx_ba).unwrap_or_else(|| panic!("{name}: echo gone"));
        let rtt = t0.elapsed();
        assert_eq!(m.a, i, "{name}: wrong echo");
        if i >= warmup as u64 {
            lat.push(rtt.as_nanos() as f64 / 2.0);
        }
    }
    drop(tx_ab);
    echo.join().expect("echo panicked");
    assert!(C::recv(&mut rx_ba).is_none(), "{name}: stray echo");
    lat
}

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Sleeps (no spinning) until `deadline`.
fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        thread::sleep(deadline - now);
    }
}

/// What one idle-wake run measured.
struct IdleRun {
    /// Send-to-receive latencies, ns.
    lat: Vec<f64>,
    /// The consumer thread's CPU time per message, ns.
    cpu_per_msg: f64,
}

/// A producer sends one message every `spacing`, the consumer sleeps in between.
fn idle_wake<C: Chan>(name: &'static str, msgs: usize, spacing: Duration) -> IdleRun {
    let (tx, mut rx) = C::new();
    let base = Instant::now();
    let consumer = thread::spawn(move || {
        let cpu0 = thread_cpu();
        let mut lat = Vec::with_capacity(msgs);
        for i in 0..msgs as u64 {
            let m = C::recv(&mut rx).unwrap_or_else(|| panic!("{name}: disconnected early"));
            let now = base.elapsed().as_nanos() as u64;
            assert_eq!(m.a, i, "{name}: wrong message");
            lat.push(now.saturating_sub(m.b) as f64);
        }
        assert!(C::recv(&mut rx).is_none(), "{name}: stray message");
        let cpu = thread_cpu() - cpu0;
        IdleRun {
            lat,
            cpu_per_msg: cpu.as_nanos() as f64 / msgs as f64,
        }
    });
    // Give the consumer time to fall asleep before the first message.
    thread::sleep(spacing * 5);
    let t0 = Instant::now();
    for i in 0..msgs as u64 {
        sleep_until(t0 + spacing * (i as u32 + 1));
        let b = base.elapsed().as_nanos() as u64;
        C::send(&tx, Msg { a: i, b });
    }
    drop(tx);
    consumer.join().expect("consumer panicked")
}

fn eventfd() -> OwnedFd {
    // SAFETY: plain syscall with valid flags; the result is checked before it is owned.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", io::Error::last_os_error());
    // SAFETY: a fresh fd nobody else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn efd_write(fd: RawFd, v: u64) {
    // SAFETY: writes 8 valid bytes to an eventfd we own.
    let n = unsafe { libc::write(fd, (&v as *const u64).cast(), 8) };
    assert_eq!(n, 8, "eventfd write: {}", io::Error::last_os_error());
}

/// Sleeps in `poll(2)` until `fd` is readable, then reads the counter.
fn efd_poll_read(fd: RawFd) -> u64 {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, -1) };
        if n == 1 {
            break;
        }
        assert_eq!(
            io::Error::last_os_error().kind(),
            io::ErrorKind::Interrupted
        );
    }
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into a u64 from an eventfd we own.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    assert_eq!(n, 8, "eventfd read: {}", io::Error::last_os_error());
    v
}

/// The physical reference for `idle_wake`: the producer stores the send time and writes 1
/// to an eventfd; the consumer sleeps in `poll(2)`, reads the counter, looks at the clock.
fn idle_wake_eventfd(msgs: usize, spacing: Duration) -> IdleRun {
    let efd = Arc::new(eventfd());
    let sent_at = Arc::new(AtomicU64::new(0));
    let base = Instant::now();
    let consumer = {
        let efd = efd.clone();
        let sent_at = sent_at.clone();
        thread::spawn(move || {
            let cpu0 = thread_cpu();
            let mut lat = Vec::with_capacity(msgs);
            let mut count = 0u64;
            while count < msgs as u64 {
                count += efd_poll_read(efd.as_raw_fd());
                let now = base.elapsed().as_nanos() as u64;
                lat.push(now.saturating_sub(sent_at.load(Ordering::Acquire)) as f64);
            }
            assert_eq!(count, msgs as u64, "raw eventfd: counter sum");
            let cpu = thread_cpu() - cpu0;
            IdleRun {
                cpu_per_msg: cpu.as_nanos() as f64 / msgs as f64,
                lat,
            }
        })
    };
    thread::sleep(spacing * 5);
    let t0 = Instant::now();
    for i in 0..msgs as u32 {
        sleep_until(t0 + spacing * (i + 1));
        sent_at.store(base.elapsed().as_nanos() as u64, Ordering::Release);
        efd_write(efd.as_raw_fd(), 1);
    }
    consumer.join().expect("consumer panicked")
}

/// The sleepers' floor for `pingpong`: two eventfds, both threads sleeping in `poll(2)`.
fn pingpong_eventfd(rounds: usize) -> Vec<f64> {
    let ab = Arc::new(eventfd());
    let ba = Arc::new(eventfd());
    let stop = Arc::new(AtomicBool::new(false));
    let echo = {
        let (ab, ba, stop) = (ab.clone(), ba.clone(), stop.clone());
        thread::spawn(move || loop {
            let v = efd_poll_read(ab.as_raw_fd());
            if stop.load(Ordering::Acquire) {
                return;
            }
            efd_write(ba.as_raw_fd(), v);
        })
    };
    let warmup = rounds / 10 + 10;
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..warmup + rounds {
        let t0 = Instant::now();
        efd_write(ab.as_raw_fd(), 1);
        let v = efd_poll_read(ba.as_raw_fd());
        let rtt = t0.elapsed();
        assert_eq!(v, 1, "raw eventfd pingpong");
        if i >= warmup {
            lat.push(rtt.as_nanos() as f64 / 2.0);
        }
    }
    stop.store(true, Ordering::Release);
    efd_write(ab.as_raw_fd(), 1);
    echo.join().expect("echo panicked");
    lat
}

// ------------------------------------------------------------------------------------------
// handler_push
// ------------------------------------------------------------------------------------------

/// The sender the SIGUSR1 handler pushes into.
static HANDLER_TX: AtomicPtr<sigring::Sender<Msg>> = AtomicPtr::new(std::ptr::null_mut());
/// Whether the handler pushes (`false`: it only looks at this flag, the baseline).
static HANDLER_PUSH: AtomicBool = AtomicBool::new(false);
/// The next sequence number to push (one thread: load + store, no RMW).
static PUSH_SEQ: AtomicU64 = AtomicU64::new(0);
/// Pushes that were rejected (must stay 0).
static PUSH_FAILED: AtomicU64 = AtomicU64::new(0);
/// Nanoseconds spent inside `try_send`, timed around each call (the cross-check).
static PUSH_TIMED_NS: AtomicU64 = AtomicU64::new(0);
/// Whether `push_one` times itself.
static PUSH_TIMING: AtomicBool = AtomicBool::new(false);

/// One push, as the plain loop and the handler both make it.
#[inline(always)]
fn push_one(tx: &sigring::Sender<Msg>) {
    let seq = PUSH_SEQ.load(Ordering::Relaxed);
    PUSH_SEQ.store(seq + 1, Ordering::Relaxed);
    let ok = if PUSH_TIMING.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let r = tx.try_send(Msg { a: 0, b: seq });
        let dt = t0.elapsed().as_nanos() as u64;
        PUSH_TIMED_NS.store(
            PUSH_TIMED_NS.load(Ordering::Relaxed) + dt,
            Ordering::Relaxed,
        );
        r.is_ok()
    } else {
        tx.try_send(Msg { a: 0, b: seq }).is_ok()
    };
    if !ok {
        PUSH_FAILED.store(PUSH_FAILED.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

extern "C" fn usr1_handler(_: libc::c_int) {
    if HANDLER_PUSH.load(Ordering::Relaxed) {
        let p = HANDLER_TX.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: the pointer is set to a live `Sender` before the signals are raised
            // and cleared (and the handler uninstalled) before it is dropped.
            push_one(unsafe { &*p });
        }
    }
}

fn set_usr1(handler: Option<extern "C" fn(libc::c_int)>) {
    // SAFETY: a zeroed sigaction is a valid starting point; we set the handler (or the
    // default disposition) and an empty mask; the handler only does async-signal-safe work.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler.map_or(libc::SIG_DFL, |h| h as usize);
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()),
            0,
            "sigaction"
        );
    }
}

fn raise_usr1(n: usize) {
    for _ in 0..n {
        // SAFETY: SIGUSR1 has our handler installed.
        unsafe { libc::raise(libc::SIGUSR1) };
    }
}

/// What one handler_push repetition measured, all in ns per push.
struct HandlerRun {
    plain: f64,
    raise_empty: f64,
    raise_push: f64,
    /// Median of the paired differences (pushing batch - the empty batch next to it).
    handler: f64,
    plain_timed: f64,
    handler_timed: f64,
}

/// `rounds` rounds of three batches of `batch`: plain `try_send` in a loop;
/// `raise(SIGUSR1)` whose handler only looks at a flag (the baseline); the same with the
/// flag set, so the handler makes one `try_send`. Toggling the flag needs no syscall, so the
/// baseline and the pushing batches alternate closely and their paired difference cancels
/// the (large, noisy) cost of raising and delivering the signal. The ring is drained after
/// each batch outside the timing by exactly the count pushed, so it never fills and the
/// receiver never arms its wake-up: no push makes a syscall (checked).
///
/// Then the cross-check: each `try_send` timed on its own with `Instant::now`, in plain
/// code and in the handler; the median over batches of the mean per batch.
fn handler_push(rounds: usize, batch: usize) -> HandlerRun {
    assert!(batch <= CAP);
    let (tx, rx) = sigring::channel::<Msg>(CAP).expect("channel");
    let mut next_expected = PUSH_SEQ.load(Ordering::Relaxed);
    let mut drain = |n: usize| {
        for _ in 0..n {
            let m = rx.try_recv().expect("handler_push: value missing");
            assert_eq!(m.b, next_expected, "handler_push: order");
            next_expected += 1;
        }
    };
    // A new channel starts armed (an event loop may poll it before any `try_recv`), so the
    // first push writes the fd once; take that write before anything is measured.
    push_one(&tx);
    drain(1);
    let writes_before = rx.wake_writes();
    let tx = Box::new(tx);
    let tx_ptr: *const sigring::Sender<Msg> = &*tx;
    HANDLER_TX.store(tx_ptr.cast_mut(), Ordering::Release);
    PUSH_FAILED.store(0, Ordering::Relaxed);
    set_usr1(Some(usr1_handler));
    let (mut plain, mut empty, mut pushed, mut diff) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let per = |t: Instant| t.elapsed().as_nanos() as f64 / batch as f64;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..batch {
            push_one(&tx);
        }
        plain.push(per(t));
        drain(batch);
        HANDLER_PUSH.store(false, Ordering::Relaxed);
        let t = Instant::now();
        raise_usr1(batch);
        let e = per(t);
        HANDLER_PUSH.store(true, Ordering::Relaxed);
        let t = Instant::now();
        raise_usr1(batch);
        let p = per(t);
        drain(batch);
        empty.push(e);
        pushed.push(p);
        diff.push(p - e);
    }
    // Cross-check, each call timed on its own.
    PUSH_TIMING.store(true, Ordering::Relaxed);
    let timed = |f: &mut dyn FnMut()| {
        PUSH_TIMED_NS.store(0, Ordering::Relaxed);
        f();
        PUSH_TIMED_NS.load(Ordering::Relaxed) as f64
    };
    let (mut plain_t, mut handler_t) = (Vec::new(), Vec::new());
    for _ in 0..rounds.div_ceil(4) {
        plain_t.push(
            timed(&mut || {
                for _ in 0..batch {
                    push_one(&tx);
                }
            }) / batch as f64,
        );
        drain(batch);
        handler_t.push(timed(&mut || raise_usr1(batch)) / batch as f64);
        drain(batch);
    }
    PUSH_TIMING.store(false, Ordering::Relaxed);
    set_usr1(None);
    HANDLER_PUSH.store(false, Ordering::Relaxed);
    HANDLER_TX.store(std::ptr::null_mut(), Ordering::Release);
    assert_eq!(PUSH_FAILED.load(Ordering::Relaxed), 0, "handler_push: Full");
    assert_eq!(
        rx.wake_writes() - writes_before,
        0,
        "handler_push: a push wrote the fd (the receiver was armed)"
    );
    drop(tx);
    HandlerRun {
        plain: median(&mut plain),
        raise_empty: median(&mut empty),
        raise_push: median(&mut pushed),
        handler: median(&mut diff),
        plain_timed: median(&mut plain_t),
        handler_timed: median(&mut handler_t),
    }
}

// ------------------------------------------------------------------------------------------
// syscalls (child processes under `perf stat`)
// ------------------------------------------------------------------------------------------

/// The tracepoints counted, if this kernel has them. `raw_syscalls:sys_enter` is every
/// syscall; the others give the breakdown.
const SYSCALL_EVENTS: [&str; 10] = [
    "raw_syscalls:sys_enter",
    "syscalls:sys_enter_write",
    "syscalls:sys_enter_read",
    "syscalls:sys_enter_futex",
    "syscalls:sys_enter_ppoll",
    "syscalls:sys_enter_poll",
    "syscalls:sys_enter_epoll_wait",
    "syscalls:sys_enter_epoll_pwait",
    "syscalls:sys_enter_sched_yield",
    "syscalls:sys_enter_clock_nanosleep",
];

/// Runs one scenario once in this (child) process and prints how many messages it moved:
/// `--child spsc PEER MILLISECONDS` or `--child idle PEER MESSAGES`.
fn child_main(args: &[String]) {
    let [scenario, peer, n] = args else {
        panic!("usage: --child spsc|idle PEER N");
    };
    let peer = Peer::from_key(peer).unwrap_or_else(|| panic!("unknown peer {peer}"));
    let n: u64 = n.parse().expect("N");
    let name = peer.name();
    let msgs = match scenario.as_str() {
        "spsc" => with_chan!(peer, throughput(name, 1, Duration::from_millis(n))).1,
        "idle" => {
            with_chan!(peer, idle_wake(name, n as usize, IDLE_SPACING));
            n
        }
        other => panic!("unknown child scenario {other}"),
    };
    println!("{msgs}");
}

/// Which perf tracepoints exist here; empty if `perf stat` cannot count them.
fn perf_events() -> Vec<&'static str> {
    let ok = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "true"])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .any(|l| l.contains("raw_syscalls:sys_enter") && !l.starts_with('<'))
        })
        .unwrap_or(false);
    if !ok {
        return Vec::new();
    }
    SYSCALL_EVENTS
        .iter()
        .copied()
        .filter(|e| {
            let Some(name) = e.strip_prefix("syscalls:") else {
                return true;
            };
            ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
                .iter()
                .any(|root| Path::new(&format!("{root}/events/syscalls/{name}")).exists())
        })
        .collect()
}

/// Runs `exe --child scenario peer n` under `perf stat`; returns the count per event and
/// the number of messages the child moved.
fn count_syscalls(
    events: &[&str],
    scenario: &str,
    peer: Peer,
    n: u64,
) -> (Vec<(String, f64)>, u64) {
    let exe = env::current_exe().expect("current_exe");
    let out = env::temp_dir().join(format!("sigring-bench-perf-{}.csv", std::process::id()));
    let child = Command::new("perf")
        .args(["stat", "-x", ",", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(events.join(","))
        .arg("--")
        .arg(&exe)
        .args(["--child", scenario, peer.key(), &n.to_string()])
        .output()
        .expect("perf stat");
    assert!(
        child.status.success(),
        "child {scenario} {} failed: {}",
        peer.key(),
        String::from_utf8_lossy(&child.stderr)
    );
    let msgs: u64 = String::from_utf8_lossy(&child.stdout)
        .trim()
        .parse()
        .expect("child message count");
    let text = fs::read_to_string(&out).expect("perf output");
    let _ = fs::remove_file(&out);
    let counts = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split(',');
            let value = f.next()?.trim().parse::<f64>().ok()?;
            let _unit = f.next()?;
            let event = f.next()?.trim().to_string();
            Some((event, value))
        })
        .collect();
    (counts, msgs)
}

/// Syscalls per message: the child runs twice, with `0` and with `n` (milliseconds for
/// spsc, messages for idle), and per message = (syscalls(n) - syscalls(0)) / (msgs(n) -
/// msgs(0)), so process and thread start-up cancel out. Returns the total (less the
/// `exclude`d events) and a short breakdown.
fn syscalls_per_msg(
    events: &[&str],
    scenario: &str,
    peer: Peer,
    n: u64,
    exclude: &[&str],
) -> (f64, String) {
    let (small, m_small) = count_syscalls(events, scenario, peer, 0);
    let (large, m_large) = count_syscalls(events, scenario, peer, n);
    let msgs = m_large.saturating_sub(m_small).max(1) as f64;
    let get =
        |v: &[(String, f64)], e: &str| v.iter().find(|(k, _)| k == e).map_or(0.0, |(_, x)| *x);
    let per = |e: &str| ((get(&large, e) - get(&small, e)) / msgs).max(0.0);
    let mut total = per("raw_syscalls:sys_enter");
    for e in exclude {
        total -= per(e);
    }
    let mut parts = Vec::new();
    for e in events.iter().skip(1) {
        let v = per(e);
        if v >= 0.0005 {
            let short = e.trim_start_matches("syscalls:sys_enter_");
            let note = if exclude.contains(e) {
                " (excluded)"
            } else {
                ""
            };
            parts.push(format!("{short} {}{note}", fmt_num(v)));
        }
    }
    (total.max(0.0), parts.join(", "))
}

// ------------------------------------------------------------------------------------------
// Results
// ------------------------------------------------------------------------------------------

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let idx = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[idx.min(v.len() - 1)]
}

struct Metric {
    key: &'static str,
    label: &'static str,
    higher_is_better: bool,
}

impl Metric {
    const fn new(key: &'static str, label: &'static str, higher_is_better: bool) -> Self {
        Metric {
            key,
            label,
            higher_is_better,
        }
    }
}

struct Row {
    peer: Peer,
    /// The label shown, when it is not the peer's name.
    label: Option<String>,
    /// Samples per metric (one per repetition), aligned with `Scenario::metrics`.
    samples: Vec<Vec<f64>>,
    note: String,
}

impl Row {
    fn label(&self) -> String {
        let base = self
            .label
            .clone()
            .unwrap_or_else(|| self.peer.name().to_string());
        if self.peer.is_reference() && self.peer != Peer::SigringAdaptive {
            format!("{base} (reference)")
        } else {
            base
        }
    }
}

struct Scenario {
    key: &'static str,
    title: String,
    about: String,
    metrics: Vec<Metric>,
    rows: Vec<Row>,
    load: String,
    seconds: f64,
}

impl Scenario {
    fn new(key: &'static str, title: String, about: String, metrics: Vec<Metric>) -> Self {
        Scenario {
            key,
            title,
            about,
            metrics,
            rows: Vec::new(),
            load: loadavg(),
            seconds: 0.0,
        }
    }

    fn row_mut(&mut self, peer: Peer, label: Option<&str>) -> &mut Row {
        let label = label.map(str::to_string);
        let i = match self
            .rows
            .iter()
            .position(|r| r.peer == peer && r.label == label)
        {
            Some(i) => i,
            None => {
                self.rows.push(Row {
                    peer,
                    label,
                    samples: (0..self.metrics.len()).map(|_| Vec::new()).collect(),
                    note: String::new(),
                });
                self.rows.len() - 1
            }
        };
        &mut self.rows[i]
    }

    fn add(&mut self, peer: Peer, label: Option<&str>, values: &[f64]) {
        let row = self.row_mut(peer, label);
        for (s, v) in row.samples.iter_mut().zip(values) {
            s.push(*v);
        }
    }

    /// (median, min, max) of a row's metric.
    fn stat(&self, peer: Peer, label: Option<&str>, metric: &str) -> Option<(f64, f64, f64)> {
        let m = self.metrics.iter().position(|x| x.key == metric)?;
        let row = self
            .rows
            .iter()
            .find(|r| r.peer == peer && r.label.as_deref() == label)?;
        stat(&row.samples[m])
    }
}

fn stat(samples: &[f64]) -> Option<(f64, f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    let med = median(&mut s);
    Some((med, s[0], s[s.len() - 1]))
}

/// A number with about three significant digits.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.4}")
    }
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

/// One target check for the summary.
struct Target {
    what: String,
    measured: String,
    met: Option<bool>,
}

// ------------------------------------------------------------------------------------------
// The runner
// ------------------------------------------------------------------------------------------

const HP_PLAIN: &str = "try_send, plain code";
const HP_HANDLER: &str = "try_send in a SIGUSR1 handler";

const IDLE_SPACING: Duration = Duration::from_micros(200);

struct Config {
    quick: bool,
    reps: usize,
    only: Option<Vec<String>>,
    peers: Option<Vec<String>>,
    scale: f64,
    out: Option<PathBuf>,
    proposal: bool,
}

impl Config {
    fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .map_or(true, |o| o.iter().any(|s| s == scenario))
    }

    fn peer_ok(&self, peer: Peer) -> bool {
        if peer == Peer::SigringEventfd {
            return true; // every ratio is taken against it
        }
        self.peers.as_ref().map_or(true, |ps| {
            ps.iter().any(|p| peer.key().contains(p.as_str()))
        })
    }

    fn n(&self, full: u64, quick: u64) -> u64 {
        let base = if self.quick { quick } else { full };
        ((base as f64 * self.scale) as u64).max(1)
    }
}

const HELP: &str = "\
sigring benchmarks against its peers (a purpose-built runner, not criterion).

USAGE: cargo bench --bench peers -- [OPTIONS]

OPTIONS:
  --quick            fewer repetitions and messages (about a minute)
  --reps N           repetitions per scenario (default 5, quick 3)
  --only LIST        comma-separated scenarios: spsc,mpsc2,mpsc4,pingpong,idle_wake,
                     syscalls,handler_push
  --peers LIST       comma-separated substrings of peer keys (sigring-eventfd always runs):
                     sigring-pipe,crossbeam-channel,flume,thingbuf,std,arrayqueue-mio,
                     mutex-condvar
  --scale F          multiply message counts by F
  --out DIR          write bench-results.{md,json} and the SVG charts there
                     (default: docs/ for a full run of every scenario and peer; otherwise
                     nothing is written unless --out is given)
  --no-save          write nothing, print only
  --with-proposal    add a row for the proposed adaptive-spin receive policy, emulated
                     with sigring's public API (an analysis aid, not a peer)
";

fn parse_args() -> Config {
    let mut cfg = Config {
        quick: false,
        reps: 0,
        only: None,
        peers: None,
        scale: 1.0,
        out: None,
        proposal: false,
    };
    let mut save = true;
    let mut explicit_out = false;
    let args: Vec<String> = env::args().skip(1).collect();
    let mut i = 0;
    let list = |s: &str| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .collect::<Vec<_>>()
    };
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .unwrap_or_else(|| panic!("{a} needs a value"))
        };
        match a {
            "--bench" => {}
            "--quick" => cfg.quick = true,
            "--reps" => cfg.reps = value().parse().expect("--reps N"),
            "--only" => cfg.only = Some(list(&value())),
            "--peers" => cfg.peers = Some(list(&value())),
            "--scale" => cfg.scale = value().parse().expect("--scale F"),
            "--out" => {
                cfg.out = Some(PathBuf::from(value()));
                explicit_out = true;
            }
            "--no-save" => save = false,
            "--with-proposal" => cfg.proposal = true,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            // `cargo bench` passes filters through; ignore anything else.
            _ => {}
        }
        i += 1;
    }
    if cfg.reps == 0 {
        cfg.reps = if cfg.quick { 3 } else { 5 };
    }
    if !explicit_out
        && cfg.only.is_none()
        && cfg.peers.is_none()
        && cfg.scale == 1.0
        && !cfg.proposal
    {
        cfg.out = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"));
    }
    if !save {
        cfg.out = None;
    }
    cfg
}

fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        child_main(&args[pos + 1..]);
        return;
    }
    let cfg = parse_args();
    let started = Instant::now();
    let load_start = loadavg();
    let mut channels: Vec<Peer> = CHANNELS
        .iter()
        .copied()
        .filter(|&p| cfg.peer_ok(p))
        .collect();
    if cfg.proposal {
        channels.push(Peer::SigringAdaptive);
    }
    let mut scenarios: Vec<Scenario> = Vec::new();
    progress(&format!(
        "reps {}, {} peers, load {load_start}",
        cfg.reps,
        channels.len()
    ));

    // 1, 2: throughput.
    for (key, producers) in [("spsc", 1usize), ("mpsc2", 2), ("mpsc4", 4)] {
        if !cfg.wants(key) {
            continue;
        }
        let dur = Duration::from_millis(cfg.n(400, 150));
        let mut sc = Scenario::new(
            key,
            format!("{key}: {producers} producer(s), throughput (Mmsg/s, higher is better)"),
            format!(
                "{producers} producer thread(s) send 16-byte messages as fast as they can for \
                 {} ms through a channel of capacity {CAP} (peers with only `try_send` retry \
                 with crossbeam's `Backoff::snooze`); the consumer blocks in `recv`. Order per \
                 producer and the count (received = sent) are checked.",
                dur.as_millis()
            ),
            vec![Metric::new("mmsg_s", "Mmsg/s", true)],
        );
        let t0 = Instant::now();
        let mut peers = channels.clone();
        if producers == 1 {
            peers.push(Peer::BareRing);
        }
        for rep in 0..cfg.reps {
            for &peer in &peers {
                let (rate, _) = with_chan!(peer, throughput(peer.name(), producers, dur));
                progress(&format!(
                    "{key} rep {rep} {:<28} {:>8} Mmsg/s",
                    peer.name(),
                    fmt_num(rate / 1e6)
                ));
                sc.add(peer, None, &[rate / 1e6]);
            }
        }
        sc.seconds = t0.elapsed().as_secs_f64();
        scenarios.push(sc);
    }

    // 3: pingpong.
    if cfg.wants("pingpong") {
        let rounds = cfg.n(20_000, 5_000) as usize;
        let mut sc = Scenario::new(
            "pingpong",
            "pingpong: one-way latency over two channels (us, lower is better)".into(),
            format!(
                "{rounds} round trips (after {} warm-up rounds) over two channels, both sides \
                 blocking in `recv`; one-way = round trip / 2. Each repetition gives a p50 and \
                 a p99; the table shows their median and min-max over repetitions.",
                rounds / 10 + 10
            ),
            vec![
                Metric::new("p50_us", "p50 (us)", false),
                Metric::new("p99_us", "p99 (us)", false),
            ],
        );
        let t0 = Instant::now();
        let mut peers = channels.clone();
        peers.push(Peer::RawEventfd);
        for rep in 0..cfg.reps {
            for &peer in &peers {
                let mut lat = if peer == Peer::RawEventfd {
                    pingpong_eventfd(rounds)
                } else {
                    with_chan!(peer, pingpong(peer.name(), rounds))
                };
                let p50 = percentile(&mut lat, 0.5) / 1e3;
                let p99 = percentile(&mut lat, 0.99) / 1e3;
                progress(&format!(
                    "pingpong rep {rep} {:<28} p50 {:>7} us  p99 {:>7} us",
                    peer.name(),
                    fmt_num(p50),
                    fmt_num(p99)
                ));
                sc.add(peer, None, &[p50, p99]);
            }
        }
        sc.seconds = t0.elapsed().as_secs_f64();
        scenarios.push(sc);
    }

    // 4: idle_wake.
    if cfg.wants("idle_wake") {
        let msgs = cfg.n(2_000, 500) as usize;
        let mut sc = Scenario::new(
            "idle_wake",
            "idle_wake: one message every 200 us to a sleeping consumer (lower is better)".into(),
            format!(
                "The producer sleeps until the next 200 us tick and sends {msgs} messages \
                 carrying their send time; the consumer blocks in `recv` and records \
                 receive time - send time, and its own thread CPU time \
                 (CLOCK_THREAD_CPUTIME_ID) per message. The reference row is the same with \
                 a bare eventfd: write(1) -> poll(2) + read(2)."
            ),
            vec![
                Metric::new("p50_us", "p50 (us)", false),
                Metric::new("p99_us", "p99 (us)", false),
                Metric::new("cpu_us_per_msg", "consumer CPU/msg (us)", false),
            ],
        );
        let t0 = Instant::now();
        let mut peers = channels.clone();
        peers.push(Peer::RawEventfd);
        for rep in 0..cfg.reps {
            for &peer in &peers {
                let mut run = if peer == Peer::RawEventfd {
                    idle_wake_eventfd(msgs, IDLE_SPACING)
                } else {
                    with_chan!(peer, idle_wake(peer.name(), msgs, IDLE_SPACING))
                };
                let p50 = percentile(&mut run.lat, 0.5) / 1e3;
                let p99 = percentile(&mut run.lat, 0.99) / 1e3;
                let cpu = run.cpu_per_msg / 1e3;
                progress(&format!(
                    "idle_wake rep {rep} {:<28} p50 {:>7} us  p99 {:>7} us  cpu {:>6} us/msg",
                    peer.name(),
                    fmt_num(p50),
                    fmt_num(p99),
                    fmt_num(cpu)
                ));
                sc.add(peer, None, &[p50, p99, cpu]);
            }
        }
        sc.seconds = t0.elapsed().as_secs_f64();
        scenarios.push(sc);
    }

    // 5: syscalls.
    if cfg.wants("syscalls") {
        let events = perf_events();
        let n_spsc = cfg.n(300, 150);
        let n_idle = cfg.n(400, 150);
        let reps = if cfg.quick { 1 } else { cfg.reps.min(3) };
        let mut sc = Scenario::new(
            "syscalls",
            "syscalls per message (lower is better)".into(),
            format!(
                "Each peer runs `spsc` and `idle_wake` once in a child process under \
                 `perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_*`, twice: an empty \
                 run (spsc for 0 ms, idle_wake with 0 messages) and a real one (spsc for \
                 {n_spsc} ms, idle_wake with {n_idle} messages). Per message = (syscalls of \
                 the real run - of the empty run) / (messages of the real run - of the empty \
                 run), so process and thread start-up cancel."
            ) + &format!(
                " In idle_wake the producer's own `clock_nanosleep` (one per message for \
                 everyone) is excluded. The breakdown (median repetition) names the \
                 syscalls. {reps} repetition(s)."
            ),
            vec![
                Metric::new("spsc", "spsc", false),
                Metric::new("idle_wake", "idle_wake", false),
            ],
        );
        let t0 = Instant::now();
        if events.is_empty() {
            sc.about
                .push_str("\n\n**Skipped: `perf stat` cannot count syscall tracepoints here.**");
            progress("syscalls: perf stat cannot count tracepoints here; skipped");
        } else {
            // Per peer: (spsc, idle) samples with their breakdowns.
            type Noted = Vec<(f64, String)>;
            let mut notes: Vec<(Peer, Noted, Noted)> = Vec::new();
            for rep in 0..reps {
                for &peer in &channels {
                    let (s, s_note) = syscalls_per_msg(&events, "spsc", peer, n_spsc, &[]);
                    let (i, i_note) = syscalls_per_msg(
                        &events,
                        "idle",
                        peer,
                        n_idle,
                        &["syscalls:sys_enter_clock_nanosleep"],
                    );
                    progress(&format!(
                        "syscalls rep {rep} {:<28} spsc {:>7}/msg  idle {:>7}/msg",
                        peer.name(),
                        fmt_num(s),
                        fmt_num(i)
                    ));
                    sc.add(peer, None, &[s, i]);
                    match notes.iter_mut().find(|(p, _, _)| *p == peer) {
                        Some((_, a, b)) => {
                            a.push((s, s_note));
                            b.push((i, i_note));
                        }
                        None => notes.push((peer, vec![(s, s_note)], vec![(i, i_note)])),
                    }
                }
            }
            for (peer, mut a, mut b) in notes {
                a.sort_by(|x, y| x.0.total_cmp(&y.0));
                b.sort_by(|x, y| x.0.total_cmp(&y.0));
                let note = format!("spsc: {}; idle: {}", a[a.len() / 2].1, b[b.len() / 2].1);
                sc.row_mut(peer, None).note = note;
            }
        }
        sc.seconds = t0.elapsed().as_secs_f64();
        scenarios.push(sc);
    }

    // 6: handler_push.
    if cfg.wants("handler_push") {
        let rounds = cfg.n(2_000, 500) as usize;
        let batch = 100;
        let mut sc = Scenario::new(
            "handler_push",
            "handler_push: one try_send from a signal handler vs from plain code (ns, lower is better)"
                .into(),
            format!(
                "sigring (eventfd). {rounds} rounds of three batches of {batch}: plain \
                 `try_send` in a loop; `raise(SIGUSR1)` whose handler only tests a flag \
                 (baseline); the same with the flag set, the handler making one `try_send`. \
                 In-handler cost = median over rounds of (pushing batch - baseline batch), \
                 i.e. the cost of raising and delivering the signal is subtracted. The ring is \
                 drained outside the timing by exactly the count pushed, so it never fills and \
                 the receiver never arms its wake-up (no push makes a syscall; checked). The \
                 `timed` column is a cross-check: each `try_send` timed on its own with \
                 `Instant::now` (two clock reads included), in plain code and in the handler."
            ),
            vec![
                Metric::new("ns", "ns per push", false),
                Metric::new("timed_ns", "timed (ns, incl. 2 clock reads)", false),
            ],
        );
        let t0 = Instant::now();
        for rep in 0..cfg.reps {
            let r = handler_push(rounds, batch);
            progress(&format!(
                "handler_push rep {rep}: plain {} ns, handler {} ns (raise+flag {} ns, \
                 raise+push {} ns); timed: plain {} ns, handler {} ns",
                fmt_num(r.plain),
                fmt_num(r.handler),
                fmt_num(r.raise_empty),
                fmt_num(r.raise_push),
                fmt_num(r.plain_timed),
                fmt_num(r.handler_timed)
            ));
            let p = Peer::SigringEventfd;
            sc.add(p, Some(HP_PLAIN), &[r.plain, r.plain_timed]);
            sc.add(p, Some(HP_HANDLER), &[r.handler, r.handler_timed]);
            sc.add(
                p,
                Some("raise + pushing handler (raw)"),
                &[r.raise_push, f64::NAN],
            );
            sc.add(
                p,
                Some("raise + flag-only handler (baseline)"),
                &[r.raise_empty, f64::NAN],
            );
        }
        sc.seconds = t0.elapsed().as_secs_f64();
        scenarios.push(sc);
    }

    let load_end = loadavg();
    let targets = targets(&scenarios);
    let meta = Meta::collect(&cfg, load_start, load_end, started.elapsed().as_secs_f64());
    let md = markdown(&meta, &scenarios, &targets);
    println!("{md}");
    if let Some(dir) = &cfg.out {
        fs::create_dir_all(dir).expect("create output dir");
        let json_path = dir.join("bench-results.json");
        fs::write(dir.join("bench-results.md"), &md).expect("write markdown");
        fs::write(&json_path, json(&meta, &scenarios, &targets)).expect("write json");
        match chart::render_files(&json_path, dir) {
            Ok(files) => {
                for f in files {
                    progress(&format!("wrote {}", f.display()));
                }
            }
            Err(e) => progress(&format!("chart: {e}")),
        }
        progress(&format!(
            "wrote {} and {}",
            dir.join("bench-results.md").display(),
            json_path.display()
        ));
    }
}

/// Where and how the run was made.
struct Meta {
    date_unix: u64,
    cpu: String,
    cpus: usize,
    kernel: String,
    rustc: String,
    command: String,
    reps: usize,
    quick: bool,
    load_start: String,
    load_end: String,
    seconds: f64,
}

impl Meta {
    fn collect(cfg: &Config, load_start: String, load_end: String, seconds: f64) -> Meta {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        let run = |cmd: &str, args: &[&str]| {
            Command::new(cmd)
                .args(args)
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_else(|| "?".into())
        };
        let mut command = String::from("cargo bench --bench peers");
        let extra: Vec<String> = env::args().skip(1).filter(|a| a != "--bench").collect();
        if !extra.is_empty() {
            command.push_str(" -- ");
            command.push_str(&extra.join(" "));
        }
        Meta {
            date_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            cpu,
            cpus: thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: run("uname", &["-r"]),
            rustc: run(
                &env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
                &["-V"],
            ),
            command,
            reps: cfg.reps,
            quick: cfg.quick,
            load_start,
            load_end,
            seconds,
        }
    }
}

/// The issue's targets, checked against this run.
fn targets(scenarios: &[Scenario]) -> Vec<Target> {
    let find = |k: &str| scenarios.iter().find(|s| s.key == k);
    let me = Peer::SigringEventfd;
    let mut out = Vec::new();
    for key in ["spsc", "mpsc2", "mpsc4"] {
        let Some(sc) = find(key) else { continue };
        let Some((mine, _, _)) = sc.stat(me, None, "mmsg_s") else {
            continue;
        };
        let best = sc
            .rows
            .iter()
            .filter(|r| {
                !r.peer.is_reference()
                    && !matches!(r.peer, Peer::SigringEventfd | Peer::SigringPipe)
            })
            .filter_map(|r| stat(&r.samples[0]).map(|s| (r.peer, s.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((bp, bv)) = best {
            out.push(Target {
                what: format!("{key}: sigring (eventfd) ahead of every peer (median)"),
                measured: format!(
                    "{} vs best peer {} {} Mmsg/s: {}x",
                    fmt_num(mine),
                    bp.name(),
                    fmt_num(bv),
                    fmt_num(mine / bv)
                ),
                met: Some(mine > bv),
            });
        }
        if key == "spsc" {
            if let Some((ceil, _, _)) = sc.stat(Peer::BareRing, None, "mmsg_s") {
                out.push(Target {
                    what: "spsc: at least half the bare two-thread ring ceiling".into(),
                    measured: format!(
                        "{} vs ceiling {} Mmsg/s: {}x",
                        fmt_num(mine),
                        fmt_num(ceil),
                        fmt_num(mine / ceil)
                    ),
                    met: Some(mine >= ceil / 2.0),
                });
            }
        }
    }
    if let Some(sc) = find("pingpong") {
        if let (Some((mine, _, _)), Some((cb, _, _))) = (
            sc.stat(me, None, "p50_us"),
            sc.stat(Peer::Crossbeam, None, "p50_us"),
        ) {
            out.push(Target {
                what: "pingpong p50: within 1.3x of crossbeam-channel".into(),
                measured: format!(
                    "{} vs {} us: {}x",
                    fmt_num(mine),
                    fmt_num(cb),
                    fmt_num(mine / cb)
                ),
                met: Some(mine <= cb * 1.3),
            });
        }
    }
    if let Some(sc) = find("idle_wake") {
        if let (Some((mine, _, _)), Some((raw, _, _))) = (
            sc.stat(me, None, "p50_us"),
            sc.stat(Peer::RawEventfd, None, "p50_us"),
        ) {
            out.push(Target {
                what: "idle_wake p50: within 1.1x of the raw eventfd".into(),
                measured: format!(
                    "{} vs {} us: {}x",
                    fmt_num(mine),
                    fmt_num(raw),
                    fmt_num(mine / raw)
                ),
                met: Some(mine <= raw * 1.1),
            });
        }
        if let Some((mine, _, _)) = sc.stat(me, None, "cpu_us_per_msg") {
            let lowest = sc
                .rows
                .iter()
                .filter(|r| !r.peer.is_reference() && r.peer != me)
                .filter_map(|r| stat(&r.samples[2]).map(|s| (r.peer, s.0)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((lp, lv)) = lowest {
                out.push(Target {
                    what: "idle_wake consumer CPU/msg: no more than the lowest peer's".into(),
                    measured: format!(
                        "{} vs {} {} us: {}x",
                        fmt_num(mine),
                        lp.name(),
                        fmt_num(lv),
                        fmt_num(mine / lv)
                    ),
                    met: Some(mine <= lv),
                });
            }
        }
    }
    if let Some(sc) = find("syscalls") {
        if let Some((mine, _, _)) = sc.stat(me, None, "spsc") {
            let mio = sc.stat(Peer::AqMio, None, "spsc").map(|s| s.0);
            out.push(Target {
                what: "syscalls at saturation (spsc): at most 0.01 per message".into(),
                measured: format!(
                    "{}/msg (ArrayQueue + mio::Waker: {})",
                    fmt_num(mine),
                    mio.map_or("-".into(), fmt_num)
                ),
                met: Some(mine <= 0.01),
            });
        }
    }
    if let Some(sc) = find("handler_push") {
        let plain = sc.stat(me, Some(HP_PLAIN), "ns");
        let handler = sc.stat(me, Some(HP_HANDLER), "ns");
        if let (Some((p, _, _)), Some((h, _, _))) = (plain, handler) {
            out.push(Target {
                what: "handler_push: within 2x of a plain-context try_send".into(),
                measured: format!("{} vs {} ns: {}x", fmt_num(h), fmt_num(p), fmt_num(h / p)),
                met: Some(h <= 2.0 * p),
            });
        }
    }
    out
}

fn markdown(meta: &Meta, scenarios: &[Scenario], targets: &[Target]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# sigring benchmark results\n");
    let _ = writeln!(
        md,
        "Generated by `{}` (see [benchmarks.md](benchmarks.md) for the method). \
         Machine: {}, {} CPUs, Linux {}, {}. {} repetition(s){}, peers interleaved. \
         Load average (1/5/15 min) at start: {}, at end: {}. Took {:.0} s.\n",
        meta.command,
        meta.cpu,
        meta.cpus,
        meta.kernel,
        meta.rustc,
        meta.reps,
        if meta.quick { ", quick mode" } else { "" },
        meta.load_start,
        meta.load_end,
        meta.seconds
    );
    let _ = writeln!(
        md,
        "Cells: median (min–max) over repetitions. Capacity {CAP} everywhere. \
         Ratios are against sigring (eventfd).\n"
    );
    let summary = summary_table(scenarios);
    if !summary.is_empty() {
        let _ = writeln!(md, "## Summary (medians)\n");
        md.push_str(&summary);
        md.push('\n');
    }
    if !targets.is_empty() {
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "| target | measured | met |\n|---|---|---|");
        for t in targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "-",
            };
            let _ = writeln!(md, "| {} | {} | {met} |", t.what, t.measured);
        }
        md.push('\n');
    }
    for sc in scenarios {
        let _ = writeln!(md, "## {}\n", sc.title);
        let _ = writeln!(
            md,
            "{} Load at start: {}; {:.0} s.\n",
            sc.about, sc.load, sc.seconds
        );
        let reference = sc
            .stat(Peer::SigringEventfd, None, sc.metrics[0].key)
            .map(|s| s.0);
        let mut header = String::from("| peer |");
        let mut rule = String::from("|---|");
        for m in &sc.metrics {
            let _ = write!(header, " {} |", m.label);
            rule.push_str("---:|");
        }
        let ratio = reference.is_some() && sc.key != "handler_push";
        if ratio {
            let _ = write!(header, " {} ÷ sigring |", sc.metrics[0].label);
            rule.push_str("---:|");
        }
        let notes = sc.rows.iter().any(|r| !r.note.is_empty());
        if notes {
            header.push_str(" breakdown per message |");
            rule.push_str("---|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for row in &sc.rows {
            let mut line = format!("| {} |", md_escape(&row.label()));
            for s in &row.samples {
                match stat(s) {
                    Some((m, lo, hi)) if m.is_finite() => {
                        if s.len() > 1 {
                            let _ =
                                write!(line, " {} ({}–{}) |", fmt_num(m), fmt_num(lo), fmt_num(hi));
                        } else {
                            let _ = write!(line, " {} |", fmt_num(m));
                        }
                    }
                    _ => line.push_str(" - |"),
                }
            }
            if ratio {
                match (stat(&row.samples[0]), reference) {
                    (Some((m, _, _)), Some(r)) if r != 0.0 => {
                        let _ = write!(line, " {}x |", fmt_num(m / r));
                    }
                    _ => line.push_str(" - |"),
                }
            }
            if notes {
                let _ = write!(line, " {} |", row.note);
            }
            let _ = writeln!(md, "{line}");
        }
        md.push('\n');
    }
    md
}

/// One row per peer, one column per headline number: what the README shows.
fn summary_table(scenarios: &[Scenario]) -> String {
    let cols: [(&str, &str, &str); 7] = [
        ("spsc", "mmsg_s", "spsc Mmsg/s"),
        ("mpsc2", "mmsg_s", "mpsc2 Mmsg/s"),
        ("mpsc4", "mmsg_s", "mpsc4 Mmsg/s"),
        ("pingpong", "p50_us", "pingpong p50 µs"),
        ("idle_wake", "p50_us", "idle wake p50 µs"),
        ("idle_wake", "cpu_us_per_msg", "idle CPU/msg µs"),
        ("syscalls", "spsc", "syscalls/msg (spsc)"),
    ];
    let present: Vec<_> = cols
        .iter()
        .filter(|(k, _, _)| scenarios.iter().any(|s| s.key == *k))
        .collect();
    if present.is_empty() {
        return String::new();
    }
    let mut peers: Vec<Peer> = Vec::new();
    for sc in scenarios {
        for r in &sc.rows {
            if r.label.is_none() && !peers.contains(&r.peer) {
                peers.push(r.peer);
            }
        }
    }
    let mut out = String::from("| |");
    let mut rule = String::from("|---|");
    for (_, _, label) in &present {
        let _ = write!(out, " {label} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "\n{rule}");
    for peer in peers {
        let name = if peer.is_reference() && peer != Peer::SigringAdaptive {
            format!("{} (reference)", peer.name())
        } else {
            peer.name().to_string()
        };
        let _ = write!(out, "| {} |", md_escape(&name));
        for (key, metric, _) in &present {
            let v = scenarios
                .iter()
                .find(|s| s.key == *key)
                .and_then(|s| s.stat(peer, None, metric));
            match v {
                Some((m, _, _)) if m.is_finite() => {
                    let _ = write!(out, " {} |", fmt_num(m));
                }
                _ => out.push_str(" |"),
            }
        }
        out.push('\n');
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}

fn json(meta: &Meta, scenarios: &[Scenario], targets: &[Target]) -> String {
    let mut j = String::from("{\n");
    let _ = writeln!(
        j,
        "  \"meta\": {{\"date_unix\": {}, \"cpu\": {}, \"cpus\": {}, \"kernel\": {}, \
         \"rustc\": {}, \"command\": {}, \"reps\": {}, \"quick\": {}, \"capacity\": {CAP}, \
         \"load_start\": {}, \"load_end\": {}, \"seconds\": {}}},",
        meta.date_unix,
        json_str(&meta.cpu),
        meta.cpus,
        json_str(&meta.kernel),
        json_str(&meta.rustc),
        json_str(&meta.command),
        meta.reps,
        meta.quick,
        json_str(&meta.load_start),
        json_str(&meta.load_end),
        json_num(meta.seconds)
    );
    j.push_str("  \"scenarios\": [\n");
    for (si, sc) in scenarios.iter().enumerate() {
        let _ = write!(
            j,
            "    {{\"key\": {}, \"title\": {}, \"about\": {}, \"load\": {}, \"seconds\": {},\n     \"metrics\": [",
            json_str(sc.key),
            json_str(&sc.title),
            json_str(&sc.about),
            json_str(&sc.load),
            json_num(sc.seconds)
        );
        for (mi, m) in sc.metrics.iter().enumerate() {
            let _ = write!(
                j,
                "{}{{\"key\": {}, \"label\": {}, \"higher_is_better\": {}}}",
                if mi > 0 { ", " } else { "" },
                json_str(m.key),
                json_str(m.label),
                m.higher_is_better
            );
        }
        j.push_str("],\n     \"rows\": [\n");
        for (ri, row) in sc.rows.iter().enumerate() {
            let _ = write!(
                j,
                "       {{\"peer\": {}, \"label\": {}, \"reference\": {}, \"note\": {}, \"values\": {{",
                json_str(row.peer.key()),
                json_str(&row.label()),
                row.peer.is_reference(),
                json_str(&row.note)
            );
            for (mi, (m, s)) in sc.metrics.iter().zip(&row.samples).enumerate() {
                let (med, lo, hi) = stat(s).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
                let samples: Vec<String> = s.iter().map(|v| json_num(*v)).collect();
                let _ = write!(
                    j,
                    "{}{}: {{\"median\": {}, \"min\": {}, \"max\": {}, \"samples\": [{}]}}",
                    if mi > 0 { ", " } else { "" },
                    json_str(m.key),
                    json_num(med),
                    json_num(lo),
                    json_num(hi),
                    samples.join(", ")
                );
            }
            let _ = writeln!(j, "}}}}{}", if ri + 1 < sc.rows.len() { "," } else { "" });
        }
        let _ = writeln!(
            j,
            "     ]}}{}",
            if si + 1 < scenarios.len() { "," } else { "" }
        );
    }
    j.push_str("  ],\n  \"targets\": [\n");
    for (ti, t) in targets.iter().enumerate() {
        let _ = writeln!(
            j,
            "    {{\"target\": {}, \"measured\": {}, \"met\": {}}}{}",
            json_str(&t.what),
            json_str(&t.measured),
            t.met.map_or("null".into(), |m| m.to_string()),
            if ti + 1 < targets.len() { "," } else { "" }
        );
    }
    j.push_str("  ]\n}\n");
    j
}
