//! A pre-fork supervisor: worker processes made with `fork` (no `exec`), and signals.
//!
//! ```text
//! cargo run --example workers -- [--workers N] [--run-for SECS]
//! kill -TERM <supervisor pid>      # or press Ctrl-C
//! ```
//!
//! The supervisor forwards `SIGINT`, `SIGTERM` and `SIGCHLD` into a `static`
//! [`StaticChannel`] whose receiver it creates **before** forking, so the channel is the
//! supervisor's: in every worker the inherited handle is disconnected (a worker's send
//! returns `Disconnected`, and nothing it does reaches the supervisor's wake-up fd). Then it
//! forks N workers and sleeps in `recv` (in `poll(2)`, no CPU) until a signal arrives.
//!
//! * **Shutdown.** On `SIGINT` or `SIGTERM` the supervisor sends `SIGTERM` to every worker,
//!   reaps them as their `SIGCHLD`s arrive (`waitpid(-1, WNOHANG)` until nothing is left:
//!   notifications coalesce), and exits 0 once all are reaped and `waitpid` finds no child
//!   at all (no zombie). A second `SIGINT`/`SIGTERM` during the shutdown sends `SIGKILL` to
//!   the workers left.
//! * **Workers.** Each worker makes its own channel after the fork and forwards its own
//!   `SIGTERM` into it (registering a new action in the inherited registry is fine). It
//!   pretends to work (a `recv_timeout` loop, a heartbeat line every few seconds) and exits
//!   0 on `SIGTERM`; it exits 1 if it finds the supervisor gone (`getppid` changed: it was
//!   killed without a chance to stop its workers), so no worker outlives it.
//! * **Ctrl-C** goes to the whole process group, workers included. A worker leaves `SIGINT`
//!   to the supervisor: the actions it inherited for `SIGINT` do nothing in a forked child
//!   (`forward`'s action checks `getpid`, and its channel is disconnected there anyway), so
//!   the one shutdown path is the supervisor's `SIGTERM`, and a worker is never stopped
//!   twice.
//! * **No lost `SIGTERM`.** Between `fork` and the worker's own `forward`, a `SIGTERM`
//!   would only reach the inherited (do-nothing) action. So the supervisor blocks `SIGINT`
//!   and `SIGTERM` around each `fork`: the worker unblocks them once its forwarding is in
//!   place (a pending one is then delivered into its own channel), the supervisor right
//!   after the `fork`.
//! * **Why the workers may do anything.** The supervisor forks while it is still
//!   single-threaded, so a worker is as free as a fresh process (allocate, register, print).
//!   It flushes stdout before each `fork` so no buffered line is printed twice.
//!
//! `--run-for SECS`: after SECS the supervisor sends itself `SIGTERM`, for unattended runs.
//! The transcript ends with the reaped workers, a zombie check and the channel's wake-up
//! accounting: a stray wake-up is a sleep in `recv` that ended with no value, which a worker
//! writing the supervisor's fd would cause.

use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use libc::{c_int, pid_t};
use sigring::signal::{self, BlockGuard, SigInfo};
use sigring::{RecvTimeoutError, StaticChannel, TrySendError};

/// The supervisor's signals. Its receiver is created before the first `fork`.
static EVENTS: StaticChannel<SigInfo, 32> = StaticChannel::new();

/// One job of pretend work (a wait on the worker's own channel, so `SIGTERM` ends it at once).
const JOB: Duration = Duration::from_millis(50);
/// How often a worker prints that it is alive.
const HEARTBEAT: Duration = Duration::from_secs(5);

struct Options {
    workers: usize,
    run_for: Option<Duration>,
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("workers: {message}\nusage: workers [--workers N] [--run-for SECS]");
            return ExitCode::from(2);
        }
    };
    match supervise(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("workers: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut options = Options {
        workers: 3,
        run_for: None,
    };
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--workers" => match value.parse::<usize>() {
                Ok(n) if (1..=1000).contains(&n) => options.workers = n,
                _ => return Err(format!("--workers {value}: expected 1 to 1000")),
            },
            "--run-for" => match value.parse::<f64>() {
                Ok(secs) if secs.is_finite() && secs > 0.0 && secs < 1e6 => {
                    options.run_for = Some(Duration::from_secs_f64(secs));
                }
                _ => return Err(format!("--run-for {value}: expected seconds > 0")),
            },
            _ => return Err(format!("unknown argument {arg}")),
        }
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------
// Workers
// ---------------------------------------------------------------------------------------

