//! N worker processes -> one consumer: sigring's shared channel against the usual
//! alternative, one pipe or socket per worker read through one epoll (issue 16).
//!
//! ```text
//! cargo bench --bench processes                  # about a minute
//! cargo bench --bench processes -- --quick       # about 10 s
//! cargo bench --bench processes -- --help        # every option
//! ```
//!
//! Every run creates its channel (or its pipes / socket pairs and the epoll) first, then
//! forks N workers with `libc::fork`. Each worker sends M messages of 16 bytes
//! (`Msg { worker, seq, payload }`) and leaves with `_exit`:
//!
//! | transport | worker | consumer (the main thread) |
//! |---|---|---|
//! | `sigring` | `shared::Sender::try_send`; on `Full`, a short spin then `yield_now` | `Receiver::recv`, one value per call |
//! | `pipe` | one blocking 16-byte `write` per message | level-triggered epoll; per readable fd one `read` of up to 64 KiB (the pipe's capacity) |
//! | `unix` | `socketpair(SOCK_STREAM)`, one blocking 16-byte `write` per message | as for `pipe`, reassembling messages split across reads |
//! | `seqpacket` | `socketpair(SOCK_SEQPACKET)`, one blocking 16-byte `write` (one record) per message | as for `pipe`, with one `recvmmsg` of up to 256 messages per readable fd |
//!
//! The sigring channel has 64 lanes (as `shared::channel`; `--lanes` changes it) of 4096
//! values each: the number of 16-byte messages a default pipe holds. By default workers
//! send as fast as they can; `--pace-us P` makes each sleep P us after every message, so
//! the consumer keeps running out of messages and its CPU per message is mostly the cost of
//! waking up.
//!
//! Measured per run:
//!
//! * throughput: messages over the wall time from just before the first fork to the last
//!   message received;
//! * the consumer's CPU per message: the `CLOCK_THREAD_CPUTIME_ID` of the consumer thread
//!   over its receive loop (the forks, the same for every transport, are left out);
//! * the workers' CPU per message: `getrusage(RUSAGE_CHILDREN)` around reaping them;
//! * how often the consumer waited in the kernel (sigring: `Receiver::wakeups`, sleeps on
//!   its fd that ended in a wake-up; epoll: `epoll_wait` calls);
//! * how many `write`s the workers made (sigring: wake-up tokens, `Receiver::wake_writes`;
//!   the others: one per message).
//!
//! Every run checks what it received: each worker's messages exactly once, in the order it
//! sent them, with the payload it computed, and a clean exit of every worker; a wrong
//! answer aborts the bench.
//!
//! Runs are interleaved (for each repetition, for each N, every transport in turn), so a
//! noisy machine hits them alike. The tables show medians over the repetitions (with the
//! min–max of the throughput); the ratios are medians of the per-repetition ratios of runs
//! made side by side.

use std::collections::BTreeMap;
use std::env;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use sigring::shared::{self, Sender};
use sigring::TrySendError;

const HELP: &str = "\
N worker processes -> one consumer: sigring's shared channel against one pipe / socket per
worker read through one epoll.

USAGE: cargo bench --bench processes -- [OPTIONS]

OPTIONS:
  --quick            fewer repetitions and messages (about 10 s)
  --reps N           repetitions (default 5, quick 3)
  --messages M       messages per worker (default 100000, quick 30000)
  --workers LIST     comma-separated worker counts (default 1,4,8)
  --only LIST        comma-separated transports: sigring,pipe,unix,seqpacket
  --lanes L          lanes of the sigring channel (default 64, as `shared::channel`)
  --pace-us P        each worker sleeps P microseconds after each message (default 0: as
                     fast as it can); shows the consumer's cost per wake-up
  --json PATH        also write every sample (and the run's settings) as JSON
";

/// What a worker sends: 16 bytes, plain data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
#[repr(C)]
struct Msg {
    worker: u32,
    seq: u32,
    payload: u64,
}

impl Msg {
    fn new(worker: u32, seq: u32) -> Self {
        Msg {
            worker,
            seq,
            payload: payload(worker, seq),
        }
    }
}

/// The payload of a message, so that a torn or mixed-up message is caught.
fn payload(worker: u32, seq: u32) -> u64 {
    (u64::from(worker) << 32 | u64::from(seq)) ^ 0x9e37_79b9_7f4a_7c15
}

const MSG: usize = std::mem::size_of::<Msg>();
/// Values per sigring lane: as many messages as a default pipe holds (64 KiB).
const LANE_CAPACITY: usize = 4096;
/// Bytes a consumer `read` asks for (pipe, unix): a default pipe's capacity.
const READ_BUF: usize = 64 * 1024;
/// Messages one `recvmmsg` takes at most (seqpacket).
const MMSG_BATCH: usize = 256;
/// Events one `epoll_wait` returns at most.
const EPOLL_EVENTS: usize = 64;

/// How messages travel from the workers to the consumer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Transport {
    Sigring,
    Pipe,
    Unix,
    Seqpacket,
}

