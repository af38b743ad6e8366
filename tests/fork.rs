//! `fork` without `exec`: a channel belongs to the process that created its receiver.
//!
//! In a child forked from that process every inherited handle is disconnected: `try_send`
//! gives the value back as `Disconnected` and writes no fd, `send` returns `SendError` at
//! once, `try_recv` and `recv*` return `Disconnected` without reading the fd, and dropping
//! the inherited handles changes nothing the parent can observe. These tests fork for real
//! (`libc::fork`), on both backends, with the parent's consumer in each state it can be in
//! at the fork:
//!
//! | state at the fork | the parent, after its children exit |
//! |---|---|
//! | (a) idle and armed (`try_recv` said `Empty`) | its level-triggered epoll loop has 0 readable turns in 200 ms |
//! | (b) a token outstanding (a value sent, not received; the channel full) | 1 readable turn, which yields exactly that value; then 0 |
//! | (c) a thread asleep in `recv` | the thread stays asleep, woken 0 times |
//!
//! In every state `wake_writes` is unchanged by the children, and a value the parent sends
//! afterwards wakes it within 1 s. Also here: a raw signal handler inherited by children, a
//! `StaticChannel` opened before (and one not opened before) the fork, a channel created in
//! the child, and a stray token written into the fd by hand (what it costs an event loop
//! and `recv`).
//!
//! # Children
//!
//! A child reports only through its exit code (the [`saw`] constants: what it saw) and
//! leaves with `_exit`, never returning into the test harness, not even by unwinding. The
//! harness is multi-threaded, so a child body does the least it can: the sigring calls
//! under test (atomics only, on an inherited channel) and `_exit`. Only the tests that
//! build a new channel in the child allocate there (glibc's `fork` leaves `malloc`
//! usable). A child that does not exit within 10 s (a `send` or `recv` that blocked) is
//! killed and fails the test. The tests are serialized (`LOCK`): one fork at a time.
//!
//! Run with `--nocapture` to see the measured values (readable turns, wake writes, wake-up
//! latency).
#![cfg(all(target_os = "linux", not(miri)))]

mod common;

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU8, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, Once};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    build, gettid, install_handler, serial, thread_state, wait_until_sleeping, watchdog, DropLog,
    Tracked, BACKENDS,
};
use sigring::{
    Backend, Builder, Receiver, RecvTimeoutError, SendError, Sender, StaticChannel, TryRecvError,
    TrySendError,
};

static LOCK: Mutex<()> = Mutex::new(());

/// Takes the file's lock and, the first time, establishes [`early_child_handler`] with
/// `pthread_atfork`. Every test calls it before it creates a receiver, so this handler is
/// established before sigring's (installed with the process's first receiver) and, child
/// handlers being called in the order they were established, runs before it in every
/// child.
fn fork_test() -> MutexGuard<'static, ()> {
    static EARLY: Once = Once::new();
    let guard = serial(&LOCK);
    EARLY.call_once(|| {
        // SAFETY: a plain `extern "C"` function with no arguments that lives for the whole
        // program; `pthread_atfork` only records it.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(early_child_handler)) };
        assert_eq!(rc, 0, "pthread_atfork: error {rc}");
    });
    guard
}

/// The signal [`early_child_handler`] raises in the next children (0: none).
static RAISE_EARLY: AtomicI32 = AtomicI32::new(0);

/// In the child, before sigring's atfork handler: raises `RAISE_EARLY`, as if that signal
/// had been delivered the moment the child first ran (a Ctrl-C to the process group, a
/// `kill` from a supervisor), which is before `fork` returns there.
extern "C" fn early_child_handler() {
    let signal = RAISE_EARLY.load(Ordering::Relaxed);
    if signal != 0 {
        // SAFETY: `raise` is async-signal-safe; the child is single-threaded here.
        unsafe { libc::raise(signal) };
    }
}

/// How long the parent's event loop watches the fd after its children exit.
const WATCH: Duration = Duration::from_millis(200);
/// A value the parent sends after the children must wake it within this.
const PROMPT: Duration = Duration::from_secs(1);
/// A call that must return "at once" in a child must return within this: on a channel
/// that was still connected it would block for ever, or until its 5 s timeout.
const AT_ONCE: Duration = Duration::from_secs(1);
/// The timeout a child's `recv_timeout` is given.
const CHILD_RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// A child still running after this is killed, and the test fails.
const CHILD_LIMIT: Duration = Duration::from_secs(10);

/// Ids of the tracked values: the parent's value queued at the fork, what a child tries to
/// send, and the parent's value after the children.
const QUEUED: usize = 1;
const FROM_CHILD: usize = 2;
const AFTERWARDS: usize = 3;

/// What a child saw: its exit code.
mod saw {
    /// A composite child: every step went as expected (otherwise `STEP + n`).
    pub const ALL_AS_EXPECTED: i32 = 0;
    /// A send went in (`Ok`).
    pub const SENT: i32 = 1;
    /// `TrySendError::Full`.
    pub const FULL: i32 = 2;
    /// Disconnected at once, with the very value back for a send.
    pub const DISCONNECTED: i32 = 3;
    /// A send's error carried another value than the one sent.
    pub const OTHER_VALUE: i32 = 4;
    /// `TryRecvError::Empty`.
    pub const EMPTY: i32 = 5;
    /// `RecvTimeoutError::Timeout`.
    pub const TIMEOUT: i32 = 6;
    /// A value was received.
    pub const RECEIVED: i32 = 7;
    /// The right error, but only after waiting (longer than `AT_ONCE`).
    pub const SLOW: i32 = 8;
    /// Dropping the inherited handles dropped a value queued by the parent.
    pub const DROPPED_QUEUED: i32 = 9;
    /// The inherited handles were dropped, and no queued value with them.
    pub const NOTHING_DROPPED: i32 = 10;
    /// `StaticChannel::receiver` said `AlreadyExists`.
    pub const ALREADY_EXISTS: i32 = 11;
    /// `StaticChannel::receiver` returned a receiver.
    pub const OPENED: i32 = 12;
    /// A composite child: step `n` (from 1) went wrong.
    pub const STEP: i32 = 40;
    /// The child panicked (its unwind guard exited with this).
    pub const PANICKED: i32 = 101;
}

