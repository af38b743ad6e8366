//! A channel across processes: forked workers send plain data, from ordinary code and from
//! their signal handlers, into one [`Receiver`] in the process that created the channel.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! // Plain data: no pointers, every bit pattern valid (`bytemuck::Pod`).
//! #[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
//! #[repr(C)]
//! struct Done { pid: u32, job: u32 }
//!
//! let (tx, rx) = sigring::shared::channel::<Done>(256)?;
//! for job in 0..4 {
//!     // SAFETY (of this example): the child only sends and exits.
//!     if unsafe { libc::fork() } == 0 {
//!         let pid = std::process::id();
//!         let _ = tx.try_send(Done { pid, job });
//!         unsafe { libc::_exit(0) };
//!     }
//! }
//! for _ in 0..4 {
//!     let done = rx.recv().unwrap();
//!     println!("worker {} finished job {}", done.pid, done.job);
//! }
//! # Ok(()) }
//! ```
//!
//! # How it works
//!
//! [`channel`] maps shared anonymous memory (`MAP_SHARED`, so every process forked from
//! this one afterwards sees the same pages) holding the wake flag and `lanes` rings of
//! `capacity` slots each, and creates the receiver's wake-up fd, which forked children
//! inherit. A process sends into a *lane* of its own, claimed on its first send (the lane's
//! owner word goes from 0 to its pid by compare-and-swap). Each lane is the ring of
//! `ring.rs` (its producers are the threads and signal handlers of one process), and the
//! wake protocol of `waker` is the same, with its flag in the mapping: a producer publishes,
//! then writes one token to the fd only if the consumer may be asleep.
//!
//! The receiver is an ordinary [`Receiver`]: `recv*`, `try_recv`, `AsFd`, mio and tokio all
//! work. It takes values lane by lane, in turns; values of one process (one lane) arrive in
//! the order that process sent them. There is no order between processes.
//!
//! # A sender that dies
//!
//! A process killed at any instruction of a send (SIGKILL between claiming a slot and
//! publishing it) leaves at most one slot per thread claimed and never published, in its
//! own lane: no other process's values wait behind it. The consumer notices a lane whose
//! next slot stays claimed, and after [`STALL_GRACE`](self#constants) (10 ms) asks whether
//! the lane's process still exists (`kill(pid, 0)`, and on Linux the state in
//! `/proc/<pid>/stat`, so an exited child its parent has not reaped yet counts as gone).
//! If it does not, the slot is skipped and counted in [`Receiver::lost`]; every value that
//! process published arrives. So a dead sender delays only its own lane's remaining values,
//! by at most about 10 ms after its death (while the receiver is being called), and costs
//! exactly the values it had not published. While the process lives (stopped, or
//! preempted mid-send), the consumer waits for it without spinning: it looks again every
//! 10 ms. Once a dead process's lane is drained, the consumer frees it for a new process
//! (checked at most every 50 ms, when the channel is empty).
//!
//! # Memory that is not trusted
//!
//! Any process holding the mapping can write anything into it. The consumer never takes a
//! position, a capacity or an offset from it: each process keeps the geometry and the
//! lanes' addresses in private memory, and the consumer keeps its own `head` per lane. A
//! `tail` that is not a position this geometry produces, or more than one ring ahead of
//! the consumer, and a stamp the protocol never leaves at `head`, close that lane (its
//! process gets `Disconnected`; what it held is counted lost). Values are read with a
//! volatile copy, and `T: Pod` makes any bytes a valid value. A scribbled wake flag is put
//! back to `ARMED`, and `recv` wakes at least every 100 ms ([`WATCHDOG`](self#constants))
//! to look at the lanes, so a flag that stops producers from writing tokens delays values,
//! never loses the consumer. So a misbehaving process can lose or corrupt values and get
//! lanes closed, but cannot make the consumer read out of bounds, hang, or run into
//! undefined behaviour.
//!
//! # Limits
//!
//! * Send plain data (`T: bytemuck::Pod`): a pointer means nothing in another process.
//! * At most `lanes` processes can send at once; a process that finds no free lane gets
//!   [`TrySendError::Full`](crate::TrySendError::Full) (counted in
//!   [`Receiver::full_rejections`]).
//! * Senders only `try_send`: there is no blocking `send` across processes.
//! * The receiver is never disconnected: senders in other processes cannot be counted
//!   reliably (a killed one never says goodbye).
//! * Processes must be forked (through libc: `fork`, `Command` without exec does not
//!   apply) from the one that created the channel, after it was created; they must keep
//!   the inherited wake-up fd open (it is close-on-exec: joining after `exec` is not
//!   supported). A pid reused by a new process after the old one exited makes the consumer
//!   believe the old one alive (pids wrap only after `pid_max`).
//! * In the forked children the inherited [`Receiver`] is disconnected, as for any
//!   channel.
//!
//! # Constants
//!
//! `STALL_GRACE` = 10 ms, `WATCHDOG` = 100 ms: see above.

mod consumer;
mod region;
mod sender;

use std::io;

pub use sender::Sender;

use crate::channel::Receiver;
use crate::process;
use crate::sync::Arc;
use crate::waker::Backend;

pub(crate) use consumer::Consumer;

/// Creates a shared channel with 64 lanes of `capacity` values each, and the default
/// [`Backend`]. Call it before forking the processes that will send.
///
/// # Errors
///
/// `InvalidInput` for a capacity of 0 or one too large to map; the OS error when the
/// mapping or the fd cannot be made (`ENOMEM`, `EMFILE`).
///
/// # Examples
///
/// ```
/// let (tx, rx) = sigring::shared::channel::<[u32; 4]>(16)?;
/// tx.try_send([1, 2, 3, 4]).unwrap();
/// assert_eq!(rx.recv(), Ok([1, 2, 3, 4]));
/// assert_eq!(sigring::shared::channel::<u8>(0).unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn channel<T: bytemuck::Pod + Send>(capacity: usize) -> io::Result<(Sender<T>, Receiver<T>)> {
    Builder::new(capacity).build()
}

/// Configures a shared channel before creating it.
///
/// # Examples
///
/// ```
/// let (tx, rx) = sigring::shared::Builder::new(128).lanes(8).build::<u64>()?;
/// assert_eq!((tx.lanes(), tx.capacity()), (8, 128));
/// # drop(rx);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    capacity: usize,
    lanes: usize,
    backend: Backend,
}

impl Builder {
    /// A channel whose lanes hold `capacity` values each.
    pub fn new(capacity: usize) -> Self {
        Builder {
            capacity,
            lanes: 64,
            backend: Backend::Auto,
        }
    }

    /// How many processes can send at once (64 by default; 1 to 4096).
    pub fn lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes;
        self
    }

    /// The wake-up mechanism.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Maps the channel and creates the receiver's fd.
    ///
    /// # Errors
    ///
    /// As for [`channel`]; also `InvalidInput` for 0 or more than 4096 lanes.
    pub fn build<T: bytemuck::Pod + Send>(self) -> io::Result<(Sender<T>, Receiver<T>)> {
        let region = region::Region::<T>::new(self.lanes, self.capacity)?;
        region.wake().open(self.backend)?;
        // Children forked from now on must not take this process's lane, nor consume.
        process::watch_forks();
        let region = Arc::new(region);
        let consumer = Consumer::new(Arc::clone(&region), process::alive);
        let rx = Receiver::shared(consumer);
        Ok((Sender { region }, rx))
    }
}
