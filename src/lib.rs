//! A lock-free bounded MPSC channel whose [`Sender::try_send`] is async-signal-safe and
//! reentrant, with an eventfd (Linux) or self-pipe wake-up, so values can leave signal
//! handlers, destructors, allocator hooks and panic hooks without risking a deadlock.
//!
//! # Why
//!
//! A signal handler, a `Drop`, a tracing `#[global_allocator]` or a panic hook can run *in
//! the middle of* another operation on the same thread. If it pushes into a queue that takes
//! a lock (a `Mutex<VecDeque>`, a channel whose wake path locks), and the interrupted code
//! already held that lock, the thread deadlocks forever. The proven cure is the self-pipe:
//! the handler only records the event and writes to a file descriptor; a consumer thread
//! sleeping in `poll(2)` wakes and does the real work. sigring is that pattern as a library.
//!
//! # The contract
//!
//! [`Sender::try_send`] may be called from a signal handler that interrupted *any* sigring
//! call on the same thread, from a `Drop` impl, from inside a `#[global_allocator]`, and from
//! many threads at once. It takes no lock, allocates nothing, touches no thread-local, has
//! no panic path, never waits for another thread or for the code it interrupted (a slot
//! not yet released means [`TrySendError::Full`], never a spin), and makes at most one
//! `write(2)`, only when the consumer may be asleep, with `errno` saved and restored.
//! Rejected values come back to the caller, and every `Full` is counted
//! ([`Receiver::dropped`]).
//!
//! The [`Receiver`] is for an ordinary thread: [`Receiver::recv`] spins briefly, then sleeps
//! in `poll(2)` with no CPU use and no periodic wake-ups; its fd ([`std::os::fd::AsFd`], and
//! `mio::event::Source` with the `mio` feature) plugs into event loops.
//!
//! # Example
//!
//! ```
//! use std::thread;
//!
//! let (tx, rx) = sigring::channel::<u64>(1024)?;
//! let producer = thread::spawn(move || {
//!     for i in 0..100 {
//!         while tx.try_send(i).is_err() {
//!             thread::yield_now(); // full: a real handler would count and move on
//!         }
//!     }
//! });
//! let sum: u64 = rx.iter().sum(); // ends when the sender is gone and all is received
//! producer.join().unwrap();
//! assert_eq!(sum, 4950);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Inside
//!
//! * `ring`: the bounded ring with per-slot sequence stamps (crossbeam's `ArrayQueue`
//!   lineage, exact capacity through lap arithmetic), changed so that producers never wait.
//! * `waker`: the three-state wake flag that decides which push writes the fd, and the
//!   eventfd and pipe backends.
//! * `sync`: the only importer of atomics; `--cfg sigring_loom` swaps in loom's, and the
//!   models in `loom-tests/` check the protocols.
#![cfg(unix)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod channel;
mod error;
#[cfg(all(feature = "log", not(sigring_loom)))]
pub mod log;
#[cfg(all(feature = "mio", not(sigring_loom)))]
mod mio;
mod process;
mod ring;
#[cfg(all(feature = "signal", not(sigring_loom)))]
pub mod signal;
mod spin;
#[cfg(not(sigring_loom))]
mod static_channel;
mod sync;
#[cfg(not(sigring_loom))]
mod sys;
#[cfg(all(feature = "tokio", not(sigring_loom)))]
pub mod tokio;
mod wait;
mod waker;

pub use channel::{channel, Builder, IntoIter, Iter, Receiver, Sender, TryIter};
pub use error::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
#[cfg(not(sigring_loom))]
pub use static_channel::StaticChannel;
pub use waker::Backend;

/// The README's code blocks, compiled and run as doctests.
#[cfg(all(doctest, feature = "log", feature = "signal"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
