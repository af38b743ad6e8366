//! The waker loom runs instead of an fd (`cfg(sigring_loom)`).
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
//! with the one before it. The model keeps that: [`Model::post`] and [`Model::consume`]
//! are both `swap`s. (A plain `store` in `post` would also be weaker than the real fd in
//! loom's eyes: loom orders a plain store and a concurrent RMW of the same atomic only
//! partially, and may then let a later `Acquire` load that happens-after the store return
//! the RMW's older value. That reports a lost wake-up that a real fd cannot have.)

use std::io;
use std::time::Instant;

use super::Backend;
use crate::sync::{AtomicBool, Notify, Ordering};

#[derive(Debug)]
pub(crate) struct Model {
    /// Whether the modeled fd is readable (a token is in it).
    token: AtomicBool,
    /// Where the consumer "sleeps in poll"; [`Model::post`] wakes it.
    notify: Notify,
}

impl Model {
    pub(crate) fn new() -> Self {
        Model {
            token: AtomicBool::new(false),
            notify: Notify::new(),
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
        let outstanding = self.token.swap(true, Ordering::AcqRel);
        assert!(
            !outstanding,
            "wake protocol: a token was written while another was outstanding"
        );
        self.notify.notify();
    }

    /// "read(2) the token": returns whether one was there; the fd is no longer readable.
    pub(crate) fn consume(&self) -> bool {
        self.token.swap(false, Ordering::AcqRel)
    }

    /// "poll(2)": blocks until readable. With a deadline, the deadline is taken to expire
    /// at once: readable now is `true`, otherwise `false`.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.token.load(Ordering::Acquire) {
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

    /// What `poll(2)` with a zero timeout would report.
    pub(crate) fn is_readable(&self) -> bool {
        self.token.load(Ordering::Acquire)
    }
}