impl Transport {
    const ALL: [Transport; 4] = [
        Transport::Sigring,
        Transport::Pipe,
        Transport::Unix,
        Transport::Seqpacket,
    ];

    fn key(self) -> &'static str {
        match self {
            Transport::Sigring => "sigring",
            Transport::Pipe => "pipe",
            Transport::Unix => "unix",
            Transport::Seqpacket => "seqpacket",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Transport::Sigring => "sigring shared channel",
            Transport::Pipe => "pipe per worker + epoll",
            Transport::Unix => "UnixStream per worker + epoll",
            Transport::Seqpacket => "SEQPACKET per worker + epoll (recvmmsg)",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Transport::ALL.into_iter().find(|t| t.key() == key)
    }
}

// ---------------------------------------------------------------------------------------
// The command line

struct Config {
    reps: usize,
    work: Work,
    workers: Vec<u32>,
    transports: Vec<Transport>,
    /// Lanes of the sigring channel.
    lanes: usize,
    json: Option<PathBuf>,
}

/// Reads the command line; `cargo bench` passes `--bench`, and anything unknown is ignored.
fn parse_args() -> Config {
    let args: Vec<String> = env::args().skip(1).collect();
    let mut quick = false;
    let (mut reps, mut messages, mut pace_us) = (None, None, 0);
    let mut workers = vec![1, 4, 8];
    let mut transports = Transport::ALL.to_vec();
    let mut lanes = 64;
    let mut json = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| panic!("{a} needs a value"))
                .clone()
        };
        match a.as_str() {
            "--quick" => quick = true,
            "--reps" => reps = Some(value().parse().expect("--reps N")),
            "--messages" => messages = Some(value().parse().expect("--messages M")),
            "--workers" => workers = list(&value(), |s| s.parse().ok()),
            "--only" => transports = list(&value(), Transport::from_key),
            "--pace-us" => pace_us = value().parse().expect("--pace-us P"),
            "--lanes" => lanes = value().parse().expect("--lanes L"),
            "--json" => json = Some(PathBuf::from(value())),
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            _ => {}
        }
    }
    Config {
        reps: reps.unwrap_or(if quick { 3 } else { 5 }).max(1),
        work: Work {
            messages: messages
                .unwrap_or(if quick { 30_000 } else { 100_000 })
                .max(1),
            pace: Duration::from_micros(pace_us),
        },
        workers,
        transports,
        lanes,
        json,
    }
}

/// A comma-separated list; panics on an item `parse` rejects.
fn list<T>(s: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    s.split(',')
        .map(|x| parse(x.trim()).unwrap_or_else(|| panic!("unknown item {x:?} in {s:?}")))
        .collect()
}

// ---------------------------------------------------------------------------------------
// What one run measures, and the check of what it received

/// What each worker does.
#[derive(Clone, Copy, Debug)]
struct Work {
    /// Messages it sends.
    messages: u32,
    /// How long it sleeps after each message (none: it sends as fast as it can).
    pace: Duration,
}

impl Work {
    /// A worker's loop: `send` every message of `worker` (false: stop, the worker failed),
    /// sleeping `pace` after each.
    fn run(self, worker: u32, mut send: impl FnMut(Msg) -> bool) -> bool {
        (0..self.messages).all(|seq| {
            let ok = send(Msg::new(worker, seq));
            if !self.pace.is_zero() {
                std::thread::sleep(self.pace);
            }
            ok
        })
    }
}

