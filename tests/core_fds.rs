//! File descriptors: `O_NONBLOCK` and `FD_CLOEXEC` on every fd of both backends, closed
//! when the last handle goes, no leak over thousands of channels, and fd exhaustion
//! reported as the OS error (`EMFILE`) in a child process with a low `RLIMIT_NOFILE`.
#![cfg(target_os = "linux")]

mod common;

use std::os::fd::{AsFd, AsRawFd};
use std::process::Command;
use std::sync::Mutex;

use common::{build, fds_opened_by, open_fds, serial, watchdog, BACKENDS};
use sigring::{Backend, Builder, Receiver, Sender};

/// Every test here compares snapshots of `/proc/self/fd`: one at a time.
static LOCK: Mutex<()> = Mutex::new(());

fn flags(fd: i32) -> (i32, i32) {
    // SAFETY: fcntl F_GETFL / F_GETFD only report on `fd`.
    unsafe {
        (
            libc::fcntl(fd, libc::F_GETFL),
            libc::fcntl(fd, libc::F_GETFD),
        )
    }
}

fn is_open(fd: i32) -> bool {
    flags(fd).1 != -1
}

/// Builds a channel and returns it with the fds it opened, checked to be what the backend
/// should open: the receiver's fd first, then (pipe) the write end.
fn build_and_find(backend: Backend) -> (Sender<u8>, Receiver<u8>, Vec<i32>) {
    let ((tx, rx), fds) = fds_opened_by(|| build::<u8>(4, backend));
    let read = rx.as_raw_fd();
    assert!(
        fds.contains(&read),
        "{backend:?}: the receiver fd {read} is not new"
    );
    let mut fds: Vec<i32> = fds.into_iter().filter(|&fd| fd != read).collect();
    fds.insert(0, read);
    let want = if backend == Backend::Pipe { 2 } else { 1 };
    assert_eq!(fds.len(), want, "{backend:?}: opened {fds:?}");
    (tx, rx, fds)
}

#[test]
fn fds_are_nonblocking_and_cloexec() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(30, "fds_are_nonblocking_and_cloexec");
    for backend in BACKENDS {
        let (tx, rx, fds) = build_and_find(backend);
        for (i, &fd) in fds.iter().enumerate() {
            let (fl, fdfl) = flags(fd);
            assert!(fl != -1 && fdfl != -1, "{backend:?}: fd {fd} not open");
            assert_ne!(fl & libc::O_NONBLOCK, 0, "{backend:?}: fd {fd} blocks");
            assert_ne!(
                fdfl & libc::FD_CLOEXEC,
                0,
                "{backend:?}: fd {fd} leaks into exec"
            );
            let mode = fl & libc::O_ACCMODE;
            match (backend, i) {
                (Backend::Pipe, 0) => assert_eq!(mode, libc::O_RDONLY, "read end"),
                (Backend::Pipe, _) => assert_eq!(mode, libc::O_WRONLY, "write end"),
                _ => assert_eq!(mode, libc::O_RDWR, "eventfd"),
            }
        }
        // `as_fd` and `as_raw_fd` name the same fd.
        assert_eq!(rx.as_fd().as_raw_fd(), rx.as_raw_fd());
        drop((tx, rx));
        for fd in fds {
            assert!(
                !is_open(fd),
                "{backend:?}: fd {fd} still open after both halves"
            );
        }
    }
}

/// The fds live exactly as long as the last handle, whichever half that is.
#[test]
fn fds_close_with_the_last_handle_in_either_order() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(30, "fds_close_with_the_last_handle_in_either_order");
    for backend in BACKENDS {
        // Receiver first.
        let (tx, rx, fds) = build_and_find(backend);
        let tx2 = tx.clone();
        drop(rx);
        assert!(
            fds.iter().all(|&fd| is_open(fd)),
            "{backend:?}: senders remain"
        );
        drop(tx);
        assert!(
            fds.iter().all(|&fd| is_open(fd)),
            "{backend:?}: a clone remains"
        );
        assert!(tx2.try_send(1).unwrap_err().is_disconnected());
        drop(tx2);
        assert!(fds.iter().all(|&fd| !is_open(fd)), "{backend:?}: leaked");
        // Senders first, with values queued.
        let (tx, rx, fds) = build_and_find(backend);
        tx.try_send(1).unwrap();
        drop(tx);
        assert!(
            fds.iter().all(|&fd| is_open(fd)),
            "{backend:?}: the receiver remains"
        );
        assert_eq!(rx.try_recv(), Ok(1));
        drop(rx);
        assert!(fds.iter().all(|&fd| !is_open(fd)), "{backend:?}: leaked");
    }
}

