//! A `SIGCHLD` reaper: the classic supervisor loop with the handler reduced to a note.
//!
//! Spawns many short-lived children (this same program, run with `--child`) that exit with
//! random codes or die from a signal. `SIGCHLD` is forwarded into a channel; the main loop,
//! woken by the channel, reaps with `waitpid(-1, WNOHANG)` until nothing is left, because
//! notifications coalesce (one `SIGCHLD` may stand for many exits). It also reaps once
//! right after `forward` is installed, for children that exited before. The bookkeeping
//! (pid -> job) lives in the main loop only: no handler ever touches it.
//!
//! ```text
//! cargo run --example reaper -- [JOBS] [--seed N] [--linger]
//! ```
//!
//! Prints one `spawn` line per child (what it was told to do) and one `reaped` line per
//! child (what `waitpid` reported), then a summary, and checks that `waitpid` finds no child
//! left. With `--linger` it then waits for its stdin to close before exiting, so a test can
//! look for zombies while it is still alive. Exits 0 when every child was reaped with the
//! status it was told to end with.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read, Write};
use std::process::{Command, ExitCode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use libc::{c_int, pid_t};
use sigring::signal::{self, CommandExt as _};

/// How a child is told to end, and how `waitpid` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl fmt::Display for End {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            End::Exit(code) => write!(f, "exit:{code}"),
            End::Signal(sig) => write!(f, "signal:{sig}"),
        }
    }
}

/// One child, as the main loop remembers it.
struct Job {
    index: usize,
    end: End,
}

/// xorshift64*: enough randomness for exit codes and delays, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Signals a child may be told to die from: all end the process without a core dump.
const DEATHS: [c_int; 4] = [libc::SIGTERM, libc::SIGKILL, libc::SIGHUP, libc::SIGUSR1];

struct Options {
    jobs: usize,
    seed: u64,
    linger: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        return child(&args[1..]);
    }
    let options = match parse(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("reaper: {message}\nusage: reaper [JOBS] [--seed N] [--linger]");
            return ExitCode::from(2);
        }
    };
    match supervise(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("reaper: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        jobs: 40,
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()),
        linger: false,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--linger" => options.linger = true,
            "--seed" => {
                let seed = args.next().ok_or("--seed needs a number")?;
                options.seed = seed.parse().map_err(|e| format!("--seed {seed}: {e}"))?;
            }
            jobs => {
                options.jobs = jobs.parse().map_err(|e| format!("JOBS {jobs}: {e}"))?;
            }
        }
    }
    options.seed |= 1; // xorshift must not start at 0
    Ok(options)
}

/// The child side: `--child exit CODE DELAY_MS` or `--child signal SIG DELAY_MS`.
fn child(args: &[String]) -> ExitCode {
    let number = |i: usize| args.get(i).and_then(|s| s.parse::<i64>().ok());
    let (Some(what), Some(delay)) = (number(1), number(2)) else {
        eprintln!("reaper --child: expected `exit|signal N DELAY_MS`");
        return ExitCode::from(250);
    };
    std::thread::sleep(Duration::from_millis(delay.max(0) as u64));
    match args[0].as_str() {
        "exit" => std::process::exit(what as i32),
        "signal" => {
            // The parent gave us default dispositions (`default_all_signals`), so this ends
            // the process with that signal.
            // SAFETY: `raise` has no preconditions.
            unsafe { libc::raise(what as c_int) };
            ExitCode::from(251) // only if the signal did not end us
        }
        _ => ExitCode::from(252),
    }
}

/// The supervisor's state. Only the main loop touches it; the signal handler only queues
/// a `SigInfo`.
struct Supervisor<W: Write> {
    exe: std::path::PathBuf,
    rng: Rng,
    out: W,
    /// pid -> job, for every child spawned and not yet reaped.
    running: HashMap<pid_t, Job>,
    reaped: usize,
    matched: usize,
}

