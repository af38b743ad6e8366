//! `mio::event::Source` for [`Receiver`] (feature `mio`).
//!
//! Register the receiver for `Interest::READABLE`. mio's registrations are edge-triggered
//! on Linux; that works because every `Empty` from [`Receiver::try_recv`] leaves the fd
//! unreadable and the next send makes it readable again (a new edge). On each readable
//! event, call `try_recv` until it returns `Empty`.
//!
//! ```
//! use mio::{Events, Interest, Poll, Token};
//! use std::time::Duration;
//!
//! let mut poll = Poll::new()?;
//! let (tx, mut rx) = sigring::channel::<u32>(16)?;
//! poll.registry().register(&mut rx, Token(0), Interest::READABLE)?;
//! assert_eq!(rx.try_recv(), Err(sigring::TryRecvError::Empty)); // nothing yet
//! tx.try_send(5).unwrap();
//! let mut events = Events::with_capacity(4);
//! poll.poll(&mut events, Some(Duration::from_secs(5)))?;
//! assert!(events.iter().any(|e| e.token() == Token(0) && e.is_readable()));
//! assert_eq!(rx.try_recv(), Ok(5));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::AsRawFd;

use mio::event::Source;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};

use crate::Receiver;

impl<T> Source for Receiver<T> {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        SourceFd(&self.as_raw_fd()).deregister(registry)
    }
}
