//! Shared helpers for the integration tests (`mod common;` in a test file).
//!
//! The API is small and meant to stay stable; other test files depend on it:
//!
//! * [`watchdog`]: a deadlock must fail the test, not hang it. Hold the returned guard for
//!   the whole test body; if it is still alive after `secs`, the process aborts with a
//!   message naming the test.
//! * [`install_handler`] / [`HandlerGuard`]: a raw `sigaction` handler, with or without
//!   `SA_RESTART`, restored on drop. Tests that install handlers must be serialized (a
//!   file-local `static LOCK: Mutex<()>`, see [`serial`]).
//! * [`Storm`]: a helper thread firing `pthread_kill` at one thread in a tight loop;
//!   [`ThreadTimer`]: a POSIX timer delivering a signal to one thread (`SIGEV_THREAD_ID`).
//! * [`thread_cpu_time`], [`gettid`], [`errno`] / [`set_errno`], [`thread_state`] /
//!   [`wait_until_sleeping`].
//! * [`DropLog`] / [`Tracked`]: values that record how often each one was dropped.
//! * [`BACKENDS`], [`build`], [`send_retry`]: channel plumbing.
//! * [`open_fds`], [`fds_opened_by`]: the process's open descriptors, from `/proc/self/fd`.
//! * [`Hooked`]: a `#[global_allocator]` that calls a test's hook on every allocation.
//!
//! Everything here is Linux-specific (the test suite runs on Linux; the other Unixes are
//! only compile-checked).
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use sigring::{Backend, Builder, Receiver, Sender, TrySendError};

// ---------------------------------------------------------------------------------------
// Watchdog
// ---------------------------------------------------------------------------------------

/// Disarms the watchdog when dropped (also when the test panics and unwinds).
#[must_use = "the watchdog is disarmed as soon as the guard is dropped"]
pub struct Watchdog {
    _disarm: mpsc::Sender<()>,
}

/// Starts a watchdog: if the returned guard is not dropped within `secs` seconds, prints
/// `"WATCHDOG: <name> did not finish within <secs> s (deadlock?)"` to stderr and aborts the
/// whole process, so a deadlock fails the test run instead of hanging it.
///
/// ```ignore
/// let _wd = common::watchdog(30, "fifo_per_producer");
/// ```
pub fn watchdog(secs: u64, name: &str) -> Watchdog {
    let (tx, rx) = mpsc::channel::<()>();
    let name = name.to_owned();
    thread::Builder::new()
        .name(format!("watchdog:{name}"))
        .spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(Duration::from_secs(secs))
            {
                eprintln!("WATCHDOG: {name} did not finish within {secs} s (deadlock?); aborting");
                std::process::abort();
            }
        })
        .expect("spawn watchdog thread");
    Watchdog { _disarm: tx }
}

