//! Thin syscall wrappers: an errno guard, `EINTR`-retrying `read`/`write`, a
//! deadline-keeping wait for readability, and a futex wait and wake (Linux).
//!
//! `write_token`, `futex_wake` and [`ErrnoGuard`] are async-signal-safe: they only call
//! `write(2)` or `futex(2)` and touch `errno`. The rest is for the consumer.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

use libc::c_int;

#[cfg(any(target_os = "linux", target_os = "android"))]
use crate::sync::AtomicU32;

/// Where this thread's `errno` lives.
#[inline]
fn errno_location() -> *mut c_int {
    // SAFETY: these libc functions take no arguments, cannot fail, and return the address
    // of the calling thread's errno; they are async-signal-safe.
    unsafe {
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "emscripten"))]
        {
            libc::__errno_location()
        }
        #[cfg(any(
            target_os = "macos",
            target_os = "ios",
            target_os = "tvos",
            target_os = "watchos",
            target_os = "freebsd",
            target_os = "dragonfly"
        ))]
        {
            libc::__error()
        }
        #[cfg(any(target_os = "netbsd", target_os = "openbsd", target_os = "haiku"))]
        {
            libc::__errno()
        }
        #[cfg(any(target_os = "solaris", target_os = "illumos"))]
        {
            libc::___errno()
        }
    }
}

/// The calling thread's `errno`.
#[inline]
pub(crate) fn errno() -> c_int {
    // SAFETY: `errno_location` returns a valid, thread-local, aligned pointer.
    unsafe { *errno_location() }
}

/// Saves `errno` when created and restores it when dropped, so code interrupted by a
/// signal handler that makes a syscall never sees `errno` change. Async-signal-safe.
pub(crate) struct ErrnoGuard(c_int);

impl ErrnoGuard {
    #[inline]
    pub(crate) fn new() -> Self {
        ErrnoGuard(errno())
    }
}

impl Drop for ErrnoGuard {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: as in `errno`; writing our own thread's errno is always allowed.
        unsafe { *errno_location() = self.0 }
    }
}

/// Writes `buf` to the non-blocking `fd` once, retrying only `EINTR`. `EAGAIN` (a full
/// pipe, a saturated eventfd counter) is ignored: the fd is readable already.
///
/// Async-signal-safe; preserves `errno`.
#[inline]
pub(crate) fn write_token(fd: RawFd, buf: &[u8]) {
    let _errno = ErrnoGuard::new();
    loop {
        // SAFETY: `buf` is a valid readable slice for its length; `fd` is owned by the
        // caller's waker and open for as long as any handle exists.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n >= 0 || errno() != libc::EINTR {
            return;
        }
    }
}

/// What is left of `deadline`: `Some(None)` without one, `Some(Some(d))` with `d > 0`
/// left, `None` once it has passed.
fn time_left(deadline: Option<Instant>) -> Option<Option<std::time::Duration>> {
    match deadline {
        None => Some(None),
        Some(deadline) => deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .map(Some),
    }
}

/// `d` as a `timespec` (saturating at the largest `time_t`): for `futex` and `ppoll`.
#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
))]
fn timespec(d: std::time::Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
        tv_nsec: d.subsec_nanos() as _,
    }
}

/// Sleeps while `word` holds `expected`: a private futex wait, retried across `EINTR`
/// until `deadline` (`None`: no deadline). Returns `false` once `deadline` has passed,
/// `true` when woken or when `word` no longer held `expected` (which includes spurious
/// wake-ups: the caller looks again). Consumer only.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
    loop {
        let Some(left) = time_left(deadline) else {
            return false;
        };
        let ts = left.map(timespec);
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: `word` is a valid, aligned 32-bit atomic for the duration of the call (a
        // futex word is only read by the kernel); `ts_ptr` is null or points to a timespec
        // that outlives the call; the two trailing arguments are unused by FUTEX_WAIT.
        let r = unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                expected,
                ts_ptr,
                std::ptr::null::<u32>(),
                0u32,
            )
        };
        if r == 0 {
            return true;
        }
        match errno() {
            // The word changed before we slept: woken, as far as the caller is concerned.
            libc::EAGAIN => return true,
            // The relative timeout ran out; the loop re-checks the deadline itself, so a
            // kernel wake-up a little early is not reported as expiry.
            libc::ETIMEDOUT | libc::EINTR => {}
            // Nothing else is documented for a valid private futex word: do not spin hot,
            // do not give up on the caller's wait; the caller looks again.
            _ => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                return true;
            }
        }
    }
}

