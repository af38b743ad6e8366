//! The sink installed as the process's global logger with `Builder::init` (one test: the
//! `log` crate allows one global logger per process): the macros, level filtering,
//! `log::logger().flush()` from several threads, the error of a second `init`, a `Drop`
//! that logs, and flush-on-guard-drop.

mod common;

use std::io;

use std::thread;

use log::LevelFilter;

use common::MemWriter as Buf;

struct LogsOnDrop(&'static str);

impl Drop for LogsOnDrop {
    fn drop(&mut self) {
        log::error!("dropped {}", self.0);
    }
}

#[test]
fn global_logger_end_to_end() {
    let _wd = common::watchdog(60, "global_logger_end_to_end");
    let out = Buf::default();
    let guard = sigring::log::Builder::new()
        .capacity(256)
        .level(LevelFilter::Info)
        .writer(out.clone())
        .init()
        .expect("first init");
    assert_eq!(log::max_level(), LevelFilter::Info);

    log::info!("one {}", 1);
    log::debug!("filtered out");
    log::warn!(target: "custom", "two");
    log::logger().flush();
    let text = out.text();
    assert!(text.contains(" INFO  ["), "{text}");
    assert!(text.contains("log_global: one 1"), "{text}");
    assert!(text.contains("WARN  ["), "{text}");
    assert!(text.contains("custom: two"), "{text}");
    assert!(!text.contains("filtered out"), "{text}");

    // A second logger cannot be installed: a clear error, and the first keeps working.
    let err = sigring::log::Builder::new()
        .writer(io::sink())
        .init()
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("already set"), "{err}");

    // Concurrent flushers: each one's own records are written when its flush returns.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let out = out.clone();
            thread::spawn(move || {
                for round in 0..20 {
                    for i in 0..10 {
                        log::info!("t{t} r{round} i{i}");
                    }
                    log::logger().flush();
                    let text = out.text();
                    assert!(
                        text.contains(&format!("t{t} r{round} i9\n")),
                        "t{t} r{round}"
                    );
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    {
        let _d = LogsOnDrop("at the end of a scope");
        log::info!("three");
    }
    let _last = LogsOnDrop("after the guard"); // declared after: dropped before the guard
    log::info!("four");
    drop(_last);
    drop(guard);
    let text = out.text();
    for needle in [
        "three",
        "dropped at the end of a scope",
        "four",
        "dropped after the guard",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    // `three` before the scope's drop record.
    assert!(text.find("three").unwrap() < text.find("dropped at the end").unwrap());

    // After the guard: logging neither blocks nor panics, flushing returns at once.
    log::info!("late");
    log::logger().flush();
    assert!(!out.text().contains("late"));
}