/// One run of one transport with N workers.
#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Messages per second, first fork to last message received.
    rate: f64,
    /// The consumer thread's CPU per message, in ns.
    consumer_ns: f64,
    /// The workers' CPU (user + system) per message, in ns.
    workers_ns: f64,
    /// Waits in the kernel per 1000 messages (sigring: wake-ups; epoll: `epoll_wait`).
    waits_per_k: f64,
    /// `write` calls of the workers per 1000 messages (sigring: wake-up tokens; the
    /// others: one per message).
    writes_per_k: f64,
}

/// The next sequence number expected from each worker.
struct Check {
    next: Vec<u32>,
}

impl Check {
    fn new(workers: u32) -> Self {
        Check {
            next: vec![0; workers as usize],
        }
    }

    /// One message: from a known worker, the next in its order, with the right payload.
    fn take(&mut self, msg: Msg) {
        let next = self
            .next
            .get_mut(msg.worker as usize)
            .unwrap_or_else(|| panic!("message from unknown worker: {msg:?}"));
        assert_eq!(
            msg.seq, *next,
            "worker {} out of order: {msg:?}",
            msg.worker
        );
        assert_eq!(
            msg.payload,
            payload(msg.worker, msg.seq),
            "bad payload: {msg:?}"
        );
        *next += 1;
    }

    /// Every worker's `messages` arrived.
    fn finish(&self, messages: u32) {
        for (w, &n) in self.next.iter().enumerate() {
            assert_eq!(n, messages, "worker {w}: {n} of {messages} messages");
        }
    }
}

/// What the consumer's loop reports, besides the messages it checked.
struct Consumed {
    /// The consumer thread's CPU over the loop.
    cpu: Duration,
    /// When the last message arrived.
    done: Instant,
    /// How often it waited in the kernel.
    waits: u64,
    /// How many `write` calls the workers made.
    writes: u64,
}

/// Builds the sample of a run that started at `start` and moved `total` messages.
fn sample(start: Instant, consumed: &Consumed, workers_cpu: Duration, total: u64) -> Sample {
    let per_msg = |d: Duration| d.as_nanos() as f64 / total as f64;
    Sample {
        rate: total as f64 / (consumed.done - start).as_secs_f64(),
        consumer_ns: per_msg(consumed.cpu),
        workers_ns: per_msg(workers_cpu),
        waits_per_k: consumed.waits as f64 * 1000.0 / total as f64,
        writes_per_k: consumed.writes as f64 * 1000.0 / total as f64,
    }
}

// ---------------------------------------------------------------------------------------
// Processes and clocks

/// Forks a worker that runs `body` and leaves with `_exit` (0 if `body` says it succeeded,
/// 2 otherwise); returns its pid.
fn fork_worker(body: impl FnOnce() -> bool) -> libc::pid_t {
    // SAFETY: the bench is single-threaded, so the child's memory is consistent; the child
    // runs `body` (sends only) and leaves with `_exit`, running no destructor or atexit
    // handler of the parent's.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        let ok = body();
        // SAFETY: leaving the child at once.
        unsafe { libc::_exit(if ok { 0 } else { 2 }) };
    }
    pid
}

/// Waits for every worker, checks it exited with 0, and returns the CPU time they used.
fn reap_all(pids: &[libc::pid_t]) -> Duration {
    let before = children_cpu();
    for &pid in pids {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(rc, pid, "waitpid: {}", io::Error::last_os_error());
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "worker {pid} failed: status {status:#x}"
        );
    }
    children_cpu().saturating_sub(before)
}

