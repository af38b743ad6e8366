//! `sigring::signal::forward`: delivery of `kill`, `pthread_kill`, `sigqueue`, timer and
//! `SIGCHLD` signals with the right fields; overflow counting per signal; validation;
//! unregistering while another thread raises the signal in a loop; bursts of 10,000
//! signals with a slow consumer, where received + counted-lost accounts for every handler
//! run (counted independently by a second registered action).
//!
//! Every test installs handlers, so all are serialized with `LOCK`.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::os::unix::thread::JoinHandleExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{serial, watchdog};
use libc::{c_int, pid_t, uid_t};
use sigring::signal::{self, Origin, SigInfo};
use sigring::{Receiver, TryRecvError};

static LOCK: Mutex<()> = Mutex::new(());

fn me() -> pid_t {
    // SAFETY: `getpid` cannot fail.
    unsafe { libc::getpid() }
}

fn my_uid() -> uid_t {
    // SAFETY: `getuid` cannot fail.
    unsafe { libc::getuid() }
}

fn rt(n: c_int) -> c_int {
    libc::SIGRTMIN() + n
}

fn raise(signal: c_int) {
    // SAFETY: `raise` has no memory-safety preconditions; a handler is installed for
    // every signal the tests raise (forward is called first).
    assert_eq!(unsafe { libc::raise(signal) }, 0);
}

fn sigqueue(signal: c_int, value: usize) {
    let sv = libc::sigval {
        sival_ptr: value as *mut libc::c_void,
    };
    loop {
        // SAFETY: plain syscall wrapper; `sv` is passed by value.
        if unsafe { libc::sigqueue(me(), signal, sv) } == 0 {
            return;
        }
        let e = std::io::Error::last_os_error();
        // EAGAIN: the queue of pending real-time signals is full; the handlers drain it.
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "sigqueue: {e}");
        thread::yield_now();
    }
}

/// Whether `signal` is pending for this thread or the process.
fn pending(signal: c_int) -> bool {
    // SAFETY: `set` is initialized by `sigpending` before `sigismember` reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        assert_eq!(libc::sigpending(&mut set), 0);
        libc::sigismember(&set, signal) == 1
    }
}

/// A process-directed signal may run its handler on another thread, which bumps
/// `Forwarding::delivered` just after its `try_send`: the value can be received a moment
/// before the count shows it. Waits (up to 5 s) for `count()` to reach `want`, then
/// returns what it reads, for the caller to assert.
fn settled(want: u64, count: impl Fn() -> u64) -> u64 {
    let until = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = count();
        if now >= want || std::time::Instant::now() >= until {
            return now;
        }
        thread::yield_now();
    }
}

fn recv(rx: &Receiver<SigInfo>) -> SigInfo {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("no signal forwarded within 10 s")
}

/// A second action on `signal`, registered separately through the registry, that counts
/// its runs. Registered after `forward`, it runs after the forwarding action in the same
/// handler invocation, so "counted here" implies "the forwarding action has finished".
struct RunCounter {
    id: signal_hook_registry::SigId,
    runs: Arc<AtomicU64>,
}

impl RunCounter {
    fn register(signal: c_int) -> RunCounter {
        let runs = Arc::new(AtomicU64::new(0));
        let r = runs.clone();
        // SAFETY: the action is one atomic add: async-signal-safe, no panic.
        // Release, paired with the Acquire in `runs`: whoever reads a count also sees the
        // forwarding action's counter updates made before it in the same handler run.
        let id = unsafe {
            signal_hook_registry::register_sigaction(signal, move |_| {
                r.fetch_add(1, Ordering::Release);
            })
        }
        .expect("register counter");
        RunCounter { id, runs }
    }

    fn runs(&self) -> u64 {
        self.runs.load(Ordering::Acquire)
    }
}

impl Drop for RunCounter {
    fn drop(&mut self) {
        signal_hook_registry::unregister(self.id);
    }
}

#[test]
fn kill_is_delivered_with_sender_fields() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "kill_is_delivered_with_sender_fields");
    let (tx, rx) = sigring::channel(16).unwrap();
    let fwd = signal::forward(&[libc::SIGUSR1], &tx).unwrap();

    // SAFETY: a handler is installed for SIGUSR1.
    assert_eq!(unsafe { libc::kill(me(), libc::SIGUSR1) }, 0);
    let info = recv(&rx);
    assert_eq!(
        info,
        SigInfo {
            signal: libc::SIGUSR1,
            code: libc::SI_USER,
            pid: me(),
            uid: my_uid(),
            status: 0,
            value: 0,
        }
    );
    assert_eq!(info.origin(), Origin::Kill);
    assert_eq!(info.name().to_string(), "SIGUSR1");
    assert_eq!(settled(1, || fwd.delivered(libc::SIGUSR1)), 1);
    assert_eq!(fwd.lost(libc::SIGUSR1), 0);
    assert_eq!(fwd.signals(), [libc::SIGUSR1]);
}

