//! Signal names for messages, and the checks that turn a bad signal number into an
//! `InvalidInput` error that names it.

use std::fmt;
use std::io;

use libc::c_int;

/// The classic names, from the platform's own constants (the numbers differ between
/// architectures and systems). The first entry for a number wins, so aliases such as
/// `SIGIOT` or `SIGPOLL` never show.
const NAMES: &[(c_int, &str)] = &[
    (libc::SIGHUP, "SIGHUP"),
    (libc::SIGINT, "SIGINT"),
    (libc::SIGQUIT, "SIGQUIT"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGTRAP, "SIGTRAP"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGUSR1, "SIGUSR1"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGUSR2, "SIGUSR2"),
    (libc::SIGPIPE, "SIGPIPE"),
    (libc::SIGALRM, "SIGALRM"),
    (libc::SIGTERM, "SIGTERM"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGSTKFLT, "SIGSTKFLT"),
    (libc::SIGCHLD, "SIGCHLD"),
    (libc::SIGCONT, "SIGCONT"),
    (libc::SIGSTOP, "SIGSTOP"),
    (libc::SIGTSTP, "SIGTSTP"),
    (libc::SIGTTIN, "SIGTTIN"),
    (libc::SIGTTOU, "SIGTTOU"),
    (libc::SIGURG, "SIGURG"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGXFSZ, "SIGXFSZ"),
    (libc::SIGVTALRM, "SIGVTALRM"),
    (libc::SIGPROF, "SIGPROF"),
    (libc::SIGWINCH, "SIGWINCH"),
    (libc::SIGIO, "SIGIO"),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    (libc::SIGPWR, "SIGPWR"),
    (libc::SIGSYS, "SIGSYS"),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::SIGEMT, "SIGEMT"),
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "dragonfly",
        target_os = "netbsd",
        target_os = "openbsd"
    ))]
    (libc::SIGINFO, "SIGINFO"),
];

/// The highest signal number this system has (`SIGRTMAX` where there are real-time
/// signals). Not async-signal-safe in principle (a libc call on Linux), so callers
/// compute it before a handler or a fork needs it.
pub(crate) fn max_signal() -> c_int {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        libc::SIGRTMAX()
    }
    #[cfg(target_os = "freebsd")]
    {
        126
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        31
    }
}

/// The first signal number the C library leaves to applications after the classic ones
/// (`SIGRTMIN`). glibc keeps 32 and 33 for its threads, musl 32 to 34: those are
/// neither forwardable nor blockable.
pub(crate) fn first_realtime() -> Option<c_int> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        Some(libc::SIGRTMIN())
    }
    #[cfg(target_os = "freebsd")]
    {
        Some(65)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    {
        None
    }
}

/// A signal number that formats as its name: `SIGTERM`, `SIGRTMIN+3`, or `signal 40` for a
/// number with no name here. Returned by [`name`] and [`SigInfo::name`](super::SigInfo::name).
///
/// # Examples
///
/// ```
/// use sigring::signal;
///
/// assert_eq!(signal::name(libc::SIGTERM).to_string(), "SIGTERM");
/// assert_eq!(signal::name(libc::SIGTERM).as_str(), Some("SIGTERM"));
/// # #[cfg(target_os = "linux")]
/// assert_eq!(signal::name(libc::SIGRTMIN() + 2).to_string(), "SIGRTMIN+2");
/// assert_eq!(signal::name(-1).to_string(), "signal -1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalName(c_int);

impl SignalName {
    /// The number this name stands for.
    pub fn number(self) -> c_int {
        self.0
    }

    /// The classic name (`"SIGCHLD"`), or `None` for real-time and unknown numbers.
    /// Async-signal-safe (a search of a constant table).
    pub fn as_str(self) -> Option<&'static str> {
        NAMES
            .iter()
            .find(|&&(number, _)| number == self.0)
            .map(|&(_, name)| name)
    }
}

