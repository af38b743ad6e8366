//! The waker loom runs instead of an fd (`cfg(sigring_loom)`).
//!
//! "The fd is readable" is the `token` flag; "the consumer sleeps in poll" blocks on a loom
//! `Notify`; "a producer writes the fd" sets the token and notifies. A lost wake-up
//! therefore leaves the consumer blocked forever, which loom reports as a deadlock instead
//! of letting the model pass. A wait with a deadline models a deadline that expires at
//! once unless the token is already there; loom's interleavings then place the expiry
//! before or after any concurrent push.

use std::io;
use std::time::Instant;

use crate::sync::{AtomicBool, Notify, Ordering};

#[derive(Debug)]
pub(crate) struct Model {
    token: AtomicBool,
    notify: Notify,
}

impl Model {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Model {
            token: AtomicBool::new(false),
            notify: Notify::new(),
        })
    }

    pub(crate) fn signal(&self) {
        self.token.store(true, Ordering::Release);
        self.notify.notify();
    }

    pub(crate) fn consume(&self) -> bool {
        self.token.swap(false, Ordering::AcqRel)
    }

    /// Blocks until readable; with a deadline, reports expiry unless readable now.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        loop {
            if self.token.load(Ordering::Acquire) {
                return true;
            }
            if deadline.is_some() {
                return false;
            }
            self.notify.wait();
        }
    }

    pub(crate) fn is_readable(&self) -> bool {
        self.token.load(Ordering::Acquire)
    }
}