#[test]
fn pthread_kill_is_delivered_as_tkill() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "pthread_kill_is_delivered_as_tkill");
    let (tx, rx) = sigring::channel(16).unwrap();
    let _fwd = signal::forward(&[libc::SIGUSR2], &tx).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let target = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::park_timeout(Duration::from_millis(10));
            }
        })
    };
    // SAFETY: the thread is alive until joined below.
    let rc = unsafe { libc::pthread_kill(target.as_pthread_t(), libc::SIGUSR2) };
    assert_eq!(rc, 0);
    let info = recv(&rx);
    stop.store(true, Ordering::Relaxed);
    target.join().unwrap();

    assert_eq!(info.signal, libc::SIGUSR2);
    assert_eq!(info.code, libc::SI_TKILL);
    assert_eq!(info.origin(), Origin::Kill);
    assert_eq!((info.pid, info.uid), (me(), my_uid()));
    assert_eq!((info.status, info.value), (0, 0));
}

#[test]
fn sigqueue_values_are_delivered() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "sigqueue_values_are_delivered");
    let signal = rt(1);
    let (tx, rx) = sigring::channel(16).unwrap();
    let fwd = signal::forward(&[signal], &tx).unwrap();

    let values = [0usize, 1, 42, 0xdead_beef, usize::MAX - 7];
    for &v in &values {
        sigqueue(signal, v);
    }
    let mut got = BTreeSet::new();
    for _ in 0..values.len() {
        let info = recv(&rx);
        assert_eq!(info.signal, signal);
        assert_eq!(info.code, libc::SI_QUEUE);
        assert_eq!(info.origin(), Origin::Queue);
        assert_eq!((info.pid, info.uid, info.status), (me(), my_uid(), 0));
        assert_eq!(info.name().to_string(), "SIGRTMIN+1");
        got.insert(info.value);
    }
    // Real-time signals queue: one notification per sigqueue, each with its value.
    assert_eq!(got, values.iter().copied().collect::<BTreeSet<_>>());
    let want = values.len() as u64;
    assert_eq!(settled(want, || fwd.delivered(signal)), want);
}

#[test]
fn timer_expiry_is_delivered_with_its_value() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "timer_expiry_is_delivered_with_its_value");
    let signal = rt(2);
    let (tx, rx) = sigring::channel(16).unwrap();
    let _fwd = signal::forward(&[signal], &tx).unwrap();

    // SAFETY: zeroed `sigevent`/`timer_t` are valid; the fields SIGEV_SIGNAL reads are
    // set; the timer is deleted before the test ends.
    unsafe {
        let mut sev: libc::sigevent = std::mem::zeroed();
        sev.sigev_notify = libc::SIGEV_SIGNAL;
        sev.sigev_signo = signal;
        sev.sigev_value = libc::sigval {
            sival_ptr: 0x5151 as *mut libc::c_void,
        };
        let mut timer: libc::timer_t = std::mem::zeroed();
        assert_eq!(
            libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut timer),
            0
        );
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000,
            },
        };
        assert_eq!(
            libc::timer_settime(timer, 0, &spec, std::ptr::null_mut()),
            0
        );
        let info = recv(&rx);
        libc::timer_delete(timer);

        assert_eq!(info.signal, signal);
        assert_eq!(info.code, libc::SI_TIMER);
        assert_eq!(info.origin(), Origin::Timer);
        assert_eq!(info.value, 0x5151);
        assert_eq!((info.pid, info.uid, info.status), (0, 0, 0));
    }
}

