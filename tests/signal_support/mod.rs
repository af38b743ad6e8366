//! Running a built example as a real process, for the process-level signal tests
//! (`mod signal_support;` in `tests/signal_reaper.rs` and `tests/signal_shutdown.rs`).
//!
//! [`example_binary`] builds the example with the same cargo, target directory, profile
//! and features as the test itself (so it is usually already fresh) and finds the binary
//! from cargo's JSON messages. [`Running`] owns the process: its stdout lines arrive
//! through a reader thread with timeouts, and it is killed if the test fails. The child also
//! gets `PR_SET_PDEATHSIG`, so a test process aborted by its watchdog leaves no orphan.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// Builds example `name` and returns the path of its executable. Panics with cargo's
/// output if the build fails.
pub fn example_binary(name: &str) -> PathBuf {
    let mut features = vec!["signal"];
    if cfg!(feature = "mio") {
        features.push("mio");
    }
    if cfg!(feature = "log") {
        features.push("log");
    }
    if cfg!(feature = "tokio") {
        features.push("tokio");
    }
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--quiet",
        "--example",
        name,
        "--message-format=json",
    ])
    .arg("--manifest-path")
    .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
    .args(["--no-default-features", "--features", &features.join(",")]);
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    // CARGO_TARGET_DIR and RUSTFLAGS, if set, are inherited: the same artifacts are reused.
    let output = cmd
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo build --example {name} failed ({}):\n{stdout}",
        output.status
    );
    stdout
        .lines()
        .filter(|line| line.contains(r#""reason":"compiler-artifact""#))
        .filter(|line| line.contains(&format!(r#""name":"{name}""#)))
        .find_map(|line| json_string_field(line, "executable"))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no executable for example {name} in cargo's output:\n{stdout}"))
}

/// The value of `"field":"..."` in one line of JSON, with `\\` and `\"` unescaped.
fn json_string_field(line: &str, field: &str) -> Option<String> {
    let key = format!(r#""{field}":""#);
    let start = line.find(&key)? + key.len();
    let mut value = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => value.push(chars.next()?),
            c => value.push(c),
        }
    }
    None
}

/// A running example: stdout lines via a reader thread, killed and reaped on drop.
pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for failure messages and parsing.
    pub seen: Vec<String>,
}

impl Running {
    /// Starts `bin` with `args`, stdin and stdout piped, stderr inherited.
    pub fn start(bin: &PathBuf, args: &[&str]) -> Running {
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
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
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            stdin,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id.
    pub fn pid(&self) -> libc::pid_t {
        self.child.id() as libc::pid_t
    }

    /// Reads lines until one satisfies `pred` and returns it; panics (with everything read
    /// so far) if stdout ends or `timeout` passes first.
    pub fn wait_for_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Err(e) => panic!(
                    "no expected line ({e:?}) within {timeout:?}; output so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Closes the child's stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit (at most `timeout`), then collects the rest of its
    /// output. Panics on timeout (the drop then kills it).
    pub fn wait(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit within {timeout:?}; output so far:\n{}",
                self.seen.join("\n")
            );
            thread::sleep(Duration::from_millis(10));
        };
        // The pipe closes when the process is gone: the reader thread ends the stream.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(10)) {
            self.seen.push(line);
        }
        status
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The value of `key=VALUE` (up to the next space) in `line`.
pub fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("{key}=");
    line.split(' ')
        .find_map(|word| word.strip_prefix(pat.as_str()))
}