/// Thousands of channels created and dropped, in every teardown order, some with values
/// queued and wake-ups outstanding, some held at once: the fd table ends where it began.
#[test]
fn no_fd_leak_over_thousands_of_channels() {
    let _serial = serial(&LOCK);
    let _wd = watchdog(60, "no_fd_leak_over_thousands_of_channels");
    let before = open_fds();
    for i in 0..4000usize {
        let backend = BACKENDS[i % 2];
        let (tx, rx) = build::<u64>(1 + i % 5, backend);
        match i % 4 {
            0 => {}
            1 => {
                // A token outstanding on the fd when it is closed.
                let _ = rx.try_recv(); // arms
                tx.try_send(1).unwrap();
                drop(rx);
            }
            2 => {
                let tx2 = tx.clone();
                tx2.try_send(2).unwrap();
                drop(tx);
                drop(tx2);
            }
            _ => {
                drop(rx);
                let _ = tx.try_send(3);
            }
        }
    }
    assert_eq!(open_fds(), before, "fds leaked after 4000 channels");
    // Many alive at once, then all dropped.
    let held: Vec<_> = (0..1000)
        .map(|i| build::<u64>(2, BACKENDS[i % 2]))
        .collect();
    assert_eq!(open_fds().len(), before.len() + 500 + 2 * 500);
    drop(held);
    assert_eq!(open_fds(), before, "fds leaked after 1000 live channels");
}

/// Set by the parent for the child run of `fd_exhaustion_child`.
const CHILD_ENV: &str = "SIGRING_TEST_FD_EXHAUSTION_CHILD";

/// Runs `fd_exhaustion_child` in a child process (so the lowered limit cannot disturb
/// anything else) and checks that it passed.
#[test]
fn fd_exhaustion_returns_emfile() {
    let _serial = serial(&LOCK); // spawning the child opens pipes here
    let _wd = watchdog(60, "fd_exhaustion_returns_emfile");
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["fd_exhaustion_child", "--exact", "--ignored", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed") && stdout.contains("EMFILE ok"),
        "child failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    for line in stdout.lines().filter(|l| l.contains("EMFILE ok")) {
        println!("child: {line}");
    }
}

/// The child side of [`fd_exhaustion_returns_emfile`]; does nothing useful when run on its
/// own, hence `#[ignore]`.
#[test]
#[ignore = "run by fd_exhaustion_returns_emfile in a child process"]
fn fd_exhaustion_child() {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "run through fd_exhaustion_returns_emfile"
    );
    // The kernel hands out the lowest free fd and refuses it when it is not below the
    // limit; fds already open above the limit stay open. Leave room for a few fds above
    // the lowest free one.
    let open = open_fds();
    let lowest_free = (0..).find(|fd| !open.contains(fd)).unwrap();
    let limit = (lowest_free + 7) as libc::rlim_t;
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: valid out-pointer / in-pointer for the rlimit calls.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl), 0);
        rl.rlim_cur = limit.min(rl.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &rl), 0);
    }
    for backend in [Backend::EventFd, Backend::Pipe, Backend::Auto] {
        let before = open_fds();
        let mut held = Vec::new();
        let err = loop {
            match Builder::new(4).backend(backend).build::<u32>() {
                Ok(pair) => held.push(pair),
                Err(e) => break e,
            }
            assert!(held.len() < 100, "{backend:?}: the limit is not enforced");
        };
        assert!(!held.is_empty(), "{backend:?}: no room at all");
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EMFILE),
            "{backend:?}: expected EMFILE, got {err} ({:?})",
            err.kind()
        );
        // The channels made before the failure still work.
        let (tx, rx) = held.last().unwrap();
        tx.try_send(5).unwrap();
        assert_eq!(rx.recv(), Ok(5));
        drop(held);
        // A failed build (for the pipe: possibly with one end already made) leaks nothing.
        assert_eq!(open_fds(), before, "{backend:?}: fds leaked");
        println!("{backend:?}: EMFILE ok ({err})");
    }
}