#[test]
fn sigchld_carries_child_pid_and_status() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "sigchld_carries_child_pid_and_status");
    let (tx, rx) = sigring::channel(64).unwrap();
    let _fwd = signal::forward(&[libc::SIGCHLD], &tx).unwrap();

    // The next notification about `pid`.
    let about = |pid: pid_t| loop {
        let info = recv(&rx);
        assert_eq!(info.signal, libc::SIGCHLD);
        if info.pid == pid {
            assert_eq!(info.origin(), Origin::Kernel);
            assert_eq!(info.uid, my_uid());
            return info;
        }
    };

    let mut exits = Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    let info = about(exits.id() as pid_t);
    assert_eq!((info.code, info.status), (libc::CLD_EXITED, 7));
    assert_eq!(exits.wait().unwrap().code(), Some(7));

    let mut sleeper = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = sleeper.id() as pid_t;
    // SAFETY: `kill` on our own live child.
    let kill = |sig| assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    kill(libc::SIGSTOP);
    let info = about(pid);
    assert_eq!((info.code, info.status), (libc::CLD_STOPPED, libc::SIGSTOP));
    kill(libc::SIGCONT);
    let info = about(pid);
    assert_eq!(
        (info.code, info.status),
        (libc::CLD_CONTINUED, libc::SIGCONT)
    );
    kill(libc::SIGTERM);
    let info = about(pid);
    assert_eq!((info.code, info.status), (libc::CLD_KILLED, libc::SIGTERM));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(sleeper.wait().unwrap().signal(), Some(libc::SIGTERM));
}

#[test]
fn overflow_is_counted_per_signal() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "overflow_is_counted_per_signal");
    let (tx, rx) = sigring::channel(2).unwrap();
    let fwd = signal::forward(&[libc::SIGUSR1, libc::SIGUSR2], &tx).unwrap();

    // `raise` runs the handler on this thread before it returns: five runs, two fit.
    for _ in 0..5 {
        raise(libc::SIGUSR1);
    }
    assert_eq!(fwd.delivered(libc::SIGUSR1), 2);
    assert_eq!(fwd.lost(libc::SIGUSR1), 3);
    assert_eq!(
        rx.full_rejections(),
        3,
        "the channel counts the same rejections"
    );
    // Per signal: the other forwarded signal, unforwarded and invalid numbers read 0.
    for other in [libc::SIGUSR2, libc::SIGTERM, 0, -5, 10_000] {
        assert_eq!(fwd.lost(other), 0, "signal {other}");
        assert_eq!(fwd.delivered(other), 0, "signal {other}");
    }
    assert_eq!(recv(&rx).signal, libc::SIGUSR1);
    assert_eq!(recv(&rx).signal, libc::SIGUSR1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    raise(libc::SIGUSR2);
    assert_eq!(fwd.delivered(libc::SIGUSR2), 1);
    assert_eq!(recv(&rx).signal, libc::SIGUSR2);

    // With the receiver gone, nothing can be queued: still counted, never silent.
    drop(rx);
    raise(libc::SIGUSR2);
    assert_eq!(fwd.lost(libc::SIGUSR2), 1);
    assert_eq!(fwd.delivered(libc::SIGUSR2), 1);
    let debug = format!("{fwd:?}");
    assert!(debug.contains("SIGUSR2 (delivered 1, lost 1)"), "{debug}");
}

