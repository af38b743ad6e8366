//! The scenarios, in the order they run and appear: each runs its rows interleaved
//! (A, B, C, ... then again, `--reps` times) and returns its [`Table`].

use std::time::{Duration, Instant};

use crate::config::Config;
use crate::handler_push::handler_push;
use crate::measure::{calibrate_busy, idle_wake, pingpong, throughput, Load};
use crate::peers::{with_chan, Peer, CAP};
use crate::perf::{perf_events, syscalls_per_msg};
use crate::progress;
use crate::references::{idle_wake_eventfd, pingpong_eventfd};
use crate::stats::{fmt_num, percentile};
use crate::table::{Metric, Table};

/// A scenario: its key (for `--only`) and how to run it.
pub(crate) struct Scenario {
    pub(crate) key: &'static str,
    pub(crate) run: fn(&Config) -> Table,
}

/// Every scenario, in order.
pub(crate) const SCENARIOS: [Scenario; 9] = [
    Scenario {
        key: "spsc",
        run: spsc,
    },
    Scenario {
        key: "mpsc2",
        run: mpsc2,
    },
    Scenario {
        key: "mpsc4",
        run: mpsc4,
    },
    Scenario {
        key: "mpsc16",
        run: mpsc16,
    },
    Scenario {
        key: "slow_consumer",
        run: slow_consumer,
    },
    Scenario {
        key: "pingpong",
        run: pingpong_table,
    },
    Scenario {
        key: "idle_wake",
        run: idle_wake_table,
    },
    Scenario {
        key: "syscalls",
        run: syscalls,
    },
    Scenario {
        key: "handler_push",
        run: handler_push_table,
    },
];

/// How often the `idle_wake` producer sends (also in the `syscalls` child runs).
pub(crate) const IDLE_SPACING: Duration = Duration::from_micros(200);

/// The `slow_consumer` consumer's busy work per value.
const SLOW_WORK: Duration = Duration::from_micros(1);
/// Producers in `slow_consumer`.
const SLOW_PRODUCERS: usize = 4;

/// The labels of `handler_push`'s two headline rows (the targets look them up).
pub(crate) const HP_PLAIN: &str = "try_send, plain code";
pub(crate) const HP_HANDLER: &str = "try_send in a SIGUSR1 handler";

fn spsc(cfg: &Config) -> Table {
    saturated(cfg, "spsc", 1)
}

fn mpsc2(cfg: &Config) -> Table {
    saturated(cfg, "mpsc2", 2)
}

fn mpsc4(cfg: &Config) -> Table {
    saturated(cfg, "mpsc4", 4)
}

fn mpsc16(cfg: &Config) -> Table {
    saturated(cfg, "mpsc16", 16)
}

