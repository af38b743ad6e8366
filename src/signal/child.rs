//! Child hygiene: a [`Command`] extension that gives the child default signal dispositions
//! and an empty signal mask, whatever the parent did with its own.

use std::io;
use std::os::unix::process::CommandExt as _;
use std::process::Command;

use libc::{c_int, sigset_t};

use super::mask::{empty_set, sigset};
use super::name::{first_realtime, max_signal, Use};

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::process::Command {}
}

/// Signal hygiene for [`std::process::Command`]: the child starts with default
/// dispositions and an empty signal mask.
///
/// Why: handled signals are reset to their default action by `exec`, but **ignored**
/// signals stay ignored across `exec`, and a child inherits the mask of the thread that
/// forks it. std already empties the mask and restores `SIGPIPE` for the child; nothing
/// else. The classic trap is a supervisor that sets `SIGINT` to `SIG_IGN` before spawning
/// workers: the workers then cannot be interrupted either. Another is a `SIGCHLD` set to
/// `SIG_IGN`, which makes a child's own `waitpid` fail.
///
/// Both methods install a `pre_exec` hook, which runs in the child between `fork` and
/// `exec`. Everything it needs is computed before the fork; in the child it only calls
/// `sigprocmask` and `sigaction` (async-signal-safe), allocates nothing and cannot panic.
/// A `pre_exec` hook makes std use `fork` + `exec` instead of `posix_spawn`.
///
/// Import it as `use sigring::signal::CommandExt as _;` next to std's own `CommandExt`.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use sigring::signal::CommandExt as _;
///
/// let status = Command::new("true")
///     .default_signals(&[libc::SIGINT, libc::SIGQUIT])?
///     .status()?;
/// assert!(status.success());
///
/// let status = Command::new("true").default_all_signals().status()?;
/// assert!(status.success());
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait CommandExt: sealed::Sealed {
    /// In the child: `SIG_DFL` for each of `signals`, and an empty signal mask.
    ///
    /// May be called repeatedly; each call adds a hook. Not async-signal-safe (it
    /// allocates the hook); the hook itself is.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, naming the signal, for `SIGKILL`, `SIGSTOP`, numbers reserved by
    /// the C library and numbers out of range. The command is left unchanged then.
    fn default_signals(&mut self, signals: &[c_int]) -> io::Result<&mut Self>;

    /// In the child: `SIG_DFL` for every signal that is ignored or handled at the time of
    /// the fork (the parent's dispositions, which the child inherits), and an empty signal
    /// mask. The child looks each one up with `sigaction` after the fork, so a disposition
    /// changed between this call and `spawn` is still covered.
    ///
    /// The numbers the C library reserves for itself (glibc: 32 and 33, between `SIGSYS`
    /// and `SIGRTMIN`) are left as they are: its `sigaction` refuses them, and glibc's own
    /// `posix_spawn` deliberately sets them to `SIG_IGN` in the children it starts.
    fn default_all_signals(&mut self) -> &mut Self;
}

impl CommandExt for Command {
    fn default_signals(&mut self, signals: &[c_int]) -> io::Result<&mut Self> {
        // Computed before the fork: the hook only reads them.
        sigset(signals, Use::Default)?;
        let signals: Vec<c_int> = signals.to_vec();
        let empty = empty_set();
        let hook = move || -> io::Result<()> {
            block_all()?;
            for &signal in &signals {
                set_default(signal)?;
            }
            set_mask(&empty)
        };
        // SAFETY: `pre_exec` requires a hook that is async-signal-safe, because it runs in
        // the child of a possibly multi-threaded parent between `fork` and `exec`. This
        // hook only calls `sigprocmask` and `sigaction` (both on POSIX's async-signal-safe
        // list), reads data computed and allocated before the fork (the `Vec` is only
        // iterated, never grown or freed there), allocates nothing, takes no lock and has
        // no panic path; `io::Error::last_os_error` only reads errno.
        unsafe { self.pre_exec(hook) };
        Ok(self)
    }

    fn default_all_signals(&mut self) -> &mut Self {
        // Every number `sigaction` accepts, except the two nobody can change; computed
        // before the fork (`SIGRTMIN`/`SIGRTMAX` are libc calls).
        let reserved = first_realtime().map(|min| (libc::SIGSYS + 1)..min);
        let signals: Vec<c_int> = (1..=max_signal())
            .filter(|&s| s != libc::SIGKILL && s != libc::SIGSTOP)
            .filter(|s| !reserved.as_ref().is_some_and(|r| r.contains(s)))
            .collect();
        let empty = empty_set();
        let hook = move || -> io::Result<()> {
            block_all()?;
            for &signal in &signals {
                // A number this system does not accept is skipped, not an error.
                if is_default(signal) == Some(false) {
                    set_default(signal)?;
                }
            }
            set_mask(&empty)
        };
        // SAFETY: as in `default_signals`: the hook only calls `sigprocmask` and
        // `sigaction`, reads a `Vec` built before the fork, allocates nothing, takes no
        // lock and cannot panic.
        unsafe { self.pre_exec(hook) };
        self
    }
}

/// Blocks every signal in the (single-threaded) child while dispositions change, so no
/// handler inherited from the parent runs halfway through. Async-signal-safe.
fn block_all() -> io::Result<()> {
    let mut all = empty_set();
    // SAFETY: `sigfillset` initializes the set it is given.
    unsafe { libc::sigfillset(&mut all) };
    set_mask(&all)
}

/// `sigprocmask(SIG_SETMASK, set)`. Async-signal-safe.
fn set_mask(set: &sigset_t) -> io::Result<()> {
    // SAFETY: `set` is an initialized set; a null old-set pointer is allowed.
    if unsafe { libc::sigprocmask(libc::SIG_SETMASK, set, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `signal` has the default disposition; `None` if `sigaction` refuses the number.
/// Async-signal-safe.
fn is_default(signal: c_int) -> Option<bool> {
    // SAFETY: a zeroed `sigaction` is a valid out-value; a null new-action pointer only
    // queries.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(signal, std::ptr::null(), &mut old) != 0 {
            return None;
        }
        Some(old.sa_sigaction == libc::SIG_DFL)
    }
}

/// `sigaction(signal, SIG_DFL)` with an empty mask and no flags. Async-signal-safe.
fn set_default(signal: c_int) -> io::Result<()> {
    // SAFETY: a zeroed `sigaction` is a valid value with no flags; `sigemptyset` makes
    // its mask empty; with `SIG_DFL` as the handler it is a complete, valid action.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_sigaction = libc::SIG_DFL;
        if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
