//! The waker loom runs instead of an fd and a futex (`cfg(sigring_loom)`).
//!
//! "The fd is readable" is the `token` flag; "the consumer sleeps in poll" blocks on a loom
//! `Notify`; "a producer writes the fd" sets the token and notifies. A lost wake-up
//! therefore leaves the consumer blocked forever, which loom reports as a deadlock instead
//! of letting the model pass, and a second token written while one is outstanding panics.
//! A wait with a deadline models a deadline that expires at once unless the token is
//! already there; loom's interleavings then place the expiry before or after any
//! concurrent push.
//!
//! # Why every change of the token is a read-modify-write
//!
//! The kernel updates an eventfd counter (or a pipe's buffer) under a lock, so the writes
//! and reads of the fd are read-modify-writes in one total order, and each synchronizes
//! with the one before it. The model keeps that: [`Model::post`], [`Model::inject_stray`]
//! and [`Model::consume`] are all read-modify-writes of one atomic. (A plain `store` in `post` would also be weaker than the real fd in
//! loom's eyes: loom orders a plain store and a concurrent RMW of the same atomic only
//! partially, and may then let a later `Acquire` load that happens-after the store return
//! the RMW's older value. That reports a lost wake-up that a real fd cannot have.)

use std::io;
use std::time::Instant;

use super::Backend;
use crate::sync::{AtomicU32, AtomicU8, Condvar, Mutex, Notify, Ordering};

/// The modeled fd holds a token: it is readable.
const TOKEN: u8 = 1;
/// A token was written from outside the protocol in this execution
/// ([`Model::inject_stray`]). Sticky: from then on the one-token check is off, because a
/// stray token can be taken for a producer's (the consumer reads it while the flag is
/// `POSTED`, before the producer's own write lands), and the producer's token then
/// outlasts the re-arming. A real fd holds both (an eventfd adds them up, a pipe keeps both
/// bytes) and the receiver reads the extra one as a stray one in turn.
const STRAY: u8 = 2;

#[derive(Debug)]
pub(crate) struct Model {
    /// `TOKEN` and `STRAY` bits; every change is one read-modify-write.
    fd: AtomicU8,
    /// Where the consumer "sleeps in poll"; [`Model::post`] wakes it.
    notify: Notify,
    /// The futex's wait queue: the kernel checks the word and queues the sleeper under its
    /// hash-bucket lock, and a wake takes the same lock, so a wake that follows the change
    /// of the word is never lost, and one that precedes the sleep is not kept (unlike
    /// `Notify`, whose stored permit would hide a wait on an unchanged word).
    futex: Mutex<()>,
    futex_queue: Condvar,
}

impl Model {
    pub(crate) fn new() -> Self {
        Model {
            fd: AtomicU8::new(0),
            notify: Notify::new(),
            futex: Mutex::new(()),
            futex_queue: Condvar::new(),
        }
    }

    /// Nothing to create.
    pub(crate) fn install(&self, _backend: Backend) -> io::Result<()> {
        Ok(())
    }

    /// The model stands for whichever backend.
    pub(crate) fn backend(&self) -> Backend {
        Backend::Auto
    }

    /// "write(2) one token": the fd becomes readable and a sleeper wakes.
    ///
    /// Checks the protocol's promise that at most one token is ever outstanding (only the
    /// writer that moved the flag `ARMED -> POSTED` writes, and the flag is `ARMED` only
    /// while the fd is empty): a second token would mean a pipe could fill up.
    pub(crate) fn post(&self) {
        let before = self.fd.fetch_or(TOKEN, Ordering::AcqRel);
        assert!(
            before & TOKEN == 0 || before & STRAY != 0,
            "wake protocol: a token was written while another was outstanding"
        );
        self.notify.notify();
    }

    /// Something outside the protocol writes a token (a process cloned without the atfork
    /// handlers, say): the fd becomes readable, bypassing the one-token check.
    pub(crate) fn inject_stray(&self) {
        self.fd.fetch_or(TOKEN | STRAY, Ordering::AcqRel);
        self.notify.notify();
    }

    /// "read(2) the token": returns whether one was there; the fd is no longer readable.
    pub(crate) fn consume(&self) -> bool {
        self.fd.fetch_and(!TOKEN, Ordering::AcqRel) & TOKEN != 0
    }

    /// "poll(2)": blocks until readable. With a deadline, the deadline is taken to expire
    /// at once: readable now is `true`, otherwise `false`.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.is_readable() {
                return true;
            }
            if deadline.is_some() {
                return false;
            }
            // A notification left over from a token the consumer already saw may end this
            // wait early; the loop then looks at the token again.
            self.notify.wait();
        }
    }

    /// The model has a futex: `recv` sleeps on the flag as on Linux.
    pub(crate) fn can_park(&self) -> bool {
        true
    }

    /// "futex wait": sleeps while `word` holds `expected`. With a deadline, the deadline
    /// is taken to expire at once: a changed word is `true`, otherwise `false`.
    pub(crate) fn park(&self, word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> bool {
        let mut queued = self.futex.lock().unwrap();
        loop {
            // Relaxed, as the kernel's read of the word: what orders it is the lock.
            if word.load(Ordering::Relaxed) != expected {
                return true;
            }
            if deadline.is_some() {
                return false;
            }
            queued = self.futex_queue.wait(queued).unwrap();
        }
    }

    /// "futex wake": the caller changed the word first; wakes the sleeper, if any.
    pub(crate) fn unpark(&self, _word: &AtomicU32) {
        let _queued = self.futex.lock().unwrap();
        self.futex_queue.notify_all();
    }

    /// What `poll(2)` with a zero timeout would report.
    pub(crate) fn is_readable(&self) -> bool {
        self.fd.load(Ordering::Acquire) & TOKEN != 0
    }
}