impl fmt::Display for SignalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(name) = self.as_str() {
            return f.write_str(name);
        }
        match first_realtime() {
            Some(min) if (min..=max_signal()).contains(&self.0) => {
                if self.0 == min {
                    f.write_str("SIGRTMIN")
                } else {
                    write!(f, "SIGRTMIN+{}", self.0 - min)
                }
            }
            _ => write!(f, "signal {}", self.0),
        }
    }
}

/// The name of signal number `signal`, for messages: see [`SignalName`].
pub fn name(signal: c_int) -> SignalName {
    SignalName(signal)
}

/// What the caller wants to do with a signal; decides which ones are refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// [`forward`](super::forward): no `SIGKILL`/`SIGSTOP`, no synchronous faults.
    Forward,
    /// [`block`](super::block) and friends: no `SIGKILL`/`SIGSTOP`.
    Block,
    /// [`CommandExt::default_signals`](super::CommandExt::default_signals): no
    /// `SIGKILL`/`SIGSTOP`.
    Default,
}

impl Use {
    fn verb(self) -> &'static str {
        match self {
            Use::Forward => "forwarded",
            Use::Block => "blocked",
            Use::Default => "given a disposition",
        }
    }
}

/// The synchronous faults: raised by the instruction that failed, whose handler must fix
/// the cause or leave (`siglongjmp`, `_exit`) rather than return after queuing a note.
const FAULTS: [c_int; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// `Ok` if `signal` may be used for `what`, else `InvalidInput` naming the signal and why.
pub(crate) fn check(signal: c_int, what: Use) -> io::Result<()> {
    let invalid = |why: String| Err(io::Error::new(io::ErrorKind::InvalidInput, why));
    let max = max_signal();
    if signal <= 0 || signal > max {
        return invalid(format!(
            "sigring: signal {signal} is out of range: valid signal numbers are 1..={max}"
        ));
    }
    if let Some(min) = first_realtime() {
        if signal > libc::SIGSYS && signal < min {
            return invalid(format!(
                "sigring: signal {signal} is reserved by the C library \
                 (applications' real-time signals start at SIGRTMIN = {min})"
            ));
        }
    }
    let label = name(signal);
    if signal == libc::SIGKILL || signal == libc::SIGSTOP {
        return invalid(format!(
            "sigring: {label} ({signal}) cannot be {}: the kernel never lets a process \
             catch, block or ignore it",
            what.verb()
        ));
    }
    if what == Use::Forward && FAULTS.contains(&signal) {
        return invalid(format!(
            "sigring: {label} ({signal}) cannot be forwarded: it reports a synchronous fault, \
             and a handler that only queues a notification and returns would re-run the \
             faulting instruction"
        ));
    }
    Ok(())
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name(libc::SIGINT).to_string(), "SIGINT");
        assert_eq!(name(libc::SIGCHLD).as_str(), Some("SIGCHLD"));
        assert_eq!(name(0).to_string(), "signal 0");
        assert_eq!(name(0).as_str(), None);
        assert_eq!(name(libc::SIGRTMIN()).to_string(), "SIGRTMIN");
        assert_eq!(
            name(libc::SIGRTMAX() + 1).to_string(),
            format!("signal {}", libc::SIGRTMAX() + 1)
        );
    }

    #[test]
    fn checks() {
        assert!(check(libc::SIGUSR1, Use::Forward).is_ok());
        assert!(check(libc::SIGSEGV, Use::Block).is_ok());
        let e = check(libc::SIGSEGV, Use::Forward).unwrap_err();
        assert!(
            e.to_string().contains("SIGSEGV (11) cannot be forwarded"),
            "{e}"
        );
        let e = check(libc::SIGSTOP, Use::Default).unwrap_err();
        assert!(e.to_string().contains("SIGSTOP"), "{e}");
        for bad in [0, -1, libc::SIGRTMAX() + 1, c_int::MAX, c_int::MIN] {
            let e = check(bad, Use::Block).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(&format!("signal {bad} ")), "{e}");
        }
    }
}
