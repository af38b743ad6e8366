//! The probe of `bash .ci/verify symbols`: one `#[no_mangle]`, never-inlined function per
//! handler-reachable entry point of sigring, named `sigring_probe_*`, so `../check.py` can
//! find each one in the disassembly and follow every call it makes.
//!
//! An entry point is one line of the `entries!` list below: a name and the call, made on
//! the [`Fixtures`]. Everything the call needs beyond `f` comes through `black_box`, so the
//! compiler cannot fold the call away or specialise it for a known argument. A channel of
//! another kind gets a field in `Fixtures`, or lives in a `static` inside its line, e.g.
//! `sigring_probe_static_try_send(_f) => { static CH: ... = ...; CH.try_send(black_box(7)) };`
//!
//! `sigring_probe_log` calls `Logger::log` directly; `sigring_probe_log_macro` goes through
//! `log::warn!` and the `log` crate's global logger (a `&dyn Log`, allowed in `check.py` as
//! the one indirect call, since its target is `Logger::log` once sigring's is installed).
//!
//! # The value types
//!
//! `u8`, `u64`, a 64-byte array and `SigInfo` (what `signal::forward` sends): plain `Copy`
//! data without drop glue. That is deliberate: the contract covers what sigring does, and a
//! value with a destructor would add the *user's* `Drop` to the machine code (when
//! `try_send` hands a rejected value back and the caller drops it), which sigring neither
//! writes nor promises anything about.
//!
//! # What is not an entry point here
//!
//! * `Drop for Sender`: async-signal-safe only when it is not the last handle (the last one
//!   frees the buffer), a property of the run, not of the code, so the checker would
//!   rightly find the deallocation. `clone` is probed; its result is leaked rather than
//!   dropped.
//! * The closure `signal::forward` registers is not nameable from here. `main` calls
//!   `forward` so that the closure is compiled into the binary, and the checker finds it by
//!   its demangled name (`ENTRY_PATTERNS` in `check.py`); its parts are probed here too
//!   (`SigInfo::from_siginfo` and `try_send` of a `SigInfo`).
//! * signal-hook-registry's own handler, which calls that closure: the dependency's code
//!   (with `expect`, bounds-check and `abort` paths of its own that sigring cannot change).
//!
//! Running the binary calls every entry point once on a live channel, as a smoke test.

use std::hint::black_box;
use std::io;
use std::mem;

use log::Log;
use sigring::signal::SigInfo;
use sigring::{Receiver, Sender, StaticChannel};

/// A 64-byte value: a larger-than-a-register copy (`memcpy` territory).
type Block = [u8; 64];

/// The channels and the logger the entry points operate on.
pub struct Fixtures {
    u8: Sender<u8>,
    u64: Sender<u64>,
    block: Sender<Block>,
    sig: Sender<SigInfo>,
    logger: sigring::log::Logger,
    /// A shared channel's senders (`sigring::shared`).
    shared_u64: sigring::shared::Sender<u64>,
    shared_block: sigring::shared::Sender<Block>,
    /// A `siginfo_t` as a handler receives it.
    raw: libc::siginfo_t,
}

/// Defines one `#[no_mangle] #[inline(never)] fn NAME(f: &Fixtures)` per line, evaluating
/// the expression and passing its result through `black_box` (so it is computed, and
/// nothing of it is dropped inside the probe), and `ENTRIES`, the list `main` runs.
macro_rules! entries {
    ($($name:ident($f:ident) => $body:expr;)*) => {
        $(
            #[no_mangle]
            #[inline(never)]
            pub fn $name($f: &Fixtures) {
                let _ = black_box($body);
            }
        )*
        /// Every entry point, by name.
        const ENTRIES: &[(&str, fn(&Fixtures))] = &[$((stringify!($name), $name)),*];
    };
}

