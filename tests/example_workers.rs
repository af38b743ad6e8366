//! Runs `examples/workers.rs` as a real process group: a supervisor that forks worker
//! processes (no `exec`) and stops them on a signal.
//!
//! * `--run-for 1`: the supervisor sends itself `SIGTERM` after a second, stops every
//!   worker with `SIGTERM`, reaps each (exit 0), finds no zombie, saw no stray wake-up, and
//!   exits 0.
//! * Ctrl-C: the test sends `SIGINT` to the whole process group, as a terminal does. The
//!   workers leave it to the supervisor (each still ends on the supervisor's `SIGTERM`),
//!   and the result is the same.
//! * Bad flags: usage on stderr and exit code 2.
//!
//! Each run is its own process group (`process_group(0)`), which the test kills as a whole
//! if it fails; the supervisor also dies with the test (`PR_SET_PDEATHSIG`), and its
//! workers then notice it is gone. After a run the group must be empty: no worker outlives
//! the supervisor. Not under Miri, which cannot spawn processes.
#![cfg(all(target_os = "linux", feature = "signal", not(miri)))]

mod common;
mod signal_support;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use common::{serial, watchdog};
use signal_support::{example_binary, field};

static LOCK: Mutex<()> = Mutex::new(());

/// How long one run may take before it counts as hung (a debug build on a loaded machine;
/// the runs themselves take about a second).
const TIMEOUT: Duration = Duration::from_secs(60);

fn workers_binary() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| example_binary("workers")).clone()
}

/// The supervisor's process group: stdout lines through a reader thread; the whole group
/// is killed if the test fails.
struct Group {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    stderr: Option<thread::JoinHandle<String>>,
}

impl Group {
    fn start(args: &[&str]) -> Group {
        let mut cmd = Command::new(workers_binary());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        // SAFETY: the hook only calls `prctl`, a plain syscall (async-signal-safe), and
        // reads errno; it allocates nothing.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn the workers example");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Group {
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// The supervisor's pid, which is also the group's id.
    fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Reads lines until `count` of them satisfied `pred`.
    fn wait_for_lines(&mut self, count: usize, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        let mut found = self.seen.iter().filter(|l| pred(l)).count();
        while found < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    found += usize::from(pred(&line));
                    self.seen.push(line);
                }
                Err(e) => panic!(
                    "{found} of {count} expected lines ({e:?}); output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for the supervisor to exit; returns its status, all of stdout, and stderr.
    fn wait(&mut self) -> (ExitStatus, String, String) {
        let deadline = Instant::now() + TIMEOUT;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "the supervisor did not exit within {TIMEOUT:?}; output so far:\n{}",
                self.seen.join("\n")
            );
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe closes when the last process holding it (supervisor or worker) is gone.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        let stderr = self
            .stderr
            .take()
            .map(|t| t.join().unwrap_or_default())
            .unwrap_or_default();
        (status, self.seen.join("\n"), stderr)
    }

    /// Whether any process of the group is still there (a zombie counts until reaped).
    fn group_alive(&self) -> bool {
        // SAFETY: signal 0 only checks for existence.
        unsafe { libc::kill(-self.pid(), 0) == 0 }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: the group was created for this run; killing it cannot hit anything else.
        unsafe { libc::kill(-self.pid(), libc::SIGKILL) };
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.wait();
        }
    }
}

