//! `storm`: the main sigring demo.
//!
//! A *sender* thread calls `try_send` in a tight loop. A *signaller* thread aims signals at
//! it with `pthread_kill` at `--rate` per second, and the signal handler `try_send`s into the
//! SAME channel, so handlers regularly interrupt a `try_send` half-way. A *consumer* thread
//! drains with `recv`. Every value is tagged with its source (thread or handler) and a
//! per-source sequence number, so the consumer checks per-source order, and at the end the
//! books must balance: received + rejected == attempted. A *watchdog* thread reports a
//! deadlock if nothing moves for 2 s.
//!
//! `--mutex` runs the same load against a `Mutex<VecDeque>` queue whose handler takes the
//! lock. As soon as a signal lands while the sender thread holds the lock, the handler
//! waits for a lock that the code it interrupted can never release: the watchdog reports
//! the deadlock and exits instead of hanging.
//!
//! ```text
//! cargo run --release --example storm [-- FLAGS]
//!   --rate HZ            signals per second aimed at the sender thread (default 20000)
//!   --duration SECS      how long to run, fractions allowed (default 5)
//!   --capacity N         channel capacity: 1, 16, 64, 256, 1024 or 4096 (default 1024)
//!   --backend B          auto | eventfd | pipe (default auto)
//!   --mutex              the same load on a Mutex<VecDeque> (expected to deadlock)
//! ```
//!
//! Exit codes: 0 all checks passed; 1 a check failed or a system call failed;
//! 2 bad flags; 3 the watchdog detected a deadlock (the expected end of `--mutex`).
//!
//! The signal is a real-time signal (`SIGRTMIN`) on Linux, so signals queue instead of
//! merging and every `pthread_kill` becomes one handler run; elsewhere it is `SIGUSR1`,
//! whose pending instances may merge (the summary shows sent and delivered separately).
//! Only the sender thread leaves the signal unblocked, so handlers run only there.
//!
//! The channel is a [`StaticChannel`]: the handler calls `try_send` on the static itself,
//! with no pointer to publish and no unsafe code. A static's capacity is part of its type,
//! so `--capacity` chooses among a few statics, one per size on offer.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::io;
use std::mem::{self, MaybeUninit};
use std::process;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use libc::{c_int, siginfo_t};
use sigring::{Backend, Receiver, Sender, StaticChannel, TrySendError};

const USAGE: &str = "\
usage: storm [--rate HZ] [--duration SECS] [--capacity N] [--backend auto|eventfd|pipe] [--mutex]

  --rate HZ          signals per second aimed at the sender thread, 1..=1000000 (default 20000)
  --duration SECS    how long to run, 0 < SECS <= 3600, fractions allowed (default 5)
  --capacity N       channel capacity: 1, 16, 64, 256, 1024 or 4096 (default 1024)
  --backend B        sigring wake-up backend: auto, eventfd or pipe (default auto)
  --mutex            run the same load on a Mutex<VecDeque> queue instead (expected to
                     deadlock; the watchdog reports it and exits with code 3)
  -h, --help         print this help

exit codes: 0 all checks passed, 1 a check or system call failed, 2 bad flags,
            3 deadlock detected";

const EXIT_FAILED: i32 = 1;
const EXIT_USAGE: i32 = 2;
const EXIT_DEADLOCK: i32 = 3;

/// No progress for this long is reported as a deadlock.
const STALL: Duration = Duration::from_secs(2);
/// After the signaller stops, how long the sender keeps running so that signals still
/// queued for it are delivered.
const DRAIN_SIGNALS: Duration = Duration::from_secs(1);
/// The most signals the signaller sends in one go when it has fallen behind.
const MAX_BURST: u64 = 1000;

/// Values sent by the handler carry this bit; the low 63 bits are the sequence number.
const HANDLER_BIT: u64 = 1 << 63;
/// The sender thread's last value, sent after its loop: the consumer's end. A static
/// channel never disconnects (the static can always send), so the end is in-band. As a
/// handler sequence number it is one no run can reach.
const END: u64 = u64::MAX;

// ---------------------------------------------------------------------------------------
// Command line

#[derive(Debug)]
struct Config {
    rate: u64,
    duration: Duration,
    capacity: usize,
    backend: Option<Backend>,
    mutex: bool,
}

