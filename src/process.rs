//! Which process a channel belongs to: a channel is owned by the process that created its
//! receiver, and in a process forked from it (without exec) every inherited handle is
//! disconnected, so a child never reads or writes its parent's wake-up fd.
//!
//! # How a fork is detected
//!
//! Every channel whose receiver exists is in one process-wide list ([`Owner::register`] when
//! the receiver is created, [`Owner::unregister`] when it is dropped). A
//! `pthread_atfork` child handler, installed once per process, walks that list in the new
//! child (still single-threaded, before `fork` returns there) and *disowns* each channel:
//! it closes the ring (so `try_send` returns `Disconnected` on the `tail` load it makes
//! anyway: **the send path pays nothing** for fork safety), moves the wake flag to `GONE`
//! (so no push, no last-sender drop and no receiver call writes a token), and marks the
//! channel foreign (so the receiver's methods return `Disconnected` without reading the fd,
//! and dropping the inherited handles drops no queued value and wakes no sender: the
//! values are the parent's; their destructors are not run in the child, and only the
//! child's copies of the descriptors are closed). The child starts with an empty list;
//! channels it creates are ordinary channels.
//!
//! The list is guarded by a small spin lock that the atfork *prepare* handler takes before
//! the fork and the *parent* and *child* handlers release, so the child never sees the
//! list half-updated. Only ordinary threads take it (creating or dropping a receiver),
//! never a signal handler. The prepare handler also blocks every signal on the forking
//! thread until the child handler has run: a signal pending for the new child is delivered
//! the moment it first runs, before any atfork handler, and would otherwise reach a
//! channel not yet disowned.
//!
//! # Which forks are covered
//!
//! * `fork()` through libc (what `std::process::Command` does when it cannot use
//!   `posix_spawn`, what pre-fork servers and `nix::unistd::fork` do): detected.
//! * `posix_spawn` (what `Command` uses where it can) and `vfork`: the child shares the
//!   parent's memory until it execs and glibc resets every handled signal to its default
//!   in a `posix_spawn` child, so none of sigring's code runs there. Should a handler run in
//!   a `vfork` child anyway, its push lands in the parent's ring (shared memory) and its
//!   token in the parent's fd, exactly as from another thread of the parent: nothing is
//!   lost. (This is why there is no `getpid` comparison on the wake path: it would drop
//!   that token and leave the parent asleep beside a value.)
//! * A raw `clone` without `CLONE_VM`, or `syscall(SYS_fork)`: not detected (no atfork
//!   handler runs). A send in such a child goes into the child's copy and is lost, and may
//!   leave a stray token in the parent's fd: a `recv` reads it after one wasted wake-up, and
//!   so does an event loop that calls `try_recv` only when the fd is readable (a loop that
//!   also calls it while idle pays at most as many turns as it made idle calls in a row,
//!   see `wait.rs`).
//! * `fork` called from inside a signal handler that interrupted this process's creation
//!   or drop of a receiver would wait for the lock forever; POSIX already makes `fork` in a
//!   handler unsafe when atfork handlers exist.

use crate::channel::Chan;

#[cfg(not(sigring_loom))]
pub(crate) use imp::{generation, pid, watch_forks, Owner};

#[cfg(not(sigring_loom))]
mod imp {
    use std::mem::MaybeUninit;
    use std::ptr;

    use super::Chan;
    use crate::sync::{AtomicBool, AtomicPtr, AtomicU32, AtomicU8, Backoff, Ordering, UnsafeCell};

    /// The process-wide list of channels with a receiver, linked through their `Owner`s.
    static HEAD: AtomicPtr<Chan> = AtomicPtr::new(ptr::null_mut());
    /// Guards `HEAD` and every `Owner`'s links.
    static LOCK: AtomicBool = AtomicBool::new(false);
    /// 0: atfork handlers not installed; 1: installing; 2: installed.
    static ATFORK: AtomicU8 = AtomicU8::new(0);
    /// How many forks (with the handlers installed) lie between the first process and this
    /// one: the child handler adds one. Read by the shared channel's senders (`shared`).
    static GENERATION: AtomicU32 = AtomicU32::new(0);

    /// This process's fork generation: different in every process forked (through libc,
    /// after [`watch_forks`]) from the one that read it. One relaxed load; async-signal-safe.
    #[inline]
    pub(crate) fn generation() -> u32 {
        GENERATION.load(Ordering::Relaxed)
    }

    /// This process's id. Async-signal-safe.
    #[inline]
    pub(crate) fn pid() -> u32 {
        crate::sys::pid()
    }

