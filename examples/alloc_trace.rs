//! A `#[global_allocator]` that reports every large allocation through a `StaticChannel`
//! to a reporter thread, which prints a summary.
//!
//! ```text
//! cargo run --release --example alloc_trace              # allocations of 4096 bytes and more
//! cargo run --release --example alloc_trace -- 65536     # another threshold, in bytes
//! ALLOC_TRACE_THRESHOLD=1 cargo run --release --example alloc_trace   # every allocation
//! ```
//!
//! Why it takes a channel in a `static`: the allocator is called for every allocation of
//! every thread, from the first one before `main`, so whatever it sends into must already
//! exist and must never allocate or lock.
//!
//! * A boxed channel (sigring's `channel()`, std's, crossbeam's) cannot be created inside
//!   the allocator: creating it allocates, which calls the allocator again. Created lazily
//!   (a `OnceLock`), the first allocation recurses into its own initialisation; created in
//!   `main`, every allocation before that, and any on a thread racing the handover, has
//!   nowhere to go, and handing it over needs a pointer, a reference count and a careful
//!   retraction (see `tests/core_alloc_trace.rs` for what that takes).
//! * A `Mutex<Vec<_>>` deadlocks: the thread holding the lock pushes, the push grows the
//!   vector, the allocator takes the same lock.
//!
//! `StaticChannel::new` is `const`, so `BIG_ALLOCS` exists before the first allocation, and
//! `try_send` takes no lock and allocates nothing. Records sent before the reporter thread
//! calls `receiver()` wait in the channel (up to its capacity); when the reporter falls
//! behind, `try_send` refuses the record and the loss is counted (`full_rejections`),
//! instead of the allocating thread waiting.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use sigring::StaticChannel;

/// One reported allocation: plain data, copied into the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    size: usize,
    align: usize,
}

/// Tells the reporter to print its summary. No allocation has size 0 (`GlobalAlloc`
/// requires a non-zero size), so it cannot be mistaken for one.
const STOP: Record = Record { size: 0, align: 1 };

const DEFAULT_THRESHOLD: usize = 4096;

/// Allocations of at least this many bytes are reported. Active from the first allocation
/// of the process; `main` may change it.
static THRESHOLD: AtomicUsize = AtomicUsize::new(DEFAULT_THRESHOLD);

/// Where the allocator sends its records. A `const` value: it exists before `main`.
static BIG_ALLOCS: StaticChannel<Record, 1024> = StaticChannel::new();

struct Reporting;

impl Reporting {
    /// Called on every allocation, on whatever thread allocates. A relaxed load and, for a
    /// large block, one `try_send`: no lock, no allocation, never waits. A refused record
    /// is counted by the channel.
    #[inline]
    fn note(size: usize, align: usize) {
        if size >= THRESHOLD.load(Ordering::Relaxed) {
            let _ = BIG_ALLOCS.try_send(Record { size, align });
        }
    }
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged; `note`
// neither allocates nor touches the memory.
unsafe impl GlobalAlloc for Reporting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size(), layout.align());
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::note(layout.size(), layout.align());
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growing vector or string: the new block's size is what is allocated.
        Self::note(new_size, layout.align());
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Reporting = Reporting;

/// What the reporter has seen. Fixed-size: the reporter's own bookkeeping allocates
/// nothing (it would be reported too, which is harmless, but would blur the numbers).
struct Summary {
    count: u64,
    total: u128,
    largest: Record,
    /// `by_log2[k]`: allocations of `2^k ..= 2^(k+1) - 1` bytes.
    by_log2: [u64; usize::BITS as usize],
}

impl Summary {
    fn new() -> Self {
        Summary {
            count: 0,
            total: 0,
            largest: STOP,
            by_log2: [0; usize::BITS as usize],
        }
    }

    fn add(&mut self, r: Record) {
        self.count += 1;
        self.total += r.size as u128;
        if r.size > self.largest.size {
            self.largest = r;
        }
        self.by_log2[r.size.ilog2() as usize] += 1;
    }

