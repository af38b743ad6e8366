//! The writer thread: receives records, turns them into lines, hands the lines to the
//! `io::Write` in batches, reports losses and answers flush markers.
//!
//! It is the only consumer of the channel and the only code that does I/O for the sink.
//! Nothing here runs on the record path, so it may allocate, lock and block.
//!
//! # Lines
//!
//! `"{secs:>6}.{micros:06} {level:<5} [{tid}] {target}: {text}"`, the `[{tid}] ` part
//! only when the record carries a thread id; the time is counted from the logger's
//! creation. Losses appear as `"sigring: {n} records dropped"`, each loss once, written
//! whenever the channel runs empty and before a flush is acknowledged.

use std::io::{self, Write};
use std::thread::{self, JoinHandle};

use super::record::{Entry, Msg};
use super::Shared;
use crate::sync::Arc;
use crate::{Receiver, TryRecvError};

/// Lines are collected in a batch and handed to the `io::Write` once the batch is this big,
/// when the channel runs empty, and on flush requests.
const BATCH_BYTES: usize = 64 * 1024;

/// Starts the writer thread (named `sigring-log`). `start_ns` is the zero of the time
/// column (`CLOCK_MONOTONIC`).
pub(super) fn spawn(
    rx: Receiver<Msg>,
    out: Box<dyn Write + Send>,
    shared: Arc<Shared>,
    start_ns: u64,
) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("sigring-log".into())
        .spawn(move || write_loop(rx, out, shared, start_ns))
}

/// The writer thread's body: drain, write, report losses, answer flushes.
fn write_loop(rx: Receiver<Msg>, out: Box<dyn Write + Send>, shared: Arc<Shared>, start_ns: u64) {
    let _serving = shared.flush.serve();
    // Declared after `_serving`, so dropped before it: when a panic unwinds out of here,
    // the receiver is gone (later `log()` calls see `Disconnected`) by the time flushers
    // are told the writer stopped.
    let rx = rx;
    let mut w = Writer {
        out,
        batch: Vec::with_capacity(BATCH_BYTES),
        shared: &shared,
        start_ns,
        reported: 0,
    };
    loop {
        let msg = match rx.try_recv() {
            Ok(msg) => msg,
            Err(TryRecvError::Empty) => {
                // Caught up: say what was lost and push the lines out before sleeping.
                w.report_dropped();
                w.flush();
                match rx.recv() {
                    Ok(msg) => msg,
                    Err(_) => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        match msg {
            Msg::Record(entry) => w.record(&entry),
            Msg::Flush { seq, stop: false } => w.answer_flush(seq),
            Msg::Flush { seq, stop: true } => {
                // Also write what raced with the stop request, then leave.
                while let Ok(msg) = rx.try_recv() {
                    match msg {
                        Msg::Record(entry) => w.record(&entry),
                        Msg::Flush { seq, .. } => w.answer_flush(seq),
                    }
                }
                w.answer_flush(seq);
                break;
            }
        }
    }
    // The receiver goes first, so later `log()` calls get `Disconnected` (and count it).
    drop(rx);
    w.report_dropped();
    w.flush();
}

/// The writer thread's side of the output.
struct Writer<'a> {
    out: Box<dyn Write + Send>,
    /// Lines not yet handed to `out`. Cleared after every hand-over, failed or not: a
    /// failed write loses those lines (and reports the error) rather than retrying them
    /// forever.
    batch: Vec<u8>,
    shared: &'a Shared,
    /// `CLOCK_MONOTONIC` when the logger was built: the zero of the time column.
    start_ns: u64,
    /// The `dropped` count already reported; never above `Losses::dropped`.
    reported: u64,
}

impl Writer<'_> {
    fn record(&mut self, e: &Entry) {
        let ns = e.mono_ns.saturating_sub(self.start_ns);
        let (secs, micros) = (ns / 1_000_000_000, (ns % 1_000_000_000) / 1000);
        // Writing into a `Vec` cannot fail.
        let _ = if e.tid != 0 {
            writeln!(
                self.batch,
                "{secs:>6}.{micros:06} {:<5} [{}] {}: {}",
                e.level,
                e.tid,
                e.target.as_str(),
                e.text.as_str()
            )
        } else {
            writeln!(
                self.batch,
                "{secs:>6}.{micros:06} {:<5} {}: {}",
                e.level,
                e.target.as_str(),
                e.text.as_str()
            )
        };
        if self.batch.len() >= BATCH_BYTES {
            self.write_batch();
        }
    }

    /// Step 3 of the flush protocol (see [`flush`](super::flush)): every record ahead of
    /// marker `seq` is in the batch; report losses, write and flush, then acknowledge.
    fn answer_flush(&mut self, seq: u64) {
        self.report_dropped();
        self.flush();
        self.shared.flush.acknowledge(seq);
    }

    /// Adds a `sigring: N records dropped` line for the losses not reported yet.
    fn report_dropped(&mut self) {
        let dropped = self.shared.losses.dropped();
        if dropped > self.reported {
            let _ = writeln!(
                self.batch,
                "sigring: {} records dropped",
                dropped - self.reported
            );
            self.reported = dropped;
        }
    }

    fn write_batch(&mut self) {
        if !self.batch.is_empty() {
            let res = self.out.write_all(&self.batch);
            self.batch.clear();
            self.check(res);
        }
    }

    /// Hands the batch to `out` and flushes `out`.
    fn flush(&mut self) {
        self.write_batch();
        let res = self.out.flush();
        self.check(res);
    }

    fn check(&mut self, res: io::Result<()>) {
        if let Err(e) = res {
            self.shared.flush.store_error(e);
        }
    }
}
