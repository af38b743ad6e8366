//! Model-based test: a seeded random sequence of operations on one thread, every result
//! checked against a plain `VecDeque` model.
//!
//! Operations: `try_send` through a random live `Sender`, `try_recv`, `recv_timeout(0)`,
//! `try_iter` draining, cloning and dropping senders, and dropping the receiver. Checked
//! after every step: the exact result (`Ok` value, `Full`, `Empty`, `Timeout`,
//! `Disconnected`, with the rejected value handed back), `dropped()`, `len()`,
//! `is_empty()`, `is_full()`, `is_disconnected()`, that every value is alive exactly while
//! the model says it is queued (so `Receiver::drop` drops what was queued, once), and the
//! wake-up accounting of the waker module's state table: with one thread the flag is
//! deterministic (`ARMED` at the start and after an `Empty` or `Timeout`, `SIGNALED`
//! after the next publish or the last sender's disconnect), so `wake_writes()` and the fd's
//! readability are predicted exactly. In particular a consumer that has not found the
//! channel empty makes producers write nothing, and a token is read when the consumer
//! re-arms.
//!
//! Capacities 1 to 17, both backends. The generator is a xorshift64*; a failure message
//! names the seed, and `SIGRING_MODEL_SEED=<n>` replays one seed for every capacity and
//! backend; `SIGRING_MODEL_EPISODES=<n>` runs more episodes. Under miri the number of steps is cut so that it stays fast.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use sigring::{Backend, Builder, Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};

/// Episodes per capacity and backend; `SIGRING_MODEL_EPISODES` raises it (CI's verify
/// stage runs ten times as many in release).
#[cfg(not(miri))]
const EPISODES: u64 = 40;
#[cfg(not(miri))]
const STEPS: usize = 1000;
#[cfg(miri)]
const EPISODES: u64 = 1;
#[cfg(miri)]
const STEPS: usize = 60;

/// Runs `f` on this thread; aborts the process with a message if it takes longer than
/// `secs` (a hang must fail the test, not stall CI).
fn with_watchdog(secs: u64, f: impl FnOnce()) {
    let (done, wait) = mpsc::channel::<()>();
    let dog = thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = wait.recv_timeout(Duration::from_secs(secs)) {
            eprintln!("model_based: watchdog: no progress for {secs} s, aborting");
            std::process::abort();
        }
    });
    f();
    drop(done);
    dog.join().unwrap();
}

/// xorshift64*: small, fast, and good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Any nonzero state works; mix the seed so that nearby seeds differ at once.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0 .. n` (`n > 0`); the bias is irrelevant here.
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A value that counts itself in `live` while it exists.
#[derive(Debug)]
struct Val {
    id: u64,
    live: Arc<AtomicUsize>,
}

impl Val {
    fn new(id: u64, live: &Arc<AtomicUsize>) -> Val {
        live.fetch_add(1, Ordering::Relaxed);
        Val {
            id,
            live: live.clone(),
        }
    }
}

impl Drop for Val {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The wake flag as the waker module's state table defines it. (`IDLE` is reached only
/// when a value turns up between arming and the re-check, which takes a second thread.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flag {
    Armed,
    Signaled,
}

/// The model: what the channel must contain and report.
struct Model {
    cap: usize,
    queue: VecDeque<u64>,
    dropped: u64,
    flag: Flag,
    /// A token is in the fd.
    token: bool,
    writes: u64,
}

impl Model {
    /// A publish or the last disconnect: the `ARMED -> SIGNALED` winner writes.
    fn notify(&mut self) {
        if self.flag == Flag::Armed {
            self.flag = Flag::Signaled;
            self.token = true;
            self.writes += 1;
        }
    }

    /// The consumer found nothing: arm (reading an outstanding token first).
    fn arm(&mut self) {
        match self.flag {
            Flag::Signaled => {
                if self.token {
                    self.token = false;
                    self.flag = Flag::Armed;
                }
            }
            Flag::Armed => {}
        }
    }
}

/// What one operation is expected to return, derived from the model before it runs.
fn expect_recv(model: &mut Model, senders_alive: bool) -> Result<u64, TryRecvError> {
    if let Some(v) = model.queue.pop_front() {
        return Ok(v);
    }
    model.arm();
    if senders_alive {
        Err(TryRecvError::Empty)
    } else {
        Err(TryRecvError::Disconnected)
    }
}

