//! The channels compared: the [`Chan`] trait every scenario is written against, one
//! implementation per peer, and [`Peer`], the row names and keys.
//!
//! Every channel is bounded at [`CAP`] and carries [`Msg`]. The physical references (the
//! bare ring and the raw eventfd) live in `references.rs`: they are rows, not peers.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use crossbeam_utils::Backoff;
use sigring::{Backend, Builder};

/// The capacity of every channel.
pub(crate) const CAP: usize = 1024;

/// The 16-byte message. Throughput scenarios send `{producer, sequence}`; latency
/// scenarios send `{sequence, send time in ns}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Msg {
    pub(crate) a: u64,
    pub(crate) b: u64,
}

const _: () = assert!(std::mem::size_of::<Msg>() == 16);

/// A bounded channel with a blocking `send` (or a `try_send` plus the shared retry policy)
/// and a blocking `recv` that returns `None` once every sender is gone and all is received.
pub(crate) trait Chan {
    type Tx: Send + 'static;
    type Rx: Send + 'static;
    fn new() -> (Self::Tx, Self::Rx);
    fn clone_tx(tx: &Self::Tx) -> Self::Tx;
    fn send(tx: &Self::Tx, m: Msg);
    fn recv(rx: &mut Self::Rx) -> Option<Msg>;
}

/// The producer-side retry policy for the peers that only have a `try_send`/`push`
/// (`ArrayQueue`): crossbeam's
/// `Backoff::snooze`, i.e. spin 1, 2, 4, ... 64 pause instructions, then `sched_yield` on
/// every further retry. The blocking peers (crossbeam-channel, flume, thingbuf, std) do
/// about the same internally before they park.
#[inline]
fn send_retrying(mut v: Msg, mut try_send: impl FnMut(Msg) -> Result<(), Msg>) {
    let backoff = Backoff::new();
    loop {
        match try_send(v) {
            Ok(()) => return,
            Err(back) => {
                v = back;
                backoff.snooze();
            }
        }
    }
}

/// sigring, on the eventfd (`PIPE = false`) or on the self-pipe backend.
pub(crate) struct Sigring<const PIPE: bool>;

/// How every sigring producer of the blocking scenarios sends (throughput, pingpong,
/// idle_wake, mpsc16, slow_consumer): the blocking `Sender::send`, as every peer uses its
/// own. (`handler_push` measures `try_send` itself and does not come here.)
#[inline]
pub(crate) fn send_blocking(tx: &sigring::Sender<Msg>, v: Msg) {
    if tx.send(v).is_err() {
        panic!("sigring: receiver gone");
    }
}

impl<const PIPE: bool> Chan for Sigring<PIPE> {
    type Tx = sigring::Sender<Msg>;
    type Rx = sigring::Receiver<Msg>;
    fn new() -> (Self::Tx, Self::Rx) {
        let backend = if PIPE {
            Backend::Pipe
        } else {
            Backend::EventFd
        };
        Builder::new(CAP)
            .backend(backend)
            .build()
            .expect("sigring channel")
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.clone()
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        send_blocking(tx, m)
    }
    #[inline]
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        rx.recv().ok()
    }
}

