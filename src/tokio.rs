//! An async receiver for Tokio (feature `tokio`).
//!
//! [`AsyncReceiver`] registers the [`Receiver`]'s fd with Tokio's reactor through
//! [`tokio::io::unix::AsyncFd`], so a task can `.await` values
//! sent from other threads, signal handlers and destructors. An idle receiver costs
//! nothing: the task sleeps until a send writes the fd.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use sigring::tokio::AsyncReceiver;
//!
//! let (tx, rx) = sigring::channel::<u32>(64)?;
//! let mut rx = AsyncReceiver::new(rx)?;
//! std::thread::spawn(move || {
//!     for i in 0..10 {
//!         tx.try_send(i).unwrap();
//!     }
//! }); // the sender is dropped here: the receiver ends after the last value
//! let mut sum = 0;
//! while let Some(v) = rx.recv().await {
//!     sum += v;
//! }
//! assert_eq!(sum, 45);
//! # Ok(())
//! # }
//! ```
//!
//! # Readiness without busy-looping
//!
//! Tokio's `AsyncFd` caches readiness and learns about changes from the OS edge-triggered.
//! [`AsyncReceiver::poll_recv`] therefore follows one rule: *readiness is cleared only
//! after [`Receiver::try_recv`] returned [`TryRecvError::Empty`] while the readiness guard
//! was held.* The loop is:
//!
//! 1. `try_recv()`: a value (or `Disconnected`) is returned at once, readiness untouched.
//! 2. On `Empty`, `poll_read_ready()`: `Pending` parks the task with its waker registered;
//!    `Ready(guard)` means an edge was seen since readiness was last cleared.
//! 3. `try_recv()` again with the guard held. A value is returned (readiness kept, so the
//!    next call comes straight back here). On `Empty`, `guard.clear_ready()`, and loop.
//!
//! Why no wake-up is lost: an `Empty` from `try_recv` has re-armed the channel (the wake
//! flag is `ARMED` and any token was read, so the fd is not readable), which means the next
//! send writes a fresh token: a new not-readable-to-readable edge that the reactor will
//! report. A send that lands between that `Empty` and `clear_ready()` is not missed either:
//! `clear_ready()` only clears the readiness of the event the guard was created from, so if
//! the reactor has already recorded the new edge, the clear is a no-op and the next
//! `poll_read_ready` is `Ready` at once; if it has not, the edge arrives after the clear and
//! wakes the registered task. Step 1 of the next round would also find the value. A send
//! that is claimed but not yet published when `try_recv` looks makes `try_recv` write a
//! token to its own fd, so the task is woken to look again instead of sleeping on it.
//!
//! Why no busy loop: readiness stays set only while values keep coming; once the channel
//! is empty and re-armed, the fd is not readable and the task is not polled again until a
//! send.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use ::tokio::io::unix::AsyncFd;
use ::tokio::io::Interest;
use futures_core::Stream;

use crate::{Receiver, TryRecvError};

/// A [`Receiver`] whose values can be awaited in a Tokio runtime, also a
/// [`Stream`].
///
/// Not for signal handlers (nothing on the receiving side is); the [`Sender`](crate::Sender)s
/// stay async-signal-safe.
///
/// # Examples
///
/// As a stream, polled by hand (with `futures::StreamExt` or `tokio_stream::StreamExt`
/// this is `rx.next().await`):
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// use futures_core::Stream;
/// use std::pin::Pin;
///
/// let (tx, rx) = sigring::channel(4)?;
/// let mut rx = sigring::tokio::AsyncReceiver::new(rx)?;
/// tx.try_send("a").unwrap();
/// drop(tx);
/// let next = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx));
/// assert_eq!(next.await, Some("a"));
/// let next = std::future::poll_fn(|cx| Pin::new(&mut rx).poll_next(cx));
/// assert_eq!(next.await, None); // every sender gone, nothing left
/// # Ok(())
/// # }
/// ```
pub struct AsyncReceiver<T> {
    inner: AsyncFd<Receiver<T>>,
}

impl<T> fmt::Debug for AsyncReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncReceiver")
            .field("receiver", self.inner.get_ref())
            .finish()
    }
}