/// A child's exit code in words; `steps` names the steps of a composite child.
fn describe(code: i32, steps: &[&str]) -> String {
    let name = match code {
        saw::ALL_AS_EXPECTED => "every step as expected",
        saw::SENT => "Ok (the value went in)",
        saw::FULL => "Full",
        saw::DISCONNECTED => "Disconnected at once (with its value)",
        saw::OTHER_VALUE => "Disconnected with another value",
        saw::EMPTY => "Empty",
        saw::TIMEOUT => "Timeout",
        saw::RECEIVED => "a value",
        saw::SLOW => "the right error, but only after waiting",
        saw::DROPPED_QUEUED => "dropping the handles dropped a queued value",
        saw::NOTHING_DROPPED => "dropped, no queued value dropped",
        saw::ALREADY_EXISTS => "AlreadyExists",
        saw::OPENED => "a new receiver",
        saw::PANICKED => "a panic",
        c if c > saw::STEP && c <= saw::STEP + steps.len() as i32 => {
            return format!(
                "step {} went wrong: {}",
                c - saw::STEP,
                steps[(c - saw::STEP - 1) as usize]
            );
        }
        c => return format!("exit code {c}"),
    };
    format!("{name} (exit code {code})")
}

// ---------------------------------------------------------------------------------------
// Forking
// ---------------------------------------------------------------------------------------

/// Runs `body` in a forked child, which exits with what `body` returns; returns that code.
fn in_child(body: impl FnOnce() -> i32) -> i32 {
    // SAFETY: in the child, `body` only makes the calls described in the module docs and
    // the child leaves with `_exit`, never running the harness's code or destructors (the
    // unwind guard exits too).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let _guard = ExitOnUnwind;
        let code = body();
        // SAFETY: `_exit` is async-signal-safe and ends the child here.
        unsafe { libc::_exit(code) }
    }
    wait_child(pid)
}

/// Makes a child that panics exit with `saw::PANICKED` instead of unwinding into the harness.
struct ExitOnUnwind;

impl Drop for ExitOnUnwind {
    fn drop(&mut self) {
        // SAFETY: `_exit` is async-signal-safe; only ever dropped in a child, by unwinding.
        unsafe { libc::_exit(saw::PANICKED) }
    }
}

/// Waits for child `pid` (at most `CHILD_LIMIT`, then kills it and panics); its exit code.
fn wait_child(pid: libc::pid_t) -> i32 {
    let deadline = Instant::now() + CHILD_LIMIT;
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if rc == pid {
            break;
        }
        assert_eq!(rc, 0, "waitpid: {}", std::io::Error::last_os_error());
        if Instant::now() >= deadline {
            // SAFETY: `pid` is our child, not yet reaped.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the child did not exit within {CHILD_LIMIT:?}: a send or recv blocked");
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally (wait status {status:#x}, signal {})",
        libc::WTERMSIG(status)
    );
    libc::WEXITSTATUS(status)
}

/// Forks a child that runs `body`, and checks it saw `want`.
fn expect_child(what: &str, want: i32, body: impl FnOnce() -> i32) {
    let got = in_child(body);
    assert!(
        got == want,
        "{what}: the child saw {}, expected {}",
        describe(got, &[]),
        describe(want, &[])
    );
}

/// Forks a composite child that runs `body` (0, or `saw::STEP + n` for the failed step).
fn expect_steps(what: &str, steps: &[&str], body: impl FnOnce() -> i32) {
    let got = in_child(body);
    assert!(
        got == saw::ALL_AS_EXPECTED,
        "{what}: the child saw {}",
        describe(got, steps)
    );
}

// ---------------------------------------------------------------------------------------
// Child bodies: one sigring call on an inherited handle, and what it returned
// ---------------------------------------------------------------------------------------

fn child_try_send(tx: &Sender<Tracked>, log: &Arc<DropLog>) -> i32 {
    match tx.try_send(log.track(FROM_CHILD)) {
        Ok(()) => saw::SENT,
        Err(TrySendError::Full(_)) => saw::FULL,
        Err(TrySendError::Disconnected(v)) if v.id == FROM_CHILD => saw::DISCONNECTED,
        Err(TrySendError::Disconnected(_)) => saw::OTHER_VALUE,
    }
}

fn child_send(tx: &Sender<Tracked>, log: &Arc<DropLog>) -> i32 {
    let start = Instant::now();
    match tx.send(log.track(FROM_CHILD)) {
        Ok(()) => saw::SENT,
        Err(SendError(v)) if v.id != FROM_CHILD => saw::OTHER_VALUE,
        Err(_) if start.elapsed() > AT_ONCE => saw::SLOW,
        Err(_) => saw::DISCONNECTED,
    }
}

fn child_try_recv(rx: &Receiver<Tracked>) -> i32 {
    match rx.try_recv() {
        Ok(_) => saw::RECEIVED,
        Err(TryRecvError::Empty) => saw::EMPTY,
        Err(TryRecvError::Disconnected) => saw::DISCONNECTED,
    }
}

fn child_recv_timeout(rx: &Receiver<Tracked>) -> i32 {
    let start = Instant::now();
    match rx.recv_timeout(CHILD_RECV_TIMEOUT) {
        Ok(_) => saw::RECEIVED,
        Err(RecvTimeoutError::Timeout) => saw::TIMEOUT,
        Err(RecvTimeoutError::Disconnected) if start.elapsed() > AT_ONCE => saw::SLOW,
        Err(RecvTimeoutError::Disconnected) => saw::DISCONNECTED,
    }
}

fn child_recv(rx: &Receiver<Tracked>) -> i32 {
    // Blocking: on a channel still connected, the parent's `wait_child` kills the child.
    match rx.recv() {
        Ok(_) => saw::RECEIVED,
        Err(_) => saw::DISCONNECTED,
    }
}

/// Drops the inherited handles it is given (the receiver first, so the sender is the
/// channel's last handle) and reports whether that dropped any value the parent queued.
fn child_drop(
    tx: Option<Sender<Tracked>>,
    rx: Option<Receiver<Tracked>>,
    log: &Arc<DropLog>,
) -> i32 {
    let before = log.total();
    drop(rx);
    drop(tx);
    if log.total() == before {
        saw::NOTHING_DROPPED
    } else {
        saw::DROPPED_QUEUED
    }
}

// ---------------------------------------------------------------------------------------
// The parent's event loop
// ---------------------------------------------------------------------------------------

/// A level-triggered epoll instance watching one fd for `EPOLLIN`.
struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    fn watching(fd: RawFd) -> Epoll {
        // SAFETY: plain syscalls with valid arguments; the new fd is owned at once.
        unsafe {
            let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
            assert!(
                ep >= 0,
                "epoll_create1: {}",
                std::io::Error::last_os_error()
            );
            let ep = OwnedFd::from_raw_fd(ep);
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32, // no EPOLLET: level-triggered
                u64: 0,
            };
            let rc = libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev);
            assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
            Epoll { fd: ep }
        }
    }

    /// Whether the fd becomes readable within `timeout` (zero: just look).
    fn readable_within(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            // Round up, so a wait never ends before the deadline.
            let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 1];
            // SAFETY: `events` has room for one entry.
            let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), events.as_mut_ptr(), 1, ms) };
            if n > 0 {
                return true;
            }
            let err = std::io::Error::last_os_error();
            assert!(
                n == 0 || err.raw_os_error() == Some(libc::EINTR),
                "epoll_wait: {err}"
            );
            if Instant::now() >= deadline {
                return false;
            }
        }
    }
}

