//! Unix signals as ordinary events: a handler that only records the signal, and a thread
//! that does the work.
//!
//! * [`forward`] registers, for each signal, an action (through
//!   [`signal-hook-registry`](https://docs.rs/signal-hook-registry), so it coexists with
//!   `tokio::signal`, `signal-hook` and handlers installed before) that copies the
//!   `siginfo_t` into a [`SigInfo`] and [`try_send`](crate::Sender::try_send)s it. A full
//!   channel costs a counted loss ([`Forwarding::lost`]), never a block.
//! * Thread hygiene: [`block`] signals on this thread, or [`spawn_blocked`] threads that
//!   never take them, so process-directed signals land on the one thread meant to take
//!   them.
//! * Child hygiene: [`CommandExt`] gives a child default dispositions and an empty mask.
//!
//! # A notification means "at least one"
//!
//! Standard signals (1..=31) coalesce in the kernel: while one is pending, more of the same
//! are merged into it. Treat a notification as "at least one happened since I last
//! looked", and look at the real state (reap every exited child, re-read the config). A
//! notification dropped because the channel was full is then harmless: one that is queued
//! already says the same. Real-time signals (`SIGRTMIN..=SIGRTMAX`) queue one by one.
//!
//! # Async-signal safety
//!
//! | item | async-signal-safe |
//! |------|-------------------|
//! | the action [`forward`] registers | yes: `getpid`, a copy, `try_send`, an atomic add |
//! | [`forward`], dropping a [`Forwarding`] | no (registry lock, allocation) |
//! | [`Forwarding::lost`], `delivered`, `signals` | yes (atomic loads) |
//! | [`SigInfo::from_siginfo`], [`origin`](SigInfo::origin), [`name`](SigInfo::name) | yes |
//! | [`SignalName::as_str`] | yes (formatting one is not) |
//! | [`block`], dropping a [`BlockGuard`] | yes (`pthread_sigmask`), on valid input |
//! | [`blocked`] | no (returns a `Vec`) |
//! | [`spawn_blocked`], [`spawn_blocked_with`] | no (spawns a thread) |
//! | [`CommandExt`] methods | no; the hook they install runs in the child and is |
//!
//! # Example: a `SIGCHLD` reaper
//!
//! ```
//! use std::collections::HashMap;
//! use std::process::Command;
//! use sigring::signal;
//!
//! let (tx, rx) = sigring::channel(16)?;
//! let _forwarding = signal::forward(&[libc::SIGCHLD], &tx)?;
//!
//! let mut jobs = HashMap::new(); // pid -> job: only this thread touches it
//! for code in [0, 3, 7] {
//!     let child = Command::new("sh").args(["-c", &format!("exit {code}")]).spawn()?;
//!     jobs.insert(child.id() as libc::pid_t, code);
//! }
//! while !jobs.is_empty() {
//!     rx.recv().unwrap(); // at least one child changed state: reap all that did
//!     loop {
//!         let mut status = 0;
//!         // SAFETY: `status` is a valid out-pointer.
//!         let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
//!         if pid <= 0 {
//!             break; // 0: the rest still run; -1: no child left
//!         }
//!         let expected = jobs.remove(&pid).unwrap();
//!         assert!(libc::WIFEXITED(status));
//!         assert_eq!(libc::WEXITSTATUS(status), expected);
//!     }
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

mod child;
mod forward;
mod info;
mod mask;
mod name;

pub use child::CommandExt;
pub use forward::{forward, Forwarding};
pub use info::{Origin, SigInfo};
pub use mask::{block, blocked, spawn_blocked, spawn_blocked_with, BlockGuard};
pub use name::{name, SignalName};