impl<W: Write> Supervisor<W> {
    /// Spawns job `index`, told to end at random after `delay_ms`.
    fn spawn(&mut self, index: usize, delay_ms: u64) -> io::Result<()> {
        let end = if self.rng.below(5) == 0 {
            End::Signal(DEATHS[self.rng.below(DEATHS.len() as u64) as usize])
        } else {
            End::Exit(self.rng.below(256) as c_int)
        };
        let (kind, number) = match end {
            End::Exit(code) => ("exit", code),
            End::Signal(sig) => ("signal", sig),
        };
        // The child starts with default dispositions and an empty mask, whatever this
        // process ignores or handles.
        let child = Command::new(&self.exe)
            .args(["--child", kind, &number.to_string(), &delay_ms.to_string()])
            .default_all_signals()
            .spawn()?;
        // Only this thread reaps, and only after this insert: the pid cannot be reported
        // (or reused) before it is in the table.
        let pid = child.id() as pid_t;
        self.running.insert(pid, Job { index, end });
        writeln!(
            self.out,
            "spawn job={index} pid={pid} end={end} delay_ms={delay_ms}"
        )
    }

    /// Reaps every child that has ended, until `waitpid` says the rest still run (0) or
    /// there is none (`ECHILD`). One notification may stand for many exits.
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
                continue; // stopped or continued: still ours to wait for
            };
            self.reaped += 1;
            match self.running.remove(&pid) {
                Some(job) => {
                    let verdict = if job.end == end {
                        self.matched += 1;
                        "ok"
                    } else {
                        "MISMATCH"
                    };
                    writeln!(
                        self.out,
                        "reaped job={} pid={pid} expected={} got={end} {verdict}",
                        job.index, job.end
                    )?;
                }
                None => writeln!(self.out, "reaped unknown pid={pid} got={end}")?,
            }
        }
    }
}

/// Runs the jobs; `Ok(true)` if every child ended as told and none is left.
fn supervise(options: &Options) -> io::Result<bool> {
    let mut sup = Supervisor {
        exe: std::env::current_exe()?,
        rng: Rng(options.seed),
        out: io::stdout().lock(),
        running: HashMap::new(),
        reaped: 0,
        matched: 0,
    };
    writeln!(
        sup.out,
        "reaper pid={} jobs={} seed={}",
        std::process::id(),
        options.jobs,
        options.seed
    )?;

    // A first batch ends before SIGCHLD is forwarded: their SIGCHLD came and went, so only
    // the reap right after `forward` finds them.
    let early = options.jobs / 4;
    for index in 0..early {
        sup.spawn(index, 0)?;
    }
    std::thread::sleep(Duration::from_millis(50));

    // A small channel on purpose: a burst of exits may overflow it, which is fine, since
    // one queued notification already means "reap everything that has ended".
    let (tx, rx) = sigring::channel(8)?;
    let forwarding = signal::forward(&[libc::SIGCHLD], &tx)?;
    sup.reap()?;
    writeln!(
        sup.out,
        "initial reap: {} of {early} early children reaped",
        early - sup.running.len()
    )?;

    // The rest, with random short lifetimes, so exits overlap and notifications coalesce.
    for index in early..options.jobs {
        let delay = sup.rng.below(40);
        sup.spawn(index, delay)?;
    }

    let mut notifications = 0u64;
    while !sup.running.is_empty() {
        // Sleeps in poll(2) until a SIGCHLD is queued; `forwarding` holds a sender, so the
        // channel cannot disconnect here.
        let info = rx
            .recv()
            .map_err(|_| io::Error::other("SIGCHLD channel closed"))?;
        debug_assert_eq!(info.signal, libc::SIGCHLD);
        notifications += 1;
        sup.reap()?;
    }
    notifications += rx.try_iter().count() as u64;

    // Nothing may be left: no zombie, no running child.
    let mut status = 0;
    // SAFETY: `status` is a valid out-pointer.
    let rc = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
    let errno = io::Error::last_os_error().raw_os_error();
    let none_left = rc == -1 && errno == Some(libc::ECHILD);
    if none_left {
        writeln!(sup.out, "no children left (waitpid: ECHILD)")?;
    } else {
        writeln!(sup.out, "children left: waitpid returned {rc}")?;
    }
    writeln!(
        sup.out,
        "summary jobs={} reaped={} matched={} notifications={notifications} \
         dropped_notifications={} wakeups={}",
        options.jobs,
        sup.reaped,
        sup.matched,
        forwarding.lost(libc::SIGCHLD),
        rx.wakeups()
    )?;

    if options.linger {
        writeln!(sup.out, "lingering until stdin closes")?;
        sup.out.flush()?;
        io::stdin().read_to_end(&mut Vec::new())?;
    }
    sup.out.flush()?;
    Ok(none_left && sup.matched == options.jobs && sup.reaped == options.jobs)
}
