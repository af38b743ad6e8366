//! What the kernel counts: syscalls per message (child processes under `perf stat`), a
//! thread's CPU time, the load average.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use std::{env, fs};

use crate::measure::{idle_wake, throughput, Load};
use crate::peers::{with_chan, Peer};
use crate::scenarios::IDLE_SPACING;
use crate::stats::fmt_num;

/// CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub(crate) fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_THREAD_CPUTIME_ID always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The load average (1, 5, 15 minutes), as `/proc/loadavg` writes it.
pub(crate) fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// The tracepoints counted, if this kernel has them. `raw_syscalls:sys_enter` is every
/// syscall; the others give the breakdown.
const SYSCALL_EVENTS: [&str; 10] = [
    "raw_syscalls:sys_enter",
    "syscalls:sys_enter_write",
    "syscalls:sys_enter_read",
    "syscalls:sys_enter_futex",
    "syscalls:sys_enter_ppoll",
    "syscalls:sys_enter_poll",
    "syscalls:sys_enter_epoll_wait",
    "syscalls:sys_enter_epoll_pwait",
    "syscalls:sys_enter_sched_yield",
    "syscalls:sys_enter_clock_nanosleep",
];

/// Runs one scenario once in this (child) process and prints how many messages it moved:
/// `--child spsc PEER MILLISECONDS` or `--child idle PEER MESSAGES`.
pub(crate) fn child_main(args: &[String]) {
    let [scenario, peer, n] = args else {
        panic!("usage: --child spsc|idle PEER N");
    };
    let peer = Peer::from_key(peer).unwrap_or_else(|| panic!("unknown peer {peer}"));
    let n: u64 = n.parse().expect("N");
    let name = peer.name();
    let msgs = match scenario.as_str() {
        "spsc" => {
            let load = Load {
                producers: 1,
                dur: Duration::from_millis(n),
                work: 0,
            };
            with_chan!(peer, throughput(name, load)).msgs
        }
        "idle" => {
            with_chan!(peer, idle_wake(name, n as usize, IDLE_SPACING));
            n
        }
        other => panic!("unknown child scenario {other}"),
    };
    println!("{msgs}");
}

/// Which perf tracepoints exist here; empty if `perf stat` cannot count them.
pub(crate) fn perf_events() -> Vec<&'static str> {
    let ok = Command::new("perf")
        .args(["stat", "-x", ",", "-e", "raw_syscalls:sys_enter", "true"])
        .output()
        .map(|o| {
            o.status.success()
                && String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .any(|l| l.contains("raw_syscalls:sys_enter") && !l.starts_with('<'))
        })
        .unwrap_or(false);
    if !ok {
        return Vec::new();
    }
    SYSCALL_EVENTS
        .iter()
        .copied()
        .filter(|e| {
            let Some(name) = e.strip_prefix("syscalls:") else {
                return true;
            };
            ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]
                .iter()
                .any(|root| Path::new(&format!("{root}/events/syscalls/{name}")).exists())
        })
        .collect()
}

/// Runs `exe --child scenario peer n` under `perf stat`; returns the count per event and
/// the number of messages the child moved.
fn count_syscalls(
    events: &[&str],
    scenario: &str,
    peer: Peer,
    n: u64,
) -> (Vec<(String, f64)>, u64) {
    let exe = env::current_exe().expect("current_exe");
    let out = env::temp_dir().join(format!("sigring-bench-perf-{}.csv", std::process::id()));
    let child = Command::new("perf")
        .args(["stat", "-x", ",", "-o"])
        .arg(&out)
        .arg("-e")
        .arg(events.join(","))
        .arg("--")
        .arg(&exe)
        .args(["--child", scenario, peer.key(), &n.to_string()])
        .output()
        .expect("perf stat");
    assert!(
        child.status.success(),
        "child {scenario} {} failed: {}",
        peer.key(),
        String::from_utf8_lossy(&child.stderr)
    );
    let msgs: u64 = String::from_utf8_lossy(&child.stdout)
        .trim()
        .parse()
        .expect("child message count");
    let text = fs::read_to_string(&out).expect("perf output");
    let _ = fs::remove_file(&out);
    let counts = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split(',');
            let value = f.next()?.trim().parse::<f64>().ok()?;
            let _unit = f.next()?;
            let event = f.next()?.trim().to_string();
            Some((event, value))
        })
        .collect();
    (counts, msgs)
}

/// Syscalls per message: the child runs twice, with `0` and with `n` (milliseconds for
/// spsc, messages for idle), and per message = (syscalls(n) - syscalls(0)) / (msgs(n) -
/// msgs(0)), so process and thread start-up cancel out. Returns the total (less the
/// `exclude`d events) and a short breakdown.
pub(crate) fn syscalls_per_msg(
    events: &[&str],
    scenario: &str,
    peer: Peer,
    n: u64,
    exclude: &[&str],
) -> (f64, String) {
    let (small, m_small) = count_syscalls(events, scenario, peer, 0);
    let (large, m_large) = count_syscalls(events, scenario, peer, n);
    let msgs = m_large.saturating_sub(m_small).max(1) as f64;
    let get =
        |v: &[(String, f64)], e: &str| v.iter().find(|(k, _)| k == e).map_or(0.0, |(_, x)| *x);
    let per = |e: &str| ((get(&large, e) - get(&small, e)) / msgs).max(0.0);
    let mut total = per("raw_syscalls:sys_enter");
    for e in exclude {
        total -= per(e);
    }
    let mut parts = Vec::new();
    for e in events.iter().skip(1) {
        let v = per(e);
        if v >= 0.0005 {
            let short = e.trim_start_matches("syscalls:sys_enter_");
            let note = if exclude.contains(e) {
                " (excluded)"
            } else {
                ""
            };
            parts.push(format!("{short} {}{note}", fmt_num(v)));
        }
    }
    (total.max(0.0), parts.join(", "))
}