/// The user + system CPU time of every reaped child (`RUSAGE_CHILDREN`).
fn children_cpu() -> Duration {
    // SAFETY: `rusage` is plain data; all zeroes is a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid out-pointer.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    assert_eq!(rc, 0, "getrusage: {}", io::Error::last_os_error());
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// The CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The load average (1, 5, 15 minutes).
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------------------------------
// sigring

/// One run through a sigring shared channel.
fn run_sigring(lanes: usize, workers: u32, work: Work) -> Sample {
    let (tx, rx) = shared::Builder::new(LANE_CAPACITY)
        .lanes(lanes)
        .build::<Msg>()
        .expect("shared channel");
    let start = Instant::now();
    let pids: Vec<_> = (0..workers)
        .map(|w| fork_worker(|| work.run(w, |msg| send_retry(&tx, msg))))
        .collect();
    let total = u64::from(workers) * u64::from(work.messages);
    let mut check = Check::new(workers);
    let cpu = thread_cpu();
    for _ in 0..total {
        check.take(rx.recv().expect("recv"));
    }
    let consumed = Consumed {
        cpu: thread_cpu() - cpu,
        done: Instant::now(),
        waits: rx.wakeups(),
        writes: rx.wake_writes(),
    };
    let workers_cpu = reap_all(&pids);
    check.finish(work.messages);
    assert_eq!(rx.lost(), 0, "values lost");
    sample(start, &consumed, workers_cpu, total)
}

/// Sends `msg` with `try_send`, waiting for room while the lane is full. Returns false if
/// the receiver is gone.
fn send_retry(tx: &Sender<Msg>, mut msg: Msg) -> bool {
    let mut attempt = 0u32;
    loop {
        match tx.try_send(msg) {
            Ok(()) => return true,
            Err(TrySendError::Full(back)) => msg = back,
            Err(TrySendError::Disconnected(_)) => return false,
        }
        wait_for_room(attempt);
        attempt = attempt.saturating_add(1);
    }
}

/// A worker's wait for room in its lane: a few short spins, then yielding the CPU (with
/// more processes than CPUs, spinning would keep the consumer off it).
fn wait_for_room(attempt: u32) {
    if attempt < 4 {
        for _ in 0..64 {
            std::hint::spin_loop();
        }
    } else {
        std::thread::yield_now();
    }
}

// ---------------------------------------------------------------------------------------
// Pipes and sockets through epoll

/// Makes one worker's connection: (the consumer's end, non-blocking; the worker's end,
/// blocking). Both close-on-exec.
fn connection(t: Transport) -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two ints for `pipe2` / `socketpair` to fill.
    let rc = unsafe {
        match t {
            Transport::Pipe => libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC),
            Transport::Unix | Transport::Seqpacket => {
                let kind = if t == Transport::Unix {
                    libc::SOCK_STREAM
                } else {
                    libc::SOCK_SEQPACKET
                };
                libc::socketpair(
                    libc::AF_UNIX,
                    kind | libc::SOCK_CLOEXEC,
                    0,
                    fds.as_mut_ptr(),
                )
            }
            Transport::Sigring => unreachable!("sigring has no fds per worker"),
        }
    };
    assert_eq!(rc, 0, "{}: {}", t.key(), io::Error::last_os_error());
    // SAFETY: both fds were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    set_nonblocking(read.as_raw_fd());
    (read, write)
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: `fd` is open; F_GETFL / F_SETFL take and return plain flags.
    let rc = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK)
    };
    assert_eq!(rc, 0, "fcntl: {}", io::Error::last_os_error());
}

/// An epoll instance, level-triggered, each fd registered with its index.
struct Epoll {
    fd: OwnedFd,
}

impl Epoll {
    fn new() -> Self {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", io::Error::last_os_error());
        // SAFETY: `fd` was just created and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Epoll { fd }
    }