#[cfg(not(miri))]
fn fd_readable(rx: &Receiver<Val>) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
    n == 1
}

/// How often each outcome occurred, so that a run that never reached one fails.
#[derive(Debug, Default)]
struct Stats {
    sent: u64,
    full: u64,
    send_disconnected: u64,
    received: u64,
    empty: u64,
    timeout: u64,
    recv_disconnected: u64,
    receiver_dropped_with_values: u64,
    wake_writes: u64,
}

fn episode(backend: Backend, cap: usize, seed: u64, stats: &mut Stats) {
    let ctx = format!("backend {backend:?}, capacity {cap}, seed {seed}");
    let mut rng = Rng::new(seed);
    let live = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = Builder::new(cap)
        .backend(backend)
        .build::<Val>()
        .unwrap_or_else(|e| panic!("{ctx}: build: {e}"));
    assert_eq!(rx.capacity(), cap);
    let mut senders: Vec<Sender<Val>> = vec![tx];
    let mut rx: Option<Receiver<Val>> = Some(rx);
    let mut model = Model {
        cap,
        queue: VecDeque::new(),
        dropped: 0,
        // A new channel starts armed (an event loop may poll it before any `try_recv`).
        flag: Flag::Armed,
        token: false,
        writes: 0,
    };
    let mut next_id = 0u64;
    // Per episode, a different balance of sends and receives, so that some episodes run
    // full most of the time and others empty.
    // Weights per mille: sends vary from 20% to 80% of the steps.
    let send_weight = 200 + rng.below(600) as u64;
    // Once a side is gone, only a few more steps are interesting.
    let mut steps_left_after_disconnect = 24;

    for step in 0..STEPS {
        let here = format!("{ctx}, step {step}");
        if senders.is_empty() || rx.is_none() {
            if steps_left_after_disconnect == 0 {
                break;
            }
            steps_left_after_disconnect -= 1;
        }
        let roll = rng.below(1000) as u64;
        if roll < send_weight {
            // try_send through a random live sender.
            if senders.is_empty() {
                continue;
            }
            let i = rng.below(senders.len());
            let id = next_id;
            next_id += 1;
            let result = senders[i].try_send(Val::new(id, &live));
            if rx.is_none() {
                match result {
                    Err(TrySendError::Disconnected(v)) => {
                        assert_eq!(v.id, id, "{here}");
                        stats.send_disconnected += 1;
                    }
                    other => panic!("{here}: receiver gone, got {other:?}"),
                }
            } else if model.queue.len() == model.cap {
                match result {
                    Err(TrySendError::Full(v)) => assert_eq!(v.id, id, "{here}"),
                    other => panic!("{here}: channel full, got {other:?}"),
                }
                model.dropped += 1;
                stats.full += 1;
            } else {
                assert!(result.is_ok(), "{here}: room for it, got {result:?}");
                stats.sent += 1;
                model.queue.push_back(id);
                model.notify();
            }
        } else if roll < send_weight + 120 {
            // try_recv
            let Some(r) = rx.as_ref() else { continue };
            let want = expect_recv(&mut model, !senders.is_empty());
            let got = r.try_recv().map(|v| v.id);
            assert_eq!(got, want, "{here}: try_recv");
            stats.count(&got);
        } else if roll < send_weight + 160 {
            // recv_timeout(0): like try_recv, but Timeout instead of Empty.
            let Some(r) = rx.as_ref() else { continue };
            let want = expect_recv(&mut model, !senders.is_empty()).map_err(|e| match e {
                TryRecvError::Empty => RecvTimeoutError::Timeout,
                TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
            });
            let got = r.recv_timeout(Duration::ZERO).map(|v| v.id);
            assert_eq!(got, want, "{here}: recv_timeout(0)");
            match got {
                Ok(_) => stats.received += 1,
                Err(RecvTimeoutError::Timeout) => stats.timeout += 1,
                Err(RecvTimeoutError::Disconnected) => stats.recv_disconnected += 1,
            }
        } else if roll < send_weight + 180 {
            // Drain with try_iter: everything queued, in order, then one arming Empty (or
            // the Disconnected that ends it).
            let Some(r) = rx.as_ref() else { continue };
            let got: Vec<u64> = r.try_iter().map(|v| v.id).collect();
            let want: Vec<u64> = model.queue.drain(..).collect();
            assert_eq!(got, want, "{here}: try_iter");
            stats.received += got.len() as u64;
            model.arm();
        } else if roll < send_weight + 200 {
            // Clone a sender.
            if senders.is_empty() || senders.len() >= 6 {
                continue;
            }
            let i = rng.below(senders.len());
            let c = senders[i].clone();
            senders.push(c);
        } else if roll < send_weight + 206 {
            // Drop a sender; the last one disconnects and wakes the consumer.
            if senders.is_empty() {
                continue;
            }
            let i = rng.below(senders.len());
            drop(senders.swap_remove(i));
            if senders.is_empty() && rx.is_some() {
                model.notify();
            }
        } else if roll < send_weight + 208 {
            // Drop the receiver: queued values are dropped with it, once.
            if rx.take().is_none() {
                continue;
            }
            if !model.queue.is_empty() {
                stats.receiver_dropped_with_values += 1;
            }
            model.queue.clear();
        } else {
            // Observe only (the remaining probability mass): a no-op step that still
            // runs the checks below.
        }

        // Checks after every step.
        assert_eq!(
            live.load(Ordering::Relaxed),
            model.queue.len(),
            "{here}: values alive vs queued (lost, leaked or double-dropped)"
        );
        for s in &senders {
            assert_eq!(s.len(), model.queue.len(), "{here}: Sender::len");
            assert_eq!(s.is_empty(), model.queue.is_empty(), "{here}: is_empty");
            assert_eq!(s.is_full(), model.queue.len() == cap, "{here}: is_full");
            assert_eq!(s.capacity(), cap);
        }
        if let Some(r) = rx.as_ref() {
            stats.wake_writes = stats.wake_writes.max(r.wake_writes());
            assert_eq!(r.len(), model.queue.len(), "{here}: Receiver::len");
            assert_eq!(r.is_empty(), model.queue.is_empty(), "{here}: is_empty");
            assert_eq!(r.full_rejections(), model.dropped, "{here}: dropped()");
            assert_eq!(
                r.is_disconnected(),
                senders.is_empty(),
                "{here}: is_disconnected"
            );
            assert_eq!(r.wake_writes(), model.writes, "{here}: wake_writes()");
            #[cfg(not(miri))]
            assert_eq!(fd_readable(r), model.token, "{here}: fd readability");
        }
        if senders.is_empty() && rx.is_none() {
            break;
        }
    }
    drop(senders);
    drop(rx);
    assert_eq!(
        live.load(Ordering::Relaxed),
        0,
        "{ctx}: values leaked at the end"
    );
}