/// A peer with a blocking `send` and `recv` of its own: `$tx` and `$rx` are its halves,
/// `$new` builds them, `$recv` turns a receive into an `Option` (`None` once disconnected).
macro_rules! blocking_peer {
    ($(#[$doc:meta])* $name:ident, $label:literal, $tx:ty, $rx:ty, $new:expr, |$r:ident| $recv:expr) => {
        $(#[$doc])*
        pub(crate) struct $name;

        impl Chan for $name {
            type Tx = $tx;
            type Rx = $rx;
            fn new() -> (Self::Tx, Self::Rx) {
                $new
            }
            fn clone_tx(tx: &Self::Tx) -> Self::Tx {
                tx.clone()
            }
            fn send(tx: &Self::Tx, m: Msg) {
                tx.send(m).expect(concat!($label, ": receiver gone"));
            }
            fn recv($r: &mut Self::Rx) -> Option<Msg> {
                $recv
            }
        }
    };
}

blocking_peer!(
    /// `std::sync::mpsc::sync_channel`.
    StdSync, "std", std::sync::mpsc::SyncSender<Msg>, std::sync::mpsc::Receiver<Msg>,
    std::sync::mpsc::sync_channel(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `crossbeam_channel::bounded`.
    Crossbeam, "crossbeam", crossbeam_channel::Sender<Msg>, crossbeam_channel::Receiver<Msg>,
    crossbeam_channel::bounded(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `flume::bounded`.
    Flume, "flume", flume::Sender<Msg>, flume::Receiver<Msg>,
    flume::bounded(CAP), |rx| rx.recv().ok()
);
blocking_peer!(
    /// `thingbuf::mpsc::blocking::channel`.
    Thingbuf, "thingbuf", thingbuf::mpsc::blocking::Sender<Msg>,
    thingbuf::mpsc::blocking::Receiver<Msg>,
    thingbuf::mpsc::blocking::channel(CAP), |rx| rx.recv()
);

/// `crossbeam_queue::ArrayQueue` + `mio::Waker`: the obvious eventfd design. Every push is
/// followed by a wake (one `write(2)` to mio's eventfd); the consumer pops until empty and
/// then sleeps in `mio::Poll` (`epoll_wait`).
pub(crate) struct AqMio;

pub(crate) struct AqShared {
    queue: crossbeam_queue::ArrayQueue<Msg>,
    waker: mio::Waker,
    senders: AtomicUsize,
}

pub(crate) struct AqTx(Arc<AqShared>);

impl Drop for AqTx {
    fn drop(&mut self) {
        if self.0.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.waker.wake().expect("mio wake");
        }
    }
}

pub(crate) struct AqRx {
    shared: Arc<AqShared>,
    poll: mio::Poll,
    events: mio::Events,
}

impl Chan for AqMio {
    type Tx = AqTx;
    type Rx = AqRx;
    fn new() -> (Self::Tx, Self::Rx) {
        let poll = mio::Poll::new().expect("mio poll");
        let waker = mio::Waker::new(poll.registry(), mio::Token(0)).expect("mio waker");
        let shared = Arc::new(AqShared {
            queue: crossbeam_queue::ArrayQueue::new(CAP),
            waker,
            senders: AtomicUsize::new(1),
        });
        (
            AqTx(shared.clone()),
            AqRx {
                shared,
                poll,
                events: mio::Events::with_capacity(8),
            },
        )
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.0.senders.fetch_add(1, Ordering::Relaxed);
        AqTx(tx.0.clone())
    }
    #[inline]
    fn send(tx: &Self::Tx, m: Msg) {
        send_retrying(m, |v| tx.0.queue.push(v));
        tx.0.waker.wake().expect("mio wake");
    }
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        loop {
            if let Some(m) = rx.shared.queue.pop() {
                return Some(m);
            }
            // The last sender decrements before it wakes, so a wake is pending or the
            // count is already zero.
            if rx.shared.senders.load(Ordering::Acquire) == 0 {
                return rx.shared.queue.pop();
            }
            match rx.poll.poll(&mut rx.events, None) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("mio poll: {e}"),
            }
        }
    }
}

/// `Mutex<VecDeque>` + two `Condvar`s, notifying only when someone waits.
pub(crate) struct MutexQ;

struct MqState {
    queue: VecDeque<Msg>,
    senders: usize,
    rx_waiting: bool,
    tx_waiting: usize,
}

pub(crate) struct MqShared {
    state: Mutex<MqState>,
    not_empty: Condvar,
    not_full: Condvar,
}

pub(crate) struct MqTx(Arc<MqShared>);

impl Drop for MqTx {
    fn drop(&mut self) {
        let mut st = self.0.state.lock().unwrap();
        st.senders -= 1;
        if st.senders == 0 && st.rx_waiting {
            self.0.not_empty.notify_one();
        }
    }
}

impl Chan for MutexQ {
    type Tx = MqTx;
    type Rx = Arc<MqShared>;
    fn new() -> (Self::Tx, Self::Rx) {
        let shared = Arc::new(MqShared {
            state: Mutex::new(MqState {
                queue: VecDeque::with_capacity(CAP),
                senders: 1,
                rx_waiting: false,
                tx_waiting: 0,
            }),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
        });
        (MqTx(shared.clone()), shared)
    }
    fn clone_tx(tx: &Self::Tx) -> Self::Tx {
        tx.0.state.lock().unwrap().senders += 1;
        MqTx(tx.0.clone())
    }
    fn send(tx: &Self::Tx, m: Msg) {
        let mut st = tx.0.state.lock().unwrap();
        while st.queue.len() >= CAP {
            st.tx_waiting += 1;
            st = tx.0.not_full.wait(st).unwrap();
            st.tx_waiting -= 1;
        }
        st.queue.push_back(m);
        if st.rx_waiting {
            tx.0.not_empty.notify_one();
        }
    }
    fn recv(rx: &mut Self::Rx) -> Option<Msg> {
        let mut st = rx.state.lock().unwrap();
        loop {
            if let Some(m) = st.queue.pop_front() {
                if st.tx_waiting > 0 {
                    rx.not_full.notify_one();
                }
                return Some(m);
            }
            if st.senders == 0 {
                return None;
            }
            st.rx_waiting = true;
            st = rx.not_empty.wait(st).unwrap();
            st.rx_waiting = false;
        }
    }
}

/// Everything that appears as a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Peer {
    SigringEventfd,
    SigringPipe,
    Crossbeam,
    Flume,
    Thingbuf,
    StdSync,
    AqMio,
    MutexQ,
    /// Reference: the bare spinning SPSC ring (spsc only).
    BareRing,
    /// Reference: raw eventfd write -> poll between two threads (pingpong, idle_wake).
    RawEventfd,
}

