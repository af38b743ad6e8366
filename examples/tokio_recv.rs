//! Awaiting values from a plain thread and from a signal handler in a Tokio task.
//!
//! ```text
//! cargo run --example tokio_recv --features tokio
//! ```
//!
//! A producer thread sends work items and raises `SIGUSR1` now and then; the handler sends
//! an event through the same channel, a `static` [`StaticChannel`] it calls `try_send` on
//! directly (async-signal-safe, nothing to publish or keep alive). The task awaits
//! `AsyncReceiver::recv` on the static's receiver, which sleeps in Tokio's reactor on the
//! channel's fd: no polling, no wake-ups while idle. A timer runs alongside to show the task
//! is not blocked.

use std::io;
use std::ptr;
use std::thread;
use std::time::Duration;

use sigring::tokio::AsyncReceiver;
use sigring::StaticChannel;

#[derive(Debug)]
enum Event {
    Work(u32),
    Signal,
    Done,
}

/// The channel. A handler may run on any thread at any time (someone may `kill -USR1` the
/// process), and a static is always there for it.
static EVENTS: StaticChannel<Event, 256> = StaticChannel::new();

extern "C" fn on_sigusr1(_: libc::c_int) {
    // Full, or the receiver gone: the event is dropped (a full one is counted).
    let _ = EVENTS.try_send(Event::Signal);
}

fn install_handler() -> io::Result<()> {
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
    let mut rx = AsyncReceiver::new(EVENTS.receiver()?)?;
    install_handler()?;

    // `send` waits for room, so no work item is lost; the handler's `try_send` never waits.
    let producer = thread::spawn(|| {
        for i in 1..=12 {
            thread::sleep(Duration::from_millis(40));
            EVENTS
                .send(Event::Work(i))
                .expect("the task holds the receiver");
            if i % 4 == 0 {
                // SAFETY: `raise` has no memory-safety preconditions.
                unsafe { libc::raise(libc::SIGUSR1) };
            }
        }
        // A static channel never disconnects: `Done` ends the loop.
        EVENTS
            .send(Event::Done)
            .expect("the task holds the receiver");
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
