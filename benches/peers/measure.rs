//! One run of one scenario for one channel: the generic measuring functions every table is
//! built from. Each checks what it received and panics on a wrong answer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};
use std::{hint, thread};

use crate::peers::{Chan, Msg};
use crate::perf::thread_cpu;

/// Checks per-producer order and counts; a wrong answer aborts the run.
struct Checker {
    next: Vec<u64>,
    name: &'static str,
}

impl Checker {
    fn new(producers: usize, name: &'static str) -> Self {
        Checker {
            next: vec![0; producers],
            name,
        }
    }

    #[inline]
    fn check(&mut self, m: Msg) {
        let expected = self.next.get_mut(m.a as usize);
        match expected {
            Some(e) if *e == m.b => *e += 1,
            _ => panic!(
                "{}: wrong message {m:?} (expected per-producer sequence {:?})",
                self.name, self.next
            ),
        }
    }

    /// Everything each producer sent was received.
    fn finish(&self, sent: &[u64]) {
        assert_eq!(
            self.next, sent,
            "{}: received vs sent per producer",
            self.name
        );
    }
}

/// The load of a throughput run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Load {
    /// Producer threads.
    pub(crate) producers: usize,
    /// How long the producers send.
    pub(crate) dur: Duration,
    /// Iterations of [`busy`] the consumer runs per value received (0: none).
    pub(crate) work: u64,
}

/// What one throughput run measured.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ThroughputRun {
    /// Messages per second received.
    pub(crate) rate: f64,
    /// Messages received.
    pub(crate) msgs: u64,
    /// The producers' CPU time (CLOCK_THREAD_CPUTIME_ID, summed over the producer threads)
    /// per message received, ns.
    pub(crate) producer_cpu_per_msg: f64,
}

/// `load.producers` threads send as fast as they can for `load.dur`; the main thread
/// receives, checks, and runs `load.work` iterations of [`busy`] per value. Producers look
/// at the stop flag every 256 messages, then drop their senders; the run ends when `recv`
/// reports the disconnect.
pub(crate) fn throughput<C: Chan>(name: &'static str, load: Load) -> ThroughputRun {
    let producers = load.producers;
    let (tx, mut rx) = C::new();
    let mut txs: Vec<C::Tx> = (1..producers).map(|_| C::clone_tx(&tx)).collect();
    txs.push(tx);
    let start = Arc::new(Barrier::new(producers + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = txs
        .into_iter()
        .enumerate()
        .map(|(p, tx)| {
            let start = start.clone();
            let stop = stop.clone();
            thread::spawn(move || {
                start.wait();
                let cpu0 = thread_cpu();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..256 {
                        C::send(&tx, Msg { a: p as u64, b: i });
                        i += 1;
                    }
                }
                drop(tx);
                (i, thread_cpu() - cpu0)
            })
        })
        .collect();
    let mut checker = Checker::new(producers, name);
    start.wait();
    let t0 = Instant::now();
    let mut n = 0u64;
    while let Some(m) = C::recv(&mut rx) {
        checker.check(m);
        if load.work > 0 {
            busy(load.work);
        }
        n += 1;
        if n % 1024 == 0 && t0.elapsed() >= load.dur {
            stop.store(true, Ordering::Relaxed);
        }
    }
    let elapsed = t0.elapsed();
    let (sent, cpu): (Vec<u64>, Vec<Duration>) = handles
        .into_iter()
        .map(|h| h.join().expect("producer panicked"))
        .unzip();
    checker.finish(&sent);
    let cpu: Duration = cpu.iter().sum();
    ThroughputRun {
        rate: n as f64 / elapsed.as_secs_f64(),
        msgs: n,
        producer_cpu_per_msg: cpu.as_nanos() as f64 / n.max(1) as f64,
    }
}

/// Busy work the optimizer cannot remove: `iters` rounds of a dependent multiply-add
/// chain. Returns the chain's end so nothing is dead.
#[inline(never)]
pub(crate) fn busy(iters: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..iters {
        x = hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i));
    }
    x
}

