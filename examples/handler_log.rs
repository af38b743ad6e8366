//! Logging from signal handlers and destructors with `sigring::log`.
//!
//! ```text
//! cargo run --example handler_log --features log            # lines go to stderr
//! cargo run --example handler_log --features log -- app.log # or to a file
//! ```
//!
//! The main thread logs in a loop while a helper thread fires `SIGUSR1` at it, and a child
//! process exits (`SIGCHLD`). Both handlers call `log::warn!` directly: with an ordinary
//! logger that could deadlock (the handler may interrupt the main thread while it holds
//! the logger's lock) or corrupt the allocator (formatting into a `String`). With
//! `sigring::log` the handler only formats into a buffer on its own stack and hands it to
//! a lock-free channel; a writer thread does the I/O. Values whose `Drop` logs are
//! dropped along the way, and at the end dropping the guard writes every record.
//!
//! Handlers are installed with `libc::sigaction` to show that nothing else is needed.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use log::LevelFilter;

static SIGNALS: AtomicU64 = AtomicU64::new(0);

/// Runs on whatever thread the signal interrupts, possibly in the middle of a `log::info!`
/// call on that thread. Everything here is async-signal-safe: an atomic add, and `log!`
/// with an integer argument (see `sigring::log` for what that does).
extern "C" fn on_signal(signo: libc::c_int) {
    let n = SIGNALS.fetch_add(1, Ordering::Relaxed) + 1;
    let name = match signo {
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGCHLD => "SIGCHLD",
        _ => "another signal",
    };
    log::warn!(target: "handler", "caught {name} (signal #{n} so far)");
}

fn install(signo: libc::c_int) -> io::Result<()> {
    // SAFETY: a zeroed `sigaction` is valid (empty mask, no flags) and is filled in before
    // use; `on_signal` has the `sa_handler` signature.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(signo, &sa, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Something that logs when it goes away, as connection pools, temp files and locks do.
struct Connection(u32);

impl Drop for Connection {
    fn drop(&mut self) {
        log::info!(target: "drop", "closing connection {}", self.0);
    }
}

fn main() -> io::Result<()> {
    let builder = sigring::log::Builder::new()
        .capacity(4096)
        .level(LevelFilter::Info);
    let builder = match std::env::args().nth(1) {
        Some(path) => builder.writer(std::fs::File::create(path)?),
        None => builder,
    };
    let guard = builder.init()?;
    install(libc::SIGUSR1)?;
    install(libc::SIGCHLD)?;

    // Fire SIGUSR1 at the main thread every 7 ms while it logs.
    // SAFETY: `pthread_self` has no preconditions.
    let main_thread = unsafe { libc::pthread_self() };
    let stop = Arc::new(AtomicBool::new(false));
    let firing = {
        let stop = stop.clone();
        thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(7));
                // SAFETY: the main thread outlives this thread (it joins it below).
                unsafe { libc::pthread_kill(main_thread, libc::SIGUSR1) };
            }
        })
    };

    // A child that exits at once: SIGCHLD arrives while we keep logging.
    let mut child = std::process::Command::new("true").spawn()?;

    for i in 0..100u32 {
        let conn = Connection(i);
        log::info!(target: "main", "working on item {i} with connection {}", conn.0);
        if i % 10 == 0 {
            log::info!(
                "a long record is cut at the buffer's end: {}",
                "la ".repeat(300)
            );
        }
        thread::sleep(Duration::from_millis(2));
        // `conn` is dropped here and logs from its destructor.
    }

    stop.store(true, Ordering::Relaxed);
    firing.join().expect("firing thread");
    child.wait()?;
    let signals = SIGNALS.load(Ordering::Relaxed);
    let dropped = guard.dropped();
    log::info!("done: {signals} signals handled, {dropped} records dropped");
    // Dropping the guard writes everything logged so far and stops the writer thread.
    drop(guard);
    Ok(())
}