/// Takes a file-local serialization lock, ignoring poisoning (a failed test must not make
/// every later test in the file fail too).
///
/// ```ignore
/// static LOCK: Mutex<()> = Mutex::new(());
/// let _serial = common::serial(&LOCK);
/// ```
pub fn serial(lock: &'static Mutex<()>) -> MutexGuard<'static, ()> {
    lock.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------------------

/// A plain `sa_handler`-style signal handler.
pub type Handler = extern "C" fn(libc::c_int);

/// Restores the previous disposition of a signal when dropped.
pub struct HandlerGuard {
    signo: libc::c_int,
    old: libc::sigaction,
}

/// Installs `handler` for `signo` with `sigaction(2)`: `SA_RESTART` only if `restart`,
/// an empty `sa_mask`, no `SA_NODEFER` (so the handler is not re-entered by its own
/// signal, while other signals may still interrupt it).
///
/// Panics if `sigaction` fails (a test setup error). Serialize tests that use this.
pub fn install_handler(signo: libc::c_int, handler: Handler, restart: bool) -> HandlerGuard {
    // SAFETY: a zeroed `sigaction` is a valid value (empty mask, no flags) that we fill in
    // before passing it on; `handler` is an `extern "C" fn(c_int)`, the type `sa_sigaction`
    // stands for when `SA_SIGINFO` is not set; `old` is a valid place to write to.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as usize;
        sa.sa_flags = if restart { libc::SA_RESTART } else { 0 };
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        let rc = libc::sigaction(signo, &sa, &mut old);
        assert_eq!(
            rc,
            0,
            "sigaction({signo}): {}",
            std::io::Error::last_os_error()
        );
        HandlerGuard { signo, old }
    }
}

impl Drop for HandlerGuard {
    fn drop(&mut self) {
        // SAFETY: `sigaction` with a valid action pointer. Going through `SIG_IGN` first
        // discards any instance of the signal still pending (POSIX), so restoring the
        // default action cannot kill the process with a late signal.
        unsafe {
            let mut ign: libc::sigaction = std::mem::zeroed();
            ign.sa_sigaction = libc::SIG_IGN;
            libc::sigemptyset(&mut ign.sa_mask);
            libc::sigaction(self.signo, &ign, std::ptr::null_mut());
            libc::sigaction(self.signo, &self.old, std::ptr::null_mut());
        }
    }
}

/// The calling thread's `pthread_t`, for [`Storm`] and `pthread_kill`.
pub fn current_pthread() -> libc::pthread_t {
    // SAFETY: `pthread_self` has no preconditions.
    unsafe { libc::pthread_self() }
}

/// The calling thread's kernel thread id. Async-signal-safe (a raw syscall), so handlers
/// can use it to tell which thread they interrupted.
pub fn gettid() -> libc::pid_t {
    // SAFETY: `gettid` takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

/// The calling thread's `errno`. Async-signal-safe.
pub fn errno() -> libc::c_int {
    // SAFETY: `__errno_location` returns the calling thread's errno address, always valid.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`. Async-signal-safe.
pub fn set_errno(value: libc::c_int) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = value }
}

/// A thread that fires `signo` at one thread with `pthread_kill` in a tight loop until
/// stopped. Standard signals do not queue, so the target's handler runs at most once per
/// pending instance: count handler runs in the handler, not here.
///
/// How many signals actually land depends on the scheduler: the target must get a CPU
/// while one is pending. On a loaded 2-core machine that ranged from ~10 000/s down to a
/// handful per second; [`ThreadTimer`] lands thousands per second much more reliably.
/// Assert only a low floor of handler runs for a storm.
pub struct Storm {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Storm {
    /// Starts firing at `target`, which must stay alive until [`Storm::stop`] returns.
    /// `pause` is spun (not slept) between two signals; `Duration::ZERO` is a tight loop
    /// (typically several hundred thousand `pthread_kill`s per second).
    pub fn start(target: libc::pthread_t, signo: libc::c_int, pause: Duration) -> Storm {
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let thread = {
            let (stop, sent) = (stop.clone(), sent.clone());
            // `pthread_t` is an integer on Linux: it moves into the thread as a value.
            thread::Builder::new()
                .name("storm".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        // SAFETY: the caller keeps `target` alive until `stop` returns,
                        // which joins this thread first.
                        let rc = unsafe { libc::pthread_kill(target, signo) };
                        assert_eq!(rc, 0, "pthread_kill: error {rc}");
                        sent.fetch_add(1, Ordering::Relaxed);
                        if !pause.is_zero() {
                            let t = Instant::now();
                            while t.elapsed() < pause {
                                std::hint::spin_loop();
                            }
                        }
                    }
                })
                .expect("spawn storm thread")
        };
        Storm {
            stop,
            sent,
            thread: Some(thread),
        }
    }

    /// How many signals were sent so far.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Stops firing and joins the thread; returns how many signals were sent.
    pub fn stop(mut self) -> u64 {
        self.halt();
        self.sent()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().expect("storm thread panicked");
        }
    }
}