/// Wakes one thread sleeping in [`futex_wait`] on `word`. One system call, no lock.
///
/// Async-signal-safe (a raw system call, as `sem_post` makes); preserves `errno`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn futex_wake(word: &AtomicU32) {
    let _errno = ErrnoGuard::new();
    // SAFETY: `word` is a valid, aligned 32-bit atomic; FUTEX_WAKE only uses its address
    // as a key and reads nothing else.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1u32,
        );
    }
}

/// Reads once from the non-blocking `fd` into `buf`, retrying `EINTR`. Returns the number
/// of bytes read, 0 when nothing was there (`EAGAIN`) or on any other error.
pub(crate) fn read_nonblocking(fd: RawFd, buf: &mut [u8]) -> usize {
    loop {
        // SAFETY: `buf` is a valid writable slice for its length; `fd` is open (see above).
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return n as usize;
        }
        if errno() != libc::EINTR {
            return 0;
        }
    }
}

/// Takes ownership of a freshly returned fd, or turns `-1` into the OS error.
pub(crate) fn owned_fd(fd: c_int) -> io::Result<OwnedFd> {
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        // SAFETY: a non-negative return from a creating syscall is a new fd nobody else owns.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Blocks until `fd` is readable (`true`) or `deadline` has passed (`false`).
///
/// `EINTR` is retried with the remaining time recomputed from the monotonic `deadline`, so
/// a storm of signals neither returns early nor extends the wait. No periodic wake-ups:
/// without a deadline the thread sleeps in the kernel until the fd becomes readable.
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> bool {
    let fd = fd.as_raw_fd();
    loop {
        let Some(remaining) = time_left(deadline) else {
            return false;
        };
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let n = poll_one(&mut pfd, remaining);
        if n > 0 {
            return true;
        }
        if n < 0 {
            match errno() {
                libc::EINTR => {}
                // ENOMEM or similar: do not spin hot, do not give up on the caller's wait.
                _ => std::thread::sleep(std::time::Duration::from_millis(1)),
            }
        }
        // n == 0: the timeout ran out; the loop re-checks the deadline itself, so a
        // kernel wake-up a little early is not reported as expiry.
    }
}

#[cfg(all(
    not(miri),
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )
))]
fn poll_one(pfd: &mut libc::pollfd, timeout: Option<std::time::Duration>) -> c_int {
    let ts = timeout.map(timespec);
    let ts_ptr = ts
        .as_ref()
        .map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `pfd` points to one valid pollfd; `ts_ptr` is null or points to a timespec
    // that outlives the call; a null sigmask leaves the mask unchanged.
    unsafe { libc::ppoll(pfd, 1, ts_ptr, std::ptr::null()) }
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "netbsd",
    target_os = "openbsd",
    target_os = "dragonfly"
)))]
fn poll_one(pfd: &mut libc::pollfd, timeout: Option<std::time::Duration>) -> c_int {
    // SAFETY: `pfd` points to one valid pollfd.
    unsafe { libc::poll(pfd, 1, timeout_ms(timeout)) }
}

/// A wait for `poll`/`epoll_wait` in milliseconds, `-1` for none. Rounded up, so an
/// unexpired deadline never turns into a zero (non-blocking) poll.
#[cfg(any(
    miri,
    not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    ))
))]
fn timeout_ms(timeout: Option<std::time::Duration>) -> c_int {
    timeout.map_or(-1, |d| {
        d.as_nanos().div_ceil(1_000_000).min(c_int::MAX as u128) as c_int
    })
}