/// What the parent's event loop saw in one watch.
struct Watched<T> {
    /// Turns on which `epoll_wait` reported the fd readable.
    turns: u32,
    /// What the turns' `try_recv`s returned, in order.
    values: Vec<T>,
}

/// A bound on the turns one watch counts: a spinning loop stops here instead of running
/// through the whole watch.
const MAX_TURNS: u32 = 10_000;

/// The event loop an application would run, for `period`: `epoll_wait` on the receiver's
/// fd, level-triggered; on every readable turn, `try_recv` until `Empty`.
fn event_loop<T: Send>(rx: &Receiver<T>, period: Duration) -> Watched<T> {
    let ep = Epoll::watching(rx.as_raw_fd());
    let end = Instant::now() + period;
    let mut watched = Watched {
        turns: 0,
        values: Vec::new(),
    };
    while watched.turns < MAX_TURNS {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if !ep.readable_within(left) {
            continue;
        }
        watched.turns += 1;
        loop {
            match rx.try_recv() {
                Ok(v) => watched.values.push(v),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => panic!("the parent's channel disconnected"),
            }
        }
    }
    watched
}

fn ids(values: &[Tracked]) -> Vec<usize> {
    values.iter().map(|v| v.id).collect()
}

/// The parent's side after its children exit: nothing was written (`wake_writes` as
/// before), its event loop sees exactly `queued` (one readable turn for them, none if
/// empty), and a value sent now wakes it promptly.
fn parent_after_children(
    what: &str,
    tx: &Sender<Tracked>,
    rx: &Receiver<Tracked>,
    log: &Arc<DropLog>,
    writes_before: u64,
    queued: &[usize],
) {
    let writes_after = rx.wake_writes();
    assert_eq!(
        writes_after, writes_before,
        "{what}: the children changed the parent's wake_writes"
    );
    assert!(
        !rx.is_disconnected(),
        "{what}: a child's drop disconnected the parent"
    );
    let watched = event_loop(rx, WATCH);
    let want_turns = u32::from(!queued.is_empty());
    eprintln!(
        "{what}: wake_writes {writes_before} before the fork, {writes_after} after the \
         children; event loop over {WATCH:?}: {} readable turns, values {:?}",
        watched.turns,
        ids(&watched.values)
    );
    assert_eq!(
        ids(&watched.values),
        queued,
        "{what}: what the parent received"
    );
    assert_eq!(
        watched.turns, want_turns,
        "{what}: readable turns of the parent's event loop"
    );

    // A real value afterwards: the wake-up works as before.
    let ep = Epoll::watching(rx.as_raw_fd());
    let sent = Instant::now();
    tx.try_send(log.track(AFTERWARDS)).unwrap();
    assert!(
        ep.readable_within(PROMPT),
        "{what}: a send after the children did not make the fd readable"
    );
    let latency = sent.elapsed();
    assert_eq!(rx.try_recv().map(|v| v.id), Ok(AFTERWARDS), "{what}");
    assert_eq!(
        rx.try_recv().map(|v| v.id),
        Err(TryRecvError::Empty),
        "{what}"
    );
    assert_eq!(
        rx.wake_writes(),
        writes_before + 1,
        "{what}: one token for one send"
    );
    eprintln!("{what}: a send afterwards made the fd readable after {latency:?}");
}

// ---------------------------------------------------------------------------------------
// Inherited handles, with the parent's consumer in each state at the fork
// ---------------------------------------------------------------------------------------

