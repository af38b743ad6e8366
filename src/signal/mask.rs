//! Thread hygiene: block signals on this thread ([`block`]) or in a new one
//! ([`spawn_blocked`]), so process-directed signals land on the thread meant to take them.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::thread::{self, JoinHandle};

use libc::{c_int, sigset_t};

use super::name::{check, max_signal, Use};

/// A `sigset_t` holding exactly `signals`, after checking each one for `what`.
pub(crate) fn sigset(signals: &[c_int], what: Use) -> io::Result<sigset_t> {
    let mut set = empty_set();
    for &signal in signals {
        check(signal, what)?;
        // SAFETY: `set` was initialized by `sigemptyset`; `signal` is in range (checked).
        if unsafe { libc::sigaddset(&mut set, signal) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(set)
}

/// An empty `sigset_t`.
pub(crate) fn empty_set() -> sigset_t {
    let mut set = MaybeUninit::<sigset_t>::uninit();
    // SAFETY: `sigemptyset` initializes the whole set it is given and cannot fail for a
    // valid pointer.
    unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        set.assume_init()
    }
}

/// `pthread_sigmask(how, set)` on the calling thread; returns the mask from before.
fn sigmask(how: c_int, set: Option<&sigset_t>) -> io::Result<sigset_t> {
    let mut old = empty_set();
    let set = set.map_or(std::ptr::null(), |s| s as *const sigset_t);
    // SAFETY: `set` is null or points to an initialized set; `old` is a valid out-pointer.
    let rc = unsafe { libc::pthread_sigmask(how, set, &mut old) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(old)
}

/// Blocks `signals` on the calling thread until the returned guard is dropped, which
/// restores the mask from before the call (`pthread_sigmask(SIG_BLOCK)`, then
/// `SIG_SETMASK`).
///
/// A blocked signal sent to this thread stays pending, and is delivered as soon as the
/// guard restores a mask that lets it through; a process-directed signal goes to another
/// thread that does not block it, if there is one. Drop nested guards in reverse order
/// (plain scoping does), since each restores the mask it found. The guard is not `Send`:
/// a thread's mask can only be restored by that thread.
///
/// # Async-signal safety
///
/// `block` and dropping the guard only call `sigemptyset`, `sigaddset` and
/// `pthread_sigmask`, which POSIX lists as async-signal-safe; they do not allocate.
/// (Building the error message for a bad signal allocates; that path returns before
/// changing anything.)
///
/// # Errors
///
/// `InvalidInput`, naming the signal, for `SIGKILL`, `SIGSTOP` (they cannot be blocked),
/// numbers reserved by the C library, and numbers out of range. Nothing is changed then.
///
/// # Examples
///
/// ```
/// use sigring::signal;
///
/// let (tx, rx) = sigring::channel(4)?;
/// let _forwarding = signal::forward(&[libc::SIGUSR2], &tx)?;
/// {
///     let _blocked = signal::block(&[libc::SIGUSR2])?;
///     assert!(signal::blocked()?.contains(&libc::SIGUSR2));
///     // SAFETY: `raise` has no preconditions.
///     unsafe { libc::raise(libc::SIGUSR2) }; // pending: blocked on this thread
///     assert!(rx.try_recv().is_err());
/// } // the old mask is back, and the pending signal is delivered right here
/// assert_eq!(rx.try_recv().unwrap().signal, libc::SIGUSR2);
/// assert!(!signal::blocked()?.contains(&libc::SIGUSR2));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn block(signals: &[c_int]) -> io::Result<BlockGuard> {
    let set = sigset(signals, Use::Block)?;
    let old = sigmask(libc::SIG_BLOCK, Some(&set))?;
    Ok(BlockGuard {
        old,
        _not_send: PhantomData,
    })
}

/// The signals blocked on the calling thread now, in increasing order.
/// Async-signal-safe apart from building the `Vec` (it allocates).
///
/// # Errors
///
/// The OS error from `pthread_sigmask` (not expected in practice).
pub fn blocked() -> io::Result<Vec<c_int>> {
    let mask = sigmask(libc::SIG_BLOCK, None)?;
    Ok((1..=max_signal())
        // SAFETY: `mask` is an initialized set; `sigismember` reads it and returns -1 for
        // numbers it does not know, which we treat as "not blocked".
        .filter(|&s| unsafe { libc::sigismember(&mask, s) } == 1)
        .collect())
}

/// Restores the calling thread's signal mask from before [`block`] when dropped.
#[must_use = "the signals are unblocked again as soon as the guard is dropped"]
pub struct BlockGuard {
    old: sigset_t,
    /// A thread's mask belongs to that thread: the guard must be dropped where it was made.
    _not_send: PhantomData<*const ()>,
}

impl Drop for BlockGuard {
    fn drop(&mut self) {
        // Cannot fail with a valid `how` and set; if it did, there is nothing better to do
        // than to keep the current mask.
        let _ = sigmask(libc::SIG_SETMASK, Some(&self.old));
    }
}

impl fmt::Debug for BlockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockGuard").finish_non_exhaustive()
    }
}

/// Spawns a thread that starts with `signals` blocked, so process-directed signals never
/// land on it (on Linux and FreeBSD alike, a process-directed signal goes to any thread
/// that does not block it).
///
/// The mask is set the only race-free way: the calling thread blocks `signals`, spawns
/// (a new thread inherits its creator's mask), and restores its own mask, all before this
/// returns. A signal arriving in that window stays pending or goes to another thread; none
/// is lost. Pass [`Forwarding::signals`](super::Forwarding::signals) to keep workers
/// off the forwarded signals. Not async-signal-safe (it spawns a thread).
///
/// # Errors
///
/// As for [`block`], and the error of [`thread::Builder::spawn`].
///
/// # Examples
///
/// ```
/// use sigring::signal;
///
/// let worker = signal::spawn_blocked(&[libc::SIGTERM, libc::SIGINT], || signal::blocked())?;
/// let mask = worker.join().unwrap()?;
/// assert!(mask.contains(&libc::SIGTERM) && mask.contains(&libc::SIGINT));
/// assert!(!signal::blocked()?.contains(&libc::SIGTERM)); // this thread is unchanged
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_blocked<F, T>(signals: &[c_int], f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_blocked_with(thread::Builder::new(), signals, f)
}

/// [`spawn_blocked`] with a [`thread::Builder`] (name, stack size).
///
/// # Errors
///
/// As for [`spawn_blocked`].
///
/// # Examples
///
/// ```
/// use std::thread;
/// use sigring::signal;
///
/// let builder = thread::Builder::new().name("worker".into());
/// let worker = signal::spawn_blocked_with(builder, &[libc::SIGHUP], || {
///     thread::current().name().map(String::from)
/// })?;
/// assert_eq!(worker.join().unwrap().as_deref(), Some("worker"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_blocked_with<F, T>(
    builder: thread::Builder,
    signals: &[c_int],
    f: F,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let guard = block(signals)?;
    let spawned = builder.spawn(f);
    drop(guard);
    spawned
}
