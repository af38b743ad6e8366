//! [`forward`]: an action registered through `signal-hook-registry` that copies each
//! delivered signal into a [`SigInfo`] and `try_send`s it, counting what it could not queue.

use std::fmt;
use std::io;

use libc::{c_int, siginfo_t};
use signal_hook_registry::SigId;

use super::info::SigInfo;
use super::name::{check, name, Use};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::{Sender, TrySendError};

/// What the actions of one [`Forwarding`] count for one signal number.
#[derive(Default)]
struct Counts {
    /// Notifications queued into the channel.
    delivered: AtomicU64,
    /// Notifications not queued: the channel was full (or its receiver gone).
    lost: AtomicU64,
}

/// Forwards every delivery of each of `signals` into `tx` as a [`SigInfo`], until the
/// returned [`Forwarding`] is dropped.
///
/// For each signal an action is registered through
/// [`signal-hook-registry`](https://docs.rs/signal-hook-registry), so sigring coexists
/// with `tokio::signal`, `signal-hook`, other `forward`s of the same signal (each channel
/// receives every delivery) and any handler installed before the first registration for
/// that signal, which keeps being called first. The action copies the `siginfo_t` into a
/// [`SigInfo`] and calls [`Sender::try_send`]; when the channel is full it counts the loss
/// instead, per signal, readable from [`Forwarding::lost`]. Repeated signals in
/// `signals` are forwarded once.
///
/// # One notification means "at least one"
///
/// The kernel keeps at most one instance of a standard signal (1..=31: `SIGCHLD`,
/// `SIGTERM`, ...) pending: several deliveries before the handler runs arrive as one. So a
/// `SIGCHLD` notification means "at least one child changed state" (reap with
/// `waitpid(-1, WNOHANG)` until nothing is left), and a dropped notification is harmless
/// as long as one is queued or the consumer looks anyway. Real-time signals
/// (`SIGRTMIN..=SIGRTMAX`) queue in the kernel, one notification each.
///
/// # `fork`
///
/// A child made by `fork` inherits the handler, but its inherited actions do nothing: the
/// channel belongs to the parent (the child shares its wake-up fd), so a forked child that
/// wants signals forwarded calls `forward` itself, into a channel of its own.
///
/// # Async-signal safety
///
/// The action that runs in the handler is async-signal-safe: a `getpid` (see `fork`
/// above), a copy, a `try_send` (no lock, no allocation, errno preserved) and a relaxed
/// atomic add on counters allocated here. `forward` itself is not (it allocates and takes
/// the registry's lock): call it from ordinary code, best before starting threads that
/// might register signals concurrently (see the registry's notes on that race).
///
/// # Errors
///
/// * `InvalidInput`, naming the signal, for `SIGKILL` and `SIGSTOP` (cannot be caught),
///   the synchronous faults `SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE` (a handler that only
///   queues and returns would re-run the faulting instruction), numbers reserved by the
///   C library, and numbers out of range (`<= 0`, `> SIGRTMAX`). All of `signals` is
///   checked before anything is registered.
/// * The OS error if `sigaction` fails; anything registered by this call is unregistered
///   again first.
///
/// Never panics on bad input.
///
/// # Examples
///
/// ```
/// use sigring::signal::{self, Origin};
///
/// let (tx, rx) = sigring::channel(16)?;
/// let forwarding = signal::forward(&[libc::SIGUSR1], &tx)?;
/// // SAFETY: `raise` has no preconditions; it runs the handler on this thread before
/// // returning.
/// unsafe { libc::raise(libc::SIGUSR1) };
///
/// let info = rx.recv().unwrap();
/// assert_eq!(info.signal, libc::SIGUSR1);
/// assert_eq!(info.origin(), Origin::Kill);
/// assert_eq!(info.pid, std::process::id() as libc::pid_t);
/// assert_eq!(forwarding.delivered(libc::SIGUSR1), 1);
/// assert_eq!(forwarding.lost(libc::SIGUSR1), 0);
///
/// let err = signal::forward(&[libc::SIGKILL], &tx).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("SIGKILL (9) cannot be forwarded"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn forward(signals: &[c_int], tx: &Sender<SigInfo>) -> io::Result<Forwarding> {
    let mut unique: Vec<c_int> = Vec::with_capacity(signals.len());
    for &signal in signals {
        check(signal, Use::Forward)?;
        if !unique.contains(&signal) {
            unique.push(signal);
        }
    }
    // Indexed by signal number; `check` bounded every number by `max_signal()`.
    let slots = unique.iter().max().map_or(0, |&max| max as usize + 1);
    let counts: Arc<[Counts]> = (0..slots).map(|_| Counts::default()).collect();
    let mut forwarding = Forwarding {
        registrations: Vec::with_capacity(unique.len()),
        signals: Vec::with_capacity(unique.len()),
        counts,
    };
    // SAFETY: `getpid` has no preconditions and cannot fail.
    let owner = unsafe { libc::getpid() };
    for signal in unique {
        let action = action(signal, owner, tx.clone(), Arc::clone(&forwarding.counts));
        // SAFETY: `register_sigaction` requires an action that is async-signal-safe and
        // never panics, since it runs inside the signal handler:
        // * `getpid` is a plain syscall on POSIX's async-signal-safe list;
        // * `SigInfo::from_siginfo` only loads integers from the `siginfo_t`;
        // * `Sender::try_send` takes no lock, allocates nothing, never waits, preserves
        //   errno, and is reentrant (it may interrupt itself or a receiver on the same
        //   thread); the rejected `SigInfo` is `Copy` and has no destructor;
        // * the counters are lock-free atomics allocated above, before registration;
        //   `get` and `fetch_add` (which wraps) have no panic path.
        // The registry also forbids `SIGKILL`, `SIGSTOP`, `SIGILL`, `SIGFPE` and `SIGSEGV`
        // with a panic; `check` refused those already.
        // What the action captures (a `Sender` clone and the counters) is freed only by
        // `unregister`, after every handler that could still see the action has finished:
        // see `Drop for Forwarding`.
        match unsafe { signal_hook_registry::register_sigaction(signal, action) } {
            Ok(id) => {
                forwarding.registrations.push(id);
                forwarding.signals.push(signal);
            }
            Err(e) => {
                // `forwarding` unregisters what this call registered so far on drop.
                return Err(io::Error::new(
                    e.kind(),
                    format!("sigring: cannot forward {} ({signal}): {e}", name(signal)),
                ));
            }
        }
    }
    Ok(forwarding)
}