/// `Ok(None)`: help was asked for.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Config>, String> {
    let mut cfg = Config {
        rate: 20_000,
        duration: Duration::from_secs(5),
        capacity: 1024,
        backend: None,
        mutex: false,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--mutex" if inline.is_none() => cfg.mutex = true,
            "--rate" => {
                let v = value("--rate")?;
                cfg.rate = match v.parse::<u64>() {
                    Ok(r) if (1..=1_000_000).contains(&r) => r,
                    _ => return Err(format!("--rate: expected 1..=1000000 signals/s, got {v:?}")),
                };
            }
            "--duration" => {
                let v = value("--duration")?;
                cfg.duration = match v.parse::<f64>() {
                    Ok(s) if s > 0.0 && s <= 3600.0 => Duration::from_secs_f64(s),
                    _ => {
                        return Err(format!(
                            "--duration: expected seconds in (0, 3600], got {v:?}"
                        ))
                    }
                };
            }
            "--capacity" => {
                let v = value("--capacity")?;
                cfg.capacity = match v.parse::<usize>() {
                    Ok(c) if CAPACITIES.contains(&c) => c,
                    _ => {
                        return Err(format!(
                            "--capacity: expected one of {CAPACITIES:?}, got {v:?}"
                        ))
                    }
                };
            }
            "--backend" => {
                let v = value("--backend")?;
                cfg.backend = Some(match v.as_str() {
                    "auto" => Backend::Auto,
                    "eventfd" => Backend::EventFd,
                    "pipe" => Backend::Pipe,
                    _ => {
                        return Err(format!(
                            "--backend: expected auto, eventfd or pipe, got {v:?}"
                        ))
                    }
                });
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if cfg.mutex && cfg.backend.is_some() {
        return Err("--backend has no effect with --mutex (there is no sigring channel)".into());
    }
    Ok(Some(cfg))
}

// ---------------------------------------------------------------------------------------
// Shared state. Statics, because the signal handler can reach nothing else.

/// Counters; each is written by one context (noted) and read by the others.
struct Counters {
    /// `pthread_kill` calls that succeeded / failed (signaller).
    kills_ok: AtomicU64,
    kills_failed: AtomicU64,
    /// Handler runs: signals delivered (handler).
    delivered: AtomicU64,
    /// Handler sends: attempted (also the next sequence number), sent, full, disconnected.
    h_attempts: AtomicU64,
    h_sent: AtomicU64,
    h_full: AtomicU64,
    h_disconnected: AtomicU64,
    /// Sender thread sends, the same four (sender thread).
    t_attempts: AtomicU64,
    t_sent: AtomicU64,
    t_full: AtomicU64,
    t_disconnected: AtomicU64,
    /// Values received, `rx.wakeups()`, `rx.wake_writes()` (consumer).
    received: AtomicU64,
    wakeups: AtomicU64,
    wake_writes: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

static C: Counters = Counters {
    kills_ok: ZERO,
    kills_failed: ZERO,
    delivered: ZERO,
    h_attempts: ZERO,
    h_sent: ZERO,
    h_full: ZERO,
    h_disconnected: ZERO,
    t_attempts: ZERO,
    t_sent: ZERO,
    t_full: ZERO,
    t_disconnected: ZERO,
    received: ZERO,
    wakeups: ZERO,
    wake_writes: ZERO,
};

static STOP_SIGNALLER: AtomicBool = AtomicBool::new(false);
static STOP_SENDER: AtomicBool = AtomicBool::new(false);
/// Set by the sender thread after its last push (`--mutex`: the consumer's end condition).
static SENDER_FINISHED: AtomicBool = AtomicBool::new(false);
/// Set by main when every thread is joined: the watchdog stops watching.
static DONE: AtomicBool = AtomicBool::new(false);

// ---------------------------------------------------------------------------------------
// The sigring channel. The capacity of a `StaticChannel` is a type parameter, so the
// capacity chosen on the command line picks one of these statics; the others stay unused
// (no fd, nothing sent). `RING_CAPACITY` says which, for the handler.

/// The capacities `--capacity` offers: one static channel each.
const CAPACITIES: [usize; 6] = [1, 16, 64, 256, 1024, 4096];

static RING_1: StaticChannel<u64, 1> = StaticChannel::new();
static RING_16: StaticChannel<u64, 16> = StaticChannel::new();
static RING_64: StaticChannel<u64, 64> = StaticChannel::new();
static RING_256: StaticChannel<u64, 256> = StaticChannel::new();
static RING_1024: StaticChannel<u64, 1024> = StaticChannel::new();
static RING_4096: StaticChannel<u64, 4096> = StaticChannel::new();

/// The capacity of the static in use, one of `CAPACITIES`; stored by `run` before any
/// thread that can run the handler exists.
static RING_CAPACITY: AtomicUsize = AtomicUsize::new(0);

/// `try_send` on the static in use. Async-signal-safe: a relaxed load, then
/// `StaticChannel::try_send`.
fn ring_try_send(value: u64) -> Result<(), TrySendError<u64>> {
    match RING_CAPACITY.load(Ordering::Relaxed) {
        1 => RING_1.try_send(value),
        16 => RING_16.try_send(value),
        64 => RING_64.try_send(value),
        256 => RING_256.try_send(value),
        1024 => RING_1024.try_send(value),
        4096 => RING_4096.try_send(value),
        // Not reached: `run` stores a capacity from `CAPACITIES` before the handler can
        // run. Refused like a channel without a receiver, since a handler must not panic.
        _ => Err(TrySendError::Disconnected(value)),
    }
}

/// Selects the static of `capacity` (one of `CAPACITIES`) for the handler, and takes its
/// receiver and a sender for the sender thread.
fn ring_open(capacity: usize, backend: Backend) -> io::Result<(Sender<u64>, Receiver<u64>)> {
    fn open<const N: usize>(
        chan: &'static StaticChannel<u64, N>,
        backend: Backend,
    ) -> io::Result<(Sender<u64>, Receiver<u64>)> {
        let rx = chan.receiver_with(backend)?;
        RING_CAPACITY.store(N, Ordering::Relaxed);
        Ok((chan.sender(), rx))
    }
    match capacity {
        1 => open(&RING_1, backend),
        16 => open(&RING_16, backend),
        64 => open(&RING_64, backend),
        256 => open(&RING_256, backend),
        1024 => open(&RING_1024, backend),
        4096 => open(&RING_4096, backend),
        // Not reached: `parse_args` accepts only `CAPACITIES`.
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no static channel of capacity {capacity}"),
        )),
    }
}