#[test]
fn repeated_signals_are_forwarded_once() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "repeated_signals_are_forwarded_once");
    let (tx, rx) = sigring::channel(8).unwrap();
    let fwd = signal::forward(&[libc::SIGUSR2, libc::SIGUSR2, libc::SIGUSR1], &tx).unwrap();
    assert_eq!(fwd.signals(), [libc::SIGUSR2, libc::SIGUSR1]);
    raise(libc::SIGUSR2);
    assert_eq!(rx.try_recv().map(|i| i.signal), Ok(libc::SIGUSR2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    let none = signal::forward(&[], &tx).unwrap();
    assert!(none.signals().is_empty());
}

#[test]
fn bad_signals_are_invalid_input_and_register_nothing() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "bad_signals_are_invalid_input_and_register_nothing");
    let (tx, rx) = sigring::channel(8).unwrap();
    let named = [
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGFPE, "SIGFPE"),
    ];
    for (sig, name) in named {
        let e = signal::forward(&[sig], &tx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("{name} ({sig}) cannot be forwarded")),
            "{name}: {msg}"
        );
    }
    let max = libc::SIGRTMAX();
    for sig in [0, -1, max + 1, 1000, c_int::MAX, c_int::MIN] {
        let e = signal::forward(&[sig], &tx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{sig}");
        assert!(
            e.to_string()
                .contains(&format!("signal {sig} is out of range")),
            "{e}"
        );
    }
    // glibc keeps 32 and 33 (musl also 34) for itself.
    for sig in (libc::SIGSYS + 1)..libc::SIGRTMIN() {
        let e = signal::forward(&[sig], &tx).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{sig}");
        assert!(e.to_string().contains("reserved"), "{e}");
    }
    // The highest valid number is accepted.
    drop(signal::forward(&[max], &tx).unwrap());

    // One bad signal in the list: nothing is registered, not even the good ones before it.
    let counter = RunCounter::register(libc::SIGUSR1); // keeps SIGUSR1 handled meanwhile
    let e = signal::forward(&[libc::SIGUSR1, libc::SIGKILL], &tx).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    raise(libc::SIGUSR1);
    assert_eq!(counter.runs(), 1);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn dropping_while_another_thread_raises_in_a_loop() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(240, "dropping_while_another_thread_raises_in_a_loop");
    const ROUNDS: usize = 2000;
    let signal = libc::SIGUSR1;
    // Keeps SIGUSR1 handled between forwardings (the registry's handler stays installed
    // anyway once registered; this makes the test independent of that).
    let _keep = RunCounter::register(signal);

    let stop = Arc::new(AtomicBool::new(false));
    // SAFETY: `pthread_self` has no preconditions.
    let this_thread = unsafe { libc::pthread_self() };
    let raiser = {
        let stop = stop.clone();
        thread::spawn(move || {
            let mut sent = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: SIGUSR1 is handled (`_keep`); `this_thread` outlives this thread
                // (joined below). Process-directed, at the unregistering thread itself, and
                // at this thread.
                unsafe {
                    libc::kill(libc::getpid(), signal);
                    libc::pthread_kill(this_thread, signal);
                    libc::raise(signal);
                }
                sent += 3;
            }
            sent
        })
    };

    let mut rounds_with_deliveries = 0;
    let mut received_total = 0u64;
    for round in 0..ROUNDS {
        let (tx, rx) = sigring::channel(64).unwrap();
        let fwd = signal::forward(&[signal], &tx).unwrap();
        drop(tx);
        if round % 2 == 0 {
            thread::yield_now(); // give the raiser a chance to hit this forwarding
        }
        let delivered_before = fwd.delivered(signal);
        drop(fwd);
        // Unregistering freed the action, and with it the last `Sender`: no handler can
        // hold it any more, so the channel is disconnected now, not eventually.
        assert!(
            rx.is_disconnected(),
            "round {round}: a sender outlived the forwarding"
        );
        let received = rx.try_iter().count() as u64;
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
        assert!(
            received >= delivered_before,
            "round {round}: received {received} < delivered {delivered_before}"
        );
        if received > 0 {
            rounds_with_deliveries += 1;
        }
        received_total += received;
    }
    stop.store(true, Ordering::Relaxed);
    let sent = raiser.join().unwrap();
    eprintln!(
        "{ROUNDS} forward/drop rounds under {sent} signals: {rounds_with_deliveries} rounds \
         received something, {received_total} notifications"
    );
    // The race was real: signals landed on forwardings that were then dropped.
    assert!(rounds_with_deliveries > 0, "no round received anything");
}

/// A consumer thread that receives slowly until the channel disconnects; returns the
/// values received and the channel's `full_rejections()` count.
fn slow_consumer(rx: Receiver<SigInfo>, pause: Duration) -> thread::JoinHandle<(Vec<usize>, u64)> {
    thread::spawn(move || {
        let mut values = Vec::new();
        while let Ok(info) = rx.recv() {
            values.push(info.value);
            let until = Instant::now() + pause;
            while Instant::now() < until {
                thread::sleep(pause / 4);
            }
        }
        (values, rx.full_rejections())
    })
}

#[test]
fn burst_of_10000_realtime_signals_with_a_slow_consumer() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(240, "burst_of_10000_realtime_signals_with_a_slow_consumer");
    const N: u64 = 10_000;
    let signal = rt(3);
    let (tx, rx) = sigring::channel(64).unwrap();
    let fwd = signal::forward(&[signal], &tx).unwrap();
    drop(tx);
    let counter = RunCounter::register(signal);
    let consumer = slow_consumer(rx, Duration::from_micros(200));

    let sender = thread::spawn(move || {
        for i in 0..N {
            sigqueue(signal, i as usize);
        }
    });
    sender.join().unwrap();
    // Real-time signals queue: exactly one handler run per sigqueue. Wait for all of them
    // (the watchdog turns a hang into a failure).
    while counter.runs() < N {
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(counter.runs(), N);
    // The counter runs after the forwarding action: all N forwarding actions are done.
    let (delivered, dropped) = (fwd.delivered(signal), fwd.lost(signal));
    assert_eq!(
        delivered + dropped,
        N,
        "delivered {delivered} + dropped {dropped}"
    );

    drop(fwd); // disconnects the channel once drained
    let (values, channel_dropped) = consumer.join().unwrap();
    assert_eq!(values.len() as u64, delivered, "received vs delivered");
    assert_eq!(channel_dropped, dropped, "the channel's count agrees");
    let distinct: BTreeSet<usize> = values.iter().copied().collect();
    assert_eq!(distinct.len(), values.len(), "a value arrived twice");
    assert!(distinct.iter().all(|&v| (v as u64) < N));
    assert!(dropped > 0, "the slow consumer never let the channel fill");
    eprintln!("{N} real-time signals: {delivered} received, {dropped} counted as dropped");
}

