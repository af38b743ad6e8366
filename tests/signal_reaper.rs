//! Runs `examples/reaper.rs` as a real process: every child it spawns is reported with the
//! status it was told to end with (as `waitpid` saw it), and no child, zombie or not, is
//! left behind while the reaper is still alive.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;
mod signal_support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use common::watchdog;
use signal_support::{example_binary, field, Running};

/// Children of `parent` (from `/proc/*/stat`), with their state letter.
fn children_of(parent: libc::pid_t) -> Vec<(libc::pid_t, char)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        // The process may be gone by now; that is fine.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let ppid: libc::pid_t = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        if ppid == parent {
            found.push((pid, state));
        }
    }
    found
}

fn run(jobs: usize) {
    let bin = example_binary("reaper");
    let jobs_arg = jobs.to_string();
    let mut reaper = Running::start(&bin, &[&jobs_arg, "--linger"]);
    reaper.wait_for_line(Duration::from_secs(120), |l| l.starts_with("lingering"));

    // Still running, everything reaped: it must have no child at all, let alone a zombie.
    let left = children_of(reaper.pid());
    assert!(
        left.is_empty(),
        "children of the reaper left (pid, state): {left:?}\n{}",
        reaper.seen.join("\n")
    );

    reaper.close_stdin();
    let status = reaper.wait(Duration::from_secs(30));
    let out = reaper.seen.join("\n");
    assert!(status.success(), "reaper exited with {status}\n{out}");

    // What each child was told (spawn lines) against what waitpid reported (reaped lines).
    let mut told: HashMap<String, (String, String)> = HashMap::new(); // pid -> (job, end)
    let mut jobs_seen = BTreeSet::new();
    for line in reaper.seen.iter().filter(|l| l.starts_with("spawn ")) {
        let pid = field(line, "pid").expect("pid").to_owned();
        let job = field(line, "job").expect("job").to_owned();
        let end = field(line, "end").expect("end").to_owned();
        assert!(
            jobs_seen.insert(job.clone()),
            "job {job} spawned twice\n{out}"
        );
        assert!(told.insert(pid, (job, end)).is_none(), "pid reused\n{out}");
    }
    assert_eq!(
        told.len(),
        jobs,
        "spawned {} children, expected {jobs}\n{out}",
        told.len()
    );

    let mut reported = BTreeSet::new();
    let mut signalled = 0;
    for line in reaper.seen.iter().filter(|l| l.starts_with("reaped ")) {
        let pid = field(line, "pid").expect("pid");
        let got = field(line, "got").expect("got");
        let (job, end) = told
            .get(pid)
            .unwrap_or_else(|| panic!("reaped a pid it never spawned: {line}\n{out}"));
        assert_eq!(
            got, end,
            "job {job} (pid {pid}) was told to end with {end}, waitpid reported {got}\n{out}"
        );
        assert_eq!(
            field(line, "job"),
            Some(job.as_str()),
            "wrong job for pid {pid}\n{out}"
        );
        assert!(
            reported.insert(pid.to_owned()),
            "pid {pid} reported twice\n{out}"
        );
        if got.starts_with("signal:") {
            signalled += 1;
        }
    }
    assert_eq!(
        reported.len(),
        jobs,
        "reported {} of {jobs} children\n{out}",
        reported.len()
    );
    assert!(
        out.contains("no children left (waitpid: ECHILD)"),
        "the reaper's own waitpid check failed\n{out}"
    );
    let summary = reaper
        .seen
        .iter()
        .find(|l| l.starts_with("summary "))
        .unwrap_or_else(|| panic!("no summary\n{out}"));
    assert_eq!(
        field(summary, "reaped"),
        Some(jobs_arg.as_str()),
        "{summary}"
    );
    assert_eq!(
        field(summary, "matched"),
        Some(jobs_arg.as_str()),
        "{summary}"
    );
    eprintln!("{jobs} children, {signalled} killed by a signal; {summary}");
}

#[test]
fn reaper_reports_every_child_and_leaves_no_zombie() {
    let _wd = watchdog(300, "reaper_reports_every_child_and_leaves_no_zombie");
    run(60);
}