/// Every operation on inherited handles, each in its own child: what `expect` says each
/// child must see.
fn children_touch_inherited_handles(
    what: &str,
    tx: &mut Option<Sender<Tracked>>,
    rx: &mut Option<Receiver<Tracked>>,
    log: &Arc<DropLog>,
) {
    let t = tx.as_ref().unwrap();
    let r = rx.as_ref().unwrap();
    expect_child(&format!("{what}: try_send"), saw::DISCONNECTED, || {
        child_try_send(t, log)
    });
    expect_child(&format!("{what}: send"), saw::DISCONNECTED, || {
        child_send(t, log)
    });
    expect_child(&format!("{what}: try_recv"), saw::DISCONNECTED, || {
        child_try_recv(r)
    });
    expect_child(&format!("{what}: recv_timeout"), saw::DISCONNECTED, || {
        child_recv_timeout(r)
    });
    expect_child(&format!("{what}: recv"), saw::DISCONNECTED, || {
        child_recv(r)
    });
    // Several calls in one child: none of them reads the fd or writes it.
    expect_child(&format!("{what}: many calls"), saw::DISCONNECTED, || {
        for _ in 0..100 {
            let saw = child_try_recv(r).max(child_try_send(t, log));
            if saw != saw::DISCONNECTED {
                return saw;
            }
        }
        saw::DISCONNECTED
    });
    // The sender alone (the last sender of the child's copy: a disconnect, which must not
    // wake the parent), then both.
    expect_child(
        &format!("{what}: drop the Sender"),
        saw::NOTHING_DROPPED,
        || child_drop(tx.take(), None, log),
    );
    expect_child(
        &format!("{what}: drop the Receiver"),
        saw::NOTHING_DROPPED,
        || child_drop(None, rx.take(), log),
    );
    expect_child(&format!("{what}: drop both"), saw::NOTHING_DROPPED, || {
        child_drop(tx.take(), rx.take(), log)
    });
}

/// (a) The parent's consumer is idle and armed at the fork: `try_recv` said `Empty`, so
/// any token written now would wake it.
#[test]
fn idle_armed_parent_sees_nothing_from_its_children() {
    let _serial = fork_test();
    let _wd = watchdog(120, "idle_armed_parent_sees_nothing_from_its_children");
    for backend in BACKENDS {
        let what = format!("{backend:?}, armed");
        let log = DropLog::new(8);
        let (tx, rx) = build::<Tracked>(4, backend);
        assert_eq!(rx.try_recv().map(|v| v.id), Err(TryRecvError::Empty));
        let writes_before = rx.wake_writes();
        let (mut tx, mut rx) = (Some(tx), Some(rx));
        children_touch_inherited_handles(&what, &mut tx, &mut rx, &log);
        let (tx, rx) = (tx.unwrap(), rx.unwrap());
        parent_after_children(&what, &tx, &rx, &log, writes_before, &[]);
        assert_eq!(
            log.total(),
            1,
            "{what}: only the value received was dropped"
        );
    }
}

/// (b) A token outstanding at the fork: the parent sent a value it has not received yet
/// (and the channel, of capacity 1, is full, so a child's `send` on a channel that was
/// still connected would block). A child must neither take the token (the parent would
/// sleep beside its value) nor add one.
#[test]
fn token_outstanding_parent_gets_exactly_its_value() {
    let _serial = fork_test();
    let _wd = watchdog(120, "token_outstanding_parent_gets_exactly_its_value");
    for backend in BACKENDS {
        let what = format!("{backend:?}, token outstanding");
        let log = DropLog::new(8);
        let (tx, rx) = build::<Tracked>(1, backend);
        assert_eq!(rx.try_recv().map(|v| v.id), Err(TryRecvError::Empty));
        tx.try_send(log.track(QUEUED)).unwrap();
        assert_eq!(rx.wake_writes(), 1, "{what}: the send wrote its token");
        let writes_before = rx.wake_writes();
        let (mut tx, mut rx) = (Some(tx), Some(rx));
        children_touch_inherited_handles(&what, &mut tx, &mut rx, &log);
        let (tx, rx) = (tx.unwrap(), rx.unwrap());
        assert_eq!(
            log.total(),
            0,
            "{what}: the queued value is alive in the parent"
        );
        parent_after_children(&what, &tx, &rx, &log, writes_before, &[QUEUED]);
    }
}

