//! Runs `examples/storm.rs` as a real process, briefly, and checks what it prints and how
//! it exits: the sigring storm passes its own checks on both backends, `--mutex` ends in a
//! deadlock that the watchdog reports (exit code 3) instead of hanging, and bad flags give
//! the usage message and exit code 2.
//!
//! `cargo test` builds the examples before running tests, into
//! `target/<profile>/examples/`, next to this test's `deps/` directory. When they were not
//! built (`cargo test --test example_storm`), the test builds the example with the same
//! cargo first.
//!
//! Every child runs under a timeout: a hang fails the test (the child is killed), it never
//! hangs the run. The tests are serialized so that two storms do not compete for the two
//! cores (the watchdog inside the demo looks for 2 s without progress). Not under Miri,
//! which cannot spawn processes.
#![cfg(all(target_os = "linux", not(miri)))]

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

static LOCK: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long one run of the demo may take before it counts as hung. Generous: a debug build
/// on a loaded 2-core machine; the runs themselves take 1 to 4 s.
const TIMEOUT: Duration = Duration::from_secs(120);

/// The path of the `storm` example binary, built if it is not there yet.
fn storm_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // target/<profile>/deps/example_storm-<hash>  ->  target/<profile>/examples/storm
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("the test binary lives in target/<profile>/deps")
            .to_path_buf();
        let bin = profile_dir.join("examples").join("storm");
        if !bin.exists() {
            let mut cmd = Command::new(env!("CARGO"));
            cmd.args(["build", "--example", "storm"]);
            if profile_dir.file_name().is_some_and(|n| n == "release") {
                cmd.arg("--release");
            }
            let status = cmd.status().expect("run cargo build --example storm");
            assert!(
                status.success(),
                "cargo build --example storm failed: {status}"
            );
        }
        assert!(
            bin.exists(),
            "{} does not exist; build it with `cargo build --example storm`",
            bin.display()
        );
        bin
    })
    .clone()
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the demo with `args`; kills it and fails the test if it outlives `TIMEOUT`.
fn storm(args: &[&str]) -> Run {
    let mut child = Command::new(storm_binary())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn storm");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut s = String::new();
            let _ = pipe.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out.join().unwrap_or_default();
            panic!("storm {args:?} did not finish within {TIMEOUT:?}; output so far:\n{stdout}");
        }
        thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

/// The number after `label` on the line that starts with it (after indentation).
fn number_after(stdout: &str, label: &str) -> u64 {
    let line = stdout
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line starting with {label:?} in:\n{stdout}"));
    line[label.len()..]
        .split_whitespace()
        .next()
        .and_then(|w| w.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in {line:?}"))
}

fn assert_clean_run(args: &[&str]) {
    let run = storm(args);
    let all = format!("{}\n--- stderr ---\n{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "storm {args:?} failed:\n{all}");
    for needle in [
        "deadlocks: 0",
        "per-source order: ok",
        "each value received exactly once: ok",
        "received + rejected == attempted: ok",
        "rx.full_rejections() == rejected as full: ok",
    ] {
        assert!(run.stdout.contains(needle), "{needle:?} missing:\n{all}");
    }
    assert!(!run.stdout.contains("FAILED"), "a check failed:\n{all}");
    // The storm really happened: signals reached the handler, which sent values that
    // were received. (Counts, not rates: nothing here depends on the machine's speed.)
    assert!(
        number_after(&run.stdout, "signals delivered:") > 0,
        "no signal delivered:\n{all}"
    );
    assert!(
        number_after(&run.stdout, "received:") > 0,
        "nothing received:\n{all}"
    );
    let handler_sent = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("sent:"))
        .and_then(|l| l.split("handler ").nth(1))
        .and_then(|r| r.trim_end_matches(')').parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no handler count on the sent: line:\n{all}"));
    assert!(handler_sent > 0, "the handler sent nothing:\n{all}");
}

#[test]
fn storm_default_backend_passes_its_checks() {
    let _serial = serial();
    assert_clean_run(&["--duration", "1", "--rate", "10000"]);
}

#[test]
fn storm_pipe_backend_passes_its_checks() {
    let _serial = serial();
    assert_clean_run(&[
        "--duration",
        "1",
        "--rate",
        "10000",
        "--backend",
        "pipe",
        "--capacity",
        "64",
    ]);
}

#[test]
fn storm_mutex_mode_deadlocks_and_is_reported() {
    let _serial = serial();
    let run = storm(&["--mutex", "--duration", "1", "--rate", "10000"]);
    let all = format!("{}\n--- stderr ---\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.code,
        Some(3),
        "expected the deadlock exit code 3:\n{all}"
    );
    assert!(
        run.stdout.contains(
            "deadlock detected: the signal handler blocked on the mutex held by the code it \
             interrupted"
        ),
        "deadlock not diagnosed:\n{all}"
    );
    assert!(run.stdout.contains("deadlocks: 1"), "{all}");
}

#[test]
fn storm_rejects_bad_flags_with_usage_and_code_2() {
    let _serial = serial();
    for args in [
        &["--rate", "fast"][..],
        &["--rate", "0"],
        &["--rate"],
        &["--duration", "-1"],
        &["--duration", "NaN"],
        &["--capacity", "0"],
        &["--capacity", "18446744073709551615"],
        &["--backend", "kqueue"],
        &["--mutex", "--backend", "pipe"],
        &["--bogus"],
    ] {
        let run = storm(args);
        assert_eq!(
            run.code,
            Some(2),
            "storm {args:?}: expected exit code 2\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert!(
            run.stderr.contains("usage: storm") || run.stderr.contains("--capacity"),
            "storm {args:?}: no usage or reason on stderr:\n{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("panicked"),
            "storm {args:?} panicked:\n{}",
            run.stderr
        );
    }
    let help = storm(&["--help"]);
    assert_eq!(help.code, Some(0));
    assert!(help.stdout.contains("usage: storm"), "{}", help.stdout);
}
