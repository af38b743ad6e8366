//! [`SigInfo`]: the parts of a `siginfo_t` that are meaningful for the `si_code` at hand,
//! copied into a plain value that can travel through a channel.

use libc::{c_int, pid_t, siginfo_t, uid_t};

use super::name::{name, SignalName};

/// The `si_code` values this module interprets. Linux and Android take them from libc;
/// the BSD values (`0x1000x`) are written out because libc does not export them there.
mod code {
    use libc::c_int;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) use libc::{SI_ASYNCIO, SI_KERNEL, SI_MESGQ, SI_QUEUE, SI_TIMER, SI_TKILL, SI_USER};

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    mod bsd {
        use libc::c_int;
        pub(in super::super) const SI_USER: c_int = 0x10001;
        pub(in super::super) const SI_QUEUE: c_int = 0x10002;
        pub(in super::super) const SI_TIMER: c_int = 0x10003;
        pub(in super::super) const SI_ASYNCIO: c_int = 0x10004;
        pub(in super::super) const SI_MESGQ: c_int = 0x10005;
        /// FreeBSD's code for a signal from the kernel itself.
        pub(in super::super) const SI_KERNEL: c_int = 0x10006;
        /// FreeBSD's code for `thr_kill`/`pthread_kill`.
        pub(in super::super) const SI_TKILL: c_int = 0x10007;
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(super) use bsd::*;

    /// Codes below this that are positive are signal-specific codes set by the kernel
    /// (`CLD_EXITED`, `SEGV_MAPERR`, `POLL_IN`, ...). Linux's `SI_KERNEL` (0x80) is one too.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(super) const KERNEL_BELOW: c_int = c_int::MAX;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(super) const KERNEL_BELOW: c_int = 0x10000;
}

/// One delivered signal, as [`forward`](super::forward) queues it: a plain `Copy` value.
///
/// Only the fields that the kernel fills in for this [`code`](SigInfo::code) are read
/// from the `siginfo_t`; the others are 0:
///
/// | `code` (`si_code`)                          | `pid`, `uid` | `status` | `value` |
/// |---------------------------------------------|--------------|----------|---------|
/// | `SI_USER` (`kill`), `SI_TKILL` (`raise`, `pthread_kill`, `tgkill`) | sender | 0 | 0 |
/// | `SI_QUEUE` (`sigqueue`), `SI_MESGQ`, `SI_ASYNCIO` | sender | 0 | `si_value` |
/// | `SI_TIMER` (POSIX timers)                   | 0            | 0        | `si_value` |
/// | `CLD_*` of a `SIGCHLD`                      | the child    | see below | 0      |
/// | anything else (`SI_KERNEL`, fault and poll codes) | 0      | 0        | 0       |
///
/// For `SIGCHLD`, `status` is the exit code for `CLD_EXITED`, and the signal for
/// `CLD_KILLED`, `CLD_DUMPED` (killed with a core dump), `CLD_STOPPED`, `CLD_TRAPPED` and
/// `CLD_CONTINUED` (`SIGCONT`). The kernel also uses `SI_USER` for some signals it raises
/// itself on the process's behalf (`SIGPIPE`, `SIGXFSZ`), with the process's own pid.
/// `pid` is 0 when the sender lives in a pid namespace the receiver cannot see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SigInfo {
    /// The signal number (`si_signo`).
    pub signal: c_int,
    /// How it was sent (`si_code`): `SI_USER`, `SI_QUEUE`, `SI_TIMER`, `CLD_EXITED`, ...
    /// See [`origin`](SigInfo::origin) for a portable summary.
    pub code: c_int,
    /// The sender (`kill`, `sigqueue`) or the child (`SIGCHLD`); 0 where the kernel gives
    /// none.
    pub pid: pid_t,
    /// The sender's real user id where given, else 0.
    pub uid: uid_t,
    /// `SIGCHLD`: the exit code, or the signal that stopped, continued or killed the
    /// child; else 0.
    pub status: c_int,
    /// `sigqueue`'s (or a timer's, or a message queue's) `si_value`, the whole
    /// `union sigval` read as an integer; else 0. A sender that set `sival_int` finds it
    /// in the low bits: `value as c_int`.
    pub value: usize,
}

