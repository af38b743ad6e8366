//! Drives `examples/mio_loop.rs` (compiled into this test with `#[path]`): connects to the
//! port it prints, checks that TCP lines are echoed while channel events from the feeder
//! thread and from the `SIGUSR1` handler are seen by the same `Poll`, and that `quit` ends
//! it. One test: the example installs a process-wide signal handler.

mod common;

#[path = "../examples/mio_loop.rs"]
#[allow(dead_code)]
mod example;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::MemWriter as Out;

impl Out {
    /// Waits (up to 30 s) until `pred` holds for the printed text.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let text = self.text();
            if pred(&text) {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "timed out waiting for {what}; output so far:\n{text}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

fn echo(reader: &mut BufReader<TcpStream>, line: &str) -> String {
    reader
        .get_mut()
        .write_all(format!("{line}\n").as_bytes())
        .unwrap();
    let mut got = String::new();
    reader.read_line(&mut got).unwrap();
    got
}

#[test]
fn one_poll_serves_tcp_and_the_channel() {
    let _wd = common::watchdog(90, "mio_loop");
    let out = Out::default();
    let opts = example::Options {
        run_for: Duration::from_secs(60),
        tick_every: Duration::from_millis(50),
        signal_every: Duration::from_millis(100),
    };
    let runner = thread::spawn({
        let out = out.clone();
        move || example::run(opts, out)
    });

    let text = out.wait_for("the port", |t| t.contains('\n'));
    let addr = text
        .lines()
        .next()
        .unwrap()
        .strip_prefix("listening on ")
        .expect("first line names the address")
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // Two clients, interleaved.
    let connect = || {
        let s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        BufReader::new(s)
    };
    let mut a = connect();
    let mut b = connect();
    assert_eq!(echo(&mut a, "hello"), "hello\n");
    assert_eq!(echo(&mut b, "from b"), "from b\n");
    assert_eq!(echo(&mut a, "ünïcödé line"), "ünïcödé line\n");

    // Channel events from both sources arrive while the TCP clients are served.
    out.wait_for("3 ticks and 2 signals", |t| {
        t.matches("channel: tick ").count() >= 3 && t.matches("channel: SIGUSR1 #").count() >= 2
    });
    assert_eq!(echo(&mut b, "still here"), "still here\n");

    assert_eq!(echo(&mut a, "quit"), "bye\n");
    let summary = runner.join().unwrap().expect("run");
    assert!(summary.quit);
    assert_eq!(summary.lines_echoed, 4);
    assert!(summary.ticks >= 3 && summary.signals >= 2, "{summary:?}");

    let text = out.text();
    assert_eq!(text.matches("tcp: echo ").count(), 4, "{text}");
    assert_eq!(
        text.matches("channel: tick ").count() as u64,
        summary.ticks,
        "{text}"
    );
    // Ticks are numbered 1, 2, 3, ... in order (no lost or repeated wake-up handling).
    let ticks: Vec<u64> = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix("channel: tick ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(ticks, (1..=summary.ticks).collect::<Vec<_>>());
    assert!(text.lines().last().unwrap().starts_with("done: "), "{text}");
}
