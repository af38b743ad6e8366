//! `sigring::tokio::AsyncReceiver` on current-thread and multi-thread runtimes: values from
//! plain threads and from a signal handler arrive, disconnection ends the stream, an idle
//! receiver is not polled, cancellation loses nothing, and misuse is an error.

mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use futures_core::Stream;
use sigring::tokio::AsyncReceiver;
use sigring::{Sender, TrySendError};
use tokio::runtime::{Builder, Runtime};

static LOCK: Mutex<()> = Mutex::new(());

#[derive(Clone, Copy, Debug)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

const FLAVORS: [Flavor; 2] = [Flavor::CurrentThread, Flavor::MultiThread];

fn runtime(flavor: Flavor) -> Runtime {
    match flavor {
        Flavor::CurrentThread => Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut b = Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    }
    .enable_all()
    .build()
    .expect("runtime")
}

/// The next item of the stream, through the `Stream` impl.
async fn next<T: Send>(rx: &mut AsyncReceiver<T>) -> Option<T> {
    poll_fn(|cx| Pin::new(&mut *rx).poll_next(cx)).await
}

/// `recv`, counting how often the receiver is polled.
async fn counted_recv<T: Send>(rx: &mut AsyncReceiver<T>, polls: &AtomicU64) -> Option<T> {
    poll_fn(|cx| {
        polls.fetch_add(1, Ordering::Relaxed);
        rx.poll_recv(cx)
    })
    .await
}

#[test]
fn values_from_threads_arrive_in_order_then_the_stream_ends() {
    let _wd = common::watchdog(120, "values_from_threads");
    for flavor in FLAVORS {
        for use_stream in [false, true] {
            const PRODUCERS: u64 = 3;
            const PER: u64 = 20_000;
            let rt = runtime(flavor);
            let got = rt.block_on(async {
                let (tx, rx) = sigring::channel::<(u64, u64)>(64).unwrap();
                let mut rx = AsyncReceiver::new(rx).unwrap();
                let producers: Vec<_> = (0..PRODUCERS)
                    .map(|p| {
                        let tx = tx.clone();
                        thread::spawn(move || {
                            for i in 0..PER {
                                common::send_retry(&tx, (p, i)).unwrap();
                            }
                        })
                    })
                    .collect();
                drop(tx);
                let mut got = vec![Vec::new(); PRODUCERS as usize];
                loop {
                    let item = if use_stream {
                        next(&mut rx).await
                    } else {
                        rx.recv().await
                    };
                    let Some((p, i)) = item else { break };
                    got[p as usize].push(i);
                }
                for p in producers {
                    p.join().unwrap();
                }
                // Ended for good.
                assert_eq!(rx.recv().await, None);
                got
            });
            for (p, seq) in got.iter().enumerate() {
                assert_eq!(
                    seq,
                    &(0..PER).collect::<Vec<_>>(),
                    "{flavor:?} stream={use_stream} producer {p}"
                );
            }
        }
    }
}

/// The sender the handler uses.
static HANDLER_TX: AtomicPtr<Sender<u64>> = AtomicPtr::new(ptr::null_mut());
static HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);
static HANDLER_SENT: AtomicU64 = AtomicU64::new(0);
static HANDLER_FULL: AtomicU64 = AtomicU64::new(0);

extern "C" fn send_from_handler(_: libc::c_int) {
    let p = HANDLER_TX.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: the test frees the sender only after uninstalling the handler and joining
    // the one thread that raises the signal (`raise` runs the handler before returning).
    let tx = unsafe { &*p };
    let n = HANDLER_RUNS.fetch_add(1, Ordering::Relaxed);
    match tx.try_send(n) {
        Ok(()) => HANDLER_SENT.fetch_add(1, Ordering::Relaxed),
        Err(TrySendError::Full(_)) => HANDLER_FULL.fetch_add(1, Ordering::Relaxed),
        Err(TrySendError::Disconnected(_)) => 0,
    };
}