    /// Makes [`generation`] change in every child forked from now on.
    pub(crate) fn watch_forks() {
        install_atfork();
    }

    /// A channel's membership of the list, and whether it was inherited through a fork.
    #[derive(Debug)]
    pub(crate) struct Owner {
        /// Set in a forked child for every channel inherited from the parent.
        foreign: AtomicBool,
        /// Links of the list; read and written only under `LOCK` (the atomics are only for
        /// a `const` constructor without `UnsafeCell`; every access is `Relaxed`).
        prev: AtomicPtr<Chan>,
        next: AtomicPtr<Chan>,
    }

    impl Owner {
        pub(crate) const fn new() -> Self {
            Owner {
                foreign: AtomicBool::new(false),
                prev: AtomicPtr::new(ptr::null_mut()),
                next: AtomicPtr::new(ptr::null_mut()),
            }
        }

        /// Whether this channel was inherited from the parent of this process. One relaxed
        /// load; receiver paths only.
        #[inline]
        pub(crate) fn is_foreign(&self) -> bool {
            self.foreign.load(Ordering::Relaxed)
        }

        /// Puts `chan` (whose receiver is being created) on the list. `chan` must stay where
        /// it is until [`Owner::unregister`].
        pub(crate) fn register(chan: &Chan) {
            install_atfork();
            let me = (chan as *const Chan).cast_mut();
            lock();
            let head = HEAD.load(Ordering::Relaxed);
            chan.owner.prev.store(ptr::null_mut(), Ordering::Relaxed);
            chan.owner.next.store(head, Ordering::Relaxed);
            // SAFETY: every channel on the list is alive (it is removed before its memory
            // goes), and the list is only touched under the lock, which we hold.
            if let Some(first) = unsafe { head.as_ref() } {
                first.owner.prev.store(me, Ordering::Relaxed);
            }
            HEAD.store(me, Ordering::Relaxed);
            unlock();
        }

        /// Takes `chan` (whose receiver is being dropped) off the list. Nothing to do for a
        /// foreign channel: the child's list never held it.
        pub(crate) fn unregister(chan: &Chan) {
            if chan.owner.is_foreign() {
                return;
            }
            lock();
            let prev = chan.owner.prev.load(Ordering::Relaxed);
            let next = chan.owner.next.load(Ordering::Relaxed);
            // SAFETY: as in `register`: listed channels are alive; we hold the lock.
            match unsafe { prev.as_ref() } {
                Some(p) => p.owner.next.store(next, Ordering::Relaxed),
                None => HEAD.store(next, Ordering::Relaxed),
            }
            // SAFETY: as above.
            if let Some(n) = unsafe { next.as_ref() } {
                n.owner.prev.store(prev, Ordering::Relaxed);
            }
            unlock();
        }

        /// In a forked child: the channel is the parent's.
        fn set_foreign(&self) {
            self.foreign.store(true, Ordering::Relaxed);
        }
    }