/// (c) A thread of the parent asleep in `recv` at the fork. The child has no such thread;
/// what it does with the inherited sender must not wake the parent's.
#[test]
fn parent_asleep_in_recv_is_not_woken_by_its_children() {
    let _serial = fork_test();
    let _wd = watchdog(120, "parent_asleep_in_recv_is_not_woken_by_its_children");
    for backend in BACKENDS {
        let what = format!("{backend:?}, asleep in recv");
        let log = DropLog::new(8);
        let (tx, rx) = build::<Tracked>(4, backend);
        let fd = rx.as_raw_fd();
        let writes_before = rx.wake_writes();
        let (tid_tx, tid_rx) = mpsc::channel();
        let sleeper = thread::spawn(move || {
            tid_tx.send(gettid()).unwrap();
            let got = rx.recv().map(|v| v.id);
            (got, rx.wakeups(), rx.wake_writes(), rx)
        });
        let tid = tid_rx.recv().unwrap();
        assert!(
            wait_until_sleeping(tid, Duration::from_secs(5)),
            "{what}: the receiving thread never went to sleep"
        );

        let mut tx = Some(tx);
        let t = tx.as_ref().unwrap();
        expect_child(&format!("{what}: try_send"), saw::DISCONNECTED, || {
            child_try_send(t, &log)
        });
        expect_child(&format!("{what}: send"), saw::DISCONNECTED, || {
            child_send(t, &log)
        });
        expect_child(
            &format!("{what}: drop the Sender"),
            saw::NOTHING_DROPPED,
            || child_drop(tx.take(), None, &log),
        );
        let tx = tx.unwrap();

        // Still asleep, and nothing to wake it in the fd.
        thread::sleep(WATCH);
        let state = thread_state(tid);
        assert!(
            !sleeper.is_finished() && state == Some('S'),
            "{what}: the receiving thread woke up (state {state:?})"
        );
        let ep = Epoll::watching(fd);
        assert!(
            !ep.readable_within(Duration::ZERO),
            "{what}: the fd is readable"
        );

        // A real value wakes it, once.
        let sent = Instant::now();
        tx.try_send(log.track(AFTERWARDS)).unwrap();
        while !sleeper.is_finished() {
            assert!(
                sent.elapsed() < PROMPT,
                "{what}: the sleeping recv missed a send after the children"
            );
            thread::sleep(Duration::from_millis(1));
        }
        let latency = sent.elapsed();
        let (got, wakeups, writes_after, _rx) = sleeper.join().unwrap();
        assert_eq!(got, Ok(AFTERWARDS), "{what}");
        assert_eq!(wakeups, 1, "{what}: woken once, by the real value");
        assert_eq!(
            writes_after,
            writes_before + 1,
            "{what}: one token, the real value's"
        );
        eprintln!(
            "{what}: after the children the thread was still asleep ({state:?}), 0 \
             readable; wake_writes {writes_before} -> {writes_after} with the one real \
             send; woken {wakeups} time(s), {latency:?} after the send"
        );
    }
}

// ---------------------------------------------------------------------------------------
// An inherited raw signal handler and StaticChannels
// ---------------------------------------------------------------------------------------

/// One static per backend: a static's receiver can be created once per process.
static EVENTFD_STATIC: StaticChannel<u32, 8> = StaticChannel::new();
static PIPE_STATIC: StaticChannel<u32, 8> = StaticChannel::new();
/// Which static the handler sends to: 0 the eventfd one, 1 the pipe one.
static HANDLER_TARGET: AtomicU8 = AtomicU8::new(0);
/// What the handler's last `try_send` returned (a `saw` code).
static HANDLER_SAW: AtomicI32 = AtomicI32::new(-1);
/// What the handler sends.
const FROM_HANDLER: u32 = 77;

fn handler_target() -> &'static StaticChannel<u32, 8> {
    if HANDLER_TARGET.load(Ordering::Relaxed) == 1 {
        &PIPE_STATIC
    } else {
        &EVENTFD_STATIC
    }
}

/// The `saw` code of a handler's `try_send` of [`FROM_HANDLER`].
fn saw_of(result: Result<(), TrySendError<u32>>) -> i32 {
    match result {
        Ok(()) => saw::SENT,
        Err(TrySendError::Full(_)) => saw::FULL,
        Err(TrySendError::Disconnected(FROM_HANDLER)) => saw::DISCONNECTED,
        Err(TrySendError::Disconnected(_)) => saw::OTHER_VALUE,
    }
}

/// A raw handler whose body is a `try_send` on a `StaticChannel`.
extern "C" fn on_sigusr1(_: libc::c_int) {
    HANDLER_SAW.store(
        saw_of(handler_target().try_send(FROM_HANDLER)),
        Ordering::Relaxed,
    );
}

/// Forks `n` children that each `raise(SIGUSR1)` and exit with what the handler saw.
fn children_raise(what: &str, n: usize) {
    for i in 0..n {
        expect_child(
            &format!("{what}: child {i}'s handler"),
            saw::DISCONNECTED,
            || {
                HANDLER_SAW.store(-1, Ordering::Relaxed);
                // SAFETY: `raise` is async-signal-safe; it runs the handler before returning.
                unsafe { libc::raise(libc::SIGUSR1) };
                HANDLER_SAW.load(Ordering::Relaxed)
            },
        );
    }
}

/// A raw handler (`StaticChannel::try_send` on `SIGUSR1`) inherited by children: the
/// static's receiver was created before the fork, so in each child the handler's send is
/// `Disconnected`, and the parent, armed or with a token outstanding, sees none of it.
#[test]
fn an_inherited_raw_handler_sends_nothing_to_the_parent() {
    let _serial = fork_test();
    let _wd = watchdog(120, "an_inherited_raw_handler_sends_nothing_to_the_parent");
    for (i, backend) in BACKENDS.into_iter().enumerate() {
        HANDLER_TARGET.store(i as u8, Ordering::Relaxed);
        let channel = handler_target();
        let rx = channel.receiver_with(backend).unwrap();
        assert_eq!(rx.backend(), backend);
        let _handler = install_handler(libc::SIGUSR1, on_sigusr1, true);

        // Armed at the fork.
        let what = format!("{backend:?} static, armed");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let writes_before = rx.wake_writes();
        children_raise(&what, 3);
        expect_child(
            &format!("{what}: receiver()"),
            saw::ALREADY_EXISTS,
            || match channel.receiver() {
                Ok(_) => saw::OPENED,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => saw::ALREADY_EXISTS,
                Err(_) => saw::STEP + 1,
            },
        );
        assert_eq!(rx.wake_writes(), writes_before, "{what}: wake_writes");
        let watched = event_loop(&rx, WATCH);
        eprintln!(
            "{what}: 3 children raised SIGUSR1; wake_writes {writes_before} -> {}; event \
             loop: {} readable turns, values {:?}",
            rx.wake_writes(),
            watched.turns,
            watched.values
        );
        assert_eq!((watched.turns, watched.values), (0, vec![]), "{what}");

        // A token outstanding at the fork.
        let what = format!("{backend:?} static, token outstanding");
        channel.try_send(1).unwrap();
        let writes_before = rx.wake_writes();
        children_raise(&what, 3);
        assert_eq!(rx.wake_writes(), writes_before, "{what}: wake_writes");
        let watched = event_loop(&rx, WATCH);
        eprintln!(
            "{what}: 3 children raised SIGUSR1; wake_writes {writes_before} -> {}; event \
             loop: {} readable turns, values {:?}",
            rx.wake_writes(),
            watched.turns,
            watched.values
        );
        assert_eq!((watched.turns, watched.values), (1, vec![1]), "{what}");

        // The parent's own signal still goes through, and wakes it.
        let ep = Epoll::watching(rx.as_raw_fd());
        // SAFETY: `raise` has no preconditions; the handler runs before it returns.
        unsafe { libc::raise(libc::SIGUSR1) };
        assert_eq!(
            HANDLER_SAW.load(Ordering::Relaxed),
            saw::SENT,
            "{backend:?}"
        );
        assert!(
            ep.readable_within(PROMPT),
            "{backend:?}: the parent's signal"
        );
        assert_eq!(rx.try_recv(), Ok(FROM_HANDLER));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    }
}

