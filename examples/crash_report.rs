//! A supervisor and its forked workers: each worker reports the jobs it finishes, and a
//! worker that crashes reports the crash from its SIGSEGV/SIGBUS handler (on an alternate
//! signal stack) through a shared channel (`sigring::shared`) before it dies. The
//! supervisor prints every record, reaps a crashed worker and starts a new one.
//!
//! ```text
//! cargo run --release --example crash_report
//! ```
//!
//! Worker 1 reads from a page mapped without access on its second job, on purpose.

use std::io;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::time::Duration;

use bytemuck::{Pod, Zeroable};
use sigring::shared::{self, Sender};
use sigring::RecvTimeoutError;

/// What a worker reports: plain data, the same bytes in every process.
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
#[repr(C)]
struct Report {
    kind: u32,
    pid: u32,
    /// `DONE`: the job's number; `CRASH`: the signal.
    detail: u32,
    worker: u32,
    /// `CRASH`: the faulting address.
    addr: u64,
}

const DONE: u32 = 1;
const CRASH: u32 = 2;

const WORKERS: u32 = 3;
const JOBS: u32 = 4;

/// The worker's sender, for its fault handler (set in the child before the handler is
/// installed).
static TX: AtomicPtr<Sender<Report>> = AtomicPtr::new(std::ptr::null_mut());
/// The worker's number, for the handler.
static WORKER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// SIGSEGV/SIGBUS: one `try_send` of the crash record, then return. The handler was
/// installed with `SA_RESETHAND`, so the faulting instruction runs again under the default
/// action and the process dies of the signal, as it would have without us.
extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; `si_addr` is the
    // faulting address for SIGSEGV and SIGBUS.
    let addr = unsafe { (*info).si_addr() } as u64;
    // SAFETY: set before the handler was installed, never freed in this process.
    if let Some(tx) = unsafe { TX.load(Ordering::Relaxed).as_ref() } {
        let _ = tx.try_send(Report {
            kind: CRASH,
            // SAFETY: `getpid` is async-signal-safe and cannot fail.
            pid: unsafe { libc::getpid() } as u32,
            detail: signal as u32,
            worker: WORKER.load(Ordering::Relaxed),
            addr,
        });
    }
}

/// An `SA_SIGINFO` handler.
type FaultHandler = extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// In the worker: an alternate stack (a crash may come from a stack overflow) and the
/// fault handlers.
fn install_fault_handlers() -> io::Result<()> {
    const STACK: usize = 64 * 1024;
    let stack = Box::leak(vec![0u8; STACK].into_boxed_slice());
    let ss = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: STACK,
    };
    // SAFETY: `ss` describes memory that lives for the rest of the process.
    if unsafe { libc::sigaltstack(&ss, std::ptr::null_mut()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: a zeroed sigaction is valid; we set the handler (an SA_SIGINFO function of
        // the right type), the flags and an empty mask.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            let handler: FaultHandler = on_fault;
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(signal, &sa, std::ptr::null_mut()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// Reads from a page mapped with no access: the kernel answers with SIGSEGV.
fn crash() {
    // SAFETY: a new anonymous mapping of one page, no existing memory touched.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: deliberately not sound: the page is ours but unreadable, which is the point.
    // The volatile read makes the compiler emit the load; it faults and the process dies.
    let _ = unsafe { std::ptr::read_volatile(page.cast::<u64>()) };
}

/// Forks worker `worker`: it does its jobs, reporting each, and exits (worker 1, the first
/// time, crashes on its second job).
fn start_worker(tx: &Sender<Report>, worker: u32, crashes: bool) -> libc::pid_t {
    // SAFETY: the child sets up its handlers, works and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    if pid != 0 {
        return pid;
    }
    WORKER.store(worker, Ordering::Relaxed);
    TX.store(Box::leak(Box::new(tx.clone())), Ordering::Relaxed);
    if install_fault_handlers().is_err() {
        // SAFETY: leaving the child.
        unsafe { libc::_exit(2) };
    }
    for job in 0..JOBS {
        std::thread::sleep(Duration::from_millis(30));
        if crashes && job == 1 {
            crash();
        }
        let done = Report {
            kind: DONE,
            pid: std::process::id(),
            detail: job,
            worker,
            addr: 0,
        };
        while tx.try_send(done).is_err() {
            std::thread::yield_now();
        }
    }
    // SAFETY: leaving the child without the parent's atexit handlers.
    unsafe { libc::_exit(0) }
}

fn main() -> io::Result<()> {
    let (tx, rx) = shared::Builder::new(64).lanes(8).build::<Report>()?;
    let mut running: Vec<(u32, libc::pid_t)> = (0..WORKERS)
        .map(|w| (w, start_worker(&tx, w, w == 1)))
        .collect();
    println!(
        "supervisor {}: started {WORKERS} workers",
        std::process::id()
    );
    let mut finished = 0;
    while finished < WORKERS {
        let report = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(report) => report,
            Err(RecvTimeoutError::Timeout) => {
                // Workers that finished all their jobs exit: reap them.
                running.retain(|&(w, pid)| {
                    let mut status = 0;
                    // SAFETY: our own child; WNOHANG never blocks.
                    let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid;
                    if done {
                        println!("worker {w} (pid {pid}) exited with status {}", status >> 8);
                        finished += 1;
                    }
                    !done
                });
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => {
                unreachable!("a shared receiver stays connected")
            }
        };
        match report.kind {
            DONE => println!(
                "worker {} (pid {}) finished job {}",
                report.worker, report.pid, report.detail
            ),
            CRASH => {
                let pid = report.pid as libc::pid_t;
                println!(
                    "worker {} (pid {pid}) crashed: signal {} at address {:#x}",
                    report.worker, report.detail, report.addr
                );
                let mut status = 0;
                // SAFETY: our own child, which is dying of the signal.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                if libc::WIFSIGNALED(status) {
                    println!(
                        "reaped pid {pid}: killed by signal {}",
                        libc::WTERMSIG(status)
                    );
                }
                let replacement = start_worker(&tx, report.worker, false);
                println!("restarted worker {} as pid {replacement}", report.worker);
                running.retain(|&(_, p)| p != pid);
                running.push((report.worker, replacement));
            }
            other => println!("unknown report kind {other}"),
        }
    }
    println!(
        "all workers done; values lost to dead senders: {}, full rejections: {}",
        rx.lost(),
        rx.full_rejections()
    );
    Ok(())
}