    fn lock() {
        let backoff = Backoff::new();
        while LOCK
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            backoff.snooze();
        }
    }

    fn unlock() {
        LOCK.store(false, Ordering::Release);
    }

    /// Installs the atfork handlers once per process (they are inherited by children).
    fn install_atfork() {
        if ATFORK.load(Ordering::Acquire) == 2 {
            return;
        }
        if ATFORK
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            // Under miri (which has no `pthread_atfork` and never forks) the handlers are
            // only named, so the build is the same.
            #[cfg(miri)]
            let _ = (
                prepare as extern "C" fn(),
                parent as extern "C" fn(),
                child as extern "C" fn(),
            );
            #[cfg(not(miri))]
            // SAFETY: the three handlers are `extern "C"` functions with no arguments that
            // live for the whole program; `pthread_atfork` only records them.
            unsafe {
                libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
            }
            ATFORK.store(2, Ordering::Release);
        } else {
            // Another thread is installing them: wait (ordinary threads only).
            let backoff = Backoff::new();
            while ATFORK.load(Ordering::Acquire) != 2 {
                backoff.snooze();
            }
        }
    }

    /// The forking thread's signal mask from before [`prepare`], restored by [`parent`]
    /// and [`child`]. Written and read only by the forking thread while it holds `LOCK`.
    struct SavedMask(UnsafeCell<MaybeUninit<libc::sigset_t>>);

    // SAFETY: only the thread holding `LOCK` (the forking one, between the atfork
    // handlers) touches the mask.
    unsafe impl Sync for SavedMask {}

    static SAVED_MASK: SavedMask = SavedMask(UnsafeCell::new(MaybeUninit::uninit()));

    /// Before `fork`: hold the list still, and block every signal until the child has
    /// disowned its inherited channels. A signal pending for the new child is delivered the
    /// moment it first runs, before any atfork child handler, and its handler would still
    /// find the parent's channels open there.
    extern "C" fn prepare() {
        lock();
        SAVED_MASK.0.with_mut(|saved| {
            // SAFETY: `all` is initialised by `sigfillset`; `saved` points to the static's
            // storage, which only this thread uses now (it holds the lock), and
            // `pthread_sigmask` fills it with the current mask.
            unsafe {
                let mut all = MaybeUninit::<libc::sigset_t>::uninit();
                libc::sigfillset(all.as_mut_ptr());
                libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), (*saved).as_mut_ptr());
            }
        });
    }

    /// Restores the mask [`prepare`] saved.
    fn restore_mask() {
        SAVED_MASK.0.with_mut(|saved| {
            // SAFETY: `prepare` initialised the saved mask, and this thread still holds
            // the lock.
            unsafe {
                libc::pthread_sigmask(libc::SIG_SETMASK, (*saved).as_ptr(), std::ptr::null_mut());
            }
        });
    }

    /// After `fork`, in the parent.
    extern "C" fn parent() {
        restore_mask();
        unlock();
    }

    /// After `fork`, in the child (one thread, the one that forked): disown every channel
    /// on the list and start with an empty one.
    extern "C" fn child() {
        GENERATION.fetch_add(1, Ordering::Relaxed);
        let mut p = HEAD.swap(ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the listed channels were alive in the parent when it forked (the prepare
        // handler held the lock, so no receiver was being dropped), and the child has a
        // copy of that memory; nothing else runs in the child yet.
        while let Some(chan) = unsafe { p.as_ref() } {
            p = chan.owner.next.load(Ordering::Relaxed);
            chan.owner.set_foreign();
            chan.disown();
        }
        // Signals held back since `prepare` are delivered now, to disowned channels.
        restore_mask();
        unlock();
    }
}

/// Under loom there is no fork: every channel belongs to the one process.
#[cfg(sigring_loom)]
#[derive(Debug)]
pub(crate) struct Owner;

/// Under loom, "processes" are model threads: each has a pid of its own (1 unless it
/// called [`model::become_process`]), which is also its fork generation, and a process is
/// dead once it called [`model::die`]. The shared channel's model (`loom-tests`) uses them.
#[cfg(sigring_loom)]
pub mod model {
    use std::cell::Cell;

    use crate::sync::{AtomicU32, Ordering};

    loom::thread_local! {
        static PID: Cell<u32> = Cell::new(1);
    }

    loom::lazy_static! {
        /// Bit `pid` is set once that process died (pids below 32).
        static ref DEAD: AtomicU32 = AtomicU32::new(0);
    }

    /// This model thread is process `pid` from now on (1 to 31).
    pub fn become_process(pid: u32) {
        PID.with(|p| p.set(pid));
    }

    /// This model thread's process dies: nothing it does after this counts.
    pub fn die() {
        DEAD.fetch_or(1 << pid(), Ordering::SeqCst);
    }

    pub(crate) fn pid() -> u32 {
        PID.with(|p| p.get())
    }

    pub(crate) fn alive(pid: u32) -> bool {
        pid < 32 && DEAD.load(Ordering::SeqCst) & (1 << pid) == 0
    }
}

#[cfg(sigring_loom)]
pub(crate) fn generation() -> u32 {
    model::pid()
}

#[cfg(sigring_loom)]
pub(crate) fn pid() -> u32 {
    model::pid()
}

#[cfg(sigring_loom)]
pub(crate) fn watch_forks() {}

/// Whether process `pid` may still run (see `sys::process_alive`).
#[cfg(not(sigring_loom))]
pub(crate) fn alive(pid: u32) -> bool {
    crate::sys::process_alive(pid)
}

/// Under loom: see [`model`].
#[cfg(sigring_loom)]
pub(crate) fn alive(pid: u32) -> bool {
    model::alive(pid)
}

#[cfg(sigring_loom)]
impl Owner {
    pub(crate) fn new() -> Self {
        Owner
    }

    pub(crate) fn is_foreign(&self) -> bool {
        false
    }

    pub(crate) fn register(_chan: &Chan) {}

    pub(crate) fn unregister(_chan: &Chan) {}
}
