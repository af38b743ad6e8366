//! The logging sink used directly (`Builder::build`, not installed globally): records from
//! signal handlers and destructors, truncation, the dropped-records line, flushing, and
//! writer errors.
//!
//! Tests that install signal handlers take `LOCK`; every test body runs under a watchdog.

mod common;

use std::fmt;
use std::io::{self, Write};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

use log::{Level, LevelFilter, Log, Record};
use sigring::log::{Builder, Logger, MAX_MESSAGE_LEN, MAX_TARGET_LEN, TRUNCATION_MARKER};

static LOCK: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// An `io::Write` whose bytes the test can read back. Also remembers the `pthread_t` of
/// the thread that writes (the sink's writer thread).
#[derive(Clone, Default)]
struct Buf {
    bytes: Arc<Mutex<Vec<u8>>>,
    writer: Arc<AtomicU64>,
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.writer
            .store(common::current_pthread() as u64, Ordering::Relaxed);
        self.bytes.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.bytes.lock().unwrap().clone()).expect("output is UTF-8")
    }
    fn lines(&self) -> Vec<Line> {
        self.text().lines().map(Line::parse).collect()
    }
    fn messages(&self) -> Vec<String> {
        self.lines()
            .into_iter()
            .map(|l| match l {
                Line::Record { text, .. } => text,
                Line::Dropped(n) => format!("<dropped {n}>"),
            })
            .collect()
    }
}

/// One output line, parsed.
#[derive(Debug, PartialEq)]
enum Line {
    Record {
        level: String,
        tid: u64,
        target: String,
        text: String,
    },
    Dropped(u64),
}

impl Line {
    /// `"{secs:>6}.{micros:06} {level:<5} [{tid}] {target}: {text}"` (the `[{tid}] ` part
    /// only with thread ids; `tid` 0 without) or
    /// `"sigring: {n} records dropped"`; panics on anything else.
    fn parse(line: &str) -> Line {
        if let Some(rest) = line.strip_prefix("sigring: ") {
            let n = rest
                .strip_suffix(" records dropped")
                .unwrap_or_else(|| panic!("bad report line {line:?}"));
            return Line::Dropped(n.parse().expect("count"));
        }
        let (time, rest) = line.trim_start().split_once(' ').expect("time column");
        let (secs, micros) = time.split_once('.').expect("seconds.micros");
        secs.parse::<u64>().expect("seconds");
        assert_eq!(micros.len(), 6, "{line:?}");
        micros.parse::<u64>().expect("micros");
        let level = rest[..5].trim().to_owned();
        let rest = &rest[6..];
        let (tid, rest) = match rest.strip_prefix('[') {
            Some(rest) => {
                let (tid, rest) = rest.split_once("] ").expect("thread id");
                (tid.parse().expect("tid"), rest)
            }
            None => (0, rest),
        };
        let (target, text) = rest.split_once(": ").expect("target");
        Line::Record {
            level,
            tid,
            target: target.to_owned(),
            text: text.to_owned(),
        }
    }
}

/// Logs through `logger` as the macros would; no allocation (usable in handlers).
fn emit(logger: &Logger, level: Level, target: &str, args: fmt::Arguments<'_>) {
    logger.log(
        &Record::builder()
            .level(level)
            .target(target)
            .args(args)
            .build(),
    );
}

fn build(capacity: usize, out: impl Write + Send + 'static) -> (Logger, sigring::log::LogGuard) {
    Builder::new()
        .capacity(capacity)
        .level(LevelFilter::Trace)
        .writer(out)
        .build()
        .expect("build logger")
}

// ---------------------------------------------------------------------------------------
// Basics
// ---------------------------------------------------------------------------------------