/// `--mutex`: the naive queue, bounded at `MQ_CAP` values.
static MQ: Mutex<VecDeque<u64>> = Mutex::new(VecDeque::new());
static MQ_CAP: AtomicUsize = AtomicUsize::new(0);
/// `--mutex`: who is waiting in `MQ.lock()` right now, for the deadlock diagnosis. The
/// lock has three users: the sender thread, the handler (which runs only on the sender
/// thread) and the consumer. If the handler and the consumer both wait, the holder can only
/// be the sender thread's own code, which the handler interrupted.
static HANDLER_IN_LOCK: AtomicBool = AtomicBool::new(false);
static CONSUMER_IN_LOCK: AtomicBool = AtomicBool::new(false);

// ---------------------------------------------------------------------------------------
// Signal handlers. Only atomics and `try_send` (or, in the mutex demo, the deliberate
// `lock()`): no printing, no allocation, nothing that can panic.

/// sigring mode: count, then `try_send` a tagged value into the channel the interrupted
/// thread is itself sending into: straight into the static, nothing to look up or free.
extern "C" fn on_signal_ring(_sig: c_int, _info: *mut siginfo_t, _ctx: *mut c_void) {
    C.delivered.fetch_add(1, Ordering::Relaxed);
    let seq = C.h_attempts.fetch_add(1, Ordering::Relaxed);
    match ring_try_send(HANDLER_BIT | seq) {
        Ok(()) => C.h_sent.fetch_add(1, Ordering::Relaxed),
        Err(TrySendError::Full(_)) => C.h_full.fetch_add(1, Ordering::Relaxed),
        Err(TrySendError::Disconnected(_)) => C.h_disconnected.fetch_add(1, Ordering::Relaxed),
    };
}

/// `--mutex` mode: the same, into a `Mutex<VecDeque>`. `lock()` is NOT async-signal-safe:
/// if the interrupted code holds the lock, this waits forever. That is the demonstration.
/// (The queue's buffer is reserved up front, so the handler does not also allocate.)
extern "C" fn on_signal_mutex(_sig: c_int, _info: *mut siginfo_t, _ctx: *mut c_void) {
    C.delivered.fetch_add(1, Ordering::Relaxed);
    let seq = C.h_attempts.fetch_add(1, Ordering::Relaxed);
    HANDLER_IN_LOCK.store(true, Ordering::Relaxed);
    let mut q = MQ.lock().unwrap_or_else(PoisonError::into_inner);
    HANDLER_IN_LOCK.store(false, Ordering::Relaxed);
    if q.len() < MQ_CAP.load(Ordering::Relaxed) {
        q.push_back(HANDLER_BIT | seq);
        C.h_sent.fetch_add(1, Ordering::Relaxed);
    } else {
        C.h_full.fetch_add(1, Ordering::Relaxed);
    }
}