/// Where a signal came from, from its `si_code`; see [`SigInfo::origin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The kernel: a child changed state (`SIGCHLD`), a fault, I/O readiness, a terminal,
    /// `SI_KERNEL`.
    Kernel,
    /// A process or thread called `kill`, `raise`, `pthread_kill` or `tgkill`
    /// (`SI_USER`, `SI_TKILL`).
    Kill,
    /// `sigqueue` (`SI_QUEUE`): [`SigInfo::value`] holds the value sent.
    Queue,
    /// A POSIX timer expired (`SI_TIMER`): [`SigInfo::value`] holds the timer's value.
    Timer,
    /// Anything else: message queues, asynchronous I/O, codes this crate does not know.
    Other,
}

impl SigInfo {
    /// Copies what is meaningful for this `si_code` out of a `siginfo_t` (see the table
    /// on [`SigInfo`]). Async-signal-safe: plain loads, no call.
    ///
    /// Useful in handlers of your own that also want to queue a `SigInfo`.
    pub fn from_siginfo(info: &siginfo_t) -> SigInfo {
        let signal = info.si_signo;
        let code = info.si_code;
        let is_child =
            signal == libc::SIGCHLD && (libc::CLD_EXITED..=libc::CLD_CONTINUED).contains(&code);
        let has_sender = is_child
            || matches!(
                code,
                code::SI_USER | code::SI_TKILL | code::SI_QUEUE | code::SI_MESGQ | code::SI_ASYNCIO
            );
        let has_value = matches!(
            code,
            code::SI_QUEUE | code::SI_TIMER | code::SI_MESGQ | code::SI_ASYNCIO
        );
        let mut out = SigInfo {
            signal,
            code,
            pid: 0,
            uid: 0,
            status: 0,
            value: 0,
        };
        // SAFETY: `info` is a reference to a whole, initialized `siginfo_t` (the kernel
        // writes all of it; libc offers no way to build a partial one). The accessors read
        // plain integers at fixed offsets inside it, so every read is of initialized memory
        // and every bit pattern is a valid value. The guards above only read a field where
        // the kernel's layout for this `si_code` puts it (Linux: `_kill`/`_rt` for the
        // sender codes, `_rt`/`_timer` (same offset) for the value, `_sigchld` for
        // `CLD_*`), so the numbers are the ones the sender meant.
        unsafe {
            if has_sender {
                out.pid = info.si_pid();
                out.uid = info.si_uid();
            }
            if is_child {
                out.status = info.si_status();
            }
            if has_value {
                out.value = info.si_value().sival_ptr as usize;
            }
        }
        out
    }

    /// Where the signal came from, from [`code`](SigInfo::code). Async-signal-safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use sigring::signal::{Origin, SigInfo};
    ///
    /// let info = SigInfo {
    ///     signal: libc::SIGTERM,
    ///     code: libc::SI_USER,
    ///     pid: 1,
    ///     uid: 0,
    ///     status: 0,
    ///     value: 0,
    /// };
    /// assert_eq!(info.origin(), Origin::Kill);
    /// ```
    pub fn origin(&self) -> Origin {
        match self.code {
            code::SI_USER | code::SI_TKILL => Origin::Kill,
            code::SI_QUEUE => Origin::Queue,
            code::SI_TIMER => Origin::Timer,
            code::SI_KERNEL => Origin::Kernel,
            c if c > 0 && c < code::KERNEL_BELOW => Origin::Kernel,
            _ => Origin::Other,
        }
    }

    /// The signal's name, for messages: `SIGCHLD`, `SIGRTMIN+1`. Async-signal-safe to
    /// create; formatting it is for ordinary code.
    pub fn name(&self) -> SignalName {
        name(self.signal)
    }
}
