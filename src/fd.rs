//! The receiver's fd as the outside sees it: `AsFd` / `AsRawFd` for event loops, and, under
//! loom, where there is no fd, the hooks the models use in its place (`loom-tests/`).

use crate::channel::Receiver;

#[cfg(not(sigring_loom))]
mod real {
    use super::Receiver;

    impl<T> std::os::fd::AsFd for Receiver<T> {
        /// The fd that is readable while values may be waiting (or the senders are gone).
        /// Only poll it; reading or writing it breaks the wake protocol.
        fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
            // A receiver exists only once its fd was created (`Receiver::open`), and the fd
            // stays open for as long as the channel's state does, which outlives `self`.
            let fd = self.wake().raw_fd().unwrap_or(-1);
            // SAFETY: see above: `fd` is an open descriptor owned by the channel for at least
            // the lifetime of the borrow.
            unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
        }
    }

    impl<T> std::os::fd::AsRawFd for Receiver<T> {
        fn as_raw_fd(&self) -> std::os::fd::RawFd {
            self.wake().raw_fd().unwrap_or(-1)
        }
    }
}

#[cfg(sigring_loom)]
impl<T> Receiver<T> {
    /// Under loom: whether the modeled fd is readable, as `poll` would report it.
    #[doc(hidden)]
    pub fn model_fd_readable(&self) -> bool {
        self.wake().is_readable()
    }

    /// Under loom: write a token into the modeled fd from outside the protocol.
    #[doc(hidden)]
    pub fn model_inject_stray_token(&self) {
        self.wake().inject_stray();
    }

    /// Under loom: block like `poll` with no timeout until the modeled fd is readable.
    #[doc(hidden)]
    pub fn model_poll(&self) {
        self.wake().wait(None, crate::waker::Sleep::Fd);
    }
}
