//! sigring against its peers: a purpose-built benchmark runner (`harness = false`).
//!
//! ```text
//! cargo bench --bench peers                 # full run, a few minutes
//! cargo bench --bench peers -- --quick      # about a minute
//! cargo bench --bench peers -- --help       # every option
//! ```
//!
//! Writes markdown tables to stdout and to `docs/bench-results.md`, the raw numbers to
//! `docs/bench-results.json`, and renders `docs/bench-throughput.svg` and
//! `docs/bench-latency.svg` from that JSON (`benches/chart.rs`, also runnable on its own as
//! `cargo bench --bench chart`). The method is described in `docs/benchmarks.md`.
//!
//! Every peer is bounded at [`peers::CAP`] and runs in the same process. Each scenario runs
//! its peers interleaved (A, B, C, ... then again, `--reps` times), so a noisy machine hits
//! all of them alike; tables show the median and the min–max over the repetitions. Every
//! scenario checks what it received (count, per-producer order, disconnect at the end) and
//! aborts the run on a wrong answer.
//!
//! | file | job |
//! |---|---|
//! | `main.rs` | parse the arguments, run the scenarios, write the reports |
//! | `config.rs` | the command line |
//! | `peers.rs` | the `Chan` trait, one implementation per peer, the row names |
//! | `references.rs` | the physical references: the bare ring, the raw eventfd |
//! | `measure.rs` | one run of one scenario for one channel (throughput, pingpong, idle wake) |
//! | `handler_push.rs` | `try_send` in a signal handler against plain code |
//! | `perf.rs` | syscalls per message under `perf stat`, thread CPU time, load average |
//! | `scenarios.rs` | the scenario list: each runs its rows and fills a table |
//! | `table.rs`, `stats.rs` | the results in memory; medians and number format |
//! | `report.rs` | markdown, JSON, charts, the targets |
//! | `schema.rs` | the JSON's schema, shared with `benches/chart.rs` |

// The chart renderer, which also brings the JSON schema (`chart::schema`).
#[allow(dead_code)]
#[path = "../chart.rs"]
mod chart;

mod config;
mod handler_push;
mod measure;
mod peers;
mod perf;
mod references;
mod report;
mod scenarios;
mod stats;
mod table;

use std::env;
use std::time::Instant;

use crate::perf::loadavg;
use crate::table::Table;

fn main() {
    let args: Vec<String> = env::args().collect();
    if let Some(pos) = args.iter().position(|a| a == "--child") {
        perf::child_main(&args[pos + 1..]);
        return;
    }
    let cfg = config::parse_args();
    let started = Instant::now();
    let load_start = loadavg();
    progress(&format!(
        "reps {}, {} peers, load {load_start}",
        cfg.reps,
        cfg.channels().len()
    ));
    let tables: Vec<Table> = scenarios::SCENARIOS
        .iter()
        .filter(|s| cfg.wants(s.key))
        .map(|s| (s.run)(&cfg))
        .collect();

    let meta = report::meta(&cfg, load_start, loadavg(), started.elapsed().as_secs_f64());
    let targets = report::targets(&tables);
    let md = report::markdown(&meta, &tables, &targets);
    println!("{md}");
    if let Some(dir) = &cfg.out {
        let results = report::results(meta, &tables, targets);
        match report::write(dir, &md, &results) {
            Ok(files) => {
                for f in files {
                    progress(&format!("wrote {}", f.display()));
                }
            }
            Err(e) => {
                progress(&format!("writing the results: {e}"));
                std::process::exit(1);
            }
        }
    }
}

/// A progress line on stderr (stdout gets the markdown).
fn progress(msg: &str) {
    eprintln!("[bench] {msg}");
}