/// Under miri only: miri runs neither `poll` nor `ppoll`, but it does run edge-triggered
/// epoll, and registering a descriptor that is readable already reports it at once (as
/// Linux does). So a one-shot epoll instance per wait behaves like `ppoll` on one fd, and
/// miri checks the real eventfd and pipe backends and the real wake protocol. Never built
/// outside miri.
#[cfg(all(miri, any(target_os = "linux", target_os = "android")))]
fn poll_one(pfd: &mut libc::pollfd, timeout: Option<std::time::Duration>) -> c_int {
    let ms = timeout_ms(timeout);
    // SAFETY: plain syscall with a valid flag; the result is checked by `owned_fd`.
    let Ok(ep) = owned_fd(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }) else {
        return -1;
    };
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: `ep` is our epoll fd, `pfd.fd` an open fd, `ev` a valid event.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, pfd.fd, &mut ev) } != 0 {
        return -1;
    }
    let mut out = [libc::epoll_event { events: 0, u64: 0 }];
    // SAFETY: `out` has room for the one event asked for.
    let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 1, ms) };
    if n > 0 {
        pfd.revents = libc::POLLIN;
    }
    n
}

/// `CLOCK_MONOTONIC` in nanoseconds.
///
/// Async-signal-safe: one `clock_gettime` (POSIX lists it; on Linux a vDSO read), which
/// does not change `errno` on success. No panic site, even with debug assertions: the
/// conversion wraps, no `mem::zeroed` (whose `write_bytes` carries a debug precondition
/// check), and a failed call (no such clock) gives 0, a harmless timestamp.
#[cfg_attr(not(feature = "log"), allow(dead_code))]
#[inline]
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = std::mem::MaybeUninit::<libc::timespec>::uninit();
    // SAFETY: `ts` points to writable memory for one timespec, which the call fills in
    // when it succeeds.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, ts.as_mut_ptr()) } != 0 {
        return 0;
    }
    // SAFETY: the call succeeded, so it wrote the whole timespec.
    let ts = unsafe { ts.assume_init() };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The calling thread's kernel id (`gettid`), or 0 where it cannot be had
/// async-signal-safely (outside Linux and Android).
///
/// Async-signal-safe: one raw system call, which cannot fail; unlike
/// `std::thread::current()` it neither allocates nor touches a thread-local, so it works
/// in a handler, an allocator hook and during thread teardown.
#[cfg_attr(not(feature = "log"), allow(dead_code))]
#[inline]
pub(crate) fn thread_id() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: `gettid` takes no arguments and cannot fail; a raw system call is
        // async-signal-safe.
        unsafe { libc::syscall(libc::SYS_gettid) as u64 }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        0
    }
}

/// This process's id. Async-signal-safe: `getpid(2)`, which cannot fail.
#[inline]
pub(crate) fn pid() -> u32 {
    // SAFETY: `getpid` takes no arguments and cannot fail.
    unsafe { libc::getpid() as u32 }
}

/// Whether process `pid` may still run: `false` once it has exited, whether or not its
/// parent has reaped it yet. Consumer side only (it reads `/proc` on Linux).
///
/// `kill(pid, 0)` failing with `ESRCH` means no such process. It succeeds for a zombie (a
/// process that exited and was not reaped), so on Linux the state letter in
/// `/proc/<pid>/stat` is read too: `Z` (zombie) or `X` (dead) count as exited. A `pid` that
/// was reused by a new process counts as alive: pids are handed out in increasing order
/// and wrap only after `pid_max` (4 194 304 by default on 64-bit Linux) more processes.
///
/// Under miri, which has no `kill`, only the calling process is known to be alive (miri runs
/// one process).
pub(crate) fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    if cfg!(miri) {
        return pid as u32 == self::pid();
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    if unsafe { libc::kill(pid, 0) } != 0 && errno() == libc::ESRCH {
        return false;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) {
        // `pid (comm) S ...`: the state letter follows the last `)` (comm may hold any).
        if let Some(end) = stat.iter().rposition(|&b| b == b')') {
            if let Some(&state) = stat.get(end + 2) {
                return !matches!(state, b'Z' | b'X' | b'x');
            }
        }
    }
    true
}