    fn add(&self, fd: RawFd, index: usize) {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: index as u64,
        };
        // SAFETY: both fds are open; `ev` is a valid event.
        let rc = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(rc, 0, "epoll_ctl ADD: {}", io::Error::last_os_error());
    }

    fn remove(&self, fd: RawFd) {
        // SAFETY: both fds are open; DEL ignores the event.
        let rc = unsafe {
            libc::epoll_ctl(
                self.fd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(rc, 0, "epoll_ctl DEL: {}", io::Error::last_os_error());
    }

    /// Waits for readable fds; returns how many events were written to `events`.
    fn wait(&self, events: &mut [libc::epoll_event]) -> usize {
        loop {
            // SAFETY: `events` is valid for writes of `events.len()` events.
            let n = unsafe {
                libc::epoll_wait(
                    self.fd.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as libc::c_int,
                    -1,
                )
            };
            if n >= 0 {
                return n as usize;
            }
            let err = io::Error::last_os_error();
            assert_eq!(err.kind(), io::ErrorKind::Interrupted, "epoll_wait: {err}");
        }
    }
}

/// The consumer's end of one worker's connection, with the bytes of a message that a
/// stream read split (pipe, unix) or the batch buffers of `recvmmsg` (seqpacket).
struct Reader {
    fd: OwnedFd,
    buf: Vec<u8>,
    /// Bytes in `buf` not yet taken (a partial message, from a stream).
    fill: usize,
    mmsg: Option<MmsgBatch>,
}

impl Reader {
    fn new(fd: OwnedFd, t: Transport) -> Self {
        Reader {
            fd,
            buf: vec![0; READ_BUF],
            fill: 0,
            mmsg: (t == Transport::Seqpacket).then(MmsgBatch::new),
        }
    }

    /// One read of what the fd holds; checks the whole messages and returns how many, or
    /// `None` at end of file.
    fn drain(&mut self, check: &mut Check) -> Option<u64> {
        match &mut self.mmsg {
            Some(batch) => batch.recv(self.fd.as_raw_fd(), check),
            None => self.read(check),
        }
    }

    /// Pipe and stream: one `read` of up to `READ_BUF` bytes after any partial message.
    fn read(&mut self, check: &mut Check) -> Option<u64> {
        let room = &mut self.buf[self.fill..];
        // SAFETY: `room` is valid for writes of `room.len()` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), room.as_mut_ptr().cast(), room.len()) };
        match n {
            0 => return None,
            n if n < 0 => {
                let err = io::Error::last_os_error();
                let transient = matches!(
                    err.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                );
                assert!(transient, "read: {err}");
                return Some(0);
            }
            n => self.fill += n as usize,
        }
        let whole = self.fill / MSG * MSG;
        for chunk in self.buf[..whole].chunks_exact(MSG) {
            check.take(bytemuck::pod_read_unaligned(chunk));
        }
        self.buf.copy_within(whole..self.fill, 0);
        self.fill -= whole;
        Some((whole / MSG) as u64)
    }
}

/// The buffers of one `recvmmsg` call: `MMSG_BATCH` messages of one `Msg` each.
struct MmsgBatch {
    msgs: Box<[Msg]>,
    iovs: Box<[libc::iovec]>,
    hdrs: Box<[libc::mmsghdr]>,
}

impl MmsgBatch {
    fn new() -> Self {
        let mut msgs = vec![Msg::zeroed(); MMSG_BATCH].into_boxed_slice();
        let mut iovs: Box<[libc::iovec]> = msgs
            .iter_mut()
            .map(|m| libc::iovec {
                iov_base: (m as *mut Msg).cast(),
                iov_len: MSG,
            })
            .collect();
        let hdrs = iovs
            .iter_mut()
            .map(|iov| {
                // SAFETY: `mmsghdr` is plain data; all zeroes is a valid value.
                let mut h: libc::mmsghdr = unsafe { std::mem::zeroed() };
                h.msg_hdr.msg_iov = iov;
                h.msg_hdr.msg_iovlen = 1;
                h
            })
            .collect();
        // The pointers point into the boxes' heap memory, which moving the boxes keeps.
        MmsgBatch { msgs, iovs, hdrs }
    }

    /// One `recvmmsg` of up to `MMSG_BATCH` messages; `None` at end of file.
    fn recv(&mut self, fd: RawFd, check: &mut Check) -> Option<u64> {
        debug_assert_eq!(self.iovs.len(), self.hdrs.len());
        // SAFETY: every header points at one iovec of `self.iovs`, each at one `Msg` of
        // `self.msgs`: all live as long as `self`, and `self` is borrowed mutably.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                self.hdrs.as_mut_ptr(),
                self.hdrs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let err = io::Error::last_os_error();
            let transient = matches!(
                err.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
            );
            assert!(transient, "recvmmsg: {err}");
            return Some(0);
        }
        // At end of file every entry reads as an empty message: stop at the first one.
        let n = self.hdrs[..n as usize]
            .iter()
            .take_while(|h| h.msg_len != 0)
            .count();
        if n == 0 {
            return None;
        }
        for (h, msg) in self.hdrs[..n].iter().zip(self.msgs.iter()) {
            assert_eq!(
                h.msg_len as usize, MSG,
                "seqpacket message of {} bytes",
                h.msg_len
            );
            check.take(*msg);
        }
        Some(n as u64)
    }
}