/// Forks worker `index`; returns its pid. Never returns in the worker.
fn spawn_worker(index: usize, supervisor: pid_t) -> io::Result<pid_t> {
    // A line still buffered would be printed by both processes.
    io::stdout().flush()?;
    // Held until the worker forwards SIGTERM itself (see the module docs).
    let held = signal::block(&[libc::SIGINT, libc::SIGTERM])?;
    // SAFETY: the supervisor is single-threaded here (it starts no thread at all), so the
    // child may run any code; it leaves through `process::exit`, never returning into the
    // supervisor's loop.
    let pid = unsafe { libc::fork() };
    match pid {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            let code = worker(index, supervisor, held);
            let _ = io::stdout().flush();
            std::process::exit(code)
        }
        pid => Ok(pid), // `held` is dropped here: the supervisor takes signals again
    }
}

/// A worker's life: its own channel and `SIGTERM`, pretend work until `SIGTERM`.
fn worker(index: usize, supervisor: pid_t, held: BlockGuard) -> i32 {
    // SAFETY: `getpid` has no preconditions.
    let me = unsafe { libc::getpid() };
    // A channel of its own, made after the fork: an ordinary channel of this process.
    let (tx, rx) = match sigring::channel::<SigInfo>(4) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("worker {index} pid={me}: channel: {e}");
            return 1;
        }
    };
    let _forwarding = match signal::forward(&[libc::SIGTERM], &tx) {
        Ok(forwarding) => forwarding,
        Err(e) => {
            eprintln!("worker {index} pid={me}: forward: {e}");
            return 1;
        }
    };
    // SIGTERM now lands in our own channel: let it (and any that came meanwhile) in.
    drop(held);

    // The supervisor's channel, inherited: disconnected here.
    let note = SigInfo {
        signal: 0,
        code: 0,
        pid: me,
        uid: 0,
        status: 0,
        value: 0,
    };
    let inherited = match EVENTS.try_send(note) {
        Err(TrySendError::Disconnected(_)) => "Disconnected",
        Err(TrySendError::Full(_)) => "Full (unexpected)",
        Ok(()) => "Ok (unexpected)",
    };
    println!(
        "worker {index} pid={me}: ready (own channel, SIGTERM forwarded; SIGINT left to the \
         supervisor; the supervisor's channel here: {inherited})"
    );

    let started = Instant::now();
    let mut next_heartbeat = started + HEARTBEAT;
    let mut jobs = 0u64;
    let mut checksum = index as u64;
    loop {
        match rx.recv_timeout(JOB) {
            Ok(info) => {
                println!(
                    "worker {index} pid={me}: {} from pid={} after {jobs} jobs, exiting 0",
                    info.name(),
                    info.pid
                );
                std::hint::black_box(checksum);
                return 0;
            }
            Err(RecvTimeoutError::Timeout) => {
                // SAFETY: `getppid` has no preconditions.
                if unsafe { libc::getppid() } != supervisor {
                    // Killed without a chance to stop us (SIGKILL): no orphans.
                    println!("worker {index} pid={me}: the supervisor is gone, exiting 1");
                    return 1;
                }
                // The job: a little arithmetic, standing in for real work.
                checksum = checksum.wrapping_mul(6364136223846793005).wrapping_add(1);
                jobs += 1;
                if Instant::now() >= next_heartbeat {
                    println!("worker {index} pid={me}: heartbeat, {jobs} jobs");
                    next_heartbeat += HEARTBEAT;
                }
            }
            // `_forwarding` holds a sender for as long as this loop runs.
            Err(RecvTimeoutError::Disconnected) => return 1,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The supervisor
// ---------------------------------------------------------------------------------------

/// How a worker ended, as `waitpid` reports it.
enum End {
    Exit(c_int),
    Signal(c_int),
}

impl End {
    fn from_wait_status(status: c_int) -> Option<End> {
        if libc::WIFEXITED(status) {
            Some(End::Exit(libc::WEXITSTATUS(status)))
        } else if libc::WIFSIGNALED(status) {
            Some(End::Signal(libc::WTERMSIG(status)))
        } else {
            None // stopped or continued: not an end
        }
    }
}

struct Worker {
    index: usize,
    pid: pid_t,
}

/// The supervisor's state; only its loop touches it (the handlers only queue `SigInfo`s).
struct Supervisor {
    me: pid_t,
    /// Workers started and not yet reaped.
    running: Vec<Worker>,
    /// Set by the first SIGINT/SIGTERM; a second one escalates to SIGKILL.
    shutting_down: bool,
    escalated: bool,
    reaped_clean: usize,
    reaped_other: usize,
}

impl Supervisor {
    /// A SIGINT or SIGTERM: stop every worker (or, the second time, kill them).
    fn shutdown(&mut self, info: &SigInfo) {
        let from = if info.pid == self.me {
            " (self, --run-for)".to_string()
        } else {
            String::new()
        };
        let signal = if self.shutting_down {
            if self.escalated {
                println!(
                    "{} from pid={}{from}: already killing",
                    info.name(),
                    info.pid
                );
                return;
            }
            self.escalated = true;
            libc::SIGKILL
        } else {
            self.shutting_down = true;
            libc::SIGTERM
        };
        println!(
            "shutdown: {} from pid={}{from}; sending {} to {} worker(s)",
            info.name(),
            info.pid,
            signal::name(signal),
            self.running.len()
        );
        for w in &self.running {
            // A worker not yet reaped keeps its pid (a zombie at worst), so this cannot
            // hit another process.
            // SAFETY: `kill` has no memory preconditions.
            if unsafe { libc::kill(w.pid, signal) } != 0 {
                println!(
                    "kill worker {} pid={}: {}",
                    w.index,
                    w.pid,
                    io::Error::last_os_error()
                );
            }
        }
    }

    /// A SIGCHLD: reap every worker that ended, until `waitpid` says the rest still run or
    /// no child is left. One notification may stand for several exits.
    fn reap(&mut self) -> io::Result<()> {
        loop {
            let mut status: c_int = 0;
            // SAFETY: `status` is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid == 0 {
                return Ok(());
            }
            if pid < 0 {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EINTR) => continue,
                    Some(libc::ECHILD) => return Ok(()),
                    _ => return Err(e),
                }
            }
            let Some(end) = End::from_wait_status(status) else {
                continue;
            };
            let Some(at) = self.running.iter().position(|w| w.pid == pid) else {
                println!("reaped unknown pid={pid}");
                continue;
            };
            let w = self.running.swap_remove(at);
            let (how, clean) = match end {
                End::Exit(code) => (format!("exit:{code}"), code == 0 && self.shutting_down),
                End::Signal(sig) => (
                    format!("signal:{}", signal::name(sig)),
                    self.shutting_down
                        && (sig == libc::SIGTERM || (sig == libc::SIGKILL && self.escalated)),
                ),
            };
            if clean {
                self.reaped_clean += 1;
                println!("reaped worker {} pid={pid} {how}", w.index);
            } else {
                self.reaped_other += 1;
                println!("reaped worker {} pid={pid} {how} UNEXPECTED", w.index);
            }
        }
    }
}

