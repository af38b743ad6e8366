//! `sigring::tokio::AsyncReceiver` on current-thread and multi-thread runtimes: values from
//! plain threads and from a signal handler arrive, also through a `StaticChannel`'s
//! receiver, disconnection ends the stream, an idle receiver is not polled, cancellation
//! loses nothing, and misuse is an error.

mod common;

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::ptr;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use futures_core::Stream;
use sigring::tokio::AsyncReceiver;
use sigring::{Sender, StaticChannel, TryRecvError, TrySendError};
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

/// What the static-channel test sends. Thread and handler values share one sequence: the
/// handler runs on the sending thread, inside `raise`, so the values are pushed in
/// sequence order.
#[derive(Debug, PartialEq, Eq)]
enum Msg {
    Thread(u64),
    Handler(u64),
    /// The producer's last value: a static channel never disconnects, so the end is sent.
    End,
}

impl Msg {
    fn seq(&self) -> Option<u64> {
        match *self {
            Msg::Thread(n) | Msg::Handler(n) => Some(n),
            Msg::End => None,
        }
    }
}

/// One static per runtime flavor (indexed like `FLAVORS`): a static channel has one
/// receiver for the life of the process. Small, so that the handler meets `Full` too.
static STATICS: [StaticChannel<Msg, 16>; 2] = [StaticChannel::new(), StaticChannel::new()];
/// Which of `STATICS` the handler sends into.
static STATIC_TARGET: AtomicUsize = AtomicUsize::new(0);
/// The next sequence number, for the thread and the handler alike.
static STATIC_SEQ: AtomicU64 = AtomicU64::new(0);
static STATIC_HANDLER_RUNS: AtomicU64 = AtomicU64::new(0);
static STATIC_HANDLER_FULL: AtomicU64 = AtomicU64::new(0);

/// `try_send` on the static itself: no pointer to load, nothing to keep alive.
extern "C" fn send_to_static(_: libc::c_int) {
    let Some(chan) = STATICS.get(STATIC_TARGET.load(Ordering::Relaxed)) else {
        return;
    };
    STATIC_HANDLER_RUNS.fetch_add(1, Ordering::Relaxed);
    let seq = STATIC_SEQ.fetch_add(1, Ordering::Relaxed);
    if let Err(TrySendError::Full(_)) = chan.try_send(Msg::Handler(seq)) {
        STATIC_HANDLER_FULL.fetch_add(1, Ordering::Relaxed);
    }
}

fn raise_sigusr1() {
    // SAFETY: `raise` has no memory-safety preconditions.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
}

#[test]
fn a_static_channels_receiver_awaits_values_from_a_thread_and_a_handler() -> io::Result<()> {
    let _serial = common::serial(&LOCK);
    let _wd = common::watchdog(120, "static channel receiver");
    const PER: u64 = 3000;
    for (index, flavor) in FLAVORS.into_iter().enumerate() {
        let chan: &'static StaticChannel<Msg, 16> = &STATICS[index];
        STATIC_TARGET.store(index, Ordering::Relaxed);
        STATIC_SEQ.store(0, Ordering::Relaxed);
        STATIC_HANDLER_RUNS.store(0, Ordering::Relaxed);
        STATIC_HANDLER_FULL.store(0, Ordering::Relaxed);
        let handler = common::install_handler(libc::SIGUSR1, send_to_static, true);

        // Before the receiver exists: kept, and received first.
        chan.try_send(Msg::Thread(STATIC_SEQ.fetch_add(1, Ordering::Relaxed)))
            .unwrap();
        raise_sigusr1();
        assert_eq!(chan.len(), 2, "{flavor:?}");

        let rt = runtime(flavor);
        let received = rt.block_on(async {
            let mut rx = AsyncReceiver::new(chan.receiver()?)?;
            assert_eq!(
                chan.receiver().unwrap_err().kind(),
                io::ErrorKind::AlreadyExists
            );
            let producer = thread::spawn(move || {
                let tx = chan.sender();
                for i in 0..PER {
                    // `send` waits for room: every thread value arrives.
                    tx.send(Msg::Thread(STATIC_SEQ.fetch_add(1, Ordering::Relaxed)))
                        .unwrap();
                    if i % 8 == 0 {
                        raise_sigusr1(); // the handler runs here, before `raise` returns
                    }
                }
                tx.send(Msg::End).unwrap();
            });
            let mut received = Vec::new();
            loop {
                match rx.recv().await {
                    Some(Msg::End) => break,
                    Some(msg) => received.push(msg),
                    None => panic!("{flavor:?}: a static channel's stream never ends"),
                }
            }
            tokio::task::spawn_blocking(move || producer.join())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{flavor:?}");
            assert_eq!(
                rx.get_ref().full_rejections(),
                STATIC_HANDLER_FULL.load(Ordering::Relaxed)
            );
            Ok::<_, io::Error>(received)
        })?;
        // The receiver is gone (dropped inside the runtime): every send is refused now.
        assert!(
            matches!(chan.try_send(Msg::End), Err(TrySendError::Disconnected(_))),
            "{flavor:?}"
        );
        raise_sigusr1();
        drop(handler);

        let runs = STATIC_HANDLER_RUNS.load(Ordering::Relaxed);
        let full = STATIC_HANDLER_FULL.load(Ordering::Relaxed);
        assert_eq!(
            runs,
            1 + PER.div_ceil(8) + 1,
            "{flavor:?}: raise runs the handler"
        );
        assert_eq!(
            &received[..2],
            &[Msg::Thread(0), Msg::Handler(1)],
            "{flavor:?}: values sent before the receiver existed come first"
        );
        let seqs: Vec<u64> = received.iter().filter_map(Msg::seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "{flavor:?}: in the order sent"
        );
        let threads = received
            .iter()
            .filter(|m| matches!(m, Msg::Thread(_)))
            .count();
        let handlers = received.len() - threads;
        assert_eq!(threads as u64, 1 + PER, "{flavor:?}: every thread value");
        // The last run came after the receiver was dropped: refused, not counted as full.
        assert_eq!(
            handlers as u64 + full + 1,
            runs,
            "{flavor:?}: every handler value arrived or was counted as full"
        );
        assert!(handlers >= 1, "{flavor:?}");
        eprintln!("{flavor:?}: {threads} thread values, {handlers} handler values, {full} full");
    }
    Ok(())
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
