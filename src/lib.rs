//! A lock-free bounded MPSC channel whose `try_send` is async-signal-safe, with an eventfd or
//! self-pipe wake-up. The whole story, with examples, is the README, which is these docs when
//! the `log` and `signal` features are on (as on docs.rs): [`channel`], [`StaticChannel`],
//! [`Sender::try_send`], [`Sender::send`], [`Receiver`].
#![cfg_attr(all(feature = "log", feature = "signal"), doc = include_str!("../README.md"))]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg(unix)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs, missing_debug_implementations)]

mod channel;
mod error;
mod fd;
#[cfg(all(feature = "log", not(sigring_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "log")))]
pub mod log;
#[cfg(all(feature = "mio", not(sigring_loom)))]
mod mio;
mod process;
mod ring;
pub mod shared;
#[cfg(all(feature = "signal", not(sigring_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "signal")))]
pub mod signal;
mod spin;
#[cfg(not(sigring_loom))]
mod static_channel;
mod sync;
#[cfg(not(sigring_loom))]
mod sys;
#[cfg(all(feature = "tokio", not(sigring_loom)))]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
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

/// Under loom: model processes for the shared channel's models (`loom-tests`).
#[cfg(sigring_loom)]
#[doc(hidden)]
pub use process::model as model_process;
