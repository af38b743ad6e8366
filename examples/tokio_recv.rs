//! Awaiting values from a plain thread and from a signal handler in a Tokio task.
//!
//! ```text
//! cargo run --example tokio_recv --features tokio
//! ```
//!
//! A producer thread sends work items and raises `SIGUSR1` now and then; the handler sends
//! an event through the same channel (`try_send` is async-signal-safe). The task awaits
//! `AsyncReceiver::recv`, which sleeps in Tokio's reactor on the channel's fd: no polling,
//! no wake-ups while idle. A timer runs alongside to show the task is not blocked.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::thread;
use std::time::Duration;

use sigring::tokio::AsyncReceiver;
use sigring::Sender;

#[derive(Debug)]
enum Event {
    Work(u32),
    Signal,
    Done,
}

/// The handler's sender. Never freed once published: a handler may run on any thread at
/// any time (someone may `kill -USR1` the process), so no moment is safe to free it.
static HANDLER_TX: AtomicPtr<Sender<Event>> = AtomicPtr::new(ptr::null_mut());

extern "C" fn on_sigusr1(_: libc::c_int) {
    let tx = HANDLER_TX.load(Ordering::Acquire);
    if !tx.is_null() {
        // SAFETY: the pointer came from `Box::into_raw` and is never freed.
        let _ = unsafe { &*tx }.try_send(Event::Signal);
    }
}

fn install_handler(tx: Sender<Event>) -> io::Result<()> {
    HANDLER_TX.store(Box::into_raw(Box::new(tx)), Ordering::Release);
    // SAFETY: a zeroed `sigaction` is valid (empty mask, no flags) and is filled in before
    // use; `on_sigusr1` has the `sa_handler` signature.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigusr1 as extern "C" fn(libc::c_int) as libc::sighandler_t;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(libc::SIGUSR1, &sa, ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let (tx, rx) = sigring::channel::<Event>(256)?;
    let mut rx = AsyncReceiver::new(rx)?;
    install_handler(tx.clone())?;

    let producer = thread::spawn(move || {
        for i in 1..=12 {
            thread::sleep(Duration::from_millis(40));
            let _ = tx.try_send(Event::Work(i));
            if i % 4 == 0 {
                // SAFETY: `raise` has no memory-safety preconditions.
                unsafe { libc::raise(libc::SIGUSR1) };
            }
        }
        let _ = tx.try_send(Event::Done);
    });

    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    let (mut work, mut signals, mut ticks) = (0, 0, 0);
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Some(Event::Work(i)) => { work += 1; println!("work item {i}"); }
                Some(Event::Signal) => { signals += 1; println!("SIGUSR1 (sent by the handler)"); }
                Some(Event::Done) | None => break,
            },
            _ = ticker.tick() => ticks += 1,
        }
    }
    producer.join().expect("producer thread");
    println!(
        "{work} work items, {signals} signals, {ticks} timer ticks; {} token writes, {} drops",
        rx.get_ref().wake_writes(),
        rx.get_ref().full_rejections()
    );
    Ok(())
}
