//! The shared channel's consumer against a mapping written over with garbage, in one
//! process and deterministically, so that miri (`.ci/verify miri-sb`, `miri-tb`) checks
//! every read the consumer makes: no out-of-bounds or misaligned access and no undefined
//! behaviour whatever the mapping holds. (tests/shared.rs does the same with real
//! processes racing, under AddressSanitizer.) Under miri the mapping is a heap allocation.

use std::time::Duration;

use sigring::shared;
use sigring::{RecvTimeoutError, TryRecvError, TrySendError};

/// xorshift: deterministic garbage.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Writes `f(i)` over every aligned word of the sender's mapping.
fn scribble(tx: &shared::Sender<u64>, mut f: impl FnMut(usize) -> u64) {
    let (base, len) = tx.mapping_for_tests();
    for i in 0..len / 8 {
        // SAFETY: inside the mapping, 8-aligned (the mapping is page- or layout-aligned);
        // nothing else runs: writing over the channel's atomics from this thread is the
        // corruption under test, not a race.
        unsafe { base.cast::<u64>().add(i).write_volatile(f(i)) };
    }
}

#[test]
fn values_flow_before_the_corruption() {
    let (tx, rx) = shared::Builder::new(4).lanes(2).build::<u64>().unwrap();
    for v in 0..4 {
        tx.try_send(v).unwrap();
    }
    assert!(matches!(tx.try_send(9), Err(TrySendError::Full(9))));
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rx.lost(), 0);
}

#[test]
fn random_words_everywhere() {
    for seed in [1u64, 0x9e37_79b9, 0xdead_beef_cafe] {
        let (tx, rx) = shared::Builder::new(3).lanes(3).build::<u64>().unwrap();
        tx.try_send(1).unwrap();
        let mut state = seed;
        scribble(&tx, |_| rng(&mut state));
        // Whatever comes out, the consumer neither crashes nor hangs.
        for _ in 0..8 {
            let _ = rx.try_recv();
        }
        let _ = (rx.len(), rx.full_rejections(), rx.lost(), rx.is_empty());
        assert_ne!(
            rx.recv_timeout(Duration::from_millis(1)),
            Err(RecvTimeoutError::Disconnected)
        );
        let _ = tx.try_send(2);
        let _ = rx.try_recv();
    }
}

#[test]
fn every_word_set_to_each_pattern() {
    for pattern in [
        0u64,
        u64::MAX,
        1,
        2,
        3,
        0x8000_0000_0000_0000,
        0x0101_0101_0101_0101,
    ] {
        let (tx, rx) = shared::Builder::new(2).lanes(2).build::<u64>().unwrap();
        tx.try_send(7).unwrap();
        scribble(&tx, |_| pattern);
        for _ in 0..6 {
            let _ = rx.try_recv();
        }
        let _ = tx.try_send(8);
        let _ = (rx.len(), rx.full_rejections(), rx.lost());
        assert_ne!(
            rx.recv_timeout(Duration::from_millis(1)),
            Err(RecvTimeoutError::Disconnected)
        );
    }
}

/// A `tail` that is no position of the geometry closes the lane: its sender gets
/// `Disconnected`, what it held is counted lost, and the consumer goes on.
#[test]
fn an_impossible_tail_closes_the_lane() {
    let (tx, rx) = shared::Builder::new(4).lanes(1).build::<u64>().unwrap();
    let (base, len) = tx.mapping_for_tests();
    let words = base.cast::<u64>();
    let read = |i: usize| {
        // SAFETY: `i < len / 8`: inside the mapping, 8-aligned, every byte initialized (it
        // starts zero-filled); single-threaded accesses.
        unsafe { words.add(i).read_volatile() }
    };
    let write = |i: usize, v: u64| {
        // SAFETY: as for `read`; overwriting the channel's state is the corruption under
        // test.
        unsafe { words.add(i).write_volatile(v) }
    };
    // Find the lane's `tail` by watching it move from position 1 to 2 (the last word to
    // do so: the wake-up counter in the header may too, and comes first).
    tx.try_send(0x5555).unwrap();
    assert_eq!(rx.try_recv(), Ok(0x5555));
    let before: Vec<u64> = (0..len / 8).map(read).collect();
    tx.try_send(0x6666).unwrap();
    let at = (0..len / 8)
        .rev()
        .find(|&i| before[i] == 1 && read(i) == 2)
        .expect("the tail word");
    // An index past the capacity, one lap on: no position of this geometry. The value
    // already published is still taken (a pop reads only stamps); the next look at `tail`
    // closes the lane.
    write(at, 6);
    tx.try_send(0x7777).unwrap_err();
    assert_eq!(rx.try_recv(), Ok(0x6666));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        rx.lost(),
        0,
        "nothing was published behind the nonsense tail"
    );
    assert!(matches!(tx.try_send(2), Err(TrySendError::Disconnected(2))));
}