/// One run through one connection per worker and one epoll.
fn run_epoll(t: Transport, workers: u32, work: Work) -> Sample {
    let (readers, writers): (Vec<_>, Vec<_>) = (0..workers).map(|_| connection(t)).unzip();
    let epoll = Epoll::new();
    let mut readers: Vec<_> = readers.into_iter().map(|fd| Reader::new(fd, t)).collect();
    for (i, r) in readers.iter().enumerate() {
        epoll.add(r.fd.as_raw_fd(), i);
    }
    let start = Instant::now();
    let mut pids = Vec::new();
    for (w, writer) in (0..workers).zip(writers) {
        let fd = writer.as_raw_fd();
        pids.push(fork_worker(|| {
            work.run(w, |msg| write_all(fd, bytemuck::bytes_of(&msg)))
        }));
        drop(writer); // the parent's copy: the worker holds its own
    }
    let total = u64::from(workers) * u64::from(work.messages);
    let mut check = Check::new(workers);
    let consumed = consume_epoll(&epoll, &mut readers, &mut check, total);
    let workers_cpu = reap_all(&pids);
    check.finish(work.messages);
    sample(start, &consumed, workers_cpu, total)
}

/// The consumer: waits on the epoll, drains each readable fd once per event, until
/// `total` messages have arrived.
fn consume_epoll(epoll: &Epoll, readers: &mut [Reader], check: &mut Check, total: u64) -> Consumed {
    let cpu = thread_cpu();
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; EPOLL_EVENTS];
    let (mut got, mut waits) = (0, 0);
    while got < total {
        let n = epoll.wait(&mut events);
        waits += 1;
        for ev in &events[..n] {
            let reader = &mut readers[ev.u64 as usize];
            match reader.drain(check) {
                Some(k) => got += k,
                None => epoll.remove(reader.fd.as_raw_fd()),
            }
        }
    }
    Consumed {
        cpu: thread_cpu() - cpu,
        done: Instant::now(),
        waits,
        writes: total,
    }
}

/// Writes all of `bytes`, retrying partial writes and EINTR.
fn write_all(fd: RawFd, mut bytes: &[u8]) -> bool {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return false;
        }
        bytes = &bytes[n as usize..];
    }
    true
}

// ---------------------------------------------------------------------------------------
// Running, and the tables

fn run(cfg: &Config, t: Transport, workers: u32) -> Sample {
    match t {
        Transport::Sigring => run_sigring(cfg.lanes, workers, cfg.work),
        _ => run_epoll(t, workers, cfg.work),
    }
}

/// Every sample, by (workers, transport), in repetition order.
type Samples = BTreeMap<(u32, Transport), Vec<Sample>>;

/// Runs every configuration `reps` times, interleaved.
fn run_all(cfg: &Config) -> Samples {
    let mut samples = Samples::new();
    for rep in 0..cfg.reps {
        for &n in &cfg.workers {
            for &t in &cfg.transports {
                let s = run(cfg, t, n);
                progress(&format!(
                    "rep {} N={n} {:<9} {:>6.2} M msg/s, consumer {:>6.1} ns/msg",
                    rep + 1,
                    t.key(),
                    s.rate / 1e6,
                    s.consumer_ns
                ));
                samples.entry((n, t)).or_default().push(s);
            }
        }
    }
    samples
}

/// The median; NaN for no samples.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn med(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    median(samples.iter().map(f).collect())
}

/// The median over repetitions of `f(sigring) / f(other)`, runs of one repetition paired.
fn paired_ratio(a: &[Sample], b: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
    median(a.iter().zip(b).map(|(x, y)| f(x) / f(y)).collect())
}

/// The table of medians, one row per (N, transport).
fn results_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| N | transport | throughput (M msg/s) | min–max | consumer CPU (ns/msg) \
         | workers CPU (ns/msg) | consumer waits / 1k msgs | worker writes / 1k msgs |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (&(n, t), s) in samples {
        let (lo, hi) = s.iter().fold((f64::MAX, 0f64), |(lo, hi), x| {
            (lo.min(x.rate), hi.max(x.rate))
        });
        out += &format!(
            "| {n} | {} | {} | {}–{} | {:.0} | {:.0} | {:.1} | {:.1} |\n",
            t.label(),
            fmt_num(med(s, |x| x.rate) / 1e6),
            fmt_num(lo / 1e6),
            fmt_num(hi / 1e6),
            med(s, |x| x.consumer_ns),
            med(s, |x| x.workers_ns),
            med(s, |x| x.waits_per_k),
            med(s, |x| x.writes_per_k),
        );
    }
    out
}