    fn print(&self, out: &mut impl Write, threshold: usize, lost: u64) -> io::Result<()> {
        writeln!(
            out,
            "allocations of {} or more: {}, {} in all, the largest {} (align {})",
            human(threshold as u128),
            self.count,
            human(self.total),
            human(self.largest.size as u128),
            self.largest.align
        )?;
        let widest = self.by_log2.iter().copied().max().unwrap_or(0).max(1);
        for (k, &n) in self.by_log2.iter().enumerate().filter(|(_, &n)| n > 0) {
            let bar = "#".repeat(((n * 40).div_ceil(widest)) as usize);
            writeln!(
                out,
                "  {:>9} .. {:>9}  {n:>6}  {bar}",
                human(1 << k),
                human(1 << (k + 1)),
            )?;
        }
        writeln!(
            out,
            "lost (channel full when the allocator sent): {lost}{}",
            if lost == 0 {
                ""
            } else {
                " (the allocating threads never waited for the reporter)"
            }
        )
    }
}

/// `4096` -> `4 KiB`.
fn human(bytes: u128) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut unit = 0;
    let mut scaled = bytes as f64;
    while scaled >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    if unit == 0 || scaled.fract() == 0.0 {
        format!("{scaled:.0} {}", UNITS[unit])
    } else {
        format!("{scaled:.1} {}", UNITS[unit])
    }
}

/// The threshold: the first argument, else `ALLOC_TRACE_THRESHOLD`, else 4096.
fn threshold_from_args() -> Result<usize, String> {
    let raw = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("ALLOC_TRACE_THRESHOLD").ok());
    match raw {
        None => Ok(DEFAULT_THRESHOLD),
        Some(s) => match s.trim().parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!(
                "alloc_trace: the threshold must be a number of bytes >= 1, not {s:?}"
            )),
        },
    }
}

/// Some work that allocates: growing vectors and strings, a hash map, boxed buffers.
fn work(which: usize) -> usize {
    match which {
        0 => {
            let mut v: Vec<u64> = Vec::new();
            for i in 0..2_000_000 {
                v.push(i);
            }
            v.len()
        }
        1 => {
            let mut text = String::new();
            for i in 0..100_000 {
                text.push_str(&format!("line {i}: the quick brown fox\n"));
            }
            let pages: Vec<String> = (0..200).map(|i| "x".repeat(4096 + i * 64)).collect();
            text.len() + pages.len()
        }
        2 => {
            let mut map: HashMap<u64, String> = HashMap::new();
            for i in 0..200_000u64 {
                map.insert(i, i.to_string());
            }
            map.len()
        }
        _ => {
            let mut n = 0;
            for i in 0..64 {
                let buf = vec![0u8; 1 << (12 + i % 9)]; // 4 KiB .. 1 MiB, zeroed
                n += black_box(buf).len();
            }
            n
        }
    }
}

fn main() -> io::Result<()> {
    let threshold = match threshold_from_args() {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    THRESHOLD.store(threshold, Ordering::Relaxed);
    let start = Instant::now();

    // The receiver is created here, after allocations were already being reported: those
    // waited in the channel and are received first.
    let queued_before = BIG_ALLOCS.len();
    let rx = BIG_ALLOCS.receiver()?;
    let reporter = thread::Builder::new()
        .name("reporter".into())
        .spawn(move || {
            let mut summary = Summary::new();
            // `recv` sleeps while nothing is reported; the static never disconnects, so
            // `STOP` ends the loop.
            while let Ok(r) = rx.recv() {
                if r == STOP {
                    break;
                }
                summary.add(r);
            }
            (summary, rx)
        })?;

    let workers: Vec<_> = (0..4).map(|w| thread::spawn(move || work(w))).collect();
    for w in workers {
        black_box(w.join().expect("worker panicked"));
    }

    // `send`, not `try_send`: this thread may wait for room, so the stop is never lost.
    BIG_ALLOCS
        .send(STOP)
        .expect("the reporter holds the receiver");
    let (summary, rx) = reporter.join().expect("reporter panicked");

    let mut out = io::stdout().lock();
    writeln!(
        out,
        "alloc_trace: a #[global_allocator] sends each allocation of {} or more into a \
         StaticChannel<Record, 1024>",
        human(threshold as u128)
    )?;
    if queued_before > 0 {
        writeln!(
            out,
            "({queued_before} records were sent before the reporter's receiver existed; they \
             were received first)"
        )?;
    }
    summary.print(&mut out, threshold, rx.full_rejections())?;
    writeln!(
        out,
        "done in {:.0?}; the reporter woke {} times",
        start.elapsed(),
        rx.wakeups()
    )?;
    Ok(())
}