type Handler = extern "C" fn(c_int, *mut siginfo_t, *mut c_void);

/// The signal the storm is made of: queued real-time signals where they exist.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn storm_signal() -> c_int {
    libc::SIGRTMIN()
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn storm_signal() -> c_int {
    libc::SIGUSR1
}

fn install_handler(sig: c_int, handler: Handler) -> io::Result<()> {
    // SAFETY: `libc::sigaction` is a plain C struct for which all-zero bytes is a valid
    // value (no handler, no flags, an empty mask on every libc we build for).
    let mut sa: libc::sigaction = unsafe { mem::zeroed() };
    sa.sa_sigaction = handler as libc::sighandler_t;
    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: `sa.sa_mask` is valid, writable storage for a `sigset_t`.
    unsafe { libc::sigemptyset(&mut sa.sa_mask) };
    // SAFETY: `sa` is fully initialized, a null old-action pointer is allowed, and the
    // handler, an `extern "C"` fn with the SA_SIGINFO signature, only does what its doc
    // says (atomics and `try_send`, or the deliberate lock of the mutex demo).
    if unsafe { libc::sigaction(sig, &sa, ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Blocks or unblocks `sig` for the calling thread.
fn set_blocked(sig: c_int, blocked: bool) -> io::Result<()> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: `set` is writable storage for a `sigset_t`; `sigemptyset` initializes it.
    unsafe { libc::sigemptyset(set.as_mut_ptr()) };
    // SAFETY: `set` was initialized by `sigemptyset` just above.
    let mut set = unsafe { set.assume_init() };
    // SAFETY: `set` is an initialized `sigset_t` and `sig` a valid signal number.
    unsafe { libc::sigaddset(&mut set, sig) };
    let how = if blocked {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: `set` is initialized; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(how, &set, ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// The sender thread's id, handed to the signaller.
struct Target(libc::pthread_t);

// SAFETY: a `pthread_t` is an identifier valid in every thread of the process; the
// signaller only passes it to `pthread_kill`, and main stops the signaller before the
// target thread can exit.
unsafe impl Send for Target {}

// ---------------------------------------------------------------------------------------
// Threads

/// Whether the sender thread may stop: asked to, and every signal sent to it has been
/// handled (or `DRAIN_SIGNALS` has passed since it was asked).
fn sender_may_stop(asked_at: &mut Option<Instant>) -> bool {
    if !STOP_SENDER.load(Ordering::Relaxed) {
        return false;
    }
    let since = *asked_at.get_or_insert_with(Instant::now);
    C.delivered.load(Ordering::Relaxed) >= C.kills_ok.load(Ordering::Relaxed)
        || since.elapsed() >= DRAIN_SIGNALS
}

/// sigring mode: `try_send` in a tight loop, with the signal unblocked so handlers
/// interrupt it (often in the middle of a `try_send`). `try_send` and not `send` on
/// purpose: the loop is the target, and `Full` is part of the bookkeeping.
fn ring_sender(tx: Sender<u64>, sig: c_int, ready: mpsc::Sender<Target>) -> io::Result<()> {
    set_blocked(sig, false)?;
    // SAFETY: `pthread_self` has no preconditions.
    let _ = ready.send(Target(unsafe { libc::pthread_self() }));

    let (mut seq, mut sent, mut full, mut disconnected) = (0u64, 0u64, 0u64, 0u64);
    let mut asked_at = None;
    while !sender_may_stop(&mut asked_at) {
        match tx.try_send(seq) {
            Ok(()) => {
                sent += 1;
                C.t_sent.store(sent, Ordering::Relaxed);
            }
            Err(TrySendError::Full(_)) => {
                full += 1;
                C.t_full.store(full, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => {
                disconnected += 1;
                C.t_disconnected.store(disconnected, Ordering::Relaxed);
            }
        }
        seq += 1;
        C.t_attempts.store(seq, Ordering::Relaxed);
    }

    // The signal is blocked again on the only thread where the handler runs, so nothing
    // is sent after `END`. `send` waits for room: the end is never refused as `Full`
    // (and, unlike `try_send`, not counted in `full_rejections`).
    set_blocked(sig, true)?;
    tx.send(END)
        .map_err(|_| io::Error::other("the consumer is gone"))
}

/// `--mutex` mode: the same loop on the mutex queue.
fn mutex_sender(sig: c_int, ready: mpsc::Sender<Target>) -> io::Result<()> {
    set_blocked(sig, false)?;
    // SAFETY: `pthread_self` has no preconditions.
    let _ = ready.send(Target(unsafe { libc::pthread_self() }));
    let cap = MQ_CAP.load(Ordering::Relaxed);

    let (mut seq, mut sent, mut full) = (0u64, 0u64, 0u64);
    let mut asked_at = None;
    while !sender_may_stop(&mut asked_at) {
        {
            let mut q = MQ.lock().unwrap_or_else(PoisonError::into_inner);
            if q.len() < cap {
                q.push_back(seq);
                sent += 1;
            } else {
                full += 1;
            }
        }
        seq += 1;
        C.t_sent.store(sent, Ordering::Relaxed);
        C.t_full.store(full, Ordering::Relaxed);
        C.t_attempts.store(seq, Ordering::Relaxed);
    }
    set_blocked(sig, true)?;
    SENDER_FINISHED.store(true, Ordering::Release);
    Ok(())
}

/// `pthread_kill` at `rate` per second, paced against the clock: it sends whatever is due,
/// then sleeps briefly.
fn signaller(target: Target, sig: c_int, rate: u64) {
    let start = Instant::now();
    let mut sent = 0u64;
    while !STOP_SIGNALLER.load(Ordering::Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        let until = due.min(sent + MAX_BURST);
        while sent < until {
            // SAFETY: `target.0` names the sender thread, which main keeps alive until
            // this thread has stopped; `sig` is a valid signal number.
            let rc = unsafe { libc::pthread_kill(target.0, sig) };
            if rc != 0 {
                // EAGAIN: the queue of pending real-time signals is full. Retry later.
                C.kills_failed.fetch_add(1, Ordering::Relaxed);
                break;
            }
            sent += 1;
            C.kills_ok.fetch_add(1, Ordering::Relaxed);
        }
        thread::sleep(Duration::from_micros(100));
    }
}

/// Per-source order and exactly-once bookkeeping, on the consumer side.
#[derive(Debug, Default)]
struct OrderCheck {
    /// Index 0: the sender thread; 1: the handler.
    last: [Option<u64>; 2],
    count: [u64; 2],
    violations: u64,
    /// (source, previous sequence, this sequence) of the first violation.
    first_violation: Option<(usize, u64, u64)>,
}

impl OrderCheck {
    fn observe(&mut self, value: u64) {
        let source = (value >> 63) as usize;
        let seq = value & !HANDLER_BIT;
        if let Some(prev) = self.last[source] {
            if seq <= prev {
                self.violations += 1;
                self.first_violation.get_or_insert((source, prev, seq));
            }
        }
        self.last[source] = Some(seq);
        self.count[source] += 1;
    }

    fn total(&self) -> u64 {
        self.count[0] + self.count[1]
    }
}

/// What the consumer learned; wake-up figures only in sigring mode.
#[derive(Debug)]
struct ConsumerReport {
    order: OrderCheck,
    dropped: Option<u64>,
    wakeups: Option<u64>,
    wake_writes: Option<u64>,
}

fn ring_consumer(rx: Receiver<u64>) -> ConsumerReport {
    let mut order = OrderCheck::default();
    // A static channel never disconnects: `END` from the sender thread ends the loop.
    while let Ok(value) = rx.recv() {
        if value == END {
            break;
        }
        order.observe(value);
        C.received.store(order.total(), Ordering::Relaxed);
        C.wakeups.store(rx.wakeups(), Ordering::Relaxed);
        C.wake_writes.store(rx.wake_writes(), Ordering::Relaxed);
    }
    // Nothing is sent after `END`: the counts are final.
    C.wakeups.store(rx.wakeups(), Ordering::Relaxed);
    C.wake_writes.store(rx.wake_writes(), Ordering::Relaxed);
    ConsumerReport {
        order,
        dropped: Some(rx.full_rejections()),
        wakeups: Some(rx.wakeups()),
        wake_writes: Some(rx.wake_writes()),
    }
}

/// `--mutex`: take everything queued under the lock, check it outside; poll when empty.
fn mutex_consumer() -> ConsumerReport {
    let mut order = OrderCheck::default();
    let mut batch = Vec::with_capacity(MQ_CAP.load(Ordering::Relaxed));
    loop {
        let finished = SENDER_FINISHED.load(Ordering::Acquire);
        CONSUMER_IN_LOCK.store(true, Ordering::Relaxed);
        let mut q = MQ.lock().unwrap_or_else(PoisonError::into_inner);
        CONSUMER_IN_LOCK.store(false, Ordering::Relaxed);
        batch.extend(q.drain(..)); // `batch` has room for `MQ_CAP` values: no allocation
        drop(q);
        if batch.is_empty() {
            if finished {
                break;
            }
            thread::yield_now();
            continue;
        }
        for value in batch.drain(..) {
            order.observe(value);
        }
        C.received.store(order.total(), Ordering::Relaxed);
    }
    ConsumerReport {
        order,
        dropped: None,
        wakeups: None,
        wake_writes: None,
    }
}

/// The sum of everything that moves while the demo makes progress.
fn progress() -> u64 {
    C.t_attempts.load(Ordering::Relaxed)
        + C.delivered.load(Ordering::Relaxed)
        + C.received.load(Ordering::Relaxed)
}

/// Reports a deadlock when nothing moves for `STALL`, and ends the process.
fn watchdog(mutex: bool, start: Instant) {
    let mut last = progress();
    let mut last_change = Instant::now();
    while !DONE.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(100));
        let now = progress();
        if now != last {
            last = now;
            last_change = Instant::now();
            continue;
        }
        if last_change.elapsed() < STALL || DONE.load(Ordering::Relaxed) {
            continue;
        }
        let snap = Snapshot::take();
        let stuck_at = last_change.duration_since(start).as_secs_f64();
        println!();
        let handler_waits = HANDLER_IN_LOCK.load(Ordering::Relaxed);
        let consumer_waits = CONSUMER_IN_LOCK.load(Ordering::Relaxed);
        if mutex && handler_waits && consumer_waits {
            println!(
                "deadlock detected: the signal handler blocked on the mutex held by the code \
                 it interrupted"
            );
            println!(
                "  no progress since {stuck_at:.2} s: the handler and the consumer both wait in \
                 lock(), so the holder is the sender thread itself, suspended under its own \
                 handler; it can release the lock only after the handler returns"
            );
        } else if mutex {
            println!(
                "deadlock detected: no progress for {:.1} s (since {stuck_at:.2} s); waiting \
                 in lock(): handler {handler_waits}, consumer {consumer_waits}",
                STALL.as_secs_f64()
            );
        } else {
            println!(
                "deadlock detected: no progress for {:.1} s (since {stuck_at:.2} s)",
                STALL.as_secs_f64()
            );
        }
        println!(
            "  at that point: signals delivered {}, sent {} (thread {}, handler {}), \
             received {}, rejected as full {}",
            snap.delivered,
            snap.t_sent + snap.h_sent,
            snap.t_sent,
            snap.h_sent,
            snap.received,
            snap.t_full + snap.h_full
        );
        println!("deadlocks: 1 (exit code {EXIT_DEADLOCK})");
        process::exit(EXIT_DEADLOCK);
    }
}

// ---------------------------------------------------------------------------------------
// Reporting

#[derive(Clone, Copy, Debug, Default)]
struct Snapshot {
    at: Option<Instant>,
    kills_ok: u64,
    kills_failed: u64,
    delivered: u64,
    h_attempts: u64,
    h_sent: u64,
    h_full: u64,
    h_disconnected: u64,
    t_attempts: u64,
    t_sent: u64,
    t_full: u64,
    t_disconnected: u64,
    received: u64,
    wakeups: u64,
    wake_writes: u64,
}

impl Snapshot {
    fn take() -> Self {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            at: Some(Instant::now()),
            kills_ok: l(&C.kills_ok),
            kills_failed: l(&C.kills_failed),
            delivered: l(&C.delivered),
            h_attempts: l(&C.h_attempts),
            h_sent: l(&C.h_sent),
            h_full: l(&C.h_full),
            h_disconnected: l(&C.h_disconnected),
            t_attempts: l(&C.t_attempts),
            t_sent: l(&C.t_sent),
            t_full: l(&C.t_full),
            t_disconnected: l(&C.t_disconnected),
            received: l(&C.received),
            wakeups: l(&C.wakeups),
            wake_writes: l(&C.wake_writes),
        }
    }
}

/// Per-second rate of `now - before` over `secs`.
fn per_sec(now: u64, before: u64, secs: f64) -> u64 {
    if secs <= 0.0 {
        return 0;
    }
    (now.saturating_sub(before) as f64 / secs).round() as u64
}

fn print_progress(start: Instant, prev: &Snapshot, now: &Snapshot, mutex: bool) {
    let (Some(t0), Some(t1)) = (prev.at, now.at) else {
        return;
    };
    let dt = t1.duration_since(t0).as_secs_f64();
    let wake = if mutex {
        String::new()
    } else {
        format!(
            " | wake-ups {} (writes {})",
            now.wakeups - prev.wakeups,
            now.wake_writes - prev.wake_writes
        )
    };
    println!(
        "[{:5.1} s] signals {:>6}/s | sent {:>8}/s (thread {:>8}, handler {:>6}) | received \
         {:>8}/s | full {:>9}/s{wake}",
        t1.duration_since(start).as_secs_f64(),
        per_sec(now.delivered, prev.delivered, dt),
        per_sec(now.t_sent + now.h_sent, prev.t_sent + prev.h_sent, dt),
        per_sec(now.t_sent, prev.t_sent, dt),
        per_sec(now.h_sent, prev.h_sent, dt),
        per_sec(now.received, prev.received, dt),
        per_sec(now.t_full + now.h_full, prev.t_full + prev.h_full, dt),
    );
}

/// Prints the summary and the checks; returns whether every check passed.
fn print_summary(s: &Snapshot, report: &ConsumerReport, elapsed: Duration) -> bool {
    let secs = elapsed.as_secs_f64();
    let rate = |n: u64| (n as f64 / secs).round() as u64;
    let sent = s.t_sent + s.h_sent;
    let full = s.t_full + s.h_full;
    let disconnected = s.t_disconnected + s.h_disconnected;
    let attempted = s.t_attempts + s.h_attempts;
    let received = report.order.total();

    println!();
    println!("summary");
    println!("  elapsed:              {secs:.2} s");
    println!(
        "  signals sent:         {} (pthread_kill), {} refused (EAGAIN: queue full)",
        s.kills_ok, s.kills_failed
    );
    println!(
        "  signals delivered:    {} handler runs, {}/s",
        s.delivered,
        rate(s.delivered)
    );
    println!(
        "  sent:                 {sent} (thread {}, handler {})",
        s.t_sent, s.h_sent
    );
    println!(
        "  received:             {received}, {}/s (thread {}, handler {})",
        rate(received),
        report.order.count[0],
        report.order.count[1]
    );
    println!(
        "  rejected as full:     {full} (thread {}, handler {})",
        s.t_full, s.h_full
    );
    match (report.wakeups, report.wake_writes) {
        (Some(w), Some(ww)) => println!(
            "  wake-ups:             {w} (rx.wakeups()), {ww} fd writes (rx.wake_writes())"
        ),
        _ => println!("  wake-ups:             n/a (the mutex queue's consumer polls)"),
    }
    println!("  deadlocks: 0");

    println!();
    println!("checks");
    let mut ok = true;
    let mut check = |name: &str, pass: bool, detail: String| {
        ok &= pass;
        println!(
            "  {name}: {} ({detail})",
            if pass { "ok" } else { "FAILED" }
        );
    };
    check(
        "per-source order",
        report.order.violations == 0,
        match report.order.first_violation {
            None => {
                format!("thread and handler sequences strictly increasing over {received} values")
            }
            Some((src, prev, seq)) => format!(
                "{} violations; first: {} sequence {seq} after {prev}",
                report.order.violations,
                if src == 0 { "thread" } else { "handler" }
            ),
        },
    );
    check(
        "each value received exactly once",
        report.order.count == [s.t_sent, s.h_sent],
        format!(
            "received thread {} of {} sent, handler {} of {} sent",
            report.order.count[0], s.t_sent, report.order.count[1], s.h_sent
        ),
    );
    check(
        "received + rejected == attempted",
        received + full + disconnected == attempted,
        format!(
            "{received} + {full}{} == {attempted}",
            if disconnected > 0 {
                format!(" + {disconnected} disconnected")
            } else {
                String::new()
            }
        ),
    );
    if let Some(dropped) = report.dropped {
        check(
            "rx.full_rejections() == rejected as full",
            dropped == full,
            format!("{dropped} == {full}"),
        );
    }
    if s.delivered != s.kills_ok {
        println!(
            "  note: {} of {} signals were delivered (the rest were still pending, or merged)",
            s.delivered, s.kills_ok
        );
    }
    ok
}

// ---------------------------------------------------------------------------------------
// main

fn main() {
    let cfg = match parse_args(std::env::args().skip(1)) {
        Ok(Some(cfg)) => cfg,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(msg) => {
            eprintln!("storm: {msg}\n\n{USAGE}");
            process::exit(EXIT_USAGE);
        }
    };
    let code = match run(&cfg) {
        Ok(true) => 0,
        Ok(false) => EXIT_FAILED,
        Err((code, msg)) => {
            eprintln!("storm: {msg}");
            code
        }
    };
    process::exit(code);
}

/// An exit code and what to print.
type Failure = (i32, String);

fn sys(what: &str) -> impl FnOnce(io::Error) -> Failure + '_ {
    move |e| (EXIT_FAILED, format!("{what}: {e}"))
}

fn run(cfg: &Config) -> Result<bool, Failure> {
    let sig = storm_signal();
    // Block the signal here, before any thread exists: every thread inherits the mask, and
    // only the sender thread unblocks it. So handlers run on that thread only, and a stray
    // process-directed signal cannot reach a thread without a handler context.
    set_blocked(sig, true).map_err(sys("pthread_sigmask"))?;

    // The consumer and the sender thread, per mode.
    let (ready_tx, ready_rx) = mpsc::channel::<Target>();
    let (consumer, sender, what) = if cfg.mutex {
        MQ.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_reserve_exact(cfg.capacity)
            .map_err(|e| (EXIT_USAGE, format!("--capacity {}: {e}", cfg.capacity)))?;
        MQ_CAP.store(cfg.capacity, Ordering::Relaxed);
        install_handler(sig, on_signal_mutex).map_err(sys("sigaction"))?;
        let consumer = spawn("consumer", mutex_consumer)?;
        let sender = spawn("sender", move || mutex_sender(sig, ready_tx))?;
        (consumer, sender, "Mutex<VecDeque<u64>>".to_string())
    } else {
        let (tx, rx) = ring_open(cfg.capacity, cfg.backend.unwrap_or(Backend::Auto))
            .map_err(sys("cannot create the channel"))?;
        let what = format!("sigring, backend {:?}", rx.backend());
        install_handler(sig, on_signal_ring).map_err(sys("sigaction"))?;
        let consumer = spawn("consumer", move || ring_consumer(rx))?;
        let sender = spawn("sender", move || ring_sender(tx, sig, ready_tx))?;
        (consumer, sender, what)
    };
    let target = match ready_rx.recv() {
        Ok(target) => target,
        Err(_) => {
            let err = match sender.join() {
                Ok(Err(e)) => e.to_string(),
                _ => "it ended before starting".to_string(),
            };
            return Err((EXIT_FAILED, format!("sender thread: {err}")));
        }
    };

    println!(
        "storm: {what}, capacity {}, {} signals/s (signal {sig}) at a thread that is itself \
         sending, handler sending into the same queue, for {:.1} s",
        cfg.capacity,
        cfg.rate,
        cfg.duration.as_secs_f64()
    );
    if cfg.mutex {
        println!(
            "(--mutex: expected to deadlock; the watchdog reports it after {} s without \
             progress and exits with code {EXIT_DEADLOCK})",
            STALL.as_secs()
        );
    }

    let start = Instant::now();
    let mutex = cfg.mutex;
    let watchdog = spawn("watchdog", move || watchdog(mutex, start))?;
    let rate = cfg.rate;
    let signaller = spawn("signaller", move || signaller(target, sig, rate))?;

    // Progress, once a second.
    let end = start + cfg.duration;
    let mut prev = Snapshot {
        at: Some(start),
        ..Snapshot::default()
    };
    for tick in 1u32.. {
        let wake = (start + Duration::from_secs(u64::from(tick))).min(end);
        if let Some(left) = wake.checked_duration_since(Instant::now()) {
            thread::sleep(left);
        }
        let now = Snapshot::take();
        print_progress(start, &prev, &now, cfg.mutex);
        prev = now;
        if wake >= end {
            break;
        }
    }

    // Stop in dependency order: no signal may be aimed at a thread that has exited.
    STOP_SIGNALLER.store(true, Ordering::Relaxed);
    join("signaller", signaller)?;
    STOP_SENDER.store(true, Ordering::Relaxed);
    join("sender", sender)?.map_err(sys("sender thread"))?;
    let report = join("consumer", consumer)?;
    let elapsed = start.elapsed();
    DONE.store(true, Ordering::Relaxed);
    join("watchdog", watchdog)?;

    let snap = Snapshot::take();
    if cfg.mutex {
        println!("\n(no deadlock this run: no signal landed while the sender held the lock)");
    }
    Ok(print_summary(&snap, &report, elapsed))
}

fn spawn<T: Send + 'static>(
    name: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<thread::JoinHandle<T>, Failure> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .map_err(|e| (EXIT_FAILED, format!("cannot spawn the {name} thread: {e}")))
}

fn join<T>(name: &str, handle: thread::JoinHandle<T>) -> Result<T, Failure> {
    handle
        .join()
        .map_err(|_| (EXIT_FAILED, format!("the {name} thread panicked")))
}