impl<T: Send> AsyncReceiver<T> {
    /// Registers `rx`'s fd with the current Tokio runtime's reactor.
    ///
    /// # Errors
    ///
    /// * `Other` if called outside a Tokio runtime (no panic), or in a runtime built
    ///   without the I/O driver (`enable_io`/`enable_all`);
    /// * the OS error if the registration fails.
    ///
    /// # Examples
    ///
    /// ```
    /// let (_tx, rx) = sigring::channel::<u8>(4)?;
    /// // Outside a runtime: a clear error, not a panic.
    /// let err = sigring::tokio::AsyncReceiver::new(rx).unwrap_err();
    /// assert!(err.to_string().contains("Tokio runtime"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(rx: Receiver<T>) -> io::Result<Self> {
        ::tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other(
                "sigring::tokio: AsyncReceiver::new must be called inside a Tokio runtime",
            )
        })?;
        // `AsyncFd` panics (before registering anything) if the runtime was built without
        // its I/O driver; turn that misconfiguration into an error as well.
        //
        // `with_interest` is deprecated since Tokio 1.51.6/1.53.3 in favour of the `unsafe`
        // `register_with_interest`, because an arbitrary `AsRawFd` type may close or swap
        // its fd while registered. It is used here to keep supporting older Tokio 1.x, and
        // it is sound for `Receiver`: its fd is owned by the channel state the receiver
        // keeps alive, `as_raw_fd` always returns that same fd, and it is closed only when
        // the last handle goes, which is after `AsyncFd` deregisters it (on drop or
        // `into_inner`).
        #[allow(deprecated)]
        let registered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            AsyncFd::with_interest(rx, Interest::READABLE)
        }));
        match registered {
            Ok(Ok(inner)) => Ok(AsyncReceiver { inner }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other(
                "sigring::tokio: the Tokio runtime has no I/O driver (build it with enable_io() or enable_all())",
            )),
        }
    }

    /// Receives the next value, waiting without using CPU. `None` once every sender is
    /// gone and everything queued was received.
    ///
    /// Cancel-safe: if the future is dropped before it completes, no value is lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let (tx, rx) = sigring::channel(4)?;
    /// let mut rx = sigring::tokio::AsyncReceiver::new(rx)?;
    /// std::thread::spawn(move || tx.try_send(42).unwrap());
    /// assert_eq!(rx.recv().await, Some(42));
    /// assert_eq!(rx.recv().await, None);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Polls for the next value: `Ready(Some(v))`, `Ready(None)` when disconnected and
    /// drained, or `Pending` with `cx`'s waker registered to be woken by the next send.
    ///
    /// Only the waker of the most recent call is woken. If the runtime's I/O driver has
    /// shut down, this returns `Ready(None)`; values still queued can be taken with
    /// [`into_inner`](AsyncReceiver::into_inner).
    ///
    /// The readiness protocol is explained in the [module docs](crate::tokio).
    ///
    /// # Examples
    ///
    /// A hand-written future that takes up to two values:
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// use std::task::Poll;
    ///
    /// let (tx, rx) = sigring::channel(4)?;
    /// let mut rx = sigring::tokio::AsyncReceiver::new(rx)?;
    /// tx.try_send(1).unwrap();
    /// tx.try_send(2).unwrap();
    /// let mut got = Vec::new();
    /// std::future::poll_fn(|cx| loop {
    ///     match rx.poll_recv(cx) {
    ///         Poll::Ready(Some(v)) if got.len() < 2 => got.push(v),
    ///         _ => return Poll::Ready(()),
    ///     }
    /// })
    /// .await;
    /// assert_eq!(got, [1, 2]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        loop {
            // Step 1: values may be waiting whatever the cached readiness says.
            match self.inner.get_ref().try_recv() {
                Ok(v) => return Poll::Ready(Some(v)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => {}
            }
            // Step 2: wait for an edge (registers the waker when Pending).
            let mut guard = match ready!(self.inner.poll_read_ready(cx)) {
                Ok(guard) => guard,
                Err(_) => return Poll::Ready(None),
            };
            // Step 3: look again with the guard held; clear only after an `Empty`.
            match guard.get_inner().try_recv() {
                Ok(v) => return Poll::Ready(Some(v)),
                Err(TryRecvError::Disconnected) => return Poll::Ready(None),
                Err(TryRecvError::Empty) => guard.clear_ready(),
            }
        }
    }

    /// Takes a value if one is ready now, without waiting.
    ///
    /// # Errors
    ///
    /// As [`Receiver::try_recv`].
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.get_ref().try_recv()
    }

    /// The receiver inside.
    pub fn get_ref(&self) -> &Receiver<T> {
        self.inner.get_ref()
    }

    /// Deregisters the fd from the reactor and gives the receiver back.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let (tx, rx) = sigring::channel(4)?;
    /// let rx = sigring::tokio::AsyncReceiver::new(rx)?;
    /// tx.try_send(1).unwrap();
    /// let rx: sigring::Receiver<i32> = rx.into_inner();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_inner(self) -> Receiver<T> {
        self.inner.into_inner()
    }
}

impl<T: Send> Stream for AsyncReceiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}