/// One static per backend for the test below, and what its handler saw.
static WINDOW_EVENTFD: StaticChannel<u32, 8> = StaticChannel::new();
static WINDOW_PIPE: StaticChannel<u32, 8> = StaticChannel::new();
static WINDOW_TARGET: AtomicU8 = AtomicU8::new(0);
static WINDOW_SAW: AtomicI32 = AtomicI32::new(-1);

fn window_target() -> &'static StaticChannel<u32, 8> {
    if WINDOW_TARGET.load(Ordering::Relaxed) == 1 {
        &WINDOW_PIPE
    } else {
        &WINDOW_EVENTFD
    }
}

extern "C" fn on_sigusr2(_: libc::c_int) {
    WINDOW_SAW.store(
        saw_of(window_target().try_send(FROM_HANDLER)),
        Ordering::Relaxed,
    );
}

/// A signal that reaches the child before sigring's atfork child handler has disowned the
/// inherited channels: the kernel delivers a signal pending for the new process as it first
/// returns to user space, before `fork` returns there and before any atfork handler runs
/// (a Ctrl-C to the process group, or a supervisor's `kill`, at the moment of the fork).
/// Here an atfork child handler established before sigring's raises it, deterministically.
/// (With real signals the window is hit too: a thread storming `kill(0, SIGUSR2)` while the
/// main thread forked 3 000 children had 67 of them send `Ok` from the handler.)
/// The inherited raw handler's `try_send` must still be `Disconnected` and write nothing.
/// `signal::forward`'s action is not affected (its `getpid` check); raw handlers were,
/// until the atfork prepare handler blocked every signal, the parent and child handlers
/// restoring the mask, the child's after disowning.
#[test]
fn a_signal_in_the_child_before_the_atfork_handler_ran_is_still_disconnected() {
    let _serial = fork_test();
    let _wd = watchdog(60, "a_signal_in_the_child_before_the_atfork_handler_ran");
    for (i, backend) in BACKENDS.into_iter().enumerate() {
        let what = format!("{backend:?} static, signal before the atfork handler");
        WINDOW_TARGET.store(i as u8, Ordering::Relaxed);
        let rx = window_target().receiver_with(backend).unwrap();
        let _handler = install_handler(libc::SIGUSR2, on_sigusr2, true);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let writes_before = rx.wake_writes();

        RAISE_EARLY.store(libc::SIGUSR2, Ordering::Relaxed);
        let got = in_child(|| WINDOW_SAW.load(Ordering::Relaxed));
        RAISE_EARLY.store(0, Ordering::Relaxed);
        let watched = event_loop(&rx, WATCH);
        eprintln!(
            "{what}: the child's handler saw {}; parent: wake_writes {writes_before} -> {}, \
             event loop {} readable turns, values {:?}",
            describe(got, &[]),
            rx.wake_writes(),
            watched.turns,
            watched.values
        );
        assert_ne!(got, -1, "{what}: the early handler did not raise");
        assert!(
            got == saw::DISCONNECTED,
            "{what}: the child's handler saw {}, expected {}",
            describe(got, &[]),
            describe(saw::DISCONNECTED, &[])
        );
        assert_eq!(
            (watched.turns, watched.values),
            (0, vec![]),
            "{what}: the parent's event loop"
        );
    }
}

/// A static channel never opened by the parent.
static UNOPENED: StaticChannel<u32, 4> = StaticChannel::new();

/// A `StaticChannel` with no receiver at the fork belongs to nobody yet: a child may open
/// it and use it like any channel (in its own copy of the static; the parent's stays
/// empty).
#[test]
fn a_static_channel_unopened_at_the_fork_is_the_childs_to_open() {
    let _serial = fork_test();
    let _wd = watchdog(
        60,
        "a_static_channel_unopened_at_the_fork_is_the_childs_to_open",
    );
    let steps = [
        "try_send before the receiver exists: Ok",
        "receiver_with: a receiver",
        "recv: the value sent before",
        "try_send then recv: the value",
        "try_recv then: Empty",
    ];
    for backend in BACKENDS {
        expect_steps(&format!("{backend:?}"), &steps, || {
            if UNOPENED.try_send(1).is_err() {
                return saw::STEP + 1;
            }
            let Ok(rx) = UNOPENED.receiver_with(backend) else {
                return saw::STEP + 2;
            };
            if rx.recv() != Ok(1) {
                return saw::STEP + 3;
            }
            if UNOPENED.try_send(2).is_err() || rx.recv() != Ok(2) {
                return saw::STEP + 4;
            }
            if rx.try_recv() != Err(TryRecvError::Empty) {
                return saw::STEP + 5;
            }
            saw::ALL_AS_EXPECTED
        });
    }
    assert!(
        UNOPENED.is_empty(),
        "the child's sends landed in the parent"
    );
}