/// What the channel's wake-ups came to.
#[derive(Default)]
struct Wakeups {
    events: u64,
    /// Sleeps in `recv` that ended without a value.
    stray: u64,
}

impl Wakeups {
    /// Accounts one `recv*` call that went from `before` to `after` wake-ups.
    fn record(&mut self, before: u64, after: u64, got_value: bool) {
        let woken = after - before;
        self.stray += if got_value {
            woken.saturating_sub(1)
        } else {
            woken
        };
        self.events += u64::from(got_value);
    }
}

/// Runs the workers until a shutdown; `Ok(true)` if every worker ended as told and no
/// child is left.
fn supervise(options: &Options) -> io::Result<bool> {
    // SAFETY: `getpid` has no preconditions.
    let me = unsafe { libc::getpid() };
    // The receiver first: from here on the channel is this process's, and a forked copy of
    // it is disconnected.
    let rx = EVENTS.receiver()?;
    let forwarding = signal::forward(
        &[libc::SIGINT, libc::SIGTERM, libc::SIGCHLD],
        &EVENTS.sender(),
    )?;
    let run_for = options
        .run_for
        .map_or("until signalled".to_string(), |d| format!("{d:?}"));
    println!(
        "supervisor pid={me} workers={} run-for={run_for}",
        options.workers
    );

    let mut sup = Supervisor {
        me,
        running: Vec::with_capacity(options.workers),
        shutting_down: false,
        escalated: false,
        reaped_clean: 0,
        reaped_other: 0,
    };
    for index in 0..options.workers {
        let pid = spawn_worker(index, me)?;
        sup.running.push(Worker { index, pid });
        println!("started worker {index} pid={pid}");
    }

    let started = Instant::now();
    let deadline = options.run_for.and_then(|d| started.checked_add(d));
    let mut self_terminated = false;
    let mut wakeups = Wakeups::default();
    let (mut sigints, mut sigterms, mut sigchlds) = (0u64, 0u64, 0u64);
    while !sup.running.is_empty() {
        let before = rx.wakeups();
        // The supervisor sleeps here, in poll(2), until a handler queues a signal.
        let received = match deadline {
            Some(d) if !self_terminated => rx.recv_deadline(d),
            _ => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        wakeups.record(before, rx.wakeups(), received.is_ok());
        let info = match received {
            Ok(info) => info,
            Err(RecvTimeoutError::Timeout) => {
                // --run-for is up: the same path as a `kill -TERM` from outside.
                self_terminated = true;
                // SAFETY: `kill` to ourselves; no memory preconditions.
                unsafe { libc::kill(me, libc::SIGTERM) };
                continue;
            }
            // Not expected: the static itself is a sender, so its receiver never
            // disconnects.
            Err(RecvTimeoutError::Disconnected) => {
                return Err(io::Error::other("the EVENTS channel disconnected"));
            }
        };
        match info.signal {
            libc::SIGINT | libc::SIGTERM => {
                if info.signal == libc::SIGINT {
                    sigints += 1;
                } else {
                    sigterms += 1;
                }
                sup.shutdown(&info);
            }
            libc::SIGCHLD => {
                sigchlds += 1;
                sup.reap()?;
                if !sup.shutting_down && sup.running.is_empty() {
                    println!("every worker ended on its own: nothing left to supervise");
                }
            }
            _ => {}
        }
    }

    // Nothing may be left: no zombie, no running child.
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let rc = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    let none_left = rc == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD);
    println!(
        "all {} workers reaped: {} as told, {} otherwise",
        options.workers, sup.reaped_clean, sup.reaped_other
    );
    if none_left {
        println!("no zombies (waitpid: ECHILD)");
    } else {
        println!("children left: waitpid returned {rc}");
    }
    println!(
        "events: {} (SIGINT {sigints}, SIGTERM {sigterms}, SIGCHLD {sigchlds}); lost to a \
         full channel: {}; recv wake-ups: {}, wake writes: {}",
        wakeups.events,
        forwarding.lost(libc::SIGINT)
            + forwarding.lost(libc::SIGTERM)
            + forwarding.lost(libc::SIGCHLD),
        rx.wakeups(),
        rx.wake_writes()
    );
    println!("stray wake-ups: {}", wakeups.stray);
    println!("ran for {:?}", started.elapsed());
    io::stdout().flush()?;
    Ok(none_left && sup.reaped_other == 0 && sup.shutting_down)
}