/// Throughput with `producers` producers sending as fast as they can. `spsc` adds the
/// bare ring, its ceiling.
fn saturated(cfg: &Config, key: &'static str, producers: usize) -> Table {
    let dur = Duration::from_millis(cfg.n(400, 150));
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut about = format!(
        "{producers} producer thread(s) send 16-byte messages as fast as they can for {} ms \
         through a channel of capacity {CAP} (peers with only `try_send` retry with \
         crossbeam's `Backoff::snooze`); the consumer blocks in `recv`. Order per producer \
         and the count (received = sent) are checked.",
        dur.as_millis()
    );
    if producers > cpus {
        about.push_str(&format!(
            " With more producers than the machine's {cpus} CPUs, most producers are off the \
             CPU at any moment: a producer that spins or yields while the channel is full \
             takes CPU time from the consumer and from the producers that could send."
        ));
    }
    let mut table = Table::new(
        key,
        format!("{key}: {producers} producer(s), throughput (Mmsg/s, higher is better)"),
        about,
        vec![Metric::new("mmsg_s", "Mmsg/s", true)],
    );
    let mut peers = cfg.channels();
    if producers == 1 {
        peers.push(Peer::BareRing);
    }
    let load = Load {
        producers,
        dur,
        work: 0,
    };
    let t0 = Instant::now();
    for rep in 0..cfg.reps {
        for &peer in &peers {
            let run = with_chan!(peer, throughput(peer.name(), load));
            let rate = run.rate / 1e6;
            progress(&format!(
                "{key} rep {rep} {:<28} {:>8} Mmsg/s",
                peer.name(),
                fmt_num(rate)
            ));
            table.add(peer, None, &[rate]);
        }
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}

/// Producers that mostly wait: the consumer does about 1 us of busy work per value, so the
/// channel is full nearly all the time. What counts is what waiting costs the producers.
fn slow_consumer(cfg: &Config) -> Table {
    let dur = Duration::from_millis(cfg.n(400, 150));
    let work = calibrate_busy(SLOW_WORK);
    progress(&format!(
        "slow_consumer: {work} busy-loop iterations take about {} us here",
        SLOW_WORK.as_micros()
    ));
    let mut table = Table::new(
        "slow_consumer",
        format!(
            "slow_consumer: {SLOW_PRODUCERS} producers, a consumer busy ~{} us per value \
             (Mmsg/s, higher is better; producers' CPU per message, lower is better)",
            SLOW_WORK.as_micros()
        ),
        format!(
            "{SLOW_PRODUCERS} producer threads send as fast as they can for {} ms through a \
             channel of capacity {CAP}; the consumer blocks in `recv` and, after each value, \
             spins for about {} us ({work} iterations of a multiply-add chain, calibrated at \
             the start of the scenario), so the channel is full nearly all the time and the \
             producers mostly wait. Producers' CPU/msg: the producer threads' CPU time \
             (CLOCK_THREAD_CPUTIME_ID), summed, divided by the messages received; a producer \
             that parks while the channel is full costs little, one that spins or yields \
             costs up to a CPU. Order per producer and the count are checked.",
            dur.as_millis(),
            SLOW_WORK.as_micros()
        ),
        vec![
            Metric::new("mmsg_s", "Mmsg/s", true),
            Metric::new("producer_cpu_us_per_msg", "producers' CPU/msg (us)", false),
        ],
    );
    let peers = cfg.channels();
    let load = Load {
        producers: SLOW_PRODUCERS,
        dur,
        work,
    };
    let t0 = Instant::now();
    for rep in 0..cfg.reps {
        for &peer in &peers {
            let run = with_chan!(peer, throughput(peer.name(), load));
            let rate = run.rate / 1e6;
            let cpu = run.producer_cpu_per_msg / 1e3;
            progress(&format!(
                "slow_consumer rep {rep} {:<28} {:>8} Mmsg/s  producers {:>7} us CPU/msg",
                peer.name(),
                fmt_num(rate),
                fmt_num(cpu)
            ));
            table.add(peer, None, &[rate, cpu]);
        }
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}

fn pingpong_table(cfg: &Config) -> Table {
    let rounds = cfg.n(20_000, 5_000) as usize;
    let mut table = Table::new(
        "pingpong",
        "pingpong: one-way latency over two channels (us, lower is better)".into(),
        format!(
            "{rounds} round trips (after {} warm-up rounds) over two channels, both sides \
             blocking in `recv`; one-way = round trip / 2. Each repetition gives a p50 and \
             a p99; the table shows their median and min-max over repetitions.",
            rounds / 10 + 10
        ),
        vec![
            Metric::new("p50_us", "p50 (us)", false),
            Metric::new("p99_us", "p99 (us)", false),
        ],
    );
    let mut peers = cfg.channels();
    peers.push(Peer::RawEventfd);
    let t0 = Instant::now();
    for rep in 0..cfg.reps {
        for &peer in &peers {
            let mut lat = if peer == Peer::RawEventfd {
                pingpong_eventfd(rounds)
            } else {
                with_chan!(peer, pingpong(peer.name(), rounds))
            };
            let p50 = percentile(&mut lat, 0.5) / 1e3;
            let p99 = percentile(&mut lat, 0.99) / 1e3;
            progress(&format!(
                "pingpong rep {rep} {:<28} p50 {:>7} us  p99 {:>7} us",
                peer.name(),
                fmt_num(p50),
                fmt_num(p99)
            ));
            table.add(peer, None, &[p50, p99]);
        }
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}

fn idle_wake_table(cfg: &Config) -> Table {
    let msgs = cfg.n(2_000, 500) as usize;
    let mut table = Table::new(
        "idle_wake",
        "idle_wake: one message every 200 us to a sleeping consumer (lower is better)".into(),
        format!(
            "The producer sleeps until the next 200 us tick and sends {msgs} messages \
             carrying their send time; the consumer blocks in `recv` and records \
             receive time - send time, and its own thread CPU time \
             (CLOCK_THREAD_CPUTIME_ID) per message. The reference row is the same with \
             a bare eventfd: write(1) -> poll(2) + read(2)."
        ),
        vec![
            Metric::new("p50_us", "p50 (us)", false),
            Metric::new("p99_us", "p99 (us)", false),
            Metric::new("cpu_us_per_msg", "consumer CPU/msg (us)", false),
        ],
    );
    let mut peers = cfg.channels();
    peers.push(Peer::RawEventfd);
    let t0 = Instant::now();
    for rep in 0..cfg.reps {
        for &peer in &peers {
            let mut run = if peer == Peer::RawEventfd {
                idle_wake_eventfd(msgs, IDLE_SPACING)
            } else {
                with_chan!(peer, idle_wake(peer.name(), msgs, IDLE_SPACING))
            };
            let p50 = percentile(&mut run.lat, 0.5) / 1e3;
            let p99 = percentile(&mut run.lat, 0.99) / 1e3;
            let cpu = run.cpu_per_msg / 1e3;
            progress(&format!(
                "idle_wake rep {rep} {:<28} p50 {:>7} us  p99 {:>7} us  cpu {:>6} us/msg",
                peer.name(),
                fmt_num(p50),
                fmt_num(p99),
                fmt_num(cpu)
            ));
            table.add(peer, None, &[p50, p99, cpu]);
        }
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}

fn syscalls(cfg: &Config) -> Table {
    let events = perf_events();
    let n_spsc = cfg.n(300, 150);
    let n_idle = cfg.n(400, 150);
    let reps = if cfg.quick { 1 } else { cfg.reps.min(3) };
    let mut table = Table::new(
        "syscalls",
        "syscalls per message (lower is better)".into(),
        format!(
            "Each peer runs `spsc` and `idle_wake` once in a child process under \
             `perf stat -e raw_syscalls:sys_enter,syscalls:sys_enter_*`, twice: an empty \
             run (spsc for 0 ms, idle_wake with 0 messages) and a real one (spsc for \
             {n_spsc} ms, idle_wake with {n_idle} messages). Per message = (syscalls of \
             the real run - of the empty run) / (messages of the real run - of the empty \
             run), so process and thread start-up cancel. In idle_wake the producer's own \
             `clock_nanosleep` (one per message for everyone) is excluded. The breakdown \
             (median repetition) names the syscalls. {reps} repetition(s)."
        ),
        vec![
            Metric::new("spsc", "spsc", false),
            Metric::new("idle_wake", "idle_wake", false),
        ],
    );
    let t0 = Instant::now();
    if events.is_empty() {
        table
            .about
            .push_str("\n\n**Skipped: `perf stat` cannot count syscall tracepoints here.**");
        progress("syscalls: perf stat cannot count tracepoints here; skipped");
        table.seconds = t0.elapsed().as_secs_f64();
        return table;
    }
    // Per peer: (spsc, idle) samples with their breakdowns.
    type Noted = Vec<(f64, String)>;
    let mut notes: Vec<(Peer, Noted, Noted)> = Vec::new();
    for rep in 0..reps {
        for peer in cfg.channels() {
            let (s, s_note) = syscalls_per_msg(&events, "spsc", peer, n_spsc, &[]);
            let (i, i_note) = syscalls_per_msg(
                &events,
                "idle",
                peer,
                n_idle,
                &["syscalls:sys_enter_clock_nanosleep"],
            );
            progress(&format!(
                "syscalls rep {rep} {:<28} spsc {:>7}/msg  idle {:>7}/msg",
                peer.name(),
                fmt_num(s),
                fmt_num(i)
            ));
            table.add(peer, None, &[s, i]);
            match notes.iter_mut().find(|(p, _, _)| *p == peer) {
                Some((_, a, b)) => {
                    a.push((s, s_note));
                    b.push((i, i_note));
                }
                None => notes.push((peer, vec![(s, s_note)], vec![(i, i_note)])),
            }
        }
    }
    for (peer, mut a, mut b) in notes {
        a.sort_by(|x, y| x.0.total_cmp(&y.0));
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        let note = format!("spsc: {}; idle: {}", a[a.len() / 2].1, b[b.len() / 2].1);
        table.row_mut(peer, None).note = note;
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}

fn handler_push_table(cfg: &Config) -> Table {
    let rounds = cfg.n(2_000, 500) as usize;
    let batch = 100;
    let mut table = Table::new(
        "handler_push",
        "handler_push: one try_send from a signal handler vs from plain code (ns, lower is better)"
            .into(),
        format!(
            "sigring (eventfd). {rounds} rounds of three batches of {batch}: plain \
             `try_send` in a loop; `raise(SIGUSR1)` whose handler only tests a flag \
             (baseline); the same with the flag set, the handler making one `try_send`. \
             In-handler cost = median over rounds of (pushing batch - baseline batch), \
             i.e. the cost of raising and delivering the signal is subtracted. The ring is \
             drained outside the timing by exactly the count pushed, so it never fills and \
             the receiver never arms its wake-up (no push makes a syscall; checked). The \
             `timed` column is a cross-check: each `try_send` timed on its own with \
             `Instant::now` (two clock reads included), in plain code and in the handler."
        ),
        vec![
            Metric::new("ns", "ns per push", false),
            Metric::new("timed_ns", "timed (ns, incl. 2 clock reads)", false),
        ],
    );
    let t0 = Instant::now();
    for rep in 0..cfg.reps {
        let r = handler_push(rounds, batch);
        progress(&format!(
            "handler_push rep {rep}: plain {} ns, handler {} ns (raise+flag {} ns, \
             raise+push {} ns); timed: plain {} ns, handler {} ns",
            fmt_num(r.plain),
            fmt_num(r.handler),
            fmt_num(r.raise_empty),
            fmt_num(r.raise_push),
            fmt_num(r.plain_timed),
            fmt_num(r.handler_timed)
        ));
        let p = Peer::SigringEventfd;
        table.add(p, Some(HP_PLAIN), &[r.plain, r.plain_timed]);
        table.add(p, Some(HP_HANDLER), &[r.handler, r.handler_timed]);
        table.add(
            p,
            Some("raise + pushing handler (raw)"),
            &[r.raise_push, f64::NAN],
        );
        table.add(
            p,
            Some("raise + flag-only handler (baseline)"),
            &[r.raise_empty, f64::NAN],
        );
    }
    table.seconds = t0.elapsed().as_secs_f64();
    table
}