impl Drop for Storm {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A POSIX interval timer (`CLOCK_MONOTONIC`) that delivers `signo` to one thread, by
/// kernel thread id (`SIGEV_THREAD_ID`). Deleted on drop. Costs no helper thread; the
/// kernel merges expirations while the signal is pending.
pub struct ThreadTimer {
    id: libc::timer_t,
}

impl ThreadTimer {
    /// Fires `signo` at thread `tid` (see [`gettid`]) every `interval`, starting after one
    /// interval. Panics if the timer cannot be created (a test setup error).
    pub fn start(tid: libc::pid_t, signo: libc::c_int, interval: Duration) -> ThreadTimer {
        // SAFETY: a zeroed `sigevent` is valid; we set the fields `SIGEV_THREAD_ID` reads.
        // `id` is written by `timer_create` before we use it; the `itimerspec` is valid.
        unsafe {
            let mut sev: libc::sigevent = std::mem::zeroed();
            sev.sigev_notify = libc::SIGEV_THREAD_ID;
            sev.sigev_signo = signo;
            sev.sigev_notify_thread_id = tid;
            let mut id: libc::timer_t = std::mem::zeroed();
            let rc = libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id);
            assert_eq!(rc, 0, "timer_create: {}", std::io::Error::last_os_error());
            let ts = libc::timespec {
                tv_sec: interval.as_secs() as libc::time_t,
                tv_nsec: interval.subsec_nanos() as libc::c_long,
            };
            let spec = libc::itimerspec {
                it_interval: ts,
                it_value: ts,
            };
            let rc = libc::timer_settime(id, 0, &spec, std::ptr::null_mut());
            assert_eq!(rc, 0, "timer_settime: {}", std::io::Error::last_os_error());
            ThreadTimer { id }
        }
    }
}

impl Drop for ThreadTimer {
    fn drop(&mut self) {
        // SAFETY: `id` came from a successful `timer_create` and is deleted only here.
        unsafe {
            libc::timer_delete(self.id);
        }
    }
}

/// The scheduler state of thread `tid` of this process (`'R'`, `'S'`, ...), from
/// `/proc/self/task/<tid>/stat`; `None` if the thread is gone.
pub fn thread_state(tid: libc::pid_t) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    // "tid (comm) S ...": the name may contain anything, so look after the last ')'.
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// Waits until thread `tid` is asleep in the kernel (state `'S'`), for at most `max`.
/// Returns whether it was seen asleep. Use it to make sure a consumer really sleeps in
/// `poll` before the test goes on (call it after the thread announced it is about to).
pub fn wait_until_sleeping(tid: libc::pid_t, max: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < max {
        if thread_state(tid) == Some('S') {
            return true;
        }
        thread::sleep(Duration::from_millis(1));
    }
    false
}

// ---------------------------------------------------------------------------------------
// CPU time
// ---------------------------------------------------------------------------------------

/// CPU time consumed so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; this clock exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

// ---------------------------------------------------------------------------------------
// Drop tracking
// ---------------------------------------------------------------------------------------

/// Per-value drop counters for values `0..n`; see [`Tracked`].
pub struct DropLog {
    counts: Vec<AtomicU32>,
}

impl DropLog {
    /// A log for ids `0..n`, all at zero drops.
    pub fn new(n: usize) -> Arc<DropLog> {
        Arc::new(DropLog {
            counts: (0..n).map(|_| AtomicU32::new(0)).collect(),
        })
    }

    /// A value with id `id` (`< n`) that records its drop here.
    pub fn track(self: &Arc<Self>, id: usize) -> Tracked {
        assert!(id < self.counts.len(), "id {id} out of range");
        Tracked {
            id,
            log: self.clone(),
        }
    }

    /// How many times value `id` was dropped.
    pub fn drops(&self, id: usize) -> u32 {
        self.counts[id].load(Ordering::SeqCst)
    }

    /// Total drops recorded.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| u64::from(c.load(Ordering::SeqCst)))
            .sum()
    }

    /// Panics (naming the first offender) unless every id in `ids` was dropped exactly
    /// once.
    pub fn assert_each_once(&self, ids: std::ops::Range<usize>) {
        for id in ids {
            let d = self.drops(id);
            assert_eq!(
                d, 1,
                "value {id} was dropped {d} times, expected exactly once"
            );
        }
    }
}

/// A value that bumps its [`DropLog`] counter when dropped (an atomic add: fine in a
/// signal handler too).
#[derive(Debug)]
pub struct Tracked {
    /// Its id in the log.
    pub id: usize,
    log: Arc<DropLog>,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.counts[self.id].fetch_add(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for DropLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DropLog({} values, {} drops)",
            self.counts.len(),
            self.total()
        )
    }
}