// ---------------------------------------------------------------------------------------
// A channel created in the child
// ---------------------------------------------------------------------------------------

/// Whether `fd` is readable right now.
fn readable_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    unsafe { libc::poll(&mut pfd, 1, 0) == 1 }
}

/// A channel created in the child after the fork is an ordinary channel there (and, forked
/// again, the grandchild's copy of it is disconnected in turn), while the inherited one
/// stays disconnected.
#[test]
fn a_channel_created_in_the_child_works_normally() {
    let _serial = fork_test();
    let _wd = watchdog(60, "a_channel_created_in_the_child_works_normally");
    let steps = [
        "the inherited sender's try_send: Disconnected",
        "a new channel is built",
        "try_send on the new channel: Ok, and its fd is readable",
        "recv: the value; try_recv then: Empty, and the fd not readable",
        "a grandchild's try_send on the child's channel: Disconnected",
        "after the grandchild, the child's fd is not readable and wake_writes unchanged",
        "a send from a thread of the child wakes a recv",
        "the inherited sender's try_send, at the end: still Disconnected",
    ];
    for backend in BACKENDS {
        let log = DropLog::new(8);
        let (tx, rx) = build::<Tracked>(4, backend);
        assert_eq!(rx.try_recv().map(|v| v.id), Err(TryRecvError::Empty));
        let writes_before = rx.wake_writes();
        expect_steps(&format!("{backend:?}"), &steps, || {
            if child_try_send(&tx, &log) != saw::DISCONNECTED {
                return saw::STEP + 1;
            }
            let Ok((own_tx, own_rx)) = Builder::new(4).backend(backend).build::<u32>() else {
                return saw::STEP + 2;
            };
            if own_rx.try_recv() != Err(TryRecvError::Empty) {
                return saw::STEP + 2;
            }
            if own_tx.try_send(5).is_err() || !readable_now(own_rx.as_raw_fd()) {
                return saw::STEP + 3;
            }
            if own_rx.recv() != Ok(5)
                || own_rx.try_recv() != Err(TryRecvError::Empty)
                || readable_now(own_rx.as_raw_fd())
            {
                return saw::STEP + 4;
            }
            let writes = own_rx.wake_writes();
            // The child is single-threaded: the grandchild may do anything; it too only
            // calls try_send and `_exit`.
            let grandchild = in_child(|| match own_tx.try_send(6) {
                Err(TrySendError::Disconnected(6)) => 0,
                _ => 1,
            });
            if grandchild != 0 {
                return saw::STEP + 5;
            }
            if readable_now(own_rx.as_raw_fd()) || own_rx.wake_writes() != writes {
                return saw::STEP + 6;
            }
            let sender = thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                own_tx.send(7).is_ok()
            });
            if own_rx.recv_timeout(Duration::from_secs(5)) != Ok(7) || !sender.join().unwrap() {
                return saw::STEP + 7;
            }
            if child_try_send(&tx, &log) != saw::DISCONNECTED {
                return saw::STEP + 8;
            }
            saw::ALL_AS_EXPECTED
        });
        parent_after_children(
            &format!("{backend:?}, child made a channel"),
            &tx,
            &rx,
            &log,
            writes_before,
            &[],
        );
    }
}

// ---------------------------------------------------------------------------------------
// A stray token
// ---------------------------------------------------------------------------------------

/// Writes one token into the receiver's fd from outside the protocol, as a process that
/// shares the fd without the atfork handler would (a raw `clone`). The eventfd is written
/// directly; the pipe's write end is not exposed, so the read end is reopened for writing
/// through `/proc/self/fd` (on Linux that opens the same pipe).
fn write_stray_token<T>(rx: &Receiver<T>, backend: Backend) {
    write_stray_token_fd(rx.as_raw_fd(), backend);
    assert!(
        readable_now(rx.as_raw_fd()),
        "{backend:?}: the stray token is not there"
    );
}

/// [`write_stray_token`] by the fd's number (from another thread: the receiver is not `Sync`).
fn write_stray_token_fd(fd: RawFd, backend: Backend) {
    match backend {
        Backend::EventFd => {
            let one = 1u64.to_ne_bytes();
            // SAFETY: 8 bytes from a valid buffer to an open eventfd.
            let n = unsafe { libc::write(fd, one.as_ptr().cast(), one.len()) };
            assert_eq!(n, 8, "write eventfd: {}", std::io::Error::last_os_error());
        }
        _ => {
            let path = CString::new(format!("/proc/self/fd/{fd}")).unwrap();
            // SAFETY: a valid C string; the new fd is owned at once.
            let w = unsafe {
                libc::open(
                    path.as_ptr(),
                    libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC,
                )
            };
            assert!(
                w >= 0,
                "reopen the pipe: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `w` was just opened and is owned only here.
            let w = unsafe { OwnedFd::from_raw_fd(w) };
            // SAFETY: 1 byte from a valid buffer to the pipe's write end.
            let n = unsafe { libc::write(w.as_raw_fd(), [1u8].as_ptr().cast(), 1) };
            assert_eq!(n, 1, "write pipe: {}", std::io::Error::last_os_error());
        }
    }
}

/// One real value through the loop: afterwards the loop's last `try_recv` read the value's
/// token, so the count of "empty with nothing changed" calls in a row starts from 0.
fn one_real_value(tx: &Sender<u32>, rx: &Receiver<u32>, backend: Backend) {
    tx.try_send(1).unwrap();
    let watched = event_loop(rx, Duration::from_millis(20));
    assert_eq!((watched.turns, watched.values), (1, vec![1]), "{backend:?}");
}

/// A stray token costs a level-triggered event loop that calls `try_recv` only when the fd
/// is readable one wasted turn: that turn's `try_recv` finds the channel empty with the
/// flag armed, which is the first such call in a row, so it reads the fd (1st, 2nd, 4th...
/// call). The token is not counted in `wake_writes`, and a real value afterwards still
/// wakes the loop.
#[test]
fn a_stray_token_costs_an_event_loop_one_wasted_turn() {
    let _serial = fork_test();
    let _wd = watchdog(60, "a_stray_token_costs_an_event_loop_one_wasted_turn");
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(4, backend);
        one_real_value(&tx, &rx, backend);
        let writes = rx.wake_writes();
        write_stray_token(&rx, backend);
        let watched = event_loop(&rx, WATCH);
        eprintln!(
            "{backend:?}: a stray token: {} readable turn(s) in {WATCH:?}, values {:?}, \
             wake_writes {writes} -> {}",
            watched.turns,
            watched.values,
            rx.wake_writes()
        );
        assert_eq!(watched.turns, 1, "{backend:?}: wasted turns");
        assert!(watched.values.is_empty(), "{backend:?}");
        assert_eq!(
            rx.wake_writes(),
            writes,
            "{backend:?}: the stray is not a write"
        );
        assert!(
            !readable_now(rx.as_raw_fd()),
            "{backend:?}: the stray token stayed"
        );

        let ep = Epoll::watching(rx.as_raw_fd());
        tx.try_send(2).unwrap();
        assert!(
            ep.readable_within(PROMPT),
            "{backend:?}: a send after the stray"
        );
        assert_eq!(rx.try_recv(), Ok(2));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(rx.wake_writes(), writes + 1, "{backend:?}");
    }
}

