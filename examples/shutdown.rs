//! Graceful shutdown on `SIGTERM` or `SIGINT`.
//!
//! Worker threads, spawned with both signals blocked so the signals can only land on the
//! main thread, run jobs. The main thread sleeps in `recv` (in poll(2), using no CPU) until
//! a signal is forwarded into its channel; then it stops each worker through the worker's
//! own channel, joins them, prints what each finished, and exits 0.
//!
//! ```text
//! cargo run --example shutdown -- [--workers N]
//! kill -TERM <pid>      # or press Ctrl-C
//! ```
//!
//! It runs until signalled. At exit it prints the CPU time the main thread used while it
//! waited (`CLOCK_THREAD_CPUTIME_ID`) and how often it was woken.

use std::io::{self, Write};
use std::process::ExitCode;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sigring::signal::{self, Origin};
use sigring::RecvTimeoutError;

/// What the main thread tells a worker.
enum Control {
    Stop,
}

/// How long one job takes (simulated by waiting on the control channel, so a stop request
/// interrupts it at once).
const JOB: Duration = Duration::from_millis(20);

fn main() -> ExitCode {
    let mut workers = 3usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|n| n.parse::<usize>())) {
            ("--workers", Some(Ok(n))) if n > 0 => workers = n,
            _ => {
                eprintln!("usage: shutdown [--workers N]  (N >= 1)");
                return ExitCode::from(2);
            }
        }
    }
    match run(workers) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(count: usize) -> io::Result<()> {
    let mut out = io::stdout().lock();

    let (tx, rx) = sigring::channel(4)?;
    let forwarding = signal::forward(&[libc::SIGTERM, libc::SIGINT], &tx)?;

    // Each worker gets its own control channel, and starts with the forwarded signals
    // blocked: a process-directed SIGTERM can then only be delivered to this thread.
    let mut workers: Vec<(sigring::Sender<Control>, JoinHandle<u64>)> = Vec::new();
    for id in 0..count {
        let (ctl_tx, ctl_rx) = sigring::channel::<Control>(1)?;
        let builder = std::thread::Builder::new().name(format!("worker-{id}"));
        let handle = signal::spawn_blocked_with(builder, forwarding.signals(), move || {
            let mut finished = 0u64;
            let mut checksum = id as u64;
            loop {
                match ctl_rx.recv_timeout(JOB) {
                    Ok(Control::Stop) | Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        // The job: a little arithmetic, standing in for real work.
                        checksum = checksum.wrapping_mul(6364136223846793005).wrapping_add(1);
                        finished += 1;
                    }
                }
            }
            std::hint::black_box(checksum);
            finished
        })?;
        workers.push((ctl_tx, handle));
    }

    writeln!(out, "ready pid={} workers={count}", std::process::id())?;
    out.flush()?;

    let idle_since = Instant::now();
    let cpu_before = thread_cpu_time()?;
    // The main thread sleeps here, in poll(2), until a handler queues a signal.
    let info = rx
        .recv()
        .map_err(|_| io::Error::other("signal channel closed"))?;
    let cpu_idle = thread_cpu_time()?.saturating_sub(cpu_before);
    let waited = idle_since.elapsed();

    let origin = match info.origin() {
        Origin::Kill => "kill",
        Origin::Queue => "sigqueue",
        Origin::Kernel => "kernel",
        Origin::Timer => "timer",
        _ => "other",
    };
    writeln!(
        out,
        "received {} ({}) from pid={} uid={} via {origin}",
        info.name(),
        info.signal,
        info.pid,
        info.uid
    )?;

    // Stop every worker through its own channel, then join them.
    for (ctl, _) in &workers {
        if ctl.try_send(Control::Stop).is_err() {
            // Capacity 1 and sent once: cannot be full; a gone worker has stopped anyway.
            writeln!(out, "a worker had already stopped")?;
        }
    }
    for (id, (_, handle)) in workers.into_iter().enumerate() {
        let finished = handle
            .join()
            .map_err(|_| io::Error::other(format!("worker {id} panicked")))?;
        writeln!(out, "worker {id} finished {finished} jobs")?;
    }

    writeln!(
        out,
        "main thread idle: waited_ms={} cpu_us={} wakeups={}",
        waited.as_millis(),
        cpu_idle.as_micros(),
        rx.wakeups()
    )?;
    writeln!(out, "clean exit")?;
    out.flush()
}

/// CPU time used so far by the calling thread.
fn thread_cpu_time() -> io::Result<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; the clock id is a constant.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}