/// A number with about three significant digits.
fn fmt_num(v: f64) -> String {
    let digits = match v.abs() {
        a if a >= 100.0 => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        a if a >= 0.1 => 3,
        _ => 4,
    };
    format!("{v:.digits$}")
}

/// sigring against each other transport, per N: throughput ratio (above 1: sigring
/// ahead) and consumer-CPU ratio (below 1: sigring ahead).
fn ratio_table(samples: &Samples, workers: &[u32]) -> String {
    let mut out = String::from(
        "| N | against | throughput sigring/other (>1: sigring ahead) \
         | consumer CPU per msg sigring/other (<1: sigring ahead) |\n|---|---|---|---|\n",
    );
    for &n in workers {
        let Some(ours) = samples.get(&(n, Transport::Sigring)) else {
            continue;
        };
        for t in Transport::ALL.into_iter().skip(1) {
            let Some(theirs) = samples.get(&(n, t)) else {
                continue;
            };
            out += &format!(
                "| {n} | {} | {} | {} |\n",
                t.key(),
                fmt_num(paired_ratio(ours, theirs, |x| x.rate)),
                fmt_num(paired_ratio(ours, theirs, |x| x.consumer_ns)),
            );
        }
    }
    out
}

/// Every sample, with the run's settings, as JSON.
fn json(cfg: &Config, samples: &Samples, load: (&str, &str)) -> serde_json::Value {
    let runs: Vec<_> = samples
        .iter()
        .map(|(&(n, t), s)| {
            let field = |f: fn(&Sample) -> f64| s.iter().map(f).collect::<Vec<_>>();
            serde_json::json!({
                "workers": n,
                "transport": t.key(),
                "rate_msgs_per_s": field(|x| x.rate),
                "consumer_cpu_ns_per_msg": field(|x| x.consumer_ns),
                "workers_cpu_ns_per_msg": field(|x| x.workers_ns),
                "consumer_waits_per_1k_msgs": field(|x| x.waits_per_k),
                "worker_writes_per_1k_msgs": field(|x| x.writes_per_k),
            })
        })
        .collect();
    serde_json::json!({
        "reps": cfg.reps,
        "messages_per_worker": cfg.work.messages,
        "pace_us": cfg.work.pace.as_micros() as u64,
        "sigring_lanes": cfg.lanes,
        "sigring_lane_capacity": LANE_CAPACITY,
        "message_bytes": MSG,
        "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "load_start": load.0,
        "load_end": load.1,
        "runs": runs,
    })
}

/// A progress line on stderr (stdout gets the tables).
fn progress(msg: &str) {
    eprintln!("[processes] {msg}");
}

fn main() {
    let cfg = parse_args();
    let started = Instant::now();
    let load_start = loadavg();
    progress(&format!(
        "reps {}, {} messages per worker{}, workers {:?}, sigring lanes {}, load {load_start}",
        cfg.reps,
        cfg.work.messages,
        pace_note(cfg.work.pace),
        cfg.workers,
        cfg.lanes
    ));
    let samples = run_all(&cfg);
    let load_end = loadavg();
    println!(
        "## N worker processes -> one consumer\n\n{} repetitions, {} messages of {MSG} bytes \
         per worker{}, sigring with {} lanes of {LANE_CAPACITY}, {} CPUs, load average \
         {load_start} at the start, {load_end} at the end, {:.0} s.\n",
        cfg.reps,
        cfg.work.messages,
        pace_note(cfg.work.pace),
        cfg.lanes,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        started.elapsed().as_secs_f64()
    );
    println!("{}", results_table(&samples));
    println!("{}", ratio_table(&samples, &cfg.workers));
    if let Some(path) = &cfg.json {
        let value = json(&cfg, &samples, (&load_start, &load_end));
        let text = serde_json::to_string_pretty(&value).expect("json") + "\n";
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        progress(&format!("wrote {}", path.display()));
    }
}

/// How the workers were paced, for the headers.
fn pace_note(pace: Duration) -> String {
    if pace.is_zero() {
        " (as fast as they can)".into()
    } else {
        format!(" (each followed by a sleep of {} us)", pace.as_micros())
    }
}
