//! Child hygiene: `CommandExt` gives the child default dispositions and an empty mask,
//! checked in `/proc/<child>/status` (`SigIgn`, `SigCgt`, `SigBlk`) of a running `cat`,
//! and by behaviour (an interrupt that reaches a child instead of being ignored).
//!
//! The tests change this process's dispositions, so they are serialized.
#![cfg(all(target_os = "linux", feature = "signal"))]

mod common;

use std::io::ErrorKind;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use common::{serial, watchdog};
use libc::c_int;
use sigring::signal::{self, CommandExt as _};

static LOCK: Mutex<()> = Mutex::new(());

fn bit(signal: c_int) -> u64 {
    1 << (signal - 1)
}

/// Sets `signal` to `SIG_IGN` in this process until dropped.
struct Ignore {
    signal: c_int,
    old: libc::sigaction,
}

impl Ignore {
    fn new(signal: c_int) -> Ignore {
        // SAFETY: zeroed `sigaction`s are valid; `ign` is a complete SIG_IGN action and
        // `old` a valid out-pointer.
        unsafe {
            let mut ign: libc::sigaction = std::mem::zeroed();
            ign.sa_sigaction = libc::SIG_IGN;
            libc::sigemptyset(&mut ign.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            assert_eq!(libc::sigaction(signal, &ign, &mut old), 0);
            Ignore { signal, old }
        }
    }
}

impl Drop for Ignore {
    fn drop(&mut self) {
        // SAFETY: restores the action saved by `new`.
        unsafe { libc::sigaction(self.signal, &self.old, std::ptr::null_mut()) };
    }
}

/// `(SigBlk, SigIgn, SigCgt)` of a running process.
fn masks(pid: u32) -> (u64, u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let get = |key: &str| {
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key}"));
        u64::from_str_radix(hex.trim(), 16).expect("hex")
    };
    (get("SigBlk:"), get("SigIgn:"), get("SigCgt:"))
}

/// Spawns `cat` (which installs no handler and waits on stdin), reads its masks, ends it.
/// `spawn` has returned only after the `exec`, so the masks are those `cat` runs with.
fn cat_masks(configure: impl FnOnce(&mut Command)) -> (u64, u64, u64) {
    let mut cmd = Command::new("cat");
    cmd.stdin(Stdio::piped()).stdout(Stdio::null());
    configure(&mut cmd);
    let mut child: Child = cmd.spawn().expect("spawn cat");
    let result = masks(child.id());
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    result
}

#[test]
fn ignored_signals_are_inherited_without_the_extension() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "ignored_signals_are_inherited_without_the_extension");
    // The trap this extension exists for: SIG_IGN survives exec.
    let _int = Ignore::new(libc::SIGINT);
    let (blk, ign, _) = cat_masks(|_| {});
    assert_ne!(
        ign & bit(libc::SIGINT),
        0,
        "SIGINT should be inherited as ignored"
    );
    assert_eq!(blk, 0, "std empties the child's mask itself");
}

#[test]
fn default_signals_resets_only_the_listed_ones() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "default_signals_resets_only_the_listed_ones");
    let _int = Ignore::new(libc::SIGINT);
    let _quit = Ignore::new(libc::SIGQUIT);
    let _blocked = signal::block(&[libc::SIGUSR1]).unwrap();
    let (blk, ign, cgt) = cat_masks(|cmd| {
        cmd.default_signals(&[libc::SIGINT]).unwrap();
    });
    assert_eq!(ign & bit(libc::SIGINT), 0, "SIGINT still ignored: {ign:x}");
    assert_ne!(
        ign & bit(libc::SIGQUIT),
        0,
        "SIGQUIT was not listed: {ign:x}"
    );
    assert_eq!(blk, 0, "mask not empty: {blk:x}");
    assert_eq!(cgt, 0, "caught: {cgt:x}");
}

#[test]
fn default_all_signals_resets_everything_ignored_handled_or_blocked() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(
        60,
        "default_all_signals_resets_everything_ignored_handled_or_blocked",
    );
    let _int = Ignore::new(libc::SIGINT);
    let _quit = Ignore::new(libc::SIGQUIT);
    let _rt = Ignore::new(libc::SIGRTMIN() + 6);
    let (tx, _rx) = sigring::channel(4).unwrap();
    let _fwd = signal::forward(&[libc::SIGUSR1, libc::SIGCHLD], &tx).unwrap();
    let _blocked = signal::block(&[libc::SIGTERM, libc::SIGUSR2]).unwrap();

    // Before: this process ignores and catches several signals.
    let (_, parent_ign, parent_cgt) = masks(std::process::id());
    assert_ne!(parent_ign & bit(libc::SIGINT), 0);
    assert_ne!(parent_cgt & bit(libc::SIGUSR1), 0);

    let (blk, ign, cgt) = cat_masks(|cmd| {
        cmd.default_all_signals();
    });
    // The numbers glibc keeps for itself (32, 33) are its business and left as they are:
    // glibc's own `posix_spawn` sets them to SIG_IGN in every child it starts (as cargo
    // started this test), and its `sigaction` refuses to change them.
    let reserved: u64 = ((libc::SIGSYS + 1)..libc::SIGRTMIN()).map(bit).sum();
    let ign = ign & !reserved;
    assert_eq!(
        (blk, ign, cgt),
        (0, 0, 0),
        "SigBlk {blk:x} SigIgn {ign:x} SigCgt {cgt:x}"
    );
}

#[test]
fn a_reset_interrupt_reaches_the_child() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "a_reset_interrupt_reaches_the_child");
    let _int = Ignore::new(libc::SIGINT);
    // SIGINT then SIGTERM: a child that ignores SIGINT dies of SIGTERM; one with the
    // default action dies of SIGINT (the lower-numbered pending signal goes first, or it
    // was already dead).
    let death = |reset: bool| {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        if reset {
            cmd.default_signals(&[libc::SIGINT]).unwrap();
        }
        let mut child = cmd.spawn().unwrap();
        let pid = child.id() as libc::pid_t;
        // SAFETY: `kill` on our own live child.
        unsafe {
            assert_eq!(libc::kill(pid, libc::SIGINT), 0);
            assert_eq!(libc::kill(pid, libc::SIGTERM), 0);
        }
        child.wait().unwrap().signal()
    };
    assert_eq!(death(false), Some(libc::SIGTERM));
    assert_eq!(death(true), Some(libc::SIGINT));
}

#[test]
fn bad_signals_are_refused() {
    let _serial = serial(&LOCK);
    let mut cmd = Command::new("true");
    for (bad, text) in [
        (libc::SIGKILL, "SIGKILL (9) cannot be given a disposition"),
        (libc::SIGSTOP, "SIGSTOP (19)"),
        (0, "signal 0 is out of range"),
        (-3, "signal -3 is out of range"),
        (libc::SIGRTMAX() + 1, "out of range"),
    ] {
        let e = cmd.default_signals(&[libc::SIGINT, bad]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(e.to_string().contains(text), "{bad}: {e}");
    }
    // The command is still usable (nothing was added).
    assert!(cmd.status().unwrap().success());
}
