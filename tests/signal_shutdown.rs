//! Runs `examples/shutdown.rs` as a real process and stops it with `SIGTERM` (and, in a
//! second run, `SIGINT`): it must exit 0 after stopping and joining its workers, report the
//! signal with our pid and uid, keep its workers off the signals (their masks, read from
//! `/proc`), and its main thread must have used almost no CPU while it waited.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;
mod signal_support;

use std::time::Duration;

use common::watchdog;
use signal_support::{example_binary, field, Running};

/// The `Sig*` mask `key` of `/proc/<pid>/task/<tid>/status`, as a bit set.
fn task_mask(pid: libc::pid_t, tid: &str, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status"))
        .unwrap_or_else(|e| panic!("read status of task {tid}: {e}"));
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in task {tid}'s status"));
    u64::from_str_radix(line.trim(), 16).expect("hex mask")
}

fn bit(signal: libc::c_int) -> u64 {
    1 << (signal - 1)
}

/// The threads of `pid`: (tid, name).
fn threads(pid: libc::pid_t) -> Vec<(String, String)> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("read task dir")
        .flatten()
        .map(|e| {
            let tid = e.file_name().to_string_lossy().into_owned();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
                .unwrap_or_default()
                .trim()
                .to_owned();
            (tid, comm)
        })
        .collect()
}

fn run(signal: libc::c_int, signal_name: &str) {
    const WORKERS: usize = 3;
    const IDLE: Duration = Duration::from_millis(1500);
    let bin = example_binary("shutdown");
    let mut app = Running::start(&bin, &["--workers", &WORKERS.to_string()]);
    let pid = app.pid();
    let ready = app.wait_for_line(Duration::from_secs(60), |l| l.starts_with("ready "));
    assert_eq!(
        field(&ready, "pid"),
        Some(pid.to_string().as_str()),
        "{ready}"
    );

    // Workers block the forwarded signals; the main thread does not, so a process-directed
    // signal can only be delivered there.
    let both = bit(libc::SIGTERM) | bit(libc::SIGINT);
    // A new thread names itself once it runs, possibly after "ready": look until all are.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let (tasks, workers) = loop {
        let tasks = threads(pid);
        let workers: Vec<(String, String)> = tasks
            .iter()
            .filter(|(_, n)| n.starts_with("worker-"))
            .cloned()
            .collect();
        if workers.len() >= WORKERS || std::time::Instant::now() > deadline {
            break (tasks, workers);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(workers.len(), WORKERS, "threads: {tasks:?}");
    for (tid, name) in &workers {
        let blocked = task_mask(pid, tid, "SigBlk");
        assert_eq!(
            blocked & both,
            both,
            "{name} does not block SIGTERM and SIGINT: {blocked:x}"
        );
    }
    let main_blocked = task_mask(pid, &pid.to_string(), "SigBlk");
    assert_eq!(
        main_blocked & both,
        0,
        "main thread blocks {main_blocked:x}"
    );
    assert_eq!(
        task_mask(pid, &pid.to_string(), "SigCgt") & both,
        both,
        "SIGTERM/SIGINT not caught"
    );

    // Let it idle, then ask it to stop.
    std::thread::sleep(IDLE);
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our live child.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let status = app.wait(Duration::from_secs(60));
    let out = app.seen.join("\n");
    assert_eq!(status.code(), Some(0), "exit status {status}\n{out}");

    // SAFETY: `getpid`/`getuid` cannot fail.
    let (me, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let expected = format!("received {signal_name} ({signal}) from pid={me} uid={uid} via kill");
    assert!(out.contains(&expected), "expected `{expected}` in\n{out}");
    for id in 0..WORKERS {
        let line = app
            .seen
            .iter()
            .find(|l| l.starts_with(&format!("worker {id} finished ")))
            .unwrap_or_else(|| panic!("no report from worker {id}\n{out}"));
        let jobs: u64 = line
            .split(' ')
            .nth(3)
            .and_then(|n| n.parse().ok())
            .expect(line);
        assert!(
            jobs > 0,
            "worker {id} finished no job while we idled {IDLE:?}\n{out}"
        );
    }
    assert!(out.ends_with("clean exit"), "{out}");

    let idle = app
        .seen
        .iter()
        .find(|l| l.starts_with("main thread idle: "))
        .unwrap_or_else(|| panic!("no idle report\n{out}"));
    let waited_ms: u64 = field(idle, "waited_ms")
        .and_then(|v| v.parse().ok())
        .expect(idle);
    let cpu_us: u64 = field(idle, "cpu_us")
        .and_then(|v| v.parse().ok())
        .expect(idle);
    let wakeups: u64 = field(idle, "wakeups")
        .and_then(|v| v.parse().ok())
        .expect(idle);
    assert!(waited_ms >= 1000, "waited only {waited_ms} ms\n{out}");
    // Sleeping in poll costs nothing; a busy or periodically waking wait would show here.
    // 50 ms of CPU in at least 1.5 s of waiting is a generous bound.
    assert!(
        cpu_us < 50_000,
        "main thread used {cpu_us} us CPU while idle\n{out}"
    );
    assert_eq!(
        wakeups, 1,
        "the idle main thread was woken more than once\n{out}"
    );
    eprintln!("{signal_name}: {idle}");
}

#[test]
fn sigterm_stops_workers_and_exits_cleanly() {
    let _wd = watchdog(240, "sigterm_stops_workers_and_exits_cleanly");
    run(libc::SIGTERM, "SIGTERM");
}

#[test]
fn sigint_stops_workers_and_exits_cleanly() {
    let _wd = watchdog(240, "sigint_stops_workers_and_exits_cleanly");
    run(libc::SIGINT, "SIGINT");
}
