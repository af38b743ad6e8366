//! One mio `Poll` multiplexing a TCP echo server and a sigring channel fed by a thread and
//! by a `SIGUSR1` handler.
//!
//! ```text
//! cargo run --example mio_loop -- 10      # run for at most 10 s (the default)
//! ```
//!
//! It prints `listening on 127.0.0.1:PORT`; connect with `nc 127.0.0.1 PORT` and type
//! lines: each one is echoed back, and `quit` ends the program. Meanwhile a helper thread
//! sends a `Tick` through the channel every 100 ms and raises `SIGUSR1` every 250 ms, whose
//! handler sends a `Signal` event through the same channel; the loop prints both as they
//! arrive. Only loopback addresses are used.
//!
//! The points it shows:
//!
//! * the receiver is registered like any socket (`mio::event::Source`), and on each
//!   readable event it is drained with `try_recv` until `Empty`, which re-arms it (mio is
//!   edge-triggered); a new receiver needs no first drain: it is armed when created, and
//!   readable at once if values were queued in the static before it existed;
//! * the channel is a `static` [`StaticChannel`]: the signal handler calls `try_send` on
//!   it directly (async-signal-safe, no pointer to publish, no unsafe code); the loop takes
//!   its receiver and the feeder thread a `Sender`; all printing happens in the loop;
//! * a signal arriving while the loop sleeps in `epoll_wait` makes `Poll::poll` fail with
//!   `Interrupted`, which is retried.
//!
//! `tests/mio_loop.rs` runs [`run`] and drives it over TCP. [`run`] works once per process:
//! a static channel has one receiver.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use sigring::{StaticChannel, TryRecvError};

const LISTENER: Token = Token(0);
const CHANNEL: Token = Token(1);
const FIRST_CONN: usize = 2;

/// What travels through the channel.
#[derive(Debug)]
pub enum Event {
    /// From the helper thread.
    Tick(u64),
    /// From the `SIGUSR1` handler: the handler's own running count.
    Signal(u64),
}

/// How long to run and how often to feed the channel.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stop after this long even without `quit`.
    pub run_for: Duration,
    /// A `Tick` every this often.
    pub tick_every: Duration,
    /// `SIGUSR1` every this often.
    pub signal_every: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            run_for: Duration::from_secs(10),
            tick_every: Duration::from_millis(100),
            signal_every: Duration::from_millis(250),
        }
    }
}

/// What happened, for the caller (and the test).
#[derive(Debug, Default)]
pub struct Summary {
    /// `Tick` events received.
    pub ticks: u64,
    /// `Signal` events received.
    pub signals: u64,
    /// TCP lines echoed (not counting `quit`).
    pub lines_echoed: u64,
    /// Whether a client sent `quit`.
    pub quit: bool,
}

/// The channel of the loop. A `static`, so the signal handler, which may run on any
/// thread at any moment, reaches it without a pointer to publish or keep alive.
static EVENTS: StaticChannel<Event, 256> = StaticChannel::new();
static HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);

/// The `SIGUSR1` handler: async-signal-safe, it only counts and calls `try_send`.
extern "C" fn on_sigusr1(_: libc::c_int) {
    let n = HANDLER_RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    // A full channel or a gone receiver: the event is dropped (a full one is counted by the
    // channel).
    let _ = EVENTS.try_send(Event::Signal(n));
}

/// Installs the handler; returns the previous action to restore.
fn install_handler() -> io::Result<libc::sigaction> {
    // SAFETY: a zeroed `sigaction` is valid (empty mask, no flags) and is filled in before
    // use; `on_sigusr1` has the `sa_handler` signature; `old` is a valid out-pointer.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGUSR1, &sa, &mut old) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(old)
    }
}

fn restore_handler(old: &libc::sigaction) {
    // SAFETY: `old` is the action `sigaction` gave back.
    unsafe { libc::sigaction(libc::SIGUSR1, old, ptr::null_mut()) };
}

/// One TCP client: bytes read but not yet a full line, bytes to write back.
struct Conn {
    stream: TcpStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
}

/// Runs the loop until `quit` or `opts.run_for`, printing to `out`.
///
/// # Errors
///
/// Any I/O error of the loop; `AlreadyExists` when called a second time in the process
/// (the static channel's receiver was taken by the first call).
pub fn run(opts: Options, mut out: impl Write) -> io::Result<Summary> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(64);
    let mut rx = EVENTS.receiver()?;
    let tx = EVENTS.sender();

    let mut listener = TcpListener::bind(([127, 0, 0, 1], 0).into())?;
    writeln!(out, "listening on {}", listener.local_addr()?)?;
    out.flush()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    poll.registry()
        .register(&mut rx, CHANNEL, Interest::READABLE)?;
    let old_action = install_handler()?;

    // The feeder: ticks through the channel, and SIGUSR1 to the whole process.
    let stop = Arc::new(AtomicBool::new(false));
    let feeder = {
        let stop = stop.clone();
        let opts = opts.clone();
        thread::spawn(move || {
            let start = Instant::now();
            let (mut ticks, mut signals) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(10));
                let now = start.elapsed();
                if now >= opts.tick_every * (ticks + 1) {
                    ticks += 1;
                    // `try_send`, not `send`: a tick the loop has no room for is dropped
                    // (and counted), and the feeder never waits on a loop that has ended.
                    let _ = tx.try_send(Event::Tick(u64::from(ticks)));
                }
                if now >= opts.signal_every * (signals + 1) {
                    signals += 1;
                    // SAFETY: `kill` on our own pid with a signal we handle.
                    unsafe { libc::kill(libc::getpid(), libc::SIGUSR1) };
                }
            }
        })
    };

    let result = event_loop(
        &mut poll,
        &mut events,
        &mut listener,
        &mut rx,
        &opts,
        &mut out,
    );

    stop.store(true, Ordering::Relaxed);
    let _ = feeder.join();
    restore_handler(&old_action);
    let summary = result?;
    writeln!(
        out,
        "done: {} ticks, {} signals, {} lines echoed, {} channel drops",
        summary.ticks,
        summary.signals,
        summary.lines_echoed,
        rx.full_rejections()
    )?;
    out.flush()?;
    Ok(summary)
}