// ---------------------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------------------

/// Both explicit backends; tests loop over these. (`Backend::Auto` is the pipe when built
/// with `--cfg sigring_force_pipe`, so plain `sigring::channel` covers it in that run.)
pub const BACKENDS: [Backend; 2] = [Backend::EventFd, Backend::Pipe];

/// `Builder::new(cap).backend(backend).build()`, panicking on error, and checking that the
/// receiver reports the backend asked for.
pub fn build<T: Send>(cap: usize, backend: Backend) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = Builder::new(cap)
        .backend(backend)
        .build::<T>()
        .unwrap_or_else(|e| panic!("build({cap}, {backend:?}): {e}"));
    if backend != Backend::Auto {
        assert_eq!(rx.backend(), backend);
    }
    (tx, rx)
}

/// `try_send`, retrying `Full` with `thread::yield_now` until it goes in. Returns the value
/// back if the receiver is gone.
pub fn send_retry<T: Send>(tx: &Sender<T>, mut value: T) -> Result<(), T> {
    loop {
        match tx.try_send(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Full(v)) => {
                value = v;
                thread::yield_now();
            }
            Err(TrySendError::Disconnected(v)) => return Err(v),
        }
    }
}

// ---------------------------------------------------------------------------------------
// File descriptors
// ---------------------------------------------------------------------------------------

/// The open descriptors of this process, from `/proc/self/fd` (the descriptor used to read
/// the directory is excluded). Other threads opening fds meanwhile make this racy:
/// serialize tests that compare snapshots.
pub fn open_fds() -> BTreeSet<i32> {
    let mut fds: BTreeSet<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own fd shows up in its listing but is closed again by now.
    // SAFETY: `fcntl(F_GETFD)` on any integer only reports whether it is open.
    fds.retain(|&fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1);
    fds
}

/// Runs `f` and returns its result with the descriptors that were open after it but not
/// before (sorted). Serialize tests that use this: other threads opening fds meanwhile
/// would show up too.
pub fn fds_opened_by<R>(f: impl FnOnce() -> R) -> (R, Vec<i32>) {
    let before = open_fds();
    let r = f();
    let after = open_fds();
    (r, after.difference(&before).copied().collect())
}

/// An `io::Write` into shared memory, for writers handed to a logger or an example: clone
/// it, give one clone away, read what was written with [`MemWriter::text`].
#[derive(Clone, Default)]
pub struct MemWriter(std::sync::Arc<Mutex<Vec<u8>>>);

impl std::io::Write for MemWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MemWriter {
    /// Everything written so far, as UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).expect("output is UTF-8")
    }
}

// ---------------------------------------------------------------------------------------
// Readiness and EINTR storms (added for the static-channel and blocking-send tests)
// ---------------------------------------------------------------------------------------

/// Whether `fd` is readable now. Miri runs no `poll(2)`, and epoll only edge-triggered:
/// a fresh epoll instance reports a descriptor that is readable when it is added (as Linux
/// does), and nothing otherwise.
#[cfg(miri)]
pub fn fd_readable(fd: std::os::fd::RawFd) -> bool {
    use std::os::fd::AsRawFd;
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: a plain syscall; a non-negative result is a new fd that only `ep` owns.
    let ep = unsafe {
        let raw = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(
            raw >= 0,
            "epoll_create1: {}",
            std::io::Error::last_os_error()
        );
        OwnedFd::from_raw_fd(raw)
    };
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: `ep` is an epoll fd, `fd` an open fd, `ev` a valid event.
    let rc = unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
    assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    let mut out = [libc::epoll_event { events: 0, u64: 0 }];
    // SAFETY: `out` has room for the one event asked for; timeout 0.
    let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 1, 0) };
    assert!(n >= 0, "epoll_wait: {}", std::io::Error::last_os_error());
    n == 1 && out[0].events & libc::EPOLLIN as u32 != 0
}