impl Stats {
    fn count(&mut self, got: &Result<u64, TryRecvError>) {
        match got {
            Ok(_) => self.received += 1,
            Err(TryRecvError::Empty) => self.empty += 1,
            Err(TryRecvError::Disconnected) => self.recv_disconnected += 1,
        }
    }
}

/// The seeds of one capacity's episodes: `episode * 1000 + capacity`, or just the one in
/// `SIGRING_MODEL_SEED` (the seed a failure message names) to replay it.
fn seeds(cap: usize) -> Vec<u64> {
    if let Ok(s) = std::env::var("SIGRING_MODEL_SEED") {
        return vec![s.parse().expect("SIGRING_MODEL_SEED must be a u64")];
    }
    let episodes = std::env::var("SIGRING_MODEL_EPISODES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(EPISODES);
    (1..=episodes).map(|e| e * 1000 + cap as u64).collect()
}

fn run(backend: Backend) {
    with_watchdog(120, || {
        let mut stats = Stats::default();
        for cap in 1..=17 {
            for seed in seeds(cap) {
                episode(backend, cap, seed, &mut stats);
            }
        }
        // The run reached every outcome it checks (unless replaying a single seed).
        eprintln!("model_based {backend:?}: {stats:?}");
        if std::env::var_os("SIGRING_MODEL_SEED").is_none() {
            let s = &stats;
            let reached = [
                s.sent,
                s.full,
                s.send_disconnected,
                s.received,
                s.empty,
                s.timeout,
                s.recv_disconnected,
                s.receiver_dropped_with_values,
                s.wake_writes,
            ];
            assert!(
                reached.iter().all(|n| *n > 0),
                "{backend:?}: an outcome was never reached: {s:?}"
            );
        }
    });
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn model_eventfd_capacities_1_to_17() {
    run(Backend::EventFd);
}

#[test]
fn model_pipe_capacities_1_to_17() {
    run(Backend::Pipe);
}