/// The channels: every peer with a multi-producer sender and a blocking receive.
pub(crate) const CHANNELS: [Peer; 8] = [
    Peer::SigringEventfd,
    Peer::SigringPipe,
    Peer::Crossbeam,
    Peer::Flume,
    Peer::Thingbuf,
    Peer::StdSync,
    Peer::AqMio,
    Peer::MutexQ,
];

impl Peer {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Peer::SigringEventfd => "sigring (eventfd)",
            Peer::SigringPipe => "sigring (pipe)",
            Peer::Crossbeam => "crossbeam-channel",
            Peer::Flume => "flume",
            Peer::Thingbuf => "thingbuf",
            Peer::StdSync => "std sync_channel",
            Peer::AqMio => "ArrayQueue + mio::Waker",
            Peer::MutexQ => "Mutex<VecDeque> + Condvar",
            Peer::BareRing => "bare spinning SPSC ring",
            Peer::RawEventfd => "raw eventfd write -> poll",
        }
    }

    /// The peer's key in the JSON and on the command line.
    pub(crate) fn key(self) -> &'static str {
        match self {
            Peer::SigringEventfd => "sigring-eventfd",
            Peer::SigringPipe => "sigring-pipe",
            Peer::Crossbeam => "crossbeam-channel",
            Peer::Flume => "flume",
            Peer::Thingbuf => "thingbuf",
            Peer::StdSync => "std",
            Peer::AqMio => "arrayqueue-mio",
            Peer::MutexQ => "mutex-condvar",
            Peer::BareRing => "bare-ring",
            Peer::RawEventfd => "raw-eventfd",
        }
    }

    pub(crate) fn from_key(key: &str) -> Option<Peer> {
        CHANNELS
            .iter()
            .chain(&[Peer::BareRing, Peer::RawEventfd])
            .copied()
            .find(|p| p.key() == key)
    }

    /// Rows that are not peers but physical references: left out of every "best peer"
    /// comparison.
    pub(crate) fn is_reference(self) -> bool {
        matches!(self, Peer::BareRing | Peer::RawEventfd)
    }

    /// The name shown in tables: references say so.
    pub(crate) fn display_name(self) -> String {
        if self.is_reference() {
            format!("{} (reference)", self.name())
        } else {
            self.name().to_string()
        }
    }
}

/// Calls the generic scenario function `$f::<C>(args)` for the channel type of `$peer`.
macro_rules! with_chan {
    ($peer:expr, $f:ident($($arg:expr),*)) => {
        match $peer {
            $crate::peers::Peer::SigringEventfd => $f::<$crate::peers::Sigring<false>>($($arg),*),
            $crate::peers::Peer::SigringPipe => $f::<$crate::peers::Sigring<true>>($($arg),*),
            $crate::peers::Peer::Crossbeam => $f::<$crate::peers::Crossbeam>($($arg),*),
            $crate::peers::Peer::Flume => $f::<$crate::peers::Flume>($($arg),*),
            $crate::peers::Peer::Thingbuf => $f::<$crate::peers::Thingbuf>($($arg),*),
            $crate::peers::Peer::StdSync => $f::<$crate::peers::StdSync>($($arg),*),
            $crate::peers::Peer::AqMio => $f::<$crate::peers::AqMio>($($arg),*),
            $crate::peers::Peer::MutexQ => $f::<$crate::peers::MutexQ>($($arg),*),
            $crate::peers::Peer::BareRing => $f::<$crate::references::BareRing>($($arg),*),
            $crate::peers::Peer::RawEventfd => unreachable!("the raw eventfd is not a channel"),
        }
    };
}
pub(crate) use with_chan;
