#![cfg(sigring_loom)]
use loom::thread;
use loom_tests::check;
#[test]
fn one_producer_two_values() {
    check("s1", Some(3), || {
        let (tx, rx) = sigring::channel::<u32>(3).unwrap();
        let a = thread::spawn(move || { for v in [10, 11] { assert!(tx.try_send(v).is_ok()); } });
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() { got.push(v); }
        a.join().unwrap();
        assert_eq!(got, [10, 11]);
    });
}
#[test]
fn one_producer_one_value() {
    check("s2", Some(3), || {
        let (tx, rx) = sigring::channel::<u32>(3).unwrap();
        let a = thread::spawn(move || { for v in [10] { assert!(tx.try_send(v).is_ok()); } });
        let mut got = Vec::new();
        while let Ok(v) = rx.recv() { got.push(v); }
        a.join().unwrap();
        assert_eq!(got, [10]);
    });
}
#[test]
fn only_disconnect() {
    check("s3", Some(3), || {
        let (tx, rx) = sigring::channel::<u32>(3).unwrap();
        let a = thread::spawn(move || { drop(tx) });
        assert!(rx.recv().is_err());
        a.join().unwrap();
    });
}