/// What the stray token really costs when the loop also calls `try_recv` without the fd
/// being readable (a loop that drains on every timer tick, say): after `k` calls in a row
/// that found the channel empty with nothing changed, the loop's turns are calls `k + 1`,
/// `k + 2`, ..., and only a call whose number is a power of two reads the fd. So the stray
/// token costs `next_power_of_two(k + 1) - k` turns: 1 for `k` in {0, 1, 3, 7, ...}, and
/// at most `max(1, k)` (reached at `k` a power of two). Each of those turns is one
/// `try_recv`, so the extra reads stay a constant fraction of the calls made anyway; but
/// "at most one wasted wake-up" holds only for a loop that calls `try_recv` when woken.
#[test]
fn after_k_idle_try_recvs_a_stray_token_costs_at_most_k_turns() {
    let _serial = fork_test();
    let _wd = watchdog(
        60,
        "after_k_idle_try_recvs_a_stray_token_costs_at_most_k_turns",
    );
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(4, backend);
        let mut measured = Vec::new();
        for k in [0u32, 1, 2, 3, 4, 5, 8] {
            one_real_value(&tx, &rx, backend);
            for _ in 0..k {
                assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            }
            write_stray_token(&rx, backend);
            let watched = event_loop(&rx, Duration::from_millis(100));
            assert!(watched.values.is_empty(), "{backend:?}");
            measured.push((k, watched.turns));
            let expect = (k + 1).next_power_of_two() - k;
            assert_eq!(
                watched.turns, expect,
                "{backend:?}: turns wasted on a stray token after {k} idle try_recvs"
            );
            assert!(watched.turns <= k.max(1), "{backend:?}: k = {k}");
        }
        eprintln!("{backend:?}: (idle try_recvs before the stray, wasted turns): {measured:?}");
    }
}

/// A stray token costs `recv_timeout` at most one wake-up. On Linux `recv` sleeps on the
/// wake flag (a futex), not on the fd: a stray token wakes it not at all and stays in the
/// fd, for an event loop's `try_recv` to read (tested above). Elsewhere `recv` sleeps on
/// the fd: the stray token wakes it once, it reads the token and sleeps again until its
/// deadline.
#[test]
fn a_stray_token_wakes_recv_once() {
    let _serial = fork_test();
    let _wd = watchdog(60, "a_stray_token_wakes_recv_once");
    let parks = cfg!(any(target_os = "linux", target_os = "android"));
    let expected_wakeups = if parks { 0 } else { 1 };
    for backend in BACKENDS {
        let (tx, rx) = build::<u32>(4, backend);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        write_stray_token(&rx, backend);
        let start = Instant::now();
        assert_eq!(rx.recv_timeout(WATCH), Err(RecvTimeoutError::Timeout));
        let waited = start.elapsed();
        eprintln!(
            "{backend:?}: recv_timeout({WATCH:?}) with a stray token: woken {} time(s), \
             returned after {waited:?}",
            rx.wakeups()
        );
        assert!(
            waited >= WATCH,
            "{backend:?}: returned early, after {waited:?}"
        );
        assert_eq!(rx.wakeups(), expected_wakeups, "{backend:?}: wake-ups");
        assert_eq!(
            readable_now(rx.as_raw_fd()),
            parks,
            "{backend:?}: the stray token stays exactly when recv sleeps on the flag"
        );
        if parks {
            // An event loop's first look reads it.
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
            assert!(
                !readable_now(rx.as_raw_fd()),
                "{backend:?}: try_recv read it"
            );
        }

        // A stray token while asleep: the same.
        let w = rx.wakeups();
        let fd = rx.as_raw_fd();
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            write_stray_token_fd(fd, backend);
        });
        assert_eq!(rx.recv_timeout(WATCH), Err(RecvTimeoutError::Timeout));
        writer.join().unwrap();
        assert_eq!(
            rx.wakeups() - w,
            expected_wakeups,
            "{backend:?}: wake-ups for a stray while asleep"
        );

        tx.try_send(3).unwrap();
        assert_eq!(rx.recv_timeout(PROMPT), Ok(3), "{backend:?}");
    }
}