#[test]
fn values_from_a_signal_handler_arrive() {
    let _serial = common::serial(&LOCK);
    let _wd = common::watchdog(120, "values_from_a_signal_handler");
    for flavor in FLAVORS {
        HANDLER_RUNS.store(0, Ordering::Relaxed);
        HANDLER_SENT.store(0, Ordering::Relaxed);
        HANDLER_FULL.store(0, Ordering::Relaxed);
        let rt = runtime(flavor);
        let received = rt.block_on(async {
            let (tx, rx) = sigring::channel::<u64>(32).unwrap();
            let mut rx = AsyncReceiver::new(rx).unwrap();
            let raw = Box::into_raw(Box::new(tx));
            HANDLER_TX.store(raw, Ordering::Release);
            let handler = common::install_handler(libc::SIGUSR1, send_from_handler, true);
            let raiser = thread::spawn(|| {
                for i in 0..2000 {
                    // SAFETY: `raise` has no memory-safety preconditions.
                    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
                    if i % 100 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
            });
            let mut received = Vec::new();
            // Receive concurrently with the signals; then tear down and drain.
            let teardown = tokio::task::spawn_blocking(move || {
                raiser.join().unwrap();
                drop(handler);
                let raw = HANDLER_TX.swap(ptr::null_mut(), Ordering::AcqRel);
                // SAFETY: the handler is uninstalled and the raising thread has exited.
                drop(unsafe { Box::from_raw(raw) }); // the last sender: ends the stream
            });
            while let Some(v) = rx.recv().await {
                received.push(v);
            }
            teardown.await.unwrap();
            received
        });
        let runs = HANDLER_RUNS.load(Ordering::Relaxed);
        let sent = HANDLER_SENT.load(Ordering::Relaxed);
        let full = HANDLER_FULL.load(Ordering::Relaxed);
        assert_eq!(
            runs, 2000,
            "{flavor:?}: raise runs the handler synchronously"
        );
        assert_eq!(sent + full, runs, "{flavor:?}");
        assert_eq!(
            received.len() as u64,
            sent,
            "{flavor:?}: every accepted value arrived"
        );
        assert!(
            received.windows(2).all(|w| w[0] < w[1]),
            "{flavor:?}: in order"
        );
        assert!(sent > 0, "{flavor:?}");
    }
}

#[test]
fn an_idle_receiver_is_not_polled_and_writes_no_tokens() {
    let _wd = common::watchdog(60, "idle receiver");
    for flavor in FLAVORS {
        let rt = runtime(flavor);
        rt.block_on(async {
            let (tx, rx) = sigring::channel::<u32>(1024).unwrap();
            let polls = Arc::new(AtomicU64::new(0));
            let received = Arc::new(AtomicU64::new(0));
            let task = tokio::spawn({
                let (polls, received) = (polls.clone(), received.clone());
                async move {
                    let mut rx = AsyncReceiver::new(rx).unwrap();
                    while counted_recv(&mut rx, &polls).await.is_some() {
                        received.fetch_add(1, Ordering::Relaxed);
                    }
                    rx.into_inner()
                }
            });

            // Idle from the start: one poll that parks the task, nothing else.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let idle_polls = polls.load(Ordering::Relaxed);
            assert!(
                (1..=2).contains(&idle_polls),
                "{flavor:?}: {idle_polls} polls while idle"
            );

            // A burst, then idle again: the task goes back to sleep.
            let sender = thread::spawn(move || {
                for i in 0..1000 {
                    common::send_retry(&tx, i).unwrap();
                }
                tx
            });
            let tx = sender.join().unwrap();
            while received.load(Ordering::Relaxed) < 1000 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let after_burst = polls.load(Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(200)).await;
            let idle_polls = polls.load(Ordering::Relaxed) - after_burst;
            assert!(
                idle_polls <= 1,
                "{flavor:?}: {idle_polls} polls in 200 ms of idleness after a burst"
            );

            drop(tx);
            let rx = task.await.unwrap();
            // Tokens: at most one per time the task went to sleep, far fewer than values.
            let writes = rx.wake_writes();
            let total_polls = polls.load(Ordering::Relaxed);
            assert!(
                writes <= total_polls,
                "{flavor:?}: {writes} token writes, {total_polls} polls"
            );
            eprintln!("{flavor:?}: 1000 values, {total_polls} polls, {writes} token writes");
        });
    }
}

#[test]
fn disconnection_wakes_a_waiting_task_and_ends_the_stream() {
    let _wd = common::watchdog(60, "disconnection");
    for flavor in FLAVORS {
        let rt = runtime(flavor);
        rt.block_on(async {
            let (tx, rx) = sigring::channel::<u8>(4).unwrap();
            let mut rx = AsyncReceiver::new(rx).unwrap();
            tx.try_send(1).unwrap();
            tx.try_send(2).unwrap();
            let dropper = thread::spawn(move || {
                thread::sleep(Duration::from_millis(50));
                drop(tx);
            });
            assert_eq!(next(&mut rx).await, Some(1));
            assert_eq!(rx.recv().await, Some(2));
            // Waits until the sender is dropped on the other thread.
            assert_eq!(next(&mut rx).await, None);
            assert_eq!(rx.recv().await, None);
            dropper.join().unwrap();
        });
    }
}

#[test]
fn a_cancelled_recv_loses_nothing() {
    let _wd = common::watchdog(60, "cancel safety");
    let rt = runtime(Flavor::CurrentThread);
    rt.block_on(async {
        let (tx, rx) = sigring::channel::<u32>(4).unwrap();
        let mut rx = AsyncReceiver::new(rx).unwrap();
        for _ in 0..3 {
            let timed_out = tokio::time::timeout(Duration::from_millis(10), rx.recv()).await;
            assert!(timed_out.is_err());
        }
        tx.try_send(7).unwrap();
        assert_eq!(rx.try_recv(), Ok(7));
        tx.try_send(8).unwrap();
        let got = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        assert_eq!(got.unwrap(), Some(8));
    });
}

#[test]
fn into_inner_gives_back_a_working_receiver() {
    let rt = runtime(Flavor::MultiThread);
    let (tx, rx) = sigring::channel::<u32>(4).unwrap();
    let rx = rt.block_on(async {
        let rx = AsyncReceiver::new(rx).unwrap();
        tx.try_send(1).unwrap();
        assert_eq!(rx.get_ref().len(), 1);
        rx.into_inner()
    });
    drop(rt);
    assert_eq!(rx.recv(), Ok(1));
    tx.try_send(2).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(2));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let (_tx, rx) = sigring::channel::<u32>(4).unwrap();
    let err = AsyncReceiver::new(rx).unwrap_err();
    assert!(err.to_string().contains("inside a Tokio runtime"), "{err}");

    // A runtime without the I/O driver (tokio itself would panic here).
    let rt = Builder::new_current_thread().build().unwrap();
    let (_tx, rx) = sigring::channel::<u32>(4).unwrap();
    let err = rt.block_on(async { AsyncReceiver::new(rx).unwrap_err() });
    assert!(err.to_string().contains("no I/O driver"), "{err}");
}