#[test]
fn line_format_level_filter_and_thread_id() {
    let _wd = common::watchdog(60, "line_format_level_filter_and_thread_id");
    let out = Buf::default();
    let (logger, guard) = Builder::new()
        .level(LevelFilter::Info)
        .writer(out.clone())
        .build()
        .unwrap();
    assert_eq!(logger.level(), LevelFilter::Info);
    emit(
        &logger,
        Level::Info,
        "app::net",
        format_args!("port {}", 8080),
    );
    emit(&logger, Level::Debug, "app", format_args!("hidden"));
    emit(
        &logger,
        Level::Error,
        "app",
        format_args!("{:?} {:.2}", [1, 2], 2.5f64),
    );
    let tid = common::gettid() as u64;
    guard.flush().unwrap();
    assert_eq!(
        out.lines(),
        [
            Line::Record {
                level: "INFO".into(),
                tid,
                target: "app::net".into(),
                text: "port 8080".into()
            },
            Line::Record {
                level: "ERROR".into(),
                tid,
                target: "app".into(),
                text: "[1, 2] 2.50".into()
            },
        ]
    );
    let other = thread::spawn({
        let logger = logger.clone();
        move || {
            emit(&logger, Level::Warn, "t", format_args!("from a thread"));
            common::gettid() as u64
        }
    })
    .join()
    .unwrap();
    guard.flush().unwrap();
    match out.lines().last().unwrap() {
        Line::Record { tid, text, .. } => {
            assert_eq!((tid, text.as_str()), (&other, "from a thread"));
            assert_ne!(other, common::gettid() as u64);
        }
        l => panic!("{l:?}"),
    }
    assert_eq!((logger.dropped(), logger.discarded()), (0, 0));
}

#[test]
fn thread_ids_can_be_left_out() {
    let _wd = common::watchdog(60, "thread_ids_can_be_left_out");
    let out = Buf::default();
    let (logger, guard) = Builder::new()
        .thread_ids(false)
        .writer(out.clone())
        .build()
        .unwrap();
    emit(&logger, Level::Warn, "app", format_args!("no tid"));
    guard.flush().unwrap();
    let text = out.text();
    assert!(!text.contains('['), "{text}");
    assert_eq!(
        out.lines(),
        [Line::Record {
            level: "WARN".into(),
            tid: 0,
            target: "app".into(),
            text: "no tid".into()
        }]
    );
}

#[test]
fn bad_capacity_is_an_error() {
    let err = Builder::new().capacity(0).build().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("sigring::log"), "{err}");
}

// ---------------------------------------------------------------------------------------
// Truncation
// ---------------------------------------------------------------------------------------