/// The closure that runs in the signal handler for `signal` in process `owner`.
///
/// A child made by `fork` inherits the handler and a copy of everything the closure
/// holds, but the channel's fd is shared with the parent: a send there would write the
/// parent's wake-up fd behind its receiver's back (a stray token that makes the parent's
/// idle `recv` spin until the next real send). So in any process but `owner` the action
/// does nothing: between `fork` and `exec`, and in forked children that never `exec`.
fn action(
    signal: c_int,
    owner: libc::pid_t,
    tx: Sender<SigInfo>,
    counts: Arc<[Counts]>,
) -> impl Fn(&siginfo_t) + Send + Sync + 'static {
    let index = signal as usize;
    move |raw: &siginfo_t| {
        // SAFETY: `getpid` has no preconditions, cannot fail, and is async-signal-safe.
        if unsafe { libc::getpid() } != owner {
            return;
        }
        let info = SigInfo::from_siginfo(raw);
        let counter = counts.get(index);
        match tx.try_send(info) {
            Ok(()) => {
                if let Some(c) = counter {
                    c.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                if let Some(c) = counter {
                    c.lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Signals being forwarded into a channel, from [`forward`]. Dropping it stops the
/// forwarding.
///
/// # Dropping
///
/// Drop unregisters every action of this forwarding. It returns only when no handler can
/// be running one of them any more (on any thread), and frees what they captured: the
/// `Sender` clones go, so the [`Receiver`](crate::Receiver) sees the channel disconnected
/// once the caller's own senders are gone too.
///
/// The registry keeps its own handler installed afterwards: with no action left, and no
/// handler from before to chain to, the signal is then **ignored**, not given its default
/// action (a `SIGTERM` no longer terminates). Drop a forwarding of a terminating signal
/// only on the way out, or keep it.
///
/// Dropping is not async-signal-safe (it takes the registry's lock and frees memory).
pub struct Forwarding {
    /// One registration per forwarded signal.
    registrations: Vec<SigId>,
    /// The forwarded signals, in the order first given (parallel to `registrations`).
    signals: Vec<c_int>,
    /// Indexed by signal number; shared with every action of this forwarding.
    counts: Arc<[Counts]>,
}

impl Forwarding {
    /// How many deliveries of `signal` could not be queued because the channel was full (or
    /// its receiver was gone). 0 for a signal not forwarded here. Relaxed: a count may lag
    /// a handler running on another thread right now.
    ///
    /// Standard signals also coalesce in the kernel before any handler runs; those merges
    /// are not seen by anyone and not counted here (see [`forward`]).
    pub fn lost(&self, signal: c_int) -> u64 {
        self.count(signal, |c| &c.lost)
    }

    /// The old name of [`lost`](Forwarding::lost).
    #[deprecated(since = "0.2.0", note = "renamed to `lost`")]
    pub fn dropped(&self, signal: c_int) -> u64 {
        self.lost(signal)
    }

    /// How many deliveries of `signal` were queued into the channel. With
    /// [`lost`](Forwarding::lost), this accounts for every run of this forwarding's
    /// action for `signal`.
    pub fn delivered(&self, signal: c_int) -> u64 {
        self.count(signal, |c| &c.delivered)
    }

    /// The signals forwarded, each once, in the order first given. Handy for
    /// [`spawn_blocked`](super::spawn_blocked) and [`block`](super::block).
    pub fn signals(&self) -> &[c_int] {
        &self.signals
    }

    fn count(&self, signal: c_int, which: impl Fn(&Counts) -> &AtomicU64) -> u64 {
        usize::try_from(signal)
            .ok()
            .and_then(|i| self.counts.get(i))
            .map_or(0, |c| which(c).load(Ordering::Relaxed))
    }
}

impl Drop for Forwarding {
    fn drop(&mut self) {
        for &id in &self.registrations {
            // SAFETY (no handler touches freed memory): checked against the source of
            // signal-hook-registry 1.4 (`unregister`, `half_lock.rs`). The action table is
            // behind a `HalfLock`: a handler increments one of two reader counters, then
            // loads the table pointer, runs the actions, and decrements the counter.
            // `unregister` takes the writer mutex, stores a new table without our action
            // (an atomic pointer swap), then `write_barrier` spins until each of the two
            // counters has been observed at zero *after* the swap, and only then drops the
            // old table, which holds the last `Arc` of our closure (its `Sender` and its
            // share of `counts`). A handler that loaded the old pointer incremented its
            // counter before the swap (SeqCst) and keeps it non-zero until it is done, so
            // the barrier cannot pass while it runs; a handler that starts after the swap
            // loads the new table and never sees our action. A handler interrupting this
            // very thread runs to completion before the barrier resumes, and handlers
            // never take the writer mutex, so this cannot deadlock. `self.counts` is a
            // separate `Arc` and outlives nothing it should not.
            signal_hook_registry::unregister(id);
        }
    }
}

impl fmt::Debug for Forwarding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for &signal in &self.signals {
            list.entry(&format_args!(
                "{} (delivered {}, lost {})",
                name(signal),
                self.delivered(signal),
                self.lost(signal)
            ));
        }
        list.finish()
    }
}
