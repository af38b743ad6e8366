//! The logging path allocates nothing, so it can be used inside a `#[global_allocator]`.
//!
//! A counting allocator counts allocations made on the test thread while a flag is set;
//! logging many kinds of records with the global logger (the `log` macros, our sink,
//! `try_send`) counts none. The allocator also logs from inside `alloc` for one magic
//! size, and checks that doing so made no allocation of its own. One test: this binary
//! installs the global logger.

mod common;

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use log::LevelFilter;

thread_local! {
    /// Count this thread's allocations. `const`-initialized with no destructor: usable
    /// inside the allocator without allocating.
    static TRACK: Cell<bool> = const { Cell::new(false) };
    /// This thread is inside the allocator's logging hook.
    static IN_HOOK: Cell<bool> = const { Cell::new(false) };
}

/// Allocations on a tracking thread.
static TRACKED: AtomicU64 = AtomicU64::new(0);
/// Allocations made while the hook was logging.
static HOOK_ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Times the hook logged.
static HOOK_LOGS: AtomicU64 = AtomicU64::new(0);
/// The size that makes the allocator log.
const MAGIC: usize = 77_777;

fn note(size: usize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            TRACKED.fetch_add(1, Ordering::Relaxed);
        }
    });
    let _ = IN_HOOK.try_with(|h| {
        if h.get() {
            HOOK_ALLOCS.fetch_add(1, Ordering::Relaxed);
        } else if size == MAGIC {
            h.set(true);
            log::warn!(target: "alloc", "allocating {} bytes", size);
            HOOK_LOGS.fetch_add(1, Ordering::Relaxed);
            h.set(false);
        }
    });
}

#[global_allocator]
static ALLOC: Hooked = Hooked(|layout, dealloc| {
    if !dealloc {
        note(layout.size());
    }
});

use common::Hooked;
use common::MemWriter as Buf;

#[derive(Debug)]
#[allow(dead_code)] // read through Debug only
struct Point {
    x: i32,
    y: f64,
    name: &'static str,
}

/// Runs `f` counting this thread's allocations.
fn allocations_in(f: impl FnOnce()) -> u64 {
    let before = TRACKED.load(Ordering::Relaxed);
    TRACK.with(|t| t.set(true));
    f();
    TRACK.with(|t| t.set(false));
    TRACKED.load(Ordering::Relaxed) - before
}

#[test]
fn logging_allocates_nothing_and_works_inside_the_allocator() {
    let _wd = common::watchdog(60, "logging_allocates_nothing");
    let out = Buf::default();
    let guard = sigring::log::Builder::new()
        .capacity(1024)
        .level(LevelFilter::Trace)
        .writer(out.clone())
        .init()
        .unwrap();

    // The counter sees allocations at all.
    let mut keep = String::new();
    let n = allocations_in(|| keep = format!("{}", 12345));
    assert!(n >= 1, "the counting allocator must count: {n}");

    let long = "ü".repeat(1000);
    let n = allocations_in(|| {
        for i in 0..100u32 {
            log::info!("integer {i} hex {i:#x} padded {i:>8}");
            log::debug!("float {} {:.3} {:e}", f64::from(i) / 7.0, 1.5f32, 1e300);
            log::warn!(
                "{:?} {:#?}",
                Point {
                    x: -1,
                    y: 0.5,
                    name: "p"
                },
                [Some(1u8), None]
            );
            log::error!(target: "some::long::target::path::that::goes::on::and::on::and::on::forever", "{long}");
            log::trace!("{} {} {}", 'c', true, "str");
        }
    });
    assert_eq!(n, 0, "the logging path allocated {n} times");

    // Log from inside the allocator.
    let v: Vec<u8> = Vec::with_capacity(MAGIC);
    drop(v);
    assert_eq!(HOOK_LOGS.load(Ordering::Relaxed), 1);
    assert_eq!(HOOK_ALLOCS.load(Ordering::Relaxed), 0);

    guard.flush().unwrap();
    let text = out.text();
    assert_eq!(text.matches("integer ").count(), 100);
    assert_eq!(text.matches("…[truncated]").count(), 100);
    assert!(text.contains("alloc: allocating 77777 bytes"), "{text}");
    drop(guard);
}