#[test]
fn burst_of_10000_standard_signals_with_a_slow_consumer() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(240, "burst_of_10000_standard_signals_with_a_slow_consumer");
    const N: u64 = 10_000;
    let signal = libc::SIGUSR2;
    let (tx, rx) = sigring::channel(16).unwrap();
    let fwd = signal::forward(&[signal], &tx).unwrap();
    drop(tx);
    let counter = RunCounter::register(signal);
    let consumer = slow_consumer(rx, Duration::from_micros(200));

    // Phase 1: `raise` runs the handler on this thread before returning, so every one of
    // the N signals is a handler run, far faster than the consumer takes them.
    for _ in 0..N {
        raise(signal);
    }
    assert_eq!(counter.runs(), N);
    let (delivered, dropped) = (fwd.delivered(signal), fwd.lost(signal));
    assert_eq!(
        delivered + dropped,
        N,
        "delivered {delivered} + dropped {dropped}"
    );
    assert!(dropped > 0, "the slow consumer never let the channel fill");

    // Phase 2: N signals at one victim thread (thread-directed), so the victim alone runs
    // the handlers, and sends made while one is pending coalesce. Once the sender is done,
    // the victim sees nothing pending while running its own code: then no handler run is
    // in flight and the counts are final.
    let sent_all = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let victim = {
        let (sent_all, started) = (sent_all.clone(), started.clone());
        thread::spawn(move || {
            started.store(true, Ordering::Release);
            while !sent_all.load(Ordering::Acquire) || pending(signal) {
                thread::yield_now();
            }
        })
    };
    while !started.load(Ordering::Acquire) {
        thread::yield_now();
    }
    let target = victim.as_pthread_t();
    for _ in 0..N {
        // SAFETY: the victim is alive until `sent_all` is set and it is joined.
        assert_eq!(unsafe { libc::pthread_kill(target, signal) }, 0);
    }
    sent_all.store(true, Ordering::Release);
    victim.join().unwrap();

    let runs = counter.runs() - N;
    let (delivered, dropped) = (fwd.delivered(signal), fwd.lost(signal));
    // Standard signals coalesce while pending: at least one run, at most one per send.
    assert!((1..=N).contains(&runs), "runs {runs}");
    assert_eq!(
        delivered + dropped,
        N + runs,
        "delivered {delivered} + dropped {dropped}"
    );

    drop(fwd);
    let (values, channel_dropped) = consumer.join().unwrap();
    assert_eq!(values.len() as u64, delivered, "received vs delivered");
    assert_eq!(channel_dropped, dropped, "the channel's count agrees");
    eprintln!(
        "{N} raises + {N} pthread_kills: {} handler runs ({} pthread_kills coalesced by the \
         kernel), {delivered} received, {dropped} counted as dropped",
        N + runs,
        N - runs
    );
}

#[test]
fn a_forked_child_never_writes_the_parents_channel() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "a_forked_child_never_writes_the_parents_channel");
    use std::os::fd::AsRawFd;
    let (tx, rx) = sigring::channel(8).unwrap();
    let fwd = signal::forward(&[libc::SIGUSR1], &tx).unwrap();
    // An empty `try_recv` arms the wake-up, as a receiver about to sleep does: the next
    // send would write a token to the fd, which a forked child shares.
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // SAFETY: the child only calls `raise` and `_exit`, both async-signal-safe, as
    // required after `fork` in a multi-threaded process.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: see above; the inherited handler runs the inherited action here.
        unsafe {
            libc::raise(libc::SIGUSR1);
            libc::_exit(0);
        }
    }
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer; `pid` is our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);

    // The child's action must not have written a token into the shared fd: the fd is
    // not readable, and a sleep on it would not return at once.
    let mut pfd = libc::pollfd {
        fd: rx.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let ready = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert_eq!(ready, 0, "the forked child wrote the parent's wake-up fd");
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));

    // The parent's own forwarding still works.
    raise(libc::SIGUSR1);
    assert_eq!(recv(&rx).pid, me());
    assert_eq!(fwd.delivered(libc::SIGUSR1), 1);
}