entries! {
    // `Sender`: try_send for each value type, and the queries and `clone` for two.
    sigring_probe_try_send_u8(f) => f.u8.try_send(black_box(7));
    sigring_probe_try_send_u64(f) => f.u64.try_send(black_box(7));
    sigring_probe_try_send_block(f) => f.block.try_send(black_box([7; 64]));
    sigring_probe_try_send_siginfo(f) => f.sig.try_send(SigInfo::from_siginfo(black_box(&f.raw)));
    sigring_probe_len(f) => black_box(&f.u64).len();
    sigring_probe_len_block(f) => black_box(&f.block).len();
    sigring_probe_is_empty(f) => black_box(&f.u64).is_empty();
    sigring_probe_is_full(f) => black_box(&f.u64).is_full();
    sigring_probe_capacity(f) => black_box(&f.u64).capacity();
    sigring_probe_full_rejections(f) => black_box(&f.u64).full_rejections();
    sigring_probe_clone(f) => mem::forget(black_box(&f.u64).clone());
    sigring_probe_clone_block(f) => mem::forget(black_box(&f.block).clone());
    // `StaticChannel`: a handler's `try_send` on the static itself, and its queries.
    sigring_probe_static_try_send(_f) => {
        static CH: StaticChannel<u64, 8> = StaticChannel::new();
        CH.try_send(black_box(7))
    };
    sigring_probe_static_try_send_block(_f) => {
        static CH: StaticChannel<[u8; 64], 3> = StaticChannel::new();
        CH.try_send(black_box([7; 64]))
    };
    sigring_probe_static_len(_f) => {
        static CH: StaticChannel<u8, 5> = StaticChannel::new();
        (black_box(&CH).len(), CH.is_full(), CH.is_empty(), CH.capacity())
    };
    // `shared::Sender`: a worker's handler sends into its lane (the first send of a process
    // claims the lane: `getpid`), and the sender's queries.
    sigring_probe_shared_try_send_u64(f) => f.shared_u64.try_send(black_box(7));
    sigring_probe_shared_try_send_block(f) => f.shared_block.try_send(black_box([7; 64]));
    sigring_probe_shared_queries(f) => (black_box(&f.shared_u64).capacity(), f.shared_u64.lanes());
    sigring_probe_shared_clone(f) => mem::forget(black_box(&f.shared_u64).clone());
    // `signal::forward`'s action: what it calls (the closure itself: see the module docs).
    sigring_probe_from_siginfo(f) => SigInfo::from_siginfo(black_box(&f.raw));
    // `sigring::log`: `Logger::log` directly, and through the `log` crate's macro.
    sigring_probe_log(f) =>
        f.logger.log(&record(format_args!("{} {}", black_box(10), black_box("s"))));
    sigring_probe_log_macro(_f) => log::warn!("{} {}", black_box(10_i32), black_box("s"));
}

/// A record with an integer and a `&str` argument, as a handler would log.
#[inline(always)]
fn record<'a>(args: std::fmt::Arguments<'a>) -> log::Record<'a> {
    log::Record::builder()
        .level(log::Level::Warn)
        .target(black_box("probe"))
        .args(args)
        .build()
}

fn main() -> io::Result<()> {
    let (u8_tx, _u8_rx): (Sender<u8>, Receiver<u8>) = sigring::channel(4)?;
    let (u64_tx, _u64_rx) = sigring::channel(4)?;
    let (block_tx, _block_rx) = sigring::channel(4)?;
    let (sig_tx, sig_rx) = sigring::channel(4)?;
    let (logger, guard) = sigring::log::Builder::new().writer(io::sink()).build()?;
    let (shared_u64, _shared_u64_rx) = sigring::shared::channel(4)?;
    let (shared_block, _shared_block_rx) = sigring::shared::channel(4)?;
    // SAFETY: `siginfo_t` is plain data; all zeroes is a valid value.
    let raw = unsafe { mem::zeroed() };
    let fixtures = Fixtures {
        u8: u8_tx,
        u64: u64_tx,
        block: block_tx,
        sig: sig_tx,
        logger,
        shared_u64,
        shared_block,
        raw,
    };
    for (name, entry) in ENTRIES {
        black_box(entry)(&fixtures);
        println!("called {name}");
    }

    // Compiles the closure `forward` registers into the binary, and runs it once.
    let forwarding = sigring::signal::forward(&[libc::SIGUSR1], &fixtures.sig)?;
    // SAFETY: `raise` has no preconditions; the action runs before it returns.
    unsafe { libc::raise(libc::SIGUSR1) };
    drop(forwarding);
    let forwarded = sig_rx
        .try_iter()
        .filter(|i| i.signal == libc::SIGUSR1)
        .count();
    println!("forwarded {forwarded} SIGUSR1");
    guard.flush()?;
    Ok(())
}