/// Whether `fd` is readable now, as a level-triggered `poll(2)` with timeout 0 sees it
/// (an event loop's view of a receiver: `fd_readable(rx.as_raw_fd())`).
#[cfg(not(miri))]
pub fn fd_readable(fd: std::os::fd::RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid `pollfd`, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        if n < 0 && errno() == libc::EINTR {
            continue;
        }
        assert!(n >= 0, "poll: {}", std::io::Error::last_os_error());
        assert_eq!(pfd.revents & libc::POLLNVAL, 0, "poll: fd {fd} is not open");
        return n == 1 && pfd.revents & libc::POLLIN != 0;
    }
}

/// How [`under_eintr_storm`] interrupts its thread.
#[derive(Clone, Copy, Debug)]
pub enum StormSource {
    /// A [`Storm`]: `pthread_kill` in a tight loop from a helper thread.
    Kill,
    /// A [`ThreadTimer`] with this period.
    Timer(Duration),
}

static EINTR_TARGET: AtomicU32 = AtomicU32::new(0);
static EINTR_ON_TARGET: AtomicU64 = AtomicU64::new(0);
static EINTR_ELSEWHERE: AtomicU64 = AtomicU64::new(0);

/// Counts its runs on the storm's target thread; installed without `SA_RESTART`, so each
/// run makes a blocking system call the thread is in fail with `EINTR`.
extern "C" fn eintr_count_handler(_sig: libc::c_int) {
    if gettid() as u32 == EINTR_TARGET.load(Ordering::Relaxed) {
        EINTR_ON_TARGET.fetch_add(1, Ordering::Relaxed);
    } else {
        EINTR_ELSEWHERE.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many times the handler of the current [`under_eintr_storm`] ran on its target so
/// far (for a helper thread that waits until the storm has really landed).
pub fn eintr_storm_runs() -> u64 {
    EINTR_ON_TARGET.load(Ordering::SeqCst)
}

/// Runs `body` on a fresh thread under a storm of `signo` aimed at that thread, with a
/// counting handler installed without `SA_RESTART`; returns `body`'s result and how many
/// times the handler ran on that thread. Panics if it ran on any other thread.
///
/// Installs a process-wide handler: the caller must hold its file's [`serial`] lock.
pub fn under_eintr_storm<R: Send + 'static>(
    signo: libc::c_int,
    source: StormSource,
    body: impl FnOnce() -> R + Send + 'static,
) -> (R, u64) {
    EINTR_ON_TARGET.store(0, Ordering::SeqCst);
    EINTR_ELSEWHERE.store(0, Ordering::SeqCst);
    let _handler = install_handler(signo, eintr_count_handler, false);
    let (id_tx, id_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let t = thread::spawn(move || {
        EINTR_TARGET.store(gettid() as u32, Ordering::SeqCst);
        id_tx.send((current_pthread(), gettid())).unwrap();
        go_rx.recv().unwrap();
        body()
    });
    let (target, tid) = id_rx.recv().unwrap();
    let storm = match source {
        StormSource::Kill => (Some(Storm::start(target, signo, Duration::ZERO)), None),
        StormSource::Timer(period) => (None, Some(ThreadTimer::start(tid, signo, period))),
    };
    go_tx.send(()).unwrap();
    // `pthread_kill` needs the target alive: stop the storm before joining.
    while !t.is_finished() {
        thread::sleep(Duration::from_millis(5));
    }
    drop(storm);
    let r = t.join().unwrap();
    assert_eq!(
        EINTR_ELSEWHERE.load(Ordering::SeqCst),
        0,
        "the storm's handler ran on another thread"
    );
    (r, EINTR_ON_TARGET.load(Ordering::SeqCst))
}

/// A `#[global_allocator]` (`static GLOBAL: Hooked = Hooked(hook);`) that forwards every call
/// to `System` unchanged, calling `hook` first: `(layout, false)` for `alloc`,
/// `alloc_zeroed` and `realloc` (there the new block's size, with the old alignment), and
/// `(layout, true)` for `dealloc`. The hook runs inside the allocator: it must not allocate.
pub struct Hooked(pub fn(Layout, bool));

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; the hook
// is required not to allocate and gets no access to the memory.
unsafe impl GlobalAlloc for Hooked {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (self.0)(layout, false);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (self.0)(layout, false);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (self.0)(
            Layout::from_size_align(new_size, layout.align()).unwrap_or(layout),
            false,
        );
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (self.0)(layout, true);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}