/// Iterations of [`busy`] that take about `target` on this machine: the fastest of a few
/// timed runs of at least 5 ms each (the fastest is the one least disturbed by anything
/// else running).
pub(crate) fn calibrate_busy(target: Duration) -> u64 {
    let mut n = 1_000u64;
    let mut t = Duration::ZERO;
    while t < Duration::from_millis(5) {
        n *= 2;
        let t0 = Instant::now();
        hint::black_box(busy(n));
        t = t0.elapsed();
    }
    let mut best = t;
    for _ in 0..4 {
        let t0 = Instant::now();
        hint::black_box(busy(n));
        best = best.min(t0.elapsed());
    }
    let per_iter_ns = best.as_nanos() as f64 / n as f64;
    ((target.as_nanos() as f64 / per_iter_ns).round() as u64).max(1)
}

/// Round trips over two channels, both sides blocking. Returns one-way latencies in ns
/// (round trip / 2).
pub(crate) fn pingpong<C: Chan>(name: &'static str, rounds: usize) -> Vec<f64> {
    let (tx_ab, mut rx_ab) = C::new();
    let (tx_ba, mut rx_ba) = C::new();
    let echo = thread::spawn(move || {
        while let Some(m) = C::recv(&mut rx_ab) {
            C::send(&tx_ba, m);
        }
    });
    let warmup = rounds / 10 + 10;
    let mut lat = Vec::with_capacity(rounds);
    for i in 0..(warmup + rounds) as u64 {
        let t0 = Instant::now();
        C::send(&tx_ab, Msg { a: i, b: 0 });
        let m = C::recv(&mut rx_ba).unwrap_or_else(|| panic!("{name}: echo gone"));
        let rtt = t0.elapsed();
        assert_eq!(m.a, i, "{name}: wrong echo");
        if i >= warmup as u64 {
            lat.push(rtt.as_nanos() as f64 / 2.0);
        }
    }
    drop(tx_ab);
    echo.join().expect("echo panicked");
    assert!(C::recv(&mut rx_ba).is_none(), "{name}: stray echo");
    lat
}

/// Sleeps (no spinning) until `deadline`.
pub(crate) fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        thread::sleep(deadline - now);
    }
}

/// What one idle-wake run measured.
pub(crate) struct IdleRun {
    /// Send-to-receive latencies, ns.
    pub(crate) lat: Vec<f64>,
    /// The consumer thread's CPU time per message, ns.
    pub(crate) cpu_per_msg: f64,
}

/// A producer sends one message every `spacing`, the consumer sleeps in between.
pub(crate) fn idle_wake<C: Chan>(name: &'static str, msgs: usize, spacing: Duration) -> IdleRun {
    let (tx, mut rx) = C::new();
    let base = Instant::now();
    let consumer = thread::spawn(move || {
        let cpu0 = thread_cpu();
        let mut lat = Vec::with_capacity(msgs);
        for i in 0..msgs as u64 {
            let m = C::recv(&mut rx).unwrap_or_else(|| panic!("{name}: disconnected early"));
            let now = base.elapsed().as_nanos() as u64;
            assert_eq!(m.a, i, "{name}: wrong message");
            lat.push(now.saturating_sub(m.b) as f64);
        }
        assert!(C::recv(&mut rx).is_none(), "{name}: stray message");
        let cpu = thread_cpu() - cpu0;
        IdleRun {
            lat,
            cpu_per_msg: cpu.as_nanos() as f64 / msgs as f64,
        }
    });
    // Give the consumer time to fall asleep before the first message.
    thread::sleep(spacing * 5);
    let t0 = Instant::now();
    for i in 0..msgs as u64 {
        sleep_until(t0 + spacing * (i as u32 + 1));
        let b = base.elapsed().as_nanos() as u64;
        C::send(&tx, Msg { a: i, b });
    }
    drop(tx);
    consumer.join().expect("consumer panicked")
}