fn event_loop(
    poll: &mut Poll,
    events: &mut Events,
    listener: &mut TcpListener,
    rx: &mut sigring::Receiver<Event>,
    opts: &Options,
    out: &mut impl Write,
) -> io::Result<Summary> {
    let deadline = Instant::now() + opts.run_for;
    let mut summary = Summary::default();
    let mut conns: HashMap<Token, Conn> = HashMap::new();
    let mut next_token = FIRST_CONN;

    while !summary.quit {
        let Some(timeout) = deadline.checked_duration_since(Instant::now()) else {
            writeln!(out, "time is up")?;
            break;
        };
        match poll.poll(events, Some(timeout)) {
            Ok(()) => {}
            // SIGUSR1 landed on this thread while it slept in epoll_wait.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            match event.token() {
                CHANNEL => loop {
                    // Drain until Empty: that re-arms the wake-up for the next edge.
                    match rx.try_recv() {
                        Ok(Event::Tick(n)) => {
                            summary.ticks += 1;
                            writeln!(out, "channel: tick {n} (from the feeder thread)")?;
                        }
                        Ok(Event::Signal(n)) => {
                            summary.signals += 1;
                            writeln!(out, "channel: SIGUSR1 #{n} (from the signal handler)")?;
                        }
                        Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => break,
                    }
                },
                LISTENER => loop {
                    match listener.accept() {
                        Ok((mut stream, peer)) => {
                            let token = Token(next_token);
                            next_token += 1;
                            poll.registry()
                                .register(&mut stream, token, Interest::READABLE)?;
                            conns.insert(
                                token,
                                Conn {
                                    stream,
                                    inbuf: Vec::new(),
                                    outbuf: Vec::new(),
                                },
                            );
                            writeln!(out, "tcp: {peer} connected")?;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(e),
                    }
                },
                token => {
                    let Some(conn) = conns.get_mut(&token) else {
                        continue;
                    };
                    let open = serve(conn, &mut summary, out)?;
                    if open {
                        // Watch for writability only while there is something to write.
                        let interest = if conn.outbuf.is_empty() {
                            Interest::READABLE
                        } else {
                            Interest::READABLE | Interest::WRITABLE
                        };
                        poll.registry()
                            .reregister(&mut conn.stream, token, interest)?;
                    } else if let Some(mut conn) = conns.remove(&token) {
                        poll.registry().deregister(&mut conn.stream)?;
                        writeln!(out, "tcp: connection closed")?;
                    }
                }
            }
        }
        out.flush()?;
    }
    Ok(summary)
}

/// Reads what is there, echoes complete lines, writes what it can. `Ok(false)` once the
/// connection is done.
fn serve(conn: &mut Conn, summary: &mut Summary, out: &mut impl Write) -> io::Result<bool> {
    let mut open = true;
    let mut buf = [0u8; 4096];
    loop {
        match conn.stream.read(&mut buf) {
            Ok(0) => {
                open = false;
                break;
            }
            Ok(n) => conn.inbuf.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => {
                open = false;
                break;
            }
        }
    }
    while let Some(end) = conn.inbuf.iter().position(|&b| b == b'\n') {
        let line: Vec<u8> = conn.inbuf.drain(..=end).collect();
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        if text == "quit" {
            writeln!(out, "tcp: quit requested")?;
            summary.quit = true;
            conn.outbuf.extend_from_slice(b"bye\n");
        } else {
            summary.lines_echoed += 1;
            writeln!(out, "tcp: echo {text:?}")?;
            conn.outbuf.extend_from_slice(text.as_bytes());
            conn.outbuf.push(b'\n');
        }
    }
    while !conn.outbuf.is_empty() {
        match conn.stream.write(&conn.outbuf) {
            Ok(n) => {
                conn.outbuf.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Ok(false),
        }
    }
    Ok(open)
}

fn main() -> io::Result<()> {
    let mut opts = Options::default();
    if let Some(arg) = std::env::args().nth(1) {
        let secs: u64 = arg.parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("usage: mio_loop [SECONDS], got {arg:?}"),
            )
        })?;
        opts.run_for = Duration::from_secs(secs);
    }
    let summary = run(opts, io::stdout())?;
    if summary.quit {
        println!("bye");
    }
    Ok(())
}