/// The checks every clean run passes: each started worker was ready with the supervisor's
/// channel disconnected, ended on the supervisor's SIGTERM and was reaped with exit 0;
/// no zombie, no stray wake-up, exit 0, and no process of the group left.
fn assert_clean_shutdown(group: &mut Group, workers: usize) -> String {
    let supervisor = group.pid().to_string();
    let (status, out, stderr) = group.wait();
    let all = format!("{out}\n--- stderr ---\n{stderr}");
    assert!(
        status.success(),
        "the supervisor exited with {status}:\n{all}"
    );
    let started: Vec<(String, String)> = out
        .lines()
        .filter(|l| l.starts_with("started worker "))
        .map(|l| {
            let index = l.split(' ').nth(2).unwrap_or_default().to_string();
            let pid = field(l, "pid").unwrap_or_default().to_string();
            (index, pid)
        })
        .collect();
    assert_eq!(started.len(), workers, "started workers:\n{all}");
    for (index, pid) in &started {
        let ready = format!("worker {index} pid={pid}: ready");
        assert!(
            out.lines().any(|l| l.starts_with(&ready)
                && l.contains("the supervisor's channel here: Disconnected")),
            "worker {index}: no ready line with a disconnected inherited channel:\n{all}"
        );
        let stopped = format!("worker {index} pid={pid}: SIGTERM from pid={supervisor} after ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&stopped) && l.ends_with("exiting 0")),
            "worker {index}: not stopped by the supervisor's SIGTERM:\n{all}"
        );
        let reaped = format!("reaped worker {index} pid={pid} ");
        assert!(
            out.lines()
                .any(|l| l == format!("{reaped}exit:0") || l == format!("{reaped}signal:SIGTERM")),
            "worker {index}: not reaped with exit 0 or SIGTERM:\n{all}"
        );
    }
    for needle in [
        format!("all {workers} workers reaped: {workers} as told, 0 otherwise"),
        "no zombies (waitpid: ECHILD)".to_string(),
        "stray wake-ups: 0".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == needle),
            "{needle:?} missing:\n{all}"
        );
    }
    assert!(!out.contains("UNEXPECTED"), "{all}");
    assert!(
        !group.group_alive(),
        "a process of the group outlived the supervisor:\n{all}"
    );
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
    out
}

#[test]
fn run_for_one_second_stops_and_reaps_every_worker() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(300, "run_for_one_second_stops_and_reaps_every_worker");
    let mut group = Group::start(&["--run-for", "1"]);
    let out = assert_clean_shutdown(&mut group, 3);
    let me = group.pid();
    assert!(
        out.lines().any(|l| l.starts_with(&format!(
            "shutdown: SIGTERM from pid={me} (self, --run-for); sending SIGTERM to 3 worker(s)"
        ))),
        "no self-SIGTERM shutdown:\n{out}"
    );
    eprintln!("{out}");
}

#[test]
fn ctrl_c_to_the_process_group_stops_and_reaps_every_worker() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(
        300,
        "ctrl_c_to_the_process_group_stops_and_reaps_every_worker",
    );
    const WORKERS: usize = 4;
    let mut group = Group::start(&["--workers", "4"]);
    // Every worker forwards its own SIGTERM by now (a SIGINT earlier would be held, not
    // lost, but the point here is a group of running workers).
    group.wait_for_lines(WORKERS, |l| l.contains(": ready ("));
    // Some jobs done, the supervisor asleep in `recv`.
    thread::sleep(Duration::from_millis(300));
    // SAFETY: `kill` to the group made for this run, as a terminal's Ctrl-C does.
    let rc = unsafe { libc::kill(-group.pid(), libc::SIGINT) };
    assert_eq!(rc, 0, "kill: {}", std::io::Error::last_os_error());
    let out = assert_clean_shutdown(&mut group, WORKERS);
    // SAFETY: `getpid` has no preconditions.
    let me = unsafe { libc::getpid() };
    assert!(
        out.lines().any(|l| l
            == format!("shutdown: SIGINT from pid={me}; sending SIGTERM to {WORKERS} worker(s)")),
        "no SIGINT shutdown:\n{out}"
    );
    eprintln!("{out}");
}

#[test]
fn bad_flags_give_usage_and_exit_code_2() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(300, "bad_flags_give_usage_and_exit_code_2");
    for args in [
        &["--workers", "0"][..],
        &["--workers", "many"],
        &["--workers"],
        &["--run-for", "-1"],
        &["--run-for", "NaN"],
        &["--bogus", "1"],
    ] {
        let mut group = Group::start(args);
        let (status, out, stderr) = group.wait();
        assert_eq!(status.code(), Some(2), "{args:?}:\n{out}\n{stderr}");
        assert!(stderr.contains("usage: workers"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.is_empty(), "{args:?}: started anyway:\n{out}");
    }
}