#[test]
fn long_records_are_truncated_with_a_marker_on_a_char_boundary() {
    let _wd = common::watchdog(60, "truncation");
    let out = Buf::default();
    let (logger, guard) = build(64, out.clone());
    let exact = "x".repeat(MAX_MESSAGE_LEN);
    emit(&logger, Level::Info, "t", format_args!("{exact}"));
    emit(&logger, Level::Info, "t", format_args!("{exact}y"));
    // Two-, three- and four-byte characters straddling the cut, at each alignment.
    for pad in 0..4 {
        emit(
            &logger,
            Level::Info,
            "t",
            format_args!("{}{}", "-".repeat(pad), "é€😀".repeat(200)),
        );
    }
    let long_target = "t".repeat(MAX_TARGET_LEN + 10);
    emit(&logger, Level::Info, &long_target, format_args!("short"));
    guard.flush().unwrap();

    let lines = out.lines();
    assert_eq!(lines.len(), 7, "{lines:?}");
    let texts: Vec<&str> = lines
        .iter()
        .map(|l| match l {
            Line::Record { text, .. } => text.as_str(),
            l => panic!("{l:?}"),
        })
        .collect();
    assert_eq!(
        texts[0], exact,
        "a message of exactly the maximum is kept whole"
    );
    let cut = &texts[1][..texts[1].len() - TRUNCATION_MARKER.len()];
    assert!(texts[1].ends_with(TRUNCATION_MARKER));
    assert_eq!(texts[1].len(), MAX_MESSAGE_LEN);
    assert_eq!(cut, "x".repeat(MAX_MESSAGE_LEN - TRUNCATION_MARKER.len()));
    for (pad, text) in texts[2..6].iter().enumerate() {
        assert!(text.ends_with(TRUNCATION_MARKER), "{text:?}");
        assert!(text.len() <= MAX_MESSAGE_LEN);
        let body = &text[..text.len() - TRUNCATION_MARKER.len()];
        let full = format!("{}{}", "-".repeat(pad), "é€😀".repeat(200));
        assert!(full.starts_with(body), "pad {pad}: {body:?}");
        assert!(body.len() > MAX_MESSAGE_LEN - TRUNCATION_MARKER.len() - 4);
    }
    match &lines[6] {
        Line::Record { target, text, .. } => {
            assert_eq!(text, "short");
            assert!(target.ends_with('…'), "{target:?}");
            assert!(target.len() <= MAX_TARGET_LEN);
            assert!(long_target.starts_with(target.trim_end_matches('…')));
        }
        l => panic!("{l:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Losses
// ---------------------------------------------------------------------------------------

/// A writer that blocks in its first `write` until the test opens the gate, and says when
/// it got there.
struct Gate {
    entered: mpsc::Sender<()>,
    open: Arc<(Mutex<bool>, std::sync::Condvar)>,
    inner: Buf,
}

impl Write for Gate {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        let _ = self.entered.send(());
        let (lock, cond) = &*self.open;
        let mut open = lock.lock().unwrap();
        while !*open {
            open = cond.wait(open).unwrap();
        }
        self.inner.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_channel_counts_losses_and_the_writer_reports_them_once() {
    let _wd = common::watchdog(60, "dropped line");
    let out = Buf::default();
    let (entered_tx, entered) = mpsc::channel();
    let open = Arc::new((Mutex::new(false), std::sync::Condvar::new()));
    let (logger, guard) = build(
        4,
        Gate {
            entered: entered_tx,
            open: open.clone(),
            inner: out.clone(),
        },
    );
    emit(&logger, Level::Info, "t", format_args!("first"));
    // The writer took "first" and is now stuck writing it: the channel is empty.
    entered.recv_timeout(Duration::from_secs(30)).unwrap();
    for i in 0..100 {
        emit(&logger, Level::Info, "t", format_args!("r{i}"));
    }
    assert_eq!(logger.dropped(), 96, "capacity 4: 4 queued, 96 lost");
    *open.0.lock().unwrap() = true;
    open.1.notify_all();
    // The channel is full: this flush's marker must wait for room, and must not be
    // counted as a lost record.
    guard.flush().unwrap();
    assert_eq!(
        out.messages(),
        ["first", "r0", "r1", "r2", "r3", "<dropped 96>"]
    );
    assert_eq!(logger.dropped(), 96);

    // Reported once: no new losses, no new report line.
    emit(&logger, Level::Info, "t", format_args!("after"));
    guard.flush().unwrap();
    assert_eq!(out.messages().last().unwrap(), "after");
    assert_eq!(
        out.lines()
            .iter()
            .filter(|l| matches!(l, Line::Dropped(_)))
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------------------
// Flushing
// ---------------------------------------------------------------------------------------

#[test]
fn guard_flush_and_log_flush_write_everything_logged_before() {
    let _wd = common::watchdog(60, "flush");
    let out = Buf::default();
    let (logger, guard) = build(8192, out.clone());
    for round in 1..=20 {
        for i in 0..100 {
            emit(&logger, Level::Info, "t", format_args!("{round}.{i}"));
        }
        if round % 2 == 0 {
            guard.flush().unwrap();
        } else {
            Log::flush(&logger);
        }
        let msgs = out.messages();
        assert_eq!(msgs.len(), round * 100, "round {round}");
        assert_eq!(msgs.last().unwrap(), &format!("{round}.99"));
    }
}

#[test]
fn dropping_the_guard_writes_everything_then_later_records_are_counted() {
    let _wd = common::watchdog(60, "flush on guard drop");
    let out = Buf::default();
    let (logger, guard) = build(16384, out.clone());
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let logger = logger.clone();
            thread::spawn(move || {
                for i in 0..5000 {
                    emit(&logger, Level::Info, "t", format_args!("{t} {i}"));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(guard);
    // Everything is written by the time the drop returned; each thread's records in order.
    let msgs = out.messages();
    assert_eq!(msgs.len(), 10_000);
    for t in 0..2 {
        let seq: Vec<u32> = msgs
            .iter()
            .filter_map(|m| m.strip_prefix(&format!("{t} "))?.parse().ok())
            .collect();
        assert_eq!(seq, (0..5000).collect::<Vec<_>>());
    }
    // The writer is gone: logging still works (never blocks, never panics) and counts.
    emit(&logger, Level::Info, "t", format_args!("late"));
    assert_eq!(logger.discarded(), 1);
    assert_eq!(logger.dropped(), 0);
    Log::flush(&logger); // returns at once
    assert_eq!(out.messages().len(), 10_000);
}

struct FailingWriter;

impl Write for FailingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::other("disk full"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_come_back_from_flush() {
    let _wd = common::watchdog(60, "write errors");
    let (logger, guard) = build(16, FailingWriter);
    emit(&logger, Level::Info, "t", format_args!("lost"));
    let err = guard.flush().unwrap_err();
    assert!(err.to_string().contains("disk full"), "{err}");
    // Taken: nothing failed since.
    guard.flush().unwrap();
}

struct PanickingWriter;

impl Write for PanickingWriter {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        panic!("writer panics (expected by the test)");
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_dead_writer_thread_makes_flush_fail_instead_of_hang() {
    let _wd = common::watchdog(60, "dead writer");
    let (logger, guard) = build(16, PanickingWriter);
    emit(&logger, Level::Info, "t", format_args!("boom"));
    let err = guard.flush().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err}");
    emit(&logger, Level::Info, "t", format_args!("after"));
    assert_eq!(logger.discarded(), 1);
    drop(guard); // must not hang either
}

// ---------------------------------------------------------------------------------------
// Destructors
// ---------------------------------------------------------------------------------------

/// Logs when dropped.
struct Noisy {
    logger: Logger,
    name: &'static str,
}

impl Drop for Noisy {
    fn drop(&mut self) {
        emit(
            &self.logger,
            Level::Warn,
            "drop",
            format_args!("dropping {}", self.name),
        );
    }
}

thread_local! {
    static TLS_NOISY: std::cell::RefCell<Option<Noisy>> = const { std::cell::RefCell::new(None) };
}

#[test]
fn records_from_destructors_during_thread_teardown_and_unwinding_arrive() {
    let _wd = common::watchdog(60, "destructors");
    let out = Buf::default();
    let (logger, guard) = build(64, out.clone());

    // A thread-local destructor runs while the thread is being torn down, when
    // `std::thread::current()` may no longer be usable.
    let l = logger.clone();
    thread::spawn(move || {
        TLS_NOISY.with(|n| {
            *n.borrow_mut() = Some(Noisy {
                logger: l,
                name: "thread-local",
            })
        });
    })
    .join()
    .unwrap();

    // A destructor run by unwinding.
    let l = logger.clone();
    let res = thread::spawn(move || {
        let _n = Noisy {
            logger: l,
            name: "unwound",
        };
        panic!("unwinding on purpose (expected by the test)");
    })
    .join();
    assert!(res.is_err());

    // A destructor at the end of a scope, just before the guard goes.
    {
        let _n = Noisy {
            logger: logger.clone(),
            name: "scoped",
        };
    }
    drop(guard);
    assert_eq!(
        out.messages(),
        [
            "dropping thread-local",
            "dropping unwound",
            "dropping scoped"
        ]
    );
}

// ---------------------------------------------------------------------------------------
// Signal handlers
// ---------------------------------------------------------------------------------------

/// The logger the handler uses; set while a test's handler is installed.
static SINK: AtomicPtr<Logger> = AtomicPtr::new(ptr::null_mut());
/// Handler invocations that logged.
static SIG_LOGGED: AtomicU64 = AtomicU64::new(0);
/// Handler invocations that interrupted the logging loop inside `log()`.
static SIG_NESTED: AtomicU64 = AtomicU64::new(0);
/// Set by the interrupted thread around its own `log()` calls.
static IN_LOG: AtomicBool = AtomicBool::new(false);

extern "C" fn log_from_handler(_: libc::c_int) {
    let p = SINK.load(Ordering::Acquire);
    if p.is_null() {
        return;
    }
    // SAFETY: the test keeps the logger alive until the handler is uninstalled and the
    // threads it can run on have been joined.
    let logger = unsafe { &*p };
    if IN_LOG.load(Ordering::Relaxed) {
        SIG_NESTED.fetch_add(1, Ordering::Relaxed);
    }
    let n = SIG_LOGGED.fetch_add(1, Ordering::Relaxed);
    emit(logger, Level::Warn, "sig", format_args!("sig {n}"));
}

/// Counts the records in `out` and checks the books balance: every attempt was either
/// written or reported as dropped.
fn check_accounting(out: &Buf, logger: &Logger, main_attempts: u64) -> (u64, u64) {
    let (mut main, mut sig, mut reported) = (Vec::new(), 0u64, 0u64);
    for line in out.lines() {
        match line {
            Line::Dropped(n) => reported += n,
            Line::Record { text, .. } => {
                if let Some(i) = text.strip_prefix("main ") {
                    main.push(i.parse::<u64>().unwrap());
                } else if text.starts_with("sig ") {
                    sig += 1;
                } else {
                    panic!("unexpected record {text:?}");
                }
            }
        }
    }
    assert!(
        main.windows(2).all(|w| w[0] < w[1]),
        "main records in order"
    );
    assert_eq!(reported, logger.dropped(), "every loss reported");
    let attempts = main_attempts + SIG_LOGGED.load(Ordering::Relaxed);
    assert_eq!(
        main.len() as u64 + sig + reported + logger.discarded(),
        attempts,
        "written + dropped + discarded after the writer stopped == logged"
    );
    (sig, reported)
}

#[test]
fn records_from_a_handler_interrupting_a_logging_thread_arrive_or_are_counted() {
    let _serial = common::serial(&LOCK);
    let _wd = common::watchdog(120, "handler interrupts logging thread");
    SIG_LOGGED.store(0, Ordering::Relaxed);
    SIG_NESTED.store(0, Ordering::Relaxed);
    let out = Buf::default();
    let (logger, guard) = build(1024, out.clone());
    let raw = Box::into_raw(Box::new(logger));
    SINK.store(raw, Ordering::Release);
    let handler = common::install_handler(libc::SIGUSR1, log_from_handler, true);

    // At least N records, and until the handler has logged 50 times; 30 s at most. No
    // pauses: the writer falls behind and records are dropped, which the accounting
    // covers.
    const N: u64 = 30_000;
    let (ready_tx, ready) = mpsc::channel();
    let looping = thread::spawn(move || {
        ready_tx.send(common::current_pthread()).unwrap();
        // SAFETY: the logger in `SINK` stays valid until after this thread is joined.
        let logger = unsafe { &*SINK.load(Ordering::Acquire) };
        let start = std::time::Instant::now();
        let mut i = 0;
        while (i < N || SIG_LOGGED.load(Ordering::Relaxed) < 50)
            && start.elapsed() < Duration::from_secs(30)
        {
            IN_LOG.store(true, Ordering::Relaxed);
            emit(logger, Level::Info, "main", format_args!("main {i}"));
            IN_LOG.store(false, Ordering::Relaxed);
            i += 1;
        }
        i
    });
    let target = ready.recv().unwrap();
    let storm = common::Storm::start(target, libc::SIGUSR1, Duration::from_micros(5));
    let attempts = looping.join().unwrap();
    let sent = storm.stop();
    drop(handler);
    SINK.store(ptr::null_mut(), Ordering::Release);
    // SAFETY: the handler is uninstalled and the only thread it ran on has exited.
    let logger = unsafe { Box::from_raw(raw) };
    guard.flush().unwrap();

    let (sig, dropped) = check_accounting(&out, &logger, attempts);
    let nested = SIG_NESTED.load(Ordering::Relaxed);
    eprintln!(
        "signals sent {sent}, handler records {} (written {sig}), nested in log() {nested}, dropped {dropped}",
        SIG_LOGGED.load(Ordering::Relaxed)
    );
    assert!(SIG_LOGGED.load(Ordering::Relaxed) >= 50, "the handler ran");
    assert!(sig > 0, "some handler records were written");
    // Where the storm lands is up to the scheduler (`nested` is reported, not asserted);
    // the next test interrupts `log()` calls deterministically.
}

/// Displays as `before after`, raising `SIGUSR1` in between: the handler runs in the
/// middle of the `log()` call that is formatting this value.
struct RaiseWhileFormatting;

impl fmt::Display for RaiseWhileFormatting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("before ")?;
        // SAFETY: `raise` has no memory-safety preconditions.
        unsafe { libc::raise(libc::SIGUSR1) };
        f.write_str("after")
    }
}

#[test]
fn a_handler_that_interrupts_log_mid_record_logs_its_own_record_first() {
    let _serial = common::serial(&LOCK);
    let _wd = common::watchdog(60, "handler interrupts log() mid-record");
    SIG_LOGGED.store(0, Ordering::Relaxed);
    SIG_NESTED.store(0, Ordering::Relaxed);
    let out = Buf::default();
    let (logger, guard) = build(4096, out.clone());
    let raw = Box::into_raw(Box::new(logger));
    SINK.store(raw, Ordering::Release);
    let handler = common::install_handler(libc::SIGUSR1, log_from_handler, true);
    // SAFETY: `raw` is freed at the end of this test, after the handler is uninstalled.
    let logger = unsafe { &*raw };
    for i in 0..1000 {
        IN_LOG.store(true, Ordering::Relaxed);
        emit(
            logger,
            Level::Info,
            "main",
            format_args!("main {i} {}", RaiseWhileFormatting),
        );
        IN_LOG.store(false, Ordering::Relaxed);
    }
    drop(handler);
    SINK.store(ptr::null_mut(), Ordering::Release);
    // SAFETY: the handler is uninstalled; it only ever ran on this thread, inside `raise`.
    let logger = unsafe { Box::from_raw(raw) };
    guard.flush().unwrap();
    assert_eq!(SIG_NESTED.load(Ordering::Relaxed), 1000);
    // Each handler record went in while the interrupted record was half-formatted, so it
    // comes first; the interrupted record is intact.
    let expected: Vec<String> = (0..1000)
        .flat_map(|i| [format!("sig {i}"), format!("main {i} before after")])
        .collect();
    assert_eq!(out.messages(), expected);
    assert_eq!(logger.dropped(), 0);
}

#[test]
fn a_handler_interrupting_the_writer_thread_while_it_writes_does_not_deadlock() {
    let _serial = common::serial(&LOCK);
    let _wd = common::watchdog(120, "handler interrupts writer thread");
    SIG_LOGGED.store(0, Ordering::Relaxed);
    let out = Buf::default();
    let (logger, guard) = build(1024, out.clone());
    emit(&logger, Level::Info, "main", format_args!("main 0"));
    guard.flush().unwrap();
    // The writer thread holds `Buf`'s mutex (and the sink's batch buffer) while it writes;
    // a naive logger called from a handler on that thread would deadlock on them.
    let writer = out.writer.load(Ordering::Relaxed) as libc::pthread_t;
    let raw = Box::into_raw(Box::new(logger));
    SINK.store(raw, Ordering::Release);
    let handler = common::install_handler(libc::SIGUSR1, log_from_handler, true);
    let storm = common::Storm::start(writer, libc::SIGUSR1, Duration::from_micros(20));
    // SAFETY: `raw` is freed only at the end of this test.
    let logger = unsafe { &*raw };
    // At least N records, and until 20 handler runs logged on the writer thread; 30 s at
    // most.
    const N: u64 = 20_000;
    let start = std::time::Instant::now();
    let mut attempts = 1;
    while (attempts < N || SIG_LOGGED.load(Ordering::Relaxed) < 20)
        && start.elapsed() < Duration::from_secs(30)
    {
        emit(logger, Level::Info, "main", format_args!("main {attempts}"));
        attempts += 1;
        if attempts % 1000 == 0 {
            thread::sleep(Duration::from_millis(1));
        }
    }
    // Keep the storm going while the writer drains.
    thread::sleep(Duration::from_millis(50));
    let sent = storm.stop();
    drop(handler);
    drop(guard); // joins the writer thread: no handler is running any more
    SINK.store(ptr::null_mut(), Ordering::Release);
    // SAFETY: the handler is uninstalled and the writer thread it ran on has exited.
    let logger = unsafe { Box::from_raw(raw) };
    let (sig, dropped) = check_accounting(&out, &logger, attempts);
    eprintln!(
        "signals sent {sent}, handler records {} (written {sig}), dropped {dropped}",
        SIG_LOGGED.load(Ordering::Relaxed)
    );
    assert!(sig > 0, "some handler records were written");
}

/// A writer that itself logs (once) and flushes the logger it writes for, as an
/// `io::Write` built on code that uses `log` might.
struct SelfLogging {
    logger: Arc<std::sync::OnceLock<Logger>>,
    logged: bool,
    inner: Buf,
}

impl Write for SelfLogging {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if let Some(logger) = self.logger.get() {
            if !self.logged {
                self.logged = true;
                emit(logger, Level::Info, "w", format_args!("from the writer"));
            }
            Log::flush(logger); // on the writer thread: must not wait for itself
        }
        self.inner.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_writer_that_logs_and_flushes_does_not_deadlock() {
    let _wd = common::watchdog(60, "self-logging writer");
    let out = Buf::default();
    let cell = Arc::new(std::sync::OnceLock::new());
    let (logger, guard) = build(
        16,
        SelfLogging {
            logger: cell.clone(),
            logged: false,
            inner: out.clone(),
        },
    );
    cell.set(logger.clone()).unwrap();
    emit(&logger, Level::Info, "t", format_args!("first"));
    guard.flush().unwrap();
    emit(&logger, Level::Info, "t", format_args!("second"));
    guard.flush().unwrap();
    assert_eq!(out.messages(), ["first", "from the writer", "second"]);
    drop(guard);
}

/// In a process forked from the one that built the logger (no exec), the writer thread does
/// not exist: a record is counted as discarded (not lost silently, not queued into the
/// child's copy of the channel), and `flush` returns at once (an error from the guard,
/// nothing from `Log::flush`) instead of waiting for an acknowledgement forever. The
/// parent's logger is untouched. The child reports through its exit code.
#[test]
fn in_a_forked_child_records_are_discarded_and_flush_returns_at_once() {
    let _wd = common::watchdog(60, "log in a forked child");
    let out = Buf::default();
    let (logger, guard) = build(64, out.clone());
    emit(&logger, Level::Info, "t", format_args!("before the fork"));
    guard.flush().unwrap();
    // SAFETY: the child only logs (no allocation: an inline record and a `try_send`),
    // flushes (a failing send, no wait) and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let discarded = logger.discarded();
        emit(&logger, Level::Info, "t", format_args!("from the child"));
        let code = if logger.discarded() != discarded + 1 {
            10
        } else if logger.dropped() != 0 {
            11
        } else if guard.flush().is_ok() {
            12
        } else {
            Log::flush(&logger); // returns at once (the watchdog would fire otherwise)
            0
        };
        // SAFETY: leaving the child without running the test harness's exit path.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child, `status` a valid out-pointer.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "child exit code (see the test)"
    );
    emit(&logger, Level::Info, "t", format_args!("after the fork"));
    guard.flush().unwrap();
    assert_eq!(out.messages(), ["before the fork", "after the fork"]);
    assert_eq!((logger.dropped(), logger.discarded()), (0, 0));
}
